/* coord_admin: one handler per admin command, in a dispatch table. */
#include "coord_admin.h"
#include "coord_static.h"
#include "ctl_authkey.h"
#include "ctl_json.h"
#include "diff.h"
#include "load.h"
#include "log.h"
#include "mem.h"
#include "netmap.h"
#include "ptest.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_KEY_LIFETIME (90 * 24 * 3600)	/* seconds, as Tailscale's */

/* A refusal: a sentence, and optional further lines. */
struct refusal {
	char error[512];
	char *details;
};

static int refuse(struct refusal *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct refusal *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	return -1;
}

/* A store failure that is not the request's fault. */
static int store_failed(struct refusal *r, int rc)
{
	log_err("admin: store: %s", strerror(-rc));
	return refuse(r, "the coordinator's store failed: %s", strerror(-rc));
}

static const char *str_arg(const cJSON *req, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(req, name);
	return cJSON_IsString(j) ? j->valuestring : NULL;
}

static bool bool_arg(const cJSON *req, const char *name)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, name));
}

static int64_t int_arg(const cJSON *req, const char *name, int64_t def)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(req, name);
	return cJSON_IsNumber(j) ? (int64_t)j->valuedouble : def;
}

static const char *const role_names[] = {
	[STORE_ROLE_OWNER] = "owner", [STORE_ROLE_ADMIN] = "admin", [STORE_ROLE_MEMBER] = "member",
};
static const char *const route_states[] = {
	[STORE_ROUTE_PENDING] = "pending", [STORE_ROUTE_APPROVED] = "approved", [STORE_ROUTE_REJECTED] = "rejected",
};

/* ---- names of users and nodes by id ---- */

struct names {
	struct name_entry {
		int64_t id;
		char name[STORE_NAME_MAX + 1];
	} *v;
	size_t n, cap;
};

static int names_add(struct names *m, int64_t id, const char *name)
{
	if (MEM_RESERVE(m->v, m->cap, m->n + 1) < 0)
		return -ENOMEM;
	m->v[m->n].id = id;
	snprintf(m->v[m->n++].name, sizeof m->v[0].name, "%s", name);
	return 0;
}

static const char *names_find(const struct names *m, int64_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].id == id)
			return m->v[i].name;
	return NULL;
}

static void names_free(struct names *m)
{
	free(m->v);
}

static int user_name_row(const struct store_user *u, void *arg)
{
	return names_add(arg, u->id, u->name);
}

static int node_name_row(const struct store_node *n, void *arg)
{
	return names_add(arg, n->id, n->name);
}

/* The user named by the request's "as" (who acts), 0 when absent. */
static int acting_user(struct store *s, const cJSON *req, int64_t *by, struct refusal *r)
{
	const char *as = str_arg(req, "as");
	*by = 0;
	if (!as)
		return 0;
	int rc = store_user_by_name(s, as, by);
	if (rc == -ENOENT)
		return refuse(r, "no user named '%s' (say who decides with --as USER)", as);
	return rc < 0 ? store_failed(r, rc) : 0;
}

static cJSON *string_array(const struct store_list *l)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; a && i < l->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(l->items[i]));
	return a;
}

/* ---- users ---- */

static int users_add(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	const char *name = str_arg(req, "name"), *email = str_arg(req, "email"), *role = str_arg(req, "role");
	enum store_role ro = STORE_ROLE_MEMBER;
	int64_t id;
	if (!name || !email)
		return refuse(r, "users.add needs a name and an email");
	if (role) {
		for (ro = 0; ro <= STORE_ROLE_MEMBER && strcmp(role, role_names[ro]); ro++)
			;
		if (ro > STORE_ROLE_MEMBER)
			return refuse(r, "unknown role '%s' (owner, admin or member)", role);
	}
	int rc = store_user_add(coord_srv_store(srv), name, email, ro, time(NULL), &id);
	if (rc == -EEXIST)
		return refuse(r, "a user named '%s' exists already", name);
	if (rc == -EINVAL)
		return refuse(r, "'%s' is not a valid user name (one DNS label) or the email is malformed", name);
	if (rc < 0)
		return store_failed(r, rc);
	cJSON_AddNumberToObject(out, "id", (double)id);
	coord_srv_changed(srv);
	return 0;
}

static int user_row(const struct store_user *u, void *arg)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	cJSON_AddNumberToObject(o, "id", (double)u->id);
	cJSON_AddStringToObject(o, "name", u->name);
	cJSON_AddStringToObject(o, "email", u->email);
	cJSON_AddStringToObject(o, "role", role_names[u->role]);
	cJSON_AddNumberToObject(o, "created", (double)u->created);
	cJSON_AddItemToArray(arg, o);
	return 0;
}

