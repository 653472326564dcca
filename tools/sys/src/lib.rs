// SPDX-License-Identifier: GPL-2.0
//! The Linux system calls the r2dax tools make beyond what `std` offers
//! (mappings, fallocate, the DAX flag and status ioctls, statx
//! attributes, raw descriptors for the test programs), as safe functions.
//!
//! Every call reports failure as an [`Errno`], read right after the call.
//! An `Errno` prints as a `std::io::Error` of the same code does ("File
//! exists (os error 17)"), so messages that used to print an
//! `io::Error` read the same, and it converts into one for `?` in
//! functions returning `std::io::Result`.
//!
//! Paths are passed as `&Path`; one holding a NUL byte fails with
//! `EINVAL` without a system call.

use std::ffi::{c_int, c_uint, CString};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub use r2dax_format::ioctl::{DaxStatus, FsXattr};
use r2dax_format::ioctl::{
    DAX_STATUS_SIZE, FS_IOC_FSGETXATTR, FS_IOC_FSSETXATTR, R2DAX_IOC_DAX_STATUS, R2DAX_IOC_SHUTDOWN,
};

/// An error number (`errno`) from a failed system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(i32);

impl Errno {
    /// The error `n` (`libc::ENOENT`, ...).
    pub const fn new(n: i32) -> Errno {
        Errno(n)
    }

    /// The calling thread's `errno` now.
    pub fn last() -> Errno {
        Errno(
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }

    /// The number, to compare with `libc::E*`.
    pub const fn raw(self) -> i32 {
        self.0
    }
}

impl fmt::Display for Errno {
    /// strerror's text and the number, as `std::io::Error` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        io::Error::from_raw_os_error(self.0).fmt(f)
    }
}

impl std::error::Error for Errno {}

impl From<io::Error> for Errno {
    /// The error's code; `EIO` for an error that did not come from the
    /// kernel.
    fn from(e: io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl From<Errno> for io::Error {
    fn from(e: Errno) -> io::Error {
        io::Error::from_raw_os_error(e.0)
    }
}

/// The result of a wrapped system call.
pub type Result<T> = std::result::Result<T, Errno>;

/// A `c_int` return value: negative means failure, with `errno` set.
fn check(ret: c_int) -> Result<c_int> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// A byte count returned as `ssize_t`.
fn check_len(ret: isize) -> Result<usize> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret as usize)
    }
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno(libc::EINVAL))
}

// Descriptors and file data.

/// open(2) with these flags and creation mode.
pub fn open(path: impl AsRef<Path>, flags: c_int, mode: libc::mode_t) -> Result<OwnedFd> {
    let p = c_path(path.as_ref())?;
    // SAFETY: `p` is NUL-terminated; the mode is passed as the variadic
    // argument open(2) reads when creating.
    let fd = check(unsafe { libc::open(p.as_ptr(), flags, libc::c_uint::from(mode)) })?;
    // SAFETY: `fd` was just opened and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// close(2), reporting its error (dropping an `OwnedFd` ignores it).
pub fn close(fd: OwnedFd) -> Result<()> {
    // SAFETY: `into_raw_fd` gives up ownership, so the descriptor is
    // closed once, here.
    check(unsafe { libc::close(fd.into_raw_fd()) }).map(drop)
}

/// read(2) into `buf`.
pub fn read(fd: impl AsFd, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
    check_len(unsafe { libc::read(fd.as_fd().as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// write(2) of `buf` (at the end for an `O_APPEND` descriptor).
pub fn write(fd: impl AsFd, buf: &[u8]) -> Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of reads.
    check_len(unsafe { libc::write(fd.as_fd().as_raw_fd(), buf.as_ptr().cast(), buf.len()) })
}

/// pread(2) into `buf` at `off`; one call, so the count may be short.
pub fn pread(fd: impl AsFd, buf: &mut [u8], off: u64) -> Result<usize> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
    check_len(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off as libc::off_t) })
}

/// pwrite(2) of `buf` at `off`; one call, so the count may be short.
pub fn pwrite(fd: impl AsFd, buf: &[u8], off: u64) -> Result<usize> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: `buf` is valid for `buf.len()` bytes of reads.
    check_len(unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), off as libc::off_t) })
}

