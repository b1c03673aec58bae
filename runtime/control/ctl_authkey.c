/* ctl_authkey: auth key text and the hash the coordinator keeps. */
#include "ctl_authkey.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "blake2s.h"
#include "ctl_json.h"

#define B64_LEN 43	/* unpadded base64url of 32 bytes */
#define HASH_LABEL "keygate authkey v1"

int ctl_authkey_generate(struct ctl_authkey *k, const uint8_t server_key[32], const char *host, uint16_t port)
{
	memset(k, 0, sizeof(*k));
	if (!host || !*host || strlen(host) > CTL_AUTHKEY_MAX_HOST || port == 0)
		return -EINVAL;
	randombytes_buf(k->id, sizeof(k->id));
	randombytes_buf(k->secret, sizeof(k->secret));
	memcpy(k->server_key, server_key, 32);
	strcpy(k->host, host);
	k->port = port;
	return 0;
}

void ctl_authkey_id_hex(char out[2 * CTL_AUTHKEY_ID_LEN + 1], const struct ctl_authkey *k)
{
	sodium_bin2hex(out, 2 * CTL_AUTHKEY_ID_LEN + 1, k->id, CTL_AUTHKEY_ID_LEN);
}

static bool ctl_host_ok(const char *host, bool *v6)
{
	struct in6_addr a6;

	*v6 = inet_pton(AF_INET6, host, &a6) == 1;
	if (*v6)
		return true;
	for (const char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '.'))
			return false;
	return *host && strlen(host) <= CTL_AUTHKEY_MAX_HOST;
}

int ctl_authkey_format(char *out, size_t outlen, const struct ctl_authkey *k)
{
	char id[2 * CTL_AUTHKEY_ID_LEN + 1], secret[B64_LEN + 1], key[B64_LEN + 1];
	bool v6;
	int n;

	if (!ctl_host_ok(k->host, &v6) || k->port == 0)
		return -EINVAL;
	ctl_authkey_id_hex(id, k);
	sodium_bin2base64(secret, sizeof(secret), k->secret, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_bin2base64(key, sizeof(key), k->server_key, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n = snprintf(out, outlen, v6 ? "%s%s-%s-%s@[%s]:%u" : "%s%s-%s-%s@%s:%u", CTL_AUTHKEY_PREFIX,
		     id, secret, key, k->host, k->port);
	sodium_memzero(secret, sizeof(secret));
	if (n < 0 || (size_t)n >= outlen) {
		sodium_memzero(out, outlen);
		return -EINVAL;
	}
	return 0;
}

/* Exactly 43 characters of unpadded base64url for 32 bytes. */
static int ctl_b64url32(uint8_t out[32], const char *in)
{
	size_t binlen = 0;
	const char *end = NULL;

	if (sodium_base642bin(out, 32, in, B64_LEN, NULL, &binlen, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || binlen != 32 || end != in + B64_LEN)
		return -EINVAL;
	return 0;
}

/* "host:port" or "[v6]:port" into K. */
static int ctl_parse_server(struct ctl_authkey *k, const char *s)
{
	bool bracketed, v6;

	if (ctl_hostport_split(s, k->host, sizeof(k->host), &k->port, &bracketed) < 0 ||
	    !ctl_host_ok(k->host, &v6) || v6 != bracketed)
		return -EINVAL;
	return 0;
}

int ctl_authkey_parse(struct ctl_authkey *k, const char *text)
{
	const size_t plen = strlen(CTL_AUTHKEY_PREFIX), idlen = 2 * CTL_AUTHKEY_ID_LEN;
	const char *p = text;
	char b64[B64_LEN + 1];
	size_t binlen = 0;
	int rc = -EINVAL;

	memset(k, 0, sizeof(*k));
	if (strnlen(text, CTL_AUTHKEY_MAX_TEXT) >= CTL_AUTHKEY_MAX_TEXT ||
	    strncmp(p, CTL_AUTHKEY_PREFIX, plen) != 0)
		goto wipe;
	p += plen;
	if (strlen(p) < idlen + 1 + B64_LEN + 1 + B64_LEN + 1 || p[idlen] != '-' ||
	    p[idlen + 1 + B64_LEN] != '-' || p[idlen + 2 + 2 * B64_LEN] != '@')
		goto wipe;
	for (size_t i = 0; i < idlen; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			goto wipe;
	if (sodium_hex2bin(k->id, sizeof(k->id), p, idlen, NULL, &binlen, NULL) != 0 || binlen != sizeof(k->id))
		goto wipe;
	p += idlen + 1;
	memcpy(b64, p, B64_LEN);
	b64[B64_LEN] = '\0';
	if (ctl_b64url32(k->secret, b64) < 0)
		goto wipe;
	p += B64_LEN + 1;
	memcpy(b64, p, B64_LEN);
	if (ctl_b64url32(k->server_key, b64) < 0)
		goto wipe;
	p += B64_LEN + 1;
	rc = ctl_parse_server(k, p);
wipe:
	sodium_memzero(b64, sizeof(b64));
	if (rc < 0)
		ctl_authkey_wipe(k);
	return rc;
}

void ctl_authkey_hash(uint8_t out[CTL_AUTHKEY_HASH_LEN], const struct ctl_authkey *k)
{
	struct blake2s_state s;

	blake2s_init(&s, CTL_AUTHKEY_HASH_LEN, k->secret, sizeof(k->secret));
	blake2s_update(&s, HASH_LABEL, strlen(HASH_LABEL));
	blake2s_update(&s, k->id, sizeof(k->id));
	blake2s_final(&s, out);
}

bool ctl_authkey_verify(const struct ctl_authkey *k, const uint8_t stored[CTL_AUTHKEY_HASH_LEN])
{
	uint8_t h[CTL_AUTHKEY_HASH_LEN];
	bool ok;

	ctl_authkey_hash(h, k);
	ok = sodium_memcmp(h, stored, sizeof(h)) == 0;
	sodium_memzero(h, sizeof(h));
	return ok;
}

void ctl_authkey_wipe(struct ctl_authkey *k)
{
	sodium_memzero(k, sizeof(*k));
}
