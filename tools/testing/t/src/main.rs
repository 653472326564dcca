// SPDX-License-Identifier: GPL-2.0
//! r2dax-t: a test helper for system calls busybox cannot make. Prints
//! "ok" or the error's text, so tests can compare it with golden output.
//!
//!   r2dax-t rename OLD NEW [noreplace|exchange]   renameat2(2)
//!   r2dax-t shutdown PATH default|logflush|nologflush|N [status]   the
//!       shutdown ioctl (R2DAX_IOC_SHUTDOWN, ext4's and xfs's) on PATH's
//!       filesystem; with "status", then R2DAX_IOC_DAX_STATUS on PATH's
//!       descriptor, opened before the shutdown
//!   r2dax-t hwpoison FILE OFFSET                  map FILE (shared), load
//!       the page at OFFSET, inject memory failure into it
//!       (MADV_HWPOISON); prints "injecting" first
//!   r2dax-t faults FILE [read|write]              map FILE (shared), touch
//!       every 4 KiB page (read it, or store 0x6b in its first byte), print
//!       the page faults that took (getrusage)
//!   r2dax-t mmap-dio SRC DST LEN                  O_DIRECT between a shared
//!       mapping of SRC and DST, both ways (GUP on SRC's pages), checked
//!   r2dax-t cow FILE LEN                          two threads take private
//!       write faults over FILE's first LEN bytes (COW over 2 MiB DAX
//!       extents); the file must not change, each copy must
//!   r2dax-t dio-race DAX SRC LEN SECS             for SECS seconds, one
//!       thread does O_DIRECT reads of SRC into a fresh shared mapping of
//!       DAX (pinning its pages) while another truncates DAX to 0 and back
//!       and punches holes in it (fstests generic/503); prints the counts.
//!       Reads may fail with EFAULT when the truncate wins; nothing else
//!   r2dax-t pin FILE MS [OFFSET]                  take references on 4
//!       pages of FILE from byte OFFSET (default 0; k and m suffixes) on
//!       (vmsplice of a shared mapping into a pipe, as DMA would pin them),
//!       unmap, print "pinned", hold them MS milliseconds, drop them, print
//!       "released"
//!   r2dax-t dirops DIR OPS SEED [MODEL]           OPS random namespace
//!       operations in DIR (create, unlink, rename over free and taken
//!       names, link, lookups of present and absent names) with names of
//!       1 to 255 bytes, each checked against an in-memory model (result
//!       and errno); readdir compared with the model every 500 ops and at
//!       the end. Writes the model's sorted names to MODEL
//!   r2dax-t dircheck DIR MODEL                    DIR's names (readdir)
//!       and lookups of each against MODEL's list, and of absent names
//!   r2dax-t stress DIR OPS SEED NPROC             an fsstress-style load
//!       that runs the filesystem out of blocks and inodes again and
//!       again: NPROC processes (seeds SEED+i) of OPS random operations
//!       each in DIR/pI and the other processes' directories (create,
//!       mkdir, rmdir, buffered/O_DIRECT/appending writes, truncate,
//!       fallocate modes, rename, link, unlink, symlinks, fsync, shared
//!       mmap stores); prints "ops N enospc M (out of inodes I)
//!       other-errors K unexpected U"; fails on any other errno or a
//!       crashed child. See stress.rs
//!   r2dax-t wb-punch FILE DIR ROUNDS              writeback of a 256 MiB
//!       file against a punch, rewrite and reuse of its blocks; every file
//!       checked after sync and drop_caches (see `race.rs`)
//!   r2dax-t collapse-race FILE SECS               MADV_COLLAPSE of a
//!       read-only mapping against munmap and DAX switches (see `race.rs`)
//!   r2dax-t pattern FILE LEN                      the data collapse-race
//!       checks
//!   r2dax-t straddle FILE collapse|punch|truncate  FILE is 4 MiB of DAX
//!       in 2 MiB extents: map it whole (2 MiB faults) and its first 8 KiB
//!       again (4 KiB faults into the same 2 MiB entry), cut at 64 KiB
//!       (collapse or punch 64 KiB there, or truncate to it), pin the
//!       first 8 KiB through the small mapping (vmsplice), unmap, then
//!       truncate to 0 while another thread drops the pin after 2 s; prints
//!       "releasing" (before the pin goes) and "truncated" in the order
//!       they happen: a truncate must wait for the pin
//!   r2dax-t shift-mapped FILE collapse|insert OFF LEN   map FILE (shared),
//!       store into every page through the mapping, collapse or insert
//!       LEN bytes at OFF (fallocate), then compare the whole file through
//!       the same mapping and through read(2) with a model of the shift
//!   r2dax-t setxattr PATH NAME VALUE [create|replace]   lsetxattr(2)
//!       with XATTR_CREATE or XATTR_REPLACE (setfattr has no such flags);
//!       VALUE @N is N bytes of a fixed pattern
//!   r2dax-t fill-xattrs PATH PREFIX              sets PREFIX0=v0,
//!       PREFIX1=v1, ... until a call fails; prints "N: ERROR" (the
//!       number stored, then the error); one process for what would take
//!       hundreds of setfattr runs
//!   r2dax-t clear-xattrs PATH                     removes every attribute
//!       llistxattr(2) lists; prints "N removed" or the first error
//!   r2dax-t handle PATH                           name_to_handle_at(2):
//!       prints the handle as TYPE:HEX
//!   r2dax-t open-handle MNT TYPE:HEX              open_by_handle_at(2) on
//!       MNT's filesystem: prints the inode number, and for a regular
//!       file its size and CRC-32C, or the error
//!   r2dax-t as UID GID CMD ARGS...                run CMD as UID:GID, no
//!       supplementary groups (busybox has no su that does this); exits
//!       with CMD's status

use r2dax_sys::{Errno, Mmap};
use std::fmt;
use std::process::ExitCode;

mod race;
mod stress;

