/* nftb: apply the model of keygate's table to the kernel in one netlink
 * transaction.  See nftb.h. */
#include "nftb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nftt.h"
#include "mem.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* Batch pages: nft's size; a message never exceeds the overrun. */
#define PAGE_BYTES (32u * 4096u)
#define OVERRUN_BYTES (65536u + 4096u)
/* Model elements per element message: at most ~110 bytes each (a 40-byte
 * key and key end, nests and flags), well under the 64 KiB nest limit. */
#define ELEMS_PER_MSG 400
#define RECV_BYTES (1u << 16)

struct nftb {
	struct mnl_socket *nl;
	uint32_t portid, seq;
	/* The model our last commit made the kernel hold, and the generation
	 * that commit produced: while the generation is still that, nobody
	 * has changed the ruleset since and the kernel holds exactly LAST. */
	struct nftm_table *last;
	uint32_t last_genid;
	struct nftb *helper;   /* a second socket for reading back, or NULL */
};

static struct nftb *open_one(void)
{
	struct nftb *nb = calloc(1, sizeof(*nb));
	int one = 1, err = 0;
	if (!nb)
		return NULL;
	nb->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nb->nl || mnl_socket_bind(nb->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		goto fail;
	}
	/* Extended acks name the offending attribute; capped acks keep the
	 * acknowledgements of a big batch small.  Both are best effort. */
	mnl_socket_setsockopt(nb->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nb->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	nb->portid = mnl_socket_get_portid(nb->nl);
	nb->seq = (uint32_t)time(NULL);
	return nb;
fail:
	if (nb->nl)
		mnl_socket_close(nb->nl);
	free(nb);
	errno = err;
	return NULL;
}

struct nftb *nftb_open(void)
{
	struct nftb *nb = open_one();
	/* The read-back's second socket, opened now with the first (a daemon
	 * opens what needs privilege before it drops any); without it, reading
	 * back is done on one socket. */
	if (nb)
		nb->helper = open_one();
	return nb;
}

void nftb_close(struct nftb *nb)
{
	if (!nb)
		return;
	nftm_free(nb->last);
	nftb_close(nb->helper);
	mnl_socket_close(nb->nl);
	free(nb);
}

uint32_t nftb_portid(const struct nftb *nb)
{
	return nb->portid;
}

/* ---- requests: one message, replies until the ack or the dump's end ---- */

static int talk(struct nftb *nb, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char *buf = malloc(RECV_BYTES);
	int rc = 0;
	if (!buf)
		return -ENOMEM;
	if (mnl_socket_sendto(nb->nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nb->nl, buf, RECV_BYTES);
		if (n < 0) {
			rc = -errno;
			break;
		}
		int r = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, nb->portid, cb, data);
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == MNL_CB_STOP)
			break;
	}
out:
	free(buf);
	return rc;
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();
	if (!g)
		return MNL_CB_ERROR;
	if (nftnl_gen_nlmsg_parse(nlh, g) == 0 && nftnl_gen_is_set(g, NFTNL_GEN_ID))
		*(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

int nftb_genid(struct nftb *nb, uint32_t *genid)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, ++nb->seq);
	*genid = 0;
	return talk(nb, nlh, gen_cb, genid);
}

/* ---- the model as netlink objects ---- */

static size_t round4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* Offset of key field I in the kernel's key: every field of a
 * concatenation starts on a 32-bit register. */
static size_t key_off(const struct nftm_set *s, size_t i)
{
	size_t off = 0;
	for (size_t j = 0; j < i; j++)
		off += round4(nftm_field_width(s->key[j]));
	return off;
}

static size_t key_len(const struct nftm_set *s)
{
	return s->nkey == 1 ? nftm_field_width(s->key[0]) : key_off(s, s->nkey);
}

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

static uint32_t key_type(const struct nftm_set *s)
{
	uint32_t t = 0;
	for (size_t i = 0; i < s->nkey; i++)
		t = t << 6 | field_dtype(s->key[i]);
	return t;
}

static uint32_t set_flags(const struct nftm_set *s)
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

static struct nftnl_set *make_set(const struct nftm_table *t, size_t i)
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
	nftnl_set_set_u32(ns, NFTNL_SET_FLAGS, set_flags(s));
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_TYPE, key_type(s));
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_LEN, (uint32_t)key_len(s));
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
static void add_expr(struct nftnl_rule *r, struct nftnl_expr *e, bool *ok)
{
	if (!e)
		*ok = false;
	else
		nftnl_rule_add_expr(r, e);
}

static struct nftnl_expr *e_meta(uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return e;
}

static struct nftnl_expr *e_cmp(uint32_t op, uint32_t sreg, const void *data, uint32_t len)
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

static struct nftnl_expr *e_verdict(int verdict, const char *chain)
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

static void r_ifname(struct nftnl_rule *r, const char *iface, uint32_t op, uint32_t key, bool *ok)
{
	char name[NFTM_IFNAME_MAX] = { 0 };
	snprintf(name, sizeof(name), "%s", iface);
	add_expr(r, e_meta(key, NFT_REG_1), ok);
	add_expr(r, e_cmp(op, NFT_REG_1, name, sizeof(name)), ok);
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
	add_expr(r, e, ok);
	e = nftnl_expr_alloc("bitwise");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
		nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	}
	add_expr(r, e, ok);
	add_expr(r, e_cmp(NFT_CMP_NEQ, NFT_REG_1, &zero, 4), ok);
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
	add_expr(r, e_meta(NFT_META_NFPROTO, NFT_REG_1), ok);
	add_expr(r, e_cmp(NFT_CMP_EQ, NFT_REG_1, &nfproto, 1), ok);
	for (size_t i = 0; i < s->nkey; i++) {
		uint32_t reg = word_reg(key_off(s, i) / 4);
		switch (s->key[i]) {
		case NFTM_F_SADDR4: add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, reg), ok); break;
		case NFTM_F_DADDR4: add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, reg), ok); break;
		case NFTM_F_SADDR6: add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 8, 16, reg), ok); break;
		case NFTM_F_DADDR6: add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 24, 16, reg), ok); break;
		case NFTM_F_DPORT: add_expr(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg), ok); break;
		case NFTM_F_L4PROTO: {
			add_expr(r, e_meta(NFT_META_L4PROTO, reg), ok);
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
				add_expr(r, e, ok);
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
	add_expr(r, e, ok);
}

static struct nftnl_rule *make_rule(const struct nftm_table *t, size_t ci, size_t ri)
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
		r_ifname(r, t->iface, NFT_CMP_EQ, NFT_META_IIFNAME, &ok);
		add_expr(r, e_verdict(NFT_JUMP, t->chains[mr->chain].name), &ok);
		break;
	case NFTM_R_CT_ACCEPT:
		r_ct_state(r, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), &ok);
		add_expr(r, e_verdict(NF_ACCEPT, NULL), &ok);
		break;
	case NFTM_R_CT_INVALID_DROP:
		r_ct_state(r, NF_CT_STATE_INVALID_BIT, &ok);
		add_expr(r, e_verdict(NF_DROP, NULL), &ok);
		break;
	case NFTM_R_LOOKUP_ACCEPT:
		r_lookup(r, &t->sets[mr->set], mr->set, &ok);
		add_expr(r, e_verdict(NF_ACCEPT, NULL), &ok);
		break;
	case NFTM_R_VMAP:
		r_lookup(r, &t->sets[mr->set], mr->set, &ok);
		break;
	case NFTM_R_DROP:
		add_expr(r, e_verdict(NF_DROP, NULL), &ok);
		break;
	case NFTM_R_IIF_MASQ:
		r_ifname(r, t->iface, NFT_CMP_EQ, NFT_META_IIFNAME, &ok);
		r_ifname(r, t->iface, NFT_CMP_NEQ, NFT_META_OIFNAME, &ok);
		add_expr(r, nftnl_expr_alloc("masq"), &ok);
		break;
	}
	if (!ok) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

static uint32_t hook_num(enum nftm_hook h)
{
	switch (h) {
	case NFTM_HOOK_INPUT: return NF_INET_LOCAL_IN;
	case NFTM_HOOK_FORWARD: return NF_INET_FORWARD;
	case NFTM_HOOK_POSTROUTING: return NF_INET_POST_ROUTING;
	case NFTM_HOOK_NONE: break;
	}
	return 0;
}

