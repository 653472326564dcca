// SPDX-License-Identifier: GPL-2.0
//! Buffer heads: block-sized access to the filesystem's block device.
//!
//! C header: [`include/linux/buffer_head.h`](srctree/include/linux/buffer_head.h)
//!
//! The contents of a buffer are shared by everyone who holds it. They are
//! only reachable inside [`Buffer::with_data`] and [`Buffer::with_data_mut`],
//! which hold the buffer lock (`lock_buffer`, which the kernel's own
//! writeback also takes) for the duration, so no Rust reference ever
//! aliases a concurrent write. The closures must not touch another buffer
//! (the buffer lock is a bit lock outside lockdep's view; nesting could
//! deadlock) and must not fault on user memory.

use super::raw;
use super::sb::ShutFlag;
use core::ptr::NonNull;
use kernel::error::code::EIO;
use kernel::prelude::*;

/// Where [`Buffer::sync`] can write a buffer without the block layer: the
/// DAX device under the superblock's block device, and the byte offset of
/// the block device in it.
#[derive(Clone, Copy)]
pub(crate) struct DaxTarget {
    pub(super) dev: NonNull<raw::dax_device>,
    pub(super) part_off: u64,
}

/// A reference to an up-to-date buffer head of the block device.
///
/// # Invariants
///
/// `bh` points to a buffer head on which this object holds one
/// reference, whose `b_data` maps `b_size` bytes that stay mapped until
/// the reference is dropped, and which is up to date. `dax`, if set, is
/// the DAX device of the buffer's block device, referenced by the mounted
/// superblock the buffer was read through; buffers live only inside
/// filesystem operations on that superblock, which all end before it is
/// killed and the reference put.
pub(crate) struct Buffer {
    bh: NonNull<raw::buffer_head>,
    dax: Option<DaxTarget>,
    /// The superblock's shutdown flag: a shut-down filesystem writes
    /// nothing.
    shut: Option<ShutFlag>,
}

impl Buffer {
    /// Wraps a buffer head returned by `sb_bread` or `sb_getblk`.
    ///
    /// # Safety
    ///
    /// `bh` must be null or an up-to-date buffer head whose reference the
    /// caller transfers to the returned object; `dax` must be `None` or
    /// satisfy the type invariant.
    pub(super) unsafe fn from_raw(
        bh: *mut raw::buffer_head,
        dax: Option<DaxTarget>,
        shut: Option<ShutFlag>,
    ) -> Option<Self> {
        // INVARIANT: the caller's promise.
        NonNull::new(bh).map(|bh| Buffer { bh, dax, shut })
    }

    /// Runs `f` on the block's contents, with the buffer locked.
    pub(crate) fn with_data<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        let bh = self.bh.as_ptr();
        let _locked = self.lock();
        // SAFETY: By the type invariant the buffer is referenced and maps
        // `b_size` bytes. Every writer of the contents (r2dax through
        // `with_data_mut`, the block layer while it reads) holds the buffer
        // lock, which `_locked` holds while the slice lives.
        let data = unsafe { core::slice::from_raw_parts((*bh).b_data.cast::<u8>(), (*bh).b_size) };
        f(data)
    }

    /// Takes the buffer lock (`lock_buffer`) until the guard goes.
    fn lock(&self) -> BufferLock<'_> {
        // SAFETY: The buffer is referenced (type invariant).
        unsafe { raw::r2dax_lock_buffer(self.bh.as_ptr()) };
        BufferLock(self)
    }

    /// Runs `f` on the block's contents for writing, with the buffer locked,
    /// and marks it dirty. [`Buffer::sync`] then writes it out.
    pub(crate) fn with_data_mut<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let bh = self.bh.as_ptr();
        let r = {
            let _locked = self.lock();
            // SAFETY: By the type invariant the buffer is referenced and
            // maps `b_size` bytes; holding the buffer lock makes this the
            // only reference to the contents while the slice lives.
            let data =
                unsafe { core::slice::from_raw_parts_mut((*bh).b_data.cast::<u8>(), (*bh).b_size) };
            f(data)
        };
        // A shut-down filesystem writes nothing, so the change must not
        // be left for the block device's writeback either.
        if !self.shut.is_some_and(|f| f.is_set()) {
            // SAFETY: The buffer is referenced (type invariant).
            unsafe { raw::mark_buffer_dirty(bh) };
        }
        r
    }

    /// Writes the buffer to the device and waits for it (the ordering point
    /// of the crash-consistency rules). On a DAX device the contents are
    /// stored into persistent memory directly (`r2dax_write_buffer_dax` in
    /// helpers.c explains why that is the same write); otherwise, or if
    /// the DAX device cannot map the block, through the block layer.
    pub(crate) fn sync(&self) -> Result {
        // A shut-down filesystem writes nothing: the change stays in
        // memory only (a buffer changed just before the shutdown was
        // marked dirty; that mark goes, so no writeback of the block
        // device writes it either).
        if self.shut.is_some_and(|f| f.is_set()) {
            // SAFETY: The buffer is referenced (type invariant).
            unsafe { raw::r2dax_buffer_forget_change(self.bh.as_ptr()) };
            return Err(EIO);
        }
        if super::fault::hit(super::fault::FaultPoint::MetaWrite) {
            // The buffer stays dirty, as after a real write error.
            return Err(EIO);
        }
        if let Some(d) = self.dax {
            // SAFETY: The buffer is referenced; by the type invariant the
            // DAX device is referenced for as long as `self` lives. The
            // helper takes the buffer lock itself.
            let r = unsafe {
                raw::r2dax_write_buffer_dax(self.bh.as_ptr(), d.dev.as_ptr(), d.part_off)
            };
            if r == 0 {
                return Ok(());
            }
        }
        // SAFETY: The buffer is referenced; `sync_dirty_buffer` locks it.
        let err = unsafe { raw::sync_dirty_buffer(self.bh.as_ptr()) };
        if err != 0 {
            // A failed write leaves the buffer neither up to date nor
            // dirty, so the next read would bring back the old block and
            // silently undo a change the rest of the filesystem (counters,
            // other blocks) already builds on. The kernel's copy is kept
            // instead, as the truth, and written again by writeback: one
            // rule for every error path (design.rst, "When a metadata
            // write fails").
            // SAFETY: The buffer is referenced; its contents are still the
            // ones we wrote.
            unsafe { raw::r2dax_buffer_keep(self.bh.as_ptr()) };
            return Err(EIO);
        }
        Ok(())
    }
}

/// A held buffer lock, released on drop.
struct BufferLock<'a>(&'a Buffer);

impl Drop for BufferLock<'_> {
    fn drop(&mut self) {
        // SAFETY: Taken in `Buffer::lock`; the buffer is referenced.
        unsafe { raw::r2dax_unlock_buffer(self.0.bh.as_ptr()) };
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own one reference, dropped here once.
        unsafe { raw::__brelse(self.bh.as_ptr()) };
    }
}
