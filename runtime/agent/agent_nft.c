/* agent_nft: netmap filter -> IR -> nftm -> nftb; deleting the table is one
 * NFT_MSG_DELTABLE in a batch of its own. */
#include "agent_nft.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <malloc.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "agent_fpatch.h"
#include "ir.h"
#include "log.h"
#include "nftb.h"
#include "nftc.h"
#include "nftm.h"
#include "ts.h"

struct agent_nft {
	struct nftb *nb;
	struct nftm_table *applied;	/* the table the last apply made: what a repair makes again */
	bool swept;			/* every open connection APPLIED's sweep saw, it admits */
	/* What a filter patch applies to: APPLIED's filter, as text and by
	 * rule, and the node's addresses, source NAT, served routes and source
	 * NAT addresses it was made for. */
	struct agent_fpatch *fp;
	char *text;
	struct ctl_prefixes self, served;
	bool snat;
	struct nftm_snat_to snat_to;
	bool patched;			/* the last apply was a patch */
	char table[NFTM_NAME_MAX], iface[NFTM_IFNAME_MAX];
	double last_ms;
	/* Watching for other processes' edits (agent_nft_watch). */
	struct ev_loop *loop;
	agent_nft_tamper_fn *on_tamper;
	void *arg;
	struct nftb_monitor *mon;
	struct ev_watch mon_w;
};

struct agent_nft *agent_nft_new(const char *table, const char *iface)
{
	struct agent_nft *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	snprintf(n->table, sizeof n->table, "%s", table ? table : NFTM_DEFAULT_TABLE);
	snprintf(n->iface, sizeof n->iface, "%s", iface);
	return n;
}

static void unwatch(struct agent_nft *n)
{
	if (!n->mon)
		return;
	ev_watch_del(n->loop, &n->mon_w);
	nftb_monitor_close(n->mon);
	n->mon = NULL;
}

/* Nothing a patch could apply to: the next apply builds from scratch. */
static void forget_filter(struct agent_nft *n)
{
	agent_fpatch_free(n->fp);
	n->fp = NULL;
	free(n->text);
	n->text = NULL;
	ctl_prefixes_free(&n->self);
	ctl_prefixes_free(&n->served);
}

void agent_nft_free(struct agent_nft *n)
{
	if (!n)
		return;
	unwatch(n);
	nftm_free(n->applied);
	forget_filter(n);
	nftb_close(n->nb);
	free(n);
}

void agent_nft_watch(struct agent_nft *n, struct ev_loop *loop, agent_nft_tamper_fn *fn, void *arg)
{
	n->loop = loop;
	n->on_tamper = fn;
	n->arg = arg;
}

void agent_nft_keep_heap(void)
{
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 32 << 20);
}

double agent_nft_last_ms(const struct agent_nft *n)
{
	return n->last_ms;
}

bool agent_nft_last_patched(const struct agent_nft *n)
{
	return n->patched;
}

/* After a full apply of M: keep its filter by rule (RULES, taken over)
 * and what else made the table, for the patches that follow. */
static void keep_filter(struct agent_nft *n, cJSON *rules, const struct ctl_netmap *m,
			const struct ctl_prefixes *served, const struct nftm_snat_to *snat_to)
{
	forget_filter(n);
	n->snat = m->snat;
	n->snat_to = *snat_to;
	if (!(n->text = strdup(m->filter ? m->filter : "[]")) || ctl_prefixes_copy(&n->self, &m->self.addresses) < 0 ||
	    ctl_prefixes_copy(&n->served, served) < 0) {
		cJSON_Delete(rules);
		forget_filter(n);
	} else if (!(n->fp = agent_fpatch_new(rules))) {
		forget_filter(n);
	}
}

