/* nftb_err: the kernel's errors for a batch, from sequence number to
 * model object to policy location.  See nftb_impl.h. */
#include <dirent.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nftb_impl.h"
#include "nftt.h"

/* The policy rule behind an allow-set element: the first rule (in policy
 * order) accepting the element's lowest packet. */
struct first_loc {
	const struct diag_loc *loc;
	size_t n;
};

static void first_loc_fn(const struct ir_rule *rule, void *arg)
{
	struct first_loc *fl = arg;
	if (!fl->loc && rule->loc.line)
		fl->loc = &rule->loc;
	fl->n++;
}

static addr_u128 be_val(const uint8_t *p, size_t w)
{
	addr_u128 v = 0;
	for (size_t i = 0; i < w; i++)
		v = v << 8 | p[i];
	return v;
}

/* Where in the policy element E of set SI of T came from: for a sources
 * map element, the first rule with that source; for an element of an
 * identity's set, the first rule accepting its lowest packet from a
 * source of that identity.  NULL when unknown (served routes come from
 * the inventory). */
static const struct diag_loc *elem_loc(const struct nftm_table *t, size_t si, const struct nftm_elem *e,
				       const struct ir_flows *flows)
{
	const struct nftm_set *s = &t->sets[si];
	if (!flows || !s->nkey)
		return NULL;
	size_t aw = nftm_field_width(s->key[0]);
	enum addr_family fam = aw == 4 ? ADDR_V4 : ADDR_V6;
	if (s->vmap) {
		addr_u128 src = be_val(e->k[0].lo, aw);
		for (size_t i = 0; i < flows->nrules; i++) {
			const struct ir_rule *r = &flows->rules[i];
			if (r->box.family == fam && r->box.src_lo <= src && src <= r->box.src_hi && r->loc.line)
				return &r->loc;
		}
		return NULL;
	}
	if (s->nkey < 2 || s->key[1] != NFTM_F_L4PROTO || !flows->canonical)
		return NULL;
	/* The identity: the chain that looks this set up; a source: any map
	 * element jumping there. */
	for (size_t ci = 0; ci < t->nchains; ci++) {
		const struct nftm_chain *c = &t->chains[ci];
		bool uses = false;
		for (size_t ri = 0; ri < c->nrules; ri++)
			uses = uses || (c->rules[ri].kind == NFTM_R_LOOKUP_ACCEPT && c->rules[ri].set == si);
		if (!uses)
			continue;
		for (size_t mi = 0; mi < t->nsets; mi++) {
			const struct nftm_set *m = &t->sets[mi];
			if (!m->vmap || nftm_field_width(m->key[0]) != aw)
				continue;
			for (size_t k = 0; k < m->n; k++) {
				if (m->elems[k].jump != ci)
					continue;
				struct first_loc fl = { NULL, 0 };
				unsigned port = s->nkey > 2 ? (unsigned)be_val(e->k[2].lo, 2) : 0;
				ir_explain(flows, fam, e->k[1].lo[0], be_val(m->elems[k].k[0].lo, aw), be_val(e->k[0].lo, aw),
					   port, first_loc_fn, &fl);
				if (fl.loc)
					return fl.loc;
			}
		}
	}
	return NULL;
}

static void elem_text(const struct nftm_set *s, const struct nftm_elem *e, char *buf, size_t len)
{
	size_t at = 0;
	buf[0] = 0;
	for (size_t i = 0; i < s->nkey && at < len; i++) {
		char r[NFTT_RANGE_MAX];
		nftt_range(r, s->key[i], &e->k[i]);
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? " . " : "", r);
	}
}

/* Which model element of message R holds the attribute at byte OFFSET of
 * the message (extended ack)?  -1 when unknown. */
static ssize_t elem_at(const struct nftm_table *t, const struct nftb_msgref *r, uint32_t offset)
{
	const struct nlmsghdr *nlh = r->nlh;
	const struct nlattr *a, *list = NULL;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
			list = a;
	if (!list || offset == 0)
		return -1;
	size_t raw = 0;
	const struct nlattr *e;
	mnl_attr_for_each_nested(e, list) {
		size_t start = (size_t)((const char *)e - (const char *)nlh);
		if (offset >= start && offset < start + mnl_attr_get_len(e))
			break;
		raw++;
	}
	/* Kernel elements back to model elements (1 or 2 per element). */
	for (size_t i = 0; i < r->nelems; i++) {
		struct nftb_kelem k[2];
		size_t nk = nftb_to_kernel(NULL, &t->sets[r->set], &r->elems[i], k);
		if (raw < nk)
			return (ssize_t)i;
		raw -= nk;
	}
	return -1;
}

static int ack_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	unsigned type = mnl_attr_get_type(a);
	if (type <= NLMSGERR_ATTR_OFFS)
		tb[type] = a;
	return MNL_CB_OK;
}

static const char *kind_text(const struct nftm_table *t, const struct nftb_msgref *r, char *buf, size_t len)
{
	switch (r->kind) {
	case M_TABLE: snprintf(buf, len, "creating table inet %s", t->name); break;
	case M_FLUSH: snprintf(buf, len, "flushing chain %s", r->name); break;
	case M_DELCHAIN: snprintf(buf, len, "deleting chain %s", r->name); break;
	case M_DELSET: snprintf(buf, len, "deleting set %s", r->name); break;
	case M_SET: snprintf(buf, len, "creating set %s", t->sets[r->set].name); break;
	case M_CHAIN: snprintf(buf, len, "creating chain %s", t->chains[r->chain].name); break;
	case M_RULE: snprintf(buf, len, "adding rule %zu of chain %s", r->rule + 1, t->chains[r->chain].name); break;
	case M_ELEMS:
		snprintf(buf, len, "%s %zu element%s of set %s", r->del ? "deleting" : "adding", r->nelems,
			 r->nelems == 1 ? "" : "s", t->sets[r->set].name);
		break;
	}
	return buf;
}

