/* bench_nftprobe: drive keygate's nftables ruleset through the real kernel.
 *
 *   bench_nftprobe emit  SOURCE [--no-snat] -o FILE
 *       write the ruleset compiled for SOURCE's node (nftm + nftt)
 *   bench_nftprobe probe SOURCE --tun IF --other IF2 --count N --seed S [--no-snat]
 *       differential test: N random packets written into tunnel IF (and
 *       N/10 into IF2, not the tunnel: all must pass), each verdict read back
 *       from the kgprobe table and compared with the flow IR's ir_match
 *   bench_nftprobe pump --tun IF --ms MS --src A --dst B --proto P [--dport N]
 *       write one packet again and again for MS milliseconds; prints packets/s
 *   bench_nftprobe linear SOURCE -o FILE
 *       the same flows as a linear ruleset (reference for the benchmark):
 *       table inet keygate with one rule per destination and port range of
 *       the node's rules, sources and protocols in anonymous sets
 *   bench_nftprobe pick SOURCE
 *       print "SRC DST PORT-ALLOWED PORT-DENIED": a UDP flow to a served
 *       route that the IR allows, and the same with a port it does not
 *   bench_nftprobe delta --policy A --policy2 B --nodes N --node NAME
 *       what an update from policy A to B costs in the identity model:
 *       elements added and deleted, sets and chains added and removed
 *   bench_nftprobe stages SOURCE
 *       time compile's stages for the node: policy to rules, rules to model,
 *       model to text (to /dev/null)
 *
 * SOURCE is --policy FILE --nodes FILE --node NAME: the node's flow IR and
 * facts through the load pipeline (as aclc compiles), or --random SEED: a
 * flow IR made up here (groups of tailnet sources, rules to the relay, to
 * the routes it serves and beyond, every protocol kind, "any protocol").
 *
 * Verdicts: the test script loads a second table, inet kgprobe, whose chains
 * sit on the input, forward and postrouting hooks before and after ours and
 * add each packet's IPv4 ID / IPv6 flow label (the probe's number) to sets.
 * A probe is accepted by our table when its number reached the later chain;
 * it must always reach the earlier one (else the harness lost it). */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "bench_load.h"
#include "diag.h"
#include "ir.h"
#include "nftm.h"
#include "nftt.h"
#include "outf.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static addr_u128 rnd_in(addr_u128 lo, addr_u128 hi)
{
	addr_u128 span = hi - lo, r = ((addr_u128)rnd() << 64) | rnd();
	return span == ~(addr_u128)0 ? r : lo + r % (span + 1);
}

static addr_u128 addr(const char *s)
{
	enum addr_family f;
	addr_u128 a = 0;
	if (!addr_parse(s, &f, &a)) {
		fprintf(stderr, "bad address %s\n", s);
		exit(2);
	}
	return a;
}

static void aset_add_text(struct addr_set *s, const char *text)
{
	enum addr_family f;
	addr_u128 lo, hi;
	if (!addr_range_parse(text, false, &f, &lo, &hi) || addr_set_add(s, f, lo, hi) < 0) {
		fprintf(stderr, "bad range %s\n", text);
		exit(2);
	}
}

/* The node under test and its filter. */
struct scenario {
	struct addr_set self, routes, dests;
	struct ir_flows flows;
};

/* The random policy: 8 groups of 1-4 source ranges inside the tailnet, 40
 * rules from a group to the relay, a served route or part of one, an
 * address it does not serve, with TCP/UDP ports, ICMP, every protocol, or
 * a protocol without ports. */
