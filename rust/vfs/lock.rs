// SPDX-License-Identifier: GPL-2.0
//! The locks of a file as guards and tokens.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/rwsem.h`](srctree/include/linux/rwsem.h)
//!
//! A guard holds a lock and releases it when dropped; a token is the proof,
//! for as long as it lives, that a lock is held, whether the layer took it
//! (the token then borrows from the guard) or the VFS holds it around a
//! callback (the layer makes the token, stating why). A function that
//! takes a token cannot be called without the lock, so for it "the caller
//! holds the inode lock" is checked by the compiler instead of read in a
//! comment.
//!
//! The setters of an inode's size, link count and times, and the zeroing
//! of a range (`set_size`, `inc_nlink`, `drop_nlink`, `touch_mtime`,
//! `touch_ctime`, `set_times`, `zero_tail`, `zero_range`), are methods of
//! [`Exclusive`], which only three proofs implement: the token of the
//! exclusive inode lock, a [`Quiesced`] file, and an `I_NEW` inode the
//! caller owns ([`NewInode`]). The namespace operations
//! ([`super::inode_ops::DirInodeOperations`]) get the tokens of the inodes
//! the VFS locks for them; a rename gets a [`RenameInode`] for the inode it
//! moves and for the one it replaces, locked or not as `vfs_rename` left
//! it. Functions that only read an inode (a directory lookup, readdir)
//! take a plain `&INode` and rely on the VFS's lock as their documentation
//! says.
//!
//! Lock order (Documentation/filesystems/r2dax/design.rst, "Locking"):
//! the inode lock (`i_rwsem`), then the invalidate lock
//! (`mapping->invalidate_lock`), then the mode lock
//! ([`super::vfs_inode::LayerInode::mode_lock`]). Freeze protection
//! (`sb_start_pagefault`) comes before the invalidate lock, as in every
//! filesystem's fault path. Guards are neither `Send` nor `Sync`: a
//! lock is released by the task that took it (lockdep checks the owner).

use super::fs::{FileSystem, Operations, Tables};
use super::raw;
use super::sb::SuperBlock;
use super::vfs_inode::{INode, NewInode};
use core::marker::PhantomData;
use core::ops::Deref;
use kernel::prelude::*;

mod private {
    pub(crate) trait Sealed {}
    /// The seal of [`super::Exclusive`] (a trait of its own, so that the
    /// lock modes, which are `Sealed`, cannot become proofs).
    pub(crate) trait SealedExclusive {}
}

/// How a reader-writer lock is held: [`Shared`] or [`Excl`].
pub(crate) trait LockMode: private::Sealed {
    /// Releases the inode lock of `inode`, held in this mode.
    ///
    /// # Safety
    ///
    /// `inode` is live and the caller holds its inode lock in this mode.
    unsafe fn inode_unlock(inode: *mut raw::inode);
}

/// The lock is held shared (for reading).
pub(crate) enum Shared {}

/// The lock is held exclusively (for writing).
pub(crate) enum Excl {}

impl private::Sealed for Shared {}
impl private::Sealed for Excl {}

impl LockMode for Shared {
    unsafe fn inode_unlock(inode: *mut raw::inode) {
        // SAFETY: Per the function contract.
        unsafe { raw::r2dax_inode_unlock_shared(inode) }
    }
}

impl LockMode for Excl {
    unsafe fn inode_unlock(inode: *mut raw::inode) {
        // SAFETY: Per the function contract.
        unsafe { raw::r2dax_inode_unlock(inode) }
    }
}

/// Proof that the inode lock (`i_rwsem`) of an inode is held in mode `M`
/// for `'a`.
///
/// # Invariants
///
/// The current task holds `inode`'s inode lock in mode `M` for `'a`.
pub(crate) struct InodeLocked<'a, T: FileSystem, M: LockMode> {
    inode: &'a INode<T>,
    _p: PhantomData<(M, *mut ())>,
}

