/* ir_test.h: flow-IR helpers the unit tests share (test_ir, test_ir_setops,
 * test_nftm, test_nftb).  Inline, so a test that uses one of them only
 * does not warn about the others. */
#ifndef IR_TEST_H
#define IR_TEST_H
#include <stdbool.h>

#include "ir.h"

/* An address in text, as a number of its family (0 when it does not parse). */
static inline addr_u128 a128(const char *s)
{
	enum addr_family fam;
	addr_u128 v = 0;
	addr_parse(s, &fam, &v);
	return v;
}

/* The oracle: does some rule of F (as added) accept the packet?  A plain
 * scan of the rules, nothing canonical. */
static inline bool rules_accept(const struct ir_flows *f, unsigned fam, unsigned proto, addr_u128 src, addr_u128 dst,
				unsigned port)
{
	for (size_t i = 0; i < f->nrules; i++) {
		const struct ir_box *b = &f->rules[i].box;
		if (b->family == fam && b->proto == proto &&
		    (!proto_has_ports(proto) || (port >= b->port_lo && port <= b->port_hi)) &&
		    dst >= b->dst_lo && dst <= b->dst_hi && src >= b->src_lo && src <= b->src_hi)
			return true;
	}
	return false;
}

#endif