static void random_scenario(struct scenario *sc, unsigned seed)
{
	static const char *const routes[] = { "8.8.8.8/32", "8.8.4.4/32", "10.20.0.0/16", "192.168.50.0/24",
					      "2001:db8:5::/48", "2001:db8:77::/64" };
	rng_state ^= (uint64_t)seed * 0x2545f4914f6cdd1dull;
	aset_add_text(&sc->self, "100.64.0.1");
	aset_add_text(&sc->self, "fd7a:115c:a1e0::1");
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		aset_add_text(&sc->routes, routes[i]);
	struct { addr_u128 lo, hi; } groups[8][4][2];
	size_t ngroup[8];
	addr_u128 t4 = addr("100.64.0.0"), t6 = addr("fd7a:115c:a1e0::");
	for (size_t g = 0; g < 8; g++) {
		ngroup[g] = 1 + rnd() % 4;
		for (size_t k = 0; k < ngroup[g]; k++) {
			addr_u128 a = 2 + rnd() % 200, n = rnd() % 3 ? 0 : rnd() % 8;
			groups[g][k][0].lo = t4 + a, groups[g][k][0].hi = t4 + a + n;
			groups[g][k][1].lo = t6 + a, groups[g][k][1].hi = t6 + a + n;
		}
	}
	static const char *const d4[] = { "100.64.0.1", "8.8.8.8", "8.8.4.4", "10.20.0.0/16", "10.20.7.0/24",
					  "192.168.50.0/25", "1.1.1.1", "0.0.0.0/0" };
	static const char *const d6[] = { "fd7a:115c:a1e0::1", "2001:db8:5::/48", "2001:db8:5:1::/64",
					  "2001:db8:77::/64", "2001:4860::8888", "::/0" };
	for (size_t r = 0; r < 40; r++) {
		size_t g = rnd() % 8;
		bool v6 = rnd() % 3 == 0;
		enum addr_family fam = v6 ? ADDR_V6 : ADDR_V4;
		addr_u128 dlo, dhi;
		const char *dt = v6 ? d6[rnd() % 6] : d4[rnd() % 8];
		addr_range_parse(dt, false, &fam, &dlo, &dhi);
		unsigned kind = rnd() % 6, plo, phi, portlo = 0, porthi = 65535;
		switch (kind) {
		case 0: plo = phi = 6; break;
		case 1: plo = phi = 17; break;
		case 2: plo = 6, phi = 17; break; /* becomes TCP and UDP below */
		case 3: plo = phi = v6 ? 58 : 1; break;
		case 4: plo = 0, phi = 255; break;
		default: plo = phi = (unsigned[]){ 47, 50, 103, 112 }[rnd() % 4]; break;
		}
		if (kind <= 2 && rnd() % 4) {
			portlo = (unsigned[]){ 22, 80, 443, 5432, 1000 }[rnd() % 5];
			porthi = rnd() % 3 ? portlo : portlo + (unsigned)(rnd() % 2000);
		}
		for (size_t k = 0; k < ngroup[g]; k++)
			for (unsigned p = plo; p <= phi; p++) {
				if (kind == 2 && p != 6 && p != 17)
					continue;
				struct ir_box b = { .family = (uint8_t)fam, .proto = (uint8_t)p,
						    .port_lo = (uint16_t)portlo, .port_hi = (uint16_t)porthi,
						    .dst_lo = dlo, .dst_hi = dhi,
						    .src_lo = groups[g][k][v6].lo, .src_hi = groups[g][k][v6].hi };
				if (ir_add(&sc->flows, &b, NULL) < 0)
					exit(2);
			}
	}
	if (ir_canonicalize(&sc->flows) < 0)
		exit(2);
	addr_set_add_all(&sc->dests, &sc->self);
	addr_set_add_all(&sc->dests, &sc->routes);
	addr_set_merge(&sc->dests);
}

/* CANONICAL: the IR as ir_match needs it (the oracle); else rules only,
 * which is all the linear reference and the model need. */
static int policy_scenario(struct scenario *sc, const char *policy, const char *nodes, const char *node,
			   bool canonical)
{
	struct load_facts f = { 0 };
	int rc = bench_node_facts(policy, nodes, node, canonical ? LOAD_CANONICAL : LOAD_RULES, &f);
	/* SC takes what was made, success or not: scenario_free() frees it. */
	sc->flows = f.flows;
	sc->self = f.self;
	sc->routes = f.routes;
	if (rc < 0)
		return rc;
	addr_set_add_all(&sc->dests, &sc->self);
	addr_set_add_all(&sc->dests, &sc->routes);
	addr_set_merge(&sc->dests);
	return 0;
}

static void scenario_free(struct scenario *sc)
{
	addr_set_free(&sc->self);
	addr_set_free(&sc->routes);
	addr_set_free(&sc->dests);
	ir_free(&sc->flows);
}

/* ---- packets ---- */