static struct nftnl_chain *make_chain(const struct nftm_table *t, size_t ci)
{
	const struct nftm_chain *c = &t->chains[ci];
	struct nftnl_chain *nc = nftnl_chain_alloc();
	if (!nc)
		return NULL;
	nftnl_chain_set_u32(nc, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(nc, NFTNL_CHAIN_TABLE, t->name);
	nftnl_chain_set_str(nc, NFTNL_CHAIN_NAME, c->name);
	if (c->hook != NFTM_HOOK_NONE) {
		nftnl_chain_set_u32(nc, NFTNL_CHAIN_HOOKNUM, hook_num(c->hook));
		nftnl_chain_set_s32(nc, NFTNL_CHAIN_PRIO, c->priority);
		nftnl_chain_set_str(nc, NFTNL_CHAIN_TYPE, c->type == NFTM_CHAIN_NAT ? "nat" : "filter");
		nftnl_chain_set_u32(nc, NFTNL_CHAIN_POLICY, c->policy == NFTM_POLICY_DROP ? NF_DROP : NF_ACCEPT);
	}
	return nc;
}

/* A rule's expressions as text (libnftnl's debug form): the shape check
 * compares the kernel's rules with the ones we would build this way. */
static char *rule_sig(struct nftnl_rule *r)
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

/* A kernel element: key, key end (concatenations), interval-end flag. */
struct kelem {
	uint8_t key[64], end[64];
	bool has_end, iv_end;
	const char *jump;   /* verdict maps: the chain a start element jumps to */
	size_t jidx;        /* read back: that chain's index in the model */
};

static void place(const struct nftm_set *s, const struct nftm_elem *e, bool hi, uint8_t *out)
{
	memset(out, 0, 64);
	for (size_t i = 0; i < s->nkey; i++)
		memcpy(out + key_off(s, i), hi ? e->k[i].hi : e->k[i].lo, nftm_field_width(s->key[i]));
}

static bool all_ones(const uint8_t *p, size_t w)
{
	for (size_t i = 0; i < w; i++)
		if (p[i] != 0xff)
			return false;
	return true;
}

static void be_add(uint8_t *p, size_t w, int d)
{
	for (size_t i = w; i-- > 0;) {
		if (d > 0 && ++p[i] != 0)
			return;
		if (d < 0 && p[i]-- != 0)
			return;
	}
}

/* The kernel elements for model element E: one with a key end for a
 * concatenation; an interval start and (unless the range reaches the top)
 * an interval end one past it for a single field.  Returns how many. */
static size_t to_kernel(const struct nftm_table *t, const struct nftm_set *s, const struct nftm_elem *e,
			struct kelem out[2])
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
	be_add(out[1].key, w, 1);
	out[1].iv_end = true;
	return 2;
}

static struct nftnl_set_elem *make_elem(const struct nftm_set *s, const struct kelem *k, bool del)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	if (!e)
		return NULL;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k->key, (uint32_t)key_len(s));
	if (k->has_end)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, k->end, (uint32_t)key_len(s));
	if (k->iv_end)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	if (k->jump && !del) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)NFT_JUMP);
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, k->jump);
	}
	return e;
}

/* ---- reading the kernel's table ---- */

static int names_add(struct nftb_names *l, const char *name)
{
	char (*v)[NFTB_KNAME] = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	snprintf(v[l->n++], NFTB_KNAME, "%s", name);
	return 0;
}

static void names_free(struct nftb_names *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void nftb_view_free(struct nftb_view *v)
{
	names_free(&v->chains);
	names_free(&v->del_chains);
	names_free(&v->del_sets);
	free(v->set_ok);
	free(v->chain_ok);
	free(v->rules_ok);
	nftm_free(v->have);
	memset(v, 0, sizeof(*v));
}

/* What the dumps collect. */
struct rd {
	const struct nftm_table *want;
	struct nftb_view *v;
	char ***sigs;                   /* [want->nchains]: kernel rules per chain, as signatures */
	size_t *nsigs;
	bool alien_rules;               /* rules in chains the model lacks */
	int err;
};

static int sets_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd *rd = data;
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		return MNL_CB_ERROR;
	if (nftnl_set_nlmsg_parse(nlh, s) == 0 &&
	    strcmp(nftnl_set_get_str(s, NFTNL_SET_TABLE), rd->want->name) == 0) {
		const char *name = nftnl_set_get_str(s, NFTNL_SET_NAME);
		size_t i;
		for (i = 0; i < rd->want->nsets; i++)
			if (strcmp(rd->want->sets[i].name, name) == 0)
				break;
		const struct nftm_set *ws = i < rd->want->nsets ? &rd->want->sets[i] : NULL;
		if (ws && nftnl_set_get_u32(s, NFTNL_SET_FLAGS) == set_flags(ws) &&
		    nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE) == key_type(ws) &&
		    nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN) == key_len(ws))
			rd->v->set_ok[i] = true;
		else if (names_add(&rd->v->del_sets, name) < 0)
			rd->err = -ENOMEM;
	}
	nftnl_set_free(s);
	return rd->err ? MNL_CB_ERROR : MNL_CB_OK;
}

static ssize_t chain_index(const struct nftm_table *t, const char *name)
{
	for (size_t i = 0; i < t->nchains; i++)
		if (strcmp(t->chains[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static bool chain_same(const struct nftm_chain *w, struct nftnl_chain *c)
{
	bool base = nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM);
	if (base != (w->hook != NFTM_HOOK_NONE))
		return false;
	return !base || (nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) == hook_num(w->hook) &&
			 nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO) == w->priority &&
			 strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), w->type == NFTM_CHAIN_NAT ? "nat" : "filter") == 0 &&
			 nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == (w->policy == NFTM_POLICY_DROP ? NF_DROP : NF_ACCEPT));
}

static int chains_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd *rd = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0 &&
	    strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), rd->want->name) == 0) {
		const char *name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
		ssize_t i = chain_index(rd->want, name);
		if (names_add(&rd->v->chains, name) < 0)
			rd->err = -ENOMEM;
		if (i >= 0 && chain_same(&rd->want->chains[i], c))
			rd->v->chain_ok[i] = true;
		else if (names_add(&rd->v->del_chains, name) < 0)
			rd->err = -ENOMEM;
	}
	nftnl_chain_free(c);
	return rd->err ? MNL_CB_ERROR : MNL_CB_OK;
}

static int rules_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd *rd = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 &&
	    strcmp(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), rd->want->name) == 0) {
		ssize_t i = chain_index(rd->want, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
		char *sig = i < 0 ? NULL : rule_sig(r);
		char **v = sig ? realloc(rd->sigs[i], (rd->nsigs[i] + 1) * sizeof(*v)) : NULL;
		if (i < 0) {
			rd->alien_rules = true;
		} else if (!v) {
			free(sig);
			rd->err = -ENOMEM;
		} else {
			v[rd->nsigs[i]++] = sig;
			rd->sigs[i] = v;
		}
	}
	nftnl_rule_free(r);
	return rd->err ? MNL_CB_ERROR : MNL_CB_OK;
}

struct rd_elems {
	const struct nftm_table *want;
	struct nftm_set *set;      /* gets the elements (concatenations) */
	struct kelem *k;           /* single-field interval halves, collected */
	size_t nk, capk;
	int err;
};

/* One element of a dump: key, key end, flags and jump target, as the
 * kernel sent them (pointers into the message). */
struct kattrs {
	const uint8_t *key, *end;
	uint32_t klen, elen, flags;
	const char *chain;
};

/* The bytes of an NFTA_DATA_VALUE inside nested data attribute A. */
static const uint8_t *data_value(const struct nlattr *a, uint32_t *len)
{
	const struct nlattr *v;
	mnl_attr_for_each_nested(v, a)
		if (mnl_attr_get_type(v) == NFTA_DATA_VALUE) {
			*len = mnl_attr_get_payload_len(v);
			return mnl_attr_get_payload(v);
		}
	return NULL;
}

/* The chain of a jump in nested data attribute A (NFTA_DATA_VERDICT). */
static const char *verdict_chain(const struct nlattr *a)
{
	const struct nlattr *v, *c;
	mnl_attr_for_each_nested(v, a) {
		if (mnl_attr_get_type(v) != NFTA_DATA_VERDICT)
			continue;
		mnl_attr_for_each_nested(c, v)
			if (mnl_attr_get_type(c) == NFTA_VERDICT_CHAIN && mnl_attr_validate(c, MNL_TYPE_NUL_STRING) == 0)
				return mnl_attr_get_str(c);
	}
	return NULL;
}

