// SPDX-License-Identifier: GPL-2.0
//! Directories: reading entries, lookup and readdir (the role of
//! fs/ext2/dir.c).
//!
//! Directory blocks are read through the block device's buffer cache at
//! the device block [`map_extent`] gives. A `readdir` position is 0 for
//! ".", 1 for "..", and `2 + block * 128 + slot` for the entry whose head
//! is at that slot; entries never move, so positions stay stable.

use crate::inode::{iget, map_extent};
use crate::ondisk::{dirent, DirSlot, Dirent, BLOCK_SIZE};
use crate::super_::R2dax;
use crate::vfs::errno::{enametoolong, euclean};
use crate::vfs::fs::DirEmitter;
use crate::vfs::inode::INode;
use crate::vfs::print::sb_err;
use kernel::prelude::*;
use kernel::types::ARef;

const SLOTS: u64 = dirent::SLOTS_PER_BLOCK as u64;

/// Calls `f(block_index, slot, entry, block_data)` for each entry of `dir`
/// from block `from` on, except ".."; stops early when `f` returns false.
fn for_each_entry(
    dir: &INode<R2dax>,
    from: u64,
    mut f: impl FnMut(u64, usize, &Dirent, &[u8]) -> bool,
) -> Result {
    let sb = dir.sb();
    let nblocks = dir.size() / u64::from(BLOCK_SIZE);
    for b in from..nblocks {
        let (pblk, _) = map_extent(dir, b, 1)?;
        let Some(pblk) = pblk else {
            sb_err!(sb, "directory {} has a hole at block {}", dir.ino(), b);
            return Err(euclean());
        };
        let bh = sb.bread(pblk)?;
        let data = bh.data();
        let mut slot = 0;
        while slot < dirent::SLOTS_PER_BLOCK {
            match Dirent::decode(data, slot) {
                DirSlot::Entry(d) => {
                    let is_dotdot = b == 0 && slot == 0;
                    if !is_dotdot && !f(b, slot, &d, data) {
                        return Ok(());
                    }
                    slot += d.nslots;
                }
                DirSlot::Free => slot += 1,
                DirSlot::Corrupt => {
                    sb_err!(
                        sb,
                        "directory {} block {} slot {}: corrupt entry",
                        dir.ino(),
                        b,
                        slot
                    );
                    return Err(euclean());
                }
            }
        }
    }
    Ok(())
}

/// Finds `name` in `dir`.
pub(crate) fn lookup(dir: &INode<R2dax>, name: &[u8]) -> Result<Option<ARef<INode<R2dax>>>> {
    if name.len() > dirent::NAME_MAX {
        return Err(enametoolong());
    }
    let mut found = None;
    for_each_entry(dir, 0, |_, _, d, data| {
        if d.name(data) == name {
            found = Some(d.ino);
            return false;
        }
        true
    })?;
    match found {
        Some(ino) => Ok(Some(iget(dir.sb(), u64::from(ino))?)),
        None => Ok(None),
    }
}

/// Emits the entries of `dir` from the emitter's position on.
pub(crate) fn readdir(dir: &INode<R2dax>, em: &mut DirEmitter<'_>) -> Result {
    if !em.emit_dots() {
        return Ok(());
    }
    let nblocks = dir.size() / u64::from(BLOCK_SIZE);
    let start = u64::try_from(em.pos() - 2).unwrap_or(0);
    let mut full = false;
    for_each_entry(dir, start / SLOTS, |b, slot, d, data| {
        let pos = 2 + b * SLOTS + slot as u64;
        if pos < start + 2 {
            return true;
        }
        em.set_pos(pos as i64);
        if !em.emit(d.name(data), u64::from(d.ino), d.dtype) {
            full = true;
            return false;
        }
        true
    })?;
    if !full {
        em.set_pos((2 + nblocks * SLOTS) as i64);
    }
    Ok(())
}
