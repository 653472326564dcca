// SPDX-License-Identifier: GPL-2.0
//! r2dax-fsx: a random-operation file exerciser checked against an
//! in-memory model, in the spirit of fsx.
//!
//! Each worker thread owns one file and a model of its contents (a byte
//! vector whose length is the file size). It applies random operations
//! through three paths, buffered I/O, O_DIRECT and shared mmap, plus
//! truncate, fallocate (preallocate, keep-size, punch hole, zero range),
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
use std::fmt::Write as _;
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
      --no-fallocate    no fallocate operations
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

const OP_NAMES: [&str; 14] = [
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
];

type Res = Result<(), String>;

/// A write of `len` bytes in one call: "`what` returned N: errno" unless
/// it wrote them all (after a short count, the thread's errno as it
/// stands).
fn written(r: Result<usize, Errno>, len: u64, what: &str) -> Res {
    match r {
        Ok(n) if n as u64 == len => Ok(()),
        Ok(n) => Err(format!("{what} returned {n}: {}", Errno::last())),
        Err(e) => Err(format!("{what} returned -1: {e}")),
    }
}

impl Worker {
    fn open(&mut self) -> Res {
        let fd = r2dax_sys::open(&self.path, libc::O_RDWR | libc::O_CREAT, 0o644)
            .map_err(|e| format!("open {}: {e}", self.path.display()))?;
        self.fd = Some(fd);
        self.dfd = None;
        if self.opt.direct {
            let dfd = r2dax_sys::open(&self.path, libc::O_RDWR | libc::O_DIRECT, 0)
                .map_err(|e| format!("open O_DIRECT {}: {e}", self.path.display()))?;
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

    fn fail(&self, op: u64, what: &str) -> String {
        let mut m = format!(
            "worker {} (seed {}): operation {}: {}\n  last operations:\n",
            self.id,
            self.opt.seed + self.id,
            op,
            what
        );
        for l in &self.log {
            let _ = writeln!(m, "    {l}");
        }
        m
    }

    /// Compares `got` with the model at `off`.
    fn compare(&self, off: usize, got: &[u8]) -> Result<(), String> {
        if got.is_empty() {
            return Ok(());
        }
        let want = &self.model[off..off + got.len()];
        if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
            return Err(format!(
                "data mismatch at byte {} (read 0x{:02x}, model 0x{:02x}; read {} bytes from {})",
                off + i,
                got[i],
                want[i],
                got.len(),
                off
            ));
        }
        Ok(())
    }

    fn file_size(&self) -> Result<u64, String> {
        r2dax_sys::file_size(self.fd()).map_err(|e| format!("fstat: {e}"))
    }

    fn check_size(&self) -> Res {
        let size = self.file_size()?;
        if size != self.model.len() as u64 {
            return Err(format!(
                "file size {} but model size {}",
                size,
                self.model.len()
            ));
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
                .map_err(|e| format!("pread (full check): {e}"))?;
            if n == 0 {
                return Err(format!("short file: EOF at {} of {}", done, buf.len()));
            }
            done += n;
        }
        self.compare(0, &buf)
    }

    /// Reads `buf.len()` bytes at `off` through `fd` and checks the count
    /// (short only at end of file) and the data against the model.
    fn read_check(&self, fd: BorrowedFd<'_>, buf: &mut [u8], off: u64, what: &str) -> Res {
        // `buf` is page-aligned when `fd` is the O_DIRECT descriptor.
        let n = r2dax_sys::pread(fd, buf, off).map_err(|e| format!("{what}: {e}"))?;
        let want = (self.model.len() as u64)
            .saturating_sub(off)
            .min(buf.len() as u64);
        if n as u64 != want {
            return Err(format!("{what} returned {n}, expected {want}"));
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
                _ => 13,
            };
            let ok = match k {
                2 | 3 => self.opt.direct,
                4 | 5 => self.opt.mmap && size > 0,
                7..=10 => self.opt.fallocate,
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
                    Err(e) => return Err(format!("mmap: {e}")),
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
                        m.msync(libc::MS_SYNC).map_err(|e| format!("msync: {e}"))
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
                    return Err(format!("ftruncate: {e}"));
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
                if let Err(e) = r2dax_sys::fallocate(self.fd(), mode, off, len) {
                    return Err(format!("fallocate mode {mode:#x}: {e}"));
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
                    return Err(format!("{}: {e}", OP_NAMES[kind]));
                }
                Ok(())
            }
            _ => {
                self.note("reopen".into());
                self.close();
                self.open()?;
                self.check_size()
            }
        }
        .map_err(|e| self.fail(op, &e))
    }

    fn run(&mut self, ops: u64, stop: &AtomicBool) -> Res {
        // Start from an empty file.
        r2dax_sys::ftruncate(self.fd(), 0).map_err(|e| format!("ftruncate: {e}"))?;
        for op in 1..=ops {
            if stop.load(Ordering::Relaxed) {
                return Err(format!(
                    "worker {}: stopped after another worker failed",
                    self.id
                ));
            }
            self.step(op)?;
            if op % self.opt.check_every == 0 || op == ops {
                self.check_all()
                    .map_err(|e| self.fail(op, &format!("full check: {e}")))?;
            }
        }
        if let Some(dir) = &self.opt.keep {
            let p = dir.join(self.path.file_name().unwrap_or_default());
            std::fs::write(&p, &self.model).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        Ok(())
    }
}

fn parse(args: &[String]) -> Result<(Options, PathBuf), String> {
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
        let mut num = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or(format!("{name} needs a value"))?;
            v.parse::<u64>()
                .map_err(|_| format!("{name}: bad number '{v}'"))
        };
        match a.as_str() {
            "-n" | "--ops" => opt.ops = num(a)?,
            "-j" | "--workers" => opt.workers = num(a)?,
            "-s" | "--seed" => opt.seed = num(a)?,
            "-l" | "--max-len" => opt.max_len = num(a)?,
            "-w" | "--max-io" => opt.max_io = num(a)?,
            "-c" | "--check-every" => opt.check_every = num(a)?,
            "-k" | "--keep" => {
                opt.keep = Some(PathBuf::from(it.next().ok_or("--keep needs a directory")?))
            }
            "--no-direct" => opt.direct = false,
            "--no-mmap" => opt.mmap = false,
            "--no-fallocate" => opt.fallocate = false,
            "-q" | "--quiet" => opt.quiet = true,
            s if s.starts_with('-') => return Err(format!("unknown option '{s}'")),
            s => {
                if dir.replace(PathBuf::from(s)).is_some() {
                    return Err("only one DIR".into());
                }
            }
        }
    }
    if opt.workers == 0 || opt.check_every == 0 || opt.max_io == 0 {
        return Err("workers, check-every and max-io must be positive".into());
    }
    if opt.max_len < PAGE as u64 {
        return Err(format!("max-len must be at least {PAGE}"));
    }
    Ok((opt, dir.ok_or("missing DIR")?))
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
        handles.push(std::thread::spawn(move || -> Result<[u64; 14], String> {
            let mut w = Worker {
                id,
                path,
                fd: None,
                dfd: None,
                model: Vec::new(),
                rng: Rng::new(opt.seed + id),
                opt,
                log: Default::default(),
                counts: [0; 14],
            };
            w.open()?;
            let r = w.run(ops, &stop);
            w.close();
            if r.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            r.map(|_| w.counts)
        }));
    }
    let mut ok = true;
    let mut total = [0u64; 14];
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
