// SPDX-License-Identifier: GPL-2.0
//! Builds a new filesystem's metadata in memory and writes it out:
//! root, lost+found, and (with `-d`) a copy of a directory tree.
//!
//! Data blocks are written as they are allocated; bitmaps, descriptors,
//! inodes, map and directory blocks at the end, the superblock last.

use r2dax_disk::{Device, DiskError, BS};
use r2dax_format::{
    dirent, iflags2, map_capacity, map_height_for, map_path, mode, set_bit, test_bit, xattr,
    xattr_edit, xattr_seal, xattr_set_refcount, Dirent, Geometry, GroupDesc, Inode, Superblock,
    XattrBlock, XattrEditError, XattrMode, BLOCKS_PER_GROUP, BLOCK_SIZE, FIRST_INO,
    GROUP_DESC_SIZE, INLINE_SYMLINK_MAX, INODE_SIZE, LOST_FOUND_INO, MAP_FANOUT, MAP_ROOTS,
    PMD_BLOCKS, ROOT_INO, SUPERBLOCK_SIZE, SYMLINK_MAX, XATTR_INDEX_INO,
};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Why the new filesystem's contents could not be built or written.
#[derive(Debug)]
pub enum ImageError {
    /// Writing the device failed; the message and the source are the
    /// device layer's.
    Disk(DiskError),
    /// `path` of the source tree (`-d`) could not be read.
    Source { path: PathBuf, source: io::Error },
    /// Source file `path` is larger than a block map can address.
    FileTooLarge { path: PathBuf },
    /// A name in the source tree is empty, too long or holds a '/'.
    BadName { name: Vec<u8> },
    /// A symlink target of `len` bytes is empty or too long.
    BadSymlinkTarget { len: usize },
    /// No free block is left.
    NoSpace,
    /// No free inode is left.
    NoInodes,
    /// File block `lblk` is beyond what its map can address (a bug).
    MapTooSmall { lblk: u64 },
    /// Map block `block` was lost while its map was built (a bug).
    LostMapNode { block: u64 },
    /// The parent `dir` of a new directory does not exist (a bug).
    NoParent { dir: u32 },
    /// Directory `dir`, to hold an entry, does not exist (a bug).
    NoSuchDirectory { dir: u32 },
    /// Inode `ino`, linked again, does not exist (a bug).
    LostHardLink { ino: u32 },
    /// Directory `ino` lost its inode before its blocks were written (a
    /// bug).
    LostDirectory { ino: u32 },
    /// Inode number `ino` has no slot in the inode tables (a bug).
    BadInodeNumber { ino: u32 },
    /// Extended attribute `name` of `path` cannot be stored: `why`.
    Xattr {
        path: PathBuf,
        name: Vec<u8>,
        why: &'static str,
    },
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Disk(e) => e.fmt(f),
            ImageError::Source { path, source } => write!(f, "{}: {source}", path.display()),
            ImageError::FileTooLarge { path } => write!(f, "{}: too large", path.display()),
            ImageError::BadName { name } => {
                write!(f, "bad name {:?}", String::from_utf8_lossy(name))
            }
            ImageError::BadSymlinkTarget { .. } => f.write_str("bad symlink target"),
            ImageError::NoSpace => f.write_str("no space left on the device"),
            ImageError::NoInodes => f.write_str("no free inodes left"),
            ImageError::MapTooSmall { .. } => f.write_str("file too large for its map"),
            ImageError::LostMapNode { .. } => f.write_str("lost map node"),
            ImageError::NoParent { .. } => f.write_str("no parent"),
            ImageError::NoSuchDirectory { .. } => f.write_str("no such directory"),
            ImageError::LostHardLink { .. } => f.write_str("lost hard link"),
            ImageError::LostDirectory { .. } => f.write_str("lost directory"),
            ImageError::BadInodeNumber { .. } => f.write_str("bad inode number"),
            ImageError::Xattr { path, name, why } => write!(
                f,
                "{}: attribute {}: {why}",
                path.display(),
                String::from_utf8_lossy(name)
            ),
        }
    }
}

