//! The engine thread behind `FastHttpUser`: completions, their waiters, and the raw results.

use std::collections::HashMap;
use std::sync::Mutex;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use ringload_engine::client::body_stream::{BodyStream, Taken};
use ringload_engine::client::{
    Client, ClientFailure, ClientRequest, ClientResponse, Completion, Outcome, ResponseHeaders,
};
use ringload_engine::ErrorKind as EngineErrorKind;

use crate::convert::{engine_stopped, io_mode};

/// The engine thread of this process: `Session.send` queues requests and parks their waiters,
/// `flush()` wakes the engine for the batch, and `drain()` hands each finished request back to
/// its waiter once `fileno()` is readable.
#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct Engine {
    client: Client,
    parked: Mutex<Parked>,
}

/// Requests in flight and who waits for each (a greenlet, for the dispatcher).
#[derive(Default)]
struct Parked {
    last_token: u64,
    waiters: HashMap<u64, Py<PyAny>>,
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (io = "auto"))]
    fn new(io: &str) -> PyResult<Self> {
        let client = Client::start(io_mode(io)?)
            .map_err(|e| PyOSError::new_err(format!("cannot start the ringload engine: {e}")))?;
        Ok(Engine {
            client,
            parked: Mutex::new(Parked::default()),
        })
    }

    /// `"uring"` or `"epoll"`.
    #[getter]
    fn io(&self) -> &'static str {
        self.client.io()
    }

    /// A descriptor that is readable while completions wait.
    fn fileno(&self) -> i32 {
        self.client.completion_fd()
    }

    /// Wakes the engine for every request queued so far (call once per batch).
    fn flush(&self) -> PyResult<()> {
        self.client.flush().map_err(engine_stopped)
    }

    /// Every request finished now, as `(waiter, RawResponse | RawError)` pairs; results whose
    /// waiter was forgotten are dropped. Never blocks.
    /// A streamed body's waiter gets None: there is more to take.
    fn drain<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        let (py, engine) = (slf.py(), slf.get());
        let mut completions: Vec<Completion> = Vec::new();
        engine.client.drain(&mut completions);
        let items = PyList::empty(py);
        for Completion { token, outcome } in completions {
            let Some(waiter) = engine.parked().waiters.remove(&token) else {
                continue;
            };
            let value: Bound<'py, PyAny> = match outcome {
                Outcome::Response(response) => {
                    Bound::new(py, RawResponse::from_engine(slf, response)?)?.into_any()
                }
                Outcome::Failure(failure) => {
                    Bound::new(py, RawError::from_engine(failure))?.into_any()
                }
                Outcome::BodyReadable => py.None().into_bound(py),
            };
            items.append(PyTuple::new(py, [waiter.into_bound(py), value])?)?;
        }
        Ok(items)
    }

    /// Drops the waiter of a request whose result can no longer be delivered (its greenlet
    /// gave up waiting or was killed); the result is discarded when it arrives. A request not
    /// yet handed to the engine thread is not sent at all.
    fn forget(&self, token: u64) {
        self.parked().waiters.remove(&token);
        // The engine may be closed already; then nothing is sent anyway.
        let _ = self.client.cancel(token);
    }

    /// No request is waiting for a result.
    #[getter]
    fn idle(&self) -> bool {
        self.parked().waiters.is_empty()
    }
}

impl Engine {
    fn parked(&self) -> std::sync::MutexGuard<'_, Parked> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A token no request in flight has.
    pub(crate) fn next_token(&self) -> u64 {
        let mut parked = self.parked();
        parked.last_token += 1;
        parked.last_token
    }

    fn park(&self, token: u64, waiter: Py<PyAny>) {
        self.parked().waiters.insert(token, waiter);
    }

