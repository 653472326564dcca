// SPDX-License-Identifier: GPL-2.0
//! fsck.r2dax: check and repair an r2dax filesystem.

use r2dax_disk::Fs;
use r2dax_format::UuidFmt;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: fsck.r2dax [-n | -y | -p] [-f] DEVICE

Check the r2dax filesystem on DEVICE (which must not be mounted).

Options:
  -n         check only, change nothing (the default)
  -y, -p     repair every problem that has a safe fix
  -f         accepted for compatibility (the check is always full)
  -h, --help show this help
  -V         print the version

Exit status (as e2fsck): 0 no problems, 1 problems found and all
repaired, 4 problems left unrepaired, 8 operational error, 16 usage error.
";

fn main() -> ExitCode {
    r2dax_disk::default_sigpipe();
    let mut repair = false;
    let mut device = None;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "-V" | "--version" => {
                println!("fsck.r2dax {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            "-n" => repair = false,
            "-y" | "-p" | "-a" => repair = true,
            "-f" => {}
            s if s.starts_with('-') => {
                eprintln!("fsck.r2dax: unknown option '{s}'\n{USAGE}");
                return ExitCode::from(16);
            }
            _ if device.is_some() => {
                eprintln!("fsck.r2dax: more than one device given\n{USAGE}");
                return ExitCode::from(16);
            }
            _ => device = Some(a),
        }
    }
    let Some(device) = device else {
        eprintln!("fsck.r2dax: no device given\n{USAGE}");
        return ExitCode::from(16);
    };
    let fs = match Fs::open(&device, repair) {
        Ok(fs) => fs,
        Err(e) => {
            eprintln!("fsck.r2dax: {e}");
            return ExitCode::from(8);
        }
    };
    println!(
        "fsck.r2dax: {device}: r2dax {}.{}, uuid {}",
        fs.sb.version_major,
        fs.sb.version_minor,
        UuidFmt(&fs.sb.uuid)
    );
    let report = match r2dax_fsck::check(&fs, repair) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fsck.r2dax: {e}");
            return ExitCode::from(8);
        }
    };
    for l in &report.lines {
        println!("{l}");
    }
    if repair && report.fixed > 0 {
        if let Err(e) = fs.dev.sync() {
            eprintln!("fsck.r2dax: {e}");
            return ExitCode::from(8);
        }
    }
    let state = match report.exit_code() {
        0 => "clean",
        1 => "repaired",
        _ => "has errors",
    };
    println!(
        "{device}: {state}, {}/{} inodes, {}/{} blocks",
        report.used_inodes,
        fs.geo.inodes_count(),
        report.used_blocks,
        fs.geo.blocks_count
    );
    ExitCode::from(report.exit_code())
}
