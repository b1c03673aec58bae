/* netmap: worlds (one snapshot of the store, compiled), per-node maps and
 * the digests that tell which nodes' maps changed. */
#include "netmap.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_json.h"
#include "load.h"
#include "netmap_approve.h"
#include "netmap_read.h"
#include "routes.h"
#include "ts.h"

#define DIGEST_LEN 32

/* One node as the world keeps it: what its peers are told of it, what it is
 * told of itself, and the digests of both. */
struct nm_node {
	int64_t id;
	int64_t key_expiry;		/* 0: never */
	bool has_v4, has_v6;		/* its own addresses, as the compiler holds them */
	addr_u128 v4, v6;
	char *name;
	uint8_t wg_key[32];
	struct ctl_endpoints endpoints;
	struct ctl_prefixes addresses;	/* /32 and /128 */
	char *filter;			/* compact FilterRule array */
	bool snat;
	struct addr_set served;		/* the routes it serves, exit routes included */
	struct netmap_approvals approvals;
	uint8_t facts[DIGEST_LEN];	/* what a peer is told of it */
	uint8_t view[DIGEST_LEN];	/* its whole map but the generation */
	uint8_t registered[DIGEST_LEN];	/* what its registration wrote (digest_registered) */
	uint8_t input[DIGEST_LEN];	/* all a world reads of its store row (digest_input) */
	uint8_t rules[DIGEST_LEN];	/* what its filter text is made of (digest_rules) */
};

struct nm_id {
	int64_t id;
	size_t index;
};

struct netmap_world {
	struct nm_node *nodes;		/* registration (inventory) order */
	size_t nnodes;
	struct nm_id *by_id;		/* sorted by id */
	struct routes_set rs;		/* peers by inventory index */
	uint8_t basis[DIGEST_LEN];	/* the policy (digest_basis) */
	uint8_t users[DIGEST_LEN];	/* the users (digest_users) */
	size_t nusers;
	bool spent;			/* gave its parts to the next world (netmap_world_next) */
	bool grown;			/* made from the previous world, not afresh */
};

static int registered_of(struct nm_node *n, const struct netmap_node *sn);
static void digest_input(uint8_t out[DIGEST_LEN], const struct netmap_node *sn);
static void digest_rules(uint8_t out[DIGEST_LEN], const struct filter_node *fn);

/* ---- building ---- */

/* A record located in the policy, made to stand alone: its place moves
 * into the message, so that it outlives the policy text. */
static int diags_detach(const struct diag_list *from, struct diag_list *to)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < from->n; i++) {
		const struct diag *d = &from->items[i];
		if (!d->loc.src)
			rc = diag_add(to, d->level, NULL, "%s", d->msg);
		else if (d->loc.line == 0)
			rc = diag_add(to, d->level, NULL, "%s: %s", d->loc.src->name, d->msg);
		else
			rc = diag_add(to, d->level, NULL, "%s:%u:%u: %s", d->loc.src->name, d->loc.line, d->loc.col,
				      d->msg);
	}
	to->truncated |= from->truncated;
	return rc;
}

/* The policy, the inventory of SNAP, the filters. */
static int compile(struct load *l, const struct netmap_snap *snap, const char *text, const char *name,
		   struct diag_list *diags)
{
	struct inv *inv = netmap_snap_inventory(snap, diags);
	int rc = load_policy(l, &(struct load_src){ .name = name, .text = text, .len = strlen(text) }, diags);
	if (!inv)
		return rc < 0 ? rc : -EINVAL;
	int taken = load_inventory_take(l, inv);
	if (rc < 0)
		return rc;
	if (taken < 0)
		return taken;
	return load_compile(l, diags);
}

static int prefix_of(struct ctl_prefix *p, const struct addr_range *r)
{
	unsigned len;
	if (!addr_range_is_prefix(r->family, r->lo, r->hi, &len))
		return -EINVAL;
	*p = (struct ctl_prefix){ .family = r->family, .bits = (uint8_t)len };
	addr_to_bytes(r->family, r->lo, p->addr);
	return 0;
}

static int addresses_of(struct ctl_prefixes *out, const struct netmap_node *sn)
{
	if (!(out->v = calloc(2, sizeof(*out->v))))
		return -ENOMEM;
	out->v[0] = (struct ctl_prefix){ .family = 4, .bits = 32 };
	memcpy(out->v[0].addr, sn->ipv4, 4);
	out->v[1] = (struct ctl_prefix){ .family = 6, .bits = 128 };
	memcpy(out->v[1].addr, sn->ipv6, 16);
	out->n = 2;
	return 0;
}

/* The endpoints that parse ("ip:port", "[ip6]:port"), up to the cap; the
 * store keeps what the node reported. */
