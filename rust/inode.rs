// SPDX-License-Identifier: GPL-2.0
//! Inodes: reading and writing them on disk, their attributes and flags,
//! the block map's on-disk updates (inserting runs, punching, truncate),
//! eviction, and the inode operations ([`InodeOperations`]: truncate and
//! flags) (the role of fs/ext2/inode.c, without the iomap part, which is
//! `iomap.rs`).

use crate::alloc;
use crate::ondisk::{
    iflags, iflags2, map_capacity, map_height_for, map_path, map_ptr, mode, ptr_block, Inode, Slot,
    BLOCK_SHIFT, BLOCK_SIZE, INODE_SIZE, MAP_FANOUT, MAP_ROOTS, MAX_FILE_BLOCKS, MAX_MAP_HEIGHT,
};
use crate::super_::R2dax;
use crate::vfs::errno::{eopnotsupp, euclean};
use crate::vfs::inode_ops::InodeOperations;
use crate::vfs::lock::{Excl, Exclusive, InodeLocked, Quiesced};
use crate::vfs::poison::BlockOwner;
use crate::vfs::print::sb_err;
use crate::vfs::sb::SuperBlock;
use crate::vfs::vfs_inode::{Attrs, INode, Iget, Kind, NewInode};
use kernel::alloc::KVVec;
use kernel::error::code::{EEXIST, EFBIG, EINVAL, EIO};
use kernel::init::PinInit;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::types::ARef;

/// The in-memory state of an inode that the VFS inode does not hold.
#[derive(Default)]
pub(crate) struct State {
    /// The inode as last read from or written to disk.
    pub(crate) disk: Inode,
    /// Which of the two on-disk copies `disk` is in; the next write goes
    /// to the other one.
    pub(crate) copy: usize,
    /// Counts this inode's metadata writes (inode and map blocks).
    pub(crate) meta_gen: u64,
    /// `meta_gen` as of the last device cache flush that covered it: when
    /// they differ, some metadata may not be durable yet (MAP_SYNC).
    pub(crate) flushed_gen: u64,
    /// A [`write_disk`] of `disk` began and did not finish (an I/O error):
    /// the media may hold an older image than `disk`, so `fdatasync` must
    /// not trust `disk.size`.
    pub(crate) write_failed: bool,
    /// Mapped runs [`crate::iomap::map_extent`] has found.
    pub(crate) extents: crate::iomap::ExtentCache,
    /// File blocks `start..end` that appending writes allocated beyond
    /// what they wrote (speculative preallocation, see `append_extra` in
    /// `iomap.rs`): beyond the end of the file when allocated, zeroed like
    /// every new block, and given back by [`crate::iomap::trim_prealloc`]
    /// when a writer closes the file (or at eviction), or as far as a write
    /// or `fallocate` past the end jumps over it. In memory only: after a
    /// crash such blocks stay allocated beyond the size, which is a valid
    /// state (as after `fallocate(FALLOC_FL_KEEP_SIZE)`). Set and cleared
    /// only under the inode lock (appends are `write(2)`s). `fallocate`
    /// gives the range back first, so blocks it asked for are never
    /// trimmed.
    pub(crate) prealloc: Option<(u64, u64)>,
}

/// r2dax's per-inode data.
///
/// Lock order: the VFS's `i_rwsem` (and, for mapping changes, the
/// invalidate lock) and `fill` come before `state`; under `state` only the
/// allocator's lock, the superblock image's lock and buffer locks are
/// taken, and map blocks and the inode are read and written synchronously
/// (design.rst, "Lock order").
#[pin_data]
pub(crate) struct RInode {
    /// Serialises filling holes (`iomap_begin` with `IOMAP_WRITE`): a
    /// `write(2)` (under `i_rwsem`) and a page fault (under the invalidate
    /// lock, shared) can ask for the same hole at once, and must not both
    /// allocate it. Taken before `state` (and before the allocator's lock).
    #[pin]
    pub(crate) fill: Mutex<()>,
    /// Protects the on-disk image of the inode (block-map roots, height,
    /// flags, copy index). Filled while the inode is `I_NEW`.
    #[pin]
    pub(crate) state: Mutex<State>,
    /// A directory's in-memory index (`crate::dir_index`); unused for
    /// other inodes. Taken inside the directory's `i_rwsem`, before buffer
    /// locks, the allocator's lock and `state`; never two at once.
    #[pin]
    pub(crate) dir_index: Mutex<crate::dir_index::DirIndex>,
    /// The inode's extended attributes (`crate::xattr`): serialises their
    /// readers and writers and caches the attribute block's number. Taken
    /// inside `i_rwsem` (writers hold it), before the superblock's
    /// `xattr_index` and before `state`.
    #[pin]
    pub(crate) xattr: Mutex<crate::xattr::Cache>,
    /// The block map's generation: moves on (under `state`) before any
    /// pointer of the map is cleared (`map_punch`: truncate, punch hole,
    /// zero range, the preallocation trim) or a shift switches to a new
    /// map (collapse and insert range, `shift.rs`). A mapping handed out by
    /// `iomap_begin` carries the generation it was read at, and writeback
    /// reuses a mapping only while it is current, so it never writes a
    /// folio to a block that was freed (and maybe reused) meanwhile.
    /// Filling holes does not move it: no mapped block changes.
    pub(crate) map_gen: core::sync::atomic::AtomicU64,
}

