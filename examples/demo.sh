#!/bin/bash
# make demo: the main job on the shipped example.  Grows with the project.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
echo "== aclc parse examples/relay.hujson (HuJSON in, standard JSON out)"
"$build/aclc" parse examples/relay.hujson
echo
echo "== aclc check examples/relay.hujson --nodes examples/relay-nodes.json"
"$build/aclc" check examples/relay.hujson --nodes examples/relay-nodes.json
echo
echo "== aclc test: the policy's own tests (alice reaches the API on 443, carol does not)"
"$build/aclc" test examples/relay.hujson --nodes examples/relay-nodes.json
echo
echo "== aclc compile --format ir --node relay-1: what the relay accepts, canonical"
"$build/aclc" compile examples/relay.hujson --nodes examples/relay-nodes.json --node relay-1 --format ir
echo
echo "== aclc compile: Tailscale FilterRule JSON for every node"
"$build/aclc" compile examples/relay.hujson --nodes examples/relay-nodes.json --format tailscale
echo
echo "== a mistake is located: a group that does not exist"
sed 's/"src":    \["group:eng"\]/"src":    ["group:engineers"]/' examples/relay.hujson >"${TMPDIR:-/tmp}/relay-typo.hujson"
"$build/aclc" check "${TMPDIR:-/tmp}/relay-typo.hujson" || echo "(exit $?: rejected, nothing compiled)"
rm -f "${TMPDIR:-/tmp}/relay-typo.hujson"
echo
echo "== aclc diff: the database is added and the dba group let in (exit 1: something changed)"
"$build/aclc" diff examples/relay.hujson examples/relay-v2.hujson \
	--nodes examples/relay-nodes.json --nodes-new examples/relay-nodes-v2.json || echo "(exit $?)"
echo
echo "== aclc diff: the same policy reordered and reformatted (exit 0: no change)"
"$build/aclc" diff examples/relay-v4.hujson examples/relay-v5.hujson --nodes examples/relay-nodes-v2.json

echo
echo "== the seed's flow, live: every node joins with keygate up (namespaces on this machine)"
story=(
	"keygate-coord --state DIR --listen 10.99.0.1:7443          # the coordinator"
	"keygate policy set --dry-run policy.hujson; keygate policy set policy.hujson"
	"keygate authkey create --tags tag:relay; ... --user alice; ... --user carol"
	"relay: keygate up --authkey K --advertise-routes=8.8.8.8/32,8.8.4.4/32   # forwarding off: a clear error"
	"relay: sysctl -w net.ipv4.ip_forward=1, keygate up again: routes pending approval"
	"alice, carol: keygate up --authkey K --accept-routes"
	"keygate routes approve relay 8.8.8.8/32 8.8.4.4/32: alice reaches the API, seen as the relay; carol does not"
	"a policy change takes alice's access away and gives it back; the coordinator killed and restarted"
	"relay: keygate down: our table, routes and rules gone"
)
if [ "$(id -u)" != 0 ]; then
	echo "(not root: network namespaces need root; 'sudo make demo' would run these steps)"
	for line in "${story[@]}"; do echo "  $line"; done
	exit 0
fi
for t in ip nft python3; do
	command -v "$t" >/dev/null || { echo "(skipped: $t is not installed)"; exit 0; }
done
# The story goes on when a step fails: it shows what happened.
set +e
AG_TOP=$PWD AG_BUILD=$(cd "$build" && pwd) AG_PREFIX=kd$(($$ % 10000))
source tests/e2e/agent-env.sh
demo_down() { ag_down; echo "-- cleaned up: daemons stopped, namespaces deleted"; }
trap demo_down EXIT
trap 'exit 1' TERM INT
# say WHO CMD...: print the command as a person types it, run it, indent its output.
say() {
	local who=$1; shift
	echo "$who\$ $*" | sed -E "s#^([a-z]+\\$) up [a-z]+ #\\1 keygate up #; s#^([a-z]+\\$) node [a-z]+ #\\1 keygate #;
		s#^([a-z]+\\$) kg #\\1 keygate #; s#^([a-z]+\\$) ag_in [a-z]+ #\\1 #; s#(kgauth1-.{24}).{80,}@#\\1...@#"
	"$@" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}
