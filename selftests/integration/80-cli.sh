#!/usr/bin/env bash
# 80-cli: the command line.  -version -help -options -sockets exit 0 with
# output; a bad configuration fails startup with `FILE:LINE: "text":
# reason`, `Configuration failed` and exit 1; a missing file too; -fd N
# reads the configuration from a descriptor; inetd mode (no section, the
# connection on stdin/stdout) relays one TLS connection and exits.
# ktlsd only: --check / -n on good and bad files (exit 0/1, every error
# reported as file:line).
. "$(dirname "$0")/../lib.sh" "$@"
need "$KTLSD" "$PEER"

CA=$PKI/ca.crt
TLSCL=(--tls --ca "$CA" --servername localhost)

# --- informational options ------------------------------------------------
for opt in -version -help -options -sockets; do
	out=$(timeout 10 "$KTLSD" "$opt" </dev/null 2>&1)
	rc=$?
	if [ $rc = 0 ] && [ "$(wc -l <<<"$out")" -ge 2 ]; then
		ok "$opt: exit 0 with output"
	else
		not_ok "$opt: exit 0 with output" "rc=$rc: $(head -n 3 <<<"$out")"
	fi
done
out=$(timeout 10 "$KTLSD" -version 2>&1 >/dev/null)
check "-version prints on stderr" test -n "$out"
out=$(timeout 10 "$KTLSD" -options 2>&1)
check "-options lists NO_TICKET" grep -q NO_TICKET <<<"$out"

# --- bad configuration at startup -------------------------------------------
conf bad <<EOF
$GLOBALS
[svc]
accept = 127.0.0.1:0
this line has no equals sign
connect = 127.0.0.1:1
EOF
out=$(timeout 10 "$KTLSD" "$T/bad.conf" </dev/null 2>&1)
rc=$?
is "bad config: exit status 1" "$rc" 1
badline=$(grep -n 'this line has no equals sign' "$T/bad.conf" | cut -d: -f1)
if grep -qE "bad\.conf:$badline: \"this line has no equals sign\": No '=' found" \
	<<<"$out"; then
	ok "bad config: FILE:LINE: \"text\": reason"
else
	not_ok "bad config: FILE:LINE: \"text\": reason" "$(tail -n 4 <<<"$out")"
fi
check "bad config: 'Configuration failed'" grep -q 'Configuration failed' \
	<<<"$out"

conf noend <<EOF
$GLOBALS
[svc]
accept = 127.0.0.1:0
cert = $PKI/server.pem
EOF
out=$(timeout 10 "$KTLSD" "$T/noend.conf" </dev/null 2>&1)
rc=$?
is "one endpoint: exit status 1" "$rc" 1
check "one endpoint: 'Each service must define two endpoints'" \
	grep -q 'Each service must define two endpoints' <<<"$out"

out=$(timeout 10 "$KTLSD" "$T/does-not-exist.conf" </dev/null 2>&1)
rc=$?
is "missing config file: exit status 1" "$rc" 1
check "missing config file: 'Invalid configuration file name'" \
	grep -q 'Invalid configuration file name' <<<"$out"

# --- --check / -n (ktlsd) -----------------------------------------------------
conf good <<EOF
$GLOBALS
[svc]
accept = 127.0.0.1:0
connect = 127.0.0.1:1
cert = $PKI/server-chain.crt
key = $PKI/server.key
EOF
conf bad2 <<EOF
foreground = yes
[svc]
accept = 127.0.0.1:0
noSuchOption = 1
connect = 127.0.0.1:1
cert = $PKI/server-chain.crt
also no equals sign here
EOF
if ktlsd_only "--check: good file exits 0"; then
	for flag in --check -n; do
		out=$(timeout 10 "$KTLSD" "$flag" "$T/good.conf" </dev/null 2>&1)
		is "$flag good file: exit 0" "$?" 0
		out=$(timeout 10 "$KTLSD" "$flag" "$T/bad2.conf" </dev/null 2>&1)
		is "$flag bad file: exit 1" "$?" 1
		if grep -q 'bad2\.conf:4:' <<<"$out" &&
			grep -q 'bad2\.conf:7:' <<<"$out"; then
			ok "$flag bad file: both errors reported as file:line (4 and 7)"
		else
			not_ok "$flag bad file: both errors reported as file:line" \
				"$(head -n 5 <<<"$out")"
		fi
	done
	if grep -q 'Accepting new connections' <<<"$out"; then
		not_ok "--check does not start listening" "it logged 'Accepting'"
	else
		ok "--check does not start listening"
	fi
