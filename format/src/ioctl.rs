// SPDX-License-Identifier: GPL-2.0
//! r2dax's private ioctls: the Rust view, for the host tools, of the C
//! uapi header `include/uapi/linux/r2dax.h`, which is the ABI (issue 15).
//! Like `ondisk.rs`, this file needs nothing beyond `core`, so the module
//! compiles it with `#[path = ...]`; the module itself takes the structure
//! and the number from the header through bindgen and checks at build time
//! that they equal the ones here. The host test `tests/uapi_header.rs`
//! compiles the header with `cc` and compares sizes, offsets and values.
//!
//! `R2DAX_IOC_DAX_STATUS` (`_IOR('x', 0x80, struct r2dax_dax_status)`, 32
//! bytes) reports why a file is or is not DAX:
//!
//! | offset | size | field                                              |
//! |--------|------|----------------------------------------------------|
//! | 0      | 4    | `version` (1)                                      |
//! | 4      | 4    | `flags`: see [`status`]                             |
//! | 8      | 8    | `mappings`: VMAs of the file (any process)          |
//! | 16     | 4    | `mount_mode`: see [`mount_mode`]                    |
//! | 20     | 12   | reserved, zero                                      |
//!
//! All fields are in native byte order, little-endian on x86-64. The
//! header says how the structure is versioned.

/// `_IOC_*` of include/uapi/asm-generic/ioctl.h (x86 and most others):
/// the direction in bits 30-31, the size in bits 16-29, the type in bits
/// 8-15, the number in bits 0-7.
pub mod ioc {
    /// `_IOC_WRITE`: user space writes, the kernel reads.
    pub const WRITE: u32 = 1;
    /// `_IOC_READ`: the kernel writes, user space reads.
    pub const READ: u32 = 2;
    /// `_IOC_SIZEBITS`.
    pub const SIZEBITS: u32 = 14;

    /// `_IOC(dir, type, nr, size)`; a size that does not fit in
    /// [`SIZEBITS`] fails the build when used in a constant.
    pub const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
        assert!(size < 1 << SIZEBITS, "ioctl argument too large");
        (dir << 30) | ((size as u32) << 16) | ((ty as u32) << 8) | nr as u32
    }

    /// `_IOR(type, nr, T)` with `size == sizeof(T)`.
    pub const fn ior(ty: u8, nr: u8, size: usize) -> u32 {
        ioc(READ, ty, nr, size)
    }

    /// `_IOW(type, nr, T)` with `size == sizeof(T)`.
    pub const fn iow(ty: u8, nr: u8, size: usize) -> u32 {
        ioc(WRITE, ty, nr, size)
    }
}

/// `R2DAX_IOCTL_TYPE`: the ioctl type of r2dax's private ioctls.
pub const R2DAX_IOCTL_TYPE: u8 = b'x';

/// Size of the status structure (`sizeof(struct r2dax_dax_status)`).
pub const DAX_STATUS_SIZE: usize = 32;

/// `R2DAX_IOC_DAX_STATUS`: `_IOR('x', 0x80, struct r2dax_dax_status)`.
pub const R2DAX_IOC_DAX_STATUS: u32 = ioc::ior(R2DAX_IOCTL_TYPE, 0x80, DAX_STATUS_SIZE);

/// `R2DAX_IOC_SHUTDOWN`: `_IOR('X', 125, __u32)`, the number of ext4's
/// `EXT4_IOC_SHUTDOWN` and xfs's `XFS_IOC_GOINGDOWN`; the argument points
/// to one of [`shutdown`]'s flags.
pub const R2DAX_IOC_SHUTDOWN: u32 = ioc::ior(b'X', 125, 4);

/// Flags of [`R2DAX_IOC_SHUTDOWN`] (`R2DAX_SHUTDOWN_FLAGS_*`).
pub mod shutdown {
    /// Write back everything, then shut down.
    pub const DEFAULT: u32 = 0;
    /// Flush the device's cache, then shut down.
    pub const LOGFLUSH: u32 = 1;
    /// Shut down at once.
    pub const NOLOGFLUSH: u32 = 2;
}

