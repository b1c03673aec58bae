/* bench_wgcrypto: WireGuard crypto throughput, each figure beside its
 * reference measured in the same run:
 *   transport encrypt+decrypt of 1420-byte packets  vs  libsodium's raw
 *     crypto_aead_chacha20poly1305_ietf encrypt+decrypt of the same size;
 *   full handshakes (both sides)  vs  raw X25519 operations / 8 (a
 *     handshake costs 8 X25519 operations with the static DH precomputed);
 *   BLAKE2s (ours)  vs  libsodium's BLAKE2b (crypto_generichash).
 * Each pair is measured in 3 interleaved rounds, best of each reported.
 * Usage: bench_wgcrypto [SECONDS per round, default 0.5]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "blake2s.h"
#include "noise.h"
#include "transport.h"

#define PKT 1420

static double seconds = 0.5;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run FN in batches until SECONDS passed; return operations per second. */
static double rate(void (*fn)(unsigned n), unsigned batch)
{
	double start = now_s(), t;
	unsigned long long ops = 0;

	fn(batch);	/* warm up */
	start = now_s();
	do {
		fn(batch);
		ops += batch;
		t = now_s() - start;
	} while (t < seconds);
	return (double)ops / t;
}

/* Best of ROUNDS interleaved rounds of FA and FB (fairer on a shared,
 * noisy machine than one long run of each). */
static void best_pair(void (*fa)(unsigned), unsigned ba, void (*fb)(unsigned), unsigned bb, double *a, double *b)
{
	*a = *b = 0;
	for (int r = 0; r < 3; r++) {
		double x = rate(fa, ba), y = rate(fb, bb);
		if (x > *a)
			*a = x;
		if (y > *b)
			*b = y;
	}
}

static struct noise_keypair ka, kb;
static uint8_t pkt[PKT + 64];
static uint8_t key[32];

static void bench_transport(unsigned n)
{
	size_t out, plain;

	for (unsigned i = 0; i < n; i++) {
		if (transport_encrypt(&ka, pkt, sizeof(pkt), PKT, PKT, 1, &out) != 0 ||
		    transport_decrypt(&kb, pkt, out, 1, &plain) != 0) {
			fprintf(stderr, "bench_wgcrypto: transport round trip failed\n");
			exit(1);
		}
	}
}

static void bench_raw_aead(unsigned n)
{
	uint8_t nonce[12] = { 0 }, tag[16];

	for (unsigned i = 0; i < n; i++) {
		memcpy(nonce + 4, &i, sizeof(i));
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(pkt + 16, tag, NULL, pkt + 16, PKT, NULL, 0, NULL,
								   nonce, key);
		if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(pkt + 16, NULL, pkt + 16, PKT, tag, NULL, 0,
								       nonce, key) != 0) {
			fprintf(stderr, "bench_wgcrypto: raw AEAD round trip failed\n");
			exit(1);
		}
	}
}

static struct noise_local il, rl;
static struct noise_peer ip, rp;
static uint64_t hs_clock = 1000000000ULL, hs_stamp = 1;

static void bench_handshake(unsigned n)
{
	uint8_t init[148], resp[92], ts[12];
	struct noise_initiation st;
	struct noise_keypair a, b;

	for (unsigned i = 0; i < n; i++) {
		hs_stamp++;
		noise_tai64n_at(ts, hs_stamp, 0);
		struct noise_det det = { NULL, ts };
		hs_clock += 1000000000ULL;
		if (noise_create_initiation(&ip, &il, 1, hs_clock, &det, init) != 0 ||
		    noise_initiation_open(&rl, init, sizeof(init), &st) != 0 ||
		    noise_initiation_accept(&rp, &rl, &st, hs_clock) != 0 ||
		    noise_create_response(&rp, 2, hs_clock, NULL, resp) != 0 ||
		    noise_consume_response(&ip, &il, resp, sizeof(resp)) != 0 ||
		    noise_derive_keypair(&ip, &a, hs_clock) != 0 || noise_derive_keypair(&rp, &b, hs_clock) != 0) {
			fprintf(stderr, "bench_wgcrypto: handshake failed\n");
			exit(1);
		}
	}
	noise_keypair_wipe(&a);
	noise_keypair_wipe(&b);
}

static void bench_x25519(unsigned n)
{
	uint8_t sk[32], pk[32], out[32];

	randombytes_buf(sk, 32);
	crypto_scalarmult_base(pk, sk);
	for (unsigned i = 0; i < n; i++) {
		sk[0] ^= (uint8_t)i;
		if (crypto_scalarmult(out, sk, pk) != 0)
			exit(1);
	}
}

static void bench_blake2s(unsigned n)
{
	uint8_t md[32];

	for (unsigned i = 0; i < n; i++)
		blake2s(md, 32, NULL, 0, pkt, PKT);
}

static void bench_blake2b(unsigned n)
{
	uint8_t md[32];

	for (unsigned i = 0; i < n; i++)
		crypto_generichash(md, 32, pkt, PKT, NULL, 0);
}

int main(int argc, char **argv)
{
	uint8_t k1[32], k2[32];

	if (argc > 1)
		seconds = atof(argv[1]);
	if (seconds <= 0 || sodium_init() < 0)
		return 2;

	randombytes_buf(key, sizeof(key));
	randombytes_buf(pkt, sizeof(pkt));
	randombytes_buf(ka.send_key, 32);
	memcpy(kb.recv_key, ka.send_key, 32);
	ka.valid = kb.valid = true;
	ka.remote_index = kb.local_index = 7;

	noise_keygen(k1);
	noise_keygen(k2);
	noise_local_init(&il, k1);
	noise_local_init(&rl, k2);
	noise_peer_init(&ip, &il, rl.public_key, NULL);
	noise_peer_init(&rp, &rl, il.public_key, NULL);

	double t, r, h, x, s, b;
	best_pair(bench_transport, 1000, bench_raw_aead, 1000, &t, &r);
	t *= PKT / 1e9;
	r *= PKT / 1e9;
	printf("transport %d-byte packets, encrypt+decrypt: keygated %.3f GB/s   libsodium chacha20poly1305-ietf raw: %.3f GB/s   (%.0f%%)\n",
	       PKT, t, r, 100 * t / r);
	best_pair(bench_handshake, 20, bench_x25519, 50, &h, &x);
	printf("handshakes (initiation+response, created and consumed on both sides): keygated %.0f /s   X25519 bound (ops/8): %.0f /s   (%.0f%%)\n",
	       h, x / 8, 100 * h / (x / 8));
	best_pair(bench_blake2s, 1000, bench_blake2b, 1000, &s, &b);
	printf("hash %d-byte inputs: keygated BLAKE2s %.3f GB/s   libsodium BLAKE2b: %.3f GB/s\n", PKT, s * PKT / 1e9,
	       b * PKT / 1e9);

	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	noise_local_wipe(&il);
	noise_local_wipe(&rl);
	noise_peer_wipe(&ip);
	noise_peer_wipe(&rp);
	return 0;
}
