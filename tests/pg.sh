#!/bin/sh
# tests/pg.sh start DIR [OWNER]: a throw-away PostgreSQL server for tests.  initdb a
# cluster in DIR/data (as the postgres user when run as root; initdb refuses
# root), start it listening only on a Unix socket in DIR, and print the
# socket directory.  Superuser "keygate", trust authentication, fsync off:
# a test cluster, never a production one.  Exit 77 with a sentence on
# stderr when no server can be started (not installed, not startable).
# With OWNER (a process id), a watchdog stops it once OWNER is gone, so a
# test killed by its timeout leaves no server behind.
# tests/pg.sh stop DIR: stop it (immediately) and remove DIR.
set -u
bin=${KG_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
cmd=${1:-} dir=${2:-} owner=${3:-}
[ -n "$dir" ] || { echo "usage: pg.sh start|stop DIR" >&2; exit 2; }

as_owner() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
	if [ -z "$bin" ] || [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
		echo "PostgreSQL server programs not found (Debian package postgresql)" >&2
		exit 77
	fi
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "no postgres user to run the server as" >&2
		exit 77
	fi
	mkdir -p "$dir" && chmod 700 "$dir" || exit 77
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	if ! as_owner "$bin/initdb" -D "$dir/data" -U keygate --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 \
		>"$dir/initdb.log" 2>&1; then
		echo "initdb failed: $(tail -n 3 "$dir/initdb.log" | tr '\n' ' ')" >&2
		exit 77
	fi
	if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o \
		"-k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >/dev/null 2>&1; then
		echo "the server did not start: $(tail -n 3 "$dir/server.log" | tr '\n' ' ')" >&2
		exit 77
	fi
	if [ -n "$owner" ]; then
		(while kill -0 "$owner" 2>/dev/null && [ -d "$dir/data" ]; do sleep 1; done
		 "$0" stop "$dir") </dev/null >/dev/null 2>&1 &
	fi
	echo "$dir"
	;;
stop)
	[ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1
	rm -rf "$dir"
	;;
*)
	echo "usage: pg.sh start|stop DIR" >&2
	exit 2 ;;
esac
