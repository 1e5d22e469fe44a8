//! `NativeRun`: the engine's native-users run for `ringload.NativeUser`. Locust's user
//! greenlets add and remove users; a ringload greenlet drains what the engine measured a few
//! times a second and merges it into Locust's statistics (`ringload/_native/`).
//!
//! Every call that may wait or work for long releases the GIL; none blocks: adding a user
//! encodes its requests, a drain takes what the workers already sent.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use ringload_engine::{
    Http2Options, LoadConfig, RequestOrder, Run, SecondStats, StopSignal, TlsOptions, UserLoop,
    WaitTime,
};

use crate::convert::{config_error, io_mode, run_error, seconds};
use crate::load::{scenario_request, RequestTuple, RunResult};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeRun>()?;
    Ok(())
}

/// One statistics row's share of one epoch second, as `NativeRun.drain` returns it:
/// `(row, epoch_second, first_done, last_done, latencies, failed_latencies, statuses,
/// failures, body_bytes)`. Latencies are `(milliseconds, count)` pairs (the responses', whatever their
/// status; the failed requests' that got none); `statuses` is `(status, count)` pairs;
/// `failures` is `(kind, count, example message)`; `first_done` and `last_done` are epoch
/// times in seconds.
type RowSecond = (
    usize,
    u64,
    f64,
    f64,
    Vec<(f64, u64)>,
    Vec<(f64, u64)>,
    Vec<(u16, u64)>,
    Vec<(&'static str, u64, String)>,
    u64,
);

/// A native-users run: started with the class's requests, headers and wait; users are added
/// with their own headers and removed while it runs; `stop()` ends it.
#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct NativeRun {
    run: Mutex<Option<Run>>,
    stop: Arc<StopSignal>,
    /// `(method, name)` of each statistics row, in the order drains number them.
    #[pyo3(get)]
    rows: Vec<(String, String)>,
    #[pyo3(get)]
    threads: usize,
}

#[pymethods]
impl NativeRun {
    #[allow(clippy::too_many_arguments)] // mirrors NativeUser's class attributes one to one
    #[new]
    #[pyo3(signature = (url, *, headers, scenario, sequence, wait, threads, timeout, connect_timeout, insecure, io, http2=false, streams=1))]
    fn new(
        py: Python<'_>,
        url: &str,
        headers: Vec<(String, String)>,
        scenario: Vec<RequestTuple>,
        sequence: bool,
        wait: (String, f64, f64),
        threads: Option<usize>,
        timeout: f64,
        connect_timeout: f64,
        insecure: bool,
        io: &str,
        http2: bool,
        streams: usize,
    ) -> PyResult<NativeRun> {
        let mut config = LoadConfig::new(url).map_err(config_error)?;
        config.headers = headers;
        config.scenario = scenario.into_iter().map(scenario_request).collect();
        config.threads = threads;
        config.timeout = seconds("timeout", timeout)?;
        config.connect_timeout = seconds("connect_timeout", connect_timeout)?;
        config.io = io_mode(io)?;
        // FastHttpUser's `insecure`; its `ssl_context_factory` has no native counterpart.
        config.tls = TlsOptions {
            insecure,
            ..TlsOptions::default()
        };
        let users = UserLoop {
            order: if sequence {
                RequestOrder::Sequence
            } else {
                RequestOrder::ByWeight
            },
            wait: wait_time(wait)?,
        };
        config.http2 = http2_options(http2, streams, users.wait)?;
        let plan = config.plan_for_users().map_err(config_error)?;
        let rows = plan
            .endpoints()
            .iter()
            .map(|key| (key.method.clone(), key.name.clone()))
            .collect();
        let stop = Arc::new(StopSignal::default());
        let run = py
            .detach(|| Run::start_users(&plan, users, stop.clone()))
            .map_err(run_error)?;
        Ok(NativeRun {
            threads: plan.threads(),
            run: Mutex::new(Some(run)),
            stop,
            rows,
        })
    }

    /// Adds a user sending the class's requests with `headers` instead of the class's; returns
    /// its slot for `remove_user`.
    fn add_user(&self, py: Python<'_>, headers: Vec<(String, String)>) -> PyResult<usize> {
        py.detach(|| {
            let run = self.lock();
            run.as_ref()
                .ok_or_else(stopped)?
                .add_user(headers)
                .map_err(run_error)
        })
    }

    /// Removes the user in `slot`: it starts no new request; one in flight is counted.
    fn remove_user(&self, slot: usize) -> PyResult<bool> {
        match self.lock().as_ref() {
            Some(run) => run.remove_user(slot).map_err(run_error),
            // Stopped: every user is gone already.
            None => Ok(false),
        }
    }

