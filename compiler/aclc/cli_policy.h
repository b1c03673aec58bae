/* cli_policy: what aclc's check and test share: option parsing (POLICY
 * [--nodes FILE]), loading the policy and the inventory with every
 * diagnostic printed, and compiling the filters. */
#ifndef CLI_POLICY_H
#define CLI_POLICY_H
#include <stdio.h>

#include "load.h"

struct cli_opts {
	const char *policy, *nodes;
};

/* Parse ARGV (after the subcommand name).  CLI_OK or CLI_USAGE. */
int cli_opts_parse(int argc, char **argv, struct cli_opts *o, const char *usage);
/* Load the policy, and the inventory when NODES is set and compile (the
 * load pipeline).  Diagnostics (warnings too) go to stderr.  CLI_OK or
 * CLI_ERR; *OUT (NULL on no memory) to load_free() either way. */
int cli_load(const struct cli_opts *o, struct load **out);
#endif
