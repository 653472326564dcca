// SPDX-License-Identifier: GPL-2.0
//! iomap operations: `struct iomap_ops`, through which the kernel's iomap
//! and DAX code ask where a file range lives.
//!
//! C header: [`include/linux/iomap.h`](srctree/include/linux/iomap.h)

use super::fs::{FileSystem, Operations, Tables};
use super::raw;
use super::vfs_inode::INode;
use core::ffi::{c_int, c_uint};
use kernel::error::from_result;
use kernel::prelude::*;

/// The block mapping of a filesystem (`struct iomap_ops`), through which
/// reads, writes, faults, DAX, FIEMAP and seeking find the blocks of a
/// file.
pub(crate) trait IomapOperations: FileSystem {
    /// Maps the file range starting at byte `pos` (at most `len` bytes) of
    /// a regular file or symlink to the device (`->iomap_begin`).
    fn iomap_begin(inode: &INode<Self>, pos: u64, len: u64, flags: u32) -> Result<Mapping>;

    /// Whether a [`Mapping`] with `cookie` still describes the file: no
    /// block it could name has been unmapped (punched, truncated, trimmed)
    /// since it was made. Asked by writeback before it reuses a mapping
    /// for another folio, with that folio locked. Default: never, so
    /// writeback maps every folio afresh.
    fn mapping_valid(_inode: &INode<Self>, _cookie: u64) -> bool {
        false
    }
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
    /// [`IomapOperations::mapping_valid`] says the generation is current.
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

impl<T: Operations> Tables<T> {
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
            // Reads, writes, faults and writeback of a shut-down
            // filesystem end here: nothing reaches the device.
            i.check_up()?;
            let pos = u64::try_from(pos).map_err(|_| EINVAL)?;
            let len = u64::try_from(length).map_err(|_| EINVAL)?;
            let mut m = T::iomap_begin(i, pos, len, flags)?;
            if flags & raw::IOMAP_REPORT == 0 {
                m = i.sb().avoid_poison(m, pos, len, flags)?;
            }
            let (type_, mut addr) = match m.kind {
                MapKind::Hole => (raw::IOMAP_HOLE, raw::IOMAP_NULL_ADDR as u64),
                MapKind::Mapped(addr) => (raw::IOMAP_MAPPED, addr),
                MapKind::Unwritten(addr) => (raw::IOMAP_UNWRITTEN, addr),
            };
            // A DAX access addresses the DAX device, which starts at the
            // partition's offset.
            let mut dax_dev = core::ptr::null_mut();
            if flags & raw::IOMAP_DAX != 0 {
                if let Some(dev) = i.sb().dax_device() {
                    dax_dev = dev.as_raw();
                    if !matches!(m.kind, MapKind::Hole) {
                        addr += dev.part_off();
                    }
                }
            }
            let mut map_flags = 0;
            if m.new {
                map_flags |= raw::IOMAP_F_NEW;
            }
            if m.dirty {
                map_flags |= raw::IOMAP_F_DIRTY;
            }
            let map = raw::iomap {
                addr,
                offset: m.offset as _,
                length: m.length,
                type_: type_ as u16,
                flags: map_flags as u16,
                bdev: i.sb().bdev(),
                dax_dev,
                validity_cookie: m.cookie,
                // No inline data, private data or folio operations.
                ..Default::default()
            };
            // SAFETY: iomap passes a valid `iomap` to fill.
            unsafe { iomap.write(map) };
            Ok(0)
        })
    }
}
