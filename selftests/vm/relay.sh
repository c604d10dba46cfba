# shellcheck shell=bash
# selftests/vm/relay.sh - sourced, after lib.sh, by the scripts that run a
# TAP script inside the test VM (95-ktls-vm.sh, 96-ktlsd-vm.sh, and
# selftests/vm/in-vm, the VM mode of the integration suite):
#
#	. "$SELFTESTS/vm/relay.sh"
#	vm_need_qemu
#	vm_relay "$SELFTESTS/vm/guest-foo.sh" "$B" ...
#	vm_verdict "the foo test"
#
# vm_need_qemu		skip the whole script when qemu-system-x86_64 is
#			missing (a failure with VM_REQUIRED=1, as in CI)
# vm_cannot_run WHY	the same, for any reason the VM cannot run
# vm_relay CMD...	boots `selftests/vm/run-vm "$B" -- CMD...` once, in
#			the background and tracked (lib.sh's cleanup stops it,
#			and so its VM, when the script is interrupted), and
#			relays the guest's TAP as this script's own: "ok" and
#			"not ok" lines (SKIP and TODO kept), "#" lines as they
#			are, anything else as a "# guest: " diagnostic.  Sets
#			VM_RC (run-vm's status), VM_RELAYED (results relayed),
#			VM_PLAN (the guest's "1..N", empty when none came) and
#			VM_SECONDS (wall time of the VM run); run-vm's stderr
#			is in $T/run-vm.log.
# vm_verdict WHAT	the host's own lines about that run: the guest
#			finished (WHAT names its script in the message) within
#			VM_TIMEOUT, ran its whole plan, and its dmesg has no
#			WARNING/BUG/Oops (run-vm status 123).  A VM that could
#			not boot before relaying anything is vm_cannot_run.
#
# VM_TIMEOUT (seconds) bounds run-vm; set it before vm_relay.

RUNVM=$SELFTESTS/vm/run-vm

vm_cannot_run() {
	if [ "${VM_REQUIRED:-0}" = 1 ]; then
		not_ok "the test VM runs" "$1"
		done_testing
		exit 1
	fi
	skip_all "$1"
}

vm_need_qemu() {
	command -v qemu-system-x86_64 >/dev/null 2>&1 ||
		vm_cannot_run "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
}

# a TODO result (lib.sh has none)
_vm_todo() {
	_tap_n=$((_tap_n + 1))
	echo "not ok $_tap_n - $1 # TODO ${2:-}"
}

vm_relay() {
	local start line vm_pid
	start=$(date +%s)
	rm -f "$T/vm.out"
	mkfifo "$T/vm.out"
	"$RUNVM" "$B" -- "$@" >"$T/vm.out" 2>"$T/run-vm.log" </dev/null &
	vm_pid=$!
	_bg_pids+=("$vm_pid")
	VM_PLAN='' VM_RELAYED=0
	while IFS= read -r line; do
		case "$line" in
		"ok "*)
			VM_RELAYED=$((VM_RELAYED + 1))
			line=$(sed -E 's/^ok [0-9]+ (- )?//' <<<"$line")
			if [[ "$line" =~ ^(.*)\ \#\ *[Ss][Kk][Ii][Pp]\ *(.*)$ ]]; then
				skip "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
			else
				ok "$line"
			fi
			;;
		"not ok "*)
			VM_RELAYED=$((VM_RELAYED + 1))
			line=$(sed -E 's/^not ok [0-9]+ (- )?//' <<<"$line")
			if [[ "$line" =~ ^(.*)\ \#\ *[Tt][Oo][Dd][Oo]\ *(.*)$ ]]; then
				_vm_todo "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
			else
				not_ok "$line"
			fi
			;;
		1..*) VM_PLAN=${line#1..} VM_PLAN=${VM_PLAN%%[!0-9]*} ;;
		"#"*) echo "$line" ;;
		*) diag "guest: $line" ;;
		esac
	done <"$T/vm.out"
	wait "$vm_pid"
	VM_RC=$?
	VM_SECONDS=$(($(date +%s) - start))
	diag "VM run: $VM_SECONDS s, run-vm status $VM_RC"
}

vm_verdict() {
	case "$VM_RC" in
	125)
		if [ "$VM_RELAYED" = 0 ]; then
			vm_cannot_run "the test VM did not boot: $(grep '^run-vm: ' "$T/run-vm.log" |
				grep -v 'last console lines' | tail -n 1 | cut -c9-)"
		fi
		not_ok "the guest finished $1" "$(tail -n 20 "$T/run-vm.log")"
		;;
	124) not_ok "the guest finished within VM_TIMEOUT=$VM_TIMEOUT s" \
		"$(tail -n 20 "$T/run-vm.log")" ;;
	*) ok "the guest finished within VM_TIMEOUT=$VM_TIMEOUT s" ;;
	esac
	is "the guest ran its whole plan" "$VM_RELAYED" "${VM_PLAN:-none}"
	if [ "$VM_RC" = 123 ] || grep -q '^  dmesg: ' "$T/run-vm.log"; then
		not_ok "no WARNING/BUG/Oops in the guest's dmesg" \
			"$(grep -A 30 'kernel warnings' "$T/run-vm.log" | head -n 40)"
	elif [ "$VM_RC" = 124 ] || [ "$VM_RC" = 125 ]; then
		skip "no WARNING/BUG/Oops in the guest's dmesg" "no complete run"
	else
		ok "no WARNING/BUG/Oops in the guest's dmesg"
	fi
}
