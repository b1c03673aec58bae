/* Unit tests for the control messages: every message type round-trips
 * through its JSON; the decoder refuses, with a reason, unknown versions and
 * types, wrong value types and oversized values; the delta property on
 * random change sequences (apply(old, delta(old, new)) == new, compared by
 * canonical encoding); auth key text and hashing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl_authkey.h"
#include "ctl_msg.h"
#include "t.h"

static void prefix(struct ctl_prefixes *p, const char *text)
{
	p->v = realloc(p->v, (p->n + 1) * sizeof(*p->v));
	ctl_prefix_parse(&p->v[p->n++], text);
}

static void endpoint(struct ctl_endpoints *e, const char *text)
{
	e->v = realloc(e->v, (e->n + 1) * sizeof(*e->v));
	ctl_endpoint_parse(&e->v[e->n++], text);
}

/* Encode M, decode it, encode again: the same text. */
static void roundtrip(const char *what, const struct ctl_msg *m)
{
	struct ctl_msg back;
	char err[256] = "";
	size_t len, len2 = 0;
	char *text = ctl_msg_encode(m, &len), *text2 = NULL;
	int rc = text ? ctl_msg_decode(text, len, &back, err, sizeof(err)) : -ENOMEM;

	if (rc == 0) {
		text2 = ctl_msg_encode(&back, &len2);
		ctl_msg_free(&back);
	}
	T_CHECK(rc == 0 && text2 && len == len2 && strcmp(text, text2) == 0, "round trip: %s (%s)", what, err);
	if (rc == 0 && text2 && strcmp(text, text2) != 0)
		printf("#   first:  %s\n#   second: %s\n", text, text2);
	free(text);
	free(text2);
}

static void test_roundtrips(void)
{
	struct ctl_msg m;

	memset(&m, 0, sizeof(m));
	m.type = CTL_MSG_REGISTER;
	m.u.reg.auth_key = "kgauth1-x";
	memset(m.u.reg.wg_key, 7, 32);
	m.u.reg.hostname = "relay-1";
	prefix(&m.u.reg.routes, "8.8.8.8/32");
	prefix(&m.u.reg.routes, "2001:db8::/32");
	endpoint(&m.u.reg.endpoints, "203.0.113.5:41641");
	endpoint(&m.u.reg.endpoints, "[2001:db8::5]:41641");
	roundtrip("register", &m);
	free(m.u.reg.routes.v);
	free(m.u.reg.endpoints.v);

	memset(&m, 0, sizeof(m));
	m.type = CTL_MSG_REGISTER_RESULT;
	m.u.result.ok = true;
	m.u.result.node_id = 42;
	m.u.result.name = "relay-1";
	prefix(&m.u.result.addresses, "100.64.0.1/32");
	roundtrip("register_result ok", &m);
	free(m.u.result.addresses.v);
	memset(&m, 0, sizeof(m));
	m.type = CTL_MSG_REGISTER_RESULT;
	m.u.result.error = "auth key expired";
	roundtrip("register_result refused", &m);

	memset(&m, 0, sizeof(m));
	m.type = CTL_MSG_UPDATE;
	m.u.update.has_routes = true;
	prefix(&m.u.update.routes, "10.0.0.0/8");
	roundtrip("update (routes only)", &m);
	free(m.u.update.routes.v);
	memset(&m, 0, sizeof(m));
	m.type = CTL_MSG_UPDATE;
	m.u.update.has_forwarding = true;
	roundtrip("update (forwarding off only)", &m);

	memset(&m, 0, sizeof(m));
	m.type = CTL_MSG_UPDATE;
	m.u.update.has_tamper = true;
	m.u.update.tamper = (struct ctl_tamper){ 3, 1700000000, "rule deleted in table inet keygate by port 99" };
	roundtrip("update (a tamper report)", &m);

	struct ctl_probe probes[2] = { { .target = "tcp:8.8.8.8:443", .ok = true }, { .target = "tcp:[2001:db8::1]:80" } };
	ctl_prefix_parse(&probes[0].prefix, "8.8.8.8/32");
	ctl_prefix_parse(&probes[1].prefix, "2001:db8::/64");
	memset(&m, 0, sizeof(m));
	m.type = CTL_MSG_UPDATE;
	m.u.update.has_probes = true;
	m.u.update.probes = probes;
	m.u.update.n_probes = 2;
	roundtrip("update (route probes: one passing, one failing)", &m);
	m.u.update.n_probes = 0;
	roundtrip("update (no route probes left)", &m);

	struct ctl_backup_route backups[2] = { { .rank = 1 }, { .rank = 2 } };
	struct ctl_peer peer = { .id = 3, .name = "r2", .keepalive = 25,
				 .backup_routes = { .v = backups, .n = 2 } };
	ctl_prefix_parse(&backups[0].prefix, "8.8.8.8/32");
	ctl_prefix_parse(&backups[1].prefix, "8.8.4.4/32");
	prefix(&peer.addresses, "100.64.0.3/32");
	prefix(&peer.allowed_ips, "100.64.0.3/32");
	memset(&m, 0, sizeof(m));
	m.type = CTL_MSG_MAP;
	m.u.map = (struct ctl_netmap){ .generation = 5, .self = { .id = 1, .name = "alice" }, .peers = &peer,
				       .n_peers = 1, .filter = "[]" };
	roundtrip("map (a peer backing up two routes)", &m);
	free(peer.addresses.v);
	free(peer.allowed_ips.v);

	memset(&m, 0, sizeof(m));
	m.type = CTL_MSG_ACK;
	m.u.ack.generation = 9;
	roundtrip("ack", &m);
	m.u.ack.error = "nftables: EPERM";
	roundtrip("ack with an error", &m);
	memset(&m, 0, sizeof(m));
	m.type = CTL_MSG_KEEPALIVE_T;
	roundtrip("keepalive", &m);
	m.type = CTL_MSG_CLOSE;
	m.u.reason = "node removed";
	roundtrip("close", &m);
}

