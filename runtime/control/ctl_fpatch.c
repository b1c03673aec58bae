/* ctl_fpatch: filter patches (ctl_netmap.h): computed from two FilterRule
 * texts, carried in a delta's JSON, applied to the old text by splicing
 * one array's elements, without parsing the rest of the filter. */
#include "ctl_netmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_SRC_MAX 64		/* one SrcIPs entry: an address, prefix, range or "*" */

static void patch_clear(struct ctl_filter_patch *p)
{
	for (size_t k = 0; k < p->n_del; k++)
		free(p->del[k].src);
	for (size_t k = 0; k < p->n_add; k++)
		free(p->add[k].src);
	free(p->del);
	free(p->add);
	memset(p, 0, sizeof(*p));
}

void ctl_filter_patch_free(struct ctl_filter_patch *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		patch_clear(&v[i]);
	free(v);
}

/* A source a patch may carry: printed by cJSON as it is (no escapes). */
static bool src_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= CTL_SRC_MAX && strspn(s, "0123456789abcdefABCDEF.:/*-") == n;
}

/* ---- diff (the sender) ---- */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The strings of SrcIPs array A into *V (*N): 0, 1 when an entry is not
 * a patchable string, -ENOMEM. */
static int srcs_of(const cJSON *a, const char ***v, size_t *n)
{
	const cJSON *e;
	size_t k = 0;
	if (!(*v = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(**v))))
		return -ENOMEM;
	cJSON_ArrayForEach(e, a) {
		if (!cJSON_IsString(e) || !src_ok(e->valuestring))
			return 1;
		(*v)[k++] = e->valuestring;
	}
	*n = k;
	return 0;
}

/* V (N) sorted into *SORTED; false when an entry repeats or out of
 * memory. */
static bool sorted_unique(const char **v, size_t n, const char ***sorted)
{
	if (!(*sorted = calloc(n + 1, sizeof(**sorted))))
		return false;
	memcpy(*sorted, v, n * sizeof(*v));
	qsort(*sorted, n, sizeof(**sorted), str_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp((*sorted)[i - 1], (*sorted)[i]) == 0)
			return false;
	return true;
}

static bool in(const char *s, const char **sorted, size_t n)
{
	return bsearch(&s, sorted, n, sizeof(*sorted), str_cmp) != NULL;
}

/* Append {AT, copy of S} to *V. */
static int edit_push(struct ctl_src_edit **v, size_t *n, size_t at, const char *s)
{
	struct ctl_src_edit *e = &(*v)[(*n)++];
	e->at = (uint32_t)at;
	return (e->src = strdup(s)) ? 0 : -ENOMEM;
}

/* The edits turning A (N_A entries) into B (N_B), both past their common
 * head of SKIP entries, into P (indexes SKIP on): 0, 1 when no patch can
 * say it (a repeat, common entries reordered), -ENOMEM. */
static int middle_diff(const char **a, size_t n_a, const char **b, size_t n_b, size_t skip,
		       struct ctl_filter_patch *p)
{
	const char **sa = NULL, **sb = NULL;
	size_t i = 0, j = 0;
	int rc = 1;
	if (!sorted_unique(a, n_a, &sa) || !sorted_unique(b, n_b, &sb))
		goto out;
	/* The entries both have must keep their order: then the new array is
	 * the old one less DEL with ADD inserted at their new places. */
	for (;;) {
		while (i < n_a && !in(a[i], sb, n_b))
			i++;
		while (j < n_b && !in(b[j], sa, n_a))
			j++;
		if (i == n_a || j == n_b)
			break;
		if (strcmp(a[i++], b[j++]))
			goto out;
	}
	rc = -ENOMEM;
	if (!(p->del = calloc(n_a + 1, sizeof(*p->del))) || !(p->add = calloc(n_b + 1, sizeof(*p->add))))
		goto out;
	for (i = 0; i < n_a; i++)
		if (!in(a[i], sb, n_b) && edit_push(&p->del, &p->n_del, skip + i, a[i]) < 0)
			goto out;
	for (j = 0; j < n_b; j++)
		if (!in(b[j], sa, n_a) && edit_push(&p->add, &p->n_add, skip + j, b[j]) < 0)
			goto out;
	rc = 0;
out:
	free(sa);
	free(sb);
	return rc;
}

/* The edits turning SrcIPs OA into NA into P: 0, 1 when no patch can say
 * it, -ENOMEM.  A peer joining changes one entry of thousands: the common
 * head and tail are compared in order, and only what lies between is
 * sorted and matched (a patch is positional, so an entry of the middle
 * that repeats one outside it is no matter). */
