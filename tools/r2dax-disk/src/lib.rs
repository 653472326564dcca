// SPDX-License-Identifier: GPL-2.0
//! Device access for the r2dax tools: opening a block device or image
//! safely (never a mounted one), block I/O, and a reader of the on-disk
//! format that validates everything it returns.

use r2dax_format::{
    dirent, feature, map_path, map_ptr, ptr_block, xattr, DirSlot, Dirent, Geometry, GroupDesc,
    Inode, InodeError, SbError, Slot, Superblock, XattrBlock, XattrError, BLOCK_SIZE,
    GROUP_DESC_SIZE, INODE_SIZE, MAP_FANOUT, PTR_UNWRITTEN, XATTR_INDEX_INO,
};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};

/// Lets a closed pipe end the program quietly (for the tools that have
/// used it from here).
pub use r2dax_sys::default_sigpipe;

/// Bytes per block, as a `usize`.
pub const BS: usize = BLOCK_SIZE as usize;

/// Extended attributes as (full name, value) pairs.
pub type XattrList = Vec<(Vec<u8>, Vec<u8>)>;

/// Why a device or filesystem could not be opened, read or written, or
/// what on it does not hold together.
///
/// The messages are the tools' (fsck prints some inside its report
/// lines); an I/O error is also the [`source`](std::error::Error::source).
/// The format's errors ([`SbError`], [`InodeError`]) are only carried:
/// the format crate is `no_std` and does not implement `Error`.
#[derive(Debug)]
pub enum DiskError {
    /// `path` could not be looked up, opened or sized.
    Open { path: String, source: io::Error },
    /// `/proc/self/mountinfo` could not be read.
    MountInfo(io::Error),
    /// The block device `path` is mounted on `mount_point`.
    Mounted { path: String, mount_point: String },
    /// Opening `path` exclusively failed with `EBUSY`.
    Busy { path: String },
    /// Reading block `block` of `path` failed.
    Read {
        path: String,
        block: u64,
        source: io::Error,
    },
    /// Writing at block `block` of `path` failed.
    Write {
        path: String,
        block: u64,
        source: io::Error,
    },
    /// fsync of `path` failed.
    Sync { path: String, source: io::Error },
    /// The superblock on `path` does not decode or does not fit the
    /// device.
    Superblock { path: String, error: SbError },
    /// Inode number `ino` is outside the inode tables.
    InodeOutOfRange { ino: u32 },
    /// Inode `ino` does not decode.
    Inode { ino: u32, error: InodeError },
    /// A map pointer names block `block`, outside the data area.
    MapBlockOutside { block: u64 },
    /// Map block `block` has no pointer at the index looked up.
    ShortMapBlock { block: u64 },
    /// Data block `block` is marked unwritten, but the filesystem lacks
    /// the unwritten feature.
    UnwrittenWithoutFeature { block: u64 },
    /// A data pointer names block `block`, outside the data area.
    DataBlockOutside { block: u64 },
    /// Inode `ino`, looked up as a directory on a path, is free.
    FreeInode { ino: u32 },
    /// No entry is named `name` in the directory searched.
    NotFound { name: String },
    /// Block `lblk` of a directory is a hole.
    DirectoryHole { lblk: u64 },
    /// Inode `ino`'s attribute block `block` does not decode.
    Xattr {
        ino: u32,
        block: u64,
        error: XattrError,
    },
}

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskError::Open { path, source } => write!(f, "{path}: {source}"),
            DiskError::MountInfo(e) => write!(f, "/proc/self/mountinfo: {e}"),
            DiskError::Mounted { path, mount_point } => {
                write!(f, "{path} is mounted on {mount_point}")
            }
            DiskError::Busy { path } => {
                write!(f, "{path} is in use (mounted or opened exclusively)")
            }
            DiskError::Read {
                path,
                block,
                source,
            } => write!(f, "{path}: read block {block}: {source}"),
            DiskError::Write {
                path,
                block,
                source,
            } => write!(f, "{path}: write block {block}: {source}"),
            DiskError::Sync { path, source } => write!(f, "{path}: fsync: {source}"),
            DiskError::Superblock { path, error } => write!(f, "{path}: {error}"),
            DiskError::InodeOutOfRange { ino } => write!(f, "inode {ino} out of range"),
            DiskError::Inode { ino, error } => write!(f, "inode {ino}: {error}"),
            DiskError::MapBlockOutside { block } => {
                write!(f, "map block {block} is outside the data area")
            }
            DiskError::ShortMapBlock { .. } => f.write_str("short map block"),
            DiskError::UnwrittenWithoutFeature { block } => write!(
                f,
                "data block {block} is marked unwritten without the unwritten feature"
            ),
            DiskError::DataBlockOutside { block } => {
                write!(f, "data block {block} is outside the data area")
            }
            DiskError::FreeInode { ino } => write!(f, "inode {ino} is free"),
            DiskError::NotFound { name } => write!(f, "{name}: not found"),
            DiskError::DirectoryHole { lblk } => write!(f, "directory block {lblk} is a hole"),
            DiskError::Xattr { ino, block, error } => {
                write!(f, "inode {ino}: attribute block {block}: {error}")
            }
        }
    }
}

