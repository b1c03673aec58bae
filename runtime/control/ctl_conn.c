/* ctl_conn: a non-blocking control connection for any event loop. */
#include "ctl_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl_msg.h"
#include "secmem.h"

enum ctl_conn_state { CTL_HANDSHAKE, CTL_ESTABLISHED, CTL_CLOSING, CTL_FINISHED };

struct ctl_conn {
	int fd;
	enum ctl_role role;
	enum ctl_conn_state state;
	struct ctl_identity local;
	struct ctl_hs hs;		/* initiator, until the response */
	struct ctl_session s;
	uint8_t timestamp[TAI64N_LEN];	/* responder: the accepted initiation's */
	ctl_last_seen_fn last_seen;
	struct ctl_det det;
	bool has_det;
	int (*on_established)(void *ctx, struct ctl_conn *c);
	int (*on_message)(void *ctx, struct ctl_conn *c, const char *msg, size_t len);
	void *ctx;
	uint64_t handshake_timeout, keepalive_interval, idle_timeout, write_timeout;
	size_t max_queued;

	/* Receiving: the frame being read, then the message being assembled. */
	uint8_t hdr[CTL_FRAME_HDR_LEN];
	size_t hdr_have;
	uint8_t *body;
	size_t body_len, body_have;
	struct ctl_assembler as;

	/* Sending: bytes [woff, wlen) of wbuf are queued. */
	uint8_t *wbuf;
	size_t wcap, woff, wlen;

	uint64_t now, created, last_rx, last_tx, last_progress;
};

static uint64_t or_default(uint64_t v, uint64_t def)
{
	return v ? v : def;
}

/* Room for N more bytes at wbuf + wlen, within max_queued (unless FORCE:
 * the handshake's frames and the close message always fit). */
static int ctl_conn_reserve(struct ctl_conn *c, size_t n, bool force)
{
	size_t queued = c->wlen - c->woff;

	if (!force && queued + n > c->max_queued)
		return -ENOBUFS;
	if (queued == 0) {
		c->woff = c->wlen = 0;
		c->last_progress = c->now;
	}
	if (c->wlen + n <= c->wcap)
		return 0;
	if (c->woff) {
		memmove(c->wbuf, c->wbuf + c->woff, queued);
		c->wlen = queued;
		c->woff = 0;
	}
	if (c->wlen + n > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 4096;
		uint8_t *p;

		while (cap < c->wlen + n)
			cap *= 2;
		p = realloc(c->wbuf, cap);
		if (!p)
			return -ENOMEM;
		c->wbuf = p;
		c->wcap = cap;
	}
	return 0;
}

static int ctl_conn_queue_initiation(struct ctl_conn *c, const uint8_t server_key[CTL_KEY_LEN])
{
	uint8_t *p;
	int rc;

	rc = ctl_conn_reserve(c, CTL_FRAME_HDR_LEN + CTL_INIT_BODY_LEN, true);
	if (rc < 0)
		return rc;
	p = c->wbuf + c->wlen;
	ctl_frame_header(p, CTL_FRAME_INITIATION, CTL_INIT_BODY_LEN);
	p[3] = CTL_PROTOCOL_VERSION >> 8;
	p[4] = CTL_PROTOCOL_VERSION & 0xff;
	rc = ctl_hs_initiate(&c->hs, &c->local, server_key, c->has_det ? &c->det : NULL, p + 5);
	if (rc < 0)
		return rc;
	c->wlen += CTL_FRAME_HDR_LEN + CTL_INIT_BODY_LEN;
	return 0;
}

struct ctl_conn *ctl_conn_new(int fd, const struct ctl_conn_config *cfg, uint64_t now)
{
	struct ctl_conn *c = secmem_alloc(sizeof(*c));	/* session keys */

	if (!c)
		return NULL;
	c->fd = fd;
	c->role = cfg->role;
	c->state = CTL_HANDSHAKE;
	c->local = *cfg->local;
	c->last_seen = cfg->last_seen;
	if (cfg->det) {
		c->det = *cfg->det;
		c->has_det = true;
	}
	c->on_established = cfg->on_established;
	c->on_message = cfg->on_message;
	c->ctx = cfg->ctx;
	c->handshake_timeout = or_default(cfg->handshake_timeout_ns, CTL_HANDSHAKE_TIMEOUT_NS);
	c->keepalive_interval = or_default(cfg->keepalive_interval_ns, CTL_KEEPALIVE_INTERVAL_NS);
	c->idle_timeout = or_default(cfg->idle_timeout_ns, CTL_IDLE_TIMEOUT_NS);
	c->write_timeout = or_default(cfg->write_timeout_ns, CTL_WRITE_TIMEOUT_NS);
	c->max_queued = or_default(cfg->max_queued, CTL_MAX_QUEUED);
	ctl_assembler_init(&c->as, or_default(cfg->max_message, CTL_MAX_MESSAGE));
	c->now = c->created = c->last_rx = c->last_tx = c->last_progress = now;
	if (cfg->role == CTL_INITIATOR && (!cfg->server_key || ctl_conn_queue_initiation(c, cfg->server_key) < 0)) {
		c->fd = -1;	/* the caller still owns FD on failure */
		ctl_conn_free(c);
		return NULL;
	}
	return c;
}

