// SPDX-License-Identifier: GPL-2.0
//! Extended attributes, POSIX ACLs and security labels: the
//! `xattr_handler`s of `user.`, `trusted.` and `security.`, `listxattr`,
//! the ACL inode operations (`get_inode_acl`, `set_acl`), the ACLs and
//! labels of a new inode, and the ACL side of `chmod`, on top of a
//! filesystem's [`XattrOperations`].
//!
//! C headers: [`include/linux/xattr.h`](srctree/include/linux/xattr.h),
//! [`include/linux/posix_acl.h`](srctree/include/linux/posix_acl.h),
//! [`include/linux/security.h`](srctree/include/linux/security.h)
//!
//! The filesystem stores values by namespace ([`XattrNs`]) and name; this
//! layer turns ACLs into bytes and back (the uapi xattr format with ids of
//! the initial user namespace, what ext2 stores), checks the buffer sizes
//! (`ERANGE`), hides `trusted.` from `listxattr` without `CAP_SYS_ADMIN`,
//! and keeps the VFS's ACL cache in step (`set_cached_acl`).
//!
//! Locking, as the VFS calls in: `get` handlers, `listxattr` and
//! `get_inode_acl` run without the inode lock; `set` handlers (also for
//! removal), `set_acl` and the `chmod` path hold it exclusively
//! (`vfs_setxattr`, `vfs_removexattr`, `vfs_set_acl`, `notify_change`).
//! The filesystem serialises its readers against its writers itself.

use super::errno::err_ptr;
use super::fs::{FileSystem, Operations, Tables};
use super::lock::{Excl, Exclusive, InodeLocked};
use super::raw;
use super::vfs_inode::{INode, NewInode};
use core::ffi::{c_int, c_void};
use core::ptr::{null, null_mut, NonNull};
use kernel::alloc::KVec;
use kernel::error::code::{EACCES, ECHILD, EINVAL, ERANGE};
use kernel::ffi::c_char;
use kernel::prelude::*;

/// The namespaces of extended attributes, as the VFS names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum XattrNs {
    /// `user.`
    User = 1,
    /// `trusted.` (the VFS lets only `CAP_SYS_ADMIN` read or write them).
    Trusted = 2,
    /// `security.` (LSM labels).
    Security = 3,
    /// `system.posix_acl_access` (no name after it).
    AclAccess = 4,
    /// `system.posix_acl_default` (no name after it; directories only).
    AclDefault = 5,
}

impl XattrNs {
    /// The prefix of the full names; for the ACLs, the whole name.
    pub(crate) fn prefix(self) -> &'static [u8] {
        match self {
            XattrNs::User => b"user.",
            XattrNs::Trusted => b"trusted.",
            XattrNs::Security => b"security.",
            XattrNs::AclAccess => b"system.posix_acl_access",
            XattrNs::AclDefault => b"system.posix_acl_default",
        }
    }

    /// The namespace of a handler's `flags`.
    fn from_flags(flags: c_int) -> Option<Self> {
        Some(match flags {
            1 => XattrNs::User,
            2 => XattrNs::Trusted,
            3 => XattrNs::Security,
            _ => return None,
        })
    }

    /// The namespace of an ACL type (`ACL_TYPE_ACCESS`, `ACL_TYPE_DEFAULT`).
    fn of_acl_type(ty: c_int) -> Option<Self> {
        match ty {
            t if t == raw::ACL_TYPE_ACCESS => Some(XattrNs::AclAccess),
            t if t == raw::ACL_TYPE_DEFAULT => Some(XattrNs::AclDefault),
            _ => None,
        }
    }
}

/// What a set does with an attribute that exists or not (`setxattr`'s
/// flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SetMode {
    /// Create or replace.
    Any,
    /// `XATTR_CREATE`: `EEXIST` if it exists.
    Create,
    /// `XATTR_REPLACE`: `ENODATA` if it does not.
    Replace,
}

/// The attribute operations of a filesystem. The defaults say that it has
/// none (`EOPNOTSUPP`); a superblock without [`SuperBlock::enable_xattrs`]
/// never reaches them.
///
/// [`SuperBlock::enable_xattrs`]: super::sb::SuperBlock::enable_xattrs
pub(crate) trait XattrOperations: FileSystem {
    /// The value of attribute `name` of namespace `ns`, `None` if there
    /// is none. Called without the inode lock.
    fn xattr_get(_inode: &INode<Self>, _ns: XattrNs, _name: &[u8]) -> Result<Option<KVec<u8>>> {
        Err(super::errno::eopnotsupp())
    }