impl std::error::Error for DiskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DiskError::Open { source, .. }
            | DiskError::Read { source, .. }
            | DiskError::Write { source, .. }
            | DiskError::Sync { source, .. } => Some(source),
            DiskError::MountInfo(e) => Some(e),
            _ => None,
        }
    }
}

/// The result of a device or filesystem operation.
pub type Result<T> = std::result::Result<T, DiskError>;

/// An open block device or image file.
pub struct Device {
    file: File,
    /// The path it was opened from.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The mount point of the block device with number `rdev`, if mounted.
pub fn mounted_at(rdev: u64) -> io::Result<Option<String>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    let want = format!("{major}:{minor}");
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() > 4 && f[2] == want {
            return Ok(Some(f[4].to_string()));
        }
    }
    Ok(None)
}

impl Device {
    /// Opens `path`. A block device that is mounted is refused; for
    /// writing, a block device is also opened exclusively (`O_EXCL`), which
    /// fails while anything else holds it exclusively, e.g. a mount that
    /// started after the check.
    pub fn open(path: &str, write: bool) -> Result<Self> {
        let open_err = |source| DiskError::Open {
            path: path.to_string(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(open_err)?;
        let is_blk = meta.file_type().is_block_device();
        if is_blk {
            if let Some(mnt) = mounted_at(meta.rdev()).map_err(DiskError::MountInfo)? {
                return Err(DiskError::Mounted {
                    path: path.to_string(),
                    mount_point: mnt,
                });
            }
        }
        const O_EXCL: i32 = 0o200;
        let mut file = OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(if is_blk && write { O_EXCL } else { 0 })
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(16) => DiskError::Busy {
                    path: path.to_string(),
                },
                _ => open_err(e),
            })?;
        let bytes = file.seek(SeekFrom::End(0)).map_err(open_err)?;
        Ok(Device {
            file,
            path: path.to_string(),
            bytes,
        })
    }

    /// Reads block `n`.
    pub fn read_block(&self, n: u64) -> Result<Vec<u8>> {
        let mut b = vec![0u8; BS];
        self.file
            .read_exact_at(&mut b, n * BLOCK_SIZE as u64)
            .map_err(|source| DiskError::Read {
                path: self.path.clone(),
                block: n,
                source,
            })?;
        Ok(b)
    }

    /// Writes `data` (a whole number of blocks) at block `n`.
    pub fn write_blocks(&self, n: u64, data: &[u8]) -> Result<()> {
        self.file
            .write_all_at(data, n * BLOCK_SIZE as u64)
            .map_err(|source| DiskError::Write {
                path: self.path.clone(),
                block: n,
                source,
            })
    }

