/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers for r2dax, where Rust cannot reach the kernel directly
 * (helpers.c), and the fs/dax.c internals of Linux 6.12 that r2dax
 * decodes (fsdax_6_12.c, which says why). The
 * Rust side sees them through the module's own bindgen run
 * (rust/vfs/bindings_generated.rs) as raw::r2dax_<name>. They are:
 *
 * - forwarders to static inline functions and macros of the kernel
 *   headers (sb_bread, inode_lock, i_size_read, IS_DAX, ...), one call
 *   each;
 * - reads and stores of fields in anonymous unions or structs, whose
 *   bindgen names are not stable (i_nlink, vm_flags, vmf->vma, the ops
 *   pointers, d_name); plain fields are read from Rust through bindgen;
 * - a few functions that sequence several such calls under a lock or
 *   need C-only constructs: r2dax_sb_zeroout and r2dax_sb_getblk_zeroed
 *   (buffer-cache coherence of zeroed blocks), r2dax_setattr_simple
 *   (setattr_prepare/setattr_copy), r2dax_mapping_pinned (a walk of
 *   the mapping's xarray),
 *   r2dax_write_buffer_dax (a metadata block stored through the DAX
 *   device), the collapse marks of a struct file, and the debugfs fault
 *   injection of the test suite (fault.rs). Each says why at its
 *   definition in helpers.c.
 */
#ifndef R2DAX_HELPERS_H
#define R2DAX_HELPERS_H

#include <linux/types.h>
#include <linux/migrate_mode.h>

struct address_space_operations;
struct block_device;
struct buffer_head;
struct dir_context;
struct file;
struct file_operations;
struct inode;
struct inode_operations;
struct kmem_cache;
struct super_block;

struct buffer_head *r2dax_sb_bread(struct super_block *sb, sector_t block);
struct buffer_head *r2dax_sb_getblk_zeroed(struct super_block *sb, sector_t block);
int r2dax_sb_zeroout(struct super_block *sb, sector_t block, sector_t count);
int r2dax_flush_device(struct super_block *sb);
void r2dax_lock_buffer(struct buffer_head *bh);
void r2dax_unlock_buffer(struct buffer_head *bh);
void r2dax_mark_inode_dirty(struct inode *inode);
u32 r2dax_inode_nlink(const struct inode *inode);
void r2dax_inode_get_times(const struct inode *inode, s64 *t, u32 *ns);
u64 r2dax_current_time(struct inode *inode);
bool r2dax_is_bad_inode(struct inode *inode);
struct mnt_idmap;
struct iattr;
int r2dax_setattr_simple(struct mnt_idmap *idmap, struct dentry *dentry,
			 struct iattr *attr, bool *size_change);
loff_t r2dax_bdev_nr_bytes(struct block_device *bdev);

struct kmem_cache *r2dax_kmem_cache_create(const char *name, unsigned int size,
					   unsigned int align,
					   void (*ctor)(void *));
void *r2dax_alloc_inode_sb(struct super_block *sb, struct kmem_cache *cache);

void r2dax_inode_set_ops(struct inode *inode, const struct inode_operations *iop,
			 const struct file_operations *fop,
			 const struct address_space_operations *aops);
void r2dax_inode_set_link(struct inode *inode, char *link);
void r2dax_inode_set_ids(struct inode *inode, u32 uid, u32 gid);
u32 r2dax_inode_uid(const struct inode *inode);
u32 r2dax_inode_gid(const struct inode *inode);
void r2dax_inode_set_size(struct inode *inode, loff_t size);
loff_t r2dax_inode_size(const struct inode *inode);
void r2dax_inode_set_times(struct inode *inode, s64 a, u32 a_ns, s64 m, u32 m_ns,
			   s64 c, u32 c_ns);

bool r2dax_dir_emit_dots(struct file *file, struct dir_context *ctx);
bool r2dax_dir_emit(struct dir_context *ctx, const char *name, int len, u64 ino,
		    unsigned int type);
struct dentry;
const unsigned char *r2dax_dentry_name(const struct dentry *dentry, u32 *len);

struct kiocb;
struct iov_iter;
struct vm_area_struct;
struct vm_operations_struct;
struct address_space;
void r2dax_inode_lock(struct inode *inode);
void r2dax_inode_lock_shared(struct inode *inode);
void r2dax_inode_unlock_shared(struct inode *inode);
size_t r2dax_iov_iter_count(const struct iov_iter *i);
void r2dax_inode_unlock(struct inode *inode);
ssize_t r2dax_generic_write_sync(struct kiocb *iocb, ssize_t count);
void r2dax_file_accessed(struct file *file);
void r2dax_vma_set_ops(struct vm_area_struct *vma,
		       const struct vm_operations_struct *ops);
struct file *r2dax_vma_get_file(struct vm_area_struct *vma);
void r2dax_fput(struct file *file);
void r2dax_invalidate_lock(struct inode *inode);
void r2dax_invalidate_unlock(struct inode *inode);
void r2dax_invalidate_lock_shared(struct inode *inode);
void r2dax_invalidate_unlock_shared(struct inode *inode);
void r2dax_sb_start_pagefault(struct super_block *sb);
void r2dax_sb_end_pagefault(struct super_block *sb);
bool r2dax_sb_start_intwrite_trylock(struct super_block *sb);
void r2dax_sb_end_intwrite(struct super_block *sb);

struct seq_file;
struct fs_context;
void r2dax_seq_puts(struct seq_file *m, const char *s);
int r2dax_fc_bad_value(struct fs_context *fc, const char *key);

struct rw_semaphore;
struct vm_fault;
struct folio;
struct page;
struct dax_device;
void r2dax_mode_lock_init(struct rw_semaphore *sem);
unsigned long r2dax_vma_flags(const struct vm_area_struct *vma);
struct vm_area_struct *r2dax_vmf_vma(const struct vm_fault *vmf);
bool r2dax_daxdev_mapping_supported(struct vm_area_struct *vma,
				    struct dax_device *dax_dev);
bool r2dax_is_dax(const struct inode *inode);
bool r2dax_mapping_empty(struct address_space *mapping);
bool r2dax_folio_is_zone_device(const struct folio *folio);
bool r2dax_inode_trylock(struct inode *inode);
bool r2dax_inode_trylock_shared(struct inode *inode);
int r2dax_filemap_write_and_wait(struct address_space *mapping);
int r2dax_filemap_write_and_wait_range(struct address_space *mapping, loff_t start, loff_t end);
int r2dax_invalidate_inode_pages2(struct address_space *mapping);
bool r2dax_mapping_pinned(struct address_space *mapping);
bool r2dax_noop_dirty_folio(struct address_space *mapping, struct folio *folio);

/* fs/dax.c internals of 6.12 (fsdax_6_12.c). */
struct page *r2dax_dax_busy_page(struct address_space *mapping, pgoff_t start,
				 pgoff_t end);
long r2dax_wait_page_idle(struct page *page, long timeout);
long r2dax_wait_page_idle_interruptible(struct page *page);
void r2dax_dax_kill_mappers(struct address_space *mapping);
unsigned long r2dax_dax_forget_entries(struct address_space *mapping);

struct fileattr;
bool r2dax_fileattr_has_fsx(const struct fileattr *fa);

void r2dax_buffer_keep(struct buffer_head *bh);
void r2dax_buffer_forget_change(struct buffer_head *bh);
void r2dax_bdev_discard_cache(struct super_block *sb);
bool r2dax_bdev_meta_via_dax(struct block_device *bdev);
int r2dax_dax_holder_add(struct dax_device *dax_dev, struct super_block *sb);
void r2dax_dax_holder_del(struct dax_device *dax_dev);
struct super_block *r2dax_dax_holder_get(struct dax_device *dax_dev);
int r2dax_write_buffer_dax(struct buffer_head *bh, struct dax_device *dax_dev,
			   u64 part_off);

/* Page-cache folio migration (mm/migrate.c; no header the bindings have). */
int filemap_migrate_folio(struct address_space *mapping, struct folio *dst,
			  struct folio *src, enum migrate_mode mode);

void r2dax_mapping_set_aops(struct address_space *mapping,
			    const struct address_space_operations *aops);
bool r2dax_collapse_possible(void);
bool r2dax_file_mark_mapped(struct file *file);
bool r2dax_file_marked(struct file *file);

/* Background work of a superblock (sb_work.rs). */
struct delayed_work;
struct work_struct;
void r2dax_init_delayed_work(struct delayed_work *dwork,
			     void (*fn)(struct work_struct *));
void r2dax_queue_delayed_work(struct delayed_work *dwork, unsigned long delay,
			      bool sooner);

/* Walking the inode cache of a superblock (sb.rs). */
int r2dax_sb_for_each_inode(struct super_block *sb,
			    int (*fn)(struct inode *inode, void *arg), void *arg);

/* Extended attributes, POSIX ACLs and security labels (xattr.rs). */
struct posix_acl;
struct xattr_handler;
struct mnt_idmap;
struct qstr;
void r2dax_sb_set_xattr(struct super_block *sb,
			const struct xattr_handler *const *handlers);
struct posix_acl *r2dax_acl_from_disk(const void *value, size_t size);
int r2dax_acl_to_xattr(const struct posix_acl *acl, void *buf, size_t size);
void r2dax_acl_release(struct posix_acl *acl);
int r2dax_acl_create(struct inode *dir, u16 *mode, struct posix_acl **default_acl,
		     struct posix_acl **acl);
int r2dax_acl_update_mode(struct mnt_idmap *idmap, struct inode *inode,
			  u16 *mode, struct posix_acl **acl);
void r2dax_set_cached_acl(struct inode *inode, int type, struct posix_acl *acl);
void r2dax_forget_cached_acl(struct inode *inode, int type);
int r2dax_acl_chmod(struct mnt_idmap *idmap, struct dentry *dentry, u16 mode);
int r2dax_init_security(struct inode *inode, struct inode *dir,
			const unsigned char *name, u32 len,
			int (*fn)(void *ctx, const char *name, const void *value,
				  size_t len),
			void *ctx);
bool r2dax_capable_sys_admin(void);
bool r2dax_is_posixacl(const struct inode *inode);
struct fiemap_extent_info;
bool r2dax_fiemap_wants_xattr(const struct fiemap_extent_info *fieinfo);
int r2dax_fiemap_xattr(struct inode *inode, struct fiemap_extent_info *fieinfo,
		       u64 start, u64 len, u64 physical, u64 length, bool shared);

/* Fault injection for tests (debugfs r2dax/), see fault.rs. */
void r2dax_fault_init(void);
void r2dax_fault_exit(void);
bool r2dax_fault_hit(unsigned int point);

#endif /* R2DAX_HELPERS_H */
