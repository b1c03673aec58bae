/* inv: load and check the inventory (users, nodes, routes). */
#include "inv.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	for (size_t i = 0; i < inv->nusers; i++)
		if (strcmp(inv->users[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Errors name the file (no line: cJSON keeps none), the entry and the field. */
/* Names seen so far (users' or nodes'), for lookups that stay linear in
 * the inventory's size: open addressing of index + 1, 0 free, inserted in
 * order, so the first equal name found on a probe is the earliest. */
struct names {
	size_t *slot;
	size_t cap;
};

struct ctx {
	struct inv *inv;
	struct diag_list *diags;
	struct diag_loc file;
	char what[160];   /* "node 3 (\"relay-1\")" */
	struct names users, nodes;
};

static size_t name_hash(const char *s)
{
	size_t h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

static bool names_init(struct names *t, size_t n)
{
	t->cap = 16;
	while (t->cap < 2 * n + 2)
		t->cap *= 2;
	t->slot = calloc(t->cap, sizeof(*t->slot));
	return t->slot != NULL;
}

/* How many of the names added (NAME_OF(i) for index i) equal NAME; *FIRST
 * the earliest or -1.  Stops at the first unless COUNT_ALL. */
static size_t names_find(const struct names *t, const char *name, const char *(*name_of)(const struct inv *, size_t),
			 const struct inv *inv, bool count_all, int *first)
{
	size_t n = 0;
	*first = -1;
	if (!t->slot)
		return 0;
	for (size_t i = name_hash(name) & (t->cap - 1); t->slot[i]; i = (i + 1) & (t->cap - 1)) {
		const char *k = name_of(inv, t->slot[i] - 1);
		if (k && strcmp(k, name) == 0) {
			if (n++ == 0)
				*first = (int)(t->slot[i] - 1);
			if (!count_all)
				break;
		}
	}
	return n;
}

static void names_add(struct names *t, const char *name, size_t index)
{
	size_t i = name_hash(name) & (t->cap - 1);
	while (t->slot[i])
		i = (i + 1) & (t->cap - 1);
	t->slot[i] = index + 1;
}

static const char *user_name_of(const struct inv *inv, size_t i)
{
	return inv->users[i].name;
}

static const char *node_name_of(const struct inv *inv, size_t i)
{
	return inv->nodes[i].name;
}

#define INV_ERR(c, fmt, ...) diag_error((c)->diags, &(c)->file, "%s: " fmt, (c)->what, __VA_ARGS__)

/* An optional string member: NULL when absent or null; false on a wrong type. */
static bool get_str(struct ctx *c, const cJSON *obj, const char *key, bool required, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	*out = NULL;
	if (!v || cJSON_IsNull(v)) {
		if (required)
			INV_ERR(c, "missing \"%s\"", key);
		return !required;
	}
	if (!cJSON_IsString(v)) {
		INV_ERR(c, "\"%s\" must be a string", key);
		return false;
	}
	*out = strdup(v->valuestring);
	return *out != NULL;
}

static bool get_prefixes(struct ctx *c, const cJSON *obj, const char *key,
			 struct inv_prefix **out, size_t *n)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key), *it;
	*out = NULL;
	*n = 0;
	if (!arr || cJSON_IsNull(arr))
		return true;
	if (!cJSON_IsArray(arr)) {
		INV_ERR(c, "\"%s\" must be an array of prefixes", key);
		return false;
	}
	*out = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(**out));
	if (!*out)
		return false;
	bool ok = true;
	cJSON_ArrayForEach(it, arr) {
		struct inv_prefix *p = &(*out)[*n];
		enum addr_family fam;
		unsigned len;
		if (!cJSON_IsString(it) || !addr_range_parse(it->valuestring, false, &fam, &p->lo, &p->hi) ||
		    !addr_range_is_prefix(fam, p->lo, p->hi, &len) || !strchr(it->valuestring, '/')) {
			INV_ERR(c, "\"%s\": %s%s%s is not a prefix (address/length, host bits zero)", key,
				cJSON_IsString(it) ? "\"" : "", cJSON_IsString(it) ? it->valuestring : "an entry",
				cJSON_IsString(it) ? "\"" : "");
			ok = false;
			continue;
		}
		p->family = (uint8_t)fam;
		p->text = strdup(it->valuestring);
		(*n)++;
	}
	return ok;
}

static bool get_addr(struct ctx *c, const cJSON *obj, const char *key, enum addr_family want,
		     bool *has, addr_u128 *addr)
{
	char *s;
	*has = false;
	if (!get_str(c, obj, key, false, &s))
		return false;
	if (!s)
		return true;
	enum addr_family fam;
	bool ok = addr_parse(s, &fam, addr) && fam == want;
	if (!ok)
		INV_ERR(c, "\"%s\": \"%s\" is not an IPv%d address", key, s, want);
	*has = ok;
	free(s);
	return ok;
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

/* Registration order: by the time, fraction compared as a number; ties and
 * equal times keep file order. */
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
	return a->file_index < b->file_index ? -1 : a->file_index > b->file_index;
}

static bool load_node(struct ctx *c, const cJSON *jn, struct inv_node *n)
{
	bool ok = true;
	n->user = -1;
	if (!cJSON_IsObject(jn)) {
		INV_ERR(c, "must be an object, not %s", "another value");
		return false;
	}
	char *user = NULL;
	ok &= get_str(c, jn, "name", true, &n->name);
	if (n->name)
		snprintf(c->what + strlen(c->what), sizeof(c->what) - strlen(c->what), " (\"%s\")", n->name);
	ok &= get_str(c, jn, "user", false, &user);
	if (user) {
		names_find(&c->users, user, user_name_of, c->inv, false, &n->user);
		if (n->user < 0) {
			INV_ERR(c, "\"user\": no user named \"%s\" in \"users\"", user);
			ok = false;
		}
		free(user);
	}
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(jn, "tags"), *t;
	if (tags && !cJSON_IsNull(tags)) {
		if (!cJSON_IsArray(tags)) {
			INV_ERR(c, "\"tags\" must be an array of %s", "\"tag:NAME\" strings");
			return false;
		}
		n->tags = calloc((size_t)cJSON_GetArraySize(tags) + 1, sizeof(*n->tags));
		if (!n->tags)
			return false;
		cJSON_ArrayForEach(t, tags) {
			if (!cJSON_IsString(t) || strncmp(t->valuestring, "tag:", 4) != 0 || !t->valuestring[4]) {
				INV_ERR(c, "\"tags\": every tag must be a string \"tag:NAME\"%s", "");
				ok = false;
				continue;
			}
			n->tags[n->ntags++] = strdup(t->valuestring);
		}
	}
	if (n->user < 0 && n->ntags == 0 && ok) {
		INV_ERR(c, "a node needs a \"user\" or at least one tag%s", "");
		ok = false;
	}
	ok &= get_addr(c, jn, "ipv4", ADDR_V4, &n->has_v4, &n->v4);
	ok &= get_addr(c, jn, "ipv6", ADDR_V6, &n->has_v6, &n->v6);
	if (ok && !n->has_v4 && !n->has_v6) {
		INV_ERR(c, "a node needs \"ipv4\" or \"ipv6\"%s", "");
		ok = false;
	}
	ok &= get_str(c, jn, "created", false, &n->created);
	if (n->created && !created_valid(n->created)) {
		INV_ERR(c, "\"created\": \"%s\" is not an RFC 3339 UTC time (2026-04-10T21:06:42.83Z)", n->created);
		ok = false;
	}
	ok &= get_prefixes(c, jn, "advertised_routes", &n->advertised, &n->nadvertised);
	ok &= get_prefixes(c, jn, "approved_routes", &n->approved, &n->napproved);
	return ok;
}

struct inv *inv_from_json(const struct diag_src *src, const cJSON *users, const cJSON *nodes,
			  struct diag_list *diags)
{
	struct inv *inv = calloc(1, sizeof(*inv));
	if (!inv)
		return NULL;
	struct ctx c = { .inv = inv, .diags = diags, .file = { src, 0, 0 } };
	bool ok = true;
	if (users && !cJSON_IsNull(users) && !cJSON_IsArray(users)) {
		snprintf(c.what, sizeof(c.what), "\"users\"");
		INV_ERR(&c, "must be an array of {\"name\", \"email\"}%s", "");
		ok = false;
	} else if (users) {
		inv->users = calloc((size_t)cJSON_GetArraySize(users) + 1, sizeof(*inv->users));
		if (!inv->users || !names_init(&c.users, (size_t)cJSON_GetArraySize(users)))
			goto out_nomem;
		const cJSON *u;
		cJSON_ArrayForEach(u, users) {
			struct inv_user *iu = &inv->users[inv->nusers];
			snprintf(c.what, sizeof(c.what), "user %zu", inv->nusers + 1);
			if (!cJSON_IsObject(u) || !get_str(&c, u, "name", true, &iu->name) ||
			    !get_str(&c, u, "email", false, &iu->email)) {
				if (!cJSON_IsObject(u))
					INV_ERR(&c, "must be an object%s", "");
				free(iu->name);
				ok = false;
				continue;
			}
			int first;
			if (names_find(&c.users, iu->name, user_name_of, inv, false, &first) > 0) {
				INV_ERR(&c, "duplicate user name \"%s\"", iu->name);
				ok = false;
			}
			names_add(&c.users, iu->name, inv->nusers);
			inv->nusers++;
		}
	}
	if (!nodes || !cJSON_IsArray(nodes)) {
		snprintf(c.what, sizeof(c.what), "\"nodes\"");
		INV_ERR(&c, "missing, or not an array of nodes%s", "");
		ok = false;
	} else {
		inv->nodes = calloc((size_t)cJSON_GetArraySize(nodes) + 1, sizeof(*inv->nodes));
		if (!inv->nodes || !names_init(&c.nodes, (size_t)cJSON_GetArraySize(nodes)))
			goto out_nomem;
		const cJSON *jn;
		cJSON_ArrayForEach(jn, nodes) {
			snprintf(c.what, sizeof(c.what), "node %zu", inv->nnodes + 1);
			struct inv_node *n = &inv->nodes[inv->nnodes++];
			n->file_index = inv->nnodes - 1;
			ok &= load_node(&c, jn, n);
			if (!n->name)
				continue;
			int first;
			for (size_t k = names_find(&c.nodes, n->name, node_name_of, inv, true, &first); k > 0; k--) {
				INV_ERR(&c, "duplicate node name \"%s\"", n->name);
				ok = false;
			}
			names_add(&c.nodes, n->name, inv->nnodes - 1);
		}
	}
	if (0) {
out_nomem:
		diag_error(diags, &c.file, "reading the inventory: %s", strerror(ENOMEM));
		ok = false;
	}
	free(c.users.slot);
	free(c.nodes.slot);
	if (!ok) {
		inv_free(inv);
		return NULL;
	}
	bool all_created = inv->nnodes > 0;
	for (size_t i = 0; i < inv->nnodes; i++)
		all_created &= inv->nodes[i].created != NULL;
	if (all_created)
		qsort(inv->nodes, inv->nnodes, sizeof(*inv->nodes), cmp_created);
	return inv;
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

struct inv *inv_load(const char *path, struct diag_src **srcp, struct diag_list *diags)
{
	struct diag_src *src = diag_src_load(path, diags);
	*srcp = src;
	if (!src)
		return NULL;
	struct inv *inv = NULL;
	cJSON *root = cJSON_ParseWithLength(src->text, src->len);
	if (!root) {
		struct diag_loc loc = { src, 0, 0 };
		/* cJSON points at where it stopped: turn that into line:col. */
		const char *at = cJSON_GetErrorPtr();
		if (at && at >= src->text && at <= src->text + src->len) {
			loc.line = 1;
			loc.col = 1;
			for (const char *p = src->text; p < at; p++) {
				if (*p == '\n') {
					loc.line++;
					loc.col = 1;
				} else
					loc.col++;
			}
		}
		diag_error(diags, &loc, "not valid JSON (the inventory is plain JSON)");
		return NULL;
	}
	if (!cJSON_IsObject(root))
		diag_error(diags, &(struct diag_loc){ src, 0, 0 }, "the inventory must be a JSON object");
	else
		inv = inv_from_json(src, cJSON_GetObjectItemCaseSensitive(root, "users"),
				    cJSON_GetObjectItemCaseSensitive(root, "nodes"), diags);
	cJSON_Delete(root);
	return inv;
}

void inv_free(struct inv *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->nusers; i++) {
		free(inv->users[i].name);
		free(inv->users[i].email);
	}
	free(inv->users);
	for (size_t i = 0; i < inv->nnodes; i++) {
		struct inv_node *n = &inv->nodes[i];
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
	}
	free(inv->nodes);
	free(inv);
}
