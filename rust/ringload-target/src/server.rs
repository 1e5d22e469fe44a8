//! The server handle, its shared state and the accept loop.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::config::ServerConfig;
use crate::shared::{lock, Live, Registration, Shared};
use crate::{conn, tls};

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
        let tls = config
            .tls
            .as_ref()
            .map(|identity| tls::server_config(identity, config.http2))
            .transpose()?;
        let listener = TcpListener::bind(config.addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
            idle_close: config.idle_close,
            http2: config.http2,
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

    /// Connections open now (accepted and not yet closed by either side).
    pub fn open_connections(&self) -> usize {
        lock(&self.shared.live).len()
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

/// Connects to the listener so a blocked accept() returns.
fn wake(addr: SocketAddr) -> io::Result<()> {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    TcpStream::connect_timeout(&SocketAddr::new(ip, addr.port()), Duration::from_secs(2)).map(drop)
}
