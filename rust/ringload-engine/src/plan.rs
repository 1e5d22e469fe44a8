//! Which request a worker sends next: a request budget (`-n`) and, in the open model, the
//! constant-rate schedule that says when each request is due.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// One worker's share of the run. Single-threaded: shared by the worker's connections via `Rc`.
pub(crate) struct Plan {
    /// Requests this worker may still start; `None` when only the deadline ends the run.
    remaining: Cell<Option<u64>>,
    schedule: Option<Schedule>,
}

/// Open model: request `i` of this worker is due at `start + i * interval`.
struct Schedule {
    start: Instant,
    interval: Duration,
    next: Cell<u64>,
}

impl Plan {
    pub fn new(requests: Option<u64>, rate: Option<(f64, Instant)>) -> Plan {
        Plan {
            remaining: Cell::new(requests),
            schedule: rate.map(|(per_second, start)| Schedule {
                start,
                interval: Duration::from_secs_f64(1.0 / per_second),
                next: Cell::new(0),
            }),
        }
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
        let first = schedule.due(schedule.next.get());
        if first >= deadline || !self.take_one() {
            return false;
        }
        schedule.next.set(schedule.next.get() + 1);
        due.push(first);
        if first > now {
            monoio::time::sleep_until(monoio::time::Instant::from_std(first)).await;
        }
        let now = Instant::now();
        while due.len() < max && schedule.due(schedule.next.get()) <= now && self.take_one() {
            due.push(schedule.due(schedule.next.get()));
            schedule.next.set(schedule.next.get() + 1);
        }
        true
    }
}

impl Schedule {
    fn due(&self, index: u64) -> Instant {
        self.start + self.interval.mul_f64(index as f64)
    }
}
