/* bench_netmap: the coordinator's per-node maps at 1,000 and 5,000 nodes.
 * A generated tailnet in a SQLite store (in /dev/shm when there is one):
 * users of two nodes each, fifty users to a group, each group reaching the
 * relay, its routes (10.0.0.0/16, 10.1.0.0/16, approved) and its own
 * members on port 22.  Printed per size: the world build (store read,
 * inventory, compile, routes_compute, digests), one node's map (the mean
 * over every node), the relay's map (every user node is its peer), and
 * after one node's endpoint moves, netmap_changed for every node with how
 * many it flags, and a node joining (netmap_world_next grows the last
 * world by it: how long, and whether it could).  Beside them the reference: headscale rebuilds every
 * node's map on every change (~7 s per `up` at 650 nodes, headscale issue
 * reports).  Figures only: nothing is asserted about time. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netmap.h"
#include "store.h"

#define NOW INT64_C(1800000000)
#define PER_USER 2
#define PER_GROUP 50

/* Processor time of this process: the machines these run on are shared,
 * and wall time there measures the neighbours. */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void key_of(uint8_t key[STORE_KEY_LEN], unsigned n, uint8_t tag)
{
	memset(key, 0, STORE_KEY_LEN);
	memcpy(key, &n, sizeof(n));
	key[STORE_KEY_LEN - 1] = tag;
}

static char *policy_text(size_t users)
{
	size_t groups = (users + PER_GROUP - 1) / PER_GROUP, len = 0;
	char *text = NULL;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	fprintf(f, "{\"tagOwners\": {\"tag:relay\": [\"u0@example.com\"]}, \"groups\": {");
	for (size_t g = 0; g < groups; g++) {
		fprintf(f, "%s\"group:g%zu\": [", g ? ", " : "", g);
		for (size_t u = g * PER_GROUP; u < users && u < (g + 1) * PER_GROUP; u++)
			fprintf(f, "%s\"u%zu@example.com\"", u % PER_GROUP ? ", " : "", u);
		fprintf(f, "]");
	}
	fprintf(f, "}, \"acls\": [");
	for (size_t g = 0; g < groups; g++)
		fprintf(f, "%s{\"action\": \"accept\", \"src\": [\"group:g%zu\"], \"dst\": [\"tag:relay:*\", "
			"\"10.0.0.0/16:443\", \"10.1.0.0/16:*\", \"group:g%zu:22\"]}", g ? ", " : "", g, g);
	fprintf(f, "]}");
	fclose(f);
	return text;
}

static int add_node(struct store *s, int64_t key, const uint8_t secret[STORE_KEY_LEN], const char *name,
		    unsigned n, int64_t *id)
{
	static const char *const eps[] = { "192.0.2.1:41641" };
	struct store_registration reg = { .authkey_id = key, .name = name, .hostname = name,
					  .endpoints = { eps, 1 } };
	memcpy(reg.secret, secret, STORE_KEY_LEN);
	key_of(reg.machine_key, n, 1);
	key_of(reg.wg_key, n, 2);
	return store_register(s, &reg, NOW + n, id);
}

/* The relay, tagged, serving its two routes: the first node, so the
 * primary of both. */
static int add_relay(struct store *s, int64_t admin, int64_t *relay)
{
	static const char *const relay_tag[] = { "tag:relay" };
	static const char *const routes[] = { "10.0.0.0/16", "10.1.0.0/16" };
	struct store_authkey_spec spec = { .tags = { relay_tag, 1 }, .expiry = NOW + 86400 };
	uint8_t secret[STORE_KEY_LEN];
	int64_t key;
	int rc = store_authkey_create(s, &spec, NOW, &key, secret);
	if (rc < 0 || (rc = add_node(s, key, secret, "relay", 0, relay)) < 0 ||
	    (rc = store_routes_advertise(s, *relay, &(struct store_list){ routes, 2 }, NOW)) < 0)
		return rc;
	for (size_t r = 0; r < 2; r++)
		if ((rc = store_route_approve(s, *relay, routes[r], admin, NOW)) < 0)
			return rc;
	return 0;
}

