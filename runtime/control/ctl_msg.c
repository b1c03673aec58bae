/* ctl_msg: control messages to and from JSON. */
#include "ctl_msg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static const char *const ctl_type_names[] = {
	[CTL_MSG_REGISTER] = "register",
	[CTL_MSG_REGISTER_RESULT] = "register_result",
	[CTL_MSG_UPDATE] = "update",
	[CTL_MSG_MAP] = "map",
	[CTL_MSG_DELTA] = "delta",
	[CTL_MSG_ACK] = "ack",
	[CTL_MSG_KEEPALIVE_T] = "keepalive",
	[CTL_MSG_CLOSE] = "close",
};
#define CTL_NTYPES (sizeof(ctl_type_names) / sizeof(ctl_type_names[0]))

const char *ctl_msg_type_name(enum ctl_msg_type t)
{
	return (size_t)t < CTL_NTYPES && ctl_type_names[t] ? ctl_type_names[t] : "unknown";
}

static bool ctl_add_opt_string(cJSON *j, const char *field, const char *s)
{
	return !s || cJSON_AddStringToObject(j, field, s);
}

static bool ctl_add_tamper(cJSON *j, const struct ctl_tamper *t)
{
	cJSON *o = cJSON_AddObjectToObject(j, "tamper");
	return o && cJSON_AddNumberToObject(o, "count", (double)t->count) &&
	       cJSON_AddNumberToObject(o, "at", (double)t->at) && ctl_add_opt_string(o, "what", t->what);
}

static bool ctl_add_probes(cJSON *j, const struct ctl_probe *v, size_t n)
{
	cJSON *a = cJSON_AddArrayToObject(j, "probes");
	char text[64];
	for (size_t i = 0; a && i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		ctl_prefix_format(text, &v[i].prefix);
		if (!cJSON_AddItemToArray(a, o) || !cJSON_AddStringToObject(o, "prefix", text) ||
		    !cJSON_AddStringToObject(o, "probe", v[i].target) || !cJSON_AddBoolToObject(o, "ok", v[i].ok))
			return false;
	}
	return a != NULL;
}

static int ctl_decode_probes(const cJSON *a, struct ctl_update *u, struct ctl_err *err)
{
	const cJSON *o;
	char *text = NULL;
	int rc = 0;
	u->has_probes = true;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > CTL_MAX_PROBES)
		return ctl_json_fail(err, "update.probes: not an array of at most %d probes", CTL_MAX_PROBES);
	if (!(u->probes = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*u->probes))))
		return -ENOMEM;
	cJSON_ArrayForEach(o, a) {
		struct ctl_probe *p = &u->probes[u->n_probes];
		if (!cJSON_IsObject(o))
			return ctl_json_fail(err, "update.probes: not an object");
		if ((rc = ctl_json_string(o, "prefix", true, 63, &text, "update.probes", err)) < 0)
			return rc;
		rc = ctl_prefix_parse(&p->prefix, text) < 0 ? ctl_json_fail(err, "update.probes: bad prefix %s", text) : 0;
		free(text);
		text = NULL;
		if (rc == 0)
			rc = ctl_json_string(o, "probe", true, CTL_PROBE_TEXT - 1, &text, "update.probes", err);
		if (rc == 0)
			rc = ctl_json_bool(o, "ok", true, &p->ok, "update.probes", err);
		if (rc < 0)
			break;
		snprintf(p->target, sizeof p->target, "%s", text);
		free(text);
		text = NULL;
		u->n_probes++;
	}
	free(text);
	return rc;
}

static bool ctl_encode_body(cJSON *j, const struct ctl_msg *m)
{
	const struct ctl_register *r = &m->u.reg;
	const struct ctl_register_result *rr = &m->u.result;
	const struct ctl_update *up = &m->u.update;

	switch (m->type) {
	case CTL_MSG_REGISTER:
		return ctl_add_opt_string(j, "auth_key", r->auth_key) && ctl_json_add_key(j, "wg_key", r->wg_key) &&
		       cJSON_AddStringToObject(j, "hostname", r->hostname ? r->hostname : "") &&
		       ctl_json_add_prefixes(j, "routes", &r->routes) &&
		       ctl_json_add_endpoints(j, "endpoints", &r->endpoints);
	case CTL_MSG_REGISTER_RESULT:
		if (!cJSON_AddBoolToObject(j, "ok", rr->ok))
			return false;
		if (!rr->ok)
			return cJSON_AddStringToObject(j, "error", rr->error ? rr->error : "refused");
		return cJSON_AddNumberToObject(j, "node_id", (double)rr->node_id) &&
		       cJSON_AddStringToObject(j, "name", rr->name ? rr->name : "") &&
		       ctl_json_add_prefixes(j, "addresses", &rr->addresses);
	case CTL_MSG_UPDATE:
		return (!up->has_wg_key || ctl_json_add_key(j, "wg_key", up->wg_key)) &&
		       (!up->has_hostname || ctl_add_opt_string(j, "hostname", up->hostname)) &&
		       (!up->has_routes || ctl_json_add_prefixes(j, "routes", &up->routes)) &&
		       (!up->has_endpoints || ctl_json_add_endpoints(j, "endpoints", &up->endpoints)) &&
		       (!up->has_forwarding || cJSON_AddBoolToObject(j, "forwarding", up->forwarding)) &&
		       (!up->has_tamper || ctl_add_tamper(j, &up->tamper)) &&
		       (!up->has_probes || ctl_add_probes(j, up->probes, up->n_probes));
	case CTL_MSG_MAP:
		return cJSON_AddItemToObject(j, "netmap", ctl_netmap_to_json(&m->u.map));
	case CTL_MSG_DELTA:
		return cJSON_AddItemToObject(j, "delta", ctl_delta_to_json(&m->u.delta));
	case CTL_MSG_ACK:
		return cJSON_AddNumberToObject(j, "generation", (double)m->u.ack.generation) &&
		       ctl_add_opt_string(j, "error", m->u.ack.error);
	case CTL_MSG_KEEPALIVE_T:
		return true;
	case CTL_MSG_CLOSE:
		return cJSON_AddStringToObject(j, "reason", m->u.reason ? m->u.reason : "");
	}
	return false;
}

