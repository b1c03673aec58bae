/* Unit tests for noise: handshakes between generated keys, every way a
 * handshake message can be refused, the timestamp replay and flood rules,
 * low-order keys, keys and base64, message dispatch, keypair rotation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "noise.h"
#include "t.h"
#include "wghex.h"

#define SEC NOISE_NS
#define T0 (100 * SEC)

struct side {
	struct noise_local l;
	struct noise_peer p;	/* this side's view of the other */
};

/* Two fresh identities A (initiator) and B (responder) that know each other. */
static void pair(struct side *a, struct side *b, const uint8_t *psk_a, const uint8_t *psk_b)
{
	uint8_t ka[32], kb[32];

	noise_keygen(ka);
	noise_keygen(kb);
	noise_local_init(&a->l, ka);
	noise_local_init(&b->l, kb);
	noise_peer_init(&a->p, &a->l, b->l.public_key, psk_a);
	noise_peer_init(&b->p, &b->l, a->l.public_key, psk_b);
	sodium_memzero(ka, sizeof(ka));
	sodium_memzero(kb, sizeof(kb));
}

static void test_roundtrip(void)
{
	static const struct {
		const char *name;
		int psk_a, psk_b;	/* 0 none, 1 and 2 differ */
		int want_consume;
	} cases[] = {
		{ "no psk", 0, 0, 0 },
		{ "same psk", 1, 1, 0 },
		{ "psk only on the initiator", 1, 0, -EBADMSG },
		{ "different psks", 1, 2, -EBADMSG },
	};
	uint8_t psk[3][32];

	memset(psk, 0, sizeof(psk));
	randombytes_buf(psk[1], 32);
	randombytes_buf(psk[2], 32);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct side a, b;
		struct noise_initiation st;
		struct noise_keypair ka, kb;
		uint8_t init[148], resp[92];

		pair(&a, &b, cases[i].psk_a ? psk[cases[i].psk_a] : NULL, cases[i].psk_b ? psk[cases[i].psk_b] : NULL);
		int rc = noise_create_initiation(&a.p, &a.l, 11, T0, NULL, init);
		rc = rc ?: noise_initiation_open(&b.l, init, sizeof(init), &st);
		rc = rc ?: noise_initiation_accept(&b.p, &b.l, &st, T0);
		rc = rc ?: noise_create_response(&b.p, 22, T0, NULL, resp);
		T_CHECK(rc == 0, "noise: %s: initiation, accept and response succeed", cases[i].name);
		rc = noise_consume_response(&a.p, &a.l, resp, sizeof(resp));
		T_CHECK(rc == cases[i].want_consume, "noise: %s: consume response gives %d (got %d)", cases[i].name,
			cases[i].want_consume, rc);
		if (rc == 0) {
			noise_derive_keypair(&a.p, &ka, T0);
			noise_derive_keypair(&b.p, &kb, T0);
			T_CHECK(!sodium_is_zero(b.p.latest_timestamp, 12) && b.p.state == NOISE_HS_ZEROED,
				"noise: %s: deriving clears the handshake but keeps the latest timestamp", cases[i].name);
			T_CHECK(!memcmp(ka.send_key, kb.recv_key, 32) && !memcmp(ka.recv_key, kb.send_key, 32) &&
				memcmp(ka.send_key, ka.recv_key, 32),
				"noise: %s: both sides hold matching, distinct directional keys", cases[i].name);
			noise_keypair_wipe(&ka);
			noise_keypair_wipe(&kb);
		} else {
			T_CHECK(a.p.state == NOISE_HS_CREATED_INITIATION, "noise: %s: failed consume keeps the initiation state",
				cases[i].name);
		}
		noise_peer_wipe(&a.p);
		noise_peer_wipe(&b.p);
		noise_local_wipe(&a.l);
		noise_local_wipe(&b.l);
	}
}

