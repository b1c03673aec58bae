# The relay scenario in network namespaces, sourced by tests/e2e/relay.test
# and examples/demo.sh (bash).  Everything stays inside four namespaces:
#
#   alice (100.64.0.2, group:eng)     carol (100.64.0.4, not in group:eng)
#   wireguard-go RE_WG_A              keygated RE_WG_C
#   198.51.100.2/30                   198.51.100.6/30
#            \  WireGuard over veths  /
#             198.51.100.1  198.51.100.5
#   relay (relay-1): keygated RE_WG_R, tunnel address 100.64.0.1, forwarding on,
#                    public address 192.0.2.1/24, routes to 8.8.8.8/32 and
#                    8.8.4.4/32 via 192.0.2.2, ruleset from aclc compile
#             192.0.2.1
#                 | veth
#             192.0.2.2
#   service: the partner API's addresses 8.8.8.8 and 8.8.4.4 (examples/relay.hujson),
#            TCP and UDP listeners on 443 and 22 that report the peer address they see.
#
# The service has a route back to 100.64.0.0/10 via the relay, so that a flow
# the relay forwards without source NAT would still work: the SNAT checks look
# at the address the service reports, and the negative control (our table
# deleted) can show carol getting through, untranslated.
#
# Needs RE_TOP (repository top), RE_BUILD (directory with aclc and keygated)
# and RE_PREFIX (unique, at most 8 characters: names of namespaces, interfaces
# and API sockets, which are global).  Functions return non-zero with a
# message on standard error; re_down undoes everything and may run any time.
#
#   re_up                 build the topology, start the daemons and listeners
#   re_compile FILE       aclc compile the relay's ruleset into FILE
#   re_load               compile and load it with nft -f in the relay
#   re_apply [OPTS]       aclc apply the relay's ruleset in the relay (netlink);
#                         exit 0 unchanged, 1 changed, 2 trouble
#   re_unload             delete our table (inet keygate) in the relay
#   re_connect WHO DST PORT [BYTES [TIMEOUT]]
#                         WHO (alice|carol) opens a TCP connection to DST:PORT,
#                         sends BYTES (default 1000), checks the echo; prints
#                         relayio.py's line: exit 0 ok, 1 no connection, 2 damaged
#   re_udp WHO DST PORT [TIMEOUT [SRC]]
#                         one UDP datagram (from SRC if given) and its answer: prints peer=ADDRESS
#                         (exit 0) or "no answer: ..." (exit 1)
#   re_ping WHO DST [TIMEOUT]
#                         one ICMP echo: exit 0 when answered
#   re_seen               how many connections and datagrams the service has seen
#   re_in WHO CMD...      run CMD in WHO's namespace (service|relay|alice|carol)
#   re_down               stop everything, delete the namespaces

: "${RE_TOP:?}" "${RE_BUILD:?}" "${RE_PREFIX:?}"
RE_NS_SVC=${RE_PREFIX}svc RE_NS_RLY=${RE_PREFIX}rly
RE_NS_ALI=${RE_PREFIX}ali RE_NS_CAR=${RE_PREFIX}car
RE_WG_R=${RE_PREFIX}r RE_WG_A=${RE_PREFIX}a RE_WG_C=${RE_PREFIX}c
RE_PUB=192.0.2.1 RE_GW=192.0.2.2
RE_API=8.8.8.8 RE_API2=8.8.4.4
RE_TUN_R=100.64.0.1 RE_TUN_A=100.64.0.2 RE_TUN_C=100.64.0.4
RE_PORT=51820
RE_WORK=${RE_WORK:-}
RE_USER=${RE_USER:-}	# keygated runs as this user (-u) when set
RE_PIDS=() RE_PID_RELAY= RE_PID_CAROL=
RE_IO="python3 $RE_TOP/tests/e2e/relayio.py"

re_err() { echo "relay-env: $*" >&2; return 1; }

re_ns() {
	case $1 in
	service) echo "$RE_NS_SVC" ;; relay) echo "$RE_NS_RLY" ;;
	alice) echo "$RE_NS_ALI" ;; carol) echo "$RE_NS_CAR" ;;
	*) re_err "unknown namespace '$1'" ;;
	esac
}
re_in() { local ns; ns=$(re_ns "$1") || return 1; shift; ip netns exec "$ns" "$@"; }

