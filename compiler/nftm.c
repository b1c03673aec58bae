/* nftm: build the model of keygate's table from a node's filter. */
#include "nftm.h"

#include <errno.h>
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

static void put_addr(struct nftm_range *r, enum ir_family fam, ir_u128 lo, ir_u128 hi)
{
	ir_addr_to_bytes(fam, lo, r->lo);
	ir_addr_to_bytes(fam, hi, r->hi);
}

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Add box B, its destination clipped to [DLO, DHI], to the allow set of its
 * family that fits its protocol. */
static int add_box(struct nftm_table *t, const struct ir_box *b, ir_u128 dlo, ir_u128 dhi)
{
	bool v4 = b->family == IR_V4, ports = ir_proto_has_ports(b->proto);
	struct nftm_set *s = &t->sets[v4 ? (ports ? NFTM_SET_ALLOW4_PORTS : NFTM_SET_ALLOW4_PROTO)
					 : (ports ? NFTM_SET_ALLOW6_PORTS : NFTM_SET_ALLOW6_PROTO)];
	struct nftm_elem e;
	memset(&e, 0, sizeof(e));
	put_addr(&e.k[0], b->family, b->src_lo, b->src_hi);
	put_addr(&e.k[1], b->family, dlo, dhi);
	e.k[2].lo[0] = e.k[2].hi[0] = b->proto;
	put_u16(e.k[3].lo, b->port_lo);
	put_u16(e.k[3].hi, b->port_hi);
	return nftm_set_add(s, &e);
}

/* Big-endian V + 1 == W, in WIDTH bytes. */
static bool be_next(const uint8_t *v, const uint8_t *w, size_t width)
{
	uint8_t t[16];
	memcpy(t, v, width);
	for (size_t i = width; i-- > 0;)
		if (++t[i] != 0)
			return memcmp(t, w, width) == 0;
	return false; /* V was the largest value */
}

/* In a sorted set, join elements equal in every field but the last whose
 * last ranges touch.  The canonical IR cuts a box wherever another box has
 * an edge (a TCP rule for every port is sliced at 443 if another rule names
 * 443); joining undoes that for the set, and makes a rule for every
 * protocol six elements of the protocol set, not 251. */
static void join_last(struct nftm_set *s)
{
	if (s->n < 2)
		return;
	size_t last = s->nkey - 1, out = 0;
	size_t w = nftm_field_width(s->key[last]);
	for (size_t i = 1; i < s->n; i++) {
		struct nftm_elem *prev = &s->elems[out], *cur = &s->elems[i];
		bool same = true;
		for (size_t k = 0; k < last && same; k++) {
			size_t kw = nftm_field_width(s->key[k]);
			same = memcmp(prev->k[k].lo, cur->k[k].lo, kw) == 0 && memcmp(prev->k[k].hi, cur->k[k].hi, kw) == 0;
		}
		if (same && be_next(prev->k[last].hi, cur->k[last].lo, w))
			memcpy(prev->k[last].hi, cur->k[last].hi, w);
		else
			s->elems[++out] = *cur;
	}
	s->n = out + 1;
}

/* The first range of D (merged: sorted by family and address, disjoint)
 * of B's family that ends at or after B's lowest destination. */
static size_t first_dest(const struct ir_aset *d, const struct ir_box *b)
{
	size_t lo = 0, hi = d->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ir_range *r = &d->v[mid];
		if (r->family < b->family || (r->family == b->family && r->hi < b->dst_lo))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct nftm_table *nftm_build(const struct nftm_opts *opts, const struct nftm_node *node,
			      const struct ir_flows *flows)
{
	const char *why;
	struct ir_aset dests = { 0 }, routes = { 0 };
	struct nftm_table *t = NULL;
	int err = 0;

	if (nftm_opts_check(opts, &why) < 0 || !flows->canonical) {
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

	if ((node->self && ir_aset_add_all(&dests, node->self) < 0) ||
	    (node->routes && ir_aset_add_all(&dests, node->routes) < 0) ||
	    (node->routes && ir_aset_add_all(&routes, node->routes) < 0)) {
		err = ENOMEM;
		goto out;
	}
	ir_aset_merge(&dests);
	ir_aset_merge(&routes);
	for (size_t i = 0; i < flows->nboxes; i++) {
		const struct ir_box *b = &flows->boxes[i];
		for (size_t j = first_dest(&dests, b); j < dests.n && dests.v[j].family == b->family &&
						       dests.v[j].lo <= b->dst_hi; j++) {
			ir_u128 lo = dests.v[j].lo > b->dst_lo ? dests.v[j].lo : b->dst_lo;
			ir_u128 hi = dests.v[j].hi < b->dst_hi ? dests.v[j].hi : b->dst_hi;
			if (add_box(t, b, lo, hi) < 0) {
				err = ENOMEM;
				goto out;
			}
		}
	}
	for (size_t i = 0; i < routes.n; i++) {
		struct nftm_elem e;
		memset(&e, 0, sizeof(e));
		put_addr(&e.k[0], routes.v[i].family, routes.v[i].lo, routes.v[i].hi);
		if (nftm_set_add(&t->sets[routes.v[i].family == IR_V4 ? NFTM_SET_SNAT4 : NFTM_SET_SNAT6], &e) < 0) {
			err = ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < t->nsets; i++)
		nftm_set_finish(&t->sets[i]);
	for (size_t i = NFTM_SET_ALLOW4_PORTS; i <= NFTM_SET_ALLOW6_PROTO; i++)
		join_last(&t->sets[i]);
out:
	ir_aset_free(&dests);
	ir_aset_free(&routes);
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