    /// The open file, for callers that hand it to a C library (libblkid).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Flushes everything written to stable storage.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_all().map_err(|source| DiskError::Sync {
            path: self.path.clone(),
            source,
        })
    }
}

/// A filesystem opened for reading: the validated superblock and geometry.
pub struct Fs {
    /// The device.
    pub dev: Device,
    /// The superblock.
    pub sb: Superblock,
    /// Its geometry.
    pub geo: Geometry,
}

impl Fs {
    /// Opens the filesystem on `path` and validates its superblock.
    pub fn open(path: &str, write: bool) -> Result<Self> {
        let dev = Device::open(path, write)?;
        let b0 = dev.read_block(0)?;
        let sb_err = |error| DiskError::Superblock {
            path: path.to_string(),
            error,
        };
        let sb = Superblock::decode(&b0).map_err(sb_err)?;
        sb.check_device(dev.bytes).map_err(sb_err)?;
        let geo = sb.geometry();
        Ok(Fs { dev, sb, geo })
    }

    /// Reads and decodes group descriptor `g`.
    pub fn group_desc(
        &self,
        g: u32,
    ) -> Result<std::result::Result<GroupDesc, r2dax_format::GdError>> {
        let (blk, off) = GroupDesc::location(g);
        let b = self.dev.read_block(blk)?;
        let mut d = [0u8; GROUP_DESC_SIZE];
        d.copy_from_slice(&b[off..off + GROUP_DESC_SIZE]);
        Ok(GroupDesc::decode(&d, g, &self.geo))
    }

    /// Reads the raw slot of inode `ino`.
    pub fn inode_slot(&self, ino: u32) -> Result<[u8; INODE_SIZE]> {
        let (blk, off) = self
            .geo
            .inode_location(ino)
            .ok_or(DiskError::InodeOutOfRange { ino })?;
        let b = self.dev.read_block(blk)?;
        let mut s = [0u8; INODE_SIZE];
        s.copy_from_slice(&b[off..off + INODE_SIZE]);
        Ok(s)
    }

    /// Reads and decodes inode `ino`.
    pub fn inode(&self, ino: u32) -> Result<Slot> {
        Inode::decode_slot(&self.inode_slot(ino)?, ino)
            .map_err(|error| DiskError::Inode { ino, error })
    }

    /// The attribute block inode `ino`'s index entry names (0: none, or
    /// a filesystem without the `XATTR` feature).
    pub fn xattr_block(&self, ino: u32) -> Result<u64> {
        if self.sb.feature_incompat & feature::INCOMPAT_XATTR == 0 {
            return Ok(0);
        }
        let index = match self.inode(XATTR_INDEX_INO)? {
            Slot::Used { inode, .. } => inode,
            Slot::Free => {
                return Err(DiskError::FreeInode {
                    ino: XATTR_INDEX_INO,
                })
            }
        };
        let (lblk, off) = xattr::index_pos(ino);
        let p = self.map(&index, lblk)?;
        if p == 0 {
            return Ok(0);
        }
        Ok(map_ptr(&self.dev.read_block(p)?, off / 8).unwrap_or(0))
    }

    /// Inode `ino`'s extended attributes as (full name, value), in their
    /// stored order, and the block holding them (0 if none).
    pub fn xattrs(&self, ino: u32) -> Result<(u64, XattrList)> {
        let blk = self.xattr_block(ino)?;
        if blk == 0 {
            return Ok((0, Vec::new()));
        }
        if !self.geo.is_data_block(blk) {
            return Err(DiskError::DataBlockOutside { block: blk });
        }
        let b = self.dev.read_block(blk)?;
        let x = XattrBlock::decode(&b, blk).map_err(|error| DiskError::Xattr {
            ino,
            block: blk,
            error,
        })?;
        let all = x
            .entries()
            .map(|e| {
                let mut name = xattr::prefix(e.ns).unwrap_or_default().to_vec();
                name.extend_from_slice(e.name);
                (name, e.value.to_vec())
            })
            .collect();
        Ok((blk, all))
    }

