#!/bin/sh
# deps.sh install PKG...                 install Debian packages (root), or say how
# deps.sh ensure "TOOLS" "PCMODS" PKG... install only when a tool or library is missing
set -u
missing() {
	for t in $1; do command -v "$t" >/dev/null 2>&1 || { echo "$t"; return 0; }; done
	for m in $2; do pkg-config --exists "$m" 2>/dev/null || { echo "$m"; return 0; }; done
	return 1
}
install_pkgs() {
	if [ "$(id -u)" != 0 ]; then
		echo "keygate needs these Debian packages; as root run:" >&2
		echo "  apt-get update && apt-get install -y --no-install-recommends $*" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "$@"; }
}
cmd=$1; shift
case $cmd in
install) install_pkgs "$@" ;;
ensure)
	tools=$1 mods=$2; shift 2
	what=$(missing "$tools" "$mods") || exit 0
	echo "deps: $what is missing; installing Debian packages" >&2
	install_pkgs "$@"
	what=$(missing "$tools" "$mods") && { echo "deps: $what still missing" >&2; exit 1; }
	exit 0 ;;
*) echo "usage: deps.sh install|ensure ..." >&2; exit 2 ;;
esac
