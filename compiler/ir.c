/* ir: the flow IR, its canonical form, membership and address helpers. */
#include "ir.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define U128_MAX (~(ir_u128)0)

ir_u128 ir_family_max(enum ir_family family)
{
	return family == IR_V4 ? (ir_u128)0xffffffffu : U128_MAX;
}

bool ir_proto_has_ports(unsigned proto)
{
	switch (proto) {
	case IR_PROTO_TCP: case IR_PROTO_UDP: case IR_PROTO_DCCP:
	case IR_PROTO_SCTP: case IR_PROTO_UDPLITE:
		return true;
	default:
		return false;
	}
}

int ir_add(struct ir_flows *f, const struct ir_box *box, const struct diag_loc *loc)
{
	if (box->family != IR_V4 && box->family != IR_V6)
		return -EINVAL;
	ir_u128 max = ir_family_max(box->family);
	if (box->port_lo > box->port_hi || box->dst_lo > box->dst_hi || box->src_lo > box->src_hi ||
	    box->dst_hi > max || box->src_hi > max)
		return -EINVAL;
	if (f->nrules == f->caprules) {
		size_t cap = f->caprules ? 2 * f->caprules : 16;
		struct ir_rule *r = realloc(f->rules, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		f->rules = r;
		f->caprules = cap;
	}
	struct ir_rule *r = &f->rules[f->nrules++];
	memset(r, 0, sizeof(*r));
	r->box = *box;
	if (!ir_proto_has_ports(box->proto)) {
		r->box.port_lo = 0;
		r->box.port_hi = 65535;
	}
	if (loc)
		r->loc = *loc;
	f->canonical = false;
	return 0;
}

int ir_add_all(struct ir_flows *f, const struct ir_flows *from)
{
	for (size_t i = 0; i < from->nrules; i++) {
		int rc = ir_add(f, &from->rules[i].box, &from->rules[i].loc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The five dimensions, outermost first. */
enum { D_FAM, D_PROTO, D_PORT, D_DST, D_SRC };

static ir_u128 dim_lo(const struct ir_box *b, int d)
{
	switch (d) {
	case D_FAM: return b->family;
	case D_PROTO: return b->proto;
	case D_PORT: return b->port_lo;
	case D_DST: return b->dst_lo;
	default: return b->src_lo;
	}
}

static ir_u128 dim_hi(const struct ir_box *b, int d)
{
	switch (d) {
	case D_FAM: return b->family;
	case D_PROTO: return b->proto;
	case D_PORT: return b->port_hi;
	case D_DST: return b->dst_hi;
	default: return b->src_hi;
	}
}

static void dim_set(struct ir_box *b, int d, ir_u128 lo, ir_u128 hi)
{
	switch (d) {
	case D_FAM: b->family = (uint8_t)lo; break;
	case D_PROTO: b->proto = (uint8_t)lo; break;
	case D_PORT: b->port_lo = (uint16_t)lo; b->port_hi = (uint16_t)hi; break;
	case D_DST: b->dst_lo = lo; b->dst_hi = hi; break;
	default: b->src_lo = lo; b->src_hi = hi; break;
	}
}

static int u128_cmp(ir_u128 a, ir_u128 b)
{
	return a < b ? -1 : a > b;
}

static bool box_same(const struct ir_box *a, const struct ir_box *b)
{
	for (int d = D_FAM; d <= D_SRC; d++)
		if (dim_lo(a, d) != dim_lo(b, d) || dim_hi(a, d) != dim_hi(b, d))
			return false;
	return true;
}

struct boxvec {
	struct ir_box *v;
	size_t n, cap;
};

static int vec_push(struct boxvec *bv, const struct ir_box *b)
{
	if (bv->n == bv->cap) {
		size_t cap = bv->cap ? 2 * bv->cap : 8;
		struct ir_box *v = realloc(bv->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		bv->v = v;
		bv->cap = cap;
	}
	bv->v[bv->n++] = *b;
	return 0;
}

static bool vec_same(const struct boxvec *a, const struct boxvec *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!box_same(&a->v[i], &b->v[i]))
			return false;
	return true;
}

/* qsort has no context argument in C11: the dimension being sorted. */
static __thread int sort_dim;

static int cmp_ptr_lo(const void *pa, const void *pb)
{
	const struct ir_box *a = *(const struct ir_box *const *)pa, *b = *(const struct ir_box *const *)pb;
	int c = u128_cmp(dim_lo(a, sort_dim), dim_lo(b, sort_dim));
	return c ? c : u128_cmp(dim_hi(a, sort_dim), dim_hi(b, sort_dim));
}

static int cmp_u128(const void *pa, const void *pb)
{
	return u128_cmp(*(const ir_u128 *)pa, *(const ir_u128 *)pb);
}

/* Innermost dimension: merge the ranges of IN into OUT (only dimension D set). */
static int canon_last(const struct ir_box **in, size_t n, int d, struct boxvec *out)
{
	sort_dim = d;
	qsort(in, n, sizeof(*in), cmp_ptr_lo);
	size_t i = 0;
	while (i < n) {
		ir_u128 lo = dim_lo(in[i], d), hi = dim_hi(in[i], d);
		for (i++; i < n && hi != U128_MAX && dim_lo(in[i], d) <= hi + 1; i++)
			if (dim_hi(in[i], d) > hi)
				hi = dim_hi(in[i], d);
		if (hi == U128_MAX)
			i = n;
		struct ir_box b = { 0 };
		dim_set(&b, d, lo, hi);
		int rc = vec_push(out, &b);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int canon(const struct ir_box **in, size_t n, int d, struct boxvec *out);

/* Emit the slab [LO, HI] of dimension D with sub-structure SUB into OUT. */
static int emit_slab(struct boxvec *out, int d, ir_u128 lo, ir_u128 hi, const struct boxvec *sub)
{
	for (size_t i = 0; i < sub->n; i++) {
		struct ir_box b = sub->v[i];
		dim_set(&b, d, lo, hi);
		int rc = vec_push(out, &b);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Sweep dimension D: cut at every edge, canonicalise each slice's boxes in
 * the remaining dimensions, coalesce adjacent slices with equal results. */
static int canon_sweep(const struct ir_box **in, size_t n, int d, struct boxvec *out)
{
	int rc = -ENOMEM;
	ir_u128 *cuts = malloc(2 * n * sizeof(*cuts));
	const struct ir_box **active = malloc(n * sizeof(*active));
	struct boxvec prev = { 0 }, cur = { 0 };
	ir_u128 prev_lo = 0, prev_hi = 0;
	bool have_prev = false;
	if (!cuts || !active)
		goto out_free;
	size_t ncuts = 0;
	for (size_t i = 0; i < n; i++) {
		cuts[ncuts++] = dim_lo(in[i], d);
		if (dim_hi(in[i], d) != U128_MAX)
			cuts[ncuts++] = dim_hi(in[i], d) + 1;
	}
	qsort(cuts, ncuts, sizeof(*cuts), cmp_u128);
	sort_dim = d;
	qsort(in, n, sizeof(*in), cmp_ptr_lo);
	size_t nact = 0, next = 0;
	for (size_t c = 0; c < ncuts; c++) {
		if (c > 0 && cuts[c] == cuts[c - 1])
			continue;
		ir_u128 at = cuts[c];
		size_t c2 = c + 1;
		while (c2 < ncuts && cuts[c2] == at)
			c2++;
		ir_u128 end = c2 < ncuts ? cuts[c2] - 1 : U128_MAX;
		size_t keep = 0;
		for (size_t i = 0; i < nact; i++)
			if (dim_hi(active[i], d) >= at)
				active[keep++] = active[i];
		nact = keep;
		while (next < n && dim_lo(in[next], d) <= at)
			active[nact++] = in[next++];
		if (nact == 0)
			continue;
		/* canon() reorders its input: hand it a copy of the active set. */
		const struct ir_box **sub_in = malloc(nact * sizeof(*sub_in));
		if (!sub_in)
			goto out_free;
		memcpy(sub_in, active, nact * sizeof(*sub_in));
		cur.n = 0;
		rc = canon(sub_in, nact, d + 1, &cur);
		free(sub_in);
		sort_dim = d;
		if (rc < 0)
			goto out_free;
		/* Family and protocol are single values in a box: never coalesce them. */
		if (have_prev && d > D_PROTO && prev_hi + 1 == at && vec_same(&prev, &cur)) {
			prev_hi = end;
			continue;
		}
		if (have_prev && (rc = emit_slab(out, d, prev_lo, prev_hi, &prev)) < 0)
			goto out_free;
		struct boxvec t = prev;
		prev = cur;
		cur = t;
		prev_lo = at;
		prev_hi = end;
		have_prev = true;
	}
	rc = have_prev ? emit_slab(out, d, prev_lo, prev_hi, &prev) : 0;
out_free:
	free(prev.v);
	free(cur.v);
	free(active);
	free(cuts);
	return rc;
}

static int canon(const struct ir_box **in, size_t n, int d, struct boxvec *out)
{
	return d == D_SRC ? canon_last(in, n, d, out) : canon_sweep(in, n, d, out);
}

int ir_canonicalize(struct ir_flows *f)
{
	struct boxvec out = { 0 };
	const struct ir_box **in = NULL;
	int rc = 0;
	if (f->nrules) {
		in = malloc(f->nrules * sizeof(*in));
		if (!in)
			return -ENOMEM;
		for (size_t i = 0; i < f->nrules; i++)
			in[i] = &f->rules[i].box;
		rc = canon(in, f->nrules, D_FAM, &out);
		free(in);
		if (rc < 0) {
			free(out.v);
			return rc;
		}
	}
	free(f->boxes);
	f->boxes = out.v;
	f->nboxes = out.n;
	f->canonical = true;
	return 0;
}

bool ir_equal(const struct ir_flows *a, const struct ir_flows *b)
{
	if (a->nboxes != b->nboxes)
		return false;
	for (size_t i = 0; i < a->nboxes; i++)
		if (!box_same(&a->boxes[i], &b->boxes[i]))
			return false;
	return true;
}

bool ir_rules_same(const struct ir_flows *a, const struct ir_flows *b)
{
	if (a->nrules != b->nrules)
		return false;
	for (size_t i = 0; i < a->nrules; i++)
		if (!box_same(&a->rules[i].box, &b->rules[i].box))
			return false;
	return true;
}

static bool box_has(const struct ir_box *b, enum ir_family family, unsigned proto,
		    ir_u128 src, ir_u128 dst, unsigned dport)
{
	return b->family == family && b->proto == proto &&
	       (!ir_proto_has_ports(proto) || (dport >= b->port_lo && dport <= b->port_hi)) &&
	       dst >= b->dst_lo && dst <= b->dst_hi && src >= b->src_lo && src <= b->src_hi;
}

bool ir_match(const struct ir_flows *f, enum ir_family family, unsigned proto,
	      ir_u128 src, ir_u128 dst, unsigned dport)
{
	for (size_t i = 0; i < f->nboxes; i++)
		if (box_has(&f->boxes[i], family, proto, src, dst, dport))
			return true;
	return false;
}

size_t ir_explain(const struct ir_flows *f, enum ir_family family, unsigned proto,
		  ir_u128 src, ir_u128 dst, unsigned dport,
		  void (*fn)(const struct ir_rule *rule, void *arg), void *arg)
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

void ir_free(struct ir_flows *f)
{
	free(f->rules);
	free(f->boxes);
	memset(f, 0, sizeof(*f));
}

/* ---- addresses ---- */

bool ir_addr_parse(const char *s, enum ir_family *family, ir_u128 *addr)
{
	uint8_t b[16];
	int len;
	if (inet_pton(AF_INET, s, b) == 1) {
		*family = IR_V4;
		len = 4;
	} else if (inet_pton(AF_INET6, s, b) == 1) {
		*family = IR_V6;
		len = 16;
	} else
		return false;
	ir_u128 v = 0;
	for (int i = 0; i < len; i++)
		v = v << 8 | b[i];
	*addr = v;
	return true;
}

void ir_addr_to_bytes(enum ir_family family, ir_u128 addr, uint8_t *out)
{
	int len = family == IR_V4 ? 4 : 16;
	for (int i = len - 1; i >= 0; i--) {
		out[i] = (uint8_t)addr;
		addr >>= 8;
	}
}

char *ir_addr_format(enum ir_family family, ir_u128 addr, char *buf)
{
	uint8_t b[16];
	ir_addr_to_bytes(family, addr, b);
	if (!inet_ntop(family == IR_V4 ? AF_INET : AF_INET6, b, buf, IR_ADDR_STRLEN))
		strcpy(buf, "?");
	return buf;
}

static unsigned family_bits(enum ir_family family)
{
	return family == IR_V4 ? 32 : 128;
}

/* Host mask of a prefix of length LEN: the low (bits - LEN) bits set. */
static ir_u128 host_mask(enum ir_family family, unsigned len)
{
	unsigned host = family_bits(family) - len;
	return host >= 128 ? U128_MAX : (((ir_u128)1 << host) - 1);
}

bool ir_range_parse(const char *s, bool loose, enum ir_family *family, ir_u128 *lo, ir_u128 *hi)
{
	char buf[128];
	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	char *slash = strchr(buf, '/'), *dash = strchr(buf, '-');
	if (slash && dash)
		return false;
	if (dash) {
		enum ir_family f2;
		*dash = '\0';
		if (!ir_addr_parse(buf, family, lo) || !ir_addr_parse(dash + 1, &f2, hi))
			return false;
		return f2 == *family && *lo <= *hi;
	}
	if (slash)
		*slash = '\0';
	if (!ir_addr_parse(buf, family, lo))
		return false;
	if (!slash) {
		*hi = *lo;
		return true;
	}
	const char *p = slash + 1;
	if (!*p || strlen(p) > 3 || (p[0] == '0' && p[1]))
		return false;
	unsigned len = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		len = len * 10 + (unsigned)(*p - '0');
	}
	if (len > family_bits(*family))
		return false;
	ir_u128 mask = host_mask(*family, len);
	if ((*lo & mask) && !loose)
		return false;
	*lo &= ~mask;
	*hi = *lo | mask;
	return true;
}

bool ir_range_is_prefix(enum ir_family family, ir_u128 lo, ir_u128 hi, unsigned *len)
{
	for (unsigned l = 0; l <= family_bits(family); l++) {
		ir_u128 mask = host_mask(family, l);
		if ((lo & mask) == 0 && hi == (lo | mask)) {
			*len = l;
			return true;
		}
	}
	return false;
}

char *ir_range_format(enum ir_family family, ir_u128 lo, ir_u128 hi, char *buf)
{
	char a[IR_ADDR_STRLEN], b[IR_ADDR_STRLEN];
	unsigned len;
	ir_addr_format(family, lo, a);
	if (lo == hi)
		snprintf(buf, IR_RANGE_STRLEN, "%s", a);
	else if (ir_range_is_prefix(family, lo, hi, &len))
		snprintf(buf, IR_RANGE_STRLEN, "%s/%u", a, len);
	else
		snprintf(buf, IR_RANGE_STRLEN, "%s-%s", a, ir_addr_format(family, hi, b));
	return buf;
}

size_t ir_range_prefixes(enum ir_family family, ir_u128 lo, ir_u128 hi,
			 void (*fn)(ir_u128 net, unsigned len, void *arg), void *arg)
{
	size_t n = 0;
	unsigned bits = family_bits(family);
	for (;;) {
		/* The largest aligned block at LO that stays within HI. */
		unsigned len = 0;
		while (len < bits && ((lo & host_mask(family, len)) != 0 ||
				      (lo | host_mask(family, len)) > hi))
			len++;
		ir_u128 last = lo | host_mask(family, len);
		if (fn)
			fn(lo, len, arg);
		n++;
		if (last >= hi)
			break;
		lo = last + 1;
	}
	return n;
}

/* ---- address sets ---- */

int ir_aset_add(struct ir_aset *s, enum ir_family family, ir_u128 lo, ir_u128 hi)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct ir_range *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct ir_range){ .family = (uint8_t)family, .lo = lo, .hi = hi };
	return 0;
}

int ir_aset_add_all(struct ir_aset *s, const struct ir_aset *from)
{
	for (size_t i = 0; i < from->n; i++) {
		int rc = ir_aset_add(s, from->v[i].family, from->v[i].lo, from->v[i].hi);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int cmp_range(const void *pa, const void *pb)
{
	const struct ir_range *a = pa, *b = pb;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = u128_cmp(a->lo, b->lo);
	return c ? c : u128_cmp(a->hi, b->hi);
}

void ir_aset_merge(struct ir_aset *s)
{
	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_range);
	size_t out = 0;
	for (size_t i = 1; i < s->n; i++) {
		struct ir_range *cur = &s->v[out], *r = &s->v[i];
		if (r->family == cur->family && (cur->hi == U128_MAX || r->lo <= cur->hi + 1)) {
			if (r->hi > cur->hi)
				cur->hi = r->hi;
		} else
			s->v[++out] = *r;
	}
	s->n = out + 1;
}

bool ir_aset_overlaps(const struct ir_aset *s, enum ir_family family, ir_u128 lo, ir_u128 hi)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].family == family && s->v[i].lo <= hi && lo <= s->v[i].hi)
			return true;
	return false;
}

bool ir_aset_contains(const struct ir_aset *s, enum ir_family family, ir_u128 lo, ir_u128 hi)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].family == family && s->v[i].lo <= lo && hi <= s->v[i].hi)
			return true;
	return false;
}

