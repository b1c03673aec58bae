/* diff_ir: set operations on canonical flow IR (A \ B, A n B), the
 * ground under `aclc diff`. */
#include <errno.h>

#include "diff.h"

static bool box_overlaps(const struct ir_box *a, const struct ir_box *b)
{
	return a->family == b->family && a->proto == b->proto &&
	       a->port_lo <= b->port_hi && b->port_lo <= a->port_hi &&
	       a->dst_lo <= b->dst_hi && b->dst_lo <= a->dst_hi &&
	       a->src_lo <= b->src_hi && b->src_lo <= a->src_hi;
}

/* The boxes of canonical F that may overlap box A, each passed to FN (which
 * returns 0 to go on or -errno).  Canonical boxes are sorted by (family,
 * protocol, port_lo, dst_lo, src_lo); within one family and protocol the
 * port ranges are slabs that do not overlap, and within one port slab the
 * destination ranges do not either, so both are searched by bisection. */
static int for_candidates(const struct ir_flows *f, const struct ir_box *a,
			  int (*fn)(const struct ir_box *cand, void *arg), void *arg)
{
	const struct ir_box *v = f->boxes;
	size_t n = f->nboxes, lo = 0, hi = n;
	while (lo < hi) {   /* the first box of A's family and protocol, or after */
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].family < a->family || (v[mid].family == a->family && v[mid].proto < a->proto))
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t j = lo;
	while (j < n && v[j].family == a->family && v[j].proto == a->proto && v[j].port_lo <= a->port_hi) {
		size_t end = j + 1, step = 1;
		while (end < n && v[end].family == a->family && v[end].proto == a->proto &&
		       v[end].port_lo == v[j].port_lo) {   /* gallop to the end of the port slab */
			end += step;
			step *= 2;
		}
		if (end > n)
			end = n;
		for (lo = j + 1, hi = end; lo < hi;) {
			size_t mid = lo + (hi - lo) / 2;
			if (v[mid].family == a->family && v[mid].proto == a->proto && v[mid].port_lo == v[j].port_lo)
				lo = mid + 1;
			else
				hi = mid;
		}
		end = lo;
		if (v[j].port_hi >= a->port_lo) {
			size_t k = j;
			for (hi = end; k < hi;) {   /* the first destination slab ending at or after A's */
				size_t mid = k + (hi - k) / 2;
				if (v[mid].dst_hi < a->dst_lo)
					k = mid + 1;
				else
					hi = mid;
			}
			for (; k < end && v[k].dst_lo <= a->dst_hi; k++) {
				int rc = box_overlaps(&v[k], a) ? fn(&v[k], arg) : 0;
				if (rc < 0)
					return rc;
			}
		}
		j = end;
	}
	return 0;
}

/* Peel off what of CUR lies below and above B in one dimension, into OUT. */
#define PEEL(lo_f, hi_f)                                    \
	do {                                                \
		if (rc == 0 && cur.lo_f < b->lo_f) {        \
			struct ir_box p = cur;              \
			p.hi_f = b->lo_f - 1;               \
			cur.lo_f = b->lo_f;                 \
			rc = ir_add(out, &p, NULL);         \
		}                                           \
		if (rc == 0 && cur.hi_f > b->hi_f) {        \
			struct ir_box p = cur;              \
			p.lo_f = b->hi_f + 1;               \
			cur.hi_f = b->hi_f;                 \
			rc = ir_add(out, &p, NULL);         \
		}                                           \
	} while (0)

/* Append to OUT the parts of A outside B (they overlap): peel off what
 * lies below and above B in each dimension in turn; what stays is A and B
 * together, and is dropped. */
static int box_cut(const struct ir_box *a, const struct ir_box *b, struct ir_flows *out)
{
	struct ir_box cur = *a;
	int rc = 0;
	PEEL(port_lo, port_hi);
	PEEL(dst_lo, dst_hi);
	PEEL(src_lo, src_hi);
	return rc;
}

/* The pieces of one box of A still outside B so far: CUR, NEXT scratch. */
struct cutting {
	struct ir_flows cur, next;
};

static int cut_one(const struct ir_box *cut, void *arg)
{
	struct cutting *c = arg;
	int rc = 0;
	c->next.nrules = 0;
	for (size_t k = 0; rc == 0 && k < c->cur.nrules; k++)
		rc = box_overlaps(&c->cur.rules[k].box, cut) ? box_cut(&c->cur.rules[k].box, cut, &c->next)
							     : ir_add(&c->next, &c->cur.rules[k].box, NULL);
	struct ir_flows t = c->cur;
	c->cur = c->next;
	c->next = t;
	return rc;
}

int diff_ir_subtract(const struct ir_flows *a, const struct ir_flows *b, struct ir_flows *out)
{
	if (!a->canonical || !b->canonical)
		return -EINVAL;
	struct cutting c = { 0 };
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < a->nboxes; i++) {
		c.cur.nrules = 0;
		rc = ir_add(&c.cur, &a->boxes[i], NULL);
		if (rc == 0)
			rc = for_candidates(b, &a->boxes[i], cut_one, &c);
		for (size_t k = 0; rc == 0 && k < c.cur.nrules; k++)
			rc = ir_add(out, &c.cur.rules[k].box, NULL);
	}
	ir_free(&c.cur);
	ir_free(&c.next);
	return rc < 0 ? rc : ir_canonicalize(out);
}

#define MAX(x, y) ((x) > (y) ? (x) : (y))
#define MIN(x, y) ((x) < (y) ? (x) : (y))

struct meeting {
	const struct ir_box *a;
	struct ir_flows *out;
};

static int meet_one(const struct ir_box *y, void *arg)
{
	const struct meeting *m = arg;
	const struct ir_box *x = m->a;
	struct ir_box c = {
		.family = x->family, .proto = x->proto,
		.port_lo = MAX(x->port_lo, y->port_lo), .port_hi = MIN(x->port_hi, y->port_hi),
		.dst_lo = MAX(x->dst_lo, y->dst_lo), .dst_hi = MIN(x->dst_hi, y->dst_hi),
		.src_lo = MAX(x->src_lo, y->src_lo), .src_hi = MIN(x->src_hi, y->src_hi),
	};
	return ir_add(m->out, &c, NULL);
}

int diff_ir_intersect(const struct ir_flows *a, const struct ir_flows *b, struct ir_flows *out)
{
	if (!a->canonical || !b->canonical)
		return -EINVAL;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < a->nboxes; i++) {
		struct meeting m = { &a->boxes[i], out };
		rc = for_candidates(b, &a->boxes[i], meet_one, &m);
	}
	return rc < 0 ? rc : ir_canonicalize(out);
}

