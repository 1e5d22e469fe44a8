//! `ringload.run()`: one whole load run on the engine's pinned workers, and its result.
//!
//! The Python side (`ringload/_load.py`) checks argument types and ranges and picks how to wait
//! (plain thread, gevent's thread pool, asyncio's executor); this module builds the engine
//! configuration, runs it with the GIL released, and converts the report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use ringload_engine::{
    EndpointReport, Http2Options, LatencySummary, LoadConfig, Outcomes as EngineOutcomes, Report,
    ScenarioRequest, ScheduleLag as EngineScheduleLag, StopSignal,
    TimelineEntry as EngineTimelineEntry, TlsOptions,
};

use crate::convert::{config_error, io_mode, json_to_py, os_error, run_error, seconds, stages_of};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run_load, m)?)?;
    m.add_function(wrap_pyfunction!(check_request, m)?)?;
    m.add_class::<StopHandle>()?;
    m.add_class::<Progress>()?;
    m.add_class::<Latency>()?;
    m.add_class::<ScheduleLag>()?;
    m.add_class::<TimelineEntry>()?;
    m.add_class::<Outcomes>()?;
    m.add_class::<Endpoint>()?;
    m.add_class::<RunResult>()?;
    Ok(())
}

/// `(name, method, path_or_url, headers, body, weight)`, as `ringload.Request` passes it.
pub(crate) type RequestTuple = (
    Option<String>,
    String,
    String,
    Vec<(String, String)>,
    Vec<u8>,
    u32,
);

pub(crate) fn scenario_request(
    (name, method, target, headers, body, weight): RequestTuple,
) -> ScenarioRequest {
    ScenarioRequest {
        name,
        method: Some(method),
        target,
        headers,
        body,
        weight,
    }
}

/// Validates one scenario request on its own (everything but its origin): raises ValueError.
#[pyfunction]
fn check_request(request: RequestTuple) -> PyResult<()> {
    scenario_request(request).validate().map_err(config_error)
}

/// Ends a run early from another thread or task: at once, as at its deadline, with the
/// requests in flight counted aborted; the run returns its result, marked interrupted.
#[pyclass(module = "ringload._ringload", frozen)]
#[derive(Default)]
pub(crate) struct StopHandle {
    signal: Arc<StopSignal>,
}

#[pymethods]
impl StopHandle {
    #[new]
    fn new() -> Self {
        StopHandle::default()
    }

    fn set(&self) {
        self.signal.request();
    }

    #[getter]
    fn is_set(&self) -> bool {
        self.signal.is_requested()
    }
}

/// The live view passed to `on_progress` once a second.
#[pyclass(module = "ringload._ringload", frozen, get_all)]
pub(crate) struct Progress {
    elapsed_s: f64,
    requests: u64,
    ok: u64,
    failed: u64,
    current_rps: f64,
    p99_us: Option<u64>,
}

#[pymethods]
impl Progress {
    fn __repr__(&self) -> String {
        format!(
            "Progress(elapsed_s={:.1}, requests={}, ok={}, failed={}, current_rps={:.1}, p99_us={})",
            self.elapsed_s,
            self.requests,
            self.ok,
            self.failed,
            self.current_rps,
            self.p99_us.map_or("None".to_string(), |v| v.to_string())
        )
    }
}

