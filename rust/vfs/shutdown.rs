// SPDX-License-Identifier: GPL-2.0
//! Shutting a filesystem down: after [`SuperBlock::shut_down`] every
//! operation that reads or changes the filesystem fails with `EIO` and
//! nothing more is read from or written to the device (metadata buffers
//! refuse, iomap refuses, so DAX and page-cache I/O, faults and writeback
//! fail); unmounting works. Reached through `FS_IOC_SHUTDOWN` (the ioctl
//! ext4 and xfs share) and through `super_operations::shutdown`, which the
//! block layer calls when the device goes away (`fs_bdev_mark_dead`).
//!
//! The flag is checked at each entry point of the layer's operation
//! tables and again by every buffer and iomap access, so an operation that
//! was past its entry check when the flag was set fails at its next device
//! access; a write it had started (a buffer being stored, a direct I/O bio
//! in flight) still completes, nothing drains it. A buffer changed in
//! memory but not written is not marked dirty, and the block device's
//! page cache is dropped at unmount, so neither its writeback nor
//! `sync_blockdev` writes it. What is mapped already (DAX pages in page
//! tables, page-cache folios) stays reachable by loads and stores, as on
//! ext4 and xfs.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::fs::{FileSystem, Operations, Tables};
use super::print::sb_warn;
use super::raw;
use super::sb::SuperBlock;
use super::vfs_inode::INode;
use core::sync::atomic::Ordering;
use kernel::error::code::{EINVAL, EPERM};
use kernel::prelude::*;
use kernel::uaccess::UserSlice;

/// `R2DAX_IOC_SHUTDOWN` flags (the values of ext4's and xfs's).
pub(crate) mod flags {
    use super::raw;

    /// Write back everything (freezing the block device), then shut down.
    pub(crate) const DEFAULT: u32 = raw::R2DAX_SHUTDOWN_FLAGS_DEFAULT;
    /// Flush the device's cache, then shut down: what r2dax has written is
    /// durable; dirty page-cache data, and inode sizes and times not
    /// written back yet (appends since the last `fsync`), are lost.
    pub(crate) const LOGFLUSH: u32 = raw::R2DAX_SHUTDOWN_FLAGS_LOGFLUSH;
    /// Shut down at once.
    pub(crate) const NOLOGFLUSH: u32 = raw::R2DAX_SHUTDOWN_FLAGS_NOLOGFLUSH;
}

impl<T: FileSystem> SuperBlock<T> {
    /// Whether the filesystem is shut down.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.sb_data().shut_down.load(Ordering::Acquire)
    }

    /// Shuts the filesystem down (once; later calls do nothing) and logs
    /// why.
    pub(crate) fn shut_down(&self, why: &str) {
        if !self.sb_data().shut_down.swap(true, Ordering::AcqRel) {
            sb_warn!(
                self,
                "shut down ({}): every operation now fails with EIO",
                why
            );
        }
    }

    /// `FS_IOC_SHUTDOWN` with `how` ([`flags`]): as on ext4, unknown flags
    /// are `EINVAL` and a filesystem shut down already does nothing.
    fn shutdown_ioctl(&self, how: u32) -> Result {
        match how {
            flags::DEFAULT | flags::LOGFLUSH | flags::NOLOGFLUSH if self.is_shut_down() => Ok(()),
            flags::DEFAULT => {
                let bdev = self.bdev();
                // Freezing writes back everything and waits for writers
                // to drain; shutting down while frozen leaves nothing
                // half done.
                // SAFETY: The superblock's block device is open.
                kernel::error::to_result(unsafe { raw::bdev_freeze(bdev.cast()) })?;
                self.shut_down("requested, after writing back");
                // SAFETY: Frozen just above.
                let _ = unsafe { raw::bdev_thaw(bdev.cast()) };
                Ok(())
            }
            flags::LOGFLUSH => {
                // What r2dax has written is made durable; the shutdown
                // happens whether or not the flush worked (as ext4's
                // commit).
                let _ = self.flush_device();
                self.shut_down("requested, after flushing the device");
                Ok(())
            }
            flags::NOLOGFLUSH => {
                self.shut_down("requested");
                Ok(())
            }
            _ => Err(EINVAL),
        }
    }
}

impl<T: FileSystem> INode<T> {
    /// `EIO` if the inode's filesystem is shut down.
    pub(super) fn check_up(&self) -> Result {
        self.sb().check_up()
    }
}

/// `-EIO` as the `isize` of read and write operations.
pub(super) const EIO_ISIZE: isize = -(raw::EIO as isize);

impl<T: Operations> Tables<T> {
    /// `R2DAX_IOC_SHUTDOWN` on an open file of ours: `arg` points to the
    /// flags (a `__u32`). `EPERM` without `CAP_SYS_ADMIN`.
    pub(super) fn shutdown_ioctl(inode: &INode<T>, arg: usize) -> Result {
        // SAFETY: `capable` only looks at the current task's credentials.
        if !unsafe { raw::capable(raw::CAP_SYS_ADMIN as i32) } {
            return Err(EPERM);
        }
        let how: u32 = UserSlice::new(arg, core::mem::size_of::<u32>())
            .reader()
            .read()?;
        inode.sb().shutdown_ioctl(how)
    }

    /// `super_operations::shutdown`: the block device is going away.
    ///
    /// # Safety
    ///
    /// Called by the block layer (`fs_bdev_mark_dead`, with `s_umount`
    /// held) for a mounted superblock of ours.
    pub(super) unsafe extern "C" fn shutdown(sb: *mut raw::super_block) {
        // SAFETY: Per the contract.
        unsafe { SuperBlock::<T>::from_raw(sb) }.shut_down("the device is going away");
    }
}
