# selftests/vm/guest-tap.sh - TAP helpers of the guest-side scripts
# (sourced by guest-smoke.sh, guest-rekey.sh, guest-ktlsd.sh,
# guest-suite.sh). Fork-free where it matters: a process start costs
# 100-200 ms under TCG. The script prints its own plan ("1..$n") last and
# exits non-zero when $failed > 0.

n=0 failed=0
# diag TEXT: every line of TEXT as a TAP comment
diag() {
	local l
	while IFS= read -r l; do echo "# $l"; done <<<"$*"
}
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
# not_ok NAME [WHY]: a failure, with WHY as comment lines
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -z "${2:-}" ] || diag "$2"
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
todo() {
	n=$((n + 1))
	echo "not ok $n - $1 # TODO $2"
}
# check NAME CMD...: ok when CMD exits 0, else the end of its output;
# returns CMD's status
check() {
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then
		ok "$name"
	else
		not_ok "$name" "\`$*\` exited $rc: $(tail -n 5 <<<"$out")"
	fi
	return $rc
}
# stat_of COUNTER: its value in /proc/net/tls_stat (empty without tls)
stat_of() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat 2>/dev/null; }
