// SPDX-License-Identifier: GPL-2.0
//! DAX policy: the `dax=` mount option and, per inode, which files use
//! DAX (the role of the DAX parts of fs/ext4/inode.c and fs/xfs/xfs_iops.c).
//!
//! The semantics are in Documentation/filesystems/r2dax/dax.rst.

use crate::ioctl;
use crate::ondisk::{iflags, mode};
use crate::super_::R2dax;
use crate::vfs::dax_mode::{SwitchError, PIN_WAIT_MS};
use crate::vfs::file_ops::IoctlOut;
use crate::vfs::lock::{Excl, InodeLocked};
use crate::vfs::print::{sb_err, sb_info, sb_warn};
use crate::vfs::sb::SuperBlock;
use crate::vfs::uapi::{self, mount_mode, status, DaxStatus, R2DAX_IOC_DAX_STATUS};
use crate::vfs::vfs_inode::INode;
use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};
use kernel::alloc::KVVec;
use kernel::error::code::{EBUSY, ENOTTY};
use kernel::prelude::*;
use kernel::str::CStr;

/// The `dax=` mount option.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum DaxMode {
    /// Every regular file uses DAX (`dax=always`, or plain `dax`).
    Always,
    /// No file uses DAX; the per-inode flag is stored but has no effect.
    Never,
    /// A regular file uses DAX when its flag is set (the default).
    Inode,
}

impl DaxMode {
    /// Parses the value of `dax=`.
    pub(crate) fn parse(value: &[u8]) -> Option<Self> {
        match value {
            b"always" => Some(Self::Always),
            b"never" => Some(Self::Never),
            b"inode" => Some(Self::Inode),
            _ => None,
        }
    }

    /// The option as /proc/mounts shows it.
    pub(crate) fn option(self) -> &'static CStr {
        match self {
            Self::Always => kernel::c_str!("dax=always"),
            Self::Never => kernel::c_str!("dax=never"),
            Self::Inode => kernel::c_str!("dax=inode"),
        }
    }
}

/// The `dax=` mode of a mount, which a remount may change
/// ([`change_mode`]); read without a lock.
///
/// Who reads it, and why each sees a change in time (dax.rst, "A live
/// dax= remount"): an inode being read in or created reads it once hashed
/// and `I_NEW` ([`change_mode`]'s walk waits for those, or they come after
/// the walk and read the new mode); a flag change reads it under the inode
/// lock, which the walk takes for every regular file after storing.
pub(crate) struct ModeCell(AtomicU8);

impl ModeCell {
    pub(crate) fn new(mode: DaxMode) -> Self {
        Self(AtomicU8::new(mode as u8))
    }

    /// The mode now.
    pub(crate) fn get(&self) -> DaxMode {
        match self.0.load(Ordering::Acquire) {
            x if x == DaxMode::Always as u8 => DaxMode::Always,
            x if x == DaxMode::Never as u8 => DaxMode::Never,
            _ => DaxMode::Inode,
        }
    }

    fn set(&self, mode: DaxMode) {
        self.0.store(mode as u8, Ordering::Release);
    }
}

/// Files a change of the `dax=` mode has not switched yet, under
/// [`crate::super_::SbInfo::dax_pending`]. That mutex is held for a whole
/// pass over files (a remount's, or a retry's), so passes never overlap.
pub(crate) struct Pending {
    /// Their inode numbers, each once.
    inos: KVVec<u64>,
    /// Some file could not be listed (out of memory): the next retry
    /// walks every cached inode instead.
    rescan: bool,
}

impl Pending {
    pub(crate) fn new() -> Self {
        Self {
            inos: KVVec::new(),
            rescan: false,
        }
    }
}

/// Whether a regular file with stored flags `flags` uses DAX on `sb`
/// (dax.rst, "Which files use DAX").
pub(crate) fn wants_dax(sb: &SuperBlock<R2dax>, flags: u32) -> bool {
    let info = sb.info();
    info.dax_capable
        && match info.dax_mode.get() {
            DaxMode::Always => true,
            DaxMode::Never => false,
            DaxMode::Inode => flags & iflags::DAX != 0,
        }
}

