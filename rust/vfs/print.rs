// SPDX-License-Identifier: GPL-2.0
//! Kernel log messages in the form `r2dax (<device>): <message>`.
//!
//! The kernel crate's `pr_*!` macros prefix every line with `<module>: `,
//! which cannot carry the device name, so r2dax calls `_printk` itself
//! with its own fixed format strings.

use super::raw;
use core::fmt;
use kernel::str::CStr;

/// Log level of a message.
#[derive(Clone, Copy)]
pub(crate) enum Level {
    /// `KERN_ERR`
    Err,
    /// `KERN_WARNING`
    Warn,
    /// `KERN_INFO`
    Info,
}

/// Prints `r2dax (<id>): <args>` at `level`.
pub(crate) fn log(level: Level, id: &CStr, args: fmt::Arguments<'_>) {
    // KERN_SOH "<level>", then the device id and the Rust message.
    let format: &[u8] = match level {
        Level::Err => b"\x013r2dax (%s): %pA\n\0",
        Level::Warn => b"\x014r2dax (%s): %pA\n\0",
        Level::Info => b"\x016r2dax (%s): %pA\n\0",
    };
    // SAFETY: `format` is NUL-terminated and consumes exactly one C string
    // (`id`, NUL-terminated by `CStr`'s invariant) and one pointer to a
    // `fmt::Arguments` (`%pA`, the Rust extension of vsprintf). Both stay
    // valid for the duration of the call, which does not retain them.
    unsafe {
        raw::_printk(
            format.as_ptr().cast(),
            id.as_char_ptr(),
            core::ptr::from_ref(&args).cast::<core::ffi::c_void>(),
        )
    };
}

/// Logs an error for a superblock: `sb_err!(sb, "fmt", args...)`.
macro_rules! sb_err {
    ($sb:expr, $($arg:tt)*) => {
        $crate::vfs::print::log($crate::vfs::print::Level::Err, $sb.id(), format_args!($($arg)*))
    };
}

/// Logs a warning for a superblock.
macro_rules! sb_warn {
    ($sb:expr, $($arg:tt)*) => {
        $crate::vfs::print::log($crate::vfs::print::Level::Warn, $sb.id(), format_args!($($arg)*))
    };
}

/// Logs an informational message for a superblock.
macro_rules! sb_info {
    ($sb:expr, $($arg:tt)*) => {
        $crate::vfs::print::log($crate::vfs::print::Level::Info, $sb.id(), format_args!($($arg)*))
    };
}

pub(crate) use {sb_err, sb_info, sb_warn};
