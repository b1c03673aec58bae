/* wgloop: one epoll loop.  UDP is read in batches with recvmmsg; API
 * connections are non-blocking and framed with uapi_frame. */
#include "wgloop.h"
#include "log.h"
#include "tungso.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCK_DIR "/var/run/wireguard"
#define BATCH 32
#define MAX_CONNS 32
#define TICK_MS 20
/* 64 KiB of payload in segments, each with up to 120 bytes of headers */
#define SEGBUF_LEN (WGDEV_PKT_MAX + TUNGSO_MAX_SEGS * 128)

enum { TAG_TUN = 1, TAG_UDP4, TAG_UDP6, TAG_UAPI, TAG_SIG, TAG_TIMER, TAG_CONN };

/* API connections: requests are answered into a per-connection output
 * queue sent as the socket takes it; nothing waits on a client. */
#define CONN_READ_MAX (256u << 10)	/* bytes read a wakeup */
#define CONN_REQS_MAX 16		/* requests answered a wakeup */
#define CONN_OUT_LOW (64u << 10)	/* read and answer only below this much queued output */
#define CONN_OUT_MAX (256u << 20)	/* a connection with more queued output is closed */

struct conn {
	int fd;
	uint32_t events;	/* what epoll waits for */
	bool eof;		/* input ended (or a bad request): close once sent */
	uint64_t last_active;	/* for evicting the idlest when all slots are taken */
	char *buf, *out;
	size_t len, cap, resume;
	size_t out_off, out_len, out_cap;
};

struct loop {
	struct wgdev *dev;
	int ep, uapi_fd, sigfd, timerfd;
	int reg_udp4, reg_udp6;
	struct conn conns[MAX_CONNS];
	uint8_t (*bufs)[WGDEV_PKT_MAX];
	uint8_t *segbuf;	/* TCP segments of one TUN super-packet */
};

int wgloop_uapi_listen(const char *ifname, char *path, size_t pathlen, char *err, size_t errlen)
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

static int ep_add(struct loop *l, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
	return epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

/* The device may have rebound its sockets (listen_port); follow. */
static void sync_udp(struct loop *l)
{
	if (l->reg_udp4 != l->dev->udp4) {
		if (l->dev->udp4 >= 0)
			ep_add(l, l->dev->udp4, TAG_UDP4);
		l->reg_udp4 = l->dev->udp4;
	}
	if (l->reg_udp6 != l->dev->udp6) {
		if (l->dev->udp6 >= 0)
			ep_add(l, l->dev->udp6, TAG_UDP6);
		l->reg_udp6 = l->dev->udp6;
	}
}

static void read_udp(struct loop *l, int fd)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	union uapi_sockaddr src[BATCH];
	char ctrl[BATCH][CMSG_SPACE(sizeof(int))];
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = l->bufs[i];
			iov[i].iov_len = WGDEV_PKT_MAX;
			memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &src[i];
			msgs[i].msg_hdr.msg_namelen = sizeof src[i];
			msgs[i].msg_hdr.msg_control = ctrl[i];
			msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		uint64_t now = wgdev_now(l->dev);
		for (int i = 0; i < n; i++) {
			size_t len = msgs[i].msg_len, seg = len;
			struct msghdr *mh = &msgs[i].msg_hdr;
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm))
				if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
					int gso;
					memcpy(&gso, CMSG_DATA(cm), sizeof gso);
					if (gso > 0)
						seg = (size_t)gso;
				}
			for (size_t off = 0; off < len; off += seg)
				wgdev_udp_input(l->dev, l->bufs[i] + off, len - off < seg ? len - off : seg, &src[i], now);
		}
		wgdev_flush(l->dev);
		if (n < BATCH)
			return;
	}
}

static int read_tun(struct loop *l)
{
	for (int i = 0; i < 4 * BATCH; i++) {
		ssize_t n = read(l->dev->tun_fd, l->bufs[0], WGDEV_PKT_MAX);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			if (errno == EBADFD) {
				/* `ip link delete` (wg-quick down): a normal end */
				log_info("%s: interface removed: shutting down", l->dev->ifname);
				return 1;
			}
			log_err("%s: tun read: %m", l->dev->ifname);
			return -errno;
		}
		uint64_t now = wgdev_now(l->dev);
		if (!l->dev->tun_vnet_hdr) {
			wgdev_tun_input(l->dev, l->bufs[0], (size_t)n, now);
			continue;
		}
		struct tungso_segs segs = { .from = 0 };
		do {
			if (tungso_split(l->bufs[0], (size_t)n, l->segbuf, SEGBUF_LEN, &segs) != 0) {
				log_debug("%s: dropped a malformed TUN frame of %zd bytes", l->dev->ifname, n);
				break;
			}
			for (size_t k = 0; k < segs.n; k++)
				wgdev_tun_input(l->dev, segs.data[k], segs.len[k], now);
			wgdev_flush(l->dev);	/* segbuf is reused by the next batch */
		} while (segs.from);
	}
	return 0;
}

