// SPDX-License-Identifier: GPL-2.0
//! Namespace operations: create, mkdir, mknod, symlink, link, unlink,
//! rmdir, rename (the role of fs/ext2/namei.c).
//!
//! Each operation writes in the order of the crash-consistency rules of
//! Documentation/filesystems/r2dax/ondisk.rst, every step synchronously, so
//! a crash between two steps leaves only what fsck repairs (a leaked inode
//! or block, a link count one too high, a second name after a rename):
//!
//! - create: inode bit, (directory or symlink block), inode, entry, parent;
//! - link: link count up, then the entry;
//! - unlink/rmdir: entry, then link count down; the last drop puts the
//!   inode on the orphan list (orphan.rs), and eviction takes it off and
//!   frees it (slot cleared, then blocks and bit freed);
//! - rename: new entry first, then the old one removed.
//!
//! Locking: the VFS holds the parent directories' `i_rwsem` (and, for
//! rename, `s_vfs_rename_mutex` and the inodes involved); each operation
//! gets their tokens (`InodeLocked<Excl>`, a `RenameInode` for what a
//! rename moves or replaces), which the directory changes of dir.rs and
//! the setters of link counts and times take. See
//! Documentation/filesystems/r2dax/design.rst for the full order.

use crate::alloc;
use crate::dir::{self, add_entry, group_of, remove_entry, replace_entry, set_dotdot};
use crate::inode::{init_new, is_dir, write_inode};
use crate::ondisk::{dirent, iflags, iflags2, mode, Inode, BLOCK_SIZE, SYMLINK_MAX};
use crate::orphan::write_unlinked;
use crate::super_::R2dax;
use crate::vfs::errno::{enametoolong, enotempty};
use crate::vfs::inode_ops::DirInodeOperations;
use crate::vfs::lock::{Excl, Exclusive, InodeLocked, RenameInode};
use crate::vfs::print::sb_err;
use crate::vfs::vfs_inode::{INode, Idmap, Kind, NewInode};
use crate::vfs::xattr::{NewAcls, XattrNs};
use kernel::alloc::KVec;
use kernel::error::code::{EINVAL, EIO, EMLINK, ENOTDIR};
use kernel::prelude::*;
use kernel::types::ARef;

/// Most links an inode may have.
const LINK_MAX: u32 = 65000;

/// `RENAME_NOREPLACE` and `RENAME_EXCHANGE` of include/uapi/linux/fs.h.
const RENAME_NOREPLACE: u32 = 1 << 0;
const RENAME_EXCHANGE: u32 = 1 << 1;

fn ino32(i: &INode<R2dax>) -> u32 {
    i.ino() as u32
}

/// The lock token of `inode`, a directory whose parent a rename changes or
/// the inode it replaces, both of which `vfs_rename` locks. `EIO`, logged,
/// if the layer says it did not (its rule for `RenameInode` never does).
fn rename_locked<'b, 'a>(
    inode: &'b RenameInode<'a, R2dax>,
) -> Result<&'b InodeLocked<'a, R2dax, Excl>> {
    inode.locked().ok_or_else(|| {
        sb_err!(
            inode.sb(),
            "rename: inode {} should be locked but is not",
            inode.ino()
        );
        EIO
    })
}

