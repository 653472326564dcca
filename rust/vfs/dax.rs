// SPDX-License-Identifier: GPL-2.0
//! The DAX device under a superblock.
//!
//! C header: [`include/linux/dax.h`](srctree/include/linux/dax.h)
//!
//! A block device whose driver supports DAX (pmem in fsdax mode) has a
//! `dax_device` beside it. [`DaxDevice::of`] looks it up when a superblock
//! is filled, as ext2 does, without registering a holder (r2dax does not
//! take memory-failure notifications).
//!
//! This module also holds the mechanism of a live DAX mode switch
//! ([`INode::switch_dax`]), layout breaking ([`INode::break_layouts`]) and
//! the per-VMA fault operations. The locking argument is in
//! Documentation/filesystems/r2dax/dax.rst.

use super::errno::eopnotsupp;
use super::fs::FileSystem;
use super::inode::INode;
use super::ops::Tables;
use super::raw;
use super::sb::SuperBlock;
use core::ffi::{c_int, c_uint};
use core::ptr::NonNull;
use core::sync::atomic::Ordering;
use kernel::error::code::EINVAL;
use kernel::prelude::*;

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
// SAFETY: As above; the wrapper has no interior mutability of its own.
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

/// Why a DAX mode switch did not happen.
pub(crate) enum SwitchError {
    /// The file has VMAs (live mappings).
    Mapped,
    /// Pages of the file stayed pinned (DMA, O_DIRECT) past the wait.
    Pinned,
    /// A file opened read-only that had a page-cache mapping is still
    /// open, so a collapse may still read into the page cache (to DAX
    /// only; see `LayerInode::collapsible`).
    Collapsible,
    /// Writeback, the caller's commit, or a signal failed it.
    Failed(Error),
}

/// How long a mode switch waits for pinned pages before `EBUSY`.
pub(crate) const PIN_WAIT_MS: u32 = 100;

/// A held `invalidate_lock` (exclusive), released on drop.
struct InvalidateGuard(*mut raw::inode);

impl InvalidateGuard {
    /// # Safety
    ///
    /// `inode` must be live for the guard's lifetime.
    unsafe fn lock(inode: *mut raw::inode) -> Self {
        // SAFETY: Per the function contract.
        unsafe { raw::r2dax_invalidate_lock(inode) };
        Self(inode)
    }
}

impl Drop for InvalidateGuard {
    fn drop(&mut self) {
        // SAFETY: Taken in `lock`, the inode is live.
        unsafe { raw::r2dax_invalidate_unlock(self.0) };
    }
}

impl<T: FileSystem> INode<T> {
    /// How many VMAs map the file now (for status reports; only a caller
    /// holding the invalidate lock exclusively may act on it).
    pub(crate) fn mappings(&self) -> usize {
        self.layer().mmaps.load(Ordering::Acquire)
    }

    /// How many files opened read-only that had a page-cache mapping are
    /// still open (they keep a switch to DAX waiting). For status reports.
    pub(crate) fn collapsible_files(&self) -> usize {
        self.layer().collapsible.load(Ordering::Acquire)
    }

    /// Whether some DAX page of the file is referenced beyond the page
    /// cache (pinned for DMA or O_DIRECT). For status reports.
    pub(crate) fn dax_pinned(&self) -> bool {
        let inode = self.as_raw();
        // SAFETY: The inode is live. Under the invalidate lock (shared:
        // a status query must not stall faults) S_DAX cannot change, so
        // the mapping holds DAX entries only while `is_dax()`; the scan
        // only reads entries and page reference counts.
        unsafe {
            raw::r2dax_invalidate_lock_shared(inode);
            let busy = self.is_dax()
                && !raw::r2dax_dax_busy_page(raw::r2dax_inode_mapping(inode), 0, usize::MAX)
                    .is_null();
            raw::r2dax_invalidate_unlock_shared(inode);
            busy
        }
    }

