// SPDX-License-Identifier: GPL-2.0
//! `r2dax-bench report`: turns the guest's result lines into the terminal
//! table, the results file (JSON), a Markdown table for the README and an
//! SVG chart. Every figure is the median of the repetitions, with the
//! spread (min to max); ratios are taken between medians.
//!
//! Ratios are speed-ups: "x ext4" above 1 means better than ext4-DAX,
//! whichever way the metric improves (for latencies and fault counts the
//! ratio is ext4's figure over ours). "x B0" is the same against the raw
//! device-DAX ceiling, for the figures that have one.

use crate::json::Value;
use crate::sample::{Better, Sample};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The filesystems in report order; `devdax` is B0. A label's variants
/// ("r2dax-pc@base": the same on the baseline's module, from
/// R2DAX_BENCH_BASELINE) follow it when the log has them; see
/// `Results::fs`.
pub const FS: [&str; 6] = [
    "r2dax-dax",
    "r2dax-pc",
    "ext4-dax",
    "xfs-dax",
    "ext2-dax",
    "devdax",
];
const B0: &str = "devdax";
const EXT4: &str = "ext4-dax";
const OURS: &str = "r2dax-dax";

/// A headline figure: where its samples are and what its B0 counterpart is.
pub struct Row {
    pub label: &'static str,
    pub bench: &'static str,
    pub case: &'static str,
    pub metric: &'static str,
    /// (case, metric) of the B0 figure with the same pattern.
    pub b0: Option<(&'static str, &'static str)>,
}

const fn row(
    label: &'static str,
    bench: &'static str,
    case: &'static str,
    metric: &'static str,
    b0: Option<(&'static str, &'static str)>,
) -> Row {
    Row {
        label,
        bench,
        case,
        metric,
        b0,
    }
}

