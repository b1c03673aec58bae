/* fuzz_inventory: inv_read() on arbitrary bytes must end in an inventory
 * or in located errors, never a crash or a leak.  An inventory read must
 * be complete (every node owned and addressed, in registration order) and
 * find every node and user by its name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "inv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct inv *inv)
{
	for (size_t i = 0; i < inv->nnodes; i++) {
		const struct inv_node *n = &inv->nodes[i];
		if (!inv_node_owned(n) || !inv_node_addressed(n) || inv_node_by_name(inv, n->name) != (int)i)
			abort();
		if (n->user >= (int)inv->nusers)
			abort();
	}
	for (size_t i = 0; i < inv->nusers; i++)
		if (inv_user_by_name(inv, inv->users[i].name) != (int)i)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag_list diags = { 0 };
	struct diag_src *src = diag_src_from_mem("nodes.json", (const char *)data, size);
	if (!src)
		abort();
	struct inv *inv = inv_read(src, &diags);
	if (inv)
		check(inv);
	else if (!diags.nerrors)
		abort();   /* a rejected inventory always says why */
	FILE *null = fopen("/dev/null", "w");
	diag_print(null, &diags);
	fclose(null);
	inv_free(inv);
	diag_list_free(&diags);
	diag_src_free(src);
	return 0;
}
