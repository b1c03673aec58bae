/* store_test.h: helpers test_store and test_store_proc share: a database in
 * a fresh temporary directory, users, keys and registrations in one call,
 * and a raw SQLite look at the file.  Inline, so a test that uses one of
 * them only does not warn about the others. */
#ifndef STORE_TEST_H
#define STORE_TEST_H
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

#define NOW INT64_C(1800000000)
#define DAY INT64_C(86400)

struct tdir {
	char dir[64];
	char db[96];
};

static inline int tdir_make(struct tdir *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_store.XXXXXX");
	if (!mkdtemp(t->dir))
		return -errno;
	snprintf(t->db, sizeof(t->db), "%s/state.db", t->dir);
	return 0;
}

static inline void tdir_remove(struct tdir *t)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char path[128];

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

	if (sqlite3_open_v2(db, &c, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(c);
	return v;
}

/* Runs SQL over a connection of our own; 0 or the SQLite error code. */
static inline int tsql_exec(const char *db, const char *sql)
{
	sqlite3 *c;
	int rc = sqlite3_open_v2(db, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);

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