pub const ROWS: &[Row] = &[
    row(
        "B1 seq write 2M, MB/s",
        "B1",
        "seqw2m",
        "write_bw",
        Some(("seqw2m", "write_bw")),
    ),
    row(
        "B1 seq write 2M, median op, ns",
        "B1",
        "seqw2m",
        "write_clat_p50",
        Some(("seqw2m", "write_clat_p50")),
    ),
    row(
        "B1 seq read 2M, MB/s",
        "B1",
        "seqr2m",
        "read_bw",
        Some(("seqr2m", "read_bw")),
    ),
    row(
        "B1 seq read 2M, median op, ns",
        "B1",
        "seqr2m",
        "read_clat_p50",
        Some(("seqr2m", "read_clat_p50")),
    ),
    row(
        "B2 rand write 4K, IOPS",
        "B2",
        "randw4k",
        "write_iops",
        Some(("randw4k", "write_iops")),
    ),
    row(
        "B2 rand write 4K, median op, ns",
        "B2",
        "randw4k",
        "write_clat_p50",
        Some(("randw4k", "write_clat_p50")),
    ),
    row(
        "B2 rand write 4K, overhead/op, ns",
        "B2",
        "randw4k",
        "overhead",
        None,
    ),
    row(
        "B2 rand read 4K, IOPS",
        "B2",
        "randr4k",
        "read_iops",
        Some(("randr4k", "read_iops")),
    ),
    row(
        "B2 rand read 4K, median op, ns",
        "B2",
        "randr4k",
        "read_clat_p50",
        Some(("randr4k", "read_clat_p50")),
    ),
    row(
        "B2 rand read 4K, overhead/op, ns",
        "B2",
        "randr4k",
        "overhead",
        None,
    ),
    row(
        "B3 append 4K, IOPS",
        "B3",
        "app4k",
        "write_iops",
        Some(("seqw4k", "write_iops")),
    ),
    row(
        "B3 append 4K, median op, ns",
        "B3",
        "app4k",
        "write_clat_p50",
        Some(("seqw4k", "write_clat_p50")),
    ),
    row(
        "B3 append+fdatasync, IOPS",
        "B3",
        "app4k_dsync",
        "write_iops",
        Some(("seqw4k", "write_iops")),
    ),
    row(
        "B3 append+fdatasync, median op, ns",
        "B3",
        "app4k_dsync",
        "op_p50",
        Some(("seqw4k", "write_clat_p50")),
    ),
    row(
        "B3 fdatasync after append p99, ns",
        "B3",
        "app4k_dsync",
        "sync_p99",
        None,
    ),
    row(
        "B4 overwrite+fdatasync, sync p50, ns",
        "B4",
        "ow4k_dsync",
        "sync_p50",
        None,
    ),
    row(
        "B5 libpmem seq write 2M, MB/s",
        "B5",
        "pmem_seqw2m",
        "write_bw",
        Some(("seqw2m", "write_bw")),
    ),
    row(
        "B5 libpmem rand write 4K, IOPS",
        "B5",
        "pmem_randw4k",
        "write_iops",
        Some(("randw4k", "write_iops")),
    ),
    row(
        "B5 libpmem rand read 4K, IOPS",
        "B5",
        "pmem_randr4k",
        "read_iops",
        Some(("randr4k", "read_iops")),
    ),
    row(
        "B6 faults, read 1 GiB written",
        "B6",
        "read",
        "faults",
        Some(("read", "faults")),
    ),
    row(
        "B6 faults, write 1 GiB written",
        "B6",
        "write",
        "faults",
        Some(("write", "faults")),
    ),
    row(
        "B6 write 2M mapped, written, ns",
        "B6",
        "write",
        "chunk_p50",
        Some(("write", "chunk_p50")),
    ),
    row(
        "B6 same with MAP_SYNC, ns",
        "B6",
        "write_sync",
        "chunk_p50",
        None,
    ),
    row(
        "B6 MAP_SYNC penalty on written, x",
        "B6",
        "write_sync",
        "penalty",
        None,
    ),
    row(
        "B6 write 2M mapped, holes, ns",
        "B6",
        "hole_write",
        "chunk_p50",
        None,
    ),
    row(
        "B6 same on holes with MAP_SYNC, ns",
        "B6",
        "hole_write_sync",
        "chunk_p50",
        None,
    ),
    row(
        "B6c mmap randrw 4K read, MB/s",
        "B6c",
        "zw_randrw",
        "read_bw",
        None,
    ),
    row(
        "B6c mmap randrw 4K write, MB/s",
        "B6c",
        "zw_randrw",
        "write_bw",
        None,
    ),
    row("B7 create, op/s", "B7", "meta", "create", None),
    row("B7 create, median op, ns", "B7", "meta", "create_p50", None),
    row("B7 stat, op/s", "B7", "meta", "stat", None),
    row("B7 stat, median op, ns", "B7", "meta", "stat_p50", None),
    row("B7 rename, op/s", "B7", "meta", "rename", None),
    row("B7 rename, median op, ns", "B7", "meta", "rename_p50", None),
    row("B7 unlink, op/s", "B7", "meta", "unlink", None),
    row("B7 unlink, median op, ns", "B7", "meta", "unlink_p50", None),
    row("B8 switch to DAX, us", "B8", "switch", "to_dax_us", None),
    row(
        "B8 switch to page cache, us",
        "B8",
        "switch",
        "to_pagecache_us",
        None,
    ),
];

/// Median, min and max of one figure's repetitions.
#[derive(Clone, Debug, PartialEq)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
    pub unit: String,
    pub better: Better,
    /// Why there is no number (when `n == 0`).
    pub note: String,
}

type Key = (String, String, String, String); // fs, bench, case, metric

