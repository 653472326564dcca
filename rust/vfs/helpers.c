// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for r2dax, see helpers.h. This file must not define
 * module_init/module_exit: the Rust crate root owns them.
 */
#include <linux/blkdev.h>
#include <linux/buffer_head.h>
#include <linux/fs.h>

#include "helpers.h"

struct buffer_head *r2dax_sb_bread(struct super_block *sb, sector_t block)
{
	return sb_bread(sb, block);
}

loff_t r2dax_bdev_nr_bytes(struct block_device *bdev)
{
	return bdev_nr_bytes(bdev);
}
