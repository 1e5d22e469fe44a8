//! Per-worker measurements and their merge. Workers record into an [`IntervalStats`] without
//! locks or allocation and hand the whole thing to the coordinator once per interval.

use std::time::Duration;

use hdrhistogram::Histogram;

pub use crate::error::ErrorKind;

/// How often a worker hands its measurements to the coordinator: at every multiple of this
/// since the run's start (a tick), so each snapshot covers a known slice of the timeline.
pub(crate) const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(250);

/// The end of the slice of time a snapshot covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SnapshotEnd {
    /// Through tick `n` (`n` × [`SNAPSHOT_INTERVAL`] after the start).
    Tick(u64),
    /// The worker's last snapshot, taken this long after the start.
    Final(Duration),
}

/// A statistics row: requests are grouped by method and name, as in Locust's stats table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointKey {
    pub method: String,
    pub name: String,
}

/// Largest latency the histograms hold (one hour, in microseconds); larger values saturate.
const HISTOGRAM_MAX_US: u64 = 3_600_000_000;
/// What a histogram covers when it is made; it grows (by doublings) as larger values come, up to
/// [`HISTOGRAM_MAX_US`]. Each worker makes a new set four times a second for its snapshots, and
/// one covering the hour is 188 KB to zero from fresh pages: 2.5% of the client's CPU at
/// 2,000 req/s went to that. One covering 10 ms is 5x smaller.
const HISTOGRAM_START_US: u64 = 10_000;
/// Status codes are three digits; index the counts directly.
pub const STATUS_SLOTS: usize = 1000;

pub(crate) fn new_histogram() -> Histogram<u64> {
    let mut histogram = Histogram::new_with_bounds(1, HISTOGRAM_START_US, 3)
        .expect("static histogram bounds are valid");
    histogram.auto(true);
    histogram
}

/// Records `value` (microseconds) into a histogram from [`new_histogram`], clamped to
/// [`HISTOGRAM_MAX_US`].
#[inline]
fn record(histogram: &mut Histogram<u64>, value: u64) {
    // Cannot fail: the histogram grows to any value this clamp lets through.
    let _ = histogram.record(value.min(HISTOGRAM_MAX_US));
}

/// The outcomes of one endpoint's requests (or, merged, of all of them).
#[derive(Clone)]
pub struct EndpointStats {
    /// Latency of completed requests, microseconds. In the open model it is measured from the
    /// time each request was due (coordinated-omission corrected).
    pub latency: Histogram<u64>,
    /// Open model only: latency measured from the actual send.
    pub latency_uncorrected: Option<Histogram<u64>>,
    /// Complete responses, whatever their status.
    pub ok: u64,
    pub failed: [u64; ErrorKind::COUNT],
    /// In flight when the run ended.
    pub aborted: u64,
    /// Of `aborted`: still waiting for their connection to be established.
    pub aborted_connecting: u64,
    /// Idempotent requests resent once after a reused connection closed before any response byte
    /// (a close that raced the send; one seen while idle is replaced before sending).
    pub retries: u64,
    pub status: Box<[u64; STATUS_SLOTS]>,
    /// Response bodies received, framing removed.
    pub body_bytes: u64,
    /// Latency of failed requests, from their start to the failure, microseconds: Locust
    /// times failures too. Created at the first failure.
    pub failed_latency: Option<Histogram<u64>>,
    /// When the first and the last request (completed or failed) ended, microseconds after
    /// the run's start (`u64::MAX` and 0 before any).
    pub first_done_us: u64,
    pub last_done_us: u64,
}

impl EndpointStats {
    pub fn new(open_model: bool) -> Self {
        EndpointStats {
            latency: new_histogram(),
            latency_uncorrected: open_model.then(new_histogram),
            ok: 0,
            failed: [0; ErrorKind::COUNT],
            aborted: 0,
            aborted_connecting: 0,
            retries: 0,
            status: Box::new([0; STATUS_SLOTS]),
            body_bytes: 0,
            failed_latency: None,
            first_done_us: u64::MAX,
            last_done_us: 0,
        }
    }

    pub fn failed_total(&self) -> u64 {
        self.failed.iter().sum()
    }

