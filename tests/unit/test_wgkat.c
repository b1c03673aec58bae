/* Known-answer test: reproduce every byte of $KG_SHARED/testdata/wireguard-kat.json
 * (a fixed-key handshake, cookie reply and transport packets checked against
 * wireguard-go), then consume each message on the other side. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "blake2s.h"
#include "cookie.h"
#include "noise.h"
#include "t.h"
#include "transport.h"
#include "wghex.h"

#define NOW (1000 * NOISE_NS)

static cJSON *kat;

/* The value of the first key starting with PREFIX. */
static const char *kat_str(const char *prefix)
{
	cJSON *it;

	cJSON_ArrayForEach(it, kat)
		if (it->string && !strncmp(it->string, prefix, strlen(prefix)) && cJSON_IsString(it))
			return it->valuestring;
	return NULL;
}

/* Decode the hex value of PREFIX into OUT, which must be exactly LEN bytes. */
static int kat_hex(const char *prefix, uint8_t *out, size_t len)
{
	const char *s = kat_str(prefix);
	long n = s ? wghex_decode(out, len, s) : -1;

	if (n != (long)len) {
		printf("# kat: %s missing or not %zu bytes\n", prefix, len);
		return -1;
	}
	return 0;
}

static uint32_t kat_index(const char *prefix)
{
	const char *s = kat_str(prefix);

	return s ? (uint32_t)strtoul(s, NULL, 16) : 0;
}

static int load(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		printf("# cannot open %s\n", path);
		return -1;
	}
	FILE *m = open_memstream(&text, &len);
	int c;
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(m);
	fclose(f);
	kat = cJSON_Parse(text);
	free(text);
	return kat ? 0 : -1;
}

