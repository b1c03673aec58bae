/* agent_fpatch: filter patches applied to the table model, host by host. */
#include "agent_fpatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ir.h"
#include "mem.h"
#include "ts.h"

struct fp_host {
	uint8_t family;
	addr_u128 a;
	uint32_t count;		/* entries naming it ("100.64.0.1" and "100.64.0.1/32") */
};

struct fp_rule {
	cJSON *rest;		/* the rule without SrcIPs */
	struct fp_host *hosts;	/* by family, then address */
	size_t nhosts, cap;
	struct addr_set nets;	/* the other sources */
};

struct agent_fpatch {
	struct fp_rule *r;
	size_t n;
};

void agent_fpatch_free(struct agent_fpatch *fp)
{
	if (!fp)
		return;
	for (size_t i = 0; i < fp->n; i++) {
		cJSON_Delete(fp->r[i].rest);
		free(fp->r[i].hosts);
		addr_set_free(&fp->r[i].nets);
	}
	free(fp->r);
	free(fp);
}

static int host_cmp(const struct fp_host *x, uint8_t family, addr_u128 a)
{
	if (x->family != family)
		return x->family < family ? -1 : 1;
	return x->a < a ? -1 : x->a > a;
}

/* The index of host (FAMILY, A) in R's hosts, or where it would go. */
static size_t host_find(const struct fp_rule *r, uint8_t family, addr_u128 a, bool *found)
{
	size_t lo = 0, hi = r->nhosts;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (host_cmp(&r->hosts[mid], family, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < r->nhosts && host_cmp(&r->hosts[lo], family, a) == 0;
	return lo;
}

static int host_add(struct fp_rule *r, uint8_t family, addr_u128 a)
{
	bool found;
	size_t at = host_find(r, family, a, &found);
	if (found) {
		r->hosts[at].count++;
		return 0;
	}
	if (MEM_RESERVE(r->hosts, r->cap, r->nhosts + 1) < 0)
		return -ENOMEM;
	memmove(&r->hosts[at + 1], &r->hosts[at], (r->nhosts - at) * sizeof(*r->hosts));
	r->hosts[at] = (struct fp_host){ family, a, 1 };
	r->nhosts++;
	return 0;
}

static bool host_del(struct fp_rule *r, uint8_t family, addr_u128 a)
{
	bool found;
	size_t at = host_find(r, family, a, &found);
	if (!found)
		return false;
	if (--r->hosts[at].count == 0) {
		memmove(&r->hosts[at], &r->hosts[at + 1], (r->nhosts - at - 1) * sizeof(*r->hosts));
		r->nhosts--;
	}
	return true;
}

/* A single host's entry: true with its address. */
static bool parse_host(const char *s, enum addr_family *f, addr_u128 *a)
{
	addr_u128 hi;
	return strcmp(s, "*") && addr_range_parse(s, true, f, a, &hi) && *a == hi;
}

/* R's sources from SRCS (a SrcIPs array, or NULL).  0, -EINVAL, -ENOMEM. */
static int rule_sources(struct fp_rule *r, const cJSON *srcs)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, srcs) {
		enum addr_family f;
		addr_u128 lo, hi;
		if (!cJSON_IsString(e))
			return -EINVAL;
		int rc;
		if (parse_host(e->valuestring, &f, &lo))
			rc = host_add(r, (uint8_t)f, lo);
		else if (strcmp(e->valuestring, "*") == 0)
			rc = addr_set_add(&r->nets, ADDR_V4, 0, addr_family_max(ADDR_V4)) < 0 ||
					     addr_set_add(&r->nets, ADDR_V6, 0, addr_family_max(ADDR_V6)) < 0
				     ? -ENOMEM
				     : 0;
		else if (addr_range_parse(e->valuestring, true, &f, &lo, &hi))
			rc = addr_set_add(&r->nets, f, lo, hi);
		else
			rc = -EINVAL;
		if (rc < 0)
			return rc;
	}
	return 0;
}

struct agent_fpatch *agent_fpatch_new(cJSON *rules)
{
	struct agent_fpatch *fp = calloc(1, sizeof(*fp));
	int rc = -ENOMEM;
	size_t count = (size_t)cJSON_GetArraySize(rules);
	if (!fp || !(fp->r = calloc(count + 1, sizeof(*fp->r))))
		goto fail;
	rc = -EINVAL;
	if (!cJSON_IsArray(rules))
		goto fail;
	while (rules->child) {
		struct fp_rule *r = &fp->r[fp->n++];
		r->rest = cJSON_DetachItemViaPointer(rules, rules->child);
		cJSON *srcs = cJSON_DetachItemFromObjectCaseSensitive(r->rest, "SrcIPs");
		rc = rule_sources(r, srcs);
		cJSON_Delete(srcs);
		if (rc < 0)
			goto fail;
	}
	cJSON_Delete(rules);
	return fp;
fail:
	cJSON_Delete(rules);
	agent_fpatch_free(fp);
	errno = -rc;
	return NULL;
}

static bool covers(const struct fp_rule *r, enum addr_family f, addr_u128 a)
{
	bool found;
	host_find(r, (uint8_t)f, a, &found);
	return found || addr_set_contains(&r->nets, f, a, a);
}

/* The FilterRules of host (F, A) alone: each rule covering it, with
 * SrcIPs naming only it.  NULL on ENOMEM. */
