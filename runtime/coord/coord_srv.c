/* coord_srv: the server loop, node sessions and the push of netmaps. */
#include "coord_srv.h"
#include "coord_admin.h"
#include "netmap_elect.h"
#include "coord_node.h"
#include "ctl_authkey.h"
#include "ctl_conn.h"
#include "ctl_json.h"
#include "ctl_msg.h"
#include "log.h"
#include "netmap.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_MAX_REQUEST (8u << 20)	/* a policy and its framing */
#define MAX_EVENTS 256
#define STORE_RETRY_NS (1000 * 1000000ULL)	/* watching a shared store again */
/* Jobs that run on one coordinator of those sharing a store: advisory lock
 * numbers of our own, and how often the others ask whether it is theirs. */
#define COORD_JOB_EXPIRY  INT64_C(0x6b67657870)	/* "kgexp" */
#define COORD_JOB_ELECT   INT64_C(0x6b67656c65)	/* "kgele": route primaries */
#define COORD_JOB_RETRY_S 5
/* The sessions' timers (handshake, keepalive, idle and write timeouts, all
 * seconds long) are scanned when the earliest is due, and at least this
 * often, so that an event costs no walk over every session. */
#define TIMER_SCAN_NS (1000 * 1000000ULL)

enum io_kind { IO_LISTEN, IO_ADMIN_LISTEN, IO_SESS, IO_ADMIN, IO_STORE };

struct io {
	enum io_kind kind;
};

struct coord_sess {
	struct io io;
	struct coord_srv *srv;
	struct ctl_conn *conn;
	char peer[INET6_ADDRSTRLEN + NI_MAXSERV + 4];
	int64_t node_id;		/* 0 until registered */
	char name[STORE_NAME_MAX + 1];
	bool has_sent, dirty, want_out;
	struct ctl_netmap sent;		/* the last map the node was sent */
	uint64_t acked;
	char *ack_error;
	bool forwarding_off;		/* the node said its forwarding is off */
	struct ctl_tamper tamper;	/* the node's last tamper report */
	struct ctl_probe probes[CTL_MAX_PROBES];	/* its routes' probes, last report */
	size_t n_probes;
	struct coord_sess *prev, *next;
	struct coord_sess *id_next;	/* in its bucket of the index by node id */
};

struct admin_client {
	struct io io;
	int fd;
	char *in;
	size_t inlen, incap;
	char *out;
	size_t outlen, outoff;
	struct admin_client *prev, *next;
};

struct coord_srv {
	struct coord_state *state;
	char host[CTL_AUTHKEY_MAX_HOST + 1];
	uint16_t port;
	int epfd;
	struct io listen_io, admin_io;
	int listen_fd, admin_fd;
	char admin_path[PATH_MAX];
	struct coord_sess *sessions;
	struct coord_sess **by_id;	/* registered sessions by node id: buckets, a power of two */
	size_t nbuckets, nby_id;
	struct admin_client *admins;
	struct netmap_world *world;
	int64_t world_gen;
	bool world_stale;		/* the last rebuild failed: the store moved on without it */
	uint64_t refresh_at;		/* 0: nothing pending */
	uint64_t refresh_end, refresh_cost;	/* when the last rebuild ended, how long it took */
	int64_t expiry_at;		/* the world's earliest node key expiry (Unix s), 0: none */
	struct io store_io;		/* a shared store's announcements of commits */
	int store_fd;			/* -1: not watching */
	uint64_t store_retry_at;	/* when to watch again after losing it, 0: not lost */
	uint64_t timers_at;		/* the next scan of the sessions' timers */
	bool elect_due;			/* a router's health or the routes may have changed */
};

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct store *coord_srv_store(struct coord_srv *srv)
{
	return srv->state->store;
}

const struct coord_state *coord_srv_state(const struct coord_srv *srv)
{
	return srv->state;
}

void coord_srv_public(const struct coord_srv *srv, const char **host, uint16_t *port)
{
	*host = srv->host;
	*port = srv->port;
}

/* Soon, but never sooner than the last rebuild's own time after it ended:
 * a rebuild that takes long must leave as long to the sessions (their
 * handshakes, registrations, acks), or a stream of joins would starve
 * them and pay one rebuild per event. */
void coord_srv_changed(struct coord_srv *srv)
{
	if (srv->refresh_at)
		return;
	uint64_t at = now_ns() + COORD_COALESCE_NS, earliest = srv->refresh_end + srv->refresh_cost;
	srv->refresh_at = at > earliest ? at : earliest;
}

/* ---- registered sessions by node id ----
 * A node has one session at most (a new one replaces the old), found by
 * hashing its id: registering, and listing the nodes, cost no walk over
 * every session (a reconnect storm of n nodes would be n^2). */

static size_t id_bucket(const struct coord_srv *srv, int64_t id)
{
	return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> 32) & (srv->nbuckets - 1);
}

