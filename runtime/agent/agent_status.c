/* agent_status: `keygate status` as JSON: the coordinator connection, the
 * generation applied, peers with their handshake age and bytes, routes
 * served and used, the filter's generation, warnings. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_fwd.h"
#include "agent_int.h"

static bool add_peer(cJSON *arr, const struct agent *a, const struct ctl_peer *p, time_t now)
{
	cJSON *j = cJSON_CreateObject();
	const struct wgpeer *d = wgdev_peer_by_key(a->dev, p->wg_key);
	if (!j || !cJSON_AddItemToArray(arr, j))
		return cJSON_Delete(j), false;
	bool ok = cJSON_AddStringToObject(j, "name", p->name ? p->name : "") &&
		  cJSON_AddNumberToObject(j, "id", (double)p->id) && ctl_json_add_key(j, "wg_key", p->wg_key) &&
		  ctl_json_add_prefixes(j, "allowed_ips", &p->allowed_ips) &&
		  cJSON_AddNumberToObject(j, "rx_bytes", d ? (double)d->rx_bytes : 0) &&
		  cJSON_AddNumberToObject(j, "tx_bytes", d ? (double)d->tx_bytes : 0);
	if (ok && d && d->hs_sec)
		ok = cJSON_AddNumberToObject(j, "handshake_age", (double)(now - d->hs_sec)) != NULL;
	else if (ok)
		ok = cJSON_AddNullToObject(j, "handshake_age") != NULL;
	return ok;
}

static bool add_warnings(cJSON *j, struct agent *a, time_t now)
{
	cJSON *w = cJSON_AddArrayToObject(j, "warnings");
	char text[1024], value[32];
	bool ok = w != NULL;
	const struct agent_prefs *p = agent_cur_prefs(a);
	for (int family = 4; ok && family <= 6 && p->want_up; family += 2) {
		bool needed = false;
		for (size_t i = 0; i < p->routes.n; i++)
			needed |= p->routes.v[i].family == family;
		if (needed && agent_fwd_on(a->sysctl_dir, family, value, sizeof value) != 1) {
			snprintf(text, sizeof text, "IP forwarding is off (%s = %s): the advertised routes are not served",
				 family == 6 ? "net.ipv6.conf.all.forwarding" : "net.ipv4.ip_forward", value);
			ok = cJSON_AddItemToArray(w, cJSON_CreateString(text));
		}
	}
	if (ok && p->want_up && !a->connected_since) {
		snprintf(text, sizeof text, "coordinator unreachable for %lld s (%s): %s",
			 (long long)(a->lost_since ? now - a->lost_since : 0), a->link_error[0] ? a->link_error : "connecting",
			 a->has_applied ? "enforcing the netmap applied last (fail static)" : "no netmap applied");
		ok = cJSON_AddItemToArray(w, cJSON_CreateString(text));
	}
	if (ok && a->repair_error[0]) {
		snprintf(text, sizeof text, "our nftables table was changed by another process and could not be repaired: %s",
			 a->repair_error);
		ok = cJSON_AddItemToArray(w, cJSON_CreateString(text));
	}
	if (ok && a->apply_error[0]) {
		snprintf(text, sizeof text, "the last netmap did not apply: %s", a->apply_error);
		ok = cJSON_AddItemToArray(w, cJSON_CreateString(text));
	}
	return ok;
}

static bool add_tamper(cJSON *j, const struct agent *a)
{
	cJSON *t = cJSON_AddObjectToObject(j, "tamper");
	return t && cJSON_AddNumberToObject(t, "count", (double)a->tamper.count) &&
	       cJSON_AddNumberToObject(t, "last_at", (double)a->tamper.at) &&
	       cJSON_AddStringToObject(t, "last", a->tamper_what) &&
	       cJSON_AddNumberToObject(t, "repair_ms", a->repair_ms) &&
	       cJSON_AddStringToObject(t, "repair_error", a->repair_error);
}

static bool add_body(cJSON *j, struct agent *a)
{
	const struct agent_prefs *p = agent_cur_prefs(a);
	const struct ctl_netmap *m = a->has_applied ? &a->applied : NULL;
	struct agent_target t = { m, a->applied_accept, a->applied_snat_to };
	struct ctl_prefixes used = { 0 };
	time_t now = time(NULL);
	cJSON *c, *peers;
	bool ok = cJSON_AddBoolToObject(j, "ok", true) &&
		  cJSON_AddStringToObject(j, "state", !p->want_up ? "down" : a->connected_since ? "running" : "connecting") &&
		  cJSON_AddStringToObject(j, "interface", a->ifname) && cJSON_AddStringToObject(j, "name", a->node_name) &&
		  (c = cJSON_AddObjectToObject(j, "coordinator")) &&
		  cJSON_AddStringToObject(c, "server", p->login_server ? p->login_server : "") &&
		  cJSON_AddBoolToObject(c, "connected", a->connected_since != 0) &&
		  cJSON_AddNumberToObject(c, "connected_for", a->connected_since ? (double)(now - a->connected_since) : 0) &&
		  cJSON_AddStringToObject(c, "last_error", a->link_error) &&
		  cJSON_AddNumberToObject(j, "generation", m ? (double)m->generation : 0) &&
		  cJSON_AddNumberToObject(j, "filter_generation", (double)a->filter_generation) &&
		  cJSON_AddNumberToObject(j, "last_apply_ms", a->last_apply_ms) &&
		  ctl_json_add_prefixes(j, "addresses", m ? &m->self.addresses : &used) &&
		  ctl_json_add_prefixes(j, "routes_advertised", &p->routes) &&
		  cJSON_AddBoolToObject(j, "serving", m && m->snat) &&
		  (!p->snat_to || cJSON_AddStringToObject(j, "snat_to", p->snat_to)) &&
		  cJSON_AddBoolToObject(j, "accept_routes", p->accept_routes) &&
		  agent_target_routes(&t, &used) == 0 && ctl_json_add_prefixes(j, "routes_used", &used) &&
		  add_tamper(j, a) && agent_ha_status(a, j) == 0 && (peers = cJSON_AddArrayToObject(j, "peers"));
	for (size_t i = 0; ok && m && i < m->n_peers; i++)
		ok = add_peer(peers, a, &m->peers[i], now);
	ctl_prefixes_free(&used);
	return ok && add_warnings(j, a, now);
}

char *agent_status_text(struct agent *a)
{
	cJSON *j = cJSON_CreateObject();
	char *text = j && add_body(j, a) ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	return text;
}
