// SPDX-License-Identifier: GPL-2.0
//! The DAX device under a superblock.
//!
//! C header: [`include/linux/dax.h`](srctree/include/linux/dax.h)
//!
//! A block device whose driver supports DAX (pmem in fsdax mode) has a
//! `dax_device` beside it. [`DaxDevice::of`] looks it up when a superblock
//! is filled, as ext2 does, without registering a holder (r2dax does not
//! take memory-failure notifications).

use super::fs::FileSystem;
use super::raw;
use super::sb::SuperBlock;
use core::ptr::NonNull;

/// A reference to the DAX device of a superblock's block device.
///
/// # Invariants
///
/// `dev` is a `dax_device` reference taken by `fs_dax_get_by_bdev`
/// without a holder; it is owned by this value and put on drop.
pub(crate) struct DaxDevice {
    dev: NonNull<raw::dax_device>,
    part_off: u64,
    /// Whether metadata buffers may be stored through `dev` instead of
    /// sent as bios (not on a device-mapper device, whose targets may act
    /// on the bios: `r2dax_bdev_meta_via_dax` in helpers.c).
    meta_via_dax: bool,
}

// SAFETY: A `dax_device` reference may be used and put from any thread; the
// DAX core synchronises its state itself (SRCU and atomics).
unsafe impl Send for DaxDevice {}
// SAFETY: Shared references only read `dev`, `part_off` and
// `meta_via_dax`, which never change; the DAX core synchronises the device.
unsafe impl Sync for DaxDevice {}

impl DaxDevice {
    /// The DAX device under `sb`'s block device, or `None` if the device
    /// does not support DAX (or its partition is not page-aligned).
    pub(super) fn of<T: FileSystem, S: super::sb::SbState>(sb: &SuperBlock<T, S>) -> Option<Self> {
        let mut part_off = 0u64;
        // SAFETY: A block-device superblock has a valid, open `s_bdev`.
        let bdev = unsafe { (*sb.as_raw()).s_bdev };
        // SAFETY: `bdev` is valid and open (above); `part_off` is
        // writable. No holder is registered.
        let dev = unsafe {
            raw::fs_dax_get_by_bdev(
                bdev.cast(),
                &mut part_off,
                core::ptr::null_mut(),
                core::ptr::null(),
            )
        };
        // SAFETY: `bdev` is valid and open (above); its disk lives as
        // long as it is open.
        let meta_via_dax = unsafe { raw::r2dax_bdev_meta_via_dax(bdev.cast()) };
        // INVARIANT: A non-null result is a reference we now own.
        NonNull::new(dev).map(|dev| Self {
            dev,
            part_off,
            meta_via_dax,
        })
    }

    /// Whether metadata buffers may be written through this device
    /// (`Buffer::sync`) rather than as bios.
    pub(super) fn meta_via_dax(&self) -> bool {
        self.meta_via_dax
    }

    #[allow(dead_code)]
    /// Byte offset of the block device (a partition) in the DAX device;
    /// added to every device address handed to the DAX core.
    pub(crate) fn part_off(&self) -> u64 {
        self.part_off
    }

    /// The raw device, for iomap.
    #[allow(dead_code)]
    pub(super) fn as_raw(&self) -> *mut raw::dax_device {
        self.dev.as_ptr()
    }

    /// The raw device, for buffers (see `buffer::DaxTarget`).
    pub(super) fn as_non_null(&self) -> NonNull<raw::dax_device> {
        self.dev
    }
}

impl Drop for DaxDevice {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own one reference, taken
        // without a holder.
        unsafe { raw::fs_put_dax(self.dev.as_ptr(), core::ptr::null_mut()) };
    }
}
