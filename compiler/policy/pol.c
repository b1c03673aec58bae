/* pol: read a Tailscale policy tree into the typed model, checking names. */
#include "pol.h"
#include "inv.h"
#include "polkey.h"
#include "polname.h"
#include "polssh.h"
#include "role.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The location of byte P of string AT's text: inside the quotes when the
 * source spells the string without escapes up to P, else the string itself. */
static struct diag_loc loc_within(const struct hj_value *at, const char *p)
{
	struct diag_loc loc = at->loc;
	if (at->kind != HJ_STRING || !p || p < at->u.str.s || p > at->u.str.s + at->u.str.len || !loc.src ||
	    loc.line == 0)
		return loc;
	size_t off = (size_t)(p - at->u.str.s);
	const char *text = loc.src->text, *end = text + loc.src->len, *line = text;
	for (unsigned n = 1; n < loc.line && line; n++) {
		line = memchr(line, '\n', (size_t)(end - line));
		if (line)
			line++;
	}
	if (!line || (size_t)(end - line) < loc.col + off || line[loc.col - 1] != '"' ||
	    memcmp(line + loc.col, at->u.str.s, off) != 0 || memchr(at->u.str.s, '\\', off) ||
	    memchr(line + loc.col, '\n', off))
		return loc;
	loc.col += 1 + (unsigned)off;
	return loc;
}

static void error_vat(struct diag_list *diags, const struct hj_value *at, const char *p, const char *fmt,
		      va_list ap)
{
	char *msg;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	struct diag_loc loc = at ? loc_within(at, p) : (struct diag_loc){ 0 };
	diag_error(diags, at ? &loc : NULL, "%s", msg);
	free(msg);
}

void pol_error_at(struct diag_list *diags, const struct hj_value *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vat(diags, at, NULL, fmt, ap);
	va_end(ap);
}

bool pol_want(const struct hj_value *v, enum hj_kind kind, const char *what, struct diag_list *diags)
{
	if (v->kind == kind)
		return true;
	pol_error_at(diags, v, "%s must be %s, not %s", what, kind == HJ_OBJECT ? "an object" : "an array",
		     hj_kind_name(v->kind));
	return false;
}

/* The same, pointing at byte P inside string AT. */
static void __attribute__((format(printf, 4, 5)))
error_in(struct diag_list *diags, const struct hj_value *at, const char *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vat(diags, at, p, fmt, ap);
	va_end(ap);
}

/* ---- protocols and ports ---- */

static const struct {
	const char *name;
	uint8_t proto;
} proto_names[] = {
	{ "icmp", 1 }, { "igmp", 2 }, { "ipv4", 4 }, { "ip-in-ip", 4 }, { "tcp", 6 },
	{ "egp", 8 }, { "igp", 9 }, { "udp", 17 }, { "gre", 47 }, { "esp", 50 },
	{ "ah", 51 }, { "ipv6-icmp", 58 }, { "icmpv6", 58 }, { "dccp", 33 }, { "sctp", 132 },
};

int pol_proto_parse(const char *text)
{
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (strcmp(text, proto_names[i].name) == 0)
			return proto_names[i].proto;
	if (!*text || strlen(text) > 3)
		return -1;
	int v = 0;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v <= 255 ? v : -1;
}

/* A port number 1-65535 from [S, E). */
static bool port_num(const char *s, const char *e, unsigned *out)
{
	if (s == e || e - s > 5)
		return false;
	unsigned v = 0;
	for (const char *p = s; p < e; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned)(*p - '0');
	}
	*out = v;
	return true;
}

bool pol_ports_parse(const char *text, const struct hj_value *at, struct pol_ports **out,
		     size_t *n, struct diag_list *diags)
{
	*out = NULL;
	*n = 0;
	if (strcmp(text, "*") == 0) {
		*out = malloc(sizeof(**out));
		if (!*out)
			return false;
		(*out)[0] = (struct pol_ports){ 0, 65535 };
		*n = 1;
		return true;
	}
	size_t cap = 1;
	for (const char *p = text; *p; p++)
		cap += *p == ',';
	*out = calloc(cap, sizeof(**out));
	if (!*out)
		return false;
	const char *s = text;
	for (;;) {
		const char *e = strchr(s, ',');
		if (!e)
			e = s + strlen(s);
		const char *dash = memchr(s, '-', (size_t)(e - s));
		unsigned lo, hi;
		if (!port_num(s, dash ? dash : e, &lo) || (dash && !port_num(dash + 1, e, &hi))) {
			error_in(diags, at, s, "bad port \"%.*s\": a port is a number 1-65535, "
				 "a range N-M, a list N,M or *", (int)(e - s), s);
			goto fail;
		}
		if (!dash)
			hi = lo;
		if (lo == 0 || hi > 65535 || lo > 65535) {
			error_in(diags, at, s, "port %u out of range: ports are 1-65535 (use * for every port)",
				 lo == 0 ? 0 : (lo > 65535 ? lo : hi));
			goto fail;
		}
		if (lo > hi) {
			error_in(diags, at, s, "port range %u-%u is backwards", lo, hi);
			goto fail;
		}
		(*out)[(*n)++] = (struct pol_ports){ (uint16_t)lo, (uint16_t)hi };
		if (!*e)
			break;
		s = e + 1;
	}
	return true;
fail:
	free(*out);
	*out = NULL;
	*n = 0;
	return false;
}

bool pol_split_dst(const char *text, char **alias, const char **ports)
{
	const char *colon;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return false;
		*alias = strndup(text + 1, (size_t)(close - text - 1));
		*ports = close + 2;
		return *alias != NULL;
	}
	colon = strrchr(text, ':');
	if (!colon)
		return false;
	*alias = strndup(text, (size_t)(colon - text));
	*ports = colon + 1;
	return *alias != NULL;
}

