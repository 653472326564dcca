// SPDX-License-Identifier: GPL-2.0
//! dump.r2dax: print r2dax on-disk structures, for debugging and tests.

use r2dax_disk::{DiskError, Fs};
use r2dax_format::{
    feature, iflags2, map_capacity, mode, DirSlot, Inode, Slot, UuidFmt, XattrBlock,
};
use std::fmt;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: dump.r2dax DEVICE COMMAND

Commands:
  sb             the superblock
  groups         the group descriptors
  inode INO      inode INO (decoded copy, map roots)
  dir INO        the entries of directory INO
  map INO        file block -> device block for every mapped block of INO
                 (then the word unwritten: fallocate left it so)
  locate PATH    the inode number of PATH (from the root), and where its
                 inode slot lives: ino, block, byte offset on the device
  xattr INO      the extended attributes of INO: its attribute block and
                 reference count, then name=value per line (values as
                 getfattr prints them: quoted text, or 0x and hex)
  -h, --help     show this help

Works on an unmounted device or image; reads only.
Exit status: 0 success, 1 error, 2 usage error.
";

/// Why a command printed nothing, or stopped (exit status 1).
#[derive(Debug)]
enum DumpError {
    /// The device layer's error, shown as is.
    Disk(DiskError),
    /// Inode `ino` is free.
    FreeInode(u32),
    /// Inode `ino` is not a directory.
    NotDirectory(u32),
    /// Command `cmd` needs an inode number as its argument.
    NeedsInode(String),
    /// locate has no PATH.
    NeedsPath,
    /// The inode found has no slot in the inode tables (a bug).
    BadInodeNumber,
    /// Not a command dump.r2dax knows.
    UnknownCommand(String),
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpError::Disk(e) => e.fmt(f),
            DumpError::FreeInode(ino) => write!(f, "inode {ino} is free"),
            DumpError::NotDirectory(ino) => write!(f, "inode {ino} is not a directory"),
            DumpError::NeedsInode(cmd) => write!(f, "{cmd} needs an inode number"),
            DumpError::NeedsPath => f.write_str("locate needs a path"),
            DumpError::BadInodeNumber => f.write_str("bad inode number"),
            DumpError::UnknownCommand(cmd) => write!(f, "unknown command '{cmd}'"),
        }
    }
}

impl std::error::Error for DumpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Shown as is: its source is the device error's.
            DumpError::Disk(e) => e.source(),
            _ => None,
        }
    }
}

impl From<DiskError> for DumpError {
    fn from(e: DiskError) -> Self {
        DumpError::Disk(e)
    }
}

fn inode(fs: &Fs, ino: u32) -> Result<Inode, DumpError> {
    match fs.inode(ino)? {
        Slot::Used { inode, .. } => Ok(inode),
        Slot::Free => Err(DumpError::FreeInode(ino)),
    }
}

/// A value as `getfattr` shows it: in quotes if it is printable text
/// (a trailing NUL allowed), in hex otherwise.
fn show_value(v: &[u8]) -> String {
    let text = v.strip_suffix(&[0]).unwrap_or(v);
    if !v.is_empty() && text.iter().all(|&c| (0x20..0x7f).contains(&c) && c != b'"') {
        format!("\"{}\"", String::from_utf8_lossy(text))
    } else if v.is_empty() {
        "\"\"".to_string()
    } else {
        let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
        format!("0x{hex}")
    }
}