static int users_list(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	(void)req;
	int rc = store_users_each(coord_srv_store(srv), user_row, cJSON_AddArrayToObject(out, "users"));
	return rc < 0 ? store_failed(r, rc) : 0;
}

/* ---- auth keys ---- */

/* Ids of one user's auth keys or nodes. */
struct owned {
	int64_t user_id;
	int64_t *ids;
	size_t n;
	bool nomem;
};

static void owned_add(struct owned *o, int64_t user_id, int64_t id)
{
	int64_t *v;
	if (user_id != o->user_id)
		return;
	if (!(v = realloc(o->ids, (o->n + 1) * sizeof *v))) {
		o->nomem = true;
		return;
	}
	o->ids = v;
	o->ids[o->n++] = id;
}

static int owned_key(const struct store_authkey *k, void *arg)
{
	owned_add(arg, k->user_id, k->id);
	return 0;
}

static int owned_node(const struct store_node *n, void *arg)
{
	if (!n->expired)
		owned_add(arg, n->user_id, n->id);
	return 0;
}

/* Revoke every auth key of the user and expire every node of theirs:
 * every peer drops them, their sessions end, the relays cut their open
 * connections.  One change at a time, each committed: a revocation cut
 * short is completed by running it again. */
static int users_revoke(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	struct store *s = coord_srv_store(srv);
	const char *name = str_arg(req, "name");
	struct owned keys = { 0 }, nodes = { 0 };
	if (!name)
		return refuse(r, "users.revoke needs a name");
	int rc = store_user_by_name(s, name, &keys.user_id);
	if (rc == -ENOENT)
		return refuse(r, "no user named '%s'", name);
	nodes.user_id = keys.user_id;
	if (rc == 0)
		rc = store_authkeys_each(s, owned_key, &keys);
	if (rc == 0)
		rc = store_nodes_each(s, owned_node, &nodes);
	if (rc == 0 && (keys.nomem || nodes.nomem))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < keys.n; i++)
		rc = store_authkey_revoke(s, keys.ids[i]);
	for (size_t i = 0; rc == 0 && i < nodes.n; i++)
		rc = store_node_expire(s, nodes.ids[i]);
	if (rc == 0) {
		log_info("user %s revoked: %zu auth keys revoked, %zu nodes expired", name, keys.n, nodes.n);
		cJSON_AddNumberToObject(out, "authkeys", (double)keys.n);
		cJSON_AddNumberToObject(out, "nodes", (double)nodes.n);
		coord_srv_changed(srv);
	}
	free(keys.ids);
	free(nodes.ids);
	return rc < 0 ? store_failed(r, rc) : 0;
}

static int authkey_create(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	struct store *s = coord_srv_store(srv);
	const char *user = str_arg(req, "user");
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(req, "tags");
	const char *tagv[STORE_LIST_MAX];
	struct store_authkey_spec spec = { .reusable = bool_arg(req, "reusable") };
	struct ctl_authkey k = { 0 };
	char text[CTL_AUTHKEY_MAX_TEXT];
	const char *host;
	int64_t id, now = time(NULL);
	int rc;
	if (!user == !cJSON_IsArray(tags))
		return refuse(r, "an auth key belongs to a user or carries tags, one of the two");
	if (user) {
		rc = store_user_by_name(s, user, &spec.user_id);
		if (rc == -ENOENT)
			return refuse(r, "no user named '%s'", user);
		if (rc < 0)
			return store_failed(r, rc);
	} else {
		const cJSON *t;
		cJSON_ArrayForEach(t, tags) {
			if (!cJSON_IsString(t) || strncmp(t->valuestring, "tag:", 4) || spec.tags.n == STORE_LIST_MAX)
				return refuse(r, "tags are tag:NAME, at most %d", STORE_LIST_MAX);
			tagv[spec.tags.n++] = t->valuestring;
		}
		spec.tags.items = tagv;
		if (!spec.tags.n)
			return refuse(r, "no tags given");
	}
	int64_t lifetime = int_arg(req, "expiry", DEFAULT_KEY_LIFETIME);
	if (lifetime <= 0)
		return refuse(r, "the expiry must be in the future");
	spec.expiry = now + lifetime;
	rc = store_authkey_create(s, &spec, now, &id, k.secret);
	if (rc == -EINVAL)
		return refuse(r, "the store refused this key (malformed tags?)");
	if (rc < 0)
		return store_failed(r, rc);
	for (int i = 0; i < CTL_AUTHKEY_ID_LEN; i++)
		k.id[i] = (uint8_t)((uint64_t)id >> (8 * (CTL_AUTHKEY_ID_LEN - 1 - i)));
	memcpy(k.server_key, coord_srv_state(srv)->id.public_key, 32);
	coord_srv_public(srv, &host, &k.port);
	snprintf(k.host, sizeof k.host, "%s", host);
	rc = ctl_authkey_format(text, sizeof text, &k);
	ctl_authkey_wipe(&k);
	if (rc < 0)
		return refuse(r, "cannot format the key for host %s", host);
	cJSON_AddNumberToObject(out, "id", (double)id);
	cJSON_AddStringToObject(out, "key", text);
	cJSON_AddNumberToObject(out, "expiry", (double)spec.expiry);
	sodium_memzero(text, sizeof text);
	coord_srv_changed(srv);
	return 0;
}

