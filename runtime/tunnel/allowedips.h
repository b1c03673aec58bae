/* allowedips: WireGuard cryptokey routing table.  A path-compressed binary
 * trie per address family maps prefixes to peers; lookup is longest-prefix
 * match.  Peers are opaque pointers: the table never dereferences them.
 * Each peer's prefixes are also chained in a list the caller keeps with the
 * peer (struct allowedips_owned), as the kernel and wireguard-go do, so that
 * listing or removing one peer's prefixes costs what that peer owns, not
 * what the whole table holds. */
#ifndef ALLOWEDIPS_H
#define ALLOWEDIPS_H
#include <stddef.h>
#include <stdint.h>

struct allowedips;
struct aip_node;

/* The prefixes one peer owns, in the order they were added.  Zeroed before
 * first use; the table keeps it up to date. */
struct allowedips_owned {
	struct aip_node *first, *last;
};

/* FN is called once per prefix in the order they were added; a non-zero
 * return stops the walk and is returned by allowedips_walk_peer. */
typedef int (*allowedips_walk_fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr);

struct allowedips *allowedips_new(void);
void allowedips_free(struct allowedips *t);
/* Maps FAMILY/ADDR/CIDR (host bits ignored) to PEER, whose prefixes OWNED
 * lists, replacing any previous owner of that exact prefix.  0, -EINVAL (bad
 * family or cidr), -ENOMEM. */
int allowedips_insert(struct allowedips *t, int family, const void *addr, uint8_t cidr, void *peer,
		      struct allowedips_owned *owned);
/* Removes that exact prefix if PEER owns it: 0, or -ENOENT. */
int allowedips_remove(struct allowedips *t, int family, const void *addr, uint8_t cidr, const void *peer);
/* Removes every prefix in OWNED (which is left empty). */
void allowedips_remove_peer(struct allowedips *t, struct allowedips_owned *owned);
/* The peer owning the longest prefix that contains ADDR, or NULL. */
void *allowedips_lookup(const struct allowedips *t, int family, const void *addr);
int allowedips_walk_peer(const struct allowedips_owned *owned, allowedips_walk_fn fn, void *ctx);
/* Number of trie nodes (for memory accounting in tests). */
size_t allowedips_nodes(const struct allowedips *t);

#endif
