/* routes: peers, allowed IPs and primary routes per node.
 *
 * The rules below were learnt from the recordings of Tailscale's control
 * server in testdata/tailscale-captures (the `peers` of all 435 accepted
 * cases) and each was checked against all of them with small scripts.
 * "Filter" means a node's own filter as filter_compile reduces it (the
 * rules whose destinations are its addresses or the subnet routes it
 * serves), app-capability grants included (cap_only rules: they make
 * peers, not packets).
 *
 *  1. Serving.  A node serves an advertised route that an administrator
 *     approved (approved_routes) or that autoApprovers approve for it:
 *     "routes" entries approve subnet routes inside their prefix, never an
 *     exit route (0.0.0.0/0, ::/0, even under a "0.0.0.0/0" entry);
 *     "exitNode" approves exit routes.  A node's reach is its addresses
 *     plus the subnet routes it serves (all of them, primary or not).
 *  2. Peers.  A sees B (A != B) when B's filter has a rule whose sources
 *     overlap A's reach, or A's filter one whose sources overlap B's reach:
 *     either may send to the other, from its addresses or its subnets.
 *     Exit routes add nothing to reach (see 5 for autogroup:internet); a
 *     node no rule connects sees nobody.
 *  3. Primary.  Of the nodes serving the same prefix (exactly: parent and
 *     child prefixes are different routes), the one registered first
 *     (inventory order, which is `created` order in the recordings) is the
 *     primary.  A non-primary router advertises nothing to anyone: its
 *     peers see only its addresses.
 *  4. Which route a viewer A is shown, per subnet route R:
 *     - A serves R itself: the primary's R, unless A is the primary (then
 *       no other router's R);
 *     - else, when A may send to R through some router of R (that router's
 *       filter has a rule from A's reach to R; with "via" only the via-tagged
 *       routers carry such rules): R at the first such router in
 *       registration order.  With via this may be a non-primary router, so
 *       different viewers are shown different routers for one prefix;
 *     - else, when A's own filter accepts packets from R (R must be routed
 *       back): R at the primary;
 *     - else R is not shown.
 *     R is shown only if that router is a peer of A.  primary_routes lists
 *     exactly the subnet routes shown in allowed_ips.
 *  5. Exit routes that a node serves are in its allowed_ips for every peer
 *     that sees it, and never in primary_routes.  The recordings serve exit
 *     routes only under a "*" -> "*:*" rule, so the next is ours, after
 *     Tailscale's documentation (autogroup:internet is reached through exit
 *     nodes): a rule whose destination is autogroup:internet makes its
 *     sources peers of every exit node (of the via-tagged ones with "via").
 *     No recording contradicts it: where a source is granted
 *     autogroup:internet, no node serves an exit route.
 *  6. allowed_ips: the peer's addresses (/32, /128), then the subnet routes
 *     shown (in the order it advertises them), then its exit routes.
 * Not modelled: HA failover (a primary going offline): the recordings have
 * every node online. */
#include "routes.h"
#include "mem.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A rule as the route logic needs it: who may send, to what. */
struct prule {
	struct addr_set src, dst;
	bool src_all, dst_any;
};

struct node_info {
	struct addr_set addrs;      /* /32 and /128 */
	struct addr_set reach;      /* addresses and served subnet routes */
	struct addr_set subnets;    /* served subnet routes, advertised order */
	size_t *subnet_route;      /* per subnet: index into ctx.routes */
	struct addr_set exits;      /* served exit routes */
	struct prule *rules;
	size_t nrules, caprules;
	struct prule all;          /* every rule's sources, merged: whom it takes from */
};

struct route {                     /* one prefix and the nodes serving it */
	struct addr_range r;
	size_t *servers;           /* registration order, its elected primary (if any) first */
	size_t nservers;
	struct prule *to;          /* per server: sources of its rules to this route */
};

struct ctx {
	const struct pol_policy *p;
	const struct inv *inv;
	const struct filter_set *fs;
	struct node_info *ni;
	struct route *routes;
	size_t nroutes, caproutes;
	size_t *pairs;             /* (viewer, peer) pairs, sorted, unique */
	size_t npairs, cappairs;
	size_t first;              /* nodes before it that serve nothing have no rules here */
};

#define NONE ((size_t)-1)

