/* Unit tests for transport: padding, in-place round trips at many sizes,
 * tampering, wrong receiver, counter replay and reordering, expiry, limits. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "noise.h"
#include "t.h"
#include "transport.h"

#define SEC NOISE_NS
#define T0 (10 * SEC)
#define CAP 2048

/* A matching pair of keypairs: A sends to B (index 200), B to A (index 100). */
static void keypairs(struct noise_keypair *a, struct noise_keypair *b)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	randombytes_buf(a->send_key, 32);
	randombytes_buf(a->recv_key, 32);
	memcpy(b->recv_key, a->send_key, 32);
	memcpy(b->send_key, a->recv_key, 32);
	a->valid = b->valid = true;
	a->is_initiator = true;
	a->birth = b->birth = T0;
	a->local_index = b->remote_index = 100;
	a->remote_index = b->local_index = 200;
}

static void test_padding(void)
{
	static const struct { size_t len, mtu, want; } cases[] = {
		{ 0, 1420, 0 }, { 1, 1420, 16 }, { 15, 1420, 16 }, { 16, 1420, 16 }, { 17, 1420, 32 },
		{ 1410, 1420, 1420 }, { 1419, 1420, 1420 }, { 1420, 1420, 1420 }, { 1421, 1420, 1436 },
		{ 2840, 1420, 2840 }, { 1419, 0, 1424 }, { 100, 90, 106 }, { 89, 90, 90 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		T_CHECK(transport_padded_len(cases[i].len, cases[i].mtu) == cases[i].want,
			"transport: %zu bytes with MTU %zu pad to %zu", cases[i].len, cases[i].mtu, cases[i].want);
}

static void test_roundtrip(void)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 20, 63, 64, 100, 576, 1279, 1280, 1419, 1420 };
	struct noise_keypair a, b;
	uint8_t buf[CAP], plain[CAP];

	keypairs(&a, &b);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], out = 0, got = 0;
		randombytes_buf(plain, n);
		memcpy(buf + TRANSPORT_HEADER_LEN, plain, n);
		memset(buf + TRANSPORT_HEADER_LEN + n, 0xee, 64);	/* garbage where the padding goes */
		int rc = transport_encrypt(&a, buf, sizeof(buf), n, 1420, T0, &out);
		size_t padded = transport_padded_len(n, 1420);
		T_CHECK(rc == 0 && out == padded + 32 && buf[0] == 4 && transport_counter(buf) == i &&
			noise_msg_receiver(buf, out) == 200,
			"transport: %zu bytes encrypt to %zu, type 4, counter %zu, receiver 200", n, padded + 32, i);
		rc = transport_decrypt(&b, buf, out, T0, &got);
		int padzero = 1;
		for (size_t j = n; j < got; j++)
			padzero &= buf[TRANSPORT_HEADER_LEN + j] == 0;
		T_CHECK(rc == 0 && got == padded && !memcmp(buf + TRANSPORT_HEADER_LEN, plain, n) && padzero,
			"transport: %zu bytes decrypt in place, padding zeros", n);
	}
	T_CHECK(a.send_counter == sizeof(sizes) / sizeof(sizes[0]), "transport: the send counter advanced once per packet");
	noise_keypair_wipe(&a);
	noise_keypair_wipe(&b);
}

