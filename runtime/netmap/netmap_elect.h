/* netmap_elect: one primary per route among the healthy routers serving it
 * (issue 14).
 *
 * The routers of a prefix are the nodes that advertise it with approval
 * (an autoApprovers approval is recorded in the store by then), in
 * registration order.  The store holds the primary (routes.primary_since);
 * an election keeps it while it is not seen failing (no flapping),
 * replaces a failed one at once by the first router in registration order
 * seen healthy (else the first not known to fail), and never gives the
 * prefix back to a former primary that recovers (sticky).  With no router
 * healthy the primary stays what it was.  What health means is the
 * caller's (coord_srv: a live session, forwarding on, the route's probe
 * passing; with a shared store, a node connected to no session here is
 * not known to fail). */
#ifndef NETMAP_ELECT_H
#define NETMAP_ELECT_H
#include <stdint.h>

#include "store.h"

/* How a router is for a prefix: seen failing, not known (a router the
 * caller cannot see), seen healthy. */
enum netmap_health { NETMAP_FAILING, NETMAP_UNKNOWN, NETMAP_HEALTHY };
typedef enum netmap_health netmap_health_fn(int64_t node_id, const char *prefix, void *arg);
/* Told of each new primary, once it is in the store. */
typedef void netmap_elected_fn(const char *prefix, int64_t node_id, void *arg);

/* Elect over S's routes as of now; each change of primary is one
 * store_route_set_primary, then ELECTED (may be NULL).  The number of
 * changes, or -errno. */
int netmap_elect(struct store *s, netmap_health_fn *health, netmap_elected_fn *elected, void *arg, int64_t now);

#endif
