//! The end-of-run report: the JSON contract (`schema/report.schema.json` in the CLI crate) and
//! the human summary. Built once from the merged statistics. The same report renders as a
//! self-contained HTML page with charts ([`html`]) and as CSV files ([`csv`]).

mod chart;
pub mod csv;
pub mod html;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::stages::Stage;
use crate::stats::{EndpointKey, EndpointStats, ErrorKind, IntervalStats};
use crate::timeline::TimelineEntry;

/// Latency distribution in microseconds. Every field is `None` when no request completed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub min: Option<u64>,
    pub mean: Option<f64>,
    pub stdev: Option<f64>,
    pub max: Option<u64>,
    pub p50: Option<u64>,
    pub p75: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
    pub p999: Option<u64>,
    pub p9999: Option<u64>,
}

/// The percentiles every report shows, with their display labels.
pub const REPORTED_PERCENTILES: [(f64, &str); 6] = [
    (50.0, "50%"),
    (75.0, "75%"),
    (90.0, "90%"),
    (99.0, "99%"),
    (99.9, "99.9%"),
    (99.99, "99.99%"),
];

impl LatencySummary {
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary {
                min: None,
                mean: None,
                stdev: None,
                max: None,
                p50: None,
                p75: None,
                p90: None,
                p99: None,
                p999: None,
                p9999: None,
            };
        }
        let q = |p: f64| Some(h.value_at_quantile(p / 100.0));
        LatencySummary {
            min: Some(h.min()),
            mean: Some(round2(h.mean())),
            stdev: Some(round2(h.stdev())),
            max: Some(h.max()),
            p50: q(50.0),
            p75: q(75.0),
            p90: q(90.0),
            p99: q(99.0),
            p999: q(99.9),
            p9999: q(99.99),
        }
    }

    fn percentiles(&self) -> [Option<u64>; 6] {
        [
            self.p50, self.p75, self.p90, self.p99, self.p999, self.p9999,
        ]
    }
}

/// How far the open-model schedule fell behind: the delay between when each request was due
/// and when it was actually sent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScheduleLag {
    /// Requested total rate, requests per second.
    pub target_rps: f64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Requests due before the run ended that were never sent: every connection was busy.
    pub unsent: u64,
    /// The connections could not carry the rate: more than 1% of the requests due were never
    /// sent. The achieved rate is then below the target; more connections (`-c`) would help.
    pub behind: bool,
}

impl ScheduleLag {
    fn build(target_rps: f64, stats: &IntervalStats) -> ScheduleLag {
        let quantile = |q: f64| {
            stats
                .lag
                .as_ref()
                .filter(|h| !h.is_empty())
                .map_or(0, |h| h.value_at_quantile(q))
        };
        let due = stats.lag_count + stats.unsent;
        ScheduleLag {
            target_rps,
            mean_us: if stats.lag_count == 0 {
                0.0
            } else {
                round2(stats.lag_sum_us as f64 / stats.lag_count as f64)
            },
            p50_us: quantile(0.5),
            p99_us: quantile(0.99),
            max_us: stats.lag_max_us,
            unsent: stats.unsent,
            behind: stats.unsent * 100 > due,
        }
    }

    /// The warning line for a schedule that fell behind, if it did; `ramped` when the rate
    /// came from stages, whose targets are what to lower.
    fn warning(&self, ramped: bool) -> Option<String> {
        let (average, lower) = if ramped {
            (" (the ramp's average)", "the --stage rates")
        } else {
            ("", "-R")
        };
        self.behind.then(|| {
            format!(
                "warning: the schedule fell behind: {} requests due were never sent, so fewer \
                 than {:.1} req/s{average} went out; every connection was busy (send lag p99 \
                 {}). Add connections with -c, or lower {lower}",
                self.unsent,
                self.target_rps,
                format_us(self.p99_us as f64)
            )
        })
    }
}

