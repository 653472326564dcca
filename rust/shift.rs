// SPDX-License-Identifier: GPL-2.0
//! Collapse range and insert range: moving every block of a file from an
//! offset on by a whole number of blocks (`FALLOC_FL_COLLAPSE_RANGE`,
//! `FALLOC_FL_INSERT_RANGE`; the role of ext4's extent shifting).
//!
//! The block map is a radix tree indexed by file block, so a shift moves
//! pointers from one leaf to another. It is done copy-on-write (crash
//! rule 7 in ondisk.rst): a new map is built in newly allocated map
//! blocks, each written before anything points at it, from a walk of the
//! old map; one inode write then switches the roots, the height and the
//! size together; only after that are the old map blocks (and, for a
//! collapse, the data blocks of the collapsed range) freed. A crash
//! leaves the file as it was before or as it is after, and leaks only.
//! The data blocks themselves do not move: their pointers do.
//!
//! The cost is a new map for the whole file: one map block per 2 MiB of
//! mapped file, plus their parents, and free space for them while both
//! maps exist (`ENOSPC` otherwise, with nothing changed); two walks of
//! the old map; and memory for the list of blocks to free, 8 bytes per
//! old map block and per collapsed data block.

use crate::alloc;
use crate::inode::{
    cover, free_sorted, map_walk, sync_attrs, write_disk, write_ptrs, Found, State,
};
use crate::ondisk::{
    map_height_for, ptr_block, MAP_FANOUT, MAP_ROOTS, MAX_FILE_BLOCKS, MAX_MAP_HEIGHT,
};
use crate::super_::R2dax;
use crate::vfs::lock::{Exclusive, Quiesced};
use crate::vfs::print::sb_err;
use crate::vfs::sb::SuperBlock;
use kernel::alloc::KVVec;
use kernel::error::code::{EFBIG, EIO};
use kernel::prelude::*;

/// Which way the blocks move.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shift {
    /// File blocks `from..from + n` go; every block after them moves
    /// down by `n`.
    Collapse,
    /// Every block from `from` on moves up by `n`, leaving a hole of `n`
    /// blocks at `from`.
    Insert,
}

/// A shift of the blocks of one file.
#[derive(Clone, Copy)]
struct Move {
    shift: Shift,
    from: u64,
    n: u64,
}

impl Move {
    /// Where file block `lblk` goes (`None`: it is collapsed away), or
    /// `EFBIG` if that is beyond the largest file.
    fn target(&self, lblk: u64) -> Result<Option<u64>> {
        if lblk < self.from {
            return Ok(Some(lblk));
        }
        let to = match self.shift {
            Shift::Collapse if lblk < self.from + self.n => return Ok(None),
            Shift::Collapse => lblk - self.n,
            Shift::Insert => lblk.checked_add(self.n).ok_or(EFBIG)?,
        };
        if to >= MAX_FILE_BLOCKS {
            return Err(EFBIG);
        }
        Ok(Some(to))
    }
}

/// Builds a map bottom-up from data pointers given in increasing file
/// order: one map block per level is open at a time, and is written (a
/// new block, zeroed by the allocator, then filled and written
/// synchronously) when the next pointer falls outside it, before its
/// parent gets the pointer to it.
struct Builder<'a> {
    sb: &'a SuperBlock<R2dax>,
    goal: u32,
    height: u8,
    roots: [u64; MAP_ROOTS],
    /// `open[k - 1]`: the map block of level `k` being filled, as (its
    /// index among the level's blocks, its pointers).
    open: [Option<(u64, KVVec<u64>)>; MAX_MAP_HEIGHT as usize],
    /// The map blocks written so far, which nothing on the media points
    /// to until the inode is switched.
    made: KVVec<u64>,
}

impl<'a> Builder<'a> {
    fn new(sb: &'a SuperBlock<R2dax>, goal: u32, height: u8) -> Self {
        Self {
            sb,
            goal,
            height,
            roots: [0; MAP_ROOTS],
            open: [None, None, None, None],
            made: KVVec::new(),
        }
    }

    /// Puts pointer `p`, of level `level`, covering the file blocks from
    /// `lblk`, into the map.
    fn put(&mut self, level: u8, lblk: u64, p: u64) -> Result {
        if level == self.height {
            let root = self
                .roots
                .get_mut((lblk / cover(level)) as usize)
                .ok_or(EFBIG)?;
            *root = p;
            return Ok(());
        }
        let k = level + 1;
        let id = lblk / cover(k);
        let slot = ((lblk / cover(level)) % MAP_FANOUT) as usize;
        if matches!(&self.open[k as usize - 1], Some((open, _)) if *open != id) {
            self.flush(k)?;
        }
        let node = &mut self.open[k as usize - 1];
        if node.is_none() {
            *node = Some((id, KVVec::from_elem(0u64, MAP_FANOUT as usize, GFP_KERNEL)?));
        }
        if let Some((_, ptrs)) = node {
            ptrs[slot] = p;
        }
        Ok(())
    }

    /// Writes the open map block of level `k`, if any, and puts the
    /// pointer to it into its parent.
    fn flush(&mut self, k: u8) -> Result {
        let Some((id, ptrs)) = self.open[k as usize - 1].take() else {
            return Ok(());
        };
        let (b, bh) = alloc::alloc_meta(self.sb, self.goal)?;
        if let Err(e) = self.made.push(b, GFP_KERNEL) {
            // Not recorded, so not freed by `give_back`: free it here.
            let _ = alloc::free_blocks(self.sb, b, 1);
            return Err(e.into());
        }
        bh.with_data_mut(|d| write_ptrs(d, &ptrs));
        bh.sync()?;
        self.put(k, id * cover(k), b)
    }