static void test_refusals(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "[1]", "message: not a JSON object" },
		{ "{\"type\":\"keepalive\"}", "message.v: missing" },
		{ "{\"v\":2,\"type\":\"keepalive\"}", "message.v: version 2 is not supported (this end speaks 1)" },
		{ "{\"v\":\"1\",\"type\":\"keepalive\"}", "message.v: not an integer in 0..4294967295" },
		{ "{\"v\":1,\"type\":\"hello\"}", "message.type: missing or not a known message type" },
		{ "{\"v\":1,\"type\":\"ack\"}", "ack.generation: missing" },
		{ "{\"v\":1,\"type\":\"ack\",\"generation\":1.5}", "ack.generation: not an integer in 0..9007199254740991" },
		{ "{\"v\":1,\"type\":\"ack\",\"generation\":-1}", "ack.generation: not an integer in 0..9007199254740991" },
		{ "{\"v\":1,\"type\":\"ack\",\"generation\":1e300}", "ack.generation: not an integer in 0..9007199254740991" },
		{ "{\"v\":1,\"type\":\"register\",\"wg_key\":\"abc\",\"hostname\":\"h\",\"routes\":[],\"endpoints\":[]}",
		  "register.wg_key: not a key (44 characters of base64)" },
		{ "{\"v\":1,\"type\":\"register\",\"wg_key\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\",\"hostname\":\"h\","
		  "\"routes\":[\"10.0.0.1/8\"],\"endpoints\":[]}", "register.routes[0]: not a valid prefix" },
		{ "{\"v\":1,\"type\":\"register\",\"wg_key\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\",\"hostname\":\"h\","
		  "\"routes\":[],\"endpoints\":[\"1.2.3.4:0\"]}", "register.endpoints[0]: not a valid endpoint" },
		{ "{\"v\":1,\"type\":\"register\",\"wg_key\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\",\"hostname\":\"a\\nb\","
		  "\"routes\":[],\"endpoints\":[]}", "register.hostname: not a string of 1..253 printable bytes" },
		{ "{\"v\":1,\"type\":\"map\",\"netmap\":{\"generation\":1,\"self\":{\"id\":1,\"name\":\"a\",\"addresses\":[]},"
		  "\"peers\":[{\"id\":2}],\"routes\":[],\"filter\":[],\"snat\":false}}", "peers[0].name: missing" },
		{ "{\"v\":1,\"type\":\"map\",\"netmap\":{\"generation\":1,\"self\":{\"id\":1,\"name\":\"a\",\"addresses\":[]},"
		  "\"peers\":[],\"routes\":[],\"filter\":{},\"snat\":false}}", "filter: not an array of FilterRule objects" },
		{ "{\"v\":1,\"type\":\"delta\",\"delta\":{\"from_generation\":1,\"generation\":2,\"upsert\":[],\"removed\":[\"x\"]}}",
		  "removed[0]: not a peer id" },
		{ "{\"v\":1,\"type\":\"update\",\"tamper\":{\"at\":1}}", "update.tamper.count: missing" },
		{ "{\"v\":1,\"type\":\"update\",\"tamper\":[]}", "update.tamper: not an object" },
		{ "{\"v\":1,\"type\":\"update\",\"probes\":{}}", "update.probes: not an array of at most 16 probes" },
		{ "{\"v\":1,\"type\":\"update\",\"probes\":[{\"prefix\":\"8.8.8.8/33\",\"probe\":\"tcp:1\",\"ok\":true}]}",
		  "update.probes: bad prefix 8.8.8.8/33" },
		{ "{\"v\":1,\"type\":\"map\",\"netmap\":{\"generation\":1,\"self\":{\"id\":1,\"name\":\"a\",\"addresses\":[]},"
		  "\"peers\":[{\"id\":2,\"name\":\"b\",\"wg_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"endpoints\":[],"
		  "\"addresses\":[],\"allowed_ips\":[],\"keepalive\":0,\"backup_routes\":[{\"prefix\":\"8.8.8.8/32\",\"rank\":0}]}],"
		  "\"routes\":[],\"filter\":[],\"snat\":false}}", "peers[0].backup_routes: bad route 8.8.8.8/32 rank 0" },
	};
	char err[256];
	struct ctl_msg m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		int rc = ctl_msg_decode(cases[i].text, strlen(cases[i].text), &m, err, sizeof(err));
		T_CHECK(rc == -EINVAL && strcmp(err, cases[i].want) == 0, "refused with the reason: %s", cases[i].want);
		if (strcmp(err, cases[i].want) != 0)
			printf("#   got: %s\n", err);
	}
	/* Oversized: more endpoints than the cap. */
	char big[4096] = "{\"v\":1,\"type\":\"update\",\"endpoints\":[";
	for (int i = 0; i <= CTL_MAX_ENDPOINTS; i++)
		strcat(big, i ? ",\"1.2.3.4:5\"" : "\"1.2.3.4:5\"");
	strcat(big, "]}");
	T_CHECK(ctl_msg_decode(big, strlen(big), &m, err, sizeof(err)) == -EINVAL &&
		strcmp(err, "update.endpoints: more than 16 items") == 0, "refused: more endpoints than the cap (%s)", err);
}