char *ctl_msg_encode(const struct ctl_msg *m, size_t *len)
{
	cJSON *j = cJSON_CreateObject();
	char *s = NULL;

	if (j && cJSON_AddNumberToObject(j, "v", CTL_MSG_VERSION) &&
	    cJSON_AddStringToObject(j, "type", ctl_msg_type_name(m->type)) && ctl_encode_body(j, m))
		s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (s)
		*len = strlen(s);
	return s;
}

char *ctl_msg_close_text(const char *reason, size_t *len)
{
	struct ctl_msg m = { .type = CTL_MSG_CLOSE, .u.reason = (char *)reason };

	return ctl_msg_encode(&m, len);
}

static int ctl_decode_register(const cJSON *j, struct ctl_register *r, struct ctl_err *err)
{
	int rc = ctl_json_string(j, "auth_key", false, CTL_MAX_AUTHKEY, &r->auth_key, "register", err);

	if (!rc)
		rc = ctl_json_key(j, "wg_key", true, r->wg_key, "register", err);
	if (!rc)
		rc = ctl_json_string(j, "hostname", true, CTL_MAX_NAME, &r->hostname, "register", err);
	if (!rc)
		rc = ctl_json_prefixes(j, "routes", true, CTL_MAX_PREFIXES, &r->routes, NULL, "register", err);
	if (!rc)
		rc = ctl_json_endpoints(j, "endpoints", true, CTL_MAX_ENDPOINTS, &r->endpoints, NULL, "register", err);
	return rc;
}

static int ctl_decode_result(const cJSON *j, struct ctl_register_result *r, struct ctl_err *err)
{
	int rc = ctl_json_bool(j, "ok", true, &r->ok, "register_result", err);

	if (!rc && !r->ok)
		return ctl_json_string(j, "error", true, CTL_MAX_REASON, &r->error, "register_result", err);
	if (!rc)
		rc = ctl_json_uint(j, "node_id", true, CTL_MAX_ID, &r->node_id, "register_result", err);
	if (!rc)
		rc = ctl_json_string(j, "name", true, CTL_MAX_NAME, &r->name, "register_result", err);
	if (!rc)
		rc = ctl_json_prefixes(j, "addresses", true, CTL_MAX_ADDRESSES, &r->addresses, NULL,
				       "register_result", err);
	return rc;
}

static int ctl_decode_update(const cJSON *j, struct ctl_update *u, struct ctl_err *err)
{
	int rc;

	u->has_wg_key = cJSON_GetObjectItemCaseSensitive(j, "wg_key") != NULL;
	u->has_hostname = cJSON_GetObjectItemCaseSensitive(j, "hostname") != NULL;
	u->has_forwarding = cJSON_GetObjectItemCaseSensitive(j, "forwarding") != NULL;
	rc = ctl_json_key(j, "wg_key", false, u->wg_key, "update", err);
	if (!rc)
		rc = ctl_json_string(j, "hostname", false, CTL_MAX_NAME, &u->hostname, "update", err);
	if (!rc)
		rc = ctl_json_prefixes(j, "routes", false, CTL_MAX_PREFIXES, &u->routes, &u->has_routes, "update", err);
	if (!rc)
		rc = ctl_json_endpoints(j, "endpoints", false, CTL_MAX_ENDPOINTS, &u->endpoints,
					&u->has_endpoints, "update", err);
	if (!rc)
		rc = ctl_json_bool(j, "forwarding", false, &u->forwarding, "update", err);
	const cJSON *probes = cJSON_GetObjectItemCaseSensitive(j, "probes");
	if (!rc && probes)
		rc = ctl_decode_probes(probes, u, err);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "tamper");
	if (!rc && t) {
		u->has_tamper = true;
		if (!cJSON_IsObject(t))
			return ctl_json_fail(err, "update.tamper: not an object");
		rc = ctl_json_uint(t, "count", true, CTL_MAX_ID, &u->tamper.count, "update.tamper", err);
		if (!rc)
			rc = ctl_json_uint(t, "at", true, CTL_MAX_ID, &u->tamper.at, "update.tamper", err);
		if (!rc)
			rc = ctl_json_string(t, "what", false, CTL_MAX_TAMPER_TEXT, &u->tamper.what, "update.tamper",
					     err);
	}
	return rc;
}

