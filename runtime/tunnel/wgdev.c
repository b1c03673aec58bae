/* wgdev: peers, index table, handshakes, transport and timers of one
 * WireGuard interface.  Single-threaded: the event loop calls in. */
#include "wgdev.h"
#include "log.h"
#include "transport.h"
#include "tungso.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS NOISE_NS
#define LOAD_WINDOW_NS NS

uint64_t wgdev_now(const struct wgdev *dev)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec) * dev->clock_rate;
}

/* A test knob from the environment: DEF unless set to a number in
 * [MIN, MAX]; a value out of range is ignored with a warning. */
static unsigned env_uint(const char *name, unsigned def, unsigned min, unsigned max)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (*end || errno || n < min || n > max || *v == '-') {
		log_warn("%s=%s ignored: not a number from %u to %u", name, v, min, max);
		return def;
	}
	log_warn("%s=%lu: a test setting is in effect", name, n);
	return (unsigned)n;
}

/* ---- index table ---- */

static struct wgdev_idx **idx_slot(struct wgdev *dev, uint32_t idx)
{
	struct wgdev_idx **s = &dev->idx[(idx * 2654435761u) >> 20 & (WGDEV_IDX_BUCKETS - 1)];
	while (*s && (*s)->idx != idx)
		s = &(*s)->next;
	return s;
}

static struct wgpeer *idx_lookup(struct wgdev *dev, uint32_t idx)
{
	struct wgdev_idx *e = *idx_slot(dev, idx);
	return e ? e->peer : NULL;
}

/* A fresh random index, registered for PEER; 0 on out-of-memory. */
static uint32_t idx_new(struct wgdev *dev, struct wgpeer *peer)
{
	struct wgdev_idx *e = malloc(sizeof *e);
	if (!e)
		return 0;
	uint32_t idx;
	do
		idx = randombytes_random();
	while (idx == 0 || *idx_slot(dev, idx));
	e->idx = idx;
	e->peer = peer;
	e->next = NULL;
	*idx_slot(dev, idx) = e;
	return idx;
}

static void idx_del(struct wgdev *dev, uint32_t idx)
{
	if (!idx)
		return;
	struct wgdev_idx **s = idx_slot(dev, idx);
	struct wgdev_idx *e = *s;
	if (e) {
		*s = e->next;
		free(e);
	}
}

static void idx_del_list(struct wgdev *dev, const uint32_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		idx_del(dev, idx[i]);
}

/* ---- sockets ---- */

static int udp_socket(int family, uint16_t port, uint32_t fwmark, uint16_t *bound)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int one = 1, size = 8 << 20, rc;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	/* Large buffers; the Force variants work as root and bypass rmem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	if (fwmark)
		setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof fwmark);
	/* Coalesced receive: the loop splits by the segment size it reports. */
	setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);
	union uapi_sockaddr sa;
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
	if (bind(fd, &sa.sa, salen) != 0 || getsockname(fd, &sa.sa, &salen) != 0) {
		rc = -errno;
		goto close_fd;
	}
	*bound = ntohs(family == AF_INET ? sa.in.sin_port : sa.in6.sin6_port);
	return fd;
close_fd:
	close(fd);
	return rc;
}

int wgdev_bind(struct wgdev *dev, uint16_t port)
{
	uint16_t bound = 0, bound6 = 0;
	int rc, fd4 = udp_socket(AF_INET, port, dev->fwmark, &bound);
	if (fd4 < 0)
		return fd4;
	int fd6 = udp_socket(AF_INET6, bound, dev->fwmark, &bound6);
	if (fd6 < 0 && fd6 != -EAFNOSUPPORT) {
		rc = fd6;
		goto close_fd4;
	}
	if (dev->udp4 >= 0)
		close(dev->udp4);
	if (dev->udp6 >= 0)
		close(dev->udp6);
	dev->udp4 = fd4;
	dev->udp6 = fd6 >= 0 ? fd6 : -1;
	dev->listen_port = bound;
	return 0;
close_fd4:
	close(fd4);
	return rc;
}

static void set_fwmark(struct wgdev *dev, uint32_t mark)
{
	dev->fwmark = mark;
	if (dev->udp4 >= 0)
		setsockopt(dev->udp4, SOL_SOCKET, SO_MARK, &mark, sizeof mark);
	if (dev->udp6 >= 0)
		setsockopt(dev->udp6, SOL_SOCKET, SO_MARK, &mark, sizeof mark);
}