    /// The block holding file block `lblk` of `inode`, 0 for a hole.
    /// Every pointer on the way is checked against the geometry.
    pub fn map(&self, inode: &Inode, lblk: u64) -> Result<u64> {
        Ok(self.map_state(inode, lblk)?.0)
    }

    /// [`Fs::map`], and whether the block is unwritten
    /// ([`r2dax_format::PTR_UNWRITTEN`]).
    pub fn map_state(&self, inode: &Inode, lblk: u64) -> Result<(u64, bool)> {
        let Some((root, path)) = map_path(lblk, inode.height) else {
            return Ok((0, false));
        };
        let mut blk = inode.roots[root];
        for &idx in path.iter().take(inode.height as usize) {
            if blk == 0 {
                return Ok((0, false));
            }
            if !self.geo.is_data_block(blk) {
                return Err(DiskError::MapBlockOutside { block: blk });
            }
            let b = self.dev.read_block(blk)?;
            blk = map_ptr(&b, idx).ok_or(DiskError::ShortMapBlock { block: blk })?;
        }
        let unwritten = blk & PTR_UNWRITTEN != 0;
        let blk = ptr_block(blk);
        if unwritten && self.sb.feature_incompat & feature::INCOMPAT_UNWRITTEN == 0 {
            return Err(DiskError::UnwrittenWithoutFeature { block: blk });
        }
        if blk != 0 && !self.geo.is_data_block(blk) {
            return Err(DiskError::DataBlockOutside { block: blk });
        }
        Ok((blk, unwritten))
    }

    /// Every block `inode` owns, map blocks and data blocks, skipping
    /// pointers outside the data area (fsck reports those separately).
    pub fn owned_blocks(&self, inode: &Inode) -> Result<Vec<u64>> {
        fn walk(fs: &Fs, blk: u64, depth: u8, out: &mut Vec<u64>) -> Result<()> {
            // A data block's pointer may say it is unwritten.
            let blk = if depth == 0 { ptr_block(blk) } else { blk };
            if blk == 0 || !fs.geo.is_data_block(blk) {
                return Ok(());
            }
            out.push(blk);
            if depth == 0 {
                return Ok(());
            }
            let b = fs.dev.read_block(blk)?;
            for i in 0..MAP_FANOUT as usize {
                walk(fs, map_ptr(&b, i).unwrap_or(0), depth - 1, out)?;
            }
            Ok(())
        }
        let mut out = Vec::new();
        if inode.iflags2 & r2dax_format::iflags2::INLINE != 0
            || !r2dax_format::mode::has_map(inode.mode)
        {
            return Ok(out);
        }
        for &r in &inode.roots {
            walk(self, r, inode.height, &mut out)?;
        }
        Ok(out)
    }

