// SPDX-License-Identifier: GPL-2.0
//! mkfs.r2dax: create an r2dax filesystem on a block device or image file.
//!
//! The library holds everything; `src/main.rs` is the command.

mod image;
mod probe;

pub use image::ImageError;
pub use probe::ProbeError;
use r2dax_disk::{Device, DiskError, BS};
use r2dax_format::{
    feature, groups_for, Geometry, SbError, Superblock, UuidFmt, BLOCKS_PER_GROUP, BLOCK_SIZE,
    DEFAULT_BYTES_PER_INODE, FIRST_INO, INODES_PER_BLOCK, LABEL_LEN, MAX_GROUPS, MIN_BLOCKS,
};
use std::fmt;
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
             links, extended attributes and ACLs; all-zero blocks become
             holes)
  -O FEATURE turn a feature on (xattr, the default) or off (^xattr):
             without xattr, files have no extended attributes or ACLs,
             and modules older than the feature can mount the result
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
    /// `-O ^xattr`: leave extended attributes out.
    pub no_xattr: bool,
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

/// A command line [`parse_args`] cannot follow (exit status 2).
#[derive(Debug, PartialEq, Eq)]
pub enum UsageError {
    /// `option` is last, without its value (`what` it takes).
    MissingValue {
        option: &'static str,
        what: &'static str,
    },
    /// The label given is longer than `LABEL_LEN` bytes.
    LabelTooLong(String),
    /// The inode count given is not a positive number.
    BadInodeCount(String),
    /// The UUID given is not 32 hex digits in the 8-4-4-4-12 form.
    BadUuid(String),
    /// The SIZE given is not a number with an optional K, M, G or T, or
    /// overflows.
    BadSize(String),
    /// An option mkfs.r2dax does not know.
    UnknownOption(String),
    /// A feature (`-O`) mkfs.r2dax does not know.
    UnknownFeature(String),
    /// No DEVICE.
    NoDevice,
    /// An argument after DEVICE and SIZE.
    UnexpectedArgument(String),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::MissingValue { option, what } => write!(f, "{option} needs {what}"),
            UsageError::LabelTooLong(l) => {
                write!(f, "label '{l}' is longer than {LABEL_LEN} bytes")
            }
            UsageError::BadInodeCount(n) => write!(f, "invalid inode count '{n}'"),
            UsageError::BadUuid(u) => write!(f, "invalid UUID '{u}'"),
            UsageError::BadSize(s) => write!(f, "invalid size '{s}'"),
            UsageError::UnknownOption(o) => write!(f, "unknown option '{o}'"),
            UsageError::UnknownFeature(o) => {
                write!(f, "unknown feature '{o}' (known: xattr, ^xattr)")
            }
            UsageError::NoDevice => f.write_str("no device given"),
            UsageError::UnexpectedArgument(a) => write!(f, "unexpected argument '{a}'"),
        }
    }
}

impl std::error::Error for UsageError {}

/// Why [`run`] made no filesystem, or did not finish one (exit status 1).
#[derive(Debug)]
pub enum MkfsError {
    /// The device could not be opened, read, written or flushed; the
    /// message and the source are the device layer's.
    Disk(DiskError),
    /// SIZE is larger than `device`, which has `device_bytes` bytes.
    SizeTooLarge {
        size: u64,
        device: String,
        device_bytes: u64,
    },
    /// `bytes` bytes of `device` are fewer than the smallest filesystem.
    TooSmall { device: String, bytes: u64 },
    /// `bytes` bytes of `device` need more groups than a filesystem has.
    CannotHold { device: String, bytes: u64 },
    /// libblkid could not probe `path` (without `-f`).
    ProbeFailed { path: String, source: ProbeError },
    /// `path` holds a filesystem of type `fstype` (without `-f`).
    ExistingFilesystem { path: String, fstype: String },
    /// `path` holds a partition table of type `pttype` (without `-f`).
    PartitionTable { path: String, pttype: String },
    /// `path` holds a signature libblkid cannot name (without `-f`).
    UnknownSignature { path: String },
    /// No random UUID: /dev/urandom could not be read.
    Random(io::Error),
    /// The superblock made for `device` fails its own geometry check (a
    /// bug).
    Geometry { device: String, error: SbError },
    /// The root, lost+found or the `-d` tree could not be built on
    /// `device`.
    Populate { device: String, source: ImageError },
    /// Writing out the metadata failed; the message and the source are
    /// the builder's.
    Image(ImageError),
}