/// `R2DAX_DAX_STATUS_VERSION`: the version the kernel reports.
pub const DAX_STATUS_VERSION: u32 = 1;

/// Byte offsets of the fields of `struct r2dax_dax_status`.
pub mod offset {
    /// `version` (`__u32`).
    pub const VERSION: usize = 0;
    /// `flags` (`__u32`).
    pub const FLAGS: usize = 4;
    /// `mappings` (`__u64`).
    pub const MAPPINGS: usize = 8;
    /// `mount_mode` (`__u32`).
    pub const MOUNT_MODE: usize = 16;
    /// `reserved` (`__u32[3]`), zero.
    pub const RESERVED: usize = 20;
}

const _: () = assert!(offset::RESERVED + 12 == DAX_STATUS_SIZE);

/// Bits of [`DaxStatus::flags`] (`R2DAX_DAX_STATUS_*`).
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
    /// The mount's `dax=` mode asks for the other mode than the file uses
    /// (a remount changed it while the file was mapped or pinned); the
    /// file switches once its last mapping and pin are gone.
    pub const PENDING: u32 = 1 << 5;
}

/// Values of [`DaxStatus::mount_mode`] (`R2DAX_MOUNT_DAX_*`): the `dax=`
/// mount option.
pub mod mount_mode {
    /// `dax=inode` (the default).
    pub const INODE: u32 = 0;
    /// `dax=always`, or `dax`.
    pub const ALWAYS: u32 = 1;
    /// `dax=never`.
    pub const NEVER: u32 = 2;
}

/// The decoded status of one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DaxStatus {
    /// Structure version, [`DAX_STATUS_VERSION`].
    pub version: u32,
    /// [`status`] bits.
    pub flags: u32,
    /// VMAs that map the file.
    pub mappings: u64,
    /// The mount's `dax=` mode: [`mount_mode`].
    pub mount_mode: u32,
}

impl DaxStatus {
    /// Encodes the structure as the kernel returns it (reserved zero).
    pub fn encode(&self) -> [u8; DAX_STATUS_SIZE] {
        let mut b = [0u8; DAX_STATUS_SIZE];
        let mut put = |o: usize, v: &[u8]| b[o..o + v.len()].copy_from_slice(v);
        put(offset::VERSION, &self.version.to_ne_bytes());
        put(offset::FLAGS, &self.flags.to_ne_bytes());
        put(offset::MAPPINGS, &self.mappings.to_ne_bytes());
        put(offset::MOUNT_MODE, &self.mount_mode.to_ne_bytes());
        b
    }

    /// Decodes what the kernel returned.
    pub fn decode(b: &[u8; DAX_STATUS_SIZE]) -> Self {
        let u32_at = |o: usize| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let mut m = [0u8; 8];
        m.copy_from_slice(&b[offset::MAPPINGS..offset::MAPPINGS + 8]);
        Self {
            version: u32_at(offset::VERSION),
            flags: u32_at(offset::FLAGS),
            mappings: u64::from_ne_bytes(m),
            mount_mode: u32_at(offset::MOUNT_MODE),
        }
    }
}

/// The VFS's flag ioctls, which the tools use on any filesystem
/// (include/uapi/linux/fs.h): `_IOR('X', 31, struct fsxattr)`.
pub const FS_IOC_FSGETXATTR: u32 = ioc::ior(b'X', 31, core::mem::size_of::<FsXattr>());
/// `_IOW('X', 32, struct fsxattr)`.
pub const FS_IOC_FSSETXATTR: u32 = ioc::iow(b'X', 32, core::mem::size_of::<FsXattr>());
/// The DAX flag in [`FsXattr::xflags`].
pub const FS_XFLAG_DAX: u32 = 0x0000_8000;
/// statx's `STATX_ATTR_DAX`: the file uses DAX now.
pub const STATX_ATTR_DAX: u64 = 0x0020_0000;

const _: () = assert!(core::mem::size_of::<FsXattr>() == 28);

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
