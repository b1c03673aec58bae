/* nftb_read: the kernel's copy of our table, read back and compared with
 * the model's shape (nftb_read).  See nftb.h and nftb_impl.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "nftb_impl.h"

int nftb_names_add(struct nftb_names *l, const char *name)
{
	char (*v)[NFTB_KNAME] = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	snprintf(v[l->n++], NFTB_KNAME, "%s", name);
	return 0;
}

static void names_free(struct nftb_names *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void nftb_view_free(struct nftb_view *v)
{
	names_free(&v->chains);
	names_free(&v->del_chains);
	names_free(&v->del_sets);
	free(v->set_ok);
	free(v->chain_ok);
	free(v->rules_ok);
	nftm_free(v->have);
	memset(v, 0, sizeof(*v));
}

/* What the dumps collect. */
struct rd {
	const struct nftm_table *want;
	struct nftb_view *v;
	char ***sigs;                   /* [want->nchains]: kernel rules per chain, as signatures */
	size_t *nsigs;
	bool alien_rules;               /* rules in chains the model lacks */
	int err;
};

static int sets_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd *rd = data;
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		return MNL_CB_ERROR;
	if (nftnl_set_nlmsg_parse(nlh, s) == 0 &&
	    strcmp(nftnl_set_get_str(s, NFTNL_SET_TABLE), rd->want->name) == 0) {
		const char *name = nftnl_set_get_str(s, NFTNL_SET_NAME);
		size_t i;
		for (i = 0; i < rd->want->nsets; i++)
			if (strcmp(rd->want->sets[i].name, name) == 0)
				break;
		const struct nftm_set *ws = i < rd->want->nsets ? &rd->want->sets[i] : NULL;
		if (ws && nftnl_set_get_u32(s, NFTNL_SET_FLAGS) == nftb_set_flags(ws) &&
		    nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE) == nftb_key_type(ws) &&
		    nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN) == nftb_key_len(ws))
			rd->v->set_ok[i] = true;
		else if (nftb_names_add(&rd->v->del_sets, name) < 0)
			rd->err = -ENOMEM;
	}
	nftnl_set_free(s);
	return rd->err ? MNL_CB_ERROR : MNL_CB_OK;
}

ssize_t nftb_chain_index(const struct nftm_table *t, const char *name)
{
	for (size_t i = 0; i < t->nchains; i++)
		if (strcmp(t->chains[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static bool chain_same(const struct nftm_chain *w, struct nftnl_chain *c)
{
	bool base = nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM);
	if (base != (w->hook != NFTM_HOOK_NONE))
		return false;
	return !base || (nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) == nftb_hook_num(w->hook) &&
			 nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO) == w->priority &&
			 strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), w->type == NFTM_CHAIN_NAT ? "nat" : "filter") == 0 &&
			 nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == (w->policy == NFTM_POLICY_DROP ? NF_DROP : NF_ACCEPT));
}

static int chains_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd *rd = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0 &&
	    strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), rd->want->name) == 0) {
		const char *name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
		ssize_t i = nftb_chain_index(rd->want, name);
		if (nftb_names_add(&rd->v->chains, name) < 0)
			rd->err = -ENOMEM;
		if (i >= 0 && chain_same(&rd->want->chains[i], c))
			rd->v->chain_ok[i] = true;
		else if (nftb_names_add(&rd->v->del_chains, name) < 0)
			rd->err = -ENOMEM;
	}
	nftnl_chain_free(c);
	return rd->err ? MNL_CB_ERROR : MNL_CB_OK;
}

static int rules_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd *rd = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 &&
	    strcmp(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), rd->want->name) == 0) {
		ssize_t i = nftb_chain_index(rd->want, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
		char *sig = i < 0 ? NULL : nftb_rule_sig(r);
		char **v = sig ? realloc(rd->sigs[i], (rd->nsigs[i] + 1) * sizeof(*v)) : NULL;
		if (i < 0) {
			rd->alien_rules = true;
		} else if (!v) {
			free(sig);
			rd->err = -ENOMEM;
		} else {
			v[rd->nsigs[i]++] = sig;
			rd->sigs[i] = v;
		}
	}
	nftnl_rule_free(r);
	return rd->err ? MNL_CB_ERROR : MNL_CB_OK;
}

