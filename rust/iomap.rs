// SPDX-License-Identifier: GPL-2.0
//! The iomap role (`ext2_iomap_begin` and `ext2_get_blocks` in
//! fs/ext2/inode.c): file ranges to device ranges for every I/O path
//! (page cache, O_DIRECT, DAX reads, writes and faults), the extent cache
//! that answers most of them, and the allocation policy of writes into
//! holes (2 MiB placement, speculative preallocation of appends).
//!
//! [`map_extent`] is the one block-mapping function. The block map's
//! on-disk updates (inserting runs, punching) are in `inode.rs`; the
//! per-inode `State` that both use, and its lock, are declared there.

use crate::alloc;
use crate::inode::{
    map_insert_run, map_lookup, read_ptr, release_blocks, sync_attrs, write_disk, State,
};
use crate::ondisk::{
    map_path, mode, ptr_block, BLOCK_SHIFT, BLOCK_SIZE, MAP_FANOUT, MAX_FILE_BLOCKS, PMD_BLOCKS,
    PTR_UNWRITTEN,
};
use crate::super_::R2dax;
use crate::vfs::errno::euclean;
use crate::vfs::iomap_ops::{
    IomapOperations, MapKind, Mapping, IOMAP_FAULT, IOMAP_REPORT, IOMAP_WRITE, IOMAP_ZERO,
};
use crate::vfs::lock::Quiesced;
use crate::vfs::print::sb_err;
use crate::vfs::vfs_inode::INode;
use kernel::error::code::EFBIG;
use kernel::prelude::*;

/// The mapped runs [`map_extent`] has found, so that a later lookup in
/// them skips the walk down the map (a buffer-cache lookup and a buffer
/// lock per level, the largest cost of a 4 KiB DAX read or write).
///
/// Each run is (file block, device block, length): maximal within its
/// leaf when [`map_extent`] found it, and merged with the runs that
/// `iomap_begin` allocates next to it; runs are sorted and disjoint.
/// Filling a hole never changes a cached run (holes are not cached, and a
/// run found later that covers cached ones replaces them), nor does
/// marking unwritten blocks written (unwritten runs are not cached either;
/// see [`map_run`]); `map_punch` in `inode.rs` and a shift's switch to
/// its new map (`shift.rs`), the only code that clears or moves pointers
/// of a live inode, empty the cache. Protected by `RInode::state`, like
/// the map itself.
#[derive(Default)]
pub(crate) struct ExtentCache {
    runs: KVec<(u64, u64, u64)>,
}

/// Runs kept per inode (24 bytes each): 1 GiB of 2 MiB runs.
const EXTENT_CACHE_MAX: usize = 512;

impl ExtentCache {
    /// The device block of file block `lblk` and how many blocks the run
    /// goes on from there, if a cached run covers it.
    fn lookup(&self, lblk: u64) -> Option<(u64, u64)> {
        let i = self.runs.partition_point(|r| r.0 <= lblk);
        let &(l, p, n) = self.runs.get(i.checked_sub(1)?)?;
        if lblk < l + n {
            Some((p + (lblk - l), l + n - lblk))
        } else {
            None
        }
    }

    /// Adds the run (file block `l`, device block `p`, `n` blocks), merged
    /// with cached runs it continues on both sides (a file written in
    /// pieces must still map as one 2 MiB run for PMD faults). A full cache
    /// starts over; without memory the run is simply not cached.
    pub(crate) fn insert(&mut self, mut l: u64, mut p: u64, mut n: u64) {
        let i = self.runs.partition_point(|r| r.0 < l);
        if let Some(&(pl, pp, pn)) = i.checked_sub(1).and_then(|j| self.runs.get(j)) {
            if pl + pn == l && pp + pn == p {
                (l, p, n) = (pl, pp, pn + n);
            }
        }
        if let Some(&(sl, sp, sn)) = self.runs.get(i) {
            if l + n == sl && p + n == sp {
                n += sn;
            }
        }
        let overlaps = |r: &(u64, u64, u64)| r.0 < l + n && l < r.0 + r.2;
        if self.runs.len() >= EXTENT_CACHE_MAX || self.runs.iter().any(overlaps) {
            // Rebuild without the runs the new one covers.
            let mut kept = KVec::new();
            if self.runs.len() < EXTENT_CACHE_MAX {
                for r in self.runs.iter().filter(|r| !overlaps(r)) {
                    if kept.push(*r, GFP_NOWAIT).is_err() {
                        kept = KVec::new();
                        break;
                    }
                }
            }
            self.runs = kept;
        }
        let i = self.runs.partition_point(|r| r.0 < l);
        if self.runs.push((l, p, n), GFP_NOWAIT).is_ok() {
            self.runs[i..].rotate_right(1);
        }
    }

