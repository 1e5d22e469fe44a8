//! What a run is asked to do, validated before any connection is made.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use base64::Engine as _;
use ringload_http1::RequestSpec;

use crate::stages::{Ramp, Stage};
use crate::template::{RequestTemplate, TemplateContext};

/// A configuration the engine refuses, with a message naming the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("unsupported scheme {0:?}: use http:// or https://")]
    UnsupportedScheme(String),
    /// A URL without `http://` or `https://`: the message names the URL it most likely meant.
    #[error("{0}")]
    MissingScheme(String),
    #[error("{0} must be greater than zero")]
    NotPositive(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Request(#[from] ringload_http1::RequestError),
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// Where requests go, parsed from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    /// Host name or IP literal (IPv6 without brackets), used for DNS, SNI and certificates.
    pub host: String,
    pub port: u16,
    /// `Host` header value: `host` plus `:port` unless it is the scheme's default.
    pub authority: String,
    /// Origin-form request target (path and query).
    pub path_and_query: String,
    /// The path and query as typed (not normalized or percent-encoded), for templates: a
    /// placeholder such as `{{rand_int 1 9}}` must reach the template parser intact.
    pub typed_path_and_query: String,
    /// `Basic ...` credentials from URL userinfo; never printed.
    pub basic_auth: Option<String>,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, ConfigError> {
        let invalid = |reason: &str| ConfigError::InvalidUrl {
            url: redact_userinfo(url),
            reason: reason.to_string(),
        };
        if url.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(invalid("CR, LF and NUL are not allowed"));
        }
        // Before the URL parser, which reads `localhost:8080` as the scheme `localhost:`.
        if let Some(message) = crate::client_url::missing_scheme_message(url) {
            return Err(ConfigError::MissingScheme(message));
        }
        let parsed = url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        let scheme = match parsed.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(ConfigError::UnsupportedScheme(other.to_string())),
        };
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(invalid("missing host")),
        };
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| invalid("missing port"))?;
        let host_for_header = match parsed.host() {
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            _ => host.clone(),
        };
        let authority = match parsed.port() {
            Some(p) => format!("{host_for_header}:{p}"),
            None => host_for_header,
        };
        let mut path_and_query = parsed.path().to_string();
        if let Some(query) = parsed.query() {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        let basic_auth =
            (!parsed.username().is_empty() || parsed.password().is_some()).then(|| {
                let user = percent_decode(parsed.username());
                let password = percent_decode(parsed.password().unwrap_or(""));
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                format!("Basic {token}")
            });
        Ok(Target {
            scheme,
            host,
            port,
            authority,
            typed_path_and_query: typed_path_and_query(url)
                .unwrap_or_else(|| path_and_query.clone()),
            path_and_query,
            basic_auth,
        })
    }

    /// The path and query a template is read from: as typed when it has a placeholder or an
    /// escape (the URL parser would percent-encode the braces), else the normalized one.
    pub fn template_path_and_query(&self) -> &str {
        if self.typed_path_and_query.contains("{{") {
            &self.typed_path_and_query
        } else {
            &self.path_and_query
        }
    }

    /// The URL for reports: scheme, authority and path, never credentials.
    pub fn display_url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{scheme}://{}{}", self.authority, self.path_and_query)
    }

    /// Resolves the host to socket addresses (blocking; done once before the run).
    pub fn resolve(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        let resolve_error = |reason: String| ConfigError::Resolve {
            host: self.host.clone(),
            reason,
        };
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| resolve_error(e.to_string()))?
            .collect();
        if addrs.is_empty() {
            return Err(resolve_error("no addresses".into()));
        }
        Ok(addrs)
    }
}