impl RInode {
    /// Initialiser for a newly allocated inode.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(RInode {
            fill <- new_mutex!((), "r2dax_inode_fill"),
            state <- new_mutex!(State::default(), "r2dax_inode_state"),
            dir_index <- new_mutex!(crate::dir_index::DirIndex::Unbuilt, "r2dax_dir_index"),
            xattr <- new_mutex!(crate::xattr::Cache::default(), "r2dax_inode_xattr"),
            map_gen: core::sync::atomic::AtomicU64::new(0),
        }? Error)
    }
}

/// Whether `m` is a directory's mode.
pub(crate) fn is_dir(m: u16) -> bool {
    m & mode::S_IFMT == mode::S_IFDIR
}

/// Reads and decodes the slot of inode `ino` (`EUCLEAN` if the number is
/// out of range, the decoding error as the inner result).
pub(crate) fn read_slot(
    sb: &SuperBlock<R2dax>,
    ino: u64,
) -> Result<core::result::Result<Slot, crate::ondisk::InodeError>> {
    let geo = &sb.info().geo;
    let Some((ino32, (blk, off))) = u32::try_from(ino)
        .ok()
        .and_then(|i| Some((i, geo.inode_location(i)?)))
    else {
        sb_err!(sb, "inode number {} is out of range", ino);
        return Err(euclean());
    };
    let bh = sb.bread(blk)?;
    let mut slot = [0u8; INODE_SIZE];
    bh.with_data(|d| {
        d.get(off..off + INODE_SIZE)
            .map(|s| slot.copy_from_slice(s))
            .ok_or(EIO)
    })?;
    Ok(Inode::decode_slot(&slot, ino32))
}

/// Reads and validates the on-disk inode `ino`, which must be in use.
pub(crate) fn read_disk(sb: &SuperBlock<R2dax>, ino: u64) -> Result<State> {
    match read_slot(sb, ino)? {
        Ok(Slot::Used { inode, copy }) => Ok(State {
            disk: inode,
            copy,
            ..State::default()
        }),
        Ok(Slot::Free) => {
            sb_err!(sb, "inode {} is referenced but free", ino);
            Err(euclean())
        }
        Err(e) => {
            sb_err!(sb, "inode {}: {}", ino, e);
            Err(euclean())
        }
    }
}

/// Gets inode `ino` from the inode cache or reads it from disk.
pub(crate) fn iget(sb: &SuperBlock<R2dax>, ino: u64) -> Result<ARef<INode<R2dax>>> {
    iget_as(sb, ino, false)
}

/// [`iget`] for a file handle (`handle`): a free or unlinked inode is then
/// a stale handle (`ESTALE`, nothing logged), not a reference to a free
/// inode (`EUCLEAN`). The number must be in range.
pub(crate) fn iget_as(
    sb: &SuperBlock<R2dax>,
    ino: u64,
    handle: bool,
) -> Result<ARef<INode<R2dax>>> {
    let geo = &sb.info().geo;
    if !u32::try_from(ino).is_ok_and(|i| geo.valid_ino(i)) {
        sb_err!(sb, "inode number {} is out of range", ino);
        return Err(euclean());
    }
    let new = match sb.iget(ino)? {
        Iget::Cached(inode) => return Ok(inode),
        Iget::New(new) => new,
    };
    let State { disk, copy, .. } = if handle {
        match read_slot(sb, ino)? {
            Ok(Slot::Used { inode, .. }) if inode.links == 0 => {
                return Err(crate::vfs::errno::estale())
            }
            Ok(Slot::Free) => return Err(crate::vfs::errno::estale()),
            _ => read_disk(sb, ino)?,
        }
    } else {
        read_disk(sb, ino)?
    };
    if disk.links == 0 {
        sb_err!(sb, "inode {} is referenced but has no links", ino);
        return Err(euclean());
    }
    let attrs = Attrs {
        mode: disk.mode,
        nlink: disk.links,
        uid: disk.uid,
        gid: disk.gid,
        size: disk.size,
        blocks: disk.blocks,
        generation: disk.generation,
        atime: (disk.atime, disk.atime_ns),
        mtime: (disk.mtime, disk.mtime_ns),
        ctime: (disk.ctime, disk.ctime_ns),
    };
    let inline = disk.inline_data();
    let kind = match disk.mode & mode::S_IFMT {
        mode::S_IFDIR => {
            if disk.size == 0 {
                sb_err!(sb, "directory {} has no blocks", ino);
                return Err(euclean());
            }
            Kind::Dir
        }
        mode::S_IFREG => Kind::Reg(crate::dax::wants_dax(sb, disk.flags)),
        mode::S_IFLNK if disk.iflags2 & iflags2::INLINE != 0 => {
            // Inode::validate bounds an inline target by the roots' size.
            Kind::InlineSymlink(inline.get(..disk.size as usize).ok_or(EIO)?)
        }
        mode::S_IFLNK => Kind::Symlink,
        _ => Kind::Special(disk.roots[0] as u32),
    };
    // Whether this inode's last metadata writes (before it was evicted)
    // were covered by a device flush is not known: count them as not
    // flushed, so the first MAP_SYNC fault that asks flushes first.
    *new.data().state.lock() = State {
        disk,
        copy,
        meta_gen: 1,
        ..State::default()
    };
    new.inode().apply_flags(disk.flags);
    new.finish(&attrs, kind)
}

