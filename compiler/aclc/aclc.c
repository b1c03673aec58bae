/* aclc: the policy compiler's command line.  Option parsing and the table
 * of subcommands; each subcommand lives in compiler/cli_*.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis;
} commands[] = {
	{ "parse", cli_parse, "parse [-c] FILE     print HuJSON FILE as standard JSON" },
	{ "check", cli_check, "check POLICY [--nodes NODES]\n"
			      "                      check a policy (and inventory): say ok, or print every error" },
	{ "test", cli_test, "test POLICY --nodes NODES\n"
			    "                      run the policy's tests; print each failing assertion" },
	{ "apply", cli_apply, "apply POLICY --nodes NODES --node NAME [--dry-run] [-v]\n"
			      "                      make the kernel's nftables table the node's, in one transaction" },
	{ "compile", cli_compile, "compile POLICY [--nodes NODES --node NAME] [--format nft|ir|tailscale|routes] [-o FILE]\n"
				  "          [--iface IF] [--table NAME] [--no-snat | --snat-to ADDR[,ADDR]]\n"
				  "                      compile POLICY (nft: the node's ruleset)" },
	{ "diff", cli_diff, "diff OLD NEW [--nodes NODES] [--nodes-new NODES] [--node NAME] [--format text|json]\n"
			    "                      who gains and who loses access; exit 0 no change, 1 changes" },
};

static int usage(FILE *out, int rc)
{
	fprintf(out, "usage: aclc [-h] COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  aclc %s\n", commands[i].synopsis);
	fprintf(out, "  aclc POLICY [compile options]   short for aclc compile POLICY ...\n");
	fprintf(out, "\nFILE may be '-' for standard input.  See aclc(1).\n");
	return rc;
}

static int dispatch(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, CLI_USAGE);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)
		return usage(stdout, CLI_OK);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	/* The short form: a policy file where a command would be. */
	if (argv[1][0] != '-' && (strchr(argv[1], '.') || strchr(argv[1], '/') || access(argv[1], F_OK) == 0))
		return cli_compile(argc, argv);
	fprintf(stderr, "aclc: unknown command '%s'\n", argv[1]);
	return usage(stderr, CLI_USAGE);
}

/* An answer that did not reach standard output (a full disk, a closed pipe)
 * is trouble, whatever the command concluded: a script must not read
 * "ok" from an exit status whose text was lost. */
int main(int argc, char **argv)
{
	int rc = dispatch(argc, argv);
	if (fflush(stdout) == 0 && !ferror(stdout))
		return rc;
	/* A command that failed has said why already (a failed -o - among them). */
	if (rc == CLI_OK)
		fprintf(stderr, "aclc: cannot write to standard output: %s\n", errno ? strerror(errno) : "write error");
	return CLI_USAGE;
}
