/* wgdev in-process: two devices over real UDP sockets on 127.0.0.1 (the
 * test drives their receive paths by hand), TUN fds replaced by datagram
 * socketpairs.  Checks the device's composition of the protocol pieces:
 * roaming before staged packets go out, timers on an initiation, an
 * unchanged private key keeping sessions. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "noise.h"
#include "ratelimit.h"
#include "t.h"
#include "wgdev.h"
#include "wgkey.h"

struct side {
	struct wgdev *dev;
	int tun[2];
	uint8_t priv[32], pub[32];
	char privhex[65], pubhex[65];
};

static int set(struct side *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set(struct side *s, const char *fmt, ...)
{
	char body[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	struct uapi_buf r = { 0 };
	wgdev_uapi(s->dev, UAPI_OP_SET, body, (size_t)n, &r);
	int ok = r.data && strstr(r.data, "errno=0\n") != NULL;
	uapi_buf_free(&r);
	return ok ? 0 : -1;
}

static int side_init(struct side *s, const char *name)
{
	memset(s, 0, sizeof *s);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, s->tun) != 0)
		return -1;
	s->dev = wgdev_new(name, s->tun[0], false);
	if (!s->dev || wgdev_bind(s->dev, 0) != 0)
		return -1;
	noise_keygen(s->priv);
	noise_pubkey(s->pub, s->priv);
	wgkey_to_hex(s->privhex, s->priv);
	wgkey_to_hex(s->pubhex, s->pub);
	return set(s, "private_key=%s\n", s->privhex);
}

static void side_free(struct side *s)
{
	wgdev_free(s->dev);
	close(s->tun[0]);
	close(s->tun[1]);
}

/* An IPv4 UDP-ish packet SRC -> DST of LEN bytes. */
static size_t ip_packet(uint8_t *p, const char *src, const char *dst, size_t len)
{
	memset(p, 0, len);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 17;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	return len;
}

static uint8_t buf[WGDEV_PKT_MAX];

/* Deliver what waits on S's IPv4 socket to S; returns the message types
 * seen as a bit set (1 << type). */
static unsigned pump(struct side *s, uint64_t now)
{
	unsigned seen = 0;
	for (;;) {
		union wg_sockaddr src;
		socklen_t sl = sizeof src;
		ssize_t n = recvfrom(s->dev->udp4, buf, sizeof buf, MSG_DONTWAIT, &src.sa, &sl);
		if (n <= 0)
			break;
		seen |= 1u << (buf[0] & 7);
		wgdev_udp_input(s->dev, buf, (size_t)n, &src, now);
	}
	wgdev_flush(s->dev);
	return seen;
}

/* Message types waiting on FD, consumed. */
static unsigned drain(int fd)
{
	unsigned seen = 0;
	ssize_t n;
	while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
		seen |= 1u << (buf[0] & 7);
	return seen;
}

static int count_rebind(void *arg, int udp4, int udp6)
{
	(void)udp4, (void)udp6;
	(*(int *)arg)++;
	return 0;
}

static int refuse_rebind(void *arg, int udp4, int udp6)
{
	(void)arg, (void)udp4, (void)udp6;
	return -EIO;
}

static uint32_t socket_mark(int fd)
{
	uint32_t mark = 0;
	socklen_t len = sizeof mark;
	return getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) == 0 ? mark : UINT32_MAX;
}

/* A set is all or nothing: one whose listen_port is taken (or whose new
 * sockets the event loop refuses) leaves the fwmark, the key, the port and
 * the peers as they were. */
