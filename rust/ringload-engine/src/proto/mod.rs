//! The protocol seam: how requests and responses travel over a connection. This file holds
//! what every protocol's driver reports into ([`ResponseSink`], [`Responses`], [`ResponseEnd`]).
//! A protocol brings two things: its requests' wire form, made once per run from the parsed
//! request and its templates (`h1::render::WireRequest`), and a connection driver that
//! writes requests and reads their responses into a [`Responses`] (`h1::conn::Connection`).
//! The load workers use nothing else of HTTP/1.1. The Python client's requests still come
//! encoded (the binding encodes them on the Python thread, which keeps the engine thread's
//! work per request small); HTTP/2 will hand it the parts instead. HTTP/2 gets a sibling of
//! `h1`.

pub(crate) mod h1;
pub(crate) mod h2;

use std::time::Instant;

/// Receives what a response carries. The load path uses [`Discard`]; every method defaults to
/// doing nothing so that path compiles to no work.
pub(crate) trait ResponseSink {
    fn header(&mut self, _name: &str, _value: &[u8]) {}
    /// The fields seen so far belonged to an interim (1xx) response: forget them.
    fn discard_headers(&mut self) {}
    /// The final head's reason phrase, as received.
    fn reason(&mut self, _phrase: &[u8]) {}
    /// The final head is complete.
    fn head_complete(&mut self, _status: u16) {}
    fn body(&mut self, _data: &[u8]) {}
    /// Before more of the body is read from the socket: a sink whose reader is behind waits
    /// here, so the socket is not read meanwhile (back-pressure).
    async fn ready_for_more(&mut self) {}
}

/// Keeps nothing.
pub(crate) struct Discard;
impl ResponseSink for Discard {}

/// What one response amounted to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseEnd {
    pub status: u16,
    /// The connection may carry another request.
    pub keep_alive: bool,
    /// When the response began to arrive (its first byte was there to parse).
    pub first_byte_at: Instant,
    /// The body's length as received, framing removed (what Locust counts as its content
    /// length when no `Content-Encoding` applies).
    pub body_len: u64,
}

/// The responses one exchange expects, in the order the requests were written.
pub(crate) trait Responses {
    type Sink: ResponseSink;
    fn len(&self) -> usize;
    /// Request `i` was a HEAD: its response has no body whatever its headers say.
    fn is_head(&self, i: usize) -> bool;
    /// Where response `i`'s head and body go.
    fn sink(&mut self, i: usize) -> &mut Self::Sink;
    /// Response `i` is complete.
    fn complete(&mut self, i: usize, end: ResponseEnd);
}
