/* diag: queue and print located diagnostics. */
#include "diag.h"
#include "mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[] = {
	[DIAG_ERROR] = "error", [DIAG_WARNING] = "warning", [DIAG_NOTE] = "note",
};

static size_t max_errors(const struct diag_list *l)
{
	return l->max_errors ? l->max_errors : DIAG_MAX_ERRORS_DEFAULT;
}

bool diag_full(const struct diag_list *l)
{
	return l->nerrors >= max_errors(l);
}

bool diag_has_errors(const struct diag_list *l)
{
	return l->nerrors > 0;
}

/* The kind of message MSG: a hash of its text without quoted parts and
 * digits, so that 'unknown group "group:a"' and 'unknown group "group:b"'
 * are one kind. */
static uint64_t kind_of(const char *msg)
{
	uint64_t h = 1469598103934665603ull;
	bool quoted = false;
	for (const char *p = msg; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (quoted || (*p >= '0' && *p <= '9'))
			continue;
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	}
	return h;
}

/* Note KIND as seen; true when it is new. */
static bool kind_new(struct diag_list *l, uint64_t kind, int *rc)
{
	for (size_t i = 0; i < l->nkinds; i++)
		if (l->kinds[i] == kind)
			return false;
	*rc = MEM_RESERVE(l->kinds, l->capkinds, l->nkinds + 1);
	if (*rc < 0)
		return false;
	l->kinds[l->nkinds++] = kind;
	return true;
}

static int diag_vadd(struct diag_list *l, enum diag_level level, const struct diag_loc *loc,
		     const char *fmt, va_list ap)
{
	char *msg;
	if (vasprintf(&msg, fmt, ap) < 0)
		return -ENOMEM;
	int rc = 0;
	bool new_kind = level == DIAG_ERROR && kind_new(l, kind_of(msg), &rc);
	if (rc < 0)
		goto free_msg;
	if (level == DIAG_ERROR && diag_full(l)) {
		l->truncated = true;
		if (!new_kind || l->beyond >= max_errors(l))
			goto free_msg;
		l->beyond++;
	}
	rc = MEM_RESERVE(l->items, l->cap, l->n + 1);
	if (rc < 0)
		goto free_msg;
	struct diag *d = &l->items[l->n++];
	d->level = level;
	d->msg = msg;
	if (loc)
		d->loc = *loc;
	else
		memset(&d->loc, 0, sizeof(d->loc));
	if (level == DIAG_ERROR)
		l->nerrors++;
	return 0;
free_msg:
	free(msg);
	return rc;
}

int diag_add(struct diag_list *l, enum diag_level level, const struct diag_loc *loc,
	     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = diag_vadd(l, level, loc, fmt, ap);
	va_end(ap);
	return rc;
}

int diag_error(struct diag_list *l, const struct diag_loc *loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = diag_vadd(l, DIAG_ERROR, loc, fmt, ap);
	va_end(ap);
	return rc;
}

int diag_warn(struct diag_list *l, const struct diag_loc *loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = diag_vadd(l, DIAG_WARNING, loc, fmt, ap);
	va_end(ap);
	return rc;
}

/* Find the start of LINE (1-based) in SRC; NULL when out of range. */
static const char *line_start(const struct diag_src *src, unsigned line)
{
	const char *p = src->text, *end = src->text + src->len;
	for (unsigned n = 1; n < line; n++) {
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			return NULL;
		p++;
	}
	return p;
}

/* The source line, with bytes that would garble a terminal shown as '?', and
 * a caret under column COL (tabs copied so the caret lines up). */
