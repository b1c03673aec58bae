/* nftb: the netlink backend.  Applies the model of keygate's table (nftm)
 * to the kernel through libnftnl and libmnl, as ONE nfnetlink batch
 * (BEGIN .. END): the kernel holds the old ruleset or the new one, never a
 * mix, and nothing outside our table is ever touched.
 *
 *  - The kernel's copy of our table is read back first.  When it has the
 *    model's shape (same sets, chains and rules), the batch holds only the
 *    element additions and deletions.  Otherwise the batch flushes the
 *    chains whose rules change, deletes the chains and sets the model
 *    lacks (or has with another hook or key), creates the missing ones and
 *    adds their rules; sets that stay keep their elements and get only the
 *    difference.  The table itself is never deleted: measured here, a
 *    transaction that deletes and recreates it (what `nft -f` of a file
 *    starting "delete table" does) let 36 to 51 of ~400,000 packets that
 *    both the old and the new policy allow be dropped over 100 swaps.
 *    A new identity (its chain and sets, which nothing refers to yet) is
 *    made in a transaction of its own first: the kernel publishes each
 *    interval set's contents at its own commit step, after the
 *    transaction's rules and map elements go live (aclc(1), TRANSACTIONS).
 *  - The batch carries a ruleset generation id (NFNL_BATCH_GENID): a
 *    concurrent change by another process makes ours fail with ERESTART,
 *    and nftb_apply() reads again and retries (bounded) instead of
 *    overwriting it.  The generation counts every table's changes, so a
 *    busy ruleset (another daemon editing its own table all the time)
 *    would refuse every batch sent against the generation read before a
 *    long read-back.  Hence the event monitor: when the generation moved
 *    while we read and planned, and the events up to the new generation
 *    show no change to our table, what we read still holds and the batch
 *    is sent against the new generation.  Likewise a dump of our table
 *    the kernel marks interrupted (NLM_F_DUMP_INTR: something changed
 *    somewhere) is read to its end and kept if the events clear it; where
 *    events cannot be had, it is read again.
 *  - Every message has a sequence number mapped to the model object it came
 *    from; kernel errors (with extended ack) become diagnostics at the
 *    policy's file:line:col when the object is an element built from policy
 *    rules (OPTS->flows gives the provenance).
 *  - An nftb handle remembers the model its last commit made the kernel
 *    hold and the generation that commit produced; while the generation
 *    is unchanged (nobody committed anything since), or the monitor heard
 *    every commit since and none touched our table, the read-back is
 *    skipped.  That is what a daemon applying update after update gets,
 *    beside other daemons that edit their own tables.
 *  - The table's flags are part of what is applied: a dormant table (its
 *    hooks unregistered, nothing filtered) is a change, made active again
 *    in the same batch.  A table owned by another process's socket
 *    (NFT_TABLE_F_OWNER: keygated's agent) is refused with one error that
 *    names the owner; apply through the owner instead.
 *  - A dry run sends the batch without its END message: the kernel checks
 *    every message and aborts (as `nft -c` does).
 *  - Big batches: paged buffers (nftnl_batch) sent with one sendmsg, socket
 *    buffers sized to the batch.
 *  - Reading back is mostly the kernel filling one element dump per set:
 *    a helper thread on a second socket of the handle reads sets while
 *    this one reads the shape, then both share out the rest.
 * The relay daemon calls the same code on every policy update; nftb_monitor
 * tells it when someone else edited the ruleset. */
#ifndef NFTB_H
#define NFTB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ir.h"
#include "nftm.h"

struct nftb;   /* a netlink socket to nf_tables */

/* Open a socket (in the caller's network namespace).  NULL with errno. */
struct nftb *nftb_open(void);
void nftb_close(struct nftb *nb);
/* The socket's netlink port id: events it caused carry it. */
uint32_t nftb_portid(const struct nftb *nb);
/* The current ruleset generation id.  0 or -errno. */
int nftb_genid(struct nftb *nb, uint32_t *genid);

struct nftb_opts {
	bool dry_run;              /* let the kernel check the batch, never commit */
	bool force_full;           /* replace the table even when the shapes match */
	bool once;                 /* the handle applies nothing after this: keep no copy of T */
	unsigned max_retries;      /* genid races retried; 0: NFTB_DEFAULT_RETRIES */
	const struct ir_flows *flows;   /* provenance of the allow sets' elements, or NULL */
	const struct nftb_test_hooks *test;   /* test programs only; NULL */
};
#define NFTB_DEFAULT_RETRIES 5

/* What test programs make happen at given points of an apply, to show
 * what the backend does about it: a concurrent change between reading the
 * kernel's table and sending the batch (the generation check), an element
 * the kernel rejects (error mapping).  Programs users run leave
 * nftb_opts.test NULL. */
