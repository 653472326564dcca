// SPDX-License-Identifier: GPL-2.0
//! Extended attributes: the attribute index (inode 3) and attribute
//! blocks of `ondisk.rst`, "Extended attributes" (the role of
//! fs/ext2/xattr.c), behind the VFS layer's [`XattrOperations`].
//!
//! Every change of an inode's attributes follows crash rule 8: the new
//! set is written whole into a newly allocated block, one 8-byte store in
//! the index switches the inode to it, and only then is the old block
//! released (a shared block's reference count drops, an unshared one is
//! freed). A block that any index entry names is never rewritten, except
//! for its reference count. A new set identical to one the mount has read
//! or written shares that block instead ([`ShareList`], the role of ext2's
//! mbcache): its count is raised and written before the entry names it.
//!
//! Locks, outermost first: the VFS's `i_rwsem` (held by every writer),
//! the inode's [`RInode::xattr`] (readers and writers of one inode's
//! attributes; its cache of the block number), [`SbInfo::xattr_index`]
//! (the index inode's map and entries, every reference count, and the
//! share list), then
//! the allocator's lock and buffer locks. `RInode::state` may be taken
//! under `RInode::xattr` (the inode write of a change), never the other
//! way round; `xattr_index` is never held with an inode's `state`.
//!
//! [`RInode::xattr`]: crate::inode::RInode::xattr
//! [`SbInfo::xattr_index`]: crate::super_::SbInfo::xattr_index

use crate::alloc;
use crate::inode::{map_insert, map_lookup, read_ptr, write_disk, write_inode, State};
use crate::ondisk::{
    mode, ptr_block, xattr, xattr_edit, xattr_seal, xattr_set_bytes, xattr_set_refcount, Geometry,
    Inode, Slot, XattrBlock, XattrEditError, XattrMode, BLOCK_SIZE, INODE_SIZE, PTR_UNWRITTEN,
    XATTR_INDEX_INO,
};
use crate::super_::R2dax;
use crate::vfs::errno::{eopnotsupp, euclean};
use crate::vfs::lock::{Excl, Exclusive, InodeLocked};
use crate::vfs::print::sb_err;
use crate::vfs::sb::{New, SuperBlock};
use crate::vfs::vfs_inode::INode;
use crate::vfs::xattr::{SetMode, XattrNs, XattrOperations};
use kernel::alloc::{KBox, KVec};
use kernel::error::code::{EEXIST, EINVAL, EIO, ENOSPC};
use kernel::prelude::*;

/// An inode's attribute state in memory, under [`crate::inode::RInode::xattr`].
#[derive(Default)]
pub(crate) struct Cache {
    /// The number of the inode's attribute block (0: none), once read
    /// from the index; `None` until then.
    block: Option<u64>,
}

/// The attribute index under [`SbInfo::xattr_index`].
///
/// [`SbInfo::xattr_index`]: crate::super_::SbInfo::xattr_index
pub(crate) struct Index {
    /// The index inode (inode 3): its on-disk image and block map.
    map: State,
    /// Attribute blocks a new identical set may share.
    share: ShareList,
}

/// Attribute blocks a new identical set may share (the role of ext2's
/// mbcache): the last [`SHARE_MAX`] blocks read or written, by the hash
/// of their set. A hint, found by hash and then compared byte for byte.
/// Every block in it is allocated, with a reference count (in its
/// buffer) at least the number of index entries that name it, possibly
/// none for a moment: counts change only under the index lock that guards
/// the list, [`share`] raises one before it makes the entry, and the only
/// free of an attribute block, [`release`] at count 1, takes the block
/// out of the list first, under that lock.
struct ShareList {
    /// [`SHARE_MAX`] slots of (hash, block); block 0 (never a data
    /// block) marks an empty one.
    slots: KVec<(u32, u64)>,
    /// The slot the next block goes into, overwriting the oldest.
    next: usize,
}

/// Blocks remembered for sharing per mount (16 bytes each).
const SHARE_MAX: usize = 256;

impl ShareList {
    fn new() -> Result<Self> {
        Ok(ShareList {
            slots: KVec::from_elem((0, 0), SHARE_MAX, GFP_KERNEL)?,
            next: 0,
        })
    }

