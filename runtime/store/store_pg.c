/* store_pg: the PostgreSQL backend (libpq), for several coordinators on one
 * database.  Every change is one transaction that first locks the meta row
 * (so writers queue one behind the other, as BEGIN IMMEDIATE makes them do
 * on SQLite, and a read-then-write such as the address high-water mark or
 * the live policy version is never raced), bumps the generation, records
 * what it touched and announces the new generation with NOTIFY, which
 * PostgreSQL delivers to every listener when, and only if, it commits.
 * Parameters go as text (bytea as binary); results come back as text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "log.h"
#include "store_addr.h"
#include "store_backend.h"
#include "store_list.h"
#include "store_schema.h"

#define ARGS_MAX 16
/* The channel every commit is announced on (NOTIFY), its payload the new
 * generation in decimal. */
#define STORE_PG_CHANNEL "keygate_changes"
/* Any constant of our own: the lock that serialises migrations. */
#define MIGRATE_LOCK "7293561"

struct pg {
	struct store base;
	PGconn *conn;
	PGconn *listen;		/* LISTEN's own connection (pg_watch), or NULL */
	char *location;		/* the connection string, password and all: wiped */
	int lock_pid;		/* the backend holding the job lock, 0: not held */
	char name[128];		/* the database, for messages (never the password) */
	int64_t version;
	int64_t tx_gen;		/* this transaction's generation, 0 before its first change */
	bool in_tx;
};

static struct pg *pg_of(struct store *s)
{
	return (struct pg *)s;
}

/* Statement parameters. */

struct args {
	int n;
	const char *v[ARGS_MAX];
	int len[ARGS_MAX], fmt[ARGS_MAX];
	char num[ARGS_MAX][24];
};

static void a_int(struct args *a, int64_t v)
{
	snprintf(a->num[a->n], sizeof(a->num[0]), "%lld", (long long)v);
	a->v[a->n] = a->num[a->n];
	a->n++;
}

/* 0 is NULL: ids are never 0. */
static void a_id(struct args *a, int64_t id)
{
	if (id)
		a_int(a, id);
	else
		a->v[a->n++] = NULL;
}

static void a_text(struct args *a, const char *t)
{
	a->v[a->n++] = t;
}

static void a_blob(struct args *a, const void *b, size_t len)
{
	a->fmt[a->n] = 1;
	a->len[a->n] = (int)len;
	a->v[a->n++] = b;
}

/* libpq's message for CONN's last failure, first line only: messages end
 * in a newline and may go on with a hint and the statement. */
static const char *pg_message(const PGconn *conn)
{
	static __thread char line[256];
	const char *m = PQerrorMessage(conn);

	snprintf(line, sizeof(line), "%.*s", (int)strcspn(m, "\n"), m);
	return line;
}

/* -errno for a failed statement, logged unless it is an ordinary refusal. */
static int fail(struct pg *p, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (state && !strcmp(state, "23505"))		/* unique_violation */
		return -EEXIST;
	if (state && !strcmp(state, "23503"))		/* foreign_key_violation */
		return -ENOENT;
	log_err("store: %s: %s", p->name, pg_message(p->conn));
	if (state && (!strncmp(state, "40", 2) || !strcmp(state, "55P03")))	/* serialization, lock */
		return -EBUSY;
	return -EIO;
}

/* Runs SQL with A's parameters: 0 with the result in *OUT (when OUT is
 * set; the caller clears it), or -errno.  Outside a transaction, a lost
 * connection is re-established first: another coordinator or the
 * database's failover may have ended it. */
static int q(struct pg *p, const char *sql, const struct args *a, PGresult **out)
{
	static const struct args none;
	PGresult *res;
	int rc = 0;

	if (!a)
		a = &none;
	if (!p->in_tx && PQstatus(p->conn) != CONNECTION_OK)
		PQreset(p->conn);
	res = PQexecParams(p->conn, sql, a->n, NULL, a->v, a->len, a->fmt, 0);
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK: case PGRES_TUPLES_OK:
		break;
	default:
		rc = fail(p, res);
	}
	if (rc == 0 && out)
		*out = res;
	else
		PQclear(res);
	return rc;
}

static int run(struct pg *p, const char *sql, const struct args *a)
{
	return q(p, sql, a, NULL);
}

/* A statement that must change a row: -ENOENT when it changes none. */
static int run_changing(struct pg *p, const char *sql, const struct args *a)
{
	PGresult *res;
	bool none;
	int rc;

	rc = q(p, sql, a, &res);
	if (rc < 0)
		return rc;
	none = !strcmp(PQcmdTuples(res), "0");
	PQclear(res);
	return none ? -ENOENT : 0;
}

static int64_t col_int(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static const char *col_text(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col);
}

/* Fills OUT with a bytea column of exactly LEN bytes, zeroes otherwise. */
static void col_blob(const PGresult *res, int row, int col, void *out, size_t len)
{
	size_t got = 0;
	unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &got);

	if (b && got == len)
		memcpy(out, b, len);
	else
		memset(out, 0, len);
	PQfreemem(b);
}

/* The first column of the first row as an integer: 0, -ENOENT for no row,
 * or -errno. */
static int one_int(struct pg *p, const char *sql, const struct args *a, int64_t *v)
{
	PGresult *res;
	int rc;

	rc = q(p, sql, a, &res);
	if (rc < 0)
		return rc;
	if (PQntuples(res) < 1)
		rc = -ENOENT;
	else
		*v = col_int(res, 0, 0);
	PQclear(res);
	return rc;
}

