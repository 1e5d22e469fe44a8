//! A run as the CLI and `ringload.run` drive it: [`Run::start`] validates nothing more (the
//! [`LoadPlan`] did), starts the workers and hands back a handle; [`Run::next_event`] merges
//! the workers' snapshots and returns warnings and once-a-second [`Progress`];
//! [`Run::set_connections`] changes how many of the run's connections are in use while it
//! runs; [`Run::finish`] waits for every request to be accounted for and builds the report.

use std::collections::{BTreeMap, VecDeque};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use hdrhistogram::Histogram;

use crate::error::{ErrorKind, RunError};
use crate::load::demand::{ConnectionDemand, LiveConnections, WorkerConnections};
use crate::load::pacer::Grid;
use crate::load::plan::DueTimes;
use crate::load::prepare::{LoadPlan, RateShape};
use crate::load::stop::{
    wake_watcher, wake_watcher_with, StopSignal, WorkerStop, STOP_POLL, USERS_LEFT,
};
use crate::load::users::{UserLoop, UserSetup, UserTable};
use crate::load::worker::{self, RunSetup, WorkerJob, WorkerMessage};
use crate::net::h2_settle::{self, Settled};
use crate::origin::Scheme;
use crate::report::timeline::TimelineBuilder;
use crate::report::{Ramps, Report, RunFacts};
use crate::runtime::{available_cores, choose_io};
use crate::stats::{IntervalStats, SnapshotEnd, SNAPSHOT_INTERVAL};

/// A live view of the run, once a second.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub elapsed: Duration,
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    /// Responses per second over the last tick.
    pub current_rps: f64,
    /// p99 latency so far, microseconds.
    pub p99_us: Option<u64>,
}

/// What a running [`Run`] has to say.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// A line for the user (a limit that will bite, the I/O driver that was chosen instead).
    Warning(String),
    /// Once every [`PROGRESS_INTERVAL`].
    Progress(Progress),
}

/// How often [`RunEvent::Progress`] comes.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// A run with neither duration nor deadline still ends: a safety net far beyond any timeout.
const UNBOUNDED_RUN: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A started run. Dropping it without [`Run::finish`] stops it and waits for its workers.
pub struct Run {
    plan: LoadPlan,
    setup: Arc<RunSetup>,
    use_uring: bool,
    started_at: SystemTime,
    start_warnings: Vec<String>,
    pending: VecDeque<RunEvent>,
    /// The demand every connection follows, unless connection stages or a rate own it.
    live: Option<Arc<LiveConnections>>,
    /// Native users: who is in the run, and its statistics by epoch second not yet drained.
    users: Option<NativeUsers>,
    handles: Vec<JoinHandle<()>>,
    /// The coordinator's ends of the workers' stop lines.
    stop_lines: Vec<UnixStream>,
    rx: Receiver<WorkerMessage>,
    total: IntervalStats,
    timeline: TimelineBuilder,
    running: usize,
    worker_error: Option<String>,
    next_tick: Instant,
    ok_at_last_tick: u64,
    finished_at: Instant,
    stop_relayed: bool,
}

impl Run {
    /// Starts `plan` ([`crate::LoadConfig::plan`]); `stop` ends it early (Ctrl-C), at once, as
    /// at the deadline, with the requests in flight counted aborted.
    pub fn start(plan: &LoadPlan, stop: Arc<StopSignal>) -> Result<Run, RunError> {
        Run::start_as(plan, stop, None)
    }

    /// Starts a native-users run ([`LoadConfig::plan_for_users`](crate::LoadConfig)): no
    /// connection until [`Run::add_user`], each user going through the plan's requests as
    /// `users` says, until
    /// `stop` (then [`Run::finish`]). Its snapshots are taken on the wall clock's quarter
    /// seconds, so [`Run::drain`] files each one under the epoch second it was recorded in.
    pub fn start_users(
        plan: &LoadPlan,
        users: UserLoop,
        stop: Arc<StopSignal>,
    ) -> Result<Run, RunError> {
        Run::start_as(plan, stop, Some(users))
    }