static void elem_attrs(const struct nlattr *el, struct kattrs *k)
{
	const struct nlattr *a;
	memset(k, 0, sizeof(*k));
	mnl_attr_for_each_nested(a, el) {
		switch (mnl_attr_get_type(a)) {
		case NFTA_SET_ELEM_KEY: k->key = data_value(a, &k->klen); break;
		case NFTA_SET_ELEM_KEY_END: k->end = data_value(a, &k->elen); break;
		case NFTA_SET_ELEM_FLAGS:
			if (mnl_attr_get_payload_len(a) == 4)
				k->flags = ntohl(mnl_attr_get_u32(a));
			break;
		case NFTA_SET_ELEM_DATA: k->chain = verdict_chain(a); break;
		}
	}
}

/* Add one dumped element to the read-back set. */
static void elem_each(struct rd_elems *re, const struct kattrs *ka)
{
	const struct nftm_set *s = re->set;
	const uint8_t *key = ka->key, *end = ka->end;
	uint32_t klen = ka->klen, elen = ka->elen;
	if (!key || klen != key_len(s) || klen > 64)
		return;   /* not one of ours: the shape check has vouched for the key */
	/* A jump to a chain the model lacks gets the placeholder past its
	 * chains (shape_copy), so that it differs from every model element. */
	size_t jidx = re->want->nchains;
	if (ka->chain) {
		ssize_t ci = chain_index(re->want, ka->chain);
		if (ci >= 0)
			jidx = (size_t)ci;
	}
	if (s->nkey > 1) {
		struct nftm_elem m;
		memset(&m, 0, sizeof(m));
		m.jump = jidx;
		for (size_t i = 0; i < s->nkey; i++) {
			size_t w = nftm_field_width(s->key[i]), off = key_off(s, i);
			memcpy(m.k[i].lo, key + off, w);
			memcpy(m.k[i].hi, (end && elen == klen ? end : key) + off, w);
		}
		if (nftm_set_add(re->set, &m) < 0)
			re->err = -ENOMEM;
		return;
	}
	if (MEM_RESERVE(re->k, re->capk, re->nk + 1) < 0) {
		re->err = -ENOMEM;
		return;
	}
	struct kelem *k = &re->k[re->nk++];
	memset(k, 0, sizeof(*k));
	memcpy(k->key, key, klen);
	k->jidx = jidx;
	k->iv_end = (ka->flags & NFT_SET_ELEM_INTERVAL_END) != 0;
}

/* A dump message: the elements, parsed in place (libnftnl would copy
 * each one into an allocated object first: a quarter of a read-back). */
static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd_elems *re = data;
	const struct nlattr *a, *el;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(el, a) {
			struct kattrs ka;
			if (mnl_attr_get_type(el) != NFTA_LIST_ELEM)
				continue;
			elem_attrs(el, &ka);
			elem_each(re, &ka);
		}
	}
	return re->err ? MNL_CB_ERROR : MNL_CB_OK;
}

/* qsort has no context argument: the key width, per thread (the read-back
 * pairs halves on two threads). */
static __thread size_t kelem_w;
static int kelem_cmp(const void *a, const void *b)
{
	const struct kelem *x = a, *y = b;
	int c = memcmp(x->key, y->key, kelem_w);
	return c ? c : (int)y->iv_end - (int)x->iv_end;   /* an end sorts before a start at the same key */
}

/* Single field: pair every interval start with the end that follows. */
static int pair_halves(struct nftm_set *s, struct kelem *k, size_t n)
{
	size_t w = nftm_field_width(s->key[0]);
	kelem_w = w;
	qsort(k, n, sizeof(*k), kelem_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k[i].iv_end)
			continue;
		struct nftm_elem m;
		memset(&m, 0, sizeof(m));
		m.jump = k[i].jidx;
		memcpy(m.k[0].lo, k[i].key, w);
		if (i + 1 < n && k[i + 1].iv_end) {
			memcpy(m.k[0].hi, k[i + 1].key, w);
			be_add(m.k[0].hi, w, -1);
		} else {
			memset(m.k[0].hi, 0xff, w);
		}
		if (nftm_set_add(s, &m) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* WANT's sets and chains without elements, and one more chain with an
 * empty name: the jump target of read-back elements that jump to a chain
 * WANT lacks (nftm_set_diff compares targets by name). */
static struct nftm_table *shape_copy(const struct nftm_table *want)
{
	struct nftm_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	*t = *want;
	t->sets = calloc(want->nsets ? want->nsets : 1, sizeof(*t->sets));
	t->chains = calloc(want->nchains + 1, sizeof(*t->chains));
	if (!t->sets || !t->chains) {
		free(t->sets);
		free(t->chains);
		free(t);
		return NULL;
	}
	memcpy(t->sets, want->sets, want->nsets * sizeof(*t->sets));
	memcpy(t->chains, want->chains, want->nchains * sizeof(*t->chains));
	t->capsets = want->nsets;
	t->capchains = want->nchains + 1;
	for (size_t i = 0; i < t->nsets; i++) {
		t->sets[i].elems = NULL;
		t->sets[i].n = t->sets[i].cap = 0;
	}
	return t;
}

static struct nlmsghdr *get_hdr(struct nftb *nb, char *buf, uint16_t type, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags | NLM_F_ACK, ++nb->seq);
}

/* Read the kernel's elements of the model's set I into HAVE's set I.  A
 * set the kernel lacks reads as empty (the shape check says it is not
 * there). */
static int read_set(struct nftb *nb, const struct nftm_table *want, struct nftm_table *have, size_t i)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_set *s = nftnl_set_alloc();
	struct rd_elems re = { want, &have->sets[i], NULL, 0, 0, 0 };
	struct nftm_set *hs = &have->sets[i];
	/* Room for as many elements as the model's set: no copying while it grows. */
	struct nftm_elem *room = want->sets[i].n > hs->cap ? realloc(hs->elems, want->sets[i].n * sizeof(*room)) : NULL;
	if (room) {
		hs->elems = room;
		hs->cap = want->sets[i].n;
	}
	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, want->name);
	nftnl_set_set_str(s, NFTNL_SET_NAME, want->sets[i].name);
	struct nlmsghdr *nlh = get_hdr(nb, buf, NFT_MSG_GETSETELEM, NLM_F_DUMP);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	int rc = talk(nb, nlh, elems_cb, &re);
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0)
		rc = re.err;
	if (rc == 0 && have->sets[i].nkey == 1)
		rc = pair_halves(&have->sets[i], re.k, re.nk);
	free(re.k);
	nftm_set_finish(&have->sets[i]);
	return rc;
}

/* The element dumps, shared out: each reader takes the next set not yet
 * taken.  Most of a read-back is the kernel filling dumps, one set at a
 * time per socket; two readers on two sockets do it on two cores. */
struct readers {
	const struct nftm_table *want;
	struct nftm_table *have;
	size_t next;        /* atomic: the next set to read */
	int err;            /* atomic: the first failure */
};

static void read_sets(struct nftb *nb, struct readers *rs)
{
	for (;;) {
		size_t i = __atomic_fetch_add(&rs->next, 1, __ATOMIC_RELAXED);
		if (i >= rs->want->nsets || __atomic_load_n(&rs->err, __ATOMIC_RELAXED))
			return;
		int rc = read_set(nb, rs->want, rs->have, i);
		int none = 0;
		if (rc < 0)
			__atomic_compare_exchange_n(&rs->err, &none, rc, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	}
}

struct helper_arg {
	struct nftb *nb;
	struct readers *rs;
};

static void *read_sets_thread(void *arg)
{
	struct helper_arg *h = arg;
	read_sets(h->nb, h->rs);
	return NULL;
}

/* Do the kernel's rules in the model's chain CI equal the model's? */
static bool rules_same(const struct nftm_table *want, const struct rd *rd, size_t ci)
{
	if (rd->nsigs[ci] != want->chains[ci].nrules)
		return false;
	for (size_t ri = 0; ri < want->chains[ci].nrules; ri++) {
		struct nftnl_rule *mine = make_rule(want, ci, ri);
		char *sig = mine ? rule_sig(mine) : NULL;
		bool eq = sig && strcmp(sig, rd->sigs[ci][ri]) == 0;
		if (mine)
			nftnl_rule_free(mine);
		free(sig);
		if (!eq)
			return false;
	}
	return true;
}

static int read_shape(struct nftb *nb, const struct nftm_table *want, struct nftb_view *v)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct rd rd = { .want = want, .v = v };
	int err = 0;

	rd.sigs = calloc(want->nchains + 1, sizeof(*rd.sigs));
	rd.nsigs = calloc(want->nchains + 1, sizeof(*rd.nsigs));
	struct nftnl_set *s = rd.sigs && rd.nsigs ? nftnl_set_alloc() : NULL;
	if (!s) {
		err = -ENOMEM;
		goto out;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, want->name);
	struct nlmsghdr *nlh = get_hdr(nb, buf, NFT_MSG_GETSET, NLM_F_DUMP);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if ((err = talk(nb, nlh, sets_cb, &rd)) < 0)
		goto out;
	nlh = get_hdr(nb, buf, NFT_MSG_GETCHAIN, NLM_F_DUMP);
	if ((err = talk(nb, nlh, chains_cb, &rd)) < 0)
		goto out;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r) {
		err = -ENOMEM;
		goto out;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, want->name);
	nlh = get_hdr(nb, buf, NFT_MSG_GETRULE, NLM_F_DUMP);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	if ((err = talk(nb, nlh, rules_cb, &rd)) < 0)
		goto out;

	bool sets = v->del_sets.n == 0, chains = v->del_chains.n == 0, rules = !rd.alien_rules;
	for (size_t i = 0; i < want->nsets; i++)
		sets = sets && v->set_ok[i];
	for (size_t i = 0; i < want->nchains; i++) {
		chains = chains && v->chain_ok[i];
		v->rules_ok[i] = v->chain_ok[i] && rules_same(want, &rd, i);
		rules = rules && v->rules_ok[i];
	}
	v->same_shape = sets && chains && rules;
	v->why = !sets ? "its sets differ from the policy's" : !chains ? "its chains differ from the policy's"
	       : !rules ? "its rules differ from the policy's" : NULL;
