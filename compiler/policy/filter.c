/* filter: from policy and inventory to per-node filters and flow IR. */
#include "filter.h"
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* 100.64.0.0/10 without 100.115.92.0/23 (reserved by Tailscale), and the
 * tailnet's IPv6 ULA prefix. */
static const struct {
	uint8_t family;
	const char *lo, *hi;
} tailnet_ranges[] = {
	{ ADDR_V4, "100.64.0.0", "100.115.91.255" },
	{ ADDR_V4, "100.115.94.0", "100.127.255.255" },
	{ ADDR_V6, "fd7a:115c:a1e0::", "fd7a:115c:a1e0:ffff:ffff:ffff:ffff:ffff" },
};

static const uint8_t default_protos[] = { PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6 };

/* A sorted list of node indices. */
struct nlist {
	size_t *v;
	size_t n, cap;
};

/* What one alias (kind, name) names as nodes, computed once per compile. */
struct memo {
	int kind;
	const char *name;
	uint64_t hash;
	struct nlist nodes;
};

struct addr_node {
	addr_u128 addr;
	size_t node;
};

struct ctx {
	const struct pol_policy *p;
	const struct inv *inv;
	struct filter_set *s;
	bool *marks;    /* scratch: one per node */
	/* Resolution index, built on first use: */
	struct memo *memo;        /* open addressing, kind 0 name NULL: free */
	size_t nmemo, capmemo;
	struct nlist *user_nodes; /* per user: the user's untagged nodes */
	struct addr_node *by_addr[2]; /* nodes' v4 and v6 addresses, sorted */
	size_t nby_addr[2];
	struct nlist route_nodes; /* nodes serving a (non-exit) subnet route */
	struct nlist pick;        /* scratch: (node, destination) pairs, see emit_nodes */
	size_t *by_email, *by_name; /* open addressing of user index + 1, 0: free */
	size_t capusers;
};

static const struct pol_named *named(const struct pol_named *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static bool user_matches(const struct inv *inv, const struct inv_node *n, const struct pol_alias *a)
{
	if (inv_node_tagged(n) || n->user < 0)
		return false;
	const struct inv_user *u = &inv->users[n->user];
	if (a->kind == PA_USER_GLOB) {
		size_t le = u->email ? strlen(u->email) : 0, ld = strlen(a->name);
		return le > ld && strcmp(u->email + le - ld, a->name) == 0;
	}
	if (u->email && strcmp(u->email, a->name) == 0)
		return true;
	/* "login@" names a user by name. */
	size_t ln = strlen(u->name);
	return strncmp(a->name, u->name, ln) == 0 && strcmp(a->name + ln, "@") == 0;
}

static bool node_in_range(const struct inv_node *n, uint8_t family, addr_u128 lo, addr_u128 hi)
{
	if (family == ADDR_V4)
		return n->has_v4 && n->v4 >= lo && n->v4 <= hi;
	return n->has_v6 && n->v6 >= lo && n->v6 <= hi;
}

/* Does alias A name node N (as a node: users, groups, tags, autogroups, addresses)? */
static bool node_matches(const struct ctx *c, const struct pol_alias *a, const struct inv_node *n)
{
	switch (a->kind) {
	case PA_ANY:
		return true;
	case PA_USER:
	case PA_USER_GLOB:
		return user_matches(c->inv, n, a);
	case PA_GROUP: {
		const struct pol_named *g = named(c->p->groups, c->p->ngroups, a->name);
		for (size_t i = 0; g && i < g->nitems; i++)
			if (user_matches(c->inv, n, &g->items[i]))
				return true;
		return false;
	}
	case PA_TAG:
		return inv_node_has_tag(n, a->name);
	case PA_MEMBER:
		return !inv_node_tagged(n) && n->user >= 0 && !n->shared;
	case PA_ROLE:
		return !inv_node_tagged(n) && n->user >= 0 && !n->shared && c->inv->users[n->user].role == a->role;
	case PA_SHARED:
		return n->shared;
	case PA_SYNCED_GROUP:
		return !inv_node_tagged(n) && n->user >= 0 && inv_user_in_group(&c->inv->users[n->user], a->name);
	case PA_TAGGED:
		return inv_node_tagged(n);
	case PA_HOST:
	case PA_ADDR:
		return node_in_range(n, a->family, a->lo, a->hi);
	case PA_IPSET: {
		const struct pol_named *s = named(c->p->ipsets, c->p->nipsets, a->name);
		return s && inv_node_within(n, &s->addrs);
	}
	default:
		return false;
	}
}

bool filter_node_matches(const struct pol_policy *p, const struct inv *inv, const struct pol_alias *a,
			 const struct inv_node *n)
{
	const struct ctx c = { .p = p, .inv = inv };
	return node_matches(&c, a, n);
}

static bool any_matches(const struct ctx *c, const struct pol_alias *v, size_t n, const struct inv_node *node)
{
	for (size_t i = 0; i < n; i++)
		if (node_matches(c, &v[i], node))
			return true;
	return false;
}

/* ---- resolution index: each alias's nodes computed once ---- */

static uint64_t str_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static int nlist_push(struct nlist *l, size_t i)
{
	if (MEM_RESERVE(l->v, l->cap, l->n + 1) < 0)
		return -ENOMEM;
	l->v[l->n++] = i;
	return 0;
}

static int cmp_size(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	return a < b ? -1 : a > b;
}

static void nlist_sort_unique(struct nlist *l)
{
	if (l->n < 2)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_size);
	size_t out = 1;
	for (size_t i = 1; i < l->n; i++)
		if (l->v[i] != l->v[out - 1])
			l->v[out++] = l->v[i];
	l->n = out;
}

