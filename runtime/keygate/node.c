/* node: `keygate up|down|status` into one request for keygated, and its
 * answer printed for a person (or as JSON with --json). */
#include "node.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_cmd.h"
#include "ask.h"

#define EXIT_FAILED 1
#define EXIT_USAGE  2
/* `up` waits for the first netmap: registration, the map, applying it. */
#define UP_TIMEOUT_S 60
#define TIMEOUT_S    10
#define DEFAULT_IFACE "keygate0"

struct common {
	const char *iface, *socket;
	bool json;
};

/* The socket: --socket, else $KEYGATE_SOCKET, else the interface's. */
static const char *socket_path(const struct common *c, char *buf, size_t len)
{
	const char *env = getenv("KEYGATE_SOCKET");
	if (c->socket)
		return c->socket;
	if (env && *env)
		return env;
	agent_cmd_default_path(buf, len, c->iface);
	return buf;
}

/* Send REQ (taken), print an error answer: 0 with *ANS, or an exit status. */
static int talk(const struct common *c, cJSON *req, int timeout_s, cJSON **ans)
{
	char buf[256];
	int status = req ? ask_socket(socket_path(c, buf, sizeof buf), "keygated", timeout_s, req, ans) : EXIT_USAGE;
	cJSON_Delete(req);
	if (status)
		return status;
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(*ans, "ok"))) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(*ans, "error");
		fprintf(stderr, "keygate: %s\n", cJSON_IsString(e) ? e->valuestring : "refused");
		cJSON_Delete(*ans);
		return EXIT_FAILED;
	}
	return 0;
}

static cJSON *request(const char *cmd)
{
	cJSON *j = cJSON_CreateObject();
	if (j && !cJSON_AddStringToObject(j, "cmd", cmd)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static bool add_routes(cJSON *req, char *list)
{
	cJSON *a = cJSON_AddArrayToObject(req, "advertise_routes");
	for (char *save, *p = strtok_r(list, ",", &save); a && p; p = strtok_r(NULL, ",", &save))
		if (*p && !cJSON_AddItemToArray(a, cJSON_CreateString(p)))
			return false;
	return a != NULL;
}

static void print_list(const char *label, const cJSON *arr)
{
	const cJSON *it;
	int n = 0;
	printf("%s", label);
	cJSON_ArrayForEach(it, arr) printf("%s%s", n++ ? ", " : " ", cJSON_IsString(it) ? it->valuestring : "?");
	printf("%s\n", n ? "" : " none");
}

static double num(const cJSON *o, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(j) ? j->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(j) ? j->valuestring : "";
}

int node_up(int argc, char **argv)
{
	enum { O_LOGIN = 256, O_AUTHKEY, O_IFACE, O_HOST, O_ROUTES, O_ACCEPT, O_SNAT_TO, O_PROBE, O_SOCKET };
	static const struct option longopts[] = {
		{ "login-server", required_argument, NULL, O_LOGIN }, { "authkey", required_argument, NULL, O_AUTHKEY },
		{ "interface", required_argument, NULL, O_IFACE }, { "hostname", required_argument, NULL, O_HOST },
		{ "advertise-routes", required_argument, NULL, O_ROUTES }, { "accept-routes", no_argument, NULL, O_ACCEPT },
		{ "snat-to", required_argument, NULL, O_SNAT_TO }, { "route-probe", required_argument, NULL, O_PROBE },
		{ "socket", required_argument, NULL, O_SOCKET }, { "json", no_argument, NULL, 'j' }, { 0 },
	};
	struct common c = { .iface = DEFAULT_IFACE };
	cJSON *req = request("up"), *ans;
	bool ok = req != NULL;
	int opt;
	optind = 1;
	while (ok && (opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case O_LOGIN: ok = cJSON_AddStringToObject(req, "login_server", optarg); break;
		case O_AUTHKEY: ok = cJSON_AddStringToObject(req, "authkey", optarg); break;
		case O_IFACE: c.iface = optarg; break;
		case O_HOST: ok = cJSON_AddStringToObject(req, "hostname", optarg); break;
		case O_ROUTES: ok = add_routes(req, optarg); break;
		case O_ACCEPT: ok = cJSON_AddBoolToObject(req, "accept_routes", true); break;
		case O_SNAT_TO: ok = cJSON_AddStringToObject(req, "snat_to", optarg); break;
		case O_PROBE: ok = cJSON_AddStringToObject(req, "route_probes", optarg); break;
		case O_SOCKET: c.socket = optarg; break;
		case 'j': c.json = true; break;
		default: ok = false; break;
		}
	}
	if (!ok || optind != argc) {
		fprintf(stderr, "usage: keygate up [--interface IF] [--login-server HOST:PORT[,...]] [--authkey KEY]\n"
				"                  [--hostname NAME] [--advertise-routes=PREFIX,...] [--accept-routes]\n"
				"                  [--snat-to=ADDR[,ADDR]] [--route-probe=PREFIX=tcp:[ADDR:]PORT,...]\n");
		cJSON_Delete(req);
		return EXIT_USAGE;
	}
	int status = talk(&c, req, UP_TIMEOUT_S, &ans);
	if (status)
		return status;
	printf("%s: up as %s, netmap %.0f applied\n", str(ans, "interface"), str(ans, "name"), num(ans, "generation"));
	print_list("addresses:", cJSON_GetObjectItemCaseSensitive(ans, "addresses"));
	cJSON_Delete(ans);
	return 0;
}

/* --interface, --socket and --json of down and status. */
static int parse_common(int argc, char **argv, struct common *c, const char *usage)
{
	enum { O_IFACE = 256, O_SOCKET };
	static const struct option longopts[] = {
		{ "interface", required_argument, NULL, O_IFACE }, { "socket", required_argument, NULL, O_SOCKET },
		{ "json", no_argument, NULL, 'j' }, { 0 },
	};
	int opt;
	*c = (struct common){ .iface = DEFAULT_IFACE };
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case O_IFACE: c->iface = optarg; break;
		case O_SOCKET: c->socket = optarg; break;
		case 'j': c->json = true; break;
		default: optind = -1; break;
		}
		if (optind < 0)
			break;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: %s\n", usage);
		return -1;
	}
	return 0;
}