struct probe {
	enum addr_family fam;
	unsigned proto, dport, sport;
	addr_u128 src, dst;
	bool expect;
	bool forwarded;   /* to a route, not to the relay itself */
};

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Build P's packet, numbered ID, into BUF; returns its length. */
static size_t build(const struct probe *p, unsigned id, uint8_t *buf)
{
	size_t al = p->fam == ADDR_V4 ? 4 : 16, hl = p->fam == ADDR_V4 ? 20 : 40, l4;
	uint8_t *l = buf + hl, src[16], dst[16];
	addr_to_bytes(p->fam, p->src, src);
	addr_to_bytes(p->fam, p->dst, dst);
	memset(buf, 0, hl + 32);
	unsigned proto = p->proto;
	int csum_at = -1;
	bool pseudo = true;
	if (proto == PROTO_TCP) {
		l4 = 20;
		put16(l, p->sport);
		put16(l + 2, p->dport);
		put16(l + 4, id);                       /* sequence number */
		l[12] = 5 << 4;
		l[13] = 0x02;                           /* SYN */
		put16(l + 14, 65535);
		csum_at = 16;
	} else if (proto == PROTO_UDP) {
		l4 = 12;
		put16(l, p->sport);
		put16(l + 2, p->dport);
		put16(l + 4, l4);
		csum_at = 6;
	} else if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
		l4 = 12;
		l[0] = proto == PROTO_ICMP ? 8 : 128; /* echo request */
		put16(l + 4, p->sport);
		put16(l + 6, id);
		csum_at = 2;
		pseudo = proto == PROTO_ICMPV6;
	} else {
		l4 = 8;
	}
	if (csum_at >= 0) {
		uint32_t s = 0;
		if (pseudo) {
			s = sum16(src, al, s);
			s = sum16(dst, al, s);
			s += proto + (uint32_t)l4;
		}
		uint16_t c = fold(sum16(l, l4, s));
		if (c == 0 && proto == PROTO_UDP)
			c = 0xffff;
		put16(l + csum_at, c);
	}
	if (p->fam == ADDR_V4) {
		buf[0] = 0x45;
		put16(buf + 2, hl + l4);
		put16(buf + 4, id);
		buf[8] = 64;
		buf[9] = (uint8_t)proto;
		memcpy(buf + 12, src, 4);
		memcpy(buf + 16, dst, 4);
		put16(buf + 10, fold(sum16(buf, 20, 0)));
	} else {
		buf[0] = 0x60;
		buf[1] = (uint8_t)(id >> 16 & 0x0f);
		put16(buf + 2, id & 0xffff);
		put16(buf + 4, l4);
		buf[6] = (uint8_t)proto;
		buf[7] = 64;
		memcpy(buf + 8, src, 16);
		memcpy(buf + 24, dst, 16);
	}
	return hl + l4;
}

static int tun_attach(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("/dev/net/tun");
		exit(2);
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "TUNSETIFF %s: %s\n", name, strerror(errno));
		exit(2);
	}
	return fd;
}

/* ---- probes ---- */

/* Addresses a probe may use as source: unicast, not the relay's own (the
 * kernel drops those as martians before any hook we look at). */
static bool usable(enum addr_family fam, addr_u128 a, bool as_src, const struct scenario *sc)
{
	if (fam == ADDR_V4) {
		unsigned top = (unsigned)(a >> 24);
		if (top == 0 || top == 127 || top >= 224 || (a >> 8) == (addr("192.0.2.0") >> 8))
			return !as_src && a == addr("192.0.2.1");
	} else {
		unsigned top = (unsigned)(a >> 120);
		if (top == 0 || top == 0xff || (a >> 118) == (addr_u128)0xfe80 >> 6 ||
		    (a >> 64) == (addr("2001:db8:ffff::") >> 64))
			return !as_src && a == addr("2001:db8:ffff::1");
	}
	return !(as_src && addr_set_overlaps(&sc->self, fam, a, a));
}

