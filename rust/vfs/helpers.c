// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for r2dax, see helpers.h. This file must not define
 * module_init/module_exit: the Rust crate root owns them.
 */
#include <linux/blkdev.h>
#include <linux/buffer_head.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/uio.h>
#include <linux/fileattr.h>
#include <linux/fs_context.h>
#include <linux/seq_file.h>
#include <linux/dax.h>
#include <linux/wait_bit.h>
#include <linux/jiffies.h>
#include <linux/debugfs.h>
#include <linux/migrate.h>
#include <linux/workqueue.h>
#include <linux/writeback.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/xattr.h>
#include <linux/security.h>
#include <linux/capability.h>
#include <linux/fiemap.h>

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

const unsigned char *r2dax_dentry_name(const struct dentry *dentry, u32 *len)
{
	*len = dentry->d_name.len;
	return dentry->d_name.name;
}

struct buffer_head *r2dax_sb_getblk_zeroed(struct super_block *sb, sector_t block)
{
	struct buffer_head *bh = sb_getblk(sb, block);

	if (!bh)
		return NULL;
	lock_buffer(bh);
	memset(bh->b_data, 0, bh->b_size);
	set_buffer_uptodate(bh);
	unlock_buffer(bh);
	return bh;
}

int r2dax_sb_zeroout(struct super_block *sb, sector_t block, sector_t count)
{
	unsigned int shift = sb->s_blocksize_bits - SECTOR_SHIFT;
	loff_t start = (loff_t)block << sb->s_blocksize_bits;
	sector_t i;
	int err;

	/*
	 * A block that was metadata before may still have a dirty buffer (a
	 * write of it failed and is kept for writeback, see Buffer::sync):
	 * forget it, or writeback would later overwrite the file data that
	 * goes around the buffer cache into the block. Most new data blocks
	 * have no page in the device's cache at all: one range lookup, and
	 * the per-block lookups only when it finds something.
	 */
	if (filemap_range_has_page(sb->s_bdev->bd_mapping, start,
				   start + ((loff_t)count << sb->s_blocksize_bits) - 1)) {
		for (i = 0; i < count; i++) {
			struct buffer_head *bh =
				__find_get_block(sb->s_bdev, block + i, sb->s_blocksize);

			if (bh)
				bforget(bh);
		}
	}

	err = blkdev_issue_zeroout(sb->s_bdev, block << shift, count << shift,
				   GFP_NOFS, BLKDEV_ZERO_NOUNMAP);
	if (err)
		return err;
	/* Drop clean cached copies so the device's page cache is not stale. */
	invalidate_mapping_pages(sb->s_bdev->bd_mapping, start >> PAGE_SHIFT,
				 (start + ((loff_t)count << sb->s_blocksize_bits) - 1) >>
					 PAGE_SHIFT);
	return 0;
}

void r2dax_lock_buffer(struct buffer_head *bh)
{
	lock_buffer(bh);
}

void r2dax_unlock_buffer(struct buffer_head *bh)
{
	unlock_buffer(bh);
}

void r2dax_mark_inode_dirty(struct inode *inode)
{
	mark_inode_dirty(inode);
}

u32 r2dax_inode_nlink(const struct inode *inode)
{
	return inode->i_nlink;
}

/* t[0..3] = atime, mtime, ctime seconds; ns[0..3] the nanoseconds. */
void r2dax_inode_get_times(const struct inode *inode, s64 *t, u32 *ns)
{
	struct timespec64 a = inode_get_atime(inode);
	struct timespec64 m = inode_get_mtime(inode);
	struct timespec64 c = inode_get_ctime(inode);

	t[0] = a.tv_sec; ns[0] = a.tv_nsec;
	t[1] = m.tv_sec; ns[1] = m.tv_nsec;
	t[2] = c.tv_sec; ns[2] = c.tv_nsec;
}

/* Sets mtime and ctime to now (for directory changes). */
u64 r2dax_current_time(struct inode *inode)
{
	struct timespec64 now = inode_set_ctime_current(inode);

	inode_set_mtime_to_ts(inode, now);
	return now.tv_sec;
}

