/* hj: the HuJSON tree: the parse driver, the constructors the grammar's
 * actions call, lookup, the JSON writer and the one free function. */
#include "hj.h"

#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hj_impl.h"
#include "hujson.tab.h"

static const char *const kind_names[] = {
	[HJ_NULL] = "null", [HJ_FALSE] = "false", [HJ_TRUE] = "true", [HJ_NUMBER] = "number",
	[HJ_STRING] = "string", [HJ_ARRAY] = "array", [HJ_OBJECT] = "object",
};

const char *hj_kind_name(enum hj_kind kind)
{
	return (unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

/* Out of memory: say so once and stop the parse. */
static void *nomem(struct hj_state *st)
{
	if (!st->stop)
		diag_error(st->diags, NULL, "%s: out of memory", st->src->name);
	st->stop = true;
	return NULL;
}

struct hj_value *hj_new_literal(struct hj_state *st, enum hj_kind kind, const struct diag_loc *loc)
{
	struct hj_value *v = calloc(1, sizeof(*v));
	if (!v)
		return nomem(st);
	v->kind = kind;
	v->loc = *loc;
	return v;
}

/* A string or number: the node and its bytes in one allocation, so
 * hj_free() frees both.  S NULL: room for LEN bytes, to be filled in. */
struct hj_value *hj_new_text(struct hj_state *st, enum hj_kind kind, const struct diag_loc *loc,
			     const char *s, size_t len)
{
	if (len > SIZE_MAX - sizeof(struct hj_value) - 1)
		return nomem(st);
	struct hj_value *v = malloc(sizeof(*v) + len + 1);
	if (!v)
		return nomem(st);
	v->kind = kind;
	v->loc = *loc;
	v->u.str.s = (char *)(v + 1);
	v->u.str.len = len;
	if (s)
		memcpy(v->u.str.s, s, len);
	v->u.str.s[len] = '\0';
	return v;
}

struct hj_value *hj_array_new(struct hj_state *st, const struct diag_loc *loc)
{
	return hj_new_literal(st, HJ_ARRAY, loc);
}

struct hj_value *hj_object_new(struct hj_state *st, const struct diag_loc *loc)
{
	return hj_new_literal(st, HJ_OBJECT, loc);
}

/* Arrays and member lists grow to the next power of two when N reaches
 * one, so no capacity needs storing. */
static bool grow(void **items, size_t n, size_t size)
{
	if (n < 4 ? n != 0 : (n & (n - 1)) != 0)
		return true;
	size_t cap = n < 4 ? 4 : 2 * n;
	if (cap > SIZE_MAX / size)
		return false;
	void *p = realloc(*items, cap * size);
	if (!p)
		return false;
	*items = p;
	return true;
}

struct hj_value *hj_array_add(struct hj_state *st, struct hj_value *arr, struct hj_value *item)
{
	if (!arr || !item) {
		hj_free(item);
		return arr;
	}
	if (!grow((void **)&arr->u.arr.items, arr->u.arr.n, sizeof(*arr->u.arr.items))) {
		hj_free(item);
		hj_free(arr);
		return nomem(st);
	}
	arr->u.arr.items[arr->u.arr.n++] = item;
	return arr;
}

struct hj_value *hj_object_add(struct hj_state *st, struct hj_value *obj, struct hj_value *key,
			       struct hj_value *val)
{
	if (!obj || !key || !val)
		goto free_member;
	if (!grow((void **)&obj->u.obj.members, obj->u.obj.n, sizeof(*obj->u.obj.members))) {
		hj_free(obj);
		obj = nomem(st);
		goto free_member;
	}
	obj->u.obj.members[obj->u.obj.n].key = key;
	obj->u.obj.members[obj->u.obj.n].value = val;
	obj->u.obj.n++;
	return obj;

free_member:
	hj_free(key);
	hj_free(val);
	return obj;
}

static bool key_eq(const struct hj_value *a, const struct hj_value *b)
{
	return a->u.str.len == b->u.str.len && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
}

/* KEY for a message: quoted, escaped, cut at 40 bytes. */
static void quote_key(char *buf, size_t size, const struct hj_value *key)
{
	size_t o = 0;
	buf[o++] = '"';
	for (size_t i = 0; i < key->u.str.len && o + 8 < size; i++) {
		unsigned char c = (unsigned char)key->u.str.s[i];
		if (i == 40) {
			o += (size_t)snprintf(buf + o, size - o, "...");
			break;
		}
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\u%04x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

static void report_dup(struct hj_state *st, const struct hj_value *first, const struct hj_value *dup)
{
	char q[64];
	quote_key(q, sizeof(q), dup);
	diag_error(st->diags, &dup->loc, "duplicate key %s (first at %u:%u)", q, first->loc.line,
		   first->loc.col);
}

static int cmp_member_index(const void *pa, const void *pb, void *members)
{
	const struct hj_member *m = members;
	const struct hj_value *a = m[*(const size_t *)pa].key;
	const struct hj_value *b = m[*(const size_t *)pb].key;
	if (a->u.str.len != b->u.str.len)
		return a->u.str.len < b->u.str.len ? -1 : 1;
	int c = memcmp(a->u.str.s, b->u.str.s, a->u.str.len);
	if (c)
		return c;
	return *(const size_t *)pa < *(const size_t *)pb ? -1 : 1;
}

/* Report every key that repeats an earlier one, at the repeat.  Small
 * objects compare pairwise; big ones sort an index (ties by position). */
static void check_dups(struct hj_state *st, const struct hj_value *obj)
{
	const struct hj_member *m = obj->u.obj.members;
	size_t n = obj->u.obj.n;
	if (n <= 16) {
		for (size_t j = 1; j < n; j++)
			for (size_t i = 0; i < j; i++)
				if (key_eq(m[i].key, m[j].key)) {
					report_dup(st, m[i].key, m[j].key);
					break;
				}
		return;
	}
	size_t *idx = malloc(n * sizeof(*idx));
	if (!idx) {
		nomem(st);
		return;
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), cmp_member_index, (void *)m);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (!key_eq(m[idx[first]].key, m[idx[i]].key))
			first = i;
		else
			report_dup(st, m[idx[first]].key, m[idx[i]].key);
	}
	free(idx);
}

struct hj_value *hj_close(struct hj_state *st, struct hj_value *v, const struct diag_loc *loc)
{
	if (!v)
		return NULL;
	v->loc = *loc;
	if (v->kind == HJ_OBJECT && v->u.obj.n > 1)
		check_dups(st, v);
	return v;
}

void hj_set_root(struct hj_state *st, struct hj_value *v)
{
	hj_free(st->root);
	st->root = v;
}

void hj_free(struct hj_value *v)
{
	if (!v)
		return;
	switch (v->kind) {
	case HJ_ARRAY:
		for (size_t i = 0; i < v->u.arr.n; i++)
			hj_free(v->u.arr.items[i]);
		free(v->u.arr.items);
		break;
	case HJ_OBJECT:
		for (size_t i = 0; i < v->u.obj.n; i++) {
			hj_free(v->u.obj.members[i].key);
			hj_free(v->u.obj.members[i].value);
		}
		free(v->u.obj.members);
		break;
	default:  /* strings and numbers share the node's allocation */
		break;
	}
	free(v);
}

const struct hj_value *hj_get(const struct hj_value *obj, const char *key)
{
	if (!obj || obj->kind != HJ_OBJECT || !key)
		return NULL;
	size_t len = strlen(key);
	for (size_t i = 0; i < obj->u.obj.n; i++) {
		const struct hj_value *k = obj->u.obj.members[i].key;
		if (k->u.str.len == len && memcmp(k->u.str.s, key, len) == 0)
			return obj->u.obj.members[i].value;
	}
	return NULL;
}

/* Order the records this parse queued by position; stable, so a record
 * keeps its place among those at the same spot.  Duplicate keys are found
 * when their object closes, after errors inside later members. */
static void sort_diags(struct diag_list *l, size_t from)
{
	for (size_t i = from + 1; i < l->n; i++) {
		struct diag d = l->items[i];
		size_t j = i;
		while (j > from && (l->items[j - 1].loc.line > d.loc.line ||
				    (l->items[j - 1].loc.line == d.loc.line && l->items[j - 1].loc.col > d.loc.col)))
		{
			l->items[j] = l->items[j - 1];
			j--;
		}
		l->items[j] = d;
	}
}

/* Scan and parse ST's input; 0, or non-zero after an error.  A flex fatal
 * error lands at the setjmp (see hj_lex_fatal); what the parser's stack held
 * then is lost, a leak accepted for an allocation failure inside flex. */
static int scan_and_parse(struct hj_state *st)
{
	if (setjmp(st->on_fatal)) {
		hj_lex_end(st);
		return -ENOMEM;
	}
	if (hj_lex_begin(st) < 0) {
		nomem(st);
		return -ENOMEM;
	}
	int rc = hjp_parse(st);
	hj_lex_end(st);
	return rc;
}

struct hj_value *hj_parse(const struct diag_src *src, struct diag_list *diags)
{
	static const char bom[] = "\xef\xbb\xbf";
	struct hj_value *root = NULL;
	size_t first = diags->n, errors = diags->nerrors;
	bool truncated = diags->truncated;
	struct hj_state *st = calloc(1, sizeof(*st));
	if (!st) {
		diag_error(diags, NULL, "%s: out of memory", src->name);
		return NULL;
	}
	st->src = src;
	st->diags = diags;
	st->line = st->end_line = 1;
	st->col = st->end_col = 1;
	st->in = src->text;
	st->in_len = src->len;
	/* A UTF-8 byte order mark at the very start is skipped (RFC 8259 8.1
	 * allows it); columns still count its three bytes. */
	if (src->len >= 3 && memcmp(src->text, bom, 3) == 0) {
		st->in += 3;
		st->in_len -= 3;
		st->col = st->end_col = 4;
	}
	int rc = scan_and_parse(st);
	root = st->root;
	st->root = NULL;
	if (rc != 0 || diags->nerrors > errors || diags->truncated != truncated || !root) {
		if (diags->nerrors == errors && diags->truncated == truncated)
			diag_error(diags, NULL, "%s: parse failed", src->name);
		hj_free(root);
		root = NULL;
	}
	sort_diags(diags, first);
	free(st);
	return root;
}

/* The writer.  Errors are sticky in the FILE; hj_write_json() checks once. */
static void write_string(FILE *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;
	putc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		fwrite(s + run, 1, i - run, out);
		run = i + 1;
		char esc[7] = { '\\', 0 };
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
		}
		fputs(esc, out);
	}
	fwrite(s + run, 1, len - run, out);
	putc('"', out);
}

