/* netmap_approve: which of a node's pending routes the policy's
 * autoApprovers approve, and the approving entry as text.  The compiler
 * decides what is served (filter_compile); this only names why, with the
 * compiler's own name resolution.  Private to runtime/netmap. */
#ifndef NETMAP_APPROVE_H
#define NETMAP_APPROVE_H
#include <stddef.h>

#include "load.h"
#include "netmap_read.h"

struct netmap_approval {
	char *prefix;		/* the store's text */
	char *approver;
};

struct netmap_approvals {
	struct netmap_approval *v;
	size_t n, cap;
};

struct netmap_approver;

/* A finder for compiled load L (policy named POLICY_NAME in the texts); L
 * must outlive it.  NULL on no memory. */
struct netmap_approver *netmap_approver_new(const struct load *l, const char *policy_name);
void netmap_approver_free(struct netmap_approver *a);

/* Into OUT, the routes of SN (inventory node I of L) pending in the store
 * that the policy approves and L serves.  0 or -ENOMEM. */
int netmap_approver_find(struct netmap_approver *a, size_t i, const struct netmap_node *sn,
			 struct netmap_approvals *out);
void netmap_approvals_free(struct netmap_approvals *v);

#endif