/* 1 when SQL, its $1 bound to ID, yields a row, 0 when not, or -errno. */
static int exists(struct pg *p, const char *sql, int64_t id)
{
	struct args a = { 0 };
	int64_t v;
	int rc;

	a_int(&a, id);
	rc = one_int(p, sql, &a, &v);
	return rc == -ENOENT ? 0 : rc < 0 ? rc : 1;
}

/* Transactions. */

static int tx_begin(struct pg *p)
{
	int rc;

	p->tx_gen = 0;
	rc = run(p, "BEGIN", NULL);
	if (rc < 0)
		return rc;
	p->in_tx = true;
	rc = run(p, "SELECT 1 FROM meta FOR UPDATE", NULL);
	if (rc < 0) {
		run(p, "ROLLBACK", NULL);
		p->in_tx = false;
	}
	return rc;
}

static int tx_rollback(struct pg *p, int err)
{
	run(p, "ROLLBACK", NULL);
	p->in_tx = false;
	return err;
}

static int tx_commit(struct pg *p)
{
	int rc = run(p, "COMMIT", NULL);

	return rc < 0 ? tx_rollback(p, rc) : (p->in_tx = false, 0);
}

/* Records that this transaction touched KIND's object ID; the first record
 * bumps the generation and queues its announcement. */
static int tx_note(struct pg *p, enum store_kind kind, int64_t id)
{
	struct args a = { 0 };
	int rc;

	if (!p->tx_gen) {
		rc = one_int(p, "UPDATE meta SET generation = generation + 1 RETURNING generation", NULL, &p->tx_gen);
		if (rc < 0)
			return rc == -ENOENT ? -EIO : rc;
		a_int(&a, p->tx_gen);
		rc = run(p, "SELECT pg_notify('" STORE_PG_CHANNEL "', $1)", &a);
		if (rc < 0)
			return rc;
		a.n = 0;
	}
	a_int(&a, p->tx_gen);
	a_int(&a, kind);
	a_int(&a, id);
	return run(p, "INSERT INTO changes (gen, kind, object) VALUES ($1, $2, $3)", &a);
}

/* Ends a transaction whose work returned RC: rolled back on failure, else
 * noted as touching KIND's object ID and committed. */
static int tx_end(struct pg *p, int rc, enum store_kind kind, int64_t id)
{
	if (rc < 0)
		return tx_rollback(p, rc);
	rc = tx_note(p, kind, id);
	if (rc < 0)
		return tx_rollback(p, rc);
	return tx_commit(p);
}

/* A whole transaction: one row-changing statement, then a note. */
static int change_one(struct pg *p, const char *sql, const struct args *a, enum store_kind kind, int64_t id)
{
	int rc;

	rc = tx_begin(p);
	if (rc < 0)
		return rc;
	return tx_end(p, run_changing(p, sql, a), kind, id);
}

/* An insert whose RETURNING id is the new object's, in a transaction of its
 * own noted as touching KIND. */
static int insert_one(struct pg *p, const char *sql, const struct args *a, enum store_kind kind, int64_t *id)
{
	PGresult *res;
	int rc;

	rc = tx_begin(p);
	if (rc < 0)
		return rc;
	rc = q(p, sql, a, &res);	/* a missing owner is -ENOENT, as no row is not */
	if (rc == 0) {
		*id = PQntuples(res) == 1 ? col_int(res, 0, 0) : 0;
		rc = *id ? 0 : -EIO;
		PQclear(res);
	}
	return tx_end(p, rc, kind, *id);
}

/* Readers: every row of a query becomes an object handed to the caller. */

struct feed {
	union {
		store_user_fn *user;
		store_authkey_fn *authkey;
		store_node_fn *node;
		store_route_fn *route;
		store_policy_fn *policy;
	} fn;
	void *arg;
};

typedef int row_fn(const PGresult *res, int row, const struct feed *f);

/* Feeds every row of SQL's result to TO_OBJECT; with MUST_FIND, no row at
 * all is -ENOENT. */
static int feed_rows(struct pg *p, const char *sql, const struct args *a, row_fn *to_object, const struct feed *f,
		     bool must_find)
{
	PGresult *res;
	int rc, n;

	rc = q(p, sql, a, &res);
	if (rc < 0)
		return rc;
	n = PQntuples(res);
	for (int i = 0; i < n && rc == 0; i++)
		rc = to_object(res, i, f);
	PQclear(res);
	return rc == 0 && must_find && n == 0 ? -ENOENT : rc;
}

/* Opening and closing. */

static void pg_close(struct store *s)
{
	struct pg *p = pg_of(s);

	PQfinish(p->listen);
	PQfinish(p->conn);
	explicit_bzero(p->location, strlen(p->location));
	free(p->location);
	free(p);
}

static int64_t pg_schema_version(struct store *s)
{
	return pg_of(s)->version;
}

/* Generation and changes. */

static int pg_generation(struct store *s, int64_t *gen)
{
	int rc = one_int(pg_of(s), "SELECT generation FROM meta", NULL, gen);

	return rc == -ENOENT ? -EIO : rc;
}

