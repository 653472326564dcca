#!/bin/sh
# A power-cut test: two guest boots on the same NVDIMM image.
#
#   crash-test.sh [fsync|mapsync|xattr]
#
# fsync (the default):
#   1. crash-load: a workload fsyncs files and reports them ("SYNCED"),
#      and collapses or inserts into others (reported before and after),
#      the host kills the guest without warning after a random number of
#      lines (20..39);
#   2. crash-check: fsck repairs to clean, every fsync'd file is intact, a
#      shifted file as before or as after its shift (crash rule 7).
# mapsync:
#   1. crash-load-mapsync: mapsync-log appends records through a MAP_SYNC
#      mapping of a file it grows with ftruncate, and reports each durable
#      record ("LOGGED"); the host kills the guest after 2000..5999 of them;
#   2. crash-check-mapsync: fsck clean, every reported record intact and
#      inside the file size, with no msync or fsync ever called.
# xattr:
#   1. crash-load-xattr: attribute churn (new files with attributes and
#      ACLs, changes to files sharing an attribute block), each fsync'd
#      set reported ("SYNCED @name"), a change announced with its before
#      and after sums; the host kills the guest after 30..89 lines;
#   2. crash-check: as for fsync, comparing attributes (crash rule 8: the
#      old set or the new one, a reference count too high at most).
# Ends with "N passed, N failed, N skipped" (from phase 2).
set -eu
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/out/crash
mkdir -p "$out"
scenario=${1:-fsync}
case $scenario in
fsync)
	export R2DAX_CRASH=
	pattern='^SYNCED '
	count=${R2DAX_CUT_COUNT:-$(( 20 + $(od -An -N1 -tu1 /dev/urandom) % 20 ))} ;;
mapsync)
	export R2DAX_CRASH=mapsync
	pattern='^LOGGED '
	count=${R2DAX_CUT_COUNT:-$(( 2000 + $(od -An -N2 -tu2 /dev/urandom) % 4000 ))} ;;
xattr)
	export R2DAX_CRASH=xattr
	pattern='^SYNCED '
	count=${R2DAX_CUT_COUNT:-$(( 30 + $(od -An -N1 -tu1 /dev/urandom) % 60 ))} ;;
*) die "unknown scenario '$scenario'" ;;
esac
say "phase 1 ($scenario): workload, power cut after $count lines matching '$pattern'"
R2DAX_CUT_PATTERN=$pattern R2DAX_CUT_COUNT=$count R2DAX_GUEST_TIMEOUT=900 \
	"$top/scripts/run-guest.sh" crash-load >"$out/phase1.log" 2>&1 || {
	tail -n 30 "$out/phase1.log"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}
tail -n 2 "$out/phase1.log"
tr -d '\r' <"$top/out/crash-load/results.log" | grep "$pattern" >"$out/synced" || true
say "phase 2 ($scenario): recovery check of $(wc -l <"$out/synced") reported lines"
R2DAX_SYNCED=$out/synced "$top/scripts/build-initramfs.sh" >/dev/null
rc=0
"$top/scripts/run-guest.sh" crash-check || rc=$?
# Leave the normal initramfs behind for the next run.
"$top/scripts/build-initramfs.sh" >/dev/null
exit $rc
