# selftests/lib.sh - sourced by every selftests/integration/*.sh script.
#
#	. "$(dirname "$0")/../lib.sh" "$@"
#
# The first argument (or $B) is the build directory.  KTLSD may name another
# daemon binary, e.g. KTLSD=/usr/bin/stunnel4 to validate the tests against
# the reference; $IS_STUNNEL is then 1 and ktlsd-only checks are skipped
# (`if ktlsd_only NAME; then ...; fi` records a skip under stunnel).
# KEEP_TMP=1 keeps the per-script temp dir (removed at exit otherwise).
#
# TAP:		plan N | done_testing; ok NAME; not_ok NAME WHY; skip NAME
#		WHY; check NAME CMD...; diag TEXT; skip_all WHY
# Daemon:	conf NAME <<EOF (writes $T/NAME.conf, prints nothing);
#		$GLOBALS (foreground, no pid, no syslog, debug = info);
#		daemon_start NAME CONF [ARGS] (waits for "Accepting new
#		connections"); daemon_port NAME SERVICE; daemon_pid NAME;
#		daemon_log NAME; daemon_stop NAME [TIMEOUT] (returns the exit
#		status); daemon_alive NAME; daemon_bound_count NAME;
#		wait_log NAME REGEX [TIMEOUT] [MIN_COUNT]; log_mark NAME;
#		wait_log_after NAME MARK REGEX [TIMEOUT]
# Peers:	peer_server NAME ARGS; peer_port NAME; peer_wait NAME
#		[TIMEOUT]; peer_client NAME ADDR ARGS (foreground, bounded);
#		peer_client_bg NAME ADDR ARGS; field FILE KEY [N];
#		check_pump NAME CLIENT_OUT SERVER_OUT [COUNT]
# Python:	py_listener NAME MODE [ARG] (count|hold|full|http|sink);
#		listener_port NAME; listener_count NAME; fill_backlog PORT N;
#		hold_conns NAME PORT N SECONDS; hostile MODE PORT [TIMEOUT]
#		(a scripted bad client printing "mode= closed_after_ms= how=
#		bytes_in="); kv LINE KEY; free_port
# Path:		scaled SIZE (SIZE / KTLSD_TEST_SCALE); kernel_ktls;
#		check_path NAME DAEMON SERVICE [auto|off] (the data path of
#		every connection summary, as this kernel allows)
# Misc:		at_exit CMD; bg NAME CMD... (tracked background process, output in
#		$T/NAME.out); fd_count PID; rss_kb PID; cpu_ms PID; now_ms;
#		wait_until TIMEOUT CMD...; proc_wait PID TIMEOUT; is NAME GOT
#		WANT; ktlsd_only NAME; need FILE...
# Environment:	B, KTLSD, PEER, HOSTILE, PKI (default $B/pki, made by
#		pki.sh), KTLSD_GLOBALS (extra global config lines for ktlsd,
#		e.g. a data-path mode), DAEMON_WRAP, PEER_TIMEOUT, KEEP_TMP,
#		PEER_WRAP (a prefix for ktls-peer, e.g. ip netns exec NS),
#		PEER_ADDR (peer_server's address, default 127.0.0.1:0).
#		KTLSD_TEST_SCALE (divides the big transfers: the VM mode,
#		under TCG, sets it).

set -u
set -o pipefail

SELFTESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$SELFTESTS")
B=${1:-${B:-$ROOT/build}}
case "$B" in
/*) ;;
*) B=$(cd "$B" 2>/dev/null && pwd || echo "$PWD/$B") ;;
esac
KTLSD=${KTLSD:-$B/ktlsd}
PEER=${PEER:-$B/ktls-peer}
HOSTILE=${HOSTILE:-$B/ktls-hostile}
PKI=${PKI:-$B/pki}
TEST_NAME=$(basename "$0" .sh)

IS_STUNNEL=0
case "$(basename "$KTLSD")" in
stunnel*) IS_STUNNEL=1 ;;
esac

GLOBALS='foreground = yes
pid =
syslog = no
debug = info'
# KTLSD_GLOBALS: extra global lines for ktlsd (e.g. "ktls = off" or an
# ioEngine choice), so that a CI loop can run every scenario in each
# data-path mode.  Ignored when testing stunnel.
if [ "$IS_STUNNEL" = 0 ] && [ -n "${KTLSD_GLOBALS:-}" ]; then
	GLOBALS="$GLOBALS
$KTLSD_GLOBALS"
fi

# ---- TAP --------------------------------------------------------------

_tap_n=0
_tap_failed=0
_tap_plan=

plan() {
	_tap_plan=$1
	echo "1..$1"
}

done_testing() {
	[ -n "$_tap_plan" ] || { _tap_plan=$_tap_n; echo "1..$_tap_n"; }
}

diag() {
	local l
	while IFS= read -r l; do
		echo "# $l"
	done <<<"$*"
}

ok() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1"
}

# TODO=REASON (a variable) marks the checks that follow as a known bug:
# while it is set a failure is "not ok ... # TODO REASON", reported and
# counted as skipped, not as a failure.  Unset it right after them.
not_ok() {
	_tap_n=$((_tap_n + 1))
	if [ -n "${TODO:-}" ]; then
		echo "not ok $_tap_n - $1 # TODO $TODO"
		[ -z "${2:-}" ] || diag "$2"
		return
	fi
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	[ -z "${2:-}" ] || diag "$2"
}

skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP ${2:-}"
}

# skip_all WHY: the whole script does not apply; exits.
skip_all() {
	echo "1..0 # SKIP $1"
	_tap_plan=0
	exit 0
}

# check NAME CMD...: ok when CMD exits 0, else not_ok with its output.
check() {
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "$name"
	else
		not_ok "$name" "\`$*\` exited $rc${out:+: $(tail -n 5 <<<"$out")}"
	fi
	return $rc
}

# is NAME GOT WANT
is() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "got '$2', want '$3'"
	fi
}

# ktlsd_only NAME: true when testing ktlsd; otherwise records a skip.
ktlsd_only() {
	[ "$IS_STUNNEL" = 1 ] || return 0
	skip "$1" "ktlsd-specific, not tested against stunnel"
	return 1
}

# need FILE...: executables the script cannot run without.
need() {
	local f
	for f; do
		[ -x "$f" ] && continue
		not_ok "$f is built" "missing executable $f"
		done_testing
		exit 1
	done
}

# ---- time and polling -------------------------------------------------

now_ms() { date +%s%3N; }

# wait_until TIMEOUT CMD...: poll CMD every 50 ms for TIMEOUT seconds.
wait_until() {
	local end=$(($(now_ms) + ${1%.*} * 1000))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt $end ] || return 1
		sleep 0.05
	done
}

# ---- processes --------------------------------------------------------

_bg_pids=()
T=$(mktemp -d "${TMPDIR:-/tmp}/ktlsd-$TEST_NAME.XXXXXX")

_pid_alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}

# proc_wait PID TIMEOUT: wait for a process to end; 1 if it did not.
proc_wait() {
	wait_until "$2" eval "! _pid_alive $1"
}

_cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${_bg_pids[@]}"; do
		_pid_alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	for p in "${_bg_pids[@]}"; do
		proc_wait "$p" 3 || kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for p in "${_at_exit[@]}"; do
		eval "$p"
	done
	if [ "$_tap_failed" -gt 0 ]; then
		# stderr: shown by selftests/run for a failed test
		for p in "$T"/*.log; do
			[ -f "$p" ] || continue
			echo "# --- last lines of $(basename "$p")" >&2
			tail -n 15 "$p" | sed 's/^/#   /' >&2
		done
	fi
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "# files kept in $T" >&2
	else
		rm -rf "$T"
	fi
	[ "$_tap_failed" -eq 0 ] || exit 1
	exit $rc
}
_at_exit=()
# at_exit CMD: run CMD (eval'ed) at exit, after the background processes
# are gone (e.g. deleting network namespaces the script made)
at_exit() { _at_exit+=("$1"); }
trap _cleanup EXIT
trap 'exit 130' INT TERM

# bg NAME CMD...: start CMD in the background, stdout+stderr to
# $T/NAME.out, stdin from /dev/null; prints nothing, sets BG_PID.
bg() {
	local name=$1
	shift
	"$@" >"$T/$name.out" 2>&1 </dev/null &
	BG_PID=$!
	_bg_pids+=("$BG_PID")
	echo "$BG_PID" >"$T/$name.pid"
}

fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# cpu_ms PID: user+system CPU time used so far, in milliseconds.
cpu_ms() {
	local hz
	hz=$(getconf CLK_TCK)
	# the command name may hold spaces: cut after the last ')'
	sed 's/.*) //' "/proc/$1/stat" |
		awk -v hz="$hz" '{print int(($12 + $13) * 1000 / hz)}'
}

# ---- daemon -----------------------------------------------------------

# conf NAME <<EOF: write stdin to $T/NAME.conf.
conf() { cat >"$T/$1.conf"; }

daemon_pid() { cat "$T/$1.pid"; }
daemon_log() { echo "$T/$1.log"; }
daemon_alive() { _pid_alive "$(daemon_pid "$1")"; }

# wait_log NAME REGEX [TIMEOUT [MIN_COUNT]]: wait until the daemon log
# has at least MIN_COUNT (default 1) lines matching the extended REGEX.
wait_log() {
	local f=$T/$1.log re=$2 to=${3:-10} min=${4:-1}
	wait_until "$to" eval '[ "$(grep -cE -- "$re" "$f")" -ge "$min" ]'
}

# log_mark NAME: the current number of lines of the daemon log, for
# wait_log_after NAME MARK REGEX [TIMEOUT]: like wait_log, looking only at
# the lines logged after the mark.
log_mark() { wc -l <"$T/$1.log"; }
wait_log_after() {
	local f=$T/$1.log mark=$2 re=$3
	wait_until "${4:-10}" eval 'tail -n +$((mark + 1)) "$f" | grep -qE -- "$re"'
}

daemon_bound_count() {
	grep -cE 'Service \[.*\] \(FD=[0-9]+\) bound to ' "$T/$1.log"
}

# daemon_start NAME CONF [ARGS...]: start $KTLSD on CONF, output in
# $T/NAME.log; wait (10 s at most) until it accepts connections.
# Returns 1 (and leaves the log) if it died or did not get ready.
# DAEMON_WRAP (unquoted words, e.g. "prlimit --nofile=64:64 --") is put
# in front of the command; the wrapper must exec the daemon.  CONF "-"
# passes no file name, only ARGS (e.g. -fd 3).
daemon_start() {
	local name=$1 cfg=$2 pid
	shift 2
	: >"$T/$name.log"
	if [ "$cfg" = - ]; then
		set -- "$@"
	else
		set -- "$cfg" "$@"
	fi
	${DAEMON_WRAP:-} "$KTLSD" "$@" >"$T/$name.log" 2>&1 </dev/null &
	pid=$!
	_bg_pids+=("$pid")
	echo "$pid" >"$T/$name.pid"
	wait_until "${DAEMON_START_TIMEOUT:-10}" eval "! _pid_alive $pid ||
		grep -q 'Accepting new connections' '$T/$name.log'"
	if ! _pid_alive "$pid"; then
		diag "daemon $name exited early:"
		diag "$(tail -n 10 "$T/$name.log")"
		return 1
	fi
	grep -q 'Accepting new connections' "$T/$name.log" || {
		diag "daemon $name not ready after ${DAEMON_START_TIMEOUT:-10} s"
		return 1
	}
}

# daemon_port NAME SERVICE: the port of the service's last "bound to" line.
daemon_port() {
	local svc
	svc=$(printf '%s' "$2" | sed 's/[][\.*^$]/\\&/g')
	grep -E "Service \[$svc\] \(FD=[0-9]+\) bound to " "$T/$1.log" |
		tail -n 1 | sed -E 's/.*:([0-9]+)[[:space:]]*$/\1/'
}

# daemon_stop NAME [TIMEOUT]: SIGTERM, wait; returns the exit status
# (124 when it did not stop in time; it is then killed).
daemon_stop() {
	local pid rc
	pid=$(daemon_pid "$1")
	kill -TERM "$pid" 2>/dev/null
	if ! proc_wait "$pid" "${2:-10}"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	return $rc
}

# ---- data sizes and the data path -----------------------------------------

# scaled SIZE: SIZE ("64M", "256K" or bytes) divided by KTLSD_TEST_SCALE
# (default 1; the VM mode, under TCG, sets 16), at least 64K, in the same
# notation.  For the big transfers only: the scenario stays the same, the
# byte counts and digests are still compared exactly.
scaled() {
	local n=$1 div=${KTLSD_TEST_SCALE:-1}
	case "$n" in
	*[Kk]) n=$((${n%?} * 1024)) ;;
	*[Mm]) n=$((${n%?} * 1048576)) ;;
	*[Gg]) n=$((${n%?} * 1073741824)) ;;
	esac
	n=$((n / div))
	[ "$n" -ge 65536 ] || n=65536
	if [ $((n % 1048576)) = 0 ]; then
		echo "$((n / 1048576))M"
	elif [ $((n % 1024)) = 0 ]; then
		echo "$((n / 1024))K"
	else
		echo "$n"
	fi
}

# kernel_ktls: true when this kernel has TLS (the tls module is loaded:
# /proc/net/tls_stat exists; a daemon's start-up probe loads it when it
# can).  Then every ktls = auto connection must take the kernel path.
kernel_ktls() { [ -r /proc/net/tls_stat ]; }

# check_path NAME DAEMON SERVICE [auto|off]: one TAP line.  Every
# "Connection summary" of SERVICE in DAEMON's log (there must be one) names
# the data path this kernel gives: with ktls = auto (the default),
# "path=ktls tx+rx relay=splice" on a kernel with TLS and "path=userspace
# (no kernel TLS: ...)" on one without; with off, "path=userspace (ktls =
# off)".  ktlsd only (stunnel has no such line): a skip under stunnel.
check_path() {
	local name=$1 f=$T/$2.log svc want show lines bad n
	svc=$(printf '%s' "$3" | sed 's/[][\.*^$]/\\&/g')
	ktlsd_only "$name" || return 0
	if [ "${4:-auto}" = off ]; then
		want='path=userspace \(ktls = off\) relay=copy '
		show='path=userspace (ktls = off) relay=copy'
	elif kernel_ktls; then
		want='path=ktls tx\+rx relay=splice '
		show='path=ktls tx+rx relay=splice'
	else
		want='path=userspace \(no kernel TLS: .*\) relay=copy '
		show='path=userspace (no kernel TLS: ...) relay=copy'
	fi
	lines=$(grep -E "Connection summary: service=\[$svc\] " "$f")
	n=$(grep -c . <<<"$lines")
	bad=$(grep -vE -- " $want" <<<"$lines")
	if [ -n "$lines" ] && [ -z "$bad" ]; then
		ok "$name ($n connection(s): $show)"
	else
		not_ok "$name" "want '$show' in every summary of [$3]; got: $(head -n 3 <<<"${bad:-none}")"
	fi
}

# ---- ktls-peer --------------------------------------------------------

# peer_server NAME ARGS...: `ktls-peer server 127.0.0.1:0 ARGS` in the
# background; waits for its "listening on" line; stdout in $T/NAME.out.
# Servers get --seed 2 (clients keep 1, so the two directions differ) and
# every peer gets --stats (one line per connection).
peer_server() {
	local name=$1 pid
	shift
	${PEER_WRAP:-} "$PEER" server "${PEER_ADDR:-127.0.0.1:0}" --seed 2 \
		--stats "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null &
	pid=$!
	_bg_pids+=("$pid")
	echo "$pid" >"$T/$name.pid"
	if ! wait_until 10 grep -qh 'listening on' "$T/$name.out" \
		"$T/$name.err"; then
		diag "peer $name did not start: $(cat "$T/$name.err")"
		return 1
	fi
	grep -h 'listening on' "$T/$name.out" "$T/$name.err" | head -n 1 |
		sed -E 's/.*listening on[^0-9]*([0-9.:]*:)?([0-9]+).*/\2/' \
		>"$T/$name.port"
}