impl<'a, T: FileSystem, M: LockMode> InodeLocked<'a, T, M> {
    /// A token for a lock the VFS holds around a callback.
    ///
    /// # Safety
    ///
    /// The current task holds `inode`'s inode lock in mode `M` for `'a`.
    pub(super) unsafe fn assume(inode: &'a INode<T>) -> Self {
        // INVARIANT: Per the function contract.
        Self {
            inode,
            _p: PhantomData,
        }
    }
}

impl<T: FileSystem, M: LockMode> Deref for InodeLocked<'_, T, M> {
    type Target = INode<T>;

    fn deref(&self) -> &INode<T> {
        self.inode
    }
}

/// The inode lock of an inode, taken by the layer in mode `M` and
/// released on drop.
pub(crate) struct InodeGuard<'a, T: FileSystem, M: LockMode>(InodeLocked<'a, T, M>);

impl<'a, T: FileSystem, M: LockMode> Deref for InodeGuard<'a, T, M> {
    type Target = InodeLocked<'a, T, M>;

    fn deref(&self) -> &InodeLocked<'a, T, M> {
        &self.0
    }
}

impl<T: FileSystem, M: LockMode> Drop for InodeGuard<'_, T, M> {
    fn drop(&mut self) {
        // SAFETY: The guard holds the lock in mode `M` (the token's
        // invariant) and the inode outlives the borrow.
        unsafe { M::inode_unlock(self.0.inode.as_raw()) };
    }
}

impl<T: FileSystem> INode<T> {
    /// Takes the inode lock exclusively (`inode_lock`).
    pub(crate) fn lock(&self) -> InodeGuard<'_, T, Excl> {
        // SAFETY: The inode is live for the borrow.
        unsafe { raw::r2dax_inode_lock(self.as_raw()) };
        // SAFETY: Just taken; the guard releases it.
        InodeGuard(unsafe { InodeLocked::assume(self) })
    }

    /// Takes the inode lock shared (`inode_lock_shared`).
    pub(crate) fn lock_shared(&self) -> InodeGuard<'_, T, Shared> {
        // SAFETY: The inode is live for the borrow.
        unsafe { raw::r2dax_inode_lock_shared(self.as_raw()) };
        // SAFETY: Just taken; the guard releases it.
        InodeGuard(unsafe { InodeLocked::assume(self) })
    }

    /// Takes the inode lock exclusively if that needs no wait
    /// (`inode_trylock`).
    pub(crate) fn try_lock(&self) -> Option<InodeGuard<'_, T, Excl>> {
        // SAFETY: The inode is live for the borrow.
        if !unsafe { raw::r2dax_inode_trylock(self.as_raw()) } {
            return None;
        }
        // SAFETY: Just taken; the guard releases it.
        Some(InodeGuard(unsafe { InodeLocked::assume(self) }))
    }

    /// Takes the inode lock shared if that needs no wait
    /// (`inode_trylock_shared`, for `IOCB_NOWAIT`).
    pub(crate) fn try_lock_shared(&self) -> Option<InodeGuard<'_, T, Shared>> {
        // SAFETY: The inode is live for the borrow.
        if !unsafe { raw::r2dax_inode_trylock_shared(self.as_raw()) } {
            return None;
        }
        // SAFETY: Just taken; the guard releases it.
        Some(InodeGuard(unsafe { InodeLocked::assume(self) }))
    }

    /// Takes the invalidate lock shared, as a page fault does
    /// (`filemap_invalidate_lock_shared`).
    pub(crate) fn invalidate_lock_shared(&self) -> InvalidateShared<'_, T> {
        // SAFETY: The inode is live for the borrow.
        unsafe { raw::r2dax_invalidate_lock_shared(self.as_raw()) };
        InvalidateShared(self, PhantomData)
    }

    /// Takes the mode lock shared ([`super::vfs_inode::LayerInode::mode_lock`]):
    /// `S_DAX` cannot change until the guard goes.
    pub(crate) fn mode_read(&self) -> ModeRead<'_, T> {
        // SAFETY: The mode lock is initialised (slab constructor) and the
        // inode is live for the borrow.
        unsafe { raw::down_read(self.layer().mode_lock.get()) };
        ModeRead(self, PhantomData)
    }
}