static void test_all_or_nothing(void)
{
	struct side e;
	if (side_init(&e, "kgtG") != 0) {
		T_CHECK(0, "set up a device: %s", strerror(errno));
		return;
	}
	int taken = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof sin;
	bind(taken, (struct sockaddr *)&sin, sizeof sin);
	getsockname(taken, (struct sockaddr *)&sin, &sl);
	uint16_t port = e.dev->listen_port;
	int fd4 = e.dev->udp4;
	uint8_t other[32], peer[32];
	char otherhex[65], peerhex[65];
	noise_keygen(other);
	wgkey_to_hex(otherhex, other);
	randombytes_buf(peer, sizeof peer);
	wgkey_to_hex(peerhex, peer);
	int rc = set(&e, "private_key=%s\nfwmark=42\nlisten_port=%u\npublic_key=%s\nallowed_ip=10.7.0.1/32\n", otherhex,
		     ntohs(sin.sin_port), peerhex);
	T_CHECK(rc != 0 && e.dev->fwmark == 0 && socket_mark(e.dev->udp4) == 0 && e.dev->listen_port == port &&
		e.dev->udp4 == fd4 && !memcmp(e.dev->local.private_key, e.priv, 32) && e.dev->n_peers == 0,
		"set with a listen_port in use fails and changes nothing: fwmark %u (socket %u), port %u, %zu peers",
		e.dev->fwmark, socket_mark(e.dev->udp4), e.dev->listen_port, e.dev->n_peers);
	wgdev_on_rebind(e.dev, refuse_rebind, NULL);
	rc = set(&e, "fwmark=43\nlisten_port=0\n");
	T_CHECK(rc != 0 && e.dev->fwmark == 0 && e.dev->udp4 == fd4 && socket_mark(fd4) == 0 && e.dev->listen_port == port,
		"new sockets the event loop refuses: the old ones stay, unmarked (fwmark %u, port %u)", e.dev->fwmark,
		e.dev->listen_port);
	wgdev_on_rebind(e.dev, NULL, NULL);
	rc = set(&e, "fwmark=44\n");
	T_CHECK(rc == 0 && e.dev->fwmark == 44 && socket_mark(e.dev->udp4) == 44 &&
		(e.dev->udp6 < 0 || socket_mark(e.dev->udp6) == 44), "fwmark alone: set on both sockets");
	rc = set(&e, "fwmark=0\nlisten_port=0\n");
	T_CHECK(rc == 0 && e.dev->fwmark == 0 && socket_mark(e.dev->udp4) == 0 && e.dev->udp4 != fd4,
		"fwmark 0 with a new port: new sockets, unmarked");
	close(taken);
	side_free(&e);
}

static bool peer_routes(struct wgdev *dev, const char *addr, struct wgpeer *p)
{
	uint8_t a[4];
	inet_pton(AF_INET, addr, a);
	return allowedips_lookup(dev->aips, AF_INET, a) == p;
}

static struct wgconfig_peer *config_peer(struct wgconfig *cfg, const struct side *s, const char *aip)
{
	struct wgconfig_peer *p = wgconfig_add_peer(cfg, s->pub);
	uint8_t a[4];
	inet_pton(AF_INET, aip, a);
	if (p && wgconfig_add_allowed_ip(p, AF_INET, a, 32) != 0)
		return NULL;
	return p;
}

/* wgdev_configure, the typed call the agent uses: a peer added, updated
 * in place without losing its session, removed; the rebind hook. */