bool r2dax_is_bad_inode(struct inode *inode)
{
	return is_bad_inode(inode);
}

/*
 * setattr for attributes that need no help from the filesystem (mode,
 * owner, times): checks permissions, applies them, marks the inode dirty.
 * Reports whether a size change was asked for instead of applying it.
 */
int r2dax_setattr_simple(struct mnt_idmap *idmap, struct dentry *dentry,
			 struct iattr *attr, bool *size_change)
{
	struct inode *inode = d_inode(dentry);
	int err = setattr_prepare(idmap, dentry, attr);

	if (err)
		return err;
	/*
	 * A truncate of a regular file to its current size still goes to the
	 * filesystem, which frees the blocks beyond the size (as ext4 and xfs).
	 */
	*size_change = (attr->ia_valid & ATTR_SIZE) &&
		       (attr->ia_size != i_size_read(inode) || S_ISREG(inode->i_mode));
	if (*size_change)
		return 0;
	setattr_copy(idmap, inode, attr);
	mark_inode_dirty(inode);
	return 0;
}

void r2dax_inode_lock(struct inode *inode)
{
	inode_lock(inode);
}

void r2dax_inode_unlock(struct inode *inode)
{
	inode_unlock(inode);
}

ssize_t r2dax_generic_write_sync(struct kiocb *iocb, ssize_t count)
{
	return generic_write_sync(iocb, count);
}

void r2dax_file_accessed(struct file *file)
{
	file_accessed(file);
}

void r2dax_vma_set_ops(struct vm_area_struct *vma,
		       const struct vm_operations_struct *ops)
{
	vma->vm_ops = ops;
}

/* A reference to the file of a VMA that is live (fault entry). */
struct file *r2dax_vma_get_file(struct vm_area_struct *vma)
{
	return get_file(vma->vm_file);
}

void r2dax_fput(struct file *file)
{
	fput(file);
}

void r2dax_invalidate_lock(struct inode *inode)
{
	filemap_invalidate_lock(inode->i_mapping);
}

void r2dax_invalidate_unlock(struct inode *inode)
{
	filemap_invalidate_unlock(inode->i_mapping);
}

void r2dax_invalidate_lock_shared(struct inode *inode)
{
	filemap_invalidate_lock_shared(inode->i_mapping);
}

void r2dax_invalidate_unlock_shared(struct inode *inode)
{
	filemap_invalidate_unlock_shared(inode->i_mapping);
}

void r2dax_sb_start_pagefault(struct super_block *sb)
{
	sb_start_pagefault(sb);
}

void r2dax_sb_end_pagefault(struct super_block *sb)
{
	sb_end_pagefault(sb);
}

bool r2dax_sb_start_intwrite_trylock(struct super_block *sb)
{
	return sb_start_intwrite_trylock(sb);
}

void r2dax_sb_end_intwrite(struct super_block *sb)
{
	sb_end_intwrite(sb);
}

void r2dax_inode_lock_shared(struct inode *inode)
{
	inode_lock_shared(inode);
}

void r2dax_inode_unlock_shared(struct inode *inode)
{
	inode_unlock_shared(inode);
}

size_t r2dax_iov_iter_count(const struct iov_iter *i)
{
	return iov_iter_count(i);
}

bool r2dax_fileattr_has_fsx(const struct fileattr *fa)
{
	return fileattr_has_fsx(fa);
}

void r2dax_seq_puts(struct seq_file *m, const char *s)
{
	seq_puts(m, s);
}

/* The message fs_parse() gives for a bad value, and EINVAL. */
int r2dax_fc_bad_value(struct fs_context *fc, const char *key)
{
	return invalf(fc, "%s: Bad value for '%s'", fc->fs_type->name, key);
}

/* One lockdep class for every inode's DAX mode lock. */
void r2dax_mode_lock_init(struct rw_semaphore *sem)
{
	init_rwsem(sem);
}

unsigned long r2dax_vma_flags(const struct vm_area_struct *vma)
{
	return vma->vm_flags;
}

