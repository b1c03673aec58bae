/* agent_apply: plan the steps (a list), run them, undo on failure. */
#include "agent_apply.h"
#include "agent_routes.h"
#include "mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum step_kind { STEP_PEER_SET, STEP_PEER_REMOVE, STEP_ADDR, STEP_ROUTE, STEP_FILTER };

struct step {
	enum step_kind kind;
	const struct ctl_peer *peer, *prev;	/* PEER_SET: PREV the settings it replaces, or NULL */
	struct ctl_prefix pfx;
	bool add;
};

struct plan {
	struct step *v;
	size_t n, cap;
};

static int plan_push(struct plan *p, const struct step *s)
{
	if (MEM_RESERVE(p->v, p->cap, p->n + 1) < 0)
		return -ENOMEM;
	p->v[p->n++] = *s;
	return 0;
}

/* What the device holds of a peer: the key, where to send, what it may
 * send, keepalive.  Its name and addresses are ours only. */
static bool peer_device_equal(const struct ctl_peer *a, const struct ctl_peer *b)
{
	return !memcmp(a->wg_key, b->wg_key, sizeof a->wg_key) && a->keepalive == b->keepalive &&
	       ctl_endpoints_equal(&a->endpoints, &b->endpoints) && ctl_prefixes_equal(&a->allowed_ips, &b->allowed_ips);
}

static size_t n_peers(const struct agent_target *t)
{
	return t->m ? t->m->n_peers : 0;
}

static int plan_peers(struct plan *p, const struct agent_target *o, const struct agent_target *n)
{
	size_t no = n_peers(o), nn = n_peers(n), i, j;
	int rc = 0;
	/* Removals first: a peer gone, or one whose key changed. */
	for (i = 0, j = 0; i < no && rc == 0; i++) {
		const struct ctl_peer *op = &o->m->peers[i];
		while (j < nn && n->m->peers[j].id < op->id)
			j++;
		bool kept = j < nn && n->m->peers[j].id == op->id &&
			    !memcmp(n->m->peers[j].wg_key, op->wg_key, sizeof op->wg_key);
		if (!kept)
			rc = plan_push(p, &(struct step){ .kind = STEP_PEER_REMOVE, .peer = op });
	}
	for (i = 0, j = 0; j < nn && rc == 0; j++) {
		const struct ctl_peer *np = &n->m->peers[j], *prev = NULL;
		while (i < no && o->m->peers[i].id < np->id)
			i++;
		if (i < no && o->m->peers[i].id == np->id &&
		    !memcmp(o->m->peers[i].wg_key, np->wg_key, sizeof np->wg_key))
			prev = &o->m->peers[i];
		if (prev && peer_device_equal(prev, np))
			continue;
		rc = plan_push(p, &(struct step){ .kind = STEP_PEER_SET, .peer = np, .prev = prev });
	}
	return rc;
}

static int prefix_cmp(const void *a, const void *b)
{
	const struct ctl_prefix *x = a, *y = b;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	int c = memcmp(x->addr, y->addr, sizeof x->addr);
	if (c)
		return c;
	return (x->bits > y->bits) - (x->bits < y->bits);
}

static int prefixes_append(struct ctl_prefixes *out, const struct ctl_prefixes *in)
{
	if (!in->n)
		return 0;
	struct ctl_prefix *v = realloc(out->v, (out->n + in->n) * sizeof *v);
	if (!v)
		return -ENOMEM;
	memcpy(v + out->n, in->v, in->n * sizeof *v);
	out->v = v;
	out->n += in->n;
	return 0;
}

static void prefixes_sort_unique(struct ctl_prefixes *p)
{
	size_t k = 0;
	if (!p->n)
		return;
	qsort(p->v, p->n, sizeof *p->v, prefix_cmp);
	for (size_t i = 1; i < p->n; i++)
		if (prefix_cmp(&p->v[k], &p->v[i]))
			p->v[++k] = p->v[i];
	p->n = k + 1;
}