/// The part of [`create`] that can fail while no name points at the new
/// inode yet: its first block (directory, long symlink), its on-disk
/// inode, its operations, and last its name in `dir`. `disk` records what
/// the inode owns as it goes, for the caller to give back on failure.
#[allow(clippy::too_many_arguments)]
fn build(
    dir: &InodeLocked<'_, R2dax, Excl>,
    new: &NewInode<R2dax>,
    name: &[u8],
    ino: u32,
    mode: u16,
    rdev: u32,
    target: Option<&[u8]>,
    disk: &mut Inode,
    acls: &NewAcls,
) -> Result {
    let sb = dir.sb();
    let goal = group_of(dir);
    let kind = mode & mode::S_IFMT;
    if kind == mode::S_IFDIR {
        // The directory's first block, with "..", is written before the
        // inode that points at it.
        let (b, bh) = alloc::alloc_meta(sb, goal)?;
        disk.roots[0] = b;
        disk.blocks = 1;
        disk.size = u64::from(BLOCK_SIZE);
        bh.with_data_mut(|d| {
            crate::ondisk::Dirent::encode(d, 0, ino32(dir), dirent::DT_DIR, b"..")
        });
        bh.sync()?;
    } else if let Some(t) = target {
        disk.size = t.len() as u64;
        if t.len() <= crate::ondisk::INLINE_SYMLINK_MAX {
            disk.iflags2 = iflags2::INLINE;
            disk.set_inline_data(t);
        } else {
            let (b, bh) = alloc::alloc_meta(sb, goal)?;
            disk.roots[0] = b;
            disk.blocks = 1;
            bh.with_data_mut(|d| {
                if let Some(dst) = d.get_mut(..t.len()) {
                    dst.copy_from_slice(t);
                }
            });
            bh.sync()?;
        }
    } else if matches!(kind, mode::S_IFCHR | mode::S_IFBLK) {
        disk.roots[0] = u64::from(rdev);
    }
    let attrs = init_new(new, *disk)?;
    init_xattrs(dir, new, name, acls)?;
    new.inode().apply_flags(disk.flags);
    let kind_ops = match kind {
        mode::S_IFDIR => Kind::Dir,
        mode::S_IFREG => Kind::Reg(crate::dax::wants_dax(sb, disk.flags)),
        mode::S_IFLNK if disk.iflags2 & iflags2::INLINE != 0 => {
            Kind::InlineSymlink(target.unwrap_or_default())
        }
        mode::S_IFLNK => Kind::Symlink,
        _ => Kind::Special(rdev),
    };
    new.fill(&attrs, kind_ops)?;
    // Fails only while the name is not in the directory (see `add_entry`).
    add_entry(dir, name, ino, dirent::dtype(mode))
}

/// Gives new inode `new` (named `name` in `dir`) its inherited ACLs and
/// its LSM labels, on a filesystem with attributes: stored before the
/// name is placed, then cached for permission checks.
fn init_xattrs(
    dir: &InodeLocked<'_, R2dax, Excl>,
    new: &NewInode<R2dax>,
    name: &[u8],
    acls: &NewAcls,
) -> Result {
    if !dir.sb().info().xattrs {
        return Ok(());
    }
    let mut labels: KVec<(KVec<u8>, KVec<u8>)> = KVec::new();
    new.init_security(dir, name, |n, v| {
        let mut nk = KVec::with_capacity(n.len(), GFP_KERNEL)?;
        nk.extend_from_slice(n, GFP_KERNEL)?;
        let mut vk = KVec::with_capacity(v.len(), GFP_KERNEL)?;
        vk.extend_from_slice(v, GFP_KERNEL)?;
        labels.push((nk, vk), GFP_KERNEL)?;
        Ok(())
    })?;
    let access = acls.access.as_ref().map(|a| a.to_bytes()).transpose()?;
    let default = acls.default.as_ref().map(|a| a.to_bytes()).transpose()?;
    let mut all: KVec<(XattrNs, &[u8], &[u8])> = KVec::new();
    if let Some(a) = access.as_deref() {
        all.push((XattrNs::AclAccess, &b""[..], a), GFP_KERNEL)?;
    }
    if let Some(d) = default.as_deref() {
        all.push((XattrNs::AclDefault, &b""[..], d), GFP_KERNEL)?;
    }
    for (n, v) in labels.iter() {
        all.push((XattrNs::Security, &n[..], &v[..]), GFP_KERNEL)?;
    }
    crate::xattr::init_new(new.inode(), &all)?;
    new.cache_acls(acls);
    Ok(())
}

/// The directory inode operations (the role of `ext2_dir_inode_operations`).
impl DirInodeOperations for R2dax {
    /// Looks `name` up in the directory `dir`.
    fn lookup(dir: &INode<Self>, name: &[u8]) -> Result<Option<ARef<INode<Self>>>> {
        if !crate::inode::is_dir(dir.mode()) {
            return Err(ENOTDIR);
        }
        crate::dir::lookup(dir, name)
    }

