/* admin: the administration commands: arguments to one JSON request, the
 * answer to a table (or JSON with --json). */
#include "admin.h"
#include "ask.h"
#include "devcfg.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define EXIT_REFUSED 1
#define EXIT_USAGE   2
#define TIMEOUT_S    60

struct cmd;
typedef int admin_fn(const struct cmd *c, int argc, char **argv, cJSON *req);
typedef void print_fn(const cJSON *ans);

struct cmd {
	const char *group, *name, *request, *usage;
	admin_fn *args;			/* arguments into the request */
	print_fn *print;		/* the answer as text */
};

static bool json_out;

/* ---- printing ---- */

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(j) ? j->valuestring : "-";
}

static double num(const cJSON *o, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(j) ? j->valuedouble : 0;
}

static bool flag(const cJSON *o, const char *name)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* A Unix time as "2026-12-02 19:09Z", "-" for 0. */
static const char *when(double t, char buf[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (t <= 0)
		return "-";
	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%d %H:%MZ", &tm);
	return buf;
}

/* Tags joined with commas, or the user's name. */
static void owner(const cJSON *o, char *buf, size_t len)
{
	const cJSON *t, *tags = cJSON_GetObjectItemCaseSensitive(o, "tags");
	size_t n = 0;
	buf[0] = '\0';
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "user"))) {
		snprintf(buf, len, "%s", str(o, "user"));
		return;
	}
	cJSON_ArrayForEach(t, tags)
		if (cJSON_IsString(t) && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", t->valuestring);
}

static const cJSON *rows(const cJSON *ans, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(ans, name);
}

static void print_users(const cJSON *ans)
{
	const cJSON *u;
	char t[32];
	printf("%-4s %-20s %-30s %-7s %s\n", "ID", "NAME", "EMAIL", "ROLE", "CREATED");
	cJSON_ArrayForEach(u, rows(ans, "users"))
		printf("%-4.0f %-20s %-30s %-7s %s\n", num(u, "id"), str(u, "name"), str(u, "email"), str(u, "role"),
		       when(num(u, "created"), t));
}

static void print_authkeys(const cJSON *ans)
{
	const cJSON *k;
	char t[32], own[256];
	time_t now = time(NULL);
	printf("%-4s %-24s %-8s %-8s %-4s %s\n", "ID", "OWNER", "REUSABLE", "STATE", "USES", "EXPIRES");
	cJSON_ArrayForEach(k, rows(ans, "authkeys")) {
		const char *state = flag(k, "revoked") ? "revoked" : num(k, "expiry") <= (double)now ? "expired"
				  : !flag(k, "reusable") && num(k, "uses") > 0 ? "used" : "valid";
		owner(k, own, sizeof own);
		printf("%-4.0f %-24s %-8s %-8s %-4.0f %s\n", num(k, "id"), own, flag(k, "reusable") ? "yes" : "no",
		       state, num(k, "uses"), when(num(k, "expiry"), t));
	}
}

static void print_nodes(const cJSON *ans)
{
	const cJSON *n;
	char t[32], own[256], gen[64];
	printf("%-4s %-20s %-16s %-15s %-9s %-17s %s\n", "ID", "NAME", "OWNER", "IPV4", "STATE", "LAST SEEN",
	       "MAP SENT/ACKED");
	cJSON_ArrayForEach(n, rows(ans, "nodes")) {
		owner(n, own, sizeof own);
		const char *state = flag(n, "expired") ? "expired" : flag(n, "connected") ? "online" : "offline";
		snprintf(gen, sizeof gen, "%.0f/%.0f%s%s", num(n, "sent_generation"), num(n, "acked_generation"),
			 cJSON_IsString(cJSON_GetObjectItem(n, "ack_error")) ? " error: " : "",
			 cJSON_IsString(cJSON_GetObjectItem(n, "ack_error")) ? str(n, "ack_error") : "");
		printf("%-4.0f %-20s %-16s %-15s %-9s %-17s %s\n", num(n, "id"), str(n, "name"), own, str(n, "ipv4"),
		       state, when(num(n, "last_seen"), t), gen);
		if (flag(n, "config_stale"))
			printf("     stock WireGuard device: its configuration changed, give it the new one (keygate nodes config %s)\n",
			       str(n, "name"));
		if (num(n, "tamper_count") > 0)
			printf("     tampered with %.0f time%s, last %s: %s (repaired)\n", num(n, "tamper_count"),
			       num(n, "tamper_count") == 1 ? "" : "s", when(num(n, "last_tamper_at"), t),
			       str(n, "last_tamper"));
	}
}

