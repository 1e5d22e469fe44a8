//! What a connection reports while it reads: fields, heads, bodies and how each stream ended,
//! through a [`Handler`]; and why a connection could not go on.

use crate::frame::ErrorCode;

/// Which part of a response a decoded field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// A 1xx head, before the final one.
    Informational,
    Head,
    Trailers,
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The whole response arrived.
    Complete,
    /// The server reset the stream with this code.
    Reset(ErrorCode),
    /// The server refused the stream (REFUSED_STREAM) or went away below it: it was never
    /// processed, so sending it again is safe.
    NotProcessed,
    /// The response broke HTTP/2's rules for a message; the stream was reset.
    Malformed(&'static str),
}

/// What the connection reports while it reads.
pub trait Handler {
    /// Whether [`Handler::field`] should see every field. A handler that reads only the
    /// status says no: the values of fields the HPACK table does not keep are then skipped
    /// undecoded (their Huffman decoding is most of a response head's cost).
    fn wants_fields(&self) -> bool {
        true
    }
    /// A field of a response head or its trailers, pseudo-fields included.
    fn field(&mut self, _stream: u32, _section: Section, _name: &[u8], _value: &[u8]) {}
    /// The final response head of `stream` arrived.
    fn head(&mut self, stream: u32, status: u16);
    /// Part of `stream`'s response body.
    fn data(&mut self, _stream: u32, _data: &[u8]) {}
    /// `stream` is over; nothing more is reported of it.
    fn end(&mut self, stream: u32, end: StreamEnd);
    /// The server is going away: streams above `last_stream` end next, as not processed.
    fn goaway(&mut self, _last_stream: u32, _code: ErrorCode) {}
}

/// The connection cannot go on. A GOAWAY with `code` is queued for the server; every stream
/// still open is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionError {
    pub code: ErrorCode,
    pub reason: &'static str,
}

impl ConnectionError {
    /// The reason given when the server answered the preface in HTTP/1.x.
    pub const HTTP1_REPLY: &'static str = "the server answered in HTTP/1.x";
}
