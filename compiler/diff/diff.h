/* diff: semantic differences between two policies (and inventories), the
 * `aclc diff` subcommand's engine.
 *
 * Never a text diff: for every node, the flow IR of the old and the new
 * side are subtracted both ways (NEW \ OLD: packets gained, OLD \ NEW:
 * packets lost), as canonical cells.  The cells are then described for a
 * person: source addresses named back to the principals of the inventory
 * ("group:eng (alice, bob)"), destinations to hosts and nodes, protocols and
 * ports, the node that enforces them, and the policy entries behind each
 * change (ir_explain on a representative packet: against NEW for gains,
 * against OLD for losses).  Route changes (a served route added or gone),
 * peer changes (routes_compute: a peer a node is told about appears or
 * disappears, a range of its allowed_ips comes or goes) and nodes joining or
 * leaving the inventory are changes too.
 *
 * Because the IR is canonical, reformatting, reordering or consistently
 * renaming a policy's names gives no change at all. */
#ifndef DIFF_H
#define DIFF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "diag.h"
#include "ir.h"
#include "load.h"

enum diff_kind {
	DIFF_NODE_ADDED, DIFF_NODE_REMOVED,     /* in one inventory only */
	DIFF_ROUTE_ADDED, DIFF_ROUTE_REMOVED,   /* a route the node serves */
	DIFF_PEER_ADDED, DIFF_PEER_REMOVED,     /* a peer the node is told about */
	DIFF_PEER_IPS_ADDED, DIFF_PEER_IPS_REMOVED,   /* a range of a peer's allowed_ips */
	DIFF_GAIN, DIFF_LOSS,                   /* packets the node accepts */
};

/* A policy entry (or inventory file, line 0) behind a change. */
struct diff_cause {
	struct diag_loc loc;
	bool old;                  /* in the OLD side's files */
};

struct diff_change {
	enum diff_kind kind;
	char *node;                /* enforcing node; NULL: the tailnet-wide view */
	char *who;                 /* flows: the sources, named; nodes: the owner; peers: the peer */
	char *what;                /* flows: "tcp/443, udp/443, icmp"; routes, peers: prefixes */
	char *where;               /* flows: the destinations, named */
	bool to_node;              /* flows: the destination is the node itself */
	struct ir_box *boxes;      /* flows: the canonical boxes this line stands for */
	size_t nboxes;
	struct diff_cause *causes;
	size_t ncauses;
};

struct diff_result {
	struct diff_change *v;
	size_t n, cap;
	size_t nodes_changed;      /* nodes with at least one change */
};

/* Every change from BEFORE to AFTER (only node ONLY_NODE's when not NULL).
 * 0 or -errno (with a reason in DIAGS). */
int diff_compute(const struct load *before, const struct load *after, const char *only_node,
		 struct diff_result *out, struct diag_list *diags);
/* Does either side's inventory hold a node named NAME? */
bool diff_has_node(const struct load *before, const struct load *after, const char *name);
void diff_result_free(struct diff_result *r);

/* Render: one sentence a change with its causes, then a summary line; or
 * the JSON document described in aclc(1).  0 or -errno. */
int diff_write_text(FILE *out, const struct diff_result *r);
int diff_write_json(FILE *out, const struct diff_result *r, const char *old_name, const char *new_name);

#endif
