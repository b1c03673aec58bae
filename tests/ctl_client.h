/* ctl_client.h: what the test clients of the control protocol share
 * (tests/coord/ctlclient, tests/bench/bench_coord): the coordinator to
 * reach, sending a message or an ack on a session, applying a delta. */
#ifndef TESTS_CTL_CLIENT_H
#define TESTS_CTL_CLIENT_H
#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ctl_conn.h"
#include "ctl_msg.h"

/* SERVER ("HOST:PORT") into *AI and KEY_B64 (standard base64) into KEY:
 * 0, or -1 when either is malformed or the host does not resolve. */
static inline int ctl_client_server(const char *server, const char *key_b64, uint8_t key[32], struct addrinfo **ai)
{
	char host[300];
	size_t binlen;
	const char *colon = server ? strrchr(server, ':') : NULL;
	if (!key_b64 || !colon || (size_t)(colon - server) >= sizeof host ||
	    sodium_base642bin(key, 32, key_b64, strlen(key_b64), NULL, &binlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || binlen != 32)
		return -1;
	memcpy(host, server, (size_t)(colon - server));
	host[colon - server] = '\0';
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	return getaddrinfo(host, colon + 1, &hints, ai) == 0 ? 0 : -1;
}

/* Encode M and queue it on C: 0 or -errno. */
static inline int ctl_client_send(struct ctl_conn *c, const struct ctl_msg *m)
{
	size_t len;
	char *text = ctl_msg_encode(m, &len);
	int rc = text ? ctl_conn_send(c, text, len) : -ENOMEM;
	free(text);
	return rc;
}

/* Acknowledge generation GEN, applied (ERROR NULL) or not. */
static inline int ctl_client_ack(struct ctl_conn *c, uint64_t gen, const char *error)
{
	struct ctl_msg m = { .type = CTL_MSG_ACK };
	m.u.ack.generation = gen;
	m.u.ack.error = (char *)error;
	return ctl_client_send(c, &m);
}

/* Apply D to *MAP in place: 0, or -errno with *MAP unchanged. */
static inline int ctl_client_apply(struct ctl_netmap *map, const struct ctl_delta *d)
{
	struct ctl_netmap next;
	int rc = ctl_netmap_apply(map, d, &next);
	if (rc < 0)
		return rc;
	ctl_netmap_free(map);
	*map = next;
	return 0;
}

#endif
