//! Kept-alive connections the server retired while they were idle.
//!
//! Servers close idle keep-alive connections all the time (a `keepalive_timeout`, a connection
//! limit, a load balancer's idle timeout), and a client only learns of it from the socket.
//! Writing the next request on such a connection fails it after the fact: a GET could be resent,
//! but a POST could not. So before a connection that has been idle is reused, its socket is
//! asked directly, as geventhttpclient does: with no request in flight the server has nothing
//! to send, so anything readable (end of stream, a reset, a TLS `close_notify`, a `408` sent
//! before closing) means the connection is gone.
//!
//! A connection found alive is written at once ([`send_at_once`]), not when the runtime next
//! submits its batch of operations: a server closing idle connections (a connection limit ends
//! the one idle longest, which is the one about to be reused) gets microseconds between the look
//! and the request, not the rest of the batch.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use monoio::net::TcpStream;

/// A connection reused sooner than this after its last response is not checked. In the closed
/// model every connection is reused within microseconds, where a check would cost a syscall per
/// request; a server closing a connection within a millisecond of its response is the same race
/// as a close during the send, which no client can avoid.
pub(crate) const CHECK_AFTER_IDLE: Duration = Duration::from_millis(1);

/// A stream over one TCP socket, which can be asked for that socket.
pub(crate) trait OverSocket {
    fn socket(&self) -> RawFd;
    /// The stream's bytes are the socket's (no TLS in between): they may be sent on it directly.
    fn is_plain(&self) -> bool;
}

impl OverSocket for TcpStream {
    fn socket(&self) -> RawFd {
        self.as_raw_fd()
    }

    fn is_plain(&self) -> bool {
        true
    }
}

/// Whether the peer has closed, reset or written to `socket` while no request was in flight.
/// Looks without reading (`MSG_PEEK`) and without waiting.
pub(crate) fn retired_by_peer(socket: RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: a one-byte buffer we own; MSG_DONTWAIT never blocks.
    let n = unsafe {
        libc::recv(
            socket,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        // Nothing to read: still open. Any other error (a reset) retires it.
        let errno = std::io::Error::last_os_error().raw_os_error();
        return !matches!(errno, Some(libc::EAGAIN | libc::EINTR));
    }
    // End of stream, or bytes nobody asked for.
    true
}

/// Sends what the socket takes of `bytes` now, without waiting: the count (0 when its buffer is
/// full), or the error that ended the connection.
pub(crate) fn send_at_once(socket: RawFd, bytes: &[u8]) -> std::io::Result<usize> {
    // SAFETY: a valid buffer of `bytes.len()` bytes; MSG_DONTWAIT never blocks and MSG_NOSIGNAL
    // turns a closed peer into EPIPE instead of a signal.
    let n = unsafe {
        libc::send(
            socket,
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if n >= 0 {
        return Ok(n as usize);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EAGAIN | libc::EINTR) => Ok(0),
        _ => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream as StdTcpStream};

    fn pair() -> (StdTcpStream, StdTcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = StdTcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    /// Waits for what the server did to reach the client's socket (loopback: microseconds).
    fn settle() {
        std::thread::sleep(Duration::from_millis(20));
    }

    #[test]
    fn an_open_quiet_connection_is_kept() {
        let (client, _server) = pair();
        assert!(!retired_by_peer(client.as_raw_fd()));
    }

    #[test]
    fn a_close_a_reset_or_unsolicited_bytes_retire_the_connection() {
        let (client, server) = pair();
        drop(server);
        settle();
        assert!(retired_by_peer(client.as_raw_fd()), "FIN");

        let (client, server) = pair();
        // SO_LINGER 0: close sends a reset.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid option struct for a socket we own.
        unsafe {
            libc::setsockopt(
                server.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        drop(server);
        settle();
        assert!(retired_by_peer(client.as_raw_fd()), "RST");

        let (client, mut server) = pair();
        server
            .write_all(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        settle();
        assert!(retired_by_peer(client.as_raw_fd()), "a 408 while idle");
        // Looking did not consume it.
        assert!(retired_by_peer(client.as_raw_fd()));
    }
}
