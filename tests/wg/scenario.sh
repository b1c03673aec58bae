# Shared WireGuard scenario, sourced by interop.test (peer A: wireguard-go)
# and pair.test (peer A: keygated).  Peer B is always keygated.  Two network
# namespaces joined by a veth; everything stays inside them.
# Needs: IMPL_A set to "wireguard-go" or "keygated".
source "$KG_TOP/tests/lib.sh"
need_root "wg $IMPL_A <-> keygated"
command -v wg >/dev/null || { skip "wg tool not installed"; exit 0; }
[ "$IMPL_A" = keygated ] || command -v wireguard-go >/dev/null || { skip "wireguard-go not installed"; exit 0; }
command -v busybox >/dev/null || { skip "busybox (ping) not installed"; exit 0; }

U=$(t_uniq)
NA=${U}na NB=${U}nb IFA=${U}a IFB=${U}b
TOOL="timeout 20 python3 $KG_TOP/tests/wg/wgtool.py"
# Counters stop early once told the senders are done (KG_STOP), so their
# bound can be long: on a loaded machine each python3 start takes seconds.
# The outer bound covers the longest run: the senders done just before the
# counter's window (50 s) ends, then 20 s for late datagrams.
COUNT="timeout 80 python3 $KG_TOP/tests/wg/wgtool.py udp-count"
KGD=$KG_BUILD/keygated
WORK=$(mktemp -d)
PID_A= PID_B= PID_D=
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

cleanup() {
	[ -n "$PID_A" ] && kill "$PID_A" 2>/dev/null
	[ -n "$PID_B" ] && kill "$PID_B" 2>/dev/null
	[ -n "$PID_D" ] && kill "$PID_D" 2>/dev/null
	sleep 0.3
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
	rm -f "/var/run/wireguard/$IFA.sock" "/var/run/wireguard/$IFB.sock" "/var/run/wireguard/${U}d.sock" "/var/run/wireguard/${U}p.sock"
	[ -n "${KG_WG_KEEP:-}" ] && cp -r "$WORK" "$KG_WG_KEEP"
	rm -rf "$WORK"
}
trap cleanup EXIT

ina() { ip netns exec "$NA" "$@"; }
inb() { ip netns exec "$NB" "$@"; }

# wait_sock IFNAME: up to 5 s for the API socket.
wait_sock() {
	for _ in $(seq 50); do [ -S "/var/run/wireguard/$1.sock" ] && return 0; sleep 0.1; done
	return 1
}

start_a() {
	if [ "$IMPL_A" = keygated ]; then
		ip netns exec "$NA" env "$@" "$KGD" -f -v "$IFA" 2>"$WORK/a.log" &
	else
		ip netns exec "$NA" env "$@" wireguard-go -f "$IFA" >"$WORK/a.log" 2>&1 &
	fi
	PID_A=$!
	wait_sock "$IFA"
}
# start_b [OPTION...]: keygated in namespace B, with its test options given.
start_b() {
	ip netns exec "$NB" "$KGD" -f -v "$@" "$IFB" 2>>"$WORK/b.log" &
	PID_B=$!
	wait_sock "$IFB"
}
stop_b() {
	kill "$PID_B" 2>/dev/null
	wait "$PID_B" 2>/dev/null
	local rc=$?
	PID_B=
	return $rc
}

umask 077
KA=$(wg genkey) KB=$(wg genkey)
PA=$(echo "$KA" | wg pubkey) PB=$(echo "$KB" | wg pubkey)
echo "$KA" >"$WORK/ka"; echo "$KB" >"$WORK/kb"; chmod 600 "$WORK"/k?
ADDR_A=192.168.77.1

