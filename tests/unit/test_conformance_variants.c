/* The recorded Tailscale cases again, each rewritten in a form that must
 * mean the same: in the legacy spellings Tailscale still reads (section
 * names in other cases, ACL fields "Action", "users", "ports", tests'
 * "User" and "Allow"); with every user an admin and autogroup:admin where
 * autogroup:member was; with every user in one synced group named instead.
 * Every case must mean the same as written (the same filter on every node,
 * the same verdict on its tests), or be refused as it is. */
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

/* Replace every string value equal to or starting with FROM in V by TO
 * (and the rest of the string). */
static void replace_strings(cJSON *v, const char *from, const char *to)
{
	cJSON *it;
	if (cJSON_IsString(v) && strncmp(v->valuestring, from, strlen(from)) == 0 &&
	    (!v->valuestring[strlen(from)] || v->valuestring[strlen(from)] == ':')) {
		char *n = malloc(strlen(to) + strlen(v->valuestring) + 1);
		if (n) {
			sprintf(n, "%s%s", to, v->valuestring + strlen(from));
			cJSON_SetValuestring(v, n);
			free(n);
		}
	}
	cJSON_ArrayForEach(it, v) replace_strings(it, from, to);
}

/* Every user an admin: autogroup:admin means autogroup:member. */
static void member_to_admin(cJSON *q)
{
	replace_strings(q, "autogroup:member", "autogroup:admin");
}

static void user_admin(cJSON *u)
{
	cJSON_AddStringToObject(u, "role", "admin");
}

/* Every user in one synced group: it means autogroup:member. */
static void member_to_synced(cJSON *q)
{
	replace_strings(q, "autogroup:member", "group:everyone@example.com");
}

static void user_synced(cJSON *u)
{
	cJSON *g = cJSON_AddArrayToObject(u, "groups");
	if (g)
		cJSON_AddItemToArray(g, cJSON_CreateString("group:everyone@example.com"));
}

/* The legacy spelling. */
static void legacy(cJSON *q);

static const struct variant {
	const char *what;
	void (*policy)(cJSON *q);
	void (*user)(cJSON *u);   /* NULL: the inventory as recorded */
} variants[] = {
	{ "in legacy spelling (ACLs, tagowners, Action, users, ports, User, Allow)", legacy, NULL },
	{ "with every user an admin and autogroup:admin for autogroup:member", member_to_admin, user_admin },
	{ "with every user in a synced group named for autogroup:member", member_to_synced, user_synced },
};

/* Policy P rewritten by V, as text (free it). */
static char *variant_text(const struct variant *v, const cJSON *p)
{
	/* The policy is an object, or its text (standard JSON in every case). */
	cJSON *q = cJSON_IsString(p) ? cJSON_Parse(p->valuestring) : cJSON_Duplicate(p, 1);
	if (!q)
		return NULL;
	v->policy(q);
	char *text = cJSON_Print(q);
	cJSON_Delete(q);
	return text;
}

/* The case's inventory rewritten by V, as text (free it). */
static char *inventory_text(const struct variant *v, const cJSON *json)
{
	cJSON *q = cJSON_CreateObject(), *u;
	if (!q)
		return NULL;
	cJSON_AddItemToObject(q, "users", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(json, "users"), 1));
	cJSON_AddItemToObject(q, "nodes", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(json, "nodes"), 1));
	cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(q, "users")) v->user(u);
	char *text = cJSON_Print(q);
	cJSON_Delete(q);
	return text;
}

static void legacy(cJSON *q)
{
	static const char *const sections[][2] = {
		{ "acls", "ACLs" }, { "groups", "Groups" }, { "hosts", "Hosts" }, { "tagOwners", "tagowners" },
		{ "autoApprovers", "AutoApprovers" }, { "tests", "Tests" }, { "grants", "GRANTS" },
	};
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
}

struct tally {
	const struct variant *v;
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

static void variant_case(const char *folder, const char *name, const char *path, void *arg)
{
	struct tally *t = arg;
	struct captures_case cc;
	struct diag_list d = { 0 };
	struct diag_src *src = NULL;
	struct hj_value *root = NULL;
	struct pol_policy *p = NULL;
	struct diag_src *isrc = NULL;
	struct inv *inv = NULL;
	struct filter_set fs = { 0 };
	bool compiled = false, ok = false;
	char why[256] = "";
	(void)folder;
	char *text = captures_load(path, &cc) ? variant_text(t->v, cJSON_GetObjectItemCaseSensitive(cc.json, "policy"))
					      : NULL;
	char *itext = text && t->v->user ? inventory_text(t->v, cc.json) : NULL;
	if (!text || (t->v->user && !itext)) {
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
	if (captures_compile(&cc) < 0) {
		snprintf(why, sizeof(why), "compile failed");
		goto out;
	}
	isrc = itext ? diag_src_from_mem("nodes.json", itext, strlen(itext)) : NULL;
	inv = isrc ? inv_read(isrc, &d) : NULL;
	const struct inv *vinv = itext ? inv : cc.inv;
	if (!vinv || filter_compile(p, vinv, &fs, &d) < 0) {
		snprintf(why, sizeof(why), "the variant does not compile");
		goto out;
	}
	compiled = true;
	ok = same_filters(&cc.fs, &fs, why, sizeof(why));
	if (ok && (tests_failing(cc.policy, cc.inv, &cc.fs) > 0) != (tests_failing(p, vinv, &fs) > 0)) {
		ok = false;
		snprintf(why, sizeof(why), "the tests' verdict differs");
	}
	t->same += ok;
out:
	if (!ok) {
		t->differ++;
		printf("# %s: %s\n", name, why);
	}
	if (compiled)
		filter_set_free(&fs);
	inv_free(inv);
	diag_src_free(isrc);
	free(itext);
	pol_free(p);
	hj_free(root);
	diag_src_free(src);
	diag_list_free(&d);
	free(text);
	captures_case_free(&cc);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		struct tally t = { .v = &variants[i] };
		if (captures_each("conformance variants", variant_case, &t) == 0)
			T_DONE();
		T_CHECK(t.differ == 0 && t.same > 400, "conformance: %zu recorded cases mean the same %s, %zu refused "
			"both ways, %zu differ", t.same, variants[i].what, t.both_refused, t.differ);
	}
	T_DONE();
}
