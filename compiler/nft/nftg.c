/* nftg: keygated's guard table, owned by its netlink socket.  See nftg.h. */
#include "nftg.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
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

struct nftg {
	struct mnl_socket *nl;
	uint32_t portid, seq;
	char table[NFTM_NAME_MAX];
	char iface[NFTM_IFNAME_MAX];
	bool persistent;
};

void nftg_table_name(const char *iface, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s%s", NFTG_PREFIX, iface);
	for (size_t i = strlen(NFTG_PREFIX); n > 0 && i < (size_t)n && i < outlen && out[i]; i++)
		if (!(out[i] == '_' || (out[i] >= 'a' && out[i] <= 'z') || (out[i] >= 'A' && out[i] <= 'Z') ||
		      (out[i] >= '0' && out[i] <= '9')))
			out[i] = '_';
}

const char *nftg_table(const struct nftg *g)
{
	return g->table;
}

bool nftg_persistent(const struct nftg *g)
{
	return g->persistent;
}

static int ack_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	*(bool *)data = true;
	return MNL_CB_OK;
}

/* Whether table inet NAME exists: 1, 0, or -errno. */
static int table_exists(struct nftg *g)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	bool found = false;
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, ++g->seq);
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, g->table);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	if (mnl_socket_sendto(g->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(g->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		int r = mnl_cb_run(buf, (size_t)n, g->seq, g->portid, ack_cb, &found);
		if (r < 0)
			return errno == ENOENT ? 0 : -errno;
		if (r == MNL_CB_STOP)
			return found;
	}
}

static struct nlmsghdr *put_hdr(struct nftnl_batch *b, uint16_t type, uint16_t flags, uint32_t seq)
{
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(b), type, NFPROTO_INET, flags | NLM_F_ACK, seq);
}

static struct nftnl_table *guard_table(const struct nftg *g, uint32_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	if (t) {
		nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, g->table);
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	}
	return t;
}

static struct nftnl_chain *guard_chain(const struct nftg *g)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	if (c) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, g->table);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "forward");
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_FORWARD);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, NFTG_PRIORITY);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	return c;
}

/* iifname IFACE meta mark & NFTM_PASS_MARK == 0 drop */
static struct nftnl_rule *guard_rule(const struct nftg *g)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	bool ok = true;
	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, g->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "forward");
	nftb_r_ifname(r, g->iface, NFT_CMP_EQ, NFT_META_IIFNAME, &ok);
	nftb_r_mark_unset(r, NFTM_PASS_MARK, &ok);
	nftb_add_expr(r, nftb_e_verdict(NF_DROP, NULL), &ok);
	if (!ok) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

/* Send the batch in B, holding N messages that ask for an ack, and read
 * the acks.  0 or the first error (-errno). */
static int send_batch(struct nftg *g, struct nftnl_batch *b, size_t n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int first = 0;
	size_t acks = 0;
	struct iovec iov[2];
	int pages = nftnl_batch_iovec_len(b);
	if (pages > 2)   /* a few messages: they fit in the first page */
		return -EMSGSIZE;
	nftnl_batch_iovec(b, iov, (uint32_t)pages);
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct msghdr msg = { .msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = iov,
			      .msg_iovlen = (size_t)pages };
	if (sendmsg(mnl_socket_get_fd(g->nl), &msg, 0) < 0)
		return -errno;
	while (acks < n) {
		struct pollfd p = { mnl_socket_get_fd(g->nl), POLLIN, 0 };
		if (poll(&p, 1, 5000) <= 0)
			return first ? first : -ETIMEDOUT;
		ssize_t got = mnl_socket_recvfrom(g->nl, buf, sizeof(buf));
		if (got < 0)
			return -errno;
		int len = (int)got;
		for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			acks++;
			if (e->error && !first)
				first = e->error;
		}
	}
	return first;
}

