#!/usr/bin/env bash
# 85-bench-smoke: the benchmark suite works (a functional test, not a
# performance gate).  ktls-bench and bench/run answer --help; a tiny
# `bench/run --quick --only ktlsd,stunnel` run (every test, one run each,
# well under a minute) exits 0 and writes results.json with the expected
# keys and, for every contestant, nonzero throughput both ways, CPU per
# GiB, handshakes, resumed handshakes, latency percentiles and memory per
# idle connection; results.md has the tables; the PNG plots exist when
# gnuplot is installed.  stunnel is left out when it is not installed.
# ktls-splicebench (splice driving, issue 4) answers --help and, on plain
# TCP (the host has no kTLS), relays 64 MiB intact in every mode: each
# mode's run moved every byte and the sink's SHA-256 is the producer's.
# vm-skip: a smoke test of the host benchmark tools (bench/run, stunnel as a contestant); kTLS against userspace in the VM is bench/vm.sh (make bench-vm)
. "$(dirname "$0")/../lib.sh" "$@"

if [ "$IS_STUNNEL" = 1 ]; then
	skip_all "the benchmark suite runs build/ktlsd itself"
fi
BENCH=$B/ktls-bench
need "$B/ktlsd" "$BENCH"
RUN=$ROOT/bench/run

out=$(timeout 10 "$BENCH" --help 2>&1)
check "ktls-bench --help" grep -q '^usage: ktls-bench MODE ADDR' <<<"$out"
timeout 10 "$BENCH" bulk-up 2>/dev/null
is "ktls-bench without ADDR: usage error" "$?" 64
out=$(timeout 20 "$RUN" --help 2>&1)
check "bench/run --help" grep -q -- '--quick' <<<"$out"

# ---- ktls-splicebench: every splice driving mode, plain TCP ----------------
SB=$B/ktls-splicebench
need "$SB"
out=$(timeout 10 "$SB" --help 2>&1)
check "ktls-splicebench --help" grep -q '^usage: ktls-splicebench' <<<"$out"
timeout 10 "$SB" --modes nonesuch >/dev/null 2>&1
is "ktls-splicebench --modes nonesuch: usage error" "$?" 64
start=$(date +%s)
timeout -k 5 180 "$SB" --plain --size 64M --runs 1 --time-limit 60 --json \
	>"$T/sb.json" 2>"$T/sb.err"
rc=$?
diag "ktls-splicebench --plain --size 64M: $(($(date +%s) - start)) s, status $rc"
if [ $rc = 77 ]; then
	skip "ktls-splicebench --plain: every mode relays 64 MiB intact" \
		"$(tail -n 1 "$T/sb.err")"
else
	is "ktls-splicebench --plain --size 64M exits 0" "$rc" 0
	python3 - "$T/sb.json" >"$T/sb.check" 2>&1 <<'PYEOF'
import json, sys
doc = json.load(open(sys.argv[1]))
bad, seen = [], set()
for r in doc["results"]:
    seen.add(r["mode"])
    for i, run in enumerate(r["runs"]):
        tag = "%s/%s run %d" % (r["sink"], r["mode"], i + 1)
        if not run.get("ok"):
            bad.append("%s: %s" % (tag, run.get("error") or run.get("skipped")))
        elif run["bytes"] != doc["size"] or run["sha256"] != doc["sha256"]:
            bad.append("%s: %s bytes, sha256 %s" % (tag, run["bytes"], run["sha256"]))
for m in ("epoll", "uring-poll", "uring-poll1", "uring-splice", "uring-block"):
    if m not in seen:
        bad.append("mode %s missing" % m)
print("\n".join(bad) if bad else "all intact")
sys.exit(1 if bad else 0)
PYEOF
	if [ $? = 0 ]; then
		ok "ktls-splicebench --plain: every mode relays 64 MiB intact"
	else
		not_ok "ktls-splicebench --plain: every mode relays 64 MiB intact" \
			"$(head -n 10 "$T/sb.check" "$T/sb.err")"
	fi
fi

only=ktlsd
if command -v stunnel4 >/dev/null 2>&1; then
	only=ktlsd,stunnel
else
	diag "stunnel4 not installed: ktlsd only"
fi

