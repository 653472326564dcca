// SPDX-License-Identifier: GPL-2.0
//! Inodes, with the filesystem's per-inode data beside `struct inode`.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)
//!
//! Every inode of filesystem `T` is the `inode` field of an
//! [`InodeWithData<T>`] allocated from `T`'s inode cache (see
//! `fs::Tables::alloc_inode`). [`INode<T>`] is a reference to such an inode;
//! [`NewInode<T>`] is one that `iget_locked` just created (`I_NEW`), which
//! the filesystem fills in before [`NewInode::finish`] publishes it.

use super::fs::{FileSystem, Operations, Tables};
use super::lock::Exclusive;
use super::raw;
use super::sb::SuperBlock;
use core::marker::PhantomData;
use core::ptr::null;
use core::ptr::NonNull;
use kernel::error::code::{EINVAL, ENOMEM};
use kernel::prelude::*;
use kernel::types::{ARef, AlwaysRefCounted, Opaque};

/// The allocation unit of the inode cache.
///
/// # Invariants
///
/// `data` is initialised from the time `alloc_inode` returns until
/// `destroy_inode` drops it, which covers every moment the VFS can hand
/// the `inode` to r2dax outside RCU path walks (which read only the VFS's
/// fields and `link`).
#[repr(C)]
pub(crate) struct InodeWithData<T: FileSystem> {
    pub(super) data: core::mem::MaybeUninit<T::InodeData>,
    /// The layer's own per-inode state (DAX mode, see [`super::dax_mode`]).
    pub(super) layer: LayerInode,
    /// NUL-terminated target of an inline symlink; `i_link` points here.
    /// Written only while the inode is `I_NEW`.
    pub(super) link: Opaque<[u8; INLINE_LINK_MAX + 1]>,
    /// The slab cache the object came from, set by `alloc_inode`:
    /// `free_inode` runs as an RCU callback, possibly after the superblock
    /// (through which the cache is otherwise found) was freed.
    pub(super) cache: core::sync::atomic::AtomicPtr<raw::kmem_cache>,
    pub(super) inode: Opaque<raw::inode>,
}

impl<T: FileSystem> InodeWithData<T> {
    /// The allocation unit that embeds `inode` (`container_of`). Only
    /// address arithmetic: nothing is read.
    pub(super) fn outer(inode: *mut raw::inode) -> *mut Self {
        inode
            .cast::<u8>()
            .wrapping_sub(core::mem::offset_of!(Self, inode))
            .cast()
    }
}

/// The layer's per-inode state for DAX mode switching.
///
/// Lock order: `i_rwsem` → `invalidate_lock` → `mode_lock` → folio locks
/// and the filesystem's per-inode lock.
pub(crate) struct LayerInode {
    /// How many VMAs map this file, counted from `->mmap` and
    /// `vm_ops->open` to `vm_ops->close` (the argument is in
    /// Documentation/filesystems/r2dax/dax.rst, "Counting mappings").
    /// Incremented by `->mmap` under `invalidate_lock` (shared) and by
    /// `open` while another VMA of the file is counted; read by a mode
    /// switch under `invalidate_lock` (exclusive).
    pub(super) mmaps: core::sync::atomic::AtomicUsize,
    /// How many open files of this inode, opened without `FMODE_WRITE`,
    /// have had a page-cache mapping (marked once per `struct file` by
    /// `->mmap`, counted down by `->release`, which runs only once the
    /// last reference to the file is gone). khugepaged and
    /// `MADV_COLLAPSE` collapse only such files' mappings, and they read
    /// the range into the page cache holding nothing but a reference to
    /// the file, after the mapping itself may be gone; a switch to DAX
    /// waits for this count to be 0 (dax.rst, "Every way into the
    /// mapping"). Incremented under `invalidate_lock` shared; read by a
    /// switch under it exclusive. Only with `CONFIG_READ_ONLY_THP_FOR_FS`.
    pub(super) collapsible: core::sync::atomic::AtomicUsize,
    /// Taken shared by `->writepages` around its choice between DAX and
    /// page-cache writeback, and exclusively by a mode switch around the
    /// `S_DAX` store, so writeback never walks a mapping of the other kind.
    /// Initialised once per slab object (`inode_init_once`).
    pub(super) mode_lock: Opaque<raw::rw_semaphore>,
    /// Whether the file's last VMA going should run the superblock's
    /// background work ([`INode::mark_unmap_wanted`], `sb_work.rs`).
    pub(super) unmap_wanted: core::sync::atomic::AtomicBool,
}

