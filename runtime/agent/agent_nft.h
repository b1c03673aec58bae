/* agent_nft: a node's packet filter (the Tailscale FilterRules of its
 * netmap) made the kernel's nftables table through the compiler's library:
 * FilterRules -> flow IR (ts_rules_to_ir) -> table model (nftm_build, the
 * node's addresses and served routes clipping the destinations, source NAT
 * when the netmap says the node serves routes) -> one netlink transaction
 * (nftb_apply, which changes only set elements when the shape stays).
 * The handle stays open between applies, so an unchanged generation skips
 * the read-back.  After a commit the open connections the table no longer
 * admits are cut (nftc.h), unless the change took nothing away
 * (nftm_admits_all) and the last sweep succeeded.  A delta whose filter
 * changed only in its sources (a filter patch) is applied to the last
 * model instead, host by host (agent_nft_apply_delta, agent_fpatch.h). */
#ifndef AGENT_NFT_H
#define AGENT_NFT_H
#include <stdbool.h>
#include <stddef.h>

#include "ctl_netmap.h"
#include "evloop.h"
#include "nftm.h"

struct agent_nft;

/* Called when another process changed the table and it was made again:
 * WHAT describes the (last) change, ERR is NULL when the repair worked
 * (else why not), MS how long the repair took. */
typedef void agent_nft_tamper_fn(void *arg, const char *what, const char *err, double ms);

/* Table TABLE (NULL: "keygate") for tunnel interface IFACE.  NULL with errno. */
struct agent_nft *agent_nft_new(const char *table, const char *iface);
void agent_nft_free(struct agent_nft *n);

/* The ruleset is ours: from the first successful apply on, watch the
 * table (NFNLGRP_NFTABLES) on LOOP; a change another process makes to it
 * (a rule or element deleted or added, the table deleted or made dormant,
 * `nft flush ruleset`) is undone at once by applying the last table
 * again, then reported to FN.  Other tables are never looked at. */
void agent_nft_watch(struct agent_nft *n, struct ev_loop *loop, agent_nft_tamper_fn *fn, void *arg);

/* Make the table M's filter with SERVED (the routes this node serves)
 * as forwarding destinations, source NAT to SNAT_TO's addresses (a family
 * without one masqueraded).  0, or -errno with a reason in ERR. */
int agent_nft_apply(struct agent_nft *n, const struct ctl_netmap *m, const struct ctl_prefixes *served,
		    const struct nftm_snat_to *snat_to, char *err, size_t errlen);
/* The same after delta D, OLD_FILTER the filter text D was made against,
 * M the netmap after it (M's filter is OLD_FILTER with D's patch applied,
 * as ctl_netmap_apply and agent_delta_patch_filter make it): when the node's
 * addresses, source NAT, SERVED and SNAT_TO are those the last table was
 * made with, and D's filter patch (ctl_netmap.h) takes that table's filter
 * to M's (compared by content, so deltas without a filter change may have
 * come between unseen), the patch is applied to the last model host by
 * host (agent_fpatch.h) and committed; the open connections are
 * re-checked only when a host lost a rule.  M's filter being the last
 * one, nothing is done.  Otherwise (no model yet, a filter sent whole,
 * anything else changed, a patch agent_fpatch leaves to a full build)
 * agent_nft_apply(M).  0, or -errno with a reason in ERR. */
int agent_nft_apply_delta(struct agent_nft *n, const char *old_filter, const struct ctl_delta *d,
			  const struct ctl_netmap *m, const struct ctl_prefixes *served,
			  const struct nftm_snat_to *snat_to, char *err, size_t errlen);
/* Delete the table (only ours; absent is fine).  0 or -errno. */
int agent_nft_remove(struct agent_nft *n);
/* For the program that applies filter after filter (keygated), once at
 * start: keep freed heap memory for the next apply instead of giving it
 * back.  glibc returns the top of the heap to the kernel once 128 KiB are
 * free and serves blocks over 128 KiB with mmap, so every rebuild (netmap
 * JSON, flow IR, table model: ~1 MB at 1,000 peers) met fresh pages; on a
 * virtual machine their faults cost more than the build itself (measured:
 * 1.5 of 2.7 ms CPU for a one-peer change at 1,000 peers).  Up to 32 MiB
 * of freed heap is kept; blocks over 8 MiB still come from mmap. */
void agent_nft_keep_heap(void);
/* The last apply's duration in ms (for status and benchmarks). */
double agent_nft_last_ms(const struct agent_nft *n);
/* The last apply was a patch of the last model (agent_nft_apply_delta). */
bool agent_nft_last_patched(const struct agent_nft *n);

#endif
