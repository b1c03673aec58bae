/* store_schema: the schema every backend migrates to, in each dialect. */
#ifndef STORE_SCHEMA_H
#define STORE_SCHEMA_H
#include "store_backend.h"

struct store_migration {
	const char *sqlite;
	const char *pg;
};

/* store_migrations[i] takes a database from version i to i + 1. */
extern const struct store_migration store_migrations[STORE_SCHEMA_VERSION];

#define STORE_SCHEMA_TABLES 8
/* One query per table naming every column the backends read or write; a
 * backend's schema check prepares each one. */
extern const char *const store_schema_check[STORE_SCHEMA_TABLES];

#endif