static void conn_close(struct loop *l, struct conn *c)
{
	epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->buf)
		sodium_memzero(c->buf, c->cap);
	free(c->buf);
	if (c->out)
		sodium_memzero(c->out, c->out_cap);
	free(c->out);
	memset(c, 0, sizeof *c);
	c->fd = -1;
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
static int conn_flush(struct loop *l, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -errno;
		}
		c->out_off += (size_t)n;
		c->last_active = wgdev_now(l->dev);
	}
	sodium_memzero(c->out, c->out_len);
	c->out_off = c->out_len = 0;
	return 0;
}

/* Read what is there, at most CONN_READ_MAX bytes a wakeup.  0, or -errno;
 * end of input sets c->eof. */
static int conn_fill(struct loop *l, struct conn *c)
{
	size_t got = 0;
	while (got < CONN_READ_MAX && !c->eof) {
		if (c->cap - c->len < 65536) {
			int rc = buf_grow(&c->buf, &c->cap, c->len, c->cap ? c->cap * 2 : 65536);
			if (rc)
				return rc;
		}
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (n == 0)
			c->eof = true;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->len += (size_t)n;
		got += (size_t)n;
		c->last_active = wgdev_now(l->dev);
	}
	return 0;
}

/* Answer complete requests in the input, at most CONN_REQS_MAX and only
 * while little output waits.  0, or -errno to close the connection. */
