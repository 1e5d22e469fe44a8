//! One connection's life: pick the next batch of requests, (re)connect, write, read the
//! responses, account every request exactly once.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use ringload_http1::limits::MAX_INFORMATIONAL_RESPONSES;
use ringload_http1::{parse_response_head, BodyDecoder};

use crate::dial::{Dialer, Failure};
use crate::plan::Plan;
use crate::stats::{ErrorKind, IntervalStats};

/// Initial receive buffer per connection; it grows only for a response head that does not fit.
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// Reconnect back-off: first wait, and the cap. The cap keeps `-n 50` against a closed port
/// to a few seconds while a down server still sees at most ~20 attempts/s per connection.
const BACKOFF_FIRST: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_millis(50);

/// What every connection of a worker shares (single-threaded: `Rc`/`RefCell`).
pub(crate) struct WorkerShared {
    pub stats: RefCell<IntervalStats>,
    pub plan: Plan,
    /// The encoded request, sent as is every time.
    pub request: Rc<[u8]>,
    pub request_is_head: bool,
    pub request_is_idempotent: bool,
    pub pipeline: usize,
    pub timeout: Duration,
    /// When the run ends; requests still in flight then are counted aborted.
    pub deadline: Instant,
    /// Set when the user interrupts the run: no new request starts; those in flight finish.
    pub stop: Arc<AtomicBool>,
}

impl WorkerShared {
    fn fail(&self, failure: &Failure, count: usize) {
        if count > 0 {
            self.stats
                .borrow_mut()
                .record_failure(failure.kind, count as u64, &failure.error);
        }
    }
}

/// Runs one connection until the plan has no more requests or the deadline passes.
pub(crate) async fn run_connection<D: Dialer>(shared: Rc<WorkerShared>, dialer: Rc<D>) {
    let mut conn: Connection<D::Stream> = Connection::new(&shared);
    let mut backoff = BACKOFF_FIRST;
    // Due time of each request of the current batch (open model) or its send time (closed).
    let mut due: Vec<Instant> = Vec::with_capacity(shared.pipeline);
    loop {
        due.clear();
        // Read-only until the user interrupts, so this shared flag costs no cache traffic.
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        if !shared
            .plan
            .next_batch(&mut due, shared.pipeline, shared.deadline)
            .await
        {
            break;
        }
        let batch = due.len();
        let mut retried = false;
        loop {
            if conn.stream.is_none() {
                let deadline = monoio::time::Instant::from_std(shared.deadline);
                match monoio::time::timeout_at(deadline, dialer.dial()).await {
                    Err(_) => {
                        shared.stats.borrow_mut().aborted += batch as u64;
                        return;
                    }
                    Ok(Err(failure)) => {
                        shared.fail(&failure, batch);
                        sleep_before_deadline(backoff, shared.deadline).await;
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        break;
                    }
                    Ok(Ok(stream)) => {
                        conn.attach(stream, &shared);
                        shared.stats.borrow_mut().connects += 1;
                        backoff = BACKOFF_FIRST;
                    }
                }
            }
            let sent_at = Instant::now();
            if shared.plan.is_closed_model() {
                due.fill(sent_at);
            } else {
                let mut stats = shared.stats.borrow_mut();
                for d in &due {
                    stats.record_lag(micros(sent_at.saturating_duration_since(*d)));
                }
            }
            let limit = (sent_at + shared.timeout).min(shared.deadline);
            let outcome = monoio::time::timeout_at(
                monoio::time::Instant::from_std(limit),
                conn.exchange(&shared, &due, sent_at),
            )
            .await;
            let unanswered = batch - conn.completed;
            match outcome {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => {
                    // The server closed the connection after `completed` responses; pipelined
                    // requests behind them were never answered.
                    conn.close();
                    shared.fail(
                        &Failure::message(ErrorKind::Closed, "connection closed before response"),
                        unanswered,
                    );
                }
                Ok(Err(failure)) => {
                    let may_retry = !retried
                        && conn.reused
                        && !conn.received_any
                        && shared.request_is_idempotent
                        && matches!(failure.kind, ErrorKind::Closed | ErrorKind::Read);
                    conn.close();
                    if may_retry {
                        // A keep-alive connection the server had already closed: the request
                        // never reached it, so resending an idempotent one is safe, once.
                        retried = true;
                        shared.stats.borrow_mut().retries += unanswered as u64;
                        continue;
                    }
                    shared.fail(&failure, unanswered);
                }
                Err(_) => {
                    conn.close();
                    if limit >= shared.deadline && Instant::now() >= shared.deadline {
                        shared.stats.borrow_mut().aborted += unanswered as u64;
                        return;
                    }
                    shared.fail(
                        &Failure::new(
                            ErrorKind::Timeout,
                            io::Error::new(io::ErrorKind::TimedOut, "no complete response in time"),
                        ),
                        unanswered,
                    );
                }
            }
            break;
        }
    }
}

async fn sleep_before_deadline(wait: Duration, deadline: Instant) {
    let until = (Instant::now() + wait).min(deadline);
    monoio::time::sleep_until(monoio::time::Instant::from_std(until)).await;
}