    /// Sets attribute `name` of `ns` to `value`, or removes it (`None`;
    /// `ENODATA` if it does not exist). With `new_mode` (an access ACL's
    /// `posix_acl_update_mode`), the inode's permission bits become
    /// `new_mode` together with the change, in the same inode write
    /// ([`Exclusive::set_mode`]), and only if the change is made. The
    /// inode lock is held. An error may come after the change was made
    /// (its inode write failed): the caller must not assume the old
    /// value stands.
    fn xattr_set(
        _inode: &InodeLocked<'_, Self, Excl>,
        _ns: XattrNs,
        _name: &[u8],
        _value: Option<&[u8]>,
        _mode: SetMode,
        _new_mode: Option<u16>,
    ) -> Result {
        Err(super::errno::eopnotsupp())
    }

    /// Calls `f` with the namespace and name of each attribute. Called
    /// without the inode lock.
    fn xattr_list(_inode: &INode<Self>, _f: &mut dyn FnMut(XattrNs, &[u8])) -> Result {
        Ok(())
    }

    /// Where the attributes are on the device, for FIEMAP's
    /// `FIEMAP_FLAG_XATTR`: (byte offset, length, whether other inodes
    /// share it), or `None` if the inode has none. Called with the inode
    /// lock held shared.
    fn xattr_extent(_inode: &INode<Self>) -> Result<Option<(u64, u64, bool)>> {
        Ok(None)
    }
}

/// The errno in an `ERR_PTR`-style pointer, if it is one.
fn ptr_err<U>(p: *const U) -> Option<Error> {
    let v = p as isize;
    (-4095..0).contains(&v).then(|| Error::from_errno(v as i32))
}

/// A POSIX ACL: one reference to a `struct posix_acl`, dropped with the
/// value.
///
/// # Invariants
///
/// `self.0` points to a live `posix_acl` on which this value holds one
/// reference.
pub(crate) struct Acl(NonNull<raw::posix_acl>);

impl Acl {
    /// Takes over a reference the caller owns (`None` for null).
    ///
    /// # Safety
    ///
    /// `p` is null or a live ACL whose reference the caller gives away.
    unsafe fn from_owned(p: *mut raw::posix_acl) -> Option<Self> {
        // INVARIANT: per the contract.
        NonNull::new(p).map(Acl)
    }

    /// The ACL's on-disk bytes (the uapi xattr format).
    pub(crate) fn to_bytes(&self) -> Result<KVec<u8>> {
        // SAFETY: The ACL is live (type invariant).
        unsafe { acl_bytes(self.0.as_ptr()) }
    }
}

/// The on-disk bytes (the uapi xattr format) of ACL `acl`.
///
/// # Safety
///
/// `acl` is a live ACL for the duration of the call.
unsafe fn acl_bytes(acl: *const raw::posix_acl) -> Result<KVec<u8>> {
    // SAFETY: Per the contract; a null buffer asks for the size.
    let n = unsafe { raw::r2dax_acl_to_xattr(acl, null_mut(), 0) };
    let n = usize::try_from(n).map_err(|_| Error::from_errno(n))?;
    let mut v = KVec::from_elem(0u8, n, GFP_KERNEL)?;
    // SAFETY: `v` is writable for `n` bytes.
    let r = unsafe { raw::r2dax_acl_to_xattr(acl, v.as_mut_ptr().cast(), n) };
    if r < 0 {
        return Err(Error::from_errno(r));
    }
    Ok(v)
}

impl Drop for Acl {
    fn drop(&mut self) {
        // SAFETY: We hold one reference (type invariant).
        unsafe { raw::r2dax_acl_release(self.0.as_ptr()) };
    }
}

/// The ACLs a new inode inherits from its directory
/// ([`NewInode::acl_create`]).
#[derive(Default)]
pub(crate) struct NewAcls {
    /// Its access ACL, unless the mode says it all.
    pub(crate) access: Option<Acl>,
    /// Its default ACL (a directory in a directory that has one).
    pub(crate) default: Option<Acl>,
}

