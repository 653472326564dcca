// SPDX-License-Identifier: GPL-2.0
//! r2dax-daxstorm: flips a file's DAX flag in a loop while other threads
//! map, fault, read, write, truncate and fork on it, and checks every byte
//! against a model.
//!
//! One file. Worker `i` owns bytes `i*R..(i+1)*R`; the truncater owns the
//! tail beyond `W*R`. Each keeps the model of its own bytes, so the model
//! is exact whatever the interleaving. The flipper toggles `FS_XFLAG_DAX`;
//! every success must show at once in statx (`STATX_ATTR_DAX`), and every
//! failure must be `EBUSY`. A SIGBUS, a wrong byte, a wrong mode or any
//! other error fails the run (exit 1). The caller checks dmesg.
//!
//! With `-r MNT` the flipper remounts MNT with a random `dax=` mode instead
//! (and now and then flips the flag, `EBUSY` allowed): after each remount
//! statx and r2dax's status ioctl must agree on whether the file uses the
//! mode the mount and its flag ask for or is pending; once the other
//! threads stopped (no mapping left), it must reach that mode within a few
//! seconds. The data checks are the same.

use r2dax_format::ioctl::{status, FS_XFLAG_DAX, STATX_ATTR_DAX};
use r2dax_sys::{Errno, Fork, Mmap};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USAGE: &str = "\
Usage: r2dax-daxstorm [-t SECS] [-s SEED] [-w WORKERS] [-r MNT] FILE
Races DAX flag flips of FILE against mmap/munmap, shared and private
faults, pread/pwrite, truncate and fork, verifying data against a model.
The filesystem must be mounted so that the flag switches the mode at once
(r2dax dax=inode on a DAX device). With -r MNT (FILE's r2dax mount), the
flips are mostly remounts of MNT with a random dax= mode: the file must
use the mode asked for or be reported pending, and reach it once the
storm stops. Prints a summary; exit 0 on success, 1 on a failure
(described on stderr), 2 on a usage error.";

const REGION: usize = 64 * 1024;
const TAIL: usize = 64 * 1024;
const PAGE: usize = 4096;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Why a thread failed the run.
#[derive(Debug)]
enum Failure {
    /// A system call failed: which one, and its error.
    Sys(&'static str, Errno),
    /// File I/O failed: who did what, and the error.
    Io(String, std::io::Error),
    /// A byte read back differs from the model: whose check, the
    /// offset, what was read and what the model holds.
    Data {
        what: String,
        at: usize,
        got: u8,
        model: u8,
    },
    /// As `Data`, for a byte read through worker `worker`'s shared
    /// mapping.
    SharedMap {
        worker: usize,
        at: usize,
        got: u8,
        model: u8,
    },
    /// Worker `worker`'s private mapping shows a wrong byte at `at`.
    PrivateMap { worker: usize, at: usize },
    /// Worker `worker`'s forked child did not exit with 0.
    Child { worker: usize, status: i32 },
    /// A flip failed with EBUSY, yet statx shows the new mode.
    ChangedWhenBusy,
    /// A flip to `want` succeeded, yet statx shows the old mode.
    NotSwitched { want: bool },
    /// `mount -o remount,dax=MODE` failed: the mode, what went wrong.
    Remount(&'static str, String),
    /// After a remount the file neither uses the mode asked for (`want`)
    /// nor is reported pending.
    Unsettled { want: bool, pending: bool },
    /// With nothing mapping the file any more, it did not reach the
    /// mode asked for (`want`).
    StillPending { want: bool },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Sys(call, e) => write!(f, "{call}: {e}"),
            Failure::Io(what, e) => write!(f, "{what}: {e}"),
            Failure::Data {
                what,
                at,
                got,
                model,
            } => write!(f, "{what}: byte {at} is {got:#04x}, model {model:#04x}"),
            Failure::SharedMap {
                worker,
                at,
                got,
                model,
            } => write!(
                f,
                "worker {worker}: shared map byte {at} is {got:#04x}, model {model:#04x}"
            ),
            Failure::PrivateMap { worker, at } => {
                write!(f, "worker {worker}: private map byte {at} wrong")
            }
            Failure::Child { worker, status } => {
                write!(f, "worker {worker}: child died (status {status:#x})")
            }
            Failure::ChangedWhenBusy => write!(f, "EBUSY, but the mode changed"),
            Failure::NotSwitched { want } => {
                write!(f, "flag set to {want}, but statx says otherwise")
            }
            Failure::Remount(mode, e) => write!(f, "remount dax={mode}: {e}"),
            Failure::Unsettled { want, pending } => write!(
                f,
                "after a remount the file should {}use DAX, but it does not, and it is {}reported pending",
                if *want { "" } else { "not " },
                if *pending { "" } else { "not " }
            ),
            Failure::StillPending { want } => write!(
                f,
                "the storm stopped, but the file still does not {}use DAX 5 s later",
                if *want { "" } else { "not " }
            ),
        }
    }
}

impl std::error::Error for Failure {}

type Res = Result<(), Failure>;

/// `Failure::Io` with `what` for context.
fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Failure {
    move |e| Failure::Io(what.into(), e)
}

/// `Failure::Sys` for `call`.
fn sys(call: &'static str) -> impl FnOnce(Errno) -> Failure {
    move |e| Failure::Sys(call, e)
}

fn is_dax(f: &File) -> Result<bool, Failure> {
    let a = r2dax_sys::fstatx_attributes(f).map_err(sys("statx"))?;
    Ok(a.set & STATX_ATTR_DAX != 0)
}

/// A shared or private read-write mapping of `len` bytes at `off`.
fn map(f: &File, off: usize, len: usize, shared: bool) -> Result<Mmap, Failure> {
    let flags = if shared {
        libc::MAP_SHARED
    } else {
        libc::MAP_PRIVATE
    };
    Mmap::new(
        f,
        off as u64,
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        flags,
    )
    .map_err(sys("mmap"))
}

fn check(f: &File, base: usize, model: &[u8], what: &str) -> Res {
    let mut buf = vec![0u8; model.len()];
    f.read_exact_at(&mut buf, base as u64)
        .map_err(io(format!("{what}: pread")))?;
    if let Some(i) = (0..model.len()).find(|&i| buf[i] != model[i]) {
        return Err(Failure::Data {
            what: what.to_string(),
            at: base + i,
            got: buf[i],
            model: model[i],
        });
    }
    Ok(())
}

fn worker(f: &File, id: usize, seed: u64, stop: &AtomicBool, ops: &AtomicU64) -> Res {
    let base = id * REGION;
    let mut rng = Rng(seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(id as u64 + 1)));
    let mut model = vec![0u8; REGION];
    while !stop.load(Ordering::Relaxed) {
        let off = rng.below(REGION);
        let len = 1 + rng.below((REGION - off).min(3 * PAGE));
        let val = (rng.next() & 0xff) as u8;
        match rng.below(7) {
            0 => {
                let data = vec![val; len];
                f.write_all_at(&data, (base + off) as u64)
                    .map_err(io(format!("worker {id}: pwrite")))?;
                model[off..off + len].fill(val);
            }
            1 => check(
                f,
                base + off,
                &model[off..off + len],
                &format!("worker {id}"),
            )?,
            2 | 3 => {
                let m = map(f, base, REGION, true)?;
                for _ in 0..8 {
                    let o = rng.below(REGION);
                    if rng.below(2) == 0 {
                        let v = (rng.next() & 0xff) as u8;
                        m.write(o, v);
                        model[o] = v;
                    } else if m.read(o) != model[o] {
                        return Err(Failure::SharedMap {
                            worker: id,
                            at: base + o,
                            got: m.read(o),
                            model: model[o],
                        });
                    }
                }
            }
            4 => {
                // A private mapping: reads see the file, writes stay private.
                let m = map(f, base, REGION, false)?;
                let o = rng.below(REGION);
                if m.read(o) != model[o] {
                    return Err(Failure::PrivateMap {
                        worker: id,
                        at: base + o,
                    });
                }
                m.write(o, model[o] ^ 0xff);
                drop(m);
                check(
                    f,
                    base + o,
                    &model[o..o + 1],
                    &format!("worker {id} after COW"),
                )?;
            }
            5 => {
                // fork: the child's copy of the shared mapping keeps the
                // file mapped after the parent unmaps; the child writes one
                // byte through it and exits.
                let m = map(f, base, REGION, true)?;
                let o = rng.below(REGION);
                let v = (rng.next() & 0xff) as u8;
                // SAFETY: The child only stores through the mapping, sleeps
                // and calls _exit; no locks or allocation.
                let pid = match unsafe { r2dax_sys::fork() } {
                    Err(e) => return Err(Failure::Sys("fork", e)),
                    Ok(Fork::Child) => {
                        m.write(o, v);
                        std::thread::sleep(Duration::from_micros(2000));
                        r2dax_sys::exit_now(0);
                    }
                    Ok(Fork::Parent(pid)) => pid,
                };
                drop(m);
                let st = r2dax_sys::waitpid(pid).map_err(sys("waitpid"))?;
                if !st.exited() || st.exit_status() != 0 {
                    return Err(Failure::Child {
                        worker: id,
                        status: st.0,
                    });
                }
                model[o] = v;
            }
            _ => {
                f.sync_data()
                    .map_err(io(format!("worker {id}: fdatasync")))?;
            }
        }
        ops.fetch_add(1, Ordering::Relaxed);
    }
    check(f, base, &model, &format!("worker {id} final"))
}

