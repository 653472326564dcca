// SPDX-License-Identifier: GPL-2.0
//! Mounting: superblock and group descriptors, statfs, remount (the role of
//! fs/ext2/super.c).

use crate::dax::{DaxMode, ModeCell, Pending};
use crate::inode::{iget, RInode};
use crate::ondisk::{
    feature, state, ErrorClass, Geometry, GroupDesc, SbError, Superblock, BLOCK_SHIFT, BLOCK_SIZE,
    GROUP_DESCS_PER_BLOCK, GROUP_DESC_SIZE, MAGIC, MAX_FILE_BLOCKS, ROOT_INO, SUPERBLOCK_OFFSET,
    SUPERBLOCK_SIZE,
};
use crate::vfs::errno::euclean;
use crate::vfs::fs::FileSystem;
use crate::vfs::lock::Quiesced;
use crate::vfs::options::{OptionWriter, ParamError, ParamValue};
use crate::vfs::print::{sb_err, sb_info, sb_warn};
use crate::vfs::sb::{New, Root, SuperBlock};
use crate::vfs::super_ops::{Stat, SuperOperations};
use crate::vfs::vfs_inode::INode;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::alloc::KVVec;
use kernel::error::code::{EINVAL, EIO, EROFS};
use kernel::init::PinInit;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Mutex;

/// The r2dax filesystem type.
pub(crate) struct R2dax;

/// Per-mount state.
///
/// Lock order (outermost first): the VFS's `i_rwsem` (and rename locks),
/// an inode's `RInode::xattr`, `xattr_index`, `alloc`, `disk`; an inode's
/// `RInode::state` comes after `RInode::xattr`, before `alloc`, and never
/// with `xattr_index`; buffer locks are leaves.
/// `dax_pending` is held for a whole pass of a `dax=` change (under
/// `s_umount` by a remount, alone by the retry); inode locks are taken
/// under it by trylock only.
#[pin_data]
pub(crate) struct SbInfo {
    /// Where everything is (immutable).
    pub(crate) geo: Geometry,
    /// The `dax=` mode; a remount changes it ([`crate::dax::change_mode`]).
    pub(crate) dax_mode: ModeCell,
    /// Whether a mount or remount named the mode. As ext4 does,
    /// /proc/mounts shows the default mode, `dax=inode`, only when it was
    /// given: fstests reads "no dax option shown" as "mounted without DAX"
    /// (generic/413).
    pub(crate) dax_given: AtomicBool,
    /// Files a change of the `dax=` mode could not switch yet (busy), for
    /// the background retry ([`crate::dax::retry_pending`]); held for a
    /// whole pass over files, so passes never overlap.
    #[pin]
    pub(crate) dax_pending: Mutex<Pending>,
    /// Whether the device supports DAX (immutable).
    pub(crate) dax_capable: bool,
    /// Whether data-block pointers may carry `PTR_UNWRITTEN`
    /// (`feature::INCOMPAT_UNWRITTEN`; immutable): `fallocate` then
    /// allocates unwritten blocks.
    pub(crate) unwritten: bool,
    /// The on-disk superblock as r2dax will write it next.
    #[pin]
    pub(crate) disk: Mutex<Superblock>,
    /// Group counters and the bitmaps' read-modify-write (see alloc.rs).
    #[pin]
    pub(crate) alloc: Mutex<AllocState>,
    /// The attribute index, inode 3 (with the `XATTR` feature; `None`
    /// without): its on-disk image and map, its entries, the reference
    /// counts of attribute blocks and the list of blocks to share
    /// (`crate::xattr`). Taken after
    /// an inode's `RInode::xattr`, never with an inode's `state`; the
    /// allocator's lock, `disk` and buffer locks nest inside it.
    #[pin]
    pub(crate) xattr_index: Mutex<Option<crate::xattr::Index>>,
    /// Whether `xattr_index` is `Some` (the `XATTR` feature; immutable),
    /// for the create and free paths, which need not take its lock to
    /// ask.
    pub(crate) xattrs: bool,
}

/// The options of one mount or remount request.
#[derive(Default)]
pub(crate) struct Options {
    /// `dax=` if given.
    dax: Option<DaxMode>,
}

