// SPDX-License-Identifier: GPL-2.0
//! Mounting: superblock reading and validation (the role of fs/ext2/super.c).

use crate::ondisk::{ErrorClass, SbError, Superblock, BLOCK_SIZE, MAGIC, SUPERBLOCK_OFFSET};
use crate::vfs::errno::euclean;
use crate::vfs::fs::{FileSystem, Stat};
use crate::vfs::print::{sb_err, sb_info};
use crate::vfs::sb::{New, Root, SuperBlock};
use kernel::error::code::{EINVAL, EROFS};
use kernel::prelude::*;
use kernel::str::CStr;

/// Inode number of the root directory.
pub(crate) const ROOT_INO: u64 = 1;

/// The r2dax filesystem type.
pub(crate) struct R2dax;

/// Per-mount state.
pub(crate) struct SbInfo {
    /// The validated on-disk superblock as read at mount time.
    pub(crate) disk: Superblock,
}

/// Maps a superblock decoding error to the errno the mount returns.
fn sb_errno(e: &SbError) -> Error {
    match e.class() {
        ErrorClass::NotR2dax | ErrorClass::Unsupported => EINVAL,
        ErrorClass::Corrupt => euclean(),
    }
}

impl FileSystem for R2dax {
    const NAME: &'static CStr = kernel::c_str!("r2dax");
    type Info = SbInfo;

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
        sb.set_magic(MAGIC);
        // This build validates the superblock only and serves an empty
        // placeholder root, read-only; reading and writing inodes,
        // directories and files replaces this.
        sb.force_read_only();
        sb_info!(
            sb,
            "mounted format {}.{}, {} blocks of {} bytes, read-only (this build does not read inodes yet)",
            disk.version_major,
            disk.version_minor,
            disk.blocks_count,
            disk.block_size
        );
        Ok(SbInfo { disk })
    }

    fn init_root(sb: &SuperBlock<Self>) -> Result<Root> {
        sb.empty_root_dir(ROOT_INO, 0o755)
    }

    fn statfs(sb: &SuperBlock<Self>) -> Result<Stat> {
        let disk = &sb.info().disk;
        let mut fsid = [0u8; 8];
        for (i, b) in disk.uuid.iter().enumerate() {
            fsid[i % 8] ^= b;
        }
        // This build has no allocator: every block is reported in use.
        Ok(Stat {
            magic: MAGIC,
            block_size: disk.block_size,
            blocks: disk.blocks_count,
            free_blocks: 0,
            avail_blocks: 0,
            files: 1,
            free_files: 0,
            name_len: 255,
            fsid: u64::from_le_bytes(fsid),
        })
    }

    fn reconfigure(sb: &SuperBlock<Self>, new_read_only: bool) -> Result {
        if !new_read_only {
            sb_err!(sb, "can't remount read-write: this build is read-only");
            return Err(EROFS);
        }
        Ok(())
    }
}