/// The text after the authority of `url`, without a fragment: `/a/{{seq}}?b` as typed.
fn typed_path_and_query(url: &str) -> Option<String> {
    let after_scheme = &url[url.find("://")? + 3..];
    let start = after_scheme.find(['/', '?'])?;
    let rest = &after_scheme[start..];
    let rest = rest.split('#').next().unwrap_or(rest);
    Some(if rest.starts_with('?') {
        format!("/{rest}")
    } else {
        rest.to_string()
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A URL with any `user:password@` removed, for messages.
pub fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let authority_start = scheme_end + 3;
    // The authority ends at the first '/', '?' or '#'; an '@' after it belongs to the path.
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| i + authority_start);
    match url[authority_start..authority_end].rfind('@') {
        Some(at) => format!(
            "{}***@{}",
            &url[..authority_start],
            &url[authority_start + at + 1..]
        ),
        None => url.to_string(),
    }
}

/// Which io driver the workers run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoMode {
    /// io_uring when the kernel allows it, else epoll with one warning.
    #[default]
    Auto,
    Uring,
    Epoll,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Skip certificate verification.
    pub insecure: bool,
    /// Extra PEM file of trusted certificates (a private CA, a self-signed server).
    pub ca_file: Option<PathBuf>,
    /// mTLS: the client certificate chain (PEM) presented to servers that ask for one.
    pub client_cert: Option<PathBuf>,
    /// Its private key (PEM); `None` when it is in `client_cert`'s file too.
    pub client_key: Option<PathBuf>,
}

/// One request of a scenario: what to send, the name its statistics are kept under, and how
/// often it is picked relative to the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioRequest {
    /// Statistics row name, like Locust's `name=`; defaults to `target` as given. Requests with
    /// the same method and name share one row.
    pub name: Option<String>,
    /// `None` for the default: POST when there is a body, else GET.
    pub method: Option<String>,
    /// A path (`/v1/items?page=2`) appended to the run's base URL, as Locust appends paths to its
    /// host, or an absolute URL on the same origin.
    pub target: String,
    /// Fields for this request; they replace the run's headers of the same name.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Relative frequency, like Locust's `@task(weight)`.
    pub weight: u32,
}

impl ScenarioRequest {
    /// A GET of `target` with weight 1.
    pub fn get(target: impl Into<String>) -> Self {
        ScenarioRequest {
            name: None,
            method: Some("GET".into()),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
            weight: 1,
        }
    }

    /// The statistics row name.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.target)
    }

    /// The method sent: the one given, or the default for its body.
    pub fn method(&self) -> &str {
        method_or_default(self.method.as_deref(), &self.body)
    }

    fn invalid(&self, reason: impl std::fmt::Display) -> ConfigError {
        ConfigError::Invalid(format!(
            "scenario request {:?}: {reason}",
            redact_userinfo(self.name())
        ))
    }

    /// Checks everything that does not depend on the run's origin: the weight, the form of the
    /// target, the method, headers and body.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.weight == 0 {
            return Err(self.invalid("weight must be a positive integer"));
        }
        let target = if self.target.starts_with('/') {
            self.target.clone()
        } else if self.target.contains("://") {
            let url = Target::parse(&self.target)?;
            if url.basic_auth.is_some() {
                return Err(self.invalid(
                    "put credentials in the base URL or an Authorization header, not in a request URL",
                ));
            }
            url.template_path_and_query().to_string()
        } else {
            return Err(self.invalid(format!(
                "{:?} must be a path starting with '/' or an absolute http(s) URL",
                self.target
            )));
        };
        let spec = RequestSpec {
            method: self.method().to_string(),
            target,
            host: "localhost".into(),
            headers: self.headers.clone(),
            body: self.body.clone(),
        };
        // Placeholders are checked here for their syntax; the files they name are read when
        // the run is planned (relative to the scenario's directory).
        let what = format!("scenario request {:?}", redact_userinfo(self.name()));
        if RequestTemplate::new(&spec, &mut TemplateContext::syntax_only(), &what)?.is_none() {
            spec.validate()?;
        }
        Ok(())
    }
}

/// The method of a request: the one given, else POST when it has a body (a body is meant to be
/// read, and servers may ignore or refuse one on a GET) and GET without, as curl and oha decide.
fn method_or_default<'a>(given: Option<&'a str>, body: &[u8]) -> &'a str {
    given.unwrap_or(if body.is_empty() { "GET" } else { "POST" })
}

