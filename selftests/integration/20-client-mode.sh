#!/usr/bin/env bash
# 20-client-mode: plain clients -> daemon (client = yes) -> TLS backends.
# 64 MiB each way with TLS 1.2 and 1.3; verifyChain + CAfile + checkHost
# succeeding; a wrong checkHost and an untrusted CA failing: the plain
# client's connection is closed, no plaintext reaches the backend, and the
# log says why.  The data path of each good connection as the kernel
# allows (check_path); the big size is scaled (KTLSD_TEST_SCALE).
. "$(dirname "$0")/../lib.sh" "$@"
need "$KTLSD" "$PEER"

SIZE=${SIZE:-$(scaled 64M)}
N=$(numfmt --from=iec "$SIZE")
TLSBE=(--tls --cert "$PKI/server-chain.crt" --key "$PKI/server.key")

peer_server be12 "${TLSBE[@]}" --tls-version 1.2 --send "$SIZE" --count 1 \
	--timeout 300
peer_server be13 "${TLSBE[@]}" --tls-version 1.3 --send "$SIZE" --count 1 \
	--timeout 300
peer_server beok "${TLSBE[@]}" --send 1M --count 1 --timeout 300
peer_server behost "${TLSBE[@]}" --send 1M --count 1 --timeout 300
peer_server beca "${TLSBE[@]}" --send 1M --count 1 --timeout 300
peer_server beku "${TLSBE[@]}" --send 8M --key-update 1M --count 1 \
	--timeout 300

svc() {
	cat <<EOF
[$1]
client = yes
accept = 127.0.0.1:0
connect = 127.0.0.1:$2
EOF
}

conf d <<EOF
$GLOBALS
$(svc c12 "$(peer_port be12)")
sslVersion = TLSv1.2
$(svc c13 "$(peer_port be13)")
sslVersion = TLSv1.3
$(svc verify "$(peer_port beok)")
verifyChain = yes
CAfile = $PKI/ca.crt
checkHost = localhost
$(svc badhost "$(peer_port behost)")
verifyChain = yes
CAfile = $PKI/ca.crt
checkHost = wrong.example
$(svc badca "$(peer_port beca)")
verifyChain = yes
CAfile = $PKI/other-ca.crt
checkHost = localhost
$(svc ku "$(peer_port beku)")
EOF

if daemon_start d "$T/d.conf"; then
	ok "daemon started"
else
	not_ok "daemon started"
	done_testing
	exit 1
fi
is "six bound-to lines" "$(daemon_bound_count d)" 6

for v in 12 13; do
	peer_client c$v "127.0.0.1:$(daemon_port d c$v)" --send "$SIZE" \
		--timeout 120
	rc=$?
	peer_wait be$v 30
	brc=$?
	check_pump "TLS 1.${v#1}: $SIZE each way, length and sha256 both ways" \
		"$T/c$v.out" "$T/be$v.out" 1
	is "TLS 1.${v#1}: client and backend exit 0" "$rc/$brc" "0/0"
	is "TLS 1.${v#1}: client received $SIZE" "$(field "$T/c$v.out" recv)" "$N"
	check_path "TLS 1.${v#1}: data path" d "c$v"
done
check "log: TLSv1.2 and TLSv1.3 negotiated with the backends" \
	eval "grep -q 'TLSv1\.2' '$T/d.log' && grep -q 'TLSv1\.3' '$T/d.log'"
check "log: Service [c13] connected remote server" \
	grep -qE 'Service \[c13\] connected remote server from 127\.0\.0\.1:[0-9]+' \
	"$T/d.log"
wait_log d "Connection closed: $N byte\(s\) sent to TLS, $N byte\(s\) sent to socket" 10 2
check "log: Connection closed with $N bytes each way (x2)" \
	eval "[ \$(grep -cE 'Connection closed: $N byte\(s\) sent to TLS, $N byte\(s\) sent to socket' '$T/d.log') -ge 2 ]"

# --- verifyChain + checkHost = localhost: passes ---------------------------
peer_client cok "127.0.0.1:$(daemon_port d verify)" --send 1M --timeout 60
rc=$?
peer_wait beok 20
check_pump "verifyChain + checkHost localhost: 1M each way" "$T/cok.out" \
	"$T/beok.out" 1
is "verifyChain + checkHost localhost: client exit 0" "$rc" 0
check_path "verifyChain + checkHost localhost: data path" d verify

# --- failures: the plain client is closed, nothing reaches the backend -----
# fail NAME SERVICE BACKEND LOGREGEX WHAT
fail_case() {
	local name=$1 svcn=$2 be=$3 re=$4 what=$5 t0 ms r
	t0=$(now_ms)
	PEER_TIMEOUT=30 peer_client "$name" "127.0.0.1:$(daemon_port d "$svcn")" \
		--send 64K --timeout 20
	ms=$(($(now_ms) - t0))
	r=$(field "$T/$name.out" recv)
	if [ "${r:-0}" = 0 ] && [ $ms -lt 15000 ]; then
		ok "$what: client connection closed with nothing received (${ms} ms)"
	else
		not_ok "$what: client connection closed with nothing received" \
			"recv=${r:-?} after ${ms} ms: $(cat "$T/$name.out" "$T/$name.err")"
	fi
	peer_wait "$be" 20
	r=$(field "$T/$be.out" recv)
	if [ "${r:-0}" = 0 ]; then
		ok "$what: no plaintext reached the backend"
	else
		not_ok "$what: no plaintext reached the backend" "backend recv=$r"
	fi
	if wait_log d "$re" 5; then
		ok "$what: log says why"
	else
		not_ok "$what: log says why" "no line matching /$re/"
	fi
}

fail_case chost badhost behost \
	'(certificate verify failed|[Hh]ost ?name|checkHost|CERT: .*(mismatch|match))' \
	"checkHost = wrong.example"
fail_case cca badca beca \
	'(certificate verify failed|unable to get local issuer|unknown ca)' \
	"verifyChain with an unrelated CAfile"

# --- TLS 1.3 KeyUpdate from the server, every MiB -------------------------
peer_client cku "127.0.0.1:$(daemon_port d ku)" --send "$SIZE" --timeout 120
peer_wait beku 30
if grep -q 'kTLS: tls module yes.*rekey: no' "$T/d.log"; then
	check "KeyUpdate on a kernel that cannot rekey: a clean close, saying why" \
		wait_log d 'end="the peer sent a TLS 1.3 KeyUpdate and this kernel cannot rekey' 10
	skip "KeyUpdate: $SIZE and 8M intact" "this kernel cannot rekey kernel TLS"
else
	check_pump "KeyUpdate every MiB from the server: $SIZE and 8M intact" \
		"$T/cku.out" "$T/beku.out" 1
	is "the server sent 7 KeyUpdates (update_requested)" \
		"$(field "$T/beku.out" key_updates)" 7
fi

check "daemon still running" daemon_alive d
daemon_stop d 10
is "SIGTERM: exit status 0" "$?" 0

done_testing