out:
	for (size_t ci = 0; rd.sigs && rd.nsigs && ci < want->nchains; ci++) {
		for (size_t k = 0; k < rd.nsigs[ci]; k++)
			free(rd.sigs[ci][k]);
		free(rd.sigs[ci]);
	}
	free(rd.sigs);
	free(rd.nsigs);
	return err ? err : rd.err;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	*(bool *)data = true;
	return MNL_CB_OK;
}

int nftb_read(struct nftb *nb, const struct nftm_table *want, struct nftb_view *v)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	memset(v, 0, sizeof(*v));
	v->why = "it does not exist";
	v->set_ok = calloc(want->nsets + 1, sizeof(*v->set_ok));
	v->chain_ok = calloc(want->nchains + 1, sizeof(*v->chain_ok));
	v->rules_ok = calloc(want->nchains + 1, sizeof(*v->rules_ok));
	if (!v->set_ok || !v->chain_ok || !v->rules_ok) {
		nftb_view_free(v);
		return -ENOMEM;
	}

	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, want->name);
	struct nlmsghdr *nlh = get_hdr(nb, buf, NFT_MSG_GETTABLE, 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	int err = talk(nb, nlh, table_cb, &v->exists);
	if (err == -ENOENT) {
		v->exists = false;
		v->have = shape_copy(want);
		return v->have ? 0 : -ENOMEM;
	}
	if (err == 0 && !(v->have = shape_copy(want)))
		err = -ENOMEM;
	if (err < 0)
		goto out;
	/* Every model set's elements are read while the shape is: a helper
	 * thread on a second socket starts on them at once, this thread
	 * joins in after the shape; the elements of sets the shape check
	 * finds missing or different are dropped after. */
	struct readers rs = { want, v->have, 0, 0 };
	struct helper_arg ha = { NULL, &rs };
	pthread_t th;
	bool threaded = false;
	if (nb->helper) {
		ha.nb = nb->helper;
		threaded = pthread_create(&th, NULL, read_sets_thread, &ha) == 0;
	}
	err = read_shape(nb, want, v);
	if (err < 0)
		__atomic_store_n(&rs.err, err, __ATOMIC_RELAXED);
	read_sets(nb, &rs);
	if (threaded)
		pthread_join(th, NULL);
	if (err == 0)
		err = rs.err;
	for (size_t i = 0; err == 0 && i < want->nsets; i++)
		if (!v->set_ok[i]) {
			free(v->have->sets[i].elems);
			v->have->sets[i].elems = NULL;
			v->have->sets[i].n = v->have->sets[i].cap = 0;
		}
out:
	if (err < 0)
		nftb_view_free(v);
	return err;
}

/* ---- the batch ---- */

enum msg_kind { M_TABLE, M_FLUSH, M_DELCHAIN, M_DELSET, M_SET, M_CHAIN, M_RULE, M_ELEMS };

struct msgref {
	uint32_t seq;
	enum msg_kind kind;
	size_t set, chain, rule;
	bool del;
	const struct nftm_elem *elems;   /* M_ELEMS: the model elements in it */
	size_t nelems;
	const struct nlmsghdr *nlh;
	char name[NFTB_KNAME];           /* M_FLUSH, M_DELCHAIN, M_DELSET */
};

struct batch {
	struct nftnl_batch *b;
	struct msgref *refs;
	size_t nrefs, cap;
	uint32_t seq0, begin_seq;
	bool oom;
};

static struct msgref *batch_ref(struct batch *bt, enum msg_kind kind)
{
	if (MEM_RESERVE(bt->refs, bt->cap, bt->nrefs + 1) < 0) {
		bt->oom = true;
		return NULL;
	}
	struct msgref *r = &bt->refs[bt->nrefs++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->seq = bt->seq0 + (uint32_t)bt->nrefs;
	return r;
}

static struct nlmsghdr *batch_hdr(struct batch *bt, struct msgref *r, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(nftnl_batch_buffer(bt->b), type, NFPROTO_INET,
						     flags | NLM_F_ACK, r->seq);
	r->nlh = nlh;
	return nlh;
}

static void batch_next(struct batch *bt)
{
	if (nftnl_batch_update(bt->b) < 0)
		bt->oom = true;
}

static void put_table(struct batch *bt, const char *name, uint16_t type, uint16_t flags, enum msg_kind kind)
{
	struct msgref *r = batch_ref(bt, kind);
	struct nftnl_table *t = nftnl_table_alloc();
	if (!r || !t) {
		bt->oom = true;
		if (t)
			nftnl_table_free(t);
		return;
	}
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	if (type == NFT_MSG_NEWTABLE)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	nftnl_table_nlmsg_build_payload(batch_hdr(bt, r, type, flags), t);
	nftnl_table_free(t);
	batch_next(bt);
}

/* Element messages for model elements E[0..N) of set SI, added or deleted. */
static void put_elems(struct batch *bt, const struct nftm_table *t, size_t si, const struct nftm_elem *e,
		      size_t n, bool del, const struct nftb_opts *opts)
{
	bool fault = !del && opts->fault_set &&
		     strncmp(opts->fault_set, t->sets[si].name, strlen(opts->fault_set)) == 0;
	const struct nftm_set *s = &t->sets[si];
	for (size_t base = 0; base < n && !bt->oom; base += ELEMS_PER_MSG) {
		size_t cnt = n - base < ELEMS_PER_MSG ? n - base : ELEMS_PER_MSG;
		struct msgref *r = batch_ref(bt, M_ELEMS);
		struct nftnl_set *ns = nftnl_set_alloc();
		if (!r || !ns) {
			bt->oom = true;
			if (ns)
				nftnl_set_free(ns);
			return;
		}
		r->set = si;
		r->del = del;
		r->elems = e + base;
		r->nelems = cnt;
		nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
		nftnl_set_set_str(ns, NFTNL_SET_TABLE, t->name);
		nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
		nftnl_set_set_u32(ns, NFTNL_SET_ID, (uint32_t)si + 1);
		for (size_t i = 0; i < cnt; i++) {
			struct kelem k[2];
			size_t nk = to_kernel(del ? NULL : t, s, &e[base + i], k);
			if (fault && base + i == opts->fault_index) {
				/* Test hook: an inverted range in the first field. */
				size_t w = nftm_field_width(s->key[0]);
				memcpy(k[0].end, k[0].key, w);
				be_add(k[0].end, w, -1);
				k[0].has_end = true;
			}
			for (size_t j = 0; j < nk; j++) {
				struct nftnl_set_elem *ne = make_elem(s, &k[j], del);
				if (!ne)
					bt->oom = true;
				else
					nftnl_set_elem_add(ns, ne);
			}
		}
		nftnl_set_elems_nlmsg_build_payload(
			batch_hdr(bt, r, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM, del ? 0 : NLM_F_CREATE), ns);
		nftnl_set_free(ns);
		batch_next(bt);
	}
}

/* A message naming one chain or set of ours by its kernel name: flush a
 * chain's rules, delete a chain, delete a set. */
static void put_named(struct batch *bt, const char *table, const char *name, enum msg_kind kind)
{
	struct msgref *r = batch_ref(bt, kind);
	if (!r)
		return;
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (kind == M_DELSET) {
		struct nftnl_set *s = nftnl_set_alloc();
		if (!s) {
			bt->oom = true;
			return;
		}
		nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
		nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
		nftnl_set_set_str(s, NFTNL_SET_NAME, name);
		nftnl_set_nlmsg_build_payload(batch_hdr(bt, r, NFT_MSG_DELSET, 0), s);
		nftnl_set_free(s);
	} else if (kind == M_FLUSH) {
		struct nftnl_rule *ru = nftnl_rule_alloc();
		if (!ru) {
			bt->oom = true;
			return;
		}
		nftnl_rule_set_u32(ru, NFTNL_RULE_FAMILY, NFPROTO_INET);
		nftnl_rule_set_str(ru, NFTNL_RULE_TABLE, table);
		nftnl_rule_set_str(ru, NFTNL_RULE_CHAIN, name);
		nftnl_rule_nlmsg_build_payload(batch_hdr(bt, r, NFT_MSG_DELRULE, 0), ru);
		nftnl_rule_free(ru);
	} else {
		struct nftnl_chain *c = nftnl_chain_alloc();
		if (!c) {
			bt->oom = true;
			return;
		}
		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
		nftnl_chain_nlmsg_build_payload(batch_hdr(bt, r, NFT_MSG_DELCHAIN, 0), c);
		nftnl_chain_free(c);
	}
	batch_next(bt);
}

static bool name_in(const struct nftb_names *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], name) == 0)
			return true;
	return false;
}