# re_wait_file PATH: up to 5 s for PATH to exist.
re_wait_file() {
	local i
	for i in $(seq 50); do [ -e "$1" ] && return 0; sleep 0.1; done
	return 1
}

# re_daemon WHO IMPL IFNAME: start a WireGuard implementation in WHO's namespace.
re_daemon() {
	local who=$1 impl=$2 ifn=$3 ns
	ns=$(re_ns "$who") || return 1
	case $impl in
	keygated) ip netns exec "$ns" "$RE_BUILD/keygated" -f \
		${RE_USER:+-u "$RE_USER" --state-dir "$RE_WORK/$who.state" --socket "$RE_WORK/$who.ksock"} \
		"$ifn" 2>"$RE_WORK/$who.log" & ;;
	wireguard-go) ip netns exec "$ns" wireguard-go -f "$ifn" >"$RE_WORK/$who.log" 2>&1 & ;;
	esac
	RE_PIDS+=($!)
	re_wait_file "/var/run/wireguard/$ifn.sock" ||
		re_err "$impl in $who: no API socket for $ifn after 5 s (log: $(tail -n 3 "$RE_WORK/$who.log"))"
}

# re_link NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth between two namespaces.
re_link() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" || return 1
	ip -n "$1" addr add "$3" dev "$2" && ip -n "$1" link set "$2" up &&
		ip -n "$4" addr add "$6" dev "$5" && ip -n "$4" link set "$5" up
}

# re_device WHO IFNAME TUNADDR ENDPOINT: a user's device, peer of the relay,
# the partner API's addresses routed into the tunnel.
re_device() {
	local who=$1 ifn=$2 addr=$3 ep=$4 ns
	ns=$(re_ns "$who") || return 1
	ip netns exec "$ns" wg set "$ifn" private-key "$RE_WORK/$who.key" \
		peer "$(cat "$RE_WORK/relay.pub")" endpoint "$ep:$RE_PORT" \
		allowed-ips "$RE_TUN_R/32,$RE_API/32,$RE_API2/32" || return 1
	ip -n "$ns" addr add "$addr/32" dev "$ifn" && ip -n "$ns" link set "$ifn" up || return 1
	local d
	for d in "$RE_TUN_R" "$RE_API" "$RE_API2"; do
		ip -n "$ns" route add "$d/32" dev "$ifn" src "$addr" || return 1
	done
}

