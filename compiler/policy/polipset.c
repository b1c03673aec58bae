/* polipset: a policy's IP sets, resolved to addresses when loaded.  An
 * ipset is a list of operations applied in order: "add TARGET", "remove
 * TARGET", or a bare TARGET (an add; only in a set with no "remove", as
 * Tailscale requires).  A target is an address, prefix or range, a host
 * from "hosts", another ipset (in any order of definition; a cycle is an
 * error) or autogroup:internet: the public address space, here IPv4
 * without the private, shared, loopback, link-local, multicast and
 * reserved ranges, and IPv6's global unicast 2000::/3. */
#include "pol.h"

#include <stdlib.h>
#include <string.h>

enum { UNSEEN, RESOLVING, RESOLVED, BROKEN };

struct ipsets {
	struct pol_policy *p;
	const struct hj_value *def;   /* the "ipsets" object */
	int *state;                   /* per ipset */
	struct diag_list *diags;
};

/* IPv4 ranges that are not the internet, and the internet in IPv6. */
static const char *const v4_private[] = {
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/3",
};

static int add_internet(struct addr_set *out)
{
	enum addr_family f;
	addr_u128 lo, hi;
	int rc = addr_set_add(out, ADDR_V4, 0, addr_family_max(ADDR_V4));
	for (size_t i = 0; rc == 0 && i < sizeof(v4_private) / sizeof(v4_private[0]); i++) {
		addr_range_parse(v4_private[i], false, &f, &lo, &hi);
		rc = addr_set_remove(out, ADDR_V4, lo, hi);
	}
	addr_range_parse("2000::/3", false, &f, &lo, &hi);
	return rc ? rc : addr_set_add(out, ADDR_V6, lo, hi);
}