/// Why `mmap-dio`, `cow`, `dio-race`, `dirops`, `dircheck`, `wb-punch`,
/// `collapse-race` or `pattern` failed: printed on stdout, exit status 1.
#[derive(Debug)]
pub(crate) enum Failure {
    /// An I/O call failed; printed as the `io::Error` is.
    Io(std::io::Error),
    /// A system call failed; printed as the errno is.
    Errno(Errno),
    /// `what` (a system call, or the O_DIRECT transfer to or from a
    /// mapping) failed with `errno`.
    Call { what: &'static str, errno: Errno },
    /// The thread `thread` panicked.
    Panicked(&'static str),
    /// mmap-dio: byte `at` of DST is wrong after the O_DIRECT write.
    DestinationWrong { at: usize },
    /// mmap-dio: byte `at` of SRC is wrong after the O_DIRECT read.
    SourceWrong { at: usize },
    /// cow: the private copy of page `page` does not hold what was
    /// written (or lost what the file had).
    PrivateCopyWrong { page: usize },
    /// cow: the file changed under a private mapping.
    PrivateWritesReachedFile,
    /// dio-race: `reads` reads and `truncates` truncates, one of them 0.
    NoRace { reads: u64, truncates: u64 },
    /// dirops: operation `op`'s lookup of `name` found inode `ino`, the
    /// model `model`.
    LookupInode {
        op: usize,
        name: String,
        ino: Option<u64>,
        model: Option<u64>,
    },
    /// dirops: operation `op` (`kind` on names `a` and `b`) gave errno
    /// `got` (0: success) where the model says `want`.
    WrongErrno {
        op: usize,
        kind: &'static str,
        a: String,
        b: String,
        got: i32,
        want: i32,
    },
    /// dirops (after operation `op`) or dircheck (`None`): readdir does
    /// not list the model's names.
    ReaddirDiffers { op: Option<usize> },
    /// dircheck: the lookup of `name`, which the model has, failed.
    Lookup {
        name: String,
        source: std::io::Error,
    },
    /// dircheck: the lookup of `name`, which the model lacks, gave
    /// `found` instead of ENOENT (boxed: metadata is large).
    AbsentFound {
        name: String,
        found: Box<std::io::Result<std::fs::Metadata>>,
    },
    /// wb-punch: in round `round`, the big file `path` differs at byte
    /// `at`; `hole` is the range punched and rewritten.
    Differs {
        round: u32,
        path: String,
        at: usize,
        hole: std::ops::Range<usize>,
    },
    /// wb-punch: in round `round`, small file `path` differs at byte `at`.
    SmallDiffers { round: u32, path: String, at: usize },
    /// wb-punch: in `late` of `rounds` rounds writeback never got ahead
    /// far enough for the punch to race it.
    WritebackLate { late: u32, rounds: u32 },
    /// collapse-race: the DAX flag could not be set after the race.
    StayedBusy,
    /// collapse-race: read(2) in DAX (`dax`) or page-cache mode differs
    /// at byte `at`.
    ReadDiffers { dax: bool, at: usize },
    /// collapse-race: a mapping in DAX (`dax`) or page-cache mode differs
    /// at byte `at`.
    MappingDiffers { dax: bool, at: usize },
    /// collapse-race: no switch to DAX happened.
    NoSwitchToDax,
    /// shift-mapped: byte `at` read through `path` (the mapping or
    /// read(2)) is `got`, the model says `want`.
    ShiftDiffers {
        path: &'static str,
        at: usize,
        got: u8,
        want: u8,
    },
    /// shift-mapped: the file is `size` bytes after the shift, the model
    /// `want`.
    ShiftSize { size: u64, want: usize },
}

/// "DAX" or "page-cache".
fn mode_name(dax: bool) -> &'static str {
    if dax {
        "DAX"
    } else {
        "page-cache"
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Io(e) => e.fmt(f),
            Failure::Errno(e) => e.fmt(f),
            Failure::Call { what, errno } => write!(f, "{what}: {errno}"),
            Failure::Panicked(thread) => write!(f, "{thread} panicked"),
            Failure::DestinationWrong { at } => {
                write!(f, "destination byte {at} wrong after O_DIRECT write")
            }
            Failure::SourceWrong { at } => write!(f, "source byte {at} wrong after O_DIRECT read"),
            Failure::PrivateCopyWrong { page } => write!(f, "private copy of page {page} wrong"),
            Failure::PrivateWritesReachedFile => f.write_str("private writes reached the file"),
            Failure::ShiftSize { size, want } => {
                write!(f, "after the shift the file is {size} bytes, the model {want}")
            }
            Failure::ShiftDiffers {
                path,
                at,
                got,
                want,
            } => write!(
                f,
                "after the shift, byte {at} through {path} is {got:#04x}, the model says {want:#04x}"
            ),
            Failure::NoRace { reads, truncates } => {
                write!(f, "no race: {reads} reads, {truncates} truncates")
            }
            Failure::LookupInode {
                op,
                name,
                ino,
                model,
            } => write!(f, "op {op}: lookup {name}: inode {ino:?}, model {model:?}"),
            Failure::WrongErrno {
                op,
                kind,
                a,
                b,
                got,
                want,
            } => write!(
                f,
                "op {op} ({kind}): {a} {b}: errno {got}, model says {want}"
            ),
            Failure::ReaddirDiffers { op: Some(op) } => {
                write!(f, "op {op}: readdir differs from the model")
            }
            Failure::ReaddirDiffers { op: None } => f.write_str("readdir differs from the model"),
            Failure::Lookup { name, source } => write!(f, "lookup {name}: {source}"),
            Failure::AbsentFound { name, found } => write!(f, "absent {name}: {found:?}"),
            Failure::Differs {
                round,
                path,
                at,
                hole,
            } => write!(
                f,
                "round {round}: {path} differs at byte {at} (the punched range is {}..{})",
                hole.start, hole.end
            ),
            Failure::SmallDiffers { round, path, at } => {
                write!(f, "round {round}: {path} differs at byte {at}")
            }
            Failure::WritebackLate { late, rounds } => write!(
                f,
                "{late} of {rounds} rounds: writeback never got 160 MiB ahead"
            ),
            Failure::StayedBusy => f.write_str("the file stayed busy after the race"),
            Failure::ReadDiffers { dax, at } => write!(
                f,
                "read(2) in {} mode differs at byte {at}",
                mode_name(*dax)
            ),
            Failure::MappingDiffers { dax, at } => write!(
                f,
                "the mapping in {} mode differs at byte {at}",
                mode_name(*dax)
            ),
            Failure::NoSwitchToDax => f.write_str("no switch to DAX happened during the race"),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Printed as they are: their source is theirs.
            Failure::Io(e) => e.source(),
            Failure::Call { errno, .. } => Some(errno),
            Failure::Lookup { source, .. } => Some(source),
            Failure::AbsentFound { found, .. } => match found.as_ref() {
                Err(e) => Some(e),
                Ok(_) => None,
            },
            _ => None,
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

impl From<Errno> for Failure {
    fn from(e: Errno) -> Self {
        Failure::Errno(e)
    }
}

/// `Failure::Call` for `what`.
pub(crate) fn call(what: &'static str) -> impl FnOnce(Errno) -> Failure {
    move |errno| Failure::Call { what, errno }
}

fn report(r: Result<(), Errno>) -> ExitCode {
    match r {
        Ok(()) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{e}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let a: Vec<String> = std::env::args().skip(1).collect();
    match a.first().map(String::as_str) {
        Some("mmap-dio") if a.len() == 4 => {
            report_io(mmap_dio(&a[1], &a[2], a[3].parse().unwrap_or(0)))
        }
        Some("cow") if a.len() == 3 => report_io(cow(&a[1], a[2].parse().unwrap_or(0))),
        Some("dio-race") if a.len() == 5 => report_io(dio_race(
            &a[1],
            &a[2],
            a[3].parse().unwrap_or(0),
            a[4].parse().unwrap_or(0),
        )),
        Some("dirops") if a.len() == 4 || a.len() == 5 => report_io(dirops(
            &a[1],
            a[2].parse().unwrap_or(0),
            a[3].parse().unwrap_or(0),
            a.get(4).map(String::as_str),
        )),
        Some("dircheck") if a.len() == 3 => report_io(dircheck(&a[1], &a[2])),
        Some("stress") if a.len() == 5 => stress::stress(
            &a[1],
            a[2].parse().unwrap_or(0),
            a[3].parse().unwrap_or(0),
            a[4].parse().unwrap_or(0),
        ),
        Some("wb-punch") if a.len() == 4 => {
            report_io(race::wb_punch(&a[1], &a[2], a[3].parse().unwrap_or(1)))
        }
        Some("collapse-race") if a.len() == 3 => {
            report_io(race::collapse_race(&a[1], a[2].parse().unwrap_or(5)))
        }
        Some("straddle")
            if a.len() == 3 && ["collapse", "punch", "truncate"].contains(&a[2].as_str()) =>
        {
            match straddle(&a[1], &a[2]) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    println!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        Some("shift-mapped") if a.len() == 5 => {
            let collapse = match a[2].as_str() {
                "collapse" => true,
                "insert" => false,
                m => {
                    eprintln!("r2dax-t: shift-mapped: unknown operation {m}");
                    return ExitCode::from(2);
                }
            };
            let (Some(off), Some(len)) = (parse_size(&a[3]), parse_size(&a[4])) else {
                eprintln!("r2dax-t: shift-mapped: bad offset or length");
                return ExitCode::from(2);
            };
            report_io(shift_mapped(&a[1], collapse, off, len))
        }
        Some("pattern") if a.len() == 3 => {
            report_io(race::pattern(&a[1], a[2].parse().unwrap_or(0)))
        }
        Some("hwpoison") if a.len() == 3 => match parse_size(&a[2]) {
            Some(off) => report(hwpoison(&a[1], off)),
            None => {
                eprintln!("r2dax-t: bad offset {}", a[2]);
                ExitCode::from(2)
            }
        },
        Some("pin") if a.len() == 3 || a.len() == 4 => match pin(
            &a[1],
            a[2].parse().unwrap_or(0),
            a.get(3).map_or(Some(0), |s| parse_size(s)),
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                println!("{e}");
                ExitCode::from(1)
            }
        },
        Some("faults") if a.len() == 2 || a.len() == 3 => {
            let write = match a.get(2).map(String::as_str) {
                None | Some("read") => false,
                Some("write") => true,
                Some(m) => {
                    eprintln!("r2dax-t: faults: unknown mode {m}");
                    return ExitCode::from(2);
                }
            };
            match faults(&a[1], write) {
                Ok((n, pages)) => {
                    println!("{pages} pages, {n} faults");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        Some("shutdown") if a.len() == 3 || (a.len() == 4 && a[3] == "status") => {
            use r2dax_format::ioctl::shutdown as f;
            let flags = match a[2].as_str() {
                "default" => f::DEFAULT,
                "logflush" => f::LOGFLUSH,
                "nologflush" => f::NOLOGFLUSH,
                n => match n.parse() {
                    Ok(n) => n,
                    Err(_) => {
                        eprintln!("r2dax-t: unknown shutdown flag {n}");
                        return ExitCode::from(2);
                    }
                },
            };
            let file = match std::fs::File::open(&a[1]) {
                Ok(f) => f,
                Err(e) => return report(Err(Errno::from(e))),
            };
            let r = report(r2dax_sys::shutdown(&file, flags));
            if a.len() == 4 {
                // The status ioctl on the descriptor opened before.
                return report(r2dax_sys::dax_status(&file).map(|_| ()));
            }
            r
        }
        Some("rename") if a.len() == 3 || a.len() == 4 => {
            let flags = match a.get(3).map(String::as_str) {
                None => 0,
                Some("noreplace") => libc::RENAME_NOREPLACE,
                Some("exchange") => libc::RENAME_EXCHANGE,
                Some(f) => {
                    eprintln!("r2dax-t: unknown rename flag {f}");
                    return ExitCode::from(2);
                }
            };
            report(r2dax_sys::renameat2(&a[1], &a[2], flags))
        }
        Some("setxattr") if a.len() == 4 || a.len() == 5 => {
            let flags = match a.get(4).map(String::as_str) {
                None => 0,
                Some("create") => libc::XATTR_CREATE,
                Some("replace") => libc::XATTR_REPLACE,
                Some(f) => {
                    eprintln!("r2dax-t: unknown setxattr flag {f}");
                    return ExitCode::from(2);
                }
            };
            let value = match a[3].strip_prefix('@') {
                Some(n) => match n.parse::<usize>() {
                    Ok(n) => (0..n).map(|i| (i % 251) as u8).collect(),
                    Err(_) => {
                        eprintln!("r2dax-t: bad value size {n}");
                        return ExitCode::from(2);
                    }
                },
                None => a[3].as_bytes().to_vec(),
            };
            report(r2dax_sys::lsetxattr(&a[1], a[2].as_bytes(), &value, flags))
        }
        Some("fill-xattrs") if a.len() == 3 => {
            let mut n = 0u64;
            loop {
                let name = format!("{}{n}", a[2]);
                let value = format!("v{n}");
                if let Err(e) = r2dax_sys::lsetxattr(&a[1], name.as_bytes(), value.as_bytes(), 0) {
                    println!("{n}: {e}");
                    return ExitCode::SUCCESS;
                }
                n += 1;
            }
        }
        Some("clear-xattrs") if a.len() == 2 => {
            let removed = r2dax_sys::llistxattr(&a[1]).and_then(|names| {
                for name in &names {
                    r2dax_sys::lremovexattr(&a[1], name)?;
                }
                Ok(names.len())
            });
            match removed {
                Ok(n) => {
                    println!("{n} removed");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        Some("handle") if a.len() == 2 => match r2dax_sys::name_to_handle(&a[1]) {
            Ok((ty, h)) => {
                let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
                println!("{ty}:{hex}");
                ExitCode::SUCCESS
            }
            Err(e) => report(Err(e)),
        },
        Some("open-handle") if a.len() == 3 => {
            let parsed = a[2].split_once(':').and_then(|(t, h)| {
                let ty = t.parse::<i32>().ok()?;
                let bytes = (0..h.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()?;
                Some((ty, bytes))
            });
            let Some((ty, bytes)) = parsed else {
                eprintln!("r2dax-t: open-handle: bad handle {}", a[2]);
                return ExitCode::from(2);
            };
            let mnt = match std::fs::File::open(&a[1]) {
                Ok(f) => f,
                Err(e) => return report(Err(Errno::from(e))),
            };
            match r2dax_sys::open_by_handle(&mnt, ty, &bytes, libc::O_RDONLY) {
                Ok(fd) => {
                    let mut f = std::fs::File::from(fd);
                    let meta = match f.metadata() {
                        Ok(m) => m,
                        Err(e) => return report(Err(Errno::from(e))),
                    };
                    use std::os::unix::fs::MetadataExt;
                    if meta.is_file() {
                        let mut data = Vec::new();
                        if let Err(e) = std::io::Read::read_to_end(&mut f, &mut data) {
                            return report(Err(Errno::from(e)));
                        }
                        println!(
                            "ino {} size {} crc {:08x}",
                            meta.ino(),
                            data.len(),
                            r2dax_format::crc32c(&data)
                        );
                    } else {
                        println!("ino {}", meta.ino());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => report(Err(e)),
            }
        }
        Some("as") if a.len() >= 4 => {
            use std::os::unix::process::CommandExt;
            let (Ok(uid), Ok(gid)) = (a[1].parse::<u32>(), a[2].parse::<u32>()) else {
                eprintln!("r2dax-t: as: bad uid or gid");
                return ExitCode::from(2);
            };
            // std drops the supplementary groups when it changes the uid.
            match std::process::Command::new(&a[3])
                .args(&a[4..])
                .gid(gid)
                .uid(uid)
                .status()
            {
                Ok(st) => ExitCode::from(st.code().unwrap_or(128) as u8),
                Err(e) => {
                    eprintln!("r2dax-t: as: {}: {e}", a[3]);
                    ExitCode::from(127)
                }
            }
        }
        _ => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The usage message: the commands of the module documentation.
const USAGE: &str = "\
usage: r2dax-t COMMAND ARGS... (see the source's documentation for each)
  rename OLD NEW [noreplace|exchange]
  shutdown PATH default|logflush|nologflush|N [status]
  hwpoison FILE OFFSET
  faults FILE [read|write]
  mmap-dio SRC DST LEN
  cow FILE LEN
  dio-race DAX SRC LEN SECS
  pin FILE MS [OFFSET]
  dirops DIR OPS SEED [MODEL]
  dircheck DIR MODEL
  stress DIR OPS SEED NPROC
  wb-punch FILE DIR ROUNDS
  collapse-race FILE SECS
  pattern FILE LEN
  straddle FILE collapse|punch|truncate
  shift-mapped FILE collapse|insert OFF LEN
  setxattr PATH NAME VALUE|@N [create|replace]
  fill-xattrs PATH PREFIX
  clear-xattrs PATH
  handle PATH
  open-handle MNT TYPE:HEX
  as UID GID CMD ARGS...
";

fn minor_major() -> u64 {
    let f = r2dax_sys::page_faults();
    (f.minor + f.major) as u64
}

/// What `faults FILE write` stores in the first byte of each page.
const WRITE_BYTE: u8 = 0x6b;

/// Maps `path` whole (shared) and touches each 4 KiB page once (a write
/// stores [`WRITE_BYTE`], which the test wrote there before); returns the
/// page faults taken and the pages touched.
fn faults(path: &str, write: bool) -> std::io::Result<(u64, u64)> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .open(path)?;
    let len = f.metadata()?.len() as usize;
    if len == 0 {
        return Ok((0, 0));
    }
    let prot = libc::PROT_READ | if write { libc::PROT_WRITE } else { 0 };
    // The kernel picks a (PMD-aligned, via the filesystem's
    // get_unmapped_area) address.
    let m = Mmap::new(&f, 0, len, prot, libc::MAP_SHARED)?;
    let before = minor_major();
    let mut sum = 0u64;
    let mut pages = 0;
    for off in (0..len).step_by(4096) {
        if write {
            // A store without a load first: one write fault per page
            // (or per 2 MiB), not a read fault then a write fault.
            m.write(off, WRITE_BYTE);
        } else {
            sum = sum.wrapping_add(u64::from(m.read(off)));
        }
        pages += 1;
    }
    let n = minor_major() - before;
    std::hint::black_box(sum);
    drop(m);
    Ok((n, pages))
}

/// See the module documentation (`pin`).
/// Maps FILE (shared), loads the page at `off` and injects memory failure
/// into it (madvise MADV_HWPOISON, which needs CAP_SYS_ADMIN). The kernel
/// then sends this process SIGBUS (it maps the page), which kills it: "ok"
/// is printed only if it did not.
fn hwpoison(path: &str, off: u64) -> Result<(), Errno> {
    use std::io::Write;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(Errno::from)?;
    let page = usize::try_from(off).map_err(|_| Errno::new(libc::EINVAL))? & !4095;
    let m = Mmap::new(
        &f,
        0,
        page + 4096,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
    )?;
    let _ = m.read(page);
    // Rust's runtime catches SIGBUS (stack overflow detection) and, for
    // a signal that is no fault of a guard page, returns: the kernel's
    // signal to a process mapping the page would go unseen.
    // SAFETY: Restores the default action of one signal; no handler of
    // this program relies on it.
    unsafe { libc::signal(libc::SIGBUS, libc::SIG_DFL) };
    println!("injecting");
    let _ = std::io::stdout().flush();
    m.madvise(page, 4096, libc::MADV_HWPOISON)
}

fn pin(path: &str, ms: u64, offset: Option<u64>) -> std::io::Result<()> {
    use std::io::Write;
    let offset = offset.ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let len = 4 * 4096;
    let m = Mmap::new(
        &f,
        offset,
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
    )?;
    let (r, w) = r2dax_sys::pipe()?;
    r2dax_sys::vmsplice(&w, &m)?;
    // Unmapped; the pipe keeps its references.
    drop(m);
    println!("pinned");
    std::io::stdout().flush()?;
    std::thread::sleep(std::time::Duration::from_millis(ms));
    let mut buf = vec![0u8; len];
    // Draining the pipe drops the page references.
    let _ = r2dax_sys::read(&r, &mut buf);
    drop((r, w));
    println!("released");
    Ok(())
}

/// A byte count: digits, optionally followed by `k` or `m` (KiB, MiB).
fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.strip_suffix('k') {
        Some(d) => (d, 10),
        None => match s.strip_suffix('m') {
            Some(d) => (d, 20),
            None => (s, 0),
        },
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

fn report_io(r: Result<String, Failure>) -> ExitCode {
    match r {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{e}");
            ExitCode::from(1)
        }
    }
}

/// A shared (or private) read-write mapping of `len` bytes of `f`.
fn map(f: &std::fs::File, len: usize, shared: bool) -> Result<Mmap, Errno> {
    let flags = if shared {
        libc::MAP_SHARED
    } else {
        libc::MAP_PRIVATE
    };
    Mmap::new(f, 0, len, libc::PROT_READ | libc::PROT_WRITE, flags)
}

/// Whether one read or write call moved all `len` bytes: if not, its
/// error, or after a short count the thread's errno as it stands.
fn one_call(r: Result<usize, Errno>, len: usize) -> Result<(), Errno> {
    match r {
        Ok(n) if n == len => Ok(()),
        Ok(_) => Err(Errno::last()),
        Err(e) => Err(e),
    }
}

fn pattern(i: usize, salt: u8) -> u8 {
    (i as u8)
        .wrapping_mul(31)
        .wrapping_add((i >> 12) as u8)
        .wrapping_add(salt)
}

/// See the module documentation (`mmap-dio`).
fn mmap_dio(src: &str, dst: &str, len: usize) -> Result<String, Failure> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    let s = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(src)?;
    s.set_len(len as u64)?;
    let d = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(dst)?;
    let mut m = map(&s, len, true)?;
    for i in 0..len {
        m.write(i, pattern(i, 1));
    }
    // O_DIRECT write from the mapping: the source pages are pinned by GUP.
    // SAFETY: Only the kernel reads the slice; nothing changes the file.
    one_call(r2dax_sys::pwrite(&d, unsafe { m.as_slice() }, 0), len)
        .map_err(call("O_DIRECT write from the mapping"))?;
    let mut back = vec![0u8; len];
    std::fs::File::open(dst)?.read_exact_at(&mut back, 0)?;
    if let Some(i) = (0..len).find(|&i| back[i] != pattern(i, 1)) {
        return Err(Failure::DestinationWrong { at: i });
    }
    // And back: O_DIRECT read into the mapping (GUP for writing).
    std::fs::OpenOptions::new()
        .write(true)
        .open(dst)?
        .write_all_at(&(0..len).map(|i| pattern(i, 2)).collect::<Vec<u8>>(), 0)?;
    d.sync_all()?;
    // SAFETY: Only the kernel writes the slice; nothing else changes the
    // file meanwhile.
    one_call(r2dax_sys::pread(&d, unsafe { m.as_mut_slice() }, 0), len)
        .map_err(call("O_DIRECT read into the mapping"))?;
    drop(m);
    let mut got = vec![0u8; len];
    s.read_exact_at(&mut got, 0)?;
    if let Some(i) = (0..len).find(|&i| got[i] != pattern(i, 2)) {
        return Err(Failure::SourceWrong { at: i });
    }
    Ok(format!("{len} bytes both ways: ok"))
}

/// See the module documentation (`straddle`).
fn straddle(path: &str, op: &str) -> Result<(), Failure> {
    use std::io::Write;
    const CUT: u64 = 64 << 10;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let big = Mmap::new(&f, 0, 4 << 20, libc::PROT_READ, libc::MAP_SHARED)?;
    for page in 0..(4 << 20) / 4096 {
        big.read(page * 4096);
    }
    let small = Mmap::new(&f, 0, 8192, libc::PROT_READ, libc::MAP_SHARED)?;
    small.read(0);
    small.read(4096);
    match op {
        "collapse" => r2dax_sys::fallocate(&f, libc::FALLOC_FL_COLLAPSE_RANGE, CUT, CUT)
            .map_err(call("collapse"))?,
        "punch" => r2dax_sys::fallocate(
            &f,
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            CUT,
            CUT,
        )
        .map_err(call("punch"))?,
        _ => r2dax_sys::ftruncate(&f, CUT).map_err(call("truncate"))?,
    }
    let (r, w) = r2dax_sys::pipe()?;
    r2dax_sys::vmsplice(&w, &small).map_err(call("vmsplice"))?;
    drop(small);
    drop(big);
    let holder = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(2000));
        println!("releasing");
        let _ = std::io::stdout().flush();
        let mut buf = vec![0u8; 8192];
        // Draining the pipe drops the page references.
        let _ = r2dax_sys::read(&r, &mut buf);
        drop((r, w));
    });
    r2dax_sys::ftruncate(&f, 0).map_err(call("truncate to 0"))?;
    println!("truncated");
    std::io::stdout().flush()?;
    holder.join().map_err(|_| Failure::Panicked("pin holder"))?;
    Ok(())
}

/// See the module documentation (`shift-mapped`).
fn shift_mapped(path: &str, collapse: bool, off: u64, len: u64) -> Result<String, Failure> {
    const PAGE: usize = 4096;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let size = r2dax_sys::file_size(&f)? as usize;
    let new_size = if collapse {
        size.saturating_sub(len as usize)
    } else {
        size + len as usize
    };
    let m = map(&f, size.max(new_size).div_ceil(PAGE) * PAGE, true)?;
    // Stores through the mapping: dirty pages (page cache) or dirty DAX
    // entries, which the shift must write back before it moves blocks.
    for page in 0..size.div_ceil(PAGE) {
        m.write(page * PAGE, (page as u8).wrapping_mul(7).wrapping_add(3));
    }
    let mut model = vec![0u8; size];
    one_call(r2dax_sys::pread(&f, &mut model, 0), size).map_err(call("read before"))?;
    let mode = if collapse {
        libc::FALLOC_FL_COLLAPSE_RANGE
    } else {
        libc::FALLOC_FL_INSERT_RANGE
    };
    r2dax_sys::fallocate(&f, mode, off, len).map_err(call("fallocate"))?;
    let (o, l) = (off as usize, len as usize);
    if collapse {
        model.drain(o..o + l);
    } else {
        model.splice(o..o, std::iter::repeat(0).take(l));
    }
    let now = r2dax_sys::file_size(&f)?;
    if now != model.len() as u64 {
        return Err(Failure::ShiftSize {
            size: now,
            want: model.len(),
        });
    }
    let mut got = vec![0u8; model.len()];
    one_call(r2dax_sys::pread(&f, &mut got, 0), got.len()).map_err(call("read after"))?;
    for (path, byte) in [
        ("the mapping", &(|i| m.read(i)) as &dyn Fn(usize) -> u8),
        ("read(2)", &|i| got[i]),
    ] {
        if let Some(at) = (0..model.len()).find(|&i| byte(i) != model[i]) {
            return Err(Failure::ShiftDiffers {
                path,
                at,
                got: byte(at),
                want: model[at],
            });
        }
    }
    Ok(format!(
        "{} {len} at {off}: the mapping and read(2) match the model ({} bytes)",
        if collapse { "collapse" } else { "insert" },
        model.len()
    ))
}

/// See the module documentation (`cow`).
fn cow(path: &str, len: usize) -> Result<String, Failure> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let mut orig = vec![0u8; len];
    f.read_exact_at(&mut orig, 0)?;
    let m = map(&f, len, false)?;
    let p = m.as_ptr() as usize;
    // Two threads write alternate pages of the same private mapping: COW
    // faults race over the same 2 MiB extents (fstests generic/437).
    let hs: Vec<_> = (0..2)
        .map(|t| {
            std::thread::spawn(move || {
                let p = p as *mut u8;
                for pg in (t..len / 4096).step_by(2) {
                    // SAFETY: Inside the private mapping, which `m` keeps
                    // until the threads are joined.
                    unsafe { std::ptr::write_volatile(p.add(pg * 4096 + 7), 0xc0 ^ pg as u8) };
                }
            })
        })
        .collect();
    for h in hs {
        h.join().map_err(|_| Failure::Panicked("a COW thread"))?;
    }
    for pg in 0..len / 4096 {
        let (w, r) = (m.read(pg * 4096 + 7), m.read(pg * 4096 + 8));
        if w != 0xc0 ^ pg as u8 || r != orig[pg * 4096 + 8] {
            return Err(Failure::PrivateCopyWrong { page: pg });
        }
    }
    drop(m);
    let mut now = vec![0u8; len];
    f.read_exact_at(&mut now, 0)?;
    if now != orig {
        return Err(Failure::PrivateWritesReachedFile);
    }
    Ok(format!(
        "{} pages copied on write, file unchanged",
        len / 4096
    ))
}

/// See the module documentation (`dio-race`).
fn dio_race(dax: &str, src: &str, len: usize, secs: u64) -> Result<String, Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let d = Arc::new(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dax)?,
    );
    d.set_len(len as u64)?;
    let s = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(src)?;
    let stop = Arc::new(AtomicBool::new(false));
    let cuts = Arc::new(AtomicU64::new(0));
    let cutter = {
        let (d, stop, cuts) = (d.clone(), stop.clone(), cuts.clone());
        std::thread::spawn(move || -> std::io::Result<()> {
            while !stop.load(Ordering::Relaxed) {
                d.set_len(0)?;
                d.set_len(len as u64)?;
                r2dax_sys::fallocate(
                    &*d,
                    libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                    0,
                    (len / 2) as u64,
                )?;
                cuts.fetch_add(1, Ordering::Relaxed);
                // Leave the readers a window with the file whole.
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Ok(())
        })
    };
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let (mut full, mut efault, mut short) = (0u64, 0u64, 0u64);
    let mut result: Result<(), Failure> = Ok(());
    while std::time::Instant::now() < end {
        let mut m = match map(&d, len, true) {
            Ok(m) => m,
            Err(e) => {
                result = Err(e.into());
                break;
            }
        };
        // GUP pins the pages for the read (or fails with EFAULT once the
        // truncate took them).
        // SAFETY: Only the kernel writes the slice; Rust never reads it.
        let r = r2dax_sys::pread(&s, unsafe { m.as_mut_slice() }, 0);
        drop(m);
        match r {
            Ok(n) if n == len => full += 1,
            Ok(_) => short += 1,
            Err(e) if e.raw() == libc::EFAULT => efault += 1,
            Err(e) => {
                result = Err(call("O_DIRECT read into the mapping")(e));
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    cutter
        .join()
        .map_err(|_| Failure::Panicked("the truncating thread"))??;
    result?;
    // Which side wins each time depends on the machine's speed; both
    // sides must have run.
    if full + short + efault == 0 || cuts.load(Ordering::Relaxed) == 0 {
        return Err(Failure::NoRace {
            reads: full + short + efault,
            truncates: cuts.load(Ordering::Relaxed),
        });
    }
    eprintln!(
        "dio-race: {full} full, {short} short, {efault} EFAULT reads; {} truncate+punch rounds",
        cuts.load(Ordering::Relaxed)
    );
    Ok("reads and truncates raced".into())
}

/// xorshift64*: the same sequence for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A name of 1 to 255 bytes, mostly short (most directories' names are),
/// sometimes long (entries of several slots), from a pool of `pool` so
/// that names come back.
fn dir_name(r: &mut Rng, pool: usize) -> String {
    let id = r.below(pool);
    let len = match id % 10 {
        0..=5 => 1 + id % 12,
        6..=8 => 13 + id % 40,
        _ => 60 + id % 196,
    };
    let mut s = format!("{id:x}-");
    let fill = b"abcdefghijklmnopqrstuvwxyz0123456789_.";
    let mut k = id;
    while s.len() < len {
        s.push(fill[k % fill.len()] as char);
        k = k / 3 + 7;
    }
    s.truncate(len.max(1));
    if s == "." || s == ".." {
        s.push('x');
    }
    s
}

fn errno_of(r: std::io::Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

fn readdir_sorted(dir: &str) -> std::io::Result<Vec<String>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir)? {
        v.push(e?.file_name().to_string_lossy().into_owned());
    }
    v.sort();
    Ok(v)
}

fn dirops(dir: &str, ops: usize, seed: u64, model_out: Option<&str>) -> Result<String, Failure> {
    use std::collections::BTreeMap;
    use std::os::unix::fs::MetadataExt;
    let mut r = Rng(seed.max(1));
    // name -> inode number
    let mut model: BTreeMap<String, u64> = BTreeMap::new();
    let pool = 3000;
    let path = |n: &str| format!("{dir}/{n}");
    let mut counts = [0usize; 6];
    for i in 0..ops {
        let a = dir_name(&mut r, pool);
        let b = dir_name(&mut r, pool);
        let op = r.below(100);
        let (kind, got, want) = match op {
            0..=39 => {
                let res = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path(&a));
                let got = errno_of(res.map(drop));
                let want = if model.contains_key(&a) {
                    libc::EEXIST
                } else {
                    0
                };
                if got == 0 {
                    let ino = std::fs::symlink_metadata(path(&a))?.ino();
                    model.insert(a.clone(), ino);
                }
                (0, got, want)
            }
            40..=54 => {
                let got = errno_of(std::fs::remove_file(path(&a)));
                let want = if model.remove(&a).is_some() {
                    0
                } else {
                    libc::ENOENT
                };
                (1, got, want)
            }
            55..=74 => {
                let got = errno_of(std::fs::rename(path(&a), path(&b)));
                let want = match model.get(&a).copied() {
                    None => libc::ENOENT,
                    Some(ino) => {
                        // Renaming a name onto a link of the same inode
                        // succeeds and changes nothing (rename(2)).
                        if model.get(&b) != Some(&ino) {
                            model.remove(&a);
                            model.insert(b.clone(), ino);
                        }
                        0
                    }
                };
                (2, got, want)
            }
            75..=79 => {
                let got = errno_of(std::fs::hard_link(path(&a), path(&b)));
                let want = match (model.get(&a).copied(), model.contains_key(&b)) {
                    (None, _) => libc::ENOENT,
                    (Some(_), true) => libc::EEXIST,
                    (Some(ino), false) => {
                        model.insert(b.clone(), ino);
                        0
                    }
                };
                (3, got, want)
            }
            _ => {
                let res = std::fs::symlink_metadata(path(&a));
                let (got, ino) = match res {
                    Ok(m) => (0, Some(m.ino())),
                    Err(e) => (e.raw_os_error().unwrap_or(-1), None),
                };
                let want = if model.contains_key(&a) {
                    0
                } else {
                    libc::ENOENT
                };
                if got == 0 && ino != model.get(&a).copied() {
                    return Err(Failure::LookupInode {
                        op: i,
                        model: model.get(&a).copied(),
                        name: a,
                        ino,
                    });
                }
                (4, got, want)
            }
        };
        counts[kind] += 1;
        if got != want {
            return Err(Failure::WrongErrno {
                op: i,
                kind: ["create", "unlink", "rename", "link", "lookup"][kind],
                a,
                b,
                got,
                want,
            });
        }
        if i % 500 == 499 || i + 1 == ops {
            let names: Vec<String> = model.keys().cloned().collect();
            if readdir_sorted(dir)? != names {
                return Err(Failure::ReaddirDiffers { op: Some(i) });
            }
            counts[5] += 1;
        }
    }
    if let Some(m) = model_out {
        let mut text = String::new();
        for n in model.keys() {
            text.push_str(n);
            text.push('\n');
        }
        std::fs::write(m, text)?;
    }
    Ok(format!(
        "{} ops: {} create, {} unlink, {} rename, {} link, {} lookup, {} readdir checks; {} names",
        ops,
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
        counts[5],
        model.len()
    ))
}

fn dircheck(dir: &str, model: &str) -> Result<String, Failure> {
    let want: Vec<String> = std::fs::read_to_string(model)?
        .lines()
        .map(str::to_string)
        .collect();
    if readdir_sorted(dir)? != want {
        return Err(Failure::ReaddirDiffers { op: None });
    }
    for n in &want {
        std::fs::symlink_metadata(format!("{dir}/{n}")).map_err(|source| Failure::Lookup {
            name: n.clone(),
            source,
        })?;
    }
    let mut r = Rng(12345);
    let mut absent = 0;
    for _ in 0..2000 {
        let n = dir_name(&mut r, 6000);
        if want.binary_search(&n).is_err() {
            match std::fs::symlink_metadata(format!("{dir}/{n}")) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => absent += 1,
                found => {
                    return Err(Failure::AbsentFound {
                        name: n,
                        found: Box::new(found),
                    })
                }
            }
        }
    }
    Ok(format!(
        "{} names found, {} absent names not found",
        want.len(),
        absent
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_print_as_before() {
        let enoent = || std::io::Error::from_raw_os_error(libc::ENOENT);
        let cases = [
            (
                Failure::Io(enoent()),
                "No such file or directory (os error 2)".to_string(),
            ),
            (
                Failure::Errno(Errno::new(libc::ENOMEM)),
                "Cannot allocate memory (os error 12)".into(),
            ),
            (
                call("O_DIRECT read into the mapping")(Errno::new(libc::EFAULT)),
                "O_DIRECT read into the mapping: Bad address (os error 14)".into(),
            ),
            (
                call("FS_IOC_FSSETXATTR")(Errno::new(libc::EPERM)),
                "FS_IOC_FSSETXATTR: Operation not permitted (os error 1)".into(),
            ),
            (
                Failure::Panicked("the truncating thread"),
                "the truncating thread panicked".into(),
            ),
            (
                Failure::DestinationWrong { at: 4097 },
                "destination byte 4097 wrong after O_DIRECT write".into(),
            ),
            (
                Failure::SourceWrong { at: 3 },
                "source byte 3 wrong after O_DIRECT read".into(),
            ),
            (
                Failure::PrivateCopyWrong { page: 5 },
                "private copy of page 5 wrong".into(),
            ),
            (
                Failure::PrivateWritesReachedFile,
                "private writes reached the file".into(),
            ),
            (
                Failure::NoRace {
                    reads: 0,
                    truncates: 7,
                },
                "no race: 0 reads, 7 truncates".into(),
            ),
            (
                Failure::LookupInode {
                    op: 9,
                    name: "a-b".into(),
                    ino: Some(12),
                    model: None,
                },
                "op 9: lookup a-b: inode Some(12), model None".into(),
            ),
            (
                Failure::WrongErrno {
                    op: 3,
                    kind: "rename",
                    a: "x".into(),
                    b: "y".into(),
                    got: 2,
                    want: 0,
                },
                "op 3 (rename): x y: errno 2, model says 0".into(),
            ),
            (
                Failure::ReaddirDiffers { op: Some(499) },
                "op 499: readdir differs from the model".into(),
            ),
            (
                Failure::ReaddirDiffers { op: None },
                "readdir differs from the model".into(),
            ),
            (
                Failure::Lookup {
                    name: "n".into(),
                    source: enoent(),
                },
                "lookup n: No such file or directory (os error 2)".into(),
            ),
            (
                Failure::AbsentFound {
                    name: "n".into(),
                    found: Box::new(Err(std::io::Error::from_raw_os_error(libc::EIO))),
                },
                format!(
                    "absent n: {:?}",
                    Err::<(), _>(std::io::Error::from_raw_os_error(libc::EIO))
                ),
            ),
            (
                Failure::Differs {
                    round: 2,
                    path: "/mnt/f".into(),
                    at: 209715200,
                    hole: 209715200..209780736,
                },
                "round 2: /mnt/f differs at byte 209715200 (the punched range is \
                 209715200..209780736)"
                    .into(),
            ),
            (
                Failure::SmallDiffers {
                    round: 0,
                    path: "/mnt/d/small3".into(),
                    at: 17,
                },
                "round 0: /mnt/d/small3 differs at byte 17".into(),
            ),
            (
                Failure::WritebackLate { late: 1, rounds: 3 },
                "1 of 3 rounds: writeback never got 160 MiB ahead".into(),
            ),
            (
                Failure::StayedBusy,
                "the file stayed busy after the race".into(),
            ),
            (
                Failure::ReadDiffers { dax: true, at: 8 },
                "read(2) in DAX mode differs at byte 8".into(),
            ),
            (
                Failure::MappingDiffers { dax: false, at: 9 },
                "the mapping in page-cache mode differs at byte 9".into(),
            ),
            (
                Failure::NoSwitchToDax,
                "no switch to DAX happened during the race".into(),
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }
}
