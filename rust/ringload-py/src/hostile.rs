//! The scriptable hostile server (`ringload_target::hostile`) for Python tests: canned steps
//! given as tuples, e.g. `[("read",), ("send", b"HTTP/1.1 200 OK\r\n..."), ("repeat",)]`.

use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};
use ringload_target::hostile::{HostileServer as Server, Step};
use ringload_target::self_signed;

use crate::target::Running;

fn step(tuple: &Bound<'_, PyTuple>) -> PyResult<Step> {
    let name: String = tuple.get_item(0)?.extract()?;
    let bytes = || -> PyResult<Vec<u8>> { tuple.get_item(1)?.extract() };
    let seconds = |i: usize| -> PyResult<Duration> {
        let value: f64 = tuple.get_item(i)?.extract()?;
        Duration::try_from_secs_f64(value)
            .map_err(|_| PyValueError::new_err(format!("{name}: {value} is not a duration")))
    };
    let arity = |n: usize| {
        if tuple.len() == n {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!(
                "step {name:?} takes {} argument(s)",
                n - 1
            )))
        }
    };
    Ok(match name.as_str() {
        "read" => arity(1).map(|()| Step::Read)?,
        "read_head" => arity(1).map(|()| Step::ReadHead)?,
        "send" => {
            arity(2)?;
            Step::Send(bytes()?)
        }
        "trickle" => {
            arity(3)?;
            Step::Trickle(bytes()?, seconds(2)?)
        }
        "sleep" => {
            arity(2)?;
            Step::Sleep(seconds(1)?)
        }
        "close" => arity(1).map(|()| Step::Close)?,
        "close_without_notify" => arity(1).map(|()| Step::CloseWithoutNotify)?,
        "reset" => arity(1).map(|()| Step::Reset)?,
        "half_close" => arity(1).map(|()| Step::HalfClose)?,
        "hold" => arity(1).map(|()| Step::Hold)?,
        "repeat" => arity(1).map(|()| Step::Repeat)?,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown step {other:?}: use read, read_head, send, trickle, sleep, close, \
                 close_without_notify, reset, half_close, hold or repeat"
            )))
        }
    })
}

#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct HostileServer {
    server: Running<Server>,
    url: String,
    /// The self-signed certificate (PEM) when serving TLS.
    certificate_pem: Option<String>,
}

#[pymethods]
impl HostileServer {
    #[new]
    #[pyo3(signature = (steps, *, tls = false))]
    fn new(steps: Vec<Bound<'_, PyTuple>>, tls: bool) -> PyResult<Self> {
        let steps = steps.iter().map(step).collect::<PyResult<Vec<_>>>()?;
        let mut certificate_pem = None;
        let started = if tls {
            let (identity, pem) = self_signed(&["127.0.0.1", "localhost"]);
            certificate_pem = Some(pem);
            Server::start_tls(&identity, move |session| session.play(&steps))
        } else {
            Server::play(steps)
        };
        let server = started
            .map_err(|e| PyOSError::new_err(format!("cannot start the hostile server: {e}")))?;
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{}", server.addr());
        Ok(HostileServer {
            server: Running::new(server, "hostile server"),
            url,
            certificate_pem,
        })
    }

    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    #[getter]
    fn certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }

    fn connections(&self) -> PyResult<u64> {
        self.server.with(Server::connections)
    }

    fn requests(&self) -> PyResult<u64> {
        self.server.with(Server::requests)
    }

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
        format!("<HostileServer {}>", self.url)
    }
}
