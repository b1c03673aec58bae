/* ir_setops: set operations on canonical flow IR (A \ B, A n B), the
 * ground under `aclc diff`.
 *
 * Both sides are co-swept cell by cell, per family and protocol: the port
 * axis is cut at both sides' slice edges, and within each port piece the
 * destination axis at both sides' cell edges.  Each resulting piece has a
 * source set on side A, on side B, or both; the answer's source set there
 * is the difference or intersection of two sorted range lists (a linear
 * merge), memoised per pair of sets, and nothing when the two sets hold the
 * same ranges.  The pieces arrive in canonical order and go through the IR
 * builder, which coalesces them: the output is canonical. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "mem.h"

#define NONE UINT32_MAX

/* Memo of (set of A, set of B or NONE) -> set of OUT or NONE (empty). */
struct memo_entry {
	uint64_t key;
	uint32_t set;
	bool used;
};

struct setop {
	const struct ir_flows *a, *b;
	struct ir_flows *out;
	bool subtract;
	struct memo_entry *memo;
	size_t capmemo, nmemo;
	struct ir_span *buf;
	size_t capbuf;
	struct ir_builder bld;
};

static uint64_t memo_hash(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	return x ^ (x >> 33);
}

static struct memo_entry *memo_slot(struct setop *o, uint64_t key)
{
	size_t k = memo_hash(key) & (o->capmemo - 1);
	while (o->memo[k].used && o->memo[k].key != key)
		k = (k + 1) & (o->capmemo - 1);
	return &o->memo[k];
}

static int memo_reserve(struct setop *o)
{
	if ((o->nmemo + 1) * 2 <= o->capmemo)
		return 0;
	size_t cap = o->capmemo ? 2 * o->capmemo : 256;
	struct memo_entry *old = o->memo, *nv = calloc(cap, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	size_t oldcap = o->capmemo;
	o->memo = nv;
	o->capmemo = cap;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].used)
			*memo_slot(o, old[i].key) = old[i];
	free(old);
	return 0;
}

/* X \ Y or X n Y of two sorted, disjoint range lists, into O->buf. */
static size_t spans_op(struct setop *o, const struct ir_span *x, size_t nx, const struct ir_span *y, size_t ny)
{
	size_t n = 0, j = 0;
	for (size_t i = 0; i < nx; i++) {
		addr_u128 lo = x[i].lo, hi = x[i].hi;
		bool more = true;
		while (j < ny && y[j].hi < lo)   /* ranges of Y wholly before this one */
			j++;
		for (size_t k = j; more && k < ny && y[k].lo <= hi; k++) {
			if (o->subtract) {
				if (y[k].lo > lo)
					o->buf[n++] = (struct ir_span){ lo, y[k].lo - 1 };
				if (y[k].hi >= hi)
					more = false;
				else
					lo = y[k].hi + 1;
			} else
				o->buf[n++] = (struct ir_span){ y[k].lo > lo ? y[k].lo : lo, y[k].hi < hi ? y[k].hi : hi };
		}
		if (o->subtract && more)
			o->buf[n++] = (struct ir_span){ lo, hi };
	}
	return n;
}

/* The set of OUT for the piece where A has set SA and B set SB (NONE:
 * B has nothing there); *SET NONE when the piece is empty. */
static int piece_set(struct setop *o, uint32_t sa, uint32_t sb, uint32_t *set)
{
	uint64_t key = (uint64_t)sa << 32 | sb;
	int rc = memo_reserve(o);
	if (rc < 0)
		return rc;
	struct memo_entry *e = memo_slot(o, key);
	if (e->used) {
		*set = e->set;
		return 0;
	}
	size_t nx, ny = 0, n;
	const struct ir_span *x = ir_set_spans(o->a, sa, &nx), *y = sb == NONE ? NULL : ir_set_spans(o->b, sb, &ny);
	*set = NONE;
	if (sb != NONE && ir_set_equal(o->a, sa, o->b, sb))
		n = o->subtract ? 0 : nx;
	else {
		/* Each range of X yields at most one more piece per range of Y. */
		size_t need = nx + ny + 1;
		if (MEM_RESERVE(o->buf, o->capbuf, need) < 0)
			return -ENOMEM;
		n = spans_op(o, x, nx, y, ny);
		x = o->buf;
	}
	if (n > 0 && (rc = ir_intern(o->out, x, n, set)) < 0)
		return rc;
	e = memo_slot(o, key);   /* (no growth since the reserve above) */
	*e = (struct memo_entry){ .key = key, .set = *set, .used = true };
	o->nmemo++;
	return 0;
}

/* The end of the slice (cells of one port range) starting at cell I. */
static size_t slab_end(const struct ir_flows *f, size_t i, size_t end)
{
	size_t j = i + 1;
	while (j < end && f->cells[j].port_lo == f->cells[i].port_lo)
		j++;
	return j;
}

/* One step of a co-sweep along one dimension.  A's current range [ALO, AHI]
 * and B's [BLO, BHI] (HAS_B false: B has nothing left) each cover *POS or
 * start after it.  Moves *POS to the first point either covers and returns
 * where the piece starting there ends, with whether each side covers it. */
