/* Unit tests for store: opening and migrations, then every operation's
 * success and refusal cases against a fresh fixture each (a refusal must
 * leave the generation as it was, a change must bump it by one), then
 * address allocation, change lists and snapshots.  The cases speak only
 * store.h, and run twice: on SQLite, then on PostgreSQL (a server of the
 * test's own, tests/pg.sh; skipped with the reason when none can be
 * started).  Only what is a file's alone (WAL, bytes on disk, a path) is
 * SQLite's alone. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_addr.h"
#include "store_test.h"
#include "t.h"

/* Alice owns a node registered with her reusable key, advertising two
 * routes; Bob owns nothing; keys of every kind wait. */
struct fx {
	struct tdir t;
	struct store *s;
	int64_t alice, bob, node;
	int64_t k_single, k_reusable, k_revoked, k_expiring, k_tagged;
	uint8_t s_single[32], s_reusable[32], s_revoked[32], s_expiring[32], s_tagged[32];
};

static const char *const routes2[] = { "10.0.0.0/8", "192.168.1.0/24" };

static int fx_setup(struct fx *f)
{
	struct store_list adv = { routes2, 2 };
	int rc;

	memset(f, 0, sizeof(*f));
	if ((rc = tdir_make(&f->t)) < 0)
		return rc;
	if (!(f->s = tstore_open(f->t.db)))
		return -EIO;
	if ((rc = store_user_add(f->s, "alice@example.com", "alice@example.com", STORE_ROLE_ADMIN, NOW, &f->alice)) < 0 ||
	    (rc = store_user_add(f->s, "bob@example.com", "bob@example.com", STORE_ROLE_MEMBER, NOW, &f->bob)) < 0 ||
	    (rc = tauthkey(f->s, f->alice, false, NOW + DAY, &f->k_single, f->s_single)) < 0 ||
	    (rc = tauthkey(f->s, f->alice, true, NOW + 30 * DAY, &f->k_reusable, f->s_reusable)) < 0 ||
	    (rc = tauthkey(f->s, f->alice, true, NOW + DAY, &f->k_revoked, f->s_revoked)) < 0 ||
	    (rc = store_authkey_revoke(f->s, f->k_revoked)) < 0 ||
	    (rc = tauthkey(f->s, f->alice, false, NOW + DAY, &f->k_expiring, f->s_expiring)) < 0 ||
	    (rc = tauthkey(f->s, 0, false, NOW + DAY, &f->k_tagged, f->s_tagged)) < 0 ||
	    (rc = tregister(f->s, f->k_reusable, f->s_reusable, "laptop", 1, NOW, &f->node)) < 0 ||
	    (rc = store_routes_advertise(f->s, f->node, &adv, NOW)) < 0)
		return rc;
	return 0;
}

static void fx_teardown(struct fx *f)
{
	store_close(f->s);
	tdir_remove(&f->t);
}

/* Readers that copy what the tests look at. */

struct node_copy {
	int n;
	struct store_node last;
	char name[64], tags[128], endpoints[256];
	int64_t ids[16];
};

static int node_copy(const struct store_node *n, void *arg)
{
	struct node_copy *c = arg;

	if (c->n < 16)
		c->ids[c->n] = n->id;
	c->n++;
	c->last = *n;
	snprintf(c->name, sizeof(c->name), "%s", n->name);
	c->tags[0] = c->endpoints[0] = '\0';
	for (size_t i = 0; i < n->tags.n; i++)
		snprintf(c->tags + strlen(c->tags), sizeof(c->tags) - strlen(c->tags), "%s%s", i ? " " : "", n->tags.items[i]);
	for (size_t i = 0; i < n->endpoints.n; i++)
		snprintf(c->endpoints + strlen(c->endpoints), sizeof(c->endpoints) - strlen(c->endpoints), "%s%s",
			 i ? " " : "", n->endpoints.items[i]);
	return 0;
}

static struct node_copy node_of(struct fx *f, int64_t id)
{
	struct node_copy c = { 0 };

	store_node_get(f->s, id, node_copy, &c);
	return c;
}

static int count_node(const struct store_node *n, void *arg)
{
	(void)n;
	++*(int *)arg;
	return 0;
}

struct key_copy {
	int64_t id;
	struct store_authkey k;
	char tags[64];
};

static int key_copy(const struct store_authkey *k, void *arg)
{
	struct key_copy *c = arg;

	if (k->id == c->id) {
		c->k = *k;
		snprintf(c->tags, sizeof(c->tags), "%s", k->tags.n ? k->tags.items[0] : "");
	}
	return 0;
}

static struct store_authkey key_of(struct fx *f, int64_t id)
{
	struct key_copy c = { .id = id };

	store_authkeys_each(f->s, key_copy, &c);
	return c.k;
}

struct route_copy {
	const char *prefix;
	bool found;
	struct store_route r;
	char auto_approver[64];
	int n;
};

static int route_copy(const struct store_route *r, void *arg)
{
	struct route_copy *c = arg;

	c->n++;
	if (!strcmp(r->prefix, c->prefix)) {
		c->found = true;
		c->r = *r;
		snprintf(c->auto_approver, sizeof(c->auto_approver), "%s", r->auto_approver ? r->auto_approver : "");
	}
	return 0;
}

static struct route_copy route_of(struct fx *f, const char *prefix)
{
	struct route_copy c = { .prefix = prefix };

	store_routes_each(f->s, route_copy, &c);
	return c;
}

struct policy_copy {
	int n;
	int64_t versions[8];
	char text[64];
};

static int policy_copy(const struct store_policy *p, void *arg)
{
	struct policy_copy *c = arg;

	if (c->n < 8)
		c->versions[c->n] = p->version;
	c->n++;
	snprintf(c->text, sizeof(c->text), "%s", p->text);
	return 0;
}

static int64_t generation(struct fx *f)
{
	int64_t g = -1;

	store_generation(f->s, &g);
	return g;
}

/* The operations, each against a fresh fixture, and what they must do. */

