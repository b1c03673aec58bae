/* Unit tests for the HuJSON reader: values as written back in JSON, the
 * line:col of values and keys, and the exact text of each kind of error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "hj.h"
#include "t.h"

static char *render_diags(const struct diag_list *l)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	diag_print(f, l);
	fclose(f);
	return buf;
}

static char *render_json(const struct hj_value *v, bool pretty)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	hj_write_json(f, v, pretty);
	fclose(f);
	return buf;
}

/* Parse TEXT (LEN bytes; -1: strlen) as "t.hujson". */
static struct hj_value *parse(const char *text, long len, struct diag_src **src, struct diag_list *l)
{
	*src = diag_src_from_mem("t.hujson", text, len < 0 ? strlen(text) : (size_t)len);
	return hj_parse(*src, l);
}

static void test_values(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "null", "null" },
		{ " true ", "true" },
		{ "false", "false" },
		{ "0", "0" },
		{ "-0.0e-0", "-0.0e-0" },
		{ "[1.5E+3, 12345678901234567890123, 1e400]", "[1.5E+3,12345678901234567890123,1e400]" },
		{ "\"\"", "\"\"" },
		{ "{}", "{}" },
		{ "[]", "[]" },
		{ "{\"b\": 1, \"a\": 2}", "{\"b\":1,\"a\":2}" },
		{ "[1, [2, [3, {}]]]", "[1,[2,[3,{}]]]" },
		/* escapes */
		{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\\"\\\\/\\b\\f\\n\\r\\t\"" },
		{ "\"\\u0041\\u00e9\\u20AC\"", "\"A\xc3\xa9\xe2\x82\xac\"" },
		{ "\"\\u0000x\\u001f\"", "\"\\u0000x\\u001f\"" },
		{ "\"\x7f\"", "\"\x7f\"" },
		/* surrogate pairs decode to one 4-byte UTF-8 sequence */
		{ "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"" },
		{ "\"\\uD834\\uDD1E\"", "\"\xf0\x9d\x84\x9e\"" },
		{ "\"\\udbff\\udfff\"", "\"\xf4\x8f\xbf\xbf\"" },
		/* raw UTF-8 kept as is, longest forms */
		{ "\"\xc2\x80\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"",
		  "\"\xc2\x80\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"" },
		/* comments */
		{ "// lead\n[1, /* mid */ 2] // tail", "[1,2]" },
		{ "/**/[/***/1/* * / */]/*\n*/", "[1]" },
		{ "{\"a\": /* c */ \"//not a comment\"}", "{\"a\":\"//not a comment\"}" },
		{ "[\"/* not a comment */\"]", "[\"/* not a comment */\"]" },
		{ "// \xc3\xa9 UTF-8 in a comment\n1", "1" },
		/* trailing commas */
		{ "[1, 2,]", "[1,2]" },
		{ "{\"a\": [1,], \"b\": {\"c\": 0,},}", "{\"a\":[1],\"b\":{\"c\":0}}" },
		{ "[1 , \n ]", "[1]" },
		/* a byte order mark at the very start is skipped */
		{ "\xef\xbb\xbf{\"a\": 1}", "{\"a\":1}" },
		/* CRLF line ends */
		{ "{\r\n\"a\":\r\n1\r\n}\r\n", "{\"a\":1}" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag_list l = { 0 };
		struct diag_src *src;
		struct hj_value *v = parse(cases[i].in, -1, &src, &l);
		char *got = v ? render_json(v, false) : render_diags(&l);
		size_t n = strlen(got);
		if (n && got[n - 1] == '\n')
			got[n - 1] = '\0';
		T_STREQ(got, cases[i].want, "hj: value case %zu parses and writes back as JSON", i);
		free(got);
		hj_free(v);
		diag_list_free(&l);
		diag_src_free(src);
	}
}

/* NUL bytes from \u0000 are in the string and in its length. */
static void test_nul_in_string(void)
{
	struct diag_list l = { 0 };
	struct diag_src *src;
	struct hj_value *v = parse("\"a\\u0000b\"", -1, &src, &l);
	T_CHECK(v && v->kind == HJ_STRING && v->u.str.len == 3 && memcmp(v->u.str.s, "a\0b", 4) == 0,
		"hj: \\u0000 decodes to a NUL counted in len");
	hj_free(v);
	diag_list_free(&l);
	diag_src_free(src);
}

static void test_pretty(void)
{
	struct diag_list l = { 0 };
	struct diag_src *src;
	struct hj_value *v = parse("{\"a\": [1, {}], \"b\": {\"c\": []}, \"d\": \"x\"}", -1, &src, &l);
	char *got = render_json(v, true);
	T_STREQ(got, "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": {\n    \"c\": []\n  },\n  \"d\": \"x\"\n}\n",
		"hj: pretty output indents by two spaces");
	free(got);
	T_CHECK(hj_write_json(stdout, NULL, false) == -EINVAL, "hj: writing no tree is -EINVAL");
	hj_free(v);
	diag_list_free(&l);
	diag_src_free(src);
}

/* Follow PATH ("key/0/key"; "" is the root).  A trailing "!" asks for the
 * last object member's key instead of its value. */
static const struct hj_value *walk(const struct hj_value *v, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *tok = strtok_r(buf, "/", &save); tok && v;
	     tok = strtok_r(NULL, "/", &save)) {
		size_t n = strlen(tok);
		bool want_key = n && tok[n - 1] == '!';
		if (want_key)
			tok[n - 1] = '\0';
		if (v->kind == HJ_ARRAY) {
			size_t i = strtoul(tok, NULL, 10);
			v = i < v->u.arr.n ? v->u.arr.items[i] : NULL;
		} else if (want_key) {
			const struct hj_value *found = NULL;
			for (size_t i = 0; i < v->u.obj.n; i++)
				if (strcmp(v->u.obj.members[i].key->u.str.s, tok) == 0)
					found = v->u.obj.members[i].key;
			v = found;
		} else
			v = hj_get(v, tok);
	}
	return v;
}

static void test_locations(void)
{
	static const char text[] =
		"// policy\n"                            /* 1 */
		"{\n"                                    /* 2 */
		"\t\"acls\": [\n"                        /* 3 */
		"\t\t{\"action\": \"accept\", \"src\": [\"*\"]},\n" /* 4 */
		"\t],\n"                                 /* 5 */
		"  /* a\n   b */ \"n\" : -1.5e3,\n"      /* 6, 7 */
		"  \"t\":true, \"f\": false ,\"z\":null,\r\n" /* 8 */
		"  \"e\\u00e9\": {}\n"                    /* 9 */
		"}\n";
	static const struct {
		const char *path;
		enum hj_kind kind;
		unsigned line, col;
	} cases[] = {
		{ "", HJ_OBJECT, 2, 1 },
		{ "acls!", HJ_STRING, 3, 2 },
		{ "acls", HJ_ARRAY, 3, 10 },
		{ "acls/0", HJ_OBJECT, 4, 3 },
		{ "acls/0/action!", HJ_STRING, 4, 4 },
		{ "acls/0/action", HJ_STRING, 4, 14 },
		{ "acls/0/src!", HJ_STRING, 4, 24 },
		{ "acls/0/src", HJ_ARRAY, 4, 31 },
		{ "acls/0/src/0", HJ_STRING, 4, 32 },
		{ "n!", HJ_STRING, 7, 9 },
		{ "n", HJ_NUMBER, 7, 15 },
		{ "t", HJ_TRUE, 8, 7 },
		{ "f", HJ_FALSE, 8, 18 },
		{ "z", HJ_NULL, 8, 29 },
		{ "e\xc3\xa9!", HJ_STRING, 9, 3 },
		{ "e\xc3\xa9", HJ_OBJECT, 9, 14 },
	};
	struct diag_list l = { 0 };
	struct diag_src *src;
	struct hj_value *root = parse(text, -1, &src, &l);
	T_CHECK(root != NULL, "hj: location document parses");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hj_value *v = walk(root, cases[i].path);
		T_CHECK(v && v->kind == cases[i].kind && v->loc.src == src && v->loc.line == cases[i].line &&
				v->loc.col == cases[i].col,
			"hj: '%s' is a %s at %u:%u (got %s at %u:%u)", cases[i].path, hj_kind_name(cases[i].kind),
			cases[i].line, cases[i].col, v ? hj_kind_name(v->kind) : "nothing", v ? v->loc.line : 0,
			v ? v->loc.col : 0);
	}
	hj_free(root);
	diag_list_free(&l);
	diag_src_free(src);

	/* After a byte order mark columns still count bytes. */
	root = parse("\xef\xbb\xbf[1]", -1, &src, &l);
	T_CHECK(root && root->loc.line == 1 && root->loc.col == 4 && root->u.arr.items[0]->loc.col == 5,
		"hj: after a BOM the first value is at 1:4");
	hj_free(root);
	diag_list_free(&l);
	diag_src_free(src);
}

