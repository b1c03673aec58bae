/* ir: the flow IR's rules, as added.  The layers of the IR call one way:
 * ir_setops.c builds with ir_canon.c, ir_canon.c reads the rules kept here,
 * and this file calls neither. */
#include "ir.h"
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ir_add(struct ir_flows *f, const struct ir_box *box, const struct diag_loc *loc)
{
	if (box->family != ADDR_V4 && box->family != ADDR_V6)
		return -EINVAL;
	addr_u128 max = addr_family_max(box->family);
	if (box->port_lo > box->port_hi || box->dst_lo > box->dst_hi || box->src_lo > box->src_hi ||
	    box->dst_hi > max || box->src_hi > max)
		return -EINVAL;
	if (MEM_RESERVE(f->rules, f->caprules, f->nrules + 1) < 0)
		return -ENOMEM;
	struct ir_rule *r = &f->rules[f->nrules++];
	memset(r, 0, sizeof(*r));
	r->box = *box;
	if (!proto_has_ports(box->proto)) {
		r->box.port_lo = 0;
		r->box.port_hi = 65535;
	}
	if (loc)
		r->loc = *loc;
	f->canonical = false;
	return 0;
}

int ir_add_all(struct ir_flows *f, const struct ir_flows *from)
{
	for (size_t i = 0; i < from->nrules; i++) {
		int rc = ir_add(f, &from->rules[i].box, &from->rules[i].loc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool box_same(const struct ir_box *a, const struct ir_box *b)
{
	return a->family == b->family && a->proto == b->proto && a->port_lo == b->port_lo &&
	       a->port_hi == b->port_hi && a->dst_lo == b->dst_lo && a->dst_hi == b->dst_hi &&
	       a->src_lo == b->src_lo && a->src_hi == b->src_hi;
}

bool ir_rules_same(const struct ir_flows *a, const struct ir_flows *b)
{
	if (a->nrules != b->nrules)
		return false;
	for (size_t i = 0; i < a->nrules; i++)
		if (!box_same(&a->rules[i].box, &b->rules[i].box))
			return false;
	return true;
}
