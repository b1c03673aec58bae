/* nftb_sock: the netlink sockets of an nftb handle, one-message requests,
 * and the batch: its messages numbered, sent in one sendmsg, every
 * acknowledgement read.  See nftb_impl.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "mem.h"
#include "nftb_impl.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

static struct nftb *open_one(void)
{
	struct nftb *nb = calloc(1, sizeof(*nb));
	int one = 1, err = 0;
	if (!nb)
		return NULL;
	nb->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nb->nl || mnl_socket_bind(nb->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		goto fail;
	}
	/* Extended acks name the offending attribute; capped acks keep the
	 * acknowledgements of a big batch small.  Both are best effort. */
	mnl_socket_setsockopt(nb->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nb->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	nb->portid = mnl_socket_get_portid(nb->nl);
	nb->seq = (uint32_t)time(NULL);
	return nb;
fail:
	if (nb->nl)
		mnl_socket_close(nb->nl);
	free(nb);
	errno = err;
	return NULL;
}

struct nftb *nftb_open(void)
{
	struct nftb *nb = open_one();
	/* The read-back's second socket, opened now with the first (a daemon
	 * opens what needs privilege before it drops any); without it, reading
	 * back is done on one socket. */
	if (nb)
		nb->helper = open_one();
	return nb;
}

void nftb_close(struct nftb *nb)
{
	if (!nb)
		return;
	nftm_free(nb->last);
	nftb_monitor_close(nb->mon);
	nftb_close(nb->helper);
	mnl_socket_close(nb->nl);
	free(nb);
}

uint32_t nftb_portid(const struct nftb *nb)
{
	return nb->portid;
}

/* ---- requests: one message, replies until the ack or the dump's end ---- */

/* Whether BUF (LEN bytes) holds the end of the answer to SEQ. */
static bool dump_ends(const char *buf, size_t len, uint32_t seq)
{
	int left = (int)len;
	for (const struct nlmsghdr *m = (const void *)buf; mnl_nlmsg_ok(m, left); m = mnl_nlmsg_next(m, &left))
		if (m->nlmsg_seq == seq && (m->nlmsg_type == NLMSG_DONE || m->nlmsg_type == NLMSG_ERROR))
			return true;
	return false;
}

/* After an interrupted dump: read until its end.  -EINTR, or -errno. */
static int drain_dump(struct nftb *nb, char *buf, size_t len, uint32_t seq)
{
	while (!dump_ends(buf, len, seq)) {
		ssize_t n = mnl_socket_recvfrom(nb->nl, buf, RECV_BYTES);
		if (n < 0)
			return -errno;
		len = (size_t)n;
	}
	return -EINTR;
}

/* Clear the interrupted-dump flag on the messages in BUF (LEN bytes):
 * on every one (ALL), or only on the dump's end.  The kernel flags a
 * message when the generation moved since it filled the one before; the
 * end carries no data, so a flag there only says the ruleset changed after
 * the last of the data, which is still one generation's.  Whether a flag
 * was cleared. */
static bool take_dump_intr(char *buf, size_t len, bool all)
{
	bool intr = false;
	int left = (int)len;
	for (struct nlmsghdr *m = (void *)buf; mnl_nlmsg_ok(m, left); m = mnl_nlmsg_next(m, &left)) {
		if (!(m->nlmsg_flags & NLM_F_DUMP_INTR) || (!all && m->nlmsg_type != NLMSG_DONE))
			continue;
		intr = true;
		m->nlmsg_flags &= ~NLM_F_DUMP_INTR;
	}
	return intr;
}

/* SCOPED: the dump names our table (and set), so the kernel resumes it by
 * position inside our table: a change elsewhere in the ruleset, which
 * flags it interrupted all the same, cannot make it skip or repeat
 * anything of ours.  Such a dump is read to its end and the interruption
 * noted in nb->dump_intr; whether our table changed is the monitor's to
 * say (nftb.c). */
static int talk(struct nftb *nb, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, bool scoped)
{
	char *buf = malloc(RECV_BYTES);
	int rc = 0;
	if (!buf)
		return -ENOMEM;
	if (mnl_socket_sendto(nb->nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nb->nl, buf, RECV_BYTES);
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (take_dump_intr(buf, (size_t)n, scoped) && scoped)
			nb->dump_intr = true;
		int r = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, nb->portid, cb, data);
		if (r < 0 && errno == EINTR) {
			/* The ruleset changed during the dump (NLM_F_DUMP_INTR):
			 * what was read may mix generations.  Read the dump's
			 * rest away, so the socket is clean for the retry. */
			rc = drain_dump(nb, buf, (size_t)n, nlh->nlmsg_seq);
			break;
		}
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == MNL_CB_STOP)
			break;
	}
out:
	free(buf);
	return rc;
}

int nftb_talk(struct nftb *nb, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	return talk(nb, nlh, cb, data, false);
}

