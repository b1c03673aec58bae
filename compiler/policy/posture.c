/* posture: device posture conditions, parsed and judged. */
#include "posture.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- parsing: a small scanner over the condition's text ---- */

struct scan {
	const char *s;               /* next character */
	const struct hj_value *at;
	struct diag_list *diags;
	bool failed;
};

static void scan_error(struct scan *sc, const char *what)
{
	if (!sc->failed)
		diag_error(sc->diags, &sc->at->loc, "bad posture condition \"%s\": %s (write ATTRIBUTE OP VALUE, "
			   "e.g. \"node:os == 'linux'\")", sc->at->u.str.s, what);
	sc->failed = true;
}

static void skip_space(struct scan *sc)
{
	while (*sc->s == ' ' || *sc->s == '\t')
		sc->s++;
}

/* Is the next word KW (any case), followed by a non-letter? */
static bool accept_word(struct scan *sc, const char *kw)
{
	size_t n = strlen(kw);
	skip_space(sc);
	if (strncasecmp(sc->s, kw, n) != 0 || isalnum((unsigned char)sc->s[n]))
		return false;
	sc->s += n;
	return true;
}

static bool accept_sym(struct scan *sc, const char *sym)
{
	skip_space(sc);
	if (strncmp(sc->s, sym, strlen(sym)) != 0)
		return false;
	sc->s += strlen(sym);
	return true;
}

static const struct {
	const char *text;
	enum posture_op op;
} posture_syms[] = {
	{ "==", PO_EQ }, { "!=", PO_NE }, { "<=", PO_LE }, { ">=", PO_GE }, { "<", PO_LT }, { ">", PO_GT },
};

static bool scan_op(struct scan *sc, enum posture_op *op)
{
	for (size_t i = 0; i < sizeof(posture_syms) / sizeof(posture_syms[0]); i++)
		if (accept_sym(sc, posture_syms[i].text)) {
			*op = posture_syms[i].op;
			return true;
		}
	if (accept_word(sc, "IN"))
		*op = PO_IN;
	else if (accept_word(sc, "IS") && accept_word(sc, "SET"))
		*op = PO_IS_SET;
	else if (accept_word(sc, "NOT"))
		*op = accept_word(sc, "IN") ? PO_NOT_IN : accept_word(sc, "SET") ? PO_NOT_SET : (enum posture_op)-1;
	else
		return false;
	return (int)*op >= 0;
}

static bool scan_string(struct scan *sc, struct inv_attr *v)
{
	char quote = *sc->s;
	const char *end = strchr(sc->s + 1, quote);
	if (!end) {
		scan_error(sc, "unterminated string");
		return false;
	}
	v->kind = INV_ATTR_STR;
	v->str = strndup(sc->s + 1, (size_t)(end - sc->s - 1));
	sc->s = end + 1;
	return v->str != NULL;
}

static bool scan_number(struct scan *sc, struct inv_attr *v)
{
	char *end;
	v->kind = INV_ATTR_NUM;
	v->num = strtod(sc->s, &end);
	if (end == sc->s || isalpha((unsigned char)*end) || *end == '.') {
		scan_error(sc, "bad number");
		return false;
	}
	sc->s = end;
	return true;
}

/* One value: 'text', "text", a number, true or false. */
static bool scan_value(struct scan *sc, struct inv_attr *v)
{
	memset(v, 0, sizeof(*v));
	skip_space(sc);
	if (*sc->s == '\'' || *sc->s == '"')
		return scan_string(sc, v);
	if (*sc->s == '-' || *sc->s == '+' || isdigit((unsigned char)*sc->s))
		return scan_number(sc, v);
	v->kind = INV_ATTR_BOOL;
	if (accept_word(sc, "true"))
		v->b = true;
	else if (!accept_word(sc, "false")) {
		scan_error(sc, "a value is a quoted string, a number, true or false");
		return false;
	}
	return true;
}

static bool push_value(struct scan *sc, struct posture_cond *c)
{
	struct inv_attr *grown = realloc(c->vals, (c->nvals + 1) * sizeof(*grown));
	if (!grown)
		return false;
	c->vals = grown;
	if (!scan_value(sc, &c->vals[c->nvals])) {
		free(c->vals[c->nvals].str);
		return false;
	}
	c->nvals++;
	return true;
}

/* "[" VALUE {"," VALUE} "]" */
static bool scan_list(struct scan *sc, struct posture_cond *c)
{
	if (!accept_sym(sc, "[")) {
		scan_error(sc, "IN takes a list ['a', 'b']");
		return false;
	}
	do {
		if (!push_value(sc, c))
			return false;
	} while (accept_sym(sc, ","));
	if (!accept_sym(sc, "]")) {
		scan_error(sc, "a list ends with ']'");
		return false;
	}
	return true;
}