static void write_indent(FILE *out, bool pretty, unsigned level)
{
	if (!pretty)
		return;
	putc('\n', out);
	for (unsigned i = 0; i < level; i++)
		fputs("  ", out);
}

static void write_value(FILE *out, const struct hj_value *v, bool pretty, unsigned level)
{
	switch (v->kind) {
	case HJ_NULL: fputs("null", out); break;
	case HJ_FALSE: fputs("false", out); break;
	case HJ_TRUE: fputs("true", out); break;
	case HJ_NUMBER: fwrite(v->u.str.s, 1, v->u.str.len, out); break;
	case HJ_STRING: write_string(out, v->u.str.s, v->u.str.len); break;
	case HJ_ARRAY:
		putc('[', out);
		for (size_t i = 0; i < v->u.arr.n; i++) {
			if (i)
				putc(',', out);
			write_indent(out, pretty, level + 1);
			write_value(out, v->u.arr.items[i], pretty, level + 1);
		}
		if (v->u.arr.n)
			write_indent(out, pretty, level);
		putc(']', out);
		break;
	case HJ_OBJECT:
		putc('{', out);
		for (size_t i = 0; i < v->u.obj.n; i++) {
			const struct hj_member *m = &v->u.obj.members[i];
			if (i)
				putc(',', out);
			write_indent(out, pretty, level + 1);
			write_string(out, m->key->u.str.s, m->key->u.str.len);
			fputs(pretty ? ": " : ":", out);
			write_value(out, m->value, pretty, level + 1);
		}
		if (v->u.obj.n)
			write_indent(out, pretty, level);
		putc('}', out);
		break;
	}
}

int hj_write_json(FILE *out, const struct hj_value *v, bool pretty)
{
	if (!v)
		return -EINVAL;
	write_value(out, v, pretty, 0);
	putc('\n', out);
	if (fflush(out) == EOF || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}
