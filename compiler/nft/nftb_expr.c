/* nftb_expr: the model of keygate's table as libnftnl objects: sets,
 * chains, rules and their expressions, and elements in the kernel's form.
 * See nftb_impl.h. */
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nftb_impl.h"

/* ---- sets, chains, rules ---- */

/* nft's datatype numbers, for the set's key type (a concatenation is the
 * types shifted in six bits at a time): ipv4_addr 7, ipv6_addr 8,
 * inet_proto 12, inet_service 13. */
static uint32_t field_dtype(enum nftm_field f)
{
	switch (f) {
	case NFTM_F_SADDR4: case NFTM_F_DADDR4: return 7;
	case NFTM_F_SADDR6: case NFTM_F_DADDR6: return 8;
	case NFTM_F_L4PROTO: return 12;
	case NFTM_F_DPORT: return 13;
	}
	return 0;
}

uint32_t nftb_key_type(const struct nftm_set *s)
{
	uint32_t t = 0;
	for (size_t i = 0; i < s->nkey; i++)
		t = t << 6 | field_dtype(s->key[i]);
	return t;
}

uint32_t nftb_set_flags(const struct nftm_set *s)
{
	uint32_t f = 0;
	if (s->flags & NFTM_SET_INTERVAL)
		f |= NFT_SET_INTERVAL;
	if (s->nkey > 1)
		f |= NFT_SET_CONCAT;
	if (s->vmap)
		f |= NFT_SET_MAP;
	return f;
}

/* nft's set user data, so that `nft list` prints the key as nft itself
 * would: the key's byte order (0 for a concatenation, 2 big-endian for an
 * address) and, for a concatenation, an empty typeof record. */
static void set_udata(const struct nftm_set *s, uint8_t *buf, size_t *len)
{
	static const uint8_t concat[] = { 0, 4, 0, 0, 0, 0, 3, 8, 0, 4, 13, 0, 0, 0, 1, 0 };
	static const uint8_t single[] = { 0, 4, 2, 0, 0, 0 };
	/* A verdict map adds the data's byte order and interval flag, 0. */
	static const uint8_t vmap[] = { 0, 4, 2, 0, 0, 0, 1, 4, 0, 0, 0, 0, 6, 4, 0, 0, 0, 0 };
	const uint8_t *u = s->nkey > 1 ? concat : s->vmap ? vmap : single;
	*len = s->nkey > 1 ? sizeof(concat) : s->vmap ? sizeof(vmap) : sizeof(single);
	memcpy(buf, u, *len);
}

struct nftnl_set *nftb_make_set(const struct nftm_table *t, size_t i)
{
	const struct nftm_set *s = &t->sets[i];
	struct nftnl_set *ns = nftnl_set_alloc();
	if (!ns)
		return NULL;
	uint8_t ud[32];
	size_t udlen;
	set_udata(s, ud, &udlen);
	nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(ns, NFTNL_SET_TABLE, t->name);
	nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
	nftnl_set_set_u32(ns, NFTNL_SET_FLAGS, nftb_set_flags(s));
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_TYPE, nftb_key_type(s));
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_LEN, (uint32_t)nftb_key_len(s));
	if (s->vmap) {
		nftnl_set_set_u32(ns, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
		nftnl_set_set_u32(ns, NFTNL_SET_DATA_LEN, 0);
	}
	nftnl_set_set_u32(ns, NFTNL_SET_ID, (uint32_t)i + 1);
	nftnl_set_set_data(ns, NFTNL_SET_USERDATA, ud, (uint32_t)udlen);
	if (s->nkey > 1) {
		uint8_t fl[NFT_REG32_COUNT] = { 0 };
		for (size_t k = 0; k < s->nkey; k++)
			fl[k] = (uint8_t)nftm_field_width(s->key[k]);
		nftnl_set_set_data(ns, NFTNL_SET_DESC_CONCAT, fl, (uint32_t)s->nkey);
	}
	return ns;
}

/* Append EXPR (NULL: out of memory, remembered in *OK) to R. */
void nftb_add_expr(struct nftnl_rule *r, struct nftnl_expr *e, bool *ok)
{
	if (!e)
		*ok = false;
	else
		nftnl_rule_add_expr(r, e);
}

struct nftnl_expr *nftb_e_meta(uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return e;
}

struct nftnl_expr *nftb_e_cmp(uint32_t op, uint32_t sreg, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set_data(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return e;
}

static struct nftnl_expr *e_payload(uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
	return e;
}

struct nftnl_expr *nftb_e_verdict(int verdict, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
		if (chain)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	}
	return e;
}

