// SPDX-License-Identifier: GPL-2.0
//! Raw C bindings: everything `kernel::bindings` has, plus r2dax's own
//! bindgen output for the headers the kernel crate lacks.
//!
//! Items generated here shadow the glob-imported kernel ones. Only opaque
//! forward declarations on the kernel side (`fs_context`, `fs_parameter`,
//! `buffer_head`, `iomap_ops`) are ever shadowed, because the bindgen run
//! uses `--no-recursive-allowlist`; every other type (inode, super_block,
//! ...) stays the kernel crate's type. Kernel structs that point at one of
//! the shadowed opaque types need a pointer cast at the boundary.
#![allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    missing_docs,
    unreachable_pub,
    improper_ctypes,
    unsafe_op_in_unsafe_fn,
    unnecessary_transmutes,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]

use kernel::ffi;

pub(crate) use kernel::bindings::*;

include!("bindings_generated.rs");
