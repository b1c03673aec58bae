/* blake2s: BLAKE2s (RFC 7693), plain and keyed, incremental and one-shot;
 * HMAC-BLAKE2s (RFC 2104 over BLAKE2s-256, block 64 bytes); and WireGuard's
 * KDF1/KDF2/KDF3, HKDF (RFC 5869) over HMAC-BLAKE2s with an empty info:
 *   T0 = HMAC(key, input); T1 = HMAC(T0, 0x01); Tn = HMAC(T0, Tn-1 || n).
 * libsodium has BLAKE2b only, so this is ours.  No allocation; the state is
 * wiped by blake2s_final and every one-shot function wipes its temporaries. */
#ifndef BLAKE2S_H
#define BLAKE2S_H
#include <stddef.h>
#include <stdint.h>

#define BLAKE2S_BLOCK_LEN 64
#define BLAKE2S_HASH_LEN  32	/* maximum (and WireGuard HASH) output length */
#define BLAKE2S_KEY_LEN   32	/* maximum key length */

struct blake2s_state {
	uint32_t h[8];
	uint32_t t[2];
	uint8_t buf[BLAKE2S_BLOCK_LEN];
	size_t buflen;
	size_t outlen;
};

/* Start a hash of OUTLEN bytes (1..32).  KEY may be NULL with KEYLEN 0
 * (plain hash) or KEYLEN 1..32 bytes (keyed hash, RFC 7693 section 2.5).
 * Return 0, or -EINVAL on a bad length (the state is then unusable). */
int blake2s_init(struct blake2s_state *s, size_t outlen, const void *key, size_t keylen);
void blake2s_update(struct blake2s_state *s, const void *in, size_t inlen);
/* Write the s->outlen byte digest to OUT and wipe the state. */
void blake2s_final(struct blake2s_state *s, uint8_t *out);

/* One-shot: OUT gets OUTLEN bytes of BLAKE2s(key, in).  Return 0 or -EINVAL. */
int blake2s(uint8_t *out, size_t outlen, const void *key, size_t keylen,
	    const void *in, size_t inlen);

/* HMAC-BLAKE2s with a 32-byte output; any key length (longer keys hashed). */
void blake2s_hmac(uint8_t out[BLAKE2S_HASH_LEN], const void *key, size_t keylen,
		  const void *in, size_t inlen);

/* WireGuard KDFn(key = chaining key C, input).  Outputs may be NULL when a
 * caller does not need them (kdf2 with t1 only), and may alias KEY. */
void blake2s_kdf1(uint8_t t1[32], const uint8_t key[32], const void *in, size_t inlen);
void blake2s_kdf2(uint8_t t1[32], uint8_t t2[32], const uint8_t key[32],
		  const void *in, size_t inlen);
void blake2s_kdf3(uint8_t t1[32], uint8_t t2[32], uint8_t t3[32], const uint8_t key[32],
		  const void *in, size_t inlen);

#endif
