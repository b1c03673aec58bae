/* cli_apply: `aclc apply POLICY --nodes NODES --node NAME [--dry-run]
 * [--table NAME] [--iface IF] [--no-snat | --snat-to ADDR[,ADDR]] [--full] [-v]`.
 *
 * Compiles the node's table (policy, inventory, filter, flow IR, nftm) and
 * makes the kernel hold it through the netlink backend (nftb): one
 * transaction, only the difference when the kernel's table has the same
 * shape.  Exit status: 0 applied (changed or not), 2 trouble; with
 * --dry-run, as diff(1): 0 nothing would change, 1 something would, 2
 * trouble (as `terraform plan -detailed-exitcode`). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_apply.h"
#include "cli_policy.h"
#include "diag.h"
#include "ir.h"
#include "load.h"
#include "nftb.h"
#include "nftc.h"
#include "nftm.h"
#include "nftt.h"

/* A dry run that finds changes exits APPLY_WOULD_CHANGE; an apply that
 * made them exits APPLY_OK. */
enum { APPLY_OK = 0, APPLY_WOULD_CHANGE = 1, APPLY_TROUBLE = 2 };

struct apply {
	const char *policy_path, *nodes_path, *node_name;
	struct nftm_opts nft;
	bool dry_run, full, verbose;
	int watch_ms;             /* after applying, report others' edits for this long */
	/* pipeline: the load module (the policy's source stays loaded, so that
	 * kernel errors can point into it) */
	struct load *ld;
	const struct filter_node *fn;
	struct load_facts facts;
	struct nftm_table *table;
};

#define WATCH_MAX_MS 3600000

static int usage(void)
{
	fprintf(stderr, "usage: aclc apply POLICY --nodes NODES --node NAME [--dry-run] [--table NAME]\n"
			"                  [--iface IF] [--no-snat | --snat-to ADDR[,ADDR]] [--full] [--watch MS] [-v]\n");
	return APPLY_TROUBLE;
}

/* --watch MS: a whole decimal number of milliseconds, 1 to an hour. */
static int parse_watch_ms(const char *arg, int *ms)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > WATCH_MAX_MS) {
		fprintf(stderr, "aclc apply: --watch: '%s' is not a number of milliseconds from 1 to %d\n", arg,
			WATCH_MAX_MS);
		return -EINVAL;
	}
	*ms = (int)v;
	return 0;
}

static int parse_args(struct apply *a, int argc, char **argv)
{
	enum { O_NODES = 256, O_NODE, O_DRY, O_TABLE, O_IFACE, O_NO_SNAT, O_SNAT_TO, O_FULL, O_WATCH };
	static const struct option longopts[] = {
		{ "nodes", required_argument, NULL, O_NODES }, { "node", required_argument, NULL, O_NODE },
		{ "dry-run", no_argument, NULL, O_DRY }, { "table", required_argument, NULL, O_TABLE },
		{ "iface", required_argument, NULL, O_IFACE }, { "no-snat", no_argument, NULL, O_NO_SNAT },
		{ "snat-to", required_argument, NULL, O_SNAT_TO },
		{ "full", no_argument, NULL, O_FULL }, { "verbose", no_argument, NULL, 'v' },
		{ "watch", required_argument, NULL, O_WATCH },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (opt) {
		case O_NODES: a->nodes_path = optarg; break;
		case O_NODE: a->node_name = optarg; break;
		case O_DRY: a->dry_run = true; break;
		case O_TABLE: a->nft.table = optarg; break;
		case O_IFACE: a->nft.iface = optarg; break;
		case O_NO_SNAT: a->nft.no_snat = true; break;
		case O_SNAT_TO:
			if (cli_snat_to("apply", optarg, &a->nft) < 0)
				return -EINVAL;
			break;
		case O_FULL: a->full = true; break;
		case 'v': a->verbose = true; break;
		case O_WATCH:
			if (parse_watch_ms(optarg, &a->watch_ms) < 0)
				return -EINVAL;
			break;
		default: return -EINVAL;
		}
	}
	if (argc - optind != 1 || !a->nodes_path || !a->node_name)
		return -EINVAL;
	a->policy_path = argv[optind];
	return 0;
}

