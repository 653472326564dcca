// SPDX-License-Identifier: GPL-2.0
//! Address-space operations: `struct address_space_operations` of
//! regular files (one table for the page cache, one for DAX) and the
//! writeback callbacks of iomap.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/iomap.h`](srctree/include/linux/iomap.h)

use super::fs::{Operations, Tables};
use super::raw;
use super::vfs_inode::INode;
use core::ffi::{c_int, c_uint};
use kernel::prelude::*;

impl<T: Operations> Tables<T> {
    /// Page-cache regular files (and symlinks with a block).
    pub(super) const FILE_AOPS: raw::address_space_operations = raw::address_space_operations {
        read_folio: Some(Self::read_folio),
        readahead: Some(Self::readahead),
        writepages: Some(Self::writepages),
        dirty_folio: Some(Self::dirty_folio),
        invalidate_folio: Some(raw::iomap_invalidate_folio),
        release_folio: Some(raw::iomap_release_folio),
        is_partially_uptodate: Some(raw::iomap_is_partially_uptodate),
        // Folios carry only iomap's private state, which it moves itself
        // (as xfs); without this, migration writes dirty folios back first.
        migrate_folio: Some(raw::filemap_migrate_folio),
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

    /// DAX regular files (as ext4's and xfs's DAX tables): no
    /// `read_folio` or `readahead`, so the kernel paths that reach a
    /// mapping through its operations to fill it with folios (swapon,
    /// uprobes, `read_cache_folio` users, forced readahead) refuse a DAX
    /// file instead of putting folios among its DAX entries. A mode switch
    /// swaps the tables (`InodeLocked::switch_dax`); `writepages` and
    /// `dirty_folio` are the same functions in both, because writeback
    /// and `folio_mark_dirty` read `a_ops` without r2dax's locks.
    pub(super) const DAX_AOPS: raw::address_space_operations = raw::address_space_operations {
        writepages: Some(Self::writepages),
        dirty_folio: Some(Self::dirty_folio),
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by the page cache with a locked folio of one of our files.
    unsafe extern "C" fn read_folio(_file: *mut raw::file, folio: *mut raw::folio) -> c_int {
        // SAFETY: Forwarded as is; `IOMAP_OPS` is promoted to a `'static`.
        unsafe { raw::iomap_read_folio(folio, &Self::IOMAP_OPS) }
    }

    /// # Safety
    ///
    /// Called by the page cache with a readahead control of one of our files.
    unsafe extern "C" fn readahead(rac: *mut raw::readahead_control) {
        // SAFETY: Forwarded as is; `IOMAP_OPS` is promoted to a `'static`.
        unsafe { raw::iomap_readahead(rac, &Self::IOMAP_OPS) }
    }

    /// # Safety
    ///
    /// Called by `folio_mark_dirty` for a folio of one of our mappings.
    unsafe extern "C" fn dirty_folio(
        mapping: *mut raw::address_space,
        folio: *mut raw::folio,
    ) -> bool {
        // SAFETY: Per the contract. An fsdax page (dirtied when a DMA pin
        // into a DAX mapping is dropped) is not page cache: its dirtiness
        // lives in the DAX entry, as for ext4's and xfs's DAX aops.
        unsafe {
            if raw::r2dax_folio_is_zone_device(folio) {
                raw::r2dax_noop_dirty_folio(mapping, folio)
            } else {
                raw::iomap_dirty_folio(mapping, folio)
            }
        }
    }

    const WRITEBACK_OPS: raw::iomap_writeback_ops = raw::iomap_writeback_ops {
        map_blocks: Some(Self::map_blocks),
        prepare_ioend: None,
        discard_folio: None,
    };

    /// # Safety
    ///
    /// Called by writeback for a mapping of ours.
    unsafe extern "C" fn writepages(
        mapping: *mut raw::address_space,
        wbc: *mut raw::writeback_control,
    ) -> c_int {
        // SAFETY: The mapping's host is a live inode of ours.
        let i = unsafe { INode::<T>::from_raw((*mapping).host) };
        // A shut-down filesystem writes nothing back (the dirty folios are
        // dropped at eviction), as ext4.
        if let Err(e) = i.check_up() {
            return e.to_errno();
        }
        // The mode lock (shared) keeps `S_DAX` from changing while this
        // writeback walks the mapping, so it never finds entries of the
        // other kind (see `switch_dax`).
        let _mode = i.mode_read();
        match i.sb().dax_device() {
            Some(dev) if i.is_dax() => {
                // SAFETY: The mapping and `wbc` are the call's; the DAX
                // device is live while the superblock is mounted.
                unsafe { raw::dax_writeback_mapping_range(mapping, dev.as_raw(), wbc) }
            }
            _ => {
                // SAFETY: A zeroed context is the initial state iomap
                // expects.
                let mut wpc: raw::iomap_writepage_ctx = unsafe { core::mem::zeroed() };
                // SAFETY: The mapping and `wbc` are the call's;
                // `WRITEBACK_OPS` is promoted to a `'static`.
                unsafe { raw::iomap_writepages(mapping, wbc, &mut wpc, &Self::WRITEBACK_OPS) }
            }
        }
    }

    /// # Safety
    ///
    /// Called by `iomap_writepages` with the context it was given.
    unsafe extern "C" fn map_blocks(
        wpc: *mut raw::iomap_writepage_ctx,
        inode: *mut raw::inode,
        offset: raw::loff_t,
        _len: c_uint,
    ) -> c_int {
        // SAFETY: Per the contract `wpc` is valid and ours for the call;
        // `iomap_writepages` keeps `wpc->iomap` from one call to the next,
        // for a whole writeback pass.
        let map = unsafe { &mut (*wpc).iomap };
        // SAFETY: Writeback passes a live inode of ours.
        let i = unsafe { INode::<T>::from_raw(inode) };
        // The folio at `offset` is locked and under writeback. A punch,
        // truncate, trim or shift that freed or moved blocks since the
        // mapping was made (they may belong to another file by now) has
        // moved the map generation on, so the cached mapping is used only
        // while its cookie is current (as xfs's `xfs_imap_valid`). The
        // generation moves before any pointer is cleared or moved, and a
        // folio dirtied over a new block after a punch is created after
        // the punch returned, so its check sees the new generation.
        if map.type_ == raw::IOMAP_MAPPED as u16
            && offset >= map.offset
            && (offset as u64) < map.offset as u64 + map.length
            && T::mapping_valid(i, map.validity_cookie)
        {
            return 0;
        }
        // SAFETY: The inode is live and `map` is valid for writes.
        let r = unsafe { Self::iomap_begin(inode, offset, 1 << 30, 0, map, core::ptr::null_mut()) };
        if r == 0 && map.type_ != raw::IOMAP_MAPPED as u16 {
            // Blocks are allocated when data is written (or a page is made
            // writable), so a dirty page over a hole is a bug.
            return EIO.to_errno();
        }
        r
    }
}
