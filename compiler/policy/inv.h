/* inv: the inventory: users and nodes, as the coordinator knows them.
 *
 * Built one of two ways, with the same checks:
 *  - read from JSON (`--nodes FILE`, inv_read):
 *      {"users": [{"name", "email", "role", "groups"}],
 *       "nodes": [{"name", "user", "tags", "ipv4", "ipv6",
 *                  "advertised_routes", "approved_routes", "created", "shared"}],
 *       "services": [{"name": "svc:NAME", "ipv4", "ipv6", "hosts": [node names]}]}
 *    A node may carry device posture "attributes": {"node:os": "linux",
 *    "node:osVersion": "6.1", "custom:NAME": 3, ...}, strings, numbers or
 *    booleans keyed NAMESPACE:NAME (postures judge them, pol.h).
 *    `user` is a user's name, or null for a tagged node; `role` one of
 *    role.h's names (default "member"); `groups` the synced groups
 *    ("group:NAME@DOMAIN") the identity provider puts the user in; `shared` true for a device shared
 *    into the tailnet from outside it (autogroup:shared).  Errors are located
 *    (file:line:col), as a policy's are;
 *  - filled by a program (the coordinator, from its database) through the
 *    builders below, then inv_finish().
 *
 * Nodes are kept in registration order, oldest first: by "created" (an RFC
 * 3339 UTC time, "2026-04-10T21:06:42.83Z") when every node has one, else in
 * the order they were added.  Of several nodes serving one route, the
 * oldest is its primary. */
#ifndef INV_H
#define INV_H
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "hj.h"
#include "addr.h"

struct inv_user {
	char *name, *email;
	int role;                 /* enum role_kind */
	char **groups;            /* synced groups, "group:NAME@DOMAIN" */
	size_t ngroups;
};

struct inv_prefix {
	uint8_t family;
	addr_u128 lo, hi;
	char *text;
	bool primary;             /* approved, and its elected primary (a coordinator's election) */
};

/* A device posture attribute: "node:os" = "linux", "custom:score" = 80. */
enum inv_attr_kind { INV_ATTR_STR, INV_ATTR_NUM, INV_ATTR_BOOL };

struct inv_attr {
	char *key;                /* "NAMESPACE:NAME" */
	enum inv_attr_kind kind;
	char *str;                /* INV_ATTR_STR */
	double num;               /* INV_ATTR_NUM */
	bool b;                   /* INV_ATTR_BOOL */
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
	size_t added;             /* order of addition (file order), 0-based */
	bool shared;              /* shared into the tailnet from outside it */
	struct inv_attr *attrs;   /* posture attributes, keys unique */
	size_t nattrs;
};

/* A Tailscale Service: its own addresses (VIPs), served by the nodes
 * hosting it.  Host names are resolved when asked (inv_service_hosts),
 * after inv_finish. */
struct inv_service {
	char *name;               /* "svc:NAME" */
	bool has_v4, has_v6;
	addr_u128 v4, v6;
	char **hosts;             /* node names */
	size_t nhosts;
};

struct inv_index;

struct inv {
	struct inv_user *users;
	size_t nusers;
	struct inv_node *nodes;
	size_t nnodes;
	struct inv_service *services;
	size_t nservices, capservices;
	struct inv_index *index;  /* private: users and nodes by name */
};

/* Read the JSON inventory held in SRC (HuJSON's reader: comments and
 * trailing commas pass).  NULL with every error located in DIAGS. */
struct inv *inv_read(const struct diag_src *src, struct diag_list *diags);
/* The same from a parsed object holding "users" and "nodes" (other
 * members are ignored).  Errors point into the tree's source. */
struct inv *inv_from_tree(const struct hj_value *obj, struct diag_list *diags);
void inv_free(struct inv *inv);

/* Builders.  Each returns an index or 0 on success, or -errno: -EINVAL for
 * a value out of shape, -EEXIST for a name taken, -ENOMEM.  Node indexes
 * hold until inv_finish(). */
