/* devcfg: a stock WireGuard device's key and configuration. */
#include "devcfg.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
	char priv[45];		/* base64; empty: none */
	bool qr;
} dev;

int devcfg_new_key(char pub[45])
{
	uint8_t k[32], p[32];
	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(k, sizeof k);
	k[0] &= 248;		/* X25519 clamping, as wg genkey */
	k[31] = (k[31] & 127) | 64;
	int rc = crypto_scalarmult_base(p, k) == 0 ? 0 : -EINVAL;
	if (rc == 0) {
		sodium_bin2base64(dev.priv, sizeof dev.priv, k, sizeof k, sodium_base64_VARIANT_ORIGINAL);
		sodium_bin2base64(pub, 45, p, sizeof p, sodium_base64_VARIANT_ORIGINAL);
	}
	sodium_memzero(k, sizeof k);
	return rc;
}

int devcfg_load_key(const char *path)
{
	char line[128];
	uint8_t k[32];
	size_t len;
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	int rc = fgets(line, sizeof line, f) ? 0 : -EINVAL;
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (rc == 0 && (strlen(line) != sizeof dev.priv - 1 ||
			sodium_base642bin(k, sizeof k, line, strlen(line), NULL, &len, NULL,
					  sodium_base64_VARIANT_ORIGINAL) || len != 32))
		rc = -EINVAL;
	if (rc == 0)
		memcpy(dev.priv, line, sizeof dev.priv);
	sodium_memzero(line, sizeof line);
	sodium_memzero(k, sizeof k);
	return rc;
}

void devcfg_want_qr(void)
{
	dev.qr = true;
}

/* CONFIG with the key line filled (or made a comment) to F. */
static void write_config(FILE *f, const char *config)
{
	const char *at = strstr(config, DEVCFG_KEY_LINE);
	if (!at) {
		fputs(config, f);
		return;
	}
	fwrite(config, 1, (size_t)(at - config), f);
	if (dev.priv[0])
		fprintf(f, "PrivateKey = %s", dev.priv);
	else
		fputs("# PrivateKey = the key `keygate nodes add-static` printed (nobody kept a copy; see --key)", f);
	fputs(at + strlen(DEVCFG_KEY_LINE), f);
}

int devcfg_print(const char *config)
{
	write_config(stdout, config);
	if (!dev.qr)
		return 0;
	fflush(stdout);
	FILE *q = popen("qrencode -t ansiutf8", "w");
	if (!q) {
		fprintf(stderr, "keygate: cannot run qrencode: %s\n", strerror(errno));
		return -1;
	}
	write_config(q, config);
	int st = pclose(q);
	if (st != 0) {
		fprintf(stderr, "keygate: qrencode failed (is it installed? apt-get install qrencode)\n");
		return -1;
	}
	return 0;
}

void devcfg_wipe(void)
{
	sodium_memzero(dev.priv, sizeof dev.priv);
}
