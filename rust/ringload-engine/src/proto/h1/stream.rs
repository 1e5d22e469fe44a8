//! A stream carrying HTTP/1.1 responses: owns the receive buffer and turns bytes into responses
//! with the sans-IO parser. Shared by the load workers (which discard what they read) and the
//! client used by the Python package (which keeps headers and body).

use std::io;
use std::time::Instant;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use ringload_http1::limits::MAX_INFORMATIONAL_RESPONSES;
use ringload_http1::{parse_response_head, BodyDecoder};

use crate::error::ErrorKind;
use crate::error::Failure;
use crate::proto::{ResponseEnd, ResponseSink};

/// A connection's receive buffer at its first read: a page, which takes most API responses in
/// one read. Thousands of Locust users each waiting for a response hold one each.
pub(crate) const FIRST_READ_BYTES: usize = 4 * 1024;
/// A read that fills the buffer doubles it, up to this: a large body is then read 16 KiB at a
/// time. Only a response head that does not fit grows it further.
pub(crate) const READ_BUFFER_BYTES: usize = 16 * 1024;

pub(crate) struct HttpStream<S> {
    stream: Option<S>,
    /// Received bytes not yet parsed are `read_buf[read_pos..]`.
    read_buf: Vec<u8>,
    read_pos: usize,
    /// Any byte received since [`HttpStream::begin_exchange`].
    pub received_any: bool,
    /// The last read filled all the room it was given: more is arriving than the buffer takes.
    filled_last_read: bool,
    /// Bytes received since the last [`HttpStream::take_bytes_read`].
    bytes_read: u64,
    /// Bytes written since the last [`HttpStream::take_bytes_written`].
    bytes_written: u64,
}

impl<S: AsyncReadRent + AsyncWriteRent> HttpStream<S> {
    pub fn new() -> Self {
        HttpStream {
            stream: None,
            read_buf: Vec::new(),
            read_pos: 0,
            received_any: false,
            filled_last_read: false,
            bytes_read: 0,
            bytes_written: 0,
        }
    }

    pub fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    pub fn attach(&mut self, stream: S) {
        self.read_buf.clear();
        self.read_pos = 0;
        self.filled_last_read = false;
        self.stream = Some(stream);
    }

    /// Frees the receive buffer of a connection that has nothing unparsed (one waiting in a
    /// pool for its next request): the next read takes a new one. A client with thousands of
    /// mostly idle connections then holds buffers only for the exchanges in flight.
    pub fn release_read_buffer(&mut self) {
        if !self.has_unparsed_bytes() {
            self.read_buf = Vec::new();
            self.read_pos = 0;
            self.filled_last_read = false;
        }
    }

    pub fn close(&mut self) {
        self.stream = None;
    }

    /// The open stream's socket.
    pub fn socket(&self) -> Option<std::os::fd::RawFd>
    where
        S: crate::net::idle::OverSocket,
    {
        self.stream.as_ref().map(|s| s.socket())
    }

    pub fn begin_exchange(&mut self) {
        self.received_any = false;
    }

    /// Bytes received after the last complete response. Without a request in flight they can
    /// only be junk (a body longer than its Content-Length, say): the connection must not be
    /// reused, or they would be read as the next response.
    pub fn has_unparsed_bytes(&self) -> bool {
        self.read_pos < self.read_buf.len()
    }

    pub fn take_bytes_read(&mut self) -> u64 {
        std::mem::take(&mut self.bytes_read)
    }

    pub fn take_bytes_written(&mut self) -> u64 {
        std::mem::take(&mut self.bytes_written)
    }

    /// Sends what a plain socket takes of `bytes` now ([`crate::net::idle::send_at_once`]); 0 over
    /// TLS, whose records only the stream can make.
    pub fn send_at_once(&mut self, bytes: &[u8]) -> Result<usize, Failure>
    where
        S: crate::net::idle::OverSocket,
    {
        let Some(stream) = self.stream.as_ref().filter(|s| s.is_plain()) else {
            return Ok(0);
        };
        let sent = crate::net::idle::send_at_once(stream.socket(), bytes)
            .map_err(|e| Failure::new(ErrorKind::Write, e))?;
        self.bytes_written += sent as u64;
        Ok(sent)
    }

    /// Writes `buf[start..len]`, handing the buffer back for reuse.
    pub async fn write(
        &mut self,
        buf: Vec<u8>,
        start: usize,
        len: usize,
    ) -> (Result<(), Failure>, Vec<u8>) {
        let Some(stream) = self.stream.as_mut() else {
            return (
                Err(Failure::message(ErrorKind::Write, "no connection")),
                buf,
            );
        };
        let (result, slice) = stream.write_all(buf.slice(start..len)).await;
        let buf = slice.into_inner();
        if result.is_ok() {
            self.bytes_written += (len - start) as u64;
        }
        (
            result
                .map(|_| ())
                .map_err(|e| Failure::new(ErrorKind::Write, e)),
            buf,
        )
    }

