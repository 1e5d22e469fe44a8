//! Opening connections: plain TCP, or TCP then a rustls handshake.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use std::os::fd::{AsRawFd, RawFd};

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use monoio::BufResult;
use monoio_rustls::{ClientTlsStream, TlsConnector, TlsError};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use crate::idle::OverSocket;
use crate::stats::ErrorKind;

/// A failed request or connection attempt: the kind that is counted and the error behind it
/// (kept only as an example for the report).
#[derive(Debug)]
pub(crate) struct Failure {
    pub kind: ErrorKind,
    pub error: io::Error,
}

impl Failure {
    pub fn new(kind: ErrorKind, error: io::Error) -> Self {
        Failure { kind, error }
    }

    pub fn message(kind: ErrorKind, message: &'static str) -> Self {
        Failure::new(kind, io::Error::other(message))
    }
}

/// How long opening a connection took, by phase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DialTimes {
    /// The TCP handshake (of the address that accepted).
    pub connect: Duration,
    /// The TLS handshake, for https.
    pub tls: Option<Duration>,
}

/// Something that opens a new stream to the target.
pub(crate) trait Dialer {
    type Stream: AsyncReadRent + AsyncWriteRent + OverSocket;
    async fn dial(&self) -> Result<(Self::Stream, DialTimes), Failure>;
}

/// Plain TCP to the first address that accepts.
pub(crate) struct TcpDialer {
    pub addrs: Rc<[SocketAddr]>,
    pub connect_timeout: Duration,
}

impl Dialer for TcpDialer {
    type Stream = TcpStream;

    async fn dial(&self) -> Result<(TcpStream, DialTimes), Failure> {
        let mut last_error = io::Error::new(io::ErrorKind::AddrNotAvailable, "no address");
        for addr in self.addrs.iter() {
            let started = Instant::now();
            match monoio::time::timeout(self.connect_timeout, TcpStream::connect_addr(*addr)).await
            {
                Ok(Ok(stream)) => {
                    let times = DialTimes {
                        connect: started.elapsed(),
                        tls: None,
                    };
                    // Requests are written whole; Nagle would only add delay.
                    let _ = stream.set_nodelay(true);
                    return Ok((stream, times));
                }
                Ok(Err(e)) => last_error = e,
                Err(_) => last_error = io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
            }
        }
        Err(Failure::new(ErrorKind::Connect, last_error))
    }
}

/// TCP, then a TLS handshake bounded by the connect timeout.
pub(crate) struct TlsDialer {
    pub tcp: TcpDialer,
    pub connector: TlsConnector,
    pub server_name: ServerName<'static>,
}

impl TlsDialer {
    pub fn new(
        tcp: TcpDialer,
        config: Arc<ClientConfig>,
        server_name: ServerName<'static>,
    ) -> Self {
        TlsDialer {
            tcp,
            connector: TlsConnector::from(config),
            server_name,
        }
    }
}

impl TlsDialer {
    /// The TLS handshake over an established stream (a fresh connection, or a proxy's tunnel),
    /// bounded by the connect timeout.
    pub async fn handshake(&self, tcp: TcpStream) -> Result<TlsStream, Failure> {
        let socket = tcp.as_raw_fd();
        let handshake = self.connector.connect(self.server_name.clone(), tcp);
        match monoio::time::timeout(self.tcp.connect_timeout, handshake).await {
            Ok(Ok(tls)) => Ok(TlsStream { tls, socket }),
            Ok(Err(TlsError::Rustls(e))) => Err(Failure::new(ErrorKind::Tls, io::Error::other(e))),
            Ok(Err(TlsError::Io(e))) => Err(Failure::new(ErrorKind::Tls, e)),
            Err(_) => Err(Failure::message(ErrorKind::Tls, "TLS handshake timed out")),
        }
    }
}

impl Dialer for TlsDialer {
    type Stream = TlsStream;

