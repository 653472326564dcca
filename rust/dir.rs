// SPDX-License-Identifier: GPL-2.0
//! Directories: entries, lookup, readdir, and changing entries (the role
//! of fs/ext2/dir.c).
//!
//! Directory blocks are read and written through the block device's buffer
//! cache at the device block [`map_extent`] gives. A `readdir` position is
//! 0 for ".", 1 for "..", and `2 + block * 128 + slot` for the entry whose
//! head is at that slot; entries never move, so positions stay stable.
//!
//! Searches and changes go through the in-memory index of
//! [`crate::dir_index`] (which name is where, free slots per block), so a
//! lookup reads one block instead of scanning the directory; without an
//! index (memory, or a directory too large for it) they scan.
//!
//! Locking: the VFS holds the directory's `i_rwsem` exclusively for every
//! change and at least shared for lookup and readdir. The functions that
//! change a directory take the token of its exclusive lock
//! (`InodeLocked<Excl>`); those that only read it take `&INode`, and rely
//! on the VFS's lock as stated here. `RInode::dir_index`
//! is taken inside it, for a whole search or change, and never for two
//! directories at once; buffer locks, the allocator's lock and
//! `RInode::state` nest inside it. The contents of a block are only touched
//! inside the buffer lock (`with_data*`). Every change is written
//! synchronously before the caller goes on (the ordering rules of
//! ondisk.rst).

use crate::alloc;
use crate::dir_index::{hash, DirIndex, Index};
use crate::inode::{iget, map_insert, map_lookup, sync_attrs, write_disk, write_inode};
use crate::iomap::map_extent;
use crate::ondisk::{dirent, DirSlot, Dirent, BLOCK_SIZE};
use crate::super_::R2dax;
use crate::vfs::buffer::Buffer;
use crate::vfs::errno::{enametoolong, euclean};
use crate::vfs::file_ops::{DirEmitter, DirOperations};
use crate::vfs::lock::{Excl, Exclusive, InodeLocked};
use crate::vfs::print::sb_err;
use crate::vfs::vfs_inode::INode;
use kernel::alloc::KVVec;
use kernel::error::code::ENOENT;
use kernel::prelude::*;
use kernel::types::ARef;

const SLOTS: u64 = dirent::SLOTS_PER_BLOCK as u64;

/// Number of blocks of `dir`.
fn nblocks(dir: &INode<R2dax>) -> u64 {
    dir.size() / u64::from(BLOCK_SIZE)
}

/// The buffer of block `b` of `dir`.
fn dir_block(dir: &INode<R2dax>, b: u64) -> Result<Buffer> {
    let sb = dir.sb();
    match map_extent(dir, b, 1)?.0 {
        Some(p) => sb.bread(p),
        None => {
            sb_err!(sb, "directory {} has a hole at block {}", dir.ino(), b);
            Err(euclean())
        }
    }
}

fn corrupt(dir: &INode<R2dax>, b: u64, slot: usize) -> Error {
    sb_err!(
        dir.sb(),
        "directory {} block {} slot {}: corrupt entry",
        dir.ino(),
        b,
        slot
    );
    euclean()
}

/// Walks the entries of one block (".." skipped): `f(slot, entry, data)`
/// returns true to stop. Returns the slot it stopped at, or `Err` on a
/// corrupt entry (its slot in the error position).
fn scan_block(
    data: &[u8],
    skip_dotdot: bool,
    mut f: impl FnMut(usize, &Dirent, &[u8]) -> bool,
) -> core::result::Result<Option<usize>, usize> {
    let mut slot = 0;
    while slot < dirent::SLOTS_PER_BLOCK {
        match Dirent::decode(data, slot) {
            DirSlot::Entry(d) => {
                if !(skip_dotdot && slot == 0) && f(slot, &d, data) {
                    return Ok(Some(slot));
                }
                slot += d.nslots;
            }
            DirSlot::Free => slot += 1,
            DirSlot::Corrupt => return Err(slot),
        }
    }
    Ok(None)
}

