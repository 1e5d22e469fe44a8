//! Reading requests: the bounded input buffer, head parsing and body framing.

use std::io::{self, ErrorKind, Read};

/// The route whose reply lists the request headers (`routes`); the parser collects header
/// lines only for it, so the constant lives here, below the routes.
pub(crate) const HEADERS_PATH: &str = "/headers";
/// Largest request head (and largest chunked trailer section) accepted.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted.
pub(crate) const MAX_BODY: u64 = 64 * 1024 * 1024;
const MAX_HEADERS: usize = 64;
/// Initial input buffer size; it grows to `MAX_HEAD` only for large heads.
const INITIAL_BUF: usize = 16 * 1024;

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum Error {
    /// The peer went away or the socket failed: nothing to answer.
    Gone,
    /// Answer with this status and close the connection.
    Reject(u16),
}

impl From<io::Error> for Error {
    fn from(_: io::Error) -> Self {
        Error::Gone
    }
}

const BAD_REQUEST: Error = Error::Reject(400);
const CONTENT_TOO_LARGE: Error = Error::Reject(413);
const HEAD_TOO_LARGE: Error = Error::Reject(431);

/// How the request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// The parts of a request head the server uses, copied out of the input buffer.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) is_head: bool,
    pub(crate) is_http10: bool,
    /// Request-target path, without query string.
    pub(crate) path: String,
    pub(crate) keep_alive: bool,
    pub(crate) framing: Framing,
    pub(crate) expect_continue: bool,
    pub(crate) content_type: Option<Vec<u8>>,
    /// `Name: value\n` per header; only collected for the `/headers` route.
    pub(crate) header_lines: Vec<u8>,
}

/// Bytes read from the peer but not yet consumed; pipelined requests wait here.
pub(crate) struct InBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

enum Fill {
    Data,
    Eof,
    /// `MAX_HEAD` unconsumed bytes are buffered; nothing more fits.
    Full,
}

impl InBuf {
    pub(crate) fn new() -> Self {
        InBuf {
            buf: vec![0; INITIAL_BUF],
            start: 0,
            end: 0,
        }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Consumes `n` buffered bytes and returns them. They stay valid until
    /// the next `fill`, which is all callers need.
    fn take(&mut self, n: usize) -> &[u8] {
        let start = self.start;
        self.start = (start + n).min(self.end);
        &self.buf[start..self.start]
    }

    /// Reads more bytes from `r` after whatever is buffered.
    fn fill(&mut self, r: &mut impl Read) -> io::Result<Fill> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_HEAD {
                return Ok(Fill::Full);
            }
            let grown = (self.buf.len() * 2).min(MAX_HEAD);
            self.buf.resize(grown, 0);
        }
        loop {
            match r.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    self.end += n;
                    return Ok(Fill::Data);
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// Like `fill`, but end of stream is an error: we are mid-request.
    fn fill_more(&mut self, r: &mut impl Read, when_full: Error) -> Result<(), Error> {
        match self.fill(r)? {
            Fill::Data => Ok(()),
            Fill::Eof => Err(Error::Gone),
            Fill::Full => Err(when_full),
        }
    }
}

/// Reads the next request head. `Ok(None)` means the peer closed the
/// connection cleanly between requests.
pub(crate) fn read_head(inb: &mut InBuf, r: &mut impl Read) -> Result<Option<Request>, Error> {
    loop {
        if !inb.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut parsed = httparse::Request::new(&mut headers);
            match parsed.parse(inb.data()) {
                Ok(httparse::Status::Complete(len)) => {
                    let request = Request::from_parsed(&parsed)?;
                    inb.take(len);
                    return Ok(Some(request));
                }
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => return Err(HEAD_TOO_LARGE),
                Err(_) => return Err(BAD_REQUEST),
            }
        }
        match inb.fill(r)? {
            Fill::Data => {}
            Fill::Eof if inb.is_empty() => return Ok(None),
            Fill::Eof => return Err(Error::Gone),
            Fill::Full => return Err(HEAD_TOO_LARGE),
        }
    }
}

