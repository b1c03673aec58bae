/* Unit tests for the control handshake, framing and connection: a
 * known-answer handshake, a wrong pinned key, a replayed initiation, a
 * tampered frame, an oversized message refused before allocation, and two
 * ctl_conn ends over a socketpair (a 4 KiB socket buffer, bytes fed one at
 * a time), keepalive, idle, write-stall and handshake timers, close. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl_conn.h"
#include "ctl_frame.h"
#include "ctl_hs.h"
#include "ctl_msg.h"
#include "t.h"
#include "wghex.h"

static struct ctl_identity node, coord;

/* The replay record: one machine key, one timestamp. */
struct record {
	uint8_t key[32];
	uint8_t ts[TAI64N_LEN];
	bool have;
};

static bool record_last_seen(void *ctx, const uint8_t key[32], uint8_t ts[TAI64N_LEN])
{
	struct record *r = ctx;

	if (!r->have || memcmp(r->key, key, 32) != 0)
		return false;
	memcpy(ts, r->ts, TAI64N_LEN);
	return true;
}

static void identities(void)
{
	uint8_t a[32], b[32];

	memset(a, 0x11, 32);
	memset(b, 0x22, 32);
	ctl_identity_init(&node, a);
	ctl_identity_init(&coord, b);
}

/* One handshake with fixed ephemerals and timestamp T (seconds). */
static int handshake(const uint8_t *pinned, uint64_t t, struct record *rec, struct ctl_session *si,
		     struct ctl_session *sr, uint8_t init[CTL_HS_INIT_LEN])
{
	uint8_t ei[32], er[32], ts[TAI64N_LEN], resp[CTL_HS_RESP_LEN], got_ts[TAI64N_LEN];
	struct ctl_det di = { ei, ts }, dr = { er, NULL };
	struct ctl_hs hs;
	int rc;

	memset(ei, 0x33, 32);
	memset(er, 0x44, 32);
	tai64n_at(ts, t, 0);
	rc = ctl_hs_initiate(&hs, &node, pinned, &di, init);
	if (rc < 0)
		return rc;
	rc = ctl_hs_respond(&coord, init, CTL_HS_INIT_LEN, record_last_seen, rec, &dr, resp, sr, got_ts);
	if (rc < 0) {
		ctl_hs_wipe(&hs);
		return rc;
	}
	memcpy(rec->key, sr->remote_static, 32);
	memcpy(rec->ts, got_ts, TAI64N_LEN);
	rec->have = true;
	return ctl_hs_finish(&hs, resp, sizeof(resp), si);
}

/* Known answer: these bytes were computed by a separate implementation of
 * the Noise spec (Python: cryptography's X25519 and ChaCha20-Poly1305,
 * hashlib's BLAKE2s, HMAC and HKDF written out), with machine key 0x11..,
 * coordinator key 0x22.., ephemerals 0x33.. and 0x44.., timestamp Unix
 * second 1000, and the first transport message "hello" from the node. */
static void test_kat(void)
{
	static const char *want_init =
		"7b0d47d93427f8311160781c7c733fd89f88970aef490d8aa0ee19a4cb8a1b1461d2949213e755bc180b5d5dbbd8c50a"
		"2a1beb69f8940d24cab4606a34cd5d41bd474b840b8ed3734618bb268ce4272819f347012f1dfe18ae7a6128bf3c0b9f"
		"97b0feb8a4c0402a62187145";
	static const char *want_resp =
		"ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff3e6bde2362d61d6ca6f948ce044d85add8af";
	static const char *want_t1 = "8dbec8f77738728dd69aca7e58427c2321d84a26dd";
	static const char *want_hash = "0797c64e04dadf01888b7177c0a6f914c388723bb7be601dc03bdb8d2aa42e05";
	uint8_t ei[32], er[32], ts[TAI64N_LEN], init[CTL_HS_INIT_LEN], resp[CTL_HS_RESP_LEN], got_ts[12], t1[21];
	uint8_t w_init[CTL_HS_INIT_LEN], w_resp[CTL_HS_RESP_LEN], w_t1[21], w_hash[32];
	struct ctl_det di = { ei, ts }, dr = { er, NULL };
	struct ctl_session si, sr;
	struct ctl_hs hs;

	memset(ei, 0x33, 32);
	memset(er, 0x44, 32);
	tai64n_at(ts, 1000, 0);
	wghex_decode(w_init, sizeof(w_init), want_init);
	wghex_decode(w_resp, sizeof(w_resp), want_resp);
	wghex_decode(w_t1, sizeof(w_t1), want_t1);
	wghex_decode(w_hash, sizeof(w_hash), want_hash);
	T_CHECK(ctl_hs_initiate(&hs, &node, coord.public_key, &di, init) == 0 && memcmp(init, w_init, sizeof(init)) == 0,
		"known answer: the initiation's 108 bytes");
	T_CHECK(ctl_hs_respond(&coord, init, sizeof(init), NULL, NULL, &dr, resp, &sr, got_ts) == 0 &&
		memcmp(resp, w_resp, sizeof(resp)) == 0, "known answer: the response's 48 bytes");
	T_CHECK(ctl_hs_finish(&hs, resp, sizeof(resp), &si) == 0 && memcmp(si.handshake_hash, w_hash, 32) == 0,
		"known answer: the handshake hash");
	T_CHECK(ctl_session_seal(&si, (const uint8_t *)"hello", 5, t1) == 0 && memcmp(t1, w_t1, sizeof(t1)) == 0,
		"known answer: the first transport message (k1, nonce 0)");
}

