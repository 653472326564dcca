// SPDX-License-Identifier: GPL-2.0
//! r2dax on-disk format: the single definition.
//!
//! This file (`format/src/ondisk.rs`) is compiled twice: into the
//! `r2dax-format` crate (`format/`, linked by the host tools in `tools/`),
//! and into `r2dax.ko` as its `ondisk` module, through `#[path]` in
//! `rust/r2dax_main.rs`. It must therefore use nothing but `core`, contain
//! no `unsafe`, and never panic on any input: every decoder takes an
//! untrusted byte slice and returns `Result`. The one exception to "only
//! `core`" is [`crc32c_update`]: kbuild passes `--cfg MODULE`, and under it
//! the module's copy calls the kernel's `__crc32c_le()` through
//! `rust/vfs/crc.rs` instead of the software tables.
//!
//! All integers are little-endian. See
//! `Documentation/filesystems/r2dax/ondisk.rst` for the prose description.

use core::fmt;

/// Magic number at byte 0 of the superblock: the bytes "R2DX".
pub const MAGIC: u32 = 0x5844_3252;
/// Format major version; a kernel refuses any other major.
pub const VERSION_MAJOR: u16 = 1;
/// Format minor version; newer minors only add compatible fields.
pub const VERSION_MINOR: u16 = 0;
/// The only block size this format uses (DAX needs block size == PAGE_SIZE).
pub const BLOCK_SIZE: u32 = 4096;
/// log2 of [`BLOCK_SIZE`].
pub const BLOCK_SHIFT: u32 = 12;
/// Byte offset of the superblock on the device (block 0, offset 0).
pub const SUPERBLOCK_OFFSET: u64 = 0;
/// Bytes of the superblock covered by its definition and checksum.
pub const SUPERBLOCK_SIZE: usize = 512;
/// Offset of the crc32c that covers bytes `0..SUPERBLOCK_CSUM_OFFSET`.
pub const SUPERBLOCK_CSUM_OFFSET: usize = core::mem::offset_of!(DiskSuperblock, checksum);
/// Length of the label field, NUL-padded (not necessarily NUL-terminated).
pub const LABEL_LEN: usize = 32;
/// Smallest device the format accepts: 16 MiB.
pub const MIN_BLOCKS: u64 = (16 << 20) / BLOCK_SIZE as u64;
/// Blocks per block group: one bitmap block's worth (128 MiB).
pub const BLOCKS_PER_GROUP: u32 = BLOCK_SIZE * 8;
/// First block of group 0. Blocks `0..FIRST_GROUP_BLOCK` hold the
/// superblock and the group descriptor table; starting the groups 2 MiB into
/// the device keeps each group's 2 MiB chunks aligned on the device.
pub const FIRST_GROUP_BLOCK: u64 = 512;
/// Block numbers per 2 MiB (PMD-sized) chunk.
pub const PMD_BLOCKS: u64 = 512;
/// Size of one group descriptor.
pub const GROUP_DESC_SIZE: usize = 32;
/// Group descriptors per block.
pub const GROUP_DESCS_PER_BLOCK: u32 = BLOCK_SIZE / GROUP_DESC_SIZE as u32;
/// Most groups the descriptor table (blocks 1..512) can describe.
pub const MAX_GROUPS: u32 = (FIRST_GROUP_BLOCK as u32 - 1) * GROUP_DESCS_PER_BLOCK;
/// Size of an inode slot on disk: two [`INODE_COPY_SIZE`] copies.
pub const INODE_SIZE: usize = 256;
/// Size of one copy of an inode.
pub const INODE_COPY_SIZE: usize = 128;
/// Inode slots per block.
pub const INODES_PER_BLOCK: u32 = BLOCK_SIZE / INODE_SIZE as u32;
/// Inode number of the root directory (inode numbers start at 1).
pub const ROOT_INO: u32 = 1;
/// Inode number of lost+found.
pub const LOST_FOUND_INO: u32 = 2;
/// First inode number for ordinary files; lower ones are reserved.
pub const FIRST_INO: u32 = 16;
/// Default bytes of data per inode for mkfs.
pub const DEFAULT_BYTES_PER_INODE: u64 = 16384;

/// Feature flags. A kernel must refuse to mount a filesystem with unknown
/// `incompat` bits, must mount read-only with unknown `ro_compat` bits, and
/// may ignore unknown `compat` bits.
pub mod feature {
    /// Compatible features this version knows.
    pub const COMPAT_SUPP: u64 = 0;
    /// Read-only-compatible features this version knows.
    pub const RO_COMPAT_SUPP: u64 = 0;
    /// Incompatible: data-block pointers may carry
    /// [`super::PTR_UNWRITTEN`] (blocks `fallocate` allocated and zeroed
    /// that no write has reached yet). mkfs sets it.
    pub const INCOMPAT_UNWRITTEN: u64 = 1 << 0;
    /// Incompatible: extended attributes. Inode [`super::XATTR_INDEX_INO`]
    /// is the attribute index, and the blocks it names are attribute
    /// blocks. Incompatible rather than read-only-compatible because the
    /// modules written before it ignored `ro_compat` bits, and one of them
    /// mounting read-write would free an inode without dropping its
    /// attributes (a new inode would inherit its ACLs). mkfs sets it.
    pub const INCOMPAT_XATTR: u64 = 1 << 1;
    /// Incompatible features this version knows.
    pub const INCOMPAT_SUPP: u64 = INCOMPAT_UNWRITTEN | INCOMPAT_XATTR;
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
    /// Blocks per group; always [`BLOCKS_PER_GROUP`].
    pub blocks_per_group: u32,
    /// Inodes per group, a multiple of [`INODES_PER_BLOCK`].
    pub inodes_per_group: u32,
    /// Number of block groups.
    pub group_count: u32,
    /// First inode of the orphan list (unlinked but still open), or 0.
    pub orphan_head: u32,
    /// Free blocks at the last clean unmount (a hint; fsck recomputes it).
    pub free_blocks: u64,
    /// Free inodes at the last clean unmount (a hint).
    pub free_inodes: u64,
    /// Number of mounts since mkfs.
    pub mount_count: u32,
    /// Last mount time, seconds since the epoch.
    pub mount_time: u64,
    /// Last write time of the superblock, seconds since the epoch.
    pub write_time: u64,
    /// Size of an inode slot; always [`INODE_SIZE`].
    pub inode_size: u32,
    /// Bytes 160..508: zero when written by this version; fields of newer
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
    /// The inode size is not [`INODE_SIZE`].
    BadInodeSize {
        /// Inode size found.
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
    /// The group geometry (blocks or inodes per group, group count) does
    /// not fit the size of the filesystem.
    BadGeometry {
        /// Which rule was broken.
        what: &'static str,
    },
    /// The orphan list head is not a valid inode number.
    BadOrphanHead {
        /// Value found.
        ino: u32,
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
            | SbError::BadBlockSize { .. }
            | SbError::BadInodeSize { .. } => ErrorClass::Unsupported,
            SbError::BadChecksum { .. }
            | SbError::BadState { .. }
            | SbError::TooSmall { .. }
            | SbError::BadGeometry { .. }
            | SbError::BadOrphanHead { .. }
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
            SbError::BadInodeSize { found } => {
                write!(f, "unsupported inode size {found} (only {INODE_SIZE})")
            }
            SbError::BadState { found } => write!(f, "invalid superblock state {found:#x}"),
            SbError::TooSmall { blocks } => {
                write!(
                    f,
                    "filesystem too small ({blocks} blocks, minimum {MIN_BLOCKS})"
                )
            }
            SbError::BadGeometry { what } => write!(f, "bad group geometry: {what}"),
            SbError::BadOrphanHead { ino } => write!(f, "bad orphan list head {ino}"),
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

/// A little-endian `u16` as it is stored on disk: two bytes, no alignment.
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Le16([u8; 2]);

/// A little-endian `u32` as it is stored on disk: four bytes, no alignment.
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Le32([u8; 4]);

/// A little-endian `u64` as it is stored on disk: eight bytes, no
/// alignment.
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Le64([u8; 8]);

macro_rules! le_int {
    ($le:ident, $int:ty) => {
        impl $le {
            /// Stores `v` in little-endian byte order.
            pub const fn new(v: $int) -> Self {
                $le(v.to_le_bytes())
            }

            /// The value in native byte order.
            pub const fn get(self) -> $int {
                <$int>::from_le_bytes(self.0)
            }
        }

        impl fmt::Debug for $le {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.get(), f)
            }
        }

        impl Field for $le {
            fn load(b: &[u8]) -> Self {
                $le(Field::load(b))
            }

            fn store(&self, b: &mut [u8]) {
                self.0.store(b)
            }
        }
    };
}

le_int!(Le16, u16);
le_int!(Le32, u32);
le_int!(Le64, u64);

/// A field of an on-disk record: a fixed number of bytes with no alignment
/// (so a `#[repr(C)]` record of fields has no padding), copied in and out
/// of a byte slice without `unsafe`.
trait Field: Sized {
    /// Reads the field from the start of `b`. A too-short `b` reads as
    /// zeros; the records' size assertions rule that out.
    fn load(b: &[u8]) -> Self;

    /// Writes the field to the start of `b`, or nothing if `b` is too
    /// short (ruled out in the same way).
    fn store(&self, b: &mut [u8]);
}

impl Field for u8 {
    fn load(b: &[u8]) -> Self {
        b.first().copied().unwrap_or(0)
    }

