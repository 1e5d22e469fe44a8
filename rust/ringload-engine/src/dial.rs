//! Opening connections: plain TCP, or TCP then a rustls handshake.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use monoio_rustls::{ClientTlsStream, TlsConnector, TlsError};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

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

/// Something that opens a new stream to the target.
pub(crate) trait Dialer {
    type Stream: AsyncReadRent + AsyncWriteRent;
    async fn dial(&self) -> Result<Self::Stream, Failure>;
}

/// Plain TCP to the first address that accepts.
pub(crate) struct TcpDialer {
    pub addrs: Rc<[SocketAddr]>,
    pub connect_timeout: Duration,
}

impl Dialer for TcpDialer {
    type Stream = TcpStream;

    async fn dial(&self) -> Result<TcpStream, Failure> {
        let mut last_error = io::Error::new(io::ErrorKind::AddrNotAvailable, "no address");
        for addr in self.addrs.iter() {
            match monoio::time::timeout(self.connect_timeout, TcpStream::connect_addr(*addr)).await
            {
                Ok(Ok(stream)) => {
                    // Requests are written whole; Nagle would only add delay.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
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

impl Dialer for TlsDialer {
    type Stream = ClientTlsStream<TcpStream>;

    async fn dial(&self) -> Result<Self::Stream, Failure> {
        let tcp = self.tcp.dial().await?;
        let handshake = self.connector.connect(self.server_name.clone(), tcp);
        match monoio::time::timeout(self.tcp.connect_timeout, handshake).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(TlsError::Rustls(e))) => Err(Failure::new(ErrorKind::Tls, io::Error::other(e))),
            Ok(Err(TlsError::Io(e))) => Err(Failure::new(ErrorKind::Tls, e)),
            Err(_) => Err(Failure::message(ErrorKind::Tls, "TLS handshake timed out")),
        }
    }
}
