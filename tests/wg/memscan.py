#!/usr/bin/env python3
"""memscan.py PID KEY_BASE64: where a running process holds a key.

Reads /proc/PID/smaps and /proc/PID/mem (root) and looks for the key's 32
raw bytes and its 64-character hex form in every readable mapping of at
most 1 GiB that has resident pages (larger ones are sanitizer shadow or
reservations).  Prints one line per mapping that holds a copy:
    dd|nodd START-END PATHNAME COPIES
and exits 0.  "dd" marks a mapping excluded from core dumps (MADV_DONTDUMP).
"""
import base64
import re
import sys

LIMIT = 1 << 30


def mappings(pid):
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                if cur:
                    yield cur
                cur = {"start": int(m.group(1), 16), "end": int(m.group(2), 16), "perms": m.group(3),
                       "path": m.group(4) or "[anon]", "rss": 0, "flags": ""}
            elif line.startswith("Rss:"):
                cur["rss"] = int(line.split()[1])
            elif line.startswith("VmFlags:"):
                cur["flags"] = line.split(":", 1)[1].split()
    if cur:
        yield cur


def main():
    pid, key = sys.argv[1], base64.b64decode(sys.argv[2])
    needles = [key, key.hex().encode()]
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for m in mappings(pid):
            size = m["end"] - m["start"]
            if "r" not in m["perms"] or not m["rss"] or size > LIMIT or m["path"] == "[vvar]":
                continue
            try:
                mem.seek(m["start"])
                data = mem.read(size)
            except OSError:
                continue
            n = sum(data.count(x) for x in needles)
            if n:
                dd = "dd" if "dd" in m["flags"] else "nodd"
                print(f"{dd} {m['start']:x}-{m['end']:x} {m['path']} {n}")


main()
