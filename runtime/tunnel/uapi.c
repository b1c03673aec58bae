/* uapi: framing, set parsing and get formatting for the userspace API. */
#include "uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int uapi_frame(const char *buf, size_t len, size_t *resume, enum uapi_op *op, size_t *reqlen)
{
	static const char get[] = "get=1\n", set[] = "set=1\n";
	size_t head = sizeof get - 1;
	size_t cmp = len < head ? len : head;
	if (memcmp(buf, get, cmp) == 0) {
		if (len < head + 1)
			return 0;
		if (buf[head] != '\n')
			return -EINVAL;
		*op = UAPI_OP_GET;
		*reqlen = head + 1;
		return 1;
	}
	if (memcmp(buf, set, cmp) != 0)
		return -EINVAL;
	if (len < head)
		return 0;
	size_t line = *resume > head ? *resume : head;
	for (;;) {
		const char *nl = memchr(buf + line, '\n', len - line);
		size_t end = nl ? (size_t)(nl - buf) : len;
		if (end - line > UAPI_MAX_LINE)
			return -EINVAL;
		if (!nl)
			break;
		if (end == line) {
			*op = UAPI_OP_SET;
			*reqlen = end + 1;
			*resume = 0;
			return 1;
		}
		line = end + 1;
	}
	*resume = line;
	return len > UAPI_MAX_REQUEST ? -EMSGSIZE : 0;
}

/* ---- set ---- */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static bool parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool is_true(const char *v, size_t len)
{
	return len == 4 && memcmp(v, "true", 4) == 0;
}

static int copy_cstr(char *dst, size_t dstlen, const char *s, size_t len)
{
	if (len >= dstlen || memchr(s, 0, len))
		return -EINVAL;
	memcpy(dst, s, len);
	dst[len] = 0;
	return 0;
}

int uapi_parse_endpoint(union wg_sockaddr *ep, const char *s, size_t len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port;
	size_t hostlen;
	uint64_t p;
	memset(ep, 0, sizeof *ep);
	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close || close + 1 >= s + len || close[1] != ':')
			return -EINVAL;
		hostlen = (size_t)(close - s - 1);
		if (copy_cstr(host, sizeof host, s + 1, hostlen) != 0)
			return -EINVAL;
		port = close + 2;
		if (!parse_uint(port, (size_t)(s + len - port), 65535, &p) ||
		    inet_pton(AF_INET6, host, &ep->in6.sin6_addr) != 1)
			return -EINVAL;
		ep->in6.sin6_family = AF_INET6;
		ep->in6.sin6_port = htons((uint16_t)p);
		return 0;
	}
	const char *colon = len ? memrchr(s, ':', len) : NULL;
	if (!colon)
		return -EINVAL;
	hostlen = (size_t)(colon - s);
	if (copy_cstr(host, sizeof host, s, hostlen) != 0)
		return -EINVAL;
	port = colon + 1;
	if (!parse_uint(port, (size_t)(s + len - port), 65535, &p) ||
	    inet_pton(AF_INET, host, &ep->in.sin_addr) != 1)
		return -EINVAL;
	ep->in.sin_family = AF_INET;
	ep->in.sin_port = htons((uint16_t)p);
	return 0;
}

static int parse_allowed_ip(struct wgconfig_allowed_ip *a, const char *s, size_t len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(s, '/', len);
	uint64_t cidr;
	if (!slash || copy_cstr(host, sizeof host, s, (size_t)(slash - s)) != 0)
		return -EINVAL;
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, host, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, host, a->addr) == 1)
		a->family = AF_INET6;
	else
		return -EINVAL;
	if (!parse_uint(slash + 1, (size_t)(s + len - slash - 1), a->family == AF_INET ? 32 : 128, &cidr))
		return -EINVAL;
	a->cidr = (uint8_t)cidr;
	return 0;
}

#define KEY_IS(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)

