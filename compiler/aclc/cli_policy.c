/* cli_policy: shared option parsing, loading and atomic output. */
#include "cli_policy.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_opts_parse(int argc, char **argv, struct cli_opts *o, const char *usage)
{
	static const struct option longopts[] = {
		{ "nodes", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': o->nodes = optarg; break;
		case 'h':
			printf("usage: %s\n", usage);
			exit(CLI_OK);
		default:
			fprintf(stderr, "usage: %s\n", usage);
			return CLI_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: %s\n", usage);
		return CLI_USAGE;
	}
	o->policy = argv[optind];
	return CLI_OK;
}

int cli_load(const struct cli_opts *o, struct cli_loaded *l)
{
	memset(l, 0, sizeof(*l));
	l->src = diag_src_load(o->policy, &l->diags);
	if (l->src)
		l->root = hj_parse(l->src, &l->diags);
	if (l->root)
		l->pol = pol_load(l->root, &l->diags);
	if (o->nodes)
		l->inv = inv_load(o->nodes, &l->inv_src, &l->diags);
	if (l->pol && l->inv && filter_compile(l->pol, l->inv, &l->fs, &l->diags) == 0)
		l->compiled = true;
	diag_print(stderr, &l->diags);
	if (!l->pol || (o->nodes && !l->compiled))
		return CLI_ERR;
	return CLI_OK;
}

void cli_loaded_free(struct cli_loaded *l)
{
	if (l->compiled)
		filter_set_free(&l->fs);
	inv_free(l->inv);
	pol_free(l->pol);
	hj_free(l->root);
	diag_list_free(&l->diags);
	diag_src_free(l->src);
	diag_src_free(l->inv_src);
}