static void test_get(void)
{
	struct diag_list l = { 0 };
	struct diag_src *src;
	struct hj_value *v = parse("{\"a\": 1, \"ab\": [true]}", -1, &src, &l);
	const struct hj_value *ab = hj_get(v, "ab");
	T_CHECK(ab && ab->kind == HJ_ARRAY && ab->u.arr.n == 1, "hj_get finds a member by name");
	T_CHECK(!hj_get(v, "b") && !hj_get(ab, "a") && !hj_get(NULL, "a"),
		"hj_get: NULL for a missing key and for a non-object");
	T_STREQ(hj_kind_name(HJ_OBJECT), "object", "hj_kind_name names kinds");
	hj_free(v);
	diag_list_free(&l);
	diag_src_free(src);
}

#define E(loc, msg, line, caret) "t.hujson:" loc ": error: " msg "\n" line "\n" caret "^\n"

static const struct {
	const char *in;
	long len;  /* -1: strlen */
	const char *want;
} error_cases[] = {
	/* structure */
	{ "{\"a\": 1 \"b\": 2}", -1,
	  E("1:9", "expected ',' or '}' after object member", "{\"a\": 1 \"b\": 2}", "        ") },
	{ "[1 2]", -1, E("1:4", "expected ',' or ']' after array element", "[1 2]", "   ") },
	{ "{\"a\" 1}", -1, E("1:6", "expected ':' after object key", "{\"a\" 1}", "     ") },
	{ "{1: 2}", -1, E("1:2", "expected string key or '}'", "{1: 2}", " ") },
	{ "[1, :]", -1, E("1:5", "expected value or ']'", "[1, :]", "    ") },
	{ "{\"a\": }", -1, E("1:7", "expected value after ':'", "{\"a\": }", "      ") },
	{ "]", -1, E("1:1", "expected a value", "]", "") },
	{ "{\"a\": [1,\n  2", -1,
	  E("2:4", "unexpected end of input: array opened at 1:7 is not closed", "  2", "   ") },
	{ "{\"a\": 1,", -1, E("1:9", "unexpected end of input: object opened at 1:1 is not closed", "{\"a\": 1,",
			      "        ") },
	{ "  // nothing\n", -1, E("1:1", "unexpected end of input: expected a value", "  // nothing", "") },
	{ "{} []", -1, E("1:4", "unexpected '[' after the top-level value", "{} []", "   ") },
	{ "{\n  \"acls\": [],\n  \"acls\": {}\n}", -1,
	  E("3:3", "duplicate key \"acls\" (first at 2:3)", "  \"acls\": {}", "  ") },
	/* strings */
	{ "[\"abc]", -1, E("1:2", "unterminated string", "[\"abc]", " ")
	  E("1:7", "unexpected end of input: array opened at 1:1 is not closed", "[\"abc]", "      ") },
	{ "['x']", -1, E("1:2", "strings must be in double quotes, not single quotes", "['x']", " ") },
	{ "\"a\\qb\"", -1, E("1:3", "invalid escape '\\q' in string", "\"a\\qb\"", "  ") },
	{ "\"\\u12x4\"", -1, E("1:2", "invalid \\u escape: expected four hex digits", "\"\\u12x4\"", " ") },
	{ "\"x\\ud800y\"", -1,
	  E("1:3", "lone high surrogate \\uD800 in string (no low surrogate follows)", "\"x\\ud800y\"", "  ") },
	{ "\"\\ud800\\u0041\"", -1,
	  E("1:2", "lone high surrogate \\uD800 in string (no low surrogate follows)", "\"\\ud800\\u0041\"", " ") },
	{ "\"\\uDFFF\"", -1, E("1:2", "lone low surrogate \\uDFFF in string", "\"\\uDFFF\"", " ") },
	{ "\"a\tb\"", -1, E("1:3", "control character 0x09 in string must be escaped", "\"a\tb\"", "  ") },
	{ "\"\xc0\xaf\"", -1, E("1:2", "invalid UTF-8 in string: overlong encoding", "\"\xc0\xaf\"", " ") },
	{ "\"\xe0\x80\xaf\"", -1, E("1:2", "invalid UTF-8 in string: overlong encoding", "\"\xe0\x80\xaf\"", " ") },
	{ "\"\xed\xa0\x80\"", -1,
	  E("1:2", "invalid UTF-8 in string: UTF-16 surrogate encoded in UTF-8", "\"\xed\xa0\x80\"", " ") },
	{ "\"\xf4\x90\x80\x80\"", -1,
	  E("1:2", "invalid UTF-8 in string: code point above U+10FFFF", "\"\xf4\x90\x80\x80\"", " ") },
	{ "\"ab\xe2\x82\"", -1, E("1:4", "invalid UTF-8 in string: truncated sequence", "\"ab\xe2\x82\"", "   ") },
	{ "\"\x80\"", -1, E("1:2", "invalid UTF-8 in string: unexpected continuation byte", "\"\x80\"", " ") },
	{ "\"\xff\"", -1, E("1:2", "invalid UTF-8 in string: invalid lead byte", "\"\xff\"", " ") },
	/* numbers */
	{ "[012]", -1, E("1:2", "invalid number '012': leading zeros are not allowed", "[012]", " ") },
	{ "[-01]", -1, E("1:3", "invalid number '-01': leading zeros are not allowed", "[-01]", "  ") },
	{ "[1.]", -1, E("1:4", "invalid number '1.': expected a digit after '.'", "[1.]", "   ") },
	{ "[.5]", -1, E("1:2", "invalid number '.5': expected a digit before '.'", "[.5]", " ") },
	{ "[+1]", -1, E("1:2", "invalid number '+1': a number cannot start with '+'", "[+1]", " ") },
	{ "[-]", -1, E("1:3", "invalid number '-': expected a digit after '-'", "[-]", "  ") },
	{ "[1e+]", -1, E("1:5", "invalid number '1e+': expected a digit in the exponent", "[1e+]", "    ") },
	{ "[0x1F]", -1, E("1:3", "invalid number '0x1F': unexpected character after the number", "[0x1F]", "  ") },
	/* words and stray bytes */
	{ "{acls: 1}", -1, E("1:2", "invalid literal 'acls' (strings must be in double quotes)", "{acls: 1}", " ") },
	{ "[True]", -1, E("1:2", "invalid literal 'True' (did you mean 'true'?)", "[True]", " ") },
	{ "[NaN]", -1, E("1:2", "invalid literal 'NaN' (JSON has no NaN or Infinity)", "[NaN]", " ") },
	{ "[1, @2]", -1, E("1:5", "unexpected character '@'", "[1, @2]", "    ") },
	{ "[1,\0 2]", 7, E("1:4", "unexpected byte 0x00", "[1,? 2]", "   ") },
	{ "[\xe2\x80\x9cx\xe2\x80\x9d]", -1,
	  E("1:2", "strings must be in straight double quotes, not curly quotes", "[\xe2\x80\x9cx\xe2\x80\x9d]", " ") },
	{ "[1 \xe2\x80\x9d]", -1,
	  E("1:4", "unexpected character U+201D '\xe2\x80\x9d' outside a string", "[1 \xe2\x80\x9d]", "   ") },
	{ "[1, \xef\xbb\xbf" "2]", -1,
	  E("1:5", "unexpected character U+FEFF '\xef\xbb\xbf' outside a string", "[1, \xef\xbb\xbf" "2]", "    ") },
	{ "[\xf0\x9f\x98\x80]", -1,
	  E("1:2", "unexpected character U+1F600 '\xf0\x9f\x98\x80' outside a string", "[\xf0\x9f\x98\x80]", " ") },
	{ "[\xc3]", -1, E("1:2", "invalid UTF-8: truncated sequence", "[\xc3]", " ") },
	{ "[1] / 1", -1, E("1:5", "stray '/' (comments are // or /* */)", "[1] / 1", "    ")
	  E("1:7", "unexpected number after the top-level value", "[1] / 1", "      ") },
	/* comments */
	{ "[1] /* open\n", -1, E("1:5", "unterminated comment", "[1] /* open", "    ") },
	{ "[1, /* open\n", -1, E("1:5", "unterminated comment", "[1, /* open", "    ") },
	{ "// \xc3\x28\n1", -1, E("1:4", "invalid UTF-8 in comment: truncated sequence", "// \xc3(", "   ") },
	{ "/*\n \xed\xbf\xbf */ 1", -1,
	  E("2:2", "invalid UTF-8 in comment: UTF-16 surrogate encoded in UTF-8", " \xed\xbf\xbf */ 1", " ") },
	/* recovery keeps the members before a syntax error: duplicates still found */
	{ "{\"a\": 1 \"b\": 2, \"a\": 3}", -1,
	  E("1:9", "expected ',' or '}' after object member", "{\"a\": 1 \"b\": 2, \"a\": 3}", "        ")
	  E("1:17", "duplicate key \"a\" (first at 1:2)", "{\"a\": 1 \"b\": 2, \"a\": 3}", "                ") },
	{ "{\n  # hosts: see the wiki\n  \"a\": 1\n}", -1,
	  E("2:3", "'#' does not start a comment (comments are // or /* */)", "  # hosts: see the wiki", "  ") },
	/* an object cut short by the end of input still has its keys checked */
	{ "{\"a\": 1, \"a\": 2, \"b\": [", -1,
	  E("1:10", "duplicate key \"a\" (first at 1:2)", "{\"a\": 1, \"a\": 2, \"b\": [", "         ")
	  E("1:24", "unexpected end of input: array opened at 1:23 is not closed", "{\"a\": 1, \"a\": 2, \"b\": [",
	    "                       ") },
	/* several errors in one run, in source order */
	{ "{\n  \"a\": 01,\n  \"b\": [1 2],\n  \"a\": tru,\n}", -1,
	  E("2:8", "invalid number '01': leading zeros are not allowed", "  \"a\": 01,", "       ")
	  E("3:11", "expected ',' or ']' after array element", "  \"b\": [1 2],", "          ")
	  E("4:3", "duplicate key \"a\" (first at 2:3)", "  \"a\": tru,", "  ")
	  E("4:8", "invalid literal 'tru' (strings must be in double quotes)", "  \"a\": tru,", "       ") },
};

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		struct diag_list l = { 0 };
		struct diag_src *src;
		struct hj_value *v = parse(error_cases[i].in, error_cases[i].len, &src, &l);
		char *got = render_diags(&l);
		T_CHECK(v == NULL, "hj: error case %zu yields no tree", i);
		T_STREQ(got, error_cases[i].want, "hj: error case %zu renders exactly", i);
		free(got);
		hj_free(v);
		diag_list_free(&l);
		diag_src_free(src);
	}
}

