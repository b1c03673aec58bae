/* ctl_netmap: what one node needs to know, as typed C data; its JSON form;
 * and deltas between two netmaps.  Pure functions, no I/O.
 *
 * Peers are kept sorted by their stable id, ids unique (decoding sorts and
 * refuses duplicates), so two equal netmaps have one canonical encoding
 * (ctl_netmap_encode).  A delta carries the peers added or changed (whole)
 * and the ids removed, and the self part, routes, filter and snat flag only
 * when they changed (routes and filter are compared whole: "resent when
 * their hash changes").  ctl_netmap_apply(old, ctl_netmap_delta(old, new))
 * equals new. */
#ifndef CTL_NETMAP_H
#define CTL_NETMAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_json.h"

/* Caps: a decoder refuses anything larger. */
#define CTL_MAX_NAME       253		/* a DNS name */
#define CTL_MAX_PEERS      65536
#define CTL_MAX_ADDRESSES  16		/* tunnel addresses of one node */
#define CTL_MAX_PREFIXES   4096		/* allowed IPs, routes */
#define CTL_MAX_ENDPOINTS  16
#define CTL_MAX_FILTER     (8u << 20)	/* filter JSON text */
#define CTL_MAX_ID         9007199254740991ULL	/* 2^53 - 1: exact in JSON */

/* A route the peer serves as a backup of another peer, the primary
 * (issue 14): RANK 1 is the first to take over. */
struct ctl_backup_route {
	struct ctl_prefix prefix;
	uint32_t rank;
};

struct ctl_backup_routes {
	struct ctl_backup_route *v;
	size_t n;
};

struct ctl_peer {
	uint64_t id;			/* stable across netmaps */
	char *name;
	uint8_t wg_key[32];
	struct ctl_endpoints endpoints;
	struct ctl_prefixes addresses;	/* its tunnel addresses */
	struct ctl_prefixes allowed_ips;	/* addresses plus routes it serves to us */
	uint16_t keepalive;		/* seconds, 0 off */
	struct ctl_backup_routes backup_routes;	/* routes it carries if their primary fails */
};

struct ctl_self {
	uint64_t id;
	char *name;
	struct ctl_prefixes addresses;
};

struct ctl_netmap {
	uint64_t generation;
	struct ctl_self self;
	struct ctl_peer *peers;		/* sorted by id */
	size_t n_peers;
	struct ctl_prefixes routes;	/* to send into the tunnel */
	char *filter;			/* Tailscale FilterRule array, compact JSON */
	bool snat;			/* source-NAT forwarded traffic */
};

struct ctl_delta {
	uint64_t from_generation, generation;
	bool has_self;
	struct ctl_self self;
	struct ctl_peer *upsert;	/* added or changed, sorted by id */
	size_t n_upsert;
	uint64_t *removed;		/* sorted */
	size_t n_removed;
	bool has_routes;
	struct ctl_prefixes routes;
	bool has_filter;
	char *filter;
	bool has_snat;
	bool snat;
};

void ctl_netmap_free(struct ctl_netmap *m);
void ctl_delta_free(struct ctl_delta *d);
void ctl_peer_free(struct ctl_peer *p);
int ctl_peer_copy(struct ctl_peer *dst, const struct ctl_peer *src);
bool ctl_peer_equal(const struct ctl_peer *a, const struct ctl_peer *b);

/* JSON objects (the "netmap" and "delta" members of the messages).  The
 * decoders validate everything and fill ERR on refusal (-EINVAL). */
cJSON *ctl_netmap_to_json(const struct ctl_netmap *m);
int ctl_netmap_from_json(const cJSON *j, struct ctl_netmap *m, struct ctl_err *err);
cJSON *ctl_delta_to_json(const struct ctl_delta *d);
int ctl_delta_from_json(const cJSON *j, struct ctl_delta *d, struct ctl_err *err);
/* The canonical text of M (compact JSON); NULL when out of memory. */
char *ctl_netmap_encode(const struct ctl_netmap *m);
/* Check and canonicalise a FilterRule array text into *OUT (compact). */
int ctl_filter_canonical(const char *text, char **out);

/* D = the change from OLD to NEW (NEW->generation and OLD->generation
 * recorded).  0 or -ENOMEM. */
int ctl_netmap_delta(const struct ctl_netmap *old, const struct ctl_netmap *new_map, struct ctl_delta *d);
/* OUT = OLD with D applied.  -ESTALE when D does not start from OLD's
 * generation, -EINVAL when it removes a peer OLD does not have. */
int ctl_netmap_apply(const struct ctl_netmap *old, const struct ctl_delta *d, struct ctl_netmap *out);

#endif
