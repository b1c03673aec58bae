/* agent_req: the command socket's requests, one JSON object a line:
 *   {"cmd":"up","login_server":"HOST:PORT[,HOST:PORT...]","authkey":"kgauth1-...",
 *    "hostname":"N","advertise_routes":["8.8.8.8/32"],"accept_routes":true,
 *    "snat_to":"192.0.2.7","route_probes":"8.8.8.8/32=tcp:443"}
 *   {"cmd":"down"}   {"cmd":"status"}
 * Every field but "cmd" is optional; "up" without "authkey" reconnects a
 * node registered before.  Decoding is strict (types, caps, routes checked
 * as Tailscale does) and every refusal has a reason a person reads.  The
 * answer is one JSON object a line too: {"ok":true,...} or
 * {"ok":false,"error":"..."} (keygated(8), COMMAND SOCKET). */
#ifndef AGENT_REQ_H
#define AGENT_REQ_H
#include <stdbool.h>
#include <stddef.h>

#include "ctl_authkey.h"
#include "ctl_json.h"

#define AGENT_REQ_MAX (64u * 1024)	/* one request line */
#define AGENT_MAX_ROUTES 1024
/* login_server may list several coordinators that share one store and key
 * pair, comma-separated; the node uses one and moves to the next when it
 * loses it. */
#define AGENT_MAX_SERVERS 8
#define AGENT_SERVERS_MAX_LEN (AGENT_MAX_SERVERS * (CTL_AUTHKEY_MAX_HOST + 9))

enum agent_cmd { AGENT_CMD_UP = 1, AGENT_CMD_DOWN, AGENT_CMD_STATUS };

struct agent_req {
	enum agent_cmd cmd;
	char *login_server;		/* NULL: the auth key's, or the stored one; a list */
	char *authkey;			/* secret: wiped by agent_req_free */
	char *hostname;
	bool has_routes;
	struct ctl_prefixes routes;
	bool has_accept_routes, accept_routes;
	char *snat_to;			/* "" clears the stored one */
	char *route_probes;		/* agent_probe.h's syntax; "" clears the stored ones */
};

/* 0, -EINVAL with a reason in ERR, or -ENOMEM.  R needs agent_req_free
 * after success only. */
int agent_req_parse(const char *text, size_t len, struct agent_req *r, char *err, size_t errlen);
void agent_req_free(struct agent_req *r);
/* The (I mod count)-th HOST:PORT of LIST into OUT; the count of entries,
 * 0 for an empty list, or -ENAMETOOLONG when the entry does not fit. */
int agent_server_nth(const char *list, unsigned i, char *out, size_t len);
/* {"ok":false,"error":WHY} as text (caller frees); NULL without memory. */
char *agent_req_error_text(const char *why);

#endif
