/* netmap: what the coordinator tells each node, computed from one snapshot
 * of its store with the compiler's own pipeline:
 *
 *   store (users, nodes, routes, live policy)
 *      --inv builders--> inventory --load (policy from memory)--> filters
 *      --routes_compute--> peers and primary routes per node
 *      --> one ctl_netmap per node (peers, routes into the tunnel, the node's
 *          Tailscale FilterRules, whether it source-NATs)
 *
 * A world is immutable once built, but for giving its parts to the next
 * (netmap_world_next).  The coordinator keeps the last map it sent each
 * node; after a change it builds a new world (grown from the last one when
 * nodes only joined) and asks only for the maps of the nodes whose view
 * changed (netmap_changed tells).
 *
 * Semantics are exactly the compiler's: the peers a node sees, their
 * allowed IPs and the primary routes are routes_compute's, so the route
 * conformance cases define them.  With no policy set the policy is empty:
 * nothing is allowed, no node has a peer.
 *
 * From the store to the inventory:
 *  - users by name and email; a node owned by its user, or carrying its
 *    tags; its IPv4 and IPv6 address; registration order by its created
 *    time (ties: store id), which decides primary routers where no
 *    election has (netmap_elect: the elected primary of a prefix comes
 *    first among that route's servers);
 *  - expired nodes (store_node_expire) are left out: the world reads no
 *    clock, so a key expiry that has passed counts once the coordinator
 *    marks the node expired;
 *  - advertised = the routes the node still advertises, except those an
 *    administrator rejected (a rejection wins over autoApprovers);
 *    approved = approved in the store.  A route autoApprovers approve is
 *    served even while the store says pending: netmap_auto_approvals lists
 *    those, so that the coordinator can record the approval.
 *
 * A map: self = the node's id, name and addresses (/32, /128); peers =
 * routes_compute's view (stable id = store node id, name, WireGuard key,
 * endpoints, addresses, allowed IPs, keepalive NETMAP_KEEPALIVE;
 * backup_routes = the routes the peer
 * serves whose primary is another of the node's peers, ranked in the
 * election's order, issue 14); routes =
 * the primary routes its peers serve to it (allowed IPs minus addresses
 * and exit routes); filter = its Tailscale FilterRules (ts_node_rules) as
 * compact JSON; snat = it serves a route (subnet or exit). */
#ifndef NETMAP_H
#define NETMAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_msg.h"
#include "ctl_netmap.h"
#include "diag.h"
#include "store.h"

#define NETMAP_KEEPALIVE 25	/* seconds, every peer */

struct netmap_world;
struct inv;

/* Build from S as of now, with POLICY_TEXT instead of the live policy when
 * not NULL (a dry run).  *GEN receives the store generation it reflects.
 * 0, or -errno with the reasons in DIAGS (-EINVAL: the policy does not
 * compile against the inventory).  The world holds no reference to S.
 * DIAGS (warnings on success too, e.g. policy keys without packet meaning)
 * hold no reference to the world either: a record located in the policy
 * carries its place in its message ("policy v3:12:5: ..."; the name is
 * "policy vN", "policy (dry run)" or "no policy") and no location, so it
 * stays valid after the world is freed. */
int netmap_world_build(struct store *s, const char *policy_text, int64_t *gen, struct netmap_world **out,
		       struct diag_list *diags);
/* The world after a change to S, as netmap_world_build makes it (the same
 * maps, the same digests), made from PREV where that costs less: when
 * nodes only joined (the policy, the users and every other node as PREV
 * has them), PREV's nodes and peers move into the new world and only what
 * the new nodes change is computed.  PREV then keeps what netmap_changed,
 * netmap_node_* and netmap_node_registered_as read, and netmap_for on it
 * is -ESTALE: free it once the new world is compared with it.  On failure
 * PREV is as it was. */
int netmap_world_next(struct netmap_world *prev, struct store *s, int64_t *gen, struct netmap_world **out,
		      struct diag_list *diags);
/* Whether W was grown from the previous world (not made afresh). */
bool netmap_world_grown(const struct netmap_world *w);
void netmap_world_free(struct netmap_world *w);

/* The compiler's inventory of S as of now, read as a world reads it (the
 * same users, nodes and routes), for what the coordinator compiles itself:
 * a policy's tests, the semantic diff of a policy change.  inv_finish'ed;
 * NULL with the reason in DIAGS (*RC: -errno). */
struct inv *netmap_inventory(struct store *s, struct diag_list *diags, int *rc);

/* Store ids of the nodes in the world (expired ones are not), in
 * registration order. */
size_t netmap_node_count(const struct netmap_world *w);
int64_t netmap_node_id(const struct netmap_world *w, size_t i);
/* When node I's key expires (Unix seconds; 0: never).  The world reads no
 * clock: the coordinator expires the node in the store when the time comes. */
int64_t netmap_node_key_expiry(const struct netmap_world *w, size_t i);
/* Index of store node ID, or -1. */
long netmap_node_index(const struct netmap_world *w, int64_t id);

/* The map of node ID, generation GENERATION.  0, -ENOENT (no such node in
 * the world), -ENOMEM.  OUT is freed with ctl_netmap_free. */
int netmap_for(const struct netmap_world *w, int64_t id, uint64_t generation, struct ctl_netmap *out);

/* Whether node ID's map may differ between OLD and NEW: false only when it
 * certainly does not (its own facts, its peers' facts as it sees them, its
 * routes, its filter and snat are the same: a digest of each node's map
 * inputs is kept per world, so the answer costs no map).  OLD NULL, or ID
 * missing from either world: true. */
bool netmap_changed(const struct netmap_world *old_w, const struct netmap_world *new_w, int64_t id);

/* Whether node ID of W was built from just what REG registers (its
 * WireGuard key, its endpoints, the routes it advertises: all that a known
 * node's registration writes and a world reads), so that registering it
 * again changes no map.  False when unsure: not in W, or no memory. */
bool netmap_node_registered_as(const struct netmap_world *w, int64_t id, const struct ctl_register *reg);

/* The routes node ID advertises that the store holds pending and the
 * policy's autoApprovers approve (and which the world therefore serves):
 * FN is called with each PREFIX (the store's text) and APPROVER, the
 * approving entry as text for store_route_auto_approve, e.g.
 * `autoApprovers "10.0.0.0/8": "tag:relay" (policy v3 line 12)`.  FN's
 * non-zero return stops the walk and is returned; FN may call into the
 * store (the world holds no reference to it).  0, -ENOENT (no such node). */
typedef int netmap_approval_fn(int64_t id, const char *prefix, const char *approver, void *arg);
int netmap_auto_approvals(const struct netmap_world *w, int64_t id, netmap_approval_fn *fn, void *arg);

#endif