/* User U with PER_USER nodes, key numbers from *N on; *LAST: its last. */
static int add_user(struct store *s, size_t u, unsigned *n, int64_t *last)
{
	struct store_authkey_spec spec = { .reusable = true, .expiry = NOW + 86400 };
	uint8_t secret[STORE_KEY_LEN];
	char name[32], email[64];
	int64_t key;
	snprintf(name, sizeof(name), "u%zu", u);
	snprintf(email, sizeof(email), "u%zu@example.com", u);
	int rc = store_user_add(s, name, email, STORE_ROLE_MEMBER, NOW, &spec.user_id);
	if (rc < 0 || (rc = store_authkey_create(s, &spec, NOW, &key, secret)) < 0)
		return rc;
	for (size_t k = 0; k < PER_USER; k++) {
		snprintf(name, sizeof(name), "u%zu-%zu", u, k);
		if ((rc = add_node(s, key, secret, name, (*n)++, last)) < 0)
			return rc;
	}
	return 0;
}

static int fill(struct store *s, size_t nodes, int64_t *relay, int64_t *user_node)
{
	size_t users = (nodes - 1) / PER_USER;
	unsigned n = 1;
	int64_t admin, version;
	int rc = store_user_add(s, "admin", "admin@example.com", STORE_ROLE_ADMIN, NOW, &admin);
	if (rc < 0 || (rc = add_relay(s, admin, relay)) < 0)
		return rc;
	for (size_t u = 0; u < users; u++)
		if ((rc = add_user(s, u, &n, user_node)) < 0)
			return rc;
	char *policy = policy_text(users);
	rc = policy ? store_policy_set(s, policy, admin, -1, NOW, &version) : -ENOMEM;
	free(policy);
	return rc;
}

static struct netmap_world *build(struct store *s, double *secs)
{
	struct diag_list diags = { 0 };
	struct netmap_world *w = NULL;
	int64_t gen;
	double t0 = now();
	int rc = netmap_world_build(s, NULL, &gen, &w, &diags);
	*secs = now() - t0;
	diag_print(stderr, &diags);
	diag_list_free(&diags);
	if (rc < 0)
		fprintf(stderr, "bench_netmap: world: %s\n", strerror(-rc));
	return w;
}

/* A new user with PER_USER nodes joins: the next world grown from W
 * (consumed: spent, then freed); seconds, or -1 on failure. */
static double join(struct store *s, struct netmap_world *w, size_t u, unsigned n, bool *grown)
{
	struct diag_list diags = { 0 };
	struct netmap_world *next = NULL;
	int64_t gen, last;
	int rc = add_user(s, u, &n, &last);
	double t0 = now();
	if (rc == 0)
		rc = netmap_world_next(w, s, &gen, &next, &diags);
	double t = now() - t0;
	diag_print(stderr, &diags);
	diag_list_free(&diags);
	*grown = next && netmap_world_grown(next);
	netmap_world_free(next);
	return rc < 0 ? -1 : t;
}

/* Every node's map built, then encoded: mean seconds per node for each,
 * mean bytes. */
static int every_map(const struct netmap_world *w, double *per_node, double *encode, double *bytes)
{
	size_t n = netmap_node_count(w), total = 0;
	*per_node = *encode = 0;
	for (size_t i = 0; i < n; i++) {
		struct ctl_netmap m;
		double t0 = now();
		int rc = netmap_for(w, netmap_node_id(w, i), 1, &m);
		double t1 = now();
		if (rc < 0)
			return rc;
		char *text = ctl_netmap_encode(&m);
		*encode += now() - t1;
		*per_node += t1 - t0;
		total += text ? strlen(text) : 0;
		free(text);
		ctl_netmap_free(&m);
	}
	*per_node /= (double)n;
	*encode /= (double)n;
	*bytes = (double)total / (double)n;
	return 0;
}

