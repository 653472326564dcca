// SPDX-License-Identifier: GPL-2.0
//! Block and inode allocation (the role of fs/ext2/balloc.c and ialloc.c).
//!
//! Crash-consistency rules (Documentation/filesystems/r2dax/ondisk.rst):
//! a bit is set and its bitmap block written (synchronously) before any
//! structure that uses the block or inode is written; a bit is cleared only
//! after the last pointer or entry naming it is gone. A crash in between
//! leaks, which fsck repairs. New blocks are zeroed on the device before
//! anything can point at them, so no stale data is ever visible.
//!
//! Locking: [`SbInfo::alloc`] serializes the read-modify-write of bitmap
//! blocks and the group counters. It nests inside a per-inode `state` lock
//! and outside buffer locks.

use crate::inode::{is_dir, read_slot};
use crate::ondisk::{test_bit, Slot, BLOCKS_PER_GROUP, BLOCK_SIZE, FIRST_INO, PMD_BLOCKS};
use crate::super_::{R2dax, SbInfo};
use crate::vfs::buffer::Buffer;
use crate::vfs::errno::euclean;
use crate::vfs::print::sb_err;
use crate::vfs::sb::SuperBlock;
use kernel::alloc::KVVec;
use kernel::error::code::ENOSPC;
use kernel::prelude::*;

/// Finds the first clear bit in `bits` at or after `from`, below `limit`.
fn find_clear(bits: &[u8], from: u32, limit: u32) -> Option<u32> {
    (from..limit).find(|&b| !test_bit(bits, b))
}

/// Finds `n` clear bits in a row in `bits` starting at a multiple of
/// `align` at or after `from`, below `limit`.
fn find_clear_run(bits: &[u8], from: u32, limit: u32, n: u32, align: u32) -> Option<u32> {
    let mut start = from.div_ceil(align) * align;
    while start + n <= limit {
        match (start..start + n).find(|&b| test_bit(bits, b)) {
            None => return Some(start),
            Some(used) => start = (used + 1).div_ceil(align) * align,
        }
    }
    None
}

fn set_bits(bits: &mut [u8], start: u32, n: u32, on: bool) {
    for b in start..start + n {
        crate::ondisk::set_bit(bits, b, on);
    }
}

/// Where a data allocation would like its blocks.
#[derive(Clone, Copy)]
pub(crate) struct Goal {
    /// The group to search first.
    pub(crate) group: u32,
    /// A block to start at if it is free (the block after the file's
    /// previous one, so a file grows contiguously).
    pub(crate) next_to: Option<u64>,
    /// Start at a 2 MiB boundary in a free 2 MiB region, so the file's
    /// leaf can be mapped with one PMD (see ondisk.rst, "Block map").
    pub(crate) aligned: bool,
    /// A metadata block: taken from the end of the group, so it never
    /// splits the free 2 MiB regions and contiguous runs that file data
    /// fills from the start.
    pub(crate) meta: bool,
}

/// Allocates up to `want` contiguous data blocks, at least one, where
/// `goal` prefers. Returns (first block, count). The blocks are zeroed on
/// the device (not through the buffer cache: file data never goes
/// through it).
pub(crate) fn alloc_blocks(sb: &SuperBlock<R2dax>, goal: Goal, want: u64) -> Result<(u64, u64)> {
    let (first, n) = alloc_run(sb, goal, want)?;
    // No stale data: zeroed before anything points at them.
    if let Err(e) = sb.zero_blocks(first, n) {
        give_back(sb, first, n);
        return Err(e);
    }
    Ok((first, n))
}

/// Frees `n` blocks from `first` (one group) that an operation allocated
/// and then could not use: nothing points at them yet. A failure here is
/// only logged (the caller is already returning an error); the blocks
/// then stay allocated, a leak that fsck reclaims.
pub(crate) fn give_back(sb: &SuperBlock<R2dax>, first: u64, n: u64) {
    if let Err(e) = free_blocks(sb, first, n) {
        sb_err!(
            sb,
            "giving back unused blocks {}..{} failed ({:?})",
            first,
            first + n,
            e
        );
    }
}

