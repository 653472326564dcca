// SPDX-License-Identifier: GPL-2.0
//! File operations: `struct file_operations` of regular files and
//! directories (read, write, `mmap`, `fsync`, `fallocate`, seeking,
//! ioctls, readdir).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::errno::eopnotsupp;
use super::fs::{DirEmitter, FileSystem, Tables};
use super::inode::INode;
use super::raw;
use core::ffi::{c_int, c_uint};
use core::marker::PhantomData;
use core::sync::atomic::Ordering;
use kernel::error::from_result;
use kernel::prelude::*;

/// `FALLOC_FL_KEEP_SIZE` of include/uapi/linux/falloc.h.
const FALLOC_FL_KEEP_SIZE: u32 = 0x01;
/// `FALLOC_FL_PUNCH_HOLE`.
const FALLOC_FL_PUNCH_HOLE: u32 = 0x02;
/// `FALLOC_FL_ZERO_RANGE`.
const FALLOC_FL_ZERO_RANGE: u32 = 0x10;

impl<T: FileSystem> Tables<T> {
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
    /// Called by the VFS for `mmap(2)` of an open regular file of ours
    /// (`mmap_lock` held for writing; the VMA is not linked anywhere yet).
    unsafe extern "C" fn mmap(file: *mut raw::file, vma: *mut raw::vm_area_struct) -> c_int {
        // SAFETY: Per the contract. The invalidate lock (shared) excludes a
        // mode switch from reading the mode here to counting the VMA, so a
        // switch either sees the count or happened before the read. The
        // VMA's flags are left alone: a flag change would let mmap_region
        // merge the new VMA away without `close` (see dax.rst).
        unsafe {
            let inode = raw::r2dax_file_inode(file);
            let i = INode::<T>::from_raw(inode);
            raw::r2dax_invalidate_lock_shared(inode);
            let dax = i.is_dax();
            let dev = i
                .sb()
                .dax_device()
                .map_or(core::ptr::null_mut(), |d| d.as_raw());
            // MAP_SYNC needs a DAX file on a synchronous DAX device.
            if !raw::r2dax_daxdev_mapping_supported(vma, dev) {
                raw::r2dax_invalidate_unlock_shared(inode);
                return eopnotsupp().to_errno();
            }
            raw::r2dax_file_accessed(file);
            let ops: &'static raw::vm_operations_struct = if dax {
                &Self::DAX_VM_OPS
            } else {
                &Self::VM_OPS
            };
            raw::r2dax_vma_set_ops(vma, ops);
            i.layer().mmaps.fetch_add(1, Ordering::AcqRel);
            // A page-cache mapping of a file open read-only is one that
            // khugepaged may collapse: the file is counted until it is
            // released (see `LayerInode::collapsible`).
            if !dax
                && (*file).f_mode & raw::FMODE_WRITE == 0
                && raw::r2dax_collapse_possible()
                && raw::r2dax_file_mark_mapped(file)
            {
                i.layer().collapsible.fetch_add(1, Ordering::AcqRel);
            }
            raw::r2dax_invalidate_unlock_shared(inode);
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
}
