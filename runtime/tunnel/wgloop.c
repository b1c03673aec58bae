/* wgloop: the data path's part of the event loop.  UDP is read in batches
 * with recvmmsg (split by the GRO segment size), the TUN device in batches
 * (super-packets split into TCP segments); every callback flushes what the
 * device batched before it returns. */
#include "wgloop.h"
#include "log.h"
#include "tungso.h"

#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define TICK_NS (20 * 1000000ull)
/* 64 KiB of payload in segments, each with up to 120 bytes of headers */
#define SEGBUF_LEN (WGDEV_PKT_MAX + TUNGSO_MAX_SEGS * 128)

struct wgloop {
	struct ev_loop *loop;
	struct wgdev *dev;
	struct ev_watch tun, udp4, udp6;	/* fd -1: not watched */
	struct ev_timer tick;
	uint8_t (*bufs)[WGDEV_PKT_MAX];
	uint8_t *segbuf;	/* TCP segments of one TUN super-packet */
};

static void read_udp(struct wgloop *l, int fd)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	union wg_sockaddr src[BATCH];
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

static int read_tun(struct wgloop *l)
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

static int on_tun(void *arg, uint32_t events)
{
	struct wgloop *l = arg;
	(void)events;
	int rc = read_tun(l);
	wgdev_flush(l->dev);
	return rc;
}

static int on_udp4(void *arg, uint32_t events)
{
	struct wgloop *l = arg;
	(void)events;
	read_udp(l, l->udp4.fd);
	wgdev_flush(l->dev);
	return 0;
}

static int on_udp6(void *arg, uint32_t events)
{
	struct wgloop *l = arg;
	(void)events;
	read_udp(l, l->udp6.fd);
	wgdev_flush(l->dev);
	return 0;
}

/* Watch FD with W (leaving the fd W watched before): 0 or -errno. */
static int watch_fd(struct wgloop *l, struct ev_watch *w, int fd, ev_fn *fn)
{
	if (w->fd == fd)
		return 0;
	if (w->fd >= 0)
		ev_watch_del(l->loop, w);
	*w = (struct ev_watch){ .fd = fd, .events = EPOLLIN, .fn = fn, .arg = l };
	if (fd < 0)
		return 0;
	int rc = ev_watch_add(l->loop, w);
	if (rc)
		w->fd = -1;
	return rc;
}

/* The device moves to new sockets (a new listen_port): watch them instead
 * of the old ones.  If the loop refuses one, watch the old ones (still
 * open) again and refuse the move, so the device keeps a data path. */
static int follow_sockets(void *arg, int udp4, int udp6)
{
	struct wgloop *l = arg;
	int old4 = l->udp4.fd, old6 = l->udp6.fd;
	int rc = watch_fd(l, &l->udp4, udp4, on_udp4);
	if (!rc)
		rc = watch_fd(l, &l->udp6, udp6, on_udp6);
	if (!rc)
		return 0;
	log_err("%s: cannot watch the new UDP sockets: %s", l->dev->ifname, strerror(-rc));
	int back = watch_fd(l, &l->udp4, old4, on_udp4);
	if (!back)
		back = watch_fd(l, &l->udp6, old6, on_udp6);
	if (back)
		log_err("%s: cannot watch the old UDP sockets again: %s", l->dev->ifname, strerror(-back));
	return rc;
}

static int on_tick(void *arg, uint32_t events)
{
	struct wgloop *l = arg;
	(void)events;
	wgdev_tick(l->dev, wgdev_now(l->dev));
	wgdev_flush(l->dev);
	return 0;
}

struct wgloop *wgloop_new(struct ev_loop *loop, struct wgdev *dev)
{
	struct wgloop *l = calloc(1, sizeof *l);
	int rc = -ENOMEM;
	if (!l)
		goto fail;
	*l = (struct wgloop){ .loop = loop, .dev = dev, .tun.fd = -1, .udp4.fd = -1, .udp6.fd = -1, .tick.w.fd = -1 };
	l->bufs = malloc(sizeof(*l->bufs) * BATCH);
	l->segbuf = malloc(SEGBUF_LEN);
	if (!l->bufs || !l->segbuf)
		goto free_loop;
	if ((rc = watch_fd(l, &l->tun, dev->tun_fd, on_tun)) || (rc = watch_fd(l, &l->udp4, dev->udp4, on_udp4)) ||
	    (rc = watch_fd(l, &l->udp6, dev->udp6, on_udp6)) ||
	    (rc = ev_timer_start(loop, &l->tick, TICK_NS, TICK_NS, on_tick, l)))
		goto free_loop;
	wgdev_on_rebind(dev, follow_sockets, l);
	return l;
free_loop:
	wgloop_free(l);
fail:
	log_err("%s: cannot join the event loop: %s", dev->ifname, strerror(-rc));
	errno = -rc;
	return NULL;
}

void wgloop_free(struct wgloop *l)
{
	if (!l)
		return;
	wgdev_on_rebind(l->dev, NULL, NULL);
	ev_timer_stop(l->loop, &l->tick);
	watch_fd(l, &l->tun, -1, NULL);
	watch_fd(l, &l->udp4, -1, NULL);
	watch_fd(l, &l->udp6, -1, NULL);
	free(l->bufs);
	free(l->segbuf);
	free(l);
}
