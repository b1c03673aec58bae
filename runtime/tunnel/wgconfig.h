/* wgconfig: a device's configuration as plain data, what one `set`
 * changes: the interface's private key, listen port and fwmark, and peers
 * to add, update or remove.  The userspace API parses its text into one
 * (uapi_parse_set); a program builds one directly and hands it to
 * wgdev_configure.  Fields without a has_ flag are always applied. */
#ifndef WGCONFIG_H
#define WGCONFIG_H
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wgkey.h"

union wg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct wgconfig_allowed_ip {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t cidr;
};

struct wgconfig_peer {
	uint8_t public_key[WGKEY_LEN];
	bool remove;			/* remove the peer; the rest is ignored */
	bool update_only;		/* change the peer only if it exists */
	bool replace_allowed_ips;	/* drop its allowed IPs before adding these */
	bool has_psk, has_endpoint, has_keepalive;
	uint8_t psk[WGKEY_LEN];		/* all zero: none */
	union wg_sockaddr endpoint;
	uint16_t keepalive;		/* persistent keepalive, seconds, 0: off */
	size_t n_allowed, cap_allowed;
	struct wgconfig_allowed_ip *allowed;	/* added to the peer's */
};

struct wgconfig {
	bool has_private_key, has_listen_port, has_fwmark;
	bool replace_peers;		/* remove every peer before adding these */
	uint8_t private_key[WGKEY_LEN];	/* all zero: no identity */
	uint16_t listen_port;		/* 0: any free port */
	uint32_t fwmark;
	size_t n_peers, cap_peers;
	struct wgconfig_peer *peers;	/* applied in order */
};

/* A new zeroed peer entry with PUBLIC_KEY at the end of CFG (a zeroed
 * struct to start), or NULL on out-of-memory.  The pointer is valid until
 * the next wgconfig_add_peer. */
struct wgconfig_peer *wgconfig_add_peer(struct wgconfig *cfg, const uint8_t *public_key);
/* Append ADDR/CIDR to the peer's allowed IPs: 0, -EINVAL (a family other
 * than AF_INET or AF_INET6, a CIDR too long for it) or -ENOMEM. */
int wgconfig_add_allowed_ip(struct wgconfig_peer *peer, int family, const void *addr, uint8_t cidr);
/* Releases and wipes (keys) everything CFG holds; CFG is zeroed. */
void wgconfig_free(struct wgconfig *cfg);

#endif