struct inv *inv_new(void);
/* EMAIL may be NULL. */
int inv_add_user(struct inv *inv, const char *name, const char *email);
/* The user's role by name (role.h); -EINVAL for an unknown one. */
int inv_user_set_role(struct inv *inv, size_t user, const char *role);
/* The user is in synced group GROUP ("group:NAME@DOMAIN"). */
int inv_user_add_group(struct inv *inv, size_t user, const char *group);
/* USER: an index from inv_add_user, or -1 (a tagged node). */
int inv_add_node(struct inv *inv, const char *name, int user);
/* "tag:NAME". */
int inv_node_add_tag(struct inv *inv, size_t node, const char *tag);
/* The node's address in FAMILY (ADDR_V4 or ADDR_V6), as text. */
int inv_node_set_addr(struct inv *inv, size_t node, enum addr_family family, const char *text);
enum inv_routes { INV_ADVERTISED, INV_APPROVED };
/* A route advertised or approved: a prefix, "10.0.0.0/8" (host bits zero). */
int inv_node_add_route(struct inv *inv, size_t node, enum inv_routes which, const char *prefix);
/* The node's approved PREFIX is its elected primary: routes_compute puts
 * the node first among the route's servers whatever its registration
 * order.  0, or -ENOENT when PREFIX is not approved for it. */
int inv_node_set_route_primary(struct inv *inv, size_t node, const char *prefix);
/* The node is shared into the tailnet from outside it. */
int inv_node_set_shared(struct inv *inv, size_t node, bool shared);
/* Posture attribute A (its key and text are copied) on the node, replacing
 * one of the same key; -EINVAL for a key not NAMESPACE:NAME (inv_attr.c). */
int inv_node_set_attr(struct inv *inv, size_t node, const struct inv_attr *a);
/* Is KEY an attribute key, "NAMESPACE:NAME" (letters, digits, '_', '-', '.')? */
bool inv_attr_key_valid(const char *key);
/* A's kind and value from tree value V (a string, number or boolean; the
 * string is V's, not copied); false for any other value. */
bool inv_attr_from_value(const struct hj_value *v, struct inv_attr *a);
/* Node N's attribute KEY, or NULL when it has none. */
const struct inv_attr *inv_node_attr(const struct inv_node *n, const char *key);
/* When the node registered: an RFC 3339 UTC time. */
int inv_node_set_created(struct inv *inv, size_t node, const char *time);
/* After the last builder call: check every node is complete (an owner and
 * an address; the errors, unlocated, name the node), that no two nodes
 * share an address, and put the nodes in registration order.  0, or -EINVAL with the reasons in DIAGS. */
int inv_finish(struct inv *inv, struct diag_list *diags);
/* The same, with a location for each node's address (LOCS[0] IPv4,
 * LOCS[1] IPv6, by order of addition; NULL entries: unlocated) for the
 * error saying two nodes have the same address. */
int inv_finish_located(struct inv *inv, const struct diag_loc *const locs[2], struct diag_list *diags);

/* Services (inv_service.c).  NAME "svc:NAME" (lowercase letters, digits,
 * '-'): an index, -EEXIST for a name taken, -EINVAL. */
int inv_add_service(struct inv *inv, const char *name);
int inv_service_set_addr(struct inv *inv, size_t svc, enum addr_family family, const char *text);
/* NODE: a node's name (checked by inv_service_check). */
int inv_service_add_host(struct inv *inv, size_t svc, const char *node);
/* After inv_finish: every service has an address and names known nodes.
 * 0, or -EINVAL with the reasons (unlocated) in DIAGS. */
int inv_service_check(const struct inv *inv, struct diag_list *diags);
int inv_service_by_name(const struct inv *inv, const char *name);
/* Is NAME a service name, "svc:" and a DNS label? */
bool inv_service_name_valid(const char *name);
void inv_services_free(struct inv *inv);

/* Is text S free of control characters (polname.h)?  Every builder
 * refuses names that are not (-EINVAL): a name is written into nft input
 * and logs. */
bool inv_text_clean(const char *s);

/* Is N complete: owned (a user or a tag), addressed (IPv4 or IPv6)? */
bool inv_node_owned(const struct inv_node *n);
bool inv_node_addressed(const struct inv_node *n);

/* Lookups: index or -1. */
int inv_user_by_email(const struct inv *inv, const char *email);
int inv_user_by_name(const struct inv *inv, const char *name);
int inv_node_by_name(const struct inv *inv, const char *name);
/* Add N's own addresses (IPv4 and IPv6, those it has) to OUT.  0 or -errno. */
int inv_node_addrs(const struct inv_node *n, struct addr_set *out);
bool inv_node_tagged(const struct inv_node *n);
/* Does N hold an address in SET? */
bool inv_node_within(const struct inv_node *n, const struct addr_set *set);
bool inv_user_in_group(const struct inv_user *u, const char *group);
bool inv_node_has_tag(const struct inv_node *n, const char *tag);
/* Is the prefix an exit route (0.0.0.0/0 or ::/0)? */
bool inv_prefix_is_exit(const struct inv_prefix *p);

#endif
