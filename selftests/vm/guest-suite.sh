#!/usr/bin/env bash
# selftests/vm/guest-suite.sh BUILD_DIR SCRIPT - runs INSIDE the test VM
# (through selftests/vm/in-vm, the VM mode of selftests/run) and prints
# TAP: one host integration script, unchanged, on a kernel with kTLS, so
# that its daemons' connections (ktls = auto, the default) take the kernel
# TLS + splice path; then the proof that they did.
#
#   1. the script's own results, as they come (its plan is checked here as
#      selftests/run would: a missing or wrong plan, or a non-zero exit
#      without a failing line, is one more failure);
#   2. ktlsd's word: the daemons' logs (kept: KEEP_TMP=1) have at least one
#      "Connection summary" with path=ktls tx+rx relay=splice, and every
#      connection that stayed in userspace did so for a reason the script
#      asked for (ktls = off; inetd mode on two descriptors) or because the
#      peer had already half-closed when ktlsd switched (the kernel takes
#      the ULP only on an ESTABLISHED socket: ENOTCONN, "socket not
#      connected"; short clients under TCG do that);
#   3. the kernel's word, /proc/net/tls_stat around the script (unless the
#      script's daemons run in network namespaces of their own, which
#      have their own counters: "# vm-netns: REASON"): beyond the
#      daemons' start-up probes (which install dummy keys; measured here
#      first with one daemon that accepts nothing, times the number of
#      probes in the logs), TlsTxSw and TlsRxSw rose by at least the number
#      of connections ktlsd logged as kernel TX and RX; TlsDecryptError did
#      not move; TlsCurrTxSw and TlsCurrRxSw are back where they were (no
#      kTLS socket left open).
#
# A script that skips as a whole ("1..0 # SKIP why") is one skip.  The
# guest's own quirks are handled here: Debian's python3 comes first in
# PATH (a pyenv shim costs seconds per start under TCG), the temporary
# files go to the guest's /tmp.  KTLSD_TEST_SCALE comes from the host
# (selftests/vm/in-vm).
set -u

B=$1
SCRIPT=$2
KTLSD=${KTLSD:-$B/ktlsd}
PKI=${PKI:-$B/pki}

. "$(dirname "${BASH_SOURCE[0]}")/guest-tap.sh"
finish() {
	echo "1..$n"
	[ "$failed" = 0 ]
	exit
}

W=$(mktemp -d /tmp/guest-suite.XXXXXX)
if [ -x /usr/bin/python3 ]; then
	mkdir -p "$W/bin"
	ln -s /usr/bin/python3 "$W/bin/python3"
	PATH=$W/bin:$PATH
fi
export PATH

if [ ! -r /proc/net/tls_stat ]; then
	not_ok "the guest has kernel TLS (/proc/net/tls_stat)" \
		"$(grep '^tls ' /proc/modules 2>&1)"
	finish
fi

# snap PREFIX: PREFIX_TX PREFIX_RX PREFIX_ERR PREFIX_CTX PREFIX_CRX
snap() {
	local k v
	declare -g "$1_TX=0" "$1_RX=0" "$1_ERR=0" "$1_CTX=0" "$1_CRX=0"
	while read -r k v; do
		case "$k" in
		TlsTxSw) declare -g "$1_TX=$v" ;;
		TlsRxSw) declare -g "$1_RX=$v" ;;
		TlsDecryptError) declare -g "$1_ERR=$v" ;;
		TlsCurrTxSw) declare -g "$1_CTX=$v" ;;
		TlsCurrRxSw) declare -g "$1_CRX=$v" ;;
		esac
	done </proc/net/tls_stat
}

# --- what one start-up probe adds to the counters --------------------------
cat >"$W/probe.conf" <<EOF
foreground = yes
pid =
syslog = no
debug = info
[probe]
accept = 127.0.0.1:0
connect = 127.0.0.1:9
cert = $PKI/server-chain.crt
key = $PKI/server.key
EOF
snap P0
"$KTLSD" "$W/probe.conf" >"$W/probe.log" 2>&1 </dev/null &
ppid=$!
for ((i = 0; i < 300; i++)); do
	grep -q 'Accepting new connections' "$W/probe.log" && break
	kill -0 $ppid 2>/dev/null || break
	sleep 0.1