    fn store(&self, b: &mut [u8]) {
        if let Some(x) = b.first_mut() {
            *x = *self;
        }
    }
}

impl<const N: usize> Field for [u8; N] {
    fn load(b: &[u8]) -> Self {
        b.first_chunk().copied().unwrap_or([0; N])
    }

    fn store(&self, b: &mut [u8]) {
        if let Some(x) = b.first_chunk_mut() {
            *x = *self;
        }
    }
}

impl<const N: usize> Field for [Le64; N] {
    fn load(b: &[u8]) -> Self {
        let mut a = [Le64::default(); N];
        for (i, x) in a.iter_mut().enumerate() {
            *x = Le64::load(b.get(8 * i..).unwrap_or(&[]));
        }
        a
    }

    fn store(&self, b: &mut [u8]) {
        for (i, x) in self.iter().enumerate() {
            put(b, 8 * i, *x);
        }
    }
}

/// Writes field `v` at byte `off` of `b` (nothing if it does not fit).
fn put<F: Field>(b: &mut [u8], off: usize, v: F) {
    if let Some(b) = b.get_mut(off..) {
        v.store(b);
    }
}

/// Makes `$t`, a `#[repr(C)]` struct of [`Field`]s listed in `{...}`, an
/// on-disk record of `$size` bytes: asserts at compile time that its size is
/// `$size` and that it has no padding, and gives it `from_bytes` and
/// `to_bytes`, which copy each field at its `offset_of!`. The struct
/// declaration is therefore the byte layout; the list only names the fields
/// to copy (a missing one fails to compile).
macro_rules! record {
    ($t:ident, $size:expr, { $($f:ident),+ $(,)? }) => {
        const _: () = assert!(core::mem::size_of::<$t>() == $size);
        const _: () = assert!(core::mem::align_of::<$t>() == 1);

        impl $t {
            /// Decodes the record from its bytes (no validation).
            pub fn from_bytes(b: &[u8; $size]) -> Self {
                $t {
                    $($f: Field::load(b.get(core::mem::offset_of!($t, $f)..).unwrap_or(&[])),)+
                }
            }

            /// Encodes the record into its bytes, exactly as stored.
            pub fn to_bytes(self) -> [u8; $size] {
                let mut b = [0u8; $size];
                $(put(&mut b, core::mem::offset_of!($t, $f), self.$f);)+
                b
            }
        }
    };
}

/// Length of the reserved area of the superblock (bytes 160..508).
pub const RESERVED_LEN: usize = 348;

/// The superblock as stored at byte 0 of block 0 (`ondisk.rst`,
/// "Superblock"). [`Superblock::decode`] validates it into a [`Superblock`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskSuperblock {
    /// [`MAGIC`], the bytes "R2DX".
    pub magic: Le32,
    /// Format major version.
    pub version_major: Le16,
    /// Format minor version.
    pub version_minor: Le16,
    /// Block size in bytes.
    pub block_size: Le32,
    /// State flags, see [`state`].
    pub state: Le32,
    /// Compatible feature flags.
    pub feature_compat: Le64,
    /// Read-only-compatible feature flags.
    pub feature_ro_compat: Le64,
    /// Incompatible feature flags.
    pub feature_incompat: Le64,
    /// Size of the filesystem in blocks.
    pub blocks_count: Le64,
    /// Creation time, seconds since the epoch.
    pub mkfs_time: Le64,
    /// Filesystem UUID.
    pub uuid: [u8; 16],
    /// Volume label, NUL-padded.
    pub label: [u8; LABEL_LEN],
    /// Blocks per group.
    pub blocks_per_group: Le32,
    /// Inodes per group.
    pub inodes_per_group: Le32,
    /// Number of block groups.
    pub group_count: Le32,
    /// First inode of the orphan list, or 0.
    pub orphan_head: Le32,
    /// Free blocks (a hint).
    pub free_blocks: Le64,
    /// Free inodes (a hint).
    pub free_inodes: Le64,
    /// Number of mounts since mkfs.
    pub mount_count: Le32,
    /// Size of an inode slot.
    pub inode_size: Le32,
    /// Last mount time, seconds since the epoch.
    pub mount_time: Le64,
    /// Last write time of the superblock.
    pub write_time: Le64,
    /// Zero when written by this version; preserved on rewrite.
    pub reserved: [u8; RESERVED_LEN],
    /// CRC-32C of the bytes before it.
    pub checksum: Le32,
}

record!(DiskSuperblock, SUPERBLOCK_SIZE, {
    magic, version_major, version_minor, block_size, state, feature_compat,
    feature_ro_compat, feature_incompat, blocks_count, mkfs_time, uuid, label,
    blocks_per_group, inodes_per_group, group_count, orphan_head, free_blocks,
    free_inodes, mount_count, inode_size, mount_time, write_time, reserved,
    checksum,
});

impl Superblock {
    /// A new superblock for a filesystem of `blocks_count` blocks with
    /// `inodes_per_group` inodes in each group. The geometry is derived and
    /// not checked here; [`Superblock::check_geometry`] does that.
    pub fn new(
        blocks_count: u64,
        inodes_per_group: u32,
        uuid: [u8; 16],
        label: [u8; LABEL_LEN],
        mkfs_time: u64,
    ) -> Self {
        Superblock {
            version_major: VERSION_MAJOR,
            version_minor: VERSION_MINOR,
            block_size: BLOCK_SIZE,
            state: 0,
            feature_compat: 0,
            feature_ro_compat: 0,
            feature_incompat: feature::INCOMPAT_UNWRITTEN | feature::INCOMPAT_XATTR,
            blocks_count,
            mkfs_time,
            uuid,
            label,
            blocks_per_group: BLOCKS_PER_GROUP,
            inodes_per_group,
            group_count: groups_for(blocks_count),
            orphan_head: 0,
            free_blocks: 0,
            free_inodes: 0,
            mount_count: 0,
            inode_size: INODE_SIZE as u32,
            mount_time: 0,
            write_time: mkfs_time,
            reserved: [0; RESERVED_LEN],
        }
    }

