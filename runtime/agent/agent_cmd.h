/* agent_cmd: keygated's command socket, what keygate(1)'s up, down and
 * status talk to: a Unix stream socket (0600, root; peers whose uid is
 * neither root nor ours are refused), one request line per connection,
 * answered by one line when the agent is ready (an `up` answers once the
 * first netmap is applied, so the reply may come seconds later). */
#ifndef AGENT_CMD_H
#define AGENT_CMD_H
#include <stddef.h>

#include "evloop.h"

#define AGENT_CMD_DIR "/var/run/keygate"

struct agent_cmdsrv;
struct agent_client;

/* A complete request line (without its newline) from client C; the
 * callback owns C until it calls agent_client_reply. */
typedef void agent_cmd_fn(void *arg, struct agent_client *c, const char *line, size_t len);

/* Create the socket at PATH (its directory made 0755 if missing; an old
 * socket file replaced) and return the listening fd, or -errno with ERR. */
int agent_cmd_listen(const char *path, char *err, size_t errlen);
/* The default path for interface IFNAME: AGENT_CMD_DIR/IFNAME.sock. */
void agent_cmd_default_path(char *out, size_t len, const char *ifname);
/* Serve LISTEN_FD (owned from now on) on LOOP.  NULL with errno. */
struct agent_cmdsrv *agent_cmdsrv_new(struct ev_loop *loop, int listen_fd, agent_cmd_fn *fn, void *arg);
/* Closes the listener and every client (those waiting for an answer get
 * none: the caller answers them first). */
void agent_cmdsrv_free(struct agent_cmdsrv *s);
/* Write TEXT and a newline to C, close and free C.  0 or -errno. */
int agent_client_reply(struct agent_client *c, const char *text);

#endif
