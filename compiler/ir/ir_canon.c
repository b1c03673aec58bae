/* ir_canon: the flow IR's factorised canonical form (cells pointing to
 * interned source sets), its builder, and what works on it: equality,
 * membership, explanations, iteration, back to rules (ir_add_boxes) and the
 * `--format ir` dump; ir_free, since the canonical part owns private
 * indexes. */
#include "htab.h"
#include "ir.h"
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* The explanation index: the rules sorted by geometry but source, in
 * groups of equal (family, proto, ports, destinations); within a group by
 * source start, with the running maximum of the source ends. */
struct xgroup {
	uint32_t start, n;
};

struct ir_priv {
	struct htab sets;          /* interning: entries are f->sets */
	uint32_t *xorder;          /* rule indices */
	addr_u128 *xmaxhi;           /* per position: max src_hi of the group so far */
	struct xgroup *xgroups;
	size_t nxgroups;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t hash_u128(uint64_t h, addr_u128 v)
{
	h = mix64(h ^ (uint64_t)v);
	return mix64(h ^ (uint64_t)(v >> 64));
}

static uint64_t spans_hash(const struct ir_span *v, size_t n)
{
	uint64_t h = n;
	for (size_t i = 0; i < n; i++)
		h = hash_u128(hash_u128(h, v[i].lo), v[i].hi);
	return h;
}

static struct ir_priv *priv_of(struct ir_flows *f)
{
	if (!f->priv)
		f->priv = calloc(1, sizeof(*f->priv));
	return f->priv;
}

static void xindex_free(struct ir_priv *p)
{
	free(p->xorder);
	free(p->xmaxhi);
	free(p->xgroups);
	p->xorder = NULL;
	p->xmaxhi = NULL;
	p->xgroups = NULL;
	p->nxgroups = 0;
}

/* ---- source sets ---- */

const struct ir_span *ir_set_spans(const struct ir_flows *f, uint32_t set, size_t *n)
{
	*n = f->sets[set].n;
	return f->spans + f->sets[set].off;
}

bool ir_set_equal(const struct ir_flows *a, uint32_t sa, const struct ir_flows *b, uint32_t sb)
{
	const struct ir_srcset *x = &a->sets[sa], *y = &b->sets[sb];
	if (x->hash != y->hash || x->n != y->n)
		return false;
	const struct ir_span *p = a->spans + x->off, *q = b->spans + y->off;
	for (size_t i = 0; i < x->n; i++)
		if (p[i].lo != q[i].lo || p[i].hi != q[i].hi)
			return false;
	return true;
}

int ir_intern(struct ir_flows *f, const struct ir_span *v, size_t n, uint32_t *set)
{
	struct ir_priv *p = priv_of(f);
	if (!p || n == 0)
		return p ? -EINVAL : -ENOMEM;
	uint64_t hash = spans_hash(v, n);
	size_t k = 0;
	if (p->sets.cap) {
		for (k = hash & (p->sets.cap - 1); p->sets.slot[k]; k = (k + 1) & (p->sets.cap - 1)) {
			const struct ir_srcset *s = &f->sets[p->sets.slot[k] - 1];
			if (s->hash == hash && s->n == n && memcmp(f->spans + s->off, v, n * sizeof(*v)) == 0) {
				*set = p->sets.slot[k] - 1;
				return 0;
			}
		}
	}
	if (f->nsets >= NONE || f->nspans + n >= NONE)
		return -E2BIG;
	int rc;
	if ((rc = MEM_RESERVE(f->sets, f->capsets, f->nsets + 1)) < 0 ||
	    (rc = MEM_RESERVE(f->spans, f->capspans, f->nspans + n)) < 0)
		return rc;
	memcpy(f->spans + f->nspans, v, n * sizeof(*v));
	f->sets[f->nsets] = (struct ir_srcset){ .off = (uint32_t)f->nspans, .n = (uint32_t)n, .hash = hash };
	f->nspans += n;
	if ((rc = htab_reserve(&p->sets, f->sets, sizeof(*f->sets), offsetof(struct ir_srcset, hash))) < 0) {
		f->nspans -= n;
		return rc;
	}
	htab_put(&p->sets, hash, f->nsets);
	*set = (uint32_t)f->nsets++;
	return 0;
}

/* ---- the builder ---- */

void ir_build_begin(struct ir_builder *b, struct ir_flows *f)
{
	f->ncells = f->nsets = f->nspans = f->nboxes = 0;
	if (f->priv) {
		htab_free(&f->priv->sets);
		xindex_free(f->priv);
	}
	f->canonical = false;
	*b = (struct ir_builder){ .f = f };
}

static bool same_slab(const struct ir_cell *a, const struct ir_cell *b)
{
	return a->family == b->family && a->proto == b->proto && a->port_lo == b->port_lo &&
	       a->port_hi == b->port_hi;
}

/* The current port slice is complete: fold it into the previous one when
 * they touch and hold the same destinations and sets. */
static void close_slab(struct ir_builder *b)
{
	struct ir_cell *c = b->f->cells;
	size_t prev = b->prev, cur = b->cur, end = b->f->ncells;
	if (end == cur)
		return;
	bool fold = b->have_prev && cur - prev == end - cur && c[prev].family == c[cur].family &&
		    c[prev].proto == c[cur].proto && (unsigned)c[prev].port_hi + 1 == c[cur].port_lo;
	for (size_t k = 0; fold && k < end - cur; k++)
		fold = c[prev + k].dst_lo == c[cur + k].dst_lo && c[prev + k].dst_hi == c[cur + k].dst_hi &&
		       c[prev + k].set == c[cur + k].set;
	if (fold) {
		for (size_t k = prev; k < cur; k++)
			c[k].port_hi = c[cur].port_hi;
		b->f->ncells = cur;
	} else {
		b->prev = cur;
		b->have_prev = true;
	}
	b->cur = b->f->ncells;
}

int ir_build_cell(struct ir_builder *b, uint8_t family, uint8_t proto, uint16_t port_lo, uint16_t port_hi,
		  addr_u128 dst_lo, addr_u128 dst_hi, uint32_t set)
{
	struct ir_flows *f = b->f;
	struct ir_cell cell = { .family = family, .proto = proto, .port_lo = port_lo, .port_hi = port_hi,
				.dst_lo = dst_lo, .dst_hi = dst_hi, .set = set };
	if (f->ncells > b->cur) {
		struct ir_cell *last = &f->cells[f->ncells - 1];
		if (!same_slab(last, &cell))
			close_slab(b);
		else if (last->set == set && last->dst_hi != ADDR_U128_MAX && last->dst_hi + 1 == dst_lo) {
			last->dst_hi = dst_hi;
			return 0;
		}
	}
	int rc = MEM_RESERVE(f->cells, f->capcells, f->ncells + 1);
	if (rc < 0)
		return rc;
	f->cells[f->ncells++] = cell;
	return 0;
}

void ir_build_end(struct ir_builder *b)
{
	struct ir_flows *f = b->f;
	close_slab(b);
	f->nboxes = 0;
	for (size_t i = 0; i < f->ncells; i++)
		f->nboxes += f->sets[f->cells[i].set].n;
	f->canonical = true;
}

/* ---- canonicalisation ---- */

/* A group of rules with the same geometry but sources: its merged sources
 * are set SET of the scratch flows. */
struct key {
	uint8_t family, proto;
	uint16_t port_lo, port_hi;
	addr_u128 dst_lo, dst_hi;
	uint32_t set;
};

/* A memo: which output set the union of a list of key sets gave.  LISTS
 * holds the lists back to back. */
struct combo {
	uint32_t off, n, set;
	uint64_t hash;
};

struct canon {
	struct ir_flows *f;
	struct ir_flows keysets;     /* scratch: the key groups' sets */
	struct key *keys;
	size_t nkeys;
	struct combo *combos;
	size_t ncombos, capcombos;
	uint32_t *lists;
	size_t nlists, caplists;
	struct htab ctab;
	struct ir_span *buf;         /* scratch spans */
	size_t capbuf;
	uint32_t *ids;               /* scratch set ids */
	size_t *act, *dact;          /* active keys: port sweep, destination sweep */
	struct ir_builder b;
};

static int rule_cmp(const struct ir_box *a, const struct ir_box *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	if (a->port_hi != b->port_hi)
		return a->port_hi < b->port_hi ? -1 : 1;
	int c = addr_cmp(a->dst_lo, b->dst_lo);
	if (c == 0)
		c = addr_cmp(a->dst_hi, b->dst_hi);
	return c;
}

/* qsort has no context argument in C11: the rules being sorted. */
static __thread const struct ir_rule *sort_rules;

static int cmp_rule_idx(const void *pa, const void *pb)
{
	uint32_t x = *(const uint32_t *)pa, y = *(const uint32_t *)pb;
	const struct ir_box *a = &sort_rules[x].box, *b = &sort_rules[y].box;
	int c = rule_cmp(a, b);
	if (c == 0)
		c = addr_cmp(a->src_lo, b->src_lo);
	return c ? c : (x > y) - (x < y);
}

static int cmp_span(const void *pa, const void *pb)
{
	const struct ir_span *a = pa, *b = pb;
	int c = addr_cmp(a->lo, b->lo);
	return c ? c : addr_cmp(a->hi, b->hi);
}

static int cmp_u32(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	return (a > b) - (a < b);
}

/* Merge sorted (by lo) spans V[0..N) in place; returns the new count. */
static size_t spans_merge(struct ir_span *v, size_t n)
{
	size_t out = 0;
	for (size_t i = 0; i < n; i++) {
		if (out && (v[out - 1].hi == ADDR_U128_MAX || v[i].lo <= v[out - 1].hi + 1)) {
			if (v[i].hi > v[out - 1].hi)
				v[out - 1].hi = v[i].hi;
		} else
			v[out++] = v[i];
	}
	return out;
}

/* Sort the rules into groups of equal geometry (the explanation index),
 * one key per group with its merged sources. */
static int make_keys(struct canon *c)
{
	struct ir_flows *f = c->f;
	struct ir_priv *p = f->priv;
	size_t n = f->nrules;
	if (!(p->xorder = malloc(n * sizeof(*p->xorder))) || !(p->xmaxhi = malloc(n * sizeof(*p->xmaxhi))) ||
	    !(p->xgroups = malloc(n * sizeof(*p->xgroups))) || !(c->keys = malloc(n * sizeof(*c->keys))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		p->xorder[i] = (uint32_t)i;
	sort_rules = f->rules;
	qsort(p->xorder, n, sizeof(*p->xorder), cmp_rule_idx);
	for (size_t i = 0; i < n;) {
		const struct ir_box *g = &f->rules[p->xorder[i]].box;
		size_t j = i, m = 0;
		for (; j < n && rule_cmp(&f->rules[p->xorder[j]].box, g) == 0; j++) {
			const struct ir_box *r = &f->rules[p->xorder[j]].box;
			p->xmaxhi[j] = j > i && p->xmaxhi[j - 1] > r->src_hi ? p->xmaxhi[j - 1] : r->src_hi;
		}
		int rc = MEM_RESERVE(c->buf, c->capbuf, j - i);
		if (rc < 0)
			return rc;
		for (size_t k = i; k < j; k++) {
			const struct ir_box *r = &f->rules[p->xorder[k]].box;
			c->buf[m++] = (struct ir_span){ r->src_lo, r->src_hi };
		}
		m = spans_merge(c->buf, m);
		struct key *k = &c->keys[c->nkeys];
		*k = (struct key){ .family = g->family, .proto = g->proto, .port_lo = g->port_lo,
				   .port_hi = g->port_hi, .dst_lo = g->dst_lo, .dst_hi = g->dst_hi };
		if ((rc = ir_intern(&c->keysets, c->buf, m, &k->set)) < 0)
			return rc;
		p->xgroups[c->nkeys++] = (struct xgroup){ (uint32_t)i, (uint32_t)(j - i) };
		p->nxgroups = c->nkeys;
		i = j;
	}
	return 0;
}

/* The output set for the union of the key sets IDS[0..N) (sorted, unique). */
static int union_set(struct canon *c, const uint32_t *ids, size_t n, uint32_t *set)
{
	uint64_t hash = n;
	for (size_t i = 0; i < n; i++)
		hash = mix64(hash ^ ids[i]);
	size_t k = 0;
	if (c->ctab.cap)
		for (k = hash & (c->ctab.cap - 1); c->ctab.slot[k]; k = (k + 1) & (c->ctab.cap - 1)) {
			const struct combo *cb = &c->combos[c->ctab.slot[k] - 1];
			if (cb->hash == hash && cb->n == n && memcmp(c->lists + cb->off, ids, n * sizeof(*ids)) == 0) {
				*set = cb->set;
				return 0;
			}
		}
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += c->keysets.sets[ids[i]].n;
	int rc;
	if ((rc = MEM_RESERVE(c->buf, c->capbuf, total)) < 0 ||
	    (rc = MEM_RESERVE(c->lists, c->caplists, c->nlists + n)) < 0 ||
	    (rc = MEM_RESERVE(c->combos, c->capcombos, c->ncombos + 1)) < 0)
		return rc;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		size_t sn;
		const struct ir_span *s = ir_set_spans(&c->keysets, ids[i], &sn);
		memcpy(c->buf + m, s, sn * sizeof(*s));
		m += sn;
	}
	if (n > 1) {
		qsort(c->buf, m, sizeof(*c->buf), cmp_span);
		m = spans_merge(c->buf, m);
	}
	if ((rc = ir_intern(c->f, c->buf, m, set)) < 0)
		return rc;
	memcpy(c->lists + c->nlists, ids, n * sizeof(*ids));
	c->combos[c->ncombos] = (struct combo){ .off = (uint32_t)c->nlists, .n = (uint32_t)n, .set = *set,
						.hash = hash };
	c->nlists += n;
	if ((rc = htab_reserve(&c->ctab, c->combos, sizeof(*c->combos), offsetof(struct combo, hash))) < 0)
		return rc;
	htab_put(&c->ctab, hash, c->ncombos++);
	return 0;
}

/* One port slice [PLO, PHI] of family and protocol: the keys ACT[0..NACT)
 * cover it (sorted by destination start).  Sweep the destinations. */
static int sweep_dst(struct canon *c, const size_t *act, size_t nact, uint16_t plo, uint16_t phi)
{
	const struct key *k = c->keys;
	size_t i = 0, nd = 0;
	addr_u128 pos = 0;
	while (i < nact || nd > 0) {
		if (nd == 0 && pos < k[act[i]].dst_lo)
			pos = k[act[i]].dst_lo;
		while (i < nact && k[act[i]].dst_lo <= pos)
			c->dact[nd++] = act[i++];
		addr_u128 end = i < nact ? k[act[i]].dst_lo - 1 : ADDR_U128_MAX;
		for (size_t d = 0; d < nd; d++) {
			if (k[c->dact[d]].dst_hi < end)
				end = k[c->dact[d]].dst_hi;
			c->ids[d] = k[c->dact[d]].set;
		}
		qsort(c->ids, nd, sizeof(*c->ids), cmp_u32);
		size_t nu = 0;
		for (size_t d = 0; d < nd; d++)
			if (nu == 0 || c->ids[nu - 1] != c->ids[d])
				c->ids[nu++] = c->ids[d];
		uint32_t set;
		int rc;
		if ((rc = union_set(c, c->ids, nu, &set)) < 0 ||
		    (rc = ir_build_cell(&c->b, k[act[0]].family, k[act[0]].proto, plo, phi, pos, end, set)) < 0)
			return rc;
		if (end == ADDR_U128_MAX)
			break;
		pos = end + 1;
		size_t keep = 0;
		for (size_t d = 0; d < nd; d++)
			if (k[c->dact[d]].dst_hi >= pos)
				c->dact[keep++] = c->dact[d];
		nd = keep;
	}
	return 0;
}

/* qsort context: the keys. */
static __thread const struct key *sort_keys;

static int cmp_key_dst(const void *pa, const void *pb)
{
	size_t x = *(const size_t *)pa, y = *(const size_t *)pb;
	int r = addr_cmp(sort_keys[x].dst_lo, sort_keys[y].dst_lo);
	return r ? r : (x > y) - (x < y);
}

/* The keys [G0, G1) of one family and protocol (sorted by port start):
 * sweep the ports. */
static int sweep_ports(struct canon *c, size_t g0, size_t g1, size_t *scratch)
{
	const struct key *k = c->keys;
	size_t next = g0, na = 0;
	unsigned pos = 0;
	while (next < g1 || na > 0) {
		if (na == 0 && pos < k[next].port_lo)
			pos = k[next].port_lo;
		while (next < g1 && k[next].port_lo <= pos)
			c->act[na++] = next++;
		unsigned end = next < g1 ? (unsigned)k[next].port_lo - 1 : 65535;
		for (size_t a = 0; a < na; a++)
			if (k[c->act[a]].port_hi < end)
				end = k[c->act[a]].port_hi;
		memcpy(scratch, c->act, na * sizeof(*scratch));
		sort_keys = k;
		qsort(scratch, na, sizeof(*scratch), cmp_key_dst);
		int rc = sweep_dst(c, scratch, na, (uint16_t)pos, (uint16_t)end);
		if (rc < 0)
			return rc;
		if (end == 65535)
			break;
		pos = end + 1;
		size_t keep = 0;
		for (size_t a = 0; a < na; a++)
			if (k[c->act[a]].port_hi >= pos)
				c->act[keep++] = c->act[a];
		na = keep;
	}
	return 0;
}

int ir_canonicalize(struct ir_flows *f)
{
	struct canon c = { .f = f };
	size_t *scratch = NULL;
	int rc = -ENOMEM;
	ir_build_begin(&c.b, f);
	if (!priv_of(f))
		return -ENOMEM;
	if (f->nrules == 0) {
		ir_build_end(&c.b);
		return 0;
	}
	if ((rc = make_keys(&c)) < 0)
		goto out_free;
	rc = -ENOMEM;
	if (!(c.act = malloc(c.nkeys * sizeof(*c.act))) || !(c.dact = malloc(c.nkeys * sizeof(*c.dact))) ||
	    !(c.ids = malloc(c.nkeys * sizeof(*c.ids))) || !(scratch = malloc(c.nkeys * sizeof(*scratch))))
		goto out_free;
	for (size_t g0 = 0, g1; g0 < c.nkeys; g0 = g1) {
		g1 = g0 + 1;
		while (g1 < c.nkeys && c.keys[g1].family == c.keys[g0].family && c.keys[g1].proto == c.keys[g0].proto)
			g1++;
		if ((rc = sweep_ports(&c, g0, g1, scratch)) < 0)
			goto out_free;
	}
	ir_build_end(&c.b);
	rc = 0;
out_free:
	if (rc < 0) {
		ir_build_begin(&c.b, f);   /* nothing half-built left behind */
	}
	free(scratch);
	free(c.act);
	free(c.dact);
	free(c.ids);
	free(c.keys);
	free(c.combos);
	free(c.lists);
	free(c.buf);
	htab_free(&c.ctab);
	ir_free(&c.keysets);
	return rc;
}

/* ---- using the canonical form ---- */

bool ir_equal(const struct ir_flows *a, const struct ir_flows *b)
{
	if (a->ncells != b->ncells)
		return false;
	/* Interned on both sides: a set of A equals at most one set of B. */
	uint32_t *seen = calloc(a->nsets ? a->nsets : 1, sizeof(*seen));
	bool same = true;
	for (size_t i = 0; same && i < a->ncells; i++) {
		const struct ir_cell *x = &a->cells[i], *y = &b->cells[i];
		same = x->family == y->family && x->proto == y->proto && x->port_lo == y->port_lo &&
		       x->port_hi == y->port_hi && x->dst_lo == y->dst_lo && x->dst_hi == y->dst_hi;
		if (same && seen && seen[x->set])
			same = seen[x->set] == y->set + 1;
		else if (same) {
			same = ir_set_equal(a, x->set, b, y->set);
			if (same && seen)
				seen[x->set] = y->set + 1;
		}
	}
	free(seen);
	return same;
}

static bool spans_have(const struct ir_span *v, size_t n, addr_u128 x)
{
	size_t lo = 0, hi = n;   /* the first span ending at or after X */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].hi < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].lo <= x;
}