fn truncater(f: &File, start: usize, seed: u64, stop: &AtomicBool, ops: &AtomicU64) -> Res {
    let mut rng = Rng(seed ^ 0x5151);
    let mut model: Vec<u8> = vec![0u8; TAIL];
    let mut len = TAIL;
    while !stop.load(Ordering::Relaxed) {
        let new = rng.below(TAIL + 1);
        f.set_len((start + new) as u64).map_err(io("truncate"))?;
        model.truncate(new);
        model.resize(TAIL, 0);
        len = new;
        let off = rng.below(TAIL);
        let n = 1 + rng.below(TAIL - off);
        let v = (rng.next() & 0xff) as u8;
        f.write_all_at(&vec![v; n], (start + off) as u64)
            .map_err(io("tail pwrite"))?;
        model[off..off + n].fill(v);
        len = len.max(off + n);
        check(f, start, &model[..len], "tail")?;
        ops.fetch_add(1, Ordering::Relaxed);
    }
    check(f, start, &model[..len], "tail final")
}

fn flipper(f: &File, stop: &AtomicBool, ok: &AtomicU64, busy: &AtomicU64) -> Res {
    while !stop.load(Ordering::Relaxed) {
        let mut fa = r2dax_sys::get_fsxattr(f).map_err(sys("FSGETXATTR"))?;
        fa.xflags ^= FS_XFLAG_DAX;
        let want = fa.xflags & FS_XFLAG_DAX != 0;
        if let Err(e) = r2dax_sys::set_fsxattr(f, &fa) {
            if e.raw() != libc::EBUSY {
                return Err(Failure::Sys("FSSETXATTR", e));
            }
            busy.fetch_add(1, Ordering::Relaxed);
            if is_dax(f)? == want {
                return Err(Failure::ChangedWhenBusy);
            }
        } else {
            ok.fetch_add(1, Ordering::Relaxed);
            if is_dax(f)? != want {
                return Err(Failure::NotSwitched { want });
            }
        }
        std::thread::yield_now();
    }
    Ok(())
}