/// Where an entry is: block index, slot, the entry, and its place in the
/// index (if the search used one).
struct Found {
    block: u64,
    slot: usize,
    ent: Dirent,
    pos: Option<usize>,
}

/// Builds the index of `dir` by reading every block. `Ok(None)` when the
/// directory cannot have one (memory, size); corruption is an error, as it
/// is for a scan.
fn build_index(dir: &INode<R2dax>) -> Result<Option<Index>> {
    let n = nblocks(dir);
    let Ok(mut ix) = Index::new(n) else {
        return Ok(None);
    };
    for b in 0..n {
        let bh = dir_block(dir, b)?;
        match bh.with_data(|d| ix.add_block(d, b == 0)) {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Ok(None),
            Err(slot) => return Err(corrupt(dir, b, slot)),
        }
    }
    Ok(Some(ix))
}

/// The index of `dir` (whose `dir_index` lock `g` is), built if needed;
/// `None` if the directory goes without.
fn index<'a>(dir: &INode<R2dax>, g: &'a mut DirIndex) -> Result<Option<&'a mut Index>> {
    if matches!(g, DirIndex::Unbuilt) {
        *g = match build_index(dir)? {
            Some(ix) => DirIndex::Built(ix),
            None => DirIndex::Off,
        };
    }
    Ok(match g {
        DirIndex::Built(ix) => Some(ix),
        _ => None,
    })
}

/// Finds `name` in `dir`.
fn find(dir: &INode<R2dax>, name: &[u8]) -> Result<Option<Found>> {
    let mut g = dir.data().dir_index.lock();
    find_in(dir, &mut g, name)
}

/// Finds `name` in `dir`, whose `dir_index` lock `g` is.
fn find_in(dir: &INode<R2dax>, g: &mut DirIndex, name: &[u8]) -> Result<Option<Found>> {
    if name.len() > dirent::NAME_MAX {
        return Err(enametoolong());
    }
    if let Some(ix) = index(dir, g)? {
        for (pos, b, slot) in ix.candidates(hash(name)) {
            let bh = dir_block(dir, b)?;
            let r = bh.with_data(|d| match Dirent::decode(d, slot) {
                DirSlot::Entry(e) if e.name(d) == name => Ok(Some(e)),
                DirSlot::Entry(_) => Ok(None),
                // The index only holds entries it has seen written.
                _ => Err(()),
            });
            match r {
                Ok(Some(ent)) => {
                    return Ok(Some(Found {
                        block: b,
                        slot,
                        ent,
                        pos: Some(pos),
                    }))
                }
                Ok(None) => {}
                Err(()) => return Err(corrupt(dir, b, slot)),
            }
        }
        return Ok(None);
    }
    for b in 0..nblocks(dir) {
        let bh = dir_block(dir, b)?;
        let mut ent = None;
        let r = bh.with_data(|data| {
            scan_block(data, b == 0, |_, d, data| {
                let hit = d.name(data) == name;
                if hit {
                    ent = Some(*d);
                }
                hit
            })
        });
        match r {
            Ok(Some(slot)) => {
                return Ok(ent.map(|ent| Found {
                    block: b,
                    slot,
                    ent,
                    pos: None,
                }))
            }
            Ok(None) => {}
            Err(slot) => return Err(corrupt(dir, b, slot)),
        }
    }
    Ok(None)
}

/// Finds `name` in `dir` and gets its inode.
pub(crate) fn lookup(dir: &INode<R2dax>, name: &[u8]) -> Result<Option<ARef<INode<R2dax>>>> {
    match find(dir, name)? {
        Some(f) => Ok(Some(iget(dir.sb(), u64::from(f.ent.ino))?)),
        None => Ok(None),
    }
}