static int pg_changes_since(struct store *s, int64_t since, unsigned *kinds, store_change_fn *fn, void *arg)
{
	struct args a = { 0 };
	struct pg *p = pg_of(s);
	PGresult *res;
	int rc, n;

	*kinds = 0;
	a_int(&a, since);
	/* One statement, so the forgotten mark and the changes are one snapshot;
	 * the left join yields a row even when nothing changed. */
	rc = q(p, "SELECT m.forgotten, c.gen, c.kind, c.object FROM meta m "
	       "LEFT JOIN changes c ON c.gen > $1 ORDER BY c.gen, c.seq", &a, &res);
	if (rc < 0)
		return rc;
	n = PQntuples(res);
	for (int i = 0; i < n && rc == 0; i++) {
		enum store_kind kind = (enum store_kind)col_int(res, i, 2);

		if (since < col_int(res, i, 0)) {
			rc = -ERANGE;	/* some of the changes asked for are forgotten */
			break;
		}
		if (PQgetisnull(res, i, 1))
			continue;
		*kinds |= kind;
		if (fn)
			rc = fn(col_int(res, i, 1), kind, col_int(res, i, 3), arg);
	}
	PQclear(res);
	return rc;
}

static int pg_changes_forget(struct store *s, int64_t upto)
{
	struct args a = { 0 };
	struct pg *p = pg_of(s);
	int rc;

	a_int(&a, upto);
	rc = tx_begin(p);
	if (rc < 0)
		return rc;
	rc = run(p, "DELETE FROM changes WHERE gen <= $1", &a);
	if (rc == 0)
		rc = run(p, "UPDATE meta SET forgotten = greatest(forgotten, least($1, generation))", &a);
	return rc < 0 ? tx_rollback(p, rc) : tx_commit(p);
}

/* A read-only transaction whose snapshot is taken by its first read. */
static int pg_read_begin(struct store *s, int64_t *gen)
{
	struct pg *p = pg_of(s);
	int rc;

	rc = run(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL);
	if (rc < 0)
		return rc;
	p->in_tx = true;
	rc = pg_generation(s, gen);
	return rc < 0 ? tx_rollback(p, rc) : 0;
}

static int pg_read_end(struct store *s)
{
	return tx_commit(pg_of(s));
}

/* Users. */

static int pg_user_add(struct store *s, const char *name, const char *email, enum store_role role, int64_t now,
		       int64_t *id)
{
	struct args a = { 0 };

	a_text(&a, name);
	a_text(&a, email);
	a_text(&a, store_role_name(role));
	a_int(&a, now);
	return insert_one(pg_of(s), "INSERT INTO users (name, email, role, created) VALUES ($1, $2, $3, $4) "
			  "RETURNING id", &a, STORE_KIND_USER, id);
}

/* Nodes and auth keys keep their owner: a user who has any stays. */
static int pg_user_remove(struct store *s, int64_t id)
{
	struct args a = { 0 };
	struct pg *p = pg_of(s);
	int rc;

	rc = tx_begin(p);
	if (rc < 0)
		return rc;
	rc = exists(p, "SELECT 1 FROM nodes WHERE user_id = $1 UNION ALL SELECT 1 FROM authkeys WHERE user_id = $1", id);
	if (rc != 0)
		return tx_rollback(p, rc < 0 ? rc : -EBUSY);
	a_int(&a, id);
	return tx_end(p, run_changing(p, "DELETE FROM users WHERE id = $1", &a), STORE_KIND_USER, id);
}

static int pg_user_by_name(struct store *s, const char *name, int64_t *id)
{
	struct args a = { 0 };

	a_text(&a, name);
	return one_int(pg_of(s), "SELECT id FROM users WHERE name = $1", &a, id);
}

static int user_row(const PGresult *res, int i, const struct feed *f)
{
	struct store_user u = {
		.id = col_int(res, i, 0),
		.name = col_text(res, i, 1),
		.email = col_text(res, i, 2),
		.role = store_role_of(col_text(res, i, 3)),
		.created = col_int(res, i, 4),
	};
	return f->fn.user(&u, f->arg);
}

static int pg_users_each(struct store *s, store_user_fn *fn, void *arg)
{
	return feed_rows(pg_of(s), "SELECT id, name, email, role, created FROM users ORDER BY id", NULL, user_row,
			 &(struct feed){ .fn.user = fn, .arg = arg }, false);
}

/* Auth keys. */

static int pg_authkey_create(struct store *s, const struct store_authkey_spec *spec, int64_t now,
			     const uint8_t hash[STORE_KEY_LEN], int64_t *id)
{
	struct args a = { 0 };
	char *tags;
	int rc;

	tags = store_list_join(&spec->tags);
	if (!tags)
		return -ENOMEM;
	a_blob(&a, hash, STORE_KEY_LEN);
	a_id(&a, spec->user_id);
	a_text(&a, tags);
	a_int(&a, spec->reusable);
	a_int(&a, spec->expiry);
	a_int(&a, now);
	rc = insert_one(pg_of(s), "INSERT INTO authkeys (hash, user_id, tags, reusable, expiry, created) "
			"VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", &a, STORE_KIND_AUTHKEY, id);
	free(tags);
	return rc;
}

static int pg_authkey_revoke(struct store *s, int64_t id)
{
	struct args a = { 0 };

	a_int(&a, id);
	return change_one(pg_of(s), "UPDATE authkeys SET revoked = 1 WHERE id = $1", &a, STORE_KIND_AUTHKEY, id);
}

static int authkey_row(const PGresult *res, int i, const struct feed *f)
{
	struct store_authkey k = {
		.id = col_int(res, i, 0),
		.user_id = col_int(res, i, 1),
		.reusable = col_int(res, i, 3),
		.revoked = col_int(res, i, 4),
		.expiry = col_int(res, i, 5),
		.uses = col_int(res, i, 6),
		.created = col_int(res, i, 7),
	};
	struct store_split tags;
	int rc;

	rc = store_list_split(col_text(res, i, 2), &tags, &k.tags);
	if (rc < 0)
		return rc;
	rc = f->fn.authkey(&k, f->arg);
	free(tags.buf);
	return rc;
}