static void send_to(struct wgdev *dev, const union uapi_sockaddr *to, const uint8_t *data, size_t len)
{
	int fd = to->sa.sa_family == AF_INET ? dev->udp4 : dev->udp6;
	socklen_t tolen = to->sa.sa_family == AF_INET ? sizeof to->in : sizeof to->in6;
	if (fd < 0)
		return;
	if (sendto(fd, data, len, 0, &to->sa, tolen) < 0 && errno != EAGAIN)
		log_debug("%s: sendto: %m", dev->ifname);
}

static void send_to_peer(struct wgdev *dev, struct wgpeer *p, const uint8_t *data, size_t len)
{
	if (!p->has_endpoint)
		return;
	send_to(dev, &p->endpoint, data, len);
	p->tx_bytes += len;
}

static void tun_write(struct wgdev *dev, const uint8_t *frame, size_t len)
{
	if (write(dev->tun_fd, frame, len) < 0 && errno != EAGAIN)
		log_debug("%s: tun write: %m", dev->ifname);
}

/* Write the decrypted packets, TCP runs merged when the TUN takes GSO. */
static void flush_rx(struct wgdev *dev)
{
	size_t n = dev->n_rx;
	dev->n_rx = 0;
	for (size_t i = 0; i < n;) {
		if (!dev->tun_vnet_hdr) {
			tun_write(dev, dev->rx_pkt[i], dev->rx_len[i]);
			i++;
			continue;
		}
		size_t used;
		size_t flen = tungso_coalesce(dev->rx_pkt + i, dev->rx_len + i, n - i, dev->grobuf,
					      sizeof dev->grobuf, &used);
		tun_write(dev, dev->grobuf, flen);
		i += used;
	}
}

void wgdev_flush(struct wgdev *dev)
{
	flush_rx(dev);
	struct wgpeer *p = dev->gso.peer;
	size_t n = dev->gso.nseg;
	dev->gso.nseg = 0;
	dev->gso.closed = false;
	size_t len = dev->gso.len;
	dev->gso.len = 0;
	if (!n || !p || !p->has_endpoint)
		return;
	if (n == 1 || dev->gso.disabled) {
		for (size_t off = 0; off < len; off += dev->gso.segsize) {
			size_t seg = len - off < dev->gso.segsize ? len - off : dev->gso.segsize;
			send_to_peer(dev, p, dev->gsobuf + off, seg);
		}
		return;
	}
	const union uapi_sockaddr *to = &p->endpoint;
	int fd = to->sa.sa_family == AF_INET ? dev->udp4 : dev->udp6;
	if (fd < 0)
		return;
	char ctrl[CMSG_SPACE(sizeof(uint16_t))] = { 0 };
	struct iovec iov = { .iov_base = dev->gsobuf, .iov_len = len };
	struct msghdr mh = {
		.msg_name = (void *)&to->sa,
		.msg_namelen = to->sa.sa_family == AF_INET ? sizeof to->in : sizeof to->in6,
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof ctrl,
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	uint16_t segsize = (uint16_t)dev->gso.segsize;
	memcpy(CMSG_DATA(cm), &segsize, sizeof segsize);
	if (sendmsg(fd, &mh, 0) >= 0) {
		p->tx_bytes += len;
		return;
	}
	if (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP) {
		log_warn("%s: UDP GSO refused (%m); sending one datagram at a time", dev->ifname);
		dev->gso.disabled = true;
		dev->gso.nseg = n;
		dev->gso.len = len;
		wgdev_flush(dev);
	}
}

/* ---- device and peers ---- */

struct wgdev *wgdev_new(const char *ifname, int tun_fd, bool vnet_hdr)
{
	struct wgdev *dev = calloc(1, sizeof *dev);
	if (!dev)
		return NULL;
	dev->aips = allowedips_new();
	dev->rl = ratelimit_new();
	if (!dev->aips || !dev->rl)
		goto free_dev;
	randombytes_buf(dev->ptab_key, sizeof dev->ptab_key);
	snprintf(dev->ifname, sizeof dev->ifname, "%s", ifname);
	dev->tun_fd = tun_fd;
	dev->tun_vnet_hdr = vnet_hdr;
	dev->udp4 = dev->udp6 = -1;
	/* Test knobs (keygated(8)): at rate 100 the protocol clock, monotonic
	 * nanoseconds since boot, still lasts 5.8 years in 64 bits. */
	dev->load_threshold = env_uint("KEYGATED_LOAD_THRESHOLD", 0, 1, 100000);
	dev->clock_rate = env_uint("KEYGATED_CLOCK_RATE", 1, 1, 100);
	return dev;
free_dev:
	allowedips_free(dev->aips);
	ratelimit_free(dev->rl);
	free(dev);
	return NULL;
}

static void peer_clear_staged(struct wgpeer *p)
{
	for (size_t i = 0; i < p->n_staged; i++) {
		sodium_memzero(p->staged[i].data, p->staged[i].len);
		free(p->staged[i].data);
	}
	p->n_staged = 0;
}

/* Forget sessions and the handshake in progress (ZERO_KEYS). */
static void peer_zero_keys(struct wgdev *dev, struct wgpeer *p)
{
	uint32_t dropped[3];
	size_t n = 0;
	noise_keypairs_clear(&p->kps, dropped, &n);
	idx_del_list(dev, dropped, n);
	idx_del(dev, p->hs_index);
	p->hs_index = 0;
	noise_handshake_clear(&p->np);
}

static void peer_free(struct wgdev *dev, struct wgpeer *p)
{
	if (dev->gso.peer == p)
		wgdev_flush(dev);
	peer_zero_keys(dev, p);
	allowedips_remove_peer(dev->aips, p);
	peer_clear_staged(p);
	free(p->staged);
	timers_stop(&p->timers);
	noise_peer_wipe(&p->np);
	sodium_memzero(p, sizeof *p);
	free(p);
}

/* ---- peers by public key: a hash table with chains, doubled as it fills ---- */

static size_t peer_bucket(const struct wgdev *dev, const uint8_t *pub, size_t nb)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;
	crypto_shorthash(h, pub, NOISE_KEY_LEN, dev->ptab_key);
	memcpy(&v, h, sizeof v);
	return (size_t)(v & (nb - 1));
}

