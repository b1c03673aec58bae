/* Simulation of two WireGuard peers built only from the protocol core
 * (noise, keypairs, transport, cookie, timers) over an in-memory network with
 * a fake clock: the composition the daemon performs, driven through long
 * scenarios (rekeys, loss, an unreachable peer, a responder under load,
 * keepalives, zeroing).  The drive rules follow wireguard-go's send and
 * receive paths. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cookie.h"
#include "noise.h"
#include "t.h"
#include "timers.h"
#include "transport.h"

#define MS 1000000ULL
#define SEC NOISE_NS
#define STEP (10 * MS)		/* simulation step and one-way latency */
#define PAYLOAD 100
#define MAXQ 256

struct node {
	const char *name;
	struct noise_local l;
	struct noise_peer p;
	struct noise_keypairs kps;
	struct timers t;
	uint32_t next_index;
	uint8_t src[6];		/* its address bytes as the other sees them */
	bool under_load, down;
	unsigned staged;	/* data packets waiting for a session */
	/* counters */
	unsigned sent, delivered, bad_payload, initiations, responses, cookie_replies_sent, cookies_taken;
	unsigned keepalives_sent, handshakes, give_ups, zeroed, encrypt_failures;
};

struct pkt {
	int to;
	uint64_t at;
	size_t len;
	uint8_t data[PAYLOAD + 64];
};

static struct node nodes[2];
static struct pkt queue[MAXQ];
static size_t nqueue;

static void net_send(int from, const uint8_t *data, size_t len, uint64_t now)
{
	int to = !from;

	if (nodes[to].down || nqueue == MAXQ || len > sizeof(queue[0].data))
		return;
	queue[nqueue].to = to;
	queue[nqueue].at = now + STEP;
	queue[nqueue].len = len;
	memcpy(queue[nqueue].data, data, len);
	nqueue++;
}

static void send_initiation(int i, uint64_t now, bool retry)
{
	struct node *n = &nodes[i];
	uint8_t msg[NOISE_INITIATION_LEN];

	if (!timers_may_send_initiation(&n->t, now, retry))
		return;
	/* The wall clock of the simulation is its fake clock (TAI64N from now). */
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	noise_tai64n_at(ts, now / SEC, (uint32_t)(now % SEC));
	struct noise_det det = { NULL, ts };
	if (noise_create_initiation(&n->p, &n->l, n->next_index++, now, &det, msg) != 0)
		return;
	n->initiations++;
	if (getenv("SIMDEBUG"))
		printf("# %s t=%.2f initiation idx %x retry %d\n", n->name, now / 1e9, n->next_index - 1, retry);
	net_send(i, msg, sizeof(msg), now);
	timers_handshake_initiated(&n->t, now);
	timers_any_authenticated_packet_traversal(&n->t, now);
	timers_any_authenticated_packet_sent(&n->t, now);
}

/* Encrypt and send one packet (LEN 0: keepalive) on the current keypair. */
static bool send_packet(int i, size_t len, uint64_t now)
{
	struct node *n = &nodes[i];
	struct noise_keypair *kp = n->kps.current;
	uint8_t buf[PAYLOAD + 64];
	size_t out;

	if (!noise_keypair_can_send(kp, now))
		return false;
	memset(buf + TRANSPORT_HEADER_LEN, 0, len);
	for (size_t j = 0; j < len; j++)
		buf[TRANSPORT_HEADER_LEN + j] = (uint8_t)(j * 7 + i);
	if (transport_encrypt(kp, buf, sizeof(buf), len, 1420, now, &out) != 0) {
		n->encrypt_failures++;
		return false;
	}
	net_send(i, buf, out, now);
	if (len)
		timers_data_sent(&n->t, now);
	else
		n->keepalives_sent++;
	timers_any_authenticated_packet_sent(&n->t, now);
	timers_any_authenticated_packet_traversal(&n->t, now);
	if (timers_want_rekey_on_send(&n->t, kp, now))
		send_initiation(i, now, false);
	return true;
}

