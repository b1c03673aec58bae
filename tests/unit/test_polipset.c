/* IP sets (issue 12, part B): "add"/"remove" applied in order, nested
 * ipsets defined in any order, cycles refused, autogroup:internet inside
 * a set, and addr_set_remove underneath. */
#include <stdlib.h>
#include <string.h>

static const char inventory[] =
	"{\"users\": [{\"name\": \"ann\", \"email\": \"ann@example.com\"}],\n"
	" \"nodes\": [{\"name\": \"ann-l\", \"user\": \"ann\", \"ipv4\": \"100.64.0.1\"},\n"
	"  {\"name\": \"gw\", \"tags\": [\"tag:gw\"], \"ipv4\": \"100.64.0.9\",\n"
	"   \"advertised_routes\": [\"10.0.0.0/8\", \"192.168.0.0/16\", \"0.0.0.0/0\"],\n"
	"   \"approved_routes\": [\"10.0.0.0/8\", \"192.168.0.0/16\", \"0.0.0.0/0\"]}]}\n";

#define POLCASE_INVENTORY inventory
#include "polcase.h"

/* A grant from ann to ipset:s on tcp:22, with SETS the "ipsets" body. */
#define SETS(sets, tests) \
	"{\"tagOwners\": {\"tag:gw\": []}, \"hosts\": {\"nas\": \"10.1.0.5\"}, \"ipsets\": {" sets "}," \
	" \"grants\": [{\"src\": [\"ann@example.com\"], \"dst\": [\"ipset:s\"], \"ip\": [\"tcp:22\"]}]," \
	" \"tests\": [{\"src\": \"ann@example.com\", " tests "}]}"

static void test_operations(void)
{
	static const struct form_case cases[] = {
		{ "ipset: add then remove cuts a hole",
		  SETS("\"ipset:s\": [\"add 10.0.0.0/8\", \"remove 10.1.0.0/16\"]",
		       "\"accept\": [\"10.0.0.1:22\", \"10.2.0.1:22\"], \"deny\": [\"10.1.0.1:22\"]"), NULL },
		{ "ipset: operations apply in order (a later add fills the hole again)",
		  SETS("\"ipset:s\": [\"add 10.0.0.0/8\", \"remove 10.1.0.0/16\", \"add nas\"]",
		       "\"accept\": [\"10.1.0.5:22\"], \"deny\": [\"10.1.0.4:22\"]"), NULL },
		{ "ipset: bare entries are adds",
		  SETS("\"ipset:s\": [\"10.3.0.0/16\", \"192.168.1.1-192.168.1.3\"]",
		       "\"accept\": [\"10.3.9.9:22\", \"192.168.1.3:22\"], \"deny\": [\"192.168.1.4:22\"]"), NULL },
		{ "ipset: a nested ipset defined after the one naming it",
		  SETS("\"ipset:s\": [\"add ipset:t\", \"remove 10.4.1.0/24\"], \"ipset:t\": [\"10.4.0.0/16\"]",
		       "\"accept\": [\"10.4.0.1:22\"], \"deny\": [\"10.4.1.1:22\"]"), NULL },
		{ "ipset: removing a nested ipset",
		  SETS("\"ipset:t\": [\"10.5.5.0/24\"], \"ipset:s\": [\"add 10.5.0.0/16\", \"remove ipset:t\"]",
		       "\"accept\": [\"10.5.4.1:22\"], \"deny\": [\"10.5.5.1:22\"]"), NULL },
		{ "ipset: autogroup:internet holds public addresses, not private ones",
		  SETS("\"ipset:s\": [\"add autogroup:internet\", \"remove 8.8.4.0/24\"]",
		       "\"accept\": [\"8.8.8.8:22\"], \"deny\": [\"8.8.4.4:22\", \"10.0.0.1:22\", \"192.168.1.1:22\"]"), NULL },
		{ "ipset: a cycle is an error",
		  "{\"ipsets\": {\"ipset:a\": [\"ipset:b\"], \"ipset:b\": [\"add ipset:a\"]}}", "makes a cycle" },
		{ "ipset: an ipset naming itself is an error",
		  "{\"ipsets\": {\"ipset:a\": [\"10.0.0.0/8\", \"ipset:a\"]}}", "makes a cycle" },
		{ "ipset: with a remove, every entry names its operation",
		  "{\"ipsets\": {\"ipset:a\": [\"10.0.0.0/8\", \"remove 10.1.0.0/16\"]}}", "needs its operation" },
		{ "ipset: \"add 10.1.0.0/24\" is no unknown host",
		  "{\"ipsets\": {\"ipset:a\": [\"add 10.1.0.0/24\", \"add nope\"]}}", "unknown name \"nope\"" },
		{ "ipset: tags, groups and users cannot be in an ipset",
		  "{\"tagOwners\": {\"tag:gw\": []}, \"ipsets\": {\"ipset:a\": [\"add tag:gw\"]}}", "cannot be in an ipset" },
		{ "ipset: autogroups other than internet cannot be in an ipset",
		  "{\"ipsets\": {\"ipset:a\": [\"autogroup:member\"]}}", "cannot be in an ipset" },
		{ "ipset: an unknown nested ipset is an error",
		  "{\"ipsets\": {\"ipset:a\": [\"remove ipset:zz\"]}}", "unknown ipset \"ipset:zz\"" },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_remove(void)
{
	struct addr_set s = { 0 };
	enum addr_family f;
	addr_u128 lo, hi, a, b;
	addr_range_parse("10.0.0.0/8", false, &f, &lo, &hi);
	addr_set_add(&s, ADDR_V4, lo, hi);
	addr_set_add(&s, ADDR_V6, lo, hi);
	addr_range_parse("10.1.0.0/16", false, &f, &a, &b);
	T_CHECK(addr_set_remove(&s, ADDR_V4, a, b) == 0 && s.n == 3 &&
		addr_set_contains(&s, ADDR_V4, lo, a - 1) && addr_set_contains(&s, ADDR_V4, b + 1, hi) &&
		!addr_set_overlaps(&s, ADDR_V4, a, b) && addr_set_contains(&s, ADDR_V6, a, b),
		"addr: removing the middle of a range splits it, other families untouched");
	T_CHECK(addr_set_remove(&s, ADDR_V4, 0, addr_family_max(ADDR_V4)) == 0 && s.n == 1 &&
		s.v[0].family == ADDR_V6, "addr: removing everything of a family leaves the other");
	addr_set_free(&s);
}

int main(void)
{
	test_operations();
	test_remove();
	T_DONE();
}