    /// Decodes and validates a superblock from untrusted bytes.
    ///
    /// Checks, in order: length, magic, checksum, version, incompatible
    /// features, block size, state, the minimum size and the group
    /// geometry. The device size is checked separately by
    /// [`Superblock::check_device`].
    pub fn decode(buf: &[u8]) -> Result<Self, SbError> {
        let Some(b) = buf.first_chunk::<SUPERBLOCK_SIZE>() else {
            return Err(SbError::Truncated { len: buf.len() });
        };
        let d = DiskSuperblock::from_bytes(b);
        let magic = d.magic.get();
        if magic != MAGIC {
            return Err(SbError::BadMagic { found: magic });
        }
        let stored = d.checksum.get();
        let computed = crc32c(b.split_at(SUPERBLOCK_CSUM_OFFSET).0);
        if stored != computed {
            return Err(SbError::BadChecksum { stored, computed });
        }
        let sb = Superblock {
            version_major: d.version_major.get(),
            version_minor: d.version_minor.get(),
            block_size: d.block_size.get(),
            state: d.state.get(),
            feature_compat: d.feature_compat.get(),
            feature_ro_compat: d.feature_ro_compat.get(),
            feature_incompat: d.feature_incompat.get(),
            blocks_count: d.blocks_count.get(),
            mkfs_time: d.mkfs_time.get(),
            uuid: d.uuid,
            label: d.label,
            blocks_per_group: d.blocks_per_group.get(),
            inodes_per_group: d.inodes_per_group.get(),
            group_count: d.group_count.get(),
            orphan_head: d.orphan_head.get(),
            free_blocks: d.free_blocks.get(),
            free_inodes: d.free_inodes.get(),
            mount_count: d.mount_count.get(),
            inode_size: d.inode_size.get(),
            mount_time: d.mount_time.get(),
            write_time: d.write_time.get(),
            reserved: d.reserved,
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
        if sb.inode_size != INODE_SIZE as u32 {
            return Err(SbError::BadInodeSize {
                found: sb.inode_size,
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
        sb.check_geometry()?;
        if sb.orphan_head != 0 && !sb.geometry().valid_ino(sb.orphan_head) {
            return Err(SbError::BadOrphanHead {
                ino: sb.orphan_head,
            });
        }
        Ok(sb)
    }

    /// Checks that the group geometry fits the filesystem size.
    pub fn check_geometry(&self) -> Result<(), SbError> {
        let bad = |what| Err(SbError::BadGeometry { what });
        if self.blocks_per_group != BLOCKS_PER_GROUP {
            return bad("blocks per group is not 32768");
        }
        let ipg = self.inodes_per_group;
        if ipg == 0 || ipg % INODES_PER_BLOCK != 0 || ipg > BLOCKS_PER_GROUP {
            return bad("inodes per group is not a multiple of 16 in 16..=32768");
        }
        if self.group_count != groups_for(self.blocks_count) {
            return bad("group count does not match the block count");
        }
        if self.group_count == 0 || self.group_count > MAX_GROUPS {
            return bad("group count out of range");
        }
        let g = self.geometry();
        // The last group must hold its metadata plus at least one block.
        let last = self.group_count - 1;
        if g.group_blocks(last) <= g.meta_blocks() {
            return bad("last group too small for its metadata");
        }
        if u64::from(ipg) * u64::from(self.group_count) < u64::from(FIRST_INO) {
            return bad("fewer inodes than the reserved ones");
        }
        Ok(())
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

    /// The geometry derived from this superblock. Only meaningful for a
    /// superblock that passed [`Superblock::check_geometry`].
    pub fn geometry(&self) -> Geometry {
        Geometry {
            blocks_count: self.blocks_count,
            inodes_per_group: self.inodes_per_group,
            group_count: self.group_count,
        }
    }

    /// Encodes the superblock, including its checksum, into `buf`.
    pub fn encode(&self, buf: &mut [u8; SUPERBLOCK_SIZE]) {
        let d = DiskSuperblock {
            magic: Le32::new(MAGIC),
            version_major: Le16::new(self.version_major),
            version_minor: Le16::new(self.version_minor),
            block_size: Le32::new(self.block_size),
            state: Le32::new(self.state),
            feature_compat: Le64::new(self.feature_compat),
            feature_ro_compat: Le64::new(self.feature_ro_compat),
            feature_incompat: Le64::new(self.feature_incompat),
            blocks_count: Le64::new(self.blocks_count),
            mkfs_time: Le64::new(self.mkfs_time),
            uuid: self.uuid,
            label: self.label,
            blocks_per_group: Le32::new(self.blocks_per_group),
            inodes_per_group: Le32::new(self.inodes_per_group),
            group_count: Le32::new(self.group_count),
            orphan_head: Le32::new(self.orphan_head),
            free_blocks: Le64::new(self.free_blocks),
            free_inodes: Le64::new(self.free_inodes),
            mount_count: Le32::new(self.mount_count),
            inode_size: Le32::new(self.inode_size),
            mount_time: Le64::new(self.mount_time),
            write_time: Le64::new(self.write_time),
            reserved: self.reserved,
            checksum: Le32::new(0),
        };
        *buf = d.to_bytes();
        let csum = crc32c(buf.split_at(SUPERBLOCK_CSUM_OFFSET).0);
        put(buf, SUPERBLOCK_CSUM_OFFSET, Le32::new(csum));
    }

    /// The label up to its first NUL, if it is valid UTF-8.
    pub fn label_str(&self) -> Option<&str> {
        let end = self.label.iter().position(|&c| c == 0).unwrap_or(LABEL_LEN);
        core::str::from_utf8(&self.label[..end]).ok()
    }
}

/// Number of groups for a filesystem of `blocks_count` blocks (the last
/// group may be partial).
pub fn groups_for(blocks_count: u64) -> u32 {
    let data = blocks_count.saturating_sub(FIRST_GROUP_BLOCK);
    let groups = data.div_ceil(u64::from(BLOCKS_PER_GROUP));
    u32::try_from(groups).unwrap_or(u32::MAX)
}

/// Where everything is, derived from a validated superblock.
///
/// Group `g` starts at `FIRST_GROUP_BLOCK + g * BLOCKS_PER_GROUP` with its
/// block bitmap, then its inode bitmap, then its inode table; the rest of
/// the group holds data. The last group may be shorter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Blocks in the filesystem.
    pub blocks_count: u64,
    /// Inodes per group.
    pub inodes_per_group: u32,
    /// Number of groups.
    pub group_count: u32,
}

impl Geometry {
    /// Blocks of the inode table of each group.
    pub fn itable_blocks(&self) -> u32 {
        self.inodes_per_group / INODES_PER_BLOCK
    }

    /// Metadata blocks at the start of each group (2 bitmaps + table).
    pub fn meta_blocks(&self) -> u64 {
        2 + u64::from(self.itable_blocks())
    }

    /// Blocks holding the group descriptor table (from block 1).
    pub fn gdt_blocks(&self) -> u32 {
        self.group_count.div_ceil(GROUP_DESCS_PER_BLOCK)
    }

    /// First block of group `g`.
    pub fn group_start(&self, g: u32) -> u64 {
        FIRST_GROUP_BLOCK + u64::from(g) * u64::from(BLOCKS_PER_GROUP)
    }

    /// The group holding data block `b` (`None` below the first group or
    /// past the end).
    pub fn group_of_block(&self, b: u64) -> Option<(u32, u32)> {
        if b < FIRST_GROUP_BLOCK || b >= self.blocks_count {
            return None;
        }
        let rel = b - FIRST_GROUP_BLOCK;
        let g = u32::try_from(rel / u64::from(BLOCKS_PER_GROUP)).ok()?;
        Some((g, (rel % u64::from(BLOCKS_PER_GROUP)) as u32))
    }

    /// Number of blocks in group `g` (the last one may be partial).
    pub fn group_blocks(&self, g: u32) -> u64 {
        let start = self.group_start(g);
        self.blocks_count
            .saturating_sub(start)
            .min(u64::from(BLOCKS_PER_GROUP))
    }

    /// Block bitmap of group `g`.
    pub fn block_bitmap(&self, g: u32) -> u64 {
        self.group_start(g)
    }

    /// Inode bitmap of group `g`.
    pub fn inode_bitmap(&self, g: u32) -> u64 {
        self.group_start(g) + 1
    }

    /// First block of the inode table of group `g`.
    pub fn inode_table(&self, g: u32) -> u64 {
        self.group_start(g) + 2
    }

    /// Total number of inodes.
    pub fn inodes_count(&self) -> u64 {
        u64::from(self.inodes_per_group) * u64::from(self.group_count)
    }

    /// Whether `ino` names an inode slot (1-based).
    pub fn valid_ino(&self, ino: u32) -> bool {
        ino != 0 && u64::from(ino) <= self.inodes_count()
    }

    /// Group and index within the group of inode `ino`, or `None` if
    /// `ino` is out of range.
    pub fn ino_group(&self, ino: u32) -> Option<(u32, u32)> {
        if !self.valid_ino(ino) {
            return None;
        }
        let i = ino - 1;
        // Checked: a zero `inodes_per_group` (never valid, but this type
        // can be built by hand) gives `None`, not a division panic.
        Some((
            i.checked_div(self.inodes_per_group)?,
            i.checked_rem(self.inodes_per_group)?,
        ))
    }

    /// Block and byte offset of inode `ino`'s slot.
    pub fn inode_location(&self, ino: u32) -> Option<(u64, usize)> {
        let (g, idx) = self.ino_group(ino)?;
        let block = self.inode_table(g) + u64::from(idx / INODES_PER_BLOCK);
        Some((block, (idx % INODES_PER_BLOCK) as usize * INODE_SIZE))
    }

    /// Group and bit within its bitmap of block `block`, for any block
    /// inside a group.
    pub fn block_group(&self, block: u64) -> Option<(u32, u32)> {
        if block < FIRST_GROUP_BLOCK || block >= self.blocks_count {
            return None;
        }
        let rel = block - FIRST_GROUP_BLOCK;
        let g = u32::try_from(rel / u64::from(BLOCKS_PER_GROUP)).ok()?;
        Some((g, (rel % u64::from(BLOCKS_PER_GROUP)) as u32))
    }

    /// Whether `block` may hold file data or a map or directory block:
    /// inside the filesystem and not group metadata.
    pub fn is_data_block(&self, block: u64) -> bool {
        match self.block_group(block) {
            Some((_, bit)) => u64::from(bit) >= self.meta_blocks(),
            None => false,
        }
    }

    /// Data blocks in the whole filesystem.
    pub fn data_blocks(&self) -> u64 {
        (0..self.group_count)
            .map(|g| self.group_blocks(g).saturating_sub(self.meta_blocks()))
            .sum()
    }
}

/// A group descriptor: per-group counters. They are hints for the
/// allocator, kept up to date in memory and written back lazily; fsck
/// recomputes them from the bitmaps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupDesc {
    /// Free blocks in the group.
    pub free_blocks: u32,
    /// Free inodes in the group.
    pub free_inodes: u32,
    /// Directories in the group.
    pub used_dirs: u32,
    /// Flags, none defined yet (zero).
    pub flags: u32,
}

/// A group descriptor as stored in the descriptor table (`ondisk.rst`,
/// "Group descriptors").
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskGroupDesc {
    /// Free blocks in the group.
    pub free_blocks: Le32,
    /// Free inodes in the group.
    pub free_inodes: Le32,
    /// Directories in the group.
    pub used_dirs: Le32,
    /// Flags (zero).
    pub flags: Le32,
    /// Written as zero.
    pub reserved: [u8; 12],
    /// CRC-32C of the group number (LE) and the bytes before it.
    pub checksum: Le32,
}

record!(DiskGroupDesc, GROUP_DESC_SIZE, {
    free_blocks, free_inodes, used_dirs, flags, reserved, checksum,
});

/// Offset of a group descriptor's checksum, which covers the bytes before.
const GD_CSUM_OFFSET: usize = core::mem::offset_of!(DiskGroupDesc, checksum);

/// Why a group descriptor was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GdError {
    /// The checksum does not match.
    BadChecksum,
    /// A counter exceeds what the group can hold.
    BadCounter,
}

impl GroupDesc {
    /// Decodes descriptor `g` from its 32 bytes and checks its counters
    /// against the geometry.
    pub fn decode(b: &[u8; GROUP_DESC_SIZE], g: u32, geo: &Geometry) -> Result<Self, GdError> {
        let d = DiskGroupDesc::from_bytes(b);
        if gd_csum(b, g) != d.checksum.get() {
            return Err(GdError::BadChecksum);
        }
        let gd = GroupDesc {
            free_blocks: d.free_blocks.get(),
            free_inodes: d.free_inodes.get(),
            used_dirs: d.used_dirs.get(),
            flags: d.flags.get(),
        };
        let data = geo.group_blocks(g).saturating_sub(geo.meta_blocks());
        if u64::from(gd.free_blocks) > data
            || gd.free_inodes > geo.inodes_per_group
            || gd.used_dirs > geo.inodes_per_group
        {
            return Err(GdError::BadCounter);
        }
        Ok(gd)
    }

    /// Encodes descriptor `g`.
    pub fn encode(&self, b: &mut [u8; GROUP_DESC_SIZE], g: u32) {
        let d = DiskGroupDesc {
            free_blocks: Le32::new(self.free_blocks),
            free_inodes: Le32::new(self.free_inodes),
            used_dirs: Le32::new(self.used_dirs),
            flags: Le32::new(self.flags),
            ..DiskGroupDesc::default()
        };
        *b = d.to_bytes();
        let csum = gd_csum(b, g);
        put(b, GD_CSUM_OFFSET, Le32::new(csum));
    }

    /// Block of the descriptor table and byte offset in it for group `g`.
    pub fn location(g: u32) -> (u64, usize) {
        (
            1 + u64::from(g / GROUP_DESCS_PER_BLOCK),
            (g % GROUP_DESCS_PER_BLOCK) as usize * GROUP_DESC_SIZE,
        )
    }
}

/// The group number is part of the checksum, so a descriptor written to
/// the wrong slot does not verify.
fn gd_csum(b: &[u8; GROUP_DESC_SIZE], g: u32) -> u32 {
    let covered = b.split_at(GD_CSUM_OFFSET).0;
    !crc32c_update(crc32c_update(!0, &g.to_le_bytes()), covered)
}

/// File types in the inode mode (the `S_IFMT` bits).
pub mod mode {
    /// Mask of the type bits.
    pub const S_IFMT: u16 = 0o170000;
    /// Socket.
    pub const S_IFSOCK: u16 = 0o140000;
    /// Symbolic link.
    pub const S_IFLNK: u16 = 0o120000;
    /// Regular file.
    pub const S_IFREG: u16 = 0o100000;
    /// Block device.
    pub const S_IFBLK: u16 = 0o060000;
    /// Directory.
    pub const S_IFDIR: u16 = 0o040000;
    /// Character device.
    pub const S_IFCHR: u16 = 0o020000;
    /// FIFO.
    pub const S_IFIFO: u16 = 0o010000;

    /// Whether inodes of mode `m` have a block map (device nodes, FIFOs and
    /// sockets keep a device number, or nothing, in the roots).
    pub fn has_map(m: u16) -> bool {
        matches!(m & S_IFMT, S_IFREG | S_IFDIR | S_IFLNK)
    }

    /// Whether the type bits of `m` are one of the above.
    pub fn valid_type(m: u16) -> bool {
        matches!(
            m & S_IFMT,
            S_IFSOCK | S_IFLNK | S_IFREG | S_IFBLK | S_IFDIR | S_IFCHR | S_IFIFO
        )
    }
}

/// Inode flags kept on disk. The values are the `FS_*_FL` values of
/// `FS_IOC_GETFLAGS`, so the ioctl maps them one to one.
pub mod iflags {
    /// Synchronous updates.
    pub const SYNC: u32 = 0x0000_0008;
    /// Immutable file.
    pub const IMMUTABLE: u32 = 0x0000_0010;
    /// Writes may only append.
    pub const APPEND: u32 = 0x0000_0020;
    /// Do not dump.
    pub const NODUMP: u32 = 0x0000_0040;
    /// Do not update atime.
    pub const NOATIME: u32 = 0x0000_0080;
    /// Synchronous directory updates.
    pub const DIRSYNC: u32 = 0x0001_0000;
    /// DAX requested for this file (or inherited by new files in this
    /// directory).
    pub const DAX: u32 = 0x0200_0000;
    /// Every flag this version stores.
    pub const KNOWN: u32 = SYNC | IMMUTABLE | APPEND | NODUMP | NOATIME | DIRSYNC | DAX;
    /// Flags a new inode inherits from its directory.
    pub const INHERITED: u32 = SYNC | NODUMP | NOATIME | DIRSYNC | DAX;
}

/// Number of block-map root pointers in an inode.
pub const MAP_ROOTS: usize = 5;
/// Pointers per map block (one 4 KiB block of 64-bit block numbers). One
/// leaf therefore maps exactly one 2 MiB-aligned range of the file.
pub const MAP_FANOUT: u64 = 512;
/// Highest map height.
pub const MAX_MAP_HEIGHT: u8 = 4;
/// Largest file, in blocks: what a map of [`MAX_MAP_HEIGHT`] addresses
/// (5 * 2^36 blocks, 1.25 PiB).
pub const MAX_FILE_BLOCKS: u64 = MAP_ROOTS as u64 * (1 << 36);
/// Longest symlink target stored inline in the inode (in the map roots).
pub const INLINE_SYMLINK_MAX: usize = MAP_ROOTS * 8;
/// Longest symlink target.
pub const SYMLINK_MAX: usize = BLOCK_SIZE as usize - 1;

/// Bit 63 of a data-block pointer (a leaf's, or a root's in a map of
/// height 0): the block is allocated and zeroed, and no write has reached
/// it since (`fallocate`); FIEMAP reports it as an unwritten extent. The
/// block number is the pointer without this bit. Only with
/// [`feature::INCOMPAT_UNWRITTEN`], and never in a pointer to a map block.
pub const PTR_UNWRITTEN: u64 = 1 << 63;

/// The block number of data-block pointer `p` (without
/// [`PTR_UNWRITTEN`]).
pub fn ptr_block(p: u64) -> u64 {
    p & !PTR_UNWRITTEN
}

/// Pointer `idx` of a map block (`None` if `block` is too short).
pub fn map_ptr(block: &[u8], idx: usize) -> Option<u64> {
    let b = block.get(idx.checked_mul(8)?..idx.checked_mul(8)? + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

/// Blocks a map of height `h` can address (`MAP_ROOTS * 512^h`).
pub fn map_capacity(h: u8) -> u64 {
    let mut cap = MAP_ROOTS as u64;
    for _ in 0..h {
        cap = cap.saturating_mul(MAP_FANOUT);
    }
    cap
}

/// Map blocks a file of `d` data blocks, from file block 0, needs: at
/// each level of its map, one block per 512 below.
pub fn map_blocks_for(d: u64) -> u64 {
    if d == 0 {
        return 0;
    }
    let h = map_height_for(d - 1);
    let mut n = 0;
    let mut below = d;
    for _ in 0..h {
        below = below.div_ceil(MAP_FANOUT);
        n += below;
    }
    n
}

/// The most data blocks `free` free blocks hold in one file, its map
/// included: statfs's available blocks, so that a file of that size (df's
/// "Available", which `fallocate` callers size by) fits.
pub fn data_blocks_within(free: u64) -> u64 {
    // An estimate from below (leaves, then the levels above them), then
    // up to the largest that fits: a few steps.
    let mut d = free.saturating_sub(
        free.div_ceil(MAP_FANOUT + 1)
            + free.div_ceil(MAP_FANOUT * MAP_FANOUT)
            + free.div_ceil(MAP_FANOUT * MAP_FANOUT * MAP_FANOUT)
            + 1,
    );
    while d < free && d + 1 + map_blocks_for(d + 1) <= free {
        d += 1;
    }
    d
}

/// Smallest map height that addresses file block `lblk`.
pub fn map_height_for(lblk: u64) -> u8 {
    let mut h = 0;
    while h < MAX_MAP_HEIGHT && lblk >= map_capacity(h) {
        h += 1;
    }
    h
}

/// The path from an inode's roots to file block `lblk` in a map of height
/// `h`: the root index, then one index per map level (the last one in the
/// leaf). Returns `None` if `lblk` is beyond the map's capacity.
pub fn map_path(lblk: u64, h: u8) -> Option<(usize, [usize; MAX_MAP_HEIGHT as usize])> {
    if h > MAX_MAP_HEIGHT || lblk >= map_capacity(h) {
        return None;
    }
    let mut idx = [0usize; MAX_MAP_HEIGHT as usize];
    let mut rest = lblk;
    // Fill from the leaf upwards: idx[h-1] is the index in the leaf.
    for level in (0..h as usize).rev() {
        idx[level] = (rest % MAP_FANOUT) as usize;
        rest /= MAP_FANOUT;
    }
    Some((rest as usize, idx))
}

/// Flags in the inode's `iflags2` byte.
pub mod iflags2 {
    /// The map roots hold inline data (a short symlink target).
    pub const INLINE: u8 = 1 << 0;
    /// Every bit this version knows.
    pub const KNOWN: u8 = INLINE;
}

/// One decoded copy of an inode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inode {
    /// Type and permission bits.
    pub mode: u16,
    /// Height of the block map (0: the roots point at data blocks).
    pub height: u8,
    /// [`iflags2`] bits.
    pub iflags2: u8,
    /// Hard links.
    pub links: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// [`iflags`] bits.
    pub flags: u32,
    /// Generation number, for file handles.
    pub generation: u32,
    /// Size in bytes.
    pub size: u64,
    /// Blocks allocated to the file, data and map blocks.
    pub blocks: u64,
    /// Access time, seconds.
    pub atime: i64,
    /// Modification time, seconds.
    pub mtime: i64,
    /// Change time, seconds.
    pub ctime: i64,
    /// Access time, nanoseconds.
    pub atime_ns: u32,
    /// Modification time, nanoseconds.
    pub mtime_ns: u32,
    /// Change time, nanoseconds.
    pub ctime_ns: u32,
    /// Next inode on the orphan list, or 0.
    pub next_orphan: u32,
    /// Block-map roots; device number in `roots[0]` for device nodes;
    /// the target of a short symlink when [`iflags2::INLINE`] is set.
    pub roots: [u64; MAP_ROOTS],
    /// Sequence number of this copy; the newer valid copy wins.
    pub seq: u32,
}

/// One copy of an inode as stored in its slot (`ondisk.rst`, "Inodes"):
/// copy 0 is bytes 0..128 of the slot, copy 1 bytes 128..256.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskInode {
    /// Type and permission bits.
    pub mode: Le16,
    /// Height of the block map.
    pub height: u8,
    /// [`iflags2`] bits.
    pub iflags2: u8,
    /// Hard links.
    pub links: Le32,
    /// Owner.
    pub uid: Le32,
    /// Group.
    pub gid: Le32,
    /// [`iflags`] bits.
    pub flags: Le32,
    /// Generation number.
    pub generation: Le32,
    /// Size in bytes.
    pub size: Le64,
    /// Blocks allocated to the file.
    pub blocks: Le64,
    /// Access time, seconds (an `i64`).
    pub atime: Le64,
    /// Modification time, seconds (an `i64`).
    pub mtime: Le64,
    /// Change time, seconds (an `i64`).
    pub ctime: Le64,
    /// Access time, nanoseconds.
    pub atime_ns: Le32,
    /// Modification time, nanoseconds.
    pub mtime_ns: Le32,
    /// Change time, nanoseconds.
    pub ctime_ns: Le32,
    /// Next inode on the orphan list, or 0.
    pub next_orphan: Le32,
    /// Block-map roots (or a device number, or an inline symlink target).
    pub roots: [Le64; MAP_ROOTS],
    /// Sequence number of this copy.
    pub seq: Le32,
    /// CRC-32C of the inode number (LE) and the bytes before it.
    pub checksum: Le32,
}

record!(DiskInode, INODE_COPY_SIZE, {
    mode, height, iflags2, links, uid, gid, flags, generation, size, blocks,
    atime, mtime, ctime, atime_ns, mtime_ns, ctime_ns, next_orphan, roots, seq,
    checksum,
});

const _: () = assert!(INODE_SIZE == 2 * INODE_COPY_SIZE);

/// Offset of an inode copy's checksum, which covers the bytes before.
const INODE_CSUM_OFFSET: usize = core::mem::offset_of!(DiskInode, checksum);

/// Why an inode was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InodeError {
    /// Neither copy has a valid checksum (and the slot is not all zero).
    BadChecksum,
    /// A field is out of range.
    BadField(&'static str),
}

impl fmt::Display for InodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InodeError::BadChecksum => f.write_str("no copy of the inode has a valid checksum"),
            InodeError::BadField(what) => write!(f, "invalid inode field: {what}"),
        }
    }
}

