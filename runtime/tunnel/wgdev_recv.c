/* wgdev_recv: the receive path: transport messages decrypted, checked
 * against the sender's allowed IPs and written to the TUN device in
 * batches; handshake messages held until the batch's transport messages are
 * done, then handled behind the cookie gate, with one load decision for the
 * batch and cookie replies rate-limited. */
#include "wgdev.h"
#include "log.h"
#include "transport.h"
#include "tungso.h"
#include "wgdev_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS NOISE_NS
#define LOAD_WINDOW_NS NS

static void tun_write(struct wgdev *dev, const uint8_t *frame, size_t len)
{
	if (write(dev->tun_fd, frame, len) < 0 && errno != EAGAIN)
		log_debug("%s: tun write: %m", dev->ifname);
}

/* Write the decrypted packets, TCP runs merged when the TUN takes GSO. */
void wgdev_rx_flush(struct wgdev *dev)
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

/* Decided once per receive batch of N handshake messages: under load for a
 * second once the receive queue backs up, the batch held more than
 * WGDEV_HS_BATCH, or more handshake messages than WGDEV_HS_RATE_LOAD (or
 * the test setting wgdev_set_load_threshold) arrive in a second. */
static bool under_load(struct wgdev *dev, size_t n, uint64_t now)
{
	if (now - dev->load_window >= LOAD_WINDOW_NS) {
		dev->load_window = now;
		dev->load_count = 0;
	}
	dev->load_count += (unsigned)n;
	bool over_rate = dev->load_count > (dev->load_threshold ? dev->load_threshold : WGDEV_HS_RATE_LOAD);
	if (over_rate || dev->hs_overflow || udp_backlogged(dev->udp4) || udp_backlogged(dev->udp6))
		dev->under_load_until = now + NS;
	return now < dev->under_load_until;
}

#define COOKIE_COST (NS / WGDEV_COOKIE_REPLIES_PER_SEC)	/* tokens are nanoseconds */
#define COOKIE_BURST (COOKIE_COST * (WGDEV_COOKIE_REPLIES_PER_SEC / 10))

/* May a cookie reply go to SRC now?  Each source gets as many as it may
 * send handshakes (ratelimit), and all together at most
 * WGDEV_COOKIE_REPLIES_PER_SEC: a flood from spoofed sources is not
 * answered packet for packet. */
static bool cookie_reply_allowed(struct wgdev *dev, const union wg_sockaddr *src, uint64_t now)
{
	uint64_t t = dev->cookie_tokens + (now > dev->cookie_refill ? now - dev->cookie_refill : 0);
	dev->cookie_refill = now;
	dev->cookie_tokens = t > COOKIE_BURST ? COOKIE_BURST : t;
	if (dev->cookie_tokens < COOKIE_COST || !ratelimit_allow(dev->rl_cookie, &src->sa, now))
		return false;
	dev->cookie_tokens -= COOKIE_COST;
	return true;
}

/* Under load a handshake message needs a valid mac2; otherwise answer with a
 * cookie reply.  True when the message may be processed. */
static bool cookie_gate(struct wgdev *dev, const uint8_t *msg, size_t len, const union wg_sockaddr *src,
			bool loaded, uint64_t now)
{
	uint8_t srcb[COOKIE_SRC_MAX], reply[COOKIE_REPLY_LEN];
	if (!cookie_check_mac1(&dev->local.cookie, msg, len)) {
		dev->stats.rx_dropped_auth++;
		return false;
	}
	if (!loaded)
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
	if (!cookie_reply_allowed(dev, src, now)) {
		dev->stats.cookies_limited++;
		return false;
	}
	if (cookie_create_reply(&dev->local.cookie, reply, msg, len, srcb, (size_t)srclen, now, NULL) == 0) {
		wgdev_send_to(dev, src, reply, sizeof reply);
		dev->stats.cookies_sent++;
		log_debug("%s: under load: sent a cookie reply", dev->ifname);
	}
	return false;
}