impl<'a, T: FileSystem> InodeLocked<'a, T, Excl> {
    /// Quiesces the file under the inode lock: waits for direct I/O in
    /// flight (`inode_dio_wait`; new direct I/O needs the inode lock) and
    /// takes the invalidate lock exclusively, which keeps page faults,
    /// `->mmap` and readahead out. These are the locks of truncate, taken
    /// in the order of ext4's and xfs's.
    pub(crate) fn quiesce(&self) -> QuiesceGuard<'_, T> {
        let inode = self.inode.as_raw();
        // SAFETY: The inode is live and its lock is held exclusively (the
        // token), which `inode_dio_wait` needs to be final.
        unsafe { raw::inode_dio_wait(inode) };
        // SAFETY: The inode is live; the inode lock comes first in the
        // lock order.
        unsafe { raw::r2dax_invalidate_lock(inode) };
        // INVARIANT: Both locks are held and direct I/O is drained.
        QuiesceGuard(Quiesced {
            inode: self.inode,
            _p: PhantomData,
        })
    }
}

/// Proof that nothing else runs on the file for `'a`: no read, write,
/// page fault, `->mmap`, direct I/O or size change, and none starts. This
/// is what blocks beyond the size, or blocks being punched, need before
/// they go.
///
/// # Invariants
///
/// For `'a`, either the current task holds the inode lock and the
/// invalidate lock exclusively with direct I/O drained ([`QuiesceGuard`]),
/// or the inode is being evicted (`I_FREEING`: nothing references it).
pub(crate) struct Quiesced<'a, T: FileSystem> {
    inode: &'a INode<T>,
    _p: PhantomData<*mut ()>,
}

impl<'a, T: FileSystem> Quiesced<'a, T> {
    /// A token for an inode being evicted.
    ///
    /// # Safety
    ///
    /// The inode is in `->evict_inode` (`I_FREEING`, no reference left).
    pub(super) unsafe fn evicting(inode: &'a INode<T>) -> Self {
        // INVARIANT: Per the function contract.
        Self {
            inode,
            _p: PhantomData,
        }
    }
}

impl<T: FileSystem> Quiesced<'_, T> {
    /// Sets the size and drops the page cache beyond it
    /// (`truncate_setsize`), after writing back the DAX entry that holds
    /// the new size ([`Quiesced::write_back_cut_at`]).
    pub(crate) fn truncate_setsize(&self, size: u64) -> Result {
        self.write_back_cut_at(size)?;
        // SAFETY: The inode is live, and quiesced as `truncate_setsize`
        // needs: the inode lock and the invalidate lock are held (or the
        // inode is being evicted).
        unsafe { raw::truncate_setsize(self.inode.as_raw(), size as _) };
        Ok(())
    }

    /// Writes back the dirty data from byte `start` to the end of the file
    /// and waits for it (`filemap_write_and_wait_range`): folios of the
    /// page cache, or, for a DAX file, the CPU cache lines of the pages
    /// stores went to (`dax_writeback_mapping_range`).
    pub(crate) fn write_back_from(&self, start: u64) -> Result {
        self.write_back(start, u64::MAX)
    }

    /// Writes back bytes `start..=end` and waits for it.
    fn write_back(&self, start: u64, end: u64) -> Result {
        let (start, end) = (
            i64::try_from(start).unwrap_or(i64::MAX),
            i64::try_from(end).unwrap_or(i64::MAX),
        );
        // SAFETY: The inode is live; its mapping is its own. Quiesced, no
        // write or fault dirties the range again meanwhile.
        kernel::error::to_result(unsafe {
            raw::r2dax_filemap_write_and_wait_range((*self.inode.as_raw()).i_mapping, start, end)
        })
    }

    /// Before the cache is dropped from, or up to, byte `pos`: for a DAX
    /// file, writes back the 2 MiB (PMD) entry that holds `pos`. Dropping
    /// the cache drops whole entries (the second pass of
    /// `truncate_inode_pages_range`, `dax_delete_mapping_entry`), so an
    /// entry the cut falls inside goes with its data on the other side of
    /// the cut, whose stores fsync could then no longer flush. Page-cache
    /// folios are one page (r2dax enables no large folios): a cut on a
    /// page boundary splits none, and one inside a page zeroes only what
    /// it cuts.
    fn write_back_cut_at(&self, pos: u64) -> Result {
        if !self.inode.is_dax() {
            return Ok(());
        }
        let (start, end) = super::dax_mode::whole_entries(pos, pos);
        self.write_back(start, end)
    }

    /// Unmaps and drops the page cache (for a DAX file, the DAX entries)
    /// from byte `start` to the end of the file, keeping the size
    /// (`truncate_pagecache`), after writing back the DAX entry that holds
    /// `start` ([`Quiesced::write_back_cut_at`]).
    pub(crate) fn truncate_pagecache_from(&self, start: u64) -> Result {
        self.write_back_cut_at(start)?;
        let start = i64::try_from(start).unwrap_or(i64::MAX);
        // SAFETY: The inode is live and quiesced (as for
        // `truncate_setsize`), so no fault or read fills the range again
        // meanwhile.
        unsafe { raw::truncate_pagecache(self.inode.as_raw(), start) };
        Ok(())
    }

    /// Drops the page cache of the byte range `start..=end`
    /// (`truncate_pagecache_range`), after writing back the DAX entries
    /// that hold its two ends ([`Quiesced::write_back_cut_at`]).
    pub(crate) fn truncate_pagecache_range(&self, start: u64, end: u64) -> Result {
        self.write_back_cut_at(start)?;
        self.write_back_cut_at(end)?;
        // SAFETY: The inode is live and quiesced (as for
        // `truncate_setsize`), so no fault maps the range again meanwhile.
        unsafe { raw::truncate_pagecache_range(self.inode.as_raw(), start as _, end as _) };
        Ok(())
    }
}

