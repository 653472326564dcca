// SPDX-License-Identifier: GPL-2.0
//! The C operation tables of a [`FileSystem`] and the callbacks in them.
//!
//! Each table is a `const` built from `T`; taking its address promotes it to
//! a `'static`. Each callback converts its raw arguments into the layer's
//! types (stating why that is valid), calls the trait method, and turns
//! the `Result` back into the C convention.

use super::dax::DaxDevice;
use super::fs::{DirEmitter, FileSystem, FsType, MapKind};
use super::inode::{INode, Idmap, InodeWithData};
use super::options::{OptionWriter, ParamError, ParamValue};
use super::raw;
use super::sb::{New, SbData, SuperBlock};
use core::ffi::{c_int, c_uint, c_void};
use core::marker::PhantomData;
use kernel::error::from_result;
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::ARef;

/// `ENOPARAM` of include/linux/errno.h: "not a parameter of this
/// filesystem", which makes the VFS try its own and then refuse it.
const ENOPARAM: u32 = 519;

/// `FALLOC_FL_KEEP_SIZE` of include/uapi/linux/falloc.h.
const FALLOC_FL_KEEP_SIZE: u32 = 0x01;
/// `FALLOC_FL_PUNCH_HOLE`.
const FALLOC_FL_PUNCH_HOLE: u32 = 0x02;
/// `FALLOC_FL_ZERO_RANGE`.
const FALLOC_FL_ZERO_RANGE: u32 = 0x10;

/// The C operation tables and callbacks for `T`.
pub(crate) struct Tables<T: FileSystem>(PhantomData<T>);

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

/// `ERR_PTR`: an errno encoded in a pointer.
fn err_ptr<U>(e: Error) -> *mut U {
    e.to_errno() as isize as *mut U
}

impl<T: FileSystem> Tables<T> {
    const CONTEXT_OPS: raw::fs_context_operations = raw::fs_context_operations {
        get_tree: Some(Self::get_tree),
        reconfigure: Some(Self::reconfigure),
        free: Some(Self::free_fs_context),
        dup: None,
        parse_param: Some(Self::parse_param),
        parse_monolithic: None,
    };

    const SUPER_OPS: raw::super_operations = raw::super_operations {
        alloc_inode: Some(Self::alloc_inode),
        free_inode: Some(Self::free_inode),
        write_inode: Some(Self::write_inode),
        evict_inode: Some(Self::evict_inode),
        put_super: Some(Self::put_super),
        sync_fs: Some(Self::sync_fs),
        statfs: Some(Self::statfs),
        show_options: Some(Self::show_options),
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

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
        // SAFETY: As above.
        ..unsafe { core::mem::zeroed() }
    };

    pub(super) const DIR_FOPS: raw::file_operations = raw::file_operations {
        llseek: Some(raw::generic_file_llseek),
        read: Some(raw::generic_read_dir),
        iterate_shared: Some(Self::iterate_shared),
        // Directory changes are written synchronously as they happen.
        fsync: Some(raw::noop_fsync),
        unlocked_ioctl: Some(Self::ioctl),
        // SAFETY: As above.
        ..unsafe { core::mem::zeroed() }
    };

    pub(super) const FILE_IOPS: raw::inode_operations = raw::inode_operations {
        setattr: Some(Self::setattr),
        getattr: Some(Self::getattr),
        fiemap: Some(Self::fiemap),
        fileattr_get: Some(Self::fileattr_get),
        fileattr_set: Some(Self::fileattr_set),
        // SAFETY: As above (permission uses the VFS default).
        ..unsafe { core::mem::zeroed() }
    };

    pub(super) const FILE_FOPS: raw::file_operations = raw::file_operations {
        llseek: Some(Self::llseek),
        read_iter: Some(Self::read_iter),
        write_iter: Some(Self::write_iter),
        fsync: Some(Self::fsync),
        fallocate: Some(Self::fallocate),
        mmap: Some(Self::mmap),
        open: Some(Self::open),
        release: Some(Self::release),
        splice_read: Some(Self::splice_read),
        splice_write: Some(raw::iter_file_splice_write),
        fadvise: Some(Self::fadvise),
        unlocked_ioctl: Some(Self::ioctl),
        // PMD-aligned addresses, so DAX files can take 2 MiB faults.
        get_unmapped_area: Some(raw::thp_get_unmapped_area),
        fop_flags: raw::FOP_MMAP_SYNC,
        // SAFETY: As above.
        ..unsafe { core::mem::zeroed() }
    };

    /// Page-cache regular files (and symlinks with a block).
    pub(super) const FILE_AOPS: raw::address_space_operations = raw::address_space_operations {
        read_folio: Some(Self::read_folio),
        readahead: Some(Self::readahead),
        writepages: Some(Self::writepages),
        dirty_folio: Some(Self::dirty_folio),
        invalidate_folio: Some(raw::iomap_invalidate_folio),
        release_folio: Some(raw::iomap_release_folio),
        is_partially_uptodate: Some(raw::iomap_is_partially_uptodate),
        // Folios carry only iomap's private state, which it moves itself
        // (as xfs); without this, migration writes dirty folios back first.
        migrate_folio: Some(raw::filemap_migrate_folio),
        // SAFETY: As above.
        ..unsafe { core::mem::zeroed() }
    };

    /// DAX regular files (as ext4's and xfs's DAX tables): no
    /// `read_folio` or `readahead`, so the kernel paths that reach a
    /// mapping through its operations to fill it with folios (swapon,
    /// uprobes, `read_cache_folio` users, forced readahead) refuse a DAX
    /// file instead of putting folios among its DAX entries. A mode switch
    /// swaps the tables (`INode::switch_dax`); `writepages` and
    /// `dirty_folio` are the same functions in both, because writeback
    /// and `folio_mark_dirty` read `a_ops` without r2dax's locks.
    pub(super) const DAX_AOPS: raw::address_space_operations = raw::address_space_operations {
        writepages: Some(Self::writepages),
        dirty_folio: Some(Self::dirty_folio),
        // SAFETY: As above.
        ..unsafe { core::mem::zeroed() }
    };

    pub(super) const SYMLINK_IOPS: raw::inode_operations = raw::inode_operations {
        get_link: Some(raw::page_get_link),
        setattr: Some(Self::setattr),
        getattr: Some(Self::getattr),
        // SAFETY: As above.
        ..unsafe { core::mem::zeroed() }
    };

    pub(super) const IOMAP_OPS: raw::iomap_ops = raw::iomap_ops {
        iomap_begin: Some(Self::iomap_begin),
        iomap_end: None,
    };

