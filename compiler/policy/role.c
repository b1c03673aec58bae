/* role: user roles by name. */
#include "role.h"

#include <string.h>

static const char *const role_names[] = {
	[ROLE_MEMBER] = "member",
	[ROLE_OWNER] = "owner",
	[ROLE_ADMIN] = "admin",
	[ROLE_IT_ADMIN] = "it-admin",
	[ROLE_NETWORK_ADMIN] = "network-admin",
	[ROLE_BILLING_ADMIN] = "billing-admin",
	[ROLE_AUDITOR] = "auditor",
};

int role_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (strcmp(name, role_names[i]) == 0)
			return (int)i;
	return -1;
}

int role_of_autogroup(const char *name)
{
	int r = role_parse(name);
	return r == ROLE_MEMBER ? -1 : r;
}

const char *role_name(enum role_kind role)
{
	return (unsigned)role < sizeof(role_names) / sizeof(role_names[0]) ? role_names[role] : "?";
}
