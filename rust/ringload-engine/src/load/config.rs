//! What a run is asked to do, validated before any connection is made.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{ConfigError, Conflict, FileProblem, FileRole, RequestRef, ScenarioProblem};
use ringload_http1::RequestSpec;

use crate::load::limits::{H2_MAX_STREAMS, H2_MAX_WINDOW, H2_MIN_WINDOW, MAX_DURATION, MIN_RATE};
use crate::load::stages::Stage;
use crate::net::tls::TlsOptions;
use crate::origin::{redact_userinfo, Target};
use crate::proto::h1::render::RequestTemplate;
use crate::runtime::IoMode;
use crate::template::TemplateContext;

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

    /// The name errors give it: its statistics name, credentials redacted.
    fn error_name(&self) -> String {
        redact_userinfo(self.name())
    }

    /// This request refused for `problem`.
    pub(crate) fn invalid(&self, problem: ScenarioProblem) -> ConfigError {
        ConfigError::ScenarioRequest {
            name: self.error_name(),
            problem,
        }
    }

    /// This request, for a template's errors.
    pub(crate) fn request_ref(&self) -> RequestRef {
        RequestRef::Scenario {
            name: self.error_name(),
        }
    }

    /// Checks everything that does not depend on the run's origin: the weight, the form of the
    /// target, the method, headers and body.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.weight == 0 {
            return Err(self.invalid(ScenarioProblem::ZeroWeight));
        }
        let target = if self.target.starts_with('/') {
            self.target.clone()
        } else if self.target.contains("://") {
            let url = Target::parse(&self.target)?;
            if url.basic_auth.is_some() {
                return Err(self.invalid(ScenarioProblem::CredentialsInUrl));
            }
            url.template_path_and_query().to_string()
        } else {
            return Err(self.invalid(ScenarioProblem::BadTarget {
                target: self.target.clone(),
            }));
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
        let request = self.request_ref();
        if RequestTemplate::new(&spec, &mut TemplateContext::syntax_only(), &request)?.is_none() {
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
    /// HTTP/2 (`--http2`): over TLS negotiated with ALPN, on `http://` with prior knowledge
    /// (h2c). `None` for HTTP/1.1.
    pub http2: Option<Http2Options>,
}

/// How HTTP/2 connections are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2Options {
    /// Requests in flight on each connection at most, as h2load's `-m` (fewer when the server's
    /// SETTINGS_MAX_CONCURRENT_STREAMS says so).
    pub streams: usize,
    /// Each stream's receive window (h2load's `-w`, as a size in bytes).
    pub stream_window: u32,
    /// The connection's receive window (h2load's `-W`).
    pub connection_window: u32,
}

impl Default for Http2Options {
    /// One stream per connection, and windows of 2^30-1 as h2load and oha open them.
    fn default() -> Self {
        let windows = ringload_h2::Config::default();
        Http2Options {
            streams: 1,
            stream_window: windows.stream_window,
            connection_window: windows.connection_window,
        }
    }
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
            http2: None,
        })
    }

    /// The single request's method: the one given, or the default for its body.
    pub fn method(&self) -> &str {
        method_or_default(self.method.as_deref(), &self.body)
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

    /// Everything but the requests themselves.
    pub(crate) fn validate_settings(&self) -> Result<(), ConfigError> {
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
            return Err(Conflict::PipelineWithoutKeepAlive.into());
        }
        if let Some(http2) = &self.http2 {
            if http2.streams == 0 {
                return Err(ConfigError::NotPositive("streams"));
            }
            if http2.streams > H2_MAX_STREAMS {
                return Err(ConfigError::TooManyStreams {
                    max: H2_MAX_STREAMS,
                });
            }
            if self.pipeline > 1 {
                return Err(Conflict::PipelineWithHttp2.into());
            }
            if !self.keep_alive {
                return Err(Conflict::Http2WithoutKeepAlive.into());
            }
            for window in [http2.stream_window, http2.connection_window] {
                if !(H2_MIN_WINDOW..=H2_MAX_WINDOW).contains(&window) {
                    return Err(ConfigError::Http2Window {
                        min: H2_MIN_WINDOW,
                        max: H2_MAX_WINDOW,
                    });
                }
            }
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
            return Err(Conflict::ConnectionStagesWithRate.into());
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(ConfigError::NotPositive("rate"));
            }
            if rate < MIN_RATE {
                return Err(ConfigError::RateBelowMinimum { minimum: MIN_RATE });
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
                return Err(ConfigError::AtMostAYear(name));
            }
        }
        if self.tls.client_key.is_some() && self.tls.client_cert.is_none() {
            return Err(Conflict::KeyWithoutCertificate.into());
        }
        if let Some(path) = &self.tls.ca_file {
            if !path.is_file() {
                return Err(ConfigError::File {
                    role: FileRole::CaFile,
                    path: path.clone(),
                    problem: FileProblem::Missing,
                });
            }
        }
        Ok(())
    }
}