static struct wgpeer *find_peer(const struct wgdev *dev, const uint8_t *pub)
{
	if (!dev->ptab)
		return NULL;
	for (struct wgpeer *p = dev->ptab[peer_bucket(dev, pub, dev->ptab_n)]; p; p = p->hnext)
		if (sodium_memcmp(p->np.remote_static, pub, NOISE_KEY_LEN) == 0)
			return p;
	return NULL;
}

/* Room for one more peer in the table: 0 or -ENOMEM. */
static int ptab_reserve(struct wgdev *dev)
{
	if (dev->ptab && dev->n_peers < dev->ptab_n)
		return 0;
	size_t nb = dev->ptab ? dev->ptab_n * 2 : 64;
	struct wgpeer **t = calloc(nb, sizeof *t);
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < dev->n_peers; i++) {
		struct wgpeer *p = dev->peers[i];
		size_t b = peer_bucket(dev, p->np.remote_static, nb);
		p->hnext = t[b];
		t[b] = p;
	}
	free(dev->ptab);
	dev->ptab = t;
	dev->ptab_n = nb;
	return 0;
}

static void remove_peer(struct wgdev *dev, struct wgpeer *p)
{
	struct wgpeer **s = &dev->ptab[peer_bucket(dev, p->np.remote_static, dev->ptab_n)];
	while (*s != p)
		s = &(*s)->hnext;
	*s = p->hnext;
	size_t i = p->slot;
	dev->peers[i] = dev->peers[--dev->n_peers];
	dev->peers[i]->slot = i;
	peer_free(dev, p);
}

static void remove_peer_at(struct wgdev *dev, size_t i)
{
	remove_peer(dev, dev->peers[i]);
}

static void remove_all_peers(struct wgdev *dev)
{
	while (dev->n_peers)
		remove_peer_at(dev, dev->n_peers - 1);
}

void wgdev_free(struct wgdev *dev)
{
	if (!dev)
		return;
	remove_all_peers(dev);
	free(dev->peers);
	free(dev->ptab);
	allowedips_free(dev->aips);
	ratelimit_free(dev->rl);
	noise_local_wipe(&dev->local);
	if (dev->udp4 >= 0)
		close(dev->udp4);
	if (dev->udp6 >= 0)
		close(dev->udp6);
	sodium_memzero(dev, sizeof *dev);
	free(dev);
}

static struct wgpeer *add_peer(struct wgdev *dev, const uint8_t *pub)
{
	if (ptab_reserve(dev) != 0)
		return NULL;
	if (dev->n_peers == dev->cap_peers) {
		size_t ncap = dev->cap_peers ? dev->cap_peers * 2 : 16;
		struct wgpeer **np = realloc(dev->peers, ncap * sizeof *np);
		if (!np)
			return NULL;
		dev->peers = np;
		dev->cap_peers = ncap;
	}
	struct wgpeer *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	if (noise_peer_init(&p->np, &dev->local, pub, NULL) == -EKEYREJECTED)
		log_warn("%s: peer key gives an all-zero shared secret; handshakes with it will fail", dev->ifname);
	noise_keypairs_init(&p->kps);
	timers_init(&p->timers, 0);
	size_t b = peer_bucket(dev, pub, dev->ptab_n);
	p->hnext = dev->ptab[b];
	dev->ptab[b] = p;
	p->slot = dev->n_peers;
	dev->peers[dev->n_peers++] = p;
	return p;
}

