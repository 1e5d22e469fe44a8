//! The request/response client behind the Python package: one background thread runs a monoio
//! runtime with keep-alive pools per session; callers submit requests from any thread and collect
//! completions without blocking.
//!
//! Wake-ups cross threads through file descriptors, never through locks held while waiting:
//! - submit: the job goes into a queue and, only if the engine thread has not been told yet, one
//!   byte into a socketpair the engine reads asynchronously;
//! - complete: the result goes into a queue and, only if that queue was empty, an eventfd is
//!   signalled. A gevent hub (or any event loop) watches that fd and drains all results at once.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use monoio::io::AsyncReadRent;
use monoio::net::UnixStream;
use rustls::ClientConfig;

use crate::body_stream::{BodyStream, EngineWaker};
use crate::error::{ErrorKind, Failure};
use crate::net::any_stream::AnyStream;
use crate::net::dial::{Dialer, TcpDialer, TlsDialer};
use crate::net::proxy::{open_tunnel, ClientProxy};
use crate::net::resolve::{self, Lookups, Resolve, SystemResolver};
use crate::net::tls::TlsOptions;
use crate::origin::Scheme;
use crate::proto::h1::conn::{Connection, Responses};
use crate::proto::h1::stream::{ResponseEnd, ResponseSink};
use crate::runtime::{micros, IoMode};

/// One request to send. The bytes are already encoded and validated.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// Chosen by the caller; comes back with the completion.
    pub token: u64,
    /// Connections are pooled per session (a Locust user) and origin.
    pub session: u64,
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    pub bytes: Vec<u8>,
    pub is_head: bool,
    pub idempotent: bool,
    pub connect_timeout: Duration,
    /// Bounds the whole response wait, not each read: a trickling server still times out.
    pub timeout: Duration,
    pub tls: ClientTls,
    /// At most this many connections to this origin for this session, busy or idle (Locust's
    /// `concurrency`); a request beyond it waits for one. 0: no limit.
    pub max_connections: usize,
    /// Through this HTTP proxy: `bytes` are in absolute form for `http://`; `https://` goes
    /// through a CONNECT tunnel.
    pub proxy: Option<Arc<ClientProxy>>,
    /// Complete the request at its response head; the body follows through
    /// [`ClientResponse::stream`] as it arrives (nothing is decoded), and `timeout` bounds the
    /// head and then each wait for more of the body.
    pub stream: bool,
    /// Decode `Content-Encoding: gzip, deflate, br` bodies.
    pub decode: bool,
}

/// How an `https://` request's connection is secured.
#[derive(Debug, Clone)]
pub enum ClientTls {
    /// The server's certificate is verified against the system's roots.
    Verified,
    /// Any certificate is accepted.
    Insecure,
    /// A configuration of the caller's (trusted CAs, a client certificate, ...).
    Custom(Arc<CustomTls>),
}

/// A caller's TLS configuration; connections are pooled per configuration.
#[derive(Debug)]
pub struct CustomTls {
    id: u64,
    config: Arc<ClientConfig>,
}

impl CustomTls {
    pub fn new(config: Arc<ClientConfig>) -> Arc<CustomTls> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(2);
        Arc::new(CustomTls {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            config,
        })
    }
}

impl ClientTls {
    /// The pool key's part: 0 and 1 for the engine's own configurations, then one per custom.
    fn pool_id(&self) -> u64 {
        match self {
            ClientTls::Verified => 0,
            ClientTls::Insecure => 1,
            ClientTls::Custom(custom) => custom.id,
        }
    }
}

