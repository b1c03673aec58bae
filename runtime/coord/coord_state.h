/* coord_state: the coordinator's state directory.
 *
 *   DIR/            0700 on creation; refused when others may write it
 *   DIR/coord.key   the coordinator's private key, standard base64 (as wg
 *                   prints keys) and a newline, 0600; refused when the group
 *                   or others may read it
 *   DIR/state.db    the SQLite store (store.h), unless another is given
 *   DIR/admin.sock  the admin socket, 0660 (coord_admin)
 *
 * A store that several coordinators share (PostgreSQL) holds the key pair
 * instead of DIR/coord.key, in the setting "coordinator_key" (the private
 * key in base64), so that every coordinator on it answers with the same
 * key and a node can move from one to another.  The first to start makes
 * it; of several starting at once, one wins and the others read its key.
 *
 * Every function leaves a sentence saying why in ERR on failure. */
#ifndef COORD_STATE_H
#define COORD_STATE_H
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctl_hs.h"
#include "store.h"

#define COORD_KEY_FILE   "coord.key"
#define COORD_DB_FILE    "state.db"
#define COORD_ADMIN_SOCK "admin.sock"
#define COORD_KEY_SETTING "coordinator_key"

struct coord_state {
	char dir[PATH_MAX - 32];
	struct ctl_identity id;
	struct store *store;
	bool created_key;		/* this call made the key pair */
	int64_t key_lifetime;		/* seconds a new node's key lasts (0: forever) */
};

#define COORD_KEY_LIFETIME (180 * 24 * 3600)	/* Tailscale's default node key expiry */

/* Open DIR and the store at DB (NULL: DIR/state.db; see store_open): with
 * CREATE, make what is missing (directory, key pair, SQLite file); without,
 * everything must exist.  0 or -errno. */
int coord_state_open(struct coord_state *st, const char *dir, const char *db, bool create, char *err,
		     size_t errlen);
void coord_state_close(struct coord_state *st);
/* DIR/NAME into OUT (PATH_MAX bytes). */
void coord_state_path(const struct coord_state *st, const char *name, char *out);
/* The public key in standard base64 (45 bytes with the NUL). */
void coord_key_base64(char out[45], const uint8_t key[CTL_KEY_LEN]);

#endif
