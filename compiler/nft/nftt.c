/* nftt: print the model of keygate's table as an nft -f file. */
#include "nftt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const header_text =
	"# This file replaces one table, and only it: the first two commands create\n"
	"# the table if it is missing and delete it, so that loading this file with\n"
	"# `nft -f` swaps the old table for the new one in a single transaction.\n"
	"# It never flushes the ruleset and never touches another table.\n"
	"#\n"
	"# Traffic that arrives on the tunnel interface, to this node or to a route\n"
	"# it serves, passes only as the node's policy filter says: established and\n"
	"# related flows first, invalid ones dropped, then the source address picks\n"
	"# the sender's identity (map sources4/sources6) and the identity's chain\n"
	"# accepts the flows in its sets (destination . protocol . port, or\n"
	"# destination . protocol for protocols without ports and for any port);\n"
	"# everything else from the tunnel is dropped.  Every accept sets bit\n"
	"# 0x01000000 of the packet mark, which keygated's guard table requires of\n"
	"# what it forwards from the tunnel, and a new flow's accept sets it in the\n"
	"# connection's mark, which `aclc apply` reads to cut the open connections\n"
	"# a policy change no longer allows.  Traffic that does not\n"
	"# arrive on the tunnel is not this table's business (policy accept).\n"
	"# What is forwarded from the tunnel out of another interface (which the\n"
	"# filter lets through only to a served route) is masqueraded to that\n"
	"# interface's address (unless compiled with --no-snat).\n"
	"#\n"
	"# CAVEAT: an accept here is final only within this table's base chain.\n"
	"# Every table's chains on the same hook see the packet in priority order,\n"
	"# and a drop in any of them wins.  A drop here is final everywhere.\n"
	"#\n"
	"# An identity is a set of sources with exactly the same rights.  Per\n"
	"# packet: one map lookup by source, one jump, at most two lookups in that\n"
	"# identity's sets, whatever the size of the policy.  A device joining a\n"
	"# group moves its address to another identity: a map element or two.\n";

static unsigned be_uint(const uint8_t *p, size_t w)
{
	unsigned v = 0;
	for (size_t i = 0; i < w; i++)
		v = v << 8 | p[i];
	return v;
}

void nftt_range(char *buf, enum nftm_field f, const struct nftm_range *r)
{
	size_t w = nftm_field_width(f);
	if (f == NFTM_F_L4PROTO || f == NFTM_F_DPORT) {
		unsigned lo = be_uint(r->lo, w), hi = be_uint(r->hi, w);
		if (lo == hi)
			snprintf(buf, NFTT_RANGE_MAX, "%u", lo);
		else
			snprintf(buf, NFTT_RANGE_MAX, "%u-%u", lo, hi);
		return;
	}
	addr_u128 lo = 0, hi = 0;
	for (size_t i = 0; i < w; i++) {
		lo = lo << 8 | r->lo[i];
		hi = hi << 8 | r->hi[i];
	}
	char tmp[ADDR_RANGE_STRLEN];
	snprintf(buf, NFTT_RANGE_MAX, "%s", addr_range_format(w == 4 ? ADDR_V4 : ADDR_V6, lo, hi, tmp));
}

static const char *field_type(enum nftm_field f)
{
	switch (f) {
	case NFTM_F_SADDR4: case NFTM_F_DADDR4: return "ipv4_addr";
	case NFTM_F_SADDR6: case NFTM_F_DADDR6: return "ipv6_addr";
	case NFTM_F_L4PROTO: return "inet_proto";
	case NFTM_F_DPORT: return "inet_service";
	}
	return "?";
}

static const char *field_expr(enum nftm_field f)
{
	switch (f) {
	case NFTM_F_SADDR4: return "ip saddr";
	case NFTM_F_DADDR4: return "ip daddr";
	case NFTM_F_SADDR6: return "ip6 saddr";
	case NFTM_F_DADDR6: return "ip6 daddr";
	case NFTM_F_L4PROTO: return "meta l4proto";
	case NFTM_F_DPORT: return "th dport";
	}
	return "?";
}

static void print_key(FILE *out, const struct nftm_set *s, const char *(*name)(enum nftm_field))
{
	for (size_t i = 0; i < s->nkey; i++)
		fprintf(out, "%s%s", i ? " . " : "", name(s->key[i]));
}