    /// Forgets every run.
    pub(crate) fn clear(&mut self) {
        self.runs = KVec::new();
    }
}

/// Maps up to `max` file blocks from `lblk` on: returns the device block
/// of `lblk` (`None` for a hole) and how many following file blocks
/// continue the same way (contiguous on the device, or a hole), at least 1.
/// A hole run ends with the leaf that holds `lblk`'s pointer or, where
/// that leaf or a map block above it is missing, with the missing block's
/// subtree; so one call reads at most one map block per level. A mapped
/// run comes from the extent cache when it has one (and may then go on
/// past that map block). Unwritten blocks count as mapped (they are
/// zeroed); see [`map_run`].
pub(crate) fn map_extent(inode: &INode<R2dax>, lblk: u64, max: u64) -> Result<(Option<u64>, u64)> {
    let (p, n, _) = map_run(inode, lblk, max)?;
    Ok((p, n))
}

/// [`map_extent`], and whether the run is unwritten (`PTR_UNWRITTEN`: a
/// run has one state throughout). Unwritten runs are not cached: the
/// cache holds only runs no pointer change but a punch can alter.
pub(crate) fn map_run(
    inode: &INode<R2dax>,
    lblk: u64,
    max: u64,
) -> Result<(Option<u64>, u64, bool)> {
    let sb = inode.sb();
    let geo = &sb.info().geo;
    let unwritten_ok = sb.info().unwritten;
    let mut state = inode.data().state.lock();
    if let Some((p, rest)) = state.extents.lookup(lblk) {
        return Ok((Some(p), rest.min(max).max(1), false));
    }
    let disk = &state.disk;
    let bad = |what: &str, p: u64| {
        sb_err!(
            sb,
            "inode {}: {} {} is outside the data area",
            inode.ino(),
            what,
            p
        );
        euclean()
    };
    let Some((root, path)) = map_path(lblk, disk.height) else {
        return Ok((None, max.max(1), false));
    };
    let height = disk.height as usize;
    // Levels of map under a missing map block on the path (1: the leaf).
    let mut zero_levels = 1;
    // Pointers of the last level: the roots (height 0) or a leaf.
    let (ptrs_from_roots, leaf) = if height == 0 {
        (true, None)
    } else {
        let mut blk = disk.roots[root];
        for (depth, &idx) in path.iter().take(height - 1).enumerate() {
            if blk == 0 {
                // A missing map block: the whole subtree below it, the
                // `height - depth` levels from here down, is a hole.
                zero_levels = height - depth;
                break;
            }
            if !geo.is_data_block(blk) {
                return Err(bad("map block", blk));
            }
            let bh = sb.bread(blk)?;
            blk = bh.with_data(|d| read_ptr(d, idx))?;
        }
        if blk != 0 && !geo.is_data_block(blk) {
            return Err(bad("map block", blk));
        }
        (false, Some(blk))
    };
    let idx = if height == 0 { root } else { path[height - 1] };
    let limit = if ptrs_from_roots {
        disk.roots.len()
    } else {
        MAP_FANOUT as usize
    };
    if leaf == Some(0) {
        // The subtree of the missing block is a hole, from `lblk` to its
        // end: one call covers it, so a walk over a sparse file (FIEMAP,
        // SEEK_DATA) takes a step per missing subtree, not per leaf.
        let span = MAP_FANOUT.pow(zero_levels as u32);
        let run = span - lblk % span;
        return Ok((None, run.min(max).max(1), false));
    }
    // Scan the pointers from `idx` on (the roots, or the leaf block), to
    // the end of the run within the leaf; a mapped written run also
    // backwards to its start, for the cache. Pointers are compared with
    // their `PTR_UNWRITTEN` bit: `raw + k` continues a run in the same
    // state (block numbers are far below bit 63).
    let scan = |ptrs: &dyn Fn(usize) -> Result<u64>| -> Result<(u64, u64, u64, bool)> {
        let raw = ptrs(idx)?;
        let unwritten = raw & PTR_UNWRITTEN != 0;
        let first = ptr_block(raw);
        if raw != 0 && !geo.is_data_block(first) {
            return Err(bad("block", first));
        }
        if unwritten && !unwritten_ok {
            sb_err!(
                sb,
                "inode {}: block {} is marked unwritten, which this filesystem's features do not allow",
                inode.ino(),
                first
            );
            return Err(euclean());
        }
        let continues = |p: u64, k: u64| {
            if raw == 0 {
                p == 0
            } else {
                p == raw + k && geo.is_data_block(ptr_block(p))
            }
        };
        let mut n = 1u64;
        while idx + (n as usize) < limit && (raw != 0 || n < max) {
            if !continues(ptrs(idx + n as usize)?, n) {
                break;
            }
            n += 1;
        }
        let mut back = 0u64;
        while first != 0 && !unwritten && (back as usize) < idx && first > back + 1 {
            let p = ptrs(idx - back as usize - 1)?;
            if p != first - back - 1 || !geo.is_data_block(p) {
                break;
            }
            back += 1;
        }
        Ok((first, n, back, unwritten))
    };
    let (first, n, back, unwritten) = match leaf {
        Some(b) => {
            let bh = sb.bread(b)?;
            bh.with_data(|d| scan(&|i| read_ptr(d, i)))?
        }
        None => scan(&|i| Ok(disk.roots.get(i).copied().unwrap_or(0)))?,
    };
    if first != 0 && !unwritten {
        state.extents.insert(lblk - back, first - back, back + n);
    }
    drop(state);
    Ok(((first != 0).then_some(first), n.min(max).max(1), unwritten))
}

