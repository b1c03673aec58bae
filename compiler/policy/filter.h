/* filter: resolve a policy against an inventory into the packet filter
 * every node enforces, with Tailscale's semantics:
 *  - a user names that user's untagged nodes; a tag the nodes carrying it;
 *    autogroup:member every untagged node, autogroup:tagged every tagged one;
 *  - "*" as a source is the tailnet's ranges (100.64.0.0/10 without
 *    100.115.92.0/23, fd7a:115c:a1e0::/48) plus every served subnet route;
 *    as a destination it is every address;
 *  - a node serves an advertised route that an administrator approved or
 *    autoApprovers approve for it; exit routes (/0) are served but are not
 *    subnet routes: they join neither "*" nor any filter;
 *  - a node's filter keeps the destinations that are its own addresses or
 *    overlap the subnet routes it serves (with "via", only on nodes carrying
 *    one of the via tags); autogroup:internet adds nothing to any filter;
 *  - autogroup:self: on a user's node, the sources among that user's nodes;
 *  - a rule with device postures (srcPosture, else defaultSrcPosture) keeps
 *    only the source nodes whose attributes satisfy one of them: address
 *    ranges are dropped (they carry no attributes: fail closed);
 *  - rules only accept: what no rule accepts is dropped.
 * The result per node is a list of Tailscale-style rules (sources,
 * destinations with ports, protocols) and, from it, the flow IR. */
#ifndef FILTER_H
#define FILTER_H
#include <stdbool.h>
#include <stddef.h>

#include "inv.h"
#include "ir.h"
#include "pol.h"

struct filter_dst {
	bool any;                    /* "*": every address, both families */
	uint8_t family;
	addr_u128 lo, hi;
	struct pol_ports ports;
	const struct hj_value *at;   /* the policy's destination entry */
};

struct filter_rule {
	struct addr_set src;          /* merged */
	bool src_all;                /* autogroup:danger-all: every address */
	struct filter_dst *dst;
	size_t ndst, capdst;
	uint8_t protos[8];
	size_t nprotos;              /* 0: TCP, UDP, ICMP, ICMPv6 */
	const struct pol_rule *from;
	bool cap_only;               /* an app grant: makes peers, accepts no packet */
};

struct filter_node {
	const struct inv_node *node;   /* NULL for the tailnet-wide view */
	struct filter_rule *rules;
	size_t nrules, caprules;
	struct addr_set served;         /* routes it serves (approved), exit routes included */
};

struct filter_set {
	struct filter_node *nodes;     /* one per inventory node, same order */
	size_t nnodes;
	struct filter_node global;     /* every rule unreduced: what tests check */
	struct addr_set star;           /* "*" as a source */
};

/* 0, or -errno / -EINVAL with the reason in DIAGS. */
int filter_compile(const struct pol_policy *p, const struct inv *inv, struct filter_set *out,
		   struct diag_list *diags);
void filter_set_free(struct filter_set *s);
/* The packets a node (or the global view) accepts, canonical. 0 or -errno. */
int filter_node_ir(const struct filter_node *fn, struct ir_flows *out);
/* The same packets as rules only (ir_add each, not canonicalised): for
 * backends that decompose the flows their own way.  0 or -errno. */
int filter_node_rules(const struct filter_node *fn, struct ir_flows *out);
/* Does rule PR's "via" (none: any node) let node N enforce it? */
bool filter_via_allows(const struct pol_rule *pr, const struct inv_node *n);
/* Does alias A name node N (users, groups, tags, autogroups by identity;
 * hosts, addresses and ipsets by N's addresses)?  N need not be one of
 * INV's nodes (a device a test imagines). */
bool filter_node_matches(const struct pol_policy *p, const struct inv *inv, const struct pol_alias *a,
			 const struct inv_node *n);
/* The addresses an alias names (nodes' addresses plus ranges): for tests.
 * false when it names no address at all (or on no memory). */
bool filter_alias_addrs(const struct pol_policy *p, const struct inv *inv, const struct filter_set *s,
			const struct pol_alias *a, struct addr_set *out);
/* The same for many aliases: a resolver keeps its indexes (users, nodes'
 * addresses, what each alias named) from one call to the next, so naming
 * every principal of a 5,000-node inventory is not 5,000 rebuilds.  P, INV
 * and S must outlive it.  filter_names_new: NULL on no memory. */
struct filter_names;
struct filter_names *filter_names_new(const struct pol_policy *p, const struct inv *inv, const struct filter_set *s);
bool filter_names_addrs(struct filter_names *fnm, const struct pol_alias *a, struct addr_set *out);
void filter_names_free(struct filter_names *fnm);

#endif
