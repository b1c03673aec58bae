/* netmap_read: the store's state copied out in one snapshot, and the
 * inventory built from it. */
#include "netmap_read.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem.h"

static void strs_free(struct netmap_strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int strs_copy(struct netmap_strs *dst, const struct store_list *src)
{
	dst->v = calloc(src->n + 1, sizeof(*dst->v));
	if (!dst->v)
		return -ENOMEM;
	for (dst->n = 0; dst->n < src->n; dst->n++)
		if (!(dst->v[dst->n] = strdup(src->items[dst->n])))
			return -ENOMEM;
	return 0;
}

static int user_copy(const struct store_user *u, void *arg)
{
	struct netmap_snap *snap = arg;
	if (MEM_RESERVE(snap->users, snap->capusers, snap->nusers + 1) < 0)
		return -ENOMEM;
	struct netmap_user *c = &snap->users[snap->nusers++];
	*c = (struct netmap_user){ .id = u->id, .name = strdup(u->name), .email = strdup(u->email),
				   .role = store_role_name(u->role) };
	return c->name && c->email ? 0 : -ENOMEM;
}

static void node_free(struct netmap_node *n)
{
	free(n->name);
	strs_free(&n->tags);
	strs_free(&n->endpoints);
	for (size_t i = 0; i < n->nroutes; i++)
		free(n->routes[i].prefix);
	free(n->routes);
}

static int node_copy(const struct store_node *n, void *arg)
{
	struct netmap_snap *snap = arg;
	if (n->expired)
		return 0;
	if (MEM_RESERVE(snap->nodes, snap->capnodes, snap->nnodes + 1) < 0)
		return -ENOMEM;
	struct netmap_node *c = &snap->nodes[snap->nnodes++];
	*c = (struct netmap_node){ .id = n->id, .user_id = n->user_id, .created = n->created,
				     .key_expiry = n->key_expiry };
	memcpy(c->wg_key, n->wg_key, sizeof(c->wg_key));
	memcpy(c->ipv4, n->ipv4, sizeof(c->ipv4));
	memcpy(c->ipv6, n->ipv6, sizeof(c->ipv6));
	if (!(c->name = strdup(n->name)))
		return -ENOMEM;
	int rc = strs_copy(&c->tags, &n->tags);
	return rc < 0 ? rc : strs_copy(&c->endpoints, &n->endpoints);
}

/* bsearch's comparison for arrays of structs whose first member is their
 * int64_t id (users, nodes: both read in id order). */
static int cmp_leading_id(const void *key, const void *elem)
{
	int64_t a = *(const int64_t *)key, b = *(const int64_t *)elem;
	return a < b ? -1 : a > b;
}

/* The node with store id ID, or NULL (expired, or gone). */
static struct netmap_node *node_by_id(struct netmap_snap *snap, int64_t id)
{
	return bsearch(&id, snap->nodes, snap->nnodes, sizeof(*snap->nodes), cmp_leading_id);
}

static int route_copy(const struct store_route *r, void *arg)
{
	struct netmap_node *n = node_by_id(arg, r->node_id);
	if (!n)
		return 0;
	if (MEM_RESERVE(n->routes, n->caproutes, n->nroutes + 1) < 0)
		return -ENOMEM;
	struct netmap_route *c = &n->routes[n->nroutes++];
	*c = (struct netmap_route){ .prefix = strdup(r->prefix), .advertised = r->advertised, .state = r->state,
				     .primary_since = r->primary_since };
	return c->prefix ? 0 : -ENOMEM;
}

static int policy_copy(const struct store_policy *p, void *arg)
{
	struct netmap_snap *snap = arg;
	snap->has_policy = true;
	snap->policy_version = p->version;
	snap->policy_text = strdup(p->text);
	return snap->policy_text ? 0 : -ENOMEM;
}

static int snap_fill(struct store *s, struct netmap_snap *snap)
{
	int rc = store_users_each(s, user_copy, snap);
	if (rc < 0)
		return rc;
	if ((rc = store_nodes_each(s, node_copy, snap)) < 0)
		return rc;
	if ((rc = store_routes_each(s, route_copy, snap)) < 0)
		return rc;
	rc = store_policy_get(s, 0, policy_copy, snap);
	return rc == -ENOENT ? 0 : rc;
}

int netmap_snap_read(struct store *s, struct netmap_snap *snap)
{
	int rc = store_read_begin(s, &snap->gen);
	if (rc < 0)
		return rc;
	rc = snap_fill(s, snap);
	int end = store_read_end(s);
	return rc < 0 ? rc : end;
}

void netmap_snap_free(struct netmap_snap *snap)
{
	for (size_t i = 0; i < snap->nusers; i++) {
		free(snap->users[i].name);
		free(snap->users[i].email);
	}
	free(snap->users);
	for (size_t i = 0; i < snap->nnodes; i++)
		node_free(&snap->nodes[i]);
	free(snap->nodes);
	free(snap->policy_text);
	memset(snap, 0, sizeof(*snap));
}

/* Inventory index of the user with store id ID, or -1: users are added to
 * the inventory in the order read. */
static int user_index(const struct netmap_snap *snap, int64_t id)
{
	const struct netmap_user *u = bsearch(&id, snap->users, snap->nusers, sizeof(*snap->users), cmp_leading_id);
	return u ? (int)(u - snap->users) : -1;
}

/* Unix seconds as RFC 3339 UTC: "2026-04-10T21:06:42Z". */
static int created_text(int64_t t, char buf[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -EINVAL;
	return 0;
}

static int add_addrs(struct inv *inv, size_t k, const struct netmap_node *n)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	if (!inet_ntop(AF_INET, n->ipv4, a4, sizeof(a4)) || !inet_ntop(AF_INET6, n->ipv6, a6, sizeof(a6)))
		return -EINVAL;
	int rc = inv_node_set_addr(inv, k, ADDR_V4, a4);
	return rc < 0 ? rc : inv_node_set_addr(inv, k, ADDR_V6, a6);
}

/* A route the inventory refuses (not a prefix with its host bits zero)
 * cannot be served: a warning, not a failure. */
static int add_route(struct inv *inv, size_t k, const struct netmap_node *n, enum inv_routes which,
		     const char *prefix, struct diag_list *diags)
{
	int rc = inv_node_add_route(inv, k, which, prefix);
	if (rc == -EINVAL)
		return diag_warn(diags, NULL, "node \"%s\": route %s left out: not a prefix", n->name, prefix);
	return rc;
}

static int add_routes(struct inv *inv, size_t k, const struct netmap_node *n, struct diag_list *diags)
{
	for (size_t i = 0; i < n->nroutes; i++) {
		const struct netmap_route *r = &n->routes[i];
		int rc = 0;
		if (r->advertised && r->state != STORE_ROUTE_REJECTED)
			rc = add_route(inv, k, n, INV_ADVERTISED, r->prefix, diags);
		if (rc < 0 || (r->state == STORE_ROUTE_APPROVED &&
				(rc = add_route(inv, k, n, INV_APPROVED, r->prefix, diags)) < 0))
			return rc;
		/* -ENOENT: a prefix add_route left out */
		if (r->state == STORE_ROUTE_APPROVED && r->primary_since &&
		    (rc = inv_node_set_route_primary(inv, k, r->prefix)) < 0 && rc != -ENOENT)
			return rc;
	}
	return 0;
}

static int add_node(struct inv *inv, const struct netmap_snap *snap, const struct netmap_node *n,
		    struct diag_list *diags)
{
	int user = n->user_id ? user_index(snap, n->user_id) : -1;
	char created[32];
	int rc = inv_add_node(inv, n->name, user);
	if (rc < 0)
		return rc;
	size_t k = (size_t)rc;
	for (size_t i = 0; i < n->tags.n; i++)
		if ((rc = inv_node_add_tag(inv, k, n->tags.v[i])) < 0)
			return rc;
	if ((rc = add_addrs(inv, k, n)) < 0 || (rc = created_text(n->created, created)) < 0 ||
	    (rc = inv_node_set_created(inv, k, created)) < 0)
		return rc;
	return add_routes(inv, k, n, diags);
}

struct inv *netmap_snap_inventory(const struct netmap_snap *snap, struct diag_list *diags)
{
	struct inv *inv = inv_new();
	int rc = inv ? 0 : -ENOMEM;
	for (size_t i = 0; rc >= 0 && i < snap->nusers; i++) {
		rc = inv_add_user(inv, snap->users[i].name, snap->users[i].email);
		if (rc >= 0 && snap->users[i].role)
			rc = inv_user_set_role(inv, (size_t)rc, snap->users[i].role);
		if (rc < 0)
			diag_error(diags, NULL, "inventory: user \"%s\": %s", snap->users[i].name, strerror(-rc));
	}
	for (size_t i = 0; rc >= 0 && i < snap->nnodes; i++) {
		rc = add_node(inv, snap, &snap->nodes[i], diags);
		if (rc < 0)
			diag_error(diags, NULL, "inventory: node \"%s\": %s", snap->nodes[i].name, strerror(-rc));
	}
	if (rc >= 0)
		rc = inv_finish(inv, diags);
	if (rc < 0) {
		inv_free(inv);
		return NULL;
	}
	return inv;
}