/// A statistics row: requests are grouped by method and name, as in Locust's stats table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointKey {
    pub method: String,
    pub name: String,
}

/// A request ready for the workers: encoded once, with what reading its response needs.
#[derive(Debug, Clone)]
pub(crate) struct PreparedRequest {
    /// The request as sent, when it has no placeholders.
    pub bytes: Vec<u8>,
    /// Otherwise, how to render it for each send.
    pub template: Option<Arc<RequestTemplate>>,
    pub is_head: bool,
    pub idempotent: bool,
    /// Index of its statistics row.
    pub endpoint: usize,
    pub weight: u32,
}

/// Every request of a run, encoded, and the statistics rows they record into.
#[derive(Debug, Clone)]
pub(crate) struct PreparedRequests {
    pub requests: Vec<PreparedRequest>,
    pub endpoints: Vec<EndpointKey>,
}

/// Longest duration, timeout or connect timeout accepted: far beyond any real run, and small
/// enough that deadlines computed from it cannot overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// Connections when none are given.
pub const DEFAULT_CONNECTIONS: usize = 64;
/// Slowest open-model rate accepted, requests per second.
pub const MIN_RATE: f64 = 0.001;

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The URL to load, or with a scenario the base URL (origin and an optional path prefix).
    pub target: Target,
    /// Method and body of the single request; unused with a scenario. `None` for the
    /// default: POST when there is a body, else GET.
    pub method: Option<String>,
    /// Fields sent with every request (a scenario request's own fields take precedence).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Several requests picked by weight for every send; empty for the single request above.
    pub scenario: Vec<ScenarioRequest>,
    /// Concurrent connections; `None` for [`DEFAULT_CONNECTIONS`], or with connection stages
    /// their peak (giving both is refused).
    pub connections: Option<usize>,
    /// Worker threads; `None` for one per available core.
    pub threads: Option<usize>,
    pub duration: Option<Duration>,
    /// Total requests to send (`-n`); the run ends when all are accounted for.
    pub requests: Option<u64>,
    /// Open model: total requests per second on a constant schedule (with `rate_stages`, the
    /// rate the first stage starts from).
    pub rate: Option<f64>,
    /// Open model ramp (`--stage`): the rate moves linearly from `rate` (or 0) to each stage's
    /// target over its duration; the run lasts the stages unless `duration` is set.
    pub rate_stages: Vec<Stage>,
    /// Closed model ramp: the connections in use move linearly from 0 to each stage's target
    /// over its duration (whole connections; the peak is how many the run opens).
    pub connection_stages: Vec<Stage>,
    /// The single request's path, header values and body are templates (`--template`);
    /// a scenario's requests always are (`\{{` writes a literal `{{`).
    pub template: bool,
    /// Where templates' relative file names are found (a scenario file's directory); `None`
    /// for the working directory.
    pub template_dir: Option<PathBuf>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Requests sent per connection before reading responses.
    pub pipeline: usize,
    /// `false` for a new connection (and TLS handshake) per request, with `Connection: close`
    /// sent (`--disable-keepalive`).
    pub keep_alive: bool,
    pub io: IoMode,
    pub tls: TlsOptions,
}

impl LoadConfig {
    /// A closed-model run of `url` with the CLI's defaults.
    pub fn new(url: &str) -> Result<LoadConfig, ConfigError> {
        Ok(LoadConfig {
            target: Target::parse(url)?,
            method: None,
            headers: Vec::new(),
            body: Vec::new(),
            scenario: Vec::new(),
            connections: None,
            threads: None,
            duration: None,
            requests: None,
            rate: None,
            rate_stages: Vec::new(),
            connection_stages: Vec::new(),
            template: false,
            template_dir: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            pipeline: 1,
            keep_alive: true,
            io: IoMode::Auto,
            tls: TlsOptions::default(),
        })
    }

    /// The single request's method: the one given, or the default for its body.
    pub fn method(&self) -> &str {
        method_or_default(self.method.as_deref(), &self.body)
    }