struct rd_elems {
	const struct nftm_table *want;
	struct nftm_set *set;      /* gets the elements (concatenations) */
	struct nftb_kelem *k;           /* single-field interval halves, collected */
	size_t nk, capk;
	int err;
};

/* One element of a dump: key, key end, flags and jump target, as the
 * kernel sent them (pointers into the message). */
struct kattrs {
	const uint8_t *key, *end;
	uint32_t klen, elen, flags;
	const char *chain;
};

/* The bytes of an NFTA_DATA_VALUE inside nested data attribute A. */
static const uint8_t *data_value(const struct nlattr *a, uint32_t *len)
{
	const struct nlattr *v;
	mnl_attr_for_each_nested(v, a)
		if (mnl_attr_get_type(v) == NFTA_DATA_VALUE) {
			*len = mnl_attr_get_payload_len(v);
			return mnl_attr_get_payload(v);
		}
	return NULL;
}

/* The chain of a jump in nested data attribute A (NFTA_DATA_VERDICT). */
static const char *verdict_chain(const struct nlattr *a)
{
	const struct nlattr *v, *c;
	mnl_attr_for_each_nested(v, a) {
		if (mnl_attr_get_type(v) != NFTA_DATA_VERDICT)
			continue;
		mnl_attr_for_each_nested(c, v)
			if (mnl_attr_get_type(c) == NFTA_VERDICT_CHAIN && mnl_attr_validate(c, MNL_TYPE_NUL_STRING) == 0)
				return mnl_attr_get_str(c);
	}
	return NULL;
}

static void elem_attrs(const struct nlattr *el, struct kattrs *k)
{
	const struct nlattr *a;
	memset(k, 0, sizeof(*k));
	mnl_attr_for_each_nested(a, el) {
		switch (mnl_attr_get_type(a)) {
		case NFTA_SET_ELEM_KEY: k->key = data_value(a, &k->klen); break;
		case NFTA_SET_ELEM_KEY_END: k->end = data_value(a, &k->elen); break;
		case NFTA_SET_ELEM_FLAGS:
			if (mnl_attr_get_payload_len(a) == 4)
				k->flags = ntohl(mnl_attr_get_u32(a));
			break;
		case NFTA_SET_ELEM_DATA: k->chain = verdict_chain(a); break;
		}
	}
}

/* Add one dumped element to the read-back set. */
static void elem_each(struct rd_elems *re, const struct kattrs *ka)
{
	const struct nftm_set *s = re->set;
	const uint8_t *key = ka->key, *end = ka->end;
	uint32_t klen = ka->klen, elen = ka->elen;
	if (!key || klen != nftb_key_len(s) || klen > 64)
		return;   /* not one of ours: the shape check has vouched for the key */
	/* A jump to a chain the model lacks gets the placeholder past its
	 * chains (nftb_shape_copy), so that it differs from every model element. */
	size_t jidx = re->want->nchains;
	if (ka->chain) {
		ssize_t ci = nftb_chain_index(re->want, ka->chain);
		if (ci >= 0)
			jidx = (size_t)ci;
	}
	if (s->nkey > 1) {
		struct nftm_elem m;
		memset(&m, 0, sizeof(m));
		m.jump = jidx;
		for (size_t i = 0; i < s->nkey; i++) {
			size_t w = nftm_field_width(s->key[i]), off = nftb_key_off(s, i);
			memcpy(m.k[i].lo, key + off, w);
			memcpy(m.k[i].hi, (end && elen == klen ? end : key) + off, w);
		}
		if (nftm_set_add(re->set, &m) < 0)
			re->err = -ENOMEM;
		return;
	}
	if (MEM_RESERVE(re->k, re->capk, re->nk + 1) < 0) {
		re->err = -ENOMEM;
		return;
	}
	struct nftb_kelem *k = &re->k[re->nk++];
	memset(k, 0, sizeof(*k));
	memcpy(k->key, key, klen);
	k->jidx = jidx;
	k->iv_end = (ka->flags & NFT_SET_ELEM_INTERVAL_END) != 0;
}

