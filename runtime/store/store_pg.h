/* store_pg: the PostgreSQL backend's parts others need. */
#ifndef STORE_PG_H
#define STORE_PG_H
#include <stddef.h>

/* The channel every commit is announced on (NOTIFY), its payload the new
 * generation in decimal. */
#define STORE_PG_CHANNEL "keygate_changes"

/* LOCATION for messages: scheme, host and database, never the password. */
void store_pg_describe(const char *location, char *out, size_t len);

#endif
