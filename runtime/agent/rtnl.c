/* rtnl: requests built with libmnl, each answered by an acknowledgement;
 * dumps (route flush, rule lookup) read until NLMSG_DONE. */
#include "rtnl.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct rtnl {
	struct mnl_socket *nl;
	uint32_t portid, seq;
	char buf[32768];	/* a whole dump message: the kernel sends up to 32 KiB */
};

struct rtnl *rtnl_open(void)
{
	struct rtnl *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!r->nl)
		goto free_r;
	if (mnl_socket_bind(r->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto close_nl;
	r->portid = mnl_socket_get_portid(r->nl);
	r->seq = (uint32_t)time(NULL);
	return r;
close_nl:
	mnl_socket_close(r->nl);
free_r:
	free(r);
	return NULL;
}

void rtnl_close(struct rtnl *r)
{
	if (!r)
		return;
	mnl_socket_close(r->nl);
	free(r);
}

static struct nlmsghdr *start(struct rtnl *r, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(r->buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++r->seq;
	return nlh;
}

/* Send NLH and run CB over the answers until the acknowledgement (or the
 * end of a dump).  0 or -errno (the kernel's error). */
static int transact(struct rtnl *r, struct nlmsghdr *nlh, mnl_cb_t cb, void *arg)
{
	uint32_t seq = nlh->nlmsg_seq;
	if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(r->nl, r->buf, sizeof r->buf);
		if (n < 0)
			return -errno;
		int rc = mnl_cb_run(r->buf, (size_t)n, seq, r->portid, cb, arg);
		if (rc < 0)
			return -errno;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

static int request(struct rtnl *r, struct nlmsghdr *nlh)
{
	return transact(r, nlh, NULL, NULL);
}

int rtnl_link_up(struct rtnl *r, int ifindex)
{
	struct nlmsghdr *nlh = start(r, RTM_NEWLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return request(r, nlh);
}

static int af(uint8_t family)
{
	return family == 6 ? AF_INET6 : AF_INET;
}

static size_t addr_len(uint8_t family)
{
	return family == 6 ? 16 : 4;
}

int rtnl_addr(struct rtnl *r, int ifindex, uint8_t family, const uint8_t *addr, uint8_t bits, bool add)
{
	struct nlmsghdr *nlh = start(r, add ? RTM_NEWADDR : RTM_DELADDR, NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0));
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
	ifa->ifa_family = (uint8_t)af(family);
	ifa->ifa_prefixlen = bits;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, addr_len(family), addr);
	mnl_attr_put(nlh, IFA_ADDRESS, addr_len(family), addr);
	if (family == 6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	int rc = request(r, nlh);
	return !add && rc == -EADDRNOTAVAIL ? 0 : rc;
}

static void put_route(struct nlmsghdr *nlh, uint32_t table, int ifindex, uint8_t family, const uint8_t *addr,
		      uint8_t bits)
{
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
	rtm->rtm_family = (uint8_t)af(family);
	rtm->rtm_dst_len = bits;
	rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTNL_PROTO;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	if (bits)
		mnl_attr_put(nlh, RTA_DST, addr_len(family), addr);
	if (ifindex)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
}

int rtnl_route(struct rtnl *r, uint32_t table, int ifindex, uint8_t family, const uint8_t *addr, uint8_t bits,
	       bool add)
{
	struct nlmsghdr *nlh = start(r, add ? RTM_NEWROUTE : RTM_DELROUTE, NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0));
	put_route(nlh, table, ifindex, family, addr, bits);
	int rc = request(r, nlh);
	return !add && (rc == -ESRCH || rc == -ENOENT) ? 0 : rc;
}

/* Routes a dump found to be ours, deleted after the dump. */
struct found {
	struct {
		uint8_t addr[16], bits;
		uint32_t oif;
	} *v;
	size_t n;
	uint32_t table;
	uint8_t family;
	int err;
};

static int route_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);
	if (mnl_attr_type_valid(a, RTA_MAX) > 0)
		tb[type] = a;
	return MNL_CB_OK;
}

