/* ctl_hs: the control handshake, Noise_IK_25519_ChaChaPoly_BLAKE2s without a
 * pre-shared key, and the session it gives.  Pure code: buffers in and out.
 *
 *   node (initiator)                          coordinator (responder)
 *   knows the coordinator's static key        knows nothing of the node
 *   ctl_hs_initiate()   --108 B: e, es, s, ss, {TAI64N}-->
 *                                             ctl_hs_respond(): the node's
 *                                             machine key and timestamp
 *   ctl_hs_finish()     <--48 B: e, ee, se, {}--
 *   both hold a ctl_session: initiator sends with k1, responder with k2.
 *
 * The prologue (CTL_PROLOGUE) names the protocol and its version, so two
 * ends that disagree about either fail the handshake.  The initiation's
 * payload is a TAI64N timestamp; the responder refuses one not newer than
 * the last it accepted from that machine key (its caller keeps that record
 * and answers through ctl_last_seen_fn), so a captured initiation cannot be
 * replayed.  Every function wipes its ephemeral and chaining keys on every
 * path.  Errors: -EINVAL wrong length or state, -EBADMSG authentication
 * failed (wrong pinned key, tampering), -EKEYREJECTED a low-order key,
 * -ESTALE a replayed or old timestamp, -EOVERFLOW nonces exhausted. */
#ifndef CTL_HS_H
#define CTL_HS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nsym.h"
#include "tai64n.h"

#define CTL_PROTOCOL_VERSION 1
#define CTL_NOISE_NAME "Noise_IK_25519_ChaChaPoly_BLAKE2s"
#define CTL_PROLOGUE   "keygate control protocol v1"
#define CTL_KEY_LEN    32
#define CTL_HS_INIT_LEN (32 + CTL_KEY_LEN + NSYM_TAG_LEN + TAI64N_LEN + NSYM_TAG_LEN)	/* 108 */
#define CTL_HS_RESP_LEN (32 + NSYM_TAG_LEN)						/* 48 */

/* A static key pair: the coordinator's key, or a node's machine key. */
struct ctl_identity {
	uint8_t private_key[CTL_KEY_LEN];
	uint8_t public_key[CTL_KEY_LEN];
};

/* Fixed inputs for known-answer tests; NULL fields (or a NULL pointer) mean
 * randombytes_buf and the wall clock. */
struct ctl_det {
	const uint8_t *ephemeral_private;	/* 32 bytes */
	const uint8_t *timestamp;		/* 12 bytes TAI64N */
};

/* The initiator's state between its two calls. */
struct ctl_hs {
	uint8_t h[NSYM_HASH_LEN];
	uint8_t ck[NSYM_HASH_LEN];
	uint8_t e_priv[CTL_KEY_LEN];
	uint8_t s_priv[CTL_KEY_LEN];
	uint8_t rs[CTL_KEY_LEN];
	bool pending;
};

/* One established session: keys and counters of both directions. */
struct ctl_session {
	uint8_t send_key[NSYM_KEY_LEN];
	uint8_t recv_key[NSYM_KEY_LEN];
	uint64_t send_counter, recv_counter;
	uint8_t remote_static[CTL_KEY_LEN];
	uint8_t handshake_hash[NSYM_HASH_LEN];	/* Noise's h: channel binding */
	bool valid;
};

/* The responder's replay record: write into TS the newest timestamp ever
 * accepted from MACHINE_KEY and return true, or return false when the key
 * was never seen. */
typedef bool (*ctl_last_seen_fn)(void *ctx, const uint8_t machine_key[CTL_KEY_LEN],
				 uint8_t ts[TAI64N_LEN]);

/* Derive the public key (X25519 of the clamped private key).  0 or -EINVAL. */
int ctl_identity_init(struct ctl_identity *id, const uint8_t private_key[CTL_KEY_LEN]);
/* A new random identity. */
void ctl_identity_generate(struct ctl_identity *id);
void ctl_identity_wipe(struct ctl_identity *id);

/* Initiator: write the first message to OUT, keep the state in HS. */
int ctl_hs_initiate(struct ctl_hs *hs, const struct ctl_identity *local,
		    const uint8_t server_key[CTL_KEY_LEN], const struct ctl_det *det,
		    uint8_t out[CTL_HS_INIT_LEN]);
/* Initiator: consume the response; on success S is the session and HS is
 * wiped; on failure HS is wiped too (a handshake is tried once). */
int ctl_hs_finish(struct ctl_hs *hs, const uint8_t *msg, size_t len, struct ctl_session *s);
void ctl_hs_wipe(struct ctl_hs *hs);

/* Responder: consume an initiation, check its timestamp against LAST_SEEN
 * (may be NULL: no replay record), write the response to OUT and the
 * session to S (S->remote_static is the node's machine key); TS gets the
 * accepted timestamp, for the caller's record. */
int ctl_hs_respond(const struct ctl_identity *local, const uint8_t *msg, size_t len,
		   ctl_last_seen_fn last_seen, void *ctx, const struct ctl_det *det,
		   uint8_t out[CTL_HS_RESP_LEN], struct ctl_session *s, uint8_t ts[TAI64N_LEN]);

/* Transport.  Seal LEN (<= NSYM_MAX_PLAINTEXT) bytes into OUT (LEN + 16)
 * with the next send counter; open LEN (>= 16) bytes of ciphertext into
 * OUT (LEN - 16) with the next receive counter.  TCP keeps order, so the
 * counters are implicit.  0, -EMSGSIZE, -EBADMSG or -EOVERFLOW. */
int ctl_session_seal(struct ctl_session *s, const uint8_t *in, size_t len, uint8_t *out);
int ctl_session_open(struct ctl_session *s, const uint8_t *in, size_t len, uint8_t *out);
void ctl_session_wipe(struct ctl_session *s);

#endif
