#!/usr/bin/env bash
# 96-ktlsd-vm: ktlsd's own kernel TLS data path, for real, in a QEMU guest
# on Debian's stock 6.1 kernel (the host kernel has no kTLS).  One boot
# runs selftests/vm/guest-ktlsd.sh, whose TAP lines are relayed here as
# this script's own: one ktlsd instance with every service; TLS 1.2
# (AES-128/256-GCM, ChaCha20-Poly1305, AES-128-CCM) and TLS 1.3
# (AES-128/256-GCM, ChaCha20-Poly1305) in server and client mode, 32 MiB
# each way, intact, "path=ktls tx+rx", TlsTxSw/TlsRxSw +1 per connection;
# a client->server chain; openssl s_client and curl as real peers;
# close_notify and half-close both ways; a TLS 1.3 KeyUpdate (6.1 cannot
# rekey: a clean close with the reason); NewSessionTickets dropped on a
# client leg; data right after the Finished; ktls = required (CBC refused)
# and ktls = off; a clean SIGTERM.  Then: the guest ran its whole plan in
# time, its dmesg has no WARNING/BUG/Oops.
#
# KTLSD_VM_SIZE (default 32M) is the per-direction size of the big
# transfers.  Skips when qemu is missing or the VM cannot be prepared or
# booted, unless VM_REQUIRED=1 (CI), which turns that into a failure.
# VM_TIMEOUT (default 600 s) bounds the VM run.
. "$(dirname "$0")/../lib.sh" "$@"
. "$SELFTESTS/vm/relay.sh"
export VM_TIMEOUT=${VM_TIMEOUT:-600}

[ "$IS_STUNNEL" = 0 ] || skip_all "ktlsd's kernel TLS data path: not for stunnel"
vm_need_qemu
need "$KTLSD" "$PEER"

vm_relay "$SELFTESTS/vm/guest-ktlsd.sh" "$B" "${KTLSD_VM_SIZE:-32M}"
vm_verdict "its test script"
done_testing
