/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of r2dax's own bindgen run (see Kbuild): the headers the kernel
 * crate does not cover, r2dax's user-space ABI (include/uapi/linux/r2dax.h),
 * the module's C helpers, and constants that bindgen cannot evaluate as
 * macros (exported as R2DAX_CONST_<name>, renamed to <name> by the Kbuild
 * rule), such as the _IOR number of the ABI.
 */
#include <linux/buffer_head.h>
#include <linux/crc32.h>
#include <linux/dax.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/iomap.h>
#include <linux/statfs.h>
#include <linux/fileattr.h>
#include <linux/falloc.h>
#include <linux/r2dax.h>
/* Full definitions, so that the helpers' forward declarations stay the
 * kernel crate's types. */
#include <linux/posix_acl.h>
#include <linux/xattr.h>
#include <linux/exportfs.h>

#include "helpers.h"

#ifdef __BINDGEN__
const unsigned long R2DAX_CONST_SB_RDONLY = SB_RDONLY;
const loff_t R2DAX_CONST_MAX_LFS_FILESIZE = MAX_LFS_FILESIZE;
const fmode_t R2DAX_CONST_FMODE_CAN_ODIRECT = FMODE_CAN_ODIRECT;
const fmode_t R2DAX_CONST_FMODE_WRITE = FMODE_WRITE;
const fop_flags_t R2DAX_CONST_FOP_MMAP_SYNC = FOP_MMAP_SYNC;
const unsigned int R2DAX_CONST_FAULT_FLAG_WRITE = FAULT_FLAG_WRITE;
const unsigned int R2DAX_CONST_IOCB_NOWAIT = IOCB_NOWAIT;
const vm_fault_t R2DAX_CONST_VM_FAULT_SIGBUS = VM_FAULT_SIGBUS;
const unsigned int R2DAX_CONST_R2DAX_IOC_DAX_STATUS = R2DAX_IOC_DAX_STATUS;
const unsigned int R2DAX_CONST_R2DAX_IOC_SHUTDOWN = R2DAX_IOC_SHUTDOWN;
const unsigned long R2DAX_CONST_PMD_SIZE = PMD_SIZE;
const int R2DAX_CONST_ACL_TYPE_ACCESS = ACL_TYPE_ACCESS;
const int R2DAX_CONST_ACL_TYPE_DEFAULT = ACL_TYPE_DEFAULT;
const int R2DAX_CONST_XATTR_CREATE = XATTR_CREATE;
const int R2DAX_CONST_XATTR_REPLACE = XATTR_REPLACE;
const unsigned long R2DAX_CONST_SB_POSIXACL = SB_POSIXACL;
#endif