    /// The inode number of `path` (components separated by '/', from the
    /// root).
    pub fn locate(&self, path: &str) -> Result<u32> {
        let mut ino = r2dax_format::ROOT_INO;
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            let Slot::Used { inode: dir, .. } = self.inode(ino)? else {
                return Err(DiskError::FreeInode { ino });
            };
            ino = self
                .dir_entries(&dir)?
                .into_iter()
                .find_map(|(_, s, n)| match s {
                    DirSlot::Entry(e) if n == comp.as_bytes() => Some(e.ino),
                    _ => None,
                })
                .ok_or_else(|| DiskError::NotFound {
                    name: comp.to_string(),
                })?;
        }
        Ok(ino)
    }

    /// The entries of directory `inode`: (block index, decoded slot, name).
    pub fn dir_entries(&self, inode: &Inode) -> Result<Vec<(u64, DirSlot, Vec<u8>)>> {
        let mut out = Vec::new();
        for lblk in 0..inode.size / BLOCK_SIZE as u64 {
            let blk = self.map(inode, lblk)?;
            if blk == 0 {
                return Err(DiskError::DirectoryHole { lblk });
            }
            let b = self.dev.read_block(blk)?;
            let mut slot = 0;
            while slot < dirent::SLOTS_PER_BLOCK {
                let s = Dirent::decode(&b, slot);
                match s {
                    DirSlot::Entry(d) => {
                        out.push((lblk, s, d.name(&b).to_vec()));
                        slot += d.nslots;
                    }
                    DirSlot::Corrupt => {
                        out.push((lblk, s, Vec::new()));
                        slot += 1;
                    }
                    DirSlot::Free => slot += 1,
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn errors_print_as_before() {
        let eio = || io::Error::from_raw_os_error(5);
        let dev = || "/dev/pmem0".to_string();
        let cases = [
            (
                DiskError::Open {
                    path: dev(),
                    source: io::Error::from_raw_os_error(2),
                },
                "/dev/pmem0: No such file or directory (os error 2)",
            ),
            (
                DiskError::MountInfo(eio()),
                "/proc/self/mountinfo: Input/output error (os error 5)",
            ),
            (
                DiskError::Mounted {
                    path: dev(),
                    mount_point: "/mnt/scratch".into(),
                },
                "/dev/pmem0 is mounted on /mnt/scratch",
            ),
            (
                DiskError::Busy { path: dev() },
                "/dev/pmem0 is in use (mounted or opened exclusively)",
            ),
            (
                DiskError::Read {
                    path: dev(),
                    block: 7,
                    source: eio(),
                },
                "/dev/pmem0: read block 7: Input/output error (os error 5)",
            ),
            (
                DiskError::Write {
                    path: dev(),
                    block: 8,
                    source: eio(),
                },
                "/dev/pmem0: write block 8: Input/output error (os error 5)",
            ),
            (
                DiskError::Sync {
                    path: dev(),
                    source: eio(),
                },
                "/dev/pmem0: fsync: Input/output error (os error 5)",
            ),
            (
                DiskError::Superblock {
                    path: dev(),
                    error: SbError::BadState { found: 0x10 },
                },
                "/dev/pmem0: invalid superblock state 0x10",
            ),
            (
                DiskError::InodeOutOfRange { ino: 99999 },
                "inode 99999 out of range",
            ),
            (
                DiskError::Inode {
                    ino: 12,
                    error: InodeError::BadChecksum,
                },
                "inode 12: no copy of the inode has a valid checksum",
            ),
            (
                DiskError::MapBlockOutside { block: 3 },
                "map block 3 is outside the data area",
            ),
            (DiskError::ShortMapBlock { block: 40 }, "short map block"),
            (
                DiskError::UnwrittenWithoutFeature { block: 41 },
                "data block 41 is marked unwritten without the unwritten feature",
            ),
            (
                DiskError::DataBlockOutside { block: 2 },
                "data block 2 is outside the data area",
            ),
            (DiskError::FreeInode { ino: 13 }, "inode 13 is free"),
            (DiskError::NotFound { name: "d".into() }, "d: not found"),
            (
                DiskError::DirectoryHole { lblk: 1 },
                "directory block 1 is a hole",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn io_errors_are_the_source() {
        let e = DiskError::Read {
            path: "img".into(),
            block: 1,
            source: io::Error::from_raw_os_error(5),
        };
        let source = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(source.and_then(io::Error::raw_os_error), Some(5));
        assert!(DiskError::DirectoryHole { lblk: 0 }.source().is_none());
    }

    #[test]
    fn a_missing_device_is_an_open_error() {
        let path = "/nonexistent/r2dax-disk-test.img";
        let e = Fs::open(path, false).err().expect("opened a missing file");
        assert!(
            matches!(&e, DiskError::Open { source, .. } if source.kind() == io::ErrorKind::NotFound),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            format!("{path}: No such file or directory (os error 2)")
        );
    }
}
