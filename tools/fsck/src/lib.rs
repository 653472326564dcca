// SPDX-License-Identifier: GPL-2.0
//! The checker behind `fsck.r2dax`.
//!
//! Five passes, like e2fsck:
//!
//! 1. inodes and block maps: every inode slot decodes; every map pointer
//!    is inside the data area and claimed once; the block count matches;
//! 2. directories: ".." first, every entry decodes, names are unique, each
//!    entry points at a used inode of the type it says;
//! 3. connectivity: every used inode is reachable from the root, or on
//!    the orphan list (unlinked while open) with no links;
//! 4. link counts;
//! 5. bitmaps and counters against what passes 1-4 found.
//!
//! With the `XATTR` feature, pass 1 also checks the attribute index
//! (inode 3) and every attribute block it names, and claims them; an
//! inode freed later drops its entry; before pass 5 each block's
//! reference count is compared with the entries that name it.
//!
//! With `repair`, each problem that has a safe fix is fixed at once on the
//! device: corrupt inodes and directory slots are cleared, bad pointers
//! zeroed, orphans freed, unattached inodes moved to lost+found, link
//! counts, bitmaps and counters rewritten. Everything else is reported as
//! left unfixed.

use r2dax_disk::{DiskError, Fs, BS};
use r2dax_format::{
    dirent, feature, iflags2, map_ptr, mode, ptr_block, set_bit, state, test_bit, xattr,
    xattr_set_refcount, DirSlot, Dirent, GroupDesc, Inode, Slot, Superblock, XattrBlock,
    BLOCKS_PER_GROUP, BLOCK_SIZE, FIRST_INO, GROUP_DESC_SIZE, INODE_SIZE, LOST_FOUND_INO,
    MAP_FANOUT, PTR_UNWRITTEN, ROOT_INO, SUPERBLOCK_SIZE, XATTR_INDEX_INO,
};
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::fmt;

/// Why a check stopped before its end (fsck.r2dax's "operational
/// error", exit status 8). Problems the check finds are not errors: they
/// go into the [`Report`].
#[derive(Debug)]
pub enum FsckError {
    /// The device could not be read or written, or a map the check had
    /// to follow does not hold together; the message and the source are
    /// the device layer's.
    Disk(DiskError),
    /// Inode number `ino` has no slot in the inode tables.
    BadInodeNumber { ino: u32 },
    /// No unclaimed data block is left to recreate directory `ino` in.
    NoFreeBlock { ino: u32 },
    /// Inode `dir`, which an inode was to be linked into, is not a
    /// directory.
    NoReconnectDir { dir: u32 },
    /// Directory `dir` has no free slots for an entry named `name`.
    DirectoryFull { dir: u32, name: String },
    /// Directory `dir`, whose '..' was to be rewritten, is not in use.
    NoDir { dir: u32 },
    /// Inode `ino` left the checker's table while it was being updated
    /// (a bug in the checker).
    VanishedInode { ino: u32 },
    /// The corrupt slot found in block `lblk` of directory `dir` was gone
    /// when it was to be cleared.
    CorruptSlotVanished { dir: u32, lblk: u64 },
}

impl fmt::Display for FsckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsckError::Disk(e) => e.fmt(f),
            FsckError::BadInodeNumber { .. } => f.write_str("bad inode number"),
            FsckError::NoFreeBlock { .. } => f.write_str("no free block to recreate a directory"),
            FsckError::NoReconnectDir { .. } => f.write_str("no directory to reconnect to"),
            FsckError::DirectoryFull { dir, name } => {
                write!(f, "directory {dir} has no room for '{name}'")
            }
            FsckError::NoDir { .. } => f.write_str("no dir"),
            FsckError::VanishedInode { .. } => f.write_str("vanished inode"),
            FsckError::CorruptSlotVanished { .. } => f.write_str("corrupt slot vanished"),
        }
    }
}

impl std::error::Error for FsckError {
    /// A device error is shown as is, so its source is the device
    /// error's source (the I/O error, if any).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FsckError::Disk(e) => e.source(),
            _ => None,
        }
    }
}

impl From<DiskError> for FsckError {
    fn from(e: DiskError) -> Self {
        FsckError::Disk(e)
    }
}

type Result<T> = std::result::Result<T, FsckError>;

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// One line per problem, with "(fixed)" where it was repaired.
    pub lines: Vec<String>,
    /// Problems found.
    pub problems: usize,
    /// Problems repaired.
    pub fixed: usize,
    /// Used inodes at the end.
    pub used_inodes: u64,
    /// Used blocks at the end (metadata included).
    pub used_blocks: u64,
}

impl Report {
    /// e2fsck-style exit status: 0 clean, 1 all problems fixed, 4 problems
    /// left.
    pub fn exit_code(&self) -> u8 {
        if self.problems == 0 {
            0
        } else if self.fixed == self.problems {
            1
        } else {
            4
        }
    }
}

struct Info {
    inode: Inode,
    copy: usize,
    /// Directory entries naming this inode (".." not counted).
    entries: u32,
    /// Subdirectories whose ".." names this inode.
    subdirs: u32,
    /// The directory whose entry names this one (for directories).
    parent: Option<u32>,
}

/// The attribute index and what it names (with the `XATTR` feature).
struct Xattrs {
    /// The index inode.
    inode: Inode,
    /// Each inode's attribute block, as the index names it.
    of: BTreeMap<u32, u64>,
    /// Index entries naming each attribute block.
    refs: BTreeMap<u64, u64>,
}

