/* t.h: table-driven unit tests print one line per check and exit non-zero on
 * any failure: "ok - ..." or "not ok - ...", as tests/run counts them. */
#ifndef T_H
#define T_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int t_failures;

#define T_CHECK(cond, ...) do { \
	if (cond) { printf("ok - "); printf(__VA_ARGS__); printf("\n"); } \
	else { printf("not ok - "); printf(__VA_ARGS__); \
	       printf(" (%s:%d: %s)\n", __FILE__, __LINE__, #cond); t_failures++; } \
} while (0)

#define T_STREQ(got, want, ...) do { \
	const char *t_g_ = (got), *t_w_ = (want); \
	int t_ok_ = t_g_ && t_w_ && strcmp(t_g_, t_w_) == 0; \
	T_CHECK(t_ok_, __VA_ARGS__); \
	if (!t_ok_) printf("#   got:  %s\n#   want: %s\n", t_g_ ? t_g_ : "(null)", t_w_ ? t_w_ : "(null)"); \
} while (0)

#define T_MEMEQ(got, want, len, ...) T_CHECK(memcmp((got), (want), (len)) == 0, __VA_ARGS__)

#define T_SKIP(...) do { printf("skip - "); printf(__VA_ARGS__); printf("\n"); } while (0)

#define T_DONE() return t_failures ? 1 : 0

/* Shared test data, $KG_SHARED/testdata/SUB (tests/run sets KG_SHARED from
 * ../shared): its path (valid until the next call), or NULL after the one
 * skip line every test prints for missing data (tests/lib.sh's t_shared
 * prints the same). */
static inline const char *t_shared(const char *sub)
{
	static char path[4096];
	const char *dir = getenv("KG_SHARED");
	struct stat st;
	if (dir && *dir && (size_t)snprintf(path, sizeof path, "%s/testdata/%s", dir, sub) < sizeof path &&
	    stat(path, &st) == 0)
		return path;
	T_SKIP("%s: shared test data not found (KG_SHARED=%s)", sub, dir ? dir : "");
	return NULL;
}

#endif
