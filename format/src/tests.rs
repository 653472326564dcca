// SPDX-License-Identifier: GPL-2.0
//! Unit tests for the on-disk format.

use super::*;
use std::{format, vec, vec::Vec};

fn sample() -> Superblock {
    let mut label = [0u8; LABEL_LEN];
    label[..4].copy_from_slice(b"test");
    Superblock::new(524_288, 8192, [0xab; 16], label, 1_700_000_000)
}

fn encoded(sb: &Superblock) -> [u8; SUPERBLOCK_SIZE] {
    let mut buf = [0u8; SUPERBLOCK_SIZE];
    sb.encode(&mut buf);
    buf
}

/// Rewrites the checksum after a deliberate edit, so that the check under
/// test is the one that fires.
fn reseal(buf: &mut [u8; SUPERBLOCK_SIZE]) {
    let csum = crc32c(&buf[..SUPERBLOCK_CSUM_OFFSET]);
    buf[SUPERBLOCK_CSUM_OFFSET..].copy_from_slice(&csum.to_le_bytes());
}

#[test]
fn crc32c_known_vectors() {
    assert_eq!(crc32c(b""), 0);
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
}

/// The slice-by-8 CRC against a bit-at-a-time model, over every length up
/// to 300 and every split point of a continued CRC.
#[test]
fn crc32c_matches_bitwise_model() {
    fn model(mut crc: u32, data: &[u8]) -> u32 {
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }
    let data: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for n in 0..data.len() {
        assert_eq!(
            crc32c_update(!0, &data[..n]),
            model(!0, &data[..n]),
            "length {n}"
        );
    }
    for split in 0..data.len() {
        let a = crc32c_update(!0, &data[..split]);
        assert_eq!(
            crc32c_update(a, &data[split..]),
            model(!0, &data),
            "split {split}"
        );
    }
}

#[test]
fn roundtrip() {
    let sb = sample();
    let buf = encoded(&sb);
    assert_eq!(&buf[..4], b"R2DX");
    assert_eq!(Superblock::decode(&buf), Ok(sb));
    assert_eq!(sb.label_str(), Some("test"));
}

#[test]
fn layout_is_stable() {
    // Golden bytes for fixed fields: a change here is a format change.
    let buf = encoded(&sample());
    assert_eq!(&buf[4..8], &[1, 0, 0, 0]); // version 1.0
    assert_eq!(&buf[8..12], &4096u32.to_le_bytes());
    assert_eq!(&buf[40..48], &524_288u64.to_le_bytes());
    assert_eq!(&buf[56..72], &[0xab; 16]);
    assert_eq!(&buf[72..76], b"test");
    assert_eq!(&buf[104..108], &32768u32.to_le_bytes());
    assert_eq!(&buf[108..112], &8192u32.to_le_bytes());
    assert_eq!(&buf[112..116], &16u32.to_le_bytes()); // (524288 - 512) / 32768 rounded up
    assert_eq!(&buf[140..144], &256u32.to_le_bytes());
    assert!(buf[160..508].iter().all(|&b| b == 0));
}

#[test]
fn rejects_short_buffer() {
    let buf = encoded(&sample());
    assert_eq!(
        Superblock::decode(&buf[..100]),
        Err(SbError::Truncated { len: 100 })
    );
}

#[test]
fn rejects_bad_magic_as_not_ours() {
    let zero = [0u8; SUPERBLOCK_SIZE];
    let e = Superblock::decode(&zero).unwrap_err();
    assert_eq!(e, SbError::BadMagic { found: 0 });
    assert_eq!(e.class(), ErrorClass::NotR2dax);
    assert_eq!(
        format!("{e}"),
        "can't find an r2dax superblock (magic 0x00000000, expected 0x58443252)"
    );
}

#[test]
fn rejects_bad_checksum_as_corrupt() {
    let mut buf = encoded(&sample());
    buf[200] ^= 1;
    let e = Superblock::decode(&buf).unwrap_err();
    assert!(matches!(e, SbError::BadChecksum { .. }));
    assert_eq!(e.class(), ErrorClass::Corrupt);
}

#[test]
fn rejects_each_bad_field() {
    let cases: [(usize, &[u8], SbError); 9] = [
        (
            4,
            &[2, 0],
            SbError::UnsupportedVersion { major: 2, minor: 0 },
        ),
        (32, &[4], SbError::UnknownIncompat { bits: 4 }),
        (8, &[0, 2, 0, 0], SbError::BadBlockSize { found: 512 }),
        (12, &[2], SbError::BadState { found: 2 }),
        (140, &[0, 2], SbError::BadInodeSize { found: 512 }),
        (40, &[1, 0, 0], SbError::TooSmall { blocks: 1 }),
        (
            104,
            &[0, 0x10, 0, 0],
            SbError::BadGeometry {
                what: "blocks per group is not 32768",
            },
        ),
        (
            112,
            &[17],
            SbError::BadGeometry {
                what: "group count does not match the block count",
            },
        ),
        (
            116,
            &[0xff, 0xff, 0xff, 0x7f],
            SbError::BadOrphanHead { ino: 0x7fff_ffff },
        ),
    ];
    for (off, bytes, want) in cases {
        let mut buf = encoded(&sample());
        buf[off..off + bytes.len()].copy_from_slice(bytes);
        reseal(&mut buf);
        assert_eq!(Superblock::decode(&buf), Err(want), "offset {off}");
    }
}

