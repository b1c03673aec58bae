/* bench_agent: the node's cost to apply a netmap of 100, 1,000 and 10,000
 * peers, and then one-peer deltas, through the real paths keygated takes
 * (agent_sys_apply for a netmap, agent_sys_take_delta for a delta: a
 * filter change that only adds or removes a source is a patch of the last
 * table, and the delta is appended to the journal): peers into an
 * in-memory WireGuard device (wgdev_configure), routes into table 52 and
 * the address through rtnetlink, the filter (every peer may reach the node
 * on 22) into nftables as one transaction.  It runs in a network namespace
 * of its own, routes on lo, with keygated's heap setting
 * (agent_nft_keep_heap).  Printed: wall time per apply (the kernel's share
 * is the point), the median of REPEAT runs for the deltas (a peer added;
 * the same peer removed again, which re-checks the open connections,
 * nftc.h; an endpoint moved), the same maps applied whole beside them,
 * against the aim of issue 11 (a one-peer change under 5 ms, never
 * proportional to the number of peers).
 * Figures only. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_int.h"
#include "log.h"

#define REPEAT 9

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int one_prefix(struct ctl_prefixes *p, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	p->v = calloc(1, sizeof *p->v);
	if (!p->v)
		return -ENOMEM;
	p->n = 1;
	*p->v = (struct ctl_prefix){ .family = 4, .bits = 32, .addr = { a, b, c, d } };
	return 0;
}

/* Peers 1..N (peer MOVED's endpoint port changed when not 0), every one
 * allowed to reach the node on 22. */
