/* Unit tests for blake2s: RFC 7693 vectors and self-test, keyed and plain
 * vectors, HMAC-BLAKE2s and the WireGuard KDFs.  The keyed/plain/HMAC/KDF
 * expectations were computed with Python's hashlib.blake2s and hmac (an
 * independent implementation) over wghex_pattern() inputs.  Then the Noise
 * symmetric state (nsym) on the cases the handshakes' known answers do not
 * reach: a protocol name of at most 32 bytes, a refused decryption leaving
 * h alone, a low-order public key. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "blake2s.h"
#include "nsym.h"
#include "t.h"
#include "wghex.h"

static void test_rfc_abc(void)
{
	uint8_t md[32], want[32];

	wghex_decode(want, sizeof(want), "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
	blake2s(md, 32, NULL, 0, "abc", 3);
	T_MEMEQ(md, want, 32, "blake2s: RFC 7693 appendix B, BLAKE2s-256(\"abc\")");
}

/* RFC 7693 appendix E: the Fibonacci-sequence inputs. */
static void selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t a = 0xDEAD4BAD * seed, b = 1;

	for (size_t i = 0; i < len; i++) {
		uint32_t t = a + b;
		a = b;
		b = t;
		out[i] = (uint8_t)(t >> 24);
	}
}

static void test_rfc_selftest(void)
{
	static const size_t md_len[4] = { 16, 20, 28, 32 };
	static const size_t in_len[6] = { 0, 3, 64, 65, 255, 1024 };
	uint8_t in[1024], md[32], key[32], want[32];
	struct blake2s_state ctx;

	wghex_decode(want, sizeof(want), "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
	blake2s_init(&ctx, 32, NULL, 0);
	for (size_t i = 0; i < 4; i++) {
		size_t outlen = md_len[i];
		for (size_t j = 0; j < 6; j++) {
			size_t inlen = in_len[j];
			selftest_seq(in, inlen, (uint32_t)inlen);
			blake2s(md, outlen, NULL, 0, in, inlen);
			blake2s_update(&ctx, md, outlen);
			selftest_seq(key, outlen, (uint32_t)outlen);
			blake2s(md, outlen, key, outlen, in, inlen);
			blake2s_update(&ctx, md, outlen);
		}
	}
	blake2s_final(&ctx, md);
	T_MEMEQ(md, want, 32, "blake2s: RFC 7693 appendix E self-test grand hash (48 plain and keyed hashes)");
}

static void test_vectors(void)
{
	static const struct {
		size_t keylen, inlen, outlen;
		const char *want;
	} cases[] = {
		{ 0, 0, 32, "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9" },
		{ 0, 1, 32, "6b821f55cab354e67d82cd1ae7c29b69dbdfc28072eb2e0e375e9ad798fedc70" },
		{ 0, 63, 32, "a8bcb6776c7c3a6a783e8952d1bc6c9de8e08ad479231e6ce367ea5fcd8f98b0" },
		{ 0, 64, 32, "a8bbdd441170e72bceafc103f86b8ddd418d81ebd6b88dd2d721f3b716e3b56c" },
		{ 0, 65, 32, "2db35962aef50d1c89be50263b23b04aca8bae077c40fb32fe9ba6a98ad25acc" },
		{ 0, 128, 28, "4f604bb39341d249e87b46ee7a1126c4b68721c2b5e554569f4618c7" },
		{ 0, 129, 1, "ab" },
		{ 32, 0, 32, "78dee342aa42d326006e673ed469a7bc03591b3e9ea1bf9da7fd5d14175b65a7" },
		{ 32, 3, 32, "5124a549bb3408452758aa877bc3cef8258d68ebf6a38403b7d7d6acf272ae4f" },
		{ 1, 64, 32, "606a84d3b870564d1f3cd2ecb5d618bfcf74a97c4780389b5ed5f6ee6fc0d02f" },
		{ 16, 65, 16, "cdcef643a14bb2eb23d7931c2b56cee3" },
		{ 32, 255, 20, "c00615b8960d1591918be2aff073462c1e033a01" },
		{ 31, 1024, 32, "6742cf7bb98d5d135f02f4f6fb676b0c1a250d0d32ad7d6f60aaa961271cbaa2" },
		{ 32, 64, 16, "aecec98b8b6eee6fd6655999dd3bdbf7" },
	};
	uint8_t key[32], in[1024], md[32], want[32];
	char hex[65];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wghex_pattern(key, cases[i].keylen, 3);
		wghex_pattern(in, cases[i].inlen, 5);
		wghex_decode(want, sizeof(want), cases[i].want);
		int rc = blake2s(md, cases[i].outlen, cases[i].keylen ? key : NULL, cases[i].keylen, in, cases[i].inlen);
		T_CHECK(rc == 0 && memcmp(md, want, cases[i].outlen) == 0,
			"blake2s: key %zu in %zu out %zu one-shot = %s", cases[i].keylen, cases[i].inlen,
			cases[i].outlen, cases[i].want);
		if (rc == 0 && memcmp(md, want, cases[i].outlen) != 0)
			printf("#   got: %s\n", wghex_encode(hex, md, cases[i].outlen));

		/* Incremental in every chunk size 1..65 gives the same digest. */
		int same = 1;
		for (size_t chunk = 1; chunk <= 65; chunk++) {
			struct blake2s_state s;
			blake2s_init(&s, cases[i].outlen, cases[i].keylen ? key : NULL, cases[i].keylen);
			for (size_t off = 0; off < cases[i].inlen; off += chunk) {
				size_t n = cases[i].inlen - off < chunk ? cases[i].inlen - off : chunk;
				blake2s_update(&s, in + off, n);
			}
			blake2s_final(&s, md);
			same &= memcmp(md, want, cases[i].outlen) == 0;
		}
		T_CHECK(same, "blake2s: key %zu in %zu: incremental updates in chunks of 1..65 bytes agree",
			cases[i].keylen, cases[i].inlen);
	}
}

