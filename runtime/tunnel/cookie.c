/* cookie: mac1/mac2, cookie secrets and cookie replies. */
#include "cookie.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <sodium.h>

#include "blake2s.h"

#define COOKIE_LABEL_MAC1   "mac1----"
#define COOKIE_LABEL_COOKIE "cookie--"

/* OUT = HASH(LABEL || PUB). */
static void cookie_derive_key(uint8_t out[32], const char *label, const uint8_t pub[32])
{
	struct blake2s_state s;

	blake2s_init(&s, 32, NULL, 0);
	blake2s_update(&s, label, 8);
	blake2s_update(&s, pub, 32);
	blake2s_final(&s, out);
}

int cookie_src_bytes(uint8_t out[COOKIE_SRC_MAX], const struct sockaddr *sa)
{
	uint16_t port;
	size_t alen;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
		alen = 4;
		memcpy(out, &in4->sin_addr, alen);
		port = ntohs(in4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		alen = 16;
		memcpy(out, &in6->sin6_addr, alen);
		port = ntohs(in6->sin6_port);
	} else {
		return -EAFNOSUPPORT;
	}
	out[alen] = (uint8_t)port;
	out[alen + 1] = (uint8_t)(port >> 8);
	return (int)(alen + 2);
}

void cookie_checker_init(struct cookie_checker *c, const uint8_t local_pub[32])
{
	memset(c, 0, sizeof(*c));
	cookie_derive_key(c->mac1_key, COOKIE_LABEL_MAC1, local_pub);
	cookie_derive_key(c->reply_key, COOKIE_LABEL_COOKIE, local_pub);
}

void cookie_checker_set_secret(struct cookie_checker *c, const uint8_t secret[32], uint64_t now)
{
	memcpy(c->secret, secret, sizeof(c->secret));
	c->secret_birth = now;
	c->secret_valid = true;
}

void cookie_checker_wipe(struct cookie_checker *c)
{
	sodium_memzero(c, sizeof(*c));
}

static bool cookie_secret_fresh(const struct cookie_checker *c, uint64_t now)
{
	return c->secret_valid && now >= c->secret_birth && now - c->secret_birth < COOKIE_LIFETIME_NS;
}

/* MAC = keyed BLAKE2s-128. */
static void cookie_mac(uint8_t out[COOKIE_MAC_LEN], const uint8_t *key, size_t keylen,
		       const uint8_t *in, size_t inlen)
{
	blake2s(out, COOKIE_MAC_LEN, key, keylen, in, inlen);
}

bool cookie_check_mac1(const struct cookie_checker *c, const uint8_t *msg, size_t len)
{
	uint8_t mac[COOKIE_MAC_LEN];

	if (len < 2 * COOKIE_MAC_LEN)
		return false;
	cookie_mac(mac, c->mac1_key, 32, msg, len - 2 * COOKIE_MAC_LEN);
	bool ok = sodium_memcmp(mac, msg + len - 2 * COOKIE_MAC_LEN, COOKIE_MAC_LEN) == 0;
	sodium_memzero(mac, sizeof(mac));
	return ok;
}

static void cookie_of(const struct cookie_checker *c, uint8_t cookie[COOKIE_LEN],
		      const uint8_t *src, size_t srclen)
{
	cookie_mac(cookie, c->secret, sizeof(c->secret), src, srclen);
}

bool cookie_check_mac2(const struct cookie_checker *c, const uint8_t *msg, size_t len,
		       const uint8_t *src, size_t srclen, uint64_t now)
{
	uint8_t cookie[COOKIE_LEN], mac[COOKIE_MAC_LEN];
	bool ok = false;

	/* An all-zero mac2: the sender holds no cookie (a flood's usual case,
	 * spared two BLAKE2s runs). */
	if (len < 2 * COOKIE_MAC_LEN || !cookie_secret_fresh(c, now) ||
	    sodium_is_zero(msg + len - COOKIE_MAC_LEN, COOKIE_MAC_LEN))
		return false;
	cookie_of(c, cookie, src, srclen);
	cookie_mac(mac, cookie, sizeof(cookie), msg, len - COOKIE_MAC_LEN);
	ok = sodium_memcmp(mac, msg + len - COOKIE_MAC_LEN, COOKIE_MAC_LEN) == 0;
	sodium_memzero(cookie, sizeof(cookie));
	sodium_memzero(mac, sizeof(mac));
	return ok;
}

