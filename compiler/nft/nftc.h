/* nftc: access removed is access gone, for connections already open.
 *
 * keygate's table accepts an established connection's packets on their
 * conntrack state, before the policy's lookups (one check per packet on the
 * hot path).  So that a policy change also cuts the connections it no
 * longer allows, every connection the policy admits is marked
 * (NFTM_FLOW_MARK in its conntrack mark, set once, on its first packet),
 * and after a change is committed nftc_sweep() reads the marked
 * connections back (ctnetlink, filtered by the kernel on the mark) and
 * deletes those the new table denies, judged on their original tuple as
 * the table judges a new packet (nftm_eval).  The next packet of a deleted
 * connection, either way, meets no conntrack entry: from the tunnel it is
 * a new flow the policy drops; from the service it is not translated back
 * and never reaches the tunnel (the relay answers TCP with a reset).
 * Connections still allowed keep their entries and notice nothing. */
#ifndef NFTC_H
#define NFTC_H
#include <stddef.h>

#include "nftm.h"

struct nftc_result {
	size_t marked;   /* connections the table had admitted */
	size_t cut;      /* of which deleted: T denies them */
	unsigned dumps;  /* dumps read (a dump the kernel interrupts is read again) */
};

/* Delete this network namespace's connections admitted by keygate's
 * table that T denies.  Needs CAP_NET_ADMIN.  0 or -errno. */
int nftc_sweep(const struct nftm_table *t, struct nftc_result *res);

#endif
