/* agent_fwd: route syntax and the forwarding sysctls. */
#include "agent_fwd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int agent_route_parse(const char *text, struct ctl_prefix *p, char *err, size_t errlen)
{
	char addr[64], *end;
	uint8_t bytes[16];
	const char *slash = strchr(text, '/');
	if (!slash || (size_t)(slash - text) >= sizeof addr)
		goto bad;
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	int family = strchr(addr, ':') ? 6 : 4;
	if (inet_pton(family == 6 ? AF_INET6 : AF_INET, addr, bytes) != 1)
		goto bad;
	errno = 0;
	unsigned long bits = strtoul(slash + 1, &end, 10);
	unsigned width = family == 6 ? 128 : 32;
	if (!slash[1] || *end || errno || bits > width || slash[1] == '-' || slash[1] == '+')
		goto bad;
	memset(p, 0, sizeof *p);
	p->family = (uint8_t)family;
	p->bits = (uint8_t)bits;
	memcpy(p->addr, bytes, width / 8);
	bool host_bits = false;
	for (unsigned b = (unsigned)bits; b < width; b++) {
		uint8_t mask = (uint8_t)(0x80u >> (b % 8));
		host_bits |= (p->addr[b / 8] & mask) != 0;
		p->addr[b / 8] &= (uint8_t)~mask;
	}
	if (host_bits) {
		char want[64];
		ctl_prefix_format(want, p);
		snprintf(err, errlen, "%s has host bits set: the route is %s", text, want);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s: not a route (ADDRESS/LENGTH)", text);
	return -EINVAL;
}

static bool has_exit(const struct ctl_prefixes *r, int family)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].bits == 0 && r->v[i].family == family)
			return true;
	return false;
}

int agent_routes_check(const struct ctl_prefixes *routes, char *err, size_t errlen)
{
	bool v4 = has_exit(routes, 4), v6 = has_exit(routes, 6);
	if (v4 == v6)
		return 0;
	snprintf(err, errlen, "%s advertised without %s: an exit route comes as a pair, advertise both",
		 v4 ? "0.0.0.0/0" : "::/0", v4 ? "::/0" : "0.0.0.0/0");
	return -EINVAL;
}

static const char *sysctl_name(int family)
{
	return family == 6 ? "net.ipv6.conf.all.forwarding" : "net.ipv4.ip_forward";
}

int agent_fwd_on(const char *sysctl_dir, int family, char *value, size_t valuelen)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", sysctl_dir,
		 family == 6 ? "net/ipv6/conf/all/forwarding" : "net/ipv4/ip_forward");
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(value, (int)valuelen, f))
		value[0] = '\0';
	fclose(f);
	value[strcspn(value, "\n")] = '\0';
	return strcmp(value, "0") != 0 && value[0] != '\0';
}

static bool needs(const struct ctl_prefixes *routes, int family)
{
	for (size_t i = 0; i < routes->n; i++)
		if (routes->v[i].family == family)
			return true;
	return false;
}

int agent_fwd_check(const char *sysctl_dir, const struct ctl_prefixes *routes, char *err, size_t errlen)
{
	for (int family = 4; family <= 6; family += 2) {
		char value[32];
		if (!needs(routes, family))
			continue;
		int on = agent_fwd_on(sysctl_dir, family, value, sizeof value);
		if (on == 1)
			continue;
		if (on < 0)
			snprintf(value, sizeof value, "unreadable (%s)", strerror(-on));
		snprintf(err, errlen,
			 "IP forwarding is off: %s is %s, and a node that advertises routes forwards their "
			 "traffic; nothing was advertised.\n"
			 "Turn it on now with `sysctl -w %s=1`, and for every boot put these two lines in "
			 "/etc/sysctl.d/99-keygate.conf:\n"
			 "    net.ipv4.ip_forward = 1\n"
			 "    net.ipv6.conf.all.forwarding = 1",
			 sysctl_name(family), value, sysctl_name(family));
		return -EINVAL;
	}
	return 0;
}
