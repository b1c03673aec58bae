/* routes: peers, allowed IPs and primary routes per node. */
#include "routes.h"
#include "ts.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool is_exit(const struct ir_range *r)
{
	return r->lo == 0 && r->hi == ir_family_max(r->family);
}

/* Does a rule source in FN overlap node N's addresses or served subnets? */
static bool filter_admits(const struct filter_node *fn, const struct filter_node *n)
{
	const struct inv_node *node = n->node;
	for (size_t i = 0; i < fn->nrules; i++) {
		const struct filter_rule *r = &fn->rules[i];
		if (r->src_all)
			return true;
		if ((node->has_v4 && ir_aset_overlaps(&r->src, IR_V4, node->v4, node->v4)) ||
		    (node->has_v6 && ir_aset_overlaps(&r->src, IR_V6, node->v6, node->v6)))
			return true;
		for (size_t k = 0; k < n->served.n; k++) {
			const struct ir_range *s = &n->served.v[k];
			if (!is_exit(s) && ir_aset_overlaps(&r->src, s->family, s->lo, s->hi))
				return true;
		}
	}
	return false;
}

/* Is node I the primary for its served route R: no earlier node serves it? */
static bool is_primary(const struct filter_set *s, size_t i, const struct ir_range *r)
{
	for (size_t j = 0; j < i; j++)
		for (size_t k = 0; k < s->nodes[j].served.n; k++) {
			const struct ir_range *o = &s->nodes[j].served.v[k];
			if (o->family == r->family && o->lo == r->lo && o->hi == r->hi)
				return false;
		}
	return true;
}

/* Does source set SRC cover node VIEWER: its addresses or a subnet route it serves? */
static bool src_covers(const struct filter_rule *fr, const struct filter_node *viewer)
{
	const struct inv_node *n = viewer->node;
	if (fr->src_all || (n->has_v4 && ir_aset_overlaps(&fr->src, IR_V4, n->v4, n->v4)) ||
	    (n->has_v6 && ir_aset_overlaps(&fr->src, IR_V6, n->v6, n->v6)))
		return true;
	for (size_t k = 0; k < viewer->served.n; k++) {
		const struct ir_range *s = &viewer->served.v[k];
		if (!is_exit(s) && ir_aset_overlaps(&fr->src, s->family, s->lo, s->hi))
			return true;
	}
	return false;
}

/* May VIEWER reach route R through its server FN: a rule there with a
 * source covering the viewer and a destination overlapping R? */
static bool route_reachable(const struct filter_node *fn, const struct filter_node *viewer,
			    const struct ir_range *r)
{
	for (size_t i = 0; i < fn->nrules; i++) {
		const struct filter_rule *fr = &fn->rules[i];
		if (!src_covers(fr, viewer))
			continue;
		for (size_t k = 0; k < fr->ndst; k++) {
			const struct filter_dst *d = &fr->dst[k];
			if (d->any || (d->family == r->family && d->lo <= r->hi && r->lo <= d->hi))
				return true;
		}
	}
	return false;
}

/* Does the viewer's own filter FN accept packets from route R? */
static bool route_admitted(const struct filter_node *fn, const struct ir_range *r)
{
	for (size_t i = 0; i < fn->nrules; i++)
		if (fn->rules[i].src_all || ir_aset_overlaps(&fn->rules[i].src, r->family, r->lo, r->hi))
			return true;
	return false;
}

/* Does FN serve exactly prefix R too (a secondary router of the same route)? */
static bool serves_exactly(const struct filter_node *fn, const struct ir_range *r)
{
	for (size_t k = 0; k < fn->served.n; k++)
		if (fn->served.v[k].family == r->family && fn->served.v[k].lo == r->lo && fn->served.v[k].hi == r->hi)
			return true;
	return false;
}

/* With "via", a viewer's router for route R is chosen by the policy: the
 * first node serving R whose filter holds a via rule from the viewer to R.
 * -1 when no via rule applies (the route's primary serves it). */
static bool rule_to_route(const struct filter_rule *fr, const struct filter_node *viewer, const struct ir_range *r)
{
	if (!src_covers(fr, viewer))
		return false;
	for (size_t k = 0; k < fr->ndst; k++)
		if (!fr->dst[k].any && fr->dst[k].family == r->family && fr->dst[k].lo <= r->hi &&
		    r->lo <= fr->dst[k].hi)
			return true;
	return false;
}

