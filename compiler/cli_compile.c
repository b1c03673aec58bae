/* cli_compile: `aclc compile`, `aclc check` and `aclc test`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_policy.h"
#include "ir.h"
#include "ptest.h"
#include "routes.h"
#include "ts.h"

struct out_ctx {
	const struct cli_opts *o;
	struct cli_loaded *l;
};

static int write_tailscale(FILE *out, void *arg)
{
	struct out_ctx *c = arg;
	return ts_write(out, &c->l->fs);
}

/* The canonical dump: every node, its accepted packets as IR boxes. */
static int write_ir(FILE *out, void *arg)
{
	struct out_ctx *c = arg;
	for (size_t i = 0; i < c->l->fs.nnodes; i++) {
		const struct filter_node *fn = &c->l->fs.nodes[i];
		if (c->o->node && strcmp(c->o->node, fn->node->name) != 0)
			continue;
		struct ir_flows f = { 0 };
		int rc = filter_node_ir(fn, &f);
		if (rc < 0) {
			ir_free(&f);
			return rc;
		}
		fprintf(out, "node %s: %zu box%s\n", fn->node->name, f.nboxes, f.nboxes == 1 ? "" : "es");
		ir_dump(out, &f, "  ");
		ir_free(&f);
	}
	return 0;
}

static int write_routes(FILE *out, void *arg)
{
	struct out_ctx *c = arg;
	struct routes_view *v = NULL;
	int rc = routes_compute(c->l->inv, &c->l->fs, &v);
	if (rc == 0)
		rc = routes_write(out, c->l->inv, v);
	routes_free(v, v ? c->l->inv->nnodes : 0);
	return rc;
}

static const struct format {
	const char *name;
	int (*write)(FILE *out, void *arg);
} formats[] = {
	{ "tailscale", write_tailscale },
	{ "ir", write_ir },
	{ "routes", write_routes },
};

static const char compile_usage[] =
	"aclc compile POLICY --nodes FILE [--format tailscale|ir|routes] [--node NAME] [-o FILE]";

int cli_compile(int argc, char **argv)
{
	struct cli_opts o;
	int rc = cli_opts_parse(argc, argv, &o, compile_usage);
	if (rc != CLI_OK)
		return rc;
	if (!o.nodes) {
		fprintf(stderr, "aclc compile: --nodes FILE is required (the filters depend on the nodes)\n");
		return CLI_USAGE;
	}
	const char *fmt = o.format ? o.format : "tailscale";
	const struct format *f = NULL;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(fmt, formats[i].name) == 0)
			f = &formats[i];
	if (!f) {
		fprintf(stderr, "aclc compile: unknown format '%s' (known:", fmt);
		for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
			fprintf(stderr, " %s", formats[i].name);
		fprintf(stderr, ")\n");
		return CLI_USAGE;
	}
	struct cli_loaded l;
	rc = cli_load(&o, &l);
	if (rc == CLI_OK && o.node) {
		bool found = false;
		for (size_t i = 0; i < l.fs.nnodes; i++)
			found |= strcmp(l.fs.nodes[i].node->name, o.node) == 0;
		if (!found) {
			fprintf(stderr, "aclc compile: --node %s: no such node in %s\n", o.node, o.nodes);
			rc = CLI_ERR;
		}
	}
	if (rc == CLI_OK) {
		struct out_ctx c = { &o, &l };
		rc = cli_write_atomic(o.output, f->write, &c);
	}
	cli_loaded_free(&l);
	return rc;
}

int cli_check(int argc, char **argv)
{
	struct cli_opts o;
	int rc = cli_opts_parse(argc, argv, &o, "aclc check POLICY [--nodes FILE]");
	if (rc != CLI_OK)
		return rc;
	struct cli_loaded l;
	rc = cli_load(&o, &l);
	if (rc == CLI_OK) {
		size_t nacl = 0, ngrant = 0;
		for (size_t i = 0; i < l.pol->nrules; i++)
			*(l.pol->rules[i].kind == POL_ACL ? &nacl : &ngrant) += 1;
		printf("%s: ok: %zu acl%s, %zu grant%s, %zu test%s", o.policy, nacl, nacl == 1 ? "" : "s",
		       ngrant, ngrant == 1 ? "" : "s", l.pol->tests ? l.pol->tests->u.arr.n : 0,
		       l.pol->tests && l.pol->tests->u.arr.n == 1 ? "" : "s");
		if (l.inv)
			printf("; %zu node%s in %s", l.inv->nnodes, l.inv->nnodes == 1 ? "" : "s", o.nodes);
		printf("\n");
	}
	cli_loaded_free(&l);
	return rc;
}

int cli_test(int argc, char **argv)
{
	struct cli_opts o;
	int rc = cli_opts_parse(argc, argv, &o, "aclc test POLICY --nodes FILE");
	if (rc != CLI_OK)
		return rc;
	if (!o.nodes) {
		fprintf(stderr, "aclc test: --nodes FILE is required (tests name users and hosts)\n");
		return CLI_USAGE;
	}
	struct cli_loaded l;
	rc = cli_load(&o, &l);
	if (rc == CLI_OK) {
		size_t n = l.pol->tests ? l.pol->tests->u.arr.n : 0;
		int failed = ptest_run(l.pol, l.inv, &l.fs, stdout);
		if (failed < 0) {
			fprintf(stderr, "aclc test: %s\n", strerror(-failed));
			rc = CLI_ERR;
		} else if (failed > 0) {
			printf("%s: %d assertion%s failed in %zu test%s\n", o.policy, failed, failed == 1 ? "" : "s",
			       n, n == 1 ? "" : "s");
			rc = CLI_ERR;
		} else
			printf("%s: all %zu test%s passed\n", o.policy, n, n == 1 ? "" : "s");
	}
	cli_loaded_free(&l);
	return rc;
}