impl fmt::Display for MkfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MkfsError::Disk(e) => e.fmt(f),
            MkfsError::SizeTooLarge {
                size,
                device,
                device_bytes,
            } => write!(
                f,
                "size {size} is larger than {device} ({device_bytes} bytes)"
            ),
            MkfsError::TooSmall { device, bytes } => write!(
                f,
                "{device}: {bytes} bytes is too small (minimum {} bytes)",
                MIN_BLOCKS * BLOCK_SIZE as u64
            ),
            MkfsError::CannotHold { device, bytes } => {
                write!(f, "{device}: {bytes} bytes cannot hold an r2dax filesystem")
            }
            MkfsError::ProbeFailed { path, source } => write!(
                f,
                "probe of {path} failed ({source}), cannot detect an existing filesystem; \
                 use -f to overwrite it"
            ),
            MkfsError::ExistingFilesystem { path, fstype } => write!(
                f,
                "{path} appears to contain an existing filesystem ({fstype}); \
                 use -f to overwrite it"
            ),
            MkfsError::PartitionTable { path, pttype } => write!(
                f,
                "{path} appears to contain a partition table ({pttype}); use -f to overwrite it"
            ),
            MkfsError::UnknownSignature { path } => write!(
                f,
                "{path} appears to contain a signature libblkid cannot name; \
                 use -f to overwrite it"
            ),
            MkfsError::Random(e) => write!(f, "/dev/urandom: {e}"),
            MkfsError::Geometry { device, error } => {
                write!(f, "{device}: internal error: {error}")
            }
            MkfsError::Populate { device, source } => write!(f, "{device}: {source}"),
            MkfsError::Image(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for MkfsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Shown as is: their source is the inner error's.
            MkfsError::Disk(e) => e.source(),
            MkfsError::Image(e) => e.source(),
            MkfsError::ProbeFailed { source, .. } => Some(source),
            MkfsError::Random(e) => Some(e),
            MkfsError::Populate { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<DiskError> for MkfsError {
    fn from(e: DiskError) -> Self {
        MkfsError::Disk(e)
    }
}

impl From<ImageError> for MkfsError {
    fn from(e: ImageError) -> Self {
        MkfsError::Image(e)
    }
}

fn parse_size(s: &str) -> Result<u64, UsageError> {
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
        .ok_or_else(|| UsageError::BadSize(s.to_string()))
}

fn parse_uuid(s: &str) -> Result<[u8; 16], UsageError> {
    let hex: Vec<u8> = s.bytes().filter(|&c| c != b'-').collect();
    let bad = || UsageError::BadUuid(s.to_string());
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
pub fn parse_args<I: IntoIterator<Item = String>>(argv: I) -> Result<Cli, UsageError> {
    let mut args = Args::default();
    let mut pos = Vec::new();
    let mut it = argv.into_iter();
    let missing = |option, what| UsageError::MissingValue { option, what };
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(Cli::Help),
            "-V" | "--version" => return Ok(Cli::Version),
            "-f" => args.force = true,
            "-n" => args.dry_run = true,
            "-q" => args.quiet = true,
            "-L" => {
                let l = it.next().ok_or(missing("-L", "a label"))?;
                if l.len() > LABEL_LEN {
                    return Err(UsageError::LabelTooLong(l));
                }
                args.label = [0; LABEL_LEN];
                args.label[..l.len()].copy_from_slice(l.as_bytes());
            }
            "-d" => args.source = Some(it.next().ok_or(missing("-d", "a directory"))?),
            "-N" => {
                let n = it.next().ok_or(missing("-N", "a number"))?;
                match n.parse::<u64>() {
                    Ok(v) if v > 0 => args.inodes = Some(v),
                    _ => return Err(UsageError::BadInodeCount(n)),
                }
            }
            "-U" => args.uuid = Some(parse_uuid(&it.next().ok_or(missing("-U", "a UUID"))?)?),
            "-O" => {
                let list = it.next().ok_or(missing("-O", "a feature"))?;
                for feat in list.split(',') {
                    match feat {
                        "xattr" => args.no_xattr = false,
                        "^xattr" => args.no_xattr = true,
                        _ => return Err(UsageError::UnknownFeature(feat.to_string())),
                    }
                }
            }
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(UsageError::UnknownOption(s.to_string()))
            }
            _ => pos.push(a),
        }
    }
    match pos.len() {
        0 => return Err(UsageError::NoDevice),
        1 | 2 => {}
        _ => return Err(UsageError::UnexpectedArgument(pos[2].clone())),
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
fn check_overwrite(dev: &Device) -> Result<(), MkfsError> {
    let path = dev.path.clone();
    let what = if is_r2dax(&dev.read_block(0)?) {
        probe::Found::Filesystem("r2dax".into())
    } else {
        match probe::probe(dev.as_fd()) {
            Ok(found) => found,
            Err(source) => return Err(MkfsError::ProbeFailed { path, source }),
        }
    };
    match what {
        probe::Found::Nothing => Ok(()),
        probe::Found::Filesystem(fstype) => Err(MkfsError::ExistingFilesystem { path, fstype }),
        probe::Found::PartitionTable(pttype) => Err(MkfsError::PartitionTable { path, pttype }),
        probe::Found::Unknown => Err(MkfsError::UnknownSignature { path }),
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
/// mke2fs does) and returns `(blocks, inodes_per_group)`. `device` is
/// for the error.
fn layout(device: &str, bytes: u64, inodes: Option<u64>) -> Result<(u64, u32), MkfsError> {
    let mut blocks = bytes / BLOCK_SIZE as u64;
    if blocks < MIN_BLOCKS {
        return Err(MkfsError::TooSmall {
            device: device.to_string(),
            bytes,
        });
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
        return Err(MkfsError::CannotHold {
            device: device.to_string(),
            bytes,
        });
    }
    Ok((blocks, ipg))
}

/// Makes the filesystem described by `args`.
pub fn run(args: &Args) -> Result<(), MkfsError> {
    let dev = Device::open(&args.device, !args.dry_run)?;
    let devname = &args.device;
    let bytes = match args.size {
        Some(size) if size > dev.bytes => {
            return Err(MkfsError::SizeTooLarge {
                size,
                device: devname.clone(),
                device_bytes: dev.bytes,
            })
        }
        Some(s) => s,
        None => dev.bytes,
    };
    let (blocks, ipg) = layout(devname, bytes, args.inodes)?;

    if !args.force {
        check_overwrite(&dev)?;
    }

    let uuid = match args.uuid {
        Some(u) => u,
        None => random_uuid().map_err(MkfsError::Random)?,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut sb = Superblock::new(blocks, ipg, uuid, args.label, now);
    if args.no_xattr {
        sb.feature_incompat &= !feature::INCOMPAT_XATTR;
    }
    let geo = sb.geometry();
    if let Err(error) = sb.check_geometry() {
        return Err(MkfsError::Geometry {
            device: devname.clone(),
            error,
        });
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
    let xattrs = sb.feature_incompat & feature::INCOMPAT_XATTR != 0;
    let mut b = image::Builder::new(&dev, geo, now as i64, xattrs);
    image::populate(&mut b, args.source.as_deref().map(std::path::Path::new)).map_err(
        |source| MkfsError::Populate {
            device: devname.clone(),
            source,
        },
    )?;
    Ok(b.finish(&mut sb)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Result<Cli, UsageError> {
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
        assert_eq!(parse_size("12x"), Err(UsageError::BadSize("12x".into())));
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
        assert_eq!(args(&[]).err(), Some(UsageError::NoDevice));
        assert_eq!(
            args(&["-x", "dev"]).err(),
            Some(UsageError::UnknownOption("-x".into()))
        );
        assert_eq!(
            args(&["a", "1G", "c"]).err(),
            Some(UsageError::UnexpectedArgument("c".into()))
        );
        assert!(matches!(
            args(&["-L", &"x".repeat(33), "dev"]),
            Err(UsageError::LabelTooLong(_))
        ));
        assert_eq!(
            args(&["dev", "-N"]).err().map(|e| e.to_string()),
            Some("-N needs a number".into())
        );
    }

    #[test]
    fn usage_errors_print_as_before() {
        let text = |v: &[&str]| args(v).err().map(|e| e.to_string());
        let cases: [(&[&str], &str); 12] = [
            (&["dev", "-L"], "-L needs a label"),
            (&["dev", "-d"], "-d needs a directory"),
            (&["dev", "-N"], "-N needs a number"),
            (&["dev", "-U"], "-U needs a UUID"),
            (
                &["-L", "0123456789abcdef0123456789abcdefX", "dev"],
                "label '0123456789abcdef0123456789abcdefX' is longer than 32 bytes",
            ),
            (&["-N", "0", "dev"], "invalid inode count '0'"),
            (&["-N", "x", "dev"], "invalid inode count 'x'"),
            (&["-U", "1234", "dev"], "invalid UUID '1234'"),
            (&["dev", "12x"], "invalid size '12x'"),
            (&["-x", "dev"], "unknown option '-x'"),
            (&["-q"], "no device given"),
            (&["a", "1G", "c"], "unexpected argument 'c'"),
        ];
        for (v, want) in cases {
            assert_eq!(text(v).as_deref(), Some(want), "{v:?}");
        }
    }

    #[test]
    fn errors_print_as_before() {
        let eio = || io::Error::from_raw_os_error(5);
        let dev = || "SCRATCH_DEV".to_string();
        let cases = [
            (
                MkfsError::Disk(DiskError::Mounted {
                    path: dev(),
                    mount_point: "SCRATCH_MNT".into(),
                }),
                "SCRATCH_DEV is mounted on SCRATCH_MNT",
            ),
            (
                MkfsError::SizeTooLarge {
                    size: 1 << 30,
                    device: "img".into(),
                    device_bytes: 8 << 20,
                },
                "size 1073741824 is larger than img (8388608 bytes)",
            ),
            (
                MkfsError::TooSmall {
                    device: "img".into(),
                    bytes: 8 << 20,
                },
                "img: 8388608 bytes is too small (minimum 16777216 bytes)",
            ),
            (
                MkfsError::CannotHold {
                    device: "img".into(),
                    bytes: 1 << 50,
                },
                "img: 1125899906842624 bytes cannot hold an r2dax filesystem",
            ),
            (
                MkfsError::ProbeFailed {
                    path: dev(),
                    source: ProbeError::Probe,
                },
                "probe of SCRATCH_DEV failed (probe failed), cannot detect an existing \
                 filesystem; use -f to overwrite it",
            ),
            (
                MkfsError::ExistingFilesystem {
                    path: dev(),
                    fstype: "xfs".into(),
                },
                "SCRATCH_DEV appears to contain an existing filesystem (xfs); \
                 use -f to overwrite it",
            ),
            (
                MkfsError::PartitionTable {
                    path: dev(),
                    pttype: "dos".into(),
                },
                "SCRATCH_DEV appears to contain a partition table (dos); use -f to overwrite it",
            ),
            (
                MkfsError::UnknownSignature { path: dev() },
                "SCRATCH_DEV appears to contain a signature libblkid cannot name; \
                 use -f to overwrite it",
            ),
            (
                MkfsError::Random(eio()),
                "/dev/urandom: Input/output error (os error 5)",
            ),
            (
                MkfsError::Geometry {
                    device: "img".into(),
                    error: SbError::BadGeometry { what: "x" },
                },
                "img: internal error: bad group geometry: x",
            ),
            (
                MkfsError::Populate {
                    device: "img".into(),
                    source: ImageError::Source {
                        path: "/src/a".into(),
                        source: io::Error::from_raw_os_error(2),
                    },
                },
                "img: /src/a: No such file or directory (os error 2)",
            ),
            (
                MkfsError::Image(ImageError::NoInodes),
                "no free inodes left",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn image_errors_print_as_before() {
        let cases = [
            (
                ImageError::Disk(DiskError::Write {
                    path: "img".into(),
                    block: 9,
                    source: io::Error::from_raw_os_error(5),
                }),
                "img: write block 9: Input/output error (os error 5)",
            ),
            (
                ImageError::FileTooLarge {
                    path: "/src/big".into(),
                },
                "/src/big: too large",
            ),
            (
                ImageError::BadName {
                    name: b"a/b".to_vec(),
                },
                "bad name \"a/b\"",
            ),
            (
                ImageError::BadSymlinkTarget { len: 0 },
                "bad symlink target",
            ),
            (ImageError::NoSpace, "no space left on the device"),
            (ImageError::NoInodes, "no free inodes left"),
            (
                ImageError::MapTooSmall { lblk: 1 << 40 },
                "file too large for its map",
            ),
            (ImageError::LostMapNode { block: 9 }, "lost map node"),
            (ImageError::NoParent { dir: 2 }, "no parent"),
            (ImageError::NoSuchDirectory { dir: 2 }, "no such directory"),
            (ImageError::LostHardLink { ino: 12 }, "lost hard link"),
            (ImageError::LostDirectory { ino: 12 }, "lost directory"),
            (ImageError::BadInodeNumber { ino: 0 }, "bad inode number"),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn populate_errors_keep_their_source() {
        use std::error::Error as _;
        let e = MkfsError::Populate {
            device: "img".into(),
            source: ImageError::Source {
                path: "/src/a".into(),
                source: io::Error::from_raw_os_error(13),
            },
        };
        let image = e.source().and_then(|s| s.downcast_ref::<ImageError>());
        assert!(matches!(image, Some(ImageError::Source { .. })));
        let io = image
            .and_then(|i| i.source())
            .and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(io.and_then(io::Error::raw_os_error), Some(13));
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
        assert!(
            matches!(&err, MkfsError::ExistingFilesystem { fstype, .. } if fstype == "r2dax"),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{p} appears to contain an existing filesystem (r2dax); use -f to overwrite it"
            )
        );
        run(&run_args(&["-q", "-f", p, "32M"])).unwrap();
        File::open(&path).unwrap().read_exact(&mut buf).unwrap();
        assert_eq!(Superblock::decode(&buf).unwrap().blocks_count, 8192);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn refuses_tiny_and_oversized() {
        let (path, _f) = image(8 << 20);
        let p = path.to_str().unwrap();
        let err = run(&run_args(&["-q", p])).unwrap_err();
        assert!(matches!(err, MkfsError::TooSmall { .. }), "{err}");
        assert!(err.to_string().contains("too small"), "{err}");
        let err = run(&run_args(&["-q", p, "1G"])).unwrap_err();
        assert!(
            matches!(err, MkfsError::SizeTooLarge { size, .. } if size == 1 << 30),
            "{err}"
        );
        assert!(err.to_string().contains("larger than"), "{err}");
        std::fs::remove_file(&path).unwrap();
    }
}
