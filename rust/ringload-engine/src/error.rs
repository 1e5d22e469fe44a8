//! The engine's error types, below every module that fails: why a request failed
//! ([`ErrorKind`], [`Failure`]), why a configuration is refused ([`ConfigError`]) and why a run
//! could not happen ([`RunError`]).

use std::io;
use std::path::{Path, PathBuf};

/// The one list of the kinds of request failure: each variant, its name in reports and JSON, and
/// what it means. Calls `$define! { $( $(#[doc])* Variant => "name", )* }`, so that the engine's
/// [`ErrorKind`] and the Python binding's mirror of it are generated from here, and adding a
/// kind touches this list (and the Python stub, which a test compares with it).
#[macro_export]
macro_rules! with_error_kinds {
    ($define:ident) => {
        $define! {
            /// The TCP connection could not be established (refused, unreachable, connect timeout).
            Connect => "connect",
            /// The TLS handshake failed (certificate rejected, protocol error).
            Tls => "tls",
            /// No complete response within `--timeout`.
            Timeout => "timeout",
            /// The server closed the connection before sending any byte of the response.
            Closed => "closed",
            /// Reading failed (reset) or the connection ended in the middle of a response.
            Read => "read",
            /// Sending the request failed.
            Write => "write",
            /// The response head is not valid HTTP/1.x.
            Parse => "parse",
            /// The body framing is invalid (Content-Length, Transfer-Encoding, chunk syntax).
            Framing => "framing",
            /// HTTP/2: the server reset the stream (RST_STREAM other than REFUSED_STREAM).
            Reset => "reset",
            /// HTTP/2: the server refused the stream (REFUSED_STREAM) again after one retry.
            Refused => "refused",
            /// HTTP/2: the server went away (GOAWAY) before completing the stream, or again
            /// after one retry of a stream it never processed.
            Goaway => "goaway",
            /// HTTP/2: the server broke the protocol (a malformed frame, HPACK block or
            /// response); the stream or the connection was ended.
            Protocol => "protocol",
        }
    };
}

macro_rules! define_error_kind {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, )*) => {
        /// Why a request failed. Counted into fixed arrays, never keyed by message text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorKind {
            pub const ALL: [ErrorKind; [$(ErrorKind::$variant),*].len()] = [$(ErrorKind::$variant),*];
            pub const COUNT: usize = Self::ALL.len();

            /// The stable name used in reports and JSON.
            pub fn name(self) -> &'static str {
                match self {
                    $( ErrorKind::$variant => $name, )*
                }
            }
        }
    };
}

with_error_kinds!(define_error_kind);

impl ErrorKind {
    /// What a reused keep-alive connection that the server had already closed (FIN) or reset
    /// (RST) while idle looks like: the write fails, or the read ends with no byte. Callers also
    /// check that no response byte arrived before allowing one resend of an idempotent request.
    pub fn may_be_stale_keep_alive(self) -> bool {
        matches!(self, ErrorKind::Closed | ErrorKind::Read | ErrorKind::Write)
    }
}

/// A failed request or connection attempt: the kind that is counted and the error behind it
/// (kept only as an example for the report).
#[derive(Debug)]
pub(crate) struct Failure {
    pub kind: ErrorKind,
    pub error: io::Error,
}

impl Failure {
    pub fn new(kind: ErrorKind, error: io::Error) -> Self {
        Failure { kind, error }
    }

    pub fn message(kind: ErrorKind, message: &'static str) -> Self {
        Failure::new(kind, io::Error::other(message))
    }
}

