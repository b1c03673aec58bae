/* Route sets: primary-route selection and exit-node handling, table-driven.
 * Each case is a policy, a small inventory (IPv4 only, registration order
 * as listed) and what one viewer is told about one peer: its allowed_ips
 * and primary_routes in output order, or "-" when it is not a peer.  Then
 * the reusable name resolver (filter_names) against filter_alias_addrs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "hj.h"
#include "inv.h"
#include "pol.h"
#include "routes.h"
#include "t.h"

/* Nodes: "NAME OWNER IPV4 [adv=P,P] [appr=P,P] [at=TIME]"; OWNER is a user
 * name or a tag ("tag:a+tag:b" for several); TIME is "created". */
#define MAXN 6
struct tcase {
	const char *what, *policy, *nodes[MAXN], *viewer, *peer, *allowed, *primary;
};

#define ALL "{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\"]}]"
#define OWNERS "\"tagOwners\": {\"tag:r\": [\"alice@example.com\"], \"tag:a\": [\"alice@example.com\"], " \
	"\"tag:b\": [\"alice@example.com\"], \"tag:exit\": [\"alice@example.com\"], " \
	"\"tag:c\": [\"alice@example.com\"]}"

static const struct tcase cases[] = {
	/* Primary selection. */
	{ "two routers, one prefix: the first registered is primary", ALL ", " OWNERS "}",
	  { "r1 tag:r 100.64.0.1 adv=10.0.0.0/8 appr=10.0.0.0/8", "r2 tag:r 100.64.0.2 adv=10.0.0.0/8 appr=10.0.0.0/8",
	    "c alice 100.64.0.9" },
	  "c", "r1", "100.64.0.1/32 10.0.0.0/8", "10.0.0.0/8" },
	{ "two routers, one prefix: the second advertises nothing", ALL ", " OWNERS "}",
	  { "r1 tag:r 100.64.0.1 adv=10.0.0.0/8 appr=10.0.0.0/8", "r2 tag:r 100.64.0.2 adv=10.0.0.0/8 appr=10.0.0.0/8",
	    "c alice 100.64.0.9" },
	  "c", "r2", "100.64.0.2/32", "" },
	{ "registration order, not name, decides", ALL ", " OWNERS "}",
	  { "r2 tag:r 100.64.0.2 adv=10.0.0.0/8 appr=10.0.0.0/8", "r1 tag:r 100.64.0.1 adv=10.0.0.0/8 appr=10.0.0.0/8",
	    "c alice 100.64.0.9" },
	  "c", "r2", "100.64.0.2/32 10.0.0.0/8", "10.0.0.0/8" },
	{ "\"created\", not the order of the file, decides", ALL ", " OWNERS "}",
	  { "r2 tag:r 100.64.0.2 adv=10.0.0.0/8 appr=10.0.0.0/8 at=2026-04-10T21:00:02Z",
	    "r1 tag:r 100.64.0.1 adv=10.0.0.0/8 appr=10.0.0.0/8 at=2026-04-10T21:00:01Z",
	    "c alice 100.64.0.9 at=2026-04-10T21:00:03Z" },
	  "c", "r1", "100.64.0.1/32 10.0.0.0/8", "10.0.0.0/8" },
	{ "a secondary router is shown the primary's route", ALL ", " OWNERS "}",
	  { "r1 tag:r 100.64.0.1 adv=10.0.0.0/8 appr=10.0.0.0/8", "r2 tag:r 100.64.0.2 adv=10.0.0.0/8 appr=10.0.0.0/8" },
	  "r2", "r1", "100.64.0.1/32 10.0.0.0/8", "10.0.0.0/8" },
	{ "the primary is not shown the secondary's route", ALL ", " OWNERS "}",
	  { "r1 tag:r 100.64.0.1 adv=10.0.0.0/8 appr=10.0.0.0/8", "r2 tag:r 100.64.0.2 adv=10.0.0.0/8 appr=10.0.0.0/8" },
	  "r1", "r2", "100.64.0.2/32", "" },
	{ "parent and child prefixes are different routes, each primary", ALL ", " OWNERS "}",
	  { "r1 tag:r 100.64.0.1 adv=10.0.0.0/8 appr=10.0.0.0/8", "r2 tag:r 100.64.0.2 adv=10.1.0.0/16 appr=10.1.0.0/16",
	    "c alice 100.64.0.9" },
	  "c", "r2", "100.64.0.2/32 10.1.0.0/16", "10.1.0.0/16" },
	{ "an unapproved route is not served", ALL ", " OWNERS "}",
	  { "r1 tag:r 100.64.0.1 adv=10.0.0.0/8", "c alice 100.64.0.9" },
	  "c", "r1", "100.64.0.1/32", "" },
	{ "autoApprovers approve a route inside their prefix",
	  ALL ", " OWNERS ", \"autoApprovers\": {\"routes\": {\"10.0.0.0/8\": [\"tag:r\"]}}}",
	  { "r1 tag:r 100.64.0.1 adv=10.1.0.0/16", "c alice 100.64.0.9" },
	  "c", "r1", "100.64.0.1/32 10.1.0.0/16", "10.1.0.0/16" },
	{ "an unapproved first advertiser does not take the primary",
	  ALL ", " OWNERS ", \"autoApprovers\": {\"routes\": {\"10.0.0.0/8\": [\"tag:b\"]}}}",
	  { "r1 tag:a 100.64.0.1 adv=10.0.0.0/8", "r2 tag:b 100.64.0.2 adv=10.0.0.0/8", "c alice 100.64.0.9" },
	  "c", "r2", "100.64.0.2/32 10.0.0.0/8", "10.0.0.0/8" },
	{ "a viewer that may reach only the router's address is not shown the route",
	  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"alice@example.com\"], \"dst\": [\"tag:r:22\"]}], " OWNERS "}",
	  { "r1 tag:r 100.64.0.1 adv=10.0.0.0/8 appr=10.0.0.0/8", "c alice 100.64.0.9" },
	  "c", "r1", "100.64.0.1/32", "" },
	{ "a route that may send to the viewer is shown (return path)",
	  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"10.0.0.0/8\"], \"dst\": [\"alice@example.com:22\"]}], " OWNERS "}",
	  { "r1 tag:r 100.64.0.1 adv=10.0.0.0/8 appr=10.0.0.0/8", "c alice 100.64.0.9" },
	  "c", "r1", "100.64.0.1/32 10.0.0.0/8", "10.0.0.0/8" },
	{ "no rule between them: not peers",
	  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"alice@example.com\"], \"dst\": [\"tag:c:22\"]}], " OWNERS "}",
	  { "r1 tag:r 100.64.0.1 adv=10.0.0.0/8 appr=10.0.0.0/8", "c alice 100.64.0.9", "s tag:c 100.64.0.5" },
	  "c", "r1", "-", "-" },
	{ "via: a viewer is shown the route at its via router, even a non-primary",
	  "{\"grants\": [{\"src\": [\"alice@example.com\"], \"dst\": [\"10.0.0.0/8\"], \"ip\": [\"*\"], "
	  "\"via\": [\"tag:b\"]}], " OWNERS "}",
	  { "r1 tag:a 100.64.0.1 adv=10.0.0.0/8 appr=10.0.0.0/8", "r2 tag:b 100.64.0.2 adv=10.0.0.0/8 appr=10.0.0.0/8",
	    "c alice 100.64.0.9" },
	  "c", "r2", "100.64.0.2/32 10.0.0.0/8", "10.0.0.0/8" },
	{ "via: the router not named is not a peer",
	  "{\"grants\": [{\"src\": [\"alice@example.com\"], \"dst\": [\"10.0.0.0/8\"], \"ip\": [\"*\"], "
	  "\"via\": [\"tag:b\"]}], " OWNERS "}",
	  { "r1 tag:a 100.64.0.1 adv=10.0.0.0/8 appr=10.0.0.0/8", "r2 tag:b 100.64.0.2 adv=10.0.0.0/8 appr=10.0.0.0/8",
	    "c alice 100.64.0.9" },
	  "c", "r1", "-", "-" },
	{ "an app grant makes peers without packets",
	  "{\"grants\": [{\"src\": [\"alice@example.com\"], \"dst\": [\"tag:c\"], "
	  "\"app\": {\"example.com/cap/x\": [{}]}}], " OWNERS "}",
	  { "c alice 100.64.0.9", "s tag:c 100.64.0.5" },
	  "s", "c", "100.64.0.9/32", "" },

	/* Exit nodes. */
	{ "an approved exit node: its exit routes in allowed_ips, not primary", ALL ", " OWNERS "}",
	  { "e tag:exit 100.64.0.3 adv=0.0.0.0/0,::/0 appr=0.0.0.0/0,::/0", "c alice 100.64.0.9" },
	  "c", "e", "100.64.0.3/32 0.0.0.0/0 ::/0", "" },
	{ "an unapproved exit node: addresses only", ALL ", " OWNERS "}",
	  { "e tag:exit 100.64.0.3 adv=0.0.0.0/0,::/0", "c alice 100.64.0.9" },
	  "c", "e", "100.64.0.3/32", "" },
	{ "a \"routes\" autoApprover for 0.0.0.0/0 does not approve an exit route",
	  ALL ", " OWNERS ", \"autoApprovers\": {\"routes\": {\"0.0.0.0/0\": [\"tag:exit\"], \"::/0\": [\"tag:exit\"]}}}",
	  { "e tag:exit 100.64.0.3 adv=0.0.0.0/0,::/0", "c alice 100.64.0.9" },
	  "c", "e", "100.64.0.3/32", "" },
	{ "autoApprovers.exitNode approves exit routes",
	  ALL ", " OWNERS ", \"autoApprovers\": {\"exitNode\": [\"tag:exit\"]}}",
	  { "e tag:exit 100.64.0.3 adv=0.0.0.0/0,::/0", "c alice 100.64.0.9" },
	  "c", "e", "100.64.0.3/32 0.0.0.0/0 ::/0", "" },
	{ "exitNode approves only the tagged node",
	  ALL ", " OWNERS ", \"autoApprovers\": {\"exitNode\": [\"tag:exit\"]}}",
	  { "e tag:r 100.64.0.3 adv=0.0.0.0/0,::/0", "c alice 100.64.0.9" },
	  "c", "e", "100.64.0.3/32", "" },
	{ "an exit node with a subnet route: subnet primary, exit routes after it", ALL ", " OWNERS "}",
	  { "e tag:exit 100.64.0.3 adv=172.16.0.0/24,0.0.0.0/0,::/0 appr=0.0.0.0/0,172.16.0.0/24,::/0",
	    "c alice 100.64.0.9" },
	  "c", "e", "100.64.0.3/32 172.16.0.0/24 0.0.0.0/0 ::/0", "172.16.0.0/24" },
	{ "two exit nodes: both offer their exit routes (no primary for /0)", ALL ", " OWNERS "}",
	  { "e1 tag:exit 100.64.0.3 adv=0.0.0.0/0,::/0 appr=0.0.0.0/0,::/0",
	    "e2 tag:exit 100.64.0.4 adv=0.0.0.0/0,::/0 appr=0.0.0.0/0,::/0", "c alice 100.64.0.9" },
	  "c", "e2", "100.64.0.4/32 0.0.0.0/0 ::/0", "" },
	{ "an exit node no rule names is no peer: exit routes add no reach",
	  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"alice@example.com\"], \"dst\": [\"tag:c:22\"]}], " OWNERS "}",
	  { "e tag:exit 100.64.0.3 adv=0.0.0.0/0,::/0 appr=0.0.0.0/0,::/0", "c alice 100.64.0.9", "s tag:c 100.64.0.5" },
	  "c", "e", "-", "-" },
	{ "autogroup:internet makes the exit node a peer",
	  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"alice@example.com\"], \"dst\": [\"autogroup:internet:*\"]}], "
	  OWNERS "}",
	  { "e tag:exit 100.64.0.3 adv=0.0.0.0/0,::/0 appr=0.0.0.0/0,::/0", "c alice 100.64.0.9" },
	  "c", "e", "100.64.0.3/32 0.0.0.0/0 ::/0", "" },
	{ "autogroup:internet: the exit node sees its user too",
	  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"alice@example.com\"], \"dst\": [\"autogroup:internet:*\"]}], "
	  OWNERS "}",
	  { "e tag:exit 100.64.0.3 adv=0.0.0.0/0,::/0 appr=0.0.0.0/0,::/0", "c alice 100.64.0.9" },
	  "e", "c", "100.64.0.9/32", "" },
	{ "autogroup:internet with no exit node approved: no peer",
	  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"alice@example.com\"], \"dst\": [\"autogroup:internet:*\"]}], "
	  OWNERS "}",
	  { "e tag:exit 100.64.0.3 adv=0.0.0.0/0,::/0", "c alice 100.64.0.9" },
	  "c", "e", "-", "-" },
};

