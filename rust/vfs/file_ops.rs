// SPDX-License-Identifier: GPL-2.0
//! File operations: `struct file_operations` of regular files and
//! directories (read, write, `mmap`, `fsync`, `fallocate`, seeking,
//! ioctls, readdir).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::errno::eopnotsupp;
use super::fs::{FileSystem, Operations, Tables};
use super::lock::{Excl, Exclusive, InodeLocked, Quiesced};
use super::raw;
use super::shutdown::EIO_ISIZE;
use super::vfs_inode::INode;
use core::ffi::{c_int, c_uint};
use core::marker::PhantomData;
use core::sync::atomic::Ordering;
use kernel::error::code::ENOTTY;
use kernel::error::from_result;
use kernel::ioctl::{_IOC_DIR, _IOC_SIZE};
use kernel::prelude::*;
use kernel::types::AsBytes;
use kernel::uaccess::{UserSlice, UserSliceWriter};

/// `fallocate(2)` mode: do not change the size.
pub(crate) const FALLOC_FL_KEEP_SIZE: u32 = raw::FALLOC_FL_KEEP_SIZE;
/// `fallocate(2)` mode: free the range (with `FALLOC_FL_KEEP_SIZE`).
pub(crate) const FALLOC_FL_PUNCH_HOLE: u32 = raw::FALLOC_FL_PUNCH_HOLE;
/// `fallocate(2)` mode: make the range read as zeros, allocated.
pub(crate) const FALLOC_FL_ZERO_RANGE: u32 = raw::FALLOC_FL_ZERO_RANGE;
/// `fallocate(2)` mode: remove the range, moving what follows down.
pub(crate) const FALLOC_FL_COLLAPSE_RANGE: u32 = raw::FALLOC_FL_COLLAPSE_RANGE;
/// `fallocate(2)` mode: insert a hole, moving what follows up.
pub(crate) const FALLOC_FL_INSERT_RANGE: u32 = raw::FALLOC_FL_INSERT_RANGE;

/// The operations of open regular files (`struct file_operations`) that
/// the filesystem provides; reads, writes and `mmap` go through iomap
/// ([`super::iomap_ops::IomapOperations`]).
pub(crate) trait FileOperations: FileSystem {
    /// Makes the inode durable after its data was written back (`fsync`).
    /// Default: nothing more to do.
    fn fsync(_inode: &INode<Self>, _datasync: bool) -> Result {
        Ok(())
    }

    /// `fallocate(2)` on a regular file, quiesced (as for
    /// [`super::inode_ops::InodeOperations::setattr_size`]); for a punch
    /// or a zeroing, the DAX pages of the range are unmapped and unpinned;
    /// for a collapse or an insert, those from the offset to the end of
    /// the file.
    /// Default: `EOPNOTSUPP`.
    fn fallocate(_inode: &Quiesced<'_, Self>, _mode: u32, _offset: u64, _len: u64) -> Result {
        Err(eopnotsupp())
    }

    /// Whether closing a descriptor of the regular file `inode` that was
    /// opened for writing has work for [`FileOperations::release`]; asked
    /// without the layer's locks, so closes without work take none.
    /// Default: no.
    fn wants_release(_inode: &INode<Self>) -> bool {
        false
    }

    /// The last reference to a descriptor of a regular file opened for
    /// writing is gone (`->release`); the file is quiesced. An error is
    /// logged; `close(2)` has returned already.
    fn release(_inode: &Quiesced<'_, Self>) -> Result {
        Ok(())
    }

    /// A write is about to start at byte `pos`, beyond the end of the
    /// regular file `inode`; the old last block has been zeroed past the
    /// size. Asked only when [`FileOperations::wants_release`] says there
    /// is state beyond the size (what a release gives back is what a write
    /// past the end must not turn into file data), with the file quiesced.
    fn write_past_eof(_inode: &Quiesced<'_, Self>, _pos: u64) -> Result {
        Ok(())
    }

