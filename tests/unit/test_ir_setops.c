/* Unit tests for the IR set operations behind `aclc diff`: A \ B and A
 * intersected with B on canonical boxes, table-driven (disjoint, equal,
 * nested, partial overlaps in each dimension, several boxes), then a
 * property check on random box sets (half of them pairs where B is an edit
 * of A): (A \ B) u (A n B) == A, checked canonically, and A \ B, A n B
 * checked packet by packet over a small universe against the rules
 * themselves (brute force). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "pol.h"
#include "ir_test.h"
#include "t.h"

/* Boxes written as ir_dump prints them, ';' between boxes:
 *   "v4 tcp 80-90 dst 10.0.0.0/24 src 1.0.0.1-1.0.0.9; v6 icmp dst ::1 src ::2" */
static int parse_flows(const char *text, struct ir_flows *f)
{
	char *copy = strdup(text), *save = NULL;
	int rc = copy ? 0 : -1;
	for (char *box = copy ? strtok_r(copy, ";", &save) : NULL; rc == 0 && box; box = strtok_r(NULL, ";", &save)) {
		char fam[8], proto[16], ports[32] = "*", dst[100], src[100];
		struct ir_box b = { 0 };
		enum addr_family fd, fs;
		int proto_n;
		unsigned lo, hi;
		if (sscanf(box, " %7s %15s dst %99s src %99s", fam, proto, dst, src) != 4 &&
		    sscanf(box, " %7s %15s %31s dst %99s src %99s", fam, proto, ports, dst, src) != 5) {
			rc = -1;
			break;
		}
		proto_n = pol_proto_parse(proto);
		b.proto = (uint8_t)proto_n;
		if (strcmp(ports, "*") == 0) {
			b.port_lo = 0;
			b.port_hi = 65535;
		} else if (sscanf(ports, "%u-%u", &lo, &hi) == 2 || (sscanf(ports, "%u", &lo) == 1 && (hi = lo, 1))) {
			b.port_lo = (uint16_t)lo;
			b.port_hi = (uint16_t)hi;
		}
		if (proto_n < 0 || !addr_range_parse(dst, false, &fd, &b.dst_lo, &b.dst_hi) ||
		    !addr_range_parse(src, false, &fs, &b.src_lo, &b.src_hi) || fd != fs ||
		    (unsigned)fd != (unsigned)(fam[1] - '0'))
			rc = -1;
		b.family = (uint8_t)fd;
		if (rc == 0)
			rc = ir_add(f, &b, NULL);
	}
	free(copy);
	return rc == 0 ? ir_canonicalize(f) : -1;
}

/* The canonical boxes as one line: ir_dump's lines joined by "; ". */
static char *dump_flows(const struct ir_flows *f)
{
	char *s = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&s, &len);
	if (!out)
		return NULL;
	ir_dump(out, f, "");
	fclose(out);
	char *j = s ? malloc(2 * len + 1) : NULL;
	size_t k = 0;
	for (size_t i = 0; j && i < len; i++) {
		if (s[i] != '\n')
			j[k++] = s[i];
		else if (i + 1 < len) {
			j[k++] = ';';
			j[k++] = ' ';
		}
	}
	if (j)
		j[k] = '\0';
	free(s);
	return j;
}

/* A canonical dump ("v4 tcp ... ; v4 ...") compared after reparsing WANT, so
 * the table may write a box in any equivalent way. */
static void check_op(const char *what, const char *op, const struct ir_flows *got, const char *want)
{
	struct ir_flows w = { 0 };
	char *g = dump_flows(got), *ws = NULL;
	if (parse_flows(want, &w) < 0) {
		T_CHECK(0, "%s: %s: expected boxes parse (%s)", what, op, want);
	} else {
		ws = dump_flows(&w);
		T_STREQ(g ? g : "", ws ? ws : "", "%s: %s", what, op);
	}
	free(g);
	free(ws);
	ir_free(&w);
}

