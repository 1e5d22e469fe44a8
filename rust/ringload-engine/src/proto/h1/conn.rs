//! One round trip on one connection, as both the load workers ([`crate::load::connection`]) and the
//! Python package's client ([`crate::client`]) make it: the requests written at once, their
//! responses read in order, whether the connection may carry more, and the one rule for
//! resending on a fresh connection. The callers keep only what differs: how they dial, how they
//! bound the wait, and what they record.

use std::time::Instant;

use monoio::io::{AsyncReadRent, AsyncWriteRent};

use crate::error::Failure;
use crate::net::idle::{retired_by_peer, OverSocket, CHECK_AFTER_IDLE};
use crate::proto::h1::stream::HttpStream;
use crate::proto::Responses;

/// A connection's stream, whether it has carried a response yet, and its reusable write buffer.
pub(crate) struct Connection<S> {
    http: HttpStream<S>,
    /// The exchange's requests back to back, so that they go out in one write.
    write_buf: Vec<u8>,
    /// At least one response completed on the current stream.
    reused: bool,
    /// When the connection last went idle, kept alive (about when its last response arrived).
    idle_since: Option<Instant>,
    /// It was just found alive after idling: the next exchange sends at once ([`crate::net::idle`]).
    send_at_once: bool,
    /// Responses completed in the current exchange.
    completed: usize,
}

impl<S: AsyncReadRent + AsyncWriteRent + OverSocket> Connection<S> {
    pub fn new(write_capacity: usize) -> Self {
        Connection {
            http: HttpStream::new(),
            write_buf: Vec::with_capacity(write_capacity),
            reused: false,
            idle_since: None,
            send_at_once: false,
            completed: 0,
        }
    }

    pub fn is_open(&self) -> bool {
        self.http.is_open()
    }

    /// Responses completed in the last exchange: the requests after them were not answered.
    pub fn completed(&self) -> usize {
        self.completed
    }

    /// The current stream has carried a response before: the next exchange reuses it.
    pub fn is_reused(&self) -> bool {
        self.reused
    }

    /// Takes a newly established stream.
    pub fn attach(&mut self, stream: S) {
        self.http.attach(stream);
        self.reused = false;
        self.idle_since = None;
        self.send_at_once = false;
    }

    /// Closes the stream; returns whether one was open.
    pub fn close(&mut self) -> bool {
        let was_open = self.http.is_open();
        self.http.close();
        was_open
    }

    /// Frees the read and write buffers while the connection waits for its next exchange,
    /// which takes new ones.
    pub fn release_buffers(&mut self) {
        self.http.release_read_buffer();
        self.write_buf = Vec::new();
    }

    /// The buffer the next [`Connection::exchange`] writes, emptied: put its requests in it.
    pub fn requests_buf(&mut self) -> &mut Vec<u8> {
        self.write_buf.clear();
        &mut self.write_buf
    }

    /// Writes the requests in [`Connection::requests_buf`] and reads their responses. Returns
    /// whether the connection may carry another exchange (never when `keep_alive` is false).
    pub async fn exchange<R: Responses>(
        &mut self,
        responses: &mut R,
        keep_alive: bool,
    ) -> Result<bool, Failure> {
        self.completed = 0;
        self.http.begin_exchange();
        let len = self.write_buf.len();
        let sent = if std::mem::take(&mut self.send_at_once) {
            self.http.send_at_once(&self.write_buf[..len])?
        } else {
            0
        };
        if sent < len {
            // A write cancelled by a timeout takes the buffer with it; the next exchange
            // refills whatever is here.
            let (result, buf) = self
                .http
                .write(std::mem::take(&mut self.write_buf), sent, len)
                .await;
            self.write_buf = buf;
            result?;
        }
        let mut last_arrived = None;
        for i in 0..responses.len() {
            let is_head = responses.is_head(i);
            let end = self.http.read_response(is_head, responses.sink(i)).await?;
            responses.complete(i, end);
            self.completed += 1;
            if !end.keep_alive {
                return Ok(false);
            }
            last_arrived = Some(end.first_byte_at);
        }
        // Bytes after the last response can only be junk (a body longer than its
        // Content-Length, say): they would be read as the next response.
        if !keep_alive || self.http.has_unparsed_bytes() {
            return Ok(false);
        }
        self.reused = true;
        // The response's first byte stands in for its end: no clock read on the hot path.
        self.idle_since = last_arrived;
        Ok(true)
    }

    /// The bytes written and read since the last call: every exchange's, however it ended (one
    /// cut short by its timeout wrote its requests too).
    pub fn take_byte_counts(&mut self) -> (u64, u64) {
        (self.http.take_bytes_written(), self.http.take_bytes_read())
    }

    /// Whether the server retired this kept-alive connection while it sat idle ([`crate::net::idle`]);
    /// the caller closes it and sends on a new one. Connections idle for less than
    /// [`CHECK_AFTER_IDLE`] at `now` are not checked; one found alive sends its next exchange
    /// at once, which must follow with no await in between.
    pub fn retired_while_idle(&mut self, now: Instant) -> bool {
        match (self.idle_since, self.http.socket()) {
            (Some(since), Some(socket))
                if now.saturating_duration_since(since) >= CHECK_AFTER_IDLE =>
            {
                let retired = retired_by_peer(socket);
                self.send_at_once = !retired;
                retired
            }
            _ => false,
        }
    }

    /// After `failure` in an exchange: whether the requests may be sent again, once, on a new
    /// connection. That is when the connection had been kept alive and nothing of a response
    /// arrived, so the server most likely closed it while idle and never read the requests,
    /// and only when resending them is safe (`all_idempotent`).
    pub fn may_resend(&self, failure: &Failure, all_idempotent: bool) -> bool {
        all_idempotent
            && self.reused
            && !self.http.received_any
            && failure.kind.may_be_stale_keep_alive()
    }
}
