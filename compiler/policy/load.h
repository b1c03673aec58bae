/* load: the one loading pipeline.  A policy and an inventory, from files
 * or from memory, to every node's compiled filter:
 *     source --hj_parse--> tree --pol_load--> policy --+
 *     source --inv_read--> inventory (or built) -------+--filter_compile--> filters
 * A struct load owns every stage's result, the sources included, so that
 * diagnostics (and any later error that points into a policy) stay valid
 * until load_free().  Every caller (aclc's commands, diff, benchmarks, the
 * coordinator) loads through it.
 *
 *     struct load *l = load_new();
 *     int rc = load_run(l, &(struct load_src){ .name = "policy.hujson" },
 *                       &(struct load_src){ .name = "db", .text = buf, .len = n }, diags);
 *     ... print diags, use l->pol, l->inv, load_node(l, "relay-1") ...
 *     load_free(l);
 */
#ifndef LOAD_H
#define LOAD_H
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "filter.h"
#include "hj.h"
#include "inv.h"
#include "ir.h"
#include "pol.h"

/* Where a source's text comes from: TEXT (LEN bytes, copied) when not
 * NULL, NAME then naming it in diagnostics; else the file NAME ("-":
 * standard input). */
struct load_src {
	const char *name;
	const char *text;
	size_t len;
};

/* Read-only for callers; NULL (or false) where a stage has not run or
 * failed. */
struct load {
	struct diag_src *src, *inv_src;  /* inv_src: NULL for a built inventory */
	struct hj_value *root;
	struct pol_policy *pol;
	struct inv *inv;                 /* after load_compile: empty when none was given */
	bool have_inv;                   /* an inventory was given */
	struct filter_set fs;
	bool compiled;
};

/* NULL on no memory. */
struct load *load_new(void);
void load_free(struct load *l);

/* The stages.  Each is 0, or -errno with the reasons (located) in DIAGS. */
int load_policy(struct load *l, const struct load_src *src, struct diag_list *diags);
/* The inventory as JSON. */
int load_inventory(struct load *l, const struct load_src *src, struct diag_list *diags);
/* An inventory built with inv's builders (and inv_finish'ed); L takes it,
 * freed by load_free() either way.  -EBUSY when L has one already. */
int load_inventory_take(struct load *l, struct inv *inv);
/* Every node's filter; the policy must be loaded.  Without an inventory
 * (none given) an empty one: the tailnet-wide view alone. */
int load_compile(struct load *l, struct diag_list *diags);
/* All three: the policy, the inventory (INV NULL: none) and the filters.
 * Both sources are read even when the other fails, so that one run reports
 * the errors of both. */
int load_run(struct load *l, const struct load_src *policy, const struct load_src *inv, struct diag_list *diags);

/* The compiled filter of the node named NAME, or of the tailnet-wide view
 * when NAME is NULL; NULL (with the reason in DIAGS) when there is no such
 * node, or nothing compiled. */
const struct filter_node *load_node(const struct load *l, const char *name, struct diag_list *diags);

/* What the packet backends need of one node (or of the tailnet-wide view). */
struct load_facts {
	struct ir_flows flows;   /* canonical flow IR, or the rules only */
	struct addr_set self;     /* its own addresses (the view: none) */
	struct addr_set routes;   /* the routes it serves (the view: every address) */
};
enum load_flows { LOAD_CANONICAL, LOAD_RULES };
/* Fill F (zeroed by the caller) for FN.  0 or -errno; load_facts_free()
 * either way. */
int load_node_facts(const struct filter_node *fn, enum load_flows how, struct load_facts *f);
void load_facts_free(struct load_facts *f);

#endif