static void test_table(void)
{
	static const struct {
		const char *what, *a, *b, *minus, *inter;
	} cases[] = {
		{ "disjoint protocols",
		  "v4 tcp 80 dst 10.0.0.1 src 1.0.0.1", "v4 udp 80 dst 10.0.0.1 src 1.0.0.1",
		  "v4 tcp 80 dst 10.0.0.1 src 1.0.0.1", "" },
		{ "disjoint families with equal numbers",
		  "v4 tcp 80 dst 0.0.0.1 src 0.0.0.2", "v6 tcp 80 dst ::1 src ::2",
		  "v4 tcp 80 dst 0.0.0.1 src 0.0.0.2", "" },
		{ "disjoint ports",
		  "v4 tcp 80 dst 10.0.0.1 src 1.0.0.1", "v4 tcp 81-90 dst 10.0.0.1 src 1.0.0.1",
		  "v4 tcp 80 dst 10.0.0.1 src 1.0.0.1", "" },
		{ "disjoint destinations",
		  "v4 tcp 80 dst 10.0.0.0/25 src 1.0.0.1", "v4 tcp 80 dst 10.0.0.128/25 src 1.0.0.1",
		  "v4 tcp 80 dst 10.0.0.0/25 src 1.0.0.1", "" },
		{ "disjoint sources",
		  "v4 tcp 80 dst 10.0.0.1 src 1.0.0.1", "v4 tcp 80 dst 10.0.0.1 src 1.0.0.2",
		  "v4 tcp 80 dst 10.0.0.1 src 1.0.0.1", "" },
		{ "equal sets",
		  "v6 udp 53 dst fd00::/64 src fd7a:115c:a1e0::/48", "v6 udp 53 dst fd00::/64 src fd7a:115c:a1e0::/48",
		  "", "v6 udp 53 dst fd00::/64 src fd7a:115c:a1e0::/48" },
		{ "A inside B",
		  "v4 tcp 443 dst 10.0.0.5 src 1.0.0.7", "v4 tcp * dst 10.0.0.0/8 src 0.0.0.0/0",
		  "", "v4 tcp 443 dst 10.0.0.5 src 1.0.0.7" },
		{ "B inside A: a hole in every dimension",
		  "v4 tcp 0-100 dst 10.0.0.0/24 src 1.0.0.0/24", "v4 tcp 50 dst 10.0.0.10 src 1.0.0.5",
		  "v4 tcp 0-49 dst 10.0.0.0/24 src 1.0.0.0/24;"
		  "v4 tcp 50 dst 10.0.0.0-10.0.0.9 src 1.0.0.0/24;"
		  "v4 tcp 50 dst 10.0.0.10 src 1.0.0.0-1.0.0.4;"
		  "v4 tcp 50 dst 10.0.0.10 src 1.0.0.6-1.0.0.255;"
		  "v4 tcp 50 dst 10.0.0.11-10.0.0.255 src 1.0.0.0/24;"
		  "v4 tcp 51-100 dst 10.0.0.0/24 src 1.0.0.0/24",
		  "v4 tcp 50 dst 10.0.0.10 src 1.0.0.5" },
		{ "partial overlap in ports only",
		  "v4 tcp 80-90 dst 10.0.0.1 src 1.0.0.1", "v4 tcp 85-100 dst 10.0.0.1 src 1.0.0.1",
		  "v4 tcp 80-84 dst 10.0.0.1 src 1.0.0.1", "v4 tcp 85-90 dst 10.0.0.1 src 1.0.0.1" },
		{ "partial overlap in destinations only",
		  "v4 udp 53 dst 10.0.0.0-10.0.0.20 src 1.0.0.1", "v4 udp 53 dst 10.0.0.10-10.0.0.30 src 1.0.0.1",
		  "v4 udp 53 dst 10.0.0.0-10.0.0.9 src 1.0.0.1", "v4 udp 53 dst 10.0.0.10-10.0.0.20 src 1.0.0.1" },
		{ "partial overlap in sources only",
		  "v6 tcp 22 dst ::1 src ::10-::20", "v6 tcp 22 dst ::1 src ::0-::17",
		  "v6 tcp 22 dst ::1 src ::18-::20", "v6 tcp 22 dst ::1 src ::10-::17" },
		{ "partial overlap in all three",
		  "v4 tcp 10-20 dst 10.0.0.0-10.0.0.9 src 1.0.0.0-1.0.0.9",
		  "v4 tcp 15-25 dst 10.0.0.5-10.0.0.15 src 1.0.0.5-1.0.0.15",
		  "v4 tcp 10-14 dst 10.0.0.0-10.0.0.9 src 1.0.0.0-1.0.0.9;"
		  "v4 tcp 15-20 dst 10.0.0.0-10.0.0.4 src 1.0.0.0-1.0.0.9;"
		  "v4 tcp 15-20 dst 10.0.0.5-10.0.0.9 src 1.0.0.0-1.0.0.4",
		  "v4 tcp 15-20 dst 10.0.0.5-10.0.0.9 src 1.0.0.5-1.0.0.9" },
		{ "portless protocol: ports play no part",
		  "v4 icmp dst 10.0.0.0/24 src 1.0.0.1", "v4 icmp dst 10.0.0.0/25 src 1.0.0.1",
		  "v4 icmp dst 10.0.0.128/25 src 1.0.0.1", "v4 icmp dst 10.0.0.0/25 src 1.0.0.1" },
		{ "B empty", "v4 tcp 80 dst 10.0.0.1 src 1.0.0.1", "", "v4 tcp 80 dst 10.0.0.1 src 1.0.0.1", "" },
		{ "A empty", "", "v4 tcp 80 dst 10.0.0.1 src 1.0.0.1", "", "" },
		{ "two boxes of B cover A together",
		  "v4 tcp 80-89 dst 10.0.0.1 src 1.0.0.1",
		  "v4 tcp 80-84 dst 10.0.0.0/24 src 1.0.0.0/24; v4 tcp 85-99 dst 10.0.0.1 src 1.0.0.1",
		  "", "v4 tcp 80-89 dst 10.0.0.1 src 1.0.0.1" },
		{ "one box of B cuts two boxes of A",
		  "v4 tcp 443 dst 8.8.8.8 src 100.64.0.2; v4 tcp 443 dst 8.8.4.4 src 100.64.0.2",
		  "v4 tcp 443 dst 8.0.0.0/8 src 100.64.0.0/10",
		  "", "v4 tcp 443 dst 8.8.4.4 src 100.64.0.2; v4 tcp 443 dst 8.8.8.8 src 100.64.0.2" },
		{ "the whole IPv6 space minus one address",
		  "v6 tcp 443 dst ::/0 src ::/0", "v6 tcp 443 dst ::/0 src ::1",
		  "v6 tcp 443 dst ::/0 src ::; v6 tcp 443 dst ::/0 src ::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		  "v6 tcp 443 dst ::/0 src ::1" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ir_flows a = { 0 }, b = { 0 }, d = { 0 }, n = { 0 };
		bool parsed = parse_flows(cases[i].a, &a) == 0 && parse_flows(cases[i].b, &b) == 0;
		T_CHECK(parsed, "%s: inputs parse", cases[i].what);
		if (parsed) {
			T_CHECK(ir_subtract(&a, &b, &d) == 0 && d.canonical, "%s: A \\ B computed", cases[i].what);
			check_op(cases[i].what, "A \\ B", &d, cases[i].minus);
			T_CHECK(ir_intersect(&a, &b, &n) == 0 && n.canonical, "%s: A n B computed", cases[i].what);
			check_op(cases[i].what, "A n B", &n, cases[i].inter);
		}
		ir_free(&a);
		ir_free(&b);
		ir_free(&d);
		ir_free(&n);
	}
	struct ir_flows raw = { 0 }, out = { 0 };
	struct ir_box box = { .family = ADDR_V4, .proto = PROTO_TCP, .port_hi = 1 };
	ir_add(&raw, &box, NULL);
	T_CHECK(ir_subtract(&raw, &raw, &out) == -EINVAL, "subtracting a set that is not canonical is -EINVAL");
	ir_free(&raw);
	ir_free(&out);
}

/* ---- property check on random sets in a small universe ---- */

static uint32_t rng_state = 0x2545f491u;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state % n;
}

