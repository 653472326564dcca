// SPDX-License-Identifier: GPL-2.0
//! VM operations: `struct vm_operations_struct` of the mappings of a
//! regular file, one table for page-cache files and one for DAX files,
//! chosen per VMA by `->mmap` (`file_ops.rs`).
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)
//!
//! The counting of mappings that a mode switch relies on is in
//! Documentation/filesystems/r2dax/dax.rst, "Counting mappings".

use super::fs::{Operations, Tables};
use super::raw;
use super::vfs_inode::INode;
use core::ffi::c_uint;
use core::sync::atomic::Ordering;

/// Whether the VMA of a fault is a shared mapping being written: only
/// those allocate blocks and dirty the file (a private write fault copies
/// the page).
///
/// # Safety
///
/// `vmf` must be a fault in progress.
unsafe fn shared_write(vmf: *mut raw::vm_fault) -> bool {
    // SAFETY: Per the function contract the fault and its VMA are live.
    unsafe {
        (*vmf).flags & raw::FAULT_FLAG_WRITE != 0
            && raw::r2dax_vma_flags(raw::r2dax_vmf_vma(vmf)) & raw::VM_SHARED as usize != 0
    }
}

impl<T: Operations> Tables<T> {
    /// Page-cache mappings of regular files (the DAX ones are in
    /// `DAX_VM_OPS`). Installed by `->mmap` only while the file uses the
    /// page cache, which it then does until the VMA is closed.
    pub(super) const VM_OPS: raw::vm_operations_struct = raw::vm_operations_struct {
        open: Some(Self::vm_open),
        close: Some(Self::vm_close),
        fault: Some(Self::pc_fault),
        map_pages: Some(raw::filemap_map_pages),
        page_mkwrite: Some(Self::page_mkwrite),
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

    /// VMAs of a DAX file. Installed by `->mmap` only while the file is in
    /// DAX mode, and the mode cannot change while the VMA is counted, so
    /// none of these handlers looks at the mode to decide what to do.
    pub(super) const DAX_VM_OPS: raw::vm_operations_struct = raw::vm_operations_struct {
        open: Some(Self::vm_open),
        close: Some(Self::vm_close),
        fault: Some(Self::dax_fault),
        huge_fault: Some(Self::dax_huge_fault),
        page_mkwrite: Some(Self::dax_fault),
        pfn_mkwrite: Some(Self::dax_fault),
        // SAFETY: All-zero means "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by the MM for a copy of a VMA of ours (fork, split, mremap),
    /// while the original is still counted.
    unsafe extern "C" fn vm_open(vma: *mut raw::vm_area_struct) {
        // SAFETY: Per the contract the VMA maps a live file of ours.
        unsafe {
            let i = INode::<T>::from_raw((*(*vma).vm_file).f_inode);
            i.layer().mmaps.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// # Safety
    ///
    /// Called by the MM when a VMA of ours goes, after its page tables
    /// were zapped and the TLB flushed.
    unsafe extern "C" fn vm_close(vma: *mut raw::vm_area_struct) {
        // SAFETY: Per the contract the VMA still holds its file.
        unsafe {
            let i = INode::<T>::from_raw((*(*vma).vm_file).f_inode);
            let old = i.layer().mmaps.fetch_sub(1, Ordering::AcqRel);
            if old == 1 {
                i.last_unmap();
            }
            if old == 0 {
                // Unreachable by the counting argument; never wrap.
                i.layer().mmaps.store(0, Ordering::Release);
                kernel::pr_err!("r2dax: inode {}: mapping count underflow\n", i.ino());
            }
        }
    }

    /// Checks that a fault arrived through the operations of the file's
    /// mode (`dax`); the mode is stable while the VMA is counted. Reports
    /// and refuses (SIGBUS) otherwise, which would be a bug in the count.
    ///
    /// # Safety
    ///
    /// `vmf` must be a fault in progress on a VMA of ours.
    unsafe fn check_mode(vmf: *mut raw::vm_fault, dax: bool) -> bool {
        // SAFETY: Per the function contract.
        let i = unsafe { INode::<T>::from_raw((*(*raw::r2dax_vmf_vma(vmf)).vm_file).f_inode) };
        if i.is_dax() == dax {
            return true;
        }
        kernel::pr_err!(
            "r2dax: inode {}: {} fault on a {} file (BUG)\n",
            i.ino(),
            if dax { "DAX" } else { "page-cache" },
            if dax { "page-cache" } else { "DAX" }
        );
        false
    }

    /// # Safety
    ///
    /// Called by the MM for a fault on a page-cache VMA of ours.
    unsafe extern "C" fn pc_fault(vmf: *mut raw::vm_fault) -> raw::vm_fault_t {
        // Per the contract the fault's VMA maps a live file of ours and is
        // counted, on entry. `filemap_fault` may drop the mmap lock for
        // I/O (readahead) and still add folios afterwards, when the VMA may
        // be gone: the fault counts itself as a mapping user meanwhile, so
        // a mode switch that sees no users really has no fault in flight
        // (dax.rst, "Counting mappings"). Once the VMA is gone only a file
        // reference keeps the inode alive, and the one `filemap_fault`
        // takes for its I/O is dropped before it returns: the fault holds
        // its own from entry (when the VMA holds one) to after the count
        // is dropped, so the count is never touched on a freed inode.
        // SAFETY: The fault is in progress on a VMA of ours.
        if !unsafe { Self::check_mode(vmf, false) } {
            return raw::VM_FAULT_SIGBUS;
        }
        // SAFETY: The fault's VMA is live and holds its file, so taking
        // another reference is valid.
        let file = unsafe { raw::r2dax_vma_get_file(raw::r2dax_vmf_vma(vmf)) };
        // SAFETY: The file is ours and referenced; its inode is live.
        let i = unsafe { INode::<T>::from_raw((*file).f_inode) };
        let users = &i.layer().mmaps;
        users.fetch_add(1, core::sync::atomic::Ordering::AcqRel);
        // SAFETY: The fault is the call's.
        let ret = unsafe { raw::filemap_fault(vmf) };
        users.fetch_sub(1, core::sync::atomic::Ordering::AcqRel);
        // SAFETY: The reference taken above; `i` is not used after it.
        unsafe { raw::r2dax_fput(file) };
        ret
    }

    /// # Safety
    ///
    /// Called by the MM for a write fault on a shared mapping of ours.
    unsafe extern "C" fn page_mkwrite(vmf: *mut raw::vm_fault) -> raw::vm_fault_t {
        // SAFETY: Per the contract the fault is in progress on a VMA of
        // ours.
        if !unsafe { Self::check_mode(vmf, false) } {
            return raw::VM_FAULT_SIGBUS;
        }
        // SAFETY: The fault's VMA is live and holds its file, whose inode
        // is ours.
        let (vma, i) = unsafe {
            let vma = raw::r2dax_vmf_vma(vmf);
            (vma, INode::<T>::from_raw((*(*vma).vm_file).f_inode))
        };
        if i.check_up().is_err() {
            return raw::VM_FAULT_SIGBUS;
        }
        // Freeze protection as every filesystem's mkwrite; the invalidate
        // lock (shared) keeps truncate out while the fault allocates.
        let _frozen_out = i.sb().start_pagefault();
        // SAFETY: The VMA and its file are live during the fault.
        unsafe { raw::file_update_time((*vma).vm_file) };
        let _inval = i.invalidate_lock_shared();
        // SAFETY: The fault is the call's; `IOMAP_OPS` is `'static`.
        unsafe { raw::iomap_page_mkwrite(vmf, &Self::IOMAP_OPS) }
    }

    /// The DAX fault handler for every order: PTE faults (order 0, also
    /// `page_mkwrite` and `pfn_mkwrite`) and PMD faults.
    ///
    /// # Safety
    ///
    /// Called by the MM for a fault on a DAX VMA of ours.
    unsafe extern "C" fn dax_huge_fault(vmf: *mut raw::vm_fault, order: c_uint) -> raw::vm_fault_t {
        // SAFETY: Per the contract the fault is in progress on a VMA of
        // ours.
        if !unsafe { Self::check_mode(vmf, true) } {
            return raw::VM_FAULT_SIGBUS;
        }
        // SAFETY: The fault's VMA is live and holds its file, whose inode
        // is ours.
        let (vma, i) = unsafe {
            let vma = raw::r2dax_vmf_vma(vmf);
            (vma, INode::<T>::from_raw((*(*vma).vm_file).f_inode))
        };
        // Lock order as ext4 and xfs: mmap_lock (held by the caller) →
        // freeze protection → invalidate lock (shared: excludes truncate,
        // hole punching and mode switches).
        // SAFETY: The fault is in progress.
        let write = unsafe { shared_write(vmf) };
        let _frozen_out = write.then(|| i.sb().start_pagefault());
        if write {
            // SAFETY: The VMA and its file are live during the fault.
            unsafe { raw::file_update_time((*vma).vm_file) };
        }
        let _inval = i.invalidate_lock_shared();
        let mut pfn = raw::pfn_t { val: 0 };
        // SAFETY: The fault is the call's; `IOMAP_OPS` is `'static`.
        let ret = unsafe {
            raw::dax_iomap_fault(
                vmf,
                order,
                &mut pfn,
                core::ptr::null_mut(),
                &Self::IOMAP_OPS,
            )
        };
        if ret & raw::vm_fault_reason_VM_FAULT_NEEDDSYNC == 0 {
            return ret;
        }
        // A MAP_SYNC fault whose metadata is not durable yet comes back
        // with VM_FAULT_NEEDDSYNC and a pfn; `dax_finish_sync_fault` runs
        // fsync on the range and then installs the entry.
        // SAFETY: The fault is the call's, still in progress, and `pfn` is
        // what `dax_iomap_fault` returned for it; the invalidate lock is
        // still held.
        unsafe { raw::dax_finish_sync_fault(vmf, order, pfn) }
    }

    /// # Safety
    ///
    /// As [`Self::dax_huge_fault`], for order 0.
    unsafe extern "C" fn dax_fault(vmf: *mut raw::vm_fault) -> raw::vm_fault_t {
        // SAFETY: Per the contract.
        unsafe { Self::dax_huge_fault(vmf, 0) }
    }
}
