/* coord_inv: store -> inventory through inv's builders. */
#include "coord_inv.h"
#include "mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* Store ids to inventory indexes, in the order they were added. */
struct id_map {
	struct id_entry {
		int64_t id;
		int idx;
	} *v;
	size_t n, cap;
};

struct build {
	struct inv *inv;
	struct id_map users, nodes;
	int rc;
};

static int id_map_add(struct id_map *m, int64_t id, int idx)
{
	if (MEM_RESERVE(m->v, m->cap, m->n + 1) < 0)
		return -ENOMEM;
	m->v[m->n++] = (struct id_entry){ id, idx };
	return 0;
}

/* Ids come in ascending order from the store: a binary search. */
static int id_map_find(const struct id_map *m, int64_t id)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->v[mid].id == id)
			return m->v[mid].idx;
		if (m->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void id_map_free(struct id_map *m)
{
	free(m->v);
}

static int add_user(const struct store_user *u, void *arg)
{
	struct build *b = arg;
	int idx = inv_add_user(b->inv, u->name, u->email);
	int rc = idx < 0 ? idx : inv_user_set_role(b->inv, (size_t)idx, store_role_name(u->role));
	return rc < 0 ? rc : id_map_add(&b->users, u->id, idx);
}

static int add_node(const struct store_node *n, void *arg)
{
	struct build *b = arg;
	char v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], created[32];
	struct tm tm;
	time_t t = (time_t)n->created;
	int rc;
	if (n->expired)
		return 0;
	int user = n->user_id ? id_map_find(&b->users, n->user_id) : -1;
	int idx = inv_add_node(b->inv, n->name, user);
	if (idx < 0)
		return idx;
	for (size_t i = 0; i < n->tags.n; i++)
		if ((rc = inv_node_add_tag(b->inv, (size_t)idx, n->tags.items[i])) < 0)
			return rc;
	inet_ntop(AF_INET, n->ipv4, v4, sizeof v4);
	inet_ntop(AF_INET6, n->ipv6, v6, sizeof v6);
	gmtime_r(&t, &tm);
	strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((rc = inv_node_set_addr(b->inv, (size_t)idx, ADDR_V4, v4)) < 0 ||
	    (rc = inv_node_set_addr(b->inv, (size_t)idx, ADDR_V6, v6)) < 0 ||
	    (rc = inv_node_set_created(b->inv, (size_t)idx, created)) < 0)
		return rc;
	return id_map_add(&b->nodes, n->id, idx);
}

static int add_route(const struct store_route *r, void *arg)
{
	struct build *b = arg;
	int idx = id_map_find(&b->nodes, r->node_id);
	int rc = 0;
	/* As netmap reads them: a rejection wins over autoApprovers. */
	if (idx < 0 || !r->advertised || r->state == STORE_ROUTE_REJECTED)
		return 0;
	rc = inv_node_add_route(b->inv, (size_t)idx, INV_ADVERTISED, r->prefix);
	if (rc == 0 && r->state == STORE_ROUTE_APPROVED)
		rc = inv_node_add_route(b->inv, (size_t)idx, INV_APPROVED, r->prefix);
	return rc;
}

struct inv *coord_inv_build(struct store *s, struct diag_list *diags, int *rc)
{
	struct build b = { .inv = inv_new() };
	int64_t gen;
	if (!b.inv) {
		*rc = -ENOMEM;
		return NULL;
	}
	if ((*rc = store_read_begin(s, &gen)) < 0)
		goto free_inv;
	if ((*rc = store_users_each(s, add_user, &b)) == 0 && (*rc = store_nodes_each(s, add_node, &b)) == 0)
		*rc = store_routes_each(s, add_route, &b);
	store_read_end(s);
	if (*rc == 0)
		*rc = inv_finish(b.inv, diags);
	if (*rc < 0)
		goto free_inv;
	id_map_free(&b.users);
	id_map_free(&b.nodes);
	return b.inv;
free_inv:
	id_map_free(&b.users);
	id_map_free(&b.nodes);
	inv_free(b.inv);
	return NULL;
}
