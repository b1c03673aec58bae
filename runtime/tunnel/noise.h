/* noise: the WireGuard v1 handshake, Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s,
 * and the session keypairs it derives.  Pure code: no sockets, no clock
 * reads except noise_tai64n_now(), no threads of its own; times are
 * monotonic nanoseconds supplied by the caller.  Calls on different peers
 * may run concurrently; one peer's state needs the caller's serialisation.
 *
 * Initiator                                Responder
 *   noise_create_initiation() --148 B-->     noise_initiation_open()   (mac1, static)
 *                                            look the peer up by st.remote_static
 *                                            noise_initiation_accept() (timestamp, replay)
 *   noise_consume_response()  <--92 B---     noise_create_response()
 *   noise_derive_keypair()                   noise_derive_keypair()
 *
 * The consume functions check mac1 themselves; mac2 (under load) is the
 * daemon's call: cookie_check_mac2(&local->cookie, ...).  The create
 * functions fill mac1/mac2 through the peer's cookie_maker.
 * Every function wipes its ephemeral keys, chaining keys and derived keys
 * with sodium_memzero on every exit path; a failed consume leaves the peer's
 * handshake state as it was.
 *
 * Errors (negative errno): -EINVAL malformed message or wrong state,
 * -ENOKEY no local private key, -EBADMSG authentication failed (mac1, AEAD),
 * -EKEYREJECTED an all-zero X25519 result (low-order public key),
 * -ESTALE replayed timestamp, -EBUSY initiations arriving faster than
 * NOISE_INITIATION_RATE_NS, -ESRCH message meant for another index/peer. */
#ifndef NOISE_H
#define NOISE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cookie.h"
#include "replay.h"

#define NOISE_KEY_LEN        32
#define NOISE_KEY_B64_LEN    44	/* base64 of 32 bytes, with one '=' */
#define NOISE_TIMESTAMP_LEN  12	/* TAI64N */
#define NOISE_INITIATION_LEN 148
#define NOISE_RESPONSE_LEN   92

#define NOISE_MSG_INITIATION 1
#define NOISE_MSG_RESPONSE   2
#define NOISE_MSG_COOKIE     3
#define NOISE_MSG_TRANSPORT  4

#define NOISE_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define NOISE_IDENTIFIER   "WireGuard v1 zx2c4 Jason@zx2c4.com"

/* Protocol constants (whitepaper section 6.1); times in nanoseconds. */
#define NOISE_NS                   1000000000ULL
#define NOISE_REKEY_AFTER_MESSAGES (1ULL << 60)
#define NOISE_REJECT_AFTER_MESSAGES REPLAY_REJECT_AFTER_MESSAGES	/* 2^64 - 2^13 - 1 */
#define NOISE_REKEY_AFTER_TIME_NS  (120 * NOISE_NS)
#define NOISE_REJECT_AFTER_TIME_NS (180 * NOISE_NS)
#define NOISE_REKEY_ATTEMPT_TIME_NS (90 * NOISE_NS)
#define NOISE_REKEY_TIMEOUT_NS     (5 * NOISE_NS)
#define NOISE_KEEPALIVE_TIMEOUT_NS (10 * NOISE_NS)
#define NOISE_INITIATION_RATE_NS   (NOISE_NS / 50)	/* 20 ms, as wireguard-go */

/* Our identity: one per interface. */
struct noise_local {
	bool has_identity;
	uint8_t private_key[NOISE_KEY_LEN];
	uint8_t public_key[NOISE_KEY_LEN];
	uint8_t hash_init[32];		/* HASH(H0 || public_key): responder's H after "s" */
	struct cookie_checker cookie;	/* mac1/mac2 checks, cookie replies */
};

enum noise_hs_state {
	NOISE_HS_ZEROED = 0,
	NOISE_HS_CREATED_INITIATION,
	NOISE_HS_CONSUMED_INITIATION,
	NOISE_HS_CREATED_RESPONSE,
	NOISE_HS_CONSUMED_RESPONSE,
};

/* One remote peer: its identity and the handshake in progress with it. */
struct noise_peer {
	uint8_t remote_static[NOISE_KEY_LEN];
	uint8_t psk[NOISE_KEY_LEN];		/* all zero when none: same as Noise */
	uint8_t precomputed_ss[NOISE_KEY_LEN];	/* DH(local static, remote static) */
	bool ss_valid;				/* local key set and DH not all-zero */
	enum noise_hs_state state;
	uint8_t hash[32];
	uint8_t chaining_key[32];
	uint8_t ephemeral_private[NOISE_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_KEY_LEN];
	uint32_t local_index, remote_index;	/* host order */
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];	/* greatest accepted */
	uint64_t last_initiation_consumption;	/* ns; 0 = never */
	struct cookie_maker cookie;		/* macs for our messages, replies */
};