# selftests/run picks the event engine through KTLSD_GLOBALS: bench that
# one (bench/run alone takes every engine of the build)
engines=()
eng=$(sed -n 's/^[[:space:]]*ioEngine[[:space:]]*=[[:space:]]*\([a-z_]*\).*/\1/p' \
	<<<"${KTLSD_GLOBALS:-}" | tail -n 1)
[ -n "$eng" ] && engines=(--engines "$eng")

start=$(date +%s)
timeout -k 5 120 "$RUN" "$B" --quick --only "$only" --runs 1 "${engines[@]}" \
	--bulk-bytes 16M --idle-conns 100 --idle-settle 0.5 --out "$T/bench" \
	>"$T/run.out" 2>"$T/run.err"
rc=$?
diag "bench/run${eng:+ (ioEngine $eng)}: $(($(date +%s) - start)) s"
if [ $rc = 0 ]; then
	ok "bench/run --quick --only $only exits 0"
else
	not_ok "bench/run --quick --only $only exits 0" \
		"rc=$rc: $(tail -n 10 "$T/run.err")"
fi

# every figure, checked in one place; one line per failed expectation
python3 - "$T/bench/results.json" "$only" >"$T/check.out" 2>&1 <<'PYEOF'
import json, sys
doc = json.load(open(sys.argv[1]))
bad = []
for k in ("meta", "options", "contestants", "results", "goals"):
    if k not in doc:
        bad.append("missing key %s" % k)
res = doc.get("results", {})
names = [c["name"] for c in doc.get("contestants", [])]
for want in sys.argv[2].split(","):
    if not any(n == want or n.startswith(want + "-") for n in names):
        bad.append("no contestant %s" % want)
def med(n, var, key):
    try:
        return res[n][var][key]["median"]
    except (KeyError, TypeError):
        return None
for n in names:
    for var in ("bulk-up-1", "bulk-down-1", "bulk-up-8", "bulk-down-8"):
        if not (med(n, var, "mbps") or 0) > 0:
            bad.append("%s %s: no throughput (%s)" % (n, var, res.get(n, {}).get(var)))
        if med(n, var, "cpu_s_per_gib") is None:
            bad.append("%s %s: no cpu_s_per_gib" % (n, var))
        for k in ("cpu_user_s_per_gib", "cpu_sys_s_per_gib"):
            if med(n, var, k) is None:
                bad.append("%s %s: no %s" % (n, var, k))
    for var in ("hs-full-ecdsa", "hs-full-rsa", "hs-resumed-ecdsa"):
        if not (med(n, var, "rate") or 0) > 0:
            bad.append("%s %s: no handshakes" % (n, var))
        if med(n, var, "cpu_us_per_hs") is None:
            bad.append("%s %s: no cpu_us_per_hs" % (n, var))
    if not (med(n, "hs-resumed-ecdsa", "resumed") or 0) > 0:
        bad.append("%s: no handshake was resumed" % n)
    for k in ("p50_us", "p90_us", "p99_us", "p999_us"):
        if not (med(n, "rr", k) or 0) > 0:
            bad.append("%s rr: no %s" % (n, k))
    if med(n, "idle", "established") != doc["options"]["idle_conns"]:
        bad.append("%s idle: established %s" % (n, med(n, "idle", "established")))
    for k in ("pss_kib_per_conn", "rss_kib_per_conn"):
        if med(n, "idle", k) is None:
            bad.append("%s idle: no %s" % (n, k))
print("\n".join(bad) if bad else "all present")
sys.exit(1 if bad else 0)
PYEOF
if [ $? = 0 ]; then
	ok "results.json: every key and every figure nonzero"
else
	not_ok "results.json: every key and every figure nonzero" \
		"$(head -n 20 "$T/check.out")"
fi

check "results.md has the bulk table" grep -q '^## Bulk throughput' \
	"$T/bench/results.md"
check "the table is printed" grep -q '^Bulk throughput' "$T/run.out"
if command -v gnuplot >/dev/null 2>&1; then
	n=0
	for p in throughput cpu-per-gib handshakes latency memory; do
		[ -s "$T/bench/$p.png" ] && n=$((n + 1))
	done
	is "PNG plots written" "$n" 5
else
	skip "PNG plots written" "gnuplot not installed"
fi
done_testing
