/* ir: the flow IR's rules, address and range helpers, address sets (the
 * canonical form is ir_canon.c). */
#include "ir.h"
#include "mem.h"

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
	if (MEM_RESERVE(f->rules, f->caprules, f->nrules + 1) < 0)
		return -ENOMEM;
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

static int u128_cmp(ir_u128 a, ir_u128 b)
{
	return a < b ? -1 : a > b;
}

static bool box_same(const struct ir_box *a, const struct ir_box *b)
{
	return a->family == b->family && a->proto == b->proto && a->port_lo == b->port_lo &&
	       a->port_hi == b->port_hi && a->dst_lo == b->dst_lo && a->dst_hi == b->dst_hi &&
	       a->src_lo == b->src_lo && a->src_hi == b->src_hi;
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

bool ir_rules_same(const struct ir_flows *a, const struct ir_flows *b)
{
	if (a->nrules != b->nrules)
		return false;
	for (size_t i = 0; i < a->nrules; i++)
		if (!box_same(&a->rules[i].box, &b->rules[i].box))
			return false;
	return true;
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
	/* A prefix: HI - LO is a host mask (2^k - 1) and LO has no host bits. */
	ir_u128 m = hi - lo;
	if (hi < lo || (m & (m + 1)) != 0 || (lo & m) != 0 || hi > ir_family_max(family))
		return false;
	unsigned host = 0;
	for (; m; m >>= 1)
		host++;
	*len = family_bits(family) - host;
	return true;
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
	if (MEM_RESERVE(s->v, s->cap, s->n + 1) < 0)
		return -ENOMEM;
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
