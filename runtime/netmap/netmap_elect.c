/* netmap_elect: the election of each route's primary. */
#include "netmap_elect.h"
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

struct live {
	int64_t id;
	size_t order;			/* registration order */
};

struct roll {
	struct live *nodes;		/* live nodes, sorted by id once read */
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
	r->nodes[r->nnodes] = (struct live){ n->id, r->nnodes };
	r->nnodes++;
	return 0;
}

static int cmp_live(const void *pa, const void *pb)
{
	const struct live *a = pa, *b = pb;
	return a->id < b->id ? -1 : a->id > b->id;
}

static int route_take(const struct store_route *rt, void *arg)
{
	struct roll *r = arg;
	const struct live key = { .id = rt->node_id };
	const struct live *n = bsearch(&key, r->nodes, r->nnodes, sizeof(key), cmp_live);
	if (!n || !rt->advertised || rt->state != STORE_ROUTE_APPROVED)
		return 0;
	if (MEM_RESERVE(r->c, r->cap, r->n + 1) < 0)
		return -ENOMEM;
	r->c[r->n] = (struct cand){ .prefix = strdup(rt->prefix), .node_id = rt->node_id, .order = n->order,
				    .primary = rt->primary_since != 0 };
	return r->c[r->n++].prefix ? 0 : -ENOMEM;
}

static int cmp_cand(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	int c = strcmp(a->prefix, b->prefix);
	return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

/* The router of the prefix C[0..N) that should be primary: the current
 * one unless it fails, else the first seen healthy, else the first not
 * known to fail, else the current one (or the first). */
static const struct cand *winner(const struct cand *c, size_t n, netmap_health_fn *health, void *arg)
{
	const struct cand *cur = NULL;
	for (size_t i = 0; i < n; i++)
		if (c[i].primary)
			cur = &c[i];
	if (cur && health(cur->node_id, cur->prefix, arg) != NETMAP_FAILING)
		return cur;
	for (int want = NETMAP_HEALTHY; want > NETMAP_FAILING; want--)
		for (size_t i = 0; i < n; i++)
			if ((int)health(c[i].node_id, c[i].prefix, arg) == want)
				return &c[i];
	return cur ? cur : &c[0];
}

static int elect_all(struct store *s, struct roll *r, netmap_health_fn *health, netmap_elected_fn *elected, void *arg,
		     int64_t now)
{
	int changed = 0;
	qsort(r->c, r->n, sizeof(*r->c), cmp_cand);
	for (size_t i = 0, j; i < r->n; i = j) {
		for (j = i + 1; j < r->n && strcmp(r->c[j].prefix, r->c[i].prefix) == 0; j++)
			;
		const struct cand *w = winner(&r->c[i], j - i, health, arg);
		if (w->primary)
			continue;
		int rc = store_route_set_primary(s, w->prefix, w->node_id, now);
		if (rc < 0)
			return rc;
		if (elected)
			elected(w->prefix, w->node_id, arg);
		changed++;
	}
	return changed;
}

int netmap_elect(struct store *s, netmap_health_fn *health, netmap_elected_fn *elected, void *arg, int64_t now)
{
	struct roll r = { 0 };
	int rc = store_nodes_each(s, node_take, &r);
	if (rc >= 0) {
		qsort(r.nodes, r.nnodes, sizeof(*r.nodes), cmp_live);
		rc = store_routes_each(s, route_take, &r);
	}
	if (rc >= 0)
		rc = elect_all(s, &r, health, elected, arg, now);
	for (size_t i = 0; i < r.n; i++)
		free(r.c[i].prefix);
	free(r.c);
	free(r.nodes);
	return rc;
}