/* A dump message: the elements, parsed in place (libnftnl would copy
 * each one into an allocated object first: a quarter of a read-back). */
static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd_elems *re = data;
	const struct nlattr *a, *el;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(el, a) {
			struct kattrs ka;
			if (mnl_attr_get_type(el) != NFTA_LIST_ELEM)
				continue;
			elem_attrs(el, &ka);
			elem_each(re, &ka);
		}
	}
	return re->err ? MNL_CB_ERROR : MNL_CB_OK;
}

/* qsort has no context argument: the key width, per thread (the read-back
 * pairs halves on two threads). */
static __thread size_t kelem_w;
static int kelem_cmp(const void *a, const void *b)
{
	const struct nftb_kelem *x = a, *y = b;
	int c = memcmp(x->key, y->key, kelem_w);
	return c ? c : (int)y->iv_end - (int)x->iv_end;   /* an end sorts before a start at the same key */
}

/* Single field: pair every interval start with the end that follows. */
static int pair_halves(struct nftm_set *s, struct nftb_kelem *k, size_t n)
{
	size_t w = nftm_field_width(s->key[0]);
	kelem_w = w;
	qsort(k, n, sizeof(*k), kelem_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k[i].iv_end)
			continue;
		struct nftm_elem m;
		memset(&m, 0, sizeof(m));
		m.jump = k[i].jidx;
		memcpy(m.k[0].lo, k[i].key, w);
		if (i + 1 < n && k[i + 1].iv_end) {
			memcpy(m.k[0].hi, k[i + 1].key, w);
			nftb_be_add(m.k[0].hi, w, -1);
		} else {
			memset(m.k[0].hi, 0xff, w);
		}
		if (nftm_set_add(s, &m) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* WANT's sets and chains without elements, and one more chain with an
 * empty name: the jump target of read-back elements that jump to a chain
 * WANT lacks (nftm_set_diff compares targets by name). */
struct nftm_table *nftb_shape_copy(const struct nftm_table *want)
{
	struct nftm_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	*t = *want;
	t->sets = calloc(want->nsets ? want->nsets : 1, sizeof(*t->sets));
	t->chains = calloc(want->nchains + 1, sizeof(*t->chains));
	if (!t->sets || !t->chains) {
		free(t->sets);
		free(t->chains);
		free(t);
		return NULL;
	}
	memcpy(t->sets, want->sets, want->nsets * sizeof(*t->sets));
	memcpy(t->chains, want->chains, want->nchains * sizeof(*t->chains));
	t->capsets = want->nsets;
	t->capchains = want->nchains + 1;
	for (size_t i = 0; i < t->nsets; i++) {
		t->sets[i].elems = NULL;
		t->sets[i].n = t->sets[i].cap = 0;
	}
	return t;
}

static struct nlmsghdr *get_hdr(struct nftb *nb, char *buf, uint16_t type, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags | NLM_F_ACK, ++nb->seq);
}

/* Read the kernel's elements of the model's set I into HAVE's set I.  A
 * set the kernel lacks reads as empty (the shape check says it is not
 * there). */
static int read_set(struct nftb *nb, const struct nftm_table *want, struct nftm_table *have, size_t i)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_set *s = nftnl_set_alloc();
	struct rd_elems re = { want, &have->sets[i], NULL, 0, 0, 0 };
	struct nftm_set *hs = &have->sets[i];
	/* Room for as many elements as the model's set: no copying while it grows. */
	struct nftm_elem *room = want->sets[i].n > hs->cap ? realloc(hs->elems, want->sets[i].n * sizeof(*room)) : NULL;
	if (room) {
		hs->elems = room;
		hs->cap = want->sets[i].n;
	}
	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, want->name);
	nftnl_set_set_str(s, NFTNL_SET_NAME, want->sets[i].name);
	struct nlmsghdr *nlh = get_hdr(nb, buf, NFT_MSG_GETSETELEM, NLM_F_DUMP);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	int rc = nftb_talk_scoped(nb, nlh, elems_cb, &re);
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0)
		rc = re.err;
	if (rc == 0 && have->sets[i].nkey == 1)
		rc = pair_halves(&have->sets[i], re.k, re.nk);
	free(re.k);
	nftm_set_finish(&have->sets[i]);
	return rc;
}