    /// Switches the file between DAX and the page cache (`to_dax`), now.
    ///
    /// The caller holds the inode lock (the VFS does, around
    /// `->fileattr_set`). This takes the invalidate lock exclusively, so
    /// with both held no read, write, truncate, fallocate, page fault or
    /// `->mmap` of the file runs. Then:
    ///
    /// 1. if any VMA maps the file, it fails with [`SwitchError::Mapped`];
    /// 2. it writes back the file's data (DAX: flushes the CPU cache of
    ///    dirty entries; page cache: writes dirty folios);
    /// 3. it empties the mapping: DAX entries are deleted once no DAX page
    ///    is pinned, folios are dropped once none is referenced beyond the
    ///    page cache; either waits at most [`PIN_WAIT_MS`] in all, then
    ///    fails with [`SwitchError::Pinned`];
    /// 4. it calls `commit` (which makes the new flag durable); an error
    ///    there fails the switch with the mode unchanged;
    /// 5. it stores `S_DAX` under the mode lock, which excludes
    ///    `->writepages` choosing a writeback path meanwhile.
    ///
    /// On failure the mode is unchanged (the mapping may have lost clean
    /// cached data, which is harmless). The full argument is in
    /// Documentation/filesystems/r2dax/dax.rst.
    pub(crate) fn switch_dax(
        &self,
        to_dax: bool,
        commit: impl FnOnce() -> Result,
    ) -> core::result::Result<(), SwitchError> {
        if to_dax && self.sb().dax_device().is_none() {
            return Err(SwitchError::Failed(EINVAL));
        }
        let inode = self.as_raw();
        // SAFETY: The inode is live and the caller holds its lock; direct
        // I/O in flight finishes before the mode changes under it.
        unsafe { raw::inode_dio_wait(inode) };
        // SAFETY: The inode is live for the duration of the call.
        let _g = unsafe { InvalidateGuard::lock(inode) };
        if self.is_dax() == to_dax {
            return commit().map_err(SwitchError::Failed);
        }
        // With the invalidate lock held exclusively, `->mmap` cannot add a
        // VMA, and `open` only runs while another VMA is counted.
        if self.mappings() != 0 {
            return Err(SwitchError::Mapped);
        }
        // khugepaged or MADV_COLLAPSE may be reading into the page cache
        // with only a reference to such a file (its mapping may be gone
        // already); nothing r2dax can hold excludes that, so the switch
        // waits until the files are closed.
        if to_dax && self.collapsible_files() != 0 {
            return Err(SwitchError::Collapsible);
        }
        // SAFETY: The inode is live; its mapping is its own.
        let mapping = unsafe { raw::r2dax_inode_mapping(inode) };
        // SAFETY: As above.
        kernel::error::to_result(unsafe { raw::r2dax_filemap_write_and_wait(mapping) })
            .map_err(SwitchError::Failed)?;
        if self.is_dax() {
            self.wait_dax_unpinned(mapping)?;
            // SAFETY: No VMA, no pinned page (and none can appear: pins
            // need a VMA), no I/O; deletes every DAX entry while S_DAX is
            // still set, as truncate expects.
            unsafe { raw::truncate_inode_pages(mapping, 0) };
        } else {
            self.drop_page_cache(mapping)?;
        }
        // SAFETY: The mapping is live.
        if !unsafe { raw::r2dax_mapping_empty(mapping) } {
            return Err(SwitchError::Pinned);
        }
        commit().map_err(SwitchError::Failed)?;
        let sem = self.layer().mode_lock.get();
        // SAFETY: The mode lock is initialised (slab constructor). The
        // mapping is empty and nothing can add to it while we hold both
        // locks, so the new mode starts from nothing.
        // The address space operations change with the mode: a DAX file's
        // have no `read_folio` or `readahead` (see `Tables::DAX_AOPS`).
        unsafe {
            raw::down_write(sem);
            let flag = if to_dax { raw::S_DAX } else { 0 };
            raw::inode_set_flags(inode, flag, raw::S_DAX);
            raw::r2dax_mapping_set_aops(
                mapping,
                if to_dax {
                    &Tables::<T>::DAX_AOPS
                } else {
                    &Tables::<T>::FILE_AOPS
                },
            );
            raw::up_write(sem);
        }
        Ok(())
    }