static struct coord_sess *sess_by_id(const struct coord_srv *srv, int64_t id)
{
	struct coord_sess *s = srv->nbuckets ? srv->by_id[id_bucket(srv, id)] : NULL;
	while (s && s->node_id != id)
		s = s->id_next;
	return s;
}

/* Twice the buckets once there are as many sessions as buckets. */
static int by_id_grow(struct coord_srv *srv)
{
	size_t n = srv->nbuckets ? srv->nbuckets * 2 : 256;
	struct coord_sess **old = srv->by_id, **b = calloc(n, sizeof *b);
	size_t oldn = srv->nbuckets;
	if (!b)
		return -ENOMEM;
	srv->by_id = b;
	srv->nbuckets = n;
	for (size_t i = 0; i < oldn; i++)
		for (struct coord_sess *s = old[i], *next; s; s = next) {
			next = s->id_next;
			s->id_next = b[id_bucket(srv, s->node_id)];
			b[id_bucket(srv, s->node_id)] = s;
		}
	free(old);
	return 0;
}

/* S becomes node ID's session.  0 or -ENOMEM. */
static int sess_index(struct coord_sess *s, int64_t id)
{
	struct coord_srv *srv = s->srv;
	int rc = srv->nby_id >= srv->nbuckets ? by_id_grow(srv) : 0;
	if (rc < 0)
		return rc;
	s->node_id = id;
	s->id_next = srv->by_id[id_bucket(srv, id)];
	srv->by_id[id_bucket(srv, id)] = s;
	srv->nby_id++;
	return 0;
}

/* S is no node's session any more. */
static void sess_unindex(struct coord_sess *s)
{
	struct coord_srv *srv = s->srv;
	if (!s->node_id)
		return;
	for (struct coord_sess **p = &srv->by_id[id_bucket(srv, s->node_id)]; *p; p = &(*p)->id_next)
		if (*p == s) {
			*p = s->id_next;
			srv->nby_id--;
			break;
		}
	s->node_id = 0;
	s->id_next = NULL;
}

void coord_srv_session_info(const struct coord_srv *srv, int64_t id, struct coord_sess_info *info)
{
	memset(info, 0, sizeof *info);
	const struct coord_sess *s = sess_by_id(srv, id);
	if (s) {
		info->connected = true;
		info->sent_generation = s->has_sent ? s->sent.generation : 0;
		info->acked_generation = s->acked;
		info->ack_error = s->ack_error;
		info->forwarding_off = s->forwarding_off;
		info->tamper_count = s->tamper.count;
		info->tamper_at = s->tamper.at;
		info->tamper_what = s->tamper.what;
		info->probes = s->probes;
		info->n_probes = s->n_probes;
	}
}

const struct netmap_world *coord_srv_world(const struct coord_srv *srv, uint64_t *generation)
{
	*generation = (uint64_t)srv->world_gen;
	return srv->world;
}

static void refresh(struct coord_srv *srv);

const struct netmap_world *coord_srv_world_now(struct coord_srv *srv, uint64_t *generation)
{
	if (srv->refresh_at || !srv->world)
		refresh(srv);
	return coord_srv_world(srv, generation);
}

