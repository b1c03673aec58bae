/* Unit tests for the flow IR: canonical equality of differently written
 * equivalent rule sets, membership, range and prefix helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "ir_test.h"
#include "t.h"

/* A rule in text: "v4 tcp 22-23 dst 10.0.0.0/8 src 1.2.3.4-1.2.3.9". */
struct trule {
	unsigned proto, plo, phi;
	const char *dst, *src;
};

static int add_text(struct ir_flows *f, const struct trule *r)
{
	struct ir_box b = { .proto = (uint8_t)r->proto, .port_lo = (uint16_t)r->plo,
			    .port_hi = (uint16_t)r->phi };
	enum addr_family fd, fs;
	if (!addr_range_parse(r->dst, false, &fd, &b.dst_lo, &b.dst_hi) ||
	    !addr_range_parse(r->src, false, &fs, &b.src_lo, &b.src_hi) || fd != fs)
		return -1;
	b.family = (uint8_t)fd;
	return ir_add(f, &b, NULL);
}

static int build(struct ir_flows *f, const struct trule *rules)
{
	for (; rules->dst; rules++)
		if (add_text(f, rules) < 0)
			return -1;
	return ir_canonicalize(f);
}

#define END { 0, 0, 0, NULL, NULL }
#define NONE_SET UINT32_MAX

