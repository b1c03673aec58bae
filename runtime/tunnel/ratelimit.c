/* ratelimit: open addressing (linear probing) in a table twice the size of
 * the bound; the idle are forgotten by rebuilding into a second table at
 * most once every RATELIMIT_IDLE_NS.  The hash is SipHash with a random key
 * so a sender cannot aim for one chain. */
#include "ratelimit.h"

#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS (2 * RATELIMIT_MAX)
#define COST (1000000000ull / RATELIMIT_PER_SEC)	/* tokens are nanoseconds */
#define TOKENS_MAX (COST * RATELIMIT_BURST)
#define KEY_LEN 11					/* family, 4 or 8 address bytes, port */

struct rl_entry {
	bool used;
	uint8_t key[KEY_LEN];
	uint64_t last, tokens;
};

struct ratelimit {
	uint8_t hkey[crypto_shorthash_KEYBYTES];
	enum ratelimit_key by;
	unsigned n;
	uint64_t last_gc;
	struct rl_entry *tab, *spare;
};

struct ratelimit *ratelimit_new(enum ratelimit_key by)
{
	struct ratelimit *rl = calloc(1, sizeof *rl);
	if (!rl)
		return NULL;
	rl->by = by;
	rl->tab = calloc(SLOTS, sizeof *rl->tab);
	rl->spare = calloc(SLOTS, sizeof *rl->spare);
	if (!rl->tab || !rl->spare) {
		ratelimit_free(rl);
		return NULL;
	}
	randombytes_buf(rl->hkey, sizeof rl->hkey);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	free(rl->tab);
	free(rl->spare);
	sodium_memzero(rl, sizeof *rl);
	free(rl);
}

static size_t slot_of(const struct ratelimit *rl, const uint8_t *key)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;
	crypto_shorthash(h, key, KEY_LEN, rl->hkey);
	memcpy(&v, h, sizeof v);
	return (size_t)(v % SLOTS);
}

/* The entry for KEY in TAB, or the free slot where it belongs. */
static struct rl_entry *probe(const struct ratelimit *rl, struct rl_entry *tab, const uint8_t *key)
{
	size_t i = slot_of(rl, key);
	while (tab[i].used && memcmp(tab[i].key, key, KEY_LEN) != 0)
		i = (i + 1) % SLOTS;
	return &tab[i];
}

/* Rebuild without the sources idle for RATELIMIT_IDLE_NS. */
static void forget_idle(struct ratelimit *rl, uint64_t now)
{
	if (now - rl->last_gc < RATELIMIT_IDLE_NS)
		return;
	rl->last_gc = now;
	memset(rl->spare, 0, SLOTS * sizeof *rl->spare);
	rl->n = 0;
	for (size_t i = 0; i < SLOTS; i++) {
		if (!rl->tab[i].used || now - rl->tab[i].last >= RATELIMIT_IDLE_NS)
			continue;
		*probe(rl, rl->spare, rl->tab[i].key) = rl->tab[i];
		rl->n++;
	}
	struct rl_entry *t = rl->tab;
	rl->tab = rl->spare;
	rl->spare = t;
}

static bool source_key(const struct sockaddr *src, enum ratelimit_key by, uint8_t *key)
{
	memset(key, 0, KEY_LEN);
	key[0] = (uint8_t)src->sa_family;
	if (src->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)src;
		memcpy(key + 1, &in->sin_addr, 4);
		if (by == RATELIMIT_BY_ADDR_PORT)
			memcpy(key + 9, &in->sin_port, 2);
		return true;
	}
	if (src->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)src;
		memcpy(key + 1, &in6->sin6_addr, 8); /* the /64 */
		if (by == RATELIMIT_BY_ADDR_PORT)
			memcpy(key + 9, &in6->sin6_port, 2);
		return true;
	}
	return false;
}

bool ratelimit_allow(struct ratelimit *rl, const struct sockaddr *src, uint64_t now)
{
	uint8_t key[KEY_LEN];
	if (!source_key(src, rl->by, key))
		return false;
	forget_idle(rl, now);
	struct rl_entry *e = probe(rl, rl->tab, key);
	if (!e->used) {
		if (rl->n >= RATELIMIT_MAX)
			return false; /* full of busy sources: refuse new ones */
		e->used = true;
		memcpy(e->key, key, KEY_LEN);
		e->last = now;
		e->tokens = TOKENS_MAX - COST;
		rl->n++;
		return true;
	}
	uint64_t t = e->tokens + (now > e->last ? now - e->last : 0);
	e->last = now;
	e->tokens = t > TOKENS_MAX ? TOKENS_MAX : t;
	if (e->tokens < COST)
		return false;
	e->tokens -= COST;
	return true;
}

unsigned ratelimit_count(struct ratelimit *rl, uint64_t now)
{
	forget_idle(rl, now);
	return rl->n;
}