/* Insert user U under key K (length LEN) into TABLE (capacity c->capusers). */
static void user_hash_put(const struct ctx *c, size_t *table, const char *k, size_t len, size_t u)
{
	size_t mask = c->capusers - 1;
	for (size_t i = str_hash(k, len) & mask;; i = (i + 1) & mask)
		if (!table[i]) {
			table[i] = u + 1;
			return;
		}
}

/* The per-user node lists and the email and name tables. */
static int user_index(struct ctx *c)
{
	if (c->user_nodes)
		return 0;
	const struct inv *inv = c->inv;
	size_t cap = 16;
	while (cap < 2 * inv->nusers + 2)
		cap *= 2;
	c->capusers = cap;
	c->by_email = calloc(cap, sizeof(*c->by_email));
	c->by_name = calloc(cap, sizeof(*c->by_name));
	c->user_nodes = calloc(inv->nusers + 1, sizeof(*c->user_nodes));
	if (!c->by_email || !c->by_name || !c->user_nodes)
		return -ENOMEM;
	for (size_t u = 0; u < inv->nusers; u++) {
		if (inv->users[u].email)
			user_hash_put(c, c->by_email, inv->users[u].email, strlen(inv->users[u].email), u);
		user_hash_put(c, c->by_name, inv->users[u].name, strlen(inv->users[u].name), u);
	}
	for (size_t i = 0; i < inv->nnodes; i++) {
		const struct inv_node *n = &inv->nodes[i];
		if (n->user < 0 || (size_t)n->user >= inv->nusers || inv_node_tagged(n))
			continue;
		int rc = nlist_push(&c->user_nodes[n->user], i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Push the nodes of user U. */
static int push_user_nodes(const struct ctx *c, size_t u, struct nlist *out)
{
	for (size_t k = 0; k < c->user_nodes[u].n; k++) {
		int rc = nlist_push(out, c->user_nodes[u].v[k]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The nodes of every user whose email ends in SUFFIX ("user:*@domain"). */
static int user_glob_nodes(const struct ctx *c, const char *suffix, struct nlist *out)
{
	size_t ld = strlen(suffix);
	for (size_t u = 0; u < c->inv->nusers; u++) {
		const char *e = c->inv->users[u].email;
		size_t le = e ? strlen(e) : 0;
		if (le <= ld || strcmp(e + le - ld, suffix) != 0)
			continue;
		int rc = push_user_nodes(c, u, out);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The nodes of every user whose email (or, BY_NAME, name) is KEY[0..KLEN). */
static int user_key_nodes(const struct ctx *c, bool by_name, const char *key, size_t klen, struct nlist *out)
{
	const size_t *table = by_name ? c->by_name : c->by_email;
	size_t mask = c->capusers - 1;
	for (size_t i = str_hash(key, klen) & mask; table[i]; i = (i + 1) & mask) {
		size_t u = table[i] - 1;
		const char *k = by_name ? c->inv->users[u].name : c->inv->users[u].email;
		if (strlen(k) != klen || memcmp(k, key, klen) != 0)
			continue;
		int rc = push_user_nodes(c, u, out);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Add the nodes of every user that user_matches() accepts for A. */
static int user_alias_nodes(struct ctx *c, const struct pol_alias *a, struct nlist *out)
{
	if (a->kind == PA_USER_GLOB)
		return user_glob_nodes(c, a->name, out);
	/* By email: every user with exactly this email.  By name: "login@". */
	size_t len = strlen(a->name);
	int rc = user_key_nodes(c, false, a->name, len, out);
	if (rc < 0 || len == 0 || a->name[len - 1] != '@')
		return rc;
	return user_key_nodes(c, true, a->name, len - 1, out);
}

/* The nodes of group NAME's members (users, as user_matches() takes them). */
static int group_nodes(struct ctx *c, const char *name, struct nlist *out)
{
	const struct pol_named *g = named(c->p->groups, c->p->ngroups, name);
	for (size_t i = 0; g && i < g->nitems; i++) {
		struct pol_alias m = g->items[i];
		if (m.kind != PA_USER_GLOB)
			m.kind = PA_USER;
		int rc = user_alias_nodes(c, &m, out);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Every node node_matches() accepts for A, asking each in turn. */
static int matching_nodes(struct ctx *c, const struct pol_alias *a, struct nlist *out)
{
	for (size_t i = 0; i < c->inv->nnodes; i++) {
		if (!node_matches(c, a, &c->inv->nodes[i]))
			continue;
		int rc = nlist_push(out, i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Compute the nodes alias A names (as node_matches() would) into OUT, sorted. */
static int alias_nodes_compute(struct ctx *c, const struct pol_alias *a, struct nlist *out)
{
	int rc = user_index(c);
	if (rc < 0)
		return rc;
	switch (a->kind) {
	case PA_USER:
	case PA_USER_GLOB:
		rc = user_alias_nodes(c, a, out);
		break;
	case PA_GROUP:
		rc = group_nodes(c, a->name, out);
		break;
	default:
		rc = matching_nodes(c, a, out);
		break;
	}
	if (rc < 0)
		return rc;
	nlist_sort_unique(out);
	return 0;
}

/* The nodes alias A names, from the memo; NULL: out of memory. */
static const struct nlist *alias_nodes(struct ctx *c, const struct pol_alias *a)
{
	const char *name = a->name ? a->name : "";
	uint64_t h = str_hash(name, strlen(name)) * 31 + (uint64_t)a->kind;
	if (2 * (c->nmemo + 1) > c->capmemo) {
		size_t cap = c->capmemo ? 2 * c->capmemo : 64;
		struct memo *m = calloc(cap, sizeof(*m));
		if (!m)
			return NULL;
		for (size_t i = 0; i < c->capmemo; i++) {
			if (!c->memo[i].name)
				continue;
			size_t j = c->memo[i].hash & (cap - 1);
			while (m[j].name)
				j = (j + 1) & (cap - 1);
			m[j] = c->memo[i];
		}
		free(c->memo);
		c->memo = m;
		c->capmemo = cap;
	}
	size_t mask = c->capmemo - 1, i = h & mask;
	for (; c->memo[i].name; i = (i + 1) & mask)
		if (c->memo[i].hash == h && c->memo[i].kind == (int)a->kind && strcmp(c->memo[i].name, name) == 0)
			return &c->memo[i].nodes;
	/* The memo keeps its own copy: a resolver (filter_names) outlives the
	 * aliases it was asked about. */
	struct memo e = { .kind = (int)a->kind, .name = strdup(name), .hash = h };
	if (!e.name || alias_nodes_compute(c, a, &e.nodes) < 0) {
		free((char *)e.name);
		free(e.nodes.v);
		return NULL;
	}
	c->memo[i] = e;
	c->nmemo++;
	return &c->memo[i].nodes;
}

static void ctx_free(struct ctx *c)
{
	for (size_t i = 0; i < c->capmemo; i++) {
		free((char *)c->memo[i].name);
		free(c->memo[i].nodes.v);
	}
	free(c->memo);
	for (size_t u = 0; c->user_nodes && u < c->inv->nusers; u++)
		free(c->user_nodes[u].v);
	free(c->user_nodes);
	free(c->by_addr[0]);
	free(c->by_addr[1]);
	free(c->route_nodes.v);
	free(c->pick.v);
	free(c->by_email);
	free(c->by_name);
	free(c->marks);
}

static bool prefix_within(const struct inv_prefix *r, uint8_t family, addr_u128 lo, addr_u128 hi)
{
	return r->family == family && lo <= r->lo && r->hi <= hi;
}

/* The routes node N serves: advertised, and approved by an administrator
 * or by autoApprovers. */
static int served_routes(const struct ctx *c, const struct inv_node *n, struct addr_set *out)
{
	const struct pol_policy *p = c->p;
	for (size_t i = 0; i < n->nadvertised; i++) {
		const struct inv_prefix *r = &n->advertised[i];
		bool ok = false;
		for (size_t j = 0; !ok && j < n->napproved; j++)
			ok = n->approved[j].family == r->family && n->approved[j].lo == r->lo &&
			     n->approved[j].hi == r->hi;
		/* Exit routes are approved by "exitNode", not by "routes". */
		for (size_t j = 0; !ok && !inv_prefix_is_exit(r) && j < p->nroute_approvers; j++) {
			const struct pol_named *a = &p->route_approvers[j];
			ok = prefix_within(r, a->family, a->lo, a->hi) && any_matches(c, a->items, a->nitems, n);
		}
		if (!ok && inv_prefix_is_exit(r))
			ok = any_matches(c, p->exit_approvers.items, p->exit_approvers.nitems, n);
		if (ok) {
			int rc = addr_set_add(out, r->family, r->lo, r->hi);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static bool is_exit_range(const struct addr_range *r)
{
	return r->lo == 0 && r->hi == addr_family_max(r->family);
}

/* The addresses of service NAME (none when the inventory has no such
 * service). */
static int service_addrs(const struct inv *inv, const char *name, struct addr_set *out)
{
	int i = inv_service_by_name(inv, name), rc = 0;
	if (i < 0)
		return 0;
	const struct inv_service *s = &inv->services[i];
	if (s->has_v4)
		rc = addr_set_add(out, ADDR_V4, s->v4, s->v4);
	if (rc == 0 && s->has_v6)
		rc = addr_set_add(out, ADDR_V6, s->v6, s->v6);
	return rc;
}

/* Mark the nodes A names and add the address ranges it names to ADDRS. */
static int resolve(struct ctx *c, const struct pol_alias *a, bool *marks, struct addr_set *addrs)
{
	if (a->kind != PA_HOST && a->kind != PA_ADDR && a->kind != PA_IPSET && a->kind != PA_SERVICE) {
		const struct nlist *l = alias_nodes(c, a);
		if (!l)
			return -ENOMEM;
		for (size_t i = 0; i < l->n; i++)
			marks[l->v[i]] = true;
	}
	switch (a->kind) {
	case PA_ANY:
		return addr_set_add_all(addrs, &c->s->star);
	case PA_HOST:
	case PA_ADDR:
		return addr_set_add(addrs, a->family, a->lo, a->hi);
	case PA_SERVICE:
		return service_addrs(c->inv, a->name, addrs);
	case PA_IPSET: {
		const struct pol_named *s = named(c->p->ipsets, c->p->nipsets, a->name);
		return s ? addr_set_add_all(addrs, &s->addrs) : 0;
	}
	default:
		return 0;
	}
}

static int push_rule(struct filter_node *fn, struct filter_rule *r)
{
	if (MEM_RESERVE(fn->rules, fn->caprules, fn->nrules + 1) < 0)
		return -ENOMEM;
	fn->rules[fn->nrules++] = *r;
	return 0;
}

static int push_dst(struct filter_rule *r, const struct filter_dst *d)
{
	if (MEM_RESERVE(r->dst, r->capdst, r->ndst + 1) < 0)
		return -ENOMEM;
	r->dst[r->ndst++] = *d;
	return 0;
}

static void rule_free(struct filter_rule *r)
{
	addr_set_free(&r->src);
	free(r->dst);
}

/* Does a route SERVED lists (exit routes aside) overlap destination D? */
static bool serves_dst(const struct addr_set *served, const struct filter_dst *d)
{
	for (size_t i = 0; i < served->n; i++) {
		const struct addr_range *r = &served->v[i];
		if (!is_exit_range(r) && r->family == d->family && r->lo <= d->hi && d->lo <= r->hi)
			return true;
	}
	return false;
}

bool filter_via_allows(const struct pol_rule *pr, const struct inv_node *n)
{
	if (pr->nvia == 0)
		return true;
	for (size_t i = 0; i < pr->nvia; i++)
		if (inv_node_has_tag(n, pr->via[i]))
			return true;
	return false;
}

/* Is destination D kept in node FN's filter?  (FN->node NULL: global view.) */
static bool dst_concerns(const struct filter_node *fn, const struct filter_dst *d, const struct pol_rule *pr)
{
	if (!fn->node)
		return true;
	if (!filter_via_allows(pr, fn->node))
		return false;
	return d->any || node_in_range(fn->node, d->family, d->lo, d->hi) || serves_dst(&fn->served, d);
}

/* One destination entry per address of node N, with D's ports and origin. */
static int push_node_dsts(struct filter_rule *r, struct filter_dst d, const struct inv_node *n)
{
	if (n->has_v4) {
		d.family = ADDR_V4;
		d.lo = d.hi = n->v4;
		int rc = push_dst(r, &d);
		if (rc < 0)
			return rc;
	}
	if (n->has_v6) {
		d.family = ADDR_V6;
		d.lo = d.hi = n->v6;
		return push_dst(r, &d);
	}
	return 0;
}

/* The destination entries of one policy destination with the given ports. */
static int dst_entries(struct ctx *c, const struct pol_dst *pd, const struct pol_ports *ports,
		       struct filter_rule *r)
{
	struct filter_dst d = { .ports = *ports, .at = pd->alias.at };
	if (pd->alias.kind == PA_ANY) {
		d.any = true;
		return push_dst(r, &d);
	}
	if (pd->alias.kind == PA_INTERNET || pd->alias.kind == PA_SELF)
		return 0;
	struct addr_set addrs = { 0 };
	memset(c->marks, 0, c->inv->nnodes * sizeof(*c->marks));
	int rc = resolve(c, &pd->alias, c->marks, &addrs);
	if (rc < 0)
		goto free_addrs;
	/* Nodes one by one, each address its own entry, then the ranges. */
	for (size_t i = 0; i < c->inv->nnodes; i++) {
		if (!c->marks[i])
			continue;
		rc = push_node_dsts(r, d, &c->inv->nodes[i]);
		if (rc < 0)
			goto free_addrs;
	}
	for (size_t i = 0; i < addrs.n; i++) {
		d.family = addrs.v[i].family;
		d.lo = addrs.v[i].lo;
		d.hi = addrs.v[i].hi;
		rc = push_dst(r, &d);
		if (rc < 0)
			goto free_addrs;
	}
free_addrs:
	addr_set_free(&addrs);
	return rc;
}

/* The sources of a rule: addresses of the nodes and ranges it names. */
static int rule_sources(struct ctx *c, const struct pol_rule *pr, struct filter_rule *r, bool *marks)
{
	memset(marks, 0, c->inv->nnodes * sizeof(*marks));
	for (size_t i = 0; i < pr->nsrc; i++) {
		if (pr->src[i].kind == PA_DANGER_ALL)
			r->src_all = true;
		int rc = resolve(c, &pr->src[i], marks, &r->src);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < c->inv->nnodes; i++) {
		if (!marks[i])
			continue;
		int rc = inv_node_addrs(&c->inv->nodes[i], &r->src);
		if (rc < 0)
			return rc;
	}
	addr_set_merge(&r->src);
	return 0;
}

/* Rule PR's device posture: of the nodes its sources name (marked, or
 * holding an address among its sources), those satisfying one of its
 * postures stay marked, and their addresses are its only sources.  A
 * range names no device and has no attributes: it is dropped (fail
 * closed), as is every node the posture does not admit. */
static int posture_sources(struct ctx *c, const struct pol_rule *pr, struct filter_rule *r, bool *marks)
{
	if (!pr->npostures)
		return 0;
	for (size_t i = 0; i < c->inv->nnodes; i++) {
		const struct inv_node *n = &c->inv->nodes[i];
		bool named = marks[i] || r->src_all || inv_node_within(n, &r->src);
		marks[i] = named && pol_rule_posture_holds(pr, n->attrs, n->nattrs);
	}
	addr_set_free(&r->src);
	r->src_all = false;
	for (size_t i = 0; i < c->inv->nnodes; i++) {
		int rc = marks[i] ? inv_node_addrs(&c->inv->nodes[i], &r->src) : 0;
		if (rc < 0)
			return rc;
	}
	addr_set_merge(&r->src);
	return 0;
}

/* An empty rule with R's protocols and origin. */
static struct filter_rule rule_like(const struct filter_rule *r)
{
	struct filter_rule out = { .src_all = r->src_all, .nprotos = r->nprotos, .from = r->from,
				   .cap_only = r->cap_only };
	memcpy(out.protos, r->protos, sizeof(out.protos));
	return out;
}

/* OUT, built from R, takes R's sources and joins FN's rules (FN holds it
 * then; on failure the caller still does). */
static int adopt_rule(struct filter_node *fn, struct filter_rule *out, const struct filter_rule *r)
{
	int rc = addr_set_add_all(&out->src, &r->src);
	return rc < 0 ? rc : push_rule(fn, out);
}

/* Reduce rule R (global) to node FN: keep the destinations that concern it. */
static int emit_reduced(struct filter_node *fn, const struct filter_rule *r)
{
	struct filter_rule out = rule_like(r);
	int rc = 0;
	for (size_t i = 0; i < r->ndst; i++) {
		if (!dst_concerns(fn, &r->dst[i], r->from))
			continue;
		rc = push_dst(&out, &r->dst[i]);
		if (rc < 0)
			goto free_out;
	}
	if (out.ndst == 0 || (r->src.n == 0 && !r->src_all))
		goto free_out;
	rc = adopt_rule(fn, &out, r);
	if (rc < 0)
		goto free_out;
	return 0;
free_out:
	rule_free(&out);
	return rc;
}

static int cmp_addr_node(const void *pa, const void *pb)
{
	const struct addr_node *a = pa, *b = pb;
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return a->node < b->node ? -1 : a->node > b->node;
}

/* A service's addresses count as each hosting node's own: the hosts
 * enforce what reaches the service. */
static void index_service_addrs(struct ctx *c)
{
	for (size_t i = 0; i < c->inv->nservices; i++) {
		const struct inv_service *sv = &c->inv->services[i];
		for (size_t j = 0; j < sv->nhosts; j++) {
			int node = inv_node_by_name(c->inv, sv->hosts[j]);
			if (node < 0)
				continue;
			if (sv->has_v4)
				c->by_addr[0][c->nby_addr[0]++] = (struct addr_node){ sv->v4, (size_t)node };
			if (sv->has_v6)
				c->by_addr[1][c->nby_addr[1]++] = (struct addr_node){ sv->v6, (size_t)node };
		}
	}
}

/* The address and route index emit_nodes uses, built once. */
static int node_index(struct ctx *c)
{
	if (c->by_addr[0] || c->inv->nnodes == 0)
		return 0;
	size_t nhosted = 0;
	for (size_t i = 0; i < c->inv->nservices; i++)
		nhosted += c->inv->services[i].nhosts;
	for (int f = 0; f < 2; f++) {
		c->by_addr[f] = malloc((c->inv->nnodes + nhosted + 1) * sizeof(*c->by_addr[f]));
		if (!c->by_addr[f])
			return -ENOMEM;
	}
	index_service_addrs(c);
	for (size_t i = 0; i < c->inv->nnodes; i++) {
		const struct inv_node *n = &c->inv->nodes[i];
		if (n->has_v4)
			c->by_addr[0][c->nby_addr[0]++] = (struct addr_node){ n->v4, i };
		if (n->has_v6)
			c->by_addr[1][c->nby_addr[1]++] = (struct addr_node){ n->v6, i };
		bool serves = false;
		for (size_t j = 0; j < c->s->nodes[i].served.n; j++)
			serves |= !is_exit_range(&c->s->nodes[i].served.v[j]);
		if (!serves)
			continue;
		int rc = nlist_push(&c->route_nodes, i);
		if (rc < 0)
			return rc;
	}
	for (int f = 0; f < 2; f++)
		qsort(c->by_addr[f], c->nby_addr[f], sizeof(*c->by_addr[f]), cmp_addr_node);
	return 0;
}

/* Push the pair (node, destination D) into c->pick, flattened. */
static int pick_push(struct ctx *c, size_t node, size_t d)
{
	int rc = nlist_push(&c->pick, node);
	return rc < 0 ? rc : nlist_push(&c->pick, d);
}

static int cmp_pair(const void *pa, const void *pb)
{
	const size_t *a = pa, *b = pb;
	if (a[0] != b[0])
		return a[0] < b[0] ? -1 : 1;
	return a[1] < b[1] ? -1 : a[1] > b[1];
}

/* Reduce rule R to the destinations D[0..ND) (ascending) for node FN. */
static int emit_picked(struct filter_node *fn, const struct filter_rule *r, const size_t *d, size_t nd,
		       size_t stride)
{
	struct filter_rule out = rule_like(r);
	int rc;
	for (size_t i = 0; i < nd; i++) {
		rc = push_dst(&out, &r->dst[d[i * stride]]);
		if (rc < 0)
			goto free_out;
	}
	rc = adopt_rule(fn, &out, r);
	if (rc < 0)
		goto free_out;
	return 0;
free_out:
	rule_free(&out);
	return rc;
}

/* The first of V[0..N) (sorted) whose address is ADDR or above. */
static size_t addr_node_lower_bound(const struct addr_node *v, size_t n, addr_u128 addr)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Pair destination D of R with every node it concerns by address (its
 * own, or a service's it hosts) or by a served route (dst_concerns' tests,
 * through the index). */
static int pick_dst(struct ctx *c, const struct filter_rule *r, size_t d)
{
	const struct filter_dst *fd = &r->dst[d];
	if (fd->any) {
		for (size_t i = 0; i < c->inv->nnodes; i++) {
			int rc = pick_push(c, i, d);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	int f = fd->family == ADDR_V4 ? 0 : 1;
	const struct addr_node *v = c->by_addr[f];
	for (size_t i = addr_node_lower_bound(v, c->nby_addr[f], fd->lo); i < c->nby_addr[f] && v[i].addr <= fd->hi;
	     i++) {
		int rc = pick_push(c, v[i].node, d);
		if (rc < 0)
			return rc;
	}
	for (size_t k = 0; k < c->route_nodes.n; k++) {
		size_t node = c->route_nodes.v[k];
		if (!serves_dst(&c->s->nodes[node].served, fd))
			continue;
		int rc = pick_push(c, node, d);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One rule per node of the picked (node, destination) pairs, with that
 * node's destinations, for the nodes R's "via" allows. */
static int emit_picks(struct ctx *c, const struct filter_rule *r)
{
	size_t np = c->pick.n / 2;
	size_t *pv = c->pick.v;
	if (np > 1)
		qsort(pv, np, 2 * sizeof(*pv), cmp_pair);
	for (size_t i = 0; i < np;) {
		size_t node = pv[2 * i], j = i, nd = 0;
		/* Unique destinations of this node, compacted in place. */
		for (; j < np && pv[2 * j] == node; j++)
			if (nd == 0 || pv[2 * (i + nd - 1) + 1] != pv[2 * j + 1])
				pv[2 * (i + nd++) + 1] = pv[2 * j + 1];
		struct filter_node *fn = &c->s->nodes[node];
		if (filter_via_allows(r->from, fn->node)) {
			int rc = emit_picked(fn, r, &pv[2 * i + 1], nd, 2);
			if (rc < 0)
				return rc;
		}
		i = j;
	}
	return 0;
}

/* Reduce rule R to every node at once: the same result as emit_reduced()
 * on each node in turn, but finding the nodes each destination concerns
 * (dst_concerns) through the address index instead of asking every node. */
static int emit_nodes(struct ctx *c, const struct filter_rule *r)
{
	if (r->src.n == 0 && !r->src_all)
		return 0;
	int rc = node_index(c);
	if (rc < 0)
		return rc;
	c->pick.n = 0;
	for (size_t d = 0; d < r->ndst; d++) {
		rc = pick_dst(c, r, d);
		if (rc < 0)
			return rc;
	}
	return emit_picks(c, r);
}

/* Fill R, an autogroup:self rule for user U and destination PD: the
 * marked sources among U's own nodes, to each of those nodes. */
static int self_rule_fill(struct ctx *c, size_t u, const struct pol_dst *pd, const struct pol_ipspec *spec,
			  const bool *src_marks, struct filter_rule *r)
{
	for (size_t i = 0; i < c->inv->nnodes; i++) {
		const struct inv_node *n = &c->inv->nodes[i];
		if (n->user != (int)u || inv_node_tagged(n))
			continue;
		int rc = src_marks[i] ? inv_node_addrs(n, &r->src) : 0;
		if (rc < 0)
			return rc;
		for (size_t k = 0; k < spec->nports; k++) {
			struct filter_dst d = { .ports = spec->ports[k], .at = pd->alias.at };
			rc = push_node_dsts(r, d, n);
			if (rc < 0)
				return rc;
		}
	}
	addr_set_merge(&r->src);
	return 0;
}

/* The autogroup:self rule of destination PD for user U, reduced to the
 * global view and to each of U's own nodes. */
static int emit_self_rule(struct ctx *c, size_t u, const struct pol_rule *pr, const struct pol_dst *pd,
			  const struct pol_ipspec *spec, const bool *src_marks, bool cap_only)
{
	struct filter_rule r = { .from = pr, .nprotos = spec->nprotos, .cap_only = cap_only };
	memcpy(r.protos, spec->protos, sizeof(r.protos));
	int rc = self_rule_fill(c, u, pd, spec, src_marks, &r);
	if (rc < 0)
		goto free_rule;
	rc = emit_reduced(&c->s->global, &r);
	if (rc < 0)
		goto free_rule;
	for (size_t i = 0; i < c->inv->nnodes; i++) {
		if (c->inv->nodes[i].user != (int)u || inv_node_tagged(&c->inv->nodes[i]))
			continue;
		rc = emit_reduced(&c->s->nodes[i], &r);
		if (rc < 0)
			goto free_rule;
	}
free_rule:
	rule_free(&r);
	return rc;
}

/* autogroup:self destinations of rule PR with protocols PROTOS: for each
 * user, the marked sources among that user's nodes to those nodes. */
static int emit_self(struct ctx *c, const struct pol_rule *pr, const struct pol_ipspec *spec_shared,
		     const bool *src_marks, bool cap_only)
{
	bool has_self = false;
	for (size_t di = 0; di < pr->ndst; di++)
		has_self |= pr->dst[di].alias.kind == PA_SELF;
	for (size_t u = 0; has_self && u < c->inv->nusers; u++)
		for (size_t di = 0; di < pr->ndst; di++) {
			const struct pol_dst *pd = &pr->dst[di];
			if (pd->alias.kind != PA_SELF)
				continue;
			const struct pol_ipspec *spec = spec_shared ? spec_shared : pd->specs;
			int rc = emit_self_rule(c, u, pr, pd, spec, src_marks, cap_only);
			if (rc < 0)
				return rc;
		}
	return 0;
}

/* One FilterRule (global) for rule PR: with a grant's SPEC, or (SPEC NULL)
 * an ACL's destinations each with its own ports. */
static int compile_part(struct ctx *c, const struct pol_rule *pr, const struct pol_ipspec *spec,
			bool cap_only)
{
	bool *src_marks = calloc(c->inv->nnodes + 1, sizeof(*src_marks));
	if (!src_marks)
		return -ENOMEM;
	struct filter_rule r = { .from = pr, .cap_only = cap_only };
	const struct pol_ipspec *first = spec ? spec : (pr->ndst ? pr->dst[0].specs : NULL);
	if (first) {
		r.nprotos = first->nprotos;
		memcpy(r.protos, first->protos, sizeof(r.protos));
	}
	int rc = rule_sources(c, pr, &r, src_marks);
	if (rc == 0)
		rc = posture_sources(c, pr, &r, src_marks);
	if (rc < 0)
		goto free_rule;
	for (size_t i = 0; i < pr->ndst; i++) {
		const struct pol_ipspec *s = spec ? spec : pr->dst[i].specs;
		for (size_t k = 0; k < s->nports; k++) {
			rc = dst_entries(c, &pr->dst[i], &s->ports[k], &r);
			if (rc < 0)
				goto free_rule;
		}
	}
	rc = emit_reduced(&c->s->global, &r);
	if (rc < 0)
		goto free_rule;
	rc = emit_nodes(c, &r);
	if (rc < 0)
		goto free_rule;
	rc = emit_self(c, pr, spec, src_marks, cap_only);
free_rule:   /* and the source marks */
	rule_free(&r);
	free(src_marks);
	return rc;
}

/* "*": the tailnet's own ranges (the served subnets join them later). */
static int add_tailnet_ranges(struct addr_set *star)
{
	for (size_t i = 0; i < sizeof(tailnet_ranges) / sizeof(tailnet_ranges[0]); i++) {
		enum addr_family f;
		addr_u128 lo, hi;
		addr_parse(tailnet_ranges[i].lo, &f, &lo);
		addr_parse(tailnet_ranges[i].hi, &f, &hi);
		int rc = addr_set_add(star, f, lo, hi);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Each node's served routes; its subnet routes join "*". */
static int add_served_routes(struct ctx *c)
{
	struct filter_set *s = c->s;
	for (size_t i = 0; i < c->inv->nnodes; i++) {
		struct filter_node *fn = &s->nodes[i];
		fn->node = &c->inv->nodes[i];
		int rc = served_routes(c, fn->node, &fn->served);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < fn->served.n; j++) {
			const struct addr_range *r = &fn->served.v[j];
			if (is_exit_range(r))
				continue;
			rc = addr_set_add(&s->star, r->family, r->lo, r->hi);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* The filter rules of policy rule PR: its ACL destinations or each of its
 * grant's "ip" entries, and its capabilities (peers see each other, no
 * packet passes). */
static int compile_rule(struct ctx *c, const struct pol_rule *pr)
{
	size_t nparts = pr->kind == POL_ACL ? 1 : pr->nspecs;
	for (size_t k = 0; k < nparts; k++) {
		int rc = compile_part(c, pr, pr->kind == POL_ACL ? NULL : &pr->specs[k], false);
		if (rc < 0)
			return rc;
	}
	if (!pr->has_app)
		return 0;
	struct pol_ports all = { 0, 65535 };
	struct pol_ipspec any = { .ports = &all, .nports = 1 };
	return compile_part(c, pr, &any, true);
}

int filter_compile(const struct pol_policy *p, const struct inv *inv, struct filter_set *s,
		   struct diag_list *diags)
{
	memset(s, 0, sizeof(*s));
	struct ctx c = { .p = p, .inv = inv, .s = s };
	int rc = -ENOMEM;
	s->nodes = calloc(inv->nnodes + 1, sizeof(*s->nodes));
	c.marks = calloc(inv->nnodes + 1, sizeof(*c.marks));
	if (!s->nodes || !c.marks)
		goto free_ctx;
	s->nnodes = inv->nnodes;
	rc = add_tailnet_ranges(&s->star);
	if (rc < 0)
		goto free_ctx;
	rc = add_served_routes(&c);
	if (rc < 0)
		goto free_ctx;
	addr_set_merge(&s->star);
	for (size_t i = 0; i < p->nrules; i++) {
		rc = compile_rule(&c, &p->rules[i]);
		if (rc < 0)
			goto free_ctx;
	}
free_ctx:
	ctx_free(&c);
	if (rc < 0) {
		diag_error(diags, NULL, "compiling the filters: %s", strerror(-rc));
		filter_set_free(s);
	}
	return rc;
}

static void node_free(struct filter_node *fn)
{
	for (size_t i = 0; i < fn->nrules; i++)
		rule_free(&fn->rules[i]);
	free(fn->rules);
	addr_set_free(&fn->served);
}

void filter_set_free(struct filter_set *s)
{
	for (size_t i = 0; i < s->nnodes; i++)
		node_free(&s->nodes[i]);
	free(s->nodes);
	node_free(&s->global);
	addr_set_free(&s->star);
	memset(s, 0, sizeof(*s));
}

int filter_node_ir(const struct filter_node *fn, struct ir_flows *out)
{
	int rc = filter_node_rules(fn, out);
	return rc < 0 ? rc : ir_canonicalize(out);
}

/* The boxes of rule R from the sources SRC (R's, or every address for a
 * src_all rule): each source range to each destination of its family, for
 * each protocol. */
static int rule_boxes(const struct filter_rule *r, const struct addr_set *src, struct ir_flows *out)
{
	const uint8_t *protos = r->nprotos ? r->protos : default_protos;
	size_t np = r->nprotos ? r->nprotos : sizeof(default_protos);
	for (size_t s = 0; s < src->n; s++)
		for (size_t d = 0; d < r->ndst; d++) {
			const struct filter_dst *fd = &r->dst[d];
			if (!fd->any && fd->family != src->v[s].family)
				continue;
			for (size_t k = 0; k < np; k++) {
				struct ir_box b = {
					.family = src->v[s].family, .proto = protos[k],
					.port_lo = fd->ports.lo, .port_hi = fd->ports.hi,
					.dst_lo = fd->any ? 0 : fd->lo,
					.dst_hi = fd->any ? addr_family_max(src->v[s].family) : fd->hi,
					.src_lo = src->v[s].lo, .src_hi = src->v[s].hi,
				};
				int rc = ir_add(out, &b, fd->at ? &fd->at->loc : NULL);
				if (rc < 0)
					return rc;
			}
		}
	return 0;
}

int filter_node_rules(const struct filter_node *fn, struct ir_flows *out)
{
	struct addr_set all = { 0 };   /* the sources of a src_all rule */
	int rc = addr_set_add(&all, ADDR_V4, 0, addr_family_max(ADDR_V4));
	if (rc < 0)
		goto free_all;
	rc = addr_set_add(&all, ADDR_V6, 0, addr_family_max(ADDR_V6));
	if (rc < 0)
		goto free_all;
	for (size_t i = 0; i < fn->nrules; i++) {
		const struct filter_rule *r = &fn->rules[i];
		if (r->cap_only)
			continue;
		rc = rule_boxes(r, r->src_all ? &all : &r->src, out);
		if (rc < 0)
			goto free_all;
	}
free_all:
	addr_set_free(&all);
	return rc;
}

struct filter_names {
	struct ctx c;
};

struct filter_names *filter_names_new(const struct pol_policy *p, const struct inv *inv, const struct filter_set *s)
{
	struct filter_names *fnm = calloc(1, sizeof(*fnm));
	bool *marks = calloc(inv->nnodes + 1, sizeof(*marks));
	if (!fnm || !marks) {
		free(fnm);
		free(marks);
		return NULL;
	}
	fnm->c = (struct ctx){ .p = p, .inv = inv, .s = (struct filter_set *)s, .marks = marks };
	return fnm;
}

bool filter_names_addrs(struct filter_names *fnm, const struct pol_alias *a, struct addr_set *out)
{
	struct ctx *c = &fnm->c;
	int rc = resolve(c, a, c->marks, out);
	if (rc < 0)
		goto clear_marks;
	for (size_t i = 0; i < c->inv->nnodes; i++) {
		if (!c->marks[i])
			continue;
		rc = inv_node_addrs(&c->inv->nodes[i], out);
		if (rc < 0)
			goto clear_marks;
	}
clear_marks:   /* clean for the next call */
	memset(c->marks, 0, c->inv->nnodes * sizeof(*c->marks));
	return rc == 0 && out->n > 0;
}

void filter_names_free(struct filter_names *fnm)
{
	if (fnm)
		ctx_free(&fnm->c);
	free(fnm);
}

bool filter_alias_addrs(const struct pol_policy *p, const struct inv *inv, const struct filter_set *s,
			const struct pol_alias *a, struct addr_set *out)
{
	struct filter_names *fnm = filter_names_new(p, inv, s);
	bool ok = fnm && filter_names_addrs(fnm, a, out);
	filter_names_free(fnm);
	return ok;
}
