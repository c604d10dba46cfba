#!/usr/bin/env bash
# 97-tproxy: ktlsd as the TLS engine of a transparent proxy appliance.
#
# Three network namespaces made here, joined by veth pairs, with
# documentation addresses only:
#
#   client 192.0.2.2, 2001:db8:c::2 --- appliance (ktlsd, forwarding) ---
#   server 198.51.100.2, 2001:db8:5::2
#
# The client and the server route through the appliance. ktlsd runs there
# as nobody, keeping only CAP_NET_ADMIN, and installs its own nftables
# table and policy routing (tproxy = auto). Scenarios, 32 MiB each way
# with sha256 compared at both ends: TPROXY TLS termination with
# transparent = source (the backend sees the client's own address), IPv4
# and IPv6; TPROXY TLS upgrade to the original destination; REDIRECT with
# transparent = destination; concurrent connections; PROXY protocol v1 and
# v2; the loop guard; the netfilter and routing state identical before
# start and after stop; tproxy = yes without policy routing, and without
# CAP_NET_ADMIN, refused at startup; --print-netfilter's commands work.
# Where the kernel has kTLS (the VM), the appliance's own tls_stat proves
# the offload of every relayed connection.
# vm-netns: the daemons run in the appliance namespace, whose tls_stat this script checks itself
. "$(dirname "$0")/../lib.sh" "$@"
need "$KTLSD" "$PEER"

[ "$IS_STUNNEL" = 0 ] || skip_all "tproxy and tproxyPort are ktlsd options"
[ "$(id -u)" = 0 ] || skip_all "network namespaces need root"
for c in ip nft capsh python3; do
	command -v "$c" >/dev/null || skip_all "$c is not installed"
done

SIZE=${SIZE:-$(scaled 32M)}
# nft and its kernel modules make the first start slow under TCG
DAEMON_START_TIMEOUT=${DAEMON_START_TIMEOUT:-60}
C=ktc$$ A=kta$$ S=kts$$

topology() {
	ip netns add $C && ip netns add $A && ip netns add $S || return 1
	at_exit "ip netns del $C; ip netns del $A; ip netns del $S"
	ip link add c0 netns $C type veth peer name a0 netns $A &&
	ip link add s0 netns $S type veth peer name a1 netns $A || return 1
	ip -n $C addr add 192.0.2.2/24 dev c0
	ip -n $C addr add 2001:db8:c::2/64 dev c0 nodad
	ip -n $A addr add 192.0.2.1/24 dev a0
	ip -n $A addr add 2001:db8:c::1/64 dev a0 nodad
	ip -n $A addr add 198.51.100.1/24 dev a1
	ip -n $A addr add 2001:db8:5::1/64 dev a1 nodad
	ip -n $S addr add 198.51.100.2/24 dev s0
	ip -n $S addr add 2001:db8:5::2/64 dev s0 nodad
	for n in $C $A $S; do ip -n $n link set lo up; done
	ip -n $C link set c0 up && ip -n $A link set a0 up &&
	ip -n $A link set a1 up && ip -n $S link set s0 up || return 1
	ip -n $C route add default via 192.0.2.1
	ip -n $C -6 route add default via 2001:db8:c::1
	ip -n $S route add default via 198.51.100.1
	ip -n $S -6 route add default via 2001:db8:5::1
	ip netns exec $A sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1
}

# the appliance's netfilter and routing state (without the routes of its
# own addresses that the kernel adds, IPv6 ones when it gets round to it)
net_state() {
	{
		ip netns exec $A nft list ruleset
		ip -n $A rule
		ip -n $A -6 rule
		ip -n $A route show table all
		ip -n $A -6 route show table all
	} | grep -v -e 'fe80::' -e 'proto kernel'
}

if topology; then
	ok "three namespaces, routed through the appliance"
else
	not_ok "three namespaces, routed through the appliance"
	done_testing
	exit 1
fi

# REDIRECT is the admin's own rule (nat), not ktlsd's
ip netns exec $A nft -f - <<'EOF'
table ip testnat {
	chain pre {
		type nat hook prerouting priority dstnat;
		tcp dport 6000 redirect to :8090
	}
}
EOF
net_state >"$T/before.state"

# kernel TLS counters of the appliance (per namespace; the tls module is
# loaded by ktlsd's startup probe where the kernel has it, as in the VM)
tls_stat() {
	ip netns exec $A awk -v k="$1" '$1 == k { print $2 }' \
		/proc/net/tls_stat 2>/dev/null
}

