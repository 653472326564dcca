// SPDX-License-Identifier: GPL-2.0
//! The in-memory index of a directory: where each name is, and how many
//! free slots each block has.
//!
//! The on-disk directory is ext2-like, a flat array of blocks, so without
//! an index every lookup, create, rename and unlink scans (and checksums)
//! every entry: O(n) per operation. The index is built by one scan the
//! first time a directory is searched or changed, and kept up to date by
//! [`crate::dir`]'s changes; it is only a cache, never written, and dies
//! with the in-memory inode. Nothing on disk changes.
//!
//! Names are hashed (FNV-1a, 31 bits) into an open-addressing table of
//! `u64`s: `1 << 63 | hash << 32 | block << 7 | slot`. A hit is a
//! candidate only: the caller reads that slot and compares the name, so a
//! collision costs a block read, never a wrong answer. (The hash is not
//! keyed: names chosen to collide make lookups as slow as the scan, no
//! worse.)
//!
//! Locking: `RInode::dir_index` (a mutex) protects it. Lookups hold the
//! directory's `i_rwsem` shared, changes hold it exclusively, and both
//! take `dir_index` inside it, before any buffer lock, the allocator's lock
//! or `RInode::state`. A change updates the index only after its block is
//! written; if a change fails halfway the index is dropped ([`Index::off`]
//! for this inode's lifetime), and lookups scan as before.

use crate::ondisk::dirent::SLOTS_PER_BLOCK;
use crate::ondisk::{DirSlot, Dirent};
use kernel::alloc::KVVec;
use kernel::prelude::*;

const EMPTY: u64 = 0;
const TOMB: u64 = 1;
const USED: u64 = 1 << 63;
/// Blocks the index can address (`block << 7` must stay below bit 32).
pub(crate) const MAX_BLOCKS: u64 = 1 << 25;
const MIN_CAP: usize = 64;

/// The index's state: not built yet, built, or given up on.
#[derive(Default)]
pub(crate) enum DirIndex {
    /// Built on the first use.
    #[default]
    Unbuilt,
    Built(Index),
    /// A build or an update failed (memory, or a write error halfway
    /// through a change): scan, as without an index.
    Off,
}

/// A built index.
pub(crate) struct Index {
    /// Open addressing, linear probing; a power of two, at most 3/4 full.
    table: KVVec<u64>,
    used: usize,
    tombs: usize,
    /// Free slots per block (an upper bound on the longest free run).
    free: KVVec<u8>,
}

/// The hash of a name: FNV-1a, top bit cleared (it marks used entries).
pub(crate) fn hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in name {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h & 0x7fff_ffff
}

fn pack(h: u32, block: u64, slot: usize) -> u64 {
    USED | u64::from(h) << 32 | block << 7 | slot as u64
}

impl Index {
    /// An empty index for a directory of `blocks` blocks.
    pub(crate) fn new(blocks: u64) -> Result<Index> {
        if blocks > MAX_BLOCKS {
            return Err(EFBIG);
        }
        Ok(Index {
            table: KVVec::from_elem(EMPTY, MIN_CAP, GFP_KERNEL)?,
            used: 0,
            tombs: 0,
            free: KVVec::with_capacity(blocks as usize, GFP_KERNEL)?,
        })
    }

    /// Records one block's entries (".." excluded by the caller) and its
    /// free slots. Blocks are added in order, from block 0.
    pub(crate) fn add_block(
        &mut self,
        data: &[u8],
        skip_dotdot: bool,
    ) -> core::result::Result<Result, usize> {
        let block = self.free.len() as u64;
        if block >= MAX_BLOCKS {
            return Ok(Err(EFBIG));
        }
        let mut free = 0u8;
        let mut slot = 0;
        while slot < SLOTS_PER_BLOCK {
            match Dirent::decode(data, slot) {
                DirSlot::Entry(d) => {
                    if !(skip_dotdot && slot == 0) {
                        if let Err(e) = self.insert(hash(d.name(data)), block, slot) {
                            return Ok(Err(e));
                        }
                    }
                    slot += d.nslots;
                }
                DirSlot::Free => {
                    free += 1;
                    slot += 1;
                }
                DirSlot::Corrupt => return Err(slot),
            }
        }
        Ok(self.push_block(free))
    }