impl<T: FileSystem> Deref for Quiesced<'_, T> {
    type Target = INode<T>;

    fn deref(&self) -> &INode<T> {
        self.inode
    }
}

/// A file quiesced by [`InodeLocked::quiesce`]: holds the invalidate lock
/// exclusively (the inode lock stays with the token it borrows) and
/// releases it on drop.
pub(crate) struct QuiesceGuard<'a, T: FileSystem>(Quiesced<'a, T>);

impl<'a, T: FileSystem> Deref for QuiesceGuard<'a, T> {
    type Target = Quiesced<'a, T>;

    fn deref(&self) -> &Quiesced<'a, T> {
        &self.0
    }
}

impl<T: FileSystem> Drop for QuiesceGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: The guard holds the invalidate lock exclusively.
        unsafe { raw::r2dax_invalidate_unlock(self.0.inode.as_raw()) };
    }
}

impl<T: FileSystem> QuiesceGuard<'_, T> {
    /// Takes the mode lock exclusively, for changing `S_DAX`.
    pub(super) fn mode_write(&self) -> ModeWrite<'_, T> {
        // SAFETY: The mode lock is initialised (slab constructor); it
        // comes after the invalidate lock in the lock order.
        unsafe { raw::down_write(self.0.inode.layer().mode_lock.get()) };
        ModeWrite(self.0.inode, PhantomData)
    }

    /// Drops the invalidate lock while `wait` runs, then takes it back.
    /// Faults may map pages meanwhile: the caller looks again afterwards.
    pub(super) fn unlocked<R>(&mut self, wait: impl FnOnce() -> R) -> R {
        let inode = self.0.inode.as_raw();
        // SAFETY: The guard holds the invalidate lock exclusively.
        unsafe { raw::r2dax_invalidate_unlock(inode) };
        let r = wait();
        // SAFETY: The inode is live; the inode lock, which comes first in
        // the lock order, is still held.
        unsafe { raw::r2dax_invalidate_lock(inode) };
        r
    }
}

