// SPDX-License-Identifier: GPL-2.0
//! Superblocks.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::buffer::{Buffer, DaxTarget};
use super::dax_device::DaxDevice;
use super::fs::FileSystem;
use super::orphan_list::Orphans;
use super::raw;
use super::sb_work::SbWork;
use super::vfs_inode::INode;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::error::code::{EINVAL, EIO, ENOMEM};
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::{ARef, Opaque};

/// Type state of a superblock that is still being filled (no `s_fs_info`).
pub(crate) struct New;
/// Type state of a superblock whose `s_fs_info` holds a `T::Info`.
pub(crate) struct Ready;

/// What the type states tell the buffer code: where a [`Buffer`] of the
/// superblock may be written directly ([`Buffer::sync`]). Only a `Ready`
/// superblock owns its DAX device, so buffers of a `New` one always go
/// through the block layer, and so do those of a superblock on a
/// device-mapper device ([`DaxDevice::meta_via_dax`]).
pub(crate) trait SbState {
    /// The DAX target of buffers read through `sb`.
    fn dax_target<T: FileSystem>(sb: &SuperBlock<T, Self>) -> Option<DaxTarget>
    where
        Self: Sized;

    /// The superblock's shutdown flag ([`SuperBlock::is_shut_down`]), if it
    /// has one yet (a `New` superblock cannot be shut down).
    fn shut_flag<T: FileSystem>(sb: &SuperBlock<T, Self>) -> Option<ShutFlag>
    where
        Self: Sized;
}

impl SbState for New {
    fn dax_target<T: FileSystem>(_sb: &SuperBlock<T, Self>) -> Option<DaxTarget> {
        None
    }

    fn shut_flag<T: FileSystem>(_sb: &SuperBlock<T, Self>) -> Option<ShutFlag> {
        None
    }
}

impl SbState for Ready {
    fn dax_target<T: FileSystem>(sb: &SuperBlock<T, Self>) -> Option<DaxTarget> {
        sb.dax_device()
            .filter(|d| d.meta_via_dax())
            .map(|d| DaxTarget {
                dev: d.as_non_null(),
                part_off: d.part_off(),
            })
    }

    fn shut_flag<T: FileSystem>(sb: &SuperBlock<T, Self>) -> Option<ShutFlag> {
        Some(ShutFlag(NonNull::from(&sb.sb_data().shut_down)))
    }
}

/// A pointer to a mounted superblock's shutdown flag, kept by its buffers.
///
/// # Invariants
///
/// Points into the `SbData` of a superblock that outlives every buffer
/// read through it (buffers live only inside operations on it).
#[derive(Clone, Copy)]
pub(crate) struct ShutFlag(NonNull<AtomicBool>);

impl ShutFlag {
    /// Whether the superblock is shut down.
    pub(super) fn is_set(self) -> bool {
        // SAFETY: Valid by the type invariant.
        unsafe { self.0.as_ref() }.load(Ordering::Acquire)
    }
}

// SAFETY: Only an atomic is read through it.
unsafe impl Send for ShutFlag {}
// SAFETY: As for `Send`.
unsafe impl Sync for ShutFlag {}

/// What `s_fs_info` points to: the layer's per-superblock state and the
/// filesystem's `T::Info`.
#[pin_data]
pub(super) struct SbData<T: FileSystem> {
    /// Inodes on the filesystem's orphan list.
    #[pin]
    pub(super) orphans: Orphans<T>,
    /// The block device's DAX device, if it has one.
    pub(super) dax: Option<DaxDevice>,
    /// The background work item (see [`super::sb_work`]).
    #[pin]
    pub(super) work: SbWork,
    /// Whether the filesystem is shut down ([`SuperBlock::shut_down`]).
    pub(super) shut_down: AtomicBool,
    /// Poisoned device blocks ([`super::poison`]).
    #[pin]
    pub(super) poison: super::poison::Poison,
    #[pin]
    pub(super) info: T::Info,
}

impl<T: FileSystem> SbData<T> {
    pub(super) fn new(
        info: impl PinInit<T::Info, Error>,
        dax: Option<DaxDevice>,
        work: impl PinInit<SbWork>,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(SbData::<T> {
            orphans <- Orphans::new(),
            dax,
            work <- work,
            shut_down: AtomicBool::new(false),
            poison <- super::poison::Poison::new(),
            info <- info,
        }? Error)
    }
}

/// A superblock of filesystem `T`.
///
/// # Invariants
///
/// The wrapped `super_block` belongs to filesystem type `T` and is alive
/// for the lifetime of the reference. In state [`Ready`], `s_fs_info`
/// points to a valid, pinned `SbData<T>` that lives as long as the
/// superblock.
#[repr(transparent)]
pub(crate) struct SuperBlock<T: FileSystem, S = Ready>(
    Opaque<raw::super_block>,
    PhantomData<(T, S)>,
);

