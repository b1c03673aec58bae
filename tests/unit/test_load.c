/* The load pipeline: sources from files and from memory give the same
 * filters; an inventory built with the builders compiles to the same
 * result as the same inventory read from JSON; errors name the source they
 * came from, located; nodes are found by name, with their facts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "routes.h"
#include "t.h"
#include "ts.h"

static const char policy[] =
	"{\n"
	"  \"groups\": {\"group:eng\": [\"alice@example.com\", \"bob@example.com\"]},\n"
	"  \"tagOwners\": {\"tag:relay\": [\"alice@example.com\"]},\n"
	"  \"autoApprovers\": {\"routes\": {\"10.1.0.0/16\": [\"tag:relay\"]}},\n"
	"  \"acls\": [\n"
	"    {\"action\": \"accept\", \"src\": [\"group:eng\"], \"dst\": [\"10.1.0.0/16:443,5432\"]},\n"
	"    {\"action\": \"accept\", \"src\": [\"alice@example.com\"], \"dst\": [\"tag:relay:22\"]},\n"
	"    {\"action\": \"accept\", \"src\": [\"autogroup:member\"], \"dst\": [\"autogroup:self:*\"]},\n"
	"  ],\n"
	"}\n";

/* Two relays serve 10.1.0.0/16: the one registered first (listed second)
 * is its primary, so the order of "created" shows in the routes. */
static const char inventory[] =
	"{\"users\": [{\"name\": \"alice\", \"email\": \"alice@example.com\"},\n"
	"           {\"name\": \"bob\", \"email\": \"bob@example.com\"}],\n"
	" \"nodes\": [\n"
	"  {\"name\": \"relay-2\", \"user\": null, \"tags\": [\"tag:relay\"], \"ipv4\": \"100.64.0.2\",\n"
	"   \"advertised_routes\": [\"10.1.0.0/16\"], \"created\": \"2026-04-11T08:00:00Z\"},\n"
	"  {\"name\": \"relay-1\", \"user\": null, \"tags\": [\"tag:relay\"], \"ipv4\": \"100.64.0.1\",\n"
	"   \"ipv6\": \"fd7a:115c:a1e0::1\", \"advertised_routes\": [\"10.1.0.0/16\", \"0.0.0.0/0\"],\n"
	"   \"approved_routes\": [\"0.0.0.0/0\"], \"created\": \"2026-04-10T21:06:42.83Z\"},\n"
	"  {\"name\": \"laptop\", \"user\": \"alice\", \"ipv4\": \"100.64.0.3\", \"ipv6\": \"fd7a:115c:a1e0::3\",\n"
	"   \"created\": \"2026-04-12T00:00:00Z\"},\n"
	"  {\"name\": \"phone\", \"user\": \"bob\", \"ipv6\": \"fd7a:115c:a1e0::4\", \"created\": \"2026-04-12T00:00:01Z\"}]}\n";

/* The same inventory through the builders (nodes added in the same order). */
static struct inv *built_inventory(void)
{
	struct inv *inv = inv_new();
	int rc = inv ? 0 : -ENOMEM, alice, bob, n;
	if (rc == 0 && (rc = alice = inv_add_user(inv, "alice", "alice@example.com")) >= 0)
		rc = bob = inv_add_user(inv, "bob", "bob@example.com");
	if (rc >= 0 && (rc = n = inv_add_node(inv, "relay-2", -1)) >= 0) {
		rc = inv_node_add_tag(inv, (size_t)n, "tag:relay") ?: inv_node_set_addr(inv, (size_t)n, ADDR_V4, "100.64.0.2") ?:
		     inv_node_add_route(inv, (size_t)n, INV_ADVERTISED, "10.1.0.0/16") ?:
		     inv_node_set_created(inv, (size_t)n, "2026-04-11T08:00:00Z");
	}
	if (rc >= 0 && (rc = n = inv_add_node(inv, "relay-1", -1)) >= 0) {
		rc = inv_node_add_tag(inv, (size_t)n, "tag:relay") ?: inv_node_set_addr(inv, (size_t)n, ADDR_V4, "100.64.0.1") ?:
		     inv_node_set_addr(inv, (size_t)n, ADDR_V6, "fd7a:115c:a1e0::1") ?:
		     inv_node_add_route(inv, (size_t)n, INV_ADVERTISED, "10.1.0.0/16") ?:
		     inv_node_add_route(inv, (size_t)n, INV_ADVERTISED, "0.0.0.0/0") ?:
		     inv_node_add_route(inv, (size_t)n, INV_APPROVED, "0.0.0.0/0") ?:
		     inv_node_set_created(inv, (size_t)n, "2026-04-10T21:06:42.83Z");
	}
	if (rc >= 0 && (rc = n = inv_add_node(inv, "laptop", alice)) >= 0) {
		rc = inv_node_set_addr(inv, (size_t)n, ADDR_V4, "100.64.0.3") ?:
		     inv_node_set_addr(inv, (size_t)n, ADDR_V6, "fd7a:115c:a1e0::3") ?:
		     inv_node_set_created(inv, (size_t)n, "2026-04-12T00:00:00Z");
	}
	if (rc >= 0 && (rc = n = inv_add_node(inv, "phone", bob)) >= 0) {
		rc = inv_node_set_addr(inv, (size_t)n, ADDR_V6, "fd7a:115c:a1e0::4") ?:
		     inv_node_set_created(inv, (size_t)n, "2026-04-12T00:00:01Z");
	}
	struct diag_list d = { 0 };
	if (rc >= 0)
		rc = inv_finish(inv, &d);
	diag_list_free(&d);
	if (rc < 0) {
		inv_free(inv);
		return NULL;
	}
	return inv;
}