void nftb_r_ifname(struct nftnl_rule *r, const char *iface, uint32_t op, uint32_t key, bool *ok)
{
	char name[NFTM_IFNAME_MAX] = { 0 };
	snprintf(name, sizeof(name), "%s", iface);
	nftb_add_expr(r, nftb_e_meta(key, NFT_REG_1), ok);
	nftb_add_expr(r, nftb_e_cmp(op, NFT_REG_1, name, sizeof(name)), ok);
}

/* meta mark & MASK, in register 1. */
static void r_mark_masked(struct nftnl_rule *r, uint32_t mask, bool *ok)
{
	uint32_t zero = 0;
	nftb_add_expr(r, nftb_e_meta(NFT_META_MARK, NFT_REG_1), ok);
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
		nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	}
	nftb_add_expr(r, e, ok);
}

void nftb_r_mark_unset(struct nftnl_rule *r, uint32_t bit, bool *ok)
{
	uint32_t zero = 0;
	r_mark_masked(r, bit, ok);
	nftb_add_expr(r, nftb_e_cmp(NFT_CMP_EQ, NFT_REG_1, &zero, 4), ok);
}

/* meta mark set meta mark | BIT, as nft emits it: (mark & ~BIT) ^ BIT. */
static void r_mark_set(struct nftnl_rule *r, uint32_t bit, bool *ok)
{
	uint32_t keep = ~bit;
	nftb_add_expr(r, nftb_e_meta(NFT_META_MARK, NFT_REG_1), ok);
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_MASK, &keep, 4);
		nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_XOR, &bit, 4);
	}
	nftb_add_expr(r, e, ok);
	e = nftnl_expr_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
	}
	nftb_add_expr(r, e, ok);
}

/* ct mark set ct mark | BIT (the same bitwise, on the conntrack mark). */
static void r_ctmark_set(struct nftnl_rule *r, uint32_t bit, bool *ok)
{
	uint32_t keep = ~bit;
	struct nftnl_expr *e = nftnl_expr_alloc("ct");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	nftb_add_expr(r, e, ok);
	e = nftnl_expr_alloc("bitwise");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_MASK, &keep, 4);
		nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_XOR, &bit, 4);
	}
	nftb_add_expr(r, e, ok);
	e = nftnl_expr_alloc("ct");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
	}
	nftb_add_expr(r, e, ok);
}

/* What the table's accepts end with: the pass mark the guard looks for
 * (nftg.h), then accept. */
static void r_pass(struct nftnl_rule *r, bool *ok)
{
	r_mark_set(r, NFTM_PASS_MARK, ok);
	nftb_add_expr(r, nftb_e_verdict(NF_ACCEPT, NULL), ok);
}

/* A flow the policy admits: its connection marked as the policy's, for
 * the sweep that cuts it when the policy no longer allows it (nftc.h). */
static void r_admit(struct nftnl_rule *r, bool *ok)
{
	r_ctmark_set(r, NFTM_FLOW_MARK, ok);
	r_pass(r, ok);
}

/* meta nfproto ipv4 (V4) or ipv6, snat to T's address for it.  The
 * kernel completes a NAT to an address with the range's end (the same
 * register) and NF_NAT_RANGE_MAP_IPS, and shows both when read back; they
 * are set here too, so that the rule reads back as built. */
static void r_snat_to(struct nftnl_rule *r, const struct nftm_table *t, bool v4, bool *ok)
{
	uint8_t proto = v4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
	nftb_add_expr(r, nftb_e_meta(NFT_META_NFPROTO, NFT_REG_1), ok);
	nftb_add_expr(r, nftb_e_cmp(NFT_CMP_EQ, NFT_REG_1, &proto, sizeof(proto)), ok);
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, v4 ? (const void *)t->snat_to.v4 : t->snat_to.v6,
			       v4 ? sizeof(t->snat_to.v4) : sizeof(t->snat_to.v6));
	}
	nftb_add_expr(r, e, ok);
	e = nftnl_expr_alloc("nat");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_SNAT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, proto);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MAX, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS);
	}
	nftb_add_expr(r, e, ok);
}

/* ct state & MASK != 0 */
static void r_ct_state(struct nftnl_rule *r, uint32_t mask, bool *ok)
{
	uint32_t zero = 0;
	struct nftnl_expr *e = nftnl_expr_alloc("ct");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	nftb_add_expr(r, e, ok);
	e = nftnl_expr_alloc("bitwise");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
		nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	}
	nftb_add_expr(r, e, ok);
	nftb_add_expr(r, nftb_e_cmp(NFT_CMP_NEQ, NFT_REG_1, &zero, 4), ok);
}

