/* cli_policy: what aclc's compile, check and test share: option parsing
 * (POLICY [--nodes FILE] [--format F] [--node NAME] [-o FILE]), loading the
 * policy and the inventory with every diagnostic printed, compiling, and
 * writing output atomically (a temporary file renamed into place, nothing
 * written when the policy is rejected). */
#ifndef CLI_POLICY_H
#define CLI_POLICY_H
#include <stdio.h>

#include "diag.h"
#include "filter.h"
#include "hj.h"
#include "inv.h"
#include "pol.h"

struct cli_opts {
	const char *policy, *nodes, *format, *node, *output;
};

struct cli_loaded {
	struct diag_list diags;
	struct diag_src *src, *inv_src;
	struct hj_value *root;
	struct pol_policy *pol;
	struct inv *inv;
	struct filter_set fs;
	bool compiled;
};

/* Parse ARGV (after the subcommand name).  CLI_OK or CLI_USAGE. */
int cli_opts_parse(int argc, char **argv, struct cli_opts *o, const char *usage);
/* Load the policy, and the inventory when NODES is set, and compile.
 * Diagnostics (warnings too) go to stderr.  CLI_OK or CLI_ERR. */
int cli_load(const struct cli_opts *o, struct cli_loaded *l);
void cli_loaded_free(struct cli_loaded *l);
/* Write what FN prints to PATH (or standard output when NULL or "-")
 * all or nothing.  CLI_OK or CLI_ERR. */
int cli_write_atomic(const char *path, int (*fn)(FILE *out, void *arg), void *arg);

#endif
