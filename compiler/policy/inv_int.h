/* inv_int: what the inventory's own files (inv.c, inv_json.c,
 * inv_service.c, inv_attr.c) share and nothing else uses. */
#ifndef INV_INT_H
#define INV_INT_H
#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

/* Append a copy of S to the string array *V of *N.  0 or -ENOMEM. */
int inv_strs_push(char ***v, size_t *n, const char *s);

/* TEXT, an address of FAMILY, into *V4 (setting *HAS4) or *V6 (*HAS6).
 * 0 or -EINVAL. */
int inv_addr_store(enum addr_family family, const char *text, bool *has4, addr_u128 *v4, bool *has6,
		   addr_u128 *v6);

/* Free node N's attributes. */
void inv_attrs_free(struct inv_node *n);

#endif