/* ---- lookups ---- */

static const struct pol_named *find_named(const struct pol_named *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

void pol_alias_clear(struct pol_alias *a)
{
	free(a->name);
	a->name = NULL;
}

static bool looks_like_address(const char *s)
{
	return strspn(s, "0123456789abcdefABCDEF.:/-") == strlen(s) && (strchr(s, '.') || strchr(s, ':'));
}

static const char *side_name(enum pol_side side)
{
	switch (side) {
	case POL_SRC: return "a source";
	case POL_DST: return "a destination";
	case POL_OWNER: return "an owner or approver";
	case POL_TEST_SRC: return "a test source";
	default: return "a test destination";
	}
}

/* ---- aliases: one parser per form ---- */

/* What an alias parser is given. */
struct alias_in {
	const struct pol_policy *p;
	const char *text;
	const struct hj_value *at;
	enum pol_side side;
	struct diag_list *diags;
};

static bool side_is_dst(enum pol_side side)
{
	return side == POL_DST || side == POL_TEST_DST;
}

static bool parse_any(const struct alias_in *in, struct pol_alias *out)
{
	out->kind = PA_ANY;
	if (in->side == POL_OWNER || in->side == POL_TEST_SRC || in->side == POL_TEST_DST) {
		pol_error_at(in->diags, in->at, "\"*\" cannot be %s", side_name(in->side));
		return false;
	}
	return true;
}

/* Where an autogroup may appear. */
enum autogroup_sides { ANY_SIDE, DST_ONLY, SRC_ONLY, SOURCES };

static const struct {
	const char *name;   /* after "autogroup:" */
	enum pol_alias_kind kind;
	enum autogroup_sides sides;
} autogroups[] = {
	{ "member", PA_MEMBER, ANY_SIDE },
	{ "members", PA_MEMBER, ANY_SIDE },   /* the legacy spelling */
	{ "shared", PA_SHARED, SOURCES },
	{ "tagged", PA_TAGGED, ANY_SIDE },
	{ "self", PA_SELF, DST_ONLY },
	{ "internet", PA_INTERNET, DST_ONLY },
	{ "danger-all", PA_DANGER_ALL, SRC_ONLY },
};

static bool parse_autogroup(const struct alias_in *in, struct pol_alias *out)
{
	const char *g = in->text + strlen("autogroup:");
	int role = role_of_autogroup(g);
	if (role >= 0) {
		out->kind = PA_ROLE;
		out->role = (uint8_t)role;
		return true;
	}
	size_t i = 0;
	while (i < sizeof(autogroups) / sizeof(autogroups[0]) && strcmp(g, autogroups[i].name) != 0)
		i++;
	if (i == sizeof(autogroups) / sizeof(autogroups[0])) {
		pol_error_at(in->diags, in->at, "unknown autogroup \"%s\" (known: autogroup:member, "
			     "autogroup:tagged, autogroup:self, autogroup:internet, autogroup:danger-all, "
			     "autogroup:shared, and the roles autogroup:owner, admin, it-admin, network-admin, "
			     "billing-admin, auditor)", in->text);
		return false;
	}
	out->kind = autogroups[i].kind;
	if (autogroups[i].sides == DST_ONLY && !side_is_dst(in->side)) {
		pol_error_at(in->diags, in->at, "%s cannot be %s: it is only valid as a destination", in->text,
			     side_name(in->side));
		return false;
	}
	if (autogroups[i].sides == SRC_ONLY && in->side != POL_SRC) {
		pol_error_at(in->diags, in->at, "%s cannot be %s: it is only valid as a source", in->text,
			     side_name(in->side));
		return false;
	}
	if (autogroups[i].sides == SOURCES && in->side != POL_SRC && in->side != POL_TEST_SRC) {
		pol_error_at(in->diags, in->at, "%s cannot be %s: it is only valid as a source", in->text,
			     side_name(in->side));
		return false;
	}
	if (autogroups[i].sides == DST_ONLY && in->side == POL_TEST_DST) {
		pol_error_at(in->diags, in->at, "%s cannot be a test destination: tests name hosts", in->text);
		return false;
	}
	return true;
}

/* Is the text one of the N names of V (a SECTION of the policy)?  Else an
 * error calling it an unknown WHAT. */
static bool defined_in(const struct alias_in *in, const struct pol_named *v, size_t n, const char *what,
		       const char *section)
{
	if (find_named(v, n, in->text))
		return true;
	pol_error_at(in->diags, in->at, "unknown %s \"%s\": not defined in \"%s\"", what, in->text, section);
	return false;
}

/* "group:NAME@DOMAIN": its members come from the inventory (users'
 * "groups"), not from the policy. */
static bool parse_synced_group(const struct alias_in *in, struct pol_alias *out)
{
	const char *name = in->text + strlen("group:"), *at = strchr(name, '@');
	out->kind = PA_SYNCED_GROUP;
	if (at == name || !at[1] || strchr(at + 1, '@')) {
		pol_error_at(in->diags, in->at, "bad synced group \"%s\": write group:NAME@DOMAIN", in->text);
		return false;
	}
	return true;
}

static bool parse_group(const struct alias_in *in, struct pol_alias *out)
{
	if (strchr(in->text, '@'))
		return parse_synced_group(in, out);
	out->kind = PA_GROUP;
	return defined_in(in, in->p->groups, in->p->ngroups, "group", "groups");
}

static bool parse_tag(const struct alias_in *in, struct pol_alias *out)
{
	out->kind = PA_TAG;
	if (!in->text[strlen("tag:")]) {
		pol_error_at(in->diags, in->at, "empty tag name in \"%s\"", in->text);
		return false;
	}
	if (!find_named(in->p->tag_owners, in->p->ntag_owners, in->text)) {
		pol_error_at(in->diags, in->at, "tag \"%s\" has no owner: define it in \"tagOwners\"", in->text);
		return false;
	}
	return true;
}

/* "svc:NAME": a destination; the inventory gives its addresses. */
static bool parse_service(const struct alias_in *in, struct pol_alias *out)
{
	out->kind = PA_SERVICE;
	if (!inv_service_name_valid(in->text)) {
		pol_error_at(in->diags, in->at, "bad service name \"%s\": write svc:NAME (lowercase letters, "
			     "digits and '-')", in->text);
		return false;
	}
	if (!side_is_dst(in->side)) {
		pol_error_at(in->diags, in->at, "%s cannot be %s: a service is only valid as a destination", in->text,
			     side_name(in->side));
		return false;
	}
	return true;
}

static bool parse_ipset(const struct alias_in *in, struct pol_alias *out)
{
	out->kind = PA_IPSET;
	return defined_in(in, in->p->ipsets, in->p->nipsets, "ipset", "ipsets");
}

/* "user:login@domain", "login@domain", "login@", "user:*@domain".  The
 * name kept is the user ("login@domain"), or "@domain" for a glob. */
static bool parse_user(const struct alias_in *in, struct pol_alias *out)
{
	const char *u = strncmp(in->text, "user:", 5) == 0 ? in->text + 5 : in->text;
	out->kind = strncmp(u, "*@", 2) == 0 ? PA_USER_GLOB : PA_USER;
	if (!strchr(u, '@') || u[0] == '@') {
		pol_error_at(in->diags, in->at, "bad user \"%s\": users are written as login@domain", in->text);
		return false;
	}
	free(out->name);
	out->name = strdup(out->kind == PA_USER_GLOB ? u + 1 : u);
	return out->name != NULL;
}

static bool parse_host(const struct alias_in *in, struct pol_alias *out)
{
	const struct pol_named *h = find_named(in->p->hosts, in->p->nhosts, in->text);
	out->kind = PA_HOST;
	out->family = h->family;
	out->lo = h->lo;
	out->hi = h->hi;
	return true;
}

static bool parse_addr(const struct alias_in *in, struct pol_alias *out)
{
	enum addr_family fam;
	out->kind = PA_ADDR;
	if (!addr_range_parse(in->text, false, &fam, &out->lo, &out->hi)) {
		addr_u128 lo, hi;
		if (addr_range_parse(in->text, true, &fam, &lo, &hi))
			pol_error_at(in->diags, in->at, "bad prefix \"%s\": host bits are set", in->text);
		else
			pol_error_at(in->diags, in->at, "bad address \"%s\": not an IP address, prefix or a-b range",
				     in->text);
		return false;
	}
	out->family = (uint8_t)fam;
	if (in->side == POL_DST && out->lo == 0 && out->hi == addr_family_max(fam) && strchr(in->text, '/')) {
		pol_error_at(in->diags, in->at, "destination \"%s\" allows every address: use \"*\" or "
			     "\"autogroup:internet\"", in->text);
		return false;
	}
	return true;
}

static bool is_star(const struct alias_in *in)
{
	return strcmp(in->text, "*") == 0;
}

static bool has_at(const struct alias_in *in)
{
	return strchr(in->text, '@') != NULL;
}

static bool is_host(const struct alias_in *in)
{
	return find_named(in->p->hosts, in->p->nhosts, in->text) != NULL;
}

static bool is_address(const struct alias_in *in)
{
	return looks_like_address(in->text);
}

/* The forms of an alias, tried in order: the first whose PREFIX starts the
 * text and whose CLAIMS (if any) accepts it parses it.  Prefixed forms come
 * first, so "group:x@y" is a group; then users by their '@', hosts, and
 * addresses, so a host named like an address is the host. */
static const struct {
	const char *prefix;
	bool (*claims)(const struct alias_in *in);
	bool (*parse)(const struct alias_in *in, struct pol_alias *out);
} alias_forms[] = {
	{ "*", is_star, parse_any },
	{ "autogroup:", NULL, parse_autogroup },
	{ "group:", NULL, parse_group },
	{ "tag:", NULL, parse_tag },
	{ "ipset:", NULL, parse_ipset },
	{ "svc:", NULL, parse_service },
	{ "user:", NULL, parse_user },
	{ "", has_at, parse_user },
	{ "", is_host, parse_host },
	{ "", is_address, parse_addr },
};

bool pol_alias_parse(const struct pol_policy *p, const char *text, const struct hj_value *at,
		     enum pol_side side, struct pol_alias *out, struct diag_list *diags)
{
	const struct alias_in in = { .p = p, .text = text, .at = at, .side = side, .diags = diags };
	memset(out, 0, sizeof(*out));
	out->at = at;
	if (at && !polname_check(at, diags))
		return false;
	out->name = strdup(text);
	if (!out->name)
		return false;
	for (size_t i = 0; i < sizeof(alias_forms) / sizeof(alias_forms[0]); i++) {
		if (strncmp(text, alias_forms[i].prefix, strlen(alias_forms[i].prefix)) != 0 ||
		    (alias_forms[i].claims && !alias_forms[i].claims(&in)))
			continue;
		if (alias_forms[i].parse(&in, out))
			return true;
		pol_alias_clear(out);
		return false;
	}
	pol_error_at(diags, at, "unknown name \"%s\": not a host from \"hosts\", a user, group:, tag:, "
		     "autogroup:, ipset: or an address", text);
	pol_alias_clear(out);
	return false;
}

/* ---- loading ---- */

struct loader {
	struct pol_policy *p;
	struct diag_list *diags;
	bool ok;
};

#define LERR(l, at, ...) do { pol_error_at((l)->diags, (at), __VA_ARGS__); (l)->ok = false; } while (0)

static bool want_kind(struct loader *l, const struct hj_value *v, enum hj_kind kind, const char *what)
{
	if (v->kind == kind)
		return true;
	LERR(l, v, "%s must be %s, not %s", what,
	     kind == HJ_OBJECT ? "an object" : kind == HJ_ARRAY ? "an array" : "a string",
	     hj_kind_name(v->kind));
	return false;
}

/* A list of alias strings into a freshly allocated array. */
static void load_aliases(struct loader *l, const struct hj_value *arr, enum pol_side side,
			 const char *what, struct pol_alias **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!want_kind(l, arr, HJ_ARRAY, what))
		return;
	*out = calloc(arr->u.arr.n + 1, sizeof(**out));
	if (!*out) {
		l->ok = false;
		return;
	}
	for (size_t i = 0; i < arr->u.arr.n; i++) {
		const struct hj_value *it = arr->u.arr.items[i];
		if (!want_kind(l, it, HJ_STRING, "every entry"))
			continue;
		if (pol_alias_parse(l->p, it->u.str.s, it, side, &(*out)[*n], l->diags))
			(*n)++;
		else
			l->ok = false;
	}
}