/// Response header fields in order, in one buffer: a response's fields cost two allocations,
/// not two per field (names are ASCII as parsed; values are bytes, since HTTP allows obs-text).
#[derive(Debug, Clone, Default)]
pub struct ResponseHeaders {
    text: Vec<u8>,
    /// Per field: where its name ends (its value starts) and where its value ends in `text`.
    ends: Vec<(u32, u32)>,
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

/// Why no response arrived.
#[derive(Debug, Clone)]
pub struct ClientFailure {
    pub kind: ErrorKind,
    /// The OS error behind it (`ECONNREFUSED`, `ETIMEDOUT`, ...), also for causes the engine
    /// detected itself (a connect timeout is `ETIMEDOUT`); `None` when no OS error fits.
    pub errno: Option<i32>,
    pub message: String,
    /// From the start of the request (before connecting) to the failure: what a timed-out or
    /// refused request still reports as its response time.
    pub elapsed_us: u64,
}

/// The errno an I/O error stands for (also when it wraps the OS error, as
/// [`crate::net::proxy::ProxyUnreachable`] does).
fn errno_of(error: &io::Error) -> Option<i32> {
    let wrapped = || {
        let source = std::error::Error::source(error.get_ref()?)?;
        source.downcast_ref::<io::Error>()?.raw_os_error()
    };
    error
        .raw_os_error()
        .or_else(wrapped)
        .or(match error.kind() {
            io::ErrorKind::TimedOut => Some(libc::ETIMEDOUT),
            io::ErrorKind::ConnectionRefused => Some(libc::ECONNREFUSED),
            io::ErrorKind::ConnectionReset => Some(libc::ECONNRESET),
            io::ErrorKind::ConnectionAborted => Some(libc::ECONNABORTED),
            io::ErrorKind::BrokenPipe => Some(libc::EPIPE),
            io::ErrorKind::AddrNotAvailable => Some(libc::EADDRNOTAVAIL),
            _ => None,
        })
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

enum Command {
    Request(Box<ClientRequest>),
    /// The caller gave up on this request (its greenlet was killed): if it has not been taken
    /// up yet, it is not sent.
    Cancel(u64),
    CloseSession(u64),
    /// A helper thread's answer for a host name ([`crate::net::resolve`]).
    Resolved {
        host: String,
        port: u16,
        answer: io::Result<Vec<SocketAddr>>,
    },
}

/// Jobs handed from callers to the engine thread.
struct Inbox {
    jobs: Mutex<Vec<Command>>,
    /// The engine thread has been woken and will look at `jobs` again.
    notified: AtomicBool,
    /// Writing one byte here wakes the engine thread.
    wake: StdUnixStream,
    closed: AtomicBool,
}

impl Inbox {
    /// Queues a command without waking the engine: callers batch, then [`Inbox::wake`] once.
    fn push(&self, command: Command) -> io::Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client is closed",
            ));
        }
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(command);
        Ok(())
    }

    fn wake(&self) -> io::Result<()> {
        if !self.notified.swap(true, Ordering::AcqRel) {
            match (&self.wake).write(&[1]) {
                Ok(_) => {}
                // The socket buffer is full of wake bytes: the engine is awake anyway.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Results handed from the engine thread to callers.
struct Outbox {
    done: Mutex<Vec<Completion>>,
    /// Readable while completions wait.
    event: OwnedFd,
}

impl Outbox {
    /// Publishes a batch of completions, signalling the eventfd only if nothing was waiting.
    fn publish(&self, batch: &mut Vec<Completion>) {
        if batch.is_empty() {
            return;
        }
        let was_empty = {
            let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
            let was_empty = done.is_empty();
            done.append(batch);
            was_empty
        };
        if was_empty {
            let one: u64 = 1;
            // SAFETY: writing 8 bytes from a valid u64 to an eventfd we own.
            unsafe {
                libc::write(self.event.as_raw_fd(), (&one as *const u64).cast(), 8);
            }
        }
    }

    fn drain(&self, into: &mut Vec<Completion>) {
        // Reset the eventfd before taking the queue: a completion pushed after the swap finds
        // the queue empty and signals again, so none waits unseen.
        let mut counter: u64 = 0;
        // SAFETY: reading 8 bytes into a valid u64 from a non-blocking eventfd we own.
        unsafe {
            libc::read(self.event.as_raw_fd(), (&mut counter as *mut u64).cast(), 8);
        }
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        into.append(&mut done);
    }
}

/// Handle to the engine thread. Dropping it stops the thread and closes every connection.
pub struct Client {
    inbox: Arc<Inbox>,
    outbox: Arc<Outbox>,
    thread: Option<std::thread::JoinHandle<()>>,
    io: &'static str,
}

impl Client {
    /// Starts the engine thread. It inherits the process's CPU affinity (`taskset`).
    pub fn start(io: IoMode) -> io::Result<Client> {
        Client::start_with_resolver(io, Arc::new(SystemResolver))
    }

    /// [`Client::start`] with host names looked up by `resolver` (on helper threads, never on
    /// the engine thread).
    pub fn start_with_resolver(io: IoMode, resolver: Arc<dyn Resolve>) -> io::Result<Client> {
        let (use_uring, _) = crate::runtime::choose_io(io).map_err(io::Error::other)?;
        let (wake_tx, wake_rx) = StdUnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        // SAFETY: eventfd returns a new descriptor or -1.
        let event = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if event < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `event` is a fresh descriptor owned by nobody else.
        let event = unsafe { OwnedFd::from_raw_fd(event) };
        let inbox = Arc::new(Inbox {
            jobs: Mutex::new(Vec::new()),
            notified: AtomicBool::new(false),
            wake: wake_tx,
            closed: AtomicBool::new(false),
        });
        let outbox = Arc::new(Outbox {
            done: Mutex::new(Vec::new()),
            event,
        });
        // The thread reports whether its runtime started: a client whose engine cannot run
        // must fail here, not leave the first request waiting for a thread that is gone.
        let (started_tx, started_rx) = std::sync::mpsc::sync_channel::<io::Result<()>>(1);
        let thread = {
            let (inbox, outbox) = (inbox.clone(), outbox.clone());
            std::thread::Builder::new()
                .name("ringload-client".into())
                .spawn(move || {
                    prefer_caller_on_shared_core();
                    let main = engine_main(inbox.clone(), outbox, wake_rx, resolver);
                    let result = crate::runtime::run_on_runtime(use_uring, main, || {
                        let _ = started_tx.send(Ok(()));
                    });
                    if let Err(e) = result {
                        let _ = started_tx.send(Err(e));
                    }
                    // However the engine ended, later submissions fail instead of waiting.
                    inbox.closed.store(true, Ordering::Release);
                })?
        };
        let started = started_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the engine thread ended while starting")));
        if let Err(e) = started {
            let _ = thread.join();
            let hint = if e.raw_os_error() == Some(libc::EMFILE) {
                " (raise the open-file limit, e.g. `ulimit -n 65536`)"
            } else {
                ""
            };
            return Err(io::Error::new(
                e.kind(),
                format!("cannot start the I/O runtime: {e}{hint}"),
            ));
        }
        Ok(Client {
            inbox,
            outbox,
            thread: Some(thread),
            io: if use_uring { "uring" } else { "epoll" },
        })
    }

    /// `"uring"` or `"epoll"`.
    pub fn io(&self) -> &'static str {
        self.io
    }

    /// Queues a request; nothing is sent until [`Client::flush`]. Its completion arrives
    /// through [`Client::drain`]. Never blocks.
    ///
    /// Submitting and flushing separately lets a caller that serves many users in one thread
    /// wake the engine once per batch: on a shared core, waking it per request made the two
    /// threads preempt each other several times per request.
    pub fn submit(&self, request: ClientRequest) -> io::Result<()> {
        self.inbox.push(Command::Request(Box::new(request)))
    }

    /// Wakes the engine for everything submitted so far.
    pub fn flush(&self) -> io::Result<()> {
        self.inbox.wake()
    }

    /// Gives up on request `token`: one still waiting to be taken up by the engine (submitted,
    /// not yet flushed) is never sent; one already on its way completes, and its result comes
    /// as usual. Does not wake the engine: the flush that would send the request delivers it.
    pub fn cancel(&self, token: u64) -> io::Result<()> {
        self.inbox.push(Command::Cancel(token))
    }

    /// Closes the session's pooled connections.
    pub fn close_session(&self, session: u64) -> io::Result<()> {
        self.inbox.push(Command::CloseSession(session))?;
        self.inbox.wake()
    }

    /// A descriptor that is readable while completions wait (for an event loop to watch).
    pub fn completion_fd(&self) -> RawFd {
        self.outbox.event.as_raw_fd()
    }

    /// Moves every waiting completion into `into`. Never blocks.
    pub fn drain(&self, into: &mut Vec<Completion>) {
        self.outbox.drain(into);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.inbox.closed.store(true, Ordering::Release);
        // The engine sees the closed flag on its next wake-up and stops.
        self.inbox.notified.store(false, Ordering::Release);
        let _ = self.inbox.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The engine thread often shares a core with the Python thread that feeds it (one process per
/// core). As SCHED_BATCH it does not preempt that thread each time a response arrives; it runs
/// when the caller parks, and then handles everything that arrived meanwhile in one pass.
/// Response times are measured here, so the batching does not change them. Best effort.
fn prefer_caller_on_shared_core() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: changes only the calling thread's policy; param is a valid sched_param.
    unsafe {
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
    }
}

type Pooled = Connection<AnyStream>;
type HostPort = (String, u16);

#[derive(Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    session: u64,
    https: bool,
    host: String,
    port: u16,
    /// [`ClientTls::pool_id`]: a connection made with one TLS configuration is not reused
    /// for another.
    tls: u64,
    /// The proxy's id, 0 for none.
    proxy: u64,
}

/// Engine-thread state, shared by its request tasks.
struct Engine {
    /// Completions of this scheduler pass; the flusher publishes them together, so the caller's
    /// thread is woken once per batch rather than once per response.
    finished: RefCell<Vec<Completion>>,
    flush_needed: LocalNotify,
    pools: RefCell<HashMap<PoolKey, Rc<RefCell<Pool>>>>,
    /// Host name lookups on helper threads; their answers come back through `inbox`.
    lookups: Lookups,
    /// Lookups under way, each shared by every connection that waits for that name.
    looking_up: RefCell<HashMap<HostPort, Rc<PendingLookup>>>,
    inbox: Arc<Inbox>,
    tls_verified: RefCell<Option<Arc<ClientConfig>>>,
    tls_insecure: RefCell<Option<Arc<ClientConfig>>>,
    outbox: Arc<Outbox>,
    /// Streamed bodies whose reader is behind, each with the exchange that waits to read on.
    paused: RefCell<Vec<(Arc<BodyStream>, Rc<LocalNotify>)>>,
    /// Given to each streamed body: its reader wakes this thread when it has caught up.
    resume: EngineWaker,
}

async fn engine_main(
    inbox: Arc<Inbox>,
    outbox: Arc<Outbox>,
    wake_rx: StdUnixStream,
    resolver: Arc<dyn Resolve>,
) {
    let resume = {
        let inbox = inbox.clone();
        EngineWaker(Arc::new(move || {
            let _ = inbox.wake();
        }))
    };
    let engine = Rc::new(Engine {
        finished: RefCell::new(Vec::new()),
        flush_needed: LocalNotify::default(),
        pools: RefCell::new(HashMap::new()),
        lookups: Lookups::new(resolver),
        looking_up: RefCell::new(HashMap::new()),
        inbox: inbox.clone(),
        tls_verified: RefCell::new(None),
        tls_insecure: RefCell::new(None),
        outbox,
        paused: RefCell::new(Vec::new()),
        resume,
    });
    let Ok(mut wake) = UnixStream::from_std(wake_rx) else {
        return;
    };
    {
        let engine = engine.clone();
        // Woken by the first completion of a pass; runs after the request tasks that are
        // already ready (the run queue is FIFO), so it publishes them all at once.
        monoio::spawn(async move {
            let mut batch = Vec::new();
            loop {
                engine.flush_needed.wait().await;
                std::mem::swap(&mut batch, &mut *engine.finished.borrow_mut());
                engine.outbox.publish(&mut batch);
            }
        });
    }
    let mut wake_buf = vec![0u8; 64];
    let mut batch = Vec::new();
    loop {
        // Clear the flag before looking at the queue, so a job pushed after the look wakes us.
        inbox.notified.store(false, Ordering::Release);
        std::mem::swap(
            &mut batch,
            &mut *inbox.jobs.lock().unwrap_or_else(|e| e.into_inner()),
        );
        // Requests cancelled before the engine took them up: rare (a user killed between its
        // send and the flush), so the usual batch costs one pass finding none.
        let cancelled: Vec<u64> = batch
            .iter()
            .filter_map(|command| match command {
                Command::Cancel(token) => Some(*token),
                _ => None,
            })
            .collect();
        for command in batch.drain(..) {
            match command {
                Command::Request(request) if cancelled.contains(&request.token) => {}
                Command::Request(request) => {
                    monoio::spawn(handle_request(engine.clone(), *request));
                }
                Command::Cancel(_) => {}
                Command::CloseSession(session) => {
                    // Idle connections close now; busy ones when their request ends (their
                    // pool is marked closed). New requests get new pools.
                    engine.pools.borrow_mut().retain(|key, pool| {
                        if key.session == session {
                            let mut pool = pool.borrow_mut();
                            pool.closed = true;
                            pool.idle.clear();
                            // Waiters there may dial now: the closed pool limits nobody.
                            for waiter in pool.waiting.drain(..) {
                                waiter.notify();
                            }
                        }
                        key.session != session
                    });
                }
                Command::Resolved { host, port, answer } => {
                    if let Some(pending) = engine.looking_up.borrow_mut().remove(&(host, port)) {
                        pending.complete(answer);
                    }
                }
            }
        }
        // A reader that caught up woke us (as a new job does): its exchange reads on.
        engine.paused.borrow_mut().retain(|(body, resume)| {
            let still_paused = body.is_paused();
            if !still_paused {
                resume.notify();
            }
            still_paused
        });
        if inbox.closed.load(Ordering::Acquire) {
            return;
        }
        let (result, buf) = wake.read(wake_buf).await;
        wake_buf = buf;
        if matches!(result, Ok(0)) {
            return;
        }
    }
}

async fn handle_request(engine: Rc<Engine>, request: ClientRequest) {
    let started = Instant::now();
    let body = request
        .stream
        .then(|| BodyStream::with_resume(engine.resume.clone()));
    let result = exchange_with_retry(&engine, &request, started, body.as_ref())
        .await
        .map_err(|failure| ClientFailure {
            kind: failure.kind,
            errno: errno_of(&failure.error),
            message: failure.error.to_string(),
            elapsed_us: micros(started.elapsed()),
        });
    match (result, body) {
        // A streamed body that started: its response went out at the head; now its end.
        (result, Some(body)) if body.head_sent() => {
            for reader in body.finish(result.err()) {
                engine.publish(reader, Outcome::BodyReadable);
            }
        }
        (Ok(response), _) => engine.publish(request.token, Outcome::Response(response)),
        (Err(failure), _) => engine.publish(request.token, Outcome::Failure(failure)),
    }
}

impl Engine {
    /// Queues a completion; the flusher publishes this pass's together.
    fn publish(&self, token: u64, outcome: Outcome) {
        self.finished
            .borrow_mut()
            .push(Completion { token, outcome });
        self.flush_needed.notify();
    }
}

/// A single-threaded "something happened" signal for one waiting task.
#[derive(Default)]
struct LocalNotify {
    notified: std::cell::Cell<bool>,
    waker: RefCell<Option<std::task::Waker>>,
}

impl LocalNotify {
    fn notify(&self) {
        if !self.notified.replace(true) {
            if let Some(waker) = self.waker.borrow_mut().take() {
                waker.wake();
            }
        }
    }

    /// Resolves once `notify` has been called since the last `wait`.
    fn wait(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.notified.replace(false) {
                std::task::Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
    }
}

/// A lookup's addresses, or its error's kind and text (one answer, copied to every waiter).
type LookupAnswer = Result<Rc<[SocketAddr]>, (io::ErrorKind, String)>;

/// A host name lookup under way, and the connections waiting for its answer.
#[derive(Default)]
struct PendingLookup {
    answer: RefCell<Option<LookupAnswer>>,
    waiters: RefCell<Vec<std::task::Waker>>,
}

impl PendingLookup {
    fn complete(&self, answer: io::Result<Vec<SocketAddr>>) {
        let answer = match answer {
            Ok(addrs) if addrs.is_empty() => Err((
                io::ErrorKind::NotFound,
                "the host name has no address".to_string(),
            )),
            Ok(addrs) => Ok(Rc::from(addrs)),
            Err(e) => Err((e.kind(), e.to_string())),
        };
        *self.answer.borrow_mut() = Some(answer);
        for waker in self.waiters.take() {
            waker.wake();
        }
    }

    fn answer(&self) -> impl std::future::Future<Output = io::Result<Rc<[SocketAddr]>>> + '_ {
        std::future::poll_fn(move |cx| match &*self.answer.borrow() {
            Some(Ok(addrs)) => std::task::Poll::Ready(Ok(addrs.clone())),
            Some(Err((kind, message))) => {
                std::task::Poll::Ready(Err(io::Error::new(*kind, message.clone())))
            }
            None => {
                self.waiters.borrow_mut().push(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
    }
}

async fn exchange_with_retry(
    engine: &Engine,
    request: &ClientRequest,
    started: Instant,
    body: Option<&Arc<BodyStream>>,
) -> Result<ClientResponse, Failure> {
    let key = PoolKey {
        session: request.session,
        https: request.scheme == Scheme::Https,
        host: request.host.clone(),
        port: request.port,
        tls: request.tls.pool_id(),
        proxy: request.proxy.as_ref().map_or(0, |proxy| proxy.id),
    };
    let pool = engine.pools.borrow_mut().entry(key).or_default().clone();
    let (mut slot, mut idle) = Slot::take(&pool, request, started).await?;
    let mut resent = false;
    loop {
        // A connection the server closed while it sat in the pool is dropped unused: the
        // request goes out on a new one, neither failed nor resent ([`crate::net::idle`]).
        let alive = idle
            .take()
            .and_then(|mut conn| (!conn.retired_while_idle(Instant::now())).then_some(conn));
        let mut conn = match alive {
            Some(conn) => conn,
            None => {
                // Boxed: a dial's state would otherwise be part of every request's task, also
                // of those that reuse a connection.
                let dialing = Box::pin(dial(engine, request));
                let dialed = monoio::time::timeout(request.connect_timeout, dialing)
                    .await
                    .unwrap_or_else(|_| {
                        Err(Failure::new(
                            ErrorKind::Connect,
                            io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
                        ))
                    })?;
                let mut fresh = Pooled::new(0);
                fresh.attach(dialed);
                fresh
            }
        };
        let reused = conn.is_reused();
        conn.requests_buf().extend_from_slice(&request.bytes);
        // Past this the response has timed out; a streamed body moves it on as bytes arrive.
        let deadline = Rc::new(Cell::new(started + request.timeout));
        let mut capture = Capture {
            is_head: request.is_head,
            streaming: body.map(|body| Streaming {
                engine,
                token: request.token,
                body: body.clone(),
                started,
                reused,
                deadline: deadline.clone(),
                idle_timeout: request.timeout,
            }),
            ..Capture::default()
        };
        let outcome = {
            let exchange = std::pin::pin!(conn.exchange(&mut capture, true));
            until_deadline(&deadline, body, exchange).await
        };
        match outcome {
            Ok(Ok(keep_alive)) => {
                if keep_alive {
                    slot.give_back(conn);
                }
                return capture.finish(request, reused, started);
            }
            Ok(Err(failure)) => {
                if !resent && conn.may_resend(&failure, request.idempotent) {
                    resent = true;
                    continue;
                }
                return Err(failure);
            }
            Err(Stopped::Cancelled) => {
                // Nobody reads the rest: the connection closes with the slot.
                return Err(Failure::message(
                    ErrorKind::Closed,
                    "the streamed response was closed before its end",
                ));
            }
            Err(Stopped::TimedOut) => {
                let what = if body.is_some_and(|body| body.head_sent()) {
                    "timed out waiting for more of the streamed body"
                } else {
                    "timed out waiting for the response"
                };
                return Err(Failure::new(
                    ErrorKind::Timeout,
                    io::Error::new(io::ErrorKind::TimedOut, what),
                ));
            }
        }
    }
}

/// One session's connections to one origin: the idle ones, how many are open (busy or idle),
/// and the requests waiting for one when that reaches the session's limit.
#[derive(Default)]
struct Pool {
    idle: Vec<Pooled>,
    open: usize,
    waiting: std::collections::VecDeque<Rc<LocalNotify>>,
    /// The session's pools were closed: connections that come back are closed, not kept.
    closed: bool,
}

impl Pool {
    /// Someone is still waiting (a waiter that timed out has dropped its handle).
    fn has_waiters(&mut self) -> bool {
        while let Some(front) = self.waiting.front() {
            if Rc::strong_count(front) > 1 {
                return true;
            }
            self.waiting.pop_front();
        }
        false
    }

    /// Wakes the first waiter still waiting (one that timed out has dropped its handle).
    fn wake_one(&mut self) {
        while let Some(waiter) = self.waiting.pop_front() {
            if Rc::strong_count(&waiter) > 1 {
                waiter.notify();
                return;
            }
        }
    }
}

/// A request's claim on one of its pool's open connections. Dropped without
/// [`Slot::give_back`] (an error, a closed connection), it frees the claim for a waiter.
struct Slot {
    pool: Rc<RefCell<Pool>>,
    held: bool,
}

impl Slot {
    /// An idle connection, or the right to dial one, waiting while the limit is reached
    /// (within the request's timeout, which the wait counts toward, as in Locust).
    async fn take(
        pool: &Rc<RefCell<Pool>>,
        request: &ClientRequest,
        started: Instant,
    ) -> Result<(Slot, Option<Pooled>), Failure> {
        // A request that was woken has its turn; a newcomer queues behind those still waiting.
        let mut woken = false;
        loop {
            let waiter = {
                let mut state = pool.borrow_mut();
                let my_turn = woken || !state.has_waiters();
                let unlimited = request.max_connections == 0 || state.closed;
                let idle = if my_turn { state.idle.pop() } else { None };
                if idle.is_some() || unlimited || (my_turn && state.open < request.max_connections)
                {
                    if idle.is_none() {
                        state.open += 1;
                    }
                    let slot = Slot {
                        pool: pool.clone(),
                        held: true,
                    };
                    return Ok((slot, idle));
                }
                let waiter = Rc::new(LocalNotify::default());
                state.waiting.push_back(waiter.clone());
                waiter
            };
            let remaining = request.timeout.saturating_sub(started.elapsed());
            if monoio::time::timeout(remaining, waiter.wait())
                .await
                .is_err()
            {
                return Err(Failure::new(
                    ErrorKind::Timeout,
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "timed out waiting for a free connection: all {} allowed to this host \
                             were busy (raise the user's concurrency, or its client_pool's)",
                            request.max_connections
                        ),
                    ),
                ));
            }
            woken = true;
        }
    }

    /// The connection may carry another request: it goes back to the pool, still open.
    fn give_back(&mut self, mut conn: Pooled) {
        let mut state = self.pool.borrow_mut();
        if state.closed {
            return; // dropped with the slot: the connection closes and frees its place
        }
        // A Locust user waits seconds between requests: idle, its connection keeps no buffers,
        // so thousands of users cost little more than their sockets.
        conn.release_buffers();
        if state.idle.capacity() == 0 {
            state.idle.reserve_exact(1); // most users hold one connection per origin
        }
        state.idle.push(conn);
        state.wake_one();
        self.held = false;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.held {
            let mut state = self.pool.borrow_mut();
            state.open = state.open.saturating_sub(1);
            state.wake_one();
        }
    }
}

async fn dial(engine: &Engine, request: &ClientRequest) -> Result<AnyStream, Failure> {
    let (host, port) = match &request.proxy {
        Some(proxy) => (proxy.host.as_str(), proxy.port),
        None => (request.host.as_str(), request.port),
    };
    // Through a proxy, every connection this makes is to the proxy: a failure names it.
    let named = |failure| match &request.proxy {
        Some(proxy) => proxy.unreachable(failure),
        None => failure,
    };
    let tcp = TcpDialer {
        addrs: engine.resolve(host, port).await.map_err(named)?,
        connect_timeout: request.connect_timeout,
    };
    if request.scheme == Scheme::Http {
        return Ok(AnyStream::Plain(tcp.dial().await.map_err(named)?.0));
    }
    // Boxed: a handshake's state is twice a plain connect's, which every plain dial would
    // carry otherwise (thousands at once when Locust spawns its users).
    Box::pin(dial_tls(engine, request, tcp)).await
}

/// [`dial`] for `https://`: TCP (through the proxy's tunnel if there is one), then TLS.
async fn dial_tls(
    engine: &Engine,
    request: &ClientRequest,
    tcp: TcpDialer,
) -> Result<AnyStream, Failure> {
    let config = match &request.tls {
        ClientTls::Verified => engine.tls_config(true)?,
        ClientTls::Insecure => engine.tls_config(false)?,
        ClientTls::Custom(custom) => custom.config.clone(),
    };
    let name = crate::net::tls::server_name(&request.host)
        .map_err(|e| Failure::new(ErrorKind::Tls, io::Error::other(e.to_string())))?;
    let tls = TlsDialer::new(tcp, config, name);
    let stream = match &request.proxy {
        None => tls.dial().await?.0,
        Some(proxy) => {
            let (mut tunnel, _) = tls
                .tcp
                .dial()
                .await
                .map_err(|failure| proxy.unreachable(failure))?;
            open_tunnel(&mut tunnel, proxy, &request.host, request.port).await?;
            tls.handshake(tunnel).await?
        }
    };
    Ok(AnyStream::Tls(Box::new(stream)))
}

impl Engine {
    /// The addresses of `host` for a new connection, looked up on a helper thread (an IP
    /// literal at once). A lookup already under way for the same name is shared.
    async fn resolve(&self, host: &str, port: u16) -> Result<Rc<[SocketAddr]>, Failure> {
        if let Some(addr) = resolve::literal(host, port) {
            return Ok(Rc::from([addr]));
        }
        let key = (host.to_string(), port);
        let existing = self.looking_up.borrow().get(&key).cloned();
        let pending = match existing {
            Some(pending) => pending,
            None => {
                let pending = Rc::new(PendingLookup::default());
                self.looking_up
                    .borrow_mut()
                    .insert(key.clone(), pending.clone());
                let inbox = self.inbox.clone();
                self.lookups.submit(resolve::Job {
                    host: key.0.clone(),
                    port,
                    answer: Box::new(move |answer| {
                        // A closed client has nobody left to tell.
                        if inbox
                            .push(Command::Resolved {
                                host: key.0,
                                port,
                                answer,
                            })
                            .is_ok()
                        {
                            let _ = inbox.wake();
                        }
                    }),
                });
                pending
            }
        };
        pending
            .answer()
            .await
            .map_err(|e| Failure::new(ErrorKind::Connect, e))
    }

    fn tls_config(&self, verify: bool) -> Result<Arc<ClientConfig>, Failure> {
        let slot = if verify {
            &self.tls_verified
        } else {
            &self.tls_insecure
        };
        if let Some(config) = slot.borrow().as_ref() {
            return Ok(config.clone());
        }
        let options = TlsOptions {
            insecure: !verify,
            ..TlsOptions::default()
        };
        let config = crate::net::tls::client_config(&options)
            .map_err(|e| Failure::new(ErrorKind::Tls, io::Error::other(e.to_string())))?;
        *slot.borrow_mut() = Some(config.clone());
        Ok(config)
    }
}

/// How often a streamed exchange looks whether its reader is gone.
const CANCEL_CHECK: Duration = Duration::from_millis(100);

/// Why [`until_deadline`] gave up.
enum Stopped {
    TimedOut,
    /// A streamed body's reader went away.
    Cancelled,
}

/// Runs `future` until it completes or `deadline` passes, following a deadline that moves;
/// a streamed exchange also stops soon after its reader cancels.
///
/// `future` comes pinned by the caller: moved in, it would be stored twice in this one's state
/// (as the argument and pinned), a kilobyte more for every request in flight.
async fn until_deadline<F: std::future::Future>(
    deadline: &Cell<Instant>,
    body: Option<&Arc<BodyStream>>,
    mut future: std::pin::Pin<&mut F>,
) -> Result<F::Output, Stopped> {
    loop {
        let until = deadline.get();
        let wake_at = match body {
            // Paused, the deadline does not run: only look for a cancel now and then.
            Some(body) if body.is_paused() => Instant::now() + CANCEL_CHECK,
            Some(_) => until.min(Instant::now() + CANCEL_CHECK),
            None => until,
        };
        match monoio::time::timeout_at(monoio::time::Instant::from_std(wake_at), &mut future).await
        {
            Ok(output) => return Ok(output),
            Err(_) if body.is_some_and(|body| body.is_cancelled()) => {
                return Err(Stopped::Cancelled)
            }
            // Not reading because the reader is behind: the server is not late. The wait
            // starts again when reading resumes.
            Err(_) if body.is_some_and(|body| body.is_paused()) => continue,
            Err(_) if deadline.get() > until || wake_at < until => continue,
            Err(_) => return Err(Stopped::TimedOut),
        }
    }
}

/// Where a streamed response goes as it arrives.
struct Streaming<'a> {
    engine: &'a Engine,
    token: u64,
    body: Arc<BodyStream>,
    started: Instant,
    reused: bool,
    deadline: Rc<Cell<Instant>>,
    /// Each wait for more of the body may take this long.
    idle_timeout: Duration,
}

impl Streaming<'_> {
    /// Back-pressure: while the reader leaves too much unread, the socket is not read; the
    /// reader's take wakes the engine thread, which resumes this exchange.
    async fn wait_for_reader(&self) {
        if !self.body.pause_if_full() {
            return;
        }
        let resumed = Rc::new(LocalNotify::default());
        self.engine
            .paused
            .borrow_mut()
            .push((self.body.clone(), resumed.clone()));
        resumed.wait().await;
        // The wait for more of the body starts now: the pause was the reader's, not the server's.
        self.deadline.set(Instant::now() + self.idle_timeout);
    }
}

/// Keeps the head and body of the one response an exchange reads.
#[derive(Default)]
struct Capture<'a> {
    /// Set for `stream=True`: the head is published at once and the body handed on.
    streaming: Option<Streaming<'a>>,
    is_head: bool,
    status: u16,
    reason: String,
    headers: ResponseHeaders,
    body: Vec<u8>,
    head_at: Option<Instant>,
}

impl<'a> Responses for Capture<'a> {
    type Sink = Capture<'a>;

    fn len(&self) -> usize {
        1
    }

    fn is_head(&self, _: usize) -> bool {
        self.is_head
    }

    fn sink(&mut self, _: usize) -> &mut Capture<'a> {
        self
    }

    fn complete(&mut self, _: usize, end: ResponseEnd) {
        self.status = end.status;
    }
}

impl ResponseSink for Capture<'_> {
    fn header(&mut self, name: &str, value: &[u8]) {
        self.headers.push(name, value);
    }

    fn discard_headers(&mut self) {
        self.headers.clear();
    }

    fn reason(&mut self, phrase: &[u8]) {
        self.reason = phrase.iter().map(|&b| b as char).collect();
    }

    fn head_complete(&mut self, status: u16) {
        let now = Instant::now();
        self.head_at = Some(now);
        if let Some(streaming) = &self.streaming {
            streaming.deadline.set(now + streaming.idle_timeout);
            streaming.body.mark_head_sent();
            let head_us = micros(now.saturating_duration_since(streaming.started));
            let response = ClientResponse {
                status,
                reason: std::mem::take(&mut self.reason),
                headers: std::mem::take(&mut self.headers),
                head_us,
                total_us: head_us,
                reused_connection: streaming.reused,
                stream: Some(streaming.body.clone()),
                ..ClientResponse::default()
            };
            streaming
                .engine
                .publish(streaming.token, Outcome::Response(response));
        }
    }

    fn body(&mut self, data: &[u8]) {
        match &self.streaming {
            None => self.body.extend_from_slice(data),
            Some(streaming) => {
                streaming
                    .deadline
                    .set(Instant::now() + streaming.idle_timeout);
                for reader in streaming.body.push(data) {
                    streaming.engine.publish(reader, Outcome::BodyReadable);
                }
            }
        }
    }

    async fn ready_for_more(&mut self) {
        if let Some(streaming) = &self.streaming {
            streaming.wait_for_reader().await;
        }
    }
}

