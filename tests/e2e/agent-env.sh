# The relay scenario joined by `keygate up`, in network namespaces: sourced
# by tests/e2e/agent.test and examples/demo.sh (bash).  Every part is a real
# process; nothing is wired by hand but the network itself.
#
#   coordinator (keygate-coord)  10.99.0.1 ---+
#   relay  (keygated, tag:relay) 10.99.0.2 ---+-- bridge in AG_NS_HUB
#   alice  (keygated, group:eng) 10.99.0.3 ---+
#   carol  (keygated)            10.99.0.4 ---+
#   relay 192.0.2.1/24 -- veth -- 192.0.2.2/24 service: 8.8.8.8 and 8.8.4.4,
#         TCP and UDP listeners on 443 and 22 reporting the peer they see, and
#         its own nftables allowlist: only 192.0.2.1 gets in (others counted).
#
# Needs AG_TOP (repository top), AG_BUILD (directory with keygated, keygate,
# keygate-coord) and AG_PREFIX (unique, at most 6 characters: namespaces,
# interfaces and sockets are global).  Functions return non-zero with a
# message on stderr; ag_down undoes everything and may run any time.
#
#   ag_up                    namespaces, links, coordinator, daemons, service
#   ag_kg ARGS...            keygate administration against the coordinator
#   ag_node WHO ARGS...      keygate up/down/status against WHO's keygated
#   ag_daemon WHO            (re)start WHO's keygated; ag_kill WHO: kill -9 it
#   ag_coord_start / ag_coord_kill
#   ag_connect WHO DST PORT  TCP through the tunnel (relayio.py connect)
#   ag_udp WHO DST PORT      one UDP datagram and its answer
#   ag_in WHO CMD...         run CMD in WHO's namespace
#   ag_svc_foreign           packets the service's allowlist saw from others
#   ag_join [ENG]            the scenario joined: policy (group:eng = ENG,
#                            default \"alice@example.com\"; autoApprovers
#                            for the relay), alice and carol
#                            users, relay/alice/carol `keygate up`, alice
#                            reaching 8.8.8.8:443

: "${AG_TOP:?}" "${AG_BUILD:?}" "${AG_PREFIX:?}"
AG_WORK=${AG_WORK:-}
AG_USER=${AG_USER:-}	# the daemons run as this user (keygated -u) when set
AG_COORD=10.99.0.1 AG_PORT=7443
AG_PUB=192.0.2.1 AG_GW=192.0.2.2 AG_API=8.8.8.8 AG_API2=8.8.4.4
AG_IO="python3 $AG_TOP/tests/e2e/relayio.py"
declare -A AG_PID=()
AG_OTHER_PIDS=()