/// Whether `inode` is a regular file whose mode is not the one the
/// mount's `dax=` mode and its flag ask for (pending after a remount).
fn needs_switch(inode: &INode<R2dax>) -> bool {
    inode.mode() & mode::S_IFMT == mode::S_IFREG
        && wants_dax(inode.sb(), inode.data().state.lock().disk.flags) != inode.is_dax()
}

/// What bringing one file to the mount's mode did.
enum Settled {
    /// Nothing to do: not a regular file, or already in the mode.
    Already,
    /// Switched now.
    Switched,
    /// Mapped: its last unmap runs the retry ([`INode::mark_unmap_wanted`]).
    Mapped,
    /// Pinned, collapsible, or its switch failed (writeback): retried in
    /// a second.
    Poll,
    /// Its inode lock was taken: tried again by a retry (at once after a
    /// remount, in a second after a retry).
    Contended,
}

/// Whose pass over files it is. Neither waits for an inode lock: a
/// holder stuck in a long wait (a layout break waiting for an RDMA pin, a
/// writer throttled in `balance_dirty_pages`) would hold up the remount
/// and with it `s_umount` (every other remount, `sync`, unmount), or the
/// retry and with it the pending list's mutex (and so the next remount).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// A remount's, under `s_umount`: waits for pins as a flag change does.
    Remount,
    /// A retry's: looks for pins once (it comes back in a second).
    Retry,
}

/// Brings a regular file to the mode the mount's `dax=` mode and its flag
/// ask for: under its inode lock, with the per-inode switch.
fn settle(inode: &INode<R2dax>, pass: Pass) -> Settled {
    if inode.mode() & mode::S_IFMT != mode::S_IFREG {
        return Settled::Already;
    }
    let sb = inode.sb();
    // A mapped file that needs a switch is busy; no need to lock it to see
    // that. The mark comes first, so that if its last VMA goes after the
    // count is read here, that unmap runs the retry. (Without the inode
    // lock the answer may be stale: a flag change in progress may be
    // making it agree. Then the file is listed for nothing, and the retry
    // finds nothing to do.)
    if needs_switch(inode) {
        inode.mark_unmap_wanted();
        if inode.mappings() != 0 {
            return Settled::Mapped;
        }
    }
    let Some(locked) = inode.try_lock() else {
        return Settled::Contended;
    };
    if !needs_switch(inode) {
        inode.clear_unmap_wanted();
        return Settled::Already;
    }
    inode.mark_unmap_wanted();
    let want = !inode.is_dax();
    let wait = match pass {
        Pass::Remount => PIN_WAIT_MS,
        Pass::Retry => 0,
    };
    // Nothing to make durable: the mode of a mount is not stored.
    match locked.switch_dax_within(want, wait, || Ok(())) {
        Ok(()) => {
            inode.clear_unmap_wanted();
            Settled::Switched
        }
        Err(SwitchError::Mapped) => Settled::Mapped,
        Err(SwitchError::Pinned | SwitchError::Collapsible) => Settled::Poll,
        Err(SwitchError::Failed(e)) => {
            if pass == Pass::Remount {
                sb_err!(
                    sb,
                    "inode {}: switching to the new dax mode failed ({:?}), will retry",
                    inode.ino(),
                    e
                );
            }
            Settled::Poll
        }
    }
}

/// The outcome of one pass over files.
struct Outcome {
    switched: usize,
    /// Files left pending.
    busy: KVVec<u64>,
    /// Some file needs a retry in a second (pinned, collapsible, failed).
    poll: bool,
    /// Some file needs a retry as soon as this pass is over (its inode
    /// lock was taken during a remount).
    now: bool,
    /// A file could not be listed.
    rescan: bool,
}

impl Outcome {
    fn new() -> Self {
        Self {
            switched: 0,
            busy: KVVec::new(),
            poll: false,
            now: false,
            rescan: false,
        }
    }

    fn settle(&mut self, inode: &INode<R2dax>, pass: Pass) {
        match settle(inode, pass) {
            Settled::Already => return,
            Settled::Switched => {
                self.switched += 1;
                return;
            }
            Settled::Mapped => {}
            Settled::Poll => self.poll = true,
            Settled::Contended if pass == Pass::Remount => self.now = true,
            Settled::Contended => self.poll = true,
        }
        if self.busy.push(inode.ino(), GFP_KERNEL).is_err() {
            self.rescan = true;
            self.poll = true;
        }
    }