static int parse_device_line(struct wgconfig *set, const char *key, size_t klen, const char *val, size_t vlen,
			     char *err, size_t errlen)
{
	uint64_t n;
	if (KEY_IS("private_key")) {
		if (wgkey_from_hex(set->private_key, val, vlen) != 0)
			return fail(err, errlen, -EINVAL, "private_key: not 64 hex digits");
		set->has_private_key = true;
	} else if (KEY_IS("listen_port")) {
		if (!parse_uint(val, vlen, 65535, &n))
			return fail(err, errlen, -EINVAL, "listen_port: not a port number");
		set->has_listen_port = true;
		set->listen_port = (uint16_t)n;
	} else if (KEY_IS("fwmark")) {
		if (!parse_uint(val, vlen, UINT32_MAX, &n))
			return fail(err, errlen, -EINVAL, "fwmark: not a 32-bit number");
		set->has_fwmark = true;
		set->fwmark = (uint32_t)n;
	} else if (KEY_IS("replace_peers")) {
		if (!is_true(val, vlen))
			return fail(err, errlen, -EINVAL, "replace_peers: only 'true' is valid");
		set->replace_peers = true;
	} else {
		return fail(err, errlen, -EINVAL, "unknown device key");
	}
	return 0;
}

static int parse_peer_line(struct wgconfig_peer *p, const char *key, size_t klen, const char *val, size_t vlen,
			   char *err, size_t errlen)
{
	uint64_t n;
	if (KEY_IS("remove")) {
		if (!is_true(val, vlen))
			return fail(err, errlen, -EINVAL, "remove: only 'true' is valid");
		p->remove = true;
	} else if (KEY_IS("update_only")) {
		if (!is_true(val, vlen))
			return fail(err, errlen, -EINVAL, "update_only: only 'true' is valid");
		p->update_only = true;
	} else if (KEY_IS("preshared_key")) {
		if (wgkey_from_hex(p->psk, val, vlen) != 0)
			return fail(err, errlen, -EINVAL, "preshared_key: not 64 hex digits");
		p->has_psk = true;
	} else if (KEY_IS("endpoint")) {
		if (uapi_parse_endpoint(&p->endpoint, val, vlen) != 0)
			return fail(err, errlen, -EINVAL, "endpoint: not ADDRESS:PORT or [ADDRESS]:PORT");
		p->has_endpoint = true;
	} else if (KEY_IS("persistent_keepalive_interval")) {
		if (!parse_uint(val, vlen, 65535, &n))
			return fail(err, errlen, -EINVAL, "persistent_keepalive_interval: not 0-65535");
		p->has_keepalive = true;
		p->keepalive = (uint16_t)n;
	} else if (KEY_IS("replace_allowed_ips")) {
		if (!is_true(val, vlen))
			return fail(err, errlen, -EINVAL, "replace_allowed_ips: only 'true' is valid");
		p->replace_allowed_ips = true;
	} else if (KEY_IS("allowed_ip")) {
		struct wgconfig_allowed_ip a;
		if (parse_allowed_ip(&a, val, vlen) != 0)
			return fail(err, errlen, -EINVAL, "allowed_ip: not ADDRESS/CIDR");
		if (wgconfig_add_allowed_ip(p, a.family, a.addr, a.cidr) != 0)
			return fail(err, errlen, -ENOMEM, "out of memory");
	} else if (KEY_IS("protocol_version")) {
		if (!(vlen == 1 && val[0] == '1'))
			return fail(err, errlen, -EINVAL, "protocol_version: only 1 is supported");
	} else {
		return fail(err, errlen, -EINVAL, "unknown peer key");
	}
	return 0;
}

/* The line at *POS (advanced past it). */
static int parse_line(struct wgconfig *set, const char *body, size_t len, size_t *pos, char *err, size_t errlen)
{
	const char *line = body + *pos;
	const char *nl = memchr(line, '\n', len - *pos);
	size_t llen = nl ? (size_t)(nl - line) : len - *pos;
	*pos += llen + (nl ? 1 : 0);
	const char *eq = memchr(line, '=', llen);
	if (!eq)
		return fail(err, errlen, -EINVAL, "no '=' in the line");
	const char *key = line, *val = eq + 1;
	size_t klen = (size_t)(eq - line), vlen = llen - klen - 1;
	if (KEY_IS("public_key")) {
		uint8_t pub[WGKEY_LEN];
		if (wgkey_from_hex(pub, val, vlen) != 0)
			return fail(err, errlen, -EINVAL, "public_key: not 64 hex digits");
		if (!wgconfig_add_peer(set, pub))
			return fail(err, errlen, -ENOMEM, "out of memory");
		return 0;
	}
	if (set->n_peers)
		return parse_peer_line(&set->peers[set->n_peers - 1], key, klen, val, vlen, err, errlen);
	return parse_device_line(set, key, klen, val, vlen, err, errlen);
}