static void test_configure(void)
{
	struct side c, d;
	uint8_t pkt[200];
	if (side_init(&c, "kgtC") != 0 || side_init(&d, "kgtD") != 0) {
		T_CHECK(0, "set up two more devices: %s", strerror(errno));
		return;
	}
	/* wgdev_configure runs at the device's own clock: so does this test */
	uint64_t t = wgdev_now(d.dev);
	int rebinds = 0;
	wgdev_on_rebind(d.dev, count_rebind, &rebinds);
	struct wgconfig cfg = { .has_listen_port = true, .listen_port = 0 };
	struct wgconfig_peer *pc = config_peer(&cfg, &c, "10.1.0.1");
	pc->has_endpoint = true;
	pc->endpoint.in.sin_family = AF_INET;
	pc->endpoint.in.sin_port = htons(c.dev->listen_port);
	inet_pton(AF_INET, "127.0.0.1", &pc->endpoint.in.sin_addr);
	int rc = wgdev_configure(d.dev, &cfg);
	wgconfig_free(&cfg);
	struct wgpeer *p = d.dev->n_peers == 1 ? d.dev->first : NULL;
	T_CHECK(rc == 0 && p && p->has_endpoint && peer_routes(d.dev, "10.1.0.1", p),
		"configure: D gets peer C with its endpoint and allowed IP (rc %d)", rc);
	T_CHECK(rebinds == 1, "configure: listen_port 0 rebinds D's sockets, and the hook ran (%d)", rebinds);
	config_peer(&cfg, &d, "10.1.0.2");
	T_CHECK(wgdev_configure(c.dev, &cfg) == 0 && c.dev->n_peers == 1, "configure: C gets peer D");
	wgconfig_free(&cfg);

	/* A session: D initiates, C answers. */
	wgdev_tun_input(d.dev, pkt, ip_packet(pkt, "10.1.0.2", "10.1.0.1", 100), t);
	wgdev_flush(d.dev);
	pump(&c, t);
	pump(&d, t);
	struct noise_keypair *session = p ? p->kps.current : NULL;
	T_CHECK(session != NULL, "D and C completed a handshake");

	/* Update: another allowed IP, a keepalive; the session stays. */
	config_peer(&cfg, &c, "10.1.0.9")->has_keepalive = true;
	cfg.peers[0].keepalive = 25;
	drain(c.dev->udp4);
	rc = wgdev_configure(d.dev, &cfg);
	wgconfig_free(&cfg);
	T_CHECK(rc == 0 && d.dev->n_peers == 1 && d.dev->first == p && p->kps.current == session &&
		p->keepalive == 25, "configure: updating C keeps the peer and its session");
	T_CHECK(peer_routes(d.dev, "10.1.0.1", p) && peer_routes(d.dev, "10.1.0.9", p),
		"configure: the update added an allowed IP to the ones C had");
	T_CHECK(drain(c.dev->udp4) == 1u << 4, "configure: the new persistent keepalive went out at once");

	/* replace_allowed_ips drops the old ones. */
	config_peer(&cfg, &c, "10.1.0.7")->replace_allowed_ips = true;
	rc = wgdev_configure(d.dev, &cfg);
	wgconfig_free(&cfg);
	T_CHECK(rc == 0 && peer_routes(d.dev, "10.1.0.7", p) && !peer_routes(d.dev, "10.1.0.1", p) &&
		p->kps.current == session, "configure: replace_allowed_ips leaves only the new one, session kept");

	/* update_only for an unknown key adds nothing; remove removes. */
	config_peer(&cfg, &d, "10.1.0.3")->update_only = true;
	wgconfig_add_peer(&cfg, c.pub)->remove = true;
	rc = wgdev_configure(d.dev, &cfg);
	wgconfig_free(&cfg);
	T_CHECK(rc == 0 && d.dev->n_peers == 0 && peer_routes(d.dev, "10.1.0.7", NULL),
		"configure: update_only adds nothing, remove takes C and its routes away (%zu peers)", d.dev->n_peers);
	struct wgconfig_peer *bad = wgconfig_add_peer(&cfg, c.pub);
	T_CHECK(wgconfig_add_allowed_ip(bad, AF_INET, "\0\0\0\0", 33) == -EINVAL &&
		wgconfig_add_allowed_ip(bad, AF_UNIX, "\0\0\0\0", 8) == -EINVAL && bad->n_allowed == 0,
		"wgconfig_add_allowed_ip refuses a CIDR too long and an unknown family");
	wgconfig_free(&cfg);
	side_free(&c);
	side_free(&d);
}

/* wgdev_tick among many peers (they wait in a queue by deadline, not
 * scanned): the one peer with a timer acts, at its time and not before. */