/// Proof of exclusive access to an inode: for as long as the proof lives,
/// no other task holds the inode lock or takes it. The VFS serialises by
/// that lock the writers of the size (`i_size_write`), of the link count
/// and of `S_DAX` (a mode switch), and most writers of the times: not
/// `touch_atime` nor a write fault's `file_update_time`, which take no
/// inode lock, nor a rename's ctime store on a directory it moves within
/// its parent ([`RenameInode::touch_ctime`]); those store "now" as a
/// locked writer does. The setters of these fields are the methods of
/// this trait.
///
/// Sealed: implemented by these three only, each of which gives that
/// guarantee for [`Exclusive::inode`]:
///
/// - [`InodeLocked<T, Excl>`]: the current task holds the inode lock
///   exclusively;
/// - [`Quiesced<T>`]: it holds the inode lock and the invalidate lock, or
///   the inode is being evicted (nothing else references it);
/// - [`NewInode<T>`]: an `I_NEW` inode the caller owns, which nobody else
///   sees until it is published. Its inode lock is not taken, and must
///   not be: `unlock_new_inode` re-initialises a directory's `i_rwsem`
///   to give it the directory lockdep class.
pub(crate) trait Exclusive<T: FileSystem>: private::SealedExclusive {
    /// The inode this proof is about.
    fn inode(&self) -> &INode<T>;

    /// Adds a link.
    fn inc_nlink(&self) {
        // SAFETY: The inode is live; the VFS serializes link changes by the
        // inode lock, and the `Exclusive` proof `self` stands for it.
        unsafe { raw::inc_nlink(self.inode().as_raw()) };
    }

    /// Drops a link.
    fn drop_nlink(&self) {
        // SAFETY: The inode is live; the VFS serializes link changes by the
        // inode lock, and the `Exclusive` proof `self` stands for it.
        unsafe { raw::drop_nlink(self.inode().as_raw()) };
    }

    /// Sets the size (`i_size_write`).
    fn set_size(&self, size: u64) {
        // SAFETY: The inode is live; `i_size_write` needs its writers
        // serialised by the inode lock, and the `Exclusive` proof `self`
        // stands for it.
        unsafe { raw::r2dax_inode_set_size(self.inode().as_raw(), size as _) };
    }

    /// Sets mtime and ctime to now (a directory that changed).
    fn touch_mtime(&self) {
        // SAFETY: The inode is live; the `Exclusive` proof `self` keeps
        // out the writers of its times that take the inode lock.
        unsafe { raw::r2dax_current_time(self.inode().as_raw()) };
    }

    /// Sets the permission bits of the mode (an access ACL that changed
    /// them); the type bits stay.
    fn set_mode(&self, mode: u16) {
        let inode = self.inode().as_raw();
        // SAFETY: The inode is live; the `Exclusive` proof `self` stands
        // for the inode lock, which serialises the writers of `i_mode`
        // (as `setattr_copy`).
        unsafe { (*inode).i_mode = ((*inode).i_mode & raw::S_IFMT as u16) | (mode & 0o7777) };
    }

    /// Sets ctime to now (an inode whose links changed).
    fn touch_ctime(&self) {
        // SAFETY: The inode is live; the `Exclusive` proof `self` keeps
        // out the writers of its ctime that take the inode lock.
        unsafe { raw::inode_set_ctime_current(self.inode().as_raw()) };
    }

    /// Sets the three times (seconds, nanoseconds), e.g. back to what
    /// they were after a change failed.
    fn set_times(&self, atime: (i64, u32), mtime: (i64, u32), ctime: (i64, u32)) {
        let ((a, a_ns), (m, m_ns), (c, c_ns)) = (atime, mtime, ctime);
        let inode = self.inode().as_raw();
        // SAFETY: The inode is live; the `Exclusive` proof `self` keeps
        // out the writers of its times that take the inode lock.
        unsafe { raw::r2dax_inode_set_times(inode, a, a_ns, m, m_ns, c, c_ns) };
    }