/* Cells are sorted by (family, proto, port_lo, dst_lo). */
static int cell_vs(const struct ir_cell *c, unsigned family, unsigned proto, unsigned port)
{
	if (c->family != family)
		return c->family < family ? -1 : 1;
	if (c->proto != proto)
		return c->proto < proto ? -1 : 1;
	return c->port_lo < port ? -1 : c->port_lo > port;
}

bool ir_match(const struct ir_flows *f, enum addr_family family, unsigned proto,
	      addr_u128 src, addr_u128 dst, unsigned dport)
{
	if (!proto_has_ports(proto))
		dport = 0;
	/* The port slice: the last cell starting at or before DPORT ends it. */
	size_t lo = 0, hi = f->ncells;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cell_vs(&f->cells[mid], family, proto, dport) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	const struct ir_cell *last = &f->cells[lo - 1];
	if (last->family != family || last->proto != proto || dport > last->port_hi)
		return false;
	/* Within the slice (cells before LO with its port start), the last
	 * cell starting at or before DST. */
	size_t end = lo;
	lo = 0;
	hi = end;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cell_vs(&f->cells[mid], family, proto, last->port_lo);
		if (c < 0 || (c == 0 && f->cells[mid].dst_lo <= dst))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	const struct ir_cell *c = &f->cells[lo - 1];
	if (cell_vs(c, family, proto, last->port_lo) != 0 || dst < c->dst_lo || dst > c->dst_hi)
		return false;
	size_t n;
	const struct ir_span *v = ir_set_spans(f, c->set, &n);
	return spans_have(v, n, src);
}