#[allow(clippy::too_many_arguments)] // mirrors ringload.run()'s keyword arguments one to one
#[pyfunction]
#[pyo3(signature = (url, *, method, headers, body, scenario, connections, threads, duration, requests, rate, stages, connection_stages, template, timeout, connect_timeout, insecure, cacert, cert, key, pipeline, disable_keepalive, http2, streams, io, stop, on_progress))]
fn run_load(
    py: Python<'_>,
    url: &str,
    method: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    scenario: Vec<RequestTuple>,
    connections: Option<usize>,
    threads: Option<usize>,
    duration: Option<f64>,
    requests: Option<u64>,
    rate: Option<f64>,
    stages: Vec<(f64, f64)>,
    connection_stages: Vec<(f64, f64)>,
    template: bool,
    timeout: f64,
    connect_timeout: f64,
    insecure: bool,
    cacert: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    pipeline: usize,
    disable_keepalive: bool,
    http2: bool,
    streams: Option<usize>,
    io: &str,
    stop: Option<Py<StopHandle>>,
    on_progress: Option<Py<PyAny>>,
) -> PyResult<Py<RunResult>> {
    let mut config = LoadConfig::new(url).map_err(config_error)?;
    config.method = method;
    config.headers = headers;
    config.body = body;
    config.scenario = scenario.into_iter().map(scenario_request).collect();
    config.connections = connections;
    config.threads = threads;
    config.duration = duration.map(|d| seconds("duration", d)).transpose()?;
    config.requests = requests;
    config.rate = rate;
    config.rate_stages = stages_of("stages", stages)?;
    config.connection_stages = stages_of("connection_stages", connection_stages)?;
    config.template = template;
    config.timeout = seconds("timeout", timeout)?;
    config.connect_timeout = seconds("connect_timeout", connect_timeout)?;
    config.pipeline = pipeline;
    config.keep_alive = !disable_keepalive;
    config.http2 = http2.then(|| Http2Options {
        streams: streams.unwrap_or(1),
        ..Http2Options::default()
    });
    config.io = io_mode(io)?;
    config.tls = TlsOptions {
        insecure,
        ca_file: cacert,
        client_cert: cert,
        client_key: key,
    };
    let plan = config.plan().map_err(config_error)?;
    let stop_signal = stop.map_or_else(Arc::default, |handle| handle.get().signal.clone());

    // Ctrl-C and errors raised by `on_progress` stop the run; the first is re-raised after it.
    let mut interrupted: Option<PyErr> = None;
    let result = py.detach(|| {
        ringload_engine::run_until(
            &plan,
            stop_signal.clone(),
            |warning| eprintln!("ringload: {warning}"),
            |progress| {
                if interrupted.is_some() {
                    return;
                }
                Python::attach(|py| {
                    let outcome = py.check_signals().and_then(|()| match &on_progress {
                        Some(callback) => callback
                            .call1(
                                py,
                                (Progress {
                                    elapsed_s: progress.elapsed.as_secs_f64(),
                                    requests: progress.requests,
                                    ok: progress.ok,
                                    failed: progress.failed,
                                    current_rps: progress.current_rps,
                                    p99_us: progress.p99_us,
                                },),
                            )
                            .map(drop),
                        None => Ok(()),
                    });
                    if let Err(e) = outcome {
                        stop_signal.request();
                        interrupted.get_or_insert(e);
                    }
                })
            },
        )
    });
    if let Some(error) = interrupted {
        return Err(error);
    }
    let report = result.map_err(run_error)?;
    RunResult::create(py, report)
}

/// Latency distribution in microseconds; every field is None when no request completed.
#[pyclass(module = "ringload._ringload", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct Latency {
    min: Option<u64>,
    mean: Option<f64>,
    stdev: Option<f64>,
    max: Option<u64>,
    p50: Option<u64>,
    p75: Option<u64>,
    p90: Option<u64>,
    p99: Option<u64>,
    p999: Option<u64>,
    p9999: Option<u64>,
}

impl From<&LatencySummary> for Latency {
    fn from(l: &LatencySummary) -> Self {
        Latency {
            min: l.min,
            mean: l.mean,
            stdev: l.stdev,
            max: l.max,
            p50: l.p50,
            p75: l.p75,
            p90: l.p90,
            p99: l.p99,
            p999: l.p999,
            p9999: l.p9999,
        }
    }
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "None".to_string(), |v| v.to_string())
}

#[pymethods]
impl Latency {
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("min", self.min)?;
        dict.set_item("mean", self.mean)?;
        dict.set_item("stdev", self.stdev)?;
        dict.set_item("max", self.max)?;
        dict.set_item("p50", self.p50)?;
        dict.set_item("p75", self.p75)?;
        dict.set_item("p90", self.p90)?;
        dict.set_item("p99", self.p99)?;
        dict.set_item("p999", self.p999)?;
        dict.set_item("p9999", self.p9999)?;
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        format!(
            "Latency(min={}, mean={}, max={}, p50={}, p90={}, p99={}, p999={})",
            optional(self.min),
            optional(self.mean),
            optional(self.max),
            optional(self.p50),
            optional(self.p90),
            optional(self.p99),
            optional(self.p999)
        )
    }
}