    /// Zeroes the part of the block holding `pos` beyond `pos`: on the
    /// media for a DAX file (`dax_truncate_page`), otherwise through the
    /// page cache (`iomap_truncate_page`). Truncate and fallocate also
    /// hold the invalidate lock ([`Quiesced`]).
    fn zero_tail(&self, pos: u64) -> Result
    where
        T: Operations,
    {
        let inode = self.inode();
        let mut did_zero = false;
        let ops = &Tables::<T>::IOMAP_OPS;
        if inode.is_dax() {
            // SAFETY: The inode is live, and the `Exclusive` proof `self`
            // keeps the mode stable (a switch needs the inode lock); the
            // ops are 'static.
            return kernel::error::to_result(unsafe {
                raw::dax_truncate_page(inode.as_raw(), pos as _, &mut did_zero, ops)
            });
        }
        // SAFETY: The inode is live, and the `Exclusive` proof `self`
        // keeps the mode and the size stable; the ops are 'static.
        kernel::error::to_result(unsafe {
            raw::iomap_truncate_page(inode.as_raw(), pos as _, &mut did_zero, ops)
        })
    }

    /// Zeroes `len` bytes at `pos`, on the media for a DAX file
    /// (`dax_zero_range`), otherwise through the page cache
    /// (`iomap_zero_range`); holes stay holes.
    fn zero_range(&self, pos: u64, len: u64) -> Result
    where
        T: Operations,
    {
        let inode = self.inode();
        let mut did_zero = false;
        let ops = &Tables::<T>::IOMAP_OPS;
        if inode.is_dax() {
            // SAFETY: The inode is live, and the `Exclusive` proof `self`
            // keeps the mode stable (a switch needs the inode lock); the
            // ops are 'static.
            return kernel::error::to_result(unsafe {
                raw::dax_zero_range(inode.as_raw(), pos as _, len as _, &mut did_zero, ops)
            });
        }
        // SAFETY: The inode is live, and the `Exclusive` proof `self`
        // keeps the mode and the size stable; the ops are 'static.
        kernel::error::to_result(unsafe {
            raw::iomap_zero_range(inode.as_raw(), pos as _, len as _, &mut did_zero, ops)
        })
    }
}

impl<T: FileSystem> private::SealedExclusive for InodeLocked<'_, T, Excl> {}

impl<T: FileSystem> Exclusive<T> for InodeLocked<'_, T, Excl> {
    fn inode(&self) -> &INode<T> {
        self.inode
    }
}

impl<T: FileSystem> private::SealedExclusive for Quiesced<'_, T> {}

impl<T: FileSystem> Exclusive<T> for Quiesced<'_, T> {
    fn inode(&self) -> &INode<T> {
        self.inode
    }
}

impl<T: FileSystem> private::SealedExclusive for NewInode<T> {}

impl<T: FileSystem> Exclusive<T> for NewInode<T> {
    fn inode(&self) -> &INode<T> {
        NewInode::inode(self)
    }
}

/// The inode a rename moves, or the one it replaces, locked or not as
/// `vfs_rename` left it. The VFS locks both (exclusively) except a
/// directory whose parent does not change: the source of a rename within
/// one directory, and the target of a `RENAME_EXCHANGE` within one
/// directory. The layer makes it by the VFS's own rule (`Tables::rename`
/// in `inode_ops.rs`, which cites it); only the layer can, so that an
/// unlocked one is always such a directory.
pub(crate) struct RenameInode<'a, T: FileSystem>(RenameLock<'a, T>);