re_up() {
	[ -n "$RE_WORK" ] || RE_WORK=$(mktemp -d) || return 1
	# keygated run as RE_USER must reach its (unmade) state directory.
	[ -z "$RE_USER" ] || chmod 711 "$RE_WORK" || return 1
	local who ns
	for who in service relay alice carol; do
		ns=$(re_ns "$who")
		ip netns add "$ns" || re_err "cannot create namespace $ns" || return 1
		ip -n "$ns" link set lo up
	done
	(umask 077
	 for who in relay alice carol; do
		wg genkey >"$RE_WORK/$who.key" && wg pubkey <"$RE_WORK/$who.key" >"$RE_WORK/$who.pub" || exit 1
	 done) || re_err "wg genkey failed" || return 1

	# The service and the relay's public side.
	re_link "$RE_NS_SVC" "${RE_PREFIX}s0" "$RE_GW/24" "$RE_NS_RLY" "${RE_PREFIX}p0" "$RE_PUB/24" ||
		re_err "veth service <-> relay" || return 1
	ip -n "$RE_NS_SVC" addr add "$RE_API/32" dev "${RE_PREFIX}s0" &&
		ip -n "$RE_NS_SVC" addr add "$RE_API2/32" dev "${RE_PREFIX}s0" &&
		ip -n "$RE_NS_SVC" route add 100.64.0.0/10 via "$RE_PUB" ||
		re_err "service addresses" || return 1
	ip netns exec "$RE_NS_SVC" $RE_IO serve "$RE_WORK/svc.ready" "$RE_WORK/svc.seen" "$RE_API,$RE_API2" 443 22 \
		2>"$RE_WORK/service.log" &
	RE_PIDS+=($!)
	re_wait_file "$RE_WORK/svc.ready" ||
		re_err "service listeners did not start: $(cat "$RE_WORK/service.log")" || return 1

	# The outer links of the devices.
	re_link "$RE_NS_ALI" "${RE_PREFIX}o0" 198.51.100.2/30 "$RE_NS_RLY" "${RE_PREFIX}o1" 198.51.100.1/30 &&
		re_link "$RE_NS_CAR" "${RE_PREFIX}o0" 198.51.100.6/30 "$RE_NS_RLY" "${RE_PREFIX}o2" 198.51.100.5/30 ||
		re_err "veths devices <-> relay" || return 1

	# The relay.
	ip netns exec "$RE_NS_RLY" sysctl -qw net.ipv4.ip_forward=1 || re_err "ip_forward" || return 1
	ip -n "$RE_NS_RLY" route add "$RE_API/32" via "$RE_GW" &&
		ip -n "$RE_NS_RLY" route add "$RE_API2/32" via "$RE_GW" || re_err "relay routes" || return 1
	re_daemon relay keygated "$RE_WG_R" || return 1
	RE_PID_RELAY=$!
	ip netns exec "$RE_NS_RLY" wg set "$RE_WG_R" private-key "$RE_WORK/relay.key" listen-port "$RE_PORT" \
		peer "$(cat "$RE_WORK/alice.pub")" allowed-ips "$RE_TUN_A/32" \
		peer "$(cat "$RE_WORK/carol.pub")" allowed-ips "$RE_TUN_C/32" || re_err "wg set on the relay" || return 1
	ip -n "$RE_NS_RLY" addr add "$RE_TUN_R/32" dev "$RE_WG_R" && ip -n "$RE_NS_RLY" link set "$RE_WG_R" up &&
		ip -n "$RE_NS_RLY" route add 100.64.0.0/10 dev "$RE_WG_R" || re_err "relay tunnel address" || return 1

	# The devices: alice on wireguard-go, carol on keygated.
	re_daemon alice wireguard-go "$RE_WG_A" || return 1
	re_device alice "$RE_WG_A" "$RE_TUN_A" 198.51.100.1 || re_err "alice's device" || return 1
	re_daemon carol keygated "$RE_WG_C" || return 1
	RE_PID_CAROL=$!
	re_device carol "$RE_WG_C" "$RE_TUN_C" 198.51.100.5 || re_err "carol's device" || return 1
}

re_compile() {
	"$RE_BUILD/aclc" compile "$RE_TOP/examples/relay.hujson" --nodes "$RE_TOP/examples/relay-nodes.json" \
		--node relay-1 --iface "$RE_WG_R" -o "$1"
}
re_load() { re_compile "$RE_WORK/relay.nft" && ip netns exec "$RE_NS_RLY" nft -f "$RE_WORK/relay.nft"; }
re_apply() {
	ip netns exec "$RE_NS_RLY" "$RE_BUILD/aclc" apply "$RE_TOP/examples/relay.hujson" \
		--nodes "$RE_TOP/examples/relay-nodes.json" --node relay-1 --iface "$RE_WG_R" "$@"
}
re_unload() { ip netns exec "$RE_NS_RLY" nft delete table inet keygate; }

re_connect() {
	local ns
	ns=$(re_ns "$1") || return 1
	ip netns exec "$ns" $RE_IO connect "$2" "$3" "${4:-1000}" "${5:-2}"
}

re_ping() {
	local ns
	ns=$(re_ns "$1") || return 1
	ip netns exec "$ns" $RE_IO ping "$2" "${3:-2}"
}
re_seen() { wc -l <"$RE_WORK/svc.seen"; }

re_udp() {
	local ns
	ns=$(re_ns "$1") || return 1
	ip netns exec "$ns" $RE_IO udp "$2" "$3" "${4:-2}" ${5:+"$5"}
}

re_down() {
	# Safe under set -e (the demo): nothing here may stop the cleanup.
	local p ns
	for p in "${RE_PIDS[@]}"; do kill "$p" 2>/dev/null || :; done
	for p in "${RE_PIDS[@]}"; do wait "$p" 2>/dev/null || :; done
	RE_PIDS=()
	for ns in "$RE_NS_ALI" "$RE_NS_CAR" "$RE_NS_RLY" "$RE_NS_SVC"; do ip netns del "$ns" 2>/dev/null || :; done
	rm -f "/var/run/wireguard/$RE_WG_R.sock" "/var/run/wireguard/$RE_WG_A.sock" "/var/run/wireguard/$RE_WG_C.sock"
	if [ -n "$RE_WORK" ]; then rm -rf "$RE_WORK"; fi
	RE_WORK=
}
