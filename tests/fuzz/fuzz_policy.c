/* fuzz_policy: a policy on arbitrary bytes, against a fixed inventory with
 * users, tags, subnet and exit routes: parse, load, compile every node's
 * filter and peers, run its tests.  Must end in a result or in located
 * errors, never a crash or a leak; the IR must be canonical (re-adding the
 * canonical boxes gives the same boxes) and agree with the rules it came
 * from on sample packets. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "filter.h"
#include "hj.h"
#include "inv.h"
#include "ir.h"
#include "pol.h"
#include "ptest.h"
#include "routes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char inventory[] =
	"{\"users\": [{\"name\": \"alice\", \"email\": \"alice@example.com\", \"role\": \"admin\","
	"              \"groups\": [\"group:eng@example.com\"]},"
	"             {\"name\": \"bob\", \"email\": \"bob@example.com\"},"
	"             {\"name\": \"guest\", \"email\": \"guest@other.example\"}],"
	" \"nodes\": ["
	"  {\"name\": \"relay\", \"user\": null, \"tags\": [\"tag:relay\"], \"ipv4\": \"100.64.0.1\","
	"   \"ipv6\": \"fd7a:115c:a1e0::1\", \"advertised_routes\": [\"10.0.0.0/8\", \"0.0.0.0/0\", \"::/0\"],"
	"   \"approved_routes\": [\"10.0.0.0/8\"]},"
	"  {\"name\": \"a1\", \"user\": \"alice\", \"ipv4\": \"100.64.0.2\", \"ipv6\": \"fd7a:115c:a1e0::2\"},"
	"  {\"name\": \"a2\", \"user\": \"alice\", \"ipv4\": \"100.64.0.3\"},"
	"  {\"name\": \"b1\", \"user\": \"bob\", \"ipv6\": \"fd7a:115c:a1e0::4\","
	"   \"advertised_routes\": [\"192.168.0.0/24\"]},"
	"  {\"name\": \"g1\", \"user\": \"guest\", \"ipv4\": \"100.64.0.9\", \"shared\": true}],"
	" \"services\": [{\"name\": \"svc:web\", \"ipv4\": \"100.100.0.1\", \"hosts\": [\"relay\"]}]}";

static void check_ir(const struct ir_flows *f)
{
	struct ir_flows g = { 0 };
	if (ir_add_boxes(&g, f) < 0)
		abort();
	if (ir_canonicalize(&g) < 0 || !ir_equal(f, &g))
		abort();
	ir_free(&g);
	/* Every rule's corners are accepted by the canonical form. */
	for (size_t i = 0; i < f->nrules; i++) {
		const struct ir_box *b = &f->rules[i].box;
		if (!ir_match(f, b->family, b->proto, b->src_lo, b->dst_hi, b->port_hi) ||
		    !ir_match(f, b->family, b->proto, b->src_hi, b->dst_lo, b->port_lo))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag_list diags = { 0 };
	struct diag_src *src = diag_src_from_mem("fuzz.hujson", (const char *)data, size);
	struct diag_src *isrc = diag_src_from_mem("nodes.json", inventory, strlen(inventory));
	struct inv *inv = isrc ? inv_read(isrc, &diags) : NULL;
	if (!src || !inv)
		abort();
	struct hj_value *root = hj_parse(src, &diags);
	struct pol_policy *p = root ? pol_load(root, &diags) : NULL;
	if (root && !p && !diags.nerrors)
		abort();   /* a rejected policy always says why */
	if (p) {
		struct filter_set fs;
		if (filter_compile(p, inv, &fs, &diags) == 0) {
			for (size_t i = 0; i < fs.nnodes; i++) {
				struct ir_flows f = { 0 };
				if (filter_node_ir(&fs.nodes[i], &f) < 0)
					abort();
				check_ir(&f);
				ir_free(&f);
			}
			struct routes_set rs;
			if (routes_compute(p, inv, &fs, &rs, &diags) == 0)
				routes_set_free(&rs);
			FILE *null = fopen("/dev/null", "w");
			ptest_run(p, inv, &fs, null);
			fclose(null);
			filter_set_free(&fs);
		}
	}
	FILE *null = fopen("/dev/null", "w");
	diag_print(null, &diags);
	fclose(null);
	pol_free(p);
	hj_free(root);
	inv_free(inv);
	diag_list_free(&diags);
	diag_src_free(src);
	diag_src_free(isrc);
	return 0;
}
