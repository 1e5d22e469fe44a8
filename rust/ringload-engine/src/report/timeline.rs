//! The run second by second, built by the coordinator from the workers' snapshots.
//!
//! Every snapshot says which slice of time it covers ([`SnapshotEnd`]): a periodic one ends at
//! a tick (a multiple of [`SNAPSHOT_INTERVAL`] since the start), a worker's last one at the
//! moment it finished. Its counts go into the second that slice lies in, so the entries add
//! up exactly to the run's totals: every snapshot lands in exactly one entry. A second's
//! histograms are reduced to percentiles once every worker has passed it, so a long run keeps
//! a few seconds of histograms, not one set per second.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::summary::{failed_by_kind, round2, status_counts, LatencySummary, LocustLatency};
use crate::stats::{new_histogram, EndpointStats, IntervalStats, SnapshotEnd, SNAPSHOT_INTERVAL};

/// The length of one timeline entry (the last one may be shorter).
pub const TIMELINE_STEP: Duration = Duration::from_secs(1);
const TICKS_PER_STEP: u64 = (TIMELINE_STEP.as_nanos() / SNAPSHOT_INTERVAL.as_nanos()) as u64;

/// One second of the run (the last entry covers what is left, at least one snapshot interval).
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    /// Seconds since the start when this entry begins.
    pub t: f64,
    /// How long it lasts: 1 s, except the last one.
    pub duration_s: f64,
    /// Requests whose outcome (response, failure or abort) was recorded in this entry.
    pub requests: u64,
    pub ok: u64,
    /// Failed requests by kind; every kind is present.
    pub failed: BTreeMap<&'static str, u64>,
    pub aborted: u64,
    /// Responses by status code.
    pub status: BTreeMap<u16, u64>,
    /// Response body bytes received in this entry (chunked framing removed).
    pub body_bytes: u64,
    /// Complete responses per second during this entry.
    pub rps: f64,
    /// Open model only: the rate the schedule asked for during this entry (its due requests
    /// per second; a ramp's changes from entry to entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rps: Option<f64>,
    /// Latency of the responses completed in this entry (corrected in the open model).
    pub latency_us: LatencySummary,
    /// Open model only: the same responses measured from their actual send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_uncorrected_us: Option<LatencySummary>,
    /// Connections established during this entry.
    pub connects: u64,
    /// Connections open at its end.
    pub connections_open: u64,
    /// The latency of every response from the start of the run to the end of this entry, in
    /// the percentiles of Locust's CSV history (whose default rows are cumulative); `None`
    /// while nothing has completed.
    #[serde(skip)]
    pub latency_so_far: Option<LocustLatency>,
}

impl TimelineEntry {
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// One second still receiving snapshots.
struct OpenStep {
    stats: EndpointStats,
    connects: u64,
    closes: u64,
}

/// Collects snapshots into [`TimelineEntry`]s.
pub(crate) struct TimelineBuilder {
    open_model: bool,
    /// Per worker, how far into the run its snapshots have reached.
    reached: Vec<Duration>,
    /// Steps `first_open`, `first_open + 1`, ... (contiguous, possibly empty).
    open: VecDeque<OpenStep>,
    first_open: u64,
    /// `connects - closes` over the closed steps.
    connections_open: u64,
    /// The latency of the closed steps together.
    latency_so_far: Histogram<u64>,
    entries: Vec<TimelineEntry>,
}

impl TimelineBuilder {
    pub fn new(workers: usize, open_model: bool) -> Self {
        TimelineBuilder {
            open_model,
            reached: vec![Duration::ZERO; workers],
            open: VecDeque::new(),
            first_open: 0,
            connections_open: 0,
            latency_so_far: new_histogram(),
            entries: Vec::new(),
        }
    }