static int op_user_add(struct fx *f)
{
	int64_t id;

	return store_user_add(f->s, "carol@example.com", "carol@example.com", STORE_ROLE_MEMBER, NOW, &id);
}
static bool ck_user_add(struct fx *f)
{
	int64_t id = 0;

	return store_user_by_name(f->s, "carol@example.com", &id) == 0 && id > f->bob;
}
static int op_user_add_taken(struct fx *f)
{
	int64_t id;

	return store_user_add(f->s, "bob@example.com", "x@example.com", STORE_ROLE_MEMBER, NOW, &id);
}
static int op_user_add_bad_name(struct fx *f)
{
	int64_t id;

	return store_user_add(f->s, "carol smith", "c@example.com", STORE_ROLE_MEMBER, NOW, &id);
}
static int op_user_add_bad_role(struct fx *f)
{
	int64_t id;

	return store_user_add(f->s, "carol", "c@example.com", (enum store_role)7, NOW, &id);
}
static int op_user_remove(struct fx *f)
{
	return store_user_remove(f->s, f->bob);
}
static bool ck_user_remove(struct fx *f)
{
	int64_t id;

	return store_user_by_name(f->s, "bob@example.com", &id) == -ENOENT;
}
static int op_user_remove_owner(struct fx *f)
{
	return store_user_remove(f->s, f->alice);
}
static int op_user_remove_missing(struct fx *f)
{
	return store_user_remove(f->s, 999);
}
static int op_user_by_name_missing(struct fx *f)
{
	int64_t id;

	return store_user_by_name(f->s, "nobody@example.com", &id);
}

static int op_key_user(struct fx *f)
{
	int64_t id;
	uint8_t secret[32];

	return tauthkey(f->s, f->bob, false, NOW + DAY, &id, secret);
}
static bool ck_key_user(struct fx *f)
{
	struct store_authkey k = key_of(f, f->k_tagged + 1);

	return k.user_id == f->bob && !k.reusable && !k.revoked && k.uses == 0 && k.created == NOW;
}
static int op_key_tagged(struct fx *f)
{
	int64_t id;
	uint8_t secret[32];

	return tauthkey(f->s, 0, true, NOW + DAY, &id, secret);
}
static bool ck_key_tagged(struct fx *f)
{
	struct key_copy c = { .id = f->k_tagged + 1 };

	store_authkeys_each(f->s, key_copy, &c);
	return c.k.user_id == 0 && c.k.reusable && !strcmp(c.tags, "tag:relay");
}
static int op_key_both(struct fx *f)
{
	static const char *const tags[] = { "tag:relay" };
	struct store_authkey_spec spec = { .user_id = f->bob, .tags = { tags, 1 }, .expiry = NOW + DAY };
	uint8_t secret[32];
	int64_t id;

	return store_authkey_create(f->s, &spec, NOW, &id, secret);
}
static int op_key_neither(struct fx *f)
{
	struct store_authkey_spec spec = { .expiry = NOW + DAY };
	uint8_t secret[32];
	int64_t id;

	return store_authkey_create(f->s, &spec, NOW, &id, secret);
}
static int op_key_bad_tag(struct fx *f)
{
	static const char *const tags[] = { "relay" };
	struct store_authkey_spec spec = { .tags = { tags, 1 }, .expiry = NOW + DAY };
	uint8_t secret[32];
	int64_t id;

	return store_authkey_create(f->s, &spec, NOW, &id, secret);
}
static int op_key_expired_at_birth(struct fx *f)
{
	int64_t id;
	uint8_t secret[32];

	return tauthkey(f->s, f->bob, false, NOW, &id, secret);
}
static int op_key_missing_user(struct fx *f)
{
	int64_t id;
	uint8_t secret[32];

	return tauthkey(f->s, 999, false, NOW + DAY, &id, secret);
}
static int op_key_revoke(struct fx *f)
{
	return store_authkey_revoke(f->s, f->k_single);
}
static bool ck_key_revoke(struct fx *f)
{
	return key_of(f, f->k_single).revoked;
}
static int op_key_revoke_missing(struct fx *f)
{
	return store_authkey_revoke(f->s, 999);
}

static int op_register_single(struct fx *f)
{
	int64_t id;

	return tregister(f->s, f->k_single, f->s_single, "phone", 2, NOW, &id);
}
static bool ck_register_single(struct fx *f)
{
	struct node_copy c = { 0 };
	char v4[16], v6[48];

	store_node_by_name(f->s, "phone", node_copy, &c);
	inet_ntop(AF_INET, c.last.ipv4, v4, sizeof(v4));
	inet_ntop(AF_INET6, c.last.ipv6, v6, sizeof(v6));
	return c.n == 1 && c.last.user_id == f->alice && !c.tags[0] && !strcmp(v4, "100.64.0.2") &&
	       !strcmp(v6, "fd7a:115c:a1e0::2") && !strcmp(c.endpoints, "192.0.2.1:41641 [2001:db8::1]:41641") &&
	       c.last.authkey_id == f->k_single && c.last.created == NOW && key_of(f, f->k_single).uses == 1;
}
static int op_register_single_twice(struct fx *f)
{
	int64_t id;
	int rc = tregister(f->s, f->k_single, f->s_single, "phone", 2, NOW, &id);

	return rc < 0 ? -EIO : tregister(f->s, f->k_single, f->s_single, "tablet", 3, NOW, &id);
}
static bool ck_register_single_twice(struct fx *f)
{
	struct node_copy c = { 0 };

	return key_of(f, f->k_single).uses == 1 && store_node_by_name(f->s, "tablet", node_copy, &c) == -ENOENT;
}
static int op_register_reusable(struct fx *f)
{
	int64_t id;

	return tregister(f->s, f->k_reusable, f->s_reusable, "phone", 2, NOW, &id);
}
static bool ck_register_reusable(struct fx *f)
{
	return key_of(f, f->k_reusable).uses == 2;
}
static int op_register_tagged(struct fx *f)
{
	int64_t id;

	return tregister(f->s, f->k_tagged, f->s_tagged, "relay1", 2, NOW, &id);
}
static bool ck_register_tagged(struct fx *f)
{
	struct node_copy c = { 0 };

	store_node_by_name(f->s, "relay1", node_copy, &c);
	return c.n == 1 && c.last.user_id == 0 && !strcmp(c.tags, "tag:relay");
}
static int op_register_wrong_secret(struct fx *f)
{
	uint8_t secret[32];
	int64_t id;

	memcpy(secret, f->s_single, 32);
	secret[7] ^= 1;
	return tregister(f->s, f->k_single, secret, "phone", 2, NOW, &id);
}
static int op_register_other_keys_secret(struct fx *f)
{
	int64_t id;

	return tregister(f->s, f->k_single, f->s_reusable, "phone", 2, NOW, &id);
}
static int op_register_missing_key(struct fx *f)
{
	int64_t id;

	return tregister(f->s, 999, f->s_single, "phone", 2, NOW, &id);
}
static int op_register_revoked(struct fx *f)
{
	int64_t id;

	return tregister(f->s, f->k_revoked, f->s_revoked, "phone", 2, NOW, &id);
}
static int op_register_expired(struct fx *f)
{
	int64_t id;

	return tregister(f->s, f->k_expiring, f->s_expiring, "phone", 2, NOW + DAY, &id);
}
static int op_register_name_taken(struct fx *f)
{
	int64_t id;

	return tregister(f->s, f->k_single, f->s_single, "laptop", 2, NOW, &id);
}
static int op_register_machine_key_taken(struct fx *f)
{
	int64_t id;

	return tregister(f->s, f->k_single, f->s_single, "phone", 1, NOW, &id);
}
/* A refused registration consumes nothing: the key still works after. */
static bool ck_key_unspent(struct fx *f)
{
	int64_t id;

	return key_of(f, f->k_single).uses == 0 && tregister(f->s, f->k_single, f->s_single, "phone", 2, NOW, &id) == 0;
}
static int op_register_bad_name(struct fx *f)
{
	int64_t id;

	return tregister(f->s, f->k_single, f->s_single, "Phone_1", 2, NOW, &id);
}

