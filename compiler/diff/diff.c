/* diff: the changes between two policies (and inventories), described
 * with the names of the inventory; set operations are the IR's (ir_setops.c). */
#include "diff.h"
#include "routes.h"
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers: text and address sets ---- */

/* "A, B": A and B joined (either may be NULL or empty); A is freed. */
static char *join(char *a, const char *b)
{
	char *s = NULL;
	if (!a || !*a) {
		s = strdup(b ? b : "");
	} else if (!b || !*b) {
		return a;
	} else if (asprintf(&s, "%s, %s", a, b) < 0)
		s = NULL;
	free(a);
	return s;
}

static bool node_has(const struct inv_node *n, const struct addr_set *s)
{
	return (n->has_v4 && addr_set_contains(s, ADDR_V4, n->v4, n->v4)) ||
	       (n->has_v6 && addr_set_contains(s, ADDR_V6, n->v6, n->v6));
}

/* Is every range of A in FAMILY inside S?  Does A have any in FAMILY? */
static bool aset_within(const struct addr_set *a, uint8_t family, const struct addr_set *s, bool *any)
{
	*any = false;
	for (size_t i = 0; i < a->n; i++) {
		if (a->v[i].family != family)
			continue;
		*any = true;
		if (!addr_set_contains(s, family, a->v[i].lo, a->v[i].hi))
			return false;
	}
	return true;
}

static bool aset_overlaps_aset(const struct addr_set *a, uint8_t family, const struct addr_set *s)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].family == family && addr_set_overlaps(s, family, a->v[i].lo, a->v[i].hi))
			return true;
	return false;
}

/* Add to OUT what of R lies outside [LO, HI] of FAMILY. */
static int add_outside(struct addr_set *out, const struct addr_range *r, uint8_t family, addr_u128 lo, addr_u128 hi)
{
	if (r->family != family || r->hi < lo || r->lo > hi)
		return addr_set_add(out, r->family, r->lo, r->hi);
	if (r->lo < lo) {
		int rc = addr_set_add(out, family, r->lo, lo - 1);
		if (rc < 0)
			return rc;
	}
	return r->hi > hi ? addr_set_add(out, family, hi + 1, r->hi) : 0;
}

/* S minus [LO, HI] of FAMILY, in place. */
static int aset_remove(struct addr_set *s, uint8_t family, addr_u128 lo, addr_u128 hi)
{
	struct addr_set out = { 0 };
	for (size_t i = 0; i < s->n; i++) {
		int rc = add_outside(&out, &s->v[i], family, lo, hi);
		if (rc < 0) {
			addr_set_free(&out);
			return rc;
		}
	}
	addr_set_free(s);
	*s = out;
	return 0;
}

