//! How to run a [`Server`](crate::Server): its address, TLS, and how idle connections end.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::tls::TlsIdentity;

/// How to run a [`Server`](crate::Server).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on. The default, `127.0.0.1:0`, picks a free
    /// loopback port; ask [`Server::addr`] which one.
    pub addr: SocketAddr,
    /// Serve HTTPS with this identity instead of plain HTTP.
    pub tls: Option<TlsIdentity>,
    /// End a kept-alive connection that has waited this long for its next request (nginx's
    /// `keepalive_timeout`). `None`: keep it until the client closes it.
    pub idle_timeout: Option<Duration>,
    /// Open connections at most: accepting another first ends the connection that has been idle
    /// longest, as nginx does at `worker_connections` (and, while none is idle, waits for one to
    /// be). `None`: no limit.
    pub max_connections: Option<usize>,
    /// How an idle connection is ended.
    pub idle_close: IdleClose,
    /// Also speak HTTP/2: with prior knowledge (h2c) on plain TCP, and `h2` by ALPN over TLS.
    /// HTTP/2 connections are kept until the client ends them (the idle and connection limits
    /// apply to HTTP/1.1).
    pub http2: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: None,
            idle_timeout: None,
            max_connections: None,
            idle_close: IdleClose::Close,
            http2: false,
        }
    }
}

/// How the server ends a kept-alive connection that is idle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdleClose {
    /// A FIN (over TLS, a `close_notify` first); requests that still arrive are counted in
    /// [`Server::late_requests`](crate::Server::late_requests) and not answered.
    #[default]
    Close,
    /// A reset (RST), as a server that closes with unread input or `SO_LINGER` 0 sends.
    Reset,
    /// `408 Request Timeout` with `Connection: close`, then as [`IdleClose::Close`], as some
    /// load balancers do.
    Timeout408,
}

impl std::str::FromStr for IdleClose {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "close" => Ok(IdleClose::Close),
            "reset" => Ok(IdleClose::Reset),
            "408" => Ok(IdleClose::Timeout408),
            _ => Err(format!("{s:?}: use close, reset or 408")),
        }
    }
}
