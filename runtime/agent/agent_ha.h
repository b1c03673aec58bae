/* agent_ha: client-side failover of routes between relays (issue 14).
 *
 * A netmap names, per route, the peer that carries it (the primary: the
 * route is in its allowed IPs) and the peers that back it up
 * (backup_routes, ranked).  A node that serves routes sends each peer it
 * has a session with a keepalive every AGENT_HA_BEACON_NS (wgdev_beacon),
 * so a relay that answers is one whose received bytes grow (the peers'
 * persistent keepalives cannot serve: received packets put them off).
 * Every AGENT_HA_TICK_NS the agent looks
 * at the received bytes of the carriers and their backups; a carrier
 * silent for AGENT_HA_SILENT_NS loses the route to the first backup, by
 * rank, heard from within that time (a carrier never heard from since it
 * was first watched is not judged: its tunnel may not be up yet, and the
 * coordinator does not elect a relay it does not see): the route moves between the two
 * peers' allowed IPs (two typed peer settings; no other peer touched).
 * This needs no coordinator.  The choice holds while its carrier answers
 * (a primary that comes back does not take the route back) and while the
 * netmaps that come keep the same primary; a netmap with another primary
 * for the route wins (the coordinator elected one).
 *
 * The moves are kept as overrides that agent_sys's peer settings read
 * (agent_ha_allows), so a netmap applied meanwhile keeps them. */
#ifndef AGENT_HA_H
#define AGENT_HA_H
#include <stdbool.h>
#include <stdint.h>

#include "ctl_netmap.h"

#define AGENT_HA_TICK_NS (250 * 1000000ULL)
#define AGENT_HA_BEACON_NS (500 * 1000000ULL)
#define AGENT_HA_SILENT_NS (1000 * 1000000ULL)
#define AGENT_HA_MAX 64			/* routes with backups, peers watched */

struct agent;
struct cJSON;

struct agent_ha_move {
	struct ctl_prefix prefix;
	uint64_t from, to;		/* peer ids: the netmap's primary, the carrier */
};

struct agent_ha_watch {
	uint64_t peer, rx_bytes, heard_at;
	bool heard;			/* its received bytes grew since it was first watched */
};

struct agent_ha {
	struct agent_ha_move moves[AGENT_HA_MAX];
	size_t n_moves;
	struct agent_ha_watch watch[AGENT_HA_MAX];
	size_t n_watch;
	uint64_t failovers;
	uint64_t beacon_at;		/* the last beacon sent (monotonic ns) */
};

/* Start the ticks on A's loop (they also start and stop the route probes,
 * agent_probe.h, as the prefs in effect name them).  0 or -errno. */
int agent_ha_start(struct agent *a);
void agent_ha_stop(struct agent *a);
/* Whether peer P's allowed IP X is to be installed (false: moved away),
 * and the prefixes moved to P, for the peer's typed settings. */
bool agent_ha_allows(const struct agent *a, const struct ctl_peer *p, const struct ctl_prefix *x);
size_t agent_ha_moved_to(const struct agent *a, uint64_t peer, const struct ctl_prefix **out, size_t max);
/* After a netmap is applied: moves whose route it gives another primary
 * (or none) are dropped and their two peers set to the netmap's settings. */
void agent_ha_applied(struct agent *a);
/* Status: "failover": {"routes": [{"route", "primary", "carrier", "why"}],
 * "failovers": N, "probes": [{"route", "probe", "result"}]}, a route for
 * each with backups. */
int agent_ha_status(const struct agent *a, struct cJSON *j);

#endif
