// SPDX-License-Identifier: GPL-2.0
//! r2dax-fsx: a random-operation file exerciser checked against an
//! in-memory model, in the spirit of fsx.
//!
//! Each worker thread owns one file and a model of its contents (a byte
//! vector whose length is the file size). It applies random operations
//! through three paths, buffered I/O, O_DIRECT and shared mmap, plus
//! truncate, fallocate (preallocate, keep-size, punch hole, zero range,
//! collapse range, insert range),
//! fsync, fdatasync and close/reopen, and checks every read against the
//! model. The whole file is compared every `--check-every` operations and
//! at the end. Workers run concurrently, so the allocator, the superblock
//! and the orphan and inode locks are shared between CPUs while each
//! file's contents stay deterministic.
//!
//! The run is reproducible: worker `i` uses seed `SEED + i`. On a mismatch
//! the worker prints the operation, the first differing offset and its
//! last operations, and the program exits 1.

use r2dax_sys::{Errno, Mmap};
use std::fmt::{self, Write as _};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const USAGE: &str = "\
Usage: r2dax-fsx [OPTIONS] DIR

Runs random file operations in DIR and checks each result against an
in-memory model. Each worker thread works on its own file DIR/fsx.N.

Options:
  -n, --ops N           total operations, split across workers (default 10000)
  -j, --workers N       worker threads (default 2)
  -s, --seed N          seed; worker i uses N+i (default: from the clock)
  -l, --max-len BYTES   largest file size (default 1048576)
  -w, --max-io BYTES    largest single read or write (default 65536)
  -c, --check-every N   compare the whole file every N operations (default 1000)
  -k, --keep DIR        at the end, write each model to DIR/fsx.N (to compare
                        after a remount)
      --no-direct       no O_DIRECT operations
      --no-mmap         no mmap operations
      --no-fallocate    no fallocate operations (preallocate, punch hole,
                        zero range, collapse range, insert range)
  -q, --quiet           print only failures and the summary
  -h, --help            show this help

Exit status: 0 every check passed, 1 a mismatch or an unexpected error,
2 usage error.
";

const PAGE: usize = 4096;

/// xorshift64*: small, fast and reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

#[derive(Clone)]
struct Options {
    ops: u64,
    workers: u64,
    seed: u64,
    max_len: u64,
    max_io: u64,
    check_every: u64,
    keep: Option<PathBuf>,
    direct: bool,
    mmap: bool,
    fallocate: bool,
    quiet: bool,
}

/// A page-aligned buffer for O_DIRECT.
struct Aligned {
    ptr: *mut u8,
    len: usize,
    layout: std::alloc::Layout,
}