    /// Writes every open map block; returns the roots and the map blocks
    /// written.
    fn finish(mut self) -> Result<([u64; MAP_ROOTS], KVVec<u64>)> {
        for k in 1..=self.height {
            if let Err(e) = self.flush(k) {
                give_back(self.sb, core::mem::replace(&mut self.made, KVVec::new()));
                return Err(e);
            }
        }
        Ok((self.roots, core::mem::replace(&mut self.made, KVVec::new())))
    }
}

/// Frees the map blocks of a new map that is not used (nothing points to
/// them).
fn give_back(sb: &SuperBlock<R2dax>, mut made: KVVec<u64>) {
    made.sort_unstable();
    if let Err(e) = free_sorted(sb, &made) {
        sb_err!(
            sb,
            "giving back {} blocks of an unused block map failed ({:?}); fsck.r2dax will reclaim them",
            made.len(),
            e
        );
    }
}

/// Moves the blocks of regular file `inode` (see [`Shift`]) by `n` blocks
/// from file block `from`, and sets the size to `new_size`, in one inode
/// write (see the module comment for the order of the writes).
///
/// The caller has broken the layouts of the range that moves (no DAX page
/// of it is pinned or mapped), written back its dirty data and dropped
/// its page cache. Nothing changes the map meanwhile: every writer of
/// the map is kept out by the quiesce (writes, truncate, fallocate, mode
/// switches and closes by the inode lock; page faults, which fill holes,
/// by the invalidate lock; eviction by the open file), and filling holes
/// by `RInode::fill`, held throughout. Writeback may
/// still look up blocks before `from` in the old map, under `state`; the
/// switch, under `state` too, gives those the same blocks in the new one.
/// `->write_inode` writes the image under `state`, so it writes the old
/// roots with the old size or the new roots with the new size.
pub(crate) fn shift_blocks(
    inode: &Quiesced<'_, R2dax>,
    shift: Shift,
    from: u64,
    n: u64,
    new_size: u64,
) -> Result {
    let sb = inode.sb();
    let mv = Move { shift, from, n };
    // Filling holes, the one change to the map that takes no quiesce, is
    // kept out by this lock too (page faults already are, by the
    // invalidate lock): what the walks read is what the switch replaces.
    let _fill = inode.data().fill.lock();
    let old = inode.data().state.lock().disk;
    // First walk: how high the new map must be, and that it fits.
    let mut last = None;
    map_walk(sb, &old, &mut |found| {
        if let Found::Data { lblk, .. } = found {
            if let Some(to) = mv.target(lblk)? {
                last = Some(to);
            }
        }
        Ok(())
    })?;
    let height = last.map_or(0, map_height_for);
    // Second walk: build the new map; collect what the old one owns that
    // the new one does not.
    let mut builder = Builder::new(sb, crate::dir::group_of(inode), height);
    let mut gone = KVVec::new();
    let built = map_walk(sb, &old, &mut |found| match found {
        Found::Map(b) => Ok(gone.push(b, GFP_KERNEL)?),
        Found::Data { lblk, ptr } => match mv.target(lblk)? {
            Some(to) => builder.put(0, to, ptr),
            None => Ok(gone.push(ptr_block(ptr), GFP_KERNEL)?),
        },
    });
    if let Err(e) = built {
        give_back(sb, core::mem::replace(&mut builder.made, KVVec::new()));
        return Err(e);
    }
    let (roots, made) = builder.finish()?;
    let mut st = inode.data().state.lock();
    if st.disk.roots != old.roots || st.disk.height != old.height {
        // Cannot happen (see above); if it did, the new map is not the
        // file's, so it is dropped and nothing changes.
        drop(st);
        sb_err!(
            sb,
            "inode {}: block map changed during a shift",
            inode.ino()
        );
        give_back(sb, made);
        return Err(EIO);
    }
    let switched = switch(inode, &mut st, roots, height, &made, &gone, new_size);
    drop(st);
    gone.sort_unstable();
    // The shift has happened (in memory at least, see `switch`): a failure
    // to free the old blocks is logged, not returned, so that a caller
    // that retries on error does not shift twice. Their bitmap buffers
    // stay dirty and are written again later, as for any failed write.
    if let Err(e) = free_sorted(sb, &gone) {
        sb_err!(
            sb,
            "inode {}: freeing the {} blocks the shift released failed ({:?})",
            inode.ino(),
            gone.len(),
            e
        );
    }
    switched
}

/// Makes the new map the file's: roots, height, block count and size in
/// memory, then one inode write. The new map is the file's in memory
/// whether or not that write fails (a failed write leaves its buffer
/// dirty, and the image reaches the media later, see design.rst, "When a
/// metadata write fails"), so the caller frees the old map's blocks
/// either way and reports the error: the shift then happened, but may not
/// be durable.
fn switch(
    inode: &Quiesced<'_, R2dax>,
    st: &mut State,
    roots: [u64; MAP_ROOTS],
    height: u8,
    made: &[u64],
    gone: &[u64],
    new_size: u64,
) -> Result {
    // Before any pointer changes, under `state` (which every map lookup
    // takes): no mapping made from here on is older than the shift, and
    // no cached run outlives it.
    inode
        .data()
        .map_gen
        .fetch_add(1, core::sync::atomic::Ordering::AcqRel);
    st.extents.clear();
    st.disk.roots = roots;
    st.disk.height = height;
    st.disk.blocks = (st.disk.blocks + made.len() as u64).saturating_sub(gone.len() as u64);
    inode.set_blocks(st.disk.blocks);
    inode.set_size(new_size);
    inode.touch_mtime();
    sync_attrs(inode, st);
    write_disk(inode.sb(), inode.ino(), st)
}
