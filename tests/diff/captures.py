#!/usr/bin/env python3
"""aclc diff against aclc compile's filters on the recorded Tailscale cases.

For successive accepted cases of each folder (acl, routes, grant), policy i
and policy i+1 are compiled against case i's inventory and diffed.  For every
node the changed flows `aclc diff --format json` reports must be exactly the
set difference of the packets the filters `aclc compile --format tailscale`
writes accept (read here as plain unions of FilterRules, not through the IR):
every corner of a gained box is accepted by NEW and not by OLD (losses the
other way round), and every corner of a NEW box that OLD does not accept
lies in a gained box (losses: OLD boxes); ports count only for protocols
that have them.  Each diff is run both ways, and
every policy against itself must be "no change" (exit 0).

usage: captures.py ACLC CAPTURES_DIR TMPDIR   (prints ok/not ok lines)
Every 8th pair by default (the suite's time budget); KG_DIFF_STRIDE=1: all.
The last full run: 426 policies, 423 pairs, 379 of them with changes."""
import ipaddress
import itertools
import json
import os
import subprocess
import sys

aclc, captures, tmp = sys.argv[1:4]
failures = 0
PROTOS = {"icmp": 1, "tcp": 6, "udp": 17, "dccp": 33, "icmpv6": 58, "sctp": 132, "udplite": 136}


def report(good, what):
    global failures
    print(("ok - " if good else "not ok - ") + what)
    failures += not good


def addr_range(text):
    if "-" in text:
        lo, hi = text.split("-")
        return int(ipaddress.ip_address(lo)), int(ipaddress.ip_address(hi))
    net = ipaddress.ip_network(text, strict=True)
    return int(net.network_address), int(net.broadcast_address)


def ranges(text):
    """(family, lo, hi) for an address, prefix, a-b range or "*" (both families)."""
    if text == "*":
        return [(4, 0, 2**32 - 1), (6, 0, 2**128 - 1)]
    lo, hi = addr_range(text)
    return [(6 if ":" in text else 4, lo, hi)]


def parse_filters(text):
    """{node: [(family, proto, plo, phi, dlo, dhi, slo, shi)]} from Tailscale
    FilterRule JSON (--format tailscale): not canonical, read as a union."""
    nodes = {}
    for node, rules in json.loads(text).items():
        boxes = nodes.setdefault(node, [])
        for r in rules:
            for src, dp, proto in itertools.product(r.get("SrcIPs", []), r.get("DstPorts", []),
                                                    r.get("IPProto") or [6, 17, 1, 58]):
                for (sf, slo, shi), (df, dlo, dhi) in itertools.product(ranges(src), ranges(dp["IP"])):
                    if sf == df:
                        boxes.append((sf, proto, dp["Ports"]["First"], dp["Ports"]["Last"], dlo, dhi, slo, shi))
    return nodes


def box_of_flow(f):
    d, s = addr_range(f["dst"]), addr_range(f["src"])
    return (f["family"], f["proto_number"], f["ports"][0], f["ports"][1], d[0], d[1], s[0], s[1])


PORTED = {6, 17, 33, 132, 136}   # protocols whose destination port means something


def has(boxes, pkt):
    fam, proto, port, dst, src = pkt
    return any(b[0] == fam and b[1] == proto and (proto not in PORTED or b[2] <= port <= b[3]) and
               b[4] <= dst <= b[5] and b[6] <= src <= b[7] for b in boxes)


def corners(b):
    for port, dst, src in itertools.product(b[2:4], b[4:6], b[6:8]):
        yield (b[0], b[1], port, dst, src)


def run(*args):
    p = subprocess.run([aclc, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def check_pair(name, pa, pb, inv):
    rc, fwd, err = run("diff", pa, pb, "--nodes", inv, "--format", "json")
    crc_a, ir_a, _ = run("compile", pa, "--nodes", inv, "--format", "tailscale")
    crc_b, ir_b, _ = run("compile", pb, "--nodes", inv, "--format", "tailscale")
    if crc_a != 0 or crc_b != 0:
        report(rc == 2, f"{name}: a side does not compile, diff exits 2 (got {rc})")
        return None
    if rc not in (0, 1):
        report(False, f"{name}: diff exits {rc}: {err.strip()[:200]}")
        return None
    doc = json.loads(fwd)
    old, new = parse_filters(ir_a), parse_filters(ir_b)
    gained, lost = {}, {}
    for c in doc["changes"]:
        if c["kind"] in ("gain", "loss"):
            (gained if c["kind"] == "gain" else lost).setdefault(c["node"], []).extend(
                box_of_flow(f) for f in c["flows"])
    sound = complete = True
    for node in set(old) | set(new):
        o, n = old.get(node, []), new.get(node, [])
        g, l = gained.get(node, []), lost.get(node, [])
        sound &= all(has(n, p) and not has(o, p) for b in g for p in corners(b))
        sound &= all(has(o, p) and not has(n, p) for b in l for p in corners(b))
        complete &= all(has(o, p) or has(g, p) for b in n for p in corners(b))
        complete &= all(has(n, p) or has(l, p) for b in o for p in corners(b))
    report(sound and complete and (rc == 1) == bool(doc["changes"]),
           f"{name}: diff is NEW \\ OLD and OLD \\ NEW of the compiled IR (exit {rc}, "
           f"{sum(map(len, gained.values()))} gained, {sum(map(len, lost.values()))} lost boxes)")
    rc2, back, _ = run("diff", pb, pa, "--nodes", inv, "--format", "json")
    same = rc2 == rc and rc2 in (0, 1)
    if same:
        bdoc = json.loads(back)
        key = lambda doc, kind: sorted((c["node"], json.dumps(f, sort_keys=True))
                                       for c in doc["changes"] if c["kind"] == kind for f in c["flows"])
        same = key(doc, "gain") == key(bdoc, "loss") and key(doc, "loss") == key(bdoc, "gain")
    report(same, f"{name}: diffed backwards, gains and losses swap")
    return rc


def main():
    pairs = selfs = self_bad = 0
    stride = max(1, int(os.environ.get("KG_DIFF_STRIDE", "8")))
    for folder in ("acl", "routes", "grant"):
        d = os.path.join(captures, folder)
        cases = []
        for f in sorted(os.listdir(d)):
            case = json.load(open(os.path.join(d, f)))
            if case.get("status") == 200:
                cases.append((f[:-5], case))
        for i, (name, case) in enumerate(cases):
            if i % stride not in (0, 1) and stride > 1:
                continue
            pol = os.path.join(tmp, name + ".hujson")
            inv = os.path.join(tmp, name + ".nodes.json")
            with open(pol, "w") as out:   # the policy as recorded: an object, or its HuJSON text
                out.write(case["policy"] if isinstance(case["policy"], str) else json.dumps(case["policy"]))
            with open(inv, "w") as out:
                json.dump({"users": case["users"], "nodes": case["nodes"]}, out)
            rc, _, err = run("diff", pol, pol, "--nodes", inv)
            selfs += 1
            if rc != 0:
                self_bad += 1
                print(f"# {name} against itself: exit {rc} ({err.strip()[:200]})")
            if i > 0 and (i - 1) % stride == 0:
                prev = cases[i - 1][0]
                check_pair(f"{prev} -> {name}", os.path.join(tmp, prev + ".hujson"), pol,
                           os.path.join(tmp, prev + ".nodes.json"))
                pairs += 1
    report(self_bad == 0 and selfs > 100 // stride, f"{selfs} recorded policies diffed against themselves: no change "
           f"({self_bad} differ); {pairs} successive pairs checked above")
    return 1 if failures else 0


sys.exit(main())
