// SPDX-License-Identifier: GPL-2.0
//! The DAX mode of an inode: a live switch between DAX and the page cache
//! ([`InodeLocked::switch_dax`]), and breaking DAX layouts before blocks go
//! ([`QuiesceGuard::break_layouts`]). The locking argument is in
//! Documentation/filesystems/r2dax/dax.rst.
//!
//! C headers: [`include/linux/dax.h`](srctree/include/linux/dax.h),
//! [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h)

use super::fs::{FileSystem, Operations, Tables};
use super::lock::{Excl, InodeLocked, QuiesceGuard};
use super::raw;
use super::vfs_inode::INode;
use core::sync::atomic::Ordering;
use kernel::error::code::EINVAL;
use kernel::prelude::*;
use kernel::time::msecs_to_jiffies;

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

/// The jiffies counter now.
fn jiffies() -> kernel::time::Jiffies {
    // SAFETY: A volatile read of the counter the timer interrupt updates
    // (an unlocked read of a word that only grows, as `time_after` users
    // do).
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(raw::jiffies)) }
}

/// Bytes `start..=end` widened to the whole 2 MiB (PMD) DAX entries that
/// hold their ends: what dropping the cache of the range really drops.
pub(super) fn whole_entries(start: u64, end: u64) -> (u64, u64) {
    let pmd = raw::PMD_SIZE as u64;
    (start & !(pmd - 1), end | (pmd - 1))
}

/// How long a mode switch waits for pinned pages before `EBUSY`.
pub(crate) const PIN_WAIT_MS: u32 = 100;

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
        // Under the invalidate lock (shared: a status query must not stall
        // faults) S_DAX cannot change, so the mapping holds DAX entries
        // only while `is_dax()`.
        let _g = self.invalidate_lock_shared();
        // SAFETY: The inode is live; its mapping is its own.
        let mapping = unsafe { (*self.as_raw()).i_mapping };
        // SAFETY: The mapping is live; the scan only reads entries and page
        // reference counts.
        self.is_dax() && !unsafe { raw::r2dax_dax_busy_page(mapping, 0, usize::MAX) }.is_null()
    }
}

impl<T: Operations> InodeLocked<'_, T, Excl> {
    /// Switches the file between DAX and the page cache (`to_dax`), now.
    ///
    /// With the inode lock held (the token: the VFS holds it around
    /// `->fileattr_set`), this drains direct I/O and takes the invalidate
    /// lock exclusively ([`InodeLocked::quiesce`]), so no read, write,
    /// truncate, fallocate, page fault or `->mmap` of the file runs. Then:
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
        self.switch_dax_within(to_dax, PIN_WAIT_MS, commit)
    }

    /// [`Self::switch_dax`], waiting at most `pin_wait_ms` (instead of
    /// [`PIN_WAIT_MS`]) for pins to go; 0 looks once.
    pub(crate) fn switch_dax_within(
        &self,
        to_dax: bool,
        pin_wait_ms: u32,
        commit: impl FnOnce() -> Result,
    ) -> core::result::Result<(), SwitchError> {
        if to_dax && self.sb().dax_device().is_none() {
            return Err(SwitchError::Failed(EINVAL));
        }
        // Direct I/O in flight finishes before the mode changes under it.
        let q = self.quiesce();
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
        let inode = self.as_raw();
        // SAFETY: The inode is live; its mapping is its own.
        let mapping = unsafe { (*inode).i_mapping };
        // SAFETY: The mapping is live (it is the inode's).
        kernel::error::to_result(unsafe { raw::r2dax_filemap_write_and_wait(mapping) })
            .map_err(SwitchError::Failed)?;
        if self.is_dax() {
            q.wait_dax_unpinned(mapping, pin_wait_ms)?;
            // SAFETY: No VMA, no pinned page (and none can appear: pins
            // need a VMA), no I/O; deletes every DAX entry while S_DAX is
            // still set, as truncate expects.
            unsafe { raw::truncate_inode_pages(mapping, 0) };
        } else {
            q.drop_page_cache(mapping, pin_wait_ms)?;
        }
        // SAFETY: The mapping is live.
        if !unsafe { raw::r2dax_mapping_empty(mapping) } {
            return Err(SwitchError::Pinned);
        }
        commit().map_err(SwitchError::Failed)?;
        // The mapping is empty and nothing can add to it while both locks
        // are held, so the new mode starts from nothing. The address space
        // operations change with the mode: a DAX file's have no
        // `read_folio` or `readahead` (see `Tables::DAX_AOPS`).
        let _mode = q.mode_write();
        let flag = if to_dax { raw::S_DAX } else { 0 };
        // SAFETY: The inode is live; `S_DAX` changes only here, under the
        // mode lock (exclusive) and with the mapping empty.
        unsafe { raw::inode_set_flags(inode, flag, raw::S_DAX) };
        let aops = if to_dax {
            &Tables::<T>::DAX_AOPS
        } else {
            &Tables::<T>::FILE_AOPS
        };
        // SAFETY: The mapping is live and empty; the tables are `'static`.
        unsafe { raw::r2dax_mapping_set_aops(mapping, aops) };
        Ok(())
    }
}

