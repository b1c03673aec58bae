/* polssh: "ssh" rules and "nodeAttrs" checked, "sshTests" run. */
#include "polssh.h"

#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "polkey.h"

#define SSH_MAX_CHECK_PERIOD (168.0 * 3600)

/* A Go duration ("12h", "1h30m", "90s", "0.5h") in seconds; false when
 * it is none. */
static bool duration_parse(const char *s, double *secs)
{
	static const struct {
		const char *unit;
		double secs;
	} units[] = { { "ns", 1e-9 }, { "us", 1e-6 }, { "ms", 1e-3 }, { "s", 1 }, { "m", 60 }, { "h", 3600 } };
	*secs = 0;
	if (!*s)
		return false;
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		if (end == s || *s == '-' || *s == '+' || (*s < '0' && *s != '.') || *s > '9')
			return false;
		size_t u = 0, n = strspn(end, "nsuhm");
		while (u < sizeof(units) / sizeof(units[0]) &&
		       (strlen(units[u].unit) != n || strncmp(end, units[u].unit, n) != 0))
			u++;
		if (n == 0 || u == sizeof(units) / sizeof(units[0]))
			return false;
		*secs += v * units[u].secs;
		s = end + n;
	}
	return true;
}

static bool list_of_strings(const struct hj_value *v, const char *what, struct diag_list *diags)
{
	if (v->kind != HJ_ARRAY) {
		pol_error_at(diags, v, "%s must be an array of strings, not %s", what, hj_kind_name(v->kind));
		return false;
	}
	for (size_t i = 0; i < v->u.arr.n; i++)
		if (v->u.arr.items[i]->kind != HJ_STRING) {
			pol_error_at(diags, v->u.arr.items[i], "%s must be an array of strings", what);
			return false;
		}
	return true;
}

/* ---- ssh rules ---- */

static bool ssh_src_ok(enum pol_alias_kind k)
{
	return k != PA_ADDR && k != PA_HOST && k != PA_IPSET && k != PA_DANGER_ALL;
}

static bool ssh_dst_ok(enum pol_alias_kind k)
{
	return k == PA_TAG || k == PA_USER || k == PA_USER_GLOB || k == PA_GROUP || k == PA_SYNCED_GROUP ||
	       k == PA_SELF || k == PA_MEMBER || k == PA_TAGGED || k == PA_ROLE;
}

/* Aliases of list V on SIDE, each one OK allows, into *OUT. */
static bool ssh_aliases(const struct pol_policy *p, const struct hj_value *v, enum pol_side side,
			bool (*ok_kind)(enum pol_alias_kind), struct pol_alias **out, size_t *n,
			struct diag_list *diags)
{
	const char *what = side == POL_SRC ? "an ssh rule's \"src\"" : "an ssh rule's \"dst\"";
	if (!list_of_strings(v, what, diags))
		return false;
	*out = calloc(v->u.arr.n + 1, sizeof(**out));
	if (!*out)
		return false;
	bool ok = true;
	for (size_t i = 0; i < v->u.arr.n; i++) {
		const struct hj_value *it = v->u.arr.items[i];
		struct pol_alias *a = &(*out)[*n];
		if (!pol_alias_parse(p, it->u.str.s, it, side, a, diags)) {
			ok = false;
			continue;
		}
		(*n)++;
		if (!ok_kind(a->kind)) {
			pol_error_at(diags, it, "\"%s\" cannot be %s: ssh rules name %s", it->u.str.s,
				     side == POL_SRC ? "an ssh source" : "an ssh destination",
				     side == POL_SRC ? "users, groups, tags and autogroups, not addresses"
						     : "tags, users, groups and autogroups (self, member, tagged), not "
						       "addresses, hosts or *");
			ok = false;
		}
	}
	return ok;
}

/* One entry of "users": a login, "root", "*", "autogroup:nonroot",
 * "localpart:*@DOMAIN". */
