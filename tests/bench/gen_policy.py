#!/usr/bin/env python3
"""Generate a Tailscale-style policy and inventory for tests and benchmarks.

gen_policy.py --nodes N --groups G --acls A --routes R [--seed S] OUTDIR
writes OUTDIR/policy.hujson and OUTDIR/nodes.json.

One user per node (alice0@example.com ...) except the relays: relay-1 and
relay-2 (tag:relay) both advertise every route, approved by autoApprovers.
Routes are IPv4 /24s and /28s under 10.0.0.0/8 and a few IPv6 /64s.  Groups
hold random users; ACL entries go from groups, users or tag:relay to route
addresses (whole routes, single hosts, hosts entries), to the relays
themselves, with single ports, lists, ranges, "*" and a protocol now and
then (tcp, udp, icmp, 47).
"""
import argparse
import json
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, required=True)
    ap.add_argument("--groups", type=int, required=True)
    ap.add_argument("--acls", type=int, required=True)
    ap.add_argument("--routes", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("outdir")
    a = ap.parse_args()
    rnd = random.Random(a.seed)

    routes = []
    for i in range(a.routes):
        if i % 10 == 9:
            routes.append("2001:db8:%x:%x::/64" % (i // 256 + 1, i % 256))
        elif i % 3 == 2:
            routes.append("10.%d.%d.%d/28" % (i // 256 + 100, i % 256, 16 * rnd.randrange(16)))
        else:
            routes.append("10.%d.%d.0/24" % (i // 256, i % 256))

    users, nodes = [], []
    nusers = max(1, a.nodes - 2)
    for i in range(nusers):
        users.append({"name": "user%d" % i, "email": "user%d@example.com" % i})
    for r in (1, 2):
        nodes.append({"name": "relay-%d" % r, "user": None, "tags": ["tag:relay"],
                      "ipv4": "100.64.0.%d" % r, "ipv6": "fd7a:115c:a1e0::%x" % r,
                      "advertised_routes": routes, "approved_routes": []})
    for i in range(nusers):
        n = 10 + i
        nodes.append({"name": "node%d" % i, "user": "user%d" % i, "tags": [],
                      "ipv4": "100.%d.%d.%d" % (64 + n // 65536, n // 256 % 256, n % 256),
                      "ipv6": "fd7a:115c:a1e0::%x" % (0x100 + i),
                      "advertised_routes": [], "approved_routes": []})

    groups = {}
    for g in range(a.groups):
        k = rnd.randint(1, min(40, nusers))
        groups["group:g%d" % g] = ["user%d@example.com" % u for u in rnd.sample(range(nusers), k)]

    hosts = {}
    for h in range(min(50, a.routes)):
        r = routes[rnd.randrange(len(routes))]
        if ":" in r:
            hosts["h%d" % h] = r.split("/")[0] + "%x" % rnd.randint(1, 0xfff)
        else:
            base = r.split("/")[0].rsplit(".", 1)
            hosts["h%d" % h] = "%s.%d" % (base[0], int(base[1]) + rnd.randint(1, 14))

    def src():
        out = []
        for _ in range(rnd.randint(1, 3)):
            x = rnd.random()
            if x < 0.7 and groups:
                out.append(rnd.choice(list(groups)))
            elif x < 0.95:
                out.append("user%d@example.com" % rnd.randrange(nusers))
            else:
                out.append("tag:relay")
        return sorted(set(out))

    def ports():
        x = rnd.random()
        if x < 0.5:
            return str(rnd.choice([22, 80, 443, 5432, 3306, 8080, 53]))
        if x < 0.7:
            return "80,443"
        if x < 0.85:
            lo = rnd.randint(1000, 9000)
            return "%d-%d" % (lo, lo + rnd.randint(1, 500))
        return "*"

    def dst():
        out = []
        for _ in range(rnd.randint(1, 3)):
            x = rnd.random()
            if x < 0.6:
                r = rnd.choice(routes)
                target = ("[%s]" % r) if ":" in r else r
            elif x < 0.8 and hosts:
                target = rnd.choice(list(hosts))
            elif x < 0.9:
                target = "tag:relay"
            else:
                r = rnd.choice(routes)
                if ":" in r:
                    target = "[%s%x]" % (r.split("/")[0], rnd.randint(1, 99))
                else:
                    base = r.split("/")[0].rsplit(".", 1)
                    target = "%s.%d" % (base[0], int(base[1]) + rnd.randint(0, 15))
            out.append("%s:%s" % (target, ports()))
        return out

    acls = []
    for _ in range(a.acls):
        e = {"action": "accept", "src": src(), "dst": dst()}
        x = rnd.random()
        if x < 0.1:
            e["proto"] = "udp"
        elif x < 0.2:
            e["proto"] = "tcp"
        elif x < 0.25:
            e["proto"] = "icmp"
            e["dst"] = [d.rsplit(":", 1)[0] + ":*" for d in e["dst"]]
        elif x < 0.28:
            e["proto"] = "47"
            e["dst"] = [d.rsplit(":", 1)[0] + ":*" for d in e["dst"]]
        acls.append(e)

    policy = {
        "groups": groups,
        "tagOwners": {"tag:relay": []},
        "hosts": hosts,
        "autoApprovers": {"routes": {r: ["tag:relay"] for r in routes}},
        "acls": acls,
    }
    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "policy.hujson"), "w") as f:
        f.write("// generated by tests/bench/gen_policy.py: %d nodes, %d groups, %d acls, %d routes, seed %d\n"
                % (a.nodes, a.groups, a.acls, a.routes, a.seed))
        json.dump(policy, f, indent=1)
        f.write("\n")
    with open(os.path.join(a.outdir, "nodes.json"), "w") as f:
        json.dump({"users": users, "nodes": nodes}, f, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
