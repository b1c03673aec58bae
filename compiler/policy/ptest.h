/* ptest: the policy's "tests" section.  Each test names one source (a user,
 * group, tag, host or address), optionally a protocol (default TCP), and
 * destinations HOST:PORT that must be accepted ("accept") or dropped
 * ("deny").  They are checked against the tailnet-wide rules (every rule,
 * not reduced to one node).  A malformed test (unknown name, a prefix or a
 * port list where one host and one port belong, neither accept nor deny) is
 * a failing test, reported at its location.  A source that is a known user
 * or a tag with no device is judged as if it had one (a stand-in node at an
 * address no node holds); an unknown user fails. */
#ifndef PTEST_H
#define PTEST_H
#include <stdio.h>

#include "filter.h"
#include "inv.h"
#include "pol.h"

/* The number of tests: "tests" and "sshTests". */
size_t ptest_count(const struct pol_policy *p);
/* Run every test ("sshTests" too, polssh.h); print each failing assertion (located) to OUT.  Returns
 * the number of failures, or -errno. */
int ptest_run(const struct pol_policy *p, const struct inv *inv, const struct filter_set *s, FILE *out);

#endif
