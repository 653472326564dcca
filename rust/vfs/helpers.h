/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers for r2dax: static inline functions and macros of the kernel
 * headers that Rust cannot call directly. Each is a one-line forwarder;
 * the Rust side sees them through the module's own bindgen run
 * (rust/vfs/bindings_generated.rs) as raw::r2dax_<name>.
 */
#ifndef R2DAX_HELPERS_H
#define R2DAX_HELPERS_H

#include <linux/types.h>

struct block_device;
struct buffer_head;
struct super_block;

struct buffer_head *r2dax_sb_bread(struct super_block *sb, sector_t block);
loff_t r2dax_bdev_nr_bytes(struct block_device *bdev);

#endif /* R2DAX_HELPERS_H */