/* The element dumps, shared out: each reader takes the next set not yet
 * taken.  Most of a read-back is the kernel filling dumps, one set at a
 * time per socket; two readers on two sockets do it on two cores. */
struct readers {
	const struct nftm_table *want;
	struct nftm_table *have;
	size_t next;        /* atomic: the next set to read */
	int err;            /* atomic: the first failure */
};

static void read_sets(struct nftb *nb, struct readers *rs)
{
	for (;;) {
		size_t i = __atomic_fetch_add(&rs->next, 1, __ATOMIC_RELAXED);
		if (i >= rs->want->nsets || __atomic_load_n(&rs->err, __ATOMIC_RELAXED))
			return;
		int rc = read_set(nb, rs->want, rs->have, i);
		int none = 0;
		if (rc < 0)
			__atomic_compare_exchange_n(&rs->err, &none, rc, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	}
}

struct helper_arg {
	struct nftb *nb;
	struct readers *rs;
};

static void *read_sets_thread(void *arg)
{
	struct helper_arg *h = arg;
	read_sets(h->nb, h->rs);
	return NULL;
}

/* Do the kernel's rules in the model's chain CI equal the model's? */
static bool rules_same(const struct nftm_table *want, const struct rd *rd, size_t ci)
{
	if (rd->nsigs[ci] != want->chains[ci].nrules)
		return false;
	for (size_t ri = 0; ri < want->chains[ci].nrules; ri++) {
		struct nftnl_rule *mine = nftb_make_rule(want, ci, ri);
		char *sig = mine ? nftb_rule_sig(mine) : NULL;
		bool eq = sig && strcmp(sig, rd->sigs[ci][ri]) == 0;
		if (mine)
			nftnl_rule_free(mine);
		free(sig);
		if (!eq)
			return false;
	}
	return true;
}

static int read_shape(struct nftb *nb, const struct nftm_table *want, struct nftb_view *v)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct rd rd = { .want = want, .v = v };
	int err = 0;

	rd.sigs = calloc(want->nchains + 1, sizeof(*rd.sigs));
	rd.nsigs = calloc(want->nchains + 1, sizeof(*rd.nsigs));
	struct nftnl_set *s = rd.sigs && rd.nsigs ? nftnl_set_alloc() : NULL;
	if (!s) {
		err = -ENOMEM;
		goto out;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, want->name);
	struct nlmsghdr *nlh = get_hdr(nb, buf, NFT_MSG_GETSET, NLM_F_DUMP);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if ((err = nftb_talk_scoped(nb, nlh, sets_cb, &rd)) < 0)
		goto out;
	/* Chains are dumped for the whole family, resumed by a position that
	 * counts other tables' chains too: an interruption within the data
	 * ends this one (it is small: one message but for its end). */
	nlh = get_hdr(nb, buf, NFT_MSG_GETCHAIN, NLM_F_DUMP);
	if ((err = nftb_talk(nb, nlh, chains_cb, &rd)) < 0)
		goto out;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r) {
		err = -ENOMEM;
		goto out;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, want->name);
	nlh = get_hdr(nb, buf, NFT_MSG_GETRULE, NLM_F_DUMP);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	if ((err = nftb_talk_scoped(nb, nlh, rules_cb, &rd)) < 0)
		goto out;

	bool sets = v->del_sets.n == 0, chains = v->del_chains.n == 0, rules = !rd.alien_rules;
	for (size_t i = 0; i < want->nsets; i++)
		sets = sets && v->set_ok[i];
	for (size_t i = 0; i < want->nchains; i++) {
		chains = chains && v->chain_ok[i];
		v->rules_ok[i] = v->chain_ok[i] && rules_same(want, &rd, i);
		rules = rules && v->rules_ok[i];
	}
	v->same_shape = sets && chains && rules;
	v->why = !sets ? "its sets differ from the policy's" : !chains ? "its chains differ from the policy's"
	       : !rules ? "its rules differ from the policy's" : NULL;
