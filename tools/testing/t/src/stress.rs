// SPDX-License-Identifier: GPL-2.0
//! `r2dax-t stress DIR OPS SEED NPROC`: an fsstress-style load that runs
//! the filesystem out of space again and again, so that every ENOSPC path
//! (and the frees between) runs.
//!
//! NPROC processes (forked; process `i` seeds its generator with
//! SEED + i) each do OPS random operations, mostly in their own directory
//! DIR/p`i` and its subdirectories `d0`..`d7`, a quarter of the time in
//! another process's, so renames and links cross directories. Names say
//! what a name is, so no operation meets the wrong type: `f*` regular
//! files (`f0`..`f63` take data, the rest mostly stay empty), `s*`
//! symlinks, `d*` directories (only right below a process directory),
//! `m*` files that only their own process touches (mapped).
//!
//! Each process moves through phases: *data* (mostly writes and
//! fallocate, large) and *inodes* (mostly creates of empty files, some
//! mkdirs, symlinks, links), each until 8 ENOSPC errors or 300 operations
//! after its first, and between them *churn*: a sweep that unlinks half
//! of the process's names, then 200 operations of a balanced mix. Process
//! 0 starts with data, the others with inodes (together they run out of
//! inodes, while process 0 runs out of blocks).
//!
//! ENOSPC, EEXIST, ENOENT, ENOTEMPTY, EMLINK and EFBIG are counted, and
//! EINVAL where O_DIRECT or fallocate may give it; any other errno is
//! printed (stderr) and makes the command fail, as does a child that
//! crashes. The summary on stdout: "ops N enospc M (out of inodes I)
//! other-errors K unexpected U"; on stderr, per process, how its fill
//! phases ended and its counts. The operations depend only on the seed,
//! but with several processes (or a full filesystem) their results, and
//! so the counts, vary from run to run.

use crate::Rng;
use r2dax_sys::{Errno, Fork, Mmap};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::ExitCode;

/// Regular files that take data: `f0`..`f63` of each directory.
const HOT: usize = 64;
/// File names `f0`..: the empty files that use up inodes.
const WIDE: usize = 65536;
/// Symlink names `s0`..
const SYMLINKS: usize = 1024;
/// Subdirectories `d0`..`d7` of each process directory.
const SUBDIRS: usize = 8;
/// Files `m0`..`m3` of a process directory, touched only by their own
/// process: a store into a mapping must never fault on a hole (ENOSPC
/// there is SIGBUS) or beyond the size.
const MMAP_FILES: usize = 4;
/// Largest write.
const MAX_IO: usize = 2 << 20;
/// Writes, truncates and fallocates start below this offset.
const MAX_OFF: usize = 8 << 20;
/// Descriptors kept open between operations (their files may be unlinked
/// meanwhile: orphans; appends may have preallocated beyond the size).
const FD_CACHE: usize = 4;
/// ENOSPC errors that end a fill phase.
const FILL_ENOSPC: u64 = 8;
/// Operations after a fill phase's first ENOSPC that end it too (other
/// processes may free space as fast as this one uses it).
const FILL_AFTER_FIRST: usize = 300;
/// Operations of a churn phase, after its sweep.
const CHURN_OPS: usize = 200;
/// A data phase that sees no ENOSPC ends after this many operations.
const DATA_CAP: usize = 6000;
/// Unexpected errors printed per process (all are counted).
const MAX_REPORTS: u64 = 20;

/// The errors counted but not failed, besides ENOSPC.
const EXPECTED: [i32; 5] = [
    libc::EEXIST,
    libc::ENOENT,
    libc::ENOTEMPTY,
    libc::EMLINK,
    libc::EFBIG,
];
/// `check` flag: EINVAL is expected too (O_DIRECT alignment, fallocate).
const EINVAL_OK: u8 = 1;
/// `check` flag: the call makes an inode (ENOSPC may mean no free inode).
const NEW_INODE: u8 = 2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Data,
    Inodes,
    ChurnThenData,
    ChurnThenInodes,
}