peer_port() { cat "$T/$1.port"; }

# peer_wait NAME [TIMEOUT]: wait for a background peer; its exit status.
peer_wait() {
	local pid
	pid=$(cat "$T/$1.pid")
	if ! proc_wait "$pid" "${2:-60}"; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid" 2>/dev/null
}

# peer_client NAME ADDR ARGS...: run a client (bounded by
# $PEER_TIMEOUT, default 120 s); stdout in $T/NAME.out; its status.
peer_client() {
	local name=$1 addr=$2
	shift 2
	timeout -k 5 "${PEER_TIMEOUT:-120}" ${PEER_WRAP:-} "$PEER" client \
		"$addr" --stats "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null
}

peer_client_bg() {
	local name=$1 addr=$2 pid
	shift 2
	timeout -k 5 "${PEER_TIMEOUT:-120}" ${PEER_WRAP:-} "$PEER" client \
		"$addr" --stats "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null &
	pid=$!
	_bg_pids+=("$pid")
	echo "$pid" >"$T/$name.pid"
}

# field FILE KEY [N]: value of KEY=... on the Nth (default first)
# summary line (a line holding "sent=") of FILE.
field() {
	grep -E '(^| )sent=' "$1" 2>/dev/null | sed -n "${3:-1}p" |
		tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

_pump_pairs() {
	# FILE A B: sorted "A_len A_sha" pairs of every summary line
	grep -E '(^| )sent=' "$1" 2>/dev/null | while IFS= read -r l; do
		local a=" $l " x y
		x=$(sed -E "s/.* $2=([^ ]*) .*/\1/" <<<"$a")
		y=$(sed -E "s/.* $3=([^ ]*) .*/\1/" <<<"$a")
		echo "$x $y"
	done | sort
}

# check_pump NAME CLIENT_OUT SERVER_OUT [COUNT]: one TAP line.  What the
# client(s) sent is what the server(s) received and the other way round,
# length and sha256, over every connection (as multisets, so --parallel
# works); COUNT, when given, is the number of connections expected.
check_pump() {
	local name=$1 c=$2 s=$3 n=${4:-} cs sr ss cr nc ns
	nc=$(grep -cE '(^| )sent=' "$c" 2>/dev/null)
	ns=$(grep -cE '(^| )sent=' "$s" 2>/dev/null)
	if [ "${nc:-0}" -eq 0 ] || [ "${ns:-0}" -eq 0 ]; then
		not_ok "$name" "no summary line: client ${nc:-0}, server ${ns:-0}$(_peer_errs "$c" "$s")"
		return 1
	fi
	if [ -n "$n" ] && { [ "$nc" -ne "$n" ] || [ "$ns" -ne "$n" ]; }; then
		not_ok "$name" "connections: client $nc, server $ns, want $n$(_peer_errs "$c" "$s")"
		return 1
	fi
	cs=$(_pump_pairs "$c" sent sent_sha256)
	sr=$(_pump_pairs "$s" recv recv_sha256)
	ss=$(_pump_pairs "$s" sent sent_sha256)
	cr=$(_pump_pairs "$c" recv recv_sha256)
	if [ "$cs" != "$sr" ]; then
		not_ok "$name" "client->server differs: sent [$(head -n 2 <<<"$cs")] recv [$(head -n 2 <<<"$sr")]$(_peer_errs "$c" "$s")"
		return 1
	fi
	if [ "$ss" != "$cr" ]; then
		not_ok "$name" "server->client differs: sent [$(head -n 2 <<<"$ss")] recv [$(head -n 2 <<<"$cr")]$(_peer_errs "$c" "$s")"
		return 1
	fi
	ok "$name"
}

_peer_errs() {
	local f e
	for f; do
		e=${f%.out}.err
		[ -s "$e" ] && printf '\n%s: %s' "$(basename "$e")" \
			"$(tail -n 3 "$e")"
	done
}

# ---- python helpers ---------------------------------------------------

# py_listener NAME MODE: a loopback listener on port 0 (listener_port
# NAME), with MODE:
#   count  accept, count in $T/NAME.count, close at once
#   hold   accept, count, keep the connections open and never read
#   full   listen(0), never accept (fill the backlog yourself)
#   http   a tiny HTTP/1.0 server answering "hello\n" to any request
#   sink   read ARG bytes, append "LEN SHA256" to $T/NAME.sink, answer
#          "done\n" and close
py_listener() {
	local name=$1 mode=$2 arg=${3:-0}
	bg "$name" python3 -u -c '
import socket, sys, os, threading, hashlib
mode, cnt, arg = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(0 if mode == "full" else 128)
n = 0
def bump():
    global n
    n += 1
    with open(cnt + ".tmp", "w") as f:
        f.write("%d\n" % n)
    os.rename(cnt + ".tmp", cnt)
with open(cnt, "w") as f:
    f.write("0\n")
print("listening on %d" % s.getsockname()[1], flush=True)
if mode == "full":
    threading.Event().wait()
held = []
def http(c):
    try:
        c.settimeout(10)
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = c.recv(4096)
            if not d:
                break
            buf += d
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n"
                  b"Connection: close\r\n\r\nhello\n")
    except OSError:
        pass
    c.close()
def sink(c):
    h, n = hashlib.sha256(), 0
    try:
        c.settimeout(30)
        while n < arg:
            d = c.recv(65536)
            if not d:
                break
            h.update(d)
            n += len(d)
        with open(cnt[:-6] + ".sink", "a") as f:
            f.write("%d %s\n" % (n, h.hexdigest()))
        c.sendall(b"done\n")
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    bump()
    if mode == "count":
        c.close()
    elif mode == "hold":
        held.append(c)
    else:
        threading.Thread(target=http if mode == "http" else sink, args=(c,),
                         daemon=True).start()
' "$mode" "$T/$name.count" "$arg"
	if ! wait_until 10 grep -q 'listening on' "$T/$name.out"; then
		diag "listener $name did not start: $(cat "$T/$name.out")"
		return 1
	fi
	sed -n 's/^listening on //p' "$T/$name.out" >"$T/$name.port"
}

