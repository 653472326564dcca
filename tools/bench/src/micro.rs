// SPDX-License-Identifier: GPL-2.0
//! The measurements fio cannot take: first-touch faults of a mapping (with
//! and without MAP_SYNC, over written blocks or holes), metadata rates and
//! the DAX switch's time to effect.

use crate::sample::{Better, Sample};
use r2dax_format::ioctl::{FS_XFLAG_DAX, STATX_ATTR_DAX};
use r2dax_sys::Mmap;
use std::fs::{File, OpenOptions};
use std::io::{Error, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
const PAGE: usize = 4096;
const MAP_SHARED_VALIDATE: libc::c_int = 0x03;
const MAP_SYNC: libc::c_int = 0x80000;

/// Writes FILE from scratch, `mib` MiB in 1 MiB `write(2)`s, then fsync:
/// the "sequentially written file" the fault benchmark maps.
pub fn layout(path: &Path, mib: usize) -> Result<(), Error> {
    let _ = std::fs::remove_file(path);
    let mut f = File::create(path)?;
    let buf = vec![0x5au8; MIB];
    for _ in 0..mib {
        f.write_all(&buf)?;
    }
    f.sync_all()
}

/// Options of `faults`.
pub struct Faults {
    pub mib: usize,
    pub write: bool,
    pub sync: bool,
    /// Start from an empty sparse file (faults allocate).
    pub hole: bool,
}

/// Maps FILE (or a DAX device), touches one byte of every 4 KiB page once,
/// and reports the faults taken, the time per fault and per MiB mapped, and
/// whether the mapping was 2 MiB aligned.
pub fn faults(path: &Path, o: &Faults, bench: &str, case: &str) -> Result<Vec<Sample>, Error> {
    let len = o.mib * MIB;
    let chardev = path.starts_with("/dev");
    if o.hole && !chardev {
        let _ = std::fs::remove_file(path);
        File::create(path)?.set_len(len as u64)?;
    }
    let f = OpenOptions::new().read(true).write(o.write).open(path)?;
    let prot = if o.write {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    };
    let flags = if o.sync {
        MAP_SHARED_VALIDATE | MAP_SYNC
    } else {
        libc::MAP_SHARED
    };
    let m = match Mmap::new(&f, 0, len, prot, flags) {
        Ok(m) => m,
        Err(e) if e.raw() == libc::EOPNOTSUPP => {
            let note = if o.sync {
                "no MAP_SYNC"
            } else {
                "mmap refused"
            };
            return Ok(vec![Sample::missing(
                bench,
                case,
                "faults",
                "faults",
                Better::Lower,
                note,
            )]);
        }
        Err(e) => return Err(e.into()),
    };
    let aligned = (m.as_ptr() as usize).is_multiple_of(2 * MIB);
    let chunk = 2 * MIB;
    let mut chunks = Vec::with_capacity(len / chunk);
    let before = r2dax_sys::page_faults().minor;
    let t = Instant::now();
    let mut sum = 0u8;
    for c in (0..len).step_by(chunk) {
        let tc = Instant::now();
        // Volatile accesses, so that every page is really touched.
        for off in (c..(c + chunk).min(len)).step_by(PAGE) {
            if o.write {
                m.write(off, 0xa5);
            } else {
                sum = sum.wrapping_add(m.read(off));
            }
        }
        chunks.push(tc.elapsed().as_nanos() as f64);
    }
    let el = t.elapsed();
    let n = (r2dax_sys::page_faults().minor - before).max(1) as f64;
    std::hint::black_box(sum);
    drop(m);
    let ns = el.as_nanos() as f64;
    Ok(vec![
        Sample::new(bench, case, "faults", n, "faults", Better::Lower),
        Sample::new(bench, case, "ns_per_fault", ns / n, "ns", Better::Lower),
        Sample::new(
            bench,
            case,
            "us_per_mib",
            ns / 1e3 / o.mib as f64,
            "us",
            Better::Lower,
        ),
        // The median time to touch 2 MiB (its faults included): stalls of
        // the whole guest hit a few chunks, not the median.
        Sample::new(
            bench,
            case,
            "chunk_p50",
            median(&mut chunks),
            "ns",
            Better::Lower,
        ),
        Sample::new(
            bench,
            case,
            "aligned",
            if aligned { 1.0 } else { 0.0 },
            "bool",
            Better::Higher,
        ),
    ])
}

/// The median of `v` (NaN if empty).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Creates, stats, renames and unlinks `n` files in DIR (which must not
/// exist): the rate of each phase in operations per second, and the
/// median time of one operation (what the report compares).
pub fn meta(dir: &Path, n: usize) -> Result<Vec<Sample>, Error> {
    std::fs::create_dir(dir)?;
    let name = |p: char, i: usize| dir.join(format!("{p}{i:07}"));
    let mut out = Vec::new();
    let mut phase =
        |what: &str, f: &mut dyn FnMut(usize) -> Result<(), Error>| -> Result<(), Error> {
            let mut each = Vec::with_capacity(n);
            let t = Instant::now();
            for i in 0..n {
                let ti = Instant::now();
                f(i)?;
                each.push(ti.elapsed().as_nanos() as f64);
            }
            let s = t.elapsed().as_secs_f64();
            let rate = n as f64 / s;
            out.push(Sample::new(
                "B7",
                "meta",
                what,
                rate,
                "op/s",
                Better::Higher,
            ));
            let p50 = median(&mut each);
            let m = format!("{what}_p50");
            out.push(Sample::new("B7", "meta", &m, p50, "ns", Better::Lower));
            Ok(())
        };
    phase("create", &mut |i| {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(name('f', i))
            .map(drop)
    })?;
    phase("stat", &mut |i| {
        std::fs::symlink_metadata(name('f', i)).map(drop)
    })?;
    phase("rename", &mut |i| {
        std::fs::rename(name('f', i), name('g', i))
    })?;
    phase("unlink", &mut |i| std::fs::remove_file(name('g', i)))?;
    std::fs::remove_dir(dir)?;
    Ok(out)
}

fn set_dax_flag(f: &File, on: bool) -> Result<(), Error> {
    let mut fa = r2dax_sys::get_fsxattr(f)?;
    fa.xflags = if on {
        fa.xflags | FS_XFLAG_DAX
    } else {
        fa.xflags & !FS_XFLAG_DAX
    };
    Ok(r2dax_sys::set_fsxattr(f, &fa)?)
}

/// STATX_ATTR_DAX of the open file `f`.
fn fd_is_dax(f: &File) -> Result<bool, Error> {
    let a = r2dax_sys::fstatx_attributes(f)?;
    Ok(a.set & STATX_ATTR_DAX != 0 && a.mask & STATX_ATTR_DAX != 0)
}

/// STATX_ATTR_DAX of PATH.
pub fn is_dax(path: &Path) -> Result<bool, Error> {
    fd_is_dax(&File::open(path)?)
}

/// How long after FS_IOC_FSSETXATTR the file's mode (statx) follows the
/// flag, for an open, unmapped 1 MiB file, both ways, `reps` times each:
/// the median and the worst. A mode still unchanged after 100 ms counts as
/// deferred (ext4 and xfs apply the flag at eviction).
pub fn switch(path: &Path, reps: usize) -> Result<Vec<Sample>, Error> {
    let _ = std::fs::remove_file(path);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(&vec![0x11u8; MIB])?;
    f.sync_all()?;
    let miss = |why: &str| {
        ["to_dax_us", "to_pagecache_us"]
            .map(|m| Sample::missing("B8", "switch", m, "us", Better::Lower, why))
            .to_vec()
    };
    // Start from page cache (a file in a DAX-inheriting directory starts
    // as DAX).
    match set_dax_flag(&f, false) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP | libc::EINVAL | libc::ENOTTY)
            ) =>
        {
            return Ok(miss("no per-file DAX"));
        }
        Err(e) => return Err(e),
    }
    let t = Instant::now();
    while fd_is_dax(&f)? {
        if t.elapsed() > Duration::from_millis(100) {
            return Ok(miss("DAX for every file"));
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..reps {
        for (k, want) in [(0, true), (1, false)] {
            let t = Instant::now();
            set_dax_flag(&f, want)?;
            while fd_is_dax(&f)? != want {
                if t.elapsed() > Duration::from_millis(100) {
                    // Leave the flag as found.
                    set_dax_flag(&f, !want)?;
                    return Ok(miss("after last close + eviction"));
                }
                std::thread::sleep(Duration::from_micros(50));
            }
            times[k].push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let mut out = Vec::new();
    for (k, name) in [(0, "to_dax"), (1, "to_pagecache")] {
        let t = &mut times[k];
        t.sort_by(f64::total_cmp);
        let med = t.get(t.len() / 2).copied().unwrap_or(f64::NAN);
        let max = t.last().copied().unwrap_or(f64::NAN);
        out.push(Sample::new(
            "B8",
            "switch",
            &format!("{name}_us"),
            med,
            "us",
            Better::Lower,
        ));
        out.push(Sample::new(
            "B8",
            "switch",
            &format!("{name}_max_us"),
            max,
            "us",
            Better::Lower,
        ));
    }
    drop(f);
    std::fs::remove_file(path)?;
    Ok(out)
}
