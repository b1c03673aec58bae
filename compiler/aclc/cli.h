/* cli: the subcommands of aclc(1).  Each takes the arguments after its
 * name (ARGV[0] is the subcommand's name) and returns the exit status:
 * 0 success, 1 errors in the input (diagnostics printed), 2 usage. */
#ifndef CLI_H
#define CLI_H

enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2 };

struct nftm_opts;
/* --snat-to ARG of subcommand CMD into O; prints why it is refused.  0 or
 * -EINVAL. */
int cli_snat_to(const char *cmd, const char *arg, struct nftm_opts *o);

int cli_parse(int argc, char **argv);
int cli_apply(int argc, char **argv);
int cli_compile(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_test(int argc, char **argv);
/* diff: exit 0 no change, 1 changes, 2 trouble (as diff(1)). */
int cli_diff(int argc, char **argv);

#endif
