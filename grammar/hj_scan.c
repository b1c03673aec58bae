/* hj_scan: the lexical checks flex's patterns leave to C: decoding string
 * escapes and surrogate pairs, validating UTF-8, classifying bad numbers
 * and words.  Errors point at the offending byte; each token reports at
 * most one error and still yields a value, so parsing goes on. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hj_impl.h"

void hj_error_at(struct hj_state *st, const struct diag_loc *loc, size_t off, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct diag_loc at = *loc;
	at.col += (unsigned)off;
	diag_error(st->diags, &at, "%s", msg);
}

/* TEXT for a message: printable ASCII kept, the rest as \xNN, cut at 32. */
static const char *excerpt(char *buf, size_t size, const char *text, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 8 < size; i++) {
		unsigned char c = (unsigned char)text[i];
		if (i == 32) {
			o += (size_t)snprintf(buf + o, size - o, "...");
			break;
		}
		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

size_t hj_utf8_len(const unsigned char *p, size_t n, const char **why)
{
	unsigned char c = p[0];
	size_t need;
	if (c < 0x80)
		return 1;
	if (c < 0xc0) {
		*why = "unexpected continuation byte";
		return 0;
	}
	if (c < 0xc2) {
		*why = "overlong encoding";
		return 0;
	}
	if (c > 0xf4) {
		*why = c < 0xf8 ? "code point above U+10FFFF" : "invalid lead byte";
		return 0;
	}
	need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	for (size_t i = 1; i < need; i++)
		if (i >= n || (p[i] & 0xc0) != 0x80) {
			*why = "truncated sequence";
			return 0;
		}
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xf0 && p[1] < 0x90)) {
		*why = "overlong encoding";
		return 0;
	}
	if (c == 0xed && p[1] >= 0xa0) {
		*why = "UTF-16 surrogate encoded in UTF-8";
		return 0;
	}
	if (c == 0xf4 && p[1] >= 0x90) {
		*why = "code point above U+10FFFF";
		return 0;
	}
	return need;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Four hex digits at P (N bytes available), or -1. */
