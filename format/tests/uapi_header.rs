// SPDX-License-Identifier: GPL-2.0
//! The Rust view of the ioctl ABI (`src/ioctl.rs`) against the C headers:
//! r2dax's uapi header (include/uapi/linux/r2dax.h) and the system's
//! <linux/fs.h> and <linux/stat.h>, compiled with the host's C compiler
//! (`$CC`, else `cc`). Skipped, with a message, when there is no compiler.

use r2dax_format::ioctl::{
    mount_mode, offset, shutdown, status, FsXattr, DAX_STATUS_SIZE, DAX_STATUS_VERSION,
    FS_IOC_FSGETXATTR, FS_IOC_FSSETXATTR, FS_XFLAG_DAX, R2DAX_IOCTL_TYPE, R2DAX_IOC_DAX_STATUS,
    R2DAX_IOC_SHUTDOWN, STATX_ATTR_DAX,
};
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Prints `NAME VALUE` for every value the Rust view defines.
const PROGRAM: &str = r#"
#include <linux/r2dax.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <stddef.h>
#include <stdio.h>

#define P(name, v) printf("%s %llu\n", name, (unsigned long long)(v))

int main(void)
{
	P("sizeof(struct r2dax_dax_status)", sizeof(struct r2dax_dax_status));
	P("offsetof(version)", offsetof(struct r2dax_dax_status, version));
	P("offsetof(flags)", offsetof(struct r2dax_dax_status, flags));
	P("offsetof(mappings)", offsetof(struct r2dax_dax_status, mappings));
	P("offsetof(mount_mode)", offsetof(struct r2dax_dax_status, mount_mode));
	P("offsetof(reserved)", offsetof(struct r2dax_dax_status, reserved));
	P("sizeof(reserved)", sizeof(((struct r2dax_dax_status *)0)->reserved));
	P("R2DAX_DAX_STATUS_VERSION", R2DAX_DAX_STATUS_VERSION);
	P("R2DAX_DAX_STATUS_REQUESTED", R2DAX_DAX_STATUS_REQUESTED);
	P("R2DAX_DAX_STATUS_EFFECTIVE", R2DAX_DAX_STATUS_EFFECTIVE);
	P("R2DAX_DAX_STATUS_PINNED", R2DAX_DAX_STATUS_PINNED);
	P("R2DAX_DAX_STATUS_DEVICE_DAX", R2DAX_DAX_STATUS_DEVICE_DAX);
	P("R2DAX_DAX_STATUS_COLLAPSIBLE", R2DAX_DAX_STATUS_COLLAPSIBLE);
	P("R2DAX_DAX_STATUS_PENDING", R2DAX_DAX_STATUS_PENDING);
	P("R2DAX_MOUNT_DAX_INODE", R2DAX_MOUNT_DAX_INODE);
	P("R2DAX_MOUNT_DAX_ALWAYS", R2DAX_MOUNT_DAX_ALWAYS);
	P("R2DAX_MOUNT_DAX_NEVER", R2DAX_MOUNT_DAX_NEVER);
	P("R2DAX_IOCTL_TYPE", R2DAX_IOCTL_TYPE);
	P("R2DAX_IOC_DAX_STATUS", R2DAX_IOC_DAX_STATUS);
	P("R2DAX_IOC_SHUTDOWN", R2DAX_IOC_SHUTDOWN);
	P("R2DAX_SHUTDOWN_FLAGS_DEFAULT", R2DAX_SHUTDOWN_FLAGS_DEFAULT);
	P("R2DAX_SHUTDOWN_FLAGS_LOGFLUSH", R2DAX_SHUTDOWN_FLAGS_LOGFLUSH);
	P("R2DAX_SHUTDOWN_FLAGS_NOLOGFLUSH", R2DAX_SHUTDOWN_FLAGS_NOLOGFLUSH);
	P("sizeof(struct fsxattr)", sizeof(struct fsxattr));
	P("offsetof(fsx_xflags)", offsetof(struct fsxattr, fsx_xflags));
	P("offsetof(fsx_extsize)", offsetof(struct fsxattr, fsx_extsize));
	P("offsetof(fsx_nextents)", offsetof(struct fsxattr, fsx_nextents));
	P("offsetof(fsx_projid)", offsetof(struct fsxattr, fsx_projid));
	P("offsetof(fsx_cowextsize)", offsetof(struct fsxattr, fsx_cowextsize));
	P("offsetof(fsx_pad)", offsetof(struct fsxattr, fsx_pad));
	P("FS_IOC_FSGETXATTR", FS_IOC_FSGETXATTR);
	P("FS_IOC_FSSETXATTR", FS_IOC_FSSETXATTR);
	P("FS_XFLAG_DAX", FS_XFLAG_DAX);
	P("STATX_ATTR_DAX", STATX_ATTR_DAX);
	return 0;
}
"#;