static int make_map(struct ctl_netmap *m, size_t n, uint64_t gen, size_t moved)
{
	memset(m, 0, sizeof *m);
	m->generation = gen;
	m->self.id = 100000;
	m->self.name = strdup("node");
	m->peers = calloc(n, sizeof *m->peers);
	size_t cap = 64 + n * 24;
	char *filter = malloc(cap);
	if (!m->self.name || !m->peers || !filter || one_prefix(&m->self.addresses, 100, 127, 255, 254) < 0)
		return -ENOMEM;
	int len = snprintf(filter, cap, "[{\"SrcIPs\":[");
	for (size_t i = 0; i < n; i++) {
		struct ctl_peer *p = &m->peers[i];
		uint8_t b = (uint8_t)(64 + (i + 1) / 65536), c = (uint8_t)((i + 1) / 256), d = (uint8_t)(i + 1);
		char name[32];
		p->id = i + 1;
		snprintf(name, sizeof name, "peer%zu", i + 1);
		p->name = strdup(name);
		memset(p->wg_key, 0x11, sizeof p->wg_key);
		memcpy(p->wg_key, &p->id, sizeof p->id);
		p->endpoints.v = calloc(1, sizeof *p->endpoints.v);
		if (!p->name || !p->endpoints.v || one_prefix(&p->addresses, 100, b, c, d) < 0 ||
		    one_prefix(&p->allowed_ips, 100, b, c, d) < 0)
			return -ENOMEM;
		p->endpoints.n = 1;
		p->endpoints.v[0] = (struct ctl_endpoint){ .family = 4, .port = (uint16_t)(i + 1 == moved ? 41642 : 41641),
							   .addr = { 198, 18, c, d } };
		len += snprintf(filter + len, cap - (size_t)len, "%s\"100.%u.%u.%u\"", i ? "," : "", b, c, d);
	}
	snprintf(filter + len, cap - (size_t)len,
		 "],\"DstPorts\":[{\"IP\":\"100.127.255.254\",\"Ports\":{\"First\":22,\"Last\":22}}]}]");
	m->filter = filter;
	m->n_peers = n;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Apply a map of N peers (MOVED as make_map) over what A holds: ms, or -1. */
static double apply(struct agent *a, size_t n, uint64_t gen, size_t moved)
{
	struct ctl_netmap m;
	if (make_map(&m, n, gen, moved) < 0)
		return -1;
	double t0 = now_ms();
	int rc = agent_sys_apply(a, &m, false);
	double t1 = now_ms();
	if (rc < 0) {
		fprintf(stderr, "bench_agent: apply failed: %s\n", a->apply_error);
		ctl_netmap_free(&m);
		return -1;
	}
	return t1 - t0;
}

/* The delta from what A holds to a map of N peers (MOVED as make_map),
 * taken as keygated takes one (agent_sys_take_delta: applied, then
 * stored in the journal): ms, the apply's share in *APPLY_MS, or -1. */
static double take_delta(struct agent *a, size_t n, uint64_t gen, size_t moved, double *apply_ms)
{
	struct ctl_netmap m;
	struct ctl_delta d;
	if (make_map(&m, n, gen, moved) < 0 || ctl_netmap_delta(&a->applied, &m, &d) < 0)
		return -1;
	ctl_netmap_free(&m);
	double t0 = now_ms();
	int rc = agent_sys_take_delta(a, &d);
	double t1 = now_ms();
	ctl_delta_free(&d);
	if (rc < 0) {
		fprintf(stderr, "bench_agent: delta failed: %s\n", a->apply_error);
		return -1;
	}
	*apply_ms = a->last_apply_ms;
	return t1 - t0;
}

static double median(double *v)
{
	qsort(v, REPEAT, sizeof v[0], cmp_double);
	return v[REPEAT / 2];
}

/* One size: medians in ms.  Deltas (agent_sys_take_delta, journal
 * included; the apply's share beside) and the same maps applied whole
 * (agent_sys_apply: the path before deltas were applied as such). */
enum { ADD, DEL, MOVE, NCASE };
struct row {
	size_t n;
	double full, stored, delta[NCASE], applied[NCASE], whole[NCASE];
	size_t patched;		/* filter changes applied as patches of the last table */
};

static int measure(struct agent *a, size_t n, uint64_t *gen, struct row *r)
{
	double v[3][NCASE][REPEAT];
	*r = (struct row){ .n = n };
	r->full = apply(a, n, ++*gen, 0);
	double t0 = now_ms();
	if (r->full < 0 || agent_state_save_netmap(a->state_dir, &a->applied, &a->journal) < 0)
		return -1;
	r->stored = now_ms() - t0;
	for (int i = 0; i < REPEAT; i++) {
		/* to N + 1 peers and back, then peer N/2's endpoint moved and back */
		size_t to[] = { n + 1, n, n }, moved[] = { 0, 0, n / 2 };
		for (int c = 0; c < NCASE; c++) {
			v[0][c][i] = take_delta(a, to[c], ++*gen, moved[c], &v[1][c][i]);
			r->patched += c != MOVE && agent_nft_last_patched(a->nft);
			if (c == MOVE && v[0][c][i] >= 0)
				v[0][c][i] = take_delta(a, n, ++*gen, 0, &v[1][c][i]) < 0 ? -1 : v[0][c][i];
			if (v[0][c][i] < 0)
				return -1;
		}
		for (int c = 0; c < NCASE; c++) {
			v[2][c][i] = apply(a, to[c], ++*gen, moved[c]);
			if (v[2][c][i] < 0 || (c == MOVE && apply(a, n, ++*gen, 0) < 0))
				return -1;
		}
	}
	for (int c = 0; c < NCASE; c++) {
		r->delta[c] = median(v[0][c]);
		r->applied[c] = median(v[1][c]);
		r->whole[c] = median(v[2][c]);
	}
	return 0;
}

static void print_rows(const struct row *rows, size_t nrows)
{
	printf("one-peer deltas, median of %d, ms (aim of issue 11: under 5 ms, never proportional to the peers)\n",
	       REPEAT);
	printf("%6s %9s %9s | %-41s | %s\n", "", "full map", "stored", "delta as keygated takes it (applied)",
	       "the same, netmap applied whole (before)");
	printf("%6s %9s %9s | %13s %13s %13s | %8s %8s %8s\n", "peers", "", "whole", "peer added", "peer removed",
	       "endpoint", "added", "removed", "endpoint");
	for (size_t i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		printf("%6zu %9.2f %9.2f |", r->n, r->full, r->stored);
		for (int c = 0; c < NCASE; c++)
			printf(" %5.2f (%5.2f)", r->delta[c], r->applied[c]);
		printf(" | %8.2f %8.2f %8.2f\n", r->whole[ADD], r->whole[DEL], r->whole[MOVE]);
	}
	for (size_t i = 0; i < nrows; i++)
		printf("%zu peers: filter changes applied as patches of the last table: %zu of %d\n", rows[i].n,
		       rows[i].patched, 2 * REPEAT);
	printf("(a peer removed re-checks the open connections: the kernel walks its conntrack table; "
	       "\"stored whole\" is netmap.json rewritten, as when the journal is compacted)\n");
}

int main(void)
{
	static struct agent a;
	log_init("bench_agent", true, LOG_LEVEL_WARN);
	agent_nft_keep_heap();	/* as keygated does */
	if (unshare(CLONE_NEWNET) < 0) {
		printf("bench_agent: skipped: no network namespace of our own (%s)\n", strerror(errno));
		return 0;
	}
	snprintf(a.ifname, sizeof a.ifname, "lo");
	a.dev = wgdev_new("lo", -1, false);
	a.rt = rtnl_open();
	a.nft = agent_nft_new(NULL, "lo");
	if (!a.dev || !a.rt || !a.nft) {
		printf("bench_agent: skipped: setup failed (%s)\n", strerror(errno));
		return 0;
	}
	rtnl_link_up(a.rt, 1);
	/* The journal as keygated keeps it (fdatasync per delta). */
	char state[] = "/tmp/kg-bench-agent-XXXXXX";
	if (!mkdtemp(state)) {
		printf("bench_agent: skipped: no state directory (%s)\n", strerror(errno));
		return 0;
	}
	a.state_dir = state;
	uint64_t gen = 1;
	struct row rows[3];
	size_t nrows = 0;
	for (size_t n = 100; n <= 10000; n *= 10) {
		if (measure(&a, n, &gen, &rows[nrows]) < 0) {
			printf("bench_agent: %zu peers: failed\n", n);
			break;
		}
		nrows++;
		agent_sys_apply(&a, NULL, false);
	}
	print_rows(rows, nrows);
	agent_state_forget_netmap(a.state_dir, &a.journal);
	rmdir(state);
	if (a.has_applied)
		ctl_netmap_free(&a.applied);
	agent_nft_free(a.nft);
	rtnl_close(a.rt);
	wgdev_free(a.dev);
	return 0;
}