/// What an inode slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Never used or freed: all 256 bytes are zero.
    Free,
    /// An inode, decoded from copy `copy` (0 or 1).
    Used {
        /// The inode.
        inode: Inode,
        /// Which copy it came from; the next write goes to the other one.
        copy: usize,
    },
}

fn newer(a: u32, b: u32) -> bool {
    // Serial number arithmetic: a is newer if it is less than 2^31 ahead.
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

impl Inode {
    /// Decodes inode slot `ino` (256 bytes): picks the newest copy with a
    /// valid checksum and validates its fields.
    pub fn decode_slot(b: &[u8; INODE_SIZE], ino: u32) -> Result<Slot, InodeError> {
        if b.iter().all(|&x| x == 0) {
            return Ok(Slot::Free);
        }
        let mut best: Option<(Inode, usize)> = None;
        for (copy, c) in b.chunks_exact(INODE_COPY_SIZE).enumerate() {
            let Ok(c) = c.try_into() else {
                continue;
            };
            if let Some(i) = Inode::decode_copy(c, ino) {
                best = match best {
                    Some((cur, cc)) if !newer(i.seq, cur.seq) => Some((cur, cc)),
                    _ => Some((i, copy)),
                };
            }
        }
        let (inode, copy) = best.ok_or(InodeError::BadChecksum)?;
        inode.validate()?;
        Ok(Slot::Used { inode, copy })
    }

    fn decode_copy(c: &[u8; INODE_COPY_SIZE], ino: u32) -> Option<Inode> {
        let d = DiskInode::from_bytes(c);
        if inode_csum(c, ino) != d.checksum.get() {
            return None;
        }
        Some(Inode {
            mode: d.mode.get(),
            height: d.height,
            iflags2: d.iflags2,
            links: d.links.get(),
            uid: d.uid.get(),
            gid: d.gid.get(),
            flags: d.flags.get(),
            generation: d.generation.get(),
            size: d.size.get(),
            blocks: d.blocks.get(),
            atime: d.atime.get() as i64,
            mtime: d.mtime.get() as i64,
            ctime: d.ctime.get() as i64,
            atime_ns: d.atime_ns.get(),
            mtime_ns: d.mtime_ns.get(),
            ctime_ns: d.ctime_ns.get(),
            next_orphan: d.next_orphan.get(),
            roots: d.roots.map(Le64::get),
            seq: d.seq.get(),
        })
    }

    /// Checks the fields that do not depend on other structures.
    pub fn validate(&self) -> Result<(), InodeError> {
        let bad = |what| Err(InodeError::BadField(what));
        if !mode::valid_type(self.mode) {
            return bad("file type");
        }
        if self.height > MAX_MAP_HEIGHT {
            return bad("map height");
        }
        if self.iflags2 & !iflags2::KNOWN != 0 {
            return bad("unknown iflags2 bits");
        }
        if self.flags & !iflags::KNOWN != 0 {
            return bad("unknown flags");
        }
        if self.size > MAX_FILE_BLOCKS << BLOCK_SHIFT {
            return bad("size");
        }
        if self.atime_ns >= 1_000_000_000
            || self.mtime_ns >= 1_000_000_000
            || self.ctime_ns >= 1_000_000_000
        {
            return bad("nanoseconds");
        }
        if self.iflags2 & iflags2::INLINE != 0 {
            if self.mode & mode::S_IFMT != mode::S_IFLNK {
                return bad("inline data on a non-symlink");
            }
            if self.size as usize > INLINE_SYMLINK_MAX || self.height != 0 {
                return bad("inline symlink size");
            }
        }
        if self.mode & mode::S_IFMT == mode::S_IFLNK && self.size as usize > SYMLINK_MAX {
            return bad("symlink size");
        }
        if self.mode & mode::S_IFMT == mode::S_IFDIR && self.size % u64::from(BLOCK_SIZE) != 0 {
            return bad("directory size not a multiple of the block size");
        }
        Ok(())
    }

    /// Encodes this inode as copy `copy` (0 or 1) of slot `ino`, leaving
    /// the other copy in `b` untouched.
    pub fn encode_copy(&self, b: &mut [u8; INODE_SIZE], copy: usize, ino: u32) {
        let d = DiskInode {
            mode: Le16::new(self.mode),
            height: self.height,
            iflags2: self.iflags2,
            links: Le32::new(self.links),
            uid: Le32::new(self.uid),
            gid: Le32::new(self.gid),
            flags: Le32::new(self.flags),
            generation: Le32::new(self.generation),
            size: Le64::new(self.size),
            blocks: Le64::new(self.blocks),
            atime: Le64::new(self.atime as u64),
            mtime: Le64::new(self.mtime as u64),
            ctime: Le64::new(self.ctime as u64),
            atime_ns: Le32::new(self.atime_ns),
            mtime_ns: Le32::new(self.mtime_ns),
            ctime_ns: Le32::new(self.ctime_ns),
            next_orphan: Le32::new(self.next_orphan),
            roots: self.roots.map(Le64::new),
            seq: Le32::new(self.seq),
            checksum: Le32::new(0),
        };
        let mut c = d.to_bytes();
        let csum = inode_csum(&c, ino);
        put(&mut c, INODE_CSUM_OFFSET, Le32::new(csum));
        if let Some(dst) = b.chunks_exact_mut(INODE_COPY_SIZE).nth(copy & 1) {
            dst.copy_from_slice(&c);
        }
    }

    /// The inline symlink target stored in the roots.
    pub fn inline_data(&self) -> [u8; INLINE_SYMLINK_MAX] {
        let mut d = [0u8; INLINE_SYMLINK_MAX];
        self.roots.map(Le64::new).store(&mut d);
        d
    }

    /// Stores `data` (at most [`INLINE_SYMLINK_MAX`] bytes, zero-padded)
    /// in the roots.
    pub fn set_inline_data(&mut self, data: &[u8]) {
        let mut d = [0u8; INLINE_SYMLINK_MAX];
        let n = data.len().min(INLINE_SYMLINK_MAX);
        d[..n].copy_from_slice(&data[..n]);
        self.roots = <[Le64; MAP_ROOTS]>::load(&d).map(Le64::get);
    }
}

/// The inode number is part of the checksum, so an inode copied to the
/// wrong slot does not verify.
fn inode_csum(c: &[u8; INODE_COPY_SIZE], ino: u32) -> u32 {
    let covered = c.split_at(INODE_CSUM_OFFSET).0;
    !crc32c_update(crc32c_update(!0, &ino.to_le_bytes()), covered)
}

/// Directory entries live in 32-byte slots, 128 per block. An entry is a
/// head slot followed by `nslots - 1` continuation slots for the rest of
/// its name; it never crosses a block. Slot 0 of block 0 is always the
/// ".." entry; "." is not stored.
pub mod dirent {
    /// Bytes per slot.
    pub const SLOT_SIZE: usize = 32;
    /// Slots per block.
    pub const SLOTS_PER_BLOCK: usize = super::BLOCK_SIZE as usize / SLOT_SIZE;
    /// Name bytes held by the head slot.
    pub const HEAD_NAME: usize = 20;
    /// Longest name.
    pub const NAME_MAX: usize = 255;
    /// Most slots one entry uses.
    pub const MAX_SLOTS: usize = slots_for(NAME_MAX);

    /// `d_type` values (as in `readdir`).
    pub const DT_UNKNOWN: u8 = 0;
    /// FIFO.
    pub const DT_FIFO: u8 = 1;
    /// Character device.
    pub const DT_CHR: u8 = 2;
    /// Directory.
    pub const DT_DIR: u8 = 4;
    /// Block device.
    pub const DT_BLK: u8 = 6;
    /// Regular file.
    pub const DT_REG: u8 = 8;
    /// Symbolic link.
    pub const DT_LNK: u8 = 10;
    /// Socket.
    pub const DT_SOCK: u8 = 12;

    /// Slots needed for a name of `len` bytes.
    pub const fn slots_for(len: usize) -> usize {
        if len <= HEAD_NAME {
            1
        } else {
            1 + (len - HEAD_NAME).div_ceil(SLOT_SIZE)
        }
    }

    /// The `d_type` for an inode mode.
    pub fn dtype(mode: u16) -> u8 {
        (u32::from(mode & super::mode::S_IFMT) >> 12) as u8
    }
}

/// The head slot of a directory entry as stored (`ondisk.rst`,
/// "Directories"). The name continues in the next `nslots - 1` slots.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskDirentHead {
    /// Inode number; 0 means the slot is free.
    pub ino: Le32,
    /// Length of the name, 1..=255.
    pub name_len: u8,
    /// `d_type` of the target.
    pub file_type: u8,
    /// Slots the entry occupies, see [`dirent::slots_for`].
    pub nslots: u8,
    /// Zero.
    pub zero: u8,
    /// CRC-32C of the bytes before it and the whole name.
    pub checksum: Le32,
    /// The first [`dirent::HEAD_NAME`] bytes of the name.
    pub name: [u8; dirent::HEAD_NAME],
}

