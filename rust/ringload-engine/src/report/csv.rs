//! The report as the CSV files of Locust's `--csv PREFIX`, so what reads Locust's reads these:
//!
//! - `PREFIX_stats.csv`: one row per endpoint, then `Aggregated`;
//! - `PREFIX_stats_history.csv`: one `Aggregated` row per second of the run (Locust's default,
//!   without `--csv-full-history`);
//! - `PREFIX_failures.csv`: one row per endpoint and kind of failure.
//!
//! Locust's columns come first, with its names, order and units (milliseconds; integer
//! percentiles, `N/A` where nothing completed). ringload's own columns follow in the stats and
//! history files: microsecond latencies, `aborted`, the failures by kind, and in the history the
//! second's own numbers (Locust's history percentiles and totals are since the start).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::summary::{round2, LatencySummary, LocustLatency, LOCUST_PERCENTILES};
use super::timeline::TimelineEntry;
use super::Report;
use crate::error::ErrorKind;

/// Locust's `StatsCSV.requests_csv_columns`, before its percentile columns.
const STATS_COLUMNS: [&str; 11] = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
];

/// Locust's `StatsCSVFileWriter.stats_history_csv_columns`: these, the percentiles, then
/// [`HISTORY_TOTAL_COLUMNS`].
const HISTORY_COLUMNS: [&str; 6] = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
];

const HISTORY_TOTAL_COLUMNS: [&str; 7] = [
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
];

/// Locust's `StatsCSV.failures_columns`.
const FAILURES_COLUMNS: [&str; 6] = [
    "Method",
    "Name",
    "Error",
    "Occurrences",
    "First Seen",
    "Last Seen",
];

/// ringload's microsecond latency columns, after Locust's.
const LATENCY_COLUMNS: [&str; 6] = ["p50", "p90", "p99", "p999", "max", "mean"];

/// Locust's numbers for a set of requests: those that completed (a response or a failure; the
/// aborted ones never did, and Locust never counts a request in flight at its stop).
struct LocustCounts {
    requests: u64,
    failures: u64,
}

impl LocustCounts {
    fn of(ok: u64, failed: u64) -> LocustCounts {
        LocustCounts {
            requests: ok + failed,
            failures: failed,
        }
    }
}

