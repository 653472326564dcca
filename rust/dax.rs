// SPDX-License-Identifier: GPL-2.0
//! DAX policy: the `dax=` mount option and, per inode, which files use
//! DAX (the role of the DAX parts of fs/ext4/inode.c and fs/xfs/xfs_iops.c).
//!
//! The semantics are in Documentation/filesystems/r2dax/dax.rst.

use crate::ioctl::{status, DaxStatus, R2DAX_IOC_DAX_STATUS};
use crate::ondisk::iflags;
use crate::super_::R2dax;
use crate::vfs::dax_mode::SwitchError;
use crate::vfs::lock::{Excl, InodeLocked};
use crate::vfs::sb::SuperBlock;
use crate::vfs::vfs_inode::INode;
use kernel::error::code::{EBUSY, ENOTTY};
use kernel::prelude::*;
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

/// Whether a regular file with stored flags `flags` uses DAX on `sb`
/// (dax.rst, "Which files use DAX").
pub(crate) fn wants_dax(sb: &SuperBlock<R2dax>, flags: u32) -> bool {
    let info = sb.info();
    info.dax_capable
        && match info.dax_mode {
            DaxMode::Always => true,
            DaxMode::Never => false,
            DaxMode::Inode => flags & iflags::DAX != 0,
        }
}

/// Switches `inode` to DAX (`to_dax`) or to the page cache now, making
/// the new flags durable with `commit` on the way; `EBUSY` if the file is
/// mapped or its pages stay pinned, and then nothing changed.
pub(crate) fn switch(
    inode: &InodeLocked<'_, R2dax, Excl>,
    to_dax: bool,
    commit: impl FnOnce() -> Result,
) -> Result {
    inode.switch_dax(to_dax, commit).map_err(|e| match e {
        SwitchError::Mapped | SwitchError::Pinned | SwitchError::Collapsible => EBUSY,
        SwitchError::Failed(e) => e,
    })
}

/// The private ioctls (see `format/src/ioctl.rs`).
pub(crate) fn ioctl_read(inode: &INode<R2dax>, cmd: u32) -> Result<KVec<u8>> {
    if cmd != R2DAX_IOC_DAX_STATUS {
        return Err(ENOTTY);
    }
    let info = inode.sb().info();
    let requested = inode.data().state.lock().disk.flags & iflags::DAX != 0;
    let mappings = inode.mappings();
    let mut flags = 0;
    if requested {
        flags |= status::REQUESTED;
    }
    if inode.is_dax() {
        flags |= status::EFFECTIVE;
    }
    if info.dax_capable {
        flags |= status::DEVICE_DAX;
    }
    if inode.dax_pinned() {
        flags |= status::PINNED;
    }
    if inode.collapsible_files() != 0 {
        flags |= status::COLLAPSIBLE;
    }
    let st = DaxStatus {
        version: 1,
        flags,
        mappings: mappings as u64,
        mount_mode: match info.dax_mode {
            DaxMode::Inode => 0,
            DaxMode::Always => 1,
            DaxMode::Never => 2,
        },
    };
    let mut v = KVec::new();
    v.extend_from_slice(&st.encode(), GFP_KERNEL)?;
    Ok(v)
}
