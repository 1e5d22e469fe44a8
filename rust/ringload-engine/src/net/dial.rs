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

use crate::error::{ErrorKind, Failure};
use crate::net::idle::OverSocket;

/// How long opening a connection took, by phase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DialTimes {
    /// The TCP handshake (of the address that accepted).
    pub connect: Duration,
    /// The TLS handshake, for https.
    pub tls: Option<Duration>,
}

/// Something that opens a new connection to the target.
pub(crate) trait Dialer {
    type Stream;
    async fn dial(&self) -> Result<(Self::Stream, DialTimes), Failure>;
}

/// A dialer of byte streams, which HTTP/1.1 connections read and write.
pub(crate) trait StreamDialer:
    Dialer<Stream: AsyncReadRent + AsyncWriteRent + OverSocket>
{
}

impl<D> StreamDialer for D where D: Dialer<Stream: AsyncReadRent + AsyncWriteRent + OverSocket> {}

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

/// Why an `https://` handshake failed when the server answered the TLS hello in plain HTTP
/// (a `400 Bad Request` from a web server on its http port). rustls alone would say "received
/// corrupt message of type InvalidContentType", which reads like a certificate problem.
pub const PLAIN_HTTP_ANSWER: &str = "the server at this port speaks plain HTTP: use http://";

impl TlsDialer {
    /// The TLS handshake over an established stream (a fresh connection, or a proxy's tunnel),
    /// bounded by the connect timeout.
    pub async fn handshake(&self, tcp: TcpStream) -> Result<TlsStream, Failure> {
        let socket = tcp.as_raw_fd();
        let first_bytes = Rc::new(FirstBytes::default());
        let tcp = Sniffing {
            tcp,
            first_bytes: first_bytes.clone(),
        };
        let handshake = self.connector.connect(self.server_name.clone(), tcp);
        match monoio::time::timeout(self.tcp.connect_timeout, handshake).await {
            Ok(Ok(tls)) => Ok(TlsStream { tls, socket }),
            Ok(Err(_)) if first_bytes.are_plain_http() => {
                Err(Failure::message(ErrorKind::Tls, PLAIN_HTTP_ANSWER))
            }
            Ok(Err(TlsError::Rustls(e))) => Err(Failure::new(ErrorKind::Tls, io::Error::other(e))),
            Ok(Err(TlsError::Io(e))) => Err(Failure::new(ErrorKind::Tls, e)),
            Err(_) => Err(Failure::message(ErrorKind::Tls, "TLS handshake timed out")),
        }
    }
}

/// How many of the server's first bytes a TLS connection keeps: enough for `<!DOCTYPE html`.
const FIRST_BYTES_KEPT: usize = 14;

/// The first bytes the server sent on a TLS connection, for [`TlsDialer::handshake`] to tell
/// a plain-HTTP answer from a TLS failure. Shared with the stream, which the failed handshake
/// takes away.
#[derive(Default)]
struct FirstBytes {
    bytes: Cell<[u8; FIRST_BYTES_KEPT]>,
    len: Cell<usize>,
}

impl FirstBytes {
    fn is_full(&self) -> bool {
        self.len.get() == FIRST_BYTES_KEPT
    }

    fn keep(&self, received: &[u8]) {
        let (mut bytes, len) = (self.bytes.get(), self.len.get());
        let taken = received.len().min(FIRST_BYTES_KEPT - len);
        bytes[len..len + taken].copy_from_slice(&received[..taken]);
        self.bytes.set(bytes);
        self.len.set(len + taken);
    }

    /// The server answered the TLS hello in plain HTTP: with a status line, or with an HTML
    /// page alone (the HTTP/0.9-style 400 of Python's `http.server`). A TLS record starts with
    /// its type, a byte below 32, so neither can be the start of one.
    fn are_plain_http(&self) -> bool {
        let bytes = self.bytes.get();
        let first = &bytes[..self.len.get()];
        let starts_with_any_case = |prefix: &[u8]| {
            first
                .get(..prefix.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
        };
        first.starts_with(b"HTTP/")
            || starts_with_any_case(b"<!doctype html")
            || starts_with_any_case(b"<html")
    }
}

/// The TCP stream under TLS, keeping the first bytes it reads ([`FirstBytes`]); past them,
/// one comparison per read.
pub(crate) struct Sniffing {
    tcp: TcpStream,
    first_bytes: Rc<FirstBytes>,
}

impl AsyncReadRent for Sniffing {
    async fn read<T: IoBufMut>(&mut self, mut buf: T) -> BufResult<usize, T> {
        if self.first_bytes.is_full() {
            return self.tcp.read(buf).await;
        }
        let start = buf.write_ptr();
        let (result, buf) = self.tcp.read(buf).await;
        if let Ok(n) = result {
            // SAFETY: a read of `n` bytes initialised them from the write position the buffer
            // had when it began; the buffer is back in our hands, unchanged, and its storage
            // does not move with it (what IoBufMut's implementations guarantee the kernel).
            let received = unsafe { std::slice::from_raw_parts(start, n) };
            self.first_bytes.keep(received);
        }
        (result, buf)
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        // monoio-rustls reads with `read`; vectored reads are not looked at.
        self.tcp.readv(buf).await
    }
}

impl AsyncWriteRent for Sniffing {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        self.tcp.write(buf).await
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        self.tcp.writev(buf).await
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush().await
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        self.tcp.shutdown().await
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
/// expose, so that an idle connection can be checked ([`crate::net::idle`]).
pub(crate) struct TlsStream {
    tls: ClientTlsStream<Sniffing>,
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

#[cfg(test)]
mod tests {
    use super::FirstBytes;

    fn first_bytes(reads: &[&[u8]]) -> FirstBytes {
        let first = FirstBytes::default();
        for read in reads {
            first.keep(read);
        }
        first
    }

    #[test]
    fn a_plain_http_answer_is_told_from_a_tls_one() {
        let plain = [
            first_bytes(&[b"HTTP/1.1 400 Bad Request\r\n"]),
            first_bytes(&[b"HT", b"TP", b"/1.0 400"]),
            first_bytes(&[b"<!DOCTYPE HTML>\n<html lang=\"en\">"]),
            first_bytes(&[b"<html><body>400</body></html>"]),
        ];
        assert!(plain.iter().all(FirstBytes::are_plain_http));
        let not_plain = [
            first_bytes(&[]),
            first_bytes(&[b"\x15\x03\x03\x00\x02\x02\x28"]), // a TLS alert
            first_bytes(&[b"\x16\x03\x03\x00\x7a\x02"]),     // a ServerHello record
            first_bytes(&[b"SSH-2.0-OpenSSH_9.6\r\n"]),
            first_bytes(&[b"HTTP"]),
        ];
        assert!(!not_plain.iter().any(FirstBytes::are_plain_http));
        let full = first_bytes(&[b"HTTP/1.1 400 Bad Request", b"more"]);
        assert!(full.is_full() && full.are_plain_http());
    }
}
