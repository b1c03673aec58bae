/* sshtest: a policy's "sshTests", run against its ssh rules.  A test:
 * {"src": NAME, "dst": [NAMES], "accept": [LOGINS], "check": [LOGINS],
 * "deny": [LOGINS]}: from every device the source names, to every device
 * each destination names, each login must be accepted, checked or denied
 * (polssh.h decides).  A source or destination naming no device (a known
 * user, a tag) is judged as a device it would own or carry. */
#include "polssh.h"

#include <stdlib.h>
#include <string.h>

#include "filter.h"

static const char *const test_fields[] = { "src", "dst", "accept", "check", "deny", "srcPostureAttrs" };

static bool test_shape(const struct hj_value *t, struct diag_list *diags)
{
	if (t->kind != HJ_OBJECT) {
		pol_error_at(diags, t, "an ssh test must be an object with src, dst and accept, check or deny");
		return false;
	}
	bool ok = true, lists = false;
	for (size_t i = 0; i < t->u.obj.n; i++) {
		const struct hj_member *m = &t->u.obj.members[i];
		size_t f = 0;
		while (f < sizeof(test_fields) / sizeof(test_fields[0]) && strcmp(m->key->u.str.s, test_fields[f]) != 0)
			f++;
		if (f == sizeof(test_fields) / sizeof(test_fields[0])) {
			pol_error_at(diags, m->key, "unknown key \"%s\" in an ssh test (known: src, dst, accept, check, "
				     "deny, srcPostureAttrs)", m->key->u.str.s);
			ok = false;
		} else if (f == 0 && m->value->kind != HJ_STRING) {
			pol_error_at(diags, m->value, "an ssh test's \"src\" must be a string");
			ok = false;
		} else if (f >= 1 && f <= 4) {
			bool strs = m->value->kind == HJ_ARRAY;
			for (size_t j = 0; strs && j < m->value->u.arr.n; j++)
				strs = m->value->u.arr.items[j]->kind == HJ_STRING;
			if (!strs) {
				pol_error_at(diags, m->value, "an ssh test's \"%s\" must be an array of strings", test_fields[f]);
				ok = false;
			}
			lists |= f >= 2;
		}
	}
	if (ok && (!hj_get(t, "src") || !hj_get(t, "dst") || !lists)) {
		pol_error_at(diags, t, "an ssh test needs \"src\", \"dst\" and one of accept, check, deny");
		ok = false;
	}
	return ok;
}

bool pol_ssh_tests_check(const struct hj_value *v, struct diag_list *diags)
{
	if (!pol_want(v, HJ_ARRAY, "\"sshTests\"", diags))
		return false;
	bool ok = true;
	for (size_t i = 0; i < v->u.arr.n; i++)
		ok &= test_shape(v->u.arr.items[i], diags);
	return ok;
}

/* ---- running ---- */

/* The devices a test names: the inventory's, or one imagined. */
struct devices {
	const struct inv_node **v;
	size_t n;
	struct inv_node imagined;
	char *tag;                  /* the imagined device's tag */
};

struct sshrun {
	const struct pol_policy *p;
	const struct inv *inv;
	struct diag_list diags;
	int failures;
};

/* Name NAME (string AT) as devices; false with the failure recorded. */
static bool name_devices(struct sshrun *r, const char *name, const struct hj_value *at, enum pol_side side,
			 struct devices *out)
{
	struct pol_alias a;
	memset(out, 0, sizeof(*out));
	if (!pol_alias_parse(r->p, name, at, side, &a, &r->diags)) {
		r->failures++;
		return false;
	}
	out->v = calloc(r->inv->nnodes + 1, sizeof(*out->v));
	for (size_t i = 0; out->v && i < r->inv->nnodes; i++)
		if (filter_node_matches(r->p, r->inv, &a, &r->inv->nodes[i]))
			out->v[out->n++] = &r->inv->nodes[i];
	int user = a.kind == PA_USER ? inv_user_by_email(r->inv, a.name) : -1;
	if (out->v && out->n == 0 && (user >= 0 || a.kind == PA_TAG)) {
		out->imagined = (struct inv_node){ .name = (char *)name, .user = a.kind == PA_TAG ? -1 : user };
		out->tag = a.kind == PA_TAG ? a.name : NULL;
		a.name = a.kind == PA_TAG ? NULL : a.name;
		out->imagined.tags = out->tag ? &out->tag : NULL;
		out->imagined.ntags = out->tag ? 1 : 0;
		out->v[out->n++] = &out->imagined;
	}
	pol_alias_clear(&a);
	if (out->n == 0) {
		diag_error(&r->diags, &at->loc, "ssh test: \"%s\" names no device", name);
		r->failures++;
		free(out->v);
		return false;
	}
	return true;
}

static void devices_free(struct devices *d)
{
	free(d->v);
	free(d->tag);
}

static const char *const action_names[] = { "denied", "accepted", "checked" };

/* Every login of list L (expecting WANT), from every source to every
 * destination device. */
static void check_logins(struct sshrun *r, const struct hj_value *t, const struct devices *src,
			 const struct devices *dst, const struct hj_value *l, enum pol_ssh_action want)
{
	for (size_t i = 0; l && i < l->u.arr.n; i++) {
		const struct hj_value *login = l->u.arr.items[i];
		for (size_t s = 0; s < src->n; s++)
			for (size_t d = 0; d < dst->n; d++) {
				enum pol_ssh_action got = pol_ssh_decide(r->p, r->inv, src->v[s], dst->v[d], login->u.str.s);
				if (got == want)
					continue;
				diag_error(&r->diags, &login->loc, "ssh test failed: %s -> %s as \"%s\" should be %s, but is %s",
					   hj_get(t, "src")->u.str.s, dst->v[d]->name, login->u.str.s, action_names[want],
					   action_names[got]);
				r->failures++;
				s = src->n;
				break;
			}
	}
}

static void run_one(struct sshrun *r, const struct hj_value *t)
{
	struct devices src;
	const struct hj_value *dsts = hj_get(t, "dst"), *srcv = hj_get(t, "src");
	if (!name_devices(r, srcv->u.str.s, srcv, POL_TEST_SRC, &src))
		return;
	for (size_t i = 0; i < dsts->u.arr.n; i++) {
		struct devices dst;
		const struct hj_value *it = dsts->u.arr.items[i];
		if (!name_devices(r, it->u.str.s, it, POL_DST, &dst))
			continue;
		check_logins(r, t, &src, &dst, hj_get(t, "accept"), SSH_ACCEPT);
		check_logins(r, t, &src, &dst, hj_get(t, "check"), SSH_CHECK);
		check_logins(r, t, &src, &dst, hj_get(t, "deny"), SSH_DENY);
		devices_free(&dst);
	}
	devices_free(&src);
}

int pol_ssh_tests_run(const struct pol_policy *p, const struct inv *inv, FILE *out)
{
	struct sshrun r = { .p = p, .inv = inv, .diags = { .max_errors = 1000 } };
	for (size_t i = 0; p->ssh_tests && i < p->ssh_tests->u.arr.n; i++)
		run_one(&r, p->ssh_tests->u.arr.items[i]);
	diag_print(out, &r.diags);
	diag_list_free(&r.diags);
	return r.failures;
}