impl<T: Operations> NewInode<T> {
    /// `posix_acl_create`: the ACLs the new inode inherits from `dir`'s
    /// default ACL, which also narrow its mode; without one, the umask is
    /// applied to the mode (the VFS leaves that to the filesystem when
    /// `dir` has `SB_POSIXACL`). The mode in the inode is updated; the
    /// caller stores the ACLs and then caches them ([`Self::cache_acls`]).
    pub(crate) fn acl_create(&self, dir: &INode<T>) -> Result<NewAcls> {
        let inode = self.as_ptr();
        let (mut d, mut a) = (null_mut(), null_mut());
        // SAFETY: The inode is I_NEW and ours (type invariant of
        // `NewInode`), so its mode is ours to change; `dir` is live.
        let mut mode = unsafe { (*inode).i_mode };
        // SAFETY: `dir` is live; the out pointers are valid. On success
        // each returned ACL is a reference we own.
        kernel::error::to_result(unsafe {
            raw::r2dax_acl_create(dir.as_raw(), &mut mode, &mut d, &mut a)
        })?;
        // SAFETY: As above.
        unsafe { (*inode).i_mode = mode };
        // SAFETY: `posix_acl_create` gave us these references (or null).
        Ok(unsafe {
            NewAcls {
                access: Acl::from_owned(a),
                default: Acl::from_owned(d),
            }
        })
    }

    /// Caches `acls` as the inode's ACLs ("none" where absent), once they
    /// are stored, so that permission checks need not ask for them.
    pub(crate) fn cache_acls(&self, acls: &NewAcls) {
        let inode = self.as_ptr();
        for (ty, acl) in [
            (raw::ACL_TYPE_ACCESS, &acls.access),
            (raw::ACL_TYPE_DEFAULT, &acls.default),
        ] {
            let p = acl.as_ref().map_or(null_mut(), |a| a.0.as_ptr());
            // SAFETY: The inode is live and I_NEW; `set_cached_acl` takes
            // its own reference to a non-null ACL.
            unsafe { raw::r2dax_set_cached_acl(inode, ty, p) };
        }
    }

    /// `security_inode_init_security`: calls `f` with the name (after
    /// `security.`) and value of each label the LSMs give the new inode
    /// named `name` in `dir`. Nothing without an LSM that labels files.
    /// `name` must be NUL-terminated in memory after its length (SELinux
    /// runs `strlen` on it): a dentry's name is.
    pub(crate) fn init_security<F: FnMut(&[u8], &[u8]) -> Result>(
        &self,
        dir: &INode<T>,
        name: &[u8],
        mut f: F,
    ) -> Result {
        /// Calls the closure behind `ctx` with one label.
        ///
        /// # Safety
        ///
        /// `ctx` is the `&mut F` passed below, `name` a NUL-terminated
        /// string and `value` readable for `len` bytes (what
        /// `security_inode_init_security` passes to `initxattrs`).
        unsafe extern "C" fn one<F: FnMut(&[u8], &[u8]) -> Result>(
            ctx: *mut c_void,
            name: *const c_char,
            value: *const c_void,
            len: usize,
        ) -> c_int {
            // SAFETY: Per the function contract.
            let (f, name) = unsafe {
                (
                    &mut *ctx.cast::<F>(),
                    kernel::str::CStr::from_char_ptr(name).as_bytes(),
                )
            };
            let value = if value.is_null() || len == 0 {
                &[][..]
            } else {
                // SAFETY: Per the function contract, a non-null value is
                // readable for `len` bytes.
                unsafe { core::slice::from_raw_parts(value.cast::<u8>(), len) }
            };
            match f(name, value) {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            }
        }
        let len = u32::try_from(name.len()).map_err(|_| EINVAL)?;
        // SAFETY: The inode is I_NEW and ours, `dir` is live; `name` and
        // `f` outlive the call, which calls `one` synchronously only.
        kernel::error::to_result(unsafe {
            raw::r2dax_init_security(
                self.as_ptr(),
                dir.as_raw(),
                name.as_ptr(),
                len,
                Some(one::<F>),
                (&mut f as *mut _ as *mut c_void).cast(),
            )
        })
    }
}

/// Copies `v` to the VFS's buffer: the length with no buffer (a size
/// query), `ERANGE` if it does not fit.
///
/// # Safety
///
/// `buf` is null or writable for `size` bytes.
unsafe fn copy_out(v: &[u8], buf: *mut c_void, size: usize) -> c_int {
    let Ok(n) = c_int::try_from(v.len()) else {
        return ERANGE.to_errno();
    };
    if buf.is_null() || size == 0 {
        return n;
    }
    if v.len() > size {
        return ERANGE.to_errno();
    }
    // SAFETY: Per the function contract.
    unsafe { core::ptr::copy_nonoverlapping(v.as_ptr(), buf.cast::<u8>(), v.len()) };
    n
}