static int on_route(const struct nlmsghdr *nlh, void *arg)
{
	struct found *f = arg;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = { 0 };
	mnl_attr_parse(nlh, sizeof *rtm, route_attr, tb);
	uint32_t table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (table != f->table || rtm->rtm_protocol != RTNL_PROTO)
		return MNL_CB_OK;
	void *v = realloc(f->v, (f->n + 1) * sizeof *f->v);
	if (!v) {
		f->err = -ENOMEM;
		return MNL_CB_OK;
	}
	f->v = v;
	memset(&f->v[f->n], 0, sizeof *f->v);
	f->v[f->n].bits = rtm->rtm_dst_len;
	if (tb[RTA_DST] && mnl_attr_get_payload_len(tb[RTA_DST]) == addr_len(f->family))
		memcpy(f->v[f->n].addr, mnl_attr_get_payload(tb[RTA_DST]), addr_len(f->family));
	if (tb[RTA_OIF])
		f->v[f->n].oif = mnl_attr_get_u32(tb[RTA_OIF]);
	f->n++;
	return MNL_CB_OK;
}

int rtnl_route_flush(struct rtnl *r, uint32_t table, uint8_t family, unsigned *removed)
{
	struct found f = { .table = table, .family = family };
	struct nlmsghdr *nlh = start(r, RTM_GETROUTE, NLM_F_DUMP);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
	rtm->rtm_family = (uint8_t)af(family);
	int rc = transact(r, nlh, on_route, &f);
	if (rc == 0)
		rc = f.err;
	for (size_t i = 0; rc == 0 && i < f.n; i++)
		rc = rtnl_route(r, table, (int)f.v[i].oif, family, f.v[i].addr, f.v[i].bits, false);
	if (removed)
		*removed = rc == 0 ? (unsigned)f.n : 0;
	free(f.v);
	return rc;
}

static struct nlmsghdr *put_rule(struct rtnl *r, uint16_t type, uint16_t flags, uint8_t family, uint32_t pref,
				 uint32_t table)
{
	struct nlmsghdr *nlh = start(r, type, flags);
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof *frh);
	frh->family = (uint8_t)af(family);
	frh->table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put_u32(nlh, FRA_PRIORITY, pref);
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	return nlh;
}

int rtnl_rule(struct rtnl *r, uint8_t family, uint32_t pref, uint32_t table, uint32_t mark, uint32_t mask, bool add)
{
	struct nlmsghdr *nlh = put_rule(r, add ? RTM_NEWRULE : RTM_DELRULE,
					NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0), family, pref, table);
	if (mask) {
		mnl_attr_put_u32(nlh, FRA_FWMARK, mark);
		mnl_attr_put_u32(nlh, FRA_FWMASK, mask);
	}
	int rc = request(r, nlh);
	if (add && rc == -EEXIST)
		return 0;
	return !add && rc == -ENOENT ? 0 : rc;
}

struct rule_query {
	uint32_t pref, table;
	bool found;
};

static int rule_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	if (mnl_attr_type_valid(a, FRA_MAX) > 0)
		tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static int on_rule(const struct nlmsghdr *nlh, void *arg)
{
	struct rule_query *q = arg;
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[FRA_MAX + 1] = { 0 };
	mnl_attr_parse(nlh, sizeof *frh, rule_attr, tb);
	uint32_t pref = tb[FRA_PRIORITY] ? mnl_attr_get_u32(tb[FRA_PRIORITY]) : 0;
	uint32_t table = tb[FRA_TABLE] ? mnl_attr_get_u32(tb[FRA_TABLE]) : frh->table;
	if (pref == q->pref && table == q->table)
		q->found = true;
	return MNL_CB_OK;
}

int rtnl_rule_exists(struct rtnl *r, uint8_t family, uint32_t pref, uint32_t table)
{
	struct rule_query q = { .pref = pref, .table = table };
	struct nlmsghdr *nlh = start(r, RTM_GETRULE, NLM_F_DUMP);
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof *frh);
	frh->family = (uint8_t)af(family);
	int rc = transact(r, nlh, on_rule, &q);
	return rc < 0 ? rc : q.found;
}
