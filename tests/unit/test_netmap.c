/* netmap: per-node maps computed from the store.
 *  - conformance: every accepted case under
 *    $KG_SHARED/testdata/tailscale-captures is loaded into a fresh store
 *    through store_* calls (users, auth keys, registrations, routes
 *    advertised and approved; the recorded tunnel addresses written over
 *    the allocated ones, a test-only step) and its world built; every
 *    node's peers, allowed IPs, routes and filter must equal what the
 *    compiler gives for the case's own JSON inventory (routes_compute and
 *    ts_node_rules), which test_conformance_routes checks against the
 *    recordings;
 *  - the map's shape (ids, keys, addresses, keepalive), expired nodes,
 *    no policy, autoApprovers (served while pending, reported, rejection
 *    wins), policy diagnostics that outlive the world;
 *  - netmap_changed on random changes: true for every node whose encoded
 *    map differs; false for untouched nodes of a large tailnet. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netmap.h"
#include "netmap_elect.h"
#include "routes.h"
#include "ts.h"
#include "t.h"
#include "captures.h"
#include "store_test.h"

/* A store in a fresh directory of /dev/shm (each commit is synced: on a
 * disk the conformance run would take minutes), else /tmp. */
static struct store *shm_store(struct tdir *t)
{
	snprintf(t->dir, sizeof(t->dir), "/dev/shm/test_netmap.XXXXXX");
	if (!mkdtemp(t->dir) && tdir_make(t) < 0)
		return NULL;
	snprintf(t->db, sizeof(t->db), "%s/state.db", t->dir);
	return tstore_open(t->db);
}

static struct netmap_world *build(struct store *s, const char *dry, int *rc)
{
	struct diag_list diags = { 0 };
	struct netmap_world *w = NULL;
	int64_t gen;
	*rc = netmap_world_build(s, dry, &gen, &w, &diags);
	if (*rc < 0)
		diag_print(stdout, &diags);
	diag_list_free(&diags);
	return w;
}

/* The world's node named NAME, or -1. */
static int64_t id_named(const struct netmap_world *w, const char *name)
{
	for (size_t i = 0; i < netmap_node_count(w); i++) {
		struct ctl_netmap m;
		int64_t id = netmap_node_id(w, i);
		if (netmap_for(w, id, 0, &m) < 0)
			continue;
		bool hit = strcmp(m.self.name, name) == 0;
		ctl_netmap_free(&m);
		if (hit)
			return id;
	}
	return -1;
}

/* ---- conformance: the store path equals the JSON path ---- */