/// Remounts `mnt` with `dax=mode`.
fn remount(mnt: &str, mode: &'static str) -> Res {
    let out = std::process::Command::new("mount")
        .args(["-o", &format!("remount,dax={mode}"), mnt])
        .output()
        .map_err(|e| Failure::Remount(mode, e.to_string()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(Failure::Remount(mode, err));
    }
    Ok(())
}

/// The mode the mount (`mode`) and the file's flag ask for, and whether
/// r2dax reports the file pending.
fn wanted(f: &File, mode: &str) -> Result<(bool, bool), Failure> {
    let flag = r2dax_sys::get_fsxattr(f).map_err(sys("FSGETXATTR"))?.xflags & FS_XFLAG_DAX != 0;
    let st = r2dax_sys::dax_status(f).map_err(sys("R2DAX_IOC_DAX_STATUS"))?;
    let want = match mode {
        "always" => true,
        "never" => false,
        _ => flag,
    };
    Ok((want, st.flags & status::PENDING != 0))
}

/// Counts of the remount storm.
#[derive(Default)]
struct Remounts {
    /// Remounts that asked the file for the other mode, after which it
    /// used it.
    settled: AtomicU64,
    /// Such remounts after which it was pending.
    pending: AtomicU64,
}

/// The flipper of `-r`: remounts `mnt` with random modes (and flips the
/// flag one time in four); ends in `dax=inode` and waits for the file to
/// reach its mode once `stop` is set and `others` threads have ended.
fn remounter(
    f: &File,
    mnt: &str,
    seed: u64,
    stop: &AtomicBool,
    others_done: &AtomicBool,
    counts: &Remounts,
) -> Res {
    const MODES: [&str; 3] = ["inode", "never", "always"];
    let mut rng = Rng(seed ^ 0x5eed_0f_4e40);
    let mut mode = "inode";
    while !stop.load(Ordering::Relaxed) {
        // The mode before a remount, to count only remounts that ask the
        // file for the other mode.
        let mut before = None;
        if rng.below(4) == 0 {
            let mut fa = r2dax_sys::get_fsxattr(f).map_err(sys("FSGETXATTR"))?;
            fa.xflags ^= FS_XFLAG_DAX;
            match r2dax_sys::set_fsxattr(f, &fa) {
                Err(e) if e.raw() != libc::EBUSY => return Err(Failure::Sys("FSSETXATTR", e)),
                _ => {}
            }
        } else {
            before = Some(is_dax(f)?);
            mode = MODES[rng.below(MODES.len())];
            remount(mnt, mode)?;
        }
        // The status ioctl and statx must agree: a file seen in the wrong
        // mode that the ioctl then calls settled can only have switched in
        // between (only r2dax's retry switches it while this thread does
        // nothing), so statx shows the mode asked for afterwards.
        let dax = is_dax(f)?;
        let (want, pending) = wanted(f, mode)?;
        if dax != want && !pending && is_dax(f)? != want {
            return Err(Failure::Unsettled { want, pending });
        }
        if before.is_some_and(|b| b != want) {
            let n = if dax == want {
                &counts.settled
            } else {
                &counts.pending
            };
            n.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::sleep(Duration::from_millis(rng.below(20) as u64));
    }
    remount(mnt, "inode")?;
    while !others_done.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Nothing maps the file now (forked children exited too): the last
    // unmap or the retry every second must bring it to its mode.
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let (want, pending) = wanted(f, "inode")?;
        if is_dax(f)? == want && !pending {
            return Ok(());
        }
        if Instant::now() > end {
            return Err(Failure::StillPending { want });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    let (mut secs, mut seed, mut workers, mut path) = (10u64, 1u64, 3usize, None);
    let mut mnt: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |what: &str| -> u64 {
            it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("r2dax-daxstorm: {what} needs a number\n{USAGE}");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "-t" => secs = num("-t"),
            "-s" => seed = num("-s"),
            "-w" => workers = num("-w").clamp(1, 64) as usize,
            "-r" => {
                mnt = Some(it.next().cloned().unwrap_or_else(|| {
                    eprintln!("r2dax-daxstorm: -r needs a mount point\n{USAGE}");
                    std::process::exit(2)
                }))
            }
            p if !p.starts_with('-') && path.is_none() => path = Some(p.to_string()),
            o => {
                eprintln!("r2dax-daxstorm: unexpected argument '{o}'\n{USAGE}");
                std::process::exit(2)
            }
        }
    }
    let Some(path) = path else {
        eprintln!("r2dax-daxstorm: no FILE\n{USAGE}");
        std::process::exit(2)
    };
    let f = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
    {
        Ok(f) => Arc::new(f),
        Err(e) => {
            eprintln!("r2dax-daxstorm: {path}: {e}");
            std::process::exit(1)
        }
    };
    let tail = workers * REGION;
    if let Err(e) = f.set_len((tail + TAIL) as u64) {
        eprintln!("r2dax-daxstorm: {path}: {e}");
        std::process::exit(1)
    }
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let (ok, busy) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut hs = Vec::new();
    for id in 0..workers {
        let (f, stop, ops) = (f.clone(), stop.clone(), ops.clone());
        hs.push(std::thread::spawn(move || {
            worker(&f, id, seed, &stop, &ops)
        }));
    }
    {
        let (f, stop, ops) = (f.clone(), stop.clone(), ops.clone());
        hs.push(std::thread::spawn(move || {
            truncater(&f, tail, seed, &stop, &ops)
        }));
    }
    let others_done = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Remounts::default());
    let flip = if let Some(mnt) = mnt.clone() {
        let (f, stop, done, counts) =
            (f.clone(), stop.clone(), others_done.clone(), counts.clone());
        std::thread::spawn(move || remounter(&f, &mnt, seed, &stop, &done, &counts))
    } else {
        let (f, stop, ok, busy) = (f.clone(), stop.clone(), ok.clone(), busy.clone());
        std::thread::spawn(move || flipper(&f, &stop, &ok, &busy))
    };
    let end = Instant::now() + Duration::from_secs(secs);
    let mut failed = false;
    while Instant::now() < end && !hs.iter().any(|h| h.is_finished()) && !flip.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    // The flipper's final check needs the others gone: join them first.
    let mut results = Vec::new();
    for h in hs {
        results.push(h.join());
    }
    others_done.store(true, Ordering::Release);
    results.push(flip.join());
    for r in results {
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("r2dax-daxstorm: FAIL: {e}");
                failed = true;
            }
            Err(_) => {
                eprintln!("r2dax-daxstorm: FAIL: a thread panicked");
                failed = true;
            }
        }
    }
    if mnt.is_some() {
        println!(
            "r2dax-daxstorm: {} operations, {} remounts settled, {} pending",
            ops.load(Ordering::Relaxed),
            counts.settled.load(Ordering::Relaxed),
            counts.pending.load(Ordering::Relaxed)
        );
    } else {
        println!(
            "r2dax-daxstorm: {} operations, {} switches, {} EBUSY",
            ops.load(Ordering::Relaxed),
            ok.load(Ordering::Relaxed),
            busy.load(Ordering::Relaxed)
        );
    }
    std::process::exit(if failed { 1 } else { 0 });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_print_as_before() {
        let io = std::io::Error::from_raw_os_error(libc::EIO);
        let cases = [
            (
                Failure::Sys("FSSETXATTR", Errno::new(libc::EPERM)),
                "FSSETXATTR: Operation not permitted (os error 1)",
            ),
            (
                Failure::Io("worker 2: pwrite".into(), io),
                "worker 2: pwrite: Input/output error (os error 5)",
            ),
            (
                Failure::Data {
                    what: "tail final".into(),
                    at: 70000,
                    got: 0x5,
                    model: 0xab,
                },
                "tail final: byte 70000 is 0x05, model 0xab",
            ),
            (
                Failure::SharedMap {
                    worker: 1,
                    at: 65537,
                    got: 0,
                    model: 0x10,
                },
                "worker 1: shared map byte 65537 is 0x00, model 0x10",
            ),
            (
                Failure::PrivateMap { worker: 0, at: 9 },
                "worker 0: private map byte 9 wrong",
            ),
            (
                Failure::Child {
                    worker: 2,
                    status: 0x86,
                },
                "worker 2: child died (status 0x86)",
            ),
            (Failure::ChangedWhenBusy, "EBUSY, but the mode changed"),
            (
                Failure::NotSwitched { want: true },
                "flag set to true, but statx says otherwise",
            ),
        ];
        for (f, text) in cases {
            assert_eq!(f.to_string(), text);
        }
    }
}
