/* store_schema: the numbered migrations, one list for every backend, each
 * entry in each dialect (the same tables and columns; the types and the
 * id generators are each database's own).  A migration is never edited
 * once released; a change of schema is a new entry at the end of the list,
 * written for both. */
#include "store_schema.h"

const struct store_migration store_migrations[STORE_SCHEMA_VERSION] = {
	/* 1: the first schema. */
	{
	.sqlite =
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
	.pg =
		"CREATE TABLE meta ("
		"  id INTEGER PRIMARY KEY CHECK (id = 1),"
		"  generation BIGINT NOT NULL,"
		"  forgotten BIGINT NOT NULL,"
		"  next_v4 BIGINT NOT NULL,"
		"  next_v6 BIGINT NOT NULL);"
		"INSERT INTO meta VALUES (1, 0, 0, 1, 1);"
		/* seq keeps the order of a transaction's records, as SQLite's rowid does. */
		"CREATE TABLE changes (seq BIGSERIAL PRIMARY KEY, gen BIGINT NOT NULL, kind INTEGER NOT NULL,"
		"  object BIGINT NOT NULL);"
		"CREATE INDEX changes_by_gen ON changes (gen);"
		"CREATE TABLE users ("
		"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
		"  name TEXT NOT NULL UNIQUE,"
		"  email TEXT NOT NULL,"
		"  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),"
		"  created BIGINT NOT NULL);"
		"CREATE TABLE authkeys ("
		"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
		"  hash BYTEA NOT NULL CHECK (length(hash) = 32),"
		"  user_id BIGINT REFERENCES users (id) ON DELETE RESTRICT,"
		"  tags TEXT NOT NULL,"
		"  reusable INTEGER NOT NULL,"
		"  revoked INTEGER NOT NULL DEFAULT 0,"
		"  expiry BIGINT NOT NULL,"
		"  uses BIGINT NOT NULL DEFAULT 0,"
		"  created BIGINT NOT NULL,"
		"  CHECK ((user_id IS NULL) <> (tags = '')));"
		"CREATE TABLE nodes ("
		"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
		"  name TEXT NOT NULL UNIQUE,"
		"  user_id BIGINT REFERENCES users (id) ON DELETE RESTRICT,"
		"  tags TEXT NOT NULL,"
		"  machine_key BYTEA NOT NULL UNIQUE CHECK (length(machine_key) = 32),"
		"  wg_key BYTEA NOT NULL CHECK (length(wg_key) = 32),"
		"  ipv4 BYTEA NOT NULL UNIQUE CHECK (length(ipv4) = 4),"
		"  ipv6 BYTEA NOT NULL UNIQUE CHECK (length(ipv6) = 16),"
		"  endpoints TEXT NOT NULL,"
		"  hostname TEXT NOT NULL,"
		"  authkey_id BIGINT NOT NULL REFERENCES authkeys (id) ON DELETE RESTRICT,"
		"  key_expiry BIGINT NOT NULL,"
		"  last_seen BIGINT NOT NULL,"
		"  created BIGINT NOT NULL,"
		"  expired INTEGER NOT NULL DEFAULT 0,"
		"  CHECK ((user_id IS NULL) <> (tags = '')));"
		"CREATE TABLE routes ("
		"  node_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,"
		"  prefix TEXT NOT NULL,"
		"  advertised INTEGER NOT NULL,"
		"  advertised_at BIGINT NOT NULL,"
		"  state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),"
		"  decided_by BIGINT REFERENCES users (id) ON DELETE SET NULL,"
		"  auto_approver TEXT,"
		"  decided_at BIGINT NOT NULL DEFAULT 0,"
		"  PRIMARY KEY (node_id, prefix));"
		"CREATE TABLE policies ("
		"  version BIGINT PRIMARY KEY,"
		"  text TEXT NOT NULL,"
		"  set_by BIGINT REFERENCES users (id) ON DELETE SET NULL,"
		"  set_at BIGINT NOT NULL);"
		"CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
	},
	/* 2: the elected primary of each prefix (issue 14): the time a route
	 * of this node became its prefix's primary, 0 when it is not. */
	{
	.sqlite = "ALTER TABLE routes ADD COLUMN primary_since INTEGER NOT NULL DEFAULT 0;",
	.pg = "ALTER TABLE routes ADD COLUMN primary_since BIGINT NOT NULL DEFAULT 0;",
	},
};

/* Every column the backend reads or writes, table by table. */
const char *const store_schema_check[STORE_SCHEMA_TABLES] = {
	"SELECT id, generation, forgotten, next_v4, next_v6 FROM meta",
	"SELECT gen, kind, object FROM changes",
	"SELECT id, name, email, role, created FROM users",
	"SELECT id, hash, user_id, tags, reusable, revoked, expiry, uses, created FROM authkeys",
	"SELECT id, name, user_id, tags, machine_key, wg_key, ipv4, ipv6, endpoints, hostname, authkey_id,"
	" key_expiry, last_seen, created, expired FROM nodes",
	"SELECT node_id, prefix, advertised, advertised_at, state, decided_by, auto_approver, decided_at,"
	" primary_since FROM routes",
	"SELECT version, text, set_by, set_at FROM policies",
	"SELECT name, value FROM settings",
};