static addr_u128 random_addr(enum addr_family fam, bool as_src, const struct scenario *sc)
{
	for (;;) {
		addr_u128 a;
		unsigned pick = (unsigned)(rnd() % 4);
		if (pick == 0 && sc->dests.n && !as_src) {
			const struct addr_range *r = &sc->dests.v[rnd() % sc->dests.n];
			if (r->family != fam)
				continue;
			a = rnd_in(r->lo, r->hi);
		} else if (pick <= 1) {
			a = fam == ADDR_V4 ? addr("100.64.0.0") + rnd() % 256 : addr("fd7a:115c:a1e0::") + rnd() % 256;
		} else {
			a = fam == ADDR_V4 ? rnd_in(0, 0xffffffffu) : rnd_in(addr("2000::"), addr("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
		}
		if (usable(fam, a, as_src, sc))
			return a;
	}
}

static unsigned random_proto(enum addr_family fam)
{
	static const unsigned other[] = { 47, 50, 103, 112 };
	switch (rnd() % 4) {
	case 0: return PROTO_TCP;
	case 1: return PROTO_UDP;
	case 2: return fam == ADDR_V4 ? PROTO_ICMP : PROTO_ICMPV6;
	default: return other[rnd() % 4];
	}
}

static bool sendable(unsigned proto, enum addr_family fam)
{
	return proto == PROTO_TCP || proto == PROTO_UDP || proto == 47 || proto == 50 || proto == 103 ||
	       proto == 112 || proto == (fam == ADDR_V4 ? PROTO_ICMP : PROTO_ICMPV6);
}

/* The oracle: ir_match on the canonical IR, or with --oracle-rules (for
 * policies whose canonical form is too slow to compute here) ir_explain,
 * the IR's membership over its rules as added. */
static bool oracle_rules;

static bool ir_accepts(const struct ir_flows *f, const struct probe *p)
{
	return oracle_rules ? ir_explain(f, p->fam, p->proto, p->src, p->dst, p->dport, NULL, NULL) > 0
			    : ir_match(f, p->fam, p->proto, p->src, p->dst, p->dport);
}

/* Half the probes start inside a random box of the filter (a rule, with
 * --oracle-rules) and may then be pushed out along one dimension; the rest
 * are random. */
static void make_probe(struct probe *p, const struct scenario *sc)
{
	const struct ir_flows *f = &sc->flows;
	size_t nb = oracle_rules ? f->nrules : f->ncells;
	memset(p, 0, sizeof(*p));
	p->sport = 1024 + (unsigned)(rnd() % 60000);
	if (nb && rnd() % 2) {
		struct ir_box cb;
		if (!oracle_rules) {   /* a random cell, a random source range of its set */
			size_t c = rnd() % f->ncells;
			ir_cell_box(f, c, rnd() % f->sets[f->cells[c].set].n, &cb);
		}
		const struct ir_box *b = oracle_rules ? &f->rules[rnd() % nb].box : &cb;
		p->fam = b->family;
		p->proto = sendable(b->proto, p->fam) ? b->proto : random_proto(p->fam);
		p->dport = b->port_lo + (unsigned)(rnd() % ((unsigned)b->port_hi - b->port_lo + 1));
		p->dst = rnd_in(b->dst_lo, b->dst_hi);
		p->src = rnd_in(b->src_lo, b->src_hi);
		for (int tries = 0; !usable(p->fam, p->src, true, sc) && tries < 20; tries++)
			p->src = rnd_in(b->src_lo, b->src_hi);
		if (!usable(p->fam, p->src, true, sc))
			p->src = random_addr(p->fam, true, sc);
		if (!usable(p->fam, p->dst, false, sc))
			p->dst = random_addr(p->fam, false, sc);
		switch (rnd() % 6) {
		case 0: p->src = random_addr(p->fam, true, sc); break;
		case 1: p->dst = random_addr(p->fam, false, sc); break;
		case 2: p->dport = (unsigned)(rnd() % 65536); break;
		case 3: p->proto = random_proto(p->fam); break;
		default: break;
		}
	} else {
		p->fam = rnd() % 3 ? ADDR_V4 : ADDR_V6;
		p->proto = random_proto(p->fam);
		p->dport = rnd() % 2 ? (unsigned)(rnd() % 65536) : (unsigned[]){ 22, 53, 80, 443, 5432 }[rnd() % 5];
		p->src = random_addr(p->fam, true, sc);
		p->dst = random_addr(p->fam, false, sc);
	}
	/* The oracle: the node's filter, for packets to the node or its routes. */
	p->expect = ir_accepts(f, p) && addr_set_overlaps(&sc->dests, p->fam, p->dst, p->dst);
	p->forwarded = !addr_set_overlaps(&sc->self, p->fam, p->dst, p->dst) &&
		       p->dst != addr(p->fam == ADDR_V4 ? "192.0.2.1" : "2001:db8:ffff::1");
}

/* Read the numbers in set NAME of table inet kgprobe into SEEN[0..MAX). */
static int read_set(const char *name, unsigned char *seen, size_t max)
{
	char cmd[128], *text = NULL;
	size_t len = 0;
	snprintf(cmd, sizeof(cmd), "nft -j list set inet kgprobe %s", name);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	FILE *mem = open_memstream(&text, &len);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	fclose(mem);
	int rc = pclose(f) == 0 ? 0 : -1;
	cJSON *root = rc == 0 ? cJSON_Parse(text) : NULL;
	const cJSON *arr = cJSON_GetObjectItem(root, "nftables"), *item;
	if (!arr)
		rc = -1;
	cJSON_ArrayForEach(item, arr) {
		const cJSON *elem = cJSON_GetObjectItem(cJSON_GetObjectItem(item, "set"), "elem"), *e;
		cJSON_ArrayForEach(e, elem)
			if (cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble < (double)max)
				seen[(size_t)e->valuedouble] = 1;
	}
	cJSON_Delete(root);
	free(text);
	return rc;
}

struct args {
	const char *tun, *other, *out, *src, *dst, *policy, *policy2, *nodes, *node;
	unsigned seed, count, ms, proto, dport;
	bool random, no_snat, explain;
	int rseed;
};

static int cmd_emit(const struct args *a, const struct scenario *sc)
{
	struct nftm_opts o = { .no_snat = a->no_snat };
	struct nftm_node node = { &sc->self, &sc->routes };
	struct nftm_table *t = nftm_build(&o, &node, &sc->flows);
	if (!t)
		return 2;
	struct nftt_job job = { t, { .node = "generated relay" } };
	int rc = outf_write(a->out ? a->out : "-", nftt_write_job, &job);
	nftm_free(t);
	return rc < 0 ? 2 : 0;
}

static int cmd_probe(const struct args *a, const struct scenario *sc)
{
	size_t n = a->count, nother = a->count / 10, total = n + nother;
	if (total >= 65535) {
		fprintf(stderr, "at most 65534 probes (IPv4 ID)\n");
		return 2;
	}
	struct probe *pr = calloc(total + 1, sizeof(*pr));
	unsigned char *pre4 = calloc(total + 1, 1), *pre6 = calloc(total + 1, 1), *post4 = calloc(total + 1, 1),
		      *post6 = calloc(total + 1, 1), *nat4 = calloc(total + 1, 1), *nat6 = calloc(total + 1, 1);
	if (!pr || !pre4 || !pre6 || !post4 || !post6 || !nat4 || !nat6)
		return 2;
	rng_state ^= (uint64_t)a->seed * 0x9e3779b97f4a7c15ull + 1;
	int fd = tun_attach(a->tun), fd2 = tun_attach(a->other);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 1; i <= total; i++) {
		uint8_t pkt[128];
		make_probe(&pr[i], sc);
		if (i > n)
			pr[i].expect = true; /* not from the tunnel: not our business */
		size_t len = build(&pr[i], (unsigned)i, pkt);
		if (write(i > n ? fd2 : fd, pkt, len) != (ssize_t)len) {
			fprintf(stderr, "write probe %zu: %s\n", i, strerror(errno));
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	usleep(100000); /* the kernel handles a TUN write synchronously; margin for softirqs */
	if (read_set("pre4", pre4, total + 1) || read_set("pre6", pre6, total + 1) ||
	    read_set("post4", post4, total + 1) || read_set("post6", post6, total + 1) ||
	    read_set("nat4", nat4, total + 1) || read_set("nat6", nat6, total + 1)) {
		fprintf(stderr, "cannot read the kgprobe sets\n");
		return 2;
	}
	size_t lost = 0, mism = 0, acc = 0, drop = 0, fwd_acc = 0, nat_missing = 0, other_bad = 0;
	size_t by_proto[4][2] = { { 0 } }, by_fam[2][2] = { { 0 } };
	for (size_t i = 1; i <= total; i++) {
		const struct probe *p = &pr[i];
		bool v4 = p->fam == ADDR_V4;
		bool pre = v4 ? pre4[i] : pre6[i], post = v4 ? post4[i] : post6[i];
		bool nat = v4 ? nat4[i] : nat6[i];
		if (!pre) {
			lost++;
			if (lost <= 5)
				fprintf(stderr, "# probe %zu never reached the hook\n", i);
			continue;
		}
		if (i > n) {
			other_bad += !post;
			continue;
		}
		int k = p->proto == PROTO_TCP ? 0 : p->proto == PROTO_UDP ? 1 :
			(p->proto == PROTO_ICMP || p->proto == PROTO_ICMPV6) ? 2 : 3;
		by_proto[k][post]++;
		by_fam[!v4][post]++;
		post ? acc++ : drop++;
		if (post != p->expect) {
			mism++;
			if (mism <= 10) {
				char s[ADDR_STRLEN], d[ADDR_STRLEN];
				fprintf(stderr, "# mismatch probe %zu: v%d proto %u %s -> %s port %u: kernel %s, IR %s\n", i,
					p->fam, p->proto, addr_format(p->fam, p->src, s), addr_format(p->fam, p->dst, d),
					p->dport, post ? "accepts" : "drops", p->expect ? "accepts" : "drops");
			}
		}
		if (post && p->forwarded && !a->no_snat) {
			fwd_acc++;
			nat_missing += !nat;
		} else if (post && p->forwarded) {
			fwd_acc++;
			nat_missing += nat; /* --no-snat: nothing may be rewritten */
		}
	}
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("probes %zu tunnel + %zu other in %.3f s; accepted %zu dropped %zu; lost %zu; mismatches %zu\n",
	       n, nother, secs, acc, drop, lost, mism);
	printf("by protocol accepted/dropped: tcp %zu/%zu udp %zu/%zu icmp %zu/%zu other %zu/%zu\n",
	       by_proto[0][1], by_proto[0][0], by_proto[1][1], by_proto[1][0], by_proto[2][1], by_proto[2][0],
	       by_proto[3][1], by_proto[3][0]);
	printf("by family accepted/dropped: IPv4 %zu/%zu IPv6 %zu/%zu\n", by_fam[0][1], by_fam[0][0], by_fam[1][1],
	       by_fam[1][0]);
	printf("forwarded accepted %zu, %s %zu; not-from-tunnel dropped %zu\n", fwd_acc,
	       a->no_snat ? "source-NATed anyway" : "without source NAT", nat_missing, other_bad);
	close(fd);
	close(fd2);
	free(pr);
	free(pre4), free(pre6), free(post4), free(post6), free(nat4), free(nat6);
	return lost || mism || nat_missing || other_bad ? 1 : 0;
}

/* Rules sorted by what a linear rule is written for. */
static int lin_cmp(const void *pa, const void *pb)
{
	const struct ir_box *a = &((const struct ir_rule *)pa)->box, *b = &((const struct ir_rule *)pb)->box;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->dst_lo != b->dst_lo)
		return a->dst_lo < b->dst_lo ? -1 : 1;
	if (a->dst_hi != b->dst_hi)
		return a->dst_hi < b->dst_hi ? -1 : 1;
	bool pa_ = proto_has_ports(a->proto), pb_ = proto_has_ports(b->proto);
	if (pa_ != pb_)
		return pa_ ? -1 : 1;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	return a->port_hi < b->port_hi ? -1 : a->port_hi > b->port_hi;
}

static int cmd_linear(const struct args *a, const struct scenario *sc)
{
	const struct ir_flows *f = &sc->flows;
	struct ir_rule *r = malloc((f->nrules + 1) * sizeof(*r));
	FILE *out = a->out ? fopen(a->out, "w") : NULL;
	if (!r || !out)
		return 2;
	memcpy(r, f->rules, f->nrules * sizeof(*r));
	qsort(r, f->nrules, sizeof(*r), lin_cmp);
	fprintf(out, "# the linear reference: one rule per destination and ports\n"
		     "table inet keygate\ndelete table inet keygate\ntable inet keygate {\n"
		     "\tchain input { type filter hook input priority filter; policy accept; iifname \"keygate0\" jump from_tunnel; }\n"
		     "\tchain forward { type filter hook forward priority filter; policy accept; iifname \"keygate0\" jump from_tunnel; }\n"
		     "\tchain postrouting { type nat hook postrouting priority srcnat; policy accept; iifname \"keygate0\" oifname != \"keygate0\" masquerade; }\n"
		     "\tchain from_tunnel {\n\t\tct state established,related accept\n\t\tct state invalid drop\n");
	size_t nrules = 0;
	for (size_t i = 0; i < f->nrules;) {
		size_t j = i + 1;
		while (j < f->nrules && lin_cmp(&r[i], &r[j]) == 0)
			j++;
		const struct ir_box *b = &r[i].box;
		bool v4 = b->family == ADDR_V4, ports = proto_has_ports(b->proto);
		/* the destination clipped to what the node has or serves */
		for (size_t d = 0; d < sc->dests.n; d++) {
			const struct addr_range *dr = &sc->dests.v[d];
			if (dr->family != b->family || dr->hi < b->dst_lo || dr->lo > b->dst_hi)
				continue;
			struct addr_set srcs = { 0 };
			bool proto[256] = { false };
			for (size_t k = i; k < j; k++) {
				addr_set_add(&srcs, b->family, r[k].box.src_lo, r[k].box.src_hi);
				proto[r[k].box.proto] = true;
			}
			addr_set_merge(&srcs);
			char buf[ADDR_RANGE_STRLEN];
			fprintf(out, "\t\t%s saddr { ", v4 ? "ip" : "ip6");
			for (size_t k = 0; k < srcs.n; k++)
				fprintf(out, "%s%s", k ? ", " : "", addr_range_format(b->family, srcs.v[k].lo, srcs.v[k].hi, buf));
			fprintf(out, " } %s daddr %s meta l4proto { ", v4 ? "ip" : "ip6",
				addr_range_format(b->family, dr->lo > b->dst_lo ? dr->lo : b->dst_lo,
						dr->hi < b->dst_hi ? dr->hi : b->dst_hi, buf));
			for (unsigned p = 0, first = 1; p < 256; p++)
				if (proto[p]) {
					fprintf(out, "%s%u", first ? "" : ", ", p);
					first = 0;
				}
			fprintf(out, " }");
			if (ports)
				fprintf(out, " th dport %u-%u", b->port_lo, b->port_hi);
			fprintf(out, " accept\n");
			nrules++;
			addr_set_free(&srcs);
		}
		i = j;
	}
	fprintf(out, "\t\tdrop\n\t}\n}\n");
	free(r);
	int rc = fclose(out) == 0 ? 0 : 2;
	fprintf(stderr, "%zu linear rules\n", nrules);
	return rc;
}

static int cmd_pick(const struct scenario *sc)
{
	const struct ir_flows *f = &sc->flows;
	struct nftm_opts o = { 0 };
	struct nftm_node node = { &sc->self, &sc->routes };
	struct nftm_table *t = nftm_build(&o, &node, f);
	if (!t)
		return 2;
	/* From the middle of the rules: a UDP flow to a served route, not to
	 * the node itself, from a tailnet address; verdicts from the model
	 * (the unit and differential tests hold it equal to ir_match). */
	int rc = 1;
	for (size_t k = 0; k < f->nrules && rc; k++) {
		const struct ir_box *b = &f->rules[(k + f->nrules / 2) % f->nrules].box;
		if (b->family != ADDR_V4 || b->proto != PROTO_UDP || addr_set_overlaps(&sc->self, ADDR_V4, b->dst_lo, b->dst_lo) ||
		    !addr_set_overlaps(&sc->routes, ADDR_V4, b->dst_lo, b->dst_lo) || b->src_lo >> 22 != addr("100.64.0.0") >> 22 ||
		    !nftm_eval(t, ADDR_V4, PROTO_UDP, b->src_lo, b->dst_lo, b->port_lo))
			continue;
		unsigned deny;
		for (deny = 9999; deny < 65535 && nftm_eval(t, ADDR_V4, PROTO_UDP, b->src_lo, b->dst_lo, deny); deny++)
			;
		char s[ADDR_STRLEN], d[ADDR_STRLEN];
		printf("%s %s %u %u\n", addr_format(ADDR_V4, b->src_lo, s), addr_format(ADDR_V4, b->dst_lo, d),
		       b->port_lo, deny);
		rc = 0;
	}
	nftm_free(t);
	return rc;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmd_stages(const struct args *a)
{
	struct scenario sc;
	memset(&sc, 0, sizeof(sc));
	double t0 = now();
	int rc = policy_scenario(&sc, a->policy, a->nodes, a->node, false);
	double t1 = now();
	if (rc < 0) {
		scenario_free(&sc);
		return 2;
	}
	struct nftm_opts o = { 0 };
	struct nftm_node node = { &sc.self, &sc.routes };
	struct nftm_table *t = nftm_build(&o, &node, &sc.flows);
	double t2 = now();
	struct nftt_job job = { t, { NULL, NULL } };
	rc = t ? outf_write("/dev/null", nftt_write_job, &job) : -1;
	double t3 = now();
	printf("policy+inventory to the node's rules %.3f s (%zu rules); rules to nft model %.3f s "
	       "(%zu+%zu identities, %zu elements); model to text %.3f s\n",
	       t1 - t0, sc.flows.nrules, t2 - t1, t ? t->identities[0] : 0, t ? t->identities[1] : 0,
	       t ? nftm_elem_count(t) : 0, t3 - t2);
	nftm_free(t);
	scenario_free(&sc);
	return rc < 0 ? 2 : 0;
}

static struct nftm_table *model_of(const char *policy, const struct args *a)
{
	struct scenario sc;
	memset(&sc, 0, sizeof(sc));
	struct nftm_table *t = NULL;
	if (policy_scenario(&sc, policy, a->nodes, a->node, false) == 0) {
		struct nftm_opts o = { 0 };
		struct nftm_node node = { &sc.self, &sc.routes };
		t = nftm_build(&o, &node, &sc.flows);
	}
	scenario_free(&sc);
	return t;
}

static bool has_chain(const struct nftm_table *t, const char *name)
{
	for (size_t i = 0; i < t->nchains; i++)
		if (!strcmp(t->chains[i].name, name))
			return true;
	return false;
}

static int cmd_delta(const struct args *a)
{
	struct nftm_table *ta = model_of(a->policy, a), *tb = model_of(a->policy2, a);
	if (!ta || !tb)
		return 2;
	size_t map_add = 0, map_del = 0, el_add = 0, el_del = 0, sets_add = 0, sets_del = 0, ch_add = 0, ch_del = 0;
	for (size_t i = 0; i < tb->nsets; i++) {
		const struct nftm_set *sb = &tb->sets[i], *sa = nftm_set_find(ta, sb->name);
		if (!sa) {
			sets_add++;
			el_add += sb->n;
			continue;
		}
		struct nftm_delta d;
		if (nftm_set_diff(ta, sa, tb, sb, &d) < 0)
			return 2;
		if (sb->vmap)
			map_add += d.nadd, map_del += d.ndel;
		else
			el_add += d.nadd, el_del += d.ndel;
		nftm_delta_free(&d);
	}
	for (size_t i = 0; i < ta->nsets; i++)
		if (!nftm_set_find(tb, ta->sets[i].name))
			sets_del++, el_del += ta->sets[i].n;
	for (size_t i = 0; i < tb->nchains; i++)
		ch_add += !has_chain(ta, tb->chains[i].name);
	for (size_t i = 0; i < ta->nchains; i++)
		ch_del += !has_chain(tb, ta->chains[i].name);
	printf("source map elements +%zu -%zu; identity chains +%zu -%zu, sets +%zu -%zu, set elements +%zu -%zu "
	       "(of %zu elements in all)\n", map_add, map_del, ch_add, ch_del, sets_add, sets_del, el_add, el_del,
	       nftm_elem_count(tb));
	nftm_free(ta);
	nftm_free(tb);
	return 0;
}

static int cmd_pump(const struct args *a)
{
	struct probe p = { .proto = a->proto, .dport = a->dport, .sport = 40000 };
	enum addr_family f2;
	if (!a->src || !a->dst || !addr_parse(a->src, &p.fam, &p.src) || !addr_parse(a->dst, &f2, &p.dst) ||
	    f2 != p.fam) {
		fprintf(stderr, "pump needs --src and --dst of one family\n");
		return 2;
	}
	int fd = tun_attach(a->tun);
	uint8_t pkt[128];
	size_t len = build(&p, 1, pkt);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned long long sent = 0;
	double el = 0;
	do {
		for (int k = 0; k < 256; k++)
			if (write(fd, pkt, len) == (ssize_t)len)
				sent++;
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
	} while (el * 1000 < a->ms);
	printf("%.0f\n", (double)sent / el);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { .count = 10000, .ms = 1000, .proto = 17, .dport = 9 };
	if (argc < 2)
		goto usage;
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--no-snat")) {
			a.no_snat = true;
			continue;
		}
		if (!strcmp(o, "--oracle-rules")) {
			a.explain = true;
			continue;
		}
		if (!v)
			goto usage;
		i++;
		if (!strcmp(o, "--random")) a.random = true, a.rseed = atoi(v);
		else if (!strcmp(o, "--policy")) a.policy = v;
		else if (!strcmp(o, "--policy2")) a.policy2 = v;
		else if (!strcmp(o, "--nodes")) a.nodes = v;
		else if (!strcmp(o, "--node")) a.node = v;
		else if (!strcmp(o, "--tun")) a.tun = v;
		else if (!strcmp(o, "--other")) a.other = v;
		else if (!strcmp(o, "-o")) a.out = v;
		else if (!strcmp(o, "--count")) a.count = (unsigned)atoi(v);
		else if (!strcmp(o, "--seed")) a.seed = (unsigned)atoi(v);
		else if (!strcmp(o, "--ms")) a.ms = (unsigned)atoi(v);
		else if (!strcmp(o, "--src")) a.src = v;
		else if (!strcmp(o, "--dst")) a.dst = v;
		else if (!strcmp(o, "--proto")) a.proto = (unsigned)atoi(v);
		else if (!strcmp(o, "--dport")) a.dport = (unsigned)atoi(v);
		else goto usage;
	}
	if (!strcmp(argv[1], "pump"))
		return a.tun ? cmd_pump(&a) : 2;
	if (!strcmp(argv[1], "stages"))
		return a.policy ? cmd_stages(&a) : 2;
	if (!strcmp(argv[1], "delta"))
		return a.policy && a.policy2 ? cmd_delta(&a) : 2;
	struct scenario sc;
	memset(&sc, 0, sizeof(sc));
	oracle_rules = a.explain;
	if (a.random)
		random_scenario(&sc, (unsigned)a.rseed);
	else if (!a.policy)
		goto usage;
	else if (policy_scenario(&sc, a.policy, a.nodes, a.node, !strcmp(argv[1], "probe") && !a.explain) < 0) {
		fprintf(stderr, "bench_nftprobe: cannot compile %s\n", a.policy);
		scenario_free(&sc);
		return 2;
	}
	int rc = 2;
	if (!strcmp(argv[1], "emit"))
		rc = cmd_emit(&a, &sc);
	else if (!strcmp(argv[1], "probe") && a.tun && a.other)
		rc = cmd_probe(&a, &sc);
	else if (!strcmp(argv[1], "linear") && a.out)
		rc = cmd_linear(&a, &sc);
	else if (!strcmp(argv[1], "pick"))
		rc = cmd_pick(&sc);
	scenario_free(&sc);
	return rc;
usage:
	fprintf(stderr, "usage: bench_nftprobe emit|probe|pump ... (see the source)\n");
	return 2;
}