int agent_target_routes(const struct agent_target *t, struct ctl_prefixes *out)
{
	int rc = 0;
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < n_peers(t) && rc == 0; i++)
		rc = prefixes_append(out, &t->m->peers[i].addresses);
	if (rc == 0 && t->m && t->accept_routes)
		rc = prefixes_append(out, &t->m->routes);
	if (rc < 0) {
		ctl_prefixes_free(out);
		return rc;
	}
	prefixes_sort_unique(out);
	return 0;
}

static int sorted_copy(const struct ctl_prefixes *in, struct ctl_prefixes *out)
{
	memset(out, 0, sizeof *out);
	int rc = in ? prefixes_append(out, in) : 0;
	if (rc == 0)
		prefixes_sort_unique(out);
	return rc;
}

static int self_addresses(const struct agent_target *t, struct ctl_prefixes *out)
{
	return sorted_copy(t->m ? &t->m->self.addresses : NULL, out);
}

/* Steps of KIND taking sorted unique OLD to sorted unique NEW: removals,
 * then additions; for addresses additions first, because the kernel
 * flushes every IPv4 route through a device when its last IPv4 address
 * goes (a node given new addresses would lose its routes into the tunnel
 * while we believe them in place). */
static int plan_prefixes(struct plan *p, enum step_kind kind, const struct ctl_prefixes *o,
			 const struct ctl_prefixes *n)
{
	int rc = 0;
	for (int pass = 0; pass <= 1 && rc == 0; pass++) {
		int add = kind == STEP_ADDR ? !pass : pass;
		const struct ctl_prefixes *from = add ? n : o, *other = add ? o : n;
		for (size_t i = 0; i < from->n && rc == 0; i++)
			if (!bsearch(&from->v[i], other->v, other->n, sizeof *other->v, prefix_cmp))
				rc = plan_push(p, &(struct step){ .kind = kind, .pfx = from->v[i], .add = add });
	}
	return rc;
}

