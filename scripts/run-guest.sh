#!/bin/sh
# Boot the r2dax test guest and run a job in it.
#
# Usage: scripts/run-guest.sh check|demo|bench|fstests|shell [TEST...]
#
# QEMU (TCG: KVM hangs on these hosts) with 2 vCPUs, R2DAX_MEM of RAM
# (default 2G) and a file-backed NVDIMM (R2DAX_PMEM_SIZE, default 2G) kept
# in the cache (or R2DAX_NVDIMM_DIR), plus a second one for devdax when
# R2DAX_DEVDAX_SIZE is set, or a second fsdax one (pmem1, fstests'
# SCRATCH_DEV) when R2DAX_PMEM1_SIZE is set. With R2DAX_HOSTROOT=1 the
# host's / is shared read-only over virtio-9p (tag hostroot) and
# R2DAX_RESULTS_DIR read-write (tag results): the fstests job runs on the
# host's userland (lab.rst, "fstests"). The kernel is
# the R2DAX_KERNEL variant (test or bench), the initramfs out/initramfs.cpio.gz
# or R2DAX_INITRD. R2DAX_BENCH* variables are passed on the kernel command
# line (spaces become commas), R2DAX_KERNEL_ARGS as it is (lsm=smack,
# say). The kernel console (ttyS0) goes to
# out/<job>/console.log, the job's output (ttyS1) to out/<job>/results.log
# (or both to R2DAX_LOGDIR),
# and, live, to stdout. A watchdog (R2DAX_GUEST_TIMEOUT seconds) kills a
# hung guest and reports it as a failure with the log tails. The exit
# status is the guest job's, or 1 if the guest died before reporting one.
#
# Power cut: with R2DAX_CUT_PATTERN and R2DAX_CUT_COUNT set, the guest is
# killed (SIGKILL, no shutdown) as soon as its output has that many lines
# matching the pattern; the run then exits 0 ("cut as planned").
set -eu
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/.." && pwd)

job=${1:?usage: run-guest.sh check|demo|bench|fstests|shell [TEST...]}
shift
case "$job" in
check) timeout_default=3000 ;;
bench) timeout_default=7200 ;;
fstests) timeout_default=10800 ;;
*) timeout_default=600 ;;
esac
limit=${R2DAX_GUEST_TIMEOUT:-$timeout_default}
pmem_size=${R2DAX_PMEM_SIZE:-2G}
devdax_size=${R2DAX_DEVDAX_SIZE:-}
pmem1_size=${R2DAX_PMEM1_SIZE:-}
mem=${R2DAX_MEM:-2G}
[ -z "$devdax_size" ] || [ -z "$pmem1_size" ] || die "R2DAX_DEVDAX_SIZE and R2DAX_PMEM1_SIZE exclude each other"

kdir=$("$top/scripts/build-kernel.sh" --print-dir)
kernel=$kdir/arch/x86/boot/bzImage
initrd=${R2DAX_INITRD:-$top/out/initramfs.cpio.gz}
[ -f "$kdir/.r2dax-complete" ] || die "no lab kernel in $kdir (run make kernel)"
[ -f "$initrd" ] || die "no initramfs (run make initramfs)"

logdir=${R2DAX_LOGDIR:-$top/out/$job}
nvdir=${R2DAX_NVDIMM_DIR:-$R2DAX_CACHE/nvdimm}
mkdir -p "$logdir" "$nvdir"
console=$logdir/console.log
results=$logdir/results.log
: >"$console"
: >"$results"

# The NVDIMM images live in the cache: the namespace conversion done by the
# guest's first boot is kept. A lock keeps two guests off the same fsdax
# image.
# nvdimm_add N IMAGE SIZE [LOCK_FD]: attach IMAGE as NVDIMM N.
nvdimm=""
nvdimm_add() {
	[ -f "$2" ] || truncate -s "$3" "$2"
	if [ -n "${4:-}" ]; then
		eval "exec $4>\"\$2.lock\""
		flock -n "$4" || { say "waiting for another guest to release $2"; flock "$4"; }
	fi
	nvdimm="$nvdimm -object memory-backend-file,id=mem$1,share=on,mem-path=$2,size=$3"
	nvdimm="$nvdimm -device nvdimm,id=nvdimm$1,memdev=mem$1"
}
nvdimm_add 0 "$nvdir/pmem0-$pmem_size.img" "$pmem_size" 9
slots=2
cmdline="console=ttyS0 panic=-1 R2DAX_JOB=$job"
# Kernel parameters of this boot only (lsm=smack for the lsm group).
[ -n "${R2DAX_KERNEL_ARGS:-}" ] && cmdline="$cmdline $R2DAX_KERNEL_ARGS"
if [ -n "$devdax_size" ]; then
	nvdimm_add 1 "$nvdir/devdax1-$devdax_size.img" "$devdax_size"
	cmdline="$cmdline R2DAX_DEVDAX=1"
