/* The nftables model (nftm) and its text backend (nftt), on hand-built boxes. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nftm.h"
#include "nftt.h"
#include "t.h"

static ir_u128 a128(const char *s)
{
	enum ir_family fam;
	ir_u128 v = 0;
	ir_addr_parse(s, &fam, &v);
	return v;
}

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
				.family = strchr(h[i].slo, ':') ? IR_V6 : IR_V4, .proto = (uint8_t)p,
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
	struct ir_aset self = { 0 }, routes = { 0 };
	struct ir_flows f;
	struct nftm_table *t = NULL;
	for (size_t i = 0; i < 2; i++) {
		enum ir_family fam;
		ir_u128 lo, hi;
		ir_range_parse(self_s[i], false, &fam, &lo, &hi);
		ir_aset_add(&self, fam, lo, hi);
	}
	for (size_t i = 0; i < 4; i++) {
		enum ir_family fam;
		ir_u128 lo, hi;
		ir_range_parse(routes_s[i], false, &fam, &lo, &hi);
		ir_aset_add(&routes, fam, lo, hi);
	}
	struct nftm_node node = { &self, &routes };
	if (flows_of(&f, h, n) == 0)
		t = nftm_build(o, &node, &f);
	ir_free(&f);
	ir_aset_free(&self);
	ir_aset_free(&routes);
	return t;
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
	T_CHECK(t != NULL, "model built from 4 boxes");
	if (!t)
		return;
	T_CHECK(t->sets[NFTM_SET_ALLOW4_PORTS].n == 2 + 5, "IPv4 port set: 2 clipped TCP elements + 5 port protocols of the any-protocol box (got %zu)",
		t->sets[NFTM_SET_ALLOW4_PORTS].n);
	T_CHECK(t->sets[NFTM_SET_ALLOW4_PROTO].n == 6, "IPv4 protocol set: 0-255 minus 6,17,33,132,136 is 6 stretches (got %zu)",
		t->sets[NFTM_SET_ALLOW4_PROTO].n);
	T_CHECK(t->sets[NFTM_SET_ALLOW6_PROTO].n == 1 && t->sets[NFTM_SET_ALLOW6_PORTS].n == 0,
		"IPv6 ICMP box goes to the protocol set only");
	T_CHECK(t->sets[NFTM_SET_SNAT4].n == 3, "served IPv4 routes merged: 10.1.2.0/24 inside 10.1.0.0/16 (got %zu)",
		t->sets[NFTM_SET_SNAT4].n);

	/* Membership through the model, as the kernel would look it up. */
	static const struct { const char *s, *d; unsigned proto, port; bool want; } probes[] = {
		{ "100.64.0.2", "8.8.8.8", 6, 443, true }, { "100.64.0.3", "8.8.4.4", 6, 443, true },
		{ "100.64.0.3", "8.8.6.6", 6, 443, false }, { "100.64.0.2", "8.8.8.8", 6, 444, false },
		{ "100.64.0.2", "8.8.8.8", 17, 443, false }, { "100.64.0.4", "100.64.0.1", 47, 0, true },
		{ "100.64.0.4", "100.64.0.1", 17, 9, true }, { "100.64.0.5", "1.1.1.1", 17, 53, false },
		{ "fd7a:115c:a1e0::3", "fd7a:115c:a1e0::1", 58, 0, true },
		{ "fd7a:115c:a1e0::4", "fd7a:115c:a1e0::1", 58, 0, false },
	};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint8_t s[16], d[16], p = (uint8_t)probes[i].proto, port[2] = { (uint8_t)(probes[i].port >> 8), (uint8_t)probes[i].port };
		addr(probes[i].s, s);
		addr(probes[i].d, d);
		bool v6 = strchr(probes[i].s, ':') != NULL;
		const uint8_t *vals[NFTM_MAX_KEY] = { s, d, &p, port };
		const struct nftm_set *set = &t->sets[ir_proto_has_ports(p) ? (v6 ? NFTM_SET_ALLOW6_PORTS : NFTM_SET_ALLOW4_PORTS)
								       : (v6 ? NFTM_SET_ALLOW6_PROTO : NFTM_SET_ALLOW4_PROTO)];
		T_CHECK(nftm_set_match(set, vals) == probes[i].want, "%s -> %s proto %u port %u: %s", probes[i].s,
			probes[i].d, probes[i].proto, probes[i].port, probes[i].want ? "allowed" : "not allowed");
	}

	char *text = render(t);
	static const char *const lines[] = {
		"table inet keygate\ndelete table inet keygate\n\ntable inet keygate {\n",
		"\t\ttype ipv4_addr . ipv4_addr . inet_proto . inet_service\n\t\tflags interval\n",
		"\t\t\t100.64.0.2/31 . 8.8.4.4 . 6 . 443,\n\t\t\t100.64.0.2/31 . 8.8.8.8 . 6 . 443,\n",
		"\t\t\t100.64.0.4 . 100.64.0.1 . 0-5,\n",
		"\t\t\tfd7a:115c:a1e0::2/127 . fd7a:115c:a1e0::1 . 58\n",
		"\t\ttype filter hook input priority filter; policy accept;\n\t\tiifname \"keygate0\" jump from_tunnel\n",
		"\t\tct state established,related accept\n\t\tct state invalid drop\n"
		"\t\tip saddr . ip daddr . meta l4proto . th dport @allow4_ports accept\n",
		"\t\tip6 saddr . ip6 daddr . meta l4proto @allow6_proto accept\n",
		"\t\tdrop\n\t}\n",
		"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		"\t\tiifname \"keygate0\" oifname != \"keygate0\" ip daddr @snat4 masquerade\n",
		"an accept here is final only within this table's base chain",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		T_CHECK(text && strstr(text, lines[i]), "text holds expected fragment %zu: %.*s", i,
			(int)strcspn(lines[i], "\n"), lines[i]);
	T_CHECK(text && !strstr(text, "1.1.1.1"), "text never names a destination the node does not serve");
	T_CHECK(text && !strstr(text, "\nflush"), "text never flushes anything");
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
	nftm_free(t);
}

