/* netmap: what the coordinator tells each node, computed from one snapshot
 * of its store with the compiler's own pipeline:
 *
 *   store (users, nodes, routes, live policy)
 *      --inv builders--> inventory --load (policy from memory)--> filters
 *      --routes_compute--> peers and primary routes per node
 *      --> one ctl_netmap per node (peers, routes into the tunnel, the node's
 *          Tailscale FilterRules, whether it source-NATs)
 *
 * A world is immutable once built.  The coordinator keeps the last map it
 * sent each node; after a change it builds a new world and asks only for
 * the maps of the nodes whose view changed (netmap_changed tells).
 *
 * Semantics are exactly the compiler's: the peers a node sees, their
 * allowed IPs and the primary routes are routes_compute's, so the route
 * conformance cases define them.  Expired nodes are left out.  With no
 * policy set the policy is empty: nothing is allowed, no node has a peer. */
#ifndef NETMAP_H
#define NETMAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_netmap.h"
#include "diag.h"
#include "store.h"

struct netmap_world;

/* Build from S as of now, with POLICY_TEXT instead of the live policy when
 * not NULL (a dry run).  *GEN receives the store generation it reflects.
 * 0, or -errno with the located reasons in DIAGS (-EINVAL: the policy does
 * not compile against the inventory).  The world holds no reference to S. */
int netmap_world_build(struct store *s, const char *policy_text, int64_t *gen, struct netmap_world **out,
		       struct diag_list *diags);
void netmap_world_free(struct netmap_world *w);

/* Store ids of the nodes in the world (expired ones are not), in
 * registration order. */
size_t netmap_node_count(const struct netmap_world *w);
int64_t netmap_node_id(const struct netmap_world *w, size_t i);
/* Index of store node ID, or -1. */
long netmap_node_index(const struct netmap_world *w, int64_t id);

/* The map of node ID, generation GENERATION.  0, -ENOENT (no such node in
 * the world), -ENOMEM.  OUT is freed with ctl_netmap_free. */
int netmap_for(const struct netmap_world *w, int64_t id, uint64_t generation, struct ctl_netmap *out);

/* Whether node ID's map may differ between OLD and NEW: false only when it
 * certainly does not (its own facts, its peers' facts and its filter are
 * the same).  OLD NULL: true. */
bool netmap_changed(const struct netmap_world *old_w, const struct netmap_world *new_w, int64_t id);

#endif
