// SPDX-License-Identifier: GPL-2.0
//! Fault injection for the test suite.
//!
//! debugfs `r2dax/fail_meta_write` and `r2dax/fail_zero` each hold a
//! countdown N: the Nth metadata write ([`super::buffer::Buffer::sync`]),
//! or the Nth zeroing of new blocks
//! ([`super::sb::SuperBlock::zero_blocks`]), from the moment N was written
//! fails with `EIO` without touching the device; `r2dax/injected` counts
//! the failures. A failed metadata write leaves its buffer dirty, as a
//! real write error leaves the kernel's copy: the in-memory image stays
//! the truth, and the error paths must leave it (bitmaps, counters, block
//! map) as fsck expects. The tests write N, run an operation, and check.
//! The cost when unused is one atomic read per point.

use super::raw;

/// The places a failure can be injected (the order of `helpers.c`).
#[derive(Clone, Copy)]
pub(crate) enum FaultPoint {
    /// A synchronous metadata write.
    MetaWrite = 0,
    /// Zeroing newly allocated blocks.
    Zero = 1,
}

/// Whether this call at `point` is the one to fail.
pub(crate) fn hit(point: FaultPoint) -> bool {
    // SAFETY: The helper only touches its own atomics; it is callable
    // before `Registration::new` and after its drop (the countdowns are
    // then 0, or stay as last written).
    unsafe { raw::r2dax_fault_hit(point as u32) }
}

/// The debugfs files, for the life of the module.
pub(crate) struct Registration(());

impl Registration {
    /// Creates `r2dax/` in debugfs (nothing if debugfs is not there).
    pub(crate) fn new() -> Self {
        // SAFETY: Called once, from module init.
        unsafe { raw::r2dax_fault_init() };
        Self(())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: Created in `new`; module exit, nothing uses the files.
        unsafe { raw::r2dax_fault_exit() };
    }
}
