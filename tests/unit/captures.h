/* captures.h: the Tailscale conformance cases under
 * $KG_SHARED/testdata/tailscale-captures, shared by the runners that read
 * them (filters and rejections; route sets). */
#ifndef CAPTURES_H
#define CAPTURES_H
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static int captures_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .json names in DIR, sorted (free each, then the array); NULL when DIR
 * cannot be read. */
static char **captures_case_names(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	struct dirent *e;
	*n = 0;
	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l <= 5 || strcmp(e->d_name + l - 5, ".json") != 0)
			continue;
		char **v = realloc(names, (*n + 1) * sizeof(*v));
		if (!v)
			break;
		names = v;
		names[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, *n, sizeof(*names), captures_cmp);
	return names;
}

#endif
