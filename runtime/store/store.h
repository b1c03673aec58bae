/* store: the coordinator's state (users, nodes, auth keys, routes, the policy
 * with its history, settings) behind one interface.  Every operation is a
 * function over an opaque struct store that dispatches through its backend's
 * ops table (store_backend.h); SQLite is the embedded backend, PostgreSQL
 * (libpq) lets several coordinators share one database; both pass the same
 * tests.
 *
 * Conventions: actions return 0 or -errno; every change is one transaction
 * and bumps the store-wide generation; times are Unix seconds passed in by the
 * caller (NOW), so the store never reads a clock.  Readers hand each object to
 * a callback; the pointers it holds live only for that call, and a callback
 * must not call back into the store.  A callback's non-zero return stops the
 * iteration and is returned. */
#ifndef STORE_H
#define STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_KEY_LEN    32	/* machine, WireGuard and auth key secrets */
#define STORE_NAME_MAX   63	/* user and node names, one DNS label */
#define STORE_TEXT_MAX   255	/* emails, hostnames, tags, endpoints, prefixes */
#define STORE_LIST_MAX   64	/* tags or endpoints of one object */

struct store;

/* What a change touched; store_changes_since reports these. */
enum store_kind {
	STORE_KIND_USER = 1,
	STORE_KIND_NODE = 2,
	STORE_KIND_AUTHKEY = 4,
	STORE_KIND_ROUTE = 8,
	STORE_KIND_POLICY = 16,
	STORE_KIND_SETTING = 32,
};

enum store_role { STORE_ROLE_OWNER, STORE_ROLE_ADMIN, STORE_ROLE_MEMBER };
/* "owner", "admin", "member": the names the policy's role autogroups use. */
const char *store_role_name(enum store_role role);

struct store_user {
	int64_t id;
	const char *name, *email;
	enum store_role role;
	int64_t created;
};

/* A list of short strings (tags, endpoints). */
struct store_list {
	const char *const *items;
	size_t n;
};

struct store_node {
	int64_t id;			/* stable, never reused */
	const char *name;		/* unique */
	int64_t user_id;		/* owner, 0 for a tagged node */
	struct store_list tags;		/* owner's tags when user_id is 0 */
	uint8_t machine_key[STORE_KEY_LEN];	/* unique: the control identity */
	uint8_t wg_key[STORE_KEY_LEN];
	uint8_t ipv4[4], ipv6[16];
	struct store_list endpoints;	/* "ip:port", "[ip6]:port" */
	const char *hostname;
	int64_t authkey_id;		/* the key it registered with */
	int64_t key_expiry;		/* 0: never */
	int64_t last_seen, created;
	bool expired;
};

struct store_authkey {
	int64_t id;
	int64_t user_id;		/* 0 for a tagged key */
	struct store_list tags;
	bool reusable, revoked;
	int64_t expiry;			/* a key is refused from this time on */
	int64_t uses, created;
};

enum store_route_state { STORE_ROUTE_PENDING, STORE_ROUTE_APPROVED, STORE_ROUTE_REJECTED };

struct store_route {
	int64_t node_id;
	const char *prefix;		/* canonical text, e.g. "10.0.0.0/8" */
	bool advertised;		/* the node still advertises it */
	int64_t advertised_at;
	enum store_route_state state;
	int64_t decided_by;		/* user who approved or rejected; 0 otherwise */
	const char *auto_approver;	/* the autoApprovers line that approved it, or NULL */
	int64_t decided_at;
	int64_t primary_since;		/* elected its prefix's primary then; 0: not primary */
};

struct store_policy {
	int64_t version;		/* 1, 2, ...; 0: no policy yet */
	const char *text;
	int64_t set_by;			/* user id, 0 for the coordinator itself */
	int64_t set_at;
};

