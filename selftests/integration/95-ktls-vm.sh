#!/usr/bin/env bash
# 95-ktls-vm: the kTLS data path for real, in a QEMU guest on Debian's
# stock kernel (the host kernel has no kTLS; see selftests/vm/run-vm).  One
# boot runs selftests/vm/guest-smoke.sh, whose TAP lines are relayed here as
# this script's own: tls module and counters, host tools running in the
# guest, OpenSSL's kTLS offload moving 4 MiB each way per cipher (TLS 1.2
# TX+RX, TLS 1.3 TX) with TlsTxSw/TlsRxSw rising, and ktlsd relaying.
# Then: the guest's dmesg has no WARNING/BUG/Oops, the run ended in time.
#
# Skips when qemu is missing or the VM cannot be prepared or booted (no
# kernel package, no static busybox...), unless VM_REQUIRED=1 (CI), which
# turns that into a failure.  VM_TIMEOUT (default 600 s) bounds the boot.
. "$(dirname "$0")/../lib.sh" "$@"

RUNVM=$SELFTESTS/vm/run-vm
export VM_TIMEOUT=${VM_TIMEOUT:-600}

cannot_run() {
	if [ "${VM_REQUIRED:-0}" = 1 ]; then
		not_ok "the test VM runs" "$1"
		done_testing
		exit 1
	fi
	skip_all "$1"
}

command -v qemu-system-x86_64 >/dev/null 2>&1 ||
	cannot_run "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
need "$KTLSD" "$PEER"

todo() {
	_tap_n=$((_tap_n + 1))
	echo "not ok $_tap_n - $1 # TODO ${2:-}"
}

# run-vm in the background, tracked, so that lib.sh's cleanup stops it
# (and it its VM) when this script is interrupted
start=$(date +%s)
mkfifo "$T/vm.out"
"$RUNVM" "$B" -- "$SELFTESTS/vm/guest-smoke.sh" "$B" \
	>"$T/vm.out" 2>"$T/run-vm.log" </dev/null &
vm_pid=$!
_bg_pids+=("$vm_pid")
guest_plan='' relayed=0
while IFS= read -r line; do
	case "$line" in
	"ok "*)
		relayed=$((relayed + 1))
		line=$(sed -E 's/^ok [0-9]+ (- )?//' <<<"$line")
		if [[ "$line" =~ ^(.*)\ \#\ *[Ss][Kk][Ii][Pp]\ *(.*)$ ]]; then
			skip "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
		else
			ok "$line"
		fi
		;;
	"not ok "*)
		relayed=$((relayed + 1))
		line=$(sed -E 's/^not ok [0-9]+ (- )?//' <<<"$line")
		if [[ "$line" =~ ^(.*)\ \#\ *[Tt][Oo][Dd][Oo]\ *(.*)$ ]]; then
			todo "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
		else
			not_ok "$line"
		fi
		;;
	1..*) guest_plan=${line#1..} guest_plan=${guest_plan%%[!0-9]*} ;;
	"#"*) echo "$line" ;;
	*) diag "guest: $line" ;;
	esac
done <"$T/vm.out"
wait "$vm_pid"
rc=$?
diag "VM run: $(($(date +%s) - start)) s, run-vm status $rc"

case "$rc" in
125)
	if [ $relayed = 0 ]; then
		cannot_run "the test VM did not boot: $(grep '^run-vm: ' "$T/run-vm.log" |
			grep -v 'last console lines' | tail -n 1 | cut -c9-)"
	fi
	not_ok "the guest finished the smoke test" "$(tail -n 20 "$T/run-vm.log")"
	;;
124) not_ok "the guest finished within VM_TIMEOUT=$VM_TIMEOUT s" \
	"$(tail -n 20 "$T/run-vm.log")" ;;
*) ok "the guest finished within VM_TIMEOUT=$VM_TIMEOUT s" ;;
esac
is "the guest ran its whole plan" "$relayed" "${guest_plan:-none}"
if [ "$rc" = 123 ] || grep -q '^  dmesg: ' "$T/run-vm.log"; then
	not_ok "no WARNING/BUG/Oops in the guest's dmesg" \
		"$(grep -A 30 'kernel warnings' "$T/run-vm.log" | head -n 40)"
elif [ "$rc" = 124 ] || [ "$rc" = 125 ]; then
	skip "no WARNING/BUG/Oops in the guest's dmesg" "no complete run"
else
	ok "no WARNING/BUG/Oops in the guest's dmesg"
fi
done_testing
