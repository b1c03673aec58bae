/* nftm: the backend-neutral model of keygate's own nftables table.
 *
 * One table (`inet keygate` unless renamed) with fixed chains and fixed rules;
 * the policy lives only in the elements of its sets.  The text backend (nftt)
 * prints this model as an `nft -f` file; a netlink backend serialises the same
 * model into one BEGIN..END batch, and nftm_set_diff() turns two models of the
 * same shape into element additions and deletions.
 *
 * Everything here is data: a rule is one of a few known kinds with its
 * operands, a set is its key (a list of packet fields), its flags and its
 * sorted elements, each element one closed range per key field. */
#ifndef NFTM_H
#define NFTM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

#define NFTM_NAME_MAX 64       /* table, chain and set names, NUL included */
#define NFTM_IFNAME_MAX 16     /* IFNAMSIZ */
#define NFTM_MAX_KEY 4         /* fields in a concatenated key */
#define NFTM_DEFAULT_TABLE "keygate"
#define NFTM_DEFAULT_IFACE "keygate0"

/* Packet fields a key may hold.  Values are big-endian bytes of the field's
 * width (nftm_field_width): addresses as on the wire, protocol one byte,
 * port two bytes. */
enum nftm_field {
	NFTM_F_SADDR4, NFTM_F_DADDR4, NFTM_F_SADDR6, NFTM_F_DADDR6,
	NFTM_F_L4PROTO, NFTM_F_DPORT,
};

/* A closed range [lo, hi] of one field. */
struct nftm_range {
	uint8_t lo[16], hi[16];
};

struct nftm_elem {
	struct nftm_range k[NFTM_MAX_KEY];
};

#define NFTM_SET_INTERVAL 0x1u

struct nftm_set {
	char name[NFTM_NAME_MAX];
	enum nftm_field key[NFTM_MAX_KEY];
	size_t nkey;
	unsigned flags;
	const char *comment;          /* static text */
	struct nftm_elem *elems;      /* sorted, no duplicates (nftm_finish) */
	size_t n, cap;
};

enum nftm_hook { NFTM_HOOK_NONE, NFTM_HOOK_INPUT, NFTM_HOOK_FORWARD, NFTM_HOOK_POSTROUTING };
enum nftm_chain_type { NFTM_CHAIN_FILTER, NFTM_CHAIN_NAT };
enum nftm_policy { NFTM_POLICY_ACCEPT, NFTM_POLICY_DROP };

/* The few rule shapes the table uses.  IFNAME, SET and CHAIN are operands
 * as indexes into the table's arrays or the interface name. */
enum nftm_rule_kind {
	NFTM_R_IIF_JUMP,        /* iifname IFNAME jump CHAIN */
	NFTM_R_CT_ACCEPT,       /* ct state established,related accept */
	NFTM_R_CT_INVALID_DROP, /* ct state invalid drop */
	NFTM_R_LOOKUP_ACCEPT,   /* <SET's key fields> @SET accept */
	NFTM_R_DROP,            /* drop */
	NFTM_R_IIF_MASQ,        /* iifname IFNAME oifname != IFNAME <SET's key fields> @SET masquerade */
};

struct nftm_rule {
	enum nftm_rule_kind kind;
	size_t set;             /* LOOKUP_ACCEPT, IIF_MASQ */
	size_t chain;           /* IIF_JUMP */
	const char *comment;    /* static text, or NULL */
};

#define NFTM_MAX_RULES 8

struct nftm_chain {
	char name[NFTM_NAME_MAX];
	enum nftm_hook hook;          /* NONE: a regular chain */
	enum nftm_chain_type type;
	int priority;                 /* filter 0, srcnat 100 */
	enum nftm_policy policy;
	struct nftm_rule rules[NFTM_MAX_RULES];
	size_t nrules;
};

#define NFTM_MAX_CHAINS 4
#define NFTM_MAX_SETS 6

