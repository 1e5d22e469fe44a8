//! Response head parsing and message framing (RFC 9112 §6.3).

use crate::limits::{MAX_HEADERS, MAX_HEAD_BYTES};

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all: HEAD responses, 1xx, 204 and 304, whatever their headers say.
    Empty,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked` as the final coding.
    Chunked,
    /// No framing: the body ends when the server closes the connection.
    CloseDelimited,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// A parsed response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub version: Version,
    /// Bytes of the head, including the empty line; the body starts right after.
    pub head_len: usize,
    pub framing: Framing,
    /// Whether the connection may carry another request after this response.
    pub keep_alive: bool,
    /// Where the reason phrase ("Not Found") lies in the parsed buffer, as `(start, len)`.
    pub reason: (usize, usize),
}

impl ResponseHead {
    /// An interim response (100 Continue, 103 Early Hints, ...) to skip before the final one.
    pub fn is_informational(&self) -> bool {
        (100..200).contains(&self.status)
    }
}

/// Why a response head was rejected. `is_framing()` separates "the message boundaries cannot be
/// trusted" from "the head is not HTTP/1.x at all".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("invalid status line")]
    InvalidStatusLine,
    #[error("unsupported HTTP version")]
    InvalidVersion,
    #[error("invalid header field")]
    InvalidHeader,
    #[error("more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    #[error("response head larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error("connection closed in the middle of the response head")]
    IncompleteHead,
    #[error("unexpected 101 Switching Protocols")]
    UnexpectedUpgrade,
    #[error("too many interim (1xx) responses")]
    TooManyInformational,
    #[error("invalid Content-Length")]
    InvalidContentLength,
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
}

impl HeadError {
    /// True when the head parsed but its body framing is invalid or unsupported.
    pub fn is_framing(&self) -> bool {
        matches!(
            self,
            HeadError::InvalidContentLength
                | HeadError::ConflictingContentLength
                | HeadError::UnsupportedTransferCoding
        )
    }
}

/// Parses a response head from the start of `buf`.
///
/// `request_was_head` must be true when the request method was HEAD (its response has no body).
/// `on_header` sees every field as received, for callers that keep headers (the hot path passes a
/// no-op closure). Returns `Ok(None)` when `buf` holds only part of a head and is still under
/// [`MAX_HEAD_BYTES`].
pub fn parse_response_head(
    buf: &[u8],
    request_was_head: bool,
    mut on_header: impl FnMut(&str, &[u8]),
) -> Result<Option<ResponseHead>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= MAX_HEAD_BYTES {
                Err(HeadError::HeadTooLarge)
            } else {
                Ok(None)
            };
        }
        Err(e) => return Err(map_httparse_error(e)),
    };
    if head_len > MAX_HEAD_BYTES {
        return Err(HeadError::HeadTooLarge);
    }
    let status = response.code.ok_or(HeadError::InvalidStatusLine)?;
    // httparse's reason borrows `buf`, so its offset is a pointer difference.
    let reason = response.reason.map_or((0, 0), |phrase| {
        (
            phrase.as_ptr() as usize - buf.as_ptr() as usize,
            phrase.len(),
        )
    });
    let version = match response.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(HeadError::InvalidVersion),
    };
    if !(100..=999).contains(&status) {
        return Err(HeadError::InvalidStatusLine);
    }
    if status == 101 {
        return Err(HeadError::UnexpectedUpgrade);
    }

    let mut fields_seen = FieldSummary::default();
    for field in response.headers.iter() {
        on_header(field.name, field.value);
        fields_seen.observe(field.name, field.value)?;
    }

    let mut keep_alive = match version {
        Version::Http11 => !fields_seen.connection_close,
        Version::Http10 => fields_seen.connection_keep_alive && !fields_seen.connection_close,
    };
    let no_body =
        request_was_head || (100..200).contains(&status) || status == 204 || status == 304;
    let framing = if no_body {
        Framing::Empty
    } else if let Some(transfer) = fields_seen.transfer_encoding {
        // Transfer-Encoding overrides Content-Length; a message carrying both is a smuggling
        // signal, so the body is read but the connection is not reused (RFC 9112 §6.3).
        if fields_seen.content_length.is_some() {
            keep_alive = false;
        }
        transfer
    } else if let Some(n) = fields_seen.content_length {
        Framing::Length(n)
    } else {
        Framing::CloseDelimited
    };
    if framing == Framing::CloseDelimited {
        keep_alive = false;
    }
    Ok(Some(ResponseHead {
        status,
        version,
        head_len,
        framing,
        keep_alive,
        reason,
    }))
}

fn map_httparse_error(e: httparse::Error) -> HeadError {
    match e {
        httparse::Error::HeaderName | httparse::Error::HeaderValue => HeadError::InvalidHeader,
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders,
        httparse::Error::Version => HeadError::InvalidVersion,
        httparse::Error::NewLine | httparse::Error::Status | httparse::Error::Token => {
            HeadError::InvalidStatusLine
        }
    }
}

/// The header fields that decide framing and connection reuse.
#[derive(Default)]
struct FieldSummary {
    content_length: Option<u64>,
    transfer_encoding: Option<Framing>,
    connection_close: bool,
    connection_keep_alive: bool,
}

impl FieldSummary {
    fn observe(&mut self, name: &str, value: &[u8]) -> Result<(), HeadError> {
        if name.eq_ignore_ascii_case("content-length") {
            for item in value.split(|&b| b == b',') {
                let n = parse_decimal(trim_ows(item)).ok_or(HeadError::InvalidContentLength)?;
                match self.content_length {
                    Some(previous) if previous != n => {
                        return Err(HeadError::ConflictingContentLength)
                    }
                    _ => self.content_length = Some(n),
                }
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            self.transfer_encoding = Some(transfer_framing(value, self.transfer_encoding)?);
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',').map(trim_ows) {
                if token.eq_ignore_ascii_case(b"close") {
                    self.connection_close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    self.connection_keep_alive = true;
                }
            }
        }
        Ok(())
    }
}

/// Codings a server may list before `chunked`; the load generator does not decode the payload of
/// transfer codings, it only needs the framing, so known compressions are accepted.
const KNOWN_TRANSFER_CODINGS: [&[u8]; 6] = [
    b"gzip",
    b"x-gzip",
    b"deflate",
    b"compress",
    b"x-compress",
    b"identity",
];

/// Framing from one Transfer-Encoding field, given what earlier fields said (the codings of
/// repeated fields form one list).
fn transfer_framing(value: &[u8], earlier: Option<Framing>) -> Result<Framing, HeadError> {
    let mut framing = earlier.unwrap_or(Framing::CloseDelimited);
    for token in value.split(|&b| b == b',').map(trim_ows) {
        if token.is_empty() {
            continue;
        }
        if token.eq_ignore_ascii_case(b"chunked") {
            // Chunked applied twice is malformed.
            if framing == Framing::Chunked {
                return Err(HeadError::UnsupportedTransferCoding);
            }
            framing = Framing::Chunked;
        } else if KNOWN_TRANSFER_CODINGS
            .iter()
            .any(|known| token.eq_ignore_ascii_case(known))
        {
            // A coding after chunked means chunked is not final: the body is close-delimited.
            framing = Framing::CloseDelimited;
        } else {
            return Err(HeadError::UnsupportedTransferCoding);
        }
    }
    Ok(framing)
}

/// Strict decimal: digits only, no sign, no overflow.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}
