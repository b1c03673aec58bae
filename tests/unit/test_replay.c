/* Unit tests for replay: the 2^13-bit sliding window.  Each case is a
 * sequence of counter ranges with the verdict every counter in it must get;
 * replay_check must predict replay_validate's verdict every time. */
#include <stdbool.h>
#include <stdint.h>

#include "replay.h"
#include "t.h"

#define W REPLAY_WINDOW		/* 8128 */
#define LIM REPLAY_REJECT_AFTER_MESSAGES

struct op {
	uint64_t from, to;	/* inclusive */
	bool want;
};

static const struct {
	const char *name;
	uint64_t limit;
	struct op ops[10];
} cases[] = {
	{ "counter 0 once", LIM, { { 0, 0, true }, { 0, 0, false } } },
	{ "in order then all duplicates", LIM, { { 0, 20000, true }, { 11872, 20000, false } } },
	{ "reordering inside the window", LIM,
	  { { 10, 10, true }, { 5, 5, true }, { 7, 7, true }, { 5, 5, false }, { 10, 10, false }, { 9, 9, true },
	    { 0, 4, true }, { 6, 6, true }, { 8, 8, true }, { 0, 10, false } } },
	{ "window edges: last - W accepted, last - W - 1 refused", LIM,
	  { { 10000, 10000, true }, { 10000 - W, 10000 - W, true }, { 10000 - W - 1, 10000 - W - 1, false },
	    { 10000 - W, 10000 - W, false }, { 9999, 9999, true } } },
	{ "far jump forgets the past", LIM,
	  { { 1, 1, true }, { 1000000, 1000000, true }, { 1, 1, false }, { 1000000 - W, 999999, true },
	    { 1000000 - W - 1, 1000000 - W - 1, false } } },
	{ "jump of exactly the ring clears the reused block", LIM,
	  { { 0, 63, true }, { 8192, 8192, true }, { 63, 63, false }, { 64, 64, true }, { 8191, 8191, true },
	    { 8192, 8192, false } } },
	{ "jump of one block at a time keeps neighbours", LIM,
	  { { 63, 63, true }, { 64, 64, true }, { 127, 128, true }, { 62, 62, true }, { 63, 64, false } } },
	{ "limit: REJECT_AFTER_MESSAGES - 1 accepted, limit and max refused", LIM,
	  { { LIM - 1, LIM - 1, true }, { LIM, LIM, false }, { UINT64_MAX, UINT64_MAX, false },
	    { LIM - 1, LIM - 1, false }, { LIM - 1 - W, LIM - 2, true } } },
	{ "small custom limit", 100, { { 0, 99, true }, { 100, 200, false }, { 99, 99, false } } },
	{ "window start at 0 never underflows", LIM, { { 5, 5, true }, { 0, 4, true }, { 0, 5, false } } },
};

int main(void)
{
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct replay_window w;
		bool all = true, agree = true;
		uint64_t bad = 0;

		replay_init(&w);
		for (size_t i = 0; i < 10; i++) {
			const struct op *o = &cases[c].ops[i];
			if (!o->from && !o->to && !o->want && i)
				break;
			for (uint64_t x = o->from;; x++) {
				bool pred = replay_check(&w, x, cases[c].limit);
				bool got = replay_validate(&w, x, cases[c].limit);
				if (got != o->want && all) {
					all = false;
					bad = x;
				}
				agree &= pred == got;
				if (x == o->to)
					break;
			}
		}
		T_CHECK(all, "replay: %s", cases[c].name);
		if (!all)
			printf("#   first wrong verdict at counter %llu\n", (unsigned long long)bad);
		T_CHECK(agree, "replay: %s: replay_check predicts every verdict", cases[c].name);
	}
	T_CHECK(W == 8128 && REPLAY_TOTAL_BITS == 8192 && LIM == UINT64_MAX - 8192,
		"replay: window 2^13 - 64 bits, REJECT_AFTER_MESSAGES = 2^64 - 2^13 - 1");
	T_DONE();
}
