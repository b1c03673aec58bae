/* wgkey: WireGuard keys as the userspace API carries them (hex) and key
 * files.  Generation, X25519 and base64 are noise_keygen, noise_pubkey and
 * noise_key_{to,from}_base64. */
#ifndef WGKEY_H
#define WGKEY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WGKEY_LEN 32
#define WGKEY_B64_LEN 44 /* without the terminating NUL */
#define WGKEY_HEX_LEN 64

/* OUT gets HEX_LEN characters and a NUL. */
void wgkey_to_hex(char *out, const uint8_t key[WGKEY_LEN]);
/* Exactly 64 hex digits, nothing before or after: 0 or -EINVAL. */
int wgkey_from_hex(uint8_t key[WGKEY_LEN], const char *s, size_t len);
/* A base64 key of LEN bytes followed by nothing but whitespace: 0 or -EINVAL. */
int wgkey_from_base64_text(uint8_t key[WGKEY_LEN], const char *s, size_t len);
bool wgkey_is_zero(const uint8_t key[WGKEY_LEN]);
/* Reads one base64 key (trailing whitespace allowed) from PATH, which must
 * be a regular file.  A file that is group- or world-readable or -writable
 * is refused with -EPERM and a message in ERR (ERRLEN bytes). */
int wgkey_read_file(uint8_t key[WGKEY_LEN], const char *path, char *err, size_t errlen);
/* The same from an open FD (NAME for messages): a regular file is checked
 * as above; anything else (a pipe) is taken unless NEED_FILE.  Reads with
 * read(2) into a buffer wiped afterwards. */
int wgkey_read_fd(uint8_t key[WGKEY_LEN], int fd, const char *name, bool need_file, char *err, size_t errlen);

#endif
