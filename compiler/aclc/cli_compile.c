/* cli_compile: `aclc compile POLICY [--nodes NODES] [--node NAME]
 * [--format nft|ir|tailscale|routes] [-o FILE] [--iface IF] [--table NAME]
 * [--no-snat]`, and the short form `aclc POLICY [options]`.
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
#include "filter.h"
#include "hj.h"
#include "inv.h"
#include "ir.h"
#include "nftm.h"
#include "nftt.h"
#include "outf.h"
#include "pol.h"
#include "routes.h"
#include "ts.h"

struct compile {
	const char *policy_path, *nodes_path, *node_name, *format, *out;
	struct nftm_opts nft;
	/* the pipeline's inputs and results */
	struct diag_src *psrc, *nsrc;
	struct hj_value *root;
	struct inv empty;
	struct pol_policy *policy;
	struct inv *inv;
	struct filter_set fs;
	const struct filter_node *fn;   /* the node, or &fs.global */
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
			"                    [--iface IF] [--table NAME] [--no-snat]\n"
			"       aclc POLICY [same options]\nformats:\n");
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		fprintf(stderr, "  %-10s %s\n", formats[i].name, formats[i].what);
	return CLI_USAGE;
}

/* The node's own addresses and the routes it serves; the global view has
 * no addresses and serves everything. */
static int node_facts(const struct compile *c, struct addr_set *self, struct addr_set *routes)
{
	const struct inv_node *n = c->fn->node;
	if (!n)
		return addr_set_add(routes, ADDR_V4, 0, addr_family_max(ADDR_V4)) ?:
		       addr_set_add(routes, ADDR_V6, 0, addr_family_max(ADDR_V6));
	return inv_node_addrs(n, self) ?: addr_set_add_all(routes, &c->fn->served);
}

static int fmt_nft(struct compile *c, struct diag_list *diags)
{
	struct ir_flows flows = { 0 };
	struct addr_set self = { 0 }, routes = { 0 };
	struct nftm_table *t = NULL;
	/* nftm decomposes the rules itself (by identity): no canonical IR needed. */
	int rc = filter_node_rules(c->fn, &flows);
	if (rc == 0)
		rc = node_facts(c, &self, &routes);
	if (rc == 0) {
		struct nftm_node node = { &self, &routes };
		t = nftm_build(&c->nft, &node, &flows);
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
	addr_set_free(&self);
	addr_set_free(&routes);
	ir_free(&flows);
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
	int rc = outf_write(c->out, write_ts, &c->fs);
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
	int rc = routes_compute(c->policy, c->inv, &c->fs, &rs, diags);
	if (rc == 0) {
		struct routes_job job = { c->inv, &rs, c->node_name };
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

static int parse_args(struct compile *c, int argc, char **argv)
{
	enum { O_NODES = 256, O_NODE, O_FORMAT, O_IFACE, O_TABLE, O_NO_SNAT };
	static const struct option longopts[] = {
		{ "nodes", required_argument, NULL, O_NODES }, { "node", required_argument, NULL, O_NODE },
		{ "format", required_argument, NULL, O_FORMAT }, { "output", required_argument, NULL, 'o' },
		{ "iface", required_argument, NULL, O_IFACE }, { "table", required_argument, NULL, O_TABLE },
		{ "no-snat", no_argument, NULL, O_NO_SNAT }, { NULL, 0, NULL, 0 },
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
		default: return -EINVAL;
		}
	}
	if (argc - optind != 1)
		return -EINVAL;
	c->policy_path = argv[optind];
	return 0;
}

/* Run the pipeline up to the node's filter.  0, or -1 with the reasons in
 * DIAGS.  compile_done() frees whatever was made, either way. */
static int compile_load(struct compile *c, struct diag_list *diags)
{
	c->psrc = diag_src_load(c->policy_path, diags);
	c->root = c->psrc ? hj_parse(c->psrc, diags) : NULL;
	c->policy = c->root ? pol_load(c->root, diags) : NULL;
	if (!c->policy)
		return -1;
	c->inv = c->nodes_path ? inv_load(c->nodes_path, &c->nsrc, diags) : &c->empty;
	if (!c->inv || filter_compile(c->policy, c->inv, &c->fs, diags) < 0)
		return -1;
	c->fn = &c->fs.global;
	if (!c->node_name)
		return 0;
	for (size_t i = 0; i < c->fs.nnodes; i++)
		if (strcmp(c->fs.nodes[i].node->name, c->node_name) == 0)
			c->fn = &c->fs.nodes[i];
	if (c->fn == &c->fs.global) {
		diag_error(diags, NULL, "%s: no node named '%s'", c->nodes_path, c->node_name);
		return -1;
	}
	return 0;
}

static void compile_done(struct compile *c)
{
	filter_set_free(&c->fs);
	if (c->inv != &c->empty)
		inv_free(c->inv);
	pol_free(c->policy);
	hj_free(c->root);
	diag_src_free(c->nsrc);
	diag_src_free(c->psrc);
}

static int node_flows(const char *policy, const char *nodes, const char *node, bool canonical,
		      struct ir_flows *flows, struct addr_set *self, struct addr_set *routes, struct diag_list *diags)
{
	struct compile c = { .policy_path = policy, .nodes_path = nodes, .node_name = node };
	int rc = compile_load(&c, diags) < 0 ? -EINVAL : 0;
	if (rc == 0)
		rc = canonical ? filter_node_ir(c.fn, flows) : filter_node_rules(c.fn, flows);
	if (rc == 0)
		rc = node_facts(&c, self, routes);
	compile_done(&c);
	return rc;
}

int cli_node_flows(const char *policy, const char *nodes, const char *node, struct ir_flows *flows,
		   struct addr_set *self, struct addr_set *routes, struct diag_list *diags)
{
	return node_flows(policy, nodes, node, true, flows, self, routes, diags);
}

int cli_node_rules(const char *policy, const char *nodes, const char *node, struct ir_flows *flows,
		   struct addr_set *self, struct addr_set *routes, struct diag_list *diags)
{
	return node_flows(policy, nodes, node, false, flows, self, routes, diags);
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
	compile_done(&c);
	diag_list_free(&diags);
	return rc;
}
