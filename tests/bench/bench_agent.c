/* bench_agent: the node's cost to apply a netmap, in full and as one-peer
 * deltas, at 100, 1,000 and 10,000 peers (issue 11: a one-peer change
 * under 5 ms, never proportional to the number of peers), through the real
 * path in a network namespace of its own (routes on lo, keygated's heap
 * setting agent_nft_keep_heap):
 *  - filter: the delta as the coordinator sends it (ctl_netmap_delta, its
 *    JSON decoded), where a peer joining or leaving the one rule (every
 *    peer may reach the node on 22) is a filter patch; the node's netmap
 *    made from it (ctl_netmap_apply: the filter text spliced) and the
 *    patch applied to the last table (agent_nft_apply_delta) in a table of
 *    its own.  Beside it, the same maps applied whole (agent_nft_apply:
 *    the path before patches) to show what changed.
 *  - the rest: peers, addresses and routes (agent_sys_apply: the
 *    in-memory WireGuard device, rtnetlink) for a peer added, removed, or
 *    its endpoint moved, the filter left as it is.
 * Median of REPEAT runs each.  Figures only. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Peers 1..N (peer MOVED's endpoint port changed when not 0); the filter
 * lets peers 1..NF reach the node on 22. */
static int make_map(struct ctl_netmap *m, size_t n, size_t nf, uint64_t gen, size_t moved)
{
	memset(m, 0, sizeof *m);
	m->generation = gen;
	m->self.id = 100000;
	m->self.name = strdup("node");
	m->peers = calloc(n + 1, sizeof *m->peers);
	size_t cap = 128 + nf * 24;
	char *filter = malloc(cap);
	m->filter = filter;
	if (!m->self.name || !m->peers || !filter || one_prefix(&m->self.addresses, 100, 127, 255, 254) < 0)
		return -ENOMEM;
	int len = snprintf(filter, cap, "[{\"SrcIPs\":[");
	for (size_t i = 0; i < n || i < nf; i++) {
		uint8_t b = (uint8_t)(64 + (i + 1) / 65536), c = (uint8_t)((i + 1) / 256), d = (uint8_t)(i + 1);
		if (i < nf)
			len += snprintf(filter + len, cap - (size_t)len, "%s\"100.%u.%u.%u\"", i ? "," : "", b, c, d);
		if (i >= n)
			continue;
		struct ctl_peer *p = &m->peers[m->n_peers++];
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
	}
	snprintf(filter + len, cap - (size_t)len,
		 "],\"DstPorts\":[{\"IP\":\"100.127.255.254\",\"Ports\":{\"First\":22,\"Last\":22}}]}]");
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, REPEAT, sizeof v[0], cmp_double);
	return v[REPEAT / 2];
}

/* The rest: a map of N peers (filter of NF, MOVED as make_map) over what
 * A holds, through agent_sys_apply: ms, or -1. */
