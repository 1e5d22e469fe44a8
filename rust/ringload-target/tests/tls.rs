//! HTTPS: a rustls client that trusts the self-signed certificate's PEM.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use common::Client;
use ringload_target::{self_signed, Server, ServerConfig};
use rustls::crypto::ring;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

fn tls_server() -> (Server, String) {
    let (identity, pem) = self_signed(&["localhost", "127.0.0.1"]);
    let config = ServerConfig {
        tls: Some(identity.clone()),
        ..ServerConfig::default()
    };
    (Server::start(config).expect("server starts"), pem)
}

fn client_config(ca_pem: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.expect("PEM certificate"))
            .expect("trust anchor");
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn tls_connect(
    server: &Server,
    ca_pem: &str,
    name: &str,
) -> Client<StreamOwned<ClientConnection, TcpStream>> {
    let tcp = TcpStream::connect(server.addr()).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    let session = ClientConnection::new(client_config(ca_pem), name).expect("client session");
    Client::new(StreamOwned::new(session, tcp))
}

#[test]
fn self_signed_pem_is_a_certificate() {
    let (identity, pem) = self_signed(&["localhost"]);
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(identity.cert_chain.len(), 1);
    let parsed = CertificateDer::from_pem_slice(pem.as_bytes()).expect("PEM parses");
    assert_eq!(parsed, identity.cert_chain[0]);
    assert!(!format!("{identity:?}").contains(&format!("{:?}", identity.key.secret_der())));
}

#[test]
fn tls_round_trip_with_keep_alive() {
    let (server, pem) = tls_server();
    for name in ["127.0.0.1", "localhost"] {
        let mut client = tls_connect(&server, &pem, name);
        let resp = client.get("/");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.text(), "hello from ringload\n");
        assert_eq!(client.stream.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
        // Larger than one TLS record, then chunked, on the same connection.
        assert_eq!(client.get("/bytes/100000").body.len(), 100_000);
        assert_eq!(client.get("/chunked/9000").body.len(), 9000);
        client.send(b"POST /echo HTTP/1.1\r\nContent-Length: 6\r\n\r\nsecret");
        assert_eq!(client.read_response().body, b"secret");
    }
    assert_eq!(server.connections(), 2);
    assert_eq!(server.requests(), 8);
}

#[test]
fn tls_close_route() {
    let (server, pem) = tls_server();
    let mut client = tls_connect(&server, &pem, "localhost");
    let resp = client.get("/close");
    assert_eq!(resp.header("connection"), Some("close"));
    // The server sends close_notify, which reads as a clean end of stream.
    client.assert_closed();
}

#[test]
fn failed_handshake_closes_but_is_counted() {
    let (server, pem) = tls_server();
    let mut plain = common::connect(server.addr());
    plain
        .stream
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .expect("send");
    let mut buf = Vec::new();
    // The server answers the nonsense with an alert (or nothing) and closes.
    let _ = std::io::Read::read_to_end(&mut plain.stream, &mut buf);
    assert!(!buf.starts_with(b"HTTP/"));
    assert_eq!(server.connections(), 1);
    assert_eq!(server.requests(), 0);

    // The server is unaffected.
    let mut client = tls_connect(&server, &pem, "localhost");
    assert_eq!(client.get("/").status, 200);
    assert_eq!(server.connections(), 2);
}

#[test]
fn tls_shutdown_does_not_hang() {
    let (server, pem) = tls_server();
    let mut client = tls_connect(&server, &pem, "localhost");
    assert_eq!(client.get("/").status, 200);
    let started = std::time::Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(1));
}
