/* store_list: lists in one comma-separated column. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_list.h"

char *store_list_join(const struct store_list *l)
{
	size_t len = 1;
	char *out, *p;

	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->items[i]) + 1;
	out = p = malloc(len);
	if (!out)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < l->n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", l->items[i]);
	return out;
}

int store_list_split(const char *joined, struct store_split *sp, struct store_list *out)
{
	char *save, *item;

	out->items = sp->items;
	out->n = 0;
	sp->buf = strdup(joined);
	if (!sp->buf)
		return -ENOMEM;
	for (item = strtok_r(sp->buf, ",", &save); item && out->n < STORE_LIST_MAX; item = strtok_r(NULL, ",", &save))
		sp->items[out->n++] = item;
	return 0;
}

enum store_role store_role_of(const char *name)
{
	for (enum store_role r = STORE_ROLE_OWNER; r <= STORE_ROLE_MEMBER; r++)
		if (!strcmp(name, store_role_name(r)))
			return r;
	return STORE_ROLE_MEMBER;
}

static const char *const state_names[] = {
	[STORE_ROUTE_PENDING] = "pending", [STORE_ROUTE_APPROVED] = "approved", [STORE_ROUTE_REJECTED] = "rejected",
};

const char *store_route_state_name(enum store_route_state state)
{
	return state_names[state];
}

enum store_route_state store_route_state_of(const char *name)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (!strcmp(name, state_names[i]))
			return (enum store_route_state)i;
	return STORE_ROUTE_PENDING;
}
