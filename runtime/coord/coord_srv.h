/* coord_srv: the coordinator's server: node sessions over TCP (Noise IK,
 * ctl_conn), the admin socket (coord_admin), and the push of netmaps.
 *
 * One thread, plain epoll (kept in this file so it can move onto
 * runtime/base's event loop).  After any change to the store, coord_srv_changed
 * schedules one rebuild of the world (netmap.h) a short moment later (and
 * no sooner after the last one than that one took), so a burst of changes
 * costs one rebuild and rebuilds never starve the sessions; then every connected node whose view
 * may have changed (netmap_changed) is marked dirty, and a dirty node gets
 * the delta from the map it last received to the newest one.  A node whose
 * write queue cannot take it (the cap, CTL_MAX_QUEUED, unread) is ended:
 * bounded memory, and it gets a full map when it reconnects.  A timer expires the nodes whose
 * key expiry has come (store_node_expire), which is a change like any.
 *
 * Several coordinators may share one store (PostgreSQL): each listens for
 * the commits the store announces (store_watch) and a commit by another is
 * a change like its own, rebuilt and pushed to its own nodes; key expiry
 * runs on whichever holds the store's job lock. */
#ifndef COORD_SRV_H
#define COORD_SRV_H
#include <stdbool.h>
#include <stdint.h>

#include "coord_state.h"
#include "ctl_netmap.h"

#define COORD_COALESCE_NS (10 * 1000000ULL)	/* a burst of changes: one rebuild */

struct coord_srv;
struct netmap_world;

struct coord_srv_config {
	struct coord_state *state;
	const char *listen;		/* ADDR:PORT, [V6]:PORT */
	const char *public_addr;	/* HOST:PORT put in auth keys; NULL: LISTEN */
};

struct netmap_world;

/* Bind the listening and admin sockets.  0 or -errno (logged). */
int coord_srv_new(const struct coord_srv_config *cfg, struct coord_srv **out);
/* Serve until SIGTERM or SIGINT.  0 or -errno. */
int coord_srv_run(struct coord_srv *srv);
void coord_srv_free(struct coord_srv *srv);

/* For coord_admin. */
struct store *coord_srv_store(struct coord_srv *srv);
const struct coord_state *coord_srv_state(const struct coord_srv *srv);
/* Where nodes reach the coordinator: host (brackets stripped) and port. */
void coord_srv_public(const struct coord_srv *srv, const char **host, uint16_t *port);
/* Something changed in the store: rebuild and push soon. */
void coord_srv_changed(struct coord_srv *srv);
/* Rebuild now and hand each node its change to the kernel before
 * returning: for a change whose requester still has work to do (the
 * policy's diff) that should not hold the nodes back. */
void coord_srv_push_now(struct coord_srv *srv);
/* The netmaps as of the store now: a pending rebuild is done (and pushed)
 * at once.  NULL when they cannot be computed; the world then stays. */
const struct netmap_world *coord_srv_world_now(struct coord_srv *srv, uint64_t *generation);
/* The netmaps as last computed (NULL: none yet). */
const struct netmap_world *coord_srv_world(const struct coord_srv *srv, uint64_t *generation);

/* A connected node's session, as `keygate nodes list` shows it. */
struct coord_sess_info {
	bool connected;
	uint64_t sent_generation;	/* 0: no map sent yet */
	uint64_t acked_generation;	/* 0: none acknowledged */
	const char *ack_error;		/* the last ack's error, or NULL */
	bool forwarding_off;		/* it says it does not forward what it advertises */
	uint64_t tamper_count;		/* out-of-band edits of its table it reported */
	uint64_t tamper_at;		/* the last one (Unix s), 0: none */
	const char *tamper_what;	/* its description, or NULL */
	const struct ctl_probe *probes;	/* its routes' probes as last reported */
	size_t n_probes;
};
/* The probe of PREFIX (text) among INFO's, or NULL (none: it passes). */
const struct ctl_probe *coord_sess_probe(const struct coord_sess_info *info, const char *prefix);
/* Fill INFO for store node ID (connected false when no session holds it). */
void coord_srv_session_info(const struct coord_srv *srv, int64_t id, struct coord_sess_info *info);

#endif
