/* agent_req: strict decoding of command socket requests. */
#include "agent_req.h"
#include "agent_probe.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_fwd.h"
#include "agent_state.h"
#include "ctl_authkey.h"
#include "ctl_netmap.h"
#include "nftm.h"

static const struct {
	const char *name;
	enum agent_cmd cmd;
} cmds[] = { { "up", AGENT_CMD_UP }, { "down", AGENT_CMD_DOWN }, { "status", AGENT_CMD_STATUS } };

static int parse_cmd(const cJSON *j, struct agent_req *r, struct ctl_err *e)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "cmd");
	if (!cJSON_IsString(c))
		return ctl_json_fail(e, "cmd: missing, or not a string");
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(c->valuestring, cmds[i].name)) {
			r->cmd = cmds[i].cmd;
			return 0;
		}
	return ctl_json_fail(e, "cmd: unknown command (up, down, status)");
}

static int parse_routes(const cJSON *j, struct agent_req *r, struct ctl_err *e)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "advertise_routes"), *it;
	char why[256];
	if (!a)
		return 0;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > AGENT_MAX_ROUTES)
		return ctl_json_fail(e, "advertise_routes: not a list of at most %u routes", AGENT_MAX_ROUTES);
	r->has_routes = true;
	r->routes.v = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof *r->routes.v);
	if (!r->routes.v)
		return -ENOMEM;
	cJSON_ArrayForEach(it, a) {
		if (!cJSON_IsString(it))
			return ctl_json_fail(e, "advertise_routes[%zu]: not a string", r->routes.n);
		if (agent_route_parse(it->valuestring, &r->routes.v[r->routes.n], why, sizeof why) < 0)
			return ctl_json_fail(e, "advertise_routes: %s", why);
		r->routes.n++;
	}
	if (agent_routes_check(&r->routes, why, sizeof why) < 0)
		return ctl_json_fail(e, "advertise_routes: %s", why);
	return 0;
}

/* "snat_to": addresses, or "" to go back to masquerading. */
static int parse_snat_to(const cJSON *j, struct agent_req *r, struct ctl_err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "snat_to");
	struct nftm_snat_to to;
	char why[160];
	if (!v)
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) > AGENT_SNAT_TO_MAX)
		return ctl_json_fail(e, "snat_to: not a string of at most %u bytes", AGENT_SNAT_TO_MAX);
	if (*v->valuestring && nftm_snat_to_parse(v->valuestring, &to, why, sizeof why) < 0)
		return ctl_json_fail(e, "snat_to: %s", why);
	return (r->snat_to = strdup(v->valuestring)) ? 0 : -ENOMEM;
}

int agent_server_nth(const char *list, unsigned i, char *out, size_t len)
{
	int count = 0;
	for (const char *p = list; *p; p += strcspn(p, ","), p += *p == ',')
		count++;
	if (count == 0)
		return 0;
	const char *p = list;
	for (unsigned k = i % (unsigned)count; k; k--)
		p += strcspn(p, ",") + 1;
	size_t n = strcspn(p, ",");
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(out, p, n);
	out[n] = '\0';
	return count;
}

/* One to AGENT_MAX_SERVERS entries, each HOST:PORT. */
static bool servers_ok(const char *list)
{
	char entry[CTL_AUTHKEY_MAX_HOST + 9], host[CTL_AUTHKEY_MAX_HOST + 1];
	uint16_t port;
	bool bracketed;
	int count = agent_server_nth(list, 0, entry, sizeof entry);
	if (count <= 0 || count > AGENT_MAX_SERVERS || strstr(list, ",,") || list[strlen(list) - 1] == ',')
		return false;
	for (int i = 0; i < count; i++)
		if (agent_server_nth(list, (unsigned)i, entry, sizeof entry) < 0 ||
		    ctl_hostport_split(entry, host, sizeof host, &port, &bracketed) < 0)
			return false;
	return true;
}

static int parse_fields(const cJSON *j, struct agent_req *r, struct ctl_err *e)
{
	int rc;
	if ((rc = parse_cmd(j, r, e)) < 0 ||
	    (rc = ctl_json_string(j, "login_server", false, AGENT_SERVERS_MAX_LEN, &r->login_server, "request", e)) < 0 ||
	    (rc = ctl_json_string(j, "authkey", false, CTL_AUTHKEY_MAX_TEXT, &r->authkey, "request", e)) < 0 ||
	    (rc = ctl_json_string(j, "hostname", false, CTL_MAX_NAME, &r->hostname, "request", e)) < 0 ||
	    (rc = parse_routes(j, r, e)) < 0 || (rc = parse_snat_to(j, r, e)) < 0 ||
	    (rc = ctl_json_string(j, "route_probes", false, AGENT_PROBE_SPEC_MAX, &r->route_probes, "request", e)) < 0)
		return rc;
	r->has_accept_routes = cJSON_GetObjectItemCaseSensitive(j, "accept_routes") != NULL;
	if ((rc = ctl_json_bool(j, "accept_routes", false, &r->accept_routes, "request", e)) < 0)
		return rc;
	if (r->login_server && !servers_ok(r->login_server))
		return ctl_json_fail(e, "login_server: not HOST:PORT, or up to %d of them separated by commas",
				     AGENT_MAX_SERVERS);
	if (r->authkey) {
		struct ctl_authkey k;
		rc = ctl_authkey_parse(&k, r->authkey);
		ctl_authkey_wipe(&k);
		if (rc < 0)
			return ctl_json_fail(e, "authkey: not an auth key (kgauth1-...)");
	}
	return 0;
}

int agent_req_parse(const char *text, size_t len, struct agent_req *r, char *err, size_t errlen)
{
	struct ctl_err e = { err, errlen };
	memset(r, 0, sizeof *r);
	if (len > AGENT_REQ_MAX) {
		snprintf(err, errlen, "request too long");
		return -EINVAL;
	}
	cJSON *j = cJSON_ParseWithLength(text, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		snprintf(err, errlen, "request: not a JSON object");
		return -EINVAL;
	}
	int rc = parse_fields(j, r, &e);
	/* The tree's copy of the auth key is a secret too. */
	cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "authkey");
	if (cJSON_IsString(k))
		sodium_memzero(k->valuestring, strlen(k->valuestring));
	cJSON_Delete(j);
	if (rc < 0)
		agent_req_free(r);
	return rc;
}

void agent_req_free(struct agent_req *r)
{
	if (r->authkey) {
		sodium_memzero(r->authkey, strlen(r->authkey));
		free(r->authkey);
	}
	free(r->login_server);
	free(r->hostname);
	free(r->snat_to);
	free(r->route_probes);
	ctl_prefixes_free(&r->routes);
	memset(r, 0, sizeof *r);
}

char *agent_req_error_text(const char *why)
{
	cJSON *j = cJSON_CreateObject();
	char *text = NULL;
	if (j && cJSON_AddBoolToObject(j, "ok", false) && cJSON_AddStringToObject(j, "error", why))
		text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return text;
}
