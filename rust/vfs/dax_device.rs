// SPDX-License-Identifier: GPL-2.0
//! The DAX device under a superblock.
//!
//! C header: [`include/linux/dax.h`](srctree/include/linux/dax.h)
//!
//! A block device whose driver supports DAX (pmem in fsdax mode) has a
//! `dax_device` beside it. [`DaxDevice::of`] looks it up when a superblock
//! is filled and registers the superblock as its holder, as xfs does, so
//! that the DAX core tells the filesystem before the device's memory goes
//! (`notify_failure` with `MF_MEM_PRE_REMOVE`, see [`super::dax_holder`]).
//! The DAX core takes one holder per device: if another filesystem (one
//! on another partition of the same pmem) holds it already, the
//! superblock uses the device without being told, as ext4 and ext2 do,
//! and says so in the log.

use super::fs::FileSystem;
use super::print::sb_warn;
use super::raw;
use super::sb::SuperBlock;
use core::ffi::c_void;
use core::ptr::NonNull;

/// A reference to the DAX device of a superblock's block device.
///
/// # Invariants
///
/// `dev` is a `dax_device` reference taken by `fs_dax_get_by_bdev`,
/// owned by this value and put on drop. If `holder` is not null it is the
/// superblock that registered as `dev`'s holder, and the pair is in the
/// holder table (`r2dax_dax_holder_add`) until drop; the superblock
/// outlives this value (it is dropped in `fill_super` or `kill_sb`).
pub(crate) struct DaxDevice {
    dev: NonNull<raw::dax_device>,
    part_off: u64,
    holder: *mut c_void,
    /// Whether metadata buffers may be stored through `dev` instead of
    /// sent as bios (not on a device-mapper device, whose targets may act
    /// on the bios: `r2dax_bdev_meta_via_dax` in helpers.c).
    meta_via_dax: bool,
}

// SAFETY: A `dax_device` reference may be used and put from any thread; the
// DAX core synchronises its state itself (SRCU and atomics). `holder` is
// only compared and handed back to the DAX core.
unsafe impl Send for DaxDevice {}
// SAFETY: Shared references only read the fields, which never change; the
// DAX core synchronises the device.
unsafe impl Sync for DaxDevice {}

impl DaxDevice {
    /// The DAX device under `sb`'s block device, or `None` if the device
    /// does not support DAX (or its partition is not page-aligned). The
    /// superblock becomes the device's holder, with `ops`, unless another
    /// holder has it.
    pub(super) fn of<T: FileSystem, S: super::sb::SbState>(
        sb: &SuperBlock<T, S>,
        ops: &'static raw::dax_holder_operations,
    ) -> kernel::error::Result<Option<Self>> {
        let mut part_off = 0u64;
        // SAFETY: A block-device superblock has a valid, open `s_bdev`.
        let bdev = unsafe { (*sb.as_raw()).s_bdev };
        let holder = sb.as_raw().cast::<c_void>();
        // First without a holder: `fs_dax_get_by_bdev` leaks its
        // reference when it loses the holder race (6.12), so it is only
        // asked for the holder once the device has none.
        // SAFETY: `bdev` is valid and open (above); `part_off` is
        // writable.
        let mut dev = unsafe {
            raw::fs_dax_get_by_bdev(
                bdev.cast(),
                &mut part_off,
                core::ptr::null_mut(),
                core::ptr::null(),
            )
        };
        let mut held = false;
        // SAFETY: `dev` is null or a device we hold a reference to.
        if !dev.is_null() && unsafe { raw::dax_holder(dev) }.is_null() {
            // SAFETY: As above; `ops` is `'static` and `holder` is the
            // superblock, which unregisters (drop) before it goes.
            let with = unsafe { raw::fs_dax_get_by_bdev(bdev.cast(), &mut part_off, holder, ops) };
            if !with.is_null() {
                // The same device, now held: one reference is enough.
                // SAFETY: The first reference, taken without a holder.
                unsafe { raw::fs_put_dax(dev, core::ptr::null_mut()) };
                dev = with;
                held = true;
            }
        }
        if !dev.is_null() && !held {
            sb_warn!(
                sb,
                "the DAX device has another holder: this filesystem will not be told before it goes away"
            );
        }
        let Some(dev) = NonNull::new(dev) else {
            return Ok(None);
        };
        if held {
            // SAFETY: `dev` is held by `holder` (just registered).
            let r = unsafe { raw::r2dax_dax_holder_add(dev.as_ptr(), sb.as_raw()) };
            if let Err(e) = kernel::error::to_result(r) {
                // SAFETY: The reference and the holder taken above.
                unsafe { raw::fs_put_dax(dev.as_ptr(), holder) };
                return Err(e);
            }
        }
        // SAFETY: `bdev` is valid and open (above); its disk lives as
        // long as it is open.
        let meta_via_dax = unsafe { raw::r2dax_bdev_meta_via_dax(bdev.cast()) };
        if held && !meta_via_dax {
            // dm opens the pmem's DAX device without a holder (6.12), so
            // the pmem's removal reaches neither dm nor this filesystem.
            sb_warn!(
                sb,
                "on a device-mapper device: this filesystem will not be told before the memory below it goes away"
            );
        }
        // INVARIANT: `dev` is a reference we now own; `holder` is set only
        // when registered and in the table.
        Ok(Some(Self {
            dev,
            part_off,
            holder: if held { holder } else { core::ptr::null_mut() },
            meta_via_dax,
        }))
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
        if !self.holder.is_null() {
            // SAFETY: The pair is in the table (type invariant). After
            // this no notification finds the superblock.
            unsafe { raw::r2dax_dax_holder_del(self.dev.as_ptr()) };
        }
        // SAFETY: By the type invariant we own one reference, taken with
        // `holder` (or none); `fs_put_dax` unregisters the holder only if
        // it still is (`kill_dax` clears it when the device dies).
        unsafe { raw::fs_put_dax(self.dev.as_ptr(), self.holder) };
    }
}