fi

# --- -fd N --------------------------------------------------------------------
peer_server befd --send 1M --count 1 --timeout 60
conf fd <<EOF
$GLOBALS
[fd]
accept = 127.0.0.1:0
connect = 127.0.0.1:$(peer_port befd)
cert = $PKI/server-chain.crt
key = $PKI/server.key
EOF
exec 3<"$T/fd.conf"
if daemon_start fdd - -fd 3; then
	ok "-fd 3: started with the configuration read from fd 3"
	exec 3<&-
	peer_client cfd "127.0.0.1:$(daemon_port fdd fd)" "${TLSCL[@]}" \
		--send 1M --timeout 30
	peer_wait befd 20
	check_pump "-fd 3: 1 MiB each way" "$T/cfd.out" "$T/befd.out" 1
	check_path "-fd 3: data path" fdd fd
	daemon_stop fdd 10
	is "-fd 3: SIGTERM exit 0" "$?" 0
else
	exec 3<&-
	not_ok "-fd 3: started with the configuration read from fd 3"
fi

# --- inetd mode ----------------------------------------------------------------
# A Python "inetd" accepts one connection and runs the daemon with that
# socket as stdin and stdout, then reports the daemon's exit status.
peer_server beinetd --send 1M --count 1 --timeout 60
conf inetd <<EOF
foreground = yes
pid =
syslog = no
debug = info
connect = 127.0.0.1:$(peer_port beinetd)
cert = $PKI/server-chain.crt
key = $PKI/server.key
EOF
bg inetd python3 -u -c '
import socket, subprocess, sys
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
print("listening on %d" % ls.getsockname()[1], flush=True)
ls.settimeout(30)
c, _ = ls.accept()
with open(sys.argv[3], "w") as log:
    p = subprocess.Popen([sys.argv[1], sys.argv[2]], stdin=c.fileno(),
                         stdout=c.fileno(), stderr=log)
c.close()
try:
    print("exit=%d" % p.wait(timeout=60), flush=True)
except subprocess.TimeoutExpired:
    p.kill()
    print("exit=timeout", flush=True)
' "$KTLSD" "$T/inetd.conf" "$T/inetd.log"
wait_until 10 grep -q 'listening on' "$T/inetd.out"
iport=$(sed -n 's/^listening on //p' "$T/inetd.out")
peer_client cinetd "127.0.0.1:$iport" "${TLSCL[@]}" --send 1M --timeout 30
peer_wait beinetd 20
check_pump "inetd mode: 1 MiB each way over stdin/stdout" "$T/cinetd.out" \
	"$T/beinetd.out" 1
wait_until 10 grep -q '^exit=' "$T/inetd.out"
is "inetd mode: the daemon exits 0 after the connection" \
	"$(sed -n 's/^exit=//p' "$T/inetd.out")" 0

conf inetdbad <<EOF
foreground = yes
accept = 127.0.0.1:0
connect = 127.0.0.1:1
cert = $PKI/server-chain.crt
EOF
out=$(timeout 10 "$KTLSD" "$T/inetdbad.conf" </dev/null 2>&1)
is "inetd mode with accept: exit 1" "$?" 1
check "inetd mode with accept: 'only allowed in a [section]'" \
	grep -q "'accept' option is only allowed in a \[section\]" <<<"$out"

# --- the option reference is generated from the option table ---------------
if ktlsd_only "doc/options.md matches the option table"; then
	if "$KTLSD" --options-markdown | diff -q - doc/options.md >/dev/null; then
		ok "doc/options.md matches the option table"
	else
		not_ok "doc/options.md matches the option table" \
			"run: make docs"
	fi
fi

done_testing