    fn start_as(
        plan: &LoadPlan,
        stop: Arc<StopSignal>,
        users: Option<UserLoop>,
    ) -> Result<Run, RunError> {
        let config = &plan.config;
        let addrs = config.target.resolve()?;
        let (use_uring, io_warning) = choose_io(config.io)?;
        let mut start_warnings: Vec<String> = io_warning
            .into_iter()
            .chain(raise_open_file_limit(plan.connections))
            .collect();
        let mut http2 = config.http2;
        if let (Some(_), Some(tls)) = (http2, &plan.tls) {
            match h2_settle::settle(&addrs, tls, config.connect_timeout) {
                Settled::Http2 | Settled::Unknown => {}
                Settled::Http1 { warning } => {
                    http2 = None;
                    start_warnings.push(warning);
                }
            }
        }

        let mut start = Instant::now();
        // The wall clock at the start, for the CSV history's timestamps (Locust's are unix times).
        let mut started_at = SystemTime::now();
        if users.is_some() {
            // Back to the last quarter second of the wall clock: every snapshot then lies
            // within one epoch second.
            let into = started_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(Duration::ZERO, |t| {
                    Duration::from_nanos((t.as_nanos() % SNAPSHOT_INTERVAL.as_nanos()) as u64)
                });
            if let Some(earlier) = start.checked_sub(into) {
                (start, started_at) = (earlier, started_at - into);
            }
        }
        let deadline = start + plan.duration.unwrap_or(UNBOUNDED_RUN);
        let setup = Arc::new(RunSetup {
            addrs,
            tls: plan.tls.clone(),
            requests: plan.requests.clone(),
            users,
            endpoints: plan.endpoints.len(),
            pipeline: config.pipeline,
            keep_alive: config.keep_alive,
            http2,
            timeout: config.timeout,
            connect_timeout: config.connect_timeout,
            start,
            deadline,
            use_uring,
            stop,
        });
        // A closed-model run for a duration starts with all its connections in use, and its
        // controller may change that while it runs. (With a request budget, each worker spends
        // its own share: the connections stay as they are.)
        let table = users.map(|_| Arc::new(UserTable::default()));
        let demand = match (&plan.connection_ramp, &plan.rate, config.requests) {
            _ if table.is_some() => table.clone().map(ConnectionDemand::Users),
            (Some(ramp), _, _) => Some(ConnectionDemand::Ramp {
                ramp: ramp.clone(),
                start,
            }),
            (None, None, None) => Some(ConnectionDemand::Live(Arc::new(LiveConnections::new(
                plan.connections,
            )))),
            _ => None,
        };
        let live = match &demand {
            Some(ConnectionDemand::Live(live)) => Some(live.clone()),
            _ => None,
        };

        let (tx, rx) = crossbeam_channel::unbounded();
        let cores = available_cores();
        let mut handles = Vec::with_capacity(plan.threads);
        let mut stop_lines = Vec::with_capacity(plan.threads);
        let mut run_error = None;
        for (index, job) in split_jobs(plan, &cores, start, demand)?
            .into_iter()
            .enumerate()
        {
            let notify = match job.stop_line.notify.try_clone() {
                Ok(notify) => notify,
                Err(e) => {
                    run_error = Some(format!("cannot set up a worker's stop: {e}"));
                    break;
                }
            };
            match worker::spawn(index, setup.clone(), job, tx.clone()) {
                Ok(handle) => {
                    stop_lines.push(notify);
                    handles.push(handle);
                }
                Err(e) => {
                    run_error = Some(format!("cannot start a worker thread: {e}"));
                    break;
                }
            }
        }
        drop(tx);
        let open_model = plan.rate.is_some();
        let run = Run {
            plan: plan.clone(),
            use_uring,
            started_at,
            pending: start_warnings
                .iter()
                .cloned()
                .map(RunEvent::Warning)
                .collect(),
            start_warnings,
            live,
            users: table.map(|table| NativeUsers {
                table,
                started_at_ms: millis_since_epoch(started_at),
                undrained: BTreeMap::new(),
            }),
            running: handles.len(),
            timeline: TimelineBuilder::new(handles.len(), open_model),
            handles,
            stop_lines,
            rx,
            total: IntervalStats::new(plan.endpoints.len(), open_model),
            worker_error: None,
            next_tick: start + PROGRESS_INTERVAL,
            ok_at_last_tick: 0,
            finished_at: start,
            stop_relayed: false,
            setup,
        };
        match run_error {
            // The workers already started are stopped and joined by the drop.
            Some(message) => Err(RunError::Worker(message)),
            None => Ok(run),
        }
    }

