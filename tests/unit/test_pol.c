/* Unit tests for the policy model's small parsers: ports, protocols,
 * destinations, selectors; and for the inventory loader. */
#include <stdlib.h>
#include <string.h>

#include "hj.h"
#include "inv.h"
#include "pol.h"
#include "t.h"

static void test_ports(void)
{
	static const struct {
		const char *text;
		bool ok;
		size_t n;
		unsigned lo0, hi_last;
	} cases[] = {
		{ "*", true, 1, 0, 65535 },
		{ "22", true, 1, 22, 22 },
		{ "80,443", true, 2, 80, 443 },
		{ "1000-2000", true, 1, 1000, 2000 },
		{ "22,8000-8100,9000", true, 3, 22, 9000 },
		{ "65535", true, 1, 65535, 65535 },
		{ "0", false, 0, 0, 0 },
		{ "65536", false, 0, 0, 0 },
		{ "2000-1000", false, 0, 0, 0 },
		{ "", false, 0, 0, 0 },
		{ "22,", false, 0, 0, 0 },
		{ "ssh", false, 0, 0, 0 },
		{ "-1", false, 0, 0, 0 },
		{ "1-2-3", false, 0, 0, 0 },
		{ "**", false, 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag_list d = { 0 };
		struct pol_ports *p;
		size_t n;
		bool ok = pol_ports_parse(cases[i].text, NULL, &p, &n, &d);
		if (cases[i].ok)
			T_CHECK(ok && n == cases[i].n && p[0].lo == cases[i].lo0 && p[n - 1].hi == cases[i].hi_last,
				"pol: ports \"%s\" parse to %zu range(s) %u..%u", cases[i].text, cases[i].n,
				cases[i].lo0, cases[i].hi_last);
		else
			T_CHECK(!ok && d.nerrors == 1, "pol: ports \"%s\" are refused with one error", cases[i].text);
		if (ok)
			free(p);
		diag_list_free(&d);
	}
}

static void test_protocols(void)
{
	static const struct {
		const char *text;
		int want;
	} cases[] = {
		{ "tcp", 6 }, { "udp", 17 }, { "icmp", 1 }, { "ipv6-icmp", 58 }, { "sctp", 132 },
		{ "gre", 47 }, { "esp", 50 }, { "6", 6 }, { "255", 255 }, { "0", 0 },
		{ "256", -1 }, { "TCP", -1 }, { "", -1 }, { "tcpp", -1 }, { "1a", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		T_CHECK(pol_proto_parse(cases[i].text) == cases[i].want, "pol: protocol \"%s\" is %d",
			cases[i].text, cases[i].want);
}

static void test_split_dst(void)
{
	static const struct {
		const char *text, *alias, *ports;
	} cases[] = {
		{ "tag:web:443", "tag:web", "443" },
		{ "*:*", "*", "*" },
		{ "10.0.0.0/8:22", "10.0.0.0/8", "22" },
		{ "[fd00::1]:22", "fd00::1", "22" },
		{ "fd7a:115c:a1e0::/48:80,443", "fd7a:115c:a1e0::/48", "80,443" },
		{ "autogroup:self:*", "autogroup:self", "*" },
		{ "host", NULL, NULL },
		{ "[fd00::1]22", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *alias = NULL;
		const char *ports = NULL;
		bool ok = pol_split_dst(cases[i].text, &alias, &ports);
		if (cases[i].alias)
			T_CHECK(ok && strcmp(alias, cases[i].alias) == 0 && strcmp(ports, cases[i].ports) == 0,
				"pol: \"%s\" splits into \"%s\" and \"%s\"", cases[i].text, cases[i].alias,
				cases[i].ports);
		else
			T_CHECK(!ok, "pol: \"%s\" has no ports", cases[i].text);
		free(alias);
	}
}

static void test_selectors(void)
{
	static const char policy[] =
		"{\"groups\": {\"group:eng\": [\"alice@example.com\"]},"
		" \"hosts\": {\"api\": \"192.0.2.1\"},"
		" \"tagOwners\": {\"tag:web\": []},"
		" \"ipsets\": {\"ipset:office\": [\"198.51.100.0/24\", \"api\"]}}";
	static const struct {
		const char *text;
		enum pol_side side;
		int kind;   /* -1: refused */
	} cases[] = {
		{ "*", POL_SRC, PA_ANY },
		{ "alice@example.com", POL_SRC, PA_USER },
		{ "user:alice@example.com", POL_SRC, PA_USER },
		{ "user:*@example.com", POL_SRC, PA_USER_GLOB },
		{ "group:eng", POL_SRC, PA_GROUP },
		{ "group:ops", POL_SRC, -1 },
		{ "tag:web", POL_DST, PA_TAG },
		{ "tag:db", POL_DST, -1 },
		{ "api", POL_DST, PA_HOST },
		{ "apix", POL_DST, -1 },
		{ "ipset:office", POL_SRC, PA_IPSET },
		{ "ipset:home", POL_SRC, -1 },
		{ "10.0.0.0/8", POL_SRC, PA_ADDR },
		{ "10.0.0.1-10.0.0.9", POL_SRC, PA_ADDR },
		{ "10.0.0.1/8", POL_SRC, -1 },
		{ "0.0.0.0/0", POL_DST, -1 },
		{ "0.0.0.0/0", POL_SRC, PA_ADDR },
		{ "autogroup:member", POL_SRC, PA_MEMBER },
		{ "autogroup:tagged", POL_DST, PA_TAGGED },
		{ "autogroup:self", POL_DST, PA_SELF },
		{ "autogroup:self", POL_SRC, -1 },
		{ "autogroup:internet", POL_DST, PA_INTERNET },
		{ "autogroup:internet", POL_SRC, -1 },
		{ "autogroup:danger-all", POL_SRC, PA_DANGER_ALL },
		{ "autogroup:danger-all", POL_DST, -1 },
		{ "autogroup:admin", POL_SRC, PA_ROLE },
		{ "autogroup:admins", POL_SRC, -1 },
		{ "*", POL_TEST_SRC, -1 },
	};
	struct diag_list d = { 0 };
	struct diag_src *src = diag_src_from_mem("p.hujson", policy, strlen(policy));
	struct hj_value *root = hj_parse(src, &d);
	struct pol_policy *p = root ? pol_load(root, &d) : NULL;
	T_CHECK(p != NULL, "pol: selector test policy loads");
	for (size_t i = 0; p && i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag_list e = { 0 };
		struct pol_alias a;
		bool ok = pol_alias_parse(p, cases[i].text, root, cases[i].side, &a, &e);
		if (cases[i].kind < 0)
			T_CHECK(!ok && e.nerrors == 1, "pol: \"%s\" refused as side %d with one error", cases[i].text,
				cases[i].side);
		else
			T_CHECK(ok && (int)a.kind == cases[i].kind, "pol: \"%s\" is selector kind %d", cases[i].text,
				cases[i].kind);
		if (ok)
			pol_alias_clear(&a);
		diag_list_free(&e);
	}
	pol_free(p);
	hj_free(root);
	diag_src_free(src);
	diag_list_free(&d);
}

static void test_registration_order(void)
{
	static const char json[] =
		"{\"users\": [], \"nodes\": ["
		" {\"name\": \"c\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.3\", \"created\": \"2026-04-10T21:06:42.9Z\"},"
		" {\"name\": \"a\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.1\", \"created\": \"2026-04-10T21:06:42.83Z\"},"
		" {\"name\": \"b\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.2\", \"created\": \"2026-04-10T21:06:42.830233003Z\"},"
		" {\"name\": \"d\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.4\", \"created\": \"2026-04-10T21:06:42.9Z\"}]}";
	struct diag_list d = { 0 };
	struct diag_src *src = diag_src_from_mem("nodes.json", json, strlen(json));
	struct inv *inv = inv_read(src, &d);
	char order[8] = "";
	for (size_t i = 0; inv && i < inv->nnodes && i < 7; i++)
		order[i] = inv->nodes[i].name[0];
	T_STREQ(order, "abcd", "inv: nodes ordered by \"created\" (fractions numerically, ties in file order)");
	inv_free(inv);
	diag_list_free(&d);
	diag_src_free(src);
}

static void test_inventory(void)
{
	static const struct {
		const char *json;
		int nerrors;
		const char *what;
	} cases[] = {
		{ "{\"users\": [{\"name\": \"a\", \"email\": \"a@x\"}], \"nodes\": [{\"name\": \"n\", \"user\": \"a\", "
		  "\"ipv4\": \"100.64.0.1\"}]}", 0, "a minimal inventory loads" },
		{ "{\"users\": [], \"nodes\": [{\"name\": \"n\", \"user\": null, \"tags\": [\"tag:t\"], "
		  "\"ipv6\": \"fd7a:115c:a1e0::1\", \"advertised_routes\": [\"10.0.0.0/8\"]}]}", 0,
		  "a tagged IPv6-only router loads" },
		{ "{\"users\": [], \"nodes\": [{\"name\": \"n\", \"user\": \"ghost\", \"ipv4\": \"100.64.0.1\"}]}", 1,
		  "an unknown user is one error" },
		{ "{\"users\": [], \"nodes\": [{\"name\": \"n\", \"tags\": [\"t\"], \"ipv4\": \"100.64.0.1\"}]}", 1,
		  "a tag without tag: is one error" },
		{ "{\"users\": [], \"nodes\": [{\"name\": \"n\", \"tags\": [\"tag:t\"], \"ipv4\": \"fd00::1\"}]}", 1,
		  "an IPv6 address as ipv4 is one error" },
		{ "{\"users\": [], \"nodes\": [{\"name\": \"n\", \"tags\": [\"tag:t\"]}]}", 1,
		  "a node without addresses is one error" },
		{ "{\"users\": [], \"nodes\": [{\"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.1\"}]}", 1,
		  "a node without a name is one error" },
		{ "{\"users\": [], \"nodes\": {}}", 1, "nodes not an array is one error" },
		{ "{\"users\": [], \"nodes\": [{\"name\": \"n\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.1\", "
		  "\"approved_routes\": [\"10.0.0.1/8\"]}]}", 1, "a route with host bits is one error" },
		{ "{\"users\": [], \"nodes\": [{\"name\": \"n\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.1\", "
		  "\"created\": \"yesterday\"}]}", 1, "a malformed created time is one error" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag_list d = { 0 };
		struct diag_src *src = diag_src_from_mem("nodes.json", cases[i].json, strlen(cases[i].json));
		struct inv *inv = inv_read(src, &d);
		T_CHECK((int)d.nerrors == cases[i].nerrors && (inv != NULL) == (cases[i].nerrors == 0),
			"inv: %s", cases[i].what);
		inv_free(inv);
		diag_list_free(&d);
		diag_src_free(src);
	}
}

int main(void)
{
	test_ports();
	test_protocols();
	test_split_dst();
	test_selectors();
	test_inventory();
	test_registration_order();
	T_DONE();
}
