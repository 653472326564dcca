// SPDX-License-Identifier: GPL-2.0
//! Inode operations: `struct inode_operations` of directories, regular
//! files and symlinks (names, attributes, flags, FIEMAP).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::errno::{eopnotsupp, err_ptr};
use super::fs::{FileSystem, Operations, Tables};
use super::lock::{Excl, InodeLocked, Quiesced, RenameInode};
use super::raw;
use super::vfs_inode::NewInode;
use super::vfs_inode::{INode, Idmap};
use core::ffi::{c_int, c_uint};
use kernel::error::code::EPERM;
use kernel::error::from_result;
use kernel::prelude::*;
use kernel::types::ARef;

/// The name of a dentry.
///
/// # Safety
///
/// `d` must be a dentry whose name is stable for `'a` (the VFS holds the
/// parent directory's lock during the operations that use this).
unsafe fn dname<'a>(d: *mut raw::dentry) -> &'a [u8] {
    let mut len = 0u32;
    // SAFETY: Per the function contract.
    unsafe {
        let p = raw::r2dax_dentry_name(d, &mut len);
        core::slice::from_raw_parts(p, len as usize)
    }
}

/// `new_encode_dev` of include/linux/kdev_t.h.
fn new_encode_dev(dev: raw::dev_t) -> u32 {
    let major = dev >> 20;
    let minor = dev & 0xfffff;
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// Whether `inode` is a directory (`S_ISDIR`; the type bits never change).
fn is_dir<T: FileSystem>(inode: &INode<T>) -> bool {
    u32::from(inode.mode()) & raw::S_IFMT == raw::S_IFDIR
}

/// The operations of every inode (`struct inode_operations` members
/// that directories, regular files and symlinks share).
pub(crate) trait InodeOperations: FileSystem {
    /// Changes the size of a regular file (`truncate`), quiesced: the
    /// inode lock and the invalidate lock are held exclusively and direct
    /// I/O is drained, so no I/O or page fault runs meanwhile; DAX pages
    /// beyond the new size are unmapped and unpinned. Default:
    /// `EOPNOTSUPP`.
    fn setattr_size(_inode: &Quiesced<'_, Self>, _size: u64) -> Result {
        Err(eopnotsupp())
    }

    /// The inode's `FS_*_FL` flags (`FS_IOC_GETFLAGS`, `FS_IOC_FSGETXATTR`,
    /// and statx's attributes). Default: none.
    fn get_flags(_inode: &INode<Self>) -> u32 {
        0
    }

    /// Sets the inode's `FS_*_FL` flags. The VFS has checked ownership and
    /// `CAP_LINUX_IMMUTABLE` and holds the inode lock; `fsx_only` says the
    /// request came through `FS_IOC_FSSETXATTR` with fields that have no
    /// `FS_*_FL` equivalent. Default: `EOPNOTSUPP`.
    fn set_flags(_inode: &InodeLocked<'_, Self, Excl>, _flags: u32, _fsx_only: bool) -> Result {
        Err(eopnotsupp())
    }
}

/// The namespace operations of directories (`struct inode_operations` of
/// a directory). Each one gets the tokens of the inode locks the VFS holds
/// around it (all exclusive). The defaults refuse with `EPERM`, as the VFS
/// does for a missing operation.
pub(crate) trait DirInodeOperations: FileSystem {
    /// Looks `name` up in directory `dir`: `None` if it does not exist.
    ///
    /// The VFS holds `dir`'s inode lock at least shared: shared on a path
    /// walk (`lookup_slow`), exclusively on others (`open(O_CREAT)`, the
    /// lookups of create, unlink and rename). `dir` is a plain reference,
    /// not an `InodeLocked<Shared>` token: such a token would sometimes
    /// stand for an exclusive hold, and a lookup only reads, through
    /// functions that take `&INode` (what changes a directory wants an
    /// `Excl` token, which neither would give), so it would check nothing.
    fn lookup(dir: &INode<Self>, name: &[u8]) -> Result<Option<ARef<INode<Self>>>>;

    /// Creates `name` in `dir`: a file, directory, device node, FIFO or
    /// socket by `mode` (`rdev` for devices), or a symlink to `target`.
    /// Returns the new inode, still `I_NEW`; the layer publishes it with
    /// the dentry. The VFS holds `dir`'s lock.
    fn create(
        _idmap: &Idmap,
        _dir: &InodeLocked<'_, Self, Excl>,
        _name: &[u8],
        _mode: u16,
        _rdev: u32,
        _target: Option<&[u8]>,
    ) -> Result<NewInode<Self>> {
        Err(EPERM)
    }

    /// Adds the name `name` in `dir` for `inode` (a hard link). The VFS
    /// holds both locks.
    fn link(
        _inode: &InodeLocked<'_, Self, Excl>,
        _dir: &InodeLocked<'_, Self, Excl>,
        _name: &[u8],
    ) -> Result {
        Err(EPERM)
    }

    /// Removes the name `name` of `inode` from `dir`. The VFS holds both
    /// locks.
    fn unlink(
        _dir: &InodeLocked<'_, Self, Excl>,
        _name: &[u8],
        _inode: &InodeLocked<'_, Self, Excl>,
    ) -> Result {
        Err(EPERM)
    }

    /// Removes the empty directory `inode`, named `name` in `dir`. The VFS
    /// holds both locks.
    fn rmdir(
        _dir: &InodeLocked<'_, Self, Excl>,
        _name: &[u8],
        _inode: &InodeLocked<'_, Self, Excl>,
    ) -> Result {
        Err(EPERM)
    }

    /// Renames (`flags`: `RENAME_NOREPLACE`, `RENAME_EXCHANGE`) `old` in
    /// `old_dir` to `new_name` in `new_dir`, over `new` if that name
    /// exists. The VFS holds both directories' locks, and `old`'s and
    /// `new`'s except as [`RenameInode`] says: a directory that stays in
    /// its parent is unlocked ([`RenameInode::locked`] is `None`).
    #[allow(clippy::too_many_arguments)]
    fn rename(
        _old_dir: &InodeLocked<'_, Self, Excl>,
        _old_name: &[u8],
        _old: &RenameInode<'_, Self>,
        _new_dir: &InodeLocked<'_, Self, Excl>,
        _new_name: &[u8],
        _new: Option<&RenameInode<'_, Self>>,
        _flags: u32,
    ) -> Result {
        Err(EPERM)
    }
}

impl<T: Operations> Tables<T> {
    pub(super) const DIR_IOPS: raw::inode_operations = raw::inode_operations {
        lookup: Some(Self::lookup),
        create: Some(Self::create),
        mkdir: Some(Self::mkdir),
        mknod: Some(Self::mknod),
        symlink: Some(Self::symlink),
        link: Some(Self::link),
        unlink: Some(Self::unlink),
        rmdir: Some(Self::rmdir),
        rename: Some(Self::rename),
        setattr: Some(Self::setattr),
        getattr: Some(Self::getattr),
        fileattr_get: Some(Self::fileattr_get),
        fileattr_set: Some(Self::fileattr_set),
        listxattr: Some(Self::listxattr),
        get_inode_acl: Some(Self::get_inode_acl),
        set_acl: Some(Self::set_acl),
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

    pub(super) const FILE_IOPS: raw::inode_operations = raw::inode_operations {
        setattr: Some(Self::setattr),
        getattr: Some(Self::getattr),
        fiemap: Some(Self::fiemap),
        fileattr_get: Some(Self::fileattr_get),
        fileattr_set: Some(Self::fileattr_set),
        listxattr: Some(Self::listxattr),
        get_inode_acl: Some(Self::get_inode_acl),
        set_acl: Some(Self::set_acl),
        // SAFETY: All-zero means "no callback" for every other member.
        // `permission` is the VFS default (`generic_permission`, which
        // asks `get_inode_acl` on a mount with `SB_POSIXACL`).
        ..unsafe { core::mem::zeroed() }
    };

    /// Symlinks have attributes but no ACLs (the VFS never checks a
    /// symlink's permissions).
    pub(super) const SYMLINK_IOPS: raw::inode_operations = raw::inode_operations {
        get_link: Some(raw::page_get_link),
        setattr: Some(Self::setattr),
        getattr: Some(Self::getattr),
        listxattr: Some(Self::listxattr),
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

    /// A symlink whose target is in the inode (`i_link`).
    pub(super) const INLINE_SYMLINK_IOPS: raw::inode_operations = raw::inode_operations {
        get_link: Some(raw::simple_get_link),
        setattr: Some(Self::setattr),
        getattr: Some(Self::getattr),
        listxattr: Some(Self::listxattr),
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by the VFS with a directory of ours (locked shared) and a
    /// negative, hashed-or-not dentry in it.
    unsafe extern "C" fn lookup(
        dir: *mut raw::inode,
        dentry: *mut raw::dentry,
        _flags: c_uint,
    ) -> *mut raw::dentry {
        // SAFETY: `dir` is a live inode of ours; the dentry's name is stable
        // while the VFS holds the directory lock.
        let (dir, name) = unsafe {
            let mut len = 0u32;
            let p = raw::r2dax_dentry_name(dentry, &mut len);
            (
                INode::<T>::from_raw(dir),
                core::slice::from_raw_parts(p, len as usize),
            )
        };
        if let Err(e) = dir.check_up() {
            return err_ptr(e);
        }
        let inode = match T::lookup(dir, name) {
            Ok(Some(i)) => ARef::into_raw(i).as_ptr().cast::<raw::inode>(),
            Ok(None) => core::ptr::null_mut(),
            Err(e) => return err_ptr(e),
        };
        // SAFETY: `d_splice_alias` takes over the inode reference (or null
        // for a negative entry).
        unsafe { raw::d_splice_alias(inode, dentry) }
    }

    /// Creates through `T::create` and publishes the inode with `dentry`.
    ///
    /// # Safety
    ///
    /// Called from a VFS create-type operation: `dir` is a directory of
    /// ours whose inode lock the VFS holds exclusively (`filename_create`,
    /// or `open_last_lookups` for `O_CREAT`), `dentry` a negative dentry in
    /// it, `idmap` the mount's.
    unsafe fn create_common(
        idmap: *mut raw::mnt_idmap,
        dir: *mut raw::inode,
        dentry: *mut raw::dentry,
        mode: u16,
        rdev: u32,
        target: Option<&[u8]>,
    ) -> c_int {
        from_result(|| {
            // SAFETY: Per the function contract.
            let (dir, name) = unsafe { (INode::<T>::from_raw(dir), dname(dentry)) };
            dir.check_up()?;
            // SAFETY: The VFS holds `dir`'s inode lock exclusively around
            // the call (the function contract).
            let dir = unsafe { InodeLocked::<T, Excl>::assume(dir) };
            let new = T::create(&Idmap(idmap), &dir, name, mode, rdev, target)?;
            // SAFETY: `d_instantiate_new` unlocks the new inode and takes
            // over our reference to it.
            unsafe { raw::d_instantiate_new(dentry, new.as_ptr()) };
            core::mem::forget(new);
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// See `create_common`.
    unsafe extern "C" fn create(
        idmap: *mut raw::mnt_idmap,
        dir: *mut raw::inode,
        dentry: *mut raw::dentry,
        mode: raw::umode_t,
        _excl: bool,
    ) -> c_int {
        // SAFETY: Forwarded contract.
        unsafe { Self::create_common(idmap, dir, dentry, mode, 0, None) }
    }

    /// # Safety
    ///
    /// See `create_common`.
    unsafe extern "C" fn mkdir(
        idmap: *mut raw::mnt_idmap,
        dir: *mut raw::inode,
        dentry: *mut raw::dentry,
        mode: raw::umode_t,
    ) -> c_int {
        let mode = (mode & 0o7777) | raw::S_IFDIR as u16;
        // SAFETY: Forwarded contract.
        unsafe { Self::create_common(idmap, dir, dentry, mode, 0, None) }
    }

    /// # Safety
    ///
    /// See `create_common`.
    unsafe extern "C" fn mknod(
        idmap: *mut raw::mnt_idmap,
        dir: *mut raw::inode,
        dentry: *mut raw::dentry,
        mode: raw::umode_t,
        dev: raw::dev_t,
    ) -> c_int {
        // SAFETY: Forwarded contract.
        unsafe { Self::create_common(idmap, dir, dentry, mode, new_encode_dev(dev), None) }
    }

    /// # Safety
    ///
    /// See `create_common`; `target` is a NUL-terminated string.
    unsafe extern "C" fn symlink(
        idmap: *mut raw::mnt_idmap,
        dir: *mut raw::inode,
        dentry: *mut raw::dentry,
        target: *const u8,
    ) -> c_int {
        // SAFETY: The VFS passes a NUL-terminated target that lives for the
        // call.
        let t = unsafe { kernel::str::CStr::from_char_ptr(target) };
        let mode = raw::S_IFLNK as u16 | 0o777;
        // SAFETY: Forwarded contract.
        unsafe { Self::create_common(idmap, dir, dentry, mode, 0, Some(t.as_bytes())) }
    }

    /// # Safety
    ///
    /// Called by `vfs_link` with `old` positive, `dir` and `dentry` the new
    /// name's directory and negative dentry, all ours: the caller
    /// (`filename_create`) holds `dir`'s inode lock exclusively, and
    /// `vfs_link` takes `old`'s inode's (`inode_lock`).
    unsafe extern "C" fn link(
        old: *mut raw::dentry,
        dir: *mut raw::inode,
        dentry: *mut raw::dentry,
    ) -> c_int {
        from_result(|| {
            // SAFETY: Per the contract `old` is a positive dentry of ours.
            let inode_ptr = unsafe { (*old).d_inode };
            // SAFETY: Per the contract the inode and `dir` are live inodes
            // of ours, locked, and the new dentry's name is stable under
            // the directory lock.
            let (inode, dir, name) = unsafe {
                (
                    INode::<T>::from_raw(inode_ptr),
                    INode::<T>::from_raw(dir),
                    dname(dentry),
                )
            };
            dir.check_up()?;
            // SAFETY: Per the contract, both inode locks are held
            // exclusively around the call.
            let (inode, dir) = unsafe {
                (
                    InodeLocked::<T, Excl>::assume(inode),
                    InodeLocked::<T, Excl>::assume(dir),
                )
            };
            T::link(&inode, &dir, name)?;
            // SAFETY: The new dentry gets its own reference to the inode.
            unsafe {
                raw::ihold(inode_ptr);
                raw::d_instantiate(dentry, inode_ptr);
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by `vfs_unlink` with a directory of ours and a positive
    /// dentry in it: the caller holds `dir`'s inode lock exclusively
    /// (`do_unlinkat`, `I_MUTEX_PARENT`), and `vfs_unlink` takes the
    /// victim's (`inode_lock`).
    unsafe extern "C" fn unlink(dir: *mut raw::inode, dentry: *mut raw::dentry) -> c_int {
        from_result(|| {
            // SAFETY: Per the contract; the dentry is positive.
            let (dir, inode, name) = unsafe {
                (
                    INode::<T>::from_raw(dir),
                    INode::<T>::from_raw((*dentry).d_inode),
                    dname(dentry),
                )
            };
            dir.check_up()?;
            // SAFETY: Per the contract, both inode locks are held
            // exclusively around the call.
            let (dir, inode) = unsafe {
                (
                    InodeLocked::<T, Excl>::assume(dir),
                    InodeLocked::<T, Excl>::assume(inode),
                )
            };
            T::unlink(&dir, name, &inode)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by `vfs_rmdir` with a directory of ours and a positive
    /// dentry in it: the caller holds `dir`'s inode lock exclusively
    /// (`do_rmdir`, `I_MUTEX_PARENT`), and `vfs_rmdir` takes the victim's
    /// (`inode_lock`).
    unsafe extern "C" fn rmdir(dir: *mut raw::inode, dentry: *mut raw::dentry) -> c_int {
        from_result(|| {
            // SAFETY: Per the contract; the dentry is positive.
            let (dir, inode, name) = unsafe {
                (
                    INode::<T>::from_raw(dir),
                    INode::<T>::from_raw((*dentry).d_inode),
                    dname(dentry),
                )
            };
            dir.check_up()?;
            // SAFETY: Per the contract, both inode locks are held
            // exclusively around the call.
            let (dir, inode) = unsafe {
                (
                    InodeLocked::<T, Excl>::assume(dir),
                    InodeLocked::<T, Excl>::assume(inode),
                )
            };
            T::rmdir(&dir, name, &inode)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by `vfs_rename` with directories, dentries and inodes of
    /// ours: the caller holds both directories' inode locks exclusively
    /// (`lock_rename`; one lock if they are the same directory), and
    /// `vfs_rename` has locked the source and the target by the rule
    /// cited in the body; the source is not the target.
    unsafe extern "C" fn rename(
        _idmap: *mut raw::mnt_idmap,
        old_dir: *mut raw::inode,
        old_dentry: *mut raw::dentry,
        new_dir: *mut raw::inode,
        new_dentry: *mut raw::dentry,
        flags: c_uint,
    ) -> c_int {
        from_result(|| {
            // SAFETY: Per the contract both directories are live inodes of
            // ours, locked.
            let (od, nd) =
                unsafe { (INode::<T>::from_raw(old_dir), INode::<T>::from_raw(new_dir)) };
            od.check_up()?;
            // SAFETY: The dentries' names are stable under the rename
            // locks.
            let (on, nn) = unsafe { (dname(old_dentry), dname(new_dentry)) };
            // SAFETY: The old dentry is positive, its inode live and ours.
            let o = unsafe { INode::<T>::from_raw((*old_dentry).d_inode) };
            // SAFETY: The new dentry may be negative; if not, its inode is
            // live and ours.
            let n = unsafe { (*new_dentry).d_inode };
            // SAFETY: A non-null inode of the new dentry is live and ours.
            let n = (!n.is_null()).then(|| unsafe { INode::<T>::from_raw(n) });
            // Which of the two the VFS locked: `vfs_rename` (fs/namei.c of
            // 6.12.118, lines 5038-5048; unlocked by the same tests at
            // 5099-5102) locks
            //
            //     lock_old_subdir = new_dir != old_dir;
            //     lock_new_subdir = new_dir != old_dir || !(flags & RENAME_EXCHANGE);
            //     source: if !is_dir || lock_old_subdir
            //     target: if !new_is_dir || lock_new_subdir
            //
            // where `is_dir` and `new_is_dir` are `d_is_dir` of the two
            // dentries, which for a positive dentry is `S_ISDIR` of its
            // inode (`d_flags_for_inode`, fs/dcache.c). So a directory
            // that stays in its parent is not locked: the source of a
            // rename within one directory, the target of an exchange
            // within one directory.
            let same_dir = old_dir == new_dir;
            let lock_old_subdir = !same_dir;
            let lock_new_subdir = !same_dir || flags & raw::RENAME_EXCHANGE == 0;
            let o = if !is_dir(o) || lock_old_subdir {
                // SAFETY: `vfs_rename` holds the source's inode lock
                // exclusively in this case (the rule above).
                RenameInode::locked_by_vfs(unsafe { InodeLocked::<T, Excl>::assume(o) })
            } else {
                // SAFETY: A directory staying in its parent, which
                // `vfs_rename` does not lock (the rule above).
                unsafe { RenameInode::unlocked(o) }
            };
            let n = n.map(|n| {
                if !is_dir(n) || lock_new_subdir {
                    // SAFETY: `vfs_rename` holds the target's inode lock
                    // exclusively in this case (the rule above).
                    RenameInode::locked_by_vfs(unsafe { InodeLocked::<T, Excl>::assume(n) })
                } else {
                    // SAFETY: A directory exchanged within one parent,
                    // which `vfs_rename` does not lock (the rule above).
                    unsafe { RenameInode::unlocked(n) }
                }
            });
            // SAFETY: Per the contract `lock_rename` holds both
            // directories' inode locks exclusively around the call.
            let (od, nd) = unsafe {
                (
                    InodeLocked::<T, Excl>::assume(od),
                    InodeLocked::<T, Excl>::assume(nd),
                )
            };
            T::rename(&od, on, &o, &nd, nn, n.as_ref(), flags)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS with the inode locked.
    unsafe extern "C" fn setattr(
        idmap: *mut raw::mnt_idmap,
        dentry: *mut raw::dentry,
        attr: *mut raw::iattr,
    ) -> c_int {
        from_result(|| {
            // SAFETY: Per the contract the dentry is positive and of ours.
            unsafe { INode::<T>::from_raw((*dentry).d_inode) }.check_up()?;
            let mut size_change = false;
            // SAFETY: `attr` is the VFS's, valid for the call.
            let mode_change = unsafe { (*attr).ia_valid } & raw::ATTR_MODE != 0;
            // SAFETY: Per the contract; the helper checks permissions and
            // applies everything but a size change.
            kernel::error::to_result(unsafe {
                raw::r2dax_setattr_simple(idmap, dentry, attr, &mut size_change)
            })?;
            if size_change {
                // SAFETY: The dentry is positive and of ours; `attr` is valid.
                let (inode, size) =
                    unsafe { (INode::<T>::from_raw((*dentry).d_inode), (*attr).ia_size) };
                let size = u64::try_from(size).map_err(|_| EINVAL)?;
                // SAFETY: The VFS holds the inode lock exclusively around
                // `->setattr` (`notify_change`).
                let locked = unsafe { InodeLocked::<T, Excl>::assume(inode) };
                {
                    let mut q = locked.quiesce();
                    // DAX pages beyond the new size must not be pinned when
                    // their blocks are freed.
                    q.break_layouts(size, u64::MAX)?;
                    T::setattr_size(&q, size)?;
                }
                // The other attributes of the same call (e.g. mtime).
                // SAFETY: `attr` is the VFS's, ours to change for the call.
                unsafe { (*attr).ia_valid &= !raw::ATTR_SIZE };
                let mut dummy = false;
                // SAFETY: The arguments are the call's; the size now
                // matches, so the helper applies the rest.
                kernel::error::to_result(unsafe {
                    raw::r2dax_setattr_simple(idmap, dentry, attr, &mut dummy)
                })?;
            }
            if mode_change {
                // The new mode is in the inode (a size change applies it
                // only in the second call above): the access ACL follows
                // it, last, as in ext4_setattr.
                // SAFETY: The arguments are the call's, under the inode
                // lock.
                unsafe { Self::acl_chmod(idmap, dentry) }?;
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_getattr_nosec`, for stat and statx) with a
    /// path whose dentry is positive and ours, and a writable `kstat`.
    unsafe extern "C" fn getattr(
        idmap: *mut raw::mnt_idmap,
        path: *const raw::path,
        stat: *mut raw::kstat,
        request_mask: u32,
        _query_flags: c_uint,
    ) -> c_int {
        // SAFETY: Per the contract the path's dentry is positive.
        let raw_inode = unsafe { (*(*path).dentry).d_inode };
        // SAFETY: The dentry's inode is live and ours.
        let inode = unsafe { INode::<T>::from_raw(raw_inode) };
        let (attributes, mask) = statx_attributes(T::get_flags(inode));
        // SAFETY: Per the contract `stat` is writable and the inode live;
        // `generic_fillattr` reads the inode as the default getattr does.
        unsafe { raw::generic_fillattr(idmap, request_mask, raw_inode, stat) };
        // SAFETY: `stat` is writable for the call; the VFS adds
        // STATX_ATTR_DAX and the mount's attributes after this returns.
        unsafe {
            (*stat).attributes |= attributes;
            (*stat).attributes_mask |= mask;
        }
        0
    }

    /// # Safety
    ///
    /// Called by `ioctl_fiemap` with a live regular file of ours and an
    /// extent buffer it checked (`fiemap_extent_info` is the kernel's).
    unsafe extern "C" fn fiemap(
        inode: *mut raw::inode,
        fieinfo: *mut raw::fiemap_extent_info,
        start: u64,
        len: u64,
    ) -> c_int {
        // SAFETY: Per the contract the inode is live and ours.
        let i = unsafe { INode::<T>::from_raw(inode) };
        if let Err(e) = i.check_up() {
            return e.to_errno();
        }
        // The map is read through iomap as for SEEK_HOLE/SEEK_DATA, under
        // the inode lock (shared), which keeps truncate, punch hole and
        // fallocate out (they hold it exclusive); a fault or write that
        // fills a hole meanwhile is seen or not, as with any snapshot of
        // the map.
        let _locked = i.lock_shared();
        // SAFETY: Per the contract `fieinfo` is checked.
        if unsafe { raw::r2dax_fiemap_wants_xattr(fieinfo) } {
            let (physical, length, shared) = match T::xattr_extent(i) {
                Ok(e) => e.unwrap_or((0, 0, false)),
                Err(e) => return e.to_errno(),
            };
            // SAFETY: As above; the helper checks the flags
            // (`fiemap_prep`) before it fills the user's buffer.
            return unsafe {
                raw::r2dax_fiemap_xattr(inode, fieinfo, start, len, physical, length, shared)
            };
        }
        // SAFETY: Per the contract `fieinfo` is checked; `IOMAP_OPS` is
        // `'static`. `fiemap_prep` (called by iomap) writes dirty
        // page-cache data back first when asked to with FIEMAP_FLAG_SYNC.
        // Physical offsets are on the block device, as for every mapping
        // not asked for with IOMAP_DAX.
        unsafe { raw::iomap_fiemap(inode, fieinfo, start, len, &Self::IOMAP_OPS) }
    }

    /// # Safety
    ///
    /// Called by the VFS (`FS_IOC_GETFLAGS`, `FS_IOC_FSGETXATTR`) with a
    /// positive dentry of ours.
    unsafe extern "C" fn fileattr_get(
        dentry: *mut raw::dentry,
        fa: *mut kernel::bindings::fileattr,
    ) -> c_int {
        // SAFETY: Per the contract; the kernel's opaque `fileattr` is the
        // local definition.
        unsafe {
            let inode = INode::<T>::from_raw((*dentry).d_inode);
            raw::fileattr_fill_flags(fa.cast(), T::get_flags(inode));
        }
        0
    }

    /// # Safety
    ///
    /// Called by the VFS (`FS_IOC_SETFLAGS`, `FS_IOC_FSSETXATTR`) with the
    /// inode locked, after its permission checks.
    unsafe extern "C" fn fileattr_set(
        _idmap: *mut raw::mnt_idmap,
        dentry: *mut raw::dentry,
        fa: *mut kernel::bindings::fileattr,
    ) -> c_int {
        from_result(|| {
            // SAFETY: Per the contract.
            let (inode, flags, fsx_only) = unsafe {
                let fa = fa.cast::<raw::fileattr>();
                (
                    INode::<T>::from_raw((*dentry).d_inode),
                    (*fa).flags,
                    raw::r2dax_fileattr_has_fsx(fa),
                )
            };
            inode.check_up()?;
            // SAFETY: `vfs_fileattr_set` holds the inode lock exclusively
            // around `->fileattr_set`.
            let locked = unsafe { InodeLocked::<T, Excl>::assume(inode) };
            T::set_flags(&locked, flags, fsx_only)?;
            Ok(0)
        })
    }
}

/// The statx attributes of an inode with `FS_*_FL` flags `flags`, and the
/// mask of those r2dax supports (as ext2's getattr: append, immutable and
/// nodump; compression and encryption r2dax has not).
fn statx_attributes(flags: u32) -> (u64, u64) {
    let map = [
        (raw::FS_APPEND_FL, raw::STATX_ATTR_APPEND),
        (raw::FS_IMMUTABLE_FL, raw::STATX_ATTR_IMMUTABLE),
        (raw::FS_NODUMP_FL, raw::STATX_ATTR_NODUMP),
    ];
    let mut attributes = 0;
    let mut mask = 0;
    for (fs, statx) in map {
        mask |= u64::from(statx);
        if flags & fs != 0 {
            attributes |= u64::from(statx);
        }
    }
    (attributes, mask)
}