static int pg_authkeys_each(struct store *s, store_authkey_fn *fn, void *arg)
{
	return feed_rows(pg_of(s), "SELECT id, user_id, tags, reusable, revoked, expiry, uses, created FROM authkeys "
			 "ORDER BY id", NULL, authkey_row, &(struct feed){ .fn.authkey = fn, .arg = arg }, false);
}

/* Registration. */

struct key_row {
	int64_t user_id;
	char *tags;
	bool revoked;
	int64_t expiry;
};

/* The key's row if the secret's HASH matches (compared in constant time);
 * -ENOENT for no such key and for a wrong secret alike. */
static int key_read(struct pg *p, int64_t id, const uint8_t hash[STORE_KEY_LEN], struct key_row *k)
{
	uint8_t stored[STORE_KEY_LEN];
	struct args a = { 0 };
	PGresult *res;
	int rc;

	a_int(&a, id);
	rc = q(p, "SELECT hash, user_id, tags, revoked, expiry FROM authkeys WHERE id = $1", &a, &res);
	if (rc < 0)
		return rc;
	if (PQntuples(res) < 1)
		rc = -ENOENT;
	else {
		col_blob(res, 0, 0, stored, sizeof(stored));
		if (sodium_memcmp(stored, hash, STORE_KEY_LEN))
			rc = -ENOENT;
	}
	if (rc == 0) {
		k->user_id = col_int(res, 0, 1);
		k->tags = strdup(col_text(res, 0, 2));
		k->revoked = col_int(res, 0, 3);
		k->expiry = col_int(res, 0, 4);
		rc = k->tags ? 0 : -ENOMEM;
	}
	PQclear(res);
	return rc;
}

/* The single place a key is used: one conditional UPDATE, judged by the
 * count of changed rows.  When it changes nothing, K says why. */
static int key_consume(struct pg *p, int64_t id, const struct key_row *k, int64_t now)
{
	struct args a = { 0 };
	int rc;

	a_int(&a, id);
	a_int(&a, now);
	rc = run_changing(p, "UPDATE authkeys SET uses = uses + 1 "
			  "WHERE id = $1 AND revoked = 0 AND (reusable <> 0 OR uses = 0) AND expiry > $2", &a);
	if (rc != -ENOENT)
		return rc;
	return k->revoked ? -EKEYREVOKED : k->expiry <= now ? -EKEYEXPIRED : -EKEYREJECTED;
}

/* Takes the next address of each family past the high-water marks and
 * moves the marks past them (the meta row is locked by tx_begin). */
static int addresses_take(struct pg *p, uint8_t v4[4], uint8_t v6[16])
{
	struct args a = { 0 };
	uint64_t i4, i6;
	PGresult *res;
	int rc;

	rc = q(p, "SELECT next_v4, next_v6 FROM meta", NULL, &res);
	if (rc < 0)
		return rc;
	if (PQntuples(res) < 1) {
		PQclear(res);
		return -EIO;
	}
	rc = store_addr_v4_next((uint64_t)col_int(res, 0, 0), &i4);
	if (rc == 0)
		rc = store_addr_v6_next((uint64_t)col_int(res, 0, 1), &i6);
	PQclear(res);
	if (rc < 0)
		return rc;
	store_addr_v4(i4, v4);
	store_addr_v6(i6, v6);
	a_int(&a, (int64_t)i4 + 1);
	a_int(&a, (int64_t)i6 + 1);
	return run_changing(p, "UPDATE meta SET next_v4 = $1, next_v6 = $2", &a);
}

static int node_insert(struct pg *p, const struct store_registration *reg, const struct key_row *k,
		       const uint8_t v4[4], const uint8_t v6[16], int64_t now, int64_t *node_id)
{
	struct args a = { 0 };
	char *endpoints;
	int rc;

	endpoints = store_list_join(&reg->endpoints);
	if (!endpoints)
		return -ENOMEM;
	a_text(&a, reg->name);
	a_id(&a, k->user_id);
	a_text(&a, k->tags);
	a_blob(&a, reg->machine_key, STORE_KEY_LEN);
	a_blob(&a, reg->wg_key, STORE_KEY_LEN);
	a_blob(&a, v4, 4);
	a_blob(&a, v6, 16);
	a_text(&a, endpoints);
	a_text(&a, reg->hostname ? reg->hostname : "");
	a_int(&a, reg->authkey_id);
	a_int(&a, reg->key_expiry);
	a_int(&a, now);
	rc = one_int(p, "INSERT INTO nodes (name, user_id, tags, machine_key, wg_key, ipv4, ipv6, endpoints, hostname,"
		     " authkey_id, key_expiry, last_seen, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
		     " $12, $12) RETURNING id", &a, node_id);
	free(endpoints);
	return rc == -ENOENT ? -EIO : rc;
}

static int pg_node_register(struct store *s, const struct store_registration *reg, const uint8_t hash[STORE_KEY_LEN],
			    int64_t now, int64_t *node_id)
{
	struct pg *p = pg_of(s);
	struct key_row k = { 0 };
	uint8_t v4[4], v6[16];
	int rc;

	rc = tx_begin(p);
	if (rc < 0)
		return rc;
	rc = key_read(p, reg->authkey_id, hash, &k);
	if (rc == 0)
		rc = key_consume(p, reg->authkey_id, &k, now);
	if (rc == 0)
		rc = addresses_take(p, v4, v6);
	if (rc == 0)
		rc = node_insert(p, reg, &k, v4, v6, now, node_id);
	if (rc == 0)
		rc = tx_note(p, STORE_KIND_AUTHKEY, reg->authkey_id);
	free(k.tags);
	return tx_end(p, rc, STORE_KIND_NODE, rc == 0 ? *node_id : 0);
}