static bool scan_attr(struct scan *sc, struct posture_cond *c)
{
	skip_space(sc);
	size_t n = strspn(sc->s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:");
	c->attr = strndup(sc->s, n);
	if (!c->attr)
		return false;
	sc->s += n;
	if (!inv_attr_key_valid(c->attr)) {
		scan_error(sc, "the attribute is not NAMESPACE:NAME (node:os, custom:NAME)");
		return false;
	}
	return true;
}

static bool cond_operand(struct scan *sc, struct posture_cond *c)
{
	switch (c->op) {
	case PO_IS_SET:
	case PO_NOT_SET:
		return true;
	case PO_IN:
	case PO_NOT_IN:
		return scan_list(sc, c);
	default:
		if (!push_value(sc, c))
			return false;
		if (c->op != PO_EQ && c->op != PO_NE && c->vals[0].kind == INV_ATTR_BOOL) {
			scan_error(sc, "a boolean has no order: compare it with == or !=");
			return false;
		}
		return true;
	}
}

bool posture_cond_parse(const struct hj_value *at, struct posture_cond *out, struct diag_list *diags)
{
	struct scan sc = { .s = at->u.str.s, .at = at, .diags = diags };
	memset(out, 0, sizeof(*out));
	out->at = at;
	if (!scan_attr(&sc, out))
		goto fail;
	if (!scan_op(&sc, &out->op)) {
		scan_error(&sc, "no operator (==, !=, <, <=, >, >=, IN, NOT IN, IS SET, NOT SET)");
		goto fail;
	}
	if (!cond_operand(&sc, out))
		goto fail;
	skip_space(&sc);
	if (*sc.s) {
		scan_error(&sc, "unexpected text after the condition");
		goto fail;
	}
	return true;
fail:
	if (!sc.failed)
		diag_error(diags, &at->loc, "posture condition: %s", strerror(ENOMEM));
	posture_cond_clear(out);
	return false;
}

void posture_cond_clear(struct posture_cond *c)
{
	free(c->attr);
	for (size_t i = 0; i < c->nvals; i++)
		free(c->vals[i].str);
	free(c->vals);
	memset(c, 0, sizeof(*c));
}

/* ---- judging ---- */

/* The number the digits at *S spell (0 when none), moving *S past them. */
static unsigned long version_part(const char **s)
{
	unsigned long v = 0;
	for (; isdigit((unsigned char)**s); (*s)++)
		v = v < 100000000ul ? v * 10 + (unsigned long)(**s - '0') : v;
	return v;
}

int posture_version_cmp(const char *a, const char *b)
{
	while (isdigit((unsigned char)*a) || isdigit((unsigned char)*b)) {
		unsigned long x = version_part(&a), y = version_part(&b);
		if (x != y)
			return x < y ? -1 : 1;
		/* "1.60" is "1.60.0": a missing part counts 0; a part ends at
		 * anything but '.', as in "1.60.1-t0abc". */
		a += *a == '.' && isdigit((unsigned char)a[1]);
		b += *b == '.' && isdigit((unsigned char)b[1]);
		if (!isdigit((unsigned char)*a) && !isdigit((unsigned char)*b))
			break;
	}
	return 0;
}

/* A compared with V: <0, 0, >0; 2 when they do not compare (types). */
static int value_cmp(const struct inv_attr *a, const struct inv_attr *v)
{
	if (a->kind != v->kind)
		return 2;
	switch (a->kind) {
	case INV_ATTR_NUM:
		return a->num < v->num ? -1 : a->num > v->num;
	case INV_ATTR_BOOL:
		return a->b != v->b;
	default:
		if (isdigit((unsigned char)a->str[0]) && isdigit((unsigned char)v->str[0]))
			return posture_version_cmp(a->str, v->str);
		int c = strcmp(a->str, v->str);
		return c < 0 ? -1 : c > 0;
	}
}

static bool in_list(const struct posture_cond *c, const struct inv_attr *a)
{
	for (size_t i = 0; i < c->nvals; i++)
		if (value_cmp(a, &c->vals[i]) == 0)
			return true;
	return false;
}

bool posture_cond_holds(const struct posture_cond *c, const struct inv_attr *a)
{
	if (c->op == PO_NOT_SET || c->op == PO_IS_SET)
		return (a != NULL) == (c->op == PO_IS_SET);
	if (!a)
		return false;
	if (c->op == PO_IN || c->op == PO_NOT_IN) {
		for (size_t i = 0; i < c->nvals; i++)
			if (a->kind != c->vals[i].kind)
				return false;
		return in_list(c, a) == (c->op == PO_IN);
	}
	int r = value_cmp(a, &c->vals[0]);
	if (r == 2)
		return false;
	switch (c->op) {
	case PO_EQ: return r == 0;
	case PO_NE: return r != 0;
	case PO_LT: return r < 0;
	case PO_LE: return r <= 0;
	case PO_GT: return r > 0;
	default: return r >= 0;
	}
}

bool posture_holds(const struct posture *p, const struct inv_attr *attrs, size_t nattrs)
{
	for (size_t i = 0; i < p->nconds; i++) {
		const struct inv_attr *a = NULL;
		for (size_t j = 0; !a && j < nattrs; j++)
			if (strcmp(attrs[j].key, p->conds[i].attr) == 0)
				a = &attrs[j];
		if (!posture_cond_holds(&p->conds[i], a))
			return false;
	}
	return true;
}
