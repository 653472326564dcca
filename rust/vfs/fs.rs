// SPDX-License-Identifier: GPL-2.0
//! Filesystem types: registration with the VFS and the mount path.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h)
//!
//! A filesystem implements [`FileSystem`]; [`FsType::new`] builds the
//! `struct file_system_type` for it in a `static` (it embeds lockdep class
//! keys, which lockdep only accepts in static memory), and [`Registration`]
//! registers it for as long as the module is loaded.
//!
//! Mounting uses the `fs_context` API: `init_fs_context` installs
//! [`Tables::CONTEXT_OPS`], whose `get_tree` calls `get_tree_bdev`, which
//! opens the block device, finds or allocates the superblock and calls
//! [`FileSystem::fill_super`] then [`FileSystem::init_root`].

use super::raw;
use super::sb::{New, Root, SuperBlock};
use core::ffi::c_int;
use core::marker::PhantomData;
use kernel::error::{from_result, to_result};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::Opaque;
use kernel::ThisModule;

/// A filesystem type.
pub(crate) trait FileSystem: Sized + Send + Sync + 'static {
    /// Name of the type, as in `mount -t NAME` and `/proc/filesystems`.
    const NAME: &'static CStr;

    /// Per-superblock data, owned by the superblock (`s_fs_info`).
    type Info: Send + Sync;

    /// Reads and validates the on-disk superblock of a new mount.
    fn fill_super(sb: &SuperBlock<Self, New>) -> Result<Self::Info>;

    /// Builds the root dentry once [`FileSystem::fill_super`] succeeded.
    fn init_root(sb: &SuperBlock<Self>) -> Result<Root>;

    /// Checks a remount request (`new_read_only` is the requested mode).
    fn reconfigure(sb: &SuperBlock<Self>, new_read_only: bool) -> Result;

    /// Reports space and inode usage for `statfs(2)`.
    fn statfs(sb: &SuperBlock<Self>) -> Result<Stat>;
}

/// Filesystem statistics, in blocks of the superblock's block size.
pub(crate) struct Stat {
    /// Magic number (`f_type`).
    pub(crate) magic: u32,
    /// Block size in bytes.
    pub(crate) block_size: u32,
    /// Total data blocks.
    pub(crate) blocks: u64,
    /// Free blocks.
    pub(crate) free_blocks: u64,
    /// Free blocks available to unprivileged users.
    pub(crate) avail_blocks: u64,
    /// Total inodes.
    pub(crate) files: u64,
    /// Free inodes.
    pub(crate) free_files: u64,
    /// Longest file name.
    pub(crate) name_len: u32,
    /// Filesystem id (`f_fsid`), e.g. folded from the UUID.
    pub(crate) fsid: u64,
}

/// A `struct file_system_type` for `T`, meant to live in a `static`.
///
/// # Invariants
///
/// The wrapped structure is fully initialised with `T`'s name and
/// callbacks; after [`Registration::register`] only the VFS changes it.
#[repr(transparent)]
pub(crate) struct FsType<T: FileSystem>(Opaque<raw::file_system_type>, PhantomData<T>);

// SAFETY: The structure is only written before registration (by
// `Registration::register`, which runs once in module init) and afterwards
// only by the VFS under its own locks (`file_systems_lock`, `sb_lock`).
unsafe impl<T: FileSystem> Sync for FsType<T> {}

impl<T: FileSystem> FsType<T> {
    /// The file system type of `T`; place it in a `static`.
    pub(crate) const fn new() -> Self {
        // INVARIANT: every field the VFS reads is set below or zero.
        Self(
            Opaque::new(raw::file_system_type {
                name: T::NAME.as_char_ptr(),
                fs_flags: raw::FS_REQUIRES_DEV as c_int,
                init_fs_context: Some(Tables::<T>::init_fs_context),
                kill_sb: Some(Tables::<T>::kill_sb),
                // SAFETY: All-zero is valid for the remaining fields: null
                // pointers, `None` callbacks, empty lists and lockdep keys
                // (which lockdep initialises on registration).
                ..unsafe { core::mem::zeroed() }
            }),
            PhantomData,
        )
    }
}

