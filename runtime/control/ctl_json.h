/* ctl_json: typed reading and writing of the control messages' JSON fields,
 * with a reason for every refusal ("peers[3].wg_key: not a WireGuard key").
 * Addresses and prefixes are parsed to bytes, endpoints to address and
 * port; every list and string has a cap (ctl_netmap.h). */
#ifndef CTL_JSON_H
#define CTL_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct ctl_prefix {
	uint8_t family;		/* 4 or 6 */
	uint8_t bits;
	uint8_t addr[16];	/* IPv4 in the first 4 bytes; host bits zero */
};

struct ctl_endpoint {
	uint8_t family;
	uint16_t port;
	uint8_t addr[16];
};

struct ctl_prefixes {
	struct ctl_prefix *v;
	size_t n;
};

struct ctl_endpoints {
	struct ctl_endpoint *v;
	size_t n;
};

/* Where decoding failed and why. */
struct ctl_err {
	char *buf;
	size_t len;
};

/* -EINVAL after writing "PATH: WHY" to ERR (PATH printf-formatted). */
int ctl_json_fail(struct ctl_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Readers: FIELD of OBJ (a JSON object); PATH names OBJ in messages.  A
 * missing optional field leaves OUT untouched and returns 0 (with *PRESENT
 * false where given); a required one, a wrong type or a value over its cap
 * returns -EINVAL with the reason. */
int ctl_json_uint(const cJSON *obj, const char *field, bool required, uint64_t max,
		  uint64_t *out, const char *path, struct ctl_err *err);
int ctl_json_bool(const cJSON *obj, const char *field, bool required, bool *out,
		  const char *path, struct ctl_err *err);
/* A string of 1..MAXLEN bytes without control characters, copied. */
int ctl_json_string(const cJSON *obj, const char *field, bool required, size_t maxlen,
		    char **out, const char *path, struct ctl_err *err);
/* 44 characters of standard base64 for 32 bytes (as wg prints keys). */
int ctl_json_key(const cJSON *obj, const char *field, bool required, uint8_t out[32],
		 const char *path, struct ctl_err *err);
int ctl_json_prefixes(const cJSON *obj, const char *field, bool required, size_t max,
		      struct ctl_prefixes *out, bool *present, const char *path, struct ctl_err *err);
int ctl_json_endpoints(const cJSON *obj, const char *field, bool required, size_t max,
		       struct ctl_endpoints *out, bool *present, const char *path, struct ctl_err *err);

/* Writers: add FIELD to OBJ; false when out of memory. */
bool ctl_json_add_key(cJSON *obj, const char *field, const uint8_t key[32]);
bool ctl_json_add_prefixes(cJSON *obj, const char *field, const struct ctl_prefixes *p);
bool ctl_json_add_endpoints(cJSON *obj, const char *field, const struct ctl_endpoints *e);

/* Text forms: "100.64.0.1/32", "fd7a::1/128"; "1.2.3.4:41641", "[::1]:41641". */
int ctl_prefix_parse(struct ctl_prefix *p, const char *text);
void ctl_prefix_format(char out[64], const struct ctl_prefix *p);
/* Split "HOST:PORT" or "[HOST]:PORT" into HOST (without brackets, at most
 * HOSTCAP - 1 bytes) and PORT (1..65535, no sign or leading zero);
 * *BRACKETED says which form it was.  0 or -EINVAL. */
int ctl_hostport_split(const char *text, char *host, size_t hostcap, uint16_t *port, bool *bracketed);
int ctl_endpoint_parse(struct ctl_endpoint *e, const char *text);
void ctl_endpoint_format(char out[64], const struct ctl_endpoint *e);

int ctl_prefixes_copy(struct ctl_prefixes *dst, const struct ctl_prefixes *src);
bool ctl_prefixes_equal(const struct ctl_prefixes *a, const struct ctl_prefixes *b);
void ctl_prefixes_free(struct ctl_prefixes *p);
int ctl_endpoints_copy(struct ctl_endpoints *dst, const struct ctl_endpoints *src);
bool ctl_endpoints_equal(const struct ctl_endpoints *a, const struct ctl_endpoints *b);
void ctl_endpoints_free(struct ctl_endpoints *e);

#endif