bool ir_aset_merged_overlaps(const struct ir_aset *s, enum ir_family family, ir_u128 lo, ir_u128 hi)
{
	/* Merged: sorted by (family, lo), disjoint, so also by hi: find the
	 * first range of FAMILY ending at or after LO. */
	size_t a = 0, b = s->n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		const struct ir_range *r = &s->v[mid];
		if (r->family < family || (r->family == family && r->hi < lo))
			a = mid + 1;
		else
			b = mid;
	}
	return a < s->n && s->v[a].family == family && s->v[a].lo <= hi;
}

void ir_aset_free(struct ir_aset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- dump ---- */

const char *ir_proto_name(unsigned proto, char buf[8])
{
	switch (proto) {
	case IR_PROTO_ICMP: return "icmp";
	case IR_PROTO_TCP: return "tcp";
	case IR_PROTO_UDP: return "udp";
	case IR_PROTO_DCCP: return "dccp";
	case IR_PROTO_ICMPV6: return "icmpv6";
	case IR_PROTO_SCTP: return "sctp";
	case IR_PROTO_UDPLITE: return "udplite";
	default:
		snprintf(buf, 8, "%u", proto);
		return buf;
	}
}

void ir_dump(FILE *out, const struct ir_flows *f, const char *indent)
{
	for (size_t i = 0; i < f->nboxes; i++) {
		const struct ir_box *b = &f->boxes[i];
		enum ir_family fam = b->family;
		char pb[8], dst[IR_RANGE_STRLEN], src[IR_RANGE_STRLEN];
		fprintf(out, "%sv%u %s", indent, b->family, ir_proto_name(b->proto, pb));
		if (ir_proto_has_ports(b->proto)) {
			if (b->port_lo == 0 && b->port_hi == 65535)
				fprintf(out, " *");
			else if (b->port_lo == b->port_hi)
				fprintf(out, " %u", b->port_lo);
			else
				fprintf(out, " %u-%u", b->port_lo, b->port_hi);
		}
		fprintf(out, " dst %s src %s\n", ir_range_format(fam, b->dst_lo, b->dst_hi, dst),
			ir_range_format(fam, b->src_lo, b->src_hi, src));
	}
}
