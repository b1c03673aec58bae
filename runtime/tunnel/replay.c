/* replay: WireGuard's sliding window over received transport counters. */
#include "replay.h"

#include <string.h>

#define REPLAY_BLOCK_LOG  6	/* log2(REPLAY_BLOCK_BITS) */
#define REPLAY_BLOCK_MASK (REPLAY_RING_BLOCKS - 1)
#define REPLAY_BIT_MASK   (REPLAY_BLOCK_BITS - 1)

void replay_init(struct replay_window *w)
{
	memset(w, 0, sizeof(*w));
}

bool replay_check(const struct replay_window *w, uint64_t counter, uint64_t limit)
{
	if (counter >= limit)
		return false;
	if (counter > w->last)
		return true;
	if (w->last - counter > REPLAY_WINDOW)
		return false;
	uint64_t block = (counter >> REPLAY_BLOCK_LOG) & REPLAY_BLOCK_MASK;
	return !(w->ring[block] & (1ULL << (counter & REPLAY_BIT_MASK)));
}

bool replay_validate(struct replay_window *w, uint64_t counter, uint64_t limit)
{
	if (counter >= limit)
		return false;
	uint64_t block = counter >> REPLAY_BLOCK_LOG;
	if (counter > w->last) {
		/* Slide forward: clear the blocks the window moves over. */
		uint64_t current = w->last >> REPLAY_BLOCK_LOG;
		uint64_t diff = block - current;
		if (diff > REPLAY_RING_BLOCKS)
			diff = REPLAY_RING_BLOCKS;
		for (uint64_t i = current + 1; i <= current + diff; i++)
			w->ring[i & REPLAY_BLOCK_MASK] = 0;
		w->last = counter;
	} else if (w->last - counter > REPLAY_WINDOW) {
		return false;
	}
	uint64_t bit = 1ULL << (counter & REPLAY_BIT_MASK);
	uint64_t *slot = &w->ring[block & REPLAY_BLOCK_MASK];
	if (*slot & bit)
		return false;
	*slot |= bit;
	return true;
}
