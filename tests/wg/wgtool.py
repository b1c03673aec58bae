#!/usr/bin/env python3
"""Traffic helpers for the WireGuard namespace tests (test inputs only)."""
import base64, hashlib, os, random, socket, struct, sys, time

def ready():
    """Tell the test script the socket is bound (KG_READY names a file)."""
    if os.environ.get("KG_READY"):
        open(os.environ["KG_READY"], "w").close()

def tcp_serve(addr, port, out):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port))); s.listen(1); s.settimeout(15); ready()
    c, _ = s.accept(); c.settimeout(15)
    h = hashlib.sha256(); n = 0
    while True:
        d = c.recv(65536)
        if not d: break
        h.update(d); n += len(d)
    open(out, "w").write("%s %d\n" % (h.hexdigest(), n))

def tcp_send(addr, port, nbytes):
    data = os.urandom(int(nbytes))
    for _ in range(30):
        try:
            s = socket.create_connection((addr, int(port)), timeout=15); break
        except OSError:
            time.sleep(0.1)
    s.sendall(data); s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
    print("%s %d" % (hashlib.sha256(data).hexdigest(), len(data)))

def udp_count(addr, port, seconds, marker):
    """Count datagrams carrying MARKER for SECONDS, or, when KG_STOP names a
    file, until it appears (the senders are done: on a loaded machine
    starting them takes seconds; SECONDS bounds that wait) and then until
    KG_EXPECT datagrams (default 0) have arrived, at most 20 s more however
    late the file came, as delivery lags under load too; then half a second
    more for any extra; print the count."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, int(port))); s.settimeout(0.2); ready()
    end = time.time() + float(seconds); n = 0
    stop = os.environ.get("KG_STOP")
    expect = int(os.environ.get("KG_EXPECT", "0"))
    waiting = False
    while time.time() < end:
        if stop and os.path.exists(stop):
            end = time.time() + 20; stop = None; waiting = True
        if waiting and n >= expect:
            end = min(end, time.time() + 0.5); waiting = False
        try:
            d, _ = s.recvfrom(2048)
            if d.startswith(marker.encode()): n += 1
        except socket.timeout:
            pass
    print(n)

def udp_send(src, addr, port, marker, size="100"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if src != "-": s.bind((src, 0))
    s.sendto(marker.encode().ljust(int(size), b"."), (addr, int(port)))

def sniff_replay(ifname, port, udplen, dst, count, delay):
    """Capture one incoming WireGuard transport packet of UDP length UDPLEN
    to PORT on IFNAME, then send its payload again COUNT times to DST:PORT."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(3))
    s.bind((ifname, 0)); s.settimeout(10); ready()
    end = time.time() + 10
    while time.time() < end:
        f = s.recv(65535)
        if len(f) < 14 + 20 + 8 or f[12:14] != b"\x08\x00": continue
        ihl = (f[14] & 15) * 4
        if f[23] != 17: continue
        u = 14 + ihl
        dport, ulen = struct.unpack("!2xHH", f[u:u + 6])
        payload = f[u + 8:u + ulen]
        if dport == int(port) and ulen == int(udplen) and payload[0] == 4:
            time.sleep(float(delay))
            o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for _ in range(int(count)):
                o.sendto(payload, (dst, int(port)))
            print("replayed")
            return
    print("nothing captured")

def mac(key, data):
    return hashlib.blake2s(data, digest_size=16, key=key).digest()

def flood(dst, port, pub_b64, count, seconds):
    """Send COUNT initiations with a valid mac1 (random contents) over SECONDS;
    print how many 64-byte cookie replies came back."""
    pub = base64.b64decode(pub_b64)
    k1 = hashlib.blake2s(b"mac1----" + pub).digest()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setblocking(False)
    replies = 0; count = int(count); gap = float(seconds) / count
    for i in range(count):
        m = b"\x01\x00\x00\x00" + os.urandom(148 - 4 - 32)
        m += mac(k1, m) + b"\x00" * 16
        s.sendto(m, (dst, int(port)))
        time.sleep(gap)
        try:
            while True:
                d = s.recv(2048)
                if len(d) == 64 and d[0] == 3: replies += 1
        except BlockingIOError:
            pass
    time.sleep(0.3)
    try:
        while True:
            d = s.recv(2048)
            if len(d) == 64 and d[0] == 3: replies += 1
    except BlockingIOError:
        pass
    print(replies)