static bool range_is_exit(const struct addr_range *r)
{
	return r->lo == 0 && r->hi == addr_family_max(r->family);
}

static bool aset_overlaps_aset(const struct addr_set *a, const struct addr_set *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (addr_set_merged_overlaps(a, b->v[i].family, b->v[i].lo, b->v[i].hi))
			return true;
	return false;
}

static struct prule *push_prule(struct node_info *ni)
{
	if (MEM_RESERVE(ni->rules, ni->caprules, ni->nrules + 1) < 0)
		return NULL;
	struct prule *r = &ni->rules[ni->nrules++];
	memset(r, 0, sizeof(*r));
	return r;
}

static void prule_free(struct prule *r)
{
	addr_set_free(&r->src);
	addr_set_free(&r->dst);
}

/* Node I's compiled filter rules, cap_only ones included. */
static int rules_from_filter(struct ctx *c, size_t i)
{
	const struct filter_node *fn = &c->fs->nodes[i];
	for (size_t k = 0; k < fn->nrules; k++) {
		const struct filter_rule *fr = &fn->rules[k];
		struct prule *r = push_prule(&c->ni[i]);
		if (!r || addr_set_add_all(&r->src, &fr->src) < 0)
			return -ENOMEM;
		r->src_all = fr->src_all;
		for (size_t d = 0; d < fr->ndst; d++) {
			if (fr->dst[d].any)
				r->dst_any = true;
			else if (addr_set_add(&r->dst, fr->dst[d].family, fr->dst[d].lo, fr->dst[d].hi) < 0)
				return -ENOMEM;
		}
		/* Only overlaps are asked of these (takes): merged, they bisect. */
		addr_set_merge(&r->src);
		addr_set_merge(&r->dst);
	}
	return 0;
}

/* The sources of policy rule PR into R. */
static void rule_sources(const struct ctx *c, const struct pol_rule *pr, struct prule *r)
{
	for (size_t s = 0; s < pr->nsrc; s++) {
		if (pr->src[s].kind == PA_DANGER_ALL)
			r->src_all = true;
		else
			filter_alias_addrs(c->p, c->inv, c->fs, &pr->src[s], &r->src);
	}
}

/* autogroup:internet is reached through exit nodes: a rule granting it
 * lets its sources use every exit node (with "via", the via-tagged ones),
 * so node I, when it serves exit routes, takes packets from them there.
 * filter_compile keeps no filter rule for autogroup:internet. */
static int rules_for_internet(struct ctx *c, size_t i)
{
	const struct inv_node *n = &c->inv->nodes[i];
	for (size_t g = 0; c->ni[i].exits.n && g < c->p->nrules; g++) {
		const struct pol_rule *pr = &c->p->rules[g];
		bool internet = false;
		for (size_t d = 0; d < pr->ndst; d++)
			internet |= pr->dst[d].alias.kind == PA_INTERNET;
		if (!internet || !filter_via_allows(pr, n))
			continue;
		struct prule *r = push_prule(&c->ni[i]);
		if (!r)
			return -ENOMEM;
		rule_sources(c, pr, r);
		if (addr_set_add_all(&r->dst, &c->ni[i].exits) < 0)
			return -ENOMEM;
		addr_set_merge(&r->src);
		addr_set_merge(&r->dst);
	}
	return 0;
}

/* Node I's addresses, served routes and reach. */
static int node_setup(struct ctx *c, size_t i)
{
	const struct inv_node *n = &c->inv->nodes[i];
	struct node_info *ni = &c->ni[i];
	const struct addr_set *served = &c->fs->nodes[i].served;
	int rc = inv_node_addrs(n, &ni->addrs);
	if (rc < 0)
		return rc;
	if (addr_set_add_all(&ni->reach, &ni->addrs) < 0)
		return -ENOMEM;
	for (size_t k = 0; k < served->n; k++) {
		const struct addr_range *r = &served->v[k];
		bool exit = range_is_exit(r);
		struct addr_set *to = exit ? &ni->exits : &ni->subnets;
		if (addr_set_contains(to, r->family, r->lo, r->hi))
			continue;
		if (addr_set_add(to, r->family, r->lo, r->hi) < 0)
			return -ENOMEM;
		if (!exit && addr_set_add(&ni->reach, r->family, r->lo, r->hi) < 0)
			return -ENOMEM;
	}
	if (ni->subnets.n) {
		ni->subnet_route = calloc(ni->subnets.n, sizeof(*ni->subnet_route));
		if (!ni->subnet_route)
			return -ENOMEM;
	}
	return 0;
}

