/* ctl_authkey: the auth key's text, which carries what a node needs to
 * join: which key row it is, the secret, and the coordinator to pin.
 *
 *   kgauth1-<id>-<secret>-<coordinator key>@<host>:<port>
 *
 * id: 16 lowercase hex digits (8 bytes, the coordinator's handle, not
 * secret); secret: 43 characters of unpadded base64url (32 random bytes);
 * coordinator key: 43 characters of unpadded base64url (the X25519 public
 * key); host: a DNS name, an IPv4 address or [an IPv6 address]; port:
 * 1..65535.  Fields have fixed lengths, so '-' inside base64url is not
 * ambiguous.  The coordinator stores only ctl_authkey_hash(id, secret) and
 * checks with ctl_authkey_verify (constant time). */
#ifndef CTL_AUTHKEY_H
#define CTL_AUTHKEY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_AUTHKEY_PREFIX     "kgauth1-"
#define CTL_AUTHKEY_ID_LEN     8
#define CTL_AUTHKEY_SECRET_LEN 32
#define CTL_AUTHKEY_HASH_LEN   32
#define CTL_AUTHKEY_MAX_HOST   253
#define CTL_AUTHKEY_MAX_TEXT   (8 + 16 + 1 + 43 + 1 + 43 + 1 + CTL_AUTHKEY_MAX_HOST + 2 + 6 + 1)

struct ctl_authkey {
	uint8_t id[CTL_AUTHKEY_ID_LEN];
	uint8_t secret[CTL_AUTHKEY_SECRET_LEN];
	uint8_t server_key[32];
	char host[CTL_AUTHKEY_MAX_HOST + 1];	/* without brackets */
	uint16_t port;
};

/* A new key for SERVER_KEY at HOST:PORT: random id and secret. */
int ctl_authkey_generate(struct ctl_authkey *k, const uint8_t server_key[32], const char *host, uint16_t port);
/* Write the text form to OUT (CTL_AUTHKEY_MAX_TEXT bytes): 0 or -EINVAL. */
int ctl_authkey_format(char *out, size_t outlen, const struct ctl_authkey *k);
/* Parse TEXT: 0 or -EINVAL (K wiped). */
int ctl_authkey_parse(struct ctl_authkey *k, const char *text);
/* The id as 16 hex digits (the coordinator's lookup handle). */
void ctl_authkey_id_hex(char out[2 * CTL_AUTHKEY_ID_LEN + 1], const struct ctl_authkey *k);
/* What the coordinator stores: BLAKE2s-256 keyed with the secret over a
 * label and the id.  A 256-bit random secret needs no slow hash. */
void ctl_authkey_hash(uint8_t out[CTL_AUTHKEY_HASH_LEN], const struct ctl_authkey *k);
/* K's hash equals STORED, compared in constant time. */
bool ctl_authkey_verify(const struct ctl_authkey *k, const uint8_t stored[CTL_AUTHKEY_HASH_LEN]);
void ctl_authkey_wipe(struct ctl_authkey *k);

#endif