/// The pointer at `idx` of map block `block` (its bounds are the format's).
pub(crate) fn read_ptr(block: &[u8], idx: usize) -> Result<u64> {
    map_ptr(block, idx).ok_or(EIO)
}

/// The pointers of map block `blk`, as the buffer cache has them.
fn read_map_block(sb: &SuperBlock<R2dax>, blk: u64) -> Result<KVVec<u64>> {
    let mut ptrs = KVVec::from_elem(0u64, MAP_FANOUT as usize, GFP_KERNEL)?;
    sb.bread(blk)?.with_data(|d| {
        for (i, p) in ptrs.iter_mut().enumerate() {
            *p = read_ptr(d, i).unwrap_or(0);
        }
    });
    Ok(ptrs)
}

/// Stores `ptrs` as the pointers of a map block's data `d`.
pub(crate) fn write_ptrs(d: &mut [u8], ptrs: &[u64]) {
    for (i, p) in ptrs.iter().enumerate() {
        if let Some(dst) = d.get_mut(i * 8..i * 8 + 8) {
            dst.copy_from_slice(&p.to_le_bytes());
        }
    }
}

/// Writes `st.disk` as inode `ino` into the copy not holding the current
/// state, synchronously, then makes it current (see the "two copies" rule
/// in ondisk.rst: a torn write leaves the previous copy intact).
pub(crate) fn write_disk(sb: &SuperBlock<R2dax>, ino: u64, st: &mut State) -> Result {
    st.disk.seq = st.disk.seq.wrapping_add(1);
    st.write_failed = true;
    let bh = encode_pending(sb, ino, st)?;
    bh.sync()?;
    st.copy ^= 1;
    st.meta_gen = st.meta_gen.wrapping_add(1);
    st.write_failed = false;
    Ok(())
}

/// Encodes `st.disk` into the copy of inode `ino`'s slot that the next
/// [`write_disk`] fills (the one not holding the current state), in the
/// buffer cache only, and returns the (dirty) buffer.
fn encode_pending(
    sb: &SuperBlock<R2dax>,
    ino: u64,
    st: &State,
) -> Result<crate::vfs::buffer::Buffer> {
    let geo = &sb.info().geo;
    let ino32 = u32::try_from(ino).map_err(|_| EIO)?;
    let (blk, off) = geo.inode_location(ino32).ok_or(EIO)?;
    let copy = st.copy ^ 1;
    let bh = sb.bread(blk)?;
    bh.with_data_mut(|d| {
        let area = d.get_mut(off..off + INODE_SIZE).ok_or(EIO)?;
        let mut slot = [0u8; INODE_SIZE];
        slot.copy_from_slice(area);
        st.disk.encode_copy(&mut slot, copy, ino32);
        area.copy_from_slice(&slot);
        Ok::<(), Error>(())
    })?;
    Ok(bh)
}

/// Copies the attributes the VFS owns for every inode (mode, owner,
/// times) from `a` into `d`.
fn copy_owned_attrs(d: &mut Inode, a: &Attrs) {
    d.mode = a.mode;
    d.uid = a.uid;
    d.gid = a.gid;
    (d.atime, d.atime_ns) = a.atime;
    (d.mtime, d.mtime_ns) = a.mtime;
    (d.ctime, d.ctime_ns) = a.ctime;
}

/// Copies the VFS inode's attributes into `st.disk`.
pub(crate) fn sync_attrs(inode: &INode<R2dax>, st: &mut State) {
    let a = inode.attrs();
    let d = &mut st.disk;
    copy_owned_attrs(d, &a);
    d.links = a.nlink;
    d.size = a.size;
    d.generation = a.generation;
}

/// `->write_inode`, and the ordering point the namespace operations use:
/// the inode is on the media when this returns.
pub(crate) fn write_inode(inode: &INode<R2dax>) -> Result {
    let mut st = inode.data().state.lock();
    sync_attrs(inode, &mut st);
    write_disk(inode.sb(), inode.ino(), &mut st)
}

/// Sets up and writes the on-disk inode of a newly created inode.
pub(crate) fn init_new(new: &NewInode<R2dax>, mut disk: Inode) -> Result<Attrs> {
    let inode = new.inode();
    let mut attrs = inode.attrs();
    attrs.nlink = disk.links;
    attrs.size = disk.size;
    attrs.blocks = disk.blocks;
    copy_owned_attrs(&mut disk, &attrs);
    // The generation file handles carry: an inode never written again
    // before it is evicted is read back with this one.
    disk.generation = attrs.generation;
    let mut st = inode.data().state.lock();
    // Copy 1 is "current", so the first write fills copy 0.
    *st = State {
        disk,
        copy: 1,
        ..State::default()
    };
    write_disk(inode.sb(), inode.ino(), &mut st)?;
    Ok(attrs)
}