listener_port() { cat "$T/$1.port"; }
listener_count() { cat "$T/$1.count" 2>/dev/null || echo 0; }

# fill_backlog PORT N: open N connections to PORT in the background and
# keep them open (for a listen(0) socket that never accepts).
fill_backlog() {
	bg "backlog-$1" python3 -u -c '
import socket, sys, threading
held = []
for i in range(int(sys.argv[2])):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", int(sys.argv[1])))
    except BlockingIOError:
        pass
    held.append(s)
print("filled", flush=True)
threading.Event().wait()
' "$1" "$2"
	wait_until 10 grep -q filled "$T/backlog-$1.out"
}

# hostile MODE PORT [TIMEOUT]: a scripted misbehaving client (Python, so
# the tests do not depend on ktls-hostile).  Prints one line
# "mode=M closed_after_ms=T how=eof|reset|timeout bytes_in=N".  Modes:
# garbage-http, garbage-random, sslv2-hello, oversize-record-hdr,
# huge-clienthello-len, idle-no-bytes, truncated-then-stall (half a
# ClientHello, then silence), trickle (a real ClientHello, one byte every
# 500 ms).  The clock starts after the connect (or after the last byte
# sent for the garbage modes), TIMEOUT defaults to 15 s.
hostile() {
	python3 - "$@" <<'PYEOF'
import os, socket, ssl, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
tmo = float(sys.argv[3]) if len(sys.argv) > 3 else 15.0

def client_hello():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = c.wrap_bio(i, o, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return o.read()

s = socket.create_connection(("127.0.0.1", port), timeout=5)
payload = {
    "garbage-http": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "garbage-random": os.urandom(4096),
    # SSLv2-compatible CLIENT-HELLO, version 3.1, one cipher, 16-byte challenge
    "sslv2-hello": bytes([0x80, 0x1f, 0x01, 0x03, 0x01, 0x00, 0x06, 0x00,
                          0x00, 0x00, 0x10, 0x00, 0x00, 0x2f, 0x00, 0x00,
                          0x35]) + os.urandom(16),
    "oversize-record-hdr": bytes([0x16, 0x03, 0x01, 0xff, 0xff]) +
                           os.urandom(1024),
    "huge-clienthello-len": bytes([0x16, 0x03, 0x01, 0x00, 0x40, 0x01,
                                   0xff, 0xff, 0xff]) + os.urandom(0x3c),
}
t0 = time.time()
try:
    if mode in payload:
        s.sendall(payload[mode])
        t0 = time.time()
    elif mode == "truncated-then-stall":
        ch = client_hello()
        s.sendall(ch[:len(ch) // 2])
    elif mode == "trickle":
        ch = client_hello()
        s.setblocking(False)
        for b in ch[:int(tmo * 2)]:
            try:
                s.send(bytes([b]))
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                break
            try:
                d = s.recv(1, socket.MSG_PEEK)
                if d == b"":
                    break
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                break
            time.sleep(0.5)
        s.setblocking(True)
    elif mode != "idle-no-bytes":
        sys.exit("unknown mode " + mode)
except OSError:
    pass
n, how = 0, "timeout"
s.settimeout(max(0.1, tmo - (time.time() - t0)))
try:
    while True:
        d = s.recv(65536)
        if not d:
            how = "eof"
            break
        n += len(d)
except socket.timeout:
    how = "timeout"
except ConnectionResetError:
    how = "reset"
except OSError as e:
    how = "error:%d" % e.errno
print("mode=%s closed_after_ms=%d how=%s bytes_in=%d" %
      (mode, (time.time() - t0) * 1000, how, n), flush=True)
PYEOF
}

# kv LINE KEY: value of KEY= in a "k=v k=v" line.
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n 1; }

# free_port: a loopback TCP port with no listener (bound, then closed).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# hold_conns NAME PORT N SECONDS: open N plain connections to PORT (in the
# background, non-blocking connects), keep them for SECONDS, then close
# them.  "$T/NAME.out" gets "held N" once all connects were issued.
hold_conns() {
	bg "$1" python3 -u -c '
import socket, sys, time
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
held = []
for i in range(n):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    except OSError:
        continue
    held.append(s)
print("held %d" % len(held), flush=True)
time.sleep(secs)
for s in held:
    s.close()
print("released", flush=True)
' "$2" "$3" "$4"
	wait_until 10 grep -q '^held' "$T/$1.out"
}

# ---- setup ------------------------------------------------------------

if ! bash "$SELFTESTS/pki.sh" "$PKI" >"$T/pki.log" 2>&1; then
	echo "1..1"
	echo "not ok 1 - test PKI"
	diag "$(cat "$T/pki.log")"
	_tap_plan=1
	_tap_failed=1
	exit 1
fi