kg() { "$AG_BUILD/keygate" --coord-socket "$AG_WORK/coord/admin.sock" "$@"; }
up() { local who=$1; shift; ip netns exec "$(ag_ns "$who")" "$AG_BUILD/keygate" up --socket "$AG_WORK/$who.sock" "$@"; }
node() { local who=$1; shift; ip netns exec "$(ag_ns "$who")" "$AG_BUILD/keygate" "$@" --socket "$AG_WORK/$who.sock"; }
try() {	# WHO DST PORT
	local out
	if out=$(ag_connect "$1" "$2" "$3" 1000 1); then out=${out%% *}; echo "    $1 -> $2:$3: allowed, the service saw ${out#peer=}"
	else echo "    $1 -> $2:$3: blocked"; fi
}
echo "coordinator 10.99.0.1; relay 10.99.0.2 (public side $AG_PUB); alice 10.99.0.3; carol 10.99.0.4"
echo "service: $AG_API and $AG_API2, its own allowlist admits $AG_PUB only"
ag_up || { echo "(set-up failed, see above)"; exit 1; }
P=$AG_WORK/policy.hujson
policy() {	# ENG: the relay scenario's policy with group:eng = ENG
	cat <<POL
// group:eng reaches the partner API on 443 through the relay; nobody else does.
{
  "groups": {"group:eng": [$1]},
  "tagOwners": {"tag:relay": ["group:eng"]},
  "hosts": {"partner-api": "8.8.8.8/32", "partner-api-backup": "8.8.4.4/32"},
  "acls": [{"action": "accept", "src": ["group:eng"], "dst": ["partner-api:443", "partner-api-backup:443"]}],
}
POL
}
policy '"alice@example.com"' >"$P"
policy '' >"$AG_WORK/policy-no-alice.hujson"
echo; echo "-- 1. the administrator: users, the policy (its diff first), auth keys"
say admin kg users add alice --email alice@example.com
say admin kg users add carol --email carol@example.com
say admin kg policy set "$P" --dry-run
say admin kg policy set "$P"
KR=$(kg authkey create --tags tag:relay) KA=$(kg authkey create --user alice) KC=$(kg authkey create --user carol)
echo "admin\$ keygate authkey create --tags tag:relay   (and --user alice, --user carol)"
echo "    ${KR:0:40}..."
echo; echo "-- 2. the relay advertises the API's routes"
ag_in relay sysctl -qw net.ipv4.ip_forward=0
say relay up relay --authkey "$KR" --hostname relay --advertise-routes=8.8.8.8/32,8.8.4.4/32 || :
say relay ag_in relay sysctl -w net.ipv4.ip_forward=1
say relay up relay --authkey "$KR" --hostname relay --advertise-routes=8.8.8.8/32,8.8.4.4/32
say alice up alice --authkey "$KA" --hostname alice --accept-routes
say carol up carol --authkey "$KC" --hostname carol --accept-routes
say admin kg routes list
try alice "$AG_API" 443
echo; echo "-- 3. the administrator approves the routes"
say admin kg routes approve --as alice relay 8.8.8.8/32 8.8.4.4/32
reach() { ag_connect alice "$AG_API" 443 100 1 >/dev/null; }
ag_wait 5 reach
try alice "$AG_API" 443
try alice "$AG_API2" 443
try alice "$AG_API" 22
try carol "$AG_API" 443
echo "    the service's allowlist dropped $(ag_svc_foreign) packets from anyone but the relay"
say relay node relay status
echo; echo "-- 4. alice leaves group:eng, then comes back"
say admin kg policy set "$AG_WORK/policy-no-alice.hujson"
sleep 0.5; try alice "$AG_API" 443
say admin kg policy set "$P"
ag_wait 8 reach; try alice "$AG_API" 443
echo; echo "-- 5. the coordinator dies: nodes keep what they have"
ag_coord_kill; echo "admin\$ kill -9 keygate-coord"
try alice "$AG_API" 443
sleep 1; node alice status | grep -E "^warning" | sed 's/^/    /'
ag_coord_start; echo "admin\$ keygate-coord ... (restarted)"
ag_wait 15 sh -c "ip netns exec '$(ag_ns alice)' '$AG_BUILD/keygate' status --socket '$AG_WORK/alice.sock' | grep -q 'connected for'"
node alice status | sed -n 2p | sed 's/^/    /'
echo; echo "-- 6. the relay leaves"
say relay node relay down
say relay ag_in relay nft list tables
try alice "$AG_API" 443