/// Reads pointer `idx` of map block `blk`.
fn map_read(sb: &SuperBlock<R2dax>, blk: u64, idx: usize) -> Result<u64> {
    if !sb.info().geo.is_data_block(blk) {
        sb_err!(sb, "map block {} is outside the data area", blk);
        return Err(euclean());
    }
    sb.bread(blk)?.with_data(|d| read_ptr(d, idx))
}

/// Writes pointer `idx` of map block `blk`, synchronously.
fn map_write(sb: &SuperBlock<R2dax>, blk: u64, idx: usize, val: u64) -> Result {
    let bh = sb.bread(blk)?;
    bh.with_data_mut(|d| {
        d.get_mut(idx * 8..idx * 8 + 8)
            .map(|p| p.copy_from_slice(&val.to_le_bytes()))
            .ok_or(EIO)
    })?;
    bh.sync()
}

/// A new zeroed map block near group `goal`, counted in `st`; the caller
/// links it into the map before anything can fail.
fn new_map_block(
    sb: &SuperBlock<R2dax>,
    goal: u32,
    st: &mut State,
) -> Result<(u64, crate::vfs::buffer::Buffer)> {
    // Zeroed in the buffer cache, where map_read and map_write find it.
    let (b, bh) = alloc::alloc_meta(sb, goal)?;
    st.disk.blocks += 1;
    Ok((b, bh))
}

/// Points file block `lblk` at device block `pblk` (already written),
/// growing the map as needed. Map blocks are written before anything
/// points at them; the roots change in `st` only, and the caller writes
/// the inode afterwards.
pub(crate) fn map_insert(
    sb: &SuperBlock<R2dax>,
    goal: u32,
    st: &mut State,
    lblk: u64,
    pblk: u64,
) -> Result {
    let needed = map_height_for(lblk);
    if st.disk.height < needed && st.disk.roots.iter().all(|&r| r == 0) {
        // An empty map grows for free.
        st.disk.height = needed;
    }
    while st.disk.height < needed {
        // The roots move into a new map block, which root 0 points to.
        // The block is part of the map in memory from here on, even if
        // its write fails (the buffer stays dirty and reaches the disk
        // later): counted, linked, never freed by an error path.
        let (b, bh) = new_map_block(sb, goal, st)?;
        let roots = st.disk.roots;
        bh.with_data_mut(|d| {
            for (i, r) in roots.iter().enumerate() {
                d[i * 8..i * 8 + 8].copy_from_slice(&r.to_le_bytes());
            }
        });
        st.disk.roots = [b, 0, 0, 0, 0];
        st.disk.height += 1;
        bh.sync()?;
    }
    let (root, path) = map_path(lblk, st.disk.height).ok_or(EFBIG)?;
    let h = st.disk.height as usize;
    if h == 0 {
        st.disk.roots[root] = pblk;
        return Ok(());
    }
    let mut node = st.disk.roots[root];
    if node == 0 {
        node = new_map_block(sb, goal, st)?.0;
        st.disk.roots[root] = node;
    }
    for &idx in path.iter().take(h - 1) {
        let mut child = map_read(sb, node, idx)?;
        if child == 0 {
            // `map_read` just read `node`, so `map_write` finds it in the
            // buffer cache and stores the pointer before it can fail.
            child = new_map_block(sb, goal, st)?.0;
            map_write(sb, node, idx, child)?;
        }
        node = child;
    }
    map_write(sb, node, path[h - 1], pblk)
}

/// The pointer the map of `disk` holds for file block `lblk` (0 for a
/// hole), as the buffer cache has it: what the map says in memory, whether
/// or not its latest writes reached the media.
pub(crate) fn map_lookup(sb: &SuperBlock<R2dax>, disk: &Inode, lblk: u64) -> Result<u64> {
    let Some((root, path)) = map_path(lblk, disk.height) else {
        return Ok(0);
    };
    let mut p = disk.roots.get(root).copied().unwrap_or(0);
    for &idx in path.iter().take(disk.height as usize) {
        if p == 0 {
            return Ok(0);
        }
        p = map_read(sb, p, idx)?;
    }
    Ok(p)
}

/// Points file blocks `lblk..lblk + n` at device blocks `pblk..pblk + n`
/// (already zeroed or written). A run that stays in one leaf costs one
/// leaf write.
pub(crate) fn map_insert_run(
    sb: &SuperBlock<R2dax>,
    goal: u32,
    st: &mut State,
    lblk: u64,
    pblk: u64,
    n: u64,
) -> Result {
    let mut done = 0;
    while done < n {
        let l = lblk + done;
        // Make sure the path to `l` exists (this writes its pointer).
        map_insert(sb, goal, st, l, pblk + done)?;
        done += 1;
        let h = st.disk.height as usize;
        if h == 0 {
            continue;
        }
        // The rest of this leaf in one write.
        let (root, path) = map_path(l, st.disk.height).ok_or(EFBIG)?;
        let idx = path[h - 1];
        let k = (n - done).min(MAP_FANOUT - 1 - idx as u64);
        if k == 0 {
            continue;
        }
        let mut node = st.disk.roots[root];
        for &i in path.iter().take(h - 1) {
            node = map_read(sb, node, i)?;
        }
        let bh = sb.bread(node)?;
        let first = pblk + done;
        bh.with_data_mut(|d| {
            for j in 0..k as usize {
                let at = (idx + 1 + j) * 8;
                if let Some(p) = d.get_mut(at..at + 8) {
                    p.copy_from_slice(&(first + j as u64).to_le_bytes());
                }
            }
        });
        bh.sync()?;
        done += k;
    }
    Ok(())
}

