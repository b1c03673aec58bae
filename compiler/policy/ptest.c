/* ptest: run the policy's tests against the tailnet-wide rules. */
#include "ptest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "polkey.h"

struct run {
	const struct pol_policy *p;
	const struct inv *inv;
	const struct filter_set *s;
	struct ir_flows all;
	struct diag_list diags;
	int failures;
};

#define FAIL(r, at, ...) do { diag_error(&(r)->diags, &(at)->loc, __VA_ARGS__); (r)->failures++; } while (0)

/* A test names single hosts: an address, not a prefix or range. */
static bool single_addresses(const struct addr_set *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].lo != a->v[i].hi)
			return false;
	return a->n > 0;
}

/* Resolve a test's source or destination name to single addresses; false
 * with the failure recorded. */
static bool test_addrs(struct run *r, const char *name, const struct hj_value *at, enum pol_side side,
		       struct addr_set *out)
{
	struct pol_alias a;
	size_t before = r->diags.nerrors;
	if (!pol_alias_parse(r->p, name, at, side, &a, &r->diags)) {
		r->failures += r->diags.nerrors > before ? 1 : 0;
		return false;
	}
	bool ok = filter_alias_addrs(r->p, r->inv, r->s, &a, out);
	if (a.kind == PA_ADDR && strchr(name, '/')) {
		FAIL(r, at, "test: \"%s\" is a prefix: tests take a single address", name);
		ok = false;
	} else if (!ok)
		FAIL(r, at, "test: \"%s\" names no node or address", name);
	else if (a.kind == PA_ANY || ((a.kind == PA_ADDR || a.kind == PA_HOST || a.kind == PA_IPSET) &&
				      !single_addresses(out))) {
		FAIL(r, at, "test: \"%s\" is not one host: tests take a single address, host, user, group or tag",
		     name);
		ok = false;
	}
	pol_alias_clear(&a);
	return ok;
}

static bool parse_port(const char *s, unsigned *port)
{
	if (!*s || strlen(s) > 5)
		return false;
	unsigned v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*port = v;
	return v <= 65535;
}

static void check_dst(struct run *r, const char *srcname, const struct addr_set *src, unsigned proto,
		      const struct hj_value *it, bool want_accept)
{
	char *alias;
	const char *ports;
	unsigned port;
	if (it->kind != HJ_STRING) {
		FAIL(r, it, "test: a destination must be a string HOST:PORT");
		return;
	}
	if (!pol_split_dst(it->u.str.s, &alias, &ports)) {
		FAIL(r, it, "test: destination \"%s\" needs a port: HOST:PORT", it->u.str.s);
		return;
	}
	struct addr_set dst = { 0 };
	if (!parse_port(ports, &port))
		FAIL(r, it, "test: \"%s\" in \"%s\" is not one port (a number 0-65535; no lists, ranges or *)",
		     ports, it->u.str.s);
	else if (test_addrs(r, alias, it, POL_TEST_DST, &dst)) {
		size_t pairs = 0, accepted = 0;
		char a[ADDR_STRLEN], b[ADDR_STRLEN], first[2 * ADDR_STRLEN + 8] = "";
		for (size_t i = 0; i < src->n; i++)
			for (size_t j = 0; j < dst.n; j++) {
				if (src->v[i].family != dst.v[j].family)
					continue;
				pairs++;
				bool acc = ir_match(&r->all, src->v[i].family, proto, src->v[i].lo, dst.v[j].lo, port);
				accepted += acc;
				if (acc != want_accept && !first[0])
					snprintf(first, sizeof(first), "%s -> %s",
						 addr_format(src->v[i].family, src->v[i].lo, a),
						 addr_format(dst.v[j].family, dst.v[j].lo, b));
			}
		if (pairs == 0)
			FAIL(r, it, "test: %s and %s share no address family", srcname, alias);
		else if (want_accept && accepted != pairs)
			FAIL(r, it, "test failed: %s -> %s (proto %u) should be accepted, but is dropped (%s)",
			     srcname, it->u.str.s, proto, first);
		else if (!want_accept && accepted > 0)
			FAIL(r, it, "test failed: %s -> %s (proto %u) should be denied, but is accepted (%s)",
			     srcname, it->u.str.s, proto, first);
	}
	addr_set_free(&dst);
	free(alias);
}

