// SPDX-License-Identifier: GPL-2.0
//! `r2dax-bench fio BENCH CASE -- FIO-ARGS...`: runs fio with JSON output
//! and prints the figures of its first job as result lines.
//!
//! Per direction that did I/O (read, write): bandwidth (MB/s, 10^6), IOPS,
//! mean latency, and the median and p99 completion latency (the median is
//! what the report compares: under TCG on a shared host, stalls of the
//! whole guest move means and totals by tens of percent from run to run,
//! and leave the median operation alone). With `fsync`/`fdatasync`: the sync
//! latency p50 and p99. Always: minor faults (fio's `minf`).

use crate::json::{self, JsonError, Value};
use crate::sample::{Better, Sample};
use std::fmt;
use std::io;
use std::process::{Command, ExitStatus};

/// Why fio gave no results.
#[derive(Debug)]
pub enum FioError {
    /// fio could not be started.
    Spawn(io::Error),
    /// fio's output file `path` could not be read.
    Output { path: String, source: io::Error },
    /// fio failed.
    Exit(ExitStatus),
    /// fio's output is not JSON.
    Json(JsonError),
    /// fio's output lists no job.
    NoJob,
    /// fio's first job reports error `code` (an errno).
    Job { code: f64 },
    /// The job did neither reads nor writes.
    NoIo,
}

impl fmt::Display for FioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FioError::Spawn(e) => write!(f, "fio: {e}"),
            FioError::Output { path, source } => write!(f, "{path}: {source}"),
            FioError::Exit(status) => write!(f, "fio exited with {status}"),
            FioError::Json(e) => e.fmt(f),
            FioError::NoJob => f.write_str("fio output has no job"),
            FioError::Job { code } => write!(f, "fio job error {code}"),
            FioError::NoIo => f.write_str("fio did no I/O"),
        }
    }
}

impl std::error::Error for FioError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FioError::Spawn(e) | FioError::Output { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

impl From<JsonError> for FioError {
    fn from(e: JsonError) -> Self {
        FioError::Json(e)
    }
}

pub fn run(bench: &str, case: &str, args: &[String]) -> Result<Vec<Sample>, FioError> {
    let out = format!("/tmp/r2dax-bench-fio-{}.json", std::process::id());
    let status = Command::new("fio")
        .args(args)
        .arg("--output-format=json")
        .arg(format!("--output={out}"))
        .status()
        .map_err(FioError::Spawn)?;
    let text = std::fs::read_to_string(&out).map_err(|source| FioError::Output {
        path: out.clone(),
        source,
    });
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return Err(FioError::Exit(status));
    }
    extract(bench, case, &json::parse(&text?)?)
}

/// The samples of fio's JSON output `doc` (first job).
pub fn extract(bench: &str, case: &str, doc: &Value) -> Result<Vec<Sample>, FioError> {
    let job = doc
        .get("jobs")
        .and_then(Value::arr)
        .and_then(|a| a.first())
        .ok_or(FioError::NoJob)?;
    let num = |keys: &[&str]| job.path(keys).and_then(Value::num);
    if let Some(code) = num(&["error"]).filter(|&e| e != 0.0) {
        return Err(FioError::Job { code });
    }
    let mut v = Vec::new();
    for dir in ["read", "write"] {
        if num(&[dir, "io_bytes"]).unwrap_or(0.0) <= 0.0 {
            continue;
        }
        let m = |name: &str| format!("{dir}_{name}");
        if let Some(bw) = num(&[dir, "bw_bytes"]) {
            v.push(Sample::new(
                bench,
                case,
                &m("bw"),
                bw / 1e6,
                "MB/s",
                Better::Higher,
            ));
        }
        if let Some(iops) = num(&[dir, "iops"]) {
            v.push(Sample::new(
                bench,
                case,
                &m("iops"),
                iops,
                "op/s",
                Better::Higher,
            ));
        }
        if let Some(lat) = num(&[dir, "lat_ns", "mean"]) {
            v.push(Sample::new(
                bench,
                case,
                &m("lat_mean"),
                lat,
                "ns",
                Better::Lower,
            ));
        }
        if let Some(p50) = num(&[dir, "clat_ns", "percentile", "50.000000"]) {
            v.push(Sample::new(
                bench,
                case,
                &m("clat_p50"),
                p50,
                "ns",
                Better::Lower,
            ));
        }
        if let Some(p99) = num(&[dir, "clat_ns", "percentile", "99.000000"]) {
            v.push(Sample::new(
                bench,
                case,
                &m("clat_p99"),
                p99,
                "ns",
                Better::Lower,
            ));
        }
    }
    if num(&["sync", "lat_ns", "N"]).unwrap_or(0.0) > 0.0 {
        for (p, name) in [("50.000000", "sync_p50"), ("99.000000", "sync_p99")] {
            if let Some(x) = num(&["sync", "lat_ns", "percentile", p]) {
                v.push(Sample::new(bench, case, name, x, "ns", Better::Lower));
            }
        }
    }
    if let Some(minf) = num(&["minf"]) {
        v.push(Sample::new(
            bench,
            case,
            "minor_faults",
            minf,
            "faults",
            Better::Lower,
        ));
    }
    if v.is_empty() {
        return Err(FioError::NoIo);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_write_and_sync() {
        let doc = json::parse(
            r#"{"jobs": [{"error": 0, "minf": 12,
                "read": {"io_bytes": 0},
                "write": {"io_bytes": 4096, "bw_bytes": 2000000, "iops": 488.2,
                          "lat_ns": {"mean": 100.5}, "clat_ns": {"percentile": {"50.000000": 200, "99.000000": 300}}},
                "sync": {"lat_ns": {"N": 3, "percentile": {"50.000000": 7, "99.000000": 9}}}}]}"#,
        )
        .unwrap();
        let v = extract("B3", "app", &doc).unwrap();
        let names: Vec<&str> = v.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(
            names,
            [
                "write_bw",
                "write_iops",
                "write_lat_mean",
                "write_clat_p50",
                "write_clat_p99",
                "sync_p50",
                "sync_p99",
                "minor_faults"
            ]
        );
        assert_eq!(v[0].value, 2.0);
        assert_eq!(v[6].value, 9.0);
    }

    #[test]
    fn errors_print_as_before() {
        use std::os::unix::process::ExitStatusExt;
        let enoent = || io::Error::from_raw_os_error(2);
        let cases = [
            (
                FioError::Spawn(enoent()),
                "fio: No such file or directory (os error 2)",
            ),
            (
                FioError::Output {
                    path: "/tmp/r2dax-bench-fio-1.json".into(),
                    source: enoent(),
                },
                "/tmp/r2dax-bench-fio-1.json: No such file or directory (os error 2)",
            ),
            (
                FioError::Exit(ExitStatus::from_raw(3 << 8)),
                "fio exited with exit status: 3",
            ),
            (FioError::Json(JsonError::NoDocument), "no JSON document"),
            (FioError::NoJob, "fio output has no job"),
            (FioError::Job { code: 28.0 }, "fio job error 28"),
            (FioError::NoIo, "fio did no I/O"),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn job_error_is_an_error() {
        let doc = json::parse(r#"{"jobs": [{"error": 5}]}"#).unwrap();
        let e = extract("B1", "x", &doc).unwrap_err();
        assert!(matches!(e, FioError::Job { code } if code == 5.0), "{e}");
        assert_eq!(e.to_string(), "fio job error 5");
    }
}
