/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * r2dax's private ioctls: the user-space ABI of the r2dax filesystem
 * module (Documentation/filesystems/r2dax/dax.rst, "The status ioctl").
 *
 * This header is the ABI. The module gets the structure and the numbers
 * from it through its bindgen run (rust/vfs/bindings.h) and checks them at
 * build time against format/src/ioctl.rs, the Rust view the
 * host tools use; a host test (cargo test in tools/) compiles this header
 * and compares sizes, offsets and values with that Rust view.
 *
 * The per-file DAX flag itself is set and cleared with the VFS's
 * FS_IOC_FSGETXATTR/FS_IOC_FSSETXATTR and FS_XFLAG_DAX (<linux/fs.h>), and
 * statx reports the effective mode as STATX_ATTR_DAX (<linux/stat.h>); r2dax
 * adds no ioctl for those.
 */
#ifndef _UAPI_LINUX_R2DAX_H
#define _UAPI_LINUX_R2DAX_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * struct r2dax_dax_status - why a file is or is not DAX
 * (R2DAX_IOC_DAX_STATUS, on any file or directory of an r2dax mount)
 *
 * @version:    R2DAX_DAX_STATUS_VERSION; the layout of this structure.
 * @flags:      R2DAX_DAX_STATUS_* bits below.
 * @mappings:   VMAs of any process that map the file now.
 * @mount_mode: the mount's dax= option, R2DAX_MOUNT_DAX_*.
 * @reserved:   zero.
 *
 * 32 bytes with no padding, in native byte order. The layout is the same
 * on i386 (mappings is at offset 8 either way), but the module answers
 * only 64-bit callers today: it has no compat_ioctl, so a 32-bit process
 * gets ENOTTY.
 *
 * Versioning: the size of the structure is part of the ioctl number
 * (_IOR), so a structure that grows gets a new number and the kernel
 * answers the old one with the old layout; a program built against an
 * older header keeps working. Within one size, new information goes into
 * @reserved and new @flags bits, which the kernel sets to zero until it
 * knows them: readers must ignore unknown flag bits and nonzero reserved
 * words they do not understand. @version changes only if the meaning of an
 * existing field changes; a reader that sees a version it does not know
 * must not interpret the other fields.
 */
struct r2dax_dax_status {
	__u32 version;
	__u32 flags;
	__u64 mappings;
	__u32 mount_mode;
	__u32 reserved[3];
};

#define R2DAX_DAX_STATUS_VERSION	1

/* The inode's DAX flag is set (FS_XFLAG_DAX): DAX is requested. */
#define R2DAX_DAX_STATUS_REQUESTED	(1U << 0)
/* The file uses DAX now (S_DAX, statx STATX_ATTR_DAX): DAX is effective. */
#define R2DAX_DAX_STATUS_EFFECTIVE	(1U << 1)
/* Some DAX page of the file is pinned (looked for only when unmapped). */
#define R2DAX_DAX_STATUS_PINNED		(1U << 2)
/* The device supports DAX. */
#define R2DAX_DAX_STATUS_DEVICE_DAX	(1U << 3)
/*
 * A descriptor opened read-only that mapped the file through the page
 * cache is still open: khugepaged may still be collapsing that mapping,
 * so a switch to DAX fails with EBUSY until it is closed.
 */
#define R2DAX_DAX_STATUS_COLLAPSIBLE	(1U << 4)
/*
 * The mount's dax= mode asks for the other mode than the file uses: a
 * remount changed it while the file was mapped or pinned, and the file
 * switches once its last mapping and pin are gone.
 */
#define R2DAX_DAX_STATUS_PENDING	(1U << 5)

/* Values of mount_mode: the dax= mount option. */
#define R2DAX_MOUNT_DAX_INODE		0	/* dax=inode (the default) */
#define R2DAX_MOUNT_DAX_ALWAYS		1	/* dax=always, or dax */
#define R2DAX_MOUNT_DAX_NEVER		2	/* dax=never */

/*
 * The ioctl type of r2dax: 'x' (0x78). Numbers 0x80-0x9f are r2dax's.
 *
 * 'x' has no entry in Documentation/userspace-api/ioctl/ioctl-number.rst
 * of Linux 6.12 and no _IO*('x', ...) definition in its tree. The VFS's
 * own file ioctls (fs/ioctl.c: <linux/fs.h> and FIO* of
 * <asm-generic/ioctls.h>) use types 0x00, 'T', 'X', 'f', 'v', 0x94 and
 * 0x15, and the VFS handles those before it calls the filesystem. The
 * full number also holds the direction and the size, so an ioctl meant
 * for another driver that reached an r2dax file by mistake would have to
 * match all four fields to be taken for this one.
 */
#define R2DAX_IOCTL_TYPE		'x'

/*
 * R2DAX_IOC_DAX_STATUS: _IOR('x', 0x80, struct r2dax_dax_status), that is
 * 0x80207880 (direction read 2 << 30 | size 32 << 16 | 'x' << 8 | 0x80).
 * Fills a struct r2dax_dax_status for the file or directory. Errors:
 * ENOTTY on other filesystems, EFAULT for a bad pointer.
 */
#define R2DAX_IOC_DAX_STATUS	_IOR(R2DAX_IOCTL_TYPE, 0x80, struct r2dax_dax_status)

/*
 * R2DAX_IOC_SHUTDOWN: _IOR('X', 125, __u32), the number and flags of
 * ext4's EXT4_IOC_SHUTDOWN and xfs's XFS_IOC_GOINGDOWN (later kernels name
 * it FS_IOC_SHUTDOWN in <linux/fs.h>), so xfs_io's "shutdown" command and
 * fstests work. The argument points to the flags. Needs CAP_SYS_ADMIN.
 * Afterwards every operation fails with EIO and nothing is written;
 * unmounting works.
 */
#define R2DAX_IOC_SHUTDOWN		_IOR('X', 125, __u32)
/* Write back everything (freezing the filesystem), then shut down. */
#define R2DAX_SHUTDOWN_FLAGS_DEFAULT	0x0
/*
 * Flush the device's cache, then shut down: what r2dax has written is
 * durable; dirty page-cache data and inode sizes not written back yet
 * (appends since the last fsync) are lost.
 */
#define R2DAX_SHUTDOWN_FLAGS_LOGFLUSH	0x1
/* Shut down at once: dirty page-cache data is lost. */
#define R2DAX_SHUTDOWN_FLAGS_NOLOGFLUSH	0x2

#endif /* _UAPI_LINUX_R2DAX_H */