void cookie_compute(struct cookie_checker *c, uint8_t cookie[COOKIE_LEN],
		    const uint8_t *src, size_t srclen, uint64_t now)
{
	if (!cookie_secret_fresh(c, now)) {
		randombytes_buf(c->secret, sizeof(c->secret));
		c->secret_birth = now;
		c->secret_valid = true;
	}
	cookie_of(c, cookie, src, srclen);
}

int cookie_create_reply(struct cookie_checker *c, uint8_t out[COOKIE_REPLY_LEN],
			const uint8_t *msg, size_t len, const uint8_t *src, size_t srclen,
			uint64_t now, const uint8_t *nonce)
{
	uint8_t cookie[COOKIE_LEN];

	if (len < 8 + 2 * COOKIE_MAC_LEN)
		return -EINVAL;
	cookie_compute(c, cookie, src, srclen, now);
	memset(out, 0, COOKIE_REPLY_LEN);
	out[0] = COOKIE_MSG_TYPE_REPLY;
	memcpy(out + 4, msg + 4, 4);	/* the message's sender index */
	if (nonce)
		memcpy(out + 8, nonce, COOKIE_NONCE_LEN);
	else
		randombytes_buf(out + 8, COOKIE_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 8 + COOKIE_NONCE_LEN, NULL, cookie, sizeof(cookie),
						   msg + len - 2 * COOKIE_MAC_LEN, COOKIE_MAC_LEN,
						   NULL, out + 8, c->reply_key);
	sodium_memzero(cookie, sizeof(cookie));
	return 0;
}

void cookie_maker_init(struct cookie_maker *m, const uint8_t remote_pub[32])
{
	memset(m, 0, sizeof(*m));
	cookie_derive_key(m->mac1_key, COOKIE_LABEL_MAC1, remote_pub);
	cookie_derive_key(m->reply_key, COOKIE_LABEL_COOKIE, remote_pub);
}

void cookie_maker_wipe(struct cookie_maker *m)
{
	sodium_memzero(m, sizeof(*m));
}

void cookie_add_macs(struct cookie_maker *m, uint8_t *msg, size_t len, uint64_t now)
{
	uint8_t *mac1 = msg + len - 2 * COOKIE_MAC_LEN, *mac2 = msg + len - COOKIE_MAC_LEN;

	cookie_mac(mac1, m->mac1_key, 32, msg, len - 2 * COOKIE_MAC_LEN);
	memcpy(m->last_mac1, mac1, COOKIE_MAC_LEN);
	m->last_mac1_valid = true;
	if (m->cookie_valid && now >= m->cookie_birth && now - m->cookie_birth < COOKIE_LIFETIME_NS)
		cookie_mac(mac2, m->cookie, COOKIE_LEN, msg, len - COOKIE_MAC_LEN);
	else
		memset(mac2, 0, COOKIE_MAC_LEN);
}

int cookie_consume_reply(struct cookie_maker *m, const uint8_t *msg, size_t len, uint64_t now)
{
	uint8_t cookie[COOKIE_LEN];
	int rc = 0;

	if (len != COOKIE_REPLY_LEN || msg[0] != COOKIE_MSG_TYPE_REPLY || msg[1] || msg[2] || msg[3])
		return -EINVAL;
	if (!m->last_mac1_valid)
		return -ENOENT;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, NULL, NULL, msg + 8 + COOKIE_NONCE_LEN,
						       COOKIE_LEN + 16, m->last_mac1, COOKIE_MAC_LEN,
						       msg + 8, m->reply_key) != 0) {
		rc = -EBADMSG;
		goto wipe;
	}
	memcpy(m->cookie, cookie, COOKIE_LEN);
	m->cookie_birth = now;
	m->cookie_valid = true;
	m->last_mac1_valid = false;	/* one reply per message */
wipe:
	sodium_memzero(cookie, sizeof(cookie));
	return rc;
}