/// A configuration the engine refuses: what is wrong, with the values that say where. Each
/// message is written once, by the variant (or the small enum it carries).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid URL {url:?}: {problem}")]
    InvalidUrl { url: String, problem: UrlProblem },
    /// The Python client's origin (`scheme://host[:port]`) with a bracket left open.
    #[error("invalid IPv6 address in {origin:?}")]
    OriginIpv6 { origin: String },
    /// The Python client's origin with a port that is not a number from 0 to 65535.
    #[error("invalid port {port:?} in {origin:?} (0-65535)")]
    OriginPort { origin: String, port: String },
    #[error("unsupported scheme {0:?}: use http:// or https://")]
    UnsupportedScheme(String),
    /// A URL without `http://` or `https://`, and the URL it most likely meant.
    #[error("the URL {url:?} lacks http:// or https://; did you mean {suggested:?}?")]
    MissingScheme { url: String, suggested: String },
    #[error("{0} must be greater than zero")]
    NotPositive(&'static str),
    /// A duration, timeout or connect timeout beyond the engine's limit.
    #[error("{0} must be at most one year")]
    AtMostAYear(&'static str),
    #[error("rate must be at least {minimum} requests per second")]
    RateBelowMinimum { minimum: f64 },
    /// A header HTTP/2 forbids (RFC 9113 §8.2.2): it is about one connection, which HTTP/2
    /// manages itself.
    #[error(
        "HTTP/2 forbids the connection-specific header {name:?} (RFC 9113 §8.2.2): remove it \
         for --http2 (TE may only be \"trailers\")"
    )]
    Http2ForbiddenHeader { name: String },
    /// More streams per connection (`--streams`) than any server allows.
    #[error(
        "--streams must be at most {max}: servers allow 100 to 1,000 streams per connection \
         (nginx 128); use more connections (-c) for more requests in flight"
    )]
    TooManyStreams { max: usize },
    /// An HTTP/2 receive window (`--h2-window`, `--h2-connection-window`) out of range.
    #[error("HTTP/2 windows must be from {min} to {max} bytes")]
    Http2Window { min: u32, max: u32 },
    /// Options that cannot go together, or one that needs another.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// A rate or connection ramp (`--stage`, `--connection-stage`) that cannot run.
    #[error("{ramp} {problem}")]
    Stage {
        ramp: StageRamp,
        problem: StageProblem,
    },
    /// A scenario request refused on its own; `name` is its statistics name, credentials
    /// redacted.
    #[error("scenario request {name:?}: {problem}")]
    ScenarioRequest {
        name: String,
        problem: ScenarioProblem,
    },
    #[error(
        "the base URL of a scenario cannot have a query ({url}): put it in the requests' paths"
    )]
    ScenarioBaseQuery { url: String },
    /// A placeholder that cannot be parsed or rendered, in `place` of `request`.
    #[error("template in {place} of {request}: {problem}")]
    Template {
        request: RequestRef,
        place: TemplatePlace,
        problem: TemplateProblem,
    },
    /// A templated request that cannot be sent as a whole.
    #[error("{request}: {problem}")]
    TemplatedRequest {
        request: RequestRef,
        problem: TemplatedRequestProblem,
    },
    /// A file the configuration names (a CA, a client certificate or key) that cannot serve.
    #[error("{}", file_message(*.role, .path, .problem))]
    File {
        role: FileRole,
        path: PathBuf,
        problem: FileProblem,
    },
    #[error(transparent)]
    Tls(#[from] TlsProblem),
    #[error(transparent)]
    Request(#[from] ringload_http1::RequestError),
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
}

/// Options that cannot go together, or one that needs another.
/// What is wrong with a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("CR, LF and NUL are not allowed")]
    ControlCharacters,
    #[error("missing host")]
    MissingHost,
    #[error("missing port")]
    MissingPort,
    /// The URL parser's own words.
    #[error("{0}")]
    Unparsable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error(
        "a connection per request (keep-alive disabled) cannot pipeline: pipelined \
         requests need a kept-alive connection; drop one of the two"
    )]
    PipelineWithoutKeepAlive,
    #[error(
        "connection stages ramp the closed model; for the open model, ramp the rate \
         with rate stages (--stage) and set the connections with -c"
    )]
    ConnectionStagesWithRate,
    #[error(
        "connections and connection stages both set the connections: the run opens \
         as many as the stages' peak, so give only the stages"
    )]
    ConnectionsAndConnectionStages,
    #[error("set a duration or a number of requests")]
    NoDurationNorRequests,
    #[error("a client key needs its certificate: give --cert too")]
    KeyWithoutCertificate,
    #[error(
        "HTTP/2 does not pipeline: it multiplexes; use --streams N for N requests in flight \
         per connection"
    )]
    PipelineWithHttp2,
    #[error(
        "HTTP/2 has no connection per request (no `Connection: close`): drop \
         --disable-keepalive, or --http2"
    )]
    Http2WithoutKeepAlive,
}

