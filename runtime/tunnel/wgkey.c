/* wgkey: encodings, generation, key files. */
#include "wgkey.h"
#include "noise.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void wgkey_to_hex(char *out, const uint8_t key[WGKEY_LEN])
{
	sodium_bin2hex(out, WGKEY_HEX_LEN + 1, key, WGKEY_LEN);
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

int wgkey_from_base64_text(uint8_t key[WGKEY_LEN], const char *s, size_t len)
{
	char b64[WGKEY_B64_LEN + 1];
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len != WGKEY_B64_LEN)
		return -EINVAL;
	memcpy(b64, s, len);
	b64[len] = 0;
	int rc = noise_key_from_base64(key, b64);
	sodium_memzero(b64, sizeof b64);
	return rc ? -EINVAL : 0;
}

bool wgkey_is_zero(const uint8_t key[WGKEY_LEN])
{
	return sodium_is_zero(key, WGKEY_LEN);
}

int wgkey_read_fd(uint8_t key[WGKEY_LEN], int fd, const char *name, bool need_file, char *err, size_t errlen)
{
	char buf[128];
	size_t n = 0;
	int rc = 0;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		goto out;
	}
	if (need_file && !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file", name);
		goto out;
	}
	if (S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		rc = -EPERM;
		snprintf(err, errlen, "%s: key file is accessible to group or others (mode %04o); chmod 600 it",
			 name, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	/* Read to the end (or past any key's length): unbuffered, wiped. */
	while (n < sizeof buf - 1) {
		ssize_t got = read(fd, buf + n, sizeof buf - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s", name, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (wgkey_from_base64_text(key, buf, n) != 0) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: not a base64 WireGuard key", name);
	}
out:
	sodium_memzero(buf, sizeof buf);
	return rc;
}

int wgkey_read_file(uint8_t key[WGKEY_LEN], const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	int rc = wgkey_read_fd(key, fd, path, true, err, errlen);
	close(fd);
	return rc;
}