/// Clears every pointer of the map for file blocks in `from..to` and
/// returns the blocks they owned (data blocks, and map blocks whose whole
/// range was cut), sorted. Map blocks are rewritten synchronously; the
/// roots change in `st`, and the caller writes the inode before freeing.
///
/// A map block whose write fails is still cut (in memory, and its buffer
/// is written again later, see design.rst, "When a metadata write
/// fails"): the cut goes on, and the first such error is left in `late`.
fn map_punch(
    sb: &SuperBlock<R2dax>,
    st: &mut State,
    from: u64,
    to: u64,
    late: &mut Result,
) -> Result<KVVec<u64>> {
    // Before any pointer changes: a cached run must never outlive one.
    st.extents.clear();
    let mut freed = KVVec::new();
    if st.disk.iflags2 & iflags2::INLINE != 0 || !mode::has_map(st.disk.mode) {
        return Ok(freed);
    }
    let h = st.disk.height;
    // Blocks one root covers.
    let span = cover(h);
    for r in 0..MAP_ROOTS {
        let p = st.disk.roots[r];
        let base = r as u64 * span;
        if p == 0 || base + span <= from || base >= to {
            continue;
        }
        if truncate_node(sb, p, h, base, span, from, to, &mut freed, late)? {
            st.disk.roots[r] = 0;
        }
    }
    if st.disk.roots.iter().all(|&r| r == 0) {
        st.disk.height = 0;
    }
    freed.sort_unstable();
    Ok(freed)
}

/// Cuts file blocks `from..to` out of the subtree of `blk` (depth `depth`,
/// covering the `span` file blocks from `base`). Returns whether `blk`
/// itself is to be freed (its whole range is cut); it is then in `freed`.
#[allow(clippy::too_many_arguments)]
fn truncate_node(
    sb: &SuperBlock<R2dax>,
    blk: u64,
    depth: u8,
    base: u64,
    span: u64,
    from: u64,
    to: u64,
    freed: &mut KVVec<u64>,
    late: &mut Result,
) -> Result<bool> {
    let whole = base >= from && base.saturating_add(span) <= to;
    // A data block's pointer may say it is unwritten; map blocks' never do.
    let blk = if depth == 0 { ptr_block(blk) } else { blk };
    if !sb.info().geo.is_data_block(blk) {
        sb_err!(sb, "block {} is outside the data area", blk);
        return Err(euclean());
    }
    if depth == 0 {
        if whole {
            freed.push(blk, GFP_KERNEL)?;
            return Ok(true);
        }
        return Ok(false);
    }
    let child_span = cover(depth - 1);
    let mut ptrs = read_map_block(sb, blk)?;
    let mut changed = false;
    for i in 0..MAP_FANOUT as usize {
        let p = ptrs[i];
        let cbase = base + i as u64 * child_span;
        if p == 0 || cbase + child_span <= from || cbase >= to {
            continue;
        }
        if truncate_node(sb, p, depth - 1, cbase, child_span, from, to, freed, late)? {
            ptrs[i] = 0;
            changed = true;
        }
    }
    if whole && ptrs.iter().all(|&p| p == 0) {
        freed.push(blk, GFP_KERNEL)?;
        return Ok(true);
    }
    if changed {
        let bh = sb.bread(blk)?;
        bh.with_data_mut(|d| write_ptrs(d, &ptrs));
        if let Err(e) = bh.sync() {
            if late.is_ok() {
                *late = Err(e);
            }
        }
    }
    Ok(false)
}

/// Removes file blocks `from..to` from `inode`, in the order of the crash
/// rules: the map pointers are cleared (map blocks written), the inode is
/// written, and only then are the blocks freed in the bitmaps. The caller
/// has dropped the page cache of the range.
pub(crate) fn release_blocks(inode: &Quiesced<'_, R2dax>, from: u64, to: u64) -> Result {
    let sb = inode.sb();
    let mut st = inode.data().state.lock();
    // Before any pointer changes, under `state` (which every map lookup
    // takes): no mapping made from here on is older than the punch.
    inode
        .data()
        .map_gen
        .fetch_add(1, core::sync::atomic::Ordering::AcqRel);
    let mut late = Ok(());
    let freed = map_punch(sb, &mut st, from, to, &mut late)?;
    st.disk.blocks = st.disk.blocks.saturating_sub(freed.len() as u64);
    inode.set_blocks(st.disk.blocks);
    sync_attrs(inode, &mut st);
    // The map no longer names the blocks in memory, whichever of these
    // writes fails (their buffers are written again later): they go back
    // either way, and the first error is reported.
    let late = late.and(write_disk(sb, inode.ino(), &mut st));
    drop(st);
    late.and(free_sorted(sb, &freed))
}

