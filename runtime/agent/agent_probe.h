/* agent_probe: a relay's service probes (issue 14): `keygate up
 * --route-probe=8.8.8.8/32=tcp:443` makes the node try a TCP connection to
 * 8.8.8.8:443 every AGENT_PROBE_EVERY_NS, failing after
 * AGENT_PROBE_TIMEOUT_NS, and report to the coordinator whether each
 * route's probe passes (`update` "probes", keygate-protocol(7)): a relay
 * online but cut off from the service stops being the route's primary.
 *
 * Syntax, comma-separated: PREFIX=tcp:PORT (the prefix is one address,
 * the one probed) or PREFIX=tcp:ADDRESS:PORT (IPv6 in brackets); the
 * prefix must be one the node advertises; "" removes every probe. */
#ifndef AGENT_PROBE_H
#define AGENT_PROBE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctl_json.h"
#include "ctl_msg.h"

#define AGENT_PROBE_MAX CTL_MAX_PROBES
#define AGENT_PROBE_SPEC_MAX 2048
#define AGENT_PROBE_EVERY_NS (500 * 1000000ULL)
#define AGENT_PROBE_TIMEOUT_NS (300 * 1000000ULL)
#define AGENT_PROBE_TICK_NS (50 * 1000000ULL)

struct agent_probe {
	struct ctl_probe r;		/* route, target text, last result */
	struct sockaddr_storage to;
	socklen_t tolen;
	int fd;				/* a connection being tried, or -1 */
	uint64_t started, next_at;
	bool known;			/* tried once at least */
};

struct agent_probes {
	struct agent_probe v[AGENT_PROBE_MAX];
	size_t n;
	bool changed;			/* a result the coordinator has not been told */
};

/* Parse SPEC into OUT (emptied first), checking each route is in ROUTES.
 * 0, or -EINVAL with a reason in ERR. */
int agent_probe_parse(const char *spec, const struct ctl_prefixes *routes, struct agent_probes *out, char *err,
		      size_t errlen);
/* Try what is due at NOW; true when a result changed. */
bool agent_probe_run(struct agent_probes *p, uint64_t now);
/* Close the connections being tried. */
void agent_probe_clear(struct agent_probes *p);
/* The results as an update's "probes" (pointers into P). */
void agent_probe_results(const struct agent_probes *p, struct ctl_probe *out, size_t *n);

#endif