/// Allocates one metadata block (map, directory or symlink block) and
/// returns it with its buffer, zeroed and written. Metadata is read through
/// the buffer cache, so it must be initialised there: the device's page
/// cache may still hold an older copy of the block from a previous use.
pub(crate) fn alloc_meta(sb: &SuperBlock<R2dax>, goal_group: u32) -> Result<(u64, Buffer)> {
    let goal = Goal {
        group: goal_group,
        next_to: None,
        aligned: false,
        meta: true,
    };
    let (b, _) = alloc_run(sb, goal, 1)?;
    let bh = sb.getblk_zeroed(b).and_then(|bh| {
        bh.with_data_mut(|_| ());
        bh.sync()?;
        Ok(bh)
    });
    match bh {
        Ok(bh) => Ok((b, bh)),
        Err(e) => {
            give_back(sb, b, 1);
            Err(e)
        }
    }
}

/// Finds and marks up to `want` contiguous free blocks (see
/// [`alloc_blocks`]); the caller initialises them.
fn alloc_run(sb: &SuperBlock<R2dax>, goal: Goal, want: u64) -> Result<(u64, u64)> {
    let info: &SbInfo = sb.info();
    let geo = info.geo;
    let want = want.clamp(1, u64::from(BLOCKS_PER_GROUP)) as u32;
    let pmd = PMD_BLOCKS as u32;
    let mut alloc = info.alloc.lock();
    let groups = geo.group_count;
    // Rounds, each over every group from the goal on:
    // 0. right after the file's previous block (only in its group);
    // 1. aligned: a free 2 MiB region, or a full run of `want` aligned to
    //    2 MiB when that is at least 2 MiB; otherwise a full run anywhere;
    // 2. a full run anywhere;
    // 3. whatever contiguous piece the first group with free space has;
    // 4. (metadata only) the last free block.
    let exact = goal.next_to.and_then(|b| geo.group_of_block(b));
    for round in 0..5 {
        // Round 4 is a metadata block's only round.
        if goal.meta != (round == 4) || round == 0 && exact.is_none() || round == 1 && !goal.aligned
        {
            continue;
        }
        for k in 0..groups {
            let g = match (round, exact) {
                (0, Some((g, _))) if k == 0 => g,
                (0, _) => break,
                _ => (goal.group + k) % groups,
            };
            if alloc.groups[g as usize].free_blocks == 0 {
                continue;
            }
            let gblocks = geo.group_blocks(g) as u32;
            let meta = geo.meta_blocks() as u32;
            let bh = sb.bread(geo.block_bitmap(g))?;
            let found = bh.with_data_mut(|bits| {
                // The longest free run (up to `want`) from bit `s`.
                let run_from = |s: u32| {
                    let mut n = 0;
                    while n < want && s + n < gblocks && !test_bit(bits, s + n) {
                        n += 1;
                    }
                    n
                };
                // Group starts are 2 MiB-aligned on the device, so an
                // aligned bit is an aligned block.
                let hit = match round {
                    0 => exact
                        .map(|(_, bit)| bit)
                        .filter(|&bit| bit >= meta && bit < gblocks)
                        .map(|bit| (bit, run_from(bit)))
                        .filter(|&(_, n)| n > 0),
                    1 if want >= pmd => {
                        find_clear_run(bits, meta, gblocks, want, pmd).map(|s| (s, want))
                    }
                    1 => find_clear_run(bits, meta, gblocks, pmd, pmd).map(|s| (s, want)),
                    2 => find_clear_run(bits, meta, gblocks, want, 1).map(|s| (s, want)),
                    3 => find_clear(bits, meta, gblocks).map(|s| (s, run_from(s))),
                    _ => (meta..gblocks)
                        .rev()
                        .find(|&b| !test_bit(bits, b))
                        .map(|s| (s, 1)),
                };
                if let Some((s, n)) = hit {
                    set_bits(bits, s, n, true);
                }
                hit
            });
            let Some((start, n)) = found else { continue };
            if let Err(e) = bh.sync() {
                // The caller gets no blocks: the bits go back, so the
                // bitmap (which reaches the disk later) and the counters
                // agree.
                bh.with_data_mut(|bits| set_bits(bits, start, n, false));
                return Err(e);
            }
            let gd = &mut alloc.groups[g as usize];
            gd.free_blocks = gd.free_blocks.saturating_sub(n);
            alloc.dirty = true;
            drop(alloc);
            let first = geo.group_start(g) + u64::from(start);
            return Ok((first, u64::from(n)));
        }
    }
    Err(ENOSPC)
}

