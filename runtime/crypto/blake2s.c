/* blake2s: BLAKE2s from RFC 7693, HMAC-BLAKE2s, WireGuard's KDFs. */
#include "blake2s.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

static const uint32_t blake2s_iv[8] = {
	0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
	0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
};

static const uint8_t blake2s_sigma[10][16] = {
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
	{ 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
	{ 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
	{ 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
	{ 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
	{ 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
	{ 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
	{ 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
	{ 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
};

static inline uint32_t rotr32(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t load32_le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store32_le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

#define G(a, b, c, d, x, y) do { \
	v[a] = v[a] + v[b] + (x); v[d] = rotr32(v[d] ^ v[a], 16); \
	v[c] = v[c] + v[d];       v[b] = rotr32(v[b] ^ v[c], 12); \
	v[a] = v[a] + v[b] + (y); v[d] = rotr32(v[d] ^ v[a], 8);  \
	v[c] = v[c] + v[d];       v[b] = rotr32(v[b] ^ v[c], 7);  \
} while (0)

/* Compression function F (RFC 7693 section 3.2); LAST marks the final block. */
static void blake2s_compress(struct blake2s_state *s, const uint8_t block[BLAKE2S_BLOCK_LEN], int last)
{
	uint32_t m[16], v[16];

	for (int i = 0; i < 16; i++)
		m[i] = load32_le(block + 4 * i);
	for (int i = 0; i < 8; i++) {
		v[i] = s->h[i];
		v[i + 8] = blake2s_iv[i];
	}
	v[12] ^= s->t[0];
	v[13] ^= s->t[1];
	if (last)
		v[14] = ~v[14];
	for (int r = 0; r < 10; r++) {
		const uint8_t *sg = blake2s_sigma[r];
		G(0, 4, 8, 12, m[sg[0]], m[sg[1]]);
		G(1, 5, 9, 13, m[sg[2]], m[sg[3]]);
		G(2, 6, 10, 14, m[sg[4]], m[sg[5]]);
		G(3, 7, 11, 15, m[sg[6]], m[sg[7]]);
		G(0, 5, 10, 15, m[sg[8]], m[sg[9]]);
		G(1, 6, 11, 12, m[sg[10]], m[sg[11]]);
		G(2, 7, 8, 13, m[sg[12]], m[sg[13]]);
		G(3, 4, 9, 14, m[sg[14]], m[sg[15]]);
	}
	for (int i = 0; i < 8; i++)
		s->h[i] ^= v[i] ^ v[i + 8];
	sodium_memzero(m, sizeof(m));
	sodium_memzero(v, sizeof(v));
}

static void blake2s_count(struct blake2s_state *s, uint32_t n)
{
	s->t[0] += n;
	if (s->t[0] < n)
		s->t[1]++;
}

int blake2s_init(struct blake2s_state *s, size_t outlen, const void *key, size_t keylen)
{
	if (outlen == 0 || outlen > BLAKE2S_HASH_LEN || keylen > BLAKE2S_KEY_LEN || (keylen && !key))
		return -EINVAL;
	memcpy(s->h, blake2s_iv, sizeof(s->h));
	/* Parameter block: digest length, key length, fanout 1, depth 1. */
	s->h[0] ^= 0x01010000 ^ (uint32_t)(keylen << 8) ^ (uint32_t)outlen;
	s->t[0] = s->t[1] = 0;
	s->buflen = 0;
	s->outlen = outlen;
	memset(s->buf, 0, sizeof(s->buf));
	if (keylen) {
		memcpy(s->buf, key, keylen);
		s->buflen = BLAKE2S_BLOCK_LEN;	/* the padded key is the first block */
	}
	return 0;
}

void blake2s_update(struct blake2s_state *s, const void *in, size_t inlen)
{
	const uint8_t *p = in;

	if (inlen == 0)
		return;
	/* Keep the last block buffered: it must be compressed with the final flag. */
	size_t fill = BLAKE2S_BLOCK_LEN - s->buflen;
	if (inlen > fill) {
		memcpy(s->buf + s->buflen, p, fill);
		blake2s_count(s, BLAKE2S_BLOCK_LEN);
		blake2s_compress(s, s->buf, 0);
		s->buflen = 0;
		p += fill;
		inlen -= fill;
		while (inlen > BLAKE2S_BLOCK_LEN) {
			blake2s_count(s, BLAKE2S_BLOCK_LEN);
			blake2s_compress(s, p, 0);
			p += BLAKE2S_BLOCK_LEN;
			inlen -= BLAKE2S_BLOCK_LEN;
		}
	}
	memcpy(s->buf + s->buflen, p, inlen);
	s->buflen += inlen;
}

void blake2s_final(struct blake2s_state *s, uint8_t *out)
{
	uint8_t full[BLAKE2S_HASH_LEN];

	blake2s_count(s, (uint32_t)s->buflen);
	memset(s->buf + s->buflen, 0, BLAKE2S_BLOCK_LEN - s->buflen);
	blake2s_compress(s, s->buf, 1);
	for (int i = 0; i < 8; i++)
		store32_le(full + 4 * i, s->h[i]);
	memcpy(out, full, s->outlen);
	sodium_memzero(full, sizeof(full));
	sodium_memzero(s, sizeof(*s));
}

int blake2s(uint8_t *out, size_t outlen, const void *key, size_t keylen, const void *in, size_t inlen)
{
	struct blake2s_state s;
	int rc = blake2s_init(&s, outlen, key, keylen);

	if (rc < 0)
		return rc;
	blake2s_update(&s, in, inlen);
	blake2s_final(&s, out);
	return 0;
}

void blake2s_hmac(uint8_t out[BLAKE2S_HASH_LEN], const void *key, size_t keylen, const void *in, size_t inlen)
{
	struct blake2s_state s;
	uint8_t k[BLAKE2S_BLOCK_LEN] = { 0 }, pad[BLAKE2S_BLOCK_LEN], inner[BLAKE2S_HASH_LEN];

	if (keylen > BLAKE2S_BLOCK_LEN)
		blake2s(k, BLAKE2S_HASH_LEN, NULL, 0, key, keylen);
	else if (keylen)
		memcpy(k, key, keylen);

	for (int i = 0; i < BLAKE2S_BLOCK_LEN; i++)
		pad[i] = k[i] ^ 0x36;
	blake2s_init(&s, BLAKE2S_HASH_LEN, NULL, 0);
	blake2s_update(&s, pad, sizeof(pad));
	blake2s_update(&s, in, inlen);
	blake2s_final(&s, inner);

	for (int i = 0; i < BLAKE2S_BLOCK_LEN; i++)
		pad[i] = k[i] ^ 0x5c;
	blake2s_init(&s, BLAKE2S_HASH_LEN, NULL, 0);
	blake2s_update(&s, pad, sizeof(pad));
	blake2s_update(&s, inner, sizeof(inner));
	blake2s_final(&s, out);

	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
}

/* HKDF with up to three 32-byte outputs; NULL outputs are skipped (but
 * still computed when a later one needs them). */
static void blake2s_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, int n, const uint8_t key[32],
			const void *in, size_t inlen)
{
	uint8_t prk[BLAKE2S_HASH_LEN], t[BLAKE2S_HASH_LEN + 1];
	uint8_t *outs[3] = { t1, t2, t3 };

	blake2s_hmac(prk, key, BLAKE2S_HASH_LEN, in, inlen);
	size_t tlen = 0;
	for (int i = 0; i < n; i++) {
		t[tlen] = (uint8_t)(i + 1);
		blake2s_hmac(t, prk, sizeof(prk), t, tlen + 1);
		tlen = BLAKE2S_HASH_LEN;
		if (outs[i])
			memcpy(outs[i], t, BLAKE2S_HASH_LEN);
	}
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t, sizeof(t));
}

void blake2s_kdf1(uint8_t t1[32], const uint8_t key[32], const void *in, size_t inlen)
{
	blake2s_kdf(t1, NULL, NULL, 1, key, in, inlen);
}

void blake2s_kdf2(uint8_t t1[32], uint8_t t2[32], const uint8_t key[32], const void *in, size_t inlen)
{
	blake2s_kdf(t1, t2, NULL, 2, key, in, inlen);
}

void blake2s_kdf3(uint8_t t1[32], uint8_t t2[32], uint8_t t3[32], const uint8_t key[32],
		  const void *in, size_t inlen)
{
	blake2s_kdf(t1, t2, t3, 3, key, in, inlen);
}
