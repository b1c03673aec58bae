/* wgkey: hex round trip and key files (mode checks, format). */
#include "noise.h"
#include "t.h"
#include "wgkey.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define B64 "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="

static int write_key(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	fchmod(fd, mode);
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

int main(void)
{
	uint8_t key[WGKEY_LEN], back[WGKEY_LEN];
	char hex[WGKEY_HEX_LEN + 1], b64[WGKEY_B64_LEN + 1], err[256], path[] = "/tmp/kgkeyXXXXXX";
	T_CHECK(noise_key_from_base64(key, B64) == 0, "base64 key decodes");
	wgkey_to_hex(hex, key);
	T_CHECK(wgkey_from_hex(back, hex, strlen(hex)) == 0 && memcmp(back, key, WGKEY_LEN) == 0, "hex round trip");
	T_CHECK(wgkey_from_hex(back, hex, 63) == -EINVAL, "63 hex digits refused");
	hex[5] = 'g';
	T_CHECK(wgkey_from_hex(back, hex, 64) == -EINVAL, "non-hex digit refused");

	static const struct { const char *text; mode_t mode; int rc; const char *why; } files[] = {
		{ B64 "\n", 0600, 0, "mode 0600 with a newline is read" },
		{ B64, 0400, 0, "mode 0400 without a newline is read" },
		{ B64 "\n", 0640, -EPERM, "group-readable key file refused" },
		{ B64 "\n", 0620, -EPERM, "group-writable key file refused" },
		{ B64 "\n", 0604, -EPERM, "world-readable key file refused" },
		{ B64 "\n", 0602, -EPERM, "world-writable key file refused" },
		{ "not a key\n", 0600, -EINVAL, "garbage refused" },
		{ B64 B64 "\n", 0600, -EINVAL, "two keys refused" },
	};
	int fd = mkstemp(path);
	close(fd);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		if (write_key(path, files[i].text, files[i].mode) != 0) {
			T_CHECK(0, "write %s", path);
			continue;
		}
		memset(back, 0, sizeof back);
		err[0] = 0;
		int rc = wgkey_read_file(back, path, err, sizeof err);
		T_CHECK(rc == files[i].rc && (rc || memcmp(back, key, WGKEY_LEN) == 0), "%s (rc %d: %s)", files[i].why,
			rc, err);
		if (rc == -EPERM)
			T_CHECK(strstr(err, "accessible to group or others") != NULL, "the refusal says why: %s", err);
	}
	unlink(path);
	T_CHECK(wgkey_read_file(back, path, err, sizeof err) == -ENOENT, "missing file: %s", err);
	noise_key_to_base64(b64, key);
	T_STREQ(b64, B64, "base64 round trip");
	T_DONE();
}