static bool box_has(const struct ir_box *b, enum addr_family family, unsigned proto,
		    addr_u128 src, addr_u128 dst, unsigned dport)
{
	return b->family == family && b->proto == proto &&
	       (!proto_has_ports(proto) || (dport >= b->port_lo && dport <= b->port_hi)) &&
	       dst >= b->dst_lo && dst <= b->dst_hi && src >= b->src_lo && src <= b->src_hi;
}

static size_t explain_linear(const struct ir_flows *f, enum addr_family family, unsigned proto, addr_u128 src,
			     addr_u128 dst, unsigned dport, void (*fn)(const struct ir_rule *rule, void *arg), void *arg)
{
	size_t n = 0;
	for (size_t i = 0; i < f->nrules; i++)
		if (box_has(&f->rules[i].box, family, proto, src, dst, dport)) {
			n++;
			if (fn)
				fn(&f->rules[i], arg);
		}
	return n;
}

size_t ir_explain(const struct ir_flows *f, enum addr_family family, unsigned proto,
		  addr_u128 src, addr_u128 dst, unsigned dport,
		  void (*fn)(const struct ir_rule *rule, void *arg), void *arg)
{
	const struct ir_priv *p = f->priv;
	if (!f->canonical || !p || p->nxgroups == 0)
		return explain_linear(f, family, proto, src, dst, dport, fn, arg);
	/* The groups of this family and protocol (sorted by them first). */
	size_t lo = 0, hi = p->nxgroups;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ir_box *g = &f->rules[p->xorder[p->xgroups[mid].start]].box;
		if (g->family < family || (g->family == family && g->proto < proto))
			lo = mid + 1;
		else
			hi = mid;
	}
	uint32_t *hits = NULL;
	size_t nhits = 0, caphits = 0;
	for (size_t gi = lo; gi < p->nxgroups; gi++) {
		const struct xgroup *g = &p->xgroups[gi];
		const struct ir_box *gb = &f->rules[p->xorder[g->start]].box;
		if (gb->family != family || gb->proto != proto)
			break;
		if ((proto_has_ports(proto) && (dport < gb->port_lo || dport > gb->port_hi)) || dst < gb->dst_lo ||
		    dst > gb->dst_hi)
			continue;
		/* Sorted by source start: the rules starting at or before SRC,
		 * back while some rule up to there still reaches SRC. */
		size_t a = 0, b = g->n;
		while (a < b) {
			size_t mid = a + (b - a) / 2;
			if (f->rules[p->xorder[g->start + mid]].box.src_lo <= src)
				a = mid + 1;
			else
				b = mid;
		}
		for (size_t k = a; k-- > 0 && p->xmaxhi[g->start + k] >= src;) {
			uint32_t r = p->xorder[g->start + k];
			if (f->rules[r].box.src_hi < src)
				continue;
			if (nhits == caphits && MEM_RESERVE(hits, caphits, nhits + 1) < 0) {
				free(hits);   /* no memory for the index's answer: the slow way */
				return explain_linear(f, family, proto, src, dst, dport, fn, arg);
			}
			hits[nhits++] = r;
		}
	}
	if (nhits > 1)
		qsort(hits, nhits, sizeof(*hits), cmp_u32);   /* in the order added */
	for (size_t i = 0; fn && i < nhits; i++)
		fn(&f->rules[hits[i]], arg);
	free(hits);
	return nhits;
}