    const WRITEBACK_OPS: raw::iomap_writeback_ops = raw::iomap_writeback_ops {
        map_blocks: Some(Self::map_blocks),
        prepare_ioend: None,
        discard_folio: None,
    };

    /// Page-cache mappings of regular files (the DAX ones are in
    /// `vfs/dax.rs`). Installed by `->mmap` only while the file uses the
    /// page cache, which it then does until the VMA is closed.
    pub(super) const VM_OPS: raw::vm_operations_struct = raw::vm_operations_struct {
        open: Some(Self::vm_open),
        close: Some(Self::vm_close),
        fault: Some(Self::pc_fault),
        map_pages: Some(raw::filemap_map_pages),
        page_mkwrite: Some(Self::page_mkwrite),
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by the VFS with a valid, exclusively owned `fc`.
    pub(super) unsafe extern "C" fn init_fs_context(
        fc: *mut kernel::bindings::fs_context,
    ) -> c_int {
        let fc = fc.cast::<raw::fs_context>();
        from_result(|| {
            let opts = KBox::new(T::Options::default(), GFP_KERNEL)?;
            // SAFETY: `fc` is valid per the function contract, and the
            // kernel's opaque `fs_context` is the same C object as the local
            // definition. `CONTEXT_OPS` is promoted to a `'static`.
            // `fs_private` is ours; `free_fs_context` frees it.
            unsafe {
                (*fc).fs_private = KBox::into_raw(opts).cast();
                (*fc).ops = &Self::CONTEXT_OPS;
            }
            Ok(0)
        })
    }

    /// The options of a context set up by `init_fs_context`.
    ///
    /// # Safety
    ///
    /// `fc` must be such a context, and the caller must be the only user
    /// of its options for `'a` (the VFS serialises all calls on one
    /// context: it holds `fc->uapi_mutex` or owns the context outright).
    unsafe fn options<'a>(fc: *mut raw::fs_context) -> &'a mut T::Options {
        // SAFETY: Per the function contract `fs_private` holds the
        // `KBox<T::Options>` stored by `init_fs_context`.
        unsafe { &mut *(*fc).fs_private.cast::<T::Options>() }
    }

    /// # Safety
    ///
    /// Called by the VFS once, when a context set up by `init_fs_context`
    /// is destroyed.
    unsafe extern "C" fn free_fs_context(fc: *mut raw::fs_context) {
        // SAFETY: `fs_private` is the box stored by `init_fs_context` (it is
        // never null: `init_fs_context` fails otherwise, and then the VFS
        // does not call `free`); nothing uses it after this.
        unsafe {
            let opts = (*fc).fs_private.cast::<T::Options>();
            if !opts.is_null() {
                drop(KBox::from_raw(opts));
                (*fc).fs_private = core::ptr::null_mut();
            }
        }
    }

    /// # Safety
    ///
    /// Called by `vfs_parse_fs_param` for one option of a context set up by
    /// `init_fs_context`, with a valid parameter.
    unsafe extern "C" fn parse_param(
        fc: *mut raw::fs_context,
        param: *mut raw::fs_parameter,
    ) -> c_int {
        // SAFETY: `param->key` is a NUL-terminated string, and a string
        // value is NUL-terminated with its length in `size`; both live for
        // the duration of the call.
        let (key, value) = unsafe {
            let key = CStr::from_char_ptr((*param).key);
            let value = match (*param).type_() {
                raw::fs_value_type_fs_value_is_flag => ParamValue::Flag,
                raw::fs_value_type_fs_value_is_string => {
                    ParamValue::Str(core::slice::from_raw_parts(
                        (*param).__bindgen_anon_1.string.cast::<u8>(),
                        (*param).size,
                    ))
                }
                _ => ParamValue::Other,
            };
            (key, value)
        };
        // SAFETY: Per the contract; the VFS serialises parsing of one context.
        let opts = unsafe { Self::options(fc) };
        match T::parse_param(opts, key.as_bytes(), value) {
            Ok(()) => 0,
            // The VFS then handles `source` or reports the unknown option.
            Err(ParamError::Unknown) => -(ENOPARAM as c_int),
            // SAFETY: `fc` and the key are valid; the helper only logs.
            Err(ParamError::BadValue) => unsafe { raw::r2dax_fc_bad_value(fc, (*param).key) },
        }
    }

    /// # Safety
    ///
    /// Called by the VFS with a valid `fc` whose `ops` we installed.
    unsafe extern "C" fn get_tree(fc: *mut raw::fs_context) -> c_int {
        // SAFETY: `fc` is valid per the function contract; `fill_super` has
        // the signature `get_tree_bdev` expects.
        unsafe { raw::get_tree_bdev(fc, Some(Self::fill_super)) }
    }

    /// # Safety
    ///
    /// Called by `get_tree_bdev` with a new, locked superblock whose block
    /// device is open and whose `s_fs_info` is null.
    unsafe extern "C" fn fill_super(sb: *mut raw::super_block, fc: *mut raw::fs_context) -> c_int {
        from_result(|| {
            // SAFETY: The superblock is valid and new per the contract.
            let new = unsafe { SuperBlock::<T, New>::from_raw(sb) };
            // SAFETY: `fc` is the mount's context, whose options nothing
            // else touches during `get_tree`.
            let opts = unsafe { Self::options(fc) };
            new.init_common(&Self::SUPER_OPS);
            let dax = DaxDevice::of(new);
            let info = T::fill_super(new, opts, dax.is_some())?;
            let info = KBox::pin_init(SbData::<T>::new(info, dax), GFP_KERNEL)?;
            // SAFETY: `s_fs_info` is null and ours to set; `kill_sb` frees it
            // (in place, so it stays pinned) whether or not the rest of the
            // mount succeeds.
            unsafe {
                let info = core::pin::Pin::into_inner_unchecked(info);
                (*sb).s_fs_info = KBox::into_raw(info).cast();
            }
            // SAFETY: `s_fs_info` now holds an `SbData<T>`, so the superblock is
            // ready in the sense of `SuperBlock<T, Ready>`.
            let ready = unsafe { SuperBlock::<T>::from_raw(sb) };
            let root = T::init_root(ready)?;
            // SAFETY: `s_root` is null on a new superblock; the root dentry's
            // reference moves to the superblock.
            unsafe { (*sb).s_root = root.into_raw() };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS for a remount of a superblock of this type.
    unsafe extern "C" fn reconfigure(fc: *mut raw::fs_context) -> c_int {
        from_result(|| {
            // SAFETY: On reconfiguration `fc->root` is a valid dentry of the
            // mounted superblock, which is fully set up (ready); the
            // context and its options are ours alone during the call.
            let (sb, flags, opts) = unsafe {
                let sb = (*(*fc).root).d_sb;
                (
                    SuperBlock::<T>::from_raw(sb),
                    (*fc).sb_flags,
                    Self::options(fc),
                )
            };
            T::reconfigure(sb, u64::from(flags) & raw::SB_RDONLY as u64 != 0, opts)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS with a dentry of a mounted superblock of ours and a
    /// writable `kstatfs`.
    unsafe extern "C" fn statfs(
        dentry: *mut raw::dentry,
        buf: *mut kernel::bindings::kstatfs,
    ) -> c_int {
        let buf = buf.cast::<raw::kstatfs>();
        from_result(|| {
            // SAFETY: The dentry is valid and its superblock fully mounted.
            let sb = unsafe { SuperBlock::<T>::from_raw((*dentry).d_sb) };
            let st = T::statfs(sb)?;
            // SAFETY: `buf` is valid for writes per the function contract,
            // and the kernel's opaque `kstatfs` is the local definition.
            unsafe {
                (*buf).f_type = st.magic as _;
                (*buf).f_bsize = st.block_size as _;
                (*buf).f_frsize = st.block_size as _;
                (*buf).f_blocks = st.blocks;
                (*buf).f_bfree = st.free_blocks;
                (*buf).f_bavail = st.avail_blocks;
                (*buf).f_files = st.files;
                (*buf).f_ffree = st.free_files;
                (*buf).f_namelen = st.name_len as _;
                (*buf).f_fsid.val = [st.fsid as i32, (st.fsid >> 32) as i32];
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS once for every superblock of this type that is torn
    /// down, whether or not `fill_super` succeeded.
    pub(super) unsafe extern "C" fn kill_sb(sb: *mut raw::super_block) {
        // SAFETY: `sb` is a block-device superblock of ours.
        unsafe { raw::kill_block_super(sb) };
        // SAFETY: `s_fs_info` is null or the `KBox<SbData<T>>` stored by
        // `fill_super`; nothing uses it after `kill_block_super`, which
        // evicted every inode.
        unsafe {
            let info = (*sb).s_fs_info.cast::<SbData<T>>();
            if !info.is_null() {
                drop(KBox::from_raw(info));
            }
        }
    }

    /// Creates through `T::create` and publishes the inode with `dentry`.
    ///
    /// # Safety
    ///
    /// Called from a VFS create-type operation: `dir` is a locked directory
    /// of ours, `dentry` a negative dentry in it, `idmap` the mount's.
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
            let new = T::create(&Idmap(idmap), dir, name, mode, rdev, target)?;
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
    /// Called by the VFS with both directories and the inode locked.
    unsafe extern "C" fn link(
        old: *mut raw::dentry,
        dir: *mut raw::inode,
        dentry: *mut raw::dentry,
    ) -> c_int {
        from_result(|| {
            // SAFETY: Per the contract: `old` is positive, of ours.
            let inode_ptr = unsafe { (*old).d_inode };
            // SAFETY: As above.
            let (inode, dir, name) = unsafe {
                (
                    INode::<T>::from_raw(inode_ptr),
                    INode::<T>::from_raw(dir),
                    dname(dentry),
                )
            };
            T::link(inode, dir, name)?;
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
    /// Called by the VFS with `dir` and the victim locked.
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
            T::unlink(dir, name, inode)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS with `dir` and the victim locked.
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
            T::rmdir(dir, name, inode)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS with the rename locks held (`lock_rename` and the
    /// inodes involved).
    unsafe extern "C" fn rename(
        _idmap: *mut raw::mnt_idmap,
        old_dir: *mut raw::inode,
        old_dentry: *mut raw::dentry,
        new_dir: *mut raw::inode,
        new_dentry: *mut raw::dentry,
        flags: c_uint,
    ) -> c_int {
        from_result(|| {
            // SAFETY: Per the contract: the old dentry is positive; the new
            // one may be negative.
            let (od, on, o, nd, nn, n) = unsafe {
                let n = (*new_dentry).d_inode;
                (
                    INode::<T>::from_raw(old_dir),
                    dname(old_dentry),
                    INode::<T>::from_raw((*old_dentry).d_inode),
                    INode::<T>::from_raw(new_dir),
                    dname(new_dentry),
                    (!n.is_null()).then(|| INode::<T>::from_raw(n)),
                )
            };
            T::rename(od, on, o, nd, nn, n, flags)?;
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
            let mut size_change = false;
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
                // SAFETY: The inode is live and locked; direct I/O in flight
                // finishes first; the invalidate lock keeps page faults out
                // while blocks go away.
                unsafe {
                    raw::inode_dio_wait(inode.as_raw());
                    raw::r2dax_invalidate_lock(inode.as_raw());
                }
                // DAX pages beyond the new size must not be pinned when
                // their blocks are freed.
                let r = inode
                    .break_layouts(size, u64::MAX)
                    .and_then(|()| T::setattr_size(inode, size));
                // SAFETY: Taken above.
                unsafe { raw::r2dax_invalidate_unlock(inode.as_raw()) };
                r?;
                // The other attributes of the same call (e.g. mtime).
                let mut dummy = false;
                // SAFETY: As above; the size now matches, so the helper
                // applies the rest.
                kernel::error::to_result(unsafe {
                    (*attr).ia_valid &= !raw::ATTR_SIZE;
                    raw::r2dax_setattr_simple(idmap, dentry, attr, &mut dummy)
                })?;
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
        // SAFETY: Per the contract the dentry has a live inode of ours.
        let raw_inode = unsafe { (*(*path).dentry).d_inode };
        // SAFETY: As above.
        let inode = unsafe { INode::<T>::from_raw(raw_inode) };
        let (attributes, mask) = statx_attributes(T::get_flags(inode));
        // SAFETY: Per the contract `stat` is writable and the inode live;
        // `generic_fillattr` reads the inode as the default getattr does.
        unsafe { raw::generic_fillattr(idmap, request_mask, raw_inode, stat) };
        // SAFETY: As above; the VFS adds STATX_ATTR_DAX and the mount's
        // attributes after this returns.
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
        // SAFETY: Per the contract. The map is read through iomap as for
        // SEEK_HOLE/SEEK_DATA, under the inode lock (shared), which keeps
        // truncate, punch hole and fallocate out (they hold it
        // exclusive); a fault or write that fills a hole meanwhile is seen
        // or not, as with any snapshot of the map. `fiemap_prep` (called
        // by iomap) writes dirty page-cache data back first when asked to
        // with FIEMAP_FLAG_SYNC. Physical offsets are on the block device,
        // as for every mapping not asked for with IOMAP_DAX.
        unsafe {
            raw::r2dax_inode_lock_shared(inode);
            let ret = raw::iomap_fiemap(inode, fieinfo, start, len, &Self::IOMAP_OPS);
            raw::r2dax_inode_unlock_shared(inode);
            ret
        }
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
            T::set_flags(inode, flags, fsx_only)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by writeback for a dirty inode of ours.
    unsafe extern "C" fn write_inode(
        inode: *mut raw::inode,
        wbc: *mut raw::writeback_control,
    ) -> c_int {
        from_result(|| {
            // SAFETY: Per the contract.
            let (inode, sync) = unsafe {
                (
                    INode::<T>::from_raw(inode),
                    (*wbc).sync_mode == raw::writeback_sync_modes_WB_SYNC_ALL,
                )
            };
            T::write_inode(inode, sync)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS when an inode of ours leaves memory.
    unsafe extern "C" fn evict_inode(inode: *mut raw::inode) {
        // SAFETY: Per the contract; the page cache goes first, and
        // `clear_inode` ends the inode's life in the filesystem. The inode
        // leaves the orphan list before that (the list's invariant).
        unsafe {
            raw::truncate_inode_pages_final(core::ptr::addr_of_mut!((*inode).i_data));
            let i = INode::<T>::from_raw(inode);
            T::evict_inode(i);
            if i.sb().orphans().forget(inode) {
                crate::vfs::print::sb_err!(
                    i.sb(),
                    "inode {} left on the orphan list at eviction",
                    i.ino()
                );
            }
            raw::clear_inode(inode);
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for a mounted superblock of ours.
    unsafe extern "C" fn sync_fs(sb: *mut raw::super_block, wait: c_int) -> c_int {
        from_result(|| {
            // SAFETY: Per the contract.
            T::sync_fs(unsafe { SuperBlock::<T>::from_raw(sb) }, wait != 0)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS (under `namespace_sem`, which keeps the mount and
    /// its superblock alive) with a `seq_file` being filled and a dentry of
    /// a mounted superblock of ours.
    unsafe extern "C" fn show_options(m: *mut raw::seq_file, root: *mut raw::dentry) -> c_int {
        // SAFETY: Per the contract; the superblock is fully set up.
        let (sb, mut out) = unsafe {
            (
                SuperBlock::<T>::from_raw((*root).d_sb),
                OptionWriter::from_raw(m),
            )
        };
        T::show_options(sb, &mut out);
        0
    }

    /// # Safety
    ///
    /// Called by `generic_shutdown_super` once every inode is gone.
    unsafe extern "C" fn put_super(sb: *mut raw::super_block) {
        // SAFETY: Per the contract; `s_fs_info` is still set.
        T::put_super(unsafe { SuperBlock::<T>::from_raw(sb) });
    }

    /// # Safety
    ///
    /// Called by the VFS for `fallocate(2)` on an open regular file of ours
    /// (the VFS has checked the mode bits, the range and write access).
    unsafe extern "C" fn fallocate(
        file: *mut raw::file,
        mode: c_int,
        offset: raw::loff_t,
        len: raw::loff_t,
    ) -> isize {
        // SAFETY: Per the contract. The inode lock excludes writes and
        // truncate; the invalidate lock (exclusive) excludes page faults
        // while blocks go away; `inode_dio_wait` drains direct I/O.
        unsafe {
            let inode = raw::r2dax_file_inode(file);
            raw::r2dax_inode_lock(inode);
            raw::inode_dio_wait(inode);
            raw::r2dax_invalidate_lock(inode);
            // A size-changing mode obeys RLIMIT_FSIZE (EFBIG and SIGXFSZ),
            // which vfs_fallocate leaves to the filesystem; the VFS has
            // checked s_maxbytes and overflow already.
            let grows = mode as u32 & FALLOC_FL_KEEP_SIZE == 0
                && offset.saturating_add(len) > raw::r2dax_inode_size(inode);
            let r = if grows {
                kernel::error::to_result(raw::inode_newsize_ok(inode, offset + len))
            } else {
                Ok(())
            };
            let r = r.and_then(|()| match (u64::try_from(offset), u64::try_from(len)) {
                (Ok(o), Ok(l)) => {
                    let i = INode::<T>::from_raw(inode);
                    // Punching and zeroing free blocks: wait for DAX pins
                    // of the range first. Preallocation frees nothing, so
                    // it waits for no pin (one may be held for as long as
                    // a pipe keeps a page); it unmaps and drops the
                    // zero-page entries of the holes it fills itself.
                    if mode as u32 & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE) != 0 {
                        i.break_layouts(o, o.saturating_add(l).saturating_sub(1))?;
                    }
                    T::fallocate(i, mode as u32, o, l)
                }
                _ => Err(EINVAL),
            });
            let r = r.and_then(|()| kernel::error::to_result(raw::file_modified(file)));
            raw::r2dax_invalidate_unlock(inode);
            raw::r2dax_inode_unlock(inode);
            match r {
                Ok(()) => 0,
                Err(e) => e.to_errno() as isize,
            }
        }
    }

    /// # Safety
    ///
    /// Called by the VFS when a regular file of ours is opened.
    unsafe extern "C" fn open(inode: *mut raw::inode, file: *mut raw::file) -> c_int {
        // SAFETY: Per the contract; O_DIRECT goes through iomap_dio_rw.
        unsafe {
            (*file).f_mode |= raw::FMODE_CAN_ODIRECT;
            raw::generic_file_open(inode, file)
        }
    }

    /// # Safety
    ///
    /// Called by the VFS when the last reference to an open regular file
    /// of ours goes away.
    unsafe extern "C" fn release(inode: *mut raw::inode, file: *mut raw::file) -> c_int {
        // SAFETY: Per the contract both are live. The locks are those of
        // truncate (see `setattr`): the inode lock keeps writes and size
        // changes out, `inode_dio_wait` drains direct I/O, and the
        // invalidate lock (exclusive) keeps page faults out while blocks go
        // away. Nothing is held on entry (`__fput` runs in process context
        // without locks), so the usual lock order holds.
        unsafe {
            let i = INode::<T>::from_raw(inode);
            // No reference to the file is left, so no collapse holds it.
            if raw::r2dax_file_marked(file) {
                i.layer()
                    .collapsible
                    .fetch_sub(1, core::sync::atomic::Ordering::AcqRel);
            }
            if (*file).f_mode & raw::FMODE_WRITE == 0 {
                return 0;
            }
            if !T::wants_release(i) {
                return 0;
            }
            raw::r2dax_inode_lock(inode);
            raw::inode_dio_wait(inode);
            raw::r2dax_invalidate_lock(inode);
            let r = T::release(i);
            raw::r2dax_invalidate_unlock(inode);
            raw::r2dax_inode_unlock(inode);
            if let Err(e) = r {
                crate::vfs::print::sb_err!(i.sb(), "inode {}: release failed ({:?})", i.ino(), e);
            }
            0
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for `read(2)` on an open regular file of ours.
    unsafe extern "C" fn read_iter(iocb: *mut raw::kiocb, to: *mut raw::iov_iter) -> isize {
        // SAFETY: Per the contract. Every read holds the inode lock shared:
        // it excludes truncate, writes and DAX mode switches, so the mode
        // read here holds until the read is done (a buffered read must not
        // add folios to a file that became DAX meanwhile).
        unsafe {
            let file = raw::r2dax_iocb_file(iocb);
            let inode = raw::r2dax_file_inode(file);
            if raw::r2dax_iocb_flags(iocb) as u32 & raw::IOCB_NOWAIT != 0 {
                if !raw::r2dax_inode_trylock_shared(inode) {
                    return -(raw::EAGAIN as isize);
                }
            } else {
                raw::r2dax_inode_lock_shared(inode);
            }
            let ret = if raw::r2dax_is_dax(inode) {
                let r = raw::dax_iomap_rw(iocb, to, &Self::IOMAP_OPS);
                raw::r2dax_file_accessed(file);
                r
            } else if raw::r2dax_iocb_flags(iocb) as u32 & raw::IOCB_DIRECT != 0 {
                let r = raw::iomap_dio_rw(
                    iocb,
                    to,
                    &Self::IOMAP_OPS,
                    core::ptr::null(),
                    0,
                    core::ptr::null_mut(),
                    0,
                );
                raw::r2dax_file_accessed(file);
                r
            } else {
                raw::generic_file_read_iter(iocb, to)
            };
            raw::r2dax_inode_unlock_shared(inode);
            ret
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for splice from an open regular file of ours.
    unsafe extern "C" fn splice_read(
        file: *mut raw::file,
        ppos: *mut raw::loff_t,
        pipe: *mut raw::pipe_inode_info,
        len: usize,
        flags: c_uint,
    ) -> isize {
        // SAFETY: Per the contract. As `read_iter`: the page-cache splice
        // runs with the inode lock shared (as xfs), so the mode cannot
        // change under it. A DAX file goes through `copy_splice_read`,
        // which calls `read_iter`; that takes the lock itself and decides
        // again.
        unsafe {
            let inode = raw::r2dax_file_inode(file);
            raw::r2dax_inode_lock_shared(inode);
            if raw::r2dax_is_dax(inode) {
                raw::r2dax_inode_unlock_shared(inode);
                return raw::copy_splice_read(file, ppos, pipe, len, flags);
            }
            let ret = raw::filemap_splice_read(file, ppos, pipe, len, flags);
            raw::r2dax_inode_unlock_shared(inode);
            ret
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for an ioctl it does not handle itself, on an open
    /// file or directory of ours; `arg` is a user pointer for ours.
    unsafe extern "C" fn ioctl(file: *mut raw::file, cmd: c_uint, arg: usize) -> isize {
        const IOC_READ: u32 = 2;
        let size = ((cmd >> 16) & 0x3fff) as usize;
        if cmd >> 30 != IOC_READ {
            return -(raw::ENOTTY as isize);
        }
        let r = (|| -> Result<isize> {
            // SAFETY: Per the contract the file is open, so its inode live.
            let inode = unsafe { INode::<T>::from_raw(raw::r2dax_file_inode(file)) };
            let data = T::ioctl_read(inode, cmd)?;
            if data.len() != size {
                return Err(EINVAL);
            }
            let out = kernel::uaccess::UserSlice::new(arg, size);
            out.writer().write_slice(&data)?;
            Ok(0)
        })();
        match r {
            Ok(v) => v,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for `posix_fadvise(2)` and `readahead(2)`.
    unsafe extern "C" fn fadvise(
        file: *mut raw::file,
        offset: raw::loff_t,
        len: raw::loff_t,
        advice: c_int,
    ) -> c_int {
        // SAFETY: Per the contract. Readahead adds folios: the inode lock
        // (shared) keeps the mode stable meanwhile, as in `read_iter`.
        unsafe {
            let inode = raw::r2dax_file_inode(file);
            raw::r2dax_inode_lock_shared(inode);
            let ret = raw::generic_fadvise(file, offset, len, advice);
            raw::r2dax_inode_unlock_shared(inode);
            ret
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for `lseek(2)` on an open regular file of ours.
    unsafe extern "C" fn llseek(
        file: *mut raw::file,
        offset: raw::loff_t,
        whence: c_int,
    ) -> raw::loff_t {
        // SAFETY: Per the contract; SEEK_HOLE and SEEK_DATA walk the map
        // through iomap under the inode lock (shared).
        unsafe {
            let inode = raw::r2dax_file_inode(file);
            let pos = match whence as u32 {
                raw::SEEK_HOLE | raw::SEEK_DATA => {
                    raw::r2dax_inode_lock_shared(inode);
                    let p = if whence as u32 == raw::SEEK_HOLE {
                        raw::iomap_seek_hole(inode, offset, &Self::IOMAP_OPS)
                    } else {
                        raw::iomap_seek_data(inode, offset, &Self::IOMAP_OPS)
                    };
                    raw::r2dax_inode_unlock_shared(inode);
                    p
                }
                _ => return raw::generic_file_llseek(file, offset, whence),
            };
            if pos < 0 {
                return pos;
            }
            raw::vfs_setpos(file, pos, (*(*inode).i_sb).s_maxbytes)
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for a `write(2)` on an open regular file of ours.
    unsafe extern "C" fn write_iter(iocb: *mut raw::kiocb, from: *mut raw::iov_iter) -> isize {
        // SAFETY: Per the contract; the steps are those of every iomap
        // buffered write (ext2, xfs): checks, privileges and times under
        // the inode lock, then the copy, then O_SYNC handling.
        unsafe {
            let file = raw::r2dax_iocb_file(iocb);
            let inode = raw::r2dax_file_inode(file);
            raw::r2dax_inode_lock(inode);
            let mut ret = raw::generic_write_checks(iocb, from);
            if ret > 0 {
                let err = raw::file_remove_privs(file);
                let err = if err == 0 {
                    raw::file_update_time(file)
                } else {
                    err
                };
                // A write that starts beyond the end of the file first
                // zeroes the rest of the old last block (as xfs's
                // `xfs_file_write_zero_eof`), in either mode: a store
                // through a mapping may have left bytes there, which the
                // new size would expose. Preallocated blocks it jumps
                // over go back, so that they become a hole.
                let old = raw::r2dax_inode_size(inode);
                let pos = raw::r2dax_iocb_pos(iocb);
                let err = if err == 0 && pos > old {
                    match Self::write_past_eof(inode, old as u64, pos as u64) {
                        Ok(()) => 0,
                        Err(e) => e.to_errno(),
                    }
                } else {
                    err
                };
                ret = if err != 0 {
                    err as isize
                } else if raw::r2dax_is_dax(inode) {
                    Self::dax_write(iocb, from, inode)
                } else if raw::r2dax_iocb_flags(iocb) as u32 & raw::IOCB_DIRECT != 0 {
                    Self::direct_write(iocb, from, inode)
                } else {
                    Self::buffered_write(iocb, from, inode)
                };
            }
            raw::r2dax_inode_unlock(inode);
            if ret > 0 {
                ret = raw::r2dax_generic_write_sync(iocb, ret);
            }
            ret
        }
    }

    /// Prepares a write at `pos` beyond the end of the file (`size`), with
    /// the inode locked: zeroes the rest of the old last block, and lets
    /// the filesystem drop what lies beyond the size that the write would
    /// otherwise bring inside it ([`FileSystem::write_past_eof`]), under the
    /// locks of truncate: `inode_dio_wait` drains direct I/O and the
    /// invalidate lock (exclusive) keeps page faults out. Lock order as in
    /// `release`: the inode lock, then the invalidate lock.
    ///
    /// # Safety
    ///
    /// `inode` is a live regular file of ours whose inode lock the caller
    /// holds exclusively.
    unsafe fn write_past_eof(inode: *mut raw::inode, size: u64, pos: u64) -> Result {
        // SAFETY: Per the function contract.
        let i = unsafe { INode::<T>::from_raw(inode) };
        i.zero_tail(size)?;
        if !T::wants_release(i) {
            return Ok(());
        }
        // SAFETY: Per the function contract; the invalidate lock is taken
        // and released here, after the inode lock.
        unsafe {
            raw::inode_dio_wait(inode);
            raw::r2dax_invalidate_lock(inode);
            let r = T::write_past_eof(i, pos);
            raw::r2dax_invalidate_unlock(inode);
            r
        }
    }

    /// A write to a DAX file (buffered or O_DIRECT alike), with the inode
    /// locked: blocks are allocated zeroed in `iomap_begin`, the data goes
    /// straight to the media, then the size grows. The inode (size) is
    /// written back by fsync or writeback, like a buffered write's.
    ///
    /// # Safety
    ///
    /// Called from `write_iter` with its arguments and the inode locked.
    unsafe fn dax_write(
        iocb: *mut raw::kiocb,
        from: *mut raw::iov_iter,
        inode: *mut raw::inode,
    ) -> isize {
        // SAFETY: Per the function contract (`write_iter` zeroed the old
        // last block already for a write beyond the end).
        unsafe {
            let ret = raw::dax_iomap_rw(iocb, from, &Self::IOMAP_OPS);
            let end = raw::r2dax_iocb_pos(iocb);
            if ret > 0 && end > raw::r2dax_inode_size(inode) {
                raw::r2dax_inode_set_size(inode, end);
                raw::r2dax_mark_inode_dirty(inode);
            }
            ret
        }
    }

    /// A buffered write, with the inode locked. iomap raises the size in
    /// memory and leaves writing it to the filesystem: the inode is marked
    /// dirty when the size grew, so writeback writes it after the data (a
    /// write that changes no timestamp, within the same clock tick as the
    /// last one, would otherwise leave the old size on the media).
    ///
    /// # Safety
    ///
    /// Called from `write_iter` with its arguments and the inode locked.
    unsafe fn buffered_write(
        iocb: *mut raw::kiocb,
        from: *mut raw::iov_iter,
        inode: *mut raw::inode,
    ) -> isize {
        // SAFETY: Per the function contract; `IOMAP_OPS` is 'static.
        unsafe {
            let old = raw::r2dax_inode_size(inode);
            let ret =
                raw::iomap_file_buffered_write(iocb, from, &Self::IOMAP_OPS, core::ptr::null_mut());
            if raw::r2dax_inode_size(inode) > old {
                raw::r2dax_mark_inode_dirty(inode);
            }
            ret
        }
    }

    /// An O_DIRECT write, with the inode locked. Blocks are allocated
    /// (zeroed) in `iomap_begin`; a write that extends the file waits for
    /// its I/O, then the new size is set and the inode written, so the size
    /// never covers data that is not on the media.
    ///
    /// # Safety
    ///
    /// Called from `write_iter` with its arguments and the inode locked.
    unsafe fn direct_write(
        iocb: *mut raw::kiocb,
        from: *mut raw::iov_iter,
        inode: *mut raw::inode,
    ) -> isize {
        // SAFETY: Per the function contract.
        unsafe {
            let pos = raw::r2dax_iocb_pos(iocb);
            let count = raw::r2dax_iov_iter_count(from) as raw::loff_t;
            let extending = pos + count > raw::r2dax_inode_size(inode);
            let flags = if extending {
                raw::IOMAP_DIO_FORCE_WAIT
            } else {
                0
            };
            let ret = raw::iomap_dio_rw(
                iocb,
                from,
                &Self::IOMAP_OPS,
                core::ptr::null(),
                flags,
                core::ptr::null_mut(),
                0,
            );
            if ret > 0 && pos + ret as raw::loff_t > raw::r2dax_inode_size(inode) {
                raw::r2dax_inode_set_size(inode, pos + ret as raw::loff_t);
                if let Err(e) = T::write_inode(INode::<T>::from_raw(inode), true) {
                    return e.to_errno() as isize;
                }
            }
            if ret == -(raw::ENOTBLK as isize) {
                // The page cache could not be invalidated: the buffered
                // path does the write instead, as other iomap filesystems.
                return Self::buffered_write(iocb, from, inode);
            }
            ret
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for `fsync(2)` on an open file of ours.
    unsafe extern "C" fn fsync(
        file: *mut raw::file,
        start: raw::loff_t,
        end: raw::loff_t,
        datasync: c_int,
    ) -> c_int {
        from_result(|| {
            // SAFETY: Per the contract: data first, then the inode.
            let inode = unsafe {
                kernel::error::to_result(raw::file_write_and_wait_range(file, start, end))?;
                INode::<T>::from_raw(raw::r2dax_file_inode(file))
            };
            T::fsync(inode, datasync != 0)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the MM for a fault on a page-cache VMA of ours.
    unsafe extern "C" fn pc_fault(vmf: *mut raw::vm_fault) -> raw::vm_fault_t {
        // SAFETY: Per the contract the fault's VMA maps a live file of ours
        // and is counted, on entry. `filemap_fault` may drop the mmap lock
        // for I/O (readahead) and still add folios afterwards, when the
        // VMA may be gone: the fault counts itself as a mapping user
        // meanwhile, so a mode switch that sees no users really has no
        // fault in flight (dax.rst, "Counting mappings"). Once the VMA is
        // gone only a file reference keeps the inode alive, and the one
        // `filemap_fault` takes for its I/O is dropped before it returns:
        // the fault holds its own from entry (when the VMA holds one) to
        // after the count is dropped, so the count is never touched on a
        // freed inode.
        unsafe {
            if !Self::check_mode(vmf, false) {
                return raw::VM_FAULT_SIGBUS;
            }
            let file = raw::r2dax_vma_get_file(raw::r2dax_vmf_vma(vmf));
            let i = INode::<T>::from_raw(raw::r2dax_file_inode(file));
            let users = &i.layer().mmaps;
            users.fetch_add(1, core::sync::atomic::Ordering::AcqRel);
            let ret = raw::filemap_fault(vmf);
            users.fetch_sub(1, core::sync::atomic::Ordering::AcqRel);
            raw::r2dax_fput(file);
            ret
        }
    }

    /// # Safety
    ///
    /// Called by the MM for a write fault on a shared mapping of ours.
    unsafe extern "C" fn page_mkwrite(vmf: *mut raw::vm_fault) -> raw::vm_fault_t {
        // SAFETY: Per the contract; the VMA's file is one of ours. The
        // invalidate lock (shared) keeps truncate out while the fault
        // allocates; freeze protection as every filesystem's mkwrite.
        unsafe {
            if !Self::check_mode(vmf, false) {
                return raw::VM_FAULT_SIGBUS;
            }
            let inode = raw::r2dax_vma_inode((*vmf).__bindgen_anon_1.vma);
            let sb = (*inode).i_sb;
            raw::r2dax_sb_start_pagefault(sb);
            raw::file_update_time((*(*vmf).__bindgen_anon_1.vma).vm_file);
            raw::r2dax_invalidate_lock_shared(inode);
            let ret = raw::iomap_page_mkwrite(vmf, &Self::IOMAP_OPS);
            raw::r2dax_invalidate_unlock_shared(inode);
            raw::r2dax_sb_end_pagefault(sb);
            ret
        }
    }

    /// # Safety
    ///
    /// Called by writeback for a mapping of ours.
    unsafe extern "C" fn writepages(
        mapping: *mut raw::address_space,
        wbc: *mut raw::writeback_control,
    ) -> c_int {
        // SAFETY: The mapping's host is a live inode of ours. The mode lock
        // (shared) keeps `S_DAX` from changing while this writeback walks
        // the mapping, so it never finds entries of the other kind (see
        // `INode::switch_dax`). A zeroed context is the initial state iomap
        // expects; `WRITEBACK_OPS` is promoted to a `'static`.
        unsafe {
            let inode = (*mapping).host;
            let i = INode::<T>::from_raw(inode);
            let sem = i.layer().mode_lock.get();
            raw::down_read(sem);
            let ret = match i.sb().dax_device() {
                Some(dev) if i.is_dax() => {
                    raw::dax_writeback_mapping_range(mapping, dev.as_raw(), wbc)
                }
                _ => {
                    let mut wpc: raw::iomap_writepage_ctx = core::mem::zeroed();
                    raw::iomap_writepages(mapping, wbc, &mut wpc, &Self::WRITEBACK_OPS)
                }
            };
            raw::up_read(sem);
            ret
        }
    }

    /// # Safety
    ///
    /// Called by `folio_mark_dirty` for a folio of one of our mappings.
    unsafe extern "C" fn dirty_folio(
        mapping: *mut raw::address_space,
        folio: *mut raw::folio,
    ) -> bool {
        // SAFETY: Per the contract. An fsdax page (dirtied when a DMA pin
        // into a DAX mapping is dropped) is not page cache: its dirtiness
        // lives in the DAX entry, as for ext4's and xfs's DAX aops.
        unsafe {
            if raw::r2dax_folio_is_zone_device(folio) {
                raw::r2dax_noop_dirty_folio(mapping, folio)
            } else {
                raw::iomap_dirty_folio(mapping, folio)
            }
        }
    }

    /// # Safety
    ///
    /// Called by `iomap_writepages` with the context it was given.
    unsafe extern "C" fn map_blocks(
        wpc: *mut raw::iomap_writepage_ctx,
        inode: *mut raw::inode,
        offset: raw::loff_t,
        _len: c_uint,
    ) -> c_int {
        // SAFETY: Per the contract. `iomap_writepages` keeps `wpc->iomap`
        // from one call to the next, for a whole writeback pass; the folio
        // at `offset` is locked and under writeback. A punch, truncate or
        // trim that freed blocks since the mapping was made (they may
        // belong to another file by now) has moved the map generation on,
        // so the cached mapping is used only while its cookie is current
        // (as xfs's `xfs_imap_valid`). The generation moves before any
        // pointer is cleared, and a folio dirtied over a new block after a
        // punch is created after the punch returned, so its check sees the
        // new generation.
        unsafe {
            let m = &(*wpc).iomap;
            if m.type_ == raw::IOMAP_MAPPED as u16
                && offset >= m.offset
                && (offset as u64) < m.offset as u64 + m.length
                && T::mapping_valid(INode::<T>::from_raw(inode), m.validity_cookie)
            {
                return 0;
            }
            let r = Self::iomap_begin(
                inode,
                offset,
                1 << 30,
                0,
                core::ptr::addr_of_mut!((*wpc).iomap),
                core::ptr::null_mut(),
            );
            if r == 0 && (*wpc).iomap.type_ != raw::IOMAP_MAPPED as u16 {
                // Blocks are allocated when data is written (or a page is
                // made writable), so a dirty page over a hole is a bug.
                return EIO.to_errno();
            }
            r
        }
    }

    /// Slab constructor of the inode cache: runs once per object.
    ///
    /// # Safety
    ///
    /// Called by the slab allocator with an object of the cache.
    pub(super) unsafe extern "C" fn inode_init_once(obj: *mut c_void) {
        let outer = obj.cast::<InodeWithData<T>>();
        // SAFETY: `obj` is an object of our cache, so an `InodeWithData<T>`;
        // the mode lock is initialised once here and is unlocked whenever
        // the object is free.
        unsafe {
            raw::inode_init_once((*outer).inode.get());
            raw::r2dax_mode_lock_init((*outer).layer.mode_lock.get());
        }
    }

    /// # Safety
    ///
    /// Called by the VFS with a live superblock of ours.
    unsafe extern "C" fn alloc_inode(sb: *mut raw::super_block) -> *mut raw::inode {
        // SAFETY: `sb` is a live superblock of `T`.
        let cache = unsafe { FsType::<T>::cache_of(sb) };
        // SAFETY: The cache's objects are `InodeWithData<T>`.
        let outer = unsafe { raw::r2dax_alloc_inode_sb(sb, cache) }.cast::<InodeWithData<T>>();
        if outer.is_null() {
            return core::ptr::null_mut();
        }
        // SAFETY: `outer` is a fresh object of ours; its data slot is
        // uninitialised and stays in place (slab objects do not move).
        unsafe {
            let slot = core::ptr::addr_of_mut!((*outer).data).cast::<T::InodeData>();
            if T::init_inode_data().__pinned_init(slot).is_err() {
                raw::kmem_cache_free(cache, outer.cast());
                return core::ptr::null_mut();
            }
            // A new inode has no VMAs (a freed one had none left either).
            (*outer)
                .layer
                .mmaps
                .store(0, core::sync::atomic::Ordering::Relaxed);
            (*outer)
                .layer
                .collapsible
                .store(0, core::sync::atomic::Ordering::Relaxed);
            (*outer)
                .cache
                .store(cache, core::sync::atomic::Ordering::Relaxed);
            // INVARIANT: the data is initialised until `free_inode`.
            (*outer).inode.get()
        }
    }

    /// # Safety
    ///
    /// Called by the VFS (from an RCU callback) for an inode that
    /// `alloc_inode` returned, once nothing references it any more.
    unsafe extern "C" fn free_inode(inode: *mut raw::inode) {
        // SAFETY: The inode is embedded in an `InodeWithData<T>` of the cache
        // `alloc_inode` recorded in it; its data is initialised and dropped
        // only here. The superblock is not touched: this runs after an RCU
        // grace period, when it may be gone (the cache itself outlives
        // every callback: `Registration` waits for them with `rcu_barrier`
        // before destroying it).
        unsafe {
            let outer = inode
                .cast::<u8>()
                .sub(core::mem::offset_of!(InodeWithData<T>, inode))
                .cast::<InodeWithData<T>>();
            core::ptr::drop_in_place(core::ptr::addr_of_mut!((*outer).data).cast::<T::InodeData>());
            let cache = (*outer).cache.load(core::sync::atomic::Ordering::Relaxed);
            raw::kmem_cache_free(cache, outer.cast());
        }
    }

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
        let inode = match T::lookup(dir, name) {
            Ok(Some(i)) => ARef::into_raw(i).as_ptr().cast::<raw::inode>(),
            Ok(None) => core::ptr::null_mut(),
            Err(e) => return err_ptr(e),
        };
        // SAFETY: `d_splice_alias` takes over the inode reference (or null
        // for a negative entry).
        unsafe { raw::d_splice_alias(inode, dentry) }
    }

    /// # Safety
    ///
    /// Called by the VFS for an open directory of ours with the directory
    /// lock held shared.
    unsafe extern "C" fn iterate_shared(file: *mut raw::file, ctx: *mut raw::dir_context) -> c_int {
        from_result(|| {
            // SAFETY: An open file of ours has a live inode of ours.
            let dir = unsafe { INode::<T>::from_raw(raw::r2dax_file_inode(file)) };
            // INVARIANT: `file` and `ctx` are this call's arguments.
            let mut emitter = DirEmitter {
                file,
                ctx,
                _p: PhantomData,
            };
            T::readdir(dir, &mut emitter)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by iomap for an inode of ours with a valid `iomap` to fill.
    unsafe extern "C" fn iomap_begin(
        inode: *mut raw::inode,
        pos: raw::loff_t,
        length: raw::loff_t,
        flags: c_uint,
        iomap: *mut raw::iomap,
        _srcmap: *mut raw::iomap,
    ) -> c_int {
        from_result(|| {
            // SAFETY: iomap passes a live inode of ours.
            let i = unsafe { INode::<T>::from_raw(inode) };
            let pos = u64::try_from(pos).map_err(|_| EINVAL)?;
            let len = u64::try_from(length).map_err(|_| EINVAL)?;
            let m = T::iomap_begin(i, pos, len, flags)?;
            // SAFETY: `iomap` is valid for writes; the block device of a
            // mounted superblock is live.
            unsafe {
                (*iomap).offset = m.offset as _;
                (*iomap).length = m.length;
                (*iomap).flags = 0;
                (*iomap).validity_cookie = m.cookie;
                (*iomap).bdev = (*(*inode).i_sb).s_bdev;
                (*iomap).dax_dev = core::ptr::null_mut();
                match m.kind {
                    MapKind::Hole => {
                        (*iomap).type_ = raw::IOMAP_HOLE as u16;
                        (*iomap).addr = raw::IOMAP_NULL_ADDR as u64;
                    }
                    MapKind::Mapped(addr) => {
                        (*iomap).type_ = raw::IOMAP_MAPPED as u16;
                        (*iomap).addr = addr;
                    }
                    MapKind::Unwritten(addr) => {
                        (*iomap).type_ = raw::IOMAP_UNWRITTEN as u16;
                        (*iomap).addr = addr;
                    }
                }
                // A DAX access addresses the DAX device, which starts at
                // the partition's offset.
                if flags & raw::IOMAP_DAX != 0 {
                    if let Some(dev) = i.sb().dax_device() {
                        (*iomap).dax_dev = dev.as_raw();
                        if let MapKind::Mapped(_) | MapKind::Unwritten(_) = m.kind {
                            (*iomap).addr += dev.part_off();
                        }
                    }
                }
                if m.new {
                    (*iomap).flags |= raw::IOMAP_F_NEW as u16;
                }
                if m.dirty {
                    (*iomap).flags |= raw::IOMAP_F_DIRTY as u16;
                }
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the page cache with a locked folio of one of our files.
    unsafe extern "C" fn read_folio(_file: *mut raw::file, folio: *mut raw::folio) -> c_int {
        // SAFETY: Forwarded as is; `IOMAP_OPS` is promoted to a `'static`.
        unsafe { raw::iomap_read_folio(folio, &Self::IOMAP_OPS) }
    }

    /// # Safety
    ///
    /// Called by the page cache with a readahead control of one of our files.
    unsafe extern "C" fn readahead(rac: *mut raw::readahead_control) {
        // SAFETY: Forwarded as is; `IOMAP_OPS` is promoted to a `'static`.
        unsafe { raw::iomap_readahead(rac, &Self::IOMAP_OPS) }
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
