// SPDX-License-Identifier: GPL-2.0
//! Regular-file operations beyond read and write: fsync, fallocate and
//! release (the role of fs/ext2/file.c), as [`FileOperations`]. Read,
//! write and mmap are the layer's iomap glue (`vfs/file_ops.rs`) over
//! the block mapping of `iomap.rs`.

use crate::inode::{release_blocks, sync_attrs, write_disk};
use crate::iomap::{map_range, Fill};
use crate::ondisk::{mode, BLOCK_SIZE, MAX_FILE_BLOCKS};
use crate::shift::{shift_blocks, Shift};
use crate::super_::R2dax;
use crate::vfs::errno::eopnotsupp;
use crate::vfs::file_ops::{
    FileOperations, IoctlOut, FALLOC_FL_COLLAPSE_RANGE as COLLAPSE_RANGE,
    FALLOC_FL_INSERT_RANGE as INSERT_RANGE, FALLOC_FL_KEEP_SIZE as KEEP_SIZE,
    FALLOC_FL_PUNCH_HOLE as PUNCH_HOLE, FALLOC_FL_ZERO_RANGE as ZERO_RANGE,
};
use crate::vfs::iomap_ops::IOMAP_WRITE;
use crate::vfs::lock::{Exclusive, Quiesced};
use crate::vfs::vfs_inode::INode;
use kernel::error::code::{EFBIG, EINVAL, ENODEV};
use kernel::prelude::*;

const BS: u64 = BLOCK_SIZE as u64;

/// Allocates every hole in `start..end` (blocks come zeroed from the
/// allocator, so preallocated space reads as zeros).
///
/// A DAX file's read faults may have put zero-page entries over the holes;
/// those must go, or mappings keep reading zeros after writes reach the
/// new blocks (the layer unmapped the range and waited for pins before
/// calling fallocate). Only the ranges that were holes are dropped: the
/// entries of blocks that were already allocated may be dirty (stores
/// through a mapping), and deleting them would skip the cache flush that
/// fsync owes them.
fn preallocate(inode: &Quiesced<'_, R2dax>, start: u64, end: u64) -> Result {
    let mut pos = start;
    while pos < end {
        let m = map_range(inode, pos, end - pos, IOMAP_WRITE, Fill::Prealloc)?;
        if m.new && inode.is_dax() {
            inode.truncate_pagecache_range(m.offset, m.offset + m.length - 1)?;
        }
        pos = m.offset + m.length;
    }
    Ok(())
}

/// Frees the whole blocks inside `start..end` and zeroes the partial
/// blocks at its edges (through the page cache).
fn punch(inode: &Quiesced<'_, R2dax>, start: u64, end: u64) -> Result {
    let size = inode.size();
    let first_full = start.div_ceil(BS);
    let last_full = end / BS; // exclusive
                              // Partial edges, only inside the file.
    let head_end = (first_full * BS).min(end).min(size);
    if start < head_end {
        inode.zero_range(start, head_end - start)?;
    }
    let tail_start = (last_full * BS).max(start);
    if tail_start < end.min(size) && last_full >= first_full {
        inode.zero_range(tail_start, end.min(size) - tail_start)?;
    }
    if first_full >= last_full {
        return Ok(());
    }
    inode.truncate_pagecache_range(first_full * BS, last_full * BS - 1)?;
    release_blocks(inode, first_full, last_full)
}

/// Collapses (removes) or inserts (as a hole) the `len` bytes at `offset`,
/// moving everything after them, with ext4's rules: both block-aligned
/// (`EINVAL`); a collapse must end before the end of the file (`EINVAL`:
/// up to the end it would be a truncate); an insert must start inside
/// the file (`EINVAL`) and the file must not grow beyond the largest
/// (`EFBIG`).
///
/// Everything from `offset` on is going to move, so (after the layer broke
/// the DAX layouts from `offset` to the end) its dirty data is written
/// back to the blocks it belongs to (CPU caches flushed, for a DAX file)
/// and its page cache (or DAX entries) dropped, before any block moves
/// ([`shift_blocks`]). The collapsed range is written back too, which
/// costs little and keeps a failed collapse from losing buffered data in
/// it.
fn shift_range(inode: &Quiesced<'_, R2dax>, shift: Shift, offset: u64, len: u64) -> Result {
    if offset % BS != 0 || len % BS != 0 {
        return Err(EINVAL);
    }
    let size = inode.size();
    let end = offset.checked_add(len).ok_or(EFBIG)?;
    let new_size = match shift {
        Shift::Collapse if end >= size => return Err(EINVAL),
        Shift::Collapse => size - len,
        Shift::Insert if offset >= size => return Err(EINVAL),
        Shift::Insert => size.checked_add(len).ok_or(EFBIG)?,
    };
    if new_size.div_ceil(BS) > MAX_FILE_BLOCKS {
        return Err(EFBIG);
    }
    // Everything that moves is written back, and, as for every cut, the
    // 2 MiB DAX entry that holds `offset` (`truncate_pagecache_from`).
    inode.write_back_from(offset)?;
    inode.truncate_pagecache_from(offset)?;
    shift_blocks(inode, shift, offset / BS, len / BS, new_size)
}

