/* store_backend: what a backend implements.  store.c checks the arguments
 * every backend would check alike, then calls through the ops table; a
 * backend embeds struct store first in its own state. */
#ifndef STORE_BACKEND_H
#define STORE_BACKEND_H
#include "store.h"

/* The schema every backend's migrations reach. */
#define STORE_SCHEMA_VERSION 2

struct store_ops {
	void (*close)(struct store *s);
	int64_t (*schema_version)(struct store *s);
	int (*generation)(struct store *s, int64_t *gen);
	int (*changes_since)(struct store *s, int64_t since, unsigned *kinds, store_change_fn *fn, void *arg);
	int (*changes_forget)(struct store *s, int64_t upto);
	int (*read_begin)(struct store *s, int64_t *gen);
	int (*read_end)(struct store *s);

	int (*user_add)(struct store *s, const char *name, const char *email, enum store_role role, int64_t now,
			int64_t *id);
	int (*user_remove)(struct store *s, int64_t id);
	int (*user_by_name)(struct store *s, const char *name, int64_t *id);
	int (*users_each)(struct store *s, store_user_fn *fn, void *arg);

	/* HASH is the hash of the secret store.c made. */
	int (*authkey_create)(struct store *s, const struct store_authkey_spec *spec, int64_t now,
			      const uint8_t hash[STORE_KEY_LEN], int64_t *id);
	int (*authkey_revoke)(struct store *s, int64_t id);
	int (*authkeys_each)(struct store *s, store_authkey_fn *fn, void *arg);

	/* HASH is the hash of the presented secret, to be compared in constant
	 * time with the stored one. */
	int (*node_register)(struct store *s, const struct store_registration *reg, const uint8_t hash[STORE_KEY_LEN],
			     int64_t now, int64_t *node_id);
	int (*node_set_endpoints)(struct store *s, int64_t id, const struct store_list *endpoints, int64_t now);
	int (*node_set_wg_key)(struct store *s, int64_t id, const uint8_t wg_key[STORE_KEY_LEN], int64_t now);
	int (*node_seen)(struct store *s, int64_t id, int64_t now);
	int (*node_expire)(struct store *s, int64_t id);
	int (*node_remove)(struct store *s, int64_t id);
	int (*nodes_each)(struct store *s, store_node_fn *fn, void *arg);
	/* Finds by ID when non-zero, else by NAME when set, else by MACHINE_KEY. */
	int (*node_find)(struct store *s, int64_t id, const char *name, const uint8_t *machine_key,
			 store_node_fn *fn, void *arg);

	int (*routes_advertise)(struct store *s, int64_t node_id, const struct store_list *prefixes, int64_t now);
	/* BY is a user or 0 with AUTO_APPROVER set. */
	int (*route_decide)(struct store *s, int64_t node_id, const char *prefix, enum store_route_state state,
			    int64_t by, const char *auto_approver, int64_t now);
	int (*routes_each)(struct store *s, store_route_fn *fn, void *arg);
	int (*route_set_primary)(struct store *s, const char *prefix, int64_t node_id, int64_t now);

	int (*policy_set)(struct store *s, const char *text, int64_t by, int64_t if_version, int64_t now,
			  int64_t *version);
	int (*policy_get)(struct store *s, int64_t version, store_policy_fn *fn, void *arg);
	int (*policy_history)(struct store *s, store_policy_fn *fn, void *arg);

	/* Without REPLACE, an existing NAME is -EEXIST. */
	int (*setting_set)(struct store *s, const char *name, const char *value, bool replace);
	int (*setting_get)(struct store *s, const char *name, char *value, size_t len);

	/* Only a backend shared by several coordinators has these (NULL:
	 * store.c answers for a store that is its coordinator's alone). */
	int (*watch)(struct store *s, int *fd);
	int (*watch_read)(struct store *s, int64_t *gen);
	int (*job_lock)(struct store *s, int64_t job);
};

struct store {
	const struct store_ops *ops;
};

int store_sqlite_open(const char *path, struct store **out, char *err, size_t errlen);
int store_pg_open(const char *location, struct store **out, char *err, size_t errlen);

#endif
