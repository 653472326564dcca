// SPDX-License-Identifier: GPL-2.0
//! Error codes that `kernel::error::code` does not have in 6.12.

use super::raw;
use kernel::error::Error;

fn errno(e: u32) -> Error {
    // Errno constants are small positive numbers; the cast cannot wrap.
    Error::from_errno(-(e as i32))
}

/// `EUCLEAN`: the filesystem is corrupt ("Structure needs cleaning").
pub(crate) fn euclean() -> Error {
    errno(raw::EUCLEAN)
}

/// `ENAMETOOLONG`: a name is longer than the filesystem allows.
pub(crate) fn enametoolong() -> Error {
    errno(raw::ENAMETOOLONG)
}

/// `ENOTEMPTY`: a directory is not empty.
pub(crate) fn enotempty() -> Error {
    errno(raw::ENOTEMPTY)
}

/// `EOPNOTSUPP`: operation not supported.
pub(crate) fn eopnotsupp() -> Error {
    errno(raw::EOPNOTSUPP)
}

/// `ENODATA`: no such extended attribute.
pub(crate) fn enodata() -> Error {
    errno(raw::ENODATA)
}

/// `ESTALE`: a file handle names an inode that is gone.
pub(crate) fn estale() -> Error {
    errno(raw::ESTALE)
}

/// `ERR_PTR`: an errno encoded in a pointer, for callbacks that return
/// one (`lookup`, `get_inode_acl`, the export operations).
pub(super) fn err_ptr<U>(e: Error) -> *mut U {
    e.to_errno() as isize as *mut U
}
