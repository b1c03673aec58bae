/* nftb: apply the model of keygate's table to the kernel in one netlink
 * transaction: read (or recall) the kernel's table, plan the batch, send
 * it against the generation read, retry when the generation moved on.
 * See nftb.h; the parts are listed in nftb_impl.h. */
#include "nftb.h"

#include <errno.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nftb_impl.h"

/* ---- the batch's messages ---- */

static void put_table(struct nftb_batch *bt, const char *name, uint16_t type, uint16_t flags, enum msg_kind kind,
		      uint32_t table_flags)
{
	struct nftb_msgref *r = nftb_batch_ref(bt, kind);
	struct nftnl_table *t = nftnl_table_alloc();
	if (!r || !t) {
		bt->oom = true;
		if (t)
			nftnl_table_free(t);
		return;
	}
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	if (type == NFT_MSG_NEWTABLE)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, table_flags);
	nftnl_table_nlmsg_build_payload(nftb_batch_hdr(bt, r, type, flags), t);
	nftnl_table_free(t);
	nftb_batch_next(bt);
}

/* Element messages for model elements E[0..N) of set SI, added or deleted. */
static void put_elems(struct nftb_batch *bt, const struct nftm_table *t, size_t si, const struct nftm_elem *e,
		      size_t n, bool del, const struct nftb_opts *opts)
{
	const struct nftb_test_hooks *test = del || !opts->test || !opts->test->edit_elem ? NULL : opts->test;
	const struct nftm_set *s = &t->sets[si];
	for (size_t base = 0; base < n && !bt->oom; base += ELEMS_PER_MSG) {
		size_t cnt = n - base < ELEMS_PER_MSG ? n - base : ELEMS_PER_MSG;
		struct nftb_msgref *r = nftb_batch_ref(bt, M_ELEMS);
		struct nftnl_set *ns = nftnl_set_alloc();
		if (!r || !ns) {
			bt->oom = true;
			if (ns)
				nftnl_set_free(ns);
			return;
		}
		r->set = si;
		r->del = del;
		r->elems = e + base;
		r->nelems = cnt;
		nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
		nftnl_set_set_str(ns, NFTNL_SET_TABLE, t->name);
		nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
		nftnl_set_set_u32(ns, NFTNL_SET_ID, (uint32_t)si + 1);
		for (size_t i = 0; i < cnt; i++) {
			struct nftb_kelem k[2];
			size_t nk = nftb_to_kernel(del ? NULL : t, s, &e[base + i], k);
			if (test)
				test->edit_elem(test->arg, s, base + i, k[0].key, k[0].end, &k[0].has_end);
			for (size_t j = 0; j < nk; j++) {
				struct nftnl_set_elem *ne = nftb_make_elem(s, &k[j], del);
				if (!ne)
					bt->oom = true;
				else
					nftnl_set_elem_add(ns, ne);
			}
		}
		nftnl_set_elems_nlmsg_build_payload(
			nftb_batch_hdr(bt, r, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM, del ? 0 : NLM_F_CREATE), ns);
		nftnl_set_free(ns);
		nftb_batch_next(bt);
	}
}

/* A message naming one chain or set of ours by its kernel name: flush a
 * chain's rules, delete a chain, delete a set. */
static void put_named(struct nftb_batch *bt, const char *table, const char *name, enum msg_kind kind)
{
	struct nftb_msgref *r = nftb_batch_ref(bt, kind);
	if (!r)
		return;
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (kind == M_DELSET) {
		struct nftnl_set *s = nftnl_set_alloc();
		if (!s) {
			bt->oom = true;
			return;
		}
		nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
		nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
		nftnl_set_set_str(s, NFTNL_SET_NAME, name);
		nftnl_set_nlmsg_build_payload(nftb_batch_hdr(bt, r, NFT_MSG_DELSET, 0), s);
		nftnl_set_free(s);
	} else if (kind == M_FLUSH) {
		struct nftnl_rule *ru = nftnl_rule_alloc();
		if (!ru) {
			bt->oom = true;
			return;
		}
		nftnl_rule_set_u32(ru, NFTNL_RULE_FAMILY, NFPROTO_INET);
		nftnl_rule_set_str(ru, NFTNL_RULE_TABLE, table);
		nftnl_rule_set_str(ru, NFTNL_RULE_CHAIN, name);
		nftnl_rule_nlmsg_build_payload(nftb_batch_hdr(bt, r, NFT_MSG_DELRULE, 0), ru);
		nftnl_rule_free(ru);
	} else {
		struct nftnl_chain *c = nftnl_chain_alloc();
		if (!c) {
			bt->oom = true;
			return;
		}
		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
		nftnl_chain_nlmsg_build_payload(nftb_batch_hdr(bt, r, NFT_MSG_DELCHAIN, 0), c);
		nftnl_chain_free(c);
	}
	nftb_batch_next(bt);
}

