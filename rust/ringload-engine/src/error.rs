//! The engine's error types, below every module that fails: why a request failed
//! ([`ErrorKind`], [`Failure`]), why a configuration is refused ([`ConfigError`]) and why a run
//! could not happen ([`RunError`]).

use std::io;

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

/// Why a run could not happen (as opposed to requests failing, which the report counts).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("io_uring is not available here ({0}); use --io epoll or --io auto")]
    UringUnavailable(&'static str),
    #[error("{0}")]
    Worker(String),
    /// [`crate::load::Run::set_connections`] on a run whose connections follow a schedule.
    #[error(
        "this run's connections follow its connection stages or its rate; only a closed-model \
         run without connection stages changes its connections while it runs"
    )]
    ScheduledConnections,
    /// [`crate::load::Run::set_connections`] above what the run started with.
    #[error(
        "{asked} connections asked, but this run started with {ceiling}: start it with at \
         least {asked} connections"
    )]
    AboveConnectionCeiling { asked: usize, ceiling: usize },
}
