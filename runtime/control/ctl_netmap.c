/* ctl_netmap: netmaps, their JSON, deltas. */
#include "ctl_netmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* ---- memory ---- */

static void ctl_self_free(struct ctl_self *s)
{
	free(s->name);
	ctl_prefixes_free(&s->addresses);
	memset(s, 0, sizeof(*s));
}

static int ctl_self_copy(struct ctl_self *dst, const struct ctl_self *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->id = src->id;
	dst->name = src->name ? strdup(src->name) : NULL;
	if ((src->name && !dst->name) || ctl_prefixes_copy(&dst->addresses, &src->addresses) < 0) {
		ctl_self_free(dst);
		return -ENOMEM;
	}
	return 0;
}

static bool ctl_str_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool ctl_self_equal(const struct ctl_self *a, const struct ctl_self *b)
{
	return a->id == b->id && ctl_str_equal(a->name, b->name) &&
	       ctl_prefixes_equal(&a->addresses, &b->addresses);
}

static bool backups_equal(const struct ctl_backup_routes *a, const struct ctl_backup_routes *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].rank != b->v[i].rank || memcmp(&a->v[i].prefix, &b->v[i].prefix, sizeof(a->v[i].prefix)))
			return false;
	return true;
}

static int backups_copy(struct ctl_backup_routes *dst, const struct ctl_backup_routes *src)
{
	dst->n = 0;
	if (!(dst->v = calloc(src->n + 1, sizeof(*dst->v))))
		return -ENOMEM;
	memcpy(dst->v, src->v, src->n * sizeof(*src->v));
	dst->n = src->n;
	return 0;
}

void ctl_peer_free(struct ctl_peer *p)
{
	free(p->backup_routes.v);
	free(p->name);
	ctl_endpoints_free(&p->endpoints);
	ctl_prefixes_free(&p->addresses);
	ctl_prefixes_free(&p->allowed_ips);
	memset(p, 0, sizeof(*p));
}

int ctl_peer_copy(struct ctl_peer *dst, const struct ctl_peer *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->id = src->id;
	memcpy(dst->wg_key, src->wg_key, 32);
	dst->keepalive = src->keepalive;
	dst->name = src->name ? strdup(src->name) : NULL;
	if ((src->name && !dst->name) || ctl_endpoints_copy(&dst->endpoints, &src->endpoints) < 0 ||
	    ctl_prefixes_copy(&dst->addresses, &src->addresses) < 0 ||
	    ctl_prefixes_copy(&dst->allowed_ips, &src->allowed_ips) < 0 ||
	    backups_copy(&dst->backup_routes, &src->backup_routes) < 0) {
		ctl_peer_free(dst);
		return -ENOMEM;
	}
	return 0;
}

bool ctl_peer_equal(const struct ctl_peer *a, const struct ctl_peer *b)
{
	return a->id == b->id && ctl_str_equal(a->name, b->name) && memcmp(a->wg_key, b->wg_key, 32) == 0 &&
	       a->keepalive == b->keepalive && ctl_endpoints_equal(&a->endpoints, &b->endpoints) &&
	       ctl_prefixes_equal(&a->addresses, &b->addresses) &&
	       ctl_prefixes_equal(&a->allowed_ips, &b->allowed_ips) &&
	       backups_equal(&a->backup_routes, &b->backup_routes);
}

static void ctl_peers_free(struct ctl_peer *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ctl_peer_free(&v[i]);
	free(v);
}

void ctl_netmap_free(struct ctl_netmap *m)
{
	ctl_self_free(&m->self);
	ctl_peers_free(m->peers, m->n_peers);
	ctl_prefixes_free(&m->routes);
	free(m->filter);
	memset(m, 0, sizeof(*m));
}

void ctl_delta_free(struct ctl_delta *d)
{
	ctl_self_free(&d->self);
	ctl_peers_free(d->upsert, d->n_upsert);
	free(d->removed);
	ctl_prefixes_free(&d->routes);
	free(d->filter);
	ctl_filter_patch_free(d->patch, d->n_patch);
	memset(d, 0, sizeof(*d));
}

