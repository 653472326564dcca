// SPDX-License-Identifier: GPL-2.0
/*
 * fs/dax.c internals of Linux 6.12, in one place.
 *
 * r2dax looks at two things fs/dax.c keeps private:
 *
 * - how a DAX entry in a mapping's xarray is encoded: a value entry
 *   holding pfn << DAX_SHIFT and the flag bits DAX_LOCKED, DAX_PMD,
 *   DAX_ZERO_PAGE and DAX_EMPTY (the #defines at the top of fs/dax.c).
 *   r2dax_dax_busy_page() decodes entries to find pins that outlived their
 *   VMA, which dax_layout_busy_page_range() does not look for once the
 *   file has no VMA;
 * - when an fsdax page is idle: its reference count is back to 1 (the
 *   mapping's own reference; __put_devmap_managed_folio_refs wakes
 *   waiters on _refcount), as dax_wait_page_idle() is in later kernels.
 *
 * Both changed after 6.12 (6.15 reworked fsdax page refcounts: an idle
 * page has count 0 there), so this file refuses to build for any other
 * kernel than 6.12. Porting means checking fs/dax.c's encoding and
 * mm/memremap.c's idle count again and updating the values below.
 * The guest test 021 fails if the decoding does not match the kernel's:
 * it pins DAX pages of a file without VMAs (a PTE entry and a PMD entry)
 * and expects r2daxctl status to report "pinned true", which only this
 * decoding can see.
 */
#include <linux/version.h>
#include <linux/dax.h>
#include <linux/delay.h>
#include <linux/memremap.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/wait_bit.h>
#include <linux/xarray.h>

#include "helpers.h"

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0) || \
	LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#error "fsdax_6_12.c decodes fs/dax.c entries as Linux 6.12 encodes them; check fs/dax.c and port it"
#endif

#define R2DAX_DAX_SHIFT 4		/* fs/dax.c DAX_SHIFT */
#define R2DAX_DAX_LOCKED (1UL << 0)	/* DAX_LOCKED */
#define R2DAX_DAX_PMD (1UL << 1)	/* DAX_PMD */
#define R2DAX_DAX_ZERO_PAGE (1UL << 2)	/* DAX_ZERO_PAGE */
#define R2DAX_DAX_EMPTY (1UL << 3)	/* DAX_EMPTY */
/* The reference count of an idle fsdax page (the mapping's own). */
#define R2DAX_DAX_IDLE_REFS 1

/* The number of pages a DAX entry covers. */
static unsigned long r2dax_dax_entry_pages(void *entry)
{
	return (xa_to_value(entry) & R2DAX_DAX_PMD) ? PTRS_PER_PMD : 1;
}

/*
 * In a walk of a mapping's entries under the xarray lock: every
 * XA_CHECK_SCHED entries (counted in *@scanned), lets others run; the
 * walk goes on after the current entry.
 */
static void r2dax_xas_yield(struct xa_state *xas, unsigned int *scanned)
{
	if (++*scanned % XA_CHECK_SCHED)
		return;
	xas_pause(xas);
	xas_unlock_irq(xas);
	cond_resched();
	xas_lock_irq(xas);
}

/*
 * The first DAX page of @mapping in pages @start..@end (inclusive) that is
 * referenced beyond its mapping entry (refcount > 1: pinned or held by a
 * pipe or bio), or NULL.
 *
 * dax_layout_busy_page_range() answers this only while the mapping has VMAs
 * (it returns NULL when !mapping_mapped()), but a pin taken through a VMA
 * outlives munmap. So this walks the DAX entries itself, decoding them as
 * fs/dax.c of 6.12 encodes them (a value entry holding pfn << DAX_SHIFT and
 * the flags below); it mirrors dax_busy_page(). The caller holds the
 * invalidate lock exclusively, so entries cannot be added meanwhile.
 */
struct page *r2dax_dax_busy_page(struct address_space *mapping, pgoff_t start,
				 pgoff_t end)
{
	XA_STATE(xas, &mapping->i_pages, start);
	struct page *busy = NULL;
	unsigned int scanned = 0;
	void *entry;

	xas_lock_irq(&xas);
	xas_for_each(&xas, entry, end) {
		unsigned long v, pfn, n, i;

		if (WARN_ON_ONCE(!xa_is_value(entry)))
			continue;
		v = xa_to_value(entry);
		if (v & (R2DAX_DAX_ZERO_PAGE | R2DAX_DAX_EMPTY))
			continue;
		pfn = v >> R2DAX_DAX_SHIFT;
		n = r2dax_dax_entry_pages(entry);
		for (i = 0; i < n; i++) {
			struct page *page = pfn_to_page(pfn + i);

			if (page_ref_count(page) > R2DAX_DAX_IDLE_REFS) {
				busy = page;
				break;
			}
		}
		if (busy)
			break;
		r2dax_xas_yield(&xas, &scanned);
	}
	xas_unlock_irq(&xas);
	return busy;
}

/*
 * Waits until an fsdax page is idle (its reference count is back to 1, see
 * __put_devmap_managed_folio_refs), at most @timeout jiffies; returns the
 * jiffies left (0: it is still busy).
 */
