// SPDX-License-Identifier: GPL-2.0
//! r2dax's user-space ABI as the C header defines it
//! (include/uapi/linux/r2dax.h, read by the module's bindgen run through
//! `bindings.h`): the structures the private ioctls copy out, and their
//! numbers and values under short names.
//!
//! The filesystem checks at build time that these equal the Rust view the
//! host tools use (`format/src/ioctl.rs`, see `crate::dax`).

use super::raw;
use core::mem::{offset_of, size_of};
use kernel::types::AsBytes;

/// `struct r2dax_dax_status`, the answer of [`R2DAX_IOC_DAX_STATUS`].
/// Its `Default` is all zero (the reserved words included).
pub(crate) use raw::r2dax_dax_status as DaxStatus;

/// `R2DAX_IOC_DAX_STATUS`: `_IOR('x', 0x80, struct r2dax_dax_status)`.
pub(crate) const R2DAX_IOC_DAX_STATUS: u32 = raw::R2DAX_IOC_DAX_STATUS;

/// `R2DAX_IOC_SHUTDOWN`: `_IOR('X', 125, __u32)` (see `super::shutdown`).
pub(crate) const R2DAX_IOC_SHUTDOWN: u32 = raw::R2DAX_IOC_SHUTDOWN;
pub(crate) use super::shutdown::flags as shutdown_flags;

/// `R2DAX_DAX_STATUS_VERSION`.
pub(crate) const DAX_STATUS_VERSION: u32 = raw::R2DAX_DAX_STATUS_VERSION;

/// `R2DAX_DAX_STATUS_*`: bits of [`DaxStatus::flags`].
pub(crate) mod status {
    use super::raw;

    /// The inode's DAX flag is set.
    pub(crate) const REQUESTED: u32 = raw::R2DAX_DAX_STATUS_REQUESTED;
    /// The file uses DAX now.
    pub(crate) const EFFECTIVE: u32 = raw::R2DAX_DAX_STATUS_EFFECTIVE;
    /// Some DAX page of the file is pinned.
    pub(crate) const PINNED: u32 = raw::R2DAX_DAX_STATUS_PINNED;
    /// The device supports DAX.
    pub(crate) const DEVICE_DAX: u32 = raw::R2DAX_DAX_STATUS_DEVICE_DAX;
    /// A read-only descriptor that mapped the file through the page cache
    /// is still open.
    pub(crate) const COLLAPSIBLE: u32 = raw::R2DAX_DAX_STATUS_COLLAPSIBLE;
    /// A remount changed the mode the file should use; it switches when
    /// its mappings and pins are gone.
    pub(crate) const PENDING: u32 = raw::R2DAX_DAX_STATUS_PENDING;
}

/// `R2DAX_MOUNT_DAX_*`: values of [`DaxStatus::mount_mode`].
pub(crate) mod mount_mode {
    use super::raw;

    /// `dax=inode`.
    pub(crate) const INODE: u32 = raw::R2DAX_MOUNT_DAX_INODE;
    /// `dax=always`.
    pub(crate) const ALWAYS: u32 = raw::R2DAX_MOUNT_DAX_ALWAYS;
    /// `dax=never`.
    pub(crate) const NEVER: u32 = raw::R2DAX_MOUNT_DAX_NEVER;
}

// No padding: the fields fill the structure end to end, which the
// `AsBytes` implementation below relies on.
const _: () = {
    assert!(offset_of!(DaxStatus, version) == 0);
    assert!(offset_of!(DaxStatus, flags) == 4);
    assert!(offset_of!(DaxStatus, mappings) == 8);
    assert!(offset_of!(DaxStatus, mount_mode) == 16);
    assert!(offset_of!(DaxStatus, reserved) == 20);
    assert!(size_of::<DaxStatus>() == 32);
};

// SAFETY: `r2dax_dax_status` is `#[repr(C)]` and made of integers only
// (`__u32`, `__u64`, `[__u32; 3]`) that cover its 32 bytes with no padding
// (asserted above), so no byte of a value is uninitialized; it has no
// interior mutability and holds no pointers.
unsafe impl AsBytes for DaxStatus {}