/* Fixed inputs for tests; any NULL field (or a NULL pointer to the struct)
 * means the normal source: randombytes_buf for the ephemeral key, the
 * wall clock (noise_tai64n_now) for the timestamp. */
struct noise_det {
	const uint8_t *ephemeral_private;	/* 32 bytes, used as given (clamped by X25519) */
	const uint8_t *timestamp;		/* 12 bytes TAI64N */
};

/* The result of noise_initiation_open: who claims to be initiating.  Holds
 * secrets; noise_initiation_accept wipes it, or call noise_initiation_wipe. */
struct noise_initiation {
	uint8_t remote_static[NOISE_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_KEY_LEN];
	uint8_t hash[32];
	uint8_t chaining_key[32];
	uint8_t enc_timestamp[NOISE_TIMESTAMP_LEN + 16];
	uint32_t sender_index;
};

/* A session: transport keys and counters.  Plain data: copying is allowed,
 * noise_keypair_wipe destroys it. */
struct noise_keypair {
	bool valid;
	bool is_initiator;
	uint8_t send_key[32];
	uint8_t recv_key[32];
	uint64_t send_counter;		/* next counter to send */
	struct replay_window replay;	/* receive counters */
	uint64_t birth;			/* ns, when derived */
	uint32_t local_index;		/* receiver index of packets to us */
	uint32_t remote_index;		/* receiver index we put in packets */
};

/* Current, previous and next keypair of one peer, with WireGuard's rotation
 * rules (the responder's new keypair waits in "next" until the initiator
 * uses it).  Three embedded slots, no allocation; pointers are NULL or
 * point into slot[]. */
struct noise_keypairs {
	struct noise_keypair slot[3];
	struct noise_keypair *current, *previous, *next;
};

/* ---- keys ---- */
void noise_clamp(uint8_t key[NOISE_KEY_LEN]);
/* A new clamped private key from randombytes_buf (as `wg genkey`). */
void noise_keygen(uint8_t priv[NOISE_KEY_LEN]);
/* PUB = X25519(clamp(PRIV), 9) (as `wg pubkey`).  Return 0 or -EINVAL. */
int noise_pubkey(uint8_t pub[NOISE_KEY_LEN], const uint8_t priv[NOISE_KEY_LEN]);
/* OUT gets 44 characters and a NUL. */
void noise_key_to_base64(char out[NOISE_KEY_B64_LEN + 1], const uint8_t key[NOISE_KEY_LEN]);
/* Exactly 44 characters of standard padded base64 for 32 bytes (as wg
 * accepts); return 0 or -EINVAL.  KEY is untouched on error. */
int noise_key_from_base64(uint8_t key[NOISE_KEY_LEN], const char *b64);
/* The current wall-clock TAI64N label (nanoseconds rounded down to 2^24 ns
 * like wireguard-go, so the label leaks less timing). */
void noise_tai64n_now(uint8_t out[NOISE_TIMESTAMP_LEN]);
/* The TAI64N label of UNIX_SEC seconds and NSEC nanoseconds, exactly (for
 * tests and simulations that bring their own clock). */
void noise_tai64n_at(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t unix_sec, uint32_t nsec);

/* ---- message helpers for dispatch ---- */
/* Type of MSG (1..4) if LEN fits that type (initiation 148, response 92,
 * cookie 64, transport >= 32) and the 3 reserved bytes are zero; else 0. */
int noise_msg_type(const uint8_t *msg, size_t len);
/* Our index a message is addressed to: response, cookie reply and transport
 * messages carry one (check noise_msg_type first); initiations do not (0). */
uint32_t noise_msg_receiver(const uint8_t *msg, size_t len);

/* ---- identities ---- */
/* Set our static key (PRIV is copied; the public key, hash_init and the cookie
 * checker's keys are derived).  Return 0 or -EINVAL. */
int noise_local_init(struct noise_local *l, const uint8_t priv[NOISE_KEY_LEN]);
void noise_local_wipe(struct noise_local *l);

/* A peer with public key REMOTE_PUB and optional PSK (NULL = none), for our
 * identity L (which may have no key yet: call noise_peer_set_local later).
 * Return 0, or -EKEYREJECTED when DH(ours, theirs) is all zero (the peer is
 * still initialised, but every handshake with it fails). */
