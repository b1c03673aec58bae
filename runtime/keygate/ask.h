/* ask: one JSON request line to a local Unix socket and its one-line
 * answer: the coordinator's admin socket (admin.c) and keygated's command
 * socket (node.c) speak the same way. */
#ifndef ASK_H
#define ASK_H
#include <cjson/cJSON.h>

/* Send REQ to the socket at PATH and parse the answer into *ANS (a JSON
 * object), waiting at most TIMEOUT_S seconds.  0, or exit status 2 after a
 * message to stderr naming WHO ("the coordinator", "keygated"). */
int ask_socket(const char *path, const char *who, int timeout_s, const cJSON *req, cJSON **ans);

#endif