static int op_node_remove(struct fx *f)
{
	return store_node_remove(f->s, f->node);
}
static bool ck_node_remove(struct fx *f)
{
	int n = 0;

	store_nodes_each(f->s, count_node, &n);
	return n == 0 && route_of(f, "10.0.0.0/8").n == 0 && key_of(f, f->k_reusable).uses == 1;
}
static int op_node_remove_missing(struct fx *f)
{
	return store_node_remove(f->s, 999);
}
static int op_node_expire(struct fx *f)
{
	return store_node_expire(f->s, f->node);
}
static bool ck_node_expire(struct fx *f)
{
	return node_of(f, f->node).last.expired;
}
static int op_node_endpoints(struct fx *f)
{
	static const char *const eps[] = { "198.51.100.7:1234" };
	struct store_list l = { eps, 1 };

	return store_node_set_endpoints(f->s, f->node, &l, NOW + 60);
}
static bool ck_node_endpoints(struct fx *f)
{
	struct node_copy c = node_of(f, f->node);

	return !strcmp(c.endpoints, "198.51.100.7:1234") && c.last.last_seen == NOW + 60;
}
static int op_node_endpoints_comma(struct fx *f)
{
	static const char *const eps[] = { "198.51.100.7:1,2" };
	struct store_list l = { eps, 1 };

	return store_node_set_endpoints(f->s, f->node, &l, NOW);
}
static int op_node_endpoints_missing(struct fx *f)
{
	struct store_list l = { NULL, 0 };

	return store_node_set_endpoints(f->s, 999, &l, NOW);
}
static int op_node_wg_key(struct fx *f)
{
	uint8_t k[32];

	tkey(k, 77);
	return store_node_set_wg_key(f->s, f->node, k, NOW + 5);
}
static bool ck_node_wg_key(struct fx *f)
{
	uint8_t k[32];

	tkey(k, 77);
	return !memcmp(node_of(f, f->node).last.wg_key, k, 32);
}
static int op_node_seen(struct fx *f)
{
	return store_node_seen(f->s, f->node, NOW + 99);
}
static bool ck_node_seen(struct fx *f)
{
	return node_of(f, f->node).last.last_seen == NOW + 99;
}
static int op_node_seen_missing(struct fx *f)
{
	return store_node_seen(f->s, 999, NOW);
}
static int op_node_by_machine_key(struct fx *f)
{
	struct node_copy c = { 0 };
	uint8_t k[32];
	int rc;

	tkey(k, 1);
	rc = store_node_by_machine_key(f->s, k, node_copy, &c);
	return rc < 0 ? rc : c.last.id == f->node ? 0 : -EIO;
}
static int op_node_by_machine_key_missing(struct fx *f)
{
	struct node_copy c = { 0 };
	uint8_t k[32];

	tkey(k, 2);
	return store_node_by_machine_key(f->s, k, node_copy, &c);
}

static int op_advertise(struct fx *f)
{
	static const char *const p[] = { "10.0.0.0/8", "fd00::/64" };
	struct store_list l = { p, 2 };

	return store_routes_advertise(f->s, f->node, &l, NOW + 10);
}
/* 192.168.1.0/24 is no longer advertised but stays listed; 10/8 keeps the
 * time it was first advertised. */
