/* nftm: build the identity-first model of keygate's table from a node's
 * filter.  See nftm.h for the shape. */
#include "nftm.h"
#include "htab.h"
#include "mem.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t nftm_field_width(enum nftm_field f)
{
	switch (f) {
	case NFTM_F_SADDR4: case NFTM_F_DADDR4: return 4;
	case NFTM_F_SADDR6: case NFTM_F_DADDR6: return 16;
	case NFTM_F_L4PROTO: return 1;
	case NFTM_F_DPORT: return 2;
	}
	return 0;
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= NFTM_IFNAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		/* What the kernel allows in a name, minus what nft cannot quote. */
		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '/' || c == ':')
			return false;
	}
	return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int nftm_opts_check(const struct nftm_opts *opts, const char **why)
{
	const char *table = opts->table ? opts->table : NFTM_DEFAULT_TABLE;
	const char *iface = opts->iface ? opts->iface : NFTM_DEFAULT_IFACE;
	if (!name_ok(table, NFTM_NAME_MAX)) {
		*why = "table name must be a letter followed by letters, digits or '_' (at most 63)";
		return -EINVAL;
	}
	if (!ifname_ok(iface)) {
		*why = "interface name must be 1 to 15 printable characters without space, quote, '\\', '/' or ':'";
		return -EINVAL;
	}
	if (opts->no_snat && (opts->snat_to.has4 || opts->snat_to.has6)) {
		*why = "no source NAT and source NAT to an address exclude each other";
		return -EINVAL;
	}
	return 0;
}