/* Messages name the line and the key, never echo a value or an unknown
 * line: it may be key material and they go to syslog. */
int uapi_parse_set(struct wgconfig *set, const char *body, size_t len, char *err, size_t errlen)
{
	size_t pos = 0, lineno = 0;
	char msg[128];
	int rc = 0;
	while (pos < len && !rc) {
		lineno++;
		rc = parse_line(set, body, len, &pos, msg, sizeof msg);
	}
	if (rc)
		snprintf(err, errlen, "line %zu: %s", lineno, msg);
	return rc;
}

/* ---- get ---- */

void uapi_buf_printf(struct uapi_buf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
		char *p = malloc(ncap);
		if (!p) {
			b->failed = true;
			return;
		}
		if (b->data) {
			memcpy(p, b->data, b->len);
			sodium_memzero(b->data, b->cap);
			free(b->data);
		}
		b->data = p;
		b->cap = ncap;
	}
}

void uapi_buf_free(struct uapi_buf *b)
{
	if (b->data)
		sodium_memzero(b->data, b->cap);
	free(b->data);
	memset(b, 0, sizeof *b);
}

void uapi_format_endpoint(char *out, size_t outlen, const union wg_sockaddr *ep)
{
	char a[INET6_ADDRSTRLEN];
	if (ep->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &ep->in.sin_addr, a, sizeof a);
		snprintf(out, outlen, "%s:%u", a, ntohs(ep->in.sin_port));
	} else if (ep->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &ep->in6.sin6_addr, a, sizeof a);
		snprintf(out, outlen, "[%s]:%u", a, ntohs(ep->in6.sin6_port));
	} else {
		snprintf(out, outlen, "(none)");
	}
}

void uapi_format_device(struct uapi_buf *b, const uint8_t *private_key, uint16_t port, uint32_t fwmark)
{
	char hex[WGKEY_HEX_LEN + 1];
	if (private_key && !wgkey_is_zero(private_key)) {
		wgkey_to_hex(hex, private_key);
		uapi_buf_printf(b, "private_key=%s\n", hex);
		sodium_memzero(hex, sizeof hex);
	}
	if (port)
		uapi_buf_printf(b, "listen_port=%u\n", port);
	if (fwmark)
		uapi_buf_printf(b, "fwmark=%" PRIu32 "\n", fwmark);
}

void uapi_format_peer(struct uapi_buf *b, const struct uapi_peer_info *p)
{
	char hex[WGKEY_HEX_LEN + 1], ep[INET6_ADDRSTRLEN + 16];
	wgkey_to_hex(hex, p->public_key);
	uapi_buf_printf(b, "public_key=%s\n", hex);
	wgkey_to_hex(hex, p->psk);
	uapi_buf_printf(b, "preshared_key=%s\n", hex);
	sodium_memzero(hex, sizeof hex);
	uapi_buf_printf(b, "protocol_version=1\n");
	if (p->has_endpoint) {
		uapi_format_endpoint(ep, sizeof ep, &p->endpoint);
		uapi_buf_printf(b, "endpoint=%s\n", ep);
	}
	uapi_buf_printf(b, "last_handshake_time_sec=%" PRId64 "\nlast_handshake_time_nsec=%" PRId64 "\n",
			p->last_handshake_sec, p->last_handshake_nsec);
	uapi_buf_printf(b, "tx_bytes=%" PRIu64 "\nrx_bytes=%" PRIu64 "\n", p->tx_bytes, p->rx_bytes);
	uapi_buf_printf(b, "persistent_keepalive_interval=%u\n", p->keepalive);
}

void uapi_format_allowed_ip(struct uapi_buf *b, int family, const uint8_t *addr, uint8_t cidr)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(family, addr, a, sizeof a);
	uapi_buf_printf(b, "allowed_ip=%s/%u\n", a, cidr);
}

void uapi_format_errno(struct uapi_buf *b, int err)
{
	uapi_buf_printf(b, "errno=%d\n\n", err > 0 ? -err : err);
}
