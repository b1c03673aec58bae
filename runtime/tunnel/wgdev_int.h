/* wgdev_int: what the device's parts (wgdev.c, wgdev_peer.c, wgdev_send.c,
 * wgdev_recv.c, wgdev_conf.c) call in each other; not for users of wgdev. */
#ifndef WGDEV_INT_H
#define WGDEV_INT_H
#include <string.h>

#include "wgdev.h"

/* wgdev_peer.c: the index table.  wgdev_idx_new gives a fresh random index
 * registered for PEER, 0 on out-of-memory; deleting index 0 does nothing. */
struct wgpeer *wgdev_idx_lookup(struct wgdev *dev, uint32_t idx);
uint32_t wgdev_idx_new(struct wgdev *dev, struct wgpeer *peer);
void wgdev_idx_del(struct wgdev *dev, uint32_t idx);
void wgdev_idx_del_list(struct wgdev *dev, const uint32_t *idx, size_t n);
/* wgdev_peer.c: peers.  wgdev_peer_add returns NULL on out-of-memory. */
struct wgpeer *wgdev_peer_find(const struct wgdev *dev, const uint8_t *pub);
struct wgpeer *wgdev_peer_add(struct wgdev *dev, const uint8_t *pub);
void wgdev_peer_remove(struct wgdev *dev, struct wgpeer *p);
void wgdev_peers_remove_all(struct wgdev *dev);
void wgdev_peer_clear_staged(struct wgpeer *p);
/* P's timers changed: queue it by its next deadline if that came earlier
 * (a later one is found when the earlier passes). */
void wgdev_peer_timers_changed(struct wgdev *dev, struct wgpeer *p);
/* Forget sessions and the handshake in progress (ZERO_KEYS). */
void wgdev_peer_zero_keys(struct wgdev *dev, struct wgpeer *p);

static inline void wgdev_peer_set_endpoint(struct wgpeer *p, const union wg_sockaddr *src)
{
	p->has_endpoint = true;
	if (src->sa.sa_family == AF_INET)
		memcpy(&p->endpoint.in, &src->in, sizeof src->in);
	else
		memcpy(&p->endpoint.in6, &src->in6, sizeof src->in6);
}

/* wgdev.c: UDP sockets opened before anything changes (so a configuration
 * that cannot bind changes nothing), then installed: the rebind hook runs
 * (a refusal leaves S as it was), the old sockets close and the device takes
 * S's (S is left with -1 fds).  0 or -errno; closing -1 fds is a no-op. */
struct wgdev_sockets {
	int udp4, udp6;		/* udp6 -1: no IPv6 on this host */
	uint16_t port;
};
int wgdev_sockets_open(struct wgdev_sockets *s, uint16_t port, uint32_t fwmark);
int wgdev_sockets_install(struct wgdev *dev, struct wgdev_sockets *s);
void wgdev_sockets_close(struct wgdev_sockets *s);

/* wgdev_send.c.  wgdev_flush_data: wgdev_flush without the held handshakes
 * (what the packet paths call). */
void wgdev_flush_data(struct wgdev *dev);
void wgdev_send_to(struct wgdev *dev, const union wg_sockaddr *to, const uint8_t *data, size_t len);
void wgdev_send_to_peer(struct wgdev *dev, struct wgpeer *p, const uint8_t *data, size_t len);
void wgdev_send_initiation(struct wgdev *dev, struct wgpeer *p, bool retry, uint64_t now);
/* Send what is staged; without a usable session, start a handshake. */
void wgdev_send_staged(struct wgdev *dev, struct wgpeer *p, uint64_t now);
void wgdev_send_keepalive(struct wgdev *dev, struct wgpeer *p, uint64_t now);

/* wgdev_recv.c: write the decrypted packets waiting for the TUN device;
 * handle the handshake messages held from the batch. */
void wgdev_rx_flush(struct wgdev *dev);
void wgdev_handshakes_run(struct wgdev *dev);

#endif
