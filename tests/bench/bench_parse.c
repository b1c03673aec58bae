/* bench_parse PARSER FILE [RUNS]: parse FILE RUNS times with PARSER (hj:
 * hj_parse, locations and all; cjson: cJSON_ParseWithLength) and print one
 * line: the median and best wall time of a parse, and the peak memory the
 * parse added to the process (ru_maxrss after minus before). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "diag.h"
#include "hj.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One parse; false when the input did not parse. */
static bool parse_once(const char *parser, const struct diag_src *src)
{
	if (strcmp(parser, "hj") == 0) {
		struct diag_list diags = { 0 };
		struct hj_value *v = hj_parse(src, &diags);
		if (!v)
			diag_print(stderr, &diags);
		bool good = v != NULL;
		hj_free(v);
		diag_list_free(&diags);
		return good;
	}
	cJSON *j = cJSON_ParseWithLength(src->text, src->len);
	bool good = j != NULL;
	cJSON_Delete(j);
	return good;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "hj") != 0 && strcmp(argv[1], "cjson") != 0)) {
		fprintf(stderr, "usage: bench_parse hj|cjson FILE [RUNS]\n");
		return 2;
	}
	int runs = argc > 3 ? atoi(argv[3]) : 5;
	if (runs < 1 || runs > 1000)
		runs = 5;
	struct diag_list diags = { 0 };
	struct diag_src *src = diag_src_load(argv[2], &diags);
	if (!src) {
		diag_print(stderr, &diags);
		return 1;
	}
	long before = maxrss_kb();
	double *t = calloc((size_t)runs, sizeof(*t));
	int rc = 0;
	for (int i = 0; i < runs && t; i++) {
		double t0 = now();
		if (!parse_once(argv[1], src)) {
			fprintf(stderr, "bench_parse: %s did not parse %s\n", argv[1], argv[2]);
			rc = 1;
			break;
		}
		t[i] = now() - t0;
	}
	if (rc == 0 && t) {
		qsort(t, (size_t)runs, sizeof(*t), cmp_double);
		printf("%-6s %-14s %7.1f MB  median %8.2f ms  best %8.2f ms  peak %7.1f MB\n", argv[1],
		       strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2], (double)src->len / 1e6,
		       t[runs / 2] * 1e3, t[0] * 1e3, (double)(maxrss_kb() - before) / 1024.0);
	}
	free(t);
	diag_src_free(src);
	diag_list_free(&diags);
	return rc;
}
