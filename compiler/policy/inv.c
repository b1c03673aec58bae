/* inv: the inventory model, its builders and its lookups (reading JSON is
 * inv_json.c's). */
#include "inv.h"
#include "inv_int.h"
#include "polname.h"
#include "role.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Names added so far (users' or nodes'), for lookups that stay linear in
 * the inventory's size: open addressing of index + 1, 0 free. */
struct names {
	size_t *slot;
	size_t cap, n;
};

struct inv_index {
	struct names users, nodes;
	size_t capusers, capnodes;
};

static size_t name_hash(const char *s)
{
	size_t h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

static const char *user_name_of(const struct inv *inv, size_t i)
{
	return inv->users[i].name;
}

static const char *node_name_of(const struct inv *inv, size_t i)
{
	return inv->nodes[i].name;
}

typedef const char *(*name_of_fn)(const struct inv *, size_t);

static int names_find(const struct names *t, const struct inv *inv, name_of_fn name_of, const char *name)
{
	if (!t->cap)
		return -1;
	for (size_t i = name_hash(name) & (t->cap - 1); t->slot[i]; i = (i + 1) & (t->cap - 1))
		if (strcmp(name_of(inv, t->slot[i] - 1), name) == 0)
			return (int)(t->slot[i] - 1);
	return -1;
}

static void names_put(struct names *t, const char *name, size_t index)
{
	size_t i = name_hash(name) & (t->cap - 1);
	while (t->slot[i])
		i = (i + 1) & (t->cap - 1);
	t->slot[i] = index + 1;
	t->n++;
}

/* Index every name of 0..COUNT-1 afresh, in a table at most half full
 * with one more. */
static int names_rebuild(struct names *t, const struct inv *inv, name_of_fn name_of, size_t count)
{
	size_t cap = 16;
	while (cap < 2 * (count + 1) + 2)
		cap *= 2;
	size_t *slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	free(t->slot);
	*t = (struct names){ slot, cap, 0 };
	for (size_t i = 0; i < count; i++)
		names_put(t, name_of(inv, i), i);
	return 0;
}

/* Room for one more name (COUNT indexed so far). */
static int names_reserve(struct names *t, const struct inv *inv, name_of_fn name_of, size_t count)
{
	return 2 * (t->n + 1) + 2 <= t->cap ? 0 : names_rebuild(t, inv, name_of, count);
}

/* Room for one more element in *V (N used of *CAP). */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? 2 * *cap : 8;
	void *nv = realloc(*v, ncap * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

int inv_strs_push(char ***v, size_t *n, const char *s)
{
	char **grown = realloc(*v, (*n + 1) * sizeof(**v)), *copy;
	if (!grown)
		return -ENOMEM;
	*v = grown;
	if (!(copy = strdup(s)))
		return -ENOMEM;
	(*v)[(*n)++] = copy;
	return 0;
}

bool inv_text_clean(const char *s)
{
	return s && polname_bad_at(s, strlen(s)) == strlen(s);
}

struct inv *inv_new(void)
{
	struct inv *inv = calloc(1, sizeof(*inv));
	if (inv && !(inv->index = calloc(1, sizeof(*inv->index)))) {
		free(inv);
		return NULL;
	}
	return inv;
}

int inv_add_user(struct inv *inv, const char *name, const char *email)
{
	struct inv_index *ix = inv->index;
	if (!inv_text_clean(name) || (email && !inv_text_clean(email)))
		return -EINVAL;
	if (names_find(&ix->users, inv, user_name_of, name) >= 0)
		return -EEXIST;
	if (grow((void **)&inv->users, &ix->capusers, inv->nusers, sizeof(*inv->users)) < 0 ||
	    names_reserve(&ix->users, inv, user_name_of, inv->nusers) < 0)
		return -ENOMEM;
	struct inv_user u = { .name = strdup(name), .email = email ? strdup(email) : NULL, .role = ROLE_MEMBER };
	if (!u.name || (email && !u.email)) {
		free(u.name);
		free(u.email);
		return -ENOMEM;
	}
	inv->users[inv->nusers] = u;
	names_put(&ix->users, name, inv->nusers);
	return (int)inv->nusers++;
}

int inv_user_set_role(struct inv *inv, size_t user, const char *role)
{
	int r = role ? role_parse(role) : -1;
	if (user >= inv->nusers || r < 0)
		return -EINVAL;
	inv->users[user].role = r;
	return 0;
}

int inv_user_add_group(struct inv *inv, size_t user, const char *group)
{
	const char *at = group ? strchr(group, '@') : NULL;
	if (user >= inv->nusers || !at || !inv_text_clean(group) || strncmp(group, "group:", 6) != 0 ||
	    at == group + 6 || !at[1])
		return -EINVAL;
	return inv_strs_push(&inv->users[user].groups, &inv->users[user].ngroups, group);
}

bool inv_user_in_group(const struct inv_user *u, const char *group)
{
	for (size_t i = 0; i < u->ngroups; i++)
		if (strcmp(u->groups[i], group) == 0)
			return true;
	return false;
}

int inv_add_node(struct inv *inv, const char *name, int user)
{
	struct inv_index *ix = inv->index;
	if (!inv_text_clean(name) || user < -1 || user >= (int)inv->nusers)
		return -EINVAL;
	if (names_find(&ix->nodes, inv, node_name_of, name) >= 0)
		return -EEXIST;
	if (grow((void **)&inv->nodes, &ix->capnodes, inv->nnodes, sizeof(*inv->nodes)) < 0 ||
	    names_reserve(&ix->nodes, inv, node_name_of, inv->nnodes) < 0)
		return -ENOMEM;
	struct inv_node *n = &inv->nodes[inv->nnodes];
	*n = (struct inv_node){ .name = strdup(name), .user = user, .added = inv->nnodes };
	if (!n->name)
		return -ENOMEM;
	names_put(&ix->nodes, name, inv->nnodes);
	return (int)inv->nnodes++;
}

static struct inv_node *node_at(struct inv *inv, size_t node)
{
	return node < inv->nnodes ? &inv->nodes[node] : NULL;
}

int inv_node_add_tag(struct inv *inv, size_t node, const char *tag)
{
	struct inv_node *n = node_at(inv, node);
	if (!n || !inv_text_clean(tag) || strncmp(tag, "tag:", 4) != 0 || !tag[4])
		return -EINVAL;
	return inv_strs_push(&n->tags, &n->ntags, tag);
}

int inv_node_set_addr(struct inv *inv, size_t node, enum addr_family family, const char *text)
{
	struct inv_node *n = node_at(inv, node);
	return n ? inv_addr_store(family, text, &n->has_v4, &n->v4, &n->has_v6, &n->v6) : -EINVAL;
}

int inv_addr_store(enum addr_family family, const char *text, bool *has4, addr_u128 *v4, bool *has6,
		   addr_u128 *v6)
{
	enum addr_family got;
	addr_u128 a;
	if (!text || !addr_parse(text, &got, &a) || got != family)
		return -EINVAL;
	*(family == ADDR_V4 ? v4 : v6) = a;
	*(family == ADDR_V4 ? has4 : has6) = true;
	return 0;
}

int inv_node_add_route(struct inv *inv, size_t node, enum inv_routes which, const char *prefix)
{
	struct inv_node *n = node_at(inv, node);
	struct inv_prefix p = { 0 };
	enum addr_family fam;
	unsigned len;
	if (!n || !prefix || !strchr(prefix, '/') || !addr_range_parse(prefix, false, &fam, &p.lo, &p.hi) ||
	    !addr_range_is_prefix(fam, p.lo, p.hi, &len))
		return -EINVAL;
	p.family = (uint8_t)fam;
	struct inv_prefix **v = which == INV_ADVERTISED ? &n->advertised : &n->approved;
	size_t *nv = which == INV_ADVERTISED ? &n->nadvertised : &n->napproved;
	struct inv_prefix *grown = realloc(*v, (*nv + 1) * sizeof(**v));
	if (!grown)
		return -ENOMEM;
	*v = grown;
	if (!(p.text = strdup(prefix)))
		return -ENOMEM;
	(*v)[(*nv)++] = p;
	return 0;
}

int inv_node_set_route_primary(struct inv *inv, size_t node, const char *prefix)
{
	struct inv_node *n = node_at(inv, node);
	for (size_t k = 0; n && k < n->napproved; k++)
		if (strcmp(n->approved[k].text, prefix) == 0) {
			n->approved[k].primary = true;
			return 0;
		}
	return -ENOENT;
}

int inv_node_set_shared(struct inv *inv, size_t node, bool shared)
{
	struct inv_node *n = node_at(inv, node);
	if (!n)
		return -EINVAL;
	n->shared = shared;
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SS[.fraction]Z" */
static bool created_valid(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	const char *p = s + sizeof(shape) - 1;
	if (*p == '.') {
		size_t n = strspn(p + 1, "0123456789");
		if (n == 0 || n > 9)
			return false;
		p += 1 + n;
	}
	return strcmp(p, "Z") == 0;
}

int inv_node_set_created(struct inv *inv, size_t node, const char *time)
{
	struct inv_node *n = node_at(inv, node);
	if (!n || !time || !created_valid(time))
		return -EINVAL;
	char *t = strdup(time);
	if (!t)
		return -ENOMEM;
	free(n->created);
	n->created = t;
	return 0;
}

bool inv_node_owned(const struct inv_node *n)
{
	return n->user >= 0 || n->ntags > 0;
}

bool inv_node_addressed(const struct inv_node *n)
{
	return n->has_v4 || n->has_v6;
}

/* Registration order: by the time, fraction compared as a number; equal
 * times keep the order of addition. */
static int cmp_created(const void *pa, const void *pb)
{
	const struct inv_node *a = pa, *b = pb;
	int c = strncmp(a->created, b->created, 19);
	if (c)
		return c;
	char fa[10] = "000000000", fb[10] = "000000000";
	const char *da = a->created + 19, *db = b->created + 19;
	if (*da == '.')
		memcpy(fa, da + 1, strspn(da + 1, "0123456789"));
	if (*db == '.')
		memcpy(fb, db + 1, strspn(db + 1, "0123456789"));
	c = strcmp(fa, fb);
	if (c)
		return c;
	return a->added < b->added ? -1 : a->added > b->added;
}

/* A node's address, for finding two nodes with the same one. */
struct addr_owner {
	addr_u128 addr;
	size_t node;
};

static int cmp_addr_owner(const void *pa, const void *pb)
{
	const struct addr_owner *a = pa, *b = pb;
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return a->node < b->node ? -1 : a->node > b->node;
}

/* Report every node whose address in FAMILY an earlier node has (nodes in
 * order of addition); false when there is one (or no memory). */
static bool addrs_unique(const struct inv *inv, enum addr_family family, const struct diag_loc *locs,
			 struct diag_list *diags)
{
	struct addr_owner *v = malloc((inv->nnodes + 1) * sizeof(*v));
	size_t n = 0;
	if (!v) {
		diag_error(diags, NULL, "inventory: %s", strerror(ENOMEM));
		return false;
	}
	for (size_t i = 0; i < inv->nnodes; i++) {
		const struct inv_node *nd = &inv->nodes[i];
		if (family == ADDR_V4 ? nd->has_v4 : nd->has_v6)
			v[n++] = (struct addr_owner){ family == ADDR_V4 ? nd->v4 : nd->v6, i };
	}
	qsort(v, n, sizeof(*v), cmp_addr_owner);
	bool ok = true;
	for (size_t i = 1; i < n; i++) {
		if (v[i].addr != v[i - 1].addr)
			continue;
		size_t first = i - 1;
		while (first > 0 && v[first - 1].addr == v[i].addr)
			first--;
		const struct inv_node *a = &inv->nodes[v[first].node], *b = &inv->nodes[v[i].node];
		char text[ADDR_STRLEN];
		const struct diag_loc *loc = locs && locs[b->added].src ? &locs[b->added] : NULL;
		diag_error(diags, loc, "inventory: node \"%s\": address %s is node \"%s\"'s too: every node has "
			   "addresses of its own", b->name, addr_format(family, v[i].addr, text), a->name);
		ok = false;
	}
	free(v);
	return ok;
}

int inv_finish(struct inv *inv, struct diag_list *diags)
{
	return inv_finish_located(inv, (const struct diag_loc *const[2]){ NULL, NULL }, diags);
}

int inv_finish_located(struct inv *inv, const struct diag_loc *const locs[2], struct diag_list *diags)
{
	bool ok = true, all_created = inv->nnodes > 0;
	for (size_t i = 0; i < inv->nnodes; i++) {
		const struct inv_node *n = &inv->nodes[i];
		if (!inv_node_owned(n))
			diag_error(diags, NULL, "inventory: node \"%s\": a node needs a user or at least one tag", n->name);
		if (!inv_node_addressed(n))
			diag_error(diags, NULL, "inventory: node \"%s\": a node needs an IPv4 or IPv6 address", n->name);
		ok &= inv_node_owned(n) && inv_node_addressed(n);
		all_created &= n->created != NULL;
	}
	if (inv_service_check(inv, diags) < 0)
		ok = false;
	/* Both families checked, so that one run names every clash. */
	ok &= addrs_unique(inv, ADDR_V4, locs[0], diags);
	ok &= addrs_unique(inv, ADDR_V6, locs[1], diags);
	if (!ok)
		return -EINVAL;
	if (!all_created)
		return 0;
	qsort(inv->nodes, inv->nnodes, sizeof(*inv->nodes), cmp_created);
	/* The node index holds positions: the order just changed. */
	return names_rebuild(&inv->index->nodes, inv, node_name_of, inv->nnodes);
}

bool inv_node_within(const struct inv_node *n, const struct addr_set *set)
{
	return (n->has_v4 && addr_set_contains(set, ADDR_V4, n->v4, n->v4)) ||
	       (n->has_v6 && addr_set_contains(set, ADDR_V6, n->v6, n->v6));
}

bool inv_node_tagged(const struct inv_node *n)
{
	return n->ntags > 0;
}

bool inv_node_has_tag(const struct inv_node *n, const char *tag)
{
	for (size_t i = 0; i < n->ntags; i++)
		if (strcmp(n->tags[i], tag) == 0)
			return true;
	return false;
}

bool inv_prefix_is_exit(const struct inv_prefix *p)
{
	return p->lo == 0 && p->hi == addr_family_max(p->family);
}

int inv_user_by_email(const struct inv *inv, const char *email)
{
	for (size_t i = 0; i < inv->nusers; i++)
		if (inv->users[i].email && strcmp(inv->users[i].email, email) == 0)
			return (int)i;
	return -1;
}

int inv_user_by_name(const struct inv *inv, const char *name)
{
	return names_find(&inv->index->users, inv, user_name_of, name);
}

int inv_node_by_name(const struct inv *inv, const char *name)
{
	return names_find(&inv->index->nodes, inv, node_name_of, name);
}

int inv_node_addrs(const struct inv_node *n, struct addr_set *out)
{
	int rc = 0;
	if (n->has_v4)
		rc = addr_set_add(out, ADDR_V4, n->v4, n->v4);
	if (rc == 0 && n->has_v6)
		rc = addr_set_add(out, ADDR_V6, n->v6, n->v6);
	return rc;
}

static void node_clear(struct inv_node *n)
{
	free(n->name);
	free(n->created);
	for (size_t j = 0; j < n->ntags; j++)
		free(n->tags[j]);
	free(n->tags);
	for (size_t j = 0; j < n->nadvertised; j++)
		free(n->advertised[j].text);
	for (size_t j = 0; j < n->napproved; j++)
		free(n->approved[j].text);
	free(n->advertised);
	free(n->approved);
	inv_attrs_free(n);
}

void inv_free(struct inv *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->nusers; i++) {
		free(inv->users[i].name);
		free(inv->users[i].email);
		for (size_t j = 0; j < inv->users[i].ngroups; j++)
			free(inv->users[i].groups[j]);
		free(inv->users[i].groups);
	}
	free(inv->users);
	for (size_t i = 0; i < inv->nnodes; i++)
		node_clear(&inv->nodes[i]);
	free(inv->nodes);
	inv_services_free(inv);
	if (inv->index) {
		free(inv->index->users.slot);
		free(inv->index->nodes.slot);
		free(inv->index);
	}
	free(inv);
}