    /// Creates an inode of `mode` named `name` in `dir`.
    fn create(
        idmap: &Idmap,
        dir: &InodeLocked<'_, Self, Excl>,
        name: &[u8],
        mode: u16,
        rdev: u32,
        target: Option<&[u8]>,
    ) -> Result<NewInode<Self>> {
        if name.len() > dirent::NAME_MAX {
            return Err(enametoolong());
        }
        let kind = mode & mode::S_IFMT;
        if !mode::valid_type(mode) {
            return Err(EINVAL);
        }
        let new_dir = kind == mode::S_IFDIR;
        if new_dir && dir.nlink() >= LINK_MAX {
            return Err(EMLINK);
        }
        if let Some(t) = target {
            if t.is_empty() || t.len() > SYMLINK_MAX {
                return Err(enametoolong());
            }
        }
        let sb = dir.sb();
        let goal = group_of(dir);
        let ino = alloc::alloc_inode(sb, goal, new_dir)?;
        let new = match sb.new_inode(idmap, dir, u64::from(ino), mode) {
            Ok(n) => n,
            Err(e) => {
                let _ = alloc::free_inode(sb, ino, new_dir);
                return Err(e);
            }
        };
        new.new_generation();
        // With ACLs, the VFS leaves the umask to us: `posix_acl_create`
        // applies it, or the directory's default ACL instead.
        let acls = if sb.info().xattrs {
            match new.acl_create(dir) {
                Ok(a) => a,
                Err(e) => {
                    drop(new);
                    let _ = alloc::free_inode(sb, ino, new_dir);
                    return Err(e);
                }
            }
        } else {
            NewAcls::default()
        };
        let mode = new.inode().mode();
        // Inherited flags, masked by type as ext4 does: only directories keep
        // DIRSYNC, special files only NODUMP and NOATIME.
        let mut flags = dir.data().state.lock().disk.flags & iflags::INHERITED;
        if !new_dir {
            flags &= !iflags::DIRSYNC;
        }
        if !matches!(kind, mode::S_IFREG | mode::S_IFDIR) {
            flags &= iflags::NODUMP | iflags::NOATIME;
        }
        // The type is in the image from the start: giving a failed create back
        // (`free_on_disk`) goes by it.
        let mut disk = Inode {
            mode,
            links: if new_dir { 2 } else { 1 },
            flags,
            ..Inode::default()
        };
        match build(dir, &new, name, ino, mode, rdev, target, &mut disk, &acls) {
            Ok(()) => {}
            Err(e) => {
                // No name points at the inode: everything it took goes back,
                // so the bitmaps and counters stay as fsck expects. The I_NEW
                // inode goes first (`iget_failed` unhashes it, and eviction
                // leaves a bad inode alone), so whoever gets the number next
                // does not meet it.
                drop(new);
                let st = crate::inode::State {
                    disk,
                    ..crate::inode::State::default()
                };
                if let Err(e2) = crate::inode::free_on_disk(sb, u64::from(ino), &st) {
                    sb_err!(
                        sb,
                        "giving back inode {} after a failed create failed ({:?}); fsck.r2dax will reclaim it",
                        ino,
                        e2
                    );
                }
                return Err(e);
            }
        }
        if new_dir {
            // The name exists: a failure from here on cannot undo the create.
            // The count is right in memory (and in the buffer, which reaches
            // the media later); fsck fixes a count left too high by a crash.
            dir.inc_nlink();
            if let Err(e) = write_inode(dir) {
                sb_err!(
                    sb,
                    "directory {}: writing its link count failed ({:?})",
                    dir.ino(),
                    e
                );
            }
        }
        Ok(new)
    }

    /// Adds the name `name` in `dir` for `inode`.
    fn link(
        inode: &InodeLocked<'_, Self, Excl>,
        dir: &InodeLocked<'_, Self, Excl>,
        name: &[u8],
    ) -> Result {
        if inode.nlink() >= LINK_MAX {
            return Err(EMLINK);
        }
        inode.inc_nlink();
        inode.touch_ctime();
        write_inode(inode)?;
        if let Err(e) = add_entry(dir, name, ino32(inode), dirent::dtype(inode.mode())) {
            inode.drop_nlink();
            let _ = write_inode(inode);
            return Err(e);
        }
        Ok(())
    }

    /// Removes `name` of `inode` from `dir`.
    fn unlink(
        dir: &InodeLocked<'_, Self, Excl>,
        name: &[u8],
        inode: &InodeLocked<'_, Self, Excl>,
    ) -> Result {
        remove_entry(dir, name)?;
        inode.drop_nlink();
        inode.touch_ctime();
        write_unlinked(inode)
    }

