#!/usr/bin/env bash
# 30-chain: plain client -> daemon A (client = yes) -> daemon B (server
# mode) -> plain backend.  64 MiB each way per TLS version, then 8
# concurrent transfers; length and sha256 compared end to end, and each
# daemon's byte counters and data paths (check_path) checked in its log.
# The big sizes are scaled (KTLSD_TEST_SCALE).
. "$(dirname "$0")/../lib.sh" "$@"
need "$KTLSD" "$PEER"

SIZE=${SIZE:-$(scaled 64M)}
PSIZE=$(scaled 2M)
N=$(numfmt --from=iec "$SIZE")

peer_server be12 --send "$SIZE" --count 1 --timeout 300
peer_server be13 --send "$SIZE" --count 1 --timeout 300
peer_server bepar --send "$PSIZE" --count 8 --timeout 300

conf srv <<EOF
$GLOBALS
cert = $PKI/server-chain.crt
key = $PKI/server.key
[s12]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port be12)
[s13]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port be13)
[spar]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port bepar)
EOF
if daemon_start srv "$T/srv.conf"; then
	ok "server-mode daemon B started"
else
	not_ok "server-mode daemon B started"
	done_testing
	exit 1
fi

conf cli <<EOF
$GLOBALS
client = yes
verifyChain = yes
CAfile = $PKI/ca.crt
checkHost = localhost
[c12]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(daemon_port srv s12)
sslVersion = TLSv1.2
[c13]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(daemon_port srv s13)
sslVersion = TLSv1.3
[cpar]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(daemon_port srv spar)
EOF
if daemon_start cli "$T/cli.conf"; then
	ok "client-mode daemon A started"
else
	not_ok "client-mode daemon A started"
	done_testing
	exit 1
fi

for v in 12 13; do
	peer_client c$v "127.0.0.1:$(daemon_port cli c$v)" --send "$SIZE" \
		--timeout 120
	rc=$?
	peer_wait be$v 30
	brc=$?
	check_pump "TLS 1.${v#1} chain: $SIZE each way, sha256 both ways" \
		"$T/c$v.out" "$T/be$v.out" 1
	is "TLS 1.${v#1} chain: client and backend exit 0" "$rc/$brc" "0/0"
	is "TLS 1.${v#1} chain: client received $SIZE" \
		"$(field "$T/c$v.out" recv)" "$N"
done

peer_client cpar "127.0.0.1:$(daemon_port cli cpar)" --send "$PSIZE" \
	--parallel 8 --count 8 --timeout 120
rc=$?
peer_wait bepar 30
check_pump "8 parallel transfers through the chain" "$T/cpar.out" \
	"$T/bepar.out" 8
is "parallel client exit 0" "$rc" 0

re="Connection closed: $N byte\(s\) sent to TLS, $N byte\(s\) sent to socket"
for d in cli srv; do
	wait_log "$d" "$re" 10 2
	check "daemon $d log: two connections closed with $N bytes each way" \
		eval "[ \$(grep -cE '$re' '$T/$d.log') -ge 2 ]"
done
for d in cli:c srv:s; do
	for s in 12 13 par; do
		check_path "daemon ${d%:*}: [${d#*:}$s] data path" "${d%:*}" "${d#*:}$s"
	done
done
check "daemon A log: TLSv1.2 and TLSv1.3" \
	eval "grep -q 'TLSv1\.2' '$T/cli.log' && grep -q 'TLSv1\.3' '$T/cli.log'"

for d in cli srv; do
	daemon_stop "$d" 10
	is "daemon $d: SIGTERM exit status 0" "$?" 0
done

done_testing
