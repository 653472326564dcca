// SPDX-License-Identifier: GPL-2.0
//! r2dax on-disk format: the single definition.
//!
//! This file is compiled twice: into the `r2dax-format` crate for the host
//! tools, and into `r2dax.ko` through `#[path]` from `rust/format.rs`. It
//! must therefore use nothing but `core`, contain no `unsafe`, and never panic
//! on any input: every decoder takes an untrusted byte slice and returns
//! `Result`.
//!
//! All integers are little-endian. See
//! `Documentation/filesystems/r2dax/ondisk.rst` for the prose description.

use core::fmt;

/// Magic number at byte 0 of the superblock: the bytes "R2DX".
pub const MAGIC: u32 = 0x5844_3252;
/// Format major version; a kernel refuses any other major.
pub const VERSION_MAJOR: u16 = 0;
/// Format minor version; newer minors only add compatible fields.
pub const VERSION_MINOR: u16 = 1;
/// The only block size this format uses (DAX needs block size == PAGE_SIZE).
pub const BLOCK_SIZE: u32 = 4096;
/// log2 of [`BLOCK_SIZE`].
pub const BLOCK_SHIFT: u32 = 12;
/// Byte offset of the superblock on the device (block 0, offset 0).
pub const SUPERBLOCK_OFFSET: u64 = 0;
/// Bytes of the superblock covered by its definition and checksum.
pub const SUPERBLOCK_SIZE: usize = 512;
/// Offset of the crc32c that covers bytes `0..SUPERBLOCK_CSUM_OFFSET`.
pub const SUPERBLOCK_CSUM_OFFSET: usize = SUPERBLOCK_SIZE - 4;
/// Length of the label field, NUL-padded (not necessarily NUL-terminated).
pub const LABEL_LEN: usize = 32;
/// Smallest device the format accepts: 16 MiB.
pub const MIN_BLOCKS: u64 = (16 << 20) / BLOCK_SIZE as u64;

/// Feature flags. A kernel must refuse to mount a filesystem with unknown
/// `incompat` bits, must mount read-only with unknown `ro_compat` bits, and
/// may ignore unknown `compat` bits.
pub mod feature {
    /// Compatible features this version knows.
    pub const COMPAT_SUPP: u64 = 0;
    /// Read-only-compatible features this version knows.
    pub const RO_COMPAT_SUPP: u64 = 0;
    /// Incompatible features this version knows.
    pub const INCOMPAT_SUPP: u64 = 0;
}

/// Superblock state flags (`state` field).
pub mod state {
    /// Set while mounted read-write, cleared by a clean unmount.
    pub const DIRTY: u32 = 1 << 0;
    /// All state bits this version knows.
    pub const KNOWN: u32 = DIRTY;
}

/// The superblock, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superblock {
    /// Format major version.
    pub version_major: u16,
    /// Format minor version.
    pub version_minor: u16,
    /// Block size in bytes; always [`BLOCK_SIZE`] in a valid superblock.
    pub block_size: u32,
    /// State flags, see [`state`].
    pub state: u32,
    /// Compatible feature flags.
    pub feature_compat: u64,
    /// Read-only-compatible feature flags.
    pub feature_ro_compat: u64,
    /// Incompatible feature flags.
    pub feature_incompat: u64,
    /// Size of the filesystem in blocks.
    pub blocks_count: u64,
    /// Creation time, seconds since the epoch.
    pub mkfs_time: u64,
    /// Filesystem UUID.
    pub uuid: [u8; 16],
    /// Volume label, NUL-padded.
    pub label: [u8; LABEL_LEN],
    /// Bytes 104..508: zero when written by this version; fields of newer
    /// minor versions live here and are carried through a rewrite.
    pub reserved: [u8; RESERVED_LEN],
}

/// How serious a decoding error is; the kernel maps it to an errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Not an r2dax filesystem at all (`EINVAL`).
    NotR2dax,
    /// A valid r2dax filesystem this code does not support (`EINVAL`).
    Unsupported,
    /// An r2dax filesystem with a corrupt or out-of-range field (`EUCLEAN`).
    Corrupt,
}

/// Why a superblock was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbError {
    /// The buffer is shorter than [`SUPERBLOCK_SIZE`].
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// The magic number does not match.
    BadMagic {
        /// What was found instead.
        found: u32,
    },
    /// The checksum does not match the contents.
    BadChecksum {
        /// Checksum stored on disk.
        stored: u32,
        /// Checksum computed over the contents.
        computed: u32,
    },
    /// The major version is not [`VERSION_MAJOR`].
    UnsupportedVersion {
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
    /// Incompatible feature bits this version does not know.
    UnknownIncompat {
        /// The unknown bits.
        bits: u64,
    },
    /// The block size is not [`BLOCK_SIZE`].
    BadBlockSize {
        /// Block size found.
        found: u32,
    },
    /// Unknown bits in the state field.
    BadState {
        /// State found.
        found: u32,
    },
    /// The filesystem is smaller than [`MIN_BLOCKS`].
    TooSmall {
        /// Block count found.
        blocks: u64,
    },
    /// The filesystem claims more blocks than the device has.
    LargerThanDevice {
        /// Block count in the superblock.
        blocks: u64,
        /// Blocks the device has.
        device_blocks: u64,
    },
}

