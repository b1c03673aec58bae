/* wgdev_peer: peers by public key (a hash table with chains, doubled as
 * it fills) and in a list in the order they were added, the index table of
 * sessions and handshakes, the timer queue, and a peer's life cycle: adding
 * and removing one costs the same whatever the number of peers. */
#include "wgdev.h"
#include "log.h"
#include "secmem.h"
#include "wgdev_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static struct wgdev_idx **idx_slot(struct wgdev *dev, uint32_t idx)
{
	struct wgdev_idx **s = &dev->idx[(idx * 2654435761u) >> 20 & (WGDEV_IDX_BUCKETS - 1)];
	while (*s && (*s)->idx != idx)
		s = &(*s)->next;
	return s;
}

struct wgpeer *wgdev_idx_lookup(struct wgdev *dev, uint32_t idx)
{
	struct wgdev_idx *e = *idx_slot(dev, idx);
	return e ? e->peer : NULL;
}

/* A fresh random index, registered for PEER; 0 on out-of-memory. */
uint32_t wgdev_idx_new(struct wgdev *dev, struct wgpeer *peer)
{
	struct wgdev_idx *e = malloc(sizeof *e);
	if (!e)
		return 0;
	uint32_t idx;
	do
		idx = randombytes_random();
	while (idx == 0 || *idx_slot(dev, idx));
	e->idx = idx;
	e->peer = peer;
	e->next = NULL;
	*idx_slot(dev, idx) = e;
	return idx;
}

void wgdev_idx_del(struct wgdev *dev, uint32_t idx)
{
	if (!idx)
		return;
	struct wgdev_idx **s = idx_slot(dev, idx);
	struct wgdev_idx *e = *s;
	if (e) {
		*s = e->next;
		free(e);
	}
}

void wgdev_idx_del_list(struct wgdev *dev, const uint32_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wgdev_idx_del(dev, idx[i]);
}

void wgdev_peer_clear_staged(struct wgpeer *p)
{
	for (size_t i = 0; i < p->n_staged; i++) {
		sodium_memzero(p->staged[i].data, p->staged[i].len);
		free(p->staged[i].data);
	}
	p->n_staged = 0;
}

/* Forget sessions and the handshake in progress (ZERO_KEYS). */
void wgdev_peer_zero_keys(struct wgdev *dev, struct wgpeer *p)
{
	uint32_t dropped[3];
	size_t n = 0;
	noise_keypairs_clear(&p->kps, dropped, &n);
	wgdev_idx_del_list(dev, dropped, n);
	wgdev_idx_del(dev, p->hs_index);
	p->hs_index = 0;
	noise_handshake_clear(&p->np);
}

static void peer_free(struct wgdev *dev, struct wgpeer *p)
{
	if (dev->gso.peer == p)
		wgdev_flush_data(dev);
	wgdev_peer_zero_keys(dev, p);
	allowedips_remove_peer(dev->aips, &p->aips);
	wgdev_peer_clear_staged(p);
	free(p->staged);
	timers_stop(&p->timers);
	timerq_set(&dev->timerq, &p->timer, TIMERQ_NEVER);
	noise_peer_wipe(&p->np);
	secmem_free(p, sizeof *p);
}

static size_t peer_bucket(const struct wgdev *dev, const uint8_t *pub, size_t nb)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;
	crypto_shorthash(h, pub, NOISE_KEY_LEN, dev->ptab_key);
	memcpy(&v, h, sizeof v);
	return (size_t)(v & (nb - 1));
}

const struct wgpeer *wgdev_peer_by_key(const struct wgdev *dev, const uint8_t pub[32])
{
	return wgdev_peer_find(dev, pub);
}

struct wgpeer *wgdev_peer_find(const struct wgdev *dev, const uint8_t *pub)
{
	if (!dev->ptab)
		return NULL;
	for (struct wgpeer *p = dev->ptab[peer_bucket(dev, pub, dev->ptab_n)]; p; p = p->hnext)
		if (sodium_memcmp(p->np.remote_static, pub, NOISE_KEY_LEN) == 0)
			return p;
	return NULL;
}

/* Room for one more peer in the table: 0 or -ENOMEM. */
static int ptab_reserve(struct wgdev *dev)
{
	if (dev->ptab && dev->n_peers < dev->ptab_n)
		return 0;
	size_t nb = dev->ptab ? dev->ptab_n * 2 : 64;
	struct wgpeer **t = calloc(nb, sizeof *t);
	if (!t)
		return -ENOMEM;
	for (struct wgpeer *p = dev->first; p; p = p->next) {
		size_t b = peer_bucket(dev, p->np.remote_static, nb);
		p->hnext = t[b];
		t[b] = p;
	}
	free(dev->ptab);
	dev->ptab = t;
	dev->ptab_n = nb;
	return 0;
}

void wgdev_peer_remove(struct wgdev *dev, struct wgpeer *p)
{
	struct wgpeer **s = &dev->ptab[peer_bucket(dev, p->np.remote_static, dev->ptab_n)];
	while (*s != p)
		s = &(*s)->hnext;
	*s = p->hnext;
	for (struct wgdev_get *g = dev->gets; g; g = g->link)
		if (g->next == p)
			g->next = p->next;
	*(p->prev ? &p->prev->next : &dev->first) = p->next;
	*(p->next ? &p->next->prev : &dev->last) = p->prev;
	dev->n_peers--;
	peer_free(dev, p);
}

void wgdev_peers_remove_all(struct wgdev *dev)
{
	while (dev->last)
		wgdev_peer_remove(dev, dev->last);
}

void wgdev_peer_timers_changed(struct wgdev *dev, struct wgpeer *p)
{
	uint64_t d = timers_next_deadline(&p->timers);
	if (!timerq_queued(&p->timer) || d < p->timer.deadline)
		timerq_set(&dev->timerq, &p->timer, d);	/* room reserved by wgdev_peer_add */
}

struct wgpeer *wgdev_peer_add(struct wgdev *dev, const uint8_t *pub)
{
	if (ptab_reserve(dev) != 0 || timerq_reserve(&dev->timerq, dev->n_peers + 1) != 0)
		return NULL;
	struct wgpeer *p = secmem_alloc(sizeof *p);	/* handshake and session keys */
	if (!p)
		return NULL;
	if (noise_peer_init(&p->np, &dev->local, pub, NULL) == -EKEYREJECTED)
		log_warn("%s: peer key gives an all-zero shared secret; handshakes with it will fail", dev->ifname);
	noise_keypairs_init(&p->kps);
	timers_init(&p->timers, 0);
	size_t b = peer_bucket(dev, pub, dev->ptab_n);
	p->hnext = dev->ptab[b];
	dev->ptab[b] = p;
	p->prev = dev->last;
	*(dev->last ? &dev->last->next : &dev->first) = p;
	dev->last = p;
	dev->n_peers++;
	return p;
}