/// Open model: how late sends were against the constant-rate schedule.
#[pyclass(module = "ringload._ringload", frozen, get_all)]
pub(crate) struct ScheduleLag {
    target_rps: f64,
    mean_us: f64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
    unsent: u64,
    behind: bool,
    wakeups: u64,
    timer_expiries: u64,
    requests_per_wakeup: f64,
}

#[pymethods]
impl ScheduleLag {
    fn __repr__(&self) -> String {
        format!(
            "ScheduleLag(target_rps={}, mean_us={}, p50_us={}, p99_us={}, max_us={}, unsent={}, \
             behind={}, wakeups={}, timer_expiries={}, requests_per_wakeup={})",
            self.target_rps,
            self.mean_us,
            self.p50_us,
            self.p99_us,
            self.max_us,
            self.unsent,
            if self.behind { "True" } else { "False" },
            self.wakeups,
            self.timer_expiries,
            self.requests_per_wakeup,
        )
    }
}

impl From<&EngineScheduleLag> for ScheduleLag {
    fn from(lag: &EngineScheduleLag) -> Self {
        ScheduleLag {
            target_rps: lag.target_rps,
            mean_us: lag.mean_us,
            p50_us: lag.p50_us,
            p99_us: lag.p99_us,
            max_us: lag.max_us,
            unsent: lag.unsent,
            behind: lag.behind,
            wakeups: lag.wakeups,
            timer_expiries: lag.timer_expiries,
            requests_per_wakeup: lag.requests_per_wakeup,
        }
    }
}

/// One second of the run (the last entry covers the rest); the CLI's `timeline` entries.
#[pyclass(module = "ringload._ringload", frozen, get_all)]
pub(crate) struct TimelineEntry {
    t: f64,
    duration_s: f64,
    requests: u64,
    ok: u64,
    failed: BTreeMap<String, u64>,
    aborted: u64,
    status: BTreeMap<u16, u64>,
    rps: f64,
    target_rps: Option<f64>,
    latency_us: Latency,
    latency_uncorrected_us: Option<Latency>,
    connects: u64,
    connections_open: u64,
}

impl From<&EngineTimelineEntry> for TimelineEntry {
    fn from(e: &EngineTimelineEntry) -> Self {
        TimelineEntry {
            t: e.t,
            duration_s: e.duration_s,
            requests: e.requests,
            ok: e.ok,
            failed: e.failed.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            aborted: e.aborted,
            status: e.status.clone(),
            rps: e.rps,
            target_rps: e.target_rps,
            latency_us: Latency::from(&e.latency_us),
            latency_uncorrected_us: e.latency_uncorrected_us.as_ref().map(Latency::from),
            connects: e.connects,
            connections_open: e.connections_open,
        }
    }
}

#[pymethods]
impl TimelineEntry {
    #[getter]
    fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    fn __repr__(&self) -> String {
        format!(
            // Floats as Python writes them (`1.0`, not `1`).
            "TimelineEntry(t={:?}, duration_s={:?}, requests={}, ok={}, failed={}, rps={:?}, \
             p50={}, p99={}, connections_open={})",
            self.t,
            self.duration_s,
            self.requests,
            self.ok,
            self.failed_total(),
            self.rps,
            optional(self.latency_us.p50),
            optional(self.latency_us.p99),
            self.connections_open
        )
    }
}

/// What a set of requests amounted to: the base of `Result` (the whole run) and `Endpoint`
/// (one statistics row). Both share one report; nothing is copied per access.
#[pyclass(module = "ringload._ringload", frozen, subclass)]
pub(crate) struct Outcomes {
    report: Arc<Report>,
    /// `None` for the whole run, else the index of the statistics row.
    endpoint: Option<usize>,
}

impl Outcomes {
    fn of(&self) -> &EngineOutcomes {
        match self.endpoint {
            None => &self.report.outcomes,
            Some(i) => &self.report.endpoints[i].outcomes,
        }
    }
}

#[pymethods]
impl Outcomes {
    /// Every request accounted for: ok + failed_total + aborted.
    #[getter]
    fn requests(&self) -> u64 {
        self.of().requests
    }

    /// Complete responses, whatever their status.
    #[getter]
    fn ok(&self) -> u64 {
        self.of().ok
    }