/* Identity first: one more device in a group whose rules name it changes
 * only the elements whose source range grew. */
static void test_diff(void)
{
	struct hbox before[] = {
		{ "100.64.0.2", "100.64.0.3", "8.8.4.4", "8.8.4.4", 6, 6, 443, 443 },
		{ "100.64.0.2", "100.64.0.3", "8.8.8.8", "8.8.8.8", 6, 6, 443, 443 },
		{ "100.64.0.9", "100.64.0.9", "100.64.0.1", "100.64.0.1", 6, 6, 22, 22 },
	};
	struct hbox after[3];
	memcpy(after, before, sizeof(after));
	after[0].shi = after[1].shi = "100.64.0.4";
	struct nftm_opts o = { 0 };
	struct nftm_table *a = relay(&o, before, 3), *b = relay(&o, after, 3);
	T_CHECK(a && b && nftm_same_shape(a, b), "same options, different policy: same shape");
	if (!a || !b)
		goto out;
	size_t adds = 0, dels = 0;
	for (size_t i = 0; i < a->nsets; i++) {
		struct nftm_delta d;
		if (nftm_set_diff(&a->sets[i], &b->sets[i], &d) < 0)
			break;
		adds += d.nadd, dels += d.ndel;
		if (i == NFTM_SET_ALLOW4_PORTS && d.nadd == 2) {
			char buf[NFTT_RANGE_MAX];
			nftt_range(buf, NFTM_F_SADDR4, &d.add[0].k[0]);
			T_STREQ(buf, "100.64.0.2-100.64.0.4", "added element carries the grown source range");
		}
		nftm_delta_free(&d);
	}
	T_CHECK(adds == 2 && dels == 2, "a device joining a group with 2 boxes: 2 additions, 2 deletions (got %zu, %zu)",
		adds, dels);
	struct nftm_delta same;
	T_CHECK(nftm_set_diff(&a->sets[0], &a->sets[0], &same) == 0 && same.nadd == 0 && same.ndel == 0,
		"a set diffed with itself: nothing to do");
	nftm_delta_free(&same);
out:
	nftm_free(a);
	nftm_free(b);
}

static void test_bad(void)
{
	struct ir_flows raw = { 0 };
	struct ir_box rb = { .family = IR_V4, .proto = 6, .port_hi = 65535, .src_hi = 1, .dst_hi = 1 };
	ir_add(&raw, &rb, NULL);
	struct nftm_node none = { NULL, NULL };
	struct nftm_opts o = { 0 };
	errno = 0;
	struct nftm_table *t = nftm_build(&o, &none, &raw);
	T_CHECK(!t && errno == EINVAL, "flows not canonicalised are refused with EINVAL");
	nftm_free(t);
	ir_free(&raw);
	struct nftm_opts bad = { .table = "no way" };
	t = relay(&bad, NULL, 0);
	T_CHECK(!t && errno == EINVAL, "a bad table name is refused with EINVAL");
	nftm_free(t);
	t = relay(&o, NULL, 0);
	char *text = t ? render(t) : NULL;
	T_CHECK(text && strstr(text, "set allow4_ports {\n\t\ttype ipv4_addr . ipv4_addr . inet_proto . inet_service\n\t\tflags interval\n\t}"),
		"an empty policy still gives every set, without elements");
	free(text);
	nftm_free(t);
}

int main(void)
{
	test_ranges();
	test_opts();
	test_build();
	test_diff();
	test_bad();
	T_DONE();
}
