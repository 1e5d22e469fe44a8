//! The per-connection loop: read a request, count it, answer it, repeat.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ServerConnection, StreamOwned};

use crate::request::{self, Error, InBuf};
use crate::response::{self, Reply};
use crate::routes::{self, Route};
use crate::server::{NextRequest, Shared};
use crate::IdleClose;

/// Output is written once this much is buffered; larger bodies are streamed.
pub(crate) const FLUSH_AT: usize = 64 * 1024;
/// How long, and how much, to drain from a peer after we decided to close.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// Serves one accepted connection until either side closes it.
pub(crate) fn serve(
    stream: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    shared: &Shared,
    id: u64,
) {
    match tls {
        None => serve_on(stream, shared, id),
        Some(config) => {
            // The handshake runs on first read; if it fails, the read fails
            // and the connection is simply dropped.
            if let Ok(session) = ServerConnection::new(config) {
                serve_on(StreamOwned::new(session, stream), shared, id);
            }
        }
    }
}

fn serve_on<S: Transport>(io: S, shared: &Shared, id: u64) {
    let mut conn = Conn::new(io);
    let mut inb = InBuf::new();
    let mut served = 0u64;
    loop {
        if served > 0 && inb.is_empty() && shared.ends_idle_connections() {
            // Kept alive and idle: the responses go out, then the wait may end it.
            if conn.flush().is_err() {
                return;
            }
            match shared.wait_for_request(id, conn.io.tcp()) {
                NextRequest::Arrived => {}
                NextRequest::Gone => return,
                NextRequest::Retire => return retire(conn, shared),
            }
        }
        served += 1;
        let req = match request::read_head(&mut inb, &mut conn) {
            Ok(Some(req)) => req,
            Ok(None) | Err(Error::Gone) => return,
            Err(Error::Reject(status)) => return reject(conn, status),
        };
        let route = routes::resolve(&req.path);
        if req.expect_continue && req.framing != request::Framing::None {
            // Goes out with the next read (or with the response if the body
            // is already here).
            conn.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let mut body = route.keeps_body().then(Vec::new);
        match request::read_body(&mut inb, &mut conn, req.framing, body.as_mut()) {
            Ok(()) => {}
            Err(Error::Gone) => return,
            Err(Error::Reject(status)) => return reject(conn, status),
        }
        shared.record(&req.path);

        if let Route::Delay(duration) = route {
            // Earlier pipelined responses should not wait for this sleep.
            if conn.flush().is_err() || !shared.stop.sleep(duration) {
                return;
            }
        }
        let is_head = req.is_head;
        let is_http10 = req.is_http10;
        let keep_alive = req.keep_alive;
        let reply = routes::handle(route, req, body);
        let keep_alive = keep_alive && !reply.close;
        let connection = match (keep_alive, is_http10) {
            (false, _) => Some("close"),
            (true, true) => Some("keep-alive"),
            (true, false) => None,
        };
        if response::write(&mut conn, &reply, is_head, connection).is_err() {
            return;
        }
        if !keep_alive {
            return close(conn);
        }
        // The response stays buffered while pipelined requests follow; it
        // is flushed before the next blocking read.
    }
}

/// Ends an idle kept-alive connection as the configuration says, counting a request that still
/// arrives on it (the client did not notice the close).
fn retire<S: Transport>(mut conn: Conn<S>, shared: &Shared) {
    shared.idle_closes.fetch_add(1, Ordering::Relaxed);
    let how = shared.idle_close;
    if how == IdleClose::Reset {
        return reset(conn.io.tcp());
    }
    if how == IdleClose::Timeout408 {
        let timeout = Reply::empty(408);
        if response::write(&mut conn, &timeout, false, Some("close")).is_err() {
            return;
        }
    }
    if conn.flush().is_err() || conn.io.close_write().is_err() {
        return;
    }
    let mut socket = conn.io.tcp();
    let _ = socket.set_read_timeout(Some(LINGER_TIME));
    let mut scratch = [0u8; 1024];
    if matches!(socket.read(&mut scratch), Ok(n) if n > 0) {
        shared.late_requests.fetch_add(1, Ordering::Relaxed);
    }
}

/// Arranges a reset: with `SO_LINGER` 0 the socket's last close (this thread's, then the
/// registry's clone) sends RST instead of FIN.
fn reset(socket: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid option struct for a socket we own.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// Answers a request we could not read with `status`, then closes.
fn reject<S: Transport>(mut conn: Conn<S>, status: u16) {
    if response::write(&mut conn, &Reply::empty(status), false, Some("close")).is_ok() {
        close(conn);
    }
}

/// Closes after a response, lingering to drain what the peer still sends:
/// closing with unread input makes the kernel send RST, which can destroy
/// the response before the peer reads it.
fn close<S: Transport>(mut conn: Conn<S>) {
    if conn.flush().is_err() || conn.io.close_write().is_err() {
        return;
    }
    let mut socket = conn.io.tcp();
    let deadline = Instant::now() + LINGER_TIME;
    let mut scratch = [0u8; 8192];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match socket.read(&mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

/// A byte stream the connection loop can run on: plain TCP or TLS over TCP.
pub(crate) trait Transport: Read + Write {
    /// The underlying socket.
    fn tcp(&self) -> &TcpStream;
    /// Signals that we will send nothing more (TLS: after `close_notify`).
    fn close_write(&mut self) -> io::Result<()>;
}

impl Transport for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }

    fn close_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl Transport for StreamOwned<ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }

    fn close_write(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush()?;
        self.sock.shutdown(Shutdown::Write)
    }
}

/// A transport with an output buffer.
///
/// Responses are built in `out` so that a small response (head and body)
/// leaves in one write, and answers to pipelined requests coalesce. Reading
/// flushes first, so the peer never waits on output we are holding back.
pub(crate) struct Conn<S> {
    io: S,
    out: Vec<u8>,
}

impl<S: Read + Write> Conn<S> {
    fn new(io: S) -> Self {
        Conn {
            io,
            out: Vec::with_capacity(4096),
        }
    }

    /// The output buffer, with room for `extra` more bytes before it
    /// exceeds `FLUSH_AT` (flushing first if needed).
    pub(crate) fn buffer(&mut self, extra: usize) -> io::Result<&mut Vec<u8>> {
        if self.out.len() + extra > FLUSH_AT {
            self.flush()?;
        }
        Ok(&mut self.out)
    }

    /// Queues `bytes`; large slices bypass the buffer instead of growing it.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() > FLUSH_AT {
            self.flush()?;
            return self.io.write_all(bytes);
        }
        self.buffer(bytes.len())?.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes out everything buffered.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.io.write_all(&self.out)?;
            self.out.clear();
        }
        self.io.flush()
    }
}

impl<S: Read + Write> Read for Conn<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.out.is_empty() {
            self.flush()?;
        }
        self.io.read(buf)
    }
}