record!(DiskDirentHead, dirent::SLOT_SIZE, {
    ino, name_len, file_type, nslots, zero, checksum, name,
});

/// Offset of a head slot's checksum, which covers the bytes before it.
const DIRENT_CSUM_OFFSET: usize = core::mem::offset_of!(DiskDirentHead, checksum);
/// Offset of the name in the head slot; it runs on into the next slots.
const DIRENT_NAME_OFFSET: usize = core::mem::offset_of!(DiskDirentHead, name);

/// Bytes of slots `slot..slot + nslots` of a directory block, if they are
/// inside `blk`.
fn dir_slots(blk: &[u8], slot: usize, nslots: usize) -> Option<&[u8]> {
    let start = slot.checked_mul(dirent::SLOT_SIZE)?;
    let end = slot.checked_add(nslots)?.checked_mul(dirent::SLOT_SIZE)?;
    blk.get(start..end)
}

/// [`dir_slots`], mutable.
fn dir_slots_mut(blk: &mut [u8], slot: usize, nslots: usize) -> Option<&mut [u8]> {
    let start = slot.checked_mul(dirent::SLOT_SIZE)?;
    let end = slot.checked_add(nslots)?.checked_mul(dirent::SLOT_SIZE)?;
    blk.get_mut(start..end)
}

