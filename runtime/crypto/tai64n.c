/* tai64n: TAI64N timestamps. */
#include "tai64n.h"

#include <time.h>

#define TAI64_BASE   0x400000000000000aULL	/* 2^62 + 10, as wireguard-go */
#define TAI64_WHITEN 0xffffffu			/* 2^24 - 1 ns */

void tai64n_at(uint8_t out[TAI64N_LEN], uint64_t unix_sec, uint32_t nsec)
{
	uint64_t secs = TAI64_BASE + unix_sec;

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(secs >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

void tai64n_now(uint8_t out[TAI64N_LEN])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	tai64n_at(out, (uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec & ~TAI64_WHITEN);
}