PORT_A=51820
conf_a() { ina wg set "$IFA" private-key "$WORK/ka" listen-port "$PORT_A" peer "$PB" allowed-ips 10.9.0.2/32 endpoint 192.168.77.2:51821 "$@"; }
conf_b() { inb wg set "$IFB" private-key "$WORK/kb" listen-port 51821 peer "$PA" allowed-ips 10.9.0.1/32 endpoint "$ADDR_A:$PORT_A" "$@"; }
# reset_peer SIDE: forget the peer (and its sessions) and configure it again.
reset_a() { ina wg set "$IFA" peer "$PB" remove; conf_a "$@"; }
reset_b() { inb wg set "$IFB" peer "$PA" remove; conf_b "$@"; }
up_links() {
	ina ip addr add 10.9.0.1/24 dev "$IFA" 2>/dev/null; ina ip link set "$IFA" up
	inb ip addr add 10.9.0.2/24 dev "$IFB" 2>/dev/null; inb ip link set "$IFB" up
}
# pings NS-FN DST COUNT SECONDS: prints the number of replies.
pings() {
	local fn=$1 dst=$2 c=$3 w=$4
	$fn busybox ping -q -c "$c" -i 0.2 -w "$w" "$dst" 2>/dev/null | sed -n 's/.* \([0-9]*\) packets received.*/\1/p'
}
ping_ok() { local n; n=$(pings "$@"); [ "${n:-0}" -ge 1 ]; }
# bg_ready FILE CMD...: start CMD in the background (pid in BG) and wait
# until it has bound its socket (wgtool touches FILE), at most 10 s.
bg_ready() {
	local f=$1; shift
	rm -f "$f"
	KG_READY=$f "$@" &
	BG=$!
	for _ in $(seq 100); do [ -e "$f" ] && return 0; sleep 0.1; done
	return 1
}
# dump_field NS-FN IFNAME N: field N of the peer line of `wg show IF dump`.
dump_field() { $1 wg show "$2" dump | sed -n 2p | cut -f"$3"; }

ip netns add "$NA" && ip netns add "$NB" || { not_ok "create namespaces"; t_done; }
ip link add "${U}va" netns "$NA" type veth peer name "${U}vb" netns "$NB"
ina ip addr add 192.168.77.1/24 dev "${U}va"; ina ip link set "${U}va" up; ina ip link set lo up
inb ip addr add 192.168.77.2/24 dev "${U}vb"; inb ip link set "${U}vb" up; inb ip link set lo up

check "$IMPL_A starts in namespace A, API socket appears" start_a
check "keygated -f starts in namespace B, API socket appears" start_b
check "wg set configures $IMPL_A" conf_a
check "wg set configures keygated" conf_b
up_links
check "wg show reads keygated's listen port" test "$(inb wg show "$IFB" listen-port)" = 51821
capf() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$PID_B/status"; }
# Run as the user keygate where it exists, the two are also ambient (and
# so inheritable); tests/wg/priv.test checks that case in full.
DROPS=0 INH=0000000000000000
t_kg_default_drops && DROPS=1 INH=0000000000001400
check "keygated keeps only CAP_NET_ADMIN+CAP_NET_BIND_SERVICE (CapEff $(capf CapEff) CapPrm $(capf CapPrm) CapBnd $(capf CapBnd) CapInh $(capf CapInh) CapAmb $(capf CapAmb))" \
	test "$(capf CapEff) $(capf CapPrm) $(capf CapBnd) $(capf CapInh) $(capf CapAmb) $(capf NoNewPrivs)" = \
	"0000000000001400 0000000000001400 0000000000001400 $INH $INH 1"
if command -v setpriv >/dev/null; then
	timeout 5 ip netns exec "$NB" setpriv --bounding-set -setpcap "$KGD" -f "${U}p" 2>"$WORK/drop.log"
	rc=$?
	check "a failed privilege drop (no CAP_SETPCAP) is fatal: exit 1 ($rc), said so" \
		sh -c "test $rc = 1 && grep -q 'cannot drop privileges' '$WORK/drop.log'"
	check "... and the socket of the refused daemon is gone" test ! -e "/var/run/wireguard/${U}p.sock"
else
	skip "privilege drop failure: setpriv not installed"
fi

# 1. keygated initiates: it has data to send and no session.
check "handshake initiated by keygated; ping keygated -> $IMPL_A" ping_ok inb 10.9.0.1 3 6
check "ping $IMPL_A -> keygated" ping_ok ina 10.9.0.2 3 6
hs_b=$(dump_field inb "$IFB" 5); hs_a=$(dump_field ina "$IFA" 5); now=$(date +%s)
check "keygated dump: latest handshake is recent ($hs_b vs now $now)" test $((now - hs_b)) -le 30
check "$IMPL_A dump: latest handshake is recent ($hs_a)" test $((now - hs_a)) -le 30