/* Policy and inventory to the node's table.  0, or -1 with the reasons in
 * DIAGS or already printed. */
static int build(struct apply *a, struct diag_list *diags)
{
	const char *why;
	if (nftm_opts_check(&a->nft, &why) < 0) {
		diag_error(diags, NULL, "%s", why);
		return -1;
	}
	struct cli_opts o = { a->policy_path, a->nodes_path };
	if (cli_load(&o, &a->ld) != CLI_OK)
		return -1;
	if (!(a->fn = load_node(a->ld, a->node_name, diags)))
		return -1;
	int rc = load_node_facts(a->fn, LOAD_CANONICAL, &a->facts);
	if (rc == 0) {
		struct nftm_node node = { &a->facts.self, &a->facts.routes };
		a->table = nftm_build(&a->nft, &node, &a->facts.flows);
		if (!a->table)
			rc = -errno;
	}
	if (rc < 0) {
		diag_error(diags, NULL, "cannot build the ruleset for node %s: %s", a->node_name, strerror(-rc));
		return -1;
	}
	return 0;
}

static void done(struct apply *a)
{
	nftm_free(a->table);
	load_facts_free(&a->facts);
	load_free(a->ld);
}

/* At most PRINT_MAX elements a set and direction, then a count. */
#define PRINT_MAX 20

static void print_elems(const struct nftm_table *t, const struct nftm_set *s, const struct nftm_elem *e, size_t n,
			char sign)
{
	for (size_t i = 0; i < n; i++) {
		if (i == PRINT_MAX) {
			printf("    %c ... and %zu more\n", sign, n - i);
			break;
		}
		printf("    %c ", sign);
		for (size_t k = 0; k < s->nkey; k++) {
			char buf[NFTT_RANGE_MAX];
			nftt_range(buf, s->key[k], &e[i].k[k]);
			printf("%s%s", k ? " . " : "", buf);
		}
		/* A deleted map element's target may be a chain the model lacks. */
		if (s->vmap && sign == '+')
			printf(" : jump %s", t->chains[e[i].jump].name);
		printf("\n");
	}
}

static void print_result(const struct apply *a, const struct nftb_result *r)
{
	const struct nftm_table *t = a->table;
	const char *would = a->dry_run ? "would be " : "";
	if (!r->changed) {
		printf("table inet %s: up to date (%zu elements)\n", t->name, nftm_elem_count(t));
		return;
	}
	if (r->woke)
		printf("table inet %s: %smade active: it was dormant (flags dormant: its chains filtered nothing)\n",
		       t->name, would);
	if (r->full && r->existed)
		printf("table inet %s: %srewritten (%s): %zu chain%s and %zu set%s deleted, %zu chain%s and %zu set%s "
		       "created, %zu rules added, %zu elements added, %zu removed\n",
		       t->name, would, r->why_full, r->chains_deleted, r->chains_deleted == 1 ? "" : "s", r->sets_deleted,
		       r->sets_deleted == 1 ? "" : "s", r->chains, r->chains == 1 ? "" : "s", r->sets,
		       r->sets == 1 ? "" : "s", r->rules, r->nadd, r->ndel);
	else if (r->full)
		printf("table inet %s: %screated, %zu elements\n", t->name, would, nftm_elem_count(t));
	else if (r->nadd || r->ndel)
		printf("table inet %s: %supdated, %zu element%s added, %zu removed\n", t->name, would, r->nadd,
		       r->nadd == 1 ? "" : "s", r->ndel);
	for (size_t i = 0; i < t->nsets; i++) {
		const struct nftm_delta *d = &r->delta[i];
		if (!d->nadd && !d->ndel)
			continue;
		printf("  set %s: +%zu -%zu\n", t->sets[i].name, d->nadd, d->ndel);
		/* Element by element, unless the whole table is new. */
		if (r->existed) {
			print_elems(t, &t->sets[i], d->del, d->ndel, '-');
			print_elems(t, &t->sets[i], d->add, d->nadd, '+');
		}
	}
	if (r->full && !r->existed) {
		printf("  chains %screated:", would);
		for (size_t i = 0; i < t->nchains; i++)
			printf(" %s", t->chains[i].name);
		printf("\n");
	}
	if (a->dry_run)
		printf("dry run: the kernel checked the batch (%zu messages) and committed nothing\n", r->msgs);
}

