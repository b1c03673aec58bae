/* ir: the flow IR.  For one node, the set of packets it accepts, in a
 * five-dimensional space:
 *
 *     family x protocol x destination port x destination address x source address
 *
 * Every dimension is a closed range [lo, hi].  Addresses are addr.h's:
 * 128-bit values within their family, IPv4 addresses 0 .. 2^32-1 in family
 * ADDR_V4 (not v4-mapped), IPv6 addresses 0 .. 2^128-1 in family ADDR_V6.
 * Source and destination of one box are always in the box's family.
 *
 * Ports carry meaning only for the protocols proto_has_ports() (proto.h) names
 * (TCP 6, UDP 17, DCCP 33, SCTP 132, UDP-Lite 136: the ones whose transport
 * header starts with 16-bit source and destination ports, so nftables' `th
 * dport` reads them).  For every other protocol a box's port range is always
 * the full range 0-65535; ir_add() widens it, so that a rule written with a
 * port for ICMP allows exactly what the same rule without the port allows.
 *
 * Rules: what ir_add() was given, in the order added, each with the location
 * of the policy entry that produced it (provenance: a later stage can name
 * the policy line behind a flow).  Any boxes, overlapping or not.
 *
 * Canonical form (ir_canonicalize), factorised: CELLS, each a (family,
 * protocol, port range, destination range) pointing to a SOURCE SET, a
 * sorted list of disjoint, non-adjacent source ranges.  The cells are the
 * unique decomposition obtained by sweeping
 *     family -> protocol -> port -> destination,
 * cutting each dimension at every rule edge: a destination slice's source
 * set is the merged union of the sources of the rules covering it; adjacent
 * destination slices with equal source sets are coalesced, and so are
 * adjacent port slices whose whole destination structure (ranges and source
 * sets) is equal.  Cells are sorted by (family, proto, port_lo, dst_lo) and
 * pairwise disjoint; all cells of one port slice share its port range.
 * Source sets are interned (hash-consed) per ir_flows: two cells of one
 * ir_flows hold equal sets iff they hold the same set index.  The result
 * depends only on the set of packets, so two rule sets that allow the same
 * packets give identical cells and, cell by cell, equal source sets
 * (ir_equal compares them).
 *
 * Flattened, cell by cell and source range by source range, the cells give
 * the boxes of the sweep family -> proto -> port -> dst -> src (what
 * ir_dump prints, one line each, and ir_box_next iterates); nboxes counts
 * them.  Nothing needs them expanded: on the generated 5,000-node policy
 * (tests/bench) relay-1 has 27 million such boxes, but 618,000 cells and
 * 4,548 distinct source sets (647,000 ranges). */
#ifndef IR_H
#define IR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "diag.h"
#include "proto.h"


struct ir_box {
	uint8_t family;            /* ADDR_V4 or ADDR_V6 */
	uint8_t proto;             /* IP protocol number */
	uint16_t port_lo, port_hi; /* destination port; 0-65535 for portless protocols */
	addr_u128 dst_lo, dst_hi;
	addr_u128 src_lo, src_hi;
};

/* One rule as added, with where in the policy it came from. */
struct ir_rule {
	struct ir_box box;
	struct diag_loc loc;   /* line 0 / src NULL: no location */
};

/* A canonical cell: all packets of the family, protocol, port and
 * destination ranges whose source is in source set SET. */
struct ir_cell {
	uint8_t family, proto;
	uint16_t port_lo, port_hi;
	addr_u128 dst_lo, dst_hi;
	uint32_t set;              /* index into sets */
};

/* A source range, within the family of the cell that points to its set. */
struct ir_span {
	addr_u128 lo, hi;
};

/* An interned source set: spans[off .. off + n), sorted, disjoint and not
 * touching; HASH of the content (for interning and quick inequality). */
struct ir_srcset {
	uint32_t off, n;
	uint64_t hash;
};

struct ir_priv;   /* ir_canon.c: interning table, explanation index */

struct ir_flows {
	struct ir_rule *rules;   /* provenance, in the order added */
	size_t nrules, caprules;
	/* The canonical form, valid once canonical: */
	struct ir_cell *cells;
	size_t ncells, capcells;
	struct ir_srcset *sets;
	size_t nsets, capsets;
	struct ir_span *spans;
	size_t nspans, capspans;
	size_t nboxes;           /* flattened (cell, source range) boxes */
	struct ir_priv *priv;
	bool canonical;          /* false again after every ir_add */
};


/* Add one rule.  Empty or inverted ranges, or addresses beyond the family's
 * range, are -EINVAL; the port range of a portless protocol is widened.
 * 0 or -errno. */
