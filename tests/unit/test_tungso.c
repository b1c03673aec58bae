/* tungso: TCP segmentation of TUN super-packets and the reverse merge. */
#include "t.h"
#include "tungso.h"

#include <errno.h>
#include <linux/virtio_net.h>
#include <stdint.h>

static uint8_t frame[70000], out[80000], merged[70000];

static void put_csum(uint8_t *at, uint32_t sum) { uint16_t c = tungso_csum_fold(sum); memcpy(at, &c, 2); }

/* An IPv4 TCP packet SRC->DST with PAYLOAD bytes of pattern, seq SEQ, both
 * checksums valid. */
static size_t make_tcp4(uint8_t *p, size_t payload, uint32_t seq, uint8_t flags, uint8_t src_last)
{
	static const uint8_t opts[12] = { 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2 }; /* NOP NOP TS */
	size_t hl = 20 + 32, len = hl + payload;
	memset(p, 0, hl);
	p[0] = 0x45; p[2] = (uint8_t)(len >> 8); p[3] = (uint8_t)len; p[4] = 0x12; p[5] = 0x34;
	p[6] = 0x40; p[8] = 64; p[9] = 6;
	p[12] = 10; p[13] = 9; p[14] = 0; p[15] = src_last;
	p[16] = 10; p[17] = 9; p[18] = 0; p[19] = 2;
	uint8_t *t = p + 20;
	t[0] = 0x9c; t[1] = 0x40; t[2] = 0x14; t[3] = 0x51;
	t[4] = (uint8_t)(seq >> 24); t[5] = (uint8_t)(seq >> 16); t[6] = (uint8_t)(seq >> 8); t[7] = (uint8_t)seq;
	t[8] = 0; t[9] = 0; t[10] = 0x10; t[11] = 0x01;
	t[12] = 8 << 4; t[13] = flags; t[14] = 0x01; t[15] = 0xf5;
	memcpy(t + 20, opts, sizeof opts);
	for (size_t i = 0; i < payload; i++)
		p[hl + i] = (uint8_t)((seq + i) * 7);
	put_csum(p + 10, tungso_csum_add(0, p, 20));
	uint8_t ph[8] = { 0, 0, (uint8_t)((len - 20) >> 8), (uint8_t)(len - 20), 0, 0, 0, 6 };
	put_csum(t + 16, tungso_csum_add(tungso_csum_add(tungso_csum_add(0, p + 12, 8), ph, 8), t, len - 20));
	return len;
}

/* The same over IPv6 fd00::1 -> fd00::2 (no extension headers). */
static size_t make_tcp6(uint8_t *p, size_t payload, uint32_t seq, uint8_t flags)
{
	uint8_t t4[2000];
	size_t len4 = make_tcp4(t4, payload, seq, flags, 1);
	size_t l4 = len4 - 20, len = 40 + l4;
	memset(p, 0, 40);
	p[0] = 0x60; p[4] = (uint8_t)(l4 >> 8); p[5] = (uint8_t)l4; p[6] = 6; p[7] = 64;
	p[8] = 0xfd; p[23] = 1; p[24] = 0xfd; p[39] = 2;
	memcpy(p + 40, t4 + 20, l4);
	p[56] = p[57] = 0;
	uint8_t ph[8] = { 0, 0, (uint8_t)(l4 >> 8), (uint8_t)l4, 0, 0, 0, 6 };
	put_csum(p + 56, tungso_csum_add(tungso_csum_add(tungso_csum_add(0, p + 8, 32), ph, 8), p + 40, l4));
	return len;
}

static int tcp6_ok(const uint8_t *p, size_t len)
{
	uint8_t ph[8] = { 0, 0, (uint8_t)((len - 40) >> 8), (uint8_t)(len - 40), 0, 0, 0, 6 };
	uint32_t s = tungso_csum_add(tungso_csum_add(0, p + 8, 32), ph, 8);
	return tungso_csum_fold(tungso_csum_add(s, p + 40, len - 40)) == 0;
}

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int ip_ok(const uint8_t *p) { return tungso_csum_fold(tungso_csum_add(0, p, 20)) == 0; }