static void print_routes(const cJSON *ans)
{
	const cJSON *r;
	char by[300];
	size_t off = 0;
	char role[16];
	printf("%-20s %-20s %-10s %-9s %-9s %-7s %s\n", "NODE", "PREFIX", "ADVERTISED", "STATE", "PRIMARY", "HEALTHY",
	       "BY");
	cJSON_ArrayForEach(r, rows(ans, "routes")) {
		if (cJSON_IsString(cJSON_GetObjectItem(r, "auto_approver")))
			snprintf(by, sizeof by, "autoApprovers: %s", str(r, "auto_approver"));
		else
			snprintf(by, sizeof by, "%s", str(r, "by"));
		/* Absent (an older coordinator): forwarding not known to be off. */
		bool fwd_off = cJSON_IsFalse(cJSON_GetObjectItem(r, "forwarding"));
		off += flag(r, "advertised") && fwd_off;
		if (flag(r, "primary"))
			snprintf(role, sizeof role, "yes");
		else if (num(r, "backup") > 0)
			snprintf(role, sizeof role, "backup %.0f", num(r, "backup"));
		else
			snprintf(role, sizeof role, "no");
		const cJSON *probe = cJSON_GetObjectItem(r, "probe");
		printf("%-20s %-20s %-10s %-9s %-9s %-7s %s\n", str(r, "node"), str(r, "prefix"),
		       !flag(r, "advertised") ? "no" : fwd_off ? "yes*" : "yes", str(r, "state"), role,
		       flag(r, "healthy") ? "yes" : "no", by);
		if (probe)
			printf("%-20s %-20s probe %s: %s\n", "", "", str(probe, "target"),
			       flag(probe, "ok") ? "passes" : "fails");
	}
	if (off)
		printf("* the node says its IP forwarding is off: the route is not served\n");
}

static void print_history(const cJSON *ans)
{
	const cJSON *p;
	char t[32];
	printf("%-7s %-20s %-17s %s\n", "VERSION", "SET BY", "SET AT", "BYTES");
	cJSON_ArrayForEach(p, rows(ans, "policies"))
		printf("%-7.0f %-20s %-17s %.0f\n", num(p, "version"), str(p, "set_by"), when(num(p, "set_at"), t),
		       num(p, "size"));
}

static void print_policy(const cJSON *ans)
{
	const cJSON *p = cJSON_GetArrayItem(rows(ans, "policies"), 0);
	fputs(str(p, "text"), stdout);
}

static void print_key(const cJSON *ans)
{
	printf("%s\n", str(ans, "key"));
}

static void print_revoked(const cJSON *ans)
{
	printf("%.0f auth keys revoked, %.0f nodes expired\n", num(ans, "authkeys"), num(ans, "nodes"));
}

static void print_nothing(const cJSON *ans)
{
	(void)ans;
}

static void print_policy_set(const cJSON *ans)
{
	fputs(str(ans, "diff"), stdout);
	if (flag(ans, "committed"))
		printf("policy version %.0f committed\n", num(ans, "version"));
	else
		printf("dry run: nothing committed\n");
}

/* ---- arguments ---- */

static int usage_of(const struct cmd *c)
{
	fprintf(stderr, "usage: keygate %s %s %s\n", c->group, c->name, c->usage);
	return -1;
}

/* Only --json (where the command prints rows). */
static int no_args(const struct cmd *c, int argc, char **argv, cJSON *req)
{
	(void)req;
	(void)argv;
	return argc == 1 ? 0 : usage_of(c);
}