/// How [`map_range`] fills holes (with `IOMAP_WRITE`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// Exactly the blocks asked for, written: data is about to land there
    /// (a write, a fault, zeroing). Unwritten blocks in the range become
    /// written first.
    Write,
    /// As `Write`, and an append may preallocate speculatively beyond.
    Append,
    /// Exactly the blocks asked for, unwritten where the filesystem has
    /// the feature (`fallocate`); blocks already there stay as they are.
    Prealloc,
}

/// [`iomap_begin`] for `inode`'s byte range `pos..pos + len`, filling
/// holes (`IOMAP_WRITE`) as `how` says.
///
/// Unwritten blocks (`PTR_UNWRITTEN`) are zeroed on the media, so every
/// path but a report may use them as they are: reads get them as mapped
/// (they read zeros), and a write of any kind (`write(2)`, O_DIRECT, DAX,
/// a page-cache or DAX write fault, `pfn_mkwrite`, zeroing) marks them
/// written here, before it returns the mapping that data will go through.
/// Those are all the ways data reaches a block of a regular file:
/// writeback only writes folios a buffered write or `page_mkwrite`
/// dirtied, both after this. So a block reported unwritten (FIEMAP,
/// SEEK_DATA) holds zeros.
pub(crate) fn map_range(
    inode: &INode<R2dax>,
    pos: u64,
    len: u64,
    flags: u32,
    how: Fill,
) -> Result<Mapping> {
    // Sampled before the map is read: a punch that overlaps the lookup
    // makes the mapping look stale (harmless), never fresh.
    let cookie = map_generation(inode);
    let lblk = pos >> BLOCK_SHIFT;
    let end = pos.checked_add(len).ok_or(EFBIG)?;
    let want = end
        .div_ceil(u64::from(BLOCK_SIZE))
        .saturating_sub(lblk)
        .max(1);
    let (pblk, n, unwritten) = map_run(inode, lblk, want)?;
    // Only a (MAP_SYNC) fault cares whether metadata is durable.
    let fault = flags & IOMAP_FAULT != 0;
    let report = flags & IOMAP_REPORT != 0;
    let mapping = |p: Option<u64>, n: u64, new: bool, unwritten: bool| Mapping {
        offset: lblk << BLOCK_SHIFT,
        length: n << BLOCK_SHIFT,
        kind: match p {
            Some(p) if unwritten && report => MapKind::Unwritten(p << BLOCK_SHIFT),
            Some(p) => MapKind::Mapped(p << BLOCK_SHIFT),
            None => MapKind::Hole,
        },
        new,
        dirty: fault && metadata_dirty(inode),
        cookie,
    };
    if report {
        // FIEMAP, SEEK_HOLE and SEEK_DATA see the file's layout, which the
        // speculative preallocation beyond its end is not part of while a
        // writer has it open (fiemap-tester, generic/225, looks there for
        // holes). Blocks `fallocate` asked for are never recorded, so they
        // are reported. The callers hold the inode lock (shared), so the
        // range and the size are stable.
        if let Some((s, e)) = speculative(inode) {
            if (s..e).contains(&lblk) {
                return Ok(mapping(None, n.min(e - lblk), false, false));
            }
            if pblk.is_some() && lblk < s && lblk + n > s {
                return Ok(mapping(pblk, s - lblk, false, unwritten));
            }
        }
    }
    if flags & IOMAP_WRITE == 0 || (pblk.is_some() && (!unwritten || how == Fill::Prealloc)) {
        return Ok(mapping(pblk, n, false, unwritten));
    }
    // Look again with holes serialised: another writer may have filled
    // this one, or marked it written, since.
    let _fill = inode.data().fill.lock();
    let extra = if how == Fill::Append {
        append_extra(inode, lblk, want)
    } else {
        0
    };
    let (pblk, n, unwritten) = map_run(inode, lblk, want + extra)?;
    if let Some(p) = pblk {
        let n = n.min(want);
        if unwritten && how != Fill::Prealloc {
            mark_written(inode, lblk, p, n)?;
        }
        return Ok(mapping(pblk, n, false, unwritten && how == Fill::Prealloc));
    }
    // One run never spans two leaves (or the roots and a leaf), so one map
    // update either inserts all of it or none of it.
    let n = n.min(MAP_FANOUT - lblk % MAP_FANOUT);
    if lblk + n > MAX_FILE_BLOCKS {
        return Err(EFBIG);
    }
    // Fill the hole run [lblk, lblk + n).
    let sb = inode.sb();
    let goal = crate::dir::group_of(inode);
    // Placement for PMD mappings: inside one leaf (2 MiB of the file) the
    // file grows right after its previous block; a leaf's first block
    // starts a free 2 MiB region when the file is, or is being written,
    // large (a whole leaf at once, 64 KiB or more at once, or beyond its
    // first 2 MiB). Small files start anywhere and fragment nothing.
    let next_to = if lblk % PMD_BLOCKS != 0 {
        map_extent(inode, lblk - 1, 1)?.0.map(|p| p + 1)
    } else {
        None
    };
    let alloc_goal = alloc::Goal {
        group: goal,
        next_to,
        // The request's size, not the hole's: a file's first blocks are
        // mapped from the inode's roots, which hold only a few.
        aligned: lblk % PMD_BLOCKS == 0 && (want >= LARGE_WRITE_BLOCKS || lblk >= PMD_BLOCKS),
        meta: false,
    };
    let (first, got) = alloc::alloc_blocks(sb, alloc_goal, n)?;
    // What fallocate allocates stays unwritten until data goes there.
    let unwritten = how == Fill::Prealloc && sb.info().unwritten;
    let ptr = |p: u64| if unwritten { p | PTR_UNWRITTEN } else { p };
    let mut st = inode.data().state.lock();
    if let Err(e) = map_insert_run(sb, goal, &mut st, lblk, ptr(first), got) {
        insert_failed(inode, &mut st, lblk, ptr(first), got);
        return Err(e);
    }
    if !unwritten {
        st.extents.insert(lblk, first, got);
    }
    if got > want {
        // The blocks beyond the write are speculative. A run that goes on
        // from the recorded one extends it; any other replaces it (only
        // contiguous ranges are ever recorded, so a trim never frees
        // blocks in between, which fallocate may have asked for). The old
        // range then becomes ordinary blocks: inside the file once this
        // write moves the size past it, otherwise (after a failed write)
        // beyond it until a truncate frees them.
        st.prealloc = match st.prealloc {
            Some((s0, e0)) if e0 == lblk + want => Some((s0, lblk + got)),
            _ => Some((lblk + want, lblk + got)),
        };
    }
    st.disk.blocks += got;
    inode.set_blocks(st.disk.blocks);
    sync_attrs(inode, &mut st);
    write_disk(sb, inode.ino(), &mut st)?;
    // `mapping` looks at the state again.
    drop(st);
    Ok(mapping(Some(first), got, true, unwritten))
}

