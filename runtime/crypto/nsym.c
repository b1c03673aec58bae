/* nsym: Noise's symmetric state functions over BLAKE2s and ChaChaPoly. */
#include "nsym.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "blake2s.h"

void nsym_hash(uint8_t h[NSYM_HASH_LEN], const void *data, size_t len)
{
	blake2s(h, NSYM_HASH_LEN, NULL, 0, data, len);
}

void nsym_initialize(uint8_t ck[NSYM_HASH_LEN], uint8_t h[NSYM_HASH_LEN], const char *protocol_name)
{
	size_t len = strlen(protocol_name);

	if (len <= NSYM_HASH_LEN) {
		memset(h, 0, NSYM_HASH_LEN);
		memcpy(h, protocol_name, len);
	} else {
		nsym_hash(h, protocol_name, len);
	}
	memcpy(ck, h, NSYM_HASH_LEN);
}

void nsym_mix_hash(uint8_t h[NSYM_HASH_LEN], const void *data, size_t len)
{
	struct blake2s_state s;

	blake2s_init(&s, NSYM_HASH_LEN, NULL, 0);
	blake2s_update(&s, h, NSYM_HASH_LEN);
	blake2s_update(&s, data, len);
	blake2s_final(&s, h);
}

void nsym_mix_key(uint8_t ck[NSYM_HASH_LEN], uint8_t key[NSYM_KEY_LEN], const void *ikm, size_t len)
{
	if (key)
		blake2s_kdf2(ck, key, ck, ikm, len);
	else
		blake2s_kdf1(ck, ck, ikm, len);
}

/* The 96-bit IETF nonce: 32 zero bits, then COUNTER little-endian. */
static void nsym_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

void nsym_seal(uint8_t *out, const uint8_t *in, size_t len, const uint8_t key[NSYM_KEY_LEN],
	       uint64_t counter, const uint8_t *ad, size_t adlen)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	nsym_nonce(nonce, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, len, ad, adlen, NULL, nonce, key);
}

int nsym_open(uint8_t *out, const uint8_t *in, size_t len, const uint8_t key[NSYM_KEY_LEN],
	      uint64_t counter, const uint8_t *ad, size_t adlen)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	nsym_nonce(nonce, counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, in, len + NSYM_TAG_LEN,
						      ad, adlen, nonce, key) != 0)
		return -EBADMSG;
	return 0;
}

void nsym_encrypt_and_hash(uint8_t *out, const uint8_t *in, size_t len,
			   const uint8_t key[NSYM_KEY_LEN], uint8_t h[NSYM_HASH_LEN])
{
	nsym_seal(out, in, len, key, 0, h, NSYM_HASH_LEN);
	nsym_mix_hash(h, out, len + NSYM_TAG_LEN);
}

int nsym_decrypt_and_hash(uint8_t *out, const uint8_t *in, size_t len,
			  const uint8_t key[NSYM_KEY_LEN], uint8_t h[NSYM_HASH_LEN])
{
	if (nsym_open(out, in, len, key, 0, h, NSYM_HASH_LEN) < 0)
		return -EBADMSG;
	nsym_mix_hash(h, in, len + NSYM_TAG_LEN);
	return 0;
}

void nsym_split(uint8_t k1[NSYM_KEY_LEN], uint8_t k2[NSYM_KEY_LEN], const uint8_t ck[NSYM_HASH_LEN])
{
	blake2s_kdf2(k1, k2, ck, NULL, 0);
}

int nsym_dh(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32])
{
	if (crypto_scalarmult(out, priv, pub) != 0) {
		sodium_memzero(out, 32);
		return -EKEYREJECTED;
	}
	return 0;
}