/* Nodes. */

static int pg_node_set_endpoints(struct store *s, int64_t id, const struct store_list *endpoints, int64_t now)
{
	struct args a = { 0 };
	char *joined;
	int rc;

	joined = store_list_join(endpoints);
	if (!joined)
		return -ENOMEM;
	a_text(&a, joined);
	a_int(&a, now);
	a_int(&a, id);
	rc = change_one(pg_of(s), "UPDATE nodes SET endpoints = $1, last_seen = $2 WHERE id = $3", &a,
			STORE_KIND_NODE, id);
	free(joined);
	return rc;
}

static int pg_node_set_wg_key(struct store *s, int64_t id, const uint8_t wg_key[STORE_KEY_LEN], int64_t now)
{
	struct args a = { 0 };

	a_blob(&a, wg_key, STORE_KEY_LEN);
	a_int(&a, now);
	a_int(&a, id);
	return change_one(pg_of(s), "UPDATE nodes SET wg_key = $1, last_seen = $2 WHERE id = $3", &a,
			  STORE_KIND_NODE, id);
}

static int pg_node_seen(struct store *s, int64_t id, int64_t now)
{
	struct args a = { 0 };

	a_int(&a, id);
	a_int(&a, now);
	return change_one(pg_of(s), "UPDATE nodes SET last_seen = $2 WHERE id = $1", &a, STORE_KIND_NODE, id);
}

static int pg_node_expire(struct store *s, int64_t id)
{
	struct args a = { 0 };

	a_int(&a, id);
	return change_one(pg_of(s), "UPDATE nodes SET expired = 1 WHERE id = $1", &a, STORE_KIND_NODE, id);
}

static int pg_node_remove(struct store *s, int64_t id)
{
	struct args a = { 0 };
	struct pg *p = pg_of(s);
	int rc;

	rc = tx_begin(p);
	if (rc < 0)
		return rc;
	a_int(&a, id);
	rc = run_changing(p, "DELETE FROM nodes WHERE id = $1", &a);	/* routes go by cascade */
	if (rc == 0)
		rc = tx_note(p, STORE_KIND_NODE, id);
	return tx_end(p, rc, STORE_KIND_ROUTE, id);
}

#define NODE_COLUMNS "SELECT id, name, user_id, tags, machine_key, wg_key, ipv4, ipv6, endpoints, hostname, " \
		     "authkey_id, key_expiry, last_seen, created, expired FROM nodes "

static int node_row(const PGresult *res, int i, const struct feed *f)
{
	struct store_node n = {
		.id = col_int(res, i, 0),
		.name = col_text(res, i, 1),
		.user_id = col_int(res, i, 2),
		.hostname = col_text(res, i, 9),
		.authkey_id = col_int(res, i, 10),
		.key_expiry = col_int(res, i, 11),
		.last_seen = col_int(res, i, 12),
		.created = col_int(res, i, 13),
		.expired = col_int(res, i, 14),
	};
	struct store_split tags, endpoints;
	int rc;

	col_blob(res, i, 4, n.machine_key, sizeof(n.machine_key));
	col_blob(res, i, 5, n.wg_key, sizeof(n.wg_key));
	col_blob(res, i, 6, n.ipv4, sizeof(n.ipv4));
	col_blob(res, i, 7, n.ipv6, sizeof(n.ipv6));
	rc = store_list_split(col_text(res, i, 3), &tags, &n.tags);
	if (rc < 0)
		return rc;
	rc = store_list_split(col_text(res, i, 8), &endpoints, &n.endpoints);
	if (rc < 0)
		goto free_tags;
	rc = f->fn.node(&n, f->arg);
	free(endpoints.buf);
free_tags:
	free(tags.buf);
	return rc;
}

static int pg_nodes_each(struct store *s, store_node_fn *fn, void *arg)
{
	return feed_rows(pg_of(s), NODE_COLUMNS "ORDER BY id", NULL, node_row,
			 &(struct feed){ .fn.node = fn, .arg = arg }, false);
}

static int pg_node_find(struct store *s, int64_t id, const char *name, const uint8_t *machine_key,
			store_node_fn *fn, void *arg)
{
	struct args a = { 0 };

	if (id)
		a_int(&a, id);
	else if (name)
		a_text(&a, name);
	else
		a_blob(&a, machine_key, STORE_KEY_LEN);
	return feed_rows(pg_of(s), id ? NODE_COLUMNS "WHERE id = $1" : name ? NODE_COLUMNS "WHERE name = $1" :
			 NODE_COLUMNS "WHERE machine_key = $1", &a, node_row,
			 &(struct feed){ .fn.node = fn, .arg = arg }, true);
}

/* Routes.  A route row's advertised column is 1 while the node advertises
 * it, 0 once withdrawn (its decision kept). */

static int route_upsert(struct pg *p, int64_t node_id, const char *prefix, int64_t now)
{
	struct args a = { 0 };

	a_int(&a, node_id);
	a_text(&a, prefix);
	a_int(&a, now);
	return run(p, "INSERT INTO routes AS r (node_id, prefix, advertised, advertised_at, state) "
		   "VALUES ($1, $2, 1, $3, 'pending') ON CONFLICT (node_id, prefix) DO UPDATE SET "
		   "advertised_at = CASE WHEN r.advertised <> 0 THEN r.advertised_at ELSE excluded.advertised_at END, "
		   "advertised = 1", &a);
}

