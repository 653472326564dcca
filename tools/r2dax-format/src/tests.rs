// SPDX-License-Identifier: GPL-2.0
//! Unit tests for the on-disk format.

use super::*;
use std::format;

fn sample() -> Superblock {
    let mut label = [0u8; LABEL_LEN];
    label[..4].copy_from_slice(b"test");
    Superblock::new(524_288, [0xab; 16], label, 1_700_000_000)
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
    assert_eq!(&buf[4..8], &[0, 0, 1, 0]); // version 0.1
    assert_eq!(&buf[8..12], &4096u32.to_le_bytes());
    assert_eq!(&buf[40..48], &524_288u64.to_le_bytes());
    assert_eq!(&buf[56..72], &[0xab; 16]);
    assert_eq!(&buf[72..76], b"test");
    assert!(buf[104..508].iter().all(|&b| b == 0));
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
    let cases: [(usize, &[u8], SbError); 5] = [
        (
            4,
            &[1, 0],
            SbError::UnsupportedVersion { major: 1, minor: 1 },
        ),
        (32, &[4], SbError::UnknownIncompat { bits: 4 }),
        (8, &[0, 2, 0, 0], SbError::BadBlockSize { found: 512 }),
        (12, &[2], SbError::BadState { found: 2 }),
        (40, &[1, 0, 0], SbError::TooSmall { blocks: 1 }),
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