static int ctl_decode_body(const cJSON *j, struct ctl_msg *m, struct ctl_err *err)
{
	switch (m->type) {
	case CTL_MSG_REGISTER:
		return ctl_decode_register(j, &m->u.reg, err);
	case CTL_MSG_REGISTER_RESULT:
		return ctl_decode_result(j, &m->u.result, err);
	case CTL_MSG_UPDATE:
		return ctl_decode_update(j, &m->u.update, err);
	case CTL_MSG_MAP:
		return ctl_netmap_from_json(cJSON_GetObjectItemCaseSensitive(j, "netmap"), &m->u.map, err);
	case CTL_MSG_DELTA:
		return ctl_delta_from_json(cJSON_GetObjectItemCaseSensitive(j, "delta"), &m->u.delta, err);
	case CTL_MSG_ACK: {
		int rc = ctl_json_uint(j, "generation", true, CTL_MAX_ID, &m->u.ack.generation, "ack", err);
		return rc ? rc : ctl_json_string(j, "error", false, CTL_MAX_REASON, &m->u.ack.error, "ack", err);
	}
	case CTL_MSG_KEEPALIVE_T:
		return 0;
	case CTL_MSG_CLOSE:
		return ctl_json_string(j, "reason", true, CTL_MAX_REASON, &m->u.reason, "close", err);
	}
	return -EINVAL;
}

static int ctl_type_from_name(const char *name)
{
	for (size_t t = 1; t < CTL_NTYPES; t++)
		if (strcmp(name, ctl_type_names[t]) == 0)
			return (int)t;
	return 0;
}

int ctl_msg_decode(const char *text, size_t len, struct ctl_msg *m, char *errbuf, size_t errlen)
{
	struct ctl_err err = { errbuf, errlen };
	cJSON *j = cJSON_ParseWithLength(text, len);
	const cJSON *type;
	uint64_t version = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	if (!cJSON_IsObject(j)) {
		rc = ctl_json_fail(&err, "message: not a JSON object");
		goto free_json;
	}
	rc = ctl_json_uint(j, "v", true, UINT32_MAX, &version, "message", &err);
	if (rc)
		goto free_json;
	if (version != CTL_MSG_VERSION) {
		rc = ctl_json_fail(&err, "message.v: version %llu is not supported (this end speaks %d)",
				   (unsigned long long)version, CTL_MSG_VERSION);
		goto free_json;
	}
	type = cJSON_GetObjectItemCaseSensitive(j, "type");
	if (!cJSON_IsString(type) || !(m->type = ctl_type_from_name(type->valuestring))) {
		rc = ctl_json_fail(&err, "message.type: missing or not a known message type");
		goto free_json;
	}
	rc = ctl_decode_body(j, m, &err);
	if (rc)
		ctl_msg_free(m);
free_json:
	cJSON_Delete(j);
	return rc;
}

void ctl_msg_free(struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_MSG_REGISTER:
		if (m->u.reg.auth_key)
			sodium_memzero(m->u.reg.auth_key, strlen(m->u.reg.auth_key));
		free(m->u.reg.auth_key);
		free(m->u.reg.hostname);
		ctl_prefixes_free(&m->u.reg.routes);
		ctl_endpoints_free(&m->u.reg.endpoints);
		break;
	case CTL_MSG_REGISTER_RESULT:
		free(m->u.result.error);
		free(m->u.result.name);
		ctl_prefixes_free(&m->u.result.addresses);
		break;
	case CTL_MSG_UPDATE:
		free(m->u.update.hostname);
		ctl_prefixes_free(&m->u.update.routes);
		ctl_endpoints_free(&m->u.update.endpoints);
		free(m->u.update.tamper.what);
		free(m->u.update.probes);
		break;
	case CTL_MSG_MAP:
		ctl_netmap_free(&m->u.map);
		break;
	case CTL_MSG_DELTA:
		ctl_delta_free(&m->u.delta);
		break;
	case CTL_MSG_ACK:
		free(m->u.ack.error);
		break;
	case CTL_MSG_CLOSE:
		free(m->u.reason);
		break;
	case CTL_MSG_KEEPALIVE_T:
		break;
	}
	memset(m, 0, sizeof(*m));
}
