/* coord_elect: the election of each route's primary. */
#include "coord_elect.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct cand {
	char *prefix;
	int64_t node_id;
	size_t order;			/* registration order */
	bool primary;
};

struct roll {
	int64_t *nodes;			/* live node ids, registration order */
	size_t nnodes, capnodes;
	struct cand *c;
	size_t n, cap;
};

static int node_take(const struct store_node *n, void *arg)
{
	struct roll *r = arg;
	if (n->expired)
		return 0;
	if (MEM_RESERVE(r->nodes, r->capnodes, r->nnodes + 1) < 0)
		return -ENOMEM;
	r->nodes[r->nnodes++] = n->id;
	return 0;
}

static int route_take(const struct store_route *rt, void *arg)
{
	struct roll *r = arg;
	size_t order = 0;
	if (!rt->advertised || rt->state != STORE_ROUTE_APPROVED)
		return 0;
	while (order < r->nnodes && r->nodes[order] != rt->node_id)
		order++;
	if (order == r->nnodes)
		return 0;
	if (MEM_RESERVE(r->c, r->cap, r->n + 1) < 0)
		return -ENOMEM;
	r->c[r->n] = (struct cand){ .prefix = strdup(rt->prefix), .node_id = rt->node_id, .order = order,
				    .primary = rt->primary_since != 0 };
	return r->c[r->n++].prefix ? 0 : -ENOMEM;
}

static int cmp_cand(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	int c = strcmp(a->prefix, b->prefix);
	return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

/* The router of the prefix C[0..N) that should be primary, or NULL to
 * leave it as it is. */
static const struct cand *winner(const struct cand *c, size_t n, coord_healthy_fn *healthy, void *arg)
{
	const struct cand *cur = NULL;
	for (size_t i = 0; i < n; i++)
		if (c[i].primary)
			cur = &c[i];
	if (cur && healthy(cur->node_id, cur->prefix, arg))
		return cur;
	for (size_t i = 0; i < n; i++)
		if (healthy(c[i].node_id, c[i].prefix, arg))
			return &c[i];
	return cur ? cur : &c[0];
}

static int elect_all(struct store *s, struct roll *r, coord_healthy_fn *healthy, void *arg, int64_t now)
{
	int changed = 0;
	qsort(r->c, r->n, sizeof(*r->c), cmp_cand);
	for (size_t i = 0, j; i < r->n; i = j) {
		for (j = i + 1; j < r->n && strcmp(r->c[j].prefix, r->c[i].prefix) == 0; j++)
			;
		const struct cand *w = winner(&r->c[i], j - i, healthy, arg);
		if (w->primary)
			continue;
		int rc = store_route_set_primary(s, w->prefix, w->node_id, now);
		if (rc < 0)
			return rc;
		log_info("route %s: node %lld is the primary now", w->prefix, (long long)w->node_id);
		changed++;
	}
	return changed;
}

int coord_elect(struct store *s, coord_healthy_fn *healthy, void *arg, int64_t now)
{
	struct roll r = { 0 };
	int rc = store_nodes_each(s, node_take, &r);
	if (rc >= 0)
		rc = store_routes_each(s, route_take, &r);
	if (rc >= 0)
		rc = elect_all(s, &r, healthy, arg, now);
	for (size_t i = 0; i < r.n; i++)
		free(r.c[i].prefix);
	free(r.c);
	free(r.nodes);
	return rc;
}
