/* tun: the Linux TUN device (layer 3, no packet information header). */
#ifndef TUN_H
#define TUN_H
#include <stdbool.h>
#include <stddef.h>

/* Creates (or attaches to) TUN device NAME, sets MTU and brings nothing up
 * (wg-quick or the administrator does).  Returns a non-blocking fd or -errno;
 * ERR gets a message.  With *OFFLOAD true, asks for IFF_VNET_HDR with
 * checksum and TSO offloads; *OFFLOAD says whether that worked (every read
 * and write then carries a virtio_net_hdr, see tungso.h). */
int tun_open(const char *name, int mtu, bool *offload, char *err, size_t errlen);

#endif
