/* nftm: build the model of keygate's table from a node's filter. */
#include "nftm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned port_protos[] = { 6, 17, 33, 132, 136 };

bool nftm_proto_has_ports(unsigned proto)
{
	for (size_t i = 0; i < sizeof(port_protos) / sizeof(port_protos[0]); i++)
		if (port_protos[i] == proto)
			return true;
	return false;
}

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
	return 0;
}

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
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct nftm_elem *el = realloc(s->elems, cap * sizeof(*el));
		if (!el)
			return -ENOMEM;
		s->elems = el;
		s->cap = cap;
	}
	s->elems[s->n++] = *e;
	return 0;
}

/* qsort has no context argument; the widths of a set's key are few, so the
 * comparator reads them from here while one sort runs. */
static __thread const struct nftm_set *sort_set;

static int elem_qcmp(const void *a, const void *b)
{
	return nftm_elem_cmp(sort_set, a, b);
}

void nftm_set_finish(struct nftm_set *s)
{
	if (s->n < 2)
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

bool nftm_set_match(const struct nftm_set *s, const uint8_t *const vals[NFTM_MAX_KEY])
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
			return true;
	}
	return false;
}

static void set_init(struct nftm_set *s, const char *name, const char *comment,
		     const enum nftm_field *key, size_t nkey)
{
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->comment = comment;
	memcpy(s->key, key, nkey * sizeof(*key));
	s->nkey = nkey;
	s->flags = NFTM_SET_INTERVAL;
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

/* Chains: input and forward send what comes from the tunnel to one regular
 * chain that holds the whole filter; postrouting masquerades forwarded
 * tunnel traffic to served routes. */
enum { CH_INPUT, CH_FORWARD, CH_TUNNEL, CH_POSTROUTING };

static void make_shape(struct nftm_table *t)
{
	static const enum nftm_field k4p[] = { NFTM_F_SADDR4, NFTM_F_DADDR4, NFTM_F_L4PROTO, NFTM_F_DPORT };
	static const enum nftm_field k6p[] = { NFTM_F_SADDR6, NFTM_F_DADDR6, NFTM_F_L4PROTO, NFTM_F_DPORT };
	static const enum nftm_field d4[] = { NFTM_F_DADDR4 }, d6[] = { NFTM_F_DADDR6 };
	set_init(&t->sets[NFTM_SET_ALLOW4_PORTS], "allow4_ports",
		 "IPv4 flows with ports: source . destination . protocol . port", k4p, 4);
	set_init(&t->sets[NFTM_SET_ALLOW4_PROTO], "allow4_proto",
		 "IPv4 flows of protocols without ports: source . destination . protocol", k4p, 3);
	set_init(&t->sets[NFTM_SET_ALLOW6_PORTS], "allow6_ports",
		 "IPv6 flows with ports: source . destination . protocol . port", k6p, 4);
	set_init(&t->sets[NFTM_SET_ALLOW6_PROTO], "allow6_proto",
		 "IPv6 flows of protocols without ports: source . destination . protocol", k6p, 3);
	set_init(&t->sets[NFTM_SET_SNAT4], "snat4", "served IPv4 routes", d4, 1);
	set_init(&t->sets[NFTM_SET_SNAT6], "snat6", "served IPv6 routes", d6, 1);
	t->nsets = 6;

	struct nftm_chain *c = &t->chains[CH_INPUT];
	snprintf(c->name, sizeof(c->name), "input");
	c->hook = NFTM_HOOK_INPUT;
	add_rule(c, NFTM_R_IIF_JUMP, 0, CH_TUNNEL, NULL);

	c = &t->chains[CH_FORWARD];
	snprintf(c->name, sizeof(c->name), "forward");
	c->hook = NFTM_HOOK_FORWARD;
	add_rule(c, NFTM_R_IIF_JUMP, 0, CH_TUNNEL, NULL);

	c = &t->chains[CH_TUNNEL];
	snprintf(c->name, sizeof(c->name), "from_tunnel");
	add_rule(c, NFTM_R_CT_ACCEPT, 0, 0, NULL);
	add_rule(c, NFTM_R_CT_INVALID_DROP, 0, 0, NULL);
	add_rule(c, NFTM_R_LOOKUP_ACCEPT, NFTM_SET_ALLOW4_PORTS, 0, NULL);
	add_rule(c, NFTM_R_LOOKUP_ACCEPT, NFTM_SET_ALLOW4_PROTO, 0, NULL);
	add_rule(c, NFTM_R_LOOKUP_ACCEPT, NFTM_SET_ALLOW6_PORTS, 0, NULL);
	add_rule(c, NFTM_R_LOOKUP_ACCEPT, NFTM_SET_ALLOW6_PROTO, 0, NULL);
	add_rule(c, NFTM_R_DROP, 0, 0, "the tunnel reaches only what the policy allows");
	t->nchains = 3;

	if (t->snat) {
		c = &t->chains[CH_POSTROUTING];
		snprintf(c->name, sizeof(c->name), "postrouting");
		c->hook = NFTM_HOOK_POSTROUTING;
		c->type = NFTM_CHAIN_NAT;
		c->priority = 100;
		add_rule(c, NFTM_R_IIF_MASQ, NFTM_SET_SNAT4, 0, NULL);
		add_rule(c, NFTM_R_IIF_MASQ, NFTM_SET_SNAT6, 0, NULL);
		t->nchains = 4;
	}
}

/* A merged list of address ranges of one family. */
struct ranges {
	struct nftm_range *r;
	size_t n, cap;
	size_t w;
};

static void prefix_range(const struct nftm_prefix *p, struct nftm_range *r)
{
	size_t w = p->family == 4 ? 4 : 16;
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < w; i++) {
		unsigned bits = p->len > 8 * i ? p->len - 8 * i : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		r->lo[i] = p->addr[i] & mask;
		r->hi[i] = p->addr[i] | (uint8_t)~mask;
	}
}

