/* ts: Tailscale's packet filter JSON (FilterRule: SrcIPs, DstPorts with IP
 * and Ports First..Last, IPProto), written from compiled filters and read
 * back into the flow IR (for conformance against recorded filters). */
#ifndef TS_H
#define TS_H
#include <stdio.h>

#include "filter.h"
#include "ir.h"

struct cJSON;

/* {"NODE": [FilterRule...], ...} for every node, in inventory order.
 * 0 or -errno. */
int ts_write(FILE *out, const struct filter_set *s);
/* The FilterRule array of one node (app-capability grants, which carry no
 * packets, left out), as ts_write writes it; NULL when out of memory. */
struct cJSON *ts_node_rules(const struct filter_node *fn);
/* The FilterRules of one node into F (not canonicalised).  Rules without
 * DstPorts (CapGrant only) carry no packets and are skipped.  0, or -EINVAL
 * with a reason in ERR. */
int ts_rules_to_ir(const struct cJSON *rules, struct ir_flows *f, char *err, size_t errlen);

/* Print ROOT (taken over and freed) as indented JSON and a newline. */
int ts_print_json(FILE *out, struct cJSON *root);

#endif
