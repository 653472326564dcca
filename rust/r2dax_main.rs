// SPDX-License-Identifier: GPL-2.0
//! r2dax: an ext2-like filesystem for persistent memory with per-inode DAX
//! that switches live inodes safely.
//!
//! This is the crate root of `r2dax.ko`. The layout follows fs/ext2: one
//! VFS role per file (`super.rs`, `inode.rs`, `dir.rs`, ...), on top
//! of the FFI layer in `vfs/`, the only code here that is not safe Rust.

use kernel::prelude::*;

mod vfs;

/// The on-disk format: the same source file the host tools compile.
#[path = "../format/src/ondisk.rs"]
#[allow(dead_code, unreachable_pub)]
mod ondisk;

/// The tools' Rust view of the private ioctls' ABI, compiled in the same
/// way. The module itself takes the ABI from the C uapi header
/// (include/uapi/linux/r2dax.h, [`vfs::uapi`]); `dax` checks at build time
/// that both agree.
#[path = "../format/src/ioctl.rs"]
#[allow(dead_code, unreachable_pub)]
mod ioctl;

mod alloc;
mod dax;
mod dir;
mod dir_index;
mod export;
mod file;
mod inode;
mod iomap;
mod namei;
mod orphan;
mod shift;
#[path = "super.rs"]
mod super_;
mod xattr;

module! {
    type: R2daxModule,
    name: "r2dax",
    author: "The r2dax developers",
    description: "ext2-like filesystem for persistent memory with per-inode DAX",
    license: "GPL",
    alias: ["fs-r2dax"],
}

/// The filesystem type, in static memory as lockdep requires.
static R2DAX_FS_TYPE: vfs::fs::FsType<super_::R2dax> = vfs::fs::FsType::new();

struct R2daxModule {
    _fs: vfs::fs::Registration<super_::R2dax>,
    _faults: vfs::fault::Registration,
}

impl kernel::Module for R2daxModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let fs = vfs::fs::Registration::register(&R2DAX_FS_TYPE, module)?;
        pr_info!(
            "filesystem type registered (format {}.{})\n",
            ondisk::VERSION_MAJOR,
            ondisk::VERSION_MINOR
        );
        Ok(R2daxModule {
            _fs: fs,
            _faults: vfs::fault::Registration::new(),
        })
    }
}