/* Nesting: the limit itself parses, one more is one clean error.  The
 * second shape puts the most on the parser's stack per level. */
static void test_depth(void)
{
	static const struct {
		const char *name, *open, *inner, *close;
	} shapes[] = {
		{ "arrays", "[", "", "]" },
		{ "objects after a member", "{\"x\": 1, \"a\": ", "1", "}" },
	};
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (int extra = 0; extra <= 1; extra++) {
			size_t d = HJ_MAX_DEPTH + (size_t)extra;
			char *text = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&text, &len);
			for (size_t i = 0; i < d; i++)
				fputs(shapes[s].open, f);
			fputs(shapes[s].inner, f);
			for (size_t i = 0; i < d; i++)
				fputs(shapes[s].close, f);
			fclose(f);
			struct diag_list l = { 0 };
			struct diag_src *src;
			struct hj_value *v = parse(text, (long)len, &src, &l);
			if (!extra)
				T_CHECK(v && l.n == 0, "hj: %zu nested %s parse", d, shapes[s].name);
			else {
				char want[80];
				snprintf(want, sizeof(want), "t.hujson:1:%zu: error: nesting deeper than %d levels\n",
					 strlen(shapes[s].open) * (d - 1) + 1, HJ_MAX_DEPTH);
				char *got = render_diags(&l);
				T_CHECK(!v && l.n == 1 && strncmp(got, want, strlen(want)) == 0,
					"hj: %zu nested %s: one error at the first bracket too many", d, shapes[s].name);
				free(got);
			}
			hj_free(v);
			diag_list_free(&l);
			diag_src_free(src);
			free(text);
		}
}