    /// Queues `request` and parks `waiter` until its completion is drained.
    pub(crate) fn submit_parked(&self, request: ClientRequest, waiter: Py<PyAny>) -> PyResult<()> {
        let token = request.token;
        self.client.submit(request).map_err(engine_stopped)?;
        self.parked().waiters.insert(token, waiter);
        Ok(())
    }

    /// Closes a session's pooled connections.
    pub(crate) fn close_session(&self, session: u64) -> PyResult<()> {
        self.client
            .close_session(session)
            .map_err(|e| PyOSError::new_err(e.to_string()))
    }
}

/// A complete response as the engine received it.
#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct RawResponse {
    #[pyo3(get)]
    status: u16,
    /// The reason phrase as the server sent it.
    #[pyo3(get)]
    reason: String,
    /// Decoded body; None when it is streamed (see `stream`).
    #[pyo3(get)]
    body: Option<Py<PyBytes>>,
    /// Seconds from the start of the request to the complete head / to the end of the body.
    #[pyo3(get)]
    head_time: f64,
    #[pyo3(get)]
    total_time: f64,
    #[pyo3(get)]
    wire_length: usize,
    #[pyo3(get)]
    reused_connection: bool,
    /// The response has a Set-Cookie field (checked once here, read on every response).
    #[pyo3(get)]
    sets_cookie: bool,
    fields: ResponseHeaders,
    /// `stream=True`: the body, still arriving (`body` is empty).
    #[pyo3(get)]
    stream: Option<Py<ResponseStream>>,
}

impl RawResponse {
    fn from_engine(engine: &Bound<'_, Engine>, response: ClientResponse) -> PyResult<Self> {
        let py = engine.py();
        let sets_cookie = response.headers.values("set-cookie").next().is_some();
        let streamed = response.stream.is_some();
        let stream = response
            .stream
            .map(|body| {
                Py::new(
                    py,
                    ResponseStream {
                        engine: engine.clone().unbind(),
                        body,
                    },
                )
            })
            .transpose()?;
        Ok(RawResponse {
            stream,
            status: response.status,
            reason: response.reason,
            body: (!streamed).then(|| PyBytes::new(py, &response.body).unbind()),
            head_time: response.head_us as f64 / 1e6,
            total_time: response.total_us as f64 / 1e6,
            wire_length: response.wire_body_len,
            reused_connection: response.reused_connection,
            sets_cookie,
            fields: response.headers,
        })
    }
}

/// A streamed body as it arrives: `take` what is there, or `wait` to be switched into once
/// there is more (the dispatcher parks the greenlet as it does for a response).
#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct ResponseStream {
    engine: Py<Engine>,
    body: std::sync::Arc<BodyStream>,
}

#[pymethods]
impl ResponseStream {
    /// Up to `max` bytes of what has arrived (all of it when None); b"" once the body is
    /// complete and taken; None when nothing is there yet; a RawError when it broke off.
    #[pyo3(signature = (max=None, /))]
    fn take<'py>(&self, py: Python<'py>, max: Option<usize>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.body.take(max) {
            Taken::Bytes(bytes) => PyBytes::new(py, &bytes).into_any(),
            Taken::End => PyBytes::new(py, b"").into_any(),
            Taken::Nothing => py.None().into_bound(py),
            Taken::Failed(failure) => Bound::new(py, RawError::from_engine(failure))?.into_any(),
        })
    }

    /// Parks `waiter` until more arrives (it is drained with None); returns the token, or
    /// None when there is something to take already (nothing is parked then).
    fn wait(&self, waiter: Py<PyAny>) -> Option<u64> {
        let engine = self.engine.get();
        let token = engine.next_token();
        engine.park(token, waiter);
        if self.body.wait(token) {
            Some(token)
        } else {
            engine.parked().waiters.remove(&token);
            None
        }
    }

    /// The waiter of `token` gave up.
    fn forget(&self, token: u64) {
        self.body.forget(token);
        self.engine.get().parked().waiters.remove(&token);
    }

    /// Bytes received so far, taken or not. The engine stops reading while
    /// `MAX_UNREAD_STREAM_BYTES` wait untaken, and reads on once half of them are taken.
    #[getter]
    fn received(&self) -> u64 {
        self.body.received()
    }

    /// The engine that delivers the body: only its thread's waiters are woken.
    #[getter]
    fn engine(&self, py: Python<'_>) -> Py<Engine> {
        self.engine.clone_ref(py)
    }

    /// Nobody will read the rest: the engine drops it and closes the connection (unless the
    /// body has already ended, and the connection went back to the pool).
    fn close(&self) {
        self.body.cancel();
    }
}

