/* uapi: request framing, set parsing (valid and malformed), exact get output. */
#include "uapi.h"
#include "t.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#define K1 "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define K2 "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376"

static void frames(void)
{
	static const struct { const char *in; int rc; int op; size_t len; } cases[] = {
		{ "get=1\n\n", 1, UAPI_OP_GET, 7 },
		{ "get=1\n\nget=1\n\n", 1, UAPI_OP_GET, 7 },
		{ "get=1\n", 0, 0, 0 },
		{ "get", 0, 0, 0 },
		{ "get=1\nx", -EINVAL, 0, 0 },
		{ "set=1\n\n", 1, UAPI_OP_SET, 7 },
		{ "set=1\nlisten_port=1\n\n", 1, UAPI_OP_SET, 21 },
		{ "set=1\nlisten_port=1\n", 0, 0, 0 },
		{ "put=1\n\n", -EINVAL, 0, 0 },
		{ "\n", -EINVAL, 0, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum uapi_op op = 0;
		size_t len = 0, resume = 0;
		int rc = uapi_frame(cases[i].in, strlen(cases[i].in), &resume, &op, &len);
		T_CHECK(rc == cases[i].rc && (rc != 1 || (op == (enum uapi_op)cases[i].op && len == cases[i].len)),
			"frame %zu: rc %d (want %d), op %d, length %zu", i, rc, cases[i].rc, op, len);
	}
	/* An overlong line and an overlong request are refused. */
	size_t big = UAPI_MAX_LINE + 100;
	char *buf = malloc(big);
	memcpy(buf, "set=1\n", 6);
	memset(buf + 6, 'a', big - 6);
	enum uapi_op op;
	size_t len, resume = 0;
	T_CHECK(uapi_frame(buf, big, &resume, &op, &len) == -EINVAL, "a line over %d bytes is refused", UAPI_MAX_LINE);
	free(buf);
	big = UAPI_MAX_REQUEST + 100;
	buf = malloc(big);
	memcpy(buf, "set=1\n", 6);
	for (size_t i = 6; i < big; i++)
		buf[i] = (i % 50 == 0) ? '\n' : 'a';
	resume = 0;
	int rc = uapi_frame(buf, big / 2, &resume, &op, &len);
	T_CHECK(rc == 0 && resume > 6, "half a large request needs more input and is remembered");
	rc = uapi_frame(buf, big, &resume, &op, &len);
	T_CHECK(rc == -EMSGSIZE, "a request over %u bytes is refused (rc %d)", UAPI_MAX_REQUEST, rc);
	free(buf);
}

static void valid_set(void)
{
	static const char body[] =
		"private_key=" K1 "\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n"
		"public_key=" K2 "\nprotocol_version=1\npreshared_key=" K1 "\nendpoint=[fd00::1]:7\n"
		"persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
		"allowed_ip=10.0.0.0/8\nallowed_ip=fd00::/64\n"
		"public_key=" K1 "\nremove=true\n"
		"public_key=" K1 "\nupdate_only=true\nendpoint=192.0.2.1:51820";
	struct wgconfig s = { 0 };
	char err[256] = "";
	int rc = uapi_parse_set(&s, body, strlen(body), err, sizeof err);
	T_CHECK(rc == 0, "full valid set parses (%s)", err);
	T_CHECK(s.has_private_key && s.has_listen_port && s.listen_port == 51820 && s.has_fwmark && s.fwmark == 0 &&
		s.replace_peers, "device fields");
	T_CHECK(s.n_peers == 3, "three peer sections");
	if (s.n_peers == 3) {
		struct wgconfig_peer *p = &s.peers[0];
		T_CHECK(p->has_psk && p->has_endpoint && p->endpoint.sa.sa_family == AF_INET6 &&
			ntohs(p->endpoint.in6.sin6_port) == 7 && p->has_keepalive && p->keepalive == 25 &&
			p->replace_allowed_ips && p->n_allowed == 2 && p->allowed[0].cidr == 8 &&
			p->allowed[1].family == AF_INET6 && p->allowed[1].cidr == 64, "first peer fields");
		T_CHECK(s.peers[1].remove && !s.peers[1].update_only, "second peer: remove");
		T_CHECK(s.peers[2].update_only && s.peers[2].endpoint.sa.sa_family == AF_INET &&
			ntohs(s.peers[2].endpoint.in.sin_port) == 51820, "third peer: update_only with an IPv4 endpoint");
	}
	wgconfig_free(&s);
}

static void malformed_set(void)
{
	static const struct { const char *body; const char *err; } cases[] = {
		{ "private_key=abc", "line 1: private_key: not 64 hex digits" },
		{ "private_key=" K1 "00", "line 1: private_key: not 64 hex digits" },
		{ "listen_port=65536", "line 1: listen_port: not a port number" },
		{ "listen_port=-1", "line 1: listen_port: not a port number" },
		{ "listen_port=", "line 1: listen_port: not a port number" },
		{ "fwmark=4294967296", "line 1: fwmark: not a 32-bit number" },
		{ "replace_peers=false", "line 1: replace_peers: only 'true' is valid" },
		{ "bogus=1", "line 1: unknown device key" },
		{ "no equals sign", "line 1: no '=' in the line" },
		{ "public_key=zz", "line 1: public_key: not 64 hex digits" },
		{ "public_key=" K2 "\nprivate_key=" K1, "line 2: unknown peer key" },
		{ "public_key=" K2 "\nendpoint=1.2.3.4", "line 2: endpoint: not ADDRESS:PORT or [ADDRESS]:PORT" },
		{ "public_key=" K2 "\nendpoint=[::1:7", "line 2: endpoint: not ADDRESS:PORT or [ADDRESS]:PORT" },
		{ "public_key=" K2 "\nendpoint=host.example:7", "line 2: endpoint: not ADDRESS:PORT or [ADDRESS]:PORT" },
		{ "public_key=" K2 "\nallowed_ip=10.0.0.0/33", "line 2: allowed_ip: not ADDRESS/CIDR" },
		{ "public_key=" K2 "\nallowed_ip=10.0.0.0", "line 2: allowed_ip: not ADDRESS/CIDR" },
		{ "public_key=" K2 "\nallowed_ip=fd00::/129", "line 2: allowed_ip: not ADDRESS/CIDR" },
		{ "public_key=" K2 "\nprotocol_version=2", "line 2: protocol_version: only 1 is supported" },
		{ "public_key=" K2 "\npersistent_keepalive_interval=70000",
		  "line 2: persistent_keepalive_interval: not 0-65535" },
		{ "public_key=" K2 "\nremove=yes", "line 2: remove: only 'true' is valid" },
		/* key material where it does not belong is never echoed */
		{ "public_key=" K2 "\n" K1, "line 2: no '=' in the line" },
		{ "listen_port=1\n" K1 "=1", "line 2: unknown device key" },
		{ "public_key=" K2 "\nendpoint=1.2.3.4:5\n" K1 "=" K1, "line 3: unknown peer key" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct wgconfig s = { 0 };
		char err[256] = "";
		int rc = uapi_parse_set(&s, cases[i].body, strlen(cases[i].body), err, sizeof err);
		T_CHECK(rc == -EINVAL, "malformed %zu is refused with -EINVAL", i);
		T_STREQ(err, cases[i].err, "malformed %zu message", i);
		wgconfig_free(&s);
	}
}

static void get_output(void)
{
	struct uapi_buf b = { 0 };
	uint8_t priv[32], zero[32] = { 0 };
	struct uapi_peer_info p = { 0 };
	wgkey_from_hex(priv, K1, 64);
	wgkey_from_hex(p.public_key, K2, 64);
	uapi_parse_endpoint(&p.endpoint, "192.0.2.7:51820", 15);
	p.has_endpoint = true;
	p.last_handshake_sec = 1700000000;
	p.last_handshake_nsec = 123456789;
	p.tx_bytes = 1024;
	p.rx_bytes = 2048;
	p.keepalive = 25;
	uapi_format_device(&b, priv, 51820, 0);
	uapi_format_peer(&b, &p);
	uint8_t a4[4] = { 10, 0, 0, 0 }, a6[16] = { 0xfd };
	uapi_format_allowed_ip(&b, AF_INET, a4, 8);
	uapi_format_allowed_ip(&b, AF_INET6, a6, 64);
	uapi_format_errno(&b, 0);
	uapi_buf_printf(&b, "%c", 0);
	T_STREQ(b.data,
		"private_key=" K1 "\nlisten_port=51820\n"
		"public_key=" K2 "\npreshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
		"protocol_version=1\nendpoint=192.0.2.7:51820\n"
		"last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=123456789\n"
		"tx_bytes=1024\nrx_bytes=2048\npersistent_keepalive_interval=25\n"
		"allowed_ip=10.0.0.0/8\nallowed_ip=fd00::/64\nerrno=0\n\n",
		"get reply for one peer matches wireguard-go's layout exactly");
	uapi_buf_free(&b);
	uapi_format_device(&b, zero, 0, 7);
	uapi_format_errno(&b, EINVAL);
	uapi_buf_printf(&b, "%c", 0);
	T_STREQ(b.data, "fwmark=7\nerrno=-22\n\n", "no key, no port, fwmark, errno=-22");
	uapi_buf_free(&b);

	char ep[64];
	union wg_sockaddr sa;
	T_CHECK(uapi_parse_endpoint(&sa, "[2001:db8::1]:65535", 19) == 0, "IPv6 endpoint parses");
	uapi_format_endpoint(ep, sizeof ep, &sa);
	T_STREQ(ep, "[2001:db8::1]:65535", "IPv6 endpoint round-trips");
}

int main(void)
{
	frames();
	valid_set();
	malformed_set();
	get_output();
	T_DONE();
}
