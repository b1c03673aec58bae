/* nftb_impl.h: what the parts of the netlink backend share; nothing
 * outside compiler/nft includes it (the public face is nftb.h).
 *
 * The parts, as nftables splits its own (mnl.c, netlink_linearize.c,
 * netlink_delinearize.c, monitor.c):
 *   nftb_sock.c   the sockets, requests, and the batch: building, sending,
 *                 reading every acknowledgement
 *   nftb_expr.c   the model as netlink objects: sets, chains, rules and
 *                 their expressions, elements
 *   nftb_read.c   reading the kernel's copy of our table back (nftb_read)
 *   nftb.c        the apply transaction: plan, batch, generation retries
 *   nftb_err.c    kernel errors back to model objects and policy locations
 *   nftb_mon.c    the event monitor */
#ifndef NFTB_IMPL_H
#define NFTB_IMPL_H
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "diag.h"
#include "nftb.h"
#include "nftm.h"

/* Batch pages: nft's size; a message never exceeds the overrun. */
#define PAGE_BYTES (32u * 4096u)
#define OVERRUN_BYTES (65536u + 4096u)
/* Model elements per element message: at most ~110 bytes each (a 40-byte
 * key and key end, nests and flags), well under the 64 KiB nest limit. */
#define ELEMS_PER_MSG 400
#define RECV_BYTES (1u << 16)

struct nftb {
	struct mnl_socket *nl;
	uint32_t portid, seq;
	/* The model our last commit made the kernel hold, and the generation
	 * that commit produced: while the generation is still that, nobody
	 * has changed the ruleset since and the kernel holds exactly LAST. */
	struct nftm_table *last;
	uint32_t last_genid;
	struct nftb *helper;   /* a second socket for reading back, or NULL */
	bool dump_intr;        /* a scoped dump on this socket was interrupted */
	/* Events on the ruleset, to tell a change of our table from one
	 * elsewhere (opened on the first apply; NULL without it). */
	struct nftb_monitor *mon;
	char mon_table[NFTM_NAME_MAX];   /* the table MON watches */
	bool mon_tried;
};

/* ---- sockets and requests (nftb_sock.c) ---- */

/* Send one request NLH, run CB on every reply until the ack or the dump's
 * end.  0 or -errno. */