/// The size of the open file (fstat(2)'s `st_size`).
pub fn file_size(fd: impl AsFd) -> Result<u64> {
    // SAFETY: An all-zero stat is a valid output buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is writable.
    check(unsafe { libc::fstat(fd.as_fd().as_raw_fd(), &mut st) })?;
    Ok(st.st_size as u64)
}

/// ftruncate(2).
pub fn ftruncate(fd: impl AsFd, len: u64) -> Result<()> {
    // SAFETY: Plain integer arguments.
    check(unsafe { libc::ftruncate(fd.as_fd().as_raw_fd(), len as libc::off_t) }).map(drop)
}

/// truncate(2) by path.
pub fn truncate(path: impl AsRef<Path>, len: u64) -> Result<()> {
    let p = c_path(path.as_ref())?;
    // SAFETY: `p` is NUL-terminated.
    check(unsafe { libc::truncate(p.as_ptr(), len as libc::off_t) }).map(drop)
}

/// fallocate(2) with `mode` (`libc::FALLOC_FL_*`).
pub fn fallocate(fd: impl AsFd, mode: c_int, off: u64, len: u64) -> Result<()> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: Plain integer arguments.
    check(unsafe { libc::fallocate(fd, mode, off as libc::off_t, len as libc::off_t) }).map(drop)
}

/// fsync(2).
pub fn fsync(fd: impl AsFd) -> Result<()> {
    // SAFETY: Plain integer argument.
    check(unsafe { libc::fsync(fd.as_fd().as_raw_fd()) }).map(drop)
}

/// fdatasync(2).
pub fn fdatasync(fd: impl AsFd) -> Result<()> {
    // SAFETY: Plain integer argument.
    check(unsafe { libc::fdatasync(fd.as_fd().as_raw_fd()) }).map(drop)
}

/// sync_file_range(2) with `flags` (`libc::SYNC_FILE_RANGE_*`).
pub fn sync_file_range(fd: impl AsFd, off: u64, len: u64, flags: c_uint) -> Result<()> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: Plain integer arguments.
    check(unsafe { libc::sync_file_range(fd, off as libc::off_t, len as libc::off_t, flags) })
        .map(drop)
}

/// sync(2).
pub fn sync() {
    // SAFETY: No arguments.
    unsafe { libc::sync() };
}

// The namespace.

/// renameat2(2) relative to the working directory, with `flags`
/// (`libc::RENAME_*`).
pub fn renameat2(old: impl AsRef<Path>, new: impl AsRef<Path>, flags: c_uint) -> Result<()> {
    let (o, n) = (c_path(old.as_ref())?, c_path(new.as_ref())?);
    // SAFETY: Two NUL-terminated paths.
    check(unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            o.as_ptr(),
            libc::AT_FDCWD,
            n.as_ptr(),
            flags,
        )
    })
    .map(drop)
}

/// statvfs(3) of the filesystem holding `path`.
pub fn statvfs(path: impl AsRef<Path>) -> Result<libc::statvfs> {
    let p = c_path(path.as_ref())?;
    // SAFETY: An all-zero statvfs is a valid output buffer.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `p` is NUL-terminated and `st` writable.
    check(unsafe { libc::statvfs(p.as_ptr(), &mut st) })?;
    Ok(st)
}

// The DAX flag and mode.

/// statx(2)'s `stx_attributes` and `stx_attributes_mask` (which of the
/// attributes the filesystem reports at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// `STATX_ATTR_*` bits set.
    pub set: u64,
    /// `STATX_ATTR_*` bits supported.
    pub mask: u64,
}

fn statx(dirfd: c_int, path: &std::ffi::CStr, flags: c_int) -> Result<Attributes> {
    // SAFETY: An all-zero statx is a valid output buffer.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `stx` writable.
    check(unsafe {
        libc::statx(
            dirfd,
            path.as_ptr(),
            flags,
            libc::STATX_BASIC_STATS,
            &mut stx,
        )
    })?;
    Ok(Attributes {
        set: stx.stx_attributes,
        mask: stx.stx_attributes_mask,
    })
}

/// The statx attributes of the open file (`AT_EMPTY_PATH`).
pub fn fstatx_attributes(fd: impl AsFd) -> Result<Attributes> {
    statx(fd.as_fd().as_raw_fd(), c"", libc::AT_EMPTY_PATH)
}