    /// A private ioctl that returns data (`_IOR`), on a file or directory:
    /// the answer goes to `out` ([`IoctlOut::write`]). Default: `ENOTTY`,
    /// an unknown command.
    fn ioctl_read(_inode: &INode<Self>, _cmd: u32, _out: IoctlOut) -> Result {
        Err(ENOTTY)
    }
}

/// The user buffer of a private `_IOR` ioctl: `_IOC_SIZE(cmd)` bytes at
/// the address the caller passed.
pub(crate) struct IoctlOut {
    writer: UserSliceWriter,
}

impl IoctlOut {
    /// Copies `value`, a structure of the uapi header ([`super::uapi`]),
    /// to the caller: `EINVAL` unless the command's size is exactly the
    /// structure's (then nothing is copied), `EFAULT` for a bad address.
    pub(crate) fn write<V: AsBytes>(mut self, value: &V) -> Result {
        if self.writer.len() != core::mem::size_of::<V>() {
            return Err(EINVAL);
        }
        self.writer.write(value)
    }
}

/// The operations of open directories (`struct file_operations` of a
/// directory).
pub(crate) trait DirOperations: FileSystem {
    /// Emits the entries of `dir` from the emitter's position on.
    fn readdir(dir: &INode<Self>, emitter: &mut DirEmitter<'_>) -> Result;
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
        // SAFETY: `ctx` is valid during the call (type invariant); the VFS
        // holds the directory lock shared and owns `ctx` exclusively for
        // this call.
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

impl<T: Operations> Tables<T> {
    pub(super) const DIR_FOPS: raw::file_operations = raw::file_operations {
        llseek: Some(raw::generic_file_llseek),
        read: Some(raw::generic_read_dir),
        iterate_shared: Some(Self::iterate_shared),
        // Directory changes are written synchronously as they happen.
        fsync: Some(raw::noop_fsync),
        unlocked_ioctl: Some(Self::ioctl),
        // SAFETY: All-zero means "no callback" for every other member.
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
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by the VFS when a regular file of ours is opened.
    unsafe extern "C" fn open(inode: *mut raw::inode, file: *mut raw::file) -> c_int {
        // SAFETY: Per the contract the inode is live and ours.
        if let Err(e) = unsafe { INode::<T>::from_raw(inode) }.check_up() {
            return e.to_errno();
        }
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
        // SAFETY: Per the contract the inode is live and ours.
        let i = unsafe { INode::<T>::from_raw(inode) };
        // No reference to the file is left, so no collapse holds it.
        // SAFETY: Per the contract the file is live.
        if unsafe { raw::r2dax_file_marked(file) } {
            i.layer().collapsible.fetch_sub(1, Ordering::AcqRel);
        }
        // SAFETY: The file is live (per the contract); `f_mode` does not
        // change any more.
        let written = unsafe { (*file).f_mode } & raw::FMODE_WRITE != 0;
        // A shut-down filesystem trims nothing (it could not write it).
        if !written || i.sb().is_shut_down() || !T::wants_release(i) {
            return 0;
        }
        // The locks of truncate (see `setattr`). Nothing is held on entry
        // (`__fput` runs in process context without locks), so the usual
        // lock order holds.
        let r = {
            let locked = i.lock();
            let q = locked.quiesce();
            T::release(&q)
        };
        if let Err(e) = r {
            crate::vfs::print::sb_err!(i.sb(), "inode {}: release failed ({:?})", i.ino(), e);
        }
        0
    }

    /// # Safety
    ///
    /// Called by the VFS for `read(2)` on an open regular file of ours.
    unsafe extern "C" fn read_iter(iocb: *mut raw::kiocb, to: *mut raw::iov_iter) -> isize {
        // SAFETY: Per the contract the kiocb is live, for an open file.
        let (file, flags) = unsafe { ((*iocb).ki_filp, (*iocb).ki_flags) };
        // SAFETY: An open regular file of ours has a live inode of ours.
        let i = unsafe { INode::<T>::from_raw((*file).f_inode) };
        if i.check_up().is_err() {
            return EIO_ISIZE;
        }
        // Every read holds the inode lock shared: it excludes truncate,
        // writes and DAX mode switches, so the mode read here holds until
        // the read is done (a buffered read must not add folios to a file
        // that became DAX meanwhile).
        let _locked = if flags as u32 & raw::IOCB_NOWAIT != 0 {
            match i.try_lock_shared() {
                Some(g) => g,
                None => return -(raw::EAGAIN as isize),
            }
        } else {
            i.lock_shared()
        };
        if i.is_dax() {
            // SAFETY: The arguments are the call's; `IOMAP_OPS` is
            // `'static`.
            let r = unsafe { raw::dax_iomap_rw(iocb, to, &Self::IOMAP_OPS) };
            // SAFETY: The file is open.
            unsafe { raw::r2dax_file_accessed(file) };
            r
        } else if flags as u32 & raw::IOCB_DIRECT != 0 {
            // SAFETY: The arguments are the call's, with the inode locked.
            let r = unsafe { Self::dio_rw(iocb, to, 0) };
            // SAFETY: The file is open.
            unsafe { raw::r2dax_file_accessed(file) };
            r
        } else {
            // SAFETY: The arguments are the call's.
            unsafe { raw::generic_file_read_iter(iocb, to) }
        }
    }

    /// Direct I/O through iomap (`iomap_dio_rw`) with r2dax's mapping and
    /// no dio operations, private data or completion flags.
    ///
    /// # Safety
    ///
    /// `iocb` and `iter` are the arguments of a `read_iter` or `write_iter`
    /// call in progress on a file of ours, whose inode lock the caller
    /// holds.
    unsafe fn dio_rw(iocb: *mut raw::kiocb, iter: *mut raw::iov_iter, dio_flags: u32) -> isize {
        let (ops, no_dops, no_priv) = (&Self::IOMAP_OPS, core::ptr::null(), core::ptr::null_mut());
        // SAFETY: Per the function contract; `IOMAP_OPS` is `'static`.
        unsafe { raw::iomap_dio_rw(iocb, iter, ops, no_dops, dio_flags, no_priv, 0) }
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
        // SAFETY: An open regular file of ours has a live inode of ours.
        let i = unsafe { INode::<T>::from_raw((*file).f_inode) };
        if i.check_up().is_err() {
            return EIO_ISIZE;
        }
        // As `read_iter`: the page-cache splice runs with the inode lock
        // shared (as xfs), so the mode cannot change under it.
        let locked = i.lock_shared();
        if i.is_dax() {
            drop(locked);
            // `copy_splice_read` calls `read_iter`, which takes the lock
            // itself and decides again.
            // SAFETY: The arguments are the call's.
            return unsafe { raw::copy_splice_read(file, ppos, pipe, len, flags) };
        }
        // SAFETY: The arguments are the call's.
        unsafe { raw::filemap_splice_read(file, ppos, pipe, len, flags) }
    }

    /// # Safety
    ///
    /// Called by the VFS for a `write(2)` on an open regular file of ours.
    unsafe extern "C" fn write_iter(iocb: *mut raw::kiocb, from: *mut raw::iov_iter) -> isize {
        // SAFETY: Per the contract the kiocb is live, for an open file.
        let file = unsafe { (*iocb).ki_filp };
        // SAFETY: An open regular file of ours has a live inode of ours.
        let i = unsafe { INode::<T>::from_raw((*file).f_inode) };
        if i.check_up().is_err() {
            return EIO_ISIZE;
        }
        let ret = {
            let locked = i.lock();
            // SAFETY: The arguments are this call's, on `locked`'s file.
            unsafe { Self::write_locked(&locked, iocb, from, file) }
        };
        if ret <= 0 {
            return ret;
        }
        // SAFETY: The arguments are the call's; O_SYNC and O_DSYNC are
        // handled once the inode lock is dropped, as in every iomap
        // filesystem.
        unsafe { raw::r2dax_generic_write_sync(iocb, ret) }
    }

    /// The part of a write under the inode lock; the steps are those of
    /// every iomap buffered write (ext2, xfs): checks, privileges and
    /// times, then the copy.
    ///
    /// # Safety
    ///
    /// `iocb`, `from` and `file` are the arguments of a `write_iter` call
    /// in progress on `locked`'s file.
    unsafe fn write_locked(
        locked: &InodeLocked<'_, T, Excl>,
        iocb: *mut raw::kiocb,
        from: *mut raw::iov_iter,
        file: *mut raw::file,
    ) -> isize {
        // SAFETY: Per the function contract, with the inode locked.
        let ret = unsafe { raw::generic_write_checks(iocb, from) };
        if ret <= 0 {
            return ret;
        }
        // SAFETY: The file is open and its inode locked.
        let mut err = unsafe { raw::file_remove_privs(file) };
        if err == 0 {
            // SAFETY: The file is open and its inode locked, as
            // `file_update_time` needs.
            err = unsafe { raw::file_update_time(file) };
        }
        if err != 0 {
            return err as isize;
        }
        // A write that starts beyond the end of the file first zeroes the
        // rest of the old last block (as xfs's `xfs_file_write_zero_eof`),
        // in either mode: a store through a mapping may have left bytes
        // there, which the new size would expose. Preallocated blocks it
        // jumps over go back, so that they become a hole.
        let old = locked.size();
        // SAFETY: Per the function contract.
        let pos = unsafe { (*iocb).ki_pos };
        if pos > 0 && pos as u64 > old {
            if let Err(e) = Self::write_past_eof(locked, old, pos as u64) {
                return e.to_errno() as isize;
            }
        }
        // SAFETY: Per the function contract.
        let direct = unsafe { (*iocb).ki_flags } as u32 & raw::IOCB_DIRECT != 0;
        if locked.is_dax() {
            // SAFETY: Per the function contract.
            unsafe { Self::dax_write(locked, iocb, from) }
        } else if direct {
            // SAFETY: Per the function contract.
            unsafe { Self::direct_write(locked, iocb, from) }
        } else {
            // SAFETY: Per the function contract.
            unsafe { Self::buffered_write(locked, iocb, from) }
        }
    }

    /// Prepares a write at `pos` beyond the end of the file (`size`):
    /// zeroes the rest of the old last block, and lets the filesystem drop
    /// what lies beyond the size that the write would otherwise bring
    /// inside it ([`FileOperations::write_past_eof`]), with the file quiesced.
    fn write_past_eof(locked: &InodeLocked<'_, T, Excl>, size: u64, pos: u64) -> Result {
        locked.zero_tail(size)?;
        if !T::wants_release(locked) {
            return Ok(());
        }
        let q = locked.quiesce();
        T::write_past_eof(&q, pos)
    }

    /// A write to a DAX file (buffered or O_DIRECT alike): blocks are
    /// allocated zeroed in `iomap_begin`, the data goes straight to the
    /// media, then the size grows. The inode (size) is written back by
    /// fsync or writeback, like a buffered write's.
    ///
    /// # Safety
    ///
    /// As [`Self::write_locked`], whose checks have run.
    unsafe fn dax_write(
        locked: &InodeLocked<'_, T, Excl>,
        iocb: *mut raw::kiocb,
        from: *mut raw::iov_iter,
    ) -> isize {
        // SAFETY: Per the function contract (`write_locked` zeroed the old
        // last block already for a write beyond the end).
        let ret = unsafe { raw::dax_iomap_rw(iocb, from, &Self::IOMAP_OPS) };
        // SAFETY: Per the function contract.
        let end = unsafe { (*iocb).ki_pos };
        if ret > 0 && end > 0 && end as u64 > locked.size() {
            locked.set_size(end as u64);
            locked.mark_dirty();
        }
        ret
    }

    /// A buffered write. iomap raises the size in memory and leaves
    /// writing it to the filesystem: the inode is marked dirty when the
    /// size grew, so writeback writes it after the data (a write that
    /// changes no timestamp, within the same clock tick as the last one,
    /// would otherwise leave the old size on the media).
    ///
    /// # Safety
    ///
    /// As [`Self::write_locked`], whose checks have run.
    unsafe fn buffered_write(
        locked: &InodeLocked<'_, T, Excl>,
        iocb: *mut raw::kiocb,
        from: *mut raw::iov_iter,
    ) -> isize {
        let old = locked.size();
        // SAFETY: Per the function contract; `IOMAP_OPS` is `'static`.
        let ret = unsafe {
            raw::iomap_file_buffered_write(iocb, from, &Self::IOMAP_OPS, core::ptr::null_mut())
        };
        if locked.size() > old {
            locked.mark_dirty();
        }
        ret
    }

    /// An O_DIRECT write. Blocks are allocated (zeroed) in `iomap_begin`;
    /// a write that extends the file waits for its I/O, then the new size
    /// is set and the inode written, so the size never covers data that is
    /// not on the media.
    ///
    /// # Safety
    ///
    /// As [`Self::write_locked`], whose checks have run.
    unsafe fn direct_write(
        locked: &InodeLocked<'_, T, Excl>,
        iocb: *mut raw::kiocb,
        from: *mut raw::iov_iter,
    ) -> isize {
        // SAFETY: Per the function contract.
        let pos = unsafe { (*iocb).ki_pos };
        // SAFETY: Per the function contract.
        let count = unsafe { raw::r2dax_iov_iter_count(from) } as raw::loff_t;
        let size = locked.size() as raw::loff_t;
        let flags = if pos + count > size {
            raw::IOMAP_DIO_FORCE_WAIT
        } else {
            0
        };
        // SAFETY: Per the function contract.
        let ret = unsafe { Self::dio_rw(iocb, from, flags) };
        if ret > 0 && pos + ret as raw::loff_t > locked.size() as raw::loff_t {
            locked.set_size((pos + ret as raw::loff_t) as u64);
            if let Err(e) = T::write_inode(locked, true) {
                return e.to_errno() as isize;
            }
        }
        if ret == -(raw::ENOTBLK as isize) {
            // The page cache could not be invalidated: the buffered path
            // does the write instead, as other iomap filesystems.
            // SAFETY: Per the function contract.
            return unsafe { Self::buffered_write(locked, iocb, from) };
        }
        ret
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
            // SAFETY: Per the contract the file is open.
            unsafe { INode::<T>::from_raw((*file).f_inode) }.check_up()?;
            // SAFETY: Per the contract: data first, then the inode.
            let inode = unsafe {
                kernel::error::to_result(raw::file_write_and_wait_range(file, start, end))?;
                INode::<T>::from_raw((*file).f_inode)
            };
            T::fsync(inode, datasync != 0)?;
            Ok(0)
        })
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
        // SAFETY: Per the contract the file is open.
        let inode = unsafe { (*file).f_inode };
        // SAFETY: An open regular file of ours has a live inode of ours.
        let i = unsafe { INode::<T>::from_raw(inode) };
        if i.check_up().is_err() {
            return EIO_ISIZE;
        }
        let mode = mode as u32;
        // The locks of truncate: the inode lock excludes writes and
        // truncate; quiescing drains direct I/O and excludes page faults
        // while blocks go away.
        let locked = i.lock();
        let mut q = locked.quiesce();
        let r = (|| -> Result {
            // A size-changing mode obeys RLIMIT_FSIZE (EFBIG and SIGXFSZ),
            // which vfs_fallocate leaves to the filesystem; the VFS has
            // checked s_maxbytes and overflow already.
            // A collapse shrinks the file; an insert grows it, and, as on
            // ext4 and xfs, only the largest file size limits it (the
            // filesystem checks, after the range).
            let end = match mode {
                FALLOC_FL_INSERT_RANGE | FALLOC_FL_COLLAPSE_RANGE => 0,
                _ => offset.saturating_add(len),
            };
            if mode & FALLOC_FL_KEEP_SIZE == 0 && end > 0 && end as u64 > q.size() {
                // SAFETY: The inode is live.
                kernel::error::to_result(unsafe { raw::inode_newsize_ok(inode, end) })?;
            }
            let (Ok(o), Ok(l)) = (u64::try_from(offset), u64::try_from(len)) else {
                return Err(EINVAL);
            };
            // Punching and zeroing free blocks: wait for DAX pins of the
            // range first. Collapsing and inserting move every block from
            // the offset on: wait for the pins of all of them before any
            // moves (a pinned page would keep being written by its holder
            // at its old place in the file). Preallocation frees nothing,
            // so it waits for no pin (one may be held for as long as a pipe
            // keeps a page); it unmaps and drops the zero-page entries of
            // the holes it fills itself.
            if mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE) != 0 {
                q.break_layouts(o, o.saturating_add(l).saturating_sub(1))?;
            } else if mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE) != 0 {
                q.break_layouts(o, u64::MAX)?;
            }
            // Before the change, as ext4: an error here must not come
            // after a change that cannot be repeated (a collapse, an
            // insert), or a caller that retries would repeat it.
            // SAFETY: The file is open and its inode locked.
            kernel::error::to_result(unsafe { raw::file_modified(file) })?;
            T::fallocate(&q, mode, o, l)
        })();
        drop(q);
        drop(locked);
        match r {
            Ok(()) => 0,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for `mmap(2)` of an open regular file of ours
    /// (`mmap_lock` held for writing; the VMA is not linked anywhere yet).
    unsafe extern "C" fn mmap(file: *mut raw::file, vma: *mut raw::vm_area_struct) -> c_int {
        // SAFETY: An open regular file of ours has a live inode of ours.
        let i = unsafe { INode::<T>::from_raw((*file).f_inode) };
        if let Err(e) = i.check_up() {
            return e.to_errno();
        }
        // The invalidate lock (shared) excludes a mode switch from reading
        // the mode here to counting the VMA, so a switch either sees the
        // count or happened before the read.
        let _inval = i.invalidate_lock_shared();
        let dax = i.is_dax();
        let dev = i
            .sb()
            .dax_device()
            .map_or(core::ptr::null_mut(), |d| d.as_raw());
        // MAP_SYNC needs a DAX file on a synchronous DAX device.
        // SAFETY: Per the contract the VMA is valid; `dev` is null or the
        // superblock's DAX device, live while it is mounted.
        if !unsafe { raw::r2dax_daxdev_mapping_supported(vma, dev) } {
            return eopnotsupp().to_errno();
        }
        // SAFETY: The file is open.
        unsafe { raw::r2dax_file_accessed(file) };
        let ops: &'static raw::vm_operations_struct = if dax {
            &Self::DAX_VM_OPS
        } else {
            &Self::VM_OPS
        };
        // SAFETY: The VMA is being set up and not linked yet, so its
        // operations are ours to set. Its flags are left alone: a flag
        // change would let mmap_region merge the new VMA away without
        // `close` (see dax.rst).
        unsafe { raw::r2dax_vma_set_ops(vma, ops) };
        i.layer().mmaps.fetch_add(1, Ordering::AcqRel);
        // A page-cache mapping of a file open read-only is one that
        // khugepaged may collapse: the file is counted until it is
        // released (see `LayerInode::collapsible`).
        // SAFETY: The file is open; `f_mode` is stable while it is.
        let read_only = unsafe { (*file).f_mode } & raw::FMODE_WRITE == 0;
        // SAFETY: A plain query of the kernel configuration.
        if !dax && read_only && unsafe { raw::r2dax_collapse_possible() } {
            // SAFETY: The file is open; the mark is set at most once.
            if unsafe { raw::r2dax_file_mark_mapped(file) } {
                i.layer().collapsible.fetch_add(1, Ordering::AcqRel);
            }
        }
        0
    }