static int pg_routes_advertise(struct store *s, int64_t node_id, const struct store_list *prefixes, int64_t now)
{
	struct args a = { 0 };
	struct pg *p = pg_of(s);
	int rc;

	rc = tx_begin(p);
	if (rc < 0)
		return rc;
	rc = exists(p, "SELECT 1 FROM nodes WHERE id = $1", node_id);
	if (rc <= 0)
		return tx_rollback(p, rc < 0 ? rc : -ENOENT);
	/* Mark the advertised ones 2, re-advertise the listed ones, and what
	 * is still 2 is withdrawn. */
	a_int(&a, node_id);
	rc = run(p, "UPDATE routes SET advertised = 2 WHERE node_id = $1 AND advertised <> 0", &a);
	for (size_t i = 0; i < prefixes->n && rc == 0; i++)
		rc = route_upsert(p, node_id, prefixes->items[i], now);
	if (rc == 0)
		rc = run(p, "UPDATE routes SET advertised = 0 WHERE node_id = $1 AND advertised = 2", &a);
	return tx_end(p, rc, STORE_KIND_ROUTE, node_id);
}

static int pg_route_decide(struct store *s, int64_t node_id, const char *prefix, enum store_route_state state,
			   int64_t by, const char *auto_approver, int64_t now)
{
	struct args a = { 0 };

	a_text(&a, store_route_state_name(state));
	a_id(&a, by);
	a_text(&a, auto_approver);
	a_int(&a, now);
	a_int(&a, node_id);
	a_text(&a, prefix);
	return change_one(pg_of(s), "UPDATE routes SET state = $1, decided_by = $2, auto_approver = $3, decided_at = $4 "
			  "WHERE node_id = $5 AND prefix = $6 AND advertised <> 0", &a, STORE_KIND_ROUTE, node_id);
}

static int pg_route_set_primary(struct store *s, const char *prefix, int64_t node_id, int64_t now)
{
	struct args a = { 0 };
	struct pg *p = pg_of(s);
	int rc;

	a_int(&a, now);
	a_int(&a, node_id);
	a_text(&a, prefix);
	rc = tx_begin(p);
	if (rc < 0)
		return rc;
	/* The node's route first: it must exist before the others lose it. */
	rc = run_changing(p, "UPDATE routes SET primary_since = CASE primary_since WHEN 0 THEN $1 ELSE primary_since END"
			  " WHERE node_id = $2 AND prefix = $3 AND advertised <> 0", &a);
	if (rc == 0)
		rc = run(p, "UPDATE routes SET primary_since = 0 WHERE node_id <> $2 AND prefix = $3 AND $1 > 0", &a);
	return tx_end(p, rc, STORE_KIND_ROUTE, node_id);
}

static int route_row(const PGresult *res, int i, const struct feed *f)
{
	struct store_route r = {
		.node_id = col_int(res, i, 0),
		.prefix = col_text(res, i, 1),
		.advertised = col_int(res, i, 2),
		.advertised_at = col_int(res, i, 3),
		.state = store_route_state_of(col_text(res, i, 4)),
		.decided_by = col_int(res, i, 5),
		.auto_approver = PQgetisnull(res, i, 6) ? NULL : col_text(res, i, 6),
		.decided_at = col_int(res, i, 7),
		.primary_since = col_int(res, i, 8),
	};
	return f->fn.route(&r, f->arg);
}

static int pg_routes_each(struct store *s, store_route_fn *fn, void *arg)
{
	return feed_rows(pg_of(s), "SELECT node_id, prefix, advertised, advertised_at, state, decided_by, auto_approver,"
			 " decided_at, primary_since FROM routes ORDER BY node_id, prefix COLLATE \"C\"", NULL, route_row,
			 &(struct feed){ .fn.route = fn, .arg = arg }, false);
}

/* The policy. */

static int pg_policy_set(struct store *s, const char *ptext, int64_t by, int64_t if_version, int64_t now,
			 int64_t *version)
{
	struct args a = { 0 };
	struct pg *p = pg_of(s);
	int64_t live = 0;
	int rc;

	rc = tx_begin(p);
	if (rc < 0)
		return rc;
	rc = one_int(p, "SELECT coalesce(max(version), 0) FROM policies", NULL, &live);
	if (rc < 0)
		return tx_rollback(p, rc == -ENOENT ? -EIO : rc);
	if (if_version >= 0 && live != if_version)
		return tx_rollback(p, -ESTALE);
	a_int(&a, live + 1);
	a_text(&a, ptext);
	a_id(&a, by);
	a_int(&a, now);
	rc = run(p, "INSERT INTO policies (version, text, set_by, set_at) VALUES ($1, $2, $3, $4)", &a);
	rc = tx_end(p, rc, STORE_KIND_POLICY, live + 1);
	if (rc == 0)
		*version = live + 1;
	return rc;
}

#define POLICY_COLUMNS "SELECT version, text, set_by, set_at FROM policies "

static int policy_row(const PGresult *res, int i, const struct feed *f)
{
	struct store_policy pol = {
		.version = col_int(res, i, 0),
		.text = col_text(res, i, 1),
		.set_by = col_int(res, i, 2),
		.set_at = col_int(res, i, 3),
	};
	return f->fn.policy(&pol, f->arg);
}

