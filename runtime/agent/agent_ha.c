/* agent_ha: the carriers of routes with backups, watched and moved. */
#include "agent_ha.h"
#include "agent_int.h"
#include "log.h"
#include "wgdev.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool same_prefix(const struct ctl_prefix *a, const struct ctl_prefix *b)
{
	return a->family == b->family && a->bits == b->bits && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static const struct ctl_peer *peer_by_id(const struct ctl_netmap *m, uint64_t id)
{
	for (size_t i = 0; i < m->n_peers; i++)
		if (m->peers[i].id == id)
			return &m->peers[i];
	return NULL;
}

/* The peer whose allowed IPs hold exactly X: the netmap's carrier. */
static const struct ctl_peer *primary_of(const struct ctl_netmap *m, const struct ctl_prefix *x)
{
	for (size_t i = 0; i < m->n_peers; i++)
		for (size_t k = 0; k < m->peers[i].allowed_ips.n; k++)
			if (same_prefix(&m->peers[i].allowed_ips.v[k], x))
				return &m->peers[i];
	return NULL;
}

static struct agent_ha_move *move_of(struct agent *a, const struct ctl_prefix *x)
{
	for (size_t i = 0; i < a->ha.n_moves; i++)
		if (same_prefix(&a->ha.moves[i].prefix, x))
			return &a->ha.moves[i];
	return NULL;
}

bool agent_ha_allows(const struct agent *a, const struct ctl_peer *p, const struct ctl_prefix *x)
{
	for (size_t i = 0; i < a->ha.n_moves; i++)
		if (a->ha.moves[i].from == p->id && same_prefix(&a->ha.moves[i].prefix, x))
			return false;
	return true;
}

size_t agent_ha_moved_to(const struct agent *a, uint64_t peer, const struct ctl_prefix **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < a->ha.n_moves && n < max; i++)
		if (a->ha.moves[i].to == peer)
			out[n++] = &a->ha.moves[i].prefix;
	return n;
}

enum hearing { UNHEARD, ALIVE, SILENT };

/* Heard from peer P within AGENT_HA_SILENT_NS of NOW (ALIVE), not since
 * (SILENT), or never since it was first watched (UNHEARD). */
static enum hearing hearing(struct agent *a, const struct ctl_peer *p, uint64_t now)
{
	const struct wgpeer *wp = wgdev_peer_by_key(a->dev, p->wg_key);
	struct agent_ha_watch *w = NULL;
	if (!wp)
		return UNHEARD;
	for (size_t i = 0; i < a->ha.n_watch && !w; i++)
		if (a->ha.watch[i].peer == p->id)
			w = &a->ha.watch[i];
	if (!w) {
		if (a->ha.n_watch == AGENT_HA_MAX)
			return UNHEARD;
		w = &a->ha.watch[a->ha.n_watch++];
		*w = (struct agent_ha_watch){ .peer = p->id, .rx_bytes = wp->rx_bytes, .heard_at = now };
	}
	if (wp->rx_bytes != w->rx_bytes) {
		w->rx_bytes = wp->rx_bytes;
		w->heard_at = now;
		w->heard = true;
	}
	return !w->heard ? UNHEARD : now - w->heard_at <= AGENT_HA_SILENT_NS ? ALIVE : SILENT;
}

static bool heard(struct agent *a, const struct ctl_peer *p, uint64_t now)
{
	return hearing(a, p, now) == ALIVE;
}

/* The backup of route X of rank RANK, or NULL. */
static const struct ctl_peer *backup_of(const struct ctl_netmap *m, const struct ctl_prefix *x, uint32_t rank)
{
	for (size_t i = 0; i < m->n_peers; i++)
		for (size_t k = 0; k < m->peers[i].backup_routes.n; k++)
			if (m->peers[i].backup_routes.v[k].rank == rank &&
			    same_prefix(&m->peers[i].backup_routes.v[k].prefix, x))
				return &m->peers[i];
	return NULL;
}