#[inline]
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A connection's stream and its reusable buffers.
struct Connection<S> {
    stream: Option<S>,
    /// Received bytes not yet parsed are `read_buf[read_pos..]`.
    read_buf: Vec<u8>,
    read_pos: usize,
    /// `pipeline` copies of the request, so a batch is one write.
    write_buf: Vec<u8>,
    /// At least one response completed on the current stream.
    reused: bool,
    /// Responses completed in the current exchange.
    completed: usize,
    /// Any response byte received in the current exchange.
    received_any: bool,
}

impl<S: AsyncReadRent + AsyncWriteRent> Connection<S> {
    fn new(shared: &WorkerShared) -> Self {
        let mut conn = Connection {
            stream: None,
            read_buf: Vec::new(),
            read_pos: 0,
            write_buf: Vec::new(),
            reused: false,
            completed: 0,
            received_any: false,
        };
        conn.restore_buffers(shared);
        conn
    }

    /// Buffers are moved into in-flight I/O; an operation cancelled by a timeout takes its
    /// buffer with it, so this rebuilds what is missing (only after such a cancellation).
    fn restore_buffers(&mut self, shared: &WorkerShared) {
        if self.read_buf.capacity() == 0 {
            self.read_buf = Vec::with_capacity(READ_BUFFER_BYTES);
        }
        if self.write_buf.is_empty() {
            self.write_buf = shared.request.repeat(shared.pipeline);
        }
    }

    fn attach(&mut self, stream: S, shared: &WorkerShared) {
        self.restore_buffers(shared);
        self.read_buf.clear();
        self.read_pos = 0;
        self.reused = false;
        self.stream = Some(stream);
    }

    fn close(&mut self) {
        self.stream = None;
    }

    /// Sends `due.len()` requests and reads their responses, recording each as it completes.
    /// Returns whether the connection may be reused.
    async fn exchange(
        &mut self,
        shared: &WorkerShared,
        due: &[Instant],
        sent_at: Instant,
    ) -> Result<bool, Failure> {
        self.completed = 0;
        self.received_any = false;
        let Some(stream) = self.stream.as_mut() else {
            return Err(Failure::message(ErrorKind::Write, "no connection"));
        };
        let len = shared.request.len() * due.len();
        let buf = std::mem::take(&mut self.write_buf);
        let (result, slice) = stream.write_all(buf.slice(0..len)).await;
        self.write_buf = slice.into_inner();
        if let Err(e) = result {
            return Err(Failure::new(ErrorKind::Write, e));
        }
        shared.stats.borrow_mut().bytes_written += len as u64;

        for due_at in due {
            let (status, keep_alive) = self.read_response(shared).await?;
            let done = Instant::now();
            shared.stats.borrow_mut().record_response(
                status,
                micros(done.saturating_duration_since(*due_at)),
                micros(done.saturating_duration_since(sent_at)),
            );
            self.completed += 1;
            if !keep_alive {
                return Ok(false);
            }
        }
        self.reused = true;
        Ok(true)
    }

    /// Reads one final response (skipping interim 1xx ones). Returns its status and whether
    /// the connection may carry another request.
    async fn read_response(&mut self, shared: &WorkerShared) -> Result<(u16, bool), Failure> {
        let mut informational = 0;
        let mut head_started = false;
        let head = loop {
            if self.read_pos < self.read_buf.len() {
                head_started = true;
                let unparsed = &self.read_buf[self.read_pos..];
                match parse_response_head(unparsed, shared.request_is_head, |_, _| {}) {
                    Ok(Some(head)) if head.is_informational() => {
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
                        self.read_pos += head.head_len;
                        break head;
                    }
                    Ok(None) => {}
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
            if self.fill(shared).await? == 0 {
                return Err(if head_started || informational > 0 {
                    Failure::message(ErrorKind::Read, "connection closed in the response head")
                } else {
                    Failure::message(ErrorKind::Closed, "connection closed before response")
                });
            }
        };

        let mut body = BodyDecoder::new(head.framing);
        loop {
            if self.read_pos < self.read_buf.len() {
                let consumed = body
                    .decode_all(&self.read_buf[self.read_pos..], |_| {})
                    .map_err(|e| Failure::new(ErrorKind::Framing, io::Error::other(e)))?;
                self.read_pos += consumed;
            }
            if body.is_done() {
                return Ok((head.status, head.keep_alive));
            }
            if self.fill(shared).await? == 0 {
                body.finish_at_eof().map_err(|_| {
                    Failure::message(ErrorKind::Read, "connection closed in the response body")
                })?;
                return Ok((head.status, false));
            }
        }
    }

    /// Reads more bytes after the unparsed ones. Returns 0 at end of stream.
    async fn fill(&mut self, shared: &WorkerShared) -> Result<usize, Failure> {
        if self.read_pos == self.read_buf.len() {
            self.read_buf.clear();
            self.read_pos = 0;
        } else if self.read_buf.len() == self.read_buf.capacity() {
            if self.read_pos > 0 {
                self.read_buf.copy_within(self.read_pos.., 0);
                self.read_buf.truncate(self.read_buf.len() - self.read_pos);
                self.read_pos = 0;
            } else {
                // A head larger than the buffer; the parser bounds how far this grows.
                self.read_buf.reserve(self.read_buf.capacity());
            }
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
                if n > 0 {
                    self.received_any = true;
                    shared.stats.borrow_mut().bytes_read += n as u64;
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
