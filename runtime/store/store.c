/* store: argument checks shared by every backend, then dispatch through the
 * backend's ops table. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store.h"
#include "store_backend.h"

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

int store_open(const char *location, struct store **out, char *err, size_t errlen)
{
	*out = NULL;
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return -EIO;
	}
	if (has_prefix(location, "postgresql://") || has_prefix(location, "postgres://"))
		return store_pg_open(location, out, err, errlen);
	if (has_prefix(location, "sqlite:"))
		location += strlen("sqlite:");
	return store_sqlite_open(location, out, err, errlen);
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

int64_t store_schema_version(struct store *s)
{
	return s->ops->schema_version(s);
}

int64_t store_schema_latest(void)
{
	return STORE_SCHEMA_VERSION;
}

/* Text the backends store as is: printable, no spaces or commas (lists are
 * kept comma-separated), 1 to MAX bytes. */
static bool word_ok(const char *w, size_t max)
{
	size_t len;

	if (!w)
		return false;
	len = strlen(w);
	if (len == 0 || len > max)
		return false;
	for (const char *p = w; *p; p++)
		if (*p <= ' ' || *p == ',' || *p == 0x7f)
			return false;
	return true;
}

/* A node name is one DNS label: lower-case letters, digits, inner hyphens. */
static bool label_ok(const char *name)
{
	size_t len;

	if (!word_ok(name, STORE_NAME_MAX))
		return false;
	len = strlen(name);
	if (name[0] == '-' || name[len - 1] == '-')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

static bool list_ok(const struct store_list *l, const char *prefix)
{
	if (l->n > STORE_LIST_MAX || (l->n && !l->items))
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (!word_ok(l->items[i], STORE_TEXT_MAX) ||
		    (prefix && strncmp(l->items[i], prefix, strlen(prefix))))
			return false;
	return true;
}

/* ADDR/BITS with an address of either family and BITS within its length. */
static bool prefix_ok(const char *prefix)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned char buf[16];
	const char *slash;
	char *end;
	long bits;
	int af;

	if (!word_ok(prefix, STORE_TEXT_MAX) || !(slash = strchr(prefix, '/')) ||
	    (size_t)(slash - prefix) >= sizeof(addr))
		return false;
	memcpy(addr, prefix, slash - prefix);
	addr[slash - prefix] = '\0';
	af = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(af, addr, buf) != 1)
		return false;
	errno = 0;
	bits = strtol(slash + 1, &end, 10);
	return slash[1] && !*end && !errno && bits >= 0 && bits <= (af == AF_INET ? 32 : 128);
}

static bool prefixes_ok(const struct store_list *l)
{
	if (l->n > STORE_LIST_MAX || (l->n && !l->items))
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (!prefix_ok(l->items[i]))
			return false;
	return true;
}

static void secret_hash(uint8_t hash[STORE_KEY_LEN], const uint8_t secret[STORE_KEY_LEN])
{
	crypto_generichash(hash, STORE_KEY_LEN, secret, STORE_KEY_LEN, NULL, 0);
}

int store_generation(struct store *s, int64_t *gen)
{
	return s->ops->generation(s, gen);
}

int store_changes_since(struct store *s, int64_t since, unsigned *kinds, store_change_fn *fn, void *arg)
{
	return s->ops->changes_since(s, since, kinds, fn, arg);
}

int store_changes_forget(struct store *s, int64_t upto)
{
	return s->ops->changes_forget(s, upto);
}

int store_read_begin(struct store *s, int64_t *gen)
{
	return s->ops->read_begin(s, gen);
}

int store_read_end(struct store *s)
{
	return s->ops->read_end(s);
}

int store_user_add(struct store *s, const char *name, const char *email, enum store_role role, int64_t now, int64_t *id)
{
	if (!word_ok(name, STORE_TEXT_MAX) || !word_ok(email, STORE_TEXT_MAX) ||
	    role < STORE_ROLE_OWNER || role > STORE_ROLE_MEMBER)
		return -EINVAL;
	return s->ops->user_add(s, name, email, role, now, id);
}

