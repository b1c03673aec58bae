/* ir: the flow IR.  For one node, the set of packets it accepts, as a list of
 * boxes in a five-dimensional space:
 *
 *     family x protocol x destination port x destination address x source address
 *
 * Every dimension is a closed range [lo, hi].  Addresses are 128-bit values
 * within their family: IPv4 addresses are 0 .. 2^32-1 in family IR_V4 (not
 * v4-mapped), IPv6 addresses 0 .. 2^128-1 in family IR_V6.  Source and
 * destination of one box are always in the box's family.
 *
 * Ports carry meaning only for the protocols ir_proto_has_ports() names
 * (TCP 6, UDP 17, DCCP 33, SCTP 132, UDP-Lite 136: the ones whose transport
 * header starts with 16-bit source and destination ports, so nftables' `th
 * dport` reads them).  For every other protocol a box's port range is always
 * the full range 0-65535; ir_add() widens it, so that a rule written with a
 * port for ICMP allows exactly what the same rule without the port allows.
 *
 * Canonical form (ir_canonicalize): the boxes are the unique decomposition
 * obtained by sweeping the dimensions in the fixed order
 *     family -> protocol -> port -> destination -> source,
 * cutting each dimension at every box edge and coalescing adjacent slices
 * whose remaining sub-structure is equal; the innermost (source) ranges are
 * merged where they touch or overlap.  The result depends only on the set of
 * packets, so two rule sets that allow the same packets give identical
 * canonical boxes (ir_equal compares them), sorted by (family, proto,
 * port_lo, dst_lo, src_lo), pairwise disjoint.
 *
 * Provenance: the rules as added (before canonicalisation), each with the
 * location of the policy entry that produced it, stay in `rules`, so that a
 * later stage can name the policy line behind a flow. */
#ifndef IR_H
#define IR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

typedef unsigned __int128 ir_u128;

enum ir_family { IR_V4 = 4, IR_V6 = 6 };

#define IR_PROTO_ICMP   1
#define IR_PROTO_TCP    6
#define IR_PROTO_UDP    17
#define IR_PROTO_DCCP   33
#define IR_PROTO_ICMPV6 58
#define IR_PROTO_SCTP   132
#define IR_PROTO_UDPLITE 136
/* Longest text ir_addr_format / ir_range_format write, with the NUL. */
#define IR_ADDR_STRLEN 40
#define IR_RANGE_STRLEN 96

struct ir_box {
	uint8_t family;            /* IR_V4 or IR_V6 */
	uint8_t proto;             /* IP protocol number */
	uint16_t port_lo, port_hi; /* destination port; 0-65535 for portless protocols */
	ir_u128 dst_lo, dst_hi;
	ir_u128 src_lo, src_hi;
};

/* One rule as added, with where in the policy it came from. */
struct ir_rule {
	struct ir_box box;
	struct diag_loc loc;   /* line 0 / src NULL: no location */
};

struct ir_flows {
	struct ir_rule *rules;   /* provenance, in the order added */
	size_t nrules, caprules;
	struct ir_box *boxes;    /* canonical boxes, valid once canonical */
	size_t nboxes;
	bool canonical;          /* false again after every ir_add */
};

/* The largest address of FAMILY: 2^32-1 or 2^128-1. */
ir_u128 ir_family_max(enum ir_family family);
/* Protocols whose destination port is meaningful (see above). */
bool ir_proto_has_ports(unsigned proto);

/* Add one rule.  Empty or inverted ranges, or addresses beyond the family's
 * range, are -EINVAL; the port range of a portless protocol is widened.
 * 0 or -errno. */
int ir_add(struct ir_flows *f, const struct ir_box *box, const struct diag_loc *loc);
/* Append every rule of FROM to F (provenance kept).  0 or -errno. */
int ir_add_all(struct ir_flows *f, const struct ir_flows *from);
/* Compute the canonical boxes from the rules.  0 or -errno. */
int ir_canonicalize(struct ir_flows *f);
/* Same set of packets.  Both must be canonical. */
bool ir_equal(const struct ir_flows *a, const struct ir_flows *b);
/* The same rules (boxes, locations aside) in the same order: then the same
 * packets, without canonicalising.  (Different rules may still be equal.) */
