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
	size_t from;	/* payload offset to split from: 0 at first; set when more remains */
	size_t n;
	size_t len[TUNGSO_MAX_SEGS];
	uint8_t *data[TUNGSO_MAX_SEGS];	/* into the caller's OUT buffer or the packet itself */
};

/* FRAME is a virtio_net_hdr followed by an IP packet (FRAMELEN bytes in all).
 * Fills SEGS with plain IP packets: the packet itself (checksum completed in
 * place when the header asks) or its TCP segments written to OUT (OUTCAP
 * bytes).  0, or -EINVAL for a header or packet that makes no sense (the
 * caller drops it).  A frame needing more than TUNGSO_MAX_SEGS segments (or
 * more than OUTCAP) is split in batches: set SEGS->from to 0 before the
 * first call; while it is nonzero after one, call again for the rest. */
int tungso_split(uint8_t *frame, size_t framelen, uint8_t *out, size_t outcap, struct tungso_segs *segs);

/* The other direction: PKTS[0..N) are plain IP packets to write to the TUN
 * device.  Writes to OUT (OUTCAP bytes, at least 64 KiB + header) one frame:
 * a virtio_net_hdr and either PKTS[0] alone or, when PKTS[0] starts a run
 * of in-order segments of one TCP flow (IPv4 without options, IPv6 without
 * extension headers) (same headers and options, no
 * SYN/FIN/RST/URG, equal sizes but the last, every IPv4 header and TCP
 * checksum valid: a corrupted segment goes alone, for the kernel to drop), all of them merged into one
 * GSO super-packet that the kernel's TCP stack takes in one go.  Returns the
 * frame length; *USED gets how many packets it covers (at least 1). */
size_t tungso_coalesce(uint8_t *const *pkts, const size_t *lens, size_t n, uint8_t *out, size_t outcap,
		       size_t *used);

/* Internet checksum helpers (RFC 1071), exposed for tests. */
uint32_t tungso_csum_add(uint32_t sum, const uint8_t *data, size_t len);
uint16_t tungso_csum_fold(uint32_t sum);

#endif