/* ---- the delta property ---- */

static uint32_t rnd(uint32_t n)
{
	return randombytes_uniform(n);
}

static void random_peer(struct ctl_peer *p, uint64_t id)
{
	char text[64];

	memset(p, 0, sizeof(*p));
	p->id = id;
	snprintf(text, sizeof(text), "node-%llu-%u", (unsigned long long)id, rnd(3));
	p->name = strdup(text);
	randombytes_buf(p->wg_key, 32);
	p->wg_key[0] = (uint8_t)rnd(2);
	snprintf(text, sizeof(text), "100.64.%u.%u/32", (unsigned)(id >> 8) & 255, (unsigned)id & 255);
	prefix(&p->addresses, text);
	prefix(&p->allowed_ips, text);
	if (rnd(3) == 0)
		prefix(&p->allowed_ips, rnd(2) ? "8.8.8.8/32" : "8.8.4.4/32");
	if (rnd(2)) {
		snprintf(text, sizeof(text), "198.51.100.%u:%u", rnd(4), 41641 + rnd(2));
		endpoint(&p->endpoints, text);
	}
	p->keepalive = (uint16_t)(rnd(2) * 25);
}

static int peer_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct ctl_peer *)a)->id, y = ((const struct ctl_peer *)b)->id;
	return x < y ? -1 : x > y;
}

/* A filter of two rules whose sources are random picks, in a fixed order,
 * among 30 hosts, a prefix and an IPv6 host (most changes are patches);
 * now and then two sources swapped, which no patch can say. */
