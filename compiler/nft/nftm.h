/* nftm: the backend-neutral model of keygate's own nftables table.
 *
 * One table (`inet keygate` unless renamed).  Fixed chains hook input,
 * forward and postrouting; the policy lives in maps and sets, organised by
 * identity, as Cilium and kube-proxy do it:
 *
 *   - an identity is a set of source addresses with exactly the same
 *     rights (the same destination . protocol . port flows);
 *   - the map sources4/sources6 sends a packet from the tunnel, by source
 *     address, to its identity's chain (`ip saddr vmap @sources4`);
 *   - an identity's chain holds two lookups, in its own sets of
 *     destination . protocol . port (protocols with ports) and destination
 *     . protocol (the others, and protocols with ports where every port is
 *     allowed), and accepts on a hit.
 *
 * Per packet: one interval-map lookup (logarithmic in the number of source
 * ranges) and at most two lookups in one identity's sets, whose size is that
 * identity's rights, not the policy's.  Each identity's rights are cut, per
 * protocol and run of destinations, by destination or by port, whichever
 * costs the kernel less to insert (rights_canon in nftm.c).  A device
 * joining a group is a map element or two (its address moves to an
 * identity); a rule change touches the sets of the identities it names.
 *
 * The text backend (nftt) prints this model; a netlink backend serialises
 * the same model into one BEGIN..END batch.  Everything is data: a rule is
 * one of a few kinds with operands, a set is its key (a list of packet
 * fields), flags, and sorted elements (one closed range per key field, plus
 * a jump target in a verdict map). */
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
/* The packet mark bit every accept of the table sets on what it lets in
 * from the tunnel ("pass"): keygated's guard table (nftg.h) drops what is
 * forwarded from the tunnel without it, so that without this table in
 * force (deleted, dormant, flushed) nothing is forwarded.  Bit 24: clear
 * of the bits Tailscale (0xff0000), kube-proxy (0xc000), Cilium (0xf00)
 * and wg-quick (51820) use. */
#define NFTM_PASS_MARK 0x01000000u
/* The conntrack mark bit the table sets on every connection its policy
 * admits ("admit"): the flows `aclc apply` re-checks, and cuts, when the
 * policy changes (nftc.h).  The same bit, in the connection's mark. */
#define NFTM_FLOW_MARK 0x01000000u

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
	size_t jump;                  /* verdict maps: index of the chain to jump to */
};

#define NFTM_SET_INTERVAL 0x1u

struct nftm_set {
	char name[NFTM_NAME_MAX];
	enum nftm_field key[NFTM_MAX_KEY];
	size_t nkey;
	unsigned flags;
	bool vmap;                    /* a verdict map: each element jumps */
	bool fixed;                   /* part of every table (else an identity's) */
	const char *comment;          /* static text, or NULL */
	struct nftm_elem *elems;      /* sorted, no duplicates (nftm_set_finish) */
	size_t n, cap;
};

enum nftm_hook { NFTM_HOOK_NONE, NFTM_HOOK_INPUT, NFTM_HOOK_FORWARD, NFTM_HOOK_POSTROUTING };
enum nftm_chain_type { NFTM_CHAIN_FILTER, NFTM_CHAIN_NAT };
enum nftm_policy { NFTM_POLICY_ACCEPT, NFTM_POLICY_DROP };

/* The few rule shapes the table uses; operands are indexes into the
 * table's sets and chains, and the table's interface name. */
enum nftm_rule_kind {
	NFTM_R_IIF_JUMP,        /* iifname IFNAME jump CHAIN */
	NFTM_R_CT_ACCEPT,       /* ct state established,related <pass> */
	NFTM_R_CT_INVALID_DROP, /* ct state invalid drop */
	NFTM_R_VMAP,            /* <SET's key fields> vmap @SET */
	NFTM_R_LOOKUP_ACCEPT,   /* <SET's key fields> @SET <admit> */
	NFTM_R_DROP,            /* drop */
	/* <pass>: meta mark set meta mark | NFTM_PASS_MARK accept
	 * <admit>: ct mark set ct mark | NFTM_FLOW_MARK <pass> */
	NFTM_R_IIF_MASQ,        /* iifname IFNAME oifname != IFNAME masquerade */
	NFTM_R_IIF_SNAT4,       /* iifname IFNAME oifname != IFNAME meta nfproto ipv4 snat ip to ADDR */
	NFTM_R_IIF_SNAT6,       /* ... ipv6 snat ip6 to ADDR */
};

