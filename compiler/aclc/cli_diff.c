/* cli_diff: `aclc diff OLD NEW [--nodes F] [--nodes-new F] [--node NAME]
 * [--format text|json]`: who gains and who loses access.  Exit status as
 * diff(1): 0 no change, 1 changes, 2 trouble. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diff.h"
#include "load.h"

enum { DIFF_SAME = 0, DIFF_CHANGED = 1, DIFF_TROUBLE = 2 };

static int usage(void)
{
	fprintf(stderr, "usage: aclc diff OLD NEW [--nodes FILE] [--nodes-new FILE] [--node NAME] "
			"[--format text|json]\n");
	return DIFF_TROUBLE;
}

/* One side: POLICY and (NODES may be NULL) the inventory, compiled. */
static int load_side(struct load *l, const char *policy, const char *nodes, struct diag_list *diags)
{
	struct load_src p = { .name = policy }, n = { .name = nodes };
	return load_run(l, &p, nodes ? &n : NULL, diags);
}

int cli_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nodes", required_argument, NULL, 'n' },
		{ "nodes-new", required_argument, NULL, 'N' },
		{ "node", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *nodes = NULL, *nodes_new = NULL, *only = NULL, *format = "text";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': nodes = optarg; break;
		case 'N': nodes_new = optarg; break;
		case 'o': only = optarg; break;
		case 'f': format = optarg; break;
		default: return usage();
		}
	}
	if (argc - optind != 2 || (strcmp(format, "text") != 0 && strcmp(format, "json") != 0))
		return usage();

	struct diag_list diags = { 0 };
	struct load *before = load_new(), *after = load_new();
	struct diff_result res = { 0 };
	int rc = DIFF_TROUBLE;
	if (!before || !after) {
		fprintf(stderr, "aclc diff: %s\n", strerror(ENOMEM));
		goto out_print;
	}
	int lb = load_side(before, argv[optind], nodes, &diags);
	int la = load_side(after, argv[optind + 1], nodes_new ? nodes_new : nodes, &diags);
	if (lb < 0 || la < 0)
		goto out_print;
	if (!nodes && !nodes_new)
		diag_warn(&diags, NULL, "no inventory (--nodes): users, groups and tags name no device, so only "
			  "rules written with addresses can differ");
	if (only && !diff_has_node(before, after, only)) {
		fprintf(stderr, "aclc diff: no node \"%s\" in either inventory\n", only);
		goto out_print;
	}
	if (diff_compute(before, after, only, &res, &diags) < 0)
		goto out_print;
	int werr = strcmp(format, "json") == 0 ? diff_write_json(stdout, &res, argv[optind], argv[optind + 1])
					       : diff_write_text(stdout, &res);
	if (werr < 0 || fflush(stdout) != 0)
		fprintf(stderr, "aclc diff: writing standard output failed\n");
	else
		rc = res.n ? DIFF_CHANGED : DIFF_SAME;
	diff_result_free(&res);
out_print:
	diag_print(stderr, &diags);
	diag_list_free(&diags);
	load_free(after);
	load_free(before);
	return rc;
}