static void handle_initiation(struct wgdev *dev, const uint8_t *msg, size_t len, const union wg_sockaddr *src,
			      bool loaded, uint64_t now)
{
	struct noise_initiation st;
	uint8_t resp[NOISE_RESPONSE_LEN];
	struct noise_keypair kp;
	uint32_t dropped[3];
	size_t ndropped = 0;
	if (!dev->local.has_identity || !cookie_gate(dev, msg, len, src, loaded, now))
		return;
	if (noise_initiation_open(&dev->local, msg, len, &st) != 0) {
		dev->stats.rx_dropped_auth++;
		noise_initiation_wipe(&st);
		return;
	}
	struct wgpeer *p = wgdev_peer_find(dev, st.remote_static);
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
	wgdev_idx_del(dev, p->hs_index);
	p->hs_index = wgdev_idx_new(dev, p);
	if (!p->hs_index || noise_create_response(&p->np, p->hs_index, now, NULL, resp) != 0 ||
	    noise_derive_keypair(&p->np, &kp, now) != 0) {
		noise_handshake_clear(&p->np);
		return;
	}
	noise_keypairs_install(&p->kps, &kp, dropped, &ndropped);
	sodium_memzero(&kp, sizeof kp);
	wgdev_idx_del_list(dev, dropped, ndropped);
	p->hs_index = 0; /* now owned by the keypair */
	wgdev_peer_set_endpoint(p, src);
	wgdev_send_to_peer(dev, p, resp, sizeof resp);
	p->rx_bytes += len;
	timers_session_derived(&p->timers, now);
	timers_any_authenticated_packet_received(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	timers_any_authenticated_packet_sent(&p->timers, now);
	wgdev_peer_timers_changed(dev, p);
}

static void handle_response(struct wgdev *dev, const uint8_t *msg, size_t len, const union wg_sockaddr *src,
			    bool loaded, uint64_t now)
{
	struct noise_keypair kp;
	uint32_t dropped[3];
	size_t ndropped = 0;
	struct wgpeer *p = wgdev_idx_lookup(dev, noise_msg_receiver(msg, len));
	if (!p || !cookie_gate(dev, msg, len, src, loaded, now))
		return;
	if (noise_consume_response(&p->np, &dev->local, msg, len) != 0) {
		dev->stats.rx_dropped_auth++;
		return;
	}
	if (noise_derive_keypair(&p->np, &kp, now) != 0)
		return;
	noise_keypairs_install(&p->kps, &kp, dropped, &ndropped);
	sodium_memzero(&kp, sizeof kp);
	wgdev_idx_del_list(dev, dropped, ndropped);
	p->hs_index = 0;
	wgdev_peer_set_endpoint(p, src);
	p->rx_bytes += len;
	timers_session_derived(&p->timers, now);
	handshake_complete(dev, p, now);
	timers_any_authenticated_packet_received(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	wgdev_peer_timers_changed(dev, p);
	wgdev_send_keepalive(dev, p, now);
}

static void handle_cookie(struct wgdev *dev, const uint8_t *msg, size_t len, uint64_t now)
{
	struct wgpeer *p = wgdev_idx_lookup(dev, noise_msg_receiver(msg, len));
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

static void handle_transport(struct wgdev *dev, uint8_t *msg, size_t len, const union wg_sockaddr *src,
			     uint64_t now)
{
	uint32_t idx = noise_msg_receiver(msg, len);
	struct wgpeer *p = wgdev_idx_lookup(dev, idx);
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
	wgdev_idx_del_list(dev, dropped, ndropped);
	/* The endpoint first: after a roam, staged packets go to the new one. */
	wgdev_peer_set_endpoint(p, src);
	if (promoted) {
		handshake_complete(dev, p, now);
		wgdev_send_staged(dev, p, now);
	}
	p->rx_bytes += len;
	timers_any_authenticated_packet_received(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	if (timers_want_rekey_on_receive(&p->timers, p->kps.current, now))
		wgdev_send_initiation(dev, p, false, now);
	if (plen)
		timers_data_received(&p->timers, now);	/* not for a keepalive */
	wgdev_peer_timers_changed(dev, p);
	if (plen == 0)
		return;
	uint8_t *plain = msg + TRANSPORT_HEADER_LEN;
	size_t ilen = inner_check(dev, p, plain, plen);
	if (!ilen) {
		dev->stats.rx_dropped_allowedips++;
		log_inner_drop(dev, plain, plen);
		return;
	}
	if (dev->n_rx == WGDEV_RX_BATCH)
		wgdev_rx_flush(dev);
	dev->rx_pkt[dev->n_rx] = plain;
	dev->rx_len[dev->n_rx] = ilen;
	dev->n_rx++;
}

/* Keep a handshake message for wgdev_handshakes_run. */
static void hold_handshake(struct wgdev *dev, uint8_t *pkt, size_t len, const union wg_sockaddr *src, uint64_t now)
{
	if (dev->n_hs == WGDEV_HS_BATCH) {
		dev->hs_overflow = true;
		dev->stats.rx_dropped_hs_batch++;
		return;
	}
	dev->hs[dev->n_hs].pkt = pkt;
	dev->hs[dev->n_hs].len = len;
	dev->hs[dev->n_hs].src = *src;
	dev->n_hs++;
	dev->hs_now = now;
}

void wgdev_handshakes_run(struct wgdev *dev)
{
	size_t n = dev->n_hs;
	uint64_t now = dev->hs_now;
	bool loaded = under_load(dev, n, now);
	dev->n_hs = 0;
	dev->hs_overflow = false;
	for (size_t i = 0; i < n; i++) {
		if (noise_msg_type(dev->hs[i].pkt, dev->hs[i].len) == NOISE_MSG_INITIATION)
			handle_initiation(dev, dev->hs[i].pkt, dev->hs[i].len, &dev->hs[i].src, loaded, now);
		else
			handle_response(dev, dev->hs[i].pkt, dev->hs[i].len, &dev->hs[i].src, loaded, now);
	}
}

void wgdev_udp_input(struct wgdev *dev, uint8_t *pkt, size_t len, const union wg_sockaddr *src, uint64_t now)
{
	switch (noise_msg_type(pkt, len)) {
	case NOISE_MSG_INITIATION:
	case NOISE_MSG_RESPONSE:
		hold_handshake(dev, pkt, len, src, now);
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