#[test]
fn device_size_check() {
    let sb = sample();
    assert_eq!(sb.check_device(524_288 * 4096), Ok(()));
    assert_eq!(
        sb.check_device(524_287 * 4096 + 4095),
        Err(SbError::LargerThanDevice {
            blocks: 524_288,
            device_blocks: 524_287
        })
    );
}

#[test]
fn uuid_format() {
    let u = [
        0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
        0xef,
    ];
    assert_eq!(
        format!("{}", UuidFmt(&u)),
        "12345678-9abc-def0-0123-456789abcdef"
    );
}

/// Property test: no mutation of a valid superblock makes the decoder
/// panic, and whatever it accepts re-encodes to the same bytes.
#[test]
fn mutations_never_panic_and_accepted_roundtrips() {
    let base = encoded(&sample());
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut accepted = 0;
    for i in 0..200_000 {
        let mut buf = base;
        let flips = 1 + (next() % 8) as usize;
        for _ in 0..flips {
            let pos = (next() % SUPERBLOCK_SIZE as u64) as usize;
            buf[pos] = next() as u8;
        }
        // Half of the cases keep a valid checksum so the field checks run.
        if i % 2 == 0 {
            buf[..4].copy_from_slice(&MAGIC.to_le_bytes());
            reseal(&mut buf);
        }
        if let Ok(sb) = Superblock::decode(&buf) {
            accepted += 1;
            assert_eq!(encoded(&sb), buf);
            let _ = sb.check_device(next());
        }
        let len = (next() % (SUPERBLOCK_SIZE as u64 + 1)) as usize;
        let _ = Superblock::decode(&buf[..len]);
    }
    assert!(
        accepted > 0,
        "the generator never produced a valid superblock"
    );
}

#[test]
fn geometry_layout() {
    let g = sample().geometry();
    assert_eq!(g.itable_blocks(), 512);
    assert_eq!(g.meta_blocks(), 514);
    assert_eq!(g.gdt_blocks(), 1);
    assert_eq!(g.group_start(0), 512);
    assert_eq!(g.inode_table(1), 512 + 32768 + 2);
    // The last group is partial: 524288 - 512 - 15 * 32768 blocks.
    assert_eq!(g.group_blocks(15), 524_288 - 512 - 15 * 32768);
    assert_eq!(g.inode_location(1), Some((514, 0)));
    assert_eq!(g.inode_location(17), Some((515, 0)));
    assert_eq!(g.inode_location(8193), Some((512 + 32768 + 2, 0)));
    assert_eq!(g.inode_location(0), None);
    assert_eq!(g.inode_location(16 * 8192 + 1), None);
    assert!(!g.is_data_block(0));
    assert!(!g.is_data_block(513));
    assert!(g.is_data_block(512 + 514));
    assert!(!g.is_data_block(524_288));
    assert_eq!(g.block_group(512 + 32768 + 5), Some((1, 5)));
}

#[test]
fn last_group_must_hold_its_metadata() {
    // 512 + 32768 + 100 blocks: the second group would have 100 blocks,
    // fewer than its 514 metadata blocks.
    let mut sb = sample();
    sb.blocks_count = 512 + 32768 + 100;
    sb.group_count = groups_for(sb.blocks_count);
    assert!(matches!(
        sb.check_geometry(),
        Err(SbError::BadGeometry { .. })
    ));
}

#[test]
fn group_desc_roundtrip_and_checks() {
    let geo = sample().geometry();
    let gd = GroupDesc {
        free_blocks: 100,
        free_inodes: 8000,
        used_dirs: 2,
        flags: 0,
    };
    let mut b = [0u8; GROUP_DESC_SIZE];
    gd.encode(&mut b, 3);
    assert_eq!(GroupDesc::decode(&b, 3, &geo), Ok(gd));
    // The group number is in the checksum.
    assert_eq!(GroupDesc::decode(&b, 4, &geo), Err(GdError::BadChecksum));
    let too_many = GroupDesc {
        free_inodes: 9000,
        ..gd
    };
    too_many.encode(&mut b, 3);
    assert_eq!(GroupDesc::decode(&b, 3, &geo), Err(GdError::BadCounter));
    assert_eq!(GroupDesc::location(0), (1, 0));
    assert_eq!(GroupDesc::location(130), (2, 64));
}

fn file_inode() -> Inode {
    Inode {
        mode: mode::S_IFREG | 0o644,
        links: 1,
        size: 12345,
        mtime: -5,
        mtime_ns: 999_999_999,
        roots: [600, 601, 0, 0, 0],
        seq: 7,
        ..Inode::default()
    }
}

