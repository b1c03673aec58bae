# Shell helpers for tests/*/*.test scripts: source "$KG_TOP/tests/lib.sh".
# Every check prints one line: "ok - ...", "not ok - ..." or "skip - ... (why)".
: "${KG_TOP:?run through tests/run}" "${KG_BUILD:?run through tests/run}"
t_failed=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; t_failed=$((t_failed + 1)); }
skip()   { echo "skip - $*"; }
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
# need_root WHAT: skip the whole script unless root with network namespaces.
need_root() {
	if [ "$(id -u)" != 0 ]; then skip "$1: needs root for network namespaces"; exit 0; fi
	if ! ip netns add "kgprobe$$" 2>/dev/null; then skip "$1: cannot create a network namespace"; exit 0; fi
	ip netns del "kgprobe$$"
}
# A name unique to this run, for namespaces and interfaces (max 15 chars with suffixes).
t_uniq() { echo "kg$(( $$ % 10000 ))$(( RANDOM % 100 ))"; }
# t_shared SUB: shared test data $KG_SHARED/testdata/SUB (tests/run sets
# KG_SHARED from ../shared): T_SHARED gets its path, or, when it is missing,
# the one skip line every test prints (t.h's t_shared prints the same) and
# a non-zero status.  Skip a whole script with: t_shared NAME || t_done
t_shared() {
	T_SHARED=${KG_SHARED:-}/testdata/$1
	[ -n "${KG_SHARED:-}" ] && [ -e "$T_SHARED" ] && return 0
	skip "$1: shared test data not found (KG_SHARED=${KG_SHARED:-})"
	return 1
}
t_done() { exit $(( t_failed > 0 )); }
# The unprivileged user daemons under test run as (keygated -u USER): nobody,
# which Debian always has; empty (they stay uid 0) where it is missing.
t_daemon_user() { if id -u nobody >/dev/null 2>&1; then echo nobody; fi; }
# Whether keygated started without -u becomes the user keygate (which
# `make install` creates) rather than staying uid 0 (keygated(8), SECURITY).
t_kg_default_drops() { id -u keygate >/dev/null 2>&1; }
# t_api_sock_gone IFNAME DROPPED: after keygated exited, no API socket that
# could answer is left.  As root (DROPPED 0) it removed the socket; run as
# a user (DROPPED 1) it cannot, and wg removes the dead socket when it looks.
t_api_sock_gone() {
	local s=/var/run/wireguard/$1.sock
	[ -e "$s" ] || return 0
	[ "$2" = 1 ] || return 1
	wg show interfaces >/dev/null 2>&1
	[ ! -e "$s" ]
}