impl std::error::Error for ImageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Shown as is: its source is the device error's.
            ImageError::Disk(e) => e.source(),
            ImageError::Source { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<DiskError> for ImageError {
    fn from(e: DiskError) -> Self {
        ImageError::Disk(e)
    }
}

type Result<T> = std::result::Result<T, ImageError>;

/// An [`ImageError::Source`] for `path`.
fn source_err(path: &Path) -> impl FnOnce(io::Error) -> ImageError + '_ {
    move |source| ImageError::Source {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) struct Builder<'a> {
    dev: &'a Device,
    geo: Geometry,
    bbm: Vec<Vec<u8>>,
    ibm: Vec<Vec<u8>>,
    inodes: BTreeMap<u32, Inode>,
    /// Directory contents: (name, ino, dtype), ".." first.
    dirs: BTreeMap<u32, Vec<(Vec<u8>, u32, u8)>>,
    /// Blocks of each inode's map not yet written (for directories).
    hardlinks: HashMap<(u64, u64), u32>,
    now: i64,
    /// Each inode's attribute block, unsealed (with the `XATTR` feature;
    /// `None` without it).
    xattrs: Option<BTreeMap<u32, Box<[u8; BS]>>>,
}

fn new_encode_dev(rdev: u64) -> u64 {
    let major = (rdev >> 8) & 0xfff | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

impl<'a> Builder<'a> {
    pub(crate) fn new(dev: &'a Device, geo: Geometry, now: i64, xattrs: bool) -> Self {
        let mut bbm = Vec::new();
        let mut ibm = Vec::new();
        for g in 0..geo.group_count {
            let mut b = vec![0u8; BS];
            for bit in 0..geo.meta_blocks() as u32 {
                set_bit(&mut b, bit, true);
            }
            for bit in geo.group_blocks(g) as u32..BLOCKS_PER_GROUP {
                set_bit(&mut b, bit, true);
            }
            bbm.push(b);
            let mut i = vec![0u8; BS];
            for bit in geo.inodes_per_group..BLOCKS_PER_GROUP {
                set_bit(&mut i, bit, true);
            }
            if g == 0 {
                for bit in 0..FIRST_INO - 1 {
                    set_bit(&mut i, bit, true);
                }
            }
            ibm.push(i);
        }
        Builder {
            dev,
            geo,
            bbm,
            ibm,
            inodes: BTreeMap::new(),
            dirs: BTreeMap::new(),
            hardlinks: HashMap::new(),
            now,
            xattrs: xattrs.then(BTreeMap::new),
        }
    }

    /// Copies the extended attributes of `path` (the link itself for a
    /// symlink) to inode `ino`, if the filesystem has the feature.
    fn copy_xattrs(&mut self, path: &Path, ino: u32) -> Result<()> {
        let Some(all) = self.xattrs.as_mut() else {
            return Ok(());
        };
        let names = match r2dax_sys::llistxattr(path) {
            Ok(n) => n,
            // The source filesystem has no attributes.
            Err(e) if e.raw() == libc::ENOTSUP => return Ok(()),
            Err(e) => return Err(source_err(path)(e.into())),
        };
        let mut cur: Option<Box<[u8; BS]>> = None;
        for name in names {
            let err = |why| ImageError::Xattr {
                path: path.to_path_buf(),
                name: name.clone(),
                why,
            };
            let (ns, short) = xattr::split_name(&name)
                .ok_or_else(|| err("r2dax does not store this namespace"))?;
            let value = match r2dax_sys::lgetxattr(path, &name) {
                Ok(v) => v,
                // Removed since the listing.
                Err(e) if e.raw() == libc::ENODATA => continue,
                Err(e) => return Err(source_err(path)(e.into())),
            };
            let old = match &cur {
                Some(b) => Some(XattrBlock::decode(&b[..], 0).map_err(|_| err("internal error"))?),
                None => None,
            };
            let mut out = Box::new([0u8; BS]);
            let n = xattr_edit(
                &mut out,
                old.as_ref(),
                ns,
                short,
                Some(&value),
                XattrMode::Any,
            )
            .map_err(|e| match e {
                XattrEditError::NoSpace => err("the inode's attributes exceed one block"),
                _ => err("invalid attribute"),
            })?;
            // Sealed for block 0 while it is built, so it decodes.
            xattr_seal(&mut out, 0);
            cur = (n > 0).then_some(out);
        }
        if let Some(b) = cur {
            all.insert(ino, b);
        }
        Ok(())
    }

    /// Writes the attribute blocks, one per distinct set (inodes with the
    /// same attributes share a block), and the attribute index, inode
    /// [`XATTR_INDEX_INO`].
    fn write_xattrs(&mut self) -> Result<()> {
        let Some(all) = self.xattrs.take() else {
            return Ok(());
        };
        let mut shared: BTreeMap<Box<[u8; BS]>, (u64, u64)> = BTreeMap::new();
        // Blocks that reached xattr::REFCOUNT_MAX: the next file with
        // their set gets a new block.
        let mut full: Vec<(Box<[u8; BS]>, (u64, u64))> = Vec::new();
        let mut index: BTreeMap<u32, u64> = BTreeMap::new();
        for (ino, set) in all {
            let blk = match shared.get_mut(&set) {
                Some((b, refs)) if *refs < xattr::REFCOUNT_MAX => {
                    *refs += 1;
                    *b
                }
                _ => {
                    let b = self.alloc_run(1, false)?[0];
                    if let Some(old) = shared.insert(set.clone(), (b, 1)) {
                        full.push((set, old));
                    }
                    b
                }
            };
            index.insert(ino, blk);
        }
        for (set, (blk, refs)) in shared.into_iter().chain(full) {
            let mut b = *set;
            xattr_set_refcount(&mut b, refs);
            xattr_seal(&mut b, blk);
            self.dev.write_blocks(blk, &b)?;
        }
        let size = xattr::index_size(self.geo.inodes_count());
        let mut data = vec![0u64; (size / u64::from(BLOCK_SIZE)) as usize];
        let mut table: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        for (ino, blk) in index {
            let (lblk, off) = xattr::index_pos(ino);
            let t = table.entry(lblk).or_insert_with(|| vec![0u8; BS]);
            t[off..off + 8].copy_from_slice(&blk.to_le_bytes());
        }
        for (lblk, t) in table {
            let b = self.alloc_run(1, false)?[0];
            self.dev.write_blocks(b, &t)?;
            if let Some(d) = data.get_mut(lblk as usize) {
                *d = b;
            }
        }
        let (height, roots, map_blocks) = self.build_map(&data)?;
        let mut inode = self.base_inode(mode::S_IFREG, None);
        inode.size = size;
        inode.height = height;
        inode.roots = roots;
        inode.blocks = data.iter().filter(|&&b| b != 0).count() as u64 + map_blocks;
        self.inodes.insert(XATTR_INDEX_INO, inode);
        Ok(())
    }

    fn block_free(&self, b: u64) -> bool {
        match self.geo.block_group(b) {
            Some((g, bit)) => !test_bit(&self.bbm[g as usize], bit),
            None => false,
        }
    }

    fn mark(&mut self, b: u64) {
        if let Some((g, bit)) = self.geo.block_group(b) {
            set_bit(&mut self.bbm[g as usize], bit, true);
        }
    }

    /// Allocates `n` contiguous blocks, starting 2 MiB-aligned if `aligned`
    /// (then `n` is at most 512). Falls back to any run, then to single
    /// blocks.
    fn alloc_run(&mut self, n: u64, aligned: bool) -> Result<Vec<u64>> {
        let end = self.geo.blocks_count;
        let step = if aligned { PMD_BLOCKS } else { 1 };
        let mut b = 0u64;
        while b + n <= end {
            if (0..n).all(|i| self.block_free(b + i)) {
                for i in 0..n {
                    self.mark(b + i);
                }
                return Ok((b..b + n).collect());
            }
            b += step;
        }
        if aligned {
            return self.alloc_run(n, false);
        }
        if n > 1 {
            let mut v = Vec::new();
            for _ in 0..n {
                v.extend(self.alloc_run(1, false)?);
            }
            return Ok(v);
        }
        Err(ImageError::NoSpace)
    }

    fn alloc_ino(&mut self) -> Result<u32> {
        for g in 0..self.geo.group_count {
            for bit in 0..self.geo.inodes_per_group {
                if !test_bit(&self.ibm[g as usize], bit) {
                    set_bit(&mut self.ibm[g as usize], bit, true);
                    return Ok(g * self.geo.inodes_per_group + bit + 1);
                }
            }
        }
        Err(ImageError::NoInodes)
    }

    /// Builds the block map for `data` (file block -> device block, 0 for a
    /// hole), writing its map blocks; returns (height, roots, map blocks).
    fn build_map(&mut self, data: &[u64]) -> Result<(u8, [u64; MAP_ROOTS], u64)> {
        let last = data.iter().rposition(|&b| b != 0);
        let Some(last) = last else {
            return Ok((0, [0; MAP_ROOTS], 0));
        };
        let h = map_height_for(last as u64);
        let mut roots = [0u64; MAP_ROOTS];
        if h == 0 {
            roots[..=last].copy_from_slice(&data[..=last]);
            return Ok((0, roots, 0));
        }
        // In-memory map blocks, keyed by device block.
        let mut nodes: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for (lblk, &p) in data.iter().enumerate() {
            if p == 0 {
                continue;
            }
            let (root, path) =
                map_path(lblk as u64, h).ok_or(ImageError::MapTooSmall { lblk: lblk as u64 })?;
            let mut node = roots[root];
            if node == 0 {
                node = self.alloc_run(1, false)?[0];
                roots[root] = node;
                nodes.insert(node, vec![0; MAP_FANOUT as usize]);
            }
            for level in 0..h as usize {
                let idx = path[level];
                let lost = ImageError::LostMapNode { block: node };
                if level + 1 == h as usize {
                    nodes.get_mut(&node).ok_or(lost)?[idx] = p;
                } else {
                    let next = nodes.get(&node).ok_or(lost)?[idx];
                    let next = if next == 0 {
                        let n = self.alloc_run(1, false)?[0];
                        nodes
                            .get_mut(&node)
                            .ok_or(ImageError::LostMapNode { block: node })?[idx] = n;
                        nodes.insert(n, vec![0; MAP_FANOUT as usize]);
                        n
                    } else {
                        next
                    };
                    node = next;
                }
            }
        }
        let count = nodes.len() as u64;
        for (blk, ptrs) in nodes {
            let mut b = vec![0u8; BS];
            for (i, p) in ptrs.iter().enumerate() {
                b[i * 8..i * 8 + 8].copy_from_slice(&p.to_le_bytes());
            }
            self.dev.write_blocks(blk, &b)?;
        }
        Ok((h, roots, count))
    }

    fn base_inode(&self, mode_bits: u16, meta: Option<&fs::Metadata>) -> Inode {
        let mut i = Inode {
            mode: mode_bits,
            links: 1,
            atime: self.now,
            mtime: self.now,
            ctime: self.now,
            seq: 1,
            ..Inode::default()
        };
        if let Some(m) = meta {
            i.uid = m.uid();
            i.gid = m.gid();
            i.atime = m.atime();
            i.atime_ns = m.atime_nsec() as u32;
            i.mtime = m.mtime();
            i.mtime_ns = m.mtime_nsec() as u32;
            i.ctime = m.ctime();
            i.ctime_ns = m.ctime_nsec() as u32;
        }
        i
    }

    /// Creates an empty directory inode (its blocks come at `finish`).
    pub(crate) fn mkdir(
        &mut self,
        ino: Option<u32>,
        parent: u32,
        perm: u16,
        meta: Option<&fs::Metadata>,
    ) -> Result<u32> {
        let ino = match ino {
            Some(i) => i,
            None => self.alloc_ino()?,
        };
        let mut inode = self.base_inode(mode::S_IFDIR | (perm & 0o7777), meta);
        inode.links = 2;
        self.inodes.insert(ino, inode);
        self.dirs
            .insert(ino, vec![(b"..".to_vec(), parent, dirent::DT_DIR)]);
        if parent != ino {
            self.inodes
                .get_mut(&parent)
                .ok_or(ImageError::NoParent { dir: parent })?
                .links += 1;
        }
        Ok(ino)
    }

    fn link(&mut self, dir: u32, name: &[u8], ino: u32, dtype: u8) -> Result<()> {
        if name.is_empty() || name.len() > dirent::NAME_MAX || name.contains(&b'/') {
            return Err(ImageError::BadName {
                name: name.to_vec(),
            });
        }
        self.dirs
            .get_mut(&dir)
            .ok_or(ImageError::NoSuchDirectory { dir })?
            .push((name.to_vec(), ino, dtype));
        Ok(())
    }

    /// Copies the tree under `src` into directory `dir`.
    pub(crate) fn copy_tree(&mut self, src: &Path, dir: u32) -> Result<()> {
        let mut entries: Vec<_> = fs::read_dir(src)
            .map_err(source_err(src))?
            .collect::<io::Result<_>>()
            .map_err(source_err(src))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let name = e.file_name().into_encoded_bytes();
            if dir == ROOT_INO && name == b"lost+found" {
                continue;
            }
            let meta = fs::symlink_metadata(&path).map_err(source_err(&path))?;
            let ft = meta.file_type();
            let perm = (meta.mode() & 0o7777) as u16;
            if !ft.is_dir() && meta.nlink() > 1 {
                if let Some(&ino) = self.hardlinks.get(&(meta.dev(), meta.ino())) {
                    let inode = self
                        .inodes
                        .get_mut(&ino)
                        .ok_or(ImageError::LostHardLink { ino })?;
                    inode.links += 1;
                    let dt = dirent::dtype(inode.mode);
                    self.link(dir, &name, ino, dt)?;
                    continue;
                }
            }
            let ino = if ft.is_dir() {
                let ino = self.mkdir(None, dir, perm, Some(&meta))?;
                self.link(dir, &name, ino, dirent::DT_DIR)?;
                self.copy_xattrs(&path, ino)?;
                self.copy_tree(&path, ino)?;
                continue;
            } else if ft.is_file() {
                self.add_file(&path, perm, &meta)?
            } else if ft.is_symlink() {
                let target = fs::read_link(&path)
                    .map_err(source_err(&path))?
                    .into_os_string()
                    .into_encoded_bytes();
                self.add_symlink(&target, Some(&meta))?
            } else {
                let kind = if ft.is_char_device() {
                    mode::S_IFCHR
                } else if ft.is_block_device() {
                    mode::S_IFBLK
                } else if ft.is_fifo() {
                    mode::S_IFIFO
                } else {
                    mode::S_IFSOCK
                };
                let ino = self.alloc_ino()?;
                let mut inode = self.base_inode(kind | perm, Some(&meta));
                inode.roots[0] = new_encode_dev(meta.rdev());
                self.inodes.insert(ino, inode);
                ino
            };
            let dt = dirent::dtype(self.inodes[&ino].mode);
            self.link(dir, &name, ino, dt)?;
            self.copy_xattrs(&path, ino)?;
            if meta.nlink() > 1 {
                self.hardlinks.insert((meta.dev(), meta.ino()), ino);
            }
        }
        Ok(())
    }

    /// Copies a regular file; all-zero blocks become holes. Files of 2 MiB
    /// and more get 2 MiB-aligned runs, so DAX can map them with PMDs.
    fn add_file(&mut self, path: &Path, perm: u16, meta: &fs::Metadata) -> Result<u32> {
        let size = meta.len();
        let nblocks = size.div_ceil(u64::from(BLOCK_SIZE));
        if nblocks > map_capacity(r2dax_format::MAX_MAP_HEIGHT) {
            return Err(ImageError::FileTooLarge {
                path: path.to_path_buf(),
            });
        }
        let mut f = fs::File::open(path).map_err(source_err(path))?;
        let mut data = vec![0u64; nblocks as usize];
        let mut buf = vec![0u8; PMD_BLOCKS as usize * BS];
        let mut lblk = 0u64;
        while lblk < nblocks {
            let chunk = (nblocks - lblk).min(PMD_BLOCKS);
            let bytes = &mut buf[..chunk as usize * BS];
            bytes.fill(0);
            let want = ((size - lblk * u64::from(BLOCK_SIZE)) as usize).min(bytes.len());
            f.read_exact(&mut bytes[..want]).map_err(source_err(path))?;
            let aligned = chunk == PMD_BLOCKS && lblk % PMD_BLOCKS == 0;
            let nonzero: Vec<bool> = bytes
                .chunks(BS)
                .map(|c| c.iter().any(|&x| x != 0))
                .collect();
            if aligned && nonzero.iter().all(|&z| z) {
                let run = self.alloc_run(chunk, true)?;
                self.dev.write_blocks(run[0], bytes)?;
                data[lblk as usize..(lblk + chunk) as usize].copy_from_slice(&run);
            } else {
                for (i, c) in bytes.chunks(BS).enumerate() {
                    if nonzero[i] {
                        let b = self.alloc_run(1, false)?[0];
                        self.dev.write_blocks(b, c)?;
                        data[lblk as usize + i] = b;
                    }
                }
            }
            lblk += chunk;
        }
        let (height, roots, map_blocks) = self.build_map(&data)?;
        let ino = self.alloc_ino()?;
        let mut inode = self.base_inode(mode::S_IFREG | perm, Some(meta));
        inode.size = size;
        inode.height = height;
        inode.roots = roots;
        inode.blocks = data.iter().filter(|&&b| b != 0).count() as u64 + map_blocks;
        self.inodes.insert(ino, inode);
        Ok(ino)
    }

    fn add_symlink(&mut self, target: &[u8], meta: Option<&fs::Metadata>) -> Result<u32> {
        if target.is_empty() || target.len() > SYMLINK_MAX {
            return Err(ImageError::BadSymlinkTarget { len: target.len() });
        }
        let ino = self.alloc_ino()?;
        let mut inode = self.base_inode(mode::S_IFLNK | 0o777, meta);
        inode.size = target.len() as u64;
        if target.len() <= INLINE_SYMLINK_MAX {
            inode.iflags2 = iflags2::INLINE;
            inode.set_inline_data(target);
        } else {
            let b = self.alloc_run(1, false)?[0];
            let mut blk = vec![0u8; BS];
            blk[..target.len()].copy_from_slice(target);
            self.dev.write_blocks(b, &blk)?;
            inode.roots[0] = b;
            inode.blocks = 1;
        }
        self.inodes.insert(ino, inode);
        Ok(ino)
    }

    /// Writes directories, inodes, bitmaps, descriptors and the superblock.
    pub(crate) fn finish(mut self, sb: &mut Superblock) -> Result<()> {
        self.write_xattrs()?;
        // Directory blocks.
        let dirs = std::mem::take(&mut self.dirs);
        for (ino, entries) in dirs {
            let mut blocks: Vec<Vec<u8>> = vec![vec![0u8; BS]];
            let mut slot = 0;
            for (name, target, dt) in &entries {
                let need = dirent::slots_for(name.len());
                if slot + need > dirent::SLOTS_PER_BLOCK {
                    blocks.push(vec![0u8; BS]);
                    slot = 0;
                }
                let last = blocks.len() - 1;
                Dirent::encode(&mut blocks[last], slot, *target, *dt, name);
                slot += need;
            }
            let mut data = Vec::new();
            for b in &blocks {
                let blk = self.alloc_run(1, false)?[0];
                self.dev.write_blocks(blk, b)?;
                data.push(blk);
            }
            let (height, roots, map_blocks) = self.build_map(&data)?;
            let inode = self
                .inodes
                .get_mut(&ino)
                .ok_or(ImageError::LostDirectory { ino })?;
            inode.size = blocks.len() as u64 * u64::from(BLOCK_SIZE);
            inode.height = height;
            inode.roots = roots;
            inode.blocks = data.len() as u64 + map_blocks;
        }
        // Inode tables: zero, then the inodes.
        let itable = vec![0u8; self.geo.itable_blocks() as usize * BS];
        for g in 0..self.geo.group_count {
            self.dev.write_blocks(self.geo.inode_table(g), &itable)?;
        }
        let mut by_block: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        for (&ino, inode) in &self.inodes {
            let (blk, off) = self
                .geo
                .inode_location(ino)
                .ok_or(ImageError::BadInodeNumber { ino })?;
            let b = by_block.entry(blk).or_insert_with(|| vec![0u8; BS]);
            let mut slot = [0u8; INODE_SIZE];
            inode.encode_copy(&mut slot, 0, ino);
            b[off..off + INODE_SIZE].copy_from_slice(&slot);
        }
        for (blk, b) in by_block {
            self.dev.write_blocks(blk, &b)?;
        }
        // Bitmaps and descriptors.
        let mut gdt = vec![0u8; self.geo.gdt_blocks() as usize * BS];
        let (mut free_b, mut free_i) = (0u64, 0u64);
        for g in 0..self.geo.group_count {
            let gblocks = self.geo.group_blocks(g) as u32;
            let used_b = (0..gblocks)
                .filter(|&bit| test_bit(&self.bbm[g as usize], bit))
                .count() as u32;
            let used_i = (0..self.geo.inodes_per_group)
                .filter(|&bit| test_bit(&self.ibm[g as usize], bit))
                .count() as u32;
            let dirs = self
                .inodes
                .iter()
                .filter(|(&i, n)| {
                    (i - 1) / self.geo.inodes_per_group == g
                        && n.mode & mode::S_IFMT == mode::S_IFDIR
                })
                .count() as u32;
            let gd = GroupDesc {
                free_blocks: gblocks - used_b,
                free_inodes: self.geo.inodes_per_group - used_i,
                used_dirs: dirs,
                flags: 0,
            };
            free_b += u64::from(gd.free_blocks);
            free_i += u64::from(gd.free_inodes);
            let (gblk, goff) = GroupDesc::location(g);
            let at = (gblk - 1) as usize * BS + goff;
            let mut d = [0u8; GROUP_DESC_SIZE];
            gd.encode(&mut d, g);
            gdt[at..at + GROUP_DESC_SIZE].copy_from_slice(&d);
            self.dev
                .write_blocks(self.geo.block_bitmap(g), &self.bbm[g as usize])?;
            self.dev
                .write_blocks(self.geo.inode_bitmap(g), &self.ibm[g as usize])?;
        }
        self.dev.write_blocks(1, &gdt)?;
        self.dev.sync()?;
        // Last, the superblock makes it all a filesystem.
        sb.free_blocks = free_b;
        sb.free_inodes = free_i;
        let mut sbbuf = [0u8; SUPERBLOCK_SIZE];
        sb.encode(&mut sbbuf);
        let mut b0 = vec![0u8; BS];
        b0[..SUPERBLOCK_SIZE].copy_from_slice(&sbbuf);
        self.dev.write_blocks(0, &b0)?;
        Ok(self.dev.sync()?)
    }
}

/// Makes root and lost+found (root's metadata from `src` if given), then
/// copies `src` in.
pub(crate) fn populate(b: &mut Builder<'_>, src: Option<&Path>) -> Result<()> {
    let root_meta = match src {
        Some(p) => Some(fs::metadata(p).map_err(source_err(p))?),
        None => None,
    };
    let root_perm = root_meta
        .as_ref()
        .map_or(0o755, |m| (m.mode() & 0o7777) as u16);
    b.mkdir(Some(ROOT_INO), ROOT_INO, root_perm, root_meta.as_ref())?;
    let lf = b.mkdir(Some(LOST_FOUND_INO), ROOT_INO, 0o700, None)?;
    b.link(ROOT_INO, b"lost+found", lf, dirent::DT_DIR)?;
    if let Some(p) = src {
        b.copy_xattrs(p, ROOT_INO)?;
        b.copy_tree(p, ROOT_INO)?;
    }
    Ok(())
}
