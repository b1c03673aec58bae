/* The netlink backend (nftb) as the relay daemon uses it, in a network
 * namespace of its own (unshare; skipped where that is not allowed): one
 * handle applying update after update plans from the model it committed
 * last (no read-back) and must leave the kernel exactly where a fresh
 * handle, which reads the table back, finds nothing to do, also after
 * another handle's commit to a table of its own; a dry run commits
 * nothing; the monitor ignores our own commits and sees another handle's.
 * Through the test hooks: a commit by another handle between reading and
 * sending leaves what was read standing when it was to another table, is
 * read again when to ours, and given up after max_retries; an element the
 * kernel rejects is reported and leaves the table as it was. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "nftb.h"
#include "nftm.h"
#include "ir_test.h"
#include "t.h"

/* One policy step: rules from sources to destinations (TCP, a port range),
 * and the routes the node serves. */
struct rule {
	const char *slo, *shi, *dlo, *dhi;
	unsigned plo, phi;
};
struct step {
	const char *what;
	struct rule rules[4];
	const char *routes[3];
};

static const struct step steps[] = {
	{ "two identities", { { "100.64.0.2", "100.64.0.3", "10.0.0.0", "10.0.0.255", 443, 443 },
			      { "100.64.0.9", "100.64.0.9", "10.0.0.5", "10.0.0.5", 22, 22 } },
	  { "10.0.0.0/24" } },
	{ "a member joins (map element)", { { "100.64.0.2", "100.64.0.4", "10.0.0.0", "10.0.0.255", 443, 443 },
					    { "100.64.0.9", "100.64.0.9", "10.0.0.5", "10.0.0.5", 22, 22 } },
	  { "10.0.0.0/24" } },
	{ "rights change (new identity)", { { "100.64.0.2", "100.64.0.4", "10.0.0.0", "10.0.0.255", 443, 444 },
					    { "100.64.0.9", "100.64.0.9", "10.0.0.5", "10.0.0.5", 22, 22 } },
	  { "10.0.0.0/24" } },
	{ "a route added, an identity gone", { { "100.64.0.2", "100.64.0.4", "10.0.0.0", "10.0.1.255", 443, 444 } },
	  { "10.0.0.0/24", "10.0.1.0/24" } },
	{ "back to the start", { { "100.64.0.2", "100.64.0.3", "10.0.0.0", "10.0.0.255", 443, 443 },
				 { "100.64.0.9", "100.64.0.9", "10.0.0.5", "10.0.0.5", 22, 22 } },
	  { "10.0.0.0/24" } },
};

static struct nftm_table *model_named(const struct step *s, const char *table)
{
	struct ir_flows f = { 0 };
	struct addr_set self = { 0 }, routes = { 0 };
	struct nftm_table *t = NULL;
	addr_set_add(&self, ADDR_V4, a128("100.64.0.1"), a128("100.64.0.1"));
	for (size_t i = 0; i < 3 && s->routes[i]; i++) {
		enum addr_family fam;
		addr_u128 lo, hi;
		if (addr_range_parse(s->routes[i], false, &fam, &lo, &hi))
			addr_set_add(&routes, fam, lo, hi);
	}
	for (size_t i = 0; i < 4 && s->rules[i].slo; i++) {
		const struct rule *r = &s->rules[i];
		struct ir_box b = { .family = ADDR_V4, .proto = 6, .port_lo = (uint16_t)r->plo, .port_hi = (uint16_t)r->phi,
				    .dst_lo = a128(r->dlo), .dst_hi = a128(r->dhi),
				    .src_lo = a128(r->slo), .src_hi = a128(r->shi) };
		ir_add(&f, &b, NULL);
	}
	if (ir_canonicalize(&f) == 0) {
		struct nftm_opts o = { .table = table };
		struct nftm_node n = { &self, &routes };
		t = nftm_build(&o, &n, &f);
	}
	ir_free(&f);
	addr_set_free(&self);
	addr_set_free(&routes);
	return t;
}

static struct nftm_table *model(const struct step *s)
{
	return model_named(s, NULL);
}

static int apply(struct nftb *nb, const struct nftm_table *t, bool dry, struct nftb_result *r)
{
	struct diag_list d = { 0 };
	struct nftb_opts o = { .dry_run = dry };
	int rc = nftb_apply(nb, t, &o, r, &d);
	if (rc < 0)
		diag_print(stdout, &d);
	diag_list_free(&d);
	return rc;
}

