// SPDX-License-Identifier: GPL-2.0
//! DAX policy: the `dax=` mount option and, per inode, which files use
//! DAX (the role of the DAX parts of fs/ext4/inode.c and fs/xfs/xfs_iops.c).
//!
//! The semantics are in Documentation/filesystems/r2dax/dax.rst.

use crate::ioctl;
use crate::ondisk::iflags;
use crate::super_::R2dax;
use crate::vfs::dax_mode::SwitchError;
use crate::vfs::file_ops::IoctlOut;
use crate::vfs::lock::{Excl, InodeLocked};
use crate::vfs::sb::SuperBlock;
use crate::vfs::uapi::{self, mount_mode, status, DaxStatus, R2DAX_IOC_DAX_STATUS};
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

// The uapi header (include/uapi/linux/r2dax.h), which the module uses
// through bindgen, and the Rust view the tools use
// (format/src/ioctl.rs, compiled here as `crate::ioctl`) must
// agree: one ABI. A host test compares that view with the header too.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(R2DAX_IOC_DAX_STATUS == ioctl::R2DAX_IOC_DAX_STATUS);
    assert!(size_of::<DaxStatus>() == ioctl::DAX_STATUS_SIZE);
    assert!(offset_of!(DaxStatus, version) == ioctl::offset::VERSION);
    assert!(offset_of!(DaxStatus, flags) == ioctl::offset::FLAGS);
    assert!(offset_of!(DaxStatus, mappings) == ioctl::offset::MAPPINGS);
    assert!(offset_of!(DaxStatus, mount_mode) == ioctl::offset::MOUNT_MODE);
    assert!(offset_of!(DaxStatus, reserved) == ioctl::offset::RESERVED);
    assert!(uapi::DAX_STATUS_VERSION == ioctl::DAX_STATUS_VERSION);
    assert!(status::REQUESTED == ioctl::status::REQUESTED);
    assert!(status::EFFECTIVE == ioctl::status::EFFECTIVE);
    assert!(status::PINNED == ioctl::status::PINNED);
    assert!(status::DEVICE_DAX == ioctl::status::DEVICE_DAX);
    assert!(status::COLLAPSIBLE == ioctl::status::COLLAPSIBLE);
    assert!(mount_mode::INODE == ioctl::mount_mode::INODE);
    assert!(mount_mode::ALWAYS == ioctl::mount_mode::ALWAYS);
    assert!(mount_mode::NEVER == ioctl::mount_mode::NEVER);
};

/// The private ioctls (include/uapi/linux/r2dax.h).
pub(crate) fn ioctl_read(inode: &INode<R2dax>, cmd: u32, out: IoctlOut) -> Result {
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
    out.write(&DaxStatus {
        version: uapi::DAX_STATUS_VERSION,
        flags,
        mappings: mappings as u64,
        mount_mode: match info.dax_mode {
            DaxMode::Inode => mount_mode::INODE,
            DaxMode::Always => mount_mode::ALWAYS,
            DaxMode::Never => mount_mode::NEVER,
        },
        reserved: [0; 3],
    })
}
