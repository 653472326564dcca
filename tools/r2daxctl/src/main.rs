// SPDX-License-Identifier: GPL-2.0
//! r2daxctl: set, clear and inspect the per-file DAX flag.
//!
//! The flag is `FS_XFLAG_DAX`, set with `FS_IOC_FSSETXATTR`, so this works
//! on ext4 and xfs as well as r2dax. What happened is read back with
//! statx (`STATX_ATTR_DAX`: the effective mode). On r2dax the private
//! status ioctl also gives the number of mappings and pins, which explain
//! an `EBUSY`. See r2daxctl(8) (`tools/r2daxctl/r2daxctl.8`).

use r2dax_format::ioctl::{status, DaxStatus, FsXattr, FS_XFLAG_DAX, STATX_ATTR_DAX};
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const USAGE: &str = "\
Usage: r2daxctl dax on|off [-R] [--wait[=SECS]] [--json] PATH...
       r2daxctl status [--json] PATH...
       r2daxctl --help

Sets (on) or clears (off) the per-file DAX flag (FS_XFLAG_DAX) and reports,
per file, what happened:
  switched now       the file's mode changed before the call returned (r2dax)
  already            the file was in the requested state
  takes effect later the flag is stored, the mode follows later (ext4/xfs:
                     when the inode is evicted) or never (mount option)
  inherited          a directory: new files in it inherit the flag
  busy               r2dax refused (EBUSY): the file is mapped or pinned,
                     or (to DAX) a descriptor opened read-only that mapped
                     it through the page cache is still open
status prints the requested flag, the effective mode (statx), and on r2dax
the number of mappings, whether DAX pages are pinned, and \"pending\" when a
remount changed the dax= mode while the file was busy (it switches once its
mappings and pins are gone).

Options:
  -R             recurse into directories
  --wait[=SECS]  retry a busy file until it switches (default 10 s)
  --json         one JSON object per file, on one line each

Exit status: 0 every file is in the requested state now; 1 some file was
busy; 3 some change takes effect later; 2 usage or another error.";

/// What `status` knows about one file.
struct Info {
    dir: bool,
    requested: bool,
    effective: bool,
    /// From r2dax's status ioctl; `None` on other filesystems.
    r2dax: Option<DaxStatus>,
}

fn get_xattr(f: &File) -> std::io::Result<FsXattr> {
    Ok(r2dax_sys::get_fsxattr(f)?)
}

fn set_xattr(f: &File, fa: &FsXattr) -> std::io::Result<()> {
    Ok(r2dax_sys::set_fsxattr(f, fa)?)
}

fn effective(path: &Path) -> std::io::Result<bool> {
    Ok(r2dax_sys::statx_attributes(path)?.set & STATX_ATTR_DAX != 0)
}

/// r2dax's status of the file; `None` on other filesystems (ENOTTY).
fn r2dax_status(f: &File) -> Option<DaxStatus> {
    r2dax_sys::dax_status(f).ok()
}

fn open(path: &Path) -> std::io::Result<File> {
    // O_RDONLY works for files and directories; the flag ioctls only need
    // ownership (or CAP_FOWNER), not write access.
    File::open(path)
}

