/* ctl_conn: one control connection, non-blocking and loop-agnostic.  The
 * caller owns the event loop: it watches ctl_conn_fd() for reading always
 * and for writing while ctl_conn_wants_write(), calls on_readable,
 * on_writable, and ctl_conn_tick() by ctl_conn_deadline().  A negative
 * return from any of them means the connection is over (the caller logs the
 * reason, closes and frees it); nothing here touches another connection.
 *
 * The initiator (a node) sends its initiation as soon as it is created; the
 * responder (the coordinator) answers the first frame.  Once established,
 * on_established runs, then on_message for each complete message; both may
 * call ctl_conn_send and ctl_conn_close but must not free the connection
 * (they return negative to end it).  Memory is bounded: one partial frame
 * (<= 64 KiB), one partial message (<= max_message), and the write queue
 * (<= max_queued; ctl_conn_send refuses beyond it with -ENOBUFS, the caller
 * keeps its latest state and sends when there is room, see
 * ctl_conn_queued).  Timers (monotonic ns from the caller): the handshake
 * must finish within handshake_timeout; a connection that receives nothing
 * for idle_timeout, or whose queued bytes make no progress for
 * write_timeout, is over (-ETIMEDOUT); a keepalive message goes out after
 * keepalive_interval without sending. */
#ifndef CTL_CONN_H
#define CTL_CONN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_frame.h"
#include "ctl_hs.h"

#define CTL_NS 1000000000ULL
#define CTL_HANDSHAKE_TIMEOUT_NS (10 * CTL_NS)
#define CTL_KEEPALIVE_INTERVAL_NS (25 * CTL_NS)
#define CTL_IDLE_TIMEOUT_NS      (90 * CTL_NS)
#define CTL_WRITE_TIMEOUT_NS     (60 * CTL_NS)
#define CTL_MAX_QUEUED           (CTL_MAX_MESSAGE + (4u << 20))

enum ctl_role { CTL_INITIATOR, CTL_RESPONDER };

struct ctl_conn;

struct ctl_conn_config {
	enum ctl_role role;
	const struct ctl_identity *local;	/* copied */
	const uint8_t *server_key;		/* initiator: the pinned key (copied) */
	ctl_last_seen_fn last_seen;		/* responder: replay record, may be NULL */
	const struct ctl_det *det;		/* tests: fixed randomness and clock */
	/* 0 means the default above. */
	uint64_t handshake_timeout_ns, keepalive_interval_ns, idle_timeout_ns, write_timeout_ns;
	size_t max_message, max_queued;
	/* Return 0, or negative to end the connection. */
	int (*on_established)(void *ctx, struct ctl_conn *c);
	int (*on_message)(void *ctx, struct ctl_conn *c, const char *msg, size_t len);
	void *ctx;				/* for the callbacks and last_seen */
};

/* A connection over the connected (or connecting) non-blocking socket FD,
 * which it owns from now on (ctl_conn_free closes it); FD may be -1 for
 * tests that drive ctl_conn_feed.  NULL on allocation or key failure. */
struct ctl_conn *ctl_conn_new(int fd, const struct ctl_conn_config *cfg, uint64_t now);
void ctl_conn_free(struct ctl_conn *c);

int ctl_conn_fd(const struct ctl_conn *c);
bool ctl_conn_wants_write(const struct ctl_conn *c);
bool ctl_conn_established(const struct ctl_conn *c);
/* The close message is out (or the peer closed): free the connection. */
bool ctl_conn_finished(const struct ctl_conn *c);
/* After the handshake: the peer's static key (a node's machine key) and,
 * on the responder, the initiation's timestamp to record for last_seen. */
const uint8_t *ctl_conn_remote_key(const struct ctl_conn *c);
const uint8_t *ctl_conn_timestamp(const struct ctl_conn *c);
size_t ctl_conn_queued(const struct ctl_conn *c);

/* Read until EAGAIN and process what came: 0, or negative (-ECONNRESET
 * when the peer closed, -EPROTO, -EBADMSG, -EMSGSIZE, -ESTALE, a
 * callback's error). */
int ctl_conn_on_readable(struct ctl_conn *c, uint64_t now);
/* Write queued bytes until EAGAIN: 0 or negative. */
int ctl_conn_on_writable(struct ctl_conn *c, uint64_t now);
/* Timers: 0, or -ETIMEDOUT; may queue a keepalive. */
int ctl_conn_tick(struct ctl_conn *c, uint64_t now);
/* The next time ctl_conn_tick has something to do. */
uint64_t ctl_conn_deadline(const struct ctl_conn *c);
/* Process received bytes as if read from the socket (on_readable's core). */
int ctl_conn_feed(struct ctl_conn *c, const uint8_t *data, size_t len, uint64_t now);

/* Queue one message: 0, -ENOTCONN before the handshake or after close,
 * -EMSGSIZE, -ENOBUFS when the queue would pass max_queued. */
int ctl_conn_send(struct ctl_conn *c, const char *msg, size_t len);
/* Queue a close message with REASON, stop reading; the connection is
 * finished once it is written. */
int ctl_conn_close(struct ctl_conn *c, const char *reason);

#endif