static void test_handshake(void)
{
	struct record rec = { 0 };
	struct ctl_session si, sr, si2, sr2;
	uint8_t init[CTL_HS_INIT_LEN], init2[CTL_HS_INIT_LEN], wrong[32], resp[CTL_HS_RESP_LEN], ts[12];
	uint8_t ct[64], pt[48];

	T_CHECK(handshake(coord.public_key, 1000, &rec, &si, &sr, init) == 0, "handshake: IK completes");
	T_MEMEQ(sr.remote_static, node.public_key, 32, "handshake: the coordinator learns the node's machine key");
	T_MEMEQ(si.send_key, sr.recv_key, 32, "handshake: initiator's send key is the responder's receive key");
	T_MEMEQ(si.recv_key, sr.send_key, 32, "handshake: and the other way");
	T_MEMEQ(si.handshake_hash, sr.handshake_hash, 32, "handshake: both ends have the same handshake hash");
	/* Deterministic: the same inputs give the same bytes. */
	T_CHECK(handshake(coord.public_key, 1001, &rec, &si2, &sr2, init2) == 0 &&
		memcmp(init, init2, 80) == 0 && memcmp(init, init2, CTL_HS_INIT_LEN) != 0,
		"handshake: fixed randomness gives the same e and s, a new timestamp changes only the payload");

	/* Replay: the captured initiation again. */
	T_CHECK(ctl_hs_respond(&coord, init2, sizeof(init2), record_last_seen, &rec, NULL, resp, &sr2, ts) == -ESTALE,
		"handshake: a replayed initiation is refused (-ESTALE)");
	T_CHECK(handshake(coord.public_key, 900, &rec, &si2, &sr2, init2) == -ESTALE,
		"handshake: an older timestamp is refused");
	T_CHECK(handshake(coord.public_key, 1002, &rec, &si2, &sr2, init2) == 0,
		"handshake: a newer timestamp is accepted");

	/* Wrong pinned key: the node believes in another coordinator. */
	memset(wrong, 0x55, 32);
	{
		struct ctl_identity other;
		ctl_identity_init(&other, wrong);
		T_CHECK(handshake(other.public_key, 2000, &rec, &si2, &sr2, init2) == -EBADMSG,
			"handshake: a node pinning another key is refused by the coordinator (-EBADMSG)");
	}
	/* Tampering with any byte of the initiation. */
	handshake(coord.public_key, 3000, &rec, &si2, &sr2, init2);
	int refused = 0;
	for (size_t i = 0; i < CTL_HS_INIT_LEN; i++) {
		uint8_t bad[CTL_HS_INIT_LEN];
		memcpy(bad, init2, sizeof(bad));
		bad[i] ^= 0x01;
		refused += ctl_hs_respond(&coord, bad, sizeof(bad), NULL, NULL, NULL, resp, &sr2, ts) < 0;
	}
	T_CHECK(refused == CTL_HS_INIT_LEN, "handshake: every one-bit change of the initiation is refused (%d/%d)",
		refused, CTL_HS_INIT_LEN);

	/* Transport: counters, tampering. */
	T_CHECK(ctl_session_seal(&si, (const uint8_t *)"hello", 5, ct) == 0 &&
		ctl_session_open(&sr, ct, 21, pt) == 0 && memcmp(pt, "hello", 5) == 0,
		"session: a sealed message opens on the other end");
	T_CHECK(ctl_session_open(&sr, ct, 21, pt) == -EBADMSG, "session: the same ciphertext again fails (counter moved)");
	ctl_session_seal(&si, (const uint8_t *)"hello", 5, ct);
	ct[3] ^= 1;
	T_CHECK(ctl_session_open(&sr2, ct, 21, pt) < 0, "session: a tampered ciphertext fails");
}

