#!/bin/sh
# make bench: r2dax against ext4-DAX, xfs-DAX, ext2-DAX and the raw device
# in one guest boot. Not a test: nothing passes or fails on a number.
#
# Usage: scripts/bench.sh [BENCHMARK...]     (default: all, B0..B8)
#
# 1. builds (or reuses) the bench kernel: the test kernel without KASAN,
#    lockdep and DEBUG_VM (scripts/kernel/bench.config), cached like it;
# 2. builds r2dax.ko for it in out/bench/module (a copy of the sources, so
#    the test build in the tree is left alone) and an initramfs with fio;
# 3. boots one guest (TCG, 2 vCPUs) with two NVDIMMs backed by tmpfs on the
#    host: pmem0 (fsdax, R2DAX_PMEM_SIZE, 3G) for the filesystems and dax1.0
#    (devdax, 2G) for B0; see tools/testing/bench/run for the guest side;
# 4. writes out/bench/bench.log (every result line), out/bench/results.json, out/bench/table.md and
#    out/bench/chart.svg and prints the tables.
#
# R2DAX_BENCH_FS, _REPS, _RT, _SIZE, _META and _PROFILE reach the guest (see
# tools/testing/bench/run). Documentation/bench.rst explains the figures.
#
# Paired comparison: R2DAX_BENCH_BASELINE=COMMIT also builds r2dax.ko from
# that commit (git archive into out/bench/module-base) and puts it in the
# initramfs as /r2dax/r2dax-base.ko; the filesystems r2dax-dax@base and
# r2dax-pc@base run like r2dax-dax and r2dax-pc on that module, in the same
# boot and alternating with them. R2DAX_BENCH_FS then defaults to
# "r2dax-dax r2dax-dax@base r2dax-pc r2dax-pc@base", e.g.
#   R2DAX_BENCH_BASELINE=HEAD~1 R2DAX_BENCH_FS="r2dax-pc r2dax-pc@base" make bench BENCH=B2
set -eu
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/out/bench
export R2DAX_KERNEL=bench
[ $# -gt 0 ] && export R2DAX_BENCH="$*"

"$top/scripts/build-kernel.sh"
(cd "$top/tools" && cargo build --release --quiet)
make --no-print-directory -s -C "$top/samples" OUT="$top/out/samples"

# The module, built for the bench kernel from a copy of its sources.
mod=$out/module
build_module_copy "$mod"

# The baseline's module for the @base filesystems, if asked for.
base=${R2DAX_BENCH_BASELINE:-}
basemod=
if [ -n "$base" ]; then
	base_rev=$(git -C "$top" rev-parse -q --verify "$base^{commit}") ||
		die "R2DAX_BENCH_BASELINE: '$base' is not a commit"
	build_module_commit "$out/module-base" "$base_rev"
	basemod=$out/module-base/r2dax.ko
	export R2DAX_BENCH_FS="${R2DAX_BENCH_FS:-r2dax-dax r2dax-dax@base r2dax-pc r2dax-pc@base}"
else
	case " ${R2DAX_BENCH_FS:-} " in
	*@base*) die "R2DAX_BENCH_FS names a @base filesystem but R2DAX_BENCH_BASELINE is not set" ;;
	esac
fi

extra=fio
if [ -n "${R2DAX_BENCH_PROFILE:-}" ]; then
	command -v perf >/dev/null || die "R2DAX_BENCH_PROFILE needs perf on the host (apt-get install linux-perf)"
	extra="fio perf"
fi
R2DAX_MODULE=$mod/r2dax.ko R2DAX_BASE_MODULE=$basemod R2DAX_INITRAMFS=$out/initramfs.cpio.gz R2DAX_EXTRA_BINS=$extra \
	"$top/scripts/build-initramfs.sh"

# NVDIMM backing in host RAM (tmpfs), so that host disk writeback does not
# add noise; removed afterwards.
nvdir=${R2DAX_NVDIMM_DIR:-/dev/shm/r2dax-bench}
mkdir -p "$nvdir"
trap 'rm -rf "$nvdir"' EXIT
# Progress on the terminal; the result lines go to out/bench/results.log.
{
	rc=0
	R2DAX_INITRD=$out/initramfs.cpio.gz R2DAX_NVDIMM_DIR=$nvdir \
		R2DAX_PMEM_SIZE=${R2DAX_PMEM_SIZE:-3G} R2DAX_DEVDAX_SIZE=2G \
		"$top/scripts/run-guest.sh" bench 2>&1 || rc=$?
	echo "$rc" >"$out/guest.rc"
} | grep --line-buffered -v '^R2DAX-BENCH '
[ "$(cat "$out/guest.rc")" = 0 ] || die "the bench guest failed (logs in out/bench/)"

# Host facts go with the guest's result lines (out/bench/results.log).
log=$out/bench.log
{
	echo "R2DAX-BENCH-META host_cpu $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
	echo "R2DAX-BENCH-META host_cpus $(nproc)"
	echo "R2DAX-BENCH-META qemu $(qemu-system-x86_64 --version | head -n 1)"
	echo "R2DAX-BENCH-META qemu_mode TCG (-accel tcg), 2 vCPUs, default CPU model, NVDIMMs on host tmpfs (4 KiB pages)"
	echo "R2DAX-BENCH-META date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "R2DAX-BENCH-META commit $(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)"
	if [ -n "$base" ]; then
		echo "R2DAX-BENCH-META baseline $(git -C "$top" describe --always "$base_rev") ($base)"
	fi
	tr -d '\r\000' <"$out/results.log"
} >"$log"
"$top/tools/target/release/r2dax-bench" report "$log" \
	--json "$out/results.json" --md "$out/table.md" --svg "$out/chart.svg"
say "results: out/bench/results.json, out/bench/table.md, out/bench/chart.svg"
