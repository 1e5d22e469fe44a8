//! Sans-IO HTTP/2 client protocol for ringload (RFC 9113, RFC 7541).
//!
//! Nothing here touches a socket. The engine owns the connection's I/O and:
//! - opens requests with [`ClientConnection::open`] while [`ClientConnection::can_open`] says the
//!   server allows another stream;
//! - writes what [`ClientConnection::take_output`] hands it (preface, SETTINGS, HEADERS, DATA,
//!   acknowledgements and window updates of any number of streams, in one buffer);
//! - feeds what it read to [`ClientConnection::receive`], which calls a [`Handler`] for every
//!   response field, head, body chunk and stream end, and returns how many bytes it used.
//!
//! Receive windows default to 2^30-1, as h2load's and oha's do. Every limit is a named constant.

// Parsing untrusted bytes: safe Rust only, so a malformed frame can never be memory-unsafe.
#![forbid(unsafe_code)]

pub mod conn;
pub mod events;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod hpack;
pub mod request;

pub use conn::{ClientConnection, Config};
pub use events::{ConnectionError, Handler, Section, StreamEnd};
pub use frame::ErrorCode;
pub use request::RequestHead;