/// Whether `dir` has no entries besides "..".
pub(crate) fn is_empty(dir: &INode<R2dax>) -> Result<bool> {
    let mut g = dir.data().dir_index.lock();
    if let Some(ix) = index(dir, &mut g)? {
        return Ok(ix.entries() == 0);
    }
    for b in 0..nblocks(dir) {
        let bh = dir_block(dir, b)?;
        match bh.with_data(|d| scan_block(d, b == 0, |_, _, _| true)) {
            Ok(Some(_)) => return Ok(false),
            Ok(None) => {}
            Err(slot) => return Err(corrupt(dir, b, slot)),
        }
    }
    Ok(true)
}

/// Finds `need` free slots in a row in a block, not overlapping entries.
fn free_run(data: &[u8], need: usize) -> core::result::Result<Option<usize>, usize> {
    let mut slot = 0;
    let mut run = 0;
    while slot < dirent::SLOTS_PER_BLOCK {
        match Dirent::decode(data, slot) {
            DirSlot::Entry(d) => {
                slot += d.nslots;
                run = 0;
                continue;
            }
            DirSlot::Free => run += 1,
            DirSlot::Corrupt => return Err(slot),
        }
        slot += 1;
        if run == need {
            return Ok(Some(slot - need));
        }
    }
    Ok(None)
}

/// Adds `name` -> `ino` to `dir` (the VFS has checked that `name` is not
/// there). The entry is on the media when this returns: in a free run of an
/// existing block, or in a new block that is written before the directory
/// points at it.
pub(crate) fn add_entry(
    dir: &InodeLocked<'_, R2dax, Excl>,
    name: &[u8],
    ino: u32,
    dtype: u8,
) -> Result {
    if name.is_empty() || name.len() > dirent::NAME_MAX {
        return Err(enametoolong());
    }
    let mut g = dir.data().dir_index.lock();
    let ix = index(dir, &mut g)?;
    let r = add_in(dir, ix, name, ino, dtype);
    settle(&mut g, r)
}

/// What a change did to the index: still right, or not updated (memory)
/// though the change itself is done.
type Kept = bool;

/// After a change: an index not updated, or a change that failed halfway
/// (a buffer may hold what the index does not), is rebuilt from the
/// buffers on the next use.
fn settle(g: &mut DirIndex, r: Result<Kept>) -> Result {
    match r {
        Ok(true) => Ok(()),
        Ok(false) => {
            *g = DirIndex::Unbuilt;
            Ok(())
        }
        Err(e) => {
            *g = DirIndex::Unbuilt;
            Err(e)
        }
    }
}