fn run(dev: &str, cmd: &str, arg: Option<&str>) -> Result<(), DumpError> {
    let fs = Fs::open(dev, false)?;
    let num = || -> Result<u32, DumpError> {
        arg.and_then(|a| a.parse().ok())
            .ok_or_else(|| DumpError::NeedsInode(cmd.to_string()))
    };
    match cmd {
        "sb" => {
            let sb = &fs.sb;
            println!("version: {}.{}", sb.version_major, sb.version_minor);
            println!("uuid: {}", UuidFmt(&sb.uuid));
            println!("label: {}", sb.label_str().unwrap_or("?"));
            println!("blocks: {}", sb.blocks_count);
            println!("groups: {}", sb.group_count);
            println!("inodes_per_group: {}", sb.inodes_per_group);
            println!("free_blocks: {}", sb.free_blocks);
            println!("free_inodes: {}", sb.free_inodes);
            println!("state: {:#x}", sb.state);
            println!("orphan_head: {}", sb.orphan_head);
            println!("mount_count: {}", sb.mount_count);
            let mut names = Vec::new();
            for (bit, name) in [
                (feature::INCOMPAT_UNWRITTEN, "unwritten"),
                (feature::INCOMPAT_XATTR, "xattr"),
            ] {
                if sb.feature_incompat & bit != 0 {
                    names.push(name);
                }
            }
            println!("incompat: {:#x} ({})", sb.feature_incompat, names.join(" "));
        }
        "groups" => {
            for g in 0..fs.geo.group_count {
                match fs.group_desc(g)? {
                    Ok(gd) => println!(
                        "group {g}: start {} free_blocks {} free_inodes {} dirs {}",
                        fs.geo.group_start(g),
                        gd.free_blocks,
                        gd.free_inodes,
                        gd.used_dirs
                    ),
                    Err(e) => println!("group {g}: corrupt ({e:?})"),
                }
            }
        }
        "inode" => {
            let ino = num()?;
            let i = inode(&fs, ino)?;
            println!("inode: {ino}");
            println!("mode: {:o}", i.mode);
            println!("links: {}", i.links);
            println!("uid: {} gid: {}", i.uid, i.gid);
            println!("size: {}", i.size);
            println!("blocks: {}", i.blocks);
            println!("flags: {:#x}", i.flags);
            println!("height: {}", i.height);
            println!("seq: {}", i.seq);
            println!("next_orphan: {}", i.next_orphan);
            println!("mtime: {}.{:09}", i.mtime, i.mtime_ns);
            if i.iflags2 & iflags2::INLINE != 0 {
                let d = i.inline_data();
                println!(
                    "inline: {}",
                    String::from_utf8_lossy(&d[..(i.size as usize).min(d.len())])
                );
            } else {
                println!("roots: {}", i.roots.map(|r| r.to_string()).join(" "));
            }
        }
        "dir" => {
            let ino = num()?;
            let d = inode(&fs, ino)?;
            if d.mode & mode::S_IFMT != mode::S_IFDIR {
                return Err(DumpError::NotDirectory(ino));
            }
            for (blk, s, name) in fs.dir_entries(&d)? {
                match s {
                    DirSlot::Entry(e) => println!(
                        "{blk}:{} {} type {} {}",
                        e.slot,
                        e.ino,
                        e.dtype,
                        String::from_utf8_lossy(&name)
                    ),
                    _ => println!("{blk}: corrupt entry"),
                }
            }
        }
        "map" => {
            let ino = num()?;
            let i = inode(&fs, ino)?;
            let nblocks = i.size.div_ceil(4096).min(map_capacity(i.height));
            for lblk in 0..nblocks {
                let (p, unwritten) = fs.map_state(&i, lblk)?;
                if p != 0 {
                    println!("{lblk} {p}{}", if unwritten { " unwritten" } else { "" });
                }
            }
        }
        "xattr" => {
            let ino = num()?;
            inode(&fs, ino)?;
            let (blk, attrs) = fs.xattrs(ino)?;
            if blk != 0 {
                let b = fs.dev.read_block(blk)?;
                let refs = XattrBlock::decode(&b, blk).map_or(0, |x| x.refcount);
                println!("block {blk} refcount {refs}");
            }
            for (name, value) in attrs {
                println!("{}={}", String::from_utf8_lossy(&name), show_value(&value));
            }
        }
        "locate" => {
            let path = arg.ok_or(DumpError::NeedsPath)?;
            let ino = fs.locate(path)?;
            let (blk, off) = fs
                .geo
                .inode_location(ino)
                .ok_or(DumpError::BadInodeNumber)?;
            println!("{ino} {blk} {}", blk * 4096 + off as u64);
        }
        _ => return Err(DumpError::UnknownCommand(cmd.to_string())),
    }
    Ok(())
}

fn main() -> ExitCode {
    r2dax_disk::default_sigpipe();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.len() < 2 || args.len() > 3 {
        eprint!("dump.r2dax: wrong number of arguments\n{USAGE}");
        return ExitCode::from(2);
    }
    match run(&args[0], &args[1], args.get(2).map(String::as_str)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dump.r2dax: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_as_before() {
        let cases = [
            (
                DumpError::Disk(DiskError::NotFound { name: "x".into() }),
                "x: not found",
            ),
            (DumpError::FreeInode(12), "inode 12 is free"),
            (DumpError::NotDirectory(12), "inode 12 is not a directory"),
            (
                DumpError::NeedsInode("map".into()),
                "map needs an inode number",
            ),
            (DumpError::NeedsPath, "locate needs a path"),
            (DumpError::BadInodeNumber, "bad inode number"),
            (
                DumpError::UnknownCommand("bogus".into()),
                "unknown command 'bogus'",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn values_show_as_getfattr_does() {
        assert_eq!(show_value(b"abc"), "\"abc\"");
        assert_eq!(show_value(b"abc\0"), "\"abc\"");
        assert_eq!(show_value(b""), "\"\"");
        assert_eq!(show_value(&[2, 0, 0, 0]), "0x02000000");
        assert_eq!(show_value(b"a\"b"), "0x612262");
    }
}
