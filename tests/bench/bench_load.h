/* bench_load.h: a node's facts through the load pipeline, for the
 * benchmarks that compile a policy: POLICY and NODES (NULL: no inventory)
 * from files, NODE's (NULL: the tailnet-wide view) flows, addresses and
 * routes into F (zeroed by the caller; load_facts_free() either way).
 * Diagnostics go to stderr.  0 or -errno. */
#ifndef BENCH_LOAD_H
#define BENCH_LOAD_H
#include <errno.h>
#include <stdio.h>

#include "diag.h"
#include "load.h"

static int bench_node_facts(const char *policy, const char *nodes, const char *node, enum load_flows how,
			    struct load_facts *f)
{
	struct diag_list diags = { 0 };
	struct load_src p = { .name = policy }, n = { .name = nodes };
	struct load *l = load_new();
	const struct filter_node *fn;
	int rc = l ? load_run(l, &p, nodes ? &n : NULL, &diags) : -ENOMEM;
	if (rc == 0)
		rc = (fn = load_node(l, node, &diags)) ? load_node_facts(fn, how, f) : -ENOENT;
	diag_print(stderr, &diags);
	diag_list_free(&diags);
	load_free(l);
	return rc;
}

#endif
