#!/usr/bin/env bash
# 40-certs: client-certificate checks in server mode (FAULTS.md 9).
# verifyChain + CAfile + CRLfile: a good client passes; no certificate,
# a revoked, an expired and an other-CA client fail, with the reason in
# the log and no backend connection; verifyPeer pinning; CApath/CRLpath;
# a PKCS#12 server certificate.
. "$(dirname "$0")/../lib.sh" "$@"
need "$KTLSD" "$PEER"

CA=$PKI/ca.crt
peer_server echo --echo --count 0 --timeout 300
ECHO=$(peer_port echo)

svc() {
	cat <<EOF
[$1]
accept = 127.0.0.1:0
connect = 127.0.0.1:$ECHO
EOF
}

conf d <<EOF
$GLOBALS
cert = $PKI/server-chain.crt
key = $PKI/server.key
$(svc chain)
verifyChain = yes
CAfile = $PKI/ca.crt
CRLfile = $PKI/crl.pem
$(svc pin)
verifyPeer = yes
CAfile = $PKI/client.crt
$(svc capath)
verifyChain = yes
CApath = $PKI/capath
CRLpath = $PKI/crlpath
$(svc require)
requireCert = yes
CAfile = $PKI/ca.crt
$(svc p12)
cert = $PKI/server.p12
EOF
if daemon_start d "$T/d.conf"; then
	ok "daemon started with CAfile, CRLfile, CApath, CRLpath, PKCS#12"
else
	not_ok "daemon started with CAfile, CRLfile, CApath, CRLpath, PKCS#12"
	done_testing
	exit 1
fi

backend_conns() { grep -c 'sent=' "$T/echo.out"; }
n=0

# client SERVICE WHO [TLSVERSION]: a TLS client with WHO's certificate
# ("none" for no certificate) sending 64 KiB; sets $out, $rc, $name.
client() {
	local svcn=$1 who=$2 v=${3:-} args=()
	n=$((n + 1))
	name=c$n
	[ "$who" = none ] ||
		args+=(--cert "$PKI/$who.crt" --key "$PKI/$who.key")
	[ -z "$v" ] || args+=(--tls-version "$v")
	PEER_TIMEOUT=30 peer_client "$name" "127.0.0.1:$(daemon_port d "$svcn")" \
		--tls --ca "$CA" --servername localhost "${args[@]}" \
		--send 64K --timeout 20
	rc=$?
}

who() {
	case $1 in
	none) echo "no client certificate" ;;
	other) echo "client certificate from an unrelated CA" ;;
	*) echo "$1 certificate" ;;
	esac
}

# pass SERVICE WHO [TLSVERSION]
pass() {
	local what="[$1] $(who "$2")${3:+ (TLS $3)}: accepted, 64 KiB echoed"
	client "$@"
	local s r
	s=$(field "$T/$name.out" sent_sha256)
	r=$(field "$T/$name.out" recv_sha256)
	if [ $rc = 0 ] && [ -n "$s" ] && [ "$s" = "$r" ] &&
		[ "$(field "$T/$name.out" recv)" = 65536 ]; then
		ok "$what"
	else
		not_ok "$what" "rc=$rc $(cat "$T/$name.out" "$T/$name.err")"
	fi
}

# fail SERVICE WHO LOGREGEX [TLSVERSION]
fail() {
	local what="[$1] $(who "$2")${4:+ (TLS $4)}" before after re=$3 mark
	before=$(backend_conns)
	mark=$(log_mark d)
	client "$1" "$2" "${4:-}"
	local r
	r=$(field "$T/$name.out" recv)
	if [ $rc != 0 ] && [ "${r:-0}" = 0 ]; then
		ok "$what: rejected"
	else
		not_ok "$what: rejected" "rc=$rc $(cat "$T/$name.out" "$T/$name.err")"
	fi
	if wait_log_after d "$mark" "$re" 5; then
		ok "$what: log says /$re/"
	else
		not_ok "$what: log says /$re/" "$(grep -E 'LOG[0-4]' "$T/d.log" | tail -n 3)"
	fi
	# a late backend connection would end (and print) within this time
	wait_until 1 eval "[ \$(backend_conns) -gt $before ]"
	after=$(backend_conns)
	is "$what: no backend connection" "$after" "$before"
}

pass chain client
pass chain client 1.2
pass chain client2
fail chain none 'peer did not return a certificate|certificate required|no certificate'
fail chain revoked 'certificate revoked'
fail chain expired 'certificate has expired|certificate expired'
fail chain other 'unable to get (local )?issuer certificate|unknown ca|certificate verify failed'
fail chain revoked 'certificate revoked' 1.2

pass pin client
fail pin client2 'certificate verify failed|Rejected|not found|unknown ca|issuer'
fail pin none 'peer did not return a certificate|certificate required|no certificate'

pass capath client
fail capath revoked 'certificate revoked'
fail capath other 'unable to get (local )?issuer certificate|unknown ca|certificate verify failed'

pass require client
fail require none 'peer did not return a certificate|certificate required|no certificate'

pass p12 none
pass p12 client 1.2

check "daemon still running" daemon_alive d
daemon_stop d 10
is "SIGTERM: exit status 0" "$?" 0

done_testing