static void test_refusals(void)
{
	struct noise_keypair a, b;
	uint8_t buf[CAP], copy[CAP];
	size_t out, got;
	int rc;

	keypairs(&a, &b);
	memset(buf + 16, 'x', 100);
	rc = transport_encrypt(&a, buf, 16 + 112 + 15, 100, 1420, T0, &out);
	T_CHECK(rc == -ENOBUFS && a.send_counter == 0, "transport: buffer one byte short -> -ENOBUFS, counter unused");
	rc = transport_encrypt(&a, buf, 16 + 112 + 16, 100, 1420, T0, &out);
	T_CHECK(rc == 0 && out == 144, "transport: exact buffer size is enough");
	memcpy(copy, buf, out);

	static const struct { const char *name; size_t off; int want; } flips[] = {
		{ "ciphertext", 40, -EBADMSG }, { "tag", 143, -EBADMSG }, { "counter", 8, -EBADMSG },
		{ "receiver index (wrong receiver)", 4, -ESRCH }, { "type", 0, -EINVAL }, { "reserved", 1, -EINVAL },
	};
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(buf, copy, out);
		buf[flips[i].off] ^= 0x01;
		rc = transport_decrypt(&b, buf, out, T0, &got);
		T_CHECK(rc == flips[i].want, "transport: flipped %s -> %d (got %d)", flips[i].name, flips[i].want, rc);
	}
	memcpy(buf, copy, out);
	T_CHECK(transport_decrypt(&b, buf, 31, T0, &got) == -EINVAL, "transport: 31 bytes -> -EINVAL");
	T_CHECK(transport_decrypt(&b, buf, out - 1, T0, &got) == -EBADMSG, "transport: truncated by one byte -> -EBADMSG");
	memcpy(buf, copy, out);
	T_CHECK(transport_decrypt(&b, buf, out, T0, &got) == 0,
		"transport: failed attempts did not mark counter 0 seen: the genuine packet decrypts");
	memcpy(buf, copy, out);
	T_CHECK(transport_decrypt(&b, buf, out, T0, &got) == -EALREADY, "transport: the same packet again -> -EALREADY (replay)");

	/* Reordering: counters 1, 2, 3 arrive as 3, 1, 2. */
	uint8_t pk[3][160];
	size_t len[3];
	for (int i = 0; i < 3; i++) {
		memset(pk[i] + 16, i, 20);
		transport_encrypt(&a, pk[i], sizeof(pk[i]), 20, 1420, T0, &len[i]);
	}
	int order[3] = { 2, 0, 1 }, all = 1;
	for (int i = 0; i < 3; i++)
		all &= transport_decrypt(&b, pk[order[i]], len[order[i]], T0, &got) == 0 && pk[order[i]][16] == order[i];
	T_CHECK(all, "transport: reordered packets 3, 1, 2 all accepted");

	/* A counter far behind the window. */
	a.send_counter = 20000;
	transport_encrypt(&a, buf, sizeof(buf), 0, 1420, T0, &out);
	T_CHECK(transport_decrypt(&b, buf, out, T0, &got) == 0, "transport: counter 20000 accepted");
	a.send_counter = 5;
	transport_encrypt(&a, buf, sizeof(buf), 0, 1420, T0, &out);
	T_CHECK(transport_decrypt(&b, buf, out, T0, &got) == -EALREADY, "transport: counter 5 after 20000 -> -EALREADY (too old)");

	/* Expiry and limits. */
	T_CHECK(transport_encrypt(&a, buf, sizeof(buf), 0, 1420, T0 + NOISE_REJECT_AFTER_TIME_NS, &out) == -EKEYEXPIRED,
		"transport: no sending 180 s after the keypair was made");
	transport_encrypt(&a, buf, sizeof(buf), 0, 1420, T0, &out);
	T_CHECK(transport_decrypt(&b, buf, out, T0 + NOISE_REJECT_AFTER_TIME_NS, &got) == -EKEYEXPIRED,
		"transport: no receiving 180 s after the keypair was made");
	a.send_counter = NOISE_REJECT_AFTER_MESSAGES;
	T_CHECK(transport_encrypt(&a, buf, sizeof(buf), 0, 1420, T0, &out) == -EKEYEXPIRED,
		"transport: no sending at counter REJECT_AFTER_MESSAGES");
	a.send_counter = NOISE_REJECT_AFTER_MESSAGES - 1;
	T_CHECK(transport_encrypt(&a, buf, sizeof(buf), 0, 1420, T0, &out) == 0 &&
		transport_decrypt(&b, buf, out, T0, &got) == 0,
		"transport: counter REJECT_AFTER_MESSAGES - 1 is the last sent and accepted");
	a.valid = false;
	T_CHECK(transport_encrypt(&a, buf, sizeof(buf), 0, 1420, T0, &out) == -ENOKEY, "transport: invalid keypair -> -ENOKEY");
	T_CHECK(transport_decrypt(NULL, buf, out, T0, &got) == -ENOKEY, "transport: no keypair -> -ENOKEY");
	noise_keypair_wipe(&a);
	noise_keypair_wipe(&b);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_padding();
	test_roundtrip();
	test_refusals();
	T_DONE();
}
