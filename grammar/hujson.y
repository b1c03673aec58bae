/* hujson.y: the HuJSON grammar.  A pure parser: all state is in the
 * struct hj_state passed as the parse parameter.  Actions only call the
 * constructors in hj.c; error recovery resynchronises at ',' '}' and ']',
 * and the scanner ends the input once the error cap is reached. */
%code top {
#include <stdbool.h>
}
%code requires {
#include "diag.h"
struct hj_value;
struct hj_state;
}
%code provides {
int hjp_lex(HJP_STYPE *lval, HJP_LTYPE *lloc, struct hj_state *st);
}
%code {
#include "hj_impl.h"

/* A location is where a construct starts: @$ is @1. */
#define YYLLOC_DEFAULT(Cur, Rhs, N) ((Cur) = (N) ? YYRHSLOC(Rhs, 1) : YYRHSLOC(Rhs, 0))
/* Brackets deeper than HJ_MAX_DEPTH never reach the parser, so its stack
 * (at most five entries a level) stays bounded. */
#define YYINITDEPTH 256
#define YYMAXDEPTH (6 * HJ_MAX_DEPTH + 64)

static void hjp_error(const HJP_LTYPE *loc, struct hj_state *st, const char *msg);
}

%define api.prefix {hjp_}
%define api.pure full
%define api.location.type {struct diag_loc}
%define parse.error custom
%define parse.lac full
%locations
%parse-param {struct hj_state *st}
%lex-param {struct hj_state *st}

%union {
	struct hj_value *val;
}

%token T_LBRACE "'{'" T_RBRACE "'}'" T_LBRACKET "'['" T_RBRACKET "']'"
%token T_COMMA "','" T_COLON "':'"
%token <val> T_STRING "string" T_NUMBER "number"
%token <val> T_TRUE "'true'" T_FALSE "'false'" T_NULL "'null'"
%type <val> value object members array elements
%destructor { hj_free($$); } <val>
/* An object cut short by the end of input still has its keys checked. */
%destructor { hj_free(hj_close(st, $$, &@$)); } members

%%

text
	: value                                  { hj_set_root(st, $1); }
	;

value
	: object
	| array
	| T_STRING
	| T_NUMBER
	| T_TRUE
	| T_FALSE
	| T_NULL
	| error                                  { $$ = NULL; }
	;

object
	: "'{'" "'}'"                            { $$ = hj_close(st, hj_object_new(st, &@$), &@$); }
	| "'{'" members "'}'"                    { $$ = hj_close(st, $2, &@$); }
	| "'{'" members "','" "'}'"              { $$ = hj_close(st, $2, &@$); }
	;

members
	: T_STRING "':'" value                   { $$ = hj_object_add(st, hj_object_new(st, &@$), $1, $3); }
	| members "','" T_STRING "':'" value     { $$ = hj_object_add(st, $1, $3, $5); }
	| error                                  { $$ = hj_object_new(st, &@$); }
	| members "','" error                    { $$ = $1; }
	| members error                          { $$ = $1; }
	;

array
	: "'['" "']'"                            { $$ = hj_close(st, hj_array_new(st, &@$), &@$); }
	| "'['" elements "']'"                   { $$ = hj_close(st, $2, &@$); }
	| "'['" elements "','" "']'"             { $$ = hj_close(st, $2, &@$); }
	;

elements
	: value                                  { $$ = hj_array_add(st, hj_array_new(st, &@$), $1); }
	| elements "','" value                   { $$ = hj_array_add(st, $1, $3); }
	| elements error                         { $$ = $1; }
	;

%%

static bool expects(const yysymbol_kind_t *exp, int n, yysymbol_kind_t kind)
{
	for (int i = 0; i < n; i++)
		if (exp[i] == kind)
			return true;
	return false;
}

/* What the parser expected, in words, from the set of acceptable tokens. */
static const char *expectation(const struct hj_state *st, const yysymbol_kind_t *exp, int n)
{
	bool comma = expects(exp, n, YYSYMBOL_T_COMMA);
	if (comma && expects(exp, n, YYSYMBOL_T_RBRACE))
		return "expected ',' or '}' after object member";
	if (comma && expects(exp, n, YYSYMBOL_T_RBRACKET))
		return "expected ',' or ']' after array element";
	if (expects(exp, n, YYSYMBOL_T_COLON))
		return "expected ':' after object key";
	if (expects(exp, n, YYSYMBOL_T_STRING) && expects(exp, n, YYSYMBOL_T_RBRACE))
		return "expected string key or '}'";
	if (expects(exp, n, YYSYMBOL_T_NUMBER))
		return expects(exp, n, YYSYMBOL_T_RBRACKET) ? "expected value or ']'"
		       : st->prev_tok == T_COLON ? "expected value after ':'" : "expected a value";
	return NULL;
}

/* The token the parser choked on, in words. */
static const char *token_name(yysymbol_kind_t tok)
{
	switch (tok) {
	case YYSYMBOL_T_LBRACE: return "'{'";
	case YYSYMBOL_T_RBRACE: return "'}'";
	case YYSYMBOL_T_LBRACKET: return "'['";
	case YYSYMBOL_T_RBRACKET: return "']'";
	case YYSYMBOL_T_COMMA: return "','";
	case YYSYMBOL_T_COLON: return "':'";
	case YYSYMBOL_T_STRING: return "string";
	case YYSYMBOL_T_NUMBER: return "number";
	case YYSYMBOL_T_TRUE: return "'true'";
	case YYSYMBOL_T_FALSE: return "'false'";
	case YYSYMBOL_T_NULL: return "'null'";
	default: return "token";
	}
}

static int yyreport_syntax_error(const yypcontext_t *ctx, struct hj_state *st)
{
	if (st->stop)
		return 0;  /* the scanner has said why it stopped */
	if (yypcontext_token(ctx) == YYSYMBOL_YYEOF && st->eof_explained)
		return 0;  /* and why the input ended early */
	const HJP_LTYPE *loc = yypcontext_location(ctx);
	yysymbol_kind_t tok = yypcontext_token(ctx);
	yysymbol_kind_t exp[YYNTOKENS];
	int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
	if (n < 0)
		n = 0;
	const char *what = expectation(st, exp, n);
	if (tok == YYSYMBOL_YYEOF) {
		if (st->depth > 0) {
			const struct hj_open *o = &st->open[st->depth - 1];
			diag_error(st->diags, loc, "unexpected end of input: %s opened at %u:%u is not closed",
				   o->ch == '{' ? "object" : "array", o->line, o->col);
		} else
			diag_error(st->diags, loc, "unexpected end of input: expected a value");
	} else if (n == 1 && exp[0] == YYSYMBOL_YYEOF)
		diag_error(st->diags, loc, "unexpected %s after the top-level value", token_name(tok));
	else if (what)
		diag_error(st->diags, loc, "%s", what);
	else
		diag_error(st->diags, loc, "unexpected %s", token_name(tok));
	return 0;
}

static void hjp_error(const HJP_LTYPE *loc, struct hj_state *st, const char *msg)
{
	diag_error(st->diags, loc, "%s", msg);
}
