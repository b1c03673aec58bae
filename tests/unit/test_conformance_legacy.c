/* The recorded Tailscale cases again, each rewritten in the legacy
 * spellings Tailscale still reads: section names in other cases ("ACLs",
 * "TagOwners"), ACL fields "Action", "users", "ports", tests' "User" and
 * "Allow".  Every case must mean the same as written (the same filter on
 * every node, the same verdict on its tests), or be refused as it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "captures.h"
#include "ir.h"
#include "ptest.h"
#include "t.h"

/* Rename member OLD of object O to NEW (when present). */
static void rename_key(cJSON *o, const char *old, const char *new_name)
{
	cJSON *it = cJSON_GetObjectItemCaseSensitive(o, old);
	if (!it)
		return;
	char *s = strdup(new_name);
	if (!s)
		return;
	if (!(it->type & cJSON_StringIsConst))
		cJSON_free(it->string);
	it->string = s;
	it->type &= ~cJSON_StringIsConst;
}

/* The legacy spelling of policy P, as text (free it). */
static char *legacy_text(const cJSON *p)
{
	static const char *const sections[][2] = {
		{ "acls", "ACLs" }, { "groups", "Groups" }, { "hosts", "Hosts" }, { "tagOwners", "tagowners" },
		{ "autoApprovers", "AutoApprovers" }, { "tests", "Tests" }, { "grants", "GRANTS" },
	};
	/* The policy is an object, or its text (standard JSON in every case). */
	cJSON *q = cJSON_IsString(p) ? cJSON_Parse(p->valuestring) : cJSON_Duplicate(p, 1);
	if (!q)
		return NULL;
	cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(q, "acls")) {
		rename_key(it, "action", "Action");
		rename_key(it, "src", "users");
		rename_key(it, "dst", "ports");
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(q, "tests")) {
		rename_key(it, "src", "User");
		rename_key(it, "accept", "Allow");
	}
	rename_key(cJSON_GetObjectItemCaseSensitive(q, "autoApprovers"), "routes", "Routes");
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		rename_key(q, sections[i][0], sections[i][1]);
	char *text = cJSON_Print(q);
	cJSON_Delete(q);
	return text;
}

struct tally {
	size_t same, differ, both_refused;
};

/* Do the two filter sets accept the same packets on every node? */
static bool same_filters(const struct filter_set *a, const struct filter_set *b, char *why, size_t len)
{
	for (size_t i = 0; i <= a->nnodes; i++) {
		const struct filter_node *fa = i < a->nnodes ? &a->nodes[i] : &a->global;
		const struct filter_node *fb = i < b->nnodes ? &b->nodes[i] : &b->global;
		struct ir_flows ga = { 0 }, gb = { 0 };
		bool same = filter_node_ir(fa, &ga) == 0 && filter_node_ir(fb, &gb) == 0 && ir_equal(&ga, &gb);
		ir_free(&ga);
		ir_free(&gb);
		if (!same) {
			snprintf(why, len, "the filter of %s differs", fa->node ? fa->node->name : "the tailnet view");
			return false;
		}
	}
	return true;
}

static int tests_failing(const struct pol_policy *p, const struct inv *inv, const struct filter_set *s)
{
	FILE *devnull = fopen("/dev/null", "w");
	int n = devnull ? ptest_run(p, inv, s, devnull) : -1;
	if (devnull)
		fclose(devnull);
	return n;
}

static void legacy_case(const char *folder, const char *name, const char *path, void *arg)
{
	struct tally *t = arg;
	struct captures_case cc;
	struct diag_list d = { 0 };
	struct diag_src *src = NULL;
	struct hj_value *root = NULL;
	struct pol_policy *p = NULL;
	struct filter_set fs = { 0 };
	bool compiled = false, ok = false;
	char why[256] = "";
	(void)folder;
	char *text = captures_load(path, &cc) ? legacy_text(cJSON_GetObjectItemCaseSensitive(cc.json, "policy")) : NULL;
	if (!text) {
		snprintf(why, sizeof(why), "case unreadable");
		goto out;
	}
	src = diag_src_from_mem("legacy.hujson", text, strlen(text));
	root = src ? hj_parse(src, &d) : NULL;
	p = root ? pol_load(root, &d) : NULL;
	if (!cc.policy || !p) {
		ok = !cc.policy && !p;
		t->both_refused += ok;
		snprintf(why, sizeof(why), "%s as written, %s in legacy spelling", cc.policy ? "accepted" : "refused",
			 p ? "accepted" : "refused");
		goto out;
	}
	if (captures_compile(&cc) < 0 || filter_compile(p, cc.inv, &fs, &d) < 0) {
		snprintf(why, sizeof(why), "compile failed");
		goto out;
	}
	compiled = true;
	ok = same_filters(&cc.fs, &fs, why, sizeof(why));
	if (ok && (tests_failing(cc.policy, cc.inv, &cc.fs) > 0) != (tests_failing(p, cc.inv, &fs) > 0)) {
		ok = false;
		snprintf(why, sizeof(why), "the tests' verdict differs");
	}
	t->same += ok;
out:
	if (!ok) {
		t->differ++;
		printf("# legacy %s: %s\n", name, why);
	}
	if (compiled)
		filter_set_free(&fs);
	pol_free(p);
	hj_free(root);
	diag_src_free(src);
	diag_list_free(&d);
	free(text);
	captures_case_free(&cc);
}

int main(void)
{
	struct tally t = { 0 };
	if (captures_each("conformance legacy", legacy_case, &t) == 0)
		T_DONE();
	T_CHECK(t.differ == 0 && t.same > 400,
		"conformance legacy: %zu recorded cases mean the same in legacy spelling (ACLs, users, ports, "
		"User, Allow), %zu refused both ways, %zu differ", t.same, t.both_refused, t.differ);
	T_DONE();
}
