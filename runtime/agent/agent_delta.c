/* agent_delta: apply a delta to a netmap in place. */
#include "agent_delta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent_apply.h"

/* Beyond this many peers named, one merge beats a memmove per peer. */
#define AGENT_DELTA_IN_PLACE_MAX 16

static bool removed_has(const struct ctl_delta *d, size_t *r, uint64_t id)
{
	while (*r < d->n_removed && d->removed[*r] < id)
		++*r;
	return *r < d->n_removed && d->removed[*r] == id;
}

/* VIEW's peers: M's that D keeps and D's upserts, by id, as shallow
 * struct copies. */
static int merge_view(const struct ctl_netmap *m, const struct ctl_delta *d, struct ctl_netmap *view)
{
	size_t i = 0, k = 0, r = 0;
	view->peers = malloc((m->n_peers + d->n_upsert + 1) * sizeof *view->peers);
	if (!view->peers)
		return -ENOMEM;
	view->n_peers = 0;
	while (i < m->n_peers || k < d->n_upsert) {
		const struct ctl_peer *o = i < m->n_peers ? &m->peers[i] : NULL;
		const struct ctl_peer *u = k < d->n_upsert ? &d->upsert[k] : NULL;
		if (o && (!u || o->id < u->id)) {
			if (!removed_has(d, &r, o->id))
				view->peers[view->n_peers++] = *o;
			i++;
		} else {
			view->peers[view->n_peers++] = *u;
			i += o && o->id == u->id;
			k++;
		}
	}
	return 0;
}

int agent_delta_patch_filter(const struct ctl_netmap *m, struct ctl_delta *d)
{
	if (!d->n_patch || d->has_filter)
		return 0;
	int rc = ctl_filter_patch_apply(m->filter, d->patch, d->n_patch, &d->filter);
	if (rc < 0)
		return rc == -EINVAL ? -EBADMSG : rc;
	d->has_filter = true;
	return 0;
}

/* VIEW's members other than its peers: D's where it carries them, else M's. */
static void view_head(const struct ctl_netmap *m, const struct ctl_delta *d, struct ctl_netmap *view)
{
	view->generation = d->generation;
	view->self = d->has_self ? d->self : m->self;
	view->routes = d->has_routes ? d->routes : m->routes;
	view->filter = d->has_filter ? d->filter : m->filter;
	view->snat = d->has_snat ? d->snat : m->snat;
}

int agent_delta_prepare(struct ctl_netmap *m, const struct ctl_delta *d, bool need_view, struct ctl_netmap *view)
{
	memset(view, 0, sizeof *view);
	if (need_view)
		view_head(m, d, view);
	if (d->n_upsert + d->n_removed > AGENT_DELTA_IN_PLACE_MAX)
		return merge_view(m, d, view);
	/* Room for every upsert being new. */
	struct ctl_peer *v = realloc(m->peers, (m->n_peers + d->n_upsert + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	m->peers = v;
	return 0;
}

void agent_delta_view_free(struct ctl_netmap *view)
{
	free(view->peers);
	memset(view, 0, sizeof *view);
}

/* Free peer ID of M, keeping its id so that M stays searchable. */
static void free_peer(struct ctl_netmap *m, uint64_t id)
{
	size_t i = agent_peer_index(m, id);
	if (i < m->n_peers && m->peers[i].id == id) {
		ctl_peer_free(&m->peers[i]);
		m->peers[i].id = id;
	}
}

/* What D removes or replaces in M (whose array the view replaces). */
static void free_replaced(struct ctl_netmap *m, const struct ctl_delta *d)
{
	for (size_t i = 0; i < d->n_removed; i++)
		free_peer(m, d->removed[i]);
	for (size_t k = 0; k < d->n_upsert; k++)
		free_peer(m, d->upsert[k].id);
}

/* One memmove per peer named: removals, then upserts moved in. */
static void commit_in_place(struct ctl_netmap *m, struct ctl_delta *d)
{
	for (size_t i = 0; i < d->n_removed; i++) {
		size_t at = agent_peer_index(m, d->removed[i]);
		ctl_peer_free(&m->peers[at]);
		memmove(&m->peers[at], &m->peers[at + 1], (m->n_peers - at - 1) * sizeof *m->peers);
		m->n_peers--;
	}
	for (size_t k = 0; k < d->n_upsert; k++) {
		size_t at = agent_peer_index(m, d->upsert[k].id);
		if (at < m->n_peers && m->peers[at].id == d->upsert[k].id) {
			ctl_peer_free(&m->peers[at]);
		} else {
			memmove(&m->peers[at + 1], &m->peers[at], (m->n_peers - at) * sizeof *m->peers);
			m->n_peers++;
		}
		m->peers[at] = d->upsert[k];
	}
}

void agent_delta_commit(struct ctl_netmap *m, struct ctl_delta *d, struct ctl_netmap *view)
{
	if (view->peers) {
		free_replaced(m, d);
		free(m->peers);
		m->peers = view->peers;
		m->n_peers = view->n_peers;
		view->peers = NULL;
	} else {
		commit_in_place(m, d);
	}
	/* The upserts are M's now. */
	if (d->n_upsert)
		memset(d->upsert, 0, d->n_upsert * sizeof *d->upsert);
	m->generation = d->generation;
	if (d->has_self) {
		free(m->self.name);
		ctl_prefixes_free(&m->self.addresses);
		m->self = d->self;
		memset(&d->self, 0, sizeof d->self);
	}
	if (d->has_routes) {
		ctl_prefixes_free(&m->routes);
		m->routes = d->routes;
		memset(&d->routes, 0, sizeof d->routes);
	}
	if (d->has_filter) {
		free(m->filter);
		m->filter = d->filter;
		d->filter = NULL;
	}
	if (d->has_snat)
		m->snat = d->snat;
	agent_delta_view_free(view);
}