/* ---- JSON ---- */

static cJSON *ctl_self_to_json(const struct ctl_self *s)
{
	cJSON *j = cJSON_CreateObject();

	if (!j || !cJSON_AddNumberToObject(j, "id", (double)s->id) ||
	    !cJSON_AddStringToObject(j, "name", s->name ? s->name : "") ||
	    !ctl_json_add_prefixes(j, "addresses", &s->addresses)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static int ctl_self_from_json(const cJSON *j, struct ctl_self *s, const char *path, struct ctl_err *err)
{
	if (!cJSON_IsObject(j))
		return ctl_json_fail(err, "%s: not an object", path);
	memset(s, 0, sizeof(*s));
	int rc = ctl_json_uint(j, "id", true, CTL_MAX_ID, &s->id, path, err);
	if (!rc)
		rc = ctl_json_string(j, "name", true, CTL_MAX_NAME, &s->name, path, err);
	if (!rc)
		rc = ctl_json_prefixes(j, "addresses", true, CTL_MAX_ADDRESSES, &s->addresses, NULL, path, err);
	if (rc)
		ctl_self_free(s);
	return rc;
}

/* "backup_routes": [{"prefix": "8.8.8.8/32", "rank": 1}, ...], left out
 * when empty (a map without backups encodes as before). */
static bool add_backups(cJSON *j, const struct ctl_backup_routes *b)
{
	char text[64];
	cJSON *a = b->n ? cJSON_AddArrayToObject(j, "backup_routes") : NULL;
	if (b->n && !a)
		return false;
	for (size_t i = 0; i < b->n; i++) {
		cJSON *o = cJSON_CreateObject();
		ctl_prefix_format(text, &b->v[i].prefix);
		if (!cJSON_AddItemToArray(a, o) || !cJSON_AddStringToObject(o, "prefix", text) ||
		    !cJSON_AddNumberToObject(o, "rank", b->v[i].rank))
			return false;
	}
	return true;
}

static int backups_from_json(const cJSON *j, struct ctl_backup_routes *b, const char *path, struct ctl_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "backup_routes");
	const cJSON *e;
	char *text = NULL;
	uint64_t rank;
	int rc = 0;
	if (!a)
		return 0;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > CTL_MAX_PREFIXES)
		return ctl_json_fail(err, "%s.backup_routes: not an array of at most %d routes", path, CTL_MAX_PREFIXES);
	if (!(b->v = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*b->v))))
		return -ENOMEM;
	cJSON_ArrayForEach(e, a) {
		if (!cJSON_IsObject(e))
			return ctl_json_fail(err, "%s.backup_routes: not an object", path);
		if ((rc = ctl_json_string(e, "prefix", true, 64, &text, path, err)) ||
		    (rc = ctl_json_uint(e, "rank", true, CTL_MAX_PEERS, &rank, path, err)))
			break;
		if (ctl_prefix_parse(&b->v[b->n].prefix, text) < 0 || rank == 0) {
			rc = ctl_json_fail(err, "%s.backup_routes: bad route %s rank %llu", path, text,
					   (unsigned long long)rank);
			break;
		}
		b->v[b->n++].rank = (uint32_t)rank;
		free(text);
		text = NULL;
	}
	free(text);
	return rc;
}