/// Allocator state, under [`SbInfo::alloc`].
pub(crate) struct AllocState {
    /// The group descriptors (counters are exact in memory).
    pub(crate) groups: KVVec<GroupDesc>,
    /// Whether `groups` changed since they were last written.
    pub(crate) dirty: bool,
}

impl AllocState {
    /// Free blocks in the whole filesystem.
    pub(crate) fn free_blocks(&self) -> u64 {
        self.groups.iter().map(|g| u64::from(g.free_blocks)).sum()
    }

    /// Free inodes in the whole filesystem.
    pub(crate) fn free_inodes(&self) -> u64 {
        self.groups.iter().map(|g| u64::from(g.free_inodes)).sum()
    }
}

/// Seconds since the epoch.
fn now() -> u64 {
    u64::try_from(crate::vfs::time::real_seconds()).unwrap_or(0)
}

/// Writes the superblock (block 0) synchronously.
pub(crate) fn write_sb(sb: &SuperBlock<R2dax>, disk: &mut Superblock) -> Result {
    disk.write_time = now();
    let mut buf = [0u8; SUPERBLOCK_SIZE];
    disk.encode(&mut buf);
    let bh = sb.bread(0)?;
    bh.with_data_mut(|d| {
        d.get_mut(..SUPERBLOCK_SIZE)
            .map(|dst| dst.copy_from_slice(&buf))
            .ok_or(EIO)
    })?;
    bh.sync()
}

/// Writes the group descriptors (if changed) and the superblock with the
/// current free counts; `clean` clears the dirty state (unmount, remount
/// read-only).
fn write_state(sb: &SuperBlock<R2dax>, clean: bool) -> Result {
    let info = sb.info();
    let geo = info.geo;
    let (free_blocks, free_inodes) = {
        let mut alloc = info.alloc.lock();
        if alloc.dirty {
            for blk in 0..geo.gdt_blocks() {
                let bh = sb.bread(1 + u64::from(blk))?;
                bh.with_data_mut(|d| {
                    for i in 0..GROUP_DESCS_PER_BLOCK {
                        let g = blk * GROUP_DESCS_PER_BLOCK + i;
                        let Some(gd) = alloc.groups.get(g as usize) else {
                            break;
                        };
                        let off = i as usize * GROUP_DESC_SIZE;
                        let mut e = [0u8; GROUP_DESC_SIZE];
                        gd.encode(&mut e, g);
                        if let Some(dst) = d.get_mut(off..off + GROUP_DESC_SIZE) {
                            dst.copy_from_slice(&e);
                        }
                    }
                });
                bh.sync()?;
            }
            alloc.dirty = false;
        }
        (alloc.free_blocks(), alloc.free_inodes())
    };
    let mut disk = info.disk.lock();
    disk.free_blocks = free_blocks;
    disk.free_inodes = free_inodes;
    if clean {
        disk.state &= !state::DIRTY;
    }
    write_sb(sb, &mut disk)
}

