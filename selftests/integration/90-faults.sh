#!/usr/bin/env bash
# 90-faults: resource exhaustion and leaks (FAULTS.md 14 and the churn
# goal).  Under `prlimit --nofile=64:64`, 100 held connections must give
# `Accepting new connections suspended for 1 second` or a `too many
# clients` rejection, no busy loop (< 1 s of CPU over 5 s), and recovery
# once they are released.  Without a limit, the fd count returns to its
# baseline after 200 churned good connections and 200 garbage ones (the
# splice relay of kTLS connections keeps up to 32 empty pipes per worker
# for reuse: pipes are allowed to grow by that much, nothing else).
. "$(dirname "$0")/../lib.sh" "$@"
need "$KTLSD" "$PEER"

CA=$PKI/ca.crt
TLSCL=(--tls --ca "$CA" --servername localhost)
HOLD_S=${HOLD_S:-7}

peer_server echo --echo --count 0 --timeout 300

conf lim <<EOF
$GLOBALS
TIMEOUTbusy = 20
cert = $PKI/server-chain.crt
key = $PKI/server.key
[lim]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port echo)
EOF
if DAEMON_WRAP="prlimit --nofile=64:64 --" daemon_start lim "$T/lim.conf"; then
	ok "daemon started under prlimit --nofile=64:64"
else
	not_ok "daemon started under prlimit --nofile=64:64"
	done_testing
	exit 1
fi
PID=$(daemon_pid lim)
check "RLIMIT_NOFILE is 64 in the daemon" \
	grep -qE '^Max open files +64 +64' "/proc/$PID/limits"
PORT=$(daemon_port lim lim)

nl=0
legit() {
	nl=$((nl + 1))
	peer_client l$nl "127.0.0.1:$PORT" "${TLSCL[@]}" --send 64K --timeout 10
	local rc=$? s r
	s=$(field "$T/l$nl.out" sent_sha256)
	r=$(field "$T/l$nl.out" recv_sha256)
	[ $rc = 0 ] && [ -n "$s" ] && [ "$s" = "$r" ]
}

if legit; then ok "legitimate client before exhaustion"; else
	not_ok "legitimate client before exhaustion" "$(cat "$T/l$nl.err")"; fi

mark=$(log_mark lim)
hold_conns hold "$PORT" 100 "$HOLD_S"
t_hold=$(now_ms)
if wait_log_after lim "$mark" \
	'Accepting new connections suspended for 1 second|too many clients|Too many open files' 5; then
	ok "exhaustion logged (suspended accept or too many clients)"
else
	not_ok "exhaustion logged (suspended accept or too many clients)" \
		"$(tail -n +$((mark + 1)) "$T/lim.log" | tail -n 3)"
fi
c0=$(cpu_ms "$PID")
wait_until 5 false	# measure over 5 s while the connections are held
c1=$(cpu_ms "$PID")
used=$((c1 - c0))
if [ "$used" -lt 1000 ]; then
	ok "no busy loop while exhausted: ${used} ms CPU in 5 s"
else
	not_ok "no busy loop while exhausted (< 1000 ms CPU in 5 s)" "${used} ms"
fi
check "daemon alive while exhausted" daemon_alive lim

# release, then a legitimate client must get through within a few seconds
wait_until $((HOLD_S + 5)) grep -q released "$T/hold.out"
t0=$(now_ms)
if wait_until 10 legit; then
	ok "recovered after the connections were released ($(($(now_ms) - t0)) ms)"
else
	not_ok "recovered after the connections were released" \
		"$(tail -n 3 "$T/lim.log")"
fi
check "daemon alive after exhaustion" daemon_alive lim
daemon_stop lim 10
is "SIGTERM after exhaustion: exit 0" "$?" 0

# --- churn: fd count back to baseline ---------------------------------------
conf churn <<EOF
$GLOBALS
TIMEOUTbusy = 5
cert = $PKI/server-chain.crt
key = $PKI/server.key
[churn]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port echo)
EOF
if daemon_start churn "$T/churn.conf"; then
	ok "churn daemon started"
else
	not_ok "churn daemon started"
	done_testing
	exit 1
fi
PID=$(daemon_pid churn)
PORT=$(daemon_port churn churn)
legit >/dev/null	# warm up (session cache, lazy allocations)
base_rss=$(rss_kb "$PID")
# fd_split PID: "OTHERS PIPES", the daemon's descriptors that are not
# pipes and those that are
fd_split() {
	ls -l "/proc/$1/fd" 2>/dev/null | tail -n +2 |
		awk '{ if ($NF ~ /^pipe:/) p++; else o++ } END { print o + 0, p + 0 }'
}
read -r base_other base_pipe <<<"$(fd_split "$PID")"
workers=$(sed -nE 's/.*Event engine: [a-z_]+, ([0-9]+) worker.*/\1/p' \
	"$T/churn.log" | tail -n 1)
max_pipe=$((base_pipe + 2 * 32 * ${workers:-1}))

peer_client churn "127.0.0.1:$PORT" "${TLSCL[@]}" --send 16K --count 200 \
	--parallel 10 --timeout 120
rc=$?
good=$(grep 'sent=' "$T/churn.out" | grep -cE 'end=(clean|eof)')
if [ $rc = 0 ] && [ "$good" = 200 ]; then
	ok "200 churned connections all succeeded"
else
	not_ok "200 churned connections all succeeded" \
		"rc=$rc, $good clean; $(head -n 3 "$T/churn.err")"
fi
if [ -x "$HOSTILE" ]; then
	timeout 60 "$HOSTILE" garbage-random "127.0.0.1:$PORT" --count 200 \
		--parallel 10 --timeout 10 >"$T/garbage.out" 2>&1
	is "200 garbage connections all closed" \
		"$(grep -c 'closed_after_ms=' "$T/garbage.out")/$(grep -c 'how=timeout' "$T/garbage.out")" \
		"200/0"
else
	for i in $(seq 20); do hostile garbage-random "$PORT" 5 >/dev/null; done
	skip "200 garbage connections all closed" "$HOSTILE not built (20 sent with Python)"
fi
fds_back() {
	local o p
	read -r o p <<<"$(fd_split "$PID")"
	[ "$o" -le "$base_other" ] && [ "$p" -le "$max_pipe" ]
}
if wait_until 5 fds_back; then
	ok "fd count back to baseline after churn ($base_other non-pipe fds; pipe fds $(fd_split "$PID" | cut -d' ' -f2), the pool allows $max_pipe)"
else
	not_ok "fd count back to baseline after churn" \
		"baseline $base_other + $base_pipe pipe fds (at most $max_pipe), now $(fd_split "$PID"): $(ls -l "/proc/$PID/fd" | tail -n +2 | awk '{print $NF}' | sort | uniq -c | sort -rn | head -n 5)"
fi
rss=$(rss_kb "$PID")
# generous: allocator caches may keep some pages; a per-connection leak
# of even 10 kB would add 4 MB here
if [ "$rss" -le $((base_rss + 4096)) ]; then
	ok "RSS after churn ${rss} kB (baseline ${base_rss} kB, < +4 MB)"
else
	not_ok "RSS after churn within +4 MB of baseline" \
		"baseline $base_rss kB, now $rss kB"
fi
if legit; then ok "legitimate client after churn"; else
	not_ok "legitimate client after churn" "$(cat "$T/l$nl.err")"; fi
daemon_stop churn 10
is "churn daemon: SIGTERM exit 0" "$?" 0

done_testing
