/* Unit tests for diag: the exact rendering of located diagnostics. */
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "t.h"

/* Render L into a heap string. */
static char *render(const struct diag_list *l)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	diag_print(f, l);
	fclose(f);
	return buf;
}

static void test_caret(void)
{
	static const struct {
		const char *text;
		unsigned line, col;
		const char *want;
	} cases[] = {
		{ "{\n  \"acls\": 1,\n}\n", 2, 11,
		  "p.hujson:2:11: error: boom\n  \"acls\": 1,\n          ^\n" },
		{ "\t\"x\"\n", 1, 2, "p.hujson:1:2: error: boom\n\t\"x\"\n\t^\n" },
		{ "no newline", 1, 4, "p.hujson:1:4: error: boom\nno newline\n   ^\n" },
		{ "a\r\nb\r\n", 2, 1, "p.hujson:2:1: error: boom\nb\n^\n" },
		{ "ctl\x01here", 1, 4, "p.hujson:1:4: error: boom\nctl?here\n   ^\n" },
		{ "", 1, 1, "p.hujson:1:1: error: boom\n\n^\n" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag_src *src = diag_src_from_mem("p.hujson", cases[i].text, strlen(cases[i].text));
		struct diag_list l = { 0 };
		struct diag_loc loc = { src, cases[i].line, cases[i].col };
		diag_error(&l, &loc, "boom");
		char *got = render(&l);
		T_STREQ(got, cases[i].want, "diag: caret case %zu renders exactly", i);
		free(got);
		diag_list_free(&l);
		diag_src_free(src);
	}
}

/* Beyond the cap the first error of each new kind is still queued: a kind
 * is the message without its quoted parts and numbers. */
static void test_cap_kinds(void)
{
	struct diag_list l = { .max_errors = 2 };
	diag_error(&l, NULL, "bad port \"%d\"", 1);
	diag_error(&l, NULL, "bad port \"%d\"", 2);
	diag_error(&l, NULL, "bad port \"%d\"", 3);
	diag_error(&l, NULL, "unknown group \"%s\"", "group:a");
	diag_error(&l, NULL, "unknown group \"%s\"", "group:b");
	diag_error(&l, NULL, "tag %s has no owner", "tag:x");
	diag_error(&l, NULL, "line %d: oops", 7);
	char *got = render(&l);
	T_STREQ(got, "error: bad port \"1\"\nerror: bad port \"2\"\nerror: unknown group \"group:a\"\n"
		"error: tag tag:x has no owner\nerror: too many errors (2), stopping; beyond them, the first error "
		"of each other kind is shown\n",
		"diag: beyond the cap, the first of each new kind (at most the cap's number) is shown");
	T_CHECK(l.nerrors == 4 && l.beyond == 2, "diag: kinds beyond the cap are counted as errors (%zu, %zu)",
		l.nerrors, l.beyond);
	free(got);
	diag_list_free(&l);
}

static void test_levels_and_cap(void)
{
	struct diag_list l = { .max_errors = 2 };
	diag_warn(&l, NULL, "ignored key %s", "ssh");
	diag_error(&l, NULL, "one");
	T_CHECK(!diag_full(&l), "diag: not full after one error of two");
	diag_error(&l, NULL, "two %d", 2);
	diag_error(&l, NULL, "two %d", 3);
	T_CHECK(diag_full(&l) && l.nerrors == 2, "diag: cap keeps two errors");
	char *got = render(&l);
	T_STREQ(got, "warning: ignored key ssh\nerror: one\nerror: two 2\nerror: too many errors (2), stopping\n",
		"diag: levels, unlocated records and the cap line");
	free(got);
	diag_list_free(&l);
	test_cap_kinds();
}

static void test_load_missing(void)
{
	struct diag_list l = { 0 };
	struct diag_src *src = diag_src_load("/nonexistent/keygate.hujson", &l);
	char *got = render(&l);
	T_CHECK(!src && strstr(got, "No such file or directory"), "diag: missing file is an error, not a crash");
	free(got);
	diag_list_free(&l);
}

int main(void)
{
	test_caret();
	test_levels_and_cap();
	test_load_missing();
	T_DONE();
}