/* The register nft uses for the 32-bit word W of a concatenation: the
 * 128-bit name where it starts one, the 32-bit name otherwise. */
static uint32_t word_reg(size_t w)
{
	return w % 4 == 0 ? NFT_REG_1 + (uint32_t)(w / 4) : NFT_REG32_00 + (uint32_t)w;
}

/* Load S's key fields into consecutive registers and look them up in S
 * (after a check of the packet's family). */
static void r_lookup(struct nftnl_rule *r, const struct nftm_set *s, size_t set_index, bool *ok)
{
	/* A verdict map's lookup writes the verdict register. */
	bool v6 = s->key[0] == NFTM_F_SADDR6 || s->key[0] == NFTM_F_DADDR6;
	uint8_t nfproto = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
	nftb_add_expr(r, nftb_e_meta(NFT_META_NFPROTO, NFT_REG_1), ok);
	nftb_add_expr(r, nftb_e_cmp(NFT_CMP_EQ, NFT_REG_1, &nfproto, 1), ok);
	for (size_t i = 0; i < s->nkey; i++) {
		uint32_t reg = word_reg(nftb_key_off(s, i) / 4);
		switch (s->key[i]) {
		case NFTM_F_SADDR4: nftb_add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, reg), ok); break;
		case NFTM_F_DADDR4: nftb_add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, reg), ok); break;
		case NFTM_F_SADDR6: nftb_add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 8, 16, reg), ok); break;
		case NFTM_F_DADDR6: nftb_add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 24, 16, reg), ok); break;
		case NFTM_F_DPORT: nftb_add_expr(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg), ok); break;
		case NFTM_F_L4PROTO: {
			nftb_add_expr(r, nftb_e_meta(NFT_META_L4PROTO, reg), ok);
			/* As nft emits it for inet_proto in a concatenation. */
			struct nftnl_expr *e = nftnl_expr_alloc("byteorder");
			if (e) {
				nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg);
				nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg);
				nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
				nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 1);
				nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 2);
			}
			if (s->nkey > 1)
				nftb_add_expr(r, e, ok);
			else
				nftnl_expr_free(e);
			break;
		}
		}
	}
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, s->name);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, (uint32_t)set_index + 1);
		/* The kernel reports flags 0; saying so keeps the shape check exact. */
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);
		if (s->vmap)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	}
	nftb_add_expr(r, e, ok);
}

struct nftnl_rule *nftb_make_rule(const struct nftm_table *t, size_t ci, size_t ri)
{
	const struct nftm_chain *c = &t->chains[ci];
	const struct nftm_rule *mr = &c->rules[ri];
	struct nftnl_rule *r = nftnl_rule_alloc();
	bool ok = true;
	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, t->name);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, c->name);
	switch (mr->kind) {
	case NFTM_R_IIF_JUMP:
		nftb_r_ifname(r, t->iface, NFT_CMP_EQ, NFT_META_IIFNAME, &ok);
		nftb_add_expr(r, nftb_e_verdict(NFT_JUMP, t->chains[mr->chain].name), &ok);
		break;
	case NFTM_R_CT_ACCEPT:
		r_ct_state(r, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), &ok);
		r_pass(r, &ok);
		break;
	case NFTM_R_CT_INVALID_DROP:
		r_ct_state(r, NF_CT_STATE_INVALID_BIT, &ok);
		nftb_add_expr(r, nftb_e_verdict(NF_DROP, NULL), &ok);
		break;
	case NFTM_R_LOOKUP_ACCEPT:
		r_lookup(r, &t->sets[mr->set], mr->set, &ok);
		r_admit(r, &ok);
		break;
	case NFTM_R_VMAP:
		r_lookup(r, &t->sets[mr->set], mr->set, &ok);
		break;
	case NFTM_R_DROP:
		nftb_add_expr(r, nftb_e_verdict(NF_DROP, NULL), &ok);
		break;
	case NFTM_R_IIF_MASQ:
		nftb_r_ifname(r, t->iface, NFT_CMP_EQ, NFT_META_IIFNAME, &ok);
		nftb_r_ifname(r, t->iface, NFT_CMP_NEQ, NFT_META_OIFNAME, &ok);
		nftb_add_expr(r, nftnl_expr_alloc("masq"), &ok);
		break;
	case NFTM_R_IIF_SNAT4:
	case NFTM_R_IIF_SNAT6:
		nftb_r_ifname(r, t->iface, NFT_CMP_EQ, NFT_META_IIFNAME, &ok);
		nftb_r_ifname(r, t->iface, NFT_CMP_NEQ, NFT_META_OIFNAME, &ok);
		r_snat_to(r, t, mr->kind == NFTM_R_IIF_SNAT4, &ok);
		break;
	}
	if (!ok) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

