/* Device posture (issue 12, part B): conditions parsed as Tailscale writes
 * them, judged on the inventory's node attributes, fail closed (a missing
 * attribute never satisfies), srcPosture in grants and ACLs,
 * defaultSrcPosture, and tests' srcPostureAttrs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "posture.h"

/* ann: a current linux laptop on the stable track; bob: an old macOS
 * laptop without a track; cid: a laptop with no attributes at all; a
 * tagged server. */
static const char inventory[] =
	"{\"users\": [{\"name\": \"ann\", \"email\": \"ann@example.com\"},\n"
	"  {\"name\": \"bob\", \"email\": \"bob@example.com\"},\n"
	"  {\"name\": \"cid\", \"email\": \"cid@example.com\"}],\n"
	" \"nodes\": [\n"
	"  {\"name\": \"ann-l\", \"user\": \"ann\", \"ipv4\": \"100.64.0.1\", \"attributes\": {\"node:os\": \"linux\",\n"
	"   \"node:osVersion\": \"6.1.0\", \"node:tsVersion\": \"1.62.1-t0abc\", \"node:tsReleaseTrack\": \"stable\",\n"
	"   \"custom:score\": 90, \"custom:managed\": true}},\n"
	"  {\"name\": \"bob-l\", \"user\": \"bob\", \"ipv4\": \"100.64.0.2\", \"attributes\": {\"node:os\": \"macos\",\n"
	"   \"node:osVersion\": \"12.7\", \"node:tsVersion\": \"1.58.2\", \"custom:score\": 40, \"custom:managed\": false}},\n"
	"  {\"name\": \"cid-l\", \"user\": \"cid\", \"ipv4\": \"100.64.0.3\"},\n"
	"  {\"name\": \"srv\", \"tags\": [\"tag:srv\"], \"ipv4\": \"100.64.0.20\"}]}\n";

#define POLCASE_INVENTORY inventory
#include "polcase.h"

/* One posture "posture:p" with condition COND on a grant from every
 * member to srv:22, and tests. */
#define ONE(cond, tests) \
	"{\"postures\": {\"posture:p\": [" cond "]}," \
	" \"grants\": [{\"src\": [\"autogroup:member\"], \"dst\": [\"100.64.0.20\"], \"ip\": [\"tcp:22\"]," \
	"   \"srcPosture\": [\"posture:p\"]}], \"tests\": [" tests "]}"
#define T_ACC(who) "{\"src\": \"" who "@example.com\", \"accept\": [\"100.64.0.20:22\"]}"
#define T_DENY(who) "{\"src\": \"" who "@example.com\", \"deny\": [\"100.64.0.20:22\"]}"