/* Each of "a,b" as node NODE's WHICH routes.  0 or -errno. */
static int add_routes(struct inv *inv, size_t node, enum inv_routes which, const char *csv)
{
	char *copy = strdup(csv), *save = NULL;
	int rc = copy ? 0 : -ENOMEM;
	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; rc == 0 && t; t = strtok_r(NULL, ",", &save))
		rc = inv_node_add_route(inv, node, which, t);
	free(copy);
	return rc;
}

/* One node spec through the inventory's builders.  0 or -errno. */
static int node_build(struct inv *inv, const char *spec)
{
	char name[64], owner[128], ip[64], opt[3][256] = { "", "", "" };
	int got = sscanf(spec, "%63s %127s %63s %255s %255s %255s", name, owner, ip, opt[0], opt[1], opt[2]);
	bool tagged = strncmp(owner, "tag:", 4) == 0;
	int rc = got < 3 ? -EINVAL : inv_add_node(inv, name, tagged ? -1 : inv_user_by_name(inv, owner));
	if (rc < 0)
		return rc;
	size_t n = (size_t)rc;
	char *save = NULL;
	rc = 0;
	for (char *t = tagged ? strtok_r(owner, "+", &save) : NULL; rc == 0 && t; t = strtok_r(NULL, "+", &save))
		rc = inv_node_add_tag(inv, n, t);
	if (rc == 0)
		rc = inv_node_set_addr(inv, n, ADDR_V4, ip);
	for (int i = 0; rc == 0 && i + 3 < got; i++) {
		if (strncmp(opt[i], "at=", 3) == 0)
			rc = inv_node_set_created(inv, n, opt[i] + 3);
		else
			rc = add_routes(inv, n, strncmp(opt[i], "adv=", 4) == 0 ? INV_ADVERTISED : INV_APPROVED,
					strchr(opt[i], '=') + 1);
	}
	return rc;
}