/* Staged data goes out when a keypair can carry it; else ask for a handshake. */
static void send_staged(int i, uint64_t now)
{
	struct node *n = &nodes[i];

	if (!n->staged)
		return;
	if (!noise_keypair_can_send(n->kps.current, now)) {
		send_initiation(i, now, false);
		return;
	}
	while (n->staged && send_packet(i, PAYLOAD, now))
		n->staged--;
}

static void app_send(int i, uint64_t now)
{
	nodes[i].sent++;
	nodes[i].staged++;
	send_staged(i, now);
}

static void send_keepalive(int i, uint64_t now)
{
	if (nodes[i].staged) {
		send_staged(i, now);
		return;
	}
	if (!send_packet(i, 0, now))
		send_initiation(i, now, false);
}

static void install(int i, struct noise_keypair *kp, uint64_t now)
{
	uint32_t dropped[3];
	size_t nd;

	if (getenv("SIMDEBUG"))
		printf("# %s t=%.2f install idx %x initiator %d\n", nodes[i].name, now / 1e9, kp->local_index, kp->is_initiator);
	noise_keypairs_install(&nodes[i].kps, kp, dropped, &nd);
	timers_session_derived(&nodes[i].t, now);
}

/* Under load, a handshake message must carry a valid mac2 or get a cookie reply. */
static bool cookie_gate(int i, const uint8_t *msg, size_t len, uint64_t now)
{
	struct node *n = &nodes[i];
	uint8_t reply[COOKIE_REPLY_LEN];

	if (!n->under_load || cookie_check_mac2(&n->l.cookie, msg, len, nodes[!i].src, 6, now))
		return true;
	if (cookie_create_reply(&n->l.cookie, reply, msg, len, nodes[!i].src, 6, now, NULL) == 0) {
		n->cookie_replies_sent++;
		net_send(i, reply, sizeof(reply), now);
	}
	return false;
}

static void receive(int i, uint8_t *msg, size_t len, uint64_t now)
{
	struct node *n = &nodes[i];
	struct noise_keypair kp;
	uint32_t dropped[3];
	size_t nd, plen;

	switch (noise_msg_type(msg, len)) {
	case NOISE_MSG_INITIATION: {
		struct noise_initiation st;
		uint8_t resp[NOISE_RESPONSE_LEN];
		if (!cookie_check_mac1(&n->l.cookie, msg, len) || !cookie_gate(i, msg, len, now))
			return;
		if (noise_initiation_open(&n->l, msg, len, &st) != 0 || noise_initiation_accept(&n->p, &n->l, &st, now) != 0)
			return;
		if (noise_create_response(&n->p, n->next_index++, now, NULL, resp) != 0 ||
		    noise_derive_keypair(&n->p, &kp, now) != 0)
			return;
		install(i, &kp, now);
		n->responses++;
		net_send(i, resp, sizeof(resp), now);
		timers_any_authenticated_packet_traversal(&n->t, now);
		timers_any_authenticated_packet_sent(&n->t, now);
		break;
	}
	case NOISE_MSG_RESPONSE:
		if (!cookie_check_mac1(&n->l.cookie, msg, len) || !cookie_gate(i, msg, len, now))
			return;
		if (noise_consume_response(&n->p, &n->l, msg, len) != 0 || noise_derive_keypair(&n->p, &kp, now) != 0)
			return;
		install(i, &kp, now);
		n->handshakes++;
		timers_handshake_complete(&n->t, now);
		timers_any_authenticated_packet_received(&n->t, now);
		timers_any_authenticated_packet_traversal(&n->t, now);
		send_keepalive(i, now);		/* confirms the session to the responder */
		break;
	case NOISE_MSG_COOKIE:
		if (cookie_consume_reply(&n->p.cookie, msg, len, now) == 0)
			n->cookies_taken++;
		break;
	case NOISE_MSG_TRANSPORT: {
		struct noise_keypair *k = noise_keypairs_lookup(&n->kps, noise_msg_receiver(msg, len));
		int drc = transport_decrypt(k, msg, len, now, &plen);
		if (drc != 0) {
			if (getenv("SIMDEBUG"))
				printf("# %s t=%.2f decrypt idx %x -> %d (cur %x prev %x next %x)\n", n->name, now / 1e9,
				       noise_msg_receiver(msg, len), drc, n->kps.current ? n->kps.current->local_index : 0,
				       n->kps.previous ? n->kps.previous->local_index : 0, n->kps.next ? n->kps.next->local_index : 0);
			return;
		}
		if (noise_keypairs_received(&n->kps, k, dropped, &nd)) {
			n->handshakes++;
			timers_handshake_complete(&n->t, now);
			send_staged(i, now);
		}
		timers_any_authenticated_packet_received(&n->t, now);
		timers_any_authenticated_packet_traversal(&n->t, now);
		if (plen) {
			bool good = plen == transport_padded_len(PAYLOAD, 1420);
			for (size_t j = 0; good && j < PAYLOAD; j++)
				good = msg[TRANSPORT_HEADER_LEN + j] == (uint8_t)(j * 7 + !i);
			if (good)
				n->delivered++;
			else
				n->bad_payload++;
			timers_data_received(&n->t, now);
		}
		if (timers_want_rekey_on_receive(&n->t, n->kps.current, now))
			send_initiation(i, now, false);
		break;
	}
	default:
		break;
	}
}

