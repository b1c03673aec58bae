/* store_addr: tunnel addresses by index, reserved ones skipped. */
#include <errno.h>
#include <string.h>

#include "store_addr.h"

#define V4_BASE UINT32_C(0x64400000)	/* 100.64.0.0 */

static const uint8_t v6_prefix[6] = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0 };

static uint32_t v4_of(uint64_t index)
{
	return V4_BASE + (uint32_t)index;
}

static bool v4_in(uint32_t a, uint32_t net, unsigned bits)
{
	return (a >> (32 - bits)) == (net >> (32 - bits));
}

bool store_addr_v4_reserved(uint64_t index)
{
	uint32_t a = v4_of(index);

	return index == 0 || index == STORE_ADDR_V4_COUNT - 1 ||
	       v4_in(a, UINT32_C(0x64646400), 24) ||	/* 100.100.100.0/24 */
	       v4_in(a, UINT32_C(0x64735c00), 23);	/* 100.115.92.0/23 */
}

bool store_addr_v6_reserved(uint64_t index)
{
	return index == 0 || index == 0x53 || index == UINT64_MAX;
}

int store_addr_v4(uint64_t index, uint8_t out[4])
{
	uint32_t a;

	if (index >= STORE_ADDR_V4_COUNT)
		return -ENOSPC;
	a = v4_of(index);
	out[0] = a >> 24, out[1] = a >> 16, out[2] = a >> 8, out[3] = a;
	return 0;
}

int store_addr_v6(uint64_t index, uint8_t out[16])
{
	memset(out, 0, 16);
	memcpy(out, v6_prefix, sizeof(v6_prefix));
	for (int i = 0; i < 8; i++)
		out[15 - i] = index >> (8 * i);
	return 0;
}

int store_addr_v4_next(uint64_t from, uint64_t *index)
{
	while (from < STORE_ADDR_V4_COUNT && store_addr_v4_reserved(from))
		from++;
	if (from >= STORE_ADDR_V4_COUNT)
		return -ENOSPC;
	*index = from;
	return 0;
}

int store_addr_v6_next(uint64_t from, uint64_t *index)
{
	while (from < UINT64_MAX && store_addr_v6_reserved(from))
		from++;
	if (from == UINT64_MAX)
		return -ENOSPC;
	*index = from;
	return 0;
}