#define U 8   /* ports, destinations and sources run over 0..U-1 */
static const uint8_t protos[] = { PROTO_TCP, PROTO_UDP, PROTO_ICMP };
static const uint8_t fams[] = { ADDR_V4, ADDR_V6 };

static void random_range(unsigned *lo, unsigned *hi)
{
	unsigned a = rnd(U), b = rnd(U);
	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
}

static void random_rules(struct ir_flows *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned plo, phi, dlo, dhi, slo, shi;
		random_range(&plo, &phi);
		random_range(&dlo, &dhi);
		random_range(&slo, &shi);
		struct ir_box b = { .family = fams[rnd(2)], .proto = protos[rnd(3)],
				    .port_lo = (uint16_t)plo, .port_hi = (uint16_t)phi,
				    .dst_lo = dlo, .dst_hi = dhi, .src_lo = slo, .src_hi = shi };
		ir_add(f, &b, NULL);
	}
}

static void random_flows(struct ir_flows *f)
{
	random_rules(f, rnd(10));
	ir_canonicalize(f);
}

/* B as an edit of A: A's rules with one left out and one added, so most
 * cells of the two sides share their source sets' contents. */
static void edited_flows(const struct ir_flows *a, struct ir_flows *b)
{
	size_t skip = a->nrules ? rnd((uint32_t)a->nrules) : 0;
	for (size_t i = 0; i < a->nrules; i++)
		if (i != skip)
			ir_add(b, &a->rules[i].box, NULL);
	random_rules(b, 1);
	ir_canonicalize(b);
}

