// SPDX-License-Identifier: GPL-2.0
//! Device access for the r2dax tools: opening a block device or image
//! safely (never a mounted one), block I/O, and a reader of the on-disk
//! format that validates everything it returns.

use r2dax_format::{
    dirent, feature, map_path, map_ptr, ptr_block, DirSlot, Dirent, Geometry, GroupDesc, Inode,
    Slot, Superblock, BLOCK_SIZE, GROUP_DESC_SIZE, INODE_SIZE, MAP_FANOUT, PTR_UNWRITTEN,
};
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};

/// Lets a closed pipe end the program quietly (for the tools that have
/// used it from here).
pub use r2dax_sys::default_sigpipe;

/// Bytes per block, as a `usize`.
pub const BS: usize = BLOCK_SIZE as usize;

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
    pub fn open(path: &str, write: bool) -> Result<Self, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
        let is_blk = meta.file_type().is_block_device();
        if is_blk {
            if let Some(mnt) =
                mounted_at(meta.rdev()).map_err(|e| format!("/proc/self/mountinfo: {e}"))?
            {
                return Err(format!("{path} is mounted on {mnt}"));
            }
        }
        const O_EXCL: i32 = 0o200;
        let mut file = OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(if is_blk && write { O_EXCL } else { 0 })
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(16) => format!("{path} is in use (mounted or opened exclusively)"),
                _ => format!("{path}: {e}"),
            })?;
        let bytes = file
            .seek(SeekFrom::End(0))
            .map_err(|e| format!("{path}: {e}"))?;
        Ok(Device {
            file,
            path: path.to_string(),
            bytes,
        })
    }

    /// Reads block `n`.
    pub fn read_block(&self, n: u64) -> Result<Vec<u8>, String> {
        let mut b = vec![0u8; BS];
        self.file
            .read_exact_at(&mut b, n * BLOCK_SIZE as u64)
            .map_err(|e| format!("{}: read block {n}: {e}", self.path))?;
        Ok(b)
    }

    /// Writes `data` (a whole number of blocks) at block `n`.
    pub fn write_blocks(&self, n: u64, data: &[u8]) -> Result<(), String> {
        self.file
            .write_all_at(data, n * BLOCK_SIZE as u64)
            .map_err(|e| format!("{}: write block {n}: {e}", self.path))
    }

    /// The open file, for callers that hand it to a C library (libblkid).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Flushes everything written to stable storage.
    pub fn sync(&self) -> Result<(), String> {
        self.file
            .sync_all()
            .map_err(|e| format!("{}: fsync: {e}", self.path))
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
    pub fn open(path: &str, write: bool) -> Result<Self, String> {
        let dev = Device::open(path, write)?;
        let b0 = dev.read_block(0)?;
        let sb = Superblock::decode(&b0).map_err(|e| format!("{path}: {e}"))?;
        sb.check_device(dev.bytes)
            .map_err(|e| format!("{path}: {e}"))?;
        let geo = sb.geometry();
        Ok(Fs { dev, sb, geo })
    }

    /// Reads and decodes group descriptor `g`.
    pub fn group_desc(&self, g: u32) -> Result<Result<GroupDesc, r2dax_format::GdError>, String> {
        let (blk, off) = GroupDesc::location(g);
        let b = self.dev.read_block(blk)?;
        let mut d = [0u8; GROUP_DESC_SIZE];
        d.copy_from_slice(&b[off..off + GROUP_DESC_SIZE]);
        Ok(GroupDesc::decode(&d, g, &self.geo))
    }

    /// Reads the raw slot of inode `ino`.
    pub fn inode_slot(&self, ino: u32) -> Result<[u8; INODE_SIZE], String> {
        let (blk, off) = self
            .geo
            .inode_location(ino)
            .ok_or_else(|| format!("inode {ino} out of range"))?;
        let b = self.dev.read_block(blk)?;
        let mut s = [0u8; INODE_SIZE];
        s.copy_from_slice(&b[off..off + INODE_SIZE]);
        Ok(s)
    }

    /// Reads and decodes inode `ino`.
    pub fn inode(&self, ino: u32) -> Result<Slot, String> {
        Inode::decode_slot(&self.inode_slot(ino)?, ino).map_err(|e| format!("inode {ino}: {e}"))
    }

    /// The block holding file block `lblk` of `inode`, 0 for a hole.
    /// Every pointer on the way is checked against the geometry.
    pub fn map(&self, inode: &Inode, lblk: u64) -> Result<u64, String> {
        Ok(self.map_state(inode, lblk)?.0)
    }

    /// [`Fs::map`], and whether the block is unwritten
    /// ([`r2dax_format::PTR_UNWRITTEN`]).
    pub fn map_state(&self, inode: &Inode, lblk: u64) -> Result<(u64, bool), String> {
        let Some((root, path)) = map_path(lblk, inode.height) else {
            return Ok((0, false));
        };
        let mut blk = inode.roots[root];
        for &idx in path.iter().take(inode.height as usize) {
            if blk == 0 {
                return Ok((0, false));
            }
            if !self.geo.is_data_block(blk) {
                return Err(format!("map block {blk} is outside the data area"));
            }
            let b = self.dev.read_block(blk)?;
            blk = map_ptr(&b, idx).ok_or("short map block")?;
        }
        let unwritten = blk & PTR_UNWRITTEN != 0;
        let blk = ptr_block(blk);
        if unwritten && self.sb.feature_incompat & feature::INCOMPAT_UNWRITTEN == 0 {
            return Err(format!(
                "data block {blk} is marked unwritten without the unwritten feature"
            ));
        }
        if blk != 0 && !self.geo.is_data_block(blk) {
            return Err(format!("data block {blk} is outside the data area"));
        }
        Ok((blk, unwritten))
    }

    /// Every block `inode` owns, map blocks and data blocks, skipping
    /// pointers outside the data area (fsck reports those separately).
    pub fn owned_blocks(&self, inode: &Inode) -> Result<Vec<u64>, String> {
        fn walk(fs: &Fs, blk: u64, depth: u8, out: &mut Vec<u64>) -> Result<(), String> {
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
    pub fn locate(&self, path: &str) -> Result<u32, String> {
        let mut ino = r2dax_format::ROOT_INO;
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            let Slot::Used { inode: dir, .. } = self.inode(ino)? else {
                return Err(format!("inode {ino} is free"));
            };
            ino = self
                .dir_entries(&dir)?
                .into_iter()
                .find_map(|(_, s, n)| match s {
                    DirSlot::Entry(e) if n == comp.as_bytes() => Some(e.ino),
                    _ => None,
                })
                .ok_or_else(|| format!("{comp}: not found"))?;
        }
        Ok(ino)
    }

    /// The entries of directory `inode`: (block index, decoded slot, name).
    pub fn dir_entries(&self, inode: &Inode) -> Result<Vec<(u64, DirSlot, Vec<u8>)>, String> {
        let mut out = Vec::new();
        for lblk in 0..inode.size / BLOCK_SIZE as u64 {
            let blk = self.map(inode, lblk)?;
            if blk == 0 {
                return Err(format!("directory block {lblk} is a hole"));
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
