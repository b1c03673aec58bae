/* bench_apply: time the netlink backend (nftb) as the relay daemon uses it.
 *
 *   bench_apply POLICY_A POLICY_B --nodes NODES --node NAME [--rounds N]
 *
 * In the caller's network namespace (the bench script gives it a fresh
 * one), compiles both policies for the node (the load pipeline, nftm), then:
 *   full      A applied to an empty ruleset: one transaction
 *   first     B applied by a new handle: our table read back from the
 *             kernel (shape and every element), the difference sent
 *   readback  B, A, B, ... each applied by a new handle, as `aclc apply`
 *             does it (median of the rounds; "first" is the first of them)
 *   cached    B, A, B, ... applied by one handle (after it applied B):
 *             the generation is unchanged since its own last commit, so no
 *             read-back
 * and prints one line of figures per step (milliseconds; median for the
 * rounds). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_load.h"
#include "diag.h"
#include "ir.h"
#include "nftb.h"
#include "nftm.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static struct nftm_table *compile(const char *policy, const char *nodes, const char *node)
{
	struct load_facts f = { 0 };
	struct nftm_table *t = NULL;
	struct nftm_opts opts = { 0 };
	if (bench_node_facts(policy, nodes, node, LOAD_CANONICAL, &f) == 0) {
		struct nftm_node n = { &f.self, &f.routes };
		t = nftm_build(&opts, &n, &f.flows);
	}
	load_facts_free(&f);
	return t;
}

/* Apply T with NB (ONCE: as aclc apply, which closes the handle after);
 * the elapsed time in *MS.  Exits on failure. */
static void apply(struct nftb *nb, const struct nftm_table *t, bool once, struct nftb_result *res, double *ms)
{
	struct diag_list diags = { 0 };
	struct nftb_opts opts = { .once = once };
	double t0 = now_ms();
	int rc = nftb_apply(nb, t, &opts, res, &diags);
	*ms = now_ms() - t0;
	if (rc < 0) {
		diag_print(stderr, &diags);
		fprintf(stderr, "bench_apply: apply failed: %s\n", strerror(-rc));
		exit(1);
	}
	diag_list_free(&diags);
}

static void line(const char *what, double ms, const struct nftb_result *r)
{
	printf("%-9s %9.2f ms  send %8.2f ms  elements +%zu -%zu  messages %zu (%zu element)  bytes %zu  pages %zu%s\n",
	       what, ms, r->send_ms, r->nadd, r->ndel, r->msgs, r->elem_msgs, r->bytes, r->pages,
	       r->cached ? "  (no read-back)" : "");
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *pa = NULL, *pb = NULL, *nodes = NULL, *node = NULL;
	int rounds = 20;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--nodes") && i + 1 < argc)
			nodes = argv[++i];
		else if (!strcmp(argv[i], "--node") && i + 1 < argc)
			node = argv[++i];
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!pa)
			pa = argv[i];
		else if (!pb)
			pb = argv[i];
		else
			goto usage;
	}
	if (!pa || !pb || !nodes || !node || rounds < 1)
		goto usage;
	struct nftm_table *a = compile(pa, nodes, node), *b = compile(pb, nodes, node);
	if (!a || !b) {
		fprintf(stderr, "bench_apply: cannot compile the policies\n");
		return 1;
	}
	printf("model     A %zu elements, B %zu elements\n", nftm_elem_count(a), nftm_elem_count(b));
	struct nftb *n1 = nftb_open(), *n2 = nftb_open();
	if (!n1 || !n2) {
		perror("bench_apply: nftb_open");
		return 1;
	}
	struct nftb_result r;
	double ms, *v = calloc((size_t)rounds, sizeof(*v));
	if (!v)
		return 1;
	apply(n1, a, false, &r, &ms);
	line("full", ms, &r);
	nftb_result_free(&r);
	/* As the command line does it: a new handle each time, B, A, B, ... */
	struct nftb_result last = { 0 };
	for (int i = 0; i < rounds; i++) {
		struct nftb *nr = nftb_open();
		if (!nr) {
			perror("bench_apply: nftb_open");
			return 1;
		}
		nftb_result_free(&last);
		apply(nr, i % 2 ? a : b, true, &last, &v[i]);
		nftb_close(nr);
		if (i == 0)
			line("first", v[i], &last);
	}
	qsort(v, (size_t)rounds, sizeof(*v), dcmp);
	line("readback", v[rounds / 2], &last);
	printf("readback  min %.2f ms, median %.2f ms, max %.2f ms over %d updates by new handles\n", v[0],
	       v[rounds / 2], v[rounds - 1], rounds);
	nftb_result_free(&last);
	apply(n2, b, false, &r, &ms);
	nftb_result_free(&r);
	for (int i = 0; i < rounds; i++) {
		nftb_result_free(&last);
		apply(n2, i % 2 ? b : a, false, &last, &v[i]);
	}
	qsort(v, (size_t)rounds, sizeof(*v), dcmp);
	line("cached", v[rounds / 2], &last);
	printf("cached    min %.2f ms, median %.2f ms, max %.2f ms over %d updates\n", v[0], v[rounds / 2],
	       v[rounds - 1], rounds);
	nftb_result_free(&last);
	free(v);
	nftb_close(n1);
	nftb_close(n2);
	nftm_free(a);
	nftm_free(b);
	return 0;
usage:
	fprintf(stderr, "usage: bench_apply POLICY_A POLICY_B --nodes NODES --node NAME [--rounds N]\n");
	return 2;
}
