/* nftg: the guard that makes the relay fail closed.
 *
 * keygate's policy table (nftm, applied by `aclc apply` or the node agent)
 * marks every packet it lets in from the tunnel with NFTM_PASS_MARK.  The
 * guard is a second, tiny table that keygated makes for its tunnel
 * interface before any packet flows, `table inet keygate_guard_IFACE`:
 *
 *     chain forward {
 *         type filter hook forward priority 50; policy accept;
 *         iifname IFACE meta mark & 0x01000000 == 0 drop
 *     }
 *
 * so a packet from the tunnel is forwarded only when the policy table saw
 * it and accepted it.  With the policy table missing, deleted, dormant,
 * flushed, or half-way through anything, nothing from the tunnel is
 * forwarded: the guard's drop is final whatever other tables say.
 *
 * The guard is owned by the handle's netlink socket (NFT_TABLE_F_OWNER,
 * Linux 5.12): no other process can delete it, change it, make it dormant,
 * and `nft flush ruleset` passes it by.  Where the kernel has
 * NFT_TABLE_F_PERSIST (6.9) it is persistent too: when keygated dies the
 * table stays (unowned) until the next keygated takes it over; without
 * persist it goes with the socket, at the moment the tunnel device goes
 * with keygated's TUN descriptor.  Either way no packet from the tunnel is
 * forwarded unguarded: only keygated writes packets into the device. */
#ifndef NFTG_H
#define NFTG_H
#include <stdbool.h>
#include <stddef.h>

#define NFTG_PRIORITY 50
#define NFTG_PREFIX "keygate_guard_"

struct nftg;

/* The guard table's name for IFACE: NFTG_PREFIX and IFACE with every
 * character but [A-Za-z0-9_] made '_'.  OUT holds NFTM_NAME_MAX bytes. */
void nftg_table_name(const char *iface, char *out, size_t outlen);

/* Make (or take over: an orphaned persistent guard, or one someone else
 * left unowned, is replaced in the same transaction) the guard for IFACE
 * in the caller's network namespace, owned by a socket the handle keeps.
 * Needs CAP_NET_ADMIN.  NULL with errno and the reason in ERR. */
struct nftg *nftg_open(const char *iface, char *err, size_t errlen);
const char *nftg_table(const struct nftg *g);
/* The guard outlives the handle's socket (the kernel has persist). */
bool nftg_persistent(const struct nftg *g);
/* Delete the guard table (call it after the tunnel device is gone) and
 * close the socket.  0 or -errno (the table is then left orphaned when
 * persistent, else it went with the socket anyway). */
int nftg_close(struct nftg *g);

#endif