int node_down(int argc, char **argv)
{
	struct common c;
	cJSON *ans;
	if (parse_common(argc, argv, &c, "keygate down [--interface IF]") < 0)
		return EXIT_USAGE;
	int status = talk(&c, request("down"), TIMEOUT_S, &ans);
	if (status)
		return status;
	printf("%s: down: peers, addresses, routes, rules and table inet keygate removed\n", str(ans, "interface"));
	cJSON_Delete(ans);
	return 0;
}

static void print_peers(const cJSON *peers)
{
	const cJSON *p;
	printf("peers:%s\n", cJSON_GetArraySize(peers) ? "" : " none");
	cJSON_ArrayForEach(p, peers) {
		const cJSON *age = cJSON_GetObjectItemCaseSensitive(p, "handshake_age");
		const cJSON *aips = cJSON_GetObjectItemCaseSensitive(p, "allowed_ips"), *it;
		char hs[48];
		if (cJSON_IsNumber(age))
			snprintf(hs, sizeof hs, "handshake %.0f s ago", age->valuedouble);
		else
			snprintf(hs, sizeof hs, "no handshake");
		printf("  %-20s %-18s rx %.0f tx %.0f  allowed", str(p, "name"), hs, num(p, "rx_bytes"), num(p, "tx_bytes"));
		cJSON_ArrayForEach(it, aips) printf(" %s", cJSON_IsString(it) ? it->valuestring : "?");
		printf("\n");
	}
}

static void print_tamper(const cJSON *t)
{
	char at[32];
	time_t when = (time_t)num(t, "last_at");
	struct tm tm;
	if (num(t, "count") <= 0)
		return;
	gmtime_r(&when, &tm);
	strftime(at, sizeof at, "%Y-%m-%d %H:%M:%SZ", &tm);
	printf("nftables table changed by another process %.0f time%s, last at %s: %s; %s %.2f ms\n", num(t, "count"),
	       num(t, "count") == 1 ? "" : "s", at, str(t, "last"), *str(t, "repair_error") ? "repair failed after" : "repaired in",
	       num(t, "repair_ms"));
}

static void print_status(const cJSON *s)
{
	const cJSON *co = cJSON_GetObjectItemCaseSensitive(s, "coordinator"), *w, *it;
	printf("%s: %s, node %s\n", str(s, "interface"), str(s, "state"), *str(s, "name") ? str(s, "name") : "(unregistered)");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(co, "connected")))
		printf("coordinator %s: connected for %.0f s\n", str(co, "server"), num(co, "connected_for"));
	else
		printf("coordinator %s: not connected%s%s\n", str(co, "server"), *str(co, "last_error") ? ": " : "",
		       str(co, "last_error"));
	printf("netmap %.0f applied (filter from netmap %.0f), last apply %.2f ms\n", num(s, "generation"),
	       num(s, "filter_generation"), num(s, "last_apply_ms"));
	print_list("addresses:", cJSON_GetObjectItemCaseSensitive(s, "addresses"));
	print_list("routes advertised:", cJSON_GetObjectItemCaseSensitive(s, "routes_advertised"));
	const char *snat_to = str(s, "snat_to");
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "serving")))
		printf("serving routes: no\n");
	else if (*snat_to)
		printf("serving routes: yes (source NAT to %s)\n", snat_to);
	else
		printf("serving routes: yes (source NAT on: masquerade)\n");
	print_list("routes used:", cJSON_GetObjectItemCaseSensitive(s, "routes_used"));
	print_peers(cJSON_GetObjectItemCaseSensitive(s, "peers"));
	print_tamper(cJSON_GetObjectItemCaseSensitive(s, "tamper"));
	w = cJSON_GetObjectItemCaseSensitive(s, "warnings");
	cJSON_ArrayForEach(it, w) printf("warning: %s\n", cJSON_IsString(it) ? it->valuestring : "?");
}

int node_status(int argc, char **argv)
{
	struct common c;
	cJSON *ans;
	if (parse_common(argc, argv, &c, "keygate status [--interface IF] [--json]") < 0)
		return EXIT_USAGE;
	int status = talk(&c, request("status"), TIMEOUT_S, &ans);
	if (status)
		return status;
	if (c.json) {
		char *text = cJSON_Print(ans);
		printf("%s\n", text ? text : "{}");
		free(text);
	} else {
		print_status(ans);
	}
	cJSON_Delete(ans);
	return fflush(stdout) == 0 ? 0 : EXIT_USAGE;
}
