/* The policy forms Tailscale accepts beyond the core language (issue 12,
 * part A): role autogroups, legacy spellings, autogroup:shared, synced
 * groups, services, reserved capabilities; and names that must be refused
 * (issue 13).  Each case loads a policy (with an inventory), expects it to
 * load or to fail with a message, and runs the policy's own "tests", which
 * pin the meaning of the form. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "ptest.h"
#include "role.h"
#include "t.h"

/* Four users with roles, each with a laptop; a tagged server; a device
 * shared in from another tailnet. */
static const char inventory[] =
	"{\"users\": [\n"
	"  {\"name\": \"olga\", \"email\": \"olga@example.com\", \"role\": \"owner\"},\n"
	"  {\"name\": \"ada\", \"email\": \"ada@example.com\", \"role\": \"admin\"},\n"
	"  {\"name\": \"ian\", \"email\": \"ian@example.com\", \"role\": \"it-admin\"},\n"
	"  {\"name\": \"nia\", \"email\": \"nia@example.com\", \"role\": \"network-admin\",\n"
	"   \"groups\": [\"group:netops@example.com\"]},\n"
	"  {\"name\": \"bill\", \"email\": \"bill@example.com\", \"role\": \"billing-admin\"},\n"
	"  {\"name\": \"aud\", \"email\": \"aud@example.com\", \"role\": \"auditor\"},\n"
	"  {\"name\": \"mem\", \"email\": \"mem@example.com\", \"groups\": [\"group:netops@example.com\", \"group:dev@example.com\"]},\n"
	"  {\"name\": \"guest\", \"email\": \"guest@other.example\"}],\n"
	" \"nodes\": [\n"
	"  {\"name\": \"olga-l\", \"user\": \"olga\", \"ipv4\": \"100.64.0.1\"},\n"
	"  {\"name\": \"ada-l\", \"user\": \"ada\", \"ipv4\": \"100.64.0.2\"},\n"
	"  {\"name\": \"ian-l\", \"user\": \"ian\", \"ipv4\": \"100.64.0.3\"},\n"
	"  {\"name\": \"nia-l\", \"user\": \"nia\", \"ipv4\": \"100.64.0.4\"},\n"
	"  {\"name\": \"bill-l\", \"user\": \"bill\", \"ipv4\": \"100.64.0.5\"},\n"
	"  {\"name\": \"aud-l\", \"user\": \"aud\", \"ipv4\": \"100.64.0.6\"},\n"
	"  {\"name\": \"mem-l\", \"user\": \"mem\", \"ipv4\": \"100.64.0.7\"},\n"
	"  {\"name\": \"guest-l\", \"user\": \"guest\", \"ipv4\": \"100.64.0.8\", \"shared\": true},\n"
	"  {\"name\": \"srv\", \"tags\": [\"tag:srv\"], \"ipv4\": \"100.64.0.20\",\n"
	"   \"advertised_routes\": [\"10.0.0.0/24\"]}],\n"
	" \"services\": [{\"name\": \"svc:web\", \"ipv4\": \"100.100.1.1\", \"ipv6\": \"fd7a:115c:a1e0::1:1\",\n"
	"   \"hosts\": [\"srv\"]}]}\n";

/* The cases below load against this inventory. */
#define POLCASE_INVENTORY inventory
#include "polcase.h"