static int conn_answer(struct loop *l, struct conn *c)
{
	for (int k = 0; k < CONN_REQS_MAX && c->len && c->out_len - c->out_off < CONN_OUT_LOW; k++) {
		enum uapi_op op;
		size_t reqlen;
		struct uapi_buf reply = { 0 };
		int rc = uapi_frame(c->buf, c->len, &c->resume, &op, &reqlen);
		if (rc == 0)
			break;
		if (rc < 0) {
			log_warn("%s: malformed API request: %s", l->dev->ifname, strerror(-rc));
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
		/* set bodies: after "set=1\n", without the blank line */
		if (op == UAPI_OP_SET)
			wgdev_uapi(l->dev, op, c->buf + 6, reqlen - 7, &reply);
		else
			wgdev_uapi(l->dev, op, NULL, 0, &reply);
		sync_udp(l);
		rc = reply.failed ? -ENOMEM : conn_queue(c, reply.data, reply.len);
		if (rc)
			log_warn("%s: API reply of %zu bytes not queued: %s; closing the connection", l->dev->ifname,
				 reply.len, strerror(-rc));
		uapi_buf_free(&reply);
		sodium_memzero(c->buf, reqlen);
		memmove(c->buf, c->buf + reqlen, c->len - reqlen);
		c->len -= reqlen;
		c->resume = 0;
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
static int conn_rearm(struct loop *l, struct conn *c, int slot)
{
	bool out = c->out_off < c->out_len || conn_has_request(c);
	bool in = !c->eof && c->out_len - c->out_off < CONN_OUT_LOW;
	if (!out && !in)
		return -ECONNRESET; /* finished: input ended and everything sent */
	uint32_t events = (out ? EPOLLOUT : 0) | (in ? EPOLLIN : 0);
	if (events == c->events)
		return 0;
	struct epoll_event ev = { .events = events, .data.u64 = TAG_CONN + (uint32_t)slot };
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		return -errno;
	c->events = events;
	return 0;
}

/* One wakeup of an API connection: send, read, answer, send, re-arm.
 * Nothing here waits, so a slow or hostile client stalls only itself. */
static void serve_conn(struct loop *l, int slot)
{
	struct conn *c = &l->conns[slot];
	int rc = conn_flush(l, c);
	if (!rc && c->out_len - c->out_off < CONN_OUT_LOW && !conn_has_request(c))
		rc = conn_fill(l, c);
	if (!rc)
		rc = conn_answer(l, c);
	if (!rc)
		rc = conn_flush(l, c);
	if (!rc)
		rc = conn_rearm(l, c, slot);
	if (rc)
		conn_close(l, c);
}

static void accept_conn(struct loop *l)
{
	int fd = accept4(l->uapi_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	int slot = -1, idlest = 0;
	for (int i = 0; i < MAX_CONNS && slot < 0; i++) {
		if (l->conns[i].fd < 0)
			slot = i;
		else if (l->conns[i].last_active < l->conns[idlest].last_active)
			idlest = i;
	}
	if (slot < 0) {
		/* A client that connects and says nothing must not lock out wg(8). */
		log_warn("%s: %d API connections open; closing the idlest", l->dev->ifname, MAX_CONNS);
		conn_close(l, &l->conns[idlest]);
		slot = idlest;
	}
	l->conns[slot].fd = fd;
	l->conns[slot].events = EPOLLIN;
	l->conns[slot].last_active = wgdev_now(l->dev);
	if (ep_add(l, fd, TAG_CONN + (uint32_t)slot) != 0) {
		l->conns[slot].fd = -1;
		close(fd);
	}
}

/* Buffers, the epoll set and the tick timer: 0 or -errno. */
static int loop_setup(struct loop *l)
{
	int rc;
	for (int i = 0; i < MAX_CONNS; i++)
		l->conns[i].fd = -1;
	l->bufs = malloc(sizeof(*l->bufs) * BATCH);
	l->segbuf = malloc(SEGBUF_LEN);
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!l->bufs || !l->segbuf || l->ep < 0 || l->timerfd < 0) {
		log_err("%s: cannot set up the event loop: %m", l->dev->ifname);
		return -ENOMEM;
	}
	struct itimerspec its = { .it_interval = { 0, TICK_MS * 1000000L }, .it_value = { 0, TICK_MS * 1000000L } };
	if (timerfd_settime(l->timerfd, 0, &its, NULL) != 0 || (rc = ep_add(l, l->dev->tun_fd, TAG_TUN)) ||
	    (rc = ep_add(l, l->uapi_fd, TAG_UAPI)) || (rc = ep_add(l, l->sigfd, TAG_SIG)) ||
	    (rc = ep_add(l, l->timerfd, TAG_TIMER))) {
		rc = -errno;
		log_err("%s: epoll: %s", l->dev->ifname, strerror(-rc));
		return rc;
	}
	sync_udp(l);
	return 0;
}

static void loop_teardown(struct loop *l)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (l->conns[i].fd >= 0)
			conn_close(l, &l->conns[i]);
	if (l->timerfd >= 0)
		close(l->timerfd);
	if (l->ep >= 0)
		close(l->ep);
	free(l->bufs);
	free(l->segbuf);
}

/* One ready fd: 0 to go on, 1 for a clean stop, -errno for a fatal error. */
static int dispatch(struct loop *l, uint32_t tag)
{
	struct wgdev *dev = l->dev;
	switch (tag) {
	case TAG_TUN:
		return read_tun(l);
	case TAG_UDP4:
		read_udp(l, dev->udp4);
		return 0;
	case TAG_UDP6:
		read_udp(l, dev->udp6);
		return 0;
	case TAG_UAPI:
		accept_conn(l);
		return 0;
	case TAG_SIG: {
		struct signalfd_siginfo si;
		if (read(l->sigfd, &si, sizeof si) != sizeof si)
			return 0;
		log_info("%s: signal %u: shutting down", dev->ifname, si.ssi_signo);
		return 1;
	}
	case TAG_TIMER: {
		uint64_t ticks;
		if (read(l->timerfd, &ticks, sizeof ticks) > 0)
			wgdev_tick(dev, wgdev_now(dev));
		return 0;
	}
	default:
		if (tag >= TAG_CONN && tag < TAG_CONN + MAX_CONNS && l->conns[tag - TAG_CONN].fd >= 0)
			serve_conn(l, (int)(tag - TAG_CONN));
		return 0;
	}
}

int wgloop_run(struct wgdev *dev, int uapi_fd, int sigfd)
{
	struct loop l = { .dev = dev, .uapi_fd = uapi_fd, .sigfd = sigfd, .ep = -1, .timerfd = -1,
			  .reg_udp4 = -1, .reg_udp6 = -1 };
	int rc = loop_setup(&l);
	while (rc == 0) {
		struct epoll_event evs[16];
		int n = epoll_wait(l.ep, evs, 16, -1);
		if (n < 0) {
			if (errno != EINTR)
				rc = -errno;
			continue;
		}
		for (int i = 0; i < n && rc == 0; i++) {
			rc = dispatch(&l, (uint32_t)evs[i].data.u64);
			wgdev_flush(dev);
		}
	}
	loop_teardown(&l);
	return rc > 0 ? 0 : rc;
}