impl Capture<'_> {
    fn finish(
        self,
        request: &ClientRequest,
        reused: bool,
        started: Instant,
    ) -> Result<ClientResponse, Failure> {
        let done = Instant::now();
        let head_at = self.head_at.unwrap_or(done);
        let wire_body_len = self.body.len();
        let body = if request.decode {
            decode_body(&self.headers, self.body)?
        } else {
            self.body
        };
        Ok(ClientResponse {
            status: self.status,
            reason: self.reason,
            headers: self.headers,
            body,
            wire_body_len,
            head_us: micros(head_at.saturating_duration_since(started)),
            total_us: micros(done.saturating_duration_since(started)),
            reused_connection: reused,
            stream: None,
        })
    }
}

/// RFC 1950: compression method 8 (deflate) and a header checksum divisible by 31.
fn has_zlib_header(body: &[u8]) -> bool {
    matches!(body, [cmf, flg, ..] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}

/// Largest body a `Content-Encoding` may decode to; a larger one is a failed request.
pub const MAX_DECODED_BODY_BYTES: u64 = 256 * 1024 * 1024;

/// Undoes `Content-Encoding` (gzip, deflate, br; `identity` and an absent header pass through).
fn decode_body(headers: &ResponseHeaders, body: Vec<u8>) -> Result<Vec<u8>, Failure> {
    let Some(coding) = headers.values("content-encoding").last() else {
        return Ok(body);
    };
    if body.is_empty() {
        return Ok(body);
    }
    let coding = String::from_utf8_lossy(coding).trim().to_ascii_lowercase();
    let broken = |what: &str, e: io::Error| {
        Failure::new(
            ErrorKind::Framing,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("invalid {what} body: {e}"),
            ),
        )
    };
    let mut out = Vec::with_capacity(body.len() * 4);
    // A few hundred bytes of gzip can expand to gigabytes: decode at most the limit.
    let mut bounded = |reader: &mut dyn Read, what: &str| {
        out.clear();
        let read = reader
            .take(MAX_DECODED_BODY_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| broken(what, e))?;
        if read as u64 > MAX_DECODED_BODY_BYTES {
            return Err(broken(
                what,
                io::Error::other(format!(
                    "decodes to more than {MAX_DECODED_BODY_BYTES} bytes"
                )),
            ));
        }
        Ok(read)
    };
    match coding.as_str() {
        "" | "identity" => return Ok(body),
        "gzip" | "x-gzip" => bounded(
            &mut flate2::read::MultiGzDecoder::new(body.as_slice()),
            "gzip",
        )?,
        // "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
        "deflate" if has_zlib_header(&body) => bounded(
            &mut flate2::read::ZlibDecoder::new(body.as_slice()),
            "deflate",
        )?,
        "deflate" => bounded(
            &mut flate2::read::DeflateDecoder::new(body.as_slice()),
            "deflate",
        )?,
        "br" => bounded(
            &mut brotli_decompressor::Decompressor::new(body.as_slice(), 4096),
            "brotli",
        )?,
        // An unknown coding is passed through undecoded, as browsers and requests do.
        _ => return Ok(body),
    };
    Ok(out)
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

    #[test]
    fn bodies_are_decoded_by_the_last_content_encoding() {
        use std::io::Write as _;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(b"hello").unwrap();
        let mut headers = ResponseHeaders::default();
        headers.push("Content-Encoding", b"identity");
        headers.push("content-encoding", b" GZIP ");
        let decoded = decode_body(&headers, gzip.finish().unwrap()).unwrap();
        assert_eq!(decoded, b"hello");
    }
}
