/* htab: see htab.h. */
#include "htab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void htab_free(struct htab *h)
{
	free(h->slot);
	memset(h, 0, sizeof(*h));
}

/* SLOT (CAP of them) with entry index + 1 VALUE put at the first free slot
 * from HASH on. */
static void place(uint32_t *slot, size_t cap, uint64_t hash, uint32_t value)
{
	size_t k = hash & (cap - 1);
	while (slot[k])
		k = (k + 1) & (cap - 1);
	slot[k] = value;
}

int htab_reserve(struct htab *h, const void *entries, size_t stride, size_t hash_off)
{
	if ((h->n + 1) * 2 <= h->cap)
		return 0;
	size_t cap = h->cap ? 2 * h->cap : 64;
	uint32_t *slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < h->cap; i++) {
		if (!h->slot[i])
			continue;
		uint64_t hash;
		memcpy(&hash, (const char *)entries + (h->slot[i] - 1) * stride + hash_off, sizeof(hash));
		place(slot, cap, hash, h->slot[i]);
	}
	free(h->slot);
	h->slot = slot;
	h->cap = cap;
	return 0;
}

void htab_put(struct htab *h, uint64_t hash, size_t index)
{
	place(h->slot, h->cap, hash, (uint32_t)index + 1);
	h->n++;
}
