/* tungso: TCP segmentation of TUN super-packets and the reverse merge. */
#include "t.h"
#include "tungso.h"

#include <errno.h>
#include <linux/virtio_net.h>
#include <stdint.h>

static uint8_t frame[70000], out[80000], merged[70000];

/* An IPv4 TCP packet SRC->DST with PAYLOAD bytes of pattern, seq SEQ. */
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
	return len;
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
	struct tungso_segs segs;
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
