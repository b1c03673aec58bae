/* inv_json: the inventory read from JSON through the located reader: the
 * tree's values are handed to the builders (inv.c), and what a builder
 * refuses is reported at the value, with the entry it belongs to. */
#include "inv.h"
#include "polname.h"

#include <errno.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct reader {
	struct inv *inv;
	struct diag_list *diags;
	char what[160];   /* "node 3 (\"relay-1\")" */
	bool ok;          /* no error in the inventory so far */
};

/* An error at AT, naming the entry being read. */
static void fail(struct reader *r, const struct hj_value *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct reader *r, const struct hj_value *at, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_error(r->diags, &at->loc, "%s: %s", r->what, msg);
	r->ok = false;
}

static bool absent(const struct hj_value *v)
{
	return !v || v->kind == HJ_NULL;
}

/* Is string V (member KEY, or an entry of it) free of control characters
 * (a NUL, a newline)?  Else an error at V. */
static bool clean(struct reader *r, const struct hj_value *v, const char *key)
{
	size_t bad = polname_bad_at(v->u.str.s, v->u.str.len);
	if (bad == v->u.str.len)
		return true;
	unsigned c = (unsigned char)v->u.str.s[bad];
	fail(r, v, "\"%s\": control character U+%04X: names and addresses may not hold control characters", key,
	     c == 0xc2 ? (unsigned char)v->u.str.s[bad + 1] : c);
	return false;
}

/* Member KEY of OBJ as a string: NULL when absent or null (an error when
 * REQUIRED) or not a string (an error). */
static const char *get_str(struct reader *r, const struct hj_value *obj, const char *key, bool required)
{
	const struct hj_value *v = hj_get(obj, key);
	if (absent(v)) {
		if (required)
			fail(r, obj, "missing \"%s\"", key);
		return NULL;
	}
	if (v->kind != HJ_STRING) {
		fail(r, v, "\"%s\" must be a string", key);
		return NULL;
	}
	return clean(r, v, key) ? v->u.str.s : NULL;
}

/* A builder's answer RC about value AT: -ENOMEM is reported as such, any
 * other error with WHY.  true when it took the value. */
static bool took(struct reader *r, int rc, const struct hj_value *at, const char *why)
{
	if (rc == -ENOMEM)
		fail(r, at, "reading the inventory: %s", strerror(ENOMEM));
	else if (rc < 0)
		fail(r, at, "%s", why);
	return rc >= 0;
}

static void read_routes(struct reader *r, const struct hj_value *obj, size_t node, const char *key,
			enum inv_routes which)
{
	const struct hj_value *arr = hj_get(obj, key);
	char why[256];
	if (absent(arr))
		return;
	if (arr->kind != HJ_ARRAY) {
		fail(r, arr, "\"%s\" must be an array of prefixes", key);
		return;
	}
	for (size_t i = 0; i < arr->u.arr.n; i++) {
		const struct hj_value *it = arr->u.arr.items[i];
		bool str = it->kind == HJ_STRING;
		if (str && !clean(r, it, key))
			continue;
		snprintf(why, sizeof(why), "\"%s\": %s%s%s is not a prefix (address/length, host bits zero)", key,
			 str ? "\"" : "", str ? it->u.str.s : "an entry", str ? "\"" : "");
		took(r, str ? inv_node_add_route(r->inv, node, which, it->u.str.s) : -EINVAL, it, why);
	}
}

static void read_addr(struct reader *r, const struct hj_value *obj, size_t node, const char *key,
		      enum addr_family family)
{
	const char *s = get_str(r, obj, key, false);
	char why[256];
	if (!s)
		return;
	snprintf(why, sizeof(why), "\"%s\": \"%s\" is not an IPv%d address", key, s, family);
	took(r, inv_node_set_addr(r->inv, node, family, s), hj_get(obj, key), why);
}

/* A builder taking one string for entry AT (a node's tag, a user's group). */
typedef int inv_add_fn(struct inv *inv, size_t at, const char *text);

/* Array member KEY of OBJ: each string handed to ADD for entry AT, what
 * it refuses reported with WHY ("\"tags\": every tag must be ...").
 * false when KEY is there but not an array (SHAPE says what it must be). */
