/* nftb_mon: nf_tables events, for noticing that another process edited
 * our table.  See nftb.h. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "nftb_impl.h"

struct nftb_monitor {
	struct mnl_socket *nl;
	char table[NFTM_NAME_MAX];
	uint32_t ignore;
};

struct nftb_monitor *nftb_monitor_open(const char *table, uint32_t ignore_portid)
{
	struct nftb_monitor *m = calloc(1, sizeof(*m));
	int err;
	if (!m)
		return NULL;
	snprintf(m->table, sizeof(m->table), "%s", table);
	m->ignore = ignore_portid;
	m->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!m->nl || mnl_socket_bind(m->nl, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		if (m->nl)
			mnl_socket_close(m->nl);
		free(m);
		errno = err;
		return NULL;
	}
	return m;
}

int nftb_monitor_fd(const struct nftb_monitor *m)
{
	return mnl_socket_get_fd(m->nl);
}

static const char *event_name(unsigned type)
{
	switch (type) {
	case NFT_MSG_NEWTABLE: return "table created";
	case NFT_MSG_DELTABLE: return "table deleted";
	case NFT_MSG_NEWCHAIN: return "chain created";
	case NFT_MSG_DELCHAIN: return "chain deleted";
	case NFT_MSG_NEWRULE: return "rule added";
	case NFT_MSG_DELRULE: return "rule deleted";
	case NFT_MSG_NEWSET: return "set created";
	case NFT_MSG_DELSET: return "set deleted";
	case NFT_MSG_NEWSETELEM: return "elements added";
	case NFT_MSG_DELSETELEM: return "elements deleted";
	}
	return NULL;
}

int nftb_monitor_read(struct nftb_monitor *m, int timeout_ms, char *what, size_t whatlen)
{
	char *buf = malloc(RECV_BYTES);
	int count = 0;
	if (!buf)
		return -ENOMEM;
	struct timespec t0, tn;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &tn);
		long spent = (tn.tv_sec - t0.tv_sec) * 1000 + (tn.tv_nsec - t0.tv_nsec) / 1000000;
		int wait = timeout_ms > spent ? (int)(timeout_ms - spent) : 0;
		struct pollfd p = { mnl_socket_get_fd(m->nl), POLLIN, 0 };
		int pr = poll(&p, 1, wait);
		if (pr <= 0)
			break;
		ssize_t got = recv(p.fd, buf, RECV_BYTES, 0);
		if (got < 0) {
			/* ENOBUFS: events were lost; say something changed. */
			if (errno == ENOBUFS) {
				count++;
				if (what)
					snprintf(what, whatlen, "events lost (ENOBUFS)");
				continue;
			}
			count = -errno;
			break;
		}
		int len = (int)got;
		for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			unsigned type = NFNL_MSG_TYPE(nlh->nlmsg_type);
			const char *ev = event_name(type);
			if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES || !ev ||
			    (m->ignore && nlh->nlmsg_pid == m->ignore))
				continue;
			const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
			if (g->nfgen_family != NFPROTO_INET)
				continue;
			/* Attribute 1 is the table's name in every one of these. */
			const struct nlattr *a;
			bool ours = false;
			mnl_attr_for_each(a, nlh, sizeof(*g))
				if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0 &&
				    strcmp(mnl_attr_get_str(a), m->table) == 0)
					ours = true;
			if (!ours)
				continue;
			count++;
			if (what)
				snprintf(what, whatlen, "%s in table inet %s by port %u", ev, m->table, nlh->nlmsg_pid);
		}
	}
	free(buf);
	return count;
}

void nftb_monitor_close(struct nftb_monitor *m)
{
	if (!m)
		return;
	mnl_socket_close(m->nl);
	free(m);
}
