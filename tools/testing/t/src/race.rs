// SPDX-License-Identifier: GPL-2.0
//! Races between kernel paths that reach a file behind its system calls
//! (writeback, khugepaged's collapse) and the operations that change the
//! file's layout or mode (punch hole, a DAX switch).

use crate::{call, Failure};
use r2dax_format::ioctl::FS_XFLAG_DAX;
use r2dax_sys::Mmap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

type Result<T> = std::result::Result<T, Failure>;

/// The byte at offset `i` of a file written in round `salt` (`tag`
/// tells the file apart).
fn byte(i: usize, salt: u32, tag: u32) -> u8 {
    (i as u32 ^ (i as u32 >> 9) ^ (i as u32 >> 17))
        .wrapping_mul(2_654_435_761)
        .wrapping_add(salt.wrapping_mul(97))
        .wrapping_add(tag.wrapping_mul(131))
        .to_le_bytes()[1]
}

fn fill(buf: &mut [u8], off: usize, salt: u32, tag: u32) {
    for (k, b) in buf.iter_mut().enumerate() {
        *b = byte(off + k, salt, tag);
    }
}

/// `Dirty:` of /proc/meminfo, in KiB.
fn dirty_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("Dirty:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Compares `len` bytes of `f` at `off` with `expect(offset)`; returns
/// the first offset that differs.
fn first_difference(
    f: &File,
    off: usize,
    len: usize,
    expect: impl Fn(usize) -> u8,
) -> Result<Option<usize>> {
    let mut buf = vec![0u8; MIB.min(len)];
    let mut pos = off;
    while pos < off + len {
        let n = buf.len().min(off + len - pos);
        f.read_exact_at(&mut buf[..n], pos as u64)?;
        if let Some(k) = (0..n).find(|&k| buf[k] != expect(pos + k)) {
            return Ok(Some(pos + k));
        }
        pos += n;
    }
    Ok(None)
}

/// `wb-punch FILE DIR ROUNDS`: the writeback-versus-punch race (issue 13,
/// item 1). Each round writes a 256 MiB file through the page cache and
/// starts `sync_file_range(WRITE)` over all of it (a `WB_SYNC_NONE`
/// writeback, which keeps one mapping for as far as it reaches). Once
/// writeback has cleaned 160 MiB (the `Dirty:` count), a second thread
/// punches 64 KiB at 200 MiB, writes a new pattern there and creates 64
/// small files, which take the freed blocks. Then everything is synced,
/// the caches dropped, and every byte of every file compared.
pub(crate) fn wb_punch(path: &str, dir: &str, rounds: u32) -> Result<String> {
    const SIZE: usize = 256 * MIB;
    const HOLE: usize = 200 * MIB;
    const HOLE_LEN: usize = 64 << 10;
    const SMALL: u32 = 64;
    const SMALL_LEN: usize = 4096;
    const AHEAD_KIB: u64 = 160 * 1024;
    let mut late = 0;
    for round in 0..rounds {
        let _ = std::fs::remove_file(path);
        for k in 0..SMALL {
            let _ = std::fs::remove_file(format!("{dir}/small{k}"));
        }
        let f = Arc::new(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)?,
        );
        let mut buf = vec![0u8; MIB];
        for off in (0..SIZE).step_by(MIB) {
            fill(&mut buf, off, round, 0);
            f.write_all_at(&buf, off as u64)?;
        }
        let start = dirty_kib();
        let f2 = Arc::clone(&f);
        let dir2 = dir.to_string();
        let punch = std::thread::spawn(move || -> Result<bool> {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut in_time = true;
            while dirty_kib() + AHEAD_KIB > start {
                if Instant::now() > deadline {
                    in_time = false;
                    break;
                }
                std::thread::sleep(Duration::from_micros(50));
            }
            r2dax_sys::fallocate(
                &*f2,
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                HOLE as u64,
                HOLE_LEN as u64,
            )
            .map_err(call("punch"))?;
            let mut b = vec![0u8; HOLE_LEN];
            fill(&mut b, HOLE, round, 1);
            f2.write_all_at(&b, HOLE as u64)?;
            let mut s = vec![0u8; SMALL_LEN];
            for k in 0..SMALL {
                fill(&mut s, 0, round, 2 + k);
                std::fs::write(format!("{dir2}/small{k}"), &s)?;
            }
            Ok(in_time)
        });
        r2dax_sys::sync_file_range(&*f, 0, SIZE as u64, libc::SYNC_FILE_RANGE_WRITE)
            .map_err(call("sync_file_range"))?;
        let in_time = punch
            .join()
            .map_err(|_| Failure::Panicked("punch thread"))??;
        if !in_time {
            late += 1;
        }
        r2dax_sys::sync();
        std::fs::write("/proc/sys/vm/drop_caches", "3\n")?;
        let expect = |i: usize| {
            if (HOLE..HOLE + HOLE_LEN).contains(&i) {
                byte(i, round, 1)
            } else {
                byte(i, round, 0)
            }
        };
        if let Some(at) = first_difference(&f, 0, SIZE, expect)? {
            return Err(Failure::Differs {
                round,
                path: path.to_string(),
                at,
                hole: HOLE..HOLE + HOLE_LEN,
            });
        }
        for k in 0..SMALL {
            let p = format!("{dir}/small{k}");
            let s = File::open(&p)?;
            if let Some(at) = first_difference(&s, 0, SMALL_LEN, |i| byte(i, round, 2 + k))? {
                return Err(Failure::SmallDiffers { round, path: p, at });
            }
        }
    }
    if late > 0 {
        return Err(Failure::WritebackLate { late, rounds });
    }
    Ok(format!("{rounds} rounds, every file intact"))
}

