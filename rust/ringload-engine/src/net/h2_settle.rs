//! Before an HTTPS run with `--http2` starts: one TLS handshake, not counted in the report,
//! settles whether the server speaks HTTP/2, since ALPN decides it per connection and a run
//! uses one protocol. A server that picks HTTP/1.1 (or no protocol) gets an HTTP/1.1 run, with a
//! warning. A server that cannot be reached, or whose certificate is refused, is left to the
//! run, whose requests then count the failures as usual. (On `http://` there is nothing to ask:
//! h2c is prior knowledge, and a connection whose server answers in HTTP/1.1 fails with a
//! hint.)

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

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

/// Asks the server at `addrs` whether it agrees to HTTP/2 by ALPN.
pub(crate) fn settle(
    addrs: &[SocketAddr],
    (config, name): &(Arc<ClientConfig>, ServerName<'static>),
    timeout: Duration,
) -> Settled {
    let Some(socket) = addrs
        .iter()
        .find_map(|addr| TcpStream::connect_timeout(addr, timeout).ok())
    else {
        return Settled::Unknown;
    };
    let _ = socket.set_read_timeout(Some(timeout));
    let _ = socket.set_write_timeout(Some(timeout));
    by_alpn(socket, config, name)
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