static bool ck_advertise(struct fx *f)
{
	struct route_copy a = route_of(f, "10.0.0.0/8"), b = route_of(f, "192.168.1.0/24"), c = route_of(f, "fd00::/64");

	return a.n == 3 && a.r.advertised && a.r.advertised_at == NOW && !b.r.advertised && c.r.advertised &&
	       c.r.advertised_at == NOW + 10 && c.r.state == STORE_ROUTE_PENDING;
}
static int op_advertise_bad_prefix(struct fx *f)
{
	static const char *const p[] = { "10.0.0.0/33" };
	struct store_list l = { p, 1 };

	return store_routes_advertise(f->s, f->node, &l, NOW);
}
static int op_advertise_missing_node(struct fx *f)
{
	struct store_list l = { routes2, 1 };

	return store_routes_advertise(f->s, 999, &l, NOW);
}
static int op_approve(struct fx *f)
{
	return store_route_approve(f->s, f->node, "10.0.0.0/8", f->alice, NOW + 20);
}
static bool ck_approve(struct fx *f)
{
	struct route_copy r = route_of(f, "10.0.0.0/8");

	return r.r.state == STORE_ROUTE_APPROVED && r.r.decided_by == f->alice && r.r.decided_at == NOW + 20 &&
	       !r.auto_approver[0] && route_of(f, "192.168.1.0/24").r.state == STORE_ROUTE_PENDING;
}
static int op_auto_approve(struct fx *f)
{
	return store_route_auto_approve(f->s, f->node, "192.168.1.0/24", "policy v3 line 12", NOW + 30);
}
static bool ck_auto_approve(struct fx *f)
{
	struct route_copy r = route_of(f, "192.168.1.0/24");

	return r.r.state == STORE_ROUTE_APPROVED && r.r.decided_by == 0 && !strcmp(r.auto_approver, "policy v3 line 12");
}
static int op_reject(struct fx *f)
{
	return store_route_reject(f->s, f->node, "10.0.0.0/8", f->bob, NOW + 40);
}
static bool ck_reject(struct fx *f)
{
	struct route_copy r = route_of(f, "10.0.0.0/8");

	return r.r.state == STORE_ROUTE_REJECTED && r.r.decided_by == f->bob;
}
static int op_approve_unadvertised(struct fx *f)
{
	return store_route_approve(f->s, f->node, "172.16.0.0/12", f->alice, NOW);
}
static int op_approve_withdrawn(struct fx *f)
{
	struct store_list l = { routes2, 1 };
	int rc = store_routes_advertise(f->s, f->node, &l, NOW);

	return rc < 0 ? -EIO : store_route_approve(f->s, f->node, "192.168.1.0/24", f->alice, NOW);
}
static int op_approve_by_nobody(struct fx *f)
{
	return store_route_approve(f->s, f->node, "10.0.0.0/8", 999, NOW);
}
static int op_auto_approve_no_line(struct fx *f)
{
	return store_route_auto_approve(f->s, f->node, "10.0.0.0/8", "", NOW);
}
/* Route primaries (issue 14): a second node advertises 10.0.0.0/8 too. */
static int op_primary(struct fx *f)
{
	return store_route_set_primary(f->s, "10.0.0.0/8", f->node, NOW + 50);
}
static bool ck_primary(struct fx *f)
{
	return route_of(f, "10.0.0.0/8").r.primary_since == NOW + 50 &&
	       route_of(f, "192.168.1.0/24").r.primary_since == 0;
}
static int op_primary_again(struct fx *f)
{
	int rc = store_route_set_primary(f->s, "10.0.0.0/8", f->node, NOW + 50);

	return rc < 0 ? -EIO : store_route_set_primary(f->s, "10.0.0.0/8", f->node, NOW + 60);
}
struct primaries {
	int64_t a, b;			/* node ids */
	int64_t since_a, since_b;
};
static int primaries_row(const struct store_route *r, void *arg)
{
	struct primaries *p = arg;

	if (!strcmp(r->prefix, "10.0.0.0/8") && r->node_id == p->a)
		p->since_a = r->primary_since;
	if (!strcmp(r->prefix, "10.0.0.0/8") && r->node_id == p->b)
		p->since_b = r->primary_since;
	return 0;
}
/* The primary moves to another node: one transaction clears the first. */
static int op_primary_moves(struct fx *f)
{
	static const char *const p[] = { "10.0.0.0/8" };
	struct store_list l = { p, 1 };
	struct primaries pr = { .a = f->node };

	if (tregister(f->s, f->k_reusable, f->s_reusable, "relay2", 2, NOW, &pr.b) ||
	    store_routes_advertise(f->s, pr.b, &l, NOW) || store_route_set_primary(f->s, "10.0.0.0/8", f->node, NOW + 50))
		return -EIO;
	int rc = store_route_set_primary(f->s, "10.0.0.0/8", pr.b, NOW + 70);
	if (rc < 0 || store_routes_each(f->s, primaries_row, &pr) < 0)
		return -EIO;
	return pr.since_a == 0 && pr.since_b == NOW + 70 ? 0 : -EIO;
}
static int op_primary_unadvertised(struct fx *f)
{
	return store_route_set_primary(f->s, "172.16.0.0/12", f->node, NOW);
}
static int op_primary_no_node(struct fx *f)
{
	return store_route_set_primary(f->s, "10.0.0.0/8", 999, NOW);
}

static int op_policy_first(struct fx *f)
{
	int64_t v;
	int rc = store_policy_set(f->s, "{\"acls\": []}", f->alice, 0, NOW, &v);

	return rc < 0 ? rc : v == 1 ? 0 : -EIO;
}
static int op_policy_stale(struct fx *f)
{
	int64_t v;
	int rc = store_policy_set(f->s, "one", f->alice, 0, NOW, &v);

	return rc < 0 ? -EIO : store_policy_set(f->s, "two", f->bob, 0, NOW, &v);
}
static bool ck_policy_stale(struct fx *f)
{
	struct policy_copy c = { 0 };

	return store_policy_get(f->s, 0, policy_copy, &c) == 0 && !strcmp(c.text, "one") && c.versions[0] == 1;
}
static int op_policy_history(struct fx *f)
{
	struct policy_copy c = { 0 };
	int64_t v;
	int rc;

	if (store_policy_set(f->s, "one", f->alice, -1, NOW, &v) || store_policy_set(f->s, "two", f->alice, 1, NOW, &v) ||
	    store_policy_set(f->s, "three", 0, -1, NOW, &v) || v != 3)
		return -EIO;
	rc = store_policy_history(f->s, policy_copy, &c);
	return rc < 0 ? rc : c.n == 3 && c.versions[0] == 1 && c.versions[2] == 3 ? 0 : -EIO;
}
static bool ck_policy_history(struct fx *f)
{
	struct policy_copy live = { 0 }, two = { 0 };

	return store_policy_get(f->s, 0, policy_copy, &live) == 0 && !strcmp(live.text, "three") &&
	       store_policy_get(f->s, 2, policy_copy, &two) == 0 && !strcmp(two.text, "two");
}
static int op_policy_none(struct fx *f)
{
	struct policy_copy c = { 0 };

	return store_policy_get(f->s, 0, policy_copy, &c);
}
static int op_policy_missing_version(struct fx *f)
{
	struct policy_copy c = { 0 };
	int64_t v;

	return store_policy_set(f->s, "one", 0, -1, NOW, &v) ? -EIO : store_policy_get(f->s, 2, policy_copy, &c);
}

