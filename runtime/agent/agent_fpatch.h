/* agent_fpatch: a node's filter kept by rule, to apply a filter patch
 * (ctl_netmap.h) to the last table model without rebuilding it (issue 11).
 *
 * Kept per rule: the rule without its SrcIPs (what it allows), its host
 * sources sorted (a /32 or /128, with a count), its other sources (prefixes,
 * ranges, "*") as a list.  A patch that adds or removes hosts changes the
 * rights of those hosts alone: for each, the rules covering it (bisection
 * in each rule's hosts, a scan of its few other sources) make a filter of
 * that host only, built by nftm_build like any filter, whose identity
 * nftm_move_host puts in the model.  Cost per host: the rules' count and
 * the logarithm of their sources, plus moving the source map's ranges once;
 * nothing proportional to the filter is parsed, sorted or built.
 *
 * Left to a full rebuild (agent_fpatch_apply returns 1, having changed
 * nothing): a patch adding or removing a source that is not a single host
 * (its addresses' rights may split several ways), a rule index past the
 * filter's end, a deleted source the rule does not hold; and, from
 * nftm_move_host, an identity name shared by two identities (a 48-bit
 * hash collision; then the model is half patched and must be rebuilt). */
#ifndef AGENT_FPATCH_H
#define AGENT_FPATCH_H
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "ctl_netmap.h"
#include "nftm.h"

struct agent_fpatch;

/* The filter RULES (a FilterRule array, taken over: freed here, also on
 * failure) kept by rule.  NULL with errno (EINVAL: a source that does not
 * parse; ENOMEM). */
struct agent_fpatch *agent_fpatch_new(cJSON *rules);
void agent_fpatch_free(struct agent_fpatch *fp);

/* Apply patch V (N rules) to FP and to T, the model FP's filter made with
 * OPTS and NODE.  *TOOK_AWAY: some host lost a rule (open connections
 * need re-checking).  0, 1 (not done here: rebuild; FP and T are unusable
 * unless *UNTOUCHED), or -errno with a reason in ERR (FP and T unusable). */
int agent_fpatch_apply(struct agent_fpatch *fp, const struct ctl_filter_patch *v, size_t n, struct nftm_table *t,
		       const struct nftm_opts *opts, const struct nftm_node *node, bool *took_away, bool *untouched,
		       char *err, size_t errlen);

#endif