struct with_names {
	cJSON *arr;
	const struct names *users, *nodes;
	struct coord_srv *srv;
};

static int authkey_row(const struct store_authkey *k, void *arg)
{
	struct with_names *w = arg;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	const char *user = k->user_id ? names_find(w->users, k->user_id) : NULL;
	cJSON_AddNumberToObject(o, "id", (double)k->id);
	if (user)
		cJSON_AddStringToObject(o, "user", user);
	else
		cJSON_AddNullToObject(o, "user");
	cJSON_AddItemToObject(o, "tags", string_array(&k->tags));
	cJSON_AddBoolToObject(o, "reusable", k->reusable);
	cJSON_AddBoolToObject(o, "revoked", k->revoked);
	cJSON_AddNumberToObject(o, "expiry", (double)k->expiry);
	cJSON_AddNumberToObject(o, "uses", (double)k->uses);
	cJSON_AddNumberToObject(o, "created", (double)k->created);
	cJSON_AddItemToArray(w->arr, o);
	return 0;
}

static int authkey_list(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	struct store *s = coord_srv_store(srv);
	struct names users = { 0 };
	struct with_names w = { .arr = cJSON_AddArrayToObject(out, "authkeys"), .users = &users };
	(void)req;
	int rc = store_users_each(s, user_name_row, &users);
	if (rc == 0)
		rc = store_authkeys_each(s, authkey_row, &w);
	names_free(&users);
	return rc < 0 ? store_failed(r, rc) : 0;
}

static int authkey_revoke(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	(void)out;
	int64_t id = int_arg(req, "id", 0);
	int rc = store_authkey_revoke(coord_srv_store(srv), id);
	if (rc == -ENOENT)
		return refuse(r, "no auth key %lld", (long long)id);
	if (rc < 0)
		return store_failed(r, rc);
	coord_srv_changed(srv);
	return 0;
}

/* ---- nodes ---- */

static void add_addr(cJSON *o, const char *field, int family, const void *addr)
{
	char text[INET6_ADDRSTRLEN];
	inet_ntop(family, addr, text, sizeof text);
	cJSON_AddStringToObject(o, field, text);
}

/* Node ID's configuration as a stock WireGuard device, from WORLD:
 * 0 with *TEXT (the caller frees it), or -errno. */
static int static_config(const struct netmap_world *world, uint64_t gen, int64_t id, char **text)
{
	struct ctl_netmap m;
	int rc = world ? netmap_for(world, id, gen, &m) : -ENOENT;
	if (rc < 0)
		return rc;
	*text = coord_static_config(&m);
	ctl_netmap_free(&m);
	return *text ? 0 : -ENOMEM;
}

/* For a static device: "static", and "config_stale" when its configuration
 * is not the one last handed out any more (a policy change, a relay's
 * move). */
static void static_state(struct coord_srv *srv, int64_t id, cJSON *o)
{
	char setting[32], handed[65], now_hash[65];
	char *text;
	uint64_t gen;
	coord_static_setting(id, setting);
	if (store_setting_get(coord_srv_store(srv), setting, handed, sizeof handed) < 0)
		return;
	cJSON_AddBoolToObject(o, "static", true);
	const struct netmap_world *w = coord_srv_world(srv, &gen);
	if (static_config(w, gen, id, &text) < 0)
		return;
	coord_static_hash(text, now_hash);
	free(text);
	cJSON_AddBoolToObject(o, "config_stale", strcmp(now_hash, handed) != 0);
}

/* Hand node ID's configuration out: into OUT's "config", its hash kept. */
static int hand_out_config(struct coord_srv *srv, int64_t id, cJSON *out, struct refusal *r)
{
	char setting[32], hash[65];
	char *text;
	uint64_t gen;
	const struct netmap_world *w = coord_srv_world_now(srv, &gen);
	int rc = static_config(w, gen, id, &text);
	if (rc < 0)
		return refuse(r, "cannot make the configuration: %s", strerror(-rc));
	coord_static_hash(text, hash);
	coord_static_setting(id, setting);
	rc = store_setting_set(coord_srv_store(srv), setting, hash);
	if (rc == 0)
		cJSON_AddStringToObject(out, "config", text);
	free(text);
	return rc < 0 ? store_failed(r, rc) : 0;
}