static void put_new_set(struct batch *bt, const struct nftm_table *t, size_t i, struct nftb_result *res,
			const struct nftb_opts *opts)
{
	struct msgref *r = batch_ref(bt, M_SET);
	struct nftnl_set *ns = make_set(t, i);
	if (!r || !ns) {
		bt->oom = true;
		if (ns)
			nftnl_set_free(ns);
		return;
	}
	r->set = i;
	nftnl_set_nlmsg_build_payload(batch_hdr(bt, r, NFT_MSG_NEWSET, NLM_F_CREATE), ns);
	nftnl_set_free(ns);
	batch_next(bt);
	res->sets++;
	put_elems(bt, t, i, t->sets[i].elems, t->sets[i].n, false, opts);
}

static void put_new_chain(struct batch *bt, const struct nftm_table *t, size_t ci, struct nftb_result *res)
{
	struct msgref *r = batch_ref(bt, M_CHAIN);
	struct nftnl_chain *c = make_chain(t, ci);
	if (!r || !c) {
		bt->oom = true;
		if (c)
			nftnl_chain_free(c);
		return;
	}
	r->chain = ci;
	nftnl_chain_nlmsg_build_payload(batch_hdr(bt, r, NFT_MSG_NEWCHAIN, NLM_F_CREATE), c);
	nftnl_chain_free(c);
	batch_next(bt);
	res->chains++;
}

static void put_rules(struct batch *bt, const struct nftm_table *t, size_t ci, struct nftb_result *res)
{
	for (size_t ri = 0; ri < t->chains[ci].nrules && !bt->oom; ri++) {
		struct msgref *r = batch_ref(bt, M_RULE);
		struct nftnl_rule *nr = make_rule(t, ci, ri);
		if (!r || !nr) {
			bt->oom = true;
			if (nr)
				nftnl_rule_free(nr);
			return;
		}
		r->chain = ci;
		r->rule = ri;
		nftnl_rule_nlmsg_build_payload(batch_hdr(bt, r, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND), nr);
		nftnl_rule_free(nr);
		batch_next(bt);
		res->rules++;
	}
}

/* What goes first, in a transaction of its own, when our table exists:
 * the sets (with their elements) and regular chains (with their rules)
 * the model adds and nothing refers to yet: a new identity.  In nf_tables
 * the new rules of a transaction become live before the elements of a set
 * made in the same transaction are committed (the set's commit comes
 * after the generation flip), so a source pointed at a brand-new identity
 * could miss for an instant; measured: 3 of 287,000 packets every policy
 * allowed were dropped over 100 swaps done in one transaction.  Made
 * first, the identity is complete when the second transaction points
 * sources at it; until then nothing refers to it, so the kernel's
 * behaviour is the old ruleset's, then the new one's. */
static bool early_set(const struct nftm_table *t, const struct nftb_view *v, size_t i)
{
	return v->exists && !v->set_ok[i] && !name_in(&v->del_sets, t->sets[i].name);
}

static bool early_chain(const struct nftm_table *t, const struct nftb_view *v, size_t ci)
{
	return v->exists && !v->chain_ok[ci] && t->chains[ci].hook == NFTM_HOOK_NONE &&
	       !name_in(&v->del_chains, t->chains[ci].name);
}

static bool put_phase1(struct batch *bt, const struct nftm_table *t, const struct nftb_view *v,
		       struct nftb_result *res, const struct nftb_opts *opts)
{
	size_t before = bt->nrefs;
	for (size_t i = 0; i < t->nsets && !bt->oom; i++)
		if (early_set(t, v, i))
			put_new_set(bt, t, i, res, opts);
	for (size_t ci = 0; ci < t->nchains && !bt->oom; ci++)
		if (early_chain(t, v, ci))
			put_new_chain(bt, t, ci, res);
	for (size_t ci = 0; ci < t->nchains && !bt->oom; ci++)
		if (early_chain(t, v, ci))
			put_rules(bt, t, ci, res);
	return bt->nrefs > before;
}

/* The batch: flush the chains whose rules change and those that go,
 * element deletions (a map element jumping to a chain that goes goes
 * first), chains and sets deleted, the rest created, element additions,
 * rules.  The table itself is never deleted and kept sets are never
 * recreated. */
static void put_changes(struct batch *bt, const struct nftm_table *t, const struct nftb_view *v,
		       struct nftb_result *res, const struct nftb_opts *opts)
{
	if (!v->exists)
		put_table(bt, t->name, NFT_MSG_NEWTABLE, NLM_F_CREATE, M_TABLE);
	for (size_t ci = 0; ci < t->nchains; ci++)
		if (v->chain_ok[ci] && !v->rules_ok[ci]) {
			put_named(bt, t->name, t->chains[ci].name, M_FLUSH);
			res->chains_rewritten++;
		}
	for (size_t i = 0; i < v->del_chains.n; i++)
		put_named(bt, t->name, v->del_chains.v[i], M_FLUSH);
	for (size_t i = 0; i < t->nsets && !bt->oom; i++)
		if (v->set_ok[i])
			put_elems(bt, t, i, res->delta[i].del, res->delta[i].ndel, true, opts);
	for (size_t i = 0; i < v->del_chains.n; i++)
		put_named(bt, t->name, v->del_chains.v[i], M_DELCHAIN);
	for (size_t i = 0; i < v->del_sets.n; i++)
		put_named(bt, t->name, v->del_sets.v[i], M_DELSET);
	res->chains_deleted = v->del_chains.n;
	res->sets_deleted = v->del_sets.n;
	/* Chains before sets: map elements jump to chains.  Identities'
	 * objects before the fixed ones, as nftt prints them (nft lists
	 * objects in the order they were made). */
	for (int fixed = 0; fixed < 2; fixed++)
		for (size_t ci = 0; ci < t->nchains && !bt->oom; ci++)
			if (t->chains[ci].fixed == fixed && !v->chain_ok[ci] && !early_chain(t, v, ci))
				put_new_chain(bt, t, ci, res);
	for (int fixed = 0; fixed < 2; fixed++)
		for (size_t i = 0; i < t->nsets && !bt->oom; i++)
			if (t->sets[i].fixed == fixed && !v->set_ok[i] && !early_set(t, v, i))
				put_new_set(bt, t, i, res, opts);
	for (size_t i = 0; i < t->nsets && !bt->oom; i++)
		if (v->set_ok[i])
			put_elems(bt, t, i, res->delta[i].add, res->delta[i].nadd, false, opts);
	for (int fixed = 0; fixed < 2; fixed++)
		for (size_t ci = 0; ci < t->nchains && !bt->oom; ci++)
			if (t->chains[ci].fixed == fixed && !v->rules_ok[ci] && !early_chain(t, v, ci))
				put_rules(bt, t, ci, res);
}

static void put_begin(struct batch *bt, uint32_t genid)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nftnl_batch_buffer(bt->b));
	nlh->nlmsg_type = NFNL_MSG_BATCH_BEGIN;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = bt->begin_seq = bt->seq0;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(NFNL_SUBSYS_NFTABLES);
	mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	batch_next(bt);
}

