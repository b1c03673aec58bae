/* cli_policy: what aclc's check and test share: option parsing (POLICY
 * [--nodes FILE]), loading the policy and the inventory with every
 * diagnostic printed, and compiling the filters. */
#ifndef CLI_POLICY_H
#define CLI_POLICY_H
#include <stdio.h>

#include "diag.h"
#include "filter.h"
#include "hj.h"
#include "inv.h"
#include "pol.h"

struct cli_opts {
	const char *policy, *nodes;
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
#endif
