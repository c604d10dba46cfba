#!/usr/bin/env bash
# selftests/vm/guest-smoke.sh BUILD_DIR - runs INSIDE the test VM (through
# selftests/vm/run-vm) and prints TAP: the guest is usable for kTLS tests.
#
#   - the tls module is loaded, /proc/net/tls_stat has the Sw counters;
#   - ip, openssl, python3 and the freshly built ktlsd and ktls-peer run;
#   - real kernel TLS: OpenSSL's own offload (SSL_OP_ENABLE_KTLS, see
#     ktls-pair.py) moves 4 MiB each way over loopback for TLS 1.2
#     AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305, AES-128-CCM (TX and RX
#     in the kernel) and TLS 1.3 (OpenSSL 3.0 offloads TX only), checked by
#     sha256 and by the TlsCurr*Sw / TlsTxSw / TlsRxSw counters;
#   - ktlsd relays 2 MiB each way between ktls-peer instances (TLS in,
#     plain out); whether ktlsd itself put the connection into the kernel
#     is a TODO test until its kTLS data path exists;
#   - ktls-splicebench relays 8 MiB from a kTLS receive socket intact in
#     every splice driving mode (epoll, multishot and one-shot POLL_ADD +
#     splice(2), POLL_ADD + OP_SPLICE, blocking OP_SPLICE), to a plain and
#     to a kTLS TX sink.
# Needs no writable place but /tmp (a tmpfs in the guest).
set -u

B=${1:-${B:-build}}
PKI=${PKI:-$B/pki}
HERE=$(cd "$(dirname "$0")" && pwd)
# Debian's python3 first: a pyenv shim costs seconds per start under TCG
PY=${VM_PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
SIZE=4194304

. "$(dirname "${BASH_SOURCE[0]}")/guest-tap.sh"
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n 1; }

T=$(mktemp -d /tmp/guest-smoke.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

echo "# guest kernel $(uname -r), $(nproc) cpus"

# --- the kernel side ---------------------------------------------------------
check "tls module loaded" grep -q '^tls ' /proc/modules
if [ -n "$(stat_of TlsTxSw)" ] && [ -n "$(stat_of TlsRxSw)" ]; then
	ok "/proc/net/tls_stat has TlsTxSw and TlsRxSw"
else
	not_ok "/proc/net/tls_stat has TlsTxSw and TlsRxSw" \
		"$(cat /proc/net/tls_stat 2>&1)"
fi
check "loopback is up" sh -c 'ip -o link show lo | grep -q "[<,]UP[,>]"'

# --- host tools run in the guest -----------------------------------------------
check "openssl runs" openssl version
check "python3 runs" "$PY" -c 'import ssl'
check "ktlsd runs (-version)" "$B/ktlsd" -version
out=$("$B/ktls-peer" 2>&1)
if grep -q usage <<<"$out"; then
	ok "ktls-peer runs"
else
	not_ok "ktls-peer runs" "$out"
fi

# --- OpenSSL's own kTLS offload ---------------------------------------------------
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=localhost -days 2 -keyout "$T/key.pem" -out "$T/cert.pem" \
	>"$T/req.log" 2>&1; then
	ok "test certificate"
else
	not_ok "test certificate" "$(cat "$T/req.log")"
fi

err0=$(stat_of TlsDecryptError)
pair() {
	local ver=$1 cipher=$2 name="kTLS TLS $1 ${2/#-/default suite}" out rx
	out=$(timeout 120 "$PY" "$HERE/ktls-pair.py" "$T/cert.pem" "$T/key.pem" \
		"$ver" "$cipher" $SIZE 2>&1)
	echo "# $out"
	if [ "$(kv "$out" ok)" != 1 ]; then
		not_ok "$name: 4 MiB each way intact" "$out"
		return
	fi
	ok "$name: 4 MiB each way intact"
	# both ends in the kernel: 2 TX (and for 1.2, 2 RX) sockets
	if [ "$ver" = 1.2 ]; then
		rx=2
	else
		# OpenSSL 3.0 does not offload TLS 1.3 RX; a later one may
		rx=$(kv "$out" curr_rx)
		case "$rx" in 0 | 2) ;; *) rx=x ;; esac
	fi
	if [ "$(kv "$out" curr_tx)" = 2 ] && [ "$(kv "$out" curr_rx)" = "$rx" ] &&
		[ "$(kv "$out" tx_sw)" = +2 ] && [ "$(kv "$out" rx_sw)" = "+$rx" ]; then
		ok "$name: TlsTxSw +2, TlsRxSw +$rx"
	else
		not_ok "$name: TlsTxSw +2, TlsRxSw +$rx" "$out"
	fi
}
pair 1.2 ECDHE-ECDSA-AES128-GCM-SHA256
pair 1.2 ECDHE-ECDSA-AES256-GCM-SHA384
pair 1.2 ECDHE-ECDSA-CHACHA20-POLY1305
pair 1.2 ECDHE-ECDSA-AES128-CCM
pair 1.3 -
is_zero=$(($(stat_of TlsDecryptError) - err0))
if [ "$is_zero" = 0 ]; then
	ok "no TlsDecryptError"
