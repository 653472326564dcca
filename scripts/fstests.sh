#!/bin/sh
# make fstests: fstests (xfstests) on r2dax and on the ext4-DAX baseline,
# one guest boot per configuration.
#
# Usage: scripts/fstests.sh [--check]
#
#   FSTESTS_CONFIGS  sections of scripts/fstests/r2dax.config to run
#                    (default: r2dax-always r2dax-inode r2dax-never ext4-dax;
#                    ext2-dax, a peer, runs only when named)
#   FSTESTS_GROUPS   groups to run (default: dax quick)
#   FSTESTS_TESTS    tests to run instead of groups (generic/001 ...)
#   FSTESTS_EXCLUDE  tests to leave out (a hung test, for the next chunk)
#   R2DAX_KERNEL     bench (default: the kernel without KASAN and lockdep,
#                    for breadth) or test (the debug kernel)
#
# 1. builds the kernel variant, r2dax.ko for it, fstests
#    (scripts/build-fstests.sh) and an initramfs;
# 2. per configuration, boots a guest with two 4 GiB fsdax NVDIMMs (pmem0
#    = TEST_DEV, pmem1 = SCRATCH_DEV) and the host's / shared read-only,
#    where scripts/guest/fstests.sh runs ./check; results land in
#    out/fstests/CONFIG/ as they are made;
# 3. merges the results, test by test, into out/fstests/results.json and
#    the committed Documentation/filesystems/r2dax/fstests.json, and
#    rewrites the table in fstests.rst (scripts/fstests-report.py).
# A run of some tests or configurations replaces only their entries, so
# chunks merge into one table. A guest that hangs is killed by the watchdog
# (R2DAX_GUEST_TIMEOUT, default 3 h); the test it was running is recorded
# as failed ("hung") and the run goes on with the next configuration.
#
# --check (meant for make check): the fixed subset of scripts/fstests/check.list on
# the debug kernel, in the configurations that file names; records nothing,
# prints "N passed, N failed, N skipped" and exits 1 on a failure.
set -eu
# The kernel variant first: lib.sh defaults it to test.
if [ "${1:-}" = "--check" ]; then
	export R2DAX_KERNEL=${R2DAX_KERNEL:-test}
else
	export R2DAX_KERNEL=${R2DAX_KERNEL:-bench}
fi
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/out/fstests
check=""
if [ "${1:-}" = "--check" ]; then
	check=yes
	list=$top/scripts/fstests/check.list
	FSTESTS_CONFIGS=${FSTESTS_CONFIGS:-$(sed -n 's/^configs:\s*//p' "$list")}
	FSTESTS_TESTS=${FSTESTS_TESTS:-$(sed -e 's/#.*//' -e '/^configs:/d' "$list" | tr -s ' \n' '  ')}
	out=$top/out/fstests-check
fi
configs=${FSTESTS_CONFIGS:-r2dax-always r2dax-inode r2dax-never ext4-dax}
start=$(date +%s)

"$top/scripts/build-kernel.sh"
"$top/scripts/build-fstests.sh"
fstdir=$("$top/scripts/build-fstests.sh" --print-dir)
(cd "$top/tools" && cargo build --release --quiet)
make --no-print-directory -s -C "$top/samples" OUT="$top/out/samples"
if [ -n "$check" ] && [ "$R2DAX_KERNEL" = test ] && [ -f "$top/r2dax.ko" ]; then
	# make check built the module in the tree for this kernel.
	mod=$top
else
	mod=$out/module-$R2DAX_KERNEL
	build_module_copy "$mod"
fi
initrd=$out/initramfs-$R2DAX_KERNEL.cpio.gz
R2DAX_MODULE=$mod/r2dax.ko R2DAX_INITRAMFS=$initrd "$top/scripts/build-initramfs.sh"

if [ -n "${FSTESTS_TESTS:-}" ]; then
	args=$FSTESTS_TESTS
else
	args=""
	for g in ${FSTESTS_GROUPS:-dax quick}; do args="$args -g $g"; done
fi
for t in ${FSTESTS_EXCLUDE:-}; do args="$args -e $t"; done

# The commit the module and the tests come from; the report this script
# rewrites (fstests.json and fstests.rst) does not make the tree dirty, so
# that a second run in the same tree is recorded under the same commit.
commit=$(git -C "$top" describe --always 2>/dev/null || echo unknown)
git -C "$top" diff --quiet HEAD -- . ':!Documentation/filesystems/r2dax/fstests.json' \
	':!Documentation/filesystems/r2dax/fstests.rst' 2>/dev/null || commit=$commit-dirty
ran=""
for cfg in $configs; do
	grep -q "^\[$cfg\]" "$top/scripts/fstests/r2dax.config" ||
		die "no section [$cfg] in scripts/fstests/r2dax.config"
	res=$out/$cfg
	rm -rf "$res"
	mkdir -p "$res"
	echo "$args" >"$res/check.args"
	say "$cfg: ./check ${args# } (kernel: $R2DAX_KERNEL)"
	cstart=$(date +%s)
	rc=0
	R2DAX_INITRD=$initrd R2DAX_HOSTROOT=1 R2DAX_RESULTS_DIR=$res \
		R2DAX_PMEM_SIZE=${R2DAX_PMEM_SIZE:-4G} R2DAX_PMEM1_SIZE=${R2DAX_PMEM1_SIZE:-4G} \
		R2DAX_MEM=${R2DAX_MEM:-3G} R2DAX_GUEST_TIMEOUT=${R2DAX_GUEST_TIMEOUT:-10800} \
		R2DAX_FSTESTS_CONFIG=$cfg R2DAX_FSTESTS_DIR=$fstdir \
		R2DAX_LOGDIR=$res "$top/scripts/run-guest.sh" fstests || rc=$?
	# The test ./check was in when the guest died: its name alone is the
	# last line of the output (./check prints the result after it).
	last=$(tr -d '\r' <"$res/results.log" | grep -E '^[a-z0-9]+/[0-9]+' | tail -n 1 || true)
	if [ "$rc" != 0 ] && [ -n "$last" ] && [ "$(echo $last)" = "${last%% *}" ]; then
		echo "${last%% *}" >"$res/hung"
		say "$cfg: the guest died in ${last%% *}; recorded as failed"
	fi
	echo "$R2DAX_KERNEL $commit $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$res/run"
	say "$cfg: $(( ($(date +%s) - cstart) / 60 )) min"
	ran="$ran $cfg"
done

if [ -n "$check" ]; then
	say "fstests subset took $(( ($(date +%s) - start) / 60 )) min"
	exec python3 "$top/scripts/fstests-report.py" --out "$out" --verdict $ran
fi
python3 "$top/scripts/fstests-report.py" --out "$out" \
	--json "$top/Documentation/filesystems/r2dax/fstests.json" \
	--rst "$top/Documentation/filesystems/r2dax/fstests.rst" $ran
say "make fstests took $(( ($(date +%s) - start) / 60 )) min"
