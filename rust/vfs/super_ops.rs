// SPDX-License-Identifier: GPL-2.0
//! Superblock operations: `struct super_operations` (the inode cache,
//! writing and evicting inodes, `statfs`, `sync_fs`, `/proc/mounts`) and
//! `kill_sb`.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::fs::{FileSystem, FsType, Operations, Tables};
use super::lock::Quiesced;
use super::options::OptionWriter;
use super::raw;
use super::sb::{SbData, SuperBlock};
use super::vfs_inode::{INode, InodeWithData};
use core::ffi::{c_int, c_void};
use core::sync::atomic::Ordering;
use kernel::error::from_result;
use kernel::init::PinInit;
use kernel::prelude::*;

/// The superblock operations of a filesystem (`struct super_operations`).
pub(crate) trait SuperOperations: FileSystem {
    /// Reports space and inode usage for `statfs(2)`.
    fn statfs(sb: &SuperBlock<Self>) -> Result<Stat>;

    /// Writes the inode back (`sync`: wait until it is on the media).
    /// Default: nothing to write.
    fn write_inode(_inode: &INode<Self>, _sync: bool) -> Result {
        Ok(())
    }

    /// The inode leaves memory: free it on disk if it has no links left.
    /// Called after its page cache is gone and before `clear_inode`; no
    /// lock is held, and none is needed: nothing else references the
    /// inode. Default: nothing to do.
    fn evict_inode(_inode: &Quiesced<'_, Self>) {}

    /// Writes the superblock state back (`sync_fs`). Default: nothing.
    fn sync_fs(_sb: &SuperBlock<Self>, _wait: bool) -> Result {
        Ok(())
    }

    /// The last step of unmounting (`put_super`). Default: nothing.
    fn put_super(_sb: &SuperBlock<Self>) {}

    /// Appends the superblock's options to its /proc/mounts line.
    /// Default: none.
    fn show_options(_sb: &SuperBlock<Self>, _out: &mut OptionWriter<'_>) {}

    /// The superblock's background work, queued by
    /// [`SuperBlock::run_background`] (see [`super::sb_work`]). Runs in a
    /// worker thread with no lock held, never concurrently with itself,
    /// and not after `kill_sb` began. Default: nothing.
    fn background(_sb: &SuperBlock<Self>) {}
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

impl<T: Operations> Tables<T> {
    pub(super) const SUPER_OPS: raw::super_operations = raw::super_operations {
        alloc_inode: Some(Self::alloc_inode),
        destroy_inode: Some(Self::destroy_inode),
        free_inode: Some(Self::free_inode),
        write_inode: Some(Self::write_inode),
        evict_inode: Some(Self::evict_inode),
        put_super: Some(Self::put_super),
        sync_fs: Some(Self::sync_fs),
        statfs: Some(Self::statfs),
        show_options: Some(Self::show_options),
        shutdown: Some(Self::shutdown),
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

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
        // SAFETY: `outer` is a fresh object of ours.
        let slot = unsafe { core::ptr::addr_of_mut!((*outer).data) }.cast::<T::InodeData>();
        // SAFETY: The data slot is uninitialised and stays in place (slab
        // objects do not move).
        if unsafe { T::init_inode_data().__pinned_init(slot) }.is_err() {
            // SAFETY: The object came from `cache` and nothing else has it.
            unsafe { raw::kmem_cache_free(cache, outer.cast()) };
            return core::ptr::null_mut();
        }
        // SAFETY: The object is ours and its data initialised; the fields
        // set below are atomics.
        let outer = unsafe { &*outer };
        // A new inode has no VMAs (a freed one had none left either).
        outer.layer.mmaps.store(0, Ordering::Relaxed);
        outer.layer.collapsible.store(0, Ordering::Relaxed);
        outer.layer.unmap_wanted.store(false, Ordering::Relaxed);
        outer.cache.store(cache, Ordering::Relaxed);
        // INVARIANT: the data is initialised until `destroy_inode`.
        outer.inode.get()
    }

    /// # Safety
    ///
    /// Called by the VFS (`destroy_inode` in fs/inode.c, in process
    /// context) for an inode that `alloc_inode` returned, once nothing but
    /// RCU path walks can reach it: after `evict_inode`, or for an inode
    /// whose set-up failed. `free_inode` follows after an RCU grace period.
    unsafe extern "C" fn destroy_inode(inode: *mut raw::inode) {
        let outer = InodeWithData::<T>::outer(inode);
        // SAFETY: The inode is embedded in an `InodeWithData<T>` whose data
        // `alloc_inode` initialised; it is dropped only here, and nothing
        // reads it afterwards (an RCU path walk reads only the VFS's fields
        // and the inline link, which stay until `free_inode`). Dropping it
        // here, not in the RCU callback, lets its destructors sleep and
        // take locks.
        unsafe { core::ptr::drop_in_place((*outer).data.as_mut_ptr()) };
    }

    /// # Safety
    ///
    /// Called by the VFS (from an RCU callback) for an inode that
    /// `destroy_inode` was called for, after an RCU grace period.
    unsafe extern "C" fn free_inode(inode: *mut raw::inode) {
        let outer = InodeWithData::<T>::outer(inode);
        // SAFETY: The inode is embedded in an `InodeWithData<T>`, live until
        // the `kmem_cache_free` below; `alloc_inode` recorded the cache.
        let cache = unsafe { (*outer).cache.load(core::sync::atomic::Ordering::Relaxed) };
        // SAFETY: The object came from `cache` and nothing references it.
        // The superblock is not touched: this runs after an RCU grace
        // period, when it may be gone (the cache itself outlives every
        // callback: `Registration` waits for them with `rcu_barrier`
        // before destroying it).
        unsafe { raw::kmem_cache_free(cache, outer.cast()) };
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
            inode.check_up()?;
            T::write_inode(inode, sync)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS when an inode of ours leaves memory.
    unsafe extern "C" fn evict_inode(inode: *mut raw::inode) {
        // SAFETY: The inode is live, ours, and in `->evict_inode`: nothing
        // else references it.
        let i = unsafe { Quiesced::evicting(INode::<T>::from_raw(inode)) };
        // SAFETY: Per the contract the inode is ours and being evicted;
        // its page cache goes first.
        unsafe { Self::truncate_final(&i) };
        // A shut-down filesystem writes nothing: an inode without links
        // stays on the on-disk orphan list, for the next mount to free.
        let up = !i.sb().is_shut_down();
        if up {
            T::evict_inode(&i);
        }
        // The inode leaves the orphan list before `clear_inode` (the
        // list's invariant).
        // SAFETY: The inode is being evicted.
        if unsafe { i.sb().orphans().forget(inode) } && up && !i.sb().is_shut_down() {
            crate::vfs::print::sb_err!(
                i.sb(),
                "inode {} left on the orphan list at eviction",
                i.ino()
            );
        }
        // SAFETY: The inode is being evicted and the filesystem is done
        // with it; `clear_inode` ends its life in the filesystem.
        unsafe { raw::clear_inode(inode) };
    }

    /// Drops the page cache or the DAX entries of an inode being evicted.
    /// A DAX entry names a page of the DAX device, and deleting it writes
    /// to that page's `struct page` (`dax_disassociate_entry`): if the
    /// device is dead its memory may be gone, so the entries are dropped
    /// without looking at their pages. Inside `dax_read_lock` a device
    /// seen alive stays mapped until the truncation is done: `kill_dax`
    /// marks it dead and then waits for such readers (SRCU) before the
    /// driver unmaps the memory.
    ///
    /// # Safety
    ///
    /// `i` is in `->evict_inode`, before `clear_inode`.
    unsafe fn truncate_final(i: &Quiesced<'_, T>) {
        let inode = i.as_raw();
        // SAFETY: The inode is live; `i_data` is its own mapping.
        let mapping = unsafe { core::ptr::addr_of_mut!((*inode).i_data) };
        match i.sb().dax_device() {
            Some(dev) if i.is_dax() => {
                // SAFETY: Plain SRCU read-side section, ended below.
                let id = unsafe { raw::dax_read_lock() };
                // SAFETY: `dev` is a live reference to the DAX device;
                // the mapping is the evicted inode's, which nothing else
                // uses.
                let dropped = unsafe {
                    let dropped = if raw::dax_alive(dev.as_raw()) {
                        0
                    } else {
                        raw::r2dax_dax_forget_entries(mapping)
                    };
                    raw::truncate_inode_pages_final(mapping);
                    raw::dax_read_unlock(id);
                    dropped
                };
                // Only a file the device-removal notification did not
                // revoke (dax.rst, "The DAX device going away") gets here
                // with entries: say so.
                if dropped != 0 {
                    crate::vfs::print::sb_warn!(
                        i.sb(),
                        "inode {}: {} DAX entries dropped after the DAX device went away",
                        i.ino(),
                        dropped
                    );
                }
            }
            // SAFETY: As above; no DAX entry (page-cache folios are RAM).
            _ => unsafe { raw::truncate_inode_pages_final(mapping) },
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for a mounted superblock of ours.
    unsafe extern "C" fn sync_fs(sb: *mut raw::super_block, wait: c_int) -> c_int {
        from_result(|| {
            // SAFETY: Per the contract.
            let sb = unsafe { SuperBlock::<T>::from_raw(sb) };
            sb.check_up()?;
            T::sync_fs(sb, wait != 0)?;
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
            // SAFETY: `buf` is valid for writes and ours for the call
            // (`statfs_by_dentry` zeroed it), and the kernel's opaque
            // `kstatfs` is the local definition.
            let buf = unsafe { &mut *buf };
            buf.f_type = st.magic as _;
            buf.f_bsize = st.block_size as _;
            buf.f_frsize = st.block_size as _;
            buf.f_blocks = st.blocks;
            buf.f_bfree = st.free_blocks;
            buf.f_bavail = st.avail_blocks;
            buf.f_files = st.files;
            buf.f_ffree = st.free_files;
            buf.f_namelen = st.name_len as _;
            buf.f_fsid.val = [st.fsid as i32, (st.fsid >> 32) as i32];
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
        let s = unsafe { SuperBlock::<T>::from_raw(sb) };
        T::put_super(s);
        if s.is_shut_down() {
            // SAFETY: Every inode is gone and no operation runs: nothing
            // holds a buffer of the superblock.
            unsafe { raw::r2dax_bdev_discard_cache(sb) };
        }
    }

    /// # Safety
    ///
    /// Called by the VFS once for every superblock of this type that is torn
    /// down, whether or not `fill_super` succeeded.
    pub(super) unsafe extern "C" fn kill_sb(sb: *mut raw::super_block) {
        // SAFETY: `s_fs_info` is null or the `SbData<T>` stored by
        // `fill_super`, live until freed below. Its background work stops
        // before `kill_block_super` evicts the inodes (see `sb_work`).
        unsafe {
            let info = (*sb).s_fs_info.cast::<SbData<T>>();
            if !info.is_null() {
                (*info).work.disable();
            }
        }
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
}