/* ---- transport ---- */

static void send_initiation(struct wgdev *dev, struct wgpeer *p, bool retry, uint64_t now);

/* Encrypt LEN bytes (LEN 0: keepalive) with the current keypair and queue
 * them for the next GSO send.  0, -ENOKEY without a session, -EDESTADDRREQ
 * without an endpoint, -EMSGSIZE, or transport_encrypt's error. */
static int send_transport(struct wgdev *dev, struct wgpeer *p, const uint8_t *data, size_t len, uint64_t now)
{
	struct noise_keypair *kp = p->kps.current;
	size_t out_len;
	if (!kp)
		return -ENOKEY;
	if (!p->has_endpoint)
		return -EDESTADDRREQ;
	if (len > WGDEV_PKT_MAX)
		return -EMSGSIZE;
	size_t need = transport_padded_len(len, WGDEV_MTU) + TRANSPORT_OVERHEAD;
	if (dev->gso.nseg && (dev->gso.peer != p || dev->gso.closed || dev->gso.nseg == WGDEV_GSO_SEGS ||
			      dev->gso.len + need > WGDEV_GSO_MAX || need > dev->gso.segsize))
		wgdev_flush(dev);
	uint8_t *out = dev->gsobuf + dev->gso.len;
	memcpy(out + TRANSPORT_HEADER_LEN, data, len);
	int rc = transport_encrypt(kp, out, sizeof dev->gsobuf - dev->gso.len, len, WGDEV_MTU, now, &out_len);
	if (rc)
		return rc;
	if (!dev->gso.nseg) {
		dev->gso.peer = p;
		dev->gso.segsize = out_len;
	} else if (out_len < dev->gso.segsize) {
		dev->gso.closed = true;
	}
	dev->gso.len += out_len;
	dev->gso.nseg++;
	if (len)
		timers_data_sent(&p->timers, now);
	timers_any_authenticated_packet_sent(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	if (timers_want_rekey_on_send(&p->timers, kp, now))
		send_initiation(dev, p, false, now);
	return 0;
}

/* Keep a packet until a session exists (the oldest goes when full).
 * 0 or -ENOMEM. */
static int stage(struct wgpeer *p, const uint8_t *data, size_t len)
{
	if (!p->staged && !(p->staged = calloc(WGDEV_STAGED_MAX, sizeof *p->staged)))
		return -ENOMEM;
	if (p->n_staged == WGDEV_STAGED_MAX) {
		sodium_memzero(p->staged[0].data, p->staged[0].len);
		free(p->staged[0].data);
		memmove(p->staged, p->staged + 1, (WGDEV_STAGED_MAX - 1) * sizeof p->staged[0]);
		p->n_staged--;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);
	p->staged[p->n_staged].data = copy;
	p->staged[p->n_staged].len = len;
	p->n_staged++;
	return 0;
}

/* Send what is staged; without a usable session, start a handshake. */
static void send_staged(struct wgdev *dev, struct wgpeer *p, uint64_t now)
{
	struct noise_keypair *kp = p->kps.current;
	if (!kp || !noise_keypair_can_send(kp, now) || timers_want_rekey_on_send(&p->timers, kp, now)) {
		send_initiation(dev, p, false, now);
		if (!kp || !noise_keypair_can_send(kp, now))
			return;
	}
	size_t n = p->n_staged;
	p->n_staged = 0;
	for (size_t i = 0; i < n; i++) {
		send_transport(dev, p, p->staged[i].data, p->staged[i].len, now);
		sodium_memzero(p->staged[i].data, p->staged[i].len);
		free(p->staged[i].data);
	}
}

static void send_keepalive(struct wgdev *dev, struct wgpeer *p, uint64_t now)
{
	if (p->n_staged == 0 && stage(p, NULL, 0) != 0)
		dev->stats.tx_dropped_nomem++;
	send_staged(dev, p, now);
}

/* ---- handshake ---- */

static void send_initiation(struct wgdev *dev, struct wgpeer *p, bool retry, uint64_t now)
{
	uint8_t msg[NOISE_INITIATION_LEN];
	if (!p->has_endpoint || !dev->local.has_identity || !timers_may_send_initiation(&p->timers, now, retry))
		return;
	idx_del(dev, p->hs_index);
	p->hs_index = idx_new(dev, p);
	if (!p->hs_index)
		return;
	int rc = noise_create_initiation(&p->np, &dev->local, p->hs_index, now, NULL, msg);
	if (rc) {
		log_debug("%s: cannot create initiation: %s", dev->ifname, strerror(-rc));
		return;
	}
	send_to_peer(dev, p, msg, sizeof msg);
	timers_handshake_initiated(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	timers_any_authenticated_packet_sent(&p->timers, now);
}

static void set_endpoint(struct wgpeer *p, const union uapi_sockaddr *src)
{
	p->has_endpoint = true;
	if (src->sa.sa_family == AF_INET)
		memcpy(&p->endpoint.in, &src->in, sizeof src->in);
	else
		memcpy(&p->endpoint.in6, &src->in6, sizeof src->in6);
}

static void handshake_complete(struct wgdev *dev, struct wgpeer *p, uint64_t now)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	timers_handshake_complete(&p->timers, now);
	p->hs_sec = ts.tv_sec;
	p->hs_nsec = ts.tv_nsec;
	dev->stats.handshakes_done++;
}

/* Is a UDP socket's receive queue backing up?  Handshake messages then
 * arrive faster than the loop answers them: the counterpart of
 * wireguard-go's "handshake queue at least 1/8 full".  The bound is in
 * queued bytes (skb truesize), capped so that a large forced SO_RCVBUF does
 * not let thousands of initiations wait before cookies start. */
#define BACKLOG_MAX_BYTES (256u * 1024)
static bool udp_backlogged(int fd)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof mem;
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 ||
	    len < sizeof(uint32_t) * (SK_MEMINFO_RCVBUF + 1))
		return false;
	uint32_t limit = mem[SK_MEMINFO_RCVBUF] / 8;
	if (limit > BACKLOG_MAX_BYTES)
		limit = BACKLOG_MAX_BYTES;
	return mem[SK_MEMINFO_RMEM_ALLOC] >= limit;
}

