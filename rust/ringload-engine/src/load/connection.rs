//! One connection's life: pick the next batch of requests, (re)connect, write, read the
//! responses, account every request exactly once.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRent};

use crate::error::{ErrorKind, Failure};
use crate::load::demand::{ConnectionSlot, DemandChanged, Idle, RaiseOnDrop};
use crate::load::plan::{Picker, Plan};
use crate::load::prepare::PreparedRequest;
use crate::load::race::race;
use crate::load::stop::StopSignal;
use crate::load::users::{RequestOrder, UserLoop, UserSetup};
use crate::load::watchdog::{Alarm, Watchdog};
use crate::net::dial::{DialGate, DialTimes, Dialer, StreamDialer};
use crate::net::idle::OverSocket;
use crate::proto::h1::conn::Connection;
use crate::proto::Responses;
use crate::proto::{Discard, ResponseEnd};
use crate::rng::Rng;
use crate::runtime::micros;
use crate::stats::{IntervalStats, ResponseTimes};

/// Reconnect back-off: first wait, and the cap. The cap keeps `-n 50` against a closed port
/// to a few seconds while a down server still sees at most ~20 attempts/s per connection.
pub(crate) const BACKOFF_FIRST: Duration = Duration::from_millis(5);
pub(crate) const BACKOFF_MAX: Duration = Duration::from_millis(50);

/// What every connection of a worker shares (single-threaded: `Rc`/`RefCell`).
pub(crate) struct WorkerShared {
    pub stats: RefCell<IntervalStats>,
    pub plan: Plan,
    /// Chooses among `requests` for every send.
    pub picker: Picker,
    /// The encoded requests, sent as they are every time (native users send their own).
    pub requests: Arc<[PreparedRequest]>,
    /// Native users: the order of their requests and the pause after each.
    pub users: Option<UserLoop>,
    pub pipeline: usize,
    /// `false`: every request on a new connection, closed after its response.
    pub keep_alive: bool,
    pub timeout: Duration,
    /// When the run ends; requests still in flight then are counted aborted.
    pub deadline: Instant,
    /// The user stopped the run: it ends now, as at the deadline. The worker's stop watcher
    /// expires the [`Watchdog`]'s alarms, so every guarded wait ends at once.
    pub stop: Arc<StopSignal>,
    /// Enforces every exchange's timeout, the run's deadline and a stop.
    pub watchdog: Rc<Watchdog>,
    /// Bounds the connection attempts in flight.
    pub dial_gate: DialGate,
    /// Random values for templated requests.
    pub rng: Rng,
    /// When the run started: completions are stamped from here.
    pub start: Instant,
    /// Wakes the idle connections to look at the demand again.
    pub demand_changed: DemandChanged,
    /// Native users: raised when users were removed, so those pausing between requests look
    /// whether they are still in use.
    pub users_left: DemandChanged,
}

impl WorkerShared {
    /// Opens a connection through the dial gate; `None` when the run ended (or was stopped)
    /// first.
    pub(crate) async fn dial<D: Dialer>(
        &self,
        dialer: &D,
        alarm: &Alarm,
    ) -> Option<Result<D::Stream, Failure>> {
        let dialed = alarm
            .guard(self.deadline, self.dial_timed(dialer))
            .await
            .ok()??;
        Some(dialed.map(|(stream, times)| {
            self.stats
                .borrow_mut()
                .record_dial(micros(times.connect), times.tls.map(micros));
            stream
        }))
    }

    async fn dial_timed<D: Dialer>(
        &self,
        dialer: &D,
    ) -> Option<Result<(D::Stream, DialTimes), Failure>> {
        let _permit = self.dial_gate.enter().await;
        // A slot freed at the deadline can reach a waiter before the alarm does; a connect
        // started then would only delay the end.
        if self.is_over() {
            return None;
        }
        Some(dialer.dial().await)
    }

    /// The run has ended: stopped by the user, or past its deadline.
    pub(crate) fn is_over(&self) -> bool {
        self.stop.is_requested() || Instant::now() >= self.deadline
    }

    /// Counts each of `picked` (indices into `requests`) as failed, `since` being when they
    /// started (their latency, as Locust times a failure).
    pub(crate) fn fail(
        &self,
        requests: &[PreparedRequest],
        failure: &Failure,
        picked: &[usize],
        since: Instant,
    ) {
        let now = Instant::now();
        let (latency, done) = (
            micros(now.saturating_duration_since(since)),
            self.since_start(now),
        );
        let mut stats = self.stats.borrow_mut();
        for &request in picked {
            stats.record_failure(
                failure.kind,
                requests[request].endpoint,
                &failure.error,
                latency,
                done,
            );
        }
    }