    /// Appends a block with `free` free slots.
    pub(crate) fn push_block(&mut self, free: u8) -> Result {
        self.free.push(free, GFP_KERNEL)?;
        Ok(())
    }

    /// Number of indexed entries.
    pub(crate) fn entries(&self) -> usize {
        self.used
    }

    /// Whether block `b` has at least `need` free slots.
    pub(crate) fn may_fit(&self, b: u64, need: usize) -> bool {
        usize::try_from(b)
            .ok()
            .and_then(|b| self.free.get(b))
            .is_some_and(|&f| usize::from(f) >= need)
    }

    /// Adjusts block `b`'s free count by `delta` slots.
    pub(crate) fn adjust_free(&mut self, b: u64, delta: isize) {
        if let Some(f) = usize::try_from(b).ok().and_then(|b| self.free.get_mut(b)) {
            *f = (isize::from(*f) + delta).clamp(0, SLOTS_PER_BLOCK as isize) as u8;
        }
    }

    fn mask(&self) -> usize {
        self.table.len() - 1
    }

    /// Adds `(block, slot)` under hash `h`.
    pub(crate) fn insert(&mut self, h: u32, block: u64, slot: usize) -> Result {
        if block >= MAX_BLOCKS || slot >= SLOTS_PER_BLOCK {
            return Err(EFBIG);
        }
        if (self.used + self.tombs + 1) * 4 > self.table.len() * 3 {
            let cap = if (self.used + 1) * 2 > self.table.len() {
                self.table.len().checked_mul(2).ok_or(ENOMEM)?
            } else {
                self.table.len()
            };
            self.rehash(cap)?;
        }
        let mask = self.mask();
        let mut pos = h as usize & mask;
        while self.table[pos] != EMPTY && self.table[pos] != TOMB {
            pos = (pos + 1) & mask;
        }
        if self.table[pos] == TOMB {
            self.tombs -= 1;
        }
        self.table[pos] = pack(h, block, slot);
        self.used += 1;
        Ok(())
    }

    fn rehash(&mut self, cap: usize) -> Result {
        let old = core::mem::replace(&mut self.table, KVVec::from_elem(EMPTY, cap, GFP_KERNEL)?);
        let mask = cap - 1;
        for &e in old.iter().filter(|&&e| e != EMPTY && e != TOMB) {
            let mut pos = (e >> 32) as usize & 0x7fff_ffff & mask;
            while self.table[pos] != EMPTY {
                pos = (pos + 1) & mask;
            }
            self.table[pos] = e;
        }
        self.tombs = 0;
        Ok(())
    }

    /// The candidates for hash `h`: (table position, block, slot), in
    /// probe order. The table is never full, so the walk ends.
    pub(crate) fn candidates(&self, h: u32) -> Candidates<'_> {
        Candidates {
            ix: self,
            pos: h as usize & self.mask(),
            h,
        }
    }

    /// Removes the entry at table position `pos` (from [`Self::candidates`]).
    pub(crate) fn remove_at(&mut self, pos: usize) {
        if let Some(e) = self.table.get_mut(pos) {
            if *e != EMPTY && *e != TOMB {
                *e = TOMB;
                self.used -= 1;
                self.tombs += 1;
            }
        }
    }
}

/// Iterator of [`Index::candidates`].
pub(crate) struct Candidates<'a> {
    ix: &'a Index,
    pos: usize,
    h: u32,
}

impl Iterator for Candidates<'_> {
    type Item = (usize, u64, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let mask = self.ix.mask();
        loop {
            let pos = self.pos;
            let e = *self.ix.table.get(pos)?;
            if e == EMPTY {
                return None;
            }
            self.pos = (pos + 1) & mask;
            if e != TOMB && (e >> 32) as u32 & 0x7fff_ffff == self.h {
                return Some((pos, (e >> 7) & (MAX_BLOCKS - 1), (e & 0x7f) as usize));
            }
        }
    }
}