static int endpoints_of(struct ctl_endpoints *out, const struct netmap_node *sn)
{
	if (!(out->v = calloc(sn->endpoints.n + 1, sizeof(*out->v))))
		return -ENOMEM;
	for (size_t i = 0; i < sn->endpoints.n && out->n < CTL_MAX_ENDPOINTS; i++)
		if (ctl_endpoint_parse(&out->v[out->n], sn->endpoints.v[i]) == 0)
			out->n++;
	return 0;
}

static char *filter_text(const struct filter_node *fn)
{
	cJSON *rules = ts_node_rules(fn);
	char *text = rules ? cJSON_PrintUnformatted(rules) : NULL;
	cJSON_Delete(rules);
	return text;
}

static int filter_of(struct nm_node *n, const struct filter_node *fn)
{
	digest_rules(n->rules, fn);
	n->filter = filter_text(fn);
	return n->filter ? 0 : -ENOMEM;
}

/* Inventory node I of L, store node SN. */
static int node_fill(struct nm_node *n, const struct load *l, size_t i, const struct netmap_node *sn,
		     struct netmap_approver **approver, const char *policy_name)
{
	n->id = sn->id;
	n->key_expiry = sn->key_expiry;
	n->has_v4 = l->inv->nodes[i].has_v4;
	n->has_v6 = l->inv->nodes[i].has_v6;
	n->v4 = l->inv->nodes[i].v4;
	n->v6 = l->inv->nodes[i].v6;
	memcpy(n->wg_key, sn->wg_key, sizeof(n->wg_key));
	digest_input(n->input, sn);
	n->snat = l->fs.nodes[i].served.n > 0;
	if (!(n->name = strdup(sn->name)) || addr_set_add_all(&n->served, &l->fs.nodes[i].served) < 0)
		return -ENOMEM;
	int rc = addresses_of(&n->addresses, sn);
	if (rc < 0 || (rc = endpoints_of(&n->endpoints, sn)) < 0 || (rc = filter_of(n, &l->fs.nodes[i])) < 0 ||
	    (rc = registered_of(n, sn)) < 0)
		return rc;
	if (!n->snat)
		return 0;
	if (!*approver && !(*approver = netmap_approver_new(l, policy_name)))
		return -ENOMEM;
	return netmap_approver_find(*approver, i, sn, &n->approvals);
}

static void nm_node_free(struct nm_node *n)
{
	free(n->name);
	ctl_endpoints_free(&n->endpoints);
	ctl_prefixes_free(&n->addresses);
	free(n->filter);
	addr_set_free(&n->served);
	netmap_approvals_free(&n->approvals);
}

static int cmp_id(const void *pa, const void *pb)
{
	const struct nm_id *a = pa, *b = pb;
	return a->id < b->id ? -1 : a->id > b->id;
}

static int nodes_fill(struct netmap_world *w, const struct load *l, const struct netmap_snap *snap,
		      const char *policy_name)
{
	struct netmap_approver *approver = NULL;
	int rc = 0;
	w->nodes = calloc(l->inv->nnodes + 1, sizeof(*w->nodes));
	w->by_id = calloc(l->inv->nnodes + 1, sizeof(*w->by_id));
	if (!w->nodes || !w->by_id)
		return -ENOMEM;
	for (size_t i = 0; rc == 0 && i < l->inv->nnodes; i++) {
		w->nnodes++;
		rc = node_fill(&w->nodes[i], l, i, &snap->nodes[l->inv->nodes[i].added], &approver, policy_name);
		w->by_id[i] = (struct nm_id){ w->nodes[i].id, i };
	}
	netmap_approver_free(approver);
	qsort(w->by_id, w->nnodes, sizeof(*w->by_id), cmp_id);
	return rc;
}

/* ---- digests ----
 *
 * BLAKE2b (libsodium) over a small buffer: a view's digest covers every
 * edge of the node, so per world it hashes every peer of every node, and
 * each edge is kept short (a peer's facts digest and one byte when it
 * serves the viewer nothing beyond its own addresses, the usual case). */

struct digest {
	crypto_generichash_state st;
	size_t n;
	uint8_t buf[1024];
};

static void digest_init(struct digest *d)
{
	crypto_generichash_init(&d->st, NULL, 0, DIGEST_LEN);
	d->n = 0;
}

static void digest_put(struct digest *d, const void *p, size_t len)
{
	if (d->n + len > sizeof(d->buf)) {
		crypto_generichash_update(&d->st, d->buf, d->n);
		d->n = 0;
	}
	if (len > sizeof(d->buf)) {
		crypto_generichash_update(&d->st, p, len);
		return;
	}
	memcpy(d->buf + d->n, p, len);
	d->n += len;
}

static void digest_final(struct digest *d, uint8_t out[DIGEST_LEN])
{
	crypto_generichash_update(&d->st, d->buf, d->n);
	crypto_generichash_final(&d->st, out, DIGEST_LEN);
}