/* Is node N the elected primary of R (inv_node_set_route_primary)? */
static bool elected_for(const struct inv_node *n, const struct addr_range *r)
{
	for (size_t k = 0; k < n->napproved; k++) {
		const struct inv_prefix *p = &n->approved[k];
		if (p->primary && p->family == r->family && p->lo == r->lo && p->hi == r->hi)
			return true;
	}
	return false;
}

/* Register node I as a server of each of its subnet routes: after the
 * others, or first when it is the route's elected primary (an election
 * is per prefix, so a relay may lead one route and back up another). */
static int index_routes(struct ctx *c, size_t i)
{
	struct node_info *ni = &c->ni[i];
	for (size_t k = 0; k < ni->subnets.n; k++) {
		const struct addr_range *r = &ni->subnets.v[k];
		size_t j = 0;
		while (j < c->nroutes && !(c->routes[j].r.family == r->family && c->routes[j].r.lo == r->lo &&
					   c->routes[j].r.hi == r->hi))
			j++;
		if (j == c->nroutes) {
			if (MEM_RESERVE(c->routes, c->caproutes, c->nroutes + 1) < 0)
				return -ENOMEM;
			c->routes[j] = (struct route){ .r = *r };
			c->routes[j].servers = calloc(c->inv->nnodes, sizeof(size_t));
			if (!c->routes[j].servers)
				return -ENOMEM;
			c->nroutes++;
		}
		struct route *rt = &c->routes[j];
		rt->servers[rt->nservers++] = i;
		if (rt->nservers > 1 && elected_for(&c->inv->nodes[i], r)) {
			memmove(rt->servers + 1, rt->servers, (rt->nservers - 1) * sizeof(*rt->servers));
			rt->servers[0] = i;
		}
		ni->subnet_route[k] = j;
	}
	return 0;
}

/* Does a rule summarised in U (the union of some rules' sources) take
 * packets from FROM? */
static bool takes(const struct prule *u, const struct addr_set *from)
{
	return u->src_all || aset_overlaps_aset(&u->src, from);
}

static bool takes_from_range(const struct node_info *ni, const struct addr_range *r)
{
	struct addr_set one = { .v = (struct addr_range *)r, .n = 1, .cap = 1 };
	return takes(&ni->all, &one);
}

/* Add rule R's sources to summary U. */
static int summary_add(struct prule *u, const struct prule *r)
{
	u->src_all |= r->src_all;
	return addr_set_add_all(&u->src, &r->src);
}

/* Per node, the sources of all its rules; per route and server, the sources
 * of the server's rules to that route: so that whether a node's filter
 * takes packets from a set (rules 2 and 4) is one question, not one per rule. */
static int summarise(struct ctx *c)
{
	for (size_t i = 0; i < c->inv->nnodes; i++) {
		struct node_info *ni = &c->ni[i];
		for (size_t k = 0; k < ni->nrules; k++)
			if (summary_add(&ni->all, &ni->rules[k]) < 0)
				return -ENOMEM;
		addr_set_merge(&ni->all.src);
	}
	for (size_t j = 0; j < c->nroutes; j++) {
		struct route *rt = &c->routes[j];
		rt->to = calloc(rt->nservers + 1, sizeof(*rt->to));
		if (!rt->to)
			return -ENOMEM;
		for (size_t s = 0; s < rt->nservers; s++) {
			const struct node_info *ni = &c->ni[rt->servers[s]];
			for (size_t k = 0; k < ni->nrules; k++) {
				const struct prule *r = &ni->rules[k];
				bool to_route = r->dst_any ||
						addr_set_merged_overlaps(&r->dst, rt->r.family, rt->r.lo, rt->r.hi);
				if (to_route && summary_add(&rt->to[s], r) < 0)
					return -ENOMEM;
			}
			addr_set_merge(&rt->to[s].src);
		}
	}
	return 0;
}

