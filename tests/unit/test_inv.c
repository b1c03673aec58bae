/* The inventory's builders: what each refuses, what inv_finish checks and
 * orders, and lookups by name that hold across growth and reordering. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "inv.h"
#include "t.h"

/* A fresh inventory with user "alice" (0) and node "n" (0) owned by her. */
static struct inv *one_node(void)
{
	struct inv *inv = inv_new();
	if (inv && (inv_add_user(inv, "alice", "alice@example.com") != 0 || inv_add_node(inv, "n", 0) != 0)) {
		inv_free(inv);
		return NULL;
	}
	return inv;
}

enum op { USER, NODE, TAG, ADDR4, ADDR6, ADV, APPR, CREATED };

static int apply(struct inv *inv, enum op op, const char *arg, int user)
{
	switch (op) {
	case USER: return inv_add_user(inv, arg, NULL);
	case NODE: return inv_add_node(inv, arg, user);
	case TAG: return inv_node_add_tag(inv, 0, arg);
	case ADDR4: return inv_node_set_addr(inv, 0, ADDR_V4, arg);
	case ADDR6: return inv_node_set_addr(inv, 0, ADDR_V6, arg);
	case ADV: return inv_node_add_route(inv, 0, INV_ADVERTISED, arg);
	case APPR: return inv_node_add_route(inv, 0, INV_APPROVED, arg);
	case CREATED: return inv_node_set_created(inv, 0, arg);
	}
	return -EINVAL;
}

static void test_builders(void)
{
	static const struct {
		enum op op;
		const char *arg;
		int user, want;
		const char *what;
	} cases[] = {
		{ USER, "bob", 0, 1, "a second user is index 1" },
		{ USER, "alice", 0, -EEXIST, "a user name taken" },
		{ USER, NULL, 0, -EINVAL, "a user without a name" },
		{ NODE, "m", -1, 1, "a second node (no user yet) is index 1" },
		{ NODE, "n", 0, -EEXIST, "a node name taken" },
		{ NODE, "m", 1, -EINVAL, "a node owned by a user that does not exist" },
		{ TAG, "tag:relay", 0, 0, "a tag" },
		{ TAG, "relay", 0, -EINVAL, "a tag without tag:" },
		{ TAG, "tag:", 0, -EINVAL, "a tag without a name" },
		{ ADDR4, "100.64.0.1", 0, 0, "an IPv4 address" },
		{ ADDR4, "fd7a:115c:a1e0::1", 0, -EINVAL, "an IPv6 address as IPv4" },
		{ ADDR4, "100.64.0.300", 0, -EINVAL, "an IPv4 address out of range" },
		{ ADDR6, "fd7a:115c:a1e0::1", 0, 0, "an IPv6 address" },
		{ ADDR6, "100.64.0.1", 0, -EINVAL, "an IPv4 address as IPv6" },
		{ ADV, "10.0.0.0/8", 0, 0, "an advertised route" },
		{ ADV, "10.0.0.1/8", 0, -EINVAL, "a route with host bits" },
		{ ADV, "10.0.0.1", 0, -EINVAL, "a route without a length" },
		{ APPR, "::/0", 0, 0, "an approved exit route" },
		{ CREATED, "2026-04-10T21:06:42.83Z", 0, 0, "a created time" },
		{ CREATED, "2026-04-10 21:06:42Z", 0, -EINVAL, "a created time out of shape" },
		{ CREATED, "2026-04-10T21:06:42.1234567890Z", 0, -EINVAL, "a created time with ten fraction digits" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct inv *inv = one_node();
		int rc = inv ? apply(inv, cases[i].op, cases[i].arg, cases[i].user) : -ENOMEM;
		T_CHECK(rc == cases[i].want, "inv builders: %s: %d", cases[i].what, cases[i].want);
		inv_free(inv);
	}
	struct inv *inv = one_node();
	bool ok = inv && inv_node_add_route(inv, 0, INV_ADVERTISED, "10.0.0.0/8") == 0 &&
		  inv_node_add_route(inv, 0, INV_APPROVED, "10.0.0.0/8") == 0 && inv_node_add_tag(inv, 0, "tag:a") == 0;
	T_CHECK(ok && inv->nodes[0].nadvertised == 1 && inv->nodes[0].napproved == 1 &&
		strcmp(inv->nodes[0].approved[0].text, "10.0.0.0/8") == 0 && inv_node_has_tag(&inv->nodes[0], "tag:a"),
		"inv builders: routes and tags are kept as given");
	T_CHECK(inv && inv_node_add_tag(inv, 7, "tag:a") == -EINVAL, "inv builders: a node index out of range");
	inv_free(inv);
}

static void test_finish(void)
{
	struct diag_list d = { 0 };
	struct inv *inv = one_node();
	int rc = inv ? inv_finish(inv, &d) : -ENOMEM;
	T_CHECK(rc == -EINVAL && d.nerrors == 1 && strstr(d.items[0].msg, "\"n\"") && strstr(d.items[0].msg, "address"),
		"inv_finish: a node without an address is one error naming it");
	inv_free(inv);
	diag_list_free(&d);

	d = (struct diag_list){ 0 };
	inv = inv_new();
	rc = inv ? inv_add_node(inv, "t", -1) : -ENOMEM;
	rc = rc < 0 ? rc : inv_node_set_addr(inv, 0, ADDR_V4, "100.64.0.1");
	rc = rc < 0 ? rc : inv_finish(inv, &d);
	T_CHECK(rc == -EINVAL && d.nerrors == 1 && strstr(d.items[0].msg, "user or at least one tag"),
		"inv_finish: a node with neither a user nor a tag is one error");
	inv_free(inv);
	diag_list_free(&d);
}

/* 300 nodes added newest first: finish reverses them, and every name
 * still finds its node (the index grew several times, then was rebuilt). */
static void test_lookup(void)
{
	struct diag_list d = { 0 };
	struct inv *inv = inv_new();
	int rc = inv ? inv_add_user(inv, "u", NULL) : -ENOMEM;
	char name[32], when[32], addr[32];
	for (int i = 0; rc >= 0 && i < 300; i++) {
		snprintf(name, sizeof(name), "node-%d", i);
		snprintf(when, sizeof(when), "2026-04-10T21:%02d:%02dZ", (299 - i) / 60, (299 - i) % 60);
		snprintf(addr, sizeof(addr), "100.64.%d.%d", i / 256, i % 256);
		if ((rc = inv_add_node(inv, name, 0)) >= 0)
			rc = inv_node_set_addr(inv, (size_t)rc, ADDR_V4, addr) ?: inv_node_set_created(inv, (size_t)rc, when);
	}
	rc = rc < 0 ? rc : inv_finish(inv, &d);
	T_CHECK(rc == 0 && inv->nnodes == 300 && strcmp(inv->nodes[0].name, "node-299") == 0,
		"inv_finish: nodes in registration order (oldest first)");
	bool all = rc == 0;
	for (int i = 0; all && i < 300; i++) {
		snprintf(name, sizeof(name), "node-%d", i);
		int k = inv_node_by_name(inv, name);
		all = k >= 0 && strcmp(inv->nodes[k].name, name) == 0;
	}
	T_CHECK(all && inv_node_by_name(inv, "node-300") == -1 && inv_user_by_name(inv, "u") == 0 &&
		inv_user_by_name(inv, "v") == -1, "inv: every node and user found by name after growth and reordering");
	inv_free(inv);
	diag_list_free(&d);
}

int main(void)
{
	test_builders();
	test_finish();
	test_lookup();
	T_DONE();
}