ag_err() { echo "agent-env: $*" >&2; return 1; }
ag_ns() { echo "${AG_PREFIX}$1"; }
ag_if() {	# the tunnel interface of WHO
	case $1 in relay) echo "${AG_PREFIX}r" ;; alice) echo "${AG_PREFIX}a" ;; carol) echo "${AG_PREFIX}c" ;; esac
}
ag_in() { local who=$1; shift; ip netns exec "$(ag_ns "$who")" "$@"; }
ag_wait() {	# SECONDS CMD...: poll every 50 ms
	local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
	until "$@" 2>/dev/null; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

ag_kg() { "$AG_BUILD/keygate" --coord-socket "$AG_WORK/coord/admin.sock" "$@"; }
ag_node() {
	local who=$1; shift
	ag_in "$who" "$AG_BUILD/keygate" "$@" --socket "$AG_WORK/$who.sock"
}

ag_coord_start() {
	# Not through ag_in: $! must be the daemon itself (ip netns exec execs it).
	ip netns exec "$(ag_ns coord)" "$AG_BUILD/keygate-coord" --state "$AG_WORK/coord" --listen "$AG_COORD:$AG_PORT" -f \
		2>>"$AG_WORK/coord.log" &
	AG_PID[coord]=$!
	ag_wait 10 test -S "$AG_WORK/coord/admin.sock" || ag_err "coordinator did not start: $(tail -n 3 "$AG_WORK/coord.log")"
}
ag_coord_kill() {
	[ -n "${AG_PID[coord]:-}" ] || return 0
	kill -9 "${AG_PID[coord]}" 2>/dev/null; wait "${AG_PID[coord]}" 2>/dev/null || :
	AG_PID[coord]=
	rm -f "$AG_WORK/coord/admin.sock"
}

ag_daemon() {
	local who=$1 ifn
	ifn=$(ag_if "$who")
	rm -f "$AG_WORK/$who.sock"
	ip netns exec "$(ag_ns "$who")" "$AG_BUILD/keygated" -f ${AG_USER:+-u "$AG_USER"} --state-dir "$AG_WORK/$who.state" --socket "$AG_WORK/$who.sock" "$ifn" \
		2>>"$AG_WORK/$who.log" &
	AG_PID[$who]=$!
	ag_wait 10 test -S "$AG_WORK/$who.sock" || ag_err "keygated in $who did not start: $(tail -n 3 "$AG_WORK/$who.log")"
}
ag_kill() {
	[ -n "${AG_PID[$1]:-}" ] || return 0
	kill -9 "${AG_PID[$1]}" 2>/dev/null; wait "${AG_PID[$1]}" 2>/dev/null || :
	AG_PID[$1]=
	rm -f "/var/run/wireguard/$(ag_if "$1").sock"
	# The kernel removes the TUN device after the process is gone.
	ag_wait 5 sh -c "! ip -n '$(ag_ns "$1")' link show '$(ag_if "$1")' >/dev/null 2>&1"
}

ag_link() {	# NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth between two namespaces
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" || return 1
	ip -n "$1" addr add "$3" dev "$2" && ip -n "$1" link set "$2" up &&
		{ [ -z "$6" ] || ip -n "$4" addr add "$6" dev "$5"; } && ip -n "$4" link set "$5" up
}

ag_up() {
	[ -n "$AG_WORK" ] || AG_WORK=$(mktemp -d /tmp/kgagent.XXXXXX) || return 1
	local who i=1
	# A daemon run as AG_USER gets its state directory from keygated (it
	# makes an existing one the user's) and must reach it.
	if [ -n "$AG_USER" ]; then
		chmod 711 "$AG_WORK" && mkdir -m 700 "$AG_WORK/relay.state" "$AG_WORK/alice.state" "$AG_WORK/carol.state" ||
			return 1
	fi
	for who in hub coord service relay alice carol; do
		ip netns add "$(ag_ns "$who")" || ag_err "cannot create namespace $(ag_ns "$who")" || return 1
		ip -n "$(ag_ns "$who")" link set lo up
	done
	ip -n "$(ag_ns hub)" link add br0 type bridge && ip -n "$(ag_ns hub)" link set br0 up || ag_err "bridge" || return 1
	for who in coord relay alice carol; do
		ag_link "$(ag_ns "$who")" e0 "10.99.0.$i/24" "$(ag_ns hub)" "h$i" "" || ag_err "link $who" || return 1
		ip -n "$(ag_ns hub)" link set "h$i" master br0 || return 1
		i=$((i + 1))
	done
	ag_link "$(ag_ns service)" s0 "$AG_GW/24" "$(ag_ns relay)" p0 "$AG_PUB/24" || ag_err "link service" || return 1
	ip -n "$(ag_ns service)" addr add "$AG_API/32" dev s0 && ip -n "$(ag_ns service)" addr add "$AG_API2/32" dev s0 &&
		ip -n "$(ag_ns relay)" route add "$AG_API/32" via "$AG_GW" &&
		ip -n "$(ag_ns relay)" route add "$AG_API2/32" via "$AG_GW" || ag_err "service addresses" || return 1
	# The service's own allowlist: the relay's public address only.
	ag_in service nft -f - <<NFT || ag_err "service allowlist" || return 1
table inet allowlist {
	counter foreign { }
	chain input {
		type filter hook input priority 0; policy accept;
		iifname "lo" accept
		ip saddr $AG_PUB accept
		ip daddr { $AG_API, $AG_API2 } counter name foreign drop
	}
}
NFT
	ip netns exec "$(ag_ns service)" $AG_IO serve "$AG_WORK/svc.ready" "$AG_WORK/svc.seen" "$AG_API,$AG_API2" 443 22 \
		2>"$AG_WORK/service.log" &
	AG_OTHER_PIDS+=($!)
	ag_wait 20 test -e "$AG_WORK/svc.ready" || ag_err "service listeners: $(cat "$AG_WORK/service.log")" || return 1
	ag_coord_start || return 1
	for who in relay alice carol; do ag_daemon "$who" || return 1; done
}

ag_svc_foreign() {
	ag_in service nft -j list counter inet allowlist foreign |
		python3 -c 'import json,sys; print([o["counter"]["packets"] for o in json.load(sys.stdin)["nftables"] if "counter" in o][0])'
}

ag_connect() { local who=$1; shift; ag_in "$who" $AG_IO connect "$1" "$2" "${3:-1000}" "${4:-2}"; }
ag_udp() { local who=$1; shift; ag_in "$who" $AG_IO udp "$1" "$2" "${3:-2}"; }

ag_join() {
	local eng=${1:-'"alice@example.com"'}
	cat >"$AG_WORK/policy.hujson" <<POL || return 1
{
  "groups": {"group:eng": [$eng]},
  "tagOwners": {"tag:relay": ["group:eng"]},
  "hosts": {"partner-api": "8.8.8.8/32", "partner-api-backup": "8.8.4.4/32"},
  "autoApprovers": {"routes": {"8.8.8.8/32": ["tag:relay"], "8.8.4.4/32": ["tag:relay"]}},
  "acls": [{"action": "accept", "src": ["group:eng"], "dst": ["partner-api:443", "partner-api-backup:443"]}],
}
POL
	local kr ka kc
	ag_kg users add alice --email alice@example.com >/dev/null && ag_kg users add carol --email carol@example.com >/dev/null &&
		ag_kg policy set "$AG_WORK/policy.hujson" >/dev/null || ag_err "users and policy" || return 1
	kr=$(ag_kg authkey create --tags tag:relay) && ka=$(ag_kg authkey create --user alice) &&
		kc=$(ag_kg authkey create --user carol) || ag_err "auth keys" || return 1
	ag_in relay sysctl -qw net.ipv4.ip_forward=1
	ag_node relay up --authkey "$kr" --hostname relay --advertise-routes=8.8.8.8/32,8.8.4.4/32 >/dev/null &&
		ag_node alice up --authkey "$ka" --hostname alice --accept-routes >/dev/null &&
		ag_node carol up --authkey "$kc" --hostname carol --accept-routes >/dev/null || ag_err "keygate up" || return 1
	ag_wait 15 ag_reach alice "$AG_API" || ag_err "alice does not reach $AG_API:443"
}
# ag_cut_stream VICTIM DST BYSTANDER DST2 CMD...: TCP streams (1000 bytes every
# 20 ms for 12 s) from VICTIM to DST:443 and, unless BYSTANDER is "-", from
# BYSTANDER to DST2:443, each watched arriving at the service; once both
# flow (a loaded machine may take seconds to start them) and 1 s more, CMD
# (the revocation).  Sets AG_CUT_MS (revocation to the victim's last
# segment at the service), AG_CUT_RC (the victim's stream's status),
# AG_KEPT_RC and AG_KEPT_MS (the bystander's status, and its last segment
# after the revocation), AG_CUT_OUT (the victim's stream's line).
ag_cut_stream() {
	local victim=$1 dst=$2 by=$3 dst2=$4 t0 pwv pwb ptv ptb=
	shift 4
	ag_in service $AG_IO watch "$dst" 443 25 >"$AG_WORK/watch.v" & pwv=$!
	ag_in service $AG_IO watch "$dst2" 443 25 >"$AG_WORK/watch.b" & pwb=$!
	sleep 1
	ag_in "$victim" $AG_IO trickle "$dst" 443 12 >"$AG_WORK/trickle.v" 2>&1 & ptv=$!
	[ "$by" = - ] || { ag_in "$by" $AG_IO trickle "$dst2" 443 12 >"$AG_WORK/trickle.b" 2>&1 & ptb=$!; }
	ag_wait 8 grep -q flowing "$AG_WORK/watch.v"
	[ "$by" = - ] || ag_wait 8 grep -q flowing "$AG_WORK/watch.b"
	sleep 1
	t0=$(date +%s%3N)
	"$@" >/dev/null
	wait $ptv; AG_CUT_RC=$?
	AG_KEPT_RC=0
	[ -z "$ptb" ] || { wait $ptb; AG_KEPT_RC=$?; }
	wait $pwv $pwb
	local lv lb
	lv=$(sed -n 's/.*last=\([0-9]*\)/\1/p' "$AG_WORK/watch.v") lb=$(sed -n 's/.*last=\([0-9]*\)/\1/p' "$AG_WORK/watch.b")
	# A stream that never flowed has no figure (-1).
	AG_CUT_MS=$(( ${lv:-0} ? lv - t0 : -1 )) AG_KEPT_MS=$(( ${lb:-0} ? lb - t0 : -1 ))
	AG_CUT_OUT=$(cat "$AG_WORK/trickle.v")
}
ag_reach() { ag_connect "$1" "$2" 443 1000 1 | grep -q "peer=$AG_PUB bytes=1000 sha256=ok"; }

ag_down() {
	# Safe under set -e (the demo): nothing here may stop the cleanup.
	local p who
	for who in "${!AG_PID[@]}"; do [ -z "${AG_PID[$who]}" ] || kill "${AG_PID[$who]}" 2>/dev/null || :; done
	for p in "${AG_OTHER_PIDS[@]}"; do kill "$p" 2>/dev/null || :; done
	for who in "${!AG_PID[@]}"; do [ -z "${AG_PID[$who]}" ] || wait "${AG_PID[$who]}" 2>/dev/null || :; done
	for p in "${AG_OTHER_PIDS[@]}"; do wait "$p" 2>/dev/null || :; done
	AG_PID=() AG_OTHER_PIDS=()
	for who in hub coord service relay alice carol; do ip netns del "$(ag_ns "$who")" 2>/dev/null || :; done
	for who in relay alice carol; do rm -f "/var/run/wireguard/$(ag_if "$who").sock"; done
	if [ -n "$AG_WORK" ] && [ -z "${KG_KEEP:-}" ]; then rm -rf "$AG_WORK"; fi
	AG_WORK=
	return 0
}
