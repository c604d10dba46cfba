#!/usr/bin/env bash
# 60-halfclose: half-close in both directions (FAULTS.md 20, 21), TLS 1.3.
#  1. server mode: the TLS client sends 1 MiB then half-closes
#     (close_notify + FIN); the backend replies 1 MiB only 500 ms after
#     its EOF; the client must receive the reply intact.
#  2. the mirror: the backend sends 1 MiB and half-closes first; the TLS
#     client answers 2 MiB only after that EOF; the backend must get it.
#  3. and 4. the same two in client mode (plain client, TLS backend).
#  5. server mode, small socket buffers: the backend sends 48 KiB and
#     half-closes at once, and reads nothing for 1 s; the TLS client
#     uploads 8 MiB and reads nothing for 700 ms. The daemon's
#     close_notify waits in a full socket while the client's data waits
#     in the daemon's; none of it may be lost (a second SSL_shutdown()
#     would read and drop a record).
# Each connection's data path as the kernel allows (check_path): with
# kTLS, close_notify and the half-close go through the kernel.
. "$(dirname "$0")/../lib.sh" "$@"
need "$KTLSD" "$PEER"

TLSBE=(--tls --tls-version 1.3 --cert "$PKI/server-chain.crt"
	--key "$PKI/server.key")
TLSCL=(--tls --tls-version 1.3 --ca "$PKI/ca.crt" --servername localhost)

peer_server be1 --send 1M --reply-after-eof 500 --timeout 300
peer_server be2 --send 1M --timeout 300
peer_server be3 "${TLSBE[@]}" --send 1M --reply-after-eof 500 --timeout 300
peer_server be4 "${TLSBE[@]}" --send 1M --timeout 300
peer_server be5 --send 48K --read-after 1000 --timeout 300

conf d <<EOF
$GLOBALS
[s1]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port be1)
cert = $PKI/server-chain.crt
key = $PKI/server.key
[s2]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port be2)
cert = $PKI/server-chain.crt
key = $PKI/server.key
[s5]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port be5)
socket = l:SO_SNDBUF=4096
cert = $PKI/server-chain.crt
key = $PKI/server.key
[c3]
client = yes
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port be3)
[c4]
client = yes
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port be4)
EOF
if daemon_start d "$T/d.conf"; then
	ok "daemon started"
else
	not_ok "daemon started"
	done_testing
	exit 1
fi

# run NUM SERVICE WHAT CLIENT-ARGS...
run() {
	local i=$1 svcn=$2 what=$3 rc brc
	shift 3
	peer_client cl$i "127.0.0.1:$(daemon_port d "$svcn")" "$@" --timeout 30
	rc=$?
	peer_wait be$i 20
	brc=$?
	check_pump "$what" "$T/cl$i.out" "$T/be$i.out" 1
	is "$what: client and backend exit 0" "$rc/$brc" 0/0
	check_path "$what: data path" d "$svcn"
}

run 1 s1 "server mode, client half-closes first, backend replies after EOF" \
	"${TLSCL[@]}" --send 1M
is "server mode: client received the late 1 MiB reply" \
	"$(field "$T/cl1.out" recv)" 1048576
run 2 s2 "server mode, backend half-closes first, client sends after EOF" \
	"${TLSCL[@]}" --send 2M --reply-after-eof 300
is "server mode: backend received the 2 MiB sent after its EOF" \
	"$(field "$T/be2.out" recv)" 2097152
run 3 c3 "client mode, plain client half-closes first, TLS backend replies after EOF" \
	--send 1M
is "client mode: client received the late 1 MiB reply" \
	"$(field "$T/cl3.out" recv)" 1048576
run 4 c4 "client mode, TLS backend half-closes first, plain client sends after EOF" \
	--send 2M --reply-after-eof 300
is "client mode: TLS backend received the 2 MiB sent after its EOF" \
	"$(field "$T/be4.out" recv)" 2097152

# On the kernel TLS path the records the kernel's TLS layer holds back
# behind the slow reader's full window must reach it before close_notify's
# FIN (the kernel would drop them at shutdown): ktlsd waits for them.
run 5 s5 "server mode, close_notify held up by a slow reader while it uploads" \
	"${TLSCL[@]}" --send 8M --read-after 700 --rcvbuf 4096
is "server mode: backend received all 8 MiB uploaded" \
	"$(field "$T/be5.out" recv)" 8388608

check "daemon still running" daemon_alive d
daemon_stop d 10
is "SIGTERM: exit status 0" "$?" 0

done_testing
