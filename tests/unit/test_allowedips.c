/* allowedips: table-driven longest-prefix-match checks for IPv4 and IPv6. */
#include "allowedips.h"
#include "t.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

static char peers[8]; /* peer identities: &peers[i] */
static struct allowedips_owned owned[8]; /* their prefixes */
#define P(i) ((void *)&peers[i])

struct route { const char *prefix; int peer; };
struct probe { const char *addr; int peer; /* -1: none */ };

static int parse(const char *s, int *family, uint8_t *addr, uint8_t *cidr)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%s", s);
	char *slash = strchr(buf, '/');
	*family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (slash) {
		*slash = 0;
		*cidr = (uint8_t)atoi(slash + 1);
	} else {
		*cidr = *family == AF_INET ? 32 : 128;
	}
	return inet_pton(*family, buf, addr) == 1 ? 0 : -1;
}

static void add(struct allowedips *t, const char *prefix, int peer)
{
	int fam; uint8_t a[16], c;
	parse(prefix, &fam, a, &c);
	T_CHECK(allowedips_insert(t, fam, a, c, P(peer), &owned[peer]) == 0, "insert %s -> peer %d", prefix, peer);
}

static void probe(const struct allowedips *t, const char *addr, int want, const char *when)
{
	int fam; uint8_t a[16], c;
	parse(addr, &fam, a, &c);
	void *got = allowedips_lookup(t, fam, a);
	int gi = got ? (int)((char *)got - peers) : -1;
	T_CHECK(gi == want, "%s: lookup %s gives peer %d (got %d)", when, addr, want, gi);
}

struct collect { char out[512]; };
static int collect_fn(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct collect *c = ctx;
	char a[64];
	inet_ntop(family, addr, a, sizeof a);
	size_t n = strlen(c->out);
	snprintf(c->out + n, sizeof c->out - n, "%s%s/%u", n ? " " : "", a, cidr);
	return 0;
}

static const char *list(const struct allowedips *t, int peer)
{
	static struct collect c;
	c.out[0] = 0;
	(void)t;
	allowedips_walk_peer(&owned[peer], collect_fn, &c);
	return c.out;
}

static int count_fn(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	(void)family, (void)addr, (void)cidr;
	(*(size_t *)ctx)++;
	return 0;
}

/* Prefix I of the random test: a /26 for even I, for odd I a /32 inside the
 * /26 before it.  Returns the CIDR. */
static uint8_t slot_prefix(int i, uint8_t a[4])
{
	int j = i / 2;
	a[0] = 10;
	a[1] = (uint8_t)(j / 4);
	a[2] = (uint8_t)(j % 4 * 64);
	a[3] = i % 2 ? 5 : 0;
	return i % 2 ? 32 : 26;
}

/* Random inserts, moves and removals against a plain reference (which
 * prefix belongs to whom): each peer's list holds exactly its prefixes,
 * lookups agree, and removing every peer through its list empties the trie. */
static void random_ops(struct allowedips *t)
{
	enum { SLOTS = 512, OPS = 20000 };
	static int owner[SLOTS]; /* prefix i: see slot_prefix; -1 none */
	size_t want[8] = { 0 };
	bool lists_ok = true, lookups_ok = true;
	srandom(7);
	for (int i = 0; i < SLOTS; i++)
		owner[i] = -1;
	for (int k = 0; k < OPS; k++) {
		int i = (int)(random() % SLOTS), peer = (int)(random() % 8);
		uint8_t a[4], cidr = slot_prefix(i, a);
		if (random() % 3 == 0) {
			int rc = allowedips_remove(t, AF_INET, a, cidr, P(owner[i] < 0 ? 0 : owner[i]));
			if ((rc == 0) != (owner[i] >= 0))
				lookups_ok = false;
			owner[i] = -1;
		} else if (allowedips_insert(t, AF_INET, a, cidr, P(peer), &owned[peer]) == 0) {
			owner[i] = peer;
		}
	}
	for (int i = 0; i < SLOTS; i++)
		if (owner[i] >= 0)
			want[owner[i]]++;
	for (int p = 0; p < 8; p++) {
		size_t got = 0;
		allowedips_walk_peer(&owned[p], count_fn, &got);
		lists_ok &= got == want[p];
	}
	for (int i = 1; i < SLOTS; i += 2) {
		uint8_t a[4];
		slot_prefix(i, a);
		int expect = owner[i] >= 0 ? owner[i] : owner[i - 1];
		void *got = allowedips_lookup(t, AF_INET, a);
		lookups_ok &= got == (expect >= 0 ? P(expect) : NULL);
	}
	T_CHECK(lookups_ok, "random operations: removals and lookups agree with the reference");
	T_CHECK(lists_ok, "random operations: each peer's list holds exactly the prefixes it owns");
	for (int p = 0; p < 8; p++)
		allowedips_remove_peer(t, &owned[p]);
	T_CHECK(allowedips_nodes(t) == 0 && !owned[3].first && !owned[3].last,
		"random operations: removing each peer through its list empties the trie (%zu nodes left)",
		allowedips_nodes(t));
}

