//! The native half of a `FastHttpSession`: everything a request needs that is not Locust's
//! semantics. One call per request takes the caller's URL, headers and body, parses the URL
//! (origins are cached), merges the session's default headers with the request's, encodes and
//! queues the request, and parks the calling greenlet's handle until the completion is drained.
//!
//! Python keeps what must be Python: `catch_response`, events, cookies, redirects and the
//! greenlet switches themselves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyString, PyTuple};
use ringload_engine::client::{ClientRequest, ClientTls};
use ringload_engine::{
    missing_scheme_message, scheme_of, split_origin, target_of, ClientProxy, Origin, Scheme,
};
use ringload_http1::RequestSpec;

use crate::client::Engine;
use crate::convert::{config_error, seconds};
use crate::tls::TlsConfig;

pyo3::create_exception!(
    _ringload,
    MissingSchemeError,
    PyValueError,
    "A URL without http:// or https:// (`127.0.0.1:8080/`); the message names the URL it \
     most likely meant. Raised before anything is sent."
);

/// Session ids are unique in the process: the engine pools connections per session.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// Past this many distinct origins a session forgets them and starts over.
const MAX_CACHED_ORIGINS: usize = 64;

/// How an extra header joins the merged ones (`Session.send`'s `extra`).
const EXTRA_REPLACE: u8 = 0;
const EXTRA_IF_ABSENT: u8 = 1;
const EXTRA_APPEND_COOKIE: u8 = 2;

/// One `FastHttpSession`'s pool id, connect timeout and known origins.
#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct Session {
    engine: Py<Engine>,
    id: u64,
    /// Microseconds; a setter, since a locustfile may change `connection_timeout` later.
    connect_timeout_us: AtomicU64,
    /// Connections per origin, busy or idle (Locust's `concurrency`); 0: no limit.
    max_connections: AtomicUsize,
    /// Keyed by the URL up to the end of its authority (`http://host:port`).
    origins: Mutex<HashMap<String, Arc<Origin>>>,
}

#[pymethods]
impl Session {
    #[new]
    #[pyo3(signature = (engine, *, connect_timeout))]
    fn new(engine: Py<Engine>, connect_timeout: f64) -> PyResult<Self> {
        let timeout = seconds("connection_timeout", connect_timeout)?;
        Ok(Session {
            engine,
            id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
            connect_timeout_us: AtomicU64::new(timeout.as_micros() as u64),
            max_connections: AtomicUsize::new(0),
            origins: Mutex::new(HashMap::new()),
        })
    }