static void aset_dump(FILE *out, const char *what, const struct addr_set *a)
{
	char buf[ADDR_RANGE_STRLEN];
	fprintf(out, "  %s", what);
	for (size_t i = 0; i < a->n; i++)
		fprintf(out, " %s", addr_range_format(a->v[i].family, a->v[i].lo, a->v[i].hi, buf));
	fprintf(out, "\n");
}

/* Everything a compiled load gives, as text: every node's name, canonical
 * IR and facts, the Tailscale filters and the route sets.  NULL when not
 * compiled. */
static char *render(const struct load *l)
{
	char *text = NULL;
	size_t len = 0;
	struct routes_set rs;
	struct diag_list d = { 0 };
	FILE *out = l->compiled ? open_memstream(&text, &len) : NULL;
	if (!out)
		return NULL;
	for (size_t i = 0; i <= l->fs.nnodes; i++) {
		const struct filter_node *fn = i < l->fs.nnodes ? &l->fs.nodes[i] : &l->fs.global;
		struct load_facts f = { 0 };
		fprintf(out, "node %s\n", fn->node ? fn->node->name : "*");
		if (load_node_facts(fn, LOAD_CANONICAL, &f) == 0) {
			ir_dump(out, &f.flows, "  ");
			aset_dump(out, "self", &f.self);
			aset_dump(out, "routes", &f.routes);
		}
		load_facts_free(&f);
	}
	ts_write(out, &l->fs);
	if (routes_compute(l->pol, l->inv, &l->fs, &rs, &d) == 0) {
		routes_write(out, l->inv, &rs, NULL);
		routes_set_free(&rs);
	}
	diag_list_free(&d);
	fclose(out);
	return text;
}

static struct load *load_mem(const char *ptext, const char *itext, struct diag_list *d)
{
	struct load *l = load_new();
	struct load_src p = { "db:policy", ptext, strlen(ptext) }, i = { "db:nodes", itext, itext ? strlen(itext) : 0 };
	if (l)
		load_run(l, &p, itext ? &i : NULL, d);
	return l;
}

static bool write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	bool ok = f && fputs(text, f) >= 0;
	return f && fclose(f) == 0 && ok;
}

/* Files and memory: the same filters and routes. */
static void test_sources(void)
{
	char dir[] = "/tmp/kg-test-load-XXXXXX", ppath[64], ipath[64];
	struct diag_list d = { 0 };
	bool made = mkdtemp(dir) != NULL;
	snprintf(ppath, sizeof(ppath), "%s/policy.hujson", dir);
	snprintf(ipath, sizeof(ipath), "%s/nodes.json", dir);
	made = made && write_file(ppath, policy) && write_file(ipath, inventory);
	struct load *lf = load_new(), *lm = load_mem(policy, inventory, &d);
	int rc = lf && made ? load_run(lf, &(struct load_src){ .name = ppath }, &(struct load_src){ .name = ipath }, &d)
			    : -1;
	T_CHECK(rc == 0 && lm && lm->compiled && d.n == 0, "load: the policy and inventory load from files and from memory");
	char *tf = lf ? render(lf) : NULL, *tm = lm ? render(lm) : NULL;
	T_CHECK(tf && tm && strcmp(tf, tm) == 0 && strstr(tf, "node relay-1"),
		"load: from files and from memory, the same filters, facts and routes");
	T_CHECK(lm && lm->inv_src && strcmp(lm->src->name, "db:policy") == 0 && strcmp(lm->inv_src->name, "db:nodes") == 0,
		"load: sources from memory go by the names given");
	free(tf);
	free(tm);
	load_free(lf);
	load_free(lm);
	diag_list_free(&d);
	unlink(ppath);
	unlink(ipath);
	rmdir(dir);
}