static int watch(struct coord_srv *srv, int op, int fd, uint32_t events, struct io *io)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };
	return epoll_ctl(srv->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

static int listen_tcp(struct coord_srv *srv, const char *text)
{
	char host[CTL_AUTHKEY_MAX_HOST + 1], port[8];
	uint16_t p;
	bool bracketed;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	int one = 1, rc;
	if (ctl_hostport_split(text, host, sizeof host, &p, &bracketed) < 0) {
		log_err("--listen %s: not ADDR:PORT", text);
		return -EINVAL;
	}
	snprintf(port, sizeof port, "%u", p);
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		log_err("--listen %s: %s", text, gai_strerror(rc));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 512) < 0) {
		rc = -errno;
		log_err("--listen %s: %s", text, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	srv->listen_fd = fd;
	return 0;
}

/* The admin socket, 0660.  A socket file left by a dead coordinator is
 * replaced; one a live coordinator answers on is not. */
static int listen_admin(struct coord_srv *srv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int rc;
	coord_state_path(srv->state, COORD_ADMIN_SOCK, srv->admin_path);
	if (strlen(srv->admin_path) >= sizeof sa.sun_path) {
		log_err("%s: path too long for a Unix socket", srv->admin_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, srv->admin_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
		close(probe);
		log_err("%s: another coordinator answers on it", srv->admin_path);
		rc = -EADDRINUSE;
		goto close_fd;
	}
	if (probe >= 0)
		close(probe);
	unlink(srv->admin_path);
	mode_t old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? -errno : 0;
	umask(old);
	if (rc == 0 && (chmod(srv->admin_path, 0660) < 0 || listen(fd, 16) < 0))
		rc = -errno;
	if (rc < 0) {
		log_err("%s: %s", srv->admin_path, strerror(-rc));
		goto close_fd;
	}
	srv->admin_fd = fd;
	return 0;
close_fd:
	close(fd);
	return rc;
}

/* ---- other coordinators on a shared store ---- */

/* Listen for the commits of every coordinator on the store (a store that
 * is ours alone has none to hear); when that fails, try again a second
 * later. */
static void store_watch_start(struct coord_srv *srv)
{
	int fd, rc = store_watch(srv->state->store, &fd);
	srv->store_retry_at = 0;
	if (rc == -EOPNOTSUPP)
		return;
	if (rc == 0)
		rc = watch(srv, EPOLL_CTL_ADD, fd, EPOLLIN, &srv->store_io);
	if (rc < 0) {
		log_warn("cannot listen for other coordinators' changes (%s); retrying", strerror(-rc));
		srv->store_retry_at = now_ns() + STORE_RETRY_NS;
		return;
	}
	srv->store_fd = fd;
}

/* Commits announced: a generation newer than the world's is someone's
 * change (ours are already built), so rebuild and push it to our nodes.
 * A lost watch may have missed some: rebuild anyway, and watch again. */
static void store_event(struct coord_srv *srv)
{
	int64_t gen = srv->world_gen;
	int rc = store_watch_read(srv->state->store, &gen);
	if (rc > 0 && gen > srv->world_gen)
		coord_srv_changed(srv);
	if (rc >= 0)
		return;
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->store_fd, NULL);	/* usually gone with its socket */
	srv->store_fd = -1;
	srv->store_retry_at = now_ns() + STORE_RETRY_NS;
	coord_srv_changed(srv);
}

int coord_srv_new(const struct coord_srv_config *cfg, struct coord_srv **out)
{
	struct coord_srv *srv = calloc(1, sizeof *srv);
	int rc;
	if (!srv)
		return -ENOMEM;
	srv->state = cfg->state;
	srv->listen_fd = srv->admin_fd = srv->store_fd = -1;
	srv->listen_io.kind = IO_LISTEN;
	srv->admin_io.kind = IO_ADMIN_LISTEN;
	srv->store_io.kind = IO_STORE;
	const char *pub = cfg->public_addr ? cfg->public_addr : cfg->listen;
	bool bracketed;
	if (ctl_hostport_split(pub, srv->host, sizeof srv->host, &srv->port, &bracketed) < 0) {
		log_err("%s: not HOST:PORT", pub);
		rc = -EINVAL;
		goto free_srv;
	}
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->epfd < 0) {
		rc = -errno;
		goto free_srv;
	}
	if ((rc = listen_tcp(srv, cfg->listen)) < 0 || (rc = listen_admin(srv)) < 0 ||
	    (rc = watch(srv, EPOLL_CTL_ADD, srv->listen_fd, EPOLLIN, &srv->listen_io)) < 0 ||
	    (rc = watch(srv, EPOLL_CTL_ADD, srv->admin_fd, EPOLLIN, &srv->admin_io)) < 0)
		goto free_srv;
	store_watch_start(srv);
	*out = srv;
	return 0;
free_srv:
	coord_srv_free(srv);
	return rc;
}

/* ---- node sessions ---- */

static void sess_free(struct coord_sess *s)
{
	struct coord_srv *srv = s->srv;
	if (s->node_id)
		srv->elect_due = true;	/* its routes lose their primary, if it was */
	sess_unindex(s);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	ctl_conn_free(s->conn);
	if (s->has_sent)
		ctl_netmap_free(&s->sent);
	free(s->ack_error);
	free(s->tamper.what);
	free(s);
}

/* Why a connection ended, for the log. */
static const char *end_reason(const struct coord_sess *s, int rc)
{
	bool up = ctl_conn_established(s->conn);
	switch (rc) {
	case -ESTALE: return "replayed or old handshake";
	case -EBADMSG: return up ? "a message failed authentication" : "handshake failed (not our key, or tampered)";
	case -EPROTO: return "malformed frame or protocol error";
	case -EMSGSIZE: return "message over the size cap";
	case -ENOBUFS: return "write queue full: the node does not read what it is sent";
	case -ETIMEDOUT: return up ? "timed out (no traffic, or a peer that does not read)" : "handshake timed out";
	case -ECONNRESET: return "closed by the node";
	default: return strerror(-rc);
	}
}

/* End S after an error RC, with one log line. */
static void sess_end(struct coord_sess *s, int rc, const char *why)
{
	if (!why)
		why = end_reason(s, rc);
	if (s->node_id)
		log_info("node %s (%s): connection ended: %s", s->name, s->peer, why);
	else
		log_info("%s: connection ended: %s", s->peer, why);
	sess_free(s);
}

/* Watch for writing exactly while the connection has bytes queued. */
static int sess_rearm(struct coord_sess *s)
{
	bool want = ctl_conn_wants_write(s->conn);
	if (want == s->want_out)
		return 0;
	s->want_out = want;
	return watch(s->srv, EPOLL_CTL_MOD, ctl_conn_fd(s->conn), EPOLLIN | (want ? EPOLLOUT : 0), &s->io);
}

static bool delta_empty(const struct ctl_delta *d)
{
	return !d->has_self && !d->n_upsert && !d->n_removed && !d->has_routes && !d->has_filter && !d->has_snat;
}