/* One transaction: the old guard (if any) out, ours in with FLAGS. */
static int install(struct nftg *g, bool exists, uint32_t flags)
{
	struct nftnl_batch *b = nftnl_batch_alloc(MNL_SOCKET_BUFFER_SIZE, MNL_SOCKET_BUFFER_SIZE);
	struct nftnl_table *tdel = exists ? guard_table(g, 0) : NULL, *t = guard_table(g, flags);
	struct nftnl_chain *c = guard_chain(g);
	struct nftnl_rule *r = guard_rule(g);
	size_t n = 0;
	int rc = -ENOMEM;
	if (!b || (exists && !tdel) || !t || !c || !r)
		goto out;
	nftnl_batch_begin(nftnl_batch_buffer(b), ++g->seq);
	nftnl_batch_update(b);
	if (exists) {
		nftnl_table_nlmsg_build_payload(put_hdr(b, NFT_MSG_DELTABLE, 0, ++g->seq), tdel);
		nftnl_batch_update(b);
		n++;
	}
	nftnl_table_nlmsg_build_payload(put_hdr(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, ++g->seq), t);
	nftnl_batch_update(b);
	nftnl_chain_nlmsg_build_payload(put_hdr(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, ++g->seq), c);
	nftnl_batch_update(b);
	nftnl_rule_nlmsg_build_payload(put_hdr(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, ++g->seq), r);
	nftnl_batch_update(b);
	n += 3;
	nftnl_batch_end(nftnl_batch_buffer(b), ++g->seq);
	nftnl_batch_update(b);
	rc = send_batch(g, b, n);
out:
	nftnl_rule_free(r);
	nftnl_chain_free(c);
	nftnl_table_free(t);
	if (tdel)
		nftnl_table_free(tdel);
	if (b)
		nftnl_batch_free(b);
	return rc;
}

/* Persistent and owned where the kernel has both, else owned (a kernel
 * refuses flags it does not know with EOPNOTSUPP or EINVAL). */
static int claim(struct nftg *g)
{
	int rc = table_exists(g);
	if (rc < 0)
		return rc;
	bool exists = rc == 1;
	rc = install(g, exists, NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);
	if (rc == -EOPNOTSUPP || rc == -EINVAL) {
		g->persistent = false;
		return install(g, exists, NFT_TABLE_F_OWNER);
	}
	g->persistent = rc == 0;
	return rc;
}

struct nftg *nftg_open(const char *iface, char *err, size_t errlen)
{
	struct nftg *g = calloc(1, sizeof(*g));
	int rc;
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(g->iface, sizeof(g->iface), "%s", iface);
	nftg_table_name(iface, g->table, sizeof(g->table));
	g->seq = (uint32_t)time(NULL);
	g->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!g->nl || mnl_socket_bind(g->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open a netfilter netlink socket: %s", strerror(-rc));
		goto fail;
	}
	g->portid = mnl_socket_get_portid(g->nl);
	if ((rc = claim(g)) < 0) {
		snprintf(err, errlen, "cannot install the guard table inet %s: %s%s", g->table, strerror(-rc),
			 rc == -EPERM ? " (another process owns it, or CAP_NET_ADMIN is missing)"
			 : rc == -EOPNOTSUPP || rc == -EINVAL ? " (owned tables need Linux 5.12)" : "");
		goto fail;
	}
	return g;
fail:
	if (g->nl)
		mnl_socket_close(g->nl);
	free(g);
	errno = -rc;
	return NULL;
}

static int delete_table(struct nftg *g)
{
	struct nftnl_batch *b = nftnl_batch_alloc(MNL_SOCKET_BUFFER_SIZE, MNL_SOCKET_BUFFER_SIZE);
	struct nftnl_table *t = guard_table(g, 0);
	int rc = -ENOMEM;
	if (!b || !t)
		goto out;
	nftnl_batch_begin(nftnl_batch_buffer(b), ++g->seq);
	nftnl_batch_update(b);
	nftnl_table_nlmsg_build_payload(put_hdr(b, NFT_MSG_DELTABLE, 0, ++g->seq), t);
	nftnl_batch_update(b);
	nftnl_batch_end(nftnl_batch_buffer(b), ++g->seq);
	nftnl_batch_update(b);
	rc = send_batch(g, b, 1);
out:
	if (t)
		nftnl_table_free(t);
	if (b)
		nftnl_batch_free(b);
	return rc;
}

int nftg_close(struct nftg *g)
{
	if (!g)
		return 0;
	int rc = delete_table(g);
	mnl_socket_close(g->nl);
	free(g);
	return rc;
}