/* Opening: LOCATION is a file path or "sqlite:PATH" (SQLite), or a libpq
 * connection URI, "postgresql://..." or "postgres://..." (PostgreSQL; the
 * database must exist).  A new database is created and migrated; an
 * older one is migrated; one written by a newer keygate is refused with
 * -EPROTONOSUPPORT.  On failure a sentence saying why is left in ERR. */
int store_open(const char *location, struct store **out, char *err, size_t errlen);
void store_close(struct store *s);
int64_t store_schema_version(struct store *s);
/* The schema version this build writes. */
int64_t store_schema_latest(void);

/* The generation: bumped once by every committed change. */
int store_generation(struct store *s, int64_t *gen);
/* Each change after generation SINCE, oldest first: its generation, what it
 * touched and the object's id (user, node, auth key, node of a route, policy
 * version; 0 for settings).  *KINDS gets the union.  -ERANGE when changes
 * after SINCE have been forgotten: the caller must start from a full read. */
typedef int store_change_fn(int64_t gen, enum store_kind kind, int64_t id, void *arg);
int store_changes_since(struct store *s, int64_t since, unsigned *kinds, store_change_fn *fn, void *arg);
/* Forgets the record of changes up to and including generation UPTO. */
int store_changes_forget(struct store *s, int64_t upto);

/* A consistent snapshot across several reads: every read between begin and
 * end sees the same state, which *GEN names.  No change may be made on this
 * store between the two. */
int store_read_begin(struct store *s, int64_t *gen);
int store_read_end(struct store *s);

/* Users.  -EEXIST: name taken; -ENOENT: no such user; -EBUSY: the user
 * still owns nodes or auth keys. */
int store_user_add(struct store *s, const char *name, const char *email, enum store_role role, int64_t now, int64_t *id);
int store_user_remove(struct store *s, int64_t id);
int store_user_by_name(struct store *s, const char *name, int64_t *id);
typedef int store_user_fn(const struct store_user *u, void *arg);
int store_users_each(struct store *s, store_user_fn *fn, void *arg);

/* Auth keys.  The store makes the secret, returns it once in SECRET and keeps
 * only its hash.  A key belongs to a user (USER_ID) or carries TAGS, never
 * both.  -EINVAL: neither or both, or an expiry not after NOW. */
struct store_authkey_spec {
	int64_t user_id;
	struct store_list tags;
	bool reusable;
	int64_t expiry;
};
int store_authkey_create(struct store *s, const struct store_authkey_spec *spec, int64_t now, int64_t *id,
			 uint8_t secret[STORE_KEY_LEN]);
int store_authkey_revoke(struct store *s, int64_t id);
typedef int store_authkey_fn(const struct store_authkey *k, void *arg);
int store_authkeys_each(struct store *s, store_authkey_fn *fn, void *arg);

/* Registration: consumes the auth key, creates the node owned as the key says
 * and allocates its tunnel addresses, in one transaction.  Refusals:
 * -ENOENT no such key or a wrong secret, -EKEYREVOKED, -EKEYEXPIRED,
 * -EKEYREJECTED a single-use key already used, -EEXIST the name or machine
 * key is taken, -ENOSPC no address left, -EINVAL a malformed request. */
struct store_registration {
	int64_t authkey_id;
	uint8_t secret[STORE_KEY_LEN];
	const char *name, *hostname;
	uint8_t machine_key[STORE_KEY_LEN], wg_key[STORE_KEY_LEN];
	struct store_list endpoints;
	int64_t key_expiry;
};
int store_register(struct store *s, const struct store_registration *reg, int64_t now, int64_t *node_id);

/* Node changes.  -ENOENT: no such node. */
int store_node_set_endpoints(struct store *s, int64_t id, const struct store_list *endpoints, int64_t now);
int store_node_set_wg_key(struct store *s, int64_t id, const uint8_t wg_key[STORE_KEY_LEN], int64_t now);
int store_node_seen(struct store *s, int64_t id, int64_t now);
int store_node_expire(struct store *s, int64_t id);
/* Removes the node and its routes; its addresses and auth key stay used. */
int store_node_remove(struct store *s, int64_t id);
typedef int store_node_fn(const struct store_node *n, void *arg);
/* Nodes in registration order. */
int store_nodes_each(struct store *s, store_node_fn *fn, void *arg);
int store_node_get(struct store *s, int64_t id, store_node_fn *fn, void *arg);
int store_node_by_name(struct store *s, const char *name, store_node_fn *fn, void *arg);
int store_node_by_machine_key(struct store *s, const uint8_t key[STORE_KEY_LEN], store_node_fn *fn, void *arg);

