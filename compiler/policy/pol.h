/* pol: the policy model.  pol_load() reads the HuJSON tree of a Tailscale
 * policy file into typed entries, checks every name it uses (groups, hosts,
 * tags, ipsets, autogroups), ports and protocols, and keeps a pointer to the
 * tree node of every entry so that later stages can name file:line:col.
 * Device postures are posture.h's (loaded by polposture.c), ipsets are
 * resolved to addresses (polipset.c), ssh rules, sshTests and nodeAttrs
 * are checked (polssh.h).  Keys that mean nothing to a packet filter
 * (derpMap, randomizeClientPort, ...) are accepted with one warning each;
 * unknown keys are errors.  Sections and
 * the fields of ACLs, tests and autoApprovers match ignoring case, as
 * Tailscale's decoder does (polkey.h); no name may hold a control
 * character (polname.h); roles are role.h's. */
#ifndef POL_H
#define POL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "hj.h"
#include "addr.h"
#include "proto.h"
#include "posture.h"

enum pol_alias_kind {
	PA_ANY,        /* "*" */
	PA_USER,       /* "alice@example.com", "user:alice@example.com", "alice@" */
	PA_USER_GLOB,  /* "user:*@example.com" */
	PA_GROUP,      /* "group:eng" */
	PA_TAG,        /* "tag:relay" */
	PA_HOST,       /* a name from "hosts" */
	PA_IPSET,      /* "ipset:name" */
	PA_ADDR,       /* an address, prefix or a-b range */
	PA_MEMBER,     /* autogroup:member */
	PA_TAGGED,     /* autogroup:tagged */
	PA_SELF,       /* autogroup:self */
	PA_INTERNET,   /* autogroup:internet */
	PA_DANGER_ALL, /* autogroup:danger-all */
	PA_ROLE,       /* autogroup:admin, owner, ...: the untagged nodes of users with a role */
	PA_SHARED,     /* autogroup:shared: nodes shared into the tailnet from outside */
	PA_SYNCED_GROUP, /* "group:eng@example.com": a group the identity provider keeps */
	PA_SERVICE,    /* "svc:web": a Tailscale Service's addresses (the inventory's) */
};

struct pol_alias {
	enum pol_alias_kind kind;
	char *name;            /* as written (without any :ports) */
	uint8_t family;        /* PA_ADDR, PA_HOST: the range */
	uint8_t role;          /* PA_ROLE: an enum role_kind */
	addr_u128 lo, hi;
	const struct hj_value *at;
};

struct pol_ports {
	uint16_t lo, hi;
};

/* Protocols and ports: an ACL's proto with one destination's ports, or one
 * entry of a grant's "ip". nprotos == 0: the default TCP, UDP, ICMP, ICMPv6. */
struct pol_ipspec {
	uint8_t protos[8];
	size_t nprotos;
	struct pol_ports *ports;
	size_t nports;
	const struct hj_value *at;
};

struct pol_dst {
	struct pol_alias alias;
	struct pol_ipspec *specs;   /* ACL: owned (one); grant: the rule's */
	size_t nspecs;
};

enum pol_rule_kind { POL_ACL, POL_GRANT };

struct pol_rule {
	enum pol_rule_kind kind;
	const struct hj_value *at;
	struct pol_alias *src;
	size_t nsrc;
	struct pol_dst *dst;
	size_t ndst;
	struct pol_ipspec *specs;   /* grants: "ip" */
	size_t nspecs;
	char **via;                 /* grants: tags */
	size_t nvia;
	bool has_app;               /* grants: capabilities, no packet-filter meaning */
	/* Device posture ("srcPosture", else "defaultSrcPosture"): when any,
	 * the rule applies only to source nodes satisfying one of them. */
	const struct posture **postures;
	size_t npostures;
};

