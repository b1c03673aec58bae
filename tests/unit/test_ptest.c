/* test_ptest: the policy's tests for principals without a device.  A policy
 * is usually set before anyone has joined: a test whose source is a known
 * user or a tag with no device judges that principal's access as if it had
 * one; an unknown user still fails.  Each row: an inventory, a test, the
 * failures ptest_run counts and a text its report must hold. */
#include "load.h"
#include "ptest.h"
#include "t.h"

#define POLICY_HEAD \
	"{\"groups\": {\"group:eng\": [\"alice@example.com\"]}," \
	" \"tagOwners\": {\"tag:relay\": [\"alice@example.com\"], \"tag:idle\": [\"alice@example.com\"]}," \
	" \"acls\": [{\"action\": \"accept\", \"src\": [\"group:eng\", \"tag:relay\"], \"dst\": [\"server:22\"]}]," \
	" \"hosts\": {\"server\": \"100.64.0.9\"}," \
	" \"tests\": ["

/* alice and bob are users; only bob has a device. */
#define INV_BOB \
	"{\"users\": [{\"name\": \"alice\", \"email\": \"alice@example.com\"}," \
	"            {\"name\": \"bob\", \"email\": \"bob@example.com\"}]," \
	" \"nodes\": [{\"name\": \"bobs\", \"user\": \"bob\", \"ipv4\": \"100.64.0.2\"," \
	"            \"ipv6\": \"fd7a:115c:a1e0::2\"}]}"
/* alice has a device at the address the stand-in would take first. */
#define INV_ALICE_TOP \
	"{\"users\": [{\"name\": \"alice\", \"email\": \"alice@example.com\"}]," \
	" \"nodes\": [{\"name\": \"top\", \"user\": \"alice\", \"ipv4\": \"100.127.255.254\"}]}"

static const struct {
	const char *what, *inv, *tests;
	int failures;
	const char *says;
} cases[] = {
	{ "a known user without a device is judged as if it had one", INV_BOB,
	  "{\"src\": \"alice@example.com\", \"accept\": [\"server:22\"], \"deny\": [\"server:80\"]}", 0, NULL },
	{ "... by login name too", INV_BOB, "{\"src\": \"alice@\", \"accept\": [\"server:22\"]}", 0, NULL },
	{ "... and its test still fails when the rules drop it", INV_BOB,
	  "{\"src\": \"alice@example.com\", \"accept\": [\"server:80\"]}", 1, "should be accepted, but is dropped" },
	{ "a user with a device is judged by it", INV_BOB, "{\"src\": \"bob@example.com\", \"deny\": [\"server:22\"]}",
	  0, NULL },
	{ "a tag without a device is judged as if it had one", INV_BOB,
	  "{\"src\": \"tag:relay\", \"accept\": [\"server:22\"]}", 0, NULL },
	{ "... and a tag the rules do not name is denied", INV_BOB,
	  "{\"src\": \"tag:idle\", \"deny\": [\"server:22\"]}", 0, NULL },
	{ "an unknown user still fails", INV_BOB, "{\"src\": \"carol@example.com\", \"deny\": [\"server:22\"]}", 1,
	  "names no node or address" },
	{ "... as does any user with no inventory at all", NULL,
	  "{\"src\": \"alice@example.com\", \"accept\": [\"server:22\"]}", 1, "names no node or address" },
	{ "the stand-in takes an address no node holds", INV_ALICE_TOP,
	  "{\"src\": \"tag:idle\", \"deny\": [\"server:22\"]}", 0, NULL },
};

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char policy[4096], *report = NULL;
		size_t reportlen = 0;
		snprintf(policy, sizeof policy, "%s%s]}", POLICY_HEAD, cases[i].tests);
		struct load_src p = { .name = "policy", .text = policy, .len = strlen(policy) };
		struct load_src n = { .name = "nodes", .text = cases[i].inv, .len = cases[i].inv ? strlen(cases[i].inv) : 0 };
		struct diag_list diags = { 0 };
		struct load *l = load_new();
		int rc = l ? load_run(l, &p, cases[i].inv ? &n : NULL, &diags) : -1;
		FILE *out = open_memstream(&report, &reportlen);
		int failures = rc == 0 && out ? ptest_run(l->pol, l->inv, &l->fs, out) : -1;
		if (out)
			fclose(out);
		T_CHECK(failures == cases[i].failures && (!cases[i].says || (report && strstr(report, cases[i].says))),
			"%s (%d failures)", cases[i].what, failures);
		if (failures != cases[i].failures && report)
			printf("# %s", report);
		diag_print(stdout, &diags);
		diag_list_free(&diags);
		free(report);
		load_free(l);
	}
	T_DONE();
}
