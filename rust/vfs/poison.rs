// SPDX-License-Identifier: GPL-2.0
//! Poisoned blocks: device blocks whose memory failed (hardware poison, or
//! `madvise(MADV_HWPOISON)`), reported to the filesystem as the DAX
//! device's holder (`notify_failure` without `MF_MEM_PRE_REMOVE`, see
//! [`super::dax_holder`]).
//!
//! The set lives in memory only: hardware poison that outlives a remount
//! is in the pmem driver's bad-block list, which fails DAX access by
//! itself. `->iomap_begin` ends every mapping before a poisoned block and
//! refuses one that starts at it (`EIO`), so reads, writes and faults of
//! a poisoned block fail and the rest of the file works; a block leaves
//! the set when it is freed (its next user zeroes it, which clears
//! hardware poison on pmem).

use super::fs::FileSystem;
use super::iomap_ops::{MapKind, Mapping};
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
    /// Allocated, but no owner was found (a block reserved for an append,
    /// or one changed while the owner was looked for).
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

    /// Records that device block `block` is poisoned.
    pub(crate) fn poison_add(&self, block: u64) -> Result {
        let p = self.poison();
        let mut v = p.blocks.lock();
        if v.as_slice().binary_search(&block).is_ok() {
            return Ok(());
        }
        // A `GONE` slot is reused before the vector grows.
        match v.as_slice().last() {
            Some(&GONE) => {
                let n = v.len();
                v.as_mut_slice()[n - 1] = block;
            }
            _ => v.push(block, GFP_KERNEL)?,
        }
        v.as_mut_slice().sort_unstable();
        p.any.store(true, Ordering::Release);
        Ok(())
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

    /// `m`, a mapping `->iomap_begin` made for file offset `pos`, cut so
    /// that it names no poisoned block: `EIO` if the block at `pos` is
    /// poisoned, else the mapping ends before the next poisoned block and
    /// starts after the last one before `pos`.
    pub(super) fn avoid_poison(&self, mut m: Mapping, pos: u64) -> Result<Mapping> {
        let MapKind::Mapped(addr) = m.kind else {
            return Ok(m);
        };
        const B: u64 = 4096;
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
