// SPDX-License-Identifier: GPL-2.0
//! Mounting: superblock and group descriptors, statfs, remount (the role of
//! fs/ext2/super.c).

use crate::inode::{iget, RInode};
use crate::ondisk::{
    state, ErrorClass, Geometry, GroupDesc, SbError, Superblock, BLOCK_SHIFT, BLOCK_SIZE,
    GROUP_DESCS_PER_BLOCK, GROUP_DESC_SIZE, MAGIC, MAX_FILE_BLOCKS, ROOT_INO, SUPERBLOCK_OFFSET,
};
use crate::vfs::errno::euclean;
use crate::vfs::fs::{DirEmitter, FileSystem, Mapping, Stat};
use crate::vfs::inode::INode;
use crate::vfs::print::{sb_err, sb_info, sb_warn};
use crate::vfs::sb::{New, Root, SuperBlock};
use kernel::alloc::KVVec;
use kernel::error::code::{EINVAL, EIO, ENOTDIR, EROFS};
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::ARef;

/// The r2dax filesystem type.
pub(crate) struct R2dax;

/// Per-mount state.
pub(crate) struct SbInfo {
    /// The validated on-disk superblock as read at mount time.
    pub(crate) disk: Superblock,
    /// Where everything is.
    pub(crate) geo: Geometry,
    /// The group descriptors, validated at mount.
    pub(crate) groups: KVVec<GroupDesc>,
}

/// Maps a superblock decoding error to the errno the mount returns.
fn sb_errno(e: &SbError) -> Error {
    match e.class() {
        ErrorClass::NotR2dax | ErrorClass::Unsupported => EINVAL,
        ErrorClass::Corrupt => euclean(),
    }
}

/// Reads and validates every group descriptor.
fn read_groups(sb: &SuperBlock<R2dax, New>, geo: &Geometry) -> Result<KVVec<GroupDesc>> {
    let count = geo.group_count as usize;
    let mut groups = KVVec::with_capacity(count, GFP_KERNEL)?;
    for blk in 0..geo.gdt_blocks() {
        let bh = sb.bread(1 + u64::from(blk))?;
        let data = bh.data();
        for i in 0..GROUP_DESCS_PER_BLOCK {
            let g = blk * GROUP_DESCS_PER_BLOCK + i;
            if g >= geo.group_count {
                break;
            }
            let off = i as usize * GROUP_DESC_SIZE;
            let mut d = [0u8; GROUP_DESC_SIZE];
            d.copy_from_slice(data.get(off..off + GROUP_DESC_SIZE).ok_or(EIO)?);
            let gd = GroupDesc::decode(&d, g, geo).map_err(|e| {
                sb_err!(sb, "group descriptor {} is corrupt ({:?})", g, e);
                euclean()
            })?;
            groups.push(gd, GFP_KERNEL)?;
        }
    }
    Ok(groups)
}

impl FileSystem for R2dax {
    const NAME: &'static CStr = kernel::c_str!("r2dax");
    type Info = SbInfo;
    type InodeData = RInode;

    fn init_inode_data() -> impl PinInit<RInode, Error> {
        RInode::new()
    }

    fn fill_super(sb: &SuperBlock<Self, New>) -> Result<SbInfo> {
        if let Err(e) = sb.set_blocksize(BLOCK_SIZE) {
            sb_err!(sb, "device cannot use {} byte blocks", BLOCK_SIZE);
            return Err(e);
        }
        let block = SUPERBLOCK_OFFSET / u64::from(BLOCK_SIZE);
        let bh = sb.bread(block).inspect_err(|_| {
            sb_err!(sb, "can't read the superblock (block {})", block);
        })?;
        let disk = Superblock::decode(bh.data()).map_err(|e| {
            sb_err!(sb, "{}", e);
            sb_errno(&e)
        })?;
        drop(bh);
        disk.check_device(sb.device_bytes()).map_err(|e| {
            sb_err!(sb, "{}", e);
            sb_errno(&e)
        })?;
        let geo = disk.geometry();
        let groups = read_groups(sb, &geo)?;
        if disk.state & state::DIRTY != 0 {
            sb_warn!(
                sb,
                "was not cleanly unmounted, running fsck.r2dax is recommended"
            );
        }
        sb.set_magic(MAGIC);
        sb.set_max_bytes(MAX_FILE_BLOCKS << BLOCK_SHIFT);
        // This build reads the filesystem but does not write it yet.
        sb.force_read_only();
        sb_info!(
            sb,
            "mounted format {}.{}, {} blocks of {} bytes, read-only (this build does not write yet)",
            disk.version_major,
            disk.version_minor,
            disk.blocks_count,
            disk.block_size
        );
        Ok(SbInfo { disk, geo, groups })
    }

    fn init_root(sb: &SuperBlock<Self>) -> Result<Root> {
        let root = iget(sb, u64::from(ROOT_INO))?;
        if !crate::inode::is_dir(root.mode()) {
            sb_err!(sb, "the root inode is not a directory");
            return Err(euclean());
        }
        sb.root(root)
    }

    fn reconfigure(sb: &SuperBlock<Self>, new_read_only: bool) -> Result {
        if !new_read_only {
            sb_err!(sb, "can't remount read-write: this build is read-only");
            return Err(EROFS);
        }
        Ok(())
    }

    fn statfs(sb: &SuperBlock<Self>) -> Result<Stat> {
        let info = sb.info();
        let mut fsid = [0u8; 8];
        for (i, b) in info.disk.uuid.iter().enumerate() {
            fsid[i % 8] ^= b;
        }
        let free_blocks = info.groups.iter().map(|g| u64::from(g.free_blocks)).sum();
        let free_files = info.groups.iter().map(|g| u64::from(g.free_inodes)).sum();
        Ok(Stat {
            magic: MAGIC,
            block_size: BLOCK_SIZE,
            blocks: info.disk.blocks_count,
            free_blocks,
            avail_blocks: free_blocks,
            files: info.geo.inodes_count(),
            free_files,
            name_len: crate::ondisk::dirent::NAME_MAX as u32,
            fsid: u64::from_le_bytes(fsid),
        })
    }

    fn lookup(dir: &INode<Self>, name: &[u8]) -> Result<Option<ARef<INode<Self>>>> {
        if !crate::inode::is_dir(dir.mode()) {
            return Err(ENOTDIR);
        }
        crate::dir::lookup(dir, name)
    }

    fn readdir(dir: &INode<Self>, emitter: &mut DirEmitter<'_>) -> Result {
        crate::dir::readdir(dir, emitter)
    }

    fn iomap_begin(inode: &INode<Self>, pos: u64, len: u64, flags: u32) -> Result<Mapping> {
        crate::inode::iomap_begin(inode, pos, len, flags)
    }
}