/// The regular-file operations (the role of fs/ext2/file.c).
impl FileOperations for R2dax {
    /// `fsync`: writes the inode, then flushes the device's write cache, so
    /// everything this inode's metadata writes put on the device is durable
    /// (map blocks and bitmaps are written before the inode that uses them).
    ///
    /// `fdatasync` (`datasync`, also what a MAP_SYNC fault runs) skips the
    /// inode write when the size on the media is the size in memory: what
    /// reaching the data needs besides the size (the block map, the inode's
    /// roots) is written through when it changes, and timestamps may wait for
    /// writeback, as fdatasync(2) allows. The device is flushed either way.
    fn fsync(inode: &INode<Self>, datasync: bool) -> Result {
        let gen = {
            let mut st = inode.data().state.lock();
            if !datasync || st.write_failed || st.disk.size != inode.size() {
                sync_attrs(inode, &mut st);
                write_disk(inode.sb(), inode.ino(), &mut st)?;
            }
            st.meta_gen
        };
        inode.sb().flush_device()?;
        let mut st = inode.data().state.lock();
        if st.flushed_gen < gen {
            st.flushed_gen = gen;
        }
        Ok(())
    }

    /// `fallocate(2)`: default (allocate, extend the size), `KEEP_SIZE`,
    /// `PUNCH_HOLE | KEEP_SIZE`, `ZERO_RANGE` (with or without
    /// `KEEP_SIZE`), `COLLAPSE_RANGE` and `INSERT_RANGE` (the VFS refuses
    /// them with `KEEP_SIZE`). Other modes are refused with `EOPNOTSUPP`.
    fn fallocate(inode: &Quiesced<'_, Self>, fmode: u32, offset: u64, len: u64) -> Result {
        if inode.mode() & mode::S_IFMT != mode::S_IFREG {
            return Err(ENODEV);
        }
        if len == 0 {
            return Err(EINVAL);
        }
        let end = offset.checked_add(len).ok_or(EFBIG)?;
        if end.div_ceil(BS) > MAX_FILE_BLOCKS {
            return Err(EFBIG);
        }
        let keep = fmode & KEEP_SIZE != 0;
        // What appends preallocated beyond the size goes back first: a
        // fallocate that grows the file past it must leave a hole there, not
        // blocks nobody asked for (generic/225 found the same after writes).
        // Then nothing is recorded, so a trim at close never frees what this
        // call allocates. The layer holds the locks `trim_prealloc` needs.
        crate::iomap::trim_prealloc(inode)?;
        inode.data().state.lock().prealloc = None;
        match fmode & !KEEP_SIZE {
            0 => preallocate(inode, offset, end)?,
            PUNCH_HOLE if keep => return punch(inode, offset, end),
            COLLAPSE_RANGE => return shift_range(inode, Shift::Collapse, offset, len),
            INSERT_RANGE => return shift_range(inode, Shift::Insert, offset, len),
            ZERO_RANGE => {
                punch(inode, offset, end)?;
                // The whole blocks come back zeroed; partial ones were zeroed
                // in place by the punch.
                preallocate(inode, offset, end)?;
            }
            _ => return Err(eopnotsupp()),
        }
        let old = inode.size();
        if !keep && end > old {
            // As a truncate up: bytes a mapping stored beyond the old end of
            // the file must not become file data.
            inode.zero_tail(old)?;
            inode.set_size(end);
        }
        inode.touch_mtime();
        crate::inode::write_inode(inode)
    }

    /// Whether `release` has anything to do (checked without the layer's
    /// locks, so closing a file that never appended takes none of them).
    fn wants_release(inode: &INode<Self>) -> bool {
        inode.data().state.lock().prealloc.is_some()
    }

    /// `->release` of a descriptor opened for writing: gives back the blocks
    /// appends preallocated beyond the end of the file
    /// ([`crate::iomap::trim_prealloc`]). The layer holds the inode lock and
    /// the invalidate lock exclusively.
    fn release(inode: &Quiesced<'_, Self>) -> Result {
        crate::iomap::trim_prealloc(inode)
    }

    /// A write is about to start at byte `pos`, beyond the end of the file:
    /// the speculative preallocation it jumps over goes back
    /// ([`crate::iomap::trim_prealloc_below`]). The layer holds the inode lock
    /// and the invalidate lock exclusively, with direct I/O drained.
    fn write_past_eof(inode: &Quiesced<'_, Self>, pos: u64) -> Result {
        crate::iomap::trim_prealloc_below(inode, pos / BS)
    }

    /// The private ioctls ([`crate::dax::ioctl_read`]).
    fn ioctl_read(inode: &INode<Self>, cmd: u32, out: IoctlOut) -> Result {
        crate::dax::ioctl_read(inode, cmd, out)
    }
}