void ctl_conn_free(struct ctl_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	ctl_assembler_free(&c->as);
	free(c->body);
	free(c->wbuf);	/* ciphertext only */
	secmem_free(c, sizeof(*c));
}

int ctl_conn_fd(const struct ctl_conn *c)
{
	return c->fd;
}

bool ctl_conn_wants_write(const struct ctl_conn *c)
{
	return c->wlen > c->woff && c->state != CTL_FINISHED;
}

bool ctl_conn_established(const struct ctl_conn *c)
{
	return c->state == CTL_ESTABLISHED;
}

bool ctl_conn_finished(const struct ctl_conn *c)
{
	return c->state == CTL_FINISHED;
}

const uint8_t *ctl_conn_remote_key(const struct ctl_conn *c)
{
	return c->s.valid ? c->s.remote_static : NULL;
}

const uint8_t *ctl_conn_timestamp(const struct ctl_conn *c)
{
	return c->role == CTL_RESPONDER && c->s.valid ? c->timestamp : NULL;
}

size_t ctl_conn_queued(const struct ctl_conn *c)
{
	return c->wlen - c->woff;
}

static int ctl_conn_establish(struct ctl_conn *c)
{
	c->state = CTL_ESTABLISHED;
	return c->on_established ? c->on_established(c->ctx, c) : 0;
}

static int ctl_conn_respond(struct ctl_conn *c, const uint8_t *body)
{
	unsigned version = (unsigned)body[0] << 8 | body[1];
	uint8_t *p;
	int rc;

	if (version != CTL_PROTOCOL_VERSION)
		return -EPROTONOSUPPORT;
	rc = ctl_conn_reserve(c, CTL_FRAME_HDR_LEN + CTL_HS_RESP_LEN, true);
	if (rc < 0)
		return rc;
	p = c->wbuf + c->wlen;
	ctl_frame_header(p, CTL_FRAME_RESPONSE, CTL_HS_RESP_LEN);
	rc = ctl_hs_respond(&c->local, body + 2, CTL_HS_INIT_LEN, c->last_seen, c->ctx,
			    c->has_det ? &c->det : NULL, p + CTL_FRAME_HDR_LEN, &c->s, c->timestamp);
	if (rc < 0)
		return rc;
	c->wlen += CTL_FRAME_HDR_LEN + CTL_HS_RESP_LEN;
	return ctl_conn_establish(c);
}

static int ctl_conn_transport(struct ctl_conn *c, const uint8_t *body, size_t len)
{
	uint8_t piece[NSYM_MAX_PLAINTEXT];
	size_t plen = len - NSYM_TAG_LEN;
	char *msg;
	size_t mlen;
	int rc;

	rc = ctl_session_open(&c->s, body, len, piece);
	if (rc < 0)
		goto wipe;
	rc = ctl_assembler_feed(&c->as, piece, plen);
	if (rc <= 0)
		goto wipe;
	msg = ctl_assembler_take(&c->as, &mlen);
	rc = c->on_message ? c->on_message(c->ctx, c, msg, mlen) : 0;
	sodium_memzero(msg, mlen);
	free(msg);
wipe:
	sodium_memzero(piece, plen);
	return rc;
}

static int ctl_conn_frame(struct ctl_conn *c, uint8_t type, const uint8_t *body, size_t len)
{
	c->last_rx = c->now;
	switch (c->state) {
	case CTL_HANDSHAKE:
		if (c->role == CTL_RESPONDER && type == CTL_FRAME_INITIATION)
			return ctl_conn_respond(c, body);
		if (c->role == CTL_INITIATOR && type == CTL_FRAME_RESPONSE) {
			int rc = ctl_hs_finish(&c->hs, body, len, &c->s);
			return rc < 0 ? rc : ctl_conn_establish(c);
		}
		return -EPROTO;
	case CTL_ESTABLISHED:
		return type == CTL_FRAME_TRANSPORT ? ctl_conn_transport(c, body, len) : -EPROTO;
	default:
		return 0;	/* closing: the rest is ignored */
	}
}

