/* agent_int: the agent's state, shared by its files: agent.c (lifecycle,
 * commands), agent_link.c (the control connection), agent_sys.c (the
 * operations on the system), agent_status.c (status). */
#ifndef AGENT_INT_H
#define AGENT_INT_H
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "agent.h"
#include "agent_apply.h"
#include "agent_ha.h"
#include "agent_probe.h"
#include "agent_cmd.h"
#include "agent_nft.h"
#include "agent_req.h"
#include "agent_state.h"
#include "ctl_conn.h"
#include "ctl_msg.h"
#include "rtnl.h"

#define AGENT_MAX_WAITING 8
#define AGENT_MAX_SUBNETS 32
#define AGENT_BACKOFF_MIN_NS (500 * 1000000ULL)
#define AGENT_BACKOFF_MAX_NS (8 * CTL_NS)
/* How often a connected node looks at its IP forwarding (a sysctl read). */
#define AGENT_FWD_CHECK_NS (2 * CTL_NS)

struct agent {
	struct ev_loop *loop;
	struct wgdev *dev;
	char ifname[IFNAMSIZ];
	char *state_dir;
	const char *sysctl_dir;
	struct agent_cmdsrv *cmd;
	struct rtnl *rt;
	struct agent_nft *nft;
	struct ctl_identity id;
	uint8_t wg_key[32];
	bool keys_loaded;		/* the state directory exists, keys read */

	/* What `up` asked for: PREFS as stored; TRY an `up` being tried (its
	 * auth key in memory only), which becomes PREFS once registered. */
	struct agent_prefs prefs, try_prefs;
	bool has_try;
	char *authkey;

	/* Applied: the netmap the system holds; how many sources carry each
	 * route it installs (valid with ROUTES_OK: deltas apply through it);
	 * where the stored journal stands. */
	struct ctl_netmap applied;
	bool has_applied, applied_accept, system_ready, routes_ok;
	struct agent_routes routes;
	struct agent_journal journal;
	struct nftm_snat_to applied_snat_to;
	uint64_t filter_generation;
	char apply_error[256];
	double last_apply_ms;
	/* Other processes' edits of our table, repaired (agent_nft_watch). */
	struct ctl_tamper tamper;
	char tamper_what[200], repair_error[256];
	double repair_ms;
	struct {
		uint32_t net, mask;	/* network byte order */
	} subnets[AGENT_MAX_SUBNETS];
	size_t n_subnets;

	/* The control connection, its watch, the timer, the backoff. */
	struct ctl_conn *conn;
	struct ev_watch conn_w;
	bool registered_now;		/* this connection's registration succeeded */
	bool fwd_said_off;		/* told the coordinator forwarding is off */
	uint64_t fwd_check_at;		/* when to look at forwarding again */
	int timer_fd;
	struct ev_watch timer_w;
	uint64_t reconnect_at;		/* 0: none planned */
	unsigned failures;
	unsigned server_idx;		/* which of login_server's coordinators: the next on each loss */
	char server_now[CTL_AUTHKEY_MAX_HOST + 9];	/* that one, HOST:PORT */
	char link_error[512];
	time_t connected_since, lost_since;
	char node_name[CTL_MAX_NAME + 1];

	/* Routes moved off silent relays (agent_ha.c). */
	struct agent_ha ha;
	struct ev_timer ha_timer;
	/* The relay's service probes (agent_probe.c), run from PROBE_TIMER
	 * while PROBES_SPEC (a copy of the prefs' spec they come from) has any. */
	struct agent_probes probes;
	char *probes_spec;
	struct ev_timer probe_timer;

	struct agent_client *waiting[AGENT_MAX_WAITING];
	size_t n_waiting;
};

uint64_t agent_now(void);
/* The prefs in effect: the one being tried, else the stored one. */
const struct agent_prefs *agent_cur_prefs(const struct agent *a);

/* agent_link.c */
void agent_link_start(struct agent *a);
void agent_link_stop(struct agent *a);
/* Re-arm the timer for the connection's deadline or the next reconnect. */
void agent_link_rearm(struct agent *a);
void agent_link_lost(struct agent *a, const char *why);
/* Tell the coordinator about a->tamper (when connected). */
void agent_link_report_tamper(struct agent *a);
/* Tell the coordinator the probes' results (when connected). */
void agent_link_report_probes(struct agent *a);

/* agent.c: answer every waiting `up` with TEXT (an encoded answer). */
void agent_answer_waiting(struct agent *a, bool ok, const char *why);
/* The try ends: it failed with WHY. */
void agent_try_failed(struct agent *a, const char *why);
/* The try registered: it becomes the stored prefs. */
int agent_try_commit(struct agent *a);

/* agent_sys.c */
extern const struct agent_ops agent_sys_ops;
/* Peer P's typed settings on the device, with the routes agent_ha moved. */
int agent_sys_peer_set(struct agent *a, const struct ctl_peer *p);
/* Link up, key and fwmark on the device, policy rules: before a first
 * apply.  0 or -errno with a reason in ERR. */
int agent_sys_prepare(struct agent *a, char *err, size_t errlen);
/* Everything of ours off the system (down). */
int agent_sys_teardown(struct agent *a, char *err, size_t errlen);
/* Apply M (NULL: nothing) over what is applied.  0 with *M moved into
 * a->applied (the caller's copy emptied), or -errno with the reason in
 * a->apply_error, everything undone and *M still the caller's. */
int agent_sys_apply(struct agent *a, struct ctl_netmap *m, bool force_filter);

/* Apply delta D over the netmap applied (there must be one), visiting
 * only what it names, then store it (the journal): what the control
 * connection does with a delta, and what benchmarks time.  0 with D's contents moved into a->applied,
 * or -errno with the reason in a->apply_error and everything undone
 * (-ESTALE: D starts from another generation; -EBADMSG: it does not apply). */
int agent_sys_take_delta(struct agent *a, struct ctl_delta *d);

/* agent_status.c: the status answer. */
char *agent_status_text(struct agent *a);

#endif