static void test_bad_params(void)
{
	struct blake2s_state s;
	uint8_t md[33], key[33] = { 0 };

	T_CHECK(blake2s_init(&s, 0, NULL, 0) == -EINVAL, "blake2s: output length 0 refused");
	T_CHECK(blake2s_init(&s, 33, NULL, 0) == -EINVAL, "blake2s: output length 33 refused");
	T_CHECK(blake2s_init(&s, 32, key, 33) == -EINVAL, "blake2s: key length 33 refused");
	T_CHECK(blake2s(md, 32, NULL, 4, "x", 1) == -EINVAL, "blake2s: key length without a key refused");
}

static void test_hmac(void)
{
	static const struct {
		size_t keylen, inlen;
		const char *want;
	} cases[] = {
		{ 32, 0, "5b0716f18356d966b1079bd0f8aa44a47892671ceccbf4bb9dbc579741646b3c" },
		{ 32, 33, "69011a769a3ea1a5526f3eb7db977f8e00d88d18908cddc0498925b91b71ba8f" },
		{ 0, 5, "2edcb5f51184b323c38adda745c23645139f5c8d051d4ad830a1cbde82710fd5" },
		{ 64, 100, "e0619b3d5ac9770ebe176cba3a196a53c762ed85dd3175e3b4080faa1fe850d9" },
		{ 65, 64, "253f3dacf3e87a867f25b31b80ffbc74f03f2dde936051d9815d4005ade6c6bf" },
		{ 100, 1, "95d27cddeecfe2e07cf6854012e40ab7d407522b55a3c43d81b4aef91e6f83aa" },
	};
	uint8_t key[100], in[100], md[32], want[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wghex_pattern(key, cases[i].keylen, 11);
		wghex_pattern(in, cases[i].inlen, 13);
		wghex_decode(want, sizeof(want), cases[i].want);
		blake2s_hmac(md, key, cases[i].keylen, in, cases[i].inlen);
		T_MEMEQ(md, want, 32, "blake2s: HMAC key %zu bytes, message %zu bytes", cases[i].keylen, cases[i].inlen);
	}
}

