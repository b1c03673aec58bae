/* wgconfig: building and releasing a configuration. */
#include "wgconfig.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ARR with room for one more element than N: a new array, the old one
 * wiped (peers hold pre-shared keys) and freed; NULL on out-of-memory. */
static void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return arr;
	size_t ncap = *cap ? *cap * 2 : 4;
	void *p = calloc(ncap, elem);
	if (!p)
		return NULL;
	if (arr) {
		memcpy(p, arr, *cap * elem);
		sodium_memzero(arr, *cap * elem);
		free(arr);
	}
	*cap = ncap;
	return p;
}

struct wgconfig_peer *wgconfig_add_peer(struct wgconfig *cfg, const uint8_t *public_key)
{
	struct wgconfig_peer *peers = grow(cfg->peers, &cfg->cap_peers, cfg->n_peers, sizeof *peers);
	if (!peers)
		return NULL;
	cfg->peers = peers;
	struct wgconfig_peer *p = &peers[cfg->n_peers++];
	memset(p, 0, sizeof *p);
	memcpy(p->public_key, public_key, WGKEY_LEN);
	return p;
}

int wgconfig_add_allowed_ip(struct wgconfig_peer *peer, int family, const void *addr, uint8_t cidr)
{
	size_t len = family == AF_INET ? 4 : 16;
	if ((family != AF_INET && family != AF_INET6) || cidr > len * 8)
		return -EINVAL;
	struct wgconfig_allowed_ip *a = grow(peer->allowed, &peer->cap_allowed, peer->n_allowed, sizeof *a);
	if (!a)
		return -ENOMEM;
	peer->allowed = a;
	a = &a[peer->n_allowed++];
	memset(a, 0, sizeof *a);
	a->family = family;
	memcpy(a->addr, addr, len);
	a->cidr = cidr;
	return 0;
}

void wgconfig_free(struct wgconfig *cfg)
{
	for (size_t i = 0; i < cfg->n_peers; i++)
		free(cfg->peers[i].allowed);
	if (cfg->peers)
		sodium_memzero(cfg->peers, cfg->cap_peers * sizeof *cfg->peers);
	free(cfg->peers);
	sodium_memzero(cfg, sizeof *cfg);
}
