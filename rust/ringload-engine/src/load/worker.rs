//! Worker threads: one per selected core, pinned, each with its own monoio runtime. Workers share
//! nothing on the hot path; they send whole interval snapshots to the coordinator.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use monoio::io::AsyncReadRent;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use crate::load::config::Http2Options;
use crate::load::connection::{run_connection, WorkerShared};
use crate::load::demand::ConnectionSlot;
use crate::load::demand::{ConnectionDemand, DemandChanged, WorkerConnections};
use crate::load::h2_connection::run_h2_connection;
use crate::load::pacer::Pacer;
use crate::load::plan::{DueTimes, Picker, Plan};
use crate::load::prepare::PreparedRequest;
use crate::load::stop::{wake_watcher, StopSignal, WorkerStop, USERS_LEFT};
use crate::load::users::{UserLoop, UserTable};
use crate::load::watchdog::Watchdog;
use crate::net::dial::{DialGate, Dialer, TcpDialer, TlsDialer};
use crate::net::h2_dial::H2Dialer;
use crate::rng::Rng;
use crate::runtime::run_on_runtime;
use crate::stats::{IntervalStats, SnapshotEnd, SNAPSHOT_INTERVAL};
use monoio::task::JoinHandle;

/// Read-only facts every worker needs.
pub(crate) struct RunSetup {
    pub addrs: Vec<SocketAddr>,
    pub tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    pub requests: Arc<[PreparedRequest]>,
    /// Native users: their loop.
    pub users: Option<UserLoop>,
    /// Statistics rows the requests record into.
    pub endpoints: usize,
    pub pipeline: usize,
    pub keep_alive: bool,
    /// HTTP/2 connections, when the run settled on HTTP/2.
    pub http2: Option<Http2Options>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// When the run started: snapshot ticks count from here.
    pub start: Instant,
    pub deadline: Instant,
    pub use_uring: bool,
    pub stop: Arc<StopSignal>,
}

/// This worker's share of the run.
pub(crate) struct WorkerJob {
    pub core: Option<core_affinity::CoreId>,
    pub connections: usize,
    pub requests: Option<u64>,
    /// When this worker's requests are due, for the open model.
    pub due_times: Option<DueTimes>,
    /// Closed model: how many connections are in use, and which of the run's are this
    /// worker's. `None` in the open model, where every connection is.
    pub demand: Option<WorkerConnections>,
    /// Seeds this worker's choice of scenario requests.
    pub seed: u64,
    /// Where the coordinator relays a stop to this worker.
    pub stop_line: WorkerStop,
}

pub(crate) enum WorkerMessage {
    Snapshot {
        worker: usize,
        end: SnapshotEnd,
        stats: Box<IntervalStats>,
    },
    /// The worker has sent its last snapshot.
    Finished,
    /// The worker could not start (runtime creation failed).
    Failed(String),
}

pub(crate) fn spawn(
    index: usize,
    setup: Arc<RunSetup>,
    job: WorkerJob,
    tx: Sender<WorkerMessage>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("ringload-worker-{index}"))
        .spawn(move || {
            if let Some(core) = job.core {
                core_affinity::set_for_current(core);
            }
            let run = WorkerRun {
                index,
                setup,
                job,
                tx: tx.clone(),
            };
            let message = match run_on_runtime(run.setup.use_uring, run.main(), || {}) {
                Ok(Ok(())) => WorkerMessage::Finished,
                Ok(Err(message)) => WorkerMessage::Failed(message),
                Err(e) => WorkerMessage::Failed(format!("cannot start the I/O runtime: {e}")),
            };
            let _ = tx.send(message);
        })
}

struct WorkerRun {
    index: usize,
    setup: Arc<RunSetup>,
    job: WorkerJob,
    tx: Sender<WorkerMessage>,
}

impl WorkerRun {
    async fn main(self) -> Result<(), String> {
        let tcp = TcpDialer {
            addrs: self.setup.addrs.clone().into(),
            connect_timeout: self.setup.connect_timeout,
        };
        if let Some(options) = self.setup.http2 {
            let dialer = H2Dialer::new(tcp, self.setup.tls.clone(), options);
            return self.drive(dialer).await;
        }
        match &self.setup.tls {
            None => self.drive(tcp).await,
            Some((config, name)) => {
                self.drive(TlsDialer::new(tcp, config.clone(), name.clone()))
                    .await
            }
        }
    }

