//! The report as CSV files, named as Locust's `--csv PREFIX` names them: `PREFIX_stats.csv`
//! (one row per endpoint, then `Aggregated`) and `PREFIX_stats_history.csv` (the timeline,
//! one row per second). Latencies are microseconds; empty cells mean nothing completed.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::{LatencySummary, Report};
use crate::stats::ErrorKind;

impl Report {
    /// The endpoint table: `method,name,requests,ok,failed,aborted,rps`, latency columns, and
    /// the failures of each kind.
    pub fn stats_csv(&self) -> String {
        let mut out = String::from("method,name,requests,ok,failed,aborted,rps,");
        out.push_str(&latency_header("latency"));
        out.push(',');
        out.push_str(&latency_header("uncorrected"));
        for kind in ErrorKind::ALL {
            let _ = write!(out, ",failed_{}", kind.name());
        }
        out.push('\n');
        let rows = self
            .endpoints
            .iter()
            .map(|e| (e.method.as_str(), e.name.as_str(), &e.outcomes))
            .chain(std::iter::once(("", "Aggregated", &self.outcomes)));
        for (method, name, o) in rows {
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},{},{}",
                field(method),
                field(name),
                o.requests,
                o.ok,
                o.failed_total(),
                o.aborted,
                o.rps,
                latency_cells(Some(&o.latency_us)),
                latency_cells(o.latency_uncorrected_us.as_ref())
            );
            push_failures(&mut out, &o.failed);
            out.push('\n');
        }
        out
    }

    /// The timeline: `t_s,duration_s,requests,ok,failed,aborted,rps`, latency columns,
    /// connections, failures of each kind and the status codes seen (`200:95 404:5`).
    pub fn history_csv(&self) -> String {
        let mut out = String::from("t_s,duration_s,requests,ok,failed,aborted,rps,");
        out.push_str(&latency_header("latency"));
        out.push(',');
        out.push_str(&latency_header("uncorrected"));
        out.push_str(",connects,connections_open");
        for kind in ErrorKind::ALL {
            let _ = write!(out, ",failed_{}", kind.name());
        }
        out.push_str(",status\n");
        for e in &self.timeline {
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{}",
                e.t,
                e.duration_s,
                e.requests,
                e.ok,
                e.failed_total(),
                e.aborted,
                e.rps,
                latency_cells(Some(&e.latency_us)),
                latency_cells(e.latency_uncorrected_us.as_ref()),
                e.connects,
                e.connections_open
            );
            push_failures(&mut out, &e.failed);
            let status: Vec<String> = e.status.iter().map(|(c, n)| format!("{c}:{n}")).collect();
            let _ = writeln!(out, ",{}", field(&status.join(" ")));
        }
        out
    }

    /// Writes `PREFIX_stats.csv` and `PREFIX_stats_history.csv`; returns their paths.
    pub fn write_csv(&self, prefix: &Path) -> std::io::Result<[PathBuf; 2]> {
        let named = |suffix: &str| {
            let mut name = prefix.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        let paths = [named("_stats.csv"), named("_stats_history.csv")];
        std::fs::write(&paths[0], self.stats_csv())?;
        std::fs::write(&paths[1], self.history_csv())?;
        Ok(paths)
    }
}

const LATENCY_COLUMNS: [&str; 6] = ["p50", "p90", "p99", "p999", "max", "mean"];

fn latency_header(prefix: &str) -> String {
    LATENCY_COLUMNS
        .iter()
        .map(|c| format!("{prefix}_{c}_us"))
        .collect::<Vec<_>>()
        .join(",")
}

fn latency_cells(summary: Option<&LatencySummary>) -> String {
    let cell = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
    match summary {
        None => vec![String::new(); LATENCY_COLUMNS.len()].join(","),
        Some(l) => [
            cell(l.p50),
            cell(l.p90),
            cell(l.p99),
            cell(l.p999),
            cell(l.max),
            l.mean.map_or(String::new(), |m| m.to_string()),
        ]
        .join(","),
    }
}

/// One cell per error kind, in the header's order.
fn push_failures(out: &mut String, failed: &BTreeMap<&'static str, u64>) {
    for kind in ErrorKind::ALL {
        let _ = write!(out, ",{}", failed.get(kind.name()).copied().unwrap_or(0));
    }
}

/// A CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_with_separators_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
