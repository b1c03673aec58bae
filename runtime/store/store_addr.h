/* store_addr: tunnel addresses by index.  Index i names the i-th address of
 * 100.64.0.0/10 and of fd7a:115c:a1e0::/48 (in its low 64 bits); the store
 * keeps a high-water index per family so no address is handed out twice.
 * Indexes whose address is reserved are skipped as Tailscale skips them: the
 * network and broadcast addresses, 100.100.100.0/24 (100.100.100.100 is the
 * service address), the ChromeOS VM range 100.115.92.0/23, and
 * fd7a:115c:a1e0::53. */
#ifndef STORE_ADDR_H
#define STORE_ADDR_H
#include <stdbool.h>
#include <stdint.h>

#define STORE_ADDR_V4_COUNT (UINT64_C(1) << 22)

bool store_addr_v4_reserved(uint64_t index);
bool store_addr_v6_reserved(uint64_t index);
/* The address of INDEX; -ENOSPC past the end of the range. */
int store_addr_v4(uint64_t index, uint8_t out[4]);
int store_addr_v6(uint64_t index, uint8_t out[16]);
/* The first index at or after FROM that is not reserved; -ENOSPC if none. */
int store_addr_v4_next(uint64_t from, uint64_t *index);
int store_addr_v6_next(uint64_t from, uint64_t *index);

#endif
