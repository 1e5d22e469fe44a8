//! The load runner. This file is the coordinator: it validates the run, starts the workers,
//! merges their snapshots, reports progress, and builds the final report.

pub mod config;
pub(crate) mod connection;
pub(crate) mod limits;
pub(crate) mod pacer;
pub(crate) mod plan;
pub mod prepare;
pub(crate) mod rng;
pub mod stages;
pub mod stop;
pub(crate) mod template;
pub(crate) mod watchdog;
pub mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

pub use crate::error::RunError;
use crate::load::pacer::Grid;
use crate::load::plan::DueTimes;
use crate::load::prepare::{LoadPlan, RateShape};
use crate::load::stages::ConnectionRamp;
use crate::load::stop::{wake_watcher, StopSignal, WorkerStop, STOP_POLL};
use crate::load::worker::{RunSetup, WorkerJob, WorkerMessage};
use crate::origin::Scheme;
use crate::report::timeline::TimelineBuilder;
use crate::report::{Ramps, Report, RunFacts};
use crate::runtime::choose_io;
use crate::stats::IntervalStats;

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

/// How often `on_progress` is called.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// A run with neither duration nor deadline still ends: a safety net far beyond any timeout.
const UNBOUNDED_RUN: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Runs `plan` ([`crate::LoadConfig::plan`]). Blocks until every request is accounted for.
/// `on_warning` receives each warning line as it is found; `on_progress` is called once per
/// [`PROGRESS_INTERVAL`].
pub fn run(
    plan: &LoadPlan,
    on_warning: impl FnMut(&str),
    on_progress: impl FnMut(&Progress),
) -> Result<Report, RunError> {
    run_until(plan, Arc::default(), on_warning, on_progress)
}