static int node_row(const struct store_node *n, void *arg)
{
	struct with_names *w = arg;
	struct coord_sess_info info;
	char key[45];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	const char *user = n->user_id ? names_find(w->users, n->user_id) : NULL;
	cJSON_AddNumberToObject(o, "id", (double)n->id);
	cJSON_AddStringToObject(o, "name", n->name);
	if (user)
		cJSON_AddStringToObject(o, "user", user);
	else
		cJSON_AddNullToObject(o, "user");
	cJSON_AddItemToObject(o, "tags", string_array(&n->tags));
	add_addr(o, "ipv4", AF_INET, n->ipv4);
	add_addr(o, "ipv6", AF_INET6, n->ipv6);
	cJSON_AddStringToObject(o, "hostname", n->hostname ? n->hostname : "");
	cJSON_AddItemToObject(o, "endpoints", string_array(&n->endpoints));
	coord_key_base64(key, n->wg_key);
	cJSON_AddStringToObject(o, "wg_key", key);
	cJSON_AddNumberToObject(o, "key_expiry", (double)n->key_expiry);
	cJSON_AddBoolToObject(o, "expired", n->expired);
	cJSON_AddNumberToObject(o, "last_seen", (double)n->last_seen);
	cJSON_AddNumberToObject(o, "created", (double)n->created);
	coord_srv_session_info(w->srv, n->id, &info);
	cJSON_AddBoolToObject(o, "connected", info.connected);
	cJSON_AddNumberToObject(o, "sent_generation", (double)info.sent_generation);
	cJSON_AddNumberToObject(o, "acked_generation", (double)info.acked_generation);
	if (info.ack_error)
		cJSON_AddStringToObject(o, "ack_error", info.ack_error);
	static_state(w->srv, n->id, o);
	cJSON_AddNumberToObject(o, "tamper_count", (double)info.tamper_count);
	if (info.tamper_count) {
		cJSON_AddNumberToObject(o, "last_tamper_at", (double)info.tamper_at);
		cJSON_AddStringToObject(o, "last_tamper", info.tamper_what ? info.tamper_what : "");
	}
	cJSON_AddItemToArray(w->arr, o);
	return 0;
}

static int nodes_list(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	struct store *s = coord_srv_store(srv);
	struct names users = { 0 };
	struct with_names w = { .arr = cJSON_AddArrayToObject(out, "nodes"), .users = &users, .srv = srv };
	(void)req;
	int rc = store_users_each(s, user_name_row, &users);
	if (rc == 0)
		rc = store_nodes_each(s, node_row, &w);
	names_free(&users);
	return rc < 0 ? store_failed(r, rc) : 0;
}

static int node_id_row(const struct store_node *n, void *arg)
{
	*(int64_t *)arg = n->id;
	return 0;
}

/* The id of the node the request's "node" names. */
static int node_arg(struct store *s, const cJSON *req, int64_t *id, struct refusal *r)
{
	const char *name = str_arg(req, "node");
	if (!name)
		return refuse(r, "no node named");
	int rc = store_node_by_name(s, name, node_id_row, id);
	if (rc == -ENOENT)
		return refuse(r, "no node named '%s'", name);
	return rc < 0 ? store_failed(r, rc) : 0;
}

/* A change to the node the request names: removal or expiry. */
static int node_change(struct coord_srv *srv, const cJSON *req, struct refusal *r, int (*change)(struct store *, int64_t))
{
	struct store *s = coord_srv_store(srv);
	int64_t id;
	if (node_arg(s, req, &id, r) < 0)
		return -1;
	int rc = change(s, id);
	if (rc < 0)
		return store_failed(r, rc);
	coord_srv_changed(srv);
	return 0;
}

static int nodes_remove(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	(void)out;
	return node_change(srv, req, r, store_node_remove);
}

static int nodes_expire(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	(void)out;
	return node_change(srv, req, r, store_node_expire);
}

/* Register a stock WireGuard device of USER with the public key the
 * keygate command made (the private key stays with that command): a
 * single-use auth key made and consumed at once, a random machine key. */
static int register_static(struct store *s, const char *name, int64_t user_id, const uint8_t wg_key[32],
			   int64_t *id)
{
	struct store_authkey_spec spec = { .user_id = user_id, .expiry = time(NULL) + 60 };
	struct store_registration reg = { .name = name, .hostname = name };
	int rc = store_authkey_create(s, &spec, time(NULL), &reg.authkey_id, reg.secret);
	if (rc < 0)
		return rc;
	randombytes_buf(reg.machine_key, sizeof reg.machine_key);
	memcpy(reg.wg_key, wg_key, 32);
	rc = store_register(s, &reg, time(NULL), id);
	sodium_memzero(reg.secret, sizeof reg.secret);
	return rc;
}