/* Encode M and queue it: 0, -ENOBUFS (the queue cap is reached) or another
 * error. */
static int sess_send(struct coord_sess *s, const struct ctl_msg *m)
{
	size_t len;
	char *text = ctl_msg_encode(m, &len);
	if (!text)
		return -ENOMEM;
	int rc = ctl_conn_send(s->conn, text, len);
	free(text);
	return rc;
}

/* Send a dirty node its newest map: whole the first time, else the delta
 * from the one it holds.  0, or negative to end the session. */
static int sess_push(struct coord_sess *s)
{
	struct coord_srv *srv = s->srv;
	struct ctl_netmap m = { 0 };
	struct ctl_delta d = { 0 };
	struct ctl_msg msg = { 0 };
	int rc;
	if (!s->node_id || !s->dirty || !srv->world)
		return 0;
	rc = netmap_for(srv->world, s->node_id, (uint64_t)srv->world_gen, &m);
	if (rc == -ENOENT && srv->refresh_at)
		return 0;	/* a node newer than the world: the next one has it */
	if (rc == -ENOENT) {
		log_info("node %s (%s): removed or expired, closing", s->name, s->peer);
		s->dirty = false;
		return ctl_conn_close(s->conn, "node removed or expired");
	}
	if (rc < 0)
		return rc;
	if (!s->has_sent) {
		msg.type = CTL_MSG_MAP;
		msg.u.map = m;
	} else {
		if ((rc = ctl_netmap_delta(&s->sent, &m, &d)) < 0)
			goto free_map;
		if (delta_empty(&d)) {
			s->dirty = false;
			goto free_delta;
		}
		msg.type = CTL_MSG_DELTA;
		msg.u.delta = d;
	}
	rc = sess_send(s, &msg);
	if (rc < 0)
		goto free_delta;	/* -ENOBUFS: it left the whole queue cap unread */
	if (s->has_sent)
		ctl_netmap_free(&s->sent);
	s->sent = m;
	s->has_sent = true;
	s->dirty = false;
	ctl_delta_free(&d);
	return 0;
free_delta:
	ctl_delta_free(&d);
free_map:
	ctl_netmap_free(&m);
	return rc;
}

static int record_approval(int64_t id, const char *prefix, const char *approver, void *arg)
{
	struct coord_srv *srv = arg;
	int rc = store_route_auto_approve(srv->state->store, id, prefix, approver, time(NULL));
	if (rc < 0)
		return rc;
	log_info("route %s of node %lld approved by %s", prefix, (long long)id, approver);
	coord_srv_changed(srv);
	return 0;
}

/* Record the approvals autoApprovers give (the world already serves those
 * routes; the store learns who approved them). */
static void record_auto_approvals(struct coord_srv *srv, const struct netmap_world *w)
{
	for (size_t i = 0; i < netmap_node_count(w); i++) {
		int rc = netmap_auto_approvals(w, netmap_node_id(w, i), record_approval, srv);
		if (rc < 0)
			log_warn("cannot record an automatic route approval: %s", strerror(-rc));
	}
}

/* The earliest key expiry of W's nodes, 0: none. */
static int64_t first_expiry(const struct netmap_world *w)
{
	int64_t first = 0;
	for (size_t i = 0; i < netmap_node_count(w); i++) {
		int64_t e = netmap_node_key_expiry(w, i);
		if (e && (!first || e < first))
			first = e;
	}
	return first;
}

/* Node keys whose time has come: expired in the store, so that the next
 * world leaves them out and every peer's map drops them, with no other
 * event needed. */
static void expire_due(struct coord_srv *srv)
{
	int64_t now = time(NULL);
	/* One coordinator of those sharing the store does it; should it die,
	 * its lock goes with its connection and another takes over. */
	int held = store_job_lock(srv->state->store, COORD_JOB_EXPIRY);
	if (held != 1) {
		if (held < 0)
			log_warn("cannot take the expiry job's lock: %s", strerror(-held));
		srv->expiry_at = now + COORD_JOB_RETRY_S;
		return;
	}
	srv->expiry_at = 0;
	for (size_t i = 0; i < netmap_node_count(srv->world); i++) {
		int64_t e = netmap_node_key_expiry(srv->world, i), id = netmap_node_id(srv->world, i);
		if (!e || e > now)
			continue;
		int rc = store_node_expire(srv->state->store, id);
		if (rc < 0)
			log_warn("cannot expire node %lld: %s", (long long)id, strerror(-rc));
		else
			log_info("node %lld: key expired", (long long)id);
	}
	coord_srv_changed(srv);
}