static int op_setting(struct fx *f)
{
	char v[16];
	int rc;

	if (store_setting_set(f->s, "listen", "0.0.0.0:1") || store_setting_set(f->s, "listen", "[::]:443"))
		return -EIO;
	rc = store_setting_get(f->s, "listen", v, sizeof(v));
	return rc < 0 ? rc : strcmp(v, "[::]:443") ? -EIO : 0;
}
static int op_setting_add_twice(struct fx *f)
{
	char v[16];
	int rc;

	if (store_setting_add(f->s, "key", "first"))
		return -EIO;
	rc = store_setting_add(f->s, "key", "second");
	if (store_setting_get(f->s, "key", v, sizeof(v)) || strcmp(v, "first"))
		return -EIO;
	return rc;
}
static int op_setting_missing(struct fx *f)
{
	char v[16];

	return store_setting_get(f->s, "nothing", v, sizeof(v));
}
static int op_setting_small_buffer(struct fx *f)
{
	char v[4];

	return store_setting_set(f->s, "listen", "[::]:443") ? -EIO : store_setting_get(f->s, "listen", v, sizeof(v));
}

static const struct {
	const char *name;
	int (*op)(struct fx *f);
	int want;
	int64_t bumps;			/* generations a success adds */
	bool (*check)(struct fx *f);
} cases[] = {
	{ "user add", op_user_add, 0, 1, ck_user_add },
	{ "user add: name taken", op_user_add_taken, -EEXIST, 0, NULL },
	{ "user add: name with a space", op_user_add_bad_name, -EINVAL, 0, NULL },
	{ "user add: unknown role", op_user_add_bad_role, -EINVAL, 0, NULL },
	{ "user remove", op_user_remove, 0, 1, ck_user_remove },
	{ "user remove: owns a node and keys", op_user_remove_owner, -EBUSY, 0, NULL },
	{ "user remove: no such user", op_user_remove_missing, -ENOENT, 0, NULL },
	{ "user by name: no such user", op_user_by_name_missing, -ENOENT, 0, NULL },
	{ "auth key of a user", op_key_user, 0, 1, ck_key_user },
	{ "auth key with tags", op_key_tagged, 0, 1, ck_key_tagged },
	{ "auth key: user and tags", op_key_both, -EINVAL, 0, NULL },
	{ "auth key: neither user nor tags", op_key_neither, -EINVAL, 0, NULL },
	{ "auth key: a tag without tag:", op_key_bad_tag, -EINVAL, 0, NULL },
	{ "auth key: expiry not after now", op_key_expired_at_birth, -EINVAL, 0, NULL },
	{ "auth key: no such user", op_key_missing_user, -ENOENT, 0, NULL },
	{ "auth key revoke", op_key_revoke, 0, 1, ck_key_revoke },
	{ "auth key revoke: no such key", op_key_revoke_missing, -ENOENT, 0, NULL },
	{ "register with a single-use key", op_register_single, 0, 1, ck_register_single },
	{ "register: single-use key used", op_register_single_twice, -EKEYREJECTED, 1, ck_register_single_twice },
	{ "register with a reusable key again", op_register_reusable, 0, 1, ck_register_reusable },
	{ "register with a tagged key", op_register_tagged, 0, 1, ck_register_tagged },
	{ "register: wrong secret", op_register_wrong_secret, -ENOENT, 0, ck_key_unspent },
	{ "register: another key's secret", op_register_other_keys_secret, -ENOENT, 0, ck_key_unspent },
	{ "register: no such key", op_register_missing_key, -ENOENT, 0, NULL },
	{ "register: revoked key", op_register_revoked, -EKEYREVOKED, 0, NULL },
	{ "register: expired key", op_register_expired, -EKEYEXPIRED, 0, NULL },
	{ "register: name taken, key not spent", op_register_name_taken, -EEXIST, 0, ck_key_unspent },
	{ "register: machine key taken, key not spent", op_register_machine_key_taken, -EEXIST, 0, ck_key_unspent },
	{ "register: name not a DNS label", op_register_bad_name, -EINVAL, 0, NULL },
	{ "node remove: routes go, key stays used", op_node_remove, 0, 1, ck_node_remove },
	{ "node remove: no such node", op_node_remove_missing, -ENOENT, 0, NULL },
	{ "node expire", op_node_expire, 0, 1, ck_node_expire },
	{ "node endpoints", op_node_endpoints, 0, 1, ck_node_endpoints },
	{ "node endpoints: a comma", op_node_endpoints_comma, -EINVAL, 0, NULL },
	{ "node endpoints: no such node", op_node_endpoints_missing, -ENOENT, 0, NULL },
	{ "node WireGuard key rotation", op_node_wg_key, 0, 1, ck_node_wg_key },
	{ "node seen", op_node_seen, 0, 1, ck_node_seen },
	{ "node seen: no such node", op_node_seen_missing, -ENOENT, 0, NULL },
	{ "node by machine key", op_node_by_machine_key, 0, 0, NULL },
	{ "node by machine key: unknown", op_node_by_machine_key_missing, -ENOENT, 0, NULL },
	{ "routes advertise: new pending, withdrawn kept", op_advertise, 0, 1, ck_advertise },
	{ "routes advertise: /33", op_advertise_bad_prefix, -EINVAL, 0, NULL },
	{ "routes advertise: no such node", op_advertise_missing_node, -ENOENT, 0, NULL },
	{ "route approve by a user", op_approve, 0, 1, ck_approve },
	{ "route approve by an autoApprovers line", op_auto_approve, 0, 1, ck_auto_approve },
	{ "route reject", op_reject, 0, 1, ck_reject },
	{ "route approve: not advertised", op_approve_unadvertised, -ENOENT, 0, NULL },
	{ "route approve: withdrawn", op_approve_withdrawn, -ENOENT, 1, NULL },
	{ "route approve: no such user", op_approve_by_nobody, -ENOENT, 0, NULL },
	{ "route auto approve: no line", op_auto_approve_no_line, -EINVAL, 0, NULL },
	{ "route primary", op_primary, 0, 1, ck_primary },
	{ "route primary again: its first time stays", op_primary_again, 0, 2, ck_primary },
	{ "route primary moves to another node: the first is cleared", op_primary_moves, 0, 4, NULL },
	{ "route primary: not advertised", op_primary_unadvertised, -ENOENT, 0, NULL },
	{ "route primary: no such node", op_primary_no_node, -ENOENT, 0, NULL },
	{ "policy set if version 0", op_policy_first, 0, 1, NULL },
	{ "policy set if version 0: someone was first", op_policy_stale, -ESTALE, 1, ck_policy_stale },
	{ "policy history and versions", op_policy_history, 0, 3, ck_policy_history },
	{ "policy get: none yet", op_policy_none, -ENOENT, 0, NULL },
	{ "policy get: no such version", op_policy_missing_version, -ENOENT, 1, NULL },
	{ "setting set twice and get", op_setting, 0, 2, NULL },
	{ "setting add: the first value stays", op_setting_add_twice, -EEXIST, 1, NULL },
	{ "setting get: missing", op_setting_missing, -ENOENT, 0, NULL },
	{ "setting get: buffer too small", op_setting_small_buffer, -ENAMETOOLONG, 1, NULL },
};