/* ---- the test hooks ---- */

/* Another process committing between our read and our send: to table
 * "racer" (T) or to ours (O), two ways in turn, so that every race
 * commits. */
struct racer {
	struct nftb *nb;
	struct nftm_table *t[2], *o[2];
	bool ours;
	const struct nftm_table *last_ours;   /* what it last committed to our table */
	unsigned races, done;
};

static void race(void *arg, unsigned attempt)
{
	struct racer *rc = arg;
	struct nftb_result r = { 0 };
	(void)attempt;
	if (rc->done >= rc->races)
		return;
	struct nftm_table *t = rc->ours ? rc->o[rc->done % 2] : rc->t[rc->done % 2];
	rc->done++;
	if (apply(rc->nb, t, false, &r) == 0 && rc->ours)
		rc->last_ours = t;
	nftb_result_free(&r);
}

/* The first element added to an identity's set, sent with its key end
 * zero: below its start, which the kernel rejects. */
static void zero_end(void *arg, const struct nftm_set *s, size_t index, uint8_t *key, uint8_t *end, bool *has_end)
{
	(void)arg;
	(void)key;
	if (index == 0 && strncmp(s->name, "id4_", 4) == 0) {
		memset(end, 0, nftm_field_width(s->key[0]));
		*has_end = true;
	}
}

/* In order: each case starts from the table the one before left. */
static const struct hook_case {
	const char *what;
	int step;              /* the model applied */
	bool ours;             /* the racer commits to our table, not its own */
	unsigned races;        /* commits by the racer, one before each send */
	unsigned max_retries;
	bool fault;
	int want_rc;
	unsigned want_retries;
	const char *want_diag;
} hook_cases[] = {
	{ "a commit to another table between read and send: what was read holds, applied", 3, false, 1, 0, false,
	  0, 0, NULL },
	{ "a commit to our table between read and send: read again once, applied", 0, true, 1, 0, false, 0, 1,
	  NULL },
	{ "a commit to our table before every send: given up after max_retries (2), nothing applied", 3, true, 10,
	  2, false, -ERESTART, 2, "the ruleset kept changing under us (3 attempts); nothing applied" },
	{ "an element the kernel rejects: reported, nothing applied", 3, false, 0, 0, true, -EINVAL, 0,
	  "kernel rejected adding element 10.0.0.0/23 . 6 . 443-444 of set id4_" },
};

static void check_hooks(struct nftb *nb, struct nftm_table *const models[], struct racer *racer)
{
	for (size_t i = 0; i < sizeof(hook_cases) / sizeof(hook_cases[0]); i++) {
		const struct hook_case *c = &hook_cases[i];
		struct nftb_test_hooks h = { race, c->fault ? zero_end : NULL, racer };
		struct nftb_opts o = { .max_retries = c->max_retries, .test = &h };
		struct nftb_result r = { 0 };
		struct diag_list d = { 0 };
		char *text = NULL;
		size_t len = 0;
		racer->races = racer->done + c->races;
		racer->ours = c->ours;
		int rc = nftb_apply(nb, models[c->step], &o, &r, &d);
		FILE *f = open_memstream(&text, &len);
		if (f) {
			diag_print(f, &d);
			fclose(f);
		}
		bool diag_ok = c->want_diag ? text && strstr(text, c->want_diag) : d.n == 0;
		char *first = text ? strtok(text, "\n") : NULL;
		T_CHECK(rc == c->want_rc && r.retries == c->want_retries && diag_ok, "%s (rc %d, %u retries%s%s)",
			c->what, rc, r.retries, first ? ": " : "", first ? first : "");
		free(text);
		diag_list_free(&d);
		nftb_result_free(&r);
	}
	/* The failed cases changed nothing: the table is the racer's. */
	struct nftb *fresh = nftb_open();
	struct nftb_result r = { 0 };
	int rc = fresh && racer->last_ours ? apply(fresh, racer->last_ours, true, &r) : -1;
	T_CHECK(rc == 0 && !r.changed, "... the kernel holds what the racer last committed to our table");
	nftb_result_free(&r);
	nftb_close(fresh);
}

