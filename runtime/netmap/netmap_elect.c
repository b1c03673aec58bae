/* netmap_elect: the election of each route's primary. */
#include "netmap_elect.h"
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct cand {
	char *prefix;
	int64_t node_id;		/* registration order: ids are handed out in it */
	bool primary;
};

struct roll {
	struct cand *c;
	size_t n, cap;
};

static int route_take(const struct store_route *rt, void *arg)
{
	struct roll *r = arg;
	if (!rt->advertised || rt->state != STORE_ROUTE_APPROVED)
		return 0;
	if (MEM_RESERVE(r->c, r->cap, r->n + 1) < 0)
		return -ENOMEM;
	r->c[r->n] = (struct cand){ .prefix = strdup(rt->prefix), .node_id = rt->node_id,
				    .primary = rt->primary_since != 0 };
	return r->c[r->n++].prefix ? 0 : -ENOMEM;
}

static int node_live(const struct store_node *n, void *arg)
{
	*(bool *)arg = !n->expired;
	return 0;
}

/* Leave out the candidates whose node expired (or is gone).  The routers
 * are few: a look-up each (the routes come in node order: one per node),
 * not a read of every node (at 10,000 nodes that read was a tenth of a
 * join's cost). */
static int keep_live(struct store *s, struct roll *r)
{
	size_t kept = 0, i;
	int64_t asked = 0;
	bool live = false;
	int rc = 0;
	for (i = 0; i < r->n; i++) {
		if (r->c[i].node_id != asked) {
			live = false;
			asked = r->c[i].node_id;
			rc = store_node_get(s, asked, node_live, &live);
			if (rc < 0 && rc != -ENOENT)
				break;
			rc = 0;
		}
		if (live)
			r->c[kept++] = r->c[i];
		else
			free(r->c[i].prefix);
	}
	/* on an error the ones not asked about stay, for the caller to free */
	for (; i < r->n; i++)
		r->c[kept++] = r->c[i];
	r->n = kept;
	return rc;
}

static int cmp_cand(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	int c = strcmp(a->prefix, b->prefix);
	return c ? c : a->node_id < b->node_id ? -1 : a->node_id > b->node_id;
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
	int rc = store_routes_each(s, route_take, &r);
	if (rc >= 0)
		rc = keep_live(s, &r);
	if (rc >= 0)
		rc = elect_all(s, &r, health, elected, arg, now);
	for (size_t i = 0; i < r.n; i++)
		free(r.c[i].prefix);
	free(r.c);
	return rc;
}