int nftm_snat_to_parse(const char *text, struct nftm_snat_to *to, char *why, size_t whylen)
{
	char buf[2 * ADDR_STRLEN + 2];
	memset(to, 0, sizeof(*to));
	if (strlen(text) >= sizeof(buf)) {
		snprintf(why, whylen, "\"%.40s...\": at most one IPv4 and one IPv6 address", text);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", text);
	char *save = NULL;
	for (char *a = strtok_r(buf, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		enum addr_family fam;
		addr_u128 v;
		if (!addr_parse(a, &fam, &v)) {
			snprintf(why, whylen, "\"%s\" is not an IPv4 or IPv6 address", a);
			return -EINVAL;
		}
		bool *has = fam == ADDR_V4 ? &to->has4 : &to->has6;
		if (*has) {
			snprintf(why, whylen, "\"%s\": at most one address per family", text);
			return -EINVAL;
		}
		*has = true;
		addr_to_bytes(fam, v, fam == ADDR_V4 ? to->v4 : to->v6);
	}
	if (!to->has4 && !to->has6) {
		snprintf(why, whylen, "no address given");
		return -EINVAL;
	}
	return 0;
}

/* ---- sets and elements ---- */

int nftm_elem_cmp(const struct nftm_set *s, const struct nftm_elem *a, const struct nftm_elem *b)
{
	for (size_t i = 0; i < s->nkey; i++) {
		size_t w = nftm_field_width(s->key[i]);
		int c = memcmp(a->k[i].lo, b->k[i].lo, w);
		if (c)
			return c;
		c = memcmp(a->k[i].hi, b->k[i].hi, w);
		if (c)
			return c;
	}
	return 0;
}

int nftm_set_add(struct nftm_set *s, const struct nftm_elem *e)
{
	if (MEM_RESERVE(s->elems, s->cap, s->n + 1) < 0)
		return -ENOMEM;
	s->elems[s->n++] = *e;
	return 0;
}

/* qsort has no context argument: the set being sorted, for its key widths. */
static __thread const struct nftm_set *sort_set;

static int elem_qcmp(const void *a, const void *b)
{
	return nftm_elem_cmp(sort_set, a, b);
}

void nftm_set_finish(struct nftm_set *s)
{
	size_t sorted = 1;
	/* Often sorted already (a kernel dump of a set we filled in order). */
	while (sorted < s->n && nftm_elem_cmp(s, &s->elems[sorted - 1], &s->elems[sorted]) < 0)
		sorted++;
	if (sorted >= s->n)
		return;
	sort_set = s;
	qsort(s->elems, s->n, sizeof(*s->elems), elem_qcmp);
	sort_set = NULL;
	size_t out = 1;
	for (size_t i = 1; i < s->n; i++)
		if (nftm_elem_cmp(s, &s->elems[out - 1], &s->elems[i]) != 0)
			s->elems[out++] = s->elems[i];
	s->n = out;
}

const struct nftm_elem *nftm_set_match(const struct nftm_set *s, const uint8_t *const vals[NFTM_MAX_KEY])
{
	for (size_t e = 0; e < s->n; e++) {
		size_t i;
		for (i = 0; i < s->nkey; i++) {
			size_t w = nftm_field_width(s->key[i]);
			if (memcmp(vals[i], s->elems[e].k[i].lo, w) < 0 ||
			    memcmp(vals[i], s->elems[e].k[i].hi, w) > 0)
				break;
		}
		if (i == s->nkey)
			return &s->elems[e];
	}
	return NULL;
}

const struct nftm_set *nftm_set_find(const struct nftm_table *t, const char *name)
{
	for (size_t i = 0; i < t->nsets; i++)
		if (strcmp(t->sets[i].name, name) == 0)
			return &t->sets[i];
	return NULL;
}

/* ---- table construction ---- */

/* Append a zeroed set or chain; NULL on ENOMEM.  Pointers into the arrays
 * are not kept across these calls. */
static struct nftm_set *new_set(struct nftm_table *t)
{
	if (MEM_RESERVE(t->sets, t->capsets, t->nsets + 1) < 0)
		return NULL;
	struct nftm_set *s = &t->sets[t->nsets++];
	memset(s, 0, sizeof(*s));
	return s;
}

static struct nftm_chain *new_chain(struct nftm_table *t)
{
	if (MEM_RESERVE(t->chains, t->capchains, t->nchains + 1) < 0)
		return NULL;
	struct nftm_chain *c = &t->chains[t->nchains++];
	memset(c, 0, sizeof(*c));
	return c;
}

static void set_init(struct nftm_set *s, const char *name, const char *comment,
		     const enum nftm_field *key, size_t nkey, bool fixed)
{
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->comment = comment;
	memcpy(s->key, key, nkey * sizeof(*key));
	s->nkey = nkey;
	s->flags = NFTM_SET_INTERVAL;
	s->fixed = fixed;
}

static void add_rule(struct nftm_chain *c, enum nftm_rule_kind kind, size_t set, size_t chain,
		     const char *comment)
{
	struct nftm_rule *r = &c->rules[c->nrules++];
	r->kind = kind;
	r->set = set;
	r->chain = chain;
	r->comment = comment;
}

static const enum nftm_field k_s4[] = { NFTM_F_SADDR4 }, k_s6[] = { NFTM_F_SADDR6 };
static const enum nftm_field k_d4[] = { NFTM_F_DADDR4, NFTM_F_L4PROTO, NFTM_F_DPORT };
static const enum nftm_field k_d6[] = { NFTM_F_DADDR6, NFTM_F_L4PROTO, NFTM_F_DPORT };

/* The fixed part: input and forward send what comes from the tunnel to
 * from_tunnel, which sends each source to its identity; postrouting
 * masquerades what is forwarded from the tunnel out of another interface.
 * The filter lets through only traffic to the node itself or to a route it
 * serves, so that is exactly the traffic to served routes, with no set of
 * routes to keep in step: the sources maps are the only thing a policy
 * change switches (see nftb.h on how the kernel commits sets). */
static int make_fixed(struct nftm_table *t)
{
	for (int i = 0; i < NFTM_FIXED_SETS; i++)
		if (!new_set(t))
			return -ENOMEM;
	set_init(&t->sets[NFTM_SET_SOURCES4], "sources4", "IPv4 source ranges -> identity", k_s4, 1, true);
	set_init(&t->sets[NFTM_SET_SOURCES6], "sources6", "IPv6 source ranges -> identity", k_s6, 1, true);
	t->sets[NFTM_SET_SOURCES4].vmap = t->sets[NFTM_SET_SOURCES6].vmap = true;

	static const char *const names[] = { "input", "forward", "from_tunnel", "postrouting" };
	static const enum nftm_hook hooks[] = { NFTM_HOOK_INPUT, NFTM_HOOK_FORWARD, NFTM_HOOK_NONE,
						NFTM_HOOK_POSTROUTING };
	for (int i = 0; i < (t->snat ? 4 : 3); i++) {
		struct nftm_chain *c = new_chain(t);
		if (!c)
			return -ENOMEM;
		snprintf(c->name, sizeof(c->name), "%s", names[i]);
		c->hook = hooks[i];
		c->fixed = true;
	}
	add_rule(&t->chains[NFTM_CHAIN_INPUT], NFTM_R_IIF_JUMP, 0, NFTM_CHAIN_TUNNEL, NULL);
	add_rule(&t->chains[NFTM_CHAIN_FORWARD], NFTM_R_IIF_JUMP, 0, NFTM_CHAIN_TUNNEL, NULL);
	struct nftm_chain *c = &t->chains[NFTM_CHAIN_TUNNEL];
	add_rule(c, NFTM_R_CT_ACCEPT, 0, 0, NULL);
	add_rule(c, NFTM_R_CT_INVALID_DROP, 0, 0, NULL);
	add_rule(c, NFTM_R_VMAP, NFTM_SET_SOURCES4, 0, "each source to its identity's chain");
	add_rule(c, NFTM_R_VMAP, NFTM_SET_SOURCES6, 0, NULL);
	add_rule(c, NFTM_R_DROP, 0, 0, "the tunnel reaches only what the policy allows");
	if (t->snat) {
		c = &t->chains[NFTM_CHAIN_POSTROUTING];
		c->type = NFTM_CHAIN_NAT;
		c->priority = 100;
		/* Fixed addresses first; a family without one is masqueraded
		 * (each NAT statement ends the chain for its packet). */
		if (t->snat_to.has4)
			add_rule(c, NFTM_R_IIF_SNAT4, 0, 0, NULL);
		if (t->snat_to.has6)
			add_rule(c, NFTM_R_IIF_SNAT6, 0, 0, NULL);
		if (!t->snat_to.has4 || !t->snat_to.has6)
			add_rule(c, NFTM_R_IIF_MASQ, 0, 0, NULL);
	}
	return 0;
}

static void put_addr(struct nftm_range *r, enum addr_family fam, addr_u128 lo, addr_u128 hi)
{
	addr_to_bytes(fam, lo, r->lo);
	addr_to_bytes(fam, hi, r->hi);
}

static void put_u16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* ---- rights: what one source may reach ---- */

/* One flow of a rule, destination already clipped to the node. */
struct rflow {
	addr_u128 dlo, dhi;
	uint16_t plo, phi;
	uint8_t proto;
};

struct rvec {
	struct rflow *v;
	size_t n, cap;
};

static int rvec_push(struct rvec *r, const struct rflow *f)
{
	if (MEM_RESERVE(r->v, r->cap, r->n + 1) < 0)
		return -ENOMEM;
	r->v[r->n++] = *f;
	return 0;
}

static int u128_cmp(addr_u128 a, addr_u128 b)
{
	return a < b ? -1 : a > b;
}

static int rflow_cmp(const void *pa, const void *pb)
{
	const struct rflow *a = pa, *b = pb;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	int c = u128_cmp(a->dlo, b->dlo);
	return c ? c : a->plo < b->plo ? -1 : a->plo > b->plo;
}

static int cut_cmp(const void *pa, const void *pb)
{
	return u128_cmp(*(const addr_u128 *)pa, *(const addr_u128 *)pb);
}

/* ---- what an element costs the kernel ----
 *
 * The identities' sets are concatenations with intervals, which the kernel
 * keeps in its pipapo set type.  Inserting an element splits each field's
 * range into the prefixes (netmasks) that cover it and, for each prefix,
 * sets one bit per bucket it matches in every 8-bit group of the field
 * (256 buckets a group while the set is small): a group the prefix leaves
 * entirely open costs 256 bits, a fixed one 1.  A range like the end of an
 * IPv6 /64 past one host is ~64 prefixes of which most leave groups open;
 * repeated for each port range of a destination-major decomposition it
 * dominated the kernel's time (measured: 9,500 IPv6 elements cost the
 * kernel twice what 50,000 IPv4 ones did).  COST_* are in those bit
 * operations, measured here at ~2.5 ns each: a prefix (rule) costs ~0.26 us
 * besides its bits (the mapping table is reallocated for each while a field
 * has fewer than 512), an element ~1.1 us of its own (allocation, two
 * lookups for overlaps, the transaction). */
#define COST_ELEM 450u
#define COST_RULE 100u
#define PORT_BITS 16u

static addr_u128 low_ones(unsigned k)
{
	return k >= 128 ? ~(addr_u128)0 : ((addr_u128)1 << k) - 1;
}

/* One prefix of length P in a field of BITS bits. */
static uint64_t prefix_cost(unsigned bits, unsigned p)
{
	unsigned fixed = p / 8, part = p % 8, open = bits / 8 - fixed - (part ? 1 : 0);
	return fixed + (part ? 1u << (8 - part) : 0) + 256u * open + COST_RULE;
}

/* The prefixes covering [LO, HI] in a field of BITS bits. */
static uint64_t range_cost(addr_u128 lo, addr_u128 hi, unsigned bits)
{
	uint64_t c = 0;
	for (;;) {
		unsigned k = 0;
		while (k < bits && (lo & low_ones(k + 1)) == 0 && hi - lo >= low_ones(k + 1))
			k++;
		c += prefix_cost(bits, bits - k);
		addr_u128 last = lo + low_ones(k);
		if (last >= hi)
			return c;
		lo = last + 1;
	}
}

static uint64_t rights_cost(const struct rflow *v, size_t n, unsigned bits)
{
	uint64_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += COST_ELEM + range_cost(v[i].dlo, v[i].dhi, bits) + range_cost(v[i].plo, v[i].phi, PORT_BITS);
	return c;
}

/* A flow as a box on two axes: SWEEP, cut into slices, and MERGED, whose
 * ranges are joined within a slice.  Destination-major sweeps the
 * destination and merges ports; port-major the other way round. */
struct box2 {
	addr_u128 lo[2], hi[2];
};
enum { SWEEP, MERGED };

static int box_cmp_merged(const void *pa, const void *pb)
{
	const struct box2 *a = pa, *b = pb;
	return u128_cmp(a->lo[MERGED], b->lo[MERGED]);
}

static int box_cmp_sweep(const void *pa, const void *pb)
{
	const struct box2 *a = pa, *b = pb;
	return u128_cmp(a->lo[SWEEP], b->lo[SWEEP]);
}

/* The MERGED ranges of the N boxes of B, sorted, overlapping or adjacent
 * ones joined; returns how many remain. */
static size_t merge_ranges(struct box2 *b, size_t n)
{
	if (n == 0)
		return 0;
	qsort(b, n, sizeof(*b), box_cmp_merged);
	size_t out = 0;
	for (size_t i = 1; i < n; i++) {
		if (b[out].hi[MERGED] == ~(addr_u128)0 || b[i].lo[MERGED] <= b[out].hi[MERGED] + 1) {
			if (b[i].hi[MERGED] > b[out].hi[MERGED])
				b[out].hi[MERGED] = b[i].hi[MERGED];
		} else {
			b[++out] = b[i];
		}
	}
	return out + 1;
}

static bool same_ranges(const struct box2 *a, size_t na, const struct box2 *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].lo[MERGED] != b[i].lo[MERGED] || a[i].hi[MERGED] != b[i].hi[MERGED])
			return false;
	return true;
}