/* One positional argument into FIELD. */
static int one_name(const struct cmd *c, int argc, char **argv, cJSON *req, const char *field)
{
	if (argc != 2)
		return usage_of(c);
	cJSON_AddStringToObject(req, field, argv[1]);
	return 0;
}

static int user_arg(const struct cmd *c, int argc, char **argv, cJSON *req)
{
	return one_name(c, argc, argv, req, "name");
}

static int node_arg(const struct cmd *c, int argc, char **argv, cJSON *req)
{
	return one_name(c, argc, argv, req, "node");
}

/* getopt_long over ARGV with OPTS; each option's value into REQ. */
static int options(const struct cmd *c, int argc, char **argv, const struct option *opts, cJSON *req,
		   int (*one)(int opt, const char *arg, cJSON *req))
{
	int opt;
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (opt == '?' || one(opt, optarg, req) < 0)
			return usage_of(c);
	return optind;
}

static int user_opt(int opt, const char *arg, cJSON *req)
{
	cJSON_AddStringToObject(req, opt == 'e' ? "email" : opt == 'r' ? "role" : "as", arg);
	return 0;
}

static int users_add_args(const struct cmd *c, int argc, char **argv, cJSON *req)
{
	static const struct option opts[] = {
		{ "email", required_argument, NULL, 'e' }, { "role", required_argument, NULL, 'r' }, { 0 },
	};
	int i = options(c, argc, argv, opts, req, user_opt);
	if (i < 0 || i != argc - 1 || !cJSON_GetObjectItem(req, "email"))
		return usage_of(c);
	cJSON_AddStringToObject(req, "name", argv[i]);
	return 0;
}

/* "24h", "30m", "7d", "90s" or seconds. */
static int duration(const char *text, double *secs)
{
	char *end;
	double v = strtod(text, &end);
	double unit = !*end ? 1 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600
		    : !strcmp(end, "d") ? 86400 : 0;
	if (end == text || unit == 0 || v <= 0)
		return -1;
	*secs = v * unit;
	return 0;
}

static int authkey_opt(int opt, const char *arg, cJSON *req)
{
	double secs;
	switch (opt) {
	case 'u':
		cJSON_AddStringToObject(req, "user", arg);
		return 0;
	case 'R':
		cJSON_AddBoolToObject(req, "reusable", true);
		return 0;
	case 'e':
		if (duration(arg, &secs) < 0)
			return -1;
		cJSON_AddNumberToObject(req, "expiry", secs);
		return 0;
	default: {
		cJSON *tags = cJSON_AddArrayToObject(req, "tags");
		char *copy = strdup(arg), *save = NULL;
		for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
			cJSON_AddItemToArray(tags, cJSON_CreateString(t));
		free(copy);
		return 0;
	}
	}
}

static int authkey_create_args(const struct cmd *c, int argc, char **argv, cJSON *req)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' }, { "tags", required_argument, NULL, 't' },
		{ "reusable", no_argument, NULL, 'R' }, { "expiry", required_argument, NULL, 'e' }, { 0 },
	};
	int i = options(c, argc, argv, opts, req, authkey_opt);
	if (i < 0 || i != argc || !cJSON_GetObjectItem(req, "user") == !cJSON_GetObjectItem(req, "tags"))
		return usage_of(c);
	return 0;
}

static int authkey_revoke_args(const struct cmd *c, int argc, char **argv, cJSON *req)
{
	char *end;
	long long id = argc == 2 ? strtoll(argv[1], &end, 10) : 0;
	if (argc != 2 || *end || id <= 0)
		return usage_of(c);
	cJSON_AddNumberToObject(req, "id", (double)id);
	return 0;
}

static int as_opt(int opt, const char *arg, cJSON *req)
{
	return user_opt(opt, arg, req);
}