/// The statx attributes of `path` (symlinks followed).
pub fn statx_attributes(path: impl AsRef<Path>) -> Result<Attributes> {
    statx(libc::AT_FDCWD, &c_path(path.as_ref())?, 0)
}

/// `FS_IOC_FSGETXATTR`: the file's `struct fsxattr` (flags such as
/// `FS_XFLAG_DAX`).
pub fn get_fsxattr(fd: impl AsFd) -> Result<FsXattr> {
    let mut fa = FsXattr::default();
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: FS_IOC_FSGETXATTR writes one `struct fsxattr`, which `fa` is.
    check(unsafe { libc::ioctl(fd, FS_IOC_FSGETXATTR as libc::c_ulong, &mut fa) })?;
    Ok(fa)
}

/// `FS_IOC_FSSETXATTR`: sets the file's flags (r2dax refuses a DAX switch
/// of a mapped or pinned file with `EBUSY`).
pub fn set_fsxattr(fd: impl AsFd, fa: &FsXattr) -> Result<()> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: FS_IOC_FSSETXATTR reads one `struct fsxattr`.
    check(unsafe { libc::ioctl(fd, FS_IOC_FSSETXATTR as libc::c_ulong, fa) }).map(drop)
}

/// `R2DAX_IOC_SHUTDOWN` (ext4's and xfs's shutdown ioctl) with `flags`.
pub fn shutdown(fd: impl AsFd, flags: u32) -> Result<()> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: The ioctl reads one `__u32` at the pointer.
    check(unsafe { libc::ioctl(fd, R2DAX_IOC_SHUTDOWN as libc::c_ulong, &flags) }).map(drop)
}

/// r2dax's `R2DAX_IOC_DAX_STATUS` (other filesystems fail it, `ENOTTY`).
pub fn dax_status(fd: impl AsFd) -> Result<DaxStatus> {
    let mut buf = [0u8; DAX_STATUS_SIZE];
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: The ioctl writes at most DAX_STATUS_SIZE bytes (its size
    // field).
    check(unsafe { libc::ioctl(fd, R2DAX_IOC_DAX_STATUS as libc::c_ulong, buf.as_mut_ptr()) })?;
    Ok(DaxStatus::decode(&buf))
}

// Mappings.

// Extended attributes (of the link itself, never followed).

/// llistxattr(2): the names of `path`'s extended attributes.
pub fn llistxattr(path: impl AsRef<Path>) -> Result<Vec<Vec<u8>>> {
    let p = c_path(path.as_ref())?;
    loop {
        // SAFETY: `p` is a NUL-terminated path; a null buffer of length 0
        // asks for the size only.
        let want = check_len(unsafe { libc::llistxattr(p.as_ptr(), std::ptr::null_mut(), 0) })?;
        let mut buf = vec![0u8; want];
        // SAFETY: `buf` is writable for `buf.len()` bytes.
        match check_len(unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) })
        {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf
                    .split(|&b| b == 0)
                    .filter(|n| !n.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect());
            }
            // The list grew between the calls: ask again.
            Err(e) if e.raw() == libc::ERANGE => continue,
            Err(e) => return Err(e),
        }
    }
}

/// lgetxattr(2): the value of `path`'s attribute `name`.
pub fn lgetxattr(path: impl AsRef<Path>, name: &[u8]) -> Result<Vec<u8>> {
    let p = c_path(path.as_ref())?;
    let n = CString::new(name).map_err(|_| Errno(libc::EINVAL))?;
    loop {
        // SAFETY: `p` and `n` are NUL-terminated; a null buffer of length
        // 0 asks for the size only.
        let want =
            check_len(unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), std::ptr::null_mut(), 0) })?;
        let mut buf = vec![0u8; want];
        // SAFETY: `buf` is writable for `buf.len()` bytes.
        match check_len(unsafe {
            libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
        }) {
            Ok(len) => {
                buf.truncate(len);
                return Ok(buf);
            }
            Err(e) if e.raw() == libc::ERANGE => continue,
            Err(e) => return Err(e),
        }
    }
}

