/* uapisrv: the API socket and its connections.  Requests are answered into
 * a per-connection output queue sent as the socket takes it; nothing waits
 * on a client.  A get is answered GET_SLICE peers a wakeup, so a device with
 * tens of thousands of peers does not stall the data path while it is
 * formatted. */
#include "uapisrv.h"
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCK_DIR "/var/run/wireguard"
#define MAX_CONNS 32

#define CONN_READ_MAX (256u << 10)	/* bytes read a wakeup */
#define CONN_REQS_MAX 16		/* requests answered a wakeup */
#define CONN_OUT_LOW (64u << 10)	/* read and answer only below this much queued output */
#define CONN_OUT_MAX (256u << 20)	/* a connection with more queued output is closed */
#define GET_SLICE 256			/* peers formatted a wakeup (about 64 KiB) */

struct conn {
	struct ev_watch w;	/* w.fd < 0: a free slot */
	struct uapisrv *srv;
	bool eof;		/* input ended (or a bad request): close once sent */
	bool getting;		/* a get is being answered, slice by slice */
	struct wgdev_get get;
	uint64_t last_active;	/* for evicting the idlest when all slots are taken */
	char *buf, *out;
	size_t len, cap, resume;
	size_t out_off, out_len, out_cap;
};

struct uapisrv {
	struct ev_loop *loop;
	struct wgdev *dev;
	struct ev_watch listen;
	struct conn conns[MAX_CONNS];
};

int uapisrv_listen(const char *ifname, char *path, size_t pathlen, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = -1, rc;
	if (mkdir(SOCK_DIR, 0755) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", SOCK_DIR, strerror(errno));
		goto fail;
	}
	snprintf(path, pathlen, "%s/%s.sock", SOCK_DIR, ifname);
	if (strlen(path) >= sizeof sun.sun_path) {
		rc = -ENAMETOOLONG;
		snprintf(err, errlen, "%s: path too long", path);
		goto fail;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* A socket someone answers on belongs to a running daemon: refuse. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail_socket;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		rc = -EADDRINUSE;
		snprintf(err, errlen, "%s: another daemon is listening there", path);
		goto fail;
	}
	close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail_socket;
	mode_t old = umask(0077);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(fd, 16) == 0 ? 0 : -errno;
	umask(old);
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto fail;
	}
	return fd;
fail_socket:
	rc = -errno;
	snprintf(err, errlen, "socket: %s", strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	return rc;
}

static void conn_close(struct conn *c)
{
	struct uapisrv *srv = c->srv;
	if (c->getting)
		wgdev_get_end(srv->dev, &c->get);
	ev_watch_del(srv->loop, &c->w);
	close(c->w.fd);
	if (c->buf)
		sodium_memzero(c->buf, c->cap);
	free(c->buf);
	if (c->out)
		sodium_memzero(c->out, c->out_cap);
	free(c->out);
	memset(c, 0, sizeof *c);
	c->srv = srv;
	c->w.fd = -1;
}

/* A copy of the first LEN bytes of *BUF in a new buffer of NCAP bytes; the
 * old one is wiped (requests and replies hold keys).  0 or -ENOMEM. */
static int buf_grow(char **buf, size_t *cap, size_t len, size_t ncap)
{
	char *nb = malloc(ncap);
	if (!nb)
		return -ENOMEM;
	if (*buf) {
		memcpy(nb, *buf, len);
		sodium_memzero(*buf, *cap);
		free(*buf);
	}
	*buf = nb;
	*cap = ncap;
	return 0;
}

/* Append a reply to the connection's output queue: 0, or -EMSGSIZE over
 * CONN_OUT_MAX, -ENOMEM. */