static int routes_decide_args(const struct cmd *c, int argc, char **argv, cJSON *req)
{
	static const struct option opts[] = { { "as", required_argument, NULL, 'a' }, { 0 } };
	int i = options(c, argc, argv, opts, req, as_opt);
	if (i < 0 || argc - i < 2)
		return usage_of(c);
	/* Who decides: --as, else the user named as the caller's login. */
	struct passwd *pw = getpwuid(getuid());
	if (!cJSON_GetObjectItem(req, "as") && pw)
		cJSON_AddStringToObject(req, "as", pw->pw_name);
	cJSON_AddStringToObject(req, "node", argv[i]);
	cJSON *p = cJSON_AddArrayToObject(req, "prefixes");
	for (i++; i < argc; i++)
		cJSON_AddItemToArray(p, cJSON_CreateString(argv[i]));
	return 0;
}

/* The file's text, or NULL after a message. */
static char *read_file(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *buf = NULL;
	size_t len = 0;
	if (!f) {
		fprintf(stderr, "keygate: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	FILE *m = open_memstream(&buf, &len);
	char chunk[65536];
	size_t n;
	while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, m);
	bool failed = ferror(f) || !m;
	if (m)
		fclose(m);
	if (f != stdin)
		fclose(f);
	if (failed) {
		fprintf(stderr, "keygate: %s: cannot read\n", path);
		free(buf);
		return NULL;
	}
	return buf;
}

static int policy_opt(int opt, const char *arg, cJSON *req)
{
	char *end;
	long long v;
	switch (opt) {
	case 'd':
		cJSON_AddBoolToObject(req, "dry_run", true);
		return 0;
	case 'i':
	case 'V':
		v = strtoll(arg, &end, 10);
		if (*end || v < 0)
			return -1;
		cJSON_AddNumberToObject(req, opt == 'i' ? "if_version" : "version", (double)v);
		return 0;
	default:
		return as_opt(opt, arg, req);
	}
}

static int policy_set_args(const struct cmd *c, int argc, char **argv, cJSON *req)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'd' }, { "if-version", required_argument, NULL, 'i' },
		{ "as", required_argument, NULL, 'a' }, { 0 },
	};
	int i = options(c, argc, argv, opts, req, policy_opt);
	if (i < 0 || i != argc - 1)
		return usage_of(c);
	char *text = read_file(argv[i]);
	if (!text)
		return -1;
	cJSON_AddStringToObject(req, "name", argv[i]);
	cJSON_AddStringToObject(req, "text", text);
	free(text);
	return 0;
}

static int policy_get_args(const struct cmd *c, int argc, char **argv, cJSON *req)
{
	static const struct option opts[] = { { "version", required_argument, NULL, 'V' }, { 0 } };
	int i = options(c, argc, argv, opts, req, policy_opt);
	return i < 0 || i != argc ? usage_of(c) : 0;
}

/* ---- stock WireGuard devices (devcfg.h) ---- */

static void print_config(const cJSON *ans)
{
	devcfg_print(str(ans, "config"));
	devcfg_wipe();
}

static int static_opt(int opt, const char *arg, cJSON *req)
{
	if (opt == 'u')
		cJSON_AddStringToObject(req, "user", arg);
	else if (opt == 'q')
		devcfg_want_qr();
	else if (devcfg_load_key(arg) < 0)
		return fprintf(stderr, "keygate: %s: not a readable private key\n", arg), -1;
	return 0;
}

static int add_static_args(const struct cmd *c, int argc, char **argv, cJSON *req)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' }, { "qr", no_argument, NULL, 'q' }, { 0 },
	};
	char pub[45];
	int i = options(c, argc, argv, opts, req, static_opt);
	if (i < 0 || i != argc - 1 || !cJSON_GetObjectItem(req, "user"))
		return usage_of(c);
	/* The private key exists only in what this command prints. */
	if (json_out)
		return fprintf(stderr, "keygate nodes add-static: no --json: the configuration is the output\n"), -1;
	if (devcfg_new_key(pub) < 0)
		return fprintf(stderr, "keygate: cannot make a key pair\n"), -1;
	cJSON_AddStringToObject(req, "name", argv[i]);
	cJSON_AddStringToObject(req, "wg_key", pub);
	return 0;
}

