/* hj_impl: what the HuJSON scanner (hujson.l), the parser (hujson.y) and the
 * tree code (hj.c, hj_scan.c) share.  Not for use outside grammar/. */
#ifndef HJ_IMPL_H
#define HJ_IMPL_H
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "hj.h"

/* One parse: everything the scanner and the parser need, no globals. */
struct hj_state {
	const struct diag_src *src;
	struct diag_list *diags;
	void *scanner;               /* the reentrant flex scanner */
	const char *in;              /* the input (after a byte order mark) */
	size_t in_len;
	char *scan_buf;              /* flex's copy of it: NULs made 0x01 */
	unsigned line, col;          /* position of the next byte */
	unsigned end_line, end_col;  /* just past the last token */
	unsigned depth;              /* brackets open now */
	struct hj_open {             /* where each open bracket was opened */
		unsigned line, col;
		char ch;
	} open[HJ_MAX_DEPTH];
	int last_tok, prev_tok;      /* the last two tokens handed to the parser */
	bool stop;                   /* fatal error or error cap: scan no further */
	bool eof_explained;          /* an unterminated comment ran to the end */
	struct hj_value *root;
	jmp_buf on_fatal;            /* where a flex fatal error lands (hj_lex_fatal) */
};

/* hj.c: tree constructors for the parser actions.  Each takes ownership of
 * the values passed in and accepts NULL for a part lost to a syntax error. */
struct hj_value *hj_new_literal(struct hj_state *st, enum hj_kind kind, const struct diag_loc *loc);
struct hj_value *hj_new_text(struct hj_state *st, enum hj_kind kind, const struct diag_loc *loc,
			     const char *s, size_t len);
struct hj_value *hj_array_new(struct hj_state *st, const struct diag_loc *loc);
struct hj_value *hj_array_add(struct hj_state *st, struct hj_value *arr, struct hj_value *item);
struct hj_value *hj_object_new(struct hj_state *st, const struct diag_loc *loc);
struct hj_value *hj_object_add(struct hj_state *st, struct hj_value *obj, struct hj_value *key,
			       struct hj_value *val);
/* Close an array or object: set its location to the opening bracket's and,
 * for an object, report duplicate keys. */
struct hj_value *hj_close(struct hj_state *st, struct hj_value *v, const struct diag_loc *loc);
void hj_set_root(struct hj_state *st, struct hj_value *v);

/* hj_scan.c: the lexical rules flex's patterns leave to C.  Each reports
 * its errors located at the offending byte and returns a usable value so
 * that parsing goes on. */
struct hj_value *hj_scan_string(struct hj_state *st, const char *text, size_t len,
				const struct diag_loc *loc);
struct hj_value *hj_scan_number(struct hj_state *st, const char *text, size_t len,
				const struct diag_loc *loc, bool valid);
struct hj_value *hj_scan_word(struct hj_state *st, const char *text, size_t len,
			      const struct diag_loc *loc);
void hj_scan_junk(struct hj_state *st, const char *text, size_t len, const struct diag_loc *loc);
void hj_scan_comment(struct hj_state *st, const char *text, size_t len, const struct diag_loc *loc);
/* Length of the valid UTF-8 sequence at P (at most N bytes), or 0 with a
 * reason in *WHY. */
size_t hj_utf8_len(const unsigned char *p, size_t n, const char **why);
/* Queue an error at LOC shifted by OFF bytes on the same line. */
void hj_error_at(struct hj_state *st, const struct diag_loc *loc, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* hujson.l: the scanner over ST->in; 0 or -errno.  Flex rescans a token
 * from its start at every NUL byte and at every buffer refill, which is
 * quadratic in a long token; so it scans one private copy of the whole
 * input with each NUL turned into 0x01 (no pattern tells them apart), and
 * the C helpers read the original bytes. */
int hj_lex_begin(struct hj_state *st);
void hj_lex_end(struct hj_state *st);
/* Flex's fatal errors (on an in-memory buffer, only a failed allocation)
 * would call exit(); the scanner's YY_FATAL_ERROR calls this instead, which
 * queues the message and jumps back to ST->on_fatal in hj_parse. */
_Noreturn void hj_lex_fatal(void *scanner, const char *msg);

#endif
