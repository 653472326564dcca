// SPDX-License-Identifier: GPL-2.0
//! iomap operations: `struct iomap_ops`, through which the kernel's iomap
//! and DAX code ask where a file range lives.
//!
//! C header: [`include/linux/iomap.h`](srctree/include/linux/iomap.h)

use super::fs::{FileSystem, MapKind, Tables};
use super::inode::INode;
use super::raw;
use core::ffi::{c_int, c_uint};
use kernel::error::from_result;
use kernel::prelude::*;

impl<T: FileSystem> Tables<T> {
    pub(super) const IOMAP_OPS: raw::iomap_ops = raw::iomap_ops {
        iomap_begin: Some(Self::iomap_begin),
        iomap_end: None,
    };

    /// # Safety
    ///
    /// Called by iomap for an inode of ours with a valid `iomap` to fill.
    pub(super) unsafe extern "C" fn iomap_begin(
        inode: *mut raw::inode,
        pos: raw::loff_t,
        length: raw::loff_t,
        flags: c_uint,
        iomap: *mut raw::iomap,
        _srcmap: *mut raw::iomap,
    ) -> c_int {
        from_result(|| {
            // SAFETY: iomap passes a live inode of ours.
            let i = unsafe { INode::<T>::from_raw(inode) };
            let pos = u64::try_from(pos).map_err(|_| EINVAL)?;
            let len = u64::try_from(length).map_err(|_| EINVAL)?;
            let m = T::iomap_begin(i, pos, len, flags)?;
            // SAFETY: `iomap` is valid for writes; the block device of a
            // mounted superblock is live.
            unsafe {
                (*iomap).offset = m.offset as _;
                (*iomap).length = m.length;
                (*iomap).flags = 0;
                (*iomap).validity_cookie = m.cookie;
                (*iomap).bdev = (*(*inode).i_sb).s_bdev;
                (*iomap).dax_dev = core::ptr::null_mut();
                match m.kind {
                    MapKind::Hole => {
                        (*iomap).type_ = raw::IOMAP_HOLE as u16;
                        (*iomap).addr = raw::IOMAP_NULL_ADDR as u64;
                    }
                    MapKind::Mapped(addr) => {
                        (*iomap).type_ = raw::IOMAP_MAPPED as u16;
                        (*iomap).addr = addr;
                    }
                    MapKind::Unwritten(addr) => {
                        (*iomap).type_ = raw::IOMAP_UNWRITTEN as u16;
                        (*iomap).addr = addr;
                    }
                }
                // A DAX access addresses the DAX device, which starts at
                // the partition's offset.
                if flags & raw::IOMAP_DAX != 0 {
                    if let Some(dev) = i.sb().dax_device() {
                        (*iomap).dax_dev = dev.as_raw();
                        if let MapKind::Mapped(_) | MapKind::Unwritten(_) = m.kind {
                            (*iomap).addr += dev.part_off();
                        }
                    }
                }
                if m.new {
                    (*iomap).flags |= raw::IOMAP_F_NEW as u16;
                }
                if m.dirty {
                    (*iomap).flags |= raw::IOMAP_F_DIRTY as u16;
                }
            }
            Ok(0)
        })
    }
}
