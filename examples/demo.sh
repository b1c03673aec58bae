#!/bin/sh
# make demo: the main job on the shipped example.  Grows with the project.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
echo "== aclc parse examples/relay.hujson (HuJSON in, standard JSON out)"
"$build/aclc" parse examples/relay.hujson