    /// Removes the empty directory `inode`.
    fn rmdir(
        dir: &InodeLocked<'_, Self, Excl>,
        name: &[u8],
        inode: &InodeLocked<'_, Self, Excl>,
    ) -> Result {
        if !dir::is_empty(inode)? {
            return Err(enotempty());
        }
        remove_entry(dir, name)?;
        // Its entry and its "." go; the parent loses the victim's "..".
        inode.drop_nlink();
        inode.drop_nlink();
        inode.touch_ctime();
        write_unlinked(inode)?;
        dir.drop_nlink();
        write_inode(dir)
    }

    /// Renames `old_name` in `old_dir` to `new_name` in `new_dir`.
    ///
    /// `old` and `new` may be unlocked directories that stay in their
    /// parent ([`RenameInode`]): their ctime changes all the same, as in
    /// ext2. What needs their lock, a `..` rewritten for a new parent and a
    /// victim's link count, takes the token, which the VFS always gives
    /// there (`rename_locked`, `EIO` otherwise, before anything changes).
    fn rename(
        old_dir: &InodeLocked<'_, Self, Excl>,
        old_name: &[u8],
        old: &RenameInode<'_, Self>,
        new_dir: &InodeLocked<'_, Self, Excl>,
        new_name: &[u8],
        new: Option<&RenameInode<'_, Self>>,
        flags: u32,
    ) -> Result {
        if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0 {
            return Err(EINVAL);
        }
        let old_is_dir = is_dir(old.mode());
        let moved_dir = old_dir.ino() != new_dir.ino();
        if flags & RENAME_EXCHANGE != 0 {
            let new = new.ok_or(EINVAL)?;
            let new_is_dir = is_dir(new.mode());
            // The directories that change parent, whose ".." changes.
            let old_moves = (moved_dir && old_is_dir)
                .then(|| rename_locked(old))
                .transpose()?;
            let new_moves = (moved_dir && new_is_dir)
                .then(|| rename_locked(new))
                .transpose()?;
            // Both names are rewritten in place; a crash between leaves both
            // names on one inode, which fsck resolves.
            replace_entry(new_dir, new_name, ino32(old), dirent::dtype(old.mode()))?;
            replace_entry(old_dir, old_name, ino32(new), dirent::dtype(new.mode()))?;
            if moved_dir && old_is_dir != new_is_dir {
                let (gains, loses) = if old_is_dir {
                    (new_dir, old_dir)
                } else {
                    (old_dir, new_dir)
                };
                gains.inc_nlink();
                write_inode(gains)?;
                loses.drop_nlink();
                write_inode(loses)?;
            }
            if let Some(old_locked) = old_moves {
                set_dotdot(old_locked, ino32(new_dir))?;
            }
            if let Some(new_locked) = new_moves {
                set_dotdot(new_locked, ino32(old_dir))?;
            }
            old.touch_ctime();
            write_inode(old)?;
            new.touch_ctime();
            return write_inode(new);
        }
        // The directory that changes parent, whose ".." changes.
        let old_moves = (old_is_dir && moved_dir)
            .then(|| rename_locked(old))
            .transpose()?;
        if let Some(victim) = new {
            if is_dir(victim.mode()) && !dir::is_empty(victim)? {
                return Err(enotempty());
            }
            let victim = rename_locked(victim)?;
            // The new name now names `old` (one rewrite), then the old name goes.
            replace_entry(new_dir, new_name, ino32(old), dirent::dtype(old.mode()))?;
            remove_entry(old_dir, old_name)?;
            if is_dir(victim.mode()) {
                victim.drop_nlink();
                victim.drop_nlink();
                if !moved_dir || !old_is_dir {
                    new_dir.drop_nlink();
                }
            } else {
                victim.drop_nlink();
            }
            victim.touch_ctime();
            write_unlinked(victim)?;
            if let Some(old_locked) = old_moves {
                old_dir.drop_nlink();
                write_inode(old_dir)?;
                set_dotdot(old_locked, ino32(new_dir))?;
            }
            write_inode(new_dir)?;
        } else {
            if old_is_dir && moved_dir && new_dir.nlink() >= LINK_MAX {
                return Err(EMLINK);
            }
            add_entry(new_dir, new_name, ino32(old), dirent::dtype(old.mode()))?;
            remove_entry(old_dir, old_name)?;
            if let Some(old_locked) = old_moves {
                new_dir.inc_nlink();
                write_inode(new_dir)?;
                old_dir.drop_nlink();
                write_inode(old_dir)?;
                set_dotdot(old_locked, ino32(new_dir))?;
            }
        }
        old.touch_ctime();
        write_inode(old)
    }
}