impl Report {
    /// `PREFIX_stats.csv`: Locust's request statistics, then ringload's columns (`requests`
    /// counting the aborted ones too, `ok`, `failed`, `aborted`, `rps` of responses,
    /// microsecond latencies, failures by kind).
    pub fn stats_csv(&self) -> String {
        let mut out = header(&[
            named(&STATS_COLUMNS),
            percentile_columns(),
            named(&["requests", "ok", "failed", "aborted", "rps"]),
            latency_columns("latency"),
            latency_columns("uncorrected"),
            failure_columns(),
        ]);
        let rows = self
            .endpoints
            .iter()
            .map(|e| (e.method.as_str(), e.name.as_str(), &e.outcomes))
            // Locust's total row has no method: an empty Type.
            .chain(std::iter::once(("", "Aggregated", &self.outcomes)));
        for (method, name, o) in rows {
            let counts = LocustCounts::of(o.ok, o.failed_total());
            let latency = LocustLatency::from_histogram(&o.latency_histogram);
            let _ = write!(
                out,
                "{},{},{},{},{},{},{}",
                field(method),
                field(name),
                counts.requests,
                counts.failures,
                locust_summary(latency.as_ref(), o.body_bytes, counts.requests),
                per_second(counts.requests, self.duration_s),
                per_second(counts.failures, self.duration_s),
            );
            push_percentiles(&mut out, latency.as_ref());
            let _ = write!(
                out,
                ",{},{},{},{},{},{},{}",
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

    /// `PREFIX_stats_history.csv`: per second, Locust's `Aggregated` history row (the rates of
    /// that second; percentiles and totals since the start; `User Count` the connections open),
    /// then ringload's columns for that second alone: `t_s`, `duration_s`, the counts,
    /// microsecond latencies, connections, failures by kind and the status codes seen
    /// (`200:95 404:5`).
    pub fn history_csv(&self) -> String {
        let mut out = header(&[
            named(&HISTORY_COLUMNS),
            percentile_columns(),
            named(&HISTORY_TOTAL_COLUMNS),
            named(&[
                "t_s",
                "duration_s",
                "requests",
                "ok",
                "failed",
                "aborted",
                "rps",
            ]),
            latency_columns("latency"),
            latency_columns("uncorrected"),
            named(&["connects", "connections_open"]),
            failure_columns(),
            named(&["status"]),
        ]);
        let mut so_far = LocustCounts::of(0, 0);
        let mut body_bytes_so_far = 0;
        let mut last_timestamp = None;
        for e in &self.timeline {
            let second = LocustCounts::of(e.ok, e.failed_total());
            so_far.requests += second.requests;
            so_far.failures += second.failures;
            body_bytes_so_far += e.body_bytes;
            // The entry's end in whole seconds, as Locust stamps a row with `int(now)`; a short
            // last entry could fall in the same whole second as the one before, so every row
            // is kept a second after the previous one (Locust writes one row a second).
            let timestamp = self
                .unix_time(e.t + e.duration_s)
                .max(last_timestamp.map_or(0, |t| t + 1));
            last_timestamp = Some(timestamp);
            let _ = write!(
                out,
                "{timestamp},{},,Aggregated,{},{}",
                e.connections_open,
                history_rate(second.requests, e.duration_s),
                history_rate(second.failures, e.duration_s),
            );
            push_percentiles(&mut out, e.latency_so_far.as_ref());
            let _ = write!(
                out,
                ",{},{},{}",
                so_far.requests,
                so_far.failures,
                locust_summary(
                    e.latency_so_far.as_ref(),
                    body_bytes_so_far,
                    so_far.requests
                )
            );
            let _ = write!(
                out,
                ",{},{},{},{},{},{},{},{},{},{},{}",
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

    /// `PREFIX_failures.csv`: Locust's failures table, a row per endpoint and kind of failure
    /// that happened. `Error` is the kind and the run's first message of that kind; `First
    /// Seen` and `Last Seen` bound the seconds it happened in, when the timeline can tell them
    /// for this endpoint (only it had failures of that kind), and are empty otherwise.
    pub fn failures_csv(&self) -> String {
        let mut out = header(&[named(&FAILURES_COLUMNS)]);
        for endpoint in &self.endpoints {
            for kind in ErrorKind::ALL.map(ErrorKind::name) {
                let occurrences = endpoint.outcomes.failed.get(kind).copied().unwrap_or(0);
                if occurrences == 0 {
                    continue;
                }
                let error = match self.error_examples.get(kind) {
                    Some(example) => format!("{kind}: {example}"),
                    None => kind.to_string(),
                };
                let (first, last) = if self.only_endpoint_failing(kind) {
                    self.seen(kind)
                } else {
                    (String::new(), String::new())
                };
                let _ = writeln!(
                    out,
                    "{},{},{},{occurrences},{first},{last}",
                    field(&endpoint.method),
                    field(&endpoint.name),
                    field(&error)
                );
            }
        }
        out
    }

    /// Writes `PREFIX_stats.csv`, `PREFIX_stats_history.csv` and `PREFIX_failures.csv`;
    /// returns their paths.
    pub fn write_csv(&self, prefix: &Path) -> std::io::Result<[PathBuf; 3]> {
        let named = |suffix: &str| {
            let mut name = prefix.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        let paths = [
            named("_stats.csv"),
            named("_stats_history.csv"),
            named("_failures.csv"),
        ];
        std::fs::write(&paths[0], self.stats_csv())?;
        std::fs::write(&paths[1], self.history_csv())?;
        std::fs::write(&paths[2], self.failures_csv())?;
        Ok(paths)
    }

    /// Whole seconds since the Unix epoch at `t` seconds into the run (Locust's `int(now)`).
    fn unix_time(&self, t: f64) -> u64 {
        (self.started_unix_s + t).floor() as u64
    }

    /// At most one endpoint had failures of `kind`: the timeline's counts of it are its own.
    fn only_endpoint_failing(&self, kind: &str) -> bool {
        let failing = self
            .endpoints
            .iter()
            .filter(|e| e.outcomes.failed.get(kind).copied().unwrap_or(0) > 0);
        failing.count() <= 1
    }

    /// The start of the first second and the end of the last one with failures of `kind`, as
    /// Locust writes times (`2024-05-01T12:00:00Z`).
    fn seen(&self, kind: &str) -> (String, String) {
        let failing = |e: &&TimelineEntry| e.failed.get(kind).copied().unwrap_or(0) > 0;
        let first = self.timeline.iter().find(failing);
        let last = self.timeline.iter().rev().find(failing);
        match (first, last) {
            (Some(first), Some(last)) => (
                utc_time(self.unix_time(first.t)),
                utc_time(self.unix_time(last.t + last.duration_s)),
            ),
            _ => (String::new(), String::new()),
        }
    }
}

/// A header line of the column groups, in order.
fn header(groups: &[Vec<String>]) -> String {
    let mut line = groups.concat().join(",");
    line.push('\n');
    line
}

fn named(columns: &[&str]) -> Vec<String> {
    columns.iter().map(|c| c.to_string()).collect()
}

fn percentile_columns() -> Vec<String> {
    LOCUST_PERCENTILES
        .iter()
        .map(|(_, name)| name.to_string())
        .collect()
}

fn latency_columns(prefix: &str) -> Vec<String> {
    LATENCY_COLUMNS
        .iter()
        .map(|c| format!("{prefix}_{c}_us"))
        .collect()
}

fn failure_columns() -> Vec<String> {
    ErrorKind::ALL
        .iter()
        .map(|kind| format!("failed_{}", kind.name()))
        .collect()
}

/// Milliseconds with microsecond precision, as Locust writes its averages, minimums and
/// maximums.
fn ms(us: f64) -> String {
    format!("{:.3}", us / 1_000.0)
}

/// Whole milliseconds, as Locust writes its median and percentiles.
fn whole_ms(us: u64) -> u64 {
    (us as f64 / 1_000.0).round() as u64
}

/// Median, average, min and max (ms), then the average content size (`body_bytes` over
/// `requests`, failures included, as Locust divides): Locust's `0` for each when nothing
/// completed.
fn locust_summary(latency: Option<&LocustLatency>, body_bytes: u64, requests: u64) -> String {
    let content = average_content_size(body_bytes, requests);
    match latency {
        None => format!("0,0.0,0,0,{content}"),
        Some(l) => format!(
            "{},{},{},{},{content}",
            whole_ms(l.median_us()),
            ms(l.mean_us),
            ms(l.min_us as f64),
            ms(l.max_us as f64)
        ),
    }
}

/// Locust's `avg_content_length` as Python writes it: `0` with no request, else a float in
/// its shortest form (`100.0`, `33.333333333333336`).
fn average_content_size(body_bytes: u64, requests: u64) -> String {
    if requests == 0 {
        return "0".to_string();
    }
    let average = body_bytes as f64 / requests as f64;
    if average.fract() == 0.0 {
        format!("{average:.1}")
    } else {
        format!("{average}")
    }
}

/// One cell per Locust percentile: whole milliseconds, or Locust's `N/A` when nothing
/// completed.
fn push_percentiles(out: &mut String, latency: Option<&LocustLatency>) {
    for index in 0..LOCUST_PERCENTILES.len() {
        match latency {
            Some(l) => {
                let _ = write!(out, ",{}", whole_ms(l.percentiles_us[index]));
            }
            None => out.push_str(",N/A"),
        }
    }
}

/// A rate over the run, rounded as the JSON's `rps`.
fn per_second(count: u64, duration_s: f64) -> f64 {
    if duration_s > 0.0 {
        round2(count as f64 / duration_s)
    } else {
        0.0
    }
}

/// A rate over one history entry, written as Locust writes its history's (`f"{rate:2f}"`).
fn history_rate(count: u64, duration_s: f64) -> String {
    let rate = if duration_s > 0.0 {
        count as f64 / duration_s
    } else {
        0.0
    };
    format!("{rate:.6}")
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

/// `2024-05-01T12:00:00Z`: Locust's `format_utc_timestamp`.
fn utc_time(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    // Howard Hinnant's days-to-civil: the proleptic Gregorian date of a day count.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
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
    use super::*;

    #[test]
    fn fields_with_separators_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn times_are_written_as_locust_writes_them() {
        assert_eq!(utc_time(0), "1970-01-01T00:00:00Z");
        // `datetime.fromtimestamp(1714564800, UTC)`: a leap year, after February.
        assert_eq!(utc_time(1_714_564_800), "2024-05-01T12:00:00Z");
        assert_eq!(utc_time(951_868_799), "2000-02-29T23:59:59Z");
        assert_eq!(utc_time(1_735_689_599), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn latency_is_in_milliseconds_and_na_where_nothing_completed() {
        let mut h = crate::stats::new_histogram();
        for us in [800, 1_200, 1_600, 250_000] {
            h.record(us).unwrap();
        }
        let latency = LocustLatency::from_histogram(&h).unwrap();
        // Median 1.2 ms is written as Locust writes it, whole milliseconds; min and max keep
        // their microseconds.
        assert_eq!(
            locust_summary(Some(&latency), 0, 4),
            format!(
                "1,{},0.800,{},0.0",
                ms(latency.mean_us),
                ms(latency.max_us as f64)
            )
        );
        assert!(ms(latency.max_us as f64).starts_with("250."));
        let mut cells = String::new();
        push_percentiles(&mut cells, Some(&latency));
        let cells: Vec<&str> = cells[1..].split(',').collect();
        assert_eq!(cells.len(), 11);
        assert_eq!((cells[0], cells[10]), ("1", "250"));

        assert!(LocustLatency::from_histogram(&crate::stats::new_histogram()).is_none());
        let mut empty = String::new();
        push_percentiles(&mut empty, None);
        assert_eq!(empty, ",N/A".repeat(11));
        assert_eq!(locust_summary(None, 0, 0), "0,0.0,0,0,0");
    }

    #[test]
    fn the_average_content_size_is_written_as_python_writes_locusts() {
        assert_eq!(average_content_size(0, 0), "0");
        assert_eq!(average_content_size(300, 3), "100.0");
        assert_eq!(average_content_size(100, 3), "33.333333333333336");
        assert_eq!(average_content_size(0, 5), "0.0");
        assert_eq!(locust_summary(None, 12, 4), "0,0.0,0,0,3.0");
    }
}