/* ---- errors: from sequence number to model object to policy location ---- */

/* The policy rule behind an allow-set element: the first rule (in policy
 * order) accepting the element's lowest packet. */
struct first_loc {
	const struct diag_loc *loc;
	size_t n;
};

static void first_loc_fn(const struct ir_rule *rule, void *arg)
{
	struct first_loc *fl = arg;
	if (!fl->loc && rule->loc.line)
		fl->loc = &rule->loc;
	fl->n++;
}

static addr_u128 be_val(const uint8_t *p, size_t w)
{
	addr_u128 v = 0;
	for (size_t i = 0; i < w; i++)
		v = v << 8 | p[i];
	return v;
}

/* Where in the policy element E of set SI of T came from: for a sources
 * map element, the first rule with that source; for an element of an
 * identity's set, the first rule accepting its lowest packet from a
 * source of that identity.  NULL when unknown (served routes come from
 * the inventory). */
static const struct diag_loc *elem_loc(const struct nftm_table *t, size_t si, const struct nftm_elem *e,
				       const struct ir_flows *flows)
{
	const struct nftm_set *s = &t->sets[si];
	if (!flows || !s->nkey)
		return NULL;
	size_t aw = nftm_field_width(s->key[0]);
	enum addr_family fam = aw == 4 ? ADDR_V4 : ADDR_V6;
	if (s->vmap) {
		addr_u128 src = be_val(e->k[0].lo, aw);
		for (size_t i = 0; i < flows->nrules; i++) {
			const struct ir_rule *r = &flows->rules[i];
			if (r->box.family == fam && r->box.src_lo <= src && src <= r->box.src_hi && r->loc.line)
				return &r->loc;
		}
		return NULL;
	}
	if (s->nkey < 2 || s->key[1] != NFTM_F_L4PROTO || !flows->canonical)
		return NULL;
	/* The identity: the chain that looks this set up; a source: any map
	 * element jumping there. */
	for (size_t ci = 0; ci < t->nchains; ci++) {
		const struct nftm_chain *c = &t->chains[ci];
		bool uses = false;
		for (size_t ri = 0; ri < c->nrules; ri++)
			uses = uses || (c->rules[ri].kind == NFTM_R_LOOKUP_ACCEPT && c->rules[ri].set == si);
		if (!uses)
			continue;
		for (size_t mi = 0; mi < t->nsets; mi++) {
			const struct nftm_set *m = &t->sets[mi];
			if (!m->vmap || nftm_field_width(m->key[0]) != aw)
				continue;
			for (size_t k = 0; k < m->n; k++) {
				if (m->elems[k].jump != ci)
					continue;
				struct first_loc fl = { NULL, 0 };
				unsigned port = s->nkey > 2 ? (unsigned)be_val(e->k[2].lo, 2) : 0;
				ir_explain(flows, fam, e->k[1].lo[0], be_val(m->elems[k].k[0].lo, aw), be_val(e->k[0].lo, aw),
					   port, first_loc_fn, &fl);
				if (fl.loc)
					return fl.loc;
			}
		}
	}
	return NULL;
}

static void elem_text(const struct nftm_set *s, const struct nftm_elem *e, char *buf, size_t len)
{
	size_t at = 0;
	buf[0] = 0;
	for (size_t i = 0; i < s->nkey && at < len; i++) {
		char r[NFTT_RANGE_MAX];
		nftt_range(r, s->key[i], &e->k[i]);
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? " . " : "", r);
	}
}

/* Which model element of message R holds the attribute at byte OFFSET of
 * the message (extended ack)?  -1 when unknown. */
static ssize_t elem_at(const struct nftm_table *t, const struct msgref *r, uint32_t offset)
{
	const struct nlmsghdr *nlh = r->nlh;
	const struct nlattr *a, *list = NULL;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
			list = a;
	if (!list || offset == 0)
		return -1;
	size_t raw = 0;
	const struct nlattr *e;
	mnl_attr_for_each_nested(e, list) {
		size_t start = (size_t)((const char *)e - (const char *)nlh);
		if (offset >= start && offset < start + mnl_attr_get_len(e))
			break;
		raw++;
	}
	/* Kernel elements back to model elements (1 or 2 per element). */
	for (size_t i = 0; i < r->nelems; i++) {
		struct kelem k[2];
		size_t nk = to_kernel(NULL, &t->sets[r->set], &r->elems[i], k);
		if (raw < nk)
			return (ssize_t)i;
		raw -= nk;
	}
	return -1;
}

struct ack {
	const struct nftm_table *t;
	const struct nftb_opts *opts;
	struct batch *bt;
	struct diag_list *diags;
	size_t acks, errors;
	bool restart;
	int first_err;
};

static int ack_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	unsigned type = mnl_attr_get_type(a);
	if (type <= NLMSGERR_ATTR_OFFS)
		tb[type] = a;
	return MNL_CB_OK;
}

static const char *kind_text(const struct nftm_table *t, const struct msgref *r, char *buf, size_t len)
{
	switch (r->kind) {
	case M_TABLE: snprintf(buf, len, "creating table inet %s", t->name); break;
	case M_FLUSH: snprintf(buf, len, "flushing chain %s", r->name); break;
	case M_DELCHAIN: snprintf(buf, len, "deleting chain %s", r->name); break;
	case M_DELSET: snprintf(buf, len, "deleting set %s", r->name); break;
	case M_SET: snprintf(buf, len, "creating set %s", t->sets[r->set].name); break;
	case M_CHAIN: snprintf(buf, len, "creating chain %s", t->chains[r->chain].name); break;
	case M_RULE: snprintf(buf, len, "adding rule %zu of chain %s", r->rule + 1, t->chains[r->chain].name); break;
	case M_ELEMS:
		snprintf(buf, len, "%s %zu element%s of set %s", r->del ? "deleting" : "adding", r->nelems,
			 r->nelems == 1 ? "" : "s", t->sets[r->set].name);
		break;
	}
	return buf;
}

static void report(struct ack *ak, const struct msgref *r, int err, const char *kmsg, uint32_t offset)
{
	char what[NFTB_KNAME + 64], detail[300] = "";
	const struct diag_loc *loc = NULL;
	if (kmsg && *kmsg)
		snprintf(detail, sizeof(detail), " (kernel: %s)", kmsg);
	if (!r) {
		diag_error(ak->diags, NULL, "kernel rejected the batch for table inet %s: %s%s", ak->t->name,
			   strerror(-err), detail);
		return;
	}
	if (r->kind == M_ELEMS) {
		const struct nftm_set *s = &ak->t->sets[r->set];
		ssize_t i = elem_at(ak->t, r, offset);
		if (i >= 0) {
			char et[4 * NFTT_RANGE_MAX];
			elem_text(s, &r->elems[i], et, sizeof(et));
			loc = r->del ? NULL : elem_loc(ak->t, r->set, &r->elems[i], ak->opts->flows);
			diag_error(ak->diags, loc, "kernel rejected %s element %s of set %s%s: %s%s",
				   r->del ? "deleting" : "adding", et, s->name,
				   loc ? ", made from this rule" : "",
				   strerror(-err), detail);
			return;
		}
		/* No offset: name the first element of the message with a location. */
		for (size_t k = 0; k < r->nelems && !loc && !r->del; k++)
			loc = elem_loc(ak->t, r->set, &r->elems[k], ak->opts->flows);
	}
	diag_error(ak->diags, loc, "kernel rejected %s: %s%s", kind_text(ak->t, r, what, sizeof(what)),
		   strerror(-err), detail);
}

static int ack_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

static void handle_err(struct ack *ak, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return;
	ak->acks++;
	if (e->error == 0)
		return;
	const struct nlattr *tb[NLMSGERR_ATTR_OFFS + 1] = { 0 };
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		mnl_attr_parse(nlh, (unsigned)off, ack_attr_cb, tb);
	}
	const char *kmsg = tb[NLMSGERR_ATTR_MSG] ? mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]) : NULL;
	uint32_t offset = tb[NLMSGERR_ATTR_OFFS] ? mnl_attr_get_u32(tb[NLMSGERR_ATTR_OFFS]) : 0;
	uint32_t seq = e->msg.nlmsg_seq;
	ak->errors++;
	if (!ak->first_err)
		ak->first_err = e->error;
	if (seq == ak->bt->begin_seq && e->error == -ERESTART) {
		ak->restart = true;   /* the generation moved on: nothing was done */
		return;
	}
	const struct msgref *r = NULL;
	if (seq > ak->bt->seq0 && seq - ak->bt->seq0 <= ak->bt->nrefs)
		r = &ak->bt->refs[seq - ak->bt->seq0 - 1];
	report(ak, r, e->error, kmsg, offset);
}