/* Tampered initiations.  FIXMAC: recompute mac1 so the change reaches the AEAD. */
static void test_initiation_tamper(void)
{
	static const struct {
		const char *name;
		size_t off;		/* byte to change */
		int op;			/* 0 xor 1, 1 zero the ephemeral, 2 truncate */
		int fixmac;
		int want_open, want_accept;
	} cases[] = {
		{ "mac1 flipped", 116, 0, 0, -EBADMSG, 0 },
		{ "ephemeral flipped, mac1 stale", 8, 0, 0, -EBADMSG, 0 },
		{ "ephemeral flipped, mac1 fixed", 8, 0, 1, -EBADMSG, 0 },
		{ "encrypted static flipped", 40, 0, 1, -EBADMSG, 0 },
		{ "static tag flipped", 80, 0, 1, -EBADMSG, 0 },
		{ "encrypted timestamp flipped", 88, 0, 1, 0, -EBADMSG },
		{ "timestamp tag flipped", 115, 0, 1, 0, -EBADMSG },
		{ "sender index changed", 4, 0, 0, -EBADMSG, 0 },
		{ "type 1 -> 3", 0, 2, 0, -EINVAL, 0 },
		{ "reserved byte set", 2, 0, 1, -EINVAL, 0 },
		{ "all-zero ephemeral", 8, 1, 1, -EKEYREJECTED, 0 },
		{ "truncated to 147 bytes", 147, 3, 0, -EINVAL, 0 },
		{ "mac2 changed (not checked here)", 140, 0, 0, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct side a, b;
		struct noise_initiation st;
		uint8_t init[148];
		size_t len = sizeof(init);

		pair(&a, &b, NULL, NULL);
		noise_create_initiation(&a.p, &a.l, 7, T0, NULL, init);
		switch (cases[i].op) {
		case 0: init[cases[i].off] ^= 0x01; break;
		case 1: memset(init + cases[i].off, 0, 32); break;
		case 2: init[cases[i].off] ^= 0x02; break;
		default: len = cases[i].off; break;
		}
		if (cases[i].fixmac)
			cookie_add_macs(&a.p.cookie, init, len, T0);
		int rc = noise_initiation_open(&b.l, init, len, &st);
		T_CHECK(rc == cases[i].want_open, "noise: initiation %s: open gives %d (got %d)", cases[i].name,
			cases[i].want_open, rc);
		if (rc == 0) {
			rc = noise_initiation_accept(&b.p, &b.l, &st, T0);
			T_CHECK(rc == cases[i].want_accept, "noise: initiation %s: accept gives %d (got %d)",
				cases[i].name, cases[i].want_accept, rc);
			T_CHECK(sodium_is_zero((const unsigned char *)&st, sizeof(st)),
				"noise: initiation %s: the opened state is wiped after accept", cases[i].name);
		} else {
			T_CHECK(sodium_is_zero((const unsigned char *)&st, sizeof(st)),
				"noise: initiation %s: nothing left in the opened state", cases[i].name);
		}
		if (rc != 0)
			T_CHECK(b.p.state == NOISE_HS_ZEROED, "noise: initiation %s: responder state untouched", cases[i].name);
		noise_peer_wipe(&a.p);
		noise_peer_wipe(&b.p);
		noise_local_wipe(&a.l);
		noise_local_wipe(&b.l);
	}
}

static void test_response_tamper(void)
{
	static const struct {
		const char *name;
		size_t off;
		int op;			/* 0 xor 1, 1 zero ephemeral, 2 set type, 3 truncate */
		int fixmac;
		int want;
	} cases[] = {
		{ "mac1 flipped", 60, 0, 0, -EBADMSG },
		{ "ephemeral flipped, mac1 fixed", 12, 0, 1, -EBADMSG },
		{ "empty payload tag flipped", 44, 0, 1, -EBADMSG },
		{ "sender index changed, mac1 stale", 4, 0, 0, -EBADMSG },
		{ "receiver index changed (wrong receiver)", 8, 0, 1, -ESRCH },
		{ "all-zero ephemeral", 12, 1, 1, -EKEYREJECTED },
		{ "type 2 -> 1", 0, 2, 0, -EINVAL },
		{ "truncated to 91 bytes", 91, 3, 0, -EINVAL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct side a, b;
		struct noise_initiation st;
		struct noise_keypair ka;
		uint8_t init[148], resp[92], good[92];
		size_t len = sizeof(resp);

		pair(&a, &b, NULL, NULL);
		noise_create_initiation(&a.p, &a.l, 7, T0, NULL, init);
		noise_initiation_open(&b.l, init, sizeof(init), &st);
		noise_initiation_accept(&b.p, &b.l, &st, T0);
		noise_create_response(&b.p, 9, T0, NULL, resp);
		memcpy(good, resp, sizeof(good));
		switch (cases[i].op) {
		case 0: resp[cases[i].off] ^= 0x01; break;
		case 1: memset(resp + cases[i].off, 0, 32); break;
		case 2: resp[0] = 1; break;
		default: len = cases[i].off; break;
		}
		if (cases[i].fixmac)
			cookie_add_macs(&b.p.cookie, resp, len, T0);
		int rc = noise_consume_response(&a.p, &a.l, resp, len);
		T_CHECK(rc == cases[i].want, "noise: response %s: consume gives %d (got %d)", cases[i].name,
			cases[i].want, rc);
		rc = noise_consume_response(&a.p, &a.l, good, sizeof(good));
		T_CHECK(rc == 0 && noise_derive_keypair(&a.p, &ka, T0) == 0,
			"noise: response %s: the genuine response still completes the handshake", cases[i].name);
		noise_keypair_wipe(&ka);
		noise_peer_wipe(&a.p);
		noise_peer_wipe(&b.p);
		noise_local_wipe(&a.l);
		noise_local_wipe(&b.l);
	}
}

/* Wrong static keys: a message for someone else, an initiator nobody knows. */
static void test_wrong_keys(void)
{
	struct side a, b, c;
	struct noise_initiation st;
	uint8_t init[148];
	int rc;

	pair(&a, &b, NULL, NULL);
	pair(&c, &c, NULL, NULL);	/* c: an unrelated identity */
	noise_create_initiation(&a.p, &a.l, 1, T0, NULL, init);
	rc = noise_initiation_open(&c.l, init, sizeof(init), &st);
	T_CHECK(rc == -EBADMSG, "noise: an initiation for another responder is refused (mac1 keyed with its key)");

	/* c initiates to b, whom b does not know as c: static opens, accept with a's peer fails. */
	struct noise_peer cb;
	noise_peer_init(&cb, &c.l, b.l.public_key, NULL);
	noise_create_initiation(&cb, &c.l, 2, T0, NULL, init);
	rc = noise_initiation_open(&b.l, init, sizeof(init), &st);
	T_CHECK(rc == 0 && !memcmp(st.remote_static, c.l.public_key, 32),
		"noise: an unknown initiator's static key decrypts (for the caller's lookup)");
	rc = noise_initiation_accept(&b.p, &b.l, &st, T0);
	T_CHECK(rc == -ESRCH, "noise: accepting it for a different peer gives -ESRCH");

	/* The responder's identity changed: a's handshake with the old key fails. */
	uint8_t knew[32];
	noise_keygen(knew);
	noise_local_init(&b.l, knew);
	noise_peer_set_local(&b.p, &b.l);
	noise_create_initiation(&a.p, &a.l, 3, T0, NULL, init);
	rc = noise_initiation_open(&b.l, init, sizeof(init), &st);
	T_CHECK(rc == -EBADMSG, "noise: initiation to the responder's old public key refused");

	struct noise_local none = { 0 };
	rc = noise_create_initiation(&a.p, &none, 4, T0, NULL, init);
	T_CHECK(rc == -ENOKEY, "noise: no local private key: create initiation gives -ENOKEY");
	rc = noise_initiation_open(&none, init, sizeof(init), &st);
	T_CHECK(rc == -ENOKEY, "noise: no local private key: open gives -ENOKEY");
	noise_peer_wipe(&cb);
	noise_peer_wipe(&a.p);
	noise_peer_wipe(&b.p);
	noise_local_wipe(&a.l);
	noise_local_wipe(&b.l);
	noise_local_wipe(&c.l);
	sodium_memzero(knew, sizeof(knew));
}

/* Timestamp replay and flood rules on the responder. */
static void test_timestamps(void)
{
	static const struct {
		const char *name;
		uint64_t secs;
		uint32_t nanos;
		uint64_t at;	/* responder clock, ns after T0 */
		int want;
	} steps[] = {
		{ "first initiation", 1000, 0, 0, 0 },
		{ "same timestamp again (replay)", 1000, 0, SEC, -ESTALE },
		{ "older timestamp", 999, 500, 2 * SEC, -ESTALE },
		{ "newer timestamp 10 ms after the last accepted", 1001, 0, SEC / 100, -EBUSY },
		{ "newer timestamp, rate respected", 1001, 0, 3 * SEC, 0 },
		{ "greater only in the nanoseconds", 1001, 1 << 24, 4 * SEC, 0 },
		{ "replay of the second accepted", 1001, 0, 5 * SEC, -ESTALE },
	};
	struct side a, b;
	struct noise_initiation st;
	uint8_t init[148], ts[12];

	pair(&a, &b, NULL, NULL);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		noise_tai64n_at(ts, steps[i].secs, steps[i].nanos);
		struct noise_det det = { NULL, ts };
		noise_create_initiation(&a.p, &a.l, 5, T0, &det, init);
		int rc = noise_initiation_open(&b.l, init, sizeof(init), &st);
		rc = rc ?: noise_initiation_accept(&b.p, &b.l, &st, T0 + steps[i].at);
		T_CHECK(rc == steps[i].want, "noise: timestamps: %s gives %d (got %d)", steps[i].name, steps[i].want, rc);
	}
	/* The exact same message bytes replayed (what an attacker can do). */
	noise_initiation_open(&b.l, init, sizeof(init), &st);
	T_CHECK(noise_initiation_accept(&b.p, &b.l, &st, T0 + 60 * SEC) == -ESTALE,
		"noise: timestamps: a captured initiation replayed a minute later gives -ESTALE");
	noise_peer_wipe(&a.p);
	noise_peer_wipe(&b.p);
	noise_local_wipe(&a.l);
	noise_local_wipe(&b.l);
}

/* Low-order public keys (all zero, one, and a point of order 8). */
static void test_low_order(void)
{
	static const char *keys[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	};
	struct noise_local l;
	struct noise_peer p;
	uint8_t k[32], init[148];

	noise_keygen(k);
	noise_local_init(&l, k);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		uint8_t pub[32];
		wghex_decode(pub, 32, keys[i]);
		int rc = noise_peer_init(&p, &l, pub, NULL);
		T_CHECK(rc == -EKEYREJECTED && !p.ss_valid, "noise: low-order public key %zu refused by peer_init", i);
		rc = noise_create_initiation(&p, &l, 1, T0, NULL, init);
		T_CHECK(rc == -EKEYREJECTED && sodium_is_zero(init, sizeof(init)),
			"noise: no initiation to low-order key %zu (and nothing written)", i);
		noise_peer_wipe(&p);
	}
	noise_local_wipe(&l);
	sodium_memzero(k, sizeof(k));
}