/// Marks the unwritten run of file blocks `lblk..lblk + n` (device blocks
/// `p..`, within one leaf) written, before data goes there (see
/// [`map_range`]). The blocks are zeroed already, so this is only a map
/// update: pointers rewritten without `PTR_UNWRITTEN`, then the inode
/// written, which moves the metadata generation on, so that a MAP_SYNC
/// fault or `fsync` flushes the change before it reports the data
/// durable. A failure part way leaves a prefix marked, which is as valid.
/// The caller holds `RInode::fill`; the run was not cached (unwritten
/// runs never are), and marking changes no cached run.
fn mark_written(inode: &INode<R2dax>, lblk: u64, p: u64, n: u64) -> Result {
    let sb = inode.sb();
    let mut st = inode.data().state.lock();
    let r = map_insert_run(sb, crate::dir::group_of(inode), &mut st, lblk, p, n);
    sync_attrs(inode, &mut st);
    r.and(write_disk(sb, inode.ino(), &mut st))
}

/// The file blocks `start..end` of the speculative preallocation that lie
/// beyond the end of the file, if any (see
/// [`crate::inode::State::prealloc`]).
fn speculative(inode: &INode<R2dax>) -> Option<(u64, u64)> {
    let (start, end) = inode.data().state.lock().prealloc?;
    let start = start.max(inode.size().div_ceil(u64::from(BLOCK_SIZE)));
    (start < end).then_some((start, end))
}

