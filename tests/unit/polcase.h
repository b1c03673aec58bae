/* polcase: table-driven policy cases for the unit tests of the policy
 * forms.  Define POLCASE_INVENTORY (the inventory's JSON text) first; each
 * case loads a policy against it, expects it to load and its own "tests"
 * to pass, or to fail with an error containing a given text. */
#ifndef POLCASE_H
#define POLCASE_H
#include <stdio.h>
#include <string.h>

#include "load.h"
#include "ptest.h"
#include "t.h"

struct form_case {
	const char *what;
	const char *policy;
	const char *error;    /* NULL: loads and its tests pass; else a part of the first error */
};

/* Load POLICY against the inventory: NULL when it loads and its tests
 * pass, else the first error's message (or a test failure count). */
static char *try_policy(const char *policy)
{
	static char why[1024];
	struct diag_list d = { 0 };
	struct load *l = load_new();
	int rc = l ? load_run(l, &(struct load_src){ .name = "p.hujson", .text = policy, .len = strlen(policy) },
			      &(struct load_src){ .name = "nodes.json", .text = POLCASE_INVENTORY, .len = strlen(POLCASE_INVENTORY) }, &d)
		   : -1;
	char *res = NULL;
	if (rc < 0) {
		snprintf(why, sizeof(why), "%s", d.n ? d.items[0].msg : "load failed");
		for (size_t i = 0; i < d.n; i++)
			if (d.items[i].level == DIAG_ERROR) {
				snprintf(why, sizeof(why), "%s", d.items[i].msg);
				break;
			}
		res = why;
	} else {
		FILE *out = tmpfile();
		int failures = ptest_run(l->pol, l->inv, &l->fs, out);
		if (failures != 0) {
			char line[512] = "";
			rewind(out);
			if (!fgets(line, sizeof(line), out))
				line[0] = 0;
			snprintf(why, sizeof(why), "tests failed (%d): %s", failures, line);
			res = why;
		}
		fclose(out);
	}
	load_free(l);
	diag_list_free(&d);
	return res;
}

static void run_cases(const struct form_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *got = try_policy(c[i].policy);
		if (!c[i].error) {
			T_CHECK(got == NULL, "%s", c[i].what);
			if (got)
				printf("#   %s\n", got);
		} else {
			T_CHECK(got && strstr(got, c[i].error), "%s", c[i].what);
			if (!got || !strstr(got, c[i].error))
				printf("#   got: %s\n#   want a part: %s\n", got ? got : "(loaded)", c[i].error);
		}
	}
}

#endif