    /// # Safety
    ///
    /// Called by the VFS for `lseek(2)` on an open regular file of ours.
    unsafe extern "C" fn llseek(
        file: *mut raw::file,
        offset: raw::loff_t,
        whence: c_int,
    ) -> raw::loff_t {
        let whence_u = whence as u32;
        if whence_u != raw::SEEK_HOLE && whence_u != raw::SEEK_DATA {
            // SAFETY: The arguments are the call's.
            return unsafe { raw::generic_file_llseek(file, offset, whence) };
        }
        // SAFETY: Per the contract the file is open.
        let inode = unsafe { (*file).f_inode };
        // SAFETY: An open regular file of ours has a live inode of ours.
        let i = unsafe { INode::<T>::from_raw(inode) };
        // SEEK_HOLE and SEEK_DATA walk the map through iomap under the
        // inode lock (shared), as FIEMAP does.
        let pos = {
            let _locked = i.lock_shared();
            if whence_u == raw::SEEK_HOLE {
                // SAFETY: The inode is live; `IOMAP_OPS` is `'static`.
                unsafe { raw::iomap_seek_hole(inode, offset, &Self::IOMAP_OPS) }
            } else {
                // SAFETY: The inode is live; `IOMAP_OPS` is `'static`.
                unsafe { raw::iomap_seek_data(inode, offset, &Self::IOMAP_OPS) }
            }
        };
        if pos < 0 {
            return pos;
        }
        // SAFETY: The file is open; `s_maxbytes` is set at mount and never
        // changes.
        unsafe { raw::vfs_setpos(file, pos, (*i.sb().as_raw()).s_maxbytes) }
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
        // SAFETY: An open regular file of ours has a live inode of ours.
        let i = unsafe { INode::<T>::from_raw((*file).f_inode) };
        if let Err(e) = i.check_up() {
            return e.to_errno();
        }
        // Readahead adds folios: the inode lock (shared) keeps the mode
        // stable meanwhile, as in `read_iter`.
        let _locked = i.lock_shared();
        // SAFETY: The arguments are the call's.
        unsafe { raw::generic_fadvise(file, offset, len, advice) }
    }

