// SPDX-License-Identifier: GPL-2.0
//! Inodes: reading them from disk, the block map, and the iomap mapping
//! (the role of fs/ext2/inode.c).
//!
//! [`map_extent`] is the one block-mapping function: file block to device
//! block, for every I/O path (page cache through iomap today; O_DIRECT and
//! DAX later reuse it unchanged).

use crate::ondisk::{
    iflags2, map_path, mode, Inode, Slot, BLOCK_SHIFT, BLOCK_SIZE, INODE_SIZE, MAP_FANOUT,
};
use crate::super_::R2dax;
use crate::vfs::errno::euclean;
use crate::vfs::fs::{MapKind, Mapping};
use crate::vfs::inode::{Attrs, INode, Iget, Kind};
use crate::vfs::print::sb_err;
use crate::vfs::sb::SuperBlock;
use kernel::error::code::{EIO, ENOMEM};
use kernel::init::PinInit;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::types::ARef;

/// The in-memory state of an inode that the VFS inode does not hold.
#[derive(Default)]
pub(crate) struct State {
    /// The inode as last read from disk.
    pub(crate) disk: Inode,
}

/// r2dax's per-inode data.
///
/// Lock order: the VFS's `i_rwsem` (and, for mapping changes, the
/// invalidate lock) come before `state`; `state` is a leaf lock: nothing
/// that sleeps on I/O is called with it held except reading map blocks.
#[pin_data]
pub(crate) struct RInode {
    /// Protects the on-disk image of the inode (block-map roots, height,
    /// flags, copy index). Filled while the inode is `I_NEW`.
    #[pin]
    pub(crate) state: Mutex<State>,
}

impl RInode {
    /// Initialiser for a newly allocated inode.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(RInode {
            state <- new_mutex!(State::default(), "r2dax_inode_state"),
        }? Error)
    }
}

/// Whether `m` is a directory's mode.
pub(crate) fn is_dir(m: u16) -> bool {
    m & mode::S_IFMT == mode::S_IFDIR
}

/// Gets inode `ino` from the inode cache or reads it from disk.
pub(crate) fn iget(sb: &SuperBlock<R2dax>, ino: u64) -> Result<ARef<INode<R2dax>>> {
    let geo = &sb.info().geo;
    let Some((blk, off)) = u32::try_from(ino).ok().and_then(|i| geo.inode_location(i)) else {
        sb_err!(sb, "inode number {} is out of range", ino);
        return Err(euclean());
    };
    let new = match sb.iget(ino)? {
        Iget::Cached(inode) => return Ok(inode),
        Iget::New(new) => new,
    };
    let ino32 = ino as u32;
    let bh = sb.bread(blk)?;
    let mut slot = [0u8; INODE_SIZE];
    slot.copy_from_slice(bh.data().get(off..off + INODE_SIZE).ok_or(EIO)?);
    drop(bh);
    let disk = match Inode::decode_slot(&slot, ino32) {
        Ok(Slot::Used { inode, .. }) => inode,
        Ok(Slot::Free) => {
            sb_err!(sb, "inode {} is referenced but free", ino);
            return Err(euclean());
        }
        Err(e) => {
            sb_err!(sb, "inode {}: {}", ino, e);
            return Err(euclean());
        }
    };
    if disk.links == 0 {
        sb_err!(sb, "inode {} is referenced but has no links", ino);
        return Err(euclean());
    }
    let attrs = Attrs {
        mode: disk.mode,
        nlink: disk.links,
        uid: disk.uid,
        gid: disk.gid,
        size: disk.size,
        blocks: disk.blocks,
        generation: disk.generation,
        atime: (disk.atime, disk.atime_ns),
        mtime: (disk.mtime, disk.mtime_ns),
        ctime: (disk.ctime, disk.ctime_ns),
    };
    let inline = disk.inline_data();
    let kind = match disk.mode & mode::S_IFMT {
        mode::S_IFDIR => {
            if disk.size == 0 {
                sb_err!(sb, "directory {} has no blocks", ino);
                return Err(euclean());
            }
            Kind::Dir
        }
        mode::S_IFREG => Kind::Reg,
        mode::S_IFLNK if disk.iflags2 & iflags2::INLINE != 0 => {
            // Inode::validate bounds an inline target by the roots' size.
            Kind::InlineSymlink(inline.get(..disk.size as usize).ok_or(EIO)?)
        }
        mode::S_IFLNK => Kind::Symlink,
        _ => Kind::Special(disk.roots[0] as u32),
    };
    *new.data().state.lock() = State { disk };
    new.finish(&attrs, kind)
}

