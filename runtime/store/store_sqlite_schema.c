/* store_sqlite_schema: running the numbered migrations (store_schema.c)
 * and the schema check on SQLite. */
#include <errno.h>
#include <stdio.h>

#include "store_backend.h"
#include "store_schema.h"
#include "store_sqlite.h"

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
		rc = sqlite3_exec(db, store_migrations[*version].sqlite, NULL, NULL, NULL);
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
	for (size_t i = 0; i < STORE_SCHEMA_TABLES; i++) {
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(db, store_schema_check[i], -1, &st, NULL) != SQLITE_OK) {
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