impl Aligned {
    fn new(len: usize) -> Self {
        let layout = std::alloc::Layout::from_size_align(len.max(PAGE), PAGE).expect("layout");
        // SAFETY: The layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "out of memory");
        Aligned { ptr, len, layout }
    }
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` is valid for `len` bytes, which we own.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: Allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

struct Worker {
    id: u64,
    path: PathBuf,
    fd: Option<OwnedFd>,
    /// The O_DIRECT descriptor (without --no-direct).
    dfd: Option<OwnedFd>,
    model: Vec<u8>,
    rng: Rng,
    opt: Options,
    log: std::collections::VecDeque<String>,
    counts: [u64; OP_NAMES.len()],
}

const OP_NAMES: [&str; 16] = [
    "read",
    "write",
    "dio-read",
    "dio-write",
    "mmap-read",
    "mmap-write",
    "truncate",
    "falloc",
    "falloc-keep",
    "punch",
    "zero-range",
    "fsync",
    "fdatasync",
    "reopen",
    "collapse",
    "insert",
];

/// Why a worker failed the run.
#[derive(Debug)]
enum Failure {
    /// Opening the worker's file failed (`direct`: the O_DIRECT
    /// descriptor).
    Open {
        path: PathBuf,
        direct: bool,
        errno: Errno,
    },
    /// System call `call` failed ("pread", "ftruncate", "fsync", ...).
    Sys { call: &'static str, errno: Errno },
    /// fallocate with `mode` failed.
    Fallocate { mode: libc::c_int, errno: Errno },
    /// Write call `call` returned `returned` (-1, or a short count),
    /// with `errno` the thread's error number after it.
    Write {
        call: &'static str,
        returned: i64,
        errno: Errno,
    },
    /// Byte `at` read `got`, where the model holds `model`; the read was
    /// `len` bytes from `off`.
    Mismatch {
        at: usize,
        got: u8,
        model: u8,
        len: usize,
        off: usize,
    },
    /// The file is `size` bytes long, the model `model`.
    Size { size: u64, model: usize },
    /// The whole-file read met end of file at `at` of `len` bytes.
    ShortFile { at: usize, len: usize },
    /// Read call `call` returned `n` bytes instead of `want`.
    ReadCount {
        call: &'static str,
        n: usize,
        want: u64,
    },
    /// Writing the model to `path` (`--keep`) failed.
    Keep {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Worker `worker` stopped because another one failed.
    Stopped { worker: u64 },
    /// The whole-file comparison failed.
    FullCheck(Box<Failure>),
    /// Operation `op` of worker `worker` (seed `seed`) failed; `log` is
    /// its last operations.
    Op {
        worker: u64,
        seed: u64,
        op: u64,
        cause: Box<Failure>,
        log: Vec<String>,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Open {
                path,
                direct,
                errno,
            } => write!(
                f,
                "open {}{}: {errno}",
                if *direct { "O_DIRECT " } else { "" },
                path.display()
            ),
            Failure::Sys { call, errno } => write!(f, "{call}: {errno}"),
            Failure::Fallocate { mode, errno } => write!(f, "fallocate mode {mode:#x}: {errno}"),
            Failure::Write {
                call,
                returned,
                errno,
            } => write!(f, "{call} returned {returned}: {errno}"),
            Failure::Mismatch {
                at,
                got,
                model,
                len,
                off,
            } => write!(
                f,
                "data mismatch at byte {at} (read 0x{got:02x}, model 0x{model:02x}; \
                 read {len} bytes from {off})"
            ),
            Failure::Size { size, model } => write!(f, "file size {size} but model size {model}"),
            Failure::ShortFile { at, len } => write!(f, "short file: EOF at {at} of {len}"),
            Failure::ReadCount { call, n, want } => {
                write!(f, "{call} returned {n}, expected {want}")
            }
            Failure::Keep { path, source } => write!(f, "{}: {source}", path.display()),
            Failure::Stopped { worker } => {
                write!(f, "worker {worker}: stopped after another worker failed")
            }
            Failure::FullCheck(e) => write!(f, "full check: {e}"),
            Failure::Op {
                worker,
                seed,
                op,
                cause,
                log,
            } => {
                write!(
                    f,
                    "worker {worker} (seed {seed}): operation {op}: {cause}\n  last operations:\n"
                )?;
                for l in log {
                    writeln!(f, "    {l}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::Open { errno, .. }
            | Failure::Sys { errno, .. }
            | Failure::Fallocate { errno, .. }
            | Failure::Write { errno, .. } => Some(errno),
            Failure::Keep { source, .. } => Some(source),
            Failure::FullCheck(e) | Failure::Op { cause: e, .. } => Some(e.as_ref()),
            _ => None,
        }
    }
}

/// A command line the exerciser cannot follow (exit status 2).
#[derive(Debug)]
enum UsageError {
    /// Option `0` is last, without its value.
    MissingValue(String),
    /// The value of `option` is not a number.
    BadNumber { option: String, value: String },
    /// -k/--keep is last, without its directory.
    MissingKeepDir,
    /// An option r2dax-fsx does not know.
    UnknownOption(String),
    /// A second DIR.
    SecondDir,
    /// --workers, --check-every or --max-io is 0.
    NotPositive,
    /// --max-len is less than a page.
    MaxLenTooSmall,
    /// No DIR.
    MissingDir,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::MissingValue(o) => write!(f, "{o} needs a value"),
            UsageError::BadNumber { option, value } => {
                write!(f, "{option}: bad number '{value}'")
            }
            UsageError::MissingKeepDir => f.write_str("--keep needs a directory"),
            UsageError::UnknownOption(o) => write!(f, "unknown option '{o}'"),
            UsageError::SecondDir => f.write_str("only one DIR"),
            UsageError::NotPositive => {
                f.write_str("workers, check-every and max-io must be positive")
            }
            UsageError::MaxLenTooSmall => write!(f, "max-len must be at least {PAGE}"),
            UsageError::MissingDir => f.write_str("missing DIR"),
        }
    }
}

impl std::error::Error for UsageError {}

type Res = Result<(), Failure>;

/// `Failure::Sys` for `call`.
fn sys(call: &'static str) -> impl FnOnce(Errno) -> Failure {
    move |errno| Failure::Sys { call, errno }
}

/// A write of `len` bytes in one call: "`what` returned N: errno" unless
/// it wrote them all (after a short count, the thread's errno as it
/// stands).
fn written(r: Result<usize, Errno>, len: u64, what: &'static str) -> Res {
    match r {
        Ok(n) if n as u64 == len => Ok(()),
        Ok(n) => Err(Failure::Write {
            call: what,
            returned: n as i64,
            errno: Errno::last(),
        }),
        Err(errno) => Err(Failure::Write {
            call: what,
            returned: -1,
            errno,
        }),
    }
}

impl Worker {
    fn open(&mut self) -> Res {
        let fd =
            r2dax_sys::open(&self.path, libc::O_RDWR | libc::O_CREAT, 0o644).map_err(|errno| {
                Failure::Open {
                    path: self.path.clone(),
                    direct: false,
                    errno,
                }
            })?;
        self.fd = Some(fd);
        self.dfd = None;
        if self.opt.direct {
            let dfd =
                r2dax_sys::open(&self.path, libc::O_RDWR | libc::O_DIRECT, 0).map_err(|errno| {
                    Failure::Open {
                        path: self.path.clone(),
                        direct: true,
                        errno,
                    }
                })?;
            self.dfd = Some(dfd);
        }
        Ok(())
    }

    fn close(&mut self) {
        self.fd = None;
        self.dfd = None;
    }

    /// The buffered descriptor (open between `open` and `close`).
    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_ref().expect("file not open").as_fd()
    }

    /// The O_DIRECT descriptor (open with O_DIRECT operations enabled).
    fn dfd(&self) -> BorrowedFd<'_> {
        self.dfd.as_ref().expect("no O_DIRECT descriptor").as_fd()
    }

    fn note(&mut self, s: String) {
        if self.log.len() == 32 {
            self.log.pop_front();
        }
        self.log.push_back(s);
    }

    /// `cause` as the failure of operation `op`, with the last
    /// operations.
    fn fail(&self, op: u64, cause: Failure) -> Failure {
        Failure::Op {
            worker: self.id,
            seed: self.opt.seed + self.id,
            op,
            cause: Box::new(cause),
            log: self.log.iter().cloned().collect(),
        }
    }

    /// Compares `got` with the model at `off`.
    fn compare(&self, off: usize, got: &[u8]) -> Res {
        if got.is_empty() {
            return Ok(());
        }
        let want = &self.model[off..off + got.len()];
        if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
            return Err(Failure::Mismatch {
                at: off + i,
                got: got[i],
                model: want[i],
                len: got.len(),
                off,
            });
        }
        Ok(())
    }

    fn file_size(&self) -> Result<u64, Failure> {
        r2dax_sys::file_size(self.fd()).map_err(sys("fstat"))
    }

    fn check_size(&self) -> Res {
        let size = self.file_size()?;
        if size != self.model.len() as u64 {
            return Err(Failure::Size {
                size,
                model: self.model.len(),
            });
        }
        Ok(())
    }

    /// Reads the whole file with pread and compares it.
    fn check_all(&self) -> Res {
        self.check_size()?;
        let mut buf = vec![0u8; self.model.len()];
        let mut done = 0;
        while done < buf.len() {
            let n = r2dax_sys::pread(self.fd(), &mut buf[done..], done as u64)
                .map_err(sys("pread (full check)"))?;
            if n == 0 {
                return Err(Failure::ShortFile {
                    at: done,
                    len: buf.len(),
                });
            }
            done += n;
        }
        self.compare(0, &buf)
    }

    /// Reads `buf.len()` bytes at `off` through `fd` and checks the count
    /// (short only at end of file) and the data against the model.
    fn read_check(&self, fd: BorrowedFd<'_>, buf: &mut [u8], off: u64, what: &'static str) -> Res {
        // `buf` is page-aligned when `fd` is the O_DIRECT descriptor.
        let n = r2dax_sys::pread(fd, buf, off).map_err(sys(what))?;
        let want = (self.model.len() as u64)
            .saturating_sub(off)
            .min(buf.len() as u64);
        if n as u64 != want {
            return Err(Failure::ReadCount {
                call: what,
                n,
                want,
            });
        }
        self.compare(off as usize, &buf[..n as usize])
    }

    fn resize_model(&mut self, size: usize) {
        self.model.resize(size, 0);
    }

    /// A random (offset, length) with the offset below `limit`.
    fn range(&mut self, limit: u64, max: u64, align: u64) -> (u64, u64) {
        let off = self.rng.below(limit.max(1)) / align * align;
        let len = (1 + self.rng.below(max)).div_ceil(align) * align;
        (off, len)
    }

    fn step(&mut self, op: u64) -> Res {
        let size = self.model.len() as u64;
        let max_len = self.opt.max_len;
        let max_io = self.opt.max_io;
        let kind = loop {
            let k = match self.rng.below(100) {
                0..=17 => 0,
                18..=37 => 1,
                38..=44 => 2,
                45..=53 => 3,
                54..=59 => 4,
                60..=67 => 5,
                68..=74 => 6,
                75..=77 => 7,
                78..=80 => 8,
                81..=84 => 9,
                85..=88 => 10,
                89..=92 => 11,
                93..=95 => 12,
                96..=97 => 13,
                98 => 14,
                _ => 15,
            };
            let ok = match k {
                2 | 3 => self.opt.direct,
                4 | 5 => self.opt.mmap && size > 0,
                7..=10 => self.opt.fallocate,
                // Block-aligned ranges inside the file, and room to grow.
                14 => self.opt.fallocate && size > 2 * PAGE as u64,
                15 => self.opt.fallocate && size > PAGE as u64 && size + (PAGE as u64) <= max_len,
                _ => true,
            };
            if ok {
                break k;
            }
        };
        self.counts[kind] += 1;
        match kind {
            0 => {
                let (off, len) = self.range(size + 1024, max_io, 1);
                let mut buf = vec![0u8; len as usize];
                self.note(format!("read {off} +{len}"));
                self.read_check(self.fd(), &mut buf, off, "pread")
            }
            1 => {
                let (off, len) = self.range(max_len, max_io, 1);
                let len = len.min(max_len - off);
                let mut buf = vec![0u8; len as usize];
                self.rng.fill(&mut buf);
                self.note(format!("write {off} +{len}"));
                written(r2dax_sys::pwrite(self.fd(), &buf, off), len, "pwrite")?;
                let end = (off + len) as usize;
                if end > self.model.len() {
                    self.resize_model(end);
                }
                self.model[off as usize..end].copy_from_slice(&buf);
                Ok(())
            }
            2 => {
                let (off, len) = self.range(size + PAGE as u64, max_io, PAGE as u64);
                let mut buf = Aligned::new(len as usize);
                self.note(format!("dio-read {off} +{len}"));
                self.read_check(self.dfd(), buf.as_mut(), off, "O_DIRECT pread")
            }
            3 => {
                let (off, len) = self.range(max_len, max_io, PAGE as u64);
                let len = len.min(max_len - off);
                if len == 0 {
                    return Ok(());
                }
                let mut buf = Aligned::new(len as usize);
                self.rng.fill(buf.as_mut());
                self.note(format!("dio-write {off} +{len}"));
                let b = buf.as_mut();
                written(
                    r2dax_sys::pwrite(self.dfd(), b, off),
                    len,
                    "O_DIRECT pwrite",
                )?;
                let end = (off + len) as usize;
                if end > self.model.len() {
                    self.resize_model(end);
                }
                self.model[off as usize..end].copy_from_slice(&b[..len as usize]);
                Ok(())
            }
            4 | 5 => {
                let write = kind == 5;
                let (off, len) = self.range(size, max_io, 1);
                let len = len.min(size - off);
                // Map from the page that holds `off`.
                let moff = off / PAGE as u64 * PAGE as u64;
                let mlen = (off + len - moff) as usize;
                self.note(format!(
                    "{} {off} +{len}",
                    if write { "mmap-write" } else { "mmap-read" }
                ));
                let prot = libc::PROT_READ | if write { libc::PROT_WRITE } else { 0 };
                let mut m = match Mmap::new(self.fd(), moff, mlen, prot, libc::MAP_SHARED) {
                    Ok(m) => m,
                    Err(e) => return Err(sys("mmap")(e)),
                };
                let at = (off - moff) as usize;
                let res = if write {
                    let mut buf = vec![0u8; len as usize];
                    self.rng.fill(&mut buf);
                    // SAFETY: A writable mapping within the file, which
                    // only this worker changes, and not while the slice
                    // lives.
                    let map = unsafe { m.as_mut_slice() };
                    map[at..at + len as usize].copy_from_slice(&buf);
                    self.model[off as usize..(off + len) as usize].copy_from_slice(&buf);
                    if self.rng.below(2) == 0 {
                        m.msync(libc::MS_SYNC).map_err(sys("msync"))
                    } else {
                        Ok(())
                    }
                } else {
                    // SAFETY: As above, read only.
                    let map = unsafe { m.as_slice() };
                    let got = map[at..at + len as usize].to_vec();
                    self.compare(off as usize, &got)
                };
                drop(m);
                res
            }
            6 => {
                let new = self.rng.below(max_len + 1);
                self.note(format!("truncate {new}"));
                if let Err(e) = r2dax_sys::ftruncate(self.fd(), new) {
                    return Err(sys("ftruncate")(e));
                }
                self.resize_model(new as usize);
                Ok(())
            }
            7..=10 => {
                let (off, len) = self.range(max_len, max_io * 2, 1);
                let len = len.min(max_len - off).max(1);
                let mode = match kind {
                    7 => 0,
                    8 => libc::FALLOC_FL_KEEP_SIZE,
                    9 => libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                    _ => {
                        libc::FALLOC_FL_ZERO_RANGE
                            | if self.rng.below(2) == 0 {
                                libc::FALLOC_FL_KEEP_SIZE
                            } else {
                                0
                            }
                    }
                };
                self.note(format!("{} {off} +{len} (mode {mode:#x})", OP_NAMES[kind]));
                if let Err(errno) = r2dax_sys::fallocate(self.fd(), mode, off, len) {
                    return Err(Failure::Fallocate { mode, errno });
                }
                let end = off + len;
                let keep = mode & libc::FALLOC_FL_KEEP_SIZE != 0;
                if !keep && end > size {
                    self.resize_model(end as usize);
                }
                if kind >= 9 {
                    let to = end.min(self.model.len() as u64) as usize;
                    if (off as usize) < to {
                        self.model[off as usize..to].fill(0);
                    }
                }
                Ok(())
            }
            11 | 12 => {
                self.note(OP_NAMES[kind].to_string());
                let r = if kind == 11 {
                    r2dax_sys::fsync(self.fd())
                } else {
                    r2dax_sys::fdatasync(self.fd())
                };
                if let Err(e) = r {
                    return Err(sys(OP_NAMES[kind])(e));
                }
                Ok(())
            }
            14 => {
                // A whole number of blocks ending before the end of the
                // file (up to it, it would be a truncate: EINVAL).
                let blocks = (size - 1) / PAGE as u64;
                let off = self.rng.below(blocks) * PAGE as u64;
                let most = (size - 1 - off) / PAGE as u64;
                let len = (1 + self.rng.below(most.min(max_io / PAGE as u64).max(1))) * PAGE as u64;
                self.note(format!("collapse {off} +{len}"));
                let mode = libc::FALLOC_FL_COLLAPSE_RANGE;
                if let Err(errno) = r2dax_sys::fallocate(self.fd(), mode, off, len) {
                    return Err(Failure::Fallocate { mode, errno });
                }
                self.model.drain(off as usize..(off + len) as usize);
                Ok(())
            }
            15 => {
                // A hole of a whole number of blocks at a block boundary
                // inside the file, within the largest size.
                let off = self.rng.below(size.div_ceil(PAGE as u64)) * PAGE as u64;
                let room = (max_len - size) / PAGE as u64;
                let len = (1 + self.rng.below(room.min(max_io / PAGE as u64).max(1))) * PAGE as u64;
                self.note(format!("insert {off} +{len}"));
                let mode = libc::FALLOC_FL_INSERT_RANGE;
                if let Err(errno) = r2dax_sys::fallocate(self.fd(), mode, off, len) {
                    return Err(Failure::Fallocate { mode, errno });
                }
                let at = off as usize;
                self.model
                    .splice(at..at, std::iter::repeat(0).take(len as usize));
                Ok(())
            }
            _ => {
                self.note("reopen".into());
                self.close();
                self.open()?;
                self.check_size()
            }
        }
        .map_err(|e| self.fail(op, e))
    }

    fn run(&mut self, ops: u64, stop: &AtomicBool) -> Res {
        // Start from an empty file.
        r2dax_sys::ftruncate(self.fd(), 0).map_err(sys("ftruncate"))?;
        for op in 1..=ops {
            if stop.load(Ordering::Relaxed) {
                return Err(Failure::Stopped { worker: self.id });
            }
            self.step(op)?;
            if op % self.opt.check_every == 0 || op == ops {
                self.check_all()
                    .map_err(|e| self.fail(op, Failure::FullCheck(Box::new(e))))?;
            }
        }
        if let Some(dir) = &self.opt.keep {
            let p = dir.join(self.path.file_name().unwrap_or_default());
            std::fs::write(&p, &self.model).map_err(|source| Failure::Keep {
                path: p.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

fn parse(args: &[String]) -> Result<(Options, PathBuf), UsageError> {
    let mut opt = Options {
        ops: 10000,
        workers: 2,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1),
        max_len: 1 << 20,
        max_io: 1 << 16,
        check_every: 1000,
        keep: None,
        direct: true,
        mmap: true,
        fallocate: true,
        quiet: false,
    };
    let mut dir = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<u64, UsageError> {
            let v = it
                .next()
                .ok_or_else(|| UsageError::MissingValue(name.to_string()))?;
            v.parse::<u64>().map_err(|_| UsageError::BadNumber {
                option: name.to_string(),
                value: v.clone(),
            })
        };
        match a.as_str() {
            "-n" | "--ops" => opt.ops = num(a)?,
            "-j" | "--workers" => opt.workers = num(a)?,
            "-s" | "--seed" => opt.seed = num(a)?,
            "-l" | "--max-len" => opt.max_len = num(a)?,
            "-w" | "--max-io" => opt.max_io = num(a)?,
            "-c" | "--check-every" => opt.check_every = num(a)?,
            "-k" | "--keep" => {
                opt.keep = Some(PathBuf::from(it.next().ok_or(UsageError::MissingKeepDir)?))
            }
            "--no-direct" => opt.direct = false,
            "--no-mmap" => opt.mmap = false,
            "--no-fallocate" => opt.fallocate = false,
            "-q" | "--quiet" => opt.quiet = true,
            s if s.starts_with('-') => return Err(UsageError::UnknownOption(s.to_string())),
            s => {
                if dir.replace(PathBuf::from(s)).is_some() {
                    return Err(UsageError::SecondDir);
                }
            }
        }
    }
    if opt.workers == 0 || opt.check_every == 0 || opt.max_io == 0 {
        return Err(UsageError::NotPositive);
    }
    if opt.max_len < PAGE as u64 {
        return Err(UsageError::MaxLenTooSmall);
    }
    Ok((opt, dir.ok_or(UsageError::MissingDir)?))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (opt, dir) = match parse(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("r2dax-fsx: {e}");
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !opt.quiet {
        println!(
            "r2dax-fsx: seed {}, {} workers, {} operations, max-len {}",
            opt.seed, opt.workers, opt.ops, opt.max_len
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for id in 0..opt.workers {
        let opt = opt.clone();
        let stop = stop.clone();
        let path = dir.join(format!("fsx.{id}"));
        let ops = opt.ops / opt.workers + u64::from(id < opt.ops % opt.workers);
        handles.push(std::thread::spawn(
            move || -> Result<[u64; OP_NAMES.len()], Failure> {
                let mut w = Worker {
                    id,
                    path,
                    fd: None,
                    dfd: None,
                    model: Vec::new(),
                    rng: Rng::new(opt.seed + id),
                    opt,
                    log: Default::default(),
                    counts: [0; OP_NAMES.len()],
                };
                w.open()?;
                let r = w.run(ops, &stop);
                w.close();
                if r.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                r.map(|_| w.counts)
            },
        ));
    }
    let mut ok = true;
    let mut total = [0u64; OP_NAMES.len()];
    for h in handles {
        match h.join() {
            Ok(Ok(c)) => {
                for (t, c) in total.iter_mut().zip(c) {
                    *t += c;
                }
            }
            Ok(Err(e)) => {
                ok = false;
                eprintln!("r2dax-fsx: {e}");
            }
            Err(_) => {
                ok = false;
                eprintln!("r2dax-fsx: a worker panicked");
            }
        }
    }
    if !ok {
        eprintln!("r2dax-fsx: FAILED (seed {})", opt.seed);
        return ExitCode::from(1);
    }
    if !opt.quiet {
        let mut s = String::new();
        for (n, c) in OP_NAMES.iter().zip(total) {
            let _ = write!(s, " {n}={c}");
        }
        println!("r2dax-fsx: passed:{s}");
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_print_as_before() {
        let path = || PathBuf::from("/mnt/fsx.0");
        let size = || Failure::Size { size: 1, model: 10 };
        let cases = [
            (
                Failure::Open {
                    path: path(),
                    direct: false,
                    errno: Errno::new(libc::ENOENT),
                },
                "open /mnt/fsx.0: No such file or directory (os error 2)",
            ),
            (
                Failure::Open {
                    path: path(),
                    direct: true,
                    errno: Errno::new(libc::EINVAL),
                },
                "open O_DIRECT /mnt/fsx.0: Invalid argument (os error 22)",
            ),
            (
                Failure::Sys {
                    call: "pread (full check)",
                    errno: Errno::new(libc::EIO),
                },
                "pread (full check): Input/output error (os error 5)",
            ),
            (
                Failure::Fallocate {
                    mode: libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                    errno: Errno::new(libc::EOPNOTSUPP),
                },
                "fallocate mode 0x3: Operation not supported (os error 95)",
            ),
            (
                Failure::Write {
                    call: "pwrite",
                    returned: 100,
                    errno: Errno::new(libc::ENOSPC),
                },
                "pwrite returned 100: No space left on device (os error 28)",
            ),
            (
                Failure::Write {
                    call: "O_DIRECT pwrite",
                    returned: -1,
                    errno: Errno::new(libc::EIO),
                },
                "O_DIRECT pwrite returned -1: Input/output error (os error 5)",
            ),
            (
                Failure::Mismatch {
                    at: 4100,
                    got: 0,
                    model: 0xab,
                    len: 8,
                    off: 4096,
                },
                "data mismatch at byte 4100 (read 0x00, model 0xab; read 8 bytes from 4096)",
            ),
            (size(), "file size 1 but model size 10"),
            (
                Failure::ShortFile { at: 1, len: 4096 },
                "short file: EOF at 1 of 4096",
            ),
            (
                Failure::ReadCount {
                    call: "pread",
                    n: 1,
                    want: 4096,
                },
                "pread returned 1, expected 4096",
            ),
            (
                Failure::Keep {
                    path: "/keep/fsx.0".into(),
                    source: std::io::Error::from_raw_os_error(libc::ENOENT),
                },
                "/keep/fsx.0: No such file or directory (os error 2)",
            ),
            (
                Failure::Stopped { worker: 1 },
                "worker 1: stopped after another worker failed",
            ),
            (
                Failure::FullCheck(Box::new(size())),
                "full check: file size 1 but model size 10",
            ),
            (
                Failure::Op {
                    worker: 0,
                    seed: 7,
                    op: 12,
                    cause: Box::new(Failure::FullCheck(Box::new(size()))),
                    log: vec!["write 0 +10".into(), "truncate 1".into()],
                },
                "worker 0 (seed 7): operation 12: full check: file size 1 but model size 10\n  \
                 last operations:\n    write 0 +10\n    truncate 1\n",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn usage_errors_print_as_before() {
        let text = |v: &[&str]| {
            let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            parse(&v).err().map(|e| e.to_string())
        };
        let cases: [(&[&str], &str); 8] = [
            (&["d", "-n"], "-n needs a value"),
            (&["--ops", "x", "d"], "--ops: bad number 'x'"),
            (&["d", "-k"], "--keep needs a directory"),
            (&["-z", "d"], "unknown option '-z'"),
            (&["a", "b"], "only one DIR"),
            (
                &["-j", "0", "d"],
                "workers, check-every and max-io must be positive",
            ),
            (&["-l", "10", "d"], "max-len must be at least 4096"),
            (&["-q"], "missing DIR"),
        ];
        for (v, want) in cases {
            assert_eq!(text(v).as_deref(), Some(want), "{v:?}");
        }
    }
}