impl<T: FileSystem, S: SbState> SuperBlock<T, S> {
    /// Wraps a raw superblock pointer.
    ///
    /// # Safety
    ///
    /// `sb` must be a live superblock of type `T` that outlives `'a` and,
    /// for `S = Ready`, have its `s_fs_info` set to an `SbData<T>`.
    pub(super) unsafe fn from_raw<'a>(sb: *mut raw::super_block) -> &'a Self {
        // SAFETY: `Self` is `repr(transparent)` over the C struct, and the
        // caller guarantees validity for `'a`.
        unsafe { &*sb.cast::<Self>() }
    }

    pub(super) fn as_raw(&self) -> *mut raw::super_block {
        self.0.get()
    }

    /// The block device (`s_bdev`), for iomap.
    pub(super) fn bdev(&self) -> *mut raw::block_device {
        // SAFETY: A block-device superblock's `s_bdev` is set before it is
        // filled and never changes while it is mounted.
        unsafe { (*self.as_raw()).s_bdev }
    }

    /// The device name (`s_id`), e.g. `pmem0`.
    pub(crate) fn id(&self) -> &CStr {
        // SAFETY: `s_id` is a NUL-terminated array set when the superblock
        // is created and never changed while it lives.
        unsafe { CStr::from_char_ptr((*self.as_raw()).s_id.as_ptr()) }
    }

    /// Size of the underlying block device in bytes.
    pub(crate) fn device_bytes(&self) -> u64 {
        // SAFETY: A block-device superblock has a valid, open `s_bdev`.
        let bytes = unsafe { raw::r2dax_bdev_nr_bytes((*self.as_raw()).s_bdev) };
        u64::try_from(bytes).unwrap_or(0)
    }

    /// `EIO` once the filesystem is shut down (see [`super::shutdown`]);
    /// a `New` superblock cannot be.
    pub(super) fn check_up(&self) -> Result {
        match S::shut_flag(self) {
            Some(f) if f.is_set() => Err(EIO),
            _ => Ok(()),
        }
    }

    /// Reads block `block` (of the superblock's block size) from the device.
    pub(crate) fn bread(&self, block: u64) -> Result<Buffer> {
        self.check_up()?;
        // SAFETY: The superblock is live and its block size is set.
        let bh = unsafe { raw::r2dax_sb_bread(self.as_raw(), block) };
        // SAFETY: `sb_bread` returns null or a referenced up-to-date buffer;
        // a `Ready` superblock keeps its DAX device until it is killed,
        // after every operation that could hold the buffer, and its
        // `SbData` (the shutdown flag) as long.
        unsafe { Buffer::from_raw(bh, S::dax_target(self), S::shut_flag(self)) }.ok_or(EIO)
    }

    /// A buffer for block `block` whose old contents do not matter: zeroed
    /// in memory and marked up to date without reading the device.
    pub(crate) fn getblk_zeroed(&self, block: u64) -> Result<Buffer> {
        self.check_up()?;
        // SAFETY: The superblock is live and its block size is set.
        let bh = unsafe { raw::r2dax_sb_getblk_zeroed(self.as_raw(), block) };
        // SAFETY: The helper returns null or a referenced up-to-date
        // buffer; the DAX target and the flag as in `bread`.
        unsafe { Buffer::from_raw(bh, S::dax_target(self), S::shut_flag(self)) }.ok_or(ENOMEM)
    }

    /// Writes zeros to `count` blocks from `block` on the device itself
    /// (not through the buffer cache) and waits for it; then drops clean
    /// cached copies of those blocks from the device's page cache.
    pub(crate) fn zero_blocks(&self, block: u64, count: u64) -> Result {
        self.check_up()?;
        if super::fault::hit(super::fault::FaultPoint::Zero) {
            return Err(kernel::error::code::EIO);
        }
        // SAFETY: The superblock is live, its block device open and its
        // block size set.
        let err = unsafe { raw::r2dax_sb_zeroout(self.as_raw(), block, count) };
        kernel::error::to_result(err)
    }

    /// Flushes the device's volatile write cache (`blkdev_issue_flush`):
    /// what was written before is durable afterwards.
    pub(crate) fn flush_device(&self) -> Result {
        self.check_up()?;
        // SAFETY: A block-device superblock has a valid, open `s_bdev`.
        kernel::error::to_result(unsafe { raw::r2dax_flush_device(self.as_raw()) })
    }

    /// Freeze protection for a metadata change the filesystem makes on its
    /// own (not on behalf of a write call), at the innermost freeze level
    /// (`sb_start_intwrite`, as xfs's EOF-block trimming): `None` while the
    /// filesystem is frozen or freezing, and the change must then be left
    /// for later. Taken inside the inode lock; dropped with the guard.
    pub(crate) fn try_start_intwrite(&self) -> Option<IntWrite> {
        // SAFETY: The superblock is live.
        if unsafe { raw::r2dax_sb_start_intwrite_trylock(self.as_raw()) } {
            Some(IntWrite(self.as_raw()))
        } else {
            None
        }
    }

    /// Whether the superblock is mounted read-only.
    pub(crate) fn read_only(&self) -> bool {
        // SAFETY: Reading the flags word of a live superblock.
        let flags = unsafe { (*self.as_raw()).s_flags };
        flags & raw::SB_RDONLY != 0
    }
}