static void digest_u64(struct digest *d, uint64_t v)
{
	digest_put(d, &v, sizeof(v));
}

static void digest_bytes(struct digest *d, const void *p, size_t len)
{
	digest_u64(d, len);
	digest_put(d, p, len);
}

static void digest_prefixes(struct digest *d, const struct ctl_prefixes *p)
{
	digest_u64(d, p->n);
	for (size_t i = 0; i < p->n; i++)
		digest_put(d, &p->v[i], sizeof(p->v[i]));
}

static void digest_ranges(struct digest *d, const struct addr_set *s)
{
	digest_u64(d, s->n);
	for (size_t i = 0; i < s->n; i++) {
		uint8_t family = s->v[i].family;
		digest_put(d, &family, 1);
		digest_put(d, &s->v[i].lo, sizeof(s->v[i].lo));
		digest_put(d, &s->v[i].hi, sizeof(s->v[i].hi));
	}
}

/* What a peer is told of N, but the allowed IPs (which depend on the
 * viewer). */
static void digest_facts(struct nm_node *n)
{
	struct digest d;
	digest_init(&d);
	digest_u64(&d, (uint64_t)n->id);
	digest_bytes(&d, n->name, strlen(n->name));
	digest_bytes(&d, n->wg_key, sizeof(n->wg_key));
	digest_u64(&d, n->endpoints.n);
	for (size_t i = 0; i < n->endpoints.n; i++) {
		const struct ctl_endpoint *e = &n->endpoints.v[i];
		digest_u64(&d, (uint64_t)e->family << 16 | e->port);
		digest_put(&d, e->addr, sizeof(e->addr));
	}
	digest_prefixes(&d, &n->addresses);
	digest_u64(&d, NETMAP_KEEPALIVE);
	digest_ranges(&d, &n->served);	/* what it backs up for a viewer */
	digest_final(&d, n->facts);
}

/* Does peer entry RP of node N allow exactly N's own addresses (each
 * single address once) and serve no route? */
static bool own_addresses_only(const struct routes_peer *rp, const struct nm_node *n)
{
	if (rp->primary_routes.n || rp->allowed_ips.n != (size_t)n->has_v4 + n->has_v6)
		return false;
	for (size_t i = 0; i < rp->allowed_ips.n; i++) {
		const struct addr_range *r = &rp->allowed_ips.v[i];
		bool v4 = r->family == ADDR_V4;
		if (r->lo != r->hi || !(v4 ? n->has_v4 : n->has_v6) || r->lo != (v4 ? n->v4 : n->v6))
			return false;
	}
	return rp->allowed_ips.n < 2 || rp->allowed_ips.v[0].family != rp->allowed_ips.v[1].family;
}

