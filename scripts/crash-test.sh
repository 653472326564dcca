#!/bin/sh
# The power-cut test: two guest boots on the same NVDIMM image.
#   1. crash-load: a workload fsyncs files and reports them, the host kills
#      the guest without warning after a random number of them (20..39);
#   2. crash-check: fsck repairs to clean, every fsync'd file is intact.
# Ends with "N passed, N failed, N skipped" (from phase 2).
set -eu
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/out/crash
mkdir -p "$out"
count=${R2DAX_CUT_COUNT:-$(( 20 + $(od -An -N1 -tu1 /dev/urandom) % 20 ))}
say "phase 1: workload, power cut after $count fsync'd files"
R2DAX_CUT_PATTERN='^SYNCED ' R2DAX_CUT_COUNT=$count R2DAX_GUEST_TIMEOUT=900 \
	"$top/scripts/run-guest.sh" crash-load >"$out/phase1.log" 2>&1 || {
	tail -n 30 "$out/phase1.log"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}
tail -n 2 "$out/phase1.log"
tr -d '\r' <"$top/out/crash-load/results.log" | grep '^SYNCED ' >"$out/synced" || true
say "phase 2: recovery check of $(wc -l <"$out/synced") fsync'd files"
R2DAX_SYNCED=$out/synced "$top/scripts/build-initramfs.sh" >/dev/null
rc=0
"$top/scripts/run-guest.sh" crash-check || rc=$?
# Leave the normal initramfs behind for the next run.
"$top/scripts/build-initramfs.sh" >/dev/null
exit $rc