# 2. TCP both ways, checksummed.
tcp() { # tcp SERVER-NS-FN SERVER-IP CLIENT-NS-FN LABEL
	local out=$WORK/tcp.$4
	bg_ready "$WORK/tcp.ready" $1 $TOOL tcp-serve "$2" 5001 "$out"
	local sp=$BG
	local sent; sent=$($3 $TOOL tcp-send "$2" 5001 4000000)
	wait $sp
	[ -n "$sent" ] && [ "$sent" = "$(cat "$out" 2>/dev/null)" ]
}
check "TCP 4 MB keygated -> $IMPL_A, sha256 matches" tcp ina 10.9.0.1 inb b2a
check "TCP 4 MB $IMPL_A -> keygated, sha256 matches" tcp inb 10.9.0.2 ina a2b
rx_b=$(dump_field inb "$IFB" 6); tx_b=$(dump_field inb "$IFB" 7)
rx_a=$(dump_field ina "$IFA" 6); tx_a=$(dump_field ina "$IFA" 7)
check "keygated dump: rx $rx_b and tx $tx_b bytes both above 4 MB" test "$rx_b" -gt 4000000 -a "$tx_b" -gt 4000000
check "$IMPL_A dump: rx $rx_a and tx $tx_a bytes both above 4 MB" test "$rx_a" -gt 4000000 -a "$tx_a" -gt 4000000
check "dump: keygated's rx ($rx_b) within 10% of $IMPL_A's tx ($tx_a)" \
	test $((rx_b * 10)) -ge $((tx_a * 9)) -a $((rx_b * 10)) -le $((tx_a * 11))

# 3. The other side initiates: both forget the session, A sends first.
reset_b; reset_a
check "handshake initiated by $IMPL_A after both sides reset" ping_ok ina 10.9.0.2 3 6
check "keygated answered the initiation (handshake time set)" test "$(dump_field inb "$IFB" 5)" -gt 0

# 4. Pre-shared key: matching works, mismatching does not.
wg genpsk >"$WORK/psk"; wg genpsk >"$WORK/psk2"; chmod 600 "$WORK"/psk*
reset_b preshared-key "$WORK/psk"; reset_a preshared-key "$WORK/psk"
check "pre-shared key: ping $IMPL_A -> keygated" ping_ok ina 10.9.0.2 3 6
check "wg show reports keygated's pre-shared key" test "$(dump_field inb "$IFB" 2)" = "$(cat "$WORK/psk")"
reset_b preshared-key "$WORK/psk2"; reset_a preshared-key "$WORK/psk"
check "mismatched pre-shared keys: no traffic" test "$(pings ina 10.9.0.2 1 2)" = 0
reset_b preshared-key "$WORK/psk"; reset_a preshared-key "$WORK/psk"
check "pre-shared keys matched again: traffic resumes" ping_ok ina 10.9.0.2 3 8

# 5. Inner source outside the sender's allowed IPs is dropped.
ina ip addr add 10.9.0.99/32 dev "$IFA"
# The legitimate counter stops once the sends are done ($WORK/stop) and its
# 3 datagrams arrived (however late on a loaded machine), half a second
# later.  The spoofed datagrams went first through the same tunnel, so by
# then keygated has handled them: the spoof counter stops ($WORK/stop2)
# half a second after that.
rm -f "$WORK/stop" "$WORK/stop2"
bg_ready "$WORK/r1" env KG_STOP="$WORK/stop2" ip netns exec "$NB" $COUNT 10.9.0.2 6001 50 SPOOF >"$WORK/spoof"
sp1=$BG
bg_ready "$WORK/r2" env KG_STOP="$WORK/stop" KG_EXPECT=3 ip netns exec "$NB" $COUNT 10.9.0.2 6002 50 LEGIT >"$WORK/legit"
sp2=$BG
for _ in 1 2 3; do ina $TOOL udp-send 10.9.0.99 10.9.0.2 6001 SPOOF; ina $TOOL udp-send 10.9.0.1 10.9.0.2 6002 LEGIT; done
touch "$WORK/stop"
wait $sp2
touch "$WORK/stop2"
wait $sp1
check "packets from 10.9.0.99 (outside A's allowed IPs) dropped by keygated ($(cat "$WORK/spoof") of 3 arrived)" \
	test "$(cat "$WORK/spoof")" = 0
check "packets from 10.9.0.1 (allowed) delivered ($(cat "$WORK/legit") of 3)" test "$(cat "$WORK/legit")" = 3
check "keygated -v logged the drop of 10.9.0.99" grep -q "dropped a packet from 10.9.0.99: not in the sending peer's allowed IPs" "$WORK/b.log"