/// Which target a ramp moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageRamp {
    /// The open model's requests per second (`--stage`).
    Rate,
    /// The closed model's connections in use (`--connection-stage`).
    Connections,
}

impl std::fmt::Display for StageRamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StageRamp::Rate => "rate",
            StageRamp::Connections => "connection",
        })
    }
}

/// What is wrong with a ramp; `index` counts stages from 1, as the user does.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum StageProblem {
    #[error("stages: give at least one")]
    Empty,
    #[error("stages start from {0}: use a number of at least zero")]
    Start(f64),
    #[error("stage {index}: the duration must be more than zero and at most a year")]
    Duration { index: usize },
    #[error("stage {index}: the target {target} must be a number of at least zero")]
    Target { index: usize, target: f64 },
    #[error("stages never reach one connection: give a stage a target of at least 1")]
    NeverOneConnection,
}

/// What is wrong with one request of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioProblem {
    #[error("weight must be a positive integer")]
    ZeroWeight,
    #[error("put credentials in the base URL or an Authorization header, not in a request URL")]
    CredentialsInUrl,
    #[error("{target:?} must be a path starting with '/' or an absolute http(s) URL")]
    BadTarget { target: String },
    /// An absolute URL on another origin than the run's base URL (both shown redacted).
    #[error("{url} is not on {base}; every request of a scenario goes to the same origin")]
    OtherOrigin { url: String, base: String },
}

/// The request a template error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestRef {
    /// The run's single request (`--template`), by its URL as reports show it.
    Single { url: String },
    /// A scenario request, by its statistics name (credentials redacted).
    Scenario { name: String },
}

impl std::fmt::Display for RequestRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestRef::Single { url } => write!(f, "the request {url}"),
            RequestRef::Scenario { name } => write!(f, "scenario request {name:?}"),
        }
    }
}

/// Which part of a request a template is in: what its values may contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplatePlace {
    /// The request target: visible ASCII, no spaces.
    Path,
    /// A header value: no CR, LF, NUL or other control characters except tab.
    Header,
    /// The body: anything.
    Body,
}

impl std::fmt::Display for TemplatePlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TemplatePlace::Path => "the path",
            TemplatePlace::Header => "a header value",
            TemplatePlace::Body => "the body",
        })
    }
}

/// What is wrong with one placeholder (`placeholder` is its text between the braces).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateProblem {
    #[error("{{{{ without a closing }}}} in {text:?}; write \\{{{{ for literal braces")]
    Unclosed { text: String },
    #[error("{{{{{placeholder}}}}}: write {usage}")]
    Usage {
        placeholder: String,
        usage: &'static str,
    },
    #[error("{{{{{placeholder}}}}}: {text:?} is not an integer")]
    NotAnInteger { placeholder: String, text: String },
    #[error("{{{{{placeholder}}}}}: LO {low} is above HI {high}")]
    LowAboveHigh {
        placeholder: String,
        low: i64,
        high: i64,
    },
    #[error("{{{{}}}} is empty: name a function (seq, rand_int, uuid, choice, line, rand_line)")]
    Empty,
    #[error(
        "unknown function {name:?} in {{{{{placeholder}}}}}: use seq, rand_int, uuid, \
         choice, line or rand_line"
    )]
    UnknownFunction { name: String, placeholder: String },
    /// A file of lines (`{{line FILE}}`) that cannot be read: the reason from the system.
    #[error("cannot read {}: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{} has no lines", .path.display())]
    NoLines { path: PathBuf },
    /// A value given in the placeholder (`{{choice a b}}`) that `place` cannot hold.
    #[error(
        "the value {value:?} cannot go in {place} (spaces and control characters \
         are not allowed there)"
    )]
    ValueNotAllowed { value: String, place: TemplatePlace },
}

