/* bench_ir: canonicalising N rules of a relay-shaped policy (many sources,
 * a few services, a handful of ports) beside the reference, a plain qsort
 * of the same N boxes: the least any canonical form must cost.  The
 * canonical form's size: flattened boxes, cells, interned source sets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_box(const void *a, const void *b)
{
	const struct ir_box *x = a, *y = b;
	if (x->src_lo != y->src_lo)
		return x->src_lo < y->src_lo ? -1 : 1;
	return (int)x->port_lo - (int)y->port_lo;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 1000, 10000, 50000 };
	size_t nsizes = argc > 1 ? 1 : sizeof(sizes) / sizeof(sizes[0]);
	unsigned seed = 7;
	printf("%8s %14s %16s %10s %8s %6s\n", "rules", "canonical ms", "qsort ref ms", "boxes", "cells", "sets");
	for (size_t s = 0; s < nsizes; s++) {
		size_t n = argc > 1 ? (size_t)atol(argv[1]) : sizes[s];
		struct ir_flows f = { 0 };
		struct ir_box *ref = malloc(n * sizeof(*ref));
		static const unsigned ports[] = { 22, 443, 5432, 8080, 3000 };
		for (size_t i = 0; i < n; i++) {
			struct ir_box b = { .family = ADDR_V4, .proto = PROTO_TCP };
			b.port_lo = b.port_hi = (uint16_t)ports[rand_r(&seed) % 5];
			b.dst_lo = b.dst_hi = 0x08080800u + (unsigned)(rand_r(&seed) % 4);
			b.src_lo = b.src_hi = 0x64400000u + (unsigned)(rand_r(&seed) % (4 * (unsigned)n));
			ir_add(&f, &b, NULL);
			ref[i] = b;
		}
		double t0 = now();
		ir_canonicalize(&f);
		double t1 = now();
		qsort(ref, n, sizeof(*ref), cmp_box);
		double t2 = now();
		printf("%8zu %14.2f %16.2f %10zu %8zu %6zu\n", n, (t1 - t0) * 1e3, (t2 - t1) * 1e3, f.nboxes, f.ncells,
		       f.nsets);
		ir_free(&f);
		free(ref);
	}
	return 0;
}