static double one_map(const struct netmap_world *w, int64_t id, size_t *peers)
{
	struct ctl_netmap m;
	double t0 = now();
	if (netmap_for(w, id, 1, &m) < 0)
		return -1;
	double t = now() - t0;
	*peers = m.n_peers;
	ctl_netmap_free(&m);
	return t;
}

static int run(size_t nodes)
{
	char dir[64] = "/dev/shm/bench_netmap.XXXXXX", db[96], err[256] = "";
	struct store *s = NULL;
	int64_t relay = 0, moved = 0;
	double fill_s, build_s, rebuild_s, per_node, encode, bytes, relay_s, changed_s, join_s;
	bool grown = false;
	size_t relay_peers = 0, flagged = 0;
	if (!mkdtemp(dir) && !mkdtemp(strcpy(dir, "/tmp/bench_netmap.XXXXXX")))
		return -errno;
	snprintf(db, sizeof(db), "%s/state.db", dir);
	int rc = store_open(db, &s, err, sizeof(err));
	if (rc < 0)
		goto remove_dir;
	double t0 = now();
	rc = fill(s, nodes, &relay, &moved);
	fill_s = now() - t0;
	struct netmap_world *w = rc == 0 ? build(s, &build_s) : NULL, *w2 = NULL;
	if (!w) {
		rc = rc < 0 ? rc : -EINVAL;
		goto close;
	}
	if ((rc = every_map(w, &per_node, &encode, &bytes)) < 0)
		goto free_world;
	relay_s = one_map(w, relay, &relay_peers);
	static const char *const eps[] = { "203.0.113.9:41641" };
	if ((rc = store_node_set_endpoints(s, moved, &(struct store_list){ eps, 1 }, NOW)) < 0)
		goto free_world;
	if (!(w2 = build(s, &rebuild_s))) {
		rc = -EINVAL;
		goto free_world;
	}
	t0 = now();
	for (size_t i = 0; i < netmap_node_count(w2); i++)
		flagged += netmap_changed(w, w2, netmap_node_id(w2, i));
	changed_s = now() - t0;
	join_s = join(s, w2, nodes, (unsigned)nodes + 1, &grown);
	printf("%6zu %9.0f %9.0f %10.0f %7.1f %9.1f %7.0f %7.2f (%zu peers) %8.2f %7zu %7.1f%s\n", nodes,
	       fill_s * 1e3, build_s * 1e3, rebuild_s * 1e3, per_node * 1e6, encode * 1e6, bytes, relay_s * 1e3,
	       relay_peers, changed_s * 1e3, flagged, join_s * 1e3, grown ? " grown" : " afresh");
free_world:
	netmap_world_free(w);
close:
	store_close(s);
remove_dir:;
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < 4; i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
		unlink(path);
	}
	rmdir(dir);
	if (rc < 0)
		fprintf(stderr, "bench_netmap: %zu nodes: %s %s\n", nodes, strerror(-rc), err);
	return rc;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 1000, 5000 };
	size_t nsizes = argc > 1 ? 1 : sizeof(sizes) / sizeof(sizes[0]);
	printf("reference: headscale rebuilds every node's map on every change (~7 s per `up` at 650 nodes, "
	       "headscale issue reports)\n");
	printf("%6s %9s %9s %10s %7s %9s %7s %21s %8s %7s %7s\n", "nodes", "store ms", "world ms", "rebuild ms",
	       "map us", "encode us", "map B", "relay map ms", "changed", "flagged", "join ms");
	for (size_t i = 0; i < nsizes; i++)
		if (run(argc > 1 ? (size_t)atol(argv[1]) : sizes[i]) < 0)
			return 1;
	printf("processor time (ms, us) of this process.  store: filling the store; world: store read, inventory, "
	       "compile, peers and digests, once per change; rebuild: the same after one endpoint moved; map: one "
	       "node's map (mean over every node), encode: its JSON text (ctl_netmap_encode), B its bytes; "
	       "changed: netmap_changed for every node after that move, ms for all; flagged: the maps it "
	       "says to send; join: the next world after a user with %d nodes joined (grown from the last, or "
	       "afresh when it could not be)\n", PER_USER);
	return 0;
}
