#!/bin/sh
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
