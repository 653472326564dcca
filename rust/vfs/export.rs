// SPDX-License-Identifier: GPL-2.0
//! NFS export: `struct export_operations` on top of a filesystem's
//! [`ExportOperations`].
//!
//! C header: [`include/linux/exportfs.h`](srctree/include/linux/exportfs.h)
//!
//! File handles are the kernel's for 32-bit inode numbers
//! (`generic_encode_ino32_fh`): `FILEID_INO32_GEN`, the inode number and
//! its generation, with the parent's for a connectable handle
//! (`FILEID_INO32_GEN_PARENT`).
//! Decoding goes through `generic_fh_to_dentry` and
//! `generic_fh_to_parent`, which call back [`ExportOperations::handle_inode`];
//! a directory's dentry is reconnected to the tree through
//! [`ExportOperations::parent`] (`get_parent`, its "..").
//!
//! Locking, as exportfs calls in: `fh_to_dentry` and `fh_to_parent` with
//! no lock; `get_parent` with the child directory's inode lock held
//! exclusively (`reconnect_one` in 6.12's fs/exportfs/expfs.c locks it
//! around the call).

use super::errno::err_ptr;
use super::fs::{FileSystem, Operations, Tables};
use super::raw;
use super::sb::SuperBlock;
use super::vfs_inode::INode;
use core::ffi::c_int;
use kernel::prelude::*;
use kernel::types::ARef;

/// The file-handle operations of a filesystem. The defaults say that
/// every handle is stale.
pub(crate) trait ExportOperations: FileSystem {
    /// The inode `ino` of generation `generation`, for a file handle:
    /// `ESTALE` if the number is not an inode a handle can name, if the
    /// inode is free (or unlinked and closed), or if its generation
    /// differs (the number was reused).
    fn handle_inode(
        _sb: &SuperBlock<Self>,
        _ino: u64,
        _generation: u32,
    ) -> Result<ARef<INode<Self>>> {
        Err(super::errno::estale())
    }

    /// The parent of directory `dir` (what its ".." names).
    fn parent(_dir: &INode<Self>) -> Result<ARef<INode<Self>>> {
        Err(super::errno::estale())
    }
}

impl<T: Operations> Tables<T> {
    /// `s_export_op`.
    pub(super) const EXPORT_OPS: raw::export_operations = raw::export_operations {
        // 6.12 calls `encode_fh` unconditionally (exportfs_encode_inode_fh):
        // the kernel's helper for 32-bit inode numbers, as ext2 and ext4.
        encode_fh: Some(raw::generic_encode_ino32_fh),
        fh_to_dentry: Some(Self::fh_to_dentry),
        fh_to_parent: Some(Self::fh_to_parent),
        get_parent: Some(Self::get_parent),
        // SAFETY: All-zero means "no callback" (the default `get_name` and
        // `commit_metadata`) and no flags.
        ..unsafe { core::mem::zeroed() }
    };

    /// The `get_inode` callback of `generic_fh_to_dentry`.
    ///
    /// # Safety
    ///
    /// Called by exportfs with a live superblock of ours.
    unsafe extern "C" fn handle_inode_cb(
        sb: *mut raw::super_block,
        ino: u64,
        generation: u32,
    ) -> *mut raw::inode {
        // SAFETY: Per the contract; a superblock that serves file handles
        // is mounted, so its `SbData` is set (state `Ready`).
        let sb = unsafe { SuperBlock::<T>::from_raw(sb) };
        if let Err(e) = sb.check_up() {
            return err_ptr(e);
        }
        match T::handle_inode(sb, ino, generation) {
            Ok(i) => ARef::into_raw(i).as_ptr().cast::<raw::inode>(),
            Err(e) => err_ptr(e),
        }
    }

    /// # Safety
    ///
    /// Called by exportfs (`exportfs_decode_fh_raw`) with a live
    /// superblock of ours and a file handle of `fh_len` 32-bit words.
    unsafe extern "C" fn fh_to_dentry(
        sb: *mut raw::super_block,
        fid: *mut raw::fid,
        fh_len: c_int,
        fh_type: c_int,
    ) -> *mut raw::dentry {
        // SAFETY: Per the contract; the helper checks the handle's type
        // and length before reading it.
        unsafe { raw::generic_fh_to_dentry(sb, fid, fh_len, fh_type, Some(Self::handle_inode_cb)) }
    }

    /// # Safety
    ///
    /// As for `fh_to_dentry`.
    unsafe extern "C" fn fh_to_parent(
        sb: *mut raw::super_block,
        fid: *mut raw::fid,
        fh_len: c_int,
        fh_type: c_int,
    ) -> *mut raw::dentry {
        // SAFETY: Per the contract; the helper checks the handle's type
        // and length before reading it.
        unsafe { raw::generic_fh_to_parent(sb, fid, fh_len, fh_type, Some(Self::handle_inode_cb)) }
    }

    /// # Safety
    ///
    /// Called by exportfs (`reconnect_one`) with a positive dentry of a
    /// directory of ours.
    unsafe extern "C" fn get_parent(child: *mut raw::dentry) -> *mut raw::dentry {
        // SAFETY: Per the contract the dentry is positive and ours.
        let dir = unsafe { INode::<T>::from_raw((*child).d_inode) };
        if let Err(e) = dir.check_up() {
            return err_ptr(e);
        }
        match T::parent(dir) {
            // SAFETY: `d_obtain_alias` takes over the inode reference.
            Ok(p) => unsafe { raw::d_obtain_alias(ARef::into_raw(p).as_ptr().cast()) },
            Err(e) => err_ptr(e),
        }
    }
}