/* Rebuild the world from the store and mark the nodes whose view changed. */
static void refresh(struct coord_srv *srv)
{
	struct netmap_world *w;
	struct diag_list diags = { 0 };
	int64_t gen;
	uint64_t start = now_ns();
	srv->refresh_at = 0;
	int rc = netmap_world_next(srv->world, srv->state->store, &gen, &w, &diags);
	if (rc < 0) {
		srv->world_stale = true;
		log_err("cannot compute the netmaps (%s); nodes keep their last ones", strerror(-rc));
		diag_print(stderr, &diags);
		diag_list_free(&diags);
		return;
	}
	diag_list_free(&diags);
	srv->world_stale = false;
	record_auto_approvals(srv, w);
	for (struct coord_sess *s = srv->sessions; s; s = s->next)
		if (s->node_id && (!s->has_sent || netmap_changed(srv->world, w, s->node_id)))
			s->dirty = true;
	if (srv->world)
		netmap_world_free(srv->world);
	srv->world = w;
	srv->world_gen = gen;
	srv->expiry_at = first_expiry(w);
	for (struct coord_sess *s = srv->sessions, *next; s; s = next) {
		next = s->next;
		if ((rc = sess_push(s)) < 0 || (rc = sess_rearm(s)) < 0)
			sess_end(s, rc, NULL);
	}
	srv->refresh_end = now_ns();
	srv->refresh_cost = srv->refresh_end - start;
	srv->elect_due = true;	/* routes approved, advertised or gone */
}

void coord_srv_push_now(struct coord_srv *srv)
{
	refresh(srv);
	uint64_t now = now_ns();
	for (struct coord_sess *s = srv->sessions, *next; s; s = next) {
		next = s->next;
		if (!ctl_conn_wants_write(s->conn))
			continue;
		int rc = ctl_conn_on_writable(s->conn, now);
		if (rc == 0)
			rc = sess_rearm(s);
		if (rc < 0)
			sess_end(s, rc, NULL);
	}
}

const struct ctl_probe *coord_sess_probe(const struct coord_sess_info *info, const char *prefix)
{
	char text[64];
	for (size_t i = 0; i < info->n_probes; i++) {
		ctl_prefix_format(text, &info->probes[i].prefix);
		if (strcmp(text, prefix) == 0)
			return &info->probes[i];
	}
	return NULL;
}

/* Healthy for serving PREFIX: connected here, forwarding on, the route's
 * probe (if it has one) passing.  With a store shared by several
 * coordinators a node not connected here may be connected to another: not
 * known to fail (only what this coordinator sees failing is replaced; the
 * nodes' own failover covers the rest). */
static enum netmap_health sess_health(int64_t id, const char *prefix, void *arg)
{
	const struct coord_srv *srv = arg;
	struct coord_sess_info info;
	coord_srv_session_info(srv, id, &info);
	const struct ctl_probe *probe = coord_sess_probe(&info, prefix);
	if (!info.connected)
		return store_shared(srv->state->store) ? NETMAP_UNKNOWN : NETMAP_FAILING;
	return !info.forwarding_off && (!probe || probe->ok) ? NETMAP_HEALTHY : NETMAP_FAILING;
}

static void elected(const char *prefix, int64_t node_id, void *arg)
{
	(void)arg;
	log_info("route %s: node %lld is the primary now", prefix, (long long)node_id);
}

/* A node's probe report replaces the last one; a result that changed
 * calls an election. */
static void take_probes(struct coord_sess *s, const struct ctl_update *u)
{
	char text[64];
	for (size_t i = 0; i < u->n_probes; i++) {
		struct coord_sess_info info = { .probes = s->probes, .n_probes = s->n_probes };
		ctl_prefix_format(text, &u->probes[i].prefix);
		const struct ctl_probe *old = coord_sess_probe(&info, text);
		if (old && old->ok == u->probes[i].ok)
			continue;
		s->srv->elect_due = true;
		if (old || !u->probes[i].ok)
			log_warn("node %s: route %s: probe %s %s", s->name, text, u->probes[i].target,
				 u->probes[i].ok ? "passes again" : "fails: the route is not served from it");
	}
	s->srv->elect_due |= u->n_probes != s->n_probes;
	memcpy(s->probes, u->probes, u->n_probes * sizeof(*u->probes));
	s->n_probes = u->n_probes;
}

/* Elect the routes' primaries; a change is a store change like any other,
 * and the next rebuild orders the routers by it.  Of several coordinators
 * sharing the store, the one holding the job's lock elects. */
static void elect(struct coord_srv *srv)
{
	srv->elect_due = false;
	int held = store_job_lock(srv->state->store, COORD_JOB_ELECT);
	if (held != 1) {
		if (held < 0)
			log_warn("cannot take the election job's lock: %s", strerror(-held));
		return;
	}
	int rc = netmap_elect(srv->state->store, sess_health, elected, srv, time(NULL));
	if (rc < 0)
		log_warn("cannot elect the routes' primaries: %s", strerror(-rc));
	else if (rc > 0)
		coord_srv_changed(srv);
}

static bool last_seen(void *ctx, const uint8_t key[CTL_KEY_LEN], uint8_t ts[TAI64N_LEN])
{
	struct coord_sess *s = ctx;
	return coord_node_last_seen(s->srv->state->store, key, ts);
}