    async fn dial(&self) -> Result<(Self::Stream, DialTimes), Failure> {
        let (tcp, times) = self.tcp.dial().await?;
        let started = Instant::now();
        let stream = self.handshake(tcp).await?;
        Ok((
            stream,
            DialTimes {
                tls: Some(started.elapsed()),
                ..times
            },
        ))
    }
}

/// A TLS stream over TCP that keeps its socket's descriptor, which monoio-rustls does not
/// expose, so that an idle connection can be checked ([`crate::idle`]).
pub(crate) struct TlsStream {
    tls: ClientTlsStream<TcpStream>,
    socket: RawFd,
}

impl OverSocket for TlsStream {
    fn socket(&self) -> RawFd {
        self.socket
    }

    fn is_plain(&self) -> bool {
        false
    }
}

impl AsyncReadRent for TlsStream {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        self.tls.read(buf).await
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        self.tls.readv(buf).await
    }
}

impl AsyncWriteRent for TlsStream {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        self.tls.write(buf).await
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        self.tls.writev(buf).await
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.tls.flush().await
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        self.tls.shutdown().await
    }
}

/// Connection attempts a worker has in flight at most. Every connect of a worker's ring runs
/// inline at submission, and each costs more as local ports fill up (the kernel searches the
/// port range), so 19,000 connects queued at once kept the worker in the kernel for seconds
/// after the run's end. Bounding them keeps the end on time; on loopback 128 in flight
/// connect as fast as all at once.
pub(crate) const DIALS_IN_FLIGHT: usize = 128;

/// Admits at most [`DIALS_IN_FLIGHT`] connection attempts at a time, first come first served.
pub(crate) struct DialGate {
    free: Cell<usize>,
    /// Waiting attempts; an entry is emptied when its attempt gives up (the run ended).
    waiting: RefCell<VecDeque<Rc<Cell<Option<Waker>>>>>,
}

impl Default for DialGate {
    fn default() -> Self {
        DialGate {
            free: Cell::new(DIALS_IN_FLIGHT),
            waiting: RefCell::new(VecDeque::new()),
        }
    }
}

impl DialGate {
    /// Waits for a free slot; the slot is held until the permit is dropped.
    pub fn enter(&self) -> EnterGate<'_> {
        EnterGate {
            gate: self,
            queued: None,
        }
    }

    /// Wakes the first attempt still waiting.
    fn wake_next(&self) {
        let mut waiting = self.waiting.borrow_mut();
        while let Some(entry) = waiting.pop_front() {
            if let Some(waker) = entry.take() {
                waker.wake();
                return;
            }
        }
    }
}

/// [`DialGate::enter`]'s future.
pub(crate) struct EnterGate<'a> {
    gate: &'a DialGate,
    queued: Option<Rc<Cell<Option<Waker>>>>,
}

/// A held slot of the [`DialGate`].
pub(crate) struct DialPermit<'a> {
    gate: &'a DialGate,
}

impl<'a> Future for EnterGate<'a> {
    type Output = DialPermit<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DialPermit<'a>> {
        let gate = self.gate;
        if gate.free.get() > 0 {
            gate.free.set(gate.free.get() - 1);
            self.queued = None;
            return Poll::Ready(DialPermit { gate });
        }
        let entry = Rc::new(Cell::new(Some(cx.waker().clone())));
        if let Some(old) = self.queued.replace(entry.clone()) {
            old.set(None);
        }
        gate.waiting.borrow_mut().push_back(entry);
        Poll::Pending
    }
}

impl Drop for EnterGate<'_> {
    fn drop(&mut self) {
        if let Some(entry) = self.queued.take() {
            // Woken but gone before taking the slot: hand the wake-up on.
            if entry.take().is_none() && self.gate.free.get() > 0 {
                self.gate.wake_next();
            }
        }
    }
}

impl Drop for DialPermit<'_> {
    fn drop(&mut self) {
        self.gate.free.set(self.gate.free.get() + 1);
        self.gate.wake_next();
    }
}