/* Under load for a second once the receive queue backs up, or (the test
 * knob KEYGATED_LOAD_THRESHOLD) once more handshake messages than the
 * threshold arrive in a second. */
static bool under_load(struct wgdev *dev, uint64_t now)
{
	bool over_rate = false;
	if (dev->load_threshold) {
		if (now - dev->load_window >= LOAD_WINDOW_NS) {
			dev->load_window = now;
			dev->load_count = 0;
		}
		over_rate = ++dev->load_count > dev->load_threshold;
	}
	if (over_rate || udp_backlogged(dev->udp4) || udp_backlogged(dev->udp6))
		dev->under_load_until = now + NS;
	return now < dev->under_load_until;
}

/* Under load a handshake message needs a valid mac2; otherwise answer with a
 * cookie reply.  True when the message may be processed. */
static bool cookie_gate(struct wgdev *dev, const uint8_t *msg, size_t len, const union uapi_sockaddr *src,
			uint64_t now)
{
	uint8_t srcb[COOKIE_SRC_MAX], reply[COOKIE_REPLY_LEN];
	if (!cookie_check_mac1(&dev->local.cookie, msg, len)) {
		dev->stats.rx_dropped_auth++;
		return false;
	}
	if (!under_load(dev, now))
		return true;
	int srclen = cookie_src_bytes(srcb, &src->sa);
	if (srclen < 0)
		return false;
	if (cookie_check_mac2(&dev->local.cookie, msg, len, srcb, (size_t)srclen, now)) {
		/* A cookie costs one round trip: limit each source's handshakes. */
		if (ratelimit_allow(dev->rl, &src->sa, now))
			return true;
		dev->stats.rx_dropped_ratelimit++;
		return false;
	}
	if (cookie_create_reply(&dev->local.cookie, reply, msg, len, srcb, (size_t)srclen, now, NULL) == 0) {
		send_to(dev, src, reply, sizeof reply);
		dev->stats.cookies_sent++;
		log_debug("%s: under load: sent a cookie reply", dev->ifname);
	}
	return false;
}