    /// Adds one worker's snapshot.
    pub fn add(&mut self, worker: usize, end: SnapshotEnd, stats: &IntervalStats) {
        let (step, reached) = match end {
            // The slice that ends at tick `n` began after tick `n - 1`.
            SnapshotEnd::Tick(n) => (n.saturating_sub(1) / TICKS_PER_STEP, tick_time(n)),
            // A worker that has finished sends nothing more: it holds no step open.
            SnapshotEnd::Final(at) => (step_of(at), Duration::MAX),
        };
        // A step closes only once every worker has passed it, so `step` is still open; the
        // guard keeps a snapshot counted even if a worker's clock label ever went backwards.
        let slot = self.open_step(step.max(self.first_open));
        // Endpoint by endpoint: no merged copy to allocate (the coordinator may share a core
        // with a worker).
        for endpoint in &stats.endpoints {
            slot.stats.merge(endpoint);
        }
        slot.connects += stats.connects;
        slot.closes += stats.closes;
        if let Some(r) = self.reached.get_mut(worker) {
            *r = (*r).max(reached);
        }
        self.close_passed_steps();
    }

    fn open_step(&mut self, step: u64) -> &mut OpenStep {
        let index = (step - self.first_open) as usize;
        while self.open.len() <= index {
            self.open.push_back(OpenStep {
                stats: EndpointStats::new(self.open_model),
                connects: 0,
                closes: 0,
            });
        }
        &mut self.open[index]
    }

    /// Reduces the steps every worker has passed by more than a snapshot interval: none of
    /// their snapshots can still arrive, and the run cannot end inside them (so they are not
    /// the short last entry).
    fn close_passed_steps(&mut self) {
        // Finished workers send nothing more; once all have, `finish` closes what is left
        // (its last step may be a short one).
        let running = self.reached.iter().filter(|r| **r != Duration::MAX).min();
        let Some(&slowest) = running else {
            return;
        };
        while !self.open.is_empty() {
            let step_end = TIMELINE_STEP * (self.first_open + 1) as u32;
            if slowest < step_end + SNAPSHOT_INTERVAL {
                break;
            }
            self.close_first(TIMELINE_STEP);
        }
    }

    fn close_first(&mut self, duration: Duration) {
        let Some(step) = self.open.pop_front() else {
            return;
        };
        // A close is always of a connection counted open before it.
        self.connections_open = (self.connections_open + step.connects).saturating_sub(step.closes);
        let duration_s = duration.as_secs_f64();
        let stats = &step.stats;
        // Same bounds: adding cannot fail.
        let _ = self.latency_so_far.add(&stats.latency);
        let t = (TIMELINE_STEP * self.first_open as u32).as_secs_f64();
        self.entries.push(TimelineEntry {
            t,
            duration_s: round2(duration_s),
            requests: stats.requests(),
            ok: stats.ok,
            failed: failed_by_kind(stats),
            aborted: stats.aborted,
            status: status_counts(stats),
            body_bytes: stats.body_bytes,
            rps: if duration_s > 0.0 {
                round2(stats.ok as f64 / duration_s)
            } else {
                0.0
            },
            // Known once the run is over: see `finish`.
            target_rps: None,
            latency_us: LatencySummary::from_histogram(&stats.latency),
            latency_uncorrected_us: stats
                .latency_uncorrected
                .as_ref()
                .map(LatencySummary::from_histogram),
            connects: step.connects,
            connections_open: self.connections_open,
            latency_so_far: LocustLatency::from_histogram(&self.latency_so_far),
        });
        self.first_open += 1;
    }

