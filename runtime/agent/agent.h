/* agent: the part of keygated that makes the node a member of the
 * tailnet.  It serves the command socket (keygate up/down/status), holds
 * one control connection to the coordinator (register, then a netmap and
 * deltas, each acknowledged once applied), applies each netmap in order
 * (agent_apply over the device's typed configuration, rtnetlink and the
 * nftables table) and keeps the last one applied in its state directory.
 *
 * After a restart it applies the stored netmap first (fail closed: a step
 * that fails is undone, so the relay forwards nothing it has no filter
 * for), then reconnects.  While the coordinator is away it keeps what it
 * has (fail static) and reconnects with jittered exponential backoff.
 * keygated's own UDP sockets and its control connection carry
 * AGENT_FWMARK, which the policy rule at 5210 sends to the main table, so
 * routes in table 52 (rule 5270) never loop the tunnel into itself. */
#ifndef AGENT_H
#define AGENT_H
#include <stddef.h>

#include "evloop.h"
#include "wgdev.h"

#define AGENT_FWMARK      0x80000u
#define AGENT_FWMARK_MASK 0xff0000u
#define AGENT_RULE_BYPASS 5210		/* fwmark AGENT_FWMARK lookup main */
#define AGENT_RULE_TABLE  5270		/* lookup RTNL_TABLE */
#define AGENT_STATE_DIR   "/var/lib/keygate"

struct agent_config {
	const char *ifname;
	const char *state_dir;		/* this interface's directory */
	const char *sysctl_dir;		/* NULL: AGENT_SYSCTL_DIR */
	int cmd_fd;			/* from agent_cmd_listen; owned from now on */
};

struct agent;

/* The agent of DEV on LOOP: loads its state, applies a stored netmap and
 * starts connecting when the node was up.  NULL with ERR on failure (the
 * command fd is closed then too). */
struct agent *agent_new(struct ev_loop *loop, struct wgdev *dev, const struct agent_config *cfg, char *err,
			size_t errlen);
/* Stops talking; leaves what is applied in place (fail closed). */
void agent_free(struct agent *a);

#endif
