//! Why a request of the client got no response ([`ClientFailure`]): the leaf that both a
//! response's streamed body and the completions use.

use std::io;

use crate::error::ErrorKind;

/// Why no response arrived.
#[derive(Debug, Clone)]
pub struct ClientFailure {
    pub kind: ErrorKind,
    /// The OS error behind it (`ECONNREFUSED`, `ETIMEDOUT`, ...), also for causes the engine
    /// detected itself (a connect timeout is `ETIMEDOUT`); `None` when no OS error fits.
    pub errno: Option<i32>,
    pub message: String,
    /// From the start of the request (before connecting) to the failure: what a timed-out or
    /// refused request still reports as its response time.
    pub elapsed_us: u64,
}

/// The errno an I/O error stands for (also when it wraps the OS error, as
/// [`crate::net::proxy::ProxyUnreachable`] does).
pub(crate) fn errno_of(error: &io::Error) -> Option<i32> {
    let wrapped = || {
        let source = std::error::Error::source(error.get_ref()?)?;
        source.downcast_ref::<io::Error>()?.raw_os_error()
    };
    error
        .raw_os_error()
        .or_else(wrapped)
        .or(match error.kind() {
            io::ErrorKind::TimedOut => Some(libc::ETIMEDOUT),
            io::ErrorKind::ConnectionRefused => Some(libc::ECONNREFUSED),
            io::ErrorKind::ConnectionReset => Some(libc::ECONNRESET),
            io::ErrorKind::ConnectionAborted => Some(libc::ECONNABORTED),
            io::ErrorKind::BrokenPipe => Some(libc::EPIPE),
            io::ErrorKind::AddrNotAvailable => Some(libc::EADDRNOTAVAIL),
            _ => None,
        })
}