static cJSON *host_rules(const struct agent_fpatch *fp, enum addr_family f, addr_u128 a)
{
	char text[64];
	cJSON *arr = cJSON_CreateArray();
	addr_format(f, a, text);
	for (size_t i = 0; arr && i < fp->n; i++) {
		if (!covers(&fp->r[i], f, a))
			continue;
		cJSON *rule = cJSON_Duplicate(fp->r[i].rest, true), *srcs;
		if (!rule || !cJSON_AddItemToArray(arr, rule)) {
			cJSON_Delete(rule);
			goto fail;
		}
		/* Once in ARR, the rule and what it holds go with it. */
		if (!(srcs = cJSON_AddArrayToObject(rule, "SrcIPs")) ||
		    !cJSON_AddItemToArray(srcs, cJSON_CreateString(text)))
			goto fail;
	}
	return arr;
fail:
	cJSON_Delete(arr);
	return NULL;
}

/* Give host (F, A) in T the rights FP's rules give it now.  0, 1, -errno. */
static int move_host(const struct agent_fpatch *fp, enum addr_family f, addr_u128 a, struct nftm_table *t,
		     const struct nftm_opts *opts, const struct nftm_node *node, char *err, size_t errlen)
{
	struct ir_flows flows = { 0 };
	struct nftm_table *rights = NULL;
	cJSON *rules = host_rules(fp, f, a);
	int rc = -ENOMEM;
	if (!rules)
		goto out;
	if ((rc = ts_rules_to_ir(rules, &flows, err, errlen)) < 0)
		goto out;
	if (!(rights = nftm_build(opts, node, &flows))) {
		rc = -errno;
		goto out;
	}
	rc = nftm_move_host(t, rights, f, a);
out:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "filter patch: out of memory");
	nftm_free(rights);
	ir_free(&flows);
	cJSON_Delete(rules);
	return rc;
}

/* Every edit of V a single host of an existing rule, every deletion one
 * the rule holds: then the patch can be applied here. */
static bool patch_fits(const struct agent_fpatch *fp, const struct ctl_filter_patch *v, size_t n)
{
	enum addr_family f;
	addr_u128 a;
	bool found;
	for (size_t i = 0; i < n; i++) {
		if (v[i].rule >= fp->n)
			return false;
		for (size_t k = 0; k < v[i].n_add; k++)
			if (!parse_host(v[i].add[k].src, &f, &a))
				return false;
		for (size_t k = 0; k < v[i].n_del; k++) {
			if (!parse_host(v[i].del[k].src, &f, &a))
				return false;
			host_find(&fp->r[v[i].rule], (uint8_t)f, a, &found);
			if (!found)
				return false;
		}
	}
	return true;
}

static int hosts_cmp(const void *x, const void *y)
{
	const struct fp_host *p = x, *q = y;
	return host_cmp(p, q->family, q->a);
}

/* The hosts V names, each once, into *OUT (*N).  0 or -ENOMEM. */
static int patch_hosts(const struct ctl_filter_patch *v, size_t n, struct fp_host **out, size_t *nout)
{
	size_t total = 0, k = 0;
	for (size_t i = 0; i < n; i++)
		total += v[i].n_add + v[i].n_del;
	struct fp_host *h = calloc(total + 1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < v[i].n_add + v[i].n_del; j++) {
			const char *s = j < v[i].n_add ? v[i].add[j].src : v[i].del[j - v[i].n_add].src;
			enum addr_family f;
			parse_host(s, &f, &h[k].a);
			h[k++].family = (uint8_t)f;
		}
	qsort(h, k, sizeof(*h), hosts_cmp);
	*nout = 0;
	for (size_t i = 0; i < k; i++)
		if (!*nout || hosts_cmp(&h[*nout - 1], &h[i]))
			h[(*nout)++] = h[i];
	*out = h;
	return 0;
}

/* The rules' host lists as V leaves them.  0 or -ENOMEM. */
static int update_rules(struct agent_fpatch *fp, const struct ctl_filter_patch *v, size_t n)
{
	enum addr_family f;
	addr_u128 a;
	for (size_t i = 0; i < n; i++) {
		struct fp_rule *r = &fp->r[v[i].rule];
		for (size_t k = 0; k < v[i].n_del; k++) {
			parse_host(v[i].del[k].src, &f, &a);
			host_del(r, (uint8_t)f, a);
		}
		for (size_t k = 0; k < v[i].n_add; k++) {
			parse_host(v[i].add[k].src, &f, &a);
			if (host_add(r, (uint8_t)f, a) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

int agent_fpatch_apply(struct agent_fpatch *fp, const struct ctl_filter_patch *v, size_t n, struct nftm_table *t,
		       const struct nftm_opts *opts, const struct nftm_node *node, bool *took_away, bool *untouched,
		       char *err, size_t errlen)
{
	struct fp_host *hosts = NULL;
	size_t nhosts = 0;
	int rc = 1;
	*untouched = true;
	*took_away = false;
	if (!patch_fits(fp, v, n))
		return 1;
	for (size_t i = 0; i < n; i++)
		*took_away |= v[i].n_del > 0;
	*untouched = false;
	if ((rc = patch_hosts(v, n, &hosts, &nhosts)) < 0 || (rc = update_rules(fp, v, n)) < 0) {
		snprintf(err, errlen, "filter patch: out of memory");
		goto out;
	}
	for (size_t i = 0; i < nhosts && rc == 0; i++)
		rc = move_host(fp, hosts[i].family, hosts[i].a, t, opts, node, err, errlen);
out:
	free(hosts);
	return rc;
}