/// Longest inline symlink target the layer can hold.
pub(crate) const INLINE_LINK_MAX: usize = 63;

/// A referenced inode of filesystem `T`.
///
/// # Invariants
///
/// The wrapped inode is the `inode` field of an [`InodeWithData<T>`] whose
/// data is initialised, and its reference count is positive while a
/// reference to this object exists.
#[repr(transparent)]
pub(crate) struct INode<T: FileSystem>(Opaque<raw::inode>, PhantomData<T>);

// SAFETY: The inode's reference count is atomic (ihold/iput), so references
// may be taken and dropped from any thread.
unsafe impl<T: FileSystem> AlwaysRefCounted for INode<T> {
    fn inc_ref(&self) {
        // SAFETY: By the type invariant the count is positive.
        unsafe { raw::ihold(self.0.get()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns one reference, given up here.
        unsafe { raw::iput(obj.as_ptr().cast()) };
    }
}

// SAFETY: Inode fields r2dax reads are stable or read with the VFS's own
// accessors (i_size_read), and `T::InodeData` is `Send + Sync`.
unsafe impl<T: FileSystem> Send for INode<T> {}
// SAFETY: Shared access only reads stable fields or uses the VFS's own
// accessors and locks; `T::InodeData` is `Sync`.
unsafe impl<T: FileSystem> Sync for INode<T> {}

impl<T: FileSystem> INode<T> {
    /// Wraps a raw inode of filesystem `T`.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live inode of `T` (from `T`'s inode cache, data
    /// initialised) that outlives `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut raw::inode) -> &'a Self {
        // SAFETY: `Self` is transparent over the C struct; validity is the
        // caller's promise.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(super) fn as_raw(&self) -> *mut raw::inode {
        self.0.get()
    }

    /// The inode number.
    pub(crate) fn ino(&self) -> u64 {
        // SAFETY: `i_ino` is set before the inode is published and never
        // changes afterwards.
        unsafe { (*self.as_raw()).i_ino as u64 }
    }

    /// The file size (`i_size_read`).
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: The inode is live; i_size_read handles concurrent writers.
        let s = unsafe { raw::r2dax_inode_size(self.as_raw()) };
        u64::try_from(s).unwrap_or(0)
    }

    /// The mode (type and permission bits).
    pub(crate) fn mode(&self) -> u16 {
        // SAFETY: Reading a field of a live inode; the type bits never
        // change and permission changes are atomic stores of a u16.
        unsafe { (*self.as_raw()).i_mode }
    }

    /// The attributes the VFS keeps (`blocks` is left 0: the filesystem
    /// keeps its own count).
    pub(crate) fn attrs(&self) -> Attrs {
        let inode = self.as_raw();
        let mut t = [0i64; 3];
        let mut ns = [0u32; 3];
        // SAFETY: The inode is live; the helper reads the times with the
        // VFS's accessors.
        unsafe { raw::r2dax_inode_get_times(inode, t.as_mut_ptr(), ns.as_mut_ptr()) };
        // SAFETY: The inode is live; `i_uid` is read with `i_uid_read`.
        let uid = unsafe { raw::r2dax_inode_uid(inode) };
        // SAFETY: The inode is live; `i_gid` is read with `i_gid_read`.
        let gid = unsafe { raw::r2dax_inode_gid(inode) };
        // SAFETY: The generation is set before the inode is published and
        // never changes afterwards.
        let generation = unsafe { (*inode).i_generation };
        Attrs {
            mode: self.mode(),
            nlink: self.nlink(),
            uid,
            gid,
            size: self.size(),
            blocks: 0,
            generation,
            atime: (t[0], ns[0]),
            mtime: (t[1], ns[1]),
            ctime: (t[2], ns[2]),
        }
    }

    /// The link count.
    pub(crate) fn nlink(&self) -> u32 {
        // SAFETY: Reading a field of a live inode.
        unsafe { raw::r2dax_inode_nlink(self.as_raw()) }
    }

