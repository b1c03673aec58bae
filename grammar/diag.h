/* diag: diagnostics as data.  Every stage queues records against a source
 * location; diag_print() renders them as
 *     file:line:col: error: message
 *     <source line>
 *          ^
 * so that tests can pin the exact text. */
#ifndef DIAG_H
#define DIAG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A source file held in memory; locations point into it. */
struct diag_src {
	char *name;   /* as given by the user; "<stdin>" for "-" */
	char *text;   /* the bytes, NUL-terminated (the file may hold NULs too) */
	size_t len;
};

/* line and col are 1-based; col counts bytes.  line 0 means "the whole file". */
struct diag_loc {
	const struct diag_src *src;
	unsigned line, col;
};

enum diag_level { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE };

struct diag {
	enum diag_level level;
	struct diag_loc loc;
	char *msg;
};

#define DIAG_MAX_ERRORS_DEFAULT 20

struct diag_list {
	struct diag *items;
	size_t n, cap;
	size_t nerrors;     /* errors queued, not counting those beyond the cap */
	size_t max_errors;  /* 0: DIAG_MAX_ERRORS_DEFAULT */
	bool truncated;     /* an error was dropped because of the cap */
	/* Beyond the cap, the first error of each kind not yet seen is still
	 * queued (at most the cap's number of them), so that the cap never
	 * hides a whole class of mistakes.  A kind is the message with its
	 * quoted parts and numbers left out. */
	uint64_t *kinds;    /* kinds seen, in no order */
	size_t nkinds, capkinds;
	size_t beyond;      /* errors queued beyond the cap */
};

/* The largest input read: far above any real policy or inventory (a
 * 50,000-node inventory is about 10 MiB; bad_input.test parses a 100 MiB
 * file, as promised before the cap), far below what would hurt the
 * machine when PATH is /dev/zero or a runaway pipe. */
#define DIAG_SRC_MAX_BYTES ((size_t)256 << 20)

/* Read PATH ("-" is standard input) into memory, at most DIAG_SRC_MAX_BYTES.
 * NULL on failure, with the reason queued in DIAGS (located at the file). */
struct diag_src *diag_src_load(const char *path, struct diag_list *diags);
/* Wrap a buffer (copied) as a source, for tests and in-memory inputs. */
struct diag_src *diag_src_from_mem(const char *name, const char *text, size_t len);
void diag_src_free(struct diag_src *src);

/* Queue a record.  LOC may be NULL (no location).  Returns 0, or -ENOMEM. */
int diag_add(struct diag_list *l, enum diag_level level, const struct diag_loc *loc,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int diag_error(struct diag_list *l, const struct diag_loc *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int diag_warn(struct diag_list *l, const struct diag_loc *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* True once the error cap is reached: parsers stop there (a checker that
 * goes on gets the first error of each new kind queued). */
bool diag_full(const struct diag_list *l);
bool diag_has_errors(const struct diag_list *l);
/* Print every record in order, with source line and caret where known. */
void diag_print(FILE *out, const struct diag_list *l);
void diag_list_free(struct diag_list *l);

#endif