static bool name_in(const struct nftb_names *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], name) == 0)
			return true;
	return false;
}

static void put_new_set(struct nftb_batch *bt, const struct nftm_table *t, size_t i, struct nftb_result *res,
			const struct nftb_opts *opts)
{
	struct nftb_msgref *r = nftb_batch_ref(bt, M_SET);
	struct nftnl_set *ns = nftb_make_set(t, i);
	if (!r || !ns) {
		bt->oom = true;
		if (ns)
			nftnl_set_free(ns);
		return;
	}
	r->set = i;
	nftnl_set_nlmsg_build_payload(nftb_batch_hdr(bt, r, NFT_MSG_NEWSET, NLM_F_CREATE), ns);
	nftnl_set_free(ns);
	nftb_batch_next(bt);
	res->sets++;
	put_elems(bt, t, i, t->sets[i].elems, t->sets[i].n, false, opts);
}

static void put_new_chain(struct nftb_batch *bt, const struct nftm_table *t, size_t ci, struct nftb_result *res)
{
	struct nftb_msgref *r = nftb_batch_ref(bt, M_CHAIN);
	struct nftnl_chain *c = nftb_make_chain(t, ci);
	if (!r || !c) {
		bt->oom = true;
		if (c)
			nftnl_chain_free(c);
		return;
	}
	r->chain = ci;
	nftnl_chain_nlmsg_build_payload(nftb_batch_hdr(bt, r, NFT_MSG_NEWCHAIN, NLM_F_CREATE), c);
	nftnl_chain_free(c);
	nftb_batch_next(bt);
	res->chains++;
}

static void put_rules(struct nftb_batch *bt, const struct nftm_table *t, size_t ci, struct nftb_result *res)
{
	for (size_t ri = 0; ri < t->chains[ci].nrules && !bt->oom; ri++) {
		struct nftb_msgref *r = nftb_batch_ref(bt, M_RULE);
		struct nftnl_rule *nr = nftb_make_rule(t, ci, ri);
		if (!r || !nr) {
			bt->oom = true;
			if (nr)
				nftnl_rule_free(nr);
			return;
		}
		r->chain = ci;
		r->rule = ri;
		nftnl_rule_nlmsg_build_payload(nftb_batch_hdr(bt, r, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND), nr);
		nftnl_rule_free(nr);
		nftb_batch_next(bt);
		res->rules++;
	}
}

/* What goes first, in a transaction of its own, when our table exists:
 * the sets (with their elements) and regular chains (with their rules)
 * the model adds and nothing refers to yet: a new identity.  In nf_tables
 * the new rules of a transaction become live before the elements of a set
 * made in the same transaction are committed (the set's commit comes
 * after the generation flip), so a source pointed at a brand-new identity
 * could miss for an instant; measured: 3 of 287,000 packets every policy
 * allowed were dropped over 100 swaps done in one transaction.  Made
 * first, the identity is complete when the second transaction points
 * sources at it; until then nothing refers to it, so the kernel's
 * behaviour is the old ruleset's, then the new one's. */
static bool early_set(const struct nftm_table *t, const struct nftb_view *v, size_t i)
{
	return v->exists && !v->set_ok[i] && !name_in(&v->del_sets, t->sets[i].name);
}

static bool early_chain(const struct nftm_table *t, const struct nftb_view *v, size_t ci)
{
	return v->exists && !v->chain_ok[ci] && t->chains[ci].hook == NFTM_HOOK_NONE &&
	       !name_in(&v->del_chains, t->chains[ci].name);
}