static int srcs_diff(const cJSON *oa, const cJSON *na, struct ctl_filter_patch *p)
{
	const char **a = NULL, **b = NULL;
	size_t n_a = 0, n_b = 0, head = 0, tail = 0;
	int rc;
	if ((rc = srcs_of(oa, &a, &n_a)) != 0 || (rc = srcs_of(na, &b, &n_b)) != 0)
		goto out;
	while (head < n_a && head < n_b && strcmp(a[head], b[head]) == 0)
		head++;
	while (tail < n_a - head && tail < n_b - head && strcmp(a[n_a - 1 - tail], b[n_b - 1 - tail]) == 0)
		tail++;
	rc = middle_diff(a + head, n_a - head - tail, b + head, n_b - head - tail, head, p);
out:
	free(a);
	free(b);
	return rc;
}

/* Rules X and Y alike but for their SrcIPs (members in the same order):
 * their SrcIPs arrays in *XS and *YS (NULL when neither has one). */
static bool alike(const cJSON *x, const cJSON *y, const cJSON **xs, const cJSON **ys)
{
	const cJSON *a = x->child, *b = y->child;
	*xs = *ys = NULL;
	for (; a && b; a = a->next, b = b->next) {
		if (!a->string || !b->string || strcmp(a->string, b->string))
			return false;
		if (strcmp(a->string, "SrcIPs") == 0 && cJSON_IsArray(a) && cJSON_IsArray(b)) {
			*xs = a;
			*ys = b;
		} else if (!cJSON_Compare(a, b, true)) {
			return false;
		}
	}
	return !a && !b;
}

static int filter_diff(const cJSON *o, const cJSON *n, struct ctl_filter_patch **out, size_t *nout)
{
	size_t count = (size_t)cJSON_GetArraySize(o), edits = 0, srcs = 0;
	const cJSON *x = o->child, *y = n->child, *xs, *ys;
	struct ctl_filter_patch *v = calloc(count + 1, sizeof(*v));
	size_t nv = 0;
	int rc = v ? 0 : -ENOMEM;
	for (size_t r = 0; rc == 0 && x && y; r++, x = x->next, y = y->next) {
		if (!cJSON_IsObject(x) || !cJSON_IsObject(y) || !alike(x, y, &xs, &ys)) {
			rc = 1;
			break;
		}
		if (!xs)
			continue;
		struct ctl_filter_patch *p = &v[nv];
		p->rule = (uint32_t)r;
		if ((rc = srcs_diff(xs, ys, p)) == 0 && (p->n_del || p->n_add)) {
			nv++;
			edits += p->n_del + p->n_add;
		} else {
			patch_clear(p);
		}
		srcs += (size_t)cJSON_GetArraySize(ys);
	}
	/* A patch as big as the sources says nothing cheaper than the filter. */
	if (rc == 0 && (edits > CTL_MAX_PATCH || edits > srcs))
		rc = 1;
	if (rc == 0) {
		*out = v;
		*nout = nv;
	} else {
		ctl_filter_patch_free(v, nv);
	}
	return rc;
}

/* Byte AT of TEXT lies in a SrcIPs array of compact JSON: the nearest
 * bracket before it opens one. */
static bool in_srcips(const char *text, size_t at)
{
	static const char key[] = "\"SrcIPs\":";
	size_t k = sizeof(key) - 1;
	while (at > 0 && text[at - 1] != '[' && text[at - 1] != ']')
		at--;
	return at > k && text[at - 1] == '[' && memcmp(text + at - 1 - k, key, k) == 0;
}

/* Whether the texts' first and last differences both lie in SrcIPs
 * arrays: else no patch can say it, and nothing need be parsed (a relay's
 * filter of megabytes whose ports changed is sent whole at the cost of a
 * comparison, as before patches). */
static bool maybe_patch(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), head = 0, tail = 0;
	while (head < la && head < lb && a[head] == b[head])
		head++;
	while (tail < la - head && tail < lb - head && a[la - 1 - tail] == b[lb - 1 - tail])
		tail++;
	return in_srcips(a, head) && in_srcips(b, head) && in_srcips(a, la - tail) && in_srcips(b, lb - tail);
}

int ctl_filter_diff(const char *old, const char *new_, struct ctl_filter_patch **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	old = old ? old : "[]";
	new_ = new_ ? new_ : "[]";
	if (!maybe_patch(old, new_))
		return 1;
	cJSON *o = cJSON_Parse(old), *nj = cJSON_Parse(new_);
	int rc = 1;
	if (!o || !nj)
		rc = -ENOMEM;
	else if (cJSON_IsArray(o) && cJSON_IsArray(nj) && cJSON_GetArraySize(o) == cJSON_GetArraySize(nj))
		rc = filter_diff(o, nj, out, n);
	cJSON_Delete(o);
	cJSON_Delete(nj);
	return rc;
}

/* ---- JSON ---- */