fn info(path: &Path) -> std::io::Result<Info> {
    let f = open(path)?;
    let fa = get_xattr(&f)?;
    Ok(Info {
        dir: f.metadata()?.is_dir(),
        requested: fa.xflags & FS_XFLAG_DAX != 0,
        effective: effective(path)?,
        r2dax: r2dax_status(&f),
    })
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn status_line(path: &Path, i: &Info, json: bool) -> String {
    let (maps, pinned) = match &i.r2dax {
        Some(s) => (
            s.mappings.to_string(),
            (s.flags & status::PINNED != 0).to_string(),
        ),
        None => ("-".into(), "-".into()),
    };
    if json {
        let (maps, pinned) = match &i.r2dax {
            Some(s) => (
                s.mappings.to_string(),
                (s.flags & status::PINNED != 0).to_string(),
            ),
            None => ("null".into(), "null".into()),
        };
        let pending = match &i.r2dax {
            Some(s) => (s.flags & status::PENDING != 0).to_string(),
            None => "null".into(),
        };
        format!(
            "{{\"path\":{},\"type\":\"{}\",\"requested\":{},\"effective\":{},\"mappings\":{},\"pinned\":{},\"pending\":{}}}",
            json_str(&path.display().to_string()),
            if i.dir { "dir" } else { "file" },
            i.requested,
            i.effective,
            maps,
            pinned,
            pending
        )
    } else {
        let pending = matches!(&i.r2dax, Some(s) if s.flags & status::PENDING != 0);
        format!(
            "{}: requested {}, effective {}, mappings {}, pinned {}{}",
            path.display(),
            if i.requested { "dax" } else { "off" },
            if i.effective { "dax" } else { "off" },
            maps,
            pinned,
            if pending { ", pending" } else { "" }
        )
    }
}

/// Outcome of one `dax on|off`.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Outcome {
    Now,
    Already,
    Later,
    Inherited,
    Busy,
    Error,
}

impl Outcome {
    fn word(self) -> &'static str {
        match self {
            Outcome::Now => "switched now",
            Outcome::Already => "already",
            Outcome::Later => "takes effect later",
            Outcome::Inherited => "inherited",
            Outcome::Busy => "busy",
            Outcome::Error => "error",
        }
    }
}

fn set_one(path: &Path, on: bool, wait: Option<Duration>) -> (Outcome, String) {
    let go = || -> std::io::Result<(Outcome, String)> {
        let f = open(path)?;
        let is_dir = f.metadata()?.is_dir();
        let mut fa = get_xattr(&f)?;
        let was_effective = effective(path)?;
        if on {
            fa.xflags |= FS_XFLAG_DAX;
        } else {
            fa.xflags &= !FS_XFLAG_DAX;
        }
        let start = Instant::now();
        loop {
            match set_xattr(&f, &fa) {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    if wait.is_some_and(|w| start.elapsed() < w) {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    let why = match r2dax_status(&f) {
                        Some(s) if s.mappings > 0 => {
                            format!(
                                "{} mapping{}",
                                s.mappings,
                                if s.mappings == 1 { "" } else { "s" }
                            )
                        }
                        Some(s) if s.flags & status::PINNED != 0 => "pages pinned".into(),
                        Some(s) if s.flags & status::COLLAPSIBLE != 0 => {
                            "open read-only and mapped before".into()
                        }
                        _ => "mapped or pinned".into(),
                    };
                    return Ok((Outcome::Busy, why));
                }
                Err(e) => return Err(e),
            }
        }
        let now = effective(path)?;
        let o = if is_dir {
            Outcome::Inherited
        } else if now == on && was_effective == on {
            Outcome::Already
        } else if now == on {
            Outcome::Now
        } else {
            Outcome::Later
        };
        Ok((o, String::new()))
    };
    go().unwrap_or_else(|e| (Outcome::Error, e.to_string()))
}

fn walk(path: &Path, recurse: bool, out: &mut Vec<PathBuf>) {
    out.push(path.to_path_buf());
    if !recurse {
        return;
    }
    let Ok(md) = std::fs::symlink_metadata(path) else {
        return;
    };
    if !md.is_dir() {
        return;
    }
    if let Ok(rd) = std::fs::read_dir(path) {
        let mut kids: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        kids.sort();
        for k in kids {
            let Ok(m) = std::fs::symlink_metadata(&k) else {
                continue;
            };
            if m.is_dir() || m.is_file() {
                walk(&k, true, out);
            }
        }
    }
}