    /// Waits (at most [`PIN_WAIT_MS`]) until no DAX page of the file is
    /// pinned. The caller holds both locks and the file has no VMA.
    fn wait_dax_unpinned(
        &self,
        mapping: *mut raw::address_space,
    ) -> core::result::Result<(), SwitchError> {
        // SAFETY: Converting a constant.
        let mut left = unsafe { raw::r2dax_msecs_to_jiffies(PIN_WAIT_MS) } as isize;
        loop {
            // SAFETY: The mapping is live and the caller holds the
            // invalidate lock exclusively (no VMA, so
            // `dax_layout_busy_page_range` would not look: see the helper).
            let page = unsafe { raw::r2dax_dax_busy_page(mapping, 0, usize::MAX) };
            if page.is_null() {
                return Ok(());
            }
            if left <= 0 {
                return Err(SwitchError::Pinned);
            }
            // SAFETY: `page` is a DAX page of the mapping; the DAX core
            // wakes `_refcount` waiters when a pin is dropped.
            left = unsafe { raw::r2dax_wait_page_idle(page, left) };
        }
    }

    /// Drops every folio of the page cache (written back already). A folio
    /// that may be pinned for DMA (O_DIRECT or io_uring from a mapping
    /// that is gone) would lose what the DMA still writes into it, so this
    /// waits for pins to go, at most [`PIN_WAIT_MS`] in all.
    fn drop_page_cache(
        &self,
        mapping: *mut raw::address_space,
    ) -> core::result::Result<(), SwitchError> {
        // SAFETY: Converting a constant; reading the jiffies counter.
        let deadline =
            unsafe { raw::jiffies.wrapping_add(raw::r2dax_msecs_to_jiffies(PIN_WAIT_MS)) };
        loop {
            // SAFETY: The mapping is live and the caller holds both locks:
            // nothing adds folios. A folio can still be dirtied meanwhile:
            // a DMA pin taken through a mapping that is gone dirties its
            // folio when it is dropped (an O_DIRECT read into it), so each
            // round writes back again. `invalidate_inode_pages2` removes
            // clean folios whatever their references, and fails (EBUSY) on
            // one that is dirty or cannot be released.
            let done = unsafe {
                raw::r2dax_filemap_write_and_wait(mapping) == 0
                    && !raw::r2dax_mapping_pinned(mapping)
                    && raw::r2dax_invalidate_inode_pages2(mapping) == 0
                    && raw::r2dax_mapping_empty(mapping)
            };
            if done {
                return Ok(());
            }
            // SAFETY: Reading the jiffies counter (a racy read of a word
            // that only grows is what time_after() does too).
            let now = unsafe { core::ptr::read_volatile(core::ptr::addr_of!(raw::jiffies)) };
            if (now.wrapping_sub(deadline) as isize) >= 0 {
                return Err(SwitchError::Pinned);
            }
            // SAFETY: A plain sleep.
            unsafe { raw::msleep(1) };
        }
    }

    /// Waits until no DAX page in bytes `start..=end` is pinned, before
    /// their blocks go (truncate, punch hole, zero range). The caller holds
    /// the inode lock and the invalidate lock exclusively;
    /// `dax_layout_busy_page_range` unmaps the range from the existing
    /// VMAs first. While it waits it drops the invalidate lock (faults may
    /// map pages again meanwhile, so it rescans, unmapping again, once it
    /// has the lock back); it returns with the lock held and the range
    /// unmapped and unpinned. Interruptible (`ERESTARTSYS`); a no-op for
    /// page-cache files.
    pub(crate) fn break_layouts(&self, start: u64, end: u64) -> Result {
        if !self.is_dax() {
            return Ok(());
        }
        let (bstart, bend) = (
            i64::try_from(start).unwrap_or(i64::MAX),
            i64::try_from(end).unwrap_or(i64::MAX),
        );
        let (pstart, pend) = (
            usize::try_from(start >> 12).unwrap_or(usize::MAX),
            usize::try_from(end >> 12).unwrap_or(usize::MAX),
        );
        let inode = self.as_raw();
        loop {
            // SAFETY: The inode is live and the caller holds the locks both
            // functions require. The first unmaps the range from every VMA
            // and finds pages pinned through them; the second finds pins
            // that outlived their VMA, which the first does not look for
            // once the file has no VMA.
            let page = unsafe {
                let mapping = raw::r2dax_inode_mapping(inode);
                let p = raw::dax_layout_busy_page_range(mapping, bstart, bend);
                if p.is_null() {
                    raw::r2dax_dax_busy_page(mapping, pstart, pend)
                } else {
                    p
                }
            };
            if page.is_null() {
                return Ok(());
            }
            // SAFETY: `page` is a DAX page of the file (pmem pages have a
            // struct page for as long as the device is mounted). The
            // invalidate lock is dropped while waiting, as ext4 does: the
            // pin's holder may be blocked in a fault on this file (O_DIRECT
            // from its mapping pins one page, then faults the next). The
            // loop rescans after retaking it.
            let r = unsafe {
                raw::r2dax_invalidate_unlock(inode);
                let r = raw::r2dax_wait_page_idle_interruptible(page);
                raw::r2dax_invalidate_lock(inode);
                r
            };
            if r != 0 {
                return Err(Error::from_errno(r as i32));
            }
        }
    }
}

