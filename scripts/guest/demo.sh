#!/bin/sh
# What r2dax can do so far, shown step by step in the guest.
# Each step prints the command and what it printed.
dev=/dev/pmem0
mnt=/mnt/demo
mkdir -p $mnt
rc=0

run() {
	echo "# $*"
	sh -c "$*" 2>&1 | sed 's/^/  /'
}
expect_fail() {
	echo "# $*"
	if sh -c "$*" >/tmp/demo.out 2>&1; then
		echo "  UNEXPECTED SUCCESS"; rc=1
	fi
	sed 's/^/  /' /tmp/demo.out
}
kmsg() {
	dmesg | sed -n 's/^\[[ 0-9.]*\] //; /r2dax/p' | sed 's/^/  dmesg: /'
	dmesg -c >/dev/null
}
step() { echo; echo "=== $*"; }

step "the lab: an emulated NVDIMM as an fsdax namespace"
run "ndctl list -N | tr -d '\n' | sed 's/  */ /g'; echo"
run "cat /sys/block/pmem0/queue/dax  # 1: the block device supports DAX"

step "load r2dax: the filesystem type registers"
dmesg -c >/dev/null
run "insmod /r2dax/r2dax.ko"
run "grep r2dax /proc/filesystems"
kmsg

step "an unformatted device is refused with EINVAL and a clear message"
run "dd if=/dev/zero of=$dev bs=4096 count=16 2>/dev/null"
expect_fail "mount -t r2dax $dev $mnt"
kmsg

step "mkfs.r2dax writes a superblock; the kernel validates and mounts it"
run "mkfs.r2dax -f -L demo $dev"
run "mount -t r2dax $dev $mnt && grep $mnt /proc/mounts"
run "df -h $mnt"
kmsg
expect_fail "mkfs.r2dax -f $dev   # refuses a mounted device"
run "umount $mnt"

step "a real filesystem: a tree copied in, files written and read, remount, fsck"
run "mkdir -p /tmp/tree/docs && echo 'hello, pmem' >/tmp/tree/docs/readme && ln -s docs/readme /tmp/tree/link"
run "mkfs.r2dax -q -f -d /tmp/tree $dev && mount -t r2dax $dev $mnt && ls -l $mnt | tail -n +2"
run "cat $mnt/link"
run "dd if=/dev/urandom of=/tmp/blob bs=1M count=8 2>/dev/null && cp /tmp/blob $mnt/blob && mkdir $mnt/new && mv $mnt/blob $mnt/new/"
run "chattr +i $mnt/docs/readme && lsattr $mnt/docs/readme && (echo x >>$mnt/docs/readme) 2>&1; chattr -i $mnt/docs/readme"
run "df -h $mnt | tail -n 1"
run "umount $mnt && fsck.r2dax -n $dev"
run "mount -t r2dax $dev $mnt && cmp /tmp/blob $mnt/new/blob && echo '8 MiB file intact after remount'"
run "umount $mnt"
kmsg

step "a file removed while open: readable until closed, on the orphan list meanwhile"
run "mount -t r2dax $dev $mnt && df $mnt | tail -n 1 | awk '{ print \"free before:\", \$4 }'"
run "exec 3<$mnt/new/blob; rm $mnt/new/blob; ls $mnt/new; cmp - /tmp/blob <&3 && echo 'still readable through the descriptor'; df $mnt | tail -n 1 | awk '{ print \"free while open:\", \$4 }'; exec 3<&-; df $mnt | tail -n 1 | awk '{ print \"free after close:\", \$4 }'"
run "umount $mnt && fsck.r2dax -n $dev"
kmsg

step "per-inode DAX: an open file switches at once, both ways (samples/flip-demo)"
run "mkfs.r2dax -q -f $dev && mount -t r2dax -o dax=inode $dev $mnt && grep $mnt /proc/mounts"
run "flip-demo $mnt/flip"
run "xfs_io -c 'statx -r' $mnt/flip | grep attributes  # 0x200000 = STATX_ATTR_DAX"

step "a mapped file refuses with EBUSY; r2daxctl says why, and --wait switches it once unmapped"
run "mkfifo /tmp/ctl; xfs_io $mnt/flip </tmp/ctl >/dev/null 2>&1 & exec 4>/tmp/ctl; echo 'mmap -r 0 4k' >&4; sleep 1
r2daxctl status $mnt/flip; r2daxctl dax on $mnt/flip; echo \"exit status \$?\"
(sleep 1; echo munmap >&4; exec 4>&-) & r2daxctl dax on --wait $mnt/flip; r2daxctl status $mnt/flip; exec 4>&-; wait"
run "lsattr $mnt/flip; mkdir $mnt/daxdir && chattr +x $mnt/daxdir && echo new >$mnt/daxdir/new && r2daxctl status $mnt/daxdir $mnt/daxdir/new"

step "MAP_SYNC: accepted on a DAX file, refused on a page-cache one"
run "mapsync-log -n 1000 $mnt/daxdir/log | tail -n 1 && mapsync-log -c 999 $mnt/daxdir/log"
expect_fail "mapsync-log -n 1 $mnt/pclog"
run "umount $mnt && fsck.r2dax -n $dev"
kmsg

step "a corrupt superblock is refused with EUCLEAN"
run "printf '\\001' | dd of=$dev bs=1 seek=100 conv=notrunc 2>/dev/null"
expect_fail "mount -t r2dax $dev $mnt"
kmsg

step "unload r2dax"
run "rmmod r2dax && ! grep -q r2dax /proc/filesystems && echo unloaded"

step "lab sanity check: ext4 -o dax on the same namespace"
run "mkfs.ext4 -q -F $dev && mount -t ext4 -o dax $dev $mnt"
run "xfs_io -f -c 'pwrite -q 0 64k' -c 'statx -r' $mnt/file | grep attributes  # 0x200000 = STATX_ATTR_DAX"
run "umount $mnt"

echo
[ $rc = 0 ] && echo "demo: done" || echo "demo: something did not behave as shown above"
exit $rc