static void run_test(struct run *r, const struct hj_value *t)
{
	if (t->kind != HJ_OBJECT) {
		FAIL(r, t, "test: a test must be an object with src and accept or deny");
		return;
	}
	static const char *const fields[] = { "src", "proto", "accept", "deny", "allow", "user", "srcPostureAttrs" };
	const struct hj_value *src = NULL, *proto = NULL, *accept = NULL, *deny = NULL;
	for (size_t i = 0; i < t->u.obj.n; i++) {
		const struct hj_member *m = &t->u.obj.members[i];
		const char *k = polkey_field(m->key, fields, sizeof(fields) / sizeof(fields[0]));
		if (strcmp(k, "src") == 0 || strcmp(k, "user") == 0) {
			/* "user" is the legacy name of "src". */
			if (src)
				FAIL(r, m->key, "test: \"user\" is the legacy name of \"src\": give one of them");
			src = m->value;
		} else if (strcmp(k, "proto") == 0)
			proto = m->value;
		else if (strcmp(k, "accept") == 0 || strcmp(k, "allow") == 0) {
			/* "allow" is the legacy name of "accept". */
			if (accept)
				FAIL(r, m->key, "test: \"allow\" is the legacy name of \"accept\": give one of them");
			accept = m->value;
		} else if (strcmp(k, "deny") == 0)
			deny = m->value;
		else if (strcmp(k, "srcPostureAttrs") != 0)
			FAIL(r, m->key, "test: unknown key \"%s\" (known: src, proto, accept, deny, and the legacy user, allow)", k);
	}
	if (!src || src->kind != HJ_STRING || !src->u.str.s[0]) {
		FAIL(r, src ? src : t, "test: \"src\" must be a non-empty string naming one source");
		return;
	}
	unsigned pr = PROTO_TCP;
	if (proto) {
		int v = proto->kind == HJ_STRING ? pol_proto_parse(proto->u.str.s) : -1;
		if (v < 0) {
			FAIL(r, proto, "test: unknown protocol");
			return;
		}
		pr = (unsigned)v;
	}
	if ((!accept || accept->kind != HJ_ARRAY || accept->u.arr.n == 0) &&
	    (!deny || deny->kind != HJ_ARRAY || deny->u.arr.n == 0)) {
		FAIL(r, t, "test: needs \"accept\" or \"deny\" (arrays of HOST:PORT)");
		return;
	}
	struct addr_set saddrs = { 0 };
	if (test_addrs(r, src->u.str.s, src, POL_TEST_SRC, &saddrs)) {
		const struct hj_value *lists[2] = { accept, deny };
		for (int w = 0; w < 2; w++) {
			if (!lists[w])
				continue;
			if (lists[w]->kind != HJ_ARRAY) {
				FAIL(r, lists[w], "test: \"%s\" must be an array of HOST:PORT", w ? "deny" : "accept");
				continue;
			}
			for (size_t i = 0; i < lists[w]->u.arr.n; i++)
				check_dst(r, src->u.str.s, &saddrs, pr, lists[w]->u.arr.items[i], w == 0);
		}
	}
	addr_set_free(&saddrs);
}

int ptest_run(const struct pol_policy *p, const struct inv *inv, const struct filter_set *s, FILE *out)
{
	struct run r = { .p = p, .inv = inv, .s = s, .diags = { .max_errors = 1000 } };
	if (!p->tests)
		return 0;
	int rc = filter_node_ir(&s->global, &r.all);
	if (rc < 0) {
		ir_free(&r.all);
		return rc;
	}
	for (size_t i = 0; i < p->tests->u.arr.n; i++)
		run_test(&r, p->tests->u.arr.items[i]);
	diag_print(out, &r.diags);
	diag_list_free(&r.diags);
	ir_free(&r.all);
	return r.failures;
}