enum RenameLock<'a, T: FileSystem> {
    /// The VFS holds the inode lock exclusively.
    Locked(InodeLocked<'a, T, Excl>),
    /// A directory the VFS did not lock: only its ctime may change
    /// ([`RenameInode::touch_ctime`]).
    Unlocked(&'a INode<T>),
}

impl<'a, T: FileSystem> RenameInode<'a, T> {
    /// A source or target the VFS locked.
    pub(super) fn locked_by_vfs(locked: InodeLocked<'a, T, Excl>) -> Self {
        Self(RenameLock::Locked(locked))
    }

    /// A source or target the VFS did not lock.
    ///
    /// # Safety
    ///
    /// `inode` is the source or the target of a `->rename` call in
    /// progress for `'a`, a directory that stays in its parent, which
    /// `vfs_rename` does not lock.
    pub(super) unsafe fn unlocked(inode: &'a INode<T>) -> Self {
        Self(RenameLock::Unlocked(inode))
    }

    /// The lock token, if the VFS holds the inode lock.
    pub(crate) fn locked(&self) -> Option<&InodeLocked<'a, T, Excl>> {
        match &self.0 {
            RenameLock::Locked(locked) => Some(locked),
            RenameLock::Unlocked(_) => None,
        }
    }

    /// Sets ctime to now, locked or not. A directory renamed within its
    /// parent is not locked by the VFS, yet its ctime changes with the
    /// rename: ext2 (`ext2_rename`) and ext4 set it the same way.
    pub(crate) fn touch_ctime(&self) {
        match &self.0 {
            RenameLock::Locked(locked) => locked.touch_ctime(),
            RenameLock::Unlocked(inode) => {
                // SAFETY: The inode is live for `'a` (the rename's dentry
                // holds it). `Unlocked` is a directory `vfs_rename` did not
                // lock (`RenameInode::unlocked`'s contract): it locked the
                // parent, so a holder of the directory's own lock (a change
                // inside it, a setattr) may store its ctime at the same
                // time; one "now" or the other stays, as under
                // `ext2_rename`, which stores this ctime with the same
                // locks. The ctime is plain data that `stat` reads without
                // any lock.
                unsafe { raw::inode_set_ctime_current(inode.as_raw()) };
            }
        }
    }
}

impl<T: FileSystem> Deref for RenameInode<'_, T> {
    type Target = INode<T>;

    fn deref(&self) -> &INode<T> {
        match &self.0 {
            RenameLock::Locked(locked) => locked.inode,
            RenameLock::Unlocked(inode) => inode,
        }
    }
}

/// The invalidate lock of an inode, held shared and released on drop. It
/// keeps truncate, hole punching and mode switches out.
pub(crate) struct InvalidateShared<'a, T: FileSystem>(&'a INode<T>, PhantomData<*mut ()>);

impl<T: FileSystem> Drop for InvalidateShared<'_, T> {
    fn drop(&mut self) {
        // SAFETY: Taken shared in `invalidate_lock_shared`.
        unsafe { raw::r2dax_invalidate_unlock_shared(self.0.as_raw()) };
    }
}

/// The mode lock of an inode, held shared and released on drop.
pub(crate) struct ModeRead<'a, T: FileSystem>(&'a INode<T>, PhantomData<*mut ()>);

impl<T: FileSystem> Drop for ModeRead<'_, T> {
    fn drop(&mut self) {
        // SAFETY: Taken shared in `mode_read`.
        unsafe { raw::up_read(self.0.layer().mode_lock.get()) };
    }
}

/// The mode lock of an inode, held exclusively and released on drop.
pub(crate) struct ModeWrite<'a, T: FileSystem>(&'a INode<T>, PhantomData<*mut ()>);

impl<T: FileSystem> Drop for ModeWrite<'_, T> {
    fn drop(&mut self) {
        // SAFETY: Taken exclusively in `mode_write`.
        unsafe { raw::up_write(self.0.layer().mode_lock.get()) };
    }
}

/// Freeze protection of a page fault that will write
/// (`sb_start_pagefault`), released on drop.
pub(crate) struct PageFault<'a, T: FileSystem>(&'a SuperBlock<T>, PhantomData<*mut ()>);

impl<T: FileSystem> SuperBlock<T> {
    /// Waits while the filesystem is frozen, then keeps it from freezing
    /// until the guard goes (`sb_start_pagefault`).
    pub(crate) fn start_pagefault(&self) -> PageFault<'_, T> {
        // SAFETY: The superblock is live for the borrow.
        unsafe { raw::r2dax_sb_start_pagefault(self.as_raw()) };
        PageFault(self, PhantomData)
    }
}

impl<T: FileSystem> Drop for PageFault<'_, T> {
    fn drop(&mut self) {
        // SAFETY: Taken in `start_pagefault`.
        unsafe { raw::r2dax_sb_end_pagefault(self.0.as_raw()) };
    }
}