static int to_set(const struct ctl_prefixes *p, struct addr_set *s)
{
	int rc = 0;
	for (size_t i = 0; i < p->n && rc == 0; i++) {
		enum addr_family fam = p->v[i].family == 6 ? ADDR_V6 : ADDR_V4;
		unsigned width = fam == ADDR_V6 ? 128 : 32;
		addr_u128 lo = 0;
		for (unsigned b = 0; b < width / 8; b++)
			lo = (lo << 8) | p->v[i].addr[b];
		addr_u128 host = p->v[i].bits >= width ? 0 : (((addr_u128)1 << (width - p->v[i].bits)) - 1);
		if (p->v[i].bits == 0)
			host = addr_family_max(fam);
		rc = addr_set_add(s, fam, lo, lo | host);
	}
	if (rc == 0)
		addr_set_merge(s);
	return rc;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Access removed is access gone (nftc.h): after every commit, the open
 * connections the table had admitted and now denies are deleted, so that
 * a peer removed, expired or revoked, or a policy change, stops them on
 * their next packet.  A failed sweep leaves the table applied: logged. */
static void cut(struct agent_nft *n)
{
	struct nftc_result cr;
	int rc = nftc_sweep(n->applied, &cr);
	n->swept = rc >= 0;
	if (rc < 0)
		log_err("%s: table inet %s applied, but open connections were not re-checked: %s", n->iface, n->table,
			strerror(-rc));
	else if (cr.cut)
		log_info("%s: %zu open connection%s cut that the filter no longer allows (of %zu it had admitted)",
			 n->iface, cr.cut, cr.cut == 1 ? "" : "s", cr.marked);
}

/* Make the kernel's table N->applied again (an edit from outside changed
 * the generation, so nftb reads the kernel's copy back and mends what
 * differs: elements, rules, chains, flags, or the whole table).  0 or
 * -errno with a reason in ERR. */
static int repair(struct agent_nft *n, char *err, size_t errlen)
{
	struct nftb_opts bo = { 0 };
	struct nftb_result res = { 0 };
	struct diag_list diags = { 0 };
	int rc = nftb_apply(n->nb, n->applied, &bo, &res, &diags);
	if (rc < 0)
		snprintf(err, errlen, "%s", diags.n ? diags.items[0].msg : strerror(-rc));
	else
		cut(n);	/* what a forged element let in */
	nftb_result_free(&res);
	diag_list_free(&diags);
	return rc;
}

/* Events on our table: from another process (ours carry our port id and
 * are not counted), they are tampering; the table is made again at once. */
static int on_events(void *arg, uint32_t events)
{
	struct agent_nft *n = arg;
	char what[200] = "", err[256] = "";
	(void)events;
	int got = nftb_monitor_read(n->mon, 0, what, sizeof what);
	if (got < 0)
		log_warn("%s: reading nf_tables events: %s", n->iface, strerror(-got));
	if (got <= 0 || !n->applied)
		return 0;
	double t0 = now_ms();
	int rc = repair(n, err, sizeof err);
	n->on_tamper(n->arg, what, rc < 0 ? err : NULL, now_ms() - t0);
	return 0;
}

/* Start watching once there is a table and a socket whose port id marks
 * our own changes.  Without a monitor the filter still works: say so. */
static void watch(struct agent_nft *n)
{
	if (!n->loop || n->mon)
		return;
	if (!(n->mon = nftb_monitor_open(n->table, nftb_portid(n->nb)))) {
		log_warn("%s: cannot watch table inet %s for other processes' edits: %s", n->iface, n->table,
			 strerror(errno));
		return;
	}
	n->mon_w = (struct ev_watch){ .fd = nftb_monitor_fd(n->mon), .events = EPOLLIN, .fn = on_events, .arg = n };
	int rc = ev_watch_add(n->loop, &n->mon_w);
	if (rc < 0) {
		log_warn("%s: cannot watch table inet %s: %s", n->iface, n->table, strerror(-rc));
		nftb_monitor_close(n->mon);
		n->mon = NULL;
	}
}

/* The first diagnostic's text, or strerror. */
static void reason(char *err, size_t errlen, const char *what, const struct diag_list *d, int rc)
{
	snprintf(err, errlen, "%s: %s", what, d->n ? d->items[0].msg : strerror(-rc));
}

/* What a table for M is built with: M's addresses and SERVED as sets in
 * *SELF and *ROUTES (the caller frees them, also on failure), and the
 * options in *OPTS.  0 or -errno with a reason in ERR. */
static int build_inputs(const struct agent_nft *n, const struct ctl_netmap *m, const struct ctl_prefixes *served,
			const struct nftm_snat_to *snat_to, struct addr_set *self, struct addr_set *routes,
			struct nftm_opts *opts, char *err, size_t errlen)
{
	int rc;
	if ((rc = to_set(&m->self.addresses, self)) < 0 || (rc = to_set(served, routes)) < 0) {
		snprintf(err, errlen, "filter: %s", strerror(-rc));
		return rc;
	}
	*opts = (struct nftm_opts){ .table = n->table, .iface = n->iface, .no_snat = !m->snat,
				    .snat_to = m->snat ? *snat_to : (struct nftm_snat_to){ 0 } };
	return 0;
}

int agent_nft_apply(struct agent_nft *n, const struct ctl_netmap *m, const struct ctl_prefixes *served,
		    const struct nftm_snat_to *snat_to, char *err,
		    size_t errlen)
{
	struct ir_flows flows = { 0 };
	struct addr_set self = { 0 }, routes = { 0 };
	struct diag_list diags = { 0 };
	struct nftb_result res = { 0 };
	struct nftm_table *t = NULL;
	int rc;
	double t0 = now_ms();
	cJSON *rules = cJSON_Parse(m->filter ? m->filter : "[]");
	if (!rules) {
		snprintf(err, errlen, "filter: not JSON");
		return -EINVAL;
	}
	if ((rc = ts_rules_to_ir(rules, &flows, err, errlen)) < 0)
		goto free_rules;
	struct nftm_opts opts;
	if ((rc = build_inputs(n, m, served, snat_to, &self, &routes, &opts, err, errlen)) < 0)
		goto free_sets;
	struct nftm_node node = { &self, &routes };
	if (!(t = nftm_build(&opts, &node, &flows))) {
		rc = -errno;
		snprintf(err, errlen, "filter: building the table: %s", strerror(-rc));
		goto free_sets;
	}
	if (!n->nb && !(n->nb = nftb_open())) {
		rc = -errno;
		snprintf(err, errlen, "filter: cannot open a netlink socket to nf_tables: %s", strerror(-rc));
		goto free_table;
	}
	struct nftb_opts bo = { .flows = &flows };
	if ((rc = nftb_apply(n->nb, t, &bo, &res, &diags)) < 0) {
		reason(err, errlen, "filter", &diags, rc);
	} else {
		/* A change that takes nothing away (a group gains a member)
		 * leaves every connection the last sweep kept admitted:
		 * reading the conntrack table again would cost ~2.5 ms (the
		 * kernel walks every hash bucket) and cut nothing.  Only when
		 * the kernel held exactly our last table until this commit
		 * (the generation unchanged, res.cached): an element someone
		 * else slipped in may have admitted connections of its own. */
		bool recheck = !res.cached || !n->applied || !n->swept || !nftm_admits_all(t, n->applied);
		nftm_free(n->applied);
		n->applied = t;
		t = NULL;
		if (recheck)
			cut(n);
		watch(n);
		keep_filter(n, rules, m, served, snat_to);
		rules = NULL;
	}
	n->patched = false;
	if (rc < 0)
		forget_filter(n);
	n->last_ms = now_ms() - t0;
	nftb_result_free(&res);
	diag_list_free(&diags);
free_table:
	nftm_free(t);
free_sets:
	addr_set_free(&self);
	addr_set_free(&routes);
	ir_free(&flows);
free_rules:
	cJSON_Delete(rules);
	return rc;
}

/* M differs from what made the last table only in its filter, if at all
 * (compared by content: deltas that changed no filter may have come
 * between, unseen here). */
static bool same_node(const struct agent_nft *n, const struct ctl_netmap *m, const struct ctl_prefixes *served,
		      const struct nftm_snat_to *snat_to)
{
	return n->applied && n->fp && n->nb && n->snat == m->snat && ctl_prefixes_equal(&n->self, &m->self.addresses) &&
	       ctl_prefixes_equal(&n->served, served) && !memcmp(&n->snat_to, snat_to, sizeof(*snat_to));
}

/* M's filter, in *TEXT, when the table was made from OLD, the filter D's
 * patch was made against (the caller made M's filter by applying it and
 * checking that it fits): 0; 1 when the table was made from another
 * (a delta with a filter change was never applied here); -ENOMEM.
 * Comparing and copying the text costs far less than splicing it again. */
static int patched_text(const struct agent_nft *n, const char *old, const struct ctl_netmap *m, char **text)
{
	if (strcmp(n->text, old ? old : "[]"))
		return 1;
	*text = strdup(m->filter ? m->filter : "[]");
	return *text ? 0 : -ENOMEM;
}

/* Patch N->applied in place with D's filter patch and commit it.  0, 1
 * (not done: rebuild), or -errno with a reason in ERR. */
static int patch(struct agent_nft *n, const char *old, const struct ctl_delta *d, const struct ctl_netmap *m,
		 const struct ctl_prefixes *served, const struct nftm_snat_to *snat_to, char *err, size_t errlen)
{
	struct addr_set self = { 0 }, routes = { 0 };
	struct diag_list diags = { 0 };
	struct nftb_result res = { 0 };
	bool took_away, untouched = true;
	char *text = NULL;
	int rc = patched_text(n, old, m, &text);
	if (rc != 0) {
		if (rc < 0)
			snprintf(err, errlen, "filter: %s", strerror(-rc));
		return rc;
	}
	struct nftm_opts opts;
	if ((rc = build_inputs(n, m, served, snat_to, &self, &routes, &opts, err, errlen)) < 0)
		goto out;
	struct nftm_node node = { &self, &routes };
	if ((rc = agent_fpatch_apply(n->fp, d->patch, d->n_patch, n->applied, &opts, &node, &took_away, &untouched,
				     err, errlen)) != 0)
		goto out;
	struct nftb_opts bo = { 0 };
	if ((rc = nftb_apply(n->nb, n->applied, &bo, &res, &diags)) < 0) {
		reason(err, errlen, "filter", &diags, rc);
		goto out;
	}
	free(n->text);
	n->text = text;
	text = NULL;
	n->patched = true;
	/* As after a full apply (agent_nft_apply), but told by the patch: a
	 * host that only gained rules lost nothing. */
	if (!res.cached || !n->swept || took_away)
		cut(n);
out:
	if (rc != 0 && !untouched) {
		/* N->applied is half patched, or not what the kernel holds. */
		nftm_free(n->applied);
		n->applied = NULL;
		forget_filter(n);
	}
	free(text);
	nftb_result_free(&res);
	diag_list_free(&diags);
	addr_set_free(&self);
	addr_set_free(&routes);
	return rc;
}

int agent_nft_apply_delta(struct agent_nft *n, const char *old_filter, const struct ctl_delta *d,
			  const struct ctl_netmap *m, const struct ctl_prefixes *served,
			  const struct nftm_snat_to *snat_to, char *err, size_t errlen)
{
	if (!same_node(n, m, served, snat_to))
		return agent_nft_apply(n, m, served, snat_to, err, errlen);
	if (!strcmp(n->text, m->filter ? m->filter : "[]"))
		return 0;	/* the filter did not change */
	double t0 = now_ms();
	int rc = d->n_patch ? patch(n, old_filter, d, m, served, snat_to, err, errlen) : 1;
	if (rc == 1)
		return agent_nft_apply(n, m, served, snat_to, err, errlen);
	n->last_ms = now_ms() - t0;
	return rc;
}

/* Send the batch in BUF and read every answer: 0 or the first error. */
static int send_batch(struct mnl_socket *nl, struct mnl_nlmsg_batch *b, uint32_t first_seq)
{
	char buf[8192];
	uint32_t portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0)
		return -errno;
	ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof buf);
	if (len < 0)
		return -errno;
	return mnl_cb_run(buf, (size_t)len, first_seq + 1, portid, NULL, NULL) < 0 ? -errno : 0;
}

