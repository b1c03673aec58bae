/* timerq: the heap of deadlines against a plain array, through random
 * queueing, moves (earlier and later) and removals. */
#include "t.h"
#include "timerq.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

enum { N = 300, OPS = 20000 };

/* The earliest deadline among the queued reference entries, or NEVER. */
static uint64_t reference_first(const uint64_t *ref)
{
	uint64_t best = TIMERQ_NEVER;
	for (int i = 0; i < N; i++)
		if (ref[i] < best)
			best = ref[i];
	return best;
}

int main(void)
{
	static struct timerq_entry e[N];
	static uint64_t ref[N];
	struct timerq q = { 0 };
	bool first_ok = true, room_ok = true;
	for (int i = 0; i < N; i++)
		ref[i] = TIMERQ_NEVER;
	T_CHECK(timerq_set(&q, &e[0], 5) == -ENOSPC && !timerq_queued(&e[0]), "no room reserved: not queued, -ENOSPC");
	T_CHECK(timerq_reserve(&q, N) == 0 && timerq_first(&q) == NULL, "room for %d entries, queue empty", N);
	srandom(11);
	for (int k = 0; k < OPS; k++) {
		int i = (int)(random() % N);
		uint64_t d = random() % 4 == 0 ? TIMERQ_NEVER : (uint64_t)(random() % 1000);
		room_ok &= timerq_set(&q, &e[i], d) == 0;
		ref[i] = d;
		uint64_t want = reference_first(ref);
		struct timerq_entry *f = timerq_first(&q);
		first_ok &= want == TIMERQ_NEVER ? f == NULL : f && f->deadline == want && ref[f - e] == want;
	}
	T_CHECK(room_ok, "%d random sets, moves and removals all fit the reserved room", OPS);
	T_CHECK(first_ok, "after each, the first entry has the earliest deadline");
	uint64_t last = 0;
	bool order_ok = true;
	size_t popped = 0, queued = 0;
	for (int i = 0; i < N; i++)
		queued += ref[i] != TIMERQ_NEVER && timerq_queued(&e[i]);
	struct timerq_entry *f;
	while ((f = timerq_first(&q))) {
		order_ok &= f->deadline >= last;
		last = f->deadline;
		timerq_set(&q, f, TIMERQ_NEVER);
		order_ok &= !timerq_queued(f);
		popped++;
	}
	T_CHECK(order_ok && popped == queued, "taking the first until empty yields %zu deadlines in order (%zu)", queued,
		popped);
	timerq_free(&q);
	T_DONE();
}
