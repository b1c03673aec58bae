/* ctl_json: the control messages' field readers and writers. */
#include "ctl_json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

int ctl_json_fail(struct ctl_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err && err->buf && err->len) {
		va_start(ap, fmt);
		vsnprintf(err->buf, err->len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* The field, or NULL with 0 / -EINVAL in *RC for a missing one. */
static const cJSON *ctl_field(const cJSON *obj, const char *field, bool required, int *rc,
			      const char *path, struct ctl_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);

	*rc = 0;
	if (!v && required)
		*rc = ctl_json_fail(err, "%s.%s: missing", path, field);
	return v;
}

int ctl_json_uint(const cJSON *obj, const char *field, bool required, uint64_t max,
		  uint64_t *out, const char *path, struct ctl_err *err)
{
	int rc;
	const cJSON *v = ctl_field(obj, field, required, &rc, path, err);
	double d;

	if (!v)
		return rc;
	d = cJSON_IsNumber(v) ? v->valuedouble : -1;
	/* Integers only, and exactly representable (below 2^53). */
	if (!(d >= 0 && d <= 9007199254740991.0) || d != (double)(uint64_t)d || (uint64_t)d > max)
		return ctl_json_fail(err, "%s.%s: not an integer in 0..%llu", path, field,
				     (unsigned long long)max);
	*out = (uint64_t)d;
	return 0;
}

int ctl_json_bool(const cJSON *obj, const char *field, bool required, bool *out,
		  const char *path, struct ctl_err *err)
{
	int rc;
	const cJSON *v = ctl_field(obj, field, required, &rc, path, err);

	if (!v)
		return rc;
	if (!cJSON_IsBool(v))
		return ctl_json_fail(err, "%s.%s: not true or false", path, field);
	*out = cJSON_IsTrue(v);
	return 0;
}

static bool ctl_text_ok(const char *s, size_t maxlen)
{
	size_t n = 0;

	for (; s[n]; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= maxlen)
			return false;
	return n > 0;
}

int ctl_json_string(const cJSON *obj, const char *field, bool required, size_t maxlen,
		    char **out, const char *path, struct ctl_err *err)
{
	int rc;
	const cJSON *v = ctl_field(obj, field, required, &rc, path, err);
	char *s;

	if (!v)
		return rc;
	if (!cJSON_IsString(v) || !ctl_text_ok(v->valuestring, maxlen))
		return ctl_json_fail(err, "%s.%s: not a string of 1..%zu printable bytes", path, field, maxlen);
	s = strdup(v->valuestring);
	if (!s)
		return -ENOMEM;
	free(*out);
	*out = s;
	return 0;
}

static int ctl_key_parse(uint8_t out[32], const char *b64)
{
	uint8_t tmp[32];
	size_t binlen = 0;
	const char *end = NULL;
	int rc = -EINVAL;

	if (strlen(b64) != 44 || b64[43] != '=')
		return -EINVAL;
	if (sodium_base642bin(tmp, sizeof(tmp), b64, 44, NULL, &binlen, &end,
			      sodium_base64_VARIANT_ORIGINAL) == 0 && binlen == 32 && end == b64 + 44) {
		memcpy(out, tmp, 32);
		rc = 0;
	}
	sodium_memzero(tmp, sizeof(tmp));
	return rc;
}

int ctl_json_key(const cJSON *obj, const char *field, bool required, uint8_t out[32],
		 const char *path, struct ctl_err *err)
{
	int rc;
	const cJSON *v = ctl_field(obj, field, required, &rc, path, err);

	if (!v)
		return rc;
	if (!cJSON_IsString(v) || ctl_key_parse(out, v->valuestring) < 0)
		return ctl_json_fail(err, "%s.%s: not a key (44 characters of base64)", path, field);
	return 0;
}

/* An array of at most MAX strings: its items through PARSE into a new
 * vector of SIZE-byte elements. */
static int ctl_json_list(const cJSON *obj, const char *field, bool required, size_t max,
			 void **out, size_t *n, size_t size, int (*parse)(void *, const char *),
			 bool *present, const char *path, struct ctl_err *err)
{
	int rc;
	const cJSON *v = ctl_field(obj, field, required, &rc, path, err), *it;
	uint8_t *vec;
	size_t i = 0, count;

	if (present)
		*present = v != NULL;
	if (!v)
		return rc;
	if (!cJSON_IsArray(v))
		return ctl_json_fail(err, "%s.%s: not an array", path, field);
	count = (size_t)cJSON_GetArraySize(v);
	if (count > max)
		return ctl_json_fail(err, "%s.%s: more than %zu items", path, field, max);
	vec = calloc(count ? count : 1, size);
	if (!vec)
		return -ENOMEM;
	cJSON_ArrayForEach(it, v) {
		if (!cJSON_IsString(it) || parse(vec + i * size, it->valuestring) < 0) {
			free(vec);
			return ctl_json_fail(err, "%s.%s[%zu]: not a valid %s", path, field, i,
					     size == sizeof(struct ctl_prefix) ? "prefix" : "endpoint");
		}
		i++;
	}
	free(*out);
	*out = vec;
	*n = count;
	return 0;
}

static int ctl_prefix_parse_v(void *p, const char *text)
{
	return ctl_prefix_parse(p, text);
}

static int ctl_endpoint_parse_v(void *e, const char *text)
{
	return ctl_endpoint_parse(e, text);
}

int ctl_json_prefixes(const cJSON *obj, const char *field, bool required, size_t max,
		      struct ctl_prefixes *out, bool *present, const char *path, struct ctl_err *err)
{
	return ctl_json_list(obj, field, required, max, (void **)&out->v, &out->n, sizeof(*out->v),
			     ctl_prefix_parse_v, present, path, err);
}

int ctl_json_endpoints(const cJSON *obj, const char *field, bool required, size_t max,
		       struct ctl_endpoints *out, bool *present, const char *path, struct ctl_err *err)
{
	return ctl_json_list(obj, field, required, max, (void **)&out->v, &out->n, sizeof(*out->v),
			     ctl_endpoint_parse_v, present, path, err);
}

bool ctl_json_add_key(cJSON *obj, const char *field, const uint8_t key[32])
{
	char b64[45];

	sodium_bin2base64(b64, sizeof(b64), key, 32, sodium_base64_VARIANT_ORIGINAL);
	return cJSON_AddStringToObject(obj, field, b64) != NULL;
}

bool ctl_json_add_prefixes(cJSON *obj, const char *field, const struct ctl_prefixes *p)
{
	cJSON *a = cJSON_AddArrayToObject(obj, field);
	char text[64];

	if (!a)
		return false;
	for (size_t i = 0; i < p->n; i++) {
		ctl_prefix_format(text, &p->v[i]);
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(text)))
			return false;
	}
	return true;
}