    /// The timeline of a run that lasted `elapsed`: one entry per second, and the rest as a
    /// last, shorter entry when it is at least one snapshot interval long (a run that ends a
    /// few milliseconds into a second folds them into the one before). In the open model,
    /// `due_by(t)` is how many requests the schedule had due by `t` seconds.
    pub fn finish(mut self, elapsed: Duration, due_by: Option<DueBy<'_>>) -> Vec<TimelineEntry> {
        let whole = step_of(elapsed);
        let rest = elapsed.saturating_sub(TIMELINE_STEP * whole as u32);
        let last = if whole > 0 && rest < SNAPSHOT_INTERVAL {
            whole - 1
        } else {
            whole
        }
        .max(self.first_open);
        // Snapshots taken after the last entry's start (workers finishing just past the end)
        // belong to it.
        let mut late = Vec::new();
        while self.first_open + self.open.len() as u64 > last + 1 {
            late.extend(self.open.pop_back());
        }
        let last_step = self.open_step(last);
        for step in late {
            last_step.stats.merge(&step.stats);
            last_step.connects += step.connects;
            last_step.closes += step.closes;
        }
        while self.first_open < last {
            self.close_first(TIMELINE_STEP);
        }
        let last_start = TIMELINE_STEP * last as u32;
        self.close_first(elapsed.saturating_sub(last_start));
        if let Some(due_by) = due_by {
            for entry in self.entries.iter_mut().filter(|e| e.duration_s > 0.0) {
                let due = due_by(entry.t + entry.duration_s) - due_by(entry.t);
                entry.target_rps = Some(round2(due / entry.duration_s));
            }
        }
        self.entries
    }
}

/// Requests due by a time in seconds since the start.
pub(crate) type DueBy<'a> = &'a dyn Fn(f64) -> f64;

fn tick_time(tick: u64) -> Duration {
    SNAPSHOT_INTERVAL * u32::try_from(tick).unwrap_or(u32::MAX)
}

fn step_of(at: Duration) -> u64 {
    (at.as_nanos() / TIMELINE_STEP.as_nanos()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::ResponseTimes;

    fn snapshot(ok: u64, connects: u64, closes: u64) -> IntervalStats {
        let mut stats = IntervalStats::new(1, false);
        for _ in 0..ok {
            stats.record_response(
                0,
                ResponseTimes {
                    status: 200,
                    latency_us: 100,
                    uncorrected_us: 100,
                    ttfb_us: 50,
                    ..ResponseTimes::default()
                },
            );
        }
        stats.connects = connects;
        stats.closes = closes;
        stats
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ticks_land_in_their_second_and_add_up() {
        let mut timeline = TimelineBuilder::new(2, false);
        for tick in 1..=8 {
            timeline.add(0, SnapshotEnd::Tick(tick), &snapshot(tick, 0, 0));
            timeline.add(1, SnapshotEnd::Tick(tick), &snapshot(1, 0, 0));
        }
        // Both workers have passed 1.25 s: the first second is reduced already.
        assert_eq!(timeline.entries.len(), 1);
        timeline.add(0, SnapshotEnd::Final(ms(2_001)), &snapshot(5, 0, 0));
        timeline.add(1, SnapshotEnd::Final(ms(2_002)), &snapshot(0, 0, 0));
        // Every worker has finished: nothing more is closed before `finish`.
        assert_eq!(timeline.entries.len(), 1);
        let entries = timeline.finish(ms(2_002), None);
        // 2.002 s: two entries, the last 2 ms folded into the second one.
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].ok, 1 + 2 + 3 + 4 + 4);
        assert_eq!(entries[1].ok, 5 + 6 + 7 + 8 + 4 + 5);
        assert_eq!(entries[0].t, 0.0);
        assert_eq!(entries[1].t, 1.0);
        assert_eq!(entries[1].duration_s, 1.0);
        assert_eq!(entries[0].rps, 14.0);
        assert_eq!(entries[0].latency_us.p50, Some(100));
    }

    #[test]
    fn a_partial_last_second_is_its_own_entry() {
        let mut timeline = TimelineBuilder::new(1, false);
        for tick in 1..=6 {
            timeline.add(0, SnapshotEnd::Tick(tick), &snapshot(2, 0, 0));
        }
        timeline.add(0, SnapshotEnd::Final(ms(1_600)), &snapshot(1, 0, 0));
        let entries = timeline.finish(ms(1_600), None);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].ok, 5);
        assert_eq!(entries[1].duration_s, 0.6);
        assert_eq!(entries[1].rps, round2(5.0 / 0.6));
    }

    #[test]
    fn a_short_run_is_one_entry_and_quiet_seconds_are_kept() {
        let mut timeline = TimelineBuilder::new(1, false);
        timeline.add(0, SnapshotEnd::Final(ms(30)), &snapshot(3, 1, 0));
        let entries = timeline.finish(ms(30), None);
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].ok, entries[0].duration_s), (3, 0.03));

        let mut timeline = TimelineBuilder::new(1, false);
        timeline.add(0, SnapshotEnd::Tick(1), &snapshot(1, 0, 0));
        timeline.add(0, SnapshotEnd::Tick(13), &snapshot(1, 0, 0));
        let entries = timeline.finish(ms(3_300), None);
        assert_eq!(
            entries.iter().map(|e| e.ok).collect::<Vec<_>>(),
            [1, 0, 0, 1]
        );
    }

    #[test]
    fn latency_so_far_is_every_response_until_the_entry_ends() {
        let mut timeline = TimelineBuilder::new(1, false);
        let mut slow = IntervalStats::new(1, false);
        slow.record_response(
            0,
            ResponseTimes {
                status: 200,
                latency_us: 40_000,
                uncorrected_us: 40_000,
                ttfb_us: 50,
                ..ResponseTimes::default()
            },
        );
        // Nothing in the first second, three fast responses in the second, none in the third,
        // one slow one in the fourth.
        timeline.add(0, SnapshotEnd::Tick(6), &snapshot(3, 0, 0));
        timeline.add(0, SnapshotEnd::Tick(14), &slow);
        let entries = timeline.finish(ms(3_600), None);
        let so_far: Vec<_> = entries.iter().map(|e| e.latency_so_far).collect();
        assert_eq!(so_far.len(), 4);
        assert_eq!(so_far[0], None);
        let fast = so_far[1].expect("three responses by then");
        assert_eq!((fast.min_us, fast.max_us), (100, 100));
        assert_eq!(so_far[2], so_far[1], "a quiet second changes nothing");
        let all = so_far[3].expect("four responses by then");
        assert_eq!(
            all.percentiles_us[0], 100,
            "the median of 100, 100, 100, 40 ms"
        );
        assert!(all.max_us >= 40_000 && all.percentiles_us[10] == all.max_us);
        // The histogram keeps three significant digits.
        assert!(
            (all.mean_us - (3.0 * 100.0 + 40_000.0) / 4.0).abs() < 10.0,
            "{all:?}"
        );
    }

    #[test]
    fn connections_open_follows_connects_and_closes() {
        let mut timeline = TimelineBuilder::new(1, false);
        timeline.add(0, SnapshotEnd::Tick(2), &snapshot(0, 10, 0));
        timeline.add(0, SnapshotEnd::Tick(6), &snapshot(0, 3, 5));
        timeline.add(0, SnapshotEnd::Final(ms(2_500)), &snapshot(0, 0, 8));
        let entries = timeline.finish(ms(2_500), None);
        let open: Vec<_> = entries.iter().map(|e| e.connections_open).collect();
        assert_eq!(open, [10, 8, 0]);
        assert_eq!(entries[1].connects, 3);
    }

    #[test]
    fn a_worker_that_finished_early_does_not_hold_seconds_open() {
        let mut timeline = TimelineBuilder::new(2, false);
        timeline.add(0, SnapshotEnd::Final(ms(300)), &snapshot(1, 0, 0));
        for tick in 1..=12 {
            timeline.add(1, SnapshotEnd::Tick(tick), &snapshot(1, 0, 0));
        }
        // Worker 1 is at 3 s: the first two seconds are reduced to percentiles already.
        assert_eq!(timeline.entries.len(), 2);
        timeline.add(1, SnapshotEnd::Final(ms(3_100)), &snapshot(0, 0, 0));
        let entries = timeline.finish(ms(3_100), None);
        assert_eq!(entries.iter().map(|e| e.ok).collect::<Vec<_>>(), [5, 4, 4]);
        assert_eq!(entries[2].duration_s, 1.1);
    }
}
