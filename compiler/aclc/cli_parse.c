/* cli_parse: `aclc parse [-c] FILE`: read HuJSON, print it as standard JSON
 * (comments and trailing commas gone, key order kept), or the errors. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "hj.h"

static int usage(void)
{
	fprintf(stderr, "usage: aclc parse [-c] FILE\n");
	return CLI_USAGE;
}

int cli_parse(int argc, char **argv)
{
	bool pretty = true;
	int c, rc = CLI_ERR;
	optind = 1;
	while ((c = getopt(argc, argv, "+ch")) != -1) {
		switch (c) {
		case 'c': pretty = false; break;
		default: return usage();
		}
	}
	if (argc - optind != 1)
		return usage();

	struct diag_list diags = { 0 };
	struct diag_src *src = diag_src_load(argv[optind], &diags);
	struct hj_value *root = src ? hj_parse(src, &diags) : NULL;
	diag_print(stderr, &diags);
	if (root) {
		int err = hj_write_json(stdout, root, pretty);
		if (err < 0)
			fprintf(stderr, "aclc: writing standard output: %s\n", strerror(-err));
		else
			rc = CLI_OK;
	}
	hj_free(root);
	diag_list_free(&diags);
	diag_src_free(src);
	return rc;
}