/* Each case: its result, the generations it added (a refusal adds none
 * beyond the setup steps it counts), and its own check. */
static void operations(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx f;
		int64_t before;
		int rc;

		if (fx_setup(&f) < 0) {
			T_CHECK(0, "%s: fixture", cases[i].name);
			fx_teardown(&f);
			continue;
		}
		before = generation(&f);
		rc = cases[i].op(&f);
		T_CHECK(rc == cases[i].want, "%s: %d (want %d)", cases[i].name, rc, cases[i].want);
		T_CHECK(generation(&f) == before + cases[i].bumps, "%s: generation %lld -> %lld (want +%lld)",
			cases[i].name, (long long)before, (long long)generation(&f), (long long)cases[i].bumps);
		if (cases[i].check)
			T_CHECK(cases[i].check(&f), "%s: state after", cases[i].name);
		fx_teardown(&f);
	}
}

/* Opening: migrations from empty, re-open, refusals. */

static void open_new_and_reopen(void)
{
	struct tdir t;
	struct store *s;
	int64_t id = 0, v = 0;

	tdir_make(&t);
	s = tstore_open(t.db);
	T_CHECK(s && store_schema_version(s) == store_schema_latest(), "new database migrated to version %lld",
		(long long)store_schema_latest());
	T_CHECK(s && store_user_add(s, "alice", "a@example.com", STORE_ROLE_OWNER, NOW, &id) == 0, "a user added");
	store_close(s);
	T_CHECK(tsql_int(t.db, "SELECT count(*) FROM schema_migrations") == store_schema_latest(),
		"one schema_migrations row per migration");
	s = tstore_open(t.db);
	T_CHECK(s && store_schema_version(s) == store_schema_latest() && store_user_by_name(s, "alice", &v) == 0 &&
		v == id, "re-open keeps the data and migrates nothing");
	T_CHECK(s && store_generation(s, &v) == 0 && v == 1, "generation survives re-open");
	store_close(s);
	T_CHECK(tsql_int(t.db, "SELECT count(*) FROM schema_migrations") == store_schema_latest(),
		"re-open added no migration");
	tdir_remove(&t);
}

static void open_refusals(void)
{
	char err[256], sql[128];
	struct store *s = NULL;
	struct tdir t;
	int rc, fd;

	tdir_make(&t);
	s = tstore_open(t.db);
	store_close(s);
	snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%lld, 0)", (long long)store_schema_latest() + 1);
	tsql_exec(t.db, sql);
	rc = store_open(t.db, &s, err, sizeof(err));
	T_CHECK(rc == -EPROTONOSUPPORT && !s, "a newer schema is refused: %d", rc);
	snprintf(sql, sizeof(sql), "schema version %lld is newer than this keygate's (%lld)",
		 (long long)store_schema_latest() + 1, (long long)store_schema_latest());
	T_CHECK(strstr(err, sql) != NULL, "and says why: %s", err);
	tdir_remove(&t);

	tdir_make(&t);
	s = tstore_open(t.db);
	store_close(s);
	tsql_exec(t.db, "ALTER TABLE settings RENAME COLUMN value TO v");
	rc = store_open(t.db, &s, err, sizeof(err));
	T_CHECK(rc == -EINVAL && strstr(err, "schema check failed") && strstr(err, "value"),
		"a schema missing a column fails the check: %s", err);
	tdir_remove(&t);

	tdir_make(&t);
	tsql_exec(t.db, "CREATE TABLE stuff (x INTEGER)");
	rc = store_open(t.db, &s, err, sizeof(err));
	T_CHECK(rc == -EINVAL && strstr(err, "not a keygate state database"), "someone else's database: %s", err);
	tdir_remove(&t);
	if (tpg())
		return;

	tdir_make(&t);
	fd = open(t.db, O_WRONLY | O_CREAT, 0600);
	T_CHECK(fd >= 0 && write(fd, "this is not a database, just some text that is long enough\n", 60) == 60,
		"a text file");
	close(fd);
	rc = store_open(t.db, &s, err, sizeof(err));
	T_CHECK(rc == -EINVAL && !s, "a text file is refused: %s", err);
	tdir_remove(&t);

	rc = store_open("/nonexistent/dir/state.db", &s, err, sizeof(err));
	T_CHECK(rc < 0 && !s, "a path that cannot be created: %s", err);
	rc = store_open("postgresql://keygate:sekrit@/keygate?host=/nonexistent", &s, err, sizeof(err));
	T_CHECK(rc < 0 && !s && strstr(err, "postgresql:///keygate: cannot connect") && !strstr(err, "sekrit"),
		"a PostgreSQL server that is not there is refused, without the password: %s", err);
}

/* The file: WAL, and no secret anywhere in it. */
static void on_disk(void)
{
	uint8_t secret[32];
	char buf[1 << 16];
	struct tdir t;
	struct store *s;
	bool found = false;
	int64_t uid, kid, nid;

	tdir_make(&t);
	s = tstore_open(t.db);
	store_user_add(s, "alice", "a@example.com", STORE_ROLE_OWNER, NOW, &uid);
	tauthkey(s, uid, false, NOW + DAY, &kid, secret);
	tregister(s, kid, secret, "laptop", 1, NOW, &nid);
	for (const char *suffix = ""; suffix; suffix = *suffix ? NULL : "-wal") {
		char path[320];
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "%s%s", t.db, suffix);
		fd = open(path, O_RDONLY);
		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			found |= memmem(buf, n, secret, sizeof(secret)) != NULL;
		close(fd);
	}
	T_CHECK(!found, "the auth key's secret is nowhere in the database or its WAL");
	store_close(s);
	{
		sqlite3 *c;
		sqlite3_stmt *st;
		bool wal = false;

		sqlite3_open(t.db, &c);
		if (sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK) {
			wal = sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
			sqlite3_finalize(st);
		}
		sqlite3_close(c);
		T_CHECK(wal, "the database is in WAL mode");
	}
	tdir_remove(&t);
}

