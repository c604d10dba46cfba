#!/usr/bin/env bash
# selftests/vm/guest-ktlsd.sh BUILD_DIR [SIZE] - runs INSIDE the test VM
# (through selftests/vm/run-vm, see selftests/integration/96-ktlsd-vm.sh)
# and prints TAP: ktlsd's own kernel TLS data path, for real.
#
# One ktlsd instance (started once, its listeners on 127.0.0.1:0) holds:
#   1. the matrix: TLS 1.2 x {AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305,
#      AES-128-CCM} and TLS 1.3 x {AES-128-GCM, AES-256-GCM, ChaCha20-
#      Poly1305}, in server mode (ktls-peer --tls -> ktlsd -> plain
#      ktls-peer) and client mode (plain ktls-peer -> ktlsd client=yes ->
#      ktls-peer --tls), SIZE (default 32M, or $KTLSD_VM_SIZE) each way:
#      bytes intact (length + sha256 both ways), the connection summary
#      says "path=ktls tx+rx" with the pinned protocol and cipher, TlsTxSw
#      and TlsRxSw rose by exactly 1 (ktlsd's socket; the peers are
#      userspace), TlsDecryptError unchanged;
#   2. a chain plain -> ktlsd client -> ktlsd server -> plain, TLS 1.3 and
#      1.2 (counters +2/+2);
#   3. real peers: openssl s_client (-quiet, a file in, what the backend
#      sent out) and curl -k against python's http.server;
#   4. close_notify and half-close both ways (client first: the reply
#      still arrives; backend first: the client keeps sending), TLS 1.3,
#      server and client mode;
#   5. a TLS 1.3 KeyUpdate from s_client: ktlsd says why it closes (6.1
#      cannot rekey), no decrypt error, no garbage to the backend;
#   6. NewSessionTickets on a client leg dropped (debug log);
#   7. application data right after the client's Finished (TLS 1.2, 1.3);
#   8. ktls = required refuses a CBC suite; ktls = off stays in userspace;
#   9. no kTLS socket left open, the daemon alive at the end, stopping on
#      SIGTERM with status 0.
# Every wait is bounded.  Needs no writable place but /tmp (a tmpfs in the
# guest).  Under TCG every exec costs 100-200 ms (and a fork ~30 ms), so
# the helpers below parse with bash builtins only; SIZE is the knob for
# the transfer time.
set -u

B=${1:-${B:-build}}
SIZE=${2:-${KTLSD_VM_SIZE:-32M}}
KTLSD=$B/ktlsd
PEER=$B/ktls-peer
PKI=${PKI:-$B/pki}
HERE=$(cd "$(dirname "$0")" && pwd)
# Debian's python3 first: a pyenv shim costs seconds per start under TCG
PY=${VM_PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
# one transfer's deadline (ktls-peer --timeout), seconds
TMO=${KTLSD_VM_XFER_TIMEOUT:-150}

# --- TAP and fork-free helpers ----------------------------------------------------
. "$(dirname "${BASH_SOURCE[0]}")/guest-tap.sh"
# verdict NAME WHY: ok when WHY is empty; a failure also shows the
# daemon's log lines since the caller's log mark $m, when it has one
verdict() {
	local l txt=
	if [ -z "$2" ]; then
		ok "$1"
		return
	fi
	if [ -n "${m:-}" ]; then
		log_after "$m"
		txt=$'\n'"ktlsd log since the test began (last 14 lines):"
		for l in "${LOGL[@]:$((${#LOGL[@]} > 14 ? ${#LOGL[@]} - 14 : 0))}"; do
			txt+=$'\n'"  $l"
		done
	fi
	not_ok "$1" "$2$txt"
}
# addw TEXT: add a line to the caller's $why (nothing when TEXT is empty)
addw() { [ -z "$1" ] || why=${why:+$why$'\n'}$1; }
# kv_into ARRAY LINE: the k=v words of LINE into the associative ARRAY
kv_into() {
	local -n _a=$1
	local w words
	_a=()
	read -ra words <<<"$2"
	for w in "${words[@]}"; do
		[[ "$w" == *=* ]] && _a[${w%%=*}]=${w#*=}
	done
}
# ms: NOW = milliseconds since the epoch
ms() {
	local t=${EPOCHREALTIME/[.,]/}
	NOW=$((10#$t / 1000))
}
# nap SECONDS: sleep without exec (read with a timeout on a silent fifo)
nap() {
	read -r -t "$1" -u "$NAPFD" _ 2>/dev/null
	return 0
}
# wait_for SECONDS CMD...: poll CMD (a shell function, ideally) every 0.1 s
wait_for() {
	local end
	ms
	end=$((NOW + $1 * 1000))
	shift
	until "$@" >/dev/null 2>&1; do
		ms
		[ "$NOW" -lt "$end" ] || return 1
		nap 0.1
	done
	return 0 # (not nap's status)
}
# file_has FILE TEXT: a line of FILE holds TEXT
file_has() {
	local l
	while IFS= read -r l; do
		[[ "$l" == *"$2"* ]] && return 0
	done <"$1"
	return 1
}
# first_line FILE TEXT: FIRST = the first line holding TEXT (or empty)
first_line() {
	local l
	FIRST=
	while IFS= read -r l; do
		if [[ "$l" == *"$2"* ]]; then
			FIRST=$l
			return 0
		fi
	done <"$1" 2>/dev/null
	return 1
}
# reap PID SECONDS: wait for a background child, kill it when late;
# returns its status (124 when it had to be killed)
reap() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || break
		nap 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		kill "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		return 124
	fi
	wait "$1" 2>/dev/null
}
secs() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }

case "$SIZE" in
*[Kk]) NBYTES=$((${SIZE%?} * 1024)) ;;
*[Mm]) NBYTES=$((${SIZE%?} * 1048576)) ;;
*[Gg]) NBYTES=$((${SIZE%?} * 1073741824)) ;;
*) NBYTES=$((SIZE)) ;;
esac
# the smaller transfers: at most 4 MiB
SMALL=$((NBYTES < 4194304 ? NBYTES : 4194304))

