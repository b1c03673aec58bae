/* agent_delta: the applied netmap updated by a delta without copying it:
 * a one-peer delta moves the peer in (or out) of the sorted array, O(log n)
 * to find it and one memmove; the delta's peers, self part, routes and
 * filter are moved over, not copied.  A delta naming many peers is merged
 * instead, into a new array of the peers' structs (no peer copied deeply)
 * which the commit adopts.  The filter step runs before the commit and
 * needs the netmap after the delta: a view of it, whose peers are there
 * only when merged (the filter depends on the node's addresses, filter
 * and source NAT, never on its peers).  Pure: no I/O. */
#ifndef AGENT_DELTA_H
#define AGENT_DELTA_H
#include <stdbool.h>

#include "ctl_netmap.h"

/* D's filter patch, if it has one, made into the text it gives over M's
 * filter (D->filter, D->has_filter), the patch kept: the filter step
 * patches its last table with it (agent_nft_apply_delta), the rest takes
 * the text.  0, -EBADMSG when the patch does not fit M's filter, -ENOMEM.
 * For a D of M's generation, before it is prepared. */
int agent_delta_patch_filter(const struct ctl_netmap *m, struct ctl_delta *d);
/* Make the commit of D over M unable to fail: with NEED_VIEW, *VIEW's
 * self part, routes, filter and snat flag become those after D (shared
 * with M and D); a delta too large to move peer by peer is merged into
 * VIEW's peers; otherwise M's peer array is made large enough.  Freed with
 * agent_delta_view_free.  D must pass agent_delta_applies.  0 or -ENOMEM. */
int agent_delta_prepare(struct ctl_netmap *m, const struct ctl_delta *d, bool need_view, struct ctl_netmap *view);
/* Frees only what agent_delta_prepare allocated. */
void agent_delta_view_free(struct ctl_netmap *view);
/* M becomes M with D applied (through VIEW when prepare made one): what D
 * replaces is freed, what D carries is moved into M and emptied in D. */
void agent_delta_commit(struct ctl_netmap *m, struct ctl_delta *d, struct ctl_netmap *view);

#endif
