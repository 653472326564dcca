// SPDX-License-Identifier: GPL-2.0
//! The filesystem as the holder of its DAX device: what happens when the
//! device's memory is about to go (an unbind of the pmem driver, a
//! namespace being destroyed).
//!
//! The pmem driver's teardown runs `kill_dax`, which calls the holder's
//! `notify_failure` with `MF_MEM_PRE_REMOVE` while the memory and its
//! `struct page`s are still there, then marks the device dead and waits
//! for every user inside `dax_read_lock` (SRCU); then `del_gendisk` marks
//! the block device dead (`super_operations::shutdown`) and only then is
//! the memory unmapped. A DAX entry left in a mapping after that names a
//! page that no longer exists, and the eviction that deletes it
//! (`dax_disassociate_entry`) oopses: ext4 and xfs do, in 6.12.
//!
//! So on `MF_MEM_PRE_REMOVE` r2dax, like xfs, freezes the filesystem
//! (everything written back) and shuts it down
//! ([`SuperBlock::shut_down`]: from then on faults and I/O fail, so no
//! DAX entry is added); then for every cached DAX file it signals and
//! unmaps the processes mapping its DAX pages (`mf_dax_kill_procs`),
//! waits for pinned pages to be released and deletes every DAX entry, all
//! while the memory is there ([`INode::revoke_dax`]). An inode evicted
//! later, or one being evicted while this runs, finds the device dead and
//! drops its entries, looking at their pages only while they still exist
//! (the eviction in `super_ops`).
//!
//! Poison (`notify_failure` without `MF_MEM_PRE_REMOVE`) is handled by
//! [`SuperBlock::memory_failure`]: each block is recorded in
//! [`super::poison`] and its owner logged (metadata shuts the filesystem
//! down); the memory-failure core then marks the page and signals the
//! process that touched it.

use super::fs::{Operations, Tables};
use super::poison::BlockOwner;
use super::print::{sb_err, sb_warn};
use super::raw;
use super::sb::SuperBlock;
use super::vfs_inode::INode;
use core::ffi::c_int;

impl<T: Operations> Tables<T> {
    /// The holder operations registered with the DAX device
    /// ([`super::dax_device::DaxDevice::of`]).
    pub(super) const DAX_HOLDER_OPS: raw::dax_holder_operations = raw::dax_holder_operations {
        notify_failure: Some(Self::notify_failure),
    };

    /// # Safety
    ///
    /// Called by the DAX core (`dax_holder_notify_failure`, inside its
    /// SRCU read lock) for a device a superblock of ours holds or held.
    unsafe extern "C" fn notify_failure(
        dax_dev: *mut raw::dax_device,
        offset: u64,
        len: u64,
        mf_flags: c_int,
    ) -> c_int {
        let pre_remove = mf_flags as u32 & raw::mf_flags_MF_MEM_PRE_REMOVE != 0;
        // SAFETY: `dax_dev` is live for the call; the lookup only compares
        // it.
        let sb = unsafe { raw::r2dax_dax_holder_get(dax_dev) };
        if sb.is_null() {
            // Not mounted yet, or being unmounted: nothing maps the files,
            // and the eviction drops entries safely by itself. Poison is
            // left to the memory-failure core.
            return if pre_remove {
                0
            } else {
                -(raw::EOPNOTSUPP as c_int)
            };
        }
        let r = {
            // SAFETY: A superblock of ours that was born (its `SbData` is
            // set) and on which the lookup took an active reference.
            let sb = unsafe { SuperBlock::<T>::from_raw(sb) };
            if pre_remove {
                sb.dax_device_going_away();
                0
            } else {
                sb.memory_failure(offset, len)
            }
        };
        // SAFETY: The active reference taken by the lookup; the
        // superblock is not used after this (which may unmount it, if it
        // was lazily unmounted meanwhile).
        unsafe { raw::deactivate_super(sb) };
        r
    }
}

impl<T: Operations> SuperBlock<T> {
    /// The DAX device's memory is about to go: write back, shut down,
    /// then revoke every DAX mapping and entry. The caller holds an active
    /// reference and no lock of the filesystem.
    fn dax_device_going_away(&self) {
        sb_warn!(
            self,
            "the DAX device is going away: writing back, shutting down, unmapping DAX files"
        );
        // Freezing writes back everything and waits for writers and
        // faults to drain (xfs does the same here). It fails on a
        // filesystem that is shut down already (nothing can be written)
        // or frozen by the kernel already: the shutdown follows anyway.
        // SAFETY: The caller holds an active reference, which
        // `freeze_super` needs; no lock of ours is held.
        let frozen =
            unsafe { raw::freeze_super(self.as_raw(), raw::freeze_holder_FREEZE_HOLDER_KERNEL) }
                == 0;
        self.shut_down("the DAX device is going away");
        if frozen {
            // SAFETY: Frozen just above by the kernel holder.
            unsafe { raw::thaw_super(self.as_raw(), raw::freeze_holder_FREEZE_HOLDER_KERNEL) };
        }
        let mut revoked = 0usize;
        let _ = self.for_each_cached_inode(|i| {
            if i.is_dax() && i.revoke_dax() {
                revoked += 1;
            }
            Ok(())
        });
        sb_warn!(
            self,
            "DAX mappings and entries of {} files revoked",
            revoked
        );
    }
}

