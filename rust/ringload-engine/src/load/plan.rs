//! Which request a worker sends next: a request budget (`-n`) and, in the open model, the
//! constant-rate schedule that says when each request is due.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::pacer::{Grid, Pacer};
use crate::load::stages::Ramp;
use crate::rng::Rng;
use crate::stats::PacingCounts;

/// One worker's share of the run. Single-threaded: shared by the worker's connections via `Rc`.
pub(crate) struct Plan {
    /// Requests this worker may still start; `None` when only the deadline ends the run.
    remaining: Cell<Option<u64>>,
    schedule: Option<Schedule>,
}

/// When one worker's open-model requests are due.
#[derive(Clone, Debug)]
pub(crate) enum DueTimes {
    /// A constant rate: request `i` at `grid.due(i)`.
    Constant(Grid),
    /// A ramp (`--stage`): this worker sends `fraction` of the run's requests, and its request
    /// `i` is the run's request `(i + phase) / fraction`, due when the ramp's integral since
    /// `start` reaches it. Workers' phases interleave their requests evenly.
    Ramp {
        ramp: Arc<Ramp>,
        start: Instant,
        fraction: f64,
        phase: f64,
    },
}

/// Due times beyond any run, for requests a ramp never reaches.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

impl DueTimes {
    pub fn due(&self, index: u64) -> Instant {
        match self {
            DueTimes::Constant(grid) => grid.due(index),
            DueTimes::Ramp {
                ramp,
                start,
                fraction,
                phase,
            } => {
                // Request `n` of the run takes the `n`-th unit of the ramp's area and is due
                // at its middle: a ramp from 0 does not send at once, and one that ends at
                // area 100 has sent 100, not a 101st at the very end.
                let wanted = (index as f64 + phase) / fraction + 0.5;
                let at = ramp.time_of_integral(wanted).map_or(NEVER, |secs| {
                    Duration::try_from_secs_f64(secs)
                        .unwrap_or(NEVER)
                        .min(NEVER)
                });
                *start + at
            }
        }
    }

    /// How many due times fall strictly before `end`.
    pub fn count_before(&self, end: Instant) -> u64 {
        match self {
            DueTimes::Constant(grid) => grid.count_before(end),
            DueTimes::Ramp {
                ramp,
                start,
                fraction,
                phase,
            } => {
                let span = end.saturating_duration_since(*start).as_secs_f64();
                ((ramp.integral(span) - 0.5) * fraction - phase)
                    .ceil()
                    .max(0.0) as u64
            }
        }
    }

    /// The timer pattern that wakes these due times: a periodic grid, or none (armed per
    /// waiter).
    pub fn grid(&self) -> Option<Grid> {
        match self {
            DueTimes::Constant(grid) => Some(*grid),
            DueTimes::Ramp { .. } => None,
        }
    }
}

/// Open model: request `i` of this worker is due at `due.due(i)`.
struct Schedule {
    due_times: DueTimes,
    next: Cell<u64>,
    /// Wakes connections at their requests' due times, to the microsecond.
    pacer: Rc<Pacer>,
}

impl Plan {
    /// A plan for `requests` (or until the deadline); in the open model requests are due at
    /// the `DueTimes`, paced by `pacer`.
    pub fn new(requests: Option<u64>, schedule: Option<(DueTimes, Rc<Pacer>)>) -> Plan {
        Plan {
            remaining: Cell::new(requests),
            schedule: schedule.map(|(due_times, pacer)| Schedule {
                due_times,
                next: Cell::new(0),
                pacer,
            }),
        }
    }

    /// The request budget (`-n`) is used up.
    pub fn is_spent(&self) -> bool {
        self.remaining.get() == Some(0)
    }

    pub fn is_closed_model(&self) -> bool {
        self.schedule.is_none()
    }

    fn take_one(&self) -> bool {
        match self.remaining.get() {
            Some(0) => false,
            Some(n) => {
                self.remaining.set(Some(n - 1));
                true
            }
            None => true,
        }
    }