static void tick(int i, uint64_t now)
{
	struct node *n = &nodes[i];
	uint32_t dropped[3];
	size_t nd;

	if (timers_next_deadline(&n->t) > now)
		return;
	unsigned act = timers_expire(&n->t, now);
	if (act & TIMERS_ZERO_KEYS) {
		n->zeroed++;
		noise_keypairs_clear(&n->kps, dropped, &nd);
		noise_handshake_clear(&n->p);
	}
	if (act & TIMERS_GIVE_UP) {
		n->give_ups++;
		n->staged = 0;
	}
	if (act & TIMERS_SEND_INITIATION)
		send_initiation(i, now, n->t.retry_pending);
	if (act & TIMERS_SEND_KEEPALIVE)
		send_keepalive(i, now);
}

static void sim_init(uint16_t keepalive_a)
{
	uint8_t ka[32], kb[32];

	memset(nodes, 0, sizeof(nodes));
	nqueue = 0;
	noise_keygen(ka);
	noise_keygen(kb);
	for (int i = 0; i < 2; i++) {
		struct node *n = &nodes[i];
		n->name = i ? "B" : "A";
		noise_local_init(&n->l, i ? kb : ka);
		noise_keypairs_init(&n->kps);
		timers_init(&n->t, i ? 0 : keepalive_a);
		n->next_index = i ? 0x20000 : 0x10000;
		uint8_t src[6] = { 10, 0, 0, (uint8_t)(i + 1), 0x6c, 0xca };
		memcpy(n->src, src, 6);
	}
	noise_peer_init(&nodes[0].p, &nodes[0].l, nodes[1].l.public_key, NULL);
	noise_peer_init(&nodes[1].p, &nodes[1].l, nodes[0].l.public_key, NULL);
	sodium_memzero(ka, sizeof(ka));
	sodium_memzero(kb, sizeof(kb));
}

static void sim_free(void)
{
	uint32_t dropped[3];
	size_t nd;

	for (int i = 0; i < 2; i++) {
		noise_keypairs_clear(&nodes[i].kps, dropped, &nd);
		noise_peer_wipe(&nodes[i].p);
		noise_local_wipe(&nodes[i].l);
	}
}

/* Run from FROM to TO (ns); every PERIOD_A / PERIOD_B ns (0 = never) the
 * application on A / B sends one packet. */