static void test_operators(void)
{
	static const struct form_case cases[] = {
		{ "posture: == on a string; a node without the attribute is refused",
		  ONE("\"node:os == 'linux'\"", T_ACC("ann") "," T_DENY("bob") "," T_DENY("cid")), NULL },
		{ "posture: != holds only for a node that has the attribute (fail closed)",
		  ONE("\"node:os != 'linux'\"", T_DENY("ann") "," T_ACC("bob") "," T_DENY("cid")), NULL },
		{ "posture: versions compare by their numbers (6.1.0 >= 6.1, 12.7 < 13)",
		  ONE("\"node:osVersion >= '6.1'\"", T_ACC("ann") "," T_ACC("bob") "," T_DENY("cid")), NULL },
		{ "posture: tsVersion 1.62.1-t0abc > 1.60 and 1.58.2 is not",
		  ONE("\"node:tsVersion > '1.60'\"", T_ACC("ann") "," T_DENY("bob")), NULL },
		{ "posture: < and <= on numbers",
		  ONE("\"custom:score < 50\", \"custom:score <= 40\"", T_DENY("ann") "," T_ACC("bob") "," T_DENY("cid")),
		  NULL },
		{ "posture: booleans",
		  ONE("\"custom:managed == true\"", T_ACC("ann") "," T_DENY("bob") "," T_DENY("cid")), NULL },
		{ "posture: IN a list",
		  ONE("\"node:os IN ['linux', 'windows']\"", T_ACC("ann") "," T_DENY("bob") "," T_DENY("cid")), NULL },
		{ "posture: NOT IN a list needs the attribute",
		  ONE("\"node:os NOT IN ['linux']\"", T_DENY("ann") "," T_ACC("bob") "," T_DENY("cid")), NULL },
		{ "posture: IS SET and NOT SET",
		  ONE("\"node:tsReleaseTrack IS SET\"", T_ACC("ann") "," T_DENY("bob") "," T_DENY("cid")), NULL },
		{ "posture: NOT SET holds where the attribute is missing",
		  ONE("\"node:tsReleaseTrack NOT SET\"", T_DENY("ann") "," T_ACC("bob") "," T_ACC("cid")), NULL },
		{ "posture: every condition of a posture must hold",
		  ONE("\"node:os == 'linux'\", \"custom:score > 95\"", T_DENY("ann") "," T_DENY("bob")), NULL },
		{ "posture: a number against a string attribute never matches",
		  ONE("\"node:os == 5\"", T_DENY("ann") "," T_DENY("bob")), NULL },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_rules(void)
{
	static const struct form_case cases[] = {
		{ "posture: srcPosture admits a device satisfying any one of its postures",
		  "{\"postures\": {\"posture:a\": [\"node:os == 'linux'\"], \"posture:b\": [\"node:os == 'macos'\"]},"
		  " \"grants\": [{\"src\": [\"*\"], \"dst\": [\"100.64.0.20\"], \"ip\": [\"22\"],"
		  "   \"srcPosture\": [\"posture:a\", \"posture:b\"]}],"
		  " \"tests\": [" T_ACC("ann") "," T_ACC("bob") "," T_DENY("cid") "]}", NULL },
		{ "posture: srcPosture in an ACL",
		  "{\"postures\": {\"posture:a\": [\"node:os == 'macos'\"]},"
		  " \"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"100.64.0.20:22\"],"
		  "   \"srcPosture\": [\"posture:a\"]}],"
		  " \"tests\": [" T_DENY("ann") "," T_ACC("bob") "]}", NULL },
		{ "posture: an address source admits only the devices within it that satisfy the posture",
		  "{\"postures\": {\"posture:a\": [\"node:os == 'linux'\"]},"
		  " \"grants\": [{\"src\": [\"100.64.0.0/24\"], \"dst\": [\"100.64.0.20\"], \"ip\": [\"22\"],"
		  "   \"srcPosture\": [\"posture:a\"]}],"
		  " \"tests\": [" T_ACC("ann") "," T_DENY("bob") ", {\"src\": \"100.64.0.9\", \"deny\": [\"100.64.0.20:22\"]}]}",
		  NULL },
		{ "posture: defaultSrcPosture applies to rules without their own",
		  "{\"postures\": {\"posture:a\": [\"node:os == 'linux'\"], \"posture:b\": [\"node:os == 'macos'\"]},"
		  " \"defaultSrcPosture\": [\"posture:a\"],"
		  " \"grants\": [{\"src\": [\"*\"], \"dst\": [\"100.64.0.20\"], \"ip\": [\"22\"]},"
		  "   {\"src\": [\"*\"], \"dst\": [\"100.64.0.20\"], \"ip\": [\"80\"], \"srcPosture\": [\"posture:b\"]}],"
		  " \"tests\": [" T_ACC("ann") "," T_DENY("bob") ","
		  "  {\"src\": \"bob@example.com\", \"accept\": [\"100.64.0.20:80\"]},"
		  "  {\"src\": \"ann@example.com\", \"deny\": [\"100.64.0.20:80\"]}]}", NULL },
		{ "posture: srcPostureAttrs tries the test's source with the given attributes",
		  ONE("\"node:os == 'linux'\", \"custom:score >= 50\"",
		      "{\"src\": \"bob@example.com\", \"srcPostureAttrs\": {\"node:os\": \"linux\", \"custom:score\": 50},"
		      "  \"accept\": [\"100.64.0.20:22\"]},"
		      "{\"src\": \"ann@example.com\", \"srcPostureAttrs\": {\"node:os\": \"linux\"},"
		      "  \"deny\": [\"100.64.0.20:22\"]}"), NULL },
		{ "posture: an undefined posture in srcPosture is an error",
		  "{\"grants\": [{\"src\": [\"*\"], \"dst\": [\"*\"], \"ip\": [\"22\"], \"srcPosture\": [\"posture:x\"]}]}",
		  "unknown posture \"posture:x\"" },
		{ "posture: an undefined posture in defaultSrcPosture is an error",
		  "{\"defaultSrcPosture\": [\"posture:x\"]}", "unknown posture \"posture:x\"" },
		{ "posture: a posture name without posture: is an error",
		  "{\"postures\": {\"latest\": [\"node:os IS SET\"]}}", "must be posture:NAME" },
		{ "posture: a condition without an operator is an error",
		  "{\"postures\": {\"posture:a\": [\"node:os linux\"]}}", "no operator" },
		{ "posture: IN without a list is an error",
		  "{\"postures\": {\"posture:a\": [\"node:os IN 'linux'\"]}}", "IN takes a list" },
		{ "posture: an attribute without a namespace is an error",
		  "{\"postures\": {\"posture:a\": [\"os == 'linux'\"]}}", "NAMESPACE:NAME" },
		{ "posture: text after a condition is an error",
		  "{\"postures\": {\"posture:a\": [\"node:os == 'linux' AND\"]}}", "unexpected text" },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_versions(void)
{
	static const struct {
		const char *a, *b;
		int want;
	} v[] = {
		{ "1.60", "1.60.0", 0 }, { "1.60", "1.62.1", -1 }, { "13.4", "13.10", -1 },
		{ "1.62.1-t0abc", "1.62.1", 0 }, { "2", "1.99", 1 }, { "1-5", "1.2", -1 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int got = posture_version_cmp(v[i].a, v[i].b);
		T_CHECK((got > 0) - (got < 0) == v[i].want, "posture: version %s vs %s is %d", v[i].a, v[i].b,
			v[i].want);
	}
}

static void test_inventory_attrs(void)
{
	struct inv *inv = inv_new();
	int u = inv ? inv_add_user(inv, "u", NULL) : -1, n = u >= 0 ? inv_add_node(inv, "n", u) : -1;
	struct inv_attr a = { .key = "custom:x", .kind = INV_ATTR_NUM, .num = 1 };
	struct inv_attr b = { .key = "custom:x", .kind = INV_ATTR_STR, .str = "two" };
	struct inv_attr bad = { .key = "x", .kind = INV_ATTR_BOOL };
	T_CHECK(n >= 0 && inv_node_set_attr(inv, (size_t)n, &a) == 0 && inv_node_set_attr(inv, (size_t)n, &b) == 0 &&
		inv->nodes[n].nattrs == 1 && strcmp(inv_node_attr(&inv->nodes[n], "custom:x")->str, "two") == 0,
		"inv: an attribute set twice keeps the last value");
	T_CHECK(n >= 0 && inv_node_set_attr(inv, (size_t)n, &bad) == -EINVAL && inv_node_set_attr(inv, 9, &a) == -EINVAL,
		"inv: attribute keys are NAMESPACE:NAME, nodes must exist");
	inv_free(inv);
}

int main(void)
{
	test_operators();
	test_rules();
	test_versions();
	test_inventory_attrs();
	T_DONE();
}