static void test_assembler(void)
{
	struct ctl_assembler a;
	uint8_t piece[8] = { 0x01, 0x00, 0x00, 0x01 };	/* 16 MiB + 1 */
	uint8_t ok[6] = { 0, 0, 0, 4, 'a', 'b' };
	size_t len;
	char *m;

	ctl_assembler_init(&a, CTL_MAX_MESSAGE);
	T_CHECK(ctl_assembler_feed(&a, piece, 4) == -EMSGSIZE && a.buf == NULL,
		"framing: a message announced over 16 MiB is refused before any allocation");
	piece[0] = 0xff;
	T_CHECK(ctl_assembler_feed(&a, piece, 4) == -EMSGSIZE && a.buf == NULL,
		"framing: a 4 GiB announcement too");
	T_CHECK(ctl_assembler_feed(&a, ok, 6) == 0 && ctl_assembler_feed(&a, (const uint8_t *)"cd", 2) == 1,
		"framing: a message in two pieces completes with the second");
	m = ctl_assembler_take(&a, &len);
	T_CHECK(m && len == 4 && strcmp(m, "abcd") == 0, "framing: the message is whole and NUL-terminated");
	free(m);
	T_CHECK(ctl_assembler_feed(&a, ok, 6) == 0 && ctl_assembler_feed(&a, (const uint8_t *)"cde", 3) == -EPROTO,
		"framing: a piece running past the announced length is refused");
	ctl_assembler_free(&a);
	T_CHECK(ctl_assembler_feed(&a, (const uint8_t *)"\0\0\0\0", 4) == -EPROTO, "framing: an empty message is refused");
	ctl_assembler_free(&a);

	uint8_t hdr[3];
	size_t blen;
	ctl_frame_header(hdr, CTL_FRAME_TRANSPORT, 15);
	T_CHECK(ctl_frame_check(hdr, &blen) == -EPROTO, "framing: a transport frame shorter than a tag is refused");
	ctl_frame_header(hdr, 9, 100);
	T_CHECK(ctl_frame_check(hdr, &blen) == -EPROTO, "framing: an unknown frame type is refused");
	ctl_frame_header(hdr, CTL_FRAME_INITIATION, 111);
	T_CHECK(ctl_frame_check(hdr, &blen) == -EPROTO, "framing: an initiation of the wrong length is refused");
	T_CHECK(ctl_message_wire_len(1) == 3 + 4 + 1 + 16 && ctl_message_wire_len(NSYM_MAX_PLAINTEXT) == 2 * 19 + 4 + NSYM_MAX_PLAINTEXT,
		"framing: wire lengths count one header and tag per piece");
}

/* ---- two connections over a socketpair ---- */

struct end {
	struct ctl_conn *c;
	char *got[8];
	size_t ngot;
	bool established;
	struct record rec;
};

static int end_established(void *ctx, struct ctl_conn *c)
{
	(void)c;
	((struct end *)ctx)->established = true;
	return 0;
}

static int end_message(void *ctx, struct ctl_conn *c, const char *msg, size_t len)
{
	struct end *e = ctx;

	(void)c;
	if (e->ngot < 8)
		e->got[e->ngot++] = strndup(msg, len);
	return 0;
}

static void end_free(struct end *e)
{
	for (size_t i = 0; i < e->ngot; i++)
		free(e->got[i]);
	ctl_conn_free(e->c);
}

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Pump both ends until neither has anything to write or read. */
static int pump(struct end *a, struct end *b, uint64_t now)
{
	for (int round = 0; round < 100000; round++) {
		bool busy = ctl_conn_wants_write(a->c) || ctl_conn_wants_write(b->c);
		int rc;

		if ((rc = ctl_conn_on_writable(a->c, now)) < 0 || (rc = ctl_conn_on_writable(b->c, now)) < 0 ||
		    (rc = ctl_conn_on_readable(a->c, now)) < 0 || (rc = ctl_conn_on_readable(b->c, now)) < 0)
			return rc;
		if (!busy && !ctl_conn_wants_write(a->c) && !ctl_conn_wants_write(b->c))
			return 0;
	}
	return -ETIMEDOUT;
}

