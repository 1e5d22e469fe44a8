//! Opening HTTP/2 connections: TCP, then for https a rustls handshake driven by hand that must
//! settle on `h2` by ALPN. The HTTP/2 driver reads and writes at once (a request may go out
//! while responses are awaited), so it keeps the socket's two halves and the rustls session
//! itself, instead of a TLS stream that allows one operation at a time.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use crate::error::{ErrorKind, Failure};
use crate::load::config::Http2Options;
use crate::net::dial::{DialTimes, Dialer, TcpDialer, PLAIN_HTTP_ANSWER};

/// The ALPN protocol id of HTTP/2 over TLS.
pub(crate) const ALPN_H2: &[u8] = b"h2";

/// Why an https connection cannot carry HTTP/2.
pub(crate) const NO_H2_BY_ALPN: &str =
    "the server did not agree to HTTP/2 in the TLS handshake (ALPN h2)";

/// Bytes a connection first reads at once; a read that fills them doubles them, up to
/// [`MAX_READ_BYTES`]. Small at first: a run of 10,000 connections holds 10,000 buffers.
pub(crate) const FIRST_READ_BYTES: usize = 16 * 1024;
pub(crate) const MAX_READ_BYTES: usize = 256 * 1024;

/// An open HTTP/2 connection's transport: the socket, and for https its rustls session.
pub(crate) struct H2Transport {
    pub tcp: TcpStream,
    pub tls: Option<ClientConnection>,
}

/// Opens HTTP/2 connections to the target.
pub(crate) struct H2Dialer {
    pub tcp: TcpDialer,
    /// https: the client configuration (offering only `h2`) and the name to verify.
    pub tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    pub options: Http2Options,
}

impl H2Dialer {
    /// `config` is the run's TLS configuration; HTTP/2 connections offer only `h2` by ALPN (the
    /// run checked before it started that the server agrees).
    pub fn new(
        tcp: TcpDialer,
        tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
        options: Http2Options,
    ) -> Self {
        let tls = tls.map(|(config, name)| {
            let mut config = (*config).clone();
            config.alpn_protocols = vec![ALPN_H2.to_vec()];
            (Arc::new(config), name)
        });
        H2Dialer { tcp, tls, options }
    }
}

impl Dialer for H2Dialer {
    type Stream = H2Transport;

    async fn dial(&self) -> Result<(H2Transport, DialTimes), Failure> {
        let (mut tcp, mut times) = self.tcp.dial().await?;
        let Some((config, name)) = &self.tls else {
            return Ok((H2Transport { tcp, tls: None }, times));
        };
        let started = Instant::now();
        let handshake = handshake(&mut tcp, config.clone(), name.clone());
        let tls = match monoio::time::timeout(self.tcp.connect_timeout, handshake).await {
            Ok(result) => result?,
            Err(_) => return Err(Failure::message(ErrorKind::Tls, "TLS handshake timed out")),
        };
        if tls.alpn_protocol() != Some(ALPN_H2) {
            return Err(Failure::message(ErrorKind::Tls, NO_H2_BY_ALPN));
        }
        times.tls = Some(started.elapsed());
        Ok((
            H2Transport {
                tcp,
                tls: Some(tls),
            },
            times,
        ))
    }
}

fn tls_failure(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Failure {
    Failure::new(ErrorKind::Tls, io::Error::other(error))
}

/// The client's TLS handshake on `tcp`. Whatever the server sent beyond it stays in the
/// session, to be read as application data.
async fn handshake(
    tcp: &mut TcpStream,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
) -> Result<ClientConnection, Failure> {
    let mut tls = ClientConnection::new(config, name).map_err(tls_failure)?;
    // Writes of HTTP/2 frames are never cut short by rustls' buffer limit.
    tls.set_buffer_limit(None);
    let mut out = Vec::new();
    let mut input = Vec::with_capacity(16 * 1024);
    let mut first_read = true;
    while tls.is_handshaking() {
        if tls.wants_write() {
            out.clear();
            while tls.wants_write() {
                tls.write_tls(&mut out).map_err(tls_failure)?;
            }
            let (result, buf) = tcp.write_all(std::mem::take(&mut out)).await;
            out = buf;
            result.map_err(|e| Failure::new(ErrorKind::Tls, e))?;
            continue;
        }
        input.clear();
        let (result, buf) = tcp.read(std::mem::take(&mut input)).await;
        input = buf;
        let n = result.map_err(|e| Failure::new(ErrorKind::Tls, e))?;
        if n == 0 {
            return Err(Failure::message(
                ErrorKind::Tls,
                "the server closed the connection during the TLS handshake",
            ));
        }
        if first_read && input.starts_with(b"HTTP/") {
            return Err(Failure::message(ErrorKind::Tls, PLAIN_HTTP_ANSWER));
        }
        first_read = false;
        while !input.is_empty() {
            let mut rest = &input[..];
            tls.read_tls(&mut rest).map_err(tls_failure)?;
            let used = input.len() - rest.len();
            input.drain(..used);
            tls.process_new_packets().map_err(tls_failure)?;
        }
    }
    Ok(tls)
}

/// Gives `ciphertext` to the session, then moves what it decrypted to the end of `plain`
/// (with nothing to give, just the latter: what arrived with the handshake). Returns false
/// once the server closed the TLS session (close_notify).
pub(crate) fn decrypt(
    tls: &mut ClientConnection,
    mut ciphertext: &[u8],
    plain: &mut Vec<u8>,
) -> Result<bool, Failure> {
    let mut open = true;
    loop {
        if !ciphertext.is_empty() {
            tls.read_tls(&mut ciphertext).map_err(tls_failure)?;
        }
        let state = tls.process_new_packets().map_err(tls_failure)?;
        let ready = state.plaintext_bytes_to_read();
        if ready > 0 {
            let len = plain.len();
            plain.resize(len + ready, 0);
            tls.reader()
                .read_exact(&mut plain[len..])
                .map_err(tls_failure)?;
        }
        open &= !state.peer_has_closed();
        if ciphertext.is_empty() {
            return Ok(open);
        }
    }
}

/// Encrypts `plain` and appends the records to `out`.
pub(crate) fn encrypt(
    tls: &mut ClientConnection,
    plain: &[u8],
    out: &mut Vec<u8>,
) -> io::Result<()> {
    tls.writer().write_all(plain)?;
    while tls.wants_write() {
        tls.write_tls(out)?;
    }
    Ok(())
}