static bool read_strings(struct reader *r, const struct hj_value *obj, const char *key, size_t at, inv_add_fn *add,
			 const char *shape, const char *why)
{
	const struct hj_value *arr = hj_get(obj, key);
	if (absent(arr))
		return true;
	if (arr->kind != HJ_ARRAY) {
		fail(r, arr, "\"%s\" must be an array of %s", key, shape);
		return false;
	}
	for (size_t i = 0; i < arr->u.arr.n; i++) {
		const struct hj_value *it = arr->u.arr.items[i];
		if (it->kind == HJ_STRING && !clean(r, it, key))
			continue;
		took(r, it->kind == HJ_STRING ? add(r->inv, at, it->u.str.s) : -EINVAL, it, why);
	}
	return true;
}

/* The node's tags; false when "tags" is not an array (the rest of the
 * node is not read, as before). */
static bool read_tags(struct reader *r, const struct hj_value *obj, size_t node)
{
	return read_strings(r, obj, "tags", node, inv_node_add_tag, "\"tag:NAME\" strings",
			    "\"tags\": every tag must be a string \"tag:NAME\"");
}

/* "shared": true for a device shared into the tailnet from outside it. */
static void read_shared(struct reader *r, const struct hj_value *obj, size_t node)
{
	const struct hj_value *v = hj_get(obj, "shared");
	if (absent(v))
		return;
	if (v->kind != HJ_TRUE && v->kind != HJ_FALSE) {
		fail(r, v, "\"shared\" must be true or false");
		return;
	}
	took(r, inv_node_set_shared(r->inv, node, v->kind == HJ_TRUE), v, "");
}

/* "attributes": {"NAMESPACE:NAME": string, number or boolean}, the
 * node's device posture attributes. */
static void read_attrs(struct reader *r, const struct hj_value *obj, size_t node)
{
	const struct hj_value *v = hj_get(obj, "attributes");
	if (absent(v))
		return;
	if (v->kind != HJ_OBJECT) {
		fail(r, v, "\"attributes\" must be an object {\"NAMESPACE:NAME\": value}");
		return;
	}
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		const struct hj_value *val = m->value;
		struct inv_attr a = { .key = m->key->u.str.s };
		if (!clean(r, m->key, "attributes"))
			continue;
		if (!inv_attr_key_valid(a.key)) {
			fail(r, m->key, "\"attributes\": \"%s\" is not an attribute key NAMESPACE:NAME "
			     "(e.g. node:os, custom:NAME)", a.key);
			continue;
		}
		if (!inv_attr_from_value(val, &a)) {
			fail(r, val, "\"attributes\": \"%s\" must be a string, a number or a boolean", a.key);
			continue;
		}
		if (val->kind == HJ_STRING && !clean(r, val, a.key))
			continue;
		took(r, inv_node_set_attr(r->inv, node, &a), val, "");
	}
}

/* "role": one of the roles (role.h), a member's when absent. */
static void read_role(struct reader *r, const struct hj_value *obj, size_t user)
{
	const char *role = get_str(r, obj, "role", false);
	if (role)
		took(r, inv_user_set_role(r->inv, user, role), hj_get(obj, "role"),
		     "\"role\": not a role (owner, admin, it-admin, network-admin, billing-admin, auditor, "
		     "member)");
}

/* "groups": the synced groups the user is in. */
static void read_user_groups(struct reader *r, const struct hj_value *obj, size_t user)
{
	read_strings(r, obj, "groups", user, inv_user_add_group, "\"group:NAME@DOMAIN\" strings",
		     "\"groups\": every group must be a synced group \"group:NAME@DOMAIN\"");
}

/* The node's owner: a user's index, or -1 (none, or unknown: an error). */
static int read_owner(struct reader *r, const struct hj_value *obj)
{
	const char *user = get_str(r, obj, "user", false);
	int u = user ? inv_user_by_name(r->inv, user) : -1;
	if (user && u < 0)
		fail(r, hj_get(obj, "user"), "\"user\": no user named \"%s\" in \"users\"", user);
	return u;
}

/* One node.  A node without a name, or with a name taken, is reported
 * and not read further. */
