/* wgdev_conf: applying a configuration (wgdev_configure) and the
 * userspace API's text on top of it: a set request is parsed completely,
 * then applied; a get request is formatted from the device. */
#include "wgdev.h"
#include "log.h"
#include "wgdev_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

/* MARK on the sockets in use, both or neither (the first goes back to the
 * old mark if the second refuses).  0 or -errno (-EPERM without
 * CAP_NET_ADMIN). */
static int set_fwmark(struct wgdev *dev, uint32_t mark)
{
	int fds[2] = { dev->udp4, dev->udp6 };
	for (int i = 0; i < 2; i++) {
		if (fds[i] < 0 || setsockopt(fds[i], SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0)
			continue;
		int rc = -errno;
		if (i == 1 && fds[0] >= 0)
			(void)setsockopt(fds[0], SOL_SOCKET, SO_MARK, &dev->fwmark, sizeof dev->fwmark);
		log_warn("%s: cannot set fwmark %u: %s", dev->ifname, mark, strerror(-rc));
		return rc;
	}
	dev->fwmark = mark;
	return 0;
}

/* A private key noise_local_init takes (all zero: no identity). */
static bool private_key_usable(const uint8_t *priv)
{
	uint8_t pub[NOISE_KEY_LEN];
	return wgkey_is_zero(priv) || noise_pubkey(pub, priv) == 0;
}

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
		struct wgpeer *self = wgdev_peer_find(dev, dev->local.public_key);
		if (self)
			wgdev_peer_remove(dev, self);
	}
	for (struct wgpeer *p = dev->first; p; p = p->next) {
		wgdev_peer_zero_keys(dev, p);
		noise_peer_set_local(&p->np, &dev->local);
	}
	return rc;
}

static int apply_peer(struct wgdev *dev, const struct wgconfig_peer *up, uint64_t now)
{
	if (dev->local.has_identity && sodium_memcmp(up->public_key, dev->local.public_key, NOISE_KEY_LEN) == 0)
		return 0; /* ourselves: ignored, as wireguard-go does */
	struct wgpeer *p = wgdev_peer_find(dev, up->public_key);
	if (up->remove) {
		if (p)
			wgdev_peer_remove(dev, p);
		return 0;
	}
	if (!p && up->update_only)
		return 0;
	if (!p)
		p = wgdev_peer_add(dev, up->public_key);
	if (!p)
		return -ENOMEM;
	if (up->has_psk)
		noise_peer_set_psk(&p->np, wgkey_is_zero(up->psk) ? NULL : up->psk);
	if (up->has_endpoint)
		wgdev_peer_set_endpoint(p, &up->endpoint);
	if (up->replace_allowed_ips)
		allowedips_remove_peer(dev->aips, &p->aips);
	for (size_t k = 0; k < up->n_allowed; k++) {
		const struct wgconfig_allowed_ip *a = &up->allowed[k];
		int rc = allowedips_insert(dev->aips, a->family, a->addr, a->cidr, p, &p->aips);
		if (rc)
			return rc;
	}
	if (up->has_keepalive) {
		p->keepalive = up->keepalive;
		if (timers_set_persistent_keepalive(&p->timers, up->keepalive, now) && p->has_endpoint)
			wgdev_send_keepalive(dev, p, now);
		wgdev_peer_timers_changed(dev, p);
	}
	return 0;
}

/* What can fail comes first and changes nothing when it does: the key
 * checked, new sockets opened (with the new mark) and handed to the rebind
 * hook, or else the new mark set on the sockets in use.  After that only
 * running out of memory while adding peers can stop a configuration half
 * way. */
int wgdev_configure(struct wgdev *dev, const struct wgconfig *cfg)
{
	uint64_t now = wgdev_now(dev);
	uint32_t mark = cfg->has_fwmark ? cfg->fwmark : dev->fwmark;
	struct wgdev_sockets socks = { .udp4 = -1, .udp6 = -1 };
	int rc = 0;
	if (cfg->has_private_key && !private_key_usable(cfg->private_key))
		return -EINVAL;
	if (cfg->has_listen_port && (cfg->listen_port != dev->listen_port || cfg->listen_port == 0)) {
		rc = wgdev_sockets_open(&socks, cfg->listen_port, mark);
		if (!rc)
			rc = wgdev_sockets_install(dev, &socks);
		wgdev_sockets_close(&socks);
		if (rc) {
			log_warn("%s: cannot listen on port %u: %s", dev->ifname, cfg->listen_port, strerror(-rc));
			return rc;
		}
		dev->fwmark = mark;
	} else if (mark != dev->fwmark) {
		rc = set_fwmark(dev, mark);
		if (rc)
			return rc;
	}
	if (cfg->has_private_key) {
		rc = set_private_key(dev, cfg->private_key);
		if (rc)
			goto flush;
	}
	if (cfg->replace_peers)
		wgdev_peers_remove_all(dev);
	for (size_t i = 0; i < cfg->n_peers && !rc; i++)
		rc = apply_peer(dev, &cfg->peers[i], now);
flush:
	wgdev_flush(dev);	/* keepalives a new persistent_keepalive sent */
	return rc;
}

/* Parse completely, then apply: a malformed request changes nothing. */
static int uapi_set(struct wgdev *dev, const char *body, size_t len)
{
	struct wgconfig cfg = { 0 };
	char err[256];
	int rc = uapi_parse_set(&cfg, body, len, err, sizeof err);
	if (rc) {
		log_warn("%s: uapi set refused: %s", dev->ifname, err);
		goto free_cfg;
	}
	rc = wgdev_configure(dev, &cfg);
free_cfg:
	wgconfig_free(&cfg);
	return rc;
}

static int walk_allowed(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	uapi_format_allowed_ip(ctx, family, addr, cidr);
	return 0;
}

static void format_peer(struct uapi_buf *b, const struct wgpeer *p)
{
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
	allowedips_walk_peer(&p->aips, walk_allowed, b);
}

void wgdev_get_begin(struct wgdev *dev, struct wgdev_get *g, struct uapi_buf *reply)
{
	uapi_format_device(reply, dev->local.has_identity ? dev->local.private_key : NULL, dev->listen_port,
			   dev->fwmark);
	g->next = dev->first;
	g->link = dev->gets;
	dev->gets = g;
}

void wgdev_get_end(struct wgdev *dev, struct wgdev_get *g)
{
	struct wgdev_get **s = &dev->gets;
	while (*s && *s != g)
		s = &(*s)->link;
	if (*s)
		*s = g->link;
	g->next = NULL;
}

bool wgdev_get_more(struct wgdev *dev, struct wgdev_get *g, struct uapi_buf *reply, size_t max_peers)
{
	for (size_t k = 0; k < max_peers && g->next; k++) {
		format_peer(reply, g->next);
		g->next = g->next->next;
	}
	if (g->next)
		return false;
	uapi_format_errno(reply, 0);
	wgdev_get_end(dev, g);
	return true;
}

void wgdev_uapi(struct wgdev *dev, enum uapi_op op, const char *body, size_t len, struct uapi_buf *reply)
{
	if (op == UAPI_OP_GET) {
		struct wgdev_get g;
		wgdev_get_begin(dev, &g, reply);
		wgdev_get_more(dev, &g, reply, SIZE_MAX);
		return;
	}
	uapi_format_errno(reply, uapi_set(dev, body, len));
}
