/* wgkey: encodings, generation, key files. */
#include "wgkey.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void wgkey_to_base64(char *out, const uint8_t key[WGKEY_LEN])
{
	sodium_bin2base64(out, WGKEY_B64_LEN + 1, key, WGKEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

void wgkey_to_hex(char *out, const uint8_t key[WGKEY_LEN])
{
	sodium_bin2hex(out, WGKEY_HEX_LEN + 1, key, WGKEY_LEN);
}

int wgkey_from_base64(uint8_t key[WGKEY_LEN], const char *s, size_t len)
{
	size_t got = 0;
	const char *end = NULL;
	/* 44 characters, the last one '=': exactly 32 bytes. */
	if (len != WGKEY_B64_LEN || s[WGKEY_B64_LEN - 1] != '=')
		return -EINVAL;
	if (sodium_base642bin(key, WGKEY_LEN, s, len, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != WGKEY_LEN || end != s + len)
		return -EINVAL;
	return 0;
}

int wgkey_from_hex(uint8_t key[WGKEY_LEN], const char *s, size_t len)
{
	size_t got = 0;
	const char *end = NULL;
	if (len != WGKEY_HEX_LEN)
		return -EINVAL;
	if (sodium_hex2bin(key, WGKEY_LEN, s, len, NULL, &got, &end) != 0 || got != WGKEY_LEN || end != s + len)
		return -EINVAL;
	return 0;
}

void wgkey_clamp(uint8_t key[WGKEY_LEN])
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

void wgkey_generate(uint8_t key[WGKEY_LEN])
{
	randombytes_buf(key, WGKEY_LEN);
	wgkey_clamp(key);
}

int wgkey_public(uint8_t pub[WGKEY_LEN], const uint8_t priv[WGKEY_LEN])
{
	return crypto_scalarmult_curve25519_base(pub, priv) == 0 ? 0 : -EINVAL;
}

bool wgkey_is_zero(const uint8_t key[WGKEY_LEN])
{
	return sodium_is_zero(key, WGKEY_LEN);
}

int wgkey_read_file(uint8_t key[WGKEY_LEN], const char *path, char *err, size_t errlen)
{
	char buf[128];
	ssize_t n = -1;
	int rc = 0;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto close_fd;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = -EPERM;
		snprintf(err, errlen, "%s: key file is accessible to group or others (mode %04o); chmod 600 it",
			 path, (unsigned)(st.st_mode & 07777));
		goto close_fd;
	}
	n = read(fd, buf, sizeof buf - 1);
	if (n < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto close_fd;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (wgkey_from_base64(key, buf, (size_t)n) != 0) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: not a base64 WireGuard key", path);
	}
close_fd:
	close(fd);
out:
	sodium_memzero(buf, sizeof buf);
	return rc;
}