/// [`run`], ending early once `stop` is requested (Ctrl-C): at once, as at the deadline, with
/// the requests in flight counted aborted; the report covers what was measured and says it was
/// interrupted.
pub fn run_until(
    plan: &LoadPlan,
    stop: Arc<StopSignal>,
    mut on_warning: impl FnMut(&str),
    mut on_progress: impl FnMut(&Progress),
) -> Result<Report, RunError> {
    let config = &plan.config;
    let addrs = config.target.resolve()?;
    let tls = plan.tls.clone();
    let (use_uring, io_warning) = choose_io(config.io)?;
    let start_warnings: Vec<String> = io_warning
        .into_iter()
        .chain(raise_open_file_limit(plan.connections))
        .collect();
    for line in &start_warnings {
        on_warning(line);
    }

    let threads = plan.threads;
    let cores = crate::runtime::available_cores();
    let start = Instant::now();
    // The wall clock at the start, for the CSV history's timestamps (Locust's are unix times).
    let started_at = std::time::SystemTime::now();
    let deadline = start + plan.duration.unwrap_or(UNBOUNDED_RUN);
    let setup = Arc::new(RunSetup {
        addrs,
        tls,
        requests: plan.requests.clone(),
        endpoints: plan.endpoints.len(),
        pipeline: config.pipeline,
        keep_alive: config.keep_alive,
        timeout: config.timeout,
        connect_timeout: config.connect_timeout,
        start,
        deadline,
        use_uring,
        stop,
    });

    let (tx, rx) = crossbeam_channel::unbounded();
    let mut handles = Vec::with_capacity(threads);
    // The coordinator's ends of the workers' stop lines.
    let mut stop_lines = Vec::with_capacity(threads);
    for (index, job) in split_jobs(plan, &cores, start)?.into_iter().enumerate() {
        stop_lines.push(
            job.stop_line
                .notify
                .try_clone()
                .map_err(|e| RunError::Worker(format!("cannot set up a worker's stop: {e}")))?,
        );
        let handle = worker::spawn(index, setup.clone(), job, tx.clone())
            .map_err(|e| RunError::Worker(format!("cannot start a worker thread: {e}")))?;
        handles.push(handle);
    }
    drop(tx);

    let open_model = plan.rate.is_some();
    let mut total = IntervalStats::new(plan.endpoints.len(), open_model);
    let mut timeline = TimelineBuilder::new(handles.len(), open_model);
    let mut running = handles.len();
    let mut worker_error = None;
    let mut next_tick = start + PROGRESS_INTERVAL;
    let mut ok_at_last_tick = 0;
    let mut finished_at = start;
    let mut stop_relayed = false;
    while running > 0 {
        if !stop_relayed && setup.stop.is_requested() {
            stop_relayed = true;
            stop_lines.iter().for_each(wake_watcher);
        }
        let wait = next_tick
            .saturating_duration_since(Instant::now())
            .min(STOP_POLL);
        match rx.recv_timeout(wait) {
            Ok(WorkerMessage::Snapshot { worker, end, stats }) => {
                timeline.add(worker, end, &stats);
                total.merge(&stats);
            }
            Ok(WorkerMessage::Finished) => {
                running -= 1;
                finished_at = Instant::now();
            }
            Ok(WorkerMessage::Failed(message)) => {
                running -= 1;
                worker_error.get_or_insert(message);
            }
            // A look at the stop (above), not yet the progress tick.
            Err(RecvTimeoutError::Timeout) if Instant::now() < next_tick => {}
            Err(RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                let overall = total.total();
                on_progress(&Progress {
                    elapsed: now - start,
                    requests: overall.requests(),
                    ok: overall.ok,
                    failed: overall.failed_total(),
                    current_rps: (overall.ok - ok_at_last_tick) as f64
                        / PROGRESS_INTERVAL.as_secs_f64(),
                    p99_us: (!overall.latency.is_empty())
                        .then(|| overall.latency.value_at_quantile(0.99)),
                });
                ok_at_last_tick = overall.ok;
                next_tick += PROGRESS_INTERVAL;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    for handle in handles {
        if handle.join().is_err() {
            worker_error.get_or_insert_with(|| "a worker thread panicked".to_string());
        }
    }
    if let Some(message) = worker_error {
        return Err(RunError::Worker(message));
    }
    // Anything still queued (a worker's last snapshot racing its Finished message).
    while let Ok(WorkerMessage::Snapshot { worker, end, stats }) = rx.try_recv() {
        timeline.add(worker, end, &stats);
        total.merge(&stats);
    }
    let stopped_early = setup.stop.is_requested();
    let elapsed = reported_duration(plan, finished_at - start, stopped_early);
    let due_by = |seconds: f64| plan.rate.as_ref().map_or(0.0, |rate| rate.due_by(seconds));
    let facts = RunFacts {
        url: config.display_url(),
        method: config.display_method(),
        endpoints: plan.endpoints.clone(),
        connections: plan.connections,
        threads,
        io: if use_uring { "uring" } else { "epoll" },
        // A ramp's target is its average over the run.
        target_rps: plan.rate.as_ref().map(|rate| match rate {
            RateShape::Constant(rate) => *rate,
            RateShape::Ramp(_) => due_by(elapsed.as_secs_f64()) / elapsed.as_secs_f64().max(1e-9),
        }),
        started_at,
        elapsed,
        interrupted: stopped_early,
        tls: config.target.origin.scheme == Scheme::Https,
        warnings: start_warnings.clone(),
        ramps: Ramps {
            rate_start: config.rate.unwrap_or(0.0),
            rate: config.rate_stages.clone(),
            connections: config.connection_stages.clone(),
        },
        // The timeline ends where the workers did; the last entry's rate is over what it
        // covers, so a run that overran its deadline by milliseconds does not inflate it.
        timeline: timeline.finish(
            (finished_at - start).max(elapsed),
            plan.rate
                .is_some()
                .then_some(&due_by as &dyn Fn(f64) -> f64),
        ),
    };
    let report = Report::build(facts, &total);
    for line in &report.warnings[start_warnings.len()..] {
        on_warning(line);
    }
    Ok(report)
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
            Ok(WorkerJob {
                core: (!cores.is_empty()).then(|| cores[i % cores.len()]),
                connections: conns,
                requests: requests.as_ref().map(|r| r[i]),
                due_times,
                // Connection `j` of worker `i` is the run's connection `i + j * threads`, so a
                // ramp brings the workers' connections up in turn.
                connection_ramp: plan.connection_ramp.as_ref().map(|ramp| ConnectionRamp {
                    ramp: ramp.clone(),
                    start,
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
