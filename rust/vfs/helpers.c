// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for r2dax, see helpers.h. This file must not define
 * module_init/module_exit: the Rust crate root owns them.
 */
#include <linux/blkdev.h>
#include <linux/buffer_head.h>
#include <linux/fs.h>
#include <linux/slab.h>

#include "helpers.h"

struct buffer_head *r2dax_sb_bread(struct super_block *sb, sector_t block)
{
	return sb_bread(sb, block);
}

loff_t r2dax_bdev_nr_bytes(struct block_device *bdev)
{
	return bdev_nr_bytes(bdev);
}

struct kmem_cache *r2dax_kmem_cache_create(const char *name, unsigned int size,
					   unsigned int align,
					   void (*ctor)(void *))
{
	return kmem_cache_create(name, size, align,
				 SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT, ctor);
}

void *r2dax_alloc_inode_sb(struct super_block *sb, struct kmem_cache *cache)
{
	return alloc_inode_sb(sb, cache, GFP_KERNEL);
}

void r2dax_inode_set_ops(struct inode *inode, const struct inode_operations *iop,
			 const struct file_operations *fop,
			 const struct address_space_operations *aops)
{
	inode->i_op = iop;
	inode->i_fop = fop;
	if (aops)
		inode->i_mapping->a_ops = aops;
}

void r2dax_inode_set_link(struct inode *inode, char *link)
{
	inode->i_link = link;
}

void r2dax_inode_set_ids(struct inode *inode, u32 uid, u32 gid)
{
	i_uid_write(inode, uid);
	i_gid_write(inode, gid);
}

u32 r2dax_inode_uid(const struct inode *inode)
{
	return i_uid_read(inode);
}

u32 r2dax_inode_gid(const struct inode *inode)
{
	return i_gid_read(inode);
}

void r2dax_inode_set_size(struct inode *inode, loff_t size)
{
	i_size_write(inode, size);
}

loff_t r2dax_inode_size(const struct inode *inode)
{
	return i_size_read(inode);
}

void r2dax_inode_set_times(struct inode *inode, s64 a, u32 a_ns, s64 m, u32 m_ns,
			   s64 c, u32 c_ns)
{
	inode_set_atime(inode, a, a_ns);
	inode_set_mtime(inode, m, m_ns);
	inode_set_ctime(inode, c, c_ns);
}

bool r2dax_dir_emit_dots(struct file *file, struct dir_context *ctx)
{
	return dir_emit_dots(file, ctx);
}

bool r2dax_dir_emit(struct dir_context *ctx, const char *name, int len, u64 ino,
		    unsigned int type)
{
	return dir_emit(ctx, name, len, ino, type);
}

struct inode *r2dax_file_inode(struct file *file)
{
	return file_inode(file);
}

const unsigned char *r2dax_dentry_name(const struct dentry *dentry, u32 *len)
{
	*len = dentry->d_name.len;
	return dentry->d_name.name;
}
