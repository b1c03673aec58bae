# Helpers for tests/coord/*.test: a real keygate-coord on loopback in a
# temporary directory, its admin commands, and ctlclient sessions.  Source
# after tests/lib.sh; everything started is stopped by the EXIT trap.
T=$(mktemp -d /tmp/kgcoord.XXXXXX)
COORD_PID=
CLIENT_PIDS=
KG="$KG_BUILD/keygate"
KGC="$KG_BUILD/keygate-coord"
CTL="$KG_BUILD/tests/coord/ctlclient"

coord_cleanup() {
	for p in $CLIENT_PIDS $COORD_PID; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "${KG_KEEP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap coord_cleanup EXIT

# A TCP port free on loopback right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: poll every 50 ms until COMMAND succeeds.
wait_for() {
	local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
	until "$@" 2>/dev/null; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# coord_start [STATE]: start a coordinator (with COORD_ARGS) on a free port (PORT, STATE,
# SOCK and KEY set; its log in STATE.log); wait for its admin socket.
coord_start() {
	STATE=${1:-$T/state}
	[ -n "${PORT:-}" ] || PORT=$(free_port)
	SOCK=$STATE/admin.sock
	"$KGC" --state "$STATE" --listen "127.0.0.1:$PORT" -f ${COORD_ARGS:-} >>"$STATE.out" 2>>"$STATE.log" &
	COORD_PID=$!
	wait_for 10 test -S "$SOCK" || { echo "# coordinator did not start:"; sed 's/^/# /' "$STATE.log"; return 1; }
	KEY=$("$KGC" --state "$STATE" ${COORD_ARGS:-} --show-key)
}

coord_kill9() {
	kill -9 "$COORD_PID" 2>/dev/null
	wait "$COORD_PID" 2>/dev/null
	COORD_PID=
}

coord_stop() {
	kill "$COORD_PID" 2>/dev/null
	wait "$COORD_PID" 2>/dev/null
	COORD_PID=
}

kg() { "$KG" --coord-socket "$SOCK" "$@"; }

# client DIR ARGS...: a long-running ctlclient (reconnecting) for DIR.
client() {
	local dir=$1; shift
	mkdir -p "$dir"
	"$CTL" -s "127.0.0.1:$PORT" -k "$KEY" -d "$dir" -R -t 120 "$@" >>"$dir/out" 2>&1 &
	CLIENT_PIDS="$CLIENT_PIDS $!"
}

# once DIR ARGS...: register (or reconnect) and take the first map; the
# client's status (0 mapped, 1 refused or ended).
once() {
	local dir=$1; shift
	mkdir -p "$dir"
	"$CTL" -s "127.0.0.1:$PORT" -k "$KEY" -d "$dir" -o -t 20 "$@" >"$dir/out" 2>&1
}

clients_stop() {
	for p in $CLIENT_PIDS; do kill "$p" 2>/dev/null; done
	wait $CLIENT_PIDS 2>/dev/null
	CLIENT_PIDS=
}

# expect_status WANT DESCRIPTION COMMAND...: the command exits with WANT.
expect_status() {
	local want=$1 d=$2; shift 2
	"$@" >"$T/last.out" 2>"$T/last.err"
	local got=$?
	if [ "$got" -eq "$want" ]; then ok "$d (exit $got)"; else
		not_ok "$d: exit $got, wanted $want"; sed 's/^/# /' "$T/last.out" "$T/last.err"; fi
}