static cJSON *ctl_peer_to_json(const struct ctl_peer *p)
{
	cJSON *j = cJSON_CreateObject();

	if (!j || !cJSON_AddNumberToObject(j, "id", (double)p->id) ||
	    !cJSON_AddStringToObject(j, "name", p->name ? p->name : "") ||
	    !ctl_json_add_key(j, "wg_key", p->wg_key) ||
	    !ctl_json_add_endpoints(j, "endpoints", &p->endpoints) ||
	    !ctl_json_add_prefixes(j, "addresses", &p->addresses) ||
	    !ctl_json_add_prefixes(j, "allowed_ips", &p->allowed_ips) ||
	    !cJSON_AddNumberToObject(j, "keepalive", p->keepalive) || !add_backups(j, &p->backup_routes)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static int ctl_peer_from_json(const cJSON *j, struct ctl_peer *p, const char *path, struct ctl_err *err)
{
	uint64_t keepalive = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	if (!cJSON_IsObject(j))
		return ctl_json_fail(err, "%s: not an object", path);
	rc = ctl_json_uint(j, "id", true, CTL_MAX_ID, &p->id, path, err);
	if (!rc)
		rc = ctl_json_string(j, "name", true, CTL_MAX_NAME, &p->name, path, err);
	if (!rc)
		rc = ctl_json_key(j, "wg_key", true, p->wg_key, path, err);
	if (!rc)
		rc = ctl_json_endpoints(j, "endpoints", true, CTL_MAX_ENDPOINTS, &p->endpoints, NULL, path, err);
	if (!rc)
		rc = ctl_json_prefixes(j, "addresses", true, CTL_MAX_ADDRESSES, &p->addresses, NULL, path, err);
	if (!rc)
		rc = ctl_json_prefixes(j, "allowed_ips", true, CTL_MAX_PREFIXES, &p->allowed_ips, NULL, path, err);
	if (!rc)
		rc = ctl_json_uint(j, "keepalive", true, 65535, &keepalive, path, err);
	if (!rc)
		rc = backups_from_json(j, &p->backup_routes, path, err);
	p->keepalive = (uint16_t)keepalive;
	if (rc)
		ctl_peer_free(p);
	return rc;
}

static bool ctl_add_peers(cJSON *obj, const char *field, const struct ctl_peer *v, size_t n)
{
	cJSON *a = cJSON_AddArrayToObject(obj, field);

	if (!a)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!cJSON_AddItemToArray(a, ctl_peer_to_json(&v[i])))
			return false;
	return true;
}

static int ctl_peer_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct ctl_peer *)a)->id, y = ((const struct ctl_peer *)b)->id;

	return x < y ? -1 : x > y;
}

/* FIELD: an array of peers, sorted here, ids unique. */
static int ctl_peers_from_json(const cJSON *obj, const char *field, struct ctl_peer **out, size_t *n,
			       struct ctl_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, field), *it;
	struct ctl_peer *v;
	size_t count, i = 0;
	char path[64];
	int rc = 0;

	if (!cJSON_IsArray(a))
		return ctl_json_fail(err, "%s: missing or not an array", field);
	count = (size_t)cJSON_GetArraySize(a);
	if (count > CTL_MAX_PEERS)
		return ctl_json_fail(err, "%s: more than %d peers", field, CTL_MAX_PEERS);
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	cJSON_ArrayForEach(it, a) {
		snprintf(path, sizeof(path), "%s[%zu]", field, i);
		rc = ctl_peer_from_json(it, &v[i], path, err);
		if (rc)
			goto free_peers;
		i++;
	}
	qsort(v, count, sizeof(*v), ctl_peer_cmp);
	for (size_t k = 1; k < count; k++)
		if (v[k].id == v[k - 1].id) {
			rc = ctl_json_fail(err, "%s: peer id %llu twice", field, (unsigned long long)v[k].id);
			goto free_peers;
		}
	*out = v;
	*n = count;
	return 0;
free_peers:
	ctl_peers_free(v, i);
	return rc;
}

int ctl_filter_canonical(const char *text, char **out)
{
	cJSON *j = cJSON_Parse(text), *it;
	char *s = NULL;
	int rc = -EINVAL;

	if (!cJSON_IsArray(j))
		goto free_json;
	cJSON_ArrayForEach(it, j)
		if (!cJSON_IsObject(it))
			goto free_json;
	s = cJSON_PrintUnformatted(j);
	rc = s ? 0 : -ENOMEM;
	if (s && strlen(s) > CTL_MAX_FILTER) {
		free(s);
		s = NULL;
		rc = -EMSGSIZE;
	}
	*out = s;
free_json:
	cJSON_Delete(j);
	return rc;
}

static bool ctl_add_filter(cJSON *obj, const char *filter)
{
	cJSON *f = cJSON_Parse(filter ? filter : "[]");

	if (!f)
		return false;
	if (!cJSON_AddItemToObject(obj, "filter", f)) {
		cJSON_Delete(f);
		return false;
	}
	return true;
}