struct nftb_test_hooks {
	/* Called after the generation id and the kernel's table were read,
	 * before the batch is sent (ATTEMPT counts from 0).  May be NULL. */
	void (*before_send)(void *arg, unsigned attempt);
	/* Called for each element added to set S, INDEX counting the set's
	 * elements this batch adds, with the first kernel element made from
	 * it: KEY and END (S's key length each, the fields on 32-bit
	 * boundaries) and whether END is sent.  It may change them.  May be
	 * NULL. */
	void (*edit_elem)(void *arg, const struct nftm_set *s, size_t index, uint8_t *key, uint8_t *end,
			  bool *has_end);
	void *arg;
};

/* What an apply did (or would do, in a dry run). */
struct nftb_result {
	bool existed;              /* our table was in the kernel */
	bool full;                 /* chains and rules (re)written, not only elements */
	const char *why_full;      /* static text, when full */
	size_t chains_deleted, sets_deleted;
	bool changed;              /* the batch held any change */
	bool woke;                 /* the table was dormant (its hooks off): made active again */
	unsigned retries;          /* generation id mismatches retried */
	uint32_t genid;            /* the generation the last batch was checked against */
	size_t msgs, bytes, pages; /* the last batch, BEGIN/END excluded from msgs */
	size_t elem_msgs;          /* of which element messages */
	bool cached;               /* the kernel's table known from our last commit (generation unchanged) */
	double send_ms;            /* sending the batch and reading every answer */
	size_t chains, rules, sets;   /* objects the batch creates */
	/* Element changes per set of the model (model elements, not kernel
	 * interval halves), NDELTA of them (the model's sets); owned
	 * (nftb_result_free). */
	struct nftm_delta *delta;
	size_t ndelta, nadd, ndel;
	size_t chains_rewritten;   /* kept chains whose rules were replaced */
	unsigned transactions;     /* committed (or checked): 0, 1, or 2 when a new identity went first */
};
void nftb_result_free(struct nftb_result *r);

/* Make the kernel's table T (or check that it could, with OPTS->dry_run).
 * 0 on success, else -errno with the reasons in DIAGS (kernel errors
 * located at the policy where known). */
int nftb_apply(struct nftb *nb, const struct nftm_table *t, const struct nftb_opts *opts,
	       struct nftb_result *res, struct diag_list *diags);

/* The kernel's copy of a table shaped like WANT, as nftb_read finds it. */
#define NFTB_KNAME 256   /* NFT_NAME_MAXLEN: names in the kernel may be longer than ours */
struct nftb_names {
	char (*v)[NFTB_KNAME];
	size_t n;
};
struct nftb_view {
	bool exists;
	uint32_t flags;                  /* the table's NFT_TABLE_F_* (dormant, owner, persist) */
	uint32_t owner;                  /* with NFT_TABLE_F_OWNER: the owning socket's port id */
	bool same_shape;                 /* sets, chains and rules all as WANT's */
	const char *why;                 /* static text, when not */
	bool *set_ok;                    /* [WANT's nsets]: set I is there with its key and flags */
	bool *chain_ok;                  /* [WANT's nchains]: chain I is there with its hook */
	bool *rules_ok;                  /* [WANT's nchains]: ... and with WANT's rules */
	struct nftb_names chains;        /* every chain of the table in the kernel */
	struct nftb_names del_chains;    /* of those, the ones WANT lacks or has otherwise */
	struct nftb_names del_sets;      /* sets WANT lacks or has otherwise */
	struct nftm_table *have;         /* WANT's shape with the kernel's elements (set_ok sets) */
	bool interrupted;                /* a change somewhere in the ruleset interrupted a dump:
	                                  * the view holds only if the events show that our
	                                  * table was not the one changed */
};
/* 0 or -errno. */
int nftb_read(struct nftb *nb, const struct nftm_table *want, struct nftb_view *v);
void nftb_view_free(struct nftb_view *v);

/* Events: a socket on NFNLGRP_NFTABLES. */
struct nftb_monitor;
/* Watch table inet TABLE; events caused by port IGNORE_PORTID (our own
 * applies: nftb_portid) are not counted.  NULL with errno. */
struct nftb_monitor *nftb_monitor_open(const char *table, uint32_t ignore_portid);
int nftb_monitor_fd(const struct nftb_monitor *m);
/* Read what is pending, waiting at most TIMEOUT_MS (0: do not wait).
 * Returns how many events touched the table (or flushed it: a ruleset
 * flush deletes every table) from another process, or -errno.  When WHAT
 * is not NULL it receives a short description of the last one. */
int nftb_monitor_read(struct nftb_monitor *m, int timeout_ms, char *what, size_t whatlen);
/* The same, reading until the kernel has announced generation GENID (its
 * events come before the announcement), waiting at most TIMEOUT_MS:
 * how many events touched the table, -ETIMEDOUT without the
 * announcement, or -errno. */
int nftb_monitor_until(struct nftb_monitor *m, uint32_t genid, int timeout_ms, char *what, size_t whatlen);
void nftb_monitor_close(struct nftb_monitor *m);

#endif
