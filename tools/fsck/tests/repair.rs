// SPDX-License-Identifier: GPL-2.0
//! fsck.r2dax against images made by mkfs.r2dax, built up with a small
//! host-side writer and then damaged one way at a time. Every repair must
//! leave a filesystem that a second check finds clean.

use r2dax_disk::{Fs, BS};
use r2dax_format::{
    dirent, feature, mode, set_bit, test_bit, xattr, xattr_set_refcount, DirSlot, Dirent,
    GroupDesc, Inode, Slot, XattrBlock, BLOCK_SIZE, FIRST_INO, GROUP_DESC_SIZE, INODE_SIZE,
    LOST_FOUND_INO, MAP_FANOUT, PTR_UNWRITTEN, ROOT_INO, SUPERBLOCK_SIZE, XATTR_INDEX_INO,
};
use r2dax_fsck::check;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

static N: AtomicU32 = AtomicU32::new(0);

struct Img(PathBuf);

impl Drop for Img {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Img {
    fn new(bytes: u64, extra: &[&str]) -> Img {
        let path = std::env::temp_dir().join(format!(
            "r2dax-fsck-{}-{}.img",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::File::create(&path)
            .unwrap()
            .set_len(bytes)
            .unwrap();
        let mut argv: Vec<String> = vec!["-q".into()];
        argv.extend(extra.iter().map(|s| s.to_string()));
        argv.push(path.to_str().unwrap().into());
        match r2dax_mkfs::parse_args(argv).unwrap() {
            r2dax_mkfs::Cli::Run(a) => r2dax_mkfs::run(&a).unwrap(),
            _ => unreachable!(),
        }
        Img(path)
    }

    fn p(&self) -> &str {
        self.0.to_str().unwrap()
    }

    fn fs(&self, write: bool) -> Fs {
        Fs::open(self.p(), write).unwrap()
    }

    /// Runs a check; returns (exit code, report lines).
    fn check(&self, repair: bool) -> (u8, Vec<String>) {
        let fs = self.fs(repair);
        let r = check(&fs, repair).unwrap();
        (r.exit_code(), r.lines)
    }

    /// -n finds problems, -y fixes all of them, -n is then clean.
    fn expect_repaired(&self, needle: &str) {
        let (code, lines) = self.check(false);
        assert_eq!(code, 4, "check-only should leave errors: {lines:?}");
        assert!(
            lines.iter().any(|l| l.contains(needle)),
            "'{needle}' not in {lines:?}"
        );
        let (code, lines) = self.check(true);
        assert_eq!(code, 1, "repair should fix everything: {lines:?}");
        let (code, lines) = self.check(false);
        assert_eq!(code, 0, "not clean after repair: {lines:?}");
    }
}

fn rw_block(fs: &Fs, blk: u64, f: impl FnOnce(&mut Vec<u8>)) {
    let mut b = fs.dev.read_block(blk).unwrap();
    f(&mut b);
    fs.dev.write_blocks(blk, &b).unwrap();
}

fn write_inode(fs: &Fs, ino: u32, inode: &Inode) {
    let (blk, off) = fs.geo.inode_location(ino).unwrap();
    rw_block(fs, blk, |b| {
        let mut slot = [0u8; INODE_SIZE];
        slot.copy_from_slice(&b[off..off + INODE_SIZE]);
        let copy = match Inode::decode_slot(&slot, ino) {
            Ok(Slot::Used { copy, .. }) => copy ^ 1,
            _ => 0,
        };
        inode.encode_copy(&mut slot, copy, ino);
        b[off..off + INODE_SIZE].copy_from_slice(&slot);
    });
}

/// Writes superblock `sb` over the image's.
fn write_sb(fs: &Fs, sb: &r2dax_format::Superblock) {
    rw_block(fs, 0, |b| {
        let mut s = [0u8; SUPERBLOCK_SIZE];
        sb.encode(&mut s);
        b[..SUPERBLOCK_SIZE].copy_from_slice(&s);
    });
}

fn read_inode(fs: &Fs, ino: u32) -> Inode {
    match fs.inode(ino).unwrap() {
        Slot::Used { inode, .. } => inode,
        Slot::Free => panic!("inode {ino} is free"),
    }
}

/// Adjusts group 0's counters and the superblock's by the given deltas.
fn count(fs: &Fs, blocks: i64, inodes: i64, dirs: i64) {
    let (blk, off) = GroupDesc::location(0);
    rw_block(fs, blk, |b| {
        let mut d = [0u8; GROUP_DESC_SIZE];
        d.copy_from_slice(&b[off..off + GROUP_DESC_SIZE]);
        let mut gd = GroupDesc::decode(&d, 0, &fs.geo).unwrap();
        gd.free_blocks = (i64::from(gd.free_blocks) - blocks) as u32;
        gd.free_inodes = (i64::from(gd.free_inodes) - inodes) as u32;
        gd.used_dirs = (i64::from(gd.used_dirs) + dirs) as u32;
        gd.encode(&mut d, 0);
        b[off..off + GROUP_DESC_SIZE].copy_from_slice(&d);
    });
    let mut sb = r2dax_format::Superblock::decode(&fs.dev.read_block(0).unwrap()).unwrap();
    sb.free_blocks = (sb.free_blocks as i64 - blocks) as u64;
    sb.free_inodes = (sb.free_inodes as i64 - inodes) as u64;
    write_sb(fs, &sb);
}

/// Allocates the first free block of group 0.
fn alloc_block(fs: &Fs) -> u64 {
    let bbm = fs.geo.block_bitmap(0);
    let mut found = 0;
    rw_block(fs, bbm, |b| {
        let bit = (0..32768).find(|&i| !test_bit(b, i)).unwrap();
        set_bit(b, bit, true);
        found = fs.geo.group_start(0) + u64::from(bit);
    });
    rw_block(fs, found, |b| b.fill(0));
    count(fs, 1, 0, 0);
    found
}

fn alloc_inode(fs: &Fs) -> u32 {
    let ibm = fs.geo.inode_bitmap(0);
    let mut ino = 0;
    rw_block(fs, ibm, |b| {
        let bit = (FIRST_INO - 1..32768).find(|&i| !test_bit(b, i)).unwrap();
        set_bit(b, bit, true);
        ino = bit + 1;
    });
    count(fs, 0, 1, 0);
    ino
}

/// Adds `name` -> `ino` to directory `dir` (first block, first free run).
fn link(fs: &Fs, dir: u32, name: &[u8], ino: u32, dtype: u8) {
    let d = read_inode(fs, dir);
    let blk = fs.map(&d, 0).unwrap();
    let need = dirent::slots_for(name.len());
    rw_block(fs, blk, |b| {
        let mut slot = 0;
        let mut run = 0;
        while slot < dirent::SLOTS_PER_BLOCK {
            if let DirSlot::Entry(e) = Dirent::decode(b, slot) {
                slot += e.nslots;
                run = 0;
                continue;
            }
            run += 1;
            slot += 1;
            if run == need {
                Dirent::encode(b, slot - need, ino, dtype, name);
                return;
            }
        }
        panic!("directory full");
    });
}

/// Creates a regular file of `nblocks` blocks filled with `fill`, with
/// a map of height 0 (<= 5 blocks) or 1.
fn add_file(fs: &Fs, dir: u32, name: &[u8], nblocks: u64, fill: u8) -> u32 {
    let ino = alloc_inode(fs);
    let mut inode = Inode {
        mode: mode::S_IFREG | 0o644,
        links: 1,
        size: nblocks * u64::from(BLOCK_SIZE),
        seq: 1,
        ..Inode::default()
    };
    let data: Vec<u64> = (0..nblocks).map(|_| alloc_block(fs)).collect();
    for &d in &data {
        rw_block(fs, d, |b| b.fill(fill));
    }
    if nblocks <= 5 {
        inode.roots[..data.len()].copy_from_slice(&data);
        inode.blocks = nblocks;
    } else {
        assert!(nblocks <= MAP_FANOUT);
        let leaf = alloc_block(fs);
        rw_block(fs, leaf, |b| {
            for (i, d) in data.iter().enumerate() {
                b[i * 8..i * 8 + 8].copy_from_slice(&d.to_le_bytes());
            }
        });
        inode.height = 1;
        inode.roots[0] = leaf;
        inode.blocks = nblocks + 1;
    }
    write_inode(fs, ino, &inode);
    link(fs, dir, name, ino, dirent::DT_REG);
    ino
}

/// Creates an empty subdirectory of `dir`.
fn add_dir(fs: &Fs, dir: u32, name: &[u8]) -> u32 {
    let ino = alloc_inode(fs);
    let blk = alloc_block(fs);
    rw_block(fs, blk, |b| {
        b.fill(0);
        Dirent::encode(b, 0, dir, dirent::DT_DIR, b"..");
    });
    let inode = Inode {
        mode: mode::S_IFDIR | 0o755,
        links: 2,
        size: u64::from(BLOCK_SIZE),
        blocks: 1,
        roots: [blk, 0, 0, 0, 0],
        seq: 1,
        ..Inode::default()
    };
    write_inode(fs, ino, &inode);
    link(fs, dir, name, ino, dirent::DT_DIR);
    let mut parent = read_inode(fs, dir);
    parent.links += 1;
    parent.seq += 1;
    write_inode(fs, dir, &parent);
    count(fs, 0, 0, 1);
    ino
}

/// An image with a small tree: /a (3 blocks), /d/, /d/big (40 blocks).
fn populated() -> (Img, u32, u32, u32) {
    let img = Img::new(64 << 20, &[]);
    let fs = img.fs(true);
    let a = add_file(&fs, ROOT_INO, b"a", 3, 0xaa);
    let d = add_dir(&fs, ROOT_INO, b"d");
    let big = add_file(&fs, d, b"big", 40, 0xbb);
    (img, a, d, big)
}

#[test]
fn fresh_filesystems_are_clean() {
    for (size, extra) in [
        (16u64 << 20, &[][..]),
        (64 << 20, &["-N", "100"][..]),
        // 300 MiB: a short last group.
        (300 << 20, &[][..]),
        // A last group too small for its metadata is dropped by mkfs.
        ((512 + 32768 + 300) * 4096, &[][..]),
    ] {
        let img = Img::new(size, extra);
        assert_eq!(img.check(false), (0, vec![]), "{size} {extra:?}");
    }
}

#[test]
fn populated_image_is_clean() {
    let (img, a, d, big) = populated();
    assert_eq!(img.check(false), (0, vec![]));
    let fs = img.fs(false);
    let big_i = read_inode(&fs, big);
    assert_ne!(fs.map(&big_i, 39).unwrap(), 0);
    assert_eq!(fs.map(&big_i, 40).unwrap(), 0);
    assert!(a >= FIRST_INO && d > a);
}

#[test]
fn leaked_block_is_freed() {
    let (img, ..) = populated();
    let fs = img.fs(true);
    alloc_block(&fs); // marked in use, owned by nobody
    drop(fs);
    img.expect_repaired("1 leaked");
}

#[test]
fn unmarked_block_is_marked() {
    let (img, a, ..) = populated();
    let fs = img.fs(true);
    let blk = read_inode(&fs, a).roots[1];
    let (g, bit) = fs.geo.block_group(blk).unwrap();
    rw_block(&fs, fs.geo.block_bitmap(g), |b| set_bit(b, bit, false));
    count(&fs, -1, 0, 0);
    drop(fs);
    img.expect_repaired("1 unmarked");
}

#[test]
fn wrong_link_count_is_fixed() {
    let (img, a, d, _) = populated();
    let fs = img.fs(true);
    for (ino, links) in [(a, 7), (d, 1), (ROOT_INO, 9)] {
        let mut i = read_inode(&fs, ino);
        i.links = links;
        i.seq += 1;
        write_inode(&fs, ino, &i);
    }
    drop(fs);
    img.expect_repaired("link count 7 should be 1");
    let fs = img.fs(false);
    assert_eq!(read_inode(&fs, ROOT_INO).links, 4); // ., .., lost+found/.., d/..
    assert_eq!(read_inode(&fs, d).links, 2);
}

#[test]
fn unattached_inode_goes_to_lost_found() {
    let (img, _, d, big) = populated();
    let fs = img.fs(true);
    // Remove /d/big's entry: its inode stays allocated with no name.
    let di = read_inode(&fs, d);
    let blk = fs.map(&di, 0).unwrap();
    rw_block(&fs, blk, |b| Dirent::clear(b, 1, 1));
    drop(fs);
    img.expect_repaired(&format!("inode {big} is not attached"));
    let fs = img.fs(false);
    let lf = read_inode(&fs, LOST_FOUND_INO);
    let names: Vec<Vec<u8>> = fs
        .dir_entries(&lf)
        .unwrap()
        .into_iter()
        .map(|e| e.2)
        .collect();
    assert!(names.contains(&format!("#{big}").into_bytes()), "{names:?}");
}

#[test]
fn corrupt_entry_is_cleared_and_its_inode_reconnected() {
    let (img, a, ..) = populated();
    let fs = img.fs(true);
    let root = read_inode(&fs, ROOT_INO);
    let blk = fs.map(&root, 0).unwrap();
    // Entry "a" is the first after ".." and "lost+found" (1 slot each).
    rw_block(&fs, blk, |b| b[2 * 32 + 12] ^= 0x20);
    drop(fs);
    img.expect_repaired("corrupt entry");
    let (_, lines) = img.check(false);
    assert!(lines.is_empty());
    let fs = img.fs(false);
    let lf = read_inode(&fs, LOST_FOUND_INO);
    assert!(fs
        .dir_entries(&lf)
        .unwrap()
        .iter()
        .any(|e| e.2 == format!("#{a}").into_bytes()));
}

#[test]
fn lost_found_is_relinked_to_the_root() {
    let (img, ..) = populated();
    let fs = img.fs(true);
    let root = read_inode(&fs, ROOT_INO);
    let blk = fs.map(&root, 0).unwrap();
    rw_block(&fs, blk, |b| Dirent::clear(b, 1, 1));
    drop(fs);
    img.expect_repaired("lost+found is not attached");
}

#[test]
fn orphan_list_naming_a_linked_file_is_cleared() {
    let (img, ..) = populated();
    let fs = img.fs(true);
    let ino = fs.locate("/d/big").unwrap();
    let mut sb = fs.sb;
    sb.orphan_head = ino;
    write_sb(&fs, &sb);
    drop(fs);
    img.expect_repaired("orphan list names linked inode");
    let fs = img.fs(false);
    assert_eq!(fs.sb.orphan_head, 0);
    assert_eq!(fs.locate("/d/big").unwrap(), ino);
    assert!(matches!(fs.inode(ino).unwrap(), Slot::Used { .. }));
}

#[test]
fn orphans_are_freed() {
    let (img, ..) = populated();
    let fs = img.fs(true);
    // An unlinked-but-open file at the time of a crash: no entry, no
    // links, on the orphan list, still owning its blocks.
    let ino = alloc_inode(&fs);
    let blk = alloc_block(&fs);
    let inode = Inode {
        mode: mode::S_IFREG | 0o600,
        links: 0,
        size: 4096,
        blocks: 1,
        roots: [blk, 0, 0, 0, 0],
        seq: 1,
        ..Inode::default()
    };
    write_inode(&fs, ino, &inode);
    let mut sb = fs.sb;
    sb.orphan_head = ino;
    sb.free_blocks -= 1;
    sb.free_inodes -= 1;
    write_sb(&fs, &sb);
    drop(fs);
    img.expect_repaired("unlinked while open");
    let fs = img.fs(false);
    assert_eq!(fs.inode(ino).unwrap(), Slot::Free);
    assert_eq!(fs.sb.orphan_head, 0);
}

#[test]
fn bad_and_shared_pointers_are_dropped() {
    let (img, a, _, big) = populated();
    let fs = img.fs(true);
    let shared = read_inode(&fs, a).roots[0];
    let mut bi = read_inode(&fs, big);
    let leaf = bi.roots[0];
    rw_block(&fs, leaf, |b| {
        b[0..8].copy_from_slice(&shared.to_le_bytes()); // also /a's
        b[8..16].copy_from_slice(&3u64.to_le_bytes()); // group descriptor area
    });
    bi.seq += 1;
    write_inode(&fs, big, &bi);
    drop(fs);
    img.expect_repaired("already in use");
    let (_, lines) = img.check(false);
    assert!(lines.is_empty());
}

#[test]
fn torn_newer_copy_falls_back_to_the_older() {
    let (img, a, ..) = populated();
    let fs = img.fs(true);
    let mut i = read_inode(&fs, a);
    i.mtime = 12345;
    i.seq += 1;
    write_inode(&fs, a, &i); // goes to the other copy
    let (blk, off) = fs.geo.inode_location(a).unwrap();
    // Tear it: only its first bytes reached the media.
    let newer = match Inode::decode_slot(&fs.inode_slot(a).unwrap(), a).unwrap() {
        Slot::Used { copy, .. } => copy,
        Slot::Free => unreachable!(),
    };
    rw_block(&fs, blk, |b| {
        b[off + newer * 128 + 40..off + newer * 128 + 128].fill(0)
    });
    let back = read_inode(&fs, a);
    assert_ne!(back.mtime, 12345);
    drop(fs);
    assert_eq!(img.check(false).0, 0);
}

#[test]
fn unreadable_inode_is_cleared_with_its_entry() {
    let (img, a, ..) = populated();
    let fs = img.fs(true);
    let (blk, off) = fs.geo.inode_location(a).unwrap();
    rw_block(&fs, blk, |b| {
        b[off + 5] ^= 1;
        b[off + 128 + 5] ^= 1;
    });
    drop(fs);
    img.expect_repaired("no copy of the inode has a valid checksum");
}

/// Property test: random damage to metadata blocks never makes fsck fail
/// or panic, and after `-y` a second check is clean (repair converges).
#[test]
fn random_damage_repairs_to_clean() {
    let mut seed = 0xdead_beef_1234_5678u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..100 {
        let (img, a, d, big) = populated();
        let fs = img.fs(true);
        let root = read_inode(&fs, ROOT_INO);
        let di = read_inode(&fs, d);
        let targets = [
            fs.geo.block_bitmap(0),
            fs.geo.inode_bitmap(0),
            fs.geo.inode_location(a).unwrap().0,
            fs.geo.inode_location(big).unwrap().0,
            fs.map(&root, 0).unwrap(),
            fs.map(&di, 0).unwrap(),
            read_inode(&fs, big).roots[0],
            1,
        ];
        let blk = targets[(next() % targets.len() as u64) as usize];
        rw_block(&fs, blk, |b| {
            for _ in 0..(1 + next() % 8) {
                let i = (next() % BS as u64) as usize;
                b[i] = next() as u8;
            }
        });
        drop(fs);
        let fs = img.fs(true);
        let r = check(&fs, true).unwrap_or_else(|e| panic!("round {round}: {e}"));
        drop(fs);
        let (code, lines) = img.check(false);
        assert_eq!(
            code, 0,
            "round {round}, block {blk}: not clean after repair {:?}: {lines:?}",
            r.lines
        );
    }
}

/// Marks data pointers unwritten: root 1 of `a` (height 0) and pointer 5
/// of `big`'s leaf.
fn mark_unwritten(fs: &Fs, a: u32, big: u32) {
    let mut ai = read_inode(fs, a);
    ai.roots[1] |= PTR_UNWRITTEN;
    ai.seq += 1;
    write_inode(fs, a, &ai);
    let leaf = read_inode(fs, big).roots[0];
    rw_block(fs, leaf, |b| b[5 * 8 + 7] |= 0x80);
}

#[test]
fn unwritten_pointers_are_clean() {
    let (img, a, _, big) = populated();
    let fs = img.fs(true);
    assert_ne!(fs.sb.feature_incompat & feature::INCOMPAT_UNWRITTEN, 0);
    let before = (
        read_inode(&fs, a).roots[1],
        fs.map(&read_inode(&fs, big), 5).unwrap(),
    );
    mark_unwritten(&fs, a, big);
    drop(fs);
    assert_eq!(img.check(false), (0, vec![]));
    let fs = img.fs(false);
    assert_eq!(
        fs.map_state(&read_inode(&fs, a), 1).unwrap(),
        (before.0, true)
    );
    assert_eq!(
        fs.map_state(&read_inode(&fs, big), 5).unwrap(),
        (before.1, true)
    );
    assert!(!fs.map_state(&read_inode(&fs, big), 4).unwrap().1);
}

#[test]
fn unwritten_without_the_feature_is_cleared() {
    let (img, a, _, big) = populated();
    let fs = img.fs(true);
    mark_unwritten(&fs, a, big);
    let mut sb = fs.sb;
    sb.feature_incompat &= !feature::INCOMPAT_UNWRITTEN;
    write_sb(&fs, &sb);
    drop(fs);
    img.expect_repaired("marked unwritten, but the filesystem lacks the unwritten feature");
    let fs = img.fs(false);
    assert!(!fs.map_state(&read_inode(&fs, a), 1).unwrap().1);
    assert!(!fs.map_state(&read_inode(&fs, big), 5).unwrap().1);
}

/// An image made by `mkfs -d` whose files carry attributes: `a` has its
/// own set, `b` and `c` share one. Returns the image and the three inodes.
fn with_xattrs() -> (Img, u32, u32, u32) {
    let src = std::env::temp_dir().join(format!(
        "r2dax-fsck-x-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&src).unwrap();
    for (f, attrs) in [
        ("a", &[("user.mine", &b"only a"[..])][..]),
        ("b", &[("user.same", b"x"), ("trusted.same", b"y")]),
        ("c", &[("user.same", b"x"), ("trusted.same", b"y")]),
    ] {
        std::fs::write(src.join(f), f).unwrap();
        for (n, v) in attrs {
            r2dax_sys::lsetxattr(src.join(f), n.as_bytes(), v, 0).unwrap();
        }
    }
    let img = Img::new(64 << 20, &["-d", src.to_str().unwrap()]);
    std::fs::remove_dir_all(&src).unwrap();
    let fs = img.fs(false);
    let [a, b, c] = ["a", "b", "c"].map(|f| fs.locate(f).unwrap());
    drop(fs);
    (img, a, b, c)
}

/// Stores `val` in inode `ino`'s attribute index entry.
fn set_index_entry(fs: &Fs, ino: u32, val: u64) {
    let index = read_inode(fs, XATTR_INDEX_INO);
    let (lblk, off) = xattr::index_pos(ino);
    let p = fs.map(&index, lblk).unwrap();
    assert_ne!(p, 0);
    rw_block(fs, p, |b| {
        b[off..off + 8].copy_from_slice(&val.to_le_bytes())
    });
}

fn refcount(fs: &Fs, blk: u64) -> u64 {
    XattrBlock::decode(&fs.dev.read_block(blk).unwrap(), blk)
        .unwrap()
        .refcount
}

#[test]
fn attributes_check_clean() {
    let (img, a, b, c) = with_xattrs();
    assert_eq!(img.check(false), (0, vec![]));
    let fs = img.fs(false);
    let (ab, av) = fs.xattrs(a).unwrap();
    assert_eq!(av, vec![(b"user.mine".to_vec(), b"only a".to_vec())]);
    let (bb, _) = fs.xattrs(b).unwrap();
    assert_eq!(fs.xattrs(c).unwrap().0, bb);
    assert_ne!(ab, bb);
    assert_eq!((refcount(&fs, ab), refcount(&fs, bb)), (1, 2));
}

#[test]
fn corrupt_attribute_block_is_dropped() {
    let (img, a, b, _) = with_xattrs();
    let fs = img.fs(true);
    let ab = fs.xattr_block(a).unwrap();
    rw_block(&fs, ab, |b| b[40] ^= 1);
    drop(fs);
    img.expect_repaired("is corrupt: attribute block checksum mismatch; dropping its attributes");
    let fs = img.fs(false);
    assert_eq!(fs.xattrs(a).unwrap(), (0, vec![]));
    assert_eq!(fs.xattrs(b).unwrap().1.len(), 2);
}

#[test]
fn attribute_entry_of_a_free_inode_is_cleared() {
    let (img, _, b, _) = with_xattrs();
    let fs = img.fs(true);
    let bb = fs.xattr_block(b).unwrap();
    // A free inode and a reserved one name b's shared block.
    set_index_entry(&fs, 300, bb);
    set_index_entry(&fs, 5, bb);
    drop(fs);
    img.expect_repaired("for unused inode 300; clearing the entry");
    let fs = img.fs(false);
    assert_eq!(fs.xattr_block(300).unwrap(), 0);
    assert_eq!(fs.xattr_block(5).unwrap(), 0);
    assert_eq!(refcount(&fs, bb), 2);
}

#[test]
fn attribute_block_owned_by_a_file_is_dropped() {
    let (img, a, b, _) = with_xattrs();
    let fs = img.fs(true);
    let data = read_inode(&fs, b).roots[0];
    set_index_entry(&fs, a, data);
    drop(fs);
    // a's own block is now leaked as well.
    img.expect_repaired("is already in use by another owner; dropping its attributes");
    let fs = img.fs(false);
    assert_eq!(fs.xattr_block(a).unwrap(), 0);
    assert_eq!(fs.dev.read_block(data).unwrap()[0], b'b');
}

#[test]
fn attribute_reference_counts_are_fixed() {
    for (set, msg) in [
        (5, "reference count 5 is higher than its 2 references"),
        (1, "reference count 1 is lower than its 2 references"),
    ] {
        let (img, _, b, _) = with_xattrs();
        let fs = img.fs(true);
        let bb = fs.xattr_block(b).unwrap();
        rw_block(&fs, bb, |blk| xattr_set_refcount(blk, set));
        drop(fs);
        img.expect_repaired(msg);
        assert_eq!(refcount(&img.fs(false), bb), 2);
    }
}

#[test]
fn a_freed_inode_drops_its_attributes() {
    let (img, a, b, c) = with_xattrs();
    let fs = img.fs(true);
    let (ab, bb) = (fs.xattr_block(a).unwrap(), fs.xattr_block(b).unwrap());
    // a and c lose their names and links, as after a crash in unlink.
    for (ino, name) in [(a, &b"a"[..]), (c, b"c")] {
        let root = read_inode(&fs, ROOT_INO);
        for (lblk, slot, n) in fs.dir_entries(&root).unwrap() {
            if let DirSlot::Entry(e) = slot {
                if n == name {
                    let p = fs.map(&root, lblk).unwrap();
                    rw_block(&fs, p, |blk| Dirent::clear(blk, e.slot, e.nslots));
                }
            }
        }
        let mut i = read_inode(&fs, ino);
        i.links = 0;
        i.seq += 1;
        write_inode(&fs, ino, &i);
    }
    drop(fs);
    img.expect_repaired("no links and no name; freeing it");
    let fs = img.fs(false);
    assert_eq!(fs.xattr_block(a).unwrap(), 0);
    assert_eq!(fs.xattr_block(c).unwrap(), 0);
    // a's block is free again (the second check found no leak), b keeps
    // the shared one with one reference.
    let (g, bit) = fs.geo.block_group(ab).unwrap();
    assert!(!test_bit(
        &fs.dev.read_block(fs.geo.block_bitmap(g)).unwrap(),
        bit
    ));
    assert_eq!(fs.xattr_block(b).unwrap(), bb);
    assert_eq!(refcount(&fs, bb), 1);
}

#[test]
fn a_lost_attribute_index_is_recreated() {
    let (img, a, ..) = with_xattrs();
    let fs = img.fs(true);
    let (blk, off) = fs.geo.inode_location(XATTR_INDEX_INO).unwrap();
    rw_block(&fs, blk, |b| b[off + 3] ^= 0x40);
    drop(fs);
    img.expect_repaired("attribute index (inode 3): no copy of the inode has a valid checksum");
    let fs = img.fs(false);
    assert_eq!(fs.xattrs(a).unwrap(), (0, vec![]));
}