static int on_established(void *ctx, struct ctl_conn *c)
{
	struct coord_sess *s = ctx;
	int rc = coord_node_record_handshake(s->srv->state->store, ctl_conn_remote_key(c), ctl_conn_timestamp(c));
	if (rc < 0)
		log_warn("%s: cannot record the handshake time: %s", s->peer, strerror(-rc));
	return 0;
}

/* With no change pending, the world is the store as a world reads it: a
 * known node registering what the world already holds changes no one's
 * map, so it costs no rebuild and gets its own map at once (a coordinator
 * restarted under thousands of reconnecting nodes would otherwise rebuild
 * for them, over and over). */
static bool world_holds(int64_t id, const struct ctl_register *reg, void *arg)
{
	struct coord_srv *srv = arg;
	return !srv->refresh_at && !srv->world_stale && netmap_node_registered_as(srv->world, id, reg);
}

/* Answer a register: on refusal the result says why and the connection
 * closes. */
static int on_register(struct coord_sess *s, const struct ctl_register *reg)
{
	struct coord_srv *srv = s->srv;
	struct coord_node_result res;
	struct ctl_msg msg = { .type = CTL_MSG_REGISTER_RESULT };
	int rc = coord_node_register(srv->state->store, &srv->state->id, ctl_conn_remote_key(s->conn), reg,
				     srv->state->key_lifetime, world_holds, srv, &res);
	if (rc < 0)
		return rc;
	msg.u.result.ok = res.ok;
	msg.u.result.error = res.ok ? NULL : (char *)res.reason;
	msg.u.result.node_id = (uint64_t)res.node_id;
	msg.u.result.name = res.name;
	msg.u.result.addresses = res.addresses;
	rc = sess_send(s, &msg);
	ctl_prefixes_free(&res.addresses);
	if (rc < 0)
		return rc;
	if (!res.ok) {
		log_info("%s: registration refused: %s", s->peer, res.reason);
		return ctl_conn_close(s->conn, res.reason);
	}
	/* A node connects once: an older session of it (half-open) gives way. */
	struct coord_sess *o = sess_by_id(srv, res.node_id);
	if (o) {
		log_info("node %s (%s): replaced by a new connection", o->name, o->peer);
		sess_unindex(o);
		o->dirty = false;
		ctl_conn_close(o->conn, "replaced by a new connection");
		/* Its goodbye cannot be sent unwatched: end it now. */
		int re = sess_rearm(o);
		if (re < 0)
			sess_end(o, re, NULL);
	}
	if ((rc = sess_index(s, res.node_id)) < 0)
		return rc;
	srv->elect_due = true;
	snprintf(s->name, sizeof s->name, "%s", res.name);
	s->dirty = true;
	log_info("node %s (%s): %s", s->name, s->peer, res.created ? "registered" : "connected");
	if (res.unchanged)
		return sess_push(s);
	coord_srv_changed(srv);
	return 0;
}

/* A node's report of an out-of-band edit of its table (it repaired it):
 * kept with the session for `keygate nodes list`, logged. */
static void take_tamper(struct coord_sess *s, struct ctl_tamper *t)
{
	log_warn("node %s: its nftables table was changed by another process %llu time%s, last: %s (repaired)",
		 s->name, (unsigned long long)t->count, t->count == 1 ? "" : "s", t->what ? t->what : "?");
	free(s->tamper.what);
	s->tamper = *t;
	t->what = NULL;
}

static int on_message(void *ctx, struct ctl_conn *c, const char *text, size_t len)
{
	struct coord_sess *s = ctx;
	struct ctl_msg m;
	char err[256];
	int rc = ctl_msg_decode(text, len, &m, err, sizeof err);
	(void)c;
	if (rc < 0) {
		log_info("%s: bad message: %s", s->peer, rc == -EINVAL ? err : strerror(-rc));
		return -EBADMSG;
	}
	if (!s->node_id && m.type != CTL_MSG_REGISTER && m.type != CTL_MSG_KEEPALIVE_T) {
		log_info("%s: %s before register", s->peer, ctl_msg_type_name(m.type));
		rc = -EPROTO;
		goto free_msg;
	}
	switch (m.type) {
	case CTL_MSG_REGISTER:
		rc = s->node_id ? -EPROTO : on_register(s, &m.u.reg);
		break;
	case CTL_MSG_UPDATE:
		if (m.u.update.has_forwarding && s->forwarding_off == m.u.update.forwarding) {
			s->forwarding_off = !m.u.update.forwarding;
			log_warn("node %s: IP forwarding %s", s->name,
				 s->forwarding_off ? "off: its advertised routes are not served" : "on again");
			s->srv->elect_due = true;
		}
		if (m.u.update.has_tamper)
			take_tamper(s, &m.u.update.tamper);
		if (m.u.update.has_probes)
			take_probes(s, &m.u.update);
		rc = coord_node_update(s->srv->state->store, s->node_id, &m.u.update);
		if (rc == 0 && coord_node_update_changes(&m.u.update))
			coord_srv_changed(s->srv);
		break;
	case CTL_MSG_ACK:
		s->acked = m.u.ack.generation;
		free(s->ack_error);
		s->ack_error = m.u.ack.error ? strdup(m.u.ack.error) : NULL;
		if (m.u.ack.error) {
			/* It holds something else than we think: start again from a full map. */
			log_warn("node %s: generation %llu not applied: %s", s->name,
				 (unsigned long long)m.u.ack.generation, m.u.ack.error);
			if (s->has_sent)
				ctl_netmap_free(&s->sent);
			s->has_sent = false;
			s->dirty = true;
			rc = sess_push(s);
		}
		break;
	case CTL_MSG_KEEPALIVE_T:
		break;
	case CTL_MSG_CLOSE:
		log_info("node %s (%s): closed: %s", s->name, s->peer, m.u.reason ? m.u.reason : "");
		rc = -ECONNRESET;
		break;
	default:
		log_info("%s: unexpected %s", s->peer, ctl_msg_type_name(m.type));
		rc = -EPROTO;
	}
free_msg:
	ctl_msg_free(&m);
	return rc;
}