/// What is wrong with a templated request as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplatedRequestProblem {
    /// The request's text has the stand-in the template encoder uses for placeholders.
    #[error("the text {marker:?} is reserved in templated requests")]
    ReservedText { marker: &'static str },
    #[error(
        "a templated body's length changes from request to request; remove \
         the Content-Length header and ringload sets it for each one"
    )]
    BodyWithContentLength,
}

/// What a file named by the configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// A PEM file of trusted certificates (`--cacert`, `verify="ca.pem"`).
    CaFile,
    /// A directory of them (`verify="certs/"`).
    CaDirectory,
    /// The client certificate chain (mTLS).
    ClientCertificate,
    /// Its private key.
    ClientKey,
}

impl std::fmt::Display for FileRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileRole::CaFile => "CA file",
            FileRole::CaDirectory => "CA directory",
            FileRole::ClientCertificate => "the client certificate",
            FileRole::ClientKey => "the client key",
        })
    }
}

/// Why a file cannot serve its role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    #[error("does not exist")]
    Missing,
    /// It could not be read or parsed: the reason from the system or the PEM parser.
    #[error("{0}")]
    Unreadable(String),
    #[error("no PEM certificate in it")]
    NoPemCertificate,
    #[error("no PEM private key in it")]
    NoPemKey,
    /// A key encrypted with a passphrase, which rustls cannot open.
    #[error("the key is encrypted with a passphrase, which ringload cannot use")]
    EncryptedKey,
}

/// The message of [`ConfigError::File`].
fn file_message(role: FileRole, path: &Path, problem: &FileProblem) -> String {
    let path = path.display();
    match (role, problem) {
        (_, FileProblem::Missing) => format!("{role} {path} {problem}"),
        (FileRole::CaDirectory, FileProblem::NoPemCertificate) => {
            format!("no PEM certificate in the {role} {path}")
        }
        (_, FileProblem::EncryptedKey) => format!(
            "cannot read {role} {path}: {problem}; decrypt it once \
             (`openssl pkey -in {path} -out {path}.plain`) and give that file"
        ),
        (_, problem) => format!("cannot read {role} {path}: {problem}"),
    }
}

/// A TLS client configuration that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsProblem {
    #[error("no TLS version left to negotiate: ringload speaks TLS 1.2 and 1.3")]
    NoVersion,
    /// rustls refused to build the configuration: its message.
    #[error("TLS setup failed: {0}")]
    Setup(String),
    /// rustls refused a trusted CA certificate: its message.
    #[error("a trusted CA is unusable: {0}")]
    UnusableCa(String),
    #[error("the client key {} needs its certificate too", .key.display())]
    KeyWithoutCertificate { key: PathBuf },
    /// The key provider refused the key: its message.
    #[error(
        "cannot use the client certificate {} with the key {}: {reason}",
        .certificate.display(),
        .key.display()
    )]
    UnusableKey {
        certificate: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error(
        "the client key {} does not go with the certificate {}; give the key of that \
         certificate (--key, key=, or load_cert_chain's keyfile)",
        .key.display(),
        .certificate.display()
    )]
    KeyMismatch { certificate: PathBuf, key: PathBuf },
    #[error("{host:?} is not a valid TLS server name")]
    ServerName { host: String },
    /// A client certificate for a run whose URL (shown redacted) is `http://`.
    #[error("a client certificate is sent over TLS only; {url} is http://")]
    CertificateOverHttp { url: String },
}