fn add_in(
    dir: &InodeLocked<'_, R2dax, Excl>,
    ix: Option<&mut Index>,
    name: &[u8],
    ino: u32,
    dtype: u8,
) -> Result<Kept> {
    let need = dirent::slots_for(name.len());
    let h = hash(name);
    let n = nblocks(dir);
    for b in 0..n {
        if ix.as_deref().is_some_and(|ix| !ix.may_fit(b, need)) {
            continue;
        }
        let bh = dir_block(dir, b)?;
        let placed = bh.with_data_mut(|d| match free_run(d, need) {
            Ok(Some(slot)) => {
                Dirent::encode(d, slot, ino, dtype, name);
                Ok(Some(slot))
            }
            Ok(None) => Ok(None),
            Err(slot) => Err(slot),
        });
        match placed {
            Ok(Some(slot)) => {
                // The name is in the directory now (in the buffer, which
                // reaches the media even if this write fails): the callers
                // build on it, so a failure from here on is reported in
                // the log, not undone.
                if let Err(e) = bh.sync() {
                    written_late(dir, e);
                }
                let kept = match ix {
                    Some(ix) => {
                        ix.adjust_free(b, -(need as isize));
                        ix.insert(h, b, slot).is_ok()
                    }
                    None => true,
                };
                if let Err(e) = touch(dir) {
                    written_late(dir, e);
                }
                return Ok(kept);
            }
            Ok(None) => {}
            Err(slot) => return Err(corrupt(dir, b, slot)),
        }
    }
    // A new block, written with the entry before the map points at it.
    let sb = dir.sb();
    let goal = group_of(dir);
    let (pblk, bh) = alloc::alloc_meta(sb, goal)?;
    bh.with_data_mut(|d| Dirent::encode(d, 0, ino, dtype, name));
    if let Err(e) = bh.sync() {
        // Nothing points at the block: it goes back.
        drop(bh);
        alloc::give_back(dir.sb(), pblk, 1);
        return Err(e);
    }
    let mut st = dir.data().state.lock();
    if let Err(e) = map_insert(sb, goal, &mut st, n, pblk) {
        // The map may have grown (map blocks, roots) before it failed, and
        // the pointer itself may be in place (in a buffer whose write
        // failed). Placed: the name exists, as below. Not placed: the
        // block goes back, and the inode records what the map did get.
        let placed = map_lookup(sb, &st.disk, n).map_or(true, |p| p == pblk);
        if !placed {
            dir.set_blocks(st.disk.blocks);
            sync_attrs(dir, &mut st);
            if let Err(e2) = write_disk(sb, dir.ino(), &mut st) {
                written_late(dir, e2);
            }
            drop(st);
            alloc::give_back(dir.sb(), pblk, 1);
            return Err(e);
        }
        written_late(dir, e);
    }
    st.disk.blocks += 1;
    dir.set_blocks(st.disk.blocks);
    drop(st);
    dir.set_size((n + 1) * u64::from(BLOCK_SIZE));
    let kept = match ix {
        Some(ix) => {
            ix.push_block((dirent::SLOTS_PER_BLOCK - need) as u8)
                .is_ok()
                && ix.insert(h, n, 0).is_ok()
        }
        None => true,
    };
    if let Err(e) = touch(dir) {
        written_late(dir, e);
    }
    Ok(kept)
}

/// Reports a metadata write of `dir` that failed after its change was
/// made in memory: the change stands (the buffer stays dirty and is
/// written again later), so the operation goes on.
fn written_late(dir: &INode<R2dax>, e: Error) {
    sb_err!(
        dir.sb(),
        "directory {}: a write failed ({:?}); it is retried by writeback",
        dir.ino(),
        e
    );
}

/// The group holding `inode` (allocation goal for its blocks).
pub(crate) fn group_of(inode: &INode<R2dax>) -> u32 {
    let geo = &inode.sb().info().geo;
    u32::try_from(inode.ino())
        .ok()
        .and_then(|i| geo.ino_group(i))
        .map_or(0, |g| g.0)
}

/// Updates a changed directory's times and writes its inode.
fn touch(dir: &InodeLocked<'_, R2dax, Excl>) -> Result {
    dir.touch_mtime();
    write_inode(dir)
}

/// Removes `name` from `dir`; returns the inode number it named.
pub(crate) fn remove_entry(dir: &InodeLocked<'_, R2dax, Excl>, name: &[u8]) -> Result<u32> {
    let mut g = dir.data().dir_index.lock();
    let r = (|| {
        let f = find_in(dir, &mut g, name)?.ok_or(ENOENT)?;
        let bh = dir_block(dir, f.block)?;
        bh.with_data_mut(|d| Dirent::clear(d, f.slot, f.ent.nslots));
        // The name is gone now (in memory, and on the media once the
        // buffer is written): as in `add_in`, a failed write is reported,
        // not undone.
        if let Err(e) = bh.sync() {
            written_late(dir, e);
        }
        if let (DirIndex::Built(ix), Some(pos)) = (&mut *g, f.pos) {
            ix.remove_at(pos);
            ix.adjust_free(f.block, f.ent.nslots as isize);
        }
        if let Err(e) = touch(dir) {
            written_late(dir, e);
        }
        Ok(f.ent.ino)
    })();
    if r.is_err() {
        *g = DirIndex::Unbuilt;
    }
    r
}

