/* store_list: values every backend keeps as text alike: a list (tags,
 * endpoints) in one column, comma-separated (store.c refuses commas in
 * items); roles and route states by name. */
#ifndef STORE_LIST_H
#define STORE_LIST_H
#include "store.h"

/* The joined text, malloc'd; NULL when out of memory. */
char *store_list_join(const struct store_list *l);

/* A split list: ITEMS point into BUF, which the caller frees. */
struct store_split {
	char *buf;
	const char *items[STORE_LIST_MAX];
};
int store_list_split(const char *joined, struct store_split *sp, struct store_list *out);

/* Unknown names read as the least: member, pending. */
enum store_role store_role_of(const char *name);
const char *store_route_state_name(enum store_route_state state);
enum store_route_state store_route_state_of(const char *name);

#endif