static void set_bufs(struct nftb *nb, size_t bytes, size_t msgs)
{
	int snd = (int)(bytes + 65536), rcv = (int)(msgs * 1024 + (1u << 20));
	int fd = mnl_socket_get_fd(nb->nl);
	/* FORCE needs CAP_NET_ADMIN, which changing the ruleset needs anyway;
	 * the plain option (capped by wmem_max) is the fallback. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
}

/* Send the batch in one sendmsg and read every acknowledgement.  0, or
 * -ERESTART (generation changed), or -errno with DIAGS filled. */
static int send_batch(struct nftb *nb, struct ack *ak, size_t *bytes, size_t *pages)
{
	struct batch *bt = ak->bt;
	int n = nftnl_batch_iovec_len(bt->b), rc = 0;
	struct iovec *iov = calloc((size_t)n, sizeof(*iov));
	char *buf = malloc(RECV_BYTES);
	if (!iov || !buf) {
		rc = -ENOMEM;
		goto out;
	}
	nftnl_batch_iovec(bt->b, iov, (uint32_t)n);
	*bytes = 0;
	for (int i = 0; i < n; i++)
		*bytes += iov[i].iov_len;
	*pages = (size_t)n;
	set_bufs(nb, *bytes, bt->nrefs);
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct msghdr msg = { .msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = iov, .msg_iovlen = (size_t)n };
	if (sendmsg(mnl_socket_get_fd(nb->nl), &msg, 0) < 0) {
		rc = -errno;
		diag_error(ak->diags, NULL, "cannot send the batch for table inet %s (%zu bytes): %s", ak->t->name,
			   *bytes, strerror(errno));
		goto out;
	}
	/* nf_tables handles a batch inside sendmsg: every reply is queued by
	 * now.  Read until each message is acknowledged, the batch was
	 * refused as a whole, or nothing more is pending. */
	while (!ak->restart && ak->acks < bt->nrefs) {
		struct pollfd p = { mnl_socket_get_fd(nb->nl), POLLIN, 0 };
		if (poll(&p, 1, 5000) <= 0)
			break;
		ssize_t got = mnl_socket_recvfrom(nb->nl, buf, RECV_BYTES);
		if (got < 0) {
			rc = -errno;
			diag_error(ak->diags, NULL, "reading the kernel's answer for table inet %s: %s", ak->t->name,
				   strerror(errno));
			goto out;
		}
		int len = (int)got;
		for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type == NLMSG_ERROR)
				handle_err(ak, nlh);
			else
				ack_cb(nlh, ak);
		}
	}
	if (ak->restart)
		rc = -ERESTART;
	else if (ak->errors)
		rc = ak->first_err;
	else if (ak->acks < bt->nrefs) {
		rc = -ETIMEDOUT;
		diag_error(ak->diags, NULL, "table inet %s: the kernel acknowledged %zu of %zu messages", ak->t->name,
			   ak->acks, bt->nrefs);
	}
out:
	free(iov);
	free(buf);
	return rc;
}

