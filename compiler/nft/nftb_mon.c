/* nftb_mon: nf_tables events, for noticing that another process edited
 * our table.  See nftb.h. */
#include <arpa/inet.h>
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
	uint32_t gen;        /* the last generation announced (NFT_MSG_NEWGEN) */
	bool gen_seen;
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
	/* Room for the events of a busy ruleset between two reads (best
	 * effort: a loss is still reported, as ENOBUFS). */
	int room = 1 << 20;
	setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUF, &room, sizeof(room));
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

/* The generation a NFT_MSG_NEWGEN announces into M. */
static void take_gen(struct nftb_monitor *m, const struct nlmsghdr *nlh)
{
	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_GEN_ID && mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
			m->gen = ntohl(mnl_attr_get_u32(a));
			m->gen_seen = true;
		}
}

/* Whether event NLH is another process's change to our table. */
static bool touches_table(const struct nftb_monitor *m, const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	if (!event_name(NFNL_MSG_TYPE(nlh->nlmsg_type)) || (m->ignore && nlh->nlmsg_pid == m->ignore) ||
	    g->nfgen_family != NFPROTO_INET)
		return false;
	/* Attribute 1 is the table's name in every one of these. */
	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(*g))
		if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0 &&
		    strcmp(mnl_attr_get_str(a), m->table) == 0)
			return true;
	return false;
}

/* The events in BUF (LEN bytes): how many touched our table. */
static int take_events(struct nftb_monitor *m, const char *buf, int len, char *what, size_t whatlen)
{
	int count = 0;
	for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
			continue;
		if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWGEN) {
			take_gen(m, nlh);
			continue;
		}
		if (!touches_table(m, nlh))
			continue;
		count++;
		if (what)
			snprintf(what, whatlen, "%s in table inet %s by port %u",
				 event_name(NFNL_MSG_TYPE(nlh->nlmsg_type)), m->table, nlh->nlmsg_pid);
	}
	return count;
}

/* Whether M has heard of generation GENID (or a later one). */
static bool reached(const struct nftb_monitor *m, uint32_t genid)
{
	return m->gen_seen && (int32_t)(m->gen - genid) >= 0;
}

/* Read events for at most TIMEOUT_MS, or until generation *UNTIL is
 * announced when UNTIL is not NULL. */
static int read_events(struct nftb_monitor *m, int timeout_ms, const uint32_t *until, char *what, size_t whatlen)
{
	char *buf = malloc(RECV_BYTES);
	int count = 0;
	if (!buf)
		return -ENOMEM;
	struct timespec t0, tn;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!until || !reached(m, *until)) {
		clock_gettime(CLOCK_MONOTONIC, &tn);
		long spent = (tn.tv_sec - t0.tv_sec) * 1000 + (tn.tv_nsec - t0.tv_nsec) / 1000000;
		int wait = timeout_ms > spent ? (int)(timeout_ms - spent) : 0;
		struct pollfd p = { mnl_socket_get_fd(m->nl), POLLIN, 0 };
		int pr = poll(&p, 1, wait);
		if (pr <= 0) {
			if (until)
				count = -ETIMEDOUT;
			break;
		}
		ssize_t got = recv(p.fd, buf, RECV_BYTES, 0);
		if (got < 0) {
			/* ENOBUFS: events were lost; say something changed. */
			if (errno == ENOBUFS) {
				count++;
				if (what)
					snprintf(what, whatlen, "events lost (ENOBUFS)");
				if (until)
					break;   /* the announcement may be lost too */
				continue;
			}
			count = -errno;
			break;
		}
		count += take_events(m, buf, (int)got, what, whatlen);
	}
	free(buf);
	return count;
}

int nftb_monitor_read(struct nftb_monitor *m, int timeout_ms, char *what, size_t whatlen)
{
	return read_events(m, timeout_ms, NULL, what, whatlen);
}

int nftb_monitor_until(struct nftb_monitor *m, uint32_t genid, int timeout_ms, char *what, size_t whatlen)
{
	return read_events(m, timeout_ms, &genid, what, whatlen);
}

void nftb_monitor_close(struct nftb_monitor *m)
{
	if (!m)
		return;
	mnl_socket_close(m->nl);
	free(m);
}
