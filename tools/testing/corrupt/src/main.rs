// SPDX-License-Identifier: GPL-2.0
//! r2dax-corrupt: a test tool that breaks exactly one thing in an r2dax
//! filesystem, resealing checksums so that the field checks (not only the
//! checksums) are what catches it. Used by the guest's corrupted-image
//! tests; not installed for users.

use r2dax_disk::{DiskError, Fs};
use r2dax_format::{
    DirSlot, Dirent, Inode, SbError, Slot, Superblock, GROUP_DESC_SIZE, INODE_SIZE, SUPERBLOCK_SIZE,
};
use std::fmt;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: r2dax-corrupt DEVICE WHAT [PATH]

WHAT (PATH names the file or directory, from the root):
  gd-csum          break group descriptor 0's checksum
  inode-torn       break both copies of PATH's inode
  inode-mode       give PATH's inode an invalid file type
  inode-height     give PATH's inode a map height of 7
  inode-nlink0     give PATH's inode a link count of 0
  inode-size       make directory PATH's size not a multiple of 4096
  inline-size      make inline symlink PATH's size 100
  map-ptr          point PATH's first block at the group descriptors
  dir-hole         make directory PATH's first block a hole
  dirent-ino       point the first entry of directory PATH at inode 4294967295
  dirent-csum      flip a byte of the name of the first entry of directory PATH
  orphan-head      put PATH's (linked) inode at the head of the orphan list
  xattr-block      flip a byte in PATH's attribute block (its checksum then
                   fails)
  xattr-index      break both copies of the attribute index inode (3)
  ro-compat        set an unknown read-only-compatible feature bit (63)
";

/// Why nothing, or not everything, was broken (exit status 1).
#[derive(Debug)]
enum CorruptError {
    /// The device layer's error, shown as is.
    Disk(DiskError),
    /// The inode found has no slot in the inode tables.
    BadInode,
    /// Inode `ino` does not decode, so it cannot be edited.
    Unreadable(u32),
    /// The directory to edit is a free inode.
    FreeDirectory,
    /// The first block of the directory to edit has no entry after "..".
    NoEntries,
    /// The entry found in a directory block was gone when read again.
    NoEntry,
    /// The superblock does not decode.
    Superblock(SbError),
    /// Not a WHAT r2dax-corrupt knows.
    Unknown(String),
    /// The inode has no attribute block to break.
    NoAttributes,
}

impl fmt::Display for CorruptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptError::Disk(e) => e.fmt(f),
            CorruptError::BadInode => f.write_str("bad inode"),
            CorruptError::Unreadable(ino) => write!(f, "inode {ino} is not readable"),
            CorruptError::FreeDirectory => f.write_str("free"),
            CorruptError::NoEntries => f.write_str("directory has no entries"),
            CorruptError::NoEntry => f.write_str("no entry"),
            CorruptError::Superblock(e) => e.fmt(f),
            CorruptError::Unknown(what) => write!(f, "unknown corruption '{what}'"),
            CorruptError::NoAttributes => f.write_str("no attribute block"),
        }
    }
}

impl std::error::Error for CorruptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Shown as is: its source is the device error's.
            CorruptError::Disk(e) => e.source(),
            _ => None,
        }
    }
}

impl From<DiskError> for CorruptError {
    fn from(e: DiskError) -> Self {
        CorruptError::Disk(e)
    }
}

type Result<T> = std::result::Result<T, CorruptError>;

fn edit_inode(fs: &Fs, ino: u32, f: impl FnOnce(&mut Inode)) -> Result<()> {
    let (blk, off) = fs.geo.inode_location(ino).ok_or(CorruptError::BadInode)?;
    let mut b = fs.dev.read_block(blk)?;
    let mut slot = [0u8; INODE_SIZE];
    slot.copy_from_slice(&b[off..off + INODE_SIZE]);
    let Ok(Slot::Used { mut inode, copy }) = Inode::decode_slot(&slot, ino) else {
        return Err(CorruptError::Unreadable(ino));
    };
    f(&mut inode);
    inode.seq += 1;
    // Write both copies so that neither the old one nor a fallback hides
    // the corruption.
    inode.encode_copy(&mut slot, copy ^ 1, ino);
    inode.encode_copy(&mut slot, copy, ino);
    b[off..off + INODE_SIZE].copy_from_slice(&slot);
    Ok(fs.dev.write_blocks(blk, &b)?)
}

fn first_entry_block(fs: &Fs, ino: u32) -> Result<(u64, usize)> {
    let Slot::Used { inode, .. } = fs.inode(ino)? else {
        return Err(CorruptError::FreeDirectory);
    };
    let blk = fs.map(&inode, 0)?;
    let b = fs.dev.read_block(blk)?;
    let mut slot = 1;
    while slot < 128 {
        match Dirent::decode(&b, slot) {
            DirSlot::Entry(_) => return Ok((blk, slot)),
            _ => slot += 1,
        }
    }
    Err(CorruptError::NoEntries)
}

