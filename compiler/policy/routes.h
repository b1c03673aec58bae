/* routes: what every node is told about its peers (`aclc compile --format
 * routes`): which peers it sees, each peer's allowed IPs (its addresses and
 * the routes it serves to this node) and primary routes, as Tailscale's
 * control server computes them.  The rules, learnt from the recordings,
 * are written out at the top of routes.c. */
#ifndef ROUTES_H
#define ROUTES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "diag.h"
#include "filter.h"
#include "inv.h"
#include "ir.h"
#include "pol.h"

struct routes_peer {
	size_t node;                   /* index into the inventory */
	struct addr_set allowed_ips;    /* addresses, then subnet routes, then exit routes */
	struct addr_set primary_routes; /* the subnet routes of allowed_ips */
};

struct routes_view {                   /* what one node is told */
	struct routes_peer *peers;     /* in inventory order */
	size_t npeers, cap;
};

struct routes_set {
	struct routes_view *views;     /* one per inventory node, same order */
	size_t nviews;
};

/* Compute every node's view from the policy, the inventory and the
 * compiled filters (filter_compile of the same two).  0, or -errno with
 * the reason in DIAGS. */
int routes_compute(const struct pol_policy *p, const struct inv *inv, const struct filter_set *fs,
		   struct routes_set *out, struct diag_list *diags);
void routes_set_free(struct routes_set *rs);
/* Growing RS (computed for the inventory's first RS->nviews nodes) by the
 * nodes after them that joined, with the same policy, the old nodes
 * unchanged (the caller knows; here the filters FS are of the whole of
 * INV).  routes_grow computes the growth into G, leaving RS as it was (it
 * only makes room in it); routes_grow_commit applies it and cannot fail;
 * then RS equals routes_compute's for INV.  -EAGAIN when a new node
 * serves a route or has an address inside a served subnet route (compute
 * afresh), else 0 or -errno with the reason in DIAGS. */
struct routes_gain {
	size_t viewer;                 /* an old node */
	struct routes_peer peer;       /* the new node it gains */
};
struct routes_growth {
	size_t first, nnew;            /* the new nodes: FIRST.. of the inventory */
	struct routes_view *views;     /* theirs */
	struct routes_gain *gains;     /* by viewer, then peer */
	size_t ngains, capgains;
};
int routes_grow(const struct pol_policy *p, const struct inv *inv, const struct filter_set *fs,
		struct routes_set *rs, struct routes_growth *g, struct diag_list *diags);
void routes_grow_commit(struct routes_set *rs, struct routes_growth *g);
void routes_growth_free(struct routes_growth *g);
/* VIEWER's entry for PEER (inventory indexes), or NULL: not a peer. */
const struct routes_peer *routes_find(const struct routes_set *rs, size_t viewer, size_t peer);
/* "A/LEN" into BUF (ADDR_RANGE_STRLEN); R must be a prefix. */
char *routes_prefix_format(const struct addr_range *r, char *buf);
/* {"NODE": {"PEER": {"allowed_ips": [...], "primary_routes": [...]}}},
 * nodes and peers in inventory order; only node ONLY when not NULL.
 * 0 or -errno. */
int routes_write(FILE *out, const struct inv *inv, const struct routes_set *rs, const char *only);
/* routes_compute, then routes_write: for aclc compile.  0 or -errno
 * (errors printed to stderr). */
int routes_print(FILE *out, const struct pol_policy *p, const struct inv *inv, const struct filter_set *fs,
		 const char *only);

#endif