struct nftm_rule {
	enum nftm_rule_kind kind;
	size_t set;             /* VMAP, LOOKUP_ACCEPT */
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
	bool fixed;                   /* part of every table (else an identity's) */
	struct nftm_rule rules[NFTM_MAX_RULES];
	size_t nrules;
};

/* Source NAT to fixed addresses (--snat-to), one per family at most; a
 * family without one is masqueraded. */
struct nftm_snat_to {
	bool has4, has6;
	uint8_t v4[4], v6[16];
};

struct nftm_table {
	char name[NFTM_NAME_MAX];     /* family is always inet */
	char iface[NFTM_IFNAME_MAX];  /* the tunnel interface */
	bool snat;
	struct nftm_snat_to snat_to;  /* with SNAT */
	struct nftm_chain *chains;    /* fixed ones first (enum nftm_chain_id) */
	size_t nchains, capchains;
	struct nftm_set *sets;        /* fixed ones first (enum nftm_set_id) */
	size_t nsets, capsets;
	size_t identities[2];         /* IPv4, IPv6 */
};

/* Indexes of the fixed sets and chains in every table nftm_build makes. */
enum nftm_set_id {
	NFTM_SET_SOURCES4,      /* verdict map: IPv4 source -> identity chain */
	NFTM_SET_SOURCES6,
	NFTM_FIXED_SETS
};
enum nftm_chain_id {
	NFTM_CHAIN_INPUT, NFTM_CHAIN_FORWARD, NFTM_CHAIN_TUNNEL,
	NFTM_CHAIN_POSTROUTING, /* only with source NAT */
};

/* Backend options: the table's name, the tunnel interface, SNAT on or off. */
struct nftm_opts {
	const char *table;            /* NULL: NFTM_DEFAULT_TABLE */
	const char *iface;            /* NULL: NFTM_DEFAULT_IFACE */
	bool no_snat;
	struct nftm_snat_to snat_to;  /* none: masquerade */
};

/* TEXT, "ADDR" or "ADDR,ADDR" (an IPv4 and an IPv6 address), into *TO.
 * 0, or -EINVAL with a reason in WHY. */
int nftm_snat_to_parse(const char *text, struct nftm_snat_to *to, char *why, size_t whylen);

/* What the backend knows of the node: its own addresses and the routes it
 * serves (both families in each set).  Only traffic to these is ever
 * accepted from the tunnel, so what it forwards from the tunnel out of
 * another interface goes to ROUTES, and that is what is masqueraded. */
struct nftm_node {
	const struct addr_set *self;
	const struct addr_set *routes;
};

size_t nftm_field_width(enum nftm_field f);

/* Validate OPTS: a table name of [A-Za-z0-9_] and an interface name nft can
 * quote.  0 or -EINVAL with a reason in WHY (static text). */
int nftm_opts_check(const struct nftm_opts *opts, const char **why);

/* Build the table for NODE from the node's filter FLOWS (its rules, as
 * added; canonical or not).  Destinations are clipped to the node's own
 * addresses and served routes.  Sources are cut into maximal ranges of
 * equal rights; each distinct set of rights is one identity, its rights
 * decomposed canonically (protocol, then destination, then merged port
 * ranges), so two filters that allow the same packets give the same table.
 * NULL with errno (EINVAL: bad options; ENOMEM). */
struct nftm_table *nftm_build(const struct nftm_opts *opts, const struct nftm_node *node,
			      const struct ir_flows *flows);
void nftm_free(struct nftm_table *t);

/* What the table does with a new packet from the tunnel (ct state new),
 * evaluated on the model: true for accept.  For tests. */
bool nftm_eval(const struct nftm_table *t, enum addr_family family, unsigned proto, addr_u128 src,
	       addr_u128 dst, unsigned dport);