/* The error cap: parsing stops, the list says so. */
static void test_cap(void)
{
	char text[512] = "[";
	for (int i = 0; i < 30; i++)
		strcat(text, "01, ");
	strcat(text, "]");
	struct diag_list l = { .max_errors = 5 };
	struct diag_src *src;
	struct hj_value *v = parse(text, -1, &src, &l);
	char *got = render_diags(&l);
	T_CHECK(!v && l.nerrors == 5 && l.truncated && strstr(got, "error: too many errors (5), stopping\n"),
		"hj: 30 errors with a cap of 5: five reported, then 'too many errors'");
	free(got);
	diag_list_free(&l);
	diag_src_free(src);
}

/* Large objects check duplicates by sorting: same answers as pairwise. */
static void test_big_object_dups(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	fputs("{", f);
	for (int i = 0; i < 100; i++)
		fprintf(f, "\"k%d\": %d,", i % 97, i);
	fputs("}", f);
	fclose(f);
	struct diag_list l = { 0 };
	struct diag_src *src;
	struct hj_value *v = parse(text, (long)len, &src, &l);
	T_CHECK(!v && l.nerrors == 3 && strcmp(l.items[0].msg, "duplicate key \"k0\" (first at 1:2)") == 0 &&
			strstr(l.items[2].msg, "\"k2\"") && l.items[0].loc.col < l.items[1].loc.col,
		"hj: 100-member object with 3 repeated keys: 3 errors in source order");
	hj_free(v);
	diag_list_free(&l);
	diag_src_free(src);
	free(text);
}

int main(void)
{
	test_values();
	test_nul_in_string();
	test_pretty();
	test_locations();
	test_get();
	test_errors();
	test_depth();
	test_cap();
	test_big_object_dups();
	T_DONE();
}
