#!/usr/bin/env bash
# selftests/vm/guest-rekey.sh BUILD_DIR - runs INSIDE the test VM booted on
# the backports kernel (VM_KERNEL=backports selftests/vm/run-vm, through
# selftests/integration/98-ktls-rekey-vm.sh) and prints TAP: this kernel
# can rekey kernel TLS (TLS 1.3 KeyUpdate, Linux >= 6.14).
#
#   - the guest kernel is >= 6.14;
#   - `modprobe tls` loads the module from the extracted package tree
#     (the vmkroot= of the kernel command line);
#   - /proc/net/tls_stat has the rekey counters TlsTxRekeyOk, TlsRxRekeyOk,
#     TlsRxRekeyReceived (printed, with the others);
#   - `ktlsctl probe` runs, finds the tls ULP and reports rekey TX and RX
#     (its output is printed), and the kernel counted the probe's two
#     rekeys (TlsTxRekeyOk, TlsRxRekeyOk +1 each).
#
# More checks (ktlsd rekeying a real connection...) go in functions like
# the ones below, called in the list at the end, before the plan line.
# Needs no writable place but /tmp.
set -u

B=${1:-${B:-build}}
# the first Linux that rekeys kernel TLS
MIN_MAJOR=6 MIN_MINOR=14

. "$(dirname "${BASH_SOURCE[0]}")/guest-tap.sh"
# the extracted kernel package tree (run-vm's vmkroot=)
KROOT=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^vmkroot=//p' | head -n 1)

T=$(mktemp -d /tmp/guest-rekey.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

echo "# guest kernel $(uname -r), $(nproc) cpus"

# --- the kernel ------------------------------------------------------------------
kernel_version() {
	local v maj min
	v=$(uname -r)
	maj=${v%%.*} min=${v#*.} min=${min%%[!0-9]*}
	if [ "$maj" -gt $MIN_MAJOR ] 2>/dev/null ||
		{ [ "$maj" = $MIN_MAJOR ] && [ "$min" -ge $MIN_MINOR ] 2>/dev/null; }; then
		ok "guest kernel $v >= $MIN_MAJOR.$MIN_MINOR"
	else
		not_ok "guest kernel $v >= $MIN_MAJOR.$MIN_MINOR" "VM_KERNEL=backports booted $v"
	fi
}

# run-vm's guest side loaded tls already: unload it (nothing uses it yet)
# so that modprobe really loads it, from the package's .ko.xz.
modprobe_tls() {
	local out
	if [ -z "$KROOT" ] || [ ! -d "$KROOT/lib/modules/$(uname -r)" ]; then
		not_ok "modprobe tls" "no module tree (vmkroot=$KROOT)"
		return
	fi
	if grep -q '^tls ' /proc/modules; then
		if out=$(rmmod tls 2>&1); then
			echo "# tls unloaded, to be loaded again by modprobe"
		else
			echo "# rmmod tls: $out (modprobe checked, not reloaded)"
		fi
	fi
	if out=$(modprobe -d "$KROOT" tls 2>&1) && grep -q '^tls ' /proc/modules; then
		ok "modprobe tls"
	else
		not_ok "modprobe tls" "modprobe -d $KROOT tls: $out"
	fi
}

tls_stat() {
	local k missing=
	if [ ! -r /proc/net/tls_stat ]; then
		not_ok "/proc/net/tls_stat has the rekey counters" "no /proc/net/tls_stat"
		return
	fi
	sed 's/[[:space:]]\+/ /; s/^/# tls_stat: /' /proc/net/tls_stat
	for k in TlsTxRekeyOk TlsRxRekeyOk TlsRxRekeyReceived; do
		[ -n "$(stat_of $k)" ] || missing="$missing $k"
	done
	if [ -z "$missing" ]; then
		ok "/proc/net/tls_stat has TlsTxRekeyOk, TlsRxRekeyOk, TlsRxRekeyReceived"
	else
		not_ok "/proc/net/tls_stat has TlsTxRekeyOk, TlsRxRekeyOk, TlsRxRekeyReceived" \
			"missing:$missing"
	fi
}

# --- ktlsctl probe --------------------------------------------------------------
probe() {
	local out rc tx0 rx0 dtx drx
	if [ ! -x "$B/ktlsctl" ]; then
		skip "ktlsctl probe runs" "$B/ktlsctl not built"
		skip "ktlsctl probe: rekey TX and RX" "no ktlsctl"
		skip "the probe's rekeys counted in tls_stat" "no ktlsctl"
		return
	fi
	tx0=$(stat_of TlsTxRekeyOk) rx0=$(stat_of TlsRxRekeyOk)
	out=$(timeout 120 "$B/ktlsctl" probe 2>&1)
	rc=$?
	dtx=$(($(stat_of TlsTxRekeyOk) - ${tx0:-0}))
	drx=$(($(stat_of TlsRxRekeyOk) - ${rx0:-0}))
	sed 's/^/# probe: /' <<<"$out"
	if [ $rc = 0 ] && grep -q '^tls ULP: *yes$' <<<"$out"; then
		ok "ktlsctl probe runs and finds the tls ULP"
	else
		not_ok "ktlsctl probe runs and finds the tls ULP" "exit status $rc"
	fi
	if grep -q '^rekey (TLS 1.3): *TX yes, RX yes$' <<<"$out" &&
		grep -q '^summary:.*; rekey: yes' <<<"$out"; then
		ok "ktlsctl probe: rekey TX and RX"
	else
		not_ok "ktlsctl probe: rekey TX and RX" "$(grep -E '^(rekey|summary)' <<<"$out")"
	fi
	echo "# the probe: TlsTxRekeyOk +$dtx, TlsRxRekeyOk +$drx"
	if [ "$dtx" -ge 1 ] && [ "$drx" -ge 1 ]; then
		ok "the probe's rekeys counted in TlsTxRekeyOk and TlsRxRekeyOk"
	else
		not_ok "the probe's rekeys counted in TlsTxRekeyOk and TlsRxRekeyOk" \
			"TlsTxRekeyOk +$dtx, TlsRxRekeyOk +$drx"
	fi
}

# --- ktlsd rekeying real connections ----------------------------------------------
# guest-rekey-ktlsd.sh is a lib.sh script: its TAP lines are renumbered
# into this plan (through a file: the guest may have no /dev/fd)
ktlsd_rekey() {
	local line name
	bash "$(dirname "$0")/guest-rekey-ktlsd.sh" "$B" >"$T/ktlsd.tap" 2>&1
	while IFS= read -r line; do
		case "$line" in
		"not ok "*)
			name=${line#not ok }
			not_ok "ktlsd: ${name#* - }"
			;;
		"ok "*" # SKIP "*)
			name=${line#ok }
			name=${name#* - }
			skip "ktlsd: ${name%% # SKIP *}" "${name#* # SKIP }"
			;;
		"ok "*)
			name=${line#ok }
			ok "ktlsd: ${name#* - }"
			;;
		"#"*) echo "$line" ;;
		esac
	done <"$T/ktlsd.tap"
	grep -qE '^1\.\.[0-9]+' "$T/ktlsd.tap" ||
		not_ok "ktlsd: its rekey script finished" "$(tail -n 5 "$T/ktlsd.tap")"
}

# --- the checks, in order (append new ones here) -----------------------------------
kernel_version
modprobe_tls
tls_stat
probe
ktlsd_rekey

echo "1..$n"
[ $failed = 0 ]
