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

    let img = tmp("img");
    fs::File::create(&img).unwrap().set_len(256 << 20).unwrap();
    mkfs(&["-q", "-d", src.to_str().unwrap(), img.to_str().unwrap()]);
    let fs = Fs::open(img.to_str().unwrap(), false).unwrap();
    let report = r2dax_fsck::check(&fs, false).unwrap();
    assert_eq!(report.exit_code(), 0, "{:?}", report.lines);

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