static void print_set(FILE *out, const struct nftm_table *t, const struct nftm_set *s)
{
	if (s->comment)
		fprintf(out, "\t# %s: %zu element%s\n", s->comment, s->n, s->n == 1 ? "" : "s");
	fprintf(out, "\t%s %s {\n\t\ttype ", s->vmap ? "map" : "set", s->name);
	print_key(out, s, field_type);
	fprintf(out, "%s\n", s->vmap ? " : verdict" : "");
	if (s->flags & NFTM_SET_INTERVAL)
		fprintf(out, "\t\tflags interval\n");
	if (s->n) {
		fprintf(out, "\t\telements = {\n");
		for (size_t e = 0; e < s->n; e++) {
			fprintf(out, "\t\t\t");
			for (size_t i = 0; i < s->nkey; i++) {
				char buf[NFTT_RANGE_MAX];
				nftt_range(buf, s->key[i], &s->elems[e].k[i]);
				fprintf(out, "%s%s", i ? " . " : "", buf);
			}
			if (s->vmap)
				fprintf(out, " : jump %s", t->chains[s->elems[e].jump].name);
			fprintf(out, "%s\n", e + 1 < s->n ? "," : "");
		}
		fprintf(out, "\t\t}\n");
	}
	fprintf(out, "\t}\n\n");
}

static const char *hook_name(enum nftm_hook h)
{
	switch (h) {
	case NFTM_HOOK_INPUT: return "input";
	case NFTM_HOOK_FORWARD: return "forward";
	case NFTM_HOOK_POSTROUTING: return "postrouting";
	case NFTM_HOOK_NONE: break;
	}
	return "?";
}

static void print_priority(FILE *out, const struct nftm_chain *c)
{
	const char *base = c->type == NFTM_CHAIN_NAT ? "srcnat" : "filter";
	int off = c->priority - (c->type == NFTM_CHAIN_NAT ? 100 : 0);
	if (off == 0)
		fprintf(out, "%s", base);
	else
		fprintf(out, "%s %c %d", base, off < 0 ? '-' : '+', abs(off));
}

/* Every accept marks the packet for keygated's guard (NFTM_PASS_MARK);
 * a new flow's accept marks its connection too (NFTM_FLOW_MARK). */
#define PASS_TEXT "meta mark set meta mark | 0x01000000 accept"
#define ADMIT_TEXT "ct mark set ct mark | 0x01000000 " PASS_TEXT
_Static_assert(NFTM_PASS_MARK == 0x01000000u && NFTM_FLOW_MARK == 0x01000000u,
	       "PASS_TEXT and ADMIT_TEXT spell the marks");

/* T's fixed source NAT address for IPv4 (V4) or IPv6, as text in BUF
 * (ADDR_STRLEN bytes). */
static const char *snat_addr(const struct nftm_table *t, bool v4, char *buf)
{
	if (!inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? (const void *)t->snat_to.v4 : t->snat_to.v6, buf, ADDR_STRLEN))
		snprintf(buf, ADDR_STRLEN, "?");
	return buf;
}

static void print_rule(FILE *out, const struct nftm_table *t, const struct nftm_rule *r)
{
	if (r->comment)
		fprintf(out, "\t\t# %s\n", r->comment);
	fprintf(out, "\t\t");
	switch (r->kind) {
	case NFTM_R_IIF_JUMP:
		fprintf(out, "iifname \"%s\" jump %s", t->iface, t->chains[r->chain].name);
		break;
	case NFTM_R_CT_ACCEPT:
		fprintf(out, "ct state established,related " PASS_TEXT);
		break;
	case NFTM_R_CT_INVALID_DROP:
		fprintf(out, "ct state invalid drop");
		break;
	case NFTM_R_LOOKUP_ACCEPT:
		print_key(out, &t->sets[r->set], field_expr);
		fprintf(out, " @%s " ADMIT_TEXT, t->sets[r->set].name);
		break;
	case NFTM_R_VMAP:
		print_key(out, &t->sets[r->set], field_expr);
		fprintf(out, " vmap @%s", t->sets[r->set].name);
		break;
	case NFTM_R_DROP:
		fprintf(out, "drop");
		break;
	case NFTM_R_IIF_MASQ:
		fprintf(out, "iifname \"%s\" oifname != \"%s\" masquerade", t->iface, t->iface);
		break;
	case NFTM_R_IIF_SNAT4:
	case NFTM_R_IIF_SNAT6: {
		bool v4 = r->kind == NFTM_R_IIF_SNAT4;
		char a[ADDR_STRLEN];
		fprintf(out, "iifname \"%s\" oifname != \"%s\" meta nfproto %s snat %s to %s", t->iface, t->iface,
			v4 ? "ipv4" : "ipv6", v4 ? "ip" : "ip6", snat_addr(t, v4, a));
		break;
	}
	}
	fprintf(out, "\n");
}