static void run(uint64_t from, uint64_t to, uint64_t period_a, uint64_t period_b)
{
	static struct pkt due[MAXQ];

	for (uint64_t now = from; now <= to; now += STEP) {
		size_t k = 0, ndue = 0;
		/* Take the packets due now out of the queue, then deliver them
		 * (delivery may queue answers). */
		for (size_t j = 0; j < nqueue; j++) {
			if (queue[j].at <= now)
				due[ndue++] = queue[j];
			else
				queue[k++] = queue[j];
		}
		nqueue = k;
		for (size_t j = 0; j < ndue; j++)
			if (!nodes[due[j].to].down)
				receive(due[j].to, due[j].data, due[j].len, now);
		if (period_a && now % period_a == 0 && !nodes[0].down)
			app_send(0, now);
		if (period_b && now % period_b == 0 && !nodes[1].down)
			app_send(1, now);
		for (int i = 0; i < 2; i++)
			if (!nodes[i].down)
				tick(i, now);
	}
}

static void test_first_packet(void)
{
	sim_init(0);
	run(SEC, SEC, SEC, 0);			/* one packet from A at 1 s */
	run(SEC + STEP, 2 * SEC, 0, 0);
	T_CHECK(nodes[1].delivered == 1 && nodes[0].initiations == 1 && nodes[1].responses == 1,
		"sim: A's first packet triggers one handshake and arrives at B");
	T_CHECK(nodes[0].handshakes == 1 && nodes[1].handshakes == 1 && nodes[1].kps.current && !nodes[1].kps.next,
		"sim: B confirmed the session (next keypair promoted on A's packet)");
	T_CHECK(nodes[0].kps.current->local_index == nodes[1].kps.current->remote_index &&
		nodes[1].kps.current->local_index == nodes[0].kps.current->remote_index,
		"sim: both sides agree on the session indices");
	sim_free();
}

static void test_long_traffic(void)
{
	sim_init(0);
	run(SEC, 600 * SEC, SEC, 2 * SEC);
	run(600 * SEC + STEP, 601 * SEC, 0, 0);
	T_CHECK(nodes[0].sent == 600 && nodes[1].delivered == nodes[0].sent && nodes[1].sent == 300 &&
		nodes[0].delivered == nodes[1].sent,
		"sim: 10 minutes of two-way traffic, nothing lost across rekeys (A %u/%u, B %u/%u)", nodes[1].delivered,
		nodes[0].sent, nodes[0].delivered, nodes[1].sent);
	T_CHECK(nodes[0].bad_payload + nodes[1].bad_payload == 0 && nodes[0].encrypt_failures + nodes[1].encrypt_failures == 0,
		"sim: every payload intact, no encryption refused");
	unsigned hs = nodes[0].handshakes + nodes[1].handshakes;
	T_CHECK(hs >= 8 && hs <= 14, "sim: a rekey about every REKEY_AFTER_TIME (%u handshake completions in 600 s)", hs);
	T_CHECK(nodes[0].zeroed + nodes[1].zeroed == 0 && nodes[0].give_ups + nodes[1].give_ups == 0,
		"sim: no zeroing and no giving up while traffic flows");
	sim_free();
}

static void test_only_responder_sends(void)
{
	sim_init(0);
	run(SEC, SEC, SEC, 0);			/* A starts the session */
	run(SEC + STEP, 400 * SEC, 0, SEC);	/* then only B talks */
	run(400 * SEC + STEP, 401 * SEC, 0, 0);
	T_CHECK(nodes[0].delivered == nodes[1].sent && nodes[1].sent == 399,
		"sim: only the responder sends for 400 s, nothing lost (%u/%u)", nodes[0].delivered, nodes[1].sent);
	T_CHECK(nodes[0].initiations >= 3, "sim: the initiator rekeys on receive (last-minute handshakes: %u initiations)",
		nodes[0].initiations);
	T_CHECK(nodes[0].keepalives_sent > 0, "sim: the silent initiator answered data with keepalives (%u)",
		nodes[0].keepalives_sent);
	sim_free();
}