static void load_groups(struct loader *l, const struct hj_value *v)
{
	if (!want_kind(l, v, HJ_OBJECT, "\"groups\""))
		return;
	struct pol_policy *p = l->p;
	p->groups = calloc(v->u.obj.n + 1, sizeof(*p->groups));
	/* Names first, so that a group naming another is reported as such. */
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		if (strncmp(m->key->u.str.s, "group:", 6) != 0 || !m->key->u.str.s[6]) {
			LERR(l, m->key, "group name \"%s\" must start with \"group:\"", m->key->u.str.s);
			continue;
		}
		if (strchr(m->key->u.str.s, '@')) {
			LERR(l, m->key, "group \"%s\" is a synced group: its members come from the identity "
			     "provider (the inventory's users), not from \"groups\"", m->key->u.str.s);
			continue;
		}
		struct pol_named *g = &p->groups[p->ngroups++];
		g->name = strdup(m->key->u.str.s);
		g->at = m->key;
	}
	for (size_t i = 0, gi = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		if (gi >= p->ngroups || p->groups[gi].at != m->key)
			continue;
		struct pol_named *g = &p->groups[gi++];
		if (!want_kind(l, m->value, HJ_ARRAY, "a group"))
			continue;
		g->items = calloc(m->value->u.arr.n + 1, sizeof(*g->items));
		for (size_t j = 0; j < m->value->u.arr.n; j++) {
			const struct hj_value *it = m->value->u.arr.items[j];
			if (!want_kind(l, it, HJ_STRING, "a group member"))
				continue;
			struct pol_alias a;
			if (!pol_alias_parse(p, it->u.str.s, it, POL_OWNER, &a, l->diags)) {
				l->ok = false;
				continue;
			}
			if (a.kind != PA_USER) {
				LERR(l, it, "group %s: member \"%s\" is not a user (groups hold users only)",
				     g->name, it->u.str.s);
				pol_alias_clear(&a);
				continue;
			}
			g->items[g->nitems++] = a;
		}
	}
}

