// SPDX-License-Identifier: GPL-2.0
//! mkfs.r2dax: create an r2dax filesystem on a block device or image file.
//!
//! The library holds everything; `src/main.rs` is the command.

mod image;
mod probe;

use r2dax_disk::{Device, BS};
use r2dax_format::{
    groups_for, Geometry, Superblock, UuidFmt, BLOCKS_PER_GROUP, BLOCK_SIZE,
    DEFAULT_BYTES_PER_INODE, FIRST_INO, INODES_PER_BLOCK, LABEL_LEN, MAX_GROUPS, MIN_BLOCKS,
};
use std::fs::File;
use std::io::{self, Read};
use std::time::{SystemTime, UNIX_EPOCH};

/// The `--help` text.
pub const USAGE: &str = "\
Usage: mkfs.r2dax [options] DEVICE [SIZE]

Create an r2dax filesystem on DEVICE (a block device such as /dev/pmem0,
or an image file). SIZE limits the filesystem to fewer bytes than the
device has; it takes the suffixes K, M, G and T (powers of 1024).

Options:
  -L LABEL   volume label (at most 32 bytes)
  -N INODES  number of inodes (default: one per 16 KiB)
  -d DIR     copy the tree under DIR into the new filesystem (regular
             files, directories, symlinks, device nodes, FIFOs, hard
             links; all-zero blocks become holes)
  -U UUID    filesystem UUID (default: random)
  -f         overwrite an existing filesystem or partition table
  -n         dry run: print what would be made, write nothing
  -q         quiet
  -h, --help show this help
  -V         print the version

mkfs.r2dax never formats a mounted device, even with -f.
Exit status: 0 success, 1 operational error, 2 usage error.
";

/// Parsed command line.
#[derive(Debug, Default, PartialEq)]
pub struct Args {
    /// See USAGE.
    pub label: [u8; LABEL_LEN],
    /// See USAGE.
    pub uuid: Option<[u8; 16]>,
    /// See USAGE.
    pub force: bool,
    /// See USAGE.
    pub dry_run: bool,
    /// See USAGE.
    pub quiet: bool,
    /// See USAGE.
    pub device: String,
    /// See USAGE.
    pub size: Option<u64>,
    /// See USAGE.
    pub inodes: Option<u64>,
    /// See USAGE (`-d`).
    pub source: Option<String>,
}

/// What the command line asks for.
pub enum Cli {
    /// Make a filesystem.
    Run(Args),
    /// Print the help.
    Help,
    /// Print the version.
    Version,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 1 << 30),
        Some(b't' | b'T') => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("invalid size '{s}'"))
}

fn parse_uuid(s: &str) -> Result<[u8; 16], String> {
    let hex: Vec<u8> = s.bytes().filter(|&c| c != b'-').collect();
    let bad = || format!("invalid UUID '{s}'");
    if hex.len() != 32 || s.len() != 36 {
        return Err(bad());
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let txt = std::str::from_utf8(pair).map_err(|_| bad())?;
        out[i] = u8::from_str_radix(txt, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Parses the arguments (without the program name).
pub fn parse_args<I: IntoIterator<Item = String>>(argv: I) -> Result<Cli, String> {
    let mut args = Args::default();
    let mut pos = Vec::new();
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(Cli::Help),
            "-V" | "--version" => return Ok(Cli::Version),
            "-f" => args.force = true,
            "-n" => args.dry_run = true,
            "-q" => args.quiet = true,
            "-L" => {
                let l = it.next().ok_or("-L needs a label")?;
                if l.len() > LABEL_LEN {
                    return Err(format!("label '{l}' is longer than {LABEL_LEN} bytes"));
                }
                args.label = [0; LABEL_LEN];
                args.label[..l.len()].copy_from_slice(l.as_bytes());
            }
            "-d" => args.source = Some(it.next().ok_or("-d needs a directory")?),
            "-N" => {
                let n = it.next().ok_or("-N needs a number")?;
                args.inodes = Some(
                    n.parse::<u64>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("invalid inode count '{n}'"))?,
                );
            }
            "-U" => args.uuid = Some(parse_uuid(&it.next().ok_or("-U needs a UUID")?)?),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option '{s}'")),
            _ => pos.push(a),
        }
    }
    match pos.len() {
        0 => return Err("no device given".into()),
        1 | 2 => {}
        _ => return Err(format!("unexpected argument '{}'", pos[2])),
    }
    args.device = pos[0].clone();
    if let Some(s) = pos.get(1) {
        args.size = Some(parse_size(s)?);
    }
    Ok(Cli::Run(args))
}

