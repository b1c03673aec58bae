/* netmap_read: one consistent read of the store, copied out (users, the
 * nodes not expired with their routes, the live policy), and the compiler's
 * inventory built from it with inv's builders.  Private to runtime/netmap. */
#ifndef NETMAP_READ_H
#define NETMAP_READ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "inv.h"
#include "store.h"

struct netmap_strs {
	char **v;
	size_t n;
};

struct netmap_user {
	int64_t id;		/* first: looked up by it */
	char *name, *email;
	const char *role;	/* store_role_name() */
};

struct netmap_route {
	char *prefix;
	bool advertised;
	enum store_route_state state;
	int64_t primary_since;	/* the elected primary of its prefix since; 0: not */
};

struct netmap_node {
	int64_t id;		/* first: looked up by it */
	char *name;
	int64_t user_id;
	struct netmap_strs tags, endpoints;
	uint8_t wg_key[STORE_KEY_LEN];
	uint8_t ipv4[4], ipv6[16];
	int64_t created;
	int64_t key_expiry;	/* 0: never */
	struct netmap_route *routes;
	size_t nroutes, caproutes;
};

struct netmap_snap {
	int64_t gen;
	struct netmap_user *users;	/* by id */
	size_t nusers, capusers;
	struct netmap_node *nodes;	/* by id, expired ones left out */
	size_t nnodes, capnodes;
	bool has_policy;
	int64_t policy_version;
	char *policy_text;
};

/* Fill SNAP (zeroed by the caller) from S in one read snapshot.  0 or
 * -errno; netmap_snap_free() either way. */
int netmap_snap_read(struct store *s, struct netmap_snap *snap);
void netmap_snap_free(struct netmap_snap *snap);

/* The inventory of SNAP: every user (by name and email) and every node
 * (owner or tags, addresses, created time; advertised = the routes it still
 * advertises and no administrator rejected, approved = those approved in
 * the store), inv_finish'ed; an approved route whose elected primary the
 * node is carries that mark (inv_node_set_route_primary), so that the
 * compiler puts it first among the route's servers, per prefix: a relay
 * may lead one route and back up another.  Node I of SNAP is added I-th, so an inventory
 * node's `added` is its index in SNAP.  A route the inventory refuses is
 * left out with a warning in DIAGS.  NULL (the reason in DIAGS) on
 * failure. */
struct inv *netmap_snap_inventory(const struct netmap_snap *snap, struct diag_list *diags);

#endif