/// What a set of requests amounted to: the whole run, or one endpoint (statistics row).
#[derive(Debug, Clone, Serialize)]
pub struct Outcomes {
    /// Every request accounted: `ok + sum(failed) + aborted`.
    pub requests: u64,
    /// Complete responses, whatever their status (see `status`).
    pub ok: u64,
    /// Failed requests by kind; every kind is present.
    pub failed: BTreeMap<&'static str, u64>,
    /// In flight when the run ended.
    pub aborted: u64,
    /// Of `aborted`: still waiting for their connection to be established.
    pub aborted_connecting: u64,
    /// Idempotent requests resent after a reused connection closed without any response byte.
    pub retries: u64,
    /// Responses by status code.
    pub status: BTreeMap<u16, u64>,
    /// Complete responses per second.
    pub rps: f64,
    pub latency_us: LatencySummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_uncorrected_us: Option<LatencySummary>,
    /// The merged latency histogram, for arbitrary percentiles.
    #[serde(skip)]
    pub latency_histogram: Histogram<u64>,
}

impl Outcomes {
    fn build(stats: &EndpointStats, duration_s: f64) -> Outcomes {
        Outcomes {
            requests: stats.requests(),
            ok: stats.ok,
            failed: failed_by_kind(stats),
            aborted: stats.aborted,
            aborted_connecting: stats.aborted_connecting,
            retries: stats.retries,
            status: status_counts(stats),
            rps: if duration_s > 0.0 {
                round2(stats.ok as f64 / duration_s)
            } else {
                0.0
            },
            latency_us: LatencySummary::from_histogram(&stats.latency),
            latency_uncorrected_us: stats
                .latency_uncorrected
                .as_ref()
                .map(LatencySummary::from_histogram),
            latency_histogram: stats.latency.clone(),
        }
    }

    /// Failed requests of every kind.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    /// Latency at percentile `p` (0..=100), microseconds; `None` when nothing completed.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        (!self.latency_histogram.is_empty()).then(|| {
            self.latency_histogram
                .value_at_quantile(p.clamp(0.0, 100.0) / 100.0)
        })
    }
}

/// One statistics row: the requests of one method and name (a scenario's row, like a line of
/// Locust's stats table).
#[derive(Debug, Clone, Serialize)]
pub struct EndpointReport {
    pub name: String,
    pub method: String,
    #[serde(flatten)]
    pub outcomes: Outcomes,
}

/// Result of one run. Serializes to the `--json` object.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Target URL (with a scenario, the base URL), without any credentials.
    pub url: String,
    /// The method of every request, or `MIXED` for a scenario that uses several.
    pub method: String,
    pub connections: usize,
    pub threads: usize,
    /// `"uring"` or `"epoll"`: the I/O driver the workers used.
    pub io: &'static str,
    /// `"closed"` (next request when the previous completes) or `"open"` (constant rate).
    pub model: &'static str,
    /// The whole run.
    #[serde(flatten)]
    pub outcomes: Outcomes,
    /// TCP (and TLS) connections established.
    pub connects: u64,
    /// The user stopped the run before its end (Ctrl-C, SIGTERM, a `StopHandle`): it covers
    /// what was measured until then, and the requests in flight are in `aborted`.
    pub interrupted: bool,
    /// The first error message seen for each failed kind, e.g. why TLS verification failed.
    pub error_examples: BTreeMap<&'static str, String>,
    pub duration_s: f64,
    /// When the run started, seconds since the Unix epoch (the CSV history's `Timestamp`).
    #[serde(skip)]
    pub started_unix_s: f64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_lag: Option<ScheduleLag>,
    /// Time to establish each new TCP connection (`connects` of them), microseconds.
    pub connect_us: LatencySummary,
    /// https only: time of each new connection's TLS handshake, microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_us: Option<LatencySummary>,
    /// Time from sending each completed request to the first byte of its response (with
    /// `--disable-keepalive`, from before the connect), microseconds.
    pub ttfb_us: LatencySummary,
    /// What a reader of the numbers must know: the open-file limit was too low for the
    /// connections, the schedule fell behind, requests were aborted while connecting, no
    /// request got a response. Also printed on stderr as they are found.
    pub warnings: Vec<String>,
    /// Per method and name, in the order the requests were given.
    pub endpoints: Vec<EndpointReport>,
    /// The run second by second; the entries' counts add up to the run's.
    pub timeline: Vec<TimelineEntry>,
    /// The whole run's latency distribution, for the HTML report's percentile spectrum.
    #[serde(skip)]
    pub spectrum: Spectrum,
    /// The ramps the run was asked for, for the HTML report's configuration.
    #[serde(skip)]
    pub ramps: Ramps,
}