/* The builders and the JSON reader: one inventory, one result. */
static void test_built_inventory(void)
{
	struct diag_list d = { 0 };
	struct load *lj = load_mem(policy, inventory, &d), *lb = load_new();
	struct inv *inv = built_inventory();
	T_CHECK(inv != NULL, "inv: the builders build the inventory");
	int rc = lb && inv ? load_policy(lb, &(struct load_src){ "db:policy", policy, strlen(policy) }, &d) : -1;
	if (rc == 0)
		rc = load_inventory_take(lb, inv);
	else
		inv_free(inv);
	if (rc == 0)
		rc = load_compile(lb, &d);
	T_CHECK(rc == 0 && lb->have_inv && !lb->inv_src, "load: a built inventory compiles");
	char *tj = lj ? render(lj) : NULL, *tb = lb ? render(lb) : NULL;
	T_CHECK(tj && tb && strcmp(tj, tb) == 0, "load: the built inventory compiles to what the same JSON does");
	if (tj && tb && strcmp(tj, tb) != 0)
		printf("# from JSON:\n%s# built:\n%s", tj, tb);
	/* relay-1 registered first: it is listed first and is the route's primary. */
	T_CHECK(lb && lb->inv && lb->inv->nnodes == 4 && strcmp(lb->inv->nodes[0].name, "relay-1") == 0,
		"inv: built nodes are put in registration order");
	free(tj);
	free(tb);
	load_free(lj);
	load_free(lb);
	diag_list_free(&d);
}

/* Node lookup and facts. */
static void test_nodes(void)
{
	struct diag_list d = { 0 };
	struct load *l = load_mem(policy, inventory, &d);
	const struct filter_node *fn = l ? load_node(l, "relay-2", &d) : NULL;
	T_CHECK(fn && fn->node && strcmp(fn->node->name, "relay-2") == 0, "load: a node is found by name");
	T_CHECK(l && load_node(l, NULL, &d) == &l->fs.global, "load: no name is the tailnet-wide view");
	T_CHECK(l && !load_node(l, "nobody", &d) && d.nerrors == 1 && strcmp(d.items[0].msg, "db:nodes: no node named 'nobody'") == 0,
		"load: an unknown node is one error naming the inventory");
	struct load_facts f = { 0 }, g = { 0 };
	const struct filter_node *r1 = l ? load_node(l, "relay-1", &d) : NULL;
	int rc = r1 ? load_node_facts(r1, LOAD_CANONICAL, &f) : -1;
	char buf[ADDR_RANGE_STRLEN];
	T_CHECK(rc == 0 && f.self.n == 2 && f.routes.n == 2 && f.flows.nboxes > 0,
		"load: a node's facts: its two addresses, the two routes it serves, its flows");
	T_STREQ(f.routes.n == 2 ? addr_range_format(f.routes.v[1].family, f.routes.v[1].lo, f.routes.v[1].hi, buf) : "",
		"0.0.0.0/0", "load: the exit route approved is served");
	rc = l ? load_node_facts(&l->fs.global, LOAD_RULES, &g) : -1;
	T_CHECK(rc == 0 && g.self.n == 0 && g.routes.n == 2 && g.routes.v[0].lo == 0 &&
		g.routes.v[0].hi == addr_family_max(g.routes.v[0].family) && g.flows.nrules > 0 && g.flows.nboxes == 0,
		"load: the tailnet-wide view has no address, serves every address, and its rules stay rules");
	load_facts_free(&f);
	load_facts_free(&g);
	load_free(l);
	diag_list_free(&d);
}

/* Without an inventory: the policy compiles against an empty one. */
static void test_no_inventory(void)
{
	struct diag_list d = { 0 };
	struct load *l = load_mem(policy, NULL, &d);
	T_CHECK(l && l->compiled && !l->have_inv && l->inv && l->inv->nnodes == 0 && l->fs.nnodes == 0 && d.n == 0,
		"load: without an inventory, an empty one: the tailnet-wide view alone");
	load_free(l);
	diag_list_free(&d);
}

/* A broken policy and a broken inventory: both reported, located, in the
 * names given. */
static void test_errors(void)
{
	static const char bad_policy[] = "{\n  \"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:99999\"]}],\n}\n";
	static const char bad_nodes[] = "{\"users\": [],\n \"nodes\": [{\"name\": \"n\", \"tags\": [\"tag:t\"], \"ipv4\": \"fd00::1\"}]}";
	struct diag_list d = { 0 };
	struct load *l = load_mem(bad_policy, bad_nodes, &d);
	bool pol_err = false, inv_err = false;
	for (size_t i = 0; i < d.n; i++) {
		const struct diag_loc *at = &d.items[i].loc;
		pol_err |= at->src && strcmp(at->src->name, "db:policy") == 0 && at->line == 2;
		inv_err |= at->src && strcmp(at->src->name, "db:nodes") == 0 && at->line == 2 && at->col == 53;
	}
	T_CHECK(l && !l->compiled && !l->pol && !l->inv && pol_err && inv_err,
		"load: a broken policy and a broken inventory: both reported, located in their own sources");
	load_free(l);
	diag_list_free(&d);
}

int main(void)
{
	test_sources();
	test_built_inventory();
	test_nodes();
	test_no_inventory();
	test_errors();
	T_DONE();
}
