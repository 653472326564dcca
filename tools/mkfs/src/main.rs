// SPDX-License-Identifier: GPL-2.0
//! mkfs.r2dax: create an r2dax filesystem (see the library for the work).

use r2dax_mkfs::{parse_args, run, Cli, USAGE};
use std::process::ExitCode;

fn main() -> ExitCode {
    r2dax_disk::default_sigpipe();
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