static void test_lost_initiations(void)
{
	sim_init(0);
	nodes[1].down = true;
	run(SEC, SEC, SEC, 0);
	run(SEC + STEP, 11 * SEC, 0, 0);	/* two initiations lost (1 s, 6.1 s) */
	nodes[1].down = false;
	run(11 * SEC + STEP, 13 * SEC, 0, 0);	/* the retry at 11.2 s gets through */
	T_CHECK(nodes[0].initiations == 3 && nodes[1].delivered == 1,
		"sim: after two lost initiations the third (REKEY_TIMEOUT + jitter later) completes and delivers");
	sim_free();
}

static void test_unreachable(void)
{
	sim_init(0);
	nodes[1].down = true;
	run(SEC, SEC, SEC, 0);
	run(SEC + STEP, 200 * SEC, 0, 0);
	T_CHECK(nodes[0].give_ups == 1 && nodes[0].initiations == 1 + TIMERS_MAX_HANDSHAKES + 1 && nodes[0].staged == 0,
		"sim: unreachable peer: 20 initiations then give up, staged data dropped (%u initiations)",
		nodes[0].initiations);
	run(200 * SEC + STEP, 800 * SEC, 0, 0);
	T_CHECK(nodes[0].initiations == 20 && nodes[0].zeroed == 1,
		"sim: no more initiations after giving up, keys zeroed 540 s later");
	sim_free();
}

static void test_under_load(void)
{
	sim_init(0);
	nodes[1].under_load = true;
	run(SEC, SEC, SEC, 0);
	run(SEC + STEP, 10 * SEC, 0, 0);
	T_CHECK(nodes[1].cookie_replies_sent == 1 && nodes[0].cookies_taken == 1,
		"sim: responder under load answers the first initiation with a cookie reply");
	T_CHECK(nodes[0].initiations == 2 && nodes[1].responses == 1 && nodes[1].delivered == 1,
		"sim: the retry carries mac2 and the handshake completes under load");
	sim_free();
}

static void test_keepalives(void)
{
	sim_init(0);
	run(SEC, SEC, SEC, 0);
	run(SEC + STEP, 30 * SEC, 0, 0);
	T_CHECK(nodes[1].keepalives_sent == 1 && nodes[0].keepalives_sent == 0,
		"sim: A's staged data confirms the session (no keepalive); B answers the data with one keepalive "
		"KEEPALIVE_TIMEOUT later (A %u, B %u)",
		nodes[0].keepalives_sent, nodes[1].keepalives_sent);
	run(30 * SEC + STEP, 600 * SEC, 0, 0);
	T_CHECK(nodes[0].zeroed == 1 && nodes[1].zeroed == 1 && !nodes[0].kps.current && !nodes[1].kps.current,
		"sim: idle for 540 s after the session: both sides zero their keys");
	sim_free();

	sim_init(25);
	run(SEC, SEC, SEC, 0);
	run(SEC + STEP, 120 * SEC, 0, 0);
	/* Last traversal on A: B's keepalive arriving at 11.03 s; then every 25 s. */
	T_CHECK(nodes[0].keepalives_sent == 4 && nodes[1].keepalives_sent == 1,
		"sim: persistent keepalive 25 s: A sends 4 by 120 s (36, 61, 86, 111 s) (%u)", nodes[0].keepalives_sent);
	run(120 * SEC + STEP, 700 * SEC, 0, 0);
	T_CHECK(nodes[0].zeroed + nodes[1].zeroed == 0 && noise_keypair_can_send(nodes[0].kps.current, 700 * SEC) &&
		noise_keypair_can_receive(nodes[1].kps.current, 700 * SEC),
		"sim: persistent keepalives alone keep the session rekeyed and alive for 700 s (%u initiations)",
		nodes[0].initiations);
	sim_free();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_first_packet();
	test_long_traffic();
	test_only_responder_sends();
	test_lost_initiations();
	test_unreachable();
	test_under_load();
	test_keepalives();
	T_DONE();
}