    /// The next warning or progress tick, waiting for it; `None` once every worker has
    /// finished (then call [`Run::finish`]).
    pub fn next_event(&mut self) -> Option<RunEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.running == 0 {
                return None;
            }
            if !self.stop_relayed && self.setup.stop.is_requested() {
                self.relay_stop();
            }
            let wait = self
                .next_tick
                .saturating_duration_since(Instant::now())
                .min(STOP_POLL);
            match self.rx.recv_timeout(wait) {
                Ok(message) => self.receive(message),
                // A look at the stop (above), not yet the progress tick.
                Err(RecvTimeoutError::Timeout) if Instant::now() < self.next_tick => {}
                Err(RecvTimeoutError::Timeout) => return Some(RunEvent::Progress(self.tick())),
                Err(RecvTimeoutError::Disconnected) => self.running = 0,
            }
        }
    }

    /// Sets how many of the run's connections are in use from now on, as Locust changes its
    /// user count: a connection beyond `connections` closes after its current request, one
    /// within it opens at once. Only in a closed-model run for a duration, without connection
    /// stages, and at most the connections the run started with.
    pub fn set_connections(&self, connections: usize) -> Result<(), RunError> {
        let Some(live) = &self.live else {
            return Err(RunError::FixedConnections);
        };
        if connections > self.plan.connections {
            return Err(RunError::AboveConnectionCeiling {
                asked: connections,
                ceiling: self.plan.connections,
            });
        }
        live.set(connections);
        // Idle connections wait for a change rather than look again and again.
        self.stop_lines.iter().for_each(wake_watcher);
        Ok(())
    }

    /// Native users: adds a user sending the plan's requests with `headers` in place of the
    /// run's own, and returns its slot (for [`Run::remove_user`]). Its connection opens at
    /// once.
    pub fn add_user(&self, headers: Vec<(String, String)>) -> Result<usize, RunError> {
        let users = self.users.as_ref().ok_or(RunError::NotNativeUsers)?;
        let requests = self.plan.requests_with_headers(headers)?;
        let slot = users.table.add(UserSetup { requests });
        self.wake_worker_of(slot, 1);
        Ok(slot)
    }

    /// Native users: removes the user in `slot`. It starts no new request; one in flight
    /// finishes and is counted, then its connection closes. Returns whether there was one.
    pub fn remove_user(&self, slot: usize) -> Result<bool, RunError> {
        let users = self.users.as_ref().ok_or(RunError::NotNativeUsers)?;
        let removed = users.table.remove(slot);
        self.wake_worker_of(slot, USERS_LEFT);
        Ok(removed)
    }

    /// Native users in the run now.
    pub fn user_count(&self) -> usize {
        self.users.as_ref().map_or(0, |users| users.table.count())
    }

    fn wake_worker_of(&self, slot: usize, byte: u8) {
        if let Some(line) = self.stop_lines.get(slot % self.stop_lines.len().max(1)) {
            wake_watcher_with(line, byte);
        }
    }

    /// Native users: takes what the workers measured since the last drain, without waiting,
    /// as one [`SecondStats`] per epoch second and the warnings found meanwhile. A stop
    /// requested meanwhile is relayed to the workers.
    pub fn drain(&mut self) -> (Vec<SecondStats>, Vec<String>) {
        if !self.stop_relayed && self.setup.stop.is_requested() {
            self.relay_stop();
        }
        while let Ok(message) = self.rx.try_recv() {
            self.receive(message);
        }
        // Progress ticks are for `next_event`'s callers; a drained run has none owed, so a
        // stop after hours of drains does not replay them.
        while self.next_tick <= Instant::now() {
            self.next_tick += PROGRESS_INTERVAL;
        }
        let warnings = self
            .pending
            .drain(..)
            .filter_map(|event| match event {
                RunEvent::Warning(line) => Some(line),
                RunEvent::Progress(_) => None,
            })
            .collect();
        (self.take_seconds(), warnings)
    }

    fn take_seconds(&mut self) -> Vec<SecondStats> {
        let Some(users) = &mut self.users else {
            return Vec::new();
        };
        let started_at_ms = users.started_at_ms;
        std::mem::take(&mut users.undrained)
            .into_iter()
            .map(|(epoch_second, stats)| SecondStats {
                epoch_second,
                started_at_ms,
                stats,
            })
            .collect()
    }

    /// Native users: stops the run (every connection closes; requests in flight are dropped,
    /// counted neither as requests nor as failures), waits for the workers, and returns what
    /// was not drained yet and the whole run's report (the CLI's, with microsecond
    /// percentiles per statistics row).
    pub fn stop_users(mut self) -> Result<(Vec<SecondStats>, Report), RunError> {
        self.setup.stop.request();
        while self.next_event().is_some() {}
        self.join_workers()?;
        while let Ok(message) = self.rx.try_recv() {
            self.receive(message);
        }
        Ok((self.take_seconds(), self.report()))
    }

    /// Waits for every worker (running the rest of the run, or ending it at once after a stop)
    /// and builds the report. Warnings found then are in the report's `warnings` after the
    /// ones [`Run::next_event`] gave.
    pub fn finish(mut self) -> Result<Report, RunError> {
        while self.next_event().is_some() {}
        self.join_workers()?;
        // Anything still queued (a worker's last snapshot racing its Finished message).
        while let Ok(message) = self.rx.try_recv() {
            self.receive(message);
        }
        Ok(self.report())
    }

    fn join_workers(&mut self) -> Result<(), RunError> {
        for handle in self.handles.drain(..) {
            if handle.join().is_err() {
                self.worker_error
                    .get_or_insert_with(|| "a worker thread panicked".to_string());
            }
        }
        match self.worker_error.take() {
            Some(message) => Err(RunError::Worker(message)),
            None => Ok(()),
        }
    }

    fn relay_stop(&mut self) {
        self.stop_relayed = true;
        self.stop_lines.iter().for_each(wake_watcher);
    }

    fn receive(&mut self, message: WorkerMessage) {
        match message {
            WorkerMessage::Snapshot { worker, end, stats } => {
                self.timeline.add(worker, end, &stats);
                self.total.merge(&stats);
                if let Some(users) = &mut self.users {
                    users.file(end, *stats);
                }
            }
            WorkerMessage::Finished => {
                self.running -= 1;
                self.finished_at = Instant::now();
            }
            WorkerMessage::Failed(message) => {
                self.running -= 1;
                self.worker_error.get_or_insert(message);
            }
        }
    }

    fn tick(&mut self) -> Progress {
        let overall = self.total.total();
        let progress = Progress {
            elapsed: Instant::now() - self.setup.start,
            requests: overall.requests(),
            ok: overall.ok,
            failed: overall.failed_total(),
            current_rps: (overall.ok - self.ok_at_last_tick) as f64
                / PROGRESS_INTERVAL.as_secs_f64(),
            p99_us: (!overall.latency.is_empty()).then(|| overall.latency.value_at_quantile(0.99)),
        };
        self.ok_at_last_tick = overall.ok;
        self.next_tick += PROGRESS_INTERVAL;
        progress
    }

    fn report(&mut self) -> Report {
        let (plan, start) = (&self.plan, self.setup.start);
        let config = &plan.config;
        let stopped_early = self.setup.stop.is_requested();
        let elapsed = reported_duration(plan, self.finished_at - start, stopped_early);
        let due_by = |seconds: f64| plan.rate.as_ref().map_or(0.0, |rate| rate.due_by(seconds));
        let facts = RunFacts {
            url: config.display_url(),
            method: config.display_method(),
            endpoints: plan.endpoints.clone(),
            connections: plan.connections,
            threads: plan.threads,
            io: if self.use_uring { "uring" } else { "epoll" },
            http2: self.setup.http2,
            // A ramp's target is its average over the run.
            target_rps: plan.rate.as_ref().map(|rate| match rate {
                RateShape::Constant(rate) => *rate,
                RateShape::Ramp(_) => {
                    due_by(elapsed.as_secs_f64()) / elapsed.as_secs_f64().max(1e-9)
                }
            }),
            started_at: self.started_at,
            elapsed,
            interrupted: stopped_early,
            tls: config.target.origin.scheme == Scheme::Https,
            warnings: self.start_warnings.clone(),
            ramps: Ramps {
                rate_start: config.rate.unwrap_or(0.0),
                rate: config.rate_stages.clone(),
                connections: config.connection_stages.clone(),
            },
            // The timeline ends where the workers did; the last entry's rate is over what it
            // covers, so a run that overran its deadline by milliseconds does not inflate it.
            timeline: std::mem::replace(&mut self.timeline, TimelineBuilder::new(0, false)).finish(
                (self.finished_at - start).max(elapsed),
                plan.rate
                    .is_some()
                    .then_some(&due_by as &dyn Fn(f64) -> f64),
            ),
        };
        Report::build(facts, &self.total)
    }
}

