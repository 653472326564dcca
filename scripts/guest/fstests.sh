#!/bin/sh
# The guest side of the fstests job (scripts/fstests.sh on the host).
#
# Runs from the initramfs (busybox): loads r2dax.ko, mounts the host's /
# (virtio-9p tag hostroot, read-only) on /host, puts tmpfs over the few
# places fstests writes, adds the users fstests wants, and runs fstests'
# ./check in a chroot there: on the host's own bash, perl, coreutils,
# util-linux, xfsprogs, e2fsprogs, acl and attr (lab.rst, "fstests", says
# why this and not a bigger initramfs). The per-test results go to the
# read-write share (tag results), the host's out/fstests/<config>/, which
# also holds the arguments of ./check (check.args).
#
# R2DAX_FSTESTS_CONFIG  the section of scripts/fstests/r2dax.config
# R2DAX_FSTESTS_DIR     the fstests build on the host (scripts/build-fstests.sh)
set -u
cfg=${R2DAX_FSTESTS_CONFIG:?}
fst=${R2DAX_FSTESTS_DIR:?}
new=/host

fail() { echo "fstests guest: $*"; exit 1; }

echo "fstests guest: $(cut -d' ' -f1 /proc/uptime)s: mounting the host's /"
mkdir -p $new
mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose,msize=262144 hostroot $new ||
	fail "cannot mount the host's / (virtio-9p tag hostroot)"
[ -f "$new$fst/r2dax-fstests.tar" ] || fail "no fstests build at $fst on the host"
for d in tmp run var/tmp root home mnt; do
	mount -t tmpfs -o mode=1777 tmpfs "$new/$d" || fail "tmpfs on /$d"
done
chmod 700 $new/root
mount -t proc proc $new/proc
mount -t sysfs sysfs $new/sys
mount -t devtmpfs devtmpfs $new/dev
mount -t debugfs debugfs $new/sys/kernel/debug
mount -t tracefs tracefs $new/sys/kernel/tracing 2>/dev/null
mkdir -p $new/dev/shm && mount -t tmpfs -o mode=1777 tmpfs $new/dev/shm
mkdir -p $new/dev/pts && mount -t devpts devpts $new/dev/pts
# What udev would add: bash's process substitution, <(...), opens
# /dev/fd/N (without it fstests' checks that use one fail, and the test is
# skipped: generic/095 "fio engine libaio not available").
ln -sf /proc/self/fd $new/dev/fd
ln -sf /proc/self/fd/0 $new/dev/stdin
ln -sf /proc/self/fd/1 $new/dev/stdout
ln -sf /proc/self/fd/2 $new/dev/stderr
mkdir -p $new/run/results
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=262144 results $new/run/results ||
	fail "cannot mount the results share (virtio-9p tag results)"

# The arguments of ./check (too long for the kernel command line).
args=$(cat $new/run/results/check.args 2>/dev/null) || fail "no check.args in the results share"

echo "fstests guest: $(cut -d' ' -f1 /proc/uptime)s: copying fstests"
# fstests writes beside itself (results, temporary lists): a copy in tmpfs.
mkdir $new/run/fstests
tar -xf "$new$fst/r2dax-fstests.tar" -C $new/run/fstests || fail "unpacking fstests"

# The users and groups fstests' tests switch to, added to copies of the
# host's files (su's PAM stack wants a shadow entry too).
for f in passwd group shadow gshadow; do cp "$new/etc/$f" "$new/run/$f"; done
id=1500
for u in fsgqa fsgqa2 123456-fsgqa; do
	echo "$u:x:$id:$id:fstests:/home/$u:/bin/bash" >>$new/run/passwd
	echo "$u:x:$id:" >>$new/run/group
	echo "$u:*:19000:0:99999:7:::" >>$new/run/shadow
	echo "$u:!::" >>$new/run/gshadow
	mkdir -p "$new/home/$u"
	chown "$id:$id" "$new/home/$u"
	id=$((id + 1))
done
for f in passwd group shadow gshadow; do mount -o bind "$new/run/$f" "$new/etc/$f"; done
# The loopback interface (no init brings it up here): the lock tests run a
# server and a client over TCP to localhost (generic/131: "unable to
# connect: Network is unreachable" without it).
ip link set lo up || fail "ip link set lo up"

# r2dax: the module from the initramfs, the tools under their fsck.TYPE
# names first in PATH (util-linux's mkfs and fsck search PATH).
insmod /r2dax/r2dax.ko || fail "insmod r2dax.ko"
mkdir -p $new/run/r2dax/bin
cp /usr/sbin/mkfs.r2dax /usr/sbin/fsck.r2dax /usr/sbin/dump.r2dax /usr/bin/r2daxctl $new/run/r2dax/bin/
cp /r2dax/fstests.config $new/run/r2dax/fstests.config
mkdir -p $new/mnt/test $new/mnt/scratch
# ./check mounts TEST_DEV as the first section says before it reads -s.
mkfs.r2dax -q -f /dev/pmem0 || fail "mkfs.r2dax /dev/pmem0"

echo "fstests guest: $(cut -d' ' -f1 /proc/uptime)s: $cfg: ./check $args"
# No udev runs here: DM_DISABLE_UDEV=1 makes dmsetup create the
# /dev/mapper nodes itself (without it, dmsetup create leaves only
# /dev/dm-N and every dm test fails in its mkfs: generic/470).
exec chroot $new /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
	PATH=/run/r2dax/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOST_OPTIONS=/run/r2dax/fstests.config R2DAX_FSTESTS_CONFIG="$cfg" DM_DISABLE_UDEV=1 \
	/bin/bash -c 'cd /run/fstests && ./check -s "$R2DAX_FSTESTS_CONFIG" "$@"' check $args
