//! What the handle, the accept thread and the connection threads share: the counters, the
//! registry of open connections (for shutdown and the connection limit), and the stop.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::config::IdleClose;

/// State shared by the handle, the accept thread and the connection threads.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) stop: StopSignal,
    pub(crate) requests: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) paths: Mutex<HashMap<String, u64>>,
    /// Every open connection, so shutdown can close them and the connection limit can end the
    /// one idle longest.
    pub(crate) live: Mutex<HashMap<u64, Live>>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) idle_close: IdleClose,
    /// Also HTTP/2: h2c with prior knowledge, `h2` by ALPN.
    pub(crate) http2: bool,
    pub(crate) idle_closes: AtomicU64,
    pub(crate) late_requests: AtomicU64,
}

/// An open connection as the accept thread sees it.
pub(crate) struct Live {
    /// A clone of its socket.
    pub(crate) socket: TcpStream,
    /// Since when it has waited for its next request; `None` while it is serving one.
    pub(crate) idle_since: Option<Instant>,
    /// The connection limit chose it to end; its thread does so.
    pub(crate) retiring: bool,
}

/// What an idle connection's wait for its next request ended with.
pub(crate) enum NextRequest {
    /// Bytes arrived.
    Arrived,
    /// The client closed it (or it broke).
    Gone,
    /// The server ends it: the idle timeout passed, or the connection limit chose it.
    Retire,
}

impl Shared {
    /// Counts one complete request for `path`.
    pub(crate) fn record(&self, path: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut paths = lock(&self.paths);
        match paths.get_mut(path) {
            Some(count) => *count += 1,
            None => {
                paths.insert(path.to_owned(), 1);
            }
        }
    }

    /// Shuts down every live socket: blocked reads see end of stream and
    /// blocked writes fail, so each connection thread exits promptly.
    pub(crate) fn close_all(&self) {
        for live in lock(&self.live).values() {
            let _ = live.socket.shutdown(Shutdown::Both);
        }
    }

    /// Whether connections are ever ended while idle (else their waits cost nothing extra).
    pub(crate) fn ends_idle_connections(&self) -> bool {
        self.idle_timeout.is_some() || self.max_connections.is_some()
    }

    /// Waits, idle, for connection `id`'s next request on `socket` (nothing is buffered).
    pub(crate) fn wait_for_request(&self, id: u64, socket: &TcpStream) -> NextRequest {
        if let Some(live) = lock(&self.live).get_mut(&id) {
            if live.retiring {
                return NextRequest::Retire;
            }
            live.idle_since = Some(Instant::now());
        }
        let _ = socket.set_read_timeout(self.idle_timeout);
        let mut byte = [0u8; 1];
        let waited = socket.peek(&mut byte);
        let _ = socket.set_read_timeout(None);
        let mut live = lock(&self.live);
        let Some(entry) = live.get_mut(&id) else {
            return NextRequest::Gone;
        };
        entry.idle_since = None;
        match waited {
            // Chosen by the connection limit, which shut the socket's reading side to wake us.
            _ if entry.retiring => NextRequest::Retire,
            Ok(0) => NextRequest::Gone,
            Ok(_) => NextRequest::Arrived,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                NextRequest::Retire
            }
            Err(_) => NextRequest::Gone,
        }
    }

    /// Makes room for one more connection under the limit: ends the connection idle longest,
    /// waiting while none is idle. Returns false when the server is stopping.
    pub(crate) fn make_room(&self, tls: bool) -> bool {
        let Some(max) = self.max_connections else {
            return true;
        };
        loop {
            if self.stop.is_set() {
                return false;
            }
            {
                let mut live = lock(&self.live);
                let retiring = live.values().filter(|l| l.retiring).count();
                if live.len() - retiring < max {
                    return true;
                }
                let mut idle: Vec<(Instant, u64)> = live
                    .iter()
                    .filter(|(_, l)| !l.retiring)
                    .filter_map(|(id, l)| Some((l.idle_since?, *id)))
                    .collect();
                idle.sort_unstable();
                // A connection whose next request has arrived but not yet been read is busy,
                // not idle: ending it would drop a request the client rightly sent.
                let oldest = idle
                    .into_iter()
                    .find(|(_, id)| !has_unread_bytes(&live[id].socket));
                if let Some(victim) = oldest.and_then(|(_, id)| live.get_mut(&id)) {
                    victim.retiring = true;
                    // Wakes its thread's wait with end of stream; it sees `retiring`.
                    // A plain FIN goes out now, as a single-threaded server's close() sends it:
                    // the victim's thread may take milliseconds to wake on a busy machine, and
                    // a client that looked meanwhile would rightly have found it open. Over TLS
                    // (close_notify first), a reset or a 408, that thread ends it.
                    let how = if tls || self.idle_close != IdleClose::Close {
                        Shutdown::Read
                    } else {
                        Shutdown::Both
                    };
                    let _ = victim.socket.shutdown(how);
                    return true;
                }
            }
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A stop flag that sleepers can wait on, so `/delay` does not hold up shutdown.
#[derive(Default)]
pub(crate) struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    pub(crate) fn trigger(&self) {
        *lock(&self.stopped) = true;
        self.wake.notify_all();
    }

    pub(crate) fn is_set(&self) -> bool {
        *lock(&self.stopped)
    }

    /// Sleeps for `duration`; returns `false` if the server stopped meanwhile.
    pub(crate) fn sleep(&self, duration: Duration) -> bool {
        let guard = lock(&self.stopped);
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, duration, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        !*guard
    }
}

/// Removes a connection from the live registry when its thread ends, even by panic.
pub(crate) struct Registration {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.shared.live).remove(&self.id);
    }
}

/// Locks `mutex`, ignoring poisoning: every critical section here leaves the
/// data consistent even if it panics.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Bytes are waiting on `socket` (looked at without reading or waiting).
fn has_unread_bytes(socket: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: a one-byte buffer we own; MSG_DONTWAIT never blocks (and, unlike
    // set_nonblocking, does not change the socket the connection thread reads).
    let n = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n > 0
}
