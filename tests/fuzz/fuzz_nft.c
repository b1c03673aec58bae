/* fuzz_nft: the nftables backend fed by random policies and inventories.
 * The input is a policy, then optionally a NUL byte and an inventory (JSON;
 * without one, a fixed relay inventory).  For every node that compiles,
 * and the tailnet-wide view: the model (nftm_build) and the text for
 * `nft -f` (nftt_write).  Must never crash or leak; the text must touch only
 * our table (no other top-level command, whatever the names say: an
 * inventory name once injected `table ip ...`) and hold no control bytes
 * but newlines and tabs; and the model must accept a packet of every rule
 * exactly when its destination is the node's own address or a route it
 * serves. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "load.h"
#include "nftm.h"
#include "nftt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char relay_nodes[] =
	"{\"users\": [{\"name\": \"ann\", \"email\": \"ann@example.com\"}],"
	" \"nodes\": ["
	"  {\"name\": \"relay-1\", \"user\": null, \"tags\": [\"tag:relay\"], \"ipv4\": \"100.64.0.10\","
	"   \"advertised_routes\": [\"8.8.8.8/32\", \"2001:db8::/64\"], \"approved_routes\": [\"8.8.8.8/32\"]},"
	"  {\"name\": \"laptop\", \"user\": \"ann\", \"ipv4\": \"100.64.0.11\", \"ipv6\": \"fd7a:115c:a1e0::11\"}]}";

/* Only our table, only printable text. */
static void check_text(const char *text, size_t len, const char *table)
{
	char want_add[64], want_del[64], want_open[64];
	snprintf(want_add, sizeof want_add, "table inet %s", table);
	snprintf(want_del, sizeof want_del, "delete table inet %s", table);
	snprintf(want_open, sizeof want_open, "table inet %s {", table);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 && text[i] != '\n' && text[i] != '\t')
			abort();
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		size_t n = strcspn(line, "\n");
		if (n == 0 || line[0] == '#' || line[0] == '\t' || (n == 1 && line[0] == '}'))
			continue;
		if (!(n == strlen(want_add) && !strncmp(line, want_add, n)) &&
		    !(n == strlen(want_del) && !strncmp(line, want_del, n)) &&
		    !(n == strlen(want_open) && !strncmp(line, want_open, n)))
			abort();   /* a top-level command that is not ours */
	}
}

/* A packet at the low corner of every rule is accepted exactly when its
 * destination is the node's. */
static void check_model(const struct nftm_table *t, const struct load_facts *f)
{
	for (size_t i = 0; i < f->flows.nrules; i++) {
		const struct ir_box *b = &f->flows.rules[i].box;
		enum addr_family fam = b->family;
		bool ours = addr_set_contains(&f->self, fam, b->dst_lo, b->dst_lo) ||
			    addr_set_contains(&f->routes, fam, b->dst_lo, b->dst_lo);
		if (nftm_eval(t, fam, b->proto, b->src_lo, b->dst_lo, b->port_lo) != ours)
			abort();
	}
}

static void backend(const struct filter_node *fn, const char *name)
{
	struct load_facts f = { 0 };
	if (load_node_facts(fn, LOAD_RULES, &f) == 0) {
		struct nftm_node node = { &f.self, &f.routes };
		struct nftm_opts opts = { 0 };
		struct nftm_table *t = nftm_build(&opts, &node, &f.flows);
		if (!t)
			abort();
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);
		struct nftt_origin origin = { "fuzz.hujson", name };
		if (!out || nftt_write(out, t, &origin) != 0 || fclose(out) != 0)
			abort();
		check_text(text, len, NFTM_DEFAULT_TABLE);
		check_model(t, &f);
		free(text);
		nftm_free(t);
	}
	load_facts_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t plen = nul ? (size_t)(nul - data) : size;
	struct load_src policy = { "fuzz.hujson", (const char *)data, plen };
	struct load_src nodes = { "nodes.json", relay_nodes, strlen(relay_nodes) };
	if (nul) {
		nodes.text = (const char *)nul + 1;
		nodes.len = size - plen - 1;
	}
	struct diag_list diags = { 0 };
	struct load *l = load_new();
	if (!l)
		abort();
	if (load_run(l, &policy, &nodes, &diags) == 0) {
		for (size_t i = 0; i < l->fs.nnodes; i++)
			backend(&l->fs.nodes[i], l->fs.nodes[i].node->name);
		backend(&l->fs.global, NULL);
	} else if (!diags.nerrors) {
		abort();   /* a refusal always says why */
	}
	FILE *null = fopen("/dev/null", "w");
	diag_print(null, &diags);
	fclose(null);
	diag_list_free(&diags);
	load_free(l);
	return 0;
}