    /// Counts `request` (an index into `requests`) as failed, sent at `since`.
    pub(crate) fn fail_one(&self, request: usize, failure: &Failure, since: Instant) {
        self.fail(&self.requests, failure, &[request], since);
    }

    /// Counts each of `picked` (indices into `requests`) as aborted by the end of the run.
    pub(crate) fn abort(
        &self,
        requests: &[PreparedRequest],
        picked: impl IntoIterator<Item = usize>,
    ) {
        let mut stats = self.stats.borrow_mut();
        for request in picked {
            stats.endpoints[requests[request].endpoint].aborted += 1;
        }
    }

    /// Counts each of `picked` as aborted by the end of the run before its connection was up.
    pub(crate) fn abort_connecting(&self, requests: &[PreparedRequest], picked: &[usize]) {
        self.abort(requests, picked.iter().copied());
        let mut stats = self.stats.borrow_mut();
        for &request in picked {
            stats.endpoints[requests[request].endpoint].aborted_connecting += 1;
        }
    }

    /// Microseconds from the run's start to `at`: when a request completed.
    pub(crate) fn since_start(&self, at: Instant) -> u64 {
        micros(at.saturating_duration_since(self.start))
    }
}

/// Runs one connection until the plan has no more requests or the deadline passes. On a
/// connection ramp, `slot` says when the connection is in use; while it is not, it is closed.
pub(crate) async fn run_connection<D: StreamDialer>(
    shared: Rc<WorkerShared>,
    dialer: Rc<D>,
    slot: Option<ConnectionSlot>,
) {
    let _raise = RaiseOnDrop(&shared.demand_changed);
    let mut requests = shared.requests.clone();
    // Native users: the user this connection serves, with its own requests.
    let mut user: Option<Arc<UserSetup>> = None;
    // A sequence: the next step, and the seed of the current iteration's values.
    let (mut step, mut iteration) = (0usize, 0u64);
    // An arrival rate: when this user's next request is due.
    let arrivals = shared.users.and_then(|users| users.wait.arrivals());
    let mut next_due: Option<Instant> = None;
    // Whether the request due at `next_due` went out (it is then counted, even if aborted).
    let mut due_sent = false;
    let sequence = matches!(
        shared.users,
        Some(UserLoop {
            order: RequestOrder::Sequence,
            ..
        })
    );
    let mut conn: Connection<D::Stream> = shared.new_connection();
    let mut scratch = TemplateScratch::default();
    let alarm = shared.watchdog.alarm();
    let mut backoff = BACKOFF_FIRST;
    // Due time of each request of the current batch (open model) or its send time (closed),
    // and which request each one is.
    let mut due: Vec<Instant> = Vec::with_capacity(shared.pipeline);
    let mut picked: Vec<usize> = Vec::with_capacity(shared.pipeline);
    if !shared.plan.is_closed_model() && shared.keep_alive {
        // Connect before the first due time, so the schedule's first sends do not wait for a
        // handshake. A failure is not counted here: the first request dials again and counts it.
        if let Some(Ok(stream)) = shared.dial(&*dialer, &alarm).await {
            shared.attach(&mut conn, stream);
        }
    }
    'requests: loop {
        due.clear();
        picked.clear();
        if shared.stop.is_requested() {
            break;
        }
        let seen = shared.demand_changed.generation();
        if let Some(idle) = slot.as_ref().and_then(ConnectionSlot::idle) {
            // Not in use (ramped down, not up yet, or beyond a lowered demand): no connection
            // until the demand reaches this one.
            shared.close(&mut conn);
            if let (Some(due_at), Some(period)) = (next_due.take(), arrivals) {
                // A native user that left with its schedule behind: what fell due was never sent.
                shared.stats.borrow_mut().unsent += owed(due_at, period, Instant::now(), false);
            }
            if !wait_while_idle(&shared, &alarm, idle, seen).await {
                break;
            }
            continue;
        }
        if let Some(current) = slot.as_ref().and_then(ConnectionSlot::user) {
            if !user.as_ref().is_some_and(|u| Arc::ptr_eq(u, &current)) {
                // Another user: a connection of its own, as a Locust user has.
                shared.close(&mut conn);
                requests = current.requests.clone();
                user = Some(current);
                step = 0;
                // Users spawned together start at random points of their first interval, so
                // their requests spread out instead of arriving in bursts.
                next_due = arrivals.map(|period| {
                    let fraction = (shared.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    Instant::now() + period.mul_f64(fraction)
                });
            }
        }
        if let (Some(due_at), Some(slot)) = (next_due, slot.as_ref()) {
            if Instant::now() < due_at {
                pause_while_in_use(&shared, &alarm, slot, user.as_ref(), due_at).await;
                if Instant::now() < due_at {
                    // Removed (or the run ended) while waiting: look again.
                    continue;
                }
            }
        }
        if !shared
            .plan
            .next_batch(&mut due, shared.pipeline, shared.deadline)
            .await
            // Stopped while waiting for a due time: the request is not sent.
            || shared.stop.is_requested()
        {
            break;
        }
        for _ in 0..due.len() {
            picked.push(if sequence {
                if step == 0 {
                    iteration = shared.rng.next_u64();
                }
                let this = step;
                step = (step + 1) % requests.len();
                this
            } else {
                shared.picker.pick()
            });
        }
        // A sequence's steps draw their values from the iteration's seed.
        let own_draws = sequence.then(|| Rng::per_iteration(iteration));
        let draws = own_draws.as_ref().unwrap_or(&shared.rng);
        let iteration = Instant::now();
        let mut retried = false;
        loop {
            // Without keep-alive the connection is part of each request: its latency (and
            // timeout) starts before the connect and the TLS handshake, as oha counts it.
            let started = Instant::now();
            if conn.retired_while_idle(started) {
                // The server closed this kept-alive connection while it was idle (a FIN, a
                // reset, a TLS close_notify or a stray 408): nothing was sent on it, so the
                // requests go out on a new one, neither failed nor resent.
                shared.close(&mut conn);
            }
            if !conn.is_open() {
                match shared.dial(&*dialer, &alarm).await {
                    None => {
                        shared.abort_connecting(&requests, &picked);
                        break 'requests;
                    }
                    Some(Err(failure)) => {
                        shared.fail(&requests, &failure, &picked, started);
                        sleep_before_deadline(backoff, shared.deadline).await;
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        break;
                    }
                    Some(Ok(stream)) => {
                        shared.attach(&mut conn, stream);
                        backoff = BACKOFF_FIRST;
                        if !serves(slot.as_ref(), user.as_ref()) {
                            // The user left while its connection was being made: nothing was
                            // sent for it, and nothing is, with its headers, for another.
                            continue 'requests;
                        }
                    }
                }
            }
            let sent_at = if shared.keep_alive {
                Instant::now()
            } else {
                started
            };
            if let (Some(due_at), Some(period)) = (next_due, arrivals) {
                // Latency from the due time: a request that waited for a busy connection
                // counts its wait.
                due_sent = true;
                due.fill(due_at);
                let mut stats = shared.stats.borrow_mut();
                let lag = sent_at.saturating_duration_since(due_at);
                stats.record_lag(micros(lag));
                stats.late += u64::from(lag >= period);
            } else if shared.plan.is_closed_model() {
                due.fill(sent_at);
            } else {
                let mut stats = shared.stats.borrow_mut();
                for d in &due {
                    stats.record_lag(micros(sent_at.saturating_duration_since(*d)));
                }
            }
            let limit = (sent_at + shared.timeout).min(shared.deadline);
            shared.plan.exchange_started();
            let outcome = alarm
                .guard(
                    limit,
                    shared.exchange(
                        &mut conn,
                        (&requests, draws),
                        &mut scratch,
                        &due,
                        &picked,
                        sent_at,
                    ),
                )
                .await;
            shared.plan.exchange_ended();
            shared.count_bytes(&mut conn);
            let unanswered = &picked[conn.completed()..];
            match outcome {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => {
                    // The server closed the connection after `completed` responses; pipelined
                    // requests behind them were never answered.
                    shared.close(&mut conn);
                    shared.fail(
                        &requests,
                        &Failure::message(ErrorKind::Closed, "connection closed before response"),
                        unanswered,
                        sent_at,
                    );
                }
                Ok(Err(failure)) => {
                    let may_retry = !retried
                        && conn.may_resend(
                            &failure,
                            unanswered.iter().all(|&r| requests[r].idempotent),
                        );
                    shared.close(&mut conn);
                    if may_retry {
                        // A keep-alive connection the server had already closed: the request
                        // never reached it, so resending an idempotent one is safe, once.
                        retried = true;
                        let mut stats = shared.stats.borrow_mut();
                        for &r in unanswered {
                            stats.endpoints[requests[r].endpoint].retries += 1;
                        }
                        continue;
                    }
                    shared.fail(&requests, &failure, unanswered, sent_at);
                }
                Err(_) => {
                    if shared.stop.is_requested()
                        || (limit >= shared.deadline && Instant::now() >= shared.deadline)
                    {
                        // The run is over and the connection ends with it, as the others do
                        // (so the timeline does not count it as closed).
                        shared.abort(&requests, unanswered.iter().copied());
                        break 'requests;
                    }
                    shared.close(&mut conn);
                    shared.fail(
                        &requests,
                        &Failure::new(
                            ErrorKind::Timeout,
                            io::Error::new(io::ErrorKind::TimedOut, "no complete response in time"),
                        ),
                        unanswered,
                        sent_at,
                    );
                }
            }
            break;
        }
        if let (Some(due_at), Some(period)) = (next_due, arrivals) {
            next_due = Some(due_at + period);
            due_sent = false;
        } else if let (Some(UserLoop { wait, .. }), Some(slot)) = (shared.users, slot.as_ref()) {
            if !wait.is_zero() {
                let pause = wait.after(iteration.elapsed(), &shared.rng);
                pause_while_in_use(&shared, &alarm, slot, user.as_ref(), Instant::now() + pause)
                    .await;
            }
        }
    }
    // The run ended: requests that fell due and were never sent (the one cut short at the end,
    // if any, is counted aborted).
    if let (Some(due_at), Some(period), true) = (next_due, arrivals, user.is_some()) {
        shared.stats.borrow_mut().unsent += owed(due_at, period, Instant::now(), due_sent);
    }
}