impl SbError {
    /// The class of the error, which decides the errno.
    pub fn class(&self) -> ErrorClass {
        match self {
            SbError::Truncated { .. } | SbError::BadMagic { .. } => ErrorClass::NotR2dax,
            SbError::UnsupportedVersion { .. }
            | SbError::UnknownIncompat { .. }
            | SbError::BadBlockSize { .. } => ErrorClass::Unsupported,
            SbError::BadChecksum { .. }
            | SbError::BadState { .. }
            | SbError::TooSmall { .. }
            | SbError::LargerThanDevice { .. } => ErrorClass::Corrupt,
        }
    }
}

impl fmt::Display for SbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SbError::Truncated { len } => {
                write!(f, "superblock truncated ({len} of {SUPERBLOCK_SIZE} bytes)")
            }
            SbError::BadMagic { found } => write!(
                f,
                "can't find an r2dax superblock (magic {found:#010x}, expected {MAGIC:#010x})"
            ),
            SbError::BadChecksum { stored, computed } => write!(
                f,
                "superblock checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            SbError::UnsupportedVersion { major, minor } => write!(
                f,
                "unsupported format version {major}.{minor} (this build reads {VERSION_MAJOR}.x)"
            ),
            SbError::UnknownIncompat { bits } => {
                write!(f, "unknown incompatible features {bits:#x}")
            }
            SbError::BadBlockSize { found } => {
                write!(f, "unsupported block size {found} (only {BLOCK_SIZE})")
            }
            SbError::BadState { found } => write!(f, "invalid superblock state {found:#x}"),
            SbError::TooSmall { blocks } => {
                write!(
                    f,
                    "filesystem too small ({blocks} blocks, minimum {MIN_BLOCKS})"
                )
            }
            SbError::LargerThanDevice {
                blocks,
                device_blocks,
            } => write!(
                f,
                "filesystem has {blocks} blocks but the device only {device_blocks}"
            ),
        }
    }
}

fn le16(b: &[u8], off: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[off..off + 2]);
    u16::from_le_bytes(a)
}

fn le32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

fn le64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

// Field offsets inside the superblock. Bytes 104..508 are reserved: this
// version writes zeros there and preserves whatever it finds on rewrite.
const OFF_MAGIC: usize = 0;
const OFF_VERSION_MAJOR: usize = 4;
const OFF_VERSION_MINOR: usize = 6;
const OFF_BLOCK_SIZE: usize = 8;
const OFF_STATE: usize = 12;
const OFF_FEATURE_COMPAT: usize = 16;
const OFF_FEATURE_RO_COMPAT: usize = 24;
const OFF_FEATURE_INCOMPAT: usize = 32;
const OFF_BLOCKS_COUNT: usize = 40;
const OFF_MKFS_TIME: usize = 48;
const OFF_UUID: usize = 56;
const OFF_LABEL: usize = 72;
const OFF_RESERVED: usize = OFF_LABEL + LABEL_LEN;
/// Length of the reserved area of the superblock.
pub const RESERVED_LEN: usize = SUPERBLOCK_CSUM_OFFSET - OFF_RESERVED;

impl Superblock {
    /// A new superblock for a filesystem of `blocks_count` blocks.
    pub fn new(blocks_count: u64, uuid: [u8; 16], label: [u8; LABEL_LEN], mkfs_time: u64) -> Self {
        Superblock {
            version_major: VERSION_MAJOR,
            version_minor: VERSION_MINOR,
            block_size: BLOCK_SIZE,
            state: 0,
            feature_compat: 0,
            feature_ro_compat: 0,
            feature_incompat: 0,
            blocks_count,
            mkfs_time,
            uuid,
            label,
            reserved: [0; RESERVED_LEN],
        }
    }