int nftb_talk_scoped(struct nftb *nb, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	return talk(nb, nlh, cb, data, true);
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();
	if (!g)
		return MNL_CB_ERROR;
	if (nftnl_gen_nlmsg_parse(nlh, g) == 0 && nftnl_gen_is_set(g, NFTNL_GEN_ID))
		*(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

int nftb_genid(struct nftb *nb, uint32_t *genid)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, ++nb->seq);
	*genid = 0;
	return nftb_talk(nb, nlh, gen_cb, genid);
}

/* ---- the batch ---- */

struct nftb_msgref *nftb_batch_ref(struct nftb_batch *bt, enum msg_kind kind)
{
	if (MEM_RESERVE(bt->refs, bt->cap, bt->nrefs + 1) < 0) {
		bt->oom = true;
		return NULL;
	}
	struct nftb_msgref *r = &bt->refs[bt->nrefs++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->seq = bt->seq0 + (uint32_t)bt->nrefs;
	return r;
}

struct nlmsghdr *nftb_batch_hdr(struct nftb_batch *bt, struct nftb_msgref *r, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(nftnl_batch_buffer(bt->b), type, NFPROTO_INET,
						     flags | NLM_F_ACK, r->seq);
	r->nlh = nlh;
	return nlh;
}

void nftb_batch_next(struct nftb_batch *bt)
{
	if (nftnl_batch_update(bt->b) < 0)
		bt->oom = true;
}

void nftb_batch_begin(struct nftb_batch *bt, uint32_t genid)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nftnl_batch_buffer(bt->b));
	nlh->nlmsg_type = NFNL_MSG_BATCH_BEGIN;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = bt->begin_seq = bt->seq0;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(NFNL_SUBSYS_NFTABLES);
	mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	nftb_batch_next(bt);
}

static int ack_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

static void set_bufs(struct nftb *nb, size_t bytes, size_t msgs)
{
	int snd = (int)(bytes + 65536), rcv = (int)(msgs * 1024 + (1u << 20));
	int fd = mnl_socket_get_fd(nb->nl);
	/* FORCE needs CAP_NET_ADMIN, which changing the ruleset needs anyway;
	 * the plain option (capped by wmem_max) is the fallback. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
}

/* Send the batch in one sendmsg and read every acknowledgement.  0, or
 * -ERESTART (generation changed), or -errno with DIAGS filled. */
int nftb_batch_send(struct nftb *nb, struct nftb_ack *ak, size_t *bytes, size_t *pages)
{
	struct nftb_batch *bt = ak->bt;
	int n = nftnl_batch_iovec_len(bt->b), rc = 0;
	struct iovec *iov = calloc((size_t)n, sizeof(*iov));
	char *buf = malloc(RECV_BYTES);
	if (!iov || !buf) {
		rc = -ENOMEM;
		goto out;
	}
	nftnl_batch_iovec(bt->b, iov, (uint32_t)n);
	*bytes = 0;
	for (int i = 0; i < n; i++)
		*bytes += iov[i].iov_len;
	*pages = (size_t)n;
	set_bufs(nb, *bytes, bt->nrefs);
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct msghdr msg = { .msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = iov, .msg_iovlen = (size_t)n };
	if (sendmsg(mnl_socket_get_fd(nb->nl), &msg, 0) < 0) {
		rc = -errno;
		diag_error(ak->diags, NULL, "cannot send the batch for table inet %s (%zu bytes): %s", ak->t->name,
			   *bytes, strerror(errno));
		goto out;
	}
	/* nf_tables handles a batch inside sendmsg: every reply is queued by
	 * now.  Read until each message is acknowledged, the batch was
	 * refused as a whole, or nothing more is pending. */
	while (!ak->restart && ak->acks < bt->nrefs) {
		struct pollfd p = { mnl_socket_get_fd(nb->nl), POLLIN, 0 };
		if (poll(&p, 1, 5000) <= 0)
			break;
		ssize_t got = mnl_socket_recvfrom(nb->nl, buf, RECV_BYTES);
		if (got < 0) {
			rc = -errno;
			diag_error(ak->diags, NULL, "reading the kernel's answer for table inet %s: %s", ak->t->name,
				   strerror(errno));
			goto out;
		}
		int len = (int)got;
		for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type == NLMSG_ERROR)
				nftb_ack_error(ak, nlh);
			else
				ack_cb(nlh, ak);
		}
	}
	if (ak->restart)
		rc = -ERESTART;
	else if (ak->errors)
		rc = ak->first_err;
	else if (ak->acks < bt->nrefs) {
		rc = -ETIMEDOUT;
		diag_error(ak->diags, NULL, "table inet %s: the kernel acknowledged %zu of %zu messages", ak->t->name,
			   ak->acks, bt->nrefs);
	}
out:
	free(iov);
	free(buf);
	return rc;
}