static void print_excerpt(FILE *out, const struct diag_loc *loc)
{
	const struct diag_src *src = loc->src;
	const char *p = line_start(src, loc->line), *end = src->text + src->len;
	if (!p)
		return;
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	if (!eol)
		eol = end;
	size_t len = (size_t)(eol - p);
	if (len > 0 && p[len - 1] == '\r')
		len--;
	enum { EXCERPT_MAX = 200 };
	size_t from = 0;
	if (loc->col > EXCERPT_MAX)
		from = loc->col - EXCERPT_MAX / 2;
	size_t to = len < from + EXCERPT_MAX ? len : from + EXCERPT_MAX;
	for (size_t i = from; i < to; i++) {
		unsigned char c = (unsigned char)p[i];
		fputc(c == '\t' || (c >= 0x20 && c != 0x7f) ? c : '?', out);
	}
	fputc('\n', out);
	for (size_t i = from; i + 1 < loc->col && i < to; i++)
		fputc(p[i] == '\t' ? '\t' : ' ', out);
	fputs("^\n", out);
}

void diag_print(FILE *out, const struct diag_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct diag *d = &l->items[i];
		const char *level = level_names[d->level];
		if (!d->loc.src)
			fprintf(out, "%s: %s\n", level, d->msg);
		else if (d->loc.line == 0)
			fprintf(out, "%s: %s: %s\n", d->loc.src->name, level, d->msg);
		else {
			fprintf(out, "%s:%u:%u: %s: %s\n", d->loc.src->name, d->loc.line,
				d->loc.col, level, d->msg);
			print_excerpt(out, &d->loc);
		}
	}
	if (l->truncated && l->beyond)
		fprintf(out, "error: too many errors (%zu), stopping; beyond them, the first error of each "
			"other kind is shown\n", max_errors(l));
	else if (l->truncated)
		fprintf(out, "error: too many errors (%zu), stopping\n", max_errors(l));
}

void diag_list_free(struct diag_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i].msg);
	free(l->items);
	l->items = NULL;
	l->n = l->cap = l->nerrors = 0;
	l->truncated = false;
	free(l->kinds);
	l->kinds = NULL;
	l->nkinds = l->capkinds = l->beyond = 0;
}

static struct diag_src *src_new(const char *name)
{
	struct diag_src *src = calloc(1, sizeof(*src));
	if (!src)
		return NULL;
	src->name = strdup(name);
	if (!src->name) {
		free(src);
		return NULL;
	}
	return src;
}

struct diag_src *diag_src_from_mem(const char *name, const char *text, size_t len)
{
	struct diag_src *src = src_new(name);
	if (!src)
		return NULL;
	src->text = malloc(len + 1);
	if (!src->text) {
		diag_src_free(src);
		return NULL;
	}
	memcpy(src->text, text, len);
	src->text[len] = '\0';
	src->len = len;
	return src;
}

/* Read all of F into SRC->text; 0 or -errno, -EFBIG past DIAG_SRC_MAX_BYTES. */
static int read_all(FILE *f, struct diag_src *src)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len > DIAG_SRC_MAX_BYTES) {
			free(buf);
			return -EFBIG;
		}
		if (cap - len < 2) {
			char *nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
			cap *= 2;
		}
		size_t got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		int err = errno ? errno : EIO;
		free(buf);
		return -err;
	}
	buf[len] = '\0';
	src->text = buf;
	src->len = len;
	return 0;
}

struct diag_src *diag_src_load(const char *path, struct diag_list *diags)
{
	bool is_stdin = strcmp(path, "-") == 0;
	struct diag_src *src = src_new(is_stdin ? "<stdin>" : path);
	if (!src) {
		diag_error(diags, NULL, "%s: out of memory", path);
		return NULL;
	}
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	if (!f) {
		diag_error(diags, NULL, "%s: %s", path, strerror(errno));
		goto fail_src;
	}
	int rc = read_all(f, src);
	if (!is_stdin)
		fclose(f);
	if (rc == -EFBIG) {
		diag_error(diags, NULL, "%s: larger than %zu MiB, the most keygate reads", path,
			   DIAG_SRC_MAX_BYTES >> 20);
		goto fail_src;
	}
	if (rc < 0) {
		/* No location: the record must not point at SRC, which is about to go. */
		diag_error(diags, NULL, "%s: %s", path, strerror(-rc));
		goto fail_src;
	}
	return src;

fail_src:
	diag_src_free(src);
	return NULL;
}

void diag_src_free(struct diag_src *src)
{
	if (!src)
		return;
	free(src->name);
	free(src->text);
	free(src);
}