# --- servers (in the server namespace) -------------------------------------
TLS_SRV=(--tls --cert "$PKI/server-chain.crt" --key "$PKI/server.key")
srv() {	# NAME ADDR ARGS...
	local name=$1 addr=$2
	shift 2
	PEER_WRAP="ip netns exec $S" PEER_ADDR=$addr peer_server "$name" "$@"
}
srv be4 198.51.100.2:8080 --send "$SIZE" --count 4 --timeout 600
srv be6 '[2001:db8:5::2]:8080' --send "$SIZE" --count 1 --timeout 600
srv tls4 198.51.100.2:5000 "${TLS_SRV[@]}" --send "$SIZE" --count 1 \
	--timeout 600
srv tls6 '[2001:db8:5::2]:5000' "${TLS_SRV[@]}" --send "$SIZE" --count 1 \
	--timeout 600
srv tlsbad 198.51.100.2:5001 "${TLS_SRV[@]}" --count 1 --timeout 600
srv tlsr 198.51.100.2:6000 "${TLS_SRV[@]}" --send "$SIZE" --count 1 \
	--timeout 600

# PROXY protocol backends: print what the header said, then drain
cat >"$T/pp.py" <<'EOF'
import ipaddress, socket, struct, sys
fam = socket.AF_INET6 if sys.argv[1].startswith('[') else socket.AF_INET
host, port = sys.argv[1].rsplit(':', 1)
s = socket.socket(fam)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host.strip('[]'), int(port)))
s.listen(4)
print('listening', flush=True)
s.settimeout(600)
c, _ = s.accept()
c.settimeout(30)
def need(n):
    b = b''
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise SystemExit('short header')
        b += d
    return b
head = need(12)
if head == b'\r\n\r\n\x00\r\nQUIT\n':
    ver, fam2, ln = struct.unpack('!BBH', need(4))
    body = need(ln)
    if fam2 == 0x11:
        a = [str(ipaddress.IPv4Address(body[0:4])),
             str(ipaddress.IPv4Address(body[4:8]))]
        p = struct.unpack('!HH', body[8:12])
    else:
        a = [str(ipaddress.IPv6Address(body[0:16])),
             str(ipaddress.IPv6Address(body[16:32]))]
        p = struct.unpack('!HH', body[32:36])
    print('v2 ver=%#x fam=%#x %s %s %d %d' % (ver, fam2, a[0], a[1], p[0], p[1]), flush=True)
else:
    while not head.endswith(b'\r\n'):
        head += need(1)
    print('v1 ' + head.decode().strip(), flush=True)
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
print('payload', n, flush=True)
EOF
bg pp1 ip netns exec $S python3 -u "$T/pp.py" 198.51.100.2:7100
bg pp2 ip netns exec $S python3 -u "$T/pp.py" '[2001:db8:5::2]:7200'
wait_until 10 grep -q listening "$T/pp1.out" "$T/pp2.out"

# --- the appliance ----------------------------------------------------------
# ktlsd runs as nobody: a reload reads the files with that identity, so
# they live where nobody can reach them ($TMPDIR may be private)
P=$(mktemp -d /tmp/ktlsd-97-pub.XXXXXX)
at_exit "rm -rf '$P'"
chmod 755 "$P"
install -m 644 "$PKI/server-chain.crt" "$PKI/server.key" "$PKI/ca.crt" "$P/"
cert="cert = $P/server-chain.crt
key = $P/server.key"
conf app <<EOF
$GLOBALS
setuid = nobody
setgid = nogroup

; TLS termination, client's address kept towards the backend
[term4]
accept = 0.0.0.0:8443
tproxy = auto
tproxyPort = 443
transparent = source
connect = 198.51.100.2:8080
$cert

[term6]
accept = :::8444
socket = a:IPV6_V6ONLY=yes
tproxy = auto
tproxyPort = 443
transparent = source
connect = 2001:db8:5::2:8080
$cert

; TLS upgrade to wherever the client was going; the name to send and
; verify comes from a per-destination map
[up4]
client = yes
accept = 0.0.0.0:8081
tproxy = auto
tproxyPort = 5000
transparent = destination
verifyChain = yes
CAfile = $P/ca.crt
sniMap = 198.51.100.9 other.example
sniMap = 198.51.100.2 localhost

[upbad]
client = yes
accept = 0.0.0.0:8083
tproxy = auto
tproxyPort = 5001
transparent = destination
verifyChain = yes
CAfile = $P/ca.crt
sniMap = 198.51.100.2 wrong.example

[up6]
client = yes
accept = :::8082
socket = a:IPV6_V6ONLY=yes
tproxy = auto
tproxyPort = 5000
transparent = both