int agent_nft_remove(struct agent_nft *n)
{
	char buf[8192];
	uint32_t seq = (uint32_t)time(NULL);
	int rc = -ENOMEM;
	struct nftnl_table *t = nftnl_table_alloc();
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!t || !nl) {
		rc = nl ? -ENOMEM : -errno;
		goto out;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}
	/* Our handle's cached copy describes a table that will be gone, and
	 * deleting it is no tampering. */
	unwatch(n);
	nftm_free(n->applied);
	n->applied = NULL;
	forget_filter(n);
	nftb_close(n->nb);
	n->nb = NULL;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, n->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(buf, sizeof buf);
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), seq);
	mnl_nlmsg_batch_next(b);
	struct nlmsghdr *nlh = nftnl_table_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_DELTABLE, NFPROTO_INET,
							   NLM_F_ACK, seq + 1);
	nftnl_table_nlmsg_build_payload(nlh, t);
	mnl_nlmsg_batch_next(b);
	nftnl_batch_end(mnl_nlmsg_batch_current(b), seq + 2);
	mnl_nlmsg_batch_next(b);
	rc = send_batch(nl, b, seq);
	mnl_nlmsg_batch_stop(b);
	if (rc == -ENOENT)
		rc = 0;
out:
	if (nl)
		mnl_socket_close(nl);
	nftnl_table_free(t);
	return rc;
}