/* S minus every range of FROM in FAMILY, in place. */
static int aset_remove_all(struct addr_set *s, uint8_t family, const struct addr_set *from)
{
	for (size_t k = 0; k < from->n; k++) {
		if (from->v[k].family != family)
			continue;
		int rc = aset_remove(s, family, from->v[k].lo, from->v[k].hi);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- naming sources: principals of one side ---- */

struct principal {
	char *name;               /* as a policy writes it: "group:eng" */
	char *text;               /* with members: "group:eng (alice, bob)" */
	struct addr_set addrs;     /* merged */
};

/* A principal by the lowest of its addresses in one family: the only
 * principals that can lie within a set are those whose lowest address does,
 * so a cover looks up a few instead of walking every one (every node is a
 * principal: a walk per changed node was quadratic). */
struct lowest {
	addr_u128 lo;
	size_t pr;                /* index into namer.v */
};

struct namer {
	const struct load *s;
	struct principal *v;
	size_t n, cap;
	struct lowest *by_lo[2];   /* IPv4, IPv6: sorted by lo, then pr */
	size_t nby_lo[2];
	bool built;
	struct filter_names *fnm;  /* while building */
};

static void namer_free(struct namer *nm)
{
	for (size_t i = 0; i < nm->n; i++) {
		free(nm->v[i].name);
		free(nm->v[i].text);
		addr_set_free(&nm->v[i].addrs);
	}
	free(nm->v);
	free(nm->by_lo[0]);
	free(nm->by_lo[1]);
	memset(nm, 0, sizeof(*nm));
}

/* The members of a principal for people: users by name (untagged nodes),
 * tagged nodes by name; a user principal lists its devices. */
static char *members_text(const struct inv *inv, const struct addr_set *addrs, bool devices)
{
	char *out = strdup("");
	bool *seen = calloc(inv->nusers + 1, sizeof(*seen));
	if (!seen || !out) {
		free(seen);
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < inv->nnodes; i++) {
		const struct inv_node *n = &inv->nodes[i];
		if (!node_has(n, addrs))
			continue;
		const char *name = n->name;
		if (!devices && !inv_node_tagged(n) && n->user >= 0) {
			if (seen[n->user])
				continue;
			seen[n->user] = true;
			name = inv->users[n->user].name;
		}
		out = join(out, name);
		if (!out)
			break;
	}
	free(seen);
	return out;
}

/* "NAME (MEMBERS)", or NAME when there are none. */
static char *principal_text(const char *name, const char *members)
{
	char *s = NULL;
	if (!*members)
		return strdup(name);
	return asprintf(&s, "%s (%s)", name, members) < 0 ? NULL : s;
}

static int namer_add(struct namer *nm, const char *name, const struct pol_alias *a, const struct addr_set *given,
		     const char *members)
{
	struct principal pr = { 0 };
	char *mem = NULL;
	int rc = 0;
	if (!given && !filter_names_addrs(nm->fnm, a, &pr.addrs))
		goto free_principal;   /* names no address: never a description */
	rc = -ENOMEM;
	if (given && addr_set_add_all(&pr.addrs, given) < 0)
		goto free_principal;
	addr_set_merge(&pr.addrs);
	mem = members ? strdup(members)
		      : members_text(nm->s->inv, &pr.addrs, a && (a->kind == PA_USER || a->kind == PA_USER_GLOB));
	pr.name = strdup(name);
	if (!mem || !pr.name)
		goto free_principal;
	pr.text = principal_text(name, mem);
	if (!pr.text)
		goto free_principal;
	if (MEM_RESERVE(nm->v, nm->cap, nm->n + 1) < 0)
		goto free_principal;
	nm->v[nm->n++] = pr;
	memset(&pr, 0, sizeof(pr));   /* NM holds it now */
	rc = 0;
free_principal:
	free(mem);
	free(pr.name);
	free(pr.text);
	addr_set_free(&pr.addrs);
	return rc;
}

static int namer_add_alias(struct namer *nm, enum pol_alias_kind kind, const char *name, const char *members)
{
	struct pol_alias a = { .kind = kind, .name = (char *)name };
	return namer_add(nm, name, &a, NULL, members);
}

static bool tag_listed(const struct pol_policy *p, const char *tag)
{
	for (size_t i = 0; i < p->ntag_owners; i++)
		if (strcmp(p->tag_owners[i].name, tag) == 0)
			return true;
	return false;
}

/* "*" and the autogroups naming people and tagged nodes. */
static int namer_add_autogroups(struct namer *nm)
{
	static const struct {
		enum pol_alias_kind kind;
		const char *name, *members;
	} broad[] = {
		{ PA_ANY, "*", "anyone" },
		{ PA_MEMBER, "autogroup:member", NULL },
		{ PA_TAGGED, "autogroup:tagged", NULL },
	};
	for (size_t i = 0; i < sizeof(broad) / sizeof(broad[0]); i++) {
		int rc = namer_add_alias(nm, broad[i].kind, broad[i].name, broad[i].members);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Each of the N names of V as an alias of KIND. */
static int namer_add_named(struct namer *nm, enum pol_alias_kind kind, const struct pol_named *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = namer_add_alias(nm, kind, v[i].name, NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The policy's groups. */
static int namer_add_groups(struct namer *nm)
{
	return namer_add_named(nm, PA_GROUP, nm->s->pol->groups, nm->s->pol->ngroups);
}

/* The tags tagOwners lists, then those only nodes carry, each once. */
static int namer_add_tags(struct namer *nm)
{
	const struct pol_policy *p = nm->s->pol;
	const struct inv *inv = nm->s->inv;
	int rc = namer_add_named(nm, PA_TAG, p->tag_owners, p->ntag_owners);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < inv->nnodes; i++)
		for (size_t t = 0; t < inv->nodes[i].ntags; t++) {
			const char *tag = inv->nodes[i].tags[t];
			bool dup = tag_listed(p, tag);
			for (size_t j = 0; !dup && j < nm->n; j++)
				dup = strcmp(nm->v[j].name, tag) == 0;
			if (dup)
				continue;
			rc = namer_add_alias(nm, PA_TAG, tag, NULL);
			if (rc < 0)
				return rc;
		}
	return 0;
}

/* Users, by email, or as "login@" without one. */
static int namer_add_users(struct namer *nm)
{
	const struct inv *inv = nm->s->inv;
	for (size_t i = 0; i < inv->nusers; i++) {
		char *name = NULL;
		if (inv->users[i].email)
			name = strdup(inv->users[i].email);
		else if (asprintf(&name, "%s@", inv->users[i].name) < 0)
			name = NULL;
		int rc = name ? namer_add_alias(nm, PA_USER, name, NULL) : -ENOMEM;
		free(name);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The policy's ipsets. */
static int namer_add_ipsets(struct namer *nm)
{
	return namer_add_named(nm, PA_IPSET, nm->s->pol->ipsets, nm->s->pol->nipsets);
}

/* The policy's hosts, their range as members. */
static int namer_add_hosts(struct namer *nm)
{
	const struct pol_policy *p = nm->s->pol;
	for (size_t i = 0; i < p->nhosts; i++) {
		char r[ADDR_RANGE_STRLEN];
		struct pol_alias a = { .kind = PA_HOST, .name = p->hosts[i].name, .family = p->hosts[i].family,
				       .lo = p->hosts[i].lo, .hi = p->hosts[i].hi };
		int rc = namer_add(nm, a.name, &a, NULL, addr_range_format(a.family, a.lo, a.hi, r));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Node N by name, its tags or its owner ("alice's device") as members. */
static int namer_add_node(struct namer *nm, const struct inv_node *n)
{
	struct addr_set addrs = { 0 };
	char *mem = NULL;
	int rc = inv_node_addrs(n, &addrs);
	if (rc < 0)
		goto free_parts;
	rc = -ENOMEM;
	for (size_t t = 0; t < n->ntags; t++)
		if (!(mem = join(mem, n->tags[t])))
			goto free_parts;
	if (n->ntags == 0 && n->user >= 0 && asprintf(&mem, "%s's device", nm->s->inv->users[n->user].name) < 0) {
		mem = NULL;
		goto free_parts;
	}
	rc = addrs.n > 0 ? namer_add(nm, n->name, NULL, &addrs, mem ? mem : "") : 0;
free_parts:
	free(mem);
	addr_set_free(&addrs);
	return rc;
}

static int namer_add_nodes(struct namer *nm)
{
	for (size_t i = 0; i < nm->s->inv->nnodes; i++) {
		int rc = namer_add_node(nm, &nm->s->inv->nodes[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static size_t family_slot(uint8_t family)
{
	return family == ADDR_V6;
}

static int cmp_lowest(const void *pa, const void *pb)
{
	const struct lowest *a = pa, *b = pb;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return a->pr < b->pr ? -1 : a->pr > b->pr;
}

/* The by_lo indexes of every principal built. */
static int namer_index(struct namer *nm)
{
	for (size_t f = 0; f < 2; f++)
		if (!(nm->by_lo[f] = calloc(nm->n + 1, sizeof(*nm->by_lo[f]))))
			return -ENOMEM;
	for (size_t i = 0; i < nm->n; i++) {
		bool have[2] = { false, false };
		addr_u128 lo[2] = { 0, 0 };
		const struct addr_set *a = &nm->v[i].addrs;
		for (size_t k = 0; k < a->n; k++) {
			size_t f = family_slot(a->v[k].family);
			if (!have[f] || a->v[k].lo < lo[f])
				lo[f] = a->v[k].lo;
			have[f] = true;
		}
		for (size_t f = 0; f < 2; f++)
			if (have[f])
				nm->by_lo[f][nm->nby_lo[f]++] = (struct lowest){ lo[f], i };
	}
	for (size_t f = 0; f < 2; f++)
		qsort(nm->by_lo[f], nm->nby_lo[f], sizeof(*nm->by_lo[f]), cmp_lowest);
	return 0;
}

/* Candidates, broadest kinds first: "*", autogroups, groups, tags, users,
 * ipsets, hosts, then single nodes. */
static int namer_build(struct namer *nm)
{
	static int (*const steps[])(struct namer *) = {
		namer_add_autogroups, namer_add_groups, namer_add_tags, namer_add_users,
		namer_add_ipsets, namer_add_hosts, namer_add_nodes,
	};
	nm->fnm = filter_names_new(nm->s->pol, nm->s->inv, &nm->s->fs);
	if (!nm->fnm)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		rc = steps[i](nm);
		if (rc < 0)
			goto free_names;
	}
	rc = namer_index(nm);
free_names:
	filter_names_free(nm->fnm);
	nm->fnm = NULL;
	nm->built = true;
	return rc;
}

/* The policy rules behind CAUSES (locations of destination entries). */
static bool cause_rule_names(const struct pol_policy *p, const struct diff_cause *causes, size_t ncauses,
			     const char *name)
{
	for (size_t c = 0; c < ncauses; c++)
		for (size_t i = 0; i < p->nrules; i++) {
			const struct pol_rule *r = &p->rules[i];
			bool hit = false;
			for (size_t d = 0; !hit && d < r->ndst; d++) {
				const struct hj_value *at = r->dst[d].alias.at;
				hit = at && at->loc.src == causes[c].loc.src && at->loc.line == causes[c].loc.line &&
				      at->loc.col == causes[c].loc.col;
			}
			for (size_t k = 0; hit && k < r->nsrc; k++)
				if (r->src[k].name && strcmp(r->src[k].name, name) == 0)
					return true;
		}
	return false;
}

/* Take principal PR into a cover: its text joins *OUT, its addresses in
 * FAMILY leave LEFT. */
static int cover_take(char **out, struct addr_set *left, uint8_t family, const struct principal *pr)
{
	*out = join(*out, pr->text);
	if (!*out)
		return -ENOMEM;
	return aset_remove_all(left, family, &pr->addrs);
}

static int cmp_size(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	return a < b ? -1 : a > b;
}

/* The principals whose lowest address in FAMILY lies in S, in namer order
 * (*N of them): a superset of those whose addresses in FAMILY all do. */
static size_t *candidates(const struct namer *nm, uint8_t family, const struct addr_set *s, size_t *n)
{
	const struct lowest *idx = nm->by_lo[family_slot(family)];
	size_t nidx = nm->nby_lo[family_slot(family)], cap = 0;
	size_t *v = NULL;
	*n = 0;
	for (size_t k = 0; k < s->n; k++) {
		if (s->v[k].family != family)
			continue;
		size_t lo = 0, hi = nidx;
		while (lo < hi) {	/* the first entry at or above the range's start */
			size_t mid = lo + (hi - lo) / 2;
			if (idx[mid].lo < s->v[k].lo)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < nidx && idx[lo].lo <= s->v[k].hi; lo++) {
			if (MEM_RESERVE(v, cap, *n + 1) < 0) {
				free(v);
				return NULL;
			}
			v[(*n)++] = idx[lo].pr;
		}
	}
	if (!v)
		return calloc(1, sizeof(*v));
	qsort(v, *n, sizeof(*v), cmp_size);
	return v;
}

/* Cover the addresses S of FAMILY exactly: principals whose addresses in
 * FAMILY all lie in S, those the causing rules name first, then the
 * broadest; what no principal covers as address ranges.  *NPARTS counts
 * the principals, *NLEFT the ranges. */
static char *cover(struct namer *nm, uint8_t family, const struct addr_set *s, const struct diff_cause *causes,
		   size_t ncauses, size_t *nparts, size_t *nleft)
{
	char *out = strdup("");
	struct addr_set left = { 0 };
	size_t ncand = 0;
	size_t *cand = candidates(nm, family, s, &ncand);
	bool *used = calloc(ncand + 1, sizeof(*used));
	int rc = -ENOMEM;
	*nparts = 0;
	if (!out || !cand || !used || addr_set_add_all(&left, s) < 0)
		goto free_scratch;
	for (int pass = 0; pass < 2; pass++)
		for (size_t c = 0; c < ncand; c++) {
			const struct principal *pr = &nm->v[cand[c]];
			bool any;
			if (used[c] || !aset_within(&pr->addrs, family, s, &any) || !any ||
			    !aset_overlaps_aset(&pr->addrs, family, &left))
				continue;
			if (pass == 0 && !cause_rule_names(nm->s->pol, causes, ncauses, pr->name))
				continue;
			used[c] = true;
			(*nparts)++;
			rc = cover_take(&out, &left, family, pr);
			if (rc < 0)
				goto free_scratch;
		}
	*nleft = left.n;
	rc = -ENOMEM;
	for (size_t k = 0; k < left.n; k++) {
		char r[ADDR_RANGE_STRLEN];
		if (!(out = join(out, addr_range_format(left.v[k].family, left.v[k].lo, left.v[k].hi, r))))
			goto free_scratch;
	}
	rc = 0;
free_scratch:   /* and OUT, on failure */
	free(used);
	free(cand);
	addr_set_free(&left);
	if (rc < 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* "PR except ...": what principal PR holds in FAMILY beyond S, if at most
 * two principals cover it with nothing left over.  NULL if not (or out of
 * memory). */
static char *except_text(struct namer *nm, uint8_t family, const struct addr_set *s, const struct principal *pr)
{
	struct addr_set rest = { 0 };
	char *r = NULL, *t = NULL;
	size_t nparts = 0, nleft = 1;
	for (size_t k = 0; k < pr->addrs.n; k++)
		if (pr->addrs.v[k].family == family &&
		    addr_set_add(&rest, family, pr->addrs.v[k].lo, pr->addrs.v[k].hi) < 0)
			goto free_rest;
	if (aset_remove_all(&rest, family, s) < 0 || rest.n == 0)
		goto free_rest;
	r = cover(nm, family, &rest, NULL, 0, &nparts, &nleft);
	if (r && nleft == 0 && nparts <= 2 && asprintf(&t, "%s except %s", pr->text, r) < 0)
		t = NULL;
free_rest:
	free(r);
	addr_set_free(&rest);
	return t;
}

/* "C except R": principal C holds S in FAMILY and what it holds beyond S
 * is covered by at most two principals, nothing left over.  NULL if no
 * principal does (or out of memory). */
static char *cover_by_exception(struct namer *nm, uint8_t family, const struct addr_set *s,
				const struct diff_cause *causes, size_t ncauses)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < nm->n; i++) {
			const struct principal *pr = &nm->v[i];
			bool holds = s->n > 0;
			for (size_t k = 0; holds && k < s->n; k++)
				holds = s->v[k].family != family || addr_set_contains(&pr->addrs, family, s->v[k].lo, s->v[k].hi);
			if (!holds || (pass == 0) != cause_rule_names(nm->s->pol, causes, ncauses, pr->name))
				continue;
			char *t = except_text(nm, family, s, pr);
			if (t)
				return t;
		}
	return NULL;
}

/* Name the source addresses S of FAMILY exactly: directly by principals,
 * or, when that leaves raw ranges or takes more than two principals, as a
 * principal with exceptions if one fits. */
static char *describe_sources(struct namer *nm, uint8_t family, const struct addr_set *s,
			      const struct diff_cause *causes, size_t ncauses)
{
	size_t nparts, nleft;
	if (!nm->built && namer_build(nm) < 0)
		return NULL;
	char *direct = cover(nm, family, s, causes, ncauses, &nparts, &nleft);
	if (!direct || (nleft == 0 && nparts <= 2))
		return direct;
	char *other = cover_by_exception(nm, family, s, causes, ncauses);
	if (!other)
		return direct;
	free(direct);
	return other;
}

/* ---- naming destinations ---- */

struct item {
	char *name;     /* host, node, "*", or a range as text */
	char *addrs;    /* for a host or node: its addresses; NULL otherwise */
};

struct items {
	struct item *v;
	size_t n;
};

static void items_free(struct items *it)
{
	for (size_t i = 0; i < it->n; i++) {
		free(it->v[i].name);
		free(it->v[i].addrs);
	}
	free(it->v);
	memset(it, 0, sizeof(*it));
}

static int items_push(struct items *it, const char *name, const char *addrs)
{
	struct item *v = realloc(it->v, (it->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	it->v = v;
	struct item x = { strdup(name), addrs ? strdup(addrs) : NULL };
	if (!x.name || (addrs && !x.addrs)) {
		free(x.name);
		free(x.addrs);
		return -ENOMEM;
	}
	it->v[it->n++] = x;
	return 0;
}

/* A named range starting at AT and ending within HI: the widest host, else
 * a node's address.  Sets *END; NULL if none. */
static const char *dst_name_at(const struct load *s, uint8_t family, addr_u128 at, addr_u128 hi, addr_u128 *end)
{
	const char *best = NULL;
	for (size_t i = 0; i < s->pol->nhosts; i++) {
		const struct pol_named *h = &s->pol->hosts[i];
		if (h->family == family && h->lo == at && h->hi <= hi && (!best || h->hi > *end)) {
			best = h->name;
			*end = h->hi;
		}
	}
	for (size_t i = 0; !best && i < s->inv->nnodes; i++) {
		const struct inv_node *n = &s->inv->nodes[i];
		if ((family == ADDR_V4 && n->has_v4 && n->v4 == at) || (family == ADDR_V6 && n->has_v6 && n->v6 == at)) {
			best = n->name;
			*end = at;
		}
	}
	return best;
}

/* The last address of [AT, HI] before the next named range starting after
 * AT: HI when none does. */
static addr_u128 dst_next_named(const struct load *s, uint8_t family, addr_u128 at, addr_u128 hi)
{
	addr_u128 next = hi, end;
	for (size_t i = 0; i < s->pol->nhosts; i++) {
		const struct pol_named *h = &s->pol->hosts[i];
		if (h->family == family && h->lo > at && h->lo <= next && dst_name_at(s, family, h->lo, hi, &end))
			next = h->lo - 1;
	}
	for (size_t i = 0; i < s->inv->nnodes; i++) {
		const struct inv_node *n = &s->inv->nodes[i];
		bool has = family == ADDR_V4 ? n->has_v4 : n->has_v6;
		addr_u128 a = family == ADDR_V4 ? n->v4 : n->v6;
		if (has && a > at && a <= next)
			next = a - 1;
	}
	return next;   /* the last address before the next named one, or HI */
}

static int describe_dst(const struct load *s, uint8_t family, addr_u128 lo, addr_u128 hi, struct items *out)
{
	char r[ADDR_RANGE_STRLEN];
	if (lo == 0 && hi == addr_family_max(family))
		return items_push(out, "*", NULL);
	for (;;) {
		addr_u128 end = lo;
		const char *name = dst_name_at(s, family, lo, hi, &end);
		int rc;
		if (name)
			rc = items_push(out, name, addr_range_format(family, lo, end, r));
		else {
			end = dst_next_named(s, family, lo, hi);
			rc = items_push(out, addr_range_format(family, lo, end, r), NULL);
		}
		if (rc < 0)
			return rc;
		if (end >= hi)
			return 0;
		lo = end + 1;
	}
}

/* ---- rows: the changes of one node, being grouped ---- */

struct row {
	enum diff_kind kind;
	char *who, *what;
	struct items where;
	struct ir_flows boxes;     /* as rules */
	struct diff_cause *causes;
	size_t ncauses;
	bool absorbed;             /* merged into another row: dropped */
};

struct rows {
	struct row *v;
	size_t n, cap;
};

static void row_free(struct row *r)
{
	free(r->who);
	free(r->what);
	items_free(&r->where);
	ir_free(&r->boxes);
	free(r->causes);
	memset(r, 0, sizeof(*r));
}

static void rows_free(struct rows *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		row_free(&rs->v[i]);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

static int cause_add(struct diff_cause **v, size_t *n, const struct diag_loc *loc, bool old)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].loc.src == loc->src && (*v)[i].loc.line == loc->line && (*v)[i].loc.col == loc->col)
			return 0;
	struct diff_cause *nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[(*n)++] = (struct diff_cause){ .loc = *loc, .old = old };
	return 0;
}

struct explain {
	struct row *row;
	bool old;
	int rc;
};

static void explain_cb(const struct ir_rule *rule, void *arg)
{
	struct explain *ex = arg;
	if (ex->rc == 0 && rule->loc.src)
		ex->rc = cause_add(&ex->row->causes, &ex->row->ncauses, &rule->loc, ex->old);
}

static char *service_text(const struct ir_box *b)
{
	char pb[8], *s = NULL;
	const char *proto = proto_name(b->proto, pb);
	int rc;
	if (!proto_has_ports(b->proto))
		rc = asprintf(&s, "%s", proto);
	else if (b->port_lo == 0 && b->port_hi == 65535)
		rc = asprintf(&s, "%s/*", proto);
	else if (b->port_lo == b->port_hi)
		rc = asprintf(&s, "%s/%u", proto, b->port_lo);
	else
		rc = asprintf(&s, "%s/%u-%u", proto, b->port_lo, b->port_hi);
	return rc < 0 ? NULL : s;
}

/* The row of cell C of DELTA (its boxes equal but for their sources), its
 * causes the rules of SIDE_IR that accept a representative packet of each
 * box. */
static int add_slab(struct rows *rs, enum diff_kind kind, const struct ir_flows *delta, size_t c,
		    const struct ir_flows *side_ir, struct namer *nm)
{
	const struct ir_cell *cell = &delta->cells[c];
	struct row r = { .kind = kind };
	struct explain ex = { .row = &r, .old = kind == DIFF_LOSS };
	struct addr_set src = { 0 };
	struct ir_box b;
	size_t n;
	int rc;
	ir_set_spans(delta, cell->set, &n);
	ir_cell_box(delta, c, 0, &b);   /* a set holds at least one range */
	for (size_t k = 0; k < n; k++) {
		ir_cell_box(delta, c, k, &b);
		rc = addr_set_add(&src, b.family, b.src_lo, b.src_hi);
		if (rc < 0)
			goto free_row;
		rc = ir_add(&r.boxes, &b, NULL);
		if (rc < 0)
			goto free_row;
		/* The box lies in SIDE_IR: some rule accepts its first packet. */
		rc = -EPROTO;
		if (ir_explain(side_ir, b.family, b.proto, b.src_lo, b.dst_lo, b.port_lo, explain_cb, &ex) == 0)
			goto free_row;
		rc = ex.rc;
		if (rc < 0)
			goto free_row;
	}
	rc = -ENOMEM;
	r.who = describe_sources(nm, cell->family, &src, r.causes, r.ncauses);
	r.what = r.who ? service_text(&b) : NULL;
	if (!r.what)
		goto free_row;
	rc = describe_dst(nm->s, cell->family, cell->dst_lo, cell->dst_hi, &r.where);
	if (rc < 0)
		goto free_row;
	rc = MEM_RESERVE(rs->v, rs->cap, rs->n + 1);
	if (rc < 0)
		goto free_row;
	rs->v[rs->n++] = r;
	memset(&r, 0, sizeof(r));   /* RS holds it now */
free_row:   /* and the sources */
	row_free(&r);
	addr_set_free(&src);
	return rc;
}

/* One row per cell of DELTA. */
static int add_slabs(struct rows *rs, enum diff_kind kind, const struct ir_flows *delta,
		     const struct ir_flows *side_ir, struct namer *nm)
{
	for (size_t c = 0; c < delta->ncells; c++) {
		int rc = add_slab(rs, kind, delta, c, side_ir, nm);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* NAME: names joined (for comparing); TEXT: "name (addresses), name". */
static char *items_text(const struct items *it, bool with_addrs)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	for (size_t i = 0; i < it->n; i++) {
		fprintf(f, "%s%s", i ? (with_addrs ? ", " : "\x1f") : "", it->v[i].name);
		if (with_addrs && it->v[i].addrs)
			fprintf(f, " (%s)", it->v[i].addrs);
	}
	return fclose(f) == 0 ? s : (free(s), NULL);
}

/* Move B's boxes and causes into A; free B. */
static int row_absorb(struct row *a, struct row *b)
{
	int rc = ir_add_all(&a->boxes, &b->boxes);
	if (rc < 0)
		goto free_b;
	for (size_t k = 0; k < b->ncauses; k++) {
		rc = cause_add(&a->causes, &a->ncauses, &b->causes[k].loc, b->causes[k].old);
		if (rc < 0)
			goto free_b;
	}
free_b:
	row_free(b);
	return rc;
}

enum { MERGE_FAMILIES, MERGE_SERVICES, MERGE_DESTINATIONS };

/* Two rows that say the same but for one part: may they become one line
 * without claiming more than both?  FAMILIES: same sources, service and
 * destination names (addresses of another family added to the names);
 * SERVICES: same sources and destinations; DESTINATIONS: same sources and
 * services. */
static int rows_key(const struct row *r, int how, char **key)
{
	char *k = NULL, *w = items_text(&r->where, how != MERGE_FAMILIES);
	int rc = -ENOMEM;
	if (!w)
		return rc;
	if (how == MERGE_FAMILIES)
		rc = asprintf(&k, "%d\x1e%s\x1e%s\x1e%s", r->kind, r->who, r->what, w);
	else if (how == MERGE_SERVICES)
		rc = asprintf(&k, "%d\x1e%s\x1e%s", r->kind, r->who, w);
	else
		rc = asprintf(&k, "%d\x1e%s\x1e%s", r->kind, r->who, r->what);
	free(w);
	*key = rc < 0 ? NULL : k;
	return rc < 0 ? -ENOMEM : 0;
}

struct keyed {
	char *key;
	size_t i;
};

static int cmp_keyed(const void *pa, const void *pb)
{
	const struct keyed *a = pa, *b = pb;
	int c = strcmp(a->key, b->key);
	return c ? c : (a->i > b->i) - (a->i < b->i);
}

/* A takes the part (HOW) in which B, saying the same otherwise, differs:
 * the other family's addresses of each destination, the services, or the
 * destinations. */
static int row_take_part(struct row *a, const struct row *b, int how)
{
	switch (how) {
	case MERGE_FAMILIES:
		for (size_t m = 0; m < a->where.n; m++) {
			if (!b->where.v[m].addrs)
				continue;
			a->where.v[m].addrs = join(a->where.v[m].addrs, b->where.v[m].addrs);
			if (!a->where.v[m].addrs)
				return -ENOMEM;
		}
		return 0;
	case MERGE_SERVICES:
		a->what = join(a->what, b->what);
		return a->what ? 0 : -ENOMEM;
	default:
		for (size_t m = 0; m < b->where.n; m++) {
			int rc = items_push(&a->where, b->where.v[m].name, b->where.v[m].addrs);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
}

/* Merge B into A (same key under HOW); B is dropped either way. */
static int row_merge(struct row *a, struct row *b, int how)
{
	int rc = row_take_part(a, b, how);
	if (rc < 0)
		goto drop_b;
	rc = row_absorb(a, b);
drop_b:
	b->absorbed = true;   /* after row_absorb freed it: rows_merge frees what is left */
	return rc;
}

/* Every row absorbs the later rows with the same key (HOW), in order; the
 * absorbing row keeps its place.  A merge never changes a row's key, so
 * the rows are grouped by sorting the keys once. */
static int rows_merge(struct rows *rs, int how)
{
	if (rs->n == 0)
		return 0;
	struct keyed *k = calloc(rs->n, sizeof(*k));
	if (!k)
		return -ENOMEM;
	int rc = 0;
	size_t out = 0;
	for (size_t i = 0; i < rs->n; i++) {
		k[i].i = i;
		rc = rows_key(&rs->v[i], how, &k[i].key);
		if (rc < 0)
			goto drop_absorbed;
	}
	if (rs->n > 1)
		qsort(k, rs->n, sizeof(*k), cmp_keyed);
	for (size_t g = 0; g < rs->n;) {
		size_t e = g + 1;
		for (; e < rs->n && strcmp(k[e].key, k[g].key) == 0; e++) {
			rc = row_merge(&rs->v[k[g].i], &rs->v[k[e].i], how);
			if (rc < 0)
				goto drop_absorbed;
		}
		g = e;
	}
drop_absorbed:   /* and the keys */
	for (size_t i = 0; i < rs->n; i++) {
		free(k[i].key);
		if (rs->v[i].absorbed)
			row_free(&rs->v[i]);
		else
			rs->v[out++] = rs->v[i];
	}
	rs->n = out;
	free(k);
	return rc;
}

/* ---- the result ---- */

static int change_push(struct diff_result *out, const struct diff_change *c)
{
	if (MEM_RESERVE(out->v, out->cap, out->n + 1) < 0)
		return -ENOMEM;
	out->v[out->n++] = *c;
	return 0;
}

static void change_free(struct diff_change *c)
{
	free(c->node);
	free(c->who);
	free(c->what);
	free(c->where);
	free(c->boxes);
	free(c->causes);
}

void diff_result_free(struct diff_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		change_free(&r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static int cmp_cause(const void *pa, const void *pb)
{
	const struct diff_cause *a = pa, *b = pb;
	if (a->loc.line != b->loc.line)
		return a->loc.line < b->loc.line ? -1 : 1;
	return a->loc.col < b->loc.col ? -1 : a->loc.col > b->loc.col;
}

/* A change for OUT, taking WHO, WHAT, WHERE and CAUSES (freed on failure);
 * BOXES, when given, are copied. */
static int emit(struct diff_result *out, enum diff_kind kind, const char *node, char *who, char *what,
		char *where, const struct ir_flows *boxes, struct diff_cause *causes, size_t ncauses)
{
	struct diff_change c = { .kind = kind, .who = who, .what = what, .where = where,
				 .causes = causes, .ncauses = ncauses };
	int rc = -ENOMEM;
	qsort(c.causes, c.ncauses, sizeof(*c.causes), cmp_cause);
	if (boxes && boxes->nrules) {
		c.boxes = calloc(boxes->nrules, sizeof(*c.boxes));
		if (!c.boxes)
			goto free_change;
		for (size_t i = 0; i < boxes->nrules; i++)
			c.boxes[c.nboxes++] = boxes->rules[i].box;
	}
	if (node && !(c.node = strdup(node)))
		goto free_change;
	rc = change_push(out, &c);
	if (rc < 0)
		goto free_change;
	return 0;   /* OUT holds C now */
free_change:
	change_free(&c);
	return rc;
}

/* TCP and UDP before the other protocols: people read services first. */
static unsigned proto_rank(unsigned proto)
{
	return proto == PROTO_TCP ? 0 : proto == PROTO_UDP ? 1 : 2 + proto;
}

static int cmp_row(const void *pa, const void *pb)
{
	const struct row *ra = pa, *rb = pb;
	const struct ir_box *a = &ra->boxes.rules[0].box, *b = &rb->boxes.rules[0].box;
	if (ra->kind != rb->kind)
		return ra->kind < rb->kind ? -1 : 1;
	if (proto_rank(a->proto) != proto_rank(b->proto))
		return proto_rank(a->proto) < proto_rank(b->proto) ? -1 : 1;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return a->dst_lo < b->dst_lo ? -1 : a->dst_lo > b->dst_lo;
}

static int emit_rows(struct diff_result *out, const char *node, struct rows *rs)
{
	static const int merges[] = { MERGE_FAMILIES, MERGE_SERVICES, MERGE_DESTINATIONS };
	qsort(rs->v, rs->n, sizeof(*rs->v), cmp_row);
	for (size_t m = 0; m < sizeof(merges) / sizeof(merges[0]); m++) {
		int rc = rows_merge(rs, merges[m]);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < rs->n; i++) {
		struct row *r = &rs->v[i];
		char *where = items_text(&r->where, true);
		if (!where)
			return -ENOMEM;   /* the rows keep their parts: rows_free */
		int rc = emit(out, r->kind, node, r->who, r->what, where, &r->boxes, r->causes, r->ncauses);
		r->who = r->what = NULL;   /* emit took them */
		r->causes = NULL;
		r->ncauses = 0;
		if (rc < 0)
			return rc;
		out->v[out->n - 1].to_node = node && r->where.n == 1 && strcmp(r->where.v[0].name, node) == 0;
	}
	return 0;
}

/* ---- routes and nodes ---- */

static bool range_in(const struct addr_set *s, const struct addr_range *r)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].family == r->family && s->v[i].lo == r->lo && s->v[i].hi == r->hi)
			return true;
	return false;
}

static bool node_in_alias_list(const struct load *s, const struct inv_node *n, const struct pol_alias *v,
			       size_t nv)
{
	bool hit = false;
	for (size_t i = 0; !hit && i < nv; i++) {
		struct addr_set a = { 0 };
		if (filter_alias_addrs(s->pol, s->inv, &s->fs, &v[i], &a))
			hit = node_has(n, &a);
		addr_set_free(&a);
	}
	return hit;
}

/* What approved route R of node N on side S: the autoApprovers entry, or
 * the inventory's approved_routes. */
static int route_causes(const struct load *s, const struct inv_node *n, const struct addr_range *r, bool old,
			struct diff_cause **causes, size_t *ncauses)
{
	const struct pol_policy *p = s->pol;
	for (size_t i = 0; i < p->nroute_approvers; i++) {
		const struct pol_named *a = &p->route_approvers[i];
		if (a->family != r->family || a->lo > r->lo || r->hi > a->hi ||
		    !node_in_alias_list(s, n, a->items, a->nitems))
			continue;
		int rc = cause_add(causes, ncauses, &a->at->loc, old);
		if (rc < 0)
			return rc;
	}
	if (r->lo == 0 && r->hi == addr_family_max(r->family) && p->exit_approvers.at &&
	    node_in_alias_list(s, n, p->exit_approvers.items, p->exit_approvers.nitems)) {
		int rc = cause_add(causes, ncauses, &p->exit_approvers.at->loc, old);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < n->napproved; i++) {
		if (n->approved[i].family != r->family || n->approved[i].lo != r->lo || n->approved[i].hi != r->hi)
			continue;
		struct diag_loc loc = { s->inv_src, 0, 0 };
		int rc = cause_add(causes, ncauses, &loc, old);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Route R of node N on side S added or gone (KIND). */
static int route_change(struct diff_result *out, const char *node, enum diff_kind kind, const struct load *s,
			const struct inv_node *n, const struct addr_range *r)
{
	char buf[ADDR_RANGE_STRLEN], *what = strdup(addr_range_format(r->family, r->lo, r->hi, buf));
	struct diff_cause *causes = NULL;
	size_t ncauses = 0;
	int rc = -ENOMEM;
	if (!what)
		goto free_parts;
	rc = route_causes(s, n, r, kind == DIFF_ROUTE_REMOVED, &causes, &ncauses);
	if (rc < 0)
		goto free_parts;
	return emit(out, kind, node, NULL, what, NULL, NULL, causes, ncauses);
free_parts:
	free(what);
	free(causes);
	return rc;
}

static int route_changes(struct diff_result *out, const char *node, enum diff_kind kind, const struct load *s,
			 const struct filter_node *have, const struct filter_node *other)
{
	for (size_t i = 0; i < have->served.n; i++) {
		const struct addr_range *r = &have->served.v[i];
		if (other && range_in(&other->served, r))
			continue;
		int rc = route_change(out, node, kind, s, have->node, r);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A node in one inventory only: who owns it, and its addresses. */
static int node_change(struct diff_result *out, enum diff_kind kind, const struct load *s,
		       const struct inv_node *n)
{
	char a[ADDR_STRLEN], *who = NULL, *what = NULL;
	struct diff_cause *causes = NULL;
	size_t ncauses = 0;
	int rc = -ENOMEM;
	if (n->ntags == 0 && n->user >= 0 && !(who = strdup(s->inv->users[n->user].name)))
		goto free_parts;
	for (size_t t = 0; t < n->ntags; t++)
		if (!(who = join(who, n->tags[t])))
			goto free_parts;
	if (n->has_v4 && !(what = join(what, addr_format(ADDR_V4, n->v4, a))))
		goto free_parts;
	if (n->has_v6 && !(what = join(what, addr_format(ADDR_V6, n->v6, a))))
		goto free_parts;
	if (s->inv_src) {
		struct diag_loc loc = { s->inv_src, 0, 0 };
		rc = cause_add(&causes, &ncauses, &loc, kind == DIFF_NODE_REMOVED);
		if (rc < 0)
			goto free_parts;
	}
	return emit(out, kind, n->name, who, what, NULL, NULL, causes, ncauses);
free_parts:
	free(who);
	free(what);
	free(causes);
	return rc;
}

/* ---- peers: what each node is told (routes_compute) ---- */

/* A node's identity for peering: its addresses and the subnets it serves. */
static int peer_identity(const struct filter_node *fn, struct addr_set *out)
{
	int rc = inv_node_addrs(fn->node, out);
	if (rc < 0)
		return rc;
	for (size_t k = 0; k < fn->served.n; k++) {
		const struct addr_range *r = &fn->served.v[k];
		if (r->lo == 0 && r->hi == addr_family_max(r->family))
			continue;
		rc = addr_set_add(out, r->family, r->lo, r->hi);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool rule_reaches(const struct filter_rule *r, const struct addr_range *route)
{
	for (size_t d = 0; d < r->ndst; d++)
		if (r->dst[d].any || (r->dst[d].family == route->family && r->dst[d].lo <= route->hi &&
				      route->lo <= r->dst[d].hi))
			return true;
	return false;
}

/* The rules in HOLDER's filter admitting OTHER (its addresses and subnets),
 * by their first sources.  With ROUTE: only rules that reach ROUTE through
 * HOLDER (REACH) or, in the viewer's own filter, whose sources overlap it. */
static int admitting_rules(const struct filter_node *holder, const struct filter_node *other,
			   const struct addr_range *route, bool reach, bool old, struct diff_cause **causes,
			   size_t *ncauses)
{
	struct addr_set id = { 0 };
	int rc = route && !reach ? addr_set_add(&id, route->family, route->lo, route->hi) : peer_identity(other, &id);
	if (rc < 0)
		goto free_id;
	for (size_t i = 0; i < holder->nrules; i++) {
		const struct filter_rule *r = &holder->rules[i];
		bool hit = r->src_all;
		for (int f = ADDR_V4; !hit && f <= ADDR_V6; f += ADDR_V6 - ADDR_V4)
			hit = aset_overlaps_aset(&id, (uint8_t)f, &r->src);
		if (route && reach)
			hit = hit && rule_reaches(r, route);
		const struct pol_rule *pr = r->from;
		const struct hj_value *at = pr && pr->nsrc && pr->src[0].at ? pr->src[0].at : pr ? pr->at : NULL;
		if (!hit || !at)
			continue;
		rc = cause_add(causes, ncauses, &at->loc, old);
		if (rc < 0)
			goto free_id;
	}
free_id:
	addr_set_free(&id);
	return rc;
}

struct named {
	const char *name;
	int i;
};

static int cmp_named(const void *pa, const void *pb)
{
	return strcmp(((const struct named *)pa)->name, ((const struct named *)pb)->name);
}

/* INV's nodes sorted by name, for by_name: one lookup per node of the
 * other side would otherwise walk the whole inventory. */
static struct named *names_sorted(const struct inv *inv)
{
	struct named *v = calloc(inv->nnodes + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < inv->nnodes; i++)
		v[i] = (struct named){ inv->nodes[i].name, (int)i };
	qsort(v, inv->nnodes, sizeof(*v), cmp_named);
	return v;
}

/* The index of the node named NAME in the N sorted entries of V, or -1. */
static int by_name(const struct named *v, size_t n, const char *name)
{
	const struct named key = { .name = name };
	const struct named *hit = bsearch(&key, v, n, sizeof(*v), cmp_named);
	return hit ? hit->i : -1;
}

/* A side's inventory and its nodes sorted by name. */
struct side_names {
	const struct load *s;
	struct named *sorted;
};

/* The peer of view V named NAME (of side O), or NULL: V's peers are in
 * inventory order, so a bisection on O's index of the name. */
static const struct routes_peer *peer_by_name(const struct side_names *o, const struct routes_view *v,
					      const char *name)
{
	int i = v ? by_name(o->sorted, o->s->inv->nnodes, name) : -1;
	if (i < 0)
		return NULL;
	size_t lo = 0, hi = v->npeers;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->peers[mid].node < (size_t)i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->npeers && v->peers[lo].node == (size_t)i ? &v->peers[lo] : NULL;
}

static char *aset_text(const struct addr_set *a)
{
	char *s = strdup(""), buf[ADDR_RANGE_STRLEN];
	for (size_t i = 0; s && i < a->n; i++)
		s = join(s, addr_range_format(a->v[i].family, a->v[i].lo, a->v[i].hi, buf));
	return s;
}

/* Peer P of viewer VI (index in S's inventory) added or gone (ADDED) with
 * all its allowed_ips (ROUTE NULL), or one range ROUTE of them. */
static int peer_change(struct diff_result *out, const char *viewer, const struct load *s, size_t vi,
		       const struct routes_peer *p, const struct addr_range *route, bool added)
{
	char buf[ADDR_RANGE_STRLEN];
	char *who = strdup(s->inv->nodes[p->node].name);
	char *what = route ? strdup(addr_range_format(route->family, route->lo, route->hi, buf))
			   : aset_text(&p->allowed_ips);
	struct diff_cause *causes = NULL;
	size_t ncauses = 0;
	int rc = -ENOMEM;
	if (!who || !what)
		goto free_parts;
	/* A new peer: the rules joining the two; a new range: the rules
	 * reaching it through the peer or from it. */
	rc = admitting_rules(&s->fs.nodes[vi], &s->fs.nodes[p->node], route, false, !added, &causes, &ncauses);
	if (rc < 0)
		goto free_parts;
	rc = admitting_rules(&s->fs.nodes[p->node], &s->fs.nodes[vi], route, true, !added, &causes, &ncauses);
	if (rc < 0)
		goto free_parts;
	enum diff_kind kind = route ? (added ? DIFF_PEER_IPS_ADDED : DIFF_PEER_IPS_REMOVED)
				    : (added ? DIFF_PEER_ADDED : DIFF_PEER_REMOVED);
	return emit(out, kind, viewer, who, what, NULL, NULL, causes, ncauses);
free_parts:
	free(who);
	free(what);
	free(causes);
	return rc;
}

/* Peers of viewer VI (index in S's inventory) in view HAVE and not in
 * OTHER (of side O), or ranges of their allowed_ips missing there. */
static int peer_changes(struct diff_result *out, const char *viewer, const struct load *s, size_t vi,
			const struct routes_view *have, const struct side_names *o, const struct routes_view *other,
			bool added)
{
	for (size_t i = 0; i < have->npeers; i++) {
		const struct routes_peer *p = &have->peers[i];
		const struct routes_peer *q = peer_by_name(o, other, s->inv->nodes[p->node].name);
		if (!q) {   /* a new peer: one change with all its allowed_ips */
			int rc = p->allowed_ips.n ? peer_change(out, viewer, s, vi, p, NULL, added) : 0;
			if (rc < 0)
				return rc;
			continue;
		}
		for (size_t k = 0; k < p->allowed_ips.n; k++) {
			const struct addr_range *r = &p->allowed_ips.v[k];
			if (range_in(&q->allowed_ips, r))
				continue;
			int rc = peer_change(out, viewer, s, vi, p, r, added);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---- one node, and all of them ---- */

struct run {
	const struct load *before, *after;
	struct routes_set vb, va;      /* no views without an inventory */
	struct namer nb, na;
	struct side_names sb, sa;      /* for finding a node by name */
	struct diff_result *out;
};

/* The node joining or leaving the inventory, and the routes it serves
 * added or gone. */
static int membership_changes(struct run *run, const char *name, const struct filter_node *bf,
			      const struct filter_node *af)
{
	int rc = 0;
	if (!bf && af)
		rc = node_change(run->out, DIFF_NODE_ADDED, run->after, af->node);
	if (bf && !af)
		rc = node_change(run->out, DIFF_NODE_REMOVED, run->before, bf->node);
	if (rc < 0)
		return rc;
	if (af) {
		rc = route_changes(run->out, name, DIFF_ROUTE_ADDED, run->after, af, bf);
		if (rc < 0)
			return rc;
	}
	return bf ? route_changes(run->out, name, DIFF_ROUTE_REMOVED, run->before, bf, af) : 0;
}

/* Peers of a node that stays (one joining or leaving is news enough). */
static int node_peer_changes(struct run *run, const char *name, int bi, int ai)
{
	if (bi < 0 || ai < 0 || (size_t)ai >= run->va.nviews || (size_t)bi >= run->vb.nviews)
		return 0;
	int rc = peer_changes(run->out, name, run->after, (size_t)ai, &run->va.views[ai], &run->sb,
			      &run->vb.views[bi], true);
	if (rc < 0)
		return rc;
	return peer_changes(run->out, name, run->before, (size_t)bi, &run->vb.views[bi], &run->sa,
			    &run->va.views[ai], false);
}

/* The packets the node gains (NEW \ OLD) and loses (OLD \ NEW), as rows. */
static int flow_changes(struct run *run, const char *name, const struct filter_node *bf,
			const struct filter_node *af)
{
	struct ir_flows irb = { 0 }, ira = { 0 }, gained = { 0 }, lost = { 0 };
	struct rows rs = { 0 };
	int rc = bf ? filter_node_rules(bf, &irb) : 0;
	if (rc < 0)
		goto free_flows;
	rc = af ? filter_node_rules(af, &ira) : 0;
	if (rc < 0)
		goto free_flows;
	/* The same rules in the same order accept the same packets: nothing
	 * gained or lost, and no canonical form to build (most nodes, most edits). */
	if (ir_rules_same(&irb, &ira))
		goto free_flows;
	rc = ir_canonicalize(&irb);
	if (rc < 0)
		goto free_flows;
	rc = ir_canonicalize(&ira);
	if (rc < 0)
		goto free_flows;
	rc = ir_subtract(&ira, &irb, &gained);
	if (rc < 0)
		goto free_flows;
	rc = ir_subtract(&irb, &ira, &lost);
	if (rc < 0)
		goto free_flows;
	rc = add_slabs(&rs, DIFF_GAIN, &gained, &ira, &run->na);
	if (rc < 0)
		goto free_flows;
	rc = add_slabs(&rs, DIFF_LOSS, &lost, &irb, &run->nb);
	if (rc < 0)
		goto free_flows;
	rc = emit_rows(run->out, name, &rs);
free_flows:
	rows_free(&rs);
	ir_free(&lost);
	ir_free(&gained);
	ir_free(&ira);
	ir_free(&irb);
	return rc;
}

/* Every change on the node named NAME (NULL: the tailnet-wide view), seen
 * as BF before and AF after (either NULL: not in that inventory). */
static int diff_node(struct run *run, const char *name, const struct filter_node *bf, const struct filter_node *af,
		     int bi, int ai)
{
	size_t before_n = run->out->n;
	int rc = membership_changes(run, name, bf, af);
	if (rc < 0)
		return rc;
	rc = node_peer_changes(run, name, bi, ai);
	if (rc < 0)
		return rc;
	rc = flow_changes(run, name, bf, af);
	if (rc < 0)
		return rc;
	if (run->out->n > before_n)
		run->out->nodes_changed++;
	return 0;
}

static int node_index(const struct inv *inv, const char *name)
{
	for (size_t i = 0; i < inv->nnodes; i++)
		if (strcmp(inv->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool diff_has_node(const struct load *before, const struct load *after, const char *name)
{
	return node_index(before->inv, name) >= 0 || node_index(after->inv, name) >= 0;
}

/* Every node of AFTER's inventory, then those only BEFORE's holds (only
 * ONLY_NODE when not NULL). */
static int diff_each_node(struct run *run, const char *only_node)
{
	const struct inv *bi = run->before->inv, *ai = run->after->inv;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < ai->nnodes; i++) {
		const char *name = ai->nodes[i].name;
		if (only_node && strcmp(only_node, name) != 0)
			continue;
		int j = by_name(run->sb.sorted, bi->nnodes, name);
		rc = diff_node(run, name, j >= 0 ? &run->before->fs.nodes[j] : NULL, &run->after->fs.nodes[i], j,
			       (int)i);
	}
	for (size_t j = 0; rc == 0 && j < bi->nnodes; j++) {
		const char *name = bi->nodes[j].name;
		if ((only_node && strcmp(only_node, name) != 0) || by_name(run->sa.sorted, ai->nnodes, name) >= 0)
			continue;
		rc = diff_node(run, name, &run->before->fs.nodes[j], NULL, (int)j, -1);
	}
	return rc;
}

/* Every node of either inventory (only ONLY_NODE when not NULL), or the
 * tailnet-wide view when neither side has one. */
static int diff_nodes(struct run *run, const char *only_node, struct diag_list *diags)
{
	const struct load *before = run->before, *after = run->after;
	if (!before->have_inv && !after->have_inv)
		return diff_node(run, NULL, &before->fs.global, &after->fs.global, -1, -1);
	int rc = before->have_inv ? routes_compute(before->pol, before->inv, &before->fs, &run->vb, diags) : 0;
	if (rc < 0)
		return rc;
	rc = after->have_inv ? routes_compute(after->pol, after->inv, &after->fs, &run->va, diags) : 0;
	if (rc < 0)
		return rc;
	if (!(run->sb.sorted = names_sorted(before->inv)) || !(run->sa.sorted = names_sorted(after->inv)))
		return -ENOMEM;
	return diff_each_node(run, only_node);
}

/* Nodes joining and leaving first, the rest in node order. */
static int joins_first(struct diff_result *out)
{
	if (out->n == 0)
		return 0;
	struct diff_change *v = malloc(out->n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t k = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < out->n; i++)
			if ((out->v[i].kind == DIFF_NODE_ADDED || out->v[i].kind == DIFF_NODE_REMOVED) == (pass == 0))
				v[k++] = out->v[i];
	memcpy(out->v, v, out->n * sizeof(*v));
	free(v);
	return 0;
}

int diff_compute(const struct load *before, const struct load *after, const char *only_node,
		 struct diff_result *out, struct diag_list *diags)
{
	struct run run = { .before = before, .after = after, .nb = { .s = before }, .na = { .s = after },
			   .sb = { .s = before }, .sa = { .s = after }, .out = out };
	memset(out, 0, sizeof(*out));
	int rc = diff_nodes(&run, only_node, diags);
	if (rc < 0)
		goto free_run;
	rc = joins_first(out);
free_run:
	namer_free(&run.nb);
	namer_free(&run.na);
	free(run.sb.sorted);
	free(run.sa.sorted);
	routes_set_free(&run.vb);
	routes_set_free(&run.va);
	if (rc < 0) {
		diag_error(diags, NULL, "computing the differences: %s",
			   rc == -EPROTO ? "a changed flow has no rule behind it (internal error)" : strerror(-rc));
		diff_result_free(out);
	}
	return rc;
}
