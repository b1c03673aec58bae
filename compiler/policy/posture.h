/* posture: device posture conditions, as Tailscale writes them in a
 * policy's "postures" ("posture:NAME": [CONDITION, ...]), and their
 * judgement of a node's attributes (inv.h).  A condition is
 *     ATTRIBUTE OP VALUE      OP: == != < <= > >=
 *     ATTRIBUTE IN [VALUE, ...]  /  ATTRIBUTE NOT IN [VALUE, ...]
 *     ATTRIBUTE IS SET  /  ATTRIBUTE NOT SET
 * with ATTRIBUTE a key NAMESPACE:NAME (node:os, custom:x) and VALUE a
 * quoted string ('linux'), a number (80) or a boolean (true, false).
 * Strings compare as versions ("1.60" < "1.62.1", "13.4" == "13.4.0")
 * when both begin with a digit, else as text.  Fail closed: a condition on
 * an attribute the node lacks holds only for NOT SET, and a value of
 * another type than the attribute's never matches. */
#ifndef POSTURE_H
#define POSTURE_H
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "hj.h"
#include "inv.h"

enum posture_op { PO_EQ, PO_NE, PO_LT, PO_LE, PO_GT, PO_GE, PO_IN, PO_NOT_IN, PO_IS_SET, PO_NOT_SET };

struct posture_cond {
	char *attr;
	enum posture_op op;
	struct inv_attr *vals;       /* keys unused; one, or IN's list */
	size_t nvals;
	const struct hj_value *at;
};

struct posture {
	char *name;                  /* "posture:NAME" */
	struct posture_cond *conds;  /* every one must hold */
	size_t nconds;
	const struct hj_value *at;
};

/* Parse the condition in string AT.  false with a located error queued. */
bool posture_cond_parse(const struct hj_value *at, struct posture_cond *out, struct diag_list *diags);
void posture_cond_clear(struct posture_cond *c);
/* Does every condition of P hold for a node with attributes ATTRS? */
bool posture_holds(const struct posture *p, const struct inv_attr *attrs, size_t nattrs);
/* Does condition C hold for attribute A (NULL: the node lacks it)? */
bool posture_cond_holds(const struct posture_cond *c, const struct inv_attr *a);
/* Compare version strings A and B as dotted numbers: <0, 0, >0. */
int posture_version_cmp(const char *a, const char *b);

#endif