void nftb_result_free(struct nftb_result *r)
{
	for (size_t i = 0; r->delta && i < r->ndelta; i++)
		nftm_delta_free(&r->delta[i]);
	free(r->delta);
	memset(r, 0, sizeof(*r));
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A deep copy of T (elements included).  NULL when out of memory. */
static struct nftm_table *table_copy(const struct nftm_table *t)
{
	struct nftm_table *c = shape_copy(t);
	for (size_t i = 0; c && i < t->nsets; i++) {
		if (!t->sets[i].n)
			continue;
		c->sets[i].elems = malloc(t->sets[i].n * sizeof(*t->sets[i].elems));
		if (!c->sets[i].elems) {
			nftm_free(c);
			return NULL;
		}
		memcpy(c->sets[i].elems, t->sets[i].elems, t->sets[i].n * sizeof(*t->sets[i].elems));
		c->sets[i].n = c->sets[i].cap = t->sets[i].n;
	}
	return c;
}

/* Build the batch (BEGIN, the changes, END unless a dry run) checked
 * against GENID, send it, read the answers.  0, -ERESTART, or -errno with
 * DIAGS. */
static int one_batch(struct nftb *nb, const struct nftm_table *t, const struct nftb_view *v,
		     struct nftb_result *res, const struct nftb_opts *opts, uint32_t genid, int phases,
		     struct diag_list *diags)
{
	struct batch bt = { 0 };
	int rc;
	bt.b = nftnl_batch_alloc(PAGE_BYTES, OVERRUN_BYTES);
	if (!bt.b) {
		rc = -ENOMEM;
		goto out;
	}
	bt.seq0 = nb->seq += 1;
	put_begin(&bt, genid);
	if (phases & 1)
		put_phase1(&bt, t, v, res, opts);
	if (phases & 2)
		put_changes(&bt, t, v, res, opts);
	nb->seq += (uint32_t)bt.nrefs + 1;
	if (!opts->dry_run) {
		/* A dry run leaves the END out: the kernel checks every message,
		 * then aborts the transaction. */
		nftnl_batch_end(nftnl_batch_buffer(bt.b), nb->seq);
		batch_next(&bt);
	}
	if (bt.oom) {
		rc = -ENOMEM;
		goto out;
	}
	res->msgs += bt.nrefs;
	for (size_t i = 0; i < bt.nrefs; i++)
		res->elem_msgs += bt.refs[i].kind == M_ELEMS;
	struct ack ak = { .t = t, .opts = opts, .bt = &bt, .diags = diags };
	struct timespec ts;
	size_t bytes = 0, pages = 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	rc = send_batch(nb, &ak, &bytes, &pages);
	res->send_ms += ms_since(&ts);
	res->bytes += bytes;
	res->pages += pages;
	res->transactions++;
out:
	if (rc == -ENOMEM)
		diag_error(diags, NULL, "out of memory building the batch for table inet %s", t->name);
	if (bt.b)
		nftnl_batch_free(bt.b);
	free(bt.refs);
	return rc;
}

static bool set_same(const struct nftm_set *x, const struct nftm_set *y)
{
	return x->nkey == y->nkey && x->flags == y->flags && x->vmap == y->vmap &&
	       memcmp(x->key, y->key, x->nkey * sizeof(x->key[0])) == 0;
}

static bool rules_equal(const struct nftm_table *a, const struct nftm_chain *x, const struct nftm_table *b,
			const struct nftm_chain *y)
{
	if (x->nrules != y->nrules || strcmp(a->iface, b->iface))
		return false;
	for (size_t r = 0; r < x->nrules; r++) {
		const struct nftm_rule *p = &x->rules[r], *q = &y->rules[r];
		bool has_set = p->kind == NFTM_R_VMAP || p->kind == NFTM_R_LOOKUP_ACCEPT;
		if (p->kind != q->kind || (has_set && strcmp(a->sets[p->set].name, b->sets[q->set].name)) ||
		    (p->kind == NFTM_R_IIF_JUMP && strcmp(a->chains[p->chain].name, b->chains[q->chain].name)))
			return false;
	}
	return true;
}

/* The view of the kernel's table from LAST, the model our last commit
 * made it hold, while the generation is the one that commit produced
 * (nobody has committed anything since).  0 or -ENOMEM. */
static int model_view(const struct nftm_table *last, const struct nftm_table *t, struct nftb_view *v)
{
	int rc = -ENOMEM;
	memset(v, 0, sizeof(*v));
	v->set_ok = calloc(t->nsets + 1, sizeof(*v->set_ok));
	v->chain_ok = calloc(t->nchains + 1, sizeof(*v->chain_ok));
	v->rules_ok = calloc(t->nchains + 1, sizeof(*v->rules_ok));
	if (!v->set_ok || !v->chain_ok || !v->rules_ok || !(v->have = shape_copy(t)))
		goto fail;
	v->exists = true;
	for (size_t j = 0; j < last->nchains; j++) {
		const struct nftm_chain *y = &last->chains[j];
		ssize_t ci = chain_index(t, y->name);
		const struct nftm_chain *x = ci >= 0 ? &t->chains[ci] : NULL;
		if (x && x->hook == y->hook && x->type == y->type && x->priority == y->priority && x->policy == y->policy) {
			v->chain_ok[ci] = true;
			v->rules_ok[ci] = rules_equal(t, x, last, y);
		} else if (names_add(&v->del_chains, y->name) < 0) {
			goto fail;
		}
	}
	for (size_t j = 0; j < last->nsets; j++) {
		const struct nftm_set *y = &last->sets[j];
		const struct nftm_set *x = nftm_set_find(t, y->name);
		if (!x || !set_same(x, y)) {
			if (names_add(&v->del_sets, y->name) < 0)
				goto fail;
			continue;
		}
		size_t i = (size_t)(x - t->sets);
		struct nftm_set *h = &v->have->sets[i];
		v->set_ok[i] = true;
		for (size_t k = 0; k < y->n; k++) {
			struct nftm_elem e = y->elems[k];
			if (y->vmap) {   /* jump targets by name, into T's chains */
				ssize_t ci = chain_index(t, last->chains[e.jump].name);
				e.jump = ci >= 0 ? (size_t)ci : t->nchains;
			}
			if (nftm_set_add(h, &e) < 0)
				goto fail;
		}
	}
	v->same_shape = nftm_same_shape(last, t);
	v->why = v->same_shape ? NULL : "its identities differ from the policy's";
	return 0;
fail:
	nftb_view_free(v);
	return rc;
}

/* One attempt: read, plan, send.  -ERESTART when the generation moved. */
static int attempt(struct nftb *nb, const struct nftm_table *t, const struct nftb_opts *opts,
		   struct nftb_result *res, unsigned n, struct diag_list *diags)
{
	struct nftb_view v;
	int rc;
	unsigned retries = res->retries;

	nftb_result_free(res);
	res->retries = retries;
	if ((rc = nftb_genid(nb, &res->genid)) < 0) {
		diag_error(diags, NULL, "cannot read the ruleset generation: %s", strerror(-rc));
		return rc;
	}
	if (!opts->force_full && nb->last && nb->last_genid == res->genid) {
		/* Nothing committed since our last apply: no need to read back. */
		if ((rc = model_view(nb->last, t, &v)) < 0) {
			diag_error(diags, NULL, "out of memory planning table inet %s", t->name);
			return rc;
		}
		res->cached = true;
	} else if ((rc = nftb_read(nb, t, &v)) < 0) {
		diag_error(diags, NULL, "cannot read table inet %s from the kernel: %s", t->name, strerror(-rc));
		return rc;
	}
	if (opts->force_full)
		for (size_t ci = 0; ci < t->nchains; ci++)
			v.rules_ok[ci] = false;
	res->existed = v.exists;
	res->full = !v.same_shape || opts->force_full;
	res->why_full = !v.same_shape ? v.why : opts->force_full ? "a rewrite was asked for" : NULL;
	res->ndelta = t->nsets;
	if (!(res->delta = calloc(t->nsets + 1, sizeof(*res->delta)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < t->nsets; i++) {
		/* A set made anew gets the whole model's set. */
		struct nftm_set empty = t->sets[i];
		empty.n = 0;
		const struct nftm_set *old = v.set_ok[i] ? &v.have->sets[i] : &empty;
		if ((rc = nftm_set_diff(v.have, old, t, &t->sets[i], &res->delta[i])) < 0)
			goto out;
		res->nadd += res->delta[i].nadd;
		res->ndel += res->delta[i].ndel;
	}
	res->changed = res->full || res->nadd || res->ndel;
	if (opts->before_send)
		opts->before_send(opts->hook_arg, n);
	if (!res->changed)
		goto out;

	bool early = false;
	for (size_t i = 0; i < t->nsets && !early; i++)
		early = early_set(t, &v, i);
	for (size_t ci = 0; ci < t->nchains && !early; ci++)
		early = early_chain(t, &v, ci);
	if (early && !opts->dry_run) {
		/* New identities first (put_phase1), then everything else,
		 * against the generation the first one made. */
		if ((rc = one_batch(nb, t, &v, res, opts, res->genid, 1, diags)) == 0)
			rc = one_batch(nb, t, &v, res, opts, res->genid + 1, 2, diags);
	} else {
		rc = one_batch(nb, t, &v, res, opts, res->genid, 3, diags);
	}
out:
	/* Remember what the kernel now holds (our model, one generation on
	 * per transaction), or forget: after a failure, read back. */
	nftm_free(nb->last);
	nb->last = NULL;
	if (rc == 0 && !opts->dry_run && !opts->once && (nb->last = table_copy(t)))
		nb->last_genid = res->genid + res->transactions;
	nftb_view_free(&v);
	return rc;
}

int nftb_apply(struct nftb *nb, const struct nftm_table *t, const struct nftb_opts *opts,
	       struct nftb_result *res, struct diag_list *diags)
{
	unsigned max = opts->max_retries ? opts->max_retries : NFTB_DEFAULT_RETRIES;
	int rc;
	memset(res, 0, sizeof(*res));
	for (unsigned n = 0;; n++) {
		rc = attempt(nb, t, opts, res, n, diags);
		if (rc != -ERESTART)
			break;
		if (res->retries >= max) {
			diag_error(diags, NULL,
				   "table inet %s: the ruleset kept changing under us (%u attempts); nothing applied",
				   t->name, res->retries + 1);
			break;
		}
		res->retries++;
	}
	return rc;
}

/* ---- monitor ---- */

struct nftb_monitor {
	struct mnl_socket *nl;
	char table[NFTM_NAME_MAX];
	uint32_t ignore;
};

struct nftb_monitor *nftb_monitor_open(const char *table, uint32_t ignore_portid)
{
	struct nftb_monitor *m = calloc(1, sizeof(*m));
	int err;
	if (!m)
		return NULL;
	snprintf(m->table, sizeof(m->table), "%s", table);
	m->ignore = ignore_portid;
	m->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!m->nl || mnl_socket_bind(m->nl, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		if (m->nl)
			mnl_socket_close(m->nl);
		free(m);
		errno = err;
		return NULL;
	}
	return m;
}

int nftb_monitor_fd(const struct nftb_monitor *m)
{
	return mnl_socket_get_fd(m->nl);
}

static const char *event_name(unsigned type)
{
	switch (type) {
	case NFT_MSG_NEWTABLE: return "table created";
	case NFT_MSG_DELTABLE: return "table deleted";
	case NFT_MSG_NEWCHAIN: return "chain created";
	case NFT_MSG_DELCHAIN: return "chain deleted";
	case NFT_MSG_NEWRULE: return "rule added";
	case NFT_MSG_DELRULE: return "rule deleted";
	case NFT_MSG_NEWSET: return "set created";
	case NFT_MSG_DELSET: return "set deleted";
	case NFT_MSG_NEWSETELEM: return "elements added";
	case NFT_MSG_DELSETELEM: return "elements deleted";
	}
	return NULL;
}

int nftb_monitor_read(struct nftb_monitor *m, int timeout_ms, char *what, size_t whatlen)
{
	char *buf = malloc(RECV_BYTES);
	int count = 0;
	if (!buf)
		return -ENOMEM;
	struct timespec t0, tn;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &tn);
		long spent = (tn.tv_sec - t0.tv_sec) * 1000 + (tn.tv_nsec - t0.tv_nsec) / 1000000;
		int wait = timeout_ms > spent ? (int)(timeout_ms - spent) : 0;
		struct pollfd p = { mnl_socket_get_fd(m->nl), POLLIN, 0 };
		int pr = poll(&p, 1, wait);
		if (pr <= 0)
			break;
		ssize_t got = recv(p.fd, buf, RECV_BYTES, 0);
		if (got < 0) {
			/* ENOBUFS: events were lost; say something changed. */
			if (errno == ENOBUFS) {
				count++;
				if (what)
					snprintf(what, whatlen, "events lost (ENOBUFS)");
				continue;
			}
			count = -errno;
			break;
		}
		int len = (int)got;
		for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			unsigned type = NFNL_MSG_TYPE(nlh->nlmsg_type);
			const char *ev = event_name(type);
			if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES || !ev ||
			    (m->ignore && nlh->nlmsg_pid == m->ignore))
				continue;
			const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
			if (g->nfgen_family != NFPROTO_INET)
				continue;
			/* Attribute 1 is the table's name in every one of these. */
			const struct nlattr *a;
			bool ours = false;
			mnl_attr_for_each(a, nlh, sizeof(*g))
				if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0 &&
				    strcmp(mnl_attr_get_str(a), m->table) == 0)
					ours = true;
			if (!ours)
				continue;
			count++;
			if (what)
				snprintf(what, whatlen, "%s in table inet %s by port %u", ev, m->table, nlh->nlmsg_pid);
		}
	}
	free(buf);
	return count;
}

void nftb_monitor_close(struct nftb_monitor *m)
{
	if (!m)
		return;
	mnl_socket_close(m->nl);
	free(m);
}
