#!/usr/bin/env python3
"""Traffic for the relay scenario (a test tool, not part of the product).

serve READYFILE LOGFILE ADDR[,ADDR...] PORT...
    Listen on every ADDR:PORT, TCP and UDP.  A UDP datagram is answered with
    "peer ADDRESS port PORT" from the address it was sent to (one socket per
    address: a wildcard socket would answer from the interface's address).  Per TCP connection: read until the
    client half-closes, then answer one line
        peer ADDRESS port PORT bytes N sha256 HEX
    followed by the received bytes echoed back.  Each connection is also
    logged to LOGFILE as "PORT ADDRESS".  READYFILE is written once every
    port is bound.

udp DST PORT TIMEOUT [SRC]
    Send one datagram (from the local address SRC if given), wait TIMEOUT
    seconds for the answer.  Prints
    "peer=ADDRESS" (exit 0) or "no answer: REASON" (exit 1).

ping DST TIMEOUT
    One ICMP echo request (raw socket: root), wait TIMEOUT seconds for the
    reply.  Prints "echo reply from DST" (exit 0) or "no echo reply" (exit 1).

udpstream DST PORT SECONDS
    From one socket (one flow), a datagram "alice! N" every 10 ms for
    SECONDS, answers read as they come.  Prints "sent=N answered=M".

follow DST PORT VIA SECONDS
    A UDP stream (a datagram every 10 ms, one flow) until an answer comes
    that the service says came from VIA: prints "via=VIA at=EPOCH_MS"
    (exit 0), or "not via VIA: last from ADDRESS" after SECONDS (exit 1).

trickle DST PORT SECONDS
    One TCP connection: 1000 random bytes every 20 ms for SECONDS, then
    half-close and check the echo, as connect does (same output and exit
    status; the answer is awaited for 5 s).

watch DST PORT SECONDS
    For SECONDS, sniff every interface (AF_PACKET: root) for TCP segments
    with a payload to DST:PORT.  Prints "flowing" once the first arrives,
    and at the end "segments=N last=MS" (MS: the last one's arrival, Unix
    milliseconds; 0 when none).

connect DST PORT NBYTES TIMEOUT
    Connect (giving up after TIMEOUT seconds), send NBYTES random bytes,
    half-close, read the answer.  Prints one line:
        peer=ADDRESS bytes=N sha256=ok            exit 0
        peer=ADDRESS bytes=N sha256=MISMATCH ...  exit 2 (data damaged)
        no connection: REASON                     exit 1
    sha256=ok means the server's digest of what it received and the digest
    of the echo both equal the digest of what was sent.
"""
import hashlib, os, socket, struct, sys, threading, time


def handle(conn, peer, port, log, lock):
    try:
        conn.settimeout(10)
        h = hashlib.sha256()
        buf = bytearray()
        while True:
            d = conn.recv(65536)
            if not d:
                break
            h.update(d)
            buf += d
        with lock:
            with open(log, "a") as f:
                f.write("%d %s\n" % (port, peer))
        conn.sendall(("peer %s port %d bytes %d sha256 %s\n"
                      % (peer, port, len(buf), h.hexdigest())).encode() + bytes(buf))
    except OSError:
        pass
    finally:
        conn.close()


def accept_loop(sock, port, log, lock):
    while True:
        conn, addr = sock.accept()
        threading.Thread(target=handle, args=(conn, addr[0], port, log, lock),
                         daemon=True).start()


def udp_loop(sock, port, log, lock):
    while True:
        d, addr = sock.recvfrom(2048)
        with lock:
            with open(log, "a") as f:
                f.write("%d/udp %s\n" % (port, addr[0]))
        sock.sendto(("peer %s port %d" % (addr[0], port)).encode(), addr)


def serve(ready, log, addrs, ports):
    lock = threading.Lock()
    socks = []
    udps = []
    for a in addrs.split(","):
        for p in ports:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((a, int(p)))
            udps.append((u, int(p)))
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((a, int(p)))
            s.listen(16)
            socks.append((s, int(p)))
    open(log, "a").close()
    with open(ready, "w") as f:
        f.write("ready\n")
    threads = [threading.Thread(target=accept_loop, args=(s, p, log, lock), daemon=True)
               for s, p in socks]
    threads += [threading.Thread(target=udp_loop, args=(u, p, log, lock), daemon=True)
                for u, p in udps]
    for t in threads:
        t.start()
    threading.Event().wait()


