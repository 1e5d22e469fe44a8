//! What an HTTP/2 connection sends next: the plan's requests (the CLI and the library), or one
//! native user's turns (a Locust `NativeUser` with `http2 = True`: one connection per user, as
//! a Locust user has, its requests in its order with its wait, or at its arrival rate).

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::connection::{owed, pause_while_in_use, serves, WorkerShared};
use crate::load::demand::ConnectionSlot;
use crate::load::users::{RequestOrder, UserLoop, UserSetup, WaitTime};
use crate::load::watchdog::Alarm;

/// A request taken from the plan that has not gone out yet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    /// Index into the connection's requests: the run's, or its native user's (the same
    /// statistics rows, the user's own headers).
    pub request: usize,
    /// Due time (open model), or when it was taken (closed).
    pub due: Instant,
    /// It went out once already and was not processed.
    pub resent: bool,
    /// A native user's sequence: the seed of its iteration's placeholder values.
    pub iteration: Option<u64>,
}

/// Where a connection's requests come from.
pub(crate) enum Feed<'s> {
    Plan { due: Vec<Instant> },
    User(UserTurns<'s>),
}

impl<'s> Feed<'s> {
    pub fn plan() -> Feed<'s> {
        Feed::Plan { due: Vec::new() }
    }

    /// Appends up to `room` requests to `batch` in the order they are due, waiting for the
    /// first one's due time (open model, arrival rate) or the user's pause. Returns false when
    /// there are no more: the plan is done, the run is over, or the user left.
    pub async fn next(
        &mut self,
        shared: &WorkerShared,
        batch: &mut Vec<Pending>,
        room: usize,
    ) -> bool {
        match self {
            Feed::Plan { due } => {
                due.clear();
                // Stopped while waiting for a due time: the requests are not sent (nor counted),
                // as on HTTP/1.1.
                if !shared.plan.next_batch(due, room, shared.deadline).await
                    || shared.stop.is_requested()
                {
                    return false;
                }
                batch.extend(due.iter().map(|&due| Pending {
                    request: shared.picker.pick(),
                    due,
                    resent: false,
                    iteration: None,
                }));
                true
            }
            Feed::User(turns) => turns.next(shared, batch, room).await,
        }
    }

    /// Whether latency counts from the due time (open model, arrival rate), not from the send.
    pub fn latency_from_due(&self, shared: &WorkerShared) -> bool {
        match self {
            Feed::Plan { .. } => !shared.plan.is_closed_model(),
            Feed::User(turns) => turns.period.is_some(),
        }
    }

    /// An arrival rate's interval: a request sent this late or later counts as late.
    pub fn late_after(&self) -> Option<Duration> {
        match self {
            Feed::Plan { .. } => None,
            Feed::User(turns) => turns.period,
        }
    }

    /// Whether the connection may hold free streams back until half of them are free (the
    /// closed model's batching, `Driver::waits_to_refill`): never for a user, whose requests
    /// follow its own pace.
    pub fn refills_in_halves(&self, shared: &WorkerShared) -> bool {
        matches!(self, Feed::Plan { .. }) && shared.plan.is_closed_model()
    }
}

/// One native user's requests over its HTTP/2 connection. With a wait time, one request at a
/// time (the connection has one stream), the pause counted from the previous one's start as
/// `run_connection` counts it. With an arrival rate, a request is due every `period`, up to
/// the connection's streams in flight; one due while all are busy waits for a free one, and its
/// latency counts from when it was due.
pub(crate) struct UserTurns<'s> {
    slot: &'s ConnectionSlot,
    pub user: Arc<UserSetup>,
    order: RequestOrder,
    wait: WaitTime,
    /// A sequence: the next step, and the seed of the current iteration's values.
    step: usize,
    iteration: u64,
    /// A wait time: when the previous request was taken, and when the pause after it ends.
    taken_at: Option<Instant>,
    resume_at: Option<Instant>,
    /// An arrival rate: its interval, and when the next request is due.
    period: Option<Duration>,
    next_due: Option<Instant>,
    alarm: Rc<Alarm>,
}

impl<'s> UserTurns<'s> {
    /// `alarm` guards the user's pauses: the slot's, made once (a watchdog keeps every alarm).
    pub fn new(
        shared: &WorkerShared,
        slot: &'s ConnectionSlot,
        user: Arc<UserSetup>,
        alarm: Rc<Alarm>,
    ) -> Self {
        let UserLoop { order, wait } = shared.users.unwrap_or(UserLoop {
            order: RequestOrder::ByWeight,
            wait: WaitTime::Constant(Duration::ZERO),
        });
        let period = wait.arrivals();
        UserTurns {
            slot,
            user,
            order,
            wait,
            step: 0,
            iteration: 0,
            taken_at: None,
            resume_at: None,
            period,
            // Users spawned together start at random points of their first interval, so their
            // requests spread out instead of arriving in bursts.
            next_due: period.map(|period| {
                let fraction = (shared.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                Instant::now() + period.mul_f64(fraction)
            }),
            alarm,
        }
    }

    /// Whether the slot still holds this user.
    pub fn is_current(&self) -> bool {
        serves(Some(self.slot), Some(&self.user))
    }

    /// The user's schedule ends (it left, or the run did): what fell due and was never handed
    /// out counts as never sent.
    pub fn leave(&mut self, shared: &WorkerShared) {
        if let (Some(due), Some(period)) = (self.next_due.take(), self.period) {
            shared.stats.borrow_mut().unsent += owed(due, period, Instant::now(), false);
        }
    }

    async fn next(&mut self, shared: &WorkerShared, batch: &mut Vec<Pending>, room: usize) -> bool {
        loop {
            if shared.is_over() || !self.is_current() {
                // Its schedule ends now, not when its last responses have arrived.
                self.leave(shared);
                return false;
            }
            let now = Instant::now();
            let until = match (self.period, self.next_due) {
                (Some(period), Some(due)) if due <= now => {
                    let mut due = due;
                    while batch.len() < room && due <= now {
                        let (request, iteration) = self.pick(shared);
                        batch.push(Pending {
                            request,
                            due,
                            resent: false,
                            iteration,
                        });
                        due += period;
                    }
                    self.next_due = Some(due);
                    return true;
                }
                (Some(_), Some(due)) => due,
                _ => {
                    if let Some(taken) = self.taken_at.take() {
                        if !self.wait.is_zero() {
                            let pause = self.wait.after(taken.elapsed(), &shared.rng);
                            self.resume_at = Some(now + pause);
                        }
                    }
                    match self.resume_at {
                        Some(at) if now < at => at,
                        _ => {
                            self.resume_at = None;
                            self.taken_at = Some(now);
                            let (request, iteration) = self.pick(shared);
                            batch.push(Pending {
                                request,
                                due: now,
                                resent: false,
                                iteration,
                            });
                            return true;
                        }
                    }
                }
            };
            // Until then, or until the user is removed or the run ends.
            pause_while_in_use(shared, &self.alarm, self.slot, Some(&self.user), until).await;
        }
    }

    /// The next request: in order (with the iteration's seed), or by weight.
    fn pick(&mut self, shared: &WorkerShared) -> (usize, Option<u64>) {
        match self.order {
            RequestOrder::ByWeight => (shared.picker.pick(), None),
            RequestOrder::Sequence => {
                if self.step == 0 {
                    self.iteration = shared.rng.next_u64();
                }
                let this = self.step;
                self.step = (self.step + 1) % self.user.requests.len();
                (this, Some(self.iteration))
            }
        }
    }
}