/// What the Rust view says, under the names the program prints.
fn rust_values() -> BTreeMap<&'static str, u64> {
    let v = |x: usize| x as u64;
    BTreeMap::from([
        ("sizeof(struct r2dax_dax_status)", v(DAX_STATUS_SIZE)),
        ("offsetof(version)", v(offset::VERSION)),
        ("offsetof(flags)", v(offset::FLAGS)),
        ("offsetof(mappings)", v(offset::MAPPINGS)),
        ("offsetof(mount_mode)", v(offset::MOUNT_MODE)),
        ("offsetof(reserved)", v(offset::RESERVED)),
        ("sizeof(reserved)", v(DAX_STATUS_SIZE - offset::RESERVED)),
        ("R2DAX_DAX_STATUS_VERSION", DAX_STATUS_VERSION.into()),
        ("R2DAX_DAX_STATUS_REQUESTED", status::REQUESTED.into()),
        ("R2DAX_DAX_STATUS_EFFECTIVE", status::EFFECTIVE.into()),
        ("R2DAX_DAX_STATUS_PINNED", status::PINNED.into()),
        ("R2DAX_DAX_STATUS_DEVICE_DAX", status::DEVICE_DAX.into()),
        ("R2DAX_DAX_STATUS_COLLAPSIBLE", status::COLLAPSIBLE.into()),
        ("R2DAX_DAX_STATUS_PENDING", status::PENDING.into()),
        ("R2DAX_MOUNT_DAX_INODE", mount_mode::INODE.into()),
        ("R2DAX_MOUNT_DAX_ALWAYS", mount_mode::ALWAYS.into()),
        ("R2DAX_MOUNT_DAX_NEVER", mount_mode::NEVER.into()),
        ("R2DAX_IOCTL_TYPE", R2DAX_IOCTL_TYPE.into()),
        ("R2DAX_IOC_DAX_STATUS", R2DAX_IOC_DAX_STATUS.into()),
        ("R2DAX_IOC_SHUTDOWN", R2DAX_IOC_SHUTDOWN.into()),
        ("R2DAX_SHUTDOWN_FLAGS_DEFAULT", shutdown::DEFAULT.into()),
        ("R2DAX_SHUTDOWN_FLAGS_LOGFLUSH", shutdown::LOGFLUSH.into()),
        (
            "R2DAX_SHUTDOWN_FLAGS_NOLOGFLUSH",
            shutdown::NOLOGFLUSH.into(),
        ),
        ("sizeof(struct fsxattr)", v(size_of::<FsXattr>())),
        ("offsetof(fsx_xflags)", v(offset_of!(FsXattr, xflags))),
        ("offsetof(fsx_extsize)", v(offset_of!(FsXattr, extsize))),
        ("offsetof(fsx_nextents)", v(offset_of!(FsXattr, nextents))),
        ("offsetof(fsx_projid)", v(offset_of!(FsXattr, projid))),
        (
            "offsetof(fsx_cowextsize)",
            v(offset_of!(FsXattr, cowextsize)),
        ),
        ("offsetof(fsx_pad)", v(offset_of!(FsXattr, pad))),
        ("FS_IOC_FSGETXATTR", FS_IOC_FSGETXATTR.into()),
        ("FS_IOC_FSSETXATTR", FS_IOC_FSSETXATTR.into()),
        ("FS_XFLAG_DAX", FS_XFLAG_DAX.into()),
        ("STATX_ATTR_DAX", STATX_ATTR_DAX),
    ])
}

/// The directory that holds `linux/r2dax.h`: `include/uapi` at the top of
/// the repository, found upwards from this crate wherever it sits.
fn uapi_dir() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .map(|d| d.join("include/uapi"))
        .find(|d| d.join("linux/r2dax.h").is_file())
        .unwrap_or_else(|| {
            panic!(
                "no include/uapi/linux/r2dax.h above {}",
                crate_dir.display()
            )
        })
}

#[test]
fn rust_view_matches_c_headers() {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let dir = std::env::temp_dir().join(format!("r2dax-uapi-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("uapi.c");
    let exe = dir.join("uapi");
    std::fs::write(&src, PROGRAM).unwrap();
    // Strict warnings: the header is for any C program.
    let built = Command::new(&cc)
        .args([
            "-std=gnu99",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-I",
        ])
        .arg(uapi_dir())
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output();
    let built = match built {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            eprintln!("SKIPPED: no C compiler ({cc} not found); the uapi header was not checked");
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        r => r.unwrap(),
    };
    assert!(
        built.status.success(),
        "{cc} failed on the uapi test program:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = Command::new(&exe).output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success());
    let c: BTreeMap<String, u64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect();
    let rust = rust_values();
    let mut wrong = Vec::new();
    for (name, &r) in &rust {
        match c.get(*name) {
            Some(&v) if v == r => {}
            Some(&v) => wrong.push(format!("{name}: C {v:#x}, Rust {r:#x}")),
            None => wrong.push(format!("{name}: not printed by the C program")),
        }
    }
    assert_eq!(
        c.len(),
        rust.len(),
        "the C program prints names the Rust side lacks"
    );
    assert!(
        wrong.is_empty(),
        "the Rust view differs from the C headers:\n{}",
        wrong.join("\n")
    );
}

/// The number of the status ioctl is the one the guest tests have always
/// used, and encode/decode put the fields where the header does.
#[test]
fn status_ioctl_is_unchanged() {
    assert_eq!(R2DAX_IOC_DAX_STATUS, 0x8020_7880);
    assert_eq!(FS_IOC_FSGETXATTR, 0x801c_581f);
    assert_eq!(FS_IOC_FSSETXATTR, 0x401c_5820);
    let s = r2dax_format::ioctl::DaxStatus {
        version: DAX_STATUS_VERSION,
        flags: status::REQUESTED | status::COLLAPSIBLE,
        mappings: 0x0102_0304_0506_0708,
        mount_mode: mount_mode::NEVER,
    };
    let b = s.encode();
    let mut want = [0u8; DAX_STATUS_SIZE];
    want[..4].copy_from_slice(&1u32.to_ne_bytes());
    want[4..8].copy_from_slice(&0x11u32.to_ne_bytes());
    want[8..16].copy_from_slice(&0x0102_0304_0506_0708u64.to_ne_bytes());
    want[16..20].copy_from_slice(&2u32.to_ne_bytes());
    assert_eq!(b, want);
    assert_eq!(r2dax_format::ioctl::DaxStatus::decode(&b), s);
}