static void test_roles(void)
{
	static const struct form_case cases[] = {
		{ "roles: autogroup:admin as a source names the admins' devices only",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"autogroup:admin\"], \"dst\": [\"100.64.0.20:22\"]}],"
		  " \"tests\": [{\"src\": \"ada@example.com\", \"accept\": [\"100.64.0.20:22\"]},"
		  "  {\"src\": \"olga@example.com\", \"deny\": [\"100.64.0.20:22\"]},"
		  "  {\"src\": \"mem@example.com\", \"deny\": [\"100.64.0.20:22\"]}]}", NULL },
		{ "roles: every role autogroup selects its own users",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"autogroup:owner\"], \"dst\": [\"100.64.0.20:1\"]},"
		  "  {\"action\": \"accept\", \"src\": [\"autogroup:it-admin\"], \"dst\": [\"100.64.0.20:3\"]},"
		  "  {\"action\": \"accept\", \"src\": [\"autogroup:network-admin\"], \"dst\": [\"100.64.0.20:4\"]},"
		  "  {\"action\": \"accept\", \"src\": [\"autogroup:billing-admin\"], \"dst\": [\"100.64.0.20:5\"]},"
		  "  {\"action\": \"accept\", \"src\": [\"autogroup:auditor\"], \"dst\": [\"100.64.0.20:6\"]}],"
		  " \"tests\": [{\"src\": \"olga@example.com\", \"accept\": [\"100.64.0.20:1\"], \"deny\": [\"100.64.0.20:3\"]},"
		  "  {\"src\": \"ian@example.com\", \"accept\": [\"100.64.0.20:3\"], \"deny\": [\"100.64.0.20:4\"]},"
		  "  {\"src\": \"nia@example.com\", \"accept\": [\"100.64.0.20:4\"], \"deny\": [\"100.64.0.20:5\"]},"
		  "  {\"src\": \"bill@example.com\", \"accept\": [\"100.64.0.20:5\"], \"deny\": [\"100.64.0.20:6\"]},"
		  "  {\"src\": \"aud@example.com\", \"accept\": [\"100.64.0.20:6\"], \"deny\": [\"100.64.0.20:1\"]}]}", NULL },
		{ "roles: a role as a destination, and in a test",
		  "{\"grants\": [{\"src\": [\"autogroup:member\"], \"dst\": [\"autogroup:admin\"], \"ip\": [\"443\"]}],"
		  " \"tests\": [{\"src\": \"mem@example.com\", \"accept\": [\"autogroup:admin:443\"],"
		  "   \"deny\": [\"olga@example.com:443\"]},"
		  "  {\"src\": \"autogroup:auditor\", \"accept\": [\"ada@example.com:443\"]}]}", NULL },
		{ "roles: a role in tagOwners and in autoApprovers",
		  "{\"tagOwners\": {\"tag:srv\": [\"autogroup:admin\", \"autogroup:network-admin\"]},"
		  " \"autoApprovers\": {\"routes\": {\"10.0.0.0/24\": [\"tag:srv\", \"autogroup:owner\"]},"
		  "   \"exitNode\": [\"autogroup:it-admin\"]},"
		  " \"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"10.0.0.0/24:*\"]}],"
		  " \"tests\": [{\"src\": \"mem@example.com\", \"accept\": [\"10.0.0.1:80\"]}]}", NULL },
		{ "roles: autogroup:member is every user's devices, whatever the role, not shared ones",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"autogroup:member\"], \"dst\": [\"tag:srv:22\"]}],"
		  " \"tagOwners\": {\"tag:srv\": []},"
		  " \"tests\": [{\"src\": \"olga@example.com\", \"accept\": [\"tag:srv:22\"]},"
		  "  {\"src\": \"aud@example.com\", \"accept\": [\"tag:srv:22\"]},"
		  "  {\"src\": \"100.64.0.8\", \"deny\": [\"tag:srv:22\"]}]}", NULL },
		{ "roles: the legacy autogroup:members is autogroup:member",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"autogroup:members\"], \"dst\": [\"100.64.0.20:22\"]}],"
		  " \"tests\": [{\"src\": \"mem@example.com\", \"accept\": [\"100.64.0.20:22\"]},"
		  "  {\"src\": \"100.64.0.8\", \"deny\": [\"100.64.0.20:22\"]}]}", NULL },
		{ "roles: an unknown role autogroup is refused, naming the roles",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"autogroup:superuser\"], \"dst\": [\"*:*\"]}]}",
		  "unknown autogroup \"autogroup:superuser\"" },
		{ "roles: a role in a group is refused (groups hold users)",
		  "{\"groups\": {\"group:x\": [\"autogroup:admin\"]}}", "is not a user" },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Inventories that load (NERRORS 0) or fail with that many errors. */
struct inv_case {
	const char *json, *what;
	int nerrors;
};

static void run_inv_cases(const struct inv_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct diag_list d = { 0 };
		struct diag_src *src = diag_src_from_mem("nodes.json", c[i].json, strlen(c[i].json));
		struct inv *inv = inv_read(src, &d);
		T_CHECK((int)d.nerrors == c[i].nerrors && (inv != NULL) == (c[i].nerrors == 0), "%s", c[i].what);
		if ((int)d.nerrors != c[i].nerrors)
			diag_print(stdout, &d);
		inv_free(inv);
		diag_list_free(&d);
		diag_src_free(src);
	}
}

static void test_role_inventory(void)
{
	static const struct inv_case cases[] = {
		{ "{\"users\": [{\"name\": \"a\", \"role\": \"admin\"}], \"nodes\": []}", "inv: a user's role loads", 0 },
		{ "{\"users\": [{\"name\": \"a\", \"role\": \"root\"}], \"nodes\": []}", "inv: an unknown role is one error", 1 },
		{ "{\"users\": [{\"name\": \"a\", \"role\": 1}], \"nodes\": []}", "inv: a role not a string is one error", 1 },
		{ "{\"users\": [], \"nodes\": [{\"name\": \"n\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.1\", "
		  "\"shared\": \"yes\"}]}", "inv: \"shared\" not a boolean is one error", 1 },
	};
	run_inv_cases(cases, sizeof(cases) / sizeof(cases[0]));
	struct diag_list d = { 0 };
	struct diag_src *src = diag_src_from_mem("nodes.json", cases[0].json, strlen(cases[0].json));
	struct inv *inv = inv_read(src, &d);
	T_CHECK(inv && inv->users[0].role == ROLE_ADMIN, "inv: \"admin\" is the admin role");
	inv_free(inv);
	diag_src_free(src);
	diag_list_free(&d);
	inv = inv_new();
	int u = inv ? inv_add_user(inv, "a", NULL) : -1;
	T_CHECK(u >= 0 && inv->users[u].role == ROLE_MEMBER && inv_user_set_role(inv, (size_t)u, "auditor") == 0 &&
		inv_user_set_role(inv, (size_t)u, "Admin") == -EINVAL && inv_user_set_role(inv, 5, "admin") == -EINVAL,
		"inv: builders: a user is a member until given a role; unknown roles and users are -EINVAL");
	inv_free(inv);
}

static void test_legacy(void)
{
	static const struct form_case cases[] = {
		{ "legacy: an ACL with users and ports means src and dst",
		  "{\"acls\": [{\"action\": \"accept\", \"users\": [\"ada@example.com\"], \"ports\": [\"100.64.0.20:22\"]}],"
		  " \"tests\": [{\"src\": \"ada@example.com\", \"accept\": [\"100.64.0.20:22\"], \"deny\": [\"100.64.0.20:23\"]},"
		  "  {\"src\": \"mem@example.com\", \"deny\": [\"100.64.0.20:22\"]}]}", NULL },
		{ "legacy: users * and ports *:* allow everything, as the old default policy",
		  "{\"acls\": [{\"action\": \"accept\", \"users\": [\"*\"], \"ports\": [\"*:*\"]}],"
		  " \"tests\": [{\"src\": \"100.64.0.8\", \"accept\": [\"100.64.0.1:1\", \"10.0.0.1:65535\"]}]}", NULL },
		{ "legacy: users beside src is refused",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"users\": [\"*\"], \"dst\": [\"*:*\"]}]}",
		  "\"users\" is the legacy name of \"src\"" },
		{ "legacy: ports beside dst is refused",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\"], \"ports\": [\"*:*\"]}]}",
		  "\"ports\" is the legacy name of \"dst\"" },
		{ "legacy: a test's allow is accept",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"ada@example.com\"], \"dst\": [\"100.64.0.20:22\"]}],"
		  " \"tests\": [{\"src\": \"ada@example.com\", \"allow\": [\"100.64.0.20:22\"]}]}", NULL },
		{ "legacy: a test's allow is checked (a wrong one fails)",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"ada@example.com\"], \"dst\": [\"100.64.0.20:22\"]}],"
		  " \"tests\": [{\"src\": \"mem@example.com\", \"allow\": [\"100.64.0.20:22\"]}]}", "tests failed (1)" },
		{ "keys: top-level keys match ignoring case, as Tailscale's decoder does",
		  "{\"Groups\": {\"group:a\": [\"ada@example.com\"]}, \"tagowners\": {\"tag:srv\": [\"group:a\"]},"
		  " \"ACLs\": [{\"action\": \"accept\", \"src\": [\"group:a\"], \"dst\": [\"tag:srv:22\"]}],"
		  " \"AutoApprovers\": {\"routes\": {\"10.0.0.0/24\": [\"tag:srv\"]}},"
		  " \"SSH\": [], \"Tests\": [{\"src\": \"ada@example.com\", \"accept\": [\"tag:srv:22\"]},"
		  "  {\"src\": \"mem@example.com\", \"deny\": [\"tag:srv:22\"]}]}", NULL },
		{ "keys: two keys naming one section are refused",
		  "{\"acls\": [], \"ACLs\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\"]}]}",
		  "\"ACLs\" repeats section \"acls\"" },
		{ "keys: ACL and test fields match ignoring case too (2020 policies: Action, Users, Ports, User, Allow)",
		  "{\"ACLs\": [{\"Action\": \"accept\", \"Users\": [\"ada@example.com\"], \"Ports\": [\"100.64.0.20:22\"]}],"
		  " \"Tests\": [{\"User\": \"ada@example.com\", \"Allow\": [\"100.64.0.20:22\"]},"
		  "  {\"User\": \"mem@example.com\", \"Deny\": [\"100.64.0.20:22\"]}]}", NULL },
		{ "keys: a test's legacy user beside src is refused",
		  "{\"tests\": [{\"src\": \"ada@example.com\", \"user\": \"ada@example.com\", \"deny\": [\"100.64.0.20:22\"]}]}",
		  "tests failed (1)" },
		{ "keys: autoApprovers fields match ignoring case",
		  "{\"tagOwners\": {\"tag:srv\": []}, \"autoApprovers\": {\"Routes\": {\"10.0.0.0/24\": [\"tag:srv\"]}, \"ExitNode\": []},"
		  " \"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"10.0.0.0/24:*\"]}],"
		  " \"tests\": [{\"src\": \"mem@example.com\", \"accept\": [\"10.0.0.1:80\"]}]}", NULL },
		{ "keys: an unknown key is still an error",
		  "{\"acl\": []}", "unknown key \"acl\"" },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_shared_and_synced(void)
{
	static const struct form_case cases[] = {
		{ "shared: autogroup:shared as a source names the devices shared in, and only them",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"autogroup:shared\"], \"dst\": [\"100.64.0.20:631\"]}],"
		  " \"tests\": [{\"src\": \"100.64.0.8\", \"accept\": [\"100.64.0.20:631\"]},"
		  "  {\"src\": \"autogroup:shared\", \"accept\": [\"100.64.0.20:631\"]},"
		  "  {\"src\": \"mem@example.com\", \"deny\": [\"100.64.0.20:631\"]}]}", NULL },
		{ "shared: autogroup:shared is not a destination",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"autogroup:shared:*\"]}]}",
		  "autogroup:shared cannot be a destination" },
		{ "shared: autogroup:shared is not an owner",
		  "{\"tagOwners\": {\"tag:x\": [\"autogroup:shared\"]}}", "cannot be an owner" },
		{ "synced: group:NAME@DOMAIN names the users the inventory puts in it",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"group:netops@example.com\"], \"dst\": [\"10.0.0.0/24:*\"]}],"
		  " \"autoApprovers\": {\"routes\": {\"10.0.0.0/24\": [\"tag:srv\"]}}, \"tagOwners\": {\"tag:srv\": []},"
		  " \"tests\": [{\"src\": \"nia@example.com\", \"accept\": [\"10.0.0.1:22\"]},"
		  "  {\"src\": \"mem@example.com\", \"accept\": [\"10.0.0.1:22\"]},"
		  "  {\"src\": \"ada@example.com\", \"deny\": [\"10.0.0.1:22\"]}]}", NULL },
		{ "synced: a synced group as destination, owner and test source",
		  "{\"tagOwners\": {\"tag:srv\": [\"group:dev@example.com\"]},"
		  " \"grants\": [{\"src\": [\"group:dev@example.com\"], \"dst\": [\"group:netops@example.com\"], \"ip\": [\"22\"]}],"
		  " \"tests\": [{\"src\": \"group:dev@example.com\", \"accept\": [\"nia@example.com:22\"]},"
		  "  {\"src\": \"ada@example.com\", \"deny\": [\"nia@example.com:22\"]}]}", NULL },
		{ "synced: a synced group nobody is in names no one (and is no error)",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"group:empty@example.com\"], \"dst\": [\"*:*\"]}],"
		  " \"tests\": [{\"src\": \"ada@example.com\", \"deny\": [\"100.64.0.20:22\"]}]}", NULL },
		{ "synced: a synced group cannot be defined in groups",
		  "{\"groups\": {\"group:eng@example.com\": [\"ada@example.com\"]}}", "is a synced group" },
		{ "synced: group:@example.com is malformed",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"group:@example.com\"], \"dst\": [\"*:*\"]}]}",
		  "bad synced group" },
		{ "synced: autogroup:self accepts synced groups as sources",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"group:dev@example.com\"], \"dst\": [\"autogroup:self:*\"]}]}",
		  NULL },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
	struct inv *inv = inv_new();
	int u = inv ? inv_add_user(inv, "a", NULL) : -1;
	T_CHECK(u >= 0 && inv_user_add_group(inv, (size_t)u, "group:x@example.com") == 0 &&
		inv_user_in_group(&inv->users[u], "group:x@example.com") &&
		!inv_user_in_group(&inv->users[u], "group:y@example.com") &&
		inv_user_add_group(inv, (size_t)u, "group:x") == -EINVAL &&
		inv_user_add_group(inv, (size_t)u, "eng@example.com") == -EINVAL,
		"inv: builders: a user joins synced groups group:NAME@DOMAIN only");
	inv_free(inv);
}

static void test_services(void)
{
	static const struct form_case cases[] = {
		{ "services: svc:NAME as a destination reaches the service's addresses",
		  "{\"grants\": [{\"src\": [\"autogroup:member\"], \"dst\": [\"svc:web\"], \"ip\": [\"tcp:443\"]}],"
		  " \"tests\": [{\"src\": \"mem@example.com\", \"accept\": [\"svc:web:443\", \"100.100.1.1:443\"],"
		  "   \"deny\": [\"svc:web:80\", \"100.64.0.20:443\"]}]}", NULL },
		{ "services: in an ACL's dst with ports",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"ada@example.com\"], \"dst\": [\"svc:web:80,443\"]}],"
		  " \"tests\": [{\"src\": \"ada@example.com\", \"accept\": [\"svc:web:80\"]}]}", NULL },
		{ "services: a service the inventory does not define names nothing",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"svc:db:5432\"]}],"
		  " \"tests\": [{\"src\": \"ada@example.com\", \"deny\": [\"100.100.1.1:5432\"]}]}", NULL },
		{ "services: a service is not a source",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"svc:web\"], \"dst\": [\"*:*\"]}]}",
		  "a service is only valid as a destination" },
		{ "services: a malformed service name is refused",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"svc:Web_1:80\"]}]}",
		  "bad service name \"svc:Web_1\"" },
		{ "services: autoApprovers.services is accepted",
		  "{\"tagOwners\": {\"tag:k8s-operator\": [], \"tag:k8s\": [\"tag:k8s-operator\"]},"
		  " \"autoApprovers\": {\"services\": {\"svc:web\": [\"tag:k8s\", \"autogroup:admin\"]}}}", NULL },
		{ "services: autoApprovers.services keys are service names",
		  "{\"autoApprovers\": {\"services\": {\"web\": [\"autogroup:admin\"]}}}", "bad service name \"web\"" },
		{ "services: autoApprovers.services owners are checked",
		  "{\"autoApprovers\": {\"services\": {\"svc:web\": [\"tag:nobody\"]}}}", "tag \"tag:nobody\" has no owner" },
		{ "caps: tailscale.com/cap/golink and tailsql are reserved capabilities Tailscale documents",
		  "{\"grants\": [{\"src\": [\"*\"], \"dst\": [\"100.64.0.20\"], \"app\": {"
		  "\"tailscale.com/cap/golink\": [{\"admin\": true}], \"tailscale.com/cap/tailsql\": [{\"src\": [\"*\"]}]}}]}",
		  NULL },
		{ "caps: other tailscale.com capabilities stay refused",
		  "{\"grants\": [{\"src\": [\"*\"], \"dst\": [\"100.64.0.20\"], \"app\": {\"tailscale.com/cap/golinks\": [{}]}}]}",
		  "reserved" },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_service_inventory(void)
{
	static const struct inv_case cases[] = {
		{ "{\"nodes\": [{\"name\": \"n\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.1\"}],"
		  " \"services\": [{\"name\": \"svc:a\", \"ipv4\": \"100.100.0.1\", \"hosts\": [\"n\"]}]}",
		  "inv: a service loads", 0 },
		{ "{\"nodes\": [], \"services\": [{\"name\": \"svc:a\", \"ipv4\": \"100.100.0.1\", \"hosts\": [\"ghost\"]}]}",
		  "inv: a service hosted by an unknown node is one error", 1 },
		{ "{\"nodes\": [], \"services\": [{\"name\": \"svc:a\"}]}", "inv: a service without an address is one error", 1 },
		{ "{\"nodes\": [], \"services\": [{\"name\": \"web\", \"ipv4\": \"100.100.0.1\"}]}",
		  "inv: a service not named svc:NAME is one error", 1 },
		{ "{\"nodes\": [], \"services\": [{\"name\": \"svc:a\", \"ipv4\": \"100.100.0.1\"},"
		  " {\"name\": \"svc:a\", \"ipv4\": \"100.100.0.2\"}]}", "inv: a duplicate service is one error", 1 },
	};
	run_inv_cases(cases, sizeof(cases) / sizeof(cases[0]));
	/* The builders' path checks the hosts at inv_finish, unlocated. */
	struct diag_list d = { 0 };
	struct inv *inv = inv_new();
	int svc = inv ? inv_add_service(inv, "svc:a") : -1;
	T_CHECK(svc >= 0 && inv_service_set_addr(inv, (size_t)svc, ADDR_V4, "100.100.0.1") == 0 &&
		inv_service_add_host(inv, (size_t)svc, "ghost") == 0 && inv_finish(inv, &d) == -EINVAL &&
		d.nerrors == 1 && inv_add_service(inv, "svc:a") == -EEXIST && inv_add_service(inv, "svc:") == -EINVAL,
		"inv: builders: a service's unknown host is refused at inv_finish; names are checked");
	inv_free(inv);
	diag_list_free(&d);
}

/* Issue 13: a NUL or another control character in any name is an error,
 * located; before, "group:eng\u0000" was a second key that silently lost. */
static void test_control_characters(void)
{
	static const struct form_case cases[] = {
		{ "names: a group key with a NUL is refused (the duplicate that silently lost)",
		  "{\"groups\": {\"group:eng\": [\"ada@example.com\"], \"group:eng\\u0000\": [\"mem@example.com\"]},"
		  " \"acls\": [{\"action\": \"accept\", \"src\": [\"group:eng\"], \"dst\": [\"*:22\"]}]}",
		  "control character U+0000 in \"group:eng\\u0000\"" },
		{ "names: a NUL in a source is refused",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"ada@example.com\\u0000x\"], \"dst\": [\"*:22\"]}]}",
		  "control character U+0000" },
		{ "names: a newline in a tag is refused",
		  "{\"tagOwners\": {\"tag:a\\nb\": []}}", "control character U+000A" },
		{ "names: a control character in a host name is refused",
		  "{\"hosts\": {\"db\\u0007\": \"10.0.0.1\"}}", "control character U+0007" },
		{ "names: a NUL after a host's address is refused",
		  "{\"hosts\": {\"db\": \"10.0.0.1\\u0000\"}}", "control character U+0000" },
		{ "names: a NUL in a destination's ports is refused",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:22\\u0000\"]}]}",
		  "control character U+0000" },
		{ "names: a C1 control (U+0085) in a group member is refused",
		  "{\"groups\": {\"group:a\": [\"ada@example.com\\u0085\"]}}", "control character U+0085" },
		{ "names: a NUL in a top-level key is refused, not taken for the section",
		  "{\"acls\\u0000\": []}", "control character U+0000" },
		{ "names: a NUL in a test's source is refused",
		  "{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\"]}],"
		  " \"tests\": [{\"src\": \"ada@example.com\\u0000\", \"accept\": [\"100.64.0.20:22\"]}]}",
		  "tests failed (1)" },
		{ "names: other Unicode in names is fine",
		  "{\"groups\": {\"group:\u00e9quipe\": [\"ada@example.com\"]},"
		  " \"acls\": [{\"action\": \"accept\", \"src\": [\"group:\u00e9quipe\"], \"dst\": [\"100.64.0.20:22\"]}],"
		  " \"tests\": [{\"src\": \"ada@example.com\", \"accept\": [\"100.64.0.20:22\"]}]}", NULL },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Issue 13: inventory names with control characters (a newline injected
 * nft input through the header comment) and two nodes with one address. */
static void test_inventory_names(void)
{
	static const struct {
		const char *json;
		const char *what, *error;
	} cases[] = {
		{ "{\"nodes\": [{\"name\": \"n\\ntable ip kg_injected\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.1\"}]}",
		  "inv: a node name with a newline is refused", "\"name\": control character U+000A" },
		{ "{\"users\": [{\"name\": \"a\\u0000b\"}], \"nodes\": []}", "inv: a user name with a NUL is refused",
		  "control character U+0000" },
		{ "{\"users\": [{\"name\": \"a\", \"email\": \"a@x\\r\"}], \"nodes\": []}",
		  "inv: an email with a carriage return is refused", "control character U+000D" },
		{ "{\"nodes\": [{\"name\": \"n\", \"tags\": [\"tag:t\\u0000\"], \"ipv4\": \"100.64.0.1\"}]}",
		  "inv: a tag with a NUL is refused", "\"tags\": control character U+0000" },
		{ "{\"nodes\": [{\"name\": \"n\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.1\\u0000\"}]}",
		  "inv: an address with a NUL is refused", "control character U+0000" },
		{ "{\"nodes\": [{\"name\": \"n\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.1\","
		  " \"advertised_routes\": [\"10.0.0.0/8\\u0000\"]}]}", "inv: a route with a NUL is refused",
		  "control character U+0000" },
		{ "{\"nodes\": [{\"name\": \"a\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.1\"},"
		  " {\"name\": \"b\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.1\"}]}",
		  "inv: two nodes with one IPv4 address are refused", "address 100.64.0.1 is node \"a\"'s too" },
		{ "{\"nodes\": [{\"name\": \"a\", \"tags\": [\"tag:t\"], \"ipv6\": \"fd7a:115c:a1e0::1\"},"
		  " {\"name\": \"b\", \"tags\": [\"tag:t\"], \"ipv4\": \"100.64.0.2\", \"ipv6\": \"fd7a:115c:a1e0::1\"}]}",
		  "inv: two nodes with one IPv6 address are refused", "address fd7a:115c:a1e0::1 is node \"a\"'s too" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag_list d = { 0 };
		struct diag_src *src = diag_src_from_mem("nodes.json", cases[i].json, strlen(cases[i].json));
		struct inv *inv = inv_read(src, &d);
		bool located = d.n > 0 && d.items[0].loc.line > 0;
		T_CHECK(!inv && d.nerrors == 1 && located && strstr(d.items[0].msg, cases[i].error), "%s (one located error)",
			cases[i].what);
		if (inv || d.nerrors != 1 || !located || !strstr(d.items[0].msg, cases[i].error))
			diag_print(stdout, &d);
		inv_free(inv);
		diag_list_free(&d);
		diag_src_free(src);
	}
	/* The builders (the coordinator's path) refuse the same. */
	struct diag_list d = { 0 };
	struct inv *inv = inv_new();
	int u = inv ? inv_add_user(inv, "u", NULL) : -1;
	int a = u >= 0 ? inv_add_node(inv, "a", u) : -1, b = a >= 0 ? inv_add_node(inv, "b", u) : -1;
	T_CHECK(b >= 0 && inv_add_node(inv, "c\nd", u) == -EINVAL && inv_add_user(inv, "x\ty", NULL) == -EINVAL &&
		inv_node_add_tag(inv, (size_t)a, "tag:x\x7f") == -EINVAL &&
		inv_user_add_group(inv, (size_t)u, "group:a\x01@b") == -EINVAL,
		"inv: builders refuse control characters in names, tags and groups");
	int rc = b >= 0 ? inv_node_set_addr(inv, (size_t)a, ADDR_V4, "100.64.0.1") : -1;
	rc = rc ?: inv_node_set_addr(inv, (size_t)b, ADDR_V4, "100.64.0.1");
	rc = rc ?: inv_finish(inv, &d);
	T_CHECK(rc == -EINVAL && d.nerrors == 1 && strstr(d.items[0].msg, "is node \"a\"'s too"),
		"inv: inv_finish refuses two nodes with one address, naming both");
	inv_free(inv);
	diag_list_free(&d);
}

int main(void)
{
	test_control_characters();
	test_inventory_names();
	test_services();
	test_service_inventory();
	test_shared_and_synced();
	test_legacy();
	test_roles();
	test_role_inventory();
	T_DONE();
}
