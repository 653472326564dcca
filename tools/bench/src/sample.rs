// SPDX-License-Identifier: GPL-2.0
//! The result line format shared by the guest commands and the report.
//!
//! One measurement per line on the guest's job output:
//!
//! ```text
//! R2DAX-BENCH fs=ext4-dax rep=2 bench=B1 case=seqw2m metric=write_bw value=812.4 unit=MB/s better=higher
//! R2DAX-BENCH fs=ext4-dax rep=2 bench=B8 case=switch metric=on_us value=nan unit=us better=lower note=deferred
//! R2DAX-BENCH-META guest_kernel 6.12.117
//! ```
//!
//! `fs` and `rep` come from the environment (`BENCH_FS`, `BENCH_REP`), set
//! by the guest script around each filesystem's run.

/// Which way a metric improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

impl Better {
    pub fn word(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
        }
    }
}

/// One measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub fs: String,
    pub rep: u32,
    pub bench: String,
    pub case: String,
    pub metric: String,
    /// NaN when `note` says why there is no number.
    pub value: f64,
    pub unit: String,
    pub better: Better,
    pub note: String,
}

pub const TAG: &str = "R2DAX-BENCH";
pub const META_TAG: &str = "R2DAX-BENCH-META";
pub const ERROR_TAG: &str = "R2DAX-BENCH-ERROR";

impl Sample {
    /// A sample tagged with `BENCH_FS` and `BENCH_REP` from the environment.
    pub fn new(
        bench: &str,
        case: &str,
        metric: &str,
        value: f64,
        unit: &str,
        better: Better,
    ) -> Self {
        Sample {
            fs: std::env::var("BENCH_FS").unwrap_or_else(|_| "unknown".into()),
            rep: std::env::var("BENCH_REP")
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(1),
            bench: bench.into(),
            case: case.into(),
            metric: metric.into(),
            value,
            unit: unit.into(),
            better,
            note: String::new(),
        }
    }

    /// The same sample without a number, and why.
    pub fn missing(
        bench: &str,
        case: &str,
        metric: &str,
        unit: &str,
        better: Better,
        note: &str,
    ) -> Self {
        let mut s = Sample::new(bench, case, metric, f64::NAN, unit, better);
        s.note = note.replace(' ', "_");
        s
    }

    pub fn line(&self) -> String {
        let mut l = format!(
            "{TAG} fs={} rep={} bench={} case={} metric={} value={} unit={} better={}",
            self.fs,
            self.rep,
            self.bench,
            self.case,
            self.metric,
            if self.value.is_finite() {
                format!("{:.6}", self.value)
            } else {
                "nan".into()
            },
            self.unit,
            self.better.word()
        );
        if !self.note.is_empty() {
            l.push_str(" note=");
            l.push_str(&self.note);
        }
        l
    }

    pub fn print(&self) {
        println!("{}", self.line());
    }

    /// Parses a result line; `None` for any other line.
    pub fn parse(line: &str) -> Option<Sample> {
        let rest = line.trim().strip_prefix(TAG)?.strip_prefix(' ')?;
        let mut s = Sample {
            fs: String::new(),
            rep: 0,
            bench: String::new(),
            case: String::new(),
            metric: String::new(),
            value: f64::NAN,
            unit: String::new(),
            better: Better::Higher,
            note: String::new(),
        };
        for kv in rest.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            match k {
                "fs" => s.fs = v.into(),
                "rep" => s.rep = v.parse().ok()?,
                "bench" => s.bench = v.into(),
                "case" => s.case = v.into(),
                "metric" => s.metric = v.into(),
                "value" => {
                    s.value = if v == "nan" {
                        f64::NAN
                    } else {
                        v.parse().ok()?
                    }
                }
                "unit" => s.unit = v.into(),
                "better" => {
                    s.better = match v {
                        "higher" => Better::Higher,
                        "lower" => Better::Lower,
                        _ => return None,
                    }
                }
                "note" => s.note = v.into(),
                _ => {}
            }
        }
        (!s.fs.is_empty() && !s.bench.is_empty() && !s.metric.is_empty()).then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_round_trip() {
        let mut s = Sample::new("B1", "seqw2m", "write_bw", 812.5, "MB/s", Better::Higher);
        s.fs = "ext4-dax".into();
        s.rep = 2;
        assert_eq!(Sample::parse(&s.line()), Some(s.clone()));
        let m = Sample::missing(
            "B8",
            "switch",
            "on_us",
            "us",
            Better::Lower,
            "after last close",
        );
        let p = Sample::parse(&m.line()).unwrap();
        assert!(p.value.is_nan());
        assert_eq!(p.note, "after_last_close");
        assert_eq!(
            Sample::parse("R2DAX-BENCH fs=a rep=x bench=B1 metric=m"),
            None
        );
        assert_eq!(Sample::parse("something else"), None);
    }
}
