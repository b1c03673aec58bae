/* ratelimit: token buckets per source on a fake clock. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "ratelimit.h"
#include "t.h"

#define MS 1000000ull

static struct sockaddr_in v4(const char *a)
{
	struct sockaddr_in s = { .sin_family = AF_INET };
	inet_pton(AF_INET, a, &s.sin_addr);
	return s;
}

static struct sockaddr_in6 v6(const char *a)
{
	struct sockaddr_in6 s = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, a, &s.sin6_addr);
	return s;
}

/* How many of N messages from SRC, STEP apart from T0, pass. */
static unsigned passes(struct ratelimit *rl, const void *src, unsigned n, uint64_t t0, uint64_t step)
{
	unsigned ok = 0;
	for (unsigned i = 0; i < n; i++)
		ok += ratelimit_allow(rl, src, t0 + i * step);
	return ok;
}

int main(void)
{
	struct ratelimit *rl = ratelimit_new(RATELIMIT_BY_ADDR);
	struct sockaddr_in a = v4("192.0.2.1"), b = v4("192.0.2.2");
	uint64_t t = 10000 * MS;
	T_CHECK(rl != NULL, "ratelimit_new");
	T_CHECK(passes(rl, &a, 100, t, 0) == RATELIMIT_BURST,
		"a burst of 100 at one instant: exactly %d pass", RATELIMIT_BURST);
	T_CHECK(passes(rl, &b, 100, t, 0) == RATELIMIT_BURST, "another IPv4 address has its own bucket");
	T_CHECK(!ratelimit_allow(rl, (struct sockaddr *)&a, t + 49 * MS), "49 ms later: still refused (one token is 50 ms)");
	T_CHECK(ratelimit_allow(rl, (struct sockaddr *)&a, t + 50 * MS), "50 ms later: one passes");
	unsigned n = passes(rl, &a, 1000, t + 100 * MS, MS); /* 1 s, one a millisecond */
	T_CHECK(n >= RATELIMIT_PER_SEC - 1 && n <= RATELIMIT_PER_SEC + 1,
		"a steady flood of 1000/s: %u pass in 1 s (rate %d/s)", n, RATELIMIT_PER_SEC);
	T_CHECK(passes(rl, &a, 100, t + 10000 * MS, 0) == RATELIMIT_BURST,
		"after a long pause the burst is back, not more");

	struct sockaddr_in6 c = v6("2001:db8:1:2::1"), d = v6("2001:db8:1:2:ffff::9"), e = v6("2001:db8:1:3::1");
	t += 20000 * MS;
	T_CHECK(passes(rl, &c, 3, t, 0) == 3 && passes(rl, &d, 10, t, 0) == RATELIMIT_BURST - 3,
		"IPv6: two addresses in one /64 share a bucket");
	T_CHECK(passes(rl, &e, 10, t, 0) == RATELIMIT_BURST, "IPv6: another /64 has its own bucket");
	struct sockaddr un = { .sa_family = AF_UNIX };
	T_CHECK(!ratelimit_allow(rl, &un, t), "other address families are refused");

	/* Bounded table: RATELIMIT_MAX busy sources fill it; a new one is
	 * refused until the idle are forgotten. */
	t += 20000 * MS;
	unsigned admitted = 0;
	for (unsigned i = 0; i < RATELIMIT_MAX; i++) {
		struct sockaddr_in s = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i) };
		admitted += ratelimit_allow(rl, (struct sockaddr *)&s, t);
	}
	T_CHECK(admitted == RATELIMIT_MAX && ratelimit_count(rl, t) == RATELIMIT_MAX,
		"%u sources admitted, table holds %u", admitted, ratelimit_count(rl, t));
	T_CHECK(!ratelimit_allow(rl, (struct sockaddr *)&a, t + 10 * MS), "table full: a new source is refused");
	T_CHECK(ratelimit_count(rl, t + RATELIMIT_IDLE_NS) == 0, "sources idle for 1 s are forgotten");
	T_CHECK(ratelimit_allow(rl, (struct sockaddr *)&a, t + RATELIMIT_IDLE_NS), "then a new source passes");
	ratelimit_free(rl);

	/* Keyed by address and port: one port's burst leaves another's intact;
	 * keyed by address alone, the second port shares the first's. */
	struct sockaddr_in p1 = v4("198.51.100.9"), p2 = p1;
	p1.sin_port = htons(1000);
	p2.sin_port = htons(2000);
	struct ratelimit *by_port = ratelimit_new(RATELIMIT_BY_ADDR_PORT);
	struct ratelimit *by_addr = ratelimit_new(RATELIMIT_BY_ADDR);
	unsigned a1 = passes(by_port, &p1, 10, 0, 0), a2 = passes(by_port, &p2, 10, 0, 0);
	unsigned b1 = passes(by_addr, &p1, 10, 0, 0), b2 = passes(by_addr, &p2, 10, 0, 0);
	T_CHECK(a1 == RATELIMIT_BURST && a2 == RATELIMIT_BURST && b1 == RATELIMIT_BURST && b2 == 0,
		"by address and port: %u and %u of 10 pass; by address: %u and %u", a1, a2, b1, b2);
	ratelimit_free(by_port);
	ratelimit_free(by_addr);
	T_DONE();
}
