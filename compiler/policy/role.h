/* role: the roles a user holds in a tailnet, as Tailscale names them.
 * The policy selects users by role (autogroup:admin, ...); the inventory
 * gives each user one role ("role": "admin"), a member when none is given.
 * Roles are exact: autogroup:admin names Admins, not the Owner. */
#ifndef ROLE_H
#define ROLE_H

enum role_kind {
	ROLE_MEMBER,
	ROLE_OWNER,
	ROLE_ADMIN,
	ROLE_IT_ADMIN,
	ROLE_NETWORK_ADMIN,
	ROLE_BILLING_ADMIN,
	ROLE_AUDITOR,
};

/* The role NAME ("owner", "admin", "it-admin", "network-admin",
 * "billing-admin", "auditor", "member"), or -1. */
int role_parse(const char *name);
/* The role autogroup:NAME selects (every role but "member", which is
 * autogroup:member: every user's devices), or -1. */
int role_of_autogroup(const char *name);
const char *role_name(enum role_kind role);

#endif