static char *random_sources_filter(void)
{
	char buf[4096];
	int len = snprintf(buf, sizeof(buf), "[");
	for (int r = 0; r < 2; r++) {
		const char *sep = "";
		len += snprintf(buf + len, sizeof(buf) - (size_t)len, "%s{\"SrcIPs\":[", r ? "," : "");
		bool swap = rnd(10) == 0;
		for (int k = 1; k <= 32; k++) {
			int h = swap && k == 2 ? 3 : swap && k == 3 ? 2 : k;
			if (rnd(3) == 0)
				continue;
			if (h == 31)
				len += snprintf(buf + len, sizeof(buf) - (size_t)len, "%s\"10.0.0.0/8\"", sep);
			else if (h == 32)
				len += snprintf(buf + len, sizeof(buf) - (size_t)len, "%s\"fd7a:115c:a1e0::%d\"", sep, r);
			else
				len += snprintf(buf + len, sizeof(buf) - (size_t)len, "%s\"100.64.0.%d\"", sep, h);
			sep = ",";
		}
		len += snprintf(buf + len, sizeof(buf) - (size_t)len,
				"],\"DstPorts\":[{\"IP\":\"100.64.0.254\",\"Ports\":{\"First\":%d,\"Last\":%d}}]}",
				22 + r, 22 + r);
	}
	snprintf(buf + len, sizeof(buf) - (size_t)len, "]");
	char *out = NULL;
	ctl_filter_canonical(buf, &out);
	return out;
}

/* A random change of M: peers added, changed, removed; routes, filter,
 * snat, self flipped now and then. */
static void mutate(const struct ctl_netmap *old, struct ctl_netmap *m)
{
	static const char *filters[] = {
		"[]",
		"[{\"SrcIPs\":[\"100.64.0.1\"],\"DstPorts\":[{\"IP\":\"8.8.8.8\",\"Ports\":{\"First\":443,\"Last\":443}}]}]",
		"[{\"SrcIPs\":[\"*\"],\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":0,\"Last\":65535}}]}]",
	};
	size_t n = 0;

	memset(m, 0, sizeof(*m));
	m->generation = old->generation + 1;
	m->peers = calloc(old->n_peers + 8, sizeof(*m->peers));
	for (size_t i = 0; i < old->n_peers; i++) {
		uint32_t r = rnd(10);
		if (r == 0)
			continue;	/* removed */
		if (r == 1)
			random_peer(&m->peers[n++], old->peers[i].id);	/* changed (or by chance the same) */
		else
			ctl_peer_copy(&m->peers[n++], &old->peers[i]);
	}
	for (uint32_t k = rnd(4); k > 0; k--) {
		uint64_t id = 1 + rnd(200);
		bool taken = false;
		for (size_t i = 0; i < n; i++)
			taken |= m->peers[i].id == id;
		if (!taken)
			random_peer(&m->peers[n++], id);
	}
	m->n_peers = n;
	qsort(m->peers, n, sizeof(*m->peers), peer_cmp);
	m->self.id = 1;
	m->self.name = strdup(rnd(8) ? old->self.name : "renamed");
	ctl_prefixes_copy(&m->self.addresses, &old->self.addresses);
	if (rnd(4) == 0)
		prefix(&m->routes, "8.8.8.8/32");
	if (rnd(4) == 0)
		prefix(&m->routes, "2001:db8::/48");
	if (rnd(4) == 0)
		ctl_filter_canonical(filters[rnd(3)], &m->filter);
	else
		m->filter = random_sources_filter();
	m->snat = rnd(2);
}