def garbage(dst, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rnd = random.Random(7)
    shapes = [b"", b"\x01", b"\x04\x00\x00\x00", b"\x05" + b"\x00" * 40,
              b"\x01\x00\x00\x00" + bytes(144), b"\x01\x00\x00\x00" + bytes(145),
              b"\x02\x00\x00\x00" + bytes(88), b"\x03\x00\x00\x00" + bytes(60),
              b"\x04\x00\x00\x00" + bytes(28), b"\x04\x00\x00\x00" + bytes(12),
              b"\x01\x01\x00\x00" + bytes(144)]
    for m in shapes: s.sendto(m, (dst, int(port)))
    for _ in range(300):
        t = rnd.choice([1, 2, 3, 4, rnd.randrange(256)])
        n = rnd.choice([148, 92, 64, 32, 33, 200, 1500, rnd.randrange(1, 2000)])
        m = bytes([t, 0, 0, 0]) + rnd.randbytes(n - 4) if n > 4 else rnd.randbytes(n)
        s.sendto(m, (dst, int(port)))
    s.sendto(rnd.randbytes(65000), (dst, int(port)))
    print("sent")

def uapi_garbage(path):
    """Malformed requests on the API socket; print each reply (or 'closed')."""
    cases = [b"set=1\nbogus_key=1\n\n", b"set=1\nlisten_port=99999\n\n", b"set=1\nno-equals\n\n",
             b"set=1\npublic_key=zz\n\n", b"get=2\n\n", b"\n\n", b"set=1\n" + b"a" * 10000 + b"\n\n",
             b"set=1\n" + (b"x=" + b"y" * 100 + b"\n") * 10000 + b"\n", os.urandom(4096)]
    for c in cases:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5); s.connect(path)
        try:
            s.sendall(c)
            r = s.recv(4096).decode(errors="replace").strip().replace("\n", " ")
        except OSError as e:
            r = "closed(%s)" % e.__class__.__name__
        print(r or "closed")
        s.close()

def uapi_hog(path, n):
    """Open N silent connections to the API socket, then ask get=1 on a new
    one; print the first reply line (the daemon must evict an idle one)."""
    hogs = []
    for _ in range(int(n)):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(path); hogs.append(s)
    time.sleep(0.2)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5); s.connect(path)
    s.sendall(b"get=1\n\n")
    data = b""
    while not data.endswith(b"\n\n"):
        d = s.recv(65536)
        if not d: break
        data += d
    print(data.decode().strip().split("\n")[-1])

def uapi_slow(path):
    """One client queues 192 KiB of get=1 requests and reads its replies
    slowly (128 KiB every 0.5 s); meanwhile a second client asks get=1.  Print
    the second client's wait in milliseconds, or 'timeout' after 10 s."""
    import threading
    a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.connect(path)
    stop = threading.Event()
    def slow_reader():
        a.setblocking(False)
        reqs = b"get=1\n\n" * (192 * 1024 // 7); sent = 0
        while not stop.is_set():
            try:
                if sent < len(reqs): sent += a.send(reqs[sent:sent + 65536])
            except BlockingIOError:
                pass
            try:
                a.recv(131072)
            except BlockingIOError:
                pass
            except OSError:
                return
            time.sleep(0.5)
    t = threading.Thread(target=slow_reader); t.start()
    time.sleep(1)
    b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); b.settimeout(10); b.connect(path)
    start = time.time(); data = b""
    try:
        b.sendall(b"get=1\n\n")
        while not data.endswith(b"\n\n"):
            d = b.recv(65536)
            if not d: break
            data += d
        print("%d" % ((time.time() - start) * 1000) if data.endswith(b"errno=0\n\n") else "closed")
    except socket.timeout:
        print("timeout")
    stop.set(); t.join(); a.close()

if __name__ == "__main__":
    globals()[sys.argv[1].replace("-", "_")](*sys.argv[2:])
