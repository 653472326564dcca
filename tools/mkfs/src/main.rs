// SPDX-License-Identifier: GPL-2.0
//! mkfs.r2dax: create an r2dax filesystem on a block device or image file.

use r2dax_format::{Superblock, UuidFmt, BLOCK_SIZE, LABEL_LEN, MIN_BLOCKS, SUPERBLOCK_SIZE};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

const USAGE: &str = "\
Usage: mkfs.r2dax [options] DEVICE [SIZE]

Create an r2dax filesystem on DEVICE (a block device such as /dev/pmem0,
or an image file). SIZE limits the filesystem to fewer bytes than the
device has; it takes the suffixes K, M, G and T (powers of 1024).

Options:
  -L LABEL   volume label (at most 32 bytes)
  -U UUID    filesystem UUID (default: random)
  -f         overwrite an existing filesystem signature
  -n         dry run: print what would be made, write nothing
  -q         quiet
  -h, --help show this help
  -V         print the version

mkfs.r2dax never formats a mounted device, even with -f.
Exit status: 0 success, 1 operational error, 2 usage error.
";

#[derive(Debug, Default, PartialEq)]
struct Args {
    label: [u8; LABEL_LEN],
    uuid: Option<[u8; 16]>,
    force: bool,
    dry_run: bool,
    quiet: bool,
    device: String,
    size: Option<u64>,
}

enum Cli {
    Run(Args),
    Help,
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

fn parse_args<I: IntoIterator<Item = String>>(argv: I) -> Result<Cli, String> {
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

/// What, if anything, already lives on the device.
fn detect_signature(block0: &[u8]) -> Option<&'static str> {
    if Superblock::decode(block0).is_ok() || block0.starts_with(b"R2DX") {
        return Some("r2dax");
    }
    if block0.starts_with(b"XFSB") {
        return Some("xfs");
    }
    if block0.len() >= 1082 && block0[1080..1082] == [0x53, 0xef] {
        return Some("ext2/3/4");
    }
    None
}

/// The mount point of `dev` if it is mounted (by device number).
fn mounted_at(rdev: u64) -> io::Result<Option<String>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let want = format!(
        "{}:{}",
        (rdev >> 8) & 0xfff | (rdev >> 32) & !0xfff,
        rdev & 0xff | (rdev >> 12) & !0xff
    );
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() > 4 && f[2] == want {
            return Ok(Some(f[4].to_string()));
        }
    }
    Ok(None)
}

fn random_uuid() -> io::Result<[u8; 16]> {
    let mut u = [0u8; 16];
    File::open("/dev/urandom")?.read_exact(&mut u)?;
    u[6] = (u[6] & 0x0f) | 0x40; // version 4
    u[8] = (u[8] & 0x3f) | 0x80; // RFC 4122 variant
    Ok(u)
}

fn run(args: &Args) -> Result<(), String> {
    let dev = &args.device;
    let meta = std::fs::metadata(dev).map_err(|e| format!("{dev}: {e}"))?;
    let is_blk = meta.file_type().is_block_device();
    if is_blk {
        if let Some(mnt) =
            mounted_at(meta.rdev()).map_err(|e| format!("/proc/self/mountinfo: {e}"))?
        {
            return Err(format!(
                "{dev} is mounted on {mnt}; will not make a filesystem here"
            ));
        }
    }
    // O_EXCL on a block device fails with EBUSY while anyone (a mount,
    // another mkfs) holds it exclusively: this closes the race with a
    // mount that starts after the check above.
    const O_EXCL: i32 = 0o200;
    let mut f = OpenOptions::new()
        .read(true)
        .write(!args.dry_run)
        .custom_flags(if is_blk { O_EXCL } else { 0 })
        .open(dev)
        .map_err(|e| match e.raw_os_error() {
            Some(16) => format!("{dev} is in use (mounted or opened exclusively)"),
            _ => format!("{dev}: {e}"),
        })?;
    let dev_bytes = f
        .seek(SeekFrom::End(0))
        .map_err(|e| format!("{dev}: {e}"))?;
    let bytes = match args.size {
        Some(s) if s > dev_bytes => {
            return Err(format!("size {s} is larger than {dev} ({dev_bytes} bytes)"))
        }
        Some(s) => s,
        None => dev_bytes,
    };
    let blocks = bytes / BLOCK_SIZE as u64;
    if blocks < MIN_BLOCKS {
        return Err(format!(
            "{dev}: {bytes} bytes is too small (minimum {} bytes)",
            MIN_BLOCKS * BLOCK_SIZE as u64
        ));
    }

    let mut block0 = vec![0u8; BLOCK_SIZE as usize];
    f.seek(SeekFrom::Start(0))
        .map_err(|e| format!("{dev}: {e}"))?;
    f.read_exact(&mut block0)
        .map_err(|e| format!("{dev}: read: {e}"))?;
    if let Some(kind) = detect_signature(&block0) {
        if !args.force {
            return Err(format!(
                "{dev} contains an {kind} filesystem; use -f to overwrite it"
            ));
        }
    }

    let uuid = match args.uuid {
        Some(u) => u,
        None => random_uuid().map_err(|e| format!("/dev/urandom: {e}"))?,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let sb = Superblock::new(blocks, uuid, args.label, now);
    if !args.quiet {
        println!(
            "{}r2dax {}.{} on {dev}: {blocks} blocks of {BLOCK_SIZE} bytes, uuid {}{}",
            if args.dry_run { "(dry run) " } else { "" },
            sb.version_major,
            sb.version_minor,
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
    // Block 0 is rewritten whole: this also wipes the ext2/3/4 and xfs
    // signatures that live there.
    let mut sbbuf = [0u8; SUPERBLOCK_SIZE];
    sb.encode(&mut sbbuf);
    block0.fill(0);
    block0[..SUPERBLOCK_SIZE].copy_from_slice(&sbbuf);
    f.seek(SeekFrom::Start(0))
        .map_err(|e| format!("{dev}: {e}"))?;
    f.write_all(&block0)
        .map_err(|e| format!("{dev}: write: {e}"))?;
    f.sync_all().map_err(|e| format!("{dev}: fsync: {e}"))?;
    Ok(())
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(Cli::Help) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Cli::Version) => {
            println!(
                "mkfs.r2dax {} (format {}.{})",
                env!("CARGO_PKG_VERSION"),
                r2dax_format::VERSION_MAJOR,
                r2dax_format::VERSION_MINOR
            );
            ExitCode::SUCCESS
        }
        Ok(Cli::Run(args)) => match run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mkfs.r2dax: {e}");
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("mkfs.r2dax: {e}\nTry 'mkfs.r2dax --help' for more information.");
            ExitCode::from(2)
        }
    }
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
    fn signatures() {
        let mut b = vec![0u8; 4096];
        assert_eq!(detect_signature(&b), None);
        b[1080] = 0x53;
        b[1081] = 0xef;
        assert_eq!(detect_signature(&b), Some("ext2/3/4"));
        b[..4].copy_from_slice(b"XFSB");
        assert_eq!(detect_signature(&b), Some("xfs"));
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
        assert!(err.contains("contains an r2dax filesystem"), "{err}");
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