/// Whether block 0 holds an r2dax superblock, or the start of one that
/// does not decode (libblkid knows every other filesystem, not r2dax).
fn is_r2dax(block0: &[u8]) -> bool {
    Superblock::decode(block0).is_ok() || block0.starts_with(b"R2DX")
}

/// Refuses to write over anything already on the device: an r2dax
/// filesystem, or any filesystem or partition table libblkid finds (as
/// mkfs.xfs does). A probe that fails refuses too: what is on the device
/// is then unknown.
fn check_overwrite(dev: &Device) -> Result<(), String> {
    let path = &dev.path;
    let what = if is_r2dax(&dev.read_block(0)?) {
        probe::Found::Filesystem("r2dax".into())
    } else {
        probe::probe(dev.as_fd()).map_err(|e| {
            format!("probe of {path} failed ({e}), cannot detect an existing filesystem; use -f to overwrite it")
        })?
    };
    match what {
        probe::Found::Nothing => Ok(()),
        probe::Found::Filesystem(t) => Err(format!(
            "{path} appears to contain an existing filesystem ({t}); use -f to overwrite it"
        )),
        probe::Found::PartitionTable(t) => Err(format!(
            "{path} appears to contain a partition table ({t}); use -f to overwrite it"
        )),
        probe::Found::Unknown => Err(format!(
            "{path} appears to contain a signature libblkid cannot name; use -f to overwrite it"
        )),
    }
}

fn random_uuid() -> io::Result<[u8; 16]> {
    let mut u = [0u8; 16];
    File::open("/dev/urandom")?.read_exact(&mut u)?;
    u[6] = (u[6] & 0x0f) | 0x40; // version 4
    u[8] = (u[8] & 0x3f) | 0x80; // RFC 4122 variant
    Ok(u)
}

/// Chooses blocks and inodes per group for a device of `bytes` bytes.
/// Drops a last partial group that cannot hold its own metadata (as
/// mke2fs does) and returns `(blocks, inodes_per_group)`.
fn layout(bytes: u64, inodes: Option<u64>) -> Result<(u64, u32), String> {
    let mut blocks = bytes / BLOCK_SIZE as u64;
    if blocks < MIN_BLOCKS {
        return Err(format!(
            "{bytes} bytes is too small (minimum {} bytes)",
            MIN_BLOCKS * BLOCK_SIZE as u64
        ));
    }
    let groups = u64::from(groups_for(blocks));
    let wanted = inodes.unwrap_or(blocks * BLOCK_SIZE as u64 / DEFAULT_BYTES_PER_INODE);
    let per_group = wanted.div_ceil(groups).max(u64::from(FIRST_INO));
    let ipb = u64::from(INODES_PER_BLOCK);
    let ipg = (per_group.div_ceil(ipb) * ipb).min(u64::from(BLOCKS_PER_GROUP)) as u32;
    let meta = 2 + u64::from(ipg / INODES_PER_BLOCK);
    let last = groups_for(blocks) - 1;
    let geo = Geometry {
        blocks_count: blocks,
        inodes_per_group: ipg,
        group_count: last + 1,
    };
    if geo.group_blocks(last) <= meta + 1 {
        blocks = geo.group_start(last);
    }
    if groups_for(blocks) == 0 || groups_for(blocks) > MAX_GROUPS {
        return Err(format!("{bytes} bytes cannot hold an r2dax filesystem"));
    }
    Ok((blocks, ipg))
}