/* Patches that do not fit the filter, or are malformed, are refused. */
static void test_patch_refusals(void)
{
	const char *old = "[{\"SrcIPs\":[\"100.64.0.1\",\"100.64.0.2\"],\"DstPorts\":[]}]";
	struct ctl_src_edit del = { 1, "100.64.0.3" }, add = { 5, "100.64.0.9" };
	struct ctl_filter_patch p = { .rule = 0, .del = &del, .n_del = 1 };
	char *out = NULL;
	T_CHECK(ctl_filter_patch_apply(old, &p, 1, &out) == -EINVAL, "patch: deleting a source that is not there: -EINVAL");
	del.src = "100.64.0.2";
	T_CHECK(ctl_filter_patch_apply(old, &p, 1, &out) == 0 &&
		strcmp(out, "[{\"SrcIPs\":[\"100.64.0.1\"],\"DstPorts\":[]}]") == 0,
		"patch: a source deleted: %s", out ? out : "(failed)");
	free(out);
	p = (struct ctl_filter_patch){ .rule = 0, .add = &add, .n_add = 1 };
	T_CHECK(ctl_filter_patch_apply(old, &p, 1, &out) == -EINVAL, "patch: an addition past the array's end: -EINVAL");
	p.rule = 1;
	add.at = 0;
	T_CHECK(ctl_filter_patch_apply(old, &p, 1, &out) == -EINVAL, "patch: a rule out of range: -EINVAL");
	static const char *bad[] = {
		"{\"filter_patch\":[{\"rule\":0,\"del\":[],\"add\":[{\"at\":2,\"src\":\"a\"},{\"at\":1,\"src\":\"b\"}]}]}",
		"{\"filter_patch\":[{\"rule\":1,\"del\":[],\"add\":[]},{\"rule\":1,\"del\":[],\"add\":[]}]}",
		"{\"filter_patch\":[{\"rule\":0,\"del\":[],\"add\":[{\"at\":0,\"src\":\"1.2.3.4\\\"\"}]}]}",
		"{\"filter_patch\":[{\"rule\":0,\"add\":[]}]}",
	};
	int refused = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *j = cJSON_Parse(bad[i]);
		struct ctl_filter_patch *v = NULL;
		size_t n = 0;
		bool present;
		char why[128];
		struct ctl_err err = { why, sizeof(why) };
		refused += j && ctl_filter_patch_from_json(j, &v, &n, &present, &err) == -EINVAL;
		cJSON_Delete(j);
	}
	T_CHECK(refused == 4, "patch: indexes or rules out of order, a quote in a source, no del: refused (%d/4)", refused);
}

static void test_delta_property(void)
{
	struct ctl_netmap cur;
	int steps = 0, good = 0, smaller = 0, patched = 0, whole = 0;
	size_t delta_bytes = 0, map_bytes = 0;

	memset(&cur, 0, sizeof(cur));
	cur.self.id = 1;
	cur.self.name = strdup("relay-1");
	prefix(&cur.self.addresses, "100.64.0.1/32");
	ctl_filter_canonical("[]", &cur.filter);
	for (int run = 0; run < 500; run++) {
		struct ctl_netmap next, applied, decoded_map;
		struct ctl_delta d, d2;
		struct ctl_err err = { NULL, 0 };
		char *want, *got, *dtext;
		cJSON *dj;

		mutate(&cur, &next);
		ctl_netmap_delta(&cur, &next, &d);
		/* Through the wire form, as a node receives it. */
		dj = ctl_delta_to_json(&d);
		dtext = cJSON_PrintUnformatted(dj);
		ctl_delta_from_json(dj, &d2, &err);
		cJSON_Delete(dj);
		int rc = ctl_netmap_apply(&cur, &d2, &applied);
		patched += d2.n_patch > 0;
		whole += d2.has_filter;
		want = ctl_netmap_encode(&next);
		got = rc == 0 ? ctl_netmap_encode(&applied) : NULL;
		good += got && strcmp(want, got) == 0;
		delta_bytes += strlen(dtext);
		map_bytes += strlen(want);
		smaller += strlen(dtext) < strlen(want);
		/* And the full map through its JSON. */
		cJSON *mj = ctl_netmap_to_json(&next);
		if (ctl_netmap_from_json(mj, &decoded_map, &err) == 0) {
			char *again = ctl_netmap_encode(&decoded_map);
			good -= strcmp(again, want) != 0;
			free(again);
			ctl_netmap_free(&decoded_map);
		}
		cJSON_Delete(mj);
		steps++;
		free(want);
		free(got);
		free(dtext);
		if (rc == 0)
			ctl_netmap_free(&applied);
		ctl_delta_free(&d);
		ctl_delta_free(&d2);
		ctl_netmap_free(&cur);
		cur = next;
	}
	T_CHECK(good == steps, "delta: on %d random changes, applying each delta (through its JSON) to the previous map "
		"gives the next map, canonical encodings equal (%d/%d)", steps, good, steps);
	T_CHECK(patched > steps / 4 && whole > steps / 20,
		"delta: filters differing only in sources go as patches (%d), others whole (%d)", patched, whole);
	T_CHECK(smaller > steps / 2, "delta: most deltas are smaller than the full map (%d/%d; %zu vs %zu bytes in all)",
		smaller, steps, delta_bytes, map_bytes);

	/* Refusals. */
	struct ctl_netmap next, out;
	struct ctl_delta d;
	mutate(&cur, &next);
	ctl_netmap_delta(&cur, &next, &d);
	d.from_generation++;
	T_CHECK(ctl_netmap_apply(&cur, &d, &out) == -ESTALE, "delta: a delta from another generation is refused (-ESTALE)");
	d.from_generation--;
	free(d.removed);
	d.removed = malloc(sizeof(*d.removed));
	d.removed[0] = 100000;
	d.n_removed = 1;
	T_CHECK(ctl_netmap_apply(&cur, &d, &out) == -EINVAL, "delta: removing an unknown peer is refused (-EINVAL)");
	ctl_delta_free(&d);
	ctl_netmap_free(&next);
	ctl_netmap_free(&cur);
	test_patch_refusals();
}

