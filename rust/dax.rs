// SPDX-License-Identifier: GPL-2.0
//! DAX policy: the `dax=` mount option and, per inode, which files use
//! DAX (the role of the DAX parts of fs/ext4/inode.c and fs/xfs/xfs_iops.c).
//!
//! The semantics are in Documentation/filesystems/r2dax/dax.rst.

use kernel::str::CStr;

/// The `dax=` mount option.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum DaxMode {
    /// Every regular file uses DAX (`dax=always`, or plain `dax`).
    Always,
    /// No file uses DAX; the per-inode flag is stored but has no effect.
    Never,
    /// A regular file uses DAX when its flag is set (the default).
    Inode,
}

impl DaxMode {
    /// Parses the value of `dax=`.
    pub(crate) fn parse(value: &[u8]) -> Option<Self> {
        match value {
            b"always" => Some(Self::Always),
            b"never" => Some(Self::Never),
            b"inode" => Some(Self::Inode),
            _ => None,
        }
    }

    /// The option as /proc/mounts shows it.
    pub(crate) fn option(self) -> &'static CStr {
        match self {
            Self::Always => kernel::c_str!("dax=always"),
            Self::Never => kernel::c_str!("dax=never"),
            Self::Inode => kernel::c_str!("dax=inode"),
        }
    }
}