/// Points the existing entry `name` in `dir` at `ino` (same name, same
/// slots: one rewrite of the entry, nothing for the index to change).
pub(crate) fn replace_entry(
    dir: &InodeLocked<'_, R2dax, Excl>,
    name: &[u8],
    ino: u32,
    dtype: u8,
) -> Result {
    let mut g = dir.data().dir_index.lock();
    let f = find_in(dir, &mut g, name)?.ok_or(ENOENT)?;
    let bh = dir_block(dir, f.block)?;
    bh.with_data_mut(|d| Dirent::encode(d, f.slot, ino, dtype, name));
    // Done in memory: see `remove_entry`.
    if let Err(e) = bh.sync() {
        written_late(dir, e);
    }
    if let Err(e) = touch(dir) {
        written_late(dir, e);
    }
    Ok(())
}

/// The inode number the ".." entry of directory `dir` names (for a file
/// handle's reconnection: `get_parent`).
pub(crate) fn dotdot(dir: &INode<R2dax>) -> Result<u32> {
    let bh = dir_block(dir, 0)?;
    let ino = bh.with_data(|d| match Dirent::decode(d, 0) {
        DirSlot::Entry(e) if e.name(d) == b".." => Some(e.ino),
        _ => None,
    });
    ino.ok_or_else(|| corrupt(dir, 0, 0))
}

/// Rewrites the ".." entry of directory `dir` to name `parent`. The
/// caller writes `dir`'s inode afterwards (its ctime changes with the
/// move).
pub(crate) fn set_dotdot(dir: &InodeLocked<'_, R2dax, Excl>, parent: u32) -> Result {
    let bh = dir_block(dir, 0)?;
    let ok = bh.with_data_mut(|d| {
        let ok = matches!(Dirent::decode(d, 0), DirSlot::Entry(e) if e.name(d) == b"..");
        if ok {
            Dirent::encode(d, 0, parent, dirent::DT_DIR, b"..");
        }
        ok
    });
    if !ok {
        return Err(corrupt(dir, 0, 0));
    }
    // Done in memory: see `remove_entry`.
    if let Err(e) = bh.sync() {
        written_late(dir, e);
    }
    Ok(())
}

/// The directory file operations (the role of `ext2_dir_operations`).
impl DirOperations for R2dax {
    /// Emits the entries of `dir` from the emitter's position on. Each block is
    /// copied out under its lock first: emitting copies to user memory, which
    /// may fault, and no buffer lock may be held across that.
    fn readdir(dir: &INode<Self>, em: &mut DirEmitter<'_>) -> Result {
        if !em.emit_dots() {
            return Ok(());
        }
        let n = nblocks(dir);
        let start = u64::try_from(em.pos() - 2).unwrap_or(0);
        let mut copy = KVVec::from_elem(0u8, BLOCK_SIZE as usize, GFP_KERNEL)?;
        for b in start / SLOTS..n {
            let bh = dir_block(dir, b)?;
            bh.with_data(|d| {
                if let Some(src) = d.get(..BLOCK_SIZE as usize) {
                    copy.copy_from_slice(src);
                }
            });
            drop(bh);
            let mut full = false;
            let r = scan_block(&copy, b == 0, |slot, d, data| {
                let pos = 2 + b * SLOTS + slot as u64;
                if pos < start + 2 {
                    return false;
                }
                em.set_pos(pos as i64);
                if !em.emit(d.name(data), u64::from(d.ino), d.dtype) {
                    full = true;
                }
                full
            });
            if let Err(slot) = r {
                return Err(corrupt(dir, b, slot));
            }
            if full {
                return Ok(());
            }
        }
        em.set_pos((2 + n * SLOTS) as i64);
        Ok(())
    }
}
