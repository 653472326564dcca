// SPDX-License-Identifier: GPL-2.0
//! CRC-32C through the kernel's CRC library: `__crc32c_le()`
//! (`lib/crc32.c`, `<linux/crc32.h>`), which the on-disk format uses for
//! every checksum (`ondisk::crc32c_update` calls this in the module; the
//! host tools compute the same function in software).
//!
//! Why not `crc32c()` (`lib/libcrc32c.c`): in 6.12 that one goes through a
//! crypto shash (a descriptor on the stack, an indirect call into the
//! chosen driver) on every call, and every checksum of the format covers a
//! short record (a directory entry, an inode copy, a group descriptor, the
//! superblock), where that setup costs more than the CRC itself (`make
//! bench` B7 measures it on create and rename: `bench.rst`, "Before and
//! after the layer redesign"). `__crc32c_le()` is the library function
//! itself, replaced by the architecture's CRC instructions where there are
//! any (arm64, riscv, ...); it is what `crc32c()` became upstream in 6.15,
//! when the shash detour went away.

use super::raw;

/// Continues a CRC-32C over `data` from the raw state `crc`: no inversion
/// on entry or exit, as `__crc32c_le(seed, buf, len)` in C (a whole
/// checksum is `!crc32c_update(!0, data)`).
pub(crate) fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    // SAFETY: `data` is valid for reads of `data.len()` bytes (a `size_t`
    // in C, `usize` here). `__crc32c_le()` only reads them, before it
    // returns, and has no other precondition; it does not sleep.
    unsafe { raw::__crc32c_le(crc, data.as_ptr(), data.len()) }
}
