/* store_test.h: helpers test_store and test_store_proc share: a fresh
 * database (a file in a temporary directory, or, once tpg_start has started
 * a PostgreSQL server with tests/pg.sh, a database of its own on it), users,
 * keys and registrations in one call, and a raw SQL look at the database.
 * Inline, so a test that uses one of them only does not warn about the
 * others. */
#ifndef STORE_TEST_H
#define STORE_TEST_H
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "store.h"

#define NOW INT64_C(1800000000)
#define DAY INT64_C(86400)

/* The PostgreSQL test server's socket directory; empty: the tests run on
 * SQLite. */
static char tpg_dir[64];

static inline bool tpg(void)
{
	return tpg_dir[0] != '\0';
}

static inline bool tpg_location(const char *db)
{
	return !strncmp(db, "postgresql://", 13);
}

/* Runs SQL on CONNINFO: 0, with the first column of the first row in *V
 * when V is set and there is one, or -EIO. */
static inline int tpg_sql(const char *conninfo, const char *sql, int64_t *v)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
	int rc = -EIO;

	switch (PQresultStatus(r)) {
	case PGRES_TUPLES_OK:
		if (v && PQntuples(r) > 0)
			*v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		/* fall through */
	case PGRES_COMMAND_OK:
		rc = 0;
		break;
	default:
		break;
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

static inline int tpg_admin(const char *sql)
{
	char conninfo[192];

	snprintf(conninfo, sizeof(conninfo), "host=%s user=keygate dbname=postgres options=-cclient_min_messages=warning", tpg_dir);
	return tpg_sql(conninfo, sql, NULL);
}

/* Starts the server (tests/pg.sh under $KG_TOP), which stops by itself
 * should this process die first: true, or false with the reason in WHY. */
static inline bool tpg_start(char *why, size_t len)
{
	const char *top = getenv("KG_TOP");
	char cmd[512], out[256] = "";
	size_t n = 0;
	FILE *f;
	int st;

	if (!top) {
		snprintf(why, len, "KG_TOP is not set (run through tests/run)");
		return false;
	}
	snprintf(tpg_dir, sizeof(tpg_dir), "/tmp/kgpg.XXXXXX");
	if (!mkdtemp(tpg_dir)) {
		snprintf(why, len, "mkdtemp: %s", strerror(errno));
		tpg_dir[0] = '\0';
		return false;
	}
	snprintf(cmd, sizeof(cmd), "%s/tests/pg.sh start %s %d 2>&1", top, tpg_dir, (int)getpid());
	f = popen(cmd, "r");
	if (f) {
		n = fread(out, 1, sizeof(out) - 1, f);
		out[n] = '\0';
		out[strcspn(out, "\n")] = '\0';
	}
	st = f ? pclose(f) : -1;
	if (st != 0) {
		snprintf(why, len, "%s", n ? out : "tests/pg.sh did not run");
		rmdir(tpg_dir);
		tpg_dir[0] = '\0';
		return false;
	}
	return true;
}

static inline void tpg_stop(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "%s/tests/pg.sh stop %s", getenv("KG_TOP"), tpg_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s failed\n", cmd);
	tpg_dir[0] = '\0';
}

/* A fresh database: DIR is a temporary directory holding the SQLite file DB,
 * or the name of a new schema on the PostgreSQL server, which DB's URI
 * makes its connections' search path (a schema is made in a moment, a
 * database is not). */
struct tdir {
	char dir[64];
	char db[256];
};

static inline int tdir_make(struct tdir *t)
{
	static unsigned count;
	char sql[96];

	if (tpg()) {
		snprintf(t->dir, sizeof(t->dir), "kgt_%d_%u", (int)getpid(), count++);
		snprintf(t->db, sizeof(t->db), "postgresql:///postgres?host=%s&user=keygate&options=-csearch_path%%3D%s",
			 tpg_dir, t->dir);
		snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", t->dir);
		return tpg_admin(sql);
	}
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_store.XXXXXX");
	if (!mkdtemp(t->dir))
		return -errno;
	snprintf(t->db, sizeof(t->db), "%s/state.db", t->dir);
	return 0;
}

static inline void tdir_remove(struct tdir *t)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char path[320];

	if (tpg_location(t->db)) {
		snprintf(path, sizeof(path), "DROP SCHEMA IF EXISTS %s CASCADE", t->dir);
		tpg_admin(path);
		return;
	}
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", t->db, suffixes[i]);
		unlink(path);
	}
	rmdir(t->dir);
}

static inline struct store *tstore_open(const char *db)
{
	struct store *s = NULL;
	char err[256];
	int rc = store_open(db, &s, err, sizeof(err));

	if (rc < 0)
		fprintf(stderr, "store_open: %s (%d)\n", err, rc);
	return s;
}

/* A key fills the 32 bytes with one byte value, enough to tell them apart. */
static inline void tkey(uint8_t key[STORE_KEY_LEN], unsigned n)
{
	memset(key, 0, STORE_KEY_LEN);
	memcpy(key, &n, sizeof(n));
	key[STORE_KEY_LEN - 1] = 0x5a;
}

/* A key of USER (or, with USER 0, of tag:relay). */
static inline int tauthkey(struct store *s, int64_t user, bool reusable, int64_t expiry, int64_t *id,
			   uint8_t secret[STORE_KEY_LEN])
{
	static const char *const relay[] = { "tag:relay" };
	struct store_authkey_spec spec = {
		.user_id = user,
		.tags = { user ? NULL : relay, user ? 0 : 1 },
		.reusable = reusable,
		.expiry = expiry,
	};
	return store_authkey_create(s, &spec, NOW, id, secret);
}

/* Registers node NAME with machine key number N. */
static inline int tregister(struct store *s, int64_t key, const uint8_t secret[STORE_KEY_LEN], const char *name,
			    unsigned n, int64_t now, int64_t *node)
{
	static const char *const eps[] = { "192.0.2.1:41641", "[2001:db8::1]:41641" };
	struct store_registration reg = {
		.authkey_id = key,
		.name = name,
		.hostname = name,
		.endpoints = { eps, 2 },
		.key_expiry = now + 180 * DAY,
	};
	memcpy(reg.secret, secret, STORE_KEY_LEN);
	tkey(reg.machine_key, n);
	tkey(reg.wg_key, n + 1000000);
	return store_register(s, &reg, now, node);
}

/* One integer from SQL over a connection of our own. */
static inline int64_t tsql_int(const char *db, const char *sql)
{
	sqlite3 *c;
	sqlite3_stmt *st;
	int64_t v = -1;

	if (tpg_location(db))
		return tpg_sql(db, sql, &v) == 0 ? v : -1;
	if (sqlite3_open_v2(db, &c, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(c);
	return v;
}

/* Runs SQL over a connection of our own; 0 or an error code. */
static inline int tsql_exec(const char *db, const char *sql)
{
	sqlite3 *c;
	int rc;

	if (tpg_location(db))
		return tpg_sql(db, sql, NULL);
	rc = sqlite3_open_v2(db, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c, sql, NULL, NULL, NULL);
	sqlite3_close(c);
	return rc;
}

/* PRAGMA integrity_check's first answer is "ok" on a sound file. */
static inline bool tsql_integrity_ok(const char *db)
{
	sqlite3 *c;
	sqlite3_stmt *st;
	bool ok = false;

	if (sqlite3_open_v2(db, &c, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
		ok = sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
		sqlite3_finalize(st);
	}
	sqlite3_close(c);
	return ok;
}

#endif