/// The stages of a run as given; empty for a constant rate or connections.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ramps {
    /// Open model (`--stage`): the rate the first stage starts from, and the stages.
    pub rate_start: f64,
    pub rate: Vec<Stage>,
    /// Closed model (`--connection-stage`), from 0 connections.
    pub connections: Vec<Stage>,
}

/// Latency at percentiles from 0 to 99.999% (ten per decade of `1 / (1 - q)`), as
/// HdrHistogram's percentile distribution plots it.
#[derive(Debug, Clone, Default)]
pub struct Spectrum {
    /// `(percentile, latency_us)`, corrected in the open model.
    pub corrected: Vec<(f64, u64)>,
    /// Open model only: from the actual send.
    pub uncorrected: Option<Vec<(f64, u64)>>,
}

/// The spectrum stops where the histogram has too few values to say more: at `1 / count` from
/// the top, and at five nines at most.
const SPECTRUM_POINTS_PER_DECADE: u32 = 10;
const SPECTRUM_DECADES: u32 = 5;

fn spectrum_of(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    (0..=SPECTRUM_POINTS_PER_DECADE * SPECTRUM_DECADES)
        .map(|i| 1.0 - 10f64.powf(-f64::from(i) / f64::from(SPECTRUM_POINTS_PER_DECADE)))
        .take_while(|q| (1.0 - q) * h.len() as f64 >= 1.0)
        .map(|q| (round_to(q * 100.0, 4), h.value_at_quantile(q)))
        .collect()
}

/// What the report needs besides the statistics.
pub(crate) struct RunFacts {
    pub url: String,
    pub method: String,
    pub endpoints: Vec<EndpointKey>,
    pub connections: usize,
    pub threads: usize,
    pub io: &'static str,
    pub target_rps: Option<f64>,
    pub started_at: SystemTime,
    pub elapsed: Duration,
    /// The user stopped the run before its end.
    pub interrupted: bool,
    /// https: TLS handshake times are reported.
    pub tls: bool,
    /// Warnings found before the run started.
    pub warnings: Vec<String>,
    pub timeline: Vec<TimelineEntry>,
    pub ramps: Ramps,
}

impl Report {
    pub(crate) fn build(facts: RunFacts, stats: &IntervalStats) -> Report {
        let duration_s = facts.elapsed.as_secs_f64();
        let error_examples = ErrorKind::ALL
            .iter()
            .filter_map(|kind| {
                let example = stats.examples[*kind as usize].as_ref()?;
                Some((kind.name(), example.clone()))
            })
            .collect();
        let schedule_lag = facts
            .target_rps
            .map(|target_rps| ScheduleLag::build(target_rps, stats));
        let endpoints = facts
            .endpoints
            .into_iter()
            .zip(&stats.endpoints)
            .map(|(key, endpoint)| EndpointReport {
                name: key.name,
                method: key.method,
                outcomes: Outcomes::build(endpoint, duration_s),
            })
            .collect();
        let total = stats.total();
        let outcomes = Outcomes::build(&total, duration_s);
        let spectrum = Spectrum {
            corrected: spectrum_of(&total.latency),
            uncorrected: total.latency_uncorrected.as_ref().map(spectrum_of),
        };
        let mut warnings = facts.warnings;
        let ramped = !facts.ramps.rate.is_empty();
        warnings.extend(schedule_lag.as_ref().and_then(|lag| lag.warning(ramped)));
        if outcomes.aborted_connecting > 0 {
            warnings.push(format!(
                "warning: {} requests were aborted while connecting: their connections were not \
                 established before the run ended (the target accepts connections too slowly \
                 for {} at once, or the kernel ran short of local ports); use fewer connections \
                 or a longer run",
                outcomes.aborted_connecting, facts.connections
            ));
        }
        let mut report = Report {
            url: facts.url,
            method: facts.method,
            connections: facts.connections,
            threads: facts.threads,
            io: facts.io,
            model: if facts.target_rps.is_some() {
                "open"
            } else {
                "closed"
            },
            outcomes,
            error_examples,
            connects: stats.connects,
            interrupted: facts.interrupted,
            duration_s: round_to(duration_s, 6),
            started_unix_s: facts
                .started_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |since| since.as_secs_f64()),
            bytes_read: stats.bytes_read,
            bytes_written: stats.bytes_written,
            schedule_lag,
            connect_us: LatencySummary::from_histogram(&stats.connect),
            tls_us: facts
                .tls
                .then(|| LatencySummary::from_histogram(&stats.tls)),
            ttfb_us: LatencySummary::from_histogram(&stats.ttfb),
            warnings,
            endpoints,
            timeline: facts.timeline,
            spectrum,
            ramps: facts.ramps,
        };
        report.warnings.extend(report.no_success_warning());
        report
    }

    /// The warning for a run in which requests were made and none got a response: its
    /// numbers describe failures, whatever the exit code says.
    fn no_success_warning(&self) -> Option<String> {
        let outcomes = &self.outcomes;
        if outcomes.ok > 0 || outcomes.requests == 0 {
            return None;
        }
        let mut why = self.error_counts();
        if outcomes.aborted > 0 {
            why.push(format!("aborted at the end: {}", outcomes.aborted));
        }
        Some(format!(
            "warning: no request succeeded: none of the {} requests got a response ({})",
            outcomes.requests,
            why.join("; ")
        ))
    }

    /// Failed requests of every kind.
    pub fn failed_total(&self) -> u64 {
        self.outcomes.failed_total()
    }

    /// Latency at percentile `p` (0..=100), microseconds; `None` when nothing completed.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        self.outcomes.percentile(p)
    }

    /// `kind: count (first message)` for each kind of failure that happened.
    pub(crate) fn error_counts(&self) -> Vec<String> {
        self.outcomes
            .failed
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(kind, n)| match self.error_examples.get(kind) {
                Some(example) => format!("{kind}: {n} ({example})"),
                None => format!("{kind}: {n}"),
            })
            .collect()
    }

    /// The report as a JSON value (the `--json` contract).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("report fields are plain data")
    }
}

