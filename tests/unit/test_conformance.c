/* Conformance against Tailscale's own control server: every case under
 * $KG_SHARED/testdata/tailscale-captures (see its README).  For each case the
 * policy is parsed and checked, the users and nodes become the inventory,
 * and each node's compiled filter is compared with the recorded one AS SETS
 * OF PACKETS: both sides go into the canonical flow IR and must be equal.
 * 400 cases must be rejected; policytest cases must fail their tests (400)
 * or pass them all (200).  One line per case, then a count per folder.
 * Route sets (peers, allowed_ips, primary_routes) are compared by
 * test_conformance_routes.c. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "hj.h"
#include "inv.h"
#include "ir.h"
#include "pol.h"
#include "ptest.h"
#include "t.h"
#include "ts.h"
#include "captures.h"

/* Explain the first difference: a box one side has and the other lacks. */
static void describe_diff(const char *node, const struct ir_flows *got, const struct ir_flows *want,
			  char *out, size_t outlen)
{
	const struct ir_flows *sides[2] = { got, want };
	for (int s = 0; s < 2; s++) {
		struct ir_iter it = { 0 };
		struct ir_box box;
		while (ir_box_next(sides[s], &it, &box)) {
			const struct ir_box *b = &box;
			if (!ir_match(sides[1 - s], b->family, b->proto, b->src_lo, b->dst_lo, b->port_lo)) {
				char a[ADDR_STRLEN], d[ADDR_STRLEN];
				snprintf(out, outlen, "%s: %s proto %u %s -> %s:%u", node,
					 s == 0 ? "we accept, Tailscale drops" : "Tailscale accepts, we drop",
					 b->proto, addr_format(b->family, b->src_lo, a),
					 addr_format(b->family, b->dst_lo, d), b->port_lo);
				return;
			}
		}
	}
	snprintf(out, outlen, "%s: boxes differ", node);
}

/* Node filters not compared, each with the reason.  The rest of the case
 * still runs. */
static const struct {
	const char *case_file, *node, *reason;
} skips[] = {
	{ "policytest-allpass-grants-only-tag-src-ipv6-literal-dst.json", "beedrill",
	  "the recording gives beedrill no rule for the grant to its IPv6 literal, while the "
	  "same case with the IPv4 literal (ip-literal-dst) does: Tailscale lets an admin set "
	  "a node's IPv4 but not its IPv6, so the capture's renumbered IPv6 addresses did not "
	  "belong to the node when recorded" },
};

static const char *skip_reason(const char *path, const char *node)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof(skips) / sizeof(skips[0]); i++)
		if (strcmp(base, skips[i].case_file) == 0 && strcmp(node, skips[i].node) == 0)
			return skips[i].reason;
	return NULL;
}

static const struct {
	const char *theirs, *ours;
} meanings[] = {
	{ "not valid on the src side", "cannot be a source" },
	{ "can only be used with users, groups", "autogroup:self as a destination needs sources" },
	{ "invalid first integer", "bad port" },
	{ "first port must be >0", "port 0 out of range" },
	{ "not found", "has no owner: define it in \"tagOwners\"" },
	{ "is not supported", "unknown action" },
	{ "ip and app can not both be empty", "neither \"ip\" nor \"app\"" },
	{ "via can only be a tag", "via names the routers by tag" },
	{ "must not be in the tailscale.com domain", "in the tailscale.com domain, which is reserved" },
	{ "cannot use autogroup:danger-all as a dst", "danger-all cannot be a destination" },
	{ "cannot use app grants with autogroup:internet", "cannot be granted on autogroup:internet" },
	{ "to allow all IP addresses", "allows every address" },
};

static bool same_meaning(const char *theirs, const char *ours)
{
	for (size_t i = 0; i < sizeof(meanings) / sizeof(meanings[0]); i++)
		if (strstr(theirs, meanings[i].theirs))
			return strstr(ours, meanings[i].ours) != NULL;
	return false;
}

struct tally {
	const char *folder;
	int pass, fail;
};

