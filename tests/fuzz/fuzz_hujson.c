/* fuzz_hujson: hj_parse() on arbitrary bytes must end in a tree or in
 * errors, never a crash or a leak; a tree written as JSON must parse
 * again and write back to the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "hj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *write_tree(const struct hj_value *v, bool pretty, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		abort();
	if (hj_write_json(f, v, pretty) < 0)
		abort();
	fclose(f);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag_list diags = { .max_errors = 1 + (size ? data[0] % 40 : 0) };
	struct diag_src *src = diag_src_from_mem("fuzz.hujson", (const char *)data, size);
	if (!src)
		return 0;
	struct hj_value *v = hj_parse(src, &diags);
	/* Render the diagnostics too: carets index into the source. */
	FILE *null = fopen("/dev/null", "w");
	diag_print(null, &diags);
	fclose(null);
	if (v && diags.nerrors)
		abort();
	if (!v && !diags.nerrors && !diags.truncated)
		abort();
	if (v) {
		size_t len1, len2;
		char *out1 = write_tree(v, size & 1, &len1);
		struct diag_list d2 = { 0 };
		struct diag_src *src2 = diag_src_from_mem("out.json", out1, len1);
		struct hj_value *v2 = hj_parse(src2, &d2);
		if (!v2)
			abort();
		char *out2 = write_tree(v2, size & 1, &len2);
		if (len1 != len2 || memcmp(out1, out2, len1) != 0)
			abort();
		free(out1);
		free(out2);
		hj_free(v2);
		diag_src_free(src2);
		diag_list_free(&d2);
	}
	hj_free(v);
	diag_src_free(src);
	diag_list_free(&diags);
	return 0;
}