/// Failed requests by kind name, every kind present (the JSON's `failed`).
pub(crate) fn failed_by_kind(stats: &EndpointStats) -> BTreeMap<&'static str, u64> {
    ErrorKind::ALL
        .iter()
        .map(|kind| (kind.name(), stats.failed[*kind as usize]))
        .collect()
}

/// Responses by status code, the codes seen only (the JSON's `status`, whose keys JSON
/// writes as strings).
pub(crate) fn status_counts(stats: &EndpointStats) -> BTreeMap<u16, u64> {
    (0u16..)
        .zip(stats.status.iter())
        .filter(|(_, count)| **count > 0)
        .map(|(code, count)| (code, *count))
        .collect()
}

pub(crate) fn round2(v: f64) -> f64 {
    round_to(v, 2)
}

fn round_to(v: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

/// Microseconds as a human duration: `812us`, `12.40ms`, `1.52s`.
pub fn format_us(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.0}us")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1_000.0)
    } else {
        format!("{:.2}s", us / 1_000_000.0)
    }
}

fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

fn write_latency(f: &mut fmt::Formatter<'_>, title: &str, l: &LatencySummary) -> fmt::Result {
    let (Some(min), Some(mean), Some(stdev), Some(max)) = (l.min, l.mean, l.stdev, l.max) else {
        return writeln!(f, "{title}: no request completed");
    };
    writeln!(
        f,
        "{title}: min {}  mean {}  stdev {}  max {}",
        format_us(min as f64),
        format_us(mean),
        format_us(stdev),
        format_us(max as f64)
    )?;
    let cells: Vec<String> = REPORTED_PERCENTILES
        .iter()
        .zip(l.percentiles())
        .map(|((_, label), v)| format!("{label} {}", format_us(v.unwrap_or(0) as f64)))
        .collect();
    writeln!(f, "  {}", cells.join("  "))
}