static __thread size_t sort_width;

static int range_qcmp(const void *a, const void *b)
{
	return memcmp(((const struct nftm_range *)a)->lo, ((const struct nftm_range *)b)->lo, sort_width);
}

/* Big-endian increment; false on wrap-around. */
static bool be_inc(uint8_t *v, size_t w)
{
	for (size_t i = w; i-- > 0;)
		if (++v[i] != 0)
			return true;
	return false;
}

static int ranges_add(struct ranges *rs, const struct nftm_range *r)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 8;
		struct nftm_range *n = realloc(rs->r, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		rs->r = n;
		rs->cap = cap;
	}
	rs->r[rs->n++] = *r;
	return 0;
}

/* Sort and merge overlapping or adjacent ranges. */
static void ranges_merge(struct ranges *rs)
{
	if (rs->n < 2)
		return;
	sort_width = rs->w;
	qsort(rs->r, rs->n, sizeof(*rs->r), range_qcmp);
	size_t out = 0;
	for (size_t i = 1; i < rs->n; i++) {
		struct nftm_range *cur = &rs->r[out];
		uint8_t next[16];
		memcpy(next, cur->hi, rs->w);
		bool more = be_inc(next, rs->w);
		if (!more || memcmp(rs->r[i].lo, next, rs->w) <= 0) {
			if (memcmp(rs->r[i].hi, cur->hi, rs->w) > 0)
				memcpy(cur->hi, rs->r[i].hi, rs->w);
		} else {
			rs->r[++out] = rs->r[i];
		}
	}
	rs->n = out + 1;
}

static int dests_collect(const struct nftm_node *node, int family, struct ranges *rs)
{
	rs->w = family == 4 ? 4 : 16;
	for (int pass = 0; pass < 2; pass++) {
		const struct nftm_prefix *p = pass ? node->routes : node->self;
		size_t n = pass ? node->nroutes : node->nself;
		for (size_t i = 0; i < n; i++) {
			if (p[i].family != family)
				continue;
			struct nftm_range r;
			prefix_range(&p[i], &r);
			if (ranges_add(rs, &r) < 0)
				return -ENOMEM;
		}
	}
	ranges_merge(rs);
	return 0;
}

/* The served routes of FAMILY, merged (an interval set rejects overlaps). */
static int routes_to_set(const struct nftm_node *node, int family, struct nftm_set *s)
{
	struct nftm_node routes_only = { .routes = node->routes, .nroutes = node->nroutes };
	struct ranges rs = { 0 };
	int rc = dests_collect(&routes_only, family, &rs);
	for (size_t i = 0; rc == 0 && i < rs.n; i++) {
		struct nftm_elem e;
		memset(&e, 0, sizeof(e));
		e.k[0] = rs.r[i];
		rc = nftm_set_add(s, &e);
	}
	free(rs.r);
	return rc;
}

static bool box_ok(const struct nftm_box *b)
{
	size_t w = b->family == 4 ? 4 : 16;
	return (b->family == 4 || b->family == 6) && b->proto_lo <= b->proto_hi &&
	       b->port_lo <= b->port_hi && memcmp(b->src_lo, b->src_hi, w) <= 0 &&
	       memcmp(b->dst_lo, b->dst_hi, w) <= 0;
}

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Add BOX, with its destination clipped to [DLO, DHI], to the two sets of
 * its family: protocols with ports one by one into the port set, the
 * stretches between them into the protocol set. */