else
	not_ok "no TlsDecryptError" "TlsDecryptError grew by $is_zero"
fi

# --- ktlsd in the guest ------------------------------------------------------------
ktlsd_relay() {
	local bport dport cli srv tx0 rx0 dtx drx
	if [ ! -f "$PKI/server-chain.crt" ] || [ ! -f "$PKI/ca.crt" ]; then
		skip "ktlsd relays 2 MiB each way" "no test PKI in $PKI"
		skip "ktlsd puts the connection into the kernel" "no test PKI"
		return
	fi
	"$B/ktls-peer" server 127.0.0.1:0 --seed 2 --stats --send 2M --count 1 \
		--timeout 60 >"$T/be.out" 2>&1 </dev/null &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q 'listening on' "$T/be.out" && break
		sleep 0.1
	done
	bport=$(sed -nE 's/.*listening on[^0-9]*([0-9.:]*:)?([0-9]+).*/\2/p' \
		"$T/be.out" | head -n 1)
	cat >"$T/d.conf" <<EOF
foreground = yes
pid =
syslog = no
debug = info
[smoke]
accept = 127.0.0.1:0
connect = 127.0.0.1:$bport
cert = $PKI/server-chain.crt
key = $PKI/server.key
EOF
	"$B/ktlsd" "$T/d.conf" >"$T/d.log" 2>&1 </dev/null &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q 'Accepting new connections' "$T/d.log" && break
		sleep 0.1
	done
	dport=$(grep -E 'Service \[smoke\] \(FD=[0-9]+\) bound to ' "$T/d.log" |
		tail -n 1 | sed -E 's/.*:([0-9]+)[[:space:]]*$/\1/')
	if [ -z "$bport" ] || [ -z "$dport" ]; then
		not_ok "ktlsd relays 2 MiB each way" \
			"backend port '$bport', daemon port '$dport': $(tail -n 5 "$T/d.log" "$T/be.out")"
		skip "ktlsd puts the connection into the kernel" "no relay"
		return
	fi
	tx0=$(stat_of TlsTxSw) rx0=$(stat_of TlsRxSw)
	timeout 90 "$B/ktls-peer" client "127.0.0.1:$dport" --tls \
		--ca "$PKI/ca.crt" --servername localhost --stats --send 2M \
		--timeout 60 >"$T/cl.out" 2>&1 </dev/null
	wait "${pids[0]}" 2>/dev/null
	dtx=$(($(stat_of TlsTxSw) - tx0)) drx=$(($(stat_of TlsRxSw) - rx0))
	cli=$(grep -E '(^| )sent=' "$T/cl.out" | head -n 1)
	srv=$(grep -E '(^| )sent=' "$T/be.out" | head -n 1)
	if [ -n "$cli" ] && [ -n "$srv" ] &&
		[ "$(kv "$cli" sent)" = 2097152 ] &&
		[ "$(kv "$cli" sent) $(kv "$cli" sent_sha256)" = "$(kv "$srv" recv) $(kv "$srv" recv_sha256)" ] &&
		[ "$(kv "$srv" sent) $(kv "$srv" sent_sha256)" = "$(kv "$cli" recv) $(kv "$cli" recv_sha256)" ]; then
		ok "ktlsd relays 2 MiB each way"
	else
		not_ok "ktlsd relays 2 MiB each way" \
			"client: $cli$(tail -n 3 "$T/cl.out")
backend: $srv
daemon: $(tail -n 5 "$T/d.log")"
	fi
	echo "# ktlsd connection: TlsTxSw +$dtx, TlsRxSw +$drx"
	grep -iE 'ktls|data path|closed' "$T/d.log" | tail -n 3 | sed 's/^/# ktlsd: /'
	if [ "$dtx" -ge 1 ] && [ "$drx" -ge 1 ]; then
		ok "ktlsd puts the connection into the kernel (TX and RX)"
	else
		not_ok "ktlsd puts the connection into the kernel (TX and RX)" \
			"TlsTxSw +$dtx TlsRxSw +$drx"
	fi
}
ktlsd_relay