/// All figures by (fs, bench, case, metric), including the derived ones.
pub struct Results {
    /// The columns: `FS` with each label's variants after it.
    pub fs: Vec<String>,
    pub stats: BTreeMap<Key, Stat>,
    pub meta: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
    pub errors: Vec<String>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn key(fs: &str, bench: &str, case: &str, metric: &str) -> Key {
    (fs.into(), bench.into(), case.into(), metric.into())
}

impl Results {
    /// Reads the guest's job output.
    pub fn parse(log: &str) -> Results {
        let mut samples = Vec::new();
        let mut meta = BTreeMap::new();
        let mut errors = Vec::new();
        for line in log
            .lines()
            .map(|l| l.trim_matches(|c: char| c == '\r' || c == '\0' || c.is_whitespace()))
        {
            if let Some(s) = Sample::parse(line) {
                samples.push(s);
            } else if let Some(m) = line.strip_prefix(crate::sample::META_TAG) {
                let m = m.trim();
                let (k, v) = m.split_once(' ').unwrap_or((m, ""));
                meta.insert(k.to_string(), v.trim().to_string());
            } else if let Some(e) = line.strip_prefix(crate::sample::ERROR_TAG) {
                errors.push(e.trim().to_string());
            }
        }
        let mut groups: BTreeMap<Key, (Vec<f64>, &Sample)> = BTreeMap::new();
        for s in &samples {
            let g = groups
                .entry(key(&s.fs, &s.bench, &s.case, &s.metric))
                .or_insert((Vec::new(), s));
            if s.value.is_finite() {
                g.0.push(s.value);
            }
        }
        let mut stats = BTreeMap::new();
        for (k, (mut v, s)) in groups {
            let n = v.len();
            let st = Stat {
                median: median(&mut v),
                min: v.first().copied().unwrap_or(f64::NAN),
                max: v.last().copied().unwrap_or(f64::NAN),
                n,
                unit: s.unit.clone(),
                better: s.better,
                note: s.note.replace('_', " "),
            };
            stats.insert(k, st);
        }
        let mut fs = Vec::new();
        for f in FS {
            fs.push(f.to_string());
            let mut v: Vec<String> = samples
                .iter()
                .filter(|s| s.fs.strip_prefix(f).is_some_and(|x| x.starts_with('@')))
                .map(|s| s.fs.clone())
                .collect();
            v.sort();
            v.dedup();
            fs.extend(v);
        }
        let mut r = Results {
            fs,
            stats,
            meta,
            samples,
            errors,
        };
        r.derive();
        r
    }

    pub fn get(&self, fs: &str, bench: &str, case: &str, metric: &str) -> Option<&Stat> {
        self.stats.get(&key(fs, bench, case, metric))
    }

    fn median_of(&self, fs: &str, bench: &str, case: &str, metric: &str) -> Option<f64> {
        self.get(fs, bench, case, metric)
            .map(|s| s.median)
            .filter(|m| m.is_finite())
    }

    /// Figures computed from the medians of others: the per-op software
    /// overhead (SplitFS's metric: our median op minus the raw device's),
    /// an append+fdatasync's median (write plus sync) and the MAP_SYNC
    /// penalty.
    fn derive(&mut self) {
        let mut new = Vec::new();
        for fs in self.fs.iter().filter(|f| *f != B0) {
            for (case, metric) in [("randw4k", "write_clat_p50"), ("randr4k", "read_clat_p50")] {
                if let (Some(x), Some(b)) = (
                    self.median_of(fs, "B2", case, metric),
                    self.median_of(B0, "B0", case, metric),
                ) {
                    new.push((key(fs, "B2", case, "overhead"), x - b, "ns", Better::Lower));
                }
            }
            if let (Some(w), Some(s)) = (
                self.median_of(fs, "B3", "app4k_dsync", "write_clat_p50"),
                self.median_of(fs, "B3", "app4k_dsync", "sync_p50"),
            ) {
                new.push((
                    key(fs, "B3", "app4k_dsync", "op_p50"),
                    w + s,
                    "ns",
                    Better::Lower,
                ));
            }
            if let (Some(s), Some(p)) = (
                self.median_of(fs, "B6", "write_sync", "chunk_p50"),
                self.median_of(fs, "B6", "write", "chunk_p50"),
            ) {
                new.push((
                    key(fs, "B6", "write_sync", "penalty"),
                    s / p,
                    "x",
                    Better::Lower,
                ));
            }
        }
        for (k, v, unit, better) in new {
            let st = Stat {
                median: v,
                min: v,
                max: v,
                n: 1,
                unit: unit.into(),
                better,
                note: String::new(),
            };
            self.stats.insert(k, st);
        }
    }

    /// The speed-up of `fs` over `reference` for a row (above 1 = better).
    pub fn speedup(&self, row: &Row, fs: &str, reference: &str) -> Option<f64> {
        let a = self.get(fs, row.bench, row.case, row.metric)?;
        let b = if reference == B0 {
            let (c, m) = row.b0?;
            self.get(B0, "B0", c, m)?
        } else {
            self.get(reference, row.bench, row.case, row.metric)?
        };
        let (a, b) = (a.median, b.median);
        if !(a.is_finite() && b.is_finite()) || a <= 0.0 || b <= 0.0 {
            return None;
        }
        Some(
            match self.get(fs, row.bench, row.case, row.metric)?.better {
                Better::Higher => a / b,
                Better::Lower => b / a,
            },
        )
    }

    /// (label, variant) for every variant column, e.g. ("r2dax-pc",
    /// "r2dax-pc@base").
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.fs
            .iter()
            .filter_map(|v| v.split_once('@').map(|(f, _)| (f.to_string(), v.clone())))
            .collect()
    }

