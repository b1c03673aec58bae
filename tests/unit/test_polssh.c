/* ssh, sshTests and nodeAttrs (issue 12, part B): checked as Tailscale
 * checks them, with located errors, and sshTests run against the ssh
 * rules (first match decides: accept, check, else deny). */
#include <stdlib.h>
#include <string.h>

static const char inventory[] =
	"{\"users\": [{\"name\": \"ann\", \"email\": \"ann@example.com\"},\n"
	"  {\"name\": \"bob\", \"email\": \"bob@example.com\"}],\n"
	" \"nodes\": [{\"name\": \"ann-l\", \"user\": \"ann\", \"ipv4\": \"100.64.0.1\"},\n"
	"  {\"name\": \"bob-l\", \"user\": \"bob\", \"ipv4\": \"100.64.0.2\"},\n"
	"  {\"name\": \"db\", \"tags\": [\"tag:prod\"], \"ipv4\": \"100.64.0.9\"}]}\n";

#define POLCASE_INVENTORY inventory
#include "polcase.h"

#define OWN "\"tagOwners\": {\"tag:prod\": [], \"tag:ci\": []}, \"groups\": {\"group:ops\": [\"ann@example.com\"]}, "
#define RULES(rules, tests) "{" OWN "\"ssh\": [" rules "], \"sshTests\": [" tests "]}"
#define RULE(extra) "{\"tagOwners\": {\"tag:prod\": []}, \"ssh\": [{" extra "}]}"

