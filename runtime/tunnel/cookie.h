/* cookie: WireGuard's mac1/mac2 and cookie replies (DoS mitigation).
 *
 * Every handshake message (initiation 148 bytes, response 92) ends in
 *   mac1 = MAC(HASH("mac1----" || receiver's static public), msg[0 .. len-32])
 *   mac2 = MAC(cookie, msg[0 .. len-16])   or 16 zero bytes without a cookie
 * where MAC is keyed BLAKE2s with a 16-byte output.  A responder under load
 * (the daemon decides when) demands a valid mac2 and otherwise answers with
 * a 64-byte cookie reply:
 *   type 3 | 3 zero bytes | receiver index (LE, = the message's sender index) |
 *   nonce (24, random) | XChaCha20-Poly1305(HASH("cookie--" || responder's
 *   static public), nonce, cookie, aad = the answered message's mac1) (16+16)
 * with cookie = MAC(secret, source address bytes), the secret renewed every
 * COOKIE_SECRET_LIFETIME.
 *
 * Two sides:
 *   cookie_checker (one per local interface, keyed with our static public)
 *     validates mac1 and mac2 of incoming messages and makes replies;
 *   cookie_maker (one per peer, keyed with the peer's static public) adds
 *     mac1/mac2 to our outgoing handshake messages and consumes replies.
 * Times are monotonic nanoseconds supplied by the caller (no clock here). */
#ifndef COOKIE_H
#define COOKIE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define COOKIE_LEN        16
#define COOKIE_MAC_LEN    16
#define COOKIE_NONCE_LEN  24
#define COOKIE_REPLY_LEN  64
#define COOKIE_SRC_MAX    18	/* IPv6 address + port */
#define COOKIE_LIFETIME_NS 120000000000ULL	/* COOKIE_REFRESH_TIME, 120 s */
#define COOKIE_MSG_TYPE_REPLY 3

struct cookie_checker {
	uint8_t mac1_key[32];		/* HASH("mac1----" || local static public) */
	uint8_t reply_key[32];		/* HASH("cookie--" || local static public) */
	uint8_t secret[32];
	uint64_t secret_birth;		/* ns */
	bool secret_valid;
};

struct cookie_maker {
	uint8_t mac1_key[32];		/* HASH("mac1----" || remote static public) */
	uint8_t reply_key[32];		/* HASH("cookie--" || remote static public) */
	uint8_t cookie[COOKIE_LEN];
	uint64_t cookie_birth;		/* ns */
	bool cookie_valid;
	uint8_t last_mac1[COOKIE_MAC_LEN];	/* mac1 of our last handshake message */
	bool last_mac1_valid;
};

/* Source address bytes, as wireguard-go forms them: the 4 or 16 address bytes
 * then the UDP port little-endian.  Return the length (6 or 18) or -EAFNOSUPPORT. */
int cookie_src_bytes(uint8_t out[COOKIE_SRC_MAX], const struct sockaddr *sa);

/* --- checker (responder side) --- */
void cookie_checker_init(struct cookie_checker *c, const uint8_t local_pub[32]);
/* Fix the secret (tests, or a daemon that wants to choose it); normally the
 * secret is drawn from randombytes_buf when first needed and every 120 s. */
void cookie_checker_set_secret(struct cookie_checker *c, const uint8_t secret[32], uint64_t now);
void cookie_checker_wipe(struct cookie_checker *c);
/* mac1 of MSG (LEN >= 32, normally 148 or 92) is right for our public key. */
bool cookie_check_mac1(const struct cookie_checker *c, const uint8_t *msg, size_t len);
/* mac2 of MSG is right for the cookie SRC would get now; false when the
 * secret is older than 120 s (the sender must fetch a new cookie). */
bool cookie_check_mac2(const struct cookie_checker *c, const uint8_t *msg, size_t len,
		       const uint8_t *src, size_t srclen, uint64_t now);
/* The cookie for SRC now (renewing the secret when due). */
void cookie_compute(struct cookie_checker *c, uint8_t cookie[COOKIE_LEN],
		    const uint8_t *src, size_t srclen, uint64_t now);
/* Write to OUT the 64-byte reply to MSG (an initiation or response whose
 * mac1 already checked) from SRC.  NONCE: 24 bytes, or NULL for random.
 * Return 0 or -EINVAL (MSG too short). */
int cookie_create_reply(struct cookie_checker *c, uint8_t out[COOKIE_REPLY_LEN],
			const uint8_t *msg, size_t len, const uint8_t *src, size_t srclen,
			uint64_t now, const uint8_t *nonce);

/* --- maker (initiator side, and responder's replies) --- */
void cookie_maker_init(struct cookie_maker *m, const uint8_t remote_pub[32]);
void cookie_maker_wipe(struct cookie_maker *m);
/* Fill in mac1 and mac2 (zero unless a cookie younger than 120 s is held)
 * of our outgoing MSG (LEN >= 32); remembers mac1 for a reply. */
void cookie_add_macs(struct cookie_maker *m, uint8_t *msg, size_t len, uint64_t now);
/* Decrypt a cookie reply for our last message and keep the cookie.
 * The caller routed it here by its receiver index.  Return 0, -EINVAL
 * (not a 64-byte type-3 message), -ENOENT (we sent nothing it can answer)
 * or -EBADMSG (authentication failed). */
int cookie_consume_reply(struct cookie_maker *m, const uint8_t *msg, size_t len, uint64_t now);

#endif
