/* cli_check: `aclc check POLICY [--nodes NODES]` and `aclc test POLICY
 * --nodes NODES`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_policy.h"
#include "ptest.h"

int cli_check(int argc, char **argv)
{
	struct cli_opts o;
	int rc = cli_opts_parse(argc, argv, &o, "aclc check POLICY [--nodes FILE]");
	if (rc != CLI_OK)
		return rc;
	struct load *l;
	rc = cli_load(&o, &l);
	if (rc == CLI_OK) {
		size_t nacl = 0, ngrant = 0;
		for (size_t i = 0; i < l->pol->nrules; i++)
			*(l->pol->rules[i].kind == POL_ACL ? &nacl : &ngrant) += 1;
		size_t ntests = ptest_count(l->pol);
		printf("%s: ok: %zu acl%s, %zu grant%s, %zu test%s", o.policy, nacl, nacl == 1 ? "" : "s",
		       ngrant, ngrant == 1 ? "" : "s", ntests, ntests == 1 ? "" : "s");
		if (l->have_inv)
			printf("; %zu node%s in %s", l->inv->nnodes, l->inv->nnodes == 1 ? "" : "s", o.nodes);
		printf("\n");
	}
	load_free(l);
	return rc;
}

int cli_test(int argc, char **argv)
{
	struct cli_opts o;
	int rc = cli_opts_parse(argc, argv, &o, "aclc test POLICY --nodes FILE");
	if (rc != CLI_OK)
		return rc;
	if (!o.nodes) {
		fprintf(stderr, "aclc test: --nodes FILE is required (tests name users and hosts)\n");
		return CLI_USAGE;
	}
	struct load *l;
	rc = cli_load(&o, &l);
	if (rc == CLI_OK) {
		size_t n = ptest_count(l->pol);
		int failed = ptest_run(l->pol, l->inv, &l->fs, stdout);
		if (failed < 0) {
			fprintf(stderr, "aclc test: %s\n", strerror(-failed));
			rc = CLI_ERR;
		} else if (failed > 0) {
			printf("%s: %d assertion%s failed in %zu test%s\n", o.policy, failed, failed == 1 ? "" : "s",
			       n, n == 1 ? "" : "s");
			rc = CLI_ERR;
		} else
			printf("%s: all %zu test%s passed\n", o.policy, n, n == 1 ? "" : "s");
	}
	load_free(l);
	return rc;
}
