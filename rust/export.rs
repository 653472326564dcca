// SPDX-License-Identifier: GPL-2.0
//! NFS export: the inodes file handles name, and a directory's parent
//! (the role of `ext2_nfs_get_inode` and `ext2_get_parent`), behind the
//! VFS layer's [`ExportOperations`].
//!
//! A handle carries the inode number and the inode's generation, a random
//! number given to each new inode at create (`namei.rs`) and kept on disk:
//! a handle to a file that was deleted, and whose number a new file took,
//! is stale because the generations differ. Inodes made by mkfs have
//! generation 0, like every inode of the releases before handles.

use crate::inode::iget_as;
use crate::ondisk::{FIRST_INO, LOST_FOUND_INO, ROOT_INO};
use crate::super_::R2dax;
use crate::vfs::errno::estale;
use crate::vfs::export::ExportOperations;
use crate::vfs::sb::SuperBlock;
use crate::vfs::vfs_inode::INode;
use kernel::prelude::*;
use kernel::types::ARef;

impl ExportOperations for R2dax {
    /// The root, lost+found and ordinary inodes can be named by a handle;
    /// reserved numbers, numbers out of range, free inodes, unlinked ones
    /// that nobody holds open, and a generation that differs give
    /// `ESTALE`.
    fn handle_inode(sb: &SuperBlock<Self>, ino: u64, generation: u32) -> Result<ARef<INode<Self>>> {
        let geo = &sb.info().geo;
        let nameable = u32::try_from(ino).is_ok_and(|i| {
            geo.valid_ino(i) && (i >= FIRST_INO || i == ROOT_INO || i == LOST_FOUND_INO)
        });
        if !nameable {
            return Err(estale());
        }
        // An unlinked file still open is in the inode cache and opens, as
        // on ext4 and xfs (fstests generic/467); iget_as refuses one that
        // is only on the media without links (an orphan being freed).
        let inode = iget_as(sb, ino, true)?;
        if inode.attrs().generation != generation {
            return Err(estale());
        }
        Ok(inode)
    }

    /// What the directory's ".." names.
    fn parent(dir: &INode<Self>) -> Result<ARef<INode<Self>>> {
        let p = crate::dir::dotdot(dir)?;
        iget_as(dir.sb(), u64::from(p), false)
    }
}
