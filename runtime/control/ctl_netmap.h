/* ctl_netmap: what one node needs to know, as typed C data; its JSON form;
 * and deltas between two netmaps.  Pure functions, no I/O.
 *
 * Peers are kept sorted by their stable id, ids unique (decoding sorts and
 * refuses duplicates), so two equal netmaps have one canonical encoding
 * (ctl_netmap_encode).  A delta carries the peers added or changed (whole)
 * and the ids removed, and the self part, routes, filter and snat flag only
 * when they changed (routes are compared whole: "resent when their hash
 * changes").  The filter changes as a patch when only rules' sources
 * changed (below), else whole.  ctl_netmap_apply(old,
 * ctl_netmap_delta(old, new)) equals new. */
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
#define CTL_MAX_PATCH      65536	/* rules and source edits in a filter patch */
#define CTL_MAX_SRCS       (1u << 20)	/* entries of one rule's SrcIPs */
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

/* A filter patch (issue 11): at 10,000 peers a relay's filter is one rule
 * whose SrcIPs lists every peer, and a peer joining changed the whole
 * text; sent whole, every node parsed and rebuilt all of it.  When the old
 * and new filters have the same rules in the same order, each with the
 * same members in the same order, and differ only in their SrcIPs arrays
 * (entries plain strings, none repeated, the entries both keep in the same
 * order), the delta says, per rule that changed, which entries went
 * (their index in the old array, and the text as a check) and which came
 * (their index in the new one).  JSON, in place of "filter":
 *   "filter_patch": [{"rule": 0, "del": [{"at": 3, "src": "100.64.0.4"}],
 *                     "add": [{"at": 7, "src": "100.64.0.9"}]}]
 * rules and indexes strictly rising.  Applying splices the old text:
 * one array's entries are copied, the rest of the filter is not parsed. */
struct ctl_src_edit {
	uint32_t at;
	char *src;
};

struct ctl_filter_patch {
	uint32_t rule;			/* index in the filter */
	struct ctl_src_edit *del;	/* indexes in the old SrcIPs */
	size_t n_del;
	struct ctl_src_edit *add;	/* indexes in the new SrcIPs */
	size_t n_add;
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
	struct ctl_filter_patch *patch;	/* rules rising; never with has_filter */
	size_t n_patch;
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

/* The patch turning filter text OLD into NEW: 0 with *OUT (*N rules,
 * none when equal), 1 when no patch says it (send the filter whole),
 * -ENOMEM. */
int ctl_filter_diff(const char *old, const char *new_, struct ctl_filter_patch **out, size_t *n);
/* *OUT = OLD with V applied.  -EINVAL when V does not fit OLD (a rule or
 * index out of range, a deleted entry that is not there), -ENOMEM. */
int ctl_filter_patch_apply(const char *old, const struct ctl_filter_patch *v, size_t n, char **out);
void ctl_filter_patch_free(struct ctl_filter_patch *v, size_t n);
bool ctl_filter_patch_add_json(cJSON *obj, const struct ctl_filter_patch *v, size_t n);
int ctl_filter_patch_from_json(const cJSON *obj, struct ctl_filter_patch **out, size_t *n, bool *present,
			       struct ctl_err *err);
/* Nothing changes. */
bool ctl_delta_empty(const struct ctl_delta *d);

/* D = the change from OLD to NEW (NEW->generation and OLD->generation
 * recorded).  0 or -ENOMEM. */
int ctl_netmap_delta(const struct ctl_netmap *old, const struct ctl_netmap *new_map, struct ctl_delta *d);
/* OUT = OLD with D applied.  -ESTALE when D does not start from OLD's
 * generation, -EINVAL when it removes a peer OLD does not have. */
int ctl_netmap_apply(const struct ctl_netmap *old, const struct ctl_delta *d, struct ctl_netmap *out);

#endif
