/* keytool: `keygate genkey` and `keygate pubkey`, same formats as wg(8).
 * Key text goes through read(2)/write(2) and local buffers wiped on every
 * path, never through stdio's buffers. */
#include "keytool.h"
#include "noise.h"
#include "wgkey.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Write LINE (LEN bytes) to standard output: 0 or -errno. */
static int write_all(const char *line, size_t len)
{
	while (len) {
		ssize_t n = write(STDOUT_FILENO, line, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		line += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A base64 key and a newline to standard output: 0 or -errno. */
static int print_key(const uint8_t key[WGKEY_LEN])
{
	char line[WGKEY_B64_LEN + 2];
	noise_key_to_base64(line, key);
	line[WGKEY_B64_LEN] = '\n';
	int rc = write_all(line, WGKEY_B64_LEN + 1);
	sodium_memzero(line, sizeof line);
	return rc;
}

int keytool_genkey(int argc, char **argv)
{
	(void)argv;
	uint8_t key[WGKEY_LEN];
	int rc;
	if (argc != 1) {
		fprintf(stderr, "usage: keygate genkey\n");
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "keygate genkey: libsodium failed to initialise\n");
		return 1;
	}
	struct stat st;
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		fprintf(stderr, "keygate genkey: standard output is a file accessible to group or others "
			"(mode %04o): refused; set the umask to 077 and try again\n", (unsigned)(st.st_mode & 07777));
		return 1;
	}
	noise_keygen(key);
	rc = print_key(key);
	sodium_memzero(key, sizeof key);
	if (rc) {
		fprintf(stderr, "keygate genkey: stdout: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

int keytool_pubkey(int argc, char **argv)
{
	uint8_t key[WGKEY_LEN], pub[WGKEY_LEN];
	char err[512];
	int status = 1, rc;
	if (argc > 2) {
		fprintf(stderr, "usage: keygate pubkey [FILE] (or a key on standard input)\n");
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "keygate pubkey: libsodium failed to initialise\n");
		return 1;
	}
	if (argc == 2)
		rc = wgkey_read_file(key, argv[1], err, sizeof err);
	else
		rc = wgkey_read_fd(key, STDIN_FILENO, "standard input", false, err, sizeof err);
	if (rc) {
		fprintf(stderr, "keygate pubkey: %s\n", err);
		goto wipe;
	}
	if (noise_pubkey(pub, key) != 0) {
		fprintf(stderr, "keygate pubkey: key is degenerate\n");
		goto wipe;
	}
	if ((rc = print_key(pub)) != 0) {
		fprintf(stderr, "keygate pubkey: stdout: %s\n", strerror(-rc));
		goto wipe;
	}
	status = 0;
wipe:
	sodium_memzero(key, sizeof key);
	return status;
}