static void test_tick(void)
{
	enum { MANY = 2000 };
	struct side e, sink;
	if (side_init(&e, "kgtE") != 0 || side_init(&sink, "kgtF") != 0) {
		T_CHECK(0, "set up two more devices: %s", strerror(errno));
		return;
	}
	struct wgconfig cfg = { 0 };
	for (int i = 0; i < MANY; i++) {
		uint8_t k[32];
		randombytes_buf(k, sizeof k);
		wgconfig_add_peer(&cfg, k);
	}
	struct wgconfig_peer *x = wgconfig_add_peer(&cfg, sink.pub);
	x->has_endpoint = x->has_keepalive = true;
	x->keepalive = 25;
	x->endpoint.in.sin_family = AF_INET;
	x->endpoint.in.sin_port = htons(sink.dev->listen_port);
	inet_pton(AF_INET, "127.0.0.1", &x->endpoint.in.sin_addr);
	uint64_t now = wgdev_now(e.dev);
	int rc = wgdev_configure(e.dev, &cfg);
	wgconfig_free(&cfg);
	T_CHECK(rc == 0 && drain(sink.dev->udp4) == 1u << 1,
		"tick: a persistent keepalive without a session starts a handshake at once (rc %d)", rc);
	wgdev_tick(e.dev, now + 4 * NOISE_NS);
	wgdev_flush(e.dev);
	unsigned early = drain(sink.dev->udp4);
	wgdev_tick(e.dev, now + 7 * NOISE_NS);
	wgdev_flush(e.dev);
	unsigned due = drain(sink.dev->udp4);
	T_CHECK(early == 0 && due == 1u << 1,
		"tick: among %d peers, the initiation is sent again after 5 s, not before (at 4 s 0x%x, at 7 s 0x%x)",
		MANY + 1, early, due);
	side_free(&e);
	side_free(&sink);
}