    /// Remembers block `blk`, which holds a set of hash `hash`.
    fn add(&mut self, hash: u32, blk: u64) {
        if let Some(s) = self.slots.get_mut(self.next) {
            *s = (hash, blk);
        }
        self.next = (self.next + 1) % SHARE_MAX;
    }

    /// Remembers block `blk` unless it is already in the list.
    fn add_new(&mut self, hash: u32, blk: u64) {
        if !self.slots.iter().any(|s| s.1 == blk) {
            self.add(hash, blk);
        }
    }

    /// Forgets block `blk`.
    fn forget(&mut self, blk: u64) {
        for s in self.slots.iter_mut().filter(|s| s.1 == blk) {
            *s = (0, 0);
        }
    }

    /// The `k`-th newest slot (`k` from 1).
    fn newest(&self, k: usize) -> (u32, u64) {
        let i = (self.next + SHARE_MAX - k % SHARE_MAX) % SHARE_MAX;
        self.slots.get(i).copied().unwrap_or((0, 0))
    }
}

/// Candidates [`share`] compares at most per set: blocks with the same
/// hash but another set (crafted ones, say) cost a read each, under the
/// index lock.
const SHARE_TRIES: usize = 8;

/// The hash a set is remembered by in [`Index::share`].
fn set_hash(b: &[u8]) -> u32 {
    crate::ondisk::crc32c(xattr_set_bytes(b))
}

/// The on-disk namespace index of `ns` (the format numbers them as the
/// VFS layer does).
fn disk_ns(ns: XattrNs) -> u8 {
    match ns {
        XattrNs::User => xattr::NS_USER,
        XattrNs::Trusted => xattr::NS_TRUSTED,
        XattrNs::Security => xattr::NS_SECURITY,
        XattrNs::AclAccess => xattr::NS_ACL_ACCESS,
        XattrNs::AclDefault => xattr::NS_ACL_DEFAULT,
    }
}

/// The VFS namespace of on-disk index `ns`.
fn vfs_ns(ns: u8) -> Option<XattrNs> {
    Some(match ns {
        xattr::NS_USER => XattrNs::User,
        xattr::NS_TRUSTED => XattrNs::Trusted,
        xattr::NS_SECURITY => XattrNs::Security,
        xattr::NS_ACL_ACCESS => XattrNs::AclAccess,
        xattr::NS_ACL_DEFAULT => XattrNs::AclDefault,
        _ => return None,
    })
}

/// Reads and checks the attribute index at mount (with the `XATTR`
/// feature): inode 3 must be a regular file with one link and the size
/// the inode count gives.
pub(crate) fn load_index(sb: &SuperBlock<R2dax, New>, geo: &Geometry) -> Result<Index> {
    let (blk, off) = geo.inode_location(XATTR_INDEX_INO).ok_or(EIO)?;
    let mut slot = [0u8; INODE_SIZE];
    sb.bread(blk)?.with_data(|d| {
        d.get(off..off + INODE_SIZE)
            .map(|s| slot.copy_from_slice(s))
            .ok_or(EIO)
    })?;
    let bad = |what: &str| {
        sb_err!(
            sb,
            "attribute index (inode {}): {}; run fsck.r2dax",
            XATTR_INDEX_INO,
            what
        );
        Err(euclean())
    };
    let (disk, copy): (Inode, usize) = match Inode::decode_slot(&slot, XATTR_INDEX_INO) {
        Ok(Slot::Used { inode, copy }) => (inode, copy),
        Ok(Slot::Free) => return bad("missing"),
        Err(_) => return bad("no valid copy"),
    };
    if disk.mode != mode::S_IFREG
        || disk.links != 1
        || disk.iflags2 != 0
        || disk.size != xattr::index_size(geo.inodes_count())
    {
        return bad("not an index of this filesystem's size");
    }
    Ok(Index {
        map: State {
            disk,
            copy,
            ..State::default()
        },
        share: ShareList::new()?,
    })
}

/// The group an inode's new attribute block is allocated near: its own.
fn goal_of(sb: &SuperBlock<R2dax>, ino: u32) -> u32 {
    ino.saturating_sub(1)
        .checked_div(sb.info().geo.inodes_per_group)
        .unwrap_or(0)
}