impl fmt::Display for Report {
    /// The human summary printed by the CLI (and Python's `repr`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} {}  ({} connections, {} threads, {} model, io {})",
            self.method, self.url, self.connections, self.threads, self.model, self.io
        )?;
        writeln!(
            f,
            "Requests: {}  ok {}  failed {}  aborted {}{}  in {:.2}s",
            self.outcomes.requests,
            self.outcomes.ok,
            self.failed_total(),
            self.outcomes.aborted,
            aborted_note(&self.outcomes),
            self.duration_s
        )?;
        if self.interrupted {
            writeln!(
                f,
                "Interrupted: stopped after {:.2}s; this covers what was measured until then, \
                 and the {} requests in flight were counted aborted",
                self.duration_s, self.outcomes.aborted
            )?;
        }
        writeln!(
            f,
            "Throughput: {:.1} req/s  read {}  written {}",
            self.outcomes.rps,
            format_bytes(self.bytes_read),
            format_bytes(self.bytes_written)
        )?;
        let title = if self.outcomes.latency_uncorrected_us.is_some() {
            "Latency (corrected, from schedule)"
        } else {
            "Latency"
        };
        write_latency(f, title, &self.outcomes.latency_us)?;
        if let Some(uncorrected) = &self.outcomes.latency_uncorrected_us {
            write_latency(f, "Latency (uncorrected, from send)", uncorrected)?;
        }
        let phase = |name: &str, l: &LatencySummary| match (l.p50, l.p99) {
            (Some(p50), Some(p99)) => format!(
                "{name} p50 {}  p99 {}",
                format_us(p50 as f64),
                format_us(p99 as f64)
            ),
            _ => format!("{name} -"),
        };
        let mut phases = vec![
            phase("connect", &self.connect_us),
            phase("ttfb", &self.ttfb_us),
        ];
        if let Some(tls) = &self.tls_us {
            phases.insert(1, phase("tls", tls));
        }
        writeln!(
            f,
            "Phases: {}  ({} new connections)",
            phases.join("  |  "),
            self.connects
        )?;
        if let Some(lag) = &self.schedule_lag {
            writeln!(
                f,
                "Schedule: target {:.1} req/s  send lag mean {}  p50 {}  p99 {}  max {}{}",
                lag.target_rps,
                format_us(lag.mean_us),
                format_us(lag.p50_us as f64),
                format_us(lag.p99_us as f64),
                format_us(lag.max_us as f64),
                if lag.behind {
                    format!("  FELL BEHIND: {} due requests never sent", lag.unsent)
                } else {
                    String::new()
                }
            )?;
        }
        let codes: Vec<String> = self
            .outcomes
            .status
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        writeln!(
            f,
            "Status codes: {}",
            if codes.is_empty() {
                "none".to_string()
            } else {
                codes.join("  ")
            }
        )?;
        let errors = self.error_counts();
        if self.endpoints.len() > 1 {
            write_endpoints(f, &self.endpoints)?;
        }
        write!(
            f,
            "Errors: {}",
            if errors.is_empty() {
                "none".to_string()
            } else {
                errors.join("  ")
            }
        )?;
        if self.outcomes.retries > 0 {
            write!(
                f,
                "\nRetries (idempotent, after a close that raced the send): {}",
                self.outcomes.retries
            )?;
        }
        Ok(())
    }
}

/// What `aborted N` means, said where N is not 0: a reader of a short run otherwise takes them
/// for errors.
fn aborted_note(outcomes: &Outcomes) -> String {
    match (outcomes.aborted, outcomes.aborted_connecting) {
        (0, _) => String::new(),
        (_, 0) => " (in flight when the run ended, not counted as failures)".to_string(),
        (_, connecting) => format!(
            " (in flight when the run ended, not counted as failures; {connecting} while \
             connecting)"
        ),
    }
}

/// The per-name table, like Locust's stats table.
fn write_endpoints(f: &mut fmt::Formatter<'_>, endpoints: &[EndpointReport]) -> fmt::Result {
    let width = endpoints
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    writeln!(
        f,
        "  {:<7} {:<width$}  {:>9} {:>8} {:>8}  {:>9} {:>9} {:>9} {:>9}  {:>10}",
        "Method", "Name", "Requests", "Failed", "Aborted", "p50", "p90", "p99", "max", "req/s"
    )?;
    for e in endpoints {
        let o = &e.outcomes;
        let latency = |v: Option<u64>| v.map_or("-".to_string(), |v| format_us(v as f64));
        writeln!(
            f,
            "  {:<7} {:<width$}  {:>9} {:>8} {:>8}  {:>9} {:>9} {:>9} {:>9}  {:>10.1}",
            e.method,
            e.name,
            o.requests,
            o.failed_total(),
            o.aborted,
            latency(o.latency_us.p50),
            latency(o.latency_us.p90),
            latency(o.latency_us.p99),
            latency(o.latency_us.max),
            o.rps
        )?;
    }
    Ok(())
}