    #[getter]
    fn user_count(&self) -> usize {
        self.lock().as_ref().map_or(0, Run::user_count)
    }

    /// What completed since the last drain, per statistics row and epoch second, the warnings
    /// found meanwhile, and the arrival rate's schedule (`schedule_of`). After `stop()`,
    /// nothing.
    fn drain(&self, py: Python<'_>) -> (Vec<RowSecond>, Vec<String>, Schedule) {
        py.detach(|| match self.lock().as_mut() {
            Some(run) => {
                let (seconds, warnings) = run.drain();
                (rows_of(&seconds), warnings, schedule_of(&seconds))
            }
            None => (Vec::new(), Vec::new(), (0, 0, 0, 0)),
        })
    }

    /// Ends the run: every connection closes at once and requests in flight are dropped (not
    /// counted). Returns what was not drained yet, the schedule, and the whole run as a
    /// `ringload.Result` (microsecond percentiles per name). A second call returns `None`.
    #[allow(clippy::type_complexity)] // one tuple, spelled out in the stub
    fn stop(&self, py: Python<'_>) -> PyResult<Option<(Vec<RowSecond>, Schedule, Py<RunResult>)>> {
        self.stop.request();
        let Some(run) = self.lock().take() else {
            return Ok(None);
        };
        let (seconds, report) = py.detach(|| run.stop_users()).map_err(run_error)?;
        Ok(Some((
            rows_of(&seconds),
            schedule_of(&seconds),
            RunResult::create(py, report)?,
        )))
    }
}

impl NativeRun {
    fn lock(&self) -> MutexGuard<'_, Option<Run>> {
        self.run.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn stopped() -> PyErr {
    PyRuntimeError::new_err("this native-users run was stopped")
}

/// A user's HTTP/2 connection: `streams` of its requests in flight at once, which only an
/// arrival rate can use (with a wait time, the next request waits for the response).
fn http2_options(http2: bool, streams: usize, wait: WaitTime) -> PyResult<Option<Http2Options>> {
    let problem = match (http2, streams) {
        (_, 0) => Some("streams must be at least 1"),
        (false, 2..) => Some("streams needs http2 = True: HTTP/1.1 sends one request at a time"),
        (true, 2..) if !matches!(wait, WaitTime::Arrivals(_)) => Some(
            "streams above 1 needs a `rate`: with a wait_time, a user sends its next request \
             after the response, so it never has two in flight",
        ),
        _ => None,
    };
    if let Some(problem) = problem {
        return Err(pyo3::exceptions::PyValueError::new_err(problem));
    }
    Ok(http2.then(|| Http2Options {
        streams,
        ..Http2Options::default()
    }))
}

/// `(kind, a, b)` as `ringload._native` recognised Locust's helper.
fn wait_time((kind, a, b): (String, f64, f64)) -> PyResult<WaitTime> {
    let duration = |s: f64| {
        Duration::try_from_secs_f64(s).map_err(|_| {
            pyo3::exceptions::PyValueError::new_err(format!(
                "wait_time must be a number of seconds, not {s}"
            ))
        })
    };
    let (a, b) = (duration(a)?, duration(b)?);
    if kind == "arrivals" && a.is_zero() {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "an arrival rate needs a positive interval",
        ));
    }
    Ok(match kind.as_str() {
        "constant" => WaitTime::Constant(a),
        "between" => WaitTime::Between(a.min(b), a.max(b)),
        "pacing" => WaitTime::Pacing(a),
        "arrivals" => WaitTime::Arrivals(a),
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown wait kind {other:?}"
            )))
        }
    })
}

/// An arrival rate's schedule over a drain: `(requests sent, of them sent a whole interval
/// or more late, requests due and never sent, the largest send lag in µs)`.
type Schedule = (u64, u64, u64, u64);

fn schedule_of(seconds: &[SecondStats]) -> Schedule {
    seconds
        .iter()
        .map(SecondStats::schedule)
        .fold((0, 0, 0, 0), |(a, b, c, d), (w, x, y, z)| {
            (a + w, b + x, c + y, d.max(z))
        })
}

fn rows_of(seconds: &[SecondStats]) -> Vec<RowSecond> {
    seconds
        .iter()
        .flat_map(SecondStats::rows)
        .map(|row| {
            (
                row.row,
                row.epoch_second,
                row.first_done,
                row.last_done,
                row.latencies_ms,
                row.failed_latencies_ms,
                row.statuses,
                row.failures
                    .into_iter()
                    .map(|(kind, n, example)| (kind.name(), n, example))
                    .collect(),
                row.body_bytes,
            )
        })
        .collect()
}