    /// Marks the inode dirty, for writeback to write it
    /// (`mark_inode_dirty`).
    pub(crate) fn mark_dirty(&self) {
        // SAFETY: The inode is live.
        unsafe { raw::r2dax_mark_inode_dirty(self.as_raw()) };
    }

    /// Sets the number of 4 KiB blocks reported by stat.
    pub(crate) fn set_blocks(&self, blocks: u64) {
        // SAFETY: `i_blocks` is protected by `i_lock` in the VFS, but the
        // VFS itself only writes it through the filesystem; r2dax writes it
        // under its own per-inode lock.
        unsafe { (*self.as_raw()).i_blocks = (blocks << 3) as _ };
    }

    /// Sets the VFS flags (`S_IMMUTABLE`, `S_APPEND`, `S_SYNC`, `S_NOATIME`,
    /// `S_DIRSYNC`) that correspond to the `FS_*_FL` flags in `fs_flags`.
    pub(crate) fn apply_flags(&self, fs_flags: u32) {
        let map = [
            (raw::FS_SYNC_FL, raw::S_SYNC),
            (raw::FS_IMMUTABLE_FL, raw::S_IMMUTABLE),
            (raw::FS_APPEND_FL, raw::S_APPEND),
            (raw::FS_NOATIME_FL, raw::S_NOATIME),
            (raw::FS_DIRSYNC_FL, raw::S_DIRSYNC),
        ];
        let mut set = 0;
        let mut mask = 0;
        for (fs, s) in map {
            mask |= s;
            if fs_flags & fs != 0 {
                set |= s;
            }
        }
        // SAFETY: The inode is live; `inode_set_flags` updates `i_flags`
        // atomically for the bits in `mask`.
        unsafe { raw::inode_set_flags(self.as_raw(), set, mask) };
    }

    /// Whether the VFS marked the inode bad (after a failed read).
    pub(crate) fn is_bad(&self) -> bool {
        // SAFETY: The inode is live.
        unsafe { raw::r2dax_is_bad_inode(self.as_raw()) }
    }

    /// The superblock.
    pub(crate) fn sb(&self) -> &SuperBlock<T> {
        // SAFETY: An inode of `T` belongs to a fully set up superblock of
        // `T` that outlives it.
        unsafe { SuperBlock::from_raw((*self.as_raw()).i_sb) }
    }

    /// The filesystem's data for this inode.
    pub(crate) fn data(&self) -> &T::InodeData {
        let outer = InodeWithData::<T>::outer(self.as_raw());
        // SAFETY: By the type invariant the inode is embedded in an
        // `InodeWithData<T>` whose data is initialised for as long as the
        // inode is live.
        unsafe { (*outer).data.assume_init_ref() }
    }

    /// The layer's own state of this inode.
    pub(super) fn layer(&self) -> &LayerInode {
        let outer = InodeWithData::<T>::outer(self.as_raw());
        // SAFETY: By the type invariant the inode is embedded in an
        // `InodeWithData<T>`; `layer` is plain data set up at allocation.
        unsafe { &(*outer).layer }
    }

    /// Whether the file uses DAX now (`S_DAX`). Stable while the caller
    /// holds the inode lock or the invalidate lock, or has a VMA of the
    /// file (see Documentation/filesystems/r2dax/dax.rst).
    pub(crate) fn is_dax(&self) -> bool {
        // SAFETY: The inode is live; `i_flags` is read with IS_DAX.
        unsafe { raw::r2dax_is_dax(self.as_raw()) }
    }
}

/// What kind of inode a [`NewInode`] becomes; decides its operations.
pub(crate) enum Kind<'a> {
    /// A directory.
    Dir,
    /// A regular file; `true` if it uses DAX (the superblock must have a
    /// DAX device).
    Reg(bool),
    /// A symlink whose target is read through the page cache.
    Symlink,
    /// A symlink whose target (at most [`INLINE_LINK_MAX`] bytes) is kept
    /// in memory with the inode.
    InlineSymlink(&'a [u8]),
    /// A device node, FIFO or socket with this encoded device number.
    Special(u32),
}