done
kill -TERM $ppid 2>/dev/null
wait $ppid
prc=$?
snap P1
K_TX=$((P1_TX - P0_TX)) K_RX=$((P1_RX - P0_RX))
if [ $prc != 0 ] || ! grep -q 'kTLS: tls module yes' "$W/probe.log"; then
	not_ok "a ktlsd start-up probe finds kernel TLS" \
		"exit $prc: $(tail -n 5 "$W/probe.log")"
	finish
fi

# --- the script -------------------------------------------------------------
export TMPDIR=$W/tmp KEEP_TMP=1
mkdir -p "$TMPDIR"
mkfifo "$W/out"
name=$(basename "$SCRIPT" .sh)
snap S0
(
	bash "$SCRIPT" "$B" </dev/null
	echo $? >"$W/rc"
) >"$W/out" &
plan='' skip_all='' m=0
while IFS= read -r line; do
	case "$line" in
	"ok "* | "not ok "*)
		m=$((m + 1))
		n=$((n + 1))
		if [[ "$line" == "not ok "* ]] &&
			! [[ "$line" =~ \#[[:space:]]*[Tt][Oo][Dd][Oo] ]]; then
			failed=$((failed + 1))
		fi
		echo "$line"
		;;
	1..*)
		plan=${line#1..}
		plan=${plan%%[!0-9]*}
		if [ "$plan" = 0 ] &&
			[[ "$line" =~ \#[[:space:]]*[Ss][Kk][Ii][Pp][[:space:]]*(.*)$ ]]; then
			skip_all=${BASH_REMATCH[1]:-no reason given}
		fi
		;;
	*) echo "$line" ;;
	esac
done <"$W/out"
wait
snap S1
rc=$(cat "$W/rc" 2>/dev/null)
if [ -n "$skip_all" ] && [ $m = 0 ]; then
	n=$((n + 1))
	echo "ok $n - $name # SKIP $skip_all"
	finish
fi
why=
if [ -z "$plan" ]; then
	why="no TAP plan (exit status ${rc:-?})"
elif [ "$plan" != $m ]; then
	why="planned $plan tests, ran $m (exit status ${rc:-?})"
elif [ "${rc:-1}" != 0 ] && [ "$failed" = 0 ]; then
	why="exit status ${rc:-?} without a failing test"
fi
[ -z "$why" ] || not_ok "$name ran to its end in the guest" "$why"

# --- ktlsd's word: the connection summaries ---------------------------------
# every file the script's daemons logged to (log lines only: the status
# page repeats the probe's words; deduplicated: a daemon with an `output`
# file may write each line twice)
find "$TMPDIR" -type f -exec grep -hE \
	'^[0-9.]+ [0-9:]+ LOG[0-7]\[[^]]*\]: (Connection summary: |kTLS: tls module )' \
	{} + 2>/dev/null | sort -u >"$W/lines"
grep 'Connection summary: ' "$W/lines" >"$W/summ"
n_conn=$(grep -c . "$W/summ")
n_probe=$(grep -c 'kTLS: tls module yes' "$W/lines")
n_noprobe=$(grep -c 'kTLS: tls module no' "$W/lines")
n_txrx=$(grep -c ' path=ktls tx+rx relay=splice ' "$W/summ")
n_tx=$(grep -cE ' path=ktls tx(\+rx)? ' "$W/summ")
n_rx=$(grep -cE ' path=ktls (tx\+)?rx ' "$W/summ")
n_off=$(grep -c ' path=userspace (ktls = off) ' "$W/summ")
n_inetd=$(grep -c ' path=userspace (inetd mode on two descriptors) ' "$W/summ")
n_notconn=$(grep -c ' path=userspace (socket not connected (' "$W/summ")
# the others that stayed in userspace, by reason
grep -E ' path=(userspace|ktls tx |ktls rx |none)' "$W/summ" |
	grep -vE ' path=userspace \((ktls = off|inetd mode on two descriptors|socket not connected \(.*\))\) ' |
	sed -E 's/.* path=(.*) relay=.* end=(.*)$/\1, end=\2/' |
	sort | uniq -c | sort -rn >"$W/other"
# a connection that ended before its handshake did has no data path
n_early=$(grep -c ' path=none ' "$W/summ")
grep -v '^ *[0-9]* none, end=' "$W/other" >"$W/unexplained"
echo "# $name in the guest: $n_conn connection summaries: $n_txrx ktls tx+rx with splice; userspace: $n_off ktls = off, $n_inetd inetd, $n_notconn peer closed before the switch; $n_early ended before the handshake completed; $n_probe start-up probes"
if [ "$n_noprobe" != 0 ]; then
	not_ok "every ktlsd of $name found kernel TLS at start-up" \
		"$(grep 'kTLS: tls module no' "$W/lines" | head -n 3)"
fi
if [ "$n_txrx" -ge 1 ] && [ ! -s "$W/unexplained" ]; then
	ok "$name: ktlsd logged $n_txrx connection(s) with path=ktls tx+rx relay=splice, none fell back to userspace unasked"
else
	not_ok "$name: ktlsd put connections into kernel TLS + splice" \
		"$n_txrx with path=ktls tx+rx relay=splice; fallbacks not asked for:
$(head -n 10 "$W/unexplained")"
fi

# --- the kernel's word: /proc/net/tls_stat --------------------------------------
# tls_stat is per network namespace: a script whose daemons run in
# namespaces of their own says so with a line "# vm-netns: REASON" and
# checks the counters there itself
netns_why=$(sed -n 's/^# vm-netns: //p' "$SCRIPT" | head -n 1)
if [ -n "$netns_why" ]; then
	for t in "TlsTxSw and TlsRxSw rose by the kTLS connections" \
		"TlsDecryptError unchanged" "no kTLS socket left open"; do
		n=$((n + 1))
		echo "ok $n - $name: tls_stat $t # SKIP $netns_why"
	done
	rm -rf "$W"
	finish
fi
d_tx=$((S1_TX - S0_TX)) d_rx=$((S1_RX - S0_RX)) d_err=$((S1_ERR - S0_ERR))
x_tx=$((d_tx - n_probe * K_TX)) x_rx=$((d_rx - n_probe * K_RX))
echo "# tls_stat: TlsTxSw +$d_tx, TlsRxSw +$d_rx, TlsDecryptError +$d_err, TlsCurrTxSw $S0_CTX -> $S1_CTX, TlsCurrRxSw $S0_CRX -> $S1_CRX; one probe is TX $K_TX, RX $K_RX; beyond $n_probe probes: TX +$x_tx, RX +$x_rx for $n_tx/$n_rx connections ktlsd logged as kernel TX/RX"
if [ "$x_tx" -ge "$n_tx" ] && [ "$x_rx" -ge "$n_rx" ] && [ "$x_tx" -ge 1 ] &&
	[ "$x_rx" -ge 1 ]; then
	ok "$name: tls_stat TlsTxSw +$x_tx, TlsRxSw +$x_rx beyond the start-up probes (ktlsd logged $n_tx TX, $n_rx RX)"
else
	not_ok "$name: tls_stat TlsTxSw and TlsRxSw rose by at least the kTLS connections ktlsd logged" \
		"beyond $n_probe probes ($K_TX/$K_RX each): TX +$x_tx, RX +$x_rx; ktlsd logged $n_tx TX, $n_rx RX"
fi
is_zero() { [ "$1" = 0 ]; }
if is_zero "$d_err"; then
	ok "$name: TlsDecryptError unchanged"
else
	not_ok "$name: TlsDecryptError unchanged" "+$d_err"
fi
if [ "$S1_CTX" = "$S0_CTX" ] && [ "$S1_CRX" = "$S0_CRX" ]; then
	ok "$name: no kTLS socket left open (TlsCurrTxSw $S1_CTX, TlsCurrRxSw $S1_CRX)"
else
	not_ok "$name: no kTLS socket left open" \
		"TlsCurrTxSw $S0_CTX -> $S1_CTX, TlsCurrRxSw $S0_CRX -> $S1_CRX"
fi
rm -rf "$W"
finish