static bool str_equal(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool filter_changed(const struct agent_target *o, const struct agent_target *n)
{
	if (!o->m || !n->m)
		return o->m != n->m;
	return !str_equal(o->m->filter, n->m->filter) || o->m->snat != n->m->snat ||
	       memcmp(&o->snat_to, &n->snat_to, sizeof(o->snat_to)) ||
	       !ctl_prefixes_equal(&o->m->self.addresses, &n->m->self.addresses);
}

static int plan_build(struct plan *p, const struct agent_target *o, const struct agent_target *n, bool force_filter)
{
	struct ctl_prefixes oa, na, orr, nr;
	int rc = plan_peers(p, o, n);
	if (rc < 0)
		return rc;
	if ((rc = self_addresses(o, &oa)) < 0)
		return rc;
	if ((rc = self_addresses(n, &na)) < 0)
		goto free_oa;
	if ((rc = plan_prefixes(p, STEP_ADDR, &oa, &na)) < 0)
		goto free_na;
	if ((rc = agent_target_routes(o, &orr)) < 0)
		goto free_na;
	if ((rc = agent_target_routes(n, &nr)) < 0)
		goto free_or;
	rc = plan_prefixes(p, STEP_ROUTE, &orr, &nr);
	if (rc == 0 && (force_filter || filter_changed(o, n)))
		rc = plan_push(p, &(struct step){ .kind = STEP_FILTER });
	ctl_prefixes_free(&nr);
free_or:
	ctl_prefixes_free(&orr);
free_na:
	ctl_prefixes_free(&na);
free_oa:
	ctl_prefixes_free(&oa);
	return rc;
}

static int run_step(const struct agent_ops *ops, void *ctx, const struct step *s, const struct agent_target *n,
		    const struct ctl_delta *d)
{
	switch (s->kind) {
	case STEP_PEER_SET: return ops->peer_set(ctx, s->peer);
	case STEP_PEER_REMOVE: return ops->peer_remove(ctx, s->peer);
	case STEP_ADDR: return ops->addr(ctx, &s->pfx, s->add);
	case STEP_ROUTE: return ops->route(ctx, &s->pfx, s->add);
	case STEP_FILTER: return ops->filter(ctx, n, d);
	}
	return -EINVAL;
}

static int undo_step(const struct agent_ops *ops, void *ctx, const struct step *s, const struct agent_target *o)
{
	switch (s->kind) {
	case STEP_PEER_SET: return s->prev ? ops->peer_set(ctx, s->prev) : ops->peer_remove(ctx, s->peer);
	case STEP_PEER_REMOVE: return ops->peer_set(ctx, s->peer);
	case STEP_ADDR: return ops->addr(ctx, &s->pfx, !s->add);
	case STEP_ROUTE: return ops->route(ctx, &s->pfx, !s->add);
	case STEP_FILTER: return ops->filter(ctx, o, NULL);
	}
	return -EINVAL;
}

static void describe(char *out, size_t len, const struct step *s, int rc)
{
	char pfx[64];
	const char *why = strerror(-rc);
	switch (s->kind) {
	case STEP_PEER_SET:
	case STEP_PEER_REMOVE:
		snprintf(out, len, "peer %s (%llu): %s: %s", s->peer->name ? s->peer->name : "?",
			 (unsigned long long)s->peer->id,
			 s->kind == STEP_PEER_REMOVE ? "remove" : s->prev ? "update" : "add", why);
		break;
	case STEP_ADDR:
	case STEP_ROUTE:
		ctl_prefix_format(pfx, &s->pfx);
		snprintf(out, len, "%s %s: %s: %s", s->kind == STEP_ADDR ? "address" : "route", pfx,
			 s->add ? "add" : "remove", why);
		break;
	case STEP_FILTER:
		snprintf(out, len, "filter: %s", why);
		break;
	}
}

static void count(struct agent_apply_result *r, const struct step *s)
{
	switch (s->kind) {
	case STEP_PEER_SET: r->peers_set++; break;
	case STEP_PEER_REMOVE: r->peers_removed++; break;
	case STEP_ADDR: r->addrs++; break;
	case STEP_ROUTE: r->routes++; break;
	case STEP_FILTER: r->filter = true; break;
	}
}

/* Run P's steps towards NEW_T (D: the delta it comes from, or NULL);
 * the first failure undoes the steps done, back to OLD_T. */
static int run_plan(const struct agent_ops *ops, void *ctx, const struct plan *p, const struct agent_target *old_t,
		    const struct agent_target *new_t, const struct ctl_delta *d, struct agent_apply_result *r)
{
	size_t i;
	int rc = 0;
	for (i = 0; i < p->n; i++) {
		if ((rc = run_step(ops, ctx, &p->v[i], new_t, d)) < 0)
			break;
		count(r, &p->v[i]);
	}
	if (rc < 0) {
		describe(r->error, sizeof r->error, &p->v[i], rc);
		while (i-- > 0)
			if (undo_step(ops, ctx, &p->v[i], old_t) < 0)
				r->undo_failed++;
	}
	return rc;
}

int agent_apply(const struct agent_ops *ops, void *ctx, const struct agent_target *old_t,
		const struct agent_target *new_t, bool force_filter, struct agent_apply_result *r)
{
	struct plan p = { 0 };
	memset(r, 0, sizeof *r);
	int rc = plan_build(&p, old_t, new_t, force_filter);
	if (rc < 0)
		snprintf(r->error, sizeof r->error, "planning: %s", strerror(-rc));
	else
		rc = run_plan(ops, ctx, &p, old_t, new_t, NULL, r);
	free(p.v);
	return rc;
}

/* ---- a delta: only what it names ---- */

int agent_target_route_counts(const struct agent_target *t, struct agent_routes *out)
{
	int rc = 0;
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < n_peers(t) && rc == 0; i++)
		for (size_t k = 0; k < t->m->peers[i].addresses.n && rc == 0; k++)
			rc = agent_routes_add(out, &t->m->peers[i].addresses.v[k], 1);
	for (size_t k = 0; t->m && t->accept_routes && k < t->m->routes.n && rc == 0; k++)
		rc = agent_routes_add(out, &t->m->routes.v[k], 1);
	if (rc < 0)
		agent_routes_free(out);
	return rc;
}

