// SPDX-License-Identifier: GPL-2.0
//! The r2dax on-disk format for the host tools.
//!
//! The definitions live in [`ondisk`] (`src/ondisk.rs`), a file with no crate
//! attributes and no dependencies beyond `core`, so that the kernel module
//! compiles the very same file with `#[path = ...] mod ondisk;`.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod ioctl;
pub mod ondisk;
pub use ondisk::*;

#[cfg(test)]
mod tests;