static void read_node(struct reader *r, const struct hj_value *obj, size_t i)
{
	snprintf(r->what, sizeof(r->what), "node %zu", i + 1);
	if (obj->kind != HJ_OBJECT) {
		fail(r, obj, "must be an object, not another value");
		return;
	}
	bool was_ok = r->ok;
	r->ok = true;
	const char *name = get_str(r, obj, "name", true);
	if (!name)
		goto out;
	snprintf(r->what + strlen(r->what), sizeof(r->what) - strlen(r->what), " (\"%s\")", name);
	int user = read_owner(r, obj);
	int rc = inv_add_node(r->inv, name, user);
	if (rc == -EEXIST) {
		fail(r, hj_get(obj, "name"), "duplicate node name \"%s\"", name);
		goto out;
	}
	if (!took(r, rc, obj, ""))
		goto out;
	size_t node = (size_t)rc;
	if (!read_tags(r, obj, node))
		goto out;
	/* Completeness is worth saying only about a node otherwise right. */
	if (r->ok && !inv_node_owned(&r->inv->nodes[node]))
		fail(r, obj, "a node needs a \"user\" or at least one tag");
	read_addr(r, obj, node, "ipv4", ADDR_V4);
	read_addr(r, obj, node, "ipv6", ADDR_V6);
	if (r->ok && !inv_node_addressed(&r->inv->nodes[node]))
		fail(r, obj, "a node needs \"ipv4\" or \"ipv6\"");
	const char *created = get_str(r, obj, "created", false);
	char why[256];
	snprintf(why, sizeof(why), "\"created\": \"%s\" is not an RFC 3339 UTC time (2026-04-10T21:06:42.83Z)",
		 created ? created : "");
	if (created)
		took(r, inv_node_set_created(r->inv, node, created), hj_get(obj, "created"), why);
	read_routes(r, obj, node, "advertised_routes", INV_ADVERTISED);
	read_routes(r, obj, node, "approved_routes", INV_APPROVED);
	read_shared(r, obj, node);
	read_attrs(r, obj, node);
out:
	r->ok &= was_ok;
}

static void read_user(struct reader *r, const struct hj_value *obj, size_t i)
{
	snprintf(r->what, sizeof(r->what), "user %zu", i + 1);
	if (obj->kind != HJ_OBJECT) {
		fail(r, obj, "must be an object");
		return;
	}
	bool was_ok = r->ok;
	r->ok = true;
	const char *name = get_str(r, obj, "name", true);
	const char *email = get_str(r, obj, "email", false);
	if (name && r->ok) {
		int rc = inv_add_user(r->inv, name, email);
		if (rc == -EEXIST)
			fail(r, hj_get(obj, "name"), "duplicate user name \"%s\"", name);
		else if (took(r, rc, obj, "")) {
			read_role(r, obj, (size_t)rc);
			read_user_groups(r, obj, (size_t)rc);
		}
	}
	r->ok &= was_ok;
}

/* Node NODE (a name) hosts service SVC: a node read already. */
static int add_known_host(struct inv *inv, size_t svc, const char *node)
{
	return inv_node_by_name(inv, node) < 0 ? -ENOENT : inv_service_add_host(inv, svc, node);
}

/* One service: {"name": "svc:NAME", "ipv4", "ipv6", "hosts": [node names]}. */
static void read_service(struct reader *r, const struct hj_value *obj, size_t i)
{
	snprintf(r->what, sizeof(r->what), "service %zu", i + 1);
	if (obj->kind != HJ_OBJECT) {
		fail(r, obj, "must be an object");
		return;
	}
	const char *name = get_str(r, obj, "name", true);
	if (!name)
		return;
	int svc = inv_add_service(r->inv, name);
	if (svc == -EEXIST) {
		fail(r, hj_get(obj, "name"), "duplicate service name \"%s\"", name);
		return;
	}
	if (!took(r, svc, hj_get(obj, "name"), "\"name\": a service is named svc:NAME (lowercase letters, "
		  "digits and '-')"))
		return;
	for (int f = 0; f < 2; f++) {
		const char *key = f ? "ipv6" : "ipv4", *s = get_str(r, obj, key, false);
		char why[256];
		snprintf(why, sizeof(why), "\"%s\": \"%s\" is not an IPv%d address", key, s ? s : "", f ? 6 : 4);
		if (s)
			took(r, inv_service_set_addr(r->inv, (size_t)svc, f ? ADDR_V6 : ADDR_V4, s), hj_get(obj, key), why);
	}
	if (!hj_get(obj, "ipv4") && !hj_get(obj, "ipv6"))
		fail(r, obj, "a service needs \"ipv4\" or \"ipv6\"");
	read_strings(r, obj, "hosts", (size_t)svc, add_known_host, "node names",
		     "\"hosts\": every entry must be the name of a node in \"nodes\"");
}