/// Whether the VMA of a fault is a shared mapping being written: only
/// those allocate blocks and dirty the file (a private write fault copies
/// the page).
///
/// # Safety
///
/// `vmf` must be a fault in progress.
unsafe fn shared_write(vmf: *mut raw::vm_fault) -> bool {
    // SAFETY: Per the function contract the fault and its VMA are live.
    unsafe {
        raw::r2dax_vmf_flags(vmf) & raw::FAULT_FLAG_WRITE != 0
            && raw::r2dax_vma_flags(raw::r2dax_vmf_vma(vmf)) & raw::VM_SHARED as usize != 0
    }
}

impl<T: FileSystem> Tables<T> {
    /// VMAs of a DAX file. Installed by `->mmap` only while the file is in
    /// DAX mode, and the mode cannot change while the VMA is counted, so
    /// none of these handlers looks at the mode to decide what to do.
    pub(super) const DAX_VM_OPS: raw::vm_operations_struct = raw::vm_operations_struct {
        open: Some(Self::vm_open),
        close: Some(Self::vm_close),
        fault: Some(Self::dax_fault),
        huge_fault: Some(Self::dax_huge_fault),
        page_mkwrite: Some(Self::dax_fault),
        pfn_mkwrite: Some(Self::dax_fault),
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by the VFS for `mmap(2)` of an open regular file of ours
    /// (`mmap_lock` held for writing; the VMA is not linked anywhere yet).
    pub(super) unsafe extern "C" fn mmap(
        file: *mut raw::file,
        vma: *mut raw::vm_area_struct,
    ) -> c_int {
        // SAFETY: Per the contract. The invalidate lock (shared) excludes a
        // mode switch from reading the mode here to counting the VMA, so a
        // switch either sees the count or happened before the read. The
        // VMA's flags are left alone: a flag change would let mmap_region
        // merge the new VMA away without `close` (see dax.rst).
        unsafe {
            let inode = raw::r2dax_file_inode(file);
            let i = INode::<T>::from_raw(inode);
            raw::r2dax_invalidate_lock_shared(inode);
            let dax = i.is_dax();
            let dev = i
                .sb()
                .dax_device()
                .map_or(core::ptr::null_mut(), |d| d.as_raw());
            // MAP_SYNC needs a DAX file on a synchronous DAX device.
            if !raw::r2dax_daxdev_mapping_supported(vma, dev) {
                raw::r2dax_invalidate_unlock_shared(inode);
                return eopnotsupp().to_errno();
            }
            raw::r2dax_file_accessed(file);
            let ops: &'static raw::vm_operations_struct = if dax {
                &Self::DAX_VM_OPS
            } else {
                &Self::VM_OPS
            };
            raw::r2dax_vma_set_ops(vma, ops);
            i.layer().mmaps.fetch_add(1, Ordering::AcqRel);
            // A page-cache mapping of a file open read-only is one that
            // khugepaged may collapse: the file is counted until it is
            // released (see `LayerInode::collapsible`).
            if !dax
                && (*file).f_mode & raw::FMODE_WRITE == 0
                && raw::r2dax_collapse_possible()
                && raw::r2dax_file_mark_mapped(file)
            {
                i.layer().collapsible.fetch_add(1, Ordering::AcqRel);
            }
            raw::r2dax_invalidate_unlock_shared(inode);
        }
        0
    }