    /// Decodes and validates a superblock from untrusted bytes.
    ///
    /// Checks, in order: length, magic, checksum, version, incompatible
    /// features, block size, state and the minimum size. The device size
    /// is checked separately by [`Superblock::check_device`].
    pub fn decode(buf: &[u8]) -> Result<Self, SbError> {
        if buf.len() < SUPERBLOCK_SIZE {
            return Err(SbError::Truncated { len: buf.len() });
        }
        let b = &buf[..SUPERBLOCK_SIZE];
        let magic = le32(b, OFF_MAGIC);
        if magic != MAGIC {
            return Err(SbError::BadMagic { found: magic });
        }
        let stored = le32(b, SUPERBLOCK_CSUM_OFFSET);
        let computed = crc32c(&b[..SUPERBLOCK_CSUM_OFFSET]);
        if stored != computed {
            return Err(SbError::BadChecksum { stored, computed });
        }
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&b[OFF_UUID..OFF_UUID + 16]);
        let mut label = [0u8; LABEL_LEN];
        label.copy_from_slice(&b[OFF_LABEL..OFF_LABEL + LABEL_LEN]);
        let mut reserved = [0u8; RESERVED_LEN];
        reserved.copy_from_slice(&b[OFF_RESERVED..SUPERBLOCK_CSUM_OFFSET]);
        let sb = Superblock {
            version_major: le16(b, OFF_VERSION_MAJOR),
            version_minor: le16(b, OFF_VERSION_MINOR),
            block_size: le32(b, OFF_BLOCK_SIZE),
            state: le32(b, OFF_STATE),
            feature_compat: le64(b, OFF_FEATURE_COMPAT),
            feature_ro_compat: le64(b, OFF_FEATURE_RO_COMPAT),
            feature_incompat: le64(b, OFF_FEATURE_INCOMPAT),
            blocks_count: le64(b, OFF_BLOCKS_COUNT),
            mkfs_time: le64(b, OFF_MKFS_TIME),
            uuid,
            label,
            reserved,
        };
        if sb.version_major != VERSION_MAJOR {
            return Err(SbError::UnsupportedVersion {
                major: sb.version_major,
                minor: sb.version_minor,
            });
        }
        let unknown = sb.feature_incompat & !feature::INCOMPAT_SUPP;
        if unknown != 0 {
            return Err(SbError::UnknownIncompat { bits: unknown });
        }
        if sb.block_size != BLOCK_SIZE {
            return Err(SbError::BadBlockSize {
                found: sb.block_size,
            });
        }
        if sb.state & !state::KNOWN != 0 {
            return Err(SbError::BadState { found: sb.state });
        }
        if sb.blocks_count < MIN_BLOCKS {
            return Err(SbError::TooSmall {
                blocks: sb.blocks_count,
            });
        }
        Ok(sb)
    }

    /// Checks the superblock against the size of the device holding it.
    pub fn check_device(&self, device_bytes: u64) -> Result<(), SbError> {
        let device_blocks = device_bytes / BLOCK_SIZE as u64;
        if self.blocks_count > device_blocks {
            return Err(SbError::LargerThanDevice {
                blocks: self.blocks_count,
                device_blocks,
            });
        }
        Ok(())
    }

    /// Encodes the superblock, including its checksum, into `buf`.
    pub fn encode(&self, buf: &mut [u8; SUPERBLOCK_SIZE]) {
        buf.fill(0);
        buf[OFF_MAGIC..OFF_MAGIC + 4].copy_from_slice(&MAGIC.to_le_bytes());
        buf[OFF_VERSION_MAJOR..OFF_VERSION_MAJOR + 2]
            .copy_from_slice(&self.version_major.to_le_bytes());
        buf[OFF_VERSION_MINOR..OFF_VERSION_MINOR + 2]
            .copy_from_slice(&self.version_minor.to_le_bytes());
        buf[OFF_BLOCK_SIZE..OFF_BLOCK_SIZE + 4].copy_from_slice(&self.block_size.to_le_bytes());
        buf[OFF_STATE..OFF_STATE + 4].copy_from_slice(&self.state.to_le_bytes());
        buf[OFF_FEATURE_COMPAT..OFF_FEATURE_COMPAT + 8]
            .copy_from_slice(&self.feature_compat.to_le_bytes());
        buf[OFF_FEATURE_RO_COMPAT..OFF_FEATURE_RO_COMPAT + 8]
            .copy_from_slice(&self.feature_ro_compat.to_le_bytes());
        buf[OFF_FEATURE_INCOMPAT..OFF_FEATURE_INCOMPAT + 8]
            .copy_from_slice(&self.feature_incompat.to_le_bytes());
        buf[OFF_BLOCKS_COUNT..OFF_BLOCKS_COUNT + 8]
            .copy_from_slice(&self.blocks_count.to_le_bytes());
        buf[OFF_MKFS_TIME..OFF_MKFS_TIME + 8].copy_from_slice(&self.mkfs_time.to_le_bytes());
        buf[OFF_UUID..OFF_UUID + 16].copy_from_slice(&self.uuid);
        buf[OFF_LABEL..OFF_LABEL + LABEL_LEN].copy_from_slice(&self.label);
        buf[OFF_RESERVED..SUPERBLOCK_CSUM_OFFSET].copy_from_slice(&self.reserved);
        let csum = crc32c(&buf[..SUPERBLOCK_CSUM_OFFSET]);
        buf[SUPERBLOCK_CSUM_OFFSET..].copy_from_slice(&csum.to_le_bytes());
    }

    /// The label up to its first NUL, if it is valid UTF-8.
    pub fn label_str(&self) -> Option<&str> {
        let end = self.label.iter().position(|&c| c == 0).unwrap_or(LABEL_LEN);
        core::str::from_utf8(&self.label[..end]).ok()
    }
}

/// Formats a UUID in the usual 8-4-4-4-12 form.
pub struct UuidFmt<'a>(pub &'a [u8; 16]);

impl fmt::Display for UuidFmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut k = 0;
        while k < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
            k += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC-32C (Castagnoli), as used for every checksum in the format.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC32C_TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}