/// Every block `st.disk` owns, map blocks included, sorted.
fn owned_blocks(sb: &SuperBlock<R2dax>, st: &State) -> Result<KVVec<u64>> {
    let mut out = KVVec::new();
    map_walk(sb, &st.disk, &mut |found| {
        let b = match found {
            Found::Map(b) => b,
            Found::Data { ptr, .. } => ptr_block(ptr),
        };
        Ok(out.push(b, GFP_KERNEL)?)
    })?;
    out.sort_unstable();
    Ok(out)
}

/// What a walk of a map finds, in file order.
pub(crate) enum Found {
    /// A map block (found before the blocks it points to).
    Map(u64),
    /// The pointer of file block `lblk` (with its `PTR_UNWRITTEN` bit).
    Data { lblk: u64, ptr: u64 },
}

/// Blocks one pointer at map level `level` covers (`MAP_FANOUT^level`;
/// level 0 is a data block).
pub(crate) fn cover(level: u8) -> u64 {
    map_capacity(level) / MAP_ROOTS as u64
}

/// Calls `f` for every map block and every data pointer of the map of
/// `disk` (none for an inline symlink), in file order. Every pointer is
/// checked to be in the data area (`EUCLEAN` otherwise) before `f` sees
/// it.
pub(crate) fn map_walk(
    sb: &SuperBlock<R2dax>,
    disk: &Inode,
    f: &mut dyn FnMut(Found) -> Result,
) -> Result {
    if disk.iflags2 & iflags2::INLINE != 0 || !mode::has_map(disk.mode) {
        return Ok(());
    }
    if disk.height > MAX_MAP_HEIGHT {
        sb_err!(sb, "block map height {} is out of range", disk.height);
        return Err(euclean());
    }
    let span = cover(disk.height);
    for (r, &p) in disk.roots.iter().enumerate() {
        if p != 0 {
            map_walk_node(sb, p, disk.height, r as u64 * span, f)?;
        }
    }
    Ok(())
}

/// [`map_walk`] below pointer `p` at level `level`, which covers the file
/// blocks from `base`.
fn map_walk_node(
    sb: &SuperBlock<R2dax>,
    p: u64,
    level: u8,
    base: u64,
    f: &mut dyn FnMut(Found) -> Result,
) -> Result {
    // A data block's pointer may say it is unwritten; map blocks' never do.
    let blk = if level == 0 { ptr_block(p) } else { p };
    if !sb.info().geo.is_data_block(blk) {
        sb_err!(sb, "block {} is outside the data area", blk);
        return Err(euclean());
    }
    if level == 0 {
        return f(Found::Data { lblk: base, ptr: p });
    }
    f(Found::Map(blk))?;
    let ptrs = read_map_block(sb, blk)?;
    let child = cover(level - 1);
    for (i, &q) in ptrs.iter().enumerate() {
        if q != 0 {
            map_walk_node(sb, q, level - 1, base + i as u64 * child, f)?;
        }
    }
    Ok(())
}

/// Frees sorted `blocks`, a contiguous run at a time; a run that fails
/// does not stop the others (the first error is returned).
pub(crate) fn free_sorted(sb: &SuperBlock<R2dax>, blocks: &[u64]) -> Result {
    let geo = &sb.info().geo;
    let mut res = Ok(());
    let mut i = 0;
    while i < blocks.len() {
        let start = blocks[i];
        let group = geo.block_group(start).map(|g| g.0);
        let mut n = 1;
        while i + n < blocks.len()
            && blocks[i + n] == start + n as u64
            && geo.block_group(blocks[i + n]).map(|g| g.0) == group
        {
            n += 1;
        }
        if let Err(e) = alloc::free_blocks(sb, start, n as u64) {
            res = res.and(Err(e));
        }
        i += n;
    }
    res
}

/// Frees on-disk inode `ino` (whose image is `st`) and everything it owns:
/// its attributes first (crash rule 8: so that the next inode of this
/// number starts without them), then its slot is cleared, so nothing
/// points at its blocks any more, then its blocks and its inode number
/// are freed. A crash in between leaks what fsck reclaims.
pub(crate) fn free_on_disk(sb: &SuperBlock<R2dax>, ino: u64, st: &State) -> Result {
    let blocks = owned_blocks(sb, st)?;
    let is_dir = is_dir(st.disk.mode);
    let ino = u32::try_from(ino).map_err(|_| EIO)?;
    // A failure leaves the entry (and its block) for fsck; the inode is
    // freed all the same, as for its other blocks.
    let xr = crate::xattr::drop_all(sb, ino);
    let (blk, off) = sb.info().geo.inode_location(ino).ok_or(EIO)?;
    let bh = sb.bread(blk)?;
    bh.with_data_mut(|d| d.get_mut(off..off + INODE_SIZE).map(|s| s.fill(0)));
    // The slot no longer names anything (in memory, and on the media
    // once the buffer is written: a failed write is retried): everything
    // goes back, whatever fails on the way.
    let r = xr.and(bh.sync());
    let r = r.and(free_sorted(sb, &blocks));
    r.and(alloc::free_inode(sb, ino, is_dir))
}

