/* wgdev: the device: its identity, sockets and life cycle, and the timer
 * tick over its peers.  Single-threaded: the event loop calls in. */
#include "wgdev.h"
#include "wgdev_int.h"
#include "secmem.h"

#include <errno.h>
#include <netinet/udp.h>
#include <stddef.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS NOISE_NS

uint64_t wgdev_now(const struct wgdev *dev)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec) * dev->clock_rate;
}

static int udp_socket(int family, uint16_t port, uint32_t fwmark, uint16_t *bound)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int one = 1, size = 8 << 20, rc;
	if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
		goto fail_errno;
	/* Large buffers; the Force variants work as root and bypass rmem_max.
	 * Best effort: the defaults work, only slower. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	/* The mark keeps our own packets out of the tunnel's routes: required. */
	if (fwmark && setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof fwmark) != 0)
		goto fail_errno;
	/* Coalesced receive, where the kernel has it: the loop splits by the
	 * segment size it reports, and reads single datagrams without it. */
	(void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);
	union wg_sockaddr sa;
	memset(&sa, 0, sizeof sa);
	socklen_t salen;
	if (family == AF_INET) {
		sa.in.sin_family = AF_INET;
		sa.in.sin_port = htons(port);
		salen = sizeof sa.in;
	} else {
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons(port);
		salen = sizeof sa.in6;
	}
	if (bind(fd, &sa.sa, salen) != 0 || getsockname(fd, &sa.sa, &salen) != 0)
		goto fail_errno;
	*bound = ntohs(family == AF_INET ? sa.in.sin_port : sa.in6.sin6_port);
	return fd;
fail_errno:
	rc = -errno;
	close(fd);
	return rc;
}

int wgdev_sockets_open(struct wgdev_sockets *s, uint16_t port, uint32_t fwmark)
{
	uint16_t bound6 = 0;
	s->udp6 = -1;
	s->udp4 = udp_socket(AF_INET, port, fwmark, &s->port);
	if (s->udp4 < 0)
		return s->udp4;
	int fd6 = udp_socket(AF_INET6, s->port, fwmark, &bound6);
	if (fd6 < 0 && fd6 != -EAFNOSUPPORT) {
		close(s->udp4);
		s->udp4 = -1;
		return fd6;
	}
	s->udp6 = fd6 >= 0 ? fd6 : -1;
	return 0;
}

void wgdev_sockets_close(struct wgdev_sockets *s)
{
	if (s->udp4 >= 0)
		close(s->udp4);
	if (s->udp6 >= 0)
		close(s->udp6);
	s->udp4 = s->udp6 = -1;
}

int wgdev_sockets_install(struct wgdev *dev, struct wgdev_sockets *s)
{
	int rc = dev->on_rebind ? dev->on_rebind(dev->on_rebind_arg, s->udp4, s->udp6) : 0;
	if (rc)
		return rc;
	struct wgdev_sockets old = { .udp4 = dev->udp4, .udp6 = dev->udp6 };
	wgdev_sockets_close(&old);
	dev->udp4 = s->udp4;
	dev->udp6 = s->udp6;
	dev->listen_port = s->port;
	s->udp4 = s->udp6 = -1;
	return 0;
}

int wgdev_bind(struct wgdev *dev, uint16_t port)
{
	struct wgdev_sockets s;
	int rc = wgdev_sockets_open(&s, port, dev->fwmark);
	if (rc)
		return rc;
	rc = wgdev_sockets_install(dev, &s);
	wgdev_sockets_close(&s);
	return rc;
}

void wgdev_on_rebind(struct wgdev *dev, int (*fn)(void *arg, int udp4, int udp6), void *arg)
{
	dev->on_rebind = fn;
	dev->on_rebind_arg = arg;
}

int wgdev_set_clock_rate(struct wgdev *dev, unsigned rate)
{
	/* At rate 100 the protocol clock, monotonic nanoseconds since boot,
	 * still lasts 5.8 years in 64 bits. */
	if (rate < 1 || rate > WGDEV_CLOCK_RATE_MAX)
		return -EINVAL;
	dev->clock_rate = rate;
	return 0;
}

int wgdev_set_load_threshold(struct wgdev *dev, unsigned per_second)
{
	if (per_second > WGDEV_LOAD_THRESHOLD_MAX)
		return -EINVAL;
	dev->load_threshold = per_second;
	return 0;
}

struct wgdev *wgdev_new(const char *ifname, int tun_fd, bool vnet_hdr)
{
	struct wgdev *dev = secmem_alloc(sizeof *dev);	/* its private key */
	if (!dev)
		return NULL;
	dev->aips = allowedips_new();
	dev->rl = ratelimit_new(RATELIMIT_BY_ADDR);
	dev->rl_cookie = ratelimit_new(RATELIMIT_BY_ADDR_PORT);
	if (!dev->aips || !dev->rl || !dev->rl_cookie)
		goto free_dev;
	randombytes_buf(dev->ptab_key, sizeof dev->ptab_key);
	snprintf(dev->ifname, sizeof dev->ifname, "%s", ifname);
	dev->tun_fd = tun_fd;
	dev->tun_vnet_hdr = vnet_hdr;
	dev->udp4 = dev->udp6 = -1;
	dev->clock_rate = 1;
	return dev;
free_dev:
	allowedips_free(dev->aips);
	ratelimit_free(dev->rl);
	ratelimit_free(dev->rl_cookie);
	secmem_free(dev, sizeof *dev);
	return NULL;
}

void wgdev_free(struct wgdev *dev)
{
	if (!dev)
		return;
	wgdev_peers_remove_all(dev);
	timerq_free(&dev->timerq);
	free(dev->ptab);
	allowedips_free(dev->aips);
	ratelimit_free(dev->rl);
	ratelimit_free(dev->rl_cookie);
	noise_local_wipe(&dev->local);
	if (dev->udp4 >= 0)
		close(dev->udp4);
	if (dev->udp6 >= 0)
		close(dev->udp6);
	secmem_free(dev, sizeof *dev);
}

static void run_timers(struct wgdev *dev, struct wgpeer *p, uint64_t now)
{
	unsigned act = timers_expire(&p->timers, now);
	if (act & TIMERS_GIVE_UP)
		wgdev_peer_clear_staged(p);
	if (act & TIMERS_ZERO_KEYS)
		wgdev_peer_zero_keys(dev, p);
	if (act & TIMERS_SEND_INITIATION)
		wgdev_send_initiation(dev, p, p->timers.retry_pending, now);
	if (act & TIMERS_SEND_KEEPALIVE)
		wgdev_send_keepalive(dev, p, now);
}

/* A peer is queued at its next deadline or earlier (deadlines that moved
 * later are found when the earlier one passes): run what is due and queue
 * it again at its real next deadline, which timers_expire left after NOW. */
void wgdev_tick(struct wgdev *dev, uint64_t now)
{
	struct timerq_entry *e;
	while ((e = timerq_first(&dev->timerq)) && e->deadline <= now) {
		struct wgpeer *p = (struct wgpeer *)((char *)e - offsetof(struct wgpeer, timer));
		if (timers_next_deadline(&p->timers) <= now)
			run_timers(dev, p, now);
		timerq_set(&dev->timerq, e, timers_next_deadline(&p->timers));
	}
}
