/* fuzz_wgpacket: the daemon's packet input.  A device with one configured
 * peer (no sockets, no TUN) gets the input as a UDP datagram, then as a TUN
 * frame with a virtio header (TSO splitting), then as a batch of IP packets
 * to merge for the TUN device.  Nothing may crash, leak or read out of
 * bounds, whatever the bytes. */
#include "tungso.h"
#include "wgdev.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wgdev *dev;
static uint8_t pkt[WGDEV_PKT_MAX], out[WGDEV_PKT_MAX + TUNGSO_MAX_SEGS * 128], frame[WGDEV_PKT_MAX + 64];

static void setup(void)
{
	static const char conf[] =
		"private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n"
		"public_key=58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376\n"
		"endpoint=127.0.0.1:9\nallowed_ip=0.0.0.0/0\nallowed_ip=::/0\n";
	struct uapi_buf reply = { 0 };
	if (sodium_init() < 0)
		abort();
	dev = wgdev_new("fuzz0", -1, true);
	if (!dev)
		abort();
	wgdev_uapi(dev, UAPI_OP_SET, conf, sizeof conf - 1, &reply);
	if (!reply.data || strncmp(reply.data, "errno=0", 7) != 0)
		abort();
	uapi_buf_free(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dev)
		setup();
	if (size > WGDEV_PKT_MAX)
		return 0;
	union wg_sockaddr src;
	memset(&src, 0, sizeof src);
	src.in.sin_family = AF_INET;
	src.in.sin_port = htons(51820);
	src.in.sin_addr.s_addr = htonl(0x7f000001);
	uint64_t now = wgdev_now(dev);
	memcpy(pkt, data, size);
	wgdev_udp_input(dev, pkt, size, &src, now);
	wgdev_flush(dev);

	struct tungso_segs segs = { .from = 0 };
	memcpy(pkt, data, size);
	do {
		if (tungso_split(pkt, size, out, sizeof out, &segs) != 0)
			break;
		for (size_t i = 0; i < segs.n; i++)
			wgdev_tun_input(dev, segs.data[i], segs.len[i], now);
		wgdev_flush(dev);
	} while (segs.from);

	/* the same bytes cut into up to 8 IP packets, merged for the TUN */
	uint8_t *pk[8];
	size_t ln[8], n = 0, off = 0;
	while (n < 8 && off < size) {
		size_t l = size - off > 1 ? 1 + data[off] % (size - off) : 1;
		pk[n] = pkt + off;
		ln[n++] = l;
		off += l;
	}
	memcpy(pkt, data, size);
	for (size_t i = 0; i < n;) {
		size_t used;
		tungso_coalesce(pk + i, ln + i, n - i, frame, sizeof frame, &used);
		i += used;
	}
	wgdev_tick(dev, now + 200 * NOISE_NS);
	return 0;
}