static bool ssh_login_ok(const struct hj_value *it, struct diag_list *diags)
{
	const char *u = it->u.str.s;
	if (strcmp(u, "autogroup:nonroot") == 0)
		return true;
	if (strncmp(u, "autogroup:", 10) == 0)
		pol_error_at(diags, it, "unknown ssh user \"%s\": the only autogroup here is autogroup:nonroot", u);
	else if (strncmp(u, "localpart:", 10) == 0) {
		if (strncmp(u + 10, "*@", 2) == 0 && u[12] && !strchr(u + 12, '@'))
			return true;
		pol_error_at(diags, it, "bad ssh user \"%s\": write localpart:*@DOMAIN", u);
	} else if (!*u || strpbrk(u, " \t:"))
		pol_error_at(diags, it, "bad ssh user \"%s\": a login name, root, *, autogroup:nonroot or "
			     "localpart:*@DOMAIN", u);
	else
		return true;
	return false;
}

static bool ssh_users(struct pol_ssh *r, const struct hj_value *v, struct diag_list *diags)
{
	if (!list_of_strings(v, "an ssh rule's \"users\"", diags))
		return false;
	if (v->u.arr.n == 0) {
		pol_error_at(diags, v, "an ssh rule's \"users\" is empty: it would allow no login");
		return false;
	}
	r->users = calloc(v->u.arr.n, sizeof(*r->users));
	bool ok = r->users != NULL;
	for (size_t i = 0; ok && i < v->u.arr.n; i++) {
		ok = ssh_login_ok(v->u.arr.items[i], diags);
		if (ok && !(r->users[r->nusers++] = strdup(v->u.arr.items[i]->u.str.s)))
			ok = false;
	}
	return ok;
}

static bool ssh_check_period(const struct pol_ssh *r, const struct hj_value *v, struct diag_list *diags)
{
	double secs;
	if (r->action != SSH_CHECK) {
		pol_error_at(diags, v, "\"checkPeriod\" belongs to rules with action \"check\" only");
		return false;
	}
	if (v->kind != HJ_STRING || (strcmp(v->u.str.s, "always") != 0 && !duration_parse(v->u.str.s, &secs))) {
		pol_error_at(diags, v, "\"checkPeriod\" must be a duration (\"12h\", \"30m\", \"1h30m\") or \"always\"");
		return false;
	}
	if (strcmp(v->u.str.s, "always") != 0 && (secs <= 0 || secs > SSH_MAX_CHECK_PERIOD)) {
		pol_error_at(diags, v, "\"checkPeriod\" %s is out of range: more than 0 and at most 168h", v->u.str.s);
		return false;
	}
	return true;
}

/* "recorder": tags of the session recorders; "enforceRecorder": a bool. */
static bool ssh_recorder(const struct pol_policy *p, const struct hj_member *m, struct diag_list *diags)
{
	if (strcmp(m->key->u.str.s, "enforceRecorder") == 0) {
		if (m->value->kind == HJ_TRUE || m->value->kind == HJ_FALSE)
			return true;
		pol_error_at(diags, m->value, "\"enforceRecorder\" must be true or false");
		return false;
	}
	if (!list_of_strings(m->value, "\"recorder\"", diags))
		return false;
	bool ok = true;
	for (size_t i = 0; i < m->value->u.arr.n; i++) {
		const struct hj_value *it = m->value->u.arr.items[i];
		struct pol_alias a;
		if (strncmp(it->u.str.s, "tag:", 4) != 0) {
			pol_error_at(diags, it, "recorder \"%s\": recorders are named by tag (tag:NAME)", it->u.str.s);
			ok = false;
		} else if (pol_alias_parse(p, it->u.str.s, it, POL_OWNER, &a, diags))
			pol_alias_clear(&a);
		else
			ok = false;
	}
	return ok;
}

static bool ssh_action(struct pol_ssh *r, const struct hj_value *v, struct diag_list *diags)
{
	if (v && v->kind == HJ_STRING && strcmp(v->u.str.s, "accept") == 0)
		r->action = SSH_ACCEPT;
	else if (v && v->kind == HJ_STRING && strcmp(v->u.str.s, "check") == 0)
		r->action = SSH_CHECK;
	else {
		pol_error_at(diags, v ? v : r->at, "an ssh rule's \"action\" must be \"accept\" or \"check\"%s",
			     v ? "" : " (it has none)");
		return false;
	}
	return true;
}