struct Checker<'a> {
    fs: &'a Fs,
    /// Slot 3 as pass 1 read it, with the `XATTR` feature (`None`: free or
    /// corrupt).
    index_slot: Option<(Inode, usize)>,
    /// Why slot 3 did not decode.
    index_error: Option<String>,
    /// The attribute index, once pass 1 has checked it.
    xattrs: Option<Xattrs>,
    /// The superblock as it will be written back (pass 3 and 5 edit it).
    sb: Superblock,
    sb_dirty: bool,
    repair: bool,
    report: Report,
    inodes: BTreeMap<u32, Info>,
    claimed: Vec<u64>,
}

impl Checker<'_> {
    fn problem(&mut self, msg: String, fixable: bool) -> bool {
        self.report.problems += 1;
        let fix = fixable && self.repair;
        if fix {
            self.report.fixed += 1;
        }
        self.report.lines.push(format!(
            "{msg}{}",
            if fix {
                " (fixed)"
            } else if fixable {
                " (not fixed: -n)"
            } else {
                " (not fixed)"
            }
        ));
        fix
    }

    fn claimed(&self, b: u64) -> bool {
        self.claimed[(b / 64) as usize] & (1 << (b % 64)) != 0
    }

    fn claim(&mut self, b: u64) {
        self.claimed[(b / 64) as usize] |= 1 << (b % 64);
    }

    fn unclaim(&mut self, b: u64) {
        self.claimed[(b / 64) as usize] &= !(1 << (b % 64));
    }

    fn write_inode(&self, ino: u32, inode: &mut Inode, copy: &mut usize) -> Result<()> {
        let (blk, off) = self
            .fs
            .geo
            .inode_location(ino)
            .ok_or(FsckError::BadInodeNumber { ino })?;
        let mut b = self.fs.dev.read_block(blk)?;
        let mut slot = [0u8; INODE_SIZE];
        slot.copy_from_slice(&b[off..off + INODE_SIZE]);
        inode.seq = inode.seq.wrapping_add(1);
        *copy ^= 1;
        inode.encode_copy(&mut slot, *copy, ino);
        b[off..off + INODE_SIZE].copy_from_slice(&slot);
        Ok(self.fs.dev.write_blocks(blk, &b)?)
    }

    fn clear_inode_slot(&self, ino: u32) -> Result<()> {
        let (blk, off) = self
            .fs
            .geo
            .inode_location(ino)
            .ok_or(FsckError::BadInodeNumber { ino })?;
        let mut b = self.fs.dev.read_block(blk)?;
        b[off..off + INODE_SIZE].fill(0);
        Ok(self.fs.dev.write_blocks(blk, &b)?)
    }

    /// Pass 1 for one inode: claims its map and data blocks, zeroing bad
    /// pointers when repairing. Returns the number of blocks it owns.
    fn walk_map(&mut self, ino: u32, inode: &mut Inode, copy: &mut usize) -> Result<u64> {
        if inode.iflags2 & iflags2::INLINE != 0 || !mode::has_map(inode.mode) {
            return Ok(0);
        }
        let mut count = 0;
        let mut roots_changed = false;
        for r in 0..inode.roots.len() {
            let mut p = inode.roots[r];
            if p == 0 {
                continue;
            }
            if inode.height == 0 {
                // The roots are data pointers.
                let q = self.data_ptr(ino, p);
                if q != p {
                    inode.roots[r] = q;
                    roots_changed = true;
                }
                p = ptr_block(q);
            }
            if !self.check_ptr(ino, p)? {
                inode.roots[r] = 0;
                roots_changed = true;
                continue;
            }
            count += 1 + self.walk_node(ino, p, inode.height)?;
        }
        if roots_changed {
            self.write_inode(ino, inode, copy)?;
        }
        Ok(count)
    }

    /// A data pointer of inode `ino` as it may stay: the `PTR_UNWRITTEN`
    /// bit is valid only with the unwritten feature; without it, repair
    /// clears the bit (the block stays the file's, as written data).
    fn data_ptr(&mut self, ino: u32, p: u64) -> u64 {
        if p & PTR_UNWRITTEN == 0 || self.fs.sb.feature_incompat & feature::INCOMPAT_UNWRITTEN != 0
        {
            return p;
        }
        let b = ptr_block(p);
        if self.problem(
            format!("inode {ino}: block {b} is marked unwritten, but the filesystem lacks the unwritten feature"),
            true,
        ) {
            b
        } else {
            p
        }
    }

    /// Checks a pointer found in inode `ino`; claims it if good. Returns
    /// whether the pointer may stay (false: the caller zeroes it).
    fn check_ptr(&mut self, ino: u32, p: u64) -> Result<bool> {
        if !self.fs.geo.is_data_block(p) {
            let fix = self.problem(
                format!("inode {ino}: block pointer {p} is outside the data area"),
                true,
            );
            return Ok(!fix);
        }
        if self.claimed(p) {
            let fix = self.problem(
                format!("inode {ino}: block {p} is already in use by another owner"),
                true,
            );
            return Ok(!fix);
        }
        self.claim(p);
        Ok(true)
    }

    /// Claims the subtree of map block `blk` at `depth` (>= 1 means `blk`
    /// is a map block). Returns the blocks below it.
    fn walk_node(&mut self, ino: u32, blk: u64, depth: u8) -> Result<u64> {
        if depth == 0 {
            return Ok(0);
        }
        let mut b = self.fs.dev.read_block(blk)?;
        let mut count = 0;
        let mut changed = false;
        for i in 0..MAP_FANOUT as usize {
            let mut p = map_ptr(&b, i).unwrap_or(0);
            if p == 0 {
                continue;
            }
            if depth == 1 {
                // A leaf: its pointers are data pointers.
                let q = self.data_ptr(ino, p);
                if q != p {
                    b[i * 8..i * 8 + 8].copy_from_slice(&q.to_le_bytes());
                    changed = true;
                }
                p = ptr_block(q);
            }
            if !self.check_ptr(ino, p)? {
                b[i * 8..i * 8 + 8].fill(0);
                changed = true;
                continue;
            }
            count += 1 + self.walk_node(ino, p, depth - 1)?;
        }
        if changed {
            self.fs.dev.write_blocks(blk, &b)?;
        }
        Ok(count)
    }

    fn has_xattrs(&self) -> bool {
        self.fs.sb.feature_incompat & feature::INCOMPAT_XATTR != 0
    }

    /// Pass 1 for the attribute index: checks inode 3 (recreating it
    /// empty if it is missing or not an index), claims its blocks, then
    /// checks each entry and the attribute block it names, and claims
    /// those. Entries for unused inodes or naming a bad block are
    /// cleared (the inode loses its attributes).
    fn check_xattr_index(&mut self) -> Result<()> {
        if !self.has_xattrs() {
            return Ok(());
        }
        let geo = self.fs.geo;
        let size = xattr::index_size(geo.inodes_count());
        let (mut inode, mut copy) = match self.index_slot.take() {
            Some((i, c))
                if i.mode == mode::S_IFREG && i.size == size && i.iflags2 == 0 && i.links == 1 =>
            {
                (i, c)
            }
            other => {
                let why = match (other, self.index_error.take()) {
                    (_, Some(e)) => e,
                    (None, None) => "the slot is free".to_string(),
                    (Some(_), None) => "not an index of the right size".to_string(),
                };
                if !self.problem(
                    format!(
                        "attribute index (inode {XATTR_INDEX_INO}): {why}; \
                         recreating it empty (every file loses its attributes)"
                    ),
                    true,
                ) {
                    return Ok(());
                }
                // Its old blocks stay unclaimed: pass 5 frees them.
                let mut i = Inode {
                    mode: mode::S_IFREG,
                    links: 1,
                    size,
                    ..Inode::default()
                };
                let mut c = 1;
                self.write_inode(XATTR_INDEX_INO, &mut i, &mut c)?;
                (i, c)
            }
        };
        let n = self.walk_map(XATTR_INDEX_INO, &mut inode, &mut copy)?;
        if n != inode.blocks
            && self.problem(
                format!(
                    "inode {XATTR_INDEX_INO}: block count {} should be {n}",
                    inode.blocks
                ),
                true,
            )
        {
            inode.blocks = n;
            self.write_inode(XATTR_INDEX_INO, &mut inode, &mut copy)?;
        }
        let mut x = Xattrs {
            inode,
            of: BTreeMap::new(),
            refs: BTreeMap::new(),
        };
        for lblk in 0..size / u64::from(BLOCK_SIZE) {
            let p = self.fs.map(&x.inode, lblk)?;
            if p == 0 {
                continue;
            }
            let mut t = self.fs.dev.read_block(p)?;
            let mut changed = false;
            for i in 0..xattr::INDEX_PER_BLOCK as usize {
                let e = map_ptr(&t, i).unwrap_or(0);
                if e == 0 {
                    continue;
                }
                let ino = lblk * xattr::INDEX_PER_BLOCK + i as u64;
                let why = match u32::try_from(ino) {
                    Ok(ino)
                        if geo.valid_ino(ino)
                            && (ino >= FIRST_INO || ino == ROOT_INO || ino == LOST_FOUND_INO)
                            && self.inodes.contains_key(&ino) =>
                    {
                        if let Some(r) = x.refs.get_mut(&e) {
                            // Another inode's block, already checked.
                            *r += 1;
                            x.of.insert(ino, e);
                            continue;
                        }
                        let why = if !geo.is_data_block(e) {
                            "is outside the data area".to_string()
                        } else if self.claimed(e) {
                            "is already in use by another owner".to_string()
                        } else {
                            match XattrBlock::decode(&self.fs.dev.read_block(e)?, e) {
                                Ok(_) => {
                                    self.claim(e);
                                    x.refs.insert(e, 1);
                                    x.of.insert(ino, e);
                                    continue;
                                }
                                Err(err) => format!("is corrupt: {err}"),
                            }
                        };
                        format!("inode {ino}: attribute block {e} {why}; dropping its attributes")
                    }
                    _ => format!("attribute index names block {e} for unused inode {ino}; clearing the entry"),
                };
                if self.problem(why, true) {
                    t[i * 8..i * 8 + 8].fill(0);
                    changed = true;
                }
            }
            if changed {
                self.fs.dev.write_blocks(p, &t)?;
            }
        }
        self.xattrs = Some(x);
        Ok(())
    }

    /// Clears inode `ino`'s index entry and releases its attribute block
    /// (an inode being freed).
    fn drop_xattrs(&mut self, ino: u32) -> Result<()> {
        let Some(x) = self.xattrs.as_mut() else {
            return Ok(());
        };
        let Some(e) = x.of.remove(&ino) else {
            return Ok(());
        };
        let (lblk, off) = xattr::index_pos(ino);
        let p = self.fs.map(&x.inode, lblk)?;
        if p != 0 && self.repair {
            let mut t = self.fs.dev.read_block(p)?;
            t[off..off + 8].fill(0);
            self.fs.dev.write_blocks(p, &t)?;
        }
        let last = match x.refs.get_mut(&e) {
            Some(r) => {
                *r -= 1;
                *r == 0
            }
            None => false,
        };
        if last {
            x.refs.remove(&e);
            self.unclaim(e);
        }
        Ok(())
    }

    /// Each attribute block's reference count against the index entries
    /// that name it. A count that is too high is what a crash may leave
    /// (ondisk.rst, crash rule 8); one that is too low is corruption.
    fn check_xattr_refcounts(&mut self) -> Result<()> {
        let Some(x) = self.xattrs.as_ref() else {
            return Ok(());
        };
        let refs: Vec<(u64, u64)> = x.refs.iter().map(|(&b, &n)| (b, n)).collect();
        for (blk, n) in refs {
            let mut b = self.fs.dev.read_block(blk)?;
            let have = XattrBlock::decode(&b, blk).map_or(0, |x| x.refcount);
            if have == n {
                continue;
            }
            let how = if have > n { "higher" } else { "lower" };
            if self.problem(
                format!("attribute block {blk}: reference count {have} is {how} than its {n} references"),
                true,
            ) {
                xattr_set_refcount(&mut b, n);
                self.fs.dev.write_blocks(blk, &b)?;
            }
        }
        Ok(())
    }

    fn pass1(&mut self) -> Result<()> {
        let geo = self.fs.geo;
        for g in 0..geo.group_count {
            for tb in 0..u64::from(geo.itable_blocks()) {
                let blk = geo.inode_table(g) + tb;
                let b = self.fs.dev.read_block(blk)?;
                for i in 0..(BS / INODE_SIZE) {
                    let ino = g * geo.inodes_per_group + (tb as u32) * 16 + i as u32 + 1;
                    let mut slot = [0u8; INODE_SIZE];
                    slot.copy_from_slice(&b[i * INODE_SIZE..(i + 1) * INODE_SIZE]);
                    let index = ino == XATTR_INDEX_INO && self.has_xattrs();
                    match Inode::decode_slot(&slot, ino) {
                        Ok(Slot::Free) => {}
                        Ok(Slot::Used { inode, copy }) if index => {
                            self.index_slot = Some((inode, copy));
                        }
                        Err(e) if index => self.index_error = Some(e.to_string()),
                        Ok(Slot::Used { inode, copy }) => {
                            self.inodes.insert(
                                ino,
                                Info {
                                    inode,
                                    copy,
                                    entries: 0,
                                    subdirs: 0,
                                    parent: None,
                                },
                            );
                        }
                        Err(e) => {
                            if self.problem(format!("inode {ino}: {e}; clearing it"), true) {
                                self.clear_inode_slot(ino)?;
                            }
                        }
                    }
                }
            }
        }
        let inos: Vec<u32> = self.inodes.keys().copied().collect();
        for ino in inos {
            let Some(info) = self.inodes.get(&ino) else {
                continue;
            };
            let (mut inode, mut copy) = (info.inode, info.copy);
            if (1..FIRST_INO).contains(&ino) && ino != ROOT_INO && ino != LOST_FOUND_INO {
                self.problem(format!("reserved inode {ino} is in use"), false);
            }
            let n = self.walk_map(ino, &mut inode, &mut copy)?;
            if n != inode.blocks
                && self.problem(
                    format!("inode {ino}: block count {} should be {n}", inode.blocks),
                    true,
                )
            {
                inode.blocks = n;
                self.write_inode(ino, &mut inode, &mut copy)?;
            }
            if let Some(info) = self.inodes.get_mut(&ino) {
                info.inode = inode;
                info.copy = copy;
            }
        }
        self.check_xattr_index()?;
        // Now that every owned block is claimed, recreate a missing root
        // or lost+found (its old entries are lost; pass 3 reconnects what
        // they named).
        for (ino, perm) in [(ROOT_INO, 0o755), (LOST_FOUND_INO, 0o700)] {
            let is_dir = self
                .inodes
                .get(&ino)
                .is_some_and(|i| i.inode.mode & mode::S_IFMT == mode::S_IFDIR);
            if !is_dir
                && self.problem(
                    format!("inode {ino} (root or lost+found) is not a directory; recreating it"),
                    true,
                )
            {
                self.recreate_dir(ino, perm)?;
            }
        }
        Ok(())
    }

    /// Makes `ino` an empty directory whose ".." is the root, in the first
    /// unclaimed data block.
    fn recreate_dir(&mut self, ino: u32, perm: u16) -> Result<()> {
        let geo = self.fs.geo;
        let blk = (0..geo.blocks_count)
            .find(|&b| geo.is_data_block(b) && !self.claimed(b))
            .ok_or(FsckError::NoFreeBlock { ino })?;
        self.claim(blk);
        let mut b = vec![0u8; BS];
        Dirent::encode(&mut b, 0, ROOT_INO, dirent::DT_DIR, b"..");
        self.fs.dev.write_blocks(blk, &b)?;
        let mut inode = Inode {
            mode: mode::S_IFDIR | perm,
            links: 2,
            size: u64::from(BLOCK_SIZE),
            blocks: 1,
            roots: [blk, 0, 0, 0, 0],
            ..Inode::default()
        };
        self.clear_inode_slot(ino)?;
        let mut copy = 1;
        self.write_inode(ino, &mut inode, &mut copy)?;
        self.inodes.insert(
            ino,
            Info {
                inode,
                copy,
                entries: 0,
                subdirs: 0,
                parent: None,
            },
        );
        Ok(())
    }

    /// Reports a bad entry of `dir` as a fixable problem and, when
    /// repairing, clears it.
    fn drop_entry(&mut self, msg: String, dir: &Inode, lblk: u64, ent: &Dirent) -> Result<()> {
        if self.problem(msg, true) {
            self.clear_dir_slot(dir, lblk, ent.slot, ent.nslots)?;
        }
        Ok(())
    }

    fn clear_dir_slot(&self, dir: &Inode, lblk: u64, slot: usize, n: usize) -> Result<()> {
        let blk = self.fs.map(dir, lblk)?;
        let mut b = self.fs.dev.read_block(blk)?;
        Dirent::clear(&mut b, slot, n);
        Ok(self.fs.dev.write_blocks(blk, &b)?)
    }

    /// Clears directories whose blocks cannot be read as a directory (no
    /// blocks, a hole), so that pass 2 treats entries naming them as
    /// dangling and pass 3 reconnects their children.
    fn dir_inos(&self) -> Vec<u32> {
        self.inodes
            .iter()
            .filter(|(_, i)| i.inode.mode & mode::S_IFMT == mode::S_IFDIR)
            .map(|(&n, _)| n)
            .collect()
    }

    fn clear_unreadable_dirs(&mut self) -> Result<()> {
        let dirs = self.dir_inos();
        for d in dirs {
            let dinode = self.inodes[&d].inode;
            let why = if dinode.size == 0 {
                Some("it has no blocks".to_string())
            } else {
                self.fs.dir_entries(&dinode).err().map(|e| e.to_string())
            };
            if let Some(why) = why {
                if self.problem(
                    format!("directory {d} is unreadable ({why}); clearing it"),
                    true,
                ) {
                    self.free_inode(d)?;
                }
            }
        }
        Ok(())
    }

    fn pass2(&mut self) -> Result<()> {
        let dirs = self.dir_inos();
        for d in dirs {
            let dinode = self.inodes[&d].inode;
            if dinode.size == 0 {
                self.problem(format!("directory {d} has no blocks"), false);
                continue;
            }
            let entries = match self.fs.dir_entries(&dinode) {
                Ok(e) => e,
                Err(e) => {
                    self.problem(format!("directory {d}: {e}"), false);
                    continue;
                }
            };
            let mut names = HashSet::new();
            let mut have_dotdot = false;
            for (lblk, s, name) in entries {
                let ent = match s {
                    DirSlot::Entry(e) => e,
                    DirSlot::Corrupt => {
                        // Corrupt slots are reported per run of slots by
                        // their block, cleared one slot at a time.
                        if self.problem(
                            format!("directory {d} block {lblk}: corrupt entry; clearing it"),
                            true,
                        ) {
                            let slot = self.first_corrupt_slot(d, &dinode, lblk)?;
                            self.clear_dir_slot(&dinode, lblk, slot, 1)?;
                        }
                        continue;
                    }
                    DirSlot::Free => continue,
                };
                let shown = String::from_utf8_lossy(&name).into_owned();
                if lblk == 0 && ent.slot == 0 {
                    if name != b".." {
                        self.problem(format!("directory {d}: first entry is not '..'"), false);
                    } else {
                        have_dotdot = true;
                        if let Some(p) = self.inodes.get_mut(&ent.ino) {
                            p.subdirs += 1;
                        } else {
                            // Rewritten by pass 3 (reconnection) or pass 4
                            // (the parent that names this directory).
                            self.problem(
                                format!(
                                    "directory {d}: '..' points to free inode {}; \
                                     it will name the real parent",
                                    ent.ino
                                ),
                                true,
                            );
                        }
                    }
                    continue;
                }
                if name == b".." || name == b"." {
                    self.drop_entry(
                        format!("directory {d}: stray '{shown}' entry"),
                        &dinode,
                        lblk,
                        &ent,
                    )?;
                    continue;
                }
                let Some(child) = self.inodes.get(&ent.ino) else {
                    self.drop_entry(
                        format!(
                            "directory {d}: entry '{shown}' points to free or invalid inode {}",
                            ent.ino
                        ),
                        &dinode,
                        lblk,
                        &ent,
                    )?;
                    continue;
                };
                if !names.insert(name.clone()) {
                    self.drop_entry(
                        format!("directory {d}: duplicate entry '{shown}'"),
                        &dinode,
                        lblk,
                        &ent,
                    )?;
                    continue;
                }
                let cmode = child.inode.mode;
                let is_dir = cmode & mode::S_IFMT == mode::S_IFDIR;
                if is_dir && child.parent.is_some() {
                    self.drop_entry(
                        format!(
                            "directory {d}: '{shown}' is a second link to directory {}",
                            ent.ino
                        ),
                        &dinode,
                        lblk,
                        &ent,
                    )?;
                    continue;
                }
                if ent.dtype != dirent::dtype(cmode) {
                    self.problem(
                        format!("directory {d}: entry '{shown}' has the wrong file type"),
                        false,
                    );
                }
                let child = self
                    .inodes
                    .get_mut(&ent.ino)
                    .ok_or(FsckError::VanishedInode { ino: ent.ino })?;
                child.entries += 1;
                if is_dir {
                    child.parent = Some(d);
                }
            }
            // A missing ".." of any other directory is rewritten by pass 3
            // (unattached) or pass 4 (wrong parent).
            if !have_dotdot
                && d == ROOT_INO
                && self.problem("the root has no '..' entry".into(), true)
            {
                self.set_dotdot(ROOT_INO, ROOT_INO)?;
            }
        }
        Ok(())
    }

    fn first_corrupt_slot(&self, d: u32, dir: &Inode, lblk: u64) -> Result<usize> {
        let blk = self.fs.map(dir, lblk)?;
        let b = self.fs.dev.read_block(blk)?;
        let mut slot = 0;
        while slot < dirent::SLOTS_PER_BLOCK {
            match Dirent::decode(&b, slot) {
                DirSlot::Entry(e) => slot += e.nslots,
                DirSlot::Corrupt => return Ok(slot),
                DirSlot::Free => slot += 1,
            }
        }
        Err(FsckError::CorruptSlotVanished { dir: d, lblk })
    }

    /// Frees inode `ino` and its blocks (orphans, nameless inodes): pass 5
    /// then rewrites the bitmaps without them.
    fn free_inode(&mut self, ino: u32) -> Result<()> {
        let Some(info) = self.inodes.remove(&ino) else {
            return Ok(());
        };
        for b in self.fs.owned_blocks(&info.inode)? {
            self.unclaim(b);
        }
        self.drop_xattrs(ino)?;
        self.clear_inode_slot(ino)
    }

    fn pass3(&mut self) -> Result<()> {
        // The orphan list: unlinked inodes that were still open.
        let mut orphans = BTreeSet::new();
        let mut o = self.sb.orphan_head;
        while o != 0 {
            let Some(info) = self.inodes.get(&o) else {
                self.problem(
                    format!("orphan list names free inode {o}; clearing the list"),
                    true,
                );
                break;
            };
            let next = info.inode.next_orphan;
            if info.inode.links != 0 || info.entries != 0 {
                // Only an inode without links or names is an orphan; a
                // linked one is kept and the list is cleared below.
                self.problem(
                    format!("orphan list names linked inode {o}; keeping it, clearing the list"),
                    true,
                );
                break;
            }
            if !orphans.insert(o) {
                self.problem("orphan list has a loop; clearing the list".into(), true);
                break;
            }
            o = next;
        }
        for &o in &orphans {
            if self.problem(
                format!("inode {o} was unlinked while open; freeing it"),
                true,
            ) {
                self.free_inode(o)?;
            }
        }
        if self.sb.orphan_head != 0 && self.repair {
            self.sb.orphan_head = 0;
            self.sb_dirty = true;
        }
        // Reachability from the root. Reconnect only the top of each
        // detached subtree: what it names becomes reachable through it.
        let mut seen = self.reachable_from(ROOT_INO, &BTreeSet::new());
        loop {
            let detached: Vec<u32> = self
                .inodes
                .keys()
                .copied()
                .filter(|i| !seen.contains(i) && !orphans.contains(i))
                .collect();
            // Prefer an inode no detached directory names (a subtree top);
            // in a cycle of detached directories, take any.
            let Some(&ino) = detached
                .iter()
                .find(|&&i| self.inodes[&i].entries == 0)
                .or(detached.first())
            else {
                break;
            };
            let links = self.inodes[&ino].inode.links;
            if links == 0 && self.inodes[&ino].entries == 0 {
                if self.problem(
                    format!("inode {ino} has no links and no name; freeing it"),
                    true,
                ) {
                    self.free_inode(ino)?;
                }
            } else if ino == LOST_FOUND_INO {
                if self.problem(
                    "lost+found is not attached to the root; relinking it".into(),
                    true,
                ) {
                    self.reconnect(ino, ROOT_INO, "lost+found")?;
                }
            } else if self.problem(
                format!("inode {ino} is not attached to the tree; moving it to lost+found"),
                true,
            ) {
                self.reconnect(ino, LOST_FOUND_INO, &format!("#{ino}"))?;
            }
            // Whether fixed or only reported, it and what it names are
            // dealt with.
            seen.extend(self.reachable_from(ino, &seen));
            seen.insert(ino);
        }
        Ok(())
    }

    /// Inodes reachable from `start` through directory entries, not going
    /// into `skip`.
    fn reachable_from(&self, start: u32, skip: &BTreeSet<u32>) -> BTreeSet<u32> {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([start]);
        while let Some(d) = queue.pop_front() {
            if skip.contains(&d) || !seen.insert(d) {
                continue;
            }
            let Some(info) = self.inodes.get(&d) else {
                continue;
            };
            if info.inode.mode & mode::S_IFMT != mode::S_IFDIR {
                continue;
            }
            if let Ok(ents) = self.fs.dir_entries(&info.inode) {
                for (lblk, s, _) in ents {
                    if let DirSlot::Entry(e) = s {
                        if !(lblk == 0 && e.slot == 0) && self.inodes.contains_key(&e.ino) {
                            queue.push_back(e.ino);
                        }
                    }
                }
            }
        }
        seen
    }

    fn write_sb(&self, sb: &r2dax_format::Superblock) -> Result<()> {
        let mut b = self.fs.dev.read_block(0)?;
        let mut s = [0u8; SUPERBLOCK_SIZE];
        sb.encode(&mut s);
        b[..SUPERBLOCK_SIZE].copy_from_slice(&s);
        Ok(self.fs.dev.write_blocks(0, &b)?)
    }

    /// Links `ino` into directory `dir` as `name`.
    fn reconnect(&mut self, ino: u32, dir: u32, name: &str) -> Result<()> {
        let lf = self
            .inodes
            .get(&dir)
            .filter(|i| i.inode.mode & mode::S_IFMT == mode::S_IFDIR)
            .ok_or(FsckError::NoReconnectDir { dir })?
            .inode;
        let need = dirent::slots_for(name.len());
        let cmode = self.inodes[&ino].inode.mode;
        for lblk in 0..lf.size / u64::from(BLOCK_SIZE) {
            let blk = self.fs.map(&lf, lblk)?;
            let mut b = self.fs.dev.read_block(blk)?;
            let mut slot = 0;
            let mut run = 0;
            while slot < dirent::SLOTS_PER_BLOCK {
                match Dirent::decode(&b, slot) {
                    DirSlot::Entry(e) => {
                        slot += e.nslots;
                        run = 0;
                        continue;
                    }
                    _ => run += 1,
                }
                slot += 1;
                if run == need {
                    Dirent::encode(
                        &mut b,
                        slot - need,
                        ino,
                        dirent::dtype(cmode),
                        name.as_bytes(),
                    );
                    self.fs.dev.write_blocks(blk, &b)?;
                    let info = self
                        .inodes
                        .get_mut(&ino)
                        .ok_or(FsckError::VanishedInode { ino })?;
                    info.entries += 1;
                    if cmode & mode::S_IFMT == mode::S_IFDIR {
                        info.parent = Some(dir);
                        self.set_dotdot(ino, dir)?;
                    }
                    return Ok(());
                }
            }
        }
        Err(FsckError::DirectoryFull {
            dir,
            name: name.to_string(),
        })
    }

    fn set_dotdot(&mut self, dir: u32, parent: u32) -> Result<()> {
        let d = self.inodes.get(&dir).ok_or(FsckError::NoDir { dir })?.inode;
        let blk = self.fs.map(&d, 0)?;
        let mut b = self.fs.dev.read_block(blk)?;
        let old = match Dirent::decode(&b, 0) {
            DirSlot::Entry(e) => Some(e.ino),
            _ => None,
        };
        Dirent::encode(&mut b, 0, parent, dirent::DT_DIR, b"..");
        self.fs.dev.write_blocks(blk, &b)?;
        if old != Some(parent) {
            if let Some(i) = old.and_then(|o| self.inodes.get_mut(&o)) {
                i.subdirs = i.subdirs.saturating_sub(1);
            }
            if let Some(i) = self.inodes.get_mut(&parent) {
                i.subdirs += 1;
            }
        }
        Ok(())
    }

    /// The link count directory or file `ino` should have.
    fn wanted_links(&self, ino: u32) -> u32 {
        let info = &self.inodes[&ino];
        if info.inode.mode & mode::S_IFMT != mode::S_IFDIR {
            return info.entries;
        }
        // The entry in the parent (for the root: its own ".."), ".", and
        // each subdirectory's "..". The root's ".." names itself, so it
        // is already among `subdirs`.
        if ino == ROOT_INO {
            1 + info.subdirs
        } else {
            info.entries + 1 + info.subdirs
        }
    }

    fn pass4(&mut self) -> Result<()> {
        let inos: Vec<u32> = self.inodes.keys().copied().collect();
        // First make every directory's ".." name its parent, which moves
        // subdirectory counts, then check all link counts.
        for &ino in &inos {
            let info = &self.inodes[&ino];
            if info.inode.mode & mode::S_IFMT != mode::S_IFDIR || ino == ROOT_INO {
                continue;
            }
            let Some(p) = info.parent else { continue };
            let dd = self.dotdot_of(&info.inode)?;
            if dd != Some(p)
                && self.problem(
                    format!("directory {ino}: '..' does not point to its parent {p}"),
                    true,
                )
            {
                self.set_dotdot(ino, p)?;
            }
        }
        for ino in inos {
            let want = self.wanted_links(ino);
            let info = &self.inodes[&ino];
            let (mut inode, mut copy) = (info.inode, info.copy);
            if inode.links != want
                && self.problem(
                    format!("inode {ino}: link count {} should be {want}", inode.links),
                    true,
                )
            {
                inode.links = want;
                self.write_inode(ino, &mut inode, &mut copy)?;
                let info = self
                    .inodes
                    .get_mut(&ino)
                    .ok_or(FsckError::VanishedInode { ino })?;
                info.inode = inode;
                info.copy = copy;
            }
        }
        Ok(())
    }

    fn dotdot_of(&self, dir: &Inode) -> Result<Option<u32>> {
        let blk = self.fs.map(dir, 0)?;
        if blk == 0 {
            return Ok(None);
        }
        let b = self.fs.dev.read_block(blk)?;
        Ok(match Dirent::decode(&b, 0) {
            DirSlot::Entry(e) => Some(e.ino),
            _ => None,
        })
    }

    fn pass5(&mut self) -> Result<()> {
        let geo = self.fs.geo;
        let (mut free_b, mut free_i) = (0u64, 0u64);
        for g in 0..geo.group_count {
            let start = geo.group_start(g);
            let gblocks = geo.group_blocks(g);
            let mut want_b = vec![0u8; BS];
            let mut used_b = 0u64;
            for bit in 0..BLOCKS_PER_GROUP {
                let b = start + u64::from(bit);
                let used = u64::from(bit) < geo.meta_blocks()
                    || u64::from(bit) >= gblocks
                    || self.claimed(b);
                if used {
                    set_bit(&mut want_b, bit, true);
                    if u64::from(bit) < gblocks {
                        used_b += 1;
                    }
                }
            }
            let have_b = self.fs.dev.read_block(geo.block_bitmap(g))?;
            let (mut leaked, mut missing) = (0, 0);
            for bit in 0..BLOCKS_PER_GROUP {
                match (test_bit(&have_b, bit), test_bit(&want_b, bit)) {
                    (true, false) => leaked += 1,
                    (false, true) => missing += 1,
                    _ => {}
                }
            }
            if (leaked > 0 || missing > 0)
                && self.problem(
                    format!(
                        "group {g}: block bitmap has {leaked} leaked and {missing} unmarked blocks"
                    ),
                    true,
                )
            {
                self.fs.dev.write_blocks(geo.block_bitmap(g), &want_b)?;
            }
            let mut want_i = vec![0u8; BS];
            let mut used_i = 0u32;
            let mut dirs = 0u32;
            for bit in 0..BLOCKS_PER_GROUP {
                if bit >= geo.inodes_per_group {
                    // Padding beyond the group's inodes: always set. The
                    // number `g * inodes_per_group + bit + 1` would be an
                    // inode of a later group, not one of this group's.
                    set_bit(&mut want_i, bit, true);
                    continue;
                }
                let ino = g * geo.inodes_per_group + bit + 1;
                if ino < FIRST_INO || self.inodes.contains_key(&ino) {
                    set_bit(&mut want_i, bit, true);
                    used_i += 1;
                }
                if let Some(i) = self.inodes.get(&ino) {
                    if i.inode.mode & mode::S_IFMT == mode::S_IFDIR {
                        dirs += 1;
                    }
                }
            }
            let have_i = self.fs.dev.read_block(geo.inode_bitmap(g))?;
            if have_i != want_i
                && self.problem(format!("group {g}: inode bitmap differences"), true)
            {
                self.fs.dev.write_blocks(geo.inode_bitmap(g), &want_i)?;
            }
            let want_gd = GroupDesc {
                free_blocks: (gblocks - used_b) as u32,
                free_inodes: geo.inodes_per_group - used_i,
                used_dirs: dirs,
                flags: 0,
            };
            free_b += u64::from(want_gd.free_blocks);
            free_i += u64::from(want_gd.free_inodes);
            let gd_ok = matches!(self.fs.group_desc(g)?, Ok(gd) if gd == want_gd);
            if !gd_ok && self.problem(format!("group {g}: descriptor counters are wrong"), true) {
                let (blk, off) = GroupDesc::location(g);
                let mut b = self.fs.dev.read_block(blk)?;
                let mut d = [0u8; GROUP_DESC_SIZE];
                want_gd.encode(&mut d, g);
                b[off..off + GROUP_DESC_SIZE].copy_from_slice(&d);
                self.fs.dev.write_blocks(blk, &b)?;
            }
        }
        if (self.sb.free_blocks != free_b || self.sb.free_inodes != free_i)
            && self.problem("superblock free counts are wrong".into(), true)
        {
            self.sb.free_blocks = free_b;
            self.sb.free_inodes = free_i;
            self.sb_dirty = true;
        }
        if self.sb.state & state::DIRTY != 0
            && self.problem("filesystem was not cleanly unmounted".into(), true)
        {
            self.sb.state &= !state::DIRTY;
            self.sb_dirty = true;
        }
        if self.sb_dirty {
            let sb = self.sb;
            self.write_sb(&sb)?;
        }
        self.report.used_inodes = geo.inodes_count() - free_i;
        self.report.used_blocks = geo.blocks_count - free_b;
        Ok(())
    }
}

