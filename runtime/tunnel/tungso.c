/* tungso: checksum completion and TCP segmentation for TUN super-packets. */
#include "tungso.h"

#include <errno.h>
#include <linux/virtio_net.h>
#include <stdbool.h>
#include <string.h>

uint32_t tungso_csum_add(uint32_t sum, const uint8_t *data, size_t len)
{
	uint64_t s = sum;
	while (len >= 8) {
		uint32_t a, b;
		memcpy(&a, data, 4);
		memcpy(&b, data + 4, 4);
		s += (uint64_t)a + b;
		data += 8;
		len -= 8;
	}
	while (len >= 2) {
		uint16_t w;
		memcpy(&w, data, 2);
		s += w;
		data += 2;
		len -= 2;
	}
	if (len) {
		uint16_t w = 0;
		memcpy(&w, data, 1);
		s += w;
	}
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

uint16_t tungso_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

/* Transport checksum over pseudo-header + L4 bytes (checksum field zero). */
static uint16_t l4_csum(const uint8_t *ip, int v6, uint8_t proto, const uint8_t *l4, size_t l4len)
{
	uint8_t ph[8] = { 0 };
	uint32_t sum = v6 ? tungso_csum_add(0, ip + 8, 32) : tungso_csum_add(0, ip + 12, 8);
	ph[0] = (uint8_t)(l4len >> 24); ph[1] = (uint8_t)(l4len >> 16);
	ph[2] = (uint8_t)(l4len >> 8); ph[3] = (uint8_t)l4len;
	ph[7] = proto;
	sum = tungso_csum_add(sum, ph, 8);
	return tungso_csum_fold(tungso_csum_add(sum, l4, l4len));
}

/* A frame without GSO: complete its checksum if asked; one segment. */
static int split_plain(const struct virtio_net_hdr *vh, uint8_t *pkt, size_t len, struct tungso_segs *segs)
{
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		size_t start = vh->csum_start, off = vh->csum_offset;
		if (start + off + 2 > len)
			return -EINVAL;
		uint16_t c = tungso_csum_fold(tungso_csum_add(0, pkt + start, len - start));
		memcpy(pkt + start + off, &c, 2);
	}
	segs->n = 1;
	segs->data[0] = pkt;
	segs->len[0] = len;
	return 0;
}

/* The headers of a TSO frame: true with *IPHL and *TCPHL when they make
 * sense for segmentation. */
static bool tso_headers(const uint8_t *pkt, size_t len, int v6, size_t *iphl, size_t *tcphl)
{
	if (!v6) {
		if (len < 20 || pkt[0] >> 4 != 4 || pkt[9] != 6)
			return false;
		*iphl = (size_t)(pkt[0] & 15) * 4;
	} else {
		if (len < 40 || pkt[0] >> 4 != 6 || pkt[6] != 6)
			return false; /* extension headers: not produced by the stack for TSO */
		*iphl = 40;
	}
	if (len < *iphl + 20)
		return false;
	*tcphl = (size_t)(pkt[*iphl + 12] >> 4) * 4;
	return *tcphl >= 20 && *iphl + *tcphl <= len;
}

/* Segment INDEX of a TSO frame, written at S: headers copied from PKT
 * (HL bytes), CHUNK payload bytes from payload offset OFF, lengths, id,
 * sequence, flags and checksums fixed. */
static void emit_segment(uint8_t *s, const uint8_t *pkt, int v6, size_t iphl, size_t hl, size_t off,
			 size_t chunk, size_t index, bool last)
{
	memcpy(s, pkt, hl);
	memcpy(s + hl, pkt + hl + off, chunk);
	if (!v6) {
		put16(s + 2, (uint16_t)(hl + chunk));
		put16(s + 4, (uint16_t)(get16(pkt + 4) + index));
		s[10] = s[11] = 0;
		uint16_t c = tungso_csum_fold(tungso_csum_add(0, s, iphl));
		memcpy(s + 10, &c, 2);
	} else {
		put16(s + 4, (uint16_t)(hl - 40 + chunk));
	}
	uint8_t *tcp = s + iphl;
	put32(tcp + 4, get32(pkt + iphl + 4) + (uint32_t)off);
	uint8_t f = pkt[iphl + 13];
	if (!last)
		f &= (uint8_t)~(0x01 | 0x08); /* FIN, PSH only on the last */
	if (index)
		f &= (uint8_t)~0x80;          /* CWR only on the first */
	tcp[13] = f;
	tcp[16] = tcp[17] = 0;
	uint16_t c = l4_csum(s, v6, 6, tcp, hl - iphl + chunk);
	memcpy(tcp + 16, &c, 2);
}