static int nodes_add_static(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	struct store *s = coord_srv_store(srv);
	const char *name = str_arg(req, "name"), *user = str_arg(req, "user"), *key = str_arg(req, "wg_key");
	uint8_t wg_key[32];
	size_t klen;
	int64_t user_id, id;
	if (!name || !user || !key)
		return refuse(r, "nodes.add_static needs a name, a user and the device's public key");
	if (sodium_base642bin(wg_key, sizeof wg_key, key, strlen(key), NULL, &klen, NULL, sodium_base64_VARIANT_ORIGINAL) ||
	    klen != 32)
		return refuse(r, "wg_key: not a key (44 characters of base64)");
	int rc = store_user_by_name(s, user, &user_id);
	if (rc == -ENOENT)
		return refuse(r, "no user named '%s'", user);
	if (rc < 0)
		return store_failed(r, rc);
	rc = register_static(s, name, user_id, wg_key, &id);
	if (rc == -EEXIST)
		return refuse(r, "a node named '%s' exists already", name);
	if (rc == -EINVAL)
		return refuse(r, "'%s' is not a valid node name (one DNS label)", name);
	if (rc < 0)
		return store_failed(r, rc);
	log_info("node %s: a stock WireGuard device of %s added", name, user);
	coord_srv_changed(srv);
	cJSON_AddStringToObject(out, "name", name);
	return hand_out_config(srv, id, out, r);
}

static int nodes_config(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	char setting[32], hash[65];
	int64_t id;
	if (node_arg(coord_srv_store(srv), req, &id, r) < 0)
		return -1;
	coord_static_setting(id, setting);
	if (store_setting_get(coord_srv_store(srv), setting, hash, sizeof hash) < 0)
		return refuse(r, "'%s' is not a stock WireGuard device (keygate nodes add-static)", str_arg(req, "node"));
	return hand_out_config(srv, id, out, r);
}

/* ---- routes ---- */

/* Routes as read, for the primary of each prefix to be found. */
struct route_rows {
	cJSON *arr;
	const struct names *users, *nodes;
	const struct coord_srv *srv;
};

static int route_row(const struct store_route *rt, void *arg)
{
	struct route_rows *w = arg;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	const char *node = names_find(w->nodes, rt->node_id);
	const char *by = rt->decided_by ? names_find(w->users, rt->decided_by) : NULL;
	cJSON_AddNumberToObject(o, "node_id", (double)rt->node_id);
	cJSON_AddStringToObject(o, "node", node ? node : "?");
	cJSON_AddStringToObject(o, "prefix", rt->prefix);
	cJSON_AddBoolToObject(o, "advertised", rt->advertised);
	cJSON_AddStringToObject(o, "state", route_states[rt->state]);
	if (by)
		cJSON_AddStringToObject(o, "by", by);
	else if (rt->auto_approver)
		cJSON_AddStringToObject(o, "auto_approver", rt->auto_approver);
	cJSON_AddNumberToObject(o, "advertised_at", (double)rt->advertised_at);
	cJSON_AddNumberToObject(o, "decided_at", (double)rt->decided_at);
	cJSON_AddBoolToObject(o, "primary", rt->primary_since && rt->advertised && rt->state == STORE_ROUTE_APPROVED);
	cJSON_AddNumberToObject(o, "primary_since", (double)rt->primary_since);
	struct coord_sess_info info;
	coord_srv_session_info(w->srv, rt->node_id, &info);
	/* What the node last said; a node not connected is not known to be off. */
	cJSON_AddBoolToObject(o, "forwarding", !info.forwarding_off);
	const struct ctl_probe *probe = coord_sess_probe(&info, rt->prefix);
	cJSON_AddBoolToObject(o, "healthy", info.connected && !info.forwarding_off && (!probe || probe->ok));
	if (probe) {
		cJSON *p = cJSON_AddObjectToObject(o, "probe");
		cJSON_AddStringToObject(p, "target", probe->target);
		cJSON_AddBoolToObject(p, "ok", probe->ok);
	}
	cJSON_AddItemToArray(w->arr, o);
	return 0;
}

static bool route_served(const cJSON *a)
{
	return cJSON_IsTrue(cJSON_GetObjectItem(a, "advertised")) &&
	       !strcmp(cJSON_GetObjectItem(a, "state")->valuestring, "approved");
}

static bool same_prefix(const cJSON *a, const cJSON *b)
{
	return !strcmp(cJSON_GetObjectItem(a, "prefix")->valuestring, cJSON_GetObjectItem(b, "prefix")->valuestring);
}