/* Routes.  Advertising sets the node's advertised prefixes to PREFIXES: new
 * ones are pending, ones no longer listed keep their decision but are no
 * longer advertised.  Deciding needs an advertised prefix (-ENOENT).  An
 * approval is a user's (BY) or an autoApprovers line's (AUTO_APPROVER). */
int store_routes_advertise(struct store *s, int64_t node_id, const struct store_list *prefixes, int64_t now);
int store_route_approve(struct store *s, int64_t node_id, const char *prefix, int64_t by, int64_t now);
int store_route_auto_approve(struct store *s, int64_t node_id, const char *prefix, const char *approver_line,
			     int64_t now);
int store_route_reject(struct store *s, int64_t node_id, const char *prefix, int64_t by, int64_t now);
/* The elected primary of PREFIX (issue 14): NODE_ID's route becomes it
 * (primary_since = NOW unless it already is), every other node's route of
 * PREFIX stops being it, in one transaction.  -ENOENT: NODE_ID does not
 * advertise PREFIX. */
int store_route_set_primary(struct store *s, const char *prefix, int64_t node_id, int64_t now);
typedef int store_route_fn(const struct store_route *r, void *arg);
/* Routes ordered by node, then prefix. */
int store_routes_each(struct store *s, store_route_fn *fn, void *arg);

/* The policy.  Setting it makes version live+1; IF_VERSION >= 0 refuses with
 * -ESTALE unless the live version is IF_VERSION (0: no policy yet), checked
 * in the same transaction.  VERSION 0 in store_policy_get means the live one
 * (-ENOENT when there is none). */
int store_policy_set(struct store *s, const char *text, int64_t by, int64_t if_version, int64_t now,
		     int64_t *version);
typedef int store_policy_fn(const struct store_policy *p, void *arg);
int store_policy_get(struct store *s, int64_t version, store_policy_fn *fn, void *arg);
/* Every version, oldest first. */
int store_policy_history(struct store *s, store_policy_fn *fn, void *arg);

/* Several coordinators on one database.  store_watch gives a descriptor
 * that becomes readable when a commit is announced (by any coordinator,
 * this one included); store_watch_read then consumes the announcements and
 * returns how many it read (0: none yet), raising *GEN to the newest
 * generation announced.  -ECONNRESET: the watch was lost and announcements
 * may have been missed: watch again and read the store whole.  A store that
 * is its coordinator's alone (SQLite) answers -EOPNOTSUPP.
 * store_job_lock: 1 when this store holds the lock named JOB (a job that
 * must run on one coordinator at a time, such as key expiry), 0 when
 * another coordinator holds it, or -errno; held until the store closes or
 * its connection is lost, and taken again by a later call.  A store that is
 * its coordinator's alone always holds it. */
bool store_shared(const struct store *s);	/* several coordinators may use it */
int store_watch(struct store *s, int *fd);
int store_watch_read(struct store *s, int64_t *gen);
int store_job_lock(struct store *s, int64_t job);

/* The coordinator's own settings: short named strings.  A missing name gives
 * -ENOENT; a value longer than LEN - 1 gives -ENAMETOOLONG. */
int store_setting_set(struct store *s, const char *name, const char *value);
/* Sets NAME only if it has no value yet (-EEXIST otherwise): of several
 * coordinators setting it at once, exactly one wins. */
int store_setting_add(struct store *s, const char *name, const char *value);
int store_setting_get(struct store *s, const char *name, char *value, size_t len);

#endif