#[test]
fn inode_copies() {
    let mut slot = [0u8; INODE_SIZE];
    assert_eq!(Inode::decode_slot(&slot, 20), Ok(Slot::Free));
    let i = file_inode();
    i.encode_copy(&mut slot, 0, 20);
    assert_eq!(
        Inode::decode_slot(&slot, 20),
        Ok(Slot::Used { inode: i, copy: 0 })
    );
    // Misplaced slot: the inode number is in the checksum.
    assert_eq!(Inode::decode_slot(&slot, 21), Err(InodeError::BadChecksum));
    // A newer copy in the other half wins...
    let mut j = i;
    j.size = 99;
    j.seq = 8;
    j.encode_copy(&mut slot, 1, 20);
    assert_eq!(
        Inode::decode_slot(&slot, 20),
        Ok(Slot::Used { inode: j, copy: 1 })
    );
    // ...unless it is torn, then the older one is used.
    slot[128 + 30] ^= 0xff;
    assert_eq!(
        Inode::decode_slot(&slot, 20),
        Ok(Slot::Used { inode: i, copy: 0 })
    );
    // Sequence numbers wrap.
    let mut a = i;
    a.seq = u32::MAX;
    let mut b = i;
    b.seq = 0;
    b.size = 1;
    let mut s2 = [0u8; INODE_SIZE];
    a.encode_copy(&mut s2, 0, 20);
    b.encode_copy(&mut s2, 1, 20);
    assert_eq!(
        Inode::decode_slot(&s2, 20),
        Ok(Slot::Used { inode: b, copy: 1 })
    );
}

#[test]
fn inode_field_checks() {
    let checks: [(fn(&mut Inode), &str); 6] = [
        (|i| i.mode = 0o644, "file type"),
        (|i| i.height = 5, "map height"),
        (|i| i.flags = 1 << 30, "unknown flags"),
        (|i| i.atime_ns = 1_000_000_000, "nanoseconds"),
        (
            |i| i.iflags2 = iflags2::INLINE,
            "inline data on a non-symlink",
        ),
        (
            |i| {
                i.mode = mode::S_IFDIR | 0o755;
                i.size = 100
            },
            "directory size not a multiple of the block size",
        ),
    ];
    for (f, what) in checks {
        let mut i = file_inode();
        f(&mut i);
        let mut slot = [0u8; INODE_SIZE];
        i.encode_copy(&mut slot, 0, 30);
        assert_eq!(
            Inode::decode_slot(&slot, 30),
            Err(InodeError::BadField(what))
        );
    }
}

#[test]
fn inline_symlink() {
    let mut i = Inode {
        mode: mode::S_IFLNK | 0o777,
        iflags2: iflags2::INLINE,
        links: 1,
        size: 11,
        ..Inode::default()
    };
    i.set_inline_data(b"/etc/passwd");
    assert_eq!(&i.inline_data()[..11], b"/etc/passwd");
    let mut slot = [0u8; INODE_SIZE];
    i.encode_copy(&mut slot, 0, 40);
    assert!(matches!(
        Inode::decode_slot(&slot, 40),
        Ok(Slot::Used { .. })
    ));
}

#[test]
fn map_geometry() {
    assert_eq!(map_capacity(0), 5);
    assert_eq!(map_capacity(1), 5 * 512);
    assert_eq!(map_height_for(0), 0);
    assert_eq!(map_height_for(4), 0);
    assert_eq!(map_height_for(5), 1);
    assert_eq!(map_height_for(5 * 512), 2);
    assert_eq!(map_path(3, 0), Some((3, [0; 4])));
    assert_eq!(map_path(5, 0), None);
    assert_eq!(map_path(1000, 1), Some((1, [488, 0, 0, 0])));
    assert_eq!(map_path(512 * 512 + 513, 2), Some((1, [1, 1, 0, 0])));
    assert_eq!(map_capacity(MAX_MAP_HEIGHT), MAX_FILE_BLOCKS);
    // A leaf maps one 2 MiB-aligned file range: file blocks 512k..512k+511
    // share every index but the last.
    for k in 0..4u64 {
        let (r0, p0) = map_path(k * 512, 2).unwrap();
        let (r1, p1) = map_path(k * 512 + 511, 2).unwrap();
        assert_eq!((r0, p0[0]), (r1, p1[0]));
        assert_eq!((p0[1], p1[1]), (0, 511));
    }
}

