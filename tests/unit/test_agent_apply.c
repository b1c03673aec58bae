/* agent_apply with a fake device and fake netlink: the order of the steps,
 * nothing touched that did not change (an unchanged peer is never set
 * again, so its sessions live on), a failed step undone back to the old
 * state with the reason, routes only when accepted, and tearing down.
 * agent_apply_delta: a delta naming one peer performs that peer's steps
 * only, and random deltas (with failures injected) take the fake through
 * the same calls and states as whole applies of the netmaps they make. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent_apply.h"
#include "agent_delta.h"
#include "t.h"

#define MAX_THINGS 32

/* The fake system: what it holds, and the log of calls. */
struct fake {
	char peers[MAX_THINGS][160];	/* "KEY0 allowed..." */
	size_t n_peers;
	char addrs[MAX_THINGS][64], routes[MAX_THINGS][64];
	size_t n_addrs, n_routes;
	char filter[256];
	char log[4096];
	int calls, fail_at;		/* the FAIL_AT-th call (1-based) fails; 0 never */
};

static void logf_(struct fake *f, const char *what)
{
	if (f->log[0])
		strcat(f->log, " ");
	strcat(f->log, what);
}

static bool fail_now(struct fake *f)
{
	return ++f->calls == f->fail_at;
}

static void peer_text(char *out, size_t len, const struct ctl_peer *p)
{
	int n = snprintf(out, len, "%s/%u", p->name, p->wg_key[0]);
	for (size_t i = 0; i < p->allowed_ips.n; i++) {
		char pfx[64];
		ctl_prefix_format(pfx, &p->allowed_ips.v[i]);
		n += snprintf(out + n, len - (size_t)n, " %s", pfx);
	}
}

/* Index of the peer with key byte K, or -1. */
static int find_peer(struct fake *f, uint8_t k)
{
	for (size_t i = 0; i < f->n_peers; i++) {
		const char *slash = strchr(f->peers[i], '/');
		if (slash && atoi(slash + 1) == k)
			return (int)i;
	}
	return -1;
}

static int f_peer_set(void *ctx, const struct ctl_peer *p)
{
	struct fake *f = ctx;
	char what[200];
	snprintf(what, sizeof what, "set:%s", p->name);
	logf_(f, what);
	if (fail_now(f))
		return -ENOMEM;
	int i = find_peer(f, p->wg_key[0]);
	if (i < 0)
		i = (int)f->n_peers++;
	peer_text(f->peers[i], sizeof f->peers[i], p);
	return 0;
}

static int f_peer_remove(void *ctx, const struct ctl_peer *p)
{
	struct fake *f = ctx;
	char what[200];
	snprintf(what, sizeof what, "rm:%s", p->name);
	logf_(f, what);
	if (fail_now(f))
		return -EIO;
	int i = find_peer(f, p->wg_key[0]);
	if (i >= 0)
		memmove(f->peers[i], f->peers[i + 1], (f->n_peers-- - (size_t)i - 1) * sizeof f->peers[0]);
	return 0;
}

static int list_op(struct fake *f, char (*v)[64], size_t *n, const char *kind, const struct ctl_prefix *x, bool add)
{
	char pfx[64], what[100];
	ctl_prefix_format(pfx, x);
	snprintf(what, sizeof what, "%s%c%s", kind, add ? '+' : '-', pfx);
	logf_(f, what);
	if (fail_now(f))
		return -EEXIST;
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(v[i], pfx)) {
			if (!add)
				memmove(v[i], v[i + 1], (--*n - i) * sizeof v[0]);
			return 0;
		}
	if (add)
		snprintf(v[(*n)++], 64, "%s", pfx);
	return 0;
}

static int f_addr(void *ctx, const struct ctl_prefix *x, bool add)
{
	struct fake *f = ctx;
	return list_op(f, f->addrs, &f->n_addrs, "addr", x, add);
}

static int f_route(void *ctx, const struct ctl_prefix *x, bool add)
{
	struct fake *f = ctx;
	return list_op(f, f->routes, &f->n_routes, "route", x, add);
}