/* The members of rule V other than action, src, dst, users. */
static bool ssh_extras(const struct pol_policy *p, struct pol_ssh *r, const struct hj_value *v,
		       struct diag_list *diags)
{
	bool ok = true;
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		const char *k = m->key->u.str.s;
		const struct posture **ps;
		size_t nps;
		if (strcmp(k, "action") == 0 || strcmp(k, "src") == 0 || strcmp(k, "dst") == 0 || strcmp(k, "users") == 0)
			continue;
		if (strcmp(k, "checkPeriod") == 0)
			ok &= ssh_check_period(r, m->value, diags);
		else if (strcmp(k, "acceptEnv") == 0)
			ok &= list_of_strings(m->value, "\"acceptEnv\"", diags);
		else if (strcmp(k, "recorder") == 0 || strcmp(k, "enforceRecorder") == 0)
			ok &= ssh_recorder(p, m, diags);
		else if (strcmp(k, "srcPosture") == 0) {
			ok &= pol_posture_refs(p, m->value, &ps, &nps, diags);
			free(ps);
		} else {
			pol_error_at(diags, m->key, "unknown key \"%s\" in an ssh rule (known: action, src, dst, users, "
				     "checkPeriod, acceptEnv, recorder, enforceRecorder, srcPosture)", k);
			ok = false;
		}
	}
	return ok;
}

/* autogroup:self as a destination: every source names users. */
static bool ssh_self_sources(const struct pol_ssh *r, struct diag_list *diags)
{
	bool self = false, ok = true;
	for (size_t i = 0; i < r->ndst; i++)
		self |= r->dst[i].kind == PA_SELF;
	for (size_t i = 0; self && i < r->nsrc; i++) {
		enum pol_alias_kind k = r->src[i].kind;
		if (k == PA_TAG || k == PA_TAGGED || k == PA_ANY || k == PA_SHARED) {
			pol_error_at(diags, r->src[i].at, "autogroup:self as an ssh destination needs sources that are "
				     "users, groups, roles or autogroup:member, not \"%s\"", r->src[i].name);
			ok = false;
		}
	}
	return ok;
}

static bool load_rule(const struct pol_policy *p, const struct hj_value *v, struct pol_ssh *r,
		      struct diag_list *diags)
{
	r->at = v;
	if (v->kind != HJ_OBJECT) {
		pol_error_at(diags, v, "an ssh rule must be an object, not %s", hj_kind_name(v->kind));
		return false;
	}
	const struct hj_value *src = hj_get(v, "src"), *dst = hj_get(v, "dst"), *users = hj_get(v, "users");
	bool ok = ssh_action(r, hj_get(v, "action"), diags);
	if (!src || !dst || !users) {
		pol_error_at(diags, v, "ssh rule without \"%s\"", !src ? "src" : !dst ? "dst" : "users");
		return false;
	}
	ok &= ssh_aliases(p, src, POL_SRC, ssh_src_ok, &r->src, &r->nsrc, diags);
	ok &= ssh_aliases(p, dst, POL_DST, ssh_dst_ok, &r->dst, &r->ndst, diags);
	ok &= ssh_users(r, users, diags);
	ok &= ssh_extras(p, r, v, diags);
	return ssh_self_sources(r, diags) && ok;
}

bool pol_ssh_load(struct pol_policy *p, const struct hj_value *v, struct diag_list *diags)
{
	if (!pol_want(v, HJ_ARRAY, "\"ssh\"", diags))
		return false;
	p->ssh = calloc(v->u.arr.n + 1, sizeof(*p->ssh));
	if (!p->ssh)
		return false;
	bool ok = true;
	for (size_t i = 0; i < v->u.arr.n; i++)
		ok &= load_rule(p, v->u.arr.items[i], &p->ssh[p->nssh++], diags);
	return ok;
}

void pol_ssh_free(struct pol_policy *p)
{
	for (size_t i = 0; i < p->nssh; i++) {
		struct pol_ssh *r = &p->ssh[i];
		for (size_t j = 0; j < r->nsrc; j++)
			pol_alias_clear(&r->src[j]);
		for (size_t j = 0; j < r->ndst; j++)
			pol_alias_clear(&r->dst[j]);
		for (size_t j = 0; j < r->nusers; j++)
			free(r->users[j]);
		free(r->src);
		free(r->dst);
		free(r->users);
	}
	free(p->ssh);
}

