/* agent_apply: plan the steps (a list), run them, undo on failure. */
#include "agent_apply.h"

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
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct step *v = realloc(p->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
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

static int self_addresses(const struct agent_target *t, struct ctl_prefixes *out)
{
	memset(out, 0, sizeof *out);
	int rc = t->m ? prefixes_append(out, &t->m->self.addresses) : 0;
	if (rc == 0)
		prefixes_sort_unique(out);
	return rc;
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

static int run_step(const struct agent_ops *ops, void *ctx, const struct step *s, const struct agent_target *n)
{
	switch (s->kind) {
	case STEP_PEER_SET: return ops->peer_set(ctx, s->peer);
	case STEP_PEER_REMOVE: return ops->peer_remove(ctx, s->peer);
	case STEP_ADDR: return ops->addr(ctx, &s->pfx, s->add);
	case STEP_ROUTE: return ops->route(ctx, &s->pfx, s->add);
	case STEP_FILTER: return ops->filter(ctx, n);
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
	case STEP_FILTER: return ops->filter(ctx, o);
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

int agent_apply(const struct agent_ops *ops, void *ctx, const struct agent_target *old_t,
		const struct agent_target *new_t, bool force_filter, struct agent_apply_result *r)
{
	struct plan p = { 0 };
	size_t i;
	memset(r, 0, sizeof *r);
	int rc = plan_build(&p, old_t, new_t, force_filter);
	if (rc < 0) {
		snprintf(r->error, sizeof r->error, "planning: %s", strerror(-rc));
		goto free_plan;
	}
	for (i = 0; i < p.n; i++) {
		if ((rc = run_step(ops, ctx, &p.v[i], new_t)) < 0)
			break;
		count(r, &p.v[i]);
	}
	if (rc < 0) {
		describe(r->error, sizeof r->error, &p.v[i], rc);
		while (i-- > 0)
			if (undo_step(ops, ctx, &p.v[i], old_t) < 0)
				r->undo_failed++;
	}
free_plan:
	free(p.v);
	return rc;
}
