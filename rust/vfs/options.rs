// SPDX-License-Identifier: GPL-2.0
//! Mount options: parsing (`fs_context` `->parse_param`) and showing
//! (`->show_options` in /proc/mounts).
//!
//! C headers: [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h),
//! [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h)
//!
//! The layer allocates a fresh `T::Options` (its `Default`) for every mount
//! and remount context in `init_fs_context`, keeps it in `fs_private`,
//! hands each `-o` option to [`FileSystem::parse_param`], and passes the
//! result to `fill_super` or `reconfigure`. Options the VFS handles itself
//! (`ro`, `rw`, `sync`, `source`, security options) never reach the
//! filesystem. An option the filesystem does not know is refused by the
//! VFS with "Unknown parameter"; a bad value is refused here with
//! "Bad value for". Both messages go to the mount's log (dmesg for
//! mount(2)) and fail the mount with `EINVAL`.
//!
//! [`FileSystem::parse_param`]: super::fs::FileSystem::parse_param

use super::raw;
use kernel::str::CStr;

/// The value of one mount option.
pub(crate) enum ParamValue<'a> {
    /// The option without `=` (`-o dax`).
    Flag,
    /// The value after `=` (`-o dax=inode`), without the terminating NUL.
    Str(&'a [u8]),
    /// A binary blob, file descriptor or path (only through fsconfig(2)).
    Other,
}

/// Why [`FileSystem::parse_param`] refused an option.
///
/// [`FileSystem::parse_param`]: super::fs::FileSystem::parse_param
pub(crate) enum ParamError {
    /// The filesystem has no option by that name.
    Unknown,
    /// The option exists but its value is not valid.
    BadValue,
}

/// The /proc/mounts line of a superblock, for `show_options`.
///
/// # Invariants
///
/// `m` is a valid `seq_file` being written by the VFS for the duration of
/// the borrow.
pub(crate) struct OptionWriter<'a> {
    m: *mut raw::seq_file,
    _p: core::marker::PhantomData<&'a mut raw::seq_file>,
}

impl OptionWriter<'_> {
    /// # Safety
    ///
    /// `m` must be valid and exclusively ours for `'a`.
    pub(super) unsafe fn from_raw<'a>(m: *mut raw::seq_file) -> OptionWriter<'a> {
        // INVARIANT: Per the function contract.
        OptionWriter {
            m,
            _p: core::marker::PhantomData,
        }
    }

    /// Appends one option: `,` then `opt` (`name` or `name=value`).
    pub(crate) fn push(&mut self, opt: &CStr) {
        // SAFETY: By the type invariant `m` is valid; both strings are
        // NUL-terminated.
        unsafe {
            raw::r2dax_seq_puts(self.m, kernel::c_str!(",").as_char_ptr());
            raw::r2dax_seq_puts(self.m, opt.as_char_ptr());
        }
    }
}