    /// Every request accounted for: ok + failed + aborted.
    pub fn requests(&self) -> u64 {
        self.ok + self.failed_total() + self.aborted
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &EndpointStats) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        if let (Some(mine), Some(theirs)) =
            (&mut self.latency_uncorrected, &other.latency_uncorrected)
        {
            let _ = mine.add(theirs);
        }
        self.ok += other.ok;
        for (mine, theirs) in self.failed.iter_mut().zip(other.failed) {
            *mine += theirs;
        }
        self.aborted += other.aborted;
        self.aborted_connecting += other.aborted_connecting;
        self.retries += other.retries;
        self.body_bytes += other.body_bytes;
        if let Some(theirs) = &other.failed_latency {
            let _ = self
                .failed_latency
                .get_or_insert_with(new_histogram)
                .add(theirs);
        }
        self.first_done_us = self.first_done_us.min(other.first_done_us);
        self.last_done_us = self.last_done_us.max(other.last_done_us);
        for (mine, theirs) in self.status.iter_mut().zip(other.status.iter()) {
            *mine += theirs;
        }
    }
}

/// One complete response as a worker records it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ResponseTimes {
    pub status: u16,
    /// From its due time (open model) or its send (closed), microseconds.
    pub latency_us: u64,
    /// Open model: from its actual send.
    pub uncorrected_us: u64,
    /// From its send to the response's first byte.
    pub ttfb_us: u64,
    pub body_len: u64,
    /// When it completed, microseconds after the run's start.
    pub done_us: u64,
}

/// Everything one worker measured during one interval (or, merged, during the whole run):
/// request outcomes per endpoint (statistics row) and connection-level counters.
#[derive(Clone)]
pub struct IntervalStats {
    /// Indexed by endpoint (statistics row); a run without a scenario has one.
    pub endpoints: Vec<EndpointStats>,
    /// Connections established.
    pub connects: u64,
    /// Connections closed (by either side, or after an error); `connects - closes` over a
    /// run so far is how many are open.
    pub closes: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Open model: how late requests were sent compared with their schedule, microseconds.
    pub lag_sum_us: u64,
    pub lag_max_us: u64,
    pub lag_count: u64,
    /// Open model: the distribution of that lateness, for its percentiles.
    pub lag: Option<Histogram<u64>>,
    /// Time to establish each new connection (TCP), microseconds.
    pub connect: Histogram<u64>,
    /// Time of each new connection's TLS handshake, microseconds (https only).
    pub tls: Histogram<u64>,
    /// Time from sending each completed request to the first byte of its response.
    pub ttfb: Histogram<u64>,
    /// Open model: requests that were due before the run ended but were never sent, because
    /// every connection was busy (the schedule fell behind).
    pub unsent: u64,
    /// Native users with an arrival rate: requests sent a whole interval or more after they
    /// were due, because the user's connection was still busy with earlier ones.
    pub late: u64,
    /// Open model: what the pacer did to send requests at their due times.
    pub pacing: PacingCounts,
    /// The first error message seen for each kind, so a report can say what went wrong.
    pub examples: [Option<String>; ErrorKind::COUNT],
}

/// What an open-model worker's pacer did: how often it woke connections for their due times,
/// and what that cost in timer expiries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacingCounts {
    /// Rounds that released requests waiting for their due time: a timer expiry, or a moment
    /// the worker was awake anyway (a response had arrived) and found some due.
    pub wakeups: u64,
    /// Requests released in those rounds.
    pub released: u64,
    /// The pacer's timer expired (an interrupt of the worker's core), including expiries that
    /// found nothing due (the worker had sent it already while awake). A periodic timer that
    /// is read late does not expire again meanwhile: this counts the reads.
    pub timer_expiries: u64,
}

impl PacingCounts {
    pub fn add(&mut self, other: PacingCounts) {
        self.wakeups += other.wakeups;
        self.released += other.released;
        self.timer_expiries += other.timer_expiries;
    }
}

impl IntervalStats {
    pub fn new(endpoints: usize, open_model: bool) -> Self {
        IntervalStats {
            endpoints: (0..endpoints)
                .map(|_| EndpointStats::new(open_model))
                .collect(),
            connects: 0,
            closes: 0,
            bytes_read: 0,
            bytes_written: 0,
            lag_sum_us: 0,
            lag_max_us: 0,
            lag_count: 0,
            lag: open_model.then(new_histogram),
            connect: new_histogram(),
            tls: new_histogram(),
            ttfb: new_histogram(),
            unsent: 0,
            late: 0,
            pacing: PacingCounts::default(),
            examples: Default::default(),
        }
    }