    /// Fills `due` with the next batch: up to `max` requests. In the closed model they are
    /// available at once; in the open model this waits for the first one's due time and adds
    /// the ones already due behind it. Returns false when the run is over for this connection.
    pub async fn next_batch(&self, due: &mut Vec<Instant>, max: usize, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        let Some(schedule) = &self.schedule else {
            while due.len() < max && self.take_one() {
                due.push(now);
            }
            return !due.is_empty();
        };
        if schedule.due_times.due(schedule.next.get()) >= deadline || !self.take_one() {
            return false;
        }
        let first = schedule.take_next();
        due.push(first);
        if first > now {
            schedule.pacer.sleep_until(first).await;
        }
        let now = Instant::now();
        while due.len() < max
            && schedule.due_times.due(schedule.next.get()) <= now
            && self.take_one()
        {
            due.push(schedule.take_next());
        }
        true
    }

    /// Open model: a connection is about to send, and its responses will wake the worker.
    #[inline]
    pub fn exchange_started(&self) {
        if let Some(schedule) = &self.schedule {
            schedule.pacer.exchange_started();
        }
    }

    /// Open model: a connection's exchange ended (however it did). The worker is awake, so it
    /// sends what fell due meanwhile on the other connections, at no wake-up of their own.
    #[inline]
    pub fn exchange_ended(&self) {
        if let Some(schedule) = &self.schedule {
            schedule.pacer.exchange_ended(Instant::now());
        }
    }

    /// Open model: what the pacer did since the last call (zero in the closed model).
    pub fn take_pacing(&self) -> PacingCounts {
        self.schedule
            .as_ref()
            .map_or_else(PacingCounts::default, |s| s.pacer.take_counts())
    }

    /// Open model: the requests due before `end` that were never sent (0 in the closed model,
    /// or once the request budget is spent).
    pub fn unsent_by(&self, end: Instant) -> u64 {
        let Some(schedule) = &self.schedule else {
            return 0;
        };
        if self.remaining.get() == Some(0) {
            return 0;
        }
        let due = schedule.due_times.count_before(end);
        let due = self
            .remaining
            .get()
            .map_or(due, |left| due.min(schedule.next.get() + left));
        due.saturating_sub(schedule.next.get())
    }
}

impl Schedule {
    /// The next request's due time, and moves past it.
    fn take_next(&self) -> Instant {
        let index = self.next.get();
        self.next.set(index + 1);
        self.due_times.due(index)
    }
}

/// Which request of a scenario each send is: chosen by weight from a per-worker generator, so
/// the mix is decided inside the engine, with no lock and no allocation.
pub(crate) struct Picker {
    /// Running sums of the weights; request `i` is picked for draws in
    /// `cumulative[i - 1]..cumulative[i]`.
    cumulative: Box<[u64]>,
    rng: Rng,
}

impl Picker {
    pub fn new(weights: impl IntoIterator<Item = u32>, seed: u64) -> Picker {
        let cumulative = weights
            .into_iter()
            .scan(0u64, |sum, w| {
                *sum += u64::from(w);
                Some(*sum)
            })
            .collect();
        Picker {
            cumulative,
            rng: Rng::new(seed),
        }
    }

    /// The index of the next request to send.
    #[inline]
    pub fn pick(&self) -> usize {
        if self.cumulative.len() <= 1 {
            return 0;
        }
        let total = self.cumulative[self.cumulative.len() - 1];
        let draw = self.rng.next_u64() % total;
        self.cumulative.partition_point(|&sum| sum <= draw)
    }
}

#[cfg(test)]
mod tests {
    use super::Picker;

    #[test]
    fn picks_follow_the_weights() {
        let picker = Picker::new([1, 3, 6], 7);
        let mut counts = [0u32; 3];
        for _ in 0..100_000 {
            counts[picker.pick()] += 1;
        }
        // Expected 10k/30k/60k; 5 standard deviations is under 1k for each.
        for (count, expected) in counts.iter().zip([10_000, 30_000, 60_000]) {
            assert!(
                count.abs_diff(expected) < 1_000,
                "{counts:?} is not close to 1:3:6"
            );
        }
    }

    #[test]
    fn a_single_request_is_always_picked() {
        let picker = Picker::new([5], 1);
        assert!((0..100).all(|_| picker.pick() == 0));
    }
}