static void load_hosts(struct loader *l, const struct hj_value *v)
{
	if (!want_kind(l, v, HJ_OBJECT, "\"hosts\""))
		return;
	struct pol_policy *p = l->p;
	p->hosts = calloc(v->u.obj.n + 1, sizeof(*p->hosts));
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		const char *name = m->key->u.str.s;
		if (!*name || strchr(name, ':') || strchr(name, '@') || strcmp(name, "*") == 0) {
			LERR(l, m->key, "host name \"%s\" is not a plain name (no ':', '@' or '*')", name);
			continue;
		}
		if (!want_kind(l, m->value, HJ_STRING, "a host"))
			continue;
		if (!polname_check(m->value, l->diags)) {
			l->ok = false;
			continue;
		}
		struct pol_named *h = &p->hosts[p->nhosts];
		enum addr_family fam;
		if (!addr_range_parse(m->value->u.str.s, false, &fam, &h->lo, &h->hi) ||
		    strchr(m->value->u.str.s, '-')) {
			LERR(l, m->value, "host %s: \"%s\" is not an IP address or prefix (host bits zero)",
			     name, m->value->u.str.s);
			continue;
		}
		h->family = (uint8_t)fam;
		h->name = strdup(name);
		h->at = m->key;
		p->nhosts++;
	}
}

static void load_tag_owners(struct loader *l, const struct hj_value *v)
{
	if (!want_kind(l, v, HJ_OBJECT, "\"tagOwners\""))
		return;
	struct pol_policy *p = l->p;
	p->tag_owners = calloc(v->u.obj.n + 1, sizeof(*p->tag_owners));
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		if (strncmp(m->key->u.str.s, "tag:", 4) != 0 || !m->key->u.str.s[4]) {
			LERR(l, m->key, "tag name \"%s\" must start with \"tag:\"", m->key->u.str.s);
			continue;
		}
		struct pol_named *t = &p->tag_owners[p->ntag_owners++];
		t->name = strdup(m->key->u.str.s);
		t->at = m->key;
	}
	for (size_t i = 0, ti = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		if (ti >= p->ntag_owners || p->tag_owners[ti].at != m->key)
			continue;
		struct pol_named *t = &p->tag_owners[ti++];
		load_aliases(l, m->value, POL_OWNER, "a tag's owners", &t->items, &t->nitems);
	}
}