/* The cells are sorted and pairwise disjoint, each set sorted, disjoint
 * and not touching; a set index is shared iff the contents are equal. */
static bool disjoint_sorted(const struct ir_flows *f)
{
	for (size_t i = 0; i < f->ncells; i++) {
		const struct ir_cell *x = &f->cells[i];
		size_t n;
		const struct ir_span *v = ir_set_spans(f, x->set, &n);
		for (size_t k = 0; k + 1 < n; k++)
			if (v[k].hi + 1 >= v[k + 1].lo)
				return false;
		if (i + 1 < f->ncells) {
			const struct ir_cell *y = &f->cells[i + 1];
			bool after = x->family < y->family || (x->family == y->family && x->proto < y->proto) ||
				     (x->family == y->family && x->proto == y->proto &&
				      (x->port_hi < y->port_lo ||
				       (x->port_lo == y->port_lo && x->port_hi == y->port_hi && x->dst_hi < y->dst_lo)));
			if (!after)
				return false;
		}
		for (size_t j = i + 1; j < f->ncells; j++)
			if ((x->set == f->cells[j].set) != ir_set_equal(f, x->set, f, f->cells[j].set))
				return false;
	}
	return true;
}

static void test_property(void)
{
	enum { TRIALS = 400 };
	int union_ok = 0, packets_ok = 0, disjoint_ok = 0, nonempty = 0;
	for (int t = 0; t < TRIALS; t++) {
		struct ir_flows a = { 0 }, b = { 0 }, d = { 0 }, n = { 0 }, u = { 0 }, back = { 0 };
		random_flows(&a);
		if (t % 2)   /* half the pairs: B an edit of A */
			edited_flows(&a, &b);
		else
			random_flows(&b);
		bool ok = ir_subtract(&a, &b, &d) == 0 && ir_intersect(&a, &b, &n) == 0;
		/* (A \ B) u (A n B) == A, canonically. */
		ok = ok && ir_add_boxes(&u, &d) == 0 && ir_add_boxes(&u, &n) == 0 && ir_canonicalize(&u) == 0;
		union_ok += ok && ir_equal(&u, &a);
		/* ... and A \ B, B have nothing in common; the results are canonical. */
		ok = ok && ir_intersect(&d, &b, &back) == 0;
		disjoint_ok += ok && back.nboxes == 0 && disjoint_sorted(&d) && disjoint_sorted(&n);
		nonempty += d.nboxes > 0 && n.nboxes > 0;
		/* Every packet of the universe: in A \ B iff in A and not in B. */
		bool every = ok;
		for (unsigned fi = 0; every && fi < 2; fi++)
			for (unsigned pi = 0; every && pi < 3; pi++)
				for (unsigned port = 0; every && port < U; port++)
					for (unsigned dst = 0; every && dst < U; dst++)
						for (unsigned src = 0; every && src < U; src++) {
							bool in_a = rules_accept(&a, fams[fi], protos[pi], src, dst, port);
							bool in_b = rules_accept(&b, fams[fi], protos[pi], src, dst, port);
							every = ir_match(&d, fams[fi], protos[pi], src, dst, port) ==
									(in_a && !in_b) &&
								ir_match(&n, fams[fi], protos[pi], src, dst, port) ==
									(in_a && in_b);
						}
		packets_ok += every;
		ir_free(&a);
		ir_free(&b);
		ir_free(&d);
		ir_free(&n);
		ir_free(&u);
		ir_free(&back);
	}
	T_CHECK(union_ok == TRIALS, "(A \\ B) u (A n B) == A canonically on %d random pairs (%d held)", TRIALS, union_ok);
	T_CHECK(disjoint_ok == TRIALS, "A \\ B misses B and is disjoint on %d random pairs (%d held)", TRIALS,
		disjoint_ok);
	T_CHECK(packets_ok == TRIALS,
		"A \\ B and A n B agree with the rules' membership (brute force) packet by packet on %d pairs (%d held)",
		TRIALS, packets_ok);
	T_CHECK(nonempty > TRIALS / 10, "the random pairs exercise real overlaps (%d of %d with both parts non-empty)",
		nonempty, TRIALS);
}

int main(void)
{
	test_table();
	test_property();
	T_DONE();
}