struct vm_area_struct *r2dax_vmf_vma(const struct vm_fault *vmf)
{
	return vmf->vma;
}

bool r2dax_daxdev_mapping_supported(struct vm_area_struct *vma,
				    struct dax_device *dax_dev)
{
	return daxdev_mapping_supported(vma, dax_dev);
}

bool r2dax_is_dax(const struct inode *inode)
{
	return IS_DAX(inode);
}

bool r2dax_mapping_empty(struct address_space *mapping)
{
	return mapping_empty(mapping);
}

bool r2dax_folio_is_zone_device(const struct folio *folio)
{
	return folio_is_zone_device(folio);
}

bool r2dax_inode_trylock(struct inode *inode)
{
	return inode_trylock(inode);
}

bool r2dax_inode_trylock_shared(struct inode *inode)
{
	return inode_trylock_shared(inode);
}

int r2dax_filemap_write_and_wait(struct address_space *mapping)
{
	return filemap_write_and_wait(mapping);
}

/* Declared in linux/pagemap.h, which the kernel crate's bindings lack. */
int r2dax_filemap_write_and_wait_range(struct address_space *mapping, loff_t start, loff_t end)
{
	return filemap_write_and_wait_range(mapping, start, end);
}

int r2dax_invalidate_inode_pages2(struct address_space *mapping)
{
	return invalidate_inode_pages2(mapping);
}

/* Whether a page-cache folio of @mapping may be pinned for DMA. */
bool r2dax_mapping_pinned(struct address_space *mapping)
{
	XA_STATE(xas, &mapping->i_pages, 0);
	struct folio *folio;
	bool pinned = false;

	rcu_read_lock();
	xas_for_each(&xas, folio, ULONG_MAX) {
		if (xas_retry(&xas, folio) || xa_is_value(folio))
			continue;
		if (folio_maybe_dma_pinned(folio)) {
			pinned = true;
			break;
		}
	}
	rcu_read_unlock();
	return pinned;
}

bool r2dax_noop_dirty_folio(struct address_space *mapping, struct folio *folio)
{
	return noop_dirty_folio(mapping, folio);
}

int r2dax_flush_device(struct super_block *sb)
{
	return blkdev_issue_flush(sb->s_bdev);
}

/*
 * Whether metadata of a filesystem on @bdev may be stored through the DAX
 * device instead of a bio (r2dax_write_buffer_dax). Not on a device-mapper
 * device: its targets act on the bios they receive (dm-log-writes records
 * them, for crash replay), and a store through the DAX device, which dm
 * forwards to the device below, would pass them by unseen. Every
 * device-mapper disk is named dm-N (dm.c, alloc_dev); the other DAX-capable
 * block drivers of 6.12 (pmem, dcssblk) are the memory itself.
 */
bool r2dax_bdev_meta_via_dax(struct block_device *bdev)
{
	return strncmp(bdev->bd_disk->disk_name, "dm-", 3) != 0;
}

/*
 * A shut-down filesystem's change to a buffer stays in memory: nothing
 * (writeback of the block device, sync_blockdev at unmount) may write it.
 */
void r2dax_buffer_forget_change(struct buffer_head *bh)
{
	lock_buffer(bh);
	clear_buffer_dirty(bh);
	unlock_buffer(bh);
}

/*
 * At the unmount of a shut-down filesystem (put_super, before
 * kill_block_super's sync_blockdev): drops the block device's page cache,
 * dirty buffers included, so that neither sync_blockdev nor a later reader
 * of the device meets metadata that was changed in memory but never
 * written (what a buffer held when an operation failed at the shutdown).
 */
void r2dax_bdev_discard_cache(struct super_block *sb)
{
	truncate_inode_pages(sb->s_bdev->bd_mapping, 0);
}

/*
 * After a failed write of @bh (sync_dirty_buffer cleared its dirty and
 * uptodate bits): its contents are still what the filesystem wrote, so
 * they are marked up to date and dirty again, for writeback to retry.
 */