/// A decoded directory entry (its name stays in the block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dirent {
    /// Inode number.
    pub ino: u32,
    /// `d_type`.
    pub dtype: u8,
    /// Slot of the head within the block.
    pub slot: usize,
    /// Slots the entry occupies.
    pub nslots: usize,
    /// Length of the name.
    pub name_len: usize,
}

/// What a directory slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirSlot {
    /// A free slot (inode 0).
    Free,
    /// The head of a valid entry.
    Entry(Dirent),
    /// A head slot whose checksum or fields are bad.
    Corrupt,
}

impl Dirent {
    /// Decodes the slot `slot` of directory block `blk`. Continuation
    /// slots must be skipped by the caller (using `nslots` of the head).
    pub fn decode(blk: &[u8], slot: usize) -> DirSlot {
        use dirent::{slots_for, SLOTS_PER_BLOCK};
        if blk.len() != BLOCK_SIZE as usize || slot >= SLOTS_PER_BLOCK {
            return DirSlot::Corrupt;
        }
        let Some(h) = dir_slots(blk, slot, 1).and_then(|h| h.first_chunk()) else {
            return DirSlot::Corrupt;
        };
        let d = DiskDirentHead::from_bytes(h);
        let ino = d.ino.get();
        if ino == 0 {
            return DirSlot::Free;
        }
        let name_len = usize::from(d.name_len);
        let nslots = usize::from(d.nslots);
        if name_len == 0
            || nslots != slots_for(name_len)
            || slot + nslots > SLOTS_PER_BLOCK
            || d.zero != 0
        {
            return DirSlot::Corrupt;
        }
        let Some(name) = dir_slots(blk, slot, nslots)
            .and_then(|e| e.get(DIRENT_NAME_OFFSET..DIRENT_NAME_OFFSET + name_len))
        else {
            return DirSlot::Corrupt;
        };
        if dirent_csum(h.split_at(DIRENT_CSUM_OFFSET).0, name) != d.checksum.get()
            || name.contains(&0)
            || name.contains(&b'/')
        {
            return DirSlot::Corrupt;
        }
        DirSlot::Entry(Dirent {
            ino,
            dtype: d.file_type,
            slot,
            nslots,
            name_len,
        })
    }

    /// The entry's name within its block (empty if `blk` is not the block
    /// the entry was decoded from and is too short for it).
    pub fn name<'a>(&self, blk: &'a [u8]) -> &'a [u8] {
        dir_slots(blk, self.slot, self.nslots)
            .and_then(|e| e.get(DIRENT_NAME_OFFSET..DIRENT_NAME_OFFSET + self.name_len))
            .unwrap_or(&[])
    }

    /// Writes an entry at `slot` of `blk`. The caller has checked that
    /// `name` is 1..=255 bytes without NUL or '/', and that the slots are
    /// free and inside the block (slots outside it are not written).
    pub fn encode(blk: &mut [u8], slot: usize, ino: u32, dtype: u8, name: &[u8]) {
        let nslots = dirent::slots_for(name.len());
        let Some(area) = dir_slots_mut(blk, slot, nslots) else {
            return;
        };
        // The name starts in the head slot and runs on into the next ones.
        let (name_head, name_rest) = name.split_at(name.len().min(dirent::HEAD_NAME));
        let mut d = DiskDirentHead {
            ino: Le32::new(ino),
            name_len: name.len() as u8,
            file_type: dtype,
            nslots: nslots as u8,
            ..DiskDirentHead::default()
        };
        d.name[..name_head.len()].copy_from_slice(name_head);
        let covered = d.to_bytes();
        d.checksum = Le32::new(dirent_csum(covered.split_at(DIRENT_CSUM_OFFSET).0, name));
        area.fill(0);
        if let Some(dst) = area.get_mut(dirent::SLOT_SIZE..dirent::SLOT_SIZE + name_rest.len()) {
            dst.copy_from_slice(name_rest);
        }
        put(area, 0, d.to_bytes());
    }

    /// Frees the entry at `slot` (and its continuation slots), if it is
    /// inside `blk`.
    pub fn clear(blk: &mut [u8], slot: usize, nslots: usize) {
        if let Some(area) = dir_slots_mut(blk, slot, nslots) {
            area.fill(0);
        }
    }
}

fn dirent_csum(head: &[u8], name: &[u8]) -> u32 {
    !crc32c_update(crc32c_update(!0, head), name)
}

/// The reserved inode that holds the extended-attribute index (with
/// [`feature::INCOMPAT_XATTR`]): a file whose bytes `8 * n .. 8 * n + 8`
/// hold the block number of inode `n`'s attribute block, 0 for none
/// (`ondisk.rst`, "Extended attributes"). Holes read as zeros.
pub const XATTR_INDEX_INO: u32 = 3;

/// Extended-attribute blocks and the index (`ondisk.rst`, "Extended
/// attributes").
pub mod xattr {
    use super::BLOCK_SIZE;

    /// Magic number at byte 0 of an attribute block: the bytes "R2XA".
    pub const MAGIC: u32 = 0x4158_3252;
    /// Bytes of the block header; entries start here.
    pub const HEADER_SIZE: usize = 32;
    /// Bytes of an entry before its name.
    pub const ENTRY_HEAD: usize = 4;
    /// Bytes the entries may use.
    pub const AREA: usize = BLOCK_SIZE as usize - HEADER_SIZE;
    /// Longest name (after the namespace prefix), as `XATTR_NAME_MAX`.
    pub const NAME_MAX: usize = 255;
    /// Largest value: one with a one-byte name alone in its block.
    pub const VALUE_MAX: usize = AREA - ENTRY_HEAD - 1;
    /// Index entries per block of the index file.
    pub const INDEX_PER_BLOCK: u64 = BLOCK_SIZE as u64 / 8;
    /// The most index entries the module and mkfs let name one block, as
    /// ext2's `EXT2_XATTR_REFCOUNT_MAX`: a bound on what one bad block
    /// takes with it. A larger count is not corrupt (fsck takes the
    /// references as it finds them); such a block is not shared further.
    pub const REFCOUNT_MAX: u64 = 1024;

