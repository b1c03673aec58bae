/* store_sqlite_schema: numbered migrations and the schema check.  A
 * migration is never edited once released; a change of schema is a new
 * entry at the end of the list. */
#include <errno.h>
#include <stdio.h>

#include "store_backend.h"
#include "store_sqlite.h"

static const char *const migrations[] = {
	/* 1: the first schema. */
	"CREATE TABLE meta ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  generation INTEGER NOT NULL,"	/* bumped by every committed change */
	"  forgotten INTEGER NOT NULL,"		/* changes up to here are no longer listed */
	"  next_v4 INTEGER NOT NULL,"		/* address high-water marks: never reused */
	"  next_v6 INTEGER NOT NULL);"
	"INSERT INTO meta VALUES (1, 0, 0, 1, 1);"
	"CREATE TABLE changes (gen INTEGER NOT NULL, kind INTEGER NOT NULL, object INTEGER NOT NULL);"
	"CREATE INDEX changes_by_gen ON changes (gen);"
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  email TEXT NOT NULL,"
	"  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE authkeys ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32),"
	"  user_id INTEGER REFERENCES users (id) ON DELETE RESTRICT,"
	"  tags TEXT NOT NULL,"
	"  reusable INTEGER NOT NULL,"
	"  revoked INTEGER NOT NULL DEFAULT 0,"
	"  expiry INTEGER NOT NULL,"
	"  uses INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  CHECK ((user_id IS NULL) <> (tags = '')));"
	"CREATE TABLE nodes ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  user_id INTEGER REFERENCES users (id) ON DELETE RESTRICT,"
	"  tags TEXT NOT NULL,"
	"  machine_key BLOB NOT NULL UNIQUE CHECK (length(machine_key) = 32),"
	"  wg_key BLOB NOT NULL CHECK (length(wg_key) = 32),"
	"  ipv4 BLOB NOT NULL UNIQUE CHECK (length(ipv4) = 4),"
	"  ipv6 BLOB NOT NULL UNIQUE CHECK (length(ipv6) = 16),"
	"  endpoints TEXT NOT NULL,"
	"  hostname TEXT NOT NULL,"
	"  authkey_id INTEGER NOT NULL REFERENCES authkeys (id) ON DELETE RESTRICT,"
	"  key_expiry INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expired INTEGER NOT NULL DEFAULT 0,"
	"  CHECK ((user_id IS NULL) <> (tags = '')));"
	"CREATE TABLE routes ("
	"  node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,"
	"  prefix TEXT NOT NULL,"
	"  advertised INTEGER NOT NULL,"
	"  advertised_at INTEGER NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),"
	"  decided_by INTEGER REFERENCES users (id) ON DELETE SET NULL,"
	"  auto_approver TEXT,"
	"  decided_at INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (node_id, prefix));"
	"CREATE TABLE policies ("
	"  version INTEGER PRIMARY KEY,"
	"  text TEXT NOT NULL,"
	"  set_by INTEGER REFERENCES users (id) ON DELETE SET NULL,"
	"  set_at INTEGER NOT NULL);"
	"CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
	       "one migration per schema version");

/* Every column the backend reads or writes, table by table. */
static const char *const schema_check[] = {
	"SELECT id, generation, forgotten, next_v4, next_v6 FROM meta",
	"SELECT gen, kind, object FROM changes",
	"SELECT id, name, email, role, created FROM users",
	"SELECT id, hash, user_id, tags, reusable, revoked, expiry, uses, created FROM authkeys",
	"SELECT id, name, user_id, tags, machine_key, wg_key, ipv4, ipv6, endpoints, hostname, authkey_id,"
	" key_expiry, last_seen, created, expired FROM nodes",
	"SELECT node_id, prefix, advertised, advertised_at, state, decided_by, auto_approver, decided_at FROM routes",
	"SELECT version, text, set_by, set_at FROM policies",
	"SELECT name, value FROM settings",
};

static int query_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

int store_sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY: case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_NOTADB: case SQLITE_CORRUPT: return -EINVAL;
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_CANTOPEN: return -EACCES;
	default: return -EIO;
	}
}

/* A database holding tables but no migration record is someone else's. */
static int check_ours(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int64_t ours = 0, tables = 0;
	int rc;

	rc = query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'", &ours);
	if (rc == SQLITE_OK)
		rc = query_int(db, "SELECT count(*) FROM sqlite_master", &tables);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: not a keygate state database: %s", path, sqlite3_errstr(rc));
		return store_sqlite_errno(rc);
	}
	if (!ours && tables) {
		snprintf(err, errlen, "%s: not a keygate state database (tables but no schema_migrations)", path);
		return -EINVAL;
	}
	return 0;
}

/* Applies the migration after the current version, or none when the
 * database is current; *VERSION is the version after. */
static int migrate_one(sqlite3 *db, const char *path, int64_t *version, char *err, size_t errlen)
{
	char insert[96];
	int rc;

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE;"
			  "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = query_int(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", version);
	if (rc != SQLITE_OK)
		goto fail;
	if (*version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: database schema version %lld is newer than this keygate's (%d); "
			 "use the keygate that wrote it or a newer one", path, (long long)*version, STORE_SCHEMA_VERSION);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -EPROTONOSUPPORT;
	}
	if (*version < STORE_SCHEMA_VERSION) {
		rc = sqlite3_exec(db, migrations[*version], NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto fail;
		snprintf(insert, sizeof(insert), "INSERT INTO schema_migrations VALUES (%lld, strftime('%%s', 'now'))",
			 (long long)++*version);
		rc = sqlite3_exec(db, insert, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto fail;
	}
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: migrating to schema version %lld: %s", path, (long long)*version + 1,
		 sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return store_sqlite_errno(rc);
}

static int check_schema(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(schema_check) / sizeof(schema_check[0]); i++) {
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(db, schema_check[i], -1, &st, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: schema check failed: %s", path, sqlite3_errmsg(db));
			return -EINVAL;
		}
		sqlite3_finalize(st);
	}
	return 0;
}

int store_sqlite_migrate(sqlite3 *db, const char *path, int64_t *version, char *err, size_t errlen)
{
	int rc;

	*version = 0;
	rc = check_ours(db, path, err, errlen);
	if (rc < 0)
		return rc;
	do {
		int64_t before = *version;

		rc = migrate_one(db, path, version, err, errlen);
		if (rc < 0)
			return rc;
		if (*version == before)
			break;
	} while (*version < STORE_SCHEMA_VERSION);
	return check_schema(db, path, err, errlen);
}
