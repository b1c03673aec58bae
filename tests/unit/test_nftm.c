/* The nftables model (nftm) and its text backend (nftt): hand-written rules,
 * the model's own verdicts against ir_match on random packets, identity-first
 * updates, canonical output. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nftm.h"
#include "nftt.h"
#include "ir_test.h"
#include "t.h"

/* A hand-written rule: a source range, a destination range, protocols
 * PLO..PHI (one IR box each), a port range. */
struct hbox {
	const char *slo, *shi, *dlo, *dhi;
	unsigned plo, phi, portlo, porthi;
};

static int flows_of(struct ir_flows *f, const struct hbox *h, size_t n)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < n; i++)
		for (unsigned p = h[i].plo; p <= h[i].phi; p++) {
			struct ir_box b = {
				.family = strchr(h[i].slo, ':') ? ADDR_V6 : ADDR_V4, .proto = (uint8_t)p,
				.port_lo = (uint16_t)h[i].portlo, .port_hi = (uint16_t)h[i].porthi,
				.dst_lo = a128(h[i].dlo), .dst_hi = a128(h[i].dhi),
				.src_lo = a128(h[i].slo), .src_hi = a128(h[i].shi),
			};
			if (ir_add(f, &b, NULL) < 0)
				return -1;
		}
	return ir_canonicalize(f);
}

static void addr(const char *s, uint8_t *out)
{
	memset(out, 0, 16);
	inet_pton(strchr(s, ':') ? AF_INET6 : AF_INET, s, out);
}

static char *render(const struct nftm_table *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	nftt_write(f, t, &(struct nftt_origin){ .policy = "p.hujson", .node = "relay-1" });
	fclose(f);
	return buf;
}