/* Addresses: the reserved ones skipped, none ever given twice. */
static void addresses(void)
{
	static const struct {
		uint64_t from;
		const char *want;
	} v4[] = {
		{ 0, "100.64.0.1" },
		{ 2, "100.64.0.2" },
		{ 0x246464, "100.100.101.0" },		/* 100.100.100.100 and its /24 */
		{ 0x2464ff, "100.100.101.0" },
		{ 0x335c00, "100.115.94.0" },		/* the ChromeOS VM range */
		{ 0x3fffff - 1, "100.127.255.254" },
	}, v6[] = {
		{ 0, "fd7a:115c:a1e0::1" },
		{ 0x53, "fd7a:115c:a1e0::54" },
		{ 0x10000, "fd7a:115c:a1e0::1:0" },
	};
	uint8_t a[16];
	char text[48];
	uint64_t i;

	for (size_t c = 0; c < sizeof(v4) / sizeof(v4[0]); c++) {
		text[0] = '\0';
		if (store_addr_v4_next(v4[c].from, &i) == 0 && store_addr_v4(i, a) == 0)
			inet_ntop(AF_INET, a, text, sizeof(text));
		T_STREQ(text, v4[c].want, "IPv4 from index %#llx", (unsigned long long)v4[c].from);
	}
	T_CHECK(store_addr_v4_next(0x3fffff, &i) == -ENOSPC, "IPv4: the broadcast address ends the range");
	for (size_t c = 0; c < sizeof(v6) / sizeof(v6[0]); c++) {
		text[0] = '\0';
		if (store_addr_v6_next(v6[c].from, &i) == 0 && store_addr_v6(i, a) == 0)
			inet_ntop(AF_INET6, a, text, sizeof(text));
		T_STREQ(text, v6[c].want, "IPv6 from index %#llx", (unsigned long long)v6[c].from);
	}
}

struct addr_seen {
	uint8_t v4[64][4];
	int n;
};

static int addr_collect(const struct store_node *n, void *arg)
{
	struct addr_seen *a = arg;

	if (a->n < 64)
		memcpy(a->v4[a->n++], n->ipv4, 4);
	return 0;
}

static void addresses_never_reused(void)
{
	struct fx f;
	struct node_copy c = { 0 };
	uint8_t removed4[4], removed6[16];
	int64_t id, last = 0;
	bool fresh = true;

	fx_setup(&f);
	memcpy(removed4, node_of(&f, f.node).last.ipv4, 4);
	memcpy(removed6, node_of(&f, f.node).last.ipv6, 16);
	T_CHECK(store_node_remove(f.s, f.node) == 0, "the only node removed");
	T_CHECK(tregister(f.s, f.k_reusable, f.s_reusable, "laptop", 1, NOW, &id) == 0 && id > f.node,
		"the same name and machine key register again, with a new id");
	c = node_of(&f, id);
	T_CHECK(memcmp(c.last.ipv4, removed4, 4) && memcmp(c.last.ipv6, removed6, 16),
		"and get new addresses, not the removed node's");
	for (int n = 0; n < 20; n++) {
		char name[16];

		snprintf(name, sizeof(name), "n%d", n);
		if (tregister(f.s, f.k_reusable, f.s_reusable, name, 100 + n, NOW + n, &id) == 0 && n % 2)
			store_node_remove(f.s, id);
	}
	store_close(f.s);
	f.s = tstore_open(f.t.db);
	T_CHECK(tregister(f.s, f.k_reusable, f.s_reusable, "after-reopen", 200, NOW, &last) == 0,
		"register after re-open");
	{
		struct addr_seen a = { .n = 0 };

		store_nodes_each(f.s, addr_collect, &a);
		for (int x = 0; x < a.n; x++) {
			fresh &= memcmp(a.v4[x], removed4, 4) != 0;
			for (int y = x + 1; y < a.n; y++)
				fresh &= memcmp(a.v4[x], a.v4[y], 4) != 0;
		}
		c = node_of(&f, last);
		T_CHECK(fresh && a.n == 12 && c.last.ipv4[3] == 23, "12 live nodes, all addresses distinct, the last "
			"100.64.0.%u after 22 allocations (removed ones never reused)", c.last.ipv4[3]);
	}
	T_CHECK(tregister(f.s, f.k_single, f.s_single, "one", 300, NOW, &id) == 0 && store_node_remove(f.s, id) == 0 &&
		tregister(f.s, f.k_single, f.s_single, "one", 300, NOW, &id) == -EKEYREJECTED,
		"a removed node's single-use key stays used");
	fx_teardown(&f);
}

/* The last IPv4 address goes, then the range is full, and a refusal spends
 * nothing. */
static void addresses_run_out(void)
{
	struct fx f;
	int64_t id, g;

	fx_setup(&f);
	store_close(f.s);
	tsql_exec(f.t.db, "UPDATE meta SET next_v4 = 4194302");	/* 100.127.255.254 */
	f.s = tstore_open(f.t.db);
	T_CHECK(tregister(f.s, f.k_reusable, f.s_reusable, "last", 2, NOW, &id) == 0 &&
		node_of(&f, id).last.ipv4[3] == 254, "the last IPv4 address is handed out");
	store_generation(f.s, &g);
	T_CHECK(tregister(f.s, f.k_single, f.s_single, "full", 3, NOW, &id) == -ENOSPC, "then the range is full: -ENOSPC");
	T_CHECK(key_of(&f, f.k_single).uses == 0 && generation(&f) == g, "and the refusal spent nothing");
	fx_teardown(&f);
}

static void nodes_in_order(void)
{
	struct fx f;
	struct node_copy c = { 0 };
	int64_t a, b;

	fx_setup(&f);
	tregister(f.s, f.k_tagged, f.s_tagged, "relay", 2, NOW + 1, &a);
	tregister(f.s, f.k_single, f.s_single, "alpha", 3, NOW + 2, &b);
	store_nodes_each(f.s, node_copy, &c);
	T_CHECK(c.n == 3 && c.ids[0] == f.node && c.ids[1] == a && c.ids[2] == b && !strcmp(c.name, "alpha") &&
		c.last.created == NOW + 2, "nodes come in registration order");
	fx_teardown(&f);
}

struct change_list {
	int n;
	int64_t gens[8];
	enum store_kind kinds[8];
	int64_t ids[8];
};