static int ctl_filter_from_json(const cJSON *obj, char **out, bool *present, struct ctl_err *err)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, "filter"), *it;
	char *s;

	if (present)
		*present = f != NULL;
	if (!f)
		return present ? 0 : ctl_json_fail(err, "filter: missing");
	if (!cJSON_IsArray(f))
		return ctl_json_fail(err, "filter: not an array of FilterRule objects");
	cJSON_ArrayForEach(it, f)
		if (!cJSON_IsObject(it))
			return ctl_json_fail(err, "filter: not an array of FilterRule objects");
	s = cJSON_PrintUnformatted(f);
	if (!s)
		return -ENOMEM;
	if (strlen(s) > CTL_MAX_FILTER) {
		free(s);
		return ctl_json_fail(err, "filter: over %u bytes", CTL_MAX_FILTER);
	}
	free(*out);
	*out = s;
	return 0;
}

cJSON *ctl_netmap_to_json(const struct ctl_netmap *m)
{
	cJSON *j = cJSON_CreateObject();

	if (!j || !cJSON_AddNumberToObject(j, "generation", (double)m->generation) ||
	    !cJSON_AddItemToObject(j, "self", ctl_self_to_json(&m->self)) ||
	    !ctl_add_peers(j, "peers", m->peers, m->n_peers) ||
	    !ctl_json_add_prefixes(j, "routes", &m->routes) || !ctl_add_filter(j, m->filter) ||
	    !cJSON_AddBoolToObject(j, "snat", m->snat)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

int ctl_netmap_from_json(const cJSON *j, struct ctl_netmap *m, struct ctl_err *err)
{
	int rc;

	memset(m, 0, sizeof(*m));
	if (!cJSON_IsObject(j))
		return ctl_json_fail(err, "netmap: not an object");
	rc = ctl_json_uint(j, "generation", true, CTL_MAX_ID, &m->generation, "netmap", err);
	if (!rc)
		rc = ctl_self_from_json(cJSON_GetObjectItemCaseSensitive(j, "self"), &m->self, "self", err);
	if (!rc)
		rc = ctl_peers_from_json(j, "peers", &m->peers, &m->n_peers, err);
	if (!rc)
		rc = ctl_json_prefixes(j, "routes", true, CTL_MAX_PREFIXES, &m->routes, NULL, "netmap", err);
	if (!rc)
		rc = ctl_filter_from_json(j, &m->filter, NULL, err);
	if (!rc)
		rc = ctl_json_bool(j, "snat", true, &m->snat, "netmap", err);
	if (rc)
		ctl_netmap_free(m);
	return rc;
}

cJSON *ctl_delta_to_json(const struct ctl_delta *d)
{
	cJSON *j = cJSON_CreateObject(), *removed;

	if (!j || !cJSON_AddNumberToObject(j, "from_generation", (double)d->from_generation) ||
	    !cJSON_AddNumberToObject(j, "generation", (double)d->generation) ||
	    (d->has_self && !cJSON_AddItemToObject(j, "self", ctl_self_to_json(&d->self))) ||
	    !ctl_add_peers(j, "upsert", d->upsert, d->n_upsert) ||
	    !(removed = cJSON_AddArrayToObject(j, "removed")))
		goto fail;
	for (size_t i = 0; i < d->n_removed; i++)
		if (!cJSON_AddItemToArray(removed, cJSON_CreateNumber((double)d->removed[i])))
			goto fail;
	if ((d->has_routes && !ctl_json_add_prefixes(j, "routes", &d->routes)) ||
	    (d->has_filter && !ctl_add_filter(j, d->filter)) ||
	    (d->n_patch && !ctl_filter_patch_add_json(j, d->patch, d->n_patch)) ||
	    (d->has_snat && !cJSON_AddBoolToObject(j, "snat", d->snat)))
		goto fail;
	return j;
fail:
	cJSON_Delete(j);
	return NULL;
}

static int ctl_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int ctl_removed_from_json(const cJSON *obj, uint64_t **out, size_t *n, struct ctl_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, "removed"), *it;
	size_t count, i = 0;
	uint64_t *v;

	if (!cJSON_IsArray(a))
		return ctl_json_fail(err, "removed: missing or not an array");
	count = (size_t)cJSON_GetArraySize(a);
	if (count > CTL_MAX_PEERS)
		return ctl_json_fail(err, "removed: more than %d ids", CTL_MAX_PEERS);
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	cJSON_ArrayForEach(it, a) {
		double x = cJSON_IsNumber(it) ? it->valuedouble : -1;
		if (x < 0 || x > (double)CTL_MAX_ID || x != (double)(uint64_t)x) {
			free(v);
			return ctl_json_fail(err, "removed[%zu]: not a peer id", i);
		}
		v[i++] = (uint64_t)x;
	}
	qsort(v, count, sizeof(*v), ctl_u64_cmp);
	*out = v;
	*n = count;
	return 0;
}

int ctl_delta_from_json(const cJSON *j, struct ctl_delta *d, struct ctl_err *err)
{
	const cJSON *self;
	bool patched = false;
	int rc;

	memset(d, 0, sizeof(*d));
	if (!cJSON_IsObject(j))
		return ctl_json_fail(err, "delta: not an object");
	rc = ctl_json_uint(j, "from_generation", true, CTL_MAX_ID, &d->from_generation, "delta", err);
	if (!rc)
		rc = ctl_json_uint(j, "generation", true, CTL_MAX_ID, &d->generation, "delta", err);
	self = cJSON_GetObjectItemCaseSensitive(j, "self");
	d->has_self = self != NULL;
	if (!rc && self)
		rc = ctl_self_from_json(self, &d->self, "self", err);
	if (!rc)
		rc = ctl_peers_from_json(j, "upsert", &d->upsert, &d->n_upsert, err);
	if (!rc)
		rc = ctl_removed_from_json(j, &d->removed, &d->n_removed, err);
	if (!rc)
		rc = ctl_json_prefixes(j, "routes", false, CTL_MAX_PREFIXES, &d->routes, &d->has_routes, "delta", err);
	if (!rc)
		rc = ctl_filter_from_json(j, &d->filter, &d->has_filter, err);
	if (!rc)
		rc = ctl_filter_patch_from_json(j, &d->patch, &d->n_patch, &patched, err);
	if (!rc && patched && d->has_filter)
		rc = ctl_json_fail(err, "delta: both filter and filter_patch");
	if (!rc && cJSON_GetObjectItemCaseSensitive(j, "snat")) {
		d->has_snat = true;
		rc = ctl_json_bool(j, "snat", true, &d->snat, "delta", err);
	}
	if (rc)
		ctl_delta_free(d);
	return rc;
}

char *ctl_netmap_encode(const struct ctl_netmap *m)
{
	cJSON *j = ctl_netmap_to_json(m);
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;

	cJSON_Delete(j);
	return s;
}

/* ---- deltas ---- */

/* Append a copy of P to *V (of *N, capacity CAP). */
static int ctl_peers_push(struct ctl_peer **v, size_t *n, const struct ctl_peer *p)
{
	return ctl_peer_copy(&(*v)[(*n)++], p);
}

static int ctl_dup_string(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return src && !*dst ? -ENOMEM : 0;
}

int ctl_netmap_delta(const struct ctl_netmap *old, const struct ctl_netmap *new_map, struct ctl_delta *d)
{
	size_t i = 0, k = 0;
	int rc = 0;

	memset(d, 0, sizeof(*d));
	d->from_generation = old->generation;
	d->generation = new_map->generation;
	d->upsert = calloc(new_map->n_peers + 1, sizeof(*d->upsert));
	d->removed = calloc(old->n_peers + 1, sizeof(*d->removed));
	if (!d->upsert || !d->removed) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Both lists are sorted by id: one merge walk. */
	while (rc == 0 && (i < old->n_peers || k < new_map->n_peers)) {
		const struct ctl_peer *o = i < old->n_peers ? &old->peers[i] : NULL;
		const struct ctl_peer *n = k < new_map->n_peers ? &new_map->peers[k] : NULL;

		if (o && (!n || o->id < n->id)) {
			d->removed[d->n_removed++] = o->id;
			i++;
		} else if (n && (!o || n->id < o->id)) {
			rc = ctl_peers_push(&d->upsert, &d->n_upsert, n);
			k++;
		} else {
			if (!ctl_peer_equal(o, n))
				rc = ctl_peers_push(&d->upsert, &d->n_upsert, n);
			i++;
			k++;
		}
	}
	if (rc == 0 && !ctl_self_equal(&old->self, &new_map->self)) {
		d->has_self = true;
		rc = ctl_self_copy(&d->self, &new_map->self);
	}
	if (rc == 0 && !ctl_prefixes_equal(&old->routes, &new_map->routes)) {
		d->has_routes = true;
		rc = ctl_prefixes_copy(&d->routes, &new_map->routes);
	}
	if (rc == 0 && !ctl_str_equal(old->filter, new_map->filter) &&
	    (rc = ctl_filter_diff(old->filter, new_map->filter, &d->patch, &d->n_patch)) == 1) {
		d->has_filter = true;
		rc = ctl_dup_string(&d->filter, new_map->filter);
	}
	if (old->snat != new_map->snat) {
		d->has_snat = true;
		d->snat = new_map->snat;
	}
	if (rc == 0)
		return 0;
fail:
	ctl_delta_free(d);
	return rc;
}

bool ctl_delta_empty(const struct ctl_delta *d)
{
	return !d->has_self && !d->n_upsert && !d->n_removed && !d->has_routes && !d->has_filter && !d->n_patch &&
	       !d->has_snat;
}

static bool ctl_is_removed(const struct ctl_delta *d, uint64_t id)
{
	return bsearch(&id, d->removed, d->n_removed, sizeof(*d->removed), ctl_u64_cmp) != NULL;
}

/* Every removed id names a peer of OLD. */
static bool ctl_removals_known(const struct ctl_netmap *old, const struct ctl_delta *d)
{
	for (size_t r = 0; r < d->n_removed; r++) {
		struct ctl_peer key = { .id = d->removed[r] };
		if (!bsearch(&key, old->peers, old->n_peers, sizeof(key), ctl_peer_cmp))
			return false;
	}
	return true;
}

int ctl_netmap_apply(const struct ctl_netmap *old, const struct ctl_delta *d, struct ctl_netmap *out)
{
	size_t i = 0, k = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (d->from_generation != old->generation)
		return -ESTALE;
	if (!ctl_removals_known(old, d))
		return -EINVAL;
	out->generation = d->generation;
	out->snat = d->has_snat ? d->snat : old->snat;
	out->peers = calloc(old->n_peers + d->n_upsert + 1, sizeof(*out->peers));
	if (!out->peers)
		return -ENOMEM;
	while (rc == 0 && (i < old->n_peers || k < d->n_upsert)) {
		const struct ctl_peer *o = i < old->n_peers ? &old->peers[i] : NULL;
		const struct ctl_peer *u = k < d->n_upsert ? &d->upsert[k] : NULL;

		if (o && (!u || o->id < u->id)) {
			if (!ctl_is_removed(d, o->id))
				rc = ctl_peers_push(&out->peers, &out->n_peers, o);
			i++;
		} else {
			rc = ctl_peers_push(&out->peers, &out->n_peers, u);
			if (o && o->id == u->id)
				i++;
			k++;
		}
	}
	if (rc == 0)
		rc = ctl_self_copy(&out->self, d->has_self ? &d->self : &old->self);
	if (rc == 0)
		rc = ctl_prefixes_copy(&out->routes, d->has_routes ? &d->routes : &old->routes);
	if (rc == 0 && d->n_patch)
		rc = ctl_filter_patch_apply(old->filter, d->patch, d->n_patch, &out->filter);
	else if (rc == 0)
		rc = ctl_dup_string(&out->filter, d->has_filter ? d->filter : old->filter);
	if (rc < 0)
		ctl_netmap_free(out);
	return rc;
}
