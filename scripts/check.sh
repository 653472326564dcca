#!/bin/sh
# make check: every test. Host side first (cargo test for the tools,
# rustfmt and clippy on the module), then the guest suite in one boot.
# Ends with one line "N passed, N failed, N skipped", after a line naming
# what failed (CI shows only the tail of the log); exits 1 on any
# failure. Arguments select a subset of the guest tests: test names, or
# ./check's options (-g GROUP, -x GROUP) before them.
set -u
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$top/out"
passed=0 failed=0 skipped=0
# What failed, named for the last lines of the log.
failures=""
start=$(date +%s)
# Whether a subset of guest tests was asked for (the positional
# parameters are reused below).
subset=$#

echo "=== host: cargo test (tools)"
log=$top/out/cargo-test.log
if (cd "$top/tools" && cargo test --quiet 2>&1) >"$log"; then
	:
else
	echo "cargo test FAILED:"; tail -n 30 "$log"
	failed=$((failed + 1)); failures="$failures cargo-test"
fi
grep -E '^test result:' "$log"
eval "$(awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "cp=%d cf=%d cs=%d\n", p, f, s }' "$log")"
passed=$((passed + cp)); failed=$((failed + cf)); skipped=$((skipped + cs))

echo "=== host: rustfmt and clippy (module)"
if "$top/scripts/lint.sh"; then
	echo "lint ... pass"; passed=$((passed + 1))
else
	echo "lint ... FAIL"; failed=$((failed + 1)); failures="$failures lint"
fi

# tally LOG STATUS WHAT NAME: adds the last "N passed, N failed, N
# skipped" line of LOG to the totals; a run that exited non-zero without
# counting a failure counts one, and so does a LOG without the line. A
# failure is named NAME in $failures, with the failed tests the log names
# ("NNN ... FAIL" of the guest suite, "Failures:" of fstests).
tally() {
	tline=$(tr -d '\r' 2>/dev/null <"$1" | grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n 1)
	names=$(tr -d '\r' 2>/dev/null <"$1" |
		sed -n -e 's/^\([0-9][0-9][0-9]\) [0-9]*s \.\.\. FAIL.*/\1/p' -e 's/^Failures: //p' |
		tr '\n' ' ' | sed 's/ *$//')
	if [ -z "$tline" ]; then
		echo "$3 did not report results"
		failed=$((failed + 1)); failures="$failures $4(no-results)"
		return
	fi
	trc=$2
	set -- $tline
	passed=$((passed + $1)); failed=$((failed + $3)); skipped=$((skipped + $5))
	if [ "$trc" != 0 ] && [ "$3" = 0 ]; then failed=$((failed + 1)); fi
	if [ "$trc" != 0 ] || [ "$3" != 0 ]; then
		failures="$failures $4(${names:-exit $trc})"
	fi
}

echo "=== guest: test suite"
if [ "$subset" -eq 0 ]; then
	# The lsm group needs a boot of its own, with Smack active.
	"$top/scripts/run-guest.sh" check -x lsm
	grc=$?
	tally "$top/out/check/results.log" "$grc" "guest suite" guest-suite
	echo "=== guest: security labels (lsm group, a boot with lsm=smack)"
	R2DAX_KERNEL_ARGS=lsm=smack R2DAX_LOGDIR=$top/out/check-lsm \
		"$top/scripts/run-guest.sh" check -g lsm
	grc=$?
	tally "$top/out/check-lsm/results.log" "$grc" "guest suite (lsm=smack)" guest-suite-lsm
else
	"$top/scripts/run-guest.sh" check "$@"
	grc=$?
	tally "$top/out/check/results.log" "$grc" "guest suite" guest-suite
fi

# The fstests subset (scripts/fstests/check.list) and the power-cut test
# need boots of their own; they run with the full suite (not with a subset
# of tests).
if [ "$subset" -eq 0 ]; then
	echo "=== guest: fstests subset (scripts/fstests/check.list)"
	frc=0
	"$top/scripts/fstests.sh" --check >"$top/out/fstests-check.log" 2>&1 || frc=$?
	tr -d '\r' <"$top/out/fstests-check.log" | grep -E '^(fstests|[a-z0-9]+/[0-9]+ )'
	tally "$top/out/fstests-check.log" "$frc" "fstests subset (see out/fstests-check.log)" fstests-subset
fi
if [ "$subset" -eq 0 ]; then
	for scenario in fsync mapsync xattr; do
		echo "=== guest: power-cut test ($scenario)"
		crc=0
		"$top/scripts/crash-test.sh" $scenario || crc=$?
		line=$(tr -d '\r' <"$top/out/crash-check/results.log" 2>/dev/null |
			grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n 1)
		if [ "$crc" = 0 ] && [ -n "$line" ]; then
			set -- $line
			passed=$((passed + $1)); failed=$((failed + $3))
			[ "$3" = 0 ] || failures="$failures power-cut-$scenario"
		else
			echo "power-cut test ($scenario) FAILED (see out/crash/ and out/crash-*/)"
			tr -d '\r' <"$top/out/crash-check/results.log" 2>/dev/null | grep FAIL
			failed=$((failed + 1)); failures="$failures power-cut-$scenario"
		fi
	done
fi

echo "make check took $(( $(date +%s) - start ))s"
[ -z "$failures" ] || echo "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