bool ir_rules_same(const struct ir_flows *a, const struct ir_flows *b);
/* Does F (canonical) accept this packet?  DPORT is ignored for portless
 * protocols. */
bool ir_match(const struct ir_flows *f, enum ir_family family, unsigned proto,
	      ir_u128 src, ir_u128 dst, unsigned dport);
/* Every rule that accepts this packet, for explanations: calls FN with each
 * matching rule (in the order added); returns how many matched. */
size_t ir_explain(const struct ir_flows *f, enum ir_family family, unsigned proto,
		  ir_u128 src, ir_u128 dst, unsigned dport,
		  void (*fn)(const struct ir_rule *rule, void *arg), void *arg);
/* Iterate: for (i = 0; i < f->nboxes; i++) f->boxes[i] once canonical. */
void ir_free(struct ir_flows *f);

/* Addresses and ranges as text.  ir_addr_parse accepts dotted-quad IPv4 and
 * RFC 4291 IPv6 text (no zone, no v4-mapped rewriting); true on success. */
bool ir_addr_parse(const char *s, enum ir_family *family, ir_u128 *addr);
/* "A", "A/LEN" (host bits must be zero unless LOOSE) or "A-B" (same family,
 * A <= B).  true on success. */
bool ir_range_parse(const char *s, bool loose, enum ir_family *family, ir_u128 *lo, ir_u128 *hi);
/* Into BUF (IR_ADDR_STRLEN): dotted quad, or RFC 5952 IPv6. */
char *ir_addr_format(enum ir_family family, ir_u128 addr, char *buf);
/* Into BUF (IR_RANGE_STRLEN): "A" for one address, "A/LEN" for a prefix,
 * otherwise "A-B". */
char *ir_range_format(enum ir_family family, ir_u128 lo, ir_u128 hi, char *buf);
/* Network byte order, 4 or 16 bytes. */
void ir_addr_to_bytes(enum ir_family family, ir_u128 addr, uint8_t *out);
/* Split [LO, HI] into the fewest prefixes, ascending: calls FN with each
 * (network address, prefix length).  Returns the number of prefixes. */
size_t ir_range_prefixes(enum ir_family family, ir_u128 lo, ir_u128 hi,
			 void (*fn)(ir_u128 net, unsigned len, void *arg), void *arg);
/* Is [LO, HI] exactly one prefix?  Sets *LEN. */
bool ir_range_is_prefix(enum ir_family family, ir_u128 lo, ir_u128 hi, unsigned *len);

/* A set of address ranges (both families), as built by name resolution.
 * ir_aset_add keeps entries as added (order and duplicates); ir_aset_merge
 * sorts by (family, lo) and merges overlapping or adjacent ranges. */
struct ir_range {
	uint8_t family;
	ir_u128 lo, hi;
};
struct ir_aset {
	struct ir_range *v;
	size_t n, cap;
};
int ir_aset_add(struct ir_aset *s, enum ir_family family, ir_u128 lo, ir_u128 hi);
int ir_aset_add_all(struct ir_aset *s, const struct ir_aset *from);
void ir_aset_merge(struct ir_aset *s);
/* Does [LO, HI] of FAMILY overlap any range of S?  Is it inside one? */
bool ir_aset_overlaps(const struct ir_aset *s, enum ir_family family, ir_u128 lo, ir_u128 hi);
bool ir_aset_contains(const struct ir_aset *s, enum ir_family family, ir_u128 lo, ir_u128 hi);
/* The same on a merged set (ir_aset_merge), by bisection. */
bool ir_aset_merged_overlaps(const struct ir_aset *s, enum ir_family family, ir_u128 lo, ir_u128 hi);
void ir_aset_free(struct ir_aset *s);

/* A canonical, line-per-box dump (the `--format ir` output):
 *   v4 tcp 443 dst 8.8.8.8 src 100.64.0.2
 * Ports shown only for protocols with ports. */
#include <stdio.h>
void ir_dump(FILE *out, const struct ir_flows *f, const char *indent);
/* Protocol as text: a name for the common ones, else the number. */
const char *ir_proto_name(unsigned proto, char buf[8]);

#endif
