/* replay: the sliding anti-replay window of WireGuard transport counters
 * (RFC 6479 style, as wireguard-go and the kernel do it): a ring of 128
 * 64-bit blocks, 2^13 bits in all; a counter may lag the highest accepted one
 * by at most REPLAY_WINDOW (8128 = 2^13 - 64), counters at or above the limit
 * (normally REPLAY_REJECT_AFTER_MESSAGES) are refused.  No allocation, no
 * time, O(1) except when the window jumps (at most 128 word stores). */
#ifndef REPLAY_H
#define REPLAY_H
#include <stdbool.h>
#include <stdint.h>

#define REPLAY_BLOCK_BITS   64
#define REPLAY_RING_BLOCKS  128	/* 128 * 64 = 8192 = 2^13 bits */
#define REPLAY_TOTAL_BITS   (REPLAY_BLOCK_BITS * REPLAY_RING_BLOCKS)
#define REPLAY_WINDOW       (REPLAY_TOTAL_BITS - REPLAY_BLOCK_BITS)
/* WireGuard's REJECT_AFTER_MESSAGES = 2^64 - 2^13 - 1. */
#define REPLAY_REJECT_AFTER_MESSAGES (UINT64_MAX - REPLAY_TOTAL_BITS)

struct replay_window {
	uint64_t last;			/* highest counter accepted so far */
	uint64_t ring[REPLAY_RING_BLOCKS];
};

/* Empty window: nothing seen yet; counter 0 is acceptable once. */
void replay_init(struct replay_window *w);

/* Would COUNTER be accepted?  Does not change the window: use it before
 * decrypting to drop obvious replays cheaply. */
bool replay_check(const struct replay_window *w, uint64_t counter, uint64_t limit);

/* Accept COUNTER and mark it seen: true when it is below LIMIT, not too old
 * and not seen before.  Call only after the packet authenticated. */
bool replay_validate(struct replay_window *w, uint64_t counter, uint64_t limit);

#endif