impl Drop for ResponseStream {
    fn drop(&mut self) {
        // A response dropped half read (a task that took a few lines and returned) must not
        // keep its connection reading for nobody.
        self.body.cancel();
    }
}

/// Header values as text: HTTP field values are Latin-1 at worst.
fn latin1(value: &[u8]) -> String {
    value.iter().map(|&b| b as char).collect()
}

#[pymethods]
impl RawResponse {
    /// Header fields in order, as `(name, value)` strings.
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .map(|(name, value)| (name.to_string(), latin1(value)))
            .collect()
    }

    /// The first value of a header (case-insensitive), or None.
    fn header(&self, name: &str) -> Option<String> {
        self.fields.values(name).next().map(latin1)
    }

    /// Every value of a header (case-insensitive), e.g. each Set-Cookie.
    fn header_values(&self, name: &str) -> Vec<String> {
        self.fields.values(name).map(latin1).collect()
    }

    fn __repr__(&self) -> String {
        format!("<RawResponse [{}]>", self.status)
    }
}

/// The engine's [`EngineErrorKind`] for Python (`ErrorKind.CONNECT`, ..., with `.label`),
/// generated from the engine's one list of kinds ([`ringload_engine::with_error_kinds`]).
macro_rules! define_py_error_kind {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, )*) => {
        /// Why no response arrived, as the engine counts it.
        #[pyclass(
            module = "ringload._ringload",
            frozen,
            eq,
            eq_int,
            hash,
            rename_all = "UPPERCASE"
        )]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub(crate) enum ErrorKind {
            $( $(#[$doc])* $variant, )*
        }

        impl From<EngineErrorKind> for ErrorKind {
            fn from(kind: EngineErrorKind) -> Self {
                match kind {
                    $( EngineErrorKind::$variant => ErrorKind::$variant, )*
                }
            }
        }

        impl From<ErrorKind> for EngineErrorKind {
            fn from(kind: ErrorKind) -> Self {
                match kind {
                    $( ErrorKind::$variant => EngineErrorKind::$variant, )*
                }
            }
        }
    };
}

ringload_engine::with_error_kinds!(define_py_error_kind);

#[pymethods]
impl ErrorKind {
    /// The kind's name as the CLI and reports write it (`connect`, `tls`, ...).
    #[getter]
    fn label(&self) -> &'static str {
        EngineErrorKind::from(*self).name()
    }
}

/// Why no response arrived: `kind`, the OS error number behind it (`errno`, or None) and a
/// readable message.
#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct RawError {
    #[pyo3(get)]
    kind: ErrorKind,
    #[pyo3(get)]
    errno: Option<i32>,
    #[pyo3(get)]
    message: String,
    elapsed_us: u64,
}

impl RawError {
    fn from_engine(failure: ClientFailure) -> Self {
        RawError {
            kind: failure.kind.into(),
            errno: failure.errno,
            message: failure.message,
            elapsed_us: failure.elapsed_us,
        }
    }
}

#[pymethods]
impl RawError {
    /// Seconds from the start of the request (connecting included) to the failure.
    #[getter]
    fn elapsed(&self) -> f64 {
        self.elapsed_us as f64 / 1e6
    }

    fn __repr__(&self) -> String {
        format!("<RawError {}: {}>", self.kind.label(), self.message)
    }
}