impl Request {
    fn from_parsed(parsed: &httparse::Request<'_, '_>) -> Result<Request, Error> {
        let (Some(method), Some(target), Some(version)) =
            (parsed.method, parsed.path, parsed.version)
        else {
            return Err(BAD_REQUEST);
        };
        let is_http10 = version == 0;
        let path = target_path(target).to_owned();
        let collect_lines = path == HEADERS_PATH;

        let mut content_length: Option<u64> = None;
        let mut transfer_encoding: Option<&[u8]> = None;
        let mut close = false;
        let mut keep_alive = false;
        let mut expect_continue = false;
        let mut content_type = None;
        let mut header_lines = Vec::new();
        for header in parsed.headers.iter() {
            let name = header.name;
            let value = header.value;
            if collect_lines {
                header_lines.extend_from_slice(name.as_bytes());
                header_lines.extend_from_slice(b": ");
                header_lines.extend_from_slice(value);
                header_lines.push(b'\n');
            }
            if name.eq_ignore_ascii_case("content-length") {
                let length = parse_decimal(value).ok_or(BAD_REQUEST)?;
                // Repeated Content-Length is only tolerable if it agrees.
                if content_length.is_some_and(|previous| previous != length) {
                    return Err(BAD_REQUEST);
                }
                content_length = Some(length);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                // Only the last coding matters: it must be chunked.
                transfer_encoding = Some(value);
            } else if name.eq_ignore_ascii_case("connection") {
                for token in tokens(value) {
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            } else if name.eq_ignore_ascii_case("expect") {
                expect_continue = trim(value).eq_ignore_ascii_case(b"100-continue");
            } else if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.to_vec());
            }
        }

        let framing = match (transfer_encoding, content_length) {
            (None, None) => Framing::None,
            (None, Some(length)) if length > MAX_BODY => return Err(CONTENT_TOO_LARGE),
            (None, Some(length)) => Framing::Length(length),
            // Both at once is a request-smuggling shape; refuse it (RFC 9112 §6.3).
            (Some(_), Some(_)) => return Err(BAD_REQUEST),
            (Some(codings), None) => match tokens(codings).last() {
                Some(last) if last.eq_ignore_ascii_case(b"chunked") => Framing::Chunked,
                _ => return Err(BAD_REQUEST),
            },
        };

        Ok(Request {
            is_head: method == "HEAD",
            is_http10,
            path,
            keep_alive: !close && (!is_http10 || keep_alive),
            framing,
            // HTTP/1.0 clients do not understand 100 Continue.
            expect_continue: expect_continue && !is_http10,
            content_type,
            header_lines,
        })
    }
}

/// The path of a request target: origin-form as is, absolute-form without
/// scheme and authority, and without the query string either way.
fn target_path(target: &str) -> &str {
    let mut path = target;
    for scheme in ["http://", "https://"] {
        if let Some(rest) = target.strip_prefix(scheme) {
            path = rest.find('/').map_or("/", |slash| &rest[slash..]);
        }
    }
    path.split_once('?').map_or(path, |(path, _query)| path)
}

/// Reads the body announced by `framing`, appending it to `sink` when given
/// and discarding it otherwise.
pub(crate) fn read_body(
    inb: &mut InBuf,
    r: &mut impl Read,
    framing: Framing,
    mut sink: Option<&mut Vec<u8>>,
) -> Result<(), Error> {
    match framing {
        Framing::None => Ok(()),
        Framing::Length(length) => copy_exact(inb, r, length, sink),
        Framing::Chunked => {
            let mut total: u64 = 0;
            loop {
                let size = parse_chunk_size(next_line(inb, r)?).ok_or(BAD_REQUEST)?;
                if size == 0 {
                    break;
                }
                total = total.saturating_add(size);
                if total > MAX_BODY {
                    return Err(CONTENT_TOO_LARGE);
                }
                copy_exact(inb, r, size, sink.as_deref_mut())?;
                if !next_line(inb, r)?.is_empty() {
                    return Err(BAD_REQUEST);
                }
            }
            skip_trailers(inb, r)
        }
    }
}