def connect(dst, port, nbytes, timeout):
    data = os.urandom(int(nbytes))
    try:
        s = socket.create_connection((dst, int(port)), timeout=float(timeout))
    except OSError as e:
        print("no connection: %s" % (e.strerror or e))
        return 1
    try:
        s.settimeout(10)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        resp = bytearray()
        while True:
            d = s.recv(65536)
            if not d:
                break
            resp += d
    except OSError as e:
        print("no connection: broken after connect: %s" % (e.strerror or e))
        return 1
    finally:
        s.close()
    head, _, echo = bytes(resp).partition(b"\n")
    f = head.decode(errors="replace").split()
    if len(f) != 8 or f[0] != "peer":
        print("no connection: bad answer %r" % head[:80])
        return 1
    want = hashlib.sha256(data).hexdigest()
    good = f[7] == want and int(f[5]) == len(data) and echo == data
    print("peer=%s bytes=%d sha256=%s" % (f[1], len(data), "ok" if good else
          "MISMATCH (server got %s bytes %s, echo %d bytes)" % (f[5], f[7][:16], len(echo))))
    return 0 if good else 2


def pending(s):
    """The datagrams waiting on non-blocking socket S."""
    got = []
    while True:
        try:
            got.append(s.recv(2048))
        except OSError:
            return got


def stream(dst, port, seconds, tag, stop=None):
    """A datagram TAG N every 10 ms for SECONDS from one socket (one flow),
    answers read as they come; STOP(answer) true ends it at once.  Returns
    (sent, answered, the answer STOP took or None)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    sent = answered = 0
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            s.sendto(b"%s %d" % (tag, sent), (dst, int(port)))
            sent += 1
        except OSError:
            pass
        time.sleep(0.01)
        for d in pending(s):
            answered += 1
            if stop and stop(d):
                return sent, answered, d
    time.sleep(0.3)
    return sent, answered + len(pending(s)), None


def udpstream(dst, port, seconds):
    sent, answered, _ = stream(dst, port, seconds, b"alice!")
    print("sent=%d answered=%d" % (sent, answered))
    return 0


def trickle(dst, port, seconds):
    data = bytearray()
    try:
        s = socket.create_connection((dst, int(port)), timeout=2)
    except OSError as e:
        print("no connection: %s" % (e.strerror or e))
        return 1
    try:
        s.settimeout(5)
        end = time.time() + float(seconds)
        while time.time() < end:
            chunk = os.urandom(1000)
            s.sendall(chunk)
            data += chunk
            time.sleep(0.02)
        s.shutdown(socket.SHUT_WR)
        resp = bytearray()
        while True:
            d = s.recv(65536)
            if not d:
                break
            resp += d
    except OSError as e:
        print("no connection: broken after connect: %s" % (e.strerror or e))
        return 1
    finally:
        s.close()
    head, _, echo = bytes(resp).partition(b"\n")
    f = head.decode(errors="replace").split()
    if len(f) != 8 or f[0] != "peer":
        print("no connection: bad answer %r" % head[:80])
        return 1
    good = f[7] == hashlib.sha256(data).hexdigest() and echo == bytes(data)
    print("peer=%s bytes=%d sha256=%s" % (f[1], len(data), "ok" if good else "MISMATCH"))
    return 0 if good else 2


def follow(dst, port, via, seconds):
    """A UDP stream (a datagram every 10 ms) until the service answers one
    that came from VIA: prints "via=VIA at=EPOCH_MS" (exit 0), or "not via
    VIA: last from ADDRESS" after SECONDS (exit 1)."""
    last = ["nobody"]

    def through_via(d):
        f = d.decode(errors="replace").split()
        if len(f) == 4 and f[0] == "peer":
            last[0] = f[1]
        return last[0] == via

    if stream(dst, port, seconds, b"stream", through_via)[2] is not None:
        print("via=%s at=%d" % (via, int(time.time() * 1000)))
        return 0
    print("not via %s: last from %s" % (via, last[0]))
    return 1