/// Cleans up after [`map_insert_run`] failed to put the run (file blocks
/// `lblk..`, device blocks `first..first + got`, `first` with the
/// `PTR_UNWRITTEN` bit the pointers carry) into the map. It stops at
/// the first failure, so the run's pointers that are in place form a
/// prefix; a pointer is in place once it is in the buffer, whether or not
/// that buffer's write then failed (it stays dirty and reaches the media
/// later). Those blocks stay the file's, counted in its inode; only the
/// rest goes back to the free space. If the map cannot be read to tell,
/// the rest is leaked rather than risk freeing a block the map holds
/// (fsck reclaims leaks). The roots may have changed, so the inode is
/// written too (a failure there is remembered in `write_failed`).
fn insert_failed(inode: &INode<R2dax>, st: &mut State, lblk: u64, first: u64, got: u64) {
    let sb = inode.sb();
    let mut linked = 0;
    let mut known = true;
    while linked < got {
        match map_lookup(sb, &st.disk, lblk + linked) {
            Ok(p) if p == first + linked => linked += 1,
            Ok(_) => break,
            Err(_) => {
                known = false;
                break;
            }
        }
    }
    st.extents.clear();
    st.disk.blocks += linked;
    inode.set_blocks(st.disk.blocks);
    sync_attrs(inode, st);
    if let Err(e) = write_disk(sb, inode.ino(), st) {
        sb_err!(
            sb,
            "inode {}: writing it after a failed map update failed ({:?})",
            inode.ino(),
            e
        );
    }
    if known && linked < got {
        alloc::give_back(sb, ptr_block(first) + linked, got - linked);
    }
}

/// A write of at least this many blocks (64 KiB) at a 2 MiB boundary of
/// the file starts a free 2 MiB region (see `iomap_begin`).
const LARGE_WRITE_BLOCKS: u64 = 16;

/// Files smaller than this (64 KiB) get no speculative preallocation, so
/// small files cost exactly their blocks even while open.
const PREALLOC_MIN_BLOCKS: u64 = 16;

/// How many blocks a write that fills the hole at file block `lblk` (and
/// wants `want` blocks) should allocate beyond what it writes: none unless
/// it appends (the hole is at or beyond the end of the file) to a file of
/// at least 64 KiB on a filesystem with space to spare; then as many as
/// the file already has (so it doubles), which the caller caps at the end
/// of the 2 MiB leaf. A stream of 4 KiB appends then allocates, zeroes and
/// writes metadata about once per doubling or per 2 MiB instead of once
/// per block. Like xfs's speculative EOF preallocation, the blocks are
/// given back when a writer closes the file ([`trim_prealloc`]).
fn append_extra(inode: &INode<R2dax>, lblk: u64, want: u64) -> u64 {
    let eof = inode.size().div_ceil(u64::from(BLOCK_SIZE));
    if lblk < eof || lblk < PREALLOC_MIN_BLOCKS || inode.mode() & mode::S_IFMT != mode::S_IFREG {
        return 0;
    }
    let extra = lblk
        .min(PMD_BLOCKS)
        .min(MAX_FILE_BLOCKS.saturating_sub(lblk + want));
    if alloc::has_room_for(inode.sb(), extra) {
        extra
    } else {
        0
    }
}

