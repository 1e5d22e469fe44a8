//! What callers hand the client thread: one encoded request and the TLS it needs.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use crate::net::proxy::ClientProxy;
use crate::origin::Scheme;

/// One request to send. The bytes are already encoded and validated.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// Chosen by the caller; comes back with the completion.
    pub token: u64,
    /// Connections are pooled per session (a Locust user) and origin.
    pub session: u64,
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    pub bytes: Vec<u8>,
    pub is_head: bool,
    pub idempotent: bool,
    pub connect_timeout: Duration,
    /// Bounds the whole response wait, not each read: a trickling server still times out.
    pub timeout: Duration,
    pub tls: ClientTls,
    /// At most this many connections to this origin for this session, busy or idle (Locust's
    /// `concurrency`); a request beyond it waits for one. 0: no limit.
    pub max_connections: usize,
    /// Through this HTTP proxy: `bytes` are in absolute form for `http://`; `https://` goes
    /// through a CONNECT tunnel.
    pub proxy: Option<Arc<ClientProxy>>,
    /// Complete the request at its response head; the body follows through
    /// [`ClientResponse::stream`] as it arrives (nothing is decoded), and `timeout` bounds the
    /// head and then each wait for more of the body.
    pub stream: bool,
    /// Decode `Content-Encoding: gzip, deflate, br` bodies.
    pub decode: bool,
}

/// How an `https://` request's connection is secured.
#[derive(Debug, Clone)]
pub enum ClientTls {
    /// The server's certificate is verified against the system's roots.
    Verified,
    /// Any certificate is accepted.
    Insecure,
    /// A configuration of the caller's (trusted CAs, a client certificate, ...).
    Custom(Arc<CustomTls>),
}

/// A caller's TLS configuration; connections are pooled per configuration.
#[derive(Debug)]
pub struct CustomTls {
    pub(crate) id: u64,
    pub(crate) config: Arc<ClientConfig>,
}

impl CustomTls {
    pub fn new(config: Arc<ClientConfig>) -> Arc<CustomTls> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(2);
        Arc::new(CustomTls {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            config,
        })
    }
}

impl ClientTls {
    /// The pool key's part: 0 and 1 for the engine's own configurations, then one per custom.
    pub(crate) fn pool_id(&self) -> u64 {
        match self {
            ClientTls::Verified => 0,
            ClientTls::Insecure => 1,
            ClientTls::Custom(custom) => custom.id,
        }
    }
}