    /// The figure of `fs` in a row (B0's figure for `devdax`).
    pub fn cell(&self, row: &Row, fs: &str) -> Option<&Stat> {
        if fs == B0 {
            let (c, m) = row.b0?;
            self.get(B0, "B0", c, m)
        } else {
            self.get(fs, row.bench, row.case, row.metric)
        }
    }
}

/// A number in 4 significant characters or so: 812, 81.2k, 1.23M.
pub fn human(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let ax = x.abs();
    if ax >= 100.0 {
        format!("{x:.0}{suffix}")
    } else if ax >= 10.0 {
        format!("{x:.1}{suffix}")
    } else {
        format!("{x:.2}{suffix}")
    }
}

fn cell_text(s: Option<&Stat>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.n == 0 => {
            if s.note.is_empty() {
                "n/a".into()
            } else {
                format!("n/a ({})", s.note)
            }
        }
        Some(s) if s.n == 1 || s.min == s.max => human(s.median),
        Some(s) => {
            let spread = if s.median != 0.0 {
                (s.max - s.min) / s.median.abs() * 100.0
            } else {
                0.0
            };
            format!("{} ±{:.0}%", human(s.median), spread / 2.0)
        }
    }
}

fn ratio_text(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |r| format!("{r:.2}"))
}

/// A goal for r2dax-dax, checked against the medians.
pub struct Target {
    pub name: String,
    pub value: Option<f64>,
    pub goal: String,
    pub met: Option<bool>,
}

pub fn targets(r: &Results) -> Vec<Target> {
    let find = |b: &str, c: &str, m: &str| {
        ROWS.iter()
            .find(|x| x.bench == b && x.case == c && x.metric == m)
            .expect("row in ROWS")
    };
    let mut t = Vec::new();
    let ratio_goal = |name: &str, row: &Row, reference: &str, min: f64| {
        let v = r.speedup(row, OURS, reference);
        Target {
            name: format!("{name} vs {reference}"),
            value: v,
            goal: format!(">= {min}x"),
            met: v.map(|v| v >= min),
        }
    };
    for (name, c, m) in [
        ("seq write 2M", "seqw2m", "write_clat_p50"),
        ("seq read 2M", "seqr2m", "read_clat_p50"),
    ] {
        let row = find("B1", c, m);
        t.push(ratio_goal(name, row, B0, 0.9));
        t.push(ratio_goal(name, row, EXT4, 1.0));
        t.push(ratio_goal(name, row, "xfs-dax", 1.0));
    }
    for (name, c) in [
        ("rand write 4K overhead", "randw4k"),
        ("rand read 4K overhead", "randr4k"),
    ] {
        // Overheads can be near zero or negative; compare them directly.
        let ours = r.median_of(OURS, "B2", c, "overhead");
        let ext4 = r.median_of(EXT4, "B2", c, "overhead");
        t.push(Target {
            name: format!("{name} (ns/op) vs {EXT4}"),
            value: ours,
            goal: ext4.map_or_else(|| "<= ext4's".into(), |e| format!("<= {}", human(e))),
            met: ours.zip(ext4).map(|(o, e)| o <= e),
        });
    }
    t.push(ratio_goal(
        "append 4K",
        find("B3", "app4k", "write_clat_p50"),
        EXT4,
        1.5,
    ));
    t.push(ratio_goal(
        "append 4K+fdatasync",
        find("B3", "app4k_dsync", "op_p50"),
        EXT4,
        1.5,
    ));
    for c in ["read", "write"] {
        let v = r.median_of(OURS, "B6", c, "faults");
        t.push(Target {
            name: format!("faults, {c} 1 GiB written"),
            value: v,
            goal: "<= 520".into(),
            met: v.map(|v| v <= 520.0),
        });
    }
    let p = r.median_of(OURS, "B6", "write_sync", "penalty");
    t.push(Target {
        name: "MAP_SYNC write fault on written, x plain".into(),
        value: p,
        goal: "<= 1.1x".into(),
        met: p.map(|p| p <= 1.1),
    });
    t.push(ratio_goal(
        "MAP_SYNC write on holes",
        find("B6", "hole_write_sync", "chunk_p50"),
        EXT4,
        1.0,
    ));
    for m in ["create_p50", "stat_p50", "rename_p50", "unlink_p50"] {
        t.push(ratio_goal(
            m.trim_end_matches("_p50"),
            find("B7", "meta", m),
            EXT4,
            1.0,
        ));
    }
    for m in ["to_dax_us", "to_pagecache_us"] {
        let v = r.median_of(OURS, "B8", "switch", m);
        t.push(Target {
            name: format!(
                "switch {} (us)",
                m.trim_end_matches("_us").replace('_', " ")
            ),
            value: v,
            goal: "< 1000 us".into(),
            met: v.map(|v| v < 1000.0),
        });
    }
    t
}