T=$(mktemp -d /tmp/guest-ktlsd.XXXXXX)
mkfifo "$T/nap"
exec {NAPFD}<>"$T/nap"
pids=()
DPID=
cleanup() {
	local p
	for p in "${pids[@]}" $DPID; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

ms
t_start=$NOW
echo "# guest kernel $(uname -r), $(nproc) cpus, SIZE=$SIZE ($NBYTES bytes)"

# --- counters ------------------------------------------------------------------
# snap: the counters now, in S_TX S_RX S_ERR S_CTX S_CRX
snap() {
	local k v
	S_TX=0 S_RX=0 S_ERR=0 S_CTX=0 S_CRX=0
	while read -r k v; do
		case "$k" in
		TlsTxSw) S_TX=$v ;;
		TlsRxSw) S_RX=$v ;;
		TlsDecryptError) S_ERR=$v ;;
		TlsCurrTxSw) S_CTX=$v ;;
		TlsCurrRxSw) S_CRX=$v ;;
		esac
	done </proc/net/tls_stat
}
# mark_counters, then after the run counters_why DTX DRX: adds to the
# caller's why unless TlsTxSw/TlsRxSw rose by DTX/DRX and TlsDecryptError
# did not move; LAST_DELTAS says what moved
mark_counters() {
	snap
	B_TX=$S_TX B_RX=$S_RX B_ERR=$S_ERR
}
counters_why() {
	snap
	local dtx=$((S_TX - B_TX)) drx=$((S_RX - B_RX)) derr=$((S_ERR - B_ERR))
	LAST_DELTAS="TlsTxSw +$dtx, TlsRxSw +$drx, TlsDecryptError +$derr"
	if [ "$dtx" != "$1" ] || [ "$drx" != "$2" ] || [ "$derr" != 0 ]; then
		addw "counters: $LAST_DELTAS; want TlsTxSw +$1, TlsRxSw +$2, TlsDecryptError +0"
	fi
}

if [ ! -r /proc/net/tls_stat ]; then
	not_ok "the guest has kernel TLS (/proc/net/tls_stat)" \
		"$(grep '^tls ' /proc/modules 2>&1)"
	echo "1..$n"
	exit 1
fi
for f in "$KTLSD" "$PEER"; do
	if [ ! -x "$f" ]; then
		not_ok "$f is built"
		echo "1..$n"
		exit 1
	fi
done
if [ ! -f "$PKI/server-chain.crt" ] || [ ! -f "$PKI/ca.crt" ]; then
	not_ok "test PKI in $PKI"
	echo "1..$n"
	exit 1
fi