impl<T: Operations> Tables<T> {
    const USER_HANDLER: raw::xattr_handler = raw::xattr_handler {
        name: null(),
        prefix: c"user.".as_ptr().cast(),
        flags: XattrNs::User as c_int,
        list: None,
        get: Some(Self::xattr_get),
        set: Some(Self::xattr_set),
    };

    const TRUSTED_HANDLER: raw::xattr_handler = raw::xattr_handler {
        name: null(),
        prefix: c"trusted.".as_ptr().cast(),
        flags: XattrNs::Trusted as c_int,
        list: None,
        get: Some(Self::xattr_get),
        set: Some(Self::xattr_set),
    };

    const SECURITY_HANDLER: raw::xattr_handler = raw::xattr_handler {
        name: null(),
        prefix: c"security.".as_ptr().cast(),
        flags: XattrNs::Security as c_int,
        list: None,
        get: Some(Self::xattr_get),
        set: Some(Self::xattr_set),
    };

    /// `s_xattr`: the handlers by prefix. The ACL names are not here: the
    /// VFS sends them to `get_inode_acl` and `set_acl`.
    pub(super) const XATTR_HANDLERS: [*const raw::xattr_handler; 4] = [
        &Self::USER_HANDLER,
        &Self::TRUSTED_HANDLER,
        &Self::SECURITY_HANDLER,
        null(),
    ];

