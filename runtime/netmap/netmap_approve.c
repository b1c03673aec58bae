/* netmap_approve: the autoApprovers entry behind each route served
 * without an administrator's approval. */
#include "netmap_approve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

struct netmap_approver {
	const struct load *l;
	const char *policy_name;
	struct filter_names *names;
};

struct netmap_approver *netmap_approver_new(const struct load *l, const char *policy_name)
{
	struct netmap_approver *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	*a = (struct netmap_approver){ .l = l, .policy_name = policy_name };
	if (!(a->names = filter_names_new(l->pol, l->inv, &l->fs))) {
		free(a);
		return NULL;
	}
	return a;
}

void netmap_approver_free(struct netmap_approver *a)
{
	if (a)
		filter_names_free(a->names);
	free(a);
}

/* Does alias ITEM name node N?  By its addresses, as the compiler
 * resolves the alias. */
static bool names_node(struct netmap_approver *a, const struct pol_alias *item, const struct inv_node *n)
{
	struct addr_set named = { 0 };
	bool yes = filter_names_addrs(a->names, item, &named) &&
		   ((n->has_v4 && addr_set_contains(&named, ADDR_V4, n->v4, n->v4)) ||
		    (n->has_v6 && addr_set_contains(&named, ADDR_V6, n->v6, n->v6)));
	addr_set_free(&named);
	return yes;
}

/* The first item of ENTRY naming N, or NULL. */
static const struct pol_alias *entry_names(struct netmap_approver *a, const struct pol_named *entry,
					   const struct inv_node *n)
{
	for (size_t i = 0; i < entry->nitems; i++)
		if (names_node(a, &entry->items[i], n))
			return &entry->items[i];
	return NULL;
}

static bool is_exit(uint8_t family, addr_u128 lo, addr_u128 hi)
{
	return lo == 0 && hi == addr_family_max(family);
}

/* The approving entry of route [LO, HI] on N, as text into BUF; false when
 * none approves it.  Exit routes are approved by "exitNode" only, subnet
 * routes by a "routes" entry whose prefix holds them (filter.c's rule). */
static bool approver_text(struct netmap_approver *a, const struct inv_node *n, uint8_t family, addr_u128 lo,
			  addr_u128 hi, char *buf, size_t len)
{
	const struct pol_policy *p = a->l->pol;
	const struct pol_named *entry = NULL;
	const struct pol_alias *item = NULL;
	if (is_exit(family, lo, hi)) {
		entry = &p->exit_approvers;
		item = entry_names(a, entry, n);
	}
	for (size_t j = 0; !item && !is_exit(family, lo, hi) && j < p->nroute_approvers; j++) {
		entry = &p->route_approvers[j];
		if (entry->family == family && entry->lo <= lo && hi <= entry->hi)
			item = entry_names(a, entry, n);
	}
	if (!item)
		return false;
	unsigned line = item->at ? item->at->loc.line : entry->at ? entry->at->loc.line : 0;
	snprintf(buf, len, "autoApprovers \"%s\": \"%s\" (%s line %u)",
		 is_exit(family, lo, hi) ? "exitNode" : entry->name, item->name, a->policy_name, line);
	return true;
}

static bool served_exactly(const struct addr_set *served, uint8_t family, addr_u128 lo, addr_u128 hi)
{
	for (size_t i = 0; i < served->n; i++)
		if (served->v[i].family == family && served->v[i].lo == lo && served->v[i].hi == hi)
			return true;
	return false;
}

static int approvals_push(struct netmap_approvals *out, const char *prefix, const char *approver)
{
	if (MEM_RESERVE(out->v, out->cap, out->n + 1) < 0)
		return -ENOMEM;
	struct netmap_approval *ap = &out->v[out->n];
	*ap = (struct netmap_approval){ .prefix = strdup(prefix), .approver = strdup(approver) };
	out->n++;
	return ap->prefix && ap->approver ? 0 : -ENOMEM;
}

int netmap_approver_find(struct netmap_approver *a, size_t i, const struct netmap_node *sn,
			 struct netmap_approvals *out)
{
	const struct inv_node *n = &a->l->inv->nodes[i];
	const struct addr_set *served = &a->l->fs.nodes[i].served;
	char text[STORE_TEXT_MAX + 1];	/* what the store keeps */
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < sn->nroutes; k++) {
		const struct netmap_route *r = &sn->routes[k];
		enum addr_family family;
		addr_u128 lo, hi;
		if (!r->advertised || r->state != STORE_ROUTE_PENDING ||
		    !addr_range_parse(r->prefix, false, &family, &lo, &hi) ||
		    !served_exactly(served, family, lo, hi) ||
		    !approver_text(a, n, family, lo, hi, text, sizeof(text)))
			continue;
		rc = approvals_push(out, r->prefix, text);
	}
	return rc;
}

void netmap_approvals_free(struct netmap_approvals *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->v[i].prefix);
		free(v->v[i].approver);
	}
	free(v->v);
	memset(v, 0, sizeof(*v));
}