int noise_peer_init(struct noise_peer *p, const struct noise_local *l,
		    const uint8_t remote_pub[NOISE_KEY_LEN], const uint8_t *psk);
/* Our private key changed: recompute the static-static DH, drop the handshake. */
int noise_peer_set_local(struct noise_peer *p, const struct noise_local *l);
void noise_peer_set_psk(struct noise_peer *p, const uint8_t *psk);
/* Forget the handshake in progress (ZERO_KEYS, a new handshake). */
void noise_handshake_clear(struct noise_peer *p);
/* Wipe everything, identity included. */
void noise_peer_wipe(struct noise_peer *p);

/* ---- handshake ---- */
/* Initiator: write a 148-byte initiation to OUT with sender index LOCAL_INDEX
 * (the caller's, unique among its indices); macs via p->cookie at NOW. */
int noise_create_initiation(struct noise_peer *p, const struct noise_local *l,
			    uint32_t local_index, uint64_t now, const struct noise_det *det,
			    uint8_t out[NOISE_INITIATION_LEN]);
/* Responder, step 1: check length, type, mac1; decrypt the initiator's
 * static key into ST.  Nothing of ours changes. */
int noise_initiation_open(const struct noise_local *l, const uint8_t *msg, size_t len,
			  struct noise_initiation *st);
/* Responder, step 2: P is the peer whose remote_static equals
 * st->remote_static (-ESRCH otherwise).  Decrypt and check the timestamp
 * (strictly greater than any accepted before, -ESTALE) and the flood rule
 * (-EBUSY); then P holds the consumed initiation.  ST is wiped always. */
int noise_initiation_accept(struct noise_peer *p, const struct noise_local *l,
			    struct noise_initiation *st, uint64_t now);
void noise_initiation_wipe(struct noise_initiation *st);
/* Responder: after a successful accept, write a 92-byte response with sender
 * index LOCAL_INDEX. */
int noise_create_response(struct noise_peer *p, uint32_t local_index, uint64_t now,
			  const struct noise_det *det, uint8_t out[NOISE_RESPONSE_LEN]);
/* Initiator: consume a response addressed to p->local_index (-ESRCH if not,
 * or if no initiation of ours is outstanding); checks mac1 with L's key. */
int noise_consume_response(struct noise_peer *p, const struct noise_local *l,
			   const uint8_t *msg, size_t len);
/* Both: after consume_response (initiator) or create_response (responder),
 * derive the session into KP (birth NOW) and wipe the handshake state. */
int noise_derive_keypair(struct noise_peer *p, struct noise_keypair *kp, uint64_t now);

/* ---- keypairs ---- */
void noise_keypair_wipe(struct noise_keypair *kp);
/* KP may send now: valid, counter below REJECT_AFTER_MESSAGES, younger than
 * REJECT_AFTER_TIME. */
bool noise_keypair_can_send(const struct noise_keypair *kp, uint64_t now);
/* KP may receive now: valid and younger than REJECT_AFTER_TIME. */
bool noise_keypair_can_receive(const struct noise_keypair *kp, uint64_t now);

void noise_keypairs_init(struct noise_keypairs *k);
/* Install NEW (fresh from noise_derive_keypair; wiped here): an initiator's
 * becomes current (the old current becomes previous), a responder's waits
 * as next.  The local indices of keypairs thrown away are written to
 * DROPPED[*NDROPPED] (at most 3) for the caller's index table.  Return the
 * slot now holding the keypair. */
struct noise_keypair *noise_keypairs_install(struct noise_keypairs *k, struct noise_keypair *new_kp,
					     uint32_t dropped[3], size_t *ndropped);
/* A transport packet authenticated with KP (a slot of K): when KP is next,
 * it becomes current, current becomes previous, and true is returned (the
 * handshake is complete for the responder: timers_handshake_complete, send
 * staged packets).  The index of a dropped old previous goes to
 * DROPPED[*NDROPPED] (at most 1). */
bool noise_keypairs_received(struct noise_keypairs *k, struct noise_keypair *kp,
			     uint32_t dropped[1], size_t *ndropped);
/* The live keypair with local index IDX, or NULL. */
struct noise_keypair *noise_keypairs_lookup(struct noise_keypairs *k, uint32_t idx);
/* Wipe all three (ZERO_KEYS, peer removal), reporting their indices. */
void noise_keypairs_clear(struct noise_keypairs *k, uint32_t dropped[3], size_t *ndropped);

#endif
