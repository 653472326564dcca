// SPDX-License-Identifier: GPL-2.0
//! r2dax's private ioctls: the ABI shared by the kernel module and the
//! tools. Like `ondisk.rs`, this file needs nothing beyond `core`, so the
//! module compiles it with `#[path = ...]`.
//!
//! `R2DAX_IOC_DAX_STATUS` (`_IOR('x', 0x80, struct r2dax_dax_status)`, 32
//! bytes) reports why a file is or is not DAX:
//!
//! | offset | size | field                                              |
//! |--------|------|----------------------------------------------------|
//! | 0      | 4    | `version` (1)                                      |
//! | 4      | 4    | `flags`: see [`status`]                             |
//! | 8      | 8    | `mappings`: VMAs of the file (any process)          |
//! | 16     | 4    | `mount_mode`: 0 inode, 1 always, 2 never            |
//! | 20     | 12   | reserved, zero                                      |
//!
//! All fields are little-endian (x86-64 native).

/// Size of the status structure.
pub const DAX_STATUS_SIZE: usize = 32;

/// `_IOR('x', 0x80, [u8; 32])`: direction read (2) << 30, size << 16,
/// type << 8, number.
pub const R2DAX_IOC_DAX_STATUS: u32 =
    (2 << 30) | ((DAX_STATUS_SIZE as u32) << 16) | ((b'x' as u32) << 8) | 0x80;

/// Bits of [`DaxStatus::flags`].
pub mod status {
    /// The inode's DAX flag is set (requested).
    pub const REQUESTED: u32 = 1 << 0;
    /// The file uses DAX now (effective, `S_DAX`).
    pub const EFFECTIVE: u32 = 1 << 1;
    /// Some DAX page of the file is pinned (only looked for when it has no
    /// mappings).
    pub const PINNED: u32 = 1 << 2;
    /// The device supports DAX.
    pub const DEVICE_DAX: u32 = 1 << 3;
    /// A descriptor opened read-only that mapped the file through the page
    /// cache is still open: khugepaged may still be collapsing that
    /// mapping, so a switch to DAX refuses until it is closed.
    pub const COLLAPSIBLE: u32 = 1 << 4;
}

/// The decoded status of one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DaxStatus {
    /// Structure version, 1.
    pub version: u32,
    /// [`status`] bits.
    pub flags: u32,
    /// VMAs that map the file.
    pub mappings: u64,
    /// The mount's `dax=` mode: 0 inode, 1 always, 2 never.
    pub mount_mode: u32,
}

impl DaxStatus {
    /// Encodes the structure as the kernel returns it.
    pub fn encode(&self) -> [u8; DAX_STATUS_SIZE] {
        let mut b = [0u8; DAX_STATUS_SIZE];
        b[0..4].copy_from_slice(&self.version.to_le_bytes());
        b[4..8].copy_from_slice(&self.flags.to_le_bytes());
        b[8..16].copy_from_slice(&self.mappings.to_le_bytes());
        b[16..20].copy_from_slice(&self.mount_mode.to_le_bytes());
        b
    }

    /// Decodes what the kernel returned.
    pub fn decode(b: &[u8; DAX_STATUS_SIZE]) -> Self {
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let mut m = [0u8; 8];
        m.copy_from_slice(&b[8..16]);
        Self {
            version: u32_at(0),
            flags: u32_at(4),
            mappings: u64::from_le_bytes(m),
            mount_mode: u32_at(16),
        }
    }
}

/// The VFS's flag ioctls, which the tools use on any filesystem
/// (include/uapi/linux/fs.h): `_IOR('X', 31, struct fsxattr)`.
pub const FS_IOC_FSGETXATTR: u32 = 0x801c_581f;
/// `_IOW('X', 32, struct fsxattr)`.
pub const FS_IOC_FSSETXATTR: u32 = 0x401c_5820;
/// The DAX flag in [`FsXattr::xflags`].
pub const FS_XFLAG_DAX: u32 = 0x0000_8000;
/// statx's `STATX_ATTR_DAX`: the file uses DAX now.
pub const STATX_ATTR_DAX: u64 = 0x0020_0000;

/// `struct fsxattr` (28 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FsXattr {
    /// `FS_XFLAG_*`.
    pub xflags: u32,
    /// Extent size hint.
    pub extsize: u32,
    /// Extents (read only).
    pub nextents: u32,
    /// Project id.
    pub projid: u32,
    /// CoW extent size hint.
    pub cowextsize: u32,
    /// Reserved.
    pub pad: [u8; 8],
}