    /// Makes this pass's busy files the pending list (a pass took or
    /// replaced the whole list) and queues the retries it needs; mapped
    /// files are retried when their last VMA goes. Returns whether nothing
    /// is pending.
    fn publish(self, sb: &SuperBlock<R2dax>, p: &mut Pending) -> bool {
        p.inos = self.busy;
        p.rescan = self.rescan;
        if self.now {
            sb.run_background(0);
        } else if self.poll {
            sb.run_background(RETRY_MS);
        }
        p.inos.is_empty() && !p.rescan
    }
}

/// How often files kept busy by pins are retried.
const RETRY_MS: u32 = 1000;

/// Up to eight inode numbers, for a log line.
struct Inos<'a>(&'a [u64]);

impl fmt::Display for Inos<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, ino) in self.0.iter().take(8).enumerate() {
            write!(f, "{}{}", if i == 0 { "" } else { " " }, ino)?;
        }
        if self.0.len() > 8 {
            write!(f, " ...")?;
        }
        Ok(())
    }
}

/// Changes the `dax=` mode of a mounted filesystem (remount) and brings
/// every file to it: each file now, under its inode lock, with the
/// per-inode switch; a file that is mapped or pinned stays in its mode,
/// pending ([`status::PENDING`]), and switches when its last mapping goes
/// or, for pins, at a retry every second. dax.rst, "A live dax= remount",
/// has the argument. The VFS holds `s_umount` exclusively, so two changes
/// never run at once; the pending list's mutex, held throughout, keeps a
/// retry out until this pass has listed its files.
pub(crate) fn change_mode(sb: &SuperBlock<R2dax>, new: DaxMode) {
    let info = sb.info();
    let mut p = info.dax_pending.lock();
    let old = info.dax_mode.get();
    info.dax_mode.set(new);
    let mut out = Outcome::new();
    // Without DAX on the device every file uses the page cache whatever
    // the mode.
    if info.dax_capable {
        let _ = sb.for_each_cached_inode(|inode| {
            out.settle(inode, Pass::Remount);
            Ok(())
        });
    }
    out.busy.sort_unstable();
    let switched = out.switched;
    let rescan = out.rescan;
    if out.publish(sb, &mut p) {
        sb_info!(
            sb,
            "{} -> {}: {} switched now",
            old.option(),
            new.option(),
            switched
        );
    } else {
        sb_warn!(
            sb,
            "{} -> {}: {} switched now, {}{} busy (mapped, pinned or locked), switching when free: inodes {}",
            old.option(),
            new.option(),
            switched,
            p.inos.len(),
            if rescan { " and more" } else { "" },
            Inos(&p.inos)
        );
    }
}

/// The background retry of files a change of the `dax=` mode left
/// pending (see [`change_mode`]).
pub(crate) fn retry_pending(sb: &SuperBlock<R2dax>) {
    let mut p = sb.info().dax_pending.lock();
    if p.inos.is_empty() && !p.rescan {
        return;
    }
    // Shut down, no switch can succeed (writeback fails): stop retrying.
    if sb.is_shut_down() {
        *p = Pending::new();
        return;
    }
    let inos = core::mem::replace(&mut p.inos, KVVec::new());
    let mut out = Outcome::new();
    if p.rescan {
        let _ = sb.for_each_cached_inode(|inode| {
            out.settle(inode, Pass::Retry);
            Ok(())
        });
    } else {
        for ino in inos.iter() {
            // An inode no longer cached reads the new mode when it is read
            // in again.
            if let Some(inode) = sb.ilookup(*ino) {
                out.settle(&inode, Pass::Retry);
            }
        }
    }
    if out.publish(sb, &mut p) {
        sb_info!(
            sb,
            "{}: every file uses it now",
            sb.info().dax_mode.get().option()
        );
    }
}

