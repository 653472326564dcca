// SPDX-License-Identifier: GPL-2.0
//! mkfs.r2dax -d: a copied tree checks clean and reads back byte for byte
//! through the user-space reader (the same map and directory code paths
//! the kernel implements).

use r2dax_disk::{Fs, BS};
use r2dax_format::{iflags2, mode, Inode, Slot, PMD_BLOCKS};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("r2dax-pop-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&p);
    let _ = fs::remove_file(&p);
    p
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn read_file(fs: &Fs, inode: &Inode) -> Vec<u8> {
    let mut out = Vec::new();
    let nblocks = inode.size.div_ceil(BS as u64);
    for lblk in 0..nblocks {
        let p = fs.map(inode, lblk).unwrap();
        if p == 0 {
            out.extend(std::iter::repeat(0).take(BS));
        } else {
            out.extend(fs.dev.read_block(p).unwrap());
        }
    }
    out.truncate(inode.size as usize);
    out
}

/// Runs mkfs.r2dax with `args` (as its command line, without the name).
fn mkfs(args: &[&str]) {
    let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    match r2dax_mkfs::parse_args(argv).unwrap() {
        r2dax_mkfs::Cli::Run(a) => r2dax_mkfs::run(&a).unwrap(),
        _ => unreachable!(),
    }
}

/// `mkfs.r2dax -d SRC` onto a new image `name` of `mib` MiB, opened and
/// checked clean.
fn copy_in(src: &std::path::Path, name: &str, mib: u64) -> (PathBuf, Fs) {
    let img = tmp(name);
    fs::File::create(&img).unwrap().set_len(mib << 20).unwrap();
    mkfs(&["-q", "-d", src.to_str().unwrap(), img.to_str().unwrap()]);
    let fs = Fs::open(img.to_str().unwrap(), false).unwrap();
    let report = r2dax_fsck::check(&fs, false).unwrap();
    assert_eq!(report.exit_code(), 0, "{:?}", report.lines);
    (img, fs)
}

fn lookup(fs: &Fs, path: &str) -> (u32, Inode) {
    let ino = fs.locate(path).unwrap();
    match fs.inode(ino).unwrap() {
        Slot::Used { inode, .. } => (ino, inode),
        Slot::Free => panic!("{path}: free inode"),
    }
}

#[test]
fn copied_tree_reads_back() {
    let src = tmp("src");
    fs::create_dir_all(src.join("d/e")).unwrap();
    let small = pattern(5000, 1);
    let big = pattern(5 * 1024 * 1024 + 123, 2);
    let mut sparse = vec![0u8; 3 * 1024 * 1024];
    sparse[100..200].copy_from_slice(&pattern(100, 3));
    sparse[2 * 1024 * 1024 + 7] = 9;
    fs::write(src.join("small"), &small).unwrap();
    fs::write(src.join("d/big"), &big).unwrap();
    fs::write(src.join("d/e/sparse"), &sparse).unwrap();
    fs::write(src.join("empty"), b"").unwrap();
    fs::hard_link(src.join("small"), src.join("d/small-link")).unwrap();
    symlink("small", src.join("short-link")).unwrap();
    let long_target = "x/".repeat(100);
    symlink(&long_target, src.join("long-link")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(src.join("fifo"))
        .status()
        .unwrap();
    assert!(status.success());
    // A directory with more entries than one block holds, and long names.
    fs::create_dir(src.join("many")).unwrap();
    for i in 0..300 {
        fs::write(src.join("many").join(format!("{i:0>40}")), format!("{i}")).unwrap();
    }

    let (img, fs) = copy_in(&src, "img", 256);

    assert_eq!(read_file(&fs, &lookup(&fs, "small").1), small);
    let (big_ino, big_i) = lookup(&fs, "d/big");
    assert_eq!(read_file(&fs, &big_i), big);
    // The first 2 MiB of the big file is one aligned device run.
    let first = fs.map(&big_i, 0).unwrap();
    assert_eq!(first % PMD_BLOCKS, 0, "big file not 2 MiB-aligned");
    for i in 1..PMD_BLOCKS {
        assert_eq!(fs.map(&big_i, i).unwrap(), first + i);
    }
    let (_, sp) = lookup(&fs, "d/e/sparse");
    assert_eq!(read_file(&fs, &sp), sparse);
    assert_eq!(
        sp.blocks < 5,
        true,
        "sparse file allocated {} blocks",
        sp.blocks
    );
    let (small_ino, small_i) = lookup(&fs, "small");
    assert_eq!(lookup(&fs, "d/small-link").0, small_ino);
    assert_eq!(small_i.links, 2);
    assert_ne!(small_ino, big_ino);
    let (_, sl) = lookup(&fs, "short-link");
    assert_eq!(sl.iflags2 & iflags2::INLINE, iflags2::INLINE);
    assert_eq!(&sl.inline_data()[..5], b"small");
    let (_, ll) = lookup(&fs, "long-link");
    assert_eq!(ll.iflags2, 0);
    assert_eq!(read_file(&fs, &ll), long_target.as_bytes());
    assert_eq!(lookup(&fs, "fifo").1.mode & mode::S_IFMT, mode::S_IFIFO);
    assert_eq!(lookup(&fs, "empty").1.size, 0);
    let (_, many) = lookup(&fs, "many");
    assert!(
        many.size >= 3 * BS as u64,
        "300 long names need several blocks"
    );
    assert_eq!(
        read_file(&fs, &lookup(&fs, &format!("many/{:0>40}", 299)).1),
        b"299"
    );
    assert_eq!(
        lookup(&fs, "d").1.mtime,
        fs::metadata(src.join("d")).unwrap().mtime()
    );

    fs::remove_dir_all(&src).unwrap();
    fs::remove_file(&img).unwrap();
}

/// Directories beyond the first group are counted in their own group's
/// descriptor (fsck once counted them also in group 0, through the
/// padding bits of its inode bitmap, when a group has fewer inodes than
/// bits).
#[test]
fn directories_in_later_groups_check_clean() {
    let src = tmp("groups-src");
    for i in 0..150 {
        fs::create_dir_all(src.join(format!("d{i}"))).unwrap();
    }
    let img = tmp("groups-img");
    fs::File::create(&img).unwrap().set_len(512 << 20).unwrap();
    mkfs(&[
        "-q",
        "-N",
        "256",
        "-d",
        src.to_str().unwrap(),
        img.to_str().unwrap(),
    ]);
    let fs = Fs::open(img.to_str().unwrap(), false).unwrap();
    assert!(fs.geo.group_count > 1 && fs.geo.inodes_per_group < 150);
    let report = r2dax_fsck::check(&fs, false).unwrap();
    assert_eq!(report.exit_code(), 0, "{:?}", report.lines);
    let _ = fs::remove_dir_all(&src);
    let _ = fs::remove_file(&img);
}

/// A POSIX ACL in the kernel's xattr format: version 2, then (tag, perm,
/// id) entries.
fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for &(tag, perm, id) in entries {
        v.extend(tag.to_le_bytes());
        v.extend(perm.to_le_bytes());
        v.extend(id.to_le_bytes());
    }
    v
}

/// A block holds at most `xattr::REFCOUNT_MAX` references: 1030 files with
/// one set get two blocks, 1024 and 6 references, and check clean.
#[test]
fn shared_attribute_blocks_stop_at_the_limit() {
    let src = tmp("xmany");
    fs::create_dir_all(&src).unwrap();
    for i in 0..1030 {
        let f = src.join(format!("f{i}"));
        fs::write(&f, b"").unwrap();
        r2dax_sys::lsetxattr(&f, b"user.same", b"x", 0).unwrap();
    }
    let (img, fs) = copy_in(&src, "xmany-img", 64);
    let mut refs = std::collections::BTreeMap::new();
    for i in 0..1030 {
        let (blk, v) = fs.xattrs(lookup(&fs, &format!("f{i}")).0).unwrap();
        assert_eq!(v, vec![(b"user.same".to_vec(), b"x".to_vec())]);
        *refs.entry(blk).or_insert(0u64) += 1;
    }
    let mut counts: Vec<(u64, u64)> = refs
        .iter()
        .map(|(&b, &n)| {
            let on_disk = r2dax_format::XattrBlock::decode(&fs.dev.read_block(b).unwrap(), b)
                .unwrap()
                .refcount;
            (n, on_disk)
        })
        .collect();
    counts.sort();
    assert_eq!(counts, [(6, 6), (r2dax_format::xattr::REFCOUNT_MAX, 1024)]);
    let _ = fs::remove_dir_all(&src);
    let _ = fs::remove_file(&img);
}

/// mkfs -d copies every namespace r2dax stores, byte for byte; identical
/// sets share one block whose reference count says how many; the copy
/// checks clean. `-O ^xattr` makes a filesystem without the index.
#[test]
fn copied_attributes_read_back() {
    let src = tmp("xsrc");
    fs::create_dir_all(src.join("d")).unwrap();
    for f in ["a", "b", "c", "d/plain"] {
        fs::write(src.join(f), f).unwrap();
    }
    symlink("a", src.join("link")).unwrap();
    let set = |p: &str, n: &str, v: &[u8]| {
        r2dax_sys::lsetxattr(src.join(p), n.as_bytes(), v, 0).unwrap();
    };
    let big = pattern(3000, 7);
    set("a", "user.one", b"1");
    set("a", "user.big", &big);
    set("a", "trusted.t", b"");
    // user::rw- user:1000:r-- group::r-- mask::r-- other::--- (a minimal
    // ACL would become the mode alone).
    let access = acl(&[
        (0x01, 6, u32::MAX),
        (0x02, 4, 1000),
        (0x04, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 0, u32::MAX),
    ]);
    set("b", "system.posix_acl_access", &access);
    set("b", "user.same", b"x");
    set("c", "system.posix_acl_access", &access);
    set("c", "user.same", b"x");
    let default = acl(&[
        (0x01, 7, u32::MAX),
        (0x02, 5, 1234),
        (0x04, 5, u32::MAX),
        (0x10, 5, u32::MAX),
        (0x20, 0, u32::MAX),
    ]);
    set("d", "system.posix_acl_default", &default);
    set(".", "user.root", b"r");
    set("link", "trusted.onlink", b"l");

    let (img, fs) = copy_in(&src, "ximg", 64);
    let attrs = |fs: &Fs, p: &str| {
        let ino = if p == "." { 1 } else { lookup(fs, p).0 };
        let (blk, mut v) = fs.xattrs(ino).unwrap();
        v.sort();
        (blk, v)
    };
    let own = |v: &[(&str, &[u8])]| -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v: Vec<_> = v
            .iter()
            .map(|(n, x)| (n.as_bytes().to_vec(), x.to_vec()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        attrs(&fs, "a").1,
        own(&[("user.one", b"1"), ("user.big", &big), ("trusted.t", b"")])
    );
    let (bb, b_attrs) = attrs(&fs, "b");
    let (cb, c_attrs) = attrs(&fs, "c");
    assert_eq!(
        b_attrs,
        own(&[("system.posix_acl_access", &access), ("user.same", b"x")])
    );
    assert_eq!(b_attrs, c_attrs);
    assert_eq!(bb, cb, "identical sets share a block");
    let shared = r2dax_format::XattrBlock::decode(&fs.dev.read_block(bb).unwrap(), bb)
        .unwrap()
        .refcount;
    assert_eq!(shared, 2);
    assert_eq!(
        attrs(&fs, "d").1,
        own(&[("system.posix_acl_default", &default)])
    );
    assert_eq!(attrs(&fs, ".").1, own(&[("user.root", b"r")]));
    assert_eq!(attrs(&fs, "link").1, own(&[("trusted.onlink", b"l")]));
    assert_eq!(attrs(&fs, "d/plain"), (0, vec![]));
    drop(fs);

    // Without the feature: no index, no attributes, clean.
    mkfs(&[
        "-q",
        "-f",
        "-O",
        "^xattr",
        "-d",
        src.to_str().unwrap(),
        img.to_str().unwrap(),
    ]);
    let fs = Fs::open(img.to_str().unwrap(), false).unwrap();
    assert_eq!(
        fs.sb.feature_incompat & r2dax_format::feature::INCOMPAT_XATTR,
        0
    );
    assert_eq!(fs.inode(r2dax_format::XATTR_INDEX_INO).unwrap(), Slot::Free);
    assert_eq!(attrs(&fs, "a"), (0, vec![]));
    let report = r2dax_fsck::check(&fs, false).unwrap();
    assert_eq!(report.exit_code(), 0, "{:?}", report.lines);

    // A set larger than a block is refused, naming the file. The host's
    // ext4 cannot hold one; tmpfs can, where it has user attributes.
    let shm = PathBuf::from(format!("/dev/shm/r2dax-pop-{}", std::process::id()));
    let _ = fs::remove_dir_all(&shm);
    fs::create_dir_all(shm.join("d")).unwrap();
    fs::write(shm.join("d/plain"), b"p").unwrap();
    let two = r2dax_sys::lsetxattr(shm.join("d/plain"), b"user.big1", &big, 0)
        .and_then(|_| r2dax_sys::lsetxattr(shm.join("d/plain"), b"user.big2", &big, 0));
    if two.is_ok() {
        let argv: Vec<String> = [
            "-q",
            "-f",
            "-d",
            shm.to_str().unwrap(),
            img.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let err = match r2dax_mkfs::parse_args(argv).unwrap() {
            r2dax_mkfs::Cli::Run(a) => r2dax_mkfs::run(&a).unwrap_err(),
            _ => unreachable!(),
        };
        let msg = format!("{err}");
        assert!(
            msg.contains("d/plain") && msg.contains("exceed one block"),
            "{msg}"
        );
    }
    fs::remove_dir_all(&shm).unwrap();

    fs::remove_dir_all(&src).unwrap();
    fs::remove_file(&img).unwrap();
}
