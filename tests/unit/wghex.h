/* wghex.h: hex helpers shared by the WireGuard unit tests. */
#ifndef WGHEX_H
#define WGHEX_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Decode HEX into OUT (capacity CAP); return the byte count or -1. */
static inline long wghex_decode(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex);

	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v = 0;
		for (int j = 0; j < 2; j++) {
			char c = hex[2 * i + j];
			v <<= 4;
			if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
			else return -1;
		}
		out[i] = (uint8_t)v;
	}
	return (long)(n / 2);
}

/* Render LEN bytes as lowercase hex into OUT (2 * LEN + 1 bytes). */
static inline char *wghex_encode(char *out, const uint8_t *in, size_t len)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * len] = 0;
	return out;
}

/* The deterministic input pattern the BLAKE2s vectors were generated with. */
static inline void wghex_pattern(uint8_t *out, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(((i * seed + 7) ^ (i >> 3)) & 0xff);
}

#endif
