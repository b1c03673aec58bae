/* agent_fwd: advertised routes as Tailscale checks them, and the IP
 * forwarding a node needs to serve them. */
#ifndef AGENT_FWD_H
#define AGENT_FWD_H
#include <stdbool.h>
#include <stddef.h>

#include "ctl_json.h"

#define AGENT_SYSCTL_DIR "/proc/sys"

/* Parse one advertised route: 0, or -EINVAL with a reason in ERR (not a
 * prefix; host bits set, naming the prefix meant). */
int agent_route_parse(const char *text, struct ctl_prefix *p, char *err, size_t errlen);
/* The list as a whole: an exit route comes as a pair (0.0.0.0/0 with
 * ::/0).  0 or -EINVAL with a reason. */
int agent_routes_check(const struct ctl_prefixes *routes, char *err, size_t errlen);

/* Whether forwarding is on for FAMILY (4 or 6), read under SYSCTL_DIR
 * (AGENT_SYSCTL_DIR; tests give another).  *VALUE gets the text read.
 * 1 on, 0 off, -errno unreadable. */
int agent_fwd_on(const char *sysctl_dir, int family, char *value, size_t valuelen);
/* Forwarding for every family ROUTES need: 0, or -EINVAL with the error a
 * person reads in ERR: the sysctl, its value, the lines for
 * /etc/sysctl.d/. */
int agent_fwd_check(const char *sysctl_dir, const struct ctl_prefixes *routes, char *err, size_t errlen);

#endif
