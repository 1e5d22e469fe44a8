//! Native users: a run whose connections are users that a controller (Locust, through the
//! Python package) adds and removes while it runs. Each user is one keep-alive connection
//! running the class's requests back to back with its own headers (its token, its cookies),
//! and the class's wait between them.
//!
//! Users live in a [`UserTable`] of slots: slot `k` is the run's connection `k`, served by
//! worker `k % threads`. A worker spawns a connection task for each of its slots the first
//! time the table reaches it; a task whose slot is empty holds no socket and waits for the
//! worker's [`DemandChanged`](crate::load::demand::DemandChanged).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::load::prepare::PreparedRequest;
use crate::rng::Rng;

/// What one user sends: the class's requests encoded with this user's headers.
#[derive(Debug)]
pub(crate) struct UserSetup {
    pub requests: Arc<[PreparedRequest]>,
}

/// Every user of a run, by slot. Changes are rare (Locust spawns at most a few hundred users
/// a second); each connection reads its slot only when the table's generation moved.
#[derive(Debug, Default)]
pub(crate) struct UserTable {
    generation: AtomicU64,
    slots: Mutex<Vec<Option<Arc<UserSetup>>>>,
}

impl UserTable {
    /// Puts `user` in the lowest free slot and returns it.
    pub fn add(&self, user: UserSetup) -> usize {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let user = Some(Arc::new(user));
        let slot = match slots.iter().position(Option::is_none) {
            Some(free) => {
                slots[free] = user;
                free
            }
            None => {
                slots.push(user);
                slots.len() - 1
            }
        };
        self.generation.fetch_add(1, Ordering::Release);
        slot
    }

    /// Empties `slot`; returns whether it held a user.
    pub fn remove(&self, slot: usize) -> bool {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let removed = slots.get_mut(slot).and_then(Option::take).is_some();
        self.generation.fetch_add(1, Ordering::Release);
        removed
    }

    /// Slots ever used: connection tasks exist (or are about to) for each.
    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Users in the table now.
    pub fn count(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|slot| slot.is_some())
            .count()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, slot: usize) -> Option<Arc<UserSetup>> {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(slot)
            .cloned()
            .flatten()
    }
}

/// How a native user goes through the class's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOrder {
    /// Each request picked by weight.
    ByWeight,
    /// All of them in order, again and again (an iteration): a SequentialTaskSet. The same
    /// placeholder gives the same value in every step of an iteration (one product id through
    /// a checkout's steps).
    Sequence,
}

/// A native user's loop: the order of its requests and the pause after each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserLoop {
    pub order: RequestOrder,
    pub wait: WaitTime,
}

/// The pause after each request, as Locust's `wait_time` helpers define it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WaitTime {
    /// `constant(seconds)`: the same pause every time (`constant(0)`: back to back).
    Constant(Duration),
    /// `between(min, max)`: uniform in `[min, max]`.
    Between(Duration, Duration),
    /// `constant_pacing(seconds)` (and `constant_throughput(n)`, which is pacing `1/n`): each
    /// request starts this long after the previous one started, or at once when it took longer.
    Pacing(Duration),
    /// An arrival rate (open model): a request is due every this long, whatever the responses
    /// take. One due while the connection is still busy waits for it, and its latency counts
    /// from when it was due, as the CLI's `-R` counts it.
    Arrivals(Duration),
}

impl WaitTime {
    /// The pause after a request that started `elapsed` ago.
    pub(crate) fn after(&self, elapsed: Duration, rng: &Rng) -> Duration {
        match *self {
            WaitTime::Constant(wait) => wait,
            WaitTime::Between(min, max) => {
                // 53 random bits: a uniform fraction in [0, 1].
                let fraction = (rng.next_u64() >> 11) as f64 / ((1u64 << 53) - 1) as f64;
                min + (max.saturating_sub(min)).mul_f64(fraction)
            }
            WaitTime::Pacing(period) => period.saturating_sub(elapsed),
            // The schedule, not a pause, decides (`run_connection`).
            WaitTime::Arrivals(_) => Duration::ZERO,
        }
    }

    /// No pause at all: the loop need not look at the clock.
    pub(crate) fn is_zero(&self) -> bool {
        matches!(*self, WaitTime::Constant(wait) if wait.is_zero())
    }

    /// The interval between due times, for an arrival rate.
    pub(crate) fn arrivals(&self) -> Option<Duration> {
        match *self {
            WaitTime::Arrivals(period) => Some(period),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserSetup {
        UserSetup {
            requests: Arc::from(Vec::new()),
        }
    }

    #[test]
    fn users_take_the_lowest_free_slot() {
        let table = UserTable::default();
        assert_eq!(table.add(user()), 0);
        assert_eq!(table.add(user()), 1);
        assert_eq!(table.add(user()), 2);
        let before = table.generation();
        assert!(table.remove(1));
        assert!(!table.remove(1), "already empty");
        assert!(table.generation() > before);
        assert_eq!((table.len(), table.count()), (3, 2));
        assert!(table.get(1).is_none());
        assert_eq!(table.add(user()), 1);
        assert_eq!(table.add(user()), 3);
    }

    #[test]
    fn waits_follow_locusts_helpers() {
        let rng = Rng::new(7);
        let ms = Duration::from_millis;
        assert_eq!(WaitTime::Constant(ms(30)).after(ms(5), &rng), ms(30));
        assert!(WaitTime::Constant(ms(0)).is_zero());
        assert_eq!(WaitTime::Pacing(ms(100)).after(ms(30), &rng), ms(70));
        assert_eq!(WaitTime::Pacing(ms(100)).after(ms(130), &rng), ms(0));
        let draws: Vec<_> = (0..1000)
            .map(|_| WaitTime::Between(ms(500), ms(1500)).after(ms(0), &rng))
            .collect();
        assert!(draws.iter().all(|d| *d >= ms(500) && *d <= ms(1500)));
        let mean = draws.iter().sum::<Duration>() / 1000;
        assert!(mean > ms(950) && mean < ms(1050), "mean {mean:?}");
    }
}