/* As pump, but every byte is read and fed on its own. */
static int pump_bytewise(struct end *a, struct end *b, uint64_t now)
{
	struct end *ends[2] = { a, b };

	for (int round = 0; round < 1000; round++) {
		bool moved = false;
		for (int i = 0; i < 2; i++) {
			uint8_t byte;
			int rc = ctl_conn_on_writable(ends[i]->c, now);
			if (rc < 0)
				return rc;
			while (recv(ctl_conn_fd(ends[i]->c), &byte, 1, 0) == 1) {
				moved = true;
				rc = ctl_conn_feed(ends[i]->c, &byte, 1, now);
				if (rc < 0)
					return rc;
			}
		}
		if (!moved && !ctl_conn_wants_write(a->c) && !ctl_conn_wants_write(b->c))
			return 0;
	}
	return -ETIMEDOUT;
}

static int pair(struct end *n, struct end *s, const uint8_t *pinned, int bufsize, size_t cap)
{
	int sv[2];
	struct ctl_conn_config cn = { .role = CTL_INITIATOR, .local = &node, .server_key = pinned,
				      .on_established = end_established, .on_message = end_message, .ctx = n };
	struct ctl_conn_config cs = { .role = CTL_RESPONDER, .local = &coord, .last_seen = record_last_seen,
				      .on_established = end_established, .on_message = end_message, .ctx = s,
				      .max_message = cap };

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -errno;
	if (bufsize) {
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	}
	nonblock(sv[0]);
	nonblock(sv[1]);
	n->c = ctl_conn_new(sv[0], &cn, 1);
	s->c = ctl_conn_new(sv[1], &cs, 1);
	return n->c && s->c ? 0 : -ENOMEM;
}

static void test_conn(void)
{
	struct end n = { 0 }, s = { 0 };
	size_t big_len = 3u << 20;	/* 3 MiB: 49 pieces */
	char *big = malloc(big_len + 1);

	pair(&n, &s, coord.public_key, 4096, 0);
	T_CHECK(pump(&n, &s, 2) == 0 && n.established && s.established, "conn: the handshake completes over a socketpair");
	T_MEMEQ(ctl_conn_remote_key(s.c), node.public_key, 32, "conn: the coordinator end knows the machine key");
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 26);
	big[big_len] = '\0';
	T_CHECK(ctl_conn_send(n.c, "{\"v\":1}", 7) == 0 && ctl_conn_send(n.c, big, big_len) == 0 &&
		ctl_conn_send(s.c, "pong", 4) == 0, "conn: three messages queued (one of 3 MiB)");
	T_CHECK(pump(&n, &s, 3) == 0, "conn: pumped through a 4 KiB socket buffer (many partial reads and writes)");
	T_CHECK(s.ngot == 2 && strcmp(s.got[0], "{\"v\":1}") == 0 && s.got[1] && strlen(s.got[1]) == big_len &&
		memcmp(s.got[1], big, big_len) == 0, "conn: both messages arrive whole and in order");
	T_CHECK(n.ngot == 1 && strcmp(n.got[0], "pong") == 0, "conn: and the other way");

	/* One byte at a time: a message of three pieces. */
	T_CHECK(ctl_conn_send(n.c, big, 2 * NSYM_MAX_PLAINTEXT) == 0 && pump_bytewise(&n, &s, 4) == 0 &&
		s.ngot == 3 && strlen(s.got[2]) == 2 * NSYM_MAX_PLAINTEXT && memcmp(s.got[2], big, 2 * NSYM_MAX_PLAINTEXT) == 0,
		"conn: a three-piece message fed one byte at a time arrives whole");

	/* A slow reader: the queue is bounded. */
	int sent = 0, rc = 0;
	while ((rc = ctl_conn_send(s.c, big, big_len)) == 0)
		sent++;
	T_CHECK(rc == -ENOBUFS && ctl_conn_queued(s.c) <= CTL_MAX_QUEUED,
		"conn: a peer that never reads fills the write queue to its cap, then -ENOBUFS (%d messages queued)", sent);
	T_CHECK(ctl_conn_on_writable(s.c, 5) == 0 && ctl_conn_tick(s.c, 5 + CTL_WRITE_TIMEOUT_NS) == -ETIMEDOUT,
		"conn: the connection times out when its writes make no progress");
	end_free(&n);
	end_free(&s);

	/* Keepalive and idle. */
	memset(&n, 0, sizeof(n));
	memset(&s, 0, sizeof(s));
	pair(&n, &s, coord.public_key, 0, 0);
	pump(&n, &s, 2);
	T_CHECK(ctl_conn_tick(n.c, 2 + CTL_KEEPALIVE_INTERVAL_NS) == 0 && ctl_conn_wants_write(n.c),
		"conn: a keepalive is queued after the interval without sending");
	pump(&n, &s, 3 + CTL_KEEPALIVE_INTERVAL_NS);
	T_CHECK(s.ngot == 1 && strcmp(s.got[0], CTL_MSG_KEEPALIVE) == 0, "conn: the keepalive arrives as a message");
	T_CHECK(ctl_conn_tick(s.c, 4 + CTL_KEEPALIVE_INTERVAL_NS + CTL_IDLE_TIMEOUT_NS) == -ETIMEDOUT,
		"conn: a connection that hears nothing for the idle timeout is over (half-open)");
	T_CHECK(ctl_conn_close(n.c, "bye") == 0 && pump(&n, &s, 10 + CTL_KEEPALIVE_INTERVAL_NS) == -ECONNRESET &&
		ctl_conn_finished(n.c) && s.ngot == 2 && strstr(s.got[1], "\"close\""),
		"conn: close sends a close message and finishes; the other end then sees the end (-ECONNRESET)");
	end_free(&n);
	end_free(&s);

	/* Wrong key over the connection: the coordinator ends it. */
	uint8_t k[32];
	struct ctl_identity other;
	memset(k, 0x66, 32);
	ctl_identity_init(&other, k);
	memset(&n, 0, sizeof(n));
	memset(&s, 0, sizeof(s));
	pair(&n, &s, other.public_key, 0, 0);
	T_CHECK(pump(&n, &s, 2) == -EBADMSG && !s.established, "conn: a wrong pinned key ends the connection (-EBADMSG)");
	end_free(&n);
	end_free(&s);
	/* Handshake deadline. */
	memset(&n, 0, sizeof(n));
	memset(&s, 0, sizeof(s));
	pair(&n, &s, coord.public_key, 0, 0);
	T_CHECK(ctl_conn_tick(s.c, 1 + CTL_HANDSHAKE_TIMEOUT_NS) == -ETIMEDOUT,
		"conn: a responder that never sees an initiation times out");
	end_free(&n);
	end_free(&s);
	free(big);
}