/// The terminal tables: figures, ratios, targets.
pub fn table(r: &Results) -> String {
    let mut o = String::new();
    let rows: Vec<&Row> = ROWS
        .iter()
        .filter(|row| r.fs.iter().any(|fs| r.cell(row, fs).is_some()))
        .collect();
    let _ = writeln!(
        o,
        "Median of the repetitions, ±half the spread (min to max) in % of the median. \"median op\" rows\n\
         are each run's median operation (fio clat p50, or timed one by one): stalls of the guest move\n\
         totals and means by tens of percent from run to run and leave those alone. Targets use them."
    );
    let _ = write!(o, "{:<40}", "figure");
    for fs in &r.fs {
        let _ = write!(o, " {:>16}", if fs == B0 { "B0 (devdax)" } else { fs });
    }
    o.push('\n');
    for row in &rows {
        let _ = write!(o, "{:<40}", row.label);
        for fs in &r.fs {
            let _ = write!(o, " {:>16}", cell_text(r.cell(row, fs)));
        }
        o.push('\n');
    }
    let _ = writeln!(o, "\nSpeed-up (above 1 = better): x ext4-DAX / x B0");
    let _ = write!(o, "{:<40}", "figure");
    for fs in r.fs.iter().filter(|f| *f != B0) {
        let _ = write!(o, " {:>16}", fs);
    }
    o.push('\n');
    for row in &rows {
        let _ = write!(o, "{:<40}", row.label);
        for fs in r.fs.iter().filter(|f| *f != B0) {
            let c = format!(
                "{} / {}",
                ratio_text(r.speedup(row, fs, EXT4)),
                ratio_text(r.speedup(row, fs, B0))
            );
            let _ = write!(o, " {:>16}", c);
        }
        o.push('\n');
    }
    let pairs = r.pairs();
    if !pairs.is_empty() {
        let _ = writeln!(
            o,
            "\nPaired, same boot: speed-up of each label over its variant (above 1 = better than it)"
        );
        let _ = write!(o, "{:<40}", "figure");
        for (_, v) in &pairs {
            let _ = write!(o, " {:>16}", format!("x {v}"));
        }
        o.push('\n');
        for row in &rows {
            let _ = write!(o, "{:<40}", row.label);
            for (f, v) in &pairs {
                let _ = write!(o, " {:>16}", ratio_text(r.speedup(row, f, v)));
            }
            o.push('\n');
        }
    }
    let _ = writeln!(o, "\nTargets (r2dax-dax)");
    for t in targets(r) {
        let verdict = match t.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let v = t.value.map_or_else(|| "-".into(), human);
        let _ = writeln!(
            o,
            "  {:<52} {:>10}  goal {:<12} {verdict}",
            t.name, v, t.goal
        );
    }
    for e in &r.errors {
        let _ = writeln!(o, "error: {e}");
    }
    o
}

/// The README table: each figure with its speed-up over ext4-DAX.
pub fn markdown(r: &Results) -> String {
    let mut o = String::new();
    let names = [
        "r2dax DAX",
        "r2dax page cache",
        "ext4-DAX",
        "xfs-DAX",
        "ext2-DAX",
        "B0 devdax",
    ];
    // A variant's column is headed by its label.
    let names: Vec<&str> =
        r.fs.iter()
            .map(|f| {
                FS.iter()
                    .position(|x| x == f)
                    .map_or(f.as_str(), |i| names[i])
            })
            .collect();
    let _ = writeln!(o, "| figure | {} |", names.join(" | "));
    let _ = writeln!(o, "|---|{}", "---:|".repeat(names.len()));
    for row in ROWS
        .iter()
        .filter(|row| r.fs.iter().any(|fs| r.cell(row, fs).is_some()))
    {
        let _ = write!(o, "| {} |", row.label);
        for fs in &r.fs {
            let c = cell_text(r.cell(row, fs));
            let x = if fs != B0 && fs != EXT4 {
                r.speedup(row, fs, EXT4)
            } else {
                None
            };
            match x {
                Some(x) => {
                    let _ = write!(o, " {c} ({x:.2}x) |");
                }
                None => {
                    let _ = write!(o, " {c} |");
                }
            }
        }
        o.push('\n');
    }
    o
}