static int pair_push(struct ctx *c, size_t a, size_t b)
{
	if (a == b)
		return 0;
	if (MEM_RESERVE(c->pairs, c->cappairs, c->npairs + 2) < 0)
		return -ENOMEM;
	c->pairs[c->npairs++] = a;
	c->pairs[c->npairs++] = b;
	return 0;
}

/* Node B takes packets from node A: each is the other's peer (rule 2). */
static int peers_both(struct ctx *c, size_t a, size_t b)
{
	int rc = pair_push(c, a, b);
	return rc < 0 ? rc : pair_push(c, b, a);
}

static int cmp_size(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	return a < b ? -1 : a > b;
}

/* The pairs sorted by viewer, then peer, and unique: bucketed by viewer
 * (a counting sort), each viewer's peers deduplicated with a mark per node,
 * then sorted; one sort of every pair cost more than the rest of the
 * route computation at thousands of nodes. */
static int pairs_sort(struct ctx *c)
{
	size_t n = c->inv->nnodes, np = c->npairs / 2, out = 0;
	size_t *start = calloc(n + 2, sizeof(*start)), *peer = malloc((np + 1) * sizeof(*peer));
	size_t *mark = malloc((n + 1) * sizeof(*mark));
	int rc = -ENOMEM;
	if (!start || !peer || !mark)
		goto free_scratch;
	for (size_t i = 0; i < c->npairs; i += 2)
		start[c->pairs[i] + 2]++;
	for (size_t v = 2; v < n + 2; v++)
		start[v] += start[v - 1];
	/* start[v + 1] is viewer v's cursor while filling, its end after */
	for (size_t i = 0; i < c->npairs; i += 2)
		peer[start[c->pairs[i] + 1]++] = c->pairs[i + 1];
	for (size_t i = 0; i < n; i++)
		mark[i] = NONE;
	for (size_t v = 0; v < n; v++) {
		size_t first = out;
		for (size_t k = start[v]; k < start[v + 1]; k++)
			if (mark[peer[k]] != v) {
				mark[peer[k]] = v;
				peer[out++] = peer[k];
			}
		qsort(peer + first, out - first, sizeof(*peer), cmp_size);
		for (size_t k = first; k < out; k++) {
			c->pairs[2 * k] = v;
			c->pairs[2 * k + 1] = peer[k];
		}
	}
	c->npairs = 2 * out;
	rc = 0;
free_scratch:
	free(mark);
	free(peer);
	free(start);
	return rc;
}

struct addr_node {
	uint8_t family;
	addr_u128 addr;
	size_t node;
};

static int cmp_addr_node(const void *pa, const void *pb)
{
	const struct addr_node *a = pa, *b = pb;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return a->node < b->node ? -1 : a->node > b->node;
}

