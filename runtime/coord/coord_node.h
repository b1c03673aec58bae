/* coord_node: what a node's messages do to the store: registration (with an
 * auth key, or a known machine key reconnecting), updates, and the replay
 * record of handshakes.  No sockets here. */
#ifndef COORD_NODE_H
#define COORD_NODE_H
#include <stdbool.h>
#include <stdint.h>

#include "ctl_hs.h"
#include "ctl_msg.h"
#include "store.h"

struct coord_node_result {
	bool ok;
	bool created;			/* a new node, not a reconnection */
	bool unchanged;			/* a known node registering what the store holds */
	const char *reason;		/* when !ok: a static sentence */
	int64_t node_id;
	char name[STORE_NAME_MAX + 1];
	struct ctl_prefixes addresses;	/* when ok: freed by the caller */
};

/* Whether the store already holds, for known node ID, what REG would
 * write (its WireGuard key, endpoints and advertised routes). */
typedef bool coord_node_same_fn(int64_t id, const struct ctl_register *reg, void *arg);

/* Register or reconnect MACHINE_KEY's node as REG asks, the coordinator
 * being ID; a new node's key expires KEY_LIFETIME seconds after it
 * registers (0: never).  A known node for which SAME (when not NULL)
 * answers true has only its last-seen time written (RES->unchanged).  A
 * refusal is *RES with ok false (return 0); negative only when the store
 * fails. */
int coord_node_register(struct store *s, const struct ctl_identity *id, const uint8_t machine_key[CTL_KEY_LEN],
			const struct ctl_register *reg, int64_t key_lifetime, coord_node_same_fn *same, void *arg,
			struct coord_node_result *res);
/* Apply an update's present fields to node NODE_ID: 0 or -errno. */
int coord_node_update(struct store *s, int64_t node_id, const struct ctl_update *u);
/* Whether U changes what netmaps are made of (a tamper report alone does not). */
bool coord_node_update_changes(const struct ctl_update *u);

/* The replay record: the newest handshake timestamp accepted from a
 * machine key, kept as a store setting so a restart keeps it. */
bool coord_node_last_seen(struct store *s, const uint8_t key[CTL_KEY_LEN], uint8_t ts[TAI64N_LEN]);
int coord_node_record_handshake(struct store *s, const uint8_t key[CTL_KEY_LEN], const uint8_t ts[TAI64N_LEN]);

#endif