size_t agent_peer_index(const struct ctl_netmap *m, uint64_t id)
{
	size_t lo = 0, hi = m->n_peers;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->peers[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct ctl_peer *peer_by_id(const struct ctl_netmap *m, uint64_t id)
{
	size_t i = agent_peer_index(m, id);
	return i < m->n_peers && m->peers[i].id == id ? &m->peers[i] : NULL;
}

bool agent_delta_applies(const struct ctl_netmap *m, const struct ctl_delta *d)
{
	size_t i, k;
	if (d->from_generation != m->generation)
		return false;
	for (i = 0; i < d->n_removed; i++)
		if ((i && d->removed[i - 1] >= d->removed[i]) || !peer_by_id(m, d->removed[i]))
			return false;
	for (k = 0; k < d->n_upsert; k++)
		if (k && d->upsert[k - 1].id >= d->upsert[k].id)
			return false;
	/* No id both removed and upserted. */
	for (i = 0, k = 0; i < d->n_removed && k < d->n_upsert;) {
		if (d->removed[i] == d->upsert[k].id)
			return false;
		if (d->removed[i] < d->upsert[k].id)
			i++;
		else
			k++;
	}
	return true;
}

bool agent_delta_touches_filter(const struct ctl_netmap *m, const struct ctl_delta *d)
{
	return (d->has_filter && !str_equal(m->filter, d->filter)) || (d->has_snat && d->snat != m->snat) ||
	       (d->has_self && !ctl_prefixes_equal(&m->self.addresses, &d->self.addresses));
}

/* The peers' steps, as plan_peers takes them for the whole netmaps:
 * removals in id order (the ids removed, and peers whose key changed),
 * then the upserted peers whose device settings differ. */
static int plan_delta_peers(struct plan *p, const struct ctl_netmap *o, const struct ctl_delta *d)
{
	size_t i = 0, k = 0;
	int rc = 0;
	while (rc == 0 && (i < d->n_removed || k < d->n_upsert)) {
		const struct ctl_peer *op;
		if (k == d->n_upsert || (i < d->n_removed && d->removed[i] < d->upsert[k].id)) {
			op = peer_by_id(o, d->removed[i++]);
		} else {
			const struct ctl_peer *u = &d->upsert[k++];
			op = peer_by_id(o, u->id);
			if (op && !memcmp(op->wg_key, u->wg_key, sizeof u->wg_key))
				op = NULL;
		}
		if (op)
			rc = plan_push(p, &(struct step){ .kind = STEP_PEER_REMOVE, .peer = op });
	}
	for (k = 0; k < d->n_upsert && rc == 0; k++) {
		const struct ctl_peer *u = &d->upsert[k], *prev = peer_by_id(o, u->id);
		if (prev && memcmp(prev->wg_key, u->wg_key, sizeof u->wg_key))
			prev = NULL;
		if (!prev || !peer_device_equal(prev, u))
			rc = plan_push(p, &(struct step){ .kind = STEP_PEER_SET, .peer = u, .prev = prev });
	}
	return rc;
}

/* Route count changes: a prefix, and what to add to its count. */
struct route_change {
	struct ctl_prefix pfx;		/* first: prefix_cmp sorts these */
	int64_t by;
};

struct changes {
	struct route_change *v;
	size_t n, cap;
};

static int changes_push(struct changes *c, const struct ctl_prefixes *x, int64_t by)
{
	if (MEM_RESERVE(c->v, c->cap, c->n + x->n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < x->n; i++)
		c->v[c->n++] = (struct route_change){ x->v[i], by };
	return 0;
}

/* What D does to the counts of the routes O installs: its removed and
 * replaced peers' addresses taken away, its upserted peers' added, the
 * netmap's routes swapped when D carries them and routes are accepted;
 * summed per prefix, sorted. */
static int delta_changes(struct changes *c, const struct agent_target *o, const struct ctl_delta *d)
{
	int rc = 0;
	for (size_t i = 0; i < d->n_removed && rc == 0; i++)
		rc = changes_push(c, &peer_by_id(o->m, d->removed[i])->addresses, -1);
	for (size_t k = 0; k < d->n_upsert && rc == 0; k++) {
		const struct ctl_peer *prev = peer_by_id(o->m, d->upsert[k].id);
		if (prev)
			rc = changes_push(c, &prev->addresses, -1);
		if (rc == 0)
			rc = changes_push(c, &d->upsert[k].addresses, 1);
	}
	if (rc == 0 && o->accept_routes && d->has_routes && (rc = changes_push(c, &o->m->routes, -1)) == 0)
		rc = changes_push(c, &d->routes, 1);
	if (rc < 0 || !c->n)
		return rc;
	qsort(c->v, c->n, sizeof *c->v, prefix_cmp);
	size_t k = 0;
	for (size_t i = 1; i < c->n; i++) {
		if (prefix_cmp(&c->v[k], &c->v[i]))
			c->v[++k] = c->v[i];
		else
			c->v[k].by += c->v[i].by;
	}
	c->n = k + 1;
	return 0;
}

/* The route steps of C over counts R: removals (a count back to 0), then
 * additions (a count leaving 0), each in prefix order as plan_prefixes
 * takes them; R made room for the additions. */
static int plan_delta_routes(struct plan *p, const struct changes *c, struct agent_routes *r)
{
	size_t added = 0;
	int rc = 0;
	for (int add = 0; add <= 1 && rc == 0; add++)
		for (size_t i = 0; i < c->n && rc == 0; i++) {
			uint32_t now = agent_routes_count(r, &c->v[i].pfx);
			bool step = add ? now == 0 && c->v[i].by > 0 : now && (int64_t)now + c->v[i].by == 0;
			if (step) {
				rc = plan_push(p, &(struct step){ .kind = STEP_ROUTE, .pfx = c->v[i].pfx, .add = add });
				added += (size_t)add;
			}
		}
	return rc < 0 ? rc : agent_routes_reserve(r, added);
}

static int plan_delta(struct plan *p, struct changes *c, const struct agent_target *o, const struct ctl_delta *d,
		      struct agent_routes *r)
{
	struct ctl_prefixes oa, na;
	int rc = plan_delta_peers(p, o->m, d);
	if (rc == 0 && d->has_self) {
		if ((rc = self_addresses(o, &oa)) < 0)
			return rc;
		if ((rc = sorted_copy(&d->self.addresses, &na)) == 0)
			rc = plan_prefixes(p, STEP_ADDR, &oa, &na);
		ctl_prefixes_free(&na);
		ctl_prefixes_free(&oa);
	}
	if (rc == 0)
		rc = delta_changes(c, o, d);
	if (rc == 0)
		rc = plan_delta_routes(p, c, r);
	if (rc == 0 && agent_delta_touches_filter(o->m, d))
		rc = plan_push(p, &(struct step){ .kind = STEP_FILTER });
	return rc;
}

int agent_apply_delta(const struct agent_ops *ops, void *ctx, const struct agent_target *old_t,
		      const struct ctl_delta *d, const struct agent_target *new_t, struct agent_routes *routes,
		      struct agent_apply_result *r)
{
	struct plan p = { 0 };
	struct changes c = { 0 };
	memset(r, 0, sizeof *r);
	int rc = plan_delta(&p, &c, old_t, d, routes);
	if (rc < 0)
		snprintf(r->error, sizeof r->error, "planning: %s", strerror(-rc));
	else
		rc = run_plan(ops, ctx, &p, old_t, new_t, d, r);
	/* Room was made for the additions: the counts follow without failing. */
	for (size_t i = 0; i < c.n && rc == 0; i++)
		agent_routes_add(routes, &c.v[i].pfx, c.v[i].by);
	free(c.v);
	free(p.v);
	return rc;
}
