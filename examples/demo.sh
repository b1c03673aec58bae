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
echo "== the relay scenario, live: four network namespaces on this machine"
if [ "$(id -u)" != 0 ]; then
	echo "(skipped: network namespaces need root; run 'sudo make demo' to see it)"
	exit 0
fi
for t in ip nft wg wireguard-go python3; do
	command -v "$t" >/dev/null || { echo "(skipped: $t is not installed)"; exit 0; }
done
RE_TOP=$PWD RE_BUILD=$(cd "$build" && pwd) RE_PREFIX=kgd$(($$ % 100000))
source tests/e2e/relay-env.sh
demo_down() { re_down; echo "-- cleaned up: daemons stopped, namespaces deleted"; }
trap demo_down EXIT
echo "service  partner-api $RE_API, partner-api-backup $RE_API2; TCP and UDP listeners on 443 and 22"
echo "relay    relay-1: keygated $RE_WG_R, tunnel $RE_TUN_R, public $RE_PUB, forwarding on"
echo "alice    alice-laptop $RE_TUN_A, group:eng; WireGuard by wireguard-go"
echo "carol    carol-laptop $RE_TUN_C, not in group:eng; WireGuard by keygated"
re_up || { echo "(set-up failed, see above)"; exit 1; }
# try WHO NAME DST PORT: one connection, told in one line.
try() {
	local out
	if out=$(re_connect "$1" "$3" "$4"); then
		out=${out%% *}
		echo "$1 -> $2:$4: allowed, service saw ${out#peer=}"
	else
		echo "$1 -> $2:$4: blocked (${out#no connection: })"
	fi
}
echo "-- in the relay: aclc compile examples/relay.hujson --nodes examples/relay-nodes.json --node relay-1 --iface $RE_WG_R | nft -f"
re_load
try alice partner-api "$RE_API" 443
try alice partner-api-backup "$RE_API2" 443
try alice partner-api "$RE_API" 22
try carol partner-api "$RE_API" 443
try carol partner-api-backup "$RE_API2" 443
# carol's device takes alice's address too: the key, not the address, counts.
re_in carol ip addr add "$RE_TUN_A/32" dev "$RE_WG_C"
if out=$(re_udp carol "$RE_API" 443 2 "$RE_TUN_A"); then
	echo "carol as $RE_TUN_A -> partner-api:443/udp: allowed (${out})"
else
	echo "carol as $RE_TUN_A (alice's address) -> partner-api:443/udp: blocked: the relay takes $RE_TUN_A only from alice's key"
fi
echo "-- in the relay: nft delete table inet keygate (the negative control: no policy, no SNAT)"
re_unload
try carol partner-api "$RE_API" 443
if "$build/aclc" -h | grep -q 'aclc apply'; then
	echo "-- in the relay: aclc apply (the same policy through netlink, one transaction)"
	re_apply | sed 's/^/   /' || :
	try carol partner-api "$RE_API" 443
	try alice partner-api "$RE_API" 443
fi