/// lsetxattr(2): sets `path`'s attribute `name` to `value` (`flags`:
/// `libc::XATTR_CREATE`, `libc::XATTR_REPLACE` or 0).
pub fn lsetxattr(path: impl AsRef<Path>, name: &[u8], value: &[u8], flags: c_int) -> Result<()> {
    let p = c_path(path.as_ref())?;
    let n = CString::new(name).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: `p` and `n` are NUL-terminated, `value` readable for its
    // length.
    check(unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    })
    .map(drop)
}

/// lremovexattr(2): removes `path`'s attribute `name`.
pub fn lremovexattr(path: impl AsRef<Path>, name: &[u8]) -> Result<()> {
    let p = c_path(path.as_ref())?;
    let n = CString::new(name).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: `p` and `n` are NUL-terminated.
    check(unsafe { libc::lremovexattr(p.as_ptr(), n.as_ptr()) }).map(drop)
}

// File handles.

/// name_to_handle_at(2) of `path` (symlinks not followed): the handle's
/// type and bytes.
pub fn name_to_handle(path: impl AsRef<Path>) -> Result<(i32, Vec<u8>)> {
    let p = c_path(path.as_ref())?;
    // struct file_handle: handle_bytes (u32), handle_type (i32), then
    // MAX_HANDLE_SZ (128) bytes.
    let mut buf = [0u8; 8 + 128];
    buf[..4].copy_from_slice(&128u32.to_le_bytes());
    let mut mount_id: c_int = 0;
    // SAFETY: `p` is NUL-terminated, `buf` is a file_handle with room for
    // 128 bytes of handle, `mount_id` is writable.
    check(unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            p.as_ptr(),
            buf.as_mut_ptr(),
            &mut mount_id as *mut c_int,
            0,
        ) as c_int
    })?;
    let n = (u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize).min(128);
    let ty = i32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    Ok((ty, buf[8..8 + n].to_vec()))
}

/// open_by_handle_at(2): opens the file that handle (`ty`, `bytes`) names
/// on the filesystem of `mount` (any open file there) with `flags`.
pub fn open_by_handle(mount: impl AsFd, ty: i32, bytes: &[u8], flags: c_int) -> Result<OwnedFd> {
    if bytes.len() > 128 {
        return Err(Errno(libc::EINVAL));
    }
    let mut buf = vec![0u8; 8 + bytes.len()];
    buf[..4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    buf[4..8].copy_from_slice(&ty.to_le_bytes());
    buf[8..].copy_from_slice(bytes);
    // SAFETY: `buf` is a file_handle of `bytes.len()` bytes; the call
    // returns a new descriptor or fails.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            mount.as_fd().as_raw_fd(),
            buf.as_mut_ptr(),
            flags,
        ) as c_int
    })?;
    // SAFETY: A new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A mapping made by mmap(2), unmapped on drop.
///
/// Bytes are read and written through it with volatile accesses: the
/// file under it may change (other mappings, writes, truncation, which
/// makes an access beyond the new size raise SIGBUS) whatever Rust knows.
#[derive(Debug)]
pub struct Mmap {
    ptr: *mut u8,
    len: usize,
}

impl Mmap {
    /// Maps `len` bytes of `fd` from `off` with `prot` (`libc::PROT_*`) and
    /// `flags` (`libc::MAP_*`); the kernel picks the address.
    pub fn new(fd: impl AsFd, off: u64, len: usize, prot: c_int, flags: c_int) -> Result<Mmap> {
        let fd = fd.as_fd().as_raw_fd();
        // SAFETY: A new mapping at an address the kernel picks, so no
        // existing memory is replaced; it is only reached through `Mmap`.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                flags,
                fd,
                off as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        Ok(Mmap { ptr: p.cast(), len })
    }

    /// The first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the length is 0 (mmap refuses that, so never).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// madvise(2) with `advice` on bytes `off..off + len` of the mapping
    /// (page-aligned).
    pub fn madvise(&self, off: usize, len: usize, advice: c_int) -> Result<()> {
        assert!(off.checked_add(len).is_some_and(|e| e <= self.len));
        // SAFETY: The range is inside the mapping; madvise(2) does not
        // touch memory Rust knows about (the mapping is only reached
        // through raw pointers).
        check(unsafe { libc::madvise(self.ptr.add(off).cast(), len, advice) }).map(|_| ())
    }