/// Requests of an arrival schedule due by `now`, from the one due at `due_at` (`sent`: that
/// one went out, and is counted otherwise).
pub(crate) fn owed(due_at: Instant, period: Duration, now: Instant, sent: bool) -> u64 {
    if now < due_at {
        return 0;
    }
    let due = (now - due_at).as_nanos() / period.as_nanos().max(1) + 1;
    due as u64 - u64::from(sent)
}

/// Whether the connection of `slot` still serves `user` (always, outside native users).
pub(crate) fn serves(slot: Option<&ConnectionSlot>, user: Option<&Arc<UserSetup>>) -> bool {
    match (slot.map(ConnectionSlot::user), user) {
        (Some(Some(now)), Some(mine)) => Arc::ptr_eq(&now, mine),
        (Some(None), Some(_)) => false,
        _ => true,
    }
}

/// A native user's pause between requests: until `until`, or until its user was removed (it
/// then closes at once), or the run ends.
pub(crate) async fn pause_while_in_use(
    shared: &WorkerShared,
    alarm: &Alarm,
    slot: &ConnectionSlot,
    user: Option<&Arc<UserSetup>>,
    until: Instant,
) {
    loop {
        let seen = shared.users_left.generation();
        // The connection's own user: one that took the slot meanwhile starts at once.
        if user.is_none()
            || !serves(Some(slot), user)
            || shared.is_over()
            || Instant::now() >= until
        {
            return;
        }
        let nap = monoio::time::sleep_until(monoio::time::Instant::from_std(until));
        if alarm
            .guard(until, race(nap, shared.users_left.wait_past(seen)))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// A slot not in use waits: until the demand changes past `seen` (read before `idle` was: a
/// change in between is not missed; a connection that ended, spending the budget, raises it
/// too), or the ramp's time comes; a stop or the deadline expires the alarm. Returns false when
/// the slot will never be in use again, or the run is over.
pub(crate) async fn wait_while_idle(
    shared: &WorkerShared,
    alarm: &Alarm,
    idle: Idle,
    seen: u64,
) -> bool {
    if matches!(idle, Idle::ForGood)
        || matches!(idle, Idle::Until(until) if until >= shared.deadline)
        || shared.plan.is_spent()
        || Instant::now() >= shared.deadline
    {
        return false;
    }
    let changed = shared.demand_changed.wait_past(seen);
    let _ = match idle {
        Idle::Until(until) => {
            let nap = monoio::time::sleep_until(monoio::time::Instant::from_std(until));
            alarm.guard(until, race(nap, changed)).await.map(|_| ())
        }
        _ => alarm.guard(shared.deadline, changed).await,
    };
    true
}

pub(crate) async fn sleep_before_deadline(wait: Duration, deadline: Instant) {
    let until = (Instant::now() + wait).min(deadline);
    monoio::time::sleep_until(monoio::time::Instant::from_std(until)).await;
}

/// The buffer a templated body is rendered into before its head (which carries its length).
#[derive(Default)]
struct TemplateScratch {
    body: Vec<u8>,
}

impl WorkerShared {
    fn new_connection<S: AsyncReadRent + AsyncWriteRent + OverSocket>(&self) -> Connection<S> {
        // Native users' requests differ from these by their headers only: the buffer grows if
        // a user's token makes one longer.
        let longest = self.requests.iter().map(|r| r.wire.size_hint()).max();
        Connection::new(longest.unwrap_or(0) * self.pipeline)
    }

    /// Gives `conn` a newly established stream, counting the connect.
    fn attach<S: AsyncReadRent + AsyncWriteRent + OverSocket>(
        &self,
        conn: &mut Connection<S>,
        stream: S,
    ) {
        conn.attach(stream);
        self.stats.borrow_mut().connects += 1;
    }

    /// Closes `conn`, counting the close when one was open (the timeline's open connections
    /// are `connects - closes`).
    fn close<S: AsyncReadRent + AsyncWriteRent + OverSocket>(&self, conn: &mut Connection<S>) {
        if conn.close() {
            self.stats.borrow_mut().closes += 1;
        }
    }

    /// Sends the `picked` requests on `conn` and reads their responses, recording each as it
    /// completes. Returns whether the connection may be reused.
    async fn exchange<S: AsyncReadRent + AsyncWriteRent + OverSocket>(
        &self,
        conn: &mut Connection<S>,
        (requests, draws): (&[PreparedRequest], &Rng),
        scratch: &mut TemplateScratch,
        due: &[Instant],
        picked: &[usize],
        sent_at: Instant,
    ) -> Result<bool, Failure> {
        // Copying ~100 bytes per request costs nothing next to the syscall.
        let buf = conn.requests_buf();
        for &r in picked {
            requests[r].wire.write(buf, &mut scratch.body, draws);
        }
        let mut batch = Batch {
            shared: self,
            requests,
            due,
            picked,
            sent_at,
            discard: Discard,
        };
        conn.exchange(&mut batch, self.keep_alive).await
    }

    /// Moves the bytes `conn` wrote and read into the statistics. Called after every exchange
    /// however it ended: one cut short by its timeout or by the deadline wrote its requests too.
    /// A resent request counts its bytes again: they went out again.
    fn count_bytes<S: AsyncReadRent + AsyncWriteRent + OverSocket>(
        &self,
        conn: &mut Connection<S>,
    ) {
        let (written, read) = conn.take_byte_counts();
        let mut stats = self.stats.borrow_mut();
        stats.bytes_written += written;
        stats.bytes_read += read;
    }
}

/// One exchange's requests as the worker sent them, recording each response as it completes.
struct Batch<'a> {
    shared: &'a WorkerShared,
    requests: &'a [PreparedRequest],
    /// Due time (open model) or send time (closed) of each request.
    due: &'a [Instant],
    /// Which request each one is (indices into `requests`).
    picked: &'a [usize],
    sent_at: Instant,
    discard: Discard,
}

impl Responses for Batch<'_> {
    type Sink = Discard;

    fn len(&self) -> usize {
        self.picked.len()
    }

    fn is_head(&self, i: usize) -> bool {
        self.requests[self.picked[i]].is_head
    }

    fn sink(&mut self, _i: usize) -> &mut Discard {
        &mut self.discard
    }

    fn complete(&mut self, i: usize, end: ResponseEnd) {
        let done = Instant::now();
        self.shared.stats.borrow_mut().record_response(
            self.requests[self.picked[i]].endpoint,
            ResponseTimes {
                status: end.status,
                latency_us: micros(done.saturating_duration_since(self.due[i])),
                uncorrected_us: micros(done.saturating_duration_since(self.sent_at)),
                ttfb_us: micros(end.first_byte_at.saturating_duration_since(self.sent_at)),
                body_len: end.body_len,
                done_us: self.shared.since_start(done),
            },
        );
    }
}