#[derive(Clone, Copy)]
enum Op {
    Create,
    CreateEmpty,
    Mkdir,
    Rmdir,
    Write,
    Truncate,
    Fallocate,
    Rename,
    Link,
    Unlink,
    Symlink,
    Fsync,
    Mmap,
    Sweep,
    Close,
}

/// Weights (in percent) of the operations in each phase.
const DATA_MIX: [(Op, usize); 14] = [
    (Op::Create, 3),
    (Op::CreateEmpty, 1),
    (Op::Mkdir, 2),
    (Op::Rmdir, 1),
    (Op::Write, 35),
    (Op::Truncate, 7),
    (Op::Fallocate, 18),
    (Op::Rename, 6),
    (Op::Link, 4),
    (Op::Unlink, 5),
    (Op::Symlink, 4),
    (Op::Fsync, 5),
    (Op::Mmap, 5),
    (Op::Close, 4),
];
const CHURN_MIX: [(Op, usize); 15] = [
    (Op::Create, 6),
    (Op::CreateEmpty, 6),
    (Op::Mkdir, 3),
    (Op::Rmdir, 3),
    (Op::Write, 15),
    (Op::Truncate, 12),
    (Op::Fallocate, 12),
    (Op::Rename, 10),
    (Op::Link, 6),
    (Op::Unlink, 12),
    (Op::Symlink, 5),
    (Op::Fsync, 3),
    (Op::Mmap, 3),
    (Op::Sweep, 2),
    (Op::Close, 2),
];
const INODE_MIX: [(Op, usize); 8] = [
    (Op::CreateEmpty, 78),
    (Op::Mkdir, 3),
    (Op::Symlink, 5),
    (Op::Link, 4),
    (Op::Unlink, 3),
    (Op::Truncate, 3),
    (Op::Write, 2),
    (Op::Rename, 2),
];

/// What one process counted; sent to the parent as one line.
#[derive(Default, Clone, Copy)]
struct Counts {
    ops: u64,
    enospc: u64,
    /// ENOSPC from a call making an inode while statfs said none was free.
    enospc_inodes: u64,
    expected: u64,
    unexpected: u64,
    short_writes: u64,
    data_fills: u64,
    inode_fills: u64,
    swept: u64,
}

impl Counts {
    fn fields(&self) -> [u64; 9] {
        [
            self.ops,
            self.enospc,
            self.enospc_inodes,
            self.expected,
            self.unexpected,
            self.short_writes,
            self.data_fills,
            self.inode_fills,
            self.swept,
        ]
    }

    fn parse(line: &str) -> Option<Counts> {
        let v: Vec<u64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        if v.len() != 9 {
            return None;
        }
        Some(Counts {
            ops: v[0],
            enospc: v[1],
            enospc_inodes: v[2],
            expected: v[3],
            unexpected: v[4],
            short_writes: v[5],
            data_fills: v[6],
            inode_fills: v[7],
            swept: v[8],
        })
    }

    fn add(&mut self, o: &Counts) {
        self.ops += o.ops;
        self.enospc += o.enospc;
        self.enospc_inodes += o.enospc_inodes;
        self.expected += o.expected;
        self.unexpected += o.unexpected;
        self.short_writes += o.short_writes;
        self.data_fills += o.data_fills;
        self.inode_fills += o.inode_fills;
        self.swept += o.swept;
    }
}

/// A descriptor kept open between operations.
struct Cached {
    fd: OwnedFd,
    direct: bool,
    append: bool,
}

/// The descriptor an operation works on.
enum Desc {
    /// `Worker::fds[i]`.
    Cached(usize),
    /// One the operation opened.
    Fresh(OwnedFd),
}

struct Worker {
    root: String,
    me: usize,
    nproc: usize,
    r: Rng,
    /// MAX_IO + 4096 bytes; the write buffer starts at its first
    /// 4096-aligned byte, `align`.
    backing: Vec<u8>,
    align: usize,
    fds: Vec<Cached>,
    c: Counts,
    phase: Phase,
    in_phase: usize,
    phase_enospc: u64,
    /// `in_phase` at the phase's first ENOSPC.
    first_enospc: Option<usize>,
    inode_cap: usize,
    /// How each fill phase ended, for stderr: "data 812" (ENOSPC, after
    /// 812 operations), "inodes 4711 (cap)" (none by the cap).
    trace: Vec<String>,
}

