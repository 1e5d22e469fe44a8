//! One HTTP/2 connection at work: keep up to `streams` requests in flight on it, and account
//! every request exactly once as its stream ends.
//!
//! A connection runs two futures in one task over the socket's two halves: the writer opens
//! streams as its feed (the plan, or a native user) hands out requests (at once in the closed
//! model, at their due times in the open one) and writes every frame queued since its last
//! write in one go; the reader feeds what arrives to the codec, records each response as its
//! stream ends, and enforces each stream's timeout. A request the server never processed
//! (REFUSED_STREAM, or above a GOAWAY's last stream) goes out once more, on this connection or
//! the next, and counts in `retries`.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt, Splitable};
use ringload_h2::{ClientConnection, ConnectionError, ErrorCode, Handler, StreamEnd};

use crate::error::{ErrorKind, Failure};
use crate::load::config::Http2Options;
use crate::load::connection::WorkerShared;
use crate::load::h2_bells::{Bell, Bells};
use crate::load::h2_feed::{Feed, Pending};
use crate::load::prepare::PreparedRequest;
use crate::load::race::{race, Either};
use crate::load::watchdog::Alarm;
use crate::net::h2_dial::{decrypt, encrypt, H2Transport, FIRST_READ_BYTES, MAX_READ_BYTES};
use crate::proto::h2::render::H2Scratch;
use crate::rng::Rng;
use crate::runtime::micros;
use crate::stats::ResponseTimes;

/// How long a failed connection may take to write the GOAWAY that says why.
const GOODBYE_WAIT: Duration = Duration::from_millis(100);

/// A request in flight on a stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlight {
    stream: u32,
    pub pending: Pending,
    pub sent_at: Instant,
    first_byte_at: Option<Instant>,
    status: u16,
    body_len: u64,
}

/// How a connection ended.
pub(crate) enum Ended {
    /// The feed has nothing more for this connection (the plan is done, or the user left),
    /// and nothing is in flight.
    FeedDone,
    /// The run is over (deadline or stop): what is in flight is aborted.
    RunOver,
    /// The server went away (GOAWAY) and every stream below its last one ended: reconnect.
    Drained,
    /// The connection failed; what is in flight fails with it.
    Failed(Failure),
}

/// Acknowledgements owed to the server past which the reader stops reading until the writer
/// has sent them: a server that sends PINGs and does not read can then not grow them without
/// bound, as TCP holds it back instead.
const MAX_ACKS_OWED: usize = 1024;

/// One connection's state, shared by its writer and reader.
pub(crate) struct Driver<'a> {
    shared: &'a WorkerShared,
    options: Http2Options,
    /// The requests sent: the run's, or a native user's (the same rows, its own headers).
    requests: Arc<[PreparedRequest]>,
    /// Latency counts from the due time (open model, arrival rate), not from the send.
    latency_from_due: bool,
    /// An arrival rate's interval: a send this late or later counts as late.
    late_after: Option<Duration>,
    /// The closed model's batching (`waits_to_refill`).
    refills_in_halves: bool,
    codec: ClientConnection,
    pub in_flight: Vec<InFlight>,
    /// Requests to send first (taken from the feed, or to go out again).
    pub pending: Vec<Pending>,
    /// The feed has no more requests for this connection.
    feed_done: bool,
    /// The writer is waiting for the feed's next requests. The connection's end waits for it:
    /// the plan counts a request as handed out before its due time comes.
    waiting_for_feed: bool,
    /// The server's GOAWAY: its last stream and code.
    goaway: Option<(u32, ErrorCode)>,
    /// A write is in flight: cut short, it may leave a partial frame behind.
    mid_write: bool,
    ended: Option<Ended>,
}

impl<'a> Driver<'a> {
    /// A connection's driver that sends `pending` first, then what `feed` hands out.
    pub fn new(
        shared: &'a WorkerShared,
        options: Http2Options,
        pending: Vec<Pending>,
        requests: Arc<[PreparedRequest]>,
        feed: &Feed<'_>,
    ) -> Self {
        Driver {
            shared,
            options,
            requests,
            latency_from_due: feed.latency_from_due(shared),
            late_after: feed.late_after(),
            refills_in_halves: feed.refills_in_halves(shared),
            codec: ClientConnection::new(ringload_h2::Config {
                stream_window: options.stream_window,
                connection_window: options.connection_window,
                ..ringload_h2::Config::default()
            }),
            in_flight: Vec::with_capacity(options.streams),
            pending,
            feed_done: false,
            waiting_for_feed: false,
            goaway: None,
            mid_write: false,
            ended: None,
        }
    }