int main(void)
{
	if (unshare(CLONE_NEWNET) < 0 && (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)) {
		T_SKIP("nftb: cannot make a network namespace (%s)", strerror(errno));
		T_DONE();
	}
	struct nftb *daemon = nftb_open();
	if (!daemon) {
		T_SKIP("nftb: no nf_tables netlink here (%s)", strerror(errno));
		T_DONE();
	}
	struct nftb_monitor *mon = nftb_monitor_open(NFTM_DEFAULT_TABLE, nftb_portid(daemon));
	T_CHECK(mon != NULL, "monitor on NFNLGRP_NFTABLES opens");
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct nftm_table *t = model(&steps[i]);
		struct nftb_result r = { 0 }, fresh = { 0 };
		if (!t) {
			T_CHECK(0, "step %zu (%s): model builds", i, steps[i].what);
			continue;
		}
		int rc = apply(daemon, t, false, &r);
		T_CHECK(rc == 0 && r.changed && r.cached == (i > 0),
			"step %zu (%s): applied (+%zu -%zu, %zu messages, %s)", i, steps[i].what, r.nadd, r.ndel, r.msgs,
			r.cached ? "planned from the last commit" : "read back");
		/* A fresh handle reads the kernel back: nothing left to do. */
		struct nftb *other = nftb_open();
		rc = other ? apply(other, t, false, &fresh) : -1;
		T_CHECK(rc == 0 && !fresh.changed && !fresh.cached,
			"step %zu: a fresh handle reading the table back finds it up to date", i);
		nftb_result_free(&fresh);
		nftb_close(other);
		if (mon) {
			char what[160] = "";
			T_CHECK(nftb_monitor_read(mon, 0, what, sizeof(what)) == 0,
				"step %zu: the monitor ignores our own commit", i);
		}
		nftb_result_free(&r);
		nftm_free(t);
	}
	/* A dry run by another handle commits nothing; its commit is seen. */
	struct nftm_table *t0 = model(&steps[0]), *t3 = model(&steps[3]);
	struct nftb *other = nftb_open();
	struct nftb_result r = { 0 };
	if (t0 && t3 && other) {
		int rc = apply(other, t3, true, &r);
		T_CHECK(rc == 0 && r.changed, "dry run of another model: would change (%zu messages checked)", r.msgs);
		nftb_result_free(&r);
		rc = apply(daemon, t0, false, &r);
		T_CHECK(rc == 0 && !r.changed, "... and committed nothing: the daemon's table is still up to date");
		nftb_result_free(&r);
		rc = apply(other, t3, false, &r);
		nftb_result_free(&r);
		char what[160] = "";
		int n = mon ? nftb_monitor_read(mon, 200, what, sizeof(what)) : -1;
		T_CHECK(rc == 0 && n > 0, "the monitor sees another handle's commit (%d events, last: %s)", n, what);
		rc = apply(daemon, t0, false, &r);
		T_CHECK(rc == 0 && r.changed && !r.cached,
			"after someone else's commit the daemon reads the table back (+%zu -%zu)", r.nadd, r.ndel);
		nftb_result_free(&r);
		/* Someone else's commit to a table of its own: the monitor
		 * heard it, our last commit still holds. */
		struct nftm_table *elsewhere = model_named(&steps[1], "elsewhere");
		rc = elsewhere ? apply(other, elsewhere, false, &r) : -1;
		nftb_result_free(&r);
		if (rc == 0)
			rc = apply(daemon, t3, false, &r);
		T_CHECK(rc == 0 && r.changed && r.cached,
			"after someone else's commit to another table the daemon plans from its last commit (+%zu -%zu)",
			r.nadd, r.ndel);
		nftb_result_free(&r);
		struct nftb *fresh = nftb_open();
		rc = fresh ? apply(fresh, t3, false, &r) : -1;
		T_CHECK(rc == 0 && !r.changed && !r.cached, "... and a fresh handle reading it back finds it up to date");
		nftb_result_free(&r);
		nftb_close(fresh);
		nftm_free(elsewhere);
	}
	struct racer racer = { other, { model_named(&steps[0], "racer"), model_named(&steps[3], "racer") },
			       { model(&steps[1]), model(&steps[2]) }, false, NULL, 0, 0 };
	struct nftm_table *models[] = { t0, NULL, NULL, t3 };
	if (t0 && t3 && other && racer.t[0] && racer.t[1] && racer.o[0] && racer.o[1])
		check_hooks(daemon, models, &racer);
	for (size_t i = 0; i < 2; i++) {
		nftm_free(racer.t[i]);
		nftm_free(racer.o[i]);
	}
	nftm_free(t0);
	nftm_free(t3);
	nftb_close(other);
	nftb_monitor_close(mon);
	nftb_close(daemon);
	T_DONE();
}
