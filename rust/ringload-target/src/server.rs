//! The server handle, its shared state and the accept loop.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::{conn, tls, IdleClose, ServerConfig};

/// A running target server.
///
/// Dropping it has the same effect as [`Server::shutdown`].
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `config.addr`, starts the accept thread and returns once the
    /// socket is listening, so clients may connect straight away.
    ///
    /// Fails if the address cannot be bound or the TLS identity is unusable.
    pub fn start(config: ServerConfig) -> io::Result<Server> {
        let tls = config.tls.as_ref().map(tls::server_config).transpose()?;
        let listener = TcpListener::bind(config.addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
            idle_close: config.idle_close,
            ..Shared::default()
        });
        let accept = thread::Builder::new()
            .name("ringload-target-accept".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || accept_loop(listener, tls, shared)
            })?;
        Ok(Server {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The address the server listens on (with the real port when `:0` was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Complete requests read so far; each pipelined request counts.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Connections accepted so far, including ones whose TLS handshake failed.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Kept-alive connections the server ended while they were idle (after
    /// [`ServerConfig::idle_timeout`], or to stay within [`ServerConfig::max_connections`]).
    pub fn idle_closes(&self) -> u64 {
        self.shared.idle_closes.load(Ordering::Relaxed)
    }

    /// Connections on which a request still arrived after the server had ended them while idle
    /// (with [`IdleClose::Close`] or [`IdleClose::Timeout408`], after an idle timeout): a
    /// client that does not notice the close sends into it, and that request fails or is sent
    /// again.
    pub fn late_requests(&self) -> u64 {
        self.shared.late_requests.load(Ordering::Relaxed)
    }

    /// Complete requests whose target had this path (query string excluded).
    pub fn path_count(&self, path: &str) -> u64 {
        lock(&self.shared.paths).get(path).copied().unwrap_or(0)
    }

    /// Stops accepting, closes every open connection (interrupting any
    /// `/delay` sleep) and joins all server threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stop.trigger();
        // The accept thread is blocked in accept(); a connection wakes it so it
        // sees the stop flag, closes the live connections and joins them.
        if wake(self.addr).is_ok() {
            let _ = accept.join();
        } else {
            // Should not happen on loopback; rather than risk hanging, close the
            // connections from here and leave the accept thread to exit on its
            // next wake-up.
            self.shared.close_all();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("connections", &self.connections())
            .field("requests", &self.requests())
            .finish()
    }
}

/// State shared by the handle, the accept thread and the connection threads.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) stop: StopSignal,
    requests: AtomicU64,
    connections: AtomicU64,
    paths: Mutex<HashMap<String, u64>>,
    /// Every open connection, so shutdown can close them and the connection limit can end the
    /// one idle longest.
    live: Mutex<HashMap<u64, Live>>,
    pub(crate) idle_timeout: Option<Duration>,
    max_connections: Option<usize>,
    pub(crate) idle_close: IdleClose,
    pub(crate) idle_closes: AtomicU64,
    pub(crate) late_requests: AtomicU64,
}

/// An open connection as the accept thread sees it.
struct Live {
    /// A clone of its socket.
    socket: TcpStream,
    /// Since when it has waited for its next request; `None` while it is serving one.
    idle_since: Option<Instant>,
    /// The connection limit chose it to end; its thread does so.
    retiring: bool,
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
    fn close_all(&self) {
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
    fn make_room(&self, tls: bool) -> bool {
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
    fn trigger(&self) {
        *lock(&self.stopped) = true;
        self.wake.notify_all();
    }

    fn is_set(&self) -> bool {
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
struct Registration {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.shared.live).remove(&self.id);
    }
}

fn accept_loop(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>, shared: Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    // Finished handles are dropped in batches so reaping stays amortised O(1).
    let mut reap_at = 64;
    let mut next_id: u64 = 0;
    for incoming in listener.incoming() {
        if shared.stop.is_set() || !shared.make_room(tls.is_some()) {
            break;
        }
        let stream = match incoming {
            Ok(stream) => stream,
            Err(_) => {
                // Typically EMFILE or an aborted handshake; back off briefly
                // instead of spinning.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        let id = next_id;
        next_id += 1;
        // Registered before the thread exists, and only by this thread, so
        // close_all() below cannot miss a connection.
        lock(&shared.live).insert(
            id,
            Live {
                socket: handle,
                idle_since: None,
                retiring: false,
            },
        );
        let registration = Registration {
            shared: Arc::clone(&shared),
            id,
        };
        let tls = tls.clone();
        let spawned = thread::Builder::new()
            .name("ringload-target-conn".into())
            .spawn(move || {
                conn::serve(stream, tls, &registration.shared, id);
                drop(registration);
            });
        // On spawn failure the closure, and with it the registration and the
        // stream, is dropped: the connection is simply closed.
        if let Ok(worker) = spawned {
            workers.push(worker);
        }
        if workers.len() >= reap_at {
            workers.retain(|worker| !worker.is_finished());
            reap_at = (workers.len() * 2).max(64);
        }
    }
    shared.close_all();
    for worker in workers {
        let _ = worker.join();
    }
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

/// Connects to the listener so a blocked accept() returns.
fn wake(addr: SocketAddr) -> io::Result<()> {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    TcpStream::connect_timeout(&SocketAddr::new(ip, addr.port()), Duration::from_secs(2)).map(drop)
}

/// Locks `mutex`, ignoring poisoning: every critical section here leaves the
/// data consistent even if it panics.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