/* The primary of each prefix is the elected one (netmap_elect); before any
 * election, the oldest router (the lowest id: registration order), as the
 * compiler decides.  The other routers serving it are its backups,
 * numbered in registration order ("backup": 1, 2, ...). */
static void mark_primaries(cJSON *arr)
{
	cJSON *a, *b;
	cJSON_ArrayForEach(a, arr) {
		if (!route_served(a) || cJSON_IsTrue(cJSON_GetObjectItem(a, "primary")))
			continue;
		double id = cJSON_GetObjectItem(a, "node_id")->valuedouble;
		bool elected = false, oldest = true;
		int rank = 1;
		cJSON_ArrayForEach(b, arr) {
			if (b == a || !same_prefix(a, b) || !route_served(b))
				continue;
			elected |= cJSON_GetObjectItem(b, "primary_since")->valuedouble != 0;
			if (cJSON_GetObjectItem(b, "node_id")->valuedouble < id) {
				oldest = false;
				rank += cJSON_GetObjectItem(b, "primary_since")->valuedouble == 0;
			}
		}
		if (!elected && oldest)
			cJSON_ReplaceItemInObject(a, "primary", cJSON_CreateBool(true));
		else
			cJSON_AddNumberToObject(a, "backup", elected ? rank : rank - 1);
	}
}

static int routes_list(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	struct store *s = coord_srv_store(srv);
	struct names users = { 0 }, nodes = { 0 };
	struct route_rows w = { .arr = cJSON_AddArrayToObject(out, "routes"), .users = &users, .nodes = &nodes,
				.srv = srv };
	(void)req;
	int rc = store_users_each(s, user_name_row, &users);
	if (rc == 0)
		rc = store_nodes_each(s, node_name_row, &nodes);
	if (rc == 0)
		rc = store_routes_each(s, route_row, &w);
	names_free(&users);
	names_free(&nodes);
	if (rc < 0)
		return store_failed(r, rc);
	mark_primaries(w.arr);
	return 0;
}

/* Approve or reject every prefix of the request for its node.  Every
 * prefix is checked before any is decided. */
static int routes_decide(struct coord_srv *srv, const cJSON *req, struct refusal *r, bool approve)
{
	struct store *s = coord_srv_store(srv);
	const cJSON *prefixes = cJSON_GetObjectItemCaseSensitive(req, "prefixes"), *p;
	int64_t node, by;
	int rc;
	if (node_arg(s, req, &node, r) < 0 || acting_user(s, req, &by, r) < 0)
		return -1;
	if (!by)
		return refuse(r, "say who decides with --as USER");
	if (!cJSON_IsArray(prefixes) || !cJSON_GetArraySize(prefixes))
		return refuse(r, "no prefixes given");
	cJSON_ArrayForEach(p, prefixes) {
		struct ctl_prefix cp;
		if (!cJSON_IsString(p) || ctl_prefix_parse(&cp, p->valuestring) < 0)
			return refuse(r, "'%s' is not a prefix (address/length, host bits zero)",
				      cJSON_IsString(p) ? p->valuestring : "?");
	}
	cJSON_ArrayForEach(p, prefixes) {
		struct ctl_prefix cp;
		char text[64];
		ctl_prefix_parse(&cp, p->valuestring);
		ctl_prefix_format(text, &cp);
		rc = approve ? store_route_approve(s, node, text, by, time(NULL))
			     : store_route_reject(s, node, text, by, time(NULL));
		if (rc == -ENOENT) {
			coord_srv_changed(srv);
			return refuse(r, "%s does not advertise %s", str_arg(req, "node"), text);
		}
		if (rc < 0)
			return store_failed(r, rc);
	}
	coord_srv_changed(srv);
	return 0;
}

static int routes_approve(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	(void)out;
	return routes_decide(srv, req, r, true);
}

static int routes_reject(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	(void)out;
	return routes_decide(srv, req, r, false);
}

/* ---- the policy ---- */

/* TEXT of the text printed by WRITE into a memory stream, or NULL. */
static char *mem_text(void (*write)(FILE *, const void *), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	write(f, arg);
	fclose(f);
	return buf;
}

static void write_diags(FILE *f, const void *diags)
{
	diag_print(f, diags);
}

/* A policy (TEXT, named NAME in diagnostics) compiled against the store's
 * inventory: 0, or -1 with the located errors in R. */