static void read_services(struct reader *r, const struct hj_value *services)
{
	if (absent(services))
		return;
	if (services->kind != HJ_ARRAY) {
		snprintf(r->what, sizeof(r->what), "\"services\"");
		fail(r, services, "must be an array of services");
		return;
	}
	for (size_t i = 0; i < services->u.arr.n; i++)
		read_service(r, services->u.arr.items[i], i);
}

/* inv_finish with each node's addresses located (every node was read, so
 * node I is entry I of NODES). */
static int finish(struct reader *r, const struct hj_value *nodes)
{
	size_t n = r->inv->nnodes;
	struct diag_loc *locs[2] = { calloc(n + 1, sizeof(*locs[0])), calloc(n + 1, sizeof(*locs[1])) };
	int rc = -ENOMEM;
	if (!locs[0] || !locs[1]) {
		diag_error(r->diags, &nodes->loc, "reading the inventory: %s", strerror(ENOMEM));
		goto free_locs;
	}
	for (size_t i = 0; i < n && i < nodes->u.arr.n; i++) {
		const struct hj_value *v4 = hj_get(nodes->u.arr.items[i], "ipv4");
		const struct hj_value *v6 = hj_get(nodes->u.arr.items[i], "ipv6");
		if (v4)
			locs[0][i] = v4->loc;
		if (v6)
			locs[1][i] = v6->loc;
	}
	rc = inv_finish_located(r->inv, (const struct diag_loc *const[2]){ locs[0], locs[1] }, r->diags);
free_locs:
	free(locs[0]);
	free(locs[1]);
	return rc;
}

struct inv *inv_from_tree(const struct hj_value *obj, struct diag_list *diags)
{
	struct reader r = { .inv = inv_new(), .diags = diags, .ok = true };
	if (!r.inv) {
		diag_error(diags, &obj->loc, "reading the inventory: %s", strerror(ENOMEM));
		return NULL;
	}
	if (obj->kind != HJ_OBJECT) {
		diag_error(diags, &obj->loc, "the inventory must be a JSON object");
		goto out_free;
	}
	const struct hj_value *users = hj_get(obj, "users"), *nodes = hj_get(obj, "nodes");
	if (!absent(users) && users->kind != HJ_ARRAY) {
		snprintf(r.what, sizeof(r.what), "\"users\"");
		fail(&r, users, "must be an array of {\"name\", \"email\", \"role\", \"groups\"}");
	} else {
		for (size_t i = 0; !absent(users) && i < users->u.arr.n; i++)
			read_user(&r, users->u.arr.items[i], i);
	}
	if (!nodes || nodes->kind != HJ_ARRAY) {
		snprintf(r.what, sizeof(r.what), "\"nodes\"");
		fail(&r, nodes ? nodes : obj, "missing, or not an array of nodes");
	} else {
		for (size_t i = 0; i < nodes->u.arr.n; i++)
			read_node(&r, nodes->u.arr.items[i], i);
	}
	read_services(&r, hj_get(obj, "services"));
	if (r.ok && finish(&r, nodes) == 0)
		return r.inv;
out_free:
	inv_free(r.inv);
	return NULL;
}

struct inv *inv_read(const struct diag_src *src, struct diag_list *diags)
{
	struct hj_value *root = hj_parse(src, diags);
	if (!root)
		return NULL;
	struct inv *inv = inv_from_tree(root, diags);
	hj_free(root);
	return inv;
}
