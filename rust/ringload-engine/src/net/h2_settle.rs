//! Before an HTTP/2 run starts: one connection settles whether the server speaks it. Over TLS,
//! ALPN decides; a server that picks HTTP/1.1 (or no protocol) gets an HTTP/1.1 run, with a
//! warning. On `http://` (h2c, prior knowledge) a server that answers the preface in HTTP/1.1
//! is an error naming the fix, before any request is sent. A server that cannot be reached is
//! left to the run, whose requests then count the connect failures as usual.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::error::RunError;
use crate::net::h2_dial::ALPN_H2;

/// The protocol a run settled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Settled {
    Http2,
    /// HTTP/1.1, with the warning that says why.
    Http1 {
        warning: String,
    },
    /// The server could not be asked (unreachable): the run tries HTTP/2.
    Unknown,
}

/// Asks the server at `addrs` whether it speaks HTTP/2.
pub(crate) fn settle(
    addrs: &[SocketAddr],
    tls: Option<&(Arc<ClientConfig>, ServerName<'static>)>,
    timeout: Duration,
) -> Result<Settled, RunError> {
    let Some(mut socket) = addrs
        .iter()
        .find_map(|addr| TcpStream::connect_timeout(addr, timeout).ok())
    else {
        return Ok(Settled::Unknown);
    };
    let _ = socket.set_read_timeout(Some(timeout));
    let _ = socket.set_write_timeout(Some(timeout));
    match tls {
        Some((config, name)) => Ok(by_alpn(socket, config, name)),
        None => by_preface(&mut socket),
    }
}

fn by_alpn(socket: TcpStream, config: &ClientConfig, name: &ServerName<'static>) -> Settled {
    let mut config = config.clone();
    config.alpn_protocols = vec![ALPN_H2.to_vec(), b"http/1.1".to_vec()];
    let Ok(session) = ClientConnection::new(Arc::new(config), name.clone()) else {
        return Settled::Unknown;
    };
    let mut stream = StreamOwned::new(session, socket);
    while stream.conn.is_handshaking() {
        if stream.conn.complete_io(&mut stream.sock).is_err() {
            // Certificate or handshake problems: the run reports them as TLS failures.
            return Settled::Unknown;
        }
    }
    let chosen = stream.conn.alpn_protocol().map(<[u8]>::to_vec);
    stream.conn.send_close_notify();
    let _ = stream.conn.complete_io(&mut stream.sock);
    match chosen.as_deref() {
        Some(ALPN_H2) => Settled::Http2,
        other => Settled::Http1 {
            warning: format!(
                "--http2: the server did not agree to HTTP/2 in the TLS handshake (ALPN: it \
                 chose {}); this run uses HTTP/1.1",
                other.map_or("no protocol".to_string(), |p| String::from_utf8_lossy(p)
                    .into_owned())
            ),
        },
    }
}

fn by_preface(socket: &mut TcpStream) -> Result<Settled, RunError> {
    let mut hello = Vec::from(ringload_h2::frame::PREFACE);
    ringload_h2::frame::push_settings(&mut hello, &[]);
    if socket.write_all(&hello).is_err() {
        return Ok(Settled::Unknown);
    }
    let mut first = [0u8; 16];
    let mut got = 0;
    while got < 8 {
        match socket.read(&mut first[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let answer = &first[..got];
    if answer.starts_with(b"HTTP/1.") {
        return Err(RunError::H2cRefused);
    }
    let _ = socket.shutdown(std::net::Shutdown::Both);
    // A SETTINGS frame (type 4 at byte 3) is the server's preface.
    Ok(
        if got >= 4 && answer[3] == ringload_h2::frame::kind::SETTINGS {
            Settled::Http2
        } else {
            Settled::Unknown
        },
    )
}