/// Marks the filesystem in use read-write on the media (mount, remount
/// read-write): an unclean unmount then shows as `state::DIRTY`.
fn mark_dirty_on_disk(sb: &SuperBlock<R2dax>) -> Result {
    let mut disk = sb.info().disk.lock();
    disk.state |= state::DIRTY;
    disk.mount_count = disk.mount_count.wrapping_add(1);
    disk.mount_time = now();
    write_sb(sb, &mut disk)
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
        for i in 0..GROUP_DESCS_PER_BLOCK {
            let g = blk * GROUP_DESCS_PER_BLOCK + i;
            if g >= geo.group_count {
                break;
            }
            let off = i as usize * GROUP_DESC_SIZE;
            let mut d = [0u8; GROUP_DESC_SIZE];
            bh.with_data(|data| {
                data.get(off..off + GROUP_DESC_SIZE)
                    .map(|s| d.copy_from_slice(s))
                    .ok_or(EIO)
            })?;
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
    type Options = Options;

    fn parse_param(
        opts: &mut Options,
        key: &[u8],
        value: ParamValue<'_>,
    ) -> core::result::Result<(), ParamError> {
        match (key, value) {
            (b"dax", ParamValue::Flag) => opts.dax = Some(DaxMode::Always),
            (b"dax", ParamValue::Str(v)) => {
                opts.dax = Some(DaxMode::parse(v).ok_or(ParamError::BadValue)?)
            }
            (b"dax", ParamValue::Other) => return Err(ParamError::BadValue),
            _ => return Err(ParamError::Unknown),
        }
        Ok(())
    }

    fn init_inode_data() -> impl PinInit<RInode, Error> {
        RInode::new()
    }

    fn fill_super(
        sb: &SuperBlock<Self, New>,
        opts: &Options,
        dax_capable: bool,
    ) -> Result<impl PinInit<SbInfo, Error>> {
        let dax_mode = opts.dax.unwrap_or(DaxMode::Inode);
        if dax_mode == DaxMode::Always && !dax_capable {
            sb_err!(sb, "dax=always: the device does not support DAX");
            return Err(EINVAL);
        }
        if let Err(e) = sb.set_blocksize(BLOCK_SIZE) {
            sb_err!(sb, "device cannot use {} byte blocks", BLOCK_SIZE);
            return Err(e);
        }
        let block = SUPERBLOCK_OFFSET / u64::from(BLOCK_SIZE);
        let bh = sb.bread(block).inspect_err(|_| {
            sb_err!(sb, "can't read the superblock (block {})", block);
        })?;
        let disk = bh.with_data(Superblock::decode).map_err(|e| {
            sb_err!(sb, "{}", e);
            sb_errno(&e)
        })?;
        drop(bh);
        disk.check_device(sb.device_bytes()).map_err(|e| {
            sb_err!(sb, "{}", e);
            sb_errno(&e)
        })?;
        let unknown_ro = disk.feature_ro_compat & !feature::RO_COMPAT_SUPP;
        if unknown_ro != 0 && !sb.read_only() {
            sb_err!(
                sb,
                "can't mount read-write: unsupported read-only-compatible features {:#x}",
                unknown_ro
            );
            return Err(EINVAL);
        }
        let geo = disk.geometry();
        let groups = read_groups(sb, &geo)?;
        let xattr_index = if disk.feature_incompat & feature::INCOMPAT_XATTR != 0 {
            let index = crate::xattr::load_index(sb, &geo)?;
            sb.enable_xattrs();
            Some(index)
        } else {
            None
        };
        if disk.state & state::DIRTY != 0 {
            sb_warn!(
                sb,
                "was not cleanly unmounted, running fsck.r2dax is recommended"
            );
        }
        if disk.orphan_head != 0 && sb.read_only() {
            sb_info!(
                sb,
                "orphan inodes stay allocated until a read-write mount frees them"
            );
        }
        sb.set_magic(MAGIC);
        sb.enable_export();
        sb.set_max_bytes(MAX_FILE_BLOCKS << BLOCK_SHIFT);
        sb_info!(
            sb,
            "mounted format {}.{}, {} blocks of {} bytes, {}, {}{}",
            disk.version_major,
            disk.version_minor,
            disk.blocks_count,
            disk.block_size,
            if sb.read_only() {
                "read-only"
            } else {
                "read-write"
            },
            dax_mode.option(),
            if dax_capable {
                ""
            } else {
                " (no DAX on this device: every file uses the page cache)"
            }
        );
        Ok(try_pin_init!(SbInfo {
            geo,
            dax_mode: ModeCell::new(dax_mode),
            dax_given: AtomicBool::new(opts.dax.is_some()),
            dax_pending <- new_mutex!(Pending::new(), "r2dax_dax_pending"),
            dax_capable,
            unwritten: disk.feature_incompat & feature::INCOMPAT_UNWRITTEN != 0,
            disk <- new_mutex!(disk, "r2dax_sb_disk"),
            alloc <- new_mutex!(AllocState { groups, dirty: false }, "r2dax_alloc"),
            xattrs: xattr_index.is_some(),
            xattr_index <- new_mutex!(xattr_index, "r2dax_xattr_index"),
        }? Error))
    }

    fn init_root(sb: &SuperBlock<Self>) -> Result<Root> {
        let root = iget(sb, u64::from(ROOT_INO))?;
        if !crate::inode::is_dir(root.mode()) {
            sb_err!(sb, "the root inode is not a directory");
            return Err(euclean());
        }
        if sb.info().disk.lock().state & state::DIRTY != 0 && crate::alloc::recount(sb)? {
            sb_info!(sb, "free space counters recomputed from the bitmaps");
        }
        if !sb.read_only() {
            mark_dirty_on_disk(sb)?;
            crate::orphan::recover(sb)?;
        }
        sb.root(root)
    }

    fn block_owner(sb: &SuperBlock<Self>, block: u64) -> Result<crate::vfs::poison::BlockOwner> {
        crate::inode::block_owner(sb, block)
    }

    fn reconfigure(sb: &SuperBlock<Self>, new_read_only: bool, opts: &Options) -> Result {
        // A shut-down filesystem changes nothing any more.
        if sb.is_shut_down() {
            return Err(EIO);
        }
        let info = sb.info();
        if opts.dax == Some(DaxMode::Always) && !info.dax_capable {
            sb_err!(sb, "dax=always: the device does not support DAX");
            return Err(EINVAL);
        }
        match (sb.read_only(), new_read_only) {
            (true, false) => {
                let unknown_ro = info.disk.lock().feature_ro_compat & !feature::RO_COMPAT_SUPP;
                if unknown_ro != 0 {
                    sb_err!(
                        sb,
                        "can't remount read-write: unsupported read-only-compatible features {:#x}",
                        unknown_ro
                    );
                    return Err(EROFS);
                }
                mark_dirty_on_disk(sb)?;
                crate::orphan::recover(sb)?;
            }
            // The VFS has synced and checked for writers already.
            (false, true) => write_state(sb, true)?,
            _ => {}
        }
        // Unlike ext4 (EINVAL) and xfs (ignored), the mode changes live,
        // for open and mapped files too (dax.rst, "A live dax= remount").
        if let Some(mode) = opts.dax {
            info.dax_given.store(true, Ordering::Relaxed);
            if mode != info.dax_mode.get() {
                crate::dax::change_mode(sb, mode);
            }
        }
        Ok(())
    }
}

impl SuperOperations for R2dax {
    fn statfs(sb: &SuperBlock<Self>) -> Result<Stat> {
        let info = sb.info();
        let (uuid, blocks) = {
            let d = info.disk.lock();
            (d.uuid, d.blocks_count)
        };
        let mut fsid = [0u8; 8];
        for (i, b) in uuid.iter().enumerate() {
            fsid[i % 8] ^= b;
        }
        let (free_blocks, free_files) = {
            let a = info.alloc.lock();
            (a.free_blocks(), a.free_inodes())
        };
        Ok(Stat {
            magic: MAGIC,
            block_size: BLOCK_SIZE,
            blocks,
            free_blocks,
            // What one file can use, its map blocks taken off (as xfs
            // sets aside what its maps may need): a file of df's
            // "Available" size fits.
            avail_blocks: crate::ondisk::data_blocks_within(free_blocks),
            files: info.geo.inodes_count(),
            free_files,
            name_len: crate::ondisk::dirent::NAME_MAX as u32,
            fsid: u64::from_le_bytes(fsid),
        })
    }

    fn write_inode(inode: &INode<Self>, _sync: bool) -> Result {
        // Every inode write is synchronous (write-through metadata).
        crate::inode::write_inode(inode)
    }

    fn evict_inode(inode: &Quiesced<'_, Self>) {
        crate::inode::evict(inode)
    }

    fn sync_fs(sb: &SuperBlock<Self>, wait: bool) -> Result {
        if sb.read_only() {
            return Ok(());
        }
        write_state(sb, false)?;
        // `sync(2)` and `syncfs(2)` end with a waiting call: what was
        // written before must then be durable on a device with a volatile
        // write cache too (as ext4 and xfs flush it here).
        if wait {
            sb.flush_device()?;
        }
        Ok(())
    }

    fn background(sb: &SuperBlock<Self>) {
        crate::dax::retry_pending(sb)
    }

    fn put_super(sb: &SuperBlock<Self>) {
        // Shut down, the filesystem writes nothing, and stays marked dirty
        // on the media: fsck or the next mount recounts.
        if !sb.read_only() && !sb.is_shut_down() {
            if let Err(e) = write_state(sb, true) {
                sb_err!(sb, "writing the superblock at unmount failed ({:?})", e);
            }
        }
    }

    fn show_options(sb: &SuperBlock<Self>, out: &mut OptionWriter<'_>) {
        let info = sb.info();
        if info.dax_given.load(Ordering::Relaxed) {
            out.push(info.dax_mode.get().option());
        }
    }
}
