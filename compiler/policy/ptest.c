/* ptest: run the policy's tests against the tailnet-wide rules. */
#include "ptest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "polkey.h"
#include "polssh.h"
#include "role.h"

/* Where a principal without a device is put to judge its access: the top of
 * the tailnet's ranges, moved down past any address a node holds. */
#define STANDIN_V4 "100.127.255.254"
#define STANDIN_V6 "fd7a:115c:a1e0:ffff:ffff:ffff:ffff:fffe"

struct run {
	const struct pol_policy *p;
	const struct inv *inv;
	const struct filter_set *s;
	struct ir_flows all;
	struct ir_flows standin_flows;	/* the rules with the current test's stand-in */
	bool use_standin;		/* the current test uses standin_flows */
	const struct hj_value *attrs;	/* the current test's "srcPostureAttrs" */
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

/* ---- principals without a device ----
 *
 * A policy is usually set before anyone has joined.  A test whose source is
 * a known user (in the inventory) or a tag (tagOwners) with no device judges
 * that principal's access as if it had one: the rules are compiled again
 * with a stand-in node (owned by the user, or carrying the tag) at an
 * address no node holds, and the test's source is that node.  Destinations
 * are named as before, by the real inventory. */

static bool addr_taken(const struct inv *inv, enum addr_family family, addr_u128 a)
{
	for (size_t i = 0; i < inv->nnodes; i++) {
		const struct inv_node *n = &inv->nodes[i];
		if (family == ADDR_V4 ? n->has_v4 && n->v4 == a : n->has_v6 && n->v6 == a)
			return true;
	}
	return false;
}

/* The stand-in's address in FAMILY as text, into BUF (ADDR_STRLEN). */
static void standin_addr(const struct inv *inv, enum addr_family family, char *buf)
{
	enum addr_family f;
	addr_u128 a;
	addr_parse(family == ADDR_V4 ? STANDIN_V4 : STANDIN_V6, &f, &a);
	while (addr_taken(inv, family, a))
		a--;
	addr_format(family, a, buf);
}

static int copy_prefixes(struct inv *to, size_t node, enum inv_routes which, const struct inv_prefix *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = inv_node_add_route(to, node, which, v[i].text);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The test's attributes ATTRS (checked by test_attrs_valid) on node IDX. */
static int set_test_attrs(struct inv *to, size_t idx, const struct hj_value *attrs)
{
	int rc = 0;
	for (size_t i = 0; rc >= 0 && i < attrs->u.obj.n; i++) {
		const struct hj_value *v = attrs->u.obj.members[i].value;
		struct inv_attr a = { .key = attrs->u.obj.members[i].key->u.str.s };
		rc = inv_attr_from_value(v, &a) ? inv_node_set_attr(to, idx, &a) : -EINVAL;
	}
	return rc;
}

/* Node N's attributes, or (ATTRS given) the test's in their place. */
static int copy_attrs(struct inv *to, size_t idx, const struct inv_node *n, const struct hj_value *attrs)
{
	if (attrs)
		return set_test_attrs(to, idx, attrs);
	int rc = 0;
	for (size_t i = 0; rc >= 0 && i < n->nattrs; i++)
		rc = inv_node_set_attr(to, idx, &n->attrs[i]);
	return rc;
}

static int copy_node(struct inv *to, const struct inv_node *n, const struct hj_value *attrs)
{
	char buf[ADDR_STRLEN];
	int idx = inv_add_node(to, n->name, n->user), rc = idx;
	for (size_t t = 0; rc >= 0 && t < n->ntags; t++)
		rc = inv_node_add_tag(to, (size_t)idx, n->tags[t]);
	if (rc >= 0 && n->has_v4)
		rc = inv_node_set_addr(to, (size_t)idx, ADDR_V4, addr_format(ADDR_V4, n->v4, buf));
	if (rc >= 0 && n->has_v6)
		rc = inv_node_set_addr(to, (size_t)idx, ADDR_V6, addr_format(ADDR_V6, n->v6, buf));
	if (rc >= 0)
		rc = copy_prefixes(to, (size_t)idx, INV_ADVERTISED, n->advertised, n->nadvertised);
	if (rc >= 0)
		rc = copy_prefixes(to, (size_t)idx, INV_APPROVED, n->approved, n->napproved);
	if (rc >= 0 && n->created)
		rc = inv_node_set_created(to, (size_t)idx, n->created);
	if (rc >= 0)
		rc = inv_node_set_shared(to, (size_t)idx, n->shared);
	if (rc >= 0)
		rc = copy_attrs(to, (size_t)idx, n, attrs);
	return rc < 0 ? rc : 0;
}

/* A copy of INV (users in the same order, so indexes hold) with a stand-in
 * node owned by USER (an index) or carrying TAG (neither: none).  The
 * test's posture attributes ATTRS (or NULL) go to the stand-in, else to
 * the nodes with an address in SRC.  NULL on failure. */
static struct inv *inv_with_standin(const struct inv *inv, int user, const char *tag, const struct hj_value *attrs,
				    const struct addr_set *src)
{
	bool standin = user >= 0 || tag;
	struct inv *to = inv_new();
	struct diag_list diags = { 0 };
	char v4[ADDR_STRLEN], v6[ADDR_STRLEN], name[64];
	int rc = to ? 0 : -ENOMEM;
	for (size_t i = 0; rc >= 0 && i < inv->nusers; i++)
		rc = inv_add_user(to, inv->users[i].name, inv->users[i].email);
	for (size_t i = 0; rc >= 0 && i < inv->nusers; i++) {
		rc = inv_user_set_role(to, i, role_name(inv->users[i].role));
		for (size_t g = 0; rc >= 0 && g < inv->users[i].ngroups; g++)
			rc = inv_user_add_group(to, i, inv->users[i].groups[g]);
	}
	for (size_t i = 0; rc >= 0 && i < inv->nnodes; i++)
		rc = copy_node(to, &inv->nodes[i], !standin && src && inv_node_within(&inv->nodes[i], src) ? attrs : NULL);
	standin_addr(inv, ADDR_V4, v4);
	standin_addr(inv, ADDR_V6, v6);
	snprintf(name, sizeof(name), "test-standin-%zu", inv->nnodes);
	int idx = rc >= 0 && standin ? inv_add_node(to, name, tag ? -1 : user) : rc;
	rc = idx;
	if (rc >= 0 && standin && tag)
		rc = inv_node_add_tag(to, (size_t)idx, tag);
	if (rc >= 0 && standin)
		rc = inv_node_set_addr(to, (size_t)idx, ADDR_V4, v4);
	if (rc >= 0 && standin)
		rc = inv_node_set_addr(to, (size_t)idx, ADDR_V6, v6);
	if (rc >= 0 && standin && attrs)
		rc = set_test_attrs(to, (size_t)idx, attrs);
	if (rc >= 0)
		rc = inv_finish(to, &diags);
	diag_list_free(&diags);
	if (rc < 0) {
		inv_free(to);
		return NULL;
	}
	return to;
}

/* The user a PA_USER alias names exactly ("alice@example.com", "alice@"),
 * or -1. */
static int known_user(const struct inv *inv, const char *name)
{
	int u = inv_user_by_email(inv, name);
	size_t len = strlen(name);
	if (u < 0 && len > 1 && name[len - 1] == '@') {
		char *login = strndup(name, len - 1);
		u = login ? inv_user_by_name(inv, login) : -1;
		free(login);
	}
	return u;
}

/* Source A names no device: when it is a known user or a tag, the
 * stand-in's addresses into OUT and the rules compiled with it into
 * R->standin_flows.  false: not such a principal (or no memory). */
/* The rules compiled with INV (taken) into R->standin_flows, the ones
 * the test uses.  OUT (or NULL): the last node's addresses (the stand-in's). */
static bool compile_standin(struct run *r, struct inv *inv, struct addr_set *out)
{
	struct filter_set fs = { 0 };
	struct diag_list diags = { 0 };
	bool ok = inv && filter_compile(r->p, inv, &fs, &diags) == 0;
	if (ok) {
		ir_free(&r->standin_flows);
		ok = filter_node_ir(&fs.global, &r->standin_flows) == 0 &&
		     (!out || inv_node_addrs(&inv->nodes[inv->nnodes - 1], out) == 0);
		r->use_standin = ok;
	}
	filter_set_free(&fs);
	diag_list_free(&diags);
	inv_free(inv);
	return ok;
}

static bool standin_source(struct run *r, const struct pol_alias *a, struct addr_set *out)
{
	int user = a->kind == PA_USER ? known_user(r->inv, a->name) : -1;
	if (user < 0 && a->kind != PA_TAG)
		return false;
	return compile_standin(r, inv_with_standin(r->inv, user, a->kind == PA_TAG ? a->name : NULL, r->attrs, NULL),
			       out);
}

/* "srcPostureAttrs": {"NAMESPACE:NAME": string, number or boolean}.
 * false with the failure recorded. */
static bool test_attrs_valid(struct run *r, const struct hj_value *v)
{
	if (v->kind != HJ_OBJECT) {
		FAIL(r, v, "test: \"srcPostureAttrs\" must be an object {\"NAMESPACE:NAME\": value}");
		return false;
	}
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		enum hj_kind k = m->value->kind;
		if (!inv_attr_key_valid(m->key->u.str.s) || strlen(m->key->u.str.s) != m->key->u.str.len) {
			FAIL(r, m->key, "test: \"%s\" is not an attribute key NAMESPACE:NAME", m->key->u.str.s);
			return false;
		}
		if ((k != HJ_STRING && k != HJ_NUMBER && k != HJ_TRUE && k != HJ_FALSE) ||
		    (k == HJ_STRING && !inv_text_clean(m->value->u.str.s))) {
			FAIL(r, m->value, "test: attribute \"%s\" must be a string, a number or a boolean",
			     m->key->u.str.s);
			return false;
		}
	}
	return true;
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
	if (!ok && side == POL_TEST_SRC)
		ok = standin_source(r, &a, out);
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
				bool acc = ir_match(r->use_standin ? &r->standin_flows : &r->all, src->v[i].family, proto, src->v[i].lo, dst.v[j].lo, port);
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
	const struct hj_value *src = NULL, *proto = NULL, *accept = NULL, *deny = NULL, *attrs = NULL;
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
		else if (strcmp(k, "srcPostureAttrs") == 0)
			attrs = m->value;
		else
			FAIL(r, m->key, "test: unknown key \"%s\" (known: src, proto, accept, deny, srcPostureAttrs, and the "
			     "legacy user, allow)", k);
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
	if (attrs && !test_attrs_valid(r, attrs))
		return;
	struct addr_set saddrs = { 0 };
	r->use_standin = false;
	r->attrs = attrs;
	bool ok = test_addrs(r, src->u.str.s, src, POL_TEST_SRC, &saddrs);
	/* A device of the inventory tried with the test's attributes. */
	if (ok && attrs && !r->use_standin &&
	    !(ok = compile_standin(r, inv_with_standin(r->inv, -1, NULL, attrs, &saddrs), NULL)))
		FAIL(r, attrs, "test: compiling the rules with \"srcPostureAttrs\" failed");
	if (ok) {
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
		return pol_ssh_tests_run(p, inv, out);
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
	ir_free(&r.standin_flows);
	return r.failures + pol_ssh_tests_run(p, inv, out);
}

size_t ptest_count(const struct pol_policy *p)
{
	return (p->tests ? p->tests->u.arr.n : 0) + (p->ssh_tests ? p->ssh_tests->u.arr.n : 0);
}