    async fn drive<D: ConnectionDialer + 'static>(&self, dialer: D) -> Result<(), String> {
        let fresh_stats = {
            let (endpoints, open_model) = (self.setup.endpoints, self.job.due_times.is_some());
            move || IntervalStats::new(endpoints, open_model)
        };
        let (rate, pacer) = match &self.job.due_times {
            None => (None, None),
            Some(due_times) => {
                let (pacer, task) = Pacer::start(self.setup.use_uring, due_times.grid())
                    .map_err(|e| format!("cannot create the open model's timer: {e}"))?;
                (
                    Some((due_times.clone(), pacer.clone())),
                    Some((pacer, task)),
                )
            }
        };
        let watchdog = Rc::new(Watchdog::new(self.setup.timeout, self.setup.deadline));
        let shared = Rc::new(WorkerShared {
            stats: RefCell::new(fresh_stats()),
            plan: Plan::new(self.job.requests, rate),
            picker: Picker::new(self.setup.requests.iter().map(|r| r.weight), self.job.seed),
            requests: self.setup.requests.clone(),
            users: self.setup.users,
            start: self.setup.start,
            pipeline: self.setup.pipeline,
            keep_alive: self.setup.keep_alive,
            timeout: self.setup.timeout,
            deadline: self.setup.deadline,
            stop: self.setup.stop.clone(),
            watchdog: watchdog.clone(),
            dial_gate: DialGate::default(),
            // Independent of the scenario picker's sequence.
            rng: Rng::new(self.job.seed.rotate_left(32) ^ 0xA076_1D64_78BD_642F),
            demand_changed: DemandChanged::default(),
            users_left: DemandChanged::default(),
        });
        let stop_line = &self.job.stop_line;
        let mut watched = stop_line
            .watched
            .try_clone()
            .and_then(monoio::net::UnixStream::from_std)
            .map_err(|e| format!("cannot watch for a stop: {e}"))?;
        let dialer = Rc::new(dialer);
        let connections: Vec<_> = (0..self.job.connections)
            .map(|j| {
                let slot = self.job.demand.as_ref().map(|d| d.slot(j));
                D::spawn_connection(&shared, &dialer, slot)
            })
            .collect();
        let users = match &self.job.demand {
            Some(
                demand @ WorkerConnections {
                    demand: ConnectionDemand::Users(table),
                    ..
                },
            ) => Some(monoio::spawn(serve_users(
                shared.clone(),
                dialer.clone(),
                demand.clone(),
                table.clone(),
            ))),
            _ => None,
        };
        let reporter = {
            let (shared, tx, worker, start) = (
                shared.clone(),
                self.tx.clone(),
                self.index,
                self.setup.start,
            );
            monoio::spawn(async move {
                let mut tick = 1;
                loop {
                    let at = start + SNAPSHOT_INTERVAL * tick;
                    monoio::time::sleep_until(monoio::time::Instant::from_std(at)).await;
                    // A late wake-up (a busy core) labels the snapshot with the tick it reached,
                    // so what it holds lands in the second it was recorded in.
                    let reached =
                        (start.elapsed().as_nanos() / SNAPSHOT_INTERVAL.as_nanos()) as u32;
                    tick = tick.max(reached);
                    let end = SnapshotEnd::Tick(u64::from(tick));
                    send_snapshot(&shared, &tx, worker, end, fresh_stats());
                    tick += 1;
                }
            })
        };
        // Set before the worker wakes its own watcher at its end.
        let ending = Rc::new(Cell::new(false));
        let stop_watcher = {
            let (watchdog, pacer) = (watchdog.clone(), pacer.as_ref().map(|(p, _)| p.clone()));
            let (stop, shared, ending) = (self.setup.stop.clone(), shared.clone(), ending.clone());
            monoio::spawn(async move {
                let mut buf = vec![0u8; 64];
                loop {
                    let (read, back) = watched.read(buf).await;
                    buf = back;
                    if stop.is_requested() {
                        // Every guarded wait (exchanges, connects, pauses) ends now, and
                        // connections waiting for due times do too: the run ends as it does
                        // at its deadline.
                        watchdog.expire_all();
                        if let Some(pacer) = pacer {
                            pacer.release_all();
                        }
                        return;
                    }
                    let n = match read {
                        Ok(n) if n > 0 && !ending.get() => n,
                        _ => return,
                    };
                    // The coordinator relayed a new demand.
                    shared.demand_changed.raise();
                    if buf[..n].contains(&USERS_LEFT) {
                        shared.users_left.raise();
                    }
                }
            })
        };
        let sweeper = monoio::spawn(watchdog.clone().sweep());
        for connection in connections {
            connection.await;
        }
        if let Some(users) = users {
            users.await;
        }
        let scheduled = self.job.due_times.is_some()
            || matches!(
                self.job.demand,
                Some(WorkerConnections {
                    demand: ConnectionDemand::Ramp { .. },
                    ..
                })
            );
        if scheduled && self.job.requests.is_none() {
            // An open-model or ramped run for a duration lasts that duration, even when the
            // last request was due (or the last connection ramped down) earlier; a user's stop
            // ends it at once. (With a request budget it ends with the last request.)
            let alarm = watchdog.alarm();
            let until = monoio::time::Instant::from_std(self.setup.deadline);
            let _ = alarm
                .guard(self.setup.deadline, monoio::time::sleep_until(until))
                .await;
            let end = Instant::now().min(self.setup.deadline);
            shared.stats.borrow_mut().unsent += shared.plan.unsent_by(end);
        }
        if let Some((pacer, task)) = pacer {
            pacer.stop();
            task.await;
        }
        // Woken by this worker itself when no stop came, so its wait ends before the runtime.
        ending.set(true);
        wake_watcher(&stop_line.notify);
        stop_watcher.await;
        drop((reporter, sweeper));
        let end = SnapshotEnd::Final(self.setup.start.elapsed());
        send_snapshot(&shared, &self.tx, self.index, end, fresh_stats());
        Ok(())
    }
}