static int tcp_ok(const uint8_t *p, size_t len)
{
	uint8_t ph[8] = { 0, 0, (uint8_t)((len - 20) >> 8), (uint8_t)(len - 20), 0, 0, 0, 6 };
	uint32_t s = tungso_csum_add(tungso_csum_add(0, p + 12, 8), ph, 8);
	return tungso_csum_fold(tungso_csum_add(s, p + 20, len - 20)) == 0;
}

int main(void)
{
	struct tungso_segs segs = { .from = 0 };
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				     .hdr_len = 52, .gso_size = 100, .csum_start = 20, .csum_offset = 16 };
	memcpy(frame, &vh, sizeof vh);
	size_t len = make_tcp4(frame + TUNGSO_HDR_LEN, 350, 1000, 0x18, 1); /* ACK PSH */
	T_CHECK(tungso_split(frame, len + TUNGSO_HDR_LEN, out, sizeof out, &segs) == 0, "split a 350-byte TSO packet");
	T_CHECK(segs.n == 4, "mss 100: 4 segments (%zu)", segs.n);
	for (size_t i = 0; i < segs.n; i++) {
		const uint8_t *s = segs.data[i];
		size_t want = 52 + (i < 3 ? 100 : 50);
		T_CHECK(segs.len[i] == want && (size_t)(s[2] << 8 | s[3]) == want, "segment %zu is %zu bytes", i, want);
		T_CHECK(ip_ok(s), "segment %zu: IPv4 header checksum valid", i);
		T_CHECK(tcp_ok(s, segs.len[i]), "segment %zu: TCP checksum valid", i);
		T_CHECK(get32(s + 24) == 1000 + 100 * i, "segment %zu: sequence %zu", i, (size_t)(1000 + 100 * i));
		T_CHECK((s[33] & 0x08) == (i == 3 ? 0x08 : 0), "segment %zu: PSH only on the last", i);
		T_CHECK(s[52] == (uint8_t)((1000 + 100 * i) * 7), "segment %zu: payload in place", i);
	}

	/* ... and merged back: one GSO frame with the original payload. */
	size_t used, flen = tungso_coalesce(segs.data, segs.len, segs.n, merged, sizeof merged, &used);
	struct virtio_net_hdr mh;
	memcpy(&mh, merged, sizeof mh);
	T_CHECK(used == 4 && flen == TUNGSO_HDR_LEN + 52 + 350, "coalesce merges all 4 (%zu, %zu bytes)", used, flen);
	T_CHECK(mh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && mh.gso_size == 100 && mh.hdr_len == 52 &&
		mh.csum_start == 20 && mh.csum_offset == 16, "merged frame: TCPV4 GSO header, mss 100");
	T_CHECK(memcmp(merged + TUNGSO_HDR_LEN + 52, frame + TUNGSO_HDR_LEN + 52, 350) == 0, "merged payload identical");
	T_CHECK(ip_ok(merged + TUNGSO_HDR_LEN), "merged IPv4 header checksum valid");
	T_CHECK((merged[TUNGSO_HDR_LEN + 33] & 0x08) != 0, "merged frame carries the last segment's PSH");

	/* Runs break on another flow, a gap and a SYN. */
	uint8_t a[2000], b[2000], c[2000], d[2000];
	uint8_t *pk[4] = { a, b, c, d };
	size_t ln[4];
	ln[0] = make_tcp4(a, 100, 5000, 0x10, 1);
	ln[1] = make_tcp4(b, 100, 5100, 0x10, 1);
	ln[2] = make_tcp4(c, 100, 5200, 0x10, 7);   /* other source */
	ln[3] = make_tcp4(d, 100, 5400, 0x10, 7);   /* gap */
	flen = tungso_coalesce(pk, ln, 4, merged, sizeof merged, &used);
	T_CHECK(used == 2, "coalesce stops at another flow (%zu)", used);
	flen = tungso_coalesce(pk + 2, ln + 2, 2, merged, sizeof merged, &used);
	T_CHECK(used == 1 && flen == TUNGSO_HDR_LEN + ln[2], "coalesce stops at a sequence gap");
	memcpy(&mh, merged, sizeof mh);
	T_CHECK(mh.gso_type == VIRTIO_NET_HDR_GSO_NONE && mh.flags == 0, "a lone packet gets a plain header");
	ln[0] = make_tcp4(a, 100, 5000, 0x12, 1);
	tungso_coalesce(pk, ln, 2, merged, sizeof merged, &used);
	T_CHECK(used == 1, "a SYN is never merged");

	/* Corrupted segments are never merged (the merged frame would get a
	 * fresh checksum): they go to the kernel alone, which drops them. */
	ln[0] = make_tcp4(a, 100, 5000, 0x10, 1);
	T_CHECK(tcp_ok(a, ln[0]) && tcp_ok(b, ln[1]) && ip_ok(a), "test packets carry valid checksums");
	b[60] ^= 0x40;
	flen = tungso_coalesce(pk, ln, 2, merged, sizeof merged, &used);
	memcpy(&mh, merged, sizeof mh);
	T_CHECK(used == 1 && mh.flags == 0, "a segment with a bad TCP checksum does not join the run");
	flen = tungso_coalesce(pk + 1, ln + 1, 1, merged, sizeof merged, &used);
	T_CHECK(used == 1 && !tcp_ok(merged + TUNGSO_HDR_LEN, flen - TUNGSO_HDR_LEN),
		"it is passed on alone with its bad checksum");
	b[60] ^= 0x40;
	a[60] ^= 0x40;
	tungso_coalesce(pk, ln, 2, merged, sizeof merged, &used);
	T_CHECK(used == 1, "a first segment with a bad TCP checksum starts no run");
	a[60] ^= 0x40;
	a[10] ^= 1; /* the IPv4 header checksum no longer matches */
	tungso_coalesce(pk, ln, 2, merged, sizeof merged, &used);
	T_CHECK(used == 1, "a first segment with a bad IPv4 header checksum starts no run");
	a[10] ^= 1;
	tungso_coalesce(pk, ln, 2, merged, sizeof merged, &used);
	T_CHECK(used == 2, "restored, the two merge");

	/* IPv6: split a TSO6 packet, then merge the segments back. */
	struct virtio_net_hdr v6 = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
				     .hdr_len = 72, .gso_size = 200, .csum_start = 40, .csum_offset = 16 };
	memcpy(frame, &v6, sizeof v6);
	len = make_tcp6(frame + TUNGSO_HDR_LEN, 500, 77, 0x18);
	T_CHECK(tungso_split(frame, len + TUNGSO_HDR_LEN, out, sizeof out, &segs) == 0 && segs.n == 3,
		"IPv6: 500 bytes at mss 200 split into 3 segments (%zu)", segs.n);
	int v6ok = segs.n == 3;
	for (size_t i = 0; i < segs.n; i++) {
		const uint8_t *sg = segs.data[i];
		size_t pl = i < 2 ? 200 : 100;
		v6ok &= segs.len[i] == 72 + pl && (size_t)(sg[4] << 8 | sg[5]) == 32 + pl &&
			tcp6_ok(sg, segs.len[i]) && get32(sg + 44) == 77 + 200 * i;
	}
	T_CHECK(v6ok, "IPv6 segments: payload lengths, TCP checksums and sequence numbers right");
	flen = tungso_coalesce(segs.data, segs.len, segs.n, merged, sizeof merged, &used);
	memcpy(&mh, merged, sizeof mh);
	T_CHECK(used == 3 && flen == TUNGSO_HDR_LEN + len && mh.gso_type == VIRTIO_NET_HDR_GSO_TCPV6 &&
		mh.gso_size == 200 && mh.csum_start == 40, "IPv6 segments merge back into one TCPV6 frame");
	T_CHECK(memcmp(merged + TUNGSO_HDR_LEN + 72, frame + TUNGSO_HDR_LEN + 72, 500) == 0 &&
		(size_t)(merged[TUNGSO_HDR_LEN + 4] << 8 | merged[TUNGSO_HDR_LEN + 5]) == 532,
		"IPv6 merged payload and payload length");
	uint8_t *mix[2] = { segs.data[0], a };
	size_t mixl[2] = { segs.len[0], ln[0] };
	tungso_coalesce(mix, mixl, 2, merged, sizeof merged, &used);
	T_CHECK(used == 1, "IPv6 and IPv4 packets never merge");

	/* A 64,000-byte TSO frame needs more than TUNGSO_MAX_SEGS segments at
	 * small MSS: split in batches, the sequence continuing across them. */
	static const size_t msses[] = { 900, 536, 88 };
	for (size_t m = 0; m < sizeof msses / sizeof msses[0]; m++) {
		struct virtio_net_hdr big = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
					      .hdr_len = 52, .gso_size = (uint16_t)msses[m], .csum_start = 20,
					      .csum_offset = 16 };
		memcpy(frame, &big, sizeof big);
		len = make_tcp4(frame + TUNGSO_HDR_LEN, 64000, 9, 0x18 | 0x80, 1); /* ACK PSH CWR */
		size_t want = (64000 + msses[m] - 1) / msses[m], got = 0, batches = 0, bytes = 0;
		int good = 1;
		segs.from = 0;
		do {
			if (tungso_split(frame, len + TUNGSO_HDR_LEN, out, sizeof out, &segs) != 0) {
				good = 0;
				break;
			}
			batches++;
			for (size_t i = 0; i < segs.n; i++, got++) {
				const uint8_t *sg = segs.data[i];
				size_t pl = segs.len[i] - 52;
				int lastseg = got == want - 1;
				good &= ip_ok(sg) && tcp_ok(sg, segs.len[i]) && get32(sg + 24) == 9 + got * msses[m] &&
					(size_t)(sg[4] << 8 | sg[5]) == ((0x1234 + got) & 0xffff) &&
					((sg[33] & 0x08) != 0) == lastseg && ((sg[33] & 0x80) != 0) == (got == 0) &&
					sg[52] == (uint8_t)((9 + got * msses[m]) * 7);
				bytes += pl;
			}
		} while (segs.from && batches < 100);
		T_CHECK(good && got == want && bytes == 64000 && batches == (want + TUNGSO_MAX_SEGS - 1) / TUNGSO_MAX_SEGS,
			"64,000 bytes at mss %zu: %zu segments in %zu batches, headers, ids, flags, checksums right",
			msses[m], got, batches);
	}

	/* Checksum completion for a plain packet, and malformed frames. */
	struct virtio_net_hdr ch = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 16 };
	memcpy(frame, &ch, sizeof ch);
	len = make_tcp4(frame + TUNGSO_HDR_LEN, 77, 1, 0x18, 1);
	uint8_t *p = frame + TUNGSO_HDR_LEN;
	uint8_t ph[8] = { 0, 0, (uint8_t)((len - 20) >> 8), (uint8_t)(len - 20), 0, 0, 0, 6 };
	uint16_t partial = (uint16_t)~tungso_csum_fold(tungso_csum_add(tungso_csum_add(0, p + 12, 8), ph, 8));
	memcpy(p + 36, &partial, 2);
	p[10] = p[11] = 0;
	uint16_t ipc = tungso_csum_fold(tungso_csum_add(0, p, 20));
	memcpy(p + 10, &ipc, 2);
	T_CHECK(tungso_split(frame, len + TUNGSO_HDR_LEN, out, sizeof out, &segs) == 0 && segs.n == 1 &&
		tcp_ok(segs.data[0], segs.len[0]), "NEEDS_CSUM: checksum completed in place");
	T_CHECK(tungso_split(frame, 5, out, sizeof out, &segs) == -EINVAL, "a frame shorter than the header is refused");
	ch.csum_start = 60000;
	memcpy(frame, &ch, sizeof ch);
	T_CHECK(tungso_split(frame, len + TUNGSO_HDR_LEN, out, sizeof out, &segs) == -EINVAL,
		"a checksum offset past the end is refused");
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	memcpy(frame, &vh, sizeof vh);
	T_CHECK(tungso_split(frame, len + TUNGSO_HDR_LEN, out, sizeof out, &segs) == -EINVAL, "UDP GSO type refused");
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = 0;
	memcpy(frame, &vh, sizeof vh);
	T_CHECK(tungso_split(frame, len + TUNGSO_HDR_LEN, out, sizeof out, &segs) == -EINVAL, "mss 0 refused");
	T_DONE();
}
