/* rtnl: the routing side of the agent through rtnetlink (libmnl): link
 * state, tunnel addresses, routes in a table of keygate's own and the
 * policy rules that send traffic there.  Every route this module adds
 * carries protocol RTNL_PROTO, so that a flush takes ours and leaves
 * everyone else's, even in our table.  Calls are synchronous (one request,
 * its acknowledgement) on one socket in the caller's network namespace. */
#ifndef RTNL_H
#define RTNL_H
#include <stdbool.h>
#include <stdint.h>

#define RTNL_TABLE      52		/* as Tailscale: routes into the tunnel */
#define RTNL_PROTO      0x6b		/* rtm_protocol of our routes */
#define RTNL_TABLE_MAIN 254

struct rtnl;

/* NULL with errno. */
struct rtnl *rtnl_open(void);
void rtnl_close(struct rtnl *r);

/* Set interface IFINDEX up.  0 or -errno. */
int rtnl_link_up(struct rtnl *r, int ifindex);
/* Add (or remove) ADDR/BITS of FAMILY (4 or 6) on IFINDEX.  Adding an
 * address that is there and removing one that is not succeed. */
int rtnl_addr(struct rtnl *r, int ifindex, uint8_t family, const uint8_t *addr, uint8_t bits, bool add);
/* Add or replace (or remove) the route to ADDR/BITS through IFINDEX in
 * TABLE.  Removing a route that is not there succeeds. */
int rtnl_route(struct rtnl *r, uint32_t table, int ifindex, uint8_t family, const uint8_t *addr, uint8_t bits,
	       bool add);
/* Remove every route of FAMILY in TABLE with protocol RTNL_PROTO; others
 * stay.  *REMOVED (may be NULL) counts them.  0 or -errno. */
int rtnl_route_flush(struct rtnl *r, uint32_t table, uint8_t family, unsigned *removed);
/* The rule "[fwmark MARK/MASK] lookup TABLE" at priority PREF (MASK 0: no
 * mark match).  Adding one that exists and removing one that does not
 * succeed. */
int rtnl_rule(struct rtnl *r, uint8_t family, uint32_t pref, uint32_t table, uint32_t mark, uint32_t mask, bool add);
/* Whether that rule exists (for tests and status).  0 no, 1 yes, -errno. */
int rtnl_rule_exists(struct rtnl *r, uint8_t family, uint32_t pref, uint32_t table);

#endif
