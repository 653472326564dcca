// SPDX-License-Identifier: GPL-2.0
//! The orphan list: inodes whose last name is gone while they are still in
//! use (open, mapped, a working directory). They stay allocated until they
//! are evicted; if the machine stops first, the next read-write mount frees
//! them (the role of ext4's orphan.c).
//!
//! On disk the list is singly linked: the superblock's `orphan_head` names
//! the newest orphan and each inode's `next_orphan` the one before it. In
//! memory the layer keeps the same inodes, oldest first
//! ([`crate::vfs::orphan_list`]), so a removal finds its predecessor without a
//! walk or an `iget`.
//!
//! Locking: the list lock comes first, then the inode state of a listed
//! inode (one at a time), then `SbInfo::disk` (see design.rst). Every
//! change is written through, in this order:
//!
//! - add (the last link was dropped, the entry is already gone): the inode
//!   with `links = 0` and `next_orphan` = the old head, then the superblock
//!   with the new head. A crash before the second write leaves a nameless
//!   inode without links, which fsck frees.
//! - remove (eviction): the predecessor's `next_orphan` (or the head) is
//!   pointed past the inode, and only then is the inode freed, so the list
//!   never goes through a free slot. A crash in between leaks the inode.
//! - recovery (read-write mount): the head is advanced past an orphan before
//!   the orphan is freed, for the same reason.

use crate::inode::{free_on_disk, read_disk, sync_attrs, write_disk, write_inode};
use crate::super_::{write_sb, R2dax};
use crate::vfs::errno::euclean;
use crate::vfs::lock::{Excl, InodeLocked};
use crate::vfs::print::{sb_err, sb_info};
use crate::vfs::sb::SuperBlock;
use crate::vfs::vfs_inode::INode;
use kernel::error::code::EIO;
use kernel::prelude::*;

/// Puts `inode`, whose last link was just dropped, on the orphan list (and
/// writes it); writes it plainly if it still has links. Its inode lock
/// (the token) keeps the link count from changing meanwhile.
pub(crate) fn write_unlinked(inode: &InodeLocked<'_, R2dax, Excl>) -> Result {
    if inode.nlink() != 0 {
        return write_inode(inode);
    }
    let sb = inode.sb();
    let ino = u32::try_from(inode.ino()).map_err(|_| EIO)?;
    let mut list = sb.orphans().lock();
    list.push(inode)?;
    let head = sb.info().disk.lock().orphan_head;
    // Each step is done in memory before its write, and a failed write is
    // retried later (design.rst, "When a metadata write fails"): the inode
    // is on the list in memory and, once the buffers are written, on the
    // media, so it stays on the in-memory list and eviction takes it off
    // again. The name is gone already; the unlink stands.
    let written = {
        let mut st = inode.data().state.lock();
        st.disk.next_orphan = head;
        sync_attrs(inode, &mut st);
        write_disk(sb, inode.ino(), &mut st)
    };
    let mut disk = sb.info().disk.lock();
    disk.orphan_head = ino;
    if let Err(e) = written.and(write_sb(sb, &mut disk)) {
        sb_err!(
            sb,
            "inode {}: writing it onto the orphan list failed ({:?})",
            ino,
            e
        );
    }
    Ok(())
}

/// Takes `inode` (being evicted) off the orphan list, if it is on it.
pub(crate) fn remove(inode: &INode<R2dax>) -> Result {
    let sb = inode.sb();
    let mut list = sb.orphans().lock();
    let Some(i) = list.position(inode) else {
        return Ok(());
    };
    // The older neighbour is what the inode's `next_orphan` names.
    let next = match i.checked_sub(1) {
        Some(older) => list.ino(older).ok_or(EIO)?,
        None => 0,
    };
    let next = u32::try_from(next).map_err(|_| EIO)?;
    // The list goes past the inode in memory whether or not the write
    // fails (its buffer is written again later), so the inode leaves the
    // in-memory list too, and the caller frees it.
    let written = if i + 1 == list.len() {
        let mut disk = sb.info().disk.lock();
        disk.orphan_head = next;
        write_sb(sb, &mut disk)
    } else {
        let newer = list.ino(i + 1).ok_or(EIO)?;
        let data = list.data(i + 1).ok_or(EIO)?;
        let mut st = data.state.lock();
        st.disk.next_orphan = next;
        write_disk(sb, newer, &mut st)
    };
    list.remove(i);
    if let Err(e) = written {
        sb_err!(sb, "writing the orphan list failed ({:?})", e);
    }
    Ok(())
}

/// Frees every inode on the on-disk orphan list (read-write mount and
/// remount, before anything else can write). A list that names a free or
/// linked inode, or a bad number, is corruption: `EUCLEAN`, fsck repairs it.
pub(crate) fn recover(sb: &SuperBlock<R2dax>) -> Result {
    let geo = sb.info().geo;
    let mut freed = 0u64;
    loop {
        let ino = sb.info().disk.lock().orphan_head;
        if ino == 0 {
            break;
        }
        // Each step frees a slot, so a loop ends at a free one; the bound
        // is only a backstop.
        if freed >= geo.inodes_count() {
            sb_err!(sb, "orphan list does not end; run fsck.r2dax");
            return Err(euclean());
        }
        let st = read_disk(sb, u64::from(ino)).inspect_err(|_| {
            sb_err!(
                sb,
                "orphan list names unusable inode {}; run fsck.r2dax",
                ino
            );
        })?;
        let next = st.disk.next_orphan;
        if st.disk.links != 0 || (next != 0 && !geo.valid_ino(next)) {
            sb_err!(
                sb,
                "orphan inode {} has {} links and next {}; run fsck.r2dax",
                ino,
                st.disk.links,
                next
            );
            return Err(euclean());
        }
        {
            let mut disk = sb.info().disk.lock();
            disk.orphan_head = next;
            write_sb(sb, &mut disk)?;
        }
        free_on_disk(sb, u64::from(ino), &st)?;
        freed += 1;
    }
    if freed != 0 {
        sb_info!(
            sb,
            "freed {} orphan inode(s) left by an unclean shutdown",
            freed
        );
    }
    Ok(())
}