; REDIRECT (the admin's nat rule) + SO_ORIGINAL_DST
[redir]
client = yes
accept = 0.0.0.0:8090
transparent = destination

; PROXY protocol towards backends that want it
[pp1]
accept = 0.0.0.0:8445
tproxy = auto
tproxyPort = 7001
protocol = proxy
connect = 198.51.100.2:7100
$cert

[pp2]
accept = :::8446
socket = a:IPV6_V6ONLY=yes
tproxy = auto
tproxyPort = 7002
protocol = proxy-v2
connect = 2001:db8:5::2:7200
$cert
EOF

install -m 644 "$T/app.conf" "$P/app.conf"
if DAEMON_WRAP="ip netns exec $A" daemon_start app "$P/app.conf"; then
	ok "ktlsd started in the appliance namespace"
else
	not_ok "ktlsd started in the appliance namespace"
	done_testing
	exit 1
fi
pid=$(daemon_pid app)
KTLS=0
if grep -q 'kTLS: tls module yes' "$(daemon_log app)"; then
	KTLS=1
	tx0=$(tls_stat TlsTxSw) rx0=$(tls_stat TlsRxSw)
	de0=$(tls_stat TlsDecryptError)
	ctx0=$(tls_stat TlsCurrTxSw) crx0=$(tls_stat TlsCurrRxSw)
fi
is "only CAP_NET_ADMIN is kept after dropping root (CapEff)" \
	"$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")" 0000000000001000
is "runs as nobody" "$(awk '/^Uid:/ {print $3}' "/proc/$pid/status")" \
	"$(id -u nobody)"
check "its nftables table diverts the intercepted ports" \
	eval "ip netns exec $A nft list table inet ktlsd |
		grep -c 'tproxy ip6\{0,1\} to' | grep -qx 7"
check "its policy routing is in place (IPv4 and IPv6)" \
	eval "ip -n $A rule | grep 'fwmark 0x6b74 lookup 27508' &&
		ip -n $A -6 rule | grep 'fwmark 0x6b74 lookup 27508'"

cli() {	# NAME ADDR ARGS...
	local name=$1 addr=$2
	shift 2
	PEER_WRAP="ip netns exec $C" peer_client "$name" "$addr" "$@"
}

# --- TLS termination, transparent = source ----------------------------------
# lines FILE N: wait for N summary lines of a server still running
lines() { wait_until 10 eval "[ \$(grep -c sent= '$1') -ge $2 ]"; }

cli t4 198.51.100.2:443 --tls --send "$SIZE" --timeout 120
lines "$T/be4.out" 1
check_pump "IPv4 termination: $SIZE each way, sha256 equal" "$T/t4.out" \
	"$T/be4.out"
is "IPv4 termination: the backend saw the client's own address" \
	"$(field "$T/be4.out" peer | sed 's/:[0-9]*$//')" 192.0.2.2
cli t6 '[2001:db8:5::2]:443' --tls --send "$SIZE" --timeout 120
peer_wait be6 30
check_pump "IPv6 termination: $SIZE each way, sha256 equal" "$T/t6.out" \
	"$T/be6.out"
is "IPv6 termination: the backend saw the client's own address" \
	"$(field "$T/be6.out" peer | sed 's/:[0-9]*$//')" '[2001:db8:c::2]'

# --- TLS upgrade to the original destination --------------------------------
cli u4 198.51.100.2:5000 --send "$SIZE" --timeout 120
peer_wait tls4 30
check_pump "IPv4 upgrade: $SIZE each way to the original destination" \
	"$T/u4.out" "$T/tls4.out"
is "IPv4 upgrade (destination only): the server saw the appliance" \
	"$(field "$T/tls4.out" peer | sed 's/:[0-9]*$//')" 198.51.100.1
check "IPv4 upgrade: connected to the original destination" \
	grep -q 's_connect: connecting 198.51.100.2:5000' "$(daemon_log app)"
cli bad 198.51.100.2:5001 --send 1K --timeout 60
check "sniMap: a certificate that does not match the mapped name is refused" \
	wait_log app 'service=\[upbad\].* end="SSL_connect: hostname mismatch"' 10
cli u6 '[2001:db8:5::2]:5000' --send "$SIZE" --timeout 120
peer_wait tls6 30
check_pump "IPv6 upgrade: $SIZE each way (transparent = both)" \
	"$T/u6.out" "$T/tls6.out"
is "IPv6 upgrade (both): the server saw the client's own address" \
	"$(field "$T/tls6.out" peer | sed 's/:[0-9]*$//')" '[2001:db8:c::2]'