/* ---- nodeAttrs ---- */

static bool node_attr_entry(const struct pol_policy *p, const struct hj_value *v, struct diag_list *diags)
{
	if (v->kind != HJ_OBJECT) {
		pol_error_at(diags, v, "a nodeAttrs entry must be an object, not %s", hj_kind_name(v->kind));
		return false;
	}
	const struct hj_value *target = hj_get(v, "target"), *attr = hj_get(v, "attr"), *app = hj_get(v, "app");
	bool ok = true;
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const char *k = v->u.obj.members[i].key->u.str.s;
		if (strcmp(k, "target") != 0 && strcmp(k, "attr") != 0 && strcmp(k, "app") != 0) {
			pol_error_at(diags, v->u.obj.members[i].key, "unknown key \"%s\" in a nodeAttrs entry (known: "
				     "target, attr, app)", k);
			ok = false;
		}
	}
	if (!target || (!attr && !app)) {
		pol_error_at(diags, v, "nodeAttrs entry without \"%s\"", !target ? "target" : "attr\" or \"app");
		return false;
	}
	if (attr)
		ok &= list_of_strings(attr, "\"attr\"", diags);
	if (app && app->kind != HJ_OBJECT) {
		pol_error_at(diags, app, "\"app\" must be an object of capabilities");
		ok = false;
	}
	if (!list_of_strings(target, "\"target\"", diags))
		return false;
	for (size_t i = 0; i < target->u.arr.n; i++) {
		struct pol_alias a;
		const struct hj_value *it = target->u.arr.items[i];
		if (pol_alias_parse(p, it->u.str.s, it, POL_SRC, &a, diags))
			pol_alias_clear(&a);
		else
			ok = false;
	}
	return ok;
}

bool pol_node_attrs_check(const struct pol_policy *p, const struct hj_value *v, struct diag_list *diags)
{
	if (!pol_want(v, HJ_ARRAY, "\"nodeAttrs\"", diags))
		return false;
	bool ok = true;
	for (size_t i = 0; i < v->u.arr.n; i++)
		ok &= node_attr_entry(p, v->u.arr.items[i], diags);
	return ok;
}

/* ---- deciding ---- */

static bool login_matches(const struct inv *inv, const char *pat, const char *login, const struct inv_node *src)
{
	if (strcmp(pat, "*") == 0)
		return true;
	if (strcmp(pat, "autogroup:nonroot") == 0)
		return strcmp(login, "root") != 0;
	if (strncmp(pat, "localpart:*@", 12) == 0) {
		const char *email = src->user >= 0 && !inv_node_tagged(src) ? inv->users[src->user].email : NULL;
		size_t n = strlen(login);
		return email && strncmp(email, login, n) == 0 && email[n] == '@' && strcmp(email + n + 1, pat + 12) == 0;
	}
	return strcmp(pat, login) == 0;
}

static bool dst_matches(const struct pol_policy *p, const struct inv *inv, const struct pol_alias *a,
			const struct inv_node *src, const struct inv_node *dst)
{
	if (a->kind == PA_SELF)
		return !inv_node_tagged(src) && !inv_node_tagged(dst) && src->user >= 0 && dst->user == src->user;
	return filter_node_matches(p, inv, a, dst);
}

static bool rule_matches(const struct pol_policy *p, const struct inv *inv, const struct pol_ssh *r,
			 const struct inv_node *src, const struct inv_node *dst, const char *login)
{
	bool s = false, d = false, u = false;
	for (size_t i = 0; !s && i < r->nsrc; i++)
		s = filter_node_matches(p, inv, &r->src[i], src);
	for (size_t i = 0; s && !d && i < r->ndst; i++)
		d = dst_matches(p, inv, &r->dst[i], src, dst);
	for (size_t i = 0; d && !u && i < r->nusers; i++)
		u = login_matches(inv, r->users[i], login, src);
	return u;
}

enum pol_ssh_action pol_ssh_decide(const struct pol_policy *p, const struct inv *inv, const struct inv_node *src,
				   const struct inv_node *dst, const char *login)
{
	for (size_t i = 0; i < p->nssh; i++)
		if (rule_matches(p, inv, &p->ssh[i], src, dst, login))
			return p->ssh[i].action;
	return SSH_DENY;
}
