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
# The booting and relaying are selftests/vm/relay.sh's.
. "$(dirname "$0")/../lib.sh" "$@"

. "$SELFTESTS/vm/relay.sh"
export VM_TIMEOUT=${VM_TIMEOUT:-600}

vm_need_qemu
need "$KTLSD" "$PEER"

vm_relay "$SELFTESTS/vm/guest-smoke.sh" "$B"
vm_verdict "the smoke test"
done_testing