long r2dax_wait_page_idle(struct page *page, long timeout)
{
	if (page_ref_count(page) == R2DAX_DAX_IDLE_REFS)
		return timeout ? timeout : 1;
	return wait_var_event_timeout(&page->_refcount,
				      page_ref_count(page) == R2DAX_DAX_IDLE_REFS, timeout);
}

/*
 * Waits until an fsdax page is idle (reference count 1), without a time
 * limit; -ERESTARTSYS on a signal.
 */
long r2dax_wait_page_idle_interruptible(struct page *page)
{
	return wait_var_event_interruptible(&page->_refcount,
					    page_ref_count(page) == R2DAX_DAX_IDLE_REFS);
}

/*
 * Before the device's memory goes (MF_MEM_PRE_REMOVE): sends SIGBUS to every
 * process that maps a DAX page of @mapping and unmaps those pages
 * (mf_dax_kill_procs, one call per entry that names device memory: zero-page
 * and empty entries name none). Costs one walk of the task list per page
 * of each such entry, as on xfs. Without CONFIG_MEMORY_FAILURE there is no
 * mf_dax_kill_procs: nothing is signalled here, and the caller's unmap makes
 * the next access fault (and fail). The caller holds the invalidate lock
 * exclusively on a filesystem that is shut down, so no entry is added
 * meanwhile.
 */
void r2dax_dax_kill_mappers(struct address_space *mapping)
{
#ifdef CONFIG_MEMORY_FAILURE
	unsigned long index = 0;
	void *entry;

	/* Without VMAs nobody maps a page: the caller's unmap is enough. */
	if (!mapping_mapped(mapping))
		return;
	while ((entry = xa_find(&mapping->i_pages, &index, ULONG_MAX,
				XA_PRESENT))) {
		unsigned long n;

		if (WARN_ON_ONCE(!xa_is_value(entry)))
			break;
		n = r2dax_dax_entry_pages(entry);
		index &= ~(n - 1);
		if (!(xa_to_value(entry) & (R2DAX_DAX_ZERO_PAGE | R2DAX_DAX_EMPTY)))
			mf_dax_kill_procs(mapping, index, n, MF_MEM_PRE_REMOVE);
		index += n;
		if (!index)
			break;
		cond_resched();
	}
#endif
}

/*
 * Removes every DAX entry of @mapping, for an inode evicted after its DAX
 * device died (dax_alive() false under dax_read_lock()). The device's
 * memory may be gone by now, and its struct pages with it, so
 * truncate_inode_pages_final() (dax_delete_mapping_entry ->
 * dax_disassociate_entry) must not run on them. For each entry that names
 * device pages this takes a reference on their dev_pagemap:
 *
 * - none to be had: memunmap_pages() has killed it, after waiting for
 *   every reference, including those memory_failure() holds while it
 *   looks at a page (memory_failure_dev_pagemap); no struct page is
 *   left to clean and nobody is looking. The entry is just dropped.
 * - one: the struct pages exist until it is put. A memory_failure() that
 *   locked the entry (dax_lock_folio: that lock is what keeps the inode
 *   from being freed under it) is waited for, and each page's ->mapping
 *   is cleared if it is still this mapping (after a rebind the pfn may
 *   belong to a new device and another file), as dax_disassociate_entry
 *   does, so a later dax_lock_folio() finds no mapping.
 *
 * Nothing else uses the mapping: the inode is being evicted. Storing NULL
 * at the index of a multi-index (PMD) entry clears all of it. Returns how
 * many of the entries named device pages.
 */
unsigned long r2dax_dax_forget_entries(struct address_space *mapping)
{
	XA_STATE(xas, &mapping->i_pages, 0);
	unsigned long named = 0;
	unsigned int scanned = 0;
	void *entry;

	xas_lock_irq(&xas);
	while ((entry = xas_find(&xas, ULONG_MAX))) {
		struct dev_pagemap *pgmap = NULL;
		unsigned long v, pfn, n, i;

		if (WARN_ON_ONCE(!xa_is_value(entry)))
			continue;
		v = xa_to_value(entry);
		n = r2dax_dax_entry_pages(entry);
		pfn = v >> R2DAX_DAX_SHIFT;
		if (!(v & (R2DAX_DAX_ZERO_PAGE | R2DAX_DAX_EMPTY)))
			pgmap = get_dev_pagemap(pfn, NULL);
		if (pgmap && (v & R2DAX_DAX_LOCKED)) {
			/* Held by memory_failure(): let it finish, look again. */
			unsigned long index = xas.xa_index;

			put_dev_pagemap(pgmap);
			xas_unlock_irq(&xas);
			msleep(1);
			xas_lock_irq(&xas);
			xas_set(&xas, index);
			continue;
		}
		if (pgmap) {
			for (i = 0; i < n; i++) {
				struct page *page = pfn_to_page(pfn + i);

				if (READ_ONCE(page->mapping) == mapping) {
					WRITE_ONCE(page->mapping, NULL);
					page->index = 0;
				}
			}
			put_dev_pagemap(pgmap);
		}
		if (!(v & (R2DAX_DAX_ZERO_PAGE | R2DAX_DAX_EMPTY)))
			named++;
		mapping->nrpages -= n;
		xas_store(&xas, NULL);
		r2dax_xas_yield(&xas, &scanned);
	}
	xas_unlock_irq(&xas);
	return named;
}
