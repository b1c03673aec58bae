/* agent_link: the control connection: connect (marked to bypass our
 * routes), register, apply maps and deltas, acknowledge; backoff and
 * reconnect when it is lost. */
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "agent_fwd.h"
#include "agent_int.h"
#include "ctl_msg.h"
#include "log.h"

uint64_t agent_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * CTL_NS + (uint64_t)ts.tv_nsec;
}

static int send_msg(struct agent *a, const struct ctl_msg *m)
{
	size_t len;
	char *text = ctl_msg_encode(m, &len);
	int rc = text ? ctl_conn_send(a->conn, text, len) : -ENOMEM;
	free(text);
	return rc;
}

/* This machine's addresses other interfaces hold, with our UDP port. */
static int gather_endpoints(struct agent *a, struct ctl_endpoints *out)
{
	struct ifaddrs *ifs, *i;
	memset(out, 0, sizeof *out);
	if (getifaddrs(&ifs) < 0)
		return -errno;
	out->v = calloc(CTL_MAX_ENDPOINTS, sizeof *out->v);
	if (!out->v) {
		freeifaddrs(ifs);
		return -ENOMEM;
	}
	for (i = ifs; i && out->n < CTL_MAX_ENDPOINTS; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP) ||
		    !strcmp(i->ifa_name, a->ifname))
			continue;
		struct ctl_endpoint *e = &out->v[out->n];
		if (i->ifa_addr->sa_family == AF_INET) {
			e->family = 4;
			memcpy(e->addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const uint8_t *b = ((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr.s6_addr;
			if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
				continue;	/* link-local */
			e->family = 6;
			memcpy(e->addr, b, 16);
		} else {
			continue;
		}
		e->port = a->dev->listen_port;
		out->n++;
	}
	freeifaddrs(ifs);
	return 0;
}

static int on_established(void *ctx, struct ctl_conn *c)
{
	struct agent *a = ctx;
	const struct agent_prefs *p = agent_cur_prefs(a);
	struct ctl_msg m = { .type = CTL_MSG_REGISTER };
	char host[HOST_NAME_MAX + 1];
	(void)c;
	if (!p->hostname && gethostname(host, sizeof host) < 0)
		strcpy(host, "node");
	host[HOST_NAME_MAX] = '\0';
	/* An `up` with a key sends it; a coordinator that knows our machine
	 * key ignores it, one that forgot us registers us again. */
	m.u.reg.auth_key = a->authkey;
	crypto_scalarmult_base(m.u.reg.wg_key, a->wg_key);
	m.u.reg.hostname = p->hostname ? p->hostname : host;
	m.u.reg.routes = p->routes;
	int rc = gather_endpoints(a, &m.u.reg.endpoints);
	if (rc == 0)
		rc = send_msg(a, &m);
	ctl_endpoints_free(&m.u.reg.endpoints);
	return rc;
}

static int ack(struct agent *a, uint64_t generation, const char *error)
{
	struct ctl_msg m = { .type = CTL_MSG_ACK };
	m.u.ack.generation = generation;
	m.u.ack.error = (char *)error;
	return send_msg(a, &m);
}

/* The apply of generation GEN ended with RC: answer and acknowledge. */
static int applied(struct agent *a, uint64_t gen, int rc)
{
	if (rc < 0) {
		agent_answer_waiting(a, false, a->apply_error);
		return ack(a, gen, a->apply_error);
	}
	a->failures = 0;
	agent_answer_waiting(a, true, NULL);
	return ack(a, gen, NULL);
}

static int prepare(struct agent *a)
{
	return a->system_ready ? 0 : agent_sys_prepare(a, a->apply_error, sizeof a->apply_error);
}

/* Apply NEXT (ours to free unless applied), store, acknowledge. */
static int take_netmap(struct agent *a, struct ctl_netmap *next)
{
	uint64_t gen = next->generation;
	int rc = prepare(a);
	if (rc == 0)
		rc = agent_sys_apply(a, next, false);
	if (rc < 0) {
		ctl_netmap_free(next);
		return applied(a, gen, rc);
	}
	if ((rc = agent_state_save_netmap(a->state_dir, &a->applied, &a->journal)) < 0)
		log_warn("%s: cannot store netmap %llu: %s", a->ifname, (unsigned long long)gen, strerror(-rc));
	return applied(a, gen, 0);
}

static int on_delta(struct agent *a, struct ctl_delta *d)
{
	if (!a->has_applied)
		return ack(a, d->generation, "delta without a netmap");
	int rc = prepare(a);
	if (rc == 0)
		rc = agent_sys_take_delta(a, d);
	/* A delta that does not apply is acknowledged with the reason only. */
	if (rc == -ESTALE || rc == -EBADMSG)
		return ack(a, d->generation, a->apply_error);
	return applied(a, d->generation, rc);
}

static int send_tamper(struct agent *a)
{
	struct ctl_msg m = { .type = CTL_MSG_UPDATE };
	m.u.update.has_tamper = true;
	m.u.update.tamper = a->tamper;
	return send_msg(a, &m);
}

void agent_link_report_probes(struct agent *a)
{
	struct ctl_probe results[AGENT_PROBE_MAX];
	struct ctl_msg m = { .type = CTL_MSG_UPDATE, .u.update = { .has_probes = true, .probes = results } };
	if (!a->conn || !a->connected_since)
		return;
	agent_probe_results(&a->probes, results, &m.u.update.n_probes);
	if (send_msg(a, &m) == 0)
		a->probes.changed = false;
}

void agent_link_report_tamper(struct agent *a)
{
	if (a->conn && a->registered_now && send_tamper(a) < 0)
		log_warn("%s: cannot report the tampering to the coordinator", a->ifname);
}

static int on_result(struct agent *a, const struct ctl_register_result *r)
{
	if (!r->ok) {
		char why[sizeof a->link_error];
		snprintf(why, sizeof why, "the coordinator refused the registration: %s", r->error ? r->error : "?");
		snprintf(a->link_error, sizeof a->link_error, "%s", why);
		log_err("%s: %s", a->ifname, why);
		if (a->has_try)
			agent_try_failed(a, why);
		return -EACCES;
	}
	a->registered_now = true;
	snprintf(a->node_name, sizeof a->node_name, "%s", r->name ? r->name : "");
	log_info("%s: registered as %s (node %llu)", a->ifname, a->node_name, (unsigned long long)r->node_id);
	/* A new session knows nothing of what happened before it. */
	if (a->tamper.count && send_tamper(a) < 0)
		return -ENOMEM;
	return a->has_try ? agent_try_commit(a) : 0;
}

static int on_message(void *ctx, struct ctl_conn *c, const char *text, size_t len)
{
	struct agent *a = ctx;
	struct ctl_msg m;
	char err[256];
	(void)c;
	int rc = ctl_msg_decode(text, len, &m, err, sizeof err);
	if (rc < 0) {
		log_warn("%s: coordinator sent a bad message: %s", a->ifname, err);
		return rc;
	}
	switch (m.type) {
	case CTL_MSG_REGISTER_RESULT:
		rc = on_result(a, &m.u.result);
		break;
	case CTL_MSG_MAP:
		rc = a->registered_now ? take_netmap(a, &m.u.map) : -EPROTO;
		memset(&m.u.map, 0, sizeof m.u.map);
		break;
	case CTL_MSG_DELTA:
		rc = a->registered_now ? on_delta(a, &m.u.delta) : -EPROTO;
		break;
	case CTL_MSG_CLOSE:
		log_info("%s: the coordinator closes: %s", a->ifname, m.u.reason ? m.u.reason : "");
		break;
	default:
		break;
	}
	ctl_msg_free(&m);
	return rc;
}

static int connect_to(const char *server, char *err, size_t errlen)
{
	char host[300], port[8];
	uint16_t p;
	bool bracketed;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	if (ctl_hostport_split(server, host, sizeof host, &p, &bracketed) < 0) {
		snprintf(err, errlen, "%s: not HOST:PORT", server);
		return -EINVAL;
	}
	snprintf(port, sizeof port, "%u", p);
	int g = getaddrinfo(host, port, &hints, &ai);
	if (g != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(g));
		return -EHOSTUNREACH;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	uint32_t mark = AGENT_FWMARK;
	int rc = fd < 0 ? -errno : 0;
	const char *what = "cannot reach the coordinator at";
	/* Marked like our UDP: never routed into the tunnel.  Unmarked, an
	 * exit route could carry it into the tunnel: refuse to go on. */
	if (rc == 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) {
		rc = -errno;
		what = "cannot mark the connection (SO_MARK) to";
	}
	if (rc == 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)
		rc = -errno;
	freeaddrinfo(ai);
	if (rc < 0) {
		snprintf(err, errlen, "%s %s: %s", what, server, strerror(-rc));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

static int on_conn(void *arg, uint32_t events);

/* Watch for writing exactly while the connection has bytes queued.  A
 * connection the loop cannot watch is lost (false). */
static bool watch_conn(struct agent *a)
{
	uint32_t ev = EPOLLIN | (ctl_conn_wants_write(a->conn) ? EPOLLOUT : 0);
	int rc = ev == a->conn_w.events ? 0 : ev_watch_mod(a->loop, &a->conn_w, ev);
	if (rc < 0) {
		char why[128];
		snprintf(why, sizeof why, "cannot watch the connection: %s", strerror(-rc));
		agent_link_lost(a, why);
	}
	return rc == 0;
}

void agent_link_start(struct agent *a)
{
	char err[512];
	const struct agent_prefs *p = agent_cur_prefs(a);
	agent_link_stop(a);
	a->reconnect_at = 0;
	if (agent_server_nth(p->login_server, a->server_idx, a->server_now, sizeof a->server_now) <= 0) {
		snprintf(err, sizeof err, "%s: not a coordinator address", p->login_server);
		agent_link_lost(a, err);
		return;
	}
	int fd = connect_to(a->server_now, err, sizeof err);
	if (fd < 0) {
		agent_link_lost(a, err);
		return;
	}
	struct ctl_conn_config cfg = { .role = CTL_INITIATOR, .local = &a->id, .server_key = p->server_key,
				       .on_established = on_established, .on_message = on_message, .ctx = a };
	a->conn = ctl_conn_new(fd, &cfg, agent_now());
	if (!a->conn) {
		close(fd);
		agent_link_lost(a, "out of memory");
		return;
	}
	a->registered_now = false;
	a->conn_w = (struct ev_watch){ .fd = fd, .events = EPOLLIN | EPOLLOUT, .fn = on_conn, .arg = a };
	if (ev_watch_add(a->loop, &a->conn_w) < 0) {
		ctl_conn_free(a->conn);
		a->conn = NULL;
		agent_link_lost(a, "cannot watch the connection");
		return;
	}
	agent_link_rearm(a);
}

void agent_link_stop(struct agent *a)
{
	if (!a->conn)
		return;
	ev_watch_del(a->loop, &a->conn_w);
	ctl_conn_free(a->conn);
	a->conn = NULL;
	a->registered_now = false;
}

void agent_link_lost(struct agent *a, const char *why)
{
	bool was_up = a->registered_now;
	agent_link_stop(a);
	a->server_idx++;	/* the next coordinator of the list, if there are several */
	snprintf(a->link_error, sizeof a->link_error, "%s", why);
	if (was_up || !a->lost_since)
		a->lost_since = time(NULL);
	a->connected_since = 0;
	if (a->has_try) {
		agent_try_failed(a, why);
		if (!a->prefs.want_up)
			return;
	} else if (!a->prefs.want_up) {
		return;
	}
	/* Backoff: doubling from 0.5 s to 8 s, times 0.5..1.5 (jitter). */
	uint64_t base = AGENT_BACKOFF_MIN_NS << (a->failures < 5 ? a->failures : 5);
	if (base > AGENT_BACKOFF_MAX_NS)
		base = AGENT_BACKOFF_MAX_NS;
	uint64_t delay = base / 2 + (uint64_t)randombytes_uniform(1000) * base / 1000;
	a->failures++;
	a->reconnect_at = agent_now() + delay;
	log_warn("%s: coordinator: %s; %s, retrying in %.1f s", a->ifname, why,
		 a->has_applied ? "enforcing what was applied" : "nothing applied yet", (double)delay / 1e9);
	agent_link_rearm(a);
}

static int on_conn(void *arg, uint32_t events)
{
	struct agent *a = arg;
	uint64_t now = agent_now();
	int rc = 0;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		rc = ctl_conn_on_readable(a->conn, now);
	if (rc == 0 && a->conn && (events & EPOLLOUT))
		rc = ctl_conn_on_writable(a->conn, now);
	if (!a->conn)
		return 0;
	if (rc == 0 && ctl_conn_established(a->conn) && a->registered_now && !a->connected_since) {
		a->connected_since = time(NULL);
		a->lost_since = 0;
		a->link_error[0] = '\0';
		/* A new session: the coordinator takes forwarding to be on. */
		a->fwd_said_off = false;
		a->fwd_check_at = agent_now();
		a->probes.changed = true;	/* told on the next probe tick */
	}
	if (rc < 0 || ctl_conn_finished(a->conn)) {
		char why[512];
		const char *what = rc == -ECONNRESET ? "closed by the coordinator"
				   : rc == -EBADMSG ? "handshake failed (the coordinator's key is not the one pinned)"
				   : rc ? strerror(-rc) : "closed";
		if (rc == -EACCES && a->link_error[0])
			snprintf(why, sizeof why, "%s", a->link_error);
		else if (!ctl_conn_established(a->conn))
			snprintf(why, sizeof why, "cannot reach the coordinator at %s: %s", a->server_now, what);
		else
			snprintf(why, sizeof why, "connection lost: %s", what);
		agent_link_lost(a, why);
		return 0;
	}
	if (watch_conn(a))
		agent_link_rearm(a);
	return 0;
}

/* Forwarding turned off (or on again) after `up`: tell the coordinator,
 * whose `keygate routes list` shows it. */
static int report_forwarding(struct agent *a, uint64_t now)
{
	char why[512];
	a->fwd_check_at = now + AGENT_FWD_CHECK_NS;
	bool off = agent_fwd_check(a->sysctl_dir, &agent_cur_prefs(a)->routes, why, sizeof why) < 0;
	if (off == a->fwd_said_off)
		return 0;
	struct ctl_msg m = { .type = CTL_MSG_UPDATE, .u.update = { .has_forwarding = true, .forwarding = !off } };
	int rc = send_msg(a, &m);
	if (rc == 0)
		a->fwd_said_off = off;
	return rc;
}

static int on_timer(void *arg, uint32_t events)
{
	struct agent *a = arg;
	uint64_t exp, now = agent_now();
	(void)events;
	if (read(a->timer_fd, &exp, sizeof exp) < 0) {
		/* nothing: a re-arm raced the expiry */
	}
	if (a->conn) {
		int rc = ctl_conn_tick(a->conn, now);
		if (rc == 0 && a->connected_since && now >= a->fwd_check_at)
			rc = report_forwarding(a, now);
		if (rc < 0) {
			agent_link_lost(a, rc == -ETIMEDOUT ? "the coordinator does not answer" : strerror(-rc));
			return 0;
		}
		if (!watch_conn(a))
			return 0;
	} else if (a->reconnect_at && a->reconnect_at <= now) {
		agent_link_start(a);
		return 0;
	}
	agent_link_rearm(a);
	return 0;
}

void agent_link_rearm(struct agent *a)
{
	uint64_t at = a->conn ? ctl_conn_deadline(a->conn) : a->reconnect_at, now = agent_now();
	if (a->conn && a->connected_since && (!at || a->fwd_check_at < at))
		at = a->fwd_check_at;
	struct itimerspec its = { 0 };
	if (a->timer_w.fn == NULL) {
		a->timer_w = (struct ev_watch){ .fd = a->timer_fd, .events = EPOLLIN, .fn = on_timer, .arg = a };
		if (ev_watch_add(a->loop, &a->timer_w) < 0) {
			/* Tried again on the next re-arm. */
			log_err("%s: cannot watch the agent's timer: %m", a->ifname);
			a->timer_w.fn = NULL;
		}
	}
	if (at) {
		uint64_t d = at > now ? at - now : 1;
		its.it_value = (struct timespec){ .tv_sec = (time_t)(d / CTL_NS), .tv_nsec = (long)(d % CTL_NS) };
	}
	timerfd_settime(a->timer_fd, 0, &its, NULL);
}