/* Scratch for decomposing N flows. */
struct canon {
	struct box2 *in, *act, *prev, *out;
	addr_u128 *cuts;
	size_t nout, capout;
	/* The boxes of the slice emitted last (indexes into OUT, in MERGED
	 * order) and where it ended: a slice right after it extends those
	 * of its boxes with the same MERGED range instead of starting new
	 * ones. */
	size_t *last, *cur, nlast;
	addr_u128 last_hi;
	bool have_last, oom;
	struct rvec dm, pm;
};

/* Emit slice [LO, HI] of the SWEEP axis with its merged ranges R[0..N):
 * a range the slice just before also had grows that box; the others are
 * new boxes.  Still a partition of the union, with fewer boxes than one a
 * slice: a route on TCP 443 cut around a host that also has TCP 22 stays
 * one box on 443. */
static void emit_slice(struct canon *cx, addr_u128 lo, addr_u128 hi, const struct box2 *r, size_t n)
{
	bool next_to = cx->have_last && cx->last_hi + 1 == lo;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		while (next_to && j < cx->nlast && cx->out[cx->last[j]].lo[MERGED] < r[i].lo[MERGED])
			j++;
		if (next_to && j < cx->nlast && cx->out[cx->last[j]].lo[MERGED] == r[i].lo[MERGED] &&
		    cx->out[cx->last[j]].hi[MERGED] == r[i].hi[MERGED]) {
			cx->out[cx->last[j]].hi[SWEEP] = hi;
			cx->cur[i] = cx->last[j];
			continue;
		}
		if (MEM_RESERVE(cx->out, cx->capout, cx->nout + 1) < 0) {
			cx->oom = true;
			return;
		}
		cx->cur[i] = cx->nout;
		struct box2 *o = &cx->out[cx->nout++];
		o->lo[SWEEP] = lo;
		o->hi[SWEEP] = hi;
		o->lo[MERGED] = r[i].lo[MERGED];
		o->hi[MERGED] = r[i].hi[MERGED];
	}
	size_t *t = cx->last;
	cx->last = cx->cur;
	cx->cur = t;
	cx->nlast = n;
	cx->last_hi = hi;
	cx->have_last = true;
}

/* Cut the SWEEP axis of CX->in[0..N) into maximal slices over which the
 * same MERGED ranges are active, and emit each slice's merged ranges into
 * CX->out (CX->oom when it cannot grow). */
static void sweep(struct canon *cx, size_t n)
{
	struct box2 *in = cx->in, *act = cx->act, *prev = cx->prev;
	addr_u128 *cuts = cx->cuts;
	size_t nc = 0, nprev = 0;
	qsort(in, n, sizeof(*in), box_cmp_sweep);
	for (size_t i = 0; i < n; i++) {
		cuts[nc++] = in[i].lo[SWEEP];
		if (in[i].hi[SWEEP] != ~(addr_u128)0)
			cuts[nc++] = in[i].hi[SWEEP] + 1;
	}
	qsort(cuts, nc, sizeof(*cuts), cut_cmp);
	addr_u128 run_lo = 0, run_hi = 0;
	bool have = false;
	cx->nout = 0;
	cx->have_last = false;
	for (size_t c = 0; c < nc; c++) {
		if (c && cuts[c] == cuts[c - 1])
			continue;
		addr_u128 at = cuts[c];
		size_t c2 = c + 1;
		while (c2 < nc && cuts[c2] == at)
			c2++;
		addr_u128 end = c2 < nc ? cuts[c2] - 1 : ~(addr_u128)0;
		size_t na = 0;
		/* IN is sorted by SWEEP start: boxes starting after AT cannot cover it. */
		for (size_t i = 0; i < n && in[i].lo[SWEEP] <= at; i++)
			if (in[i].hi[SWEEP] >= at)
				act[na++] = in[i];
		na = merge_ranges(act, na);
		if (have && na && run_hi + 1 == at && same_ranges(prev, nprev, act, na)) {
			run_hi = end;
			continue;
		}
		if (have)
			emit_slice(cx, run_lo, run_hi, prev, nprev);
		have = na > 0;
		memcpy(prev, act, na * sizeof(*act));
		nprev = na;
		run_lo = at;
		run_hi = end;
	}
	if (have)
		emit_slice(cx, run_lo, run_hi, prev, nprev);
}

/* One decomposition of one protocol's flows IN[0..N): destination-major
 * (PORT_MAJOR false) or port-major.  Appended to OUT, sorted. */
static int decompose(struct canon *cx, const struct rflow *in, size_t n, bool port_major, struct rvec *out)
{
	int dst = port_major ? MERGED : SWEEP, port = port_major ? SWEEP : MERGED;
	for (size_t i = 0; i < n; i++) {
		cx->in[i].lo[dst] = in[i].dlo;
		cx->in[i].hi[dst] = in[i].dhi;
		cx->in[i].lo[port] = in[i].plo;
		cx->in[i].hi[port] = in[i].phi;
	}
	sweep(cx, n);
	if (cx->oom)
		return -ENOMEM;
	size_t first = out->n;
	for (size_t i = 0; i < cx->nout; i++) {
		const struct box2 *b = &cx->out[i];
		struct rflow f = { .dlo = b->lo[dst], .dhi = b->hi[dst], .plo = (uint16_t)b->lo[port],
				   .phi = (uint16_t)b->hi[port], .proto = in[0].proto };
		if (rvec_push(out, &f) < 0)
			return -ENOMEM;
	}
	qsort(out->v + first, out->n - first, sizeof(*out->v), rflow_cmp);
	return 0;
}

