/* agent_sys: agent_apply's operations on the real system: peers through
 * the device's typed configuration, addresses and routes through
 * rtnetlink, the filter through agent_nft. */
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_delta.h"
#include "agent_int.h"
#include "log.h"
#include "wgconfig.h"

/* Our IPv4 subnets (other interfaces than the tunnel), read once an apply:
 * an endpoint on one of them is reachable directly. */
static void refresh_subnets(struct agent *a)
{
	struct ifaddrs *ifs, *i;
	a->n_subnets = 0;
	if (getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i && a->n_subnets < AGENT_MAX_SUBNETS; i = i->ifa_next) {
		if (!i->ifa_addr || !i->ifa_netmask || i->ifa_addr->sa_family != AF_INET ||
		    (i->ifa_flags & IFF_LOOPBACK) || !strcmp(i->ifa_name, a->ifname))
			continue;
		uint32_t mask = ((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr;
		a->subnets[a->n_subnets].mask = mask;
		a->subnets[a->n_subnets++].net = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr & mask;
	}
	freeifaddrs(ifs);
}

static bool on_link(const struct agent *a, const struct ctl_endpoint *e)
{
	uint32_t addr;
	memcpy(&addr, e->addr, 4);
	for (size_t i = 0; i < a->n_subnets; i++)
		if ((addr & a->subnets[i].mask) == a->subnets[i].net)
			return true;
	return false;
}

/* Without path discovery, one endpoint: an IPv4 one on a subnet of ours,
 * else the first IPv4 one, else the first. */
static const struct ctl_endpoint *pick_endpoint(const struct agent *a, const struct ctl_peer *p)
{
	const struct ctl_endpoint *first4 = NULL;
	for (size_t i = 0; i < p->endpoints.n; i++) {
		const struct ctl_endpoint *e = &p->endpoints.v[i];
		if (e->family != 4)
			continue;
		if (on_link(a, e))
			return e;
		if (!first4)
			first4 = e;
	}
	return first4 ? first4 : p->endpoints.n ? &p->endpoints.v[0] : NULL;
}

static int configure_peer(struct agent *a, const struct ctl_peer *p, bool remove)
{
	struct wgconfig cfg = { 0 };
	int rc = -ENOMEM;
	struct wgconfig_peer *wp = wgconfig_add_peer(&cfg, p->wg_key);
	if (!wp)
		goto out;
	wp->remove = remove;
	wp->replace_allowed_ips = true;
	wp->has_keepalive = true;
	wp->keepalive = p->keepalive;
	const struct ctl_endpoint *ep = pick_endpoint(a, p);
	if (ep && ep->family == 4) {
		wp->has_endpoint = true;
		wp->endpoint.in = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(ep->port) };
		memcpy(&wp->endpoint.in.sin_addr, ep->addr, 4);
	} else if (ep) {
		wp->has_endpoint = true;
		wp->endpoint.in6 = (struct sockaddr_in6){ .sin6_family = AF_INET6, .sin6_port = htons(ep->port) };
		memcpy(&wp->endpoint.in6.sin6_addr, ep->addr, 16);
	}
	rc = 0;
	for (size_t i = 0; i < p->allowed_ips.n && rc == 0 && !remove; i++) {
		const struct ctl_prefix *x = &p->allowed_ips.v[i];
		if (agent_ha_allows(a, p, x))
			rc = wgconfig_add_allowed_ip(&cfg.peers[0], x->family == 6 ? AF_INET6 : AF_INET, x->addr,
						     x->bits);
	}
	const struct ctl_prefix *moved[AGENT_HA_MAX];
	size_t n_moved = remove ? 0 : agent_ha_moved_to(a, p->id, moved, AGENT_HA_MAX);
	for (size_t i = 0; i < n_moved && rc == 0; i++)
		rc = wgconfig_add_allowed_ip(&cfg.peers[0], moved[i]->family == 6 ? AF_INET6 : AF_INET, moved[i]->addr,
					     moved[i]->bits);
	if (rc == 0)
		rc = wgdev_configure(a->dev, &cfg);
out:
	wgconfig_free(&cfg);
	return rc;
}

int agent_sys_peer_set(struct agent *a, const struct ctl_peer *p)
{
	return configure_peer(a, p, false);
}

static int op_peer_set(void *ctx, const struct ctl_peer *p)
{
	return configure_peer(ctx, p, false);
}

static int op_peer_remove(void *ctx, const struct ctl_peer *p)
{
	return configure_peer(ctx, p, true);
}

static int ifindex_of(struct agent *a)
{
	unsigned i = if_nametoindex(a->ifname);
	return i ? (int)i : -ENODEV;
}

static int op_addr(void *ctx, const struct ctl_prefix *x, bool add)
{
	struct agent *a = ctx;
	int ifindex = ifindex_of(a);
	return ifindex < 0 ? ifindex : rtnl_addr(a->rt, ifindex, x->family, x->addr, x->bits, add);
}

static int op_route(void *ctx, const struct ctl_prefix *x, bool add)
{
	struct agent *a = ctx;
	int ifindex = ifindex_of(a);
	return ifindex < 0 ? ifindex : rtnl_route(a->rt, RTNL_TABLE, ifindex, x->family, x->addr, x->bits, add);
}

static int op_filter(void *ctx, const struct agent_target *t, const struct ctl_delta *d)
{
	struct agent *a = ctx;
	const struct ctl_prefixes *served = &agent_cur_prefs(a)->routes;
	char why[256];
	int rc;
	if (!t->m)
		return agent_nft_remove(a->nft);
	if (d)
		rc = agent_nft_apply_delta(a->nft, a->applied.filter, d, t->m, served, &t->snat_to, why, sizeof why);
	else
		rc = agent_nft_apply(a->nft, t->m, served, &t->snat_to, why, sizeof why);
	if (rc < 0)
		log_err("%s: %s", a->ifname, why);
	return rc;
}

const struct agent_ops agent_sys_ops = {
	.peer_set = op_peer_set,
	.peer_remove = op_peer_remove,
	.addr = op_addr,
	.route = op_route,
	.filter = op_filter,
};

static int rules(struct agent *a, bool add)
{
	int rc = 0;
	for (uint8_t family = 4; family <= 6 && rc == 0; family += 2) {
		rc = rtnl_rule(a->rt, family, AGENT_RULE_BYPASS, RTNL_TABLE_MAIN, AGENT_FWMARK, AGENT_FWMARK_MASK, add);
		if (rc == 0)
			rc = rtnl_rule(a->rt, family, AGENT_RULE_TABLE, RTNL_TABLE, 0, 0, add);
	}
	return rc;
}

int agent_sys_prepare(struct agent *a, char *err, size_t errlen)
{
	struct wgconfig cfg = { .has_private_key = true, .has_fwmark = true, .fwmark = AGENT_FWMARK };
	int ifindex = ifindex_of(a), rc;
	memcpy(cfg.private_key, a->wg_key, sizeof cfg.private_key);
	rc = wgdev_configure(a->dev, &cfg);
	wgconfig_free(&cfg);
	if (rc < 0) {
		snprintf(err, errlen, "%s: setting the key and fwmark: %s", a->ifname, strerror(-rc));
		return rc;
	}
	if (ifindex < 0 || (rc = rtnl_link_up(a->rt, ifindex)) < 0) {
		rc = ifindex < 0 ? ifindex : rc;
		snprintf(err, errlen, "%s: setting the link up: %s", a->ifname, strerror(-rc));
		return rc;
	}
	if ((rc = rules(a, true)) < 0) {
		snprintf(err, errlen, "policy rules %d and %d: %s", AGENT_RULE_BYPASS, AGENT_RULE_TABLE, strerror(-rc));
		return rc;
	}
	a->system_ready = true;
	return 0;
}

/* The target the prefs ask for, over M. */
static struct agent_target target_of(struct agent *a, const struct ctl_netmap *m)
{
	struct agent_target n = { m, agent_cur_prefs(a)->accept_routes, { 0 } };
	char why[160];
	const char *snat_to = agent_cur_prefs(a)->snat_to;
	/* Checked when `up` stored it; a damaged prefs file masquerades. */
	if (snat_to && nftm_snat_to_parse(snat_to, &n.snat_to, why, sizeof why) < 0)
		log_err("%s: snat_to: %s: masquerading", a->ifname, why);
	return n;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Say how the apply of generation GEN went (RC); note the filter's. */
static void applied_log(struct agent *a, uint64_t gen, int rc, const struct agent_apply_result *r)
{
	if (rc < 0) {
		snprintf(a->apply_error, sizeof a->apply_error, "%s", r->error);
		log_err("%s: netmap %llu not applied: %s%s", a->ifname, (unsigned long long)gen, r->error,
			r->undo_failed ? " (and undoing failed too)" : "");
		return;
	}
	a->apply_error[0] = '\0';
	log_info("%s: netmap %llu applied in %.1f ms: %zu peers set, %zu removed, %zu addresses, %zu routes%s",
		 a->ifname, (unsigned long long)gen, a->last_apply_ms, r->peers_set, r->peers_removed, r->addrs,
		 r->routes, r->filter ? ", filter" : "");
	if (r->filter)
		a->filter_generation = gen;
}

/* The route counts of what is applied, made again after a whole apply
 * (without memory for them, deltas take the whole path). */
static void recount_routes(struct agent *a)
{
	struct agent_target t = { a->has_applied ? &a->applied : NULL, a->applied_accept, a->applied_snat_to };
	agent_routes_free(&a->routes);
	a->routes_ok = agent_target_route_counts(&t, &a->routes) == 0;
}

int agent_sys_apply(struct agent *a, struct ctl_netmap *m, bool force_filter)
{
	struct agent_target o = { a->has_applied ? &a->applied : NULL, a->applied_accept, a->applied_snat_to };
	struct agent_target n = target_of(a, m);
	struct agent_apply_result r;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	refresh_subnets(a);
	int rc = agent_apply(&agent_sys_ops, a, &o, &n, force_filter, &r);
	a->last_apply_ms = ms_since(&t0);
	applied_log(a, m ? m->generation : 0, rc, &r);
	if (rc < 0)
		return rc;
	if (a->has_applied)
		ctl_netmap_free(&a->applied);
	a->has_applied = m != NULL;
	if (m) {
		a->applied = *m;
		memset(m, 0, sizeof *m);
	}
	a->applied_accept = n.accept_routes;
	a->applied_snat_to = n.snat_to;
	recount_routes(a);
	agent_ha_applied(a);
	return 0;
}

/* D the whole way: the netmap after it made, then applied whole. */
static int apply_delta_whole(struct agent *a, const struct ctl_delta *d)
{
	struct ctl_netmap next;
	int rc = ctl_netmap_apply(&a->applied, d, &next);
	if (rc < 0) {
		snprintf(a->apply_error, sizeof a->apply_error, "%s",
			 rc == -ESTALE ? "delta from another generation" :
			 rc == -EINVAL ? "delta does not apply" : strerror(-rc));
		return rc == -EINVAL ? -EBADMSG : rc;
	}
	if ((rc = agent_sys_apply(a, &next, false)) < 0)
		ctl_netmap_free(&next);
	return rc;
}

/* D through agent_apply_delta: only what it names. */
static int apply_delta(struct agent *a, struct ctl_delta *d, const struct agent_target *n0)
{
	struct agent_target o = { &a->applied, a->applied_accept, a->applied_snat_to }, n = *n0;
	struct agent_apply_result r = { 0 };
	struct ctl_netmap view;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bool need_view = agent_delta_touches_filter(&a->applied, d);
	int rc = agent_delta_prepare(&a->applied, d, need_view, &view);
	if (rc < 0) {
		snprintf(r.error, sizeof r.error, "planning: %s", strerror(-rc));
		goto out;
	}
	n.m = need_view ? &view : NULL;
	refresh_subnets(a);
	if ((rc = agent_apply_delta(&agent_sys_ops, a, &o, d, &n, &a->routes, &r)) < 0)
		agent_delta_view_free(&view);
	else
		agent_delta_commit(&a->applied, d, &view);
out:
	a->last_apply_ms = ms_since(&t0);
	applied_log(a, d->generation, rc, &r);
	if (rc == 0)
		agent_ha_applied(a);
	return rc;
}

int agent_sys_take_delta(struct agent *a, struct ctl_delta *d)
{
	struct agent_target n = target_of(a, NULL);
	cJSON *j = ctl_delta_to_json(d);
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	int rc;
	cJSON_Delete(j);
	if (!text) {
		snprintf(a->apply_error, sizeof a->apply_error, "storing the delta: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (d->from_generation == a->applied.generation && (rc = agent_delta_patch_filter(&a->applied, d)) < 0) {
		snprintf(a->apply_error, sizeof a->apply_error, "%s",
			 rc == -EBADMSG ? "delta does not apply" : strerror(-rc));
		free(text);
		return rc;
	}
	/* Routes accepted or source NAT addresses changed since the last
	 * apply, or a delta that is not clean: the whole netmap is compared. */
	if (a->routes_ok && agent_delta_applies(&a->applied, d) && n.accept_routes == a->applied_accept &&
	    !memcmp(&n.snat_to, &a->applied_snat_to, sizeof n.snat_to))
		rc = apply_delta(a, d, &n);
	else
		rc = apply_delta_whole(a, d);
	if (rc == 0 && (rc = agent_state_save_delta(a->state_dir, &a->journal, text, strlen(text), &a->applied)) < 0) {
		log_warn("%s: cannot store netmap %llu: %s", a->ifname, (unsigned long long)d->generation,
			 strerror(-rc));
		rc = 0;
	}
	free(text);
	return rc;
}

int agent_sys_teardown(struct agent *a, char *err, size_t errlen)
{
	int rc = agent_sys_apply(a, NULL, false);
	if (rc < 0) {
		snprintf(err, errlen, "%s", a->apply_error);
		return rc;
	}
	/* Whatever an earlier run left in our table, and the rules. */
	for (uint8_t family = 4; family <= 6 && rc == 0; family += 2)
		rc = rtnl_route_flush(a->rt, RTNL_TABLE, family, NULL);
	if (rc == 0)
		rc = rules(a, false);
	if (rc == 0)
		rc = agent_nft_remove(a->nft);
	if (rc < 0)
		snprintf(err, errlen, "removing routes, rules and the table: %s", strerror(-rc));
	a->system_ready = false;
	return rc;
}