impl<T: Operations> SuperBlock<T> {
    /// Device bytes `offset..offset + len` of the DAX device are poisoned
    /// (called inside the DAX core's SRCU read lock, so `kill_dax` waits
    /// for it). Each block of the filesystem in the range is recorded
    /// first (reads and faults of it fail with `EIO` from then on, see
    /// [`super::poison`]), then its owner is looked up
    /// ([`FileSystem::block_owner`]: a scan, see its cost there) for the
    /// log: a file's block is logged with the file and offset, metadata
    /// shuts the filesystem down, a free block leaves the set again (its
    /// next user writes it whole). A block recorded already is not looked
    /// up again.
    ///
    /// Returns `-EOPNOTSUPP` for the range, so that the memory-failure
    /// core then does what it does for every fsdax page
    /// (`mf_generic_kill_procs`): from the page's own mapping and index it
    /// marks the exact page, and signals and unmaps the process that
    /// touched it (and early-kill processes). A machine check needs that
    /// (the page marked, so that pmem maps it back into the kernel once
    /// cleared; the task that consumed the poison killed, or it would
    /// take it again), and a scan could name a block that moved meanwhile.
    /// `-ENXIO` if the range is not the filesystem's.
    fn memory_failure(&self, offset: u64, len: u64) -> c_int {
        const B: u64 = 4096;
        let part = self.dax_device().map_or(0, |d| d.part_off());
        let size = self.device_bytes();
        let Some((start, end)) = offset
            .checked_sub(part)
            .and_then(|s| Some((s, s.checked_add(len)?.min(size))))
        else {
            return -(raw::ENXIO as c_int);
        };
        if start >= end {
            return -(raw::ENXIO as c_int);
        }
        for block in start / B..end.div_ceil(B) {
            match self.poison_add(block) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => {
                    sb_err!(
                        self,
                        "poisoned memory in block {}: could not be recorded",
                        block
                    );
                    continue;
                }
            }
            match T::block_owner(self, block) {
                Ok(BlockOwner::File { ino, offset }) => sb_err!(
                    self,
                    "inode {}: poisoned memory at offset {} (block {}): reads of that block fail with EIO until it is written or freed",
                    ino,
                    offset,
                    block
                ),
                Ok(BlockOwner::Metadata { what, ino }) => {
                    sb_err!(
                        self,
                        "poisoned memory in {} (block {}, inode {})",
                        what,
                        block,
                        ino
                    );
                    self.shut_down("poisoned metadata");
                }
                Ok(BlockOwner::Free) => {
                    // Freed before the bit was read, or free all along.
                    self.poison_forget(block, 1);
                    sb_warn!(self, "poisoned memory in free block {}", block);
                }
                Ok(BlockOwner::Unknown) | Err(_) => {
                    sb_warn!(self, "poisoned memory in block {}: no owner found", block);
                }
            }
        }
        -(raw::EOPNOTSUPP as c_int)
    }
}

impl<T: Operations> INode<T> {
    /// Revokes the DAX mappings and entries of the file on a filesystem
    /// that is shut down (so no fault, read or write adds an entry that
    /// names a page): under the inode lock and the invalidate lock
    /// (exclusive, which waits for faults in progress), the processes
    /// that map its DAX pages get `SIGBUS` and lose the mapping, every VMA
    /// is unmapped, pinned pages are waited for and every DAX entry is
    /// deleted. Whether it was a DAX file.
    ///
    /// The wait for pins has no time limit and ignores signals: once the
    /// notification returns, the driver frees the pages' `struct page`s,
    /// and a pin dropped after that would write to freed memory. It
    /// drops the invalidate lock meanwhile (the pin's holder may be in a
    /// fault on this file, which then fails) and says every 10 s what it
    /// waits for.
    fn revoke_dax(&self) -> bool {
        let inode = self.lock();
        let mut q = inode.quiesce();
        if !q.is_dax() {
            return false;
        }
        // SAFETY: The inode is live; its mapping is its own.
        let mapping = unsafe { (*self.as_raw()).i_mapping };
        // SAFETY: The mapping is live; the invalidate lock is held
        // exclusively on a shut-down filesystem (no entry is added).
        unsafe { raw::r2dax_dax_kill_mappers(mapping) };
        let mut waited = 0u32;
        loop {
            let page = q.unmap_find_pinned(0, u64::MAX);
            if page.is_null() {
                break;
            }
            // SAFETY: `page` is a DAX page of the file, whose struct page
            // exists until this notification returns.
            let left = q.unlocked(|| unsafe {
                raw::r2dax_wait_page_idle(page, kernel::time::msecs_to_jiffies(10_000) as _)
            });
            if left == 0 {
                waited += 10;
                sb_warn!(
                    self.sb(),
                    "inode {}: waiting {} s for a pinned DAX page to be released before the device goes",
                    self.ino(),
                    waited
                );
            }
        }
        // SAFETY: No VMA maps the file and no DAX page is pinned (both
        // just checked, under both locks); S_DAX is set, as truncate
        // expects for DAX entries.
        unsafe { raw::truncate_inode_pages(mapping, 0) };
        true
    }
}