int tungso_split(uint8_t *frame, size_t framelen, uint8_t *out, size_t outcap, struct tungso_segs *segs)
{
	struct virtio_net_hdr vh;
	size_t from = segs->from, iphl, tcphl;
	segs->n = 0;
	segs->from = 0;
	if (framelen < TUNGSO_HDR_LEN)
		return -EINVAL;
	memcpy(&vh, frame, sizeof vh);
	uint8_t *pkt = frame + TUNGSO_HDR_LEN;
	size_t len = framelen - TUNGSO_HDR_LEN;
	uint8_t gso = vh.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return split_plain(&vh, pkt, len, segs);
	if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6)
		return -EINVAL;
	int v6 = gso == VIRTIO_NET_HDR_GSO_TCPV6;
	size_t mss = vh.gso_size;
	if (!tso_headers(pkt, len, v6, &iphl, &tcphl) || mss == 0)
		return -EINVAL;
	size_t hl = iphl + tcphl, payload = len - hl, used = 0;
	for (size_t off = from; off < payload || (payload == 0 && segs->n == 0); off += mss) {
		size_t chunk = payload - off < mss ? payload - off : mss;
		if (segs->n == TUNGSO_MAX_SEGS || used + hl + chunk > outcap) {
			if (segs->n == 0)
				return -EINVAL;
			segs->from = off; /* the rest in the next call */
			return 0;
		}
		emit_segment(out + used, pkt, v6, iphl, hl, off, chunk, off / mss, off + chunk >= payload);
		segs->data[segs->n] = out + used;
		segs->len[segs->n] = hl + chunk;
		segs->n++;
		used += hl + chunk;
		if (payload == 0)
			break;
	}
	return 0;
}

/* IP header length (20: IPv4 without options, 40: IPv6 without extension
 * headers) of a packet that may join a TCP run, with *HL the IP + TCP
 * header length; 0 when it may not. */
static size_t tcp_run_hl(const uint8_t *p, size_t len, size_t *hl)
{
	size_t ipl;
	if (len >= 40 && p[0] == 0x45 && p[9] == 6 && !(get16(p + 6) & 0x3fff) && get16(p + 2) == len)
		ipl = 20;
	else if (len >= 60 && p[0] >> 4 == 6 && p[6] == 6 && (size_t)get16(p + 4) + 40 == len)
		ipl = 40;
	else
		return 0;
	const uint8_t *t = p + ipl;
	*hl = ipl + (size_t)(t[12] >> 4) * 4;
	if (*hl < ipl + 20 || *hl >= len || (t[13] & (0x02 | 0x01 | 0x04 | 0x20)) || !(t[13] & 0x10))
		return 0;
	return ipl;
}

/* The packet's checksums (IPv4 header, TCP over the pseudo-header) are
 * right.  A merged frame gets fresh ones, so each segment is checked
 * before it joins, as wireguard-go's tcpChecksumValid. */
static bool tcp_csum_ok(const uint8_t *p, size_t len, size_t ipl)
{
	if (ipl == 20 && tungso_csum_fold(tungso_csum_add(0, p, 20)) != 0)
		return false;
	return l4_csum(p, ipl == 40, 6, p + ipl, len - ipl) == 0;
}

/* Q continues the flow of FIRST (same IP header fields but lengths/ids,
 * same ports, ack, window and options). */