impl Worker {
    fn new(root: &str, me: usize, nproc: usize, seed: u64) -> Worker {
        // Spread nearby seeds (SEED + i) before xorshift, which starts
        // slowly from small states.
        let mut r = Rng(seed
            .wrapping_add(1)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .max(1));
        for _ in 0..8 {
            r.next();
        }
        let mut backing = vec![0u8; MAX_IO + 4096];
        for chunk in backing.chunks_mut(8) {
            let x = r.next().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
        let align = backing.as_ptr().align_offset(4096);
        let mut w = Worker {
            root: root.to_string(),
            me,
            nproc,
            r,
            backing,
            align,
            fds: Vec::new(),
            c: Counts::default(),
            phase: if me == 0 { Phase::Data } else { Phase::Inodes },
            in_phase: 0,
            phase_enospc: 0,
            first_enospc: None,
            inode_cap: 0,
            trace: Vec::new(),
        };
        // Alone, an inode phase takes about 1.3 operations per inode of the
        // filesystem (a fifth are not creates); with others freeing what
        // they made, it may never see ENOSPC: then it ends after twice its
        // share.
        let files = w.statfs().map_or(100_000, |s| s.f_files as usize);
        w.inode_cap = files * 2 / nproc + 1000;
        w
    }

    fn statfs(&self) -> Option<libc::statvfs> {
        r2dax_sys::statvfs(&self.root).ok()
    }

    /// The first `len` bytes of the (aligned) write buffer.
    fn buf(&self, len: usize) -> &[u8] {
        &self.backing[self.align..self.align + len]
    }

    fn fd<'a>(&'a self, d: &'a Desc) -> BorrowedFd<'a> {
        match d {
            Desc::Cached(i) => self.fds[*i].fd.as_fd(),
            Desc::Fresh(fd) => fd.as_fd(),
        }
    }

    /// Counts a result; returns the value if the call succeeded.
    fn check<T>(
        &mut self,
        what: &str,
        path: &str,
        r: Result<T, impl Into<Errno>>,
        flags: u8,
    ) -> Option<T> {
        let e: Errno = match r {
            Ok(v) => return Some(v),
            Err(e) => e.into(),
        };
        let e = e.raw();
        if e == libc::ENOSPC {
            self.c.enospc += 1;
            self.phase_enospc += 1;
            self.first_enospc.get_or_insert(self.in_phase);
            if flags & NEW_INODE != 0 && self.statfs().is_some_and(|s| s.f_ffree == 0) {
                self.c.enospc_inodes += 1;
            }
        } else if EXPECTED.contains(&e) || (e == libc::EINVAL && flags & EINVAL_OK != 0) {
            self.c.expected += 1;
        } else {
            self.c.unexpected += 1;
            if self.c.unexpected <= MAX_REPORTS {
                eprintln!(
                    "r2dax-t stress: p{}: {what} {path}: {}",
                    self.me,
                    Errno::new(e)
                );
            }
        }
        None
    }

    fn below(&mut self, n: usize) -> usize {
        self.r.below(n)
    }

    /// A process directory: our own, a quarter of the time another's.
    fn pdir(&mut self) -> String {
        let p = if self.nproc > 1 && self.below(4) == 0 {
            self.below(self.nproc)
        } else {
            self.me
        };
        format!("{}/p{p}", self.root)
    }

    /// A process directory or one of its subdirectories.
    fn dir(&mut self) -> String {
        let p = self.pdir();
        if self.below(2) == 0 {
            p
        } else {
            format!("{p}/d{}", self.below(SUBDIRS))
        }
    }

    /// A regular file's name: one that takes data, or from the wide pool.
    fn file(&mut self, wide: bool) -> String {
        let d = self.dir();
        let k = if wide {
            self.below(WIDE)
        } else {
            self.below(HOT)
        };
        format!("{d}/f{k}")
    }

    /// A file name for data and namespace operations: mostly one that
    /// takes data, sometimes one of the empty files.
    fn any_file(&mut self) -> String {
        let wide = self.phase == Phase::Inodes || self.below(6) == 0;
        self.file(wide)
    }

    fn symlink_name(&mut self) -> String {
        let d = self.dir();
        format!("{d}/s{}", self.below(SYMLINKS))
    }

    fn subdir(&mut self) -> String {
        let p = self.pdir();
        format!("{p}/d{}", self.below(SUBDIRS))
    }

    /// A write's length: 1 byte to 2 MiB, mostly small; large ones more
    /// often in the data phase.
    fn io_len(&mut self) -> usize {
        let big = if self.phase == Phase::Data { 5 } else { 1 };
        match self.below(10 + big) {
            0..=3 => 1 + self.below(4096),
            4..=6 => 4096 + self.below(60 << 10),
            7..=8 => (64 << 10) + self.below(448 << 10),
            _ => (512 << 10) + self.below(MAX_IO - (512 << 10) + 1),
        }
    }

    fn open(&mut self, path: &str, flags: i32, check: u8) -> Option<OwnedFd> {
        let r = r2dax_sys::open(path, flags | libc::O_CLOEXEC, 0o644);
        let what = if flags & libc::O_CREAT != 0 {
            "open (create)"
        } else {
            "open"
        };
        self.check(what, path, r, check)
    }

    fn close_checked(&mut self, fd: OwnedFd, path: &str) {
        let r = r2dax_sys::close(fd);
        self.check("close", path, r, 0);
    }

    /// Keeps `fd` open for later operations, or closes it.
    fn keep_or_close(&mut self, fd: OwnedFd, direct: bool, append: bool, path: &str) {
        if self.below(4) != 0 {
            self.close_checked(fd, path);
            return;
        }
        if self.fds.len() >= FD_CACHE {
            self.op_close();
        }
        self.fds.push(Cached { fd, direct, append });
    }

    /// A cached descriptor a third of the time (if there is one): its
    /// index, whether it is O_DIRECT and whether O_APPEND.
    fn cached(&mut self) -> Option<(usize, bool, bool)> {
        if self.fds.is_empty() || self.below(3) != 0 {
            return None;
        }
        let i = self.r.below(self.fds.len());
        let c = &self.fds[i];
        Some((i, c.direct, c.append))
    }

    fn run(&mut self, ops: usize) {
        for _ in 0..ops {
            let op = {
                let mix: &[(Op, usize)] = match self.phase {
                    Phase::Data => &DATA_MIX,
                    Phase::Inodes => &INODE_MIX,
                    Phase::ChurnThenData | Phase::ChurnThenInodes => &CHURN_MIX,
                };
                let total: usize = mix.iter().map(|&(_, w)| w).sum();
                let mut x = self.r.below(total);
                let mut op = mix[0].0;
                for &(o, w) in mix {
                    if x < w {
                        op = o;
                        break;
                    }
                    x -= w;
                }
                op
            };
            match op {
                Op::Create => self.op_create(false),
                Op::CreateEmpty => self.op_create(true),
                Op::Mkdir => self.op_mkdir(),
                Op::Rmdir => self.op_rmdir(),
                Op::Write => self.op_write(),
                Op::Truncate => self.op_truncate(),
                Op::Fallocate => self.op_fallocate(),
                Op::Rename => self.op_rename(),
                Op::Link => self.op_link(),
                Op::Unlink => self.op_unlink(),
                Op::Symlink => self.op_symlink(),
                Op::Fsync => self.op_fsync(),
                Op::Mmap => self.op_mmap(),
                Op::Sweep => {
                    let d = if self.below(3) == 0 {
                        format!("{}/p{}", self.root, self.me)
                    } else {
                        let k = self.below(SUBDIRS);
                        format!("{}/p{}/d{k}", self.root, self.me)
                    };
                    let all = self.below(4) == 0;
                    self.sweep(&d, all);
                }
                Op::Close => self.op_close(),
            }
            self.c.ops += 1;
            self.advance();
        }
        while !self.fds.is_empty() {
            self.op_close();
        }
    }

    fn advance(&mut self) {
        self.in_phase += 1;
        let filled = self.phase_enospc >= FILL_ENOSPC
            || self
                .first_enospc
                .is_some_and(|f| self.in_phase >= f + FILL_AFTER_FIRST);
        let cap = if filled { "" } else { " (cap)" };
        match self.phase {
            Phase::Data if filled || self.in_phase >= DATA_CAP => {
                self.c.data_fills += u64::from(filled);
                self.trace.push(format!("data {}{cap}", self.in_phase));
                self.enter(Phase::ChurnThenInodes);
            }
            Phase::Inodes if filled || self.in_phase >= self.inode_cap => {
                self.c.inode_fills += u64::from(filled);
                self.trace.push(format!("inodes {}{cap}", self.in_phase));
                self.enter(Phase::ChurnThenData);
            }
            Phase::ChurnThenData if self.in_phase >= CHURN_OPS => self.enter(Phase::Data),
            Phase::ChurnThenInodes if self.in_phase >= CHURN_OPS => self.enter(Phase::Inodes),
            _ => {}
        }
    }

    fn enter(&mut self, p: Phase) {
        self.phase = p;
        self.in_phase = 0;
        self.phase_enospc = 0;
        self.first_enospc = None;
        if matches!(p, Phase::ChurnThenData | Phase::ChurnThenInodes) {
            // Free half of our names (and their blocks), so the next fill
            // starts from a filesystem with room again.
            let own = format!("{}/p{}", self.root, self.me);
            self.sweep(&own, false);
            for k in 0..SUBDIRS {
                self.sweep(&format!("{own}/d{k}"), false);
            }
        }
    }

    /// Unlinks half of the files and symlinks in `dir` (all of them if
    /// `all`, and then removes `dir` if it is a subdirectory).
    fn sweep(&mut self, dir: &str, all: bool) {
        let names = std::fs::read_dir(dir).and_then(|rd| {
            rd.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<std::io::Result<Vec<String>>>()
        });
        let names = match names {
            Ok(v) => v,
            Err(e) => {
                // ENOENT: a subdirectory not made yet, or removed.
                self.check("readdir", dir, Err::<(), _>(e), 0);
                return;
            }
        };
        for n in names {
            if !(n.starts_with('f') || n.starts_with('s')) || (!all && self.below(2) == 0) {
                continue;
            }
            let path = format!("{dir}/{n}");
            let r = std::fs::remove_file(&path);
            if self.check("unlink", &path, r, 0).is_some() {
                self.c.swept += 1;
            }
        }
        if all && dir.rsplit('/').next().is_some_and(|n| n.starts_with('d')) {
            let r = std::fs::remove_dir(dir);
            self.check("rmdir", dir, r, 0);
        }
    }

    fn op_create(&mut self, empty: bool) {
        let path = self.file(empty);
        if let Some(fd) = self.open(
            &path,
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
            NEW_INODE,
        ) {
            self.close_checked(fd, &path);
        }
    }

    fn op_mkdir(&mut self) {
        use std::os::unix::fs::DirBuilderExt;
        let path = self.subdir();
        let r = std::fs::DirBuilder::new().mode(0o755).create(&path);
        self.check("mkdir", &path, r, NEW_INODE);
    }

    fn op_rmdir(&mut self) {
        let path = self.subdir();
        let r = std::fs::remove_dir(&path);
        self.check("rmdir", &path, r, 0);
    }

    /// pwrite (or write(2) on an O_APPEND descriptor) of 1 byte to 2 MiB
    /// at a random offset below 8 MiB or at the end; O_DIRECT writes are
    /// 4096-aligned.
    fn op_write(&mut self) {
        let mut len = self.io_len();
        let (d, direct, append, path) = match self.cached() {
            Some((i, d, a)) => (Desc::Cached(i), d, a, "(cached descriptor)".to_string()),
            None => {
                let path = self.file(false);
                let direct = self.below(5) == 0;
                let append = !direct && self.below(8) == 0;
                let mut fl = libc::O_WRONLY | libc::O_CREAT;
                if direct {
                    fl |= libc::O_DIRECT;
                }
                if append {
                    fl |= libc::O_APPEND;
                }
                let Some(fd) = self.open(&path, fl, NEW_INODE | EINVAL_OK) else {
                    return;
                };
                (Desc::Fresh(fd), direct, append, path)
            }
        };
        let r = if append {
            r2dax_sys::write(self.fd(&d), self.buf(len))
        } else {
            let mut off = if self.below(4) == 0 {
                r2dax_sys::file_size(self.fd(&d)).map_or(0, |s| s as usize)
            } else {
                self.below(MAX_OFF)
            };
            if direct {
                off = off.div_ceil(4096) * 4096;
                len = (len.div_ceil(4096) * 4096).min(MAX_IO);
            }
            // The buffer is aligned for O_DIRECT.
            r2dax_sys::pwrite(self.fd(&d), self.buf(len), off as u64)
        };
        if matches!(r, Ok(n) if n < len) {
            self.c.short_writes += 1;
        }
        let flags = if direct { EINVAL_OK } else { 0 };
        self.check("write", &path, r, flags);
        if let Desc::Fresh(fd) = d {
            self.keep_or_close(fd, direct, append, &path);
        }
    }

    /// truncate(2) a file up or down (ftruncate on a cached descriptor).
    fn op_truncate(&mut self) {
        let len = match self.below(4) {
            0 => 0,
            1 => self.below(64 << 10),
            2 => self.below(MAX_OFF),
            _ => self.below(MAX_OFF + MAX_IO),
        } as u64;
        if let Some((i, _, _)) = self.cached() {
            let r = r2dax_sys::ftruncate(&self.fds[i].fd, len);
            self.check("ftruncate", "(cached descriptor)", r, 0);
            return;
        }
        let path = self.any_file();
        let r = r2dax_sys::truncate(&path, len);
        self.check("truncate", &path, r, 0);
    }

    /// fallocate: the default mode, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE,
    /// ZERO_RANGE (with and without KEEP_SIZE), COLLAPSE_RANGE and
    /// INSERT_RANGE (mostly block-aligned; EINVAL when not, or when the
    /// range is not where the file allows it).
    fn op_fallocate(&mut self) {
        const MODES: [i32; 7] = [
            0,
            libc::FALLOC_FL_KEEP_SIZE,
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            libc::FALLOC_FL_ZERO_RANGE,
            libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE,
            libc::FALLOC_FL_COLLAPSE_RANGE,
            libc::FALLOC_FL_INSERT_RANGE,
        ];
        let data = self.phase == Phase::Data;
        // The data phase allocates more than it punches.
        let mode = if data && self.below(2) == 0 {
            MODES[self.below(2)]
        } else {
            MODES[self.below(MODES.len())]
        };
        let mut off = self.below(MAX_OFF);
        if self.below(2) == 0 {
            off &= !4095;
        }
        let mut len = if data {
            (64 << 10) + self.below(4 << 20)
        } else {
            1 + self.below(1 << 20)
        };
        let shift = libc::FALLOC_FL_COLLAPSE_RANGE | libc::FALLOC_FL_INSERT_RANGE;
        if mode & shift != 0 && self.below(8) != 0 {
            off &= !4095;
            len = len.max(4096) & !4095;
        }
        let (d, path) = match self.cached() {
            Some((i, _, _)) => (Desc::Cached(i), "(cached descriptor)".to_string()),
            None => {
                let path = self.file(false);
                let Some(fd) = self.open(&path, libc::O_WRONLY | libc::O_CREAT, NEW_INODE) else {
                    return;
                };
                (Desc::Fresh(fd), path)
            }
        };
        let r = r2dax_sys::fallocate(self.fd(&d), mode, off as u64, len as u64);
        self.check("fallocate", &path, r, EINVAL_OK);
        if let Desc::Fresh(fd) = d {
            self.close_checked(fd, &path);
        }
    }

    /// rename(2) of a file over a file (existing or not), a symlink over a
    /// symlink, or a subdirectory over a subdirectory, across directories.
    fn op_rename(&mut self) {
        let (a, b) = match self.below(10) {
            0..=6 => (self.any_file(), self.any_file()),
            7..=8 => (self.symlink_name(), self.symlink_name()),
            _ => (self.subdir(), self.subdir()),
        };
        let r = std::fs::rename(&a, &b);
        self.check("rename", &format!("{a} -> {b}"), r, 0);
    }

    fn op_link(&mut self) {
        let (a, b) = if self.below(7) == 0 {
            (self.symlink_name(), self.symlink_name())
        } else {
            (self.any_file(), self.any_file())
        };
        let r = std::fs::hard_link(&a, &b);
        self.check("link", &format!("{a} -> {b}"), r, 0);
    }

    fn op_unlink(&mut self) {
        let path = if self.below(7) == 0 {
            self.symlink_name()
        } else {
            self.any_file()
        };
        let r = std::fs::remove_file(&path);
        self.check("unlink", &path, r, 0);
    }

    /// A symlink with a target of 1 to 40 bytes (inline) or 41 to 1000
    /// (a block; most over 64 bytes). Targets are never followed.
    fn op_symlink(&mut self) {
        let n = if self.below(2) == 0 {
            1 + self.below(40)
        } else {
            41 + self.below(960)
        };
        let target: String = (0..n)
            .map(|i| {
                if i % 9 == 8 {
                    '/'
                } else {
                    (b'a' + self.r.below(26) as u8) as char
                }
            })
            .collect();
        let path = self.symlink_name();
        let r = std::os::unix::fs::symlink(&target, &path);
        self.check("symlink", &path, r, NEW_INODE);
    }

    fn op_fsync(&mut self) {
        let (d, path) = match self.cached() {
            Some((i, _, _)) => (Desc::Cached(i), "(cached descriptor)".to_string()),
            None => {
                let path = self.file(false);
                let Some(fd) = self.open(&path, libc::O_RDONLY, 0) else {
                    return;
                };
                (Desc::Fresh(fd), path)
            }
        };
        let data = self.below(2) == 0;
        let r = if data {
            r2dax_sys::fdatasync(self.fd(&d))
        } else {
            r2dax_sys::fsync(self.fd(&d))
        };
        self.check(if data { "fdatasync" } else { "fsync" }, &path, r, 0);
        if let Desc::Fresh(fd) = d {
            self.close_checked(fd, &path);
        }
    }

    /// A store of up to 64 KiB through a shared mapping of one of our own
    /// `m` files, then msync. The range is inside the size and allocated
    /// first (fallocate), so the faults never allocate: no SIGBUS.
    fn op_mmap(&mut self) {
        let k = self.below(MMAP_FILES);
        let path = format!("{}/p{}/m{k}", self.root, self.me);
        let Some(fd) = self.open(&path, libc::O_RDWR | libc::O_CREAT, NEW_INODE) else {
            return;
        };
        self.mmap_store(fd.as_fd(), &path);
        self.close_checked(fd, &path);
    }

    fn mmap_store(&mut self, fd: BorrowedFd<'_>, path: &str) {
        let r = r2dax_sys::file_size(fd);
        let Some(size) = self.check("fstat", path, r, 0) else {
            return;
        };
        let mut size = size as usize;
        if size < 4096 || self.below(5) == 0 {
            size = 4096 + self.below(1 << 20);
            let r = r2dax_sys::ftruncate(fd, size as u64);
            if self.check("ftruncate", path, r, 0).is_none() {
                return;
            }
        }
        let off = self.below(size);
        let len = 1 + self.below((size - off).min(64 << 10));
        let start = off & !4095;
        let mlen = off + len - start;
        // Every block of the pages stored to, up to the size (with blocks
        // smaller than pages, a fault allocates the page's other blocks).
        let falloc_end = (off + len).div_ceil(4096).saturating_mul(4096).min(size);
        let r = r2dax_sys::fallocate(fd, 0, start as u64, (falloc_end - start) as u64);
        if self.check("fallocate (before mmap)", path, r, 0).is_none() {
            return;
        }
        let r = Mmap::new(
            fd,
            start as u64,
            mlen,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
        );
        let Some(m) = self.check("mmap", path, r, 0) else {
            return;
        };
        let salt = self.r.next() as u8;
        // Below the file's size, on allocated blocks; only this process
        // touches `m` files.
        for i in off - start..mlen {
            m.write(i, salt.wrapping_add(i as u8));
        }
        let r = m.msync(libc::MS_SYNC);
        self.check("msync", path, r, 0);
    }

    fn op_close(&mut self) {
        if self.fds.is_empty() {
            return;
        }
        let i = self.below(self.fds.len());
        let c = self.fds.swap_remove(i);
        self.close_checked(c.fd, "(cached descriptor)");
    }
}

/// Runs one process's share; returns its exit status.
fn child(root: &str, me: usize, nproc: usize, ops: usize, seed: u64, out: OwnedFd) -> i32 {
    let run = std::panic::catch_unwind(|| {
        let mut w = Worker::new(root, me, nproc, seed.wrapping_add(me as u64));
        w.run(ops);
        let now = match w.phase {
            Phase::Data => "data",
            Phase::Inodes => "inodes",
            Phase::ChurnThenData | Phase::ChurnThenInodes => "churn",
        };
        eprintln!(
            "p{me}: fills ended after: {}; then {} {} ops",
            w.trace.join(", "),
            now,
            w.in_phase
        );
        w.c
    });
    let Ok(c) = run else {
        return 3;
    };
    let mut line = c
        .fields()
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    line.push('\n');
    let _ = r2dax_sys::write(&out, line.as_bytes());
    i32::from(c.unexpected > 0)
}

fn mkdir_p(path: &str) -> std::io::Result<()> {
    match std::fs::create_dir(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// See the module documentation.
pub(crate) fn stress(dir: &str, ops: usize, seed: u64, nproc: usize) -> ExitCode {
    use std::io::Read;
    if ops == 0 || nproc == 0 {
        eprintln!("usage: r2dax-t stress DIR OPS SEED NPROC (OPS, NPROC > 0)");
        return ExitCode::from(2);
    }
    for p in std::iter::once(dir.to_string()).chain((0..nproc).map(|i| format!("{dir}/p{i}"))) {
        if let Err(e) = mkdir_p(&p) {
            println!("mkdir {p}: {e}");
            return ExitCode::from(1);
        }
    }
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let mut kids = Vec::new();
    let mut failed = false;
    for i in 0..nproc {
        let (r, w) = match r2dax_sys::pipe() {
            Ok(p) => p,
            Err(e) => {
                println!("pipe: {e}");
                failed = true;
                break;
            }
        };
        // SAFETY: This process has one thread; the child only runs its
        // share and leaves with _exit.
        let pid = match unsafe { r2dax_sys::fork() } {
            Ok(Fork::Child) => {
                drop(r);
                let code = child(dir, i, nproc, ops, seed, w);
                // Without running the parent's exit handlers or flushing
                // its copy of stdout.
                r2dax_sys::exit_now(code);
            }
            Ok(Fork::Parent(pid)) => pid,
            Err(e) => {
                println!("fork: {e}");
                failed = true;
                break;
            }
        };
        drop(w);
        kids.push((i, pid, r));
    }
    let mut total = Counts::default();
    for (i, pid, r) in kids {
        let mut text = String::new();
        let _ = std::fs::File::from(r).read_to_string(&mut text);
        match r2dax_sys::waitpid(pid) {
            Err(e) => {
                println!("p{i}: waitpid: {e}");
                failed = true;
            }
            Ok(st) if st.signaled() => {
                println!("p{i}: killed by signal {}", st.term_signal());
                failed = true;
            }
            Ok(st) if !st.exited() || st.exit_status() != 0 => {
                println!(
                    "p{i}: exit status {} (unexpected errors, see stderr)",
                    st.exit_status()
                );
                failed = true;
            }
            Ok(_) => {}
        }
        if let Some(c) = Counts::parse(text.trim()) {
            eprintln!(
                "p{i}: ops {} enospc {} (out of inodes {}) other-errors {} unexpected {}; \
                 short writes {}, data fills {}, inode fills {}, swept {}",
                c.ops,
                c.enospc,
                c.enospc_inodes,
                c.expected,
                c.unexpected,
                c.short_writes,
                c.data_fills,
                c.inode_fills,
                c.swept
            );
            total.add(&c);
        } else {
            println!("p{i}: no summary");
            failed = true;
        }
    }
    println!(
        "ops {} enospc {} (out of inodes {}) other-errors {} unexpected {}",
        total.ops, total.enospc, total.enospc_inodes, total.expected, total.unexpected
    );
    if failed || total.unexpected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