    /// # Safety
    ///
    /// Called by the VFS for an ioctl it does not handle itself, on an open
    /// file or directory of ours; `arg` is a user pointer for ours.
    unsafe extern "C" fn ioctl(file: *mut raw::file, cmd: c_uint, arg: usize) -> isize {
        if cmd == raw::R2DAX_IOC_SHUTDOWN {
            // SAFETY: Per the contract the file is open, so its inode live.
            let inode = unsafe { INode::<T>::from_raw((*file).f_inode) };
            return match Self::shutdown_ioctl(inode, arg) {
                Ok(()) => 0,
                Err(e) => e.to_errno() as isize,
            };
        }
        let size = _IOC_SIZE(cmd);
        if _IOC_DIR(cmd) != raw::_IOC_READ {
            return -(raw::ENOTTY as isize);
        }
        let r = (|| -> Result<isize> {
            // SAFETY: Per the contract the file is open, so its inode live.
            let inode = unsafe { INode::<T>::from_raw((*file).f_inode) };
            // The status ioctl looks at DAX pages (pins): not once the
            // device may be gone.
            inode.check_up()?;
            let writer = UserSlice::new(arg, size).writer();
            T::ioctl_read(inode, cmd, IoctlOut { writer })?;
            Ok(0)
        })();
        match r {
            Ok(v) => v,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for an open directory of ours with the directory
    /// lock held shared.
    unsafe extern "C" fn iterate_shared(file: *mut raw::file, ctx: *mut raw::dir_context) -> c_int {
        from_result(|| {
            // SAFETY: An open file of ours has a live inode of ours.
            let dir = unsafe { INode::<T>::from_raw((*file).f_inode) };
            dir.check_up()?;
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
}
