/* keytool: `keygate genkey` and `keygate pubkey`, same formats as wg(8). */
#include "keytool.h"
#include "noise.h"
#include "wgkey.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int keytool_genkey(int argc, char **argv)
{
	(void)argv;
	uint8_t key[WGKEY_LEN];
	char b64[WGKEY_B64_LEN + 1];
	int status = 1;
	if (argc != 1) {
		fprintf(stderr, "usage: keygate genkey\n");
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "keygate genkey: libsodium failed to initialise\n");
		return 1;
	}
	struct stat st;
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
		fprintf(stderr, "Warning: writing to world accessible file.\n"
			"Consider setting the umask to 077 and trying again.\n");
	noise_keygen(key);
	noise_key_to_base64(b64, key);
	if (printf("%s\n", b64) < 0 || fflush(stdout) != 0) {
		perror("keygate genkey: stdout");
		goto wipe;
	}
	status = 0;
wipe:
	sodium_memzero(key, sizeof key);
	sodium_memzero(b64, sizeof b64);
	return status;
}

int keytool_pubkey(int argc, char **argv)
{
	(void)argv;
	uint8_t key[WGKEY_LEN], pub[WGKEY_LEN];
	char line[256], b64[WGKEY_B64_LEN + 1];
	int status = 1;
	if (argc != 1) {
		fprintf(stderr, "usage: keygate pubkey < private.key\n");
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "keygate pubkey: libsodium failed to initialise\n");
		return 1;
	}
	size_t n = fread(line, 1, sizeof line - 1, stdin);
	if (wgkey_from_base64_text(key, line, n) != 0) {
		fprintf(stderr, "keygate pubkey: key is not the correct length or format\n");
		goto wipe;
	}
	if (noise_pubkey(pub, key) != 0) {
		fprintf(stderr, "keygate pubkey: key is degenerate\n");
		goto wipe;
	}
	noise_key_to_base64(b64, pub);
	printf("%s\n", b64);
	status = fflush(stdout) == 0 ? 0 : 1;
wipe:
	sodium_memzero(key, sizeof key);
	sodium_memzero(line, sizeof line);
	return status;
}