static int config_args(const struct cmd *c, int argc, char **argv, cJSON *req)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' }, { "qr", no_argument, NULL, 'q' }, { 0 },
	};
	int i = options(c, argc, argv, opts, req, static_opt);
	if (i < 0 || i != argc - 1)
		return usage_of(c);
	cJSON_AddStringToObject(req, "node", argv[i]);
	return 0;
}

static const struct cmd cmds[] = {
	{ "users", "add", "users.add", "NAME --email EMAIL [--role owner|admin|member]", users_add_args,
	  print_nothing },
	{ "users", "list", "users.list", "[--json]", no_args, print_users },
	{ "users", "revoke", "users.revoke", "NAME", user_arg, print_revoked },
	{ "authkey", "create", "authkey.create", "--user NAME | --tags tag:a,tag:b [--reusable] [--expiry 24h]",
	  authkey_create_args, print_key },
	{ "authkey", "list", "authkey.list", "[--json]", no_args, print_authkeys },
	{ "authkey", "revoke", "authkey.revoke", "ID", authkey_revoke_args, print_nothing },
	{ "nodes", "list", "nodes.list", "[--json]", no_args, print_nodes },
	{ "nodes", "remove", "nodes.remove", "NAME", node_arg, print_nothing },
	{ "nodes", "expire", "nodes.expire", "NAME", node_arg, print_nothing },
	{ "nodes", "add-static", "nodes.add_static", "NAME --user USER [--qr]", add_static_args, print_config },
	{ "nodes", "config", "nodes.config", "NAME [--key FILE] [--qr]", config_args, print_config },
	{ "routes", "list", "routes.list", "[--json]", no_args, print_routes },
	{ "routes", "approve", "routes.approve", "[--as USER] NODE PREFIX...", routes_decide_args, print_nothing },
	{ "routes", "reject", "routes.reject", "[--as USER] NODE PREFIX...", routes_decide_args, print_nothing },
	{ "policy", "set", "policy.set", "[--dry-run] [--if-version N] [--as USER] FILE", policy_set_args,
	  print_policy_set },
	{ "policy", "get", "policy.get", "[--version N]", policy_get_args, print_policy },
	{ "policy", "history", "policy.history", "[--json]", no_args, print_history },
};

static int group_usage(const char *group)
{
	fprintf(stderr, "usage:\n");
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!group || !strcmp(group, cmds[i].group))
			fprintf(stderr, "  keygate %s %s %s\n", cmds[i].group, cmds[i].name, cmds[i].usage);
	return EXIT_USAGE;
}

/* Take --json out of ARGV wherever it is. */
static int strip_json(int argc, char **argv)
{
	int n = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json_out = true;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

static int answer(const struct cmd *c, const cJSON *ans)
{
	if (!flag(ans, "ok")) {
		fprintf(stderr, "keygate %s %s: %s\n", c->group, c->name, str(ans, "error"));
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(ans, "details");
		if (cJSON_IsString(d))
			fputs(d->valuestring, stderr);
		return EXIT_REFUSED;
	}
	if (json_out) {
		char *text = cJSON_Print(ans);
		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		c->print(ans);
	}
	return fflush(stdout) == 0 ? 0 : EXIT_USAGE;
}

int admin_run(const char *socket, int argc, char **argv)
{
	argc = strip_json(argc, argv);
	if (argc < 2)
		return group_usage(argv[0]);
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		const struct cmd *c = &cmds[i];
		if (strcmp(argv[0], c->group) || strcmp(argv[1], c->name))
			continue;
		cJSON *req = cJSON_CreateObject(), *ans = NULL;
		int status = EXIT_USAGE;
		if (!req)
			return EXIT_USAGE;
		cJSON_AddStringToObject(req, "cmd", c->request);
		if (c->args(c, argc - 1, argv + 1, req) == 0 && (status = ask_socket(socket, "the coordinator", TIMEOUT_S, req, &ans)) == 0)
			status = answer(c, ans);
		cJSON_Delete(ans);
		cJSON_Delete(req);
		return status;
	}
	return group_usage(argv[0]);
}