/* Bytes fed directly: a tampered transport frame; a message over the
 * receiver's cap. */
static void test_feed(void)
{
	struct end n = { 0 }, s = { 0 };
	uint8_t wire[256];
	ssize_t got;

	pair(&n, &s, coord.public_key, 0, 0);
	pump(&n, &s, 2);
	ctl_conn_send(n.c, CTL_MSG_KEEPALIVE, strlen(CTL_MSG_KEEPALIVE));
	ctl_conn_on_writable(n.c, 3);
	got = recv(ctl_conn_fd(s.c), wire, sizeof(wire), 0);
	wire[10] ^= 0x80;
	T_CHECK(got > 20 && ctl_conn_feed(s.c, wire, (size_t)got, 3) == -EBADMSG && s.ngot == 0,
		"conn: a tampered transport frame ends the connection (-EBADMSG)");
	end_free(&n);
	end_free(&s);

	/* The coordinator's cap is 100 bytes here: 101 is refused at the
	 * first piece, from the announced length. */
	char msg[101];
	memset(msg, 'x', sizeof(msg));
	memset(&n, 0, sizeof(n));
	memset(&s, 0, sizeof(s));
	pair(&n, &s, coord.public_key, 0, 100);
	pump(&n, &s, 2);
	T_CHECK(ctl_conn_send(n.c, msg, 100) == 0 && pump(&n, &s, 3) == 0 && s.ngot == 1,
		"conn: a message at the receiver's cap arrives");
	T_CHECK(ctl_conn_send(n.c, msg, 101) == 0 && pump(&n, &s, 4) == -EMSGSIZE && s.ngot == 1,
		"conn: one byte over the receiver's cap ends the connection (-EMSGSIZE)");
	char *huge = malloc(CTL_MAX_MESSAGE + 1);
	memset(huge, 'x', CTL_MAX_MESSAGE + 1);
	T_CHECK(ctl_conn_send(n.c, huge, CTL_MAX_MESSAGE + 1) == -EMSGSIZE, "conn: a sender refuses a message over 16 MiB");
	free(huge);
	end_free(&n);
	end_free(&s);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	identities();
	test_kat();
	test_handshake();
	test_assembler();
	test_conn();
	test_feed();
	T_DONE();
}