    /// The single request to send (no scenario), with URL credentials as `Authorization`
    /// unless a header sets one.
    pub fn request_spec(&self) -> RequestSpec {
        self.spec_for(
            self.method(),
            self.target.path_and_query.clone(),
            &[],
            self.body.clone(),
        )
    }

    /// A request on this run's origin: the run's headers, overridden by `extra` field by field,
    /// plus URL credentials unless a header sets `Authorization`.
    fn spec_for(
        &self,
        method: &str,
        target: String,
        extra: &[(String, String)],
        body: Vec<u8>,
    ) -> RequestSpec {
        let same_name = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(name, _)| !extra.iter().any(|(other, _)| same_name(name, other)))
            .cloned()
            .collect();
        headers.extend_from_slice(extra);
        if !self.keep_alive {
            headers.retain(|(name, _)| !same_name(name, "connection"));
            headers.push(("Connection".into(), "close".into()));
        }
        let has_authorization = headers
            .iter()
            .any(|(name, _)| same_name(name, "authorization"));
        if let (Some(auth), false) = (&self.target.basic_auth, has_authorization) {
            headers.push(("Authorization".into(), auth.clone()));
        }
        RequestSpec {
            method: method.to_string(),
            target,
            host: self.target.authority.clone(),
            headers,
            body,
        }
    }

    /// The request target of a scenario request: a path appended to the base URL's path, or
    /// an absolute URL that must be on the run's origin.
    fn scenario_target(&self, request: &ScenarioRequest) -> Result<String, ConfigError> {
        request.validate()?;
        if request.target.starts_with('/') {
            let base = self.target.path_and_query.trim_end_matches('/');
            return Ok(format!("{base}{}", request.target));
        }
        let url = Target::parse(&request.target)?;
        let origin = |t: &Target| (t.scheme, t.host.clone(), t.port);
        if origin(&url) != origin(&self.target) {
            return Err(request.invalid(format!(
                "{} is not on {}; every request of a scenario goes to the same origin",
                url.display_url(),
                self.target.display_url()
            )));
        }
        Ok(url.template_path_and_query().to_string())
    }

    /// Encodes every request once and assigns each its statistics row.
    pub(crate) fn prepare(&self) -> Result<PreparedRequests, ConfigError> {
        let mut templates = TemplateContext::new(self.template_dir.clone());
        if self.scenario.is_empty() {
            let mut spec = self.request_spec();
            if self.template {
                spec.target = self.target.template_path_and_query().to_string();
            }
            let what = format!("the request {}", self.display_url());
            let templates = self.template.then_some(&mut templates);
            return Ok(PreparedRequests {
                endpoints: vec![EndpointKey {
                    method: spec.method.clone(),
                    name: spec.target.clone(),
                }],
                requests: vec![prepared(spec, 0, 1, templates, &what)?],
            });
        }
        if self.target.path_and_query.contains('?') {
            return Err(ConfigError::Invalid(format!(
                "the base URL of a scenario cannot have a query ({}): put it in the requests' paths",
                self.target.display_url()
            )));
        }
        let mut endpoints: Vec<EndpointKey> = Vec::new();
        let mut requests = Vec::with_capacity(self.scenario.len());
        for request in &self.scenario {
            let target = self.scenario_target(request)?;
            let spec = self.spec_for(
                request.method(),
                target,
                &request.headers,
                request.body.clone(),
            );
            let key = EndpointKey {
                method: spec.method.clone(),
                name: request.name().to_string(),
            };
            let endpoint = match endpoints.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    endpoints.push(key);
                    endpoints.len() - 1
                }
            };
            let what = format!("scenario request {:?}", redact_userinfo(request.name()));
            requests.push(prepared(
                spec,
                endpoint,
                request.weight,
                Some(&mut templates),
                &what,
            )?);
        }
        Ok(PreparedRequests {
            requests,
            endpoints,
        })
    }

    /// The URL reports show: without credentials, and with a template as it was written.
    pub fn display_url(&self) -> String {
        let url = self.target.display_url();
        if self.template && self.scenario.is_empty() {
            let prefix = url.len() - self.target.path_and_query.len();
            return format!(
                "{}{}",
                &url[..prefix],
                self.target.template_path_and_query()
            );
        }
        url
    }

    /// The method reports show for the run: the one every request uses, or `MIXED`.
    pub fn display_method(&self) -> String {
        let mut methods = self.scenario.iter().map(ScenarioRequest::method);
        match methods.next() {
            None => self.method().to_string(),
            Some(first) if methods.all(|m| m == first) => first.to_string(),
            Some(_) => "MIXED".to_string(),
        }
    }

    /// Checks everything and encodes every request, once: the plan the workers run. Anything
    /// that cannot work is refused here, before any connection is made.
    pub fn plan(&self) -> Result<LoadPlan, ConfigError> {
        self.validate_settings()?;
        let rate = match (self.rate_stages.is_empty(), self.rate) {
            (true, None) => None,
            (true, Some(rate)) => Some(RateShape::Constant(rate)),
            (false, start) => Some(RateShape::Ramp(Arc::new(Ramp::new(
                start.unwrap_or(0.0),
                self.rate_stages.clone(),
                "rate",
            )?))),
        };
        let connection_ramp = (!self.connection_stages.is_empty())
            .then(|| Ramp::new(0.0, self.connection_stages.clone(), "connection"))
            .transpose()?
            .map(Arc::new);
        let connections =
            match (&connection_ramp, self.connections) {
                (None, connections) => connections.unwrap_or(DEFAULT_CONNECTIONS),
                (Some(_), Some(_)) => return Err(ConfigError::Invalid(
                    "connections and connection stages both set the connections: the run opens \
                     as many as the stages' peak, so give only the stages"
                        .into(),
                )),
                (Some(ramp), None) => {
                    // Connection `k` is in use while the target is above `k - 1`: a ramp
                    // uses its target rounded up.
                    let peak = ramp.peak().ceil();
                    if peak < 1.0 {
                        return Err(ConfigError::Invalid(
                        "connection stages never reach one connection: give a stage a target of \
                         at least 1"
                            .into(),
                    ));
                    }
                    peak as usize
                }
            };
        let stages = rate
            .as_ref()
            .and_then(RateShape::ramp)
            .or(connection_ramp.as_ref());
        let duration = self.duration.or_else(|| stages.map(|ramp| ramp.duration()));
        if duration.is_none() && self.requests.is_none() {
            return Err(ConfigError::Invalid(
                "set a duration or a number of requests".into(),
            ));
        }
        let cores = crate::worker::available_cores().len().max(1);
        let prepared = self.prepare()?;
        let tls = match self.target.scheme {
            Scheme::Http if self.tls.client_cert.is_some() => {
                return Err(ConfigError::Invalid(format!(
                    "a client certificate is sent over TLS only; {} is http://",
                    self.display_url()
                )))
            }
            Scheme::Http => None,
            Scheme::Https => Some((
                crate::tls::client_config(&self.tls)?,
                crate::tls::server_name(&self.target.host)?,
            )),
        };
        Ok(LoadPlan {
            tls,
            threads: self.threads.unwrap_or(cores).min(connections).max(1),
            config: self.clone(),
            requests: prepared.requests,
            endpoints: prepared.endpoints,
            connections,
            duration,
            rate,
            connection_ramp,
        })
    }

    /// Everything but the requests themselves.
    fn validate_settings(&self) -> Result<(), ConfigError> {
        if self.connections == Some(0) {
            return Err(ConfigError::NotPositive("connections"));
        }
        if self.threads == Some(0) {
            return Err(ConfigError::NotPositive("threads"));
        }
        if self.pipeline == 0 {
            return Err(ConfigError::NotPositive("pipeline"));
        }
        if !self.keep_alive && self.pipeline > 1 {
            return Err(ConfigError::Invalid(
                "a connection per request (keep-alive disabled) cannot pipeline: pipelined \
                 requests need a kept-alive connection; drop one of the two"
                    .into(),
            ));
        }
        if self.duration == Some(Duration::ZERO) {
            return Err(ConfigError::NotPositive("duration"));
        }
        if self.requests == Some(0) {
            return Err(ConfigError::NotPositive("requests"));
        }
        if !self.connection_stages.is_empty()
            && (self.rate.is_some() || !self.rate_stages.is_empty())
        {
            return Err(ConfigError::Invalid(
                "connection stages ramp the closed model; for the open model, ramp the rate \
                 with rate stages (--stage) and set the connections with -c"
                    .into(),
            ));
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(ConfigError::NotPositive("rate"));
            }
            if rate < MIN_RATE {
                return Err(ConfigError::Invalid(format!(
                    "rate must be at least {MIN_RATE} requests per second"
                )));
            }
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::NotPositive("timeout"));
        }
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::NotPositive("connect timeout"));
        }
        for (name, value) in [
            ("duration", self.duration),
            ("timeout", Some(self.timeout)),
            ("connect timeout", Some(self.connect_timeout)),
        ] {
            if value.is_some_and(|v| v > MAX_DURATION) {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be at most one year"
                )));
            }
        }
        if self.tls.client_key.is_some() && self.tls.client_cert.is_none() {
            return Err(ConfigError::Invalid(
                "a client key needs its certificate: give --cert too".into(),
            ));
        }
        if let Some(path) = &self.tls.ca_file {
            if !path.is_file() {
                return Err(ConfigError::Invalid(format!(
                    "CA file {} does not exist",
                    path.display()
                )));
            }
        }
        Ok(())
    }
}