/// Attributes of a new inode, as read from disk.
pub(crate) struct Attrs {
    /// Type and permission bits.
    pub(crate) mode: u16,
    /// Hard links.
    pub(crate) nlink: u32,
    /// Owner.
    pub(crate) uid: u32,
    /// Group.
    pub(crate) gid: u32,
    /// Size in bytes.
    pub(crate) size: u64,
    /// Allocated 4 KiB blocks.
    pub(crate) blocks: u64,
    /// Generation.
    pub(crate) generation: u32,
    /// Access time (seconds, nanoseconds).
    pub(crate) atime: (i64, u32),
    /// Modification time.
    pub(crate) mtime: (i64, u32),
    /// Change time.
    pub(crate) ctime: (i64, u32),
}

/// An inode in state `I_NEW`, locked and invisible to others until
/// [`NewInode::finish`]; dropped unfinished, it is discarded (`iget_failed`).
///
/// # Invariants
///
/// `self.0` is an `I_NEW` inode of `T` on which this object holds the
/// reference `iget_locked` returned.
pub(crate) struct NewInode<T: FileSystem>(NonNull<raw::inode>, PhantomData<T>);

/// Result of [`SuperBlock::iget`].
pub(crate) enum Iget<T: FileSystem> {
    /// The inode was in the cache.
    Cached(ARef<INode<T>>),
    /// The inode is new and must be filled in.
    New(NewInode<T>),
}

impl<T: FileSystem> SuperBlock<T> {
    /// Finds inode `ino` in the inode cache or creates it (`iget_locked`).
    pub(crate) fn iget(&self, ino: u64) -> Result<Iget<T>> {
        // SAFETY: The superblock is live.
        let ptr = unsafe { raw::iget_locked(self.as_raw(), ino as _) };
        let ptr = NonNull::new(ptr).ok_or(ENOMEM)?;
        // SAFETY: `iget_locked` returned a referenced inode of this
        // superblock; `i_state` is stable for an I_NEW inode we hold.
        let is_new = unsafe { (*ptr.as_ptr()).i_state } & raw::I_NEW != 0;
        if is_new {
            // INVARIANT: the inode is I_NEW and we own its reference.
            Ok(Iget::New(NewInode(ptr, PhantomData)))
        } else {
            // SAFETY: A cached, referenced inode of `T`; the reference
            // moves into the `ARef`.
            Ok(Iget::Cached(unsafe { ARef::from_raw(ptr.cast()) }))
        }
    }

    /// Inode `ino` if it is in the inode cache (`ilookup`: waits while it
    /// is `I_NEW`; never reads it in). Bad inodes are left out.
    pub(crate) fn ilookup(&self, ino: u64) -> Option<ARef<INode<T>>> {
        // SAFETY: The superblock is live.
        let ptr = NonNull::new(unsafe { raw::ilookup(self.as_raw(), ino as _) })?;
        // SAFETY: `ilookup` returned a referenced, set-up inode of this
        // superblock; the reference moves into the `ARef`.
        let inode: ARef<INode<T>> = unsafe { ARef::from_raw(ptr.cast()) };
        (!inode.is_bad()).then_some(inode)
    }

    /// Calls `f` for every inode of the superblock in the inode cache,
    /// holding a reference to it, with no lock held; stops at the first
    /// error, which it returns. An inode that is `I_NEW` is waited for;
    /// bad inodes and inodes being freed are left out.
    ///
    /// Ordering (the caller's to rely on): an inode not visited was hashed
    /// after the walk passed it, or put on the superblock's list after
    /// the walk began, and so reads in its set-up (which r2dax does after
    /// hashing) whatever the caller stored before calling this. See
    /// `r2dax_sb_for_each_inode` in helpers.c.
    pub(crate) fn for_each_cached_inode(&self, mut f: impl FnMut(&INode<T>) -> Result) -> Result {
        let mut f: &mut dyn FnMut(&INode<T>) -> Result = &mut f;
        /// # Safety
        ///
        /// `arg` is the `&mut &mut dyn FnMut` above; `inode` is a live,
        /// referenced inode of `T`'s superblock.
        unsafe extern "C" fn visit<T: FileSystem>(
            inode: *mut raw::inode,
            arg: *mut core::ffi::c_void,
        ) -> core::ffi::c_int {
            // SAFETY: Per the contract.
            let (f, inode) = unsafe {
                (
                    &mut *arg.cast::<&mut dyn FnMut(&INode<T>) -> Result>(),
                    INode::<T>::from_raw(inode),
                )
            };
            if inode.is_bad() {
                return 0;
            }
            match f(inode) {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            }
        }
        // SAFETY: The superblock is live; `visit::<T>` gets `arg` back as
        // the closure reference it is, for the call only.
        let r = unsafe {
            raw::r2dax_sb_for_each_inode(
                self.as_raw(),
                Some(visit::<T>),
                core::ptr::addr_of_mut!(f).cast(),
            )
        };
        kernel::error::to_result(r)
    }
}

