/* Unit tests for cookie: source bytes, mac1/mac2 checks, secret and cookie
 * lifetimes (120 s), replies and their refusal cases. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include <sodium.h>

#include "cookie.h"
#include "t.h"
#include "wghex.h"

#define SEC 1000000000ULL
#define T0 (50 * SEC)

static void test_src_bytes(void)
{
	struct sockaddr_in in4 = { .sin_family = AF_INET, .sin_port = htons(51820) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(51820) };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	uint8_t out[COOKIE_SRC_MAX];
	char hex[2 * COOKIE_SRC_MAX + 1];

	inet_pton(AF_INET, "192.0.2.1", &in4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	int n = cookie_src_bytes(out, (struct sockaddr *)&in4);
	T_CHECK(n == 6, "cookie: IPv4 source is 6 bytes");
	T_STREQ(wghex_encode(hex, out, 6), "c00002016cca", "cookie: 192.0.2.1:51820 -> address then port little-endian (as the KAT)");
	n = cookie_src_bytes(out, (struct sockaddr *)&in6);
	T_CHECK(n == 18, "cookie: IPv6 source is 18 bytes");
	T_STREQ(wghex_encode(hex, out, 18), "20010db80000000000000000000000016cca", "cookie: [2001:db8::1]:51820 bytes");
	T_CHECK(cookie_src_bytes(out, (struct sockaddr *)&un) == -EAFNOSUPPORT, "cookie: AF_UNIX refused");
}

/* A 148-byte message from MAKER (its mac1/mac2 filled at NOW). */
static void message(uint8_t msg[148], struct cookie_maker *m, uint32_t sender, uint64_t now)
{
	memset(msg, 0x42, 148);
	msg[0] = 1;
	msg[1] = msg[2] = msg[3] = 0;
	memcpy(msg + 4, &sender, 4);
	cookie_add_macs(m, msg, 148, now);
}

static void test_mac1(void)
{
	uint8_t pub[32], other[32], msg[148];
	struct cookie_checker c;
	struct cookie_maker m, wrong;

	randombytes_buf(pub, 32);
	randombytes_buf(other, 32);
	cookie_checker_init(&c, pub);
	cookie_maker_init(&m, pub);
	cookie_maker_init(&wrong, other);
	message(msg, &m, 1, T0);
	T_CHECK(cookie_check_mac1(&c, msg, 148), "cookie: mac1 keyed with our public key accepted");
	T_CHECK(sodium_is_zero(msg + 132, 16), "cookie: mac2 is zero without a cookie");
	msg[10] ^= 1;
	T_CHECK(!cookie_check_mac1(&c, msg, 148), "cookie: mac1 refused after a body byte changed");
	message(msg, &wrong, 1, T0);
	T_CHECK(!cookie_check_mac1(&c, msg, 148), "cookie: mac1 keyed with another public key refused");
	T_CHECK(!cookie_check_mac1(&c, msg, 31), "cookie: a message shorter than the macs refused");
	T_CHECK(!cookie_check_mac2(&c, msg, 148, (const uint8_t *)"abcdef", 6, T0),
		"cookie: mac2 refused while the checker has no secret");
}

