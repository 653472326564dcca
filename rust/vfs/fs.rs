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
//! `super_ops.rs`, `inode_ops.rs`, `file_ops.rs`, `vm_ops.rs`, `aops.rs`
//! and `iomap_ops.rs`.

use super::inode::{INode, Idmap, InodeWithData, NewInode};
use super::lock::{Excl, InodeLocked, Quiesced};
use super::options::{OptionWriter, ParamError, ParamValue};
use super::raw;
use super::sb::{New, Root, SuperBlock};
use core::ffi::c_int;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::error::code::ENOMEM;
use kernel::error::to_result;
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::{ARef, Opaque};
use kernel::ThisModule;

/// The C operation tables and callbacks for `T`.
///
/// Each table is a `const` built from `T`; taking its address promotes it
/// to a `'static`. Each callback converts its raw arguments into the
/// layer's types (stating why that is valid), calls the trait method, and
/// turns the `Result` back into the C convention. The tables and their
/// callbacks are spread over one file per C object (see the module
/// documentation).
pub(crate) struct Tables<T: FileSystem>(PhantomData<T>);

/// A filesystem type.
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

    /// Appends the superblock's options to its /proc/mounts line.
    fn show_options(sb: &SuperBlock<Self>, out: &mut OptionWriter<'_>);

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

    /// Reports space and inode usage for `statfs(2)`.
    fn statfs(sb: &SuperBlock<Self>) -> Result<Stat>;

    /// Looks `name` up in directory `dir`: `None` if it does not exist.
    fn lookup(dir: &INode<Self>, name: &[u8]) -> Result<Option<ARef<INode<Self>>>>;

    /// Emits the entries of `dir` from the emitter's position on.
    fn readdir(dir: &INode<Self>, emitter: &mut DirEmitter<'_>) -> Result;

    /// Maps the file range starting at byte `pos` (at most `len` bytes) of
    /// a regular file or symlink to the device (`->iomap_begin`).
    fn iomap_begin(inode: &INode<Self>, pos: u64, len: u64, flags: u32) -> Result<Mapping>;

    /// Whether a [`Mapping`] with `cookie` still describes the file: no
    /// block it could name has been unmapped (punched, truncated, trimmed)
    /// since it was made. Asked by writeback before it reuses a mapping
    /// for another folio, with that folio locked.
    fn mapping_valid(inode: &INode<Self>, cookie: u64) -> bool;

    /// Writes the inode back (`sync`: wait until it is on the media).
    fn write_inode(inode: &INode<Self>, sync: bool) -> Result;

    /// The inode leaves memory: free it on disk if it has no links left.
    /// Called after its page cache is gone and before `clear_inode`; no
    /// lock is held, and none is needed: nothing else references the inode.
    fn evict_inode(inode: &Quiesced<'_, Self>);

    /// Writes the superblock state back (`sync_fs`).
    fn sync_fs(sb: &SuperBlock<Self>, wait: bool) -> Result;

    /// The last step of unmounting (`put_super`).
    fn put_super(sb: &SuperBlock<Self>);

    /// Changes the size of a regular file (`truncate`), quiesced: the
    /// inode lock and the invalidate lock are held exclusively and direct
    /// I/O is drained, so no I/O or page fault runs meanwhile; DAX pages
    /// beyond the new size are unmapped and unpinned.
    fn setattr_size(inode: &Quiesced<'_, Self>, size: u64) -> Result;

    /// Makes the inode durable after its data was written back (`fsync`).
    fn fsync(inode: &INode<Self>, datasync: bool) -> Result;

    /// `fallocate(2)` on a regular file, quiesced (as for
    /// [`FileSystem::setattr_size`]); for a punch or a zeroing, the DAX
    /// pages of the range are unmapped and unpinned.
    fn fallocate(inode: &Quiesced<'_, Self>, mode: u32, offset: u64, len: u64) -> Result;

    /// Whether closing a descriptor of the regular file `inode` that was
    /// opened for writing has work for [`FileSystem::release`]; asked
    /// without the layer's locks, so closes without work take none.
    fn wants_release(inode: &INode<Self>) -> bool;

    /// The last reference to a descriptor of a regular file opened for
    /// writing is gone (`->release`); the file is quiesced. An error is
    /// logged; `close(2)` has returned already.
    fn release(inode: &Quiesced<'_, Self>) -> Result;

    /// A write is about to start at byte `pos`, beyond the end of the
    /// regular file `inode`; the old last block has been zeroed past the
    /// size. Asked only when [`FileSystem::wants_release`] says there is
    /// state beyond the size (what a release gives back is what a write
    /// past the end must not turn into file data), with the file quiesced.
    fn write_past_eof(inode: &Quiesced<'_, Self>, pos: u64) -> Result;

    /// The inode's `FS_*_FL` flags (`FS_IOC_GETFLAGS`, `FS_IOC_FSGETXATTR`).
    fn get_flags(inode: &INode<Self>) -> u32;

    /// A private ioctl that returns data (`_IOR`): the bytes to copy to
    /// user space, exactly `_IOC_SIZE(cmd)` of them. `ENOTTY` for an
    /// unknown command.
    fn ioctl_read(inode: &INode<Self>, cmd: u32) -> Result<KVec<u8>>;

    /// Sets the inode's `FS_*_FL` flags. The VFS has checked ownership and
    /// `CAP_LINUX_IMMUTABLE` and holds the inode lock; `fsx_only` says the
    /// request came through `FS_IOC_FSSETXATTR` with fields that have no
    /// `FS_*_FL` equivalent.
    fn set_flags(inode: &InodeLocked<'_, Self, Excl>, flags: u32, fsx_only: bool) -> Result;

    /// Creates `name` in `dir`: a file, directory, device node, FIFO or
    /// socket by `mode` (`rdev` for devices), or a symlink to `target`.
    /// Returns the new inode, still `I_NEW`; the layer publishes it with
    /// the dentry.
    fn create(
        idmap: &Idmap,
        dir: &INode<Self>,
        name: &[u8],
        mode: u16,
        rdev: u32,
        target: Option<&[u8]>,
    ) -> Result<NewInode<Self>>;

    /// Adds the name `name` in `dir` for `inode` (a hard link).
    fn link(inode: &INode<Self>, dir: &INode<Self>, name: &[u8]) -> Result;

    /// Removes the name `name` of `inode` from `dir`.
    fn unlink(dir: &INode<Self>, name: &[u8], inode: &INode<Self>) -> Result;

    /// Removes the empty directory `inode`, named `name` in `dir`.
    fn rmdir(dir: &INode<Self>, name: &[u8], inode: &INode<Self>) -> Result;

    /// Renames (`flags`: `RENAME_NOREPLACE`, `RENAME_EXCHANGE`).
    #[allow(clippy::too_many_arguments)]
    fn rename(
        old_dir: &INode<Self>,
        old_name: &[u8],
        old: &INode<Self>,
        new_dir: &INode<Self>,
        new_name: &[u8],
        new: Option<&INode<Self>>,
        flags: u32,
    ) -> Result;
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

/// Where a file range lives, as `->iomap_begin` reports it.
pub(crate) struct Mapping {
    /// File offset of the start of the mapping, bytes.
    pub(crate) offset: u64,
    /// Length of the mapping, bytes.
    pub(crate) length: u64,
    /// What is there.
    pub(crate) kind: MapKind,
    /// The blocks were allocated (and zeroed) for this request
    /// (`IOMAP_F_NEW`): nothing needs to be read from them.
    pub(crate) new: bool,
    /// Metadata that fsync would write or flush is not durable yet
    /// (`IOMAP_F_DIRTY`): a write fault on a MAP_SYNC mapping then runs
    /// fsync before it maps the page.
    pub(crate) dirty: bool,
    /// The generation of the file's block map this mapping was read at
    /// (`iomap::validity_cookie`): a mapping kept across calls (writeback
    /// keeps one for a whole `->writepages`) is used again only while
    /// [`FileSystem::mapping_valid`] says the generation is current.
    pub(crate) cookie: u64,
}

/// `->iomap_begin` flag: the caller will write (allocate holes).
pub(crate) const IOMAP_WRITE: u32 = raw::IOMAP_WRITE;
/// `->iomap_begin` flag: the request comes from a page fault.
pub(crate) const IOMAP_FAULT: u32 = raw::IOMAP_FAULT;
/// `->iomap_begin` flag: zeroing a range (holes are skipped).
pub(crate) const IOMAP_ZERO: u32 = raw::IOMAP_ZERO;
/// `->iomap_begin` flag: reporting the layout (FIEMAP, SEEK_HOLE/DATA).
pub(crate) const IOMAP_REPORT: u32 = raw::IOMAP_REPORT;

/// What a [`Mapping`] covers.
pub(crate) enum MapKind {
    /// Nothing allocated: reads see zeros.
    Hole,
    /// Allocated, at this byte address on the device.
    Mapped(u64),
    /// Allocated and zeroed at this byte address, never written
    /// (`IOMAP_UNWRITTEN`): only for `IOMAP_REPORT` (FIEMAP, SEEK_HOLE
    /// and SEEK_DATA). Every other path gets such blocks as `Mapped`.
    Unwritten(u64),
}

/// Hands directory entries to `readdir(2)` (a `struct dir_context`).
///
/// # Invariants
///
/// `file` and `ctx` are the arguments of an `->iterate_shared` call in
/// progress.
pub(crate) struct DirEmitter<'a> {
    pub(super) file: *mut raw::file,
    pub(super) ctx: *mut raw::dir_context,
    pub(super) _p: PhantomData<&'a ()>,
}

impl DirEmitter<'_> {
    /// The position to continue from.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: `ctx` is valid during the call (type invariant).
        unsafe { (*self.ctx).pos }
    }

    /// Sets the position (of the next entry to emit, or the end).
    pub(crate) fn set_pos(&mut self, pos: i64) {
        // SAFETY: As above; the VFS holds the directory lock shared and owns
        // `ctx` exclusively for this call.
        unsafe { (*self.ctx).pos = pos };
    }

    /// Emits "." and ".." if the position is before them; moves the
    /// position to 2. Returns false if the caller's buffer is full.
    pub(crate) fn emit_dots(&mut self) -> bool {
        // SAFETY: `file` and `ctx` are valid during the call.
        unsafe { raw::r2dax_dir_emit_dots(self.file, self.ctx) }
    }

    /// Emits one entry at the current position. Returns false if the
    /// caller's buffer is full (the entry was not taken).
    pub(crate) fn emit(&mut self, name: &[u8], ino: u64, dtype: u8) -> bool {
        let Ok(len) = i32::try_from(name.len()) else {
            return false;
        };
        // SAFETY: `ctx` is valid; `name` is readable for `len` bytes.
        unsafe { raw::r2dax_dir_emit(self.ctx, name.as_ptr().cast(), len, ino, u32::from(dtype)) }
    }
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
pub(crate) struct FsType<T: FileSystem> {
    fs: Opaque<raw::file_system_type>,
    cache: AtomicPtr<raw::kmem_cache>,
    _p: PhantomData<T>,
}

// SAFETY: `fs` is only written before registration (by `register`, once, in
// module init) and afterwards only by the VFS under its own locks; `cache`
// is atomic.
unsafe impl<T: FileSystem> Sync for FsType<T> {}

impl<T: FileSystem> FsType<T> {
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
pub(crate) struct Registration<T: FileSystem> {
    fs: &'static FsType<T>,
}

impl<T: FileSystem> Registration<T> {
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

impl<T: FileSystem> Drop for Registration<T> {
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