int store_user_remove(struct store *s, int64_t id)
{
	return s->ops->user_remove(s, id);
}

int store_user_by_name(struct store *s, const char *name, int64_t *id)
{
	if (!word_ok(name, STORE_TEXT_MAX))
		return -EINVAL;
	return s->ops->user_by_name(s, name, id);
}

int store_users_each(struct store *s, store_user_fn *fn, void *arg)
{
	return s->ops->users_each(s, fn, arg);
}

int store_authkey_create(struct store *s, const struct store_authkey_spec *spec, int64_t now, int64_t *id,
			 uint8_t secret[STORE_KEY_LEN])
{
	uint8_t hash[STORE_KEY_LEN];
	int rc;

	if ((spec->user_id != 0) == (spec->tags.n != 0) || !list_ok(&spec->tags, "tag:") || spec->expiry <= now)
		return -EINVAL;
	randombytes_buf(secret, STORE_KEY_LEN);
	secret_hash(hash, secret);
	rc = s->ops->authkey_create(s, spec, now, hash, id);
	if (rc < 0)
		sodium_memzero(secret, STORE_KEY_LEN);
	sodium_memzero(hash, sizeof(hash));
	return rc;
}

int store_authkey_revoke(struct store *s, int64_t id)
{
	return s->ops->authkey_revoke(s, id);
}

int store_authkeys_each(struct store *s, store_authkey_fn *fn, void *arg)
{
	return s->ops->authkeys_each(s, fn, arg);
}

int store_register(struct store *s, const struct store_registration *reg, int64_t now, int64_t *node_id)
{
	uint8_t hash[STORE_KEY_LEN];
	int rc;

	if (!label_ok(reg->name) || (reg->hostname && strlen(reg->hostname) > STORE_TEXT_MAX) ||
	    !list_ok(&reg->endpoints, NULL))
		return -EINVAL;
	secret_hash(hash, reg->secret);
	rc = s->ops->node_register(s, reg, hash, now, node_id);
	sodium_memzero(hash, sizeof(hash));
	return rc;
}

int store_node_set_endpoints(struct store *s, int64_t id, const struct store_list *endpoints, int64_t now)
{
	if (!list_ok(endpoints, NULL))
		return -EINVAL;
	return s->ops->node_set_endpoints(s, id, endpoints, now);
}

int store_node_set_wg_key(struct store *s, int64_t id, const uint8_t wg_key[STORE_KEY_LEN], int64_t now)
{
	return s->ops->node_set_wg_key(s, id, wg_key, now);
}

int store_node_seen(struct store *s, int64_t id, int64_t now)
{
	return s->ops->node_seen(s, id, now);
}

int store_node_expire(struct store *s, int64_t id)
{
	return s->ops->node_expire(s, id);
}

int store_node_remove(struct store *s, int64_t id)
{
	return s->ops->node_remove(s, id);
}

int store_nodes_each(struct store *s, store_node_fn *fn, void *arg)
{
	return s->ops->nodes_each(s, fn, arg);
}

int store_node_get(struct store *s, int64_t id, store_node_fn *fn, void *arg)
{
	if (id <= 0)
		return -ENOENT;
	return s->ops->node_find(s, id, NULL, NULL, fn, arg);
}

int store_node_by_name(struct store *s, const char *name, store_node_fn *fn, void *arg)
{
	if (!label_ok(name))
		return -EINVAL;
	return s->ops->node_find(s, 0, name, NULL, fn, arg);
}

int store_node_by_machine_key(struct store *s, const uint8_t key[STORE_KEY_LEN], store_node_fn *fn, void *arg)
{
	return s->ops->node_find(s, 0, NULL, key, fn, arg);
}

