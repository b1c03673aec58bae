/* routes: what each node is told about its peers (`aclc compile --format
 * routes`), as Tailscale's control server does it:
 *  - two nodes are peers when a rule in either one's filter (packet rules
 *    and app-capability grants alike) has a source covering the other's
 *    addresses or a subnet route the other serves;
 *  - a peer's allowed_ips are its addresses (/32, /128) plus the subnet
 *    routes it is primary for and that matter to the viewer: it may reach
 *    the route through the peer (a rule in the peer's filter from the
 *    viewer to the route) or its own filter accepts packets from the route;
 *    primary_routes lists those routes;
 *  - of the nodes serving the same prefix, the one registered first
 *    (inventory order) is primary, unless only grants with "via" let this
 *    viewer reach the route: then the first router carrying such a rule is
 *    the one the viewer is told about;
 *  - exit routes (/0) are never in allowed_ips or primary_routes. */
#ifndef ROUTES_H
#define ROUTES_H
#include <stdio.h>

#include "filter.h"
#include "inv.h"
#include "ir.h"

struct routes_peer {
	size_t node;                 /* index in the inventory */
	struct ir_aset allowed_ips;  /* in output order: addresses, then routes */
	struct ir_aset primary_routes;
};

struct routes_view {
	struct routes_peer *peers;   /* in inventory order */
	size_t npeers;
};

/* One view per inventory node.  0 or -errno. */
int routes_compute(const struct inv *inv, const struct filter_set *s, struct routes_view **out);
void routes_free(struct routes_view *v, size_t n);
/* {"NODE": {"PEER": {"allowed_ips": [...], "primary_routes": [...]}}}. */
int routes_write(FILE *out, const struct inv *inv, const struct routes_view *v);

#endif