static int rvec_append(struct rvec *out, const struct rvec *in)
{
	for (size_t i = 0; i < in->n; i++)
		if (rvec_push(out, &in->v[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* The canonical decomposition of the union of IN (N flows, reordered) for
 * an address field of BITS bits: by protocol, then by region (a maximal
 * run of destinations the protocol reaches without a gap), and within a
 * region whichever of two decompositions costs the kernel less (tie:
 * destination-major): destination-major (slices of destinations with the
 * same ports, ports merged) or port-major (slices of ports with the same
 * destinations, destinations merged).  Both are functions of the union, so
 * two filters that allow the same packets still get the same elements.
 * Appended to OUT, sorted.  0 or -ENOMEM. */
static int rights_canon(struct rflow *in, size_t n, unsigned bits, struct rvec *out)
{
	int rc = -ENOMEM;
	struct canon cx = { 0 };
	cx.cuts = malloc((2 * n + 1) * sizeof(*cx.cuts));
	cx.in = malloc((n + 1) * sizeof(*cx.in));
	cx.act = malloc((n + 1) * sizeof(*cx.act));
	cx.prev = malloc((n + 1) * sizeof(*cx.prev));
	cx.last = malloc((n + 1) * sizeof(*cx.last));
	cx.cur = malloc((n + 1) * sizeof(*cx.cur));
	if (!cx.cuts || !cx.in || !cx.act || !cx.prev || !cx.last || !cx.cur)
		goto out;
	qsort(in, n, sizeof(*in), rflow_cmp);
	for (size_t g = 0; g < n;) {
		/* A region: flows of one protocol whose destinations overlap or
		 * touch, in destination order. */
		size_t ge = g + 1;
		addr_u128 hi = in[g].dhi;
		while (ge < n && in[ge].proto == in[g].proto && (hi == ~(addr_u128)0 || in[ge].dlo <= hi + 1)) {
			if (in[ge].dhi > hi)
				hi = in[ge].dhi;
			ge++;
		}
		cx.dm.n = cx.pm.n = 0;
		if (decompose(&cx, in + g, ge - g, false, &cx.dm) < 0)
			goto out;
		const struct rvec *pick = &cx.dm;
		if (proto_has_ports(in[g].proto) && ge - g > 1) {
			if (decompose(&cx, in + g, ge - g, true, &cx.pm) < 0)
				goto out;
			if (rights_cost(cx.pm.v, cx.pm.n, bits) < rights_cost(cx.dm.v, cx.dm.n, bits))
				pick = &cx.pm;
		}
		if (rvec_append(out, pick) < 0)
			goto out;
		g = ge;
	}
	rc = 0;
out:
	free(cx.cuts);
	free(cx.in);
	free(cx.act);
	free(cx.prev);
	free(cx.last);
	free(cx.cur);
	free(cx.out);
	free(cx.dm.v);
	free(cx.pm.v);
	return rc;
}

/* In a sorted protocol set (destination . protocol), join elements with
 * the same destination and neighbouring protocol numbers: a rule for every
 * protocol is six elements (0-5, 7-16, ...), not 251. */
static void join_protocols(struct nftm_set *s)
{
	size_t w = nftm_field_width(s->key[0]), out = 0;
	for (size_t i = 1; i < s->n; i++) {
		struct nftm_elem *prev = &s->elems[out], *cur = &s->elems[i];
		if (!memcmp(prev->k[0].lo, cur->k[0].lo, w) && !memcmp(prev->k[0].hi, cur->k[0].hi, w) &&
		    prev->k[1].hi[0] + 1 == cur->k[1].lo[0])
			prev->k[1].hi[0] = cur->k[1].hi[0];
		else
			s->elems[++out] = *cur;
	}
	if (s->n)
		s->n = out + 1;
}

/* ---- identities ---- */

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t rights_hash(const struct rflow *v, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h = fnv(&v[i].dlo, sizeof(v[i].dlo), h);
		h = fnv(&v[i].dhi, sizeof(v[i].dhi), h);
		h = fnv(&v[i].plo, sizeof(v[i].plo), h);
		h = fnv(&v[i].phi, sizeof(v[i].phi), h);
		h = fnv(&v[i].proto, 1, h);
	}
	return h;
}

struct ident {
	struct rflow *rights;
	size_t n;
	uint64_t hash;
	size_t chain;               /* index in the table */
};

/* One family's worth of work. */
struct fam {
	enum addr_family f;
	/* clipped rules: source range and flow */
	addr_u128 *slo, *shi;
	struct rflow *fl;
	size_t n, cap;
	/* identities, and an index of them by the hash of their rights:
	 * SLOT[k] is an identity's index + 1 (0: empty), NSLOT a power of
	 * two, at least twice NIDS */
	struct ident *ids;
	size_t nids, capids;
	struct htab index;	/* the identities by their rights' hash */
};

/* Room for CAP rules in F.  0 or -ENOMEM. */
static int fam_reserve(struct fam *F, size_t cap)
{
	if (cap <= F->cap)
		return 0;
	addr_u128 *a = realloc(F->slo, cap * sizeof(*a));
	if (a)
		F->slo = a;
	addr_u128 *b = a ? realloc(F->shi, cap * sizeof(*b)) : NULL;
	if (b)
		F->shi = b;
	struct rflow *c = b ? realloc(F->fl, cap * sizeof(*c)) : NULL;
	if (!c)
		return -ENOMEM;
	F->fl = c;
	F->cap = cap;
	return 0;
}

static int fam_push(struct fam *F, addr_u128 slo, addr_u128 shi, const struct rflow *f)
{
	if (F->n == F->cap && fam_reserve(F, F->cap ? 2 * F->cap : 64) < 0)
		return -ENOMEM;
	F->slo[F->n] = slo;
	F->shi[F->n] = shi;
	F->fl[F->n++] = *f;
	return 0;
}

/* The first range of D (merged: sorted by family and address, disjoint)
 * of FAM that ends at or after LO. */
static size_t first_range(const struct addr_set *d, enum addr_family fam, addr_u128 lo)
{
	size_t a = 0, b = d->n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		const struct addr_range *r = &d->v[mid];
		if (r->family < fam || (r->family == fam && r->hi < lo))
			a = mid + 1;
		else
			b = mid;
	}
	return a;
}

/* Every rule of FLOWS of F's family, its destination clipped to DESTS. */
static int collect(struct fam *F, const struct ir_flows *flows, const struct addr_set *dests)
{
	/* Mostly one clipped rule per rule: no copying while growing. */
	if (fam_reserve(F, flows->nrules) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < flows->nrules; i++) {
		const struct ir_box *b = &flows->rules[i].box;
		if (b->family != F->f)
			continue;
		for (size_t j = first_range(dests, F->f, b->dst_lo);
		     j < dests->n && dests->v[j].family == F->f && dests->v[j].lo <= b->dst_hi; j++) {
			struct rflow f = {
				.dlo = dests->v[j].lo > b->dst_lo ? dests->v[j].lo : b->dst_lo,
				.dhi = dests->v[j].hi < b->dst_hi ? dests->v[j].hi : b->dst_hi,
				.plo = proto_has_ports(b->proto) ? b->port_lo : 0,
				.phi = proto_has_ports(b->proto) ? b->port_hi : 65535,
				.proto = b->proto,
			};
			if (fam_push(F, b->src_lo, b->src_hi, &f) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

static bool rights_equal(const struct rflow *a, const struct rflow *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].dlo != b[i].dlo || a[i].dhi != b[i].dhi || a[i].plo != b[i].plo || a[i].phi != b[i].phi ||
		    a[i].proto != b[i].proto)
			return false;
	return true;
}

/* The identity with rights R (canonical), made if new.  -1 on ENOMEM. */
static long ident_of(struct fam *F, struct rvec *r)
{
	uint64_t h = rights_hash(r->v, r->n);
	const struct htab *x = &F->index;
	for (size_t k = h & (x->cap - 1); x->cap && x->slot[k]; k = (k + 1) & (x->cap - 1)) {
		const struct ident *id = &F->ids[x->slot[k] - 1];
		if (id->hash == h && id->n == r->n && rights_equal(id->rights, r->v, r->n))
			return (long)x->slot[k] - 1;
	}
	if (htab_reserve(&F->index, F->ids, sizeof(*F->ids), offsetof(struct ident, hash)) < 0 ||
	    MEM_RESERVE(F->ids, F->capids, F->nids + 1) < 0)
		return -1;
	htab_put(&F->index, h, F->nids);
	struct ident *id = &F->ids[F->nids];
	id->rights = r->v;
	id->n = r->n;
	id->hash = h;
	memset(r, 0, sizeof(*r)); /* the identity owns the vector now */
	return (long)F->nids++;
}

/* Does right R need the port in its key?  Not for a protocol without
 * ports, nor for one whose every port is allowed: the destination .
 * protocol set says the same with one field less, which the kernel
 * inserts more cheaply (measured: 40,000 elements with port range
 * 0-65535 cost it 50 ms more than with one port). */
static bool by_port(const struct rflow *r)
{
	return proto_has_ports(r->proto) && !(r->plo == 0 && r->phi == 65535);
}

/* An index R with a key (a hash), sorted to find the Rs that share it: a
 * covered source range by what its rules allow, an identity by its name. */
struct rkey {
	uint64_t hash;
	size_t r;
};

static int rkey_cmp(const void *pa, const void *pb)
{
	const struct rkey *a = pa, *b = pb;
	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	return a->r < b->r ? -1 : a->r > b->r;
}

/* F's source addresses cut into elementary ranges: range R is
 * [cuts[R], cuts[R+1] - 1] (the last one to the family's end).  For each,
 * the rules covering it (LISTS[START[R]] .. + COVER[R]) and its identity
 * (IDENT[R], -1 when no rule covers it). */
struct ranges {
	addr_u128 *cuts;
	size_t n;
	size_t *cover, *start;
	uint32_t *lists;
	long *ident;
};

static void ranges_free(struct ranges *R)
{
	free(R->cuts);
	free(R->cover);
	free(R->start);
	free(R->lists);
	free(R->ident);
}

/* Every rule's source range starts a range, and so does the address after
 * it: the cuts, sorted, without repeats.  0 or -ENOMEM. */
static int ranges_cut(const struct fam *F, struct ranges *R)
{
	size_t n = 0, k = 0;
	R->cuts = malloc((2 * F->n + 1) * sizeof(*R->cuts));
	if (!R->cuts)
		return -ENOMEM;
	for (size_t i = 0; i < F->n; i++) {
		/* A filter's rules come a source at a time (one per protocol
		 * and destination): its cuts once, and less to sort. */
		if (i && F->slo[i] == F->slo[i - 1] && F->shi[i] == F->shi[i - 1])
			continue;
		R->cuts[n++] = F->slo[i];
		if (F->shi[i] != addr_family_max(F->f))
			R->cuts[n++] = F->shi[i] + 1;
	}
	qsort(R->cuts, n, sizeof(*R->cuts), cut_cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || R->cuts[i] != R->cuts[i - 1])
			R->cuts[k++] = R->cuts[i];
	R->n = k;
	return 0;
}

/* The rules covering each range: counted in a first pass, listed in a
 * second.  0 or -ENOMEM. */
static int ranges_cover(const struct fam *F, struct ranges *R)
{
	size_t total = 0;
	R->cover = calloc(R->n + 1, sizeof(*R->cover));
	R->start = calloc(R->n + 1, sizeof(*R->start));
	if (!R->cover || !R->start)
		return -ENOMEM;
	for (int pass = 0; pass < 2; pass++) {
		size_t first = 0;
		for (size_t i = 0; i < F->n; i++) {
			if (i == 0 || F->slo[i] != F->slo[i - 1])
				first = (size_t)((addr_u128 *)bsearch(&F->slo[i], R->cuts, R->n, sizeof(*R->cuts),
								      cut_cmp) - R->cuts);
			for (size_t r = first; r < R->n && R->cuts[r] <= F->shi[i]; r++) {
				if (pass == 0)
					R->cover[r]++;
				else
					R->lists[R->start[r] + R->cover[r]++] = (uint32_t)i;
			}
		}
		if (pass == 0) {
			for (size_t r = 0; r < R->n; r++) {
				R->start[r] = total;
				total += R->cover[r];
				R->cover[r] = 0;
			}
			R->lists = malloc((total + 1) * sizeof(*R->lists));
			if (!R->lists)
				return -ENOMEM;
		}
	}
	return 0;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

/* What the rules of range R allow, hashed by content: the sources of a
 * group each have rules of their own (one per source address in a filter)
 * with the same flows. */
static uint64_t list_hash(const struct fam *F, const struct ranges *R, size_t r)
{
	const uint32_t *l = &R->lists[R->start[r]];
	uint64_t h = R->cover[r];
	for (size_t i = 0; i < R->cover[r]; i++) {
		const struct rflow *f = &F->fl[l[i]];
		h = mix(mix(h, (uint64_t)f->dlo), (uint64_t)(f->dlo >> 64));
		h = mix(mix(h, (uint64_t)f->dhi), (uint64_t)(f->dhi >> 64));
		h = mix(h, (uint64_t)f->plo << 24 | (uint64_t)f->phi << 8 | f->proto);
	}
	return h;
}

static bool lists_equal(const struct fam *F, const struct ranges *R, size_t a, size_t b)
{
	if (R->cover[a] != R->cover[b])
		return false;
	const uint32_t *la = &R->lists[R->start[a]], *lb = &R->lists[R->start[b]];
	for (size_t i = 0; i < R->cover[a]; i++)
		if (la[i] != lb[i] && !rights_equal(&F->fl[la[i]], &F->fl[lb[i]], 1))
			return false;
	return true;
}

/* LEADER[r]: the first covered range whose rules allow what range R's do
 * (R itself when none before it does).  Sorting by content hash keeps
 * this linear-logarithmic in the ranges.  0 or -ENOMEM. */
static int ranges_leaders(const struct fam *F, const struct ranges *R, size_t *leader)
{
	struct rkey *k = malloc((R->n + 1) * sizeof(*k));
	size_t nk = 0;
	if (!k)
		return -ENOMEM;
	for (size_t r = 0; r < R->n; r++)
		if (R->cover[r])
			k[nk++] = (struct rkey){ list_hash(F, R, r), r };
	qsort(k, nk, sizeof(*k), rkey_cmp);
	for (size_t i = 0, run = 0; i < nk; i++) {
		/* Among the earlier ranges of equal hash (from RUN, in range
		 * order), the first with equal content; a collision just looks
		 * further. */
		if (k[i].hash != k[run].hash)
			run = i;
		size_t j = run;
		while (j < i && !lists_equal(F, R, k[j].r, k[i].r))
			j++;
		leader[k[i].r] = j < i ? leader[k[j].r] : k[i].r;
	}
	free(k);
	return 0;
}

/* The identity of each range: that of its list of rules' rights,
 * canonical, computed once for every set of ranges whose rules allow the
 * same (lists repeat), in range order so that identities keep the order
 * of their first sources.  0 or -ENOMEM. */
static int ranges_identify(struct fam *F, struct ranges *R)
{
	int rc = -ENOMEM;
	size_t *leader = malloc((R->n + 1) * sizeof(*leader));
	struct rflow *tmp = malloc((F->n + 1) * sizeof(*tmp));
	struct rvec rv = { 0 };
	R->ident = malloc((R->n + 1) * sizeof(*R->ident));
	if (!leader || !tmp || !R->ident || ranges_leaders(F, R, leader) < 0)
		goto out;
	for (size_t r = 0; r < R->n; r++) {
		R->ident[r] = -1;
		if (!R->cover[r])
			continue;
		if (leader[r] != r) {
			R->ident[r] = R->ident[leader[r]];
			continue;
		}
		const uint32_t *l = &R->lists[R->start[r]];
		for (size_t i = 0; i < R->cover[r]; i++)
			tmp[i] = F->fl[l[i]];
		rv.n = 0;
		if (rights_canon(tmp, R->cover[r], F->f == ADDR_V4 ? 32 : 128, &rv) < 0)
			goto out;
		if ((R->ident[r] = ident_of(F, &rv)) < 0)
			goto out;
	}
	rc = 0;
out:
	free(rv.v);
	free(tmp);
	free(leader);
	return rc;
}

/* Identity I's name, from a hash of its rights, so that the same rights
 * keep the same name from one compile to the next: "id4_" and 12 hex
 * digits, and "_I" after a hash collision. */
static void ident_name(const struct fam *F, size_t i, size_t earlier, char *base, size_t len)
{
	snprintf(base, len, "id%d_%012llx", F->f == ADDR_V4 ? 4 : 6, (unsigned long long)(F->ids[i].hash >> 16));
	while (earlier--)
		snprintf(base + strlen(base), len - strlen(base), "_%zu", i);
}

/* EARLIER[i]: how many identities before I have a name with I's hash (its
 * 48 bits), each of which adds "_I" to I's name.  0 or -ENOMEM. */
static int ident_collisions(const struct fam *F, size_t *earlier)
{
	struct rkey *k = malloc((F->nids + 1) * sizeof(*k));
	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < F->nids; i++)
		k[i] = (struct rkey){ F->ids[i].hash >> 16, i };
	qsort(k, F->nids, sizeof(*k), rkey_cmp);
	for (size_t i = 0; i < F->nids; i++)
		earlier[k[i].r] = i && k[i - 1].hash == k[i].hash ? earlier[k[i - 1].r] + 1 : 0;
	free(k);
	return 0;
}

/* The set of identity ID's rights keyed by port (PORTS: BASE_ports,
 * destination . protocol . port) or not (BASE_proto, destination .
 * protocol), in *SET its index in T, 0 when it has no such rights.  0 or
 * -ENOMEM. */
static int ident_set(struct nftm_table *t, enum addr_family f, const struct ident *id, const char *base, int ports,
		     size_t *set)
{
	struct nftm_set *s = NULL;
	*set = 0;
	for (size_t j = 0; j < id->n; j++) {
		if (by_port(&id->rights[j]) != (ports == 1))
			continue;
		if (!s) {
			if (!(s = new_set(t)))
				return -ENOMEM;
			char name[NFTM_NAME_MAX];
			snprintf(name, sizeof(name), "%s_%s", base, ports ? "ports" : "proto");
			set_init(s, name, NULL, f == ADDR_V4 ? k_d4 : k_d6, ports ? 3 : 2, false);
			*set = t->nsets - 1;
		}
		struct nftm_elem e;
		memset(&e, 0, sizeof(e));
		put_addr(&e.k[0], f, id->rights[j].dlo, id->rights[j].dhi);
		e.k[1].lo[0] = e.k[1].hi[0] = id->rights[j].proto;
		if (ports) {
			put_u16(e.k[2].lo, id->rights[j].plo);
			put_u16(e.k[2].hi, id->rights[j].phi);
		}
		if (nftm_set_add(s, &e) < 0)
			return -ENOMEM;
	}
	if (s) {
		nftm_set_finish(s);
		if (!ports)
			join_protocols(s);
	}
	return 0;
}

/* Identity I's sets and its chain, which looks them up.  0 or -ENOMEM. */
static int emit_identity(struct nftm_table *t, struct fam *F, size_t i, size_t earlier)
{
	struct ident *id = &F->ids[i];
	char base[32];
	size_t sets[2];
	ident_name(F, i, earlier, base, sizeof(base));
	for (int ports = 1; ports >= 0; ports--)
		if (ident_set(t, F->f, id, base, ports, &sets[ports]) < 0)
			return -ENOMEM;
	struct nftm_chain *c = new_chain(t);
	if (!c)
		return -ENOMEM;
	snprintf(c->name, sizeof(c->name), "%s", base);
	for (int ports = 1; ports >= 0; ports--)
		if (sets[ports])
			add_rule(c, NFTM_R_LOOKUP_ACCEPT, sets[ports], 0, NULL);
	id->chain = t->nchains - 1;
	return 0;
}

/* The source map: maximal runs of ranges with the same identity, each
 * jumping to its chain.  0 or -ENOMEM. */
static int emit_source_map(struct nftm_table *t, const struct fam *F, const struct ranges *R)
{
	struct nftm_set *map = &t->sets[F->f == ADDR_V4 ? NFTM_SET_SOURCES4 : NFTM_SET_SOURCES6];
	for (size_t r = 0; r < R->n;) {
		if (R->ident[r] < 0) {
			r++;
			continue;
		}
		size_t e = r + 1;
		while (e < R->n && R->ident[e] == R->ident[r])
			e++;
		struct nftm_elem el;
		memset(&el, 0, sizeof(el));
		put_addr(&el.k[0], F->f, R->cuts[r], e < R->n ? R->cuts[e] - 1 : addr_family_max(F->f));
		el.jump = F->ids[R->ident[r]].chain;
		if (nftm_set_add(map, &el) < 0)
			return -ENOMEM;
		r = e;
	}
	nftm_set_finish(map);
	return 0;
}

/* Cut the sources of F's rules into elementary ranges, find each range's
 * identity, and emit the identities' chains and sets and the source map.
 * 0 or -ENOMEM. */
static int build_family(struct nftm_table *t, struct fam *F)
{
	struct ranges R = { 0 };
	size_t *earlier = NULL;
	int rc;
	if ((rc = ranges_cut(F, &R)) < 0)
		goto out;
	if ((rc = ranges_cover(F, &R)) < 0)
		goto out;
	if ((rc = ranges_identify(F, &R)) < 0)
		goto out;
	if (!(earlier = malloc((F->nids + 1) * sizeof(*earlier))) || (rc = ident_collisions(F, earlier)) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < F->nids; i++)
		if ((rc = emit_identity(t, F, i, earlier[i])) < 0)
			goto out;
	t->identities[F->f == ADDR_V4 ? 0 : 1] = F->nids;
	rc = emit_source_map(t, F, &R);
out:
	free(earlier);
	ranges_free(&R);
	return rc;
}

static void fam_free(struct fam *F)
{
	for (size_t i = 0; i < F->nids; i++)
		free(F->ids[i].rights);
	free(F->ids);
	htab_free(&F->index);
	free(F->slo);
	free(F->shi);
	free(F->fl);
}

struct nftm_table *nftm_build(const struct nftm_opts *opts, const struct nftm_node *node,
			      const struct ir_flows *flows)
{
	const char *why;
	struct addr_set dests = { 0 };
	struct fam fams[2] = { { .f = ADDR_V4 }, { .f = ADDR_V6 } };
	struct nftm_table *t = NULL;
	int err = 0;

	if (nftm_opts_check(opts, &why) < 0) {
		err = EINVAL;
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		err = ENOMEM;
		goto out;
	}
	snprintf(t->name, sizeof(t->name), "%s", opts->table ? opts->table : NFTM_DEFAULT_TABLE);
	snprintf(t->iface, sizeof(t->iface), "%s", opts->iface ? opts->iface : NFTM_DEFAULT_IFACE);
	t->snat = !opts->no_snat;
	if (t->snat)
		t->snat_to = opts->snat_to;
	if (make_fixed(t) < 0 ||
	    (node->self && addr_set_add_all(&dests, node->self) < 0) ||
	    (node->routes && addr_set_add_all(&dests, node->routes) < 0)) {
		err = ENOMEM;
		goto out;
	}
	addr_set_merge(&dests);
	for (int f = 0; f < 2; f++)
		if (collect(&fams[f], flows, &dests) < 0 || build_family(t, &fams[f]) < 0) {
			err = ENOMEM;
			goto out;
		}
out:
	fam_free(&fams[0]);
	fam_free(&fams[1]);
	addr_set_free(&dests);
	if (err) {
		nftm_free(t);
		errno = err;
		return NULL;
	}
	return t;
}

void nftm_free(struct nftm_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nsets; i++)
		free(t->sets[i].elems);
	free(t->sets);
	free(t->chains);
	free(t);
}

bool nftm_eval(const struct nftm_table *t, enum addr_family family, unsigned proto, addr_u128 src,
	       addr_u128 dst, unsigned dport)
{
	uint8_t s[16], d[16], p = (uint8_t)proto, port[2];
	addr_to_bytes(family, src, s);
	addr_to_bytes(family, dst, d);
	put_u16(port, dport);
	const uint8_t *svals[NFTM_MAX_KEY] = { s };
	const struct nftm_elem *e =
		nftm_set_match(&t->sets[family == ADDR_V4 ? NFTM_SET_SOURCES4 : NFTM_SET_SOURCES6], svals);
	if (!e)
		return false;
	const struct nftm_chain *c = &t->chains[e->jump];
	const uint8_t *dvals[NFTM_MAX_KEY] = { d, &p, port };
	for (size_t r = 0; r < c->nrules; r++) {
		const struct nftm_set *set = &t->sets[c->rules[r].set];
		/* `th dport` reads a port only where the protocol has one; the
		 * protocol set's key stops before it. */
		if (set->nkey == 3 && !proto_has_ports(proto))
			continue;
		if (nftm_set_match(set, dvals))
			return true;
	}
	return false;
}

bool nftm_same_shape(const struct nftm_table *a, const struct nftm_table *b)
{
	if (strcmp(a->name, b->name) || strcmp(a->iface, b->iface) || a->snat != b->snat ||
	    memcmp(&a->snat_to, &b->snat_to, sizeof(a->snat_to)) ||
	    a->nchains != b->nchains || a->nsets != b->nsets)
		return false;
	for (size_t i = 0; i < a->nsets; i++) {
		const struct nftm_set *x = &a->sets[i], *y = &b->sets[i];
		if (strcmp(x->name, y->name) || x->nkey != y->nkey || x->flags != y->flags || x->vmap != y->vmap ||
		    memcmp(x->key, y->key, x->nkey * sizeof(x->key[0])))
			return false;
	}
	for (size_t i = 0; i < a->nchains; i++) {
		const struct nftm_chain *x = &a->chains[i], *y = &b->chains[i];
		if (strcmp(x->name, y->name) || x->hook != y->hook || x->type != y->type ||
		    x->priority != y->priority || x->policy != y->policy || x->nrules != y->nrules)
			return false;
		for (size_t r = 0; r < x->nrules; r++)
			if (x->rules[r].kind != y->rules[r].kind ||
			    strcmp(a->sets[x->rules[r].set].name, b->sets[y->rules[r].set].name) ||
			    strcmp(a->chains[x->rules[r].chain].name, b->chains[y->rules[r].chain].name))
				return false;
	}
	return true;
}

/* Identity chain A of TA and chain B of TB allow the same: the same
 * name, and sets with the same keys and elements. */
bool nftm_same_identity(const struct nftm_table *ta, size_t a, const struct nftm_table *tb, size_t b)
{
	const struct nftm_chain *x = &ta->chains[a], *y = &tb->chains[b];
	if (strcmp(x->name, y->name) || x->nrules != y->nrules)
		return false;
	for (size_t r = 0; r < x->nrules; r++) {
		const struct nftm_set *s = &ta->sets[x->rules[r].set], *u = &tb->sets[y->rules[r].set];
		if (x->rules[r].kind != y->rules[r].kind || s->nkey != u->nkey || s->n != u->n ||
		    memcmp(s->key, u->key, s->nkey * sizeof(s->key[0])))
			return false;
		for (size_t e = 0; e < s->n; e++)
			if (nftm_elem_cmp(s, &s->elems[e], &u->elems[e]))
				return false;
	}
	return true;
}

addr_u128 nftm_be_value(const uint8_t *p, size_t w)
{
	addr_u128 v = 0;
	for (size_t i = 0; i < w; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Every range of map OLD (of TOLD) covered, without a gap, by ranges of
 * map NEW_ (of TNEW) jumping to an identity that allows the same. */
static bool map_admits_all(const struct nftm_table *tnew, const struct nftm_set *new_,
			   const struct nftm_table *told, const struct nftm_set *old)
{
	size_t w = nftm_field_width(old->key[0]), j = 0;
	/* The last pair of identities found alike: neighbouring ranges
	 * mostly repeat it, and comparing costs their elements. */
	size_t same_a = SIZE_MAX, same_b = SIZE_MAX;
	for (size_t i = 0; i < old->n; i++) {
		addr_u128 at = nftm_be_value(old->elems[i].k[0].lo, w), hi = nftm_be_value(old->elems[i].k[0].hi, w);
		while (j < new_->n && nftm_be_value(new_->elems[j].k[0].hi, w) < at)
			j++;
		for (;;) {
			if (j == new_->n || nftm_be_value(new_->elems[j].k[0].lo, w) > at)
				return false;
			size_t a = old->elems[i].jump, b = new_->elems[j].jump;
			if ((a != same_a || b != same_b) && !nftm_same_identity(told, a, tnew, b))
				return false;
			same_a = a;
			same_b = b;
			addr_u128 end = nftm_be_value(new_->elems[j].k[0].hi, w);
			if (end >= hi)
				break;
			at = end + 1;
			j++;
		}
	}
	return true;
}

bool nftm_admits_all(const struct nftm_table *new_, const struct nftm_table *old)
{
	for (int m = NFTM_SET_SOURCES4; m <= NFTM_SET_SOURCES6; m++)
		if (!map_admits_all(new_, &new_->sets[m], old, &old->sets[m]))
			return false;
	return true;
}

static int delta_push(struct nftm_elem **arr, size_t *n, const struct nftm_elem *e)
{
	/* Grow by doubling whenever N reaches a power of two. */
	if ((*n & (*n - 1)) == 0) {
		size_t cap = *n ? 2 * *n : 1;
		struct nftm_elem *a = realloc(*arr, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		*arr = a;
	}
	(*arr)[(*n)++] = *e;
	return 0;
}

int nftm_set_diff(const struct nftm_table *told, const struct nftm_set *old, const struct nftm_table *tnew,
		  const struct nftm_set *new_, struct nftm_delta *d)
{
	size_t i = 0, j = 0;
	memset(d, 0, sizeof(*d));
	while (i < old->n || j < new_->n) {
		int c = i == old->n ? 1 : j == new_->n ? -1 : nftm_elem_cmp(old, &old->elems[i], &new_->elems[j]);
		if (c == 0 && old->vmap &&
		    strcmp(told->chains[old->elems[i].jump].name, tnew->chains[new_->elems[j].jump].name)) {
			/* same key, another identity: delete and add */
			if (delta_push(&d->del, &d->ndel, &old->elems[i++]) < 0 ||
			    delta_push(&d->add, &d->nadd, &new_->elems[j++]) < 0)
				goto nomem;
			continue;
		}
		int rc = 0;
		if (c < 0)
			rc = delta_push(&d->del, &d->ndel, &old->elems[i++]);
		else if (c > 0)
			rc = delta_push(&d->add, &d->nadd, &new_->elems[j++]);
		else
			i++, j++;
		if (rc < 0)
			goto nomem;
	}
	return 0;
nomem:
	nftm_delta_free(d);
	return -ENOMEM;
}

void nftm_delta_free(struct nftm_delta *d)
{
	free(d->add);
	free(d->del);
	memset(d, 0, sizeof(*d));
}

size_t nftm_elem_count(const struct nftm_table *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->nsets; i++)
		n += t->sets[i].n;
	return n;
}

/* ---- one host's rights changed in place (nftm_move_host) ---- */

static ssize_t chain_find(const struct nftm_table *t, const char *name)
{
	for (size_t i = 0; i < t->nchains; i++)
		if (strcmp(t->chains[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* Copy identity chain C of FROM, with its sets, into T: its index there,
 * or -1 on ENOMEM. */
static ssize_t copy_identity(struct nftm_table *t, enum addr_family f, const struct nftm_table *from, size_t c)
{
	const struct nftm_chain *src = &from->chains[c];
	size_t sets[NFTM_MAX_RULES];
	for (size_t r = 0; r < src->nrules; r++) {
		const struct nftm_set *u = &from->sets[src->rules[r].set];
		struct nftm_set *s = new_set(t);
		if (!s)
			return -1;
		*s = *u;
		s->elems = malloc((u->n + 1) * sizeof(*s->elems));
		if (!s->elems) {
			t->nsets--;
			return -1;
		}
		memcpy(s->elems, u->elems, u->n * sizeof(*s->elems));
		s->cap = u->n + 1;
		sets[r] = t->nsets - 1;
	}
	struct nftm_chain *d = new_chain(t);
	if (!d)
		return -1;
	*d = *src;
	for (size_t r = 0; r < d->nrules; r++)
		d->rules[r].set = sets[r];
	t->identities[f == ADDR_V4 ? 0 : 1]++;
	return (ssize_t)t->nchains - 1;
}

/* Delete identity chain C of T and its sets; every index after them moves
 * down one (rules' sets and chains, source map jumps). */
static void drop_identity(struct nftm_table *t, enum addr_family f, size_t c)
{
	const struct nftm_chain *ch = &t->chains[c];
	size_t gone[NFTM_MAX_RULES], ngone = ch->nrules;
	for (size_t r = 0; r < ngone; r++)
		gone[r] = ch->rules[r].set;
	memmove(&t->chains[c], &t->chains[c + 1], (t->nchains - c - 1) * sizeof(*t->chains));
	t->nchains--;
	for (size_t i = 0; i < t->nchains; i++)
		for (size_t r = 0; r < t->chains[i].nrules; r++)
			t->chains[i].rules[r].chain -= t->chains[i].rules[r].chain > c;
	for (int m = NFTM_SET_SOURCES4; m <= NFTM_SET_SOURCES6; m++)
		for (size_t e = 0; e < t->sets[m].n; e++)
			t->sets[m].elems[e].jump -= t->sets[m].elems[e].jump > c;
	for (size_t k = 0; k < ngone; k++) {
		size_t s = gone[k];
		free(t->sets[s].elems);
		memmove(&t->sets[s], &t->sets[s + 1], (t->nsets - s - 1) * sizeof(*t->sets));
		t->nsets--;
		for (size_t j = k + 1; j < ngone; j++)
			gone[j] -= gone[j] > s;
		for (size_t i = 0; i < t->nchains; i++)
			for (size_t r = 0; r < t->chains[i].nrules; r++)
				t->chains[i].rules[r].set -= t->chains[i].rules[r].set > s;
	}
	t->identities[f == ADDR_V4 ? 0 : 1]--;
}

/* The first range of map S ending at AT or later (S->n: none). */
static size_t first_ending(const struct nftm_set *s, addr_u128 at)
{
	size_t w = nftm_field_width(s->key[0]), a = 0, b = s->n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (nftm_be_value(s->elems[mid].k[0].hi, w) < at)
			a = mid + 1;
		else
			b = mid;
	}
	return a;
}

/* A source range and where it jumps. */
struct seg {
	addr_u128 lo, hi;
	size_t jump;
};

/* Append [LO, HI] -> JUMP to V (N of at most 5), joined to the last one
 * when they touch and jump alike: the map's ranges stay maximal. */
static void seg_push(struct seg *v, size_t *n, addr_u128 lo, addr_u128 hi, size_t jump)
{
	if (*n && v[*n - 1].jump == jump && v[*n - 1].hi + 1 == lo)
		v[*n - 1].hi = hi;
	else
		v[(*n)++] = (struct seg){ lo, hi, jump };
}

/* Replace the ranges of map S around HOST (those that hold HOST - 1, HOST
 * or HOST + 1: nothing further can join) by the same with HOST jumping to
 * JUMP (SIZE_MAX: nowhere).  0 or -ENOMEM. */
static int repaint(struct nftm_set *s, enum addr_family f, addr_u128 host, size_t jump)
{
	size_t w = nftm_field_width(s->key[0]), n = 0, i1;
	addr_u128 from = host ? host - 1 : 0, to = host == addr_family_max(f) ? host : host + 1;
	size_t i0 = first_ending(s, from);
	for (i1 = i0; i1 < s->n && nftm_be_value(s->elems[i1].k[0].lo, w) <= to; i1++)
		;
	struct seg v[5];
	bool placed = jump == SIZE_MAX;
	for (size_t i = i0; i < i1; i++) {
		addr_u128 lo = nftm_be_value(s->elems[i].k[0].lo, w), hi = nftm_be_value(s->elems[i].k[0].hi, w);
		if (!placed && host < lo) {
			seg_push(v, &n, host, host, jump);
			placed = true;
		}
		if (lo < host)
			seg_push(v, &n, lo, hi < host ? hi : host - 1, s->elems[i].jump);
		if (!placed && lo <= host && host <= hi) {
			seg_push(v, &n, host, host, jump);
			placed = true;
		}
		if (hi > host)
			seg_push(v, &n, lo > host ? lo : host + 1, hi, s->elems[i].jump);
	}
	if (!placed)
		seg_push(v, &n, host, host, jump);
	if (n > i1 - i0 && MEM_RESERVE(s->elems, s->cap, s->n + n - (i1 - i0)) < 0)
		return -ENOMEM;
	memmove(&s->elems[i0 + n], &s->elems[i1], (s->n - i1) * sizeof(*s->elems));
	s->n = s->n + n - (i1 - i0);
	for (size_t k = 0; k < n; k++) {
		struct nftm_elem *e = &s->elems[i0 + k];
		memset(e, 0, sizeof(*e));
		put_addr(&e->k[0], f, v[k].lo, v[k].hi);
		e->jump = v[k].jump;
	}
	return 0;
}

/* Where HOST jumps in map S: a chain index, or SIZE_MAX. */
static size_t jump_of(const struct nftm_set *s, addr_u128 host)
{
	size_t a = first_ending(s, host);
	return a < s->n && nftm_be_value(s->elems[a].k[0].lo, nftm_field_width(s->key[0])) <= host ? s->elems[a].jump
												 : SIZE_MAX;
}

static bool jumped_to(const struct nftm_set *s, size_t chain)
{
	for (size_t e = 0; e < s->n; e++)
		if (s->elems[e].jump == chain)
			return true;
	return false;
}

int nftm_move_host(struct nftm_table *t, const struct nftm_table *rights, enum addr_family f, addr_u128 host)
{
	int m = f == ADDR_V4 ? NFTM_SET_SOURCES4 : NFTM_SET_SOURCES6;
	const struct nftm_set *r = &rights->sets[m];
	size_t old = jump_of(&t->sets[m], host), now = SIZE_MAX;
	size_t w = nftm_field_width(r->key[0]);
	if (r->n > 1 || (r->n && (nftm_be_value(r->elems[0].k[0].lo, w) != host ||
				  nftm_be_value(r->elems[0].k[0].hi, w) != host)))
		return 1;	/* not the rights of HOST alone */
	if (r->n) {
		ssize_t c = chain_find(t, rights->chains[r->elems[0].jump].name);
		if (c >= 0 && !nftm_same_identity(t, (size_t)c, rights, r->elems[0].jump))
			return 1;	/* a name shared by two identities: left to a full build */
		if (c < 0 && (c = copy_identity(t, f, rights, r->elems[0].jump)) < 0)
			return -ENOMEM;
		now = (size_t)c;
	}
	if (now == old)
		return 0;
	if (repaint(&t->sets[m], f, host, now) < 0)
		return -ENOMEM;
	if (old != SIZE_MAX && !jumped_to(&t->sets[m], old))
		drop_identity(t, f, old);
	return 0;
}

/* Chain or set NAME's index in T, or -1. */
static ssize_t set_index(const struct nftm_table *t, const char *name)
{
	const struct nftm_set *s = nftm_set_find(t, name);
	return s ? s - t->sets : -1;
}

static bool sets_equal(const struct nftm_table *a, const struct nftm_set *x, const struct nftm_table *b,
		       const struct nftm_set *y)
{
	if (x->nkey != y->nkey || x->flags != y->flags || x->vmap != y->vmap || x->fixed != y->fixed ||
	    x->n != y->n || memcmp(x->key, y->key, x->nkey * sizeof(x->key[0])))
		return false;
	for (size_t e = 0; e < x->n; e++)
		if (nftm_elem_cmp(x, &x->elems[e], &y->elems[e]) ||
		    (x->vmap && strcmp(a->chains[x->elems[e].jump].name, b->chains[y->elems[e].jump].name)))
			return false;
	return true;
}

bool nftm_rules_equal(const struct nftm_table *a, const struct nftm_chain *x, const struct nftm_table *b,
		      const struct nftm_chain *y)
{
	if (x->nrules != y->nrules)
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

static bool chains_equal(const struct nftm_table *a, const struct nftm_chain *x, const struct nftm_table *b,
			 const struct nftm_chain *y)
{
	return x->hook == y->hook && x->type == y->type && x->priority == y->priority && x->policy == y->policy &&
	       x->fixed == y->fixed && nftm_rules_equal(a, x, b, y);
}

bool nftm_equal(const struct nftm_table *a, const struct nftm_table *b)
{
	if (strcmp(a->name, b->name) || strcmp(a->iface, b->iface) || a->snat != b->snat ||
	    memcmp(&a->snat_to, &b->snat_to, sizeof(a->snat_to)) || a->nchains != b->nchains ||
	    a->nsets != b->nsets || memcmp(a->identities, b->identities, sizeof(a->identities)))
		return false;
	for (size_t i = 0; i < a->nchains; i++) {
		ssize_t j = chain_find(b, a->chains[i].name);
		if (j < 0 || !chains_equal(a, &a->chains[i], b, &b->chains[j]))
			return false;
	}
	for (size_t i = 0; i < a->nsets; i++) {
		ssize_t j = set_index(b, a->sets[i].name);
		if (j < 0 || !sets_equal(a, &a->sets[i], b, &b->sets[j]))
			return false;
	}
	return true;
}
