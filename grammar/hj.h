/* hj: the HuJSON tree.  HuJSON is JSON (RFC 8259) plus // and block comments
 * and trailing commas in objects and arrays.  Every value and every object
 * key carries its file:line:col, so that any later stage can point at it. */
#ifndef HJ_H
#define HJ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "diag.h"

/* Nesting deeper than this is an error, not a stack overflow. */
#define HJ_MAX_DEPTH 512

enum hj_kind { HJ_NULL, HJ_FALSE, HJ_TRUE, HJ_NUMBER, HJ_STRING, HJ_ARRAY, HJ_OBJECT };

struct hj_value;

struct hj_member {
	struct hj_value *key;    /* an HJ_STRING, with the key's own location */
	struct hj_value *value;
};

struct hj_value {
	enum hj_kind kind;
	struct diag_loc loc;
	union {
		/* HJ_STRING: decoded UTF-8, NUL-terminated; LEN excludes the
		 * terminator and may count NULs decoded from \u0000.
		 * HJ_NUMBER: the number's source text, as written. */
		struct { char *s; size_t len; } str;
		struct { struct hj_value **items; size_t n; } arr;
		struct { struct hj_member *members; size_t n; } obj;  /* source order, keys unique */
	} u;
};

/* Parse SRC.  Returns the tree, or NULL with every error queued in DIAGS
 * (located, up to the list's cap, in source order).  Keys must be unique;
 * text must be UTF-8; a UTF-8 byte order mark at the very start is skipped
 * (columns still count its bytes).  Strings and numbers share their node's
 * allocation: free a tree only with hj_free(). */
struct hj_value *hj_parse(const struct diag_src *src, struct diag_list *diags);
void hj_free(struct hj_value *v);

/* Write V as standard JSON: key order kept, strings re-escaped as needed,
 * numbers as written.  PRETTY: two-space indentation.  0 or -errno. */
int hj_write_json(FILE *out, const struct hj_value *v, bool pretty);

/* The member of OBJ named KEY, or NULL (also when OBJ is not an object). */
const struct hj_value *hj_get(const struct hj_value *obj, const char *key);
const char *hj_kind_name(enum hj_kind kind);

#endif
