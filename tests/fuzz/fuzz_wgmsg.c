/* fuzz_wgmsg: the WireGuard message parsers on arbitrary bytes.
 * Input: one mode byte, then the message.  Mode bit 0 recomputes mac1/mac2
 * first, so mutations reach the AEAD and state checks behind mac1.  The
 * message goes to the consumer its type selects (initiation open + accept,
 * response, cookie reply, transport) with the wireguard-kat.json identities;
 * every consumer must refuse garbage cleanly and never touch memory it
 * should not. */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "cookie.h"
#include "noise.h"
#include "transport.h"

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

static void unhex(uint8_t *out, const char *hex)
{
	for (size_t i = 0; hex[2 * i]; i++)
		out[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
}

static struct noise_local il, rl;
static struct noise_peer ip_sent, rp_fresh;	/* initiator after sending; responder's view of the initiator */
static struct noise_keypair ikp, rkp;
static int ready;

static void setup(void)
{
	uint8_t ipriv[32], rpriv[32], psk[32], ieph[32], reph[32], ts[12], init[148];
	struct noise_det det = { ieph, ts }, rdet = { reph, NULL };

	if (sodium_init() < 0)
		__builtin_trap();
	unhex(ipriv, "1011111111111111111111111111111111111111111111111111111111111151");
	unhex(rpriv, "2022222222222222222222222222222222222222222222222222222222222262");
	unhex(psk, "5555555555555555555555555555555555555555555555555555555555555555");
	unhex(ieph, "3033333333333333333333333333333333333333333333333333333333333373");
	unhex(reph, "4044444444444444444444444444444444444444444444444444444444444444");
	unhex(ts, "400000006553f10a00000000");
	noise_local_init(&il, ipriv);
	noise_local_init(&rl, rpriv);
	noise_peer_init(&ip_sent, &il, rl.public_key, psk);
	noise_peer_init(&rp_fresh, &rl, il.public_key, psk);
	noise_create_initiation(&ip_sent, &il, 0x01020304, 1, &det, init);
	/* Keypairs as the KAT derives them: run the handshake once. */
	struct noise_peer i2 = ip_sent, r2 = rp_fresh;
	struct noise_initiation st;
	uint8_t resp[92];
	noise_initiation_open(&rl, init, sizeof(init), &st);
	noise_initiation_accept(&r2, &rl, &st, 1);
	noise_create_response(&r2, 0x0a0b0c0d, 1, &rdet, resp);
	noise_consume_response(&i2, &il, resp, sizeof(resp));
	noise_derive_keypair(&i2, &ikp, 1);
	noise_derive_keypair(&r2, &rkp, 1);
	uint8_t secret[32];
	memset(secret, 0x66, sizeof(secret));
	cookie_checker_set_secret(&rl.cookie, secret, 1);
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[2048];
	static const uint8_t src[6] = { 0xc0, 0x00, 0x02, 0x01, 0x6c, 0xca };

	if (!ready)
		setup();
	if (size < 1 || size - 1 > sizeof(buf))
		return 0;
	uint8_t mode = data[0];
	size_t len = size - 1;
	memcpy(buf, data + 1, len);

	(void)noise_msg_receiver(buf, len);
	int type = noise_msg_type(buf, len);
	if ((mode & 1) && len >= 32 && (type == NOISE_MSG_INITIATION || type == NOISE_MSG_RESPONSE)) {
		struct cookie_maker m;
		cookie_maker_init(&m, type == NOISE_MSG_INITIATION ? rl.public_key : il.public_key);
		cookie_add_macs(&m, buf, len, 1);
	}
	(void)cookie_check_mac1(&rl.cookie, buf, len);
	(void)cookie_check_mac2(&rl.cookie, buf, len, src, sizeof(src), 1);

	switch (type) {
	case NOISE_MSG_INITIATION: {
		struct noise_initiation st;
		struct noise_peer p = rp_fresh;
		if (noise_initiation_open(&rl, buf, len, &st) == 0) {
			if (noise_initiation_accept(&p, &rl, &st, 1) == 0) {
				uint8_t resp[92];
				(void)noise_create_response(&p, 7, 1, NULL, resp);
			}
		}
		noise_peer_wipe(&p);
		break;
	}
	case NOISE_MSG_RESPONSE: {
		struct noise_peer p = ip_sent;
		struct noise_keypair kp;
		if (noise_consume_response(&p, &il, buf, len) == 0)
			(void)noise_derive_keypair(&p, &kp, 1);
		noise_peer_wipe(&p);
		break;
	}
	case NOISE_MSG_COOKIE: {
		struct cookie_maker m = ip_sent.cookie;
		(void)cookie_consume_reply(&m, buf, len, 1);
		break;
	}
	case NOISE_MSG_TRANSPORT: {
		struct noise_keypair kp = (mode & 2) ? ikp : rkp;
		size_t plain;
		(void)transport_decrypt(&kp, buf, len, 1, &plain);
		break;
	}
	default:
		(void)cookie_consume_reply(&rp_fresh.cookie, buf, len, 1);
		break;
	}
	return 0;
}
