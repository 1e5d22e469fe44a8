//! Response description and serialisation.

use std::borrow::Cow;
use std::io::{self, Read, Write};

use crate::transport::{Conn, FLUSH_AT};

/// Largest chunk the chunked route sends.
const CHUNK: usize = 4096;
/// Source of filler bytes for `/bytes` and `/chunked`; one buffer's worth.
static FILL: [u8; FLUSH_AT] = [b'x'; FLUSH_AT];

/// A response, before serialisation.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: Option<Cow<'static, [u8]>>,
    pub(crate) body: Body,
    /// Close the connection after this response.
    pub(crate) close: bool,
}

#[derive(Debug)]
pub(crate) enum Body {
    /// No body and no `Content-Length` (204, 304).
    None,
    Bytes(Cow<'static, [u8]>),
    /// This many `x` bytes, with `Content-Length`.
    Fill(u64),
    /// This many `x` bytes, chunked.
    Chunked(u64),
}

impl Reply {
    /// A keep-alive response.
    pub(crate) fn new(status: u16, content_type: Option<Cow<'static, [u8]>>, body: Body) -> Reply {
        Reply {
            status,
            content_type,
            body,
            close: false,
        }
    }

    /// A response with an empty body and `Content-Length: 0`.
    pub(crate) fn empty(status: u16) -> Reply {
        Reply::new(status, None, Body::Bytes(Cow::Borrowed(b"")))
    }

    /// A `text/plain` response.
    pub(crate) fn text(status: u16, body: impl Into<Cow<'static, [u8]>>) -> Reply {
        Reply::new(
            status,
            Some(Cow::Borrowed(b"text/plain")),
            Body::Bytes(body.into()),
        )
    }
}

/// Writes `reply` into `conn`'s output buffer (streaming large bodies).
/// `connection` is the value of the `Connection` header, if one is needed.
/// For `HEAD`, the headers are those of the `GET` response, without a body.
pub(crate) fn write<S: Read + Write>(
    conn: &mut Conn<S>,
    reply: &Reply,
    is_head: bool,
    connection: Option<&str>,
) -> io::Result<()> {
    let head = conn.buffer(512)?;
    write!(
        head,
        "HTTP/1.1 {} {}\r\nServer: ringload-target\r\n",
        reply.status,
        reason(reply.status)
    )?;
    if let Some(content_type) = &reply.content_type {
        head.extend_from_slice(b"Content-Type: ");
        head.extend_from_slice(content_type);
        head.extend_from_slice(b"\r\n");
    }
    match &reply.body {
        Body::None => {}
        Body::Bytes(bytes) => write!(head, "Content-Length: {}\r\n", bytes.len())?,
        Body::Fill(len) => write!(head, "Content-Length: {len}\r\n")?,
        Body::Chunked(_) => head.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    if let Some(connection) = connection {
        write!(head, "Connection: {connection}\r\n")?;
    }
    head.extend_from_slice(b"\r\n");
    if is_head {
        return Ok(());
    }

    match &reply.body {
        Body::None => Ok(()),
        Body::Bytes(bytes) => conn.push(bytes),
        Body::Fill(len) => {
            let mut left = *len;
            while left > 0 {
                // Top the buffer up rather than flushing the head on its
                // own, so every write of a large body is full-sized.
                let out = conn.buffer(1)?;
                let n = left.min((FLUSH_AT - out.len()) as u64) as usize;
                out.extend_from_slice(&FILL[..n]);
                left -= n as u64;
            }
            Ok(())
        }
        Body::Chunked(len) => {
            let mut left = *len;
            while left > 0 {
                let n = left.min(CHUNK as u64) as usize;
                let out = conn.buffer(n + 16)?;
                write!(out, "{n:x}\r\n")?;
                out.extend_from_slice(&FILL[..n]);
                out.extend_from_slice(b"\r\n");
                left -= n as u64;
            }
            conn.push(b"0\r\n\r\n")
        }
    }
}

/// The standard reason phrase for `status`, or `Unknown`.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "Unknown",
    }
}
