//! The binding's leaf: Python values to engine values (seconds, io modes, stages) and engine
//! errors and data to Python ones. Every other module of the binding uses it; it uses none of them.

use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use ringload_engine::{ConfigError, IoMode, RunError, Stage};

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

/// `(seconds, target)` pairs as engine stages; the engine checks the targets.
pub(crate) fn stages_of(arg: &str, stages: Vec<(f64, f64)>) -> PyResult<Vec<Stage>> {
    stages
        .into_iter()
        .enumerate()
        .map(|(i, (duration, target))| {
            Ok(Stage {
                duration: seconds(&format!("{arg}[{i}] duration"), duration)?,
                target,
            })
        })
        .collect()
}

/// `OSError(errno, message, path)`: Python picks the subclass from the errno
/// (`FileNotFoundError`, `PermissionError`), as `open()` would raise it.
pub(crate) fn os_error(error: &std::io::Error, path: &std::path::Path) -> PyErr {
    PyOSError::new_err((
        error.raw_os_error().unwrap_or(0),
        error.to_string(),
        path.to_path_buf(),
    ))
}

/// JSON data as the Python values `json.loads` would give.
pub(crate) fn json_to_py<'py>(
    py: Python<'py>,
    value: &serde_json::Value,
) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (None, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, json_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

pub(crate) fn engine_stopped(e: std::io::Error) -> PyErr {
    PyOSError::new_err(format!("the ringload engine is not running: {e}"))
}

/// A configuration the engine refuses: `ValueError` with its message, except a host that does
/// not resolve, which is the network's answer (`OSError`, as socket's `gaierror` is).
pub(crate) fn config_error(error: ConfigError) -> PyErr {
    match error {
        ConfigError::Resolve { .. } => PyOSError::new_err(error.to_string()),
        _ => PyValueError::new_err(error.to_string()),
    }
}

/// Why a run could not happen, as the Python exception a caller can act on.
pub(crate) fn run_error(error: RunError) -> PyErr {
    match error {
        RunError::Config(e) => config_error(e),
        RunError::UringUnavailable(_) => PyOSError::new_err(error.to_string()),
        RunError::Worker(message) => PyRuntimeError::new_err(message),
        RunError::NotNativeUsers => PyRuntimeError::new_err(error.to_string()),
        RunError::FixedConnections | RunError::AboveConnectionCeiling { .. } => {
            PyValueError::new_err(error.to_string())
        }
    }
}