fn run(dev: &str, what: &str, path: &str) -> Result<()> {
    let fs = Fs::open(dev, true)?;
    let ino = fs.locate(path)?;
    match what {
        "gd-csum" => {
            let mut b = fs.dev.read_block(1)?;
            b[GROUP_DESC_SIZE - 1] ^= 0xff;
            fs.dev.write_blocks(1, &b)?;
        }
        "inode-torn" => {
            let (blk, off) = fs.geo.inode_location(ino).ok_or(CorruptError::BadInode)?;
            let mut b = fs.dev.read_block(blk)?;
            b[off + 30] ^= 1;
            b[off + 128 + 30] ^= 1;
            fs.dev.write_blocks(blk, &b)?;
        }
        "inode-mode" => edit_inode(&fs, ino, |i| i.mode &= 0o7777)?,
        "inode-height" => edit_inode(&fs, ino, |i| i.height = 7)?,
        "inode-nlink0" => edit_inode(&fs, ino, |i| i.links = 0)?,
        "inode-size" => edit_inode(&fs, ino, |i| i.size += 1)?,
        "inline-size" => edit_inode(&fs, ino, |i| i.size = 100)?,
        "map-ptr" => edit_inode(&fs, ino, |i| {
            i.height = 0;
            i.roots[0] = 3;
        })?,
        "dir-hole" => edit_inode(&fs, ino, |i| {
            i.height = 0;
            i.roots = [0; 5];
        })?,
        "dirent-ino" | "dirent-csum" => {
            let (blk, slot) = first_entry_block(&fs, ino)?;
            let mut b = fs.dev.read_block(blk)?;
            let DirSlot::Entry(e) = Dirent::decode(&b, slot) else {
                return Err(CorruptError::NoEntry);
            };
            if what == "dirent-ino" {
                let name = e.name(&b).to_vec();
                Dirent::encode(&mut b, slot, u32::MAX, e.dtype, &name);
            } else {
                b[slot * 32 + 12] ^= 0x01;
            }
            fs.dev.write_blocks(blk, &b)?;
        }
        "xattr-block" => {
            let blk = fs.xattr_block(ino)?;
            if blk == 0 {
                return Err(CorruptError::NoAttributes);
            }
            let mut b = fs.dev.read_block(blk)?;
            b[40] ^= 0x01;
            fs.dev.write_blocks(blk, &b)?;
        }
        "xattr-index" => {
            let (blk, off) = fs
                .geo
                .inode_location(r2dax_format::XATTR_INDEX_INO)
                .ok_or(CorruptError::BadInode)?;
            let mut b = fs.dev.read_block(blk)?;
            b[off + 30] ^= 1;
            b[off + 128 + 30] ^= 1;
            fs.dev.write_blocks(blk, &b)?;
        }
        "orphan-head" | "ro-compat" => {
            let mut b = fs.dev.read_block(0)?;
            let mut sb = Superblock::decode(&b).map_err(CorruptError::Superblock)?;
            if what == "orphan-head" {
                sb.orphan_head = ino;
            } else {
                sb.feature_ro_compat |= 1 << 63;
            }
            let mut raw = [0u8; SUPERBLOCK_SIZE];
            raw.copy_from_slice(&b[..SUPERBLOCK_SIZE]);
            sb.encode(&mut raw);
            b[..SUPERBLOCK_SIZE].copy_from_slice(&raw);
            fs.dev.write_blocks(0, &b)?;
        }
        _ => return Err(CorruptError::Unknown(what.to_string())),
    }
    fs.dev.sync()?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") || args.len() < 2 || args.len() > 3 {
        print!("{USAGE}");
        return if args.len() >= 2 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
    }
    let path = args.get(2).map(String::as_str).unwrap_or("/");
    match run(&args[0], &args[1], path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("r2dax-corrupt: {e}");
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
                CorruptError::Disk(DiskError::NotFound { name: "x".into() }),
                "x: not found",
            ),
            (CorruptError::BadInode, "bad inode"),
            (CorruptError::Unreadable(16), "inode 16 is not readable"),
            (CorruptError::FreeDirectory, "free"),
            (CorruptError::NoEntries, "directory has no entries"),
            (CorruptError::NoEntry, "no entry"),
            (
                CorruptError::Superblock(SbError::BadState { found: 0x10 }),
                "invalid superblock state 0x10",
            ),
            (
                CorruptError::Unknown("bogus".into()),
                "unknown corruption 'bogus'",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }
}