struct nftm_table {
	char name[NFTM_NAME_MAX];     /* family is always inet */
	char iface[NFTM_IFNAME_MAX];  /* the tunnel interface */
	bool snat;
	struct nftm_chain chains[NFTM_MAX_CHAINS];
	size_t nchains;
	struct nftm_set sets[NFTM_MAX_SETS];
	size_t nsets;
};

/* Indexes of the fixed sets in every table nftm_build makes. */
enum nftm_set_id {
	NFTM_SET_ALLOW4_PORTS,  /* saddr . daddr . l4proto . dport, IPv4 */
	NFTM_SET_ALLOW4_PROTO,  /* saddr . daddr . l4proto, protocols without ports */
	NFTM_SET_ALLOW6_PORTS,
	NFTM_SET_ALLOW6_PROTO,
	NFTM_SET_SNAT4,         /* served IPv4 routes: forwarded flows are masqueraded */
	NFTM_SET_SNAT6,
};

/* Backend options: the table's name, the tunnel interface, SNAT on or off. */
struct nftm_opts {
	const char *table;            /* NULL: NFTM_DEFAULT_TABLE */
	const char *iface;            /* NULL: NFTM_DEFAULT_IFACE */
	bool no_snat;
};

/* What the backend knows of the node: its own addresses and the routes it
 * serves (both families in each set).  Only traffic to these is ever
 * accepted from the tunnel; forwarded traffic to ROUTES is masqueraded. */
struct nftm_node {
	const struct ir_aset *self;
	const struct ir_aset *routes;
};

size_t nftm_field_width(enum nftm_field f);

/* Validate OPTS: a table name of [A-Za-z0-9_] and an interface name nft can
 * quote.  0 or -EINVAL with a reason in WHY (static text). */
int nftm_opts_check(const struct nftm_opts *opts, const char **why);

/* Build the table for NODE from the node's filter FLOWS (canonical IR).
 * Each box becomes one element of the allow set of its family: the port set
 * for protocols with ports (ir_proto_has_ports), the protocol set for the
 * others.  Elements equal but for touching port ranges (or neighbouring
 * protocol numbers, in the protocol sets) are joined into one.  Destinations are clipped to the node's own addresses and served
 * routes.  NULL with errno (EINVAL: bad options or FLOWS not canonical;
 * ENOMEM). */
struct nftm_table *nftm_build(const struct nftm_opts *opts, const struct nftm_node *node,
			      const struct ir_flows *flows);
void nftm_free(struct nftm_table *t);

/* Append one element to S (unsorted until nftm_set_finish).  0 or -ENOMEM. */
int nftm_set_add(struct nftm_set *s, const struct nftm_elem *e);
/* Sort S's elements and drop duplicates. */
void nftm_set_finish(struct nftm_set *s);
int nftm_elem_cmp(const struct nftm_set *s, const struct nftm_elem *a, const struct nftm_elem *b);

/* Would a packet with these field values (big-endian, per key field) match
 * an element of S?  Linear; for tests and the differential harness. */
bool nftm_set_match(const struct nftm_set *s, const uint8_t *const vals[NFTM_MAX_KEY]);

/* True when A and B differ only in set elements (same name, chains, rules,
 * set keys and flags): then an update is element additions and deletions. */
bool nftm_same_shape(const struct nftm_table *a, const struct nftm_table *b);

/* Elements to add to and delete from OLD to get NEW, for one set of the
 * same shape.  Arrays are malloc'd (free them); 0 or -ENOMEM. */
struct nftm_delta {
	struct nftm_elem *add, *del;
	size_t nadd, ndel;
};
int nftm_set_diff(const struct nftm_set *old, const struct nftm_set *new_, struct nftm_delta *d);
void nftm_delta_free(struct nftm_delta *d);

/* Total elements over every set of T. */
size_t nftm_elem_count(const struct nftm_table *t);

#endif
