/* cli_compile: `aclc compile POLICY [--nodes NODES] [--node NAME]
 * [--format nft|ir|tailscale|routes] [-o FILE] [--iface IF] [--table NAME]
 * [--no-snat | --snat-to ADDR[,ADDR]]`, and the short form `aclc POLICY [options]`.
 *
 * Policy and inventory go through the one pipeline (parse, resolve, per-node
 * filters, flow IR); each output format is one row of the table below.
 * Without --node the tailnet-wide view is compiled: every rule, and (for
 * nft) every destination counted as served.  Output files are written
 * whole or not at all (outf). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "ir.h"
#include "load.h"
#include "nftm.h"
#include "nftt.h"
#include "outf.h"
#include "routes.h"
#include "ts.h"

struct compile {
	const char *policy_path, *nodes_path, *node_name, *format, *out;
	struct nftm_opts nft;
	struct load *ld;                /* the pipeline's results */
	const struct filter_node *fn;   /* the node, or the tailnet-wide view */
};

typedef int (*format_fn)(struct compile *c, struct diag_list *diags);

static int fmt_nft(struct compile *c, struct diag_list *diags);
static int fmt_ir(struct compile *c, struct diag_list *diags);
static int fmt_tailscale(struct compile *c, struct diag_list *diags);
static int fmt_routes(struct compile *c, struct diag_list *diags);

static const struct format {
	const char *name;
	format_fn run;
	const char *what;
} formats[] = {
	{ "nft", fmt_nft, "the node's nftables ruleset (nft -f)" },
	{ "ir", fmt_ir, "the node's canonical flow IR, one box a line" },
	{ "tailscale", fmt_tailscale, "every node's Tailscale FilterRule JSON" },
	{ "routes", fmt_routes, "every node's peers: allowed_ips, primary_routes (JSON)" },
};

static int usage(void)
{
	fprintf(stderr, "usage: aclc compile POLICY [--nodes NODES] [--node NAME] [--format FORMAT] [-o FILE]\n"
			"                    [--iface IF] [--table NAME] [--no-snat | --snat-to ADDR[,ADDR]]\n"
			"       aclc POLICY [same options]\nformats:\n");
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		fprintf(stderr, "  %-10s %s\n", formats[i].name, formats[i].what);
	return CLI_USAGE;
}

static int fmt_nft(struct compile *c, struct diag_list *diags)
{
	struct load_facts f = { 0 };
	struct nftm_table *t = NULL;
	/* nftm decomposes the rules itself (by identity): no canonical IR needed. */
	int rc = load_node_facts(c->fn, LOAD_RULES, &f);
	if (rc == 0) {
		struct nftm_node node = { &f.self, &f.routes };
		t = nftm_build(&c->nft, &node, &f.flows);
		if (!t)
			rc = -errno;
	}
	if (rc == 0) {
		struct nftt_job job = { t, { c->policy_path, c->fn->node ? c->fn->node->name : NULL } };
		rc = outf_write(c->out, nftt_write_job, &job);
		if (rc < 0)
			diag_error(diags, NULL, "cannot write %s: %s", c->out, strerror(-rc));
	} else {
		diag_error(diags, NULL, "cannot build the nftables ruleset: %s", strerror(-rc));
	}
	nftm_free(t);
	load_facts_free(&f);
	return rc;
}

static int write_ir(FILE *out, void *arg)
{
	ir_dump(out, arg, "");
	return ferror(out) ? -EIO : 0;
}

static int fmt_ir(struct compile *c, struct diag_list *diags)
{
	struct ir_flows flows = { 0 };
	int rc = filter_node_ir(c->fn, &flows);
	if (rc == 0 && (rc = outf_write(c->out, write_ir, &flows)) < 0)
		diag_error(diags, NULL, "cannot write %s: %s", c->out, strerror(-rc));
	else if (rc < 0)
		diag_error(diags, NULL, "cannot compute the flow IR: %s", strerror(-rc));
	ir_free(&flows);
	return rc;
}

static int write_ts(FILE *out, void *arg)
{
	return ts_write(out, arg);
}

static int fmt_tailscale(struct compile *c, struct diag_list *diags)
{
	int rc = outf_write(c->out, write_ts, &c->ld->fs);
	if (rc < 0)
		diag_error(diags, NULL, "cannot write %s: %s", c->out, strerror(-rc));
	return rc;
}

