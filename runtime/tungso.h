/* tungso: TUN offloads.  With IFF_VNET_HDR and TSO enabled the kernel hands
 * the daemon whole TCP super-packets (up to 64 KiB) behind a virtio_net_hdr,
 * and may leave checksums to be completed.  This module completes checksums
 * and splits super-packets into MSS-sized IP packets, each with correct IP
 * and TCP headers and checksums, ready to encrypt one by one. */
#ifndef TUNGSO_H
#define TUNGSO_H
#include <stddef.h>
#include <stdint.h>

#define TUNGSO_HDR_LEN 10 /* struct virtio_net_hdr */
#define TUNGSO_MAX_SEGS 64

struct tungso_segs {
	size_t n;
	size_t len[TUNGSO_MAX_SEGS];
	uint8_t *data[TUNGSO_MAX_SEGS];	/* into the caller's OUT buffer or the packet itself */
};

/* FRAME is a virtio_net_hdr followed by an IP packet (FRAMELEN bytes in all).
 * Fills SEGS with plain IP packets: the packet itself (checksum completed in
 * place when the header asks) or its TCP segments written to OUT (OUTCAP
 * bytes).  0, or -EINVAL for a header or packet that makes no sense (the
 * caller drops it). */
int tungso_split(uint8_t *frame, size_t framelen, uint8_t *out, size_t outcap, struct tungso_segs *segs);

/* Internet checksum helpers (RFC 1071), exposed for tests. */
uint32_t tungso_csum_add(uint32_t sum, const uint8_t *data, size_t len);
uint16_t tungso_csum_fold(uint32_t sum);

#endif