out:
	for (size_t ci = 0; rd.sigs && rd.nsigs && ci < want->nchains; ci++) {
		for (size_t k = 0; k < rd.nsigs[ci]; k++)
			free(rd.sigs[ci][k]);
		free(rd.sigs[ci]);
	}
	free(rd.sigs);
	free(rd.nsigs);
	return err ? err : rd.err;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftb_view *v = data;
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		return MNL_CB_ERROR;
	v->exists = true;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0) {
		if (nftnl_table_is_set(t, NFTNL_TABLE_FLAGS))
			v->flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
		if (nftnl_table_is_set(t, NFTNL_TABLE_OWNER))
			v->owner = nftnl_table_get_u32(t, NFTNL_TABLE_OWNER);
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

int nftb_read(struct nftb *nb, const struct nftm_table *want, struct nftb_view *v)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	memset(v, 0, sizeof(*v));
	nb->dump_intr = false;
	if (nb->helper)
		nb->helper->dump_intr = false;
	v->why = "it does not exist";
	v->set_ok = calloc(want->nsets + 1, sizeof(*v->set_ok));
	v->chain_ok = calloc(want->nchains + 1, sizeof(*v->chain_ok));
	v->rules_ok = calloc(want->nchains + 1, sizeof(*v->rules_ok));
	if (!v->set_ok || !v->chain_ok || !v->rules_ok) {
		nftb_view_free(v);
		return -ENOMEM;
	}

	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, want->name);
	struct nlmsghdr *nlh = get_hdr(nb, buf, NFT_MSG_GETTABLE, 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	int err = nftb_talk(nb, nlh, table_cb, v);
	if (err == -ENOENT) {
		v->exists = false;
		v->have = nftb_shape_copy(want);
		return v->have ? 0 : -ENOMEM;
	}
	if (err == 0 && !(v->have = nftb_shape_copy(want)))
		err = -ENOMEM;
	if (err < 0)
		goto out;
	/* Every model set's elements are read while the shape is: a helper
	 * thread on a second socket starts on them at once, this thread
	 * joins in after the shape; the elements of sets the shape check
	 * finds missing or different are dropped after. */
	struct readers rs = { want, v->have, 0, 0 };
	struct helper_arg ha = { NULL, &rs };
	pthread_t th;
	bool threaded = false;
	if (nb->helper) {
		ha.nb = nb->helper;
		threaded = pthread_create(&th, NULL, read_sets_thread, &ha) == 0;
	}
	err = read_shape(nb, want, v);
	if (err < 0)
		__atomic_store_n(&rs.err, err, __ATOMIC_RELAXED);
	read_sets(nb, &rs);
	if (threaded)
		pthread_join(th, NULL);
	if (err == 0)
		err = rs.err;
	v->interrupted = nb->dump_intr || (nb->helper && nb->helper->dump_intr);
	for (size_t i = 0; err == 0 && i < want->nsets; i++)
		if (!v->set_ok[i]) {
			free(v->have->sets[i].elems);
			v->have->sets[i].elems = NULL;
			v->have->sets[i].n = v->have->sets[i].cap = 0;
		}
out:
	if (err < 0)
		nftb_view_free(v);
	return err;
}