    /// # Safety
    ///
    /// Called by the MM for a copy of a VMA of ours (fork, split, mremap),
    /// while the original is still counted.
    pub(super) unsafe extern "C" fn vm_open(vma: *mut raw::vm_area_struct) {
        // SAFETY: Per the contract the VMA maps a live file of ours.
        unsafe {
            let i = INode::<T>::from_raw(raw::r2dax_vma_inode(vma));
            i.layer().mmaps.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// # Safety
    ///
    /// Called by the MM when a VMA of ours goes, after its page tables
    /// were zapped and the TLB flushed.
    pub(super) unsafe extern "C" fn vm_close(vma: *mut raw::vm_area_struct) {
        // SAFETY: Per the contract the VMA still holds its file.
        unsafe {
            let i = INode::<T>::from_raw(raw::r2dax_vma_inode(vma));
            let old = i.layer().mmaps.fetch_sub(1, Ordering::AcqRel);
            if old == 0 {
                // Unreachable by the counting argument; never wrap.
                i.layer().mmaps.store(0, Ordering::Release);
                kernel::pr_err!("r2dax: inode {}: mapping count underflow\n", i.ino());
            }
        }
    }

    /// Checks that a fault arrived through the operations of the file's
    /// mode (`dax`); the mode is stable while the VMA is counted. Reports
    /// and refuses (SIGBUS) otherwise, which would be a bug in the count.
    ///
    /// # Safety
    ///
    /// `vmf` must be a fault in progress on a VMA of ours.
    pub(super) unsafe fn check_mode(vmf: *mut raw::vm_fault, dax: bool) -> bool {
        // SAFETY: Per the function contract.
        let i = unsafe { INode::<T>::from_raw(raw::r2dax_vma_inode(raw::r2dax_vmf_vma(vmf))) };
        if i.is_dax() == dax {
            return true;
        }
        kernel::pr_err!(
            "r2dax: inode {}: {} fault on a {} file (BUG)\n",
            i.ino(),
            if dax { "DAX" } else { "page-cache" },
            if dax { "page-cache" } else { "DAX" }
        );
        false
    }

    /// The DAX fault handler for every order: PTE faults (order 0, also
    /// `page_mkwrite` and `pfn_mkwrite`) and PMD faults.
    ///
    /// # Safety
    ///
    /// Called by the MM for a fault on a DAX VMA of ours.
    unsafe extern "C" fn dax_huge_fault(vmf: *mut raw::vm_fault, order: c_uint) -> raw::vm_fault_t {
        // SAFETY: Per the contract. Lock order as ext4 and xfs: mmap_lock
        // (held by the caller) → freeze protection → invalidate lock
        // (shared: excludes truncate, hole punching and mode switches).
        // A MAP_SYNC fault whose metadata is not durable yet comes back
        // with VM_FAULT_NEEDDSYNC and a pfn; `dax_finish_sync_fault` runs
        // fsync on the range and then installs the entry.
        unsafe {
            if !Self::check_mode(vmf, true) {
                return raw::VM_FAULT_SIGBUS;
            }
            let vma = raw::r2dax_vmf_vma(vmf);
            let inode = raw::r2dax_vma_inode(vma);
            let sb = (*inode).i_sb;
            let write = shared_write(vmf);
            if write {
                raw::r2dax_sb_start_pagefault(sb);
                raw::file_update_time((*vma).vm_file);
            }
            raw::r2dax_invalidate_lock_shared(inode);
            let mut pfn = raw::pfn_t { val: 0 };
            let mut ret = raw::dax_iomap_fault(
                vmf,
                order,
                &mut pfn,
                core::ptr::null_mut(),
                &Self::IOMAP_OPS,
            );
            if ret & raw::vm_fault_reason_VM_FAULT_NEEDDSYNC != 0 {
                ret = raw::dax_finish_sync_fault(vmf, order, pfn);
            }
            raw::r2dax_invalidate_unlock_shared(inode);
            if write {
                raw::r2dax_sb_end_pagefault(sb);
            }
            ret
        }
    }

    /// # Safety
    ///
    /// As [`Self::dax_huge_fault`], for order 0.
    unsafe extern "C" fn dax_fault(vmf: *mut raw::vm_fault) -> raw::vm_fault_t {
        // SAFETY: Per the contract.
        unsafe { Self::dax_huge_fault(vmf, 0) }
    }
}