/// Gives back the speculative preallocation beyond the end of the file
/// (see [`crate::inode::State::prealloc`]): when a writable descriptor of the file is
/// closed, before a truncate or a `fallocate` grows the file over it, and
/// at eviction.
///
/// Locking: the caller holds the inode lock and the invalidate lock
/// exclusively with direct I/O drained (as for truncate), or the inode is
/// being evicted. See [`trim_prealloc_below`].
pub(crate) fn trim_prealloc(inode: &Quiesced<'_, R2dax>) -> Result {
    trim_prealloc_below(inode, u64::MAX)
}

/// Gives back the speculative preallocation between the end of the file
/// and file block `upto` (exclusive), before a write starting in block
/// `upto` moves the size past them: those blocks become a hole, which is
/// what the file holds there (generic/225 found them reported as data).
/// What lies from `upto` on stays recorded.
///
/// Locking: the caller holds the inode lock and the invalidate lock
/// exclusively and has drained direct I/O, or the inode is being evicted.
/// The blocks lie beyond the size, which cannot change meanwhile (only
/// the inode lock's holder changes it), so nothing refers to them: page
/// and DAX faults beyond the size fail with `SIGBUS` (and are kept out
/// anyway), reads and readahead stop at it, every direct I/O in flight
/// lies within it, writeback handles only folios within it, and truncate
/// waited for pins on whatever it cut. Lookups of the map that ran
/// before see the generation change ([`mapping_valid`]).
pub(crate) fn trim_prealloc_below(inode: &Quiesced<'_, R2dax>, upto: u64) -> Result {
    let Some((start, end)) = inode.data().state.lock().prealloc else {
        return Ok(());
    };
    // Freeze protection, as every other metadata change has from its
    // system call; a frozen filesystem keeps the blocks for a later trim.
    let Some(_frozen_out) = inode.sb().try_start_intwrite() else {
        return Ok(());
    };
    let from = start.max(inode.size().div_ceil(u64::from(BLOCK_SIZE)));
    let to = end.min(upto);
    if from < to {
        // Nothing can be cached there; this is cheap and makes it certain.
        inode.truncate_pagecache_range(from << BLOCK_SHIFT, (to << BLOCK_SHIFT) - 1)?;
        // On failure the range stays recorded, for the retry at close or
        // eviction.
        release_blocks(inode, from, to)?;
    }
    inode.data().state.lock().prealloc = (upto < end).then_some((start.max(upto), end));
    Ok(())
}

/// The generation of `inode`'s block map ([`crate::inode::RInode::map_gen`]).
fn map_generation(inode: &INode<R2dax>) -> u64 {
    inode
        .data()
        .map_gen
        .load(core::sync::atomic::Ordering::Acquire)
}

/// Whether some of the inode's metadata may not be durable yet: a write
/// not covered by a device flush, or a size that grew in memory only.
/// Reported to MAP_SYNC faults as `IOMAP_F_DIRTY`.
fn metadata_dirty(inode: &INode<R2dax>) -> bool {
    let st = inode.data().state.lock();
    st.meta_gen != st.flushed_gen || st.write_failed || st.disk.size != inode.size()
}

/// The block mapping (the role of `ext2_iomap_ops`).
impl IomapOperations for R2dax {
    /// `->iomap_begin`: the mapping of the file range at `pos`. For writes
    /// (`IOMAP_WRITE`), a hole at `pos` is filled first: up to the rest of the
    /// requested range (within one leaf) is allocated in one run, 2 MiB-aligned
    /// when it covers a whole aligned leaf range, zeroed on the device by the
    /// allocator, and published in the map and the inode before the mapping is
    /// returned as new.
    fn iomap_begin(inode: &INode<Self>, pos: u64, len: u64, flags: u32) -> Result<Mapping> {
        // Writes through write(2) (buffered, O_DIRECT or DAX) may preallocate
        // beyond what they write when they append; page faults and zeroing
        // never do.
        let how = if flags & IOMAP_WRITE != 0 && flags & (IOMAP_FAULT | IOMAP_ZERO) == 0 {
            Fill::Append
        } else {
            Fill::Write
        };
        map_range(inode, pos, len, flags, how)
    }

    /// Whether a mapping made at generation `cookie` may be used again: no
    /// pointer of the map has been cleared or moved since (see
    /// `map_punch` and `shift.rs`).
    fn mapping_valid(inode: &INode<Self>, cookie: u64) -> bool {
        map_generation(inode) == cookie
    }
}