# 6. A captured transport packet sent again is not delivered twice.
rm -f "$WORK/stop"
bg_ready "$WORK/r1" env KG_STOP="$WORK/stop" KG_EXPECT=1 ip netns exec "$NB" $COUNT 10.9.0.2 6003 50 REPLAY >"$WORK/replay"
sp1=$BG
bg_ready "$WORK/r2" ip netns exec "$NB" $TOOL sniff-replay "${U}vb" 51821 168 192.168.77.2 3 0.2 >"$WORK/sniff"
sp2=$BG
ina $TOOL udp-send - 10.9.0.2 6003 REPLAY 100
wait $sp2
touch "$WORK/stop"
wait $sp1
check "replay: a real transport packet was captured and sent 3 more times" grep -q replayed "$WORK/sniff"
check "replay: delivered exactly once ($(cat "$WORK/replay"))" test "$(cat "$WORK/replay")" = 1

# 7. Garbage on the UDP port and on the API socket.  A fresh session
#    first: on a loaded machine the steps since the last handshake can take
#    longer than REKEY_AFTER_TIME (120 s), and the rekey that is then due
#    would change the handshake time this step checks.
reset_b; reset_a
check "a fresh session before the garbage" ping_ok ina 10.9.0.2 3 8
hs_before=$(dump_field inb "$IFB" 5)
ina $TOOL garbage 192.168.77.2 51821 >/dev/null
$TOOL uapi-garbage "/var/run/wireguard/$IFB.sock" >"$WORK/uapi"
check "API: unknown key answered errno=-22" test "$(sed -n 1p "$WORK/uapi")" = "errno=-22"
check "API: out-of-range port answered errno=-22" test "$(sed -n 2p "$WORK/uapi")" = "errno=-22"
check "API: line without '=' answered errno=-22" test "$(sed -n 3p "$WORK/uapi")" = "errno=-22"
check "API: 1 MB of unknown lines answered errno=-22" test "$(sed -n 8p "$WORK/uapi")" = "errno=-22"
check "API: 40 silent connections do not lock out a get=1" \
	test "$($TOOL uapi-hog "/var/run/wireguard/$IFB.sock" 40)" = "errno=0"
ms=$($TOOL uapi-slow "/var/run/wireguard/$IFB.sock")
check "API: a client reading 192 KiB of replies slowly does not stall another's get=1 (${ms} ms)" \
	test "$ms" -ge 0 -a "$ms" -lt 2000 2>/dev/null
check "keygated survived UDP and API garbage" kill -0 "$PID_B"
check "session undisturbed by garbage: traffic flows" ping_ok inb 10.9.0.1 3 6
check "session undisturbed by garbage: same handshake" test "$(dump_field inb "$IFB" 5)" = "$hs_before"
check "configuration intact after API garbage" test "$(inb wg show "$IFB" allowed-ips | cut -f2)" = 10.9.0.1/32
inb wg set "$IFB" private-key "$WORK/kb"
check "the same private key set again: the session survives (ping keygated -> $IMPL_A)" ping_ok inb 10.9.0.1 2 4
check "the same private key set again: no new handshake" test "$(dump_field inb "$IFB" 5)" = "$hs_before"

# 7b. IPv6: inner addresses and an IPv6 outer endpoint.
ina ip addr add fd77::1/64 dev "${U}va" nodad; inb ip addr add fd77::2/64 dev "${U}vb" nodad
ina ip addr add fd09::1/64 dev "$IFA" nodad; inb ip addr add fd09::2/64 dev "$IFB" nodad
ina wg set "$IFA" peer "$PB" allowed-ips 10.9.0.2/32,fd09::2/128 endpoint "[fd77::2]:51821"
inb wg set "$IFB" peer "$PA" allowed-ips 10.9.0.1/32,fd09::1/128 endpoint "[fd77::1]:$PORT_A"
check "IPv6 inside, IPv6 outside: ping keygated -> $IMPL_A" ping_ok inb fd09::1 3 6
check "IPv6 inside, IPv6 outside: ping $IMPL_A -> keygated" ping_ok ina fd09::2 3 6
check "TCP 4 MB over IPv6 $IMPL_A -> keygated, sha256 matches (merged for the TUN)" tcp inb fd09::2 ina v6
check "wg show lists keygated's IPv6 endpoint and allowed IP" \
	test "$(dump_field inb "$IFB" 3) $(dump_field inb "$IFB" 4)" = "[fd77::1]:$PORT_A 10.9.0.1/32,fd09::1/128"