void r2dax_buffer_keep(struct buffer_head *bh)
{
	lock_buffer(bh);
	set_buffer_uptodate(bh);
	unlock_buffer(bh);
	mark_buffer_dirty(bh);
}

/*
 * Writes buffer @bh of a block device whose DAX device is @dax_dev (the
 * block device starting @part_off bytes into it) straight into persistent
 * memory, as the pmem driver itself would for a bio, but without building,
 * submitting and waiting for one: this is the synchronous metadata write
 * of every r2dax operation (Buffer::sync). The buffer lock is held across
 * the copy, as writeback holds it across its I/O, so the media gets the
 * contents of one moment and a concurrent writeback of the same buffer
 * either wrote them already (the buffer is clean) or waits. The copy uses
 * non-temporal stores (memcpy_flushcache, as pmem_do_write); the fence
 * orders them before anything the caller writes next, which is what the
 * crash rules rely on. Durability against power loss is the same as a
 * REQ_SYNC bio to pmem, which the next device flush (fsync) completes.
 *
 * Returns 0 when the buffer is on the media (written now, or already
 * clean), 1 when the DAX device cannot map the block (poisoned, going away,
 * or an odd geometry): the caller then writes it through the block layer,
 * which also clears poison.
 */
int r2dax_write_buffer_dax(struct buffer_head *bh, struct dax_device *dax_dev,
			   u64 part_off)
{
	u64 off = part_off + (u64)bh->b_blocknr * bh->b_size;
	void *kaddr;
	long avail;
	int id, ret = 0;

	if (bh->b_size != PAGE_SIZE || offset_in_page(off))
		return 1;
	lock_buffer(bh);
	id = dax_read_lock();
	avail = dax_direct_access(dax_dev, off >> PAGE_SHIFT, 1, DAX_ACCESS,
				  &kaddr, NULL);
	if (avail < 1) {
		ret = 1;
	} else if (test_clear_buffer_dirty(bh)) {
		memcpy_flushcache(kaddr, bh->b_data, bh->b_size);
		wmb();
	}
	dax_read_unlock(id);
	unlock_buffer(bh);
	return ret;
}

/*
 * Installs @aops as the mapping's operations (a DAX mode switch, under the
 * inode lock, the invalidate lock and the mode lock). Readers that look
 * at a_ops without those locks (writeback, folio_mark_dirty) find either
 * table; both point to the same writepages and dirty_folio.
 */
void r2dax_mapping_set_aops(struct address_space *mapping,
			    const struct address_space_operations *aops)
{
	WRITE_ONCE(mapping->a_ops, aops);
}

/*
 * Whether khugepaged and MADV_COLLAPSE may collapse the page cache of a
 * read-only file mapping (they read the range in with only a reference to
 * the file; see dax.rst, "Every way into the mapping").
 */
bool r2dax_collapse_possible(void)
{
	return IS_ENABLED(CONFIG_READ_ONLY_THP_FOR_FS);
}

/*
 * r2dax's regular files use ->private_data only for this mark: the file
 * has had a page-cache mapping while open read-only. Returns true the
 * first time.
 */
#define R2DAX_FILE_MAPPED ((void *)1UL)

bool r2dax_file_mark_mapped(struct file *file)
{
	return cmpxchg(&file->private_data, NULL, R2DAX_FILE_MAPPED) == NULL;
}

bool r2dax_file_marked(struct file *file)
{
	return READ_ONCE(file->private_data) == R2DAX_FILE_MAPPED;
}

/*
 * Fault injection for the test suite: debugfs r2dax/fail_<point> holds N;
 * the Nth call of that point from the moment N was written fails (one
 * failure, then N stays 0). r2dax/injected counts the failures injected.
 * The points are those of fault.rs (FaultPoint), in that order.
 */
static const char *const r2dax_fault_names[] = {
	"fail_meta_write",	/* Buffer::sync: a synchronous metadata write */
	"fail_zero",		/* SuperBlock::zero_blocks: zeroing new blocks */
};
static atomic_t r2dax_fault_countdown[ARRAY_SIZE(r2dax_fault_names)];
static atomic_t r2dax_fault_injected;
static struct dentry *r2dax_fault_dir;