/* One case: true when we agree with the recording; WHY says what differs. */
static bool run_case(const char *path, const char *folder, char *why, size_t whylen)
{
	struct captures_case cc;
	bool ok = false;
	if (!captures_load(path, &cc)) {
		snprintf(why, whylen, "case file unreadable");
		goto out;
	}
	int status = cc.status;
	const char *recorded_error = cJSON_GetStringValue(cJSON_GetObjectItem(cc.json, "error"));
	bool ptest_case = strcmp(folder, "policytest") == 0;
	if (!cc.policy) {
		/* Rejected.  Right only for a 400 that is not about tests. */
		const char *first = "?";
		for (size_t i = 0; i < cc.diags.n; i++)
			if (cc.diags.items[i].level == DIAG_ERROR) {
				first = cc.diags.items[i].msg;
				break;
			}
		ok = status == 400 && !ptest_case && recorded_error && same_meaning(recorded_error, first);
		snprintf(why, whylen, "rejected: %s%s%s", first, status == 400 ? "; recorded: " : "",
			 status == 400 && recorded_error ? recorded_error : "");
		goto out;
	}
	if (status == 400 && !ptest_case) {
		snprintf(why, whylen, "accepted, but Tailscale rejected it: %s", recorded_error ? recorded_error : "?");
		goto out;
	}
	if (captures_compile(&cc) < 0) {
		if (cc.inv)
			snprintf(why, whylen, "compile failed");
		else
			snprintf(why, whylen, "inventory rejected: %s",
				 cc.diags.n ? cc.diags.items[cc.diags.n - 1].msg : "?");
		goto out;
	}
	if (ptest_case) {
		FILE *devnull = fopen("/dev/null", "w");
		int failed = ptest_run(cc.policy, cc.inv, &cc.fs, devnull);
		fclose(devnull);
		if ((status == 400) != (failed > 0)) {
			snprintf(why, whylen, "tests %s, Tailscale says %s", failed ? "failed" : "passed",
				 status == 400 ? "test(s) failed" : "all pass");
			goto out;
		}
		if (status == 400) {
			ok = true;
			snprintf(why, whylen, "tests fail as recorded");
			goto out;
		}
	}
	const cJSON *filters = cJSON_GetObjectItem(cc.json, "filters");
	size_t nodes_checked = 0;
	for (size_t i = 0; i < cc.fs.nnodes; i++) {
		struct ir_flows got = { 0 }, want = { 0 };
		char err[128] = "";
		const char *name = cc.fs.nodes[i].node->name;
		const char *reason = skip_reason(path, name);
		if (reason) {
			T_SKIP("conformance %s: filter of %s not compared: %s", strrchr(path, '/') + 1, name, reason);
			continue;
		}
		int rc = filter_node_ir(&cc.fs.nodes[i], &got);
		if (rc == 0)
			rc = ts_rules_to_ir(cJSON_GetObjectItem(filters, name), &want, err, sizeof(err));
		if (rc == 0)
			rc = ir_canonicalize(&want);
		bool same = rc == 0 && ir_equal(&got, &want);
		if (!same) {
			if (rc < 0)
				snprintf(why, whylen, "%s: recorded filter unreadable: %s", name, err);
			else
				describe_diff(name, &got, &want, why, whylen);
		}
		ir_free(&got);
		ir_free(&want);
		if (!same)
			goto out;
		nodes_checked++;
	}
	ok = true;
	snprintf(why, whylen, "%zu node filters equal as packet sets", nodes_checked);
out:
	captures_case_free(&cc);
	return ok;
}

int main(void)
{
	const char *caps = t_shared("tailscale-captures");
	char dir[4096 + 16];	/* t_shared's path and a folder */
	struct tally t[] = { { "acl", 0, 0 }, { "grant", 0, 0 }, { "policytest", 0, 0 }, { "routes", 0, 0 } };
	if (!caps)
		T_DONE();
	for (size_t f = 0; f < sizeof(t) / sizeof(t[0]); f++) {
		snprintf(dir, sizeof(dir), "%s/%s", caps, t[f].folder);
		size_t n;
		char **names = captures_case_names(dir, &n);
		if (!names) {
			T_SKIP("conformance: %s: no such directory", dir);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			char path[8192], why[512] = "";
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			bool ok = run_case(path, t[f].folder, why, sizeof(why));
			T_CHECK(ok, "conformance %s/%s: %s", t[f].folder, names[i], why);
			if (ok)
				t[f].pass++;
			else
				t[f].fail++;
			free(names[i]);
		}
		free(names);
	}
	for (size_t f = 0; f < sizeof(t) / sizeof(t[0]); f++)
		printf("# conformance %s: %d of %d cases agree with Tailscale\n", t[f].folder, t[f].pass,
		       t[f].pass + t[f].fail);
	T_DONE();
}