inb wg set "$IFB" peer "$PA" allowed-ips 10.9.0.1/32 endpoint "$ADDR_A:$PORT_A"
ina wg set "$IFA" peer "$PB" allowed-ips 10.9.0.2/32 endpoint 192.168.77.2:51821

# 8. Roaming: A's outer address and port change (a new address, a rebound
#    socket, as behind a NAT); keygated follows authenticated packets.
ina ip addr del 192.168.77.1/24 dev "${U}va"
ina ip addr add 192.168.77.11/24 dev "${U}va"
PORT_A=51830
ina wg set "$IFA" listen-port $PORT_A
ADDR_A=192.168.77.11
check "after A moved to 192.168.77.11:51830: ping $IMPL_A -> keygated" ping_ok ina 10.9.0.2 3 6
check "keygated roamed its endpoint to $(dump_field inb "$IFB" 3)" test "$(dump_field inb "$IFB" 3)" = 192.168.77.11:51830
check "after roaming: ping keygated -> $IMPL_A" ping_ok inb 10.9.0.1 3 6

# 9. Cookie replies under load: keygated restarted with a low load threshold
#    (20 handshake messages a second) and flooded with mac1-valid initiations.
stop_b
check "SIGTERM: keygated exits cleanly, no API socket left that answers" t_api_sock_gone "$IFB" "$DROPS"
check "SIGTERM: the interface goes away with the process" sh -c "! ip netns exec $NB ip link show $IFB >/dev/null 2>&1"
start_b --test-load-threshold=20
printf '[Interface]\nPrivateKey = %s\nListenPort = 51821\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.9.0.1/32\nEndpoint = %s:%s\n' \
	"$KB" "$PA" "$ADDR_A" "$PORT_A" >"$WORK/b.conf"
check "wg setconf configures the restarted keygated" inb wg setconf "$IFB" "$WORK/b.conf"
check "wg showconf gives back what setconf set" sh -c "ip netns exec $NB wg showconf $IFB | grep -qx 'AllowedIPs = 10.9.0.1/32'"
up_links; reset_a
ina $TOOL flood 192.168.77.2 51821 "$PB" 300 5 >"$WORK/flood" &
fp=$!
sleep 0.5
check "handshake completes while keygated is under load (mac2 from a cookie)" ping_ok ina 10.9.0.2 2 12
wait $fp
check "flood of initiations answered with cookie replies ($(cat "$WORK/flood"))" test "$(cat "$WORK/flood")" -gt 0
ncookies=$(grep -c 'sent a cookie reply' "$WORK/b.log")
check "keygated logged cookie replies ($ncookies)" test "$ncookies" -gt 0

# 10. Rekey: keygated restarted with its protocol clock 40 times faster, so
#     REKEY_AFTER_TIME (120 s) comes after 3 s; traffic must survive rekeys.
stop_b
start_b --test-clock-rate=40
conf_b; up_links; reset_a
check "session up for the rekey run" ping_ok inb 10.9.0.1 2 6
hs1=$(dump_field ina "$IFA" 5)
got=$(pings inb 10.9.0.1 40 10)
hs2=$(dump_field ina "$IFA" 5)
check "rekey: $IMPL_A saw a new handshake ($hs1 -> $hs2)" test "$hs2" -gt "$hs1"
check "rekey: traffic continued across rekeys ($got of 40 pings)" test "${got:-0}" -ge 36

check "keygated exits 0 on SIGTERM" stop_b

# 11. Without -f: keygated returns once the interface and socket exist and
#     keeps running detached.
IFD=${U}d
check "keygated without -f returns 0 at once" timeout 5 ip netns exec "$NB" "$KGD" "$IFD"
check "the detached daemon answers wg show" test -n "$(inb wg show "$IFD" listen-port)"
dpid=$(inb ss -xlpn | grep -F "/var/run/wireguard/$IFD.sock" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
check "the detached daemon runs in its own session (pid ${dpid:-none})" \
	test -n "$dpid" -a "$(ps -o sid= -p "${dpid:-1}" | tr -d ' ')" = "${dpid:-x}"
PID_D=$dpid
[ -n "$dpid" ] && kill "$dpid"
for _ in $(seq 30); do kill -0 "${dpid:-0}" 2>/dev/null || { PID_D=; break; }; sleep 0.1; done
check "the detached daemon exits on SIGTERM, no API socket left that answers" t_api_sock_gone "$IFD" "$DROPS"
t_done