impl<T: FileSystem> NewInode<T> {
    /// The inode as a reference (still `I_NEW`). Its size, link count and
    /// times are changed through [`Exclusive`], which `NewInode` is.
    pub(crate) fn inode(&self) -> &INode<T> {
        // SAFETY: The inode is live and of `T` by the type invariant.
        unsafe { INode::<T>::from_raw(self.0.as_ptr()) }
    }
}

impl<T: Operations> NewInode<T> {
    /// The filesystem's data of the new inode.
    pub(crate) fn data(&self) -> &T::InodeData {
        // SAFETY: The inode is live and of `T` by the type invariant.
        unsafe { INode::<T>::from_raw(self.0.as_ptr()) }.data()
    }

    fn outer(&self) -> *mut InodeWithData<T> {
        InodeWithData::<T>::outer(self.0.as_ptr())
    }

    /// Fills in the attributes and operations and publishes the inode.
    pub(crate) fn finish(self, attrs: &Attrs, kind: Kind<'_>) -> Result<ARef<INode<T>>> {
        self.fill(attrs, kind)?;
        // SAFETY: The inode is filled in; unlocking publishes it.
        unsafe { raw::unlock_new_inode(self.0.as_ptr()) };
        Ok(self.into_aref())
    }

    pub(super) fn into_aref(self) -> ARef<INode<T>> {
        let ptr = self.0;
        core::mem::forget(self);
        // SAFETY: Our reference moves into the `ARef`.
        unsafe { ARef::from_raw(ptr.cast()) }
    }

    pub(super) fn as_ptr(&self) -> *mut raw::inode {
        self.0.as_ptr()
    }

    /// Gives the new inode a random generation (`i_generation`), which
    /// file handles carry: a handle to a deleted file whose number a new
    /// file took is then stale, not a handle to the new file.
    pub(crate) fn new_generation(&self) {
        // SAFETY: `get_random_u32` has no preconditions.
        let g = unsafe { raw::get_random_u32() };
        // SAFETY: The inode is I_NEW and ours (type invariant), so its
        // generation is ours to set before it is published.
        unsafe { (*self.0.as_ptr()).i_generation = g };
    }