void ir_cell_box(const struct ir_flows *f, size_t c, size_t k, struct ir_box *out)
{
	const struct ir_cell *cell = &f->cells[c];
	const struct ir_span *s = &f->spans[f->sets[cell->set].off + k];
	*out = (struct ir_box){ .family = cell->family, .proto = cell->proto, .port_lo = cell->port_lo,
				.port_hi = cell->port_hi, .dst_lo = cell->dst_lo, .dst_hi = cell->dst_hi,
				.src_lo = s->lo, .src_hi = s->hi };
}

bool ir_box_next(const struct ir_flows *f, struct ir_iter *it, struct ir_box *out)
{
	while (it->cell < f->ncells && it->k >= f->sets[f->cells[it->cell].set].n) {
		it->cell++;
		it->k = 0;
	}
	if (it->cell >= f->ncells)
		return false;
	ir_cell_box(f, it->cell, it->k++, out);
	return true;
}

int ir_add_boxes(struct ir_flows *f, const struct ir_flows *from)
{
	struct ir_iter it = { 0 };
	struct ir_box b;
	while (ir_box_next(from, &it, &b)) {
		int rc = ir_add(f, &b, NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void ir_free(struct ir_flows *f)
{
	free(f->rules);
	free(f->cells);
	free(f->sets);
	free(f->spans);
	if (f->priv) {
		htab_free(&f->priv->sets);
		xindex_free(f->priv);
		free(f->priv);
	}
	memset(f, 0, sizeof(*f));
}

/* ---- dump ---- */

/* Each source range as text once (a set is shared by many cells): offsets
 * into TEXT per span and family, 0 while not yet written. */
struct srctext {
	char *text;
	size_t len, cap;
	uint32_t *at[2];   /* ADDR_V4, ADDR_V6: offset + 1 */
};

static const char *src_text(struct srctext *t, const struct ir_flows *f, uint8_t family, size_t span)
{
	uint32_t **at = &t->at[family == ADDR_V6];
	char buf[ADDR_RANGE_STRLEN];
	if (!*at && !(*at = calloc(f->nspans, sizeof(**at))))
		return NULL;
	if (!(*at)[span]) {
		size_t n = strlen(addr_range_format(family, f->spans[span].lo, f->spans[span].hi, buf)) + 1;
		if (t->len + n >= NONE || MEM_RESERVE(t->text, t->cap, t->len + n) < 0)
			return NULL;
		memcpy(t->text + t->len, buf, n);
		(*at)[span] = (uint32_t)t->len + 1;
		t->len += n;
	}
	return t->text + (*at)[span] - 1;
}

void ir_dump(FILE *out, const struct ir_flows *f, const char *indent)
{
	struct srctext st = { 0 };
	flockfile(out);
	for (size_t i = 0; i < f->ncells; i++) {
		const struct ir_cell *c = &f->cells[i];
		char pb[8], dst[ADDR_RANGE_STRLEN], src[ADDR_RANGE_STRLEN], ports[16] = "";
		if (proto_has_ports(c->proto)) {
			if (c->port_lo == 0 && c->port_hi == 65535)
				snprintf(ports, sizeof(ports), " *");
			else if (c->port_lo == c->port_hi)
				snprintf(ports, sizeof(ports), " %u", c->port_lo);
			else
				snprintf(ports, sizeof(ports), " %u-%u", c->port_lo, c->port_hi);
		}
		/* The line up to the source, once per cell. */
		char *head = NULL;
		int hl = asprintf(&head, "%sv%u %s%s dst %s src ", indent, c->family, proto_name(c->proto, pb),
				  ports, addr_range_format(c->family, c->dst_lo, c->dst_hi, dst));
		const struct ir_srcset *s = &f->sets[c->set];
		for (size_t k = 0; k < s->n; k++) {
			const char *t = src_text(&st, f, c->family, s->off + k);
			if (!t)   /* no memory for the cache: format in place */
				t = addr_range_format(c->family, f->spans[s->off + k].lo, f->spans[s->off + k].hi, src);
			if (hl >= 0) {   /* 27 million lines for relay-1 (tests/bench): no locking */
				fwrite_unlocked(head, 1, (size_t)hl, out);
				fputs_unlocked(t, out);
				putc_unlocked('\n', out);
			} else
				fprintf(out, "%sv%u %s%s dst %s src %s\n", indent, c->family, proto_name(c->proto, pb),
					ports, dst, t);
		}
		free(head);
	}
	funlockfile(out);
	free(st.text);
	free(st.at[0]);
	free(st.at[1]);
}
