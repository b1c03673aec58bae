/* coord_node: registration, updates and the handshake replay record. */
#include "coord_node.h"
#include "ctl_authkey.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NAME_TRIES 1000

/* The node as the store has it, copied out of the callback. */
struct node_copy {
	bool found, expired;
	int64_t id;
	char name[STORE_NAME_MAX + 1];
	uint8_t ipv4[4], ipv6[16];
};

static int copy_node(const struct store_node *n, void *arg)
{
	struct node_copy *c = arg;
	c->found = true;
	c->expired = n->expired;
	c->id = n->id;
	snprintf(c->name, sizeof c->name, "%s", n->name);
	memcpy(c->ipv4, n->ipv4, 4);
	memcpy(c->ipv6, n->ipv6, 16);
	return 0;
}

/* Text forms of a prefix or endpoint list, for the store. */
struct text_list {
	char (*text)[64];
	const char **items;
	size_t n;
};

static int text_list_init(struct text_list *t, size_t n)
{
	t->n = n;
	t->text = calloc(n ? n : 1, sizeof *t->text);
	t->items = calloc(n ? n : 1, sizeof *t->items);
	return t->text && t->items ? 0 : -ENOMEM;
}

static void text_list_free(struct text_list *t)
{
	free(t->text);
	free(t->items);
}

static int prefixes_text(struct text_list *t, const struct ctl_prefixes *p)
{
	int rc = text_list_init(t, p->n);
	for (size_t i = 0; rc == 0 && i < p->n; i++) {
		ctl_prefix_format(t->text[i], &p->v[i]);
		t->items[i] = t->text[i];
	}
	return rc;
}

static int endpoints_text(struct text_list *t, const struct ctl_endpoints *e)
{
	int rc = text_list_init(t, e->n);
	for (size_t i = 0; rc == 0 && i < e->n; i++) {
		ctl_endpoint_format(t->text[i], &e->v[i]);
		t->items[i] = t->text[i];
	}
	return rc;
}

static int set_routes(struct store *s, int64_t id, const struct ctl_prefixes *routes)
{
	struct text_list t;
	int rc = prefixes_text(&t, routes);
	if (rc == 0)
		rc = store_routes_advertise(s, id, &(struct store_list){ t.items, t.n }, time(NULL));
	text_list_free(&t);
	return rc;
}

static int set_endpoints(struct store *s, int64_t id, const struct ctl_endpoints *eps)
{
	struct text_list t;
	int rc = endpoints_text(&t, eps);
	if (rc == 0)
		rc = store_node_set_endpoints(s, id, &(struct store_list){ t.items, t.n }, time(NULL));
	text_list_free(&t);
	return rc;
}

/* A DNS label from the node's hostname: lower case letters, digits and
 * inner hyphens; "node" when nothing is left. */
static void name_from_hostname(char out[STORE_NAME_MAX + 1], const char *hostname)
{
	size_t n = 0;
	for (const char *p = hostname; *p && *p != '.' && n < STORE_NAME_MAX - 5; p++) {
		char c = (char)tolower((unsigned char)*p);
		if (isalnum((unsigned char)c) || (c == '-' && n > 0))
			out[n++] = c;
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n == 0)
		strcpy(out, "node");
}

static const char *refusal(int rc)
{
	switch (rc) {
	case -ENOENT: return "auth key unknown";
	case -EKEYREVOKED: return "auth key revoked";
	case -EKEYEXPIRED: return "auth key expired";
	case -EKEYREJECTED: return "auth key already used";
	case -ENOSPC: return "no tunnel address left";
	default: return "registration refused";
	}
}

/* A new node with the auth key TEXT; refusals go into RES. */
static int register_new(struct store *s, const struct ctl_identity *id, const uint8_t machine_key[CTL_KEY_LEN],
			const struct ctl_register *reg, int64_t key_lifetime, struct coord_node_result *res)
{
	struct ctl_authkey k;
	struct store_registration r = { .hostname = reg->hostname };
	struct text_list eps;
	char base[STORE_NAME_MAX + 1];
	int rc = -EEXIST;
	if (ctl_authkey_parse(&k, reg->auth_key) < 0) {
		res->reason = "auth key malformed";
		return 0;
	}
	if (sodium_memcmp(k.server_key, id->public_key, CTL_KEY_LEN) != 0) {
		res->reason = "auth key is for another coordinator";
		rc = 0;
		goto wipe;
	}
	if ((rc = endpoints_text(&eps, &reg->endpoints)) < 0)
		goto wipe;
	for (size_t i = 0; i < CTL_AUTHKEY_ID_LEN; i++)
		r.authkey_id = (r.authkey_id << 8) | k.id[i];
	memcpy(r.secret, k.secret, sizeof r.secret);
	memcpy(r.machine_key, machine_key, CTL_KEY_LEN);
	memcpy(r.wg_key, reg->wg_key, sizeof r.wg_key);
	r.endpoints = (struct store_list){ eps.items, eps.n };
	name_from_hostname(base, reg->hostname);
	for (int i = 1; i <= NAME_TRIES; i++) {
		if (i > 1)
			snprintf(res->name, sizeof res->name, "%.*s-%d", STORE_NAME_MAX - 5, base, i);
		else
			snprintf(res->name, sizeof res->name, "%s", base);
		r.name = res->name;
		int64_t now = time(NULL);
		r.key_expiry = key_lifetime ? now + key_lifetime : 0;
		rc = store_register(s, &r, now, &res->node_id);
		if (rc != -EEXIST)
			break;
	}
	text_list_free(&eps);
	sodium_memzero(&r, sizeof r);
	if (rc < 0 && rc != -ENOENT && rc != -EKEYREVOKED && rc != -EKEYEXPIRED && rc != -EKEYREJECTED &&
	    rc != -ENOSPC && rc != -EINVAL)
		goto wipe;
	if (rc < 0) {
		res->reason = refusal(rc);
		rc = 0;
		goto wipe;
	}
	res->ok = res->created = true;
wipe:
	ctl_authkey_wipe(&k);
	return rc;
}

