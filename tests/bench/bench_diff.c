/* bench_diff: the set differences behind `aclc diff` (NEW \ OLD and
 * OLD \ NEW) on relay-shaped flow IRs of N rules, NEW being OLD with one
 * rule in ten replaced, beside the reference measured in the same run:
 * canonicalising NEW, which every diff has to do first anyway. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ir.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct ir_box random_box(unsigned *seed, size_t n)
{
	static const unsigned ports[] = { 22, 443, 5432, 8080, 3000 };
	struct ir_box b = { .family = ADDR_V4, .proto = rand_r(seed) % 4 ? PROTO_TCP : PROTO_UDP };
	b.port_lo = b.port_hi = (uint16_t)ports[rand_r(seed) % 5];
	b.dst_lo = b.dst_hi = 0x0a010200u + (unsigned)(rand_r(seed) % 16);
	b.src_lo = 0x64400000u + (unsigned)(rand_r(seed) % (4 * (unsigned)n));
	b.src_hi = b.src_lo + (unsigned)(rand_r(seed) % 4);
	return b;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 1000, 10000, 50000 };
	size_t nsizes = argc > 1 ? 1 : sizeof(sizes) / sizeof(sizes[0]);
	unsigned seed = 11;
	printf("%8s %8s %16s %18s %10s %10s\n", "rules", "boxes", "canonical ref ms", "both differences ms",
	       "gained", "lost");
	for (size_t s = 0; s < nsizes; s++) {
		size_t n = argc > 1 ? (size_t)atol(argv[1]) : sizes[s];
		struct ir_flows old = { 0 }, new = { 0 }, gained = { 0 }, lost = { 0 };
		for (size_t i = 0; i < n; i++) {
			struct ir_box b = random_box(&seed, n);
			ir_add(&old, &b, NULL);
			if (i % 10 == 0)
				b = random_box(&seed, n);
			ir_add(&new, &b, NULL);
		}
		ir_canonicalize(&old);
		double t0 = now();
		ir_canonicalize(&new);
		double t1 = now();
		int rc = ir_subtract(&new, &old, &gained);
		if (rc == 0)
			rc = ir_subtract(&old, &new, &lost);
		double t2 = now();
		if (rc < 0) {
			fprintf(stderr, "bench_diff: %d\n", rc);
			return 1;
		}
		printf("%8zu %8zu %16.2f %18.2f %10zu %10zu\n", n, new.nboxes, (t1 - t0) * 1e3, (t2 - t1) * 1e3,
		       gained.nboxes, lost.nboxes);
		ir_free(&old);
		ir_free(&new);
		ir_free(&gained);
		ir_free(&lost);
	}
	return 0;
}