    /// The id the engine pools this session's connections under.
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }

    #[getter]
    fn engine(&self, py: Python<'_>) -> Py<Engine> {
        self.engine.clone_ref(py)
    }

    /// Seconds a new connection may take.
    #[getter]
    fn connect_timeout(&self) -> f64 {
        self.connect_timeout_us.load(Ordering::Relaxed) as f64 / 1e6
    }

    #[setter]
    fn set_connect_timeout(&self, value: f64) -> PyResult<()> {
        let timeout = seconds("connection_timeout", value)?;
        self.connect_timeout_us
            .store(timeout.as_micros() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// At most this many connections per origin, busy or idle; more concurrent requests wait
    /// for one (within their timeout). 0 (the default): no limit.
    #[getter]
    fn max_connections(&self) -> usize {
        self.max_connections.load(Ordering::Relaxed)
    }

    #[setter]
    fn set_max_connections(&self, value: usize) {
        self.max_connections.store(value, Ordering::Relaxed);
    }

    /// Validates, encodes and queues one request, and parks `waiter` until its completion is
    /// drained (`Engine.drain`); returns the request's token. Nothing is sent before the
    /// engine's next `flush()`.
    ///
    /// `defaults` are the session's headers, `headers` the request's (same name in any case:
    /// the request's wins), `extra` a sequence of `(name, value, how)` applied after them:
    /// 0 replaces, 1 only if absent, 2 appends to a Cookie field with "; ".
    ///
    /// Raises ValueError for a request that cannot be sent (an unsupported scheme, a bad port,
    /// CR/LF/NUL in the method, target or headers, a non-positive timeout), its subclass
    /// MissingSchemeError for a URL without any scheme, and TypeError for header names or
    /// values that are not str. `verify` is True, False or a `TlsConfig`.
    #[allow(clippy::too_many_arguments)] // positional: the cheapest call pyo3 offers, once per request
    #[pyo3(signature = (waiter, method, url, defaults, headers, extra, body, timeout, verify, proxies, stream, /))]
    fn send(
        &self,
        waiter: Py<PyAny>,
        method: String,
        url: &Bound<'_, PyString>,
        defaults: &Bound<'_, PyDict>,
        headers: Option<&Bound<'_, PyDict>>,
        extra: Option<&Bound<'_, PyAny>>,
        body: Option<&Bound<'_, PyBytes>>,
        timeout: f64,
        verify: &Bound<'_, PyAny>,
        proxies: Option<&Bound<'_, Proxies>>,
        stream: bool,
    ) -> PyResult<u64> {
        let tls = client_tls(verify)?;
        let url_text = url.to_cow()?;
        let (origin, target) = self.origin_and_target(url, &url_text)?;
        let proxy = proxies.and_then(|p| p.get().for_scheme(origin.scheme));
        let mut headers = merged_headers(defaults, headers, extra)?;
        // A plain-HTTP request is the proxy's to forward: it gets the credentials and the
        // absolute-form target. Over a tunnel the origin sees only its own request.
        let via_proxy = proxy.as_ref().filter(|_| origin.scheme == Scheme::Http);
        if let Some(authorization) = via_proxy.and_then(|p| p.authorization.clone()) {
            set_header(&mut headers, "Proxy-Authorization".into(), authorization);
        }
        let spec = RequestSpec {
            method,
            target,
            host: origin.authority.clone(),
            headers,
            body: body.map(|b| b.as_bytes().to_vec()).unwrap_or_default(),
        };
        let mut bytes = spec
            .encode()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        if via_proxy.is_some() {
            let at = spec.method.len() + 1;
            bytes.splice(at..at, format!("http://{}", origin.authority).into_bytes());
        }
        let engine = self.engine.get();
        let token = engine.next_token();
        let request = ClientRequest {
            token,
            session: self.id,
            scheme: origin.scheme,
            host: origin.host.clone(),
            port: origin.port,
            bytes,
            is_head: spec.is_head(),
            idempotent: spec.is_idempotent(),
            connect_timeout: Duration::from_micros(self.connect_timeout_us.load(Ordering::Relaxed)),
            timeout: seconds("network_timeout", timeout)?,
            tls,
            max_connections: self.max_connections.load(Ordering::Relaxed),
            proxy,
            stream,
            // A streamed body is handed on as received.
            decode: !stream,
        };
        engine.submit_parked(request, waiter)?;
        Ok(token)
    }

    /// Closes this session's pooled connections (a later request opens new ones).
    fn close(&self) -> PyResult<()> {
        self.engine.get().close_session(self.id)
    }

    fn __repr__(&self) -> String {
        format!("<Session {}>", self.id)
    }
}

impl Session {
    fn origin_and_target(
        &self,
        url: &Bound<'_, PyString>,
        text: &str,
    ) -> PyResult<(Arc<Origin>, String)> {
        let Some((key, rest)) = split_origin(text) else {
            if let Some(message) = missing_scheme_message(text) {
                return Err(MissingSchemeError::new_err(message));
            }
            return Err(PyValueError::new_err(format!(
                "unsupported URL scheme {} in {}: use http:// or https://",
                PyString::new(url.py(), &scheme_of(text)).repr()?,
                url.repr()?
            )));
        };
        let target = target_of(rest);
        let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(origin) = origins.get(key) {
            return Ok((origin.clone(), target));
        }
        let origin = Arc::new(Origin::parse(key).map_err(config_error)?);
        if origins.len() >= MAX_CACHED_ORIGINS {
            origins.clear();
        }
        origins.insert(key.to_string(), origin.clone());
        Ok((origin, target))
    }
}

/// The HTTP proxies a session's requests go through, per scheme: Locust's
/// `proxy_host`/`proxy_port` (both schemes) or requests' `proxies=` (`http`, `https`).
#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct Proxies {
    http: Option<Arc<ClientProxy>>,
    https: Option<Arc<ClientProxy>>,
}

#[pymethods]
impl Proxies {
    /// Each an `http://[user:password@]host[:port]` URL or None. Raises ValueError for
    /// anything else (an https:// or socks proxy, no host, a bad port).
    #[new]
    #[pyo3(signature = (*, http=None, https=None))]
    fn new(http: Option<&str>, https: Option<&str>) -> PyResult<Self> {
        let parse = |url: Option<&str>| {
            url.map(ClientProxy::parse)
                .transpose()
                .map_err(PyValueError::new_err)
        };
        Ok(Proxies {
            http: parse(http)?,
            https: parse(https)?,
        })
    }