static int conn_queue(struct conn *c, const char *data, size_t len)
{
	if (c->out_len - c->out_off + len > CONN_OUT_MAX)
		return -EMSGSIZE;
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		sodium_memzero(c->out + c->out_len, c->out_off);
		c->out_off = 0;
	}
	if (c->out_cap - c->out_len < len) {
		size_t ncap = c->out_cap ? c->out_cap : 65536;
		while (ncap - c->out_len < len)
			ncap *= 2;
		int rc = buf_grow(&c->out, &c->out_cap, c->out_len, ncap);
		if (rc)
			return rc;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

/* Send what the socket takes now, never waiting.  0 or -errno. */
static int conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->w.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -errno;
		}
		c->out_off += (size_t)n;
		c->last_active = wgdev_now(c->srv->dev);
	}
	sodium_memzero(c->out, c->out_len);
	c->out_off = c->out_len = 0;
	return 0;
}

/* Read what is there, at most CONN_READ_MAX bytes a wakeup.  0, or -errno;
 * end of input sets c->eof. */
static int conn_fill(struct conn *c)
{
	size_t got = 0;
	while (got < CONN_READ_MAX && !c->eof) {
		if (c->cap - c->len < 65536) {
			int rc = buf_grow(&c->buf, &c->cap, c->len, c->cap ? c->cap * 2 : 65536);
			if (rc)
				return rc;
		}
		ssize_t n = recv(c->w.fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (n == 0)
			c->eof = true;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->len += (size_t)n;
		got += (size_t)n;
		c->last_active = wgdev_now(c->srv->dev);
	}
	return 0;
}

/* Queue REPLY (then freed): 0, or -errno to close the connection. */
static int conn_queue_reply(struct conn *c, struct uapi_buf *reply)
{
	int rc = reply->failed ? -ENOMEM : conn_queue(c, reply->data, reply->len);
	if (rc)
		log_warn("%s: API reply of %zu bytes not queued: %s; closing the connection", c->srv->dev->ifname,
			 reply->len, strerror(-rc));
	uapi_buf_free(reply);
	return rc;
}

/* The next slice of the get in progress.  0 or -errno. */
static int conn_get_slice(struct conn *c)
{
	struct uapi_buf reply = { 0 };
	c->getting = !wgdev_get_more(c->srv->dev, &c->get, &reply, GET_SLICE);
	return conn_queue_reply(c, &reply);
}

/* One complete request (REQLEN bytes) from the input: a set is answered at
 * once, a get begins.  0 or -errno. */
static int conn_request(struct conn *c, enum uapi_op op, size_t reqlen)
{
	struct uapi_buf reply = { 0 };
	if (op == UAPI_OP_SET) {
		/* set bodies: after "set=1\n", without the blank line */
		wgdev_uapi(c->srv->dev, op, c->buf + 6, reqlen - 7, &reply);
	} else {
		wgdev_get_begin(c->srv->dev, &c->get, &reply);
		c->getting = true;
	}
	int rc = conn_queue_reply(c, &reply);
	sodium_memzero(c->buf, reqlen);
	memmove(c->buf, c->buf + reqlen, c->len - reqlen);
	c->len -= reqlen;
	c->resume = 0;
	return rc;
}

/* Answer complete requests in the input, at most CONN_REQS_MAX and only
 * while little output waits; a get in progress gets one slice a wakeup and
 * holds back the requests after it.  0, or -errno to close the connection. */
static int conn_answer(struct conn *c)
{
	if (c->getting)
		return c->out_len - c->out_off < CONN_OUT_LOW ? conn_get_slice(c) : 0;
	for (int k = 0; k < CONN_REQS_MAX && c->len && !c->getting && c->out_len - c->out_off < CONN_OUT_LOW; k++) {
		enum uapi_op op;
		size_t reqlen;
		int rc = uapi_frame(c->buf, c->len, &c->resume, &op, &reqlen);
		if (rc == 0)
			break;
		if (rc < 0) {
			struct uapi_buf reply = { 0 };
			log_warn("%s: malformed API request: %s", c->srv->dev->ifname, strerror(-rc));
			uapi_format_errno(&reply, rc == -EMSGSIZE ? EMSGSIZE : EINVAL);
			if (!reply.failed)
				conn_queue(c, reply.data, reply.len);
			uapi_buf_free(&reply);
			/* answer, then close: nothing after a bad request is read */
			sodium_memzero(c->buf, c->len);
			c->len = 0;
			c->eof = true;
			return 0;
		}
		rc = conn_request(c, op, reqlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* Whether a complete request waits in the input (so the connection must be
 * served again without new input). */
static bool conn_has_request(struct conn *c)
{
	enum uapi_op op;
	size_t reqlen, resume = c->resume;
	return c->len && uapi_frame(c->buf, c->len, &resume, &op, &reqlen) != 0;
}

/* Wait for what the connection needs next: output space while replies are
 * queued or requests wait, input while little output is queued. */
static int conn_rearm(struct conn *c)
{
	bool out = c->out_off < c->out_len || c->getting || conn_has_request(c);
	bool in = !c->eof && c->out_len - c->out_off < CONN_OUT_LOW;
	if (!out && !in)
		return -ECONNRESET; /* finished: input ended and everything sent */
	uint32_t events = (out ? EPOLLOUT : 0) | (in ? EPOLLIN : 0);
	if (events == c->w.events)
		return 0;
	return ev_watch_mod(c->srv->loop, &c->w, events);
}

/* One wakeup of an API connection: send, read, answer, send, re-arm.
 * Nothing here waits, so a slow or hostile client stalls only itself. */
static int serve_conn(void *arg, uint32_t events)
{
	struct conn *c = arg;
	(void)events;
	int rc = conn_flush(c);
	if (!rc && c->out_len - c->out_off < CONN_OUT_LOW && !c->getting && !conn_has_request(c))
		rc = conn_fill(c);
	if (!rc)
		rc = conn_answer(c);
	if (!rc)
		rc = conn_flush(c);
	if (!rc)
		rc = conn_rearm(c);
	if (rc)
		conn_close(c);
	return 0;
}

/* A free slot, or the idlest connection's, closed: a client that connects
 * and says nothing must not lock out wg(8). */
static struct conn *conn_slot(struct uapisrv *srv)
{
	struct conn *idlest = &srv->conns[0];
	for (int i = 0; i < MAX_CONNS; i++) {
		if (srv->conns[i].w.fd < 0)
			return &srv->conns[i];
		if (srv->conns[i].last_active < idlest->last_active)
			idlest = &srv->conns[i];
	}
	log_warn("%s: %d API connections open; closing the idlest", srv->dev->ifname, MAX_CONNS);
	conn_close(idlest);
	return idlest;
}

static int accept_conn(void *arg, uint32_t events)
{
	struct uapisrv *srv = arg;
	(void)events;
	int fd = accept4(srv->listen.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return 0;
	struct conn *c = conn_slot(srv);
	c->w = (struct ev_watch){ .fd = fd, .events = EPOLLIN, .fn = serve_conn, .arg = c };
	c->last_active = wgdev_now(srv->dev);
	if (ev_watch_add(srv->loop, &c->w) != 0) {
		c->w.fd = -1;
		close(fd);
	}
	return 0;
}

struct uapisrv *uapisrv_new(struct ev_loop *loop, int listen_fd, struct wgdev *dev)
{
	struct uapisrv *srv = calloc(1, sizeof *srv);
	if (!srv)
		return NULL;
	srv->loop = loop;
	srv->dev = dev;
	for (int i = 0; i < MAX_CONNS; i++) {
		srv->conns[i].srv = srv;
		srv->conns[i].w.fd = -1;
	}
	srv->listen = (struct ev_watch){ .fd = listen_fd, .events = EPOLLIN, .fn = accept_conn, .arg = srv };
	int rc = ev_watch_add(loop, &srv->listen);
	if (rc)
		goto free_srv;
	return srv;
free_srv:
	free(srv);
	errno = -rc;
	return NULL;
}

void uapisrv_free(struct uapisrv *srv)
{
	if (!srv)
		return;
	for (int i = 0; i < MAX_CONNS; i++)
		if (srv->conns[i].w.fd >= 0)
			conn_close(&srv->conns[i]);
	ev_watch_del(srv->loop, &srv->listen);
	free(srv);
}
