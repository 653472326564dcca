// SPDX-License-Identifier: GPL-2.0
//! r2dax-corrupt: a test tool that breaks exactly one thing in an r2dax
//! filesystem, resealing checksums so that the field checks (not only the
//! checksums) are what catches it. Used by the guest's corrupted-image
//! tests; not installed for users.

use r2dax_disk::Fs;
use r2dax_format::{
    DirSlot, Dirent, Inode, Slot, Superblock, GROUP_DESC_SIZE, INODE_SIZE, SUPERBLOCK_SIZE,
};
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
";

fn edit_inode(fs: &Fs, ino: u32, f: impl FnOnce(&mut Inode)) -> Result<(), String> {
    let (blk, off) = fs.geo.inode_location(ino).ok_or("bad inode")?;
    let mut b = fs.dev.read_block(blk)?;
    let mut slot = [0u8; INODE_SIZE];
    slot.copy_from_slice(&b[off..off + INODE_SIZE]);
    let Ok(Slot::Used { mut inode, copy }) = Inode::decode_slot(&slot, ino) else {
        return Err(format!("inode {ino} is not readable"));
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

fn first_entry_block(fs: &Fs, ino: u32) -> Result<(u64, usize), String> {
    let Slot::Used { inode, .. } = fs.inode(ino)? else {
        return Err("free".into());
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
    Err("directory has no entries".into())
}

fn run(dev: &str, what: &str, path: &str) -> Result<(), String> {
    let fs = Fs::open(dev, true)?;
    let ino = fs.locate(path)?;
    match what {
        "gd-csum" => {
            let mut b = fs.dev.read_block(1)?;
            b[GROUP_DESC_SIZE - 1] ^= 0xff;
            fs.dev.write_blocks(1, &b)?;
        }
        "inode-torn" => {
            let (blk, off) = fs.geo.inode_location(ino).ok_or("bad inode")?;
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
                return Err("no entry".into());
            };
            if what == "dirent-ino" {
                let name = e.name(&b).to_vec();
                Dirent::encode(&mut b, slot, u32::MAX, e.dtype, &name);
            } else {
                b[slot * 32 + 12] ^= 0x01;
            }
            fs.dev.write_blocks(blk, &b)?;
        }
        "orphan-head" => {
            let mut b = fs.dev.read_block(0)?;
            let mut sb = Superblock::decode(&b).map_err(|e| e.to_string())?;
            sb.orphan_head = ino;
            let mut raw = [0u8; SUPERBLOCK_SIZE];
            raw.copy_from_slice(&b[..SUPERBLOCK_SIZE]);
            sb.encode(&mut raw);
            b[..SUPERBLOCK_SIZE].copy_from_slice(&raw);
            fs.dev.write_blocks(0, &b)?;
        }
        _ => return Err(format!("unknown corruption '{what}'")),
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