/// One request ready for the workers: encoded once, or (with `templates`, when it has
/// placeholders) a template rendered for each send.
fn prepared(
    spec: RequestSpec,
    endpoint: usize,
    weight: u32,
    templates: Option<&mut TemplateContext>,
    what: &str,
) -> Result<PreparedRequest, ConfigError> {
    let template = match templates {
        Some(context) => RequestTemplate::new(&spec, context, what)?.map(Arc::new),
        None => None,
    };
    Ok(PreparedRequest {
        bytes: if template.is_some() {
            Vec::new()
        } else {
            spec.encode()?
        },
        template,
        is_head: spec.is_head(),
        idempotent: spec.is_idempotent(),
        endpoint,
        weight,
    })
}

/// The open model's rate: constant, or a ramp.
#[derive(Debug, Clone)]
pub(crate) enum RateShape {
    Constant(f64),
    Ramp(Arc<Ramp>),
}

impl RateShape {
    fn ramp(&self) -> Option<&Arc<Ramp>> {
        match self {
            RateShape::Constant(_) => None,
            RateShape::Ramp(ramp) => Some(ramp),
        }
    }

    /// Requests due in the first `seconds` of the run.
    pub fn due_by(&self, seconds: f64) -> f64 {
        match self {
            RateShape::Constant(rate) => rate * seconds,
            RateShape::Ramp(ramp) => ramp.integral(seconds),
        }
    }
}

/// A run ready to start ([`LoadConfig::plan`]): every setting checked, every request encoded
/// once, and what the configuration leaves open decided: the duration (the stages' unless
/// given), the connections (a connection ramp's peak), the workers.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub(crate) config: LoadConfig,
    pub(crate) requests: Vec<PreparedRequest>,
    pub(crate) endpoints: Vec<EndpointKey>,
    pub(crate) connections: usize,
    pub(crate) threads: usize,
    pub(crate) duration: Option<Duration>,
    pub(crate) rate: Option<RateShape>,
    pub(crate) connection_ramp: Option<Arc<Ramp>>,
    /// https: the client configuration every connection shares, and the server name.
    pub(crate) tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
}

impl LoadPlan {
    pub fn config(&self) -> &LoadConfig {
        &self.config
    }

    /// How long the run lasts, unless a request budget ends it first.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }

    /// Connections the run opens (at most, with a connection ramp).
    pub fn connections(&self) -> usize {
        self.connections
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }
}