static void test_ranges(void)
{
	static const struct { enum nftm_field f; const char *lo, *hi; unsigned nlo, nhi; const char *want; } cases[] = {
		{ NFTM_F_SADDR4, "10.0.0.0", "10.255.255.255", 0, 0, "10.0.0.0/8" },
		{ NFTM_F_SADDR4, "100.64.0.2", "100.64.0.2", 0, 0, "100.64.0.2" },
		{ NFTM_F_SADDR4, "100.64.0.2", "100.64.0.3", 0, 0, "100.64.0.2/31" },
		{ NFTM_F_SADDR4, "100.64.0.2", "100.64.0.4", 0, 0, "100.64.0.2-100.64.0.4" },
		{ NFTM_F_DADDR4, "0.0.0.0", "255.255.255.255", 0, 0, "0.0.0.0/0" },
		{ NFTM_F_SADDR6, "fd7a:115c:a1e0::", "fd7a:115c:a1e0:ffff:ffff:ffff:ffff:ffff", 0, 0, "fd7a:115c:a1e0::/48" },
		{ NFTM_F_DADDR6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::1", 0, 0, "fd7a:115c:a1e0::1" },
		{ NFTM_F_DADDR6, "::1", "::3", 0, 0, "::1-::3" },
		{ NFTM_F_DPORT, NULL, NULL, 443, 443, "443" },
		{ NFTM_F_DPORT, NULL, NULL, 0, 65535, "0-65535" },
		{ NFTM_F_L4PROTO, NULL, NULL, 18, 32, "18-32" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nftm_range r;
		memset(&r, 0, sizeof(r));
		if (cases[i].lo) {
			addr(cases[i].lo, r.lo);
			addr(cases[i].hi, r.hi);
		} else if (cases[i].f == NFTM_F_DPORT) {
			r.lo[0] = (uint8_t)(cases[i].nlo >> 8), r.lo[1] = (uint8_t)cases[i].nlo;
			r.hi[0] = (uint8_t)(cases[i].nhi >> 8), r.hi[1] = (uint8_t)cases[i].nhi;
		} else {
			r.lo[0] = (uint8_t)cases[i].nlo, r.hi[0] = (uint8_t)cases[i].nhi;
		}
		char buf[NFTT_RANGE_MAX];
		nftt_range(buf, cases[i].f, &r);
		T_STREQ(buf, cases[i].want, "range case %zu prints as expected", i);
	}
}

static void test_opts(void)
{
	static const struct { const char *table, *iface; int want; } cases[] = {
		{ NULL, NULL, 0 }, { "kg_2", "wg0", 0 }, { "2kg", NULL, -EINVAL }, { "a b", NULL, -EINVAL },
		{ "kg-x", NULL, -EINVAL }, { NULL, "", -EINVAL }, { NULL, "x\"y", -EINVAL },
		{ NULL, "0123456789abcdef", -EINVAL }, { NULL, "0123456789abcde", 0 }, { NULL, "tun 0", -EINVAL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		struct nftm_opts o = { .table = cases[i].table, .iface = cases[i].iface };
		int rc = nftm_opts_check(&o, &why);
		T_CHECK(rc == cases[i].want && (rc == 0 || why), "options table=%s iface=%s: %s",
			cases[i].table ? cases[i].table : "(default)", cases[i].iface ? cases[i].iface : "(default)",
			cases[i].want ? "rejected with a reason" : "accepted");
	}
}

/* A relay like examples/relay.hujson's, by hand, with two more routes. */
static const char *const self_s[] = { "100.64.0.1", "fd7a:115c:a1e0::1" };
static const char *const routes_s[] = { "8.8.8.8/32", "8.8.4.4/32", "10.1.0.0/16", "10.1.2.0/24" };

static struct nftm_table *relay(const struct nftm_opts *o, const struct hbox *h, size_t n)
{
	struct addr_set self = { 0 }, routes = { 0 };
	struct ir_flows f;
	struct nftm_table *t = NULL;
	for (size_t i = 0; i < 2; i++) {
		enum addr_family fam;
		addr_u128 lo, hi;
		addr_range_parse(self_s[i], false, &fam, &lo, &hi);
		addr_set_add(&self, fam, lo, hi);
	}
	for (size_t i = 0; i < 4; i++) {
		enum addr_family fam;
		addr_u128 lo, hi;
		addr_range_parse(routes_s[i], false, &fam, &lo, &hi);
		addr_set_add(&routes, fam, lo, hi);
	}
	struct nftm_node node = { &self, &routes };
	if (flows_of(&f, h, n) == 0)
		t = nftm_build(o, &node, &f);
	else
		printf("# flows_of failed\n");
	ir_free(&f);
	addr_set_free(&self);
	addr_set_free(&routes);
	return t;
}


/* TEXT holds each of LINES[0..N). */
static void check_text(const char *text, const char *const *lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		T_CHECK(text && strstr(text, lines[i]), "text holds expected fragment %zu: %.*s", i,
			(int)strcspn(lines[i], "\n"), lines[i]);
}

static bool eval4(const struct nftm_table *t, const char *s, const char *d, unsigned proto, unsigned port)
{
	bool v6 = strchr(s, ':') != NULL;
	return nftm_eval(t, v6 ? ADDR_V6 : ADDR_V4, proto, a128(s), a128(d), port);
}

static void test_build(void)
{
	struct hbox b[] = {
		/* group:eng to both API addresses, TCP 443: a range that spans
		 * 8.8.4.4..8.8.8.8 is clipped to the two served /32s. */
		{ "100.64.0.2", "100.64.0.3", "8.8.4.4", "8.8.8.8", 6, 6, 443, 443 },
		/* every protocol to the relay itself from one peer */
		{ "100.64.0.4", "100.64.0.4", "100.64.0.1", "100.64.0.1", 0, 255, 0, 65535 },
		/* to an address the node neither has nor serves: never accepted */
		{ "100.64.0.5", "100.64.0.5", "1.1.1.1", "1.1.1.1", 17, 17, 53, 53 },
		/* IPv6 ICMP to the relay */
		{ "fd7a:115c:a1e0::2", "fd7a:115c:a1e0::3", "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::1", 58, 58, 0, 65535 },
	};
	struct nftm_opts o = { 0 };
	struct nftm_table *t = relay(&o, b, sizeof(b) / sizeof(b[0]));
	T_CHECK(t != NULL, "model built from 4 hand-written rules");
	if (!t)
		return;
	T_CHECK(t->identities[0] == 2 && t->identities[1] == 1,
		"identities: 2 IPv4 (.2-.3 and .4; .5 reaches nothing the node serves), 1 IPv6 (got %zu, %zu)",
		t->identities[0], t->identities[1]);
	T_CHECK(t->sets[NFTM_SET_SOURCES4].n == 2 && t->sets[NFTM_SET_SOURCES6].n == 1,
		"source maps: 2 IPv4 ranges, 1 IPv6 range (got %zu, %zu)", t->sets[NFTM_SET_SOURCES4].n,
		t->sets[NFTM_SET_SOURCES6].n);
	const struct nftm_chain *post = t->nchains > NFTM_CHAIN_POSTROUTING ? &t->chains[NFTM_CHAIN_POSTROUTING] : NULL;
	T_CHECK(post && post->type == NFTM_CHAIN_NAT && post->nrules == 1 && post->rules[0].kind == NFTM_R_IIF_MASQ,
		"postrouting: one masquerade rule for what leaves the tunnel, no set of routes to keep in step");
	size_t fixed_sets = 0;
	for (size_t i = 0; i < t->nsets; i++)
		fixed_sets += t->sets[i].fixed;
	T_CHECK(fixed_sets == 2, "the only fixed sets are the two sources maps (got %zu)", fixed_sets);

	static const struct { const char *s, *d; unsigned proto, port; bool want; } probes[] = {
		{ "100.64.0.2", "8.8.8.8", 6, 443, true }, { "100.64.0.3", "8.8.4.4", 6, 443, true },
		{ "100.64.0.3", "8.8.6.6", 6, 443, false }, { "100.64.0.2", "8.8.8.8", 6, 444, false },
		{ "100.64.0.2", "8.8.8.8", 17, 443, false }, { "100.64.0.4", "100.64.0.1", 47, 0, true },
		{ "100.64.0.4", "100.64.0.1", 17, 9, true }, { "100.64.0.4", "8.8.8.8", 6, 443, false },
		{ "100.64.0.5", "1.1.1.1", 17, 53, false }, { "100.64.0.6", "100.64.0.1", 6, 22, false },
		{ "fd7a:115c:a1e0::3", "fd7a:115c:a1e0::1", 58, 0, true },
		{ "fd7a:115c:a1e0::4", "fd7a:115c:a1e0::1", 58, 0, false },
	};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		T_CHECK(eval4(t, probes[i].s, probes[i].d, probes[i].proto, probes[i].port) == probes[i].want,
			"model: %s -> %s proto %u port %u %s", probes[i].s, probes[i].d, probes[i].proto,
			probes[i].port, probes[i].want ? "accepted" : "dropped");

	char *text = render(t);
	static const char *const lines[] = {
		"table inet keygate\ndelete table inet keygate\n\ntable inet keygate {\n",
		"\t\ttype ipv4_addr . inet_proto . inet_service\n\t\tflags interval\n",
		"\t\t\t8.8.4.4 . 6 . 443,\n\t\t\t8.8.8.8 . 6 . 443\n",
		"\t\t\t100.64.0.1 . 0-255\n",
		"\t\t\tfd7a:115c:a1e0::1 . 58\n",
		"\tmap sources4 {\n\t\ttype ipv4_addr : verdict\n\t\tflags interval\n\t\telements = {\n\t\t\t100.64.0.2/31 : jump id4_",
		"\t\ttype filter hook input priority filter; policy accept;\n\t\tiifname \"keygate0\" jump from_tunnel\n",
		"\t\tct state established,related meta mark set meta mark | 0x01000000 accept\n\t\tct state invalid drop\n",
		"\t\tip saddr vmap @sources4\n\t\tip6 saddr vmap @sources6\n",
		"\t\tdrop\n\t}\n",
		"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		"\t\tiifname \"keygate0\" oifname != \"keygate0\" masquerade\n",
		"an accept here is final only within this table's base chain",
	};
	check_text(text, lines, sizeof(lines) / sizeof(lines[0]));
	T_CHECK(text && !strstr(text, "1.1.1.1"), "text never names a destination the node does not serve");
	T_CHECK(text && !strstr(text, "\nflush"), "text never flushes anything");
	/* Every identity chain is defined before the map that jumps to it. */
	T_CHECK(text && strstr(text, "\tchain id4_") && strstr(text, "\tchain id4_") < strstr(text, "\tmap sources4"),
		"identity chains come before the source maps");
	free(text);

	struct nftm_opts o2 = { .table = "kgtest", .iface = "wg7", .no_snat = true };
	struct nftm_table *t2 = relay(&o2, b, 1);
	text = t2 ? render(t2) : NULL;
	T_CHECK(text && strstr(text, "delete table inet kgtest\n") && strstr(text, "iifname \"wg7\" jump") &&
		!strstr(text, " masquerade\n") && !strstr(text, "hook postrouting"),
		"--table, --iface and --no-snat: renamed table, other interface, no NAT chain");
	T_CHECK(t2 && !nftm_same_shape(t, t2), "models with different options differ in shape");
	free(text);
	nftm_free(t2);

	/* --snat-to: fixed addresses first, masquerade for a family without one. */
	struct nftm_opts o3 = { .table = NULL };
	char why[160];
	T_CHECK(nftm_snat_to_parse("192.0.2.7", &o3.snat_to, why, sizeof(why)) == 0 && o3.snat_to.has4 &&
			!o3.snat_to.has6, "--snat-to 192.0.2.7: an IPv4 address");
	struct nftm_table *t3 = relay(&o3, b, 1);
	text = t3 ? render(t3) : NULL;
	T_CHECK(text && strstr(text, "iifname \"keygate0\" oifname != \"keygate0\" meta nfproto ipv4 snat ip to 192.0.2.7\n"
				 "\t\tiifname \"keygate0\" oifname != \"keygate0\" masquerade\n") &&
			strstr(text, "source NAT on (IPv4 to 192.0.2.7, IPv6 to masquerade)"),
		"--snat-to IPv4: snat ip to the address, then masquerade for IPv6");
	T_CHECK(t3 && !nftm_same_shape(t, t3), "... a model with --snat-to differs in shape from one without");
	free(text);
	T_CHECK(nftm_snat_to_parse("2001:db8::7,192.0.2.8", &o3.snat_to, why, sizeof(why)) == 0 &&
			o3.snat_to.has4 && o3.snat_to.has6, "--snat-to with both families");
	struct nftm_table *t4 = relay(&o3, b, 1);
	text = t4 ? render(t4) : NULL;
	T_CHECK(text && strstr(text, "snat ip to 192.0.2.8\n") && strstr(text, "snat ip6 to 2001:db8::7\n") &&
			!strstr(text, " masquerade\n"), "--snat-to both: no masquerade left");
	T_CHECK(t3 && t4 && !nftm_same_shape(t3, t4), "... another address is another shape");
	free(text);
	nftm_free(t3);
	nftm_free(t4);
	static const char *const bad[] = { "", "192.0.2.1,192.0.2.2", "10.0.0.0/8", "host", "192.0.2.1,,x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_CHECK(nftm_snat_to_parse(bad[i], &o3.snat_to, why, sizeof(why)) == -EINVAL,
			"--snat-to \"%s\" refused: %s", bad[i], why);
	struct nftm_opts o5 = { .no_snat = true };
	const char *w = NULL;
	nftm_snat_to_parse("192.0.2.7", &o5.snat_to, why, sizeof(why));
	T_CHECK(nftm_opts_check(&o5, &w) == -EINVAL && w, "--no-snat with --snat-to refused: %s", w ? w : "");
	nftm_free(t);
}

/* The model's verdicts against the IR's own (ir_match, for destinations
 * the node has or serves) on random rules and random packets. */
static uint64_t rs = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
	rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
	return (unsigned)(rs % n);
}

static const char *const dsts[] = { "100.64.0.1", "8.8.8.8", "8.8.4.4", "10.1.0.0", "10.1.2.77", "10.1.255.255",
				    "9.9.9.9" };
static const unsigned protos[] = { 1, 6, 17, 47, 58, 132 };

/* Random rules over sources 100.64.0.2-37: their text lives in a struct
 * rtext, rule I's in row I. */
#define RULES_MAX 24
struct rtext {
	char lo[RULES_MAX][20], hi[RULES_MAX][20], dl[RULES_MAX][20], dh[RULES_MAX][20];
};

static void random_rule(struct hbox *h, struct rtext *txt, size_t i)
{
	unsigned a = 2 + rnd(30), b = a + (rnd(3) ? 0 : rnd(6));
	snprintf(txt->lo[i], sizeof(txt->lo[i]), "100.64.0.%u", a);
	snprintf(txt->hi[i], sizeof(txt->hi[i]), "100.64.0.%u", b);
	const char *d = dsts[rnd(7)];
	snprintf(txt->dl[i], sizeof(txt->dl[i]), "%s", d);
	snprintf(txt->dh[i], sizeof(txt->dh[i]), "%s", !strcmp(d, "10.1.0.0") ? "10.1.7.255" : d);
	unsigned p = protos[rnd(6)], pl = rnd(4) ? 0 : p, ph = pl ? p : 255;
	unsigned portlo = (unsigned[]){ 22, 80, 443, 1000 }[rnd(4)];
	*h = (struct hbox){ txt->lo[i], txt->hi[i], txt->dl[i], txt->dh[i], pl ? pl : p, ph == 255 && !pl ? p : ph,
			    portlo, portlo + (rnd(2) ? 0 : rnd(3000)) };
	if (rnd(5) == 0)
		h->plo = 0, h->phi = 255;
}

static void test_random(void)
{
	size_t mism = 0, acc = 0, total = 0;
	for (int round = 0; round < 20; round++) {
		struct hbox h[RULES_MAX];
		struct rtext txt;
		size_t n = 4 + rnd(20);
		for (size_t i = 0; i < n; i++)
			random_rule(&h[i], &txt, i);
		struct ir_flows f;
		struct nftm_opts o = { 0 };
		struct nftm_table *t = relay(&o, h, n);
		if (!t || flows_of(&f, h, n) < 0) {
			mism++;
			nftm_free(t);
			continue;
		}
		for (int k = 0; k < 2000; k++) {
			addr_u128 s = a128("100.64.0.0") + rnd(40), d = a128(dsts[rnd(7)]) + (rnd(3) ? 0 : rnd(2048));
			unsigned p = rnd(4) ? protos[rnd(6)] : rnd(256), port = rnd(3) ? (unsigned[]){ 22, 80, 443, 1000 }[rnd(4)] : rnd(65536);
			if (rnd(2)) { /* inside a random rule, perhaps nudged out */
				const struct hbox *r = &h[rnd((unsigned)n)];
				s = a128(r->slo) + rnd(2);
				d = a128(r->dlo) + rnd(2);
				p = r->plo + rnd(r->phi - r->plo + 1);
				port = r->portlo + rnd(2);
			}
			bool served = (d == a128("100.64.0.1")) || d == a128("8.8.8.8") || d == a128("8.8.4.4") ||
				      (d >= a128("10.1.0.0") && d <= a128("10.1.255.255"));
			bool want = served && ir_match(&f, ADDR_V4, p, s, d, port);
			bool got = nftm_eval(t, ADDR_V4, p, s, d, port);
			mism += want != got;
			acc += got;
			total++;
		}
		ir_free(&f);
		nftm_free(t);
	}
	T_CHECK(mism == 0 && acc > total / 20 && acc < total - total / 20,
		"model vs ir_match on %zu random packets over 20 random rule sets: %zu mismatches, %zu accepted", total,
		mism, acc);
}

/* Does every packet OLD accepts from 100.64.0.0-40 (to the relay's
 * destinations, a few protocols and ports), NEW accept too? */
static bool accepts_all_of(const struct nftm_table *new_, const struct nftm_table *old)
{
	/* the rules' first ports and ports past them */
	static const unsigned ports[] = { 22, 23, 80, 81, 101, 443, 444, 543, 1000, 1001, 1100, 2000, 3500 };
	for (unsigned s = 0; s <= 40; s++)
		for (size_t d = 0; d < sizeof(dsts) / sizeof(dsts[0]); d++)
			for (size_t p = 0; p < sizeof(protos) / sizeof(protos[0]); p++)
				for (size_t k = 0; k < sizeof(ports) / sizeof(ports[0]); k++) {
					addr_u128 src = a128("100.64.0.0") + s, dst = a128(dsts[d]);
					if (nftm_eval(old, ADDR_V4, protos[p], src, dst, ports[k]) &&
					    !nftm_eval(new_, ADDR_V4, protos[p], src, dst, ports[k]))
						return false;
				}
	return true;
}

/* nftm_admits_all, which lets the agent skip re-checking open connections
 * after a change: never true when the new table denies something the old
 * one accepted (random changes: a rule added or removed, its sources or
 * ports changed), and true for a device joining a group. */
static void test_admits_all(void)
{
	struct nftm_opts o = { 0 };
	size_t said = 0, wrong = 0, rounds = 200;
	for (size_t round = 0; round < rounds; round++) {
		struct hbox a[RULES_MAX], b[RULES_MAX];
		struct rtext ta, tb;
		size_t na = 3 + rnd(10), nb = na;
		for (size_t i = 0; i < na; i++)
			random_rule(&a[i], &ta, i);
		memcpy(b, a, sizeof(b));
		size_t i = rnd((unsigned)na);
		switch (rnd(4)) {
		case 0: /* a rule more */
			random_rule(&b[nb++], &tb, na);
			break;
		case 1: /* a rule less */
			b[i] = b[--nb];
			break;
		case 2: /* one rule's sources grown or moved */
			snprintf(tb.hi[i], sizeof(tb.hi[i]), "100.64.0.%u", (unsigned)(a128(b[i].slo) & 0xff) + rnd(8));
			b[i].shi = tb.hi[i];
			break;
		default: /* one rule's ports changed */
			b[i].portlo = (unsigned[]){ 22, 80, 443, 1000 }[rnd(4)];
			b[i].porthi = b[i].portlo + rnd(100);
		}
		struct nftm_table *old = relay(&o, a, na), *new_ = relay(&o, b, nb);
		if (!old || !new_) {
			wrong++;
		} else if (nftm_admits_all(new_, old)) {
			said++;
			wrong += !accepts_all_of(new_, old);
		}
		nftm_free(old);
		nftm_free(new_);
	}
	T_CHECK(wrong == 0 && said > rounds / 10 && said < rounds - rounds / 10,
		"admits_all over %zu random changes: true %zu times, never while a packet the old table accepted is denied (%zu wrong)",
		rounds, said, wrong);

	struct hbox before[] = {
		{ "100.64.0.2", "100.64.0.3", "8.8.8.8", "8.8.8.8", 6, 6, 443, 443 },
		{ "100.64.0.9", "100.64.0.9", "100.64.0.1", "100.64.0.1", 6, 6, 22, 22 },
	}, after[2];
	memcpy(after, before, sizeof(after));
	after[0].shi = "100.64.0.4";
	struct nftm_table *x = relay(&o, before, 2), *y = relay(&o, after, 2);
	T_CHECK(x && y && nftm_admits_all(y, x) && nftm_admits_all(x, x),
		"a device joining a group, or no change: admits all");
	T_CHECK(x && y && !nftm_admits_all(x, y), "the device leaving again: does not");
	nftm_free(x);
	nftm_free(y);
	struct hbox whole[] = { { "100.64.0.2", "100.64.0.6", "8.8.8.8", "8.8.8.8", 6, 6, 443, 443 } };
	struct hbox gap[] = { { "100.64.0.2", "100.64.0.3", "8.8.8.8", "8.8.8.8", 6, 6, 443, 443 },
			      { "100.64.0.5", "100.64.0.6", "8.8.8.8", "8.8.8.8", 6, 6, 443, 443 } };
	x = relay(&o, whole, 1);
	y = relay(&o, gap, 2);
	T_CHECK(x && y && !nftm_admits_all(y, x) && nftm_admits_all(x, y),
		"a member leaving from the middle of a group's range: does not (and joining again: does)");
	nftm_free(x);
	nftm_free(y);
}

/* Many identities (the index of identities grows and rehashes several
 * times): 300 sources in pairs, each pair with ports of its own, written
 * as one rule for the first source and two for the second (other rules,
 * the same rights: one identity). */
static void test_many_identities(void)
{
	enum { N = 300 };
	static struct hbox h[2 * N];
	static char src[N][20];
	size_t n = 0;
	for (unsigned i = 0; i < N; i++) {
		unsigned p = 1000 + 4 * (i / 2);
		snprintf(src[i], sizeof(src[i]), "100.64.%u.%u", 1 + i / 200, 1 + i % 200);
		if (i % 2 == 0) {
			h[n++] = (struct hbox){ src[i], src[i], "100.64.0.1", "100.64.0.1", 6, 6, p, p + 1 };
		} else {
			h[n++] = (struct hbox){ src[i], src[i], "100.64.0.1", "100.64.0.1", 6, 6, p + 1, p + 1 };
			h[n++] = (struct hbox){ src[i], src[i], "100.64.0.1", "100.64.0.1", 6, 6, p, p };
		}
	}
	struct nftm_opts o = { 0 };
	struct nftm_table *t = relay(&o, h, n);
	size_t wrong = 0, dup = 0;
	for (unsigned i = 0; t && i < N; i++) {
		addr_u128 a = a128(src[i]), d = a128("100.64.0.1");
		unsigned p = 1000 + 4 * (i / 2);
		wrong += !nftm_eval(t, ADDR_V4, 6, a, d, p) || !nftm_eval(t, ADDR_V4, 6, a, d, p + 1) ||
			 nftm_eval(t, ADDR_V4, 6, a, d, p + 4);
	}
	for (size_t i = NFTM_CHAIN_POSTROUTING + 1; t && i < t->nchains; i++)
		for (size_t j = i + 1; j < t->nchains; j++)
			dup += !strcmp(t->chains[i].name, t->chains[j].name);
	T_CHECK(t && t->identities[0] == N / 2 && wrong == 0 && dup == 0,
		"%d sources, pairs with equal rights written differently: %d identities (got %zu), names unique "
		"(%zu alike), each pair reaches its own ports only (%zu wrong)",
		N, N / 2, t ? t->identities[0] : 0, dup, wrong);
	nftm_free(t);
}

/* The same packets written as different rules give the same table. */
static void test_canonical(void)
{
	struct hbox one[] = {
		{ "100.64.0.2", "100.64.0.9", "10.1.0.0", "10.1.255.255", 6, 6, 1000, 2000 },
	};
	struct hbox split[] = {
		{ "100.64.0.6", "100.64.0.9", "10.1.0.0", "10.1.255.255", 6, 6, 1000, 2000 },
		{ "100.64.0.2", "100.64.0.5", "10.1.128.0", "10.1.255.255", 6, 6, 1000, 1500 },
		{ "100.64.0.2", "100.64.0.5", "10.1.0.0", "10.1.127.255", 6, 6, 1000, 2000 },
		{ "100.64.0.2", "100.64.0.5", "10.1.128.0", "10.1.255.255", 6, 6, 1400, 2000 },
		{ "100.64.0.3", "100.64.0.3", "10.1.2.0", "10.1.2.255", 6, 6, 1200, 1300 },
	};
	struct nftm_opts o = { 0 };
	struct nftm_table *a = relay(&o, one, 1), *b = relay(&o, split, 5);
	char *ta = a ? render(a) : NULL, *tb = b ? render(b) : NULL;
	T_CHECK(ta && tb && strcmp(ta, tb) == 0, "one rule, or five overlapping pieces of it: the same ruleset text");
	T_CHECK(a && a->identities[0] == 1 && a->sets[NFTM_SET_SOURCES4].n == 1,
		"... one identity, one source range");
	free(ta);
	free(tb);
	nftm_free(a);
	nftm_free(b);
}

/* Identity first: a device joining a group is a map update, no set changes. */
static void test_diff(void)
{
	struct hbox before[] = {
		{ "100.64.0.2", "100.64.0.3", "8.8.4.4", "8.8.4.4", 6, 6, 443, 443 },
		{ "100.64.0.2", "100.64.0.3", "8.8.8.8", "8.8.8.8", 6, 6, 443, 443 },
		{ "100.64.0.9", "100.64.0.9", "100.64.0.1", "100.64.0.1", 6, 6, 22, 22 },
		{ "100.64.0.7", "100.64.0.7", "8.8.8.8", "8.8.8.8", 6, 6, 443, 443 },
		{ "100.64.0.7", "100.64.0.7", "8.8.4.4", "8.8.4.4", 6, 6, 443, 443 },
	};
	struct hbox after[5];
	memcpy(after, before, sizeof(after));
	after[0].shi = after[1].shi = "100.64.0.4"; /* 100.64.0.4 joins the group of .2-.3 */
	struct nftm_opts o = { 0 };
	struct nftm_table *a = relay(&o, before, 5), *b = relay(&o, after, 5);
	T_CHECK(a && b && nftm_same_shape(a, b), "a device joining an existing identity keeps the table's shape");
	if (!a || !b)
		goto out;
	T_CHECK(a->identities[0] == 2, "100.64.0.7 and the group share one identity: 2 identities (got %zu)",
		a->identities[0]);
	size_t adds = 0, dels = 0, set_changes = 0;
	for (size_t i = 0; i < a->nsets; i++) {
		struct nftm_delta d;
		if (nftm_set_diff(a, &a->sets[i], b, &b->sets[i], &d) < 0)
			break;
		if (i == NFTM_SET_SOURCES4) {
			adds = d.nadd, dels = d.ndel;
			char buf[NFTT_RANGE_MAX];
			if (d.nadd)
				nftt_range(buf, NFTM_F_SADDR4, &d.add[0].k[0]);
			T_STREQ(d.nadd ? buf : NULL, "100.64.0.2-100.64.0.4", "the map's new element carries the grown source range");
		} else {
			set_changes += d.nadd + d.ndel;
		}
		nftm_delta_free(&d);
	}
	T_CHECK(adds == 1 && dels == 1 && set_changes == 0,
		"joining: 1 map element added, 1 deleted, no identity set touched (got %zu, %zu, %zu)", adds, dels,
		set_changes);
	struct nftm_delta same;
	T_CHECK(nftm_set_diff(a, &a->sets[NFTM_SET_SOURCES4], a, &a->sets[NFTM_SET_SOURCES4], &same) == 0 &&
		same.nadd == 0 && same.ndel == 0, "a set diffed with itself: nothing to do");
	nftm_delta_free(&same);
out:
	nftm_free(a);
	nftm_free(b);
}

static void test_bad(void)
{
	struct nftm_opts bad = { .table = "no way" };
	errno = 0;
	struct nftm_table *t = relay(&bad, NULL, 0);
	T_CHECK(!t && errno == EINVAL, "a bad table name is refused with EINVAL");
	nftm_free(t);
	struct nftm_opts o = { 0 };
	t = relay(&o, NULL, 0);
	char *text = t ? render(t) : NULL;
	T_CHECK(text && strstr(text, "\tmap sources4 {\n\t\ttype ipv4_addr : verdict\n\t\tflags interval\n\t}") &&
		!strstr(text, "chain id"), "an empty policy: empty source maps, no identities, still a whole table");
	T_CHECK(t && !nftm_eval(t, ADDR_V4, 6, a128("100.64.0.2"), a128("8.8.8.8"), 443), "... which drops from the tunnel");
	free(text);
	nftm_free(t);
}

/* The cheaper decomposition for the kernel: a /16 on TCP 443 and one host
 * in it on TCP 22 as two elements (port-major), not the /16 cut around the
 * host for each port (destination-major: four elements whose ranges split
 * into dozens of prefixes); every port of UDP to a host in the protocol
 * set, without a port field. */
static void test_decompose(void)
{
	struct hbox b[] = {
		{ "100.64.0.2", "100.64.0.2", "10.1.0.0", "10.1.255.255", 6, 6, 443, 443 },
		{ "100.64.0.2", "100.64.0.2", "10.1.2.77", "10.1.2.77", 6, 6, 22, 22 },
		{ "100.64.0.2", "100.64.0.2", "8.8.8.8", "8.8.8.8", 17, 17, 0, 65535 },
	};
	struct nftm_opts o = { 0 };
	struct nftm_table *t = relay(&o, b, sizeof(b) / sizeof(b[0]));
	T_CHECK(t != NULL, "model built from a route, a host in it and an any-port rule");
	if (!t)
		return;
	const struct nftm_set *ports = NULL, *proto = NULL;
	for (size_t i = 0; i < t->nsets; i++) {
		if (strstr(t->sets[i].name, "_ports"))
			ports = &t->sets[i];
		if (strstr(t->sets[i].name, "_proto"))
			proto = &t->sets[i];
	}
	T_CHECK(ports && ports->n == 2, "port-major: 2 elements in the ports set, not 4 (got %zu)", ports ? ports->n : 0);
	T_CHECK(proto && proto->n == 1 && proto->nkey == 2, "UDP on every port: 1 element in the protocol set (got %zu)",
		proto ? proto->n : 0);
	char *text = render(t);
	static const char *const lines[] = {
		"\t\t\t10.1.0.0/16 . 6 . 443,\n\t\t\t10.1.2.77 . 6 . 22\n",
		"\t\t\t8.8.8.8 . 17\n",
	};
	check_text(text, lines, sizeof(lines) / sizeof(lines[0]));
	free(text);
	static const struct { const char *d; unsigned proto, port; bool want; } probes[] = {
		{ "10.1.2.77", 6, 22, true }, { "10.1.2.78", 6, 22, false }, { "10.1.2.76", 6, 22, false },
		{ "10.1.2.77", 6, 443, true }, { "10.1.200.1", 6, 443, true }, { "10.1.200.1", 6, 444, false },
		{ "8.8.8.8", 17, 5353, true }, { "8.8.8.8", 6, 53, false }, { "8.8.4.4", 17, 53, false },
	};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		T_CHECK(eval4(t, "100.64.0.2", probes[i].d, probes[i].proto, probes[i].port) == probes[i].want,
			"model: 100.64.0.2 -> %s proto %u port %u %s", probes[i].d, probes[i].proto, probes[i].port,
			probes[i].want ? "accepted" : "dropped");
	nftm_free(t);
}

int main(void)
{
	test_ranges();
	test_opts();
	test_build();
	test_random();
	test_canonical();
	test_decompose();
	test_diff();
	test_admits_all();
	test_many_identities();
	test_bad();
	T_DONE();
}