/// Whether `n` more blocks can go to speculative preallocation: only while
/// more than a sixteenth of the data area stays free after them (xfs
/// likewise stops preallocating when space runs low). That reserve is for
/// real writes; many files appending at once can still hold space beyond
/// their sizes down to it until they are closed (nothing trims them on
/// `ENOSPC` yet).
pub(crate) fn has_room_for(sb: &SuperBlock<R2dax>, n: u64) -> bool {
    let info = sb.info();
    let reserve = info.geo.data_blocks() / 16;
    info.alloc.lock().free_blocks() > n.saturating_add(reserve)
}

/// Frees `n` blocks from `first` (all in one group). The caller has already
/// removed (and written) every pointer to them.
pub(crate) fn free_blocks(sb: &SuperBlock<R2dax>, first: u64, n: u64) -> Result {
    let info = sb.info();
    let geo = info.geo;
    let Some((g, bit)) = geo.block_group(first) else {
        sb_err!(sb, "freeing block {} outside the filesystem", first);
        return Err(euclean());
    };
    if !geo.is_data_block(first) || !geo.is_data_block(first + n - 1) {
        sb_err!(sb, "freeing metadata block {}", first);
        return Err(euclean());
    }
    let mut alloc = info.alloc.lock();
    let bh = sb.bread(geo.block_bitmap(g))?;
    let n32 = n as u32;
    // Only bits that were set count: a double free (a bug) must not push
    // the counter past what the bitmap allows.
    let cleared = bh.with_data_mut(|bits| {
        let mut c = 0u32;
        for b in bit..bit + n32 {
            if test_bit(bits, b) {
                crate::ondisk::set_bit(bits, b, false);
                c += 1;
            }
        }
        c
    });
    // Freed blocks are no longer poisoned for the filesystem: their next
    // user writes them whole (zeroing at allocation), which clears
    // hardware poison on pmem. After the bits are clear, so that a poison
    // report racing this sees either the block recorded and forgotten
    // here, or the bit clear (and forgets it itself).
    sb.poison_forget(first, n);
    // The pointers are gone already: the blocks are free in memory (the
    // bitmap buffer reaches the disk later) even if this write fails, and
    // the counters say so.
    let synced = bh.sync();
    if cleared != n32 {
        sb_err!(sb, "freeing free blocks in {}..{}", first, first + n);
    }
    let capacity = (geo.group_blocks(g) - geo.meta_blocks()) as u32;
    let gd = &mut alloc.groups[g as usize];
    gd.free_blocks = (gd.free_blocks + cleared).min(capacity);
    alloc.dirty = true;
    synced
}