/// A native-users run's own state.
struct NativeUsers {
    table: Arc<UserTable>,
    /// The run's start on the wall clock (a quarter second), milliseconds since the epoch.
    started_at_ms: u64,
    /// Snapshots not drained yet, merged per epoch second.
    undrained: BTreeMap<u64, IntervalStats>,
}

impl NativeUsers {
    /// Files a snapshot under the epoch second of the slice it covers (the quarter second
    /// before its tick; a late tick, the slice it reached; the last one, its end).
    fn file(&mut self, end: SnapshotEnd, stats: IntervalStats) {
        let slice_start_ms = match end {
            SnapshotEnd::Tick(tick) => {
                tick.saturating_sub(1) * SNAPSHOT_INTERVAL.as_millis() as u64
            }
            SnapshotEnd::Final(at) => at.as_millis() as u64,
        };
        let second = (self.started_at_ms + slice_start_ms) / 1000;
        match self.undrained.entry(second) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(stats);
            }
            std::collections::btree_map::Entry::Occupied(mut slot) => slot.get_mut().merge(&stats),
        }
    }
}

/// What a native-users run measured in one epoch second (all workers), as [`Run::drain`]
/// hands it over.
pub struct SecondStats {
    /// Seconds since the Unix epoch, as Locust keys its per-second counts.
    pub epoch_second: u64,
    /// The run's start, milliseconds since the epoch: `last_done_us` counts from it.
    pub started_at_ms: u64,
    pub stats: IntervalStats,
}