fi
if [ -n "$pmem1_size" ]; then
	nvdimm_add 1 "$nvdir/pmem1-$pmem1_size.img" "$pmem1_size" 8
	cmdline="$cmdline R2DAX_PMEM1=1"
fi
virtfs=""
if [ -n "${R2DAX_HOSTROOT:-}" ]; then
	resdir=${R2DAX_RESULTS_DIR:?R2DAX_HOSTROOT needs R2DAX_RESULTS_DIR}
	mkdir -p "$resdir"
	virtfs="-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap"
	virtfs="$virtfs -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot"
	virtfs="$virtfs -fsdev local,id=results,path=$resdir,security_model=none"
	virtfs="$virtfs -device virtio-9p-pci,fsdev=results,mount_tag=results"
	# fstests' LOGWRITES_DEV (/dev/ram0), the one ramdisk: 512 MiB,
	# taken as written.
	cmdline="$cmdline brd.rd_nr=1 brd.rd_size=524288"
fi
[ $# -gt 0 ] && cmdline="$cmdline R2DAX_TESTS=$(echo "$@" | tr ' ' ',')"
[ -n "${R2DAX_CRASH:-}" ] && cmdline="$cmdline R2DAX_CRASH=$R2DAX_CRASH"
for v in R2DAX_FSTESTS_CONFIG R2DAX_FSTESTS_DIR R2DAX_BENCH R2DAX_BENCH_FS R2DAX_BENCH_REPS R2DAX_BENCH_RT R2DAX_BENCH_SIZE R2DAX_BENCH_META \
	R2DAX_BENCH_PROFILE; do
	eval "val=\${$v:-}"
	# shellcheck disable=SC2154
	[ -n "$val" ] && cmdline="$cmdline $v=$(echo $val | tr ' ' ',')"
done

if [ "$job" = shell ]; then
	# shellcheck disable=SC2086
	exec qemu-system-x86_64 -machine pc,nvdimm=on -accel tcg -smp 2 \
		-m $mem,slots=$slots,maxmem=16G $nvdimm $virtfs -kernel "$kernel" -initrd "$initrd" \
		-append "$cmdline" -nographic -no-reboot
fi

start=$(date +%s)
# shellcheck disable=SC2086
timeout -k 10 "$limit" qemu-system-x86_64 -machine pc,nvdimm=on -accel tcg -smp 2 \
	-m $mem,slots=$slots,maxmem=16G $nvdimm $virtfs \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	-display none -monitor none -no-reboot \
	-serial "file:$console" -serial "file:$results" </dev/null &
qpid=$!
tail -n +1 -f --pid=$qpid "$results" | tr -d '\r' &
tpid=$!
cut=""
if [ -n "${R2DAX_CUT_PATTERN:-}" ]; then
	while kill -0 $qpid 2>/dev/null; do
		if [ "$(grep -c "$R2DAX_CUT_PATTERN" "$results")" -ge "${R2DAX_CUT_COUNT:-1}" ]; then
			# The timeout wrapper's child is qemu: kill both, hard.
			pkill -KILL -P $qpid 2>/dev/null
			kill -KILL $qpid 2>/dev/null
			cut=yes
			break
		fi
		sleep 0.2
	done
fi
rc=0
wait $qpid || rc=$?
wait $tpid 2>/dev/null || true
elapsed=$(( $(date +%s) - start ))
if [ -n "$cut" ]; then
	say "power cut: guest killed after ${elapsed}s ($R2DAX_CUT_COUNT lines matching '$R2DAX_CUT_PATTERN')"
	exit 0
fi

status=$(tr -d '\r' <"$results" | sed -n 's/^R2DAX-EXIT \([0-9]*\)$/\1/p' | tail -n 1)
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "run-guest: FAIL: guest hung, killed by the watchdog after ${limit}s"
	echo "--- last 40 lines of $console"
	tail -n 40 "$console" | tr -d '\r'
	exit 1
fi
if [ -z "$status" ]; then
	echo "run-guest: FAIL: guest died without reporting a status (qemu exit $rc, ${elapsed}s)"
	echo "--- last 40 lines of $console"
	tail -n 40 "$console" | tr -d '\r'
	exit 1
fi
say "guest $job finished in ${elapsed}s with status $status (logs in ${logdir#"$top"/}/)"
exit "$status"