static void print_chain(FILE *out, const struct nftm_table *t, const struct nftm_chain *c)
{
	fprintf(out, "\tchain %s {\n", c->name);
	if (c->hook != NFTM_HOOK_NONE) {
		fprintf(out, "\t\ttype %s hook %s priority ", c->type == NFTM_CHAIN_NAT ? "nat" : "filter",
			hook_name(c->hook));
		print_priority(out, c);
		fprintf(out, "; policy %s;\n", c->policy == NFTM_POLICY_DROP ? "drop" : "accept");
	}
	for (size_t i = 0; i < c->nrules; i++)
		print_rule(out, t, &c->rules[i]);
	fprintf(out, "\t}\n");
}

/* How many source ranges map to chain C. */
static size_t sources_of(const struct nftm_table *t, size_t c)
{
	size_t n = 0;
	for (int m = NFTM_SET_SOURCES4; m <= NFTM_SET_SOURCES6; m++)
		for (size_t e = 0; e < t->sets[m].n; e++)
			n += t->sets[m].elems[e].jump == c;
	return n;
}

int nftt_write(FILE *out, const struct nftm_table *t, const struct nftt_origin *origin)
{
	fprintf(out, "#!/usr/sbin/nft -f\n");
	fprintf(out, "# keygate: table inet %s", t->name);
	if (origin && origin->node)
		fprintf(out, " for node %s", origin->node);
	if (origin && origin->policy)
		fprintf(out, ", compiled by aclc from %s", origin->policy);
	char a4[ADDR_STRLEN], a6[ADDR_STRLEN], nat[3 * ADDR_STRLEN];
	if (!t->snat)
		snprintf(nat, sizeof(nat), "off");
	else if (!t->snat_to.has4 && !t->snat_to.has6)
		snprintf(nat, sizeof(nat), "on (masquerade)");
	else
		snprintf(nat, sizeof(nat), "on (IPv4 to %s, IPv6 to %s)",
			 t->snat_to.has4 ? snat_addr(t, true, a4) : "masquerade",
			 t->snat_to.has6 ? snat_addr(t, false, a6) : "masquerade");
	fprintf(out, "\n# tunnel interface %s, source NAT %s, %zu + %zu identities, %zu set elements.\n#\n",
		t->iface, nat, t->identities[0], t->identities[1], nftm_elem_count(t));
	fputs(header_text, out);
	fprintf(out, "\ntable inet %s\ndelete table inet %s\n\ntable inet %s {\n", t->name, t->name, t->name);
	/* Identities first: each one's sets, then its chain, so that every
	 * name is defined before the map that jumps to it. */
	for (size_t c = 0; c < t->nchains; c++) {
		const struct nftm_chain *ch = &t->chains[c];
		if (ch->fixed)
			continue;
		fprintf(out, "\t# identity %s: %zu source range%s\n", ch->name, sources_of(t, c),
			sources_of(t, c) == 1 ? "" : "s");
		for (size_t r = 0; r < ch->nrules; r++)
			print_set(out, t, &t->sets[ch->rules[r].set]);
		print_chain(out, t, ch);
		fprintf(out, "\n");
	}
	for (size_t i = 0; i < t->nsets; i++)
		if (t->sets[i].fixed)
			print_set(out, t, &t->sets[i]);
	for (size_t i = 0, first = 1; i < t->nchains; i++) {
		if (!t->chains[i].fixed)
			continue;
		if (!first)
			fprintf(out, "\n");
		first = 0;
		print_chain(out, t, &t->chains[i]);
	}
	fprintf(out, "}\n");
	return ferror(out) ? -EIO : 0;
}

int nftt_write_job(FILE *out, void *job)
{
	const struct nftt_job *j = job;
	return nftt_write(out, j->table, &j->origin);
}