int main(void)
{
	uint8_t c0[32], h0[32], want[160], got[160], buf[160];
	uint8_t ipriv[32], ipub[32], rpriv[32], rpub[32], ieph[32], reph[32], psk[32], ts[12];
	uint8_t secret[32], src[6], cookie[16], nonce[24], key[32];
	struct noise_local il, rl;
	struct noise_peer ip, rp;	/* ip: the initiator's view of the responder; rp: the responder's of the initiator */
	struct noise_initiation st;
	struct noise_keypair ikp, rkp;
	size_t n;
	int ok;

	T_CHECK(sodium_init() >= 0, "kat: libsodium initialised");
	const char *path = t_shared("wireguard-kat.json");
	if (!path)
		T_DONE();
	T_CHECK(load(path) == 0, "kat: wireguard-kat.json read and parsed");
	if (!kat)
		T_DONE();

	/* C0 = HASH(construction), H0 = HASH(C0 || identifier). */
	blake2s(got, 32, NULL, 0, NOISE_CONSTRUCTION, strlen(NOISE_CONSTRUCTION));
	T_CHECK(kat_hex("initial_chain_key_C0", c0, 32) == 0 && !memcmp(got, c0, 32), "kat: C0 = HASH(construction)");
	struct blake2s_state s;
	blake2s_init(&s, 32, NULL, 0);
	blake2s_update(&s, got, 32);
	blake2s_update(&s, NOISE_IDENTIFIER, strlen(NOISE_IDENTIFIER));
	blake2s_final(&s, got);
	T_CHECK(kat_hex("initial_hash_H0", h0, 32) == 0 && !memcmp(got, h0, 32), "kat: H0 = HASH(C0 || identifier)");

	ok = !kat_hex("initiator_static_priv", ipriv, 32) & !kat_hex("initiator_static_pub", ipub, 32) &
	     !kat_hex("responder_static_priv", rpriv, 32) & !kat_hex("responder_static_pub", rpub, 32) &
	     !kat_hex("initiator_ephemeral_priv", ieph, 32) & !kat_hex("responder_ephemeral_priv", reph, 32) &
	     !kat_hex("psk", psk, 32) & !kat_hex("tai64n", ts, 12) & !kat_hex("cookie_secret", secret, 32) &
	     !kat_hex("cookie_src_bytes", src, 6);
	T_CHECK(ok, "kat: all fixed inputs present");

	noise_pubkey(got, ipriv);
	T_MEMEQ(got, ipub, 32, "kat: initiator public key from its private key");
	noise_pubkey(got, rpriv);
	T_MEMEQ(got, rpub, 32, "kat: responder public key from its private key");

	T_CHECK(noise_local_init(&il, ipriv) == 0 && noise_local_init(&rl, rpriv) == 0, "kat: both identities set");
	T_CHECK(noise_peer_init(&ip, &il, rpub, psk) == 0 && noise_peer_init(&rp, &rl, ipub, psk) == 0,
		"kat: both peers set with the psk");

	/* Initiation. */
	uint32_t iidx = kat_index("initiator_sender_index_le"), ridx = kat_index("responder_sender_index_le");
	T_CHECK(iidx == 0x01020304 && ridx == 0x0a0b0c0d, "kat: sender indices read");
	struct noise_det idet = { ieph, ts }, rdet = { reph, NULL };
	uint8_t init[148], resp[92];
	T_CHECK(noise_create_initiation(&ip, &il, iidx, NOW, &idet, init) == 0, "kat: initiation created");
	T_CHECK(kat_hex("msg_initiation_148", want, 148) == 0 && !memcmp(init, want, 148),
		"kat: initiation is byte-for-byte the 148-byte message");
	T_CHECK(cookie_check_mac1(&rl.cookie, init, 148), "kat: responder accepts the initiation's mac1");

	T_CHECK(noise_initiation_open(&rl, init, 148, &st) == 0, "kat: responder opens the initiation");
	T_MEMEQ(st.remote_static, ipub, 32, "kat: decrypted initiator static key is the initiator's");
	T_CHECK(st.sender_index == iidx, "kat: initiation's sender index 0x%08x", st.sender_index);
	T_CHECK(noise_initiation_accept(&rp, &rl, &st, NOW) == 0, "kat: responder accepts the timestamp");
	T_MEMEQ(rp.latest_timestamp, ts, 12, "kat: responder recorded the TAI64N timestamp");

	/* Response. */
	T_CHECK(noise_create_response(&rp, ridx, NOW, &rdet, resp) == 0, "kat: response created");
	T_CHECK(kat_hex("msg_response_92", want, 92) == 0 && !memcmp(resp, want, 92),
		"kat: response is byte-for-byte the 92-byte message");
	T_CHECK(noise_msg_receiver(resp, 92) == iidx, "kat: response addressed to the initiator's index");
	T_CHECK(noise_consume_response(&ip, &il, resp, 92) == 0, "kat: initiator consumes the response");

	/* Keys. */
	T_CHECK(noise_derive_keypair(&ip, &ikp, NOW) == 0 && noise_derive_keypair(&rp, &rkp, NOW) == 0,
		"kat: both sides derive a keypair");
	T_CHECK(kat_hex("initiator_send_key", key, 32) == 0 && !memcmp(ikp.send_key, key, 32) &&
		!memcmp(rkp.recv_key, key, 32), "kat: initiator send key = responder receive key = KAT");
	T_CHECK(kat_hex("initiator_recv_key", key, 32) == 0 && !memcmp(ikp.recv_key, key, 32) &&
		!memcmp(rkp.send_key, key, 32), "kat: initiator receive key = responder send key = KAT");
	T_CHECK(ikp.is_initiator && !rkp.is_initiator && ikp.local_index == iidx && ikp.remote_index == ridx &&
		rkp.local_index == ridx && rkp.remote_index == iidx, "kat: keypair roles and indices");
	T_CHECK(ip.state == NOISE_HS_ZEROED && rp.state == NOISE_HS_ZEROED &&
		sodium_is_zero(ip.chaining_key, 32) && sodium_is_zero(rp.chaining_key, 32),
		"kat: handshake state wiped after deriving");

	/* Cookie. */
	uint8_t ck[16], reply[64];
	kat_hex("cookie_src_bytes", src, 6);
	memset(nonce, 0x77, sizeof(nonce));
	cookie_checker_set_secret(&rl.cookie, secret, NOW);
	cookie_compute(&rl.cookie, ck, src, 6, NOW);
	const char *cs = NULL;
	cJSON *cit = cJSON_GetObjectItemCaseSensitive(kat, "cookie");
	cs = cJSON_IsString(cit) ? cit->valuestring : NULL;
	T_CHECK(cs && wghex_decode(cookie, 16, cs) == 16 && !memcmp(ck, cookie, 16),
		"kat: cookie = MAC(secret, source bytes)");
	T_CHECK(cookie_create_reply(&rl.cookie, reply, init, 148, src, 6, NOW, nonce) == 0, "kat: cookie reply created");
	T_CHECK(kat_hex("msg_cookie_reply_64", want, 64) == 0 && !memcmp(reply, want, 64),
		"kat: cookie reply is byte-for-byte the 64-byte message");
	T_CHECK(noise_msg_type(reply, 64) == NOISE_MSG_COOKIE && noise_msg_receiver(reply, 64) == iidx,
		"kat: cookie reply addressed to the initiator's index");
	T_CHECK(cookie_consume_reply(&ip.cookie, reply, 64, NOW) == 0 && !memcmp(ip.cookie.cookie, cookie, 16),
		"kat: initiator decrypts the cookie reply and holds the cookie");

	/* The same initiation again now carries mac2. */
	T_CHECK(noise_create_initiation(&ip, &il, iidx, NOW, &idet, buf) == 0 &&
		kat_hex("msg_initiation_with_mac2_148", want, 148) == 0 && !memcmp(buf, want, 148),
		"kat: initiation with mac2 is byte-for-byte the KAT");
	T_CHECK(cookie_check_mac1(&rl.cookie, buf, 148) && cookie_check_mac2(&rl.cookie, buf, 148, src, 6, NOW),
		"kat: responder accepts its mac1 and mac2 from that source");
	src[5] ^= 1;
	T_CHECK(!cookie_check_mac2(&rl.cookie, buf, 148, src, 6, NOW), "kat: mac2 refused from another source port");
	src[5] ^= 1;
	T_CHECK(!cookie_check_mac2(&rl.cookie, init, 148, src, 6, NOW), "kat: mac2 refused on the message without one");
	noise_handshake_clear(&ip);

	/* Transport: the initiator's keepalive at counter 0. */
	T_CHECK(transport_encrypt(&ikp, buf, sizeof(buf), 0, 1420, NOW, &n) == 0 && n == 32,
		"kat: keepalive encrypted, 32 bytes");
	T_CHECK(kat_hex("transport_keepalive_initiator_ctr0_32", want, 32) == 0 && !memcmp(buf, want, 32),
		"kat: keepalive at counter 0 is byte-for-byte the KAT");
	size_t plen = 99;
	T_CHECK(transport_decrypt(&rkp, buf, 32, NOW, &plen) == 0 && plen == 0,
		"kat: responder decrypts the keepalive (empty payload)");

	/* The responder's packet at counter 7 carrying bytes 00..13. */
	rkp.send_counter = 7;
	for (int i = 0; i < 20; i++)
		buf[16 + i] = (uint8_t)i;
	T_CHECK(transport_encrypt(&rkp, buf, sizeof(buf), 20, 1420, NOW, &n) == 0 && n == 64,
		"kat: responder packet encrypted, 64 bytes (20 padded to 32)");
	T_CHECK(kat_hex("transport_responder_ctr7", want, 64) == 0 && !memcmp(buf, want, 64),
		"kat: responder packet at counter 7 is byte-for-byte the KAT");
	T_CHECK(transport_decrypt(&ikp, buf, 64, NOW, &plen) == 0 && plen == 32, "kat: initiator decrypts it");
	for (int i = 0; i < 32; i++)
		got[i] = i < 20 ? (uint8_t)i : 0;
	T_MEMEQ(buf + 16, got, 32, "kat: plaintext is 00..13 then 12 zero bytes of padding");

	noise_keypair_wipe(&ikp);
	noise_keypair_wipe(&rkp);
	noise_peer_wipe(&ip);
	noise_peer_wipe(&rp);
	noise_local_wipe(&il);
	noise_local_wipe(&rl);
	cJSON_Delete(kat);
	T_DONE();
}
