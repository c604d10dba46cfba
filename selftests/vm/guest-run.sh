# selftests/vm/guest-run.sh - second stage of the test VM, sourced by bash
# inside the guest (chrooted into the host's root) from the command script
# run-vm writes.  Not meant to be run on the host.
#
# In:	VM_TOKEN	per-run random token that tags every line for run-vm
#	VM_KROOT	the extracted kernel package (modprobe -d)
#	VM_CWD		the host's working directory
#	VM_ARGV		the command (array)
# Out, on the console, one line each:
#	KTLSD-VM-BEGIN TOKEN		the command starts
#	O.TOKEN LINE / E.TOKEN LINE	a line of its stdout / stderr
#	D.TOKEN LINE			a line of the guest's dmesg
#	KTLSD-VM-EXIT=N TOKEN		the command's exit status (last line)
# Anything else on the console is noise (kernel messages, init).

unset vmcmd vmkroot vm9pcache
exec </dev/null
_vm_t=$VM_TOKEN

_vm_note() { echo "E.$_vm_t run-vm (guest): $*"; }

if ! grep -q '^tls ' /proc/modules; then
	_vm_out=$(modprobe -d "$VM_KROOT" tls 2>&1) ||
		_vm_note "modprobe tls failed: $_vm_out"
fi
_vm_out=$(ip link set lo up 2>&1) || _vm_note "ip link set lo up: $_vm_out"

# Kernel messages stay off the console while the command runs (they are
# all in dmesg, which is sent afterwards); only emergencies still show.
dmesg -n 1 2>/dev/null
echo "ktlsd-vm: command starts" >/dev/kmsg 2>/dev/null

if ! cd "$VM_CWD" 2>/dev/null; then
	_vm_note "cannot enter $VM_CWD in the guest (under /tmp?); running in /"
	cd /
fi

_vm_d=$(mktemp -d /run/ktlsd-vm.XXXXXX)
mkfifo "$_vm_d/o" "$_vm_d/e"
# Tag each line as soon as it is complete (perl-base is essential in
# Debian); a last line without newline gets one.
_vm_tag() {
	perl -e '$| = 1; while (<STDIN>) { chomp; print "$ARGV[0]$_\n" }' "$1"
}
_vm_tag "O.$_vm_t " <"$_vm_d/o" &
_vm_po=$!
_vm_tag "E.$_vm_t " <"$_vm_d/e" &
_vm_pe=$!

echo "KTLSD-VM-BEGIN $_vm_t"
(
	unset VM_TOKEN VM_KROOT VM_CWD _vm_t _vm_d _vm_po _vm_pe _vm_out
	exec "${VM_ARGV[@]}"
) >"$_vm_d/o" 2>"$_vm_d/e"
_vm_rc=$?

# Background processes the command left behind may keep the pipes open:
# give the relays 5 s to drain, then cut them off.
_vm_i=0
while kill -0 $_vm_po 2>/dev/null || kill -0 $_vm_pe 2>/dev/null; do
	_vm_i=$((_vm_i + 1))
	if [ $_vm_i -gt 50 ]; then
		kill $_vm_po $_vm_pe 2>/dev/null
		_vm_note "output still held open by processes the command left behind"
		break
	fi
	sleep 0.1
done
wait $_vm_po $_vm_pe 2>/dev/null

dmesg 2>/dev/null | _vm_tag "D.$_vm_t "
echo "KTLSD-VM-EXIT=$_vm_rc $_vm_t"
exit $_vm_rc