static void load_ipsets(struct loader *l, const struct hj_value *v)
{
	if (!pol_ipsets_load(l->p, v, l->diags))
		l->ok = false;
}

/* autoApprovers.services: {"svc:NAME": [OWNERS]}.  Checked, and kept for
 * nothing: which nodes host a service is the inventory's to say. */
static void load_service_approvers(struct loader *l, const struct hj_value *v)
{
	if (!want_kind(l, v, HJ_OBJECT, "\"services\""))
		return;
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		if (!inv_service_name_valid(m->key->u.str.s))
			LERR(l, m->key, "bad service name \"%s\": write svc:NAME (lowercase letters, digits and '-')",
			     m->key->u.str.s);
		struct pol_alias *owners;
		size_t n;
		load_aliases(l, m->value, POL_OWNER, "a service's approvers", &owners, &n);
		for (size_t j = 0; j < n; j++)
			pol_alias_clear(&owners[j]);
		free(owners);
	}
}

static void load_auto_approvers(struct loader *l, const struct hj_value *v)
{
	if (!want_kind(l, v, HJ_OBJECT, "\"autoApprovers\""))
		return;
	struct pol_policy *p = l->p;
	static const char *const fields[] = { "routes", "exitNode", "services" };
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		const char *key = polkey_field(m->key, fields, sizeof(fields) / sizeof(fields[0]));
		if (strcmp(key, "exitNode") == 0) {
			p->exit_approvers.at = m->key;
			load_aliases(l, m->value, POL_OWNER, "\"exitNode\"", &p->exit_approvers.items,
				     &p->exit_approvers.nitems);
		} else if (strcmp(key, "routes") == 0) {
			if (!want_kind(l, m->value, HJ_OBJECT, "\"routes\""))
				continue;
			const struct hj_value *r = m->value;
			p->route_approvers = calloc(r->u.obj.n + 1, sizeof(*p->route_approvers));
			for (size_t j = 0; j < r->u.obj.n; j++) {
				const struct hj_member *rm = &r->u.obj.members[j];
				struct pol_named *a = &p->route_approvers[p->nroute_approvers];
				enum addr_family fam;
				unsigned len;
				if (!addr_range_parse(rm->key->u.str.s, false, &fam, &a->lo, &a->hi) ||
				    !addr_range_is_prefix(fam, a->lo, a->hi, &len) || !strchr(rm->key->u.str.s, '/')) {
					LERR(l, rm->key, "route \"%s\" is not a prefix (address/length, host bits zero)",
					     rm->key->u.str.s);
					continue;
				}
				a->family = (uint8_t)fam;
				a->name = strdup(rm->key->u.str.s);
				a->at = rm->key;
				p->nroute_approvers++;
				load_aliases(l, rm->value, POL_OWNER, "a route's approvers", &a->items, &a->nitems);
			}
		} else if (strcmp(key, "services") == 0)
			load_service_approvers(l, m->value);
		else
			LERR(l, m->key, "unknown key \"%s\" in \"autoApprovers\" (known: routes, exitNode, services)",
			     key);
	}
}

static void load_acl_proto(struct loader *l, const struct hj_value *v, struct pol_ipspec *spec)
{
	if (!want_kind(l, v, HJ_STRING, "\"proto\""))
		return;
	if (!polname_check(v, l->diags)) {
		l->ok = false;
		return;
	}
	if (!*v->u.str.s)
		return;
	int proto = pol_proto_parse(v->u.str.s);
	if (proto < 0) {
		LERR(l, v, "unknown protocol \"%s\" (a name such as tcp, udp, icmp, or a number 0-255)",
		     v->u.str.s);
		return;
	}
	spec->protos[0] = (uint8_t)proto;
	spec->nprotos = 1;
}

static bool all_ports(const struct pol_ipspec *s)
{
	return s->nports == 1 && s->ports[0].lo == 0 && s->ports[0].hi == 65535;
}

/* "src" or its legacy name "users" (NAME, LEGACY); likewise "dst" and
 * "ports".  Both in one entry is an error. */
static void acl_field(struct loader *l, const struct hj_member *m, const struct hj_value **field,
		      const char *name, const char *legacy)
{
	if (*field)
		LERR(l, m->key, "\"%s\" is the legacy name of \"%s\": give one of them", legacy, name);
	else
		*field = m->value;
}

/* A rule's "srcPosture": the postures one of which its sources satisfy. */
static void load_src_posture(struct loader *l, const struct hj_value *v, struct pol_rule *r)
{
	if (!pol_posture_refs(l->p, v, &r->postures, &r->npostures, l->diags))
		l->ok = false;
}

/* A rule without postures of its own takes "defaultSrcPosture" (a copy,
 * so that every rule owns its list). */
static void default_posture(struct loader *l, struct pol_rule *r)
{
	const struct pol_policy *p = l->p;
	if (r->npostures || !p->ndefault_postures)
		return;
	free(r->postures);
	r->postures = calloc(p->ndefault_postures, sizeof(*r->postures));
	if (!r->postures) {
		l->ok = false;
		return;
	}
	memcpy(r->postures, p->default_postures, p->ndefault_postures * sizeof(*r->postures));
	r->npostures = p->ndefault_postures;
}

