/* timers: WireGuard's per-peer timer state machine (whitepaper section 6,
 * wireguard-go timers.go) as pure logic.  No threads, no clock: the daemon
 * feeds events with the current monotonic time in nanoseconds, calls
 * timers_expire() when timers_next_deadline() is reached, and performs the
 * actions it returns.  Jitter for REKEY_TIMEOUT is injectable.
 *
 * Rules:
 *  - handshake initiated: retransmit after REKEY_TIMEOUT + jitter (0..333 ms),
 *    up to REKEY_ATTEMPT_TIME / REKEY_TIMEOUT = 18 retries; then give up
 *    (drop staged packets, stop keepalives) and zero keys in 3*REJECT_AFTER_TIME
 *    unless that is already pending;
 *  - handshake complete: stop retransmitting, attempts = 0;
 *  - session derived: zero all keys 3*REJECT_AFTER_TIME later;
 *  - data received: send a keepalive in KEEPALIVE_TIMEOUT unless we send
 *    something first (another keepalive is owed if more data arrives meanwhile);
 *  - data sent: if nothing authenticated comes back within KEEPALIVE_TIMEOUT +
 *    REKEY_TIMEOUT + jitter, start a new handshake;
 *  - any authenticated packet sent: cancels the pending keepalive;
 *  - any authenticated packet received: cancels the new-handshake timer;
 *  - any authenticated packet traversal: re-arms the persistent keepalive;
 *  - initiations are rate limited to one per REKEY_TIMEOUT;
 *  - on the packet paths: rekey when sending with a keypair past
 *    REKEY_AFTER_MESSAGES or (initiator) REKEY_AFTER_TIME, and once when
 *    receiving on an initiator keypair older than
 *    REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT. */
#ifndef TIMERS_H
#define TIMERS_H
#include <stdbool.h>
#include <stdint.h>

#include "noise.h"

#define TIMERS_JITTER_MAX_NS   (NOISE_NS / 3)	/* 333 ms */
#define TIMERS_MAX_HANDSHAKES  (NOISE_REKEY_ATTEMPT_TIME_NS / NOISE_REKEY_TIMEOUT_NS)	/* 18 */
#define TIMERS_NEVER           UINT64_MAX

/* Actions, OR-ed together by timers_expire. */
enum timers_action {
	TIMERS_SEND_INITIATION = 1 << 0,	/* send a handshake initiation */
	TIMERS_SEND_KEEPALIVE  = 1 << 1,	/* send an empty transport packet */
	TIMERS_ZERO_KEYS       = 1 << 2,	/* wipe keypairs and handshake */
	TIMERS_GIVE_UP         = 1 << 3,	/* drop staged packets: peer unreachable */
};

/* Returns jitter in nanoseconds, 0..TIMERS_JITTER_MAX_NS. */
typedef uint64_t (*timers_jitter_fn)(void *arg);

struct timers {
	/* Deadlines (monotonic ns); 0 = not armed. */
	uint64_t retransmit_handshake;
	uint64_t send_keepalive;
	uint64_t new_handshake;
	uint64_t zero_key_material;
	uint64_t persistent_keepalive;
	unsigned handshake_attempts;
	bool need_another_keepalive;
	bool sent_last_minute_handshake;
	bool retry_pending;		/* the next initiation is a retransmission */
	bool initiation_sent;		/* last_initiation_sent is set */
	uint64_t last_initiation_sent;	/* ns */
	bool handshake_completed;	/* last_handshake_complete is set */
	uint64_t last_handshake_complete;	/* ns (for `wg show` latest handshake) */
	uint16_t persistent_keepalive_interval;	/* seconds, 0 = off */
	timers_jitter_fn jitter;	/* NULL: randombytes_uniform */
	void *jitter_arg;
};

void timers_init(struct timers *t, uint16_t persistent_keepalive_s);
void timers_set_jitter(struct timers *t, timers_jitter_fn fn, void *arg);
/* Change the persistent keepalive interval; true when one should be sent
 * now (it was off and is now on, as wireguard-go does on `wg set`). */
bool timers_set_persistent_keepalive(struct timers *t, uint16_t secs, uint64_t now);
/* Disarm everything (peer removed or interface down). */
void timers_stop(struct timers *t);

/* ---- events ----
 * After sending any handshake or transport packet: traversal + sent (+ data_sent
 * for non-empty data).  After receiving and authenticating one: traversal +
 * received (+ data_received for non-empty data).  A session derived: session_derived;
 * the initiator's handshake complete on the response, the responder's on the
 * first packet with the new keypair (noise_keypairs_received true). */
void timers_data_sent(struct timers *t, uint64_t now);		/* non-keepalive data */
void timers_data_received(struct timers *t, uint64_t now);	/* non-keepalive data */
void timers_any_authenticated_packet_sent(struct timers *t, uint64_t now);
void timers_any_authenticated_packet_received(struct timers *t, uint64_t now);
void timers_any_authenticated_packet_traversal(struct timers *t, uint64_t now);
/* An initiation was sent (after timers_may_send_initiation said yes). */
void timers_handshake_initiated(struct timers *t, uint64_t now);
void timers_handshake_complete(struct timers *t, uint64_t now);
void timers_session_derived(struct timers *t, uint64_t now);

/* ---- decisions ---- */
/* May an initiation go out now?  RETRY is true when answering a
 * TIMERS_SEND_INITIATION action from a retransmission, false for a fresh
 * need (new data, rekey): a fresh one resets the attempt count.  False
 * within REKEY_TIMEOUT of the previous initiation. */
bool timers_may_send_initiation(struct timers *t, uint64_t now, bool retry);
/* Sending with CURRENT (may be NULL) calls for a new handshake. */
bool timers_want_rekey_on_send(const struct timers *t, const struct noise_keypair *current, uint64_t now);
/* Receiving on CURRENT calls for the last-minute handshake (once). */
bool timers_want_rekey_on_receive(struct timers *t, const struct noise_keypair *current, uint64_t now);

/* Run every timer due at NOW; return the OR of enum timers_action.  When
 * TIMERS_SEND_INITIATION is returned t->retry_pending says if it is a retry. */
unsigned timers_expire(struct timers *t, uint64_t now);
/* Earliest armed deadline, or TIMERS_NEVER. */
uint64_t timers_next_deadline(const struct timers *t);

#endif
