//! One connection's life: pick the next batch of requests, (re)connect, write, read the
//! responses, account every request exactly once.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRent};

use crate::dial::{Dialer, Failure};
use crate::http_stream::{Discard, HttpStream};
use crate::plan::Plan;
use crate::stats::{ErrorKind, IntervalStats};

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
            if !conn.is_open() {
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
                        && !conn.http.received_any
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

/// A connection's stream and its reusable write buffer.
struct Connection<S> {
    http: HttpStream<S>,
    /// `pipeline` copies of the request, so a batch is one write.
    write_buf: Vec<u8>,
    /// At least one response completed on the current stream.
    reused: bool,
    /// Responses completed in the current exchange.
    completed: usize,
}

impl<S: AsyncReadRent + AsyncWriteRent> Connection<S> {
    fn new(shared: &WorkerShared) -> Self {
        Connection {
            http: HttpStream::new(),
            write_buf: shared.request.repeat(shared.pipeline),
            reused: false,
            completed: 0,
        }
    }

    fn is_open(&self) -> bool {
        self.http.is_open()
    }

    fn attach(&mut self, stream: S, shared: &WorkerShared) {
        // A write cancelled by a timeout takes its buffer with it.
        if self.write_buf.is_empty() {
            self.write_buf = shared.request.repeat(shared.pipeline);
        }
        self.http.attach(stream);
        self.reused = false;
    }

    fn close(&mut self) {
        self.http.close();
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
        self.http.begin_exchange();
        let len = shared.request.len() * due.len();
        let (result, buf) = self
            .http
            .write(std::mem::take(&mut self.write_buf), len)
            .await;
        self.write_buf = buf;
        result?;
        shared.stats.borrow_mut().bytes_written += len as u64;

        let outcome = self.read_responses(shared, due, sent_at).await;
        shared.stats.borrow_mut().bytes_read += self.http.take_bytes_read();
        outcome
    }

    async fn read_responses(
        &mut self,
        shared: &WorkerShared,
        due: &[Instant],
        sent_at: Instant,
    ) -> Result<bool, Failure> {
        for due_at in due {
            let end = self
                .http
                .read_response(shared.request_is_head, &mut Discard)
                .await?;
            let done = Instant::now();
            shared.stats.borrow_mut().record_response(
                end.status,
                micros(done.saturating_duration_since(*due_at)),
                micros(done.saturating_duration_since(sent_at)),
            );
            self.completed += 1;
            if !end.keep_alive {
                return Ok(false);
            }
        }
        self.reused = true;
        Ok(true)
    }
}
