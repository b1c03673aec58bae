/* nftc: delete the connections keygate's table admitted that it no longer
 * allows.  See nftc.h. */
#include "nftc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "mem.h"

#define DUMP_TRIES 3
#define BUF_BYTES (1u << 16)

/* A connection to delete: its original tuple as the kernel sent it. */
struct victim {
	uint8_t family;
	uint8_t tuple[128];   /* the CTA_TUPLE_ORIG attribute, header included */
	size_t tuple_len;
	bool has_zone;
	uint16_t zone;        /* network byte order */
};

struct sweep {
	const struct nftm_table *t;
	struct victim *v;
	size_t n, cap;
	size_t marked;
	bool oom;
};

static addr_u128 addr_of(const uint8_t *p, size_t len)
{
	addr_u128 a = 0;
	for (size_t i = 0; i < len; i++)
		a = a << 8 | p[i];
	return a;
}

/* The original tuple's family, protocol, addresses and destination port
 * (0 without ports).  False when it is not IPv4 or IPv6. */
static bool parse_tuple(const struct nlattr *tuple, enum addr_family *fam, unsigned *proto, addr_u128 *src,
			addr_u128 *dst, unsigned *dport)
{
	const struct nlattr *ip = NULL, *pr = NULL, *a;
	bool have_src = false, have_dst = false;
	*proto = 0;
	*dport = 0;
	mnl_attr_for_each_nested(a, tuple) {
		if (mnl_attr_get_type(a) == CTA_TUPLE_IP)
			ip = a;
		else if (mnl_attr_get_type(a) == CTA_TUPLE_PROTO)
			pr = a;
	}
	if (!ip || !pr)
		return false;
	mnl_attr_for_each_nested(a, ip) {
		uint16_t type = mnl_attr_get_type(a), len = mnl_attr_get_payload_len(a);
		const uint8_t *p = mnl_attr_get_payload(a);
		if ((type == CTA_IP_V4_SRC || type == CTA_IP_V4_DST) && len == 4)
			*fam = ADDR_V4;
		else if ((type == CTA_IP_V6_SRC || type == CTA_IP_V6_DST) && len == 16)
			*fam = ADDR_V6;
		else
			continue;
		if (type == CTA_IP_V4_SRC || type == CTA_IP_V6_SRC) {
			*src = addr_of(p, len);
			have_src = true;
		} else {
			*dst = addr_of(p, len);
			have_dst = true;
		}
	}
	mnl_attr_for_each_nested(a, pr) {
		if (mnl_attr_get_type(a) == CTA_PROTO_NUM)
			*proto = mnl_attr_get_u8(a);
		else if (mnl_attr_get_type(a) == CTA_PROTO_DST_PORT)
			*dport = ntohs(mnl_attr_get_u16(a));
	}
	return have_src && have_dst;
}

static int conn_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sweep *sw = data;
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *orig = NULL, *zone = NULL;
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG)
			orig = a;
		else if (mnl_attr_get_type(a) == CTA_ZONE)
			zone = a;
	}
	enum addr_family fam = ADDR_V4;
	unsigned proto, dport;
	addr_u128 src = 0, dst = 0;
	if (!orig || !parse_tuple(orig, &fam, &proto, &src, &dst, &dport))
		return MNL_CB_OK;
	sw->marked++;
	if (nftm_eval(sw->t, fam, proto, src, dst, dport) || orig->nla_len > sizeof(sw->v->tuple))
		return MNL_CB_OK;
	if (mem_reserve((void **)&sw->v, &sw->cap, sw->n + 1, sizeof(*sw->v)) < 0) {
		sw->oom = true;
		return MNL_CB_ERROR;
	}
	struct victim *v = &sw->v[sw->n++];
	memset(v, 0, sizeof(*v));
	v->family = g->nfgen_family;
	v->tuple_len = orig->nla_len;
	memcpy(v->tuple, orig, orig->nla_len);
	if (zone) {
		v->has_zone = true;
		v->zone = mnl_attr_get_u16(zone);
	}
	return MNL_CB_OK;
}

static struct nlmsghdr *ct_hdr(char *buf, uint16_t type, uint16_t flags, uint8_t family, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	return nlh;
}

/* One dump of the marked connections into SW.  0, -EINTR when the kernel
 * interrupted it (entries changed meanwhile: read again), or -errno. */
static int dump(struct mnl_socket *nl, uint32_t seq, struct sweep *sw, char *buf)
{
	uint32_t portid = mnl_socket_get_portid(nl);
	struct nlmsghdr *nlh = ct_hdr(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, AF_UNSPEC, seq);
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(NFTM_FLOW_MARK));
	mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(NFTM_FLOW_MARK));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	bool intr = false;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, BUF_BYTES);
		if (n < 0)
			return -errno;
		int len = (int)n;
		for (const struct nlmsghdr *m = (const void *)buf; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			if (m->nlmsg_seq != seq || m->nlmsg_pid != portid)
				continue;
			intr = intr || (m->nlmsg_flags & NLM_F_DUMP_INTR);
			if (m->nlmsg_type == NLMSG_DONE)
				return intr ? -EINTR : 0;
			if (m->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
				return e->error ? e->error : -EPROTO;
			}
			if (conn_cb(m, sw) != MNL_CB_OK)
				return -ENOMEM;
		}
	}
}

/* Delete V.  0, or -errno (ENOENT: it ended by itself meanwhile). */
static int delete_conn(struct mnl_socket *nl, uint32_t seq, const struct victim *v, char *buf)
{
	struct nlmsghdr *nlh = ct_hdr(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, v->family, seq);
	memcpy(mnl_nlmsg_get_payload_tail(nlh), v->tuple, v->tuple_len);
	nlh->nlmsg_len += MNL_ALIGN(v->tuple_len);
	if (v->has_zone)
		mnl_attr_put_u16(nlh, CTA_ZONE, v->zone);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	ssize_t n = mnl_socket_recvfrom(nl, buf, BUF_BYTES);
	if (n < 0)
		return -errno;
	return mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), NULL, NULL) < 0 ? -errno : 0;
}

int nftc_sweep(const struct nftm_table *t, struct nftc_result *res)
{
	struct sweep sw = { .t = t };
	char *buf = malloc(BUF_BYTES);
	struct mnl_socket *nl = NULL;
	uint32_t seq = (uint32_t)time(NULL);
	int rc = -ENOMEM;
	memset(res, 0, sizeof(*res));
	if (!buf)
		goto out;
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}
	do {
		sw.n = sw.marked = 0;
		res->dumps++;
		rc = dump(nl, ++seq, &sw, buf);
	} while (rc == -EINTR && res->dumps < DUMP_TRIES);
	if (rc < 0 && rc != -EINTR)
		goto out;
	res->marked = sw.marked;
	for (size_t i = 0; i < sw.n; i++) {
		rc = delete_conn(nl, ++seq, &sw.v[i], buf);
		if (rc == -ENOENT)
			continue;
		if (rc < 0)
			goto out;
		res->cut++;
	}
	rc = 0;
out:
	if (nl)
		mnl_socket_close(nl);
	free(sw.v);
	free(buf);
	return rc;
}
