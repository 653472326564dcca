// SPDX-License-Identifier: GPL-2.0
//! Filesystem types: the [`FileSystem`] trait, the `file_system_type`, and
//! its registration together with the inode cache.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h)
//!
//! [`FsType::new`] builds the `struct file_system_type` for `T` in a
//! `static` (it embeds lockdep class keys, which lockdep only accepts in
//! static memory). [`Registration`] creates the inode cache and registers
//! the type for as long as the module is loaded. The C operation tables
//! ([`Tables`]) are built from `T`, one file per C object: `fs_context.rs`,
//! `super_ops.rs`, `inode_ops.rs`, `file_ops.rs`, `vm_ops.rs`, `aops.rs`,
//! `iomap_ops.rs`, `xattr.rs` and `export.rs`.

use super::export::ExportOperations;
use super::file_ops::{DirOperations, FileOperations};
use super::inode_ops::{DirInodeOperations, InodeOperations};
use super::iomap_ops::IomapOperations;
use super::options::{ParamError, ParamValue};
use super::raw;
use super::sb::{New, Root, SuperBlock};
use super::super_ops::SuperOperations;
use super::vfs_inode::InodeWithData;
use super::xattr::XattrOperations;
use core::ffi::c_int;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::error::code::ENOMEM;
use kernel::error::to_result;
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::Opaque;
use kernel::ThisModule;

/// The C operation tables and callbacks for `T`.
///
/// Each table is a `const` built from `T`; taking its address promotes it
/// to a `'static`. Each callback converts its raw arguments into the
/// layer's types (stating why that is valid), calls the trait method, and
/// turns the `Result` back into the C convention. The tables and their
/// callbacks are spread over one file per C object (see the module
/// documentation).
pub(crate) struct Tables<T: Operations>(PhantomData<T>);

/// A filesystem type: its name, its data, mounting and remounting.
///
/// The operations on its objects are separate traits, one per C
/// operation table, with default methods for what a filesystem may leave
/// out: [`SuperOperations`], [`InodeOperations`], [`DirInodeOperations`],
/// [`FileOperations`], [`DirOperations`], [`IomapOperations`],
/// [`XattrOperations`] and [`ExportOperations`]. [`Operations`] names
/// them together.
pub(crate) trait FileSystem: Sized + Send + Sync + 'static {
    /// Name of the type, as in `mount -t NAME` and `/proc/filesystems`.
    const NAME: &'static CStr;

    /// Per-superblock data, owned by the superblock (`s_fs_info`).
    type Info: Send + Sync;

    /// Per-inode data, kept beside each `struct inode`.
    type InodeData: Send + Sync;

    /// The options of one mount or remount request, starting from their
    /// `Default` (see [`super::options`]).
    type Options: Default + Send;

    /// Takes one `-o` option `key` (with its value) into `opts`.
    fn parse_param(
        opts: &mut Self::Options,
        key: &[u8],
        value: ParamValue<'_>,
    ) -> core::result::Result<(), ParamError>;

    /// Initialises the per-inode data of a newly allocated inode.
    fn init_inode_data() -> impl PinInit<Self::InodeData, Error>;

    /// Reads and validates the on-disk superblock of a new mount; returns
    /// the initialiser of the per-superblock data (which may hold locks,
    /// so it is initialised in place). `dax_capable` says whether the
    /// block device has a DAX device, which the superblock then keeps
    /// until unmount ([`SuperBlock::dax_device`]).
    fn fill_super(
        sb: &SuperBlock<Self, New>,
        opts: &Self::Options,
        dax_capable: bool,
    ) -> Result<impl PinInit<Self::Info, Error>>;

    /// Builds the root dentry once [`FileSystem::fill_super`] succeeded.
    fn init_root(sb: &SuperBlock<Self>) -> Result<Root>;

    /// Checks and applies a remount request (`new_read_only` is the
    /// requested mode, `opts` the options given with it).
    fn reconfigure(sb: &SuperBlock<Self>, new_read_only: bool, opts: &Self::Options) -> Result;

    /// What device block `block` of the filesystem holds, for a report
    /// of poisoned memory ([`super::poison`]). Default: not known.
    fn block_owner(_sb: &SuperBlock<Self>, _block: u64) -> Result<super::poison::BlockOwner> {
        Ok(super::poison::BlockOwner::Unknown)
    }
}

/// Every operation trait of a filesystem: what the layer's tables
/// ([`Tables`]) are built from. Implemented for every type that
/// implements them all.
pub(crate) trait Operations:
    SuperOperations
    + InodeOperations
    + DirInodeOperations
    + FileOperations
    + DirOperations
    + IomapOperations
    + XattrOperations
    + ExportOperations
{
}

