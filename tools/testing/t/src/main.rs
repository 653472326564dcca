// SPDX-License-Identifier: GPL-2.0
//! r2dax-t: a test helper for system calls busybox cannot make. Prints
//! "ok" or the error's text, so tests can compare it with golden output.
//!
//!   r2dax-t rename OLD NEW [noreplace|exchange]   renameat2(2)

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
