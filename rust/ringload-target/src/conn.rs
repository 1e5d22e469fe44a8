//! The per-connection loop: read a request, count it, answer it, repeat.

use std::io::Read;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ServerConnection, StreamOwned};

use crate::config::IdleClose;
use crate::h2;
use crate::request::{self, Error, InBuf};
use crate::response::{self, Reply};
use crate::routes::{self, Route};
use crate::shared::{NextRequest, Shared};
use crate::transport::{Conn, Transport};

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
        None if shared.http2 && starts_with_h2_preface(&stream) => h2::serve(stream, shared),
        None => serve_on(stream, shared, id),
        Some(config) => {
            // The handshake runs on first read; if it fails, the read fails
            // and the connection is simply dropped.
            let Ok(session) = ServerConnection::new(config) else {
                return;
            };
            let mut tls = StreamOwned::new(session, stream);
            if shared.http2 {
                // ALPN is settled by the handshake: finish it now to choose the protocol.
                while tls.conn.is_handshaking() {
                    if tls.conn.complete_io(&mut tls.sock).is_err() {
                        return;
                    }
                }
                if tls.conn.alpn_protocol() == Some(b"h2") {
                    return h2::serve(tls, shared);
                }
            }
            serve_on(tls, shared, id);
        }
    }
}

/// Whether the client opens with HTTP/2's preface (h2c with prior knowledge), looking without
/// consuming. Waits for the preface's bytes while they match it.
fn starts_with_h2_preface(stream: &TcpStream) -> bool {
    let preface = ringload_h2::frame::PREFACE;
    let mut seen = [0u8; 24];
    for _ in 0..1000 {
        let Ok(n) = stream.peek(&mut seen) else {
            return false;
        };
        if n == 0 || seen[..n] != preface[..n] {
            return false;
        }
        if n == preface.len() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
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
            if conn.push(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                return;
            }
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