int nftb_talk(struct nftb *nb, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
/* The same for a dump scoped to our table, which an interruption does not
 * end (see nftb_sock.c): it sets nb->dump_intr instead. */
int nftb_talk_scoped(struct nftb *nb, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

/* ---- the model as netlink objects (nftb_expr.c) ---- */

static inline size_t nftb_round4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* Offset of key field I in the kernel's key: every field of a
 * concatenation starts on a 32-bit register. */
static inline size_t nftb_key_off(const struct nftm_set *s, size_t i)
{
	size_t off = 0;
	for (size_t j = 0; j < i; j++)
		off += nftb_round4(nftm_field_width(s->key[j]));
	return off;
}

static inline size_t nftb_key_len(const struct nftm_set *s)
{
	return s->nkey == 1 ? nftm_field_width(s->key[0]) : nftb_key_off(s, s->nkey);
}

static inline void nftb_be_add(uint8_t *p, size_t w, int d)
{
	for (size_t i = w; i-- > 0;) {
		if (d > 0 && ++p[i] != 0)
			return;
		if (d < 0 && p[i]-- != 0)
			return;
	}
}

/* Expressions and rule pieces the table (nftb_expr.c) and the guard
 * (nftg.c) share.  A NULL expression (out of memory) clears *OK. */
void nftb_add_expr(struct nftnl_rule *r, struct nftnl_expr *e, bool *ok);
struct nftnl_expr *nftb_e_meta(uint32_t key, uint32_t dreg);
struct nftnl_expr *nftb_e_cmp(uint32_t op, uint32_t sreg, const void *data, uint32_t len);
struct nftnl_expr *nftb_e_verdict(int verdict, const char *chain);
/* meta KEY (iifname or oifname) OP IFACE */
void nftb_r_ifname(struct nftnl_rule *r, const char *iface, uint32_t op, uint32_t key, bool *ok);
/* meta mark & BIT == 0 */
void nftb_r_mark_unset(struct nftnl_rule *r, uint32_t bit, bool *ok);

uint32_t nftb_key_type(const struct nftm_set *s);
uint32_t nftb_set_flags(const struct nftm_set *s);
uint32_t nftb_hook_num(enum nftm_hook h);
/* Set I, chain CI, rule RI of chain CI of T as libnftnl objects; NULL
 * when out of memory. */
struct nftnl_set *nftb_make_set(const struct nftm_table *t, size_t i);
struct nftnl_chain *nftb_make_chain(const struct nftm_table *t, size_t ci);
struct nftnl_rule *nftb_make_rule(const struct nftm_table *t, size_t ci, size_t ri);
/* A rule's expressions as text (libnftnl's debug form), for comparing
 * rules; NULL when out of memory. */
char *nftb_rule_sig(struct nftnl_rule *r);

/* A kernel element: key, key end (concatenations), interval-end flag. */
struct nftb_kelem {
	uint8_t key[64], end[64];
	bool has_end, iv_end;
	const char *jump;   /* verdict maps: the chain a start element jumps to */
	size_t jidx;        /* read back: that chain's index in the model */
};
/* The kernel elements for model element E (T NULL: for a deletion); how
 * many (1 or 2). */
size_t nftb_to_kernel(const struct nftm_table *t, const struct nftm_set *s, const struct nftm_elem *e,
		      struct nftb_kelem out[2]);
struct nftnl_set_elem *nftb_make_elem(const struct nftm_set *s, const struct nftb_kelem *k, bool del);

/* ---- reading back (nftb_read.c) ---- */

int nftb_names_add(struct nftb_names *l, const char *name);
/* The index of T's chain NAME, or -1. */
ssize_t nftb_chain_index(const struct nftm_table *t, const char *name);
/* WANT's sets and chains without elements, and one more chain with an
 * empty name (the target of jumps to chains WANT lacks).  NULL when out of
 * memory. */
struct nftm_table *nftb_shape_copy(const struct nftm_table *want);

/* ---- the batch (nftb_sock.c) ---- */

/* Every message of a batch has a sequence number mapped to the model
 * object it came from, for the kernel's errors. */
enum msg_kind { M_TABLE, M_FLUSH, M_DELCHAIN, M_DELSET, M_SET, M_CHAIN, M_RULE, M_ELEMS };

struct nftb_msgref {
	uint32_t seq;
	enum msg_kind kind;
	size_t set, chain, rule;
	bool del;
	const struct nftm_elem *elems;   /* M_ELEMS: the model elements in it */
	size_t nelems;
	const struct nlmsghdr *nlh;
	char name[NFTB_KNAME];           /* M_FLUSH, M_DELCHAIN, M_DELSET */
};

struct nftb_batch {
	struct nftnl_batch *b;
	struct nftb_msgref *refs;
	size_t nrefs, cap;
	uint32_t seq0, begin_seq;
	bool oom;
};

/* A new message of kind KIND; NULL (and BT->oom) when out of memory. */
struct nftb_msgref *nftb_batch_ref(struct nftb_batch *bt, enum msg_kind kind);
/* R's message header in the batch's current buffer. */
struct nlmsghdr *nftb_batch_hdr(struct nftb_batch *bt, struct nftb_msgref *r, uint16_t type, uint16_t flags);
/* The message just written is complete. */
void nftb_batch_next(struct nftb_batch *bt);
/* BEGIN, carrying the generation GENID the batch must find. */
void nftb_batch_begin(struct nftb_batch *bt, uint32_t genid);

/* What the acknowledgements of a batch tell. */
struct nftb_ack {
	const struct nftm_table *t;
	const struct nftb_opts *opts;
	struct nftb_batch *bt;
	struct diag_list *diags;
	size_t acks, errors;
	bool restart;
	int first_err;
};

/* Send the batch in one sendmsg and read every acknowledgement.  0, or
 * -ERESTART (generation changed), or -errno with AK->diags filled. */
int nftb_batch_send(struct nftb *nb, struct nftb_ack *ak, size_t *bytes, size_t *pages);

/* Linux 6.9; Debian 12's headers predate it. */
#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif

/* ---- kernel errors (nftb_err.c) ---- */

/* Who holds netfilter netlink port PORTID, for a table's owner: "COMM (pid
 * N, netlink port P)" when a process in our view holds the socket, else
 * "netlink port P".  OUT holds NFTB_OWNER_MAX bytes. */
#define NFTB_OWNER_MAX 128
void nftb_owner_name(uint32_t portid, char *out, size_t outlen);

/* An NLMSG_ERROR answer: counted; an error becomes a diagnostic at the
 * model object (and the policy location) its message came from. */
void nftb_ack_error(struct nftb_ack *ak, const struct nlmsghdr *nlh);

#endif