/// Why a run could not happen (as opposed to requests failing, which the report counts).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("io_uring is not available here ({0}); use --io epoll or --io auto")]
    UringUnavailable(&'static str),
    #[error("{0}")]
    Worker(String),
    /// [`crate::load::Run::set_connections`] on a run whose connections are fixed: by a
    /// schedule, or by a request budget (each worker spends its share with its own
    /// connections, so one left with none would never finish).
    #[error(
        "this run's connections are fixed by its connection stages, its rate or its request \
         budget; only a closed-model run for a duration changes its connections while it runs"
    )]
    FixedConnections,
    /// [`crate::load::Run::set_connections`] above what the run started with.
    #[error(
        "{asked} connections asked, but this run started with {ceiling}: start it with at \
         least {asked} connections"
    )]
    AboveConnectionCeiling { asked: usize, ceiling: usize },
    /// [`crate::load::Run::add_user`] on a run not started with
    /// [`crate::load::Run::start_users`].
    #[error("users are added only to a run started for native users")]
    NotNativeUsers,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message as it was written before the errors carried their fields.
    #[test]
    fn messages_read_as_before() {
        let path = |p: &str| PathBuf::from(p);
        let cases: Vec<(ConfigError, &str)> = vec![
            (
                ConfigError::MissingScheme {
                    url: "localhost:8080".into(),
                    suggested: "http://localhost:8080".into(),
                },
                r#"the URL "localhost:8080" lacks http:// or https://; did you mean "http://localhost:8080"?"#,
            ),
            (
                ConfigError::AtMostAYear("connect timeout"),
                "connect timeout must be at most one year",
            ),
            (
                ConfigError::RateBelowMinimum { minimum: 0.001 },
                "rate must be at least 0.001 requests per second",
            ),
            (
                Conflict::PipelineWithoutKeepAlive.into(),
                "a connection per request (keep-alive disabled) cannot pipeline: pipelined \
                 requests need a kept-alive connection; drop one of the two",
            ),
            (
                Conflict::ConnectionStagesWithRate.into(),
                "connection stages ramp the closed model; for the open model, ramp the rate \
                 with rate stages (--stage) and set the connections with -c",
            ),
            (
                Conflict::ConnectionsAndConnectionStages.into(),
                "connections and connection stages both set the connections: the run opens \
                 as many as the stages' peak, so give only the stages",
            ),
            (
                Conflict::NoDurationNorRequests.into(),
                "set a duration or a number of requests",
            ),
            (
                Conflict::KeyWithoutCertificate.into(),
                "a client key needs its certificate: give --cert too",
            ),
            (
                ConfigError::Stage {
                    ramp: StageRamp::Connections,
                    problem: StageProblem::NeverOneConnection,
                },
                "connection stages never reach one connection: give a stage a target of \
                 at least 1",
            ),
            (
                ConfigError::ScenarioRequest {
                    name: "/a".into(),
                    problem: ScenarioProblem::ZeroWeight,
                },
                r#"scenario request "/a": weight must be a positive integer"#,
            ),
            (
                ConfigError::ScenarioRequest {
                    name: "http://h/a".into(),
                    problem: ScenarioProblem::CredentialsInUrl,
                },
                "scenario request \"http://h/a\": put credentials in the base URL or an \
                 Authorization header, not in a request URL",
            ),
            (
                ConfigError::ScenarioRequest {
                    name: "a".into(),
                    problem: ScenarioProblem::BadTarget { target: "a".into() },
                },
                r#"scenario request "a": "a" must be a path starting with '/' or an absolute http(s) URL"#,
            ),
            (
                ConfigError::ScenarioRequest {
                    name: "other".into(),
                    problem: ScenarioProblem::OtherOrigin {
                        url: "http://other/x".into(),
                        base: "http://h/".into(),
                    },
                },
                "scenario request \"other\": http://other/x is not on http://h/; every request \
                 of a scenario goes to the same origin",
            ),
            (
                ConfigError::ScenarioBaseQuery {
                    url: "http://h/api?key=1".into(),
                },
                "the base URL of a scenario cannot have a query (http://h/api?key=1): put it in \
                 the requests' paths",
            ),
            (
                ConfigError::TemplatedRequest {
                    request: RequestRef::Scenario { name: "x".into() },
                    problem: TemplatedRequestProblem::ReservedText { marker: "rLtPlMk" },
                },
                r#"scenario request "x": the text "rLtPlMk" is reserved in templated requests"#,
            ),
            (
                ConfigError::File {
                    role: FileRole::CaFile,
                    path: path("/x/ca.pem"),
                    problem: FileProblem::Missing,
                },
                "CA file /x/ca.pem does not exist",
            ),
            (
                ConfigError::File {
                    role: FileRole::CaFile,
                    path: path("/x/ca.pem"),
                    problem: FileProblem::Unreadable("No such file or directory".into()),
                },
                "cannot read CA file /x/ca.pem: No such file or directory",
            ),
            (
                ConfigError::File {
                    role: FileRole::CaFile,
                    path: path("/x/ca.pem"),
                    problem: FileProblem::NoPemCertificate,
                },
                "cannot read CA file /x/ca.pem: no PEM certificate in it",
            ),
            (
                ConfigError::File {
                    role: FileRole::CaDirectory,
                    path: path("/x/certs"),
                    problem: FileProblem::Unreadable("Permission denied".into()),
                },
                "cannot read CA directory /x/certs: Permission denied",
            ),
            (
                ConfigError::File {
                    role: FileRole::CaDirectory,
                    path: path("/x/certs"),
                    problem: FileProblem::NoPemCertificate,
                },
                "no PEM certificate in the CA directory /x/certs",
            ),
            (
                ConfigError::File {
                    role: FileRole::ClientCertificate,
                    path: path("/x/client.pem"),
                    problem: FileProblem::NoPemCertificate,
                },
                "cannot read the client certificate /x/client.pem: no PEM certificate in it",
            ),
            (
                ConfigError::File {
                    role: FileRole::ClientKey,
                    path: path("/x/client.key"),
                    problem: FileProblem::NoPemKey,
                },
                "cannot read the client key /x/client.key: no PEM private key in it",
            ),
            (
                ConfigError::File {
                    role: FileRole::ClientKey,
                    path: path("/x/client.key"),
                    problem: FileProblem::EncryptedKey,
                },
                "cannot read the client key /x/client.key: the key is encrypted with a \
                 passphrase, which ringload cannot use; decrypt it once (`openssl pkey -in \
                 /x/client.key -out /x/client.key.plain`) and give that file",
            ),
            (
                TlsProblem::NoVersion.into(),
                "no TLS version left to negotiate: ringload speaks TLS 1.2 and 1.3",
            ),
            (
                TlsProblem::Setup("oops".into()).into(),
                "TLS setup failed: oops",
            ),
            (
                TlsProblem::UnusableCa("bad".into()).into(),
                "a trusted CA is unusable: bad",
            ),
            (
                TlsProblem::KeyWithoutCertificate {
                    key: path("/x/client.key"),
                }
                .into(),
                "the client key /x/client.key needs its certificate too",
            ),
            (
                TlsProblem::UnusableKey {
                    certificate: path("/x/client.pem"),
                    key: path("/x/client.key"),
                    reason: "unsupported".into(),
                }
                .into(),
                "cannot use the client certificate /x/client.pem with the key /x/client.key: \
                 unsupported",
            ),
            (
                TlsProblem::KeyMismatch {
                    certificate: path("/x/client.pem"),
                    key: path("/x/other.key"),
                }
                .into(),
                "the client key /x/other.key does not go with the certificate /x/client.pem; \
                 give the key of that certificate (--key, key=, or load_cert_chain's keyfile)",
            ),
            (
                TlsProblem::ServerName { host: "a b".into() }.into(),
                r#""a b" is not a valid TLS server name"#,
            ),
            (
                TlsProblem::CertificateOverHttp {
                    url: "http://h/".into(),
                }
                .into(),
                "a client certificate is sent over TLS only; http://h/ is http://",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message, "{error:?}");
        }
    }
}