static int load_against_store(struct store *s, const char *name, const char *text, struct load **out,
			      struct refusal *r)
{
	struct diag_list diags = { 0 };
	struct load *l = load_new();
	int rc;
	if (!l)
		return refuse(r, "out of memory");
	struct inv *inv = netmap_inventory(s, &diags, &rc);
	if (!inv) {
		r->details = mem_text(write_diags, &diags);
		refuse(r, "the inventory does not build: %s", strerror(-rc));
		goto free_load;
	}
	if (load_inventory_take(l, inv) < 0 ||
	    load_policy(l, &(struct load_src){ .name = name, .text = text, .len = strlen(text) }, &diags) < 0 ||
	    load_compile(l, &diags) < 0) {
		r->details = mem_text(write_diags, &diags);
		refuse(r, "%s: the policy is invalid", name);
		goto free_load;
	}
	diag_list_free(&diags);
	*out = l;
	return 0;
free_load:
	diag_list_free(&diags);
	load_free(l);
	return -1;
}

/* The policy's tests, run against the inventory L holds. */
static int run_tests(const struct load *l, const char *name, struct refusal *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return refuse(r, "out of memory");
	int failed = ptest_run(l->pol, l->inv, &l->fs, f);
	fclose(f);
	if (failed == 0) {
		free(buf);
		return 0;
	}
	r->details = buf;
	if (failed < 0)
		return refuse(r, "%s: the tests could not run: %s", name, strerror(-failed));
	return refuse(r, "%s: %d test%s failed", name, failed, failed == 1 ? "" : "s");
}

struct live_policy {
	char *text;
	char name[32];
};

static int copy_policy_text(const struct store_policy *p, void *arg)
{
	struct live_policy *lp = arg;
	snprintf(lp->name, sizeof lp->name, "policy v%lld", (long long)p->version);
	lp->text = strdup(p->text);
	return lp->text ? 0 : -ENOMEM;
}

static void write_diff(FILE *f, const void *res)
{
	diff_write_text(f, res);
}

/* The live policy (none: an empty one) loaded against the store, for the
 * diff. */
static int load_live(struct store *s, struct load **out, struct refusal *r)
{
	struct live_policy live = { .name = "no policy" };
	int rc = store_policy_get(s, 0, copy_policy_text, &live);
	if (rc < 0 && rc != -ENOENT)
		return store_failed(r, rc);
	rc = load_against_store(s, live.name, live.text ? live.text : "{}", out, r);
	free(live.text);
	return rc;
}

/* The semantic diff from OLD_L to NEW_L, as the reply's "diff". */
static int diff_into(const struct load *old_l, const struct load *new_l, cJSON *out, struct refusal *r)
{
	struct diag_list diags = { 0 };
	struct diff_result res = { 0 };
	int rc = diff_compute(old_l, new_l, NULL, &res, &diags);
	if (rc < 0) {
		r->details = mem_text(write_diags, &diags);
		refuse(r, "the diff failed: %s", strerror(-rc));
	} else {
		char *text = mem_text(write_diff, &res);
		cJSON_AddStringToObject(out, "diff", text ? text : "");
		free(text);
	}
	diff_result_free(&res);
	diag_list_free(&diags);
	return rc < 0 ? -1 : 0;
}

/* Commit L's policy and push it, then the diff from OLD_L.  The nodes get
 * the policy before the diff is computed: at 10,000 nodes the diff (every
 * node's gains and losses) takes seconds, the push a fraction of one. */
static int commit_policy(struct coord_srv *srv, const cJSON *req, const char *text, int64_t by,
			 const struct load *old_l, const struct load *l, cJSON *out, struct refusal *r)
{
	int64_t if_version = int_arg(req, "if_version", -1), version;
	int rc = store_policy_set(coord_srv_store(srv), text, by, if_version, time(NULL), &version);
	if (rc == -ESTALE)
		return refuse(r, "the live policy is no longer version %lld: someone else committed since",
			      (long long)if_version);
	if (rc < 0)
		return store_failed(r, rc);
	cJSON_AddBoolToObject(out, "committed", true);
	cJSON_AddNumberToObject(out, "version", (double)version);
	log_info("policy version %lld set", (long long)version);
	coord_srv_push_now(srv);
	if (diff_into(old_l, l, out, r) < 0) {
		/* Committed all the same: say so, with why there is no diff. */
		char why[sizeof r->error + 16];
		snprintf(why, sizeof why, "(no diff: %s)", r->error);
		cJSON_AddStringToObject(out, "diff", why);
		free(r->details);
		*r = (struct refusal){ 0 };
	}
	return 0;
}

