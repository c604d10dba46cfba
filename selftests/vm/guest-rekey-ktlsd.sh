#!/usr/bin/env bash
# selftests/vm/guest-rekey-ktlsd.sh BUILD_DIR - runs INSIDE the backports
# VM (a kernel that rekeys kernel TLS), called by guest-rekey.sh: ktlsd
# rekeys real connections with both directions in the kernel.
#
#   - server mode: a TLS 1.3 client sends 8 MiB with a KeyUpdate
#     (update_requested) after every MiB while the backend sends 32 MiB
#     back; client mode: the TLS server does the same towards ktlsd;
#   - both intact (length and sha256 both ways), on "ktls tx+rx" with the
#     splice relay;
#   - the kernel counted exactly 7 receive rekeys per connection
#     (TlsRxRekeyReceived, TlsRxRekeyOk), as many transmit rekeys as ktlsd
#     logged (several requests while ktlsd had nothing to send are
#     answered by one KeyUpdate, as RFC 8446 4.6.3 allows), at least one
#     per connection; no decrypt or rekey error.
. "$(dirname "$0")/../lib.sh" "$@"
need "$KTLSD" "$PEER"

stat_of() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat; }
COUNTERS="TlsTxSw TlsRxSw TlsRxRekeyOk TlsTxRekeyOk TlsRxRekeyReceived
	TlsDecryptError TlsRxRekeyError TlsTxRekeyError"
snap() { for k in $COUNTERS; do eval "b_$k=\$(stat_of $k)"; done; }
delta() { eval "echo \$((\$(stat_of $1) - b_$1))"; }

peer_server bes --send 32M --count 1 --timeout 600
peer_server bec --tls --cert "$PKI/server-chain.crt" --key "$PKI/server.key" \
	--send 8M --key-update 1M --count 1 --timeout 600
conf d <<CONF
$GLOBALS
[s]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port bes)
cert = $PKI/server-chain.crt
key = $PKI/server.key
[c]
client = yes
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port bec)
CONF
if ! DAEMON_START_TIMEOUT=60 daemon_start d "$T/d.conf"; then
	not_ok "ktlsd started"
	done_testing
	exit 1
fi
check "ktlsd's probe: this kernel rekeys" \
	grep -q 'kTLS: tls module yes.*rekey: yes' "$(daemon_log d)"

# one_case NAME SERVICE CLIENT_ARGS... : a connection, then its checks
one_case() {
	local name=$1 svc=$2 id tx
	shift 2
	snap
	PEER_TIMEOUT=600 peer_client "c$svc" "127.0.0.1:$(daemon_port d "$svc")" "$@"
	peer_wait "be$svc" 60
	check_pump "$name: intact both ways through 7 KeyUpdates" \
		"$T/c$svc.out" "$T/be$svc.out" 1
	wait_log d "summary: service=\\[$svc\\]" 10
	check "$name: ktls tx+rx, relayed by splice" \
		grep -q "summary: service=\\[$svc\\] .* path=ktls tx+rx relay=splice " \
		"$(daemon_log d)"
	is "$name: TlsRxRekeyReceived +7" "$(delta TlsRxRekeyReceived)" 7
	is "$name: TlsRxRekeyOk +7" "$(delta TlsRxRekeyOk)" 7
	id=$(sed -n "s/.*LOG[0-9]\\[\\([0-9]*\\)\\]: Service \\[$svc\\] accepted.*/\\1/p" \
		"$(daemon_log d)" | tail -n 1)
	tx=$(grep -c "LOG6\\[$id\\]: TLS 1.3 KeyUpdate sent" "$(daemon_log d)")
	diag "$name: ktlsd answered with $tx KeyUpdate(s)"
	is "$name: TlsTxRekeyOk counts each KeyUpdate ktlsd sent" \
		"$(delta TlsTxRekeyOk)" "$tx"
	check "$name: at least one KeyUpdate sent" [ "$tx" -ge 1 ]
	is "$name: no decrypt or rekey error" \
		"$(delta TlsDecryptError)/$(delta TlsRxRekeyError)/$(delta TlsTxRekeyError)" \
		0/0/0
}
one_case "server mode" s --tls --send 8M --key-update 1M --timeout 600
one_case "client mode" c --send 32M --timeout 600
daemon_stop d
is "ktlsd stops cleanly" "$?" 0
done_testing