/* Move route X from carrier CUR to TO (the primary PRIMARY: no move). */
static void carry(struct agent *a, const struct ctl_prefix *x, const struct ctl_peer *primary,
		  const struct ctl_peer *cur, const struct ctl_peer *to)
{
	struct agent_ha_move *mv = move_of(a, x);
	char text[64];
	if (to == primary) {
		*mv = a->ha.moves[--a->ha.n_moves];
	} else if (mv) {
		mv->to = to->id;
	} else if (a->ha.n_moves < AGENT_HA_MAX) {
		a->ha.moves[a->ha.n_moves++] = (struct agent_ha_move){ .prefix = *x, .from = primary->id,
								       .to = to->id };
	} else {
		return;
	}
	a->ha.failovers++;
	ctl_prefix_format(text, x);
	log_warn("%s: route %s: %s silent for over %llu ms: carried by %s now", a->ifname, text, cur->name,
		 (unsigned long long)(AGENT_HA_SILENT_NS / 1000000), to->name);
	/* Off the silent one first: a prefix is in one peer's allowed IPs. */
	int rc = agent_sys_peer_set(a, cur);
	if (rc == 0)
		rc = agent_sys_peer_set(a, to);
	if (rc < 0)
		log_err("%s: route %s: moving it: %s", a->ifname, text, strerror(-rc));
}

/* Route X of peer PRIMARY has backups: is its carrier heard from? */
static void check_route(struct agent *a, const struct ctl_prefix *x, const struct ctl_peer *primary, uint64_t now)
{
	const struct ctl_netmap *m = &a->applied;
	struct agent_ha_move *mv = move_of(a, x);
	const struct ctl_peer *cur = mv ? peer_by_id(m, mv->to) : primary;
	if (!cur || hearing(a, cur, now) != SILENT)
		return;
	if (cur != primary && heard(a, primary, now)) {
		carry(a, x, primary, cur, primary);
		return;
	}
	for (uint32_t rank = 1;; rank++) {
		const struct ctl_peer *b = backup_of(m, x, rank);
		if (!b)
			return;
		if (b != cur && heard(a, b, now)) {
			carry(a, x, primary, cur, b);
			return;
		}
	}
}

static bool probes_timing(const struct agent *a)
{
	return a->probe_timer.fn && a->probe_timer.w.fd >= 0;
}

static int on_probe_tick(void *arg, uint32_t events)
{
	struct agent *a = arg;
	(void)events;
	if (agent_probe_run(&a->probes, agent_now()) || a->probes.changed)
		agent_link_report_probes(a);
	return 0;
}

/* Run the probes the prefs in effect name (none while down). */
static void probes_sync(struct agent *a)
{
	const struct agent_prefs *p = agent_cur_prefs(a);
	const char *spec = p->want_up ? p->route_probes : NULL;
	char why[256];
	if (spec == a->probes_spec || (spec && a->probes_spec && strcmp(spec, a->probes_spec) == 0))
		return;
	free(a->probes_spec);
	a->probes_spec = spec ? strdup(spec) : NULL;
	agent_probe_clear(&a->probes);
	a->probes.n = 0;
	a->probes.changed = true;
	if (a->probes_spec && agent_probe_parse(a->probes_spec, &p->routes, &a->probes, why, sizeof why) < 0)
		log_err("%s: route probes: %s: none run", a->ifname, why);
	if (a->probes.n && !probes_timing(a) &&
	    ev_timer_start(a->loop, &a->probe_timer, AGENT_PROBE_TICK_NS, AGENT_PROBE_TICK_NS, on_probe_tick, a) < 0)
		log_err("%s: route probes: no timer: %m", a->ifname);
	if (!a->probes.n && probes_timing(a))
		ev_timer_stop(a->loop, &a->probe_timer);
	agent_link_report_probes(a);	/* probes gone: the coordinator forgets them */
}

static int on_tick(void *arg, uint32_t events)
{
	struct agent *a = arg;
	uint64_t now = agent_now();
	(void)events;
	probes_sync(a);
	if (!a->has_applied)
		return 0;
	const struct ctl_netmap *m = &a->applied;
	if (m->snat && now - a->ha.beacon_at >= AGENT_HA_BEACON_NS - AGENT_HA_TICK_NS / 2) {
		wgdev_beacon(a->dev);
		a->ha.beacon_at = now;
	}
	for (size_t i = 0; i < m->n_peers; i++)
		for (size_t k = 0; k < m->peers[i].backup_routes.n; k++) {
			const struct ctl_prefix *x = &m->peers[i].backup_routes.v[k].prefix;
			const struct ctl_peer *primary = primary_of(m, x);
			/* Each route once: at its first backup. */
			if (primary && m->peers[i].backup_routes.v[k].rank == 1)
				check_route(a, x, primary, now);
		}
	return 0;
}