impl<T: FileSystem> QuiesceGuard<'_, T> {
    /// Waits (at most `wait_ms`) until no DAX page of the file is
    /// pinned. The file has no VMA.
    fn wait_dax_unpinned(
        &self,
        mapping: *mut raw::address_space,
        wait_ms: u32,
    ) -> core::result::Result<(), SwitchError> {
        let mut left = msecs_to_jiffies(wait_ms) as isize;
        loop {
            // SAFETY: The mapping is live and the guard holds the
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
    /// waits for pins to go, at most `wait_ms` in all.
    fn drop_page_cache(
        &self,
        mapping: *mut raw::address_space,
        wait_ms: u32,
    ) -> core::result::Result<(), SwitchError> {
        let deadline = jiffies().wrapping_add(msecs_to_jiffies(wait_ms));
        loop {
            // SAFETY: The mapping is live and the inode lock and the
            // guard's invalidate lock keep folios from being added. A folio
            // can still be dirtied meanwhile: a DMA pin taken through a
            // mapping that is gone dirties its folio when it is dropped (an
            // O_DIRECT read into it), so each round writes back again.
            // `invalidate_inode_pages2` removes clean folios whatever their
            // references, and fails (EBUSY) on one that is dirty or cannot
            // be released.
            let done = unsafe {
                raw::r2dax_filemap_write_and_wait(mapping) == 0
                    && !raw::r2dax_mapping_pinned(mapping)
                    && raw::r2dax_invalidate_inode_pages2(mapping) == 0
                    && raw::r2dax_mapping_empty(mapping)
            };
            if done {
                return Ok(());
            }
            if (jiffies().wrapping_sub(deadline) as isize) >= 0 {
                return Err(SwitchError::Pinned);
            }
            // SAFETY: A plain sleep.
            unsafe { raw::msleep(1) };
        }
    }

    /// Unmaps bytes `start..=end` of the file from every VMA and returns
    /// a DAX page in them that is pinned, through a VMA or by a pin that
    /// outlived its VMA, or null. The caller holds the inode lock and the
    /// guard's invalidate lock (so no VMA maps the range again).
    pub(super) fn unmap_find_pinned(&self, start: u64, end: u64) -> *mut raw::page {
        // SAFETY: The inode is live; its mapping is its own.
        let mapping = unsafe { (*self.as_raw()).i_mapping };
        let (bstart, bend) = (
            i64::try_from(start).unwrap_or(i64::MAX),
            i64::try_from(end).unwrap_or(i64::MAX),
        );
        let (pstart, pend) = (
            usize::try_from(start >> 12).unwrap_or(usize::MAX),
            usize::try_from(end >> 12).unwrap_or(usize::MAX),
        );
        // SAFETY: The mapping is live and the inode lock and the guard's
        // invalidate lock are held, as the function requires. It unmaps
        // the range from every VMA and finds pages pinned through them.
        let page = unsafe { raw::dax_layout_busy_page_range(mapping, bstart, bend) };
        if !page.is_null() {
            return page;
        }
        // SAFETY: The mapping is live, the inode lock and the guard's
        // invalidate lock are held; this finds pins that outlived their
        // VMA, which `dax_layout_busy_page_range` does not look for once
        // the file has no VMA.
        unsafe { raw::r2dax_dax_busy_page(mapping, pstart, pend) }
    }

    /// Waits until no DAX page in bytes `start..=end`, widened to whole
    /// 2 MiB entries, is pinned, before their blocks go or move (truncate,
    /// punch hole, zero range, collapse and insert range);
    /// `dax_layout_busy_page_range` unmaps the range from the existing
    /// VMAs first. While it waits it drops the invalidate lock (faults may
    /// map pages again meanwhile, so it rescans, unmapping again, once it
    /// has the lock back); it returns with the lock held and the range
    /// unmapped and unpinned. Interruptible (`ERESTARTSYS`); a no-op for
    /// page-cache files.
    pub(crate) fn break_layouts(&mut self, start: u64, end: u64) -> Result {
        if !self.is_dax() {
            return Ok(());
        }
        // Dropping the cache of a range drops whole entries: a cut inside a
        // 2 MiB (PMD) entry deletes all of it (the second pass of
        // `truncate_inode_pages_range`, `dax_delete_mapping_entry`). Its
        // pages below the cut may be mapped 4 KiB at a time by a VMA that
        // could not take the 2 MiB fault, and such a page table entry would
        // outlive the entry: a pin taken through it later has no entry for
        // any layout break to find. So the whole entries at the edges are
        // unmapped and waited for (test 021).
        let (start, end) = whole_entries(start, end);
        loop {
            let page = self.unmap_find_pinned(start, end);
            if page.is_null() {
                return Ok(());
            }
            // The invalidate lock is dropped while waiting, as ext4 does:
            // the pin's holder may be blocked in a fault on this file
            // (O_DIRECT from its mapping pins one page, then faults the
            // next). The loop rescans after retaking it.
            // SAFETY: `page` is a DAX page of the file (pmem pages have a
            // struct page for as long as the device is mounted).
            let r = self.unlocked(|| unsafe { raw::r2dax_wait_page_idle_interruptible(page) });
            if r != 0 {
                return Err(Error::from_errno(r as i32));
            }
        }
    }
}