static addr_u128 next_piece(addr_u128 *pos, addr_u128 alo, addr_u128 ahi, bool has_b, addr_u128 blo, addr_u128 bhi,
			  bool *in_a, bool *in_b)
{
	addr_u128 lo = has_b && blo < alo ? blo : alo;
	if (*pos < lo)
		*pos = lo;
	*in_a = alo <= *pos;
	*in_b = has_b && blo <= *pos;
	addr_u128 end = *in_a ? ahi : alo - 1;
	if (has_b) {
		addr_u128 e = *in_b ? bhi : blo - 1;
		if (e < end)
			end = e;
	}
	return end;
}

/* One port piece [PLO, PHI]: A's slice cells [A0, A1), B's [B0, B1)
 * (empty: that side has nothing there).  Co-sweep the destinations. */
static int dst_pieces(struct setop *o, unsigned plo, unsigned phi, size_t a0, size_t a1, size_t b0, size_t b1)
{
	const struct ir_cell *ca = o->a->cells, *cb = o->b->cells;
	const struct ir_cell *any = a0 < a1 ? &ca[a0] : &cb[b0];
	addr_u128 pos = 0;
	for (;;) {
		while (a0 < a1 && ca[a0].dst_hi < pos)
			a0++;
		while (b0 < b1 && cb[b0].dst_hi < pos)
			b0++;
		if (a0 == a1 || (!o->subtract && b0 == b1))
			return 0;   /* nothing of A left, or nothing left to meet */
		bool in_a, in_b, has_b = b0 < b1;
		addr_u128 end = next_piece(&pos, ca[a0].dst_lo, ca[a0].dst_hi, has_b, has_b ? cb[b0].dst_lo : 0,
					 has_b ? cb[b0].dst_hi : 0, &in_a, &in_b);
		uint32_t set = NONE;
		int rc;
		if (in_a && (in_b || o->subtract) && (rc = piece_set(o, ca[a0].set, in_b ? cb[b0].set : NONE, &set)) < 0)
			return rc;
		if (set != NONE &&
		    (rc = ir_build_cell(&o->bld, any->family, any->proto, (uint16_t)plo, (uint16_t)phi, pos, end, set)) < 0)
			return rc;
		if (end == ADDR_U128_MAX)
			return 0;
		pos = end + 1;
	}
}

/* The cells [A0, A1) of A and [B0, B1) of B, of one family and protocol:
 * co-sweep the port slices. */
static int port_pieces(struct setop *o, size_t a0, size_t a1, size_t b0, size_t b1)
{
	const struct ir_cell *ca = o->a->cells, *cb = o->b->cells;
	addr_u128 pos = 0;   /* wide enough for 65536, the end of the sweep */
	while (pos <= 65535) {
		while (a0 < a1 && ca[a0].port_hi < pos)
			a0 = slab_end(o->a, a0, a1);
		while (b0 < b1 && cb[b0].port_hi < pos)
			b0 = slab_end(o->b, b0, b1);
		if (a0 == a1 || (!o->subtract && b0 == b1))
			break;
		bool in_a, in_b, has_b = b0 < b1;
		addr_u128 end = next_piece(&pos, ca[a0].port_lo, ca[a0].port_hi, has_b, has_b ? cb[b0].port_lo : 0,
					 has_b ? cb[b0].port_hi : 0, &in_a, &in_b);
		if (in_a) {
			size_t ae = slab_end(o->a, a0, a1), be = in_b ? slab_end(o->b, b0, b1) : b0;
			int rc = dst_pieces(o, (unsigned)pos, (unsigned)end, a0, ae, b0, be);
			if (rc < 0)
				return rc;
		}
		pos = end + 1;
	}
	return 0;
}

static int group_cmp(const struct ir_cell *x, const struct ir_cell *y)
{
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return x->proto < y->proto ? -1 : x->proto > y->proto;
}

static int set_op(const struct ir_flows *a, const struct ir_flows *b, struct ir_flows *out, bool subtract)
{
	if (!a->canonical || !b->canonical)
		return -EINVAL;
	struct setop o = { .a = a, .b = b, .out = out, .subtract = subtract };
	int rc = 0;
	ir_build_begin(&o.bld, out);
	size_t i = 0, j = 0;
	while (i < a->ncells) {
		size_t i1 = i + 1, j1;
		while (i1 < a->ncells && group_cmp(&a->cells[i1], &a->cells[i]) == 0)
			i1++;
		while (j < b->ncells && group_cmp(&b->cells[j], &a->cells[i]) < 0)
			j++;
		for (j1 = j; j1 < b->ncells && group_cmp(&b->cells[j1], &a->cells[i]) == 0; j1++)
			;
		if ((rc = port_pieces(&o, i, i1, j, j1)) < 0)
			goto discard;
		i = i1;
		j = j1;
	}
	ir_build_end(&o.bld);
	goto free_scratch;

discard:
	ir_build_begin(&o.bld, out);   /* nothing half-built left behind */
free_scratch:
	free(o.memo);
	free(o.buf);
	return rc;
}

int ir_subtract(const struct ir_flows *a, const struct ir_flows *b, struct ir_flows *out)
{
	return set_op(a, b, out, true);
}

int ir_intersect(const struct ir_flows *a, const struct ir_flows *b, struct ir_flows *out)
{
	return set_op(a, b, out, false);
}
