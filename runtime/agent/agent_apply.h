/* agent_apply: bring a node from the netmap it has applied to a new one,
 * step by step, through a table of operations (the real device, rtnetlink
 * and nftables in keygated; fakes in the tests):
 *
 *   1. peers: removals (peers gone, or whose WireGuard key changed), then
 *      additions and updates, each peer whole, in id order; a peer whose
 *      device settings (key, endpoint, allowed IPs, keepalive) are the same
 *      is not touched, so its sessions live on;
 *   2. tunnel addresses: removals, then additions;
 *   3. routes into the tunnel (the peers' addresses, and the netmap's routes
 *      when routes are accepted): removals, then additions;
 *   4. the packet filter, whole, when its text, the node's addresses, the
 *      source-NAT flag or addresses, or the served routes changed
 *      (FORCE_FILTER).
 *
 * agent_apply_delta plans the same steps in the same order from a delta
 * alone: the peers it names (found by id), its self addresses when it
 * carries them, the routes whose count of carriers (agent_routes) leaves
 * or comes back to 0, the filter when the delta changes what it depends
 * on; its cost follows the delta, not the netmap.
 *
 * The first step that fails stops the run, and the steps done are undone in
 * reverse order, so the node holds the old netmap again (best effort: an
 * undo that fails is counted in the result).  The reason names the step:
 * "peer alice (3): add: Cannot allocate memory". */
#ifndef AGENT_APPLY_H
#define AGENT_APPLY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent_routes.h"
#include "ctl_netmap.h"
#include "nftm.h"

/* A netmap as the node applies it (M NULL: nothing applied). */
struct agent_target {
	const struct ctl_netmap *m;
	bool accept_routes;
	struct nftm_snat_to snat_to;	/* keygate up --snat-to (none: masquerade) */
};

/* Each returns 0 or -errno; CTX is the caller's. */
struct agent_ops {
	/* Add the peer, or change an existing one (same key) to these settings. */
	int (*peer_set)(void *ctx, const struct ctl_peer *p);
	int (*peer_remove)(void *ctx, const struct ctl_peer *p);
	int (*addr)(void *ctx, const struct ctl_prefix *a, bool add);
	int (*route)(void *ctx, const struct ctl_prefix *r, bool add);
	/* Make the filter T's netmap's (T->m NULL: remove ours), with T's
	 * source NAT addresses; D, when not NULL, is the delta T->m comes
	 * from (the filter may apply just that). */
	int (*filter)(void *ctx, const struct agent_target *t, const struct ctl_delta *d);
};


struct agent_apply_result {
	size_t peers_set, peers_removed, addrs, routes;
	bool filter;			/* the filter step ran */
	size_t undo_failed;		/* rollback steps that failed */
	char error[256];		/* when the apply failed */
};

/* Apply NEW over OLD.  0, or the failing step's -errno (ENOMEM while
 * planning) with R->error set and everything done undone. */
int agent_apply(const struct agent_ops *ops, void *ctx, const struct agent_target *old_t,
		const struct agent_target *new_t, bool force_filter, struct agent_apply_result *r);

/* Where peer ID is in M, or would go (M's peers are sorted by id). */
size_t agent_peer_index(const struct ctl_netmap *m, uint64_t id);
/* D starts from M's generation, its ids are sorted and unique, it removes
 * only peers M has and upserts none it removes: agent_apply_delta may
 * take it. */
bool agent_delta_applies(const struct ctl_netmap *m, const struct ctl_delta *d);
/* D changes what M's filter depends on (its text, the snat flag, the
 * node's addresses). */
bool agent_delta_touches_filter(const struct ctl_netmap *m, const struct ctl_delta *d);
/* Apply D over OLD_T, the same as agent_apply of OLD_T's netmap with D
 * applied, for a D that agent_delta_applies and the same accept_routes
 * and snat_to in both targets.  NEW_T->m is that netmap, needed only when
 * agent_delta_touches_filter (else it may be NULL).  ROUTES holds
 * agent_target_route_counts(OLD_T) and becomes NEW_T's on success. */
int agent_apply_delta(const struct agent_ops *ops, void *ctx, const struct agent_target *old_t,
		      const struct ctl_delta *d, const struct agent_target *new_t, struct agent_routes *routes,
		      struct agent_apply_result *r);
/* How many sources carry each route T installs (agent_routes.h).  0 or
 * -ENOMEM; OUT freed with agent_routes_free. */
int agent_target_route_counts(const struct agent_target *t, struct agent_routes *out);

/* The routes a target installs, sorted and unique (for status and tests).
 * 0 or -ENOMEM; OUT freed with ctl_prefixes_free. */
int agent_target_routes(const struct agent_target *t, struct ctl_prefixes *out);

#endif