# --- fixed loopback ports: backends and the chain's inner leg --------------------
# ktlsd's services need them in the configuration (its own listeners take
# port 0).  They are below the ephemeral range (32768-60999), so that no
# outgoing connection takes one while its listener is down between tests.
# (No /dev/fd in the guest, so no process substitution.)
ports=$("$PY" -c '
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
got = []
for p in random.sample(range(20000, min(lo, 32768)), 200):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    got.append(p)
    if len(got) == 5:
        break
print(*got)')
read -r BP BT HP CH13 CH12 <<<"$ports"
if [ -z "$CH12" ]; then
	not_ok "five free loopback ports" "got '$ports'"
	echo "1..$n"
	exit 1
fi

# --- the daemon ----------------------------------------------------------------
MATRIX="1.2 aes128gcm ECDHE-ECDSA-AES128-GCM-SHA256
1.2 aes256gcm ECDHE-ECDSA-AES256-GCM-SHA384
1.2 chacha ECDHE-ECDSA-CHACHA20-POLY1305
1.2 aes128ccm ECDHE-ECDSA-AES128-CCM
1.3 aes128gcm TLS_AES_128_GCM_SHA256
1.3 aes256gcm TLS_AES_256_GCM_SHA384
1.3 chacha TLS_CHACHA20_POLY1305_SHA256"

nsvc=0
# svc NAME client|server CONNECT [LINES]: one service section
svc() {
	nsvc=$((nsvc + 1))
	printf '\n[%s]\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\n' \
		"$1" "${ACCEPT:-0}" "$3"
	if [ "$2" = client ]; then
		echo "client = yes"
	else
		printf 'cert = %s\nkey = %s\n' "$PKI/server-chain.crt" "$PKI/server.key"
	fi
	[ -z "${4:-}" ] || echo "$4"
}
# SUITE_OPT VERSION SUITE: the ktlsd lines pinning a protocol and suite
suite_opt() {
	if [ "$1" = 1.3 ]; then
		SUITE_OPT="sslVersion = TLSv1.3"$'\n'"ciphersuites = $2"
	else
		SUITE_OPT="sslVersion = TLSv1.2"$'\n'"ciphers = $2"
	fi
}
{
	cat <<CONF
foreground = yes
pid =
syslog = no
debug = info
CONF
	while read -r ver tag suite; do
		suite_opt "$ver" "$suite"
		svc "s$ver-$tag" server "$BP" "$SUITE_OPT"
		svc "c$ver-$tag" client "$BT" "$SUITE_OPT"
	done <<<"$MATRIX"
	svc ch13-c client "$CH13" "sslVersion = TLSv1.3"
	ACCEPT=$CH13 svc ch13-s server "$BP" "sslVersion = TLSv1.3"
	svc ch12-c client "$CH12" "sslVersion = TLSv1.2"
	ACCEPT=$CH12 svc ch12-s server "$BP" "sslVersion = TLSv1.2"
	svc real server "$BP"
	svc http server "$HP"
	svc hc-s server "$BP" "sslVersion = TLSv1.3"
	svc hc-c client "$BT" "sslVersion = TLSv1.3"
	svc ku server "$BP" "sslVersion = TLSv1.3"
	svc tkt client "$BT" "sslVersion = TLSv1.3
debug = debug"
	svc early12 server "$BP" "sslVersion = TLSv1.2"
	svc early13 server "$BP" "sslVersion = TLSv1.3"
	svc req-cbc server "$BP" "sslVersion = TLSv1.2
ciphers = ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA
ktls = required"
	svc off server "$BP" "ktls = off"
	echo "$nsvc" >"$T/nsvc"
} >"$T/d.conf"
read -r nsvc <"$T/nsvc"

LOG=$T/d.log
# log_after MARK: LOGL = the daemon's log lines after line MARK
log_after() { mapfile -t -s "$1" LOGL <"$LOG"; }
# logl_tail N: print the last N lines of LOGL
logl_tail() {
	local i=$((${#LOGL[@]} > $1 ? ${#LOGL[@]} - $1 : 0))
	printf '%s\n' "${LOGL[@]:i}"
}
# mark: M = the number of lines the log has now
mark() {
	log_after 0
	M=${#LOGL[@]}
}
# log_find MARK TEXT: FOUND = the first line after MARK holding TEXT;
# FOUND_N = how many do
log_find() {
	local l
	FOUND='' FOUND_N=0
	log_after "$1"
	for l in "${LOGL[@]}"; do
		if [[ "$l" == *"$2"* ]]; then
			[ -n "$FOUND" ] || FOUND=$l
			FOUND_N=$((FOUND_N + 1))
		fi
	done
	[ -n "$FOUND" ]
}
# log_wait SECONDS MARK TEXT: log_find until it finds
log_wait() { wait_for "$1" log_find "$2" "$3"; }

"$KTLSD" "$T/d.conf" >"$LOG" 2>&1 </dev/null &
DPID=$!
if log_wait 30 0 'Accepting new connections' && kill -0 "$DPID" 2>/dev/null; then
	ok "ktlsd starts with $nsvc services"
else
	log_after 0
	not_ok "ktlsd starts with $nsvc services" "$(logl_tail 15)"
	echo "1..$n"
	exit 1
fi
log_find 0 'kTLS: tls module'
diag "ktlsd: ${FOUND#*kTLS: }"
if [[ "$FOUND" == *"tls module yes"* ]]; then
	ok "ktlsd's startup probe finds kernel TLS"
else
	not_ok "ktlsd's startup probe finds kernel TLS" "$(printf '%s\n' "${LOGL[@]:0:10}")"
fi
# the listeners' ports: PORT[service]
declare -A PORT
log_after 0
re='Service \[([^]]*)\] \(FD=[0-9]+\) bound to .*:([0-9]+)[[:space:]]*$'
for l in "${LOGL[@]}"; do
	if [[ "$l" =~ $re ]]; then
		PORT[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
	fi
done
# the baseline of the whole run, after the probe's dummy keys
snap
R_ERR=$S_ERR R_CTX=$S_CTX R_CRX=$S_CRX

# summary_why SVC MARK PROTO C2S S2C: adds to the caller's why unless the
# first connection summary of SVC after MARK (waited for, 20 s) says
# "path=ktls tx+rx" with PROTO ("TLSv1.3 TLS_AES_128_GCM_SHA256"; globs
# allowed, e.g. "TLSv1.3 *") and the byte counts (globs too)
summary_why() {
	local pat="* path=ktls tx+rx *protocol=$3 client_to_server=$4 server_to_client=$5 *"
	if ! log_wait 20 "$2" "Connection summary: service=[$1] "; then
		addw "no connection summary of [$1] in the log"
		return
	fi
	# shellcheck disable=SC2053
	if [[ "$FOUND" != $pat ]]; then
		addw "summary: ${FOUND#*Connection summary: }"
		addw "want: path=ktls tx+rx protocol=$3 client_to_server=$4 server_to_client=$5"
	fi
}

# --- ktls-peer pairs -------------------------------------------------------------
# xfer TAG DPORT BPORT: a ktls-peer server on BPORT (BE_ARGS) and a
# ktls-peer client to DPORT (CL_ARGS), bounded; output in $T/TAG.be and
# $T/TAG.cl, statuses in BE_RC and CL_RC, the client's time in XFER_MS
xfer() {
	local tag=$1 dport=$2 bport=$3 bpid t0
	timeout -k 5 $((TMO + 20)) "$PEER" server "127.0.0.1:$bport" --seed 2 \
		--stats --count 1 --timeout "$TMO" "${BE_ARGS[@]}" \
		>"$T/$tag.be" 2>&1 </dev/null &
	bpid=$!
	if ! wait_for 10 file_has "$T/$tag.be" 'listening on'; then
		reap "$bpid" 0
		BE_RC=x CL_RC=x XFER_MS=0
		return
	fi
	ms
	t0=$NOW
	timeout -k 5 $((TMO + 20)) "$PEER" client "127.0.0.1:$dport" --stats \
		--timeout "$TMO" "${CL_ARGS[@]}" >"$T/$tag.cl" 2>&1 </dev/null
	CL_RC=$?
	ms
	XFER_MS=$((NOW - t0))
	reap "$bpid" 20
	BE_RC=$?
}
# pump_why TAG C2S S2C [CLIENT_END BACKEND_END]: adds to the caller's why
# unless the bytes arrived intact both ways, both peers exited 0 (and
# ended as said, when given)
pump_why() {
	local c s l
	declare -A C S
	first_line "$T/$1.cl" 'sent='
	c=$FIRST
	first_line "$T/$1.be" 'sent='
	s=$FIRST
	if [ -z "$c" ] || [ -z "$s" ]; then
		addw "no stats: client (exit $CL_RC) or backend (exit $BE_RC)"
		while IFS= read -r l; do addw "client: $l"; done <"$T/$1.cl"
		while IFS= read -r l; do addw "backend: $l"; done <"$T/$1.be"
		return
	fi
	kv_into C "$c"
	kv_into S "$s"
	if [ "${C[sent]}" != "$2" ] || [ "${S[sent]}" != "$3" ] ||
		[ "${C[sent]} ${C[sent_sha256]}" != "${S[recv]} ${S[recv_sha256]}" ] ||
		[ "${S[sent]} ${S[sent_sha256]}" != "${C[recv]} ${C[recv_sha256]}" ] ||
		[ "$CL_RC" != 0 ] || [ "$BE_RC" != 0 ] ||
		{ [ -n "${4:-}" ] && [ "${C[end]}" != "$4" ]; } ||
		{ [ -n "${5:-}" ] && [ "${S[end]}" != "$5" ]; }; then
		addw "want client->backend $2 bytes, backend->client $3${4:+, client end=$4}${5:+, backend end=$5}"
		addw "client  (exit $CL_RC): $c"
		addw "backend (exit $BE_RC): $s"
		while IFS= read -r l; do
			[[ "$l" == *sent=* ]] || addw "client: $l"
		done <"$T/$1.cl"
		while IFS= read -r l; do
			[[ "$l" == *sent=* || "$l" == "listening on"* ]] || addw "backend: $l"
		done <"$T/$1.be"
	fi
}

TLS_CLIENT=(--tls --ca "$PKI/ca.crt" --servername localhost)
TLS_SERVER=(--tls --cert "$PKI/server-chain.crt" --key "$PKI/server.key")
# PEER_SUITE=(ktls-peer options pinning VERSION and SUITE)
peer_suite() {
	if [ "$1" = 1.3 ]; then
		PEER_SUITE=(--tls-version 1.3 --ciphersuites "$2")
	else
		PEER_SUITE=(--tls-version 1.2 --ciphers "$2")
	fi
}

# --- 1. the matrix -----------------------------------------------------------------
# matrix MODE VERSION TAG SUITE
matrix() {
	local mode=$1 ver=$2 tag=$3 suite=$4 name svc bport m why=''
	name="$mode mode TLS $ver $suite"
	peer_suite "$ver" "$suite"
	if [ "$mode" = server ]; then
		svc=s$ver-$tag bport=$BP
		CL_ARGS=(--send "$NBYTES" "${TLS_CLIENT[@]}" "${PEER_SUITE[@]}")
		BE_ARGS=(--send "$NBYTES")
	else
		svc=c$ver-$tag bport=$BT
		CL_ARGS=(--send "$NBYTES")
		BE_ARGS=(--send "$NBYTES" "${TLS_SERVER[@]}" "${PEER_SUITE[@]}")
	fi
	mark
	m=$M
	mark_counters
	xfer "$svc" "${PORT[$svc]}" "$bport"
	pump_why "$svc" "$NBYTES" "$NBYTES"
	verdict "$name: $SIZE each way intact" "$why"
	why=
	summary_why "$svc" "$m" "TLSv$ver $suite" "$NBYTES" "$NBYTES"
	counters_why 1 1
	diag "$svc: $(secs "$XFER_MS"); $LAST_DELTAS"
	verdict "$name: path=ktls tx+rx, TlsTxSw +1, TlsRxSw +1, no decrypt error" "$why"
}
while read -r ver tag suite; do
	matrix server "$ver" "$tag" "$suite"
done <<<"$MATRIX"
while read -r ver tag suite; do
	matrix client "$ver" "$tag" "$suite"
done <<<"$MATRIX"

# --- 2. chain ------------------------------------------------------------------------
chain() {
	local ver=$1 v=${1/./} name m why='' l
	name="chain plain -> ktlsd client -> ktlsd server -> plain, TLS $ver"
	mark
	m=$M
	mark_counters
	CL_ARGS=(--send "$NBYTES")
	BE_ARGS=(--send "$NBYTES")
	xfer "ch$v" "${PORT[ch$v-c]}" "$BP"
	pump_why "ch$v" "$NBYTES" "$NBYTES"
	verdict "$name: $SIZE each way intact" "$why"
	why=
	for l in c s; do
		summary_why "ch$v-$l" "$m" "TLSv$ver *" "$NBYTES" "$NBYTES"
	done
	counters_why 2 2
	diag "ch$v: $(secs "$XFER_MS"); $LAST_DELTAS"
	verdict "$name: both legs ktls tx+rx, TlsTxSw +2, TlsRxSw +2" "$why"
}
chain 1.3
chain 1.2

# --- 3. real peers ---------------------------------------------------------------------
# openssl s_client -quiet: a file in; the backend (ktlsd-sink.py) reads it
# all before it sends its own file and closes, as s_client never half-closes
s_client_real() {
	local name="openssl s_client -quiet through ktlsd server mode" m why='' spid rc
	local up down got
	declare -A K
	head -c "$SMALL" /dev/urandom >"$T/up.bin"
	head -c "$SMALL" /dev/urandom >"$T/down.bin"
	up=$(sha256sum <"$T/up.bin")
	down=$(sha256sum <"$T/down.bin")
	mark
	m=$M
	mark_counters
	timeout -k 5 $((TMO + 20)) "$PY" "$HERE/ktlsd-sink.py" "$BP" "$SMALL" \
		"$T/down.bin" "$TMO" >"$T/sink.out" 2>&1 </dev/null &
	spid=$!
	if ! wait_for 20 file_has "$T/sink.out" 'listening on'; then
		reap "$spid" 0
		not_ok "$name: bytes intact both ways" "sink: $(cat "$T/sink.out")"
		not_ok "$name: path=ktls tx+rx" "no run"
		return
	fi
	timeout -k 5 "$TMO" openssl s_client -connect "127.0.0.1:${PORT[real]}" \
		-servername localhost -CAfile "$PKI/ca.crt" -verify_return_error \
		-quiet <"$T/up.bin" >"$T/sc.out" 2>"$T/sc.err"
	rc=$?
	reap "$spid" 20
	first_line "$T/sink.out" 'recv='
	kv_into K "$FIRST"
	[ "${K[recv]:-} ${K[recv_sha256]:-}" = "$SMALL ${up%% *}" ] ||
		addw "backend received: $FIRST (want $SMALL bytes of up.bin)"
	[ "${K[extra]:-}" = 0 ] || addw "backend got extra bytes: $FIRST"
	got=$(sha256sum <"$T/sc.out")
	[ "$(stat -c %s "$T/sc.out") ${got%% *}" = "$SMALL ${down%% *}" ] ||
		addw "s_client output: $(stat -c %s "$T/sc.out") bytes, not down.bin ($SMALL)"
	[ -z "$why" ] || addw "s_client exit $rc: $(tail -n 3 "$T/sc.err")"
	verdict "$name: $SMALL bytes each way intact" "$why"
	why=
	summary_why real "$m" "TLSv1.3 *" "$SMALL" "$SMALL"
	counters_why 1 1
	verdict "$name: path=ktls tx+rx, TlsTxSw +1, TlsRxSw +1" "$why"
}
s_client_real

curl_real() {
	local name="curl -k through ktlsd server mode to python http.server" m hpid rc why=''
	mkdir -p "$T/www"
	head -c "$NBYTES" /dev/urandom >"$T/www/blob"
	timeout -k 5 600 "$PY" -u -m http.server --bind 127.0.0.1 \
		--directory "$T/www" "$HP" >"$T/http.out" 2>&1 </dev/null &
	hpid=$!
	pids+=("$hpid")
	if ! wait_for 20 file_has "$T/http.out" 'Serving HTTP'; then
		not_ok "$name: $SIZE intact" "http.server: $(cat "$T/http.out")"
		not_ok "$name: path=ktls tx+rx" "no run"
		return
	fi
	mark
	m=$M
	mark_counters
	timeout -k 5 "$TMO" curl -k -sS --http1.1 --max-time "$TMO" \
		-o "$T/curl.out" "https://127.0.0.1:${PORT[http]}/blob" \
		>"$T/curl.err" 2>&1
	rc=$?
	if [ $rc != 0 ] || ! cmp -s "$T/curl.out" "$T/www/blob"; then
		addw "curl exit $rc, got $(stat -c %s "$T/curl.out" 2>/dev/null) bytes, want $NBYTES (identical): $(tail -n 3 "$T/curl.err")"
	fi
	verdict "$name: $SIZE intact" "$why"
	why=
	summary_why http "$m" "TLSv1.3 *" "*" "*"
	counters_why 1 1
	verdict "$name: path=ktls tx+rx, TlsTxSw +1, TlsRxSw +1" "$why"
	kill "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null
}
curl_real

# --- 4. close_notify and half-close ------------------------------------------------------
# halfclose MODE WHO: WHO (client|backend) half-closes first
halfclose() {
	local mode=$1 who=$2 name m why='' svc bport cl_end be_end s2c tag
	tag=hc-$mode-$who
	if [ "$who" = client ]; then
		name="$mode mode TLS 1.3: the client half-closes first, the reply sent after its EOF arrives intact"
		s2c=$SMALL
		CL_ARGS=(--send "$SMALL")
		BE_ARGS=(--send "$s2c" --reply-after-eof 300)
	else
		name="$mode mode TLS 1.3: the backend half-closes first, the client sends after that"
		s2c=65536
		CL_ARGS=(--send "$SMALL" --reply-after-eof 300)
		BE_ARGS=(--send "$s2c")
	fi
	# the TLS peer must see close_notify (end=clean), the plain one EOF
	if [ "$mode" = server ]; then
		svc=hc-s bport=$BP cl_end=clean be_end=eof
		CL_ARGS+=("${TLS_CLIENT[@]}")
	else
		svc=hc-c bport=$BT cl_end=eof be_end=clean
		BE_ARGS+=("${TLS_SERVER[@]}")
	fi
	mark
	m=$M
	mark_counters
	xfer "$tag" "${PORT[$svc]}" "$bport"
	pump_why "$tag" "$SMALL" "$s2c" "$cl_end" "$be_end"
	summary_why "$svc" "$m" "TLSv1.3 *" "$SMALL" "$s2c"
	counters_why 1 1
	verdict "$name (close_notify both ways, ktls tx+rx)" "$why"
}
halfclose server client
halfclose server backend
halfclose client client
halfclose client backend

# --- 5. KeyUpdate -------------------------------------------------------------------------
# s_client (commands on: no -quiet/-ign_eof) sends a line, then "K":
# KeyUpdate(update_requested)
keyupdate() {
	local name="TLS 1.3 KeyUpdate from s_client (server mode)" m bpid why='' hello
	declare -A K
	mark
	m=$M
	mark_counters
	timeout -k 5 60 "$PEER" server "127.0.0.1:$BP" --seed 2 --stats --count 1 \
		--no-shutdown --timeout 50 >"$T/ku.be" 2>&1 </dev/null &
	bpid=$!
	wait_for 10 file_has "$T/ku.be" 'listening on'
	# one line per read(2) of s_client's, so that "K" is a command: the
	# handshake first (s_client reads its stdin only after it; in TLS 1.3
	# the client is done before ktlsd, which logs its data path then),
	# the line, a pause, the command
	{
		log_wait 30 "$m" 'Data path: '
		printf 'hello\n'
		nap 2
		printf 'K\n'
		nap 5
	} | timeout -k 5 40 openssl s_client -connect "127.0.0.1:${PORT[ku]}" \
		-tls1_3 -servername localhost -CAfile "$PKI/ca.crt" \
		>"$T/ku.sc" 2>&1
	reap "$bpid" 20
	log_find "$m" 'the peer sent a TLS 1.3 KeyUpdate and this kernel cannot rekey kernel TLS (Linux >= 6.14 can)' ||
		addw "no KeyUpdate line in the log"
	if log_wait 20 "$m" "Connection summary: service=[ku] "; then
		[[ "$FOUND" == *" path=ktls tx+rx "*'end="the peer sent a TLS 1.3 KeyUpdate'* ]] ||
			addw "summary: ${FOUND#*summary: }"
	else
		addw "no connection summary of [ku]"
	fi
	log_find "$m" 'Connection closed: ' || addw "not closed cleanly (no 'Connection closed:')"
	file_has "$T/ku.sc" KEYUPDATE || addw "s_client did not send the KeyUpdate: $(tail -n 5 "$T/ku.sc")"
	first_line "$T/ku.be" 'sent='
	kv_into K "$FIRST"
	hello=$(printf 'hello\n' | sha256sum)
	[ "${K[recv]:-} ${K[recv_sha256]:-}" = "6 ${hello%% *}" ] ||
		addw "backend received ${K[recv]:-nothing}, want exactly \"hello\\n\" (6 bytes): $FIRST"
	counters_why 1 1
	verdict "$name: ktlsd closes with the no-rekey reason, no decrypt error, the backend got only the bytes before it" "$why"
}
keyupdate

# --- 6. NewSessionTicket on a client leg ---------------------------------------------------
ticket() {
	local name="client mode TLS 1.3: the server's NewSessionTickets are dropped" m why=''
	mark
	m=$M
	mark_counters
	CL_ARGS=(--send "$SMALL")
	BE_ARGS=(--send "$SMALL" "${TLS_SERVER[@]}" --tls-version 1.3)
	xfer tkt "${PORT[tkt]}" "$BT"
	pump_why tkt "$SMALL" "$SMALL"
	summary_why tkt "$m" "TLSv1.3 *" "$SMALL" "$SMALL"
	log_find "$m" 'NewSessionTicket dropped' ||
		addw "no 'NewSessionTicket dropped' in the debug log"
	diag "tkt: $FOUND_N NewSessionTicket(s) dropped"
	counters_why 1 1
	verdict "$name (debug log), the transfer works on kTLS" "$why"
}
ticket

# --- 7. application data right after the client's Finished ----------------------------------
# ktls-peer writes as soon as its handshake returns; --chunk 1 makes the
# first records one byte each, so that in TLS 1.3 some of them are in
# ktlsd's socket before it switches to the kernel
early() {
	local ver=$1 v=${1/./} m why=''
	mark
	m=$M
	mark_counters
	CL_ARGS=(--send 2000 --chunk 1 "${TLS_CLIENT[@]}" --tls-version "$ver")
	BE_ARGS=(--send 1048576)
	xfer "early$v" "${PORT[early$v]}" "$BP"
	pump_why "early$v" 2000 1048576
	summary_why "early$v" "$m" "TLSv$ver *" 2000 1048576
	counters_why 1 1
	verdict "server mode TLS $ver: 2000 one-byte records written right after the client's Finished arrive intact on kTLS" "$why"
}
early 1.3
early 1.2

# --- 8. ktls = required / off ------------------------------------------------------------------
required_cbc() {
	local name="ktls = required refuses a TLS 1.2 CBC connection" m bpid why=''
	declare -A K
	mark
	m=$M
	timeout -k 5 40 "$PEER" server "127.0.0.1:$BP" --seed 2 --stats --count 1 \
		--no-shutdown --timeout 30 >"$T/req.be" 2>&1 </dev/null &
	bpid=$!
	wait_for 10 file_has "$T/req.be" 'listening on'
	{
		printf 'secret\n'
		nap 3
	} | timeout -k 5 30 openssl s_client -connect "127.0.0.1:${PORT[req-cbc]}" \
		-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA -servername localhost \
		-CAfile "$PKI/ca.crt" -ign_eof >"$T/req.sc" 2>&1
	log_wait 20 "$m" "Connection summary: service=[req-cbc] "
	kill "$bpid" 2>/dev/null
	reap "$bpid" 5
	log_find "$m" 'ktls = required: ' || addw "no 'ktls = required:' line"
	diag "req-cbc: ${FOUND#*LOG?\[*\]: }"
	file_has "$T/req.sc" 'Cipher is ECDHE-ECDSA-AES128-SHA' ||
		addw "s_client did not negotiate the CBC suite: $(grep -m3 -iE 'cipher|error' "$T/req.sc")"
	first_line "$T/req.be" 'sent='
	kv_into K "$FIRST"
	[ "${K[recv]:-0}" = 0 ] || addw "the backend received data: $FIRST"
	verdict "$name (the log says 'ktls = required:', nothing relayed)" "$why"
}
required_cbc

ktls_off() {
	local name="ktls = off: path=userspace (ktls = off), counters unchanged" m why=''
	mark
	m=$M
	mark_counters
	CL_ARGS=(--send 1048576 "${TLS_CLIENT[@]}")
	BE_ARGS=(--send 1048576)
	xfer off "${PORT[off]}" "$BP"
	pump_why off 1048576 1048576
	if log_wait 20 "$m" "Connection summary: service=[off] "; then
		[[ "$FOUND" == *" path=userspace (ktls = off) "* ]] ||
			addw "summary: ${FOUND#*summary: }"
	else
		addw "no connection summary of [off]"
	fi
	counters_why 0 0
	verdict "$name, 1 MiB each way intact" "$why"
}
ktls_off

# --- 9. the end ------------------------------------------------------------------------------
snap
if [ "$S_ERR" = "$R_ERR" ] && [ "$S_CTX" = "$R_CTX" ] && [ "$S_CRX" = "$R_CRX" ]; then
	ok "whole run: no TlsDecryptError, no kTLS socket left open (TlsCurrTxSw $S_CTX, TlsCurrRxSw $S_CRX)"
else
	not_ok "whole run: no TlsDecryptError, no kTLS socket left open" \
		"TlsDecryptError $R_ERR -> $S_ERR, TlsCurrTxSw $R_CTX -> $S_CTX, TlsCurrRxSw $R_CRX -> $S_CRX"
fi
if kill -0 "$DPID" 2>/dev/null; then
	ok "ktlsd is alive after every scenario"
else
	wait "$DPID"
	rc=$?
	log_after 0
	not_ok "ktlsd is alive after every scenario" \
		"exit status $rc: $(logl_tail 10)"
fi
kill -TERM "$DPID" 2>/dev/null
reap "$DPID" 20
rc=$?
DPID=
if [ "$rc" = 0 ]; then
	ok "ktlsd stops on SIGTERM with status 0"
else
	log_after 0
	not_ok "ktlsd stops on SIGTERM with status 0" \
		"status $rc: $(logl_tail 5)"
fi
if log_find 0 'AddressSanitizer' || log_find 0 'runtime error:' ||
	log_find 0 'Assertion'; then
	not_ok "ktlsd's log has no sanitizer report or assertion" "$FOUND"
else
	ok "ktlsd's log has no sanitizer report or assertion"
fi

ms
echo "# guest script: $(secs $((NOW - t_start)))"
echo "1..$n"
[ "$failed" = 0 ]