struct routes_job {
	const struct inv *inv;
	const struct routes_set *rs;
	const char *only;
};

static int write_routes(FILE *out, void *arg)
{
	const struct routes_job *j = arg;
	return routes_write(out, j->inv, j->rs, j->only);
}

static int fmt_routes(struct compile *c, struct diag_list *diags)
{
	struct routes_set rs;
	int rc = routes_compute(c->ld->pol, c->ld->inv, &c->ld->fs, &rs, diags);
	if (rc == 0) {
		struct routes_job job = { c->ld->inv, &rs, c->node_name };
		if ((rc = outf_write(c->out, write_routes, &job)) < 0)
			diag_error(diags, NULL, "cannot write %s: %s", c->out, strerror(-rc));
		routes_set_free(&rs);
	}
	return rc;
}

static const struct format *find_format(const char *name)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(formats[i].name, name) == 0)
			return &formats[i];
	return NULL;
}

int cli_snat_to(const char *cmd, const char *arg, struct nftm_opts *o)
{
	char why[160];
	if (nftm_snat_to_parse(arg, &o->snat_to, why, sizeof(why)) < 0) {
		fprintf(stderr, "aclc %s: --snat-to: %s\n", cmd, why);
		return -EINVAL;
	}
	return 0;
}

static int parse_args(struct compile *c, int argc, char **argv)
{
	enum { O_NODES = 256, O_NODE, O_FORMAT, O_IFACE, O_TABLE, O_NO_SNAT, O_SNAT_TO };
	static const struct option longopts[] = {
		{ "nodes", required_argument, NULL, O_NODES }, { "node", required_argument, NULL, O_NODE },
		{ "format", required_argument, NULL, O_FORMAT }, { "output", required_argument, NULL, 'o' },
		{ "iface", required_argument, NULL, O_IFACE }, { "table", required_argument, NULL, O_TABLE },
		{ "no-snat", no_argument, NULL, O_NO_SNAT },
		{ "snat-to", required_argument, NULL, O_SNAT_TO }, { NULL, 0, NULL, 0 },
	};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case O_NODES: c->nodes_path = optarg; break;
		case O_NODE: c->node_name = optarg; break;
		case O_FORMAT: c->format = optarg; break;
		case 'o': c->out = optarg; break;
		case O_IFACE: c->nft.iface = optarg; break;
		case O_TABLE: c->nft.table = optarg; break;
		case O_NO_SNAT: c->nft.no_snat = true; break;
		case O_SNAT_TO:
			if (cli_snat_to("compile", optarg, &c->nft) < 0)
				return -EINVAL;
			break;
		default: return -EINVAL;
		}
	}
	if (argc - optind != 1)
		return -EINVAL;
	c->policy_path = argv[optind];
	return 0;
}

/* Run the pipeline up to the node's filter.  0, or -1 with the reasons in
 * DIAGS.  load_free(c->ld) either way. */
static int compile_load(struct compile *c, struct diag_list *diags)
{
	if (!(c->ld = load_new())) {
		diag_error(diags, NULL, "%s", strerror(ENOMEM));
		return -1;
	}
	struct load_src policy = { .name = c->policy_path }, nodes = { .name = c->nodes_path };
	if (load_run(c->ld, &policy, c->nodes_path ? &nodes : NULL, diags) < 0)
		return -1;
	return (c->fn = load_node(c->ld, c->node_name, diags)) ? 0 : -1;
}

int cli_compile(int argc, char **argv)
{
	struct compile c = { .format = "nft", .out = "-" };
	struct diag_list diags = { 0 };
	const struct format *fmt;
	const char *why;
	int rc = CLI_ERR;

	if (parse_args(&c, argc, argv) < 0)
		return usage();
	if (!(fmt = find_format(c.format))) {
		fprintf(stderr, "aclc: unknown format '%s'\n", c.format);
		return usage();
	}
	if (nftm_opts_check(&c.nft, &why) < 0) {
		fprintf(stderr, "aclc: %s\n", why);
		return CLI_USAGE;
	}
	if (c.node_name && !c.nodes_path) {
		fprintf(stderr, "aclc: --node needs the inventory (--nodes)\n");
		return CLI_USAGE;
	}
	if (compile_load(&c, &diags) == 0 && fmt->run(&c, &diags) == 0)
		rc = CLI_OK;
	diag_print(stderr, &diags);
	load_free(c.ld);
	diag_list_free(&diags);
	return rc;
}