void r2dax_fault_init(void)
{
	unsigned int i;

	r2dax_fault_dir = debugfs_create_dir("r2dax", NULL);
	for (i = 0; i < ARRAY_SIZE(r2dax_fault_names); i++)
		debugfs_create_atomic_t(r2dax_fault_names[i], 0600, r2dax_fault_dir,
					&r2dax_fault_countdown[i]);
	debugfs_create_atomic_t("injected", 0400, r2dax_fault_dir,
				&r2dax_fault_injected);
}

void r2dax_fault_exit(void)
{
	debugfs_remove(r2dax_fault_dir);
}

bool r2dax_fault_hit(unsigned int point)
{
	atomic_t *c;

	if (point >= ARRAY_SIZE(r2dax_fault_names))
		return false;
	c = &r2dax_fault_countdown[point];
	if (likely(atomic_read(c) <= 0) || atomic_dec_if_positive(c) != 0)
		return false;
	atomic_inc(&r2dax_fault_injected);
	pr_info("r2dax: injected failure (%s)\n", r2dax_fault_names[point]);
	return true;
}

/*
 * One lockdep class for the background work of every r2dax superblock
 * (INIT_DELAYED_WORK is a macro with a static key per call site).
 */
void r2dax_init_delayed_work(struct delayed_work *dwork,
			     void (*fn)(struct work_struct *))
{
	INIT_DELAYED_WORK(dwork, fn);
}

/*
 * Queues the work on system_long_wq (it may sleep for a while: a mode
 * switch waits up to 100 ms for pinned pages) to run after @delay
 * jiffies. @sooner moves a run that is queued for later to @delay from
 * now; otherwise a queued run keeps its time. A disabled work is left
 * alone.
 */
void r2dax_queue_delayed_work(struct delayed_work *dwork, unsigned long delay,
			      bool sooner)
{
	if (sooner)
		mod_delayed_work(system_long_wq, dwork, delay);
	else
		queue_delayed_work(system_long_wq, dwork, delay);
}

/*
 * Calls @fn for every inode of @sb that is in the inode hash and not
 * being freed, holding a reference, once it is no longer I_NEW; stops at
 * the first nonzero return, which it returns. @fn may sleep and take
 * inode locks; it runs with no lock held.
 *
 * The walk is drop_pagecache_sb()'s (fs/drop_caches.c), with two
 * differences that matter to a caller that changed something the inodes
 * read while I_NEW (the dax= mode):
 *
 * - I_NEW inodes are visited too, after wait_on_inode() (as ilookup()
 *   does): one being read in or created may have read the old value.
 *   If its set-up failed (iget_failed() unhashes it) it is skipped.
 * - Inodes not in the hash are skipped. new_inode() puts an inode on
 *   s_inodes before the filesystem numbers and hashes it
 *   (insert_inode_locked(), under i_lock); r2dax reads what an inode
 *   depends on only after that. So an inode this walk skips as unhashed
 *   (under i_lock) is hashed after it, and reads whatever the caller
 *   stored before the walk; likewise one added to s_inodes after the
 *   walk passed the head (under s_inode_list_lock, iget_locked()).
 *
 * The reference keeps the inode on s_inodes, so the walk can go on from
 * it after retaking s_inode_list_lock; the previous inode's reference is
 * dropped outside the lock (iput() may evict).
 */
int r2dax_sb_for_each_inode(struct super_block *sb,
			    int (*fn)(struct inode *inode, void *arg), void *arg)
{
	struct inode *inode, *toput = NULL;
	int err = 0;

	spin_lock(&sb->s_inode_list_lock);
	list_for_each_entry(inode, &sb->s_inodes, i_sb_list) {
		spin_lock(&inode->i_lock);
		if ((inode->i_state & (I_FREEING | I_WILL_FREE)) ||
		    inode_unhashed(inode)) {
			spin_unlock(&inode->i_lock);
			continue;
		}
		__iget(inode);
		spin_unlock(&inode->i_lock);
		spin_unlock(&sb->s_inode_list_lock);

		iput(toput);
		toput = inode;
		wait_on_inode(inode);
		if (!inode_unhashed(inode))
			err = fn(inode, arg);
		cond_resched();
		spin_lock(&sb->s_inode_list_lock);
		if (err)
			break;
	}
	spin_unlock(&sb->s_inode_list_lock);
	iput(toput);
	return err;
}