#[test]
fn dirents() {
    let mut blk = vec![0u8; 4096];
    Dirent::encode(&mut blk, 0, 1, dirent::DT_DIR, b"..");
    let long = [b'x'; 255];
    Dirent::encode(&mut blk, 1, 77, dirent::DT_REG, &long);
    assert_eq!(dirent::slots_for(255), 9);
    match Dirent::decode(&blk, 1) {
        DirSlot::Entry(d) => {
            assert_eq!((d.ino, d.nslots, d.name_len), (77, 9, 255));
            assert_eq!(d.name(&blk), &long[..]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(Dirent::decode(&blk, 10), DirSlot::Free);
    // A torn name is detected.
    blk[32 + 12 + 200] = b'y';
    assert_eq!(Dirent::decode(&blk, 1), DirSlot::Corrupt);
    Dirent::clear(&mut blk, 1, 9);
    assert_eq!(Dirent::decode(&blk, 1), DirSlot::Free);
    // Names may not contain '/'.
    Dirent::encode(&mut blk, 2, 5, dirent::DT_REG, b"a/b");
    assert_eq!(Dirent::decode(&blk, 2), DirSlot::Corrupt);
    // An entry may not run past the end of the block.
    Dirent::encode(&mut blk, 127, 5, dirent::DT_REG, b"short");
    assert!(matches!(Dirent::decode(&blk, 127), DirSlot::Entry(_)));
    blk[127 * 32 + 6] = 2;
    assert_eq!(Dirent::decode(&blk, 127), DirSlot::Corrupt);
    assert_eq!(dirent::dtype(mode::S_IFLNK), dirent::DT_LNK);
}

#[test]
fn bitmaps() {
    let mut b = [0u8; 8];
    set_bit(&mut b, 9, true);
    assert!(test_bit(&b, 9));
    assert_eq!(b[1], 2);
    set_bit(&mut b, 9, false);
    assert!(!test_bit(&b, 9));
    set_bit(&mut b, 1000, true); // ignored
    assert!(!test_bit(&b, 1000));
}

/// Property test: random slot and block contents never make the inode or
/// directory decoders panic.
#[test]
fn random_metadata_never_panics() {
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let geo = sample().geometry();
    let mut valid = [0u8; INODE_SIZE];
    file_inode().encode_copy(&mut valid, 0, 9);
    for _ in 0..20_000 {
        let mut slot = valid;
        for _ in 0..(1 + next() % 6) {
            slot[(next() % INODE_SIZE as u64) as usize] = next() as u8;
        }
        let _ = Inode::decode_slot(&slot, (next() % 100) as u32);
        let mut gd = [0u8; GROUP_DESC_SIZE];
        gd.iter_mut().for_each(|x| *x = next() as u8);
        let _ = GroupDesc::decode(&gd, (next() % 20) as u32, &geo);
    }
    let mut blk = vec![0u8; 4096];
    for _ in 0..2_000 {
        for _ in 0..64 {
            let i = (next() % 4096) as usize;
            blk[i] = next() as u8;
        }
        for slot in 0..dirent::SLOTS_PER_BLOCK {
            if let DirSlot::Entry(d) = Dirent::decode(&blk, slot) {
                let _ = d.name(&blk);
            }
        }
        let _ = map_path(next(), (next() % 6) as u8);
    }
}

#[test]
fn map_pointers_and_types() {
    let mut b = vec![0u8; 4096];
    b[8..16].copy_from_slice(&0x1234u64.to_le_bytes());
    assert_eq!(map_ptr(&b, 1), Some(0x1234));
    assert_eq!(map_ptr(&b, 511), Some(0));
    assert_eq!(map_ptr(&b, 512), None);
    assert_eq!(map_ptr(&b, usize::MAX), None);
    assert!(mode::has_map(mode::S_IFLNK | 0o777));
    assert!(!mode::has_map(mode::S_IFCHR | 0o600));
}

/// Asserts the offset and size of each named field of a record, as the
/// tables of Documentation/filesystems/r2dax/ondisk.rst give them.
macro_rules! assert_layout {
    ($t:ident, $v:expr, { $($f:ident: $off:literal, $len:literal;)+ }) => {{
        let v: $t = $v;
        $(
            assert_eq!(
                (core::mem::offset_of!($t, $f), core::mem::size_of_val(&v.$f)),
                ($off, $len),
                concat!(stringify!($t), ".", stringify!($f)),
            );
        )+
    }};
}

/// The typed records against ondisk.rst: every field's offset and size in
/// the struct, then where encoding puts a few distinct values and the
/// checksum.
#[test]
fn records_match_documented_offsets() {
    assert_layout!(DiskSuperblock, DiskSuperblock::from_bytes(&[0; SUPERBLOCK_SIZE]), {
        magic: 0, 4;
        version_major: 4, 2;
        version_minor: 6, 2;
        block_size: 8, 4;
        state: 12, 4;
        feature_compat: 16, 8;
        feature_ro_compat: 24, 8;
        feature_incompat: 32, 8;
        blocks_count: 40, 8;
        mkfs_time: 48, 8;
        uuid: 56, 16;
        label: 72, 32;
        blocks_per_group: 104, 4;
        inodes_per_group: 108, 4;
        group_count: 112, 4;
        orphan_head: 116, 4;
        free_blocks: 120, 8;
        free_inodes: 128, 8;
        mount_count: 136, 4;
        inode_size: 140, 4;
        mount_time: 144, 8;
        write_time: 152, 8;
        reserved: 160, 348;
        checksum: 508, 4;
    });
    assert_layout!(DiskGroupDesc, DiskGroupDesc::default(), {
        free_blocks: 0, 4;
        free_inodes: 4, 4;
        used_dirs: 8, 4;
        flags: 12, 4;
        reserved: 16, 12;
        checksum: 28, 4;
    });
    assert_layout!(DiskInode, DiskInode::default(), {
        mode: 0, 2;
        height: 2, 1;
        iflags2: 3, 1;
        links: 4, 4;
        uid: 8, 4;
        gid: 12, 4;
        flags: 16, 4;
        generation: 20, 4;
        size: 24, 8;
        blocks: 32, 8;
        atime: 40, 8;
        mtime: 48, 8;
        ctime: 56, 8;
        atime_ns: 64, 4;
        mtime_ns: 68, 4;
        ctime_ns: 72, 4;
        next_orphan: 76, 4;
        roots: 80, 40;
        seq: 120, 4;
        checksum: 124, 4;
    });
    assert_layout!(DiskDirentHead, DiskDirentHead::default(), {
        ino: 0, 4;
        name_len: 4, 1;
        file_type: 5, 1;
        nslots: 6, 1;
        zero: 7, 1;
        checksum: 8, 4;
        name: 12, 20;
    });
    assert_layout!(DiskXattrHeader, DiskXattrHeader::default(), {
        magic: 0, 4;
        checksum: 4, 4;
        refcount: 8, 8;
        count: 16, 2;
        used: 18, 2;
        zero: 20, 12;
    });
    assert_eq!(SUPERBLOCK_CSUM_OFFSET, 508);

    // Superblock: fields past those `layout_is_stable` checks.
    let mut sb = sample();
    sb.state = state::DIRTY;
    sb.orphan_head = 0x1122_3344;
    sb.free_blocks = 0x0102_0304_0506_0708;
    sb.free_inodes = 0x1112_1314_1516_1718;
    sb.mount_count = 0x2122_2324;
    sb.mount_time = 0x3132_3334_3536_3738;
    sb.write_time = 0x4142_4344_4546_4748;
    sb.reserved[0] = 0x5a;
    let b = encoded(&sb);
    assert_eq!(&b[0..4], &MAGIC.to_le_bytes());
    assert_eq!(&b[12..16], &1u32.to_le_bytes());
    assert_eq!(
        &b[32..40],
        &(feature::INCOMPAT_UNWRITTEN | feature::INCOMPAT_XATTR).to_le_bytes()
    );
    assert_eq!(&b[48..56], &1_700_000_000u64.to_le_bytes());
    assert_eq!(&b[116..120], &0x1122_3344u32.to_le_bytes());
    assert_eq!(&b[120..128], &0x0102_0304_0506_0708u64.to_le_bytes());
    assert_eq!(&b[128..136], &0x1112_1314_1516_1718u64.to_le_bytes());
    assert_eq!(&b[136..140], &0x2122_2324u32.to_le_bytes());
    assert_eq!(&b[144..152], &0x3132_3334_3536_3738u64.to_le_bytes());
    assert_eq!(&b[152..160], &0x4142_4344_4546_4748u64.to_le_bytes());
    assert_eq!(b[160], 0x5a);
    assert_eq!(&b[508..512], &crc32c(&b[..508]).to_le_bytes());

    // Group descriptor 5.
    let gd = GroupDesc {
        free_blocks: 0x0a0b_0c0d,
        free_inodes: 0x1a1b_1c1d,
        used_dirs: 0x2a2b_2c2d,
        flags: 0,
    };
    let mut b = [0xffu8; GROUP_DESC_SIZE];
    gd.encode(&mut b, 5);
    assert_eq!(&b[0..4], &0x0a0b_0c0du32.to_le_bytes());
    assert_eq!(&b[4..8], &0x1a1b_1c1du32.to_le_bytes());
    assert_eq!(&b[8..12], &0x2a2b_2c2du32.to_le_bytes());
    assert!(b[12..28].iter().all(|&x| x == 0));
    let csum = !crc32c_update(crc32c_update(!0, &5u32.to_le_bytes()), &b[..28]);
    assert_eq!(&b[28..32], &csum.to_le_bytes());

    // Inode 77, written as copy 1 (bytes 128..256 of the slot).
    let i = Inode {
        mode: mode::S_IFREG | 0o600,
        height: 2,
        iflags2: 0,
        links: 0x0304_0506,
        uid: 0x1314_1516,
        gid: 0x2324_2526,
        flags: iflags::DAX,
        generation: 0x3334_3536,
        size: 0x4142_4344_4546,
        blocks: 0x5152_5354,
        atime: -2,
        mtime: 0x6162_6364,
        ctime: 0x7172_7374,
        atime_ns: 1,
        mtime_ns: 2,
        ctime_ns: 3,
        next_orphan: 0x0a0b_0c0d,
        roots: [0x101, 0x202, 0x303, 0x404, 0x505],
        seq: 0x0e0f_1011,
    };
    let mut slot = [0u8; INODE_SIZE];
    i.encode_copy(&mut slot, 1, 77);
    assert!(slot[..INODE_COPY_SIZE].iter().all(|&x| x == 0));
    let c = &slot[INODE_COPY_SIZE..];
    assert_eq!(&c[0..2], &(mode::S_IFREG | 0o600).to_le_bytes());
    assert_eq!((c[2], c[3]), (2, 0));
    assert_eq!(&c[4..8], &0x0304_0506u32.to_le_bytes());
    assert_eq!(&c[8..12], &0x1314_1516u32.to_le_bytes());
    assert_eq!(&c[12..16], &0x2324_2526u32.to_le_bytes());
    assert_eq!(&c[16..20], &iflags::DAX.to_le_bytes());
    assert_eq!(&c[20..24], &0x3334_3536u32.to_le_bytes());
    assert_eq!(&c[24..32], &0x4142_4344_4546u64.to_le_bytes());
    assert_eq!(&c[32..40], &0x5152_5354u64.to_le_bytes());
    assert_eq!(&c[40..48], &(-2i64).to_le_bytes());
    assert_eq!(&c[48..56], &0x6162_6364u64.to_le_bytes());
    assert_eq!(&c[56..64], &0x7172_7374u64.to_le_bytes());
    assert_eq!(&c[64..76], &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
    assert_eq!(&c[76..80], &0x0a0b_0c0du32.to_le_bytes());
    for (k, r) in [0x101u64, 0x202, 0x303, 0x404, 0x505].iter().enumerate() {
        assert_eq!(&c[80 + 8 * k..88 + 8 * k], &r.to_le_bytes(), "roots[{k}]");
    }
    assert_eq!(&c[120..124], &0x0e0f_1011u32.to_le_bytes());
    let csum = !crc32c_update(crc32c_update(!0, &77u32.to_le_bytes()), &c[..124]);
    assert_eq!(&c[124..128], &csum.to_le_bytes());

    // A directory entry with a 25-byte name at slot 3: head, then the
    // last 5 name bytes at the start of slot 4.
    let name = b"abcdefghijklmnopqrstuvwxy";
    let mut blk = vec![0xffu8; BLOCK_SIZE as usize];
    Dirent::encode(&mut blk, 3, 0x0102_0304, dirent::DT_REG, name);
    let h = &blk[3 * 32..5 * 32];
    assert_eq!(&h[0..4], &0x0102_0304u32.to_le_bytes());
    assert_eq!(&h[4..8], &[25, dirent::DT_REG, 2, 0]);
    let csum = !crc32c_update(crc32c_update(!0, &h[..8]), name);
    assert_eq!(&h[8..12], &csum.to_le_bytes());
    assert_eq!(&h[12..32], &name[..20]);
    assert_eq!(&h[32..37], &name[20..]);
    assert!(h[37..].iter().all(|&x| x == 0));
    assert_eq!(blk[2 * 32 + 31], 0xff);
    assert_eq!(blk[5 * 32], 0xff);
}

/// `crc32c_update` continues a raw (uninverted) state and does not invert
/// its result, as the kernel's `crc32c(seed, buf, len)` does (the module
/// calls that instead). The vectors are crypto/testmgr.h's
/// `crc32c_tv_template`: a digest is `!crc32c_update(key, data)`, the key
/// being the initial state (`~0` when none is given).
#[test]
fn crc32c_update_matches_kernel_convention() {
    assert_eq!(!crc32c_update(!0, b""), 0);
    assert_eq!(!crc32c_update(!0, b"abcdefg"), 0xe627_f441);
    assert_eq!(!crc32c_update(0xedcb_a987, b""), 0x1234_5678);
    let data: Vec<u8> = (1..=40u8).collect();
    assert_eq!(!crc32c_update(!0, &data), 0x0e2c_157f);
    let data: Vec<u8> = (0x29..=0x50u8).collect();
    assert_eq!(!crc32c_update(!0, &data), 0xe980_ebf6);
}

/// Builds a sealed attribute block at `block` from `(ns, name, value)`
/// triples, set one by one.
fn xattr_block(block: u64, attrs: &[(u8, &[u8], &[u8])]) -> [u8; 4096] {
    let mut cur = [0u8; 4096];
    let mut have = false;
    for &(ns, name, value) in attrs {
        let mut out = [0u8; 4096];
        let old = have.then(|| XattrBlock::decode(&cur, block).unwrap());
        let n = xattr_edit(
            &mut out,
            old.as_ref(),
            ns,
            name,
            Some(value),
            XattrMode::Any,
        )
        .unwrap();
        assert!(n > 0);
        xattr_seal(&mut out, block);
        cur = out;
        have = true;
    }
    cur
}

#[test]
fn xattr_names() {
    use xattr::*;
    assert_eq!(split_name(b"user.foo"), Some((NS_USER, &b"foo"[..])));
    assert_eq!(split_name(b"trusted.x"), Some((NS_TRUSTED, &b"x"[..])));
    assert_eq!(
        split_name(b"security.selinux"),
        Some((NS_SECURITY, &b"selinux"[..]))
    );
    assert_eq!(
        split_name(b"system.posix_acl_access"),
        Some((NS_ACL_ACCESS, &b""[..]))
    );
    assert_eq!(
        split_name(b"system.posix_acl_default"),
        Some((NS_ACL_DEFAULT, &b""[..]))
    );
    assert_eq!(split_name(b"user."), None);
    assert_eq!(split_name(b"system.posix_acl_accessx"), None);
    assert_eq!(split_name(b"os2.foo"), None);
    assert_eq!(
        split_name(&[b"user.".as_slice(), &[b'a'; 256]].concat()),
        None
    );
    assert!(split_name(&[b"user.".as_slice(), &[b'a'; 255]].concat()).is_some());
    assert_eq!(index_pos(1), (0, 8));
    assert_eq!(index_pos(511), (0, 4088));
    assert_eq!(index_pos(512), (1, 0));
    assert_eq!(index_size(511), 4096);
    assert_eq!(index_size(512), 8192);
    assert_eq!(entry_size(3, 5), 12);
    assert_eq!(entry_size(1, VALUE_MAX), AREA);
}

#[test]
fn xattr_blocks() {
    use xattr::*;
    let b = xattr_block(
        900,
        &[
            (NS_USER, b"zeta", b"1"),
            (NS_SECURITY, b"selinux", b"label"),
            (NS_USER, b"alpha", b""),
            (NS_ACL_ACCESS, b"", &[2, 0, 0, 0]),
        ],
    );
    let x = XattrBlock::decode(&b, 900).unwrap();
    assert_eq!((x.count, x.refcount), (4, 1));
    let order: std::vec::Vec<_> = x.entries().map(|e| (e.ns, e.name)).collect();
    assert_eq!(
        order,
        [
            (NS_USER, &b"alpha"[..]),
            (NS_USER, &b"zeta"[..]),
            (NS_SECURITY, &b"selinux"[..]),
            (NS_ACL_ACCESS, &b""[..]),
        ]
    );
    assert_eq!(x.get(NS_USER, b"zeta"), Some(&b"1"[..]));
    assert_eq!(x.get(NS_USER, b"alpha"), Some(&b""[..]));
    assert_eq!(x.get(NS_TRUSTED, b"zeta"), None);
    assert_eq!(x.entries().next().unwrap().full_name_len(), 10);
    // Misdirected: the block number is in the checksum.
    assert_eq!(
        XattrBlock::decode(&b, 901).unwrap_err(),
        XattrError::BadChecksum
    );
    // The reference count is not.
    let mut r = b;
    xattr_set_refcount(&mut r, 7);
    assert_eq!(XattrBlock::decode(&r, 900).unwrap().refcount, 7);
    xattr_set_refcount(&mut r, 0);
    assert!(matches!(
        XattrBlock::decode(&r, 900),
        Err(XattrError::BadHeader(_))
    ));
    // The set's bytes ignore the block number, the checksum and the
    // reference count, and nothing else.
    let mut moved = r;
    xattr_set_refcount(&mut moved, 3);
    xattr_seal(&mut moved, 77);
    assert_eq!(xattr_set_bytes(&moved), xattr_set_bytes(&b));
    assert_eq!(xattr_set_bytes(&b).len(), 4096 - 16);
    moved[40] ^= 1;
    assert_ne!(xattr_set_bytes(&moved), xattr_set_bytes(&b));
    // Any other byte is.
    for i in [0usize, 17, 40, 4095] {
        let mut c = b;
        c[i] ^= 1;
        assert!(XattrBlock::decode(&c, 900).is_err(), "byte {i}");
    }

    let mut out = [0u8; 4096];
    // Create, replace, remove.
    assert_eq!(
        xattr_edit(
            &mut out,
            Some(&x),
            NS_USER,
            b"zeta",
            Some(b"2"),
            XattrMode::Create
        ),
        Err(XattrEditError::Exists)
    );
    assert_eq!(
        xattr_edit(
            &mut out,
            Some(&x),
            NS_USER,
            b"nope",
            Some(b"2"),
            XattrMode::Replace
        ),
        Err(XattrEditError::NotFound)
    );
    assert_eq!(
        xattr_edit(&mut out, Some(&x), NS_USER, b"nope", None, XattrMode::Any),
        Err(XattrEditError::NotFound)
    );
    assert_eq!(
        xattr_edit(
            &mut out,
            None,
            NS_ACL_ACCESS,
            b"x",
            Some(b""),
            XattrMode::Any
        ),
        Err(XattrEditError::Invalid)
    );
    assert_eq!(
        xattr_edit(
            &mut out,
            Some(&x),
            NS_USER,
            b"zeta",
            Some(b"two"),
            XattrMode::Replace
        ),
        Ok(4)
    );
    xattr_seal(&mut out, 5);
    let y = XattrBlock::decode(&out, 5).unwrap();
    assert_eq!(y.get(NS_USER, b"zeta"), Some(&b"two"[..]));
    assert_eq!(y.get(NS_SECURITY, b"selinux"), Some(&b"label"[..]));
    let mut cur = out;
    for (ns, name) in [
        (NS_USER, &b"alpha"[..]),
        (NS_USER, b"zeta"),
        (NS_SECURITY, b"selinux"),
    ] {
        let old = XattrBlock::decode(&cur, 5).unwrap();
        let n = xattr_edit(&mut out, Some(&old), ns, name, None, XattrMode::Any).unwrap();
        assert_eq!(n, old.count - 1);
        xattr_seal(&mut out, 5);
        cur = out;
    }
    let old = XattrBlock::decode(&cur, 5).unwrap();
    assert_eq!(
        xattr_edit(
            &mut out,
            Some(&old),
            NS_ACL_ACCESS,
            b"",
            None,
            XattrMode::Any
        ),
        Ok(0)
    );
    assert_eq!(out, [0u8; 4096]);
}

#[test]
fn xattr_limits() {
    use xattr::*;
    let mut out = [0u8; 4096];
    let big = [7u8; VALUE_MAX + 1];
    assert_eq!(
        xattr_edit(&mut out, None, NS_USER, b"a", Some(&big), XattrMode::Any),
        Err(XattrEditError::NoSpace)
    );
    assert_eq!(
        xattr_edit(
            &mut out,
            None,
            NS_USER,
            b"a",
            Some(&big[..VALUE_MAX]),
            XattrMode::Any
        ),
        Ok(1)
    );
    xattr_seal(&mut out, 77);
    let full = XattrBlock::decode(&out, 77).unwrap();
    assert_eq!(full.used, AREA);
    let mut out2 = [0u8; 4096];
    assert_eq!(
        xattr_edit(
            &mut out2,
            Some(&full),
            NS_USER,
            b"b",
            Some(b""),
            XattrMode::Any
        ),
        Err(XattrEditError::NoSpace)
    );
    // Replacing the only entry with a smaller one always fits.
    assert_eq!(
        xattr_edit(
            &mut out2,
            Some(&full),
            NS_USER,
            b"a",
            Some(b"x"),
            XattrMode::Any
        ),
        Ok(1)
    );
    // Fill with many small entries, in random order; the result is sorted.
    let mut cur = [0u8; 4096];
    let mut n = 0u16;
    let mut seed = 99u32;
    loop {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let name = std::format!("attr{:05}", seed % 100_000);
        let old = (n > 0).then(|| XattrBlock::decode(&cur, 3).unwrap());
        match xattr_edit(
            &mut out,
            old.as_ref(),
            NS_USER,
            name.as_bytes(),
            Some(b"v"),
            XattrMode::Any,
        ) {
            Ok(c) => {
                n = c;
                xattr_seal(&mut out, 3);
                cur = out;
            }
            Err(XattrEditError::NoSpace) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(n as usize, AREA / entry_size(9, 1));
    let x = XattrBlock::decode(&cur, 3).unwrap();
    assert!(x
        .entries()
        .zip(x.entries().skip(1))
        .all(|(a, b)| a.name < b.name));
}

#[test]
fn xattr_decode_rejects_and_never_panics() {
    use xattr::*;
    let good = xattr_block(10, &[(NS_USER, b"k", b"value"), (NS_TRUSTED, b"t", b"v2")]);
    let reseal = |mut b: [u8; 4096]| {
        xattr_seal(&mut b, 10);
        XattrBlock::decode(&b, 10).map(|x| {
            for e in x.entries() {
                let _ = (e.full_name_len(), e.value.len());
            }
        })
    };
    let bad_entry = |r: Result<(), XattrError>| {
        matches!(
            r,
            Err(XattrError::BadEntry { .. }) | Err(XattrError::BadHeader(_))
        )
    };
    // Unknown namespace, empty name, NUL in a name, name on an ACL.
    for (off, v) in [(32usize, 0u8), (32, 9), (33, 0), (36, 0)] {
        let mut b = good;
        b[off] = v;
        assert!(bad_entry(reseal(b)), "byte {off} = {v}");
    }
    let mut b = good;
    b[32] = NS_ACL_ACCESS;
    assert!(bad_entry(reseal(b)));
    // Out of order: swap namespaces so trusted comes first.
    let mut b = good;
    b[32] = NS_TRUSTED;
    b[44] = NS_USER;
    assert!(bad_entry(reseal(b)));
    // Count and used that disagree with the entries.
    for (off, v) in [
        (16usize, 3u8),
        (16, 0),
        (18, 4),
        (18, 0),
        (18, 2),
        (19, 0x10),
    ] {
        let mut b = good;
        b[off] = v;
        assert!(reseal(b).is_err(), "header byte {off} = {v}");
    }
    // Garbage after the entries, in padding, in the reserved header bytes.
    for off in [100usize, 4095, 43, 25] {
        let mut b = good;
        b[off] = 1;
        assert!(reseal(b).is_err(), "byte {off}");
    }
    assert!(reseal(good).is_ok());
    assert_eq!(
        XattrBlock::decode(&good[..100], 10).unwrap_err(),
        XattrError::Truncated
    );
    // Random damage, resealed so the checks past the checksum run.
    let mut seed = 0xfeed_beefu64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let mut b = good;
        for _ in 0..(1 + next() % 4) {
            b[(next() % 64) as usize] = next() as u8;
        }
        let _ = reseal(b);
    }
}

/// statfs's available blocks are the most that fit, as one file with its
/// map, in the free blocks.
#[test]
fn available_blocks_fit_with_their_map() {
    assert_eq!(map_blocks_for(0), 0);
    assert_eq!(map_blocks_for(5), 0);
    assert_eq!(map_blocks_for(6), 1);
    assert_eq!(map_blocks_for(2560), 5);
    assert_eq!(map_blocks_for(2561), 6 + 1);
    let mut n = 0u64;
    while n < 1 << 34 {
        let d = data_blocks_within(n);
        assert!(
            d + map_blocks_for(d) <= n,
            "{n} free: {d} data blocks do not fit"
        );
        assert!(
            d + 1 + map_blocks_for(d + 1) > n,
            "{n} free: {} would fit",
            d + 1
        );
        n = if n < 6000 { n + 1 } else { n * 3 / 2 + 1 };
    }
}