static void test_states(void)
{
	struct side a, b;
	struct noise_keypair kp;
	uint8_t resp[92], init[148];

	pair(&a, &b, NULL, NULL);
	T_CHECK(noise_create_response(&b.p, 1, T0, NULL, resp) == -EINVAL,
		"noise: state: a response without an accepted initiation gives -EINVAL");
	T_CHECK(noise_derive_keypair(&a.p, &kp, T0) == -EINVAL, "noise: state: deriving before a handshake gives -EINVAL");
	memset(resp, 0, sizeof(resp));
	resp[0] = 2;
	T_CHECK(noise_consume_response(&a.p, &a.l, resp, sizeof(resp)) == -ESRCH,
		"noise: state: a response with no initiation outstanding gives -ESRCH");
	noise_create_initiation(&a.p, &a.l, 1, T0, NULL, init);
	T_CHECK(noise_derive_keypair(&a.p, &kp, T0) == -EINVAL,
		"noise: state: deriving before the response arrived gives -EINVAL");
	noise_handshake_clear(&a.p);
	T_CHECK(a.p.state == NOISE_HS_ZEROED && sodium_is_zero(a.p.ephemeral_private, 32) &&
		sodium_is_zero(a.p.chaining_key, 32) && sodium_is_zero(a.p.hash, 32),
		"noise: state: handshake_clear wipes the ephemeral key, chaining key and hash");
	noise_peer_wipe(&a.p);
	T_CHECK(sodium_is_zero((const unsigned char *)&a.p, sizeof(a.p)), "noise: peer_wipe leaves only zeros");
	noise_local_wipe(&a.l);
	T_CHECK(sodium_is_zero((const unsigned char *)&a.l, sizeof(a.l)), "noise: local_wipe leaves only zeros");
	noise_peer_wipe(&b.p);
	noise_local_wipe(&b.l);
}

