/* allowedips: path-compressed binary trie, one per family.  Every node holds
 * a full prefix (bits, cidr); intermediate nodes have no peer and always two
 * children, so removal collapses them away.  A node with a peer is also in
 * that peer's list (struct allowedips_owned); removing it walks down from
 * the root by its own prefix, at most 33 or 129 nodes. */
#include "allowedips.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct aip_node {
	struct aip_node *child[2];
	void *peer;
	struct allowedips_owned *owned;		/* the list this node is in (with a peer) */
	struct aip_node *prev, *next;		/* neighbours in that list */
	uint8_t bits[16];
	uint8_t cidr;
	uint8_t family;
};

struct allowedips {
	struct aip_node *root4, *root6;
	size_t nodes;
};

static int bit_at(const uint8_t *bits, unsigned i)
{
	return (bits[i / 8] >> (7 - i % 8)) & 1;
}

static void mask_copy(uint8_t *dst, const uint8_t *src, unsigned cidr, unsigned len)
{
	memset(dst, 0, 16);
	memcpy(dst, src, len);
	for (unsigned i = cidr; i < len * 8; i++)
		dst[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

/* Length of the common prefix of A and B, at most LIMIT bits. */
static unsigned common_bits(const uint8_t *a, const uint8_t *b, unsigned limit)
{
	unsigned n = 0;
	while (n < limit) {
		uint8_t x = a[n / 8] ^ b[n / 8];
		if (n % 8 == 0 && x == 0 && n + 8 <= limit) {
			n += 8;
			continue;
		}
		if (bit_at(a, n) != bit_at(b, n))
			break;
		n++;
	}
	return n;
}

static int family_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static struct aip_node **root_of(struct allowedips *t, int family)
{
	return family == AF_INET ? &t->root4 : &t->root6;
}

struct allowedips *allowedips_new(void)
{
	return calloc(1, sizeof(struct allowedips));
}

static void free_tree(struct aip_node *n)
{
	if (!n)
		return;
	free_tree(n->child[0]);
	free_tree(n->child[1]);
	free(n);
}

void allowedips_free(struct allowedips *t)
{
	if (!t)
		return;
	free_tree(t->root4);
	free_tree(t->root6);
	free(t);
}

static struct aip_node *node_new(struct allowedips *t, int family, const uint8_t *bits, unsigned cidr)
{
	struct aip_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	memcpy(n->bits, bits, 16);
	n->cidr = (uint8_t)cidr;
	n->family = (uint8_t)family;
	t->nodes++;
	return n;
}

/* Take N out of its owner's list (it keeps no peer). */
static void owned_unlink(struct aip_node *n)
{
	struct allowedips_owned *o = n->owned;
	if (!o)
		return;
	*(n->prev ? &n->prev->next : &o->first) = n->next;
	*(n->next ? &n->next->prev : &o->last) = n->prev;
	n->owned = NULL;
	n->prev = n->next = NULL;
	n->peer = NULL;
}

/* Give N to PEER, at the end of OWNED. */
static void owned_link(struct aip_node *n, void *peer, struct allowedips_owned *o)
{
	if (n->owned == o && n->peer == peer)
		return;
	owned_unlink(n);
	n->peer = peer;
	n->owned = o;
	n->prev = o->last;
	*(o->last ? &o->last->next : &o->first) = n;
	o->last = n;
}

int allowedips_insert(struct allowedips *t, int family, const void *addr, uint8_t cidr, void *peer,
		      struct allowedips_owned *owned)
{
	int len = family_len(family);
	if (!len || cidr > len * 8 || !peer || !owned)
		return -EINVAL;
	uint8_t key[16];
	mask_copy(key, addr, cidr, (unsigned)len);
	struct aip_node **slot = root_of(t, family);
	while (*slot) {
		struct aip_node *n = *slot;
		unsigned limit = n->cidr < cidr ? n->cidr : cidr;
		unsigned common = common_bits(n->bits, key, limit);
		if (common == n->cidr && n->cidr == cidr) {
			owned_link(n, peer, owned);
			return 0;
		}
		if (common == n->cidr) {
			slot = &n->child[bit_at(key, n->cidr)];
			continue;
		}
		struct aip_node *leaf = node_new(t, family, key, cidr);
		if (!leaf)
			return -ENOMEM;
		if (common == cidr) {
			leaf->child[bit_at(n->bits, cidr)] = n;
			owned_link(leaf, peer, owned);
			*slot = leaf;
			return 0;
		}
		uint8_t ikey[16];
		mask_copy(ikey, key, common, (unsigned)len);
		struct aip_node *inter = node_new(t, family, ikey, common);
		if (!inter) {
			free(leaf);
			t->nodes--;
			return -ENOMEM;
		}
		inter->child[bit_at(n->bits, common)] = n;
		inter->child[bit_at(key, common)] = leaf;
		owned_link(leaf, peer, owned);
		*slot = inter;
		return 0;
	}
	*slot = node_new(t, family, key, cidr);
	if (!*slot)
		return -ENOMEM;
	owned_link(*slot, peer, owned);
	return 0;
}

/* A node without a peer and with fewer than two children is dropped. */
static void compact(struct allowedips *t, struct aip_node **slot)
{
	struct aip_node *n = *slot;
	if (n->peer || (n->child[0] && n->child[1]))
		return;
	*slot = n->child[0] ? n->child[0] : n->child[1];
	free(n);
	t->nodes--;
}

static int remove_rec(struct allowedips *t, struct aip_node **slot, const uint8_t *key,
		      unsigned cidr, const void *peer)
{
	struct aip_node *n = *slot;
	if (!n || n->cidr > cidr || common_bits(n->bits, key, n->cidr) != n->cidr)
		return -ENOENT;
	int rc;
	if (n->cidr == cidr) {
		if (!n->peer || n->peer != peer)
			return -ENOENT;
		owned_unlink(n);
		rc = 0;
	} else {
		rc = remove_rec(t, &n->child[bit_at(key, n->cidr)], key, cidr, peer);
	}
	if (rc == 0)
		compact(t, slot);
	return rc;
}

int allowedips_remove(struct allowedips *t, int family, const void *addr, uint8_t cidr, const void *peer)
{
	int len = family_len(family);
	if (!len || cidr > len * 8)
		return -EINVAL;
	uint8_t key[16];
	mask_copy(key, addr, cidr, (unsigned)len);
	return remove_rec(t, root_of(t, family), key, cidr, peer);
}

void allowedips_remove_peer(struct allowedips *t, struct allowedips_owned *owned)
{
	while (owned->first) {
		struct aip_node *n = owned->first;
		uint8_t key[16];
		memcpy(key, n->bits, sizeof key);	/* N is freed on the way */
		if (remove_rec(t, root_of(t, n->family), key, n->cidr, n->peer) != 0)
			owned_unlink(n);	/* not in the trie: never loop on it */
	}
}

void *allowedips_lookup(const struct allowedips *t, int family, const void *addr)
{
	int len = family_len(family);
	if (!len)
		return NULL;
	uint8_t key[16] = { 0 };
	memcpy(key, addr, (size_t)len);
	const struct aip_node *n = family == AF_INET ? t->root4 : t->root6;
	void *found = NULL;
	while (n && common_bits(n->bits, key, n->cidr) == n->cidr) {
		if (n->peer)
			found = n->peer;
		if (n->cidr == len * 8)
			break;
		n = n->child[bit_at(key, n->cidr)];
	}
	return found;
}

int allowedips_walk_peer(const struct allowedips_owned *owned, allowedips_walk_fn fn, void *ctx)
{
	for (const struct aip_node *n = owned->first; n; n = n->next) {
		int rc = fn(ctx, n->family, n->bits, n->cidr);
		if (rc)
			return rc;
	}
	return 0;
}

size_t allowedips_nodes(const struct allowedips *t)
{
	return t->nodes;
}
