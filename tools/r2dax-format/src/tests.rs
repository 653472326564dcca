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