    /// The namespace, inode and name a handler is called with, once the
    /// filesystem is known to be up.
    ///
    /// # Safety
    ///
    /// `handler` is one of [`Self::XATTR_HANDLERS`], `inode` a live inode
    /// of ours and `name` a NUL-terminated string, all valid for `'a`.
    unsafe fn handler_args<'a>(
        handler: *const raw::xattr_handler,
        inode: *mut raw::inode,
        name: *const c_char,
    ) -> Result<(XattrNs, &'a INode<T>, &'a [u8])> {
        // SAFETY: Per the function contract.
        let (flags, inode, name) = unsafe {
            (
                (*handler).flags,
                INode::<T>::from_raw(inode),
                kernel::str::CStr::from_char_ptr(name).as_bytes(),
            )
        };
        let ns = XattrNs::from_flags(flags).ok_or(EINVAL)?;
        inode.check_up()?;
        Ok((ns, inode, name))
    }

    /// # Safety
    ///
    /// Called by the VFS (`__vfs_getxattr`) with one of our handlers, a
    /// live inode of ours, a NUL-terminated name (after the prefix) and a
    /// buffer writable for `size` bytes or null.
    pub(super) unsafe extern "C" fn xattr_get(
        handler: *const raw::xattr_handler,
        _dentry: *mut raw::dentry,
        inode: *mut raw::inode,
        name: *const c_char,
        buffer: *mut c_void,
        size: usize,
    ) -> c_int {
        // SAFETY: Per the contract.
        let (ns, inode, name) = match unsafe { Self::handler_args(handler, inode, name) } {
            Ok(a) => a,
            Err(e) => return e.to_errno(),
        };
        match T::xattr_get(inode, ns, name) {
            // SAFETY: Per the contract.
            Ok(Some(v)) => unsafe { copy_out(&v, buffer, size) },
            Ok(None) => super::errno::enodata().to_errno(),
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the VFS (`__vfs_setxattr`, `__vfs_removexattr`, with a
    /// null value) with one of our handlers, a live inode of ours whose
    /// lock the caller holds exclusively (`vfs_setxattr`,
    /// `vfs_removexattr`; `__vfs_setxattr_noperm`'s callers must), a
    /// NUL-terminated name and a value readable for `size` bytes.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe extern "C" fn xattr_set(
        handler: *const raw::xattr_handler,
        _idmap: *mut raw::mnt_idmap,
        _dentry: *mut raw::dentry,
        inode: *mut raw::inode,
        name: *const c_char,
        value: *const c_void,
        size: usize,
        flags: c_int,
    ) -> c_int {
        // SAFETY: Per the contract.
        let (ns, inode, name) = match unsafe { Self::handler_args(handler, inode, name) } {
            Ok(a) => a,
            Err(e) => return e.to_errno(),
        };
        // SAFETY: Per the contract.
        let value = (!value.is_null())
            .then(|| unsafe { core::slice::from_raw_parts(value.cast::<u8>(), size) });
        let both = raw::XATTR_CREATE | raw::XATTR_REPLACE;
        let mode = if flags & both == both {
            // Fails whether the attribute exists or not, as on ext4:
            // EEXIST if it does, ENODATA if it does not.
            return match T::xattr_get(inode, ns, name) {
                Ok(Some(_)) => kernel::error::code::EEXIST.to_errno(),
                Ok(None) => super::errno::enodata().to_errno(),
                Err(e) => e.to_errno(),
            };
        } else if flags & raw::XATTR_CREATE != 0 {
            SetMode::Create
        } else if flags & raw::XATTR_REPLACE != 0 {
            SetMode::Replace
        } else {
            SetMode::Any
        };
        // SAFETY: The caller holds the inode lock exclusively (contract).
        let locked = unsafe { InodeLocked::<T, Excl>::assume(inode) };
        match T::xattr_set(&locked, ns, name, value, mode, None) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// `->listxattr`: every attribute's full name, NUL-terminated, except
    /// `trusted.` ones for a caller without `CAP_SYS_ADMIN` (as ext4) and
    /// ACLs on a mount without `SB_POSIXACL`.
    ///
    /// # Safety
    ///
    /// Called by `vfs_listxattr` with a positive dentry of ours and a
    /// buffer writable for `size` bytes (or null for a size query).
    pub(super) unsafe extern "C" fn listxattr(
        dentry: *mut raw::dentry,
        buffer: *mut c_char,
        size: usize,
    ) -> isize {
        // SAFETY: Per the contract the dentry is positive and ours.
        let raw_inode = unsafe { (*dentry).d_inode };
        // SAFETY: As above.
        let inode = unsafe { INode::<T>::from_raw(raw_inode) };
        if let Err(e) = inode.check_up() {
            return e.to_errno() as isize;
        }
        let out: Option<&mut [u8]> = if buffer.is_null() || size == 0 {
            None
        } else {
            // SAFETY: Per the contract.
            Some(unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), size) })
        };
        let mut out = out;
        // SAFETY: The inode is live.
        let acls = unsafe { raw::r2dax_is_posixacl(raw_inode) };
        // Asked before the filesystem takes any lock (the LSM hook behind
        // it may log); ext4 asks only when a trusted. attribute exists.
        // SAFETY: A capability check of the caller.
        let trusted = unsafe { raw::r2dax_capable_sys_admin() };
        let mut total = 0usize;
        let mut too_small = false;
        let res = T::xattr_list(inode, &mut |ns, name| {
            let visible = match ns {
                XattrNs::Trusted => trusted,
                XattrNs::AclAccess | XattrNs::AclDefault => acls,
                XattrNs::User | XattrNs::Security => true,
            };
            if !visible || too_small {
                return;
            }
            let p = ns.prefix();
            let len = p.len() + name.len() + 1;
            if let Some(o) = out.as_deref_mut() {
                let Some(dst) = o.get_mut(total..total + len) else {
                    too_small = true;
                    return;
                };
                dst[..p.len()].copy_from_slice(p);
                dst[p.len()..len - 1].copy_from_slice(name);
                dst[len - 1] = 0;
            }
            total += len;
        });
        if let Err(e) = res {
            return e.to_errno() as isize;
        }
        if too_small {
            return ERANGE.to_errno() as isize;
        }
        total as isize
    }

    /// `->get_inode_acl`: the stored ACL of type `ty`, or null for none
    /// (the VFS caches either).
    ///
    /// # Safety
    ///
    /// Called by the VFS (`get_inode_acl`, permission checks) with a live
    /// inode of ours; with `rcu`, in an RCU walk that must not block.
    pub(super) unsafe extern "C" fn get_inode_acl(
        inode: *mut raw::inode,
        ty: c_int,
        rcu: bool,
    ) -> *mut raw::posix_acl {
        if rcu {
            return err_ptr(ECHILD);
        }
        // SAFETY: Per the contract.
        let inode = unsafe { INode::<T>::from_raw(inode) };
        let Some(ns) = XattrNs::of_acl_type(ty) else {
            return err_ptr(EINVAL);
        };
        if let Err(e) = inode.check_up() {
            return err_ptr(e);
        }
        let v = match T::xattr_get(inode, ns, b"") {
            Ok(Some(v)) => v,
            Ok(None) => return null_mut(),
            Err(e) => return err_ptr(e),
        };
        // SAFETY: `v` is readable for its length.
        let acl = unsafe { raw::r2dax_acl_from_disk(v.as_ptr().cast(), v.len()) };
        if let Some(e) = ptr_err(acl) {
            super::print::sb_err!(
                inode.sb(),
                "inode {}: stored {} ACL is invalid ({:?}); run fsck.r2dax",
                inode.ino(),
                if ns == XattrNs::AclAccess {
                    "access"
                } else {
                    "default"
                },
                e
            );
            return err_ptr(super::errno::euclean());
        }
        acl
    }

    /// `->set_acl`: stores (or with a null `acl`, removes) the ACL of type
    /// `ty`. An access ACL also sets the mode (`posix_acl_update_mode`),
    /// and is not stored if the mode says it all.
    ///
    /// # Safety
    ///
    /// Called by the VFS (`vfs_set_acl`, `vfs_remove_acl`,
    /// `posix_acl_chmod`) with a positive dentry of ours whose inode's
    /// lock the caller holds exclusively, and a valid ACL or null.
    pub(super) unsafe extern "C" fn set_acl(
        idmap: *mut raw::mnt_idmap,
        dentry: *mut raw::dentry,
        acl: *mut raw::posix_acl,
        ty: c_int,
    ) -> c_int {
        // SAFETY: Per the contract the dentry is positive and ours.
        let raw_inode = unsafe { (*dentry).d_inode };
        // SAFETY: As above.
        let inode = unsafe { INode::<T>::from_raw(raw_inode) };
        let Some(ns) = XattrNs::of_acl_type(ty) else {
            return EINVAL.to_errno();
        };
        if let Err(e) = inode.check_up() {
            return e.to_errno();
        }
        let is_dir = u32::from(inode.mode()) & raw::S_IFMT == raw::S_IFDIR;
        if ns == XattrNs::AclDefault && !is_dir {
            return if acl.is_null() { 0 } else { EACCES.to_errno() };
        }
        let mut acl = acl;
        let mut mode = inode.mode();
        let update_mode = ns == XattrNs::AclAccess && !acl.is_null();
        if update_mode {
            // SAFETY: The arguments are the call's; the helper may set
            // `acl` to null (the mode says it all), never to a new ACL.
            let r = unsafe { raw::r2dax_acl_update_mode(idmap, raw_inode, &mut mode, &mut acl) };
            if r != 0 {
                return r;
            }
        }
        let bytes = if acl.is_null() {
            None
        } else {
            // SAFETY: The VFS's ACL is live for the call.
            match unsafe { acl_bytes(acl) } {
                Ok(b) => Some(b),
                Err(e) => return e.to_errno(),
            }
        };
        // SAFETY: The caller holds the inode lock exclusively (contract).
        let locked = unsafe { InodeLocked::<T, Excl>::assume(inode) };
        let new_mode = (update_mode && mode != inode.mode()).then_some(mode);
        match T::xattr_set(&locked, ns, b"", bytes.as_deref(), SetMode::Any, new_mode) {
            Ok(()) => {}
            // Removing an ACL that is not there succeeds (`setfacl -b`);
            // the mode still follows (nothing else to store).
            Err(e) if bytes.is_none() && e == super::errno::enodata() => {
                if let Some(m) = new_mode {
                    locked.set_mode(m);
                    locked.touch_ctime();
                    inode.mark_dirty();
                }
            }
            Err(e) => {
                // The change may have been made before the error (a failed
                // inode write): the cache must not keep the old ACL.
                // SAFETY: The inode is live.
                unsafe { raw::r2dax_forget_cached_acl(raw_inode, ty) };
                return e.to_errno();
            }
        }
        // SAFETY: The inode is live; the cache takes its own reference.
        unsafe { raw::r2dax_set_cached_acl(raw_inode, ty, acl) };
        0
    }

    /// The ACL side of a mode change (`posix_acl_chmod`), from `setattr`
    /// once the new mode is in the inode.
    ///
    /// # Safety
    ///
    /// Called from `->setattr` with its idmap and positive dentry, under
    /// the inode lock.
    pub(super) unsafe fn acl_chmod(idmap: *mut raw::mnt_idmap, dentry: *mut raw::dentry) -> Result {
        // SAFETY: Per the contract.
        let raw_inode = unsafe { (*dentry).d_inode };
        // SAFETY: The inode is live.
        if !unsafe { raw::r2dax_is_posixacl(raw_inode) } {
            return Ok(());
        }
        // SAFETY: Per the contract; `posix_acl_chmod` calls `set_acl` with
        // the lock held by our caller.
        kernel::error::to_result(unsafe {
            raw::r2dax_acl_chmod(idmap, dentry, (*raw_inode).i_mode)
        })
    }
}