static void test_keys(void)
{
	uint8_t priv[32], pub[32], want[32], back[32];
	char b64[NOISE_KEY_B64_LEN + 1];

	/* RFC 7748 section 6.1, Alice. */
	wghex_decode(priv, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	wghex_decode(want, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	T_CHECK(noise_pubkey(pub, priv) == 0 && !memcmp(pub, want, 32), "noise: keys: RFC 7748 X25519 public key");

	int clamped = 1;
	for (int i = 0; i < 64; i++) {
		noise_keygen(priv);
		clamped &= !(priv[0] & 7) && !(priv[31] & 128) && (priv[31] & 64);
	}
	T_CHECK(clamped, "noise: keys: 64 generated private keys are clamped");

	noise_key_to_base64(b64, pub);
	T_STREQ(b64, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=", "noise: keys: base64 of the RFC 7748 public key");
	T_CHECK(noise_key_from_base64(back, b64) == 0 && !memcmp(back, pub, 32), "noise: keys: base64 round trip");

	static const char *bad[] = {
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo",		/* 43 characters */
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo==",	/* 45 */
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm!=",		/* bad character */
		"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=",		/* URL alphabet */
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=",		/* non-zero padding bits */
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmoA",		/* no '=' */
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(back, 0xaa, 32);
		int rc = noise_key_from_base64(back, bad[i]);
		T_CHECK(rc == -EINVAL && back[0] == 0xaa && back[31] == 0xaa,
			"noise: keys: bad base64 #%zu \"%s\" refused, key untouched", i, bad[i]);
	}

	/* Against the stock tool, when installed: our generated keys through
	 * `wg pubkey`, and `wg genkey` keys through ours. */
	if (system("command -v wg >/dev/null 2>&1") != 0) {
		T_SKIP("noise: keys: `wg` not installed, no comparison with wg genkey/pubkey");
	} else {
		for (int i = 0; i < 4; i++) {
			char cmd[160], theirs[128] = "", ours[NOISE_KEY_B64_LEN + 1], priv64[NOISE_KEY_B64_LEN + 1];
			FILE *f;
			if (i < 2) {
				noise_keygen(priv);
				if (i == 1) {	/* unclamped: both sides clamp */
					priv[0] |= 7;
					priv[31] |= 0x80;
				}
				noise_key_to_base64(priv64, priv);
			} else {
				f = popen("wg genkey", "r");
				if (!f || !fgets(priv64, sizeof(priv64), f))
					priv64[0] = 0;
				if (f)
					pclose(f);
			}
			int rc = noise_key_from_base64(priv, priv64);
			snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | wg pubkey", priv64);
			f = popen(cmd, "r");
			if (!f || !fgets(theirs, sizeof(theirs), f))
				theirs[0] = 0;
			if (f)
				pclose(f);
			theirs[strcspn(theirs, "\n")] = 0;
			noise_pubkey(pub, priv);
			noise_key_to_base64(ours, pub);
			T_CHECK(rc == 0 && !strcmp(ours, theirs), "noise: keys: %s private key %d: our public key = `wg pubkey` (%s)",
				i == 0 ? "our generated" : i == 1 ? "unclamped" : "`wg genkey`", i, ours);
		}
	}
	sodium_memzero(priv, sizeof(priv));
}

static void test_tai64n(void)
{
	uint8_t a[12], b[12];
	time_t before = time(NULL);

	noise_tai64n_now(a);
	noise_tai64n_now(b);
	uint64_t secs = 0;
	for (int i = 0; i < 8; i++)
		secs = secs << 8 | a[i];
	T_CHECK(secs >= 0x400000000000000aULL + (uint64_t)before && secs <= 0x400000000000000aULL + (uint64_t)before + 2,
		"noise: TAI64N seconds = 2^62 + 10 + unix time");
	T_CHECK(a[11] == 0 && a[10] == 0 && a[9] == 0,
		"noise: TAI64N nanoseconds rounded down to 2^24 ns");
	T_CHECK(memcmp(b, a, 12) >= 0, "noise: TAI64N does not go backwards");
	uint8_t want[12], got[12];
	wghex_decode(want, 12, "400000006553f10a075bcd15");
	noise_tai64n_at(got, 1700000000, 123456789);
	T_MEMEQ(got, want, 12, "noise: TAI64N of 1700000000.123456789 is 400000006553f10a075bcd15");
}

static void test_msg_type(void)
{
	static const struct {
		uint8_t type, reserved;
		size_t len;
		int want;
		uint32_t receiver;
	} cases[] = {
		{ 1, 0, 148, 1, 0 }, { 1, 0, 149, 0, 0 }, { 1, 1, 148, 0, 0 },
		{ 2, 0, 92, 2, 0x0c0b0a09 }, { 2, 0, 91, 0, 0 },
		{ 3, 0, 64, 3, 0x08070605 }, { 3, 0, 65, 0, 0 },
		{ 4, 0, 32, 4, 0x08070605 }, { 4, 0, 1500, 4, 0x08070605 }, { 4, 0, 31, 0, 0 },
		{ 5, 0, 64, 0, 0 }, { 0, 0, 148, 0, 0 }, { 4, 0, 3, 0, 0 },
	};
	uint8_t msg[1500];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t j = 0; j < sizeof(msg); j++)
			msg[j] = (uint8_t)(j + 1);
		msg[0] = cases[i].type;
		msg[1] = msg[2] = 0;
		msg[3] = cases[i].reserved;
		T_CHECK(noise_msg_type(msg, cases[i].len) == cases[i].want &&
			noise_msg_receiver(msg, cases[i].len) == cases[i].receiver,
			"noise: dispatch: type %u, %zu bytes%s -> type %d receiver 0x%08x", cases[i].type, cases[i].len,
			cases[i].reserved ? ", reserved set" : "", cases[i].want, cases[i].receiver);
	}
}

/* Keypair rotation, step by step: (op, index) then the expected
 * current/previous/next indices (0 = none) and dropped indices. */
static void test_keypairs(void)
{
	static const struct {
		char op;		/* 'i' install initiator, 'r' install responder, 'x' received on idx, 'c' clear */
		uint32_t idx;
		uint32_t cur, prev, next;
		uint32_t dropped[3];
		int rotated;
	} steps[] = {
		{ 'i', 1, 1, 0, 0, { 0 }, 0 },
		{ 'i', 2, 2, 1, 0, { 0 }, 0 },
		{ 'i', 3, 3, 2, 0, { 1 }, 0 },
		{ 'r', 4, 3, 0, 4, { 2 }, 0 },
		{ 'x', 3, 3, 0, 4, { 0 }, 0 },
		{ 'x', 4, 4, 3, 0, { 0 }, 1 },
		{ 'r', 5, 4, 0, 5, { 3 }, 0 },
		{ 'r', 6, 4, 0, 6, { 5 }, 0 },
		{ 'i', 7, 7, 6, 0, { 4 }, 0 },
		{ 'x', 6, 7, 6, 0, { 0 }, 0 },
		{ 'r', 8, 7, 0, 8, { 6 }, 0 },
		{ 'x', 8, 8, 7, 0, { 0 }, 1 },
		{ 'c', 0, 0, 0, 0, { 8, 7 }, 0 },
	};
	struct noise_keypairs k;

	noise_keypairs_init(&k);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		uint32_t dropped[3] = { 0 };
		size_t nd = 0;
		int rotated = 0;
		struct noise_keypair kp;

		switch (steps[i].op) {
		case 'i':
		case 'r':
			memset(&kp, 0, sizeof(kp));
			kp.valid = true;
			kp.is_initiator = steps[i].op == 'i';
			kp.local_index = steps[i].idx;
			memset(kp.send_key, (int)steps[i].idx, 32);
			struct noise_keypair *slot = noise_keypairs_install(&k, &kp, dropped, &nd);
			T_CHECK(slot && slot->local_index == steps[i].idx && slot->send_key[5] == steps[i].idx &&
				sodium_is_zero((const unsigned char *)&kp, sizeof(kp)),
				"noise: keypairs step %zu: installed copy holds the keys, the source is wiped", i);
			break;
		case 'x':
			rotated = noise_keypairs_received(&k, noise_keypairs_lookup(&k, steps[i].idx), dropped, &nd);
			break;
		default:
			noise_keypairs_clear(&k, dropped, &nd);
			break;
		}
		uint32_t cur = k.current ? k.current->local_index : 0, prev = k.previous ? k.previous->local_index : 0,
			 next = k.next ? k.next->local_index : 0;
		size_t want_nd = 0;
		while (want_nd < 3 && steps[i].dropped[want_nd])
			want_nd++;
		T_CHECK(cur == steps[i].cur && prev == steps[i].prev && next == steps[i].next && nd == want_nd &&
			!memcmp(dropped, steps[i].dropped, nd * sizeof(uint32_t)) && rotated == steps[i].rotated,
			"noise: keypairs step %zu '%c' %u: current %u previous %u next %u, %zu dropped%s", i, steps[i].op,
			steps[i].idx, steps[i].cur, steps[i].prev, steps[i].next, want_nd, steps[i].rotated ? ", rotated" : "");
	}
	T_CHECK(sodium_is_zero((const unsigned char *)k.slot, sizeof(k.slot)), "noise: keypairs: clear wipes every slot");
	T_CHECK(noise_keypairs_lookup(&k, 8) == NULL, "noise: keypairs: nothing found after clear");
}

