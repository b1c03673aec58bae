/* agent_routes: how many sources carry each route the node installs into
 * its tunnel (a peer's address, or one of the netmap's routes when routes
 * are accepted), so that a delta's routes are planned from the prefixes it
 * names only: a prefix goes in when its count leaves 0 and out when it
 * comes back to 0.  An open-addressing hash (linear probing, deletion by
 * backward shift), so one peer's change costs O(its prefixes). */
#ifndef AGENT_ROUTES_H
#define AGENT_ROUTES_H
#include <stddef.h>
#include <stdint.h>

#include "ctl_json.h"

struct agent_route_count {
	struct ctl_prefix pfx;
	uint32_t n;			/* 0: a free slot */
};

struct agent_routes {
	struct agent_route_count *v;
	size_t n, cap;			/* cap 0 or a power of two */
};

void agent_routes_free(struct agent_routes *r);
/* The count of X (0: not installed). */
uint32_t agent_routes_count(const struct agent_routes *r, const struct ctl_prefix *x);
/* Room for MORE new prefixes: adding them cannot fail.  0 or -ENOMEM. */
int agent_routes_reserve(struct agent_routes *r, size_t more);
/* Add BY (negative: take away) to X's count.  0, -ENOMEM, or -ERANGE when
 * the count would go below 0 (nothing changed then). */
int agent_routes_add(struct agent_routes *r, const struct ctl_prefix *x, int64_t by);

#endif