/* The first of the NA sorted entries of IDX at or above FAMILY/ADDR. */
static size_t first_at_or_above(const struct addr_node *idx, size_t na, uint8_t family, addr_u128 addr)
{
	size_t lo = 0, hi = na;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (idx[mid].family < family || (idx[mid].family == family && idx[mid].addr < addr))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Every (viewer, peer) pair of rule 2, found from the sources each node
 * takes packets from: nodes by their addresses (bisection), and nodes
 * serving subnet routes by their whole reach. */
static int peer_pairs(struct ctx *c)
{
	size_t n = c->inv->nnodes, na = 0;
	int rc = 0;
	struct addr_node *idx = malloc((2 * n + 1) * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < c->ni[i].addrs.n; k++)
			idx[na++] = (struct addr_node){ c->ni[i].addrs.v[k].family, c->ni[i].addrs.v[k].lo, i };
	qsort(idx, na, sizeof(*idx), cmp_addr_node);
	for (size_t b = 0; b < n; b++) {
		const struct prule *u = &c->ni[b].all;
		if (u->src_all) {
			for (size_t a = 0; a < n; a++)
				if ((rc = peers_both(c, a, b)) < 0)
					goto free_idx;
			continue;
		}
		for (size_t k = 0; k < u->src.n; k++) {
			const struct addr_range *r = &u->src.v[k];
			for (size_t i = first_at_or_above(idx, na, r->family, r->lo);
			     i < na && idx[i].family == r->family && idx[i].addr <= r->hi; i++)
				if ((rc = peers_both(c, idx[i].node, b)) < 0)
					goto free_idx;
		}
	}
	for (size_t a = 0; a < n; a++)
		for (size_t b = 0; c->ni[a].subnets.n && b < n; b++)
			if (takes(&c->ni[b].all, &c->ni[a].reach) && (rc = peers_both(c, a, b)) < 0)
				goto free_idx;
free_idx:
	free(idx);
	return rc < 0 ? rc : pairs_sort(c);
}

/* Which router viewer A is shown route RT at, or NONE (rule 4). */
static size_t shown_at(const struct ctx *c, size_t a, const struct route *rt)
{
	size_t primary = rt->servers[0];
	for (size_t s = 0; s < rt->nservers; s++)
		if (rt->servers[s] == a)
			return a == primary ? NONE : primary;
	for (size_t s = 0; s < rt->nservers; s++)
		if (takes(&rt->to[s], &c->ni[a].reach))
			return rt->servers[s];
	return takes_from_range(&c->ni[a], &rt->r) ? primary : NONE;
}

/* Room for exactly N ranges in the empty set S: a world holds an entry per
 * (viewer, peer), and growing from mem_reserve's eight would be four times
 * the memory. */
static int aset_room(struct addr_set *s, size_t n)
{
	if (!n)
		return 0;
	if (!(s->v = malloc(n * sizeof(*s->v))))
		return -ENOMEM;
	s->cap = n;
	return 0;
}

/* Peer B's entry PE (zeroed), CHOSEN being where the viewer is shown each
 * route. */
static int peer_fill(const struct ctx *c, struct routes_peer *pe, size_t b, const size_t *chosen)
{
	pe->node = b;
	const struct node_info *ni = &c->ni[b];
	size_t shown = 0;
	for (size_t k = 0; k < ni->subnets.n; k++)
		shown += chosen[ni->subnet_route[k]] == b;
	if (aset_room(&pe->allowed_ips, ni->addrs.n + shown + ni->exits.n) < 0 ||
	    aset_room(&pe->primary_routes, shown) < 0)
		return -ENOMEM;
	if (addr_set_add_all(&pe->allowed_ips, &ni->addrs) < 0)
		return -ENOMEM;
	for (size_t k = 0; k < ni->subnets.n; k++) {
		if (chosen[ni->subnet_route[k]] != b)
			continue;
		const struct addr_range *r = &ni->subnets.v[k];
		if (addr_set_add(&pe->allowed_ips, r->family, r->lo, r->hi) < 0 ||
		    addr_set_add(&pe->primary_routes, r->family, r->lo, r->hi) < 0)
			return -ENOMEM;
	}
	return addr_set_add_all(&pe->allowed_ips, &ni->exits);
}

static int add_peer(struct ctx *c, struct routes_view *v, size_t b, const size_t *chosen)
{
	if (MEM_RESERVE(v->peers, v->cap, v->npeers + 1) < 0)
		return -ENOMEM;
	struct routes_peer *pe = &v->peers[v->npeers++];
	memset(pe, 0, sizeof(*pe));
	return peer_fill(c, pe, b, chosen);
}

/* Viewer A: its peers (rule 2) and what each shows it (rules 4-6). */
static int view(struct ctx *c, size_t a, struct routes_view *v, size_t *chosen, size_t *pair)
{
	for (size_t r = 0; r < c->nroutes; r++)
		chosen[r] = shown_at(c, a, &c->routes[r]);
	/* The pairs are sorted: A's peers, ascending, start at *PAIR.  Room
	 * for all of them at once: growing each view by doubling (realloc,
	 * page faults) was about a seventh of a policy change's samples at
	 * 10,000 nodes. */
	size_t end = *pair;
	while (end < c->npairs && c->pairs[end] == a)
		end += 2;
	if (MEM_RESERVE(v->peers, v->cap, v->npeers + (end - *pair) / 2) < 0)
		return -ENOMEM;
	for (; *pair < end; *pair += 2) {
		int rc = add_peer(c, v, c->pairs[*pair + 1], chosen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void ctx_free(struct ctx *c)
{
	for (size_t i = 0; c->ni && i < c->inv->nnodes; i++) {
		struct node_info *ni = &c->ni[i];
		addr_set_free(&ni->addrs);
		addr_set_free(&ni->reach);
		addr_set_free(&ni->subnets);
		addr_set_free(&ni->exits);
		free(ni->subnet_route);
		for (size_t k = 0; k < ni->nrules; k++)
			prule_free(&ni->rules[k]);
		free(ni->rules);
		prule_free(&ni->all);
	}
	free(c->ni);
	for (size_t r = 0; r < c->nroutes; r++) {
		for (size_t s = 0; c->routes[r].to && s < c->routes[r].nservers; s++)
			prule_free(&c->routes[r].to[s]);
		free(c->routes[r].to);
		free(c->routes[r].servers);
	}
	free(c->routes);
	free(c->pairs);
}

/* Does node I keep its rules and summary in C (else they are read from
 * its filter when asked: growing asks only whether it takes from the new
 * nodes, and copying every node's rules cost more than the rest)? */
static bool has_rules(const struct ctx *c, size_t i)
{
	return i >= c->first || c->ni[i].subnets.n || c->ni[i].exits.n;
}

/* Does node B's filter take packets from FROM? */
static bool node_takes(const struct ctx *c, size_t b, const struct addr_set *from)
{
	if (has_rules(c, b))
		return takes(&c->ni[b].all, from);
	const struct filter_node *fn = &c->fs->nodes[b];
	for (size_t k = 0; k < fn->nrules; k++)
		if (fn->rules[k].src_all || aset_overlaps_aset(&fn->rules[k].src, from))
			return true;
	return false;
}

/* Every node's addresses and reach, every route's servers, the rules and
 * summaries of the nodes has_rules names (C->first 0: all); *CHOSEN room
 * for one entry per route. */
static int ctx_setup(struct ctx *c, size_t **chosen)
{
	const size_t n = c->inv->nnodes;
	int rc;
	if (c->fs->nnodes != n)
		return -EINVAL;
	if (!(c->ni = calloc(n + 1, sizeof(*c->ni))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if ((rc = node_setup(c, i)) < 0)
			return rc;
	for (size_t i = 0; i < n; i++)
		if ((has_rules(c, i) && ((rc = rules_from_filter(c, i)) < 0 || (rc = rules_for_internet(c, i)) < 0)) ||
		    (rc = index_routes(c, i)) < 0)
			return rc;
	if (!(*chosen = calloc(c->nroutes + 1, sizeof(**chosen))))
		return -ENOMEM;
	return summarise(c);
}

int routes_compute(const struct pol_policy *p, const struct inv *inv, const struct filter_set *fs,
		   struct routes_set *out, struct diag_list *diags)
{
	struct ctx c = { .p = p, .inv = inv, .fs = fs };
	size_t *chosen = NULL;
	int rc = -ENOMEM;
	memset(out, 0, sizeof(*out));
	out->views = calloc(inv->nnodes + 1, sizeof(*out->views));
	if (!out->views)
		goto out;
	out->nviews = inv->nnodes;
	if ((rc = ctx_setup(&c, &chosen)) < 0 || (rc = peer_pairs(&c)) < 0)
		goto out;
	size_t pair = 0;
	for (size_t a = 0; a < inv->nnodes; a++)
		if ((rc = view(&c, a, &out->views[a], chosen, &pair)) < 0)
			goto out;
out:
	free(chosen);
	ctx_free(&c);
	if (rc < 0) {
		diag_error(diags, NULL, "computing the route sets: %s", strerror(-rc));
		routes_set_free(out);
	}
	return rc;
}

/* ---- growing by nodes that joined ----
 *
 * Nodes N (the new ones, last in registration order) that serve no route
 * and whose addresses lie in no served subnet route change no other pair's
 * answer: a rule gaining N's addresses as sources takes from another node
 * only if N's addresses overlap that node's reach (its addresses, its
 * served subnet routes), and which router shows a viewer a route asks the
 * same of the viewer's reach and of the route.  So the old nodes keep their
 * peers and what each shows them, and each gains the new nodes it pairs
 * with (rule 2), shown their addresses only; the new nodes get views of
 * their own.  Anything else is -EAGAIN: compute afresh. */

/* Does node M of C touch what rule 2 and rule 4 ask of the others? */
static bool grow_blocked(const struct ctx *c, size_t m)
{
	const struct node_info *ni = &c->ni[m];
	if (ni->subnets.n || ni->exits.n)
		return true;
	for (size_t r = 0; r < c->nroutes; r++)
		if (addr_set_overlaps(&ni->addrs, c->routes[r].r.family, c->routes[r].r.lo, c->routes[r].r.hi))
			return true;
	return false;
}

static bool paired(const struct ctx *c, size_t a, size_t b)
{
	return a != b && (node_takes(c, b, &c->ni[a].reach) || node_takes(c, a, &c->ni[b].reach));
}

/* New node M's view, and the entries old viewers gain for it (their
 * CHOSEN is irrelevant: M serves no route, so NONE does). */
static int grow_node(struct ctx *c, struct routes_growth *g, size_t m, size_t *chosen)
{
	struct routes_view *v = &g->views[m - g->first];
	int rc = 0;
	for (size_t r = 0; r < c->nroutes; r++)
		chosen[r] = shown_at(c, m, &c->routes[r]);
	for (size_t b = 0; rc == 0 && b < c->inv->nnodes; b++)
		if (paired(c, m, b))
			rc = add_peer(c, v, b, chosen);
	for (size_t r = 0; r < c->nroutes; r++)
		chosen[r] = NONE;
	for (size_t a = 0; rc == 0 && a < g->first; a++) {
		if (!paired(c, a, m))
			continue;
		if (MEM_RESERVE(g->gains, g->capgains, g->ngains + 1) < 0)
			return -ENOMEM;
		struct routes_gain *gn = &g->gains[g->ngains++];
		memset(gn, 0, sizeof(*gn));
		gn->viewer = a;
		rc = peer_fill(c, &gn->peer, m, chosen);
	}
	return rc;
}

/* Room in RS for the new views and for each old view's gains, so that
 * committing cannot fail.  Growing the arrays leaves RS as it was. */
static int grow_reserve(struct routes_set *rs, const struct routes_growth *g, size_t n)
{
	struct routes_view *views = realloc(rs->views, (n + 1) * sizeof(*views));
	if (!views)
		return -ENOMEM;
	rs->views = views;
	for (size_t k = 0; k < g->ngains; k++) {
		struct routes_view *v = &rs->views[g->gains[k].viewer];
		size_t more = 1;
		while (k + 1 < g->ngains && g->gains[k + 1].viewer == g->gains[k].viewer)
			k++, more++;
		if (MEM_RESERVE(v->peers, v->cap, v->npeers + more) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int cmp_gain(const void *pa, const void *pb)
{
	const struct routes_gain *a = pa, *b = pb;
	if (a->viewer != b->viewer)
		return a->viewer < b->viewer ? -1 : 1;
	return a->peer.node < b->peer.node ? -1 : a->peer.node > b->peer.node;
}

int routes_grow(const struct pol_policy *p, const struct inv *inv, const struct filter_set *fs,
		struct routes_set *rs, struct routes_growth *g, struct diag_list *diags)
{
	struct ctx c = { .p = p, .inv = inv, .fs = fs };
	size_t *chosen = NULL;
	int rc = -EAGAIN;
	memset(g, 0, sizeof(*g));
	g->first = c.first = rs->nviews;
	g->nnew = inv->nnodes > rs->nviews ? inv->nnodes - rs->nviews : 0;
	if (!g->nnew)
		goto out;
	if ((rc = ctx_setup(&c, &chosen)) < 0)
		goto out;
	rc = -EAGAIN;
	for (size_t m = g->first; m < inv->nnodes; m++)
		if (grow_blocked(&c, m))
			goto out;
	rc = -ENOMEM;
	if (!(g->views = calloc(g->nnew, sizeof(*g->views))))
		goto out;
	for (size_t m = g->first; m < inv->nnodes; m++)
		if ((rc = grow_node(&c, g, m, chosen)) < 0)
			goto out;
	/* by viewer, each viewer's gains in inventory order, as views are */
	qsort(g->gains, g->ngains, sizeof(*g->gains), cmp_gain);
	rc = grow_reserve(rs, g, inv->nnodes);
out:
	free(chosen);
	ctx_free(&c);
	if (rc < 0) {
		if (rc != -EAGAIN)
			diag_error(diags, NULL, "computing the route sets: %s", strerror(-rc));
		routes_growth_free(g);
	}
	return rc;
}

void routes_grow_commit(struct routes_set *rs, struct routes_growth *g)
{
	for (size_t k = 0; k < g->nnew; k++)
		rs->views[g->first + k] = g->views[k];
	rs->nviews = g->first + g->nnew;
	for (size_t k = 0; k < g->ngains; k++) {
		struct routes_view *v = &rs->views[g->gains[k].viewer];
		v->peers[v->npeers++] = g->gains[k].peer;
	}
	free(g->views);
	free(g->gains);
	memset(g, 0, sizeof(*g));
}

static void peer_free(struct routes_peer *pe)
{
	addr_set_free(&pe->allowed_ips);
	addr_set_free(&pe->primary_routes);
}

void routes_growth_free(struct routes_growth *g)
{
	for (size_t k = 0; g->views && k < g->nnew; k++) {
		for (size_t j = 0; j < g->views[k].npeers; j++)
			peer_free(&g->views[k].peers[j]);
		free(g->views[k].peers);
	}
	for (size_t k = 0; k < g->ngains; k++)
		peer_free(&g->gains[k].peer);
	free(g->views);
	free(g->gains);
	memset(g, 0, sizeof(*g));
}

void routes_set_free(struct routes_set *rs)
{
	for (size_t i = 0; rs->views && i < rs->nviews; i++) {
		struct routes_view *v = &rs->views[i];
		for (size_t k = 0; k < v->npeers; k++)
			peer_free(&v->peers[k]);
		free(v->peers);
	}
	free(rs->views);
	memset(rs, 0, sizeof(*rs));
}

const struct routes_peer *routes_find(const struct routes_set *rs, size_t viewer, size_t peer)
{
	if (viewer >= rs->nviews)
		return NULL;
	const struct routes_view *v = &rs->views[viewer];
	for (size_t k = 0; k < v->npeers; k++)
		if (v->peers[k].node == peer)
			return &v->peers[k];
	return NULL;
}

char *routes_prefix_format(const struct addr_range *r, char *buf)
{
	unsigned len = r->family == ADDR_V4 ? 32 : 128;
	char a[ADDR_STRLEN];
	if (!addr_range_is_prefix(r->family, r->lo, r->hi, &len))
		return addr_range_format(r->family, r->lo, r->hi, buf);
	snprintf(buf, ADDR_RANGE_STRLEN, "%s/%u", addr_format(r->family, r->lo, a), len);
	return buf;
}

static cJSON *prefixes_json(const struct addr_set *s)
{
	cJSON *arr = cJSON_CreateArray();
	char buf[ADDR_RANGE_STRLEN];
	for (size_t i = 0; arr && i < s->n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(routes_prefix_format(&s->v[i], buf)));
	return arr;
}

int routes_write(FILE *out, const struct inv *inv, const struct routes_set *rs, const char *only)
{
	cJSON *root = cJSON_CreateObject();
	int rc = -ENOMEM;
	if (!root)
		return -ENOMEM;
	for (size_t i = 0; i < rs->nviews; i++) {
		if (only && strcmp(only, inv->nodes[i].name) != 0)
			continue;
		cJSON *node = cJSON_AddObjectToObject(root, inv->nodes[i].name);
		for (size_t k = 0; node && k < rs->views[i].npeers; k++) {
			const struct routes_peer *pe = &rs->views[i].peers[k];
			cJSON *peer = cJSON_AddObjectToObject(node, inv->nodes[pe->node].name);
			if (!peer)
				break;
			cJSON_AddItemToObject(peer, "allowed_ips", prefixes_json(&pe->allowed_ips));
			cJSON_AddItemToObject(peer, "primary_routes", prefixes_json(&pe->primary_routes));
		}
	}
	char *text = cJSON_Print(root);
	if (text)
		rc = fprintf(out, "%s\n", text) < 0 ? -EIO : 0;
	free(text);
	cJSON_Delete(root);
	return rc;
}

int routes_print(FILE *out, const struct pol_policy *p, const struct inv *inv, const struct filter_set *fs,
		 const char *only)
{
	struct diag_list diags = { 0 };
	struct routes_set rs;
	int rc = routes_compute(p, inv, fs, &rs, &diags);
	diag_print(stderr, &diags);
	diag_list_free(&diags);
	if (rc < 0)
		return rc;
	rc = routes_write(out, inv, &rs, only);
	routes_set_free(&rs);
	return rc;
}