static int pg_policy_get(struct store *s, int64_t version, store_policy_fn *fn, void *arg)
{
	struct args a = { 0 };

	if (version)
		a_int(&a, version);
	return feed_rows(pg_of(s), version ? POLICY_COLUMNS "WHERE version = $1" :
			 POLICY_COLUMNS "ORDER BY version DESC LIMIT 1", &a, policy_row,
			 &(struct feed){ .fn.policy = fn, .arg = arg }, true);
}

static int pg_policy_history(struct store *s, store_policy_fn *fn, void *arg)
{
	return feed_rows(pg_of(s), POLICY_COLUMNS "ORDER BY version", NULL, policy_row,
			 &(struct feed){ .fn.policy = fn, .arg = arg }, false);
}

/* Settings. */

static int pg_setting_set(struct store *s, const char *name, const char *value, bool replace)
{
	struct args a = { 0 };
	struct pg *p = pg_of(s);
	int rc;

	rc = tx_begin(p);
	if (rc < 0)
		return rc;
	a_text(&a, name);
	a_text(&a, value);
	rc = run(p, replace ? "INSERT INTO settings (name, value) VALUES ($1, $2) "
		 "ON CONFLICT (name) DO UPDATE SET value = excluded.value" :
		 "INSERT INTO settings (name, value) VALUES ($1, $2)", &a);
	return tx_end(p, rc, STORE_KIND_SETTING, 0);
}

static int pg_setting_get(struct store *s, const char *name, char *value, size_t len)
{
	struct args a = { 0 };
	PGresult *res;
	int rc;

	a_text(&a, name);
	rc = q(pg_of(s), "SELECT value FROM settings WHERE name = $1", &a, &res);
	if (rc < 0)
		return rc;
	if (PQntuples(res) < 1)
		rc = -ENOENT;
	else
		rc = (size_t)snprintf(value, len, "%s", col_text(res, 0, 0)) < len ? 0 : -ENAMETOOLONG;
	PQclear(res);
	return rc;
}

/* Notices go to our log, not to libpq's default of stderr. */
static void notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("store: %s", message);
}

static PGconn *connect_to(const char *location, struct pg *p, char *err, size_t errlen)
{
	PGconn *c = PQconnectdb(location);

	if (!c) {
		snprintf(err, errlen, "%s: out of memory", p->name);
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "%s: cannot connect: %s", p->name, pg_message(c));
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, notice, NULL);
	return c;
}

/* Watching: LISTEN on a connection of its own, so that notifications are
 * never consumed in the middle of the store's own statements. */

static int pg_watch(struct store *s, int *fd)
{
	struct pg *p = pg_of(s);
	char err[256];
	PGresult *res;
	int rc;

	if (!p->listen) {
		p->listen = connect_to(p->location, p, err, sizeof(err));
		if (!p->listen) {
			log_err("store: %s", err);
			return -ECONNREFUSED;
		}
		res = PQexec(p->listen, "LISTEN " STORE_PG_CHANNEL);
		rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -EIO;
		PQclear(res);
		if (rc < 0) {
			log_err("store: %s: LISTEN: %s", p->name, pg_message(p->listen));
			PQfinish(p->listen);
			p->listen = NULL;
			return rc;
		}
	}
	*fd = PQsocket(p->listen);
	return 0;
}

/* A lost listening connection is closed: the caller watches again (and
 * reads the store whole, since announcements may have been missed). */
static int pg_watch_read(struct store *s, int64_t *gen)
{
	struct pg *p = pg_of(s);
	PGnotify *n;
	int count = 0;

	if (!p->listen)
		return -ENOTCONN;
	if (!PQconsumeInput(p->listen)) {
		log_err("store: %s: notifications: %s", p->name, pg_message(p->listen));
		PQfinish(p->listen);
		p->listen = NULL;
		return -ECONNRESET;
	}
	while ((n = PQnotifies(p->listen))) {
		int64_t g = strtoll(n->extra, NULL, 10);

		if (g > *gen)
			*gen = g;
		count++;
		PQfreemem(n);
	}
	return count;
}

/* A session-level advisory lock: held while this connection lives, so a
 * coordinator that dies frees it for another.  PostgreSQL counts a
 * session's acquisitions, so it is taken once per connection (a reset
 * connection is a new backend, which has lost it). */
static int pg_job_lock(struct store *s, int64_t job)
{
	struct pg *p = pg_of(s);
	struct args a = { 0 };
	PGresult *res;
	int rc;

	if (p->lock_pid && p->lock_pid == PQbackendPID(p->conn) && PQstatus(p->conn) == CONNECTION_OK)
		return 1;
	a_int(&a, job);
	rc = q(p, "SELECT pg_try_advisory_lock($1)", &a, &res);
	if (rc < 0)
		return rc;
	rc = !strcmp(col_text(res, 0, 0), "t");
	PQclear(res);
	p->lock_pid = rc ? PQbackendPID(p->conn) : 0;
	return rc;
}