def udp(dst, port, timeout, src=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(float(timeout))
    try:
        if src:
            s.bind((src, 0))
        s.sendto(b"hello", (dst, int(port)))
        d, _ = s.recvfrom(2048)
    except OSError as e:
        print("no answer: %s" % (e.strerror or e))
        return 1
    finally:
        s.close()
    f = d.decode(errors="replace").split()
    if len(f) != 4 or f[0] != "peer":
        print("no answer: bad answer %r" % d[:80])
        return 1
    print("peer=%s" % f[1])
    return 0


def inet_sum(b):
    if len(b) % 2:
        b += b"\0"
    n = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    n = (n >> 16) + (n & 0xffff)
    n += n >> 16
    return ~n & 0xffff


def ping(dst, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident, payload = os.getpid() & 0xffff, os.urandom(16)
    msg = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + payload
    msg = msg[:2] + struct.pack("!H", inet_sum(msg)) + msg[4:]
    end = time.time() + float(timeout)
    try:
        s.sendto(msg, (dst, 0))
        while time.time() < end:
            s.settimeout(max(end - time.time(), 0.01))
            d, addr = s.recvfrom(2048)
            icmp = d[(d[0] & 0x0f) * 4:]
            if (addr[0] == dst and len(icmp) >= 8 and icmp[0] == 0
                    and struct.unpack("!H", icmp[4:6])[0] == ident and icmp[8:] == payload):
                print("echo reply from %s" % dst)
                return 0
    except OSError:
        pass
    finally:
        s.close()
    print("no echo reply")
    return 1


SO_TIMESTAMP = 29   # asm-generic/socket.h; Python's socket module lacks it


def watch(dst, port, seconds):
    want, port = socket.inet_aton(dst), int(port)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    # The kernel's arrival time, not ours: a loaded machine may run this late.
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
    end, n, last = time.time() + float(seconds), 0, 0
    try:
        while time.time() < end:
            s.settimeout(max(0.01, end - time.time()))
            try:
                pkt, anc, _, addr = s.recvmsg(65535, 64)
            except socket.timeout:
                break
            stamp = [struct.unpack("qq", d[:16]) for lvl, typ, d in anc
                     if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMP]
            # Outgoing copies (PACKET_OUTGOING) would count twice.
            if addr[2] == socket.PACKET_OUTGOING or len(pkt) < 40 or pkt[9] != 6 or pkt[16:20] != want:
                continue
            ihl = (pkt[0] & 15) * 4
            total = struct.unpack("!H", pkt[2:4])[0]
            dport = struct.unpack("!H", pkt[ihl + 2:ihl + 4])[0]
            doff = (pkt[ihl + 12] >> 4) * 4
            if dport == port and total > ihl + doff:
                sec, usec = stamp[0] if stamp else (time.time(), 0)
                n, last = n + 1, int(sec * 1000 + usec // 1000)
                if n == 1:
                    print("flowing", flush=True)
    finally:
        s.close()
    print("segments=%d last=%d" % (n, last))
    return 0


def main(argv):
    if len(argv) >= 6 and argv[1] == "serve":
        serve(argv[2], argv[3], argv[4], argv[5:])
        return 0
    if len(argv) in (5, 6) and argv[1] == "udp":
        return udp(*argv[2:])
    if len(argv) == 4 and argv[1] == "ping":
        return ping(*argv[2:])
    if len(argv) == 5 and argv[1] == "udpstream":
        return udpstream(*argv[2:])
    if len(argv) == 6 and argv[1] == "follow":
        return follow(*argv[2:])
    if len(argv) == 5 and argv[1] == "trickle":
        return trickle(*argv[2:])
    if len(argv) == 5 and argv[1] == "watch":
        return watch(*argv[2:])
    if len(argv) == 6 and argv[1] == "connect":
        return connect(*argv[2:])
    sys.stderr.write(__doc__)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