/// `->evict_inode`: an inode without links leaves the orphan list and is
/// freed on disk ([`free_on_disk`]).
pub(crate) fn evict(inode: &Quiesced<'_, R2dax>) {
    let sb = inode.sb();
    if inode.is_bad() || sb.read_only() {
        return;
    }
    if inode.nlink() != 0 {
        // Normally trimmed at close already; a trim that failed there
        // (an I/O error) is retried once here.
        if let Err(e) = crate::iomap::trim_prealloc(inode) {
            sb_err!(
                sb,
                "inode {}: giving back preallocated blocks failed ({:?}); they stay allocated beyond the end of the file",
                inode.ino(),
                e
            );
        }
        return;
    }
    let res = (|| -> Result {
        crate::orphan::remove(inode)?;
        // No one else can reach the inode now: copy its image out.
        let st = {
            let st = inode.data().state.lock();
            State {
                disk: st.disk,
                copy: st.copy,
                ..State::default()
            }
        };
        free_on_disk(sb, inode.ino(), &st)
    })();
    if let Err(e) = res {
        sb_err!(
            sb,
            "freeing inode {} failed ({:?}); fsck.r2dax will reclaim it",
            inode.ino(),
            e
        );
    }
}

/// The inode operations (the role of `ext2_setattr` and the flag ioctls
/// of fs/ext2/inode.c and ioctl.c).
impl InodeOperations for R2dax {
    /// Changes the size of a regular file. Shrinking zeroes the tail of the
    /// new last block (through the page cache, so no stale bytes come back if
    /// the file grows again), drops the page cache beyond, clears the map
    /// pointers and writes the inode, and only then frees the blocks. A
    /// truncate to the current size frees the blocks beyond it too
    /// (`fallocate -k`'s, an append's preallocation), as ext4 and xfs do
    /// (generic/092); the layer calls this for it.
    fn setattr_size(inode: &Quiesced<'_, Self>, size: u64) -> Result {
        if !matches!(inode.mode() & mode::S_IFMT, mode::S_IFREG) {
            return Err(EINVAL);
        }
        if size > MAX_FILE_BLOCKS << BLOCK_SHIFT {
            return Err(EFBIG);
        }
        let old = inode.size();
        if size > old {
            // Growing over an append preallocation would turn it into file
            // blocks; give it back first, so the new range is a hole, as it
            // would be without preallocation.
            crate::iomap::trim_prealloc(inode)?;
        }
        // Shrinking zeroes the new last block beyond the size. Growing zeroes
        // the old one's: a store through a mapping may have left bytes beyond
        // the old size in that block (in the page cache, or on the media for
        // DAX), and the new size must not expose them. The page cache would
        // clear them at writeback only, and `pagecache_isize_extended` does
        // nothing when the block size is the page size.
        if size < old {
            inode.zero_tail(size)?;
        } else if size > old {
            inode.zero_tail(old)?;
        }
        if size != old {
            inode.truncate_setsize(size)?;
            inode.touch_mtime();
        }
        if size <= old {
            // Everything beyond the size goes, the recorded preallocation
            // with it.
            let r = release_blocks(inode, size.div_ceil(u64::from(BLOCK_SIZE)), u64::MAX);
            inode.data().state.lock().prealloc = None;
            r
        } else {
            write_inode(inode)
        }
    }

    /// The stored flags.
    fn get_flags(inode: &INode<Self>) -> u32 {
        inode.data().state.lock().disk.flags
    }

