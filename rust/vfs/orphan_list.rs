// SPDX-License-Identifier: GPL-2.0
//! The in-memory orphan list: inodes without links that are still in use
//! (open, mapped, or a working directory) and that the filesystem keeps on
//! its on-disk orphan list until they are evicted.
//!
//! Removing an inode from the middle of a singly linked on-disk list means
//! rewriting its predecessor, which is another inode without links and
//! possibly without references (being evicted on another CPU). The
//! predecessor cannot be found with `iget` (it would wait for an inode in
//! eviction, and it has no links), so the layer keeps a pointer to each
//! listed inode, as ext4 keeps `s_orphan`. The filesystem only ever sees the
//! listed inodes' number and per-inode data, under the list lock.
//!
//! # Why the pointers stay valid
//!
//! An inode enters the list through [`OrphanGuard::push`], which takes an
//! `&INode` (so it is live). The layer's `evict_inode` callback removes the
//! inode from the list (if the filesystem's `evict_inode` did not) before
//! `clear_inode`, and the inode memory is only freed after that. Removal
//! needs the list lock, so while a guard is held every listed pointer is a
//! live inode whose per-inode data is initialised.

use super::fs::FileSystem;
use super::raw;
use super::vfs_inode::INode;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::lock::mutex::MutexBackend;
use kernel::sync::lock::Guard;
use kernel::sync::Mutex;

/// A pointer to a listed inode.
struct Entry<T: FileSystem>(NonNull<raw::inode>, PhantomData<T>);

impl<T: FileSystem> Clone for Entry<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: FileSystem> Copy for Entry<T> {}

// SAFETY: An entry is only dereferenced under the list lock, to reach the
// inode number and `T::InodeData`, which is `Send + Sync`.
unsafe impl<T: FileSystem> Send for Entry<T> {}

/// The orphan inodes of one superblock, oldest first.
///
/// # Invariants
///
/// Every entry of `list` points to a live inode of `T` (data initialised)
/// that has not gone through `clear_inode` yet.
#[pin_data]
pub(crate) struct Orphans<T: FileSystem> {
    /// Lock order: taken before any `T::InodeData` lock of a listed inode
    /// and before the filesystem's superblock-level locks.
    #[pin]
    list: Mutex<KVVec<Entry<T>>>,
}

impl<T: FileSystem> Orphans<T> {
    /// An empty list.
    pub(super) fn new() -> impl PinInit<Self> {
        pin_init!(Orphans {
            list <- new_mutex!(KVVec::new(), "r2dax_orphans"),
        })
    }

    /// Locks the list.
    pub(crate) fn lock(&self) -> OrphanGuard<'_, T> {
        OrphanGuard(self.list.lock())
    }

    /// Drops `inode` from the list if it is still there (the layer's
    /// eviction). Returns whether it was.
    ///
    /// # Safety
    ///
    /// `inode` is an inode of `T` being evicted (so it is no longer
    /// reachable from anything but this list).
    pub(super) unsafe fn forget(&self, inode: *mut raw::inode) -> bool {
        let mut g = self.lock();
        match g.find(inode) {
            Some(i) => {
                g.remove(i);
                true
            }
            None => false,
        }
    }
}

/// The locked orphan list. Index 0 is the oldest inode (the tail of the
/// on-disk list); the last index is the newest (its head).
pub(crate) struct OrphanGuard<'a, T: FileSystem>(Guard<'a, KVVec<Entry<T>>, MutexBackend>);

impl<T: FileSystem> OrphanGuard<'_, T> {
    fn find(&self, inode: *mut raw::inode) -> Option<usize> {
        self.0.iter().position(|e| e.0.as_ptr() == inode)
    }

    /// Number of listed inodes.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Where `inode` is in the list.
    pub(crate) fn position(&self, inode: &INode<T>) -> Option<usize> {
        self.find(inode.as_raw())
    }

    /// Inode number of entry `i`.
    pub(crate) fn ino(&self, i: usize) -> Option<u64> {
        let e = self.0.get(i)?;
        // SAFETY: By the type invariant of `Orphans` the inode is live; its
        // number never changes.
        Some(unsafe { (*e.0.as_ptr()).i_ino as u64 })
    }

    /// Per-inode data of entry `i`, valid while the list is locked.
    pub(crate) fn data(&self, i: usize) -> Option<&T::InodeData> {
        let e = self.0.get(i)?;
        // SAFETY: By the type invariant of `Orphans` the inode is live and
        // of `T`, and it cannot leave the list (and so cannot be freed)
        // while `self` holds the lock. `INode::data` does not touch the
        // reference count.
        Some(unsafe { INode::<T>::from_raw(e.0.as_ptr()) }.data())
    }

    /// Adds `inode` as the newest entry; it must not be listed yet.
    pub(crate) fn push(&mut self, inode: &INode<T>) -> Result {
        if self.position(inode).is_some() {
            return Err(EINVAL);
        }
        let ptr = NonNull::new(inode.as_raw()).ok_or(EINVAL)?;
        self.0.push(Entry(ptr, PhantomData), GFP_KERNEL)?;
        Ok(())
    }

    /// Removes entry `i` (nothing if out of range).
    pub(crate) fn remove(&mut self, i: usize) {
        let len = self.0.len();
        if i >= len {
            return;
        }
        self.0.as_mut_slice().copy_within(i + 1.., i);
        // SAFETY: `len - 1 < len`, the elements below it are initialised,
        // and entries are `Copy`, so nothing needs dropping.
        unsafe { self.0.set_len(len - 1) };
    }
}