static void test_keypair_validity(void)
{
	struct noise_keypair kp = { .valid = true, .birth = T0 };

	T_CHECK(noise_keypair_can_send(&kp, T0) && noise_keypair_can_receive(&kp, T0), "noise: keypair usable when fresh");
	T_CHECK(noise_keypair_can_send(&kp, T0 + NOISE_REJECT_AFTER_TIME_NS - 1), "noise: keypair sends until REJECT_AFTER_TIME");
	T_CHECK(!noise_keypair_can_send(&kp, T0 + NOISE_REJECT_AFTER_TIME_NS) &&
		!noise_keypair_can_receive(&kp, T0 + NOISE_REJECT_AFTER_TIME_NS),
		"noise: keypair unusable at REJECT_AFTER_TIME (180 s)");
	kp.send_counter = NOISE_REJECT_AFTER_MESSAGES - 1;
	T_CHECK(noise_keypair_can_send(&kp, T0), "noise: keypair sends counter REJECT_AFTER_MESSAGES - 1");
	kp.send_counter = NOISE_REJECT_AFTER_MESSAGES;
	T_CHECK(!noise_keypair_can_send(&kp, T0) && noise_keypair_can_receive(&kp, T0),
		"noise: keypair stops sending at REJECT_AFTER_MESSAGES, still receives");
	kp.valid = false;
	T_CHECK(!noise_keypair_can_send(&kp, T0) && !noise_keypair_can_receive(&kp, T0), "noise: invalid keypair unusable");
}

int main(void)
{
	if (sodium_init() < 0) {
		printf("not ok - noise: libsodium initialised\n");
		return 1;
	}
	test_roundtrip();
	test_initiation_tamper();
	test_response_tamper();
	test_wrong_keys();
	test_timestamps();
	test_low_order();
	test_states();
	test_keys();
	test_tai64n();
	test_msg_type();
	test_keypairs();
	test_keypair_validity();
	T_DONE();
}
