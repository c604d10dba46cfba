#!/usr/bin/env bash
# 98-ktls-rekey-vm: kernel TLS rekey (TLS 1.3 KeyUpdate, Linux >= 6.14) in
# a QEMU guest on the newest kernel of Debian trixie-backports
# (VM_KERNEL=backports, see selftests/vm/run-vm: fetched and verified once,
# cached in BUILD_DIR/vm/kernel-backports/).  One boot runs
# selftests/vm/guest-rekey.sh, whose TAP lines are relayed here as this
# script's own: kernel >= 6.14, modprobe tls, the rekey counters in
# /proc/net/tls_stat, ktlsctl probe reporting rekey TX and RX (and the
# kernel counting the probe's rekeys).  Then: the guest's dmesg has no
# WARNING/BUG/Oops, the run ended in time.
#
# Skips when qemu is missing or the VM cannot be prepared or booted (no
# network for the first download and nothing cached...), unless
# VM_REQUIRED=1 (CI), which turns that into a failure.  VM_TIMEOUT
# (default 600 s) bounds the VM run, download included.
. "$(dirname "$0")/../lib.sh" "$@"

. "$SELFTESTS/vm/relay.sh"
export VM_TIMEOUT=${VM_TIMEOUT:-600}
export VM_KERNEL=backports

vm_need_qemu
need "$B/ktlsctl"

vm_relay "$SELFTESTS/vm/guest-rekey.sh" "$B"
vm_verdict "the rekey test"
done_testing
