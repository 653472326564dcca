// SPDX-License-Identifier: GPL-2.0
//! CRC-32C through the kernel's library: `crc32c()` (`lib/libcrc32c.c`,
//! `CONFIG_LIBCRC32C`), which the on-disk format uses for every checksum
//! (`ondisk::crc32c_update` calls this in the module; the host tools
//! compute the same function in software).

use super::raw;
use kernel::ffi::c_uint;

/// Continues a CRC-32C over `data` from the raw state `crc`: no inversion
/// on entry or exit, as `crc32c(seed, buf, len)` in C (a whole checksum is
/// `!crc32c_update(!0, data)`).
pub(crate) fn crc32c_update(mut crc: u32, data: &[u8]) -> u32 {
    // `crc32c()` takes an `unsigned int` length. Continuing the CRC piece
    // by piece gives the same result; a checksummed record is at most a
    // block, one piece.
    for piece in data.chunks(c_uint::MAX as usize) {
        // SAFETY: `piece` is valid for reads of `piece.len()` bytes, which
        // fits in `unsigned int`. `crc32c()` only reads them, before it
        // returns, and has no other precondition; it does not sleep.
        crc = unsafe { raw::crc32c(crc, piece.as_ptr().cast(), piece.len() as c_uint) };
    }
    crc
}
