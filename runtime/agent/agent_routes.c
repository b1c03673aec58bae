/* agent_routes: a prefix -> count hash. */
#include "agent_routes.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a over the prefix's bytes (no padding in struct ctl_prefix). */
static size_t hash_of(const struct ctl_prefix *x)
{
	const uint8_t *b = (const uint8_t *)x;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < sizeof *x; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

/* X's slot, or the free slot where it would go. */
static size_t slot_of(const struct agent_routes *r, const struct ctl_prefix *x)
{
	size_t i = hash_of(x) & (r->cap - 1);
	while (r->v[i].n && memcmp(&r->v[i].pfx, x, sizeof *x))
		i = (i + 1) & (r->cap - 1);
	return i;
}

void agent_routes_free(struct agent_routes *r)
{
	free(r->v);
	memset(r, 0, sizeof *r);
}

uint32_t agent_routes_count(const struct agent_routes *r, const struct ctl_prefix *x)
{
	return r->cap ? r->v[slot_of(r, x)].n : 0;
}

int agent_routes_reserve(struct agent_routes *r, size_t more)
{
	size_t cap = r->cap ? r->cap : 64;
	while (2 * (r->n + more) > cap)
		cap *= 2;
	if (cap == r->cap)
		return 0;
	struct agent_routes g = { .cap = cap };
	g.v = calloc(g.cap, sizeof *g.v);
	if (!g.v)
		return -ENOMEM;
	for (size_t i = 0; i < r->cap; i++)
		if (r->v[i].n)
			g.v[slot_of(&g, &r->v[i].pfx)] = r->v[i];
	g.n = r->n;
	free(r->v);
	*r = g;
	return 0;
}

/* Empty slot I, moving back the entries after it that probed past it. */
static void remove_at(struct agent_routes *r, size_t i)
{
	size_t mask = r->cap - 1;
	for (size_t j = (i + 1) & mask; r->v[j].n; j = (j + 1) & mask) {
		size_t home = hash_of(&r->v[j].pfx) & mask;
		/* J may fill I when its home is not in the cyclic range (I, J]. */
		bool between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
		if (!between) {
			r->v[i] = r->v[j];
			i = j;
		}
	}
	r->v[i].n = 0;
	r->n--;
}

int agent_routes_add(struct agent_routes *r, const struct ctl_prefix *x, int64_t by)
{
	if (by == 0)
		return 0;
	if (by > 0 && agent_routes_reserve(r, 1) < 0)
		return -ENOMEM;
	size_t i = r->cap ? slot_of(r, x) : 0;
	int64_t now = r->cap ? r->v[i].n : 0, next = now + by;
	if (next < 0 || next > UINT32_MAX)
		return -ERANGE;
	if (next == 0) {
		if (now)
			remove_at(r, i);
		return 0;
	}
	if (!now) {
		r->v[i].pfx = *x;
		r->n++;
	}
	r->v[i].n = (uint32_t)next;
	return 0;
}