/// Inode `ino`'s index entry: its attribute block, 0 for none.
fn index_get(sb: &SuperBlock<R2dax>, ino: u32) -> Result<u64> {
    let geo = &sb.info().geo;
    let idx = sb.info().xattr_index.lock();
    let Some(ix) = idx.as_ref() else {
        return Ok(0);
    };
    let (lblk, off) = xattr::index_pos(ino);
    let p = map_lookup(sb, &ix.map.disk, lblk)?;
    if p == 0 {
        return Ok(0);
    }
    if p & PTR_UNWRITTEN != 0 || !geo.is_data_block(p) {
        sb_err!(
            sb,
            "attribute index: bad block pointer {:#x}; run fsck.r2dax",
            p
        );
        return Err(euclean());
    }
    let e = sb.bread(p)?.with_data(|d| read_ptr(d, off / 8))?;
    if e != 0 && !geo.is_data_block(e) {
        sb_err!(
            sb,
            "inode {}: attribute block {} is outside the data area; run fsck.r2dax",
            ino,
            e
        );
        return Err(euclean());
    }
    Ok(e)
}

/// Stores `val` as inode `ino`'s index entry and writes it. Returns
/// whether the entry changed in memory: after that, it stands even if
/// the write fails (design.rst, "When a metadata write fails"). An index
/// block is allocated (zeroed and written) for the first entry in it.
fn index_put(sb: &SuperBlock<R2dax>, ino: u32, val: u64) -> (bool, Result) {
    match sb.info().xattr_index.lock().as_mut() {
        Some(ix) => put_locked(sb, &mut ix.map, ino, val),
        None => (false, Err(eopnotsupp())),
    }
}

/// [`index_put`] with the index locked: `st` is its map.
fn put_locked(sb: &SuperBlock<R2dax>, st: &mut State, ino: u32, val: u64) -> (bool, Result) {
    let (lblk, off) = xattr::index_pos(ino);
    let p = match map_lookup(sb, &st.disk, lblk) {
        Ok(0) if val == 0 => return (false, Ok(())),
        Ok(0) => match new_index_block(sb, ino, st, lblk) {
            Ok(p) => p,
            Err(e) => return (false, Err(e)),
        },
        Ok(p) => ptr_block(p),
        Err(e) => return (false, Err(e)),
    };
    let bh = match sb.bread(p) {
        Ok(bh) => bh,
        Err(e) => return (false, Err(e)),
    };
    bh.with_data_mut(|d| {
        if let Some(dst) = d.get_mut(off..off + 8) {
            dst.copy_from_slice(&val.to_le_bytes());
        }
    });
    (true, bh.sync())
}

/// Allocates, zeroes and links the index block `lblk` (for inode `ino`),
/// then writes the index inode (its block count, maybe its roots).
fn new_index_block(sb: &SuperBlock<R2dax>, ino: u32, st: &mut State, lblk: u64) -> Result<u64> {
    let goal = goal_of(sb, ino);
    let (b, _bh) = alloc::alloc_meta(sb, goal)?;
    if let Err(e) = map_insert(sb, goal, st, lblk, b) {
        // Not linked: give it back. Map blocks the insert linked stay
        // counted in `st` (map_insert's rule).
        let _ = alloc::free_blocks(sb, b, 1);
        let _ = write_disk(sb, u64::from(XATTR_INDEX_INO), st);
        return Err(e);
    }
    st.disk.blocks += 1;
    write_disk(sb, u64::from(XATTR_INDEX_INO), st)?;
    Ok(b)
}

/// Gives up one index entry's reference to attribute block `blk` (of
/// inode `ino`, whose entry no longer names it): a shared block's count
/// drops by one, an unshared block is freed. The block is decoded first:
/// one that does not decode is left alone for fsck (it may not be an
/// attribute block at all). Under the index lock, which serialises every
/// change of a reference count.
fn release(sb: &SuperBlock<R2dax>, ino: u32, blk: u64) -> Result {
    let mut idx = sb.info().xattr_index.lock();
    let bh = sb.bread(blk)?;
    let refs = bh.with_data(|d| XattrBlock::decode(d, blk).map(|x| x.refcount));
    let refs = match refs {
        Ok(r) => r,
        Err(e) => {
            sb_err!(
                sb,
                "inode {}: attribute block {}: {}; left for fsck.r2dax",
                ino,
                blk,
                e
            );
            return Err(euclean());
        }
    };
    if refs > 1 {
        bh.with_data_mut(|d| xattr_set_refcount(d, refs - 1));
        return bh.sync();
    }
    drop(bh);
    // Out of the share list before the block can be allocated again.
    if let Some(ix) = idx.as_mut() {
        ix.share.forget(blk);
    }
    alloc::free_blocks(sb, blk, 1)
}