static void join(const struct addr_set *s, char *out, size_t len)
{
	char buf[ADDR_RANGE_STRLEN];
	out[0] = 0;
	for (size_t i = 0; i < s->n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, len - l, "%s%s", i ? " " : "", routes_prefix_format(&s->v[i], buf));
	}
}

static int index_of(const struct inv *inv, const char *name)
{
	for (size_t i = 0; i < inv->nnodes; i++)
		if (strcmp(inv->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* A policy and an inventory (node specs as in the cases), compiled. */
struct world {
	struct diag_list diags;
	struct diag_src *src;
	struct hj_value *root;
	struct pol_policy *p;
	struct inv *inv;
	struct filter_set fs;
	bool compiled;
};

static bool world_load(struct world *w, const char *policy, const char *const *specs, size_t nspecs)
{
	memset(w, 0, sizeof(*w));
	w->src = diag_src_from_mem("policy.hujson", policy, strlen(policy));
	w->root = hj_parse(w->src, &w->diags);
	w->p = w->root ? pol_load(w->root, &w->diags) : NULL;
	w->inv = inv_new();
	int rc = w->inv ? 0 : -ENOMEM;
	if (rc == 0 && (rc = inv_add_user(w->inv, "alice", "alice@example.com")) >= 0)
		rc = inv_add_user(w->inv, "bob", "bob@example.com");
	for (size_t i = 0; rc >= 0 && i < nspecs && specs[i]; i++)
		rc = node_build(w->inv, specs[i]);
	if (rc >= 0)
		rc = inv_finish(w->inv, &w->diags);
	if (rc < 0)
		diag_error(&w->diags, NULL, "building the inventory: %s", strerror(-rc));
	w->compiled = rc >= 0 && w->p && filter_compile(w->p, w->inv, &w->fs, &w->diags) == 0;
	return w->compiled;
}

static void world_free(struct world *w)
{
	if (w->compiled)
		filter_set_free(&w->fs);
	inv_free(w->inv);
	pol_free(w->p);
	hj_free(w->root);
	diag_list_free(&w->diags);
	diag_src_free(w->src);
}

static void run(const struct tcase *tc)
{
	struct world w;
	struct routes_set rs = { 0 };
	if (!world_load(&w, tc->policy, tc->nodes, MAXN) || routes_compute(w.p, w.inv, &w.fs, &rs, &w.diags) < 0) {
		T_CHECK(false, "%s: setup failed: %s", tc->what, w.diags.n ? w.diags.items[0].msg : "?");
		goto out;
	}
	int v = index_of(w.inv, tc->viewer), pe = index_of(w.inv, tc->peer);
	const struct routes_peer *peer = v >= 0 && pe >= 0 ? routes_find(&rs, (size_t)v, (size_t)pe) : NULL;
	char allowed[512] = "-", primary[512] = "-";
	if (peer) {
		join(&peer->allowed_ips, allowed, sizeof(allowed));
		join(&peer->primary_routes, primary, sizeof(primary));
	}
	T_STREQ(allowed, tc->allowed, "%s: %s sees %s with allowed_ips [%s]", tc->what, tc->viewer, tc->peer,
		tc->allowed);
	T_STREQ(primary, tc->primary, "%s: %s sees %s with primary_routes [%s]", tc->what, tc->viewer, tc->peer,
		tc->primary);
out:
	routes_set_free(&rs);
	world_free(&w);
}

/* filter_names (the reusable resolver diff's namer uses) answers what
 * filter_alias_addrs answers, alias after alias, with the alias names
 * freed between calls (its memo keeps its own copies) and asked twice. */
static void test_names(void)
{
	static const char policy[] = "{\"groups\": {\"group:eng\": [\"alice@example.com\", \"bob@\"]}, "
				     "\"hosts\": {\"db\": \"10.9.0.5\"}, \"acls\": [], " OWNERS "}";
	static const struct {
		enum pol_alias_kind kind;
		const char *name;
		const char *want;
	} asks[] = {
		{ PA_GROUP, "group:eng", "100.64.0.1/32 100.64.0.5/32 100.64.0.9/32" },
		{ PA_USER, "alice@example.com", "100.64.0.1/32 100.64.0.5/32" },
		{ PA_USER, "bob@", "100.64.0.9/32" },
		{ PA_TAG, "tag:r", "100.64.0.20/32" },
		{ PA_MEMBER, "autogroup:member", "100.64.0.1/32 100.64.0.5/32 100.64.0.9/32" },
		{ PA_GROUP, "group:eng", "100.64.0.1/32 100.64.0.5/32 100.64.0.9/32" },
		{ PA_USER, "carol@example.com", "" },
	};
	static const char *const specs[] = { "a1 alice 100.64.0.1", "a2 alice 100.64.0.5", "b1 bob 100.64.0.9",
					     "r1 tag:r 100.64.0.20" };
	struct world w;
	struct filter_names *fnm = world_load(&w, policy, specs, 4) ? filter_names_new(w.p, w.inv, &w.fs) : NULL;
	T_CHECK(fnm != NULL, "names: setup (%s)", w.diags.n ? w.diags.items[0].msg : "no diagnostics");
	for (size_t i = 0; fnm && i < sizeof(asks) / sizeof(asks[0]); i++) {
		struct pol_alias a = { .kind = asks[i].kind, .name = strdup(asks[i].name) };
		struct addr_set once = { 0 }, kept = { 0 };
		bool b1 = filter_alias_addrs(w.p, w.inv, &w.fs, &a, &once), b2 = filter_names_addrs(fnm, &a, &kept);
		free(a.name);
		addr_set_merge(&once);
		addr_set_merge(&kept);
		char t1[512], t2[512];
		join(&once, t1, sizeof(t1));
		join(&kept, t2, sizeof(t2));
		T_CHECK(b1 == b2 && strcmp(t1, t2) == 0 && strcmp(t2, asks[i].want) == 0,
			"names: %s (ask %zu): the resolver and the one-shot agree: [%s] [%s]", asks[i].name, i + 1, t2, t1);
		addr_set_free(&once);
		addr_set_free(&kept);
	}
	filter_names_free(fnm);
	world_free(&w);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run(&cases[i]);
	test_names();
	T_DONE();
}