static double apply_rest(struct agent *a, size_t n, size_t nf, uint64_t gen, size_t moved)
{
	struct ctl_netmap m;
	if (make_map(&m, n, nf, gen, moved) < 0)
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

/* The filter part of keygate's node, on its own table. */
struct filt {
	struct agent_nft *nft;
	struct ctl_netmap cur;		/* the node's netmap */
	struct ctl_prefixes served;
	struct nftm_snat_to snat_to;
	size_t patched;			/* applies that were patches */
	double coord_ms;		/* the last delta's making (the coordinator's share) */
};

/* The delta from F->cur to a map of NF peers in the filter, through its
 * JSON, as the node receives it; the node's next netmap made from it and
 * its filter applied: by patch (agent_nft_apply_delta) or WHOLE.  ms of
 * the filter's part (its new text, the table), or -1. */
static double apply_filter(struct filt *f, size_t nf, bool whole, double *copy_ms)
{
	struct ctl_netmap next, out;
	struct ctl_delta d, got;
	struct ctl_err err = { NULL, 0 };
	char why[256];
	double ms = -1;
	if (make_map(&next, nf, nf, f->cur.generation + 1, 0) < 0) {
		ctl_netmap_free(&next);
		return -1;
	}
	double c0 = now_ms();
	if (ctl_netmap_delta(&f->cur, &next, &d) < 0) {
		ctl_netmap_free(&next);
		return -1;
	}
	f->coord_ms = now_ms() - c0;
	cJSON *j = ctl_delta_to_json(&d);
	int rc = j ? ctl_delta_from_json(j, &got, &err) : -ENOMEM;
	cJSON_Delete(j);
	ctl_delta_free(&d);
	ctl_netmap_free(&next);
	if (rc < 0)
		return -1;
	/* The new filter text alone (what ctl_netmap_apply does for the
	 * filter), then the whole netmap (its peers copied: the rest's share,
	 * in *COPY_MS), then the table. */
	char *text = NULL;
	double t0 = now_ms();
	if (got.n_patch)
		rc = ctl_filter_patch_apply(f->cur.filter, got.patch, got.n_patch, &text);
	double t1 = now_ms();
	free(text);
	if (rc == 0)
		rc = ctl_netmap_apply(&f->cur, &got, &out);
	double t2 = now_ms();
	if (rc == 0)
		rc = whole ? agent_nft_apply(f->nft, &out, &f->served, &f->snat_to, why, sizeof why)
			   : agent_nft_apply_delta(f->nft, &got, &out, &f->served, &f->snat_to, why, sizeof why);
	double t3 = now_ms();
	if (rc == 0) {
		ms = t1 - t0 + t3 - t2;
		*copy_ms = t2 - t1;
		f->patched += agent_nft_last_patched(f->nft);
		ctl_netmap_free(&f->cur);
		f->cur = out;
	} else {
		fprintf(stderr, "bench_agent: filter apply failed: %s\n", why);
	}
	ctl_delta_free(&got);
	return ms;
}

/* One size: the medians, in ms, of a peer added / removed (filter by
 * patch, filter whole, the rest) and an endpoint moved (the rest). */
struct row {
	size_t n;
	double full, fadd, fdel, wadd, wdel, radd, rdel, rmove, copy, coord;
};

static int measure(struct agent *a, struct filt *f, size_t n, uint64_t *gen, struct row *r)
{
	double v[10][REPEAT];
	r->n = n;
	r->full = apply_rest(a, n, n, ++*gen, 0);
	char why[256];
	ctl_netmap_free(&f->cur);
	if (r->full < 0 || make_map(&f->cur, n, n, ++*gen, 0) < 0 ||
	    agent_nft_apply(f->nft, &f->cur, &f->served, &f->snat_to, why, sizeof why) < 0)
		return -1;
	for (int i = 0; i < REPEAT; i++) {
		v[0][i] = apply_filter(f, n + 1, false, &v[8][i]);
		v[9][i] = f->coord_ms;
		v[1][i] = apply_filter(f, n, false, &v[8][i]);
		v[2][i] = apply_filter(f, n + 1, true, &v[8][i]);
		v[3][i] = apply_filter(f, n, true, &v[8][i]);
		v[4][i] = apply_rest(a, n + 1, n, ++*gen, 0);
		v[5][i] = apply_rest(a, n, n, ++*gen, 0);
		v[6][i] = apply_rest(a, n, n, ++*gen, n / 2);
		v[7][i] = apply_rest(a, n, n, ++*gen, 0);
		for (int k = 0; k < 8; k++)
			if (v[k][i] < 0)
				return -1;
	}
	double *out[] = { &r->fadd, &r->fdel, &r->wadd, &r->wdel, &r->radd, &r->rdel, &r->rmove, NULL, &r->copy,
			  &r->coord };
	for (int k = 0; k < 10; k++)
		if (out[k])
		*out[k] = median(v[k]);
	return 0;
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
	struct filt f = { .nft = agent_nft_new("keygate_bench", "lo") };
	struct row rows[3];
	size_t nrows = 0;
	uint64_t gen = 1;
	if (!f.nft) {
		printf("bench_agent: skipped: setup failed (%s)\n", strerror(errno));
		return 0;
	}
	for (size_t n = 100; n <= 10000; n *= 10) {
		if (measure(&a, &f, n, &gen, &rows[nrows]) < 0) {
			printf("bench_agent: %zu peers: failed\n", n);
			break;
		}
		nrows++;
		agent_sys_apply(&a, NULL, false);
	}
	printf("one-peer deltas, median of %d, ms (aim of issue 11: under 5 ms, never proportional to the peers)\n",
	       REPEAT);
	printf("%7s %9s | %-28s | %-28s | %s\n", "", "full map", "filter patch (new path)", "filter whole (old path)",
	       "the rest: peers, routes; netmap copy");
	printf("%7s %9s | %13s %14s | %13s %14s | %8s %8s %8s %8s\n", "peers", "", "peer added", "peer removed",
	       "peer added", "peer removed", "added", "removed", "moved", "copy");
	for (size_t i = 0; i < nrows; i++)
		printf("%7zu %9.2f | %13.2f %14.2f | %13.2f %14.2f | %8.2f %8.2f %8.2f %8.2f\n", rows[i].n,
		       rows[i].full, rows[i].fadd, rows[i].fdel, rows[i].wadd, rows[i].wdel, rows[i].radd, rows[i].rdel,
		       rows[i].rmove, rows[i].copy);
	printf("filter deltas applied as patches of the last table: %zu of %zu\n", f.patched,
	       nrows * 2 * (size_t)REPEAT);
	for (size_t i = 0; i < nrows; i++)
		printf("the coordinator's share, ctl_netmap_delta with the patch (%zu peers): %.2f ms\n", rows[i].n,
		       rows[i].coord);
	agent_nft_remove(f.nft);
	agent_nft_free(f.nft);
	ctl_netmap_free(&f.cur);
	if (a.has_applied)
		ctl_netmap_free(&a.applied);
	agent_nft_free(a.nft);
	rtnl_close(a.rt);
	wgdev_free(a.dev);
	return 0;
}