static int add_box(struct nftm_table *t, const struct nftm_box *b, const uint8_t *dlo, const uint8_t *dhi)
{
	size_t w = b->family == 4 ? 4 : 16;
	struct nftm_set *sp = &t->sets[b->family == 4 ? NFTM_SET_ALLOW4_PORTS : NFTM_SET_ALLOW6_PORTS];
	struct nftm_set *sn = &t->sets[b->family == 4 ? NFTM_SET_ALLOW4_PROTO : NFTM_SET_ALLOW6_PROTO];
	struct nftm_elem e;
	memset(&e, 0, sizeof(e));
	memcpy(e.k[0].lo, b->src_lo, w);
	memcpy(e.k[0].hi, b->src_hi, w);
	memcpy(e.k[1].lo, dlo, w);
	memcpy(e.k[1].hi, dhi, w);
	put_u16(e.k[3].lo, b->port_lo);
	put_u16(e.k[3].hi, b->port_hi);
	unsigned run = 256; /* start of a stretch of port-less protocols, 256: none open */
	for (unsigned p = b->proto_lo; p <= b->proto_hi + 1u; p++) {
		bool end = p > b->proto_hi;
		if (!end && !nftm_proto_has_ports(p)) {
			if (run == 256)
				run = p;
			continue;
		}
		if (run != 256) {
			e.k[2].lo[0] = (uint8_t)run;
			e.k[2].hi[0] = (uint8_t)(p - 1);
			if (nftm_set_add(sn, &e) < 0)
				return -ENOMEM;
			run = 256;
		}
		if (!end) {
			e.k[2].lo[0] = e.k[2].hi[0] = (uint8_t)p;
			if (nftm_set_add(sp, &e) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

struct nftm_table *nftm_build(const struct nftm_opts *opts, const struct nftm_node *node,
			      const struct nftm_box *boxes, size_t nboxes)
{
	const char *why;
	struct ranges d4 = { 0 }, d6 = { 0 };
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
	make_shape(t);

	if (dests_collect(node, 4, &d4) < 0 || dests_collect(node, 6, &d6) < 0) {
		err = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nboxes; i++) {
		const struct nftm_box *b = &boxes[i];
		if (!box_ok(b)) {
			err = EINVAL;
			goto out;
		}
		const struct ranges *ds = b->family == 4 ? &d4 : &d6;
		for (size_t j = 0; j < ds->n; j++) {
			const uint8_t *lo = ds->r[j].lo, *hi = ds->r[j].hi;
			if (memcmp(lo, b->dst_hi, ds->w) > 0 || memcmp(hi, b->dst_lo, ds->w) < 0)
				continue;
			if (memcmp(lo, b->dst_lo, ds->w) < 0)
				lo = b->dst_lo;
			if (memcmp(hi, b->dst_hi, ds->w) > 0)
				hi = b->dst_hi;
			if (add_box(t, b, lo, hi) < 0) {
				err = ENOMEM;
				goto out;
			}
		}
	}
	if (routes_to_set(node, 4, &t->sets[NFTM_SET_SNAT4]) < 0 ||
	    routes_to_set(node, 6, &t->sets[NFTM_SET_SNAT6]) < 0) {
		err = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < t->nsets; i++)
		nftm_set_finish(&t->sets[i]);
out:
	free(d4.r);
	free(d6.r);
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
	free(t);
}

bool nftm_same_shape(const struct nftm_table *a, const struct nftm_table *b)
{
	if (strcmp(a->name, b->name) || strcmp(a->iface, b->iface) || a->snat != b->snat ||
	    a->nchains != b->nchains || a->nsets != b->nsets)
		return false;
	for (size_t i = 0; i < a->nsets; i++) {
		const struct nftm_set *x = &a->sets[i], *y = &b->sets[i];
		if (strcmp(x->name, y->name) || x->nkey != y->nkey || x->flags != y->flags ||
		    memcmp(x->key, y->key, x->nkey * sizeof(x->key[0])))
			return false;
	}
	for (size_t i = 0; i < a->nchains; i++) {
		const struct nftm_chain *x = &a->chains[i], *y = &b->chains[i];
		if (strcmp(x->name, y->name) || x->hook != y->hook || x->type != y->type ||
		    x->priority != y->priority || x->policy != y->policy || x->nrules != y->nrules)
			return false;
		for (size_t r = 0; r < x->nrules; r++)
			if (x->rules[r].kind != y->rules[r].kind || x->rules[r].set != y->rules[r].set ||
			    x->rules[r].chain != y->rules[r].chain)
				return false;
	}
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

int nftm_set_diff(const struct nftm_set *old, const struct nftm_set *new_, struct nftm_delta *d)
{
	size_t i = 0, j = 0;
	memset(d, 0, sizeof(*d));
	while (i < old->n || j < new_->n) {
		int c = i == old->n ? 1 : j == new_->n ? -1 : nftm_elem_cmp(old, &old->elems[i], &new_->elems[j]);
		int rc = 0;
		if (c < 0)
			rc = delta_push(&d->del, &d->ndel, &old->elems[i++]);
		else if (c > 0)
			rc = delta_push(&d->add, &d->nadd, &new_->elems[j++]);
		else
			i++, j++;
		if (rc < 0) {
			nftm_delta_free(d);
			return rc;
		}
	}
	return 0;
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