/// A registered filesystem type; unregistered on drop.
pub(crate) struct Registration<T: FileSystem> {
    fs: &'static FsType<T>,
}

impl<T: FileSystem> Registration<T> {
    /// Registers `fs`, owned by `module`.
    pub(crate) fn register(fs: &'static FsType<T>, module: &'static ThisModule) -> Result<Self> {
        let ptr = fs.0.get();
        // SAFETY: `ptr` is valid (it is in a static) and not yet registered,
        // so nothing else accesses it; `register_filesystem` makes it visible.
        to_result(unsafe {
            (*ptr).owner = module.as_ptr();
            raw::register_filesystem(ptr)
        })?;
        Ok(Self { fs })
    }
}

impl<T: FileSystem> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: `self.fs` was registered by `register`. Unregistering while
        // mounted is impossible: every superblock holds a module reference.
        unsafe { raw::unregister_filesystem(self.fs.0.get()) };
    }
}

/// The C operation tables and callbacks for `T`.
pub(crate) struct Tables<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    const CONTEXT_OPS: raw::fs_context_operations = raw::fs_context_operations {
        get_tree: Some(Self::get_tree),
        reconfigure: Some(Self::reconfigure),
        free: None,
        dup: None,
        parse_param: None,
        parse_monolithic: None,
    };

    const SUPER_OPS: raw::super_operations = raw::super_operations {
        statfs: Some(Self::statfs),
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by the VFS with a valid, exclusively owned `fc`.
    unsafe extern "C" fn init_fs_context(fc: *mut kernel::bindings::fs_context) -> c_int {
        let fc = fc.cast::<raw::fs_context>();
        // SAFETY: `fc` is valid per the function contract, and the kernel's
        // opaque `fs_context` is the same C object as the local definition.
        // `CONTEXT_OPS` is promoted to a `'static`.
        unsafe { (*fc).ops = &Self::CONTEXT_OPS };
        0
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
    unsafe extern "C" fn fill_super(sb: *mut raw::super_block, _fc: *mut raw::fs_context) -> c_int {
        from_result(|| {
            // SAFETY: The superblock is valid and new per the contract.
            let new = unsafe { SuperBlock::<T, New>::from_raw(sb) };
            new.init_common(&Self::SUPER_OPS);
            let info = KBox::new(T::fill_super(new)?, GFP_KERNEL)?;
            // SAFETY: `s_fs_info` is null and ours to set; `kill_sb` frees it
            // whether or not the rest of the mount succeeds.
            unsafe { (*sb).s_fs_info = KBox::into_raw(info).cast() };
            // SAFETY: `s_fs_info` now holds a `T::Info`, so the superblock is
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
            // mounted superblock, which is fully set up (ready).
            let (sb, flags) = unsafe {
                let sb = (*(*fc).root).d_sb;
                (SuperBlock::<T>::from_raw(sb), (*fc).sb_flags)
            };
            T::reconfigure(sb, u64::from(flags) & raw::SB_RDONLY as u64 != 0)?;
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
            // SAFETY: `buf` is valid for writes per the function contract.
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
    unsafe extern "C" fn kill_sb(sb: *mut raw::super_block) {
        // SAFETY: `sb` is a block-device superblock of ours.
        unsafe { raw::kill_block_super(sb) };
        // SAFETY: `s_fs_info` is null or the `KBox<T::Info>` stored by
        // `fill_super`; nothing uses it after `kill_block_super`.
        unsafe {
            let info = (*sb).s_fs_info.cast::<T::Info>();
            if !info.is_null() {
                drop(KBox::from_raw(info));
            }
        }
    }
}
