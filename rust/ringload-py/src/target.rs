//! The built-in target server (what `ringload serve` runs), for tests and demos: loopback only,
//! with exact server-side counts.

use std::sync::Mutex;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyType;
use ringload_target::{self_signed, Server, ServerConfig};

/// A test server owned by a Python object until `stop()` (or `with` ends).
pub(crate) struct Running<T> {
    server: Mutex<Option<T>>,
    what: &'static str,
}

impl<T: Send> Running<T> {
    pub fn new(server: T, what: &'static str) -> Self {
        Running {
            server: Mutex::new(Some(server)),
            what,
        }
    }

    /// Calls `f` on the server, or raises RuntimeError once it is stopped.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> PyResult<R> {
        let guard = self.server.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .map(f)
            .ok_or_else(|| PyRuntimeError::new_err(format!("the {} is stopped", self.what)))
    }

    /// Stops the server (dropping it joins its threads) without holding the GIL; then nothing.
    pub fn stop(&self, py: Python<'_>) {
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(server) = server {
            py.detach(|| drop(server));
        }
    }
}

#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct TargetServer {
    server: Running<Server>,
    url: String,
    /// The self-signed certificate (PEM) when serving HTTPS.
    certificate_pem: Option<String>,
}

#[pymethods]
impl TargetServer {
    /// Starts listening on 127.0.0.1 with a free port (`tls=True`: HTTPS with a fresh
    /// self-signed certificate for 127.0.0.1 and localhost). `idle_timeout` (seconds),
    /// `max_connections` and `idle_close` (`"close"`, `"reset"` or `"408"`) end idle kept-alive
    /// connections as production servers do. `http2=True` also speaks HTTP/2 (h2c with prior
    /// knowledge, `h2` by ALPN over TLS).
    #[new]
    #[pyo3(signature = (*, tls = false, idle_timeout = None, max_connections = None, idle_close = "close", http2 = false))]
    fn new(
        tls: bool,
        idle_timeout: Option<f64>,
        max_connections: Option<usize>,
        idle_close: &str,
        http2: bool,
    ) -> PyResult<Self> {
        let mut config = ServerConfig {
            http2,
            idle_timeout: idle_timeout
                .map(|s| crate::convert::seconds("idle_timeout", s))
                .transpose()?,
            max_connections,
            idle_close: idle_close
                .parse()
                .map_err(|e: String| PyValueError::new_err(format!("idle_close {e}")))?,
            ..ServerConfig::default()
        };
        let mut certificate_pem = None;
        if tls {
            let (identity, pem) = self_signed(&["127.0.0.1", "localhost"]);
            config.tls = Some(identity);
            certificate_pem = Some(pem);
        }
        let server = Server::start(config)
            .map_err(|e| PyOSError::new_err(format!("cannot start the target server: {e}")))?;
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{}", server.addr());
        Ok(TargetServer {
            server: Running::new(server, "target server"),
            url,
            certificate_pem,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash).
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    #[getter]
    fn certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }

    /// Complete requests read so far (counted before the response is written).
    fn requests(&self) -> PyResult<u64> {
        self.server.with(Server::requests)
    }

    /// Connections accepted so far.
    fn connections(&self) -> PyResult<u64> {
        self.server.with(Server::connections)
    }

    /// Complete requests to this path (query string excluded).
    /// Kept-alive connections the server ended while they were idle.
    fn idle_closes(&self) -> PyResult<u64> {
        self.server.with(Server::idle_closes)
    }

    /// Connections on which a request still arrived after the server ended them while idle.
    fn late_requests(&self) -> PyResult<u64> {
        self.server.with(Server::late_requests)
    }

    fn path_count(&self, path: &str) -> PyResult<u64> {
        self.server.with(|server| server.path_count(path))
    }

    /// Stops the server and closes its connections; calling it again does nothing.
    fn stop(&self, py: Python<'_>) {
        self.server.stop(py);
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<Bound<'_, PyType>>,
        _exc: Option<Bound<'_, PyAny>>,
        _traceback: Option<Bound<'_, PyAny>>,
    ) {
        self.stop(py);
    }

    fn __repr__(&self) -> String {
        format!("<TargetServer {}>", self.url)
    }
}
