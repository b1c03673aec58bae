/* agent_nft as keygated uses it: one handle applying filter after filter
 * (a random walk: peers joining and leaving rules, rules added and removed,
 * ports, served routes and source NAT changing) must leave the kernel's
 * table exactly as a fresh handle applying the same filter to a namespace
 * without the table does.  Compared: `nft -j list table inet keygate` of
 * both, handles dropped, objects and set elements sorted (rules keep their
 * place in their chain).  Two network namespaces of its own, made with
 * unshare and entered with setns (skipped where that is not allowed). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "agent_fpatch.h"
#include "agent_nft.h"
#include "log.h"
#include "t.h"
#include "ts.h"

#define STEPS 60
#define MODEL_STEPS 400
#define RULES 4
#define PEERS4 24
#define PEERS6 4
#define MEMBERS (PEERS4 + PEERS6 + 1)

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n)
{
	rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
	return (unsigned)(rs % n);
}

/* The filter the walk is at: each rule's members (bits 0-23 the IPv4 peers
 * 100.64.0.10-33, bits 24-27 the IPv6 ones, bit 28 the prefix
 * 100.64.0.8/29, which overlaps six of the peers: a patch adding or
 * removing it is left to a full build), where it goes, its ports and
 * protocols; the routes the node serves; source NAT. */
struct rule {
	bool on;
	uint32_t members;
	unsigned dst, plo, phi, proto;
};
struct walk {
	struct rule r[RULES];
	unsigned routes;
	bool snat;
};

static const char *const dsts[] = { "100.64.0.1", "10.1.0.0/24", "10.1.0.7", "10.2.0.0/16", "*",
				    "fd7a:115c:a1e0::1" };
static const char *const protos[] = { "", ",\"IPProto\":[6]", ",\"IPProto\":[17]", ",\"IPProto\":[6,17,1,58]" };
static const char *const routes[][2] = { { NULL, NULL }, { "10.1.0.0", NULL }, { "10.1.0.0", "10.2.0.0" } };

/* W as Tailscale FilterRules JSON, malloc'd. */
static char *filter_json(const struct walk *w)
{
	size_t cap = 8192, len = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	len += (size_t)snprintf(s + len, cap - len, "[");
	for (int i = 0; i < RULES; i++) {
		const struct rule *r = &w->r[i];
		if (!r->on)
			continue;
		len += (size_t)snprintf(s + len, cap - len, "%s{\"SrcIPs\":[", len > 1 ? "," : "");
		bool first = true;
		for (unsigned p = 0; p < MEMBERS; p++) {
			if (!(r->members >> p & 1))
				continue;
			if (p == MEMBERS - 1)
				len += (size_t)snprintf(s + len, cap - len, "%s\"100.64.0.8/29\"", first ? "" : ",");
			else if (p < PEERS4)
				len += (size_t)snprintf(s + len, cap - len, "%s\"100.64.0.%u\"", first ? "" : ",", 10 + p);
			else
				len += (size_t)snprintf(s + len, cap - len, "%s\"fd7a:115c:a1e0::%x\"", first ? "" : ",",
							0x10 + p);
			first = false;
		}
		len += (size_t)snprintf(s + len, cap - len,
					"],\"DstPorts\":[{\"IP\":\"%s\",\"Ports\":{\"First\":%u,\"Last\":%u}}]%s}",
					dsts[r->dst], r->plo, r->phi, protos[r->proto]);
	}
	snprintf(s + len, cap - len, "]");
	return s;
}

static void random_ports(struct rule *r)
{
	static const unsigned firsts[] = { 22, 80, 443, 1000 };
	r->plo = firsts[rnd(4)];
	r->phi = r->plo + (rnd(2) ? 0 : rnd(3000));
}

/* One random change to W, described in WHAT. */
static void step(struct walk *w, char *what, size_t len)
{
	struct rule *r = &w->r[rnd(RULES)];
	unsigned k = rnd(10), p = rnd(MEMBERS);
	if (!r->on || k == 0) {
		r->on = !r->on;
		r->members = (uint32_t)rs & ((1u << MEMBERS) - 1);
		r->dst = rnd(sizeof(dsts) / sizeof(dsts[0]));
		r->proto = rnd(4);
		random_ports(r);
		snprintf(what, len, "a rule %s", r->on ? "added" : "removed");
	} else if (k < 6) {
		r->members ^= 1u << p;
		snprintf(what, len, "peer %u %s a rule", p, r->members >> p & 1 ? "joins" : "leaves");
	} else if (k < 8) {
		random_ports(r);
		snprintf(what, len, "a rule's ports now %u-%u", r->plo, r->phi);
	} else if (k < 9) {
		w->routes = (w->routes + 1 + rnd(2)) % 3;
		snprintf(what, len, "served routes changed");
	} else {
		w->snat = !w->snat;
		snprintf(what, len, "source NAT %s", w->snat ? "on" : "off");
	}
}