# --- REDIRECT + transparent = destination -----------------------------------
cli r4 198.51.100.2:6000 --send "$SIZE" --timeout 120
peer_wait tlsr 30
check_pump "REDIRECT: $SIZE each way to SO_ORIGINAL_DST" "$T/r4.out" \
	"$T/tlsr.out"
check "REDIRECT: connected to the address before the redirect" \
	grep -q 's_connect: connecting 198.51.100.2:6000' "$(daemon_log app)"

# --- several at once ----------------------------------------------------------
cli par 198.51.100.2:443 --tls --send 4M --count 3 --parallel 3 --timeout 120
peer_wait be4 30
cat "$T/t4.out" "$T/par.out" >"$T/t4par.out"
check_pump "3 concurrent intercepted connections (+1 before)" \
	"$T/t4par.out" "$T/be4.out" 4
is "each concurrent connection kept its client address" \
	"$(grep -o 'peer=[0-9.]*' "$T/be4.out" | sort -u)" "peer=192.0.2.2"

# --- PROXY protocol -------------------------------------------------------------
cli p1 198.51.100.2:7001 --tls --send 64K --timeout 30
proc_wait "$(cat "$T/pp1.pid")" 10
check "PROXY v1: client and original destination" \
	grep -Eq '^v1 PROXY TCP4 192\.0\.2\.2 198\.51\.100\.2 [0-9]+ 7001$' \
	"$T/pp1.out"
check "PROXY v1: then the payload" grep -qx 'payload 65536' "$T/pp1.out"
cli p2 '[2001:db8:5::2]:7002' --tls --send 64K --timeout 30
proc_wait "$(cat "$T/pp2.pid")" 10
check "PROXY v2: client and original destination (TCP over IPv6)" \
	grep -Eq '^v2 ver=0x21 fam=0x21 2001:db8:c::2 2001:db8:5::2 [0-9]+ 7002$' \
	"$T/pp2.out"
check "PROXY v2: then the payload" grep -qx 'payload 65536' "$T/pp2.out"

# --- the loop guard ---------------------------------------------------------
cli loop 192.0.2.1:8081 --send 1K --timeout 10
check "a connection to ktlsd's own listener is refused, not looped" \
	wait_log app "loop: the original destination 192.0.2.1:8081 is ktlsd's own listener" 5
check "the loop opened no backend connection" \
	eval "! grep -q 's_connect: connecting 192.0.2.1:8081' '$(daemon_log app)'"

# every relayed connection had both directions in the kernel: 10 of them
# (2 terminations, 2 upgrades, 1 redirect, 3 concurrent, 2 PROXY)
if [ "$KTLS" = 1 ]; then
	is "kTLS: TlsTxSw rose by the 10 relayed connections" \
		$(($(tls_stat TlsTxSw) - tx0)) 10
	is "kTLS: TlsRxSw rose by the 10 relayed connections" \
		$(($(tls_stat TlsRxSw) - rx0)) 10
	is "kTLS: TlsDecryptError unchanged" \
		$(($(tls_stat TlsDecryptError) - de0)) 0
	is "kTLS: every relayed connection's summary says ktls tx+rx" \
		"$(grep -c 'summary: .* path=ktls tx+rx' "$(daemon_log app)")" 10
	is "kTLS: and the relay was splice, both ways" \
		"$(grep -c 'summary: .* relay=splice ' "$(daemon_log app)")" 10
else
	for n in TlsTxSw TlsRxSw TlsDecryptError "the summaries" splice; do
		skip "kTLS: $n" "this kernel has no kernel TLS (the VM run has)"
	done
fi

# --- reload: the nftables table follows the configuration ------------------
sed 's/^tproxyPort = 7002$/tproxyPort = 7002,7003/' "$T/app.conf" >"$P/app.conf"
chmod 644 "$P/app.conf"
kill -HUP "$pid"
check "SIGHUP as nobody (keeping CAP_NET_ADMIN) reloads" \
	wait_log app 'Configuration successful' 30 2
check "... and the nftables table diverts the new port" \
	eval "ip netns exec $A nft list table inet ktlsd | grep -c 'dport { 7002, 7003 }' >/dev/null"

daemon_stop app
is "ktlsd stops cleanly" "$?" 0
if [ "$KTLS" = 1 ]; then
	is "kTLS: no kTLS socket left open (TlsCurrTxSw, TlsCurrRxSw)" \
		"$(tls_stat TlsCurrTxSw)/$(tls_stat TlsCurrRxSw)" "$ctx0/$crx0"
else
	skip "kTLS: no kTLS socket left open" "this kernel has no kernel TLS"