static void peer_name(const struct sockaddr_storage *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN], port[8];
	if (getnameinfo((const struct sockaddr *)sa, sizeof *sa, host, sizeof host, port, sizeof port,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, len, "?");
	else if (sa->ss_family == AF_INET6)
		snprintf(out, len, "[%s]:%s", host, port);
	else
		snprintf(out, len, "%s:%s", host, port);
}

static void accept_node(struct coord_srv *srv)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	int fd = accept4(srv->listen_fd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("accept: %s", strerror(errno));
		return;
	}
	struct coord_sess *s = calloc(1, sizeof *s);
	if (!s) {
		close(fd);
		return;
	}
	s->io.kind = IO_SESS;
	s->srv = srv;
	peer_name(&sa, s->peer, sizeof s->peer);
	struct ctl_conn_config cfg = {
		.role = CTL_RESPONDER, .local = &srv->state->id, .last_seen = last_seen,
		.on_established = on_established, .on_message = on_message, .ctx = s,
	};
	s->conn = ctl_conn_new(fd, &cfg, now_ns());
	if (!s->conn) {
		close(fd);
		free(s);
		return;
	}
	s->next = srv->sessions;
	if (s->next)
		s->next->prev = s;
	srv->sessions = s;
	if (ctl_conn_deadline(s->conn) < srv->timers_at)
		srv->timers_at = ctl_conn_deadline(s->conn);
	if (watch(srv, EPOLL_CTL_ADD, fd, EPOLLIN, &s->io) < 0)
		sess_end(s, -errno, NULL);
}

static void sess_event(struct coord_sess *s, uint32_t events)
{
	uint64_t now = now_ns();
	int rc = 0;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		rc = ctl_conn_on_readable(s->conn, now);
	if (rc == 0 && (events & EPOLLOUT)) {
		rc = ctl_conn_on_writable(s->conn, now);
		if (rc == 0 && s->dirty)
			rc = sess_push(s);
	}
	if (rc == 0 && ctl_conn_finished(s->conn)) {
		sess_end(s, 0, "closed");
		return;
	}
	if (rc == 0)
		rc = sess_rearm(s);
	if (rc < 0)
		sess_end(s, rc, NULL);
}

/* ---- the admin socket ---- */

static void admin_free(struct coord_srv *srv, struct admin_client *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else
		srv->admins = a->next;
	if (a->next)
		a->next->prev = a->prev;
	close(a->fd);
	free(a->in);
	free(a->out);
	free(a);
}