impl SecondStats {
    /// An arrival rate's schedule in this second: `(requests sent, of them sent a whole
    /// interval or more late, requests due and never sent, the largest send lag in µs)`.
    pub fn schedule(&self) -> (u64, u64, u64, u64) {
        let stats = &self.stats;
        (stats.lag_count, stats.late, stats.unsent, stats.lag_max_us)
    }

    fn epoch_seconds(&self, since_start_us: u64) -> f64 {
        (self.started_at_ms as f64 + since_start_us as f64 / 1000.0) / 1000.0
    }

    /// One [`RowSecond`] per statistics row that completed or failed a request.
    pub fn rows(&self) -> Vec<RowSecond> {
        let stats = &self.stats;
        stats
            .endpoints
            .iter()
            .enumerate()
            .filter(|(_, endpoint)| endpoint.ok + endpoint.failed_total() > 0)
            .map(|(row, endpoint)| RowSecond {
                row,
                epoch_second: self.epoch_second,
                first_done: self.epoch_seconds(endpoint.first_done_us),
                last_done: self.epoch_seconds(endpoint.last_done_us),
                latencies_ms: millisecond_pairs(Some(&endpoint.latency)),
                failed_latencies_ms: millisecond_pairs(endpoint.failed_latency.as_ref()),
                statuses: endpoint
                    .status
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(status, &n)| (status as u16, n))
                    .collect(),
                failures: ErrorKind::ALL
                    .iter()
                    .filter(|&&kind| endpoint.failed[kind as usize] > 0)
                    .map(|&kind| {
                        let example = stats.examples[kind as usize].clone();
                        (
                            kind,
                            endpoint.failed[kind as usize],
                            example.unwrap_or_default(),
                        )
                    })
                    .collect(),
                body_bytes: endpoint.body_bytes,
            })
            .collect()
    }
}

/// One statistics row's share of one epoch second, in the terms Locust's statistics need.
#[derive(Debug, Clone)]
pub struct RowSecond {
    /// Index of the row ([`crate::LoadPlan::endpoints`]).
    pub row: usize,
    pub epoch_second: u64,
    /// The first and the last completion (or failure), seconds since the epoch.
    pub first_done: f64,
    pub last_done: f64,
    /// Responses, whatever their status: `(milliseconds, count)`, one pair per distinct value
    /// at the histograms' precision (three digits).
    pub latencies_ms: Vec<(f64, u64)>,
    /// Requests that got no response, timed to their failure.
    pub failed_latencies_ms: Vec<(f64, u64)>,
    /// `(status, count)` of the responses.
    pub statuses: Vec<(u16, u64)>,
    /// `(kind, count, an example message)` of the requests that got no response.
    pub failures: Vec<(ErrorKind, u64, String)>,
    /// Response bodies, framing removed.
    pub body_bytes: u64,
}

fn millisecond_pairs(histogram: Option<&Histogram<u64>>) -> Vec<(f64, u64)> {
    let Some(histogram) = histogram else {
        return Vec::new();
    };
    histogram
        .iter_recorded()
        .map(|v| {
            let us = histogram.median_equivalent(v.value_iterated_to());
            (us as f64 / 1000.0, v.count_at_value())
        })
        .collect()
}