/// A shared read-only mapping of the first `len` bytes of `f` (`f` may be
/// open read-only, which a read-write mapping would refuse).
fn map_read_only(f: &File, len: usize) -> Result<Mmap> {
    Ok(Mmap::new(f, 0, len, libc::PROT_READ, libc::MAP_SHARED)?)
}

/// Sets or clears the DAX flag of `f`; `Ok(false)` for `EBUSY`.
fn set_dax(f: &File, on: bool) -> Result<bool> {
    let mut fa = r2dax_sys::get_fsxattr(f).map_err(call("FS_IOC_FSGETXATTR"))?;
    if on {
        fa.xflags |= FS_XFLAG_DAX;
    } else {
        fa.xflags &= !FS_XFLAG_DAX;
    }
    match r2dax_sys::set_fsxattr(f, &fa) {
        Ok(()) => Ok(true),
        Err(e) if e.raw() == libc::EBUSY => Ok(false),
        Err(e) => Err(call("FS_IOC_FSSETXATTR")(e)),
    }
}

/// `collapse-race FILE SECS`: khugepaged's collapse against a DAX switch
/// (issue 13, item 7). For SECS seconds: one thread opens FILE read-only,
/// maps its first 2 MiB (page cache) and asks for `MADV_COLLAPSE`;
/// another unmaps that mapping at a random moment while the collapse runs
/// (the collapse has dropped `mmap_lock` by then and holds only the
/// file); a third flips the file's DAX flag as fast as the switch allows.
/// Then the file is read back through `read(2)` and a mapping in both
/// modes. FILE holds at least 2 MiB written with the `byte(i, 0, 9)`
/// pattern (`r2dax-t pattern`).
pub(crate) fn collapse_race(path: &str, secs: u64) -> Result<String> {
    const LEN: usize = 2 * MIB;
    const MADV_COLLAPSE: libc::c_int = 25;
    let stop = Arc::new(AtomicBool::new(false));
    let addr = Arc::new(AtomicUsize::new(0));
    let collapses = Arc::new(AtomicU64::new(0));
    let unmapped = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);

    let (p, a, c, s) = (
        path.to_string(),
        Arc::clone(&addr),
        Arc::clone(&collapses),
        Arc::clone(&stop),
    );
    let collapser = std::thread::spawn(move || -> Result<()> {
        while !s.load(Ordering::Relaxed) {
            let f = File::open(&p)?;
            // Whoever takes the address unmaps it, once.
            let m = map_read_only(&f, LEN)?.into_raw();
            a.store(m as usize, Ordering::Release);
            // SAFETY: The range is our mapping (or was: the unmapper may
            // take it away, which is the race under test); collapsing
            // takes nothing away.
            if unsafe { r2dax_sys::madvise(m, LEN, MADV_COLLAPSE) }.is_ok() {
                c.fetch_add(1, Ordering::Relaxed);
            }
            if a.swap(0, Ordering::AcqRel) != 0 {
                // SAFETY: Our mapping, given up above, taken back once.
                drop(unsafe { Mmap::from_raw(m, LEN) });
            }
            drop(f);
        }
        Ok(())
    });

    let (a, u, s) = (Arc::clone(&addr), Arc::clone(&unmapped), Arc::clone(&stop));
    let unmapper = std::thread::spawn(move || {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        while !s.load(Ordering::Relaxed) {
            if a.load(Ordering::Acquire) == 0 {
                std::hint::spin_loop();
                continue;
            }
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let spin = rng % 20_000;
            for _ in 0..spin {
                std::hint::spin_loop();
            }
            let m = a.swap(0, Ordering::AcqRel);
            if m != 0 {
                // SAFETY: The collapser's mapping, which it will not unmap
                // now that the address is taken.
                drop(unsafe { Mmap::from_raw(m as *mut u8, LEN) });
                u.fetch_add(1, Ordering::Relaxed);
            }
        }
    });

    let f = File::open(path)?;
    let (mut to_dax, mut to_pc, mut busy) = (0u64, 0u64, 0u64);
    let mut dax = false;
    let mut err = None;
    while Instant::now() < deadline {
        match set_dax(&f, !dax) {
            Ok(true) => {
                dax = !dax;
                if dax {
                    to_dax += 1;
                } else {
                    to_pc += 1;
                }
            }
            Ok(false) => busy += 1,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let r = collapser
        .join()
        .map_err(|_| Failure::Panicked("collapser"))?;
    unmapper.join().map_err(|_| Failure::Panicked("unmapper"))?;
    if let Some(e) = err {
        return Err(e);
    }
    r?;
    // Read back in both modes, through read(2) and a mapping.
    for mode in [true, false] {
        let mut tries = 0;
        while !set_dax(&f, mode)? {
            tries += 1;
            if tries > 100 {
                return Err(Failure::StayedBusy);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(at) = first_difference(&f, 0, LEN, |i| byte(i, 0, 9))? {
            return Err(Failure::ReadDiffers { dax: mode, at });
        }
        let m = map_read_only(&f, LEN)?;
        // SAFETY: A read-only mapping; the racing threads have ended and
        // nothing else changes the file.
        let bytes = unsafe { m.as_slice() };
        let bad = (0..LEN).find(|&i| bytes[i] != byte(i, 0, 9));
        drop(m);
        if let Some(at) = bad {
            return Err(Failure::MappingDiffers { dax: mode, at });
        }
    }
    eprintln!(
        "collapse-race: {} collapses, {} unmapped mid-collapse, {to_dax} switches to DAX, {to_pc} back, {busy} EBUSY",
        collapses.load(Ordering::Relaxed),
        unmapped.load(Ordering::Relaxed)
    );
    if to_dax == 0 {
        return Err(Failure::NoSwitchToDax);
    }
    Ok("collapse, unmap and switch raced; data intact in both modes".into())
}

/// `pattern FILE LEN`: writes LEN bytes of the pattern `collapse-race`
/// expects.
pub(crate) fn pattern(path: &str, len: usize) -> Result<String> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    let mut buf = vec![0u8; MIB];
    let mut off = 0;
    while off < len {
        let n = MIB.min(len - off);
        fill(&mut buf[..n], off, 0, 9);
        f.write_all_at(&buf[..n], off as u64)?;
        off += n;
    }
    f.sync_all()?;
    Ok(format!("{len} bytes written"))
}