static int add_address(struct ctl_prefixes *p, uint8_t family, const uint8_t *addr)
{
	struct ctl_prefix *v = realloc(p->v, (p->n + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	p->v = v;
	v = &p->v[p->n++];
	memset(v, 0, sizeof *v);
	v->family = family;
	v->bits = family == 4 ? 32 : 128;
	memcpy(v->addr, addr, family == 4 ? 4 : 16);
	return 0;
}

int coord_node_register(struct store *s, const struct ctl_identity *id, const uint8_t machine_key[CTL_KEY_LEN],
			const struct ctl_register *reg, int64_t key_lifetime, coord_node_same_fn *same, void *arg,
			struct coord_node_result *res)
{
	struct node_copy n = { 0 };
	int rc;
	memset(res, 0, sizeof *res);
	rc = store_node_by_machine_key(s, machine_key, copy_node, &n);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (!n.found && !reg->auth_key) {
		res->reason = "unknown machine key: register with an auth key";
		return 0;
	}
	if (n.found && n.expired) {
		res->reason = "node key expired: an administrator must remove the node before it registers again";
		return 0;
	}
	if (!n.found) {
		if ((rc = register_new(s, id, machine_key, reg, key_lifetime, res)) < 0 || !res->ok)
			return rc;
		if ((rc = store_node_get(s, res->node_id, copy_node, &n)) < 0)
			return rc;
	} else {
		res->ok = true;
		res->node_id = n.id;
		res->unchanged = same && same(n.id, reg, arg);
		snprintf(res->name, sizeof res->name, "%s", n.name);
		if (!res->unchanged && ((rc = store_node_set_wg_key(s, n.id, reg->wg_key, time(NULL))) < 0 ||
					(rc = set_endpoints(s, n.id, &reg->endpoints)) < 0))
			return rc;
	}
	/* Writing the same again would change nothing but the generation. */
	if ((!res->unchanged && (rc = set_routes(s, n.id, &reg->routes)) < 0) ||
	    (rc = store_node_seen(s, n.id, time(NULL))) < 0)
		return rc;
	if ((rc = add_address(&res->addresses, 4, n.ipv4)) < 0 || (rc = add_address(&res->addresses, 6, n.ipv6)) < 0)
		ctl_prefixes_free(&res->addresses);
	return rc;
}

bool coord_node_update_changes(const struct ctl_update *u)
{
	return u->has_wg_key || u->has_hostname || u->has_routes || u->has_endpoints;
}

int coord_node_update(struct store *s, int64_t node_id, const struct ctl_update *u)
{
	int rc = 0;
	if (u->has_wg_key && (rc = store_node_set_wg_key(s, node_id, u->wg_key, time(NULL))) < 0)
		return rc;
	if (u->has_endpoints && (rc = set_endpoints(s, node_id, &u->endpoints)) < 0)
		return rc;
	if (u->has_routes)
		rc = set_routes(s, node_id, &u->routes);
	return rc;
}

/* "hs:" and the key in unpadded base64url: within a setting name's 63 bytes. */
static void setting_name(char out[80], const uint8_t key[CTL_KEY_LEN])
{
	strcpy(out, "hs:");
	sodium_bin2base64(out + 3, 77, key, CTL_KEY_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool coord_node_last_seen(struct store *s, const uint8_t key[CTL_KEY_LEN], uint8_t ts[TAI64N_LEN])
{
	char name[80], hex[2 * TAI64N_LEN + 1];
	setting_name(name, key);
	return store_setting_get(s, name, hex, sizeof hex) == 0 &&
	       sodium_hex2bin(ts, TAI64N_LEN, hex, strlen(hex), NULL, NULL, NULL) == 0;
}

int coord_node_record_handshake(struct store *s, const uint8_t key[CTL_KEY_LEN], const uint8_t ts[TAI64N_LEN])
{
	char name[80], hex[2 * TAI64N_LEN + 1];
	setting_name(name, key);
	sodium_bin2hex(hex, sizeof hex, ts, TAI64N_LEN);
	return store_setting_set(s, name, hex);
}
