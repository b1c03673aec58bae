/* coord_elect: one primary per route among the healthy routers serving it
 * (issue 14).
 *
 * The routers of a prefix are the nodes that advertise it with approval
 * (an autoApprovers approval is recorded in the store by then), in
 * registration order.  The store holds the primary (routes.primary_since);
 * an election keeps it while it is healthy (no flapping), replaces a
 * failed one at once by the first healthy router in registration order,
 * and never gives the prefix back to a former primary that recovers
 * (sticky).  With no router healthy the primary stays what it was.  What
 * "healthy" means is the caller's (coord_srv: a live session, forwarding
 * on, the route's probe passing). */
#ifndef COORD_ELECT_H
#define COORD_ELECT_H
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

typedef bool coord_healthy_fn(int64_t node_id, const char *prefix, void *arg);

/* Elect over S's routes as of now; each change of primary is one
 * store_route_set_primary (logged).  The number of changes, or -errno. */
int coord_elect(struct store *s, coord_healthy_fn *healthy, void *arg, int64_t now);

#endif
