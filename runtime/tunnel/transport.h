/* transport: WireGuard type-4 data messages, in place and allocation-free.
 *
 *   type 4 | 3 zero bytes | receiver index (LE32) | counter (LE64) |
 *   ChaCha20-Poly1305-IETF(key, nonce = 4 zero bytes || counter LE64,
 *                          plaintext padded with zeros to a multiple of 16)
 *   | 16-byte tag                    (no AAD; keepalive = empty plaintext)
 *
 * The caller keeps the plaintext at buf + TRANSPORT_HEADER_LEN with room
 * behind it for the padding and the tag, so nothing is copied.
 * Errors (negative errno): -EINVAL malformed or too short, -ESRCH receiver
 * index is not the keypair's, -ENOKEY keypair not valid, -EKEYEXPIRED too
 * old or counter exhausted, -ENOBUFS buffer too small, -EBADMSG
 * authentication failed, -EALREADY replayed or too old counter. */
#ifndef TRANSPORT_H
#define TRANSPORT_H
#include <stddef.h>
#include <stdint.h>

#include "noise.h"

#define TRANSPORT_HEADER_LEN 16
#define TRANSPORT_TAG_LEN    16
#define TRANSPORT_OVERHEAD   (TRANSPORT_HEADER_LEN + TRANSPORT_TAG_LEN)
#define TRANSPORT_KEEPALIVE_LEN TRANSPORT_OVERHEAD	/* 32 */

/* PLAIN_LEN with WireGuard's zero padding: rounded up to a multiple of 16
 * but not beyond MTU; a packet longer than MTU pads its last MTU-sized unit
 * (as the kernel and wireguard-go do).  MTU 0: plain multiple of 16. */
size_t transport_padded_len(size_t plain_len, size_t mtu);

/* Encrypt the PLAIN_LEN bytes at BUF + 16 in place with KP's next counter
 * (then incremented); BUF has CAP bytes.  *OUT_LEN gets the message length
 * (16 + padded + 16).  Return 0 or -errno; the counter is used only on
 * success. */
int transport_encrypt(struct noise_keypair *kp, uint8_t *buf, size_t cap, size_t plain_len,
		      size_t mtu, uint64_t now, size_t *out_len);

/* Counter of a transport message (LEN >= 16), for callers that peek. */
uint64_t transport_counter(const uint8_t *msg);

/* Authenticate and decrypt the LEN-byte message in BUF in place: the
 * plaintext (still padded: the IP header tells the real length) is left at
 * BUF + 16 and *PLAIN_LEN gets its length (0 = keepalive).  The counter is
 * checked against KP's replay window before (cheap) and recorded after
 * authentication.  Return 0 or -errno. */
int transport_decrypt(struct noise_keypair *kp, uint8_t *buf, size_t len, uint64_t now,
		      size_t *plain_len);

#endif