static int prefix(struct ctl_prefixes *p, uint8_t family, const char *text, uint8_t bits)
{
	struct ctl_prefix *v = realloc(p->v, (p->n + 1) * sizeof(*v));
	if (!v)
		return -1;
	p->v = v;
	v[p->n] = (struct ctl_prefix){ .family = family, .bits = bits };
	if (family == 4)
		sscanf(text, "%hhu.%hhu.%hhu.%hhu", &v[p->n].addr[0], &v[p->n].addr[1], &v[p->n].addr[2],
		       &v[p->n].addr[3]);
	else /* fd7a:115c:a1e0::1 */
		memcpy(v[p->n].addr, (const uint8_t[16]){ 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, [15] = 1 }, 16);
	p->n++;
	return 0;
}

/* The netmap of W at generation GEN (the node 100.64.0.1 and
 * fd7a:115c:a1e0::1), and the routes it serves.  0 or -ENOMEM. */
static int make_map(const struct walk *w, uint64_t gen, struct ctl_netmap *m, struct ctl_prefixes *served)
{
	*m = (struct ctl_netmap){ .generation = gen, .snat = w->snat };
	*served = (struct ctl_prefixes){ 0 };
	m->filter = filter_json(w);
	if (!m->filter || prefix(&m->self.addresses, 4, "100.64.0.1", 32) < 0 ||
	    prefix(&m->self.addresses, 6, NULL, 128) < 0)
		return -ENOMEM;
	for (int i = 0; i < 2; i++)
		if (routes[w->routes][i] && prefix(served, 4, routes[w->routes][i], i ? 16 : 24) < 0)
			return -ENOMEM;
	return 0;
}

/* Apply W through N: as the delta from *PREV (the last map applied, its
 * place taken by W's) when PREV is given, as keygated applies what the
 * coordinator sends; else whole.  0 or -errno. */
static int apply(struct agent_nft *n, const struct walk *w, struct ctl_netmap *prev)
{
	struct ctl_netmap m;
	struct ctl_prefixes served;
	struct ctl_delta d = { 0 };
	struct nftm_snat_to to = { 0 };
	char err[256];
	int rc = make_map(w, prev ? prev->generation + 1 : 1, &m, &served);
	if (rc == 0 && prev && prev->filter)
		rc = ctl_netmap_delta(prev, &m, &d);
	if (rc == 0)
		rc = prev && prev->filter ? agent_nft_apply_delta(n, prev->filter, &d, &m, &served, &to,
									  err, sizeof err)
					  : agent_nft_apply(n, &m, &served, &to, err, sizeof err);
	if (rc < 0)
		printf("# apply: %s\n", rc == -ENOMEM ? "out of memory" : err);
	ctl_delta_free(&d);
	ctl_prefixes_free(&served);
	if (rc == 0 && prev) {
		ctl_netmap_free(prev);
		*prev = m;
	} else {
		ctl_netmap_free(&m);
	}
	return rc;
}

/* One more change to W, made *PREV without being applied anywhere.  0
 * or -ENOMEM. */
static int skip(struct walk *w, struct ctl_netmap *prev)
{
	struct ctl_netmap m;
	struct ctl_prefixes served;
	char what[96];
	step(w, what, sizeof what);
	int rc = make_map(w, prev->generation + 1, &m, &served);
	ctl_prefixes_free(&served);
	if (rc < 0) {
		ctl_netmap_free(&m);
		return rc;
	}
	ctl_netmap_free(prev);
	*prev = m;
	return 0;
}

/* ---- the model, without the kernel ---- */

/* W's table model from scratch, with its options in *OPTS and node in
 * *SELF, *SERVED (reset here), and the filter by rule in *FP.  NULL on
 * failure. */
static struct nftm_table *model(const struct walk *w, const char *filter, struct nftm_opts *opts,
				struct addr_set *self, struct addr_set *served, struct agent_fpatch **fp)
{
	struct ir_flows flows = { 0 };
	struct nftm_table *t = NULL;
	char err[256], text[64];
	enum addr_family f;
	addr_u128 lo, hi;
	cJSON *rules = cJSON_Parse(filter);
	addr_set_free(self);
	addr_set_free(served);
	*opts = (struct nftm_opts){ .table = "keygate", .iface = "lo", .no_snat = !w->snat };
	addr_range_parse("100.64.0.1", false, &f, &lo, &hi);
	addr_set_add(self, f, lo, hi);
	addr_range_parse("fd7a:115c:a1e0::1", false, &f, &lo, &hi);
	addr_set_add(self, f, lo, hi);
	for (int i = 0; i < 2 && routes[w->routes][i]; i++) {
		snprintf(text, sizeof text, "%s/%d", routes[w->routes][i], i ? 16 : 24);
		addr_range_parse(text, false, &f, &lo, &hi);
		addr_set_add(served, f, lo, hi);
	}
	addr_set_merge(self);
	addr_set_merge(served);
	struct nftm_node node = { self, served };
	if (ts_rules_to_ir(rules, &flows, err, sizeof err) == 0)
		t = nftm_build(opts, &node, &flows);
	ir_free(&flows);
	if (fp) {
		agent_fpatch_free(*fp);
		*fp = agent_fpatch_new(rules);
	} else {
		cJSON_Delete(rules);
	}
	return t;
}