    /// Runs the connection until it ends.
    pub async fn run(
        &mut self,
        connection: H2Transport,
        alarms: (&Alarm, &Alarm),
        scratch: &mut H2Scratch,
        feed: &mut Feed<'_>,
    ) -> Ended {
        let (alarm, write_alarm) = alarms;
        let H2Transport { tcp, tls } = connection;
        let (reader, mut writer) = tcp.into_split();
        let tls = RefCell::new(tls);
        let bells = Bells::default();
        let state = RefCell::new(self);
        {
            let mut writing = pin!(write_loop(
                &state,
                &mut writer,
                &tls,
                &bells,
                scratch,
                feed,
                write_alarm
            ));
            let mut reading = pin!(read_loop(&state, reader, &tls, &bells, alarm));
            let (mut written, mut read) = (false, false);
            std::future::poll_fn(|cx| {
                if !written {
                    written = writing.as_mut().poll(cx).is_ready();
                }
                if !read {
                    read = reading.as_mut().poll(cx).is_ready();
                }
                let driver = state.borrow();
                if (written && read) || (driver.ended.is_some() && !driver.waiting_for_feed) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
        let goodbye = {
            let driver = state.borrow();
            matches!(&driver.ended, Some(Ended::Failed(f)) if f.kind == ErrorKind::Protocol)
                && !driver.mid_write
                && driver.codec.has_output()
        };
        if goodbye {
            // The GOAWAY the codec queued (all it holds after a protocol error) tells the
            // server why, as far as it goes in a moment.
            let mut buffers = WriteBuffers::default();
            let flushed = flush(&state, &mut writer, &tls, &mut buffers);
            let _ = race(flushed, monoio::time::sleep(GOODBYE_WAIT)).await;
        }
        let driver = state.into_inner();
        driver.ended.take().unwrap_or(Ended::FeedDone)
    }

    /// Opens streams for pending requests while the connection allows more. Returns whether
    /// it opened the only streams in flight.
    fn open_pending(&mut self, scratch: &mut H2Scratch) -> bool {
        let shared = self.shared;
        let was_idle = self.in_flight.is_empty();
        let limit = self
            .options
            .streams
            .min(self.in_flight.len() + self.codec.stream_room());
        while self.in_flight.len() < limit {
            let Some(pending) = self.pending.pop() else {
                break;
            };
            let h2 = self.requests[pending.request]
                .h2
                .as_ref()
                .expect("HTTP/2 runs prepare every request's HTTP/2 form");
            // A sequence's steps draw their values from the iteration's seed.
            let own_draws = pending.iteration.map(Rng::per_iteration);
            let (head, body) = h2.render(scratch, own_draws.as_ref().unwrap_or(&shared.rng));
            let stream = self.codec.open(head, body);
            let sent_at = Instant::now();
            // Open model: how late the send was (closed: latency runs from the send).
            if self.latency_from_due {
                let lag = sent_at.saturating_duration_since(pending.due);
                let mut stats = shared.stats.borrow_mut();
                stats.record_lag(micros(lag));
                if let Some(period) = self.late_after {
                    stats.late += u64::from(lag >= period);
                }
            }
            shared.plan.exchange_started();
            self.in_flight.push(InFlight {
                stream,
                pending,
                sent_at,
                first_byte_at: None,
                status: 0,
                body_len: 0,
            });
        }
        was_idle && !self.in_flight.is_empty()
    }

    /// How many more requests to take from the feed now.
    fn room_for_more(&self) -> usize {
        if self.feed_done || !self.pending.is_empty() || self.codec.is_draining() {
            return 0;
        }
        self.options
            .streams
            .min(self.in_flight.len() + self.codec.stream_room())
            .saturating_sub(self.in_flight.len())
    }

    /// Closed model: whether to leave `free` streams unused until more end. Refilling each
    /// stream the moment it ends sends requests, and so responses, about one per segment (1.1
    /// to 1.2 requests per write measured at 10 streams), and the kernel's cost per segment
    /// dominates. Refilling once half of the streams are free lets every write and read carry
    /// several: between half and all of `--streams` are then in flight. Never while the
    /// connection would otherwise have nothing in flight; the open model sends at due times.
    fn waits_to_refill(&self, free: usize) -> bool {
        let streams = self
            .options
            .streams
            .min(self.codec.peer_max_concurrent_streams() as usize);
        self.refills_in_halves && !self.in_flight.is_empty() && free < streams.div_ceil(2)
    }

    /// The connection is over when nothing is left to do on it.
    fn check_done(&mut self) {
        if self.ended.is_some() || !self.in_flight.is_empty() {
            return;
        }
        if self.codec.is_draining() {
            self.ended = Some(Ended::Drained);
        } else if self.feed_done && self.pending.is_empty() {
            self.ended = Some(Ended::FeedDone);
        }
    }

    /// Fails every stream past its timeout (RST_STREAM CANCEL to the server).
    fn expire(&mut self, now: Instant) {
        let timeout = self.shared.timeout;
        let mut i = 0;
        while i < self.in_flight.len() {
            let f = self.in_flight[i];
            if now >= f.sent_at + timeout {
                self.in_flight.swap_remove(i);
                self.codec.cancel(f.stream);
                self.shared.plan.exchange_ended();
                self.shared.fail_one(
                    f.pending.request,
                    &Failure::new(
                        ErrorKind::Timeout,
                        io::Error::new(io::ErrorKind::TimedOut, "no complete response in time"),
                    ),
                    f.sent_at,
                );
            } else {
                i += 1;
            }
        }
    }

    /// When the earliest stream in flight times out.
    fn next_timeout(&self) -> Option<Instant> {
        self.in_flight
            .iter()
            .map(|f| f.sent_at)
            .min()
            .map(|sent| sent + self.shared.timeout)
    }
}

/// The writer: opens streams and writes what the codec queued.
async fn write_loop<W: monoio::io::AsyncWriteRent>(
    state: &RefCell<&mut Driver<'_>>,
    writer: &mut W,
    tls: &RefCell<Option<rustls::ClientConnection>>,
    bells: &Bells,
    scratch: &mut H2Scratch,
    feed: &mut Feed<'_>,
    write_alarm: &Alarm,
) {
    let Bells {
        to_writer: bell,
        rearm,
        drained,
    } = bells;
    let mut buffers = WriteBuffers::default();
    let mut batch: Vec<Pending> = Vec::new();
    loop {
        let room = {
            let mut driver = state.borrow_mut();
            if driver.ended.is_some() {
                return;
            }
            if driver.open_pending(scratch) {
                rearm.ring();
            }
            driver.room_for_more()
        };
        if has_output(state, tls) {
            if !flush_in_time(state, writer, tls, &mut buffers, write_alarm).await {
                return;
            }
            drained.ring();
            continue;
        }
        if room == 0 || state.borrow().waits_to_refill(room) {
            bell.wait().await;
            continue;
        }
        let shared = state.borrow().shared;
        // The connection's end waits for this: the plan counts a request as handed out before
        // its due time comes.
        state.borrow_mut().waiting_for_feed = true;
        let more = {
            let mut next = pin!(feed.next(shared, &mut batch, room));
            loop {
                match race(next.as_mut(), bell.wait()).await {
                    Either::First(more) => break more,
                    // Frames the reader queued meanwhile (acknowledgements, PING replies) go
                    // out now, not with the next request: a user's pause may last seconds.
                    Either::Second(()) => {
                        if state.borrow().ended.is_none()
                            && has_output(state, tls)
                            && flush_in_time(state, writer, tls, &mut buffers, write_alarm).await
                        {
                            drained.ring();
                        }
                    }
                }
            }
        };
        let mut driver = state.borrow_mut();
        driver.waiting_for_feed = false;
        // Popped from the end: the earliest due goes first. Handed out while the connection
        // ended, they go out on the next one, or are counted aborted at the run's end.
        driver.pending.extend(batch.drain(..).rev());
        if driver.ended.is_some() {
            return;
        }
        if !more {
            driver.feed_done = true;
            driver.check_done();
        }
    }
}

/// [`flush`], failing the connection when the write takes longer than the request timeout: a
/// server that stops reading must not hold the connection (and the requests the feed would
/// hand it) past the timeout. A stop ends the write at once.
async fn flush_in_time<W: monoio::io::AsyncWriteRent>(
    state: &RefCell<&mut Driver<'_>>,
    writer: &mut W,
    tls: &RefCell<Option<rustls::ClientConnection>>,
    buffers: &mut WriteBuffers,
    write_alarm: &Alarm,
) -> bool {
    let shared = state.borrow().shared;
    let limit = (Instant::now() + shared.timeout).min(shared.deadline);
    match write_alarm
        .guard(limit, flush(state, writer, tls, buffers))
        .await
    {
        Ok(flushed) => flushed,
        Err(_) => {
            let mut driver = state.borrow_mut();
            if driver.ended.is_none() {
                driver.ended = Some(Ended::Failed(Failure::new(
                    ErrorKind::Timeout,
                    io::Error::new(io::ErrorKind::TimedOut, "the server stopped reading"),
                )));
            }
            false
        }
    }
}

/// Whether anything waits to be written: frames the codec queued, or TLS records.
fn has_output(
    state: &RefCell<&mut Driver<'_>>,
    tls: &RefCell<Option<rustls::ClientConnection>>,
) -> bool {
    state.borrow().codec.has_output() || tls.borrow().as_ref().is_some_and(|t| t.wants_write())
}

/// The writer's buffers, reused from write to write.
#[derive(Default)]
struct WriteBuffers {
    plain: Vec<u8>,
    cipher: Vec<u8>,
}

/// Writes every frame queued since the last write in one go. Returns false when the connection
/// failed (the driver then says how).
async fn flush<W: monoio::io::AsyncWriteRent>(
    state: &RefCell<&mut Driver<'_>>,
    writer: &mut W,
    tls: &RefCell<Option<rustls::ClientConnection>>,
    buffers: &mut WriteBuffers,
) -> bool {
    let WriteBuffers { plain, cipher } = buffers;
    let buf = {
        let mut driver = state.borrow_mut();
        driver.codec.take_output(plain);
        match tls.borrow_mut().as_mut() {
            None => std::mem::take(plain),
            Some(session) => {
                if let Err(e) = encrypt(session, plain, cipher) {
                    driver.ended = Some(Ended::Failed(Failure::new(ErrorKind::Tls, e)));
                    return false;
                }
                plain.clear();
                std::mem::take(cipher)
            }
        }
    };
    let len = buf.len() as u64;
    state.borrow_mut().mid_write = true;
    let (result, mut buf) = writer.write_all(buf).await;
    state.borrow_mut().mid_write = false;
    buf.clear();
    if tls.borrow().is_some() {
        *cipher = buf;
    } else {
        *plain = buf;
    }
    let mut driver = state.borrow_mut();
    if let Err(e) = result {
        if driver.ended.is_none() {
            driver.ended = Some(Ended::Failed(Failure::new(ErrorKind::Write, e)));
        }
        return false;
    }
    driver.shared.stats.borrow_mut().bytes_written += len;
    true
}

/// The reader: feeds the codec, records responses, enforces timeouts.
async fn read_loop<R: AsyncReadRent>(
    state: &RefCell<&mut Driver<'_>>,
    mut reader: R,
    tls: &RefCell<Option<rustls::ClientConnection>>,
    bells: &Bells,
    alarm: &Alarm,
) {
    let Bells {
        to_writer: bell,
        rearm,
        drained,
    } = bells;
    let mut read_size = FIRST_READ_BYTES;
    let mut input: Vec<u8> = Vec::with_capacity(read_size);
    let mut cipher: Vec<u8> = Vec::new();
    let is_tls = tls.borrow().is_some();
    if let Some(session) = tls.borrow_mut().as_mut() {
        // What arrived with the handshake.
        if let Err(failure) = decrypt(session, &[], &mut input) {
            state.borrow_mut().ended = Some(Ended::Failed(failure));
            return;
        }
    }
    let mut open = true;
    loop {
        if !input.is_empty() || !open {
            let mut driver = state.borrow_mut();
            let driver = &mut **driver;
            let used = receive(driver, &input);
            match used {
                Ok(used) => {
                    input.drain(..used);
                }
                Err(error) => {
                    driver.ended = Some(Ended::Failed(protocol_failure(error)));
                    return;
                }
            }
            bell.ring();
            if !open {
                driver.ended = Some(Ended::Failed(driver.closed_failure()));
                return;
            }
            driver.check_done();
            if driver.ended.is_some() {
                return;
            }
        }
        // Too many acknowledgements owed (a server sending PINGs and not reading): read no
        // more until the writer has sent them.
        while state.borrow().codec.acks_owed() >= MAX_ACKS_OWED {
            let limit = read_limit(&state.borrow());
            if alarm.guard(limit, drained.wait()).await.is_err() && !on_alarm(state, bell) {
                return;
            }
        }
        let buf = if is_tls {
            cipher.clear();
            cipher.reserve_exact(read_size);
            std::mem::take(&mut cipher)
        } else {
            input.reserve(read_size);
            std::mem::take(&mut input)
        };
        let (start, end) = (buf.len(), buf.capacity());
        let mut read = pin!(reader.read(buf.slice_mut(start..end)));
        let (result, slice) = loop {
            let limit = read_limit(&state.borrow());
            match alarm.guard(limit, read_or(read.as_mut(), rearm)).await {
                Ok(Some(done)) => break done,
                // A stream opened with nothing in flight: watch its timeout.
                Ok(None) => continue,
                Err(_) => {
                    if !on_alarm(state, bell) {
                        return;
                    }
                }
            }
        };
        let buf = slice.into_inner();
        let n = match result {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => {
                state.borrow_mut().ended = Some(Ended::Failed(Failure::new(ErrorKind::Read, e)));
                return;
            }
        };
        state.borrow().shared.stats.borrow_mut().bytes_read += n as u64;
        if n == end - start {
            // The read filled what it was given: more may be waiting.
            read_size = (read_size * 2).min(MAX_READ_BYTES);
        }
        if is_tls {
            cipher = buf;
            if n > 0 {
                let mut session = tls.borrow_mut();
                let session = session.as_mut().expect("a TLS connection");
                match decrypt(session, &cipher[start..start + n], &mut input) {
                    Ok(still_open) => open = still_open,
                    Err(failure) => {
                        state.borrow_mut().ended = Some(Ended::Failed(failure));
                        return;
                    }
                }
            } else {
                open = false;
            }
        } else {
            input = buf;
            open = n > 0;
        }
    }
}

/// Until when the reader may wait: the earliest stream timeout, or the run's end.
fn read_limit(driver: &Driver<'_>) -> Instant {
    let deadline = driver.shared.deadline;
    driver.next_timeout().map_or(deadline, |t| t.min(deadline))
}

/// The reader's wait ran past [`read_limit`]: the run is over, or streams time out. Returns
/// whether the connection goes on.
fn on_alarm(state: &RefCell<&mut Driver<'_>>, to_writer: &Bell) -> bool {
    let mut driver = state.borrow_mut();
    let shared = driver.shared;
    if shared.stop.is_requested() || Instant::now() >= shared.deadline {
        driver.ended = Some(Ended::RunOver);
        return false;
    }
    driver.expire(Instant::now());
    to_writer.ring();
    driver.check_done();
    driver.ended.is_none()
}

/// The read's result, or `None` when `rearm` rang first (the read stays in flight).
async fn read_or<F: Future>(read: std::pin::Pin<&mut F>, rearm: &Bell) -> Option<F::Output> {
    match race(read, rearm.wait()).await {
        Either::First(done) => Some(done),
        Either::Second(()) => None,
    }
}

/// Gives `input` to the codec, recording what ends; returns the bytes it used.
fn receive(driver: &mut Driver<'_>, input: &[u8]) -> Result<usize, ConnectionError> {
    let Driver {
        shared,
        codec,
        in_flight,
        pending,
        goaway,
        latency_from_due,
        ..
    } = driver;
    let mut handler = Responses {
        shared,
        latency_from_due: *latency_from_due,
        in_flight,
        pending,
        goaway,
        now: Instant::now(),
    };
    codec.receive(input, &mut handler)
}

fn protocol_failure(error: ConnectionError) -> Failure {
    if error.reason == ConnectionError::HTTP1_REPLY {
        return Failure::message(ErrorKind::Protocol, H2C_REFUSED);
    }
    Failure::new(
        ErrorKind::Protocol,
        io::Error::other(format!("{} ({})", error.reason, error.code.name())),
    )
}

/// Why an h2c connection failed when the server answered in HTTP/1.1.
pub(crate) const H2C_REFUSED: &str = "the server answered the HTTP/2 preface in HTTP/1.1: it does \
     not speak HTTP/2 without TLS (h2c); drop --http2, or use https:// where ALPN can \
     negotiate h2";

impl Driver<'_> {
    /// Why the streams still in flight failed when the server closed the connection.
    fn closed_failure(&self) -> Failure {
        match self.goaway {
            Some((last, code)) => Failure::new(
                ErrorKind::Goaway,
                io::Error::other(format!(
                    "the server went away (GOAWAY {}, last stream {last}) before completing \
                     the stream",
                    code.name()
                )),
            ),
            None => Failure::message(ErrorKind::Closed, "connection closed before response"),
        }
    }
}

/// Records responses as the codec reports them.
struct Responses<'a, 'b> {
    shared: &'b WorkerShared,
    latency_from_due: bool,
    in_flight: &'a mut Vec<InFlight>,
    pending: &'a mut Vec<Pending>,
    goaway: &'a mut Option<(u32, ErrorCode)>,
    now: Instant,
}

impl Responses<'_, '_> {
    fn find(&mut self, stream: u32) -> Option<usize> {
        self.in_flight.iter().position(|f| f.stream == stream)
    }
}

impl Handler for Responses<'_, '_> {
    /// The load path reads the status only.
    fn wants_fields(&self) -> bool {
        false
    }

    fn head(&mut self, stream: u32, status: u16) {
        let now = self.now;
        if let Some(at) = self.find(stream) {
            let f = &mut self.in_flight[at];
            f.first_byte_at = Some(now);
            f.status = status;
        }
    }

    fn data(&mut self, stream: u32, data: &[u8]) {
        if let Some(at) = self.find(stream) {
            self.in_flight[at].body_len += data.len() as u64;
        }
    }

    fn goaway(&mut self, last_stream: u32, code: ErrorCode) {
        *self.goaway = Some((last_stream, code));
    }

    fn end(&mut self, stream: u32, end: StreamEnd) {
        let Some(at) = self.find(stream) else {
            return;
        };
        let f = self.in_flight.swap_remove(at);
        let shared = self.shared;
        shared.plan.exchange_ended();
        let failure = match end {
            StreamEnd::Complete => {
                let done = self.now;
                let endpoint = shared.requests[f.pending.request].endpoint;
                let first_byte_at = f.first_byte_at.unwrap_or(done);
                let latency_from = if self.latency_from_due {
                    f.pending.due
                } else {
                    f.sent_at
                };
                shared.stats.borrow_mut().record_response(
                    endpoint,
                    ResponseTimes {
                        status: f.status,
                        latency_us: micros(done.saturating_duration_since(latency_from)),
                        uncorrected_us: micros(done.saturating_duration_since(f.sent_at)),
                        ttfb_us: micros(first_byte_at.saturating_duration_since(f.sent_at)),
                        body_len: f.body_len,
                        done_us: shared.since_start(done),
                    },
                );
                return;
            }
            StreamEnd::NotProcessed if !f.pending.resent => {
                // Never processed by the server: safe to send again, once.
                let endpoint = shared.requests[f.pending.request].endpoint;
                shared.stats.borrow_mut().endpoints[endpoint].retries += 1;
                self.pending.push(Pending {
                    resent: true,
                    ..f.pending
                });
                return;
            }
            StreamEnd::NotProcessed => match self.goaway {
                Some((_, code)) => Failure::new(
                    ErrorKind::Goaway,
                    io::Error::other(format!(
                        "the server went away (GOAWAY {}) without processing the stream, twice",
                        code.name()
                    )),
                ),
                None => Failure::message(
                    ErrorKind::Refused,
                    "the server refused the stream (REFUSED_STREAM), twice",
                ),
            },
            StreamEnd::Reset(code) => Failure::new(
                ErrorKind::Reset,
                io::Error::other(format!("the server reset the stream ({})", code.name())),
            ),
            StreamEnd::Malformed(why) => Failure::message(ErrorKind::Protocol, why),
        };
        shared.fail_one(f.pending.request, &failure, f.sent_at);
    }
}
