/* addr: IP addresses and address ranges as numbers, and as text.
 *
 * An address is a 128-bit value within its family: IPv4 addresses are
 * 0 .. 2^32-1 in family ADDR_V4 (not v4-mapped), IPv6 addresses
 * 0 .. 2^128-1 in family ADDR_V6.  A range is closed, [lo, hi], within one
 * family.  The policy, the inventory and the flow IR all count in these. */
#ifndef ADDR_H
#define ADDR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 addr_u128;

#define ADDR_U128_MAX (~(addr_u128)0)

enum addr_family { ADDR_V4 = 4, ADDR_V6 = 6 };

/* Longest text addr_format / addr_range_format write, with the NUL. */
#define ADDR_STRLEN 40
#define ADDR_RANGE_STRLEN 96

/* -1, 0 or 1 as A is below, equal to or above B (for sorting). */
static inline int addr_cmp(addr_u128 a, addr_u128 b)
{
	return a < b ? -1 : a > b;
}

/* The largest address of FAMILY: 2^32-1 or 2^128-1. */
addr_u128 addr_family_max(enum addr_family family);

/* addr_parse accepts dotted-quad IPv4 and RFC 4291 IPv6 text (no zone, no
 * v4-mapped rewriting); true on success. */
bool addr_parse(const char *s, enum addr_family *family, addr_u128 *addr);
/* "A", "A/LEN" (host bits must be zero unless LOOSE) or "A-B" (same family,
 * A <= B).  true on success. */
bool addr_range_parse(const char *s, bool loose, enum addr_family *family, addr_u128 *lo, addr_u128 *hi);
/* Into BUF (ADDR_STRLEN): dotted quad, or RFC 5952 IPv6. */
char *addr_format(enum addr_family family, addr_u128 addr, char *buf);
/* Into BUF (ADDR_RANGE_STRLEN): "A" for one address, "A/LEN" for a prefix,
 * otherwise "A-B". */
char *addr_range_format(enum addr_family family, addr_u128 lo, addr_u128 hi, char *buf);
/* Network byte order, 4 or 16 bytes. */
void addr_to_bytes(enum addr_family family, addr_u128 addr, uint8_t *out);
/* Split [LO, HI] into the fewest prefixes, ascending: calls FN with each
 * (network address, prefix length).  Returns the number of prefixes. */
size_t addr_range_prefixes(enum addr_family family, addr_u128 lo, addr_u128 hi,
			   void (*fn)(addr_u128 net, unsigned len, void *arg), void *arg);
/* Is [LO, HI] exactly one prefix?  Sets *LEN. */
bool addr_range_is_prefix(enum addr_family family, addr_u128 lo, addr_u128 hi, unsigned *len);

/* A set of address ranges (both families), as built by name resolution.
 * addr_set_add keeps entries as added (order and duplicates); addr_set_merge
 * sorts by (family, lo) and merges overlapping or adjacent ranges. */
struct addr_range {
	uint8_t family;
	addr_u128 lo, hi;
};
struct addr_set {
	struct addr_range *v;
	size_t n, cap;
};
int addr_set_add(struct addr_set *s, enum addr_family family, addr_u128 lo, addr_u128 hi);
int addr_set_add_all(struct addr_set *s, const struct addr_set *from);
void addr_set_merge(struct addr_set *s);
/* Does [LO, HI] of FAMILY overlap any range of S?  Is it inside one? */
bool addr_set_overlaps(const struct addr_set *s, enum addr_family family, addr_u128 lo, addr_u128 hi);
bool addr_set_contains(const struct addr_set *s, enum addr_family family, addr_u128 lo, addr_u128 hi);
/* The same on a merged set (addr_set_merge), by bisection. */
bool addr_set_merged_overlaps(const struct addr_set *s, enum addr_family family, addr_u128 lo, addr_u128 hi);
/* Take [LO, HI] of FAMILY out of S (splitting the ranges it cuts).  0 or
 * -ENOMEM. */
int addr_set_remove(struct addr_set *s, enum addr_family family, addr_u128 lo, addr_u128 hi);
void addr_set_free(struct addr_set *s);

#endif