    /// Fills in the attributes and the operations for `kind`.
    pub(crate) fn fill(&self, attrs: &Attrs, kind: Kind<'_>) -> Result {
        let inode = self.0.as_ptr();
        if matches!(kind, Kind::Reg(true)) && self.inode().sb().dax_device().is_none() {
            return Err(EINVAL);
        }
        if let Kind::InlineSymlink(target) = kind {
            if target.len() > INLINE_LINK_MAX || target.contains(&0) {
                return Err(EINVAL);
            }
            // SAFETY: The inode is I_NEW and embedded in an
            // `InodeWithData<T>` (type invariant); nobody else reads `link`
            // before `unlock_new_inode`.
            let link = unsafe { &mut *(*self.outer()).link.get() };
            link[..target.len()].copy_from_slice(target);
            link[target.len()] = 0;
        }
        // Every write below is to an I_NEW inode (type invariant), which
        // nobody else looks at until `unlock_new_inode`.
        // SAFETY: The inode is live and I_NEW: `i_mode` is ours to set.
        unsafe { (*inode).i_mode = attrs.mode };
        // SAFETY: The inode is live and I_NEW: the link count is ours.
        unsafe { raw::set_nlink(inode, attrs.nlink) };
        // SAFETY: The inode is live and I_NEW: the owner is ours to set.
        unsafe { raw::r2dax_inode_set_ids(inode, attrs.uid, attrs.gid) };
        self.set_size(attrs.size);
        self.inode().set_blocks(attrs.blocks);
        // SAFETY: The inode is live and I_NEW: the generation is ours.
        unsafe { (*inode).i_generation = attrs.generation };
        self.set_times(attrs.atime, attrs.mtime, attrs.ctime);
        let (iops, fops, aops): (
            *const raw::inode_operations,
            *const raw::file_operations,
            *const raw::address_space_operations,
        ) = match kind {
            Kind::Dir => (&Tables::<T>::DIR_IOPS, &Tables::<T>::DIR_FOPS, null()),
            Kind::Reg(false) => (
                &Tables::<T>::FILE_IOPS,
                &Tables::<T>::FILE_FOPS,
                &Tables::<T>::FILE_AOPS,
            ),
            Kind::Reg(true) => (
                &Tables::<T>::FILE_IOPS,
                &Tables::<T>::FILE_FOPS,
                &Tables::<T>::DAX_AOPS,
            ),
            Kind::Symlink => (&Tables::<T>::SYMLINK_IOPS, null(), &Tables::<T>::FILE_AOPS),
            Kind::InlineSymlink(_) => (&Tables::<T>::INLINE_SYMLINK_IOPS, null(), null()),
            Kind::Special(_) => (&Tables::<T>::FILE_IOPS, null(), null()),
        };
        // SAFETY: The inode is live and I_NEW; the tables are `'static`
        // (ours or the kernel's).
        unsafe { raw::r2dax_inode_set_ops(inode, iops, fops, aops) };
        match kind {
            // An I_NEW inode has no mapping users yet, so S_DAX may be set
            // without the switch protocol.
            // SAFETY: The inode is live and I_NEW.
            Kind::Reg(true) => unsafe { raw::inode_set_flags(inode, raw::S_DAX, raw::S_DAX) },
            // SAFETY: The inode is live and I_NEW; its mapping is empty.
            Kind::Symlink => unsafe { raw::inode_nohighmem(inode) },
            Kind::InlineSymlink(_) => {
                // SAFETY: The inode is live and I_NEW; `i_link` points into
                // `InodeWithData::link`, which lives as long as the inode
                // (until `free_inode`).
                unsafe { raw::r2dax_inode_set_link(inode, (*self.outer()).link.get().cast()) };
            }
            Kind::Special(dev) => {
                // SAFETY: The inode is live and I_NEW.
                unsafe { raw::init_special_inode(inode, attrs.mode, new_decode_dev(dev)) };
            }
            Kind::Dir | Kind::Reg(false) => {}
        }
        Ok(())
    }
}

impl<T: FileSystem> SuperBlock<T> {
    /// A new in-memory inode with number `ino` for a file being created in
    /// `dir` with `mode`: owner and group from the caller (`inode_init_owner`
    /// with the mount's `idmap`), times now, hashed and `I_NEW`.
    pub(crate) fn new_inode(
        &self,
        idmap: &Idmap,
        dir: &INode<T>,
        ino: u64,
        mode: u16,
    ) -> Result<NewInode<T>> {
        // SAFETY: The superblock is live.
        let inode = unsafe { raw::new_inode(self.as_raw()) };
        let inode = NonNull::new(inode).ok_or(ENOMEM)?;
        // SAFETY: `new_inode` returned an unhashed inode only we know; the
        // idmap comes from the VFS call in progress.
        unsafe {
            (*inode.as_ptr()).i_ino = ino as _;
            raw::inode_init_owner(idmap.0, inode.as_ptr(), dir.as_raw(), mode);
            raw::simple_inode_init_ts(inode.as_ptr());
            if raw::insert_inode_locked(inode.as_ptr()) != 0 {
                // The number is in use in the cache: the bitmap lied.
                raw::iput(inode.as_ptr());
                return Err(super::errno::euclean());
            }
        }
        // INVARIANT: the inode is hashed, I_NEW, and we hold its reference.
        Ok(NewInode(inode, PhantomData))
    }
}

/// The `struct mnt_idmap` of the VFS call in progress.
pub(crate) struct Idmap(pub(super) *mut raw::mnt_idmap);

impl<T: FileSystem> Drop for NewInode<T> {
    fn drop(&mut self) {
        // SAFETY: An unfinished I_NEW inode we hold: `iget_failed` marks it
        // bad, unlocks it and drops our reference.
        unsafe { raw::iget_failed(self.0.as_ptr()) };
    }
}

/// `new_decode_dev` of include/linux/kdev_t.h: the on-disk (and stat)
/// encoding of a device number to the kernel's `dev_t`.
fn new_decode_dev(dev: u32) -> raw::dev_t {
    let major = (dev & 0xfff00) >> 8;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    (major << 20) | minor
}