impl<T: FileSystem> SuperBlock<T, New> {
    /// Installs the operations common to every r2dax superblock.
    pub(super) fn init_common(&self, ops: &'static raw::super_operations) {
        // SAFETY: The superblock is new and exclusively ours (`s_umount` is
        // held by the caller of `fill_super`).
        unsafe {
            let sb = self.as_raw();
            (*sb).s_op = ops;
            (*sb).s_time_gran = 1;
        }
    }

    /// Installs the extended-attribute handlers and turns POSIX ACLs on
    /// (`SB_POSIXACL`: permission checks consult ACLs, and the VFS leaves
    /// the umask of a new inode to [`super::vfs_inode::NewInode::acl_create`]).
    pub(crate) fn enable_xattrs(&self)
    where
        T: super::fs::Operations,
    {
        let handlers: &'static [*const raw::xattr_handler; 4] =
            &super::fs::Tables::<T>::XATTR_HANDLERS;
        // SAFETY: The superblock is new and exclusively ours; the table is
        // `'static`.
        unsafe { raw::r2dax_sb_set_xattr(self.as_raw(), handlers.as_ptr()) };
    }

    /// Makes the filesystem exportable (NFS, `open_by_handle_at`) through
    /// [`super::export::ExportOperations`].
    pub(crate) fn enable_export(&self)
    where
        T: super::fs::Operations,
    {
        let ops: &'static raw::export_operations = &super::fs::Tables::<T>::EXPORT_OPS;
        // SAFETY: The superblock is new and exclusively ours; the table is
        // `'static`. The kernel crate declares `export_operations` opaque;
        // the layer's bindgen has the full type, the same C struct.
        unsafe {
            (*self.as_raw()).s_export_op =
                (ops as *const raw::export_operations).cast::<kernel::bindings::export_operations>()
        };
    }

    /// Sets the block size; fails if the device cannot do it.
    pub(crate) fn set_blocksize(&self, size: u32) -> Result {
        let size = i32::try_from(size).map_err(|_| EINVAL)?;
        // SAFETY: The superblock is new and its block device open.
        if unsafe { raw::sb_set_blocksize(self.as_raw(), size) } == 0 {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Sets the magic number reported by `statfs`.
    pub(crate) fn set_magic(&self, magic: u32) {
        // SAFETY: The superblock is new and exclusively ours.
        unsafe { (*self.as_raw()).s_magic = magic as _ };
    }

    /// Sets the largest file size (`s_maxbytes`).
    pub(crate) fn set_max_bytes(&self, max: u64) {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        // SAFETY: The superblock is new and exclusively ours.
        unsafe { (*self.as_raw()).s_maxbytes = max };
    }
}

impl<T: FileSystem> SuperBlock<T> {
    pub(super) fn sb_data(&self) -> &SbData<T> {
        // SAFETY: By the type invariant (state `Ready`), `s_fs_info` points
        // to an `SbData<T>` that lives as long as the superblock.
        unsafe { &*(*self.as_raw()).s_fs_info.cast::<SbData<T>>() }
    }

    /// The filesystem's per-superblock data.
    pub(crate) fn info(&self) -> &T::Info {
        &self.sb_data().info
    }

    /// The DAX device under the block device, if it has one.
    #[allow(dead_code)]
    pub(crate) fn dax_device(&self) -> Option<&DaxDevice> {
        self.sb_data().dax.as_ref()
    }

    /// The superblock's orphan list (see [`super::orphan_list`]).
    pub(crate) fn orphans(&self) -> &Orphans<T> {
        &self.sb_data().orphans
    }

    /// Makes the root dentry from the root directory's inode.
    pub(crate) fn root(&self, inode: ARef<INode<T>>) -> Result<Root> {
        let ptr = ARef::into_raw(inode).as_ptr().cast::<raw::inode>();
        // SAFETY: `d_make_root` consumes the inode reference, also when it
        // fails (returning null).
        let d = unsafe { raw::d_make_root(ptr) };
        NonNull::new(d).map(Root).ok_or(ENOMEM)
    }
}

/// A root dentry that has not been installed in a superblock yet.
///
/// # Invariants
///
/// Holds one reference to a valid root dentry.
pub(crate) struct Root(NonNull<raw::dentry>);

impl Root {
    /// Gives up ownership of the dentry reference.
    pub(super) fn into_raw(self) -> *mut raw::dentry {
        let ptr = self.0.as_ptr();
        core::mem::forget(self);
        ptr
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own one reference.
        unsafe { raw::dput(self.0.as_ptr()) };
    }
}

/// Held freeze protection (see [`SuperBlock::try_start_intwrite`]).
///
/// # Invariants
///
/// `self.0` is a live superblock on which this value holds one
/// `sb_start_intwrite`, released on drop; the guard lives inside the
/// operation that took it, which keeps the superblock alive.
pub(crate) struct IntWrite(*mut raw::super_block);

impl Drop for IntWrite {
    fn drop(&mut self) {
        // SAFETY: By the type invariant.
        unsafe { raw::r2dax_sb_end_intwrite(self.0) };
    }
}