/*
 * Which superblock holds which DAX device (fs_dax_get_by_bdev with a
 * holder): the DAX core hands a holder's notify_failure() only the
 * dax_device, and calls it under its SRCU read lock, which a superblock
 * being torn down cannot wait for (synchronize_srcu on dax_srcu is not
 * exported). So the holder's notification looks its superblock up here,
 * under the xarray's lock, and takes an active reference before the lock
 * goes: a superblock is removed from the table (r2dax_dax_holder_del, at
 * kill_sb) before it is freed, and one whose s_active reached zero is
 * being unmounted and not handed out.
 *
 * Keyed by the dax_device's address: the DAX core lets one holder at a
 * time register (a cmpxchg on holder_data), so a key has one superblock.
 */
static DEFINE_XARRAY(r2dax_dax_holders);

int r2dax_dax_holder_add(struct dax_device *dax_dev, struct super_block *sb)
{
	return xa_insert(&r2dax_dax_holders, (unsigned long)dax_dev, sb,
			 GFP_KERNEL);
}

void r2dax_dax_holder_del(struct dax_device *dax_dev)
{
	xa_erase(&r2dax_dax_holders, (unsigned long)dax_dev);
}

/*
 * The superblock holding @dax_dev with an active reference (drop it with
 * deactivate_super), or NULL if there is none or it is not mounted yet
 * (not SB_BORN: fill_super has not returned) or being unmounted.
 */
struct super_block *r2dax_dax_holder_get(struct dax_device *dax_dev)
{
	struct super_block *sb;

	xa_lock(&r2dax_dax_holders);
	sb = xa_load(&r2dax_dax_holders, (unsigned long)dax_dev);
	if (sb && (!(READ_ONCE(sb->s_flags) & SB_BORN) ||
		   !atomic_inc_not_zero(&sb->s_active)))
		sb = NULL;
	xa_unlock(&r2dax_dax_holders);
	/* Pairs with the smp_wmb() before vfs_get_tree() sets SB_BORN. */
	smp_rmb();
	return sb;
}

/*
 * Extended attributes (xattr.rs). s_xattr and SB_POSIXACL are set once,
 * in fill_super, before the superblock is live.
 */
void r2dax_sb_set_xattr(struct super_block *sb,
			const struct xattr_handler *const *handlers)
{
	sb->s_xattr = handlers;
	sb->s_flags |= SB_POSIXACL;
}

/*
 * An ACL as stored on disk: the uapi xattr format with ids as the initial
 * user namespace sees them (what ext2 stores). posix_acl_from_xattr only
 * checks the tags; the entries' order and uniqueness are checked here too,
 * as the value comes from the disk. Returns NULL for an ACL without
 * entries, an ERR_PTR for an invalid one.
 */
struct posix_acl *r2dax_acl_from_disk(const void *value, size_t size)
{
	struct posix_acl *acl = posix_acl_from_xattr(&init_user_ns, value, size);
	int err;

	if (IS_ERR_OR_NULL(acl))
		return acl;
	err = posix_acl_valid(&init_user_ns, acl);
	if (err) {
		posix_acl_release(acl);
		return ERR_PTR(err);
	}
	return acl;
}

/* The on-disk form of acl; with buf NULL, its size. */
int r2dax_acl_to_xattr(const struct posix_acl *acl, void *buf, size_t size)
{
	return posix_acl_to_xattr(&init_user_ns, acl, buf, size);
}

void r2dax_acl_release(struct posix_acl *acl)
{
	posix_acl_release(acl);
}

