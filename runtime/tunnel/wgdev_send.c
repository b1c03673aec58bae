/* wgdev_send: the send path: packets from the TUN device staged until a
 * session exists, encrypted into UDP GSO batches; handshake initiations
 * and keepalives. */
#include "wgdev.h"
#include "log.h"
#include "transport.h"
#include "wgdev_int.h"

#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void wgdev_send_to(struct wgdev *dev, const union wg_sockaddr *to, const uint8_t *data, size_t len)
{
	int fd = to->sa.sa_family == AF_INET ? dev->udp4 : dev->udp6;
	socklen_t tolen = to->sa.sa_family == AF_INET ? sizeof to->in : sizeof to->in6;
	if (fd < 0)
		return;
	if (sendto(fd, data, len, 0, &to->sa, tolen) < 0 && errno != EAGAIN)
		log_debug("%s: sendto: %m", dev->ifname);
}

void wgdev_send_to_peer(struct wgdev *dev, struct wgpeer *p, const uint8_t *data, size_t len)
{
	if (!p->has_endpoint)
		return;
	wgdev_send_to(dev, &p->endpoint, data, len);
	p->tx_bytes += len;
}

void wgdev_flush(struct wgdev *dev)
{
	wgdev_flush_data(dev);
	if (!dev->n_hs)
		return;
	wgdev_handshakes_run(dev);
	wgdev_flush_data(dev);	/* keepalives after responses */
}

void wgdev_flush_data(struct wgdev *dev)
{
	wgdev_rx_flush(dev);
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
			wgdev_send_to_peer(dev, p, dev->gsobuf + off, seg);
		}
		return;
	}
	const union wg_sockaddr *to = &p->endpoint;
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
		wgdev_flush_data(dev);
	}
}

void wgdev_send_initiation(struct wgdev *dev, struct wgpeer *p, bool retry, uint64_t now)
{
	uint8_t msg[NOISE_INITIATION_LEN];
	if (!p->has_endpoint || !dev->local.has_identity || !timers_may_send_initiation(&p->timers, now, retry))
		return;
	wgdev_idx_del(dev, p->hs_index);
	p->hs_index = wgdev_idx_new(dev, p);
	if (!p->hs_index)
		return;
	int rc = noise_create_initiation(&p->np, &dev->local, p->hs_index, now, NULL, msg);
	if (rc) {
		log_debug("%s: cannot create initiation: %s", dev->ifname, strerror(-rc));
		return;
	}
	wgdev_send_to_peer(dev, p, msg, sizeof msg);
	timers_handshake_initiated(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	timers_any_authenticated_packet_sent(&p->timers, now);
	wgdev_peer_timers_changed(dev, p);
}

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
		wgdev_flush_data(dev);
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
	wgdev_peer_timers_changed(dev, p);
	if (timers_want_rekey_on_send(&p->timers, kp, now))
		wgdev_send_initiation(dev, p, false, now);
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
void wgdev_send_staged(struct wgdev *dev, struct wgpeer *p, uint64_t now)
{
	struct noise_keypair *kp = p->kps.current;
	if (!kp || !noise_keypair_can_send(kp, now) || timers_want_rekey_on_send(&p->timers, kp, now)) {
		wgdev_send_initiation(dev, p, false, now);
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

void wgdev_send_keepalive(struct wgdev *dev, struct wgpeer *p, uint64_t now)
{
	if (p->n_staged == 0 && stage(p, NULL, 0) != 0)
		dev->stats.tx_dropped_nomem++;
	wgdev_send_staged(dev, p, now);
}

void wgdev_beacon(struct wgdev *dev)
{
	uint64_t now = wgdev_now(dev);
	for (struct wgpeer *p = dev->first; p; p = p->next)
		if (p->kps.current && noise_keypair_can_send(p->kps.current, now))
			wgdev_send_keepalive(dev, p, now);
	wgdev_flush(dev);
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
	wgdev_send_staged(dev, p, now);
}