impl<T> Operations for T where
    T: SuperOperations
        + InodeOperations
        + DirInodeOperations
        + FileOperations
        + DirOperations
        + IomapOperations
        + XattrOperations
        + ExportOperations
{
}

/// A `struct file_system_type` for `T` and its inode cache, meant to live
/// in a `static`.
///
/// # Invariants
///
/// `fs` is fully initialised with `T`'s name and callbacks; after
/// [`Registration::register`] only the VFS changes it. `cache` is the inode
/// cache of `T` while registered.
#[repr(C)]
pub(crate) struct FsType<T: Operations> {
    fs: Opaque<raw::file_system_type>,
    cache: AtomicPtr<raw::kmem_cache>,
    _p: PhantomData<T>,
}

// SAFETY: `fs` is only written before registration (by `register`, once, in
// module init) and afterwards only by the VFS under its own locks; `cache`
// is atomic.
unsafe impl<T: Operations> Sync for FsType<T> {}

impl<T: Operations> FsType<T> {
    /// The file system type of `T`; place it in a `static`.
    pub(crate) const fn new() -> Self {
        // INVARIANT: every field the VFS reads is set below or zero.
        Self {
            fs: Opaque::new(raw::file_system_type {
                name: T::NAME.as_char_ptr(),
                fs_flags: raw::FS_REQUIRES_DEV as c_int,
                init_fs_context: Some(Tables::<T>::init_fs_context),
                kill_sb: Some(Tables::<T>::kill_sb),
                // SAFETY: All-zero is valid for the remaining fields: null
                // pointers, `None` callbacks, empty lists and lockdep keys
                // (which lockdep initialises on registration).
                ..unsafe { core::mem::zeroed() }
            }),
            cache: AtomicPtr::new(core::ptr::null_mut()),
            _p: PhantomData,
        }
    }

    /// The inode cache of the type of superblock `sb`.
    ///
    /// # Safety
    ///
    /// `sb` must be a live superblock of type `T`.
    pub(super) unsafe fn cache_of(sb: *mut raw::super_block) -> *mut raw::kmem_cache {
        // SAFETY: `s_type` of a superblock of `T` is `&FsType<T>.fs`, the
        // first field of the `repr(C)` struct.
        let this = unsafe { &*(*sb).s_type.cast::<Self>() };
        this.cache.load(Ordering::Acquire)
    }
}

/// A registered filesystem type; unregistered on drop.
pub(crate) struct Registration<T: Operations> {
    fs: &'static FsType<T>,
}

impl<T: Operations> Registration<T> {
    /// Creates the inode cache and registers `fs`, owned by `module`.
    pub(crate) fn register(fs: &'static FsType<T>, module: &'static ThisModule) -> Result<Self> {
        let size = u32::try_from(core::mem::size_of::<InodeWithData<T>>()).map_err(|_| ENOMEM)?;
        let align = u32::try_from(core::mem::align_of::<InodeWithData<T>>()).map_err(|_| ENOMEM)?;
        // SAFETY: The name is a static C string; the constructor matches
        // the object type of the cache.
        let cache = unsafe {
            raw::r2dax_kmem_cache_create(
                kernel::c_str!("r2dax_inode_cache").as_char_ptr(),
                size,
                align,
                Some(Tables::<T>::inode_init_once),
            )
        };
        if cache.is_null() {
            return Err(ENOMEM);
        }
        fs.cache.store(cache, Ordering::Release);
        let ptr = fs.fs.get();
        // SAFETY: `ptr` is valid (it is in a static) and not yet registered,
        // so nothing else accesses it; `register_filesystem` publishes it.
        let res = to_result(unsafe {
            (*ptr).owner = module.as_ptr();
            raw::register_filesystem(ptr)
        });
        if let Err(e) = res {
            fs.cache.store(core::ptr::null_mut(), Ordering::Release);
            // SAFETY: No inode was ever allocated from the new cache.
            unsafe { raw::kmem_cache_destroy(cache) };
            return Err(e);
        }
        Ok(Self { fs })
    }
}

impl<T: Operations> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: `self.fs` was registered by `register`. Unregistering while
        // mounted is impossible: every superblock holds a module reference.
        unsafe { raw::unregister_filesystem(self.fs.fs.get()) };
        let cache = self.fs.cache.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: No superblock is left, so no inode either once the RCU
        // callbacks that free them (`free_inode`) have run.
        unsafe {
            raw::rcu_barrier();
            raw::kmem_cache_destroy(cache);
        }
    }
}
