/* captures.h: the Tailscale conformance cases under
 * $KG_SHARED/testdata/tailscale-captures, shared by the runners that read
 * them (filters and rejections; route sets). */
#ifndef CAPTURES_H
#define CAPTURES_H
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "filter.h"
#include "hj.h"
#include "inv.h"
#include "pol.h"

static int captures_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .json names in DIR, sorted (free each, then the array); NULL when DIR
 * cannot be read. */
static char **captures_case_names(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	struct dirent *e;
	*n = 0;
	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l <= 5 || strcmp(e->d_name + l - 5, ".json") != 0)
			continue;
		char **v = realloc(names, (*n + 1) * sizeof(*v));
		if (!v)
			break;
		names = v;
		names[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, *n, sizeof(*names), captures_cmp);
	return names;
}

/* Call FN(FOLDER, NAME, PATH, ARG) for every case file of the four
 * folders under $KG_SHARED/testdata/tailscale-captures, sorted, printing a
 * skip line (WHAT: the runner's name) for a folder that cannot be read.
 * The number of folders read: 0 when the shared data is absent. */
typedef void captures_fn(const char *folder, const char *name, const char *path, void *arg);
static inline size_t captures_each(const char *what, captures_fn *fn, void *arg)
{
	static const char *const folders[] = { "acl", "grant", "policytest", "routes" };
	const char *shared = getenv("KG_SHARED");
	size_t read = 0;
	for (size_t f = 0; f < sizeof(folders) / sizeof(folders[0]); f++) {
		char dir[4096], path[8192];
		size_t n;
		snprintf(dir, sizeof(dir), "%s/testdata/tailscale-captures/%s", shared ? shared : "", folders[f]);
		char **names = shared && *shared ? captures_case_names(dir, &n) : NULL;
		if (!names) {
			printf("skip - %s: %s: no such directory (KG_SHARED: run through tests/run)\n", what, dir);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			fn(folders[f], names[i], path, arg);
			free(names[i]);
		}
		free(names);
		read++;
	}
	return read;
}

/* One recorded case on its way through the compiler: the case file, its
 * policy parsed and loaded (POLICY NULL: rejected, the reasons in DIAGS),
 * then its users and nodes as the inventory and every node's filter. */
struct captures_case {
	cJSON *json;
	int status;               /* the service's answer: 200 or 400 */
	struct diag_list diags;
	struct diag_src *file, *src;
	struct hj_value *file_root, *root;
	struct pol_policy *policy;
	struct inv *inv;
	struct filter_set fs;
	bool compiled;
};

/* Read the case at PATH and load its policy.  false when the case file
 * itself is unreadable; captures_case_free() either way. */
static bool captures_load(const char *path, struct captures_case *cc)
{
	memset(cc, 0, sizeof(*cc));
	cc->file = diag_src_load(path, &cc->diags);
	cc->json = cc->file ? cJSON_ParseWithLength(cc->file->text, cc->file->len) : NULL;
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(cc->json, "status");
	const cJSON *pj = cJSON_GetObjectItemCaseSensitive(cc->json, "policy");
	if (!cJSON_IsNumber(status) || !pj)
		return false;
	cc->status = status->valueint;
	char *ptext = cJSON_IsString(pj) ? strdup(pj->valuestring) : cJSON_Print(pj);
	if (!ptext)
		return false;
	cc->src = diag_src_from_mem("policy.hujson", ptext, strlen(ptext));
	free(ptext);
	cc->root = cc->src ? hj_parse(cc->src, &cc->diags) : NULL;
	cc->policy = cc->root ? pol_load(cc->root, &cc->diags) : NULL;
	return cc->src != NULL;
}

/* The case's users and nodes as the inventory, then every node's filter.
 * 0, or -1 with INV NULL (inventory rejected) or set (compile failed). */
static int captures_compile(struct captures_case *cc)
{
	/* The case file itself holds "users" and "nodes". */
	cc->file_root = hj_parse(cc->file, &cc->diags);
	cc->inv = cc->file_root ? inv_from_tree(cc->file_root, &cc->diags) : NULL;
	if (!cc->inv || filter_compile(cc->policy, cc->inv, &cc->fs, &cc->diags) < 0)
		return -1;
	cc->compiled = true;
	return 0;
}

static void captures_case_free(struct captures_case *cc)
{
	if (cc->compiled)
		filter_set_free(&cc->fs);
	inv_free(cc->inv);
	pol_free(cc->policy);
	hj_free(cc->root);
	hj_free(cc->file_root);
	diag_list_free(&cc->diags);
	diag_src_free(cc->src);
	diag_src_free(cc->file);
	cJSON_Delete(cc->json);
}

#endif