fi
net_state >"$T/after.state"
check "netfilter and routing state identical before start and after stop" \
	diff -u "$T/before.state" "$T/after.state"

# --- startup errors -----------------------------------------------------------
conf yes <<EOF
$GLOBALS
[term4]
accept = 0.0.0.0:8443
tproxy = yes
tproxyPort = 443
transparent = source
connect = 198.51.100.2:8080
$cert
EOF
ip netns exec $A timeout 10 "$KTLSD" "$T/yes.conf" >"$T/noroute.log" 2>&1
is "tproxy = yes without policy routing: startup fails" "$?" 1
check "... saying what is missing and how to add it" \
	grep -q "tproxy = yes, but no IPv4 policy routing delivers marked packets locally.*--print-netfilter" \
	"$T/noroute.log"

ip netns exec $A capsh --drop=cap_net_admin -- -c \
	"exec timeout 10 '$KTLSD' '$T/app.conf'" >"$T/nocap.log" 2>&1
is "tproxy = auto without CAP_NET_ADMIN: startup fails" "$?" 1
check "... with a sentence naming the capability" \
	grep -q "tproxy: policy routing: adding the IPv4 fwmark rule: Operation not permitted: run ktlsd as root, or give it CAP_NET_ADMIN" \
	"$T/nocap.log"
check "... and nothing left behind in netfilter or routing" \
	eval "net_state | diff -q - '$T/before.state' >/dev/null"

# IP_TRANSPARENT is allowed with CAP_NET_ADMIN or CAP_NET_RAW
conf src <<EOF
$GLOBALS
[src]
accept = 0.0.0.0:8443
transparent = source
connect = 198.51.100.2:8080
$cert
EOF
ip netns exec $A capsh --drop=cap_net_admin,cap_net_raw -- -c \
	"exec timeout 10 '$KTLSD' '$T/src.conf'" >"$T/nocap2.log" 2>&1
is "transparent = source without CAP_NET_ADMIN: startup fails" "$?" 1
check "... saying IP_TRANSPARENT was refused and what to do" \
	grep -q "Service \\[src\\]: transparent = source needs IP_TRANSPARENT, which was refused (Operation not permitted): run ktlsd as root, or give it CAP_NET_ADMIN" \
	"$T/nocap2.log"

# --- the capability set follows the configuration ---------------------------
capeff() {	# NAME CONF_BODY: CapEff of a daemon started as root with setuid
	conf "$1" <<EOF
$GLOBALS
setuid = nobody
setgid = nogroup
$2
EOF
	if DAEMON_WRAP="ip netns exec $A" daemon_start "$1" "$T/$1.conf"; then
		awk '/^CapEff:/ {print $2}' "/proc/$(daemon_pid "$1")/status"
		daemon_stop "$1" >/dev/null
	else
		echo "not started"
	fi
}
is "no transparent proxying, ports above 1024: no capability kept" \
	"$(capeff plain "[p]
client = yes
accept = 127.0.0.1:8000
connect = 127.0.0.1:8001")" 0000000000000000
is "a port below 1024 (rebound on reload): only CAP_NET_BIND_SERVICE" \
	"$(capeff low "[p]
client = yes
accept = 127.0.0.1:443
connect = 127.0.0.1:8001")" 0000000000000400

# --- the admin's own setup: --print-netfilter, then tproxy = yes -------------
"$KTLSD" --print-netfilter "$T/yes.conf" >"$T/nf.txt" 2>"$T/nf.err"
is "--print-netfilter exits 0" "$?" 0
sed -n '/^# set up:/,/^# tear down:/p' "$T/nf.txt" >"$T/setup.sh"
sed -n '/^# tear down:/,$p' "$T/nf.txt" >"$T/teardown.sh"
check "the printed set-up commands run" ip netns exec $A bash -e "$T/setup.sh"
srv be4b 198.51.100.2:8080 --send 1M --count 1 --timeout 60
if DAEMON_WRAP="ip netns exec $A" daemon_start yes "$T/yes.conf"; then
	ok "tproxy = yes starts once the policy routing is there"
else
	not_ok "tproxy = yes starts once the policy routing is there"
fi
cli y4 198.51.100.2:443 --tls --send 1M --timeout 60
check_pump "tproxy = yes with the printed rules: 1 MiB each way" \
	"$T/y4.out" "$T/be4b.out"
daemon_stop yes >/dev/null
check "the printed tear-down commands run" \
	ip netns exec $A bash -e "$T/teardown.sh"
net_state >"$T/after2.state"
check "and leave the state as it was" \
	diff -u "$T/before.state" "$T/after2.state"

done_testing
