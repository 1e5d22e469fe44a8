//! The end-of-run report: the JSON contract (`schema/report.schema.json` in the CLI crate) and
//! the human summary. Built once from the merged statistics. The same report renders as a
//! self-contained HTML page with charts ([`html`]) and as CSV files ([`csv`]).

mod chart;
pub mod csv;
pub mod html;
pub mod summary;
mod text;
pub mod timeline;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::load::config::Http2Options;
use crate::load::stages::Stage;
use crate::stats::{EndpointKey, EndpointStats, ErrorKind, IntervalStats};
use summary::{failed_by_kind, round2, round_to, status_counts};
pub use summary::{format_us, LatencySummary, REPORTED_PERCENTILES};
use timeline::TimelineEntry;

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
    /// Rounds in which the pacer released requests that waited for their due time: an expiry
    /// of its timer, or a moment a worker was awake anyway (a response) and found some due.
    pub wakeups: u64,
    /// Expiries of the pacer's timer, each an interrupt of a worker's core, including those
    /// that found nothing left to send.
    pub timer_expiries: u64,
    /// Requests released per wake-up (0 when none waited): above 1 when due times are closer
    /// together than a wake-up.
    pub requests_per_wakeup: f64,
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
            wakeups: stats.pacing.wakeups,
            timer_expiries: stats.pacing.timer_expiries,
            requests_per_wakeup: if stats.pacing.wakeups == 0 {
                0.0
            } else {
                round2(stats.pacing.released as f64 / stats.pacing.wakeups as f64)
            },
        }
    }

    /// The lag figures as one sentence, for the text summary and the HTML table:
    /// `mean 1.20ms{sep}p50 ...{sep}p99 ...{sep}max ...`, then, when the schedule fell behind,
    /// `{before_warning}FELL BEHIND: n due requests never sent`.
    fn figures(&self, sep: &str, before_warning: &str) -> String {
        let mut sentence = format!(
            "mean {}{sep}p50 {}{sep}p99 {}{sep}max {}",
            format_us(self.mean_us),
            format_us(self.p50_us as f64),
            format_us(self.p99_us as f64),
            format_us(self.max_us as f64),
        );
        if self.behind {
            sentence.push_str(before_warning);
            sentence.push_str(&format!(
                "FELL BEHIND: {} due requests never sent",
                self.unsent
            ));
        }
        sentence
    }

    /// What the pacer did, for the text summary: how it traded wake-ups for batching.
    pub(crate) fn pacer_figures(&self) -> String {
        format!(
            "{} wake-ups sent {:.2} requests each; the timer expired {} times",
            self.wakeups, self.requests_per_wakeup, self.timer_expiries
        )
    }

    /// [`ScheduleLag::figures`] as the text summary words them, two spaces apart.
    pub(crate) fn text_figures(&self) -> String {
        self.figures("  ", "  ")
    }

    /// [`ScheduleLag::figures`] as the HTML report's table cell words them (plain text; the
    /// table escapes it).
    pub(crate) fn html_figures(&self) -> String {
        self.figures(", ", "; ")
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
    /// The responses' bodies, in bytes as received (chunked framing removed, any content
    /// encoding kept): what Locust's average content size divides by its requests.
    pub body_bytes: u64,
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
            body_bytes: stats.body_bytes,
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
    /// The protocol the run used: `"http/1.1"` or `"h2"` (`--http2`, unless the server declined
    /// it in the TLS handshake).
    pub protocol: &'static str,
    /// HTTP/2: requests in flight on each connection at most (`--streams`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams: Option<usize>,
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
    /// HTTP/2's options, when the run used it.
    pub http2: Option<Http2Options>,
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
            protocol: if facts.http2.is_some() {
                "h2"
            } else {
                "http/1.1"
            },
            streams: facts.http2.map(|h2| h2.streams),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lag(behind: bool) -> ScheduleLag {
        ScheduleLag {
            target_rps: 1000.0,
            mean_us: 1234.5,
            p50_us: 800,
            p99_us: 25_000,
            max_us: 2_500_000,
            unsent: 42,
            behind,
            wakeups: 30_000,
            timer_expiries: 4_000,
            requests_per_wakeup: 1.5,
        }
    }

    #[test]
    fn the_pacer_says_how_often_it_woke_and_what_each_wake_up_sent() {
        assert_eq!(
            lag(false).pacer_figures(),
            "30000 wake-ups sent 1.50 requests each; the timer expired 4000 times"
        );
    }

    #[test]
    fn the_schedule_lag_reads_the_same_in_text_and_html_but_for_separators() {
        assert_eq!(
            lag(false).text_figures(),
            "mean 1.23ms  p50 800us  p99 25.00ms  max 2.50s"
        );
        assert_eq!(
            lag(true).text_figures(),
            "mean 1.23ms  p50 800us  p99 25.00ms  max 2.50s  FELL BEHIND: 42 due requests never sent"
        );
        assert_eq!(
            lag(false).html_figures(),
            "mean 1.23ms, p50 800us, p99 25.00ms, max 2.50s"
        );
        assert_eq!(
            lag(true).html_figures(),
            "mean 1.23ms, p50 800us, p99 25.00ms, max 2.50s; FELL BEHIND: 42 due requests never sent"
        );
    }
}
