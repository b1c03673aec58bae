/* htab: an index by hash over entries that live in the caller's array,
 * one way for every module.  Open addressing, linear probing: SLOT holds
 * an entry's index + 1 (0: empty), CAP a power of two, at most half full.
 * Each entry carries its 64-bit hash, which the table reads back when it
 * grows; the caller probes (comparing its entries) and inserts. */
#ifndef HTAB_H
#define HTAB_H
#include <stddef.h>
#include <stdint.h>

struct htab {
	uint32_t *slot;
	size_t cap, n;
};

void htab_free(struct htab *h);
/* Room for one more entry; entry I (of STRIDE bytes in ENTRIES) holds its
 * hash at HASH_OFF.  0 or -ENOMEM (H unchanged). */
int htab_reserve(struct htab *h, const void *entries, size_t stride, size_t hash_off);
/* Index entry INDEX, of hash HASH, in H (which has room: htab_reserve). */
void htab_put(struct htab *h, uint64_t hash, size_t index);

#endif
