#!/usr/bin/env bash
# bench/vm.sh [BUILD_DIR] [bench/run options] - make bench-vm.
#
# The host kernel has no kTLS, so ktlsd's kernel data path is measured in
# the test VM (selftests/vm/run-vm: Debian's 6.1 kernel under qemu TCG,
# the host's root shared read-only).  One boot runs bench/run for ktlsd
# only, each ioEngine with `ktls = auto` (kernel TLS) and `ktls = off`
# (userspace) side by side, runs interleaved; the guest prints its
# results as JSON, and the host writes BUILD_DIR/bench/results-vm.json and
# results-vm.md: kTLS against userspace as ratios only (TCG timings mean
# nothing in absolute terms, except memory).  Proof of offload: the
# guest's /proc/net/tls_stat counters moved during the kTLS runs.
#
# Extra arguments go to bench/run in the guest (e.g. --only ktlsd,haproxy
# to bring a peer along, --runs 5).  VM_TIMEOUT (default 1800 s) bounds
# the whole VM run.  Exit status: bench/run's, or run-vm's (123: kernel
# warning in the guest, 124: timeout, 125: the VM did not boot).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
B=${1:-$ROOT/build}
[ $# -gt 0 ] && shift
B=$(cd "$B" && pwd -P) || exit 2
OUT=$B/bench
export VM_TIMEOUT=${VM_TIMEOUT:-1800}

mkdir -p "$OUT"
# certificates on the host: the guest sees them read-only (and RSA key
# generation under TCG is slow)
/usr/bin/python3 "$HERE/run" "$B" --out "$OUT" --prepare || exit 2

raw=$OUT/vm-guest.out
start=$(date +%s)
echo "bench-vm: booting the kTLS VM (qemu TCG), a few minutes..." >&2
# defaults sized for TCG (10-50x slower than the host); later
# arguments win
"$ROOT/selftests/vm/run-vm" "$B" -- /usr/bin/python3 "$HERE/run" "$B" \
	--vm-guest --only ktlsd --ktls auto,off --runs 3 --bulk-bytes 32M \
	--hs ecdsa-full,ecdsa-resumed --hs-secs 3 --rr-secs 2 \
	--idle-conns 500 --idle-timeout 300 --timeout 300 --no-plots \
	--pki "$OUT/pki" --out /tmp/bench "$@" >"$raw"
rc=$?
echo "bench-vm: VM run $(($(date +%s) - start)) s, status $rc" >&2

json=$OUT/vm-guest.json
sed -n '/^KTLSD-BENCH-JSON-BEGIN$/,/^KTLSD-BENCH-JSON-END$/p' "$raw" |
	sed '1d;$d' >"$json"
if [ ! -s "$json" ]; then
	echo "bench-vm: no results from the guest (output in $raw)" >&2
	tail -n 20 "$raw" >&2
	exit $((rc ? rc : 1))
fi
# the guest's own table, then the ratios
sed '1,/^KTLSD-BENCH-JSON-END$/d' "$raw"
echo
/usr/bin/python3 "$HERE/run" "$B" --out "$OUT" --render-vm "$json" || exit 1
exit $rc