static bool add_edits(cJSON *o, const char *field, const struct ctl_src_edit *v, size_t n)
{
	cJSON *a = cJSON_AddArrayToObject(o, field);
	for (size_t i = 0; a && i < n; i++) {
		cJSON *e = cJSON_CreateObject();
		if (!cJSON_AddItemToArray(a, e) || !cJSON_AddNumberToObject(e, "at", v[i].at) ||
		    !cJSON_AddStringToObject(e, "src", v[i].src))
			return false;
	}
	return a != NULL;
}

bool ctl_filter_patch_add_json(cJSON *obj, const struct ctl_filter_patch *v, size_t n)
{
	cJSON *a = cJSON_AddArrayToObject(obj, "filter_patch");
	for (size_t i = 0; a && i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!cJSON_AddItemToArray(a, o) || !cJSON_AddNumberToObject(o, "rule", v[i].rule) ||
		    !add_edits(o, "del", v[i].del, v[i].n_del) || !add_edits(o, "add", v[i].add, v[i].n_add))
			return false;
	}
	return a != NULL;
}

/* FIELD of O: edits, their indexes strictly rising. */
static int edits_from_json(const cJSON *o, const char *field, struct ctl_src_edit **v, size_t *n,
			   const char *path, struct ctl_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, field), *e;
	uint64_t at;
	int rc = 0;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > CTL_MAX_PATCH)
		return ctl_json_fail(err, "%s.%s: not an array of at most %d edits", path, field, CTL_MAX_PATCH);
	if (!(*v = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(**v))))
		return -ENOMEM;
	cJSON_ArrayForEach(e, a) {
		struct ctl_src_edit *x = &(*v)[*n];
		if (!cJSON_IsObject(e))
			return ctl_json_fail(err, "%s.%s: not an object", path, field);
		if ((rc = ctl_json_uint(e, "at", true, CTL_MAX_SRCS, &at, path, err)) ||
		    (rc = ctl_json_string(e, "src", true, CTL_SRC_MAX, &x->src, path, err)))
			return rc;
		x->at = (uint32_t)at;
		(*n)++;
		if (!src_ok(x->src) || (*n > 1 && x->at <= x[-1].at))
			return ctl_json_fail(err, "%s.%s: bad source \"%s\" or index %u out of order", path, field,
					     x->src, x->at);
	}
	return 0;
}

int ctl_filter_patch_from_json(const cJSON *obj, struct ctl_filter_patch **out, size_t *nout, bool *present,
			       struct ctl_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, "filter_patch"), *e;
	char path[48];
	uint64_t rule;
	size_t n = 0;
	int rc = 0;
	*present = a != NULL;
	if (!a)
		return 0;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > CTL_MAX_PATCH)
		return ctl_json_fail(err, "filter_patch: not an array of at most %d rules", CTL_MAX_PATCH);
	struct ctl_filter_patch *v = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	cJSON_ArrayForEach(e, a) {
		snprintf(path, sizeof(path), "filter_patch[%zu]", n);
		struct ctl_filter_patch *p = &v[n++];
		if (!cJSON_IsObject(e)) {
			rc = ctl_json_fail(err, "%s: not an object", path);
			break;
		}
		if ((rc = ctl_json_uint(e, "rule", true, CTL_MAX_PATCH, &rule, path, err)) ||
		    (rc = edits_from_json(e, "del", &p->del, &p->n_del, path, err)) ||
		    (rc = edits_from_json(e, "add", &p->add, &p->n_add, path, err)))
			break;
		p->rule = (uint32_t)rule;
		if (n > 1 && p->rule <= p[-1].rule) {
			rc = ctl_json_fail(err, "%s: rule %u out of order", path, p->rule);
			break;
		}
	}
	if (rc) {
		ctl_filter_patch_free(v, n);
		return rc;
	}
	*out = v;
	*nout = n;
	return 0;
}

/* ---- applying (the node) ---- */

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* Past the JSON value at P (P's text is JSON: cJSON printed it), or NULL
 * when the text ends first. */
static const char *skip_value(const char *p)
{
	int depth = 0;
	bool str = false;
	for (p = ws(p); *p; p++) {
		if (str) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				str = false;
			else
				continue;
			if (!str && depth == 0)
				return p + 1;
			continue;
		}
		if (*p == '"')
			str = true;
		else if (*p == '[' || *p == '{')
			depth++;
		else if (*p == ']' || *p == '}') {
			if (depth-- == 0)
				return p;	/* a scalar ended by its container */
			if (depth == 0)
				return p + 1;
		} else if (*p == ',' && depth == 0)
			return p;
	}
	return str || depth ? NULL : p;
}

