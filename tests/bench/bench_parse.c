/* bench_parse PARSER FILE [RUNS]: parse FILE RUNS times with PARSER (hj:
 * hj_parse, locations and all; cjson: cJSON_ParseWithLength) and print one
 * line: the median and best CPU time of a parse (steadier than wall time on
 * a shared machine), the median wall time, and the peak memory the parse
 * added to the process (ru_maxrss after minus before). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "diag.h"
#include "hj.h"

static double now(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
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
	double *cpu = calloc((size_t)runs, sizeof(*cpu)), *wall = calloc((size_t)runs, sizeof(*wall));
	int rc = 0;
	for (int i = 0; i < runs && cpu && wall; i++) {
		double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
		if (!parse_once(argv[1], src)) {
			fprintf(stderr, "bench_parse: %s did not parse %s\n", argv[1], argv[2]);
			rc = 1;
			break;
		}
		cpu[i] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
		wall[i] = now(CLOCK_MONOTONIC) - w0;
	}
	if (rc == 0 && cpu && wall) {
		qsort(cpu, (size_t)runs, sizeof(*cpu), cmp_double);
		qsort(wall, (size_t)runs, sizeof(*wall), cmp_double);
		printf("%-6s %-14s %5.1f MB  cpu median %7.2f ms best %7.2f ms  wall median %7.2f ms  peak %6.1f MB\n",
		       argv[1], strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2], (double)src->len / 1e6,
		       cpu[runs / 2] * 1e3, cpu[0] * 1e3, wall[runs / 2] * 1e3,
		       (double)(maxrss_kb() - before) / 1024.0);
	}
	free(cpu);
	free(wall);
	diag_src_free(src);
	diag_list_free(&diags);
	return rc;
}