static int same_flow(const uint8_t *q, const uint8_t *first, size_t ipl, size_t hl)
{
	if (ipl == 20) {
		if (q[1] != first[1] || q[8] != first[8] || memcmp(q + 12, first + 12, 8) != 0)
			return 0;
	} else if (memcmp(q, first, 4) != 0 || q[7] != first[7] || memcmp(q + 8, first + 8, 32) != 0) {
		return 0;
	}
	const uint8_t *a = q + ipl, *b = first + ipl;
	return memcmp(a, b, 4) == 0 && memcmp(a + 8, b + 8, 4) == 0 && memcmp(a + 14, b + 14, 2) == 0 &&
	       memcmp(a + 20, b + 20, hl - ipl - 20) == 0 && (a[13] & ~0x08) == (b[13] & ~0x08);
}

size_t tungso_coalesce(uint8_t *const *pkts, const size_t *lens, size_t n, uint8_t *out, size_t outcap,
		       size_t *used)
{
	struct virtio_net_hdr vh;
	memset(&vh, 0, sizeof vh);
	const uint8_t *first = pkts[0];
	size_t hl = 0, ipl = tcp_run_hl(first, lens[0], &hl);
	size_t mss = ipl ? lens[0] - hl : 0;
	size_t total = lens[0], k = 1;
	if (ipl && !(first[ipl + 13] & 0x08)) {
		uint32_t next_seq = get32(first + ipl + 4) + (uint32_t)mss;
		for (; k < n && k < TUNGSO_MAX_SEGS; k++) {
			const uint8_t *q = pkts[k];
			size_t qhl = 0, qipl = tcp_run_hl(q, lens[k], &qhl);
			size_t qlen = lens[k] - qhl;
			if (qipl != ipl || qhl != hl || qlen > mss || total + qlen + TUNGSO_HDR_LEN > outcap ||
			    total + qlen > 65535 || get32(q + ipl + 4) != next_seq || !same_flow(q, first, ipl, hl))
				break;
			if ((k == 1 && !tcp_csum_ok(first, lens[0], ipl)) || !tcp_csum_ok(q, lens[k], ipl))
				break;
			total += qlen;
			next_seq += (uint32_t)qlen;
			if (qlen < mss || (q[ipl + 13] & 0x08)) {
				k++;
				break;
			}
		}
	}
	uint8_t *f = out + TUNGSO_HDR_LEN;
	memcpy(f, first, lens[0]);
	if (k == 1) {
		memcpy(out, &vh, sizeof vh);
		*used = 1;
		return TUNGSO_HDR_LEN + lens[0];
	}
	size_t off = lens[0];
	for (size_t i = 1; i < k; i++) {
		memcpy(f + off, pkts[i] + hl, lens[i] - hl);
		off += lens[i] - hl;
	}
	f[ipl + 13] |= pkts[k - 1][ipl + 13] & 0x08; /* PSH of the last */
	uint8_t ph[8] = { 0 };
	size_t l4len = off - ipl;
	ph[2] = (uint8_t)(l4len >> 8); ph[3] = (uint8_t)l4len; ph[7] = 6;
	uint32_t sum;
	if (ipl == 20) {
		put16(f + 2, (uint16_t)off);
		f[10] = f[11] = 0;
		uint16_t c = tungso_csum_fold(tungso_csum_add(0, f, 20));
		memcpy(f + 10, &c, 2);
		sum = tungso_csum_add(0, f + 12, 8);
	} else {
		put16(f + 4, (uint16_t)l4len);
		sum = tungso_csum_add(0, f + 8, 32);
	}
	/* CHECKSUM_PARTIAL: the TCP field holds the folded pseudo-header sum */
	uint16_t pc = (uint16_t)~tungso_csum_fold(tungso_csum_add(sum, ph, 8));
	memcpy(f + ipl + 16, &pc, 2);
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.gso_type = ipl == 20 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	vh.hdr_len = (uint16_t)hl;
	vh.gso_size = (uint16_t)mss;
	vh.csum_start = (uint16_t)ipl;
	vh.csum_offset = 16;
	memcpy(out, &vh, sizeof vh);
	*used = k;
	return TUNGSO_HDR_LEN + off;
}