static int cmp_text(const void *pa, const void *pb)
{
	return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* What a known node's registration writes to the store and a world reads:
 * its WireGuard key, its endpoints (the store's text, in order) and the
 * routes it advertises (the store's text, sorted here: a set).  ROUTES is
 * sorted in place. */
static void digest_registered(uint8_t out[DIGEST_LEN], const uint8_t wg_key[32], const char *const *endpoints,
			      size_t nendpoints, const char **routes, size_t nroutes)
{
	struct digest d;
	qsort(routes, nroutes, sizeof(*routes), cmp_text);
	digest_init(&d);
	digest_bytes(&d, wg_key, 32);
	digest_u64(&d, nendpoints);
	for (size_t i = 0; i < nendpoints; i++)
		digest_bytes(&d, endpoints[i], strlen(endpoints[i]));
	digest_u64(&d, nroutes);
	for (size_t i = 0; i < nroutes; i++)
		digest_bytes(&d, routes[i], strlen(routes[i]));
	digest_final(&d, out);
}

static int registered_of(struct nm_node *n, const struct netmap_node *sn)
{
	const char **routes = calloc(sn->nroutes + 1, sizeof(*routes));
	size_t nroutes = 0;
	if (!routes)
		return -ENOMEM;
	for (size_t k = 0; k < sn->nroutes; k++)
		if (sn->routes[k].advertised)
			routes[nroutes++] = sn->routes[k].prefix;
	digest_registered(n->registered, sn->wg_key, (const char *const *)sn->endpoints.v, sn->endpoints.n, routes,
			  nroutes);
	free(routes);
	return 0;
}

static void digest_text(struct digest *d, const char *text)
{
	digest_bytes(d, text ? text : "", text ? strlen(text) + 1 : 0);
}

static void digest_strs(struct digest *d, const struct netmap_strs *l)
{
	digest_u64(d, l->n);
	for (size_t i = 0; i < l->n; i++)
		digest_text(d, l->v[i]);
}

/* Everything of SN's store row that a world reads (netmap_snap_inventory,
 * node_fill): a node whose digest is the same is the same node to a world. */
static void digest_input(uint8_t out[DIGEST_LEN], const struct netmap_node *sn)
{
	struct digest d;
	digest_init(&d);
	digest_u64(&d, (uint64_t)sn->id);
	digest_text(&d, sn->name);
	digest_u64(&d, (uint64_t)sn->user_id);
	digest_strs(&d, &sn->tags);
	digest_strs(&d, &sn->endpoints);
	digest_bytes(&d, sn->wg_key, sizeof(sn->wg_key));
	digest_bytes(&d, sn->ipv4, sizeof(sn->ipv4));
	digest_bytes(&d, sn->ipv6, sizeof(sn->ipv6));
	digest_u64(&d, (uint64_t)sn->created);
	digest_u64(&d, (uint64_t)sn->key_expiry);
	digest_u64(&d, sn->nroutes);
	for (size_t i = 0; i < sn->nroutes; i++) {
		digest_text(&d, sn->routes[i].prefix);
		digest_u64(&d, (uint64_t)sn->routes[i].advertised << 8 | (uint64_t)sn->routes[i].state);
		/* the election orders the routers: a new primary is no growth */
		digest_u64(&d, (uint64_t)sn->routes[i].primary_since);
	}
	digest_final(&d, out);
}

/* What every node's map rests on beside the nodes and the users: the
 * policy, its text and the name its diagnostics carry. */
static void digest_basis(uint8_t out[DIGEST_LEN], const char *text, const char *name)
{
	struct digest d;
	digest_init(&d);
	digest_text(&d, text);
	digest_text(&d, name);
	digest_final(&d, out);
}

/* The first N users of SNAP (in id order: a user added later comes after). */
static void digest_users(uint8_t out[DIGEST_LEN], const struct netmap_snap *snap, size_t n)
{
	struct digest d;
	digest_init(&d);
	for (size_t i = 0; i < n; i++) {
		digest_u64(&d, (uint64_t)snap->users[i].id);
		digest_text(&d, snap->users[i].name);
		digest_text(&d, snap->users[i].email);
		digest_text(&d, snap->users[i].role);
	}
	digest_final(&d, out);
}

/* What ts_node_rules makes FN's filter text of: two nodes with the same
 * digest have the same text, and hashing costs less than printing. */
static void digest_rules(uint8_t out[DIGEST_LEN], const struct filter_node *fn)
{
	struct digest d;
	digest_init(&d);
	for (size_t j = 0; j < fn->nrules; j++) {
		const struct filter_rule *r = &fn->rules[j];
		if (r->cap_only)
			continue;
		digest_u64(&d, r->src_all);
		digest_ranges(&d, &r->src);
		digest_u64(&d, r->ndst);
		for (size_t k = 0; k < r->ndst; k++) {
			const struct filter_dst *fd = &r->dst[k];
			digest_u64(&d, (uint64_t)fd->any << 40 | (uint64_t)fd->family << 32 |
					       (uint64_t)fd->ports.lo << 16 | fd->ports.hi);
			digest_put(&d, &fd->lo, sizeof(fd->lo));
			digest_put(&d, &fd->hi, sizeof(fd->hi));
		}
		digest_bytes(&d, r->protos, r->nprotos);
	}
	digest_final(&d, out);
}

/* Everything netmap_for puts in node I's map but the generation: itself,
 * each peer's facts and what that peer serves it, its filter and snat. */
static void digest_view(struct netmap_world *w, size_t i)
{
	const struct nm_node *n = &w->nodes[i];
	const struct routes_view *v = &w->rs.views[i];
	struct digest d;
	digest_init(&d);
	digest_u64(&d, (uint64_t)n->id);
	digest_bytes(&d, n->name, strlen(n->name));
	digest_prefixes(&d, &n->addresses);
	digest_bytes(&d, n->filter, strlen(n->filter));
	digest_u64(&d, n->snat);
	digest_u64(&d, v->npeers);
	for (size_t k = 0; k < v->npeers; k++) {
		const struct nm_node *peer = &w->nodes[v->peers[k].node];
		bool plain = own_addresses_only(&v->peers[k], peer);
		digest_put(&d, peer->facts, DIGEST_LEN);
		digest_put(&d, &plain, 1);
		if (plain)
			continue;
		digest_ranges(&d, &v->peers[k].allowed_ips);
		digest_ranges(&d, &v->peers[k].primary_routes);
	}
	digest_final(&d, w->nodes[i].view);
}

/* ---- the world ---- */

/* The policy text a world compiles (POLICY_TEXT when not NULL: a dry run)
 * and, into NAME, the name its diagnostics carry. */
static const char *policy_of(const struct netmap_snap *snap, const char *policy_text, char name[64])
{
	if (policy_text)
		snprintf(name, 64, "policy (dry run)");
	else if (snap->has_policy)
		snprintf(name, 64, "policy v%lld", (long long)snap->policy_version);
	else
		snprintf(name, 64, "no policy");
	return policy_text ? policy_text : snap->has_policy ? snap->policy_text : "{}";
}

/* Every node's peers, map and digests from the compiled L. */
static int world_fresh(struct netmap_world *w, const struct load *l, const struct netmap_snap *snap,
		       const char *name, struct diag_list *diags)
{
	int rc = routes_compute(l->pol, l->inv, &l->fs, &w->rs, diags);
	if (rc == 0)
		rc = nodes_fill(w, l, snap, name);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < w->nnodes; i++)
		digest_facts(&w->nodes[i]);
	for (size_t i = 0; i < w->nnodes; i++)
		digest_view(w, i);
	return 0;
}

/* ---- growing: the next world from the previous one, when nodes joined ----
 *
 * The common change at scale is a node joining.  When the policy is the
 * same, the users are the same (or more were added), every node of the
 * previous world is unchanged (its store row's digest) and in the same
 * place, and the new nodes come after them, the filters are compiled afresh (cheap) but the route sets grow
 * (routes_grow: the expensive part, every node's peers, is not redone),
 * only the filters whose rules changed are printed again, and only the
 * nodes whose maps may have changed get a new view digest.  The previous
 * world gives its nodes and route sets to the new one; it keeps what
 * netmap_changed and the node queries read.  Anything else, or a new node
 * that serves a route: -EAGAIN, and the world is made afresh. */

struct growing {
	struct routes_growth g;
	char **texts;			/* per old node: its new filter text, NULL: the same */
	bool *touched;			/* per node: its view digest is to be made again */
	struct addr_set joined;		/* the new nodes' addresses */
};

static bool grow_fits(const struct netmap_world *prev, const struct netmap_world *w, const struct load *l,
		      const struct netmap_snap *snap)
{
	uint8_t users[DIGEST_LEN];
	if (prev->spent || memcmp(prev->basis, w->basis, DIGEST_LEN) != 0 || l->inv->nnodes <= prev->nnodes ||
	    snap->nusers < prev->nusers)
		return false;
	/* users may have been added (a new node's owner), not changed */
	digest_users(users, snap, prev->nusers);
	if (memcmp(users, prev->users, DIGEST_LEN) != 0)
		return false;
	for (size_t i = 0; i < prev->nnodes; i++) {
		const struct netmap_node *sn = &snap->nodes[l->inv->nodes[i].added];
		uint8_t input[DIGEST_LEN];
		if (sn->id != prev->nodes[i].id)
			return false;
		digest_input(input, sn);
		if (memcmp(input, prev->nodes[i].input, DIGEST_LEN) != 0)
			return false;
	}
	return true;
}

/* Do the sources of a rule of FN take in an address of JOINED (the joining
 * nodes')?  When nodes join and nothing else changes (grow_fits), an old
 * node's filter changes only by a rule's sources taking their addresses
 * in (a destination of its filter is its own, or a route it serves), and
 * a merged set that took one in holds it afterwards.  So a filter whose
 * sources take in none is the one it was, and is not hashed again
 * (hashing every node's rules was a tenth of a join at 10,000 nodes). */
static bool rules_reach(const struct filter_node *fn, const struct addr_set *joined)
{
	for (size_t j = 0; j < fn->nrules; j++) {
		const struct filter_rule *r = &fn->rules[j];
		if (r->src_all)
			return true;
		for (size_t a = 0; a < joined->n; a++) {
			const struct addr_range *x = &joined->v[a];
			if (addr_set_merged_overlaps(&r->src, x->family, x->lo, x->hi))
				return true;
		}
	}
	return false;
}

/* The addresses of the nodes of L from OLD on (those joining). */
static int joined_addrs(const struct load *l, size_t old, struct addr_set *out)
{
	for (size_t i = old; i < l->inv->nnodes; i++) {
		int rc = inv_node_addrs(&l->inv->nodes[i], out);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Everything that may fail, PREV left as it was. */
static int grow_prepare(struct netmap_world *w, struct netmap_world *prev, const struct load *l,
			const struct netmap_snap *snap, const char *name, struct growing *gr, struct diag_list *diags)
{
	size_t n = l->inv->nnodes, old = prev->nnodes;
	struct netmap_approver *approver = NULL;
	int rc = routes_grow(l->pol, l->inv, &l->fs, &prev->rs, &gr->g, diags);
	if (rc < 0)
		return rc;
	gr->texts = calloc(old + 1, sizeof(*gr->texts));
	gr->touched = calloc(n + 1, sizeof(*gr->touched));
	w->nodes = calloc(n + 1, sizeof(*w->nodes));
	w->by_id = calloc(n + 1, sizeof(*w->by_id));
	if (!gr->texts || !gr->touched || !w->nodes || !w->by_id)
		return -ENOMEM;
	w->nnodes = n;	/* the old nodes' places stay empty until the commit */
	if ((rc = joined_addrs(l, old, &gr->joined)) < 0)
		return rc;
	for (size_t i = 0; i < old; i++) {
		uint8_t rules[DIGEST_LEN];
		if (!rules_reach(&l->fs.nodes[i], &gr->joined))
			continue;
		digest_rules(rules, &l->fs.nodes[i]);
		if (memcmp(rules, prev->nodes[i].rules, DIGEST_LEN) == 0)
			continue;
		if (!(gr->texts[i] = filter_text(&l->fs.nodes[i])))
			return -ENOMEM;
		gr->touched[i] = true;
	}
	for (size_t k = 0; k < gr->g.ngains; k++)
		gr->touched[gr->g.gains[k].viewer] = true;
	for (size_t i = old; rc == 0 && i < n; i++) {
		gr->touched[i] = true;
		rc = node_fill(&w->nodes[i], l, i, &snap->nodes[l->inv->nodes[i].added], &approver, name);
	}
	netmap_approver_free(approver);
	return rc;
}

/* The old nodes move from PREV into W; cannot fail. */
static void grow_commit(struct netmap_world *w, struct netmap_world *prev, const struct load *l,
			struct growing *gr)
{
	routes_grow_commit(&prev->rs, &gr->g);
	w->rs = prev->rs;
	memset(&prev->rs, 0, sizeof(prev->rs));
	for (size_t i = 0; i < prev->nnodes; i++) {
		struct nm_node *o = &prev->nodes[i], *n = &w->nodes[i];
		*n = *o;
		o->name = o->filter = NULL;
		memset(&o->endpoints, 0, sizeof(o->endpoints));
		memset(&o->addresses, 0, sizeof(o->addresses));
		memset(&o->approvals, 0, sizeof(o->approvals));
		memset(&o->served, 0, sizeof(o->served));
		if (!gr->texts[i])
			continue;
		free(n->filter);
		n->filter = gr->texts[i];
		gr->texts[i] = NULL;
		digest_rules(n->rules, &l->fs.nodes[i]);
	}
	prev->spent = true;
	w->grown = true;
	for (size_t i = 0; i < w->nnodes; i++)
		w->by_id[i] = (struct nm_id){ w->nodes[i].id, i };
	qsort(w->by_id, w->nnodes, sizeof(*w->by_id), cmp_id);
	for (size_t i = prev->nnodes; i < w->nnodes; i++)
		digest_facts(&w->nodes[i]);
	for (size_t i = 0; i < w->nnodes; i++)
		if (gr->touched[i])
			digest_view(w, i);
}

static int world_grow(struct netmap_world *w, struct netmap_world *prev, const struct load *l,
		      const struct netmap_snap *snap, const char *name, struct diag_list *diags)
{
	struct growing gr = { 0 };
	if (!grow_fits(prev, w, l, snap))
		return -EAGAIN;
	int rc = grow_prepare(w, prev, l, snap, name, &gr, diags);
	if (rc == 0)
		grow_commit(w, prev, l, &gr);
	routes_growth_free(&gr.g);
	for (size_t i = 0; gr.texts && i < prev->nnodes; i++)
		free(gr.texts[i]);
	free(gr.texts);
	free(gr.touched);
	addr_set_free(&gr.joined);
	return rc;
}

/* ---- the world ---- */

/* W from SNAP: grown from PREV when it can be (not NULL), else afresh.
 * The diagnostics of loading point into the load's copy of the policy:
 * detached into DIAGS before it goes. */
static int world_make(struct netmap_world *w, struct netmap_world *prev, const struct netmap_snap *snap,
		      const char *policy_text, struct diag_list *diags)
{
	struct diag_list local = { .max_errors = diags->max_errors };
	char name[64];
	const char *text = policy_of(snap, policy_text, name);
	struct load *l = load_new();
	int rc = l ? compile(l, snap, text, name, &local) : -ENOMEM;
	digest_basis(w->basis, text, name);
	digest_users(w->users, snap, snap->nusers);
	w->nusers = snap->nusers;
	if (rc == 0)
		rc = prev ? world_grow(w, prev, l, snap, name, &local) : -EAGAIN;
	if (rc == -EAGAIN)
		rc = world_fresh(w, l, snap, name, &local);
	int detached = diags_detach(&local, diags);
	diag_list_free(&local);
	load_free(l);
	return rc < 0 ? rc : detached;
}

static int world_read(struct store *s, struct netmap_world *prev, const char *policy_text, int64_t *gen,
		      struct netmap_world **out, struct diag_list *diags)
{
	struct netmap_snap snap = { 0 };
	struct netmap_world *w = calloc(1, sizeof(*w));
	int rc = w ? netmap_snap_read(s, &snap) : -ENOMEM;
	if (rc < 0)
		diag_error(diags, NULL, "reading the store: %s", strerror(-rc));
	else
		rc = world_make(w, prev, &snap, policy_text, diags);
	if (rc < 0) {
		netmap_world_free(w);
		w = NULL;
	}
	*gen = snap.gen;
	*out = w;
	netmap_snap_free(&snap);
	return rc;
}

int netmap_world_build(struct store *s, const char *policy_text, int64_t *gen, struct netmap_world **out,
		       struct diag_list *diags)
{
	return world_read(s, NULL, policy_text, gen, out, diags);
}

int netmap_world_next(struct netmap_world *prev, struct store *s, int64_t *gen, struct netmap_world **out,
		      struct diag_list *diags)
{
	return world_read(s, prev, NULL, gen, out, diags);
}

bool netmap_world_grown(const struct netmap_world *w)
{
	return w->grown;
}

struct inv *netmap_inventory(struct store *s, struct diag_list *diags, int *rc)
{
	struct netmap_snap snap = { 0 };
	struct inv *inv = NULL;
	*rc = netmap_snap_read(s, &snap);
	if (*rc < 0)
		diag_error(diags, NULL, "reading the store: %s", strerror(-*rc));
	else if (!(inv = netmap_snap_inventory(&snap, diags)))
		*rc = -EINVAL;
	netmap_snap_free(&snap);
	return inv;
}

void netmap_world_free(struct netmap_world *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nnodes; i++)
		nm_node_free(&w->nodes[i]);
	free(w->nodes);
	free(w->by_id);
	routes_set_free(&w->rs);
	free(w);
}

size_t netmap_node_count(const struct netmap_world *w)
{
	return w->nnodes;
}

int64_t netmap_node_id(const struct netmap_world *w, size_t i)
{
	return i < w->nnodes ? w->nodes[i].id : 0;
}

int64_t netmap_node_key_expiry(const struct netmap_world *w, size_t i)
{
	return i < w->nnodes ? w->nodes[i].key_expiry : 0;
}

long netmap_node_index(const struct netmap_world *w, int64_t id)
{
	const struct nm_id key = { .id = id };
	const struct nm_id *hit = w ? bsearch(&key, w->by_id, w->nnodes, sizeof(key), cmp_id) : NULL;
	return hit ? (long)hit->index : -1;
}

/* ---- maps ---- */

static int prefixes_of(struct ctl_prefixes *out, const struct addr_set *s)
{
	if (!(out->v = calloc(s->n + 1, sizeof(*out->v))))
		return -ENOMEM;
	for (; out->n < s->n; out->n++) {
		int rc = prefix_of(&out->v[out->n], &s->v[out->n]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int peer_of(struct ctl_peer *p, const struct nm_node *n, const struct routes_peer *rp)
{
	*p = (struct ctl_peer){ .id = (uint64_t)n->id, .keepalive = NETMAP_KEEPALIVE };
	if (!(p->backup_routes.v = calloc(n->served.n + 1, sizeof(*p->backup_routes.v))))
		return -ENOMEM;
	memcpy(p->wg_key, n->wg_key, sizeof(p->wg_key));
	if (!(p->name = strdup(n->name)))
		return -ENOMEM;
	int rc = ctl_endpoints_copy(&p->endpoints, &n->endpoints);
	if (rc < 0 || (rc = ctl_prefixes_copy(&p->addresses, &n->addresses)) < 0)
		return rc;
	return prefixes_of(&p->allowed_ips, &rp->allowed_ips);
}

static int cmp_peer(const void *pa, const void *pb)
{
	const struct ctl_peer *a = pa, *b = pb;
	return a->id < b->id ? -1 : a->id > b->id;
}

static bool prefixes_have(const struct ctl_prefixes *s, const struct ctl_prefix *p)
{
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(&s->v[i], p, sizeof(*p)) == 0)
			return true;
	return false;
}

/* The primary routes V's peers serve, once each, in peer order. */
static int routes_of(struct ctl_prefixes *out, const struct routes_view *v)
{
	size_t total = 0;
	for (size_t k = 0; k < v->npeers; k++)
		total += v->peers[k].primary_routes.n;
	if (!(out->v = calloc(total + 1, sizeof(*out->v))))
		return -ENOMEM;
	for (size_t k = 0; k < v->npeers; k++)
		for (size_t r = 0; r < v->peers[k].primary_routes.n; r++) {
			struct ctl_prefix p;
			int rc = prefix_of(&p, &v->peers[k].primary_routes.v[r]);
			if (rc < 0)
				return rc;
			if (!prefixes_have(out, &p))
				out->v[out->n++] = p;
		}
	return 0;
}

static bool serves(const struct nm_node *n, const struct addr_range *r)
{
	for (size_t i = 0; i < n->served.n; i++)
		if (n->served.v[i].family == r->family && n->served.v[i].lo == r->lo && n->served.v[i].hi == r->hi)
			return true;
	return false;
}

/* The backups of every route V's peers serve as primaries: the other
 * peers serving the same prefix, in the world's order (the election's:
 * netmap_read), ranked from 1.  PEERS are in V's order. */
static int backups_fill(const struct netmap_world *w, const struct routes_view *v, struct ctl_peer *peers)
{
	for (size_t k = 0; k < v->npeers; k++)
		for (size_t r = 0; r < v->peers[k].primary_routes.n; r++) {
			const struct addr_range *route = &v->peers[k].primary_routes.v[r];
			uint32_t rank = 0;
			for (size_t j = 0; j < v->npeers; j++) {
				struct ctl_backup_routes *b = &peers[j].backup_routes;
				if (j == k || !serves(&w->nodes[v->peers[j].node], route))
					continue;
				b->v[b->n].rank = ++rank;
				int rc = prefix_of(&b->v[b->n].prefix, route);
				if (rc < 0)
					return rc;
				b->n++;
			}
		}
	return 0;
}

static int map_fill(const struct netmap_world *w, size_t i, struct ctl_netmap *out)
{
	const struct nm_node *n = &w->nodes[i];
	const struct routes_view *v = &w->rs.views[i];
	out->self.id = (uint64_t)n->id;
	out->snat = n->snat;
	if (!(out->self.name = strdup(n->name)) || !(out->filter = strdup(n->filter)))
		return -ENOMEM;
	int rc = ctl_prefixes_copy(&out->self.addresses, &n->addresses);
	if (rc < 0 || (rc = routes_of(&out->routes, v)) < 0)
		return rc;
	if (!(out->peers = calloc(v->npeers + 1, sizeof(*out->peers))))
		return -ENOMEM;
	for (size_t k = 0; k < v->npeers; k++) {
		out->n_peers++;
		if ((rc = peer_of(&out->peers[k], &w->nodes[v->peers[k].node], &v->peers[k])) < 0)
			return rc;
	}
	if ((rc = backups_fill(w, v, out->peers)) < 0)
		return rc;
	qsort(out->peers, out->n_peers, sizeof(*out->peers), cmp_peer);
	return 0;
}

int netmap_for(const struct netmap_world *w, int64_t id, uint64_t generation, struct ctl_netmap *out)
{
	long i = netmap_node_index(w, id);
	memset(out, 0, sizeof(*out));
	if (w->spent)
		return -ESTALE;
	if (i < 0)
		return -ENOENT;
	out->generation = generation;
	int rc = map_fill(w, (size_t)i, out);
	if (rc < 0)
		ctl_netmap_free(out);
	return rc;
}

bool netmap_changed(const struct netmap_world *old_w, const struct netmap_world *new_w, int64_t id)
{
	long a = netmap_node_index(old_w, id), b = netmap_node_index(new_w, id);
	if (a < 0 || b < 0)
		return true;
	return memcmp(old_w->nodes[a].view, new_w->nodes[b].view, DIGEST_LEN) != 0;
}

bool netmap_node_registered_as(const struct netmap_world *w, int64_t id, const struct ctl_register *reg)
{
	long i = netmap_node_index(w, id);
	size_t ne = reg->endpoints.n, nr = reg->routes.n;
	char (*text)[64] = calloc(ne + nr + 1, sizeof(*text));
	const char **items = calloc(ne + nr + 1, sizeof(*items));
	uint8_t digest[DIGEST_LEN];
	bool same = false;
	if (i < 0 || !text || !items)
		goto free_text;
	for (size_t k = 0; k < ne; k++)
		ctl_endpoint_format(text[k], &reg->endpoints.v[k]);
	for (size_t k = 0; k < nr; k++)
		ctl_prefix_format(text[ne + k], &reg->routes.v[k]);
	for (size_t k = 0; k < ne + nr; k++)
		items[k] = text[k];
	digest_registered(digest, reg->wg_key, items, ne, items + ne, nr);
	same = memcmp(digest, w->nodes[i].registered, DIGEST_LEN) == 0;
free_text:
	free(items);
	free(text);
	return same;
}

int netmap_auto_approvals(const struct netmap_world *w, int64_t id, netmap_approval_fn *fn, void *arg)
{
	long i = netmap_node_index(w, id);
	if (i < 0)
		return -ENOENT;
	const struct netmap_approvals *ap = &w->nodes[i].approvals;
	for (size_t k = 0; k < ap->n; k++) {
		int rc = fn(id, ap->v[k].prefix, ap->v[k].approver, arg);
		if (rc)
			return rc;
	}
	return 0;
}