bool ctl_json_add_endpoints(cJSON *obj, const char *field, const struct ctl_endpoints *e)
{
	cJSON *a = cJSON_AddArrayToObject(obj, field);
	char text[64];

	if (!a)
		return false;
	for (size_t i = 0; i < e->n; i++) {
		ctl_endpoint_format(text, &e->v[i]);
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(text)))
			return false;
	}
	return true;
}

/* An address of either family from TEXT (at most 63 bytes). */
static int ctl_addr_parse(uint8_t addr[16], uint8_t *family, const char *text)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, addr) == 1) {
		*family = 6;
		return 0;
	}
	return -EINVAL;
}

int ctl_prefix_parse(struct ctl_prefix *p, const char *text)
{
	char addr[64], *end;
	const char *slash = strchr(text, '/');
	unsigned long bits;
	size_t n;

	if (!slash || (size_t)(slash - text) >= sizeof(addr) || !slash[1] || slash[1] == '+' ||
	    (slash[1] == '0' && slash[2]))
		return -EINVAL;
	n = (size_t)(slash - text);
	memcpy(addr, text, n);
	addr[n] = '\0';
	memset(p, 0, sizeof(*p));
	if (ctl_addr_parse(p->addr, &p->family, addr) < 0)
		return -EINVAL;
	errno = 0;
	bits = strtoul(slash + 1, &end, 10);
	if (errno || *end || bits > (p->family == 4 ? 32u : 128u))
		return -EINVAL;
	p->bits = (uint8_t)bits;
	for (unsigned i = p->bits; i < 128; i++)
		if (p->addr[i / 8] & (0x80 >> (i % 8)))
			return -EINVAL;	/* host bits set */
	return 0;
}

void ctl_prefix_format(char out[64], const struct ctl_prefix *p)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	snprintf(out, 64, "%s/%u", a, p->bits);
}

int ctl_hostport_split(const char *text, char *host, size_t hostcap, uint16_t *port, bool *bracketed)
{
	const char *colon, *start = text;
	char *end;
	size_t n;
	unsigned long v;

	*bracketed = text[0] == '[';
	if (*bracketed) {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		start = text + 1;
		n = (size_t)(close - start);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - text);
	}
	if (n == 0 || n >= hostcap || colon[1] < '1' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	memcpy(host, start, n);
	host[n] = '\0';
	*port = (uint16_t)v;
	return 0;
}

int ctl_endpoint_parse(struct ctl_endpoint *e, const char *text)
{
	char addr[64];
	bool bracketed;

	memset(e, 0, sizeof(*e));
	if (ctl_hostport_split(text, addr, sizeof(addr), &e->port, &bracketed) < 0 ||
	    ctl_addr_parse(e->addr, &e->family, addr) < 0 || (e->family == 6) != bracketed)
		return -EINVAL;
	return 0;
}

void ctl_endpoint_format(char out[64], const struct ctl_endpoint *e)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(e->family == 4 ? AF_INET : AF_INET6, e->addr, a, sizeof(a));
	snprintf(out, 64, e->family == 4 ? "%s:%u" : "[%s]:%u", a, e->port);
}

static void *ctl_memdup(const void *src, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p && n)
		memcpy(p, src, n * size);
	return p;
}

int ctl_prefixes_copy(struct ctl_prefixes *dst, const struct ctl_prefixes *src)
{
	dst->v = ctl_memdup(src->v, src->n, sizeof(*src->v));
	dst->n = dst->v ? src->n : 0;
	return dst->v ? 0 : -ENOMEM;
}

bool ctl_prefixes_equal(const struct ctl_prefixes *a, const struct ctl_prefixes *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(*a->v)) == 0);
}

void ctl_prefixes_free(struct ctl_prefixes *p)
{
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

int ctl_endpoints_copy(struct ctl_endpoints *dst, const struct ctl_endpoints *src)
{
	dst->v = ctl_memdup(src->v, src->n, sizeof(*src->v));
	dst->n = dst->v ? src->n : 0;
	return dst->v ? 0 : -ENOMEM;
}

bool ctl_endpoints_equal(const struct ctl_endpoints *a, const struct ctl_endpoints *b)
{
	if (a->n != b->n)
		return false;
	/* Field by field: the struct has padding. */
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].family != b->v[i].family || a->v[i].port != b->v[i].port ||
		    memcmp(a->v[i].addr, b->v[i].addr, 16) != 0)
			return false;
	return true;
}

void ctl_endpoints_free(struct ctl_endpoints *e)
{
	free(e->v);
	e->v = NULL;
	e->n = 0;
}