static int change_collect(int64_t gen, enum store_kind kind, int64_t id, void *arg)
{
	struct change_list *l = arg;

	if (l->n < 8) {
		l->gens[l->n] = gen;
		l->kinds[l->n] = kind;
		l->ids[l->n] = id;
	}
	l->n++;
	return 0;
}

static void changes(void)
{
	struct change_list l = { 0 };
	struct fx f;
	unsigned kinds = 0;
	int64_t g, node, v;

	fx_setup(&f);
	store_generation(f.s, &g);
	T_CHECK(store_changes_since(f.s, g, &kinds, change_collect, &l) == 0 && l.n == 0 && kinds == 0,
		"nothing changed since the current generation");
	tregister(f.s, f.k_single, f.s_single, "phone", 2, NOW, &node);
	store_policy_set(f.s, "p", f.alice, -1, NOW, &v);
	T_CHECK(store_changes_since(f.s, g, &kinds, change_collect, &l) == 0 && l.n == 3 &&
		l.gens[0] == g + 1 && l.kinds[0] == STORE_KIND_AUTHKEY && l.ids[0] == f.k_single &&
		l.gens[1] == g + 1 && l.kinds[1] == STORE_KIND_NODE && l.ids[1] == node &&
		l.gens[2] == g + 2 && l.kinds[2] == STORE_KIND_POLICY && l.ids[2] == 1 &&
		kinds == (STORE_KIND_AUTHKEY | STORE_KIND_NODE | STORE_KIND_POLICY),
		"a registration is one generation touching key and node; the policy the next");
	T_CHECK(store_changes_forget(f.s, g + 1) == 0, "changes up to a generation forgotten");
	l.n = 0;
	T_CHECK(store_changes_since(f.s, g + 1, &kinds, change_collect, &l) == 0 && l.n == 1 && kinds == STORE_KIND_POLICY,
		"later ones still listed");
	T_CHECK(store_changes_since(f.s, g, &kinds, NULL, NULL) == -ERANGE,
		"asking from before the forgotten mark says so (-ERANGE)");
	fx_teardown(&f);
}

static int count_user(const struct store_user *u, void *arg)
{
	(void)u;
	++*(int *)arg;
	return 0;
}

static void snapshot(void)
{
	struct store *other;
	struct fx f;
	int64_t g, g2, id;
	int before = 0, during = 0, after = 0;

	fx_setup(&f);
	other = tstore_open(f.t.db);
	store_users_each(f.s, count_user, &before);
	T_CHECK(store_read_begin(f.s, &g) == 0, "read snapshot begins at generation %lld", (long long)g);
	T_CHECK(store_user_add(other, "carol", "c@example.com", STORE_ROLE_MEMBER, NOW, &id) == 0,
		"another connection writes meanwhile");
	store_users_each(f.s, count_user, &during);
	store_generation(f.s, &g2);
	T_CHECK(during == before && g2 == g, "the snapshot sees neither the user nor the generation");
	T_CHECK(store_read_end(f.s) == 0, "read snapshot ends");
	store_users_each(f.s, count_user, &after);
	store_generation(f.s, &g2);
	T_CHECK(after == before + 1 && g2 == g + 1, "after it, both are seen");
	store_close(other);
	fx_teardown(&f);
}

/* Several coordinators: announcements of commits and the job lock, which
 * a store that is its coordinator's alone answers for itself. */
static void shared(void)
{
	struct store *a, *b;
	struct pollfd pfd = { .events = POLLIN };
	struct tdir t;
	int64_t id, gen = 0, want = 0;
	int rc;

	tdir_make(&t);
	a = tstore_open(t.db);
	b = tstore_open(t.db);
	if (!tpg()) {
		T_CHECK(a && !store_shared(a) && store_watch(a, &pfd.fd) == -EOPNOTSUPP,
			"SQLite: not shared, nothing to watch");
		T_CHECK(a && store_job_lock(a, 1) == 1, "SQLite: the job lock is always held");
		goto close;
	}
	T_CHECK(a && b && store_shared(a) && store_watch(a, &pfd.fd) == 0, "PostgreSQL: shared, watched");
	T_CHECK(store_watch_read(a, &gen) == 0, "nothing announced yet");
	T_CHECK(b && store_user_add(b, "carol", "c@example.com", STORE_ROLE_MEMBER, NOW, &id) == 0 &&
		store_generation(b, &want) == 0, "another connection commits generation %lld", (long long)want);
	rc = 0;
	for (int tries = 0; tries < 50 && rc == 0; tries++)	/* 5 s at most */
		if (poll(&pfd, 1, 100) > 0)
			rc = store_watch_read(a, &gen);
	T_CHECK(rc == 1 && gen == want, "the watcher hears of it: %d announcement, generation %lld", rc,
		(long long)gen);
	T_CHECK(store_user_add(b, "carol", "c@example.com", STORE_ROLE_MEMBER, NOW, &id) == -EEXIST,
		"a refused change");
	T_CHECK(poll(&pfd, 1, 300) == 0, "is not announced (nothing within 300 ms)");
	T_CHECK(store_job_lock(a, 7) == 1 && store_job_lock(a, 7) == 1, "one store takes a job lock, and keeps it");
	T_CHECK(store_job_lock(b, 7) == 0, "another is refused it");
	store_close(a);
	a = NULL;
	rc = 0;
	for (int tries = 0; tries < 50 && rc == 0; tries++) {
		rc = store_job_lock(b, 7);
		if (rc == 0)
			usleep(100000);
	}
	T_CHECK(rc == 1, "once the holder is gone, the other takes it");
close:
	store_close(a);
	store_close(b);
	tdir_remove(&t);
}

/* Every case but the file's own, on the backend set up. */
static void suite(void)
{
	open_new_and_reopen();
	open_refusals();
	operations();
	addresses();
	addresses_never_reused();
	addresses_run_out();
	nodes_in_order();
	changes();
	snapshot();
	shared();
}

int main(void)
{
	char why[256];

	printf("# SQLite\n");
	on_disk();
	suite();
	if (!tpg_start(why, sizeof(why))) {
		T_SKIP("store on PostgreSQL: no server: %s", why);
		T_DONE();
	}
	printf("# PostgreSQL (%s)\n", tpg_dir);
	suite();
	tpg_stop();
	T_DONE();
}
