#!/bin/sh
# Build the guest initramfs: busybox-static, the host binaries the tests
# need (with the shared libraries ldd lists), r2dax.ko, the r2dax tools and
# the test suite. Output: out/initramfs.cpio.gz. Takes a few seconds.
#
# make bench builds its own: R2DAX_MODULE (the module built for the bench
# kernel), R2DAX_INITRAMFS (where to write it) and R2DAX_EXTRA_BINS (more
# host programs: fio); with R2DAX_BENCH_BASELINE, R2DAX_BASE_MODULE (the
# baseline's module, installed as /r2dax/r2dax-base.ko).
set -eu
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/out
mkdir -p "$out"

# Host programs copied into the guest. stress-ng brings about 30 MB of
# libraries; fio (about 80 MB) comes with the benchmarks.
HOST_BINS="ndctl daxctl xfs_io mkfs.xfs mke2fs mkfs.ext4 e2fsck chattr lsattr stress-ng blkid mkfs.minix mkfs.bfs mkfs.cramfs getfattr setfattr getfacl setfacl ${R2DAX_EXTRA_BINS:-}"
module=${R2DAX_MODULE:-$top/r2dax.ko}
image=${R2DAX_INITRAMFS:-$out/initramfs.cpio.gz}

[ -f "$module" ] || die "$module missing (run make)"
tools=$top/tools/target/release
for t in mkfs-r2dax fsck-r2dax dump-r2dax r2dax-corrupt r2dax-t r2dax-fsx r2daxctl r2dax-daxstorm r2dax-bench; do
	[ -x "$tools/$t" ] || die "host tool $t missing (run make tools)"
done

root=$(mktemp -d "${TMPDIR:-/tmp}/r2dax-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/etc" \
	"$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/run" "$root/mnt" \
	"$root/root" "$root/r2dax"
# mktemp made the root 0700: the guest's / must let other users in (tests
# run programs as uid 1000), and its /tmp is everyone's.
chmod 755 "$root"
chmod 1777 "$root/tmp"

copy_libs() {
	ldd "$1" 2>/dev/null | awk '/=>/ { print $3 } $1 ~ /^\// { print $1 }' |
	while read -r lib; do
		if [ -n "$lib" ] && [ -e "$lib" ] && [ ! -e "$root$lib" ]; then
			cp -L --parents "$lib" "$root/"
		fi
	done
}

copy_with_libs() {
	cp -L --parents "$1" "$root/"
	copy_libs "$1"
}

for b in $HOST_BINS; do
	p=$(command -v "$b") || die "host program $b missing (run scripts/setup-host.sh)"
	copy_with_libs "$p"
done
if [ -f /etc/mke2fs.conf ]; then cp /etc/mke2fs.conf "$root/etc/"; fi
# The NFS server and client (test 046): nfs-utils' daemons and mount
# helper, libtirpc's transport table, the service and protocol names, and
# nfs-utils' state directory.
for b in rpc.nfsd rpc.mountd exportfs mount.nfs; do
	p=$(command -v "$b") || p=/sbin/$b
	[ -x "$p" ] || die "host program $b missing (run scripts/setup-host.sh)"
	copy_with_libs "$p"
	# The test runs it as /sbin/NAME, wherever the host has it.
	[ -e "$root/sbin/$b" ] || ln -s "$p" "$root/sbin/$b"
done
ln -s mount.nfs "$root/sbin/mount.nfs4"
cp /etc/netconfig /etc/services /etc/protocols "$root/etc/"
mkdir -p "$root/var/lib/nfs"

# busybox for everything else; real programs copied above win.
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list-full); do
	if [ ! -e "$root/$applet" ] && [ ! -e "$root/usr/$applet" ] && [ ! -e "$root/bin/${applet##*/}" ]; then
		ln -s /bin/busybox "$root/$applet"
	fi
done

# r2dax: module, tools (installed under their mkfs.TYPE names), tests.
cp "$module" "$root/r2dax/r2dax.ko"
if [ -n "${R2DAX_BASE_MODULE:-}" ]; then cp "$R2DAX_BASE_MODULE" "$root/r2dax/r2dax-base.ko"; fi
for t in mkfs fsck dump; do
	cp "$tools/$t-r2dax" "$root/usr/sbin/$t.r2dax"
	copy_libs "$tools/$t-r2dax"
done
for t in r2dax-corrupt r2dax-t r2dax-fsx r2daxctl r2dax-daxstorm r2dax-bench; do
	cp "$tools/$t" "$root/usr/bin/$t"
	copy_libs "$tools/$t"
done
for t in "$top"/out/samples/*; do
	[ -x "$t" ] || die "samples missing (run make samples)"
	cp "$t" "$root/usr/bin/"
	copy_libs "$t"
done
cp -R "$top/tools/testing" "$root/r2dax/testing"
cp "$top/scripts/guest/init" "$root/init"
cp "$top/scripts/guest/demo.sh" "$root/r2dax/demo.sh"
cp "$top/scripts/guest/fstests.sh" "$root/r2dax/fstests.sh"
cp "$top/scripts/fstests/r2dax.config" "$root/r2dax/fstests.config"
chmod +x "$root/init" "$root/r2dax/demo.sh" "$root/r2dax/fstests.sh"
# The power-cut test's second boot gets the list of fsync'd files.
if [ -n "${R2DAX_SYNCED:-}" ]; then cp "$R2DAX_SYNCED" "$root/r2dax/synced"; fi
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"

mkdir -p "$(dirname "$image")"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$image.tmp"
mv "$image.tmp" "$image"
say "$(du -h "$image" | cut -f1) initramfs in $image"