static long hex4(const unsigned char *p, size_t n)
{
	long v = 0;
	if (n < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t put_utf8(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A backslash escape at P (P[0] is '\\', N bytes to the closing quote):
 * the decoded bytes at O, their count in *OUT, the escape's length; or 0
 * with the error reported at OFF. */
static size_t unescape(struct hj_state *st, const struct diag_loc *loc, size_t off,
		       const unsigned char *p, size_t n, char *o, size_t *out)
{
	static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	char buf[16];
	for (const char *s = simple; *s; s += 2)
		if (p[1] == (unsigned char)s[0]) {
			*o = s[1];
			*out = 1;
			return 2;
		}
	if (p[1] != 'u') {
		hj_error_at(st, loc, off, "invalid escape '\\%s' in string",
			    excerpt(buf, sizeof(buf), (const char *)p + 1, 1));
		return 0;
	}
	long cp = hex4(p + 2, n - 2);
	if (cp < 0) {
		hj_error_at(st, loc, off, "invalid \\u escape: expected four hex digits");
		return 0;
	}
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		hj_error_at(st, loc, off, "lone low surrogate \\u%04lX in string", cp);
		return 0;
	}
	if (cp < 0xd800 || cp > 0xdbff) {
		*out = put_utf8(o, (unsigned long)cp);
		return 6;
	}
	long lo = n >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8, n - 8) : -1;
	if (lo < 0xdc00 || lo > 0xdfff) {
		hj_error_at(st, loc, off, "lone high surrogate \\u%04lX in string (no low surrogate follows)", cp);
		return 0;
	}
	*out = put_utf8(o, 0x10000 + (((unsigned long)cp - 0xd800) << 10) + ((unsigned long)lo - 0xdc00));
	return 12;
}

struct hj_value *hj_scan_string(struct hj_state *st, const char *text, size_t len,
				const struct diag_loc *loc)
{
	/* Decoding never lengthens: an escape of 6 (12) bytes yields at most 3 (4). */
	const unsigned char *p = (const unsigned char *)text + 1;
	size_t n = len - 2;
	struct hj_value *v = hj_new_text(st, HJ_STRING, loc, NULL, n);
	if (!v)
		return NULL;
	char *o = v->u.str.s;
	size_t i = 0, olen = 0;
	const char *why = NULL;
	while (i < n) {
		size_t run = i;
		while (i < n && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '\\')
			i++;
		memcpy(o + olen, p + run, i - run);
		olen += i - run;
		if (i == n)
			break;
		size_t used, got = 0;
		if (p[i] == '\\') {
			used = unescape(st, loc, i + 1, p + i, n - i, o + olen, &got);
			if (!used)
				goto bad;
		} else if (p[i] < 0x20) {
			hj_error_at(st, loc, i + 1, "control character 0x%02x in string must be escaped", p[i]);
			goto bad;
		} else {
			used = got = hj_utf8_len(p + i, n - i, &why);
			if (!used) {
				hj_error_at(st, loc, i + 1, "invalid UTF-8 in string: %s", why);
				goto bad;
			}
			memcpy(o + olen, p + i, got);
		}
		i += used;
		olen += got;
	}
	o[olen] = '\0';
	v->u.str.len = olen;
	return v;

bad:
	/* Keep what decoded; the error already fails the parse. */
	o[olen] = '\0';
	v->u.str.len = olen;
	return v;
}

/* Why TEXT, which the loose number pattern matched, is not a JSON number. */
static const char *number_problem(const char *t, size_t len, size_t *at)
{
	size_t i = 0;
#define DIGIT(k) ((k) < len && t[k] >= '0' && t[k] <= '9')
	if (t[0] == '+')
		return *at = 0, "a number cannot start with '+'";
	if (t[0] == '.')
		return *at = 0, "expected a digit before '.'";
	if (t[0] == '-')
		i++;
	if (!DIGIT(i))
		return *at = i, "expected a digit after '-'";
	if (t[i] == '0' && DIGIT(i + 1))
		return *at = i, "leading zeros are not allowed";
	while (DIGIT(i))
		i++;
	if (i < len && t[i] == '.') {
		i++;
		if (!DIGIT(i))
			return *at = i, "expected a digit after '.'";
		while (DIGIT(i))
			i++;
	}
	if (i < len && (t[i] == 'e' || t[i] == 'E')) {
		i++;
		if (i < len && (t[i] == '+' || t[i] == '-'))
			i++;
		if (!DIGIT(i))
			return *at = i, "expected a digit in the exponent";
		while (DIGIT(i))
			i++;
	}
#undef DIGIT
	*at = i;
	return "unexpected character after the number";
}

struct hj_value *hj_scan_number(struct hj_state *st, const char *text, size_t len,
				const struct diag_loc *loc, bool valid)
{
	if (!valid) {
		char buf[64];
		size_t at = 0;
		const char *why = number_problem(text, len, &at);
		hj_error_at(st, loc, at, "invalid number '%s': %s", excerpt(buf, sizeof(buf), text, len), why);
	}
	return hj_new_text(st, HJ_NUMBER, loc, text, len);
}

struct hj_value *hj_scan_word(struct hj_state *st, const char *text, size_t len,
			      const struct diag_loc *loc)
{
	static const char *const literals[] = { "true", "false", "null" };
	char buf[64];
	excerpt(buf, sizeof(buf), text, len);
	for (size_t i = 0; i < 3; i++)
		if (strlen(literals[i]) == len && strncasecmp(text, literals[i], len) == 0) {
			hj_error_at(st, loc, 0, "invalid literal '%s' (did you mean '%s'?)", buf, literals[i]);
			goto out;
		}
	if ((len == 3 && memcmp(text, "NaN", 3) == 0) || (len == 8 && memcmp(text, "Infinity", 8) == 0))
		hj_error_at(st, loc, 0, "invalid literal '%s' (JSON has no NaN or Infinity)", buf);
	else
		hj_error_at(st, loc, 0, "invalid literal '%s' (strings must be in double quotes)", buf);
out:
	/* As a string, so an unquoted key costs one error, not two. */
	return hj_new_text(st, HJ_STRING, loc, text, len);
}

void hj_scan_junk(struct hj_state *st, const char *text, size_t len, const struct diag_loc *loc)
{
	const unsigned char *p = (const unsigned char *)text;
	const char *why = NULL;
	size_t n = p[0] >= 0x80 ? hj_utf8_len(p, len, &why) : 1;
	if (p[0] > 0x20 && p[0] < 0x7f)
		hj_error_at(st, loc, 0, "unexpected character '%c'", p[0]);
	else if (p[0] < 0x80)
		hj_error_at(st, loc, 0, "unexpected byte 0x%02x", p[0]);
	else if (n == 0)
		hj_error_at(st, loc, 0, "invalid UTF-8: %s", why);
	else
		hj_error_at(st, loc, 0, "unexpected character '%.*s' outside a string", (int)n, text);
}

void hj_scan_comment(struct hj_state *st, const char *text, size_t len, const struct diag_loc *loc)
{
	const unsigned char *p = (const unsigned char *)text;
	struct diag_loc at = *loc;
	size_t line_start = 0;
	const char *why = NULL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n') {
			at.line++;
			at.col = 1;
			line_start = i + 1;
		} else if (p[i] >= 0x80) {
			size_t k = hj_utf8_len(p + i, len - i, &why);
			if (!k) {
				hj_error_at(st, &at, i - line_start, "invalid UTF-8 in comment: %s", why);
				return;
			}
			i += k - 1;
		}
	}
}