static void report(struct nftb_ack *ak, const struct nftb_msgref *r, int err, const char *kmsg, uint32_t offset)
{
	char what[NFTB_KNAME + 64], detail[300] = "";
	const struct diag_loc *loc = NULL;
	if (kmsg && *kmsg)
		snprintf(detail, sizeof(detail), " (kernel: %s)", kmsg);
	if (!r) {
		diag_error(ak->diags, NULL, "kernel rejected the batch for table inet %s: %s%s", ak->t->name,
			   strerror(-err), detail);
		return;
	}
	if (r->kind == M_ELEMS) {
		const struct nftm_set *s = &ak->t->sets[r->set];
		ssize_t i = elem_at(ak->t, r, offset);
		if (i >= 0) {
			char et[4 * NFTT_RANGE_MAX];
			elem_text(s, &r->elems[i], et, sizeof(et));
			loc = r->del ? NULL : elem_loc(ak->t, r->set, &r->elems[i], ak->opts->flows);
			diag_error(ak->diags, loc, "kernel rejected %s element %s of set %s%s: %s%s",
				   r->del ? "deleting" : "adding", et, s->name,
				   loc ? ", made from this rule" : "",
				   strerror(-err), detail);
			return;
		}
		/* No offset: name the first element of the message with a location. */
		for (size_t k = 0; k < r->nelems && !loc && !r->del; k++)
			loc = elem_loc(ak->t, r->set, &r->elems[k], ak->opts->flows);
	}
	diag_error(ak->diags, loc, "kernel rejected %s: %s%s", kind_text(ak->t, r, what, sizeof(what)),
		   strerror(-err), detail);
}

void nftb_ack_error(struct nftb_ack *ak, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return;
	ak->acks++;
	if (e->error == 0)
		return;
	const struct nlattr *tb[NLMSGERR_ATTR_OFFS + 1] = { 0 };
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		mnl_attr_parse(nlh, (unsigned)off, ack_attr_cb, tb);
	}
	const char *kmsg = tb[NLMSGERR_ATTR_MSG] ? mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]) : NULL;
	uint32_t offset = tb[NLMSGERR_ATTR_OFFS] ? mnl_attr_get_u32(tb[NLMSGERR_ATTR_OFFS]) : 0;
	uint32_t seq = e->msg.nlmsg_seq;
	ak->errors++;
	if (!ak->first_err)
		ak->first_err = e->error;
	if (seq == ak->bt->begin_seq && e->error == -ERESTART) {
		ak->restart = true;   /* the generation moved on: nothing was done */
		return;
	}
	const struct nftb_msgref *r = NULL;
	if (seq > ak->bt->seq0 && seq - ak->bt->seq0 <= ak->bt->nrefs)
		r = &ak->bt->refs[seq - ak->bt->seq0 - 1];
	report(ak, r, e->error, kmsg, offset);
}

/* The inode of the NETLINK_NETFILTER socket bound to PORTID, from
 * /proc/net/netlink (this network namespace's sockets), or 0. */
static unsigned long netlink_inode(uint32_t portid)
{
	FILE *f = fopen("/proc/net/netlink", "re");
	char line[256];
	unsigned long inode = 0;
	if (!f)
		return 0;
	while (!inode && fgets(line, sizeof(line), f)) {
		unsigned proto, port;
		unsigned long ino;
		/* sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode */
		if (sscanf(line, "%*s %u %u %*s %*s %*s %*s %*s %*s %lu", &proto, &port, &ino) == 3 &&
		    proto == NETLINK_NETFILTER && port == portid)
			inode = ino;
	}
	fclose(f);
	return inode;
}

/* Does process PID hold socket INODE?  Its name in COMM when it does. */
static bool holds_socket(const char *pid, unsigned long inode, char *comm, size_t commlen)
{
	char path[64], want[64], link[64];
	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	DIR *d = opendir(path);
	bool found = false;
	if (!d)
		return false;
	for (struct dirent *e; !found && (e = readdir(d));) {
		char fd[64 + sizeof(e->d_name)];
		snprintf(fd, sizeof(fd), "%s/%s", path, e->d_name);
		ssize_t n = readlink(fd, link, sizeof(link) - 1);
		found = n > 0 && (link[n] = 0, strcmp(link, want) == 0);
	}
	closedir(d);
	if (!found)
		return false;
	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	FILE *f = fopen(path, "re");
	if (!f || !fgets(comm, (int)commlen, f))
		snprintf(comm, commlen, "?");
	comm[strcspn(comm, "\n")] = 0;
	if (f)
		fclose(f);
	return true;
}

void nftb_owner_name(uint32_t portid, char *out, size_t outlen)
{
	unsigned long inode = netlink_inode(portid);
	DIR *proc = inode ? opendir("/proc") : NULL;
	char comm[32];
	snprintf(out, outlen, "netlink port %u", portid);
	for (struct dirent *e; proc && (e = readdir(proc));) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || !holds_socket(e->d_name, inode, comm, sizeof(comm)))
			continue;
		snprintf(out, outlen, "%s (pid %s, netlink port %u)", comm, e->d_name, portid);
		break;
	}
	if (proc)
		closedir(proc);
}