/// Checks (and with `repair`, repairs) the filesystem.
pub fn check(fs: &Fs, repair: bool) -> std::result::Result<Report, FsckError> {
    let words = fs.geo.blocks_count.div_ceil(64) as usize;
    let mut c = Checker {
        fs,
        sb: fs.sb,
        sb_dirty: false,
        repair,
        report: Report::default(),
        inodes: BTreeMap::new(),
        claimed: vec![0; words],
        index_slot: None,
        index_error: None,
        xattrs: None,
    };
    // Blocks before the first group (superblock, descriptors) are not in
    // any bitmap; no pointer may name them (Geometry::is_data_block).
    c.pass1()?;
    c.clear_unreadable_dirs()?;
    c.pass2()?;
    c.pass3()?;
    c.pass4()?;
    c.check_xattr_refcounts()?;
    c.pass5()?;
    Ok(c.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_as_before() {
        let cases = [
            (
                FsckError::Disk(DiskError::DirectoryHole { lblk: 0 }),
                "directory block 0 is a hole",
            ),
            (FsckError::BadInodeNumber { ino: 0 }, "bad inode number"),
            (
                FsckError::NoFreeBlock { ino: 1 },
                "no free block to recreate a directory",
            ),
            (
                FsckError::NoReconnectDir { dir: 11 },
                "no directory to reconnect to",
            ),
            (
                FsckError::DirectoryFull {
                    dir: 11,
                    name: "#12".into(),
                },
                "directory 11 has no room for '#12'",
            ),
            (FsckError::NoDir { dir: 5 }, "no dir"),
            (FsckError::VanishedInode { ino: 5 }, "vanished inode"),
            (
                FsckError::CorruptSlotVanished { dir: 5, lblk: 0 },
                "corrupt slot vanished",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn a_device_error_keeps_its_source() {
        use std::error::Error as _;
        let e = FsckError::from(DiskError::Write {
            path: "img".into(),
            block: 3,
            source: std::io::Error::from_raw_os_error(28),
        });
        assert_eq!(
            e.to_string(),
            "img: write block 3: No space left on device (os error 28)"
        );
        let source = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(source.and_then(std::io::Error::raw_os_error), Some(28));
    }
}
