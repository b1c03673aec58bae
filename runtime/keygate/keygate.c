/* keygate: command line for people.  Option parsing and a dispatch table. */
#include "admin.h"
#include "agent_cmd.h"
#include "keytool.h"
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The admin socket: --coord-socket, else $KEYGATE_COORD_SOCKET, else the
 * default state directory's. */
static const char *coord_socket = NULL;

static int admin(int argc, char **argv)
{
	const char *path = coord_socket ? coord_socket : getenv("KEYGATE_COORD_SOCKET");
	return admin_run(path && *path ? path : ADMIN_DEFAULT_SOCKET, argc, argv);
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "up", node_up, "--login-server HOST:PORT[,...] --authkey KEY [--interface IF] [--hostname N]\n"
			 "           [--advertise-routes=P,...] [--accept-routes] [--snat-to=ADDR[,ADDR]]: join the tailnet" },
	{ "down", node_down, "[--interface IF]: leave it (peers, routes, rules, our table removed)" },
	{ "status", node_status, "[--interface IF] [--json]: connection, netmap, peers, routes, warnings" },
	{ "genkey", keytool_genkey, "print a new private key (base64) to stdout" },
	{ "pubkey", keytool_pubkey, "[FILE]: read a private key (FILE or stdin), print its public key" },
	{ "users", admin, "add NAME --email E [--role R] | list: the coordinator's users" },
	{ "authkey", admin, "create --user NAME | --tags tag:a,... [--reusable] [--expiry 24h] | list | revoke ID" },
	{ "nodes", admin, "list | remove NAME | expire NAME" },
	{ "routes", admin, "list | approve NODE PREFIX... | reject NODE PREFIX..." },
	{ "policy", admin, "set FILE [--dry-run] [--if-version N] | get [--version N] | history" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate [--coord-socket PATH] COMMAND [ARGS]\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "up, down and status talk to the local keygated (--socket PATH or $KEYGATE_SOCKET,\n"
		   "default " AGENT_CMD_DIR "/IF.sock); administration commands take --json to print JSON.\n");
}

/* Take "--coord-socket PATH" (or "--coord-socket=PATH") out of ARGV. */
static int strip_coord_socket(int argc, char **argv)
{
	int n = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--coord-socket") && i + 1 < argc)
			coord_socket = argv[++i];
		else if (!strncmp(argv[i], "--coord-socket=", 15))
			coord_socket = argv[i] + 15;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

int main(int argc, char **argv)
{
	argc = strip_coord_socket(argc, argv);
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