int main(void)
{
	static const struct route routes[] = {
		{ "0.0.0.0/0", 0 },
		{ "10.0.0.0/8", 1 },
		{ "10.1.0.0/16", 2 },
		{ "10.1.2.3/32", 3 },
		{ "10.1.2.0/24", 4 },
		{ "192.168.7.0/25", 5 },
		{ "192.168.7.128/25", 6 },
		{ "10.200.0.77/8", 1 },     /* host bits ignored, same prefix as above */
		{ "::/0", 0 },
		{ "fd00::/8", 1 },
		{ "fd00:1::/32", 2 },
		{ "fd00:1::5/128", 3 },
		{ "2001:db8::/33", 4 },
		{ "2001:db8:8000::/33", 5 },
	};
	static const struct probe probes[] = {
		{ "8.8.8.8", 0 }, { "10.9.9.9", 1 }, { "10.1.9.9", 2 }, { "10.1.2.3", 3 },
		{ "10.1.2.4", 4 }, { "10.1.2.255", 4 }, { "10.1.3.0", 2 }, { "192.168.7.1", 5 },
		{ "192.168.7.200", 6 }, { "192.168.8.1", 0 }, { "11.0.0.0", 0 },
		{ "2001:4860::1", 0 }, { "fd99::1", 1 }, { "fd00:1::4", 2 }, { "fd00:1::5", 3 },
		{ "2001:db8::1", 4 }, { "2001:db8:ffff::1", 5 },
	};
	struct allowedips *t = allowedips_new();
	T_CHECK(t != NULL, "new table");
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
		add(t, routes[i].prefix, routes[i].peer);
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
		probe(t, probes[i].addr, probes[i].peer, "full table");

	T_STREQ(list(t, 1), "10.0.0.0/8 fd00::/8", "walk lists peer 1's prefixes once, host bits cleared");
	T_STREQ(list(t, 4), "10.1.2.0/24 2001:db8::/33", "walk lists peer 4's prefixes");

	/* Bad input is refused. */
	uint8_t a[16] = { 10 };
	T_CHECK(allowedips_insert(t, AF_INET, a, 33, P(1), &owned[1]) == -EINVAL, "cidr 33 refused for IPv4");
	T_CHECK(allowedips_insert(t, AF_INET6, a, 129, P(1), &owned[1]) == -EINVAL, "cidr 129 refused for IPv6");
	T_CHECK(allowedips_insert(t, 12345, a, 8, P(1), &owned[1]) == -EINVAL, "unknown family refused");

	/* Reassigning a prefix moves it. */
	add(t, "10.1.2.0/24", 7);
	probe(t, "10.1.2.4", 7, "after moving 10.1.2.0/24 to peer 7");
	T_STREQ(list(t, 4), "2001:db8::/33", "peer 4 lost the moved prefix");

	/* Removal of one prefix, then of a whole peer. */
	int fam; uint8_t c;
	parse("10.1.2.3/32", &fam, a, &c);
	T_CHECK(allowedips_remove(t, fam, a, c, P(2)) == -ENOENT, "remove with the wrong owner fails");
	T_CHECK(allowedips_remove(t, fam, a, c, P(3)) == 0, "remove 10.1.2.3/32");
	probe(t, "10.1.2.3", 7, "after removing the /32");
	allowedips_remove_peer(t, &owned[0]);
	probe(t, "8.8.8.8", -1, "after removing peer 0 (/0)");
	probe(t, "2001:4860::1", -1, "after removing peer 0 (::/0)");
	probe(t, "10.9.9.9", 1, "peer 1 survives removal of peer 0");
	for (int i = 1; i < 8; i++)
		allowedips_remove_peer(t, &owned[i]);
	T_CHECK(allowedips_nodes(t) == 0, "removing every peer frees every node (%zu left)", allowedips_nodes(t));
	probe(t, "10.1.2.4", -1, "empty table");

	/* /0 and /32 on their own; an exact host route inside a /0. */
	add(t, "0.0.0.0/0", 1);
	add(t, "1.2.3.4/32", 2);
	probe(t, "1.2.3.4", 2, "/32 inside /0");
	probe(t, "1.2.3.5", 1, "/0 catches the neighbour");
	probe(t, "255.255.255.255", 1, "/0 catches all-ones");
	allowedips_remove_peer(t, &owned[1]);
	allowedips_remove_peer(t, &owned[2]);
	random_ops(t);
	allowedips_free(t);
	T_DONE();
}