fn stat_json(s: &Stat) -> Value {
    let mut m = BTreeMap::new();
    m.insert("median".into(), Value::Num(s.median));
    m.insert("min".into(), Value::Num(s.min));
    m.insert("max".into(), Value::Num(s.max));
    m.insert("n".into(), Value::Num(s.n as f64));
    m.insert("unit".into(), Value::Str(s.unit.clone()));
    m.insert("better".into(), Value::Str(s.better.word().into()));
    if !s.note.is_empty() {
        m.insert("note".into(), Value::Str(s.note.clone()));
    }
    Value::Obj(m)
}

/// The results file.
pub fn json(r: &Results) -> String {
    let mut top = BTreeMap::new();
    top.insert(
        "meta".into(),
        Value::Obj(
            r.meta
                .iter()
                .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
                .collect(),
        ),
    );
    let mut rows = Vec::new();
    for row in ROWS {
        let mut m = BTreeMap::new();
        m.insert("figure".into(), Value::Str(row.label.into()));
        m.insert("bench".into(), Value::Str(row.bench.into()));
        m.insert("case".into(), Value::Str(row.case.into()));
        m.insert("metric".into(), Value::Str(row.metric.into()));
        let mut per = BTreeMap::new();
        for fs in &r.fs {
            if let Some(s) = r.cell(row, fs) {
                let mut v = stat_json(s);
                if let Value::Obj(o) = &mut v {
                    if fs != B0 {
                        let x4 = r.speedup(row, fs, EXT4).unwrap_or(f64::NAN);
                        let x0 = r.speedup(row, fs, B0).unwrap_or(f64::NAN);
                        o.insert("x_ext4".into(), Value::Num(x4));
                        o.insert("x_b0".into(), Value::Num(x0));
                    }
                    if let Some((f, _)) = r.pairs().into_iter().find(|(_, v)| v == fs) {
                        // The label's speed-up over this variant, same boot.
                        let x = r.speedup(row, &f, fs).unwrap_or(f64::NAN);
                        o.insert("x_paired".into(), Value::Num(x));
                    }
                }
                per.insert(fs.clone(), v);
            }
        }
        m.insert("fs".into(), Value::Obj(per));
        rows.push(Value::Obj(m));
    }
    top.insert("figures".into(), Value::Arr(rows));
    let t = targets(r)
        .into_iter()
        .map(|t| {
            let mut m = BTreeMap::new();
            m.insert("target".into(), Value::Str(t.name));
            m.insert("value".into(), t.value.map_or(Value::Null, Value::Num));
            m.insert("goal".into(), Value::Str(t.goal));
            m.insert("met".into(), t.met.map_or(Value::Null, Value::Bool));
            Value::Obj(m)
        })
        .collect();
    top.insert("targets".into(), Value::Arr(t));
    let samples = r
        .samples
        .iter()
        .map(|s| {
            let mut m = BTreeMap::new();
            m.insert("fs".into(), Value::Str(s.fs.clone()));
            m.insert("rep".into(), Value::Num(s.rep as f64));
            m.insert("bench".into(), Value::Str(s.bench.clone()));
            m.insert("case".into(), Value::Str(s.case.clone()));
            m.insert("metric".into(), Value::Str(s.metric.clone()));
            m.insert("value".into(), Value::Num(s.value));
            m.insert("unit".into(), Value::Str(s.unit.clone()));
            if !s.note.is_empty() {
                m.insert("note".into(), Value::Str(s.note.clone()));
            }
            Value::Obj(m)
        })
        .collect();
    top.insert("samples".into(), Value::Arr(samples));
    top.insert(
        "errors".into(),
        Value::Arr(r.errors.iter().map(|e| Value::Str(e.clone())).collect()),
    );
    let mut s = String::new();
    Value::Obj(top).write(&mut s, 0);
    s.push('\n');
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart: for every figure, one bar per filesystem, speed-up over
/// ext4-DAX (left panel) and over B0 (right), on a log2 axis from 1/16 to
/// 16; longer bars to the right are better.
pub fn svg(r: &Results) -> String {
    const COLORS: [&str; 5] = ["#d1495b", "#edae49", "#00798c", "#30638e", "#8d8d8d"];
    let fss: Vec<&str> =
        r.fs.iter()
            .map(String::as_str)
            .filter(|&f| f != B0)
            .collect();
    let rows: Vec<&Row> = ROWS
        .iter()
        .filter(|row| fss.iter().any(|fs| r.speedup(row, fs, EXT4).is_some()))
        .collect();
    let (label_w, panel_w, bar_h, gap, top) = (300.0, 330.0, 7.0, 8.0, 70.0);
    let group_h = bar_h * fss.len() as f64 + gap;
    let height = top + group_h * rows.len() as f64 + 30.0;
    let width = label_w + 2.0 * panel_w + 40.0;
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(o, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let title = format!(
        "r2dax make bench: speed-up (log2, above 1 = better), median of {} reps; {}",
        r.meta.get("reps").map_or("?", String::as_str),
        r.meta.get("qemu_mode").map_or("", String::as_str)
    );
    let _ = writeln!(
        o,
        r#"<text x="10" y="18" font-size="13">{}</text>"#,
        esc(&title)
    );
    for (i, fs) in fss.iter().enumerate() {
        let x = 10.0 + i as f64 * 120.0;
        let _ = writeln!(
            o,
            r#"<rect x="{x}" y="28" width="10" height="10" fill="{}"/>"#,
            COLORS[i % COLORS.len()]
        );
        let _ = writeln!(o, r#"<text x="{}" y="37">{fs}</text>"#, x + 14.0);
    }
    let lim = 4.0; // log2(16)
    for (p, (reference, name)) in [(EXT4, "x ext4-DAX"), (B0, "x B0 (device DAX)")]
        .iter()
        .enumerate()
    {
        let x0 = label_w + p as f64 * (panel_w + 20.0);
        let mid = x0 + panel_w / 2.0;
        let scale = panel_w / 2.0 / lim;
        let _ = writeln!(
            o,
            r#"<text x="{mid}" y="58" text-anchor="middle">{}</text>"#,
            esc(name)
        );
        for t in [-4i32, -2, 0, 2, 4] {
            let x = mid + t as f64 * scale;
            let lbl = if t >= 0 {
                format!("{}", 1 << t)
            } else {
                format!("1/{}", 1 << -t)
            };
            let stroke = if t == 0 { "#000" } else { "#ddd" };
            let _ = writeln!(
                o,
                r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{stroke}"/><text x="{x}" y="{}" text-anchor="middle" fill="#666">{lbl}</text>"##,
                top - 5.0,
                height - 25.0,
                height - 12.0
            );
        }
        for (ri, row) in rows.iter().enumerate() {
            let y0 = top + ri as f64 * group_h;
            for (i, fs) in fss.iter().enumerate() {
                let Some(v) = r.speedup(row, fs, reference) else {
                    continue;
                };
                let l = v.log2().clamp(-lim, lim);
                let (x, w) = if l >= 0.0 {
                    (mid, l * scale)
                } else {
                    (mid + l * scale, -l * scale)
                };
                let y = y0 + i as f64 * bar_h;
                let _ = writeln!(
                    o,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{}" fill="{}"><title>{fs} {}: {v:.3}</title></rect>"#,
                    w.max(0.5),
                    bar_h - 1.0,
                    COLORS[i % COLORS.len()],
                    esc(row.label)
                );
            }
        }
    }
    for (ri, row) in rows.iter().enumerate() {
        let y = top + ri as f64 * group_h + group_h / 2.0;
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{y:.1}" text-anchor="end">{}</text>"#,
            label_w - 10.0,
            esc(row.label)
        );
    }
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> String {
        let mut l = String::new();
        for (fs, rep, v) in [
            ("r2dax-dax", 1, 900.0),
            ("r2dax-dax", 2, 1000.0),
            ("r2dax-dax", 3, 1100.0),
        ] {
            let _ = writeln!(l, "R2DAX-BENCH fs={fs} rep={rep} bench=B1 case=seqw2m metric=write_clat_p50 value={v} unit=ns better=lower");
        }
        for (fs, v) in [("ext4-dax", 2000.0), ("devdax", 500.0)] {
            let b = if fs == "devdax" { "B0" } else { "B1" };
            let _ = writeln!(l, "R2DAX-BENCH fs={fs} rep=1 bench={b} case=seqw2m metric=write_clat_p50 value={v} unit=ns better=lower");
        }
        l.push_str("R2DAX-BENCH fs=r2dax-dax rep=1 bench=B6 case=read metric=faults value=512 unit=faults better=lower\n");
        l.push_str("R2DAX-BENCH fs=ext4-dax rep=1 bench=B6 case=read metric=faults value=1024 unit=faults better=lower\n");
        l.push_str("R2DAX-BENCH fs=ext4-dax rep=1 bench=B8 case=switch metric=to_dax_us value=nan unit=us better=lower note=after_last_close\n");
        l.push_str("R2DAX-BENCH-META reps 3\n");
        l
    }

    #[test]
    fn medians_and_speedups() {
        let r = Results::parse(&log());
        let s = r
            .get("r2dax-dax", "B1", "seqw2m", "write_clat_p50")
            .unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (1000.0, 900.0, 1100.0, 3));
        let row = ROWS
            .iter()
            .find(|x| x.case == "seqw2m" && x.metric == "write_clat_p50")
            .unwrap();
        assert_eq!(r.speedup(row, "r2dax-dax", EXT4), Some(2.0));
        assert_eq!(r.speedup(row, "r2dax-dax", B0), Some(0.5));
        // Lower is better: fewer faults is a speed-up above 1.
        let faults = ROWS
            .iter()
            .find(|x| x.case == "read" && x.metric == "faults")
            .unwrap();
        assert_eq!(r.speedup(faults, "r2dax-dax", EXT4), Some(2.0));
        let sw = r.get("ext4-dax", "B8", "switch", "to_dax_us").unwrap();
        assert_eq!((sw.n, sw.note.as_str()), (0, "after last close"));
        assert_eq!(r.meta.get("reps").map(String::as_str), Some("3"));
    }

    #[test]
    fn targets_judge_medians() {
        let r = Results::parse(&log());
        let t = targets(&r);
        let seq_b0 = t
            .iter()
            .find(|t| t.name == "seq write 2M vs devdax")
            .unwrap();
        assert_eq!(seq_b0.met, Some(false));
        let seq_ext4 = t
            .iter()
            .find(|t| t.name == "seq write 2M vs ext4-dax")
            .unwrap();
        assert_eq!(seq_ext4.met, Some(true));
        let f = t
            .iter()
            .find(|t| t.name == "faults, read 1 GiB written")
            .unwrap();
        assert_eq!(f.met, Some(true));
        let missing = t
            .iter()
            .find(|t| t.name == "append 4K vs ext4-dax")
            .unwrap();
        assert_eq!(missing.met, None);
    }

    #[test]
    fn outputs_are_well_formed() {
        let r = Results::parse(&log());
        assert!(crate::json::parse(&json(&r)).is_ok());
        let s = svg(&r);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert!(table(&r).contains("B1 seq write 2M"));
        assert!(markdown(&r).contains("(2.00x)"));
    }

    #[test]
    fn variants_get_columns_and_pairs() {
        assert_eq!(Results::parse(&log()).fs, FS);
        let mut l = log();
        for (rep, v) in [(1, 1200.0), (2, 1250.0), (3, 1300.0)] {
            let _ = writeln!(l, "R2DAX-BENCH fs=r2dax-dax@base rep={rep} bench=B1 case=seqw2m metric=write_clat_p50 value={v} unit=ns better=lower");
        }
        let r = Results::parse(&l);
        assert_eq!(r.fs[..3], ["r2dax-dax", "r2dax-dax@base", "r2dax-pc"]);
        assert_eq!(r.fs.len(), FS.len() + 1);
        let pairs = vec![("r2dax-dax".to_string(), "r2dax-dax@base".to_string())];
        assert_eq!(r.pairs(), pairs);
        let row = ROWS
            .iter()
            .find(|x| x.case == "seqw2m" && x.metric == "write_clat_p50")
            .unwrap();
        assert_eq!(r.speedup(row, "r2dax-dax", "r2dax-dax@base"), Some(1.25));
        assert!(table(&r).contains("x r2dax-dax@base"));
        assert!(markdown(&r).contains("| r2dax-dax@base |"));
        let j = json(&r);
        assert!(crate::json::parse(&j).is_ok() && j.contains("x_paired"));
        assert!(svg(&r).contains("r2dax-dax@base"));
    }
}