static void load_acl(struct loader *l, const struct hj_value *v, struct pol_rule *r)
{
	r->kind = POL_ACL;
	r->at = v;
	if (!want_kind(l, v, HJ_OBJECT, "an ACL entry"))
		return;
	static const char *const fields[] = { "action", "src", "dst", "proto", "users", "ports", "srcPosture" };
	const struct hj_value *action = NULL, *src = NULL, *dst = NULL, *proto = NULL;
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		const char *k = polkey_field(m->key, fields, sizeof(fields) / sizeof(fields[0]));
		if (strcmp(k, "action") == 0)
			action = m->value;
		else if (strcmp(k, "src") == 0 || strcmp(k, "users") == 0)
			acl_field(l, m, &src, "src", "users");
		else if (strcmp(k, "dst") == 0 || strcmp(k, "ports") == 0)
			acl_field(l, m, &dst, "dst", "ports");
		else if (strcmp(k, "proto") == 0)
			proto = m->value;
		else if (strcmp(k, "srcPosture") == 0)
			load_src_posture(l, m->value, r);
		else
			LERR(l, m->key, "unknown key \"%s\" in an ACL entry (known: action, src, dst, proto, "
			     "srcPosture, and the legacy users, ports)", k);
	}
	if (!action)
		LERR(l, v, "ACL entry without \"action\"");
	else if (want_kind(l, action, HJ_STRING, "\"action\"") && strcmp(action->u.str.s, "accept") != 0)
		LERR(l, action, "unknown action \"%s\": only \"accept\" exists (everything else is denied)",
		     action->u.str.s);
	if (!src || !dst) {
		LERR(l, v, "ACL entry without \"%s\"", !src ? "src" : "dst");
		return;
	}
	struct pol_ipspec base = { .at = proto };
	if (proto)
		load_acl_proto(l, proto, &base);
	load_aliases(l, src, POL_SRC, "\"src\"", &r->src, &r->nsrc);
	if (!want_kind(l, dst, HJ_ARRAY, "\"dst\""))
		return;
	r->dst = calloc(dst->u.arr.n + 1, sizeof(*r->dst));
	for (size_t i = 0; i < dst->u.arr.n; i++) {
		const struct hj_value *it = dst->u.arr.items[i];
		if (!want_kind(l, it, HJ_STRING, "every destination"))
			continue;
		char *alias;
		const char *ports;
		if (!pol_split_dst(it->u.str.s, &alias, &ports)) {
			LERR(l, it, "destination \"%s\" has no ports: write HOST:PORTS, e.g. \"%s:*\"",
			     it->u.str.s, it->u.str.s);
			continue;
		}
		struct pol_dst *d = &r->dst[r->ndst];
		struct pol_ipspec spec = base;
		/* Ports first: "autogroup:self" without ports is a bad port "self". */
		bool okp = pol_ports_parse(ports, it, &spec.ports, &spec.nports, l->diags);
		bool okd = okp && pol_alias_parse(l->p, alias, it, POL_DST, &d->alias, l->diags);
		free(alias);
		if (!okd) {
			free(spec.ports);
			l->ok = false;
			continue;
		}
		if (spec.nprotos == 1 && !proto_has_ports(spec.protos[0]) && !all_ports(&spec)) {
			LERR(l, it, "protocol \"%s\" has no ports: write \"%s:*\"", proto->u.str.s, d->alias.name);
			free(spec.ports);
			pol_alias_clear(&d->alias);
			continue;
		}
		d->specs = malloc(sizeof(*d->specs));
		*d->specs = spec;
		d->nspecs = 1;
		r->ndst++;
	}
}

/* One entry of a grant's "ip": "*", "PORTS", "PROTO:PORTS". */
static bool load_ipspec(struct loader *l, const struct hj_value *it, struct pol_ipspec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->at = it;
	if (!polname_check(it, l->diags)) {
		l->ok = false;
		return false;
	}
	const char *s = it->u.str.s, *colon = strchr(s, ':');
	const char *ports = s;
	if (colon) {
		char *name = strndup(s, (size_t)(colon - s));
		int proto = pol_proto_parse(name);
		free(name);
		if (proto < 0) {
			LERR(l, it, "unknown protocol in \"%s\" (a name such as tcp, udp, icmp, or a number 0-255)", s);
			return false;
		}
		spec->protos[0] = (uint8_t)proto;
		spec->nprotos = 1;
		ports = colon + 1;
	}
	if (!pol_ports_parse(ports, it, &spec->ports, &spec->nports, l->diags)) {
		l->ok = false;
		return false;
	}
	if (spec->nprotos == 1 && !proto_has_ports(spec->protos[0]) && !all_ports(spec)) {
		LERR(l, it, "protocol %u has no ports: write \"%.*s:*\"", spec->protos[0], (int)(colon - s), s);
		free(spec->ports);
		return false;
	}
	return true;
}

static const char *const ts_caps[] = {
	"tailscale.com/cap/drive", "tailscale.com/cap/kubernetes", "tailscale.com/cap/relay",
	"tailscale.com/cap/webui", "tailscale.com/cap/tsidp", "tailscale.com/cap/drive-sharer",
	"tailscale.com/cap/golink", "tailscale.com/cap/tailsql",
};

static void load_app(struct loader *l, const struct hj_value *app, struct pol_rule *r)
{
	if (!want_kind(l, app, HJ_OBJECT, "\"app\""))
		return;
	r->has_app = app->u.obj.n > 0;
	for (size_t i = 0; i < app->u.obj.n; i++) {
		const struct hj_member *m = &app->u.obj.members[i];
		const char *cap = m->key->u.str.s, *slash = strchr(cap, '/');
		if (!slash || slash == cap || !slash[1] || !strchr(cap, '.') || strchr(cap, '.') > slash) {
			LERR(l, m->key, "capability name \"%s\" must be DOMAIN/PATH (e.g. example.com/cap/x)", cap);
			continue;
		}
		if (strncmp(cap, "tailscale.com/", 14) == 0) {
			bool known = false;
			for (size_t j = 0; j < sizeof(ts_caps) / sizeof(ts_caps[0]); j++)
				known |= strcmp(cap, ts_caps[j]) == 0;
			if (!known)
				LERR(l, m->key, "capability \"%s\" is in the tailscale.com domain, which is reserved",
				     cap);
		}
		if (m->value->kind != HJ_ARRAY)
			LERR(l, m->value, "capability \"%s\" must be an array of objects", cap);
	}
}

