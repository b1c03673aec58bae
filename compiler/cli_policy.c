/* cli_policy: shared option parsing, loading and atomic output. */
#include "cli_policy.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_opts_parse(int argc, char **argv, struct cli_opts *o, const char *usage)
{
	static const struct option longopts[] = {
		{ "nodes", required_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'f' },
		{ "node", required_argument, NULL, 'N' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': o->nodes = optarg; break;
		case 'f': o->format = optarg; break;
		case 'N': o->node = optarg; break;
		case 'o': o->output = optarg; break;
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

int cli_write_atomic(const char *path, int (*fn)(FILE *out, void *arg), void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (!mem) {
		fprintf(stderr, "aclc: %s\n", strerror(errno));
		return CLI_ERR;
	}
	int rc = fn(mem, arg);
	if (fclose(mem) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		fprintf(stderr, "aclc: producing output: %s\n", strerror(-rc));
		free(buf);
		return CLI_ERR;
	}
	if (!path || strcmp(path, "-") == 0) {
		bool ok = fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0;
		free(buf);
		if (!ok)
			fprintf(stderr, "aclc: writing standard output: %s\n", strerror(errno));
		return ok ? CLI_OK : CLI_ERR;
	}
	char *tmp = NULL;
	int status = CLI_ERR;
	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0) {
		free(buf);
		return CLI_ERR;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "aclc: %s: %s\n", tmp, strerror(errno));
		goto out_free;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		goto out_unlink;
	}
	bool ok = fwrite(buf, 1, len, f) == len;
	ok &= fflush(f) == 0 && fsync(fd) == 0;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path) != 0) {
		fprintf(stderr, "aclc: %s: %s\n", path, strerror(errno));
		goto out_unlink;
	}
	status = CLI_OK;
	goto out_free;
out_unlink:
	unlink(tmp);
out_free:
	free(tmp);
	free(buf);
	return status;
}