    fn __repr__(&self) -> String {
        let show = |p: &Option<Arc<ClientProxy>>| {
            p.as_ref()
                .map_or("None".to_string(), |p| format!("{}:{}", p.host, p.port))
        };
        format!(
            "<Proxies http={} https={}>",
            show(&self.http),
            show(&self.https)
        )
    }
}

impl Proxies {
    fn for_scheme(&self, scheme: Scheme) -> Option<Arc<ClientProxy>> {
        match scheme {
            Scheme::Http => self.http.clone(),
            Scheme::Https => self.https.clone(),
        }
    }
}

/// `verify` as `Session.send` takes it: True (verify against the system's roots), False (accept
/// any certificate) or a `TlsConfig`.
fn client_tls(verify: &Bound<'_, PyAny>) -> PyResult<ClientTls> {
    if let Ok(verify) = verify.cast::<PyBool>() {
        return Ok(if verify.is_true() {
            ClientTls::Verified
        } else {
            ClientTls::Insecure
        });
    }
    match verify.cast::<TlsConfig>() {
        Ok(config) => Ok(config.get().client_tls()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "verify must be True, False or a TlsConfig, not {}",
            verify
                .get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))),
    }
}

/// `(name, value)` of one header as text, or a TypeError naming the header.
fn header_text(name: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<(String, String)> {
    let name = name.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "header names must be str, not {}",
            name.get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })?;
    let value = value.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "header values must be str, not {} (header {})",
            value
                .get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string()),
            name
        ))
    })?;
    Ok((name.to_cow()?.into_owned(), value.to_cow()?.into_owned()))
}

/// Sets `name` the way a dict assignment with case-insensitive names would: the same name
/// keeps its place, a name in another case is replaced by this one at the end.
fn set_header(merged: &mut Vec<(String, String)>, name: String, value: String) {
    match merged
        .iter()
        .position(|(n, _)| n.eq_ignore_ascii_case(&name))
    {
        Some(at) if merged[at].0 == name => merged[at].1 = value,
        Some(at) => {
            merged.remove(at);
            merged.push((name, value));
        }
        None => merged.push((name, value)),
    }
}

/// The headers a request is sent with: the session's, then the request's, then `extra`, then
/// `Accept-Encoding: gzip, deflate, br` unless one is set (the engine decodes those).
fn merged_headers(
    defaults: &Bound<'_, PyDict>,
    headers: Option<&Bound<'_, PyDict>>,
    extra: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<(String, String)>> {
    let mut merged = Vec::with_capacity(defaults.len() + headers.map_or(0, |h| h.len()) + 2);
    for (name, value) in defaults.iter() {
        let (name, value) = header_text(&name, &value)?;
        set_header(&mut merged, name, value);
    }
    if let Some(headers) = headers {
        for (name, value) in headers.iter() {
            let (name, value) = header_text(&name, &value)?;
            set_header(&mut merged, name, value);
        }
    }
    if let Some(extra) = extra {
        for item in extra.try_iter()? {
            let item = item?;
            let item = item.cast::<PyTuple>()?;
            let (name, value) = header_text(&item.get_item(0)?, &item.get_item(1)?)?;
            let how: u8 = item.get_item(2)?.extract()?;
            let existing = merged
                .iter()
                .position(|(n, _)| n.eq_ignore_ascii_case(&name));
            match (how, existing) {
                (EXTRA_IF_ABSENT, Some(_)) => {}
                (EXTRA_APPEND_COOKIE, Some(at)) => {
                    merged[at].1 = format!("{}; {value}", merged[at].1);
                }
                (EXTRA_REPLACE | EXTRA_IF_ABSENT | EXTRA_APPEND_COOKIE, _) => {
                    set_header(&mut merged, name, value)
                }
                _ => return Err(PyValueError::new_err(format!("unknown header mode {how}"))),
            }
        }
    }
    if !merged
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("accept-encoding"))
    {
        merged.push(("Accept-Encoding".into(), "gzip, deflate, br".into()));
    }
    Ok(merged)
}

/// The headers `Session.send` would send for these arguments, as a dict: what
/// `response.request.headers` shows, computed only when a locustfile reads it.
#[pyfunction]
#[pyo3(signature = (defaults, headers, extra, /))]
pub(crate) fn merge_headers<'py>(
    py: Python<'py>,
    defaults: &Bound<'py, PyDict>,
    headers: Option<&Bound<'py, PyDict>>,
    extra: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let merged = PyDict::new(py);
    for (name, value) in merged_headers(defaults, headers, extra)? {
        merged.set_item(name, value)?;
    }
    Ok(merged)
}