static int64_t unix_time(const char *rfc3339)
{
	struct tm tm = { 0 };
	if (!rfc3339 || !strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

struct loaded {
	int64_t *ids;		/* store id per inventory node */
	int64_t admin;		/* a user who approves */
};

static int add_users(struct store *s, const struct inv *inv, struct loaded *ld, int64_t now)
{
	for (size_t u = 0; u < inv->nusers; u++) {
		char email[STORE_TEXT_MAX + 1];
		const char *e = inv->users[u].email;
		int64_t id;
		/* The store wants an email; a case without one gets one no policy names. */
		if (!e || !*e)
			snprintf(email, sizeof(email), "%s@netmap.invalid", inv->users[u].name);
		int rc = store_user_add(s, inv->users[u].name, e && *e ? e : email, STORE_ROLE_MEMBER, now, &id);
		if (rc < 0)
			return rc;
		ld->admin = id;
	}
	return ld->admin ? 0 : store_user_add(s, "netmap-admin", "admin@netmap.invalid", STORE_ROLE_ADMIN, now,
					      &ld->admin);
}

static int node_key(struct store *s, const struct inv *inv, const struct inv_node *n, int64_t now, int64_t *key,
		    uint8_t secret[STORE_KEY_LEN])
{
	int64_t user = 0;
	if (n->user >= 0 && !n->ntags) {
		int rc = store_user_by_name(s, inv->users[n->user].name, &user);
		if (rc < 0)
			return rc;
	}
	struct store_authkey_spec spec = {
		.user_id = user,
		.tags = { user ? NULL : (const char *const *)n->tags, user ? 0 : n->ntags },
		.expiry = now + DAY,
	};
	return store_authkey_create(s, &spec, now, key, secret);
}

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Node ID's addresses as SQL, appended to SQL (of LEN bytes). */
static void set_addrs(char *sql, size_t len, int64_t id, const uint8_t a4[4], const uint8_t a6[16])
{
	char h4[9], h6[33];
	size_t used = strlen(sql);
	hex(h4, a4, 4);
	hex(h6, a6, 16);
	snprintf(sql + used, len - used, "UPDATE nodes SET ipv4 = x'%s', ipv6 = x'%s' WHERE id = %lld;", h4, h6,
		 (long long)id);
}

/* The recorded addresses over the allocated ones, written past the store
 * (a test-only step) in one transaction, every node first moved to a
 * placeholder: addresses are unique, and a recorded one may be another
 * node's allocated one. */
static int record_addrs(const char *db, const struct inv *inv, const int64_t *ids, size_t n)
{
	size_t len = 64 + 2 * 128 * n;
	char *sql = malloc(len);
	if (!sql)
		return -ENOMEM;
	snprintf(sql, len, "BEGIN;");
	for (size_t i = 0; i < n; i++) {
		uint8_t a4[4] = { 0, 0, (uint8_t)(i >> 8), (uint8_t)i }, a6[16] = { 0 };
		memcpy(a6 + 14, a4 + 2, 2);
		set_addrs(sql, len, ids[i], a4, a6);
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t a4[4], a6[16];
		addr_to_bytes(ADDR_V4, inv->nodes[i].v4, a4);
		addr_to_bytes(ADDR_V6, inv->nodes[i].v6, a6);
		set_addrs(sql, len, ids[i], a4, a6);
	}
	strcat(sql, "COMMIT;");
	int rc = tsql_exec(db, sql) ? -EIO : 0;
	free(sql);
	return rc;
}

static int add_routes(struct store *s, int64_t id, const struct inv_node *n, int64_t admin, int64_t now)
{
	const char *adv[STORE_LIST_MAX];
	size_t nadv = 0;
	for (size_t r = 0; r < n->nadvertised && nadv < STORE_LIST_MAX; r++)
		adv[nadv++] = n->advertised[r].text;
	int rc = nadv ? store_routes_advertise(s, id, &(struct store_list){ adv, nadv }, now) : 0;
	for (size_t r = 0; rc == 0 && r < n->napproved; r++) {
		bool advertised = false;
		for (size_t a = 0; a < nadv; a++)
			advertised |= strcmp(adv[a], n->approved[r].text) == 0;
		if (advertised)
			rc = store_route_approve(s, id, n->approved[r].text, admin, now);
	}
	return rc;
}

/* Nodes FROM to TO - 1 of INV registered, with their routes, then the
 * recorded addresses of the first TO.  Registration order is the
 * inventory's: by created time when every node has one (as the inventory
 * sorts), else file order. */
static int register_nodes(struct store *s, const char *db, const struct inv *inv, size_t from, size_t to,
			  struct loaded *ld)
{
	bool all_created = true;
	int rc = 0;
	for (size_t i = 0; i < inv->nnodes; i++)
		all_created &= inv->nodes[i].created != NULL;
	for (size_t i = from; rc == 0 && i < to; i++) {
		const struct inv_node *n = &inv->nodes[i];
		int64_t now = all_created ? unix_time(n->created) : NOW + (int64_t)i, key;
		uint8_t secret[STORE_KEY_LEN];
		if ((rc = node_key(s, inv, n, now, &key, secret)) < 0 ||
		    (rc = tregister(s, key, secret, n->name, (unsigned)i + 1, now, &ld->ids[i])) < 0)
			return rc;
		rc = add_routes(s, ld->ids[i], n, ld->admin, now);
	}
	return rc < 0 ? rc : record_addrs(db, inv, ld->ids, to);
}

/* The case's users, its first UPTO nodes and its policy. */
static int load_case(struct store *s, const char *db, const struct inv *inv, const char *policy, size_t upto,
		     struct loaded *ld)
{
	int64_t version;
	ld->ids = calloc(inv->nnodes + 1, sizeof(*ld->ids));
	int rc = ld->ids ? add_users(s, inv, ld, NOW) : -ENOMEM;
	if (rc < 0 || (rc = register_nodes(s, db, inv, 0, upto, ld)) < 0)
		return rc;
	return store_policy_set(s, policy, ld->admin, -1, NOW, &version);
}

static void prefix_texts(const struct ctl_prefixes *p, cJSON *out)
{
	char buf[64];
	for (size_t i = 0; i < p->n; i++) {
		ctl_prefix_format(buf, &p->v[i]);
		cJSON_AddItemToArray(out, cJSON_CreateString(buf));
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A JSON array of strings as one sorted, comma-joined text. */
static char *sorted_text(const cJSON *arr)
{
	size_t n = (size_t)cJSON_GetArraySize(arr), len = 1, k = 0;
	const char **v = calloc(n + 1, sizeof(*v));
	const cJSON *e;
	cJSON_ArrayForEach(e, arr) {
		v[k++] = e->valuestring;
		len += strlen(e->valuestring) + 1;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	char *s = calloc(1, len);
	for (size_t i = 0; i < n; i++) {
		strcat(s, v[i]);
		strcat(s, ",");
	}
	free(v);
	return s;
}

/* Node I's view, the store way (M) against the JSON way (RS, FS): peers by
 * name, allowed IPs as sets, routes, the filter text. */
static bool same_node(const struct inv *inv, const struct routes_set *rs, const struct filter_set *fs, size_t i,
		      const struct ctl_netmap *m, const struct netmap_world *w, char *why, size_t whylen)
{
	const struct routes_view *v = &rs->views[i];
	const char *name = inv->nodes[i].name;
	cJSON *want_routes = cJSON_CreateArray(), *got_routes = cJSON_CreateArray();
	bool ok = m->n_peers == v->npeers;
	if (!ok)
		snprintf(why, whylen, "%s: %zu peers, the JSON inventory gives %zu", name, m->n_peers, v->npeers);
	for (size_t k = 0; ok && k < v->npeers; k++) {
		const struct routes_peer *pe = &v->peers[k];
		const char *peer = inv->nodes[pe->node].name;
		int64_t pid = id_named(w, peer);
		const struct ctl_peer *got = NULL;
		for (size_t j = 0; j < m->n_peers; j++)
			if ((int64_t)m->peers[j].id == pid)
				got = &m->peers[j];
		if (!got) {
			snprintf(why, whylen, "%s: peer %s missing", name, peer);
			ok = false;
			break;
		}
		cJSON *want = cJSON_CreateArray(), *have = cJSON_CreateArray();
		char buf[ADDR_RANGE_STRLEN];
		for (size_t r = 0; r < pe->allowed_ips.n; r++)
			cJSON_AddItemToArray(want, cJSON_CreateString(routes_prefix_format(&pe->allowed_ips.v[r], buf)));
		for (size_t r = 0; r < pe->primary_routes.n; r++)
			cJSON_AddItemToArray(want_routes,
					     cJSON_CreateString(routes_prefix_format(&pe->primary_routes.v[r], buf)));
		prefix_texts(&got->allowed_ips, have);
		char *a = sorted_text(want), *b = sorted_text(have);
		ok = strcmp(a, b) == 0 && got->keepalive == NETMAP_KEEPALIVE;
		if (!ok)
			snprintf(why, whylen, "%s sees %s: allowed IPs %s, the JSON inventory gives %s", name, peer, b, a);
		free(a);
		free(b);
		cJSON_Delete(want);
		cJSON_Delete(have);
	}
	if (ok) {
		prefix_texts(&m->routes, got_routes);
		char *a = sorted_text(want_routes), *b = sorted_text(got_routes);
		ok = strcmp(a, b) == 0;
		if (!ok)
			snprintf(why, whylen, "%s: routes %s, the JSON inventory gives %s", name, b, a);
		free(a);
		free(b);
	}
	if (ok) {
		cJSON *rules = ts_node_rules(&fs->nodes[i]);
		char *want = cJSON_PrintUnformatted(rules);
		ok = strcmp(want, m->filter) == 0 && m->snat == (fs->nodes[i].served.n > 0);
		if (!ok)
			snprintf(why, whylen, "%s: filter %s (snat %d), the JSON inventory gives %s", name, m->filter,
				 m->snat, want);
		free(want);
		cJSON_Delete(rules);
	}
	cJSON_Delete(want_routes);
	cJSON_Delete(got_routes);
	return ok;
}

/* One case: 1 agrees, 0 differs, -1 not a case for us. */
static int run_case(const char *path, char *why, size_t whylen, size_t *npeers)
{
	struct captures_case cc;
	struct routes_set rs = { 0 };
	struct loaded ld = { 0 };
	struct netmap_world *w = NULL;
	struct tdir t;
	struct store *s = NULL;
	char *policy = NULL;
	int res = -1, rc;
	if (!captures_load(path, &cc) || cc.status != 200 || !cc.policy || captures_compile(&cc) < 0 ||
	    routes_compute(cc.policy, cc.inv, &cc.fs, &rs, &cc.diags) < 0)
		goto free_case;
	res = 0;
	const cJSON *pj = cJSON_GetObjectItemCaseSensitive(cc.json, "policy");
	policy = cJSON_IsString(pj) ? strdup(pj->valuestring) : cJSON_Print(pj);
	if (!(s = shm_store(&t))) {
		snprintf(why, whylen, "no store");
		goto free_case;
	}
	if ((rc = load_case(s, t.db, cc.inv, policy, cc.inv->nnodes, &ld)) < 0) {
		snprintf(why, whylen, "loading the store: %s", strerror(-rc));
		goto close_store;
	}
	if (!(w = build(s, NULL, &rc))) {
		snprintf(why, whylen, "world: %s", strerror(-rc));
		goto close_store;
	}
	res = netmap_node_count(w) == cc.inv->nnodes;
	snprintf(why, whylen, "%zu nodes in the world, %zu in the case", netmap_node_count(w), cc.inv->nnodes);
	*npeers = 0;
	for (size_t i = 0; res == 1 && i < cc.inv->nnodes; i++) {
		struct ctl_netmap m;
		if (netmap_for(w, ld.ids[i], 1, &m) < 0) {
			snprintf(why, whylen, "%s: no map", cc.inv->nodes[i].name);
			res = 0;
			break;
		}
		res = same_node(cc.inv, &rs, &cc.fs, i, &m, w, why, whylen);
		*npeers += m.n_peers;
		ctl_netmap_free(&m);
	}
	if (res == 1)
		snprintf(why, whylen, "%zu nodes, %zu peer entries: peers, allowed IPs, routes and filters as from "
			 "the JSON inventory", cc.inv->nnodes, *npeers);
	netmap_world_free(w);
close_store:
	store_close(s);
	tdir_remove(&t);
free_case:
	free(policy);
	free(ld.ids);
	routes_set_free(&rs);
	captures_case_free(&cc);
	return res;
}

struct tally {
	size_t pass, fail;
};

static void conformance_case(const char *folder, const char *name, const char *path, void *arg)
{
	struct tally *t = arg;
	char why[1024] = "";
	size_t npeers = 0;
	int res = run_case(path, why, sizeof(why), &npeers);
	if (res == 0)
		T_CHECK(false, "netmap conformance %s/%s: %s", folder, name, why);
	if (res >= 0)
		*(res ? &t->pass : &t->fail) += 1;
}

static void test_conformance(void)
{
	struct tally t = { 0 };
	if (captures_each("netmap conformance", conformance_case, &t) == 0)
		return;
	T_CHECK(t.fail == 0 && t.pass > 400, "netmap conformance: %zu of %zu accepted cases, loaded into a store, give "
		"every node the peers, allowed IPs, routes and filter of their JSON inventory", t.pass,
		t.pass + t.fail);
}

/* ---- small tailnets ---- */

struct net {
	struct tdir t;
	struct store *s;
	int64_t admin;
	unsigned next;		/* key numbers */
};

static bool net_open(struct net *n)
{
	memset(n, 0, sizeof(*n));
	n->s = shm_store(&n->t);
	return n->s && store_user_add(n->s, "admin", "admin@example.com", STORE_ROLE_ADMIN, NOW, &n->admin) == 0;
}

static void net_close(struct net *n)
{
	store_close(n->s);
	tdir_remove(&n->t);
}

static int64_t net_user(struct net *n, const char *name)
{
	char email[128];
	int64_t id = 0;
	snprintf(email, sizeof(email), "%s@example.com", name);
	store_user_add(n->s, name, email, STORE_ROLE_MEMBER, NOW, &id);
	return id;
}

/* Node NAME of USER, or tagged TAG when USER is 0; its id or -1. */
static int64_t net_node(struct net *n, int64_t user, const char *tag, const char *name)
{
	const char *tags[] = { tag };
	struct store_authkey_spec spec = { .user_id = user, .tags = { user ? NULL : tags, user ? 0 : 1 },
					   .expiry = NOW + DAY };
	uint8_t secret[STORE_KEY_LEN];
	int64_t key, id;
	n->next++;
	if (store_authkey_create(n->s, &spec, NOW, &key, secret) < 0 ||
	    tregister(n->s, key, secret, name, n->next, NOW + n->next, &id) < 0)
		return -1;
	return id;
}

static int net_advertise(struct net *n, int64_t node, const char *const *prefixes, size_t np)
{
	return store_routes_advertise(n->s, node, &(struct store_list){ prefixes, np }, NOW);
}

static int net_policy(struct net *n, const char *text)
{
	int64_t version;
	return store_policy_set(n->s, text, n->admin, -1, NOW, &version);
}

static char *encode(const struct netmap_world *w, int64_t id)
{
	struct ctl_netmap m;
	if (netmap_for(w, id, 7, &m) < 0)
		return NULL;
	char *text = ctl_netmap_encode(&m);
	ctl_netmap_free(&m);
	return text;
}

static bool has_prefix(const struct ctl_prefixes *p, const char *text)
{
	char buf[64];
	for (size_t i = 0; i < p->n; i++) {
		ctl_prefix_format(buf, &p->v[i]);
		if (strcmp(buf, text) == 0)
			return true;
	}
	return false;
}

static const char shape_policy[] =
	"{\"groups\": {\"group:eng\": [\"alice@example.com\"]},\n"
	" \"tagOwners\": {\"tag:relay\": [\"alice@example.com\"]},\n"
	" \"acls\": [{\"action\": \"accept\", \"src\": [\"group:eng\"],\n"
	"           \"dst\": [\"tag:relay:*\", \"10.1.0.0/16:443\", \"10.2.0.0/16:443\",\n"
	"                   \"192.168.0.0/16:443\"]}],\n"
	" \"autoApprovers\": {\"routes\": {\"10.0.0.0/8\": [\"tag:relay\"]}}}\n";

struct approvals {
	size_t n;
	char prefix[64], approver[STORE_TEXT_MAX + 1];
};

static int approval_seen(int64_t id, const char *prefix, const char *approver, void *arg)
{
	struct approvals *a = arg;
	(void)id;
	a->n++;
	snprintf(a->prefix, sizeof(a->prefix), "%s", prefix);
	snprintf(a->approver, sizeof(a->approver), "%s", approver);
	return 0;
}

/* Alice's laptop sees the relay and the route autoApprovers approve; the
 * relay sees alice's nodes, not bob's; bob sees nobody. */
/* netmap_node_registered_as: the relay registering again with its key,
 * endpoints (PEER, as the laptop is told) and the four routes it advertises
 * (ROUTES, in another order) changes nothing; any difference does. */
static void check_registered(const struct netmap_world *w, int64_t relay, int64_t laptop, const struct ctl_peer *peer,
			     const char *const *routes)
{
	struct ctl_prefix p[4];
	for (size_t i = 0; i < 4; i++)
		ctl_prefix_parse(&p[3 - i], routes[i]);
	struct ctl_register reg = { .routes = { p, 4 }, .endpoints = peer->endpoints };
	memcpy(reg.wg_key, peer->wg_key, sizeof(reg.wg_key));
	T_CHECK(netmap_node_registered_as(w, relay, &reg) && !netmap_node_registered_as(w, laptop, &reg) &&
			!netmap_node_registered_as(w, 999, &reg),
		"netmap registered: the relay's own key, endpoints and routes (any order) are what the world "
		"holds of it, not of the laptop nor of an unknown id");
	reg.routes.n = 3;
	T_CHECK(!netmap_node_registered_as(w, relay, &reg), "netmap registered: one route fewer is a change");
	reg.routes.n = 4;
	struct ctl_endpoint ep[2] = { peer->endpoints.v[1], peer->endpoints.v[0] };
	reg.endpoints = (struct ctl_endpoints){ ep, 2 };
	T_CHECK(!netmap_node_registered_as(w, relay, &reg), "netmap registered: endpoints in another order are a change");
	reg.endpoints = peer->endpoints;
	reg.wg_key[0] ^= 1;
	T_CHECK(!netmap_node_registered_as(w, relay, &reg), "netmap registered: a new WireGuard key is a change");
}

static void test_shape(void)
{
	struct net n;
	int rc;
	if (!net_open(&n)) {
		T_CHECK(false, "netmap shape: a store");
		return;
	}
	int64_t alice = net_user(&n, "alice"), bob = net_user(&n, "bob");
	int64_t laptop = net_node(&n, alice, NULL, "laptop"), phone = net_node(&n, alice, NULL, "phone");
	int64_t desk = net_node(&n, bob, NULL, "desk"), relay = net_node(&n, 0, "tag:relay", "relay");
	static const char *const routes[] = { "10.1.0.0/16", "10.2.0.0/16", "192.168.0.0/24", "192.168.1.0/24" };
	net_advertise(&n, relay, routes, 4);
	unsigned relay_key = n.next;
	store_route_reject(n.s, relay, "10.2.0.0/16", n.admin, NOW);
	store_route_approve(n.s, relay, "192.168.0.0/24", n.admin, NOW);
	net_policy(&n, shape_policy);
	struct netmap_world *w = build(n.s, NULL, &rc);
	T_CHECK(w && netmap_node_count(w) == 4, "netmap shape: a world of four nodes");
	if (!w)
		goto close;
	struct ctl_netmap m;
	rc = netmap_for(w, laptop, 3, &m);
	T_CHECK(rc == 0 && m.generation == 3 && m.self.id == (uint64_t)laptop && !strcmp(m.self.name, "laptop") &&
			m.self.addresses.n == 2 && m.self.addresses.v[0].bits == 32 && m.self.addresses.v[1].bits == 128,
		"netmap shape: self is the store's id, name and addresses (/32, /128)");
	T_CHECK(rc == 0 && m.n_peers == 1 && m.peers[0].id == (uint64_t)relay && !strcmp(m.peers[0].name, "relay") &&
			m.peers[0].keepalive == NETMAP_KEEPALIVE && m.peers[0].endpoints.n == 2,
		"netmap shape: the laptop's one peer is the relay (store id, name, endpoints, keepalive 25)");
	uint8_t wg[STORE_KEY_LEN];
	tkey(wg, relay_key + 1000000);
	T_MEMEQ(rc == 0 && m.n_peers ? m.peers[0].wg_key : wg, wg, 32, "netmap shape: the peer's WireGuard key is the store's");
	if (rc == 0 && m.n_peers == 1)
		check_registered(w, relay, laptop, &m.peers[0], routes);
	T_CHECK(rc == 0 && m.n_peers == 1 && m.peers[0].allowed_ips.n == 4 &&
			has_prefix(&m.peers[0].allowed_ips, "10.1.0.0/16") &&
			has_prefix(&m.peers[0].allowed_ips, "192.168.0.0/24") &&
			!has_prefix(&m.peers[0].allowed_ips, "192.168.1.0/24") &&
			!has_prefix(&m.peers[0].allowed_ips, "10.2.0.0/16"),
		"netmap shape: the relay's allowed IPs: its addresses, 10.1.0.0/16 (pending, auto-approved) and "
		"192.168.0.0/24 (approved); not 192.168.1.0/24 (pending), nor 10.2.0.0/16 (rejected, autoApprovers "
		"or not)");
	T_CHECK(rc == 0 && m.routes.n == 2 && has_prefix(&m.routes, "10.1.0.0/16") &&
			has_prefix(&m.routes, "192.168.0.0/24") && !m.snat &&
			!strcmp(m.filter, "[]"),
		"netmap shape: the laptop routes 10.1.0.0/16 and 192.168.0.0/24 into the tunnel, does not "
		"source-NAT, accepts nothing");
	ctl_netmap_free(&m);
	rc = netmap_for(w, relay, 3, &m);
	T_CHECK(rc == 0 && m.n_peers == 2 && m.peers[0].id == (uint64_t)laptop && m.peers[1].id == (uint64_t)phone &&
			m.snat && strstr(m.filter, "10.1.0.0/16") && m.routes.n == 0,
		"netmap shape: the relay sees alice's two nodes (by id), not bob's; it source-NATs; its filter "
		"holds its route");
	ctl_netmap_free(&m);
	rc = netmap_for(w, desk, 3, &m);
	T_CHECK(rc == 0 && m.n_peers == 0, "netmap shape: bob's desk has no peer");
	ctl_netmap_free(&m);
	T_CHECK(netmap_for(w, 999, 3, &m) == -ENOENT, "netmap shape: no map for an unknown id");

	struct approvals a = { 0 };
	rc = netmap_auto_approvals(w, relay, approval_seen, &a);
	T_CHECK(rc == 0 && a.n == 1 && !strcmp(a.prefix, "10.1.0.0/16") && strstr(a.approver, "tag:relay") &&
			strstr(a.approver, "policy v1 line 6"),
		"netmap approvals: the pending 10.1.0.0/16 is reported, approved by %s", a.approver);
	rc = store_route_auto_approve(n.s, relay, a.prefix, a.approver, NOW);
	struct netmap_world *w2 = build(n.s, NULL, &rc);
	struct approvals b = { 0 };
	T_CHECK(w2 && netmap_auto_approvals(w2, relay, approval_seen, &b) == 0 && b.n == 0 &&
			!netmap_changed(w, w2, relay) && !netmap_changed(w, w2, laptop),
		"netmap approvals: once recorded, nothing more to report and no map changes");
	T_CHECK(netmap_auto_approvals(w, 999, approval_seen, &b) == -ENOENT, "netmap approvals: unknown node");
	netmap_world_free(w2);

	store_node_expire(n.s, phone);
	w2 = build(n.s, NULL, &rc);
	char *enc = w2 ? encode(w2, relay) : NULL;
	T_CHECK(w2 && netmap_node_count(w2) == 3 && netmap_node_index(w2, phone) < 0 && enc &&
			strstr(enc, "\"laptop\"") && !strstr(enc, "\"phone\"") && netmap_changed(w, w2, relay) &&
			netmap_changed(w, w2, phone) && netmap_for(w2, phone, 1, &m) == -ENOENT,
		"netmap expiry: the expired phone leaves the world and the relay's peers");
	free(enc);
	netmap_world_free(w2);
	netmap_world_free(w);
close:
	net_close(&n);
}

/* Who carries PREFIX in M: the peer with it in its allowed IPs
 * (*CARRIER) and the peer listing it as backup of rank 1 (*BACKUP). */
static void ha_roles_of(const struct ctl_netmap *m, const char *prefix, const char **carrier, const char **backup)
{
	struct ctl_prefix want;
	ctl_prefix_parse(&want, prefix);
	*carrier = *backup = "";
	for (size_t i = 0; i < m->n_peers; i++) {
		for (size_t k = 0; k < m->peers[i].allowed_ips.n; k++)
			if (!memcmp(&m->peers[i].allowed_ips.v[k], &want, sizeof(want)))
				*carrier = m->peers[i].name;
		for (size_t k = 0; k < m->peers[i].backup_routes.n; k++)
			if (!memcmp(&m->peers[i].backup_routes.v[k].prefix, &want, sizeof(want)) &&
			    m->peers[i].backup_routes.v[k].rank == 1)
				*backup = m->peers[i].name;
	}
}

static void ha_roles(const struct ctl_netmap *m, const char **carrier, const char **backup)
{
	ha_roles_of(m, "8.8.8.8/32", carrier, backup);
}

/* Two relays serve two routes; the election is per prefix: r2 leads
 * 8.8.8.8/32 (r1's probe for it failed) while r1 keeps 8.8.4.4/32.  The
 * laptop's map follows each prefix's primary, whatever the relays'
 * registration order. */
static void test_ha_per_prefix(void)
{
	static const char *const routes[] = { "8.8.8.8/32", "8.8.4.4/32" };
	struct netmap_world *w = NULL;
	struct ctl_netmap m;
	const char *c1, *b1, *c2, *b2;
	struct net n;
	int rc;
	if (!net_open(&n)) {
		T_CHECK(false, "netmap ha per prefix: a store");
		return;
	}
	int64_t laptop = net_node(&n, n.admin, NULL, "laptop");
	int64_t r1 = net_node(&n, 0, "tag:relay", "r1"), r2 = net_node(&n, 0, "tag:relay", "r2");
	for (size_t i = 0; i < 2; i++) {
		net_advertise(&n, i ? r2 : r1, routes, 2);
		store_route_approve(n.s, i ? r2 : r1, routes[0], n.admin, NOW);
		store_route_approve(n.s, i ? r2 : r1, routes[1], n.admin, NOW);
	}
	store_route_set_primary(n.s, routes[0], r2, NOW);
	store_route_set_primary(n.s, routes[1], r1, NOW);
	rc = net_policy(&n, "{\"tagOwners\": {\"tag:relay\": [\"autogroup:admin\"]},\n"
			    " \"acls\": [{\"action\": \"accept\", \"src\": [\"autogroup:admin\"], \"dst\": [\"8.8.0.0/16:443\"]}]}\n");
	if (rc == 0 && (w = build(n.s, NULL, &rc)) && netmap_for(w, laptop, 1, &m) == 0) {
		ha_roles_of(&m, routes[0], &c1, &b1);
		ha_roles_of(&m, routes[1], &c2, &b2);
		T_CHECK(!strcmp(c1, "r2") && !strcmp(b1, "r1"),
			"netmap ha per prefix: 8.8.8.8/32 carried by its primary r2, r1 backs it up: %s, %s", c1, b1);
		T_CHECK(!strcmp(c2, "r1") && !strcmp(b2, "r2"),
			"netmap ha per prefix: 8.8.4.4/32 carried by its primary r1, r2 backs it up: %s, %s", c2, b2);
		ctl_netmap_free(&m);
	} else {
		T_CHECK(false, "netmap ha per prefix: the world and the laptop's map: %d", rc);
	}
	netmap_world_free(w);
	net_close(&n);
}

/* Two relays serve 8.8.8.8/32 (issue 14): the laptop's map has the
 * primary carry it and the other back it up; the elected primary (the
 * store's) comes first instead of the older relay; the backup's own filter
 * admits the laptop. */
static void test_ha(void)
{
	static const char *const route[] = { "8.8.8.8/32" };
	struct netmap_world *w = NULL, *w2 = NULL;
	struct ctl_netmap m;
	const char *carrier, *backup;
	struct net n;
	int rc;
	if (!net_open(&n)) {
		T_CHECK(false, "netmap ha: a store");
		return;
	}
	int64_t laptop = net_node(&n, n.admin, NULL, "laptop");
	int64_t r1 = net_node(&n, 0, "tag:relay", "r1"), r2 = net_node(&n, 0, "tag:relay", "r2");
	net_advertise(&n, r1, route, 1);
	net_advertise(&n, r2, route, 1);
	store_route_approve(n.s, r1, route[0], n.admin, NOW);
	store_route_approve(n.s, r2, route[0], n.admin, NOW);
	rc = net_policy(&n, "{\"tagOwners\": {\"tag:relay\": [\"autogroup:admin\"]},\n"
			    " \"acls\": [{\"action\": \"accept\", \"src\": [\"autogroup:admin\"], \"dst\": [\"8.8.8.8:443\"]}]}\n");
	if (rc == 0 && (w = build(n.s, NULL, &rc)) && netmap_for(w, laptop, 1, &m) == 0) {
		ha_roles(&m, &carrier, &backup);
		T_CHECK(!strcmp(carrier, "r1") && !strcmp(backup, "r2"),
			"netmap ha: no election yet: the older relay r1 carries 8.8.8.8/32, r2 backs it up (rank 1): %s, %s",
			carrier, backup);
		ctl_netmap_free(&m);
	} else {
		T_CHECK(false, "netmap ha: the world and the laptop's map: %d", rc);
	}
	if (w && netmap_for(w, r2, 1, &m) == 0) {
		T_CHECK(m.snat && m.n_peers == 1 && strstr(m.filter, "8.8.8.8"),
			"netmap ha: the backup r2 has the laptop as a peer and a filter for 8.8.8.8 (it serves the route)");
		ctl_netmap_free(&m);
	}
	store_route_set_primary(n.s, route[0], r2, NOW);
	if ((w2 = build(n.s, NULL, &rc)) && netmap_for(w2, laptop, 2, &m) == 0) {
		ha_roles(&m, &carrier, &backup);
		T_CHECK(!strcmp(carrier, "r2") && !strcmp(backup, "r1") && netmap_changed(w, w2, laptop),
			"netmap ha: r2 elected: r2 carries the route, r1 backs it up, the laptop's map changed: %s, %s",
			carrier, backup);
		ctl_netmap_free(&m);
	} else {
		T_CHECK(false, "netmap ha: the world after the election: %d", rc);
	}
	netmap_world_free(w2);
	netmap_world_free(w);
	net_close(&n);
}

/* ---- the election (netmap_elect) ---- */

struct health {
	int64_t node[3];
	enum netmap_health h[3];
	char log[256];
};

static enum netmap_health health_of(int64_t node_id, const char *prefix, void *arg)
{
	const struct health *hs = arg;
	(void)prefix;
	for (size_t i = 0; i < 3; i++)
		if (hs->node[i] == node_id)
			return hs->h[i];
	return NETMAP_FAILING;
}

static void note_elected(const char *prefix, int64_t node_id, void *arg)
{
	struct health *hs = arg;
	size_t n = strlen(hs->log);
	snprintf(hs->log + n, sizeof(hs->log) - n, "%s%s=%lld", n ? " " : "", prefix, (long long)node_id);
}

static int primary_take(const struct store_route *rt, void *arg)
{
	int64_t *who = arg;
	if (rt->primary_since)
		*who = *who ? -1 : rt->node_id;	/* two primaries: -1 */
	return 0;
}

/* The store's one primary of the only prefix: its node, 0 none, -1 more. */
static int64_t primary_of(struct store *s)
{
	int64_t who = 0;
	return store_routes_each(s, primary_take, &who) < 0 ? -2 : who;
}

/* Three relays r1, r2, r3 (registration order) serve 8.8.8.8/32; each
 * step sets their health, elects, and says who is primary. */
static void test_elect(void)
{
	static const char *const route[] = { "8.8.8.8/32" };
	struct health hs = { .h = { NETMAP_HEALTHY, NETMAP_HEALTHY, NETMAP_HEALTHY } };
	struct net n;
	if (!net_open(&n)) {
		T_CHECK(false, "netmap elect: a store");
		return;
	}
	static const char *const names[] = { "r1", "r2", "r3" };
	for (size_t i = 0; i < 3; i++) {
		hs.node[i] = net_node(&n, 0, "tag:relay", names[i]);
		net_advertise(&n, hs.node[i], route, 1);
		if (i < 2)
			store_route_approve(n.s, hs.node[i], route[0], n.admin, NOW);
	}
	struct {
		enum netmap_health h[3];
		int changes;
		int want;		/* index of the primary */
		const char *what;
	} steps[] = {
		{ { NETMAP_HEALTHY, NETMAP_HEALTHY, NETMAP_HEALTHY }, 1, 0,
		  "all healthy: the oldest approved router r1 (r3 is not approved)" },
		{ { NETMAP_HEALTHY, NETMAP_HEALTHY, NETMAP_HEALTHY }, 0, 0, "nothing changed: no election" },
		{ { NETMAP_UNKNOWN, NETMAP_HEALTHY, NETMAP_HEALTHY }, 0, 0,
		  "r1 not known to fail (another coordinator's): it stays" },
		{ { NETMAP_FAILING, NETMAP_HEALTHY, NETMAP_HEALTHY }, 1, 1, "r1 fails: r2 at once" },
		{ { NETMAP_HEALTHY, NETMAP_HEALTHY, NETMAP_HEALTHY }, 0, 1,
		  "r1 healthy again: r2 keeps the route (sticky, no flapping)" },
		{ { NETMAP_HEALTHY, NETMAP_FAILING, NETMAP_HEALTHY }, 1, 0, "r2 fails: back to r1" },
		{ { NETMAP_FAILING, NETMAP_FAILING, NETMAP_HEALTHY }, 0, 0,
		  "both approved routers fail: the primary stays what it was" },
		{ { NETMAP_FAILING, NETMAP_UNKNOWN, NETMAP_HEALTHY }, 1, 1,
		  "r1 fails, r2 not known to fail: r2, a router not seen failing" },
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		memcpy(hs.h, steps[i].h, sizeof(hs.h));
		hs.log[0] = '\0';
		int rc = netmap_elect(n.s, health_of, note_elected, &hs, NOW + (int64_t)i);
		int64_t who = primary_of(n.s);
		T_CHECK(rc == steps[i].changes && who == hs.node[steps[i].want],
			"netmap elect: %s (%d changes, primary node %lld, told: %s)", steps[i].what, rc, (long long)who,
			hs.log);
	}
	net_close(&n);
}

/* An expired router is no candidate: r1 (older, healthy) expires before
 * any election, so r2 is elected; then r2 expires too and r3, approved
 * last and registered last, takes the prefix. */
static void test_elect_expired(void)
{
	static const char *const route[] = { "8.8.8.8/32" };
	struct health hs = { .h = { NETMAP_HEALTHY, NETMAP_HEALTHY, NETMAP_HEALTHY } };
	static const char *const names[] = { "r1", "r2", "r3" };
	struct net n;
	if (!net_open(&n)) {
		T_CHECK(false, "netmap elect expired: a store");
		return;
	}
	for (size_t i = 0; i < 3; i++) {
		hs.node[i] = net_node(&n, 0, "tag:relay", names[i]);
		net_advertise(&n, hs.node[i], route, 1);
		store_route_approve(n.s, hs.node[i], route[0], n.admin, NOW);
	}
	store_node_expire(n.s, hs.node[0]);
	int rc = netmap_elect(n.s, health_of, note_elected, &hs, NOW);
	int64_t first = primary_of(n.s);
	store_node_expire(n.s, hs.node[1]);
	hs.h[1] = NETMAP_FAILING;	/* its session ended with its key */
	int rc2 = netmap_elect(n.s, health_of, note_elected, &hs, NOW + 1);
	int64_t second = primary_of(n.s);
	T_CHECK(rc == 1 && first == hs.node[1] && rc2 == 1 && second == hs.node[2],
		"netmap elect: an expired router is passed over (r1 expired: %lld is primary, want r2; r2 expired: "
		"%lld, want r3; told: %s)", (long long)first, (long long)second, hs.log);
	net_close(&n);
}

/* Without a policy nothing is allowed: nobody has a peer. */
static void test_no_policy(void)
{
	struct net n;
	int rc;
	if (!net_open(&n)) {
		T_CHECK(false, "netmap no policy: a store");
		return;
	}
	int64_t alice = net_user(&n, "alice");
	net_node(&n, alice, NULL, "laptop");
	net_node(&n, alice, NULL, "phone");
	net_node(&n, 0, "tag:relay", "relay");
	struct netmap_world *w = build(n.s, NULL, &rc);
	size_t peers = 0, empty = 0;
	for (size_t i = 0; w && i < netmap_node_count(w); i++) {
		struct ctl_netmap m;
		if (netmap_for(w, netmap_node_id(w, i), 1, &m) == 0) {
			peers += m.n_peers;
			empty += !strcmp(m.filter, "[]") && m.routes.n == 0;
			ctl_netmap_free(&m);
		}
	}
	T_CHECK(w && netmap_node_count(w) == 3 && peers == 0 && empty == 3,
		"netmap no policy: three nodes, no peers, empty filters");
	netmap_world_free(w);
	net_close(&n);
}

/* The coordinator's users carry their role into the inventory: a rule for
 * autogroup:admin makes the relay a peer of the admin's node only. */
static void test_roles(void)
{
	struct net n;
	int rc;
	if (!net_open(&n)) {
		T_CHECK(false, "netmap roles: a store");
		return;
	}
	int64_t alice = net_user(&n, "alice");
	net_node(&n, n.admin, NULL, "admin-laptop");
	net_node(&n, alice, NULL, "alice-laptop");
	net_node(&n, 0, "tag:relay", "relay");
	rc = net_policy(&n, "{\"tagOwners\": {\"tag:relay\": [\"autogroup:admin\"]},\n"
			    " \"acls\": [{\"action\": \"accept\", \"src\": [\"autogroup:admin\"], \"dst\": [\"tag:relay:22\"]}]}\n");
	struct netmap_world *w = rc == 0 ? build(n.s, NULL, &rc) : NULL;
	struct ctl_netmap m;
	size_t relay_peers = 99, alice_peers = 99;
	if (w && netmap_for(w, id_named(w, "relay"), 1, &m) == 0) {
		relay_peers = m.n_peers;
		ctl_netmap_free(&m);
	}
	if (w && netmap_for(w, id_named(w, "alice-laptop"), 1, &m) == 0) {
		alice_peers = m.n_peers;
		ctl_netmap_free(&m);
	}
	T_CHECK(w && relay_peers == 1 && alice_peers == 0,
		"netmap roles: autogroup:admin names the admin's node (relay peers %zu, alice's %zu)", relay_peers,
		alice_peers);
	netmap_world_free(w);
	net_close(&n);
}

/* Diagnostics stand alone: they outlive the world and name the policy. */
static void test_diags(void)
{
	struct net n;
	struct diag_list d = { 0 };
	struct netmap_world *w = NULL;
	int64_t gen = -1;
	char *text = NULL;
	size_t len = 0;
	if (!net_open(&n)) {
		T_CHECK(false, "netmap diagnostics: a store");
		return;
	}
	int rc = netmap_world_build(n.s, "{\"acls\": [{\"action\": \"accept\", \"src\": [\"group:nope\"], "
				     "\"dst\": [\"*:*\"]}]}", &gen, &w, &d);
	FILE *f = open_memstream(&text, &len);
	diag_print(f, &d);
	fclose(f);
	T_CHECK(rc == -EINVAL && !w && d.n && !d.items[0].loc.src && strstr(text, "policy (dry run):1:"),
		"netmap diagnostics: a dry run's bad policy is refused, located in the message: %.*s",
		(int)strcspn(text, "\n"), text);
	free(text);
	diag_list_free(&d);
	net_policy(&n, "{\"derpMap\": {}, \"acls\": []}");
	rc = netmap_world_build(n.s, NULL, &gen, &w, &d);
	netmap_world_free(w);
	f = open_memstream(&text, &len);
	diag_print(f, &d);
	fclose(f);
	T_CHECK(rc == 0 && gen > 0 && strstr(text, "warning") && strstr(text, "policy v1:1:"),
		"netmap diagnostics: a live policy's warning outlives its world: %.*s", (int)strcspn(text, "\n"),
		text);
	free(text);
	diag_list_free(&d);
	net_close(&n);
}

/* ---- netmap_changed ---- */

static const char *const variants[] = {
	"{\"tagOwners\": {\"tag:relay\": [\"alice@example.com\"]}, \"groups\": {\"group:eng\": [\"alice@example.com\", \"bob@example.com\"], \"group:ops\": [\"carol@example.com\"]},"
	" \"acls\": [{\"action\": \"accept\", \"src\": [\"group:eng\"], \"dst\": [\"tag:relay:*\"]},"
	"  {\"action\": \"accept\", \"src\": [\"group:ops\"], \"dst\": [\"group:eng:22\"]}]}",
	"{\"tagOwners\": {\"tag:relay\": [\"alice@example.com\"]}, \"groups\": {\"group:eng\": [\"alice@example.com\", \"bob@example.com\"]},"
	" \"acls\": [{\"action\": \"accept\", \"src\": [\"group:eng\"], \"dst\": [\"group:eng:*\"]},"
	"  {\"action\": \"accept\", \"src\": [\"autogroup:member\"], \"dst\": [\"tag:relay:443\", \"10.1.0.0/16:443\"]}]}",
	"{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\"]}]}",
	"{\"tagOwners\": {\"tag:relay\": [\"alice@example.com\"]}, \"groups\": {\"group:eng\": [\"alice@example.com\", \"bob@example.com\"]},"
	" \"acls\": [{\"action\": \"accept\", \"src\": [\"group:eng\"], \"dst\": [\"10.0.0.0/8:*\"]}],"
	" \"autoApprovers\": {\"routes\": {\"10.0.0.0/8\": [\"tag:relay\"]}, \"exitNode\": [\"tag:relay\"]}}",
};

struct live {
	int64_t ids[256];
	size_t n;
};

static int64_t pick(struct live *l, unsigned *seed)
{
	return l->n ? l->ids[rand_r(seed) % l->n] : -1;
}

static void drop(struct live *l, int64_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			l->ids[i] = l->ids[--l->n];
}

/* One random change to the store; its name into WHAT. */
static void random_change(struct net *n, struct live *l, const int64_t users[3], unsigned *seed, const char **what)
{
	static const char *const prefixes[] = { "10.1.0.0/16", "10.2.0.0/16", "0.0.0.0/0", "192.168.7.0/24" };
	char name[32];
	int64_t id = pick(l, seed);
	switch (rand_r(seed) % 9) {
	case 0: {
		bool tagged = rand_r(seed) % 3 == 0;
		snprintf(name, sizeof(name), "n%u", n->next + 1);
		int64_t nid = net_node(n, tagged ? 0 : users[rand_r(seed) % 3], "tag:relay", name);
		if (nid > 0 && l->n < 256)
			l->ids[l->n++] = nid;
		*what = "join";
		break;
	}
	case 1:
		store_node_remove(n->s, id);
		drop(l, id);
		*what = "removal";
		break;
	case 2:
		store_node_expire(n->s, id);
		drop(l, id);
		*what = "expiry";
		break;
	case 3: {
		char ep[64];
		const char *eps[] = { ep };
		snprintf(ep, sizeof(ep), "198.51.100.%u:41641", rand_r(seed) % 250);
		store_node_set_endpoints(n->s, id, &(struct store_list){ eps, 1 }, NOW);
		*what = "endpoints";
		break;
	}
	case 4: {
		uint8_t key[STORE_KEY_LEN];
		tkey(key, 5000000 + rand_r(seed) % 1000);
		store_node_set_wg_key(n->s, id, key, NOW);
		*what = "WireGuard key";
		break;
	}
	case 5: {
		const char *adv[4];
		size_t na = 0;
		for (size_t i = 0; i < 4; i++)
			if (rand_r(seed) % 2)
				adv[na++] = prefixes[i];
		net_advertise(n, id, adv, na);
		*what = "advertisement";
		break;
	}
	case 6:
		store_route_approve(n->s, id, prefixes[rand_r(seed) % 4], n->admin, NOW);
		*what = "approval";
		break;
	case 7:
		store_route_reject(n->s, id, prefixes[rand_r(seed) % 4], n->admin, NOW);
		*what = "rejection";
		break;
	default:
		net_policy(n, variants[rand_r(seed) % 4]);
		*what = "policy";
		break;
	}
}

/* Every node whose encoded map differs between OLD and NEW must be
 * flagged; counts into DIFFER, FLAGGED (without a difference) and MISSED. */
static void compare_worlds(const struct netmap_world *old_w, const struct netmap_world *new_w, size_t *differ,
			   size_t *spurious, size_t *missed, size_t *quiet)
{
	for (size_t i = 0; i < netmap_node_count(new_w); i++) {
		int64_t id = netmap_node_id(new_w, i);
		if (netmap_node_index(old_w, id) < 0) {
			*missed += !netmap_changed(old_w, new_w, id);
			continue;
		}
		char *a = encode(old_w, id), *b = encode(new_w, id);
		bool same = a && b && strcmp(a, b) == 0, flagged = netmap_changed(old_w, new_w, id);
		*differ += !same;
		*missed += !same && !flagged;
		*spurious += same && flagged;
		*quiet += !flagged;
		free(a);
		free(b);
	}
}

/* The start of a random walk: a store with users alice, bob and carol
 * (USERS), NODES nodes (every fourth tagged only, the others theirs in
 * turn), live in L, under POLICY.  False without a store. */
static bool random_start(struct net *n, struct live *l, int64_t users[3], size_t nodes, const char *policy)
{
	if (!net_open(n))
		return false;
	users[0] = net_user(n, "alice");
	users[1] = net_user(n, "bob");
	users[2] = net_user(n, "carol");
	for (size_t i = 0; i < nodes; i++) {
		char name[32];
		snprintf(name, sizeof(name), "n%u", n->next + 1);
		l->ids[l->n++] = net_node(n, i % 4 == 3 ? 0 : users[i % 3], "tag:relay", name);
	}
	net_policy(n, policy);
	return true;
}

static void test_changed_random(void)
{
	struct net n;
	struct live l = { 0 };
	unsigned seed = 20261202;
	size_t differ = 0, spurious = 0, missed = 0, quiet = 0, steps = 150;
	int rc;
	int64_t users[3];
	if (!random_start(&n, &l, users, 12, variants[0])) {
		T_CHECK(false, "netmap_changed: a store");
		return;
	}
	struct netmap_world *old_w = build(n.s, NULL, &rc);
	for (size_t step = 0; old_w && step < steps; step++) {
		const char *what = "";
		random_change(&n, &l, users, &seed, &what);
		struct netmap_world *new_w = build(n.s, NULL, &rc);
		if (!new_w) {
			T_CHECK(false, "netmap_changed: a world after a %s (%d)", what, rc);
			break;
		}
		size_t before = missed;
		compare_worlds(old_w, new_w, &differ, &spurious, &missed, &quiet);
		if (missed != before)
			T_CHECK(false, "netmap_changed: step %zu, a %s: a changed map was not flagged", step, what);
		netmap_world_free(old_w);
		old_w = new_w;
	}
	netmap_world_free(old_w);
	T_CHECK(old_w && missed == 0 && differ > 50 && quiet > 100,
		"netmap_changed: %zu random changes: all %zu changed maps flagged, %zu maps found unchanged, "
		"%zu flagged without a change", steps, differ, quiet, spurious);
	net_close(&n);
}

/* 600 nodes: 60 users of 10 nodes in six groups, each group reaching the
 * relay and itself.  A node of group 0 moving changes the maps of its
 * group and of the relay only. */
static void test_changed_large(void)
{
	struct net n;
	char *policy = NULL, name[32];
	size_t plen = 0;
	int rc;
	if (!net_open(&n)) {
		T_CHECK(false, "netmap_changed large: a store");
		return;
	}
	FILE *f = open_memstream(&policy, &plen);
	fprintf(f, "{\"tagOwners\": {\"tag:relay\": [\"u0@example.com\"]}, \"groups\": {");
	for (int g = 0; g < 6; g++) {
		fprintf(f, "%s\"group:g%d\": [", g ? ", " : "", g);
		for (int u = 0; u < 10; u++)
			fprintf(f, "%s\"u%d@example.com\"", u ? ", " : "", g * 10 + u);
		fprintf(f, "]");
	}
	fprintf(f, "}, \"acls\": [");
	for (int g = 0; g < 6; g++)
		fprintf(f, "%s{\"action\": \"accept\", \"src\": [\"group:g%d\"], \"dst\": [\"tag:relay:*\", "
			"\"group:g%d:22\"]}", g ? ", " : "", g, g);
	fprintf(f, "]}");
	fclose(f);
	int64_t relay = net_node(&n, 0, "tag:relay", "relay"), first = 0, other = 0;
	for (int u = 0; u < 60; u++) {
		snprintf(name, sizeof(name), "u%d", u);
		int64_t user = net_user(&n, name);
		for (int k = 0; k < 10; k++) {
			snprintf(name, sizeof(name), "u%d-%d", u, k);
			int64_t id = net_node(&n, user, NULL, name);
			first = first ? first : id;
			other = u == 59 ? id : other;
		}
	}
	net_policy(&n, policy);
	struct netmap_world *old_w = build(n.s, NULL, &rc);
	static const char *const eps[] = { "203.0.113.9:41641" };
	store_node_set_endpoints(n.s, first, &(struct store_list){ eps, 1 }, NOW);
	struct netmap_world *new_w = build(n.s, NULL, &rc);
	size_t differ = 0, spurious = 0, missed = 0, quiet = 0;
	if (old_w && new_w)
		compare_worlds(old_w, new_w, &differ, &spurious, &missed, &quiet);
	T_CHECK(old_w && new_w && netmap_node_count(new_w) == 601 && missed == 0 && differ == 100 && quiet == 501 &&
			netmap_changed(old_w, new_w, relay) && !netmap_changed(old_w, new_w, other),
		"netmap_changed large: one endpoint moves in a tailnet of 601: %zu maps differ and are flagged "
		"(its group and the relay), %zu are not flagged, %zu flagged without a change", differ, quiet,
		spurious);
	netmap_world_free(old_w);
	netmap_world_free(new_w);
	free(policy);
	net_close(&n);
}

/* ---- netmap_world_next: growing equals building afresh ---- */

static const char *const grow_variants[] = {
	"{\"tagOwners\": {\"tag:relay\": [\"alice@example.com\"]},"
	" \"acls\": [{\"action\": \"accept\", \"src\": [\"autogroup:member\"], \"dst\": [\"autogroup:self:*\"]},"
	"  {\"action\": \"accept\", \"src\": [\"tag:relay\"], \"dst\": [\"autogroup:member:22\"]}]}",
	"{\"tagOwners\": {\"tag:relay\": [\"alice@example.com\"]}, \"groups\": {\"group:eng\": [\"alice@example.com\", \"carol@example.com\"]},"
	" \"acls\": [{\"action\": \"accept\", \"src\": [\"group:eng\"], \"dst\": [\"autogroup:internet:*\"]},"
	"  {\"action\": \"accept\", \"src\": [\"autogroup:member\"], \"dst\": [\"tag:relay:*\", \"10.1.0.0/16:*\"]}],"
	" \"autoApprovers\": {\"routes\": {\"10.0.0.0/8\": [\"tag:relay\"]}, \"exitNode\": [\"tag:relay\"]}}",
	"{\"tagOwners\": {\"tag:relay\": [\"alice@example.com\"]},"
	" \"acls\": [{\"action\": \"accept\", \"src\": [\"100.64.0.0/10\"], \"dst\": [\"tag:relay:443\"]},"
	"  {\"action\": \"accept\", \"src\": [\"bob@example.com\"], \"dst\": [\"alice@example.com:*\", \"100.64.0.0/10:22\"]},"
	"  {\"action\": \"accept\", \"src\": [\"tag:relay\"], \"dst\": [\"192.168.7.0/24:*\"]}]}",
};

/* GROWN (from the previous world) against FRESH (netmap_world_build): the
 * same nodes in the same order, every map and digest the same.  Counts
 * the nodes that differ into *BAD. */
static void compare_grown(const struct netmap_world *grown, const struct netmap_world *fresh, size_t *bad)
{
	if (netmap_node_count(grown) != netmap_node_count(fresh)) {
		(*bad)++;
		return;
	}
	for (size_t i = 0; i < netmap_node_count(fresh); i++) {
		int64_t id = netmap_node_id(fresh, i);
		char *a = encode(grown, id), *b = encode(fresh, id);
		*bad += !a || !b || strcmp(a, b) != 0 || netmap_node_id(grown, i) != id ||
			netmap_changed(fresh, grown, id) ||
			netmap_node_key_expiry(grown, i) != netmap_node_key_expiry(fresh, i);
		free(a);
		free(b);
	}
}

struct grow_tally {
	size_t cases, grown, bad;
};

/* The case's last node joins a world of the others: the world grown by it
 * (or made afresh when it cannot be) equals a fresh build's. */
static void grow_case(const char *folder, const char *name, const char *path, void *arg)
{
	struct grow_tally *gt = arg;
	struct captures_case cc;
	struct loaded ld = { 0 };
	struct netmap_world *prev = NULL, *next = NULL, *fresh = NULL;
	struct diag_list diags = { 0 };
	struct tdir t;
	struct store *s = NULL;
	char *policy = NULL;
	int64_t gen;
	int rc;
	if (!captures_load(path, &cc) || cc.status != 200 || !cc.policy || captures_compile(&cc) < 0 ||
	    cc.inv->nnodes < 2)
		goto free_case;
	const cJSON *pj = cJSON_GetObjectItemCaseSensitive(cc.json, "policy");
	policy = cJSON_IsString(pj) ? strdup(pj->valuestring) : cJSON_Print(pj);
	if (!policy || !(s = shm_store(&t)))
		goto free_case;
	size_t n = cc.inv->nnodes, before = gt->bad;
	/* The joining node's allocated addresses must not be a recorded one of
	 * the others: the allocator moved past them (a test-only step). */
	if (load_case(s, t.db, cc.inv, policy, n - 1, &ld) < 0 || !(prev = build(s, NULL, &rc)) ||
	    tsql_exec(t.db, "UPDATE meta SET next_v4 = 4194000, next_v6 = 4194000;") ||
	    register_nodes(s, t.db, cc.inv, n - 1, n, &ld) < 0 || netmap_world_next(prev, s, &gen, &next, &diags) < 0 ||
	    !(fresh = build(s, NULL, &rc)))
		gt->bad++;
	else
		compare_grown(next, fresh, &gt->bad);
	gt->cases++;
	gt->grown += next && netmap_world_grown(next);
	if (gt->bad != before)
		T_CHECK(false, "netmap_world_next conformance %s/%s: the last node's join differs from a fresh world",
			folder, name);
	diag_list_free(&diags);
	netmap_world_free(prev);
	netmap_world_free(next);
	netmap_world_free(fresh);
	store_close(s);
	tdir_remove(&t);
free_case:
	free(policy);
	free(ld.ids);
	captures_case_free(&cc);
}

static void test_grow_conformance(void)
{
	struct grow_tally gt = { 0 };
	if (captures_each("netmap_world_next conformance", grow_case, &gt) == 0)
		return;
	T_CHECK(gt.bad == 0 && gt.cases > 400 && gt.grown > 200,
		"netmap_world_next conformance: in %zu recorded policies and inventories the last node joins the "
		"others' world: %zu worlds grown, the rest made afresh, every map equal to a fresh build's",
		gt.cases, gt.grown);
}

/* One step: mostly nodes joining (one to three), else any change; a
 * removal when the tailnet reaches 40 nodes (every world is compared
 * whole, so it stays small). */
static const char *grow_change(struct net *n, struct live *l, const int64_t users[3], unsigned *seed)
{
	const char *what = "join";
	if (l->n >= 40) {
		int64_t id = pick(l, seed);
		store_node_remove(n->s, id);
		drop(l, id);
		return "removal";
	}
	if (rand_r(seed) % 5 >= 3) {
		random_change(n, l, users, seed, &what);
		if (rand_r(seed) % 4 == 0 && strcmp(what, "policy") == 0)
			net_policy(n, grow_variants[rand_r(seed) % 3]);
		return what;
	}
	char name[32];
	int64_t newcomer = 0;
	if (rand_r(seed) % 4 == 0) {	/* its owner joins too */
		snprintf(name, sizeof(name), "x%u", n->next + 1);
		newcomer = net_user(n, name);
		what = "join of a new user";
	}
	for (unsigned k = rand_r(seed) % 3; k < 3; k++) {
		bool tagged = rand_r(seed) % 4 == 0;
		snprintf(name, sizeof(name), "j%u", n->next + 1);
		int64_t nid = net_node(n, tagged ? 0 : newcomer ? newcomer : users[rand_r(seed) % 3], "tag:relay",
				       name);
		if (nid > 0 && l->n < 256)
			l->ids[l->n++] = nid;
	}
	return what;
}

static void test_grow_random(void)
{
	struct net n;
	struct live l = { 0 };
	unsigned seed = 20261203;
	size_t bad = 0, grown = 0, joins = 0, steps = 160, flagged = 0;
	int rc;
	int64_t users[3];
	if (!random_start(&n, &l, users, 8, grow_variants[0])) {
		T_CHECK(false, "netmap_world_next: a store");
		return;
	}
	struct netmap_world *cur = build(n.s, NULL, &rc);
	for (size_t step = 0; cur && step < steps; step++) {
		const char *what = grow_change(&n, &l, users, &seed);
		struct diag_list diags = { 0 };
		struct netmap_world *fresh = build(n.s, NULL, &rc), *next = NULL;
		int64_t gen;
		rc = netmap_world_next(cur, n.s, &gen, &next, &diags);
		diag_list_free(&diags);
		if (!fresh || !next) {
			T_CHECK(false, "netmap_world_next: step %zu, a %s: a world (%d)", step, what, rc);
			netmap_world_free(fresh);
			break;
		}
		size_t before = bad;
		compare_grown(next, fresh, &bad);
		/* the spent world still tells which maps changed */
		for (size_t i = 0; i < netmap_node_count(fresh); i++) {
			int64_t id = netmap_node_id(fresh, i);
			bool a = netmap_changed(cur, next, id);
			bad += a != netmap_changed(cur, fresh, id);
			flagged += a;
		}
		if (bad != before)
			T_CHECK(false, "netmap_world_next: step %zu, a %s (%s): %zu nodes differ from a fresh world", step,
				what, netmap_world_grown(next) ? "grown" : "afresh", bad - before);
		joins += strncmp(what, "join", 4) == 0;
		grown += netmap_world_grown(next);
		netmap_world_free(fresh);
		netmap_world_free(cur);
		cur = next;
	}
	netmap_world_free(cur);
	T_CHECK(cur && bad == 0 && grown > 50 && flagged > 0,
		"netmap_world_next: %zu random steps (%zu of them joins, policies of seven kinds): %zu worlds grown "
		"from the last, every node's map, digest and change flag equal to a fresh build's", steps, joins,
		grown);
	net_close(&n);
}

int main(void)
{
	test_ha();
	test_ha_per_prefix();
	test_elect();
	test_elect_expired();
	test_roles();
	test_changed_random();
	test_changed_large();
	test_grow_random();
	test_grow_conformance();
	test_shape();
	test_no_policy();
	test_diags();
	test_conformance();
	T_DONE();
}