int main(void)
{
	struct side a, b;
	uint8_t pkt[200];
	uint64_t t = 1000 * NOISE_NS;
	if (sodium_init() < 0 || side_init(&a, "kgtA") != 0 || side_init(&b, "kgtB") != 0) {
		T_CHECK(0, "set up two devices on 127.0.0.1: %s", strerror(errno));
		T_DONE();
	}
	T_CHECK(set(&a, "public_key=%s\nallowed_ip=10.0.0.2/32\n", b.pubhex) == 0 &&
		set(&b, "public_key=%s\nallowed_ip=10.0.0.1/32\nendpoint=127.0.0.1:%u\n", a.pubhex,
		    a.dev->listen_port) == 0, "configure A (responder, no endpoint) and B (initiator)");

	/* B has data for A: initiation; A answers and holds a `next` keypair. */
	wgdev_tun_input(b.dev, pkt, ip_packet(pkt, "10.0.0.2", "10.0.0.1", 100), t);
	wgdev_flush(b.dev);
	T_CHECK(pump(&a, t) == 1u << 1, "A received B's initiation");
	struct wgpeer *pb = a.dev->first;
	T_CHECK(pb->kps.next && !pb->kps.current, "A holds the new session as `next` until B confirms it");
	/* A has data for B before B's first transport message: it is staged. */
	wgdev_tun_input(a.dev, pkt, ip_packet(pkt, "10.0.0.1", "10.0.0.2", 120), t);
	wgdev_flush(a.dev);
	T_CHECK(pb->n_staged == 1, "A staged its packet (%zu)", pb->n_staged);

	/* B takes the response, then moves to a new port (a NAT rebinding)
	 * before its first transport message leaves. */
	union wg_sockaddr src;
	socklen_t sl = sizeof src;
	ssize_t n = recvfrom(b.dev->udp4, buf, sizeof buf, 0, &src.sa, &sl);
	uint16_t old_port = b.dev->listen_port;
	T_CHECK(n == NOISE_RESPONSE_LEN, "B received A's response");
	wgdev_udp_input(b.dev, buf, (size_t)n, &src, t);
	int old_sock = dup(b.dev->udp4);
	T_CHECK(wgdev_bind(b.dev, 0) == 0 && b.dev->listen_port != old_port, "B rebound from port %u to %u",
		old_port, b.dev->listen_port);
	wgdev_flush(b.dev);
	/* A gets B's data from the new port: the session is confirmed, the
	 * endpoint roams, the staged packet goes out. */
	T_CHECK(pump(&a, t) == 1u << 4, "A received B's transport message from the new port");
	T_CHECK(pb->kps.current && pb->n_staged == 0, "A promoted the session and sent what was staged");
	T_CHECK(ntohs(pb->endpoint.in.sin_port) == b.dev->listen_port, "A's endpoint for B is the new port");
	unsigned at_new = drain(b.dev->udp4), at_old = drain(old_sock);
	T_CHECK(at_new == 1u << 4 && !(at_old & (1u << 4)),
		"the staged packet went to B's new port (types there 0x%x, at the old one 0x%x)", at_new, at_old);
	close(old_sock);

	/* A sent data and waits for an answer (new_handshake armed); an
	 * initiation from B is authenticated traffic and disarms it, as in
	 * wireguard-go. */
	wgdev_tun_input(a.dev, pkt, ip_packet(pkt, "10.0.0.1", "10.0.0.2", 120), t + NOISE_NS);
	wgdev_flush(a.dev);
	drain(b.dev->udp4);
	T_CHECK(pb->timers.new_handshake != 0, "A's data armed the new-handshake timer");
	T_CHECK(set(&b, "public_key=%s\nremove=true\n", a.pubhex) == 0 &&
		set(&b, "public_key=%s\nallowed_ip=10.0.0.1/32\nendpoint=127.0.0.1:%u\n", a.pubhex,
		    a.dev->listen_port) == 0, "B forgets A and is configured again");
	usleep(100000); /* TAI64N timestamps are whitened to 2^24 ns: the new one must be later */
	wgdev_tun_input(b.dev, pkt, ip_packet(pkt, "10.0.0.2", "10.0.0.1", 100), t + 2 * NOISE_NS);
	wgdev_flush(b.dev);
	struct noise_keypair *next_before = pb->kps.next;
	T_CHECK(pump(&a, t + 2 * NOISE_NS) == 1u << 1 && pb->kps.next && pb->kps.next != next_before,
		"A accepted B's new initiation (a new `next` session)");
	T_CHECK(pb->timers.new_handshake == 0, "the initiation disarmed A's new-handshake timer");

	/* The same private key again keeps A's sessions. */
	struct noise_keypair *cur = pb->kps.current, *next = pb->kps.next;
	T_CHECK(set(&a, "private_key=%s\n", a.privhex) == 0 && pb->kps.current == cur && pb->kps.next == next &&
		(cur || next), "setting A's unchanged private key keeps its sessions");
	uint8_t other[32];
	char otherhex[65];
	noise_keygen(other);
	wgkey_to_hex(otherhex, other);
	T_CHECK(set(&a, "private_key=%s\n", otherhex) == 0 && !pb->kps.current && !pb->kps.next,
		"a different private key drops them");
	/* Many peers: lookups by public key through the table as it grows. */
	enum { MANY = 3000 };
	static uint8_t keys[MANY][32];
	static char body[MANY * 80];
	size_t len = 0;
	for (int i = 0; i < MANY; i++) {
		char hex[65];
		randombytes_buf(keys[i], 32);
		wgkey_to_hex(hex, keys[i]);
		len += (size_t)snprintf(body + len, sizeof body - len, "public_key=%s\n", hex);
	}
	size_t before = a.dev->n_peers;
	struct uapi_buf r = { 0 };
	wgdev_uapi(a.dev, UAPI_OP_SET, body, len, &r);
	uapi_buf_free(&r);
	T_CHECK(a.dev->n_peers == before + MANY, "%d peers added in one set (%zu in all)", MANY, a.dev->n_peers);
	memset(&r, 0, sizeof r);
	wgdev_uapi(a.dev, UAPI_OP_SET, body, len, &r); /* the same keys again: updates, no new peers */
	uapi_buf_free(&r);
	T_CHECK(a.dev->n_peers == before + MANY, "the same %d keys again add nothing (%zu)", MANY, a.dev->n_peers);
	len = 0;
	for (int i = 0; i < MANY; i += 2) {
		char hex[65];
		wgkey_to_hex(hex, keys[i]);
		len += (size_t)snprintf(body + len, sizeof body - len, "public_key=%s\nremove=true\n", hex);
	}
	memset(&r, 0, sizeof r);
	wgdev_uapi(a.dev, UAPI_OP_SET, body, len, &r);
	uapi_buf_free(&r);
	T_CHECK(a.dev->n_peers == before + MANY / 2, "every other one removed by key (%zu left)", a.dev->n_peers);
	size_t listed = 0;
	bool links_ok = true;
	for (struct wgpeer *q = a.dev->first; q; q = q->next, listed++)
		links_ok &= q->next ? q->next->prev == q : a.dev->last == q;
	T_CHECK(links_ok && listed == a.dev->n_peers, "the list of peers holds the %zu left, linked both ways (%zu listed)",
		a.dev->n_peers, listed);
	usleep(100000);
	set(&a, "private_key=%s\n", a.privhex);
	wgdev_tun_input(b.dev, pkt, ip_packet(pkt, "10.0.0.2", "10.0.0.1", 100), t + 10 * NOISE_NS);
	wgdev_flush(b.dev);
	next_before = pb->kps.next;
	pump(&a, t + 10 * NOISE_NS);
	T_CHECK(pb->kps.next && pb->kps.next != next_before, "among them B is still found: its initiation is accepted");
	/* Under load means a backed-up receive queue: with A's socket full of
	 * unread datagrams, an initiation without mac2 gets a cookie reply;
	 * with the queue drained, and the second of load over, a response. */
	drain(b.dev->udp4);
	usleep(100000);
	wgdev_tun_input(b.dev, pkt, ip_packet(pkt, "10.0.0.2", "10.0.0.1", 100), t + 20 * NOISE_NS);
	wgdev_flush(b.dev);
	uint8_t init[NOISE_INITIATION_LEN];
	sl = sizeof src;
	n = recvfrom(a.dev->udp4, init, sizeof init, MSG_DONTWAIT, &src.sa, &sl);
	T_CHECK(n == NOISE_INITIATION_LEN, "B's initiation waits in A's socket");
	int junk = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(a.dev->listen_port) };
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	memset(buf, 0xee, 1400);
	for (int i = 0; i < 400; i++)
		sendto(junk, buf, 1400, 0, (struct sockaddr *)&to, sizeof to);
	close(junk);
	unsigned long cookies = a.dev->stats.cookies_sent;
	wgdev_udp_input(a.dev, init, (size_t)n, &src, t + 20 * NOISE_NS);
	wgdev_flush(a.dev);
	unsigned at_b = drain(b.dev->udp4);
	T_CHECK(a.dev->stats.cookies_sent == cookies + 1 && at_b == 1u << 3,
		"with A's receive queue backed up, B's initiation gets a cookie reply (%lu cookies, types 0x%x)",
		(unsigned long)(a.dev->stats.cookies_sent - cookies), at_b);
	drain(a.dev->udp4);
	usleep(100000);
	wgdev_tun_input(b.dev, pkt, ip_packet(pkt, "10.0.0.2", "10.0.0.1", 100), t + 25 * NOISE_NS);
	wgdev_flush(b.dev);
	sl = sizeof src;
	n = recvfrom(a.dev->udp4, init, sizeof init, MSG_DONTWAIT, &src.sa, &sl);
	wgdev_udp_input(a.dev, init, (size_t)n, &src, t + 25 * NOISE_NS);
	wgdev_flush(a.dev);
	T_CHECK(n == NOISE_INITIATION_LEN && a.dev->stats.cookies_sent == cookies + 1 &&
		drain(b.dev->udp4) == 1u << 2,
		"with the queue drained and the second of load over, B's next initiation gets a response");

	/* A flood of 100 copies of that initiation in one batch: WGDEV_HS_BATCH
	 * are held (the rest dropped, which alone means load), and of the held
	 * ones only RATELIMIT_BURST get a cookie reply: one source's share. */
	uint64_t tf = t + 40 * NOISE_NS;
	unsigned long c0 = a.dev->stats.cookies_sent, l0 = a.dev->stats.cookies_limited;
	unsigned long d0 = a.dev->stats.rx_dropped_hs_batch;
	for (int i = 0; i < 100; i++)
		wgdev_udp_input(a.dev, init, NOISE_INITIATION_LEN, &src, tf);
	wgdev_flush(a.dev);
	unsigned long sent1 = a.dev->stats.cookies_sent - c0, limited1 = a.dev->stats.cookies_limited - l0;
	T_CHECK(a.dev->stats.rx_dropped_hs_batch - d0 == 100 - WGDEV_HS_BATCH && sent1 == RATELIMIT_BURST &&
		limited1 == WGDEV_HS_BATCH - RATELIMIT_BURST,
		"a flood from one source: %d held, %lu cookie replies, %lu refused by its rate",
		WGDEV_HS_BATCH, sent1, limited1);
	/* From 8 x 64 sources at once: all together at most a tenth of
	 * WGDEV_COOKIE_REPLIES_PER_SEC (the burst), the source above included. */
	union wg_sockaddr spoof = src;
	for (int k = 0; k < 8; k++) {
		for (int j = 0; j < WGDEV_HS_BATCH; j++) {
			spoof.in.sin_addr.s_addr = htonl(0x7f010000u | (uint32_t)k << 8 | (uint32_t)j);
			spoof.in.sin_port = htons(9);
			wgdev_udp_input(a.dev, init, NOISE_INITIATION_LEN, &spoof, tf);
		}
		wgdev_flush(a.dev);
	}
	unsigned long sent2 = a.dev->stats.cookies_sent - c0;
	T_CHECK(sent2 == WGDEV_COOKIE_REPLIES_PER_SEC / 10,
		"a flood from %d sources: %lu cookie replies in all, the global burst", 8 * WGDEV_HS_BATCH, sent2);
	drain(b.dev->udp4);

	/* Test tunables: honoured only within their ranges. */
	static const struct { unsigned rate, thr; int rate_rc, thr_rc; } knobs[] = {
		{ 40, 20, 0, 0 }, { WGDEV_CLOCK_RATE_MAX, WGDEV_LOAD_THRESHOLD_MAX, 0, 0 }, { 1, 0, 0, 0 },
		{ 0, WGDEV_LOAD_THRESHOLD_MAX + 1, -EINVAL, -EINVAL }, { WGDEV_CLOCK_RATE_MAX + 1, 5, -EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
		struct wgdev *d = wgdev_new("kgtK", -1, false);
		int rc_rate = d ? wgdev_set_clock_rate(d, knobs[i].rate) : -ENOMEM;
		int rc_thr = d ? wgdev_set_load_threshold(d, knobs[i].thr) : -ENOMEM;
		T_CHECK(rc_rate == knobs[i].rate_rc && rc_thr == knobs[i].thr_rc &&
			d->clock_rate == (rc_rate ? 1 : knobs[i].rate) && d->load_threshold == (rc_thr ? 0 : knobs[i].thr),
			"clock rate %u (%d), load threshold %u (%d)", knobs[i].rate, knobs[i].rate_rc, knobs[i].thr,
			knobs[i].thr_rc);
		wgdev_free(d);
	}
	test_configure();
	test_tick();
	test_all_or_nothing();
	side_free(&a);
	side_free(&b);
	T_DONE();
}
