//! The client's results: a response (head, fields, body, or a streamed body), and the completion
//! that carries it or a failure back to the caller.

use std::sync::Arc;

use super::body_stream::BodyStream;
use super::failure::ClientFailure;

/// Response header fields in order, in one buffer: a response's fields cost two allocations,
/// not two per field (names are ASCII as parsed; values are bytes, since HTTP allows obs-text).
#[derive(Debug, Clone, Default)]
pub struct ResponseHeaders {
    pub(crate) text: Vec<u8>,
    /// Per field: where its name ends (its value starts) and where its value ends in `text`.
    pub(crate) ends: Vec<(u32, u32)>,
}

impl ResponseHeaders {
    pub fn push(&mut self, name: &str, value: &[u8]) {
        if self.text.capacity() == 0 {
            self.text.reserve(256);
            self.ends.reserve(8);
        }
        self.text.extend_from_slice(name.as_bytes());
        let name_end = self.text.len() as u32;
        self.text.extend_from_slice(value);
        self.ends.push((name_end, self.text.len() as u32));
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// `(name, value)` of each field, in the order received.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &[u8])> + '_ {
        let mut start = 0usize;
        self.ends.iter().map(move |&(name_end, value_end)| {
            let (name_end, value_end) = (name_end as usize, value_end as usize);
            let name = std::str::from_utf8(&self.text[start..name_end]).unwrap_or("");
            let value = &self.text[name_end..value_end];
            start = value_end;
            (name, value)
        })
    }

    /// Every value of `name` (case-insensitive), in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// A complete response.
#[derive(Debug, Clone, Default)]
pub struct ClientResponse {
    pub status: u16,
    /// The reason phrase the server sent ("Not Found"), as Latin-1 text.
    pub reason: String,
    pub headers: ResponseHeaders,
    /// The body, decoded when the request asked for it.
    pub body: Vec<u8>,
    /// Body bytes as received, before decoding.
    pub wire_body_len: usize,
    /// From the start of the request (before connecting) to the complete response head.
    pub head_us: u64,
    /// From the start of the request to the end of the body.
    pub total_us: u64,
    /// The request went out on a kept-alive connection.
    pub reused_connection: bool,
    /// A streamed request's body, still arriving (`body` is empty then).
    pub stream: Option<Arc<BodyStream>>,
}

pub struct Completion {
    pub token: u64,
    pub outcome: Outcome,
}

/// What a completion reports.
#[derive(Debug)]
pub enum Outcome {
    Response(ClientResponse),
    Failure(ClientFailure),
    /// A streamed body has more to take, or has ended ([`BodyStream::wait`]'s token).
    BodyReadable,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_headers_keep_order_bytes_and_repeated_fields() {
        let mut headers = ResponseHeaders::default();
        assert!(headers.is_empty());
        headers.push("Set-Cookie", b"a=1");
        headers.push("Content-Type", b"text/plain");
        headers.push("set-cookie", b"b=\xe92");
        headers.push("X-Empty", b"");
        assert_eq!(headers.len(), 4);
        let all: Vec<_> = headers.iter().collect();
        assert_eq!(
            all,
            [
                ("Set-Cookie", &b"a=1"[..]),
                ("Content-Type", &b"text/plain"[..]),
                ("set-cookie", &b"b=\xe92"[..]),
                ("X-Empty", &b""[..]),
            ]
        );
        let cookies: Vec<_> = headers.values("SET-COOKIE").collect();
        assert_eq!(cookies, [&b"a=1"[..], &b"b=\xe92"[..]]);
        assert_eq!(headers.values("missing").count(), 0);
        headers.clear();
        assert!(headers.is_empty() && headers.iter().next().is_none());
    }
}