static void handle_initiation(struct wgdev *dev, const uint8_t *msg, size_t len, const union uapi_sockaddr *src,
			      uint64_t now)
{
	struct noise_initiation st;
	uint8_t resp[NOISE_RESPONSE_LEN];
	struct noise_keypair kp;
	uint32_t dropped[3];
	size_t ndropped = 0;
	if (!dev->local.has_identity || !cookie_gate(dev, msg, len, src, now))
		return;
	if (noise_initiation_open(&dev->local, msg, len, &st) != 0) {
		dev->stats.rx_dropped_auth++;
		noise_initiation_wipe(&st);
		return;
	}
	struct wgpeer *p = find_peer(dev, st.remote_static);
	if (!p) {
		noise_initiation_wipe(&st);
		dev->stats.rx_dropped_auth++;
		return;
	}
	int rc = noise_initiation_accept(&p->np, &dev->local, &st, now);
	if (rc) {
		log_debug("%s: initiation refused: %s", dev->ifname, strerror(-rc));
		dev->stats.rx_dropped_auth++;
		return;
	}
	idx_del(dev, p->hs_index);
	p->hs_index = idx_new(dev, p);
	if (!p->hs_index || noise_create_response(&p->np, p->hs_index, now, NULL, resp) != 0 ||
	    noise_derive_keypair(&p->np, &kp, now) != 0) {
		noise_handshake_clear(&p->np);
		return;
	}
	noise_keypairs_install(&p->kps, &kp, dropped, &ndropped);
	sodium_memzero(&kp, sizeof kp);
	idx_del_list(dev, dropped, ndropped);
	p->hs_index = 0; /* now owned by the keypair */
	set_endpoint(p, src);
	send_to_peer(dev, p, resp, sizeof resp);
	p->rx_bytes += len;
	timers_session_derived(&p->timers, now);
	timers_any_authenticated_packet_received(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	timers_any_authenticated_packet_sent(&p->timers, now);
}

static void handle_response(struct wgdev *dev, const uint8_t *msg, size_t len, const union uapi_sockaddr *src,
			    uint64_t now)
{
	struct noise_keypair kp;
	uint32_t dropped[3];
	size_t ndropped = 0;
	struct wgpeer *p = idx_lookup(dev, noise_msg_receiver(msg, len));
	if (!p || !cookie_gate(dev, msg, len, src, now))
		return;
	if (noise_consume_response(&p->np, &dev->local, msg, len) != 0) {
		dev->stats.rx_dropped_auth++;
		return;
	}
	if (noise_derive_keypair(&p->np, &kp, now) != 0)
		return;
	noise_keypairs_install(&p->kps, &kp, dropped, &ndropped);
	sodium_memzero(&kp, sizeof kp);
	idx_del_list(dev, dropped, ndropped);
	p->hs_index = 0;
	set_endpoint(p, src);
	p->rx_bytes += len;
	timers_session_derived(&p->timers, now);
	handshake_complete(dev, p, now);
	timers_any_authenticated_packet_received(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	send_keepalive(dev, p, now);
}

static void handle_cookie(struct wgdev *dev, const uint8_t *msg, size_t len, uint64_t now)
{
	struct wgpeer *p = idx_lookup(dev, noise_msg_receiver(msg, len));
	if (!p)
		return;
	int rc = cookie_consume_reply(&p->np.cookie, msg, len, now);
	if (rc)
		log_debug("%s: cookie reply refused: %s", dev->ifname, strerror(-rc));
}

/* The inner source address of a decrypted packet, checked against the
 * sender's allowed IPs; returns the IP packet's real length or 0. */
static size_t inner_check(struct wgdev *dev, struct wgpeer *p, const uint8_t *pkt, size_t len)
{
	if (len >= sizeof(struct iphdr) && pkt[0] >> 4 == 4) {
		size_t tot = (size_t)pkt[2] << 8 | pkt[3];
		if (tot < sizeof(struct iphdr) || tot > len)
			return 0;
		return allowedips_lookup(dev->aips, AF_INET, pkt + 12) == p ? tot : 0;
	}
	if (len >= sizeof(struct ip6_hdr) && pkt[0] >> 4 == 6) {
		size_t tot = ((size_t)pkt[4] << 8 | pkt[5]) + sizeof(struct ip6_hdr);
		if (tot > len)
			return 0;
		return allowedips_lookup(dev->aips, AF_INET6, pkt + 8) == p ? tot : 0;
	}
	return 0;
}

/* -v: say which inner source a peer was not allowed to send from. */
static void log_inner_drop(const struct wgdev *dev, const uint8_t *pkt, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	if (len >= sizeof(struct iphdr) && pkt[0] >> 4 == 4)
		inet_ntop(AF_INET, pkt + 12, addr, sizeof addr);
	else if (len >= sizeof(struct ip6_hdr) && pkt[0] >> 4 == 6)
		inet_ntop(AF_INET6, pkt + 8, addr, sizeof addr);
	log_debug("%s: dropped a packet from %s: not in the sending peer's allowed IPs", dev->ifname, addr);
}

static void handle_transport(struct wgdev *dev, uint8_t *msg, size_t len, const union uapi_sockaddr *src,
			     uint64_t now)
{
	uint32_t idx = noise_msg_receiver(msg, len);
	struct wgpeer *p = idx_lookup(dev, idx);
	struct noise_keypair *kp = p ? noise_keypairs_lookup(&p->kps, idx) : NULL;
	size_t plen;
	if (!kp) {
		dev->stats.rx_dropped_garbage++;
		return;
	}
	int rc = transport_decrypt(kp, msg, len, now, &plen);
	if (rc) {
		if (rc == -EALREADY)
			dev->stats.rx_dropped_replay++;
		else
			dev->stats.rx_dropped_auth++;
		return;
	}
	uint32_t dropped[1];
	size_t ndropped = 0;
	bool promoted = noise_keypairs_received(&p->kps, kp, dropped, &ndropped);
	idx_del_list(dev, dropped, ndropped);
	/* The endpoint first: after a roam, staged packets go to the new one. */
	set_endpoint(p, src);
	if (promoted) {
		handshake_complete(dev, p, now);
		send_staged(dev, p, now);
	}
	p->rx_bytes += len;
	timers_any_authenticated_packet_received(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	if (timers_want_rekey_on_receive(&p->timers, p->kps.current, now))
		send_initiation(dev, p, false, now);
	if (plen == 0)
		return; /* keepalive */
	timers_data_received(&p->timers, now);
	uint8_t *plain = msg + TRANSPORT_HEADER_LEN;
	size_t ilen = inner_check(dev, p, plain, plen);
	if (!ilen) {
		dev->stats.rx_dropped_allowedips++;
		log_inner_drop(dev, plain, plen);
		return;
	}
	if (dev->n_rx == WGDEV_RX_BATCH)
		flush_rx(dev);
	dev->rx_pkt[dev->n_rx] = plain;
	dev->rx_len[dev->n_rx] = ilen;
	dev->n_rx++;
}

void wgdev_udp_input(struct wgdev *dev, uint8_t *pkt, size_t len, const union uapi_sockaddr *src, uint64_t now)
{
	switch (noise_msg_type(pkt, len)) {
	case NOISE_MSG_INITIATION:
		handle_initiation(dev, pkt, len, src, now);
		break;
	case NOISE_MSG_RESPONSE:
		handle_response(dev, pkt, len, src, now);
		break;
	case NOISE_MSG_COOKIE:
		handle_cookie(dev, pkt, len, now);
		break;
	case NOISE_MSG_TRANSPORT:
		handle_transport(dev, pkt, len, src, now);
		break;
	default:
		dev->stats.rx_dropped_garbage++;
	}
}

void wgdev_tun_input(struct wgdev *dev, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct wgpeer *p = NULL;
	if (len >= sizeof(struct iphdr) && pkt[0] >> 4 == 4)
		p = allowedips_lookup(dev->aips, AF_INET, pkt + 16);
	else if (len >= sizeof(struct ip6_hdr) && pkt[0] >> 4 == 6)
		p = allowedips_lookup(dev->aips, AF_INET6, pkt + 24);
	if (!p)
		return;
	if (p->n_staged == 0 && send_transport(dev, p, pkt, len, now) == 0)
		return;
	if (stage(p, pkt, len) != 0)
		dev->stats.tx_dropped_nomem++;
	send_staged(dev, p, now);
}

void wgdev_tick(struct wgdev *dev, uint64_t now)
{
	for (size_t i = 0; i < dev->n_peers; i++) {
		struct wgpeer *p = dev->peers[i];
		if (now < timers_next_deadline(&p->timers))
			continue;
		unsigned act = timers_expire(&p->timers, now);
		if (act & TIMERS_GIVE_UP)
			peer_clear_staged(p);
		if (act & TIMERS_ZERO_KEYS)
			peer_zero_keys(dev, p);
		if (act & TIMERS_SEND_INITIATION)
			send_initiation(dev, p, p->timers.retry_pending, now);
		if (act & TIMERS_SEND_KEEPALIVE)
			send_keepalive(dev, p, now);
	}
}

/* ---- userspace API ---- */

static int set_private_key(struct wgdev *dev, const uint8_t *priv)
{
	int rc = 0;
	/* wg syncconf/setconf send the key every time: the same key again
	 * keeps the sessions, as the kernel and wireguard-go do. */
	if (dev->local.has_identity ? sodium_memcmp(dev->local.private_key, priv, NOISE_KEY_LEN) == 0
				    : wgkey_is_zero(priv))
		return 0;
	if (wgkey_is_zero(priv)) {
		noise_local_wipe(&dev->local);
	} else {
		rc = noise_local_init(&dev->local, priv);
		if (rc)
			return rc;
		/* A peer with our own public key cannot exist. */
		struct wgpeer *self = find_peer(dev, dev->local.public_key);
		if (self)
			remove_peer(dev, self);
	}
	for (size_t i = 0; i < dev->n_peers; i++) {
		peer_zero_keys(dev, dev->peers[i]);
		noise_peer_set_local(&dev->peers[i]->np, &dev->local);
	}
	return rc;
}

static int apply_peer(struct wgdev *dev, const struct uapi_peer *up, uint64_t now)
{
	if (dev->local.has_identity && sodium_memcmp(up->public_key, dev->local.public_key, NOISE_KEY_LEN) == 0)
		return 0; /* ourselves: ignored, as wireguard-go does */
	struct wgpeer *p = find_peer(dev, up->public_key);
	if (up->remove) {
		if (p)
			remove_peer(dev, p);
		return 0;
	}
	if (!p && up->update_only)
		return 0;
	if (!p)
		p = add_peer(dev, up->public_key);
	if (!p)
		return -ENOMEM;
	if (up->has_psk)
		noise_peer_set_psk(&p->np, wgkey_is_zero(up->psk) ? NULL : up->psk);
	if (up->has_endpoint)
		set_endpoint(p, &up->endpoint);
	if (up->replace_allowed_ips)
		allowedips_remove_peer(dev->aips, p);
	for (size_t k = 0; k < up->n_allowed; k++) {
		const struct uapi_allowed_ip *a = &up->allowed[k];
		int rc = allowedips_insert(dev->aips, a->family, a->addr, a->cidr, p);
		if (rc)
			return rc;
	}
	if (up->has_keepalive) {
		p->keepalive = up->keepalive;
		if (timers_set_persistent_keepalive(&p->timers, up->keepalive, now) && p->has_endpoint)
			send_keepalive(dev, p, now);
	}
	return 0;
}

static int uapi_set(struct wgdev *dev, const char *body, size_t len)
{
	struct uapi_set set = { 0 };
	char err[256];
	uint64_t now = wgdev_now(dev);
	int rc = uapi_parse_set(&set, body, len, err, sizeof err);
	if (rc) {
		log_warn("%s: uapi set refused: %s", dev->ifname, err);
		goto out;
	}
	if (set.has_fwmark)
		set_fwmark(dev, set.fwmark);
	if (set.has_listen_port && (set.listen_port != dev->listen_port || set.listen_port == 0)) {
		rc = wgdev_bind(dev, set.listen_port);
		if (rc) {
			log_warn("%s: cannot listen on port %u: %s", dev->ifname, set.listen_port, strerror(-rc));
			goto out;
		}
	}
	if (set.has_private_key) {
		rc = set_private_key(dev, set.private_key);
		if (rc)
			goto out;
	}
	if (set.replace_peers)
		remove_all_peers(dev);
	for (size_t i = 0; i < set.n_peers && !rc; i++)
		rc = apply_peer(dev, &set.peers[i], now);
out:
	uapi_set_free(&set);
	return rc;
}

static int walk_allowed(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	uapi_format_allowed_ip(ctx, family, addr, cidr);
	return 0;
}

static void uapi_get(struct wgdev *dev, struct uapi_buf *b)
{
	uapi_format_device(b, dev->local.has_identity ? dev->local.private_key : NULL, dev->listen_port,
			   dev->fwmark);
	for (size_t i = 0; i < dev->n_peers; i++) {
		struct wgpeer *p = dev->peers[i];
		struct uapi_peer_info info = { 0 };
		memcpy(info.public_key, p->np.remote_static, NOISE_KEY_LEN);
		memcpy(info.psk, p->np.psk, NOISE_KEY_LEN);
		info.has_endpoint = p->has_endpoint;
		info.endpoint = p->endpoint;
		info.last_handshake_sec = p->hs_sec;
		info.last_handshake_nsec = p->hs_nsec;
		info.tx_bytes = p->tx_bytes;
		info.rx_bytes = p->rx_bytes;
		info.keepalive = p->keepalive;
		uapi_format_peer(b, &info);
		sodium_memzero(&info, sizeof info);
		allowedips_walk_peer(dev->aips, p, walk_allowed, b);
	}
}

void wgdev_uapi(struct wgdev *dev, enum uapi_op op, const char *body, size_t len, struct uapi_buf *reply)
{
	if (op == UAPI_OP_GET) {
		uapi_get(dev, reply);
		uapi_format_errno(reply, 0);
		return;
	}
	uapi_format_errno(reply, uapi_set(dev, body, len));
}
