/* inv: the inventory (`--nodes FILE`): users and nodes, as the coordinator
 * knows them.  JSON:
 *   {"users": [{"name", "email"}],
 *    "nodes": [{"name", "user", "tags", "ipv4", "ipv6",
 *               "advertised_routes", "approved_routes", "created"}]}
 * `user` is a user's name, or null for a tagged node.  Nodes are kept in
 * registration order, oldest first: by "created" (an RFC 3339 UTC time,
 * "2026-04-10T21:06:42.83Z") when every node has one, else in file order.
 * Of several nodes serving one route, the oldest is its primary. */
#ifndef INV_H
#define INV_H
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "addr.h"

struct cJSON;

struct inv_user {
	char *name, *email;
};

struct inv_prefix {
	uint8_t family;
	addr_u128 lo, hi;
	char *text;
};

struct inv_node {
	char *name;
	int user;                 /* index into users, -1: none */
	char **tags;
	size_t ntags;
	bool has_v4, has_v6;
	addr_u128 v4, v6;
	struct inv_prefix *advertised, *approved;
	size_t nadvertised, napproved;
	char *created;            /* NULL when not given */
	size_t file_index;        /* position in the file, 0-based */
};

struct inv {
	struct inv_user *users;
	size_t nusers;
	struct inv_node *nodes;
	size_t nnodes;
};

/* Read PATH.  NULL with the errors (file, which node, what) in DIAGS.
 * *SRCP receives the loaded file, which the records point at: the caller
 * frees it (diag_src_free) after printing them, success or not. */
struct inv *inv_load(const char *path, struct diag_src **srcp, struct diag_list *diags);
/* Build from parsed JSON (USERS and NODES arrays); errors name SRC. */
struct inv *inv_from_json(const struct diag_src *src, const struct cJSON *users,
			  const struct cJSON *nodes, struct diag_list *diags);
void inv_free(struct inv *inv);

/* Lookups: index or -1. */
int inv_user_by_email(const struct inv *inv, const char *email);
int inv_user_by_name(const struct inv *inv, const char *name);
/* Add N's own addresses (IPv4 and IPv6, those it has) to OUT.  0 or -errno. */
int inv_node_addrs(const struct inv_node *n, struct addr_set *out);
bool inv_node_tagged(const struct inv_node *n);
bool inv_node_has_tag(const struct inv_node *n, const char *tag);
/* Is the prefix an exit route (0.0.0.0/0 or ::/0)? */
bool inv_prefix_is_exit(const struct inv_prefix *p);

#endif