int ir_add(struct ir_flows *f, const struct ir_box *box, const struct diag_loc *loc);
/* Append every rule of FROM to F (provenance kept).  0 or -errno. */
int ir_add_all(struct ir_flows *f, const struct ir_flows *from);
/* Append every flattened box of canonical FROM to F as a rule without a
 * location (tests; F's rules then hold FROM's packets).  0 or -errno. */
int ir_add_boxes(struct ir_flows *f, const struct ir_flows *from);
/* Compute the canonical cells from the rules.  0 or -errno. */
int ir_canonicalize(struct ir_flows *f);
/* Same set of packets.  Both must be canonical. */
bool ir_equal(const struct ir_flows *a, const struct ir_flows *b);
/* The same rules (boxes, locations aside) in the same order: then the same
 * packets, without canonicalising.  (Different rules may still be equal.) */
bool ir_rules_same(const struct ir_flows *a, const struct ir_flows *b);
/* Does F (canonical) accept this packet?  DPORT is ignored for portless
 * protocols. */
bool ir_match(const struct ir_flows *f, enum addr_family family, unsigned proto,
	      addr_u128 src, addr_u128 dst, unsigned dport);
/* Every rule that accepts this packet, for explanations: calls FN with each
 * matching rule (in the order added); returns how many matched.  On a
 * canonical F an index built by ir_canonicalize is searched, else the
 * rules one by one. */
size_t ir_explain(const struct ir_flows *f, enum addr_family family, unsigned proto,
		  addr_u128 src, addr_u128 dst, unsigned dport,
		  void (*fn)(const struct ir_rule *rule, void *arg), void *arg);
void ir_free(struct ir_flows *f);

/* The source ranges of set SET of F: *N of them. */
const struct ir_span *ir_set_spans(const struct ir_flows *f, uint32_t set, size_t *n);
/* Do set SA of A and set SB of B hold the same ranges? */
bool ir_set_equal(const struct ir_flows *a, uint32_t sa, const struct ir_flows *b, uint32_t sb);
/* The flattened boxes of a canonical F, in canonical order:
 *     struct ir_iter it = { 0 }; struct ir_box b;
 *     while (ir_box_next(f, &it, &b)) ...
 * For code that truly wants boxes (tests, JSON of small deltas). */
struct ir_iter {
	size_t cell, k;
};
bool ir_box_next(const struct ir_flows *f, struct ir_iter *it, struct ir_box *out);
/* Box K (source range K of the cell's set) of cell C. */
void ir_cell_box(const struct ir_flows *f, size_t c, size_t k, struct ir_box *out);

/* Building a canonical F directly (the set operations of ir_setops.c do):
 * ir_build_begin empties F's canonical part (rules kept); then the pieces,
 * in canonical order (family, proto, port slice, then ascending disjoint
 * destinations; all pieces of one port slice with its whole port range),
 * with ir_build_cell; then ir_build_end.  The builder coalesces adjacent
 * destinations with the same set, and adjacent port slices with the same
 * destinations and sets, so the result is canonical.  ir_intern returns
 * (in *SET) the index of the set holding V[0..N) (sorted, disjoint, not
 * touching; N > 0), adding it if new.  0 or -errno. */
struct ir_builder {
	struct ir_flows *f;
	size_t prev, cur;      /* first cell of the previous and the current slice */
	bool have_prev;
};
void ir_build_begin(struct ir_builder *b, struct ir_flows *f);
int ir_intern(struct ir_flows *f, const struct ir_span *v, size_t n, uint32_t *set);
int ir_build_cell(struct ir_builder *b, uint8_t family, uint8_t proto, uint16_t port_lo, uint16_t port_hi,
		  addr_u128 dst_lo, addr_u128 dst_hi, uint32_t set);
void ir_build_end(struct ir_builder *b);

/* Set operations on canonical flows (A and B canonical, else -EINVAL).
 * OUT (its rules untouched, none added) receives the canonical cells of
 * A \ B, or of A intersected with B, computed cell by cell (no source is
 * expanded).  0 or -errno. */
int ir_subtract(const struct ir_flows *a, const struct ir_flows *b, struct ir_flows *out);
int ir_intersect(const struct ir_flows *a, const struct ir_flows *b, struct ir_flows *out);

/* A canonical, line-per-box dump (the `--format ir` output), one line per
 * (cell, source range), streamed from the cells:
 *   v4 tcp 443 dst 8.8.8.8 src 100.64.0.2
 * Ports shown only for protocols with ports. */
#include <stdio.h>
void ir_dump(FILE *out, const struct ir_flows *f, const char *indent);

#endif