static const struct store_ops pg_ops = {
	.close = pg_close,
	.schema_version = pg_schema_version,
	.generation = pg_generation,
	.changes_since = pg_changes_since,
	.changes_forget = pg_changes_forget,
	.read_begin = pg_read_begin,
	.read_end = pg_read_end,
	.user_add = pg_user_add,
	.user_remove = pg_user_remove,
	.user_by_name = pg_user_by_name,
	.users_each = pg_users_each,
	.authkey_create = pg_authkey_create,
	.authkey_revoke = pg_authkey_revoke,
	.authkeys_each = pg_authkeys_each,
	.node_register = pg_node_register,
	.node_set_endpoints = pg_node_set_endpoints,
	.node_set_wg_key = pg_node_set_wg_key,
	.node_seen = pg_node_seen,
	.node_expire = pg_node_expire,
	.node_remove = pg_node_remove,
	.nodes_each = pg_nodes_each,
	.node_find = pg_node_find,
	.routes_advertise = pg_routes_advertise,
	.route_decide = pg_route_decide,
	.routes_each = pg_routes_each,
	.route_set_primary = pg_route_set_primary,
	.policy_set = pg_policy_set,
	.policy_get = pg_policy_get,
	.policy_history = pg_policy_history,
	.setting_set = pg_setting_set,
	.setting_get = pg_setting_get,
	.watch = pg_watch,
	.watch_read = pg_watch_read,
	.job_lock = pg_job_lock,
};

/* Migrations, under a transaction-scoped advisory lock so that coordinators
 * starting together migrate one after the other. */

/* A database holding tables but no migration record is someone else's. */
static int check_ours(struct pg *p, char *err, size_t errlen)
{
	PGresult *res;
	int rc;

	rc = q(p, "SELECT count(*) FILTER (WHERE table_name = 'schema_migrations'), count(*) "
	       "FROM information_schema.tables WHERE table_schema = current_schema()", NULL, &res);
	if (rc < 0) {
		snprintf(err, errlen, "%s: not a keygate state database: %s", p->name, pg_message(p->conn));
		return rc;
	}
	if (!col_int(res, 0, 0) && col_int(res, 0, 1)) {
		snprintf(err, errlen, "%s: not a keygate state database (tables but no schema_migrations)", p->name);
		rc = -EINVAL;
	}
	PQclear(res);
	return rc;
}

/* Applies every migration after the current version in one transaction. */
static int migrate(struct pg *p, char *err, size_t errlen)
{
	struct args a = { 0 };
	int rc;

	rc = run(p, "BEGIN", NULL);
	if (rc == 0)
		rc = run(p, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", NULL);
	if (rc == 0)
		rc = run(p, "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,"
			 " applied_at BIGINT NOT NULL)", NULL);
	if (rc == 0)
		rc = one_int(p, "SELECT coalesce(max(version), 0) FROM schema_migrations", NULL, &p->version);
	if (rc == 0 && p->version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: database schema version %lld is newer than this keygate's (%d); "
			 "use the keygate that wrote it or a newer one", p->name, (long long)p->version,
			 STORE_SCHEMA_VERSION);
		run(p, "ROLLBACK", NULL);
		return -EPROTONOSUPPORT;
	}
	while (rc == 0 && p->version < STORE_SCHEMA_VERSION) {
		/* Several statements: the simple query protocol, no parameters. */
		PGresult *res = PQexec(p->conn, store_migrations[p->version].pg);

		rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : fail(p, res);
		PQclear(res);
		a.n = 0;
		a_int(&a, ++p->version);
		if (rc == 0)
			rc = run(p, "INSERT INTO schema_migrations VALUES ($1, extract(epoch FROM now())::bigint)", &a);
	}
	if (rc == 0)
		rc = run(p, "COMMIT", NULL);
	if (rc < 0) {
		snprintf(err, errlen, "%s: migrating to schema version %lld: %s", p->name, (long long)p->version,
			 pg_message(p->conn));
		run(p, "ROLLBACK", NULL);
	}
	return rc;
}

static int check_schema(struct pg *p, char *err, size_t errlen)
{
	char sql[512];

	for (size_t i = 0; i < STORE_SCHEMA_TABLES; i++) {
		snprintf(sql, sizeof(sql), "%s LIMIT 0", store_schema_check[i]);
		if (run(p, sql, NULL) < 0) {
			snprintf(err, errlen, "%s: schema check failed: %s", p->name, pg_message(p->conn));
			return -EINVAL;
		}
	}
	return 0;
}

/* The location without its password: scheme, host and database as given,
 * user information dropped. */
static void describe(const char *location, char *out, size_t len)
{
	const char *rest = strstr(location, "://");
	const char *at;

	rest = rest ? rest + 3 : location;
	at = strchr(rest, '@');
	if (at && (!strchr(rest, '/') || at < strchr(rest, '/')))
		rest = at + 1;
	snprintf(out, len, "postgresql://%.*s", (int)strcspn(rest, "?"), rest);
}

int store_pg_open(const char *location, struct store **out, char *err, size_t errlen)
{
	struct pg *p;
	int rc;

	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "PostgreSQL: out of memory");
		return -ENOMEM;
	}
	p->base.ops = &pg_ops;
	describe(location, p->name, sizeof(p->name));
	p->location = strdup(location);
	if (!p->location) {
		snprintf(err, errlen, "%s: out of memory", p->name);
		rc = -ENOMEM;
		goto free_p;
	}
	p->conn = connect_to(location, p, err, errlen);
	if (!p->conn) {
		rc = -ECONNREFUSED;
		goto free_p;
	}
	rc = check_ours(p, err, errlen);
	if (rc == 0)
		rc = migrate(p, err, errlen);
	if (rc == 0)
		rc = check_schema(p, err, errlen);
	if (rc < 0)
		goto finish;
	*out = &p->base;
	return 0;
finish:
	PQfinish(p->conn);
free_p:
	if (p->location)
		explicit_bzero(p->location, strlen(p->location));
	free(p->location);
	free(p);
	return rc;
}