# The unit tests of ktls/ that need a kTLS kernel skip on the host: here
# they run for real (record types, getsockopt, rekey refusal, the probe).
ktls_unit() {
	local line name
	if [ ! -x "$B/selftests/test_ktls" ]; then
		skip "test_ktls in the guest" "$B/selftests/test_ktls not built"
		return
	fi
	# (no /dev/fd in the guest: no process substitution)
	timeout 300 "$B/selftests/test_ktls" >"$T/test_ktls.out" 2>&1
	while IFS= read -r line; do
		case "$line" in
		"not ok "*)
			name=${line#not ok }
			not_ok "test_ktls: ${name#* }" "see the test's output" ;;
		"ok "*"# SKIP"*)
			name=${line#ok }
			name=${name#* }
			skip "test_ktls: ${name%% # SKIP*}" "${name#* # SKIP }" ;;
		"ok "*)
			name=${line#ok }
			ok "test_ktls: ${name#* }" ;;
		"#"*) echo "$line" ;;
		esac
	done <"$T/test_ktls.out"
}
ktls_unit

# Splice driving on real kTLS sockets (bench/README.md): correctness only,
# a small size (under TCG a mode moves about 3 MB/s).
splicebench() {
	local out rc line
	if [ ! -x "$B/ktls-splicebench" ]; then
		skip "ktls-splicebench: every mode intact" "not built"
		return
	fi
	timeout 300 "$B/ktls-splicebench" --size 8M --runs 1 --time-limit 60 \
		>"$T/sb.out" 2>&1
	rc=$?
	sed -n '/^ktls-splicebench: kernel/,/^$/p; /^sink /,/^$/p' "$T/sb.out" |
		sed 's/^/# /'
	for line in "plain (a)" "plain (b)" "plain (b1)" "plain (c)" \
		"plain (d)" "ktls (a)" "ktls (b)" "ktls (b1)" "ktls (c)" \
		"ktls (d)"; do
		out=$(awk -v s="${line% *}" -v m="${line#* }" \
			'$1 == s && $2 == m' "$T/sb.out" | head -n 1)
		if [ "$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) { print $i; exit } }' <<<"$out")" = 1/1 ]; then
			ok "ktls-splicebench: sink $line relays 8 MiB intact"
		else
			not_ok "ktls-splicebench: sink $line relays 8 MiB intact" \
				"status $rc: $(grep -F "$line" "$T/sb.out"; tail -n 3 "$T/sb.out")"
		fi
	done
	if [ $rc = 0 ]; then
		ok "ktls-splicebench exits 0"
	else
		not_ok "ktls-splicebench exits 0" "status $rc: $(tail -n 5 "$T/sb.out")"
	fi
}
splicebench

echo "1..$n"
[ $failed = 0 ]