    /// Reads one final response (skipping interim 1xx ones) into `sink`.
    pub async fn read_response(
        &mut self,
        request_was_head: bool,
        sink: &mut impl ResponseSink,
    ) -> Result<ResponseEnd, Failure> {
        let mut informational = 0;
        let mut first_byte_at = None;
        let head = loop {
            if self.read_pos < self.read_buf.len() {
                first_byte_at.get_or_insert_with(Instant::now);
                let unparsed = &self.read_buf[self.read_pos..];
                match parse_response_head(unparsed, request_was_head, |name, value| {
                    sink.header(name, value)
                }) {
                    Ok(Some(head)) if head.is_informational() => {
                        sink.discard_headers();
                        self.read_pos += head.head_len;
                        informational += 1;
                        if informational > MAX_INFORMATIONAL_RESPONSES {
                            return Err(Failure::message(
                                ErrorKind::Parse,
                                "too many interim (1xx) responses",
                            ));
                        }
                        continue;
                    }
                    Ok(Some(head)) => {
                        let (start, len) = head.reason;
                        sink.reason(&unparsed[start..start + len]);
                        self.read_pos += head.head_len;
                        break head;
                    }
                    // The head is incomplete; fields seen so far will be seen again.
                    Ok(None) => sink.discard_headers(),
                    Err(e) => {
                        let kind = if e.is_framing() {
                            ErrorKind::Framing
                        } else {
                            ErrorKind::Parse
                        };
                        return Err(Failure::new(kind, io::Error::other(e)));
                    }
                }
            }
            if self.fill().await? == 0 {
                return Err(if first_byte_at.is_some() {
                    Failure::message(ErrorKind::Read, "connection closed in the response head")
                } else {
                    Failure::message(ErrorKind::Closed, "connection closed before response")
                });
            }
        };
        sink.head_complete(head.status);
        let first_byte_at = first_byte_at.unwrap_or_else(Instant::now);

        let mut body = BodyDecoder::new(head.framing);
        let mut body_len = 0;
        loop {
            if self.read_pos < self.read_buf.len() {
                let consumed = body
                    .decode_all(&self.read_buf[self.read_pos..], |data| {
                        body_len += data.len() as u64;
                        sink.body(data)
                    })
                    .map_err(|e| Failure::new(ErrorKind::Framing, io::Error::other(e)))?;
                self.read_pos += consumed;
            }
            if body.is_done() {
                return Ok(ResponseEnd {
                    status: head.status,
                    keep_alive: head.keep_alive,
                    first_byte_at,
                    body_len,
                });
            }
            sink.ready_for_more().await;
            if self.fill().await? == 0 {
                body.finish_at_eof().map_err(|_| {
                    Failure::message(ErrorKind::Read, "connection closed in the response body")
                })?;
                return Ok(ResponseEnd {
                    status: head.status,
                    keep_alive: false,
                    first_byte_at,
                    body_len,
                });
            }
        }
    }

    /// Reads more bytes after the unparsed ones. Returns 0 at end of stream.
    async fn fill(&mut self) -> Result<usize, Failure> {
        if self.read_pos == self.read_buf.len() {
            self.read_buf.clear();
            self.read_pos = 0;
        } else if self.read_buf.len() == self.read_buf.capacity() && self.read_pos > 0 {
            self.read_buf.copy_within(self.read_pos.., 0);
            self.read_buf.truncate(self.read_buf.len() - self.read_pos);
            self.read_pos = 0;
        }
        let capacity = self.read_buf.capacity();
        if capacity == 0 {
            // None yet, released while idle, or taken by a read that a timeout cancelled.
            self.read_buf.reserve_exact(FIRST_READ_BYTES);
        } else if self.read_buf.len() == capacity
            || (self.filled_last_read && capacity < READ_BUFFER_BYTES)
        {
            // Full of a head that does not fit (the parser bounds how far this grows), or the
            // last read was cut short by the buffer's size: double it.
            self.read_buf
                .reserve_exact(2 * capacity - self.read_buf.len());
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(0);
        };
        let buf = std::mem::take(&mut self.read_buf);
        let (start, end) = (buf.len(), buf.capacity());
        let (result, slice) = stream.read(buf.slice_mut(start..end)).await;
        self.read_buf = slice.into_inner();
        match result {
            Ok(n) => {
                self.filled_last_read = n == end - start;
                if n > 0 {
                    self.received_any = true;
                    self.bytes_read += n as u64;
                }
                Ok(n)
            }
            // TLS without close_notify: treated as end of stream; framing decides if the
            // response was complete.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            Err(e) => Err(Failure::new(ErrorKind::Read, e)),
        }
    }
}
