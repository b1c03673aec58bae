/* uapi: the cross-platform userspace API (wireguard.com/xplatform) as text.
 * Pure: framing of requests, parsing of `set=1` bodies into a plain struct,
 * and formatting of `get=1` replies.  The daemon applies what is parsed, so a
 * malformed request changes nothing. */
#ifndef UAPI_H
#define UAPI_H
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wgconfig.h"
#include "wgkey.h"

/* Largest request accepted; longer input is refused and the connection closed. */
#define UAPI_MAX_REQUEST (16u << 20)
#define UAPI_MAX_LINE 4096

enum uapi_op { UAPI_OP_GET = 1, UAPI_OP_SET };

/* A request is "get=1\n\n" or "set=1\n" KEY=VALUE lines "\n".  Returns 1 with
 * *OP and *REQLEN (bytes including the blank line) for a complete request, 0
 * when more input is needed, -EINVAL for an unknown operation or an overlong
 * line, -EMSGSIZE for a request over UAPI_MAX_REQUEST.  *RESUME (start at 0,
 * reset after each complete request) remembers how far BUF was scanned, so
 * feeding a large request piece by piece stays linear. */
int uapi_frame(const char *buf, size_t len, size_t *resume, enum uapi_op *op, size_t *reqlen);

/* Parses BODY (the lines after "set=1\n", without the blank line).  0, or
 * -EINVAL / -ENOMEM with a message in ERR.  SET must be zeroed first and is
 * released with wgconfig_free either way. */
int uapi_parse_set(struct wgconfig *set, const char *body, size_t len, char *err, size_t errlen);

/* Parses "a.b.c.d:port" or "[v6]:port". 0 or -EINVAL. */
int uapi_parse_endpoint(union wg_sockaddr *ep, const char *s, size_t len);
/* Formats an endpoint as the API does: "a.b.c.d:port" or "[v6]:port". */
void uapi_format_endpoint(char *out, size_t outlen, const union wg_sockaddr *ep);

/* A growing output buffer for get replies. */
struct uapi_buf {
	char *data;
	size_t len, cap;
	bool failed; /* out of memory somewhere */
};
void uapi_buf_printf(struct uapi_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void uapi_buf_free(struct uapi_buf *b); /* wipes: replies hold private keys */

struct uapi_peer_info {
	uint8_t public_key[WGKEY_LEN], psk[WGKEY_LEN];
	bool has_endpoint;
	union wg_sockaddr endpoint;
	int64_t last_handshake_sec, last_handshake_nsec;
	uint64_t tx_bytes, rx_bytes;
	uint16_t keepalive;
};
/* Device lines: private_key only when set, listen_port when non-zero,
 * fwmark when non-zero (as wireguard-go). */
void uapi_format_device(struct uapi_buf *b, const uint8_t *private_key, uint16_t port, uint32_t fwmark);
void uapi_format_peer(struct uapi_buf *b, const struct uapi_peer_info *p);
void uapi_format_allowed_ip(struct uapi_buf *b, int family, const uint8_t *addr, uint8_t cidr);
/* "errno=N\n\n": N is 0 or a negative errno, as wireguard-go writes it. */
void uapi_format_errno(struct uapi_buf *b, int err);

#endif