static void accept_admin(struct coord_srv *srv)
{
	int fd = accept4(srv->admin_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct admin_client *a = calloc(1, sizeof *a);
	if (!a) {
		close(fd);
		return;
	}
	a->io.kind = IO_ADMIN;
	a->fd = fd;
	a->next = srv->admins;
	if (a->next)
		a->next->prev = a;
	srv->admins = a;
	if (watch(srv, EPOLL_CTL_ADD, fd, EPOLLIN, &a->io) < 0)
		admin_free(srv, a);
}

/* Answer the first complete request line, if any and if the last answer
 * is out.  0, or negative to drop the client. */
static int admin_answer(struct coord_srv *srv, struct admin_client *a)
{
	char *nl;
	if (a->out || !a->in || !(nl = memchr(a->in, '\n', a->inlen)))
		return 0;
	size_t len = (size_t)(nl - a->in);
	*nl = '\0';
	a->out = coord_admin_handle(srv, a->in, len, &a->outlen);
	memmove(a->in, nl + 1, a->inlen - len - 1);
	a->inlen -= len + 1;
	if (!a->out)
		return -ENOMEM;
	a->outoff = 0;
	return watch(srv, EPOLL_CTL_MOD, a->fd, EPOLLIN | EPOLLOUT, &a->io);
}

static int admin_read(struct admin_client *a)
{
	for (;;) {
		if (a->incap - a->inlen < 4096) {
			if (a->incap >= ADMIN_MAX_REQUEST)
				return -EMSGSIZE;
			size_t cap = a->incap ? a->incap * 2 : 16384;
			char *p = realloc(a->in, cap);
			if (!p)
				return -ENOMEM;
			a->in = p;
			a->incap = cap;
		}
		ssize_t n = read(a->fd, a->in + a->inlen, a->incap - a->inlen - 1);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return -ECONNRESET;
		a->inlen += (size_t)n;
	}
}

static int admin_write(struct coord_srv *srv, struct admin_client *a)
{
	while (a->out && a->outoff < a->outlen) {
		ssize_t n = write(a->fd, a->out + a->outoff, a->outlen - a->outoff);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		a->outoff += (size_t)n;
	}
	free(a->out);
	a->out = NULL;
	int rc = watch(srv, EPOLL_CTL_MOD, a->fd, EPOLLIN, &a->io);
	return rc < 0 ? rc : admin_answer(srv, a);
}

static void admin_event(struct coord_srv *srv, struct admin_client *a, uint32_t events)
{
	int rc = 0;
	if (events & EPOLLOUT)
		rc = admin_write(srv, a);
	if (rc == 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		rc = admin_read(a);
	if (rc == 0)
		rc = admin_answer(srv, a);
	if (rc == -EMSGSIZE)
		log_warn("admin request over %u bytes: dropped", ADMIN_MAX_REQUEST);
	if (rc < 0)
		admin_free(srv, a);
}

/* ---- the loop ---- */

/* Run every session's timers that are due; the next scan, no later than
 * TIMER_SCAN_NS from NOW. */
static uint64_t scan_sessions(struct coord_srv *srv, uint64_t now)
{
	uint64_t next = now + TIMER_SCAN_NS;
	for (struct coord_sess *s = srv->sessions, *n; s; s = n) {
		n = s->next;
		uint64_t d = ctl_conn_deadline(s->conn);
		if (d <= now) {
			int rc = ctl_conn_tick(s->conn, now);
			if (rc == 0)
				rc = sess_rearm(s);
			if (rc < 0) {
				sess_end(s, rc, NULL);
				continue;
			}
			d = ctl_conn_deadline(s->conn);
		}
		if (d < next)
			next = d;
	}
	return next;
}

/* The sessions' timers when due, key expiry, the pending rebuild: the next
 * deadline of all. */
static uint64_t run_timers(struct coord_srv *srv, uint64_t now)
{
	uint64_t next = srv->refresh_at ? srv->refresh_at : UINT64_MAX;
	if (srv->store_retry_at && srv->store_retry_at <= now)
		store_watch_start(srv);
	if (srv->store_retry_at && srv->store_retry_at < next)
		next = srv->store_retry_at;
	if (srv->expiry_at) {
		int64_t left = srv->expiry_at - (int64_t)time(NULL);
		if (left <= 0)
			expire_due(srv);
		else if (now + (uint64_t)left * 1000000000ULL < next)
			next = now + (uint64_t)left * 1000000000ULL;
	}
	if (srv->timers_at <= now)
		srv->timers_at = scan_sessions(srv, now);
	return srv->timers_at < next ? srv->timers_at : next;
}

int coord_srv_run(struct coord_srv *srv)
{
	struct epoll_event ev[MAX_EVENTS];
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigset_t stop_set, wait_mask;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The stop signals arrive only inside epoll_pwait: none is lost
	 * between the check of stop_signal and the wait. */
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	sigprocmask(SIG_BLOCK, &stop_set, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	refresh(srv);
	while (!stop_signal) {
		uint64_t now = now_ns();
		if (srv->refresh_at && srv->refresh_at <= now)
			refresh(srv);
		if (srv->elect_due)
			elect(srv);
		uint64_t next = run_timers(srv, now);
		int timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)((next - now) / 1000000 + 1);
		int n = epoll_pwait(srv->epfd, ev, MAX_EVENTS, timeout, &wait_mask);
		if (n < 0 && errno != EINTR) {
			log_err("epoll_pwait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct io *io = ev[i].data.ptr;
			switch (io->kind) {
			case IO_LISTEN:
				accept_node(srv);
				break;
			case IO_ADMIN_LISTEN:
				accept_admin(srv);
				break;
			case IO_SESS:
				sess_event((struct coord_sess *)io, ev[i].events);
				break;
			case IO_ADMIN:
				admin_event(srv, (struct admin_client *)io, ev[i].events);
				break;
			case IO_STORE:
				store_event(srv);
				break;
			}
		}
	}
	log_info("stopping on signal %d", (int)stop_signal);
	return 0;
}

void coord_srv_free(struct coord_srv *srv)
{
	if (!srv)
		return;
	while (srv->sessions)
		sess_free(srv->sessions);
	while (srv->admins)
		admin_free(srv, srv->admins);
	free(srv->by_id);
	if (srv->world)
		netmap_world_free(srv->world);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->admin_fd >= 0) {
		close(srv->admin_fd);
		unlink(srv->admin_path);
	}
	if (srv->epfd > 0)
		close(srv->epfd);
	free(srv);
}