    /// Failed requests by kind (connect, tls, timeout, closed, read, write, parse, framing).
    #[getter]
    fn failed<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (kind, count) in &self.of().failed {
            dict.set_item(kind, count)?;
        }
        Ok(dict)
    }

    #[getter]
    fn failed_total(&self) -> u64 {
        self.of().failed_total()
    }

    #[getter]
    fn aborted(&self) -> u64 {
        self.of().aborted
    }

    #[getter]
    fn aborted_connecting(&self) -> u64 {
        self.of().aborted_connecting
    }

    #[getter]
    fn retries(&self) -> u64 {
        self.of().retries
    }

    /// Response body bytes received (chunked framing removed, any content encoding kept).
    #[getter]
    fn body_bytes(&self) -> u64 {
        self.of().body_bytes
    }

    /// Responses by status code.
    #[getter]
    fn status(&self) -> BTreeMap<u16, u64> {
        self.of().status.clone()
    }

    #[getter]
    fn rps(&self) -> f64 {
        self.of().rps
    }

    #[getter]
    fn latency_us(&self) -> Latency {
        Latency::from(&self.of().latency_us)
    }

    #[getter]
    fn latency_uncorrected_us(&self) -> Option<Latency> {
        self.of().latency_uncorrected_us.as_ref().map(Latency::from)
    }

    /// Latency at percentile `q` (0 to 100) in microseconds, or None when nothing completed.
    fn percentile(&self, q: f64) -> PyResult<Option<u64>> {
        if !(0.0..=100.0).contains(&q) {
            return Err(PyValueError::new_err(format!(
                "q must be a percentile between 0 and 100, not {q}"
            )));
        }
        Ok(self.of().percentile(q))
    }
}

/// One statistics row: the requests of one method and name.
#[pyclass(module = "ringload._ringload", frozen, extends = Outcomes)]
pub(crate) struct Endpoint {
    report: Arc<Report>,
    index: usize,
}

impl Endpoint {
    fn row(&self) -> &EndpointReport {
        &self.report.endpoints[self.index]
    }
}

#[pymethods]
impl Endpoint {
    #[getter]
    fn name(&self) -> &str {
        &self.row().name
    }

    #[getter]
    fn method(&self) -> &str {
        &self.row().method
    }

    /// This row as in the `endpoints` list of the CLI's `--json` object.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &serde_json::to_value(self.row()).expect("plain data"))
    }

    fn __repr__(&self) -> String {
        let row = self.row();
        let o = &row.outcomes;
        format!(
            "<Endpoint {} {}: requests={} ok={} failed={} aborted={} p99_us={}>",
            row.method,
            row.name,
            o.requests,
            o.ok,
            o.failed_total(),
            o.aborted,
            optional(o.latency_us.p99)
        )
    }
}

/// The result of `ringload.run()`: the same data as the CLI's `--json` object.
#[pyclass(module = "ringload._ringload", name = "Result", frozen, extends = Outcomes)]
pub(crate) struct RunResult {
    report: Arc<Report>,
}

impl RunResult {
    pub(crate) fn create(py: Python<'_>, report: Report) -> PyResult<Py<RunResult>> {
        let report = Arc::new(report);
        let base = Outcomes {
            report: report.clone(),
            endpoint: None,
        };
        Py::new(
            py,
            PyClassInitializer::from(base).add_subclass(RunResult { report }),
        )
    }

    fn endpoint_object(&self, py: Python<'_>, index: usize) -> PyResult<Py<Endpoint>> {
        let base = Outcomes {
            report: self.report.clone(),
            endpoint: Some(index),
        };
        Py::new(
            py,
            PyClassInitializer::from(base).add_subclass(Endpoint {
                report: self.report.clone(),
                index,
            }),
        )
    }
}

#[pymethods]
impl RunResult {
    /// Target URL without credentials (with a scenario, its base URL).
    #[getter]
    fn url(&self) -> &str {
        &self.report.url
    }

    #[getter]
    fn method(&self) -> &str {
        &self.report.method
    }

    #[getter]
    fn connections(&self) -> usize {
        self.report.connections
    }

    #[getter]
    fn threads(&self) -> usize {
        self.report.threads
    }

