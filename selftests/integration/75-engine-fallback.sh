#!/usr/bin/env bash
# 75-engine-fallback: ioEngine = auto uses io_uring where the kernel
# allows it and falls back to epoll, said once in the log, where it is
# forbidden (here by a seccomp filter on io_uring_setup, as container
# runtimes do: tools/ktls-noring); the relay works in both. ioEngine =
# uring where io_uring is forbidden is a clear startup error.
. "$(dirname "$0")/../lib.sh" "$@"
need "$KTLSD" "$PEER" "$B/ktls-noring"
if [ "$IS_STUNNEL" = 1 ]; then
	skip_all "ktlsd-specific (ioEngine)"
fi

CA=$PKI/ca.crt
# this script chooses the engine itself: no KTLSD_GLOBALS
BASE='foreground = yes
pid =
syslog = no
debug = info'

svc_conf() {	# NAME ENGINE BACKEND_PORT
	conf "$1" <<EOC
$BASE
ioEngine = $2
[s]
accept = 127.0.0.1:0
connect = 127.0.0.1:$3
cert = $PKI/server-chain.crt
key = $PKI/server.key
EOC
}

relay() {	# NAME (DAEMON_WRAP from the caller)
	peer_server "b$1" --send 4M --timeout 60
	svc_conf "$1" auto "$(peer_port "b$1")"
	if ! daemon_start "$1" "$T/$1.conf"; then
		not_ok "$1: daemon started"
		return 1
	fi
	peer_client "c$1" "127.0.0.1:$(daemon_port "$1" s)" --tls --ca "$CA" \
		--servername localhost --send 4M --timeout 60
	peer_wait "b$1" 20
	check_pump "$1: 4 MiB each way" "$T/c$1.out" "$T/b$1.out" 1
}

# io_uring allowed: auto picks it
if relay ring; then
	check "auto: 'Event engine: io_uring' logged" \
		grep -q 'Event engine: io_uring' "$T/ring.log"
	daemon_stop ring 10
fi

# io_uring forbidden with EPERM, then ENOSYS: auto falls back, said once
for how in eperm enosys; do
	wrap="$B/ktls-noring --"
	[ $how = enosys ] && wrap="$B/ktls-noring --enosys"
	if DAEMON_WRAP="$wrap" relay "no$how"; then
		check "$how: 'Event engine: epoll' logged" \
			grep -q 'Event engine: epoll' "$T/no$how.log"
		is "$how: the fallback is said exactly once" \
			"$(grep -c 'io_uring unavailable' "$T/no$how.log")" 1
		daemon_stop "no$how" 10
	fi
done
check "eperm: the reason names the likely cause" \
	grep -q 'io_uring unavailable (Operation not permitted: kernel.io_uring_disabled or a seccomp filter): using epoll' \
	"$T/noeperm.log"

# ioEngine = uring where it is forbidden: refused at startup, exit 1
svc_conf forced uring 9
timeout 10 "$B/ktls-noring" "$KTLSD" "$T/forced.conf" >"$T/forced.log" 2>&1
is "ioEngine = uring without io_uring: exit status 1" "$?" 1
check "ioEngine = uring without io_uring: the error says why" \
	grep -q 'ioEngine = uring, but io_uring cannot be used here: Operation not permitted' \
	"$T/forced.log"

done_testing