static bool put_phase1(struct nftb_batch *bt, const struct nftm_table *t, const struct nftb_view *v,
		       struct nftb_result *res, const struct nftb_opts *opts)
{
	size_t before = bt->nrefs;
	for (size_t i = 0; i < t->nsets && !bt->oom; i++)
		if (early_set(t, v, i))
			put_new_set(bt, t, i, res, opts);
	for (size_t ci = 0; ci < t->nchains && !bt->oom; ci++)
		if (early_chain(t, v, ci))
			put_new_chain(bt, t, ci, res);
	for (size_t ci = 0; ci < t->nchains && !bt->oom; ci++)
		if (early_chain(t, v, ci))
			put_rules(bt, t, ci, res);
	return bt->nrefs > before;
}

/* The batch: flush the chains whose rules change and those that go,
 * element deletions (a map element jumping to a chain that goes goes
 * first), chains and sets deleted, the rest created, element additions,
 * rules.  The table itself is never deleted and kept sets are never
 * recreated. */
static void put_changes(struct nftb_batch *bt, const struct nftm_table *t, const struct nftb_view *v,
		       struct nftb_result *res, const struct nftb_opts *opts)
{
	if (!v->exists)
		put_table(bt, t->name, NFT_MSG_NEWTABLE, NLM_F_CREATE, M_TABLE, 0);
	else if (v->flags & NFT_TABLE_F_DORMANT)   /* awake; persist cannot change */
		put_table(bt, t->name, NFT_MSG_NEWTABLE, 0, M_TABLE, v->flags & NFT_TABLE_F_PERSIST);
	for (size_t ci = 0; ci < t->nchains; ci++)
		if (v->chain_ok[ci] && !v->rules_ok[ci]) {
			put_named(bt, t->name, t->chains[ci].name, M_FLUSH);
			res->chains_rewritten++;
		}
	for (size_t i = 0; i < v->del_chains.n; i++)
		put_named(bt, t->name, v->del_chains.v[i], M_FLUSH);
	for (size_t i = 0; i < t->nsets && !bt->oom; i++)
		if (v->set_ok[i])
			put_elems(bt, t, i, res->delta[i].del, res->delta[i].ndel, true, opts);
	for (size_t i = 0; i < v->del_chains.n; i++)
		put_named(bt, t->name, v->del_chains.v[i], M_DELCHAIN);
	for (size_t i = 0; i < v->del_sets.n; i++)
		put_named(bt, t->name, v->del_sets.v[i], M_DELSET);
	res->chains_deleted = v->del_chains.n;
	res->sets_deleted = v->del_sets.n;
	/* Chains before sets: map elements jump to chains.  Identities'
	 * objects before the fixed ones, as nftt prints them (nft lists
	 * objects in the order they were made). */
	for (int fixed = 0; fixed < 2; fixed++)
		for (size_t ci = 0; ci < t->nchains && !bt->oom; ci++)
			if (t->chains[ci].fixed == fixed && !v->chain_ok[ci] && !early_chain(t, v, ci))
				put_new_chain(bt, t, ci, res);
	for (int fixed = 0; fixed < 2; fixed++)
		for (size_t i = 0; i < t->nsets && !bt->oom; i++)
			if (t->sets[i].fixed == fixed && !v->set_ok[i] && !early_set(t, v, i))
				put_new_set(bt, t, i, res, opts);
	for (size_t i = 0; i < t->nsets && !bt->oom; i++)
		if (v->set_ok[i])
			put_elems(bt, t, i, res->delta[i].add, res->delta[i].nadd, false, opts);
	for (int fixed = 0; fixed < 2; fixed++)
		for (size_t ci = 0; ci < t->nchains && !bt->oom; ci++)
			if (t->chains[ci].fixed == fixed && !v->rules_ok[ci] && !early_chain(t, v, ci))
				put_rules(bt, t, ci, res);
}

/* ---- the transaction: plan, send, retry ---- */

