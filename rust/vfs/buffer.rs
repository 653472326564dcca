// SPDX-License-Identifier: GPL-2.0
//! Buffer heads: block-sized reads of the filesystem's block device.
//!
//! C header: [`include/linux/buffer_head.h`](srctree/include/linux/buffer_head.h)

use super::raw;
use core::ptr::NonNull;

/// A reference to an up-to-date buffer head of the block device.
///
/// # Invariants
///
/// `self.0` points to a buffer head on which this object holds one
/// reference (from `__bread_gfp`), whose `b_data` maps `b_size` readable
/// bytes that stay mapped until the reference is dropped.
pub(crate) struct Buffer(NonNull<raw::buffer_head>);

impl Buffer {
    /// Wraps a buffer head returned by `sb_bread`.
    ///
    /// # Safety
    ///
    /// `bh` must be null or an up-to-date buffer head whose reference the
    /// caller transfers to the returned object.
    pub(super) unsafe fn from_bread(bh: *mut raw::buffer_head) -> Option<Self> {
        // INVARIANT: `sb_bread` returns a referenced, up-to-date buffer or null.
        NonNull::new(bh).map(Buffer)
    }

    /// The contents of the block.
    ///
    /// The block cache may be written by others at the same time; r2dax only
    /// reads buffers that it alone modifies (under its own locks), so the
    /// contents are stable while it looks at them.
    pub(crate) fn data(&self) -> &[u8] {
        // SAFETY: By the type invariant the buffer head is referenced and
        // maps `b_size` bytes at `b_data` for as long as `self` lives.
        unsafe {
            let bh = self.0.as_ptr();
            core::slice::from_raw_parts((*bh).b_data.cast::<u8>(), (*bh).b_size)
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own one reference, dropped here once.
        unsafe { raw::__brelse(self.0.as_ptr()) };
    }
}