    /// The byte at `off` (a volatile load: it faults the page in).
    pub fn read(&self, off: usize) -> u8 {
        assert!(
            off < self.len,
            "read at {off} beyond a {}-byte mapping",
            self.len
        );
        // SAFETY: `off < len`, inside the mapping.
        unsafe { self.ptr.add(off).read_volatile() }
    }

    /// Stores `v` at `off` (a volatile store: a write fault without a read
    /// fault first). A read-only mapping raises SIGSEGV.
    pub fn write(&self, off: usize, v: u8) {
        assert!(
            off < self.len,
            "write at {off} beyond a {}-byte mapping",
            self.len
        );
        // SAFETY: `off < len`, inside the mapping; the bytes are only
        // reached through raw pointers, never a reference.
        unsafe { self.ptr.add(off).write_volatile(v) }
    }

    /// The mapping as a slice.
    ///
    /// # Safety
    ///
    /// Nothing may change the mapped bytes while the slice lives (no store
    /// through this or another mapping, no write to or truncation of the
    /// file range) unless the slice is only handed to the kernel (a
    /// `write(2)` from it), and the mapping must be readable.
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` mapped bytes; the caller vouches for the rest.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The mapping as a mutable slice.
    ///
    /// # Safety
    ///
    /// As for [`Mmap::as_slice`], and the mapping must be writable.
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `len` mapped bytes, borrowed mutably through `self`; the
        // caller vouches for the rest.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// msync(2) of the whole mapping with `flags` (`libc::MS_*`).
    pub fn msync(&self, flags: c_int) -> Result<()> {
        // SAFETY: The range is this mapping.
        check(unsafe { libc::msync(self.ptr.cast(), self.len, flags) }).map(drop)
    }

    /// Gives up the mapping without unmapping it: the address, for
    /// [`Mmap::from_raw`] (possibly in another thread).
    pub fn into_raw(self) -> *mut u8 {
        let p = self.ptr;
        std::mem::forget(self);
        p
    }

    /// Takes back a mapping given up by [`Mmap::into_raw`].
    ///
    /// # Safety
    ///
    /// `ptr` and `len` are those of a mapping given up by `into_raw` and
    /// not taken back before: the mapping has one owner again.
    pub unsafe fn from_raw(ptr: *mut u8, len: usize) -> Mmap {
        Mmap { ptr, len }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: Unmapping what `new` mapped, once; nothing borrowed from
        // `self` outlives it.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// madvise(2) of `len` bytes at `addr` with `advice` (`libc::MADV_*`).
///
/// # Safety
///
/// The range may be unmapped meanwhile (the call then fails with
/// `ENOMEM`), but the advice must not take away memory that something
/// still uses (`MADV_DONTNEED`, `MADV_FREE`, `MADV_REMOVE`).
pub unsafe fn madvise(addr: *mut u8, len: usize, advice: c_int) -> Result<()> {
    // SAFETY: The caller vouches for the advice; a bad range fails.
    check(unsafe { libc::madvise(addr.cast(), len, advice) }).map(drop)
}

// Pipes and processes.

/// pipe(2): the read end and the write end.
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two ends.
    check(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    // SAFETY: Two descriptors just made, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// vmsplice(2) of the whole of `map` into the pipe `fd`: the pipe takes
/// references on the mapping's pages (as DMA would pin them), which stay
/// after the mapping is gone.
pub fn vmsplice(fd: impl AsFd, map: &Mmap) -> Result<usize> {
    let iov = libc::iovec {
        iov_base: map.ptr.cast(),
        iov_len: map.len,
    };
    // SAFETY: One iovec describing the mapping; the kernel only reads it.
    check_len(unsafe { libc::vmsplice(fd.as_fd().as_raw_fd(), &iov, 1, 0) })
}

/// Which side of a fork(2) this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fork {
    /// The new process.
    Child,
    /// The caller, with the child's pid.
    Parent(libc::pid_t),
}

/// fork(2).
///
/// # Safety
///
/// If the process has other threads, the child must make only
/// async-signal-safe calls (no allocation, no locks) until it leaves with
/// [`exit_now`].
pub unsafe fn fork() -> Result<Fork> {
    // SAFETY: The caller vouches for what the child does.
    match check(unsafe { libc::fork() })? {
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid)),
    }
}

/// How a child ended (waitpid(2)'s status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitStatus(pub c_int);

impl WaitStatus {
    /// `WIFEXITED`: it called exit.
    pub fn exited(self) -> bool {
        libc::WIFEXITED(self.0)
    }

    /// `WEXITSTATUS`: its exit status (meaningful if it exited).
    pub fn exit_status(self) -> i32 {
        libc::WEXITSTATUS(self.0)
    }

    /// `WIFSIGNALED`: a signal killed it.
    pub fn signaled(self) -> bool {
        libc::WIFSIGNALED(self.0)
    }

    /// `WTERMSIG`: the signal that killed it.
    pub fn term_signal(self) -> i32 {
        libc::WTERMSIG(self.0)
    }
}

/// waitpid(2) for the child `pid`, until it ends.
pub fn waitpid(pid: libc::pid_t) -> Result<WaitStatus> {
    let mut st = 0;
    // SAFETY: `st` is writable.
    check(unsafe { libc::waitpid(pid, &mut st, 0) })?;
    Ok(WaitStatus(st))
}

/// _exit(2): ends the process at once, without exit handlers, destructors
/// or flushing stdout (a forked child's copy of the parent's buffers).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and takes no pointers.
    unsafe { libc::_exit(code) }
}

/// The page faults this process has taken (getrusage(2)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageFaults {
    /// Served without I/O (`ru_minflt`).
    pub minor: i64,
    /// With I/O (`ru_majflt`).
    pub major: i64,
}

/// The page faults this process has taken so far.
pub fn page_faults() -> PageFaults {
    // SAFETY: An all-zero rusage is a valid output buffer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is writable; RUSAGE_SELF cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    PageFaults {
        minor: ru.ru_minflt,
        major: ru.ru_majflt,
    }
}

/// Lets a closed pipe end the program quietly, as it does C tools
/// (`dump.r2dax DEV map 12 | head`), instead of `println!` panicking on
/// `EPIPE`: Rust programs start with `SIGPIPE` ignored.
pub fn default_sigpipe() {
    // SAFETY: Setting a signal's disposition to the default, before any
    // thread is started; no handler is involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_prints_as_io_error() {
        let e = Errno::new(libc::EEXIST);
        assert_eq!(e.to_string(), "File exists (os error 17)");
        assert_eq!(
            e.to_string(),
            io::Error::from_raw_os_error(libc::EEXIST).to_string()
        );
        assert_eq!(io::Error::from(e).raw_os_error(), Some(libc::EEXIST));
    }

    #[test]
    fn files_and_mappings() {
        let path = std::env::temp_dir().join(format!("r2dax-sys-{}", std::process::id()));
        let fd = open(&path, libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC, 0o600).unwrap();
        assert_eq!(pwrite(&fd, b"hello", 4096).unwrap(), 5);
        assert_eq!(file_size(&fd).unwrap(), 4101);
        let m = Mmap::new(
            &fd,
            4096,
            5,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
        )
        .unwrap();
        assert_eq!(m.read(1), b'e');
        m.write(0, b'j');
        m.msync(libc::MS_SYNC).unwrap();
        drop(m);
        let mut b = [0u8; 5];
        assert_eq!(pread(&fd, &mut b, 4096).unwrap(), 5);
        assert_eq!(&b, b"jello");
        ftruncate(&fd, 10).unwrap();
        assert_eq!(file_size(&fd).unwrap(), 10);
        close(fd).unwrap();
        std::fs::remove_file(&path).unwrap();
        let e = open(&path, libc::O_RDONLY, 0).unwrap_err();
        assert_eq!(e.raw(), libc::ENOENT);
        assert_eq!(
            open("a\0b", libc::O_RDONLY, 0).unwrap_err().raw(),
            libc::EINVAL
        );
    }

    #[test]
    fn pipes() {
        let (r, w) = pipe().unwrap();
        assert_eq!(write(&w, b"abc").unwrap(), 3);
        close(w).unwrap();
        let mut b = [0u8; 8];
        assert_eq!(read(&r, &mut b).unwrap(), 3);
        assert_eq!(read(&r, &mut b).unwrap(), 0);
    }
}