static void test_run(void)
{
	static const struct form_case cases[] = {
		{ "ssh: accept and check rules decide by login; the first match wins",
		  RULES("{\"action\": \"check\", \"src\": [\"group:ops\"], \"dst\": [\"tag:prod\"], \"users\": [\"root\"]},"
			"{\"action\": \"accept\", \"src\": [\"group:ops\"], \"dst\": [\"tag:prod\"], \"users\": [\"*\"]}",
			"{\"src\": \"ann@example.com\", \"dst\": [\"tag:prod\"], \"check\": [\"root\"], \"accept\": [\"deploy\"]},"
			"{\"src\": \"bob@example.com\", \"dst\": [\"tag:prod\"], \"deny\": [\"root\", \"deploy\"]}"), NULL },
		{ "ssh: autogroup:nonroot is every login but root",
		  RULES("{\"action\": \"accept\", \"src\": [\"autogroup:member\"], \"dst\": [\"tag:prod\"],"
			" \"users\": [\"autogroup:nonroot\"]}",
			"{\"src\": \"bob@example.com\", \"dst\": [\"tag:prod\"], \"accept\": [\"bob\"], \"deny\": [\"root\"]}"),
		  NULL },
		{ "ssh: autogroup:self is the source's own devices; localpart:*@DOMAIN its login",
		  RULES("{\"action\": \"accept\", \"src\": [\"autogroup:member\"], \"dst\": [\"autogroup:self\"],"
			" \"users\": [\"localpart:*@example.com\"]}",
			"{\"src\": \"bob@example.com\", \"dst\": [\"bob@example.com\"], \"accept\": [\"bob\"], \"deny\": [\"ann\"]},"
			"{\"src\": \"bob@example.com\", \"dst\": [\"ann@example.com\"], \"deny\": [\"ann\", \"bob\"]}"), NULL },
		{ "ssh: a tag with no device is tested as one that would carry it",
		  RULES("{\"action\": \"accept\", \"src\": [\"tag:ci\"], \"dst\": [\"tag:prod\"], \"users\": [\"deploy\"]}",
			"{\"src\": \"tag:ci\", \"dst\": [\"tag:prod\"], \"accept\": [\"deploy\"], \"deny\": [\"root\"]}"), NULL },
		{ "ssh: a failing sshTest is a failing test",
		  RULES("{\"action\": \"accept\", \"src\": [\"group:ops\"], \"dst\": [\"tag:prod\"], \"users\": [\"root\"]}",
			"{\"src\": \"bob@example.com\", \"dst\": [\"tag:prod\"], \"accept\": [\"root\"]}"),
		  "should be accepted, but is denied" },
		{ "ssh: an sshTest naming no device fails",
		  RULES("{\"action\": \"accept\", \"src\": [\"group:ops\"], \"dst\": [\"tag:prod\"], \"users\": [\"root\"]}",
			"{\"src\": \"ann@example.com\", \"dst\": [\"10.9.9.9\"], \"accept\": [\"root\"]}"), "names no device" },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_checks(void)
{
	static const struct form_case cases[] = {
		{ "ssh: action deny is an error",
		  RULE("\"action\": \"deny\", \"src\": [\"*\"], \"dst\": [\"tag:prod\"], \"users\": [\"root\"]"),
		  "must be \"accept\" or \"check\"" },
		{ "ssh: a rule without users is an error",
		  RULE("\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"tag:prod\"]"), "without \"users\"" },
		{ "ssh: a rule without src is an error",
		  RULE("\"action\": \"accept\", \"dst\": [\"tag:prod\"], \"users\": [\"root\"]"), "without \"src\"" },
		{ "ssh: checkPeriod needs action check",
		  RULE("\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"tag:prod\"], \"users\": [\"root\"],"
		       " \"checkPeriod\": \"1h\""), "action \"check\" only" },
		{ "ssh: checkPeriod over 168h is an error",
		  RULE("\"action\": \"check\", \"src\": [\"*\"], \"dst\": [\"tag:prod\"], \"users\": [\"root\"],"
		       " \"checkPeriod\": \"168h1m\""), "at most 168h" },
		{ "ssh: checkPeriod of 168h, 1h30m or always is fine",
		  "{\"tagOwners\": {\"tag:prod\": []}, \"ssh\": ["
		  "{\"action\": \"check\", \"src\": [\"*\"], \"dst\": [\"tag:prod\"], \"users\": [\"a\"], \"checkPeriod\": \"168h\"},"
		  "{\"action\": \"check\", \"src\": [\"*\"], \"dst\": [\"tag:prod\"], \"users\": [\"b\"], \"checkPeriod\": \"1h30m\"},"
		  "{\"action\": \"check\", \"src\": [\"*\"], \"dst\": [\"tag:prod\"], \"users\": [\"c\"], \"checkPeriod\": \"always\"}]}",
		  NULL },
		{ "ssh: checkPeriod must be a duration",
		  RULE("\"action\": \"check\", \"src\": [\"*\"], \"dst\": [\"tag:prod\"], \"users\": [\"root\"],"
		       " \"checkPeriod\": \"12 hours\""), "must be a duration" },
		{ "ssh: an undefined tag is an error",
		  RULE("\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"tag:nope\"], \"users\": [\"root\"]"),
		  "tag \"tag:nope\" has no owner" },
		{ "ssh: an undefined group is an error",
		  RULE("\"action\": \"accept\", \"src\": [\"group:nope\"], \"dst\": [\"tag:prod\"], \"users\": [\"root\"]"),
		  "unknown group \"group:nope\"" },
		{ "ssh: an address as destination is an error",
		  RULE("\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"100.64.0.9\"], \"users\": [\"root\"]"),
		  "cannot be an ssh destination" },
		{ "ssh: * as destination is an error",
		  RULE("\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*\"], \"users\": [\"root\"]"),
		  "cannot be an ssh destination" },
		{ "ssh: autogroup:self needs user sources",
		  RULE("\"action\": \"accept\", \"src\": [\"tag:prod\"], \"dst\": [\"autogroup:self\"], \"users\": [\"root\"]"),
		  "needs sources that are users" },
		{ "ssh: an unknown autogroup among users is an error",
		  RULE("\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"tag:prod\"], \"users\": [\"autogroup:root\"]"),
		  "only autogroup here is autogroup:nonroot" },
		{ "ssh: an unknown key is an error",
		  RULE("\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"tag:prod\"], \"users\": [\"root\"], \"timeout\": 1"),
		  "unknown key \"timeout\" in an ssh rule" },
		{ "ssh: recorders are tags",
		  RULE("\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"tag:prod\"], \"users\": [\"root\"],"
		       " \"recorder\": [\"rec-1\"]"), "named by tag" },
		{ "nodeAttrs: target and attr are fine",
		  "{\"tagOwners\": {\"tag:prod\": []}, \"nodeAttrs\": [{\"target\": [\"tag:prod\", \"*\"], \"attr\": [\"funnel\"]},"
		  " {\"target\": [\"autogroup:member\"], \"app\": {\"example.com/cap/x\": [{}]}}]}", NULL },
		{ "nodeAttrs: an entry without target is an error",
		  "{\"nodeAttrs\": [{\"attr\": [\"funnel\"]}]}", "without \"target\"" },
		{ "nodeAttrs: an entry without attr or app is an error",
		  "{\"nodeAttrs\": [{\"target\": [\"*\"]}]}", "without \"attr\" or \"app\"" },
		{ "nodeAttrs: an undefined tag in target is an error",
		  "{\"nodeAttrs\": [{\"target\": [\"tag:nope\"], \"attr\": [\"funnel\"]}]}", "tag \"tag:nope\" has no owner" },
		{ "sshTests: a test without dst is an error",
		  "{\"sshTests\": [{\"src\": \"ann@example.com\", \"accept\": [\"root\"]}]}", "needs \"src\", \"dst\"" },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

int main(void)
{
	test_run();
	test_checks();
	T_DONE();
}