/* Random filter changes applied to one model as patches where the delta
 * has one (agent_fpatch_apply), else by building it again, must give the
 * model a build from scratch gives (nftm_equal). */
static void test_model(void)
{
	struct walk w = { .snat = true };
	struct nftm_opts opts;
	struct addr_set self = { 0 }, served = { 0 }, self2 = { 0 }, served2 = { 0 };
	struct agent_fpatch *fp = NULL;
	size_t same = 0, patched = 0, left = 0;
	w.r[0] = (struct rule){ true, 0x3ff, 0, 22, 22, 0 };
	char *text = filter_json(&w);
	struct nftm_table *t = model(&w, text, &opts, &self, &served, &fp);
	for (int s = 0; s < MODEL_STEPS && t && fp; s++) {
		char what[96], err[256];
		struct walk before = w;
		step(&w, what, sizeof what);
		char *next = filter_json(&w);
		struct ctl_filter_patch *v = NULL;
		size_t nv = 0;
		bool took_away, untouched;
		int rc = 1;
		if (before.routes == w.routes && before.snat == w.snat && ctl_filter_diff(text, next, &v, &nv) == 0) {
			struct nftm_node node = { &self, &served };
			rc = nv ? agent_fpatch_apply(fp, v, nv, t, &opts, &node, &took_away, &untouched, err, sizeof err) : 0;
			patched += rc == 0 && nv;
			left += rc == 1;
		}
		if (rc != 0) {
			nftm_free(t);
			t = model(&w, next, &opts, &self, &served, &fp);
		}
		struct nftm_table *fresh = model(&w, next, &opts, &self2, &served2, NULL);
		bool ok = t && fresh && nftm_equal(t, fresh);
		same += ok;
		if (!ok)
			printf("# model step %d (%s): patched model differs from a fresh build\n", s, what);
		nftm_free(fresh);
		ctl_filter_patch_free(v, nv);
		free(text);
		text = next;
	}
	T_CHECK(same == MODEL_STEPS, "model: %zu of %d random filter changes (%zu applied as patches, %zu patches left "
		"to a full build) give the model a build from scratch gives", same, MODEL_STEPS, patched, left);
	T_CHECK(patched > MODEL_STEPS / 4 && left > 0, "model: most source changes patched (%zu), prefixes rebuilt (%zu)",
		patched, left);
	free(text);
	nftm_free(t);
	agent_fpatch_free(fp);
	addr_set_free(&self);
	addr_set_free(&served);
	addr_set_free(&self2);
	addr_set_free(&served2);
}

static void drop_handles(cJSON *o)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, "handle");
	for (cJSON *c = o->child; c; c = c->next)
		if (cJSON_IsObject(c) || cJSON_IsArray(c))
			drop_handles(c);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ARR's items printed and sorted, one a line, malloc'd; NULL on failure.
 * A rule is printed after its chain's name and its place in the chain. */
static char *sorted_lines(const cJSON *arr)
{
	size_t n = (size_t)cJSON_GetArraySize(arr), k = 0, len = 1;
	char **v = calloc(n + 1, sizeof(*v)), *out = NULL, last_chain[256] = "";
	unsigned nth = 0;
	if (!v)
		return NULL;
	for (const cJSON *it = arr->child; it; it = it->next) {
		const cJSON *rule = cJSON_GetObjectItemCaseSensitive(it, "rule");
		const cJSON *chain = rule ? cJSON_GetObjectItemCaseSensitive(rule, "chain") : NULL;
		char *text = cJSON_PrintUnformatted(it);
		if (!text)
			goto out;
		if (cJSON_IsString(chain)) {
			nth = strcmp(last_chain, chain->valuestring) ? 0 : nth + 1;
			snprintf(last_chain, sizeof last_chain, "%s", chain->valuestring);
		}
		size_t tl = strlen(text) + sizeof last_chain + 16;
		if (!(v[k] = malloc(tl))) {
			free(text);
			goto out;
		}
		snprintf(v[k], tl, "%s %u %s", cJSON_IsString(chain) ? chain->valuestring : "", nth, text);
		len += strlen(v[k++]) + 1;
		free(text);
	}
	qsort(v, k, sizeof(*v), str_cmp);
	if ((out = malloc(len)))
		for (size_t i = 0, at = 0; i < k; i++)
			at += (size_t)sprintf(out + at, "%s\n", v[i]);
	if (out && !k)
		*out = '\0';
out:
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return out;
}