/// Native users: starts a connection task for each of this worker's slots as the table grows
/// into them, until the run ends; then waits for them.
async fn serve_users<D: ConnectionDialer + 'static>(
    shared: Rc<WorkerShared>,
    dialer: Rc<D>,
    demand: WorkerConnections,
    table: Arc<UserTable>,
) {
    let alarm = shared.watchdog.alarm();
    let mut tasks = Vec::new();
    loop {
        let seen = shared.demand_changed.generation();
        let slots = table.len();
        while demand.first + tasks.len() * demand.stride < slots {
            let slot = demand.slot(tasks.len());
            tasks.push(D::spawn_connection(&shared, &dialer, Some(slot)));
        }
        if shared.stop.is_requested() || Instant::now() >= shared.deadline {
            break;
        }
        // A stop expires the alarm.
        let changed = shared.demand_changed.wait_past(seen);
        if alarm.guard(shared.deadline, changed).await.is_err() {
            break;
        }
    }
    for task in tasks {
        task.await;
    }
}

/// A dialer, with the connection task that uses what it opens.
pub(crate) trait ConnectionDialer: Dialer + Sized {
    fn spawn_connection(
        shared: &Rc<WorkerShared>,
        dialer: &Rc<Self>,
        slot: Option<ConnectionSlot>,
    ) -> JoinHandle<()>;
}

macro_rules! http1_connections {
    ($($dialer:ty),*) => {$(
        impl ConnectionDialer for $dialer {
            fn spawn_connection(
                shared: &Rc<WorkerShared>,
                dialer: &Rc<Self>,
                slot: Option<ConnectionSlot>,
            ) -> JoinHandle<()> {
                monoio::spawn(run_connection(shared.clone(), dialer.clone(), slot))
            }
        }
    )*};
}

http1_connections!(TcpDialer, TlsDialer);

impl ConnectionDialer for H2Dialer {
    fn spawn_connection(
        shared: &Rc<WorkerShared>,
        dialer: &Rc<Self>,
        slot: Option<ConnectionSlot>,
    ) -> JoinHandle<()> {
        let options = dialer.options;
        monoio::spawn(run_h2_connection(
            shared.clone(),
            dialer.clone(),
            slot,
            options,
        ))
    }
}

fn send_snapshot(
    shared: &WorkerShared,
    tx: &Sender<WorkerMessage>,
    worker: usize,
    end: SnapshotEnd,
    fresh: IntervalStats,
) {
    let mut snapshot = std::mem::replace(&mut *shared.stats.borrow_mut(), fresh);
    snapshot.pacing.add(shared.plan.take_pacing());
    let _ = tx.send(WorkerMessage::Snapshot {
        worker,
        end,
        stats: Box::new(snapshot),
    });
}