fn millis_since_epoch(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Drop for Run {
    /// A run dropped unfinished (an error, a panic in the caller) stops: its workers end at
    /// once and are joined, so no thread outlives the handle.
    fn drop(&mut self) {
        if self.handles.is_empty() {
            return;
        }
        self.setup.stop.request();
        self.relay_stop();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

/// Descriptors a run needs besides one per connection: the rings, timers and wake-up fds of
/// the workers, the process's own files, and headroom for reconnects whose old socket is
/// still closing.
const SPARE_FILES: u64 = 64;

/// Raises this process's soft open-file limit to its hard limit, as Locust does, so that `-c`
/// is bounded by what the system allows rather than by a shell's default of 1024. Returns a
/// warning when the connections still do not fit.
fn raise_open_file_limit(connections: usize) -> Option<String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a valid struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            ..limit
        };
        // SAFETY: as above; raising the soft limit up to the hard one needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    let needed = connections as u64 + SPARE_FILES;
    (limit.rlim_cur < needed).then(|| {
        format!(
            "warning: {connections} connections need about {needed} open files, but this process \
             may open {} (the hard limit); connections beyond it fail with 'Too many open \
             files'. Raise the limit (ulimit -n, or LimitNOFILE= for a service) or use fewer \
             connections",
            limit.rlim_cur
        )
    })
}

/// The duration rates are computed over. An open-model run for a duration lasts exactly that
/// (its workers wait out the schedule), so that is its duration, as wrk2 and k6 report it; a
/// run with a request budget (`-n`), a closed run, or one the user stopped, reports what it
/// measured.
fn reported_duration(plan: &LoadPlan, measured: Duration, stopped_early: bool) -> Duration {
    match (&plan.rate, plan.duration, plan.config.requests) {
        (Some(_), Some(asked), None) if !stopped_early => asked,
        _ => measured,
    }
}

/// Splits connections, the request budget and the rate across workers, proportionally to each
/// worker's connections, and pins worker `i` to the `i`-th allowed core.
fn split_jobs(
    plan: &LoadPlan,
    cores: &[core_affinity::CoreId],
    start: Instant,
    demand: Option<ConnectionDemand>,
) -> Result<Vec<WorkerJob>, RunError> {
    let threads = plan.threads;
    let connections = share(plan.connections as u64, threads);
    let requests = plan.config.requests.map(|n| share(n, threads));
    // Each run draws a different scenario mix; workers draw independent sequences.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (0..threads)
        .map(|i| -> Result<WorkerJob, RunError> {
            let conns = connections[i] as usize;
            let fraction = conns as f64 / plan.connections as f64;
            let due_times = plan.rate.as_ref().map(|rate| match rate {
                RateShape::Constant(total) => {
                    // Stagger the workers' schedules so their requests interleave evenly.
                    let phase = Duration::from_secs_f64(i as f64 / total);
                    DueTimes::Constant(Grid::new(total * fraction, start + phase))
                }
                RateShape::Ramp(ramp) => DueTimes::Ramp {
                    ramp: ramp.clone(),
                    start,
                    fraction,
                    phase: i as f64 * fraction,
                },
            });
            let users = matches!(demand, Some(ConnectionDemand::Users(_)));
            Ok(WorkerJob {
                core: (!cores.is_empty()).then(|| cores[i % cores.len()]),
                // Native users' connections start as users arrive.
                connections: if users { 0 } else { conns },
                requests: requests.as_ref().map(|r| r[i]),
                due_times,
                // Connection `j` of worker `i` is the run's connection `i + j * threads`, so a
                // ramp (or a changed demand) brings the workers' connections up in turn.
                demand: demand.as_ref().map(|demand| WorkerConnections {
                    demand: demand.clone(),
                    first: i,
                    stride: threads,
                }),
                seed: seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                stop_line: WorkerStop::new()
                    .map_err(|e| RunError::Worker(format!("cannot set up a worker's stop: {e}")))?,
            })
        })
        .collect()
}

/// `total` split into `parts` shares that differ by at most one.
fn share(total: u64, parts: usize) -> Vec<u64> {
    let parts_u64 = parts as u64;
    (0..parts_u64)
        .map(|i| total / parts_u64 + u64::from(i < total % parts_u64))
        .collect()
}