/* The SrcIPs array of the rule object at P: its '[' in *OPEN and its
 * entries' spans (SPAN[2i], SPAN[2i+1]) in *SPAN, *N of them; past the
 * rule in *END.  0, -EINVAL, -ENOMEM. */
static int rule_srcs(const char *p, const char **open, const char ***span, size_t *n, const char **end)
{
	size_t cap = 0;
	*open = NULL;
	if (*(p = ws(p)) != '{')
		return -EINVAL;
	for (p = ws(p + 1); *p == '"'; p = ws(p + (*p == ','))) {
		const char *key = p;
		if (!(p = skip_value(p)) || *(p = ws(p)) != ':')
			return -EINVAL;
		p = ws(p + 1);
		if ((size_t)(p - key) == 9 && !strncmp(key, "\"SrcIPs\"", 8) && *p == '[') {
			*open = p;
			for (p = ws(p + 1); *p && *p != ']'; p = ws(p + (*p == ','))) {
				if (*n + 1 >= cap / 2) {
					const char **s = realloc(*span, (cap = cap * 2 + 64) * sizeof(*s));
					if (!s)
						return -ENOMEM;
					*span = s;
				}
				(*span)[2 * *n] = p;
				if (!(p = skip_value(p)))
					return -EINVAL;
				(*span)[2 * (*n)++ + 1] = p;
			}
			if (*p++ != ']')
				return -EINVAL;
		} else if (!(p = skip_value(p))) {
			return -EINVAL;
		}
		p = ws(p);
	}
	if (*p != '}' || !*open)
		return -EINVAL;
	*end = p + 1;
	return 0;
}

static bool span_is(const char *a, const char *b, const char *src)
{
	size_t n = strlen(src);
	return (size_t)(b - a) == n + 2 && a[0] == '"' && !memcmp(a + 1, src, n) && a[n + 1] == '"';
}

/* Write rule P's new SrcIPs entries (the old ones SPAN, N, less P's
 * deletions, P's additions inserted) at *W.  0 or -EINVAL. */
static int emit_srcs(char **w, const char **span, size_t n, const struct ctl_filter_patch *p)
{
	size_t total = n - p->n_del + p->n_add, i = 0, d = 0, a = 0;
	if (p->n_del > n)
		return -EINVAL;
	for (size_t j = 0; j < total; j++) {
		if (j)
			*(*w)++ = ',';
		if (a < p->n_add && p->add[a].at == j) {
			*w += sprintf(*w, "\"%s\"", p->add[a++].src);
			continue;
		}
		for (; d < p->n_del && i < n && p->del[d].at == i; d++, i++)
			if (!span_is(span[2 * i], span[2 * i + 1], p->del[d].src))
				return -EINVAL;
		if (i >= n)
			return -EINVAL;
		memcpy(*w, span[2 * i], (size_t)(span[2 * i + 1] - span[2 * i]));
		*w += span[2 * i + 1] - span[2 * i];
		i++;
	}
	for (; d < p->n_del && i < n && p->del[d].at == i; d++, i++)
		if (!span_is(span[2 * i], span[2 * i + 1], p->del[d].src))
			return -EINVAL;
	return i == n && d == p->n_del && a == p->n_add ? 0 : -EINVAL;
}

static size_t patch_room(const struct ctl_filter_patch *v, size_t n)
{
	size_t room = 1;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].n_add; k++)
			room += strlen(v[i].add[k].src) + 3;
	return room;
}

int ctl_filter_patch_apply(const char *old, const struct ctl_filter_patch *v, size_t n, char **out)
{
	const char *p = ws(old ? old : "[]"), *from = p, *open, *end, **span = NULL;
	char *text = malloc(strlen(p) + patch_room(v, n)), *w = text;
	size_t rule = 0, nspan;
	int rc = -ENOMEM;
	if (!text)
		goto out;
	rc = -EINVAL;
	if (*p++ != '[')
		goto out;
	for (size_t i = 0; i < n; i++) {
		for (; rule < v[i].rule; rule++)
			if (!(p = skip_value(p)) || *(p = ws(p)) != ',' || !(p = ws(p + 1)))
				goto out;
		nspan = 0;
		if ((rc = rule_srcs(p, &open, &span, &nspan, &end)) < 0)
			goto out;
		memcpy(w, from, (size_t)(open + 1 - from));
		w += open + 1 - from;
		if ((rc = emit_srcs(&w, span, nspan, &v[i])) < 0)
			goto out;
		from = nspan ? span[2 * nspan - 1] : open + 1;
		p = end;
		rule++;
		if (i + 1 < n && (*(p = ws(p)) != ',' || !(p = ws(p + 1)))) {
			rc = -EINVAL;
			goto out;
		}
	}
	strcpy(w, from);
	*out = text;
	text = NULL;
	rc = 0;
out:
	free(span);
	free(text);
	return rc;
}
