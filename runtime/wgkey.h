/* wgkey: WireGuard key encodings (base64 as `wg` prints them, hex as the
 * userspace API carries them), key generation and key files. */
#ifndef WGKEY_H
#define WGKEY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WGKEY_LEN 32
#define WGKEY_B64_LEN 44 /* without the terminating NUL */
#define WGKEY_HEX_LEN 64

/* Encoders write a NUL-terminated string into OUT (B64_LEN+1 / HEX_LEN+1). */
void wgkey_to_base64(char *out, const uint8_t key[WGKEY_LEN]);
void wgkey_to_hex(char *out, const uint8_t key[WGKEY_LEN]);
/* Decoders accept exactly one key, nothing before or after: 0 or -EINVAL. */
int wgkey_from_base64(uint8_t key[WGKEY_LEN], const char *s, size_t len);
int wgkey_from_hex(uint8_t key[WGKEY_LEN], const char *s, size_t len);
/* A fresh private key, clamped for X25519. */
void wgkey_generate(uint8_t key[WGKEY_LEN]);
void wgkey_clamp(uint8_t key[WGKEY_LEN]);
/* The X25519 public key of PRIV: 0, or -EINVAL for a degenerate key. */
int wgkey_public(uint8_t pub[WGKEY_LEN], const uint8_t priv[WGKEY_LEN]);
bool wgkey_is_zero(const uint8_t key[WGKEY_LEN]);
/* Reads one base64 key (trailing whitespace allowed) from PATH.  A file that
 * is group- or world-readable or -writable is refused with -EPERM and a
 * message in ERR (ERRLEN bytes). */
int wgkey_read_file(uint8_t key[WGKEY_LEN], const char *path, char *err, size_t errlen);

#endif
