/* cli_policy: shared option parsing, loading and atomic output. */
#include "cli_policy.h"

#include <errno.h>
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

int cli_load(const struct cli_opts *o, struct load **out)
{
	struct diag_list diags = { 0 };
	struct load *l = *out = load_new();
	int rc = -ENOMEM;
	if (l && o->nodes)
		rc = load_run(l, &(struct load_src){ .name = o->policy }, &(struct load_src){ .name = o->nodes }, &diags);
	else if (l)
		rc = load_policy(l, &(struct load_src){ .name = o->policy }, &diags);
	else
		fprintf(stderr, "aclc: %s\n", strerror(ENOMEM));
	diag_print(stderr, &diags);
	diag_list_free(&diags);
	return rc < 0 ? CLI_ERR : CLI_OK;
}
