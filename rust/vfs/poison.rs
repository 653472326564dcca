// SPDX-License-Identifier: GPL-2.0
//! Poisoned blocks: device blocks whose memory failed (hardware poison, or
//! `madvise(MADV_HWPOISON)`), reported to the filesystem as the DAX
//! device's holder (`notify_failure` without `MF_MEM_PRE_REMOVE`, see
//! [`super::dax_holder`]).
//!
//! The set lives in memory only: hardware poison that outlives a remount
//! is in the pmem driver's bad-block list, which fails DAX access by
//! itself. For reads and faults `->iomap_begin` ends every mapping before
//! a poisoned block and refuses one that starts at it (`EIO`), so they
//! fail on that block and work on the rest of the file. Writes go
//! through (a write clears poison on pmem), and a block leaves the set
//! when a write covers it whole or when it is freed (its next user
//! writes it whole).

use super::fs::FileSystem;
use super::iomap_ops::{MapKind, Mapping};
use super::raw;
use super::sb::SuperBlock;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::error::code::EIO;
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::{new_mutex, pin_init};

/// What a device block holds ([`FileSystem::block_owner`]).
pub(crate) enum BlockOwner {
    /// Data of the file `ino`, at byte `offset`.
    File { ino: u64, offset: u64 },
    /// Metadata: what it is, and the inode it belongs to (0: none).
    Metadata { what: &'static str, ino: u64 },
    /// A free block.
    Free,
    /// Allocated, but no owner was found (the block moved or was freed
    /// while the owner was looked for).
    Unknown,
}

/// Marks a slot of [`Poison::blocks`] that no longer holds a block (it
/// sorts last; no block has this number).
const GONE: u64 = u64::MAX;

/// The poisoned blocks of a superblock.
///
/// Lock: `blocks` is a leaf, taken alone (by `->iomap_begin`, the
/// holder's notification and the freeing of blocks).
#[pin_data]
pub(crate) struct Poison {
    /// Whether `blocks` ever held a block: `->iomap_begin` looks no
    /// further while it is false.
    any: AtomicBool,
    /// Poisoned device blocks, sorted, [`GONE`] slots last.
    #[pin]
    blocks: Mutex<KVec<u64>>,
}

impl Poison {
    pub(super) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            any: AtomicBool::new(false),
            blocks <- new_mutex!(KVec::new(), "r2dax_poison"),
        })
    }
}

impl<T: FileSystem> SuperBlock<T> {
    fn poison(&self) -> &Poison {
        &self.sb_data().poison
    }

    /// Records that device block `block` is poisoned; whether it was not
    /// recorded already. Memory is allocated without the lock held: the
    /// allocation may reclaim, and reclaim may evict an inode and free
    /// blocks ([`SuperBlock::poison_forget`] takes the lock).
    pub(crate) fn poison_add(&self, block: u64) -> Result<bool> {
        let p = self.poison();
        loop {
            {
                let mut v = p.blocks.lock();
                if v.as_slice().binary_search(&block).is_ok() {
                    return Ok(false);
                }
                let n = v.len();
                let room = if v.as_slice().last() == Some(&GONE) {
                    v.as_mut_slice()[n - 1] = block;
                    true
                } else if n < v.capacity() {
                    // Within the capacity: no allocation.
                    v.push(block, GFP_NOWAIT).is_ok()
                } else {
                    false
                };
                if room {
                    v.as_mut_slice().sort_unstable();
                    p.any.store(true, Ordering::Release);
                    return Ok(true);
                }
            }
            let want = p.blocks.lock().len() * 2 + 8;
            let mut bigger = KVec::with_capacity(want, GFP_KERNEL)?;
            let mut v = p.blocks.lock();
            if v.len() <= bigger.capacity() {
                bigger.extend_from_slice(v.as_slice(), GFP_NOWAIT)?;
                *v = bigger;
            }
        }
    }

    /// Blocks `first..first + n` were freed: they are no longer poisoned
    /// for the filesystem (the next user writes them whole).
    pub(crate) fn poison_forget(&self, first: u64, n: u64) {
        let p = self.poison();
        if !p.any.load(Ordering::Acquire) {
            return;
        }
        let mut v = p.blocks.lock();
        let end = first.saturating_add(n);
        for b in v.as_mut_slice() {
            if (first..end).contains(b) {
                *b = GONE;
            }
        }
        v.as_mut_slice().sort_unstable();
    }

    /// The poisoned blocks among `first..first + n`: the first one at or
    /// after `at`, and the last one before it (`None` for either if there
    /// is none).
    pub(super) fn poisoned_around(
        &self,
        first: u64,
        n: u64,
        at: u64,
    ) -> (Option<u64>, Option<u64>) {
        let p = self.poison();
        if !p.any.load(Ordering::Acquire) {
            return (None, None);
        }
        let v = p.blocks.lock();
        let s = v.as_slice();
        let end = first.saturating_add(n);
        let i = s.partition_point(|&b| b < at);
        let after = s.get(i).copied().filter(|&b| b < end && b != GONE);
        let before = i
            .checked_sub(1)
            .and_then(|j| s.get(j).copied())
            .filter(|&b| b >= first);
        (after, before)
    }

    /// `m`, a mapping `->iomap_begin` made for file bytes `pos..pos +
    /// len`, cut so that a read or a fault names no poisoned block: `EIO`
    /// if the block at `pos` is poisoned, else the mapping ends before the
    /// next poisoned block and starts after the last one before `pos`.
    /// Writes and zeroing go through (on pmem a write of a poisoned range
    /// clears it: `dax_iomap_iter`'s recovery write, or the driver's bio
    /// path), and the blocks a write covers whole leave the set.
    pub(super) fn avoid_poison(
        &self,
        mut m: Mapping,
        pos: u64,
        len: u64,
        flags: u32,
    ) -> Result<Mapping> {
        let MapKind::Mapped(addr) = m.kind else {
            return Ok(m);
        };
        const B: u64 = 4096;
        if flags & (raw::IOMAP_WRITE | raw::IOMAP_ZERO) != 0 && flags & raw::IOMAP_FAULT == 0 {
            if flags & raw::IOMAP_WRITE != 0 {
                // The blocks of this mapping the write covers whole.
                let end = pos.saturating_add(len).min(m.offset + m.length);
                let (from, to) = (pos.div_ceil(B) * B, end / B * B);
                if from < to {
                    self.poison_forget(addr / B + (from - m.offset) / B, (to - from) / B);
                }
            }
            return Ok(m);
        }
        let (first, n) = (addr / B, m.length.div_ceil(B));
        let at = (addr + (pos - m.offset)) / B;
        let (after, before) = self.poisoned_around(first, n, at);
        if after == Some(at) {
            return Err(EIO);
        }
        if let Some(b) = after {
            // The mapping starts at a block boundary (file offsets and
            // device addresses are block-aligned together).
            m.length = (b - first) * B;
        }
        if let Some(b) = before {
            let skip = (b + 1 - first) * B;
            m.offset += skip;
            m.length -= skip;
            m.kind = MapKind::Mapped(addr + skip);
        }
        Ok(m)
    }
}