/* Sort every set's elements in place (their order is the kernel's). */
static void sort_elems(cJSON *arr)
{
	for (cJSON *it = arr->child; it; it = it->next) {
		cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "set");
		if (!s)
			s = cJSON_GetObjectItemCaseSensitive(it, "map");
		cJSON *e = s ? cJSON_GetObjectItemCaseSensitive(s, "elem") : NULL;
		char *sorted = e ? sorted_lines(e) : NULL;
		if (sorted)
			cJSON_ReplaceItemInObjectCaseSensitive(s, "elem", cJSON_CreateString(sorted));
		free(sorted);
	}
}

/* The table as this namespace's `nft -j list table inet keygate` shows
 * it, normalised; malloc'd, NULL on failure. */
static char *listing(void)
{
	FILE *p = popen("nft -j list table inet keygate 2>/dev/null", "r");
	char *buf = NULL, *out = NULL;
	size_t cap = 0, len = 0;
	if (!p)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *b = realloc(buf, cap = cap * 2 + 8192);
			if (!b)
				goto out;
			buf = b;
		}
		size_t got = fread(buf + len, 1, 4096, p);
		if (got == 0)
			break;
		len += got;
	}
	buf[len] = '\0';
	cJSON *root = cJSON_Parse(buf);
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "nftables");
	if (cJSON_IsArray(arr)) {
		cJSON_DeleteItemFromArray(arr, 0); /* metainfo: nft's version */
		drop_handles(arr);
		sort_elems(arr);
		out = sorted_lines(arr);
	}
	cJSON_Delete(root);
out:
	pclose(p);
	free(buf);
	return out;
}

/* A namespace of our own, entered; its fd, or -1. */
static int new_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	return open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
}

/* The first line where A and B differ, for the log. */
static void show_diff(const char *a, const char *b)
{
	size_t i = 0, line = 0;
	while (a[i] && a[i] == b[i])
		line = a[i++] == '\n' ? i : line;
	printf("#   incremental: %.300s\n#   from scratch: %.300s\n", a + line, b + line);
}

int main(void)
{
	log_init("test_agent_nft", true, LOG_LEVEL_WARN);
	test_model();
	int inc_ns = new_netns(), fresh_ns = inc_ns >= 0 ? new_netns() : -1;
	if (fresh_ns < 0 || system("nft --version >/dev/null 2>&1") != 0) {
		T_SKIP("agent_nft: no network namespaces of our own or no nft here (%s)", strerror(errno));
		T_DONE();
	}
	struct agent_nft *inc = agent_nft_new(NULL, "lo");
	struct walk w = { .snat = true };
	struct ctl_netmap prev = { 0 };
	w.r[0] = (struct rule){ true, 0x3ff, 0, 22, 22, 0 };
	size_t same = 0, patched = 0, skipped = 0;
	for (int s = 0; s <= STEPS && inc; s++) {
		char what[96] = "the first filter";
		if (s && rnd(8) == 0 && skip(&w, &prev) == 0)
			skipped++;	/* a filter change this handle never saw: the next patch does not fit */
		if (s)
			step(&w, what, sizeof what);
		char *a = NULL, *b = NULL;
		int rc = setns(inc_ns, CLONE_NEWNET) < 0 ? -errno : apply(inc, &w, &prev);
		patched += rc == 0 && agent_nft_last_patched(inc);
		if (rc == 0)
			a = listing();
		struct agent_nft *fresh = NULL;
		if (rc == 0 && setns(fresh_ns, CLONE_NEWNET) == 0 && (fresh = agent_nft_new(NULL, "lo")) &&
		    agent_nft_remove(fresh) == 0 && apply(fresh, &w, NULL) == 0)
			b = listing();
		agent_nft_free(fresh);
		bool ok = a && b && strcmp(a, b) == 0 && strstr(a, "sources4");
		same += ok;
		T_CHECK(ok, "step %d (%s): the table after applying over the last one is the one a fresh apply makes",
			s, what);
		if (a && b && !ok)
			show_diff(a, b);
		free(a);
		free(b);
	}
	T_CHECK(inc && same == STEPS + 1,
		"%zu of %d random filter changes (%zu of them patches of the last table; %zu more changes never "
		"applied, the patch after them rebuilt): incremental and from scratch alike", same, STEPS + 1, patched,
		skipped);
	T_CHECK(patched > STEPS / 4, "most peers joining or leaving a rule were patches of the last table (%zu)", patched);
	ctl_netmap_free(&prev);
	agent_nft_free(inc);
	close(inc_ns);
	close(fresh_ns);
	T_DONE();
}
