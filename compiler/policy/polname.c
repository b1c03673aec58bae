/* polname: no control characters in names. */
#include "polname.h"

#include <stdio.h>

size_t polname_bad_at(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			return i;
		/* U+0080-U+009F: C2 80 .. C2 9F in UTF-8. */
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
			return i;
	}
	return len;
}

/* S[0..LEN) for a message: control characters as \uXXXX, at most ~60
 * bytes of it. */
static void printable(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 8 < cap; i++) {
		size_t bad = polname_bad_at(s + i, len - i);
		if (bad == 0) {
			unsigned c = (unsigned char)s[i];
			if (c == 0xc2)
				c = (unsigned char)s[++i];
			o += (size_t)snprintf(out + o, cap - o, "\\u%04X", c);
		} else
			out[o++] = s[i];
	}
	out[o] = 0;
}

bool polname_check(const struct hj_value *at, struct diag_list *diags)
{
	if (at->kind != HJ_STRING)
		return true;
	size_t bad = polname_bad_at(at->u.str.s, at->u.str.len);
	if (bad == at->u.str.len)
		return true;
	char text[72];
	unsigned c = (unsigned char)at->u.str.s[bad];
	if (c == 0xc2)
		c = (unsigned char)at->u.str.s[bad + 1];
	printable(at->u.str.s, at->u.str.len, text, sizeof(text));
	diag_error(diags, &at->loc, "control character U+%04X in \"%s\": names and addresses may not hold "
		   "control characters", c, text);
	return false;
}

size_t polname_check_keys(const struct hj_value *v, struct diag_list *diags)
{
	size_t n = 0;
	if (v->kind == HJ_ARRAY)
		for (size_t i = 0; i < v->u.arr.n; i++)
			n += polname_check_keys(v->u.arr.items[i], diags);
	if (v->kind == HJ_OBJECT)
		for (size_t i = 0; i < v->u.obj.n; i++) {
			n += !polname_check(v->u.obj.members[i].key, diags);
			n += polname_check_keys(v->u.obj.members[i].value, diags);
		}
	return n;
}
