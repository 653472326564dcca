// SPDX-License-Identifier: GPL-2.0
//! Background work of a superblock: one delayed work item per mounted
//! superblock that runs [`super::super_ops::SuperOperations::background`],
//! queued by the filesystem ([`SuperBlock::run_background`]) and when the
//! last VMA goes of a file the filesystem marked
//! ([`INode::mark_unmap_wanted`]).
//!
//! # Lifetime
//!
//! The work item lives in the superblock's [`super::sb::SbData`]. `kill_sb`
//! disables it (`disable_delayed_work_sync`: a run in progress finishes,
//! nothing runs or queues afterwards) before `kill_block_super` evicts the
//! inodes, so a run never meets a superblock being torn down, and the
//! inode references a run takes are dropped before `evict_inodes`. Queuing
//! needs a live superblock: the filesystem queues from its own callbacks
//! and from a run, `vm_close` from a VMA, which holds its file, so its
//! mount, until after `vm_close`.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use super::fs::{Operations, Tables};
use super::raw;
use super::sb::SuperBlock;
use super::vfs_inode::INode;
use core::sync::atomic::{fence, Ordering};
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::time::msecs_to_jiffies;
use kernel::types::Opaque;

/// The background work item of a superblock.
///
/// # Invariants
///
/// `work` is initialised (by [`SbWork::new`]) with the work function of the
/// filesystem type of the superblock whose `SbData` holds this, and `sb` is
/// that superblock.
#[repr(C)]
#[pin_data]
pub(super) struct SbWork {
    /// The `struct delayed_work`; its `work` member is first, so a
    /// `work_struct` pointer of it is a pointer to `Self`.
    #[pin]
    work: Opaque<raw::delayed_work>,
    /// The superblock the work belongs to.
    sb: *mut raw::super_block,
}

// `background_work` finds the item from its `work_struct` by this.
const _: () = assert!(core::mem::offset_of!(SbWork, work) == 0);

// SAFETY: The work item is only handed to the workqueue functions, which
// are safe to call from any thread; `sb` is only read.
unsafe impl Send for SbWork {}
// SAFETY: As for `Send`: every shared use is a workqueue call or an atomic.
unsafe impl Sync for SbWork {}

impl SbWork {
    /// The work item of `sb`, running `T::background`.
    pub(super) fn new<T: Operations>(sb: *mut raw::super_block) -> impl PinInit<Self> {
        pin_init!(SbWork {
            // SAFETY: `slot` is the item's memory, pinned; the work
            // function matches the superblock's type (invariant).
            work <- Opaque::ffi_init(|slot| unsafe {
                raw::r2dax_init_delayed_work(slot, Some(Tables::<T>::background_work))
            }),
            sb,
        })
    }

    fn queue(&self, ms: u32, sooner: bool) {
        // SAFETY: The item is initialised and pinned (invariant); a
        // disabled item (after `kill_sb` began) is left alone.
        unsafe { raw::r2dax_queue_delayed_work(self.work.get(), msecs_to_jiffies(ms), sooner) };
    }

    /// Disables the work item and waits for a run in progress.
    ///
    /// # Safety
    ///
    /// Called once, by `kill_sb`, before the inodes are evicted.
    pub(super) unsafe fn disable(&self) {
        // SAFETY: The item is initialised and pinned.
        unsafe { raw::disable_delayed_work_sync(self.work.get()) };
    }
}

impl<T: Operations> INode<T> {
    /// Asks that the last VMA of this file going run the superblock's
    /// background work at once. Once this returned, a caller that then
    /// reads the file's VMA count ([`INode::mappings`]) as nonzero can
    /// rely on that run, until [`INode::clear_unmap_wanted`].
    pub(crate) fn mark_unmap_wanted(&self) {
        self.layer().unmap_wanted.store(true, Ordering::Relaxed);
        // Pairs with the fence in `last_unmap`: store buffering (each side
        // stores, fences, then loads what the other stored), so either the
        // caller's later read of the VMA count sees the last VMA gone, or
        // `last_unmap` sees the mark.
        fence(Ordering::SeqCst);
    }

    /// Withdraws [`INode::mark_unmap_wanted`].
    pub(crate) fn clear_unmap_wanted(&self) {
        self.layer().unmap_wanted.store(false, Ordering::Relaxed);
    }

    /// The last VMA of the file went (from `vm_close`, after the count
    /// was decremented to 0).
    pub(super) fn last_unmap(&self) {
        // Pairs with the fence in `mark_unmap_wanted`.
        fence(Ordering::SeqCst);
        if self.layer().unmap_wanted.load(Ordering::Relaxed) {
            // The VMA being closed holds the file, so the superblock is
            // mounted.
            self.sb().work().queue(0, true);
        }
    }
}

impl<T: Operations> SuperBlock<T> {
    fn work(&self) -> &SbWork {
        &self.sb_data().work
    }

    /// Queues a run of [`super::super_ops::SuperOperations::background`]:
    /// with `ms == 0` as soon as a worker is free (a run queued for later
    /// moves up); otherwise in `ms` milliseconds, unless a run is queued
    /// already, which keeps its time. A run queued while one is running
    /// runs again after it.
    pub(crate) fn run_background(&self, ms: u32) {
        self.work().queue(ms, ms == 0);
    }
}

impl<T: Operations> Tables<T> {
    /// The work function of a superblock's [`SbWork`].
    ///
    /// # Safety
    ///
    /// Called by the workqueue with the `work_struct` of an [`SbWork`]
    /// initialised for `T`.
    unsafe extern "C" fn background_work(work: *mut raw::work_struct) {
        // SAFETY: `work` is the first member of the `delayed_work`, which
        // is the first member of the `repr(C)` `SbWork` (per the contract).
        let w = unsafe { &*work.cast::<SbWork>() };
        // SAFETY: The superblock is mounted and its `SbData` set (the work
        // is disabled by `kill_sb` before either goes).
        let sb = unsafe { SuperBlock::<T>::from_raw(w.sb) };
        T::background(sb);
    }
}