/// Allocates an inode number, preferring group `goal_group`.
pub(crate) fn alloc_inode(sb: &SuperBlock<R2dax>, goal_group: u32, dir: bool) -> Result<u32> {
    let info = sb.info();
    let geo = info.geo;
    let mut alloc = info.alloc.lock();
    for k in 0..geo.group_count {
        let g = (goal_group + k) % geo.group_count;
        if alloc.groups[g as usize].free_inodes == 0 {
            continue;
        }
        let bh = sb.bread(geo.inode_bitmap(g))?;
        let first = if g == 0 { FIRST_INO - 1 } else { 0 };
        let found = bh.with_data_mut(|bits| {
            let hit = find_clear(bits, first, geo.inodes_per_group);
            if let Some(b) = hit {
                crate::ondisk::set_bit(bits, b, true);
            }
            hit
        });
        let Some(bit) = found else { continue };
        if let Err(e) = bh.sync() {
            // As in `alloc_run`: no inode for the caller, the bit goes back.
            bh.with_data_mut(|bits| crate::ondisk::set_bit(bits, bit, false));
            return Err(e);
        }
        let gd = &mut alloc.groups[g as usize];
        gd.free_inodes = gd.free_inodes.saturating_sub(1);
        if dir {
            gd.used_dirs += 1;
        }
        alloc.dirty = true;
        return Ok(g * geo.inodes_per_group + bit + 1);
    }
    Err(ENOSPC)
}

/// Frees inode `ino`, whose slot the caller has already cleared.
pub(crate) fn free_inode(sb: &SuperBlock<R2dax>, ino: u32, dir: bool) -> Result {
    let info = sb.info();
    let geo = info.geo;
    let Some((g, bit)) = geo.ino_group(ino) else {
        sb_err!(sb, "freeing inode {} out of range", ino);
        return Err(euclean());
    };
    let mut alloc = info.alloc.lock();
    let bh = sb.bread(geo.inode_bitmap(g))?;
    let was_used = bh.with_data_mut(|bits| {
        let used = test_bit(bits, bit);
        crate::ondisk::set_bit(bits, bit, false);
        used
    });
    // As in `free_blocks`: free in memory whether or not this write fails.
    let synced = bh.sync();
    if !was_used {
        sb_err!(sb, "freeing free inode {}", ino);
        return synced;
    }
    let gd = &mut alloc.groups[g as usize];
    gd.free_inodes = (gd.free_inodes + 1).min(geo.inodes_per_group);
    if dir {
        gd.used_dirs = gd.used_dirs.saturating_sub(1);
    }
    alloc.dirty = true;
    synced
}

/// Recomputes every group's counters after an unclean shutdown: free blocks
/// and free inodes from the bitmaps (which are written through, so exact),
/// directories from the used inodes (unreadable slots are fsck's business).
/// The counters themselves are only written at sync and unmount, so a crash
/// leaves them stale. Returns whether any changed.
pub(crate) fn recount(sb: &SuperBlock<R2dax>) -> Result<bool> {
    let geo = sb.info().geo;
    let ipg = geo.inodes_per_group;
    let mut changed = false;
    let mut ibits = KVVec::from_elem(0u8, BLOCK_SIZE as usize, GFP_KERNEL)?;
    for g in 0..geo.group_count {
        let gblocks = geo.group_blocks(g) as u32;
        let bh = sb.bread(geo.block_bitmap(g))?;
        let free_blocks = bh.with_data(|bits| (0..gblocks).filter(|&b| !test_bit(bits, b)).count());
        let bh = sb.bread(geo.inode_bitmap(g))?;
        bh.with_data(|bits| {
            let n = bits.len().min(ibits.len());
            ibits[..n].copy_from_slice(&bits[..n]);
        });
        drop(bh);
        let mut free_inodes = 0u32;
        let mut dirs = 0u32;
        for bit in 0..ipg {
            if !test_bit(&ibits, bit) {
                free_inodes += 1;
                continue;
            }
            let ino = u64::from(g) * u64::from(ipg) + u64::from(bit) + 1;
            if let Ok(Slot::Used { inode, .. }) = read_slot(sb, ino)? {
                if is_dir(inode.mode) {
                    dirs += 1;
                }
            }
        }
        let mut alloc = sb.info().alloc.lock();
        let gd = &mut alloc.groups[g as usize];
        let want = (free_blocks as u32, free_inodes, dirs);
        if (gd.free_blocks, gd.free_inodes, gd.used_dirs) != want {
            (gd.free_blocks, gd.free_inodes, gd.used_dirs) = want;
            alloc.dirty = true;
            changed = true;
        }
    }
    Ok(changed)
}
