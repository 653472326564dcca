// SPDX-License-Identifier: GPL-2.0
//! Mount and remount contexts: `struct fs_context_operations` (creating
//! the superblock, remounting) and the parsing of `-o` options into
//! [`FileSystem::Options`].
//!
//! C header: [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h)

use super::dax_device::DaxDevice;
use super::fs::{Operations, Tables};
use super::options::{ParamError, ParamValue};
use super::raw;
use super::sb::{New, SbData, SuperBlock};
use super::sb_work::SbWork;
use core::ffi::c_int;
use kernel::error::from_result;
use kernel::prelude::*;
use kernel::str::CStr;

impl<T: Operations> Tables<T> {
    const CONTEXT_OPS: raw::fs_context_operations = raw::fs_context_operations {
        get_tree: Some(Self::get_tree),
        reconfigure: Some(Self::reconfigure),
        free: Some(Self::free_fs_context),
        dup: None,
        parse_param: Some(Self::parse_param),
        parse_monolithic: None,
    };

    /// # Safety
    ///
    /// Called by the VFS with a valid, exclusively owned `fc`.
    pub(super) unsafe extern "C" fn init_fs_context(
        fc: *mut kernel::bindings::fs_context,
    ) -> c_int {
        let fc = fc.cast::<raw::fs_context>();
        from_result(|| {
            let opts = KBox::new(T::Options::default(), GFP_KERNEL)?;
            // SAFETY: `fc` is valid per the function contract, and the
            // kernel's opaque `fs_context` is the same C object as the local
            // definition. `CONTEXT_OPS` is promoted to a `'static`.
            // `fs_private` is ours; `free_fs_context` frees it.
            unsafe {
                (*fc).fs_private = KBox::into_raw(opts).cast();
                (*fc).ops = &Self::CONTEXT_OPS;
            }
            Ok(0)
        })
    }

    /// The options of a context set up by `init_fs_context`.
    ///
    /// # Safety
    ///
    /// `fc` must be such a context, and the caller must be the only user
    /// of its options for `'a` (the VFS serialises all calls on one
    /// context: it holds `fc->uapi_mutex` or owns the context outright).
    unsafe fn options<'a>(fc: *mut raw::fs_context) -> &'a mut T::Options {
        // SAFETY: Per the function contract `fs_private` holds the
        // `KBox<T::Options>` stored by `init_fs_context`.
        unsafe { &mut *(*fc).fs_private.cast::<T::Options>() }
    }

    /// # Safety
    ///
    /// Called by the VFS once, when a context set up by `init_fs_context`
    /// is destroyed.
    unsafe extern "C" fn free_fs_context(fc: *mut raw::fs_context) {
        // SAFETY: `fs_private` is the box stored by `init_fs_context` (it is
        // never null: `init_fs_context` fails otherwise, and then the VFS
        // does not call `free`); nothing uses it after this.
        unsafe {
            let opts = (*fc).fs_private.cast::<T::Options>();
            if !opts.is_null() {
                drop(KBox::from_raw(opts));
                (*fc).fs_private = core::ptr::null_mut();
            }
        }
    }

    /// # Safety
    ///
    /// Called by `vfs_parse_fs_param` for one option of a context set up by
    /// `init_fs_context`, with a valid parameter.
    unsafe extern "C" fn parse_param(
        fc: *mut raw::fs_context,
        param: *mut raw::fs_parameter,
    ) -> c_int {
        // SAFETY: Per the contract the parameter is valid for the call.
        let param = unsafe { &*param };
        // SAFETY: `param->key` is a NUL-terminated string that lives for
        // the call.
        let key = unsafe { CStr::from_char_ptr(param.key) };
        let value = match param.type_() {
            raw::fs_value_type_fs_value_is_flag => ParamValue::Flag,
            raw::fs_value_type_fs_value_is_string => {
                // SAFETY: A string value is NUL-terminated with its length
                // in `size`, and lives for the call.
                let string = unsafe { param.__bindgen_anon_1.string };
                // SAFETY: `size` bytes are readable at `string` for the call.
                ParamValue::Str(unsafe {
                    core::slice::from_raw_parts(string.cast::<u8>(), param.size)
                })
            }
            _ => ParamValue::Other,
        };
        // SAFETY: Per the contract; the VFS serialises parsing of one context.
        let opts = unsafe { Self::options(fc) };
        match T::parse_param(opts, key.as_bytes(), value) {
            Ok(()) => 0,
            // `ENOPARAM`, "not a parameter of this filesystem": the VFS
            // then handles `source` or reports the unknown option.
            Err(ParamError::Unknown) => -(raw::ENOPARAM as c_int),
            // SAFETY: `fc` and the key are valid; the helper only logs.
            Err(ParamError::BadValue) => unsafe { raw::r2dax_fc_bad_value(fc, param.key) },
        }
    }

    /// # Safety
    ///
    /// Called by the VFS with a valid `fc` whose `ops` we installed.
    unsafe extern "C" fn get_tree(fc: *mut raw::fs_context) -> c_int {
        // SAFETY: `fc` is valid per the function contract; `fill_super` has
        // the signature `get_tree_bdev` expects.
        unsafe { raw::get_tree_bdev(fc, Some(Self::fill_super)) }
    }

    /// # Safety
    ///
    /// Called by `get_tree_bdev` with a new, locked superblock whose block
    /// device is open and whose `s_fs_info` is null.
    unsafe extern "C" fn fill_super(sb: *mut raw::super_block, fc: *mut raw::fs_context) -> c_int {
        from_result(|| {
            // SAFETY: The superblock is valid and new per the contract.
            let new = unsafe { SuperBlock::<T, New>::from_raw(sb) };
            // SAFETY: `fc` is the mount's context, whose options nothing
            // else touches during `get_tree`.
            let opts = unsafe { Self::options(fc) };
            new.init_common(&Self::SUPER_OPS);
            let dax = DaxDevice::of(new, &Self::DAX_HOLDER_OPS)?;
            let info = T::fill_super(new, opts, dax.is_some())?;
            let info = KBox::pin_init(
                SbData::<T>::new(info, dax, SbWork::new::<T>(sb)),
                GFP_KERNEL,
            )?;
            // SAFETY: `s_fs_info` is null and ours to set; `kill_sb` frees it
            // (in place, so it stays pinned) whether or not the rest of the
            // mount succeeds.
            unsafe {
                let info = core::pin::Pin::into_inner_unchecked(info);
                (*sb).s_fs_info = KBox::into_raw(info).cast();
            }
            // SAFETY: `s_fs_info` now holds an `SbData<T>`, so the superblock is
            // ready in the sense of `SuperBlock<T, Ready>`.
            let ready = unsafe { SuperBlock::<T>::from_raw(sb) };
            let root = T::init_root(ready)?;
            // SAFETY: `s_root` is null on a new superblock; the root dentry's
            // reference moves to the superblock.
            unsafe { (*sb).s_root = root.into_raw() };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS for a remount of a superblock of this type.
    unsafe extern "C" fn reconfigure(fc: *mut raw::fs_context) -> c_int {
        from_result(|| {
            // SAFETY: On reconfiguration `fc->root` is a valid dentry of the
            // mounted superblock, which is fully set up (ready); the
            // context and its options are ours alone during the call.
            let (sb, flags, opts) = unsafe {
                let sb = (*(*fc).root).d_sb;
                (
                    SuperBlock::<T>::from_raw(sb),
                    (*fc).sb_flags,
                    Self::options(fc),
                )
            };
            T::reconfigure(sb, u64::from(flags) & raw::SB_RDONLY as u64 != 0, opts)?;
            Ok(0)
        })
    }
}