/// A command line `run` cannot follow (printed before the usage).
#[derive(Debug, PartialEq, Eq)]
enum UsageError {
    MissingCommand,
    UnknownCommand(String),
    NoDaxState,
    BadWait(String),
    UnknownOption(String),
    NoPath,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::MissingCommand => write!(f, "missing command"),
            UsageError::UnknownCommand(c) => write!(f, "unknown command '{c}'"),
            UsageError::NoDaxState => write!(f, "dax needs 'on' or 'off'"),
            UsageError::BadWait(w) => write!(f, "bad --wait value '{w}'"),
            UsageError::UnknownOption(o) => write!(f, "unknown option '{o}'"),
            UsageError::NoPath => write!(f, "no PATH given"),
        }
    }
}

impl std::error::Error for UsageError {}

fn run(args: &[String]) -> Result<i32, UsageError> {
    let mut it = args.iter();
    let cmd = it.next().ok_or(UsageError::MissingCommand)?;
    let mut json = false;
    let mut recurse = false;
    let mut wait = None;
    let mut on = None;
    let mut paths = Vec::new();
    if cmd == "dax" {
        on = Some(match it.next().map(String::as_str) {
            Some("on") => true,
            Some("off") => false,
            _ => return Err(UsageError::NoDaxState),
        });
    } else if cmd != "status" {
        return Err(UsageError::UnknownCommand(cmd.clone()));
    }
    for a in it {
        match a.as_str() {
            "--json" => json = true,
            "-R" if on.is_some() => recurse = true,
            "--wait" if on.is_some() => wait = Some(Duration::from_secs(10)),
            w if on.is_some() && w.starts_with("--wait=") => {
                let s: f64 = w["--wait=".len()..]
                    .parse()
                    .map_err(|_| UsageError::BadWait(w.into()))?;
                if !(0.0..=86400.0).contains(&s) {
                    return Err(UsageError::BadWait(w.into()));
                }
                wait = Some(Duration::from_secs_f64(s));
            }
            o if o.starts_with('-') && o.len() > 1 => {
                return Err(UsageError::UnknownOption(o.into()))
            }
            p => paths.push(PathBuf::from(p)),
        }
    }
    if paths.is_empty() {
        return Err(UsageError::NoPath);
    }
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    let mut rc = 0;
    let worst = |rc: i32, new: i32| if rc == 2 || new == 2 { 2 } else { rc.max(new) };
    match on {
        None => {
            for p in &paths {
                match info(p) {
                    Ok(i) => {
                        let _ = writeln!(w, "{}", status_line(p, &i, json));
                    }
                    Err(e) => {
                        eprintln!("r2daxctl: {}: {e}", p.display());
                        rc = 2;
                    }
                }
            }
        }
        Some(on) => {
            let mut all = Vec::new();
            for p in &paths {
                walk(p, recurse, &mut all);
            }
            for p in &all {
                let (o, why) = set_one(p, on, wait);
                let code = match o {
                    Outcome::Now | Outcome::Already | Outcome::Inherited => 0,
                    Outcome::Busy => 1,
                    Outcome::Later => 3,
                    Outcome::Error => 2,
                };
                rc = worst(rc, code);
                if json {
                    let _ = writeln!(
                        w,
                        "{{\"path\":{},\"result\":\"{}\",\"detail\":{}}}",
                        json_str(&p.display().to_string()),
                        o.word(),
                        json_str(&why)
                    );
                } else if o == Outcome::Error {
                    eprintln!("r2daxctl: {}: {why}", p.display());
                } else if why.is_empty() {
                    let _ = writeln!(w, "{}: {}", p.display(), o.word());
                } else {
                    let _ = writeln!(w, "{}: {} ({why})", p.display(), o.word());
                }
            }
        }
    }
    Ok(rc)
}

fn main() {
    r2dax_sys::default_sigpipe();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        std::process::exit(if args.is_empty() { 2 } else { 0 });
    }
    match run(&args) {
        Ok(rc) => std::process::exit(rc),
        Err(e) => {
            eprintln!("r2daxctl: {e}\n{USAGE}");
            std::process::exit(2);
        }
    }
}