static void load_grant(struct loader *l, const struct hj_value *v, struct pol_rule *r)
{
	r->kind = POL_GRANT;
	r->at = v;
	if (!want_kind(l, v, HJ_OBJECT, "a grant"))
		return;
	const struct hj_value *src = NULL, *dst = NULL, *ip = NULL, *via = NULL, *app = NULL;
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		const char *k = m->key->u.str.s;
		if (strcmp(k, "src") == 0)
			src = m->value;
		else if (strcmp(k, "dst") == 0)
			dst = m->value;
		else if (strcmp(k, "ip") == 0)
			ip = m->value;
		else if (strcmp(k, "via") == 0)
			via = m->value;
		else if (strcmp(k, "app") == 0)
			app = m->value;
		else if (strcmp(k, "srcPosture") == 0)
			load_src_posture(l, m->value, r);
		else
			LERR(l, m->key, "unknown key \"%s\" in a grant (known: src, dst, ip, via, app, srcPosture)", k);
	}
	if (!src || !dst) {
		LERR(l, v, "grant without \"%s\"", !src ? "src" : "dst");
		return;
	}
	if (app)
		load_app(l, app, r);
	if (ip && want_kind(l, ip, HJ_ARRAY, "\"ip\"")) {
		r->specs = calloc(ip->u.arr.n + 1, sizeof(*r->specs));
		for (size_t i = 0; i < ip->u.arr.n; i++) {
			const struct hj_value *it = ip->u.arr.items[i];
			if (want_kind(l, it, HJ_STRING, "every \"ip\" entry") && load_ipspec(l, it, &r->specs[r->nspecs]))
				r->nspecs++;
		}
	}
	if ((!ip || ip->kind != HJ_ARRAY || ip->u.arr.n == 0) && !r->has_app)
		LERR(l, v, "grant with neither \"ip\" nor \"app\": it would allow nothing");
	load_aliases(l, src, POL_SRC, "\"src\"", &r->src, &r->nsrc);
	struct pol_alias *d = NULL;
	size_t nd = 0;
	load_aliases(l, dst, POL_DST, "\"dst\"", &d, &nd);
	r->dst = calloc(nd + 1, sizeof(*r->dst));
	for (size_t i = 0; i < nd; i++) {
		r->dst[i].alias = d[i];
		r->dst[i].specs = r->specs;
		r->dst[i].nspecs = r->nspecs;
		if (d[i].kind == PA_INTERNET && r->has_app)
			LERR(l, d[i].at, "app capabilities cannot be granted on autogroup:internet");
	}
	r->ndst = nd;
	free(d);
	if (via && want_kind(l, via, HJ_ARRAY, "\"via\"")) {
		r->via = calloc(via->u.arr.n + 1, sizeof(*r->via));
		for (size_t i = 0; i < via->u.arr.n; i++) {
			const struct hj_value *it = via->u.arr.items[i];
			if (!want_kind(l, it, HJ_STRING, "every \"via\" entry"))
				continue;
			struct pol_alias a;
			if (strncmp(it->u.str.s, "tag:", 4) != 0) {
				LERR(l, it, "via \"%s\": via names the routers by tag (tag:NAME) only", it->u.str.s);
				continue;
			}
			if (!pol_alias_parse(l->p, it->u.str.s, it, POL_OWNER, &a, l->diags)) {
				l->ok = false;
				continue;
			}
			r->via[r->nvia++] = a.name;
		}
	}
}

/* autogroup:self as a destination: every source must name users. */
static void check_self(struct loader *l, const struct pol_rule *r)
{
	bool self = false;
	for (size_t i = 0; i < r->ndst; i++)
		self |= r->dst[i].alias.kind == PA_SELF;
	if (!self)
		return;
	for (size_t i = 0; i < r->nsrc; i++) {
		enum pol_alias_kind k = r->src[i].kind;
		if (k == PA_USER || k == PA_USER_GLOB || k == PA_GROUP || k == PA_SYNCED_GROUP || k == PA_MEMBER ||
		    k == PA_ROLE ||
		    (k == PA_ANY && r->kind == POL_ACL))
			continue;
		LERR(l, r->src[i].at, "autogroup:self as a destination needs sources that are users, "
		     "groups, roles or autogroup:member%s, not \"%s\"", r->kind == POL_ACL ? " (or *)" : "",
		     r->src[i].name);
	}
}

static const char *const ignored_keys[] = {
	"derpMap", "disableIPv4", "randomizeClientPort",
	"OneCGNATRoute", "attrConfig", "autogroups",
};

static void load_postures(struct loader *l, const struct hj_value *v)
{
	if (!pol_postures_load(l->p, v, l->diags))
		l->ok = false;
}