int store_routes_advertise(struct store *s, int64_t node_id, const struct store_list *prefixes, int64_t now)
{
	if (!prefixes_ok(prefixes))
		return -EINVAL;
	return s->ops->routes_advertise(s, node_id, prefixes, now);
}

int store_route_approve(struct store *s, int64_t node_id, const char *prefix, int64_t by, int64_t now)
{
	if (!prefix_ok(prefix) || by <= 0)
		return -EINVAL;
	return s->ops->route_decide(s, node_id, prefix, STORE_ROUTE_APPROVED, by, NULL, now);
}

int store_route_auto_approve(struct store *s, int64_t node_id, const char *prefix, const char *approver_line,
			     int64_t now)
{
	if (!prefix_ok(prefix) || !approver_line || !*approver_line || strlen(approver_line) > STORE_TEXT_MAX)
		return -EINVAL;
	return s->ops->route_decide(s, node_id, prefix, STORE_ROUTE_APPROVED, 0, approver_line, now);
}

int store_route_reject(struct store *s, int64_t node_id, const char *prefix, int64_t by, int64_t now)
{
	if (!prefix_ok(prefix) || by <= 0)
		return -EINVAL;
	return s->ops->route_decide(s, node_id, prefix, STORE_ROUTE_REJECTED, by, NULL, now);
}

int store_route_set_primary(struct store *s, const char *prefix, int64_t node_id, int64_t now)
{
	if (!prefix_ok(prefix) || node_id <= 0 || now <= 0)
		return -EINVAL;
	return s->ops->route_set_primary(s, prefix, node_id, now);
}

int store_routes_each(struct store *s, store_route_fn *fn, void *arg)
{
	return s->ops->routes_each(s, fn, arg);
}

int store_policy_set(struct store *s, const char *text, int64_t by, int64_t if_version, int64_t now,
		     int64_t *version)
{
	if (!text || by < 0)
		return -EINVAL;
	return s->ops->policy_set(s, text, by, if_version, now, version);
}

int store_policy_get(struct store *s, int64_t version, store_policy_fn *fn, void *arg)
{
	if (version < 0)
		return -EINVAL;
	return s->ops->policy_get(s, version, fn, arg);
}

int store_policy_history(struct store *s, store_policy_fn *fn, void *arg)
{
	return s->ops->policy_history(s, fn, arg);
}

int store_setting_set(struct store *s, const char *name, const char *value)
{
	if (!word_ok(name, STORE_NAME_MAX) || !value || strlen(value) > STORE_TEXT_MAX)
		return -EINVAL;
	return s->ops->setting_set(s, name, value, true);
}

int store_setting_add(struct store *s, const char *name, const char *value)
{
	if (!word_ok(name, STORE_NAME_MAX) || !value || strlen(value) > STORE_TEXT_MAX)
		return -EINVAL;
	return s->ops->setting_set(s, name, value, false);
}

int store_setting_get(struct store *s, const char *name, char *value, size_t len)
{
	if (!word_ok(name, STORE_NAME_MAX) || !len)
		return -EINVAL;
	return s->ops->setting_get(s, name, value, len);
}

bool store_shared(const struct store *s)
{
	return s->ops->watch != NULL;
}

int store_watch(struct store *s, int *fd)
{
	return s->ops->watch ? s->ops->watch(s, fd) : -EOPNOTSUPP;
}

int store_watch_read(struct store *s, int64_t *gen)
{
	return s->ops->watch_read ? s->ops->watch_read(s, gen) : -EOPNOTSUPP;
}

int store_job_lock(struct store *s, int64_t job)
{
	return s->ops->job_lock ? s->ops->job_lock(s, job) : 1;
}

const char *store_role_name(enum store_role role)
{
	switch (role) {
	case STORE_ROLE_OWNER: return "owner";
	case STORE_ROLE_ADMIN: return "admin";
	default: return "member";
	}
}