static void test_kdf(void)
{
	static const struct {
		size_t inlen;
		const char *t1, *t2, *t3;
	} cases[] = {
		{ 0, "794f1131134bea9b2647cb9f0f9ad6bf6f4f35bfd5dc8454ade38389066cbfaa",
		  "aab61f0bc78f3a8d3de783a1f4664a7fa690da78c65d0b888201b400863c4073",
		  "c584d7b557c6b2e3aa253a8ca213243c2ca655042da98d1646e4d7bb451660a8" },
		{ 32, "8ebb87bbff739e110d19b08ff15e8b5b4054db21f9ca0c2038f82732b4108be0",
		  "39a1e1a8708aa45f157beb44a8ef61d5af35597c07ba5c3cbb67153049919efd",
		  "2f01b4737c2c6e2d924fe17589cf60acd6ab331cafadda15f6c9a91a4a98d4fa" },
	};
	uint8_t key[32], in[32], t[3][32], w[3][32], k2[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wghex_pattern(key, 32, 17);
		wghex_pattern(in, cases[i].inlen, 19);
		wghex_decode(w[0], 32, cases[i].t1);
		wghex_decode(w[1], 32, cases[i].t2);
		wghex_decode(w[2], 32, cases[i].t3);
		blake2s_kdf1(t[0], key, in, cases[i].inlen);
		T_MEMEQ(t[0], w[0], 32, "blake2s: KDF1 input %zu bytes", cases[i].inlen);
		memset(t, 0, sizeof(t));
		blake2s_kdf2(t[0], t[1], key, in, cases[i].inlen);
		T_CHECK(!memcmp(t[0], w[0], 32) && !memcmp(t[1], w[1], 32), "blake2s: KDF2 input %zu bytes", cases[i].inlen);
		memset(t, 0, sizeof(t));
		blake2s_kdf3(t[0], t[1], t[2], key, in, cases[i].inlen);
		T_CHECK(!memcmp(t, w, sizeof(w)), "blake2s: KDF3 input %zu bytes", cases[i].inlen);
		/* Outputs may alias the key, as the handshake does with the chaining key. */
		memcpy(k2, key, 32);
		blake2s_kdf2(k2, t[1], k2, in, cases[i].inlen);
		T_CHECK(!memcmp(k2, w[0], 32) && !memcmp(t[1], w[1], 32),
			"blake2s: KDF2 with output aliasing the key, input %zu bytes", cases[i].inlen);
	}
}

static void test_nsym(void)
{
	static const char short_name[] = "Noise_NN_25519_AESGCM_SHA256";	/* 28 bytes */
	static const char long_name[] = "Noise_IK_25519_ChaChaPoly_BLAKE2s";	/* 33 bytes */
	uint8_t ck[32], h[32], want[32], key[32], h2[32], ct[5 + 16], pt[5], zero[32], out[32];

	nsym_initialize(ck, h, short_name);
	memset(want, 0, sizeof(want));
	memcpy(want, short_name, strlen(short_name));
	T_CHECK(memcmp(h, want, 32) == 0 && memcmp(ck, want, 32) == 0,
		"nsym: a protocol name of up to 32 bytes is h itself, zero-padded");
	nsym_initialize(ck, h, long_name);
	blake2s(want, 32, NULL, 0, long_name, strlen(long_name));
	T_CHECK(memcmp(h, want, 32) == 0 && memcmp(ck, want, 32) == 0, "nsym: a longer name is hashed");

	memset(key, 7, sizeof(key));
	memcpy(h2, h, 32);
	nsym_encrypt_and_hash(ct, (const uint8_t *)"hello", 5, key, h);
	T_CHECK(nsym_decrypt_and_hash(pt, ct, 5, key, h2) == 0 && memcmp(pt, "hello", 5) == 0 && memcmp(h, h2, 32) == 0,
		"nsym: EncryptAndHash and DecryptAndHash agree on the plaintext and on h");
	memcpy(want, h2, 32);
	ct[0] ^= 1;
	T_CHECK(nsym_decrypt_and_hash(pt, ct, 5, key, h2) == -EBADMSG && memcmp(h2, want, 32) == 0,
		"nsym: a tampered ciphertext is refused and h stays as it was");
	memset(zero, 0, sizeof(zero));
	memset(out, 0xaa, sizeof(out));
	T_CHECK(nsym_dh(out, key, zero) == -EKEYREJECTED && memcmp(out, zero, 32) == 0,
		"nsym: DH with a low-order public key is refused and its output zeroed");
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	test_rfc_abc();
	test_rfc_selftest();
	test_vectors();
	test_bad_params();
	test_hmac();
	test_kdf();
	test_nsym();
	T_DONE();
}
