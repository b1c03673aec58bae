/* store_sqlite: the SQLite backend.  WAL, foreign keys, a busy timeout and
 * synchronous=FULL; every change is one BEGIN IMMEDIATE transaction (the
 * write lock taken first, so two writers queue instead of deadlocking) that
 * bumps the generation and records what it touched before COMMIT. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "log.h"
#include "store_addr.h"
#include "store_backend.h"
#include "store_list.h"
#include "store_sqlite.h"

#define BUSY_TIMEOUT_MS 10000

struct sq {
	struct store base;
	sqlite3 *db;
	int64_t version;
	int64_t tx_gen;		/* this transaction's generation, 0 before its first change */
};

static struct sq *sq_of(struct store *s)
{
	return (struct sq *)s;
}

/* -errno for a failed statement, logged unless it is an ordinary refusal. */
static int fail(struct sq *q, int rc)
{
	switch (sqlite3_extended_errcode(q->db)) {
	case SQLITE_CONSTRAINT_UNIQUE: case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT;
	}
	log_err("store: %s", sqlite3_errmsg(q->db));
	return store_sqlite_errno(rc);
}

static int prepare(struct sq *q, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(q->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : fail(q, rc);
}

/* Runs ST to completion (a statement that returns no rows). */
static int run(struct sq *q, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	return rc == SQLITE_DONE ? 0 : fail(q, rc);
}

/* Steps ST once: 1 a row, 0 done, or -errno. */
static int row(struct sq *q, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : fail(q, rc);
}

/* 1 when SQL, its ?1 bound to ID, yields a row, 0 when not, or -errno. */
static int exists(struct sq *q, const char *sql, int64_t id)
{
	sqlite3_stmt *st;
	int rc;

	rc = prepare(q, sql, &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = row(q, st);
	sqlite3_finalize(st);
	return rc;
}

static int exec(struct sq *q, const char *sql)
{
	int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : fail(q, rc);
}

static const char *text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

static void blob(sqlite3_stmt *st, int col, void *out, size_t len)
{
	const void *b = sqlite3_column_blob(st, col);

	if (b && (size_t)sqlite3_column_bytes(st, col) == len)
		memcpy(out, b, len);
	else
		memset(out, 0, len);
}

/* 0 binds NULL: ids are never 0. */
static void bind_id(sqlite3_stmt *st, int col, int64_t id)
{
	if (id)
		sqlite3_bind_int64(st, col, id);
	else
		sqlite3_bind_null(st, col);
}

/* Transactions. */

static int tx_begin(struct sq *q)
{
	q->tx_gen = 0;
	return exec(q, "BEGIN IMMEDIATE");
}

static int tx_rollback(struct sq *q, int err)
{
	sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

/* Begins a write transaction with its first statement prepared. */
static int tx_begin_with(struct sq *q, const char *sql, sqlite3_stmt **st)
{
	int rc;

	rc = tx_begin(q);
	if (rc < 0)
		return rc;
	rc = prepare(q, sql, st);
	return rc < 0 ? tx_rollback(q, rc) : 0;
}

static int tx_commit(struct sq *q)
{
	int rc = exec(q, "COMMIT");

	return rc < 0 ? tx_rollback(q, rc) : 0;
}

/* Records that this transaction touched KIND's object ID; the first record
 * bumps the generation. */
static int tx_note(struct sq *q, enum store_kind kind, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (!q->tx_gen) {
		rc = prepare(q, "UPDATE meta SET generation = generation + 1 RETURNING generation", &st);
		if (rc < 0)
			return rc;
		rc = row(q, st);
		if (rc == 1)
			q->tx_gen = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return -EIO;
	}
	rc = prepare(q, "INSERT INTO changes (gen, kind, object) VALUES (?, ?, ?)", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, q->tx_gen);
	sqlite3_bind_int(st, 2, kind);
	sqlite3_bind_int64(st, 3, id);
	rc = run(q, st);
	sqlite3_finalize(st);
	return rc;
}

/* Ends a transaction whose work returned RC: rolled back on failure, else
 * noted as touching KIND's object ID and committed. */
static int tx_end(struct sq *q, int rc, enum store_kind kind, int64_t id)
{
	if (rc < 0)
		return tx_rollback(q, rc);
	rc = tx_note(q, kind, id);
	if (rc < 0)
		return tx_rollback(q, rc);
	return tx_commit(q);
}

/* Runs and finalizes ST, which must change a row: -ENOENT when it changes
 * none. */
static int run_changing(struct sq *q, sqlite3_stmt *st)
{
	int rc = run(q, st);
	bool none = sqlite3_changes(q->db) == 0;

	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	return none ? -ENOENT : 0;
}

/* One statement with integer parameters that must change a row. */
static int change_row(struct sq *q, const char *sql, const int64_t *args, size_t nargs)
{
	sqlite3_stmt *st;
	int rc;

	rc = prepare(q, sql, &st);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < nargs; i++)
		sqlite3_bind_int64(st, (int)i + 1, args[i]);
	return run_changing(q, st);
}

/* A whole transaction: one row-changing statement, then a note. */
static int change_one(struct sq *q, const char *sql, const int64_t *args, size_t nargs, enum store_kind kind,
		      int64_t id)
{
	int rc;

	rc = tx_begin(q);
	if (rc < 0)
		return rc;
	return tx_end(q, change_row(q, sql, args, nargs), kind, id);
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

/* Builds ST's current row into an object and calls F with it. */
typedef int row_fn(sqlite3_stmt *st, const struct feed *f);

/* Feeds every row of ST to ROW, then finalizes ST; with MUST_FIND, no row
 * at all is -ENOENT. */
static int feed_rows(struct sq *q, sqlite3_stmt *st, row_fn *to_object, const struct feed *f, bool must_find)
{
	bool any = false;
	int rc;

	while ((rc = row(q, st)) == 1) {
		any = true;
		if ((rc = to_object(st, f)))
			break;
	}
	sqlite3_finalize(st);
	return rc == 0 && must_find && !any ? -ENOENT : rc;
}

/* The same for a query without parameters. */
static int feed_query(struct sq *q, const char *sql, row_fn *to_object, const struct feed *f)
{
	sqlite3_stmt *st;
	int rc;

	rc = prepare(q, sql, &st);
	if (rc < 0)
		return rc;
	return feed_rows(q, st, to_object, f, false);
}

/* Opening and closing. */

static void sq_close(struct store *s)
{
	struct sq *q = sq_of(s);

	sqlite3_close_v2(q->db);
	free(q);
}

static int64_t sq_schema_version(struct store *s)
{
	return sq_of(s)->version;
}

/* Generation and changes. */

static int sq_generation(struct store *s, int64_t *gen)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	rc = prepare(q, "SELECT generation FROM meta", &st);
	if (rc < 0)
		return rc;
	rc = row(q, st);
	if (rc == 1)
		*gen = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == 1 ? 0 : rc == 0 ? -EIO : rc;
}

static int sq_changes_since(struct store *s, int64_t since, unsigned *kinds, store_change_fn *fn, void *arg)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	*kinds = 0;
	/* One statement, so the forgotten mark and the changes are one snapshot;
	 * the left join yields a row even when nothing changed. */
	rc = prepare(q, "SELECT m.forgotten, c.gen, c.kind, c.object FROM meta m "
		     "LEFT JOIN changes c ON c.gen > ?1 ORDER BY c.gen, c.rowid", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, since);
	while ((rc = row(q, st)) == 1) {
		int64_t gen = sqlite3_column_int64(st, 1);
		enum store_kind kind = (enum store_kind)sqlite3_column_int(st, 2);

		if (since < sqlite3_column_int64(st, 0)) {
			rc = -ERANGE;	/* some of the changes asked for are forgotten */
			break;
		}
		if (!gen)
			continue;
		*kinds |= kind;
		if (fn && (rc = fn(gen, kind, sqlite3_column_int64(st, 3), arg)))
			break;
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_changes_forget(struct store *s, int64_t upto)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	rc = tx_begin_with(q, "DELETE FROM changes WHERE gen <= ?1", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, upto);
	rc = run(q, st);
	sqlite3_finalize(st);
	if (rc < 0)
		return tx_rollback(q, rc);
	rc = prepare(q, "UPDATE meta SET forgotten = max(forgotten, min(?1, generation))", &st);
	if (rc < 0)
		return tx_rollback(q, rc);
	sqlite3_bind_int64(st, 1, upto);
	rc = run(q, st);
	sqlite3_finalize(st);
	if (rc < 0)
		return tx_rollback(q, rc);
	return tx_commit(q);
}

static int sq_read_begin(struct store *s, int64_t *gen)
{
	struct sq *q = sq_of(s);
	int rc;

	rc = exec(q, "BEGIN");
	if (rc < 0)
		return rc;
	rc = sq_generation(s, gen);	/* the snapshot starts with this read */
	if (rc < 0)
		return tx_rollback(q, rc);
	return 0;
}

static int sq_read_end(struct store *s)
{
	return exec(sq_of(s), "COMMIT");
}

/* Users. */

static int sq_user_add(struct store *s, const char *name, const char *email, enum store_role role, int64_t now,
		       int64_t *id)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	rc = tx_begin_with(q, "INSERT INTO users (name, email, role, created) VALUES (?, ?, ?, ?)", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, store_role_name(role), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	rc = run(q, st);
	sqlite3_finalize(st);
	if (rc < 0)
		return tx_rollback(q, rc);
	*id = sqlite3_last_insert_rowid(q->db);
	rc = tx_note(q, STORE_KIND_USER, *id);
	if (rc < 0)
		return tx_rollback(q, rc);
	return tx_commit(q);
}

/* Nodes and auth keys keep their owner: a user who has any stays. */
static int sq_user_remove(struct store *s, int64_t id)
{
	struct sq *q = sq_of(s);
	int rc;

	rc = tx_begin(q);
	if (rc < 0)
		return rc;
	rc = exists(q, "SELECT 1 FROM nodes WHERE user_id = ?1 UNION ALL SELECT 1 FROM authkeys WHERE user_id = ?1", id);
	if (rc != 0)
		return tx_rollback(q, rc < 0 ? rc : -EBUSY);
	rc = change_row(q, "DELETE FROM users WHERE id = ?", &id, 1);
	return tx_end(q, rc, STORE_KIND_USER, id);
}

static int sq_user_by_name(struct store *s, const char *name, int64_t *id)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	rc = prepare(q, "SELECT id FROM users WHERE name = ?", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = row(q, st);
	if (rc == 1)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == 1 ? 0 : rc == 0 ? -ENOENT : rc;
}

static int user_row(sqlite3_stmt *st, const struct feed *f)
{
	struct store_user u = {
		.id = sqlite3_column_int64(st, 0),
		.name = text(st, 1),
		.email = text(st, 2),
		.role = store_role_of(text(st, 3)),
		.created = sqlite3_column_int64(st, 4),
	};
	return f->fn.user(&u, f->arg);
}

static int sq_users_each(struct store *s, store_user_fn *fn, void *arg)
{
	return feed_query(sq_of(s), "SELECT id, name, email, role, created FROM users ORDER BY id", user_row,
			  &(struct feed){ .fn.user = fn, .arg = arg });
}

/* Auth keys. */

static int sq_authkey_create(struct store *s, const struct store_authkey_spec *spec, int64_t now,
			     const uint8_t hash[STORE_KEY_LEN], int64_t *id)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	char *tags;
	int rc;

	tags = store_list_join(&spec->tags);
	if (!tags)
		return -ENOMEM;
	rc = tx_begin(q);
	if (rc < 0)
		goto free_tags;
	rc = prepare(q, "INSERT INTO authkeys (hash, user_id, tags, reusable, expiry, created) VALUES (?, ?, ?, ?, ?, ?)",
		     &st);
	if (rc < 0)
		goto rollback;
	sqlite3_bind_blob(st, 1, hash, STORE_KEY_LEN, SQLITE_STATIC);
	bind_id(st, 2, spec->user_id);
	sqlite3_bind_text(st, 3, tags, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, spec->reusable);
	sqlite3_bind_int64(st, 5, spec->expiry);
	sqlite3_bind_int64(st, 6, now);
	rc = run(q, st);
	sqlite3_finalize(st);
	if (rc < 0)
		goto rollback;
	*id = sqlite3_last_insert_rowid(q->db);
	rc = tx_note(q, STORE_KIND_AUTHKEY, *id);
	if (rc < 0)
		goto rollback;
	rc = tx_commit(q);
	goto free_tags;
rollback:
	tx_rollback(q, rc);
free_tags:
	free(tags);
	return rc;
}

static int sq_authkey_revoke(struct store *s, int64_t id)
{
	return change_one(sq_of(s), "UPDATE authkeys SET revoked = 1 WHERE id = ?", &id, 1, STORE_KIND_AUTHKEY, id);
}

static int authkey_row(sqlite3_stmt *st, const struct feed *f)
{
	struct store_authkey k = {
		.id = sqlite3_column_int64(st, 0),
		.user_id = sqlite3_column_int64(st, 1),
		.reusable = sqlite3_column_int(st, 3),
		.revoked = sqlite3_column_int(st, 4),
		.expiry = sqlite3_column_int64(st, 5),
		.uses = sqlite3_column_int64(st, 6),
		.created = sqlite3_column_int64(st, 7),
	};
	struct store_split tags;
	int rc;

	rc = store_list_split(text(st, 2), &tags, &k.tags);
	if (rc < 0)
		return rc;
	rc = f->fn.authkey(&k, f->arg);
	free(tags.buf);
	return rc;
}

static int sq_authkeys_each(struct store *s, store_authkey_fn *fn, void *arg)
{
	return feed_query(sq_of(s), "SELECT id, user_id, tags, reusable, revoked, expiry, uses, created FROM authkeys "
			  "ORDER BY id", authkey_row, &(struct feed){ .fn.authkey = fn, .arg = arg });
}

/* Registration. */

/* What registration needs of the key, read inside its transaction. */
struct key_row {
	int64_t user_id;
	char *tags;
	bool revoked;
	int64_t expiry;
};

/* The key's row if the secret's HASH matches (compared in constant time);
 * -ENOENT for no such key and for a wrong secret alike. */
static int key_read(struct sq *q, int64_t id, const uint8_t hash[STORE_KEY_LEN], struct key_row *k)
{
	sqlite3_stmt *st;
	int rc;

	rc = prepare(q, "SELECT hash, user_id, tags, revoked, expiry FROM authkeys WHERE id = ?", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = row(q, st);
	if (rc == 0 || (rc == 1 && (sqlite3_column_bytes(st, 0) != STORE_KEY_LEN ||
				    sodium_memcmp(sqlite3_column_blob(st, 0), hash, STORE_KEY_LEN))))
		rc = -ENOENT;
	if (rc == 1) {
		k->user_id = sqlite3_column_int64(st, 1);
		k->tags = strdup(text(st, 2));
		k->revoked = sqlite3_column_int(st, 3);
		k->expiry = sqlite3_column_int64(st, 4);
		rc = k->tags ? 0 : -ENOMEM;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The single place a key is used: one conditional UPDATE, judged by the
 * count of changed rows.  When it changes nothing, K says why. */
static int key_consume(struct sq *q, int64_t id, const struct key_row *k, int64_t now)
{
	const int64_t args[] = { id, now };
	int rc;

	rc = change_row(q, "UPDATE authkeys SET uses = uses + 1 "
			"WHERE id = ?1 AND revoked = 0 AND (reusable OR uses = 0) AND expiry > ?2", args, 2);
	if (rc != -ENOENT)
		return rc;
	return k->revoked ? -EKEYREVOKED : k->expiry <= now ? -EKEYEXPIRED : -EKEYREJECTED;
}

/* Takes the next address of each family past the high-water marks and
 * moves the marks past them. */
static int addresses_take(struct sq *q, uint8_t v4[4], uint8_t v6[16])
{
	uint64_t mark4 = 0, mark6 = 0, i4, i6;
	sqlite3_stmt *st;
	int rc;

	rc = prepare(q, "SELECT next_v4, next_v6 FROM meta", &st);
	if (rc < 0)
		return rc;
	rc = row(q, st);
	if (rc == 1) {
		mark4 = (uint64_t)sqlite3_column_int64(st, 0);
		mark6 = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (rc <= 0)
		return rc < 0 ? rc : -EIO;
	rc = store_addr_v4_next(mark4, &i4);
	if (rc < 0)
		return rc;
	rc = store_addr_v6_next(mark6, &i6);
	if (rc < 0)
		return rc;
	store_addr_v4(i4, v4);
	store_addr_v6(i6, v6);
	return change_row(q, "UPDATE meta SET next_v4 = ?, next_v6 = ?", (const int64_t[]){ i4 + 1, i6 + 1 }, 2);
}

static int node_insert(struct sq *q, const struct store_registration *reg, const struct key_row *k,
		       const uint8_t v4[4], const uint8_t v6[16], int64_t now, int64_t *node_id)
{
	sqlite3_stmt *st;
	char *endpoints;
	int rc;

	endpoints = store_list_join(&reg->endpoints);
	if (!endpoints)
		return -ENOMEM;
	rc = prepare(q, "INSERT INTO nodes (name, user_id, tags, machine_key, wg_key, ipv4, ipv6, endpoints, hostname,"
		     " authkey_id, key_expiry, last_seen, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st);
	if (rc < 0)
		goto free_endpoints;
	sqlite3_bind_text(st, 1, reg->name, -1, SQLITE_STATIC);
	bind_id(st, 2, k->user_id);
	sqlite3_bind_text(st, 3, k->tags, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, reg->machine_key, STORE_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, reg->wg_key, STORE_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, v4, 4, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, v6, 16, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, endpoints, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, reg->hostname ? reg->hostname : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, reg->authkey_id);
	sqlite3_bind_int64(st, 11, reg->key_expiry);
	sqlite3_bind_int64(st, 12, now);
	sqlite3_bind_int64(st, 13, now);
	rc = run(q, st);
	sqlite3_finalize(st);
	if (rc == 0)
		*node_id = sqlite3_last_insert_rowid(q->db);
free_endpoints:
	free(endpoints);
	return rc;
}

static int sq_node_register(struct store *s, const struct store_registration *reg, const uint8_t hash[STORE_KEY_LEN],
			    int64_t now, int64_t *node_id)
{
	struct sq *q = sq_of(s);
	struct key_row k = { 0 };
	uint8_t v4[4], v6[16];
	int rc;

	rc = tx_begin(q);
	if (rc < 0)
		return rc;
	rc = key_read(q, reg->authkey_id, hash, &k);
	if (rc < 0)
		goto rollback;
	rc = key_consume(q, reg->authkey_id, &k, now);
	if (rc < 0)
		goto rollback;
	rc = addresses_take(q, v4, v6);
	if (rc < 0)
		goto rollback;
	rc = node_insert(q, reg, &k, v4, v6, now, node_id);
	if (rc < 0)
		goto rollback;
	rc = tx_note(q, STORE_KIND_AUTHKEY, reg->authkey_id);
	if (rc < 0)
		goto rollback;
	rc = tx_note(q, STORE_KIND_NODE, *node_id);
	if (rc < 0)
		goto rollback;
	rc = tx_commit(q);
	goto free_key;
rollback:
	tx_rollback(q, rc);
free_key:
	free(k.tags);
	return rc;
}

/* Nodes. */

static int sq_node_set_endpoints(struct store *s, int64_t id, const struct store_list *endpoints, int64_t now)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	char *joined;
	int rc;

	joined = store_list_join(endpoints);
	if (!joined)
		return -ENOMEM;
	rc = tx_begin(q);
	if (rc < 0)
		goto free_joined;
	rc = prepare(q, "UPDATE nodes SET endpoints = ?, last_seen = ? WHERE id = ?", &st);
	if (rc < 0)
		goto rollback;
	sqlite3_bind_text(st, 1, joined, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	rc = run_changing(q, st);
	if (rc < 0)
		goto rollback;
	rc = tx_note(q, STORE_KIND_NODE, id);
	if (rc < 0)
		goto rollback;
	rc = tx_commit(q);
	goto free_joined;
rollback:
	tx_rollback(q, rc);
free_joined:
	free(joined);
	return rc;
}

static int sq_node_set_wg_key(struct store *s, int64_t id, const uint8_t wg_key[STORE_KEY_LEN], int64_t now)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	rc = tx_begin_with(q, "UPDATE nodes SET wg_key = ?, last_seen = ? WHERE id = ?", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_blob(st, 1, wg_key, STORE_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	rc = run_changing(q, st);
	return tx_end(q, rc, STORE_KIND_NODE, id);
}

static int sq_node_seen(struct store *s, int64_t id, int64_t now)
{
	return change_one(sq_of(s), "UPDATE nodes SET last_seen = ?2 WHERE id = ?1", (const int64_t[]){ id, now }, 2,
			  STORE_KIND_NODE, id);
}

static int sq_node_expire(struct store *s, int64_t id)
{
	return change_one(sq_of(s), "UPDATE nodes SET expired = 1 WHERE id = ?", &id, 1, STORE_KIND_NODE, id);
}

static int sq_node_remove(struct store *s, int64_t id)
{
	struct sq *q = sq_of(s);
	int rc;

	rc = tx_begin(q);
	if (rc < 0)
		return rc;
	rc = change_row(q, "DELETE FROM nodes WHERE id = ?", &id, 1);	/* routes go by cascade */
	if (rc < 0)
		return tx_rollback(q, rc);
	rc = tx_note(q, STORE_KIND_NODE, id);
	return tx_end(q, rc, STORE_KIND_ROUTE, id);
}

#define NODE_COLUMNS "SELECT id, name, user_id, tags, machine_key, wg_key, ipv4, ipv6, endpoints, hostname, " \
		     "authkey_id, key_expiry, last_seen, created, expired FROM nodes "

static int node_row(sqlite3_stmt *st, const struct feed *f)
{
	struct store_node n = {
		.id = sqlite3_column_int64(st, 0),
		.name = text(st, 1),
		.user_id = sqlite3_column_int64(st, 2),
		.hostname = text(st, 9),
		.authkey_id = sqlite3_column_int64(st, 10),
		.key_expiry = sqlite3_column_int64(st, 11),
		.last_seen = sqlite3_column_int64(st, 12),
		.created = sqlite3_column_int64(st, 13),
		.expired = sqlite3_column_int(st, 14),
	};
	struct store_split tags, endpoints;
	int rc;

	blob(st, 4, n.machine_key, sizeof(n.machine_key));
	blob(st, 5, n.wg_key, sizeof(n.wg_key));
	blob(st, 6, n.ipv4, sizeof(n.ipv4));
	blob(st, 7, n.ipv6, sizeof(n.ipv6));
	rc = store_list_split(text(st, 3), &tags, &n.tags);
	if (rc < 0)
		return rc;
	rc = store_list_split(text(st, 8), &endpoints, &n.endpoints);
	if (rc < 0)
		goto free_tags;
	rc = f->fn.node(&n, f->arg);
	free(endpoints.buf);
free_tags:
	free(tags.buf);
	return rc;
}

static int sq_nodes_each(struct store *s, store_node_fn *fn, void *arg)
{
	return feed_query(sq_of(s), NODE_COLUMNS "ORDER BY id", node_row, &(struct feed){ .fn.node = fn, .arg = arg });
}

static int sq_node_find(struct store *s, int64_t id, const char *name, const uint8_t *machine_key,
			store_node_fn *fn, void *arg)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	rc = prepare(q, id ? NODE_COLUMNS "WHERE id = ?" : name ? NODE_COLUMNS "WHERE name = ?" :
		     NODE_COLUMNS "WHERE machine_key = ?", &st);
	if (rc < 0)
		return rc;
	if (id)
		sqlite3_bind_int64(st, 1, id);
	else if (name)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_blob(st, 1, machine_key, STORE_KEY_LEN, SQLITE_STATIC);
	return feed_rows(q, st, node_row, &(struct feed){ .fn.node = fn, .arg = arg }, true);
}

/* Routes.  A route row's advertised column is 1 while the node advertises
 * it, 0 once withdrawn (its decision kept). */

static int route_upsert(struct sq *q, int64_t node_id, const char *prefix, int64_t now)
{
	sqlite3_stmt *st;
	int rc;

	rc = prepare(q, "INSERT INTO routes (node_id, prefix, advertised, advertised_at, state) "
		     "VALUES (?1, ?2, 1, ?3, 'pending') ON CONFLICT (node_id, prefix) DO UPDATE SET "
		     "advertised_at = CASE WHEN advertised THEN advertised_at ELSE excluded.advertised_at END, "
		     "advertised = 1", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, node_id);
	sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	rc = run(q, st);
	sqlite3_finalize(st);
	return rc;
}

static int sq_routes_advertise(struct store *s, int64_t node_id, const struct store_list *prefixes, int64_t now)
{
	struct sq *q = sq_of(s);
	int rc;

	rc = tx_begin(q);
	if (rc < 0)
		return rc;
	rc = exists(q, "SELECT 1 FROM nodes WHERE id = ?1", node_id);
	if (rc <= 0)
		return tx_rollback(q, rc < 0 ? rc : -ENOENT);
	/* Mark the advertised ones 2, re-advertise the listed ones, and what
	 * is still 2 is withdrawn. */
	rc = change_row(q, "UPDATE routes SET advertised = 2 WHERE node_id = ? AND advertised", &node_id, 1);
	if (rc < 0 && rc != -ENOENT)
		return tx_rollback(q, rc);
	for (size_t i = 0; i < prefixes->n; i++)
		if ((rc = route_upsert(q, node_id, prefixes->items[i], now)) < 0)
			return tx_rollback(q, rc);
	rc = change_row(q, "UPDATE routes SET advertised = 0 WHERE node_id = ? AND advertised = 2", &node_id, 1);
	if (rc < 0 && rc != -ENOENT)
		return tx_rollback(q, rc);
	rc = tx_note(q, STORE_KIND_ROUTE, node_id);
	if (rc < 0)
		return tx_rollback(q, rc);
	return tx_commit(q);
}

static int sq_route_decide(struct store *s, int64_t node_id, const char *prefix, enum store_route_state state,
			   int64_t by, const char *auto_approver, int64_t now)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	rc = tx_begin_with(q, "UPDATE routes SET state = ?, decided_by = ?, auto_approver = ?, decided_at = ? "
			   "WHERE node_id = ? AND prefix = ? AND advertised", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, store_route_state_name(state), -1, SQLITE_STATIC);
	bind_id(st, 2, by);
	if (auto_approver)
		sqlite3_bind_text(st, 3, auto_approver, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, node_id);
	sqlite3_bind_text(st, 6, prefix, -1, SQLITE_STATIC);
	rc = run_changing(q, st);
	return tx_end(q, rc, STORE_KIND_ROUTE, node_id);
}

static int sq_route_set_primary(struct store *s, const char *prefix, int64_t node_id, int64_t now)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	/* The node's route first: it must exist before the others lose it. */
	rc = tx_begin_with(q, "UPDATE routes SET primary_since = CASE primary_since WHEN 0 THEN ? ELSE primary_since END"
			   " WHERE node_id = ? AND prefix = ? AND advertised", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, node_id);
	sqlite3_bind_text(st, 3, prefix, -1, SQLITE_STATIC);
	rc = run_changing(q, st);
	if (rc == 0 && (rc = prepare(q, "UPDATE routes SET primary_since = 0 WHERE prefix = ? AND node_id <> ?", &st)) == 0) {
		sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, node_id);
		rc = run(q, st);
		sqlite3_finalize(st);
	}
	return tx_end(q, rc, STORE_KIND_ROUTE, node_id);
}

static int route_row(sqlite3_stmt *st, const struct feed *f)
{
	struct store_route r = {
		.node_id = sqlite3_column_int64(st, 0),
		.prefix = text(st, 1),
		.advertised = sqlite3_column_int(st, 2),
		.advertised_at = sqlite3_column_int64(st, 3),
		.state = store_route_state_of(text(st, 4)),
		.decided_by = sqlite3_column_int64(st, 5),
		.auto_approver = (const char *)sqlite3_column_text(st, 6),
		.decided_at = sqlite3_column_int64(st, 7),
		.primary_since = sqlite3_column_int64(st, 8),
	};
	return f->fn.route(&r, f->arg);
}

static int sq_routes_each(struct store *s, store_route_fn *fn, void *arg)
{
	return feed_query(sq_of(s), "SELECT node_id, prefix, advertised, advertised_at, state, decided_by, auto_approver,"
			  " decided_at, primary_since FROM routes ORDER BY node_id, prefix", route_row,
			  &(struct feed){ .fn.route = fn, .arg = arg });
}

/* The policy. */

static int sq_policy_set(struct store *s, const char *ptext, int64_t by, int64_t if_version, int64_t now,
			 int64_t *version)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int64_t live = 0;
	int rc;

	rc = tx_begin_with(q, "SELECT coalesce(max(version), 0) FROM policies", &st);
	if (rc < 0)
		return rc;
	rc = row(q, st);
	if (rc == 1)
		live = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc < 0)
		return tx_rollback(q, rc);
	if (if_version >= 0 && live != if_version)
		return tx_rollback(q, -ESTALE);
	rc = prepare(q, "INSERT INTO policies (version, text, set_by, set_at) VALUES (?, ?, ?, ?)", &st);
	if (rc < 0)
		return tx_rollback(q, rc);
	sqlite3_bind_int64(st, 1, live + 1);
	sqlite3_bind_text(st, 2, ptext, -1, SQLITE_STATIC);
	bind_id(st, 3, by);
	sqlite3_bind_int64(st, 4, now);
	rc = run(q, st);
	sqlite3_finalize(st);
	if (rc < 0)
		return tx_rollback(q, rc);
	rc = tx_note(q, STORE_KIND_POLICY, live + 1);
	if (rc < 0)
		return tx_rollback(q, rc);
	rc = tx_commit(q);
	if (rc == 0)
		*version = live + 1;
	return rc;
}

#define POLICY_COLUMNS "SELECT version, text, set_by, set_at FROM policies "

static int policy_row(sqlite3_stmt *st, const struct feed *f)
{
	struct store_policy p = {
		.version = sqlite3_column_int64(st, 0),
		.text = text(st, 1),
		.set_by = sqlite3_column_int64(st, 2),
		.set_at = sqlite3_column_int64(st, 3),
	};
	return f->fn.policy(&p, f->arg);
}

static int sq_policy_get(struct store *s, int64_t version, store_policy_fn *fn, void *arg)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	rc = prepare(q, version ? POLICY_COLUMNS "WHERE version = ?" : POLICY_COLUMNS "ORDER BY version DESC LIMIT 1",
		     &st);
	if (rc < 0)
		return rc;
	if (version)
		sqlite3_bind_int64(st, 1, version);
	return feed_rows(q, st, policy_row, &(struct feed){ .fn.policy = fn, .arg = arg }, true);
}

