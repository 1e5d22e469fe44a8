//! How many of a run's connections are in use: the connection stages' schedule, or a count the
//! run's controller changes while it runs ([`crate::load::Run::set_connections`]). Each
//! connection has a level, its number in the run from 0, and is in use while the demand is
//! above it; an idle one holds no socket and waits for [`DemandChanged`], which the worker
//! raises when the coordinator relays a new count and when one of its connections ends.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::load::stages::Ramp;
use crate::load::users::{UserSetup, UserTable};

/// Where the count of connections in use comes from.
#[derive(Clone, Debug)]
pub(crate) enum ConnectionDemand {
    /// Connection stages: known for the whole run at its start.
    Ramp { ramp: Arc<Ramp>, start: Instant },
    /// Changed while the run runs.
    Live(Arc<LiveConnections>),
    /// Native users: a connection is in use while its slot holds a user.
    Users(Arc<UserTable>),
}

/// The count of a live demand, read by every connection before each request.
#[derive(Debug)]
pub(crate) struct LiveConnections(AtomicUsize);

impl LiveConnections {
    pub fn new(connections: usize) -> Self {
        LiveConnections(AtomicUsize::new(connections))
    }

    pub fn set(&self, connections: usize) {
        self.0.store(connections, Ordering::Relaxed);
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// A worker's part of the demand: its connection `j` is the run's connection
/// `first + j * stride`.
#[derive(Clone, Debug)]
pub(crate) struct WorkerConnections {
    pub demand: ConnectionDemand,
    pub first: usize,
    pub stride: usize,
}

impl WorkerConnections {
    /// The slot of this worker's connection `j`.
    pub fn slot(&self, j: usize) -> ConnectionSlot {
        ConnectionSlot {
            demand: self.demand.clone(),
            level: self.first + j * self.stride,
            user: RefCell::new((u64::MAX, None)),
        }
    }
}

/// How far above a connection's level a ramp must be for it to count as above.
const ABOVE: f64 = 1e-9;

/// One connection's place in the demand.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionSlot {
    demand: ConnectionDemand,
    /// The connection is in use while the demand is above this (for native users: its slot).
    level: usize,
    /// Native users: the table's generation when this slot was last read, and its user then.
    user: RefCell<(u64, Option<Arc<UserSetup>>)>,
}

/// Until when a connection that is not in use stays idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idle {
    /// The schedule brings it back then.
    Until(Instant),
    /// Until the controller raises the demand.
    UntilChanged,
    /// The schedule never needs it again.
    ForGood,
}

impl ConnectionSlot {
    /// `None` while the connection is in use; else how long it stays idle. A live demand is
    /// one relaxed load: a run whose count never changes pays nothing else per request.
    pub fn idle(&self) -> Option<Idle> {
        match &self.demand {
            ConnectionDemand::Live(live) => {
                (live.get() <= self.level).then_some(Idle::UntilChanged)
            }
            ConnectionDemand::Users(_) => self.user().is_none().then_some(Idle::UntilChanged),
            ConnectionDemand::Ramp { ramp, start } => {
                let t = start.elapsed().as_secs_f64();
                let level = self.level as f64;
                if ramp.at(t) > level {
                    return None;
                }
                // The first time the target is above the level (a hair above it, as a floor).
                Some(
                    ramp.next_time_at_least(t, level + ABOVE)
                        .and_then(|at| Duration::try_from_secs_f64(at).ok())
                        .map_or(Idle::ForGood, |at| Idle::Until(*start + at)),
                )
            }
        }
    }
}

impl ConnectionSlot {
    /// Native users: the user in this slot now. One atomic load while the table is unchanged.
    pub fn user(&self) -> Option<Arc<UserSetup>> {
        let ConnectionDemand::Users(table) = &self.demand else {
            return None;
        };
        let generation = table.generation();
        let mut seen = self.user.borrow_mut();
        if seen.0 != generation {
            *seen = (generation, table.get(self.level));
        }
        seen.1.clone()
    }
}

/// A worker's wake-up for its idle connections: raised when the demand may have changed (a
/// new live count, or a connection that ended, perhaps with the request budget spent). Every
/// waiter wakes and looks again. Single-threaded, like the worker.
#[derive(Default)]
pub(crate) struct DemandChanged {
    generation: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
}

impl DemandChanged {
    /// Read before looking at the demand: [`DemandChanged::wait_past`] this value then misses no
    /// change made after the look.
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    pub fn raise(&self) {
        self.generation.set(self.generation.get() + 1);
        for waker in self.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    /// Resolves once the demand changed after `seen` was read.
    pub fn wait_past(&self, seen: u64) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.generation.get() != seen {
                return Poll::Ready(());
            }
            self.waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
    }
}

/// Raises `changed` when dropped: a connection task ending, however it ends, lets the idle
/// ones see whether the run is over for them too.
pub(crate) struct RaiseOnDrop<'a>(pub &'a DemandChanged);

impl Drop for RaiseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.raise();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StageRamp;
    use crate::load::stages::Stage;

    fn worker(demand: ConnectionDemand, first: usize, stride: usize) -> WorkerConnections {
        WorkerConnections {
            demand,
            first,
            stride,
        }
    }

    #[test]
    fn a_live_demand_uses_the_connections_below_it() {
        let live = Arc::new(LiveConnections::new(3));
        // Worker 1 of 2 holds the run's connections 1, 3, 5.
        let slots: Vec<_> = (0..3)
            .map(|j| worker(ConnectionDemand::Live(live.clone()), 1, 2).slot(j))
            .collect();
        let in_use = || slots.iter().map(|s| s.idle().is_none()).collect::<Vec<_>>();
        assert_eq!(in_use(), [true, false, false]);
        live.set(6);
        assert_eq!(in_use(), [true, true, true]);
        live.set(0);
        assert_eq!(in_use(), [false, false, false]);
        assert_eq!(slots[0].idle(), Some(Idle::UntilChanged));
    }

    #[test]
    fn a_raised_change_wakes_every_waiter_once() {
        let changed = DemandChanged::default();
        let seen = changed.generation();
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut first = std::pin::pin!(changed.wait_past(seen));
        let mut second = std::pin::pin!(changed.wait_past(seen));
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        changed.raise();
        assert!(changed.waiters.borrow().is_empty(), "the wakers were taken");
        assert!(first.as_mut().poll(&mut cx).is_ready());
        assert!(second.as_mut().poll(&mut cx).is_ready());
        // A change before the wait began is not missed.
        let seen = changed.generation();
        changed.raise();
        let mut late = std::pin::pin!(changed.wait_past(seen));
        assert!(late.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn a_ramp_says_when_a_connection_is_needed_again() {
        let ramp = Ramp::new(
            0.0,
            vec![
                Stage {
                    duration: Duration::from_secs(100),
                    target: 10.0,
                },
                Stage {
                    duration: Duration::from_secs(100),
                    target: 0.0,
                },
            ],
            StageRamp::Connections,
        )
        .unwrap();
        let start = Instant::now();
        let demand = ConnectionDemand::Ramp {
            ramp: Arc::new(ramp),
            start,
        };
        // Connection 5 is in use once the target passes 5, 50 s in.
        match worker(demand.clone(), 5, 1).slot(0).idle() {
            Some(Idle::Until(at)) => {
                let after = at - start;
                assert!(after > Duration::from_secs(49) && after <= Duration::from_secs(51));
            }
            other => panic!("expected a wake-up time, got {other:?}"),
        }
        // Connection 10 never is: the ramp reaches 10 but never goes above it.
        assert_eq!(worker(demand, 10, 1).slot(0).idle(), Some(Idle::ForGood));
    }
}
