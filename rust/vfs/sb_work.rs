// SPDX-License-Identifier: GPL-2.0
//! Background work of a superblock: one delayed work item per mounted
//! superblock that runs [`super::super_ops::SuperOperations::background`], queued by the
//! filesystem ([`SuperBlock::run_background`]) and, if the filesystem asks,
//! when the last VMA of one of its files goes
//! ([`SuperBlock::run_background_on_unmap`]).
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
use core::sync::atomic::{fence, AtomicBool, Ordering};
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
    /// Whether the last VMA of a file going queues a run at once.
    on_unmap: AtomicBool,
}

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
            on_unmap: AtomicBool::new(false),
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

    /// A VMA of a file of the superblock went, and it was the file's last
    /// (the caller's decrement of the file's VMA count came first).
    pub(super) fn last_unmap(&self) {
        // Pairs with the fence in `run_background_on_unmap`: either the
        // filesystem's later look at the VMA count (after it set the flag)
        // sees this file unmapped, or this sees the flag (store buffering:
        // each side stores, fences, then loads what the other stored).
        fence(Ordering::SeqCst);
        if self.on_unmap.load(Ordering::Relaxed) {
            self.queue(0, true);
        }
    }
}

impl<T: Operations> SuperBlock<T> {
    fn work(&self) -> &SbWork {
        &self.sb_data().work
    }

    /// Runs [`super::super_ops::SuperOperations::background`] once, `ms` milliseconds from
    /// now or sooner: an earlier queued run keeps its time; `ms == 0` runs
    /// it as soon as a worker is free. A run queued while one is running
    /// runs again after it.
    pub(crate) fn run_background(&self, ms: u32) {
        self.work().queue(ms, ms == 0);
    }

    /// Whether a file's last VMA going runs the background work at once
    /// (from `vm_close`). Once this returned `true`, a file whose VMA
    /// count the caller then reads as nonzero runs the work when its last
    /// VMA goes.
    pub(crate) fn run_background_on_unmap(&self, on: bool) {
        self.work().on_unmap.store(on, Ordering::Relaxed);
        // Pairs with the fence in `SbWork::last_unmap`.
        fence(Ordering::SeqCst);
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