struct pol_named {               /* a group, tag owner list, ipset or approver list */
	char *name;                  /* group:x, tag:x, ipset:x, or the route prefix */
	uint8_t family;              /* approvers: the route */
	addr_u128 lo, hi;
	struct pol_alias *items;     /* not for ipsets */
	size_t nitems;
	struct addr_set addrs;       /* ipsets: the addresses, operations applied, merged */
	const struct hj_value *at;
};

struct pol_ssh;                  /* polssh.h */

struct pol_policy {
	const struct hj_value *root;
	struct pol_named *groups, *tag_owners, *ipsets, *route_approvers;
	size_t ngroups, ntag_owners, nipsets, nroute_approvers;
	struct pol_named exit_approvers;     /* autoApprovers.exitNode */
	struct pol_named *hosts;             /* items unused: family/lo/hi */
	size_t nhosts;
	struct pol_rule *rules;              /* acls, then grants, in file order */
	size_t nrules;
	const struct hj_value *tests;        /* checked and run by ptest */
	struct posture *postures;            /* "postures" */
	size_t npostures;
	const struct posture **default_postures; /* "defaultSrcPosture" */
	size_t ndefault_postures;
	struct pol_ssh *ssh;                 /* "ssh": checked, run by "sshTests" */
	size_t nssh;
	const struct hj_value *ssh_tests;
};

/* Build the model.  NULL with every error queued in DIAGS (warnings for
 * ignored keys are queued either way). */
struct pol_policy *pol_load(const struct hj_value *root, struct diag_list *diags);
void pol_free(struct pol_policy *p);

/* Where an alias may appear; decides which forms are allowed. */
enum pol_side { POL_SRC, POL_DST, POL_OWNER, POL_TEST_SRC, POL_TEST_DST };
/* Parse one selector (no ports).  false with an error queued at AT. */
bool pol_alias_parse(const struct pol_policy *p, const char *text, const struct hj_value *at,
		     enum pol_side side, struct pol_alias *out, struct diag_list *diags);
void pol_alias_clear(struct pol_alias *a);
/* Ports: "*", "22", "80,443", "1000-2000".  false with an error at AT. */
bool pol_ports_parse(const char *text, const struct hj_value *at, struct pol_ports **out,
		     size_t *n, struct diag_list *diags);
/* A protocol name (tcp, udp, icmp, ...) or number 0-255; -1 if neither. */
int pol_proto_parse(const char *text);
/* Split "alias:ports" ("[v6]:ports" too); ALIAS is malloc'd. */
bool pol_split_dst(const char *text, char **alias, const char **ports);
/* IP sets (polipset.c): "ipsets" into P, each resolved to its addresses
 * ("add"/"remove" in order, nested ipsets, hosts, autogroup:internet).
 * false with located errors queued. */
bool pol_ipsets_load(struct pol_policy *p, const struct hj_value *v, struct diag_list *diags);

/* Device posture (polposture.c).  Load "postures" into P; false with
 * located errors queued. */
bool pol_postures_load(struct pol_policy *p, const struct hj_value *v, struct diag_list *diags);
/* A list of posture names V ("srcPosture", "defaultSrcPosture") as
 * pointers into P's postures (an allocated array, *OUT).  false with
 * located errors. */
bool pol_posture_refs(const struct pol_policy *p, const struct hj_value *v, const struct posture ***out,
		      size_t *n, struct diag_list *diags);
/* Does node N (attributes ATTRS) satisfy rule R's postures (any of them;
 * true when R has none)? */
bool pol_rule_posture_holds(const struct pol_rule *r, const struct inv_attr *attrs, size_t nattrs);
void pol_postures_free(struct pol_policy *p);

/* Is V of KIND (an object or an array)?  Else an error "WHAT must be ...". */
bool pol_want(const struct hj_value *v, enum hj_kind kind, const char *what, struct diag_list *diags);
/* A located error at a tree node. */
void pol_error_at(struct diag_list *diags, const struct hj_value *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