uint32_t nftb_hook_num(enum nftm_hook h)
{
	switch (h) {
	case NFTM_HOOK_INPUT: return NF_INET_LOCAL_IN;
	case NFTM_HOOK_FORWARD: return NF_INET_FORWARD;
	case NFTM_HOOK_POSTROUTING: return NF_INET_POST_ROUTING;
	case NFTM_HOOK_NONE: break;
	}
	return 0;
}

struct nftnl_chain *nftb_make_chain(const struct nftm_table *t, size_t ci)
{
	const struct nftm_chain *c = &t->chains[ci];
	struct nftnl_chain *nc = nftnl_chain_alloc();
	if (!nc)
		return NULL;
	nftnl_chain_set_u32(nc, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(nc, NFTNL_CHAIN_TABLE, t->name);
	nftnl_chain_set_str(nc, NFTNL_CHAIN_NAME, c->name);
	if (c->hook != NFTM_HOOK_NONE) {
		nftnl_chain_set_u32(nc, NFTNL_CHAIN_HOOKNUM, nftb_hook_num(c->hook));
		nftnl_chain_set_s32(nc, NFTNL_CHAIN_PRIO, c->priority);
		nftnl_chain_set_str(nc, NFTNL_CHAIN_TYPE, c->type == NFTM_CHAIN_NAT ? "nat" : "filter");
		nftnl_chain_set_u32(nc, NFTNL_CHAIN_POLICY, c->policy == NFTM_POLICY_DROP ? NF_DROP : NF_ACCEPT);
	}
	return nc;
}

/* A rule's expressions as text (libnftnl's debug form): the shape check
 * compares the kernel's rules with the ones we would build this way. */
char *nftb_rule_sig(struct nftnl_rule *r)
{
	char *text = NULL, one[512];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	for (struct nftnl_expr *e = it ? nftnl_expr_iter_next(it) : NULL; e; e = nftnl_expr_iter_next(it)) {
		nftnl_expr_snprintf(one, sizeof(one), e, NFTNL_OUTPUT_DEFAULT, 0);
		fprintf(f, "[ %s %s ]", nftnl_expr_get_str(e, NFTNL_EXPR_NAME), one);
	}
	if (it)
		nftnl_expr_iter_destroy(it);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* ---- elements: model <-> kernel ---- */

static void place(const struct nftm_set *s, const struct nftm_elem *e, bool hi, uint8_t *out)
{
	memset(out, 0, 64);
	for (size_t i = 0; i < s->nkey; i++)
		memcpy(out + nftb_key_off(s, i), hi ? e->k[i].hi : e->k[i].lo, nftm_field_width(s->key[i]));
}

static bool all_ones(const uint8_t *p, size_t w)
{
	for (size_t i = 0; i < w; i++)
		if (p[i] != 0xff)
			return false;
	return true;
}

/* The kernel elements for model element E: one with a key end for a
 * concatenation; an interval start and (unless the range reaches the top)
 * an interval end one past it for a single field.  Returns how many. */
size_t nftb_to_kernel(const struct nftm_table *t, const struct nftm_set *s, const struct nftm_elem *e,
			struct nftb_kelem out[2])
{
	memset(out, 0, 2 * sizeof(*out));
	if (s->vmap && t)   /* T NULL: a deletion, which names the key only */
		out[0].jump = t->chains[e->jump].name;
	if (s->nkey > 1) {
		place(s, e, false, out[0].key);
		place(s, e, true, out[0].end);
		out[0].has_end = true;
		return 1;
	}
	size_t w = nftm_field_width(s->key[0]);
	memcpy(out[0].key, e->k[0].lo, w);
	if (all_ones(e->k[0].hi, w))
		return 1;
	memcpy(out[1].key, e->k[0].hi, w);
	nftb_be_add(out[1].key, w, 1);
	out[1].iv_end = true;
	return 2;
}

struct nftnl_set_elem *nftb_make_elem(const struct nftm_set *s, const struct nftb_kelem *k, bool del)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	if (!e)
		return NULL;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k->key, (uint32_t)nftb_key_len(s));
	if (k->has_end)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, k->end, (uint32_t)nftb_key_len(s));
	if (k->iv_end)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	if (k->jump && !del) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)NFT_JUMP);
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, k->jump);
	}
	return e;
}
