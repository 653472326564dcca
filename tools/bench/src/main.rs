// SPDX-License-Identifier: GPL-2.0
//! r2dax-bench: the measuring and reporting half of `make bench`.
//!
//! In the guest (driven by tools/testing/bench/run), each command prints
//! result lines (see sample.rs) tagged with `BENCH_FS` and `BENCH_REP`
//! from the environment. On the host, `report` turns the collected lines
//! into the table, the JSON results file, the README table and the chart.

mod fio;
mod json;
mod micro;
mod report;
mod sample;

use std::path::Path;
use std::process::ExitCode;

const HELP: &str = "\
usage: r2dax-bench COMMAND [ARGS]

Guest commands (print R2DAX-BENCH result lines; BENCH_FS and BENCH_REP
in the environment label them):
  fio BENCH CASE -- FIO-ARGS...   run fio (JSON output) and report its first
                                  job: bandwidth, IOPS, latencies, sync
                                  latencies, minor faults
  layout FILE MIB                 write FILE from scratch in 1 MiB writes, fsync
  faults FILE MIB read|write [--sync] [--hole] [--bench B] [--case C]
                                  map FILE shared (MAP_SYNC with --sync; a
                                  fresh sparse FILE with --hole), touch one
                                  byte per 4 KiB page once; report the faults
                                  (getrusage), ns per fault, us per MiB and
                                  whether the mapping was 2 MiB aligned
  meta DIR N                      create, stat, rename and unlink N files in
                                  the new directory DIR: op/s of each phase
  switch FILE REPS                flip the DAX flag of an open, unmapped 1 MiB
                                  FILE both ways REPS times; report the time
                                  until statx shows the new mode (median and
                                  worst), or why it did not change
  isdax FILE                      exit 0 if statx says FILE is DAX, else 1

Host command:
  report LOG [--json F] [--md F] [--svg F]
                                  read the guest's output LOG; print the
                                  tables (median, spread, speed-ups over
                                  ext4-DAX and B0, targets); write the JSON
                                  results, the README table, the chart

  -h, --help                      this text
";

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    println!("{} {msg}", sample::ERROR_TAG);
    ExitCode::from(1)
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("r2dax-bench: {msg} (see r2dax-bench --help)");
    ExitCode::from(2)
}

fn print_all(v: Vec<sample::Sample>) -> ExitCode {
    for s in v {
        s.print();
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| a.get(i).map(String::as_str);
    match arg(0) {
        None | Some("-h" | "--help") => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some("fio") => {
            let (Some(bench), Some(case), Some("--")) = (arg(1), arg(2), arg(3)) else {
                return usage("fio BENCH CASE -- FIO-ARGS...");
            };
            match fio::run(bench, case, &a[4..]) {
                Ok(v) => print_all(v),
                Err(e) => fail(format!(
                    "fs={} {bench} {case}: {e}",
                    std::env::var("BENCH_FS").unwrap_or_default()
                )),
            }
        }
        Some("layout") => {
            let (Some(f), Some(Ok(mib))) = (arg(1), arg(2).map(str::parse)) else {
                return usage("layout FILE MIB");
            };
            match micro::layout(Path::new(f), mib) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(format!("layout {f}: {e}")),
            }
        }
        Some("faults") => {
            let (Some(f), Some(Ok(mib)), Some(mode)) = (arg(1), arg(2).map(str::parse), arg(3))
            else {
                return usage(
                    "faults FILE MIB read|write [--sync] [--hole] [--bench B] [--case C]",
                );
            };
            let write = match mode {
                "read" => false,
                "write" => true,
                _ => return usage("faults: mode is read or write"),
            };
            let mut o = micro::Faults {
                mib,
                write,
                sync: false,
                hole: false,
            };
            let (mut bench, mut case) = ("B6".to_string(), mode.to_string());
            let mut i = 4;
            while let Some(opt) = arg(i) {
                match (opt, arg(i + 1)) {
                    ("--sync", _) => o.sync = true,
                    ("--hole", _) => o.hole = true,
                    ("--bench", Some(b)) => {
                        bench = b.into();
                        i += 1;
                    }
                    ("--case", Some(c)) => {
                        case = c.into();
                        i += 1;
                    }
                    _ => return usage(&format!("faults: unknown option {opt}")),
                }
                i += 1;
            }
            match micro::faults(Path::new(f), &o, &bench, &case) {
                Ok(v) => print_all(v),
                Err(e) => fail(format!("faults {f} {case}: {e}")),
            }
        }
        Some("meta") => {
            let (Some(d), Some(Ok(n))) = (arg(1), arg(2).map(str::parse)) else {
                return usage("meta DIR N");
            };
            match micro::meta(Path::new(d), n) {
                Ok(v) => print_all(v),
                Err(e) => fail(format!("meta {d}: {e}")),
            }
        }
        Some("switch") => {
            let (Some(f), Some(Ok(reps))) = (arg(1), arg(2).map(str::parse)) else {
                return usage("switch FILE REPS");
            };
            match micro::switch(Path::new(f), reps) {
                Ok(v) => print_all(v),
                Err(e) => fail(format!("switch {f}: {e}")),
            }
        }
        Some("isdax") => {
            let Some(f) = arg(1) else {
                return usage("isdax FILE");
            };
            match micro::is_dax(Path::new(f)) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("r2dax-bench: {f}: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Some("report") => {
            let Some(log) = arg(1) else {
                return usage("report LOG [--json F] [--md F] [--svg F]");
            };
            let text = match std::fs::read(log) {
                Ok(t) => String::from_utf8_lossy(&t).into_owned(),
                Err(e) => {
                    eprintln!("r2dax-bench: {log}: {e}");
                    return ExitCode::from(1);
                }
            };
            let r = report::Results::parse(&text);
            if r.samples.is_empty() {
                eprintln!("r2dax-bench: {log}: no results");
                return ExitCode::from(1);
            }
            let mut i = 2;
            while let Some(opt) = arg(i) {
                let Some(file) = arg(i + 1) else {
                    return usage(&format!("report: {opt} needs a file"));
                };
                let body = match opt {
                    "--json" => report::json(&r),
                    "--md" => report::markdown(&r),
                    "--svg" => report::svg(&r),
                    _ => return usage(&format!("report: unknown option {opt}")),
                };
                if let Err(e) = std::fs::write(file, body) {
                    eprintln!("r2dax-bench: {file}: {e}");
                    return ExitCode::from(1);
                }
                i += 2;
            }
            print!("{}", report::table(&r));
            ExitCode::SUCCESS
        }
        Some(c) => usage(&format!("unknown command {c}")),
    }
}