static long via_router(const struct filter_set *s, const struct filter_node *viewer, const struct ir_range *r)
{
	long found = -1;
	for (size_t j = 0; j < s->nnodes; j++) {
		if (!serves_exactly(&s->nodes[j], r))
			continue;
		const struct filter_node *fn = &s->nodes[j];
		for (size_t i = 0; i < fn->nrules; i++) {
			const struct filter_rule *fr = &fn->rules[i];
			if (!fr->from || !rule_to_route(fr, viewer, r))
				continue;
			if (!fr->from->nvia)
				return -1;   /* a rule without via: the primary serves it */
			if (found < 0)
				found = (long)j;
		}
	}
	return found;
}

static int make_peer(const struct filter_set *s, size_t viewer, size_t j, struct routes_peer *p)
{
	const struct inv_node *n = s->nodes[j].node;
	int rc = 0;
	p->node = j;
	if (n->has_v4)
		rc = ir_aset_add(&p->allowed_ips, IR_V4, n->v4, n->v4);
	if (rc == 0 && n->has_v6)
		rc = ir_aset_add(&p->allowed_ips, IR_V6, n->v6, n->v6);
	for (size_t k = 0; rc == 0 && k < s->nodes[j].served.n; k++) {
		const struct ir_range *r = &s->nodes[j].served.v[k];
		if (is_exit(r)) {
			/* An exit node's /0 routes: to viewers it forwards for. */
			if (route_reachable(&s->nodes[j], &s->nodes[viewer], r))
				rc = ir_aset_add(&p->allowed_ips, r->family, r->lo, r->hi);
			continue;
		}
		long via = via_router(s, &s->nodes[viewer], r);
		if (via >= 0 && via != (long)j)
			continue;
		if ((via < 0 && !is_primary(s, j, r)) ||
		    !(route_reachable(&s->nodes[j], &s->nodes[viewer], r) || route_admitted(&s->nodes[viewer], r) ||
		      serves_exactly(&s->nodes[viewer], r)))
			continue;
		rc = ir_aset_add(&p->allowed_ips, r->family, r->lo, r->hi);
		if (rc == 0)
			rc = ir_aset_add(&p->primary_routes, r->family, r->lo, r->hi);
	}
	return rc;
}

int routes_compute(const struct inv *inv, const struct filter_set *s, struct routes_view **out)
{
	struct routes_view *v = calloc(inv->nnodes + 1, sizeof(*v));
	int rc = v ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < inv->nnodes; i++) {
		v[i].peers = calloc(inv->nnodes + 1, sizeof(*v[i].peers));
		if (!v[i].peers) {
			rc = -ENOMEM;
			break;
		}
		for (size_t j = 0; rc == 0 && j < inv->nnodes; j++) {
			if (j == i || !(filter_admits(&s->nodes[j], &s->nodes[i]) ||
					filter_admits(&s->nodes[i], &s->nodes[j])))
				continue;
			rc = make_peer(s, i, j, &v[i].peers[v[i].npeers++]);
		}
	}
	if (rc < 0) {
		routes_free(v, v ? inv->nnodes : 0);
		return rc;
	}
	*out = v;
	return 0;
}

void routes_free(struct routes_view *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < v[i].npeers; j++) {
			ir_aset_free(&v[i].peers[j].allowed_ips);
			ir_aset_free(&v[i].peers[j].primary_routes);
		}
		free(v[i].peers);
	}
	free(v);
}

static cJSON *prefixes_json(const struct ir_aset *a)
{
	cJSON *arr = cJSON_CreateArray();
	char buf[IR_RANGE_STRLEN], addr[IR_ADDR_STRLEN];
	unsigned len;
	for (size_t i = 0; arr && i < a->n; i++) {
		const struct ir_range *r = &a->v[i];
		if (ir_range_is_prefix(r->family, r->lo, r->hi, &len))
			snprintf(buf, sizeof(buf), "%s/%u", ir_addr_format(r->family, r->lo, addr), len);
		else
			ir_range_format(r->family, r->lo, r->hi, buf);
		cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
	}
	return arr;
}

int routes_write(FILE *out, const struct inv *inv, const struct routes_view *v)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return -ENOMEM;
	for (size_t i = 0; i < inv->nnodes; i++) {
		cJSON *node = cJSON_AddObjectToObject(root, inv->nodes[i].name);
		for (size_t j = 0; node && j < v[i].npeers; j++) {
			const struct routes_peer *p = &v[i].peers[j];
			cJSON *po = cJSON_AddObjectToObject(node, inv->nodes[p->node].name);
			cJSON_AddItemToObject(po, "allowed_ips", prefixes_json(&p->allowed_ips));
			cJSON_AddItemToObject(po, "primary_routes", prefixes_json(&p->primary_routes));
		}
	}
	return ts_print_json(out, root);
}