void nftb_result_free(struct nftb_result *r)
{
	for (size_t i = 0; r->delta && i < r->ndelta; i++)
		nftm_delta_free(&r->delta[i]);
	free(r->delta);
	memset(r, 0, sizeof(*r));
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A deep copy of T (elements included).  NULL when out of memory. */
static struct nftm_table *table_copy(const struct nftm_table *t)
{
	struct nftm_table *c = nftb_shape_copy(t);
	for (size_t i = 0; c && i < t->nsets; i++) {
		if (!t->sets[i].n)
			continue;
		c->sets[i].elems = malloc(t->sets[i].n * sizeof(*t->sets[i].elems));
		if (!c->sets[i].elems) {
			nftm_free(c);
			return NULL;
		}
		memcpy(c->sets[i].elems, t->sets[i].elems, t->sets[i].n * sizeof(*t->sets[i].elems));
		c->sets[i].n = c->sets[i].cap = t->sets[i].n;
	}
	return c;
}

/* Build the batch (BEGIN, the changes, END unless a dry run) checked
 * against GENID, send it, read the answers.  0, -ERESTART, or -errno with
 * DIAGS. */
static int one_batch(struct nftb *nb, const struct nftm_table *t, const struct nftb_view *v,
		     struct nftb_result *res, const struct nftb_opts *opts, uint32_t genid, int phases,
		     struct diag_list *diags)
{
	struct nftb_batch bt = { 0 };
	int rc;
	bt.b = nftnl_batch_alloc(PAGE_BYTES, OVERRUN_BYTES);
	if (!bt.b) {
		rc = -ENOMEM;
		goto out;
	}
	bt.seq0 = nb->seq += 1;
	nftb_batch_begin(&bt, genid);
	if (phases & 1)
		put_phase1(&bt, t, v, res, opts);
	if (phases & 2)
		put_changes(&bt, t, v, res, opts);
	nb->seq += (uint32_t)bt.nrefs + 1;
	if (!opts->dry_run) {
		/* A dry run leaves the END out: the kernel checks every message,
		 * then aborts the transaction. */
		nftnl_batch_end(nftnl_batch_buffer(bt.b), nb->seq);
		nftb_batch_next(&bt);
	}
	if (bt.oom) {
		rc = -ENOMEM;
		goto out;
	}
	res->msgs += bt.nrefs;
	for (size_t i = 0; i < bt.nrefs; i++)
		res->elem_msgs += bt.refs[i].kind == M_ELEMS;
	struct nftb_ack ak = { .t = t, .opts = opts, .bt = &bt, .diags = diags };
	struct timespec ts;
	size_t bytes = 0, pages = 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	rc = nftb_batch_send(nb, &ak, &bytes, &pages);
	res->send_ms += ms_since(&ts);
	res->bytes += bytes;
	res->pages += pages;
	res->transactions++;
out:
	if (rc == -ENOMEM)
		diag_error(diags, NULL, "out of memory building the batch for table inet %s", t->name);
	if (bt.b)
		nftnl_batch_free(bt.b);
	free(bt.refs);
	return rc;
}

static bool set_same(const struct nftm_set *x, const struct nftm_set *y)
{
	return x->nkey == y->nkey && x->flags == y->flags && x->vmap == y->vmap &&
	       memcmp(x->key, y->key, x->nkey * sizeof(x->key[0])) == 0;
}

static bool rules_equal(const struct nftm_table *a, const struct nftm_chain *x, const struct nftm_table *b,
			const struct nftm_chain *y)
{
	return strcmp(a->iface, b->iface) == 0 && nftm_rules_equal(a, x, b, y);
}

/* The view of the kernel's table from LAST, the model our last commit
 * made it hold, while the generation is the one that commit produced
 * (nobody has committed anything since).  0 or -ENOMEM. */
static int model_view(const struct nftm_table *last, const struct nftm_table *t, struct nftb_view *v)
{
	int rc = -ENOMEM;
	memset(v, 0, sizeof(*v));
	v->set_ok = calloc(t->nsets + 1, sizeof(*v->set_ok));
	v->chain_ok = calloc(t->nchains + 1, sizeof(*v->chain_ok));
	v->rules_ok = calloc(t->nchains + 1, sizeof(*v->rules_ok));
	if (!v->set_ok || !v->chain_ok || !v->rules_ok || !(v->have = nftb_shape_copy(t)))
		goto fail;
	v->exists = true;
	for (size_t j = 0; j < last->nchains; j++) {
		const struct nftm_chain *y = &last->chains[j];
		ssize_t ci = nftb_chain_index(t, y->name);
		const struct nftm_chain *x = ci >= 0 ? &t->chains[ci] : NULL;
		if (x && x->hook == y->hook && x->type == y->type && x->priority == y->priority && x->policy == y->policy) {
			v->chain_ok[ci] = true;
			v->rules_ok[ci] = rules_equal(t, x, last, y);
		} else if (nftb_names_add(&v->del_chains, y->name) < 0) {
			goto fail;
		}
	}
	for (size_t j = 0; j < last->nsets; j++) {
		const struct nftm_set *y = &last->sets[j];
		const struct nftm_set *x = nftm_set_find(t, y->name);
		if (!x || !set_same(x, y)) {
			if (nftb_names_add(&v->del_sets, y->name) < 0)
				goto fail;
			continue;
		}
		size_t i = (size_t)(x - t->sets);
		struct nftm_set *h = &v->have->sets[i];
		v->set_ok[i] = true;
		for (size_t k = 0; k < y->n; k++) {
			struct nftm_elem e = y->elems[k];
			if (y->vmap) {   /* jump targets by name, into T's chains */
				ssize_t ci = nftb_chain_index(t, last->chains[e.jump].name);
				e.jump = ci >= 0 ? (size_t)ci : t->nchains;
			}
			if (nftm_set_add(h, &e) < 0)
				goto fail;
		}
	}
	v->same_shape = nftm_same_shape(last, t);
	v->why = v->same_shape ? NULL : "its identities differ from the policy's";
	return 0;
fail:
	nftb_view_free(v);
	return rc;
}

/* The events of the ruleset, opened on the first apply (NULL where the
 * kernel will not let us listen: then any change means reading again). */
static struct nftb_monitor *monitor(struct nftb *nb, const char *table)
{
	if (!nb->mon_tried) {
		nb->mon_tried = true;
		nb->mon = nftb_monitor_open(table, nb->portid);
		snprintf(nb->mon_table, sizeof(nb->mon_table), "%s", table);
	}
	/* It counts the changes of the first table this handle applied. */
	return strcmp(nb->mon_table, table) == 0 ? nb->mon : NULL;
}

/* Whether what was read at generation *GENID still holds now: the
 * generation moved only by changes to other tables, or not at all.
 * Then *GENID becomes the current generation, against which the batch is
 * sent.  0, -ERESTART (our table changed, or we cannot tell), -errno. */
static int still_holds(struct nftb *nb, struct nftb_monitor *mon, uint32_t *genid, struct diag_list *diags)
{
	uint32_t now;
	int rc = nftb_genid(nb, &now);
	if (rc < 0) {
		diag_error(diags, NULL, "cannot read the ruleset generation: %s", strerror(-rc));
		return rc;
	}
	if (now == *genid)
		return 0;
	/* A commit's events precede its announcement: once generation NOW is
	 * announced, every change up to it has been heard. */
	if (nftb_monitor_until(mon, now, 1000, NULL, 0) != 0)
		return -ERESTART;
	*genid = now;
	return 0;
}

/* Whether the kernel still holds NB->last, a model of TABLE, at
 * generation GENID: nothing was committed since our last commit, or only
 * changes to other tables (a busy ruleset: another daemon's table,
 * keygated's guard), every one heard: TOUCHED counts what the monitor had
 * pending, and the events up to GENID's announcement leave our table
 * alone too.  A lost event counts as a change. */
static bool last_holds(const struct nftb *nb, const char *table, struct nftb_monitor *mon, int touched,
		       uint32_t genid)
{
	if (!nb->last || strcmp(nb->last->name, table))
		return false;
	if (nb->last_genid == genid)
		return true;
	return mon && touched == 0 && nftb_monitor_until(mon, genid, 1000, NULL, 0) == 0;
}

/* One attempt: read, plan, send.  -ERESTART when our table changed under
 * us (the monitor says so, or the kernel refused the batch because the
 * generation moved after we last looked). */
static int attempt(struct nftb *nb, const struct nftm_table *t, const struct nftb_opts *opts,
		   struct nftb_result *res, unsigned n, struct diag_list *diags)
{
	struct nftb_view v;
	int rc;
	unsigned retries = res->retries;

	nftb_result_free(res);
	res->retries = retries;
	struct nftb_monitor *mon = monitor(nb, t->name);
	/* What came before this read: changes of others to our table. */
	int touched = mon ? nftb_monitor_read(mon, 0, NULL, 0) : 0;
	if ((rc = nftb_genid(nb, &res->genid)) < 0) {
		diag_error(diags, NULL, "cannot read the ruleset generation: %s", strerror(-rc));
		return rc;
	}
	if (!opts->force_full && last_holds(nb, t->name, mon, touched, res->genid)) {
		/* The kernel holds our last commit: no need to read back. */
		if ((rc = model_view(nb->last, t, &v)) < 0) {
			diag_error(diags, NULL, "out of memory planning table inet %s", t->name);
			return rc;
		}
		res->cached = true;
	} else if ((rc = nftb_read(nb, t, &v)) == -EINTR) {
		/* The kernel interrupted a dump that an interruption ends:
		 * read again, as after a generation change. */
		return -ERESTART;
	} else if (rc < 0) {
		diag_error(diags, NULL, "cannot read table inet %s from the kernel: %s", t->name, strerror(-rc));
		return rc;
	} else if (v.interrupted && !mon) {
		rc = -ERESTART;
		goto out;
	}
	if (v.exists && (v.flags & NFT_TABLE_F_OWNER) && v.owner != nb->portid) {
		char who[NFTB_OWNER_MAX];
		nftb_owner_name(v.owner, who, sizeof(who));
		diag_error(diags, NULL,
			   "table inet %s is owned by %s: only its owner may change it; apply through the owner, "
			   "or stop it", t->name, who);
		rc = -EPERM;
		goto out;
	}
	if (opts->force_full)
		for (size_t ci = 0; ci < t->nchains; ci++)
			v.rules_ok[ci] = false;
	res->existed = v.exists;
	res->woke = v.exists && (v.flags & NFT_TABLE_F_DORMANT);
	res->full = !v.same_shape || opts->force_full;
	res->why_full = !v.same_shape ? v.why : opts->force_full ? "a rewrite was asked for" : NULL;
	res->ndelta = t->nsets;
	if (!(res->delta = calloc(t->nsets + 1, sizeof(*res->delta)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < t->nsets; i++) {
		/* A set made anew gets the whole model's set. */
		struct nftm_set empty = t->sets[i];
		empty.n = 0;
		const struct nftm_set *old = v.set_ok[i] ? &v.have->sets[i] : &empty;
		if ((rc = nftm_set_diff(v.have, old, t, &t->sets[i], &res->delta[i])) < 0)
			goto out;
		res->nadd += res->delta[i].nadd;
		res->ndel += res->delta[i].ndel;
	}
	res->changed = res->full || res->nadd || res->ndel || res->woke;
	if (opts->test && opts->test->before_send)
		opts->test->before_send(opts->test->arg, n);
	if (mon && (rc = still_holds(nb, mon, &res->genid, diags)) < 0)
		goto out;
	if (!res->changed)
		goto out;

	bool early = false;
	for (size_t i = 0; i < t->nsets && !early; i++)
		early = early_set(t, &v, i);
	for (size_t ci = 0; ci < t->nchains && !early; ci++)
		early = early_chain(t, &v, ci);
	if (early && !opts->dry_run) {
		/* New identities first (put_phase1), then everything else,
		 * against the generation the first one made. */
		if ((rc = one_batch(nb, t, &v, res, opts, res->genid, 1, diags)) == 0)
			rc = one_batch(nb, t, &v, res, opts, res->genid + 1, 2, diags);
	} else {
		rc = one_batch(nb, t, &v, res, opts, res->genid, 3, diags);
	}
out:
	/* Remember what the kernel now holds (our model, one generation on
	 * per transaction), or forget: after a failure, read back. */
	nftm_free(nb->last);
	nb->last = NULL;
	if (rc == 0 && !opts->dry_run && !opts->once && (nb->last = table_copy(t)))
		nb->last_genid = res->genid + res->transactions;
	nftb_view_free(&v);
	return rc;
}

int nftb_apply(struct nftb *nb, const struct nftm_table *t, const struct nftb_opts *opts,
	       struct nftb_result *res, struct diag_list *diags)
{
	unsigned max = opts->max_retries ? opts->max_retries : NFTB_DEFAULT_RETRIES;
	int rc;
	memset(res, 0, sizeof(*res));
	for (unsigned n = 0;; n++) {
		rc = attempt(nb, t, opts, res, n, diags);
		if (rc != -ERESTART)
			break;
		if (res->retries >= max) {
			diag_error(diags, NULL,
				   "table inet %s: the ruleset kept changing under us (%u attempts); nothing applied",
				   t->name, res->retries + 1);
			break;
		}
		res->retries++;
	}
	return rc;
}
