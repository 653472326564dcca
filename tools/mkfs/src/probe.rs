// SPDX-License-Identifier: GPL-2.0
//! What already lives on a device, as libblkid sees it: the same probe
//! that mkfs.xfs and wipefs make (superblocks and partition tables, a full
//! probe so that ambivalent results count too). libblkid knows nearly
//! every filesystem but r2dax, which `lib.rs` checks for itself.
//!
//! The library is linked by its soname, libblkid.so.1 (Debian's libblkid1,
//! which util-linux needs), so building needs no libblkid-dev.

use std::ffi::{c_char, c_int, CStr};
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::{self, NonNull};

/// libblkid's opaque probe (`struct blkid_struct_probe`).
#[repr(C)]
struct RawProbe {
    _opaque: [u8; 0],
}

#[link(name = "libblkid.so.1", kind = "dylib", modifiers = "+verbatim")]
extern "C" {
    fn blkid_new_probe() -> *mut RawProbe;
    fn blkid_free_probe(pr: *mut RawProbe);
    fn blkid_probe_set_device(pr: *mut RawProbe, fd: c_int, off: i64, size: i64) -> c_int;
    fn blkid_probe_enable_partitions(pr: *mut RawProbe, enable: c_int) -> c_int;
    fn blkid_do_fullprobe(pr: *mut RawProbe) -> c_int;
    fn blkid_probe_lookup_value(
        pr: *mut RawProbe,
        name: *const c_char,
        data: *mut *const c_char,
        len: *mut usize,
    ) -> c_int;
}

/// What a probe found.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// No signature libblkid knows.
    Nothing,
    /// A filesystem (or other superblock: swap, RAID, LVM) of this type.
    Filesystem(String),
    /// A partition table of this type.
    PartitionTable(String),
    /// A signature that names no type.
    Unknown,
}

/// Why libblkid could not probe the device.
#[derive(Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// `blkid_new_probe` found no memory.
    OutOfMemory,
    /// `blkid_probe_set_device` failed.
    SetDevice,
    /// `blkid_probe_enable_partitions` failed.
    EnablePartitions,
    /// `blkid_do_fullprobe` failed (reading the device, most likely).
    Probe,
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeError::OutOfMemory => "out of memory",
            ProbeError::SetDevice => "cannot set up the probe",
            ProbeError::EnablePartitions => "cannot enable partition table probing",
            ProbeError::Probe => "probe failed",
        })
    }
}

impl std::error::Error for ProbeError {}

/// An owned probe; freed on drop.
struct Probe(NonNull<RawProbe>);

impl Drop for Probe {
    fn drop(&mut self) {
        // SAFETY: the pointer came from blkid_new_probe and is freed once,
        // here; nothing borrowed from it outlives `self`.
        unsafe { blkid_free_probe(self.0.as_ptr()) }
    }
}

impl Probe {
    /// The value of tag `name` ("TYPE", "PTTYPE") from the last probe.
    fn value(&self, name: &CStr) -> Option<String> {
        let mut data: *const c_char = ptr::null();
        // SAFETY: the probe is live, `name` is NUL-terminated, `data` is a
        // valid out pointer and the length is not asked for.
        let rc = unsafe {
            blkid_probe_lookup_value(self.0.as_ptr(), name.as_ptr(), &mut data, ptr::null_mut())
        };
        if rc != 0 || data.is_null() {
            return None;
        }
        // SAFETY: on success `data` points to a NUL-terminated string owned
        // by the probe, which is alive; it is copied out at once.
        Some(
            unsafe { CStr::from_ptr(data) }
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// Probes the whole of the open device `fd` for superblocks and partition
/// tables. Errors are libblkid's failures to set up or read the device.
pub fn probe(fd: BorrowedFd<'_>) -> Result<Found, ProbeError> {
    // SAFETY: no arguments; the result is checked for NULL.
    let pr = NonNull::new(unsafe { blkid_new_probe() }).ok_or(ProbeError::OutOfMemory)?;
    let pr = Probe(pr);
    // SAFETY: the probe is live and `fd` is open for the whole call and the
    // probe's life (libblkid neither closes nor keeps it past
    // blkid_free_probe); offset 0, size 0 means the whole device.
    if unsafe { blkid_probe_set_device(pr.0.as_ptr(), fd.as_raw_fd(), 0, 0) } != 0 {
        return Err(ProbeError::SetDevice);
    }
    // SAFETY: the probe is live.
    if unsafe { blkid_probe_enable_partitions(pr.0.as_ptr(), 1) } != 0 {
        return Err(ProbeError::EnablePartitions);
    }
    // SAFETY: the probe is live; it reads through the fd set above.
    match unsafe { blkid_do_fullprobe(pr.0.as_ptr()) } {
        1 => Ok(Found::Nothing),
        0 => Ok(if let Some(t) = pr.value(c"TYPE") {
            Found::Filesystem(t)
        } else if let Some(t) = pr.value(c"PTTYPE") {
            Found::PartitionTable(t)
        } else {
            Found::Unknown
        }),
        _ => Err(ProbeError::Probe),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::io::Write;
    use std::os::fd::AsFd;

    fn temp(name: &str, data: &[u8]) -> std::fs::File {
        let path = std::env::temp_dir().join(format!("r2dax-probe-{}-{name}", std::process::id()));
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        f.write_all(data).unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    #[test]
    fn zeros_hold_nothing() {
        let f = temp("zero", &vec![0u8; 1 << 20]);
        assert_eq!(probe(f.as_fd()), Ok(Found::Nothing));
    }

    #[test]
    fn finds_a_dos_partition_table() {
        let mut b = vec![0u8; 1 << 20];
        // One Linux partition (type 0x83) at sector 2048, 1024 sectors.
        b[446 + 4] = 0x83;
        b[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
        b[446 + 12..446 + 16].copy_from_slice(&1024u32.to_le_bytes());
        b[510] = 0x55;
        b[511] = 0xaa;
        let f = temp("dos", &b);
        assert_eq!(probe(f.as_fd()), Ok(Found::PartitionTable("dos".into())));
    }

    #[test]
    fn finds_an_ext2_superblock() {
        let mut b = vec![0u8; 1 << 20];
        let sb = 1024;
        b[sb..sb + 4].copy_from_slice(&128u32.to_le_bytes()); // inodes
        b[sb + 4..sb + 8].copy_from_slice(&1024u32.to_le_bytes()); // blocks
        b[sb + 32..sb + 36].copy_from_slice(&8192u32.to_le_bytes()); // blocks per group
        b[sb + 40..sb + 44].copy_from_slice(&128u32.to_le_bytes()); // inodes per group
        b[sb + 56..sb + 58].copy_from_slice(&0xef53u16.to_le_bytes()); // magic
        let f = temp("ext2", &b);
        assert_eq!(probe(f.as_fd()), Ok(Found::Filesystem("ext2".into())));
    }
}