    #[getter]
    fn io(&self) -> &'static str {
        self.report.io
    }

    #[getter]
    fn model(&self) -> &'static str {
        self.report.model
    }

    #[getter]
    fn protocol(&self) -> &'static str {
        self.report.protocol
    }

    #[getter]
    fn streams(&self) -> Option<usize> {
        self.report.streams
    }

    #[getter]
    fn connects(&self) -> u64 {
        self.report.connects
    }

    #[getter]
    fn interrupted(&self) -> bool {
        self.report.interrupted
    }

    #[getter]
    fn error_examples<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (kind, message) in &self.report.error_examples {
            dict.set_item(kind, message)?;
        }
        Ok(dict)
    }

    #[getter]
    fn duration_s(&self) -> f64 {
        self.report.duration_s
    }

    #[getter]
    fn bytes_read(&self) -> u64 {
        self.report.bytes_read
    }

    #[getter]
    fn bytes_written(&self) -> u64 {
        self.report.bytes_written
    }

    #[getter]
    fn schedule_lag(&self) -> Option<ScheduleLag> {
        self.report.schedule_lag.as_ref().map(ScheduleLag::from)
    }

    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.report.warnings.clone()
    }

    #[getter]
    fn connect_us(&self) -> Latency {
        Latency::from(&self.report.connect_us)
    }

    #[getter]
    fn tls_us(&self) -> Option<Latency> {
        self.report.tls_us.as_ref().map(Latency::from)
    }

    #[getter]
    fn ttfb_us(&self) -> Latency {
        Latency::from(&self.report.ttfb_us)
    }

    /// Per method and name, in the order the requests were given.
    #[getter]
    fn endpoints<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = PyList::empty(py);
        for index in 0..self.report.endpoints.len() {
            rows.append(self.endpoint_object(py, index)?)?;
        }
        Ok(rows)
    }

    /// The row named `name` (and `method`, when several methods share the name).
    #[pyo3(signature = (name, method = None))]
    fn endpoint(&self, py: Python<'_>, name: &str, method: Option<&str>) -> PyResult<Py<Endpoint>> {
        let mut matching = self.report.endpoints.iter().enumerate().filter(|(_, e)| {
            e.name == name && method.is_none_or(|m| e.method.eq_ignore_ascii_case(m))
        });
        match (matching.next(), matching.next()) {
            (Some((index, _)), None) => self.endpoint_object(py, index),
            (Some(_), Some(_)) => Err(PyKeyError::new_err(format!(
                "several methods use the name {name:?}: pass method="
            ))),
            (None, _) => Err(PyKeyError::new_err(format!("no endpoint named {name:?}"))),
        }
    }

    /// The run second by second.
    #[getter]
    fn timeline(&self) -> Vec<TimelineEntry> {
        self.report
            .timeline
            .iter()
            .map(TimelineEntry::from)
            .collect()
    }

    /// Writes the CLI's `--html` report (self-contained, with charts) to `path`.
    fn to_html(&self, path: PathBuf) -> PyResult<()> {
        self.report
            .write_html(&path)
            .map_err(|e| os_error(&e, &path))
    }

    /// Writes the CLI's `--csv` files, in Locust's format; returns their paths
    /// (`PREFIX_stats.csv`, `PREFIX_stats_history.csv`, `PREFIX_failures.csv`).
    fn to_csv(&self, prefix: PathBuf) -> PyResult<(PathBuf, PathBuf, PathBuf)> {
        let [stats, history, failures] = self
            .report
            .write_csv(&prefix)
            .map_err(|e| os_error(&e, &prefix))?;
        Ok((stats, history, failures))
    }

    /// Exactly the CLI's `--json` object: same keys, same units.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.report.to_json())
    }

    /// The CLI's `--json` text.
    fn to_json(&self) -> String {
        self.report.to_json().to_string()
    }

    /// One line: what was loaded, how it went and the median and tail latency. Short because
    /// pytest's assertion explanations (`where ... = <Result ...>.latency_us`) and debuggers
    /// print it inline; `str()` is the full summary.
    fn __repr__(&self) -> String {
        let r = &self.report;
        let o = &r.outcomes;
        format!(
            "<Result {} {}: requests={} ok={} failed={} aborted={} p50_us={} p99_us={}>",
            r.method,
            r.url,
            o.requests,
            o.ok,
            o.failed_total(),
            o.aborted,
            optional(o.latency_us.p50),
            optional(o.latency_us.p99)
        )
    }

    /// The CLI's summary.
    fn __str__(&self) -> String {
        self.report.to_string()
    }
}
