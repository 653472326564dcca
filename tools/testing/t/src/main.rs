// SPDX-License-Identifier: GPL-2.0
//! r2dax-t: a test helper for system calls busybox cannot make. Prints
//! "ok" or the error's text, so tests can compare it with golden output.
//!
//!   r2dax-t rename OLD NEW [noreplace|exchange]   renameat2(2)
//!   r2dax-t faults FILE [read|write]              map FILE (shared), touch
//!       every 4 KiB page (read it, or store 0x6b in its first byte), print
//!       the page faults that took (getrusage)
//!   r2dax-t pin FILE MS                           take references on the
//!       first 4 pages of FILE's pages (vmsplice of a shared mapping into a
//!       pipe, as DMA would pin them), unmap, print "pinned", hold them MS
//!       milliseconds, drop them, print "released"

use std::ffi::CString;
use std::process::ExitCode;

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

fn report(ret: libc::c_int) -> ExitCode {
    if ret == 0 {
        println!("ok");
        ExitCode::SUCCESS
    } else {
        println!("{}", std::io::Error::last_os_error());
        ExitCode::from(1)
    }
}

fn main() -> ExitCode {
    let a: Vec<String> = std::env::args().skip(1).collect();
    match a.first().map(String::as_str) {
        Some("pin") if a.len() == 3 => match pin(&a[1], a[2].parse().unwrap_or(0)) {
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
            let (o, n) = (cstr(&a[1]), cstr(&a[2]));
            // SAFETY: Two valid NUL-terminated paths.
            let r = unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    o.as_ptr(),
                    libc::AT_FDCWD,
                    n.as_ptr(),
                    flags,
                )
            };
            report(r)
        }
        _ => {
            eprintln!("usage: r2dax-t rename OLD NEW [noreplace|exchange]");
            ExitCode::from(2)
        }
    }
}

fn minor_major() -> u64 {
    // SAFETY: An all-zero rusage is a valid output buffer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes `ru`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    (ru.ru_minflt + ru.ru_majflt) as u64
}

/// What `faults FILE write` stores in the first byte of each page.
const WRITE_BYTE: u8 = 0x6b;

/// Maps `path` whole (shared) and touches each 4 KiB page once (a write
/// stores [`WRITE_BYTE`], which the test wrote there before); returns the
/// page faults taken and the pages touched.
fn faults(path: &str, write: bool) -> std::io::Result<(u64, u64)> {
    use std::os::unix::io::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .open(path)?;
    let len = f.metadata()?.len() as usize;
    if len == 0 {
        return Ok((0, 0));
    }
    let prot = libc::PROT_READ | if write { libc::PROT_WRITE } else { 0 };
    // SAFETY: A new shared mapping of the whole file; the kernel picks a
    // (PMD-aligned, via the filesystem's get_unmapped_area) address.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let p = p.cast::<u8>();
    let before = minor_major();
    let mut sum = 0u64;
    let mut pages = 0;
    for off in (0..len).step_by(4096) {
        // SAFETY: `off < len`, inside the mapping.
        unsafe {
            if write {
                // A store without a load first: one write fault per page
                // (or per 2 MiB), not a read fault then a write fault.
                std::ptr::write_volatile(p.add(off), WRITE_BYTE);
            } else {
                sum = sum.wrapping_add(u64::from(std::ptr::read_volatile(p.add(off))));
            }
        }
        pages += 1;
    }
    let n = minor_major() - before;
    std::hint::black_box(sum);
    // SAFETY: Unmapping what was mapped above.
    unsafe { libc::munmap(p.cast(), len) };
    Ok((n, pages))
}

/// See the module documentation (`pin`).
fn pin(path: &str, ms: u64) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::io::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let len = 4 * 4096;
    // SAFETY: A new shared mapping of the file's first 16 KiB.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two ends.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let iov = libc::iovec {
        iov_base: p,
        iov_len: len,
    };
    // SAFETY: vmsplice takes references on the mapped pages into the pipe.
    let n = unsafe { libc::vmsplice(fds[1], &iov, 1, 0) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: Unmapping what was mapped; the pipe keeps its references.
    unsafe { libc::munmap(p, len) };
    println!("pinned");
    std::io::stdout().flush()?;
    std::thread::sleep(std::time::Duration::from_millis(ms));
    let mut buf = vec![0u8; len];
    // SAFETY: Draining the pipe drops the page references.
    unsafe {
        libc::read(fds[0], buf.as_mut_ptr().cast(), len);
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    println!("released");
    Ok(())
}