/// Makes the filesystem described by `args`.
pub fn run(args: &Args) -> Result<(), String> {
    let dev = Device::open(&args.device, !args.dry_run)?;
    let devname = &args.device;
    let bytes = match args.size {
        Some(s) if s > dev.bytes => {
            return Err(format!(
                "size {s} is larger than {devname} ({} bytes)",
                dev.bytes
            ))
        }
        Some(s) => s,
        None => dev.bytes,
    };
    let (blocks, ipg) = layout(bytes, args.inodes).map_err(|e| format!("{devname}: {e}"))?;

    if !args.force {
        check_overwrite(&dev)?;
    }

    let uuid = match args.uuid {
        Some(u) => u,
        None => random_uuid().map_err(|e| format!("/dev/urandom: {e}"))?,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut sb = Superblock::new(blocks, ipg, uuid, args.label, now);
    let geo = sb.geometry();
    if let Err(e) = sb.check_geometry() {
        return Err(format!("{devname}: internal error: {e}"));
    }
    if !args.quiet {
        println!(
            "{}r2dax {}.{} on {devname}: {blocks} blocks of {BLOCK_SIZE} bytes, {} inodes, \
             {} groups, uuid {}{}",
            if args.dry_run { "(dry run) " } else { "" },
            sb.version_major,
            sb.version_minor,
            geo.inodes_count(),
            geo.group_count,
            UuidFmt(&uuid),
            match sb.label_str() {
                Some(l) if !l.is_empty() => format!(", label \"{l}\""),
                _ => String::new(),
            }
        );
    }
    if args.dry_run {
        return Ok(());
    }

    // Invalidate any old superblock first: a crash during mkfs must not
    // leave an old superblock in front of half-written new metadata.
    dev.write_blocks(0, &vec![0u8; BS])?;
    dev.sync()?;
    let mut b = image::Builder::new(&dev, geo, now as i64);
    image::populate(&mut b, args.source.as_deref().map(std::path::Path::new))
        .map_err(|e| format!("{devname}: {e}"))?;
    b.finish(&mut sb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Result<Cli, String> {
        parse_args(v.iter().map(|s| s.to_string()))
    }

    fn run_args(v: &[&str]) -> Args {
        match args(v) {
            Ok(Cli::Run(a)) => a,
            Ok(_) => panic!("expected a run for {v:?}"),
            Err(e) => panic!("{v:?}: {e}"),
        }
    }

    fn image(bytes: u64) -> (std::path::PathBuf, File) {
        let dir = std::env::temp_dir().join(format!(
            "r2dax-mkfs-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let path = dir.with_extension("img");
        let f = File::create(&path).unwrap();
        f.set_len(bytes).unwrap();
        (path, f)
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("16M"), Ok(16 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("12x").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn uuids() {
        let u = parse_uuid("12345678-9abc-def0-0123-456789abcdef").unwrap();
        assert_eq!(u[0], 0x12);
        assert_eq!(u[15], 0xef);
        assert!(parse_uuid("12345678-9abc-def0-0123-456789abcde").is_err());
        assert!(parse_uuid("1234567g-9abc-def0-0123-456789abcdef").is_err());
        let r = random_uuid().unwrap();
        assert_eq!(r[6] >> 4, 4);
    }

    #[test]
    fn arguments() {
        let a = run_args(&["-f", "-L", "lab", "/dev/pmem0", "1G"]);
        assert!(a.force);
        assert_eq!(&a.label[..4], b"lab\0");
        assert_eq!(a.size, Some(1 << 30));
        assert!(matches!(args(&["--help"]), Ok(Cli::Help)));
        assert!(args(&[]).is_err());
        assert!(args(&["-x", "dev"]).is_err());
        assert!(args(&["a", "1G", "c"]).is_err());
        assert!(args(&["-L", &"x".repeat(33), "dev"]).is_err());
    }

    #[test]
    fn r2dax_signature() {
        let mut b = vec![0u8; 4096];
        assert!(!is_r2dax(&b));
        b[..4].copy_from_slice(b"R2DX");
        assert!(is_r2dax(&b));
    }

    #[test]
    fn formats_an_image_and_refuses_to_overwrite_without_force() {
        let (path, _f) = image(64 << 20);
        let p = path.to_str().unwrap();
        run(&run_args(&["-q", "-L", "t", p])).unwrap();
        let mut buf = vec![0u8; 4096];
        File::open(&path).unwrap().read_exact(&mut buf).unwrap();
        let sb = Superblock::decode(&buf).unwrap();
        assert_eq!(sb.blocks_count, (64 << 20) / 4096);
        assert_eq!(sb.label_str(), Some("t"));
        sb.check_device(64 << 20).unwrap();

        let err = run(&run_args(&["-q", p])).unwrap_err();
        assert!(err.contains("existing filesystem (r2dax)"), "{err}");
        run(&run_args(&["-q", "-f", p, "32M"])).unwrap();
        File::open(&path).unwrap().read_exact(&mut buf).unwrap();
        assert_eq!(Superblock::decode(&buf).unwrap().blocks_count, 8192);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn refuses_tiny_and_oversized() {
        let (path, _f) = image(8 << 20);
        let p = path.to_str().unwrap();
        assert!(run(&run_args(&["-q", p]))
            .unwrap_err()
            .contains("too small"));
        assert!(run(&run_args(&["-q", p, "1G"]))
            .unwrap_err()
            .contains("larger than"));
        std::fs::remove_file(&path).unwrap();
    }
}