static int policy_set(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	struct store *s = coord_srv_store(srv);
	const char *text = str_arg(req, "text"), *name = str_arg(req, "name");
	struct load *l, *old_l = NULL;
	int64_t by;
	int rc = -1;
	if (!text)
		return refuse(r, "no policy text");
	if (!name)
		name = "policy";
	if (acting_user(s, req, &by, r) < 0 || load_against_store(s, name, text, &l, r) < 0)
		return -1;
	if (run_tests(l, name, r) < 0 || load_live(s, &old_l, r) < 0)
		goto free_load;
	if (!bool_arg(req, "dry_run")) {
		rc = commit_policy(srv, req, text, by, old_l, l, out, r);
	} else if ((rc = diff_into(old_l, l, out, r)) == 0) {
		cJSON_AddBoolToObject(out, "committed", false);
	}
free_load:
	load_free(old_l);
	load_free(l);
	return rc;
}

static int policy_row(const struct store_policy *p, void *arg)
{
	struct with_names *w = arg;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	const char *by = p->set_by ? names_find(w->users, p->set_by) : NULL;
	cJSON_AddNumberToObject(o, "version", (double)p->version);
	cJSON_AddStringToObject(o, "set_by", by ? by : "admin");
	cJSON_AddNumberToObject(o, "set_at", (double)p->set_at);
	cJSON_AddNumberToObject(o, "size", (double)strlen(p->text));
	if (w->srv)	/* policy.get: the text too */
		cJSON_AddStringToObject(o, "text", p->text);
	cJSON_AddItemToArray(w->arr, o);
	return 0;
}

static int policy_read(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r, bool one)
{
	struct store *s = coord_srv_store(srv);
	struct names users = { 0 };
	struct with_names w = { .arr = cJSON_AddArrayToObject(out, "policies"), .users = &users,
				.srv = one ? srv : NULL };
	int64_t version = int_arg(req, "version", 0);
	int rc = store_users_each(s, user_name_row, &users);
	if (rc == 0)
		rc = one ? store_policy_get(s, version, policy_row, &w) : store_policy_history(s, policy_row, &w);
	names_free(&users);
	if (rc == -ENOENT)
		return version ? refuse(r, "no policy version %lld", (long long)version) : refuse(r, "no policy set yet");
	return rc < 0 ? store_failed(r, rc) : 0;
}

static int policy_get(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	return policy_read(srv, req, out, r, true);
}

static int policy_history(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	return policy_read(srv, req, out, r, false);
}

static const struct {
	const char *cmd;
	int (*run)(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r);
} commands[] = {
	{ "users.add", users_add },
	{ "users.list", users_list },
	{ "authkey.create", authkey_create },
	{ "authkey.list", authkey_list },
	{ "authkey.revoke", authkey_revoke },
	{ "users.revoke", users_revoke },
	{ "nodes.list", nodes_list },
	{ "nodes.remove", nodes_remove },
	{ "nodes.expire", nodes_expire },
	{ "nodes.add_static", nodes_add_static },
	{ "nodes.config", nodes_config },
	{ "routes.list", routes_list },
	{ "routes.approve", routes_approve },
	{ "routes.reject", routes_reject },
	{ "policy.set", policy_set },
	{ "policy.get", policy_get },
	{ "policy.history", policy_history },
};

/* Run REQ's command into OUT: 0, or -1 with R filled. */
static int dispatch(struct coord_srv *srv, const cJSON *req, cJSON *out, struct refusal *r)
{
	const char *cmd = str_arg(req, "cmd");
	if (!cmd)
		return refuse(r, "a request is a JSON object with a \"cmd\"");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(cmd, commands[i].cmd))
			return commands[i].run(srv, req, out, r);
	return refuse(r, "unknown command '%s'", cmd);
}

char *coord_admin_handle(struct coord_srv *srv, const char *req, size_t len, size_t *outlen)
{
	struct refusal r = { .details = NULL };
	cJSON *in = cJSON_ParseWithLength(req, len);
	cJSON *out = cJSON_CreateObject();
	char *text = NULL;
	if (!out)
		goto free_in;
	if (!cJSON_IsObject(in) ? refuse(&r, "a request is one JSON object on one line") < 0
				: dispatch(srv, in, out, &r) < 0) {
		cJSON_Delete(out);
		if (!(out = cJSON_CreateObject()))
			goto free_details;
		cJSON_AddBoolToObject(out, "ok", false);
		cJSON_AddStringToObject(out, "error", r.error);
		if (r.details && *r.details)
			cJSON_AddStringToObject(out, "details", r.details);
	} else {
		cJSON_AddBoolToObject(out, "ok", true);
	}
	char *body = cJSON_PrintUnformatted(out);
	if (!body)
		goto free_out;
	*outlen = strlen(body) + 1;
	text = realloc(body, *outlen + 1);
	if (!text) {
		free(body);
		goto free_out;
	}
	text[*outlen - 1] = '\n';
	text[*outlen] = '\0';
free_out:
	cJSON_Delete(out);
free_details:
	free(r.details);
free_in:
	cJSON_Delete(in);
	return text;
}