static void test_equivalent(void)
{
	static const struct {
		const char *what;
		bool equal;
		struct trule a[8], b[8];
	} cases[] = {
		{ "split port range equals whole", true,
		  { { 6, 20, 30, "10.0.0.1", "1.1.1.1" }, END },
		  { { 6, 20, 24, "10.0.0.1", "1.1.1.1" }, { 6, 25, 30, "10.0.0.1", "1.1.1.1" }, END } },
		{ "overlapping port ranges merge", true,
		  { { 6, 20, 30, "10.0.0.1", "1.1.1.1" }, END },
		  { { 6, 20, 28, "10.0.0.1", "1.1.1.1" }, { 6, 22, 30, "10.0.0.1", "1.1.1.1" }, END } },
		{ "two /25 sources equal one /24", true,
		  { { 17, 53, 53, "10.0.0.1", "192.168.0.0/24" }, END },
		  { { 17, 53, 53, "10.0.0.1", "192.168.0.128/25" }, { 17, 53, 53, "10.0.0.1", "192.168.0.0/25" }, END } },
		{ "range source equals prefixes", true,
		  { { 6, 443, 443, "10.0.0.1", "100.64.0.0-100.64.0.255" }, END },
		  { { 6, 443, 443, "10.0.0.1", "100.64.0.0/24" }, END } },
		{ "duplicate rules are one", true,
		  { { 6, 22, 22, "10.0.0.1", "1.1.1.1" }, END },
		  { { 6, 22, 22, "10.0.0.1", "1.1.1.1" }, { 6, 22, 22, "10.0.0.1", "1.1.1.1" }, END } },
		{ "order of rules does not matter", true,
		  { { 6, 22, 22, "10.0.0.1", "1.1.1.1" }, { 17, 53, 53, "10.0.0.2", "2.2.2.2" }, { 6, 80, 80, "fd00::1", "fd00::2" }, END },
		  { { 6, 80, 80, "fd00::1", "fd00::2" }, { 17, 53, 53, "10.0.0.2", "2.2.2.2" }, { 6, 22, 22, "10.0.0.1", "1.1.1.1" }, END } },
		{ "ICMP port is meaningless", true,
		  { { 1, 0, 65535, "10.0.0.1", "1.1.1.1" }, END },
		  { { 1, 22, 22, "10.0.0.1", "1.1.1.1" }, END } },
		{ "cross product written two ways", true,
		  /* {a,b} x {p,q} as one box each way of slicing */
		  { { 6, 1, 2, "10.0.0.1-10.0.0.2", "1.1.1.1" }, END },
		  { { 6, 1, 1, "10.0.0.1", "1.1.1.1" }, { 6, 2, 2, "10.0.0.1", "1.1.1.1" },
		    { 6, 1, 2, "10.0.0.2", "1.1.1.1" }, END } },
		{ "L-shape sliced by source or by destination", true,
		  { { 6, 80, 80, "10.0.0.0/31", "1.1.1.1" }, { 6, 80, 80, "10.0.0.0", "1.1.1.2" }, END },
		  { { 6, 80, 80, "10.0.0.0", "1.1.1.1-1.1.1.2" }, { 6, 80, 80, "10.0.0.1", "1.1.1.1" }, END } },
		{ "different port is a different set", false,
		  { { 6, 22, 22, "10.0.0.1", "1.1.1.1" }, END },
		  { { 6, 23, 23, "10.0.0.1", "1.1.1.1" }, END } },
		{ "TCP and UDP differ", false,
		  { { 6, 22, 22, "10.0.0.1", "1.1.1.1" }, END },
		  { { 17, 22, 22, "10.0.0.1", "1.1.1.1" }, END } },
		{ "v4 /0 is not the v6 /0", false,
		  { { 6, 22, 22, "0.0.0.0/0", "0.0.0.0/0" }, END },
		  { { 6, 22, 22, "::/0", "::/0" }, END } },
		{ "full v6 space merges at the top", true,
		  { { 6, 0, 65535, "::/0", "::/0" }, END },
		  { { 6, 0, 65535, "::/1", "::/0" }, { 6, 0, 65535, "8000::/1", "::/1" },
		    { 6, 0, 65535, "8000::/1", "8000::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" }, END } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ir_flows a = { 0 }, b = { 0 };
		int ra = build(&a, cases[i].a), rb = build(&b, cases[i].b);
		T_CHECK(ra == 0 && rb == 0 && ir_equal(&a, &b) == cases[i].equal,
			"ir: %s (%s)", cases[i].what, cases[i].equal ? "equal" : "different");
		ir_free(&a);
		ir_free(&b);
	}
}

static void test_canonical_shape(void)
{
	/* The L-shape: canonical form slices by destination first. */
	static const struct trule rules[] = {
		{ 6, 80, 80, "10.0.0.0", "1.1.1.2" }, { 6, 80, 80, "10.0.0.0/31", "1.1.1.1" }, END };
	struct ir_flows f = { 0 };
	build(&f, rules);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	ir_dump(out, &f, "");
	fclose(out);
	T_STREQ(buf, "v4 tcp 80 dst 10.0.0.0 src 1.1.1.1-1.1.1.2\nv4 tcp 80 dst 10.0.0.1 src 1.1.1.1\n",
		"ir: canonical dump of an L-shaped set");
	free(buf);
	T_CHECK(f.ncells == 2 && f.nboxes == 2 && f.cells[0].dst_hi < f.cells[1].dst_lo && f.nsets == 2,
		"ir: the L-shape is two cells (one per destination), two sets, two boxes");
	T_CHECK(f.nrules == 2, "ir: provenance keeps both rules as written");
	ir_free(&f);
}

static void test_membership(void)
{
	static const struct trule rules[] = {
		{ 6, 443, 443, "8.8.8.8", "100.64.0.0/10" },
		{ 17, 53, 53, "fd7a:115c:a1e0::/48", "fd7a:115c:a1e0::2" },
		{ 1, 0, 0, "8.8.4.4", "100.64.0.2" },
		END };
	static const struct {
		unsigned proto;
		const char *src, *dst;
		unsigned port;
		bool want;
	} pk[] = {
		{ 6, "100.64.0.2", "8.8.8.8", 443, true },
		{ 6, "100.127.255.255", "8.8.8.8", 443, true },
		{ 6, "100.128.0.0", "8.8.8.8", 443, false },
		{ 6, "100.64.0.2", "8.8.8.8", 444, false },
		{ 6, "100.64.0.2", "8.8.8.9", 443, false },
		{ 17, "100.64.0.2", "8.8.8.8", 443, false },
		{ 17, "fd7a:115c:a1e0::2", "fd7a:115c:a1e0:0:ffff::1", 53, true },
		{ 17, "fd7a:115c:a1e0::3", "fd7a:115c:a1e0::1", 53, false },
		{ 1, "100.64.0.2", "8.8.4.4", 7, true },
		{ 1, "100.64.0.3", "8.8.4.4", 0, false },
		{ 58, "100.64.0.2", "8.8.4.4", 0, false },
	};
	struct ir_flows f = { 0 };
	T_CHECK(build(&f, rules) == 0, "ir: membership rules build");
	for (size_t i = 0; i < sizeof(pk) / sizeof(pk[0]); i++) {
		enum addr_family fs, fd;
		addr_u128 s, d;
		bool okp = addr_parse(pk[i].src, &fs, &s) && addr_parse(pk[i].dst, &fd, &d) && fs == fd;
		T_CHECK(okp && ir_match(&f, fs, pk[i].proto, s, d, pk[i].port) == pk[i].want,
			"ir: proto %u %s -> %s:%u is %s", pk[i].proto, pk[i].src, pk[i].dst, pk[i].port,
			pk[i].want ? "accepted" : "dropped");
	}
	ir_free(&f);
}

struct pfx_buf {
	char text[512];
	enum addr_family fam;
};

static void pfx_cb(addr_u128 net, unsigned len, void *arg)
{
	struct pfx_buf *pb = arg;
	char a[ADDR_STRLEN];
	size_t l = strlen(pb->text);
	snprintf(pb->text + l, sizeof(pb->text) - l, "%s%s/%u", l ? " " : "",
		 addr_format(pb->fam, net, a), len);
}

static void test_prefixes(void)
{
	static const struct {
		const char *range, *want;
	} cases[] = {
		{ "100.64.0.0-100.115.91.255", "100.64.0.0/11 100.96.0.0/12 100.112.0.0/15 100.114.0.0/16 100.115.0.0/18 100.115.64.0/20 100.115.80.0/21 100.115.88.0/22" },
		{ "100.115.94.0-100.127.255.255", "100.115.94.0/23 100.115.96.0/19 100.115.128.0/17 100.116.0.0/14 100.120.0.0/13" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "::/0", "::/0" },
		{ "10.0.0.1", "10.0.0.1/32" },
		{ "10.0.0.1-10.0.0.6", "10.0.0.1/32 10.0.0.2/31 10.0.0.4/31 10.0.0.6/32" },
		{ "255.255.255.254-255.255.255.255", "255.255.255.254/31" },
		{ "fd7a:115c:a1e0::/48", "fd7a:115c:a1e0::/48" },
		{ "::1-::3", "::1/128 ::2/127" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pfx_buf pb = { "", ADDR_V4 };
		addr_u128 lo, hi;
		bool okr = addr_range_parse(cases[i].range, false, &pb.fam, &lo, &hi);
		if (okr)
			addr_range_prefixes(pb.fam, lo, hi, pfx_cb, &pb);
		T_STREQ(okr ? pb.text : "(parse failed)", cases[i].want, "ir: %s splits into prefixes", cases[i].range);
	}
	static const struct {
		const char *text;
		bool loose, ok;
		const char *fmt;
	} parse[] = {
		{ "10.0.0.0/8", false, true, "10.0.0.0/8" },
		{ "10.1.0.0/8", false, false, NULL },
		{ "10.1.0.0/8", true, true, "10.0.0.0/8" },
		{ "10.0.0.0/33", false, false, NULL },
		{ "10.0.0.0/08", false, false, NULL },
		{ "10.0.0.5-10.0.0.1", false, false, NULL },
		{ "10.0.0.1-fd00::1", false, false, NULL },
		{ "1.2.3", false, false, NULL },
		{ "FD7A:115C:A1E0:0:0:0:0:1", false, true, "fd7a:115c:a1e0::1" },
		{ "10.0.0.0-10.0.0.255", false, true, "10.0.0.0/24" },
		{ "10.0.0.1-10.0.0.2", false, true, "10.0.0.1-10.0.0.2" },
	};
	for (size_t i = 0; i < sizeof(parse) / sizeof(parse[0]); i++) {
		enum addr_family fam;
		addr_u128 lo, hi;
		char buf[ADDR_RANGE_STRLEN];
		bool got = addr_range_parse(parse[i].text, parse[i].loose, &fam, &lo, &hi);
		if (!parse[i].ok)
			T_CHECK(!got, "ir: \"%s\" is rejected%s", parse[i].text, parse[i].loose ? " (loose)" : "");
		else
			T_STREQ(got ? addr_range_format(fam, lo, hi, buf) : "(rejected)", parse[i].fmt,
				"ir: \"%s\" parses and formats", parse[i].text);
	}
}

static void test_invalid(void)
{
	struct ir_flows f = { 0 };
	struct ir_box b = { .family = ADDR_V4, .proto = 6, .port_lo = 10, .port_hi = 5 };
	T_CHECK(ir_add(&f, &b, NULL) < 0, "ir: inverted port range is refused");
	b = (struct ir_box){ .family = ADDR_V4, .proto = 6, .dst_hi = (addr_u128)1 << 32 };
	T_CHECK(ir_add(&f, &b, NULL) < 0, "ir: v4 address beyond 32 bits is refused");
	b = (struct ir_box){ .family = 5 };
	T_CHECK(ir_add(&f, &b, NULL) < 0, "ir: unknown family is refused");
	T_CHECK(ir_canonicalize(&f) == 0 && f.nboxes == 0, "ir: empty flow set canonicalises to nothing");
	ir_free(&f);
}

/* Random rule sets over a small space: the canonical boxes accept exactly
 * the packets some rule accepts, re-canonicalising them changes nothing, and
 * splitting every rule in two gives the same canonical form. */
static void test_random(void)
{
	unsigned seed = 12345, bad_member = 0, bad_idem = 0, bad_split = 0;
	const int rounds = 200;
	for (int r = 0; r < rounds; r++) {
		struct ir_flows f = { 0 }, g = { 0 }, h = { 0 };
		int n = 1 + rand_r(&seed) % 8;
		for (int i = 0; i < n; i++) {
			struct ir_box b = { .family = ADDR_V4, .proto = rand_r(&seed) % 2 ? 6 : 1 };
			b.port_lo = (uint16_t)(rand_r(&seed) % 8);
			b.port_hi = (uint16_t)(b.port_lo + rand_r(&seed) % 4);
			b.dst_lo = rand_r(&seed) % 8;
			b.dst_hi = b.dst_lo + rand_r(&seed) % 4;
			b.src_lo = rand_r(&seed) % 8;
			b.src_hi = b.src_lo + rand_r(&seed) % 4;
			ir_add(&f, &b, NULL);
			struct ir_box lo = b, hi = b;
			if (b.src_lo < b.src_hi) {
				lo.src_hi = b.src_lo;
				hi.src_lo = b.src_lo + 1;
				ir_add(&h, &hi, NULL);
			}
			ir_add(&h, &lo, NULL);
		}
		ir_canonicalize(&f);
		ir_canonicalize(&h);
		for (unsigned proto = 0; proto < 7; proto += 5)
			for (unsigned port = 0; port < 12; port++)
				for (unsigned d = 0; d < 12; d++)
					for (unsigned s = 0; s < 12; s++) {
						unsigned pr = proto ? 6 : 1;
						bool raw = rules_accept(&f, ADDR_V4, pr, s, d, port);
						if (raw != ir_match(&f, ADDR_V4, pr, s, d, port))
							bad_member++;
					}
		ir_add_boxes(&g, &f);
		ir_canonicalize(&g);
		bad_idem += !ir_equal(&f, &g);
		bad_split += !ir_equal(&f, &h);
		ir_free(&f);
		ir_free(&g);
		ir_free(&h);
	}
	T_CHECK(bad_member == 0, "ir: %d random sets: canonical membership equals rule membership (%u differ)", rounds, bad_member);
	T_CHECK(bad_idem == 0, "ir: %d random sets: canonicalising canonical boxes is the identity (%u differ)", rounds, bad_idem);
	T_CHECK(bad_split == 0, "ir: %d random sets: splitting rules gives the same canonical form (%u differ)", rounds, bad_split);
}

/* The cells as text, "proto ports dst #set; ...", sets numbered by index. */
static char *cells_text(const struct ir_flows *f)
{
	char *s = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&s, &len);
	if (!out)
		return NULL;
	for (size_t i = 0; i < f->ncells; i++) {
		const struct ir_cell *c = &f->cells[i];
		char d[ADDR_RANGE_STRLEN];
		fprintf(out, "%s%u %u-%u %s #%u", i ? "; " : "", c->proto, c->port_lo, c->port_hi,
			addr_range_format(c->family, c->dst_lo, c->dst_hi, d), c->set);
	}
	fclose(out);
	return s;
}

static void test_coalesce(void)
{
	static const struct {
		const char *what;
		struct trule rules[6];
		const char *cells;
	} cases[] = {
		{ "adjacent destinations with the same sources are one cell",
		  { { 6, 80, 80, "10.0.0.0-10.0.0.4", "1.1.1.1" }, { 6, 80, 80, "10.0.0.5-10.0.0.9", "1.1.1.1" }, END },
		  "6 80-80 10.0.0.0-10.0.0.9 #0" },
		{ "adjacent destinations with other sources stay two cells",
		  { { 6, 80, 80, "10.0.0.0-10.0.0.4", "1.1.1.1" }, { 6, 80, 80, "10.0.0.5-10.0.0.9", "1.1.1.2" }, END },
		  "6 80-80 10.0.0.0-10.0.0.4 #0; 6 80-80 10.0.0.5-10.0.0.9 #1" },
		{ "adjacent ports with the same destinations and sources are one slice",
		  { { 6, 80, 89, "10.0.0.0/24", "1.1.1.1" }, { 6, 90, 99, "10.0.0.0/24", "1.1.1.1" }, END },
		  "6 80-99 10.0.0.0/24 #0" },
		{ "ports apart are not coalesced",
		  { { 6, 80, 80, "10.0.0.0/24", "1.1.1.1" }, { 6, 82, 82, "10.0.0.0/24", "1.1.1.1" }, END },
		  "6 80-80 10.0.0.0/24 #0; 6 82-82 10.0.0.0/24 #0" },
		{ "adjacent port slices with other destinations stay apart, sets shared",
		  { { 6, 80, 80, "10.0.0.1", "1.1.1.1" }, { 6, 81, 81, "10.0.0.2", "1.1.1.1" }, END },
		  "6 80-80 10.0.0.1 #0; 6 81-81 10.0.0.2 #0" },
		{ "a slice folds only when every destination's set matches",
		  { { 6, 80, 81, "10.0.0.1", "1.1.1.1" }, { 6, 80, 81, "10.0.0.2", "1.1.1.2" },
		    { 6, 81, 81, "10.0.0.2", "1.1.1.3" }, { 6, 82, 82, "10.0.0.1-10.0.0.2", "1.1.1.1" }, END },
		  "6 80-80 10.0.0.1 #0; 6 80-80 10.0.0.2 #1; 6 81-81 10.0.0.1 #0; 6 81-81 10.0.0.2 #2; "
		  "6 82-82 10.0.0.1-10.0.0.2 #0" },
		{ "overlapping rules: the union's set covers the overlap",
		  { { 17, 53, 53, "10.0.0.0-10.0.0.9", "1.1.1.1" }, { 17, 53, 53, "10.0.0.5-10.0.0.14", "1.1.1.2" }, END },
		  "17 53-53 10.0.0.0-10.0.0.4 #0; 17 53-53 10.0.0.5-10.0.0.9 #1; 17 53-53 10.0.0.10-10.0.0.14 #2" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ir_flows f = { 0 };
		char *got = build(&f, cases[i].rules) == 0 ? cells_text(&f) : NULL;
		T_STREQ(got ? got : "(failed)", cases[i].cells, "ir: %s", cases[i].what);
		free(got);
		ir_free(&f);
	}
}

static void test_intern(void)
{
	/* {1.1.1.1, 1.1.1.3} reached two ways, for two services; 2.2.2.2 alone. */
	static const struct trule rules[] = {
		{ 6, 22, 22, "10.0.0.1", "1.1.1.1" }, { 6, 22, 22, "10.0.0.1", "1.1.1.3" },
		{ 17, 53, 53, "10.0.0.9", "1.1.1.3" }, { 17, 53, 53, "10.0.0.9", "1.1.1.1" },
		{ 6, 80, 80, "10.0.0.2", "2.2.2.2" }, END };
	struct ir_flows f = { 0 };
	T_CHECK(build(&f, rules) == 0 && f.ncells == 3 && f.nboxes == 5, "ir: three cells, five boxes");
	if (f.ncells == 3) {
		T_CHECK(f.nsets == 2 && f.nspans == 3, "ir: equal source sets stored once (%zu sets, %zu ranges)",
			f.nsets, f.nspans);
		T_CHECK(f.cells[0].set == f.cells[2].set && f.cells[0].set != f.cells[1].set,
			"ir: tcp/22 and udp/53 share one set, tcp/80 has its own");
	}
	struct ir_span v[2] = { { 5, 9 }, { 20, 30 } }, w[1] = { { 5, 9 } };
	uint32_t s1 = NONE_SET, s2 = NONE_SET, s3 = NONE_SET;
	int rc = ir_intern(&f, v, 2, &s1) | ir_intern(&f, w, 1, &s2) | ir_intern(&f, v, 2, &s3);
	T_CHECK(rc == 0 && s1 == s3 && s1 != s2 && f.nsets == 4, "ir: ir_intern gives one index per content");
	T_CHECK(ir_intern(&f, v, 0, &s1) == -EINVAL, "ir: an empty source set is not interned");
	ir_free(&f);
}

/* A random rule over the small universe: both families, three protocols. */
static struct ir_box random_box(unsigned *seed)
{
	static const uint8_t protos[] = { PROTO_TCP, PROTO_UDP, PROTO_ICMP };
	struct ir_box b = { .family = rand_r(seed) % 2 ? ADDR_V4 : ADDR_V6, .proto = protos[rand_r(seed) % 3] };
	b.port_lo = (uint16_t)(rand_r(seed) % 10);
	b.port_hi = (uint16_t)(b.port_lo + rand_r(seed) % 4);
	b.dst_lo = rand_r(seed) % 10;
	b.dst_hi = b.dst_lo + rand_r(seed) % 4;
	b.src_lo = rand_r(seed) % 10;
	b.src_hi = b.src_lo + rand_r(seed) % 4;
	if (!proto_has_ports(b.proto)) {
		b.port_lo = 0;
		b.port_hi = 65535;
	}
	return b;
}

/* The same packets written another way: every rule cut in two along a
 * random dimension, pieces added in reverse order, some twice, plus
 * random sub-boxes of the rules (already covered). */
static void rewrite(const struct ir_flows *f, struct ir_flows *g, unsigned *seed)
{
	for (size_t i = f->nrules; i-- > 0;) {
		struct ir_box b = f->rules[i].box, x = b, y = b;
		int d = rand_r(seed) % 3;
		bool cut = false;
		if (d == 0 && b.port_lo < b.port_hi) {
			x.port_hi = (uint16_t)(b.port_lo + rand_r(seed) % (b.port_hi - b.port_lo));
			y.port_lo = (uint16_t)(x.port_hi + 1);
			cut = true;
		} else if (d == 1 && b.dst_lo < b.dst_hi) {
			x.dst_hi = b.dst_lo + (addr_u128)(rand_r(seed) % (unsigned)(b.dst_hi - b.dst_lo));
			y.dst_lo = x.dst_hi + 1;
			cut = true;
		} else if (d == 2 && b.src_lo < b.src_hi) {
			x.src_hi = b.src_lo + (addr_u128)(rand_r(seed) % (unsigned)(b.src_hi - b.src_lo));
			y.src_lo = x.src_hi + 1;
			cut = true;
		}
		ir_add(g, &y, NULL);
		if (cut)
			ir_add(g, &x, NULL);
		if (rand_r(seed) % 3 == 0)
			ir_add(g, &x, NULL);
		if (rand_r(seed) % 3 == 0) {   /* a sub-box: one point of the rule */
			struct ir_box p = b;
			p.dst_hi = p.dst_lo;
			p.src_lo = p.src_hi;
			if (proto_has_ports(p.proto))
				p.port_hi = p.port_lo;
			ir_add(g, &p, NULL);
		}
	}
}

/* Canonical uniqueness, as a property: random rule sets and a rewriting of
 * each (same packets) give identical cells, equal sets and the same dump;
 * both accept exactly what the rules accept (brute force over the
 * universe); sets are interned (same index iff same ranges); the indexed
 * ir_explain finds the same rules as the plain scan. */
static void test_unique(void)
{
	enum { ROUNDS = 300 };
	unsigned seed = 777, same_cells = 0, same_dump = 0, member_ok = 0, intern_ok = 0, explain_ok = 0, coarse = 0;
	for (int r = 0; r < ROUNDS; r++) {
		struct ir_flows f = { 0 }, g = { 0 }, raw = { 0 };
		int n = 1 + rand_r(&seed) % 10;
		for (int i = 0; i < n; i++) {
			struct ir_box b = random_box(&seed);
			ir_add(&f, &b, NULL);
		}
		rewrite(&f, &g, &seed);
		ir_add_all(&raw, &f);   /* rules only: ir_explain scans them */
		ir_canonicalize(&f);
		ir_canonicalize(&g);
		bool cells = f.ncells == g.ncells;
		for (size_t i = 0; cells && i < f.ncells; i++) {
			const struct ir_cell *x = &f.cells[i], *y = &g.cells[i];
			cells = x->family == y->family && x->proto == y->proto && x->port_lo == y->port_lo &&
				x->port_hi == y->port_hi && x->dst_lo == y->dst_lo && x->dst_hi == y->dst_hi &&
				ir_set_equal(&f, x->set, &g, y->set);
		}
		same_cells += cells && ir_equal(&f, &g) && ir_equal(&g, &f);
		char *df = NULL, *dg = NULL;
		size_t lf = 0, lg = 0;
		FILE *of = open_memstream(&df, &lf), *og = open_memstream(&dg, &lg);
		if (of && og) {
			ir_dump(of, &f, "");
			ir_dump(og, &g, "");
		}
		if (of)
			fclose(of);
		if (og)
			fclose(og);
		same_dump += df && dg && strcmp(df, dg) == 0;
		free(df);
		free(dg);
		bool interned = true;
		for (size_t i = 0; i < f.ncells; i++)
			for (size_t j = 0; j < f.ncells; j++)
				interned = interned && (f.cells[i].set == f.cells[j].set) ==
							       ir_set_equal(&f, f.cells[i].set, &f, f.cells[j].set);
		intern_ok += interned;
		coarse += f.nsets < f.ncells;
		bool member = true, explain = true;
		for (unsigned fam = ADDR_V4; fam <= ADDR_V6; fam += 2)
			for (unsigned pi = 0; pi < 3; pi++)
				for (unsigned port = 0; port < 14; port++)
					for (unsigned d = 0; d < 14; d++)
						for (unsigned s = 0; s < 14; s++) {
							unsigned pr = pi == 0 ? 6 : pi == 1 ? 17 : 1;
							bool want = rules_accept(&raw, fam, pr, s, d, port);
							member = member && ir_match(&f, fam, pr, s, d, port) == want &&
								 ir_match(&g, fam, pr, s, d, port) == want;
							explain = explain &&
								  ir_explain(&f, fam, pr, s, d, port, NULL, NULL) ==
									  ir_explain(&raw, fam, pr, s, d, port, NULL, NULL);
						}
		member_ok += member;
		explain_ok += explain;
		ir_free(&f);
		ir_free(&g);
		ir_free(&raw);
	}
	T_CHECK(same_cells == ROUNDS, "ir: %d random sets and rewritings: identical cells, equal sets (%u held)", ROUNDS,
		same_cells);
	T_CHECK(same_dump == ROUNDS, "ir: %d random sets and rewritings: identical dumps (%u held)", ROUNDS, same_dump);
	T_CHECK(member_ok == ROUNDS, "ir: %d random sets: membership equals the rules' (brute force, both writings; %u held)",
		ROUNDS, member_ok);
	T_CHECK(intern_ok == ROUNDS, "ir: %d random sets: a set index is shared iff the ranges are equal (%u held)",
		ROUNDS, intern_ok);
	T_CHECK(explain_ok == ROUNDS, "ir: %d random sets: indexed ir_explain counts the rules the scan finds (%u held)",
		ROUNDS, explain_ok);
	T_CHECK(coarse > ROUNDS / 10, "ir: the random sets exercise sharing (%u of %d have fewer sets than cells)",
		coarse, ROUNDS);
}

/* The indexed ir_explain calls back with the same rules, in the order
 * added, as the scan of the rules. */
struct seen {
	const struct ir_rule *base;
	char order[64];
};

static void seen_cb(const struct ir_rule *rule, void *arg)
{
	struct seen *s = arg;
	size_t l = strlen(s->order);
	snprintf(s->order + l, sizeof(s->order) - l, "%ld,", (long)(rule - s->base));
}

static void test_explain_order(void)
{
	static const struct trule rules[] = {
		{ 6, 0, 65535, "10.0.0.0/8", "0.0.0.0/0" }, { 6, 443, 443, "10.0.0.5", "100.64.0.2" },
		{ 6, 400, 500, "10.0.0.0/24", "100.64.0.0/10" }, { 6, 443, 443, "10.0.0.5", "100.64.0.2" },
		{ 17, 443, 443, "10.0.0.5", "100.64.0.2" }, { 6, 443, 443, "10.0.0.5", "100.64.0.3" }, END };
	struct ir_flows f = { 0 };
	T_CHECK(build(&f, rules) == 0, "ir: explanation rules build");
	struct seen s = { f.rules, "" };
	size_t n = ir_explain(&f, ADDR_V4, 6, 0x64400002u, 0x0a000005u, 443, seen_cb, &s);
	T_CHECK(n == 4 && strcmp(s.order, "0,1,2,3,") == 0,
		"ir: indexed explain: the four rules accepting tcp 100.64.0.2 -> 10.0.0.5:443, in order (%s)", s.order);
	ir_free(&f);
}

int main(void)
{
	test_random();
	test_equivalent();
	test_canonical_shape();
	test_membership();
	test_prefixes();
	test_invalid();
	test_coalesce();
	test_intern();
	test_unique();
	test_explain_order();
	T_DONE();
}