/// Switches `inode` to DAX (`to_dax`) or to the page cache now, making
/// the new flags durable with `commit` on the way; `EBUSY` if the file is
/// mapped or its pages stay pinned, and then nothing changed.
pub(crate) fn switch(
    inode: &InodeLocked<'_, R2dax, Excl>,
    to_dax: bool,
    commit: impl FnOnce() -> Result,
) -> Result {
    inode.switch_dax(to_dax, commit).map_err(|e| match e {
        SwitchError::Mapped | SwitchError::Pinned | SwitchError::Collapsible => EBUSY,
        SwitchError::Failed(e) => e,
    })
}

// The uapi header (include/uapi/linux/r2dax.h), which the module uses
// through bindgen, and the Rust view the tools use
// (format/src/ioctl.rs, compiled here as `crate::ioctl`) must
// agree: one ABI. A host test compares that view with the header too.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(R2DAX_IOC_DAX_STATUS == ioctl::R2DAX_IOC_DAX_STATUS);
    assert!(uapi::R2DAX_IOC_SHUTDOWN == ioctl::R2DAX_IOC_SHUTDOWN);
    assert!(uapi::shutdown_flags::DEFAULT == ioctl::shutdown::DEFAULT);
    assert!(uapi::shutdown_flags::LOGFLUSH == ioctl::shutdown::LOGFLUSH);
    assert!(uapi::shutdown_flags::NOLOGFLUSH == ioctl::shutdown::NOLOGFLUSH);
    assert!(size_of::<DaxStatus>() == ioctl::DAX_STATUS_SIZE);
    assert!(offset_of!(DaxStatus, version) == ioctl::offset::VERSION);
    assert!(offset_of!(DaxStatus, flags) == ioctl::offset::FLAGS);
    assert!(offset_of!(DaxStatus, mappings) == ioctl::offset::MAPPINGS);
    assert!(offset_of!(DaxStatus, mount_mode) == ioctl::offset::MOUNT_MODE);
    assert!(offset_of!(DaxStatus, reserved) == ioctl::offset::RESERVED);
    assert!(uapi::DAX_STATUS_VERSION == ioctl::DAX_STATUS_VERSION);
    assert!(status::REQUESTED == ioctl::status::REQUESTED);
    assert!(status::EFFECTIVE == ioctl::status::EFFECTIVE);
    assert!(status::PINNED == ioctl::status::PINNED);
    assert!(status::DEVICE_DAX == ioctl::status::DEVICE_DAX);
    assert!(status::COLLAPSIBLE == ioctl::status::COLLAPSIBLE);
    assert!(status::PENDING == ioctl::status::PENDING);
    assert!(mount_mode::INODE == ioctl::mount_mode::INODE);
    assert!(mount_mode::ALWAYS == ioctl::mount_mode::ALWAYS);
    assert!(mount_mode::NEVER == ioctl::mount_mode::NEVER);
};

/// The private ioctls (include/uapi/linux/r2dax.h).
pub(crate) fn ioctl_read(inode: &INode<R2dax>, cmd: u32, out: IoctlOut) -> Result {
    if cmd != R2DAX_IOC_DAX_STATUS {
        return Err(ENOTTY);
    }
    let info = inode.sb().info();
    let requested = inode.data().state.lock().disk.flags & iflags::DAX != 0;
    let mappings = inode.mappings();
    let mut flags = 0;
    if requested {
        flags |= status::REQUESTED;
    }
    if inode.is_dax() {
        flags |= status::EFFECTIVE;
    }
    if info.dax_capable {
        flags |= status::DEVICE_DAX;
    }
    if inode.dax_pinned() {
        flags |= status::PINNED;
    }
    if inode.collapsible_files() != 0 {
        flags |= status::COLLAPSIBLE;
    }
    if needs_switch(inode) {
        flags |= status::PENDING;
    }
    out.write(&DaxStatus {
        version: uapi::DAX_STATUS_VERSION,
        flags,
        mappings: mappings as u64,
        mount_mode: match info.dax_mode.get() {
            DaxMode::Inode => mount_mode::INODE,
            DaxMode::Always => mount_mode::ALWAYS,
            DaxMode::Never => mount_mode::NEVER,
        },
        reserved: [0; 3],
    })
}
