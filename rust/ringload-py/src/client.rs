//! The engine thread behind `FastHttpUser`: request submission and completions.

use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use ringload_engine::client::{Client, ClientFailure, ClientRequest, ClientResponse, Completion};
use ringload_engine::{IoMode, Scheme};
use ringload_http1::RequestSpec;

pub(crate) fn io_mode(io: &str) -> PyResult<IoMode> {
    match io {
        "auto" => Ok(IoMode::Auto),
        "uring" => Ok(IoMode::Uring),
        "epoll" => Ok(IoMode::Epoll),
        other => Err(PyValueError::new_err(format!(
            "io must be 'auto', 'uring' or 'epoll', not {other:?}"
        ))),
    }
}

pub(crate) fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    if !(value.is_finite() && value > 0.0) {
        return Err(PyValueError::new_err(format!(
            "{name} must be a positive number of seconds, not {value}"
        )));
    }
    Duration::try_from_secs_f64(value)
        .map_err(|_| PyValueError::new_err(format!("{name} of {value} seconds is too large")))
}

/// The engine thread of this process: requests go in with `submit`, results come out of
/// `drain` once `fileno()` is readable.
#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct Engine {
    client: Client,
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (io = "auto"))]
    fn new(io: &str) -> PyResult<Self> {
        let client = Client::start(io_mode(io)?)
            .map_err(|e| PyOSError::new_err(format!("cannot start the ringload engine: {e}")))?;
        Ok(Engine { client })
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

    /// Where a session's requests go, converted once: `submit` takes it instead of re-reading the
    /// scheme, address, TLS and connect settings on every request.
    #[allow(clippy::too_many_arguments)] // mirrors the session's settings, once per origin
    #[pyo3(signature = (https, host, port, authority, connect_timeout, verify, decode))]
    fn route(
        &self,
        https: bool,
        host: String,
        port: u16,
        authority: String,
        connect_timeout: f64,
        verify: bool,
        decode: bool,
    ) -> PyResult<Route> {
        Ok(Route {
            scheme: if https { Scheme::Https } else { Scheme::Http },
            host,
            port,
            authority,
            connect_timeout: seconds("connection_timeout", connect_timeout)?,
            verify_tls: verify,
            decode,
        })
    }

    /// Validates, encodes and queues one request; `flush()` sends the batch. Raises ValueError for a request that cannot
    /// be sent (CR/LF/NUL in the method, target or headers, an invalid header name).
    #[allow(clippy::too_many_arguments)] // positional: the cheapest call pyo3 offers, once per request
    #[pyo3(signature = (token, session, route, method, target, headers, body, timeout, /))]
    fn submit(
        &self,
        token: u64,
        session: u64,
        route: &Bound<'_, Route>,
        method: String,
        target: String,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        timeout: f64,
    ) -> PyResult<()> {
        let route = route.get();
        let spec = RequestSpec {
            method,
            target,
            host: route.authority.clone(),
            headers,
            body: body.unwrap_or_default(),
        };
        let bytes = spec
            .encode()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let request = ClientRequest {
            token,
            session,
            scheme: route.scheme,
            host: route.host.clone(),
            port: route.port,
            bytes,
            is_head: spec.is_head(),
            idempotent: spec.is_idempotent(),
            connect_timeout: route.connect_timeout,
            timeout: seconds("network_timeout", timeout)?,
            verify_tls: route.verify_tls,
            decode: route.decode,
        };
        self.client
            .submit(request)
            .map_err(|e| PyOSError::new_err(format!("the ringload engine is not running: {e}")))
    }

    /// Wakes the engine for every request submitted so far (call once per batch).
    fn flush(&self) -> PyResult<()> {
        self.client
            .flush()
            .map_err(|e| PyOSError::new_err(format!("the ringload engine is not running: {e}")))
    }

    /// Every completion waiting now, as `(token, RawResponse | RawError)` pairs. Never blocks.
    fn drain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let mut completions: Vec<Completion> = Vec::new();
        self.client.drain(&mut completions);
        let items = PyList::empty(py);
        for Completion { token, result } in completions {
            let value: Bound<'py, PyAny> = match result {
                Ok(response) => Bound::new(py, RawResponse::from_engine(py, response))?.into_any(),
                Err(failure) => Bound::new(py, RawError::from_engine(failure))?.into_any(),
            };
            items.append(PyTuple::new(
                py,
                [token.into_pyobject(py)?.into_any(), value],
            )?)?;
        }
        Ok(items)
    }

    /// Closes a session's pooled connections.
    fn close_session(&self, session: u64) -> PyResult<()> {
        self.client
            .close_session(session)
            .map_err(|e| PyOSError::new_err(e.to_string()))
    }
}

/// An origin and its connection settings, made by `Engine.route`.
#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct Route {
    scheme: Scheme,
    host: String,
    port: u16,
    authority: String,
    connect_timeout: Duration,
    verify_tls: bool,
    decode: bool,
}

#[pymethods]
impl Route {
    fn __repr__(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("<Route {scheme}://{}>", self.authority)
    }
}

/// A complete response as the engine received it.
#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct RawResponse {
    #[pyo3(get)]
    status: u16,
    /// Decoded body.
    #[pyo3(get)]
    body: Py<PyBytes>,
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
    fields: Vec<(String, Vec<u8>)>,
}

impl RawResponse {
    fn from_engine(py: Python<'_>, response: ClientResponse) -> Self {
        RawResponse {
            status: response.status,
            body: PyBytes::new(py, &response.body).unbind(),
            head_time: response.head_us as f64 / 1e6,
            total_time: response.total_us as f64 / 1e6,
            wire_length: response.wire_body_len,
            reused_connection: response.reused_connection,
            sets_cookie: response
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("set-cookie")),
            fields: response.headers,
        }
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
            .map(|(name, value)| (name.clone(), latin1(value)))
            .collect()
    }

    /// The first value of a header (case-insensitive), or None.
    fn header(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| latin1(v))
    }

    /// Every value of a header (case-insensitive), e.g. each Set-Cookie.
    fn header_values(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| latin1(v))
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("<RawResponse [{}]>", self.status)
    }
}

/// Why no response arrived: `kind` is the engine's error kind (connect, tls, timeout, closed,
/// read, write, parse, framing), `os_error` the I/O error kind behind it.
#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct RawError {
    #[pyo3(get)]
    kind: &'static str,
    #[pyo3(get)]
    os_error: String,
    #[pyo3(get)]
    message: String,
}

impl RawError {
    fn from_engine(failure: ClientFailure) -> Self {
        RawError {
            kind: failure.kind.name(),
            os_error: format!("{:?}", failure.io_kind),
            message: failure.message,
        }
    }
}

#[pymethods]
impl RawError {
    fn __repr__(&self) -> String {
        format!("<RawError {}: {}>", self.kind, self.message)
    }
}