/*
 * posix_acl_create with a u16 mode (umode_t is an unsigned short): the
 * ACLs a new inode in dir inherits, and its mode (umask applied unless
 * dir has a default ACL).
 */
int r2dax_acl_create(struct inode *dir, u16 *mode, struct posix_acl **default_acl,
		     struct posix_acl **acl)
{
	umode_t m = *mode;
	int err = posix_acl_create(dir, &m, default_acl, acl);

	*mode = m;
	return err;
}

int r2dax_acl_update_mode(struct mnt_idmap *idmap, struct inode *inode,
			  u16 *mode, struct posix_acl **acl)
{
	umode_t m = *mode;
	int err = posix_acl_update_mode(idmap, inode, &m, acl);

	*mode = m;
	return err;
}

/*
 * Caches acl (which may be NULL: "none") as inode's ACL of type; the
 * cache takes its own reference.
 */
void r2dax_set_cached_acl(struct inode *inode, int type, struct posix_acl *acl)
{
	set_cached_acl(inode, type, acl);
}

/* The next permission check asks ->get_inode_acl again. */
void r2dax_forget_cached_acl(struct inode *inode, int type)
{
	forget_cached_acl(inode, type);
}

int r2dax_acl_chmod(struct mnt_idmap *idmap, struct dentry *dentry, u16 mode)
{
	return posix_acl_chmod(idmap, dentry, mode);
}

struct r2dax_security_ctx {
	int (*fn)(void *ctx, const char *name, const void *value, size_t len);
	void *ctx;
};

/* Hands each attribute the LSMs chose to the Rust callback. */
static int r2dax_initxattrs(struct inode *inode, const struct xattr *xattrs,
			    void *fs_data)
{
	struct r2dax_security_ctx *c = fs_data;
	const struct xattr *x;
	int err;

	for (x = xattrs; x->name; x++) {
		err = c->fn(c->ctx, x->name, x->value, x->value_len);
		if (err)
			return err;
	}
	return 0;
}

/*
 * security_inode_init_security for a new inode named name in dir: each
 * security.* attribute the LSMs want (name without the prefix) goes to fn.
 */
int r2dax_init_security(struct inode *inode, struct inode *dir,
			const unsigned char *name, u32 len,
			int (*fn)(void *ctx, const char *name, const void *value,
				  size_t len),
			void *ctx)
{
	struct qstr q = QSTR_INIT(name, len);
	struct r2dax_security_ctx c = { .fn = fn, .ctx = ctx };

	return security_inode_init_security(inode, dir, &q, r2dax_initxattrs, &c);
}

/* Whether trusted.* attributes are visible to the caller (as ext4). */
bool r2dax_capable_sys_admin(void)
{
	return capable(CAP_SYS_ADMIN);
}

bool r2dax_is_posixacl(const struct inode *inode)
{
	return IS_POSIXACL(inode);
}

/* Whether FIEMAP asks for the attribute extents (FIEMAP_FLAG_XATTR). */
bool r2dax_fiemap_wants_xattr(const struct fiemap_extent_info *fieinfo)
{
	return fieinfo->fi_flags & FIEMAP_FLAG_XATTR;
}

/*
 * FIEMAP of the attributes, as ext4's: the attribute block, at offset 0
 * and of one block's length, if the inode has one (@len 0: none), marked
 * shared when other inodes name it too. Returns 0 or a negative errno.
 */
int r2dax_fiemap_xattr(struct inode *inode, struct fiemap_extent_info *fieinfo,
		       u64 start, u64 len, u64 physical, u64 length, bool shared)
{
	int ret = fiemap_prep(inode, fieinfo, start, &len, FIEMAP_FLAG_XATTR);

	if (ret)
		return ret;
	if (!length || start >= length)
		return 0;
	ret = fiemap_fill_next_extent(fieinfo, 0, physical, length,
				      FIEMAP_EXTENT_LAST |
				      (shared ? FIEMAP_EXTENT_SHARED : 0));
	return ret < 0 ? ret : 0;
}