/* After a commit (also an unchanged one: an apply killed between its
 * commit and this leaves the work here to the next), cut the open
 * connections the table admitted and now denies (nftc.h).  0 or -errno
 * with a diagnostic. */
static int cut_revoked(const struct apply *a, struct diag_list *diags)
{
	struct nftc_result cr;
	int rc = nftc_sweep(a->table, &cr);
	if (rc < 0) {
		diag_error(diags, NULL, "table inet %s is applied, but open connections were not re-checked: %s",
			   a->table->name, strerror(-rc));
		return rc;
	}
	if (cr.cut)
		printf("connections: %zu cut that the policy no longer allows (of %zu it had admitted)\n", cr.cut,
		       cr.marked);
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int cli_apply(int argc, char **argv)
{
	return cli_apply_hooked(argc, argv, NULL);
}

int cli_apply_hooked(int argc, char **argv, const struct nftb_test_hooks *test)
{
	struct apply a;
	struct diag_list diags = { 0 };
	struct nftb_result res;
	struct nftb *nb = NULL;
	int rc = APPLY_TROUBLE;

	memset(&a, 0, sizeof(a));
	memset(&res, 0, sizeof(res));
	if (parse_args(&a, argc, argv) < 0)
		return usage();
	double t0 = now_ms();
	if (build(&a, &diags) < 0)
		goto out;
	double t1 = now_ms();
	nb = nftb_open();
	if (!nb) {
		diag_error(&diags, NULL, "cannot open a netlink socket to nf_tables: %s", strerror(errno));
		goto out;
	}
	struct nftb_opts opts = { .dry_run = a.dry_run, .force_full = a.full, .once = true, .flows = &a.facts.flows,
				  .test = test };
	/* Watch from before the apply: our own events are told apart by port. */
	struct nftb_monitor *mon = a.watch_ms > 0 ? nftb_monitor_open(a.table->name, nftb_portid(nb)) : NULL;
	if (a.watch_ms > 0 && !mon) {
		diag_error(&diags, NULL, "cannot listen for nftables events: %s", strerror(errno));
		goto out;
	}
	int err = nftb_apply(nb, a.table, &opts, &res, &diags);
	double t2 = now_ms();
	if (a.verbose)
		fprintf(stderr,
			"aclc apply: genid %u, %u retr%s after generation changes; batch %zu messages "
			"(%zu element messages) in %u transaction%s, %zu bytes in %zu page%s; elements +%zu -%zu; "
			"%s; compile %.1f ms, kernel read+apply %.1f ms\n",
			res.genid, res.retries, res.retries == 1 ? "y" : "ies", res.msgs, res.elem_msgs,
			res.transactions, res.transactions == 1 ? "" : "s", res.bytes, res.pages,
			res.pages == 1 ? "" : "s", res.nadd, res.ndel,
			res.cached ? "kernel state known from our last commit" : "kernel state read back", t1 - t0,
			t2 - t1);
	if (err == 0) {
		print_result(&a, &res);
		rc = a.dry_run && res.changed ? APPLY_WOULD_CHANGE : APPLY_OK;
	}
	if (err == 0 && !a.dry_run && cut_revoked(&a, &diags) < 0)
		rc = APPLY_TROUBLE;
	if (mon && err == 0) {
		char what[160] = "";
		int n = nftb_monitor_read(mon, a.watch_ms, what, sizeof(what));
		if (n < 0)
			diag_error(&diags, NULL, "reading nftables events: %s", strerror(-n));
		else if (n > 0)
			printf("watch: %d event%s in table inet %s from another process (last: %s)\n", n,
			       n == 1 ? "" : "s", a.table->name, what);
		else
			printf("watch: no change by another process in %d ms\n", a.watch_ms);
	}
	nftb_monitor_close(mon);
out:
	diag_print(stderr, &diags);
	if (fflush(stdout) != 0)
		rc = APPLY_TROUBLE;
	nftb_result_free(&res);
	nftb_close(nb);
	diag_list_free(&diags);
	done(&a);
	return rc;
}