    /// Namespace `user.`.
    pub const NS_USER: u8 = 1;
    /// Namespace `trusted.`.
    pub const NS_TRUSTED: u8 = 2;
    /// Namespace `security.`.
    pub const NS_SECURITY: u8 = 3;
    /// `system.posix_acl_access` (the name is empty).
    pub const NS_ACL_ACCESS: u8 = 4;
    /// `system.posix_acl_default` (the name is empty).
    pub const NS_ACL_DEFAULT: u8 = 5;
    /// Highest namespace index.
    pub const NS_MAX: u8 = NS_ACL_DEFAULT;

    /// The full-name prefix of namespace `ns`; for the two ACL
    /// namespaces it is the whole name.
    pub fn prefix(ns: u8) -> Option<&'static [u8]> {
        Some(match ns {
            NS_USER => b"user.",
            NS_TRUSTED => b"trusted.",
            NS_SECURITY => b"security.",
            NS_ACL_ACCESS => b"system.posix_acl_access",
            NS_ACL_DEFAULT => b"system.posix_acl_default",
            _ => return None,
        })
    }

    /// Whether names in `ns` are empty (the ACL namespaces) rather than
    /// 1..=[`NAME_MAX`] bytes.
    pub fn empty_names(ns: u8) -> bool {
        ns == NS_ACL_ACCESS || ns == NS_ACL_DEFAULT
    }

    /// Splits a full name ("user.foo") into its namespace and the name
    /// after the prefix; `None` for a namespace r2dax does not store or an
    /// invalid name.
    pub fn split_name(full: &[u8]) -> Option<(u8, &[u8])> {
        for ns in 1..=NS_MAX {
            let p = prefix(ns)?;
            if let Some(rest) = full.strip_prefix(p) {
                let ok = if empty_names(ns) {
                    rest.is_empty()
                } else {
                    (1..=NAME_MAX).contains(&rest.len()) && !rest.contains(&0)
                };
                return ok.then_some((ns, rest));
            }
        }
        None
    }

    /// Bytes an entry with a `name_len`-byte name and a `value_len`-byte
    /// value takes, padding included.
    pub const fn entry_size(name_len: usize, value_len: usize) -> usize {
        (ENTRY_HEAD + name_len + value_len).next_multiple_of(4)
    }

    /// Size of the index file for a filesystem of `inodes_count` inodes:
    /// one entry per inode number, entry 0 unused, whole blocks.
    pub const fn index_size(inodes_count: u64) -> u64 {
        ((inodes_count + 1) * 8).next_multiple_of(BLOCK_SIZE as u64)
    }

    /// Block of the index file and byte offset in it of inode `ino`'s
    /// entry.
    pub const fn index_pos(ino: u32) -> (u64, usize) {
        let i = ino as u64;
        (i / INDEX_PER_BLOCK, (i % INDEX_PER_BLOCK) as usize * 8)
    }
}

/// The header of an extended-attribute block as stored (`ondisk.rst`,
/// "Extended attributes").
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskXattrHeader {
    /// [`xattr::MAGIC`].
    pub magic: Le32,
    /// CRC-32C of the block number (LE64), the magic and bytes 16..4096.
    pub checksum: Le32,
    /// Index entries naming this block. Not covered by the checksum, so
    /// that one 8-byte store changes it.
    pub refcount: Le64,
    /// Number of entries.
    pub count: Le16,
    /// Bytes of entries after the header.
    pub used: Le16,
    /// Zero.
    pub zero: [u8; 12],
}

record!(DiskXattrHeader, xattr::HEADER_SIZE, {
    magic, checksum, refcount, count, used, zero,
});

/// Offset of an attribute block's reference count.
pub const XATTR_REFCOUNT_OFFSET: usize = core::mem::offset_of!(DiskXattrHeader, refcount);
/// Offset of an attribute block's checksum.
const XATTR_CSUM_OFFSET: usize = core::mem::offset_of!(DiskXattrHeader, checksum);

/// Why an attribute block was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XattrError {
    /// Not a whole block.
    Truncated,
    /// The magic number does not match.
    BadMagic,
    /// The checksum does not match (torn, misdirected or corrupt).
    BadChecksum,
    /// A header field is out of range.
    BadHeader(&'static str),
    /// Entry `index` (0-based) is malformed or out of order.
    BadEntry {
        /// Which entry.
        index: u16,
        /// What is wrong with it.
        what: &'static str,
    },
}

impl fmt::Display for XattrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            XattrError::Truncated => f.write_str("attribute block truncated"),
            XattrError::BadMagic => f.write_str("not an attribute block (bad magic)"),
            XattrError::BadChecksum => f.write_str("attribute block checksum mismatch"),
            XattrError::BadHeader(what) => write!(f, "bad attribute block header: {what}"),
            XattrError::BadEntry { index, what } => {
                write!(f, "bad attribute entry {index}: {what}")
            }
        }
    }
}

/// One attribute of a validated block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XattrEntry<'a> {
    /// Namespace index ([`xattr::NS_USER`] ...).
    pub ns: u8,
    /// Name after the namespace prefix (empty for the ACLs).
    pub name: &'a [u8],
    /// Value.
    pub value: &'a [u8],
}

impl XattrEntry<'_> {
    /// Length of the full name ("user." and the name), without a NUL.
    pub fn full_name_len(&self) -> usize {
        xattr::prefix(self.ns).map_or(0, <[u8]>::len) + self.name.len()
    }

    /// Bytes the entry takes in a block.
    pub fn size(&self) -> usize {
        xattr::entry_size(self.name.len(), self.value.len())
    }

    /// The order of entries in a block: by namespace, then by name.
    fn key(&self) -> (u8, &[u8]) {
        (self.ns, self.name)
    }
}

/// Decodes the entry at `off` of `b`: namespace, name, value and size.
fn xattr_entry_at(b: &[u8], off: usize) -> Option<XattrEntry<'_>> {
    let h = b.get(off..off + xattr::ENTRY_HEAD)?;
    let ns = h[0];
    let name_len = usize::from(h[1]);
    let value_len = usize::from(u16::from_le_bytes([h[2], h[3]]));
    let name_at = off + xattr::ENTRY_HEAD;
    let name = b.get(name_at..name_at + name_len)?;
    let value = b.get(name_at + name_len..name_at + name_len + value_len)?;
    Some(XattrEntry { ns, name, value })
}

/// A validated extended-attribute block.
#[derive(Clone, Copy, Debug)]
pub struct XattrBlock<'a> {
    data: &'a [u8],
    /// Index entries that name this block.
    pub refcount: u64,
    /// Number of entries (at least one).
    pub count: u16,
    /// Bytes of entries after the header.
    pub used: usize,
}

impl<'a> XattrBlock<'a> {
    /// Decodes and validates block `block`'s bytes `b` as an attribute
    /// block: magic, checksum, header, then every entry (known namespace,
    /// name length, inside the used area, zero padding, strictly ascending
    /// by namespace and name) and zeros after the used area.
    pub fn decode(b: &'a [u8], block: u64) -> Result<Self, XattrError> {
        let Some(hb) = b
            .first_chunk::<{ xattr::HEADER_SIZE }>()
            .filter(|_| b.len() == BLOCK_SIZE as usize)
        else {
            return Err(XattrError::Truncated);
        };
        let h = DiskXattrHeader::from_bytes(hb);
        if h.magic.get() != xattr::MAGIC {
            return Err(XattrError::BadMagic);
        }
        if h.checksum.get() != xattr_csum(b, block) {
            return Err(XattrError::BadChecksum);
        }
        let count = h.count.get();
        let used = usize::from(h.used.get());
        if h.zero != [0; 12] {
            return Err(XattrError::BadHeader("reserved bytes not zero"));
        }
        if count == 0 {
            return Err(XattrError::BadHeader("no entries"));
        }
        if used > xattr::AREA || used % 4 != 0 {
            return Err(XattrError::BadHeader("used size"));
        }
        if h.refcount.get() == 0 {
            return Err(XattrError::BadHeader("reference count 0"));
        }
        let end = xattr::HEADER_SIZE + used;
        let mut off = xattr::HEADER_SIZE;
        let mut prev: Option<XattrEntry<'_>> = None;
        for index in 0..count {
            let bad = |what| Err(XattrError::BadEntry { index, what });
            let area = b.get(..end).unwrap_or(&[]);
            let Some(e) = xattr_entry_at(area, off) else {
                return bad("runs past the used area");
            };
            if xattr::prefix(e.ns).is_none() {
                return bad("unknown namespace");
            }
            let name_ok = if xattr::empty_names(e.ns) {
                e.name.is_empty()
            } else {
                !e.name.is_empty() && !e.name.contains(&0)
            };
            if !name_ok {
                return bad("bad name");
            }
            let size = e.size();
            let data_end = off + xattr::ENTRY_HEAD + e.name.len() + e.value.len();
            if off + size > end {
                return bad("runs past the used area");
            }
            if b.get(data_end..off + size)
                .is_some_and(|p| p.iter().any(|&x| x != 0))
            {
                return bad("padding not zero");
            }
            if prev.is_some_and(|p| p.key() >= e.key()) {
                return bad("out of order or duplicate");
            }
            prev = Some(e);
            off += size;
        }
        if off != end {
            return Err(XattrError::BadHeader(
                "used size does not match the entries",
            ));
        }
        if b.get(end..).is_some_and(|t| t.iter().any(|&x| x != 0)) {
            return Err(XattrError::BadHeader("bytes after the entries not zero"));
        }
        Ok(XattrBlock {
            data: b,
            refcount: h.refcount.get(),
            count,
            used,
        })
    }