struct pol_policy *pol_load(const struct hj_value *root, struct diag_list *diags)
{
	struct loader l = { .diags = diags, .ok = true };
	l.p = calloc(1, sizeof(*l.p));
	if (!l.p)
		return NULL;
	struct pol_policy *p = l.p;
	p->root = root;
	if (root->kind != HJ_OBJECT) {
		LERR(&l, root, "a policy must be an object, not %s", hj_kind_name(root->kind));
		goto out;
	}
	/* Names first: a key with a NUL is a different key to the reader but
	 * the same name to every later stage. */
	if (polname_check_keys(root, diags) > 0)
		goto out;
	if (polkey_duplicates(root, diags) > 0)
		l.ok = false;
	/* Definitions first (in dependency order), then what uses them. */
	static const char *const order[] = { "groups", "hosts", "tagOwners", "ipsets", "postures" };
	void (*const loaders[])(struct loader *, const struct hj_value *) = {
		load_groups, load_hosts, load_tag_owners, load_ipsets, load_postures,
	};
	for (size_t k = 0; k < 5; k++) {
		const struct hj_value *v = polkey_get(root, order[k]);
		if (v)
			loaders[k](&l, v);
	}
	const struct hj_value *acls = NULL, *grants = NULL;
	for (size_t i = 0; i < root->u.obj.n; i++) {
		const struct hj_member *m = &root->u.obj.members[i];
		const char *k = polkey_section(m->key) ? polkey_section(m->key) : m->key->u.str.s;
		bool known = !polkey_first(root, i);   /* a repeat, reported */
		for (size_t j = 0; j < 5; j++)
			known |= strcmp(k, order[j]) == 0;
		if (known)
			continue;
		if (strcmp(k, "acls") == 0)
			acls = m->value;
		else if (strcmp(k, "grants") == 0)
			grants = m->value;
		else if (strcmp(k, "autoApprovers") == 0)
			load_auto_approvers(&l, m->value);
		else if (strcmp(k, "ssh") == 0)
			l.ok &= pol_ssh_load(p, m->value, diags);
		else if (strcmp(k, "nodeAttrs") == 0)
			l.ok &= pol_node_attrs_check(p, m->value, diags);
		else if (strcmp(k, "sshTests") == 0) {
			l.ok &= pol_ssh_tests_check(m->value, diags);
			p->ssh_tests = m->value;
		} else if (strcmp(k, "defaultSrcPosture") == 0) {
			if (!pol_posture_refs(p, m->value, &p->default_postures, &p->ndefault_postures, diags))
				l.ok = false;
		}
		else if (strcmp(k, "tests") == 0) {
			if (want_kind(&l, m->value, HJ_ARRAY, "\"tests\""))
				p->tests = m->value;
		} else {
			bool ignored = false;
			for (size_t j = 0; j < sizeof(ignored_keys) / sizeof(ignored_keys[0]); j++)
				ignored |= strcmp(k, ignored_keys[j]) == 0;
			if (ignored)
				diag_warn(diags, &m->key->loc, "\"%s\" ignored: it has no meaning for a packet filter", k);
			else
				LERR(&l, m->key, "unknown key \"%s\" in the policy", k);
		}
	}
	size_t n = 0;
	if (acls && want_kind(&l, acls, HJ_ARRAY, "\"acls\""))
		n += acls->u.arr.n;
	else
		acls = NULL;
	if (grants && want_kind(&l, grants, HJ_ARRAY, "\"grants\""))
		n += grants->u.arr.n;
	else
		grants = NULL;
	p->rules = calloc(n + 1, sizeof(*p->rules));
	if (!p->rules) {
		l.ok = false;
		goto out;
	}
	for (size_t i = 0; acls && i < acls->u.arr.n; i++)
		load_acl(&l, acls->u.arr.items[i], &p->rules[p->nrules++]);
	for (size_t i = 0; grants && i < grants->u.arr.n; i++)
		load_grant(&l, grants->u.arr.items[i], &p->rules[p->nrules++]);
	for (size_t i = 0; i < p->nrules; i++) {
		check_self(&l, &p->rules[i]);
		default_posture(&l, &p->rules[i]);
	}
out:
	if (!l.ok || diag_has_errors(diags)) {
		pol_free(p);
		return NULL;
	}
	return p;
}

static void free_named(struct pol_named *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		for (size_t j = 0; j < v[i].nitems; j++)
			pol_alias_clear(&v[i].items[j]);
		free(v[i].items);
	}
	free(v);
}

void pol_free(struct pol_policy *p)
{
	if (!p)
		return;
	free_named(p->groups, p->ngroups);
	free_named(p->tag_owners, p->ntag_owners);
	for (size_t i = 0; i < p->nipsets; i++)
		addr_set_free(&p->ipsets[i].addrs);
	free_named(p->ipsets, p->nipsets);
	free_named(p->route_approvers, p->nroute_approvers);
	free_named(p->hosts, p->nhosts);
	for (size_t j = 0; j < p->exit_approvers.nitems; j++)
		pol_alias_clear(&p->exit_approvers.items[j]);
	free(p->exit_approvers.items);
	for (size_t i = 0; i < p->nrules; i++) {
		struct pol_rule *r = &p->rules[i];
		for (size_t j = 0; j < r->nsrc; j++)
			pol_alias_clear(&r->src[j]);
		free(r->src);
		for (size_t j = 0; j < r->ndst; j++) {
			pol_alias_clear(&r->dst[j].alias);
			if (r->kind == POL_ACL && r->dst[j].specs) {
				free(r->dst[j].specs->ports);
				free(r->dst[j].specs);
			}
		}
		free(r->dst);
		for (size_t j = 0; j < r->nspecs; j++)
			free(r->specs[j].ports);
		free(r->specs);
		for (size_t j = 0; j < r->nvia; j++)
			free(r->via[j]);
		free(r->via);
		free(r->postures);
	}
	free(p->rules);
	pol_postures_free(p);
	pol_ssh_free(p);
	free(p);
}