/// Maps up to `max` file blocks from `lblk` on: returns the device block
/// of `lblk` (`None` for a hole) and how many following file blocks
/// continue the same way (contiguous on the device, or a hole), at least 1.
/// The run never leaves the map block that holds `lblk`, so one call reads
/// at most one map block per level.
pub(crate) fn map_extent(inode: &INode<R2dax>, lblk: u64, max: u64) -> Result<(Option<u64>, u64)> {
    let sb = inode.sb();
    let geo = &sb.info().geo;
    let state = inode.data().state.lock();
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
        return Ok((None, max.max(1)));
    };
    let height = disk.height as usize;
    // Pointers of the last level: the roots (height 0) or a leaf.
    let (ptrs_from_roots, leaf) = if height == 0 {
        (true, None)
    } else {
        let mut blk = disk.roots[root];
        for &idx in path.iter().take(height - 1) {
            if blk == 0 {
                break;
            }
            if !geo.is_data_block(blk) {
                return Err(bad("map block", blk));
            }
            let bh = sb.bread(blk)?;
            blk = read_ptr(bh.data(), idx)?;
        }
        if blk != 0 && !geo.is_data_block(blk) {
            return Err(bad("map block", blk));
        }
        (false, Some(blk))
    };
    let idx = if height == 0 { root } else { path[height - 1] };
    let ptr_at = |data: Option<&[u8]>, i: usize| -> Result<u64> {
        match data {
            None => Ok(disk.roots.get(i).copied().unwrap_or(0)),
            Some(d) => read_ptr(d, i),
        }
    };
    let count_limit = if ptrs_from_roots {
        disk.roots.len()
    } else {
        MAP_FANOUT as usize
    };
    let bh = match leaf {
        Some(b) if b != 0 => Some(sb.bread(b)?),
        _ => None,
    };
    if leaf == Some(0) {
        // The whole leaf is a hole.
        let run = (MAP_FANOUT as usize - idx) as u64;
        return Ok((None, run.min(max).max(1)));
    }
    let data = bh.as_ref().map(|b| b.data());
    let first = ptr_at(data, idx)?;
    if first != 0 && !geo.is_data_block(first) {
        return Err(bad("block", first));
    }
    let mut n = 1u64;
    while n < max && idx + (n as usize) < count_limit {
        let p = ptr_at(data, idx + n as usize)?;
        let continues = if first == 0 {
            p == 0
        } else {
            p == first + n && geo.is_data_block(p)
        };
        if !continues {
            break;
        }
        n += 1;
    }
    drop(state);
    Ok(((first != 0).then_some(first), n))
}

fn read_ptr(block: &[u8], idx: usize) -> Result<u64> {
    let b = block.get(idx * 8..idx * 8 + 8).ok_or(EIO)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_le_bytes(a))
}

/// `->iomap_begin`: the mapping of the file range at `pos`.
pub(crate) fn iomap_begin(
    inode: &INode<R2dax>,
    pos: u64,
    len: u64,
    _flags: u32,
) -> Result<Mapping> {
    let lblk = pos >> BLOCK_SHIFT;
    let end = pos.checked_add(len).ok_or(ENOMEM)?;
    let want = end
        .div_ceil(u64::from(BLOCK_SIZE))
        .saturating_sub(lblk)
        .max(1);
    let (pblk, n) = map_extent(inode, lblk, want)?;
    Ok(Mapping {
        offset: lblk << BLOCK_SHIFT,
        length: n << BLOCK_SHIFT,
        kind: match pblk {
            Some(p) => MapKind::Mapped(p << BLOCK_SHIFT),
            None => MapKind::Hole,
        },
    })
}
