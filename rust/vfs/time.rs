// SPDX-License-Identifier: GPL-2.0
//! Wall-clock time.

use super::raw;

/// Seconds since the epoch (`ktime_get_real_seconds`).
pub(crate) fn real_seconds() -> i64 {
    // SAFETY: Reads the timekeeping state; callable from any context.
    unsafe { raw::ktime_get_real_seconds() }
}