    /// Every endpoint merged into one.
    pub fn total(&self) -> EndpointStats {
        let mut endpoints = self.endpoints.iter();
        let mut total = endpoints
            .next()
            .cloned()
            .unwrap_or_else(|| EndpointStats::new(false));
        for endpoint in endpoints {
            total.merge(endpoint);
        }
        total
    }

    #[inline]
    pub(crate) fn record_failure(
        &mut self,
        kind: ErrorKind,
        endpoint: usize,
        error: &std::io::Error,
        latency_us: u64,
        done_us: u64,
    ) {
        let stats = &mut self.endpoints[endpoint];
        stats.failed[kind as usize] += 1;
        let failed_latency = stats.failed_latency.get_or_insert_with(new_histogram);
        record(failed_latency, latency_us.max(1));
        stats.first_done_us = stats.first_done_us.min(done_us);
        stats.last_done_us = stats.last_done_us.max(done_us);
        let example = &mut self.examples[kind as usize];
        if example.is_none() {
            *example = Some(error.to_string());
        }
    }

    #[inline]
    pub(crate) fn record_response(&mut self, endpoint: usize, response: ResponseTimes) {
        record(&mut self.ttfb, response.ttfb_us);
        let stats = &mut self.endpoints[endpoint];
        stats.ok += 1;
        stats.first_done_us = stats.first_done_us.min(response.done_us);
        stats.last_done_us = response.done_us;
        stats.body_bytes += response.body_len;
        if let Some(slot) = stats.status.get_mut(usize::from(response.status)) {
            *slot += 1;
        }
        record(&mut stats.latency, response.latency_us.max(1));
        if let Some(histogram) = &mut stats.latency_uncorrected {
            record(histogram, response.uncorrected_us.max(1));
        }
    }

    pub(crate) fn record_dial(&mut self, connect_us: u64, tls_us: Option<u64>) {
        record(&mut self.connect, connect_us);
        if let Some(tls_us) = tls_us {
            record(&mut self.tls, tls_us);
        }
    }

    #[inline]
    pub(crate) fn record_lag(&mut self, lag_us: u64) {
        self.lag_sum_us += lag_us;
        self.lag_max_us = self.lag_max_us.max(lag_us);
        self.lag_count += 1;
        if let Some(histogram) = &mut self.lag {
            record(histogram, lag_us);
        }
    }

    /// Adds `other` (with the same endpoints) into `self`.
    pub fn merge(&mut self, other: &IntervalStats) {
        for (mine, theirs) in self.endpoints.iter_mut().zip(&other.endpoints) {
            mine.merge(theirs);
        }
        self.connects += other.connects;
        self.closes += other.closes;
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.lag_sum_us += other.lag_sum_us;
        self.lag_max_us = self.lag_max_us.max(other.lag_max_us);
        self.lag_count += other.lag_count;
        if let (Some(mine), Some(theirs)) = (&mut self.lag, &other.lag) {
            let _ = mine.add(theirs);
        }
        self.unsent += other.unsent;
        self.late += other.late;
        self.pacing.add(other.pacing);
        for (mine, theirs) in [
            (&mut self.connect, &other.connect),
            (&mut self.tls, &other.tls),
            (&mut self.ttfb, &other.ttfb),
        ] {
            let _ = mine.add(theirs);
        }
        for (mine, theirs) in self.examples.iter_mut().zip(&other.examples) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_start_small_grow_to_any_latency_and_clamp_at_an_hour() {
        let fresh = new_histogram();
        let full = Histogram::<u64>::new_with_bounds(1, HISTOGRAM_MAX_US, 3).unwrap();
        // Smaller to zero four times a second than one that covers the hour.
        assert!(fresh.distinct_values() * 4 < full.distinct_values());
        let mut snapshot = new_histogram();
        for us in [50, 900, 250_000, 90_000_000] {
            record(&mut snapshot, us);
        }
        record(&mut snapshot, 10 * HISTOGRAM_MAX_US);
        assert_eq!(snapshot.len(), 5);
        assert_eq!(
            snapshot.value_at_quantile(0.5),
            snapshot.highest_equivalent(250_000)
        );
        assert_eq!(
            snapshot.max(),
            snapshot.highest_equivalent(HISTOGRAM_MAX_US)
        );
        // Merging snapshots into a total made the same way keeps every value.
        let mut total = new_histogram();
        total.add(&snapshot).unwrap();
        total.add(&snapshot).unwrap();
        assert_eq!(total.len(), 10);
        assert_eq!(total.max(), snapshot.max());
        assert_eq!(total.value_at_quantile(0.1), total.highest_equivalent(50));
    }
}