void agent_ha_applied(struct agent *a)
{
	for (size_t i = 0; i < a->ha.n_moves;) {
		struct agent_ha_move mv = a->ha.moves[i];
		const struct ctl_peer *primary = a->has_applied ? primary_of(&a->applied, &mv.prefix) : NULL;
		const struct ctl_peer *to = a->has_applied ? peer_by_id(&a->applied, mv.to) : NULL;
		if (primary && primary->id == mv.from && to) {
			i++;
			continue;
		}
		a->ha.moves[i] = a->ha.moves[--a->ha.n_moves];
		if (primary)
			agent_sys_peer_set(a, primary);
		if (to)
			agent_sys_peer_set(a, to);
	}
	/* Peers gone are watched no more; the others keep what was heard. */
	for (size_t i = 0; i < a->ha.n_watch;)
		if (a->has_applied && peer_by_id(&a->applied, a->ha.watch[i].peer))
			i++;
		else
			a->ha.watch[i] = a->ha.watch[--a->ha.n_watch];
}

int agent_ha_start(struct agent *a)
{
	return ev_timer_start(a->loop, &a->ha_timer, AGENT_HA_TICK_NS, AGENT_HA_TICK_NS, on_tick, a);
}

void agent_ha_stop(struct agent *a)
{
	if (a->ha_timer.fn)
		ev_timer_stop(a->loop, &a->ha_timer);
	if (probes_timing(a))
		ev_timer_stop(a->loop, &a->probe_timer);
	agent_probe_clear(&a->probes);
	free(a->probes_spec);
	a->probes_spec = NULL;
}

/* One route with backups: who carries it and why. */
static bool status_route(const struct agent *a, cJSON *arr, const struct ctl_prefix *x)
{
	const struct ctl_netmap *m = &a->applied;
	const struct ctl_peer *primary = primary_of(m, x), *carrier = primary;
	const struct agent_ha_move *mv = NULL;
	char text[64];
	for (size_t i = 0; i < a->ha.n_moves; i++)
		if (same_prefix(&a->ha.moves[i].prefix, x))
			mv = &a->ha.moves[i];
	if (mv)
		carrier = peer_by_id(m, mv->to);
	cJSON *o = cJSON_CreateObject();
	ctl_prefix_format(text, x);
	return cJSON_AddItemToArray(arr, o) && cJSON_AddStringToObject(o, "route", text) &&
	       cJSON_AddStringToObject(o, "primary", primary ? primary->name : "") &&
	       cJSON_AddStringToObject(o, "carrier", carrier ? carrier->name : "") &&
	       cJSON_AddStringToObject(o, "why", mv ? "the primary stopped answering through the tunnel: its backup "
						      "carries the route until the coordinator elects another primary"
						    : "the coordinator's primary");
}

int agent_ha_status(const struct agent *a, cJSON *j)
{
	cJSON *ha = cJSON_AddObjectToObject(j, "failover");
	cJSON *routes = ha ? cJSON_AddArrayToObject(ha, "routes") : NULL;
	bool ok = routes && cJSON_AddNumberToObject(ha, "failovers", (double)a->ha.failovers);
	cJSON *probes = ok ? cJSON_AddArrayToObject(ha, "probes") : NULL;
	char text[64];
	ok = probes != NULL;
	for (size_t i = 0; ok && i < a->probes.n; i++) {
		const struct agent_probe *p = &a->probes.v[i];
		cJSON *o = cJSON_CreateObject();
		ctl_prefix_format(text, &p->r.prefix);
		ok = cJSON_AddItemToArray(probes, o) && cJSON_AddStringToObject(o, "route", text) &&
		     cJSON_AddStringToObject(o, "probe", p->r.target) &&
		     cJSON_AddStringToObject(o, "result", !p->known ? "not run yet" : p->r.ok ? "ok" : "failing");
	}
	const struct ctl_netmap *m = a->has_applied ? &a->applied : NULL;
	for (size_t i = 0; ok && m && i < m->n_peers; i++)
		for (size_t k = 0; ok && k < m->peers[i].backup_routes.n; k++)
			if (m->peers[i].backup_routes.v[k].rank == 1)
				ok = status_route(a, routes, &m->peers[i].backup_routes.v[k].prefix);
	return ok ? 0 : -ENOMEM;
}