/* The set named NAME, or NULL. */
const struct nftm_set *nftm_set_find(const struct nftm_table *t, const char *name);

/* Append one element to S (unsorted until nftm_set_finish).  0 or -ENOMEM. */
int nftm_set_add(struct nftm_set *s, const struct nftm_elem *e);
/* Sort S's elements and drop duplicates. */
void nftm_set_finish(struct nftm_set *s);
int nftm_elem_cmp(const struct nftm_set *s, const struct nftm_elem *a, const struct nftm_elem *b);

/* The first element of S a packet with these field values (big-endian, per
 * key field) matches, or NULL.  Linear; for tests. */
const struct nftm_elem *nftm_set_match(const struct nftm_set *s, const uint8_t *const vals[NFTM_MAX_KEY]);

/* True when A and B have the same chains and sets (names, rules, keys,
 * flags): then an update is set element additions and deletions only.  A
 * new identity adds a chain and its sets; otherwise policy and inventory
 * changes keep the shape. */
bool nftm_same_shape(const struct nftm_table *a, const struct nftm_table *b);

/* True when NEW accepts every new connection from the tunnel that OLD
 * accepts: every source range of OLD's maps lies in ranges of NEW's maps
 * whose identity has the same name and the same elements.  Sufficient,
 * not complete (rights that only grew count as changed); a group gaining a
 * member passes, anything that takes away fails.  Tells whether the open
 * connections need re-checking after a change (nftc.h). */
bool nftm_admits_all(const struct nftm_table *new_, const struct nftm_table *old);

/* Elements to add to and delete from set OLD of table TOLD to get set NEW
 * of TNEW (same key; jump targets compared by chain name).  Arrays are
 * malloc'd (nftm_delta_free); 0 or -ENOMEM. */
struct nftm_delta {
	struct nftm_elem *add, *del;
	size_t nadd, ndel;
};
int nftm_set_diff(const struct nftm_table *told, const struct nftm_set *old, const struct nftm_table *tnew,
		  const struct nftm_set *new_, struct nftm_delta *d);
void nftm_delta_free(struct nftm_delta *d);

/* Identity chain A of TA and chain B of TB allow the same: the same
 * name, and sets with the same keys and elements. */
bool nftm_same_identity(const struct nftm_table *ta, size_t a, const struct nftm_table *tb, size_t b);
/* The big-endian value of W bytes at P. */
addr_u128 nftm_be_value(const uint8_t *p, size_t w);

/* One host's rights changed (a filter patch added it to rules or took it
 * out, issue 11): make T, in place, the table a full build would make.
 * RIGHTS is nftm_build's table, with T's options and node, of a filter in
 * which HOST (of family F) alone has its rules (restricted to it): its
 * source map holds [HOST, HOST] and the identity HOST now has, or nothing.
 * HOST's range in T's source map is cut out and jumps there, joined with
 * neighbours that jump alike (ranges stay maximal); the identity is copied
 * in when T lacks it and its old one dropped when nothing jumps to it any
 * more.  Cost: the map's ranges are moved once (memmove), and scanned
 * once for a dropped identity's last jump (and renumbered when one is
 * dropped); the identity is found by name among T's chains (a scan: few
 * identities, one per distinct set of rights); nothing is built or sorted.
 * 0, 1 when this cannot be done here (an identity of another's name: a
 * hash collision; RIGHTS not for HOST alone), -ENOMEM; T is unusable
 * after an error. */
int nftm_move_host(struct nftm_table *t, const struct nftm_table *rights, enum addr_family f, addr_u128 host);
/* Chain X of A and chain Y of B have the same rules (sets and jump
 * targets by name). */
bool nftm_rules_equal(const struct nftm_table *a, const struct nftm_chain *x, const struct nftm_table *b,
		      const struct nftm_chain *y);
/* A and B are the same table: chains and sets by name (their order
 * aside), rules, keys, flags, elements, jumps by chain name. */
bool nftm_equal(const struct nftm_table *a, const struct nftm_table *b);

/* Total elements over every set of T. */
size_t nftm_elem_count(const struct nftm_table *t);

#endif