static void test_reply_cycle(void)
{
	uint8_t pub[32], msg[148], reply[64], src[6] = { 10, 0, 0, 1, 0x6c, 0xca }, src2[6] = { 10, 0, 0, 2, 0x6c, 0xca };
	struct cookie_checker c;
	struct cookie_maker m;

	randombytes_buf(pub, 32);
	cookie_checker_init(&c, pub);
	cookie_maker_init(&m, pub);

	message(msg, &m, 0x11223344, T0);
	T_CHECK(cookie_consume_reply(&m, reply, 63, T0) == -EINVAL, "cookie: a 63-byte reply refused");
	T_CHECK(cookie_create_reply(&c, reply, msg, 39, src, 6, T0, NULL) == -EINVAL,
		"cookie: no reply to a message too short to carry macs");
	T_CHECK(cookie_create_reply(&c, reply, msg, 148, src, 6, T0, NULL) == 0, "cookie: reply made (random nonce)");
	T_CHECK(reply[0] == 3 && !reply[1] && !reply[2] && !reply[3] && !memcmp(reply + 4, msg + 4, 4),
		"cookie: reply is type 3 addressed to the message's sender index");
	T_CHECK(c.secret_valid && c.secret_birth == T0, "cookie: the secret was drawn when first needed");

	uint8_t bad[64];
	static const struct { const char *name; size_t off; } flips[] = {
		{ "nonce", 8 }, { "encrypted cookie", 32 }, { "tag", 63 },
	};
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(bad, reply, 64);
		bad[flips[i].off] ^= 0x80;
		T_CHECK(cookie_consume_reply(&m, bad, 64, T0) == -EBADMSG, "cookie: reply with a flipped %s byte refused",
			flips[i].name);
	}
	memcpy(bad, reply, 64);
	bad[0] = 2;
	T_CHECK(cookie_consume_reply(&m, bad, 64, T0) == -EINVAL, "cookie: a reply with type 2 refused");
	T_CHECK(!m.cookie_valid, "cookie: no cookie kept from refused replies");

	T_CHECK(cookie_consume_reply(&m, reply, 64, T0 + SEC) == 0 && m.cookie_valid, "cookie: genuine reply accepted");
	T_CHECK(cookie_consume_reply(&m, reply, 64, T0 + SEC) == -ENOENT, "cookie: the same reply again refused (one per message)");

	message(msg, &m, 0x11223344, T0 + 2 * SEC);
	T_CHECK(!sodium_is_zero(msg + 132, 16) && cookie_check_mac2(&c, msg, 148, src, 6, T0 + 2 * SEC),
		"cookie: the next message carries a mac2 the checker accepts");
	T_CHECK(!cookie_check_mac2(&c, msg, 148, src2, 6, T0 + 2 * SEC), "cookie: that mac2 is refused from another address");
	msg[140] ^= 1;
	T_CHECK(!cookie_check_mac2(&c, msg, 148, src, 6, T0 + 2 * SEC), "cookie: a flipped mac2 refused");

	/* A reply to an older message no longer matches our last mac1. */
	uint8_t old_reply[64];
	cookie_create_reply(&c, old_reply, msg, 148, src, 6, T0 + 2 * SEC, NULL);
	message(msg, &m, 0x55667788, T0 + 3 * SEC);
	T_CHECK(cookie_consume_reply(&m, old_reply, 64, T0 + 3 * SEC) == -EBADMSG,
		"cookie: a reply to an earlier message refused (aad is the last mac1)");

	/* Lifetimes: the maker's cookie and the checker's secret last 120 s. */
	message(msg, &m, 1, T0 + SEC + COOKIE_LIFETIME_NS - 1);
	T_CHECK(!sodium_is_zero(msg + 132, 16), "cookie: the cookie is still used 120 s - 1 ns after it arrived");
	message(msg, &m, 1, T0 + SEC + COOKIE_LIFETIME_NS);
	T_CHECK(sodium_is_zero(msg + 132, 16), "cookie: mac2 is zero again 120 s after the cookie arrived");

	uint8_t ck1[16], ck2[16], secret[32];
	memset(secret, 0x66, 32);
	cookie_checker_set_secret(&c, secret, T0);
	cookie_compute(&c, ck1, src, 6, T0 + COOKIE_LIFETIME_NS - 1);
	T_CHECK(!memcmp(c.secret, secret, 32), "cookie: the secret is kept for 120 s - 1 ns");
	m.cookie_valid = true;
	memcpy(m.cookie, ck1, 16);
	m.cookie_birth = T0;
	message(msg, &m, 1, T0 + SEC);
	T_CHECK(cookie_check_mac2(&c, msg, 148, src, 6, T0 + COOKIE_LIFETIME_NS - 1), "cookie: mac2 valid while the secret is fresh");
	T_CHECK(!cookie_check_mac2(&c, msg, 148, src, 6, T0 + COOKIE_LIFETIME_NS), "cookie: mac2 refused once the secret is 120 s old");
	cookie_compute(&c, ck2, src, 6, T0 + COOKIE_LIFETIME_NS);
	T_CHECK(memcmp(c.secret, secret, 32) && memcmp(ck1, ck2, 16) && c.secret_birth == T0 + COOKIE_LIFETIME_NS,
		"cookie: a new secret (and cookie) after 120 s");

	cookie_checker_wipe(&c);
	cookie_maker_wipe(&m);
	T_CHECK(sodium_is_zero((const unsigned char *)&c, sizeof(c)) && sodium_is_zero((const unsigned char *)&m, sizeof(m)),
		"cookie: wipe leaves only zeros");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_src_bytes();
	test_mac1();
	test_reply_cycle();
	T_DONE();
}