int ctl_conn_feed(struct ctl_conn *c, const uint8_t *data, size_t len, uint64_t now)
{
	int rc = 0;

	c->now = now;
	while (len > 0 && rc >= 0) {
		size_t n;

		if (c->hdr_have < CTL_FRAME_HDR_LEN) {
			n = CTL_FRAME_HDR_LEN - c->hdr_have;
			n = n < len ? n : len;
			memcpy(c->hdr + c->hdr_have, data, n);
			c->hdr_have += n;
			data += n;
			len -= n;
			if (c->hdr_have < CTL_FRAME_HDR_LEN)
				break;
			rc = ctl_frame_check(c->hdr, &c->body_len);
			if (rc < 0)
				break;
			c->body_have = 0;
			if (len >= c->body_len) {
				/* The whole body is here: no copy. */
				rc = ctl_conn_frame(c, c->hdr[0], data, c->body_len);
				data += c->body_len;
				len -= c->body_len;
				c->hdr_have = 0;
				continue;
			}
			c->body = malloc(c->body_len);
			if (!c->body)
				return -ENOMEM;
		}
		n = c->body_len - c->body_have;
		n = n < len ? n : len;
		memcpy(c->body + c->body_have, data, n);
		c->body_have += n;
		data += n;
		len -= n;
		if (c->body_have < c->body_len)
			break;
		rc = ctl_conn_frame(c, c->hdr[0], c->body, c->body_len);
		free(c->body);
		c->body = NULL;
		c->hdr_have = 0;
	}
	return rc;
}

int ctl_conn_on_readable(struct ctl_conn *c, uint64_t now)
{
	uint8_t buf[16384];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		if (n == 0)
			return c->state == CTL_CLOSING ? 0 : -ECONNRESET;
		rc = ctl_conn_feed(c, buf, (size_t)n, now);
		if (rc < 0)
			return rc;
	}
}

static void ctl_conn_drained(struct ctl_conn *c)
{
	c->woff = c->wlen = 0;
	if (c->wcap > 65536) {
		/* An idle connection keeps no large buffer. */
		free(c->wbuf);
		c->wbuf = NULL;
		c->wcap = 0;
	}
	if (c->state == CTL_CLOSING) {
		c->state = CTL_FINISHED;
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_WR);
	}
}

int ctl_conn_on_writable(struct ctl_conn *c, uint64_t now)
{
	c->now = now;
	while (c->woff < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		c->woff += (size_t)n;
		c->last_tx = c->last_progress = now;
	}
	ctl_conn_drained(c);
	return 0;
}

int ctl_conn_send(struct ctl_conn *c, const char *msg, size_t len)
{
	size_t wire = ctl_message_wire_len(len);
	int rc;

	if (c->state != CTL_ESTABLISHED)
		return -ENOTCONN;
	if (len == 0 || len > c->as.cap || len > CTL_MAX_MESSAGE)
		return -EMSGSIZE;
	rc = ctl_conn_reserve(c, wire, false);
	if (rc < 0)
		return rc;
	rc = ctl_message_seal(&c->s, (const uint8_t *)msg, len, c->wbuf + c->wlen);
	if (rc < 0)
		return rc;
	c->wlen += wire;
	return 0;
}

int ctl_conn_close(struct ctl_conn *c, const char *reason)
{
	char *msg;
	size_t len;
	int rc = 0;

	if (c->state != CTL_ESTABLISHED) {
		c->state = CTL_FINISHED;
		return 0;
	}
	msg = ctl_msg_close_text(reason, &len);
	if (!msg)
		return -ENOMEM;
	rc = ctl_conn_reserve(c, ctl_message_wire_len(len), true);
	if (rc == 0) {
		ctl_message_seal(&c->s, (const uint8_t *)msg, len, c->wbuf + c->wlen);
		c->wlen += ctl_message_wire_len(len);
		c->state = CTL_CLOSING;
	}
	free(msg);
	return rc;
}

uint64_t ctl_conn_deadline(const struct ctl_conn *c)
{
	uint64_t d;

	if (c->state == CTL_HANDSHAKE)
		return c->created + c->handshake_timeout;
	d = c->last_rx + c->idle_timeout;
	if (c->wlen > c->woff) {
		if (c->last_progress + c->write_timeout < d)
			d = c->last_progress + c->write_timeout;
	} else if (c->state == CTL_ESTABLISHED && c->last_tx + c->keepalive_interval < d) {
		d = c->last_tx + c->keepalive_interval;
	}
	return d;
}

int ctl_conn_tick(struct ctl_conn *c, uint64_t now)
{
	c->now = now;
	if (c->state == CTL_HANDSHAKE)
		return now - c->created >= c->handshake_timeout ? -ETIMEDOUT : 0;
	if (now - c->last_rx >= c->idle_timeout)
		return -ETIMEDOUT;
	if (c->wlen > c->woff)
		return now - c->last_progress >= c->write_timeout ? -ETIMEDOUT : 0;
	if (c->state == CTL_ESTABLISHED && now - c->last_tx >= c->keepalive_interval) {
		c->last_tx = now;
		return ctl_conn_send(c, CTL_MSG_KEEPALIVE, strlen(CTL_MSG_KEEPALIVE));
	}
	return 0;
}