    /// Sets the inode's stored flags (chattr). Flags r2dax does not keep, and
    /// `FS_IOC_FSSETXATTR` fields without a flag equivalent (extent size,
    /// project id), are refused with `EOPNOTSUPP`, as ext4 does.
    ///
    /// On a regular file whose effective DAX mode the new flags change
    /// (`dax=inode`, a DAX device), the mode switches before this returns, or
    /// nothing changes and the call fails with `EBUSY` (mapped or pinned); see
    /// [`crate::dax`]. The VFS holds the inode lock. A file pending after a
    /// remount (`crate::dax::change_mode`) never switches here: the new
    /// flags either leave the mode it wants alone (it stays pending) or
    /// make it want the mode it has (it is no longer pending).
    fn set_flags(inode: &InodeLocked<'_, Self, Excl>, flags: u32, fsx_only: bool) -> Result {
        if fsx_only || flags & !iflags::KNOWN != 0 {
            return Err(eopnotsupp());
        }
        // All or nothing: if the inode write fails, the flags, ctime and the
        // inode's image go back to what they were, in memory and in the
        // buffer the failed write left dirty (which reaches the disk later):
        // a failed chattr changes nothing, now or at the next inode write.
        let commit = || {
            let mut st = inode.data().state.lock();
            let (old_disk, old_attrs) = (st.disk, inode.attrs());
            st.disk.flags = flags;
            inode.apply_flags(flags);
            inode.touch_ctime();
            sync_attrs(inode, &mut st);
            let Err(e) = write_disk(inode.sb(), inode.ino(), &mut st) else {
                return Ok(());
            };
            // The failed copy carries the newest sequence number; the old
            // image takes its place under it.
            st.disk = Inode {
                seq: st.disk.seq,
                ..old_disk
            };
            inode.apply_flags(old_disk.flags);
            inode.set_times(old_attrs.atime, old_attrs.mtime, old_attrs.ctime);
            if let Err(e2) = encode_pending(inode.sb(), inode.ino(), &st) {
                sb_err!(
                    inode.sb(),
                    "inode {}: undoing a failed flag change failed ({:?})",
                    inode.ino(),
                    e2
                );
            }
            Err(e)
        };
        if inode.mode() & mode::S_IFMT == mode::S_IFREG {
            let old = crate::dax::wants_dax(inode.sb(), Self::get_flags(inode));
            let want = crate::dax::wants_dax(inode.sb(), flags);
            // Only a change of the mode the file wants switches it. For a
            // file pending after a remount (it wants the other mode than
            // it has) that never happens, so a flag change is not refused
            // because a remount's switch is waiting.
            if want != inode.is_dax() && want != old {
                return crate::dax::switch(inode, want, commit);
            }
        }
        commit()
    }
}

/// What device block `block` holds, for a report of poisoned memory:
/// group metadata by the layout, a free block by the block bitmap, and
/// otherwise the owner found by scanning every inode in use and its block
/// map (a cached inode's map as it is in memory, the others' as on disk).
/// There is no reverse map: the scan reads the inode bitmaps, the slot of
/// every inode in use and every map block, up to the owner. It takes no
/// lock of the inodes it reads: a block that moves meanwhile may be
/// found at its old place or not at all (`Unknown`).
pub(crate) fn block_owner(sb: &SuperBlock<R2dax>, block: u64) -> Result<BlockOwner> {
    let geo = sb.info().geo;
    if block >= geo.blocks_count {
        return Ok(BlockOwner::Unknown);
    }
    // The superblock and descriptors (before the first group) and each
    // group's bitmaps and inode table.
    let Some((g, bit)) = geo.block_group(block).filter(|_| geo.is_data_block(block)) else {
        return Ok(BlockOwner::Metadata {
            what: "group metadata (superblock, descriptors, bitmaps, inode table)",
            ino: 0,
        });
    };
    if !sb
        .bread(geo.block_bitmap(g))?
        .with_data(|bits| crate::ondisk::test_bit(bits, bit))
    {
        return Ok(BlockOwner::Free);
    }
    let ipg = geo.inodes_per_group;
    let mut ibits = KVVec::from_elem(0u8, BLOCK_SIZE as usize, GFP_KERNEL)?;
    for g in 0..geo.group_count {
        sb.bread(geo.inode_bitmap(g))?.with_data(|bits| {
            let n = bits.len().min(ibits.len());
            ibits[..n].copy_from_slice(&bits[..n]);
        });
        for bit in 0..ipg {
            if !crate::ondisk::test_bit(&ibits, bit) {
                continue;
            }
            let ino = u64::from(g) * u64::from(ipg) + u64::from(bit) + 1;
            let disk = match sb.ilookup(ino) {
                Some(i) => i.data().state.lock().disk,
                None => match read_slot(sb, ino)? {
                    Ok(Slot::Used { inode, .. }) => inode,
                    _ => continue,
                },
            };
            // (is a map block, file block) of the hit; the walk stops there.
            let mut hit = None;
            let _ = map_walk(sb, &disk, &mut |f| {
                let h = match f {
                    Found::Map(b) => (b == block).then_some((true, 0)),
                    Found::Data { lblk, ptr } => (ptr_block(ptr) == block).then_some((false, lblk)),
                };
                match h {
                    Some(h) => {
                        hit = Some(h);
                        Err(EEXIST)
                    }
                    None => Ok(()),
                }
            });
            let Some((map, lblk)) = hit else {
                continue;
            };
            return Ok(match disk.mode & mode::S_IFMT {
                _ if ino == u64::from(crate::ondisk::XATTR_INDEX_INO) => BlockOwner::Metadata {
                    what: "the extended-attribute index",
                    ino: 0,
                },
                _ if map => BlockOwner::Metadata {
                    what: "a block map",
                    ino,
                },
                mode::S_IFREG => BlockOwner::File {
                    ino,
                    offset: lblk << BLOCK_SHIFT,
                },
                mode::S_IFDIR => BlockOwner::Metadata {
                    what: "a directory",
                    ino,
                },
                _ => BlockOwner::Metadata {
                    what: "a symbolic link",
                    ino,
                },
            });
        }
    }
    // Not in any map: an inode's attribute block, or nothing known.
    Ok(match crate::xattr::owner_of_block(sb, block)? {
        Some(ino) => BlockOwner::Metadata {
            what: "extended attributes",
            ino: u64::from(ino),
        },
        None => BlockOwner::Unknown,
    })
}