/// The inode's attribute block (0: none), from the cache or the index.
/// A block read from the index joins the share list, so that sets
/// written before the mount are shared too.
fn block_of(inode: &INode<R2dax>, c: &mut Cache) -> Result<u64> {
    if let Some(b) = c.block {
        return Ok(b);
    }
    let ino = u32::try_from(inode.ino()).map_err(|_| EIO)?;
    let b = index_get(inode.sb(), ino)?;
    if b != 0 {
        remember(inode.sb(), b);
    }
    c.block = Some(b);
    Ok(b)
}

/// Adds attribute block `blk`, which an inode's index entry names, to the
/// share list if it decodes. The caller holds that inode's
/// `RInode::xattr`, so the entry, and the block's use, last until the
/// block is in the list; from then on [`release`] takes it out.
fn remember(sb: &SuperBlock<R2dax>, blk: u64) {
    let Ok(bh) = sb.bread(blk) else {
        return;
    };
    let hash = bh.with_data(|d| XattrBlock::decode(d, blk).ok().map(|_| set_hash(d)));
    drop(bh);
    if let (Some(h), Some(ix)) = (hash, sb.info().xattr_index.lock().as_mut()) {
        ix.share.add_new(h, blk);
    }
}

/// Runs `f` on inode `ino`'s attribute block `blk`, decoded; a block that
/// does not decode is logged and refused (`EUCLEAN`). The block is copied
/// out of the buffer first, so `f` may allocate (and call back into the
/// VFS) without a buffer lock held.
fn with_block<R>(
    sb: &SuperBlock<R2dax>,
    ino: u64,
    blk: u64,
    f: impl FnOnce(&XattrBlock<'_>) -> R,
) -> Result<R> {
    let mut copy = KBox::new([0u8; BLOCK_SIZE as usize], GFP_KERNEL)?;
    sb.bread(blk)?.with_data(|d| {
        if let Some(src) = d.get(..copy.len()) {
            copy.copy_from_slice(src);
        }
    });
    match XattrBlock::decode(&copy[..], blk) {
        Ok(x) => Ok(f(&x)),
        Err(e) => {
            sb_err!(
                sb,
                "inode {}: attribute block {}: {}; run fsck.r2dax",
                ino,
                blk,
                e
            );
            Err(euclean())
        }
    }
}

/// Where a new attribute set ended up ([`store_new`]).
enum Stored {
    /// In block `.0`, and the inode's index entry names it on the media.
    Done(u64),
    /// In block `.0`, and the index entry names it in memory, but the
    /// entry's write failed (writeback retries it): the block is the
    /// inode's, and the old one must stay allocated, since the media
    /// still name it.
    Unsynced(u64),
}

/// Inode `ino`'s index entry names block `blk` (0: none) in memory, but
/// writing it failed with `e`: logged, and [`Stored::Unsynced`].
fn unsynced(sb: &SuperBlock<R2dax>, ino: u32, blk: u64, e: Error) -> Stored {
    sb_err!(
        sb,
        "inode {}: writing its attribute index entry failed ({:?})",
        ino,
        e
    );
    Stored::Unsynced(blk)
}

/// Points inode `ino`'s index entry at a block that holds the set `set`
/// (a built, unsealed block): one already in use with the same set if
/// [`Index::share`] knows one, else a new one. The entry must have been
/// 0 or its old block is the caller's to release (not after
/// [`Stored::Unsynced`]). On an error before the entry changed, a new
/// block goes back and a shared one's count comes down; an index block
/// linked for the entry stays (it is the index's, and empty).
fn store_new(
    sb: &SuperBlock<R2dax>,
    ino: u32,
    set: &mut [u8; BLOCK_SIZE as usize],
) -> Result<Stored> {
    let hash = set_hash(&set[..]);
    if let Some(stored) = share(sb, ino, set, hash)? {
        return Ok(stored);
    }
    let (b, bh) = alloc::alloc_meta(sb, goal_of(sb, ino))?;
    xattr_seal(set, b);
    bh.with_data_mut(|d| d.copy_from_slice(&set[..]));
    if let Err(e) = bh.sync() {
        drop(bh);
        let _ = alloc::free_blocks(sb, b, 1);
        return Err(e);
    }
    drop(bh);
    let mut idx = sb.info().xattr_index.lock();
    let Some(ix) = idx.as_mut() else {
        drop(idx);
        let _ = alloc::free_blocks(sb, b, 1);
        return Err(eopnotsupp());
    };
    let (changed, r) = put_locked(sb, &mut ix.map, ino, b);
    if changed {
        // Named by the entry (in memory at least): another inode may
        // share it from now on.
        ix.share.add(hash, b);
    }
    drop(idx);
    match (changed, r) {
        (_, Ok(())) => Ok(Stored::Done(b)),
        (true, Err(e)) => Ok(unsynced(sb, ino, b, e)),
        (false, Err(e)) => {
            let _ = alloc::free_blocks(sb, b, 1);
            Err(e)
        }
    }
}

/// Shares a block that already holds the set `set` (hash `hash`) with
/// inode `ino`, if [`Index::share`] knows one: its reference count is
/// raised and written first, then the entry made (crash rule 8: a count
/// too high, never too low). `None` if there is none to share. A block
/// that cannot be read or no longer decodes, or is at
/// [`xattr::REFCOUNT_MAX`], leaves the list.
fn share(
    sb: &SuperBlock<R2dax>,
    ino: u32,
    set: &[u8; BLOCK_SIZE as usize],
    hash: u32,
) -> Result<Option<Stored>> {
    let mut idx = sb.info().xattr_index.lock();
    let Some(ix) = idx.as_mut() else {
        return Ok(None);
    };
    // Newest first: the likeliest to be shared again.
    let mut tries = 0;
    for k in 1..=SHARE_MAX {
        let (h, blk) = ix.share.newest(k);
        if blk == 0 || h != hash {
            continue;
        }
        tries += 1;
        if tries > SHARE_TRIES {
            break;
        }
        let Ok(bh) = sb.bread(blk) else {
            ix.share.forget(blk);
            continue;
        };
        let refs = bh.with_data(|d| match XattrBlock::decode(d, blk) {
            Ok(x) if x.refcount >= xattr::REFCOUNT_MAX => Err(()),
            Ok(x) if x.set_bytes() == xattr_set_bytes(&set[..]) => Ok(Some(x.refcount)),
            Ok(_) => Ok(None),
            Err(_) => Err(()),
        });
        let refs = match refs {
            Ok(Some(r)) => r,
            // Another set with the same hash.
            Ok(None) => continue,
            Err(()) => {
                ix.share.forget(blk);
                continue;
            }
        };
        bh.with_data_mut(|d| xattr_set_refcount(d, refs + 1));
        if bh.sync().is_err() {
            // Not counted on the media: no reference may be made. The
            // old count goes back (written back with the buffer).
            bh.with_data_mut(|d| xattr_set_refcount(d, refs));
            ix.share.forget(blk);
            return Ok(None);
        }
        return match put_locked(sb, &mut ix.map, ino, blk) {
            (_, Ok(())) => Ok(Some(Stored::Done(blk))),
            (true, Err(e)) => Ok(Some(unsynced(sb, ino, blk, e))),
            (false, Err(e)) => {
                // No entry made: the count comes down again (if this
                // write fails, it stays one too high, which fsck lowers).
                bh.with_data_mut(|d| xattr_set_refcount(d, refs));
                let _ = bh.sync();
                Err(e)
            }
        };
    }
    Ok(None)
}

/// The errno of an attribute edit that produced nothing.
fn edit_errno(e: XattrEditError) -> Error {
    match e {
        XattrEditError::Exists => EEXIST,
        XattrEditError::NotFound => crate::vfs::errno::enodata(),
        XattrEditError::NoSpace => ENOSPC,
        XattrEditError::Invalid => EINVAL,
    }
}

/// Gives a new inode its first attributes (inherited ACLs, LSM labels):
/// `attrs` as (namespace, name, value). Called before the inode's name
/// is placed (crash rule 3): a crash leaves an unnamed inode with its
/// attributes, which fsck frees together. A stale index entry (only
/// corruption leaves one: the entry is cleared before an inode is freed)
/// is logged and overwritten.
pub(crate) fn init_new(inode: &INode<R2dax>, attrs: &[(XattrNs, &[u8], &[u8])]) -> Result {
    let sb = inode.sb();
    let ino = u32::try_from(inode.ino()).map_err(|_| EIO)?;
    let mut c = inode.data().xattr.lock();
    if !sb.info().xattrs {
        return Ok(());
    }
    let stale = index_get(sb, ino)?;
    if stale != 0 {
        sb_err!(
            sb,
            "inode {}: new inode had attribute block {} in the index; dropping the entry (run fsck.r2dax)",
            ino,
            stale
        );
    }
    let mut set = KBox::new([0u8; BLOCK_SIZE as usize], GFP_KERNEL)?;
    let mut cur = KBox::new([0u8; BLOCK_SIZE as usize], GFP_KERNEL)?;
    let mut n = 0;
    for &(ns, name, value) in attrs {
        let old = if n > 0 {
            Some(XattrBlock::decode(&cur[..], 0).map_err(|_| EIO)?)
        } else {
            None
        };
        n = xattr_edit(
            &mut set,
            old.as_ref(),
            disk_ns(ns),
            name,
            Some(value),
            XattrMode::Any,
        )
        .map_err(edit_errno)?;
        // Sealed as block 0 while it is built, so that it decodes.
        xattr_seal(&mut set, 0);
        core::mem::swap(&mut set, &mut cur);
    }
    let b = if n > 0 {
        match store_new(sb, ino, &mut cur)? {
            Stored::Done(b) | Stored::Unsynced(b) => b,
        }
    } else {
        if stale != 0 {
            let (_, r) = index_put(sb, ino, 0);
            r?;
        }
        0
    };
    c.block = Some(b);
    Ok(())
}

/// Drops inode `ino`'s attributes as it is freed (its entry cleared, then
/// its block released): rule 8's last step, before the inode's slot and
/// number go back. No one else can reach the inode.
pub(crate) fn drop_all(sb: &SuperBlock<R2dax>, ino: u32) -> Result {
    if !sb.info().xattrs {
        return Ok(());
    }
    let b = index_get(sb, ino)?;
    if b == 0 {
        return Ok(());
    }
    match index_put(sb, ino, 0) {
        (true, Ok(())) => release(sb, ino, b),
        // The media may still name the block: leave it for fsck.
        (_, r) => r,
    }
}

/// The first inode whose index entry names attribute block `block`, for
/// a report of poisoned memory (`crate::inode::block_owner`): a walk of
/// the whole index, without holding its lock (an entry that changes
/// meanwhile may be missed).
pub(crate) fn owner_of_block(sb: &SuperBlock<R2dax>, block: u64) -> Result<Option<u32>> {
    let Some(disk) = sb.info().xattr_index.lock().as_ref().map(|ix| ix.map.disk) else {
        return Ok(None);
    };
    let mut found = None;
    let res = crate::inode::map_walk(sb, &disk, &mut |f| {
        let crate::inode::Found::Data { lblk, ptr } = f else {
            return Ok(());
        };
        let p = ptr_block(ptr);
        let hit = sb.bread(p)?.with_data(|d| {
            (0..xattr::INDEX_PER_BLOCK as usize).find(|&i| read_ptr(d, i).ok() == Some(block))
        });
        if let Some(i) = hit {
            found = u32::try_from(lblk * xattr::INDEX_PER_BLOCK + i as u64).ok();
            return Err(EEXIST);
        }
        Ok(())
    });
    match res {
        Err(e) if e != EEXIST => Err(e),
        _ => Ok(found),
    }
}

impl XattrOperations for R2dax {
    fn xattr_get(inode: &INode<Self>, ns: XattrNs, name: &[u8]) -> Result<Option<KVec<u8>>> {
        let mut c = inode.data().xattr.lock();
        let blk = block_of(inode, &mut c)?;
        if blk == 0 {
            return Ok(None);
        }
        let v = with_block(inode.sb(), inode.ino(), blk, |x| {
            x.get(disk_ns(ns), name).map(|v| {
                KVec::from_elem(0u8, v.len(), GFP_KERNEL).map(|mut k| {
                    k.copy_from_slice(v);
                    k
                })
            })
        })?;
        Ok(v.transpose()?)
    }

    fn xattr_set(
        inode: &InodeLocked<'_, Self, Excl>,
        ns: XattrNs,
        name: &[u8],
        value: Option<&[u8]>,
        mode: SetMode,
        new_mode: Option<u16>,
    ) -> Result {
        let sb = inode.sb();
        let ino = u32::try_from(inode.ino()).map_err(|_| EIO)?;
        let mode = match mode {
            SetMode::Any => XattrMode::Any,
            SetMode::Create => XattrMode::Create,
            SetMode::Replace => XattrMode::Replace,
        };
        let mut c = inode.data().xattr.lock();
        let old = block_of(inode, &mut c)?;
        let mut set = KBox::new([0u8; BLOCK_SIZE as usize], GFP_KERNEL)?;
        let dns = disk_ns(ns);
        let (n, same) = if old == 0 {
            xattr_edit(&mut set, None, dns, name, value, mode).map(|n| (n, false))
        } else {
            with_block(sb, inode.ino(), old, |x| {
                xattr_edit(&mut set, Some(x), dns, name, value, mode)
                    .map(|n| (n, n > 0 && x.set_bytes() == xattr_set_bytes(&set[..])))
            })?
        }
        .map_err(edit_errno)?;
        if same {
            // The set the inode has (a value set to itself): its block
            // stays, as ext2 keeps it.
            if let Some(m) = new_mode {
                inode.set_mode(m);
            }
            inode.touch_ctime();
            return write_inode(inode);
        }
        // From here on the change is made once the entry changes in
        // memory; whether the old block may go depends on the entry's
        // write.
        let (new, synced) = if n > 0 {
            match store_new(sb, ino, &mut set)? {
                Stored::Done(b) => (b, true),
                Stored::Unsynced(b) => (b, false),
            }
        } else {
            match index_put(sb, ino, 0) {
                (false, Err(e)) => return Err(e),
                (_, Ok(())) => (0, true),
                (true, Err(e)) => {
                    unsynced(sb, ino, 0, e);
                    (0, false)
                }
            }
        };
        c.block = Some(new);
        if old != 0 && synced {
            if let Err(e) = release(sb, ino, old) {
                sb_err!(
                    sb,
                    "inode {}: releasing attribute block {} failed ({:?}); fsck.r2dax will reclaim it",
                    ino,
                    old,
                    e
                );
            }
        } else if old != 0 {
            sb_err!(
                sb,
                "inode {}: attribute block {} stays allocated until fsck.r2dax (the index entry's write failed)",
                ino,
                old
            );
        }
        if let Some(m) = new_mode {
            inode.set_mode(m);
        }
        inode.touch_ctime();
        write_inode(inode)
    }

    fn xattr_extent(inode: &INode<Self>) -> Result<Option<(u64, u64, bool)>> {
        let mut c = inode.data().xattr.lock();
        let blk = block_of(inode, &mut c)?;
        if blk == 0 {
            return Ok(None);
        }
        let refs = with_block(inode.sb(), inode.ino(), blk, |x| x.refcount)?;
        Ok(Some((
            blk * u64::from(BLOCK_SIZE),
            u64::from(BLOCK_SIZE),
            refs > 1,
        )))
    }

    fn xattr_list(inode: &INode<Self>, f: &mut dyn FnMut(XattrNs, &[u8])) -> Result {
        let mut c = inode.data().xattr.lock();
        let blk = block_of(inode, &mut c)?;
        if blk == 0 {
            return Ok(());
        }
        with_block(inode.sb(), inode.ino(), blk, |x| {
            for e in x.entries() {
                if let Some(ns) = vfs_ns(e.ns) {
                    f(ns, e.name);
                }
            }
        })
    }
}
