/* keygate: command line for people.  Option parsing and a dispatch table. */
#include "keytool.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "genkey", keytool_genkey, "print a new private key (base64) to stdout" },
	{ "pubkey", keytool_pubkey, "[FILE]: read a private key (FILE or stdin), print its public key" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate COMMAND [ARGS]\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "keygate: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