static int f_filter(void *ctx, const struct agent_target *t, const struct ctl_delta *d)
{
	struct fake *f = ctx;
	(void)d;
	const struct ctl_netmap *m = t->m;
	logf_(f, m ? "filter" : "filter:remove");
	if (fail_now(f))
		return -EINVAL;
	snprintf(f->filter, sizeof f->filter, "%s", m ? m->filter : "(none)");
	return 0;
}

static const struct agent_ops fake_ops = { f_peer_set, f_peer_remove, f_addr, f_route, f_filter };

static int cmp_text(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The fake's state as one line (peers sorted), for comparing. */
static void state(struct fake *f, char *out, size_t len)
{
	int n = 0;
	qsort(f->peers, f->n_peers, sizeof f->peers[0], cmp_text);
	for (size_t i = 0; i < f->n_peers; i++)
		n += snprintf(out + n, len - (size_t)n, "[%s]", f->peers[i]);
	for (size_t i = 0; i < f->n_addrs; i++)
		n += snprintf(out + n, len - (size_t)n, " a:%s", f->addrs[i]);
	for (size_t i = 0; i < f->n_routes; i++)
		n += snprintf(out + n, len - (size_t)n, " r:%s", f->routes[i]);
	snprintf(out + n, len - (size_t)n, " f:%s", f->filter);
}

/* A netmap from a compact description.  Peers: "id:name:keybyte:allowed,..." */
static struct ctl_netmap map(uint64_t gen, const char *self, const char *peers[], const char *routes,
			     const char *filter, bool snat)
{
	char text[4096];
	int n = snprintf(text, sizeof text, "{\"generation\":%llu,\"self\":{\"id\":1,\"name\":\"me\",\"addresses\":[%s]},\"peers\":[",
			 (unsigned long long)gen, self);
	for (size_t i = 0; peers[i]; i++) {
		unsigned id, key;
		char name[32], allowed[256], key64[64], first[64];
		sscanf(peers[i], "%u:%31[^:]:%u:%255s", &id, name, &key, allowed);
		uint8_t k[32];
		memset(k, (int)key, sizeof k);
		cJSON *s = cJSON_CreateObject();
		ctl_json_add_key(s, "k", k);
		snprintf(key64, sizeof key64, "%s", cJSON_GetObjectItem(s, "k")->valuestring);
		cJSON_Delete(s);
		snprintf(first, sizeof first, "%.*s", (int)strcspn(allowed, ","), allowed);
		char quoted[512] = "";
		for (char *save, *p = strtok_r(allowed, ",", &save); p; p = strtok_r(NULL, ",", &save))
			snprintf(quoted + strlen(quoted), sizeof quoted - strlen(quoted), "%s\"%s\"", quoted[0] ? "," : "", p);
		n += snprintf(text + n, sizeof text - (size_t)n,
			      "%s{\"id\":%u,\"name\":\"%s\",\"wg_key\":\"%s\",\"endpoints\":[\"192.0.2.%u:51820\"],"
			      "\"addresses\":[\"%s\"],\"allowed_ips\":[%s],\"keepalive\":25}",
			      i ? "," : "", id, name, key64, key, first, quoted);
	}
	snprintf(text + n, sizeof text - (size_t)n, "],\"routes\":[%s],\"filter\":%s,\"snat\":%s}", routes, filter,
		 snat ? "true" : "false");
	struct ctl_netmap m;
	char err[256];
	struct ctl_err e = { err, sizeof err };
	cJSON *j = cJSON_Parse(text);
	if (ctl_netmap_from_json(j, &m, &e) < 0) {
		printf("# bad test netmap: %s\n# %s\n", err, text);
		abort();
	}
	cJSON_Delete(j);
	return m;
}

static const char *f1 = "[{\"SrcIPs\":[\"100.64.0.2\"],\"DstPorts\":[{\"IP\":\"8.8.8.8\",\"Ports\":{\"First\":443,\"Last\":443}}]}]";
static const char *f2 = "[]";

static int run(struct fake *f, const struct ctl_netmap *old, bool old_acc, const struct ctl_netmap *new_,
	       bool new_acc, struct agent_apply_result *r)
{
	struct agent_target o = { old, old_acc, { 0 } }, n = { new_, new_acc, { 0 } };
	f->log[0] = '\0';
	f->calls = 0;
	return agent_apply(&fake_ops, f, &o, &n, false, r);
}

/* The netmap and route counts a node holds, applied through deltas. */
struct held {
	struct ctl_netmap m;
	struct agent_routes routes;
	bool accept;
};

/* Apply D to H through agent_apply_delta as keygated does: prepare (a
 * view when the filter needs one), apply, commit or drop. */
static int run_delta(struct fake *f, struct held *h, struct ctl_delta *d, struct agent_apply_result *r)
{
	struct ctl_netmap view;
	f->log[0] = '\0';
	f->calls = 0;
	if (!agent_delta_applies(&h->m, d))
		return -EBADMSG;
	bool need_view = agent_delta_touches_filter(&h->m, d);
	int rc = agent_delta_prepare(&h->m, d, need_view, &view);
	if (rc < 0)
		return rc;
	struct agent_target o = { &h->m, h->accept, { 0 } }, n = { need_view ? &view : NULL, h->accept, { 0 } };
	if ((rc = agent_apply_delta(&fake_ops, f, &o, d, &n, &h->routes, r)) < 0)
		agent_delta_view_free(&view);
	else
		agent_delta_commit(&h->m, d, &view);
	return rc;
}

/* H's route counts are those of its netmap counted afresh. */
static bool counts_right(const struct held *h)
{
	struct agent_target t = { &h->m, h->accept, { 0 } };
	struct agent_routes fresh;
	bool ok = agent_target_route_counts(&t, &fresh) == 0 && fresh.n == h->routes.n;
	for (size_t i = 0; ok && i < fresh.cap; i++)
		if (fresh.v[i].n)
			ok = agent_routes_count(&h->routes, &fresh.v[i].pfx) == fresh.v[i].n;
	agent_routes_free(&fresh);
	return ok;
}

static bool same_netmap(const struct ctl_netmap *a, const struct ctl_netmap *b)
{
	char *x = ctl_netmap_encode(a), *y = ctl_netmap_encode(b);
	bool same = x && y && !strcmp(x, y);
	free(x);
	free(y);
	return same;
}

/* A delta of one peer from A to B: exactly what the whole apply does. */
static void test_delta_one_peer(const struct ctl_netmap *a, const struct ctl_netmap *b)
{
	struct fake f = { 0 };
	struct agent_apply_result r;
	struct held h = { .accept = true };
	struct ctl_delta d;
	char want[4096];
	T_CHECK(run(&f, NULL, false, a, true, &r) == 0, "delta: the first netmap applied whole");
	ctl_netmap_apply(a, &(struct ctl_delta){ .from_generation = a->generation, .generation = a->generation }, &h.m);
	struct agent_target t = { &h.m, true, { 0 } };
	agent_target_route_counts(&t, &h.routes);
	run(&f, a, true, b, true, &r);
	snprintf(want, sizeof want, "%s", f.log);
	run(&f, b, true, a, true, &r);
	ctl_netmap_delta(a, b, &d);
	T_CHECK(run_delta(&f, &h, &d, &r) == 0, "delta: bob changed, carol added, through agent_apply_delta");
	T_STREQ(f.log, want, "... exactly their steps, as the whole apply takes them");
	T_STREQ(f.log, "set:bob set:carol route+100.64.0.4/32", "... alice, the routes she carries and the filter untouched");
	T_CHECK(same_netmap(&h.m, b) && counts_right(&h), "... the held netmap and route counts are the new netmap's");
	ctl_delta_free(&d);
	ctl_netmap_delta(b, a, &d);
	T_CHECK(run_delta(&f, &h, &d, &r) == 0 && !strcmp(f.log, "rm:carol set:bob route-100.64.0.4/32"),
		"delta: back: carol removed, bob updated, her route removed: %s", f.log);
	ctl_delta_free(&d);
	ctl_netmap_free(&h.m);
	agent_routes_free(&h.routes);
}

/* A random netmap: up to 10 of peers 2..11, keys that sometimes change,
 * addresses and routes from small pools so that peers share them. */
static struct ctl_netmap random_map(uint64_t gen, unsigned *seed)
{
	static const char *addrs[] = { "100.64.0.2/32", "100.64.0.3/32", "100.64.0.4/32", "100.64.0.5/32" };
	static const char *nets[] = { "10.0.0.0/24", "10.0.1.0/24", "100.64.0.3/32" };
	static const char *selfs[] = { "\"100.64.0.1/32\"", "\"100.64.0.9/32\"", "\"100.64.0.1/32\",\"fd7a::1/128\"" };
	static const char *routes[] = { "", "\"8.8.8.8/32\"", "\"8.8.8.8/32\",\"100.64.0.2/32\"", "\"10.0.1.0/24\"" };
	char text[10][160];
	const char *peers[11];
	size_t n = 0;
	for (unsigned id = 2; id <= 11; id++) {
		if (rand_r(seed) % 3 == 0)
			continue;
		unsigned key = rand_r(seed) % 4 == 0 ? id + 100 : id;
		int len = snprintf(text[n], sizeof text[n], "%u:p%u:%u:%s", id, id, key, addrs[rand_r(seed) % 4]);
		if (rand_r(seed) % 2)
			snprintf(text[n] + len, sizeof text[n] - (size_t)len, ",%s", nets[rand_r(seed) % 3]);
		peers[n] = text[n];
		n++;
	}
	peers[n] = NULL;
	return map(gen, selfs[rand_r(seed) % 3], peers, routes[rand_r(seed) % 4], rand_r(seed) % 2 ? f1 : f2,
		   rand_r(seed) % 2);
}

/* Random netmaps in turn, over fake A through whole applies and fake B
 * through the deltas between them, a step failing now and then in both:
 * the same calls, results and states every time. */
static void test_delta_random(bool accept)
{
	struct fake fa = { 0 }, fb = { 0 };
	struct agent_apply_result ra, rb;
	unsigned seed = accept ? 11 : 12;
	struct ctl_netmap cur = random_map(1, &seed);
	struct held h = { .accept = accept };
	char sa[4096], sb[4096];
	size_t same_calls = 0, same_state = 0, failed = 0, steps = 300;
	run(&fa, NULL, false, &cur, accept, &ra);
	run(&fb, NULL, false, &cur, accept, &rb);
	ctl_netmap_apply(&cur, &(struct ctl_delta){ .from_generation = 1, .generation = 1 }, &h.m);
	struct agent_target t = { &h.m, accept, { 0 } };
	agent_target_route_counts(&t, &h.routes);
	for (size_t i = 0; i < steps; i++) {
		struct ctl_netmap next = random_map(i + 2, &seed);
		struct ctl_delta d;
		int fail = rand_r(&seed) % 4 == 0 ? 1 + rand_r(&seed) % 6 : 0;
		ctl_netmap_delta(&cur, &next, &d);
		fa.fail_at = fb.fail_at = fail;
		int rca = run(&fa, &cur, accept, &next, accept, &ra);
		int rcb = run_delta(&fb, &h, &d, &rb);
		fa.fail_at = fb.fail_at = 0;
		same_calls += rca == rcb && !strcmp(fa.log, fb.log) && !strcmp(ra.error, rb.error);
		state(&fa, sa, sizeof sa);
		state(&fb, sb, sizeof sb);
		same_state += !strcmp(sa, sb) && counts_right(&h) && same_netmap(&h.m, rca == 0 ? &next : &cur);
		if (rca == 0) {
			ctl_netmap_free(&cur);
			cur = next;
		} else {
			failed++;
			ctl_netmap_free(&next);
		}
		ctl_delta_free(&d);
	}
	T_CHECK(same_calls == steps, "random deltas (routes %s): %zu of %zu made the whole apply's calls, results and reasons",
		accept ? "accepted" : "not accepted", same_calls, steps);
	T_CHECK(same_state == steps && failed > 10,
		"... %zu of %zu left the same system, netmap and route counts (%zu failed and were undone)", same_state,
		steps, failed);
	ctl_netmap_free(&cur);
	ctl_netmap_free(&h.m);
	agent_routes_free(&h.routes);
}

/* agent_routes against a plain array of counts: random adds and takes
 * over 600 prefixes (the table grows, probes wrap, deletions shift). */
static void test_route_counts(void)
{
	enum { N = 600 };
	static uint32_t model[N];
	struct agent_routes r = { 0 };
	unsigned seed = 3;
	size_t wrong = 0, refused = 0, ops = 20000;
	for (size_t i = 0; i < ops; i++) {
		unsigned k = (unsigned)rand_r(&seed) % N;
		struct ctl_prefix x = { .family = 4, .bits = 32, .addr = { 10, (uint8_t)(k >> 8), (uint8_t)k, 1 } };
		int64_t by = rand_r(&seed) % 3 ? 1 : -(int64_t)(rand_r(&seed) % 3);
		int rc = agent_routes_add(&r, &x, by);
		if (model[k] + by < 0 ? rc == -ERANGE : rc == 0)
			model[k] = model[k] + by < 0 ? model[k] : (uint32_t)(model[k] + by);
		else
			wrong++;
		refused += rc == -ERANGE;
	}
	size_t held = 0;
	for (unsigned k = 0; k < N; k++) {
		struct ctl_prefix x = { .family = 4, .bits = 32, .addr = { 10, (uint8_t)(k >> 8), (uint8_t)k, 1 } };
		wrong += agent_routes_count(&r, &x) != model[k];
		held += model[k] != 0;
	}
	T_CHECK(wrong == 0 && held == r.n && refused > 0,
		"route counts: %zu random changes over %d prefixes agree with a plain array (%zu held, %zu taken below 0 refused)",
		ops, N, held, refused);
	agent_routes_free(&r);
}

int main(void)
{
	const char *pa[] = { "2:alice:2:100.64.0.2/32", "3:bob:3:100.64.0.3/32", NULL };
	const char *pb[] = { "2:alice:2:100.64.0.2/32", "3:bob:3:100.64.0.3/32,10.0.0.0/24", "4:carol:4:100.64.0.4/32",
			     NULL };
	const char *pc[] = { "2:alice:9:100.64.0.2/32", "3:bob:3:100.64.0.3/32", NULL };
	struct ctl_netmap a = map(1, "\"100.64.0.1/32\"", pa, "\"8.8.8.8/32\"", f1, true);
	struct ctl_netmap b = map(2, "\"100.64.0.1/32\"", pb, "\"8.8.8.8/32\"", f1, true);
	struct ctl_netmap c = map(3, "\"100.64.0.1/32\"", pc, "\"8.8.8.8/32\"", f2, true);
	struct ctl_netmap d = map(4, "\"100.64.0.9/32\"", pa, "\"8.8.8.8/32\"", f1, true);
	struct fake f = { 0 };
	struct agent_apply_result r;
	char sa[2048], got[2048];

	/* From nothing: peers, addresses, routes, filter, in that order. */
	T_CHECK(run(&f, NULL, false, &a, true, &r) == 0, "first netmap applied");
	T_STREQ(f.log, "set:alice set:bob addr+100.64.0.1/32 route+8.8.8.8/32 route+100.64.0.2/32 route+100.64.0.3/32 filter",
		"first netmap: peers, then addresses, then routes, then the filter");
	state(&f, sa, sizeof sa);

	/* Same map again: nothing at all. */
	T_CHECK(run(&f, &a, true, &a, true, &r) == 0 && f.log[0] == '\0', "the same netmap again touches nothing");

	/* One peer changed, one added: only those; alice (unchanged) untouched. */
	T_CHECK(run(&f, &a, true, &b, true, &r) == 0, "a delta applied");
	T_STREQ(f.log, "set:bob set:carol route+100.64.0.4/32",
		"only the changed and the new peer are set, the new address routed; alice and the filter untouched");
	T_CHECK(r.peers_set == 2 && r.peers_removed == 0 && !r.filter, "... counted: 2 peers set, filter not rerun");

	/* Back: carol removed first, bob updated, routes removed. */
	T_CHECK(run(&f, &b, true, &a, true, &r) == 0, "back to the first netmap");
	T_STREQ(f.log, "rm:carol set:bob route-100.64.0.4/32", "a removal comes before updates");
	state(&f, got, sizeof got);
	T_STREQ(got, sa, "the system equals the first netmap's again");

	/* A key change: the old key removed, the new added; the filter rerun. */
	T_CHECK(run(&f, &a, true, &c, true, &r) == 0, "a peer's key changes");
	T_STREQ(f.log, "rm:alice set:alice filter", "the old key is removed, the new one added, the new filter applied");
	T_CHECK(run(&f, &c, true, &a, true, &r) == 0, "and back");

	/* New addresses (a node removed and registered again): the new one
	 * goes on before the old one goes, for the kernel flushes a device's
	 * IPv4 routes with its last IPv4 address. */
	T_CHECK(run(&f, &a, true, &d, true, &r) == 0, "the node's address changes");
	T_STREQ(f.log, "addr+100.64.0.9/32 addr-100.64.0.1/32 filter",
		"... the new address is added before the old one is removed, the routes untouched");
	T_CHECK(run(&f, &d, true, &a, true, &r) == 0, "and back");

	/* Failures: every step of a -> b and a -> d in turn fails; each time
	 * the system returns to a's state and the reason names the step. */
	struct {
		const struct ctl_netmap *to;
		int fail_at;
		const char *error;
	} fails[] = {
		{ &b, 1, "peer bob (3): update: Cannot allocate memory" },
		{ &b, 2, "peer carol (4): add: Cannot allocate memory" },
		{ &b, 3, "route 100.64.0.4/32: add: File exists" },
		{ &d, 1, "address 100.64.0.9/32: add: File exists" },
		{ &d, 2, "address 100.64.0.1/32: remove: File exists" },
		{ &d, 3, "filter: Invalid argument" },
	};
	for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
		f.fail_at = fails[i].fail_at;
		int rc = run(&f, &a, true, fails[i].to, true, &r);
		f.fail_at = 0;
		state(&f, got, sizeof got);
		T_CHECK(rc < 0, "step %d of netmap %llu fails: the apply fails", fails[i].fail_at,
			(unsigned long long)fails[i].to->generation);
		T_STREQ(r.error, fails[i].error, "... the reason names the step");
		T_STREQ(got, sa, "... every step before it undone: the old netmap holds (%s)", f.log);
		T_CHECK(r.undo_failed == 0, "... no undo failed");
	}

	/* Routes not accepted: only the peers' addresses are routed. */
	struct fake g = { 0 };
	T_CHECK(run(&g, NULL, false, &a, false, &r) == 0, "applied without accepting routes");
	T_CHECK(strstr(g.log, "8.8.8.8") == NULL, "... the netmap's routes are not installed: %s", g.log);
	T_CHECK(run(&g, &a, false, &a, true, &r) == 0 && !strcmp(g.log, "route+8.8.8.8/32"),
		"accepting them later adds exactly them: %s", g.log);

	/* Teardown: everything removed, the filter too. */
	T_CHECK(run(&f, &a, true, NULL, false, &r) == 0, "torn down");
	T_STREQ(f.log, "rm:alice rm:bob addr-100.64.0.1/32 route-8.8.8.8/32 route-100.64.0.2/32 route-100.64.0.3/32 filter:remove",
		"teardown removes peers, addresses, routes and the filter");
	state(&f, got, sizeof got);
	T_STREQ(got, " f:(none)", "... nothing is left");

	test_route_counts();
	test_delta_one_peer(&a, &b);
	test_delta_random(true);
	test_delta_random(false);

	ctl_netmap_free(&a);
	ctl_netmap_free(&b);
	ctl_netmap_free(&c);
	ctl_netmap_free(&d);
	T_DONE();
}
