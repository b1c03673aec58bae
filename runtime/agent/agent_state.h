/* agent_state: what a node keeps in its state directory (0700), every file
 * 0600 and written atomically (a temporary file renamed over):
 *   machine.key   its control identity (32 raw bytes), made once
 *   wg.key        its WireGuard private key (32 raw bytes), made once
 *   prefs.json    what `keygate up` asked for: the coordinator (address and
 *                 pinned key), hostname, advertised routes, accept-routes,
 *                 whether it registered and whether it should be up
 *   netmap.json   the last netmap applied (canonical JSON), applied first
 *                 after a restart
 *   netmap.journal the deltas applied since netmap.json was written: a
 *                 header line naming netmap.json by checksum, then one
 *                 line per delta (checksum, space, delta JSON), appended
 *                 and made durable (fdatasync) one by one, so storing a
 *                 delta costs the delta, not the netmap.  Loading replays
 *                 them up to the first torn or damaged record.  When the
 *                 journal would outgrow netmap.json, netmap.json is written
 *                 again (compaction) and the journal restarted; a journal
 *                 whose header names another netmap.json (a kill between
 *                 the two) is ignored, so no step loses what was stored.
 * Files that are group- or world-accessible are refused. */
#ifndef AGENT_STATE_H
#define AGENT_STATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_netmap.h"

#define AGENT_SNAT_TO_MAX 100		/* "IPv4,IPv6" */

struct agent_prefs {
	char *login_server;		/* HOST:PORT */
	uint8_t server_key[32];
	char *hostname;
	struct ctl_prefixes routes;	/* advertised */
	bool accept_routes;
	char *snat_to;			/* keygate up --snat-to (checked), or NULL */
	char *route_probes;		/* keygate up --route-probe (checked), or NULL */
	bool registered;		/* the coordinator knows our machine key */
	bool want_up;			/* `up` ran and `down` did not since */
};

/* Create DIR (0700) if missing; refuse one others can read or write.
 * 0 or -errno with a reason in ERR. */
int agent_state_open(const char *dir, char *err, size_t errlen);
/* DIR/NAME: load the 32-byte key, or make and store one.  0 or -errno. */
int agent_state_key(const char *dir, const char *name, uint8_t key[32]);

/* 0, -ENOENT (none stored), -EINVAL (damaged, with a reason in ERR). */
int agent_state_load_prefs(const char *dir, struct agent_prefs *p, char *err, size_t errlen);
int agent_state_save_prefs(const char *dir, const struct agent_prefs *p);
void agent_prefs_free(struct agent_prefs *p);
int agent_prefs_copy(struct agent_prefs *dst, const struct agent_prefs *src);

/* Where this process stands with the journal. */
struct agent_journal {
	bool open;			/* it wrote the header: records may follow */
	size_t size;			/* the journal's bytes */
	size_t base_size;		/* netmap.json's */
};

/* netmap.json with the journal replayed. */
int agent_state_load_netmap(const char *dir, struct ctl_netmap *m, char *err, size_t errlen);
/* M whole: netmap.json written, the journal restarted.  0 or -errno. */
int agent_state_save_netmap(const char *dir, const struct ctl_netmap *m, struct agent_journal *jn);
/* A delta applied: its JSON text DELTA (LEN bytes, no newline) appended
 * to the journal, or AFTER (the netmap it made) saved whole when the
 * journal is not open or would outgrow netmap.json.  0 or -errno. */
int agent_state_save_delta(const char *dir, struct agent_journal *jn, const char *delta, size_t len,
			   const struct ctl_netmap *after);
/* Remove the stored netmap and journal (after `down`).  0 or -errno. */
int agent_state_forget_netmap(const char *dir, struct agent_journal *jn);

#endif
