/* rtnl in a network namespace of its own (skipped where unshare is not
 * allowed): routes in table 52 added, replaced (no duplicate), removed; a
 * foreign route in the same table left alone by a removal and by the
 * flush; policy rules added once however often asked, found, removed;
 * addresses added and removed; removing what is not there succeeds.
 * What the kernel holds is read back with ip(8). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtnl.h"
#include "t.h"

/* The output of CMD, one string (trailing spaces kept), at most 4 KiB. */
static const char *sh(const char *cmd)
{
	static char out[4096];
	FILE *p = popen(cmd, "r");
	size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
	out[n] = '\0';
	if (p)
		pclose(p);
	return out;
}

static int route(struct rtnl *r, int lo, const char *a, uint8_t bits, bool add)
{
	uint8_t b[16] = { 0 };
	int family = strchr(a, ':') ? 6 : 4;
	if (inet_pton(family == 6 ? AF_INET6 : AF_INET, a, b) != 1)
		return -EINVAL;
	return rtnl_route(r, RTNL_TABLE, lo, (uint8_t)family, b, bits, add);
}

int main(void)
{
	if (unshare(CLONE_NEWNET) < 0) {
		T_SKIP("rtnl: cannot make a network namespace (%s)", strerror(errno));
		T_DONE();
	}
	if (system("ip -V >/dev/null 2>&1") != 0) {
		T_SKIP("rtnl: ip(8) is not installed");
		T_DONE();
	}
	struct rtnl *r = rtnl_open();
	T_CHECK(r != NULL, "rtnetlink socket opens");
	if (!r)
		T_DONE();
	int lo = (int)if_nametoindex("lo");
	T_CHECK(rtnl_link_up(r, lo) == 0, "lo set up");
	T_CHECK(strstr(sh("ip link show lo"), "UP") != NULL, "... the kernel says so");

	T_CHECK(route(r, lo, "10.1.0.0", 24, true) == 0, "route 10.1.0.0/24 added to table 52");
	T_CHECK(route(r, lo, "10.1.0.0", 24, true) == 0, "... added again (replaced)");
	T_STREQ(sh("ip route show table 52"), "10.1.0.0/24 dev lo proto 107 scope link \n",
		"... one route, with our protocol");
	T_CHECK(route(r, lo, "fd7a:115c:a1e0::", 48, true) == 0, "an IPv6 route added");
	T_CHECK(strstr(sh("ip -6 route show table 52"), "fd7a:115c:a1e0::/48 dev lo proto 107") != NULL,
		"... the kernel holds it");

	T_CHECK(system("ip route add 10.2.0.0/24 dev lo table 52 proto static") == 0, "a foreign route in table 52");
	T_CHECK(route(r, lo, "10.1.0.0", 24, false) == 0, "our route removed");
	T_CHECK(route(r, lo, "10.1.0.0", 24, false) == 0, "... removing it again succeeds");
	T_CHECK(route(r, lo, "10.2.0.0", 24, false) == 0, "removing the foreign prefix as ours succeeds ...");
	T_STREQ(sh("ip route show table 52"), "10.2.0.0/24 dev lo proto static scope link \n",
		"... and leaves the foreign route alone");

	route(r, lo, "10.3.0.0", 24, true);
	route(r, lo, "10.4.0.4", 32, true);
	unsigned removed = 0;
	T_CHECK(rtnl_route_flush(r, RTNL_TABLE, 4, &removed) == 0 && removed == 2, "flush: our 2 IPv4 routes removed");
	T_STREQ(sh("ip route show table 52"), "10.2.0.0/24 dev lo proto static scope link \n", "... the foreign one stays");
	T_CHECK(rtnl_route_flush(r, RTNL_TABLE, 6, &removed) == 0 && removed == 1, "flush: our IPv6 route removed");

	for (int i = 0; i < 2; i++) {
		T_CHECK(rtnl_rule(r, 4, 5210, RTNL_TABLE_MAIN, 0x80000, 0xff0000, true) == 0,
			"rule 5210 fwmark 0x80000/0xff0000 lookup main added (%s time)", i ? "second" : "first");
		T_CHECK(rtnl_rule(r, 4, 5270, RTNL_TABLE, 0, 0, true) == 0, "rule 5270 lookup 52 added (%s time)",
			i ? "second" : "first");
	}
	T_STREQ(sh("ip rule show | grep -E '^52[17]0:'"),
		"5210:\tfrom all fwmark 0x80000/0xff0000 lookup main\n5270:\tfrom all lookup 52\n",
		"... each rule once");
	T_CHECK(rtnl_rule_exists(r, 4, 5270, RTNL_TABLE) == 1, "rule 5270 found");
	T_CHECK(rtnl_rule(r, 6, 5270, RTNL_TABLE, 0, 0, true) == 0 &&
			strstr(sh("ip -6 rule show"), "5270:\tfrom all lookup 52") != NULL,
		"the IPv6 rule too");
	T_CHECK(rtnl_rule(r, 4, 5270, RTNL_TABLE, 0, 0, false) == 0 &&
			rtnl_rule(r, 4, 5210, RTNL_TABLE_MAIN, 0x80000, 0xff0000, false) == 0,
		"rules removed");
	T_CHECK(rtnl_rule_exists(r, 4, 5270, RTNL_TABLE) == 0 && !*sh("ip rule show | grep -E '^52[17]0:'"),
		"... gone");
	T_CHECK(rtnl_rule(r, 4, 5270, RTNL_TABLE, 0, 0, false) == 0, "removing a rule again succeeds");

	uint8_t a4[4] = { 100, 64, 0, 1 };
	T_CHECK(rtnl_addr(r, lo, 4, a4, 32, true) == 0 && rtnl_addr(r, lo, 4, a4, 32, true) == 0,
		"address 100.64.0.1/32 added (twice)");
	T_CHECK(strstr(sh("ip addr show dev lo"), "inet 100.64.0.1/32") != NULL, "... the kernel holds it");
	T_CHECK(rtnl_addr(r, lo, 4, a4, 32, false) == 0 && rtnl_addr(r, lo, 4, a4, 32, false) == 0,
		"... removed (twice)");
	T_CHECK(strstr(sh("ip addr show dev lo"), "100.64.0.1") == NULL, "... gone");
	rtnl_close(r);
	T_DONE();
}
