/* addr: addresses and ranges as numbers and as text, address sets. */
#include "addr.h"
#include "mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

addr_u128 addr_family_max(enum addr_family family)
{
	return family == ADDR_V4 ? (addr_u128)0xffffffffu : ADDR_U128_MAX;
}

bool addr_parse(const char *s, enum addr_family *family, addr_u128 *addr)
{
	uint8_t b[16];
	int len;
	if (inet_pton(AF_INET, s, b) == 1) {
		*family = ADDR_V4;
		len = 4;
	} else if (inet_pton(AF_INET6, s, b) == 1) {
		*family = ADDR_V6;
		len = 16;
	} else
		return false;
	addr_u128 v = 0;
	for (int i = 0; i < len; i++)
		v = v << 8 | b[i];
	*addr = v;
	return true;
}

void addr_to_bytes(enum addr_family family, addr_u128 addr, uint8_t *out)
{
	int len = family == ADDR_V4 ? 4 : 16;
	for (int i = len - 1; i >= 0; i--) {
		out[i] = (uint8_t)addr;
		addr >>= 8;
	}
}

char *addr_format(enum addr_family family, addr_u128 addr, char *buf)
{
	uint8_t b[16];
	addr_to_bytes(family, addr, b);
	if (!inet_ntop(family == ADDR_V4 ? AF_INET : AF_INET6, b, buf, ADDR_STRLEN))
		strcpy(buf, "?");
	return buf;
}

static unsigned family_bits(enum addr_family family)
{
	return family == ADDR_V4 ? 32 : 128;
}

/* Host mask of a prefix of length LEN: the low (bits - LEN) bits set. */
static addr_u128 host_mask(enum addr_family family, unsigned len)
{
	unsigned host = family_bits(family) - len;
	return host >= 128 ? ADDR_U128_MAX : (((addr_u128)1 << host) - 1);
}

bool addr_range_parse(const char *s, bool loose, enum addr_family *family, addr_u128 *lo, addr_u128 *hi)
{
	char buf[128];
	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	char *slash = strchr(buf, '/'), *dash = strchr(buf, '-');
	if (slash && dash)
		return false;
	if (dash) {
		enum addr_family f2;
		*dash = '\0';
		if (!addr_parse(buf, family, lo) || !addr_parse(dash + 1, &f2, hi))
			return false;
		return f2 == *family && *lo <= *hi;
	}
	if (slash)
		*slash = '\0';
	if (!addr_parse(buf, family, lo))
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
	addr_u128 mask = host_mask(*family, len);
	if ((*lo & mask) && !loose)
		return false;
	*lo &= ~mask;
	*hi = *lo | mask;
	return true;
}

bool addr_range_is_prefix(enum addr_family family, addr_u128 lo, addr_u128 hi, unsigned *len)
{
	/* A prefix: HI - LO is a host mask (2^k - 1) and LO has no host bits. */
	addr_u128 m = hi - lo;
	if (hi < lo || (m & (m + 1)) != 0 || (lo & m) != 0 || hi > addr_family_max(family))
		return false;
	unsigned host = 0;
	for (; m; m >>= 1)
		host++;
	*len = family_bits(family) - host;
	return true;
}

char *addr_range_format(enum addr_family family, addr_u128 lo, addr_u128 hi, char *buf)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	unsigned len;
	addr_format(family, lo, a);
	if (lo == hi)
		snprintf(buf, ADDR_RANGE_STRLEN, "%s", a);
	else if (addr_range_is_prefix(family, lo, hi, &len))
		snprintf(buf, ADDR_RANGE_STRLEN, "%s/%u", a, len);
	else
		snprintf(buf, ADDR_RANGE_STRLEN, "%s-%s", a, addr_format(family, hi, b));
	return buf;
}

size_t addr_range_prefixes(enum addr_family family, addr_u128 lo, addr_u128 hi,
			 void (*fn)(addr_u128 net, unsigned len, void *arg), void *arg)
{
	size_t n = 0;
	unsigned bits = family_bits(family);
	for (;;) {
		/* The largest aligned block at LO that stays within HI. */
		unsigned len = 0;
		while (len < bits && ((lo & host_mask(family, len)) != 0 ||
				      (lo | host_mask(family, len)) > hi))
			len++;
		addr_u128 last = lo | host_mask(family, len);
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

int addr_set_add(struct addr_set *s, enum addr_family family, addr_u128 lo, addr_u128 hi)
{
	if (MEM_RESERVE(s->v, s->cap, s->n + 1) < 0)
		return -ENOMEM;
	s->v[s->n++] = (struct addr_range){ .family = (uint8_t)family, .lo = lo, .hi = hi };
	return 0;
}

int addr_set_add_all(struct addr_set *s, const struct addr_set *from)
{
	for (size_t i = 0; i < from->n; i++) {
		int rc = addr_set_add(s, from->v[i].family, from->v[i].lo, from->v[i].hi);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int cmp_range(const void *pa, const void *pb)
{
	const struct addr_range *a = pa, *b = pb;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = addr_cmp(a->lo, b->lo);
	return c ? c : addr_cmp(a->hi, b->hi);
}

void addr_set_merge(struct addr_set *s)
{
	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_range);
	size_t out = 0;
	for (size_t i = 1; i < s->n; i++) {
		struct addr_range *cur = &s->v[out], *r = &s->v[i];
		if (r->family == cur->family && (cur->hi == ADDR_U128_MAX || r->lo <= cur->hi + 1)) {
			if (r->hi > cur->hi)
				cur->hi = r->hi;
		} else
			s->v[++out] = *r;
	}
	s->n = out + 1;
}

bool addr_set_overlaps(const struct addr_set *s, enum addr_family family, addr_u128 lo, addr_u128 hi)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].family == family && s->v[i].lo <= hi && lo <= s->v[i].hi)
			return true;
	return false;
}

bool addr_set_contains(const struct addr_set *s, enum addr_family family, addr_u128 lo, addr_u128 hi)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].family == family && s->v[i].lo <= lo && hi <= s->v[i].hi)
			return true;
	return false;
}

bool addr_set_merged_overlaps(const struct addr_set *s, enum addr_family family, addr_u128 lo, addr_u128 hi)
{
	/* Merged: sorted by (family, lo), disjoint, so also by hi: find the
	 * first range of FAMILY ending at or after LO. */
	size_t a = 0, b = s->n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		const struct addr_range *r = &s->v[mid];
		if (r->family < family || (r->family == family && r->hi < lo))
			a = mid + 1;
		else
			b = mid;
	}
	return a < s->n && s->v[a].family == family && s->v[a].lo <= hi;
}

/* A range addr_set_remove emptied, dropped when it is done. */
#define RANGE_GONE 0xff

int addr_set_remove(struct addr_set *s, enum addr_family family, addr_u128 lo, addr_u128 hi)
{
	size_t n = s->n, kept = 0;
	for (size_t i = 0; i < n; i++) {
		struct addr_range r = s->v[i];
		if (r.family != family || r.hi < lo || r.lo > hi)
			continue;
		if (r.lo < lo && addr_set_add(s, family, r.lo, lo - 1) < 0)
			return -ENOMEM;
		if (r.hi > hi && addr_set_add(s, family, hi + 1, r.hi) < 0)
			return -ENOMEM;
		s->v[i].family = RANGE_GONE;
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].family != RANGE_GONE)
			s->v[kept++] = s->v[i];
	s->n = kept;
	return 0;
}

void addr_set_free(struct addr_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
