//! The client thread ([`ClientThread`]): its main loop, one task per request, the exchange
//! with its one resend, dialing (proxy, TLS) and the caches of lookups and TLS configurations.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use monoio::io::AsyncReadRent;
use monoio::net::UnixStream;
use rustls::ClientConfig;

use super::body_stream::{BodyStream, EngineWaker};
use super::capture::{until_deadline, Capture, Stopped, Streaming, StreamingHost};
use super::failure::{errno_of, ClientFailure};
use super::mailbox::{Command, Inbox, LocalNotify, Outbox};
use super::pool::{HostPort, Pool, PoolKey, Pooled, Slot};
use super::request::{ClientRequest, ClientTls};
use super::response::{ClientResponse, Completion, Outcome};
use crate::error::{ErrorKind, Failure};
use crate::net::any_stream::AnyStream;
use crate::net::dial::{Dialer, TcpDialer, TlsDialer};
use crate::net::proxy::open_tunnel;
use crate::net::resolve::{self, Lookups, Resolve};
use crate::net::tls::TlsOptions;
use crate::origin::Scheme;
use crate::runtime::micros;

/// Engine-thread state, shared by its request tasks.
pub(crate) struct ClientThread {
    /// Completions of this scheduler pass; the flusher publishes them together, so the caller's
    /// thread is woken once per batch rather than once per response.
    pub(crate) finished: RefCell<Vec<Completion>>,
    pub(crate) flush_needed: LocalNotify,
    pub(crate) pools: RefCell<HashMap<PoolKey, Rc<RefCell<Pool>>>>,
    /// Host name lookups on helper threads; their answers come back through `inbox`.
    pub(crate) lookups: Lookups,
    /// Lookups under way, each shared by every connection that waits for that name.
    pub(crate) looking_up: RefCell<HashMap<HostPort, Rc<PendingLookup>>>,
    pub(crate) inbox: Arc<Inbox>,
    pub(crate) tls_verified: RefCell<Option<Arc<ClientConfig>>>,
    pub(crate) tls_insecure: RefCell<Option<Arc<ClientConfig>>>,
    pub(crate) outbox: Arc<Outbox>,
    /// Streamed bodies whose reader is behind, each with the exchange that waits to read on.
    pub(crate) paused: RefCell<Vec<(Arc<BodyStream>, Rc<LocalNotify>)>>,
    /// Given to each streamed body: its reader wakes this thread when it has caught up.
    pub(crate) resume: EngineWaker,
}

pub(crate) async fn engine_main(
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
    let engine = Rc::new(ClientThread {
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

pub(crate) async fn handle_request(engine: Rc<ClientThread>, request: ClientRequest) {
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

impl ClientThread {
    /// Queues a completion; the flusher publishes this pass's together.
    pub(crate) fn publish(&self, token: u64, outcome: Outcome) {
        self.finished
            .borrow_mut()
            .push(Completion { token, outcome });
        self.flush_needed.notify();
    }
}

/// A lookup's addresses, or its error's kind and text (one answer, copied to every waiter).
pub(crate) type LookupAnswer = Result<Rc<[SocketAddr]>, (io::ErrorKind, String)>;

/// A host name lookup under way, and the connections waiting for its answer.
#[derive(Default)]
pub(crate) struct PendingLookup {
    pub(crate) answer: RefCell<Option<LookupAnswer>>,
    pub(crate) waiters: RefCell<Vec<std::task::Waker>>,
}

impl PendingLookup {
    pub(crate) fn complete(&self, answer: io::Result<Vec<SocketAddr>>) {
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

    pub(crate) fn answer(
        &self,
    ) -> impl std::future::Future<Output = io::Result<Rc<[SocketAddr]>>> + '_ {
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

pub(crate) async fn exchange_with_retry(
    engine: &ClientThread,
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

pub(crate) async fn dial(
    engine: &ClientThread,
    request: &ClientRequest,
) -> Result<AnyStream, Failure> {
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
pub(crate) async fn dial_tls(
    engine: &ClientThread,
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

impl ClientThread {
    /// The addresses of `host` for a new connection, looked up on a helper thread (an IP
    /// literal at once). A lookup already under way for the same name is shared.
    pub(crate) async fn resolve(&self, host: &str, port: u16) -> Result<Rc<[SocketAddr]>, Failure> {
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

    pub(crate) fn tls_config(&self, verify: bool) -> Result<Arc<ClientConfig>, Failure> {
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

impl StreamingHost for ClientThread {
    fn publish(&self, token: u64, outcome: Outcome) {
        ClientThread::publish(self, token, outcome);
    }

    fn pause(&self, body: Arc<BodyStream>, resumed: Rc<LocalNotify>) {
        self.paused.borrow_mut().push((body, resumed));
    }
}