static void test_authkey(void)
{
	struct ctl_authkey k, back;
	uint8_t server[32], stored[32];
	char text[CTL_AUTHKEY_MAX_TEXT], v6[CTL_AUTHKEY_MAX_TEXT];

	memset(server, 0xfb, 32);	/* base64url of 0xfb bytes has '-' and '_' */
	ctl_authkey_generate(&k, server, "coord.example.com", 8443);
	T_CHECK(ctl_authkey_format(text, sizeof(text), &k) == 0 && strncmp(text, "kgauth1-", 8) == 0 &&
		strstr(text, "@coord.example.com:8443"), "authkey: formatted (%.30s...)", text);
	T_CHECK(ctl_authkey_parse(&back, text) == 0 && memcmp(back.id, k.id, 8) == 0 &&
		memcmp(back.secret, k.secret, 32) == 0 && memcmp(back.server_key, server, 32) == 0 &&
		strcmp(back.host, "coord.example.com") == 0 && back.port == 8443,
		"authkey: parses back to the same id, secret, coordinator key and address");
	ctl_authkey_generate(&k, server, "2001:db8::1", 443);
	T_CHECK(ctl_authkey_format(v6, sizeof(v6), &k) == 0 && strstr(v6, "@[2001:db8::1]:443") &&
		ctl_authkey_parse(&back, v6) == 0 && strcmp(back.host, "2001:db8::1") == 0,
		"authkey: an IPv6 coordinator in brackets");
	ctl_authkey_hash(stored, &k);
	T_CHECK(ctl_authkey_verify(&back, stored), "authkey: the parsed key verifies against the stored hash");
	back.secret[5] ^= 1;
	T_CHECK(!ctl_authkey_verify(&back, stored), "authkey: another secret does not");

	static const char *bad[] = {
		"", "kgauth2-", "kgauth1-0123", "kgauth1-zz23456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@h:1",
		"kgauth1-0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@h:0",
		"kgauth1-0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@h",
		"kgauth1-0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@2001:db8::1:443",
		"kgauth1-0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@h:1",
		"kgauth1-0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@h h:1",
	};
	int refused = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused += ctl_authkey_parse(&back, bad[i]) == -EINVAL;
	T_CHECK(refused == (int)(sizeof(bad) / sizeof(bad[0])),
		"authkey: malformed keys refused (%d/%zu: prefix, length, hex, port, brackets, padding, host)", refused,
		sizeof(bad) / sizeof(bad[0]));
	const char *good = "kgauth1-0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@h:1";
	T_CHECK(ctl_authkey_parse(&back, good) == 0, "authkey: the well-formed neighbour of those parses");
	ctl_authkey_wipe(&k);
	ctl_authkey_wipe(&back);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	test_roundtrips();
	test_refusals();
	test_delta_property();
	test_authkey();
	T_DONE();
}
