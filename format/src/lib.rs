// SPDX-License-Identifier: GPL-2.0
//! The r2dax on-disk format for the host tools.
//!
//! The definitions live in [`ondisk`] (`format/src/ondisk.rs`) and [`ioctl`]
//! (`format/src/ioctl.rs`), files with no crate attributes and no
//! dependencies beyond `core`, so that the kernel module compiles the very
//! same files with `#[path = "../format/src/ondisk.rs"] mod ondisk;` (and
//! likewise `ioctl`) in `rust/r2dax_main.rs`.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod ioctl;
pub mod ondisk;
pub use ondisk::*;

#[cfg(test)]
mod tests;