    /// The bytes that say which set the block holds ([`xattr_set_bytes`]).
    pub fn set_bytes(&self) -> &'a [u8] {
        xattr_set_bytes(self.data)
    }

    /// The entries, in their stored order.
    pub fn entries(&self) -> XattrIter<'a> {
        XattrIter {
            data: self
                .data
                .get(..xattr::HEADER_SIZE + self.used)
                .unwrap_or(&[]),
            off: xattr::HEADER_SIZE,
            left: self.count,
        }
    }

    /// The value of attribute `name` in namespace `ns`, if present.
    pub fn get(&self, ns: u8, name: &[u8]) -> Option<&'a [u8]> {
        self.entries()
            .find(|e| e.ns == ns && e.name == name)
            .map(|e| e.value)
    }
}

/// Iterator over the entries of an [`XattrBlock`].
#[derive(Clone)]
pub struct XattrIter<'a> {
    data: &'a [u8],
    off: usize,
    left: u16,
}

impl<'a> Iterator for XattrIter<'a> {
    type Item = XattrEntry<'a>;

    fn next(&mut self) -> Option<XattrEntry<'a>> {
        if self.left == 0 {
            return None;
        }
        let e = xattr_entry_at(self.data, self.off)?;
        self.left -= 1;
        self.off += e.size();
        Some(e)
    }
}

/// How a set treats an existing attribute (`XATTR_CREATE`,
/// `XATTR_REPLACE`, or neither).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XattrMode {
    /// Create or replace.
    Any,
    /// Fail with [`XattrEditError::Exists`] if present.
    Create,
    /// Fail with [`XattrEditError::NotFound`] if absent.
    Replace,
}

/// Why [`xattr_edit`] did not produce a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XattrEditError {
    /// The attribute exists and [`XattrMode::Create`] was asked
    /// (`EEXIST`).
    Exists,
    /// The attribute does not exist, to remove or with
    /// [`XattrMode::Replace`] (`ENODATA`).
    NotFound,
    /// The result does not fit in a block (`ENOSPC`).
    NoSpace,
    /// The name or value is invalid for the namespace (`EINVAL`).
    Invalid,
}

/// Builds in `out` the attributes of `old` (none if `None`) with
/// attribute `name` of namespace `ns` set to `value`, or removed if
/// `value` is `None`, and returns the new number of entries. With 0 the
/// inode needs no block and `out` is all zero. Otherwise `out` is a block
/// with reference count 1 and no checksum yet: [`xattr_seal`] adds it once
/// the block's number is known. Nothing is written on error.
pub fn xattr_edit(
    out: &mut [u8; BLOCK_SIZE as usize],
    old: Option<&XattrBlock<'_>>,
    ns: u8,
    name: &[u8],
    value: Option<&[u8]>,
    mode: XattrMode,
) -> Result<u16, XattrEditError> {
    let name_ok = if xattr::empty_names(ns) {
        name.is_empty()
    } else {
        (1..=xattr::NAME_MAX).contains(&name.len()) && !name.contains(&0)
    };
    if xattr::prefix(ns).is_none() || !name_ok {
        return Err(XattrEditError::Invalid);
    }
    let key = (ns, name);
    let found = old.and_then(|o| o.entries().find(|e| e.key() == key));
    match (found.is_some(), value.is_some(), mode) {
        (true, true, XattrMode::Create) => return Err(XattrEditError::Exists),
        (false, true, XattrMode::Replace) | (false, false, _) => {
            return Err(XattrEditError::NotFound)
        }
        _ => {}
    }
    let new = value.map(|v| XattrEntry { ns, name, value: v });
    if new.is_some_and(|e| e.value.len() > usize::from(u16::MAX)) {
        return Err(XattrEditError::NoSpace);
    }
    // The kept entries and the new one, in order.
    let kept = old
        .into_iter()
        .flat_map(|o| o.entries())
        .filter(|e| e.key() != key);
    let total: usize = kept.clone().map(|e| e.size()).sum::<usize>() + new.map_or(0, |e| e.size());
    if total > xattr::AREA {
        return Err(XattrEditError::NoSpace);
    }
    out.fill(0);
    let mut off = xattr::HEADER_SIZE;
    let mut count = 0u16;
    let mut put_entry = |e: &XattrEntry<'_>| {
        let n = e.name.len();
        let v = e.value.len();
        out[off] = e.ns;
        out[off + 1] = n as u8;
        out[off + 2..off + 4].copy_from_slice(&(v as u16).to_le_bytes());
        out[off + 4..off + 4 + n].copy_from_slice(e.name);
        out[off + 4 + n..off + 4 + n + v].copy_from_slice(e.value);
        off += e.size();
        count += 1;
    };
    let mut pending = new;
    for e in kept {
        if let Some(n) = pending.filter(|n| n.key() < e.key()) {
            put_entry(&n);
            pending = None;
        }
        put_entry(&e);
    }
    if let Some(n) = pending {
        put_entry(&n);
    }
    if count == 0 {
        out.fill(0);
        return Ok(0);
    }
    let h = DiskXattrHeader {
        magic: Le32::new(xattr::MAGIC),
        checksum: Le32::new(0),
        refcount: Le64::new(1),
        count: Le16::new(count),
        used: Le16::new((off - xattr::HEADER_SIZE) as u16),
        zero: [0; 12],
    };
    put(out, 0, h.to_bytes());
    Ok(count)
}

/// Stores the checksum of attribute block `b` for block number `block`.
pub fn xattr_seal(b: &mut [u8; BLOCK_SIZE as usize], block: u64) {
    let c = xattr_csum(b, block);
    put(b, XATTR_CSUM_OFFSET, Le32::new(c));
}

/// Sets the reference count of attribute block `b` (not covered by the
/// checksum).
pub fn xattr_set_refcount(b: &mut [u8], refcount: u64) {
    put(b, XATTR_REFCOUNT_OFFSET, Le64::new(refcount));
}

/// The bytes of attribute block `b` that say which set it holds: all but
/// the magic, the checksum and the reference count. A set has one
/// encoding (entries sorted, padding zero), so two blocks hold the same
/// set exactly when these bytes are equal; the module hashes and compares
/// them to share blocks, as mkfs does.
pub fn xattr_set_bytes(b: &[u8]) -> &[u8] {
    b.get(XATTR_REFCOUNT_OFFSET + 8..).unwrap_or(&[])
}

/// The block number is part of the checksum, so a block written to the
/// wrong place does not verify; the reference count is not, so that it
/// changes with one 8-byte store.
fn xattr_csum(b: &[u8], block: u64) -> u32 {
    let magic = b.get(..4).unwrap_or(&[]);
    let rest = b.get(XATTR_REFCOUNT_OFFSET + 8..).unwrap_or(&[]);
    !crc32c_update(
        crc32c_update(crc32c_update(!0, &block.to_le_bytes()), magic),
        rest,
    )
}

/// Tests bit `bit` of a little-endian bitmap block.
pub fn test_bit(bitmap: &[u8], bit: u32) -> bool {
    bitmap
        .get((bit / 8) as usize)
        .is_some_and(|b| b & (1 << (bit % 8)) != 0)
}

/// Sets or clears bit `bit` of a bitmap block; out-of-range bits are
/// ignored.
pub fn set_bit(bitmap: &mut [u8], bit: u32, on: bool) {
    if let Some(b) = bitmap.get_mut((bit / 8) as usize) {
        if on {
            *b |= 1 << (bit % 8);
        } else {
            *b &= !(1 << (bit % 8));
        }
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

/// CRC-32C (Castagnoli), as used for every checksum in the format.
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_update(!0, data)
}

/// Continues a CRC-32C over `data` from the raw state `crc`, with no
/// inversion on entry or exit: the kernel's `__crc32c_le(seed, buf, len)`,
/// which the module calls (through `rust/vfs/crc.rs`) instead of the
/// tables the host tools use.
#[cfg(MODULE)]
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    crate::vfs::crc::crc32c_update(crc, data)
}

/// Slice-by-8 tables: `CRC32C_TABLES[0]` is the plain byte table;
/// `CRC32C_TABLES[k][b]` is the CRC of byte `b` followed by `k` zero bytes,
/// so eight bytes are folded in with eight lookups and no per-byte shift
/// chain (checksums of inode copies and directory entries are on every
/// metadata path).
#[cfg(not(MODULE))]
const CRC32C_TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
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
        t[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
};

/// Continues a CRC-32C over `data` from the raw state `crc`, with no
/// inversion on entry or exit: the convention of the kernel's
/// `__crc32c_le(seed, buf, len)` and `crc32c()`. In the module, this is
/// `__crc32c_le()` (`rust/vfs/crc.rs`); the host tools compute it with the
/// tables above.
#[cfg(not(MODULE))]
pub fn crc32c_update(mut crc: u32, data: &[u8]) -> u32 {
    let t = &CRC32C_TABLES;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        crc = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    for &b in chunks.remainder() {
        crc = t[0][((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}
