/* fuzz_uapi: the userspace API parser.  Input is a byte stream as a client
 * would write it: framing, set bodies, then the get formatter on what was
 * parsed (endpoints and allowed IPs round-trip through the formatter). */
#include "uapi.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t off = 0, resume = 0;
	while (off < size) {
		enum uapi_op op;
		size_t reqlen;
		int rc = uapi_frame(buf + off, size - off, &resume, &op, &reqlen);
		if (rc <= 0)
			break;
		if (reqlen > size - off || reqlen < 7)
			abort();
		if (op == UAPI_OP_SET) {
			struct wgconfig set = { 0 };
			char err[256];
			if (uapi_parse_set(&set, buf + off + 6, reqlen - 7, err, sizeof err) == 0) {
				struct uapi_buf out = { 0 };
				uapi_format_device(&out, set.private_key, set.listen_port, set.fwmark);
				for (size_t i = 0; i < set.n_peers; i++) {
					struct uapi_peer_info info = { 0 };
					memcpy(info.public_key, set.peers[i].public_key, sizeof info.public_key);
					info.has_endpoint = set.peers[i].has_endpoint;
					info.endpoint = set.peers[i].endpoint;
					uapi_format_peer(&out, &info);
					for (size_t k = 0; k < set.peers[i].n_allowed; k++)
						uapi_format_allowed_ip(&out, set.peers[i].allowed[k].family,
								       set.peers[i].allowed[k].addr,
								       set.peers[i].allowed[k].cidr);
				}
				uapi_format_errno(&out, 0);
				uapi_buf_free(&out);
			}
			wgconfig_free(&set);
		}
		off += reqlen;
		resume = 0;
	}
	return 0;
}
