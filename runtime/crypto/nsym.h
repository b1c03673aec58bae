/* nsym: the Noise symmetric state over BLAKE2s and ChaCha20-Poly1305, shared
 * by the WireGuard handshake (Noise_IKpsk2) and the control handshake
 * (Noise_IK).  Noise spec revision 34, sections 4 and 5: HASH is BLAKE2s-256,
 * HKDF is RFC 5869 over HMAC-BLAKE2s (blake2s_kdf*), the cipher is
 * ChaCha20-Poly1305 (IETF) with the 96-bit nonce 32 zero bits || the 64-bit
 * counter little-endian.  The handshake patterns both protocols use encrypt
 * at most once per key, so EncryptAndHash/DecryptAndHash take nonce 0; the
 * transport functions take the counter.  X25519 from libsodium.  No state of
 * its own; callers own (and wipe) H, CK and keys. */
#ifndef NSYM_H
#define NSYM_H
#include <stddef.h>
#include <stdint.h>

#define NSYM_HASH_LEN 32
#define NSYM_KEY_LEN  32
#define NSYM_TAG_LEN  16
/* The largest Noise message, and so the largest transport plaintext. */
#define NSYM_MAX_MSG       65535
#define NSYM_MAX_PLAINTEXT (NSYM_MAX_MSG - NSYM_TAG_LEN)

/* H = HASH(DATA). */
void nsym_hash(uint8_t h[NSYM_HASH_LEN], const void *data, size_t len);
/* InitializeSymmetric(protocol_name): H = name padded with zeros when it
 * fits in 32 bytes, else HASH(name); CK = H. */
void nsym_initialize(uint8_t ck[NSYM_HASH_LEN], uint8_t h[NSYM_HASH_LEN], const char *protocol_name);
/* MixHash: H = HASH(H || DATA). */
void nsym_mix_hash(uint8_t h[NSYM_HASH_LEN], const void *data, size_t len);
/* MixKey: CK, KEY = HKDF(CK, IKM).  KEY may be NULL (the output unused). */
void nsym_mix_key(uint8_t ck[NSYM_HASH_LEN], uint8_t key[NSYM_KEY_LEN], const void *ikm, size_t len);
/* EncryptAndHash with nonce 0: OUT gets LEN + 16 bytes, AD = H; then
 * H = HASH(H || ciphertext).  OUT and IN may not overlap. */
void nsym_encrypt_and_hash(uint8_t *out, const uint8_t *in, size_t len,
			   const uint8_t key[NSYM_KEY_LEN], uint8_t h[NSYM_HASH_LEN]);
/* DecryptAndHash with nonce 0: IN holds LEN + 16 bytes; OUT gets LEN.
 * Return 0 (then H = HASH(H || ciphertext)) or -EBADMSG (H unchanged). */
int nsym_decrypt_and_hash(uint8_t *out, const uint8_t *in, size_t len,
			  const uint8_t key[NSYM_KEY_LEN], uint8_t h[NSYM_HASH_LEN]);
/* Split: K1, K2 = HKDF(CK, empty). */
void nsym_split(uint8_t k1[NSYM_KEY_LEN], uint8_t k2[NSYM_KEY_LEN], const uint8_t ck[NSYM_HASH_LEN]);
/* OUT = X25519(PRIV, PUB); -EKEYREJECTED (OUT zeroed) for an all-zero
 * result, which a low-order public key gives. */
int nsym_dh(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32]);

/* Transport: ENCRYPT(KEY, COUNTER, AD, IN) into OUT (LEN + 16 bytes).
 * AD may be NULL with ADLEN 0. */
void nsym_seal(uint8_t *out, const uint8_t *in, size_t len, const uint8_t key[NSYM_KEY_LEN],
	       uint64_t counter, const uint8_t *ad, size_t adlen);
/* DECRYPT: IN holds LEN + 16 bytes, OUT gets LEN; 0 or -EBADMSG. */
int nsym_open(uint8_t *out, const uint8_t *in, size_t len, const uint8_t key[NSYM_KEY_LEN],
	      uint64_t counter, const uint8_t *ad, size_t adlen);

#endif