static int ipset_index(const struct pol_policy *p, const char *name)
{
	for (size_t i = 0; i < p->nipsets; i++)
		if (strcmp(p->ipsets[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool resolve_set(struct ipsets *s, size_t i);

/* TARGET (in entry AT) into OUT. */
static bool target_addrs(struct ipsets *s, size_t set, const char *target, const struct hj_value *at,
			 struct addr_set *out)
{
	const char *name = s->p->ipsets[set].name;
	if (strcmp(target, "autogroup:internet") == 0)
		return add_internet(out) == 0;
	if (strncmp(target, "ipset:", 6) == 0) {
		int j = ipset_index(s->p, target);
		if (j < 0) {
			pol_error_at(s->diags, at, "unknown ipset \"%s\": not defined in \"ipsets\"", target);
			return false;
		}
		if (s->state[j] == RESOLVING) {
			pol_error_at(s->diags, at, "ipset %s: \"%s\" makes a cycle (an ipset cannot contain itself)", name,
				     target);
			return false;
		}
		return resolve_set(s, (size_t)j) && addr_set_add_all(out, &s->p->ipsets[j].addrs) == 0;
	}
	struct pol_alias a;
	/* A prefixed name (tag:, group:, autogroup:...), not an IPv6 address. */
	bool named = strchr(target, ':') && strspn(target, "0123456789abcdefABCDEF.:/-") != strlen(target);
	if (named || strchr(target, '@') || strcmp(target, "*") == 0) {
		pol_error_at(s->diags, at, "ipset %s: \"%s\" is not an address, prefix, range, host, ipset or "
			     "autogroup:internet (users, groups, tags and other autogroups cannot be in an ipset)", name,
			     target);
		return false;
	}
	if (!pol_alias_parse(s->p, target, at, POL_SRC, &a, s->diags))
		return false;
	bool ok = addr_set_add(out, a.family, a.lo, a.hi) == 0;
	pol_alias_clear(&a);
	return ok;
}

/* "add X", "remove X" or "X": the operation (true: remove) and X. */
static const char *operation(const char *entry, bool *remove)
{
	*remove = strncmp(entry, "remove ", 7) == 0;
	if (*remove)
		entry += 7;
	else if (strncmp(entry, "add ", 4) == 0)
		entry += 4;
	return entry + strspn(entry, " ");
}

/* Does the ipset's list hold a "remove"?  Then every entry names its operation. */
static bool has_remove(const struct hj_value *list)
{
	for (size_t j = 0; j < list->u.arr.n; j++)
		if (list->u.arr.items[j]->kind == HJ_STRING && strncmp(list->u.arr.items[j]->u.str.s, "remove ", 7) == 0)
			return true;
	return false;
}

static bool apply_entry(struct ipsets *s, size_t i, const struct hj_value *it, bool removes)
{
	struct pol_named *set = &s->p->ipsets[i];
	bool remove;
	const char *target = operation(it->u.str.s, &remove);
	if (target == it->u.str.s && removes) {
		pol_error_at(s->diags, it, "ipset %s: \"%s\" needs its operation (\"add %s\"): a set with "
			     "\"remove\" names the operation of every entry", set->name, it->u.str.s, it->u.str.s);
		return false;
	}
	struct addr_set t = { 0 };
	bool ok = target_addrs(s, i, target, it, &t);
	for (size_t k = 0; ok && k < t.n; k++)
		ok = (remove ? addr_set_remove(&set->addrs, t.v[k].family, t.v[k].lo, t.v[k].hi)
			     : addr_set_add(&set->addrs, t.v[k].family, t.v[k].lo, t.v[k].hi)) == 0;
	addr_set_free(&t);
	return ok;
}

/* Ipset I's addresses, resolving the ipsets it names first. */
static bool resolve_set(struct ipsets *s, size_t i)
{
	if (s->state[i] != UNSEEN)
		return s->state[i] == RESOLVED;
	struct pol_named *set = &s->p->ipsets[i];
	const struct hj_value *list = hj_get(s->def, set->name);
	s->state[i] = RESOLVING;
	bool ok = true;
	if (list->kind != HJ_ARRAY) {
		pol_error_at(s->diags, list, "an ipset must be an array, not %s", hj_kind_name(list->kind));
		ok = false;
	}
	for (size_t j = 0; list->kind == HJ_ARRAY && j < list->u.arr.n; j++) {
		const struct hj_value *it = list->u.arr.items[j];
		if (it->kind != HJ_STRING) {
			pol_error_at(s->diags, it, "an ipset entry must be a string, not %s", hj_kind_name(it->kind));
			ok = false;
		} else
			ok &= apply_entry(s, i, it, has_remove(list));
	}
	addr_set_merge(&set->addrs);
	s->state[i] = ok ? RESOLVED : BROKEN;
	return ok;
}

bool pol_ipsets_load(struct pol_policy *p, const struct hj_value *v, struct diag_list *diags)
{
	if (!pol_want(v, HJ_OBJECT, "\"ipsets\"", diags))
		return false;
	struct ipsets s = { .p = p, .def = v, .diags = diags };
	p->ipsets = calloc(v->u.obj.n + 1, sizeof(*p->ipsets));
	s.state = calloc(v->u.obj.n + 1, sizeof(*s.state));
	bool ok = p->ipsets && s.state, named = true;
	/* Names first: an ipset may name one defined after it. */
	for (size_t i = 0; ok && i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		if (strncmp(m->key->u.str.s, "ipset:", 6) != 0 || !m->key->u.str.s[6]) {
			pol_error_at(diags, m->key, "ipset name \"%s\" must start with \"ipset:\"", m->key->u.str.s);
			named = false;
			continue;
		}
		struct pol_named *n = &p->ipsets[p->nipsets++];
		n->name = strdup(m->key->u.str.s);
		n->at = m->key;
	}
	for (size_t i = 0; ok && i < p->nipsets; i++)
		named &= resolve_set(&s, i);
	free(s.state);
	return ok && named;
}
