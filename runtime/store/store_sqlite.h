/* store_sqlite: the SQLite backend's parts shared between its files. */
#ifndef STORE_SQLITE_H
#define STORE_SQLITE_H
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* Brings the database to STORE_SCHEMA_VERSION, one transaction per
 * migration, then checks that every table has the columns the backend uses.
 * -EPROTONOSUPPORT: written by a newer keygate; -EINVAL: not a keygate
 * database or a schema that fails the check; the sentence is left in ERR. */
int store_sqlite_migrate(sqlite3 *db, const char *path, int64_t *version, char *err, size_t errlen);

/* -errno for an SQLite result code. */
int store_sqlite_errno(int rc);

#endif
