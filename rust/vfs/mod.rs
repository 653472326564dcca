// SPDX-License-Identifier: GPL-2.0
//! The VFS layer: r2dax's only interface to the C kernel.
//!
//! The 6.12 kernel crate has no filesystem abstractions, so r2dax carries
//! its own, in the spirit of Wedson Almeida Filho's VFS series: a
//! [`fs::FileSystem`] trait from which `const` C operation tables are built
//! ([`fs::Tables`], one file per C object), and thin wrappers
//! ([`sb::SuperBlock`], [`inode::INode`], [`buffer::Buffer`]) that state
//! their invariants.
//!
//! Every `unsafe` block of the module lives under this directory and has a
//! `// SAFETY:` comment. The filesystem code above it is safe Rust.

pub(crate) mod aops;
pub(crate) mod buffer;
pub(crate) mod crc;
pub(crate) mod dax_device;
pub(crate) mod dax_holder;
pub(crate) mod dax_mode;
pub(crate) mod errno;
pub(crate) mod export;
pub(crate) mod fault;
pub(crate) mod file_ops;
pub(crate) mod fs;
pub(crate) mod fs_context;
pub(crate) mod inode_ops;
pub(crate) mod iomap_ops;
pub(crate) mod lock;
pub(crate) mod options;
pub(crate) mod orphan_list;
pub(crate) mod poison;
pub(crate) mod print;
pub(crate) mod raw;
pub(crate) mod sb;
pub(crate) mod sb_work;
pub(crate) mod shutdown;
pub(crate) mod super_ops;
pub(crate) mod time;
pub(crate) mod uapi;
pub(crate) mod vfs_inode;
pub(crate) mod vm_ops;
pub(crate) mod xattr;