static int sq_policy_history(struct store *s, store_policy_fn *fn, void *arg)
{
	return feed_query(sq_of(s), POLICY_COLUMNS "ORDER BY version", policy_row,
			  &(struct feed){ .fn.policy = fn, .arg = arg });
}

/* Settings. */

static int sq_setting_set(struct store *s, const char *name, const char *value, bool replace)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	rc = tx_begin_with(q, replace ? "INSERT INTO settings (name, value) VALUES (?1, ?2) "
			   "ON CONFLICT (name) DO UPDATE SET value = excluded.value" :
			   "INSERT INTO settings (name, value) VALUES (?1, ?2)", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = run(q, st);
	sqlite3_finalize(st);
	return tx_end(q, rc, STORE_KIND_SETTING, 0);
}

static int sq_setting_get(struct store *s, const char *name, char *value, size_t len)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	rc = prepare(q, "SELECT value FROM settings WHERE name = ?", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = row(q, st);
	if (rc == 0)
		rc = -ENOENT;
	else if (rc == 1)
		rc = (size_t)snprintf(value, len, "%s", text(st, 0)) < len ? 0 : -ENAMETOOLONG;
	sqlite3_finalize(st);
	return rc;
}

static const struct store_ops sqlite_ops = {
	.close = sq_close,
	.schema_version = sq_schema_version,
	.generation = sq_generation,
	.changes_since = sq_changes_since,
	.changes_forget = sq_changes_forget,
	.read_begin = sq_read_begin,
	.read_end = sq_read_end,
	.user_add = sq_user_add,
	.user_remove = sq_user_remove,
	.user_by_name = sq_user_by_name,
	.users_each = sq_users_each,
	.authkey_create = sq_authkey_create,
	.authkey_revoke = sq_authkey_revoke,
	.authkeys_each = sq_authkeys_each,
	.node_register = sq_node_register,
	.node_set_endpoints = sq_node_set_endpoints,
	.node_set_wg_key = sq_node_set_wg_key,
	.node_seen = sq_node_seen,
	.node_expire = sq_node_expire,
	.node_remove = sq_node_remove,
	.nodes_each = sq_nodes_each,
	.node_find = sq_node_find,
	.routes_advertise = sq_routes_advertise,
	.route_decide = sq_route_decide,
	.routes_each = sq_routes_each,
	.route_set_primary = sq_route_set_primary,
	.policy_set = sq_policy_set,
	.policy_get = sq_policy_get,
	.policy_history = sq_policy_history,
	.setting_set = sq_setting_set,
	.setting_get = sq_setting_get,
};

/* The connection's settings; journal_mode answers with the mode it got. */
static int configure(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	bool wal = false;
	int rc;

	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db, 1);
	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		wal = rc == SQLITE_ROW && !sqlite3_stricmp(text(st, 0), "wal");
		sqlite3_finalize(st);
		rc = SQLITE_OK;
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return store_sqlite_errno(rc);
	}
	if (!wal) {
		snprintf(err, errlen, "%s: the database refuses write-ahead logging: %s", path, sqlite3_errmsg(db));
		return -EINVAL;
	}
	return 0;
}

int store_sqlite_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct sq *q;
	int rc;

	q = calloc(1, sizeof(*q));
	if (!q) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	q->base.ops = &sqlite_ops;
	rc = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
		rc = store_sqlite_errno(rc);
		goto close_db;
	}
	rc = configure(q->db, path, err, errlen);
	if (rc < 0)
		goto close_db;
	rc = store_sqlite_migrate(q->db, path, &q->version, err, errlen);
	if (rc < 0)
		goto close_db;
	*out = &q->base;
	return 0;
close_db:
	sqlite3_close_v2(q->db);
	free(q);
	return rc;
}
