/* coord_inv: the compiler's inventory built from one snapshot of the store,
 * for what the coordinator compiles itself (a policy's tests and the
 * semantic diff of `keygate policy set`), read as netmap reads it: expired
 * nodes left out, advertised routes without the rejected ones, approved the
 * ones approved in the store. */
#ifndef COORD_INV_H
#define COORD_INV_H
#include "diag.h"
#include "inv.h"
#include "store.h"

/* The inventory (inv_finish'ed) as of now, or NULL with the reason in DIAGS
 * (*RC: -errno). */
struct inv *coord_inv_build(struct store *s, struct diag_list *diags, int *rc);

#endif
