//! The numbers every output of a report shares: latency summaries, failures by kind, status
//! counts, Locust's percentiles, rounding and human units. A leaf of the report: the model, the
//! timeline and each format use it.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::ErrorKind;
use crate::stats::EndpointStats;

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

    pub(crate) fn percentiles(&self) -> [Option<u64>; 6] {
        [
            self.p50, self.p75, self.p90, self.p99, self.p999, self.p9999,
        ]
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

pub(crate) fn round_to(v: f64, digits: i32) -> f64 {
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

pub(crate) fn format_bytes(bytes: u64) -> String {
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

/// Locust's `PERCENTILES_TO_REPORT` (locust/stats.py) and its column names for them.
pub const LOCUST_PERCENTILES: [(f64, &str); 11] = [
    (50.0, "50%"),
    (66.0, "66%"),
    (75.0, "75%"),
    (80.0, "80%"),
    (90.0, "90%"),
    (95.0, "95%"),
    (98.0, "98%"),
    (99.0, "99%"),
    (99.9, "99.9%"),
    (99.99, "99.99%"),
    (100.0, "100%"),
];

/// A latency distribution as Locust's CSV files report it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocustLatency {
    /// At [`LOCUST_PERCENTILES`], microseconds.
    pub percentiles_us: [u64; LOCUST_PERCENTILES.len()],
    pub mean_us: f64,
    pub min_us: u64,
    pub max_us: u64,
}

impl LocustLatency {
    /// `None` when the histogram is empty: nothing completed.
    pub fn from_histogram(h: &Histogram<u64>) -> Option<LocustLatency> {
        (!h.is_empty()).then(|| LocustLatency {
            percentiles_us: LOCUST_PERCENTILES.map(|(p, _)| h.value_at_quantile(p / 100.0)),
            mean_us: h.mean(),
            min_us: h.min(),
            max_us: h.max(),
        })
    }

    pub(crate) fn median_us(&self) -> u64 {
        self.percentiles_us[0]
    }
}