fn copy_exact(
    inb: &mut InBuf,
    r: &mut impl Read,
    mut remaining: u64,
    mut sink: Option<&mut Vec<u8>>,
) -> Result<(), Error> {
    if let Some(sink) = sink.as_deref_mut() {
        // Capped: the peer may announce a large body and never send it.
        sink.reserve(usize::try_from(remaining.min(1 << 20)).unwrap_or(0));
    }
    while remaining > 0 {
        if inb.is_empty() {
            // An empty buffer is never full.
            inb.fill_more(r, BAD_REQUEST)?;
        }
        let available = inb.data().len();
        let n = usize::try_from(remaining).map_or(available, |left| left.min(available));
        let bytes = inb.take(n);
        if let Some(sink) = sink.as_deref_mut() {
            sink.extend_from_slice(bytes);
        }
        remaining -= n as u64;
    }
    Ok(())
}

/// Consumes one line and returns it without its line ending (LF or CRLF).
fn next_line<'a>(inb: &'a mut InBuf, r: &mut impl Read) -> Result<&'a [u8], Error> {
    let len = loop {
        if let Some(newline) = inb.data().iter().position(|&b| b == b'\n') {
            break newline + 1;
        }
        // A line longer than the whole buffer is not a chunk header we accept.
        inb.fill_more(r, BAD_REQUEST)?;
    };
    let line = &inb.take(len)[..len - 1];
    Ok(line.strip_suffix(b"\r").unwrap_or(line))
}

fn skip_trailers(inb: &mut InBuf, r: &mut impl Read) -> Result<(), Error> {
    let mut total = 0;
    loop {
        let line = next_line(inb, r)?;
        if line.is_empty() {
            return Ok(());
        }
        total += line.len();
        if total > MAX_HEAD {
            return Err(HEAD_TOO_LARGE);
        }
    }
}

/// Parses `1a3f[;extensions]`; `None` unless it is a hex size that fits in u64.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.split(|&b| b == b';').next().map(trim)?;
    if digits.is_empty() || digits.len() > 16 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// Parses a non-empty run of ASCII digits (no sign, no spaces inside).
pub(crate) fn parse_decimal(value: &[u8]) -> Option<u64> {
    let digits = trim(value);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Comma-separated list elements, trimmed, empty ones skipped.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim)
        .filter(|token| !token.is_empty())
}

fn trim(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"0"), Some(0));
        assert_eq!(parse_chunk_size(b"1A"), Some(26));
        assert_eq!(parse_chunk_size(b"10 ;name=value"), Some(16));
        assert_eq!(parse_chunk_size(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_chunk_size(b"10000000000000000"), None);
        assert_eq!(parse_chunk_size(b""), None);
        assert_eq!(parse_chunk_size(b"+1"), None);
        assert_eq!(parse_chunk_size(b"zz"), None);
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal(b" 42 "), Some(42));
        assert_eq!(parse_decimal(b"+1"), None);
        assert_eq!(parse_decimal(b"1 2"), None);
        assert_eq!(parse_decimal(b"99999999999999999999999"), None);
    }

    #[test]
    fn target_paths() {
        assert_eq!(target_path("/a/b?c=d"), "/a/b");
        assert_eq!(target_path("http://host:80/x?y"), "/x");
        assert_eq!(target_path("https://host"), "/");
        assert_eq!(target_path("*"), "*");
    }

    #[test]
    fn pipelined_heads_stay_buffered() {
        let input = b"GET /a HTTP/1.1\r\n\r\nGET /b?q HTTP/1.1\r\nConnection: close\r\n\r\n";
        let mut reader = &input[..];
        let mut inb = InBuf::new();
        let first = read_head(&mut inb, &mut reader).unwrap().unwrap();
        assert_eq!(first.path, "/a");
        assert!(first.keep_alive);
        let second = read_head(&mut inb, &mut reader).unwrap().unwrap();
        assert_eq!(second.path, "/b");
        assert!(!second.keep_alive);
        assert!(read_head(&mut inb, &mut reader).unwrap().is_none());
    }

    #[test]
    fn chunked_body_with_trailers() {
        let input = b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: 1\r\n\r\nNEXT";
        let mut reader = &input[..];
        let mut inb = InBuf::new();
        let mut body = Vec::new();
        read_body(&mut inb, &mut reader, Framing::Chunked, Some(&mut body)).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(inb.data(), b"NEXT");
    }
}
