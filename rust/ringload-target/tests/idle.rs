//! Idle keep-alive connections ended by the server, as production servers do: after an idle
//! timeout, or to make room at a connection limit; with a FIN, a reset, or a 408 first.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ringload_target::{IdleClose, Server, ServerConfig};

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
const HELLO: &[u8] = b"hello from ringload\n";

fn server(config: ServerConfig) -> Server {
    Server::start(config).unwrap()
}

fn idle_after(timeout_ms: u64, how: IdleClose) -> Server {
    server(ServerConfig {
        idle_timeout: Some(Duration::from_millis(timeout_ms)),
        idle_close: how,
        ..ServerConfig::default()
    })
}

/// Sends a GET and reads its whole response (the target's `/` answers `HELLO`).
fn exchange(stream: &mut TcpStream) {
    stream.write_all(GET).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(HELLO) {
        let n = stream.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
}

/// Everything the server sends until it closes, or the error that ended the read.
fn read_to_close(stream: &mut TcpStream) -> Result<Vec<u8>, ErrorKind> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).map_err(|e| e.kind())?;
    Ok(got)
}

fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.addr()).unwrap()
}

#[test]
fn an_idle_timeout_ends_the_connection_with_a_fin_after_the_timeout() {
    let server = idle_after(300, IdleClose::Close);
    let mut stream = connect(&server);
    exchange(&mut stream);
    // Busy again before the timeout: the connection is still there.
    std::thread::sleep(Duration::from_millis(100));
    exchange(&mut stream);
    let idle_from = Instant::now();
    assert_eq!(read_to_close(&mut stream), Ok(Vec::new()), "a plain FIN");
    let waited = idle_from.elapsed();
    assert!(
        waited >= Duration::from_millis(280) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert_eq!(server.idle_closes(), 1);
    assert_eq!(server.late_requests(), 0);
}

#[test]
fn a_request_sent_into_a_closed_idle_connection_is_counted_late() {
    let server = idle_after(100, IdleClose::Close);
    let mut stream = connect(&server);
    exchange(&mut stream);
    std::thread::sleep(Duration::from_millis(300));
    // The FIN is here, but a client that does not look writes anyway.
    stream.write_all(GET).unwrap();
    assert_eq!(read_to_close(&mut stream), Ok(Vec::new()), "not answered");
    let deadline = Instant::now() + Duration::from_secs(3);
    while server.late_requests() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(server.late_requests(), 1);
    assert_eq!(server.requests(), 1);
}

#[test]
fn an_idle_close_can_be_a_reset_or_a_408() {
    let server = idle_after(100, IdleClose::Reset);
    let mut stream = connect(&server);
    exchange(&mut stream);
    assert_eq!(read_to_close(&mut stream), Err(ErrorKind::ConnectionReset));

    let server = idle_after(100, IdleClose::Timeout408);
    let mut stream = connect(&server);
    exchange(&mut stream);
    let sent = read_to_close(&mut stream).unwrap();
    let text = String::from_utf8_lossy(&sent);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    assert_eq!(server.idle_closes(), 1);
}

#[test]
fn at_the_connection_limit_the_connection_idle_longest_makes_room() {
    let server = server(ServerConfig {
        max_connections: Some(2),
        ..ServerConfig::default()
    });
    let mut first = connect(&server);
    exchange(&mut first);
    std::thread::sleep(Duration::from_millis(50));
    let mut second = connect(&server);
    exchange(&mut second);
    // A third connection: the first, idle longest, is ended so the third can be served.
    let mut third = connect(&server);
    exchange(&mut third);
    assert_eq!(read_to_close(&mut first), Ok(Vec::new()));
    assert_eq!(server.idle_closes(), 1);
    // Used again, the second is idle for less time than the third now.
    exchange(&mut second);
    let mut fourth = connect(&server);
    exchange(&mut fourth);
    assert_eq!(read_to_close(&mut third), Ok(Vec::new()));
    exchange(&mut second);
    assert_eq!(server.idle_closes(), 2);
    assert_eq!(server.requests(), 6);
}

#[test]
fn at_the_limit_with_every_connection_busy_a_new_one_waits_its_turn() {
    let server = server(ServerConfig {
        max_connections: Some(1),
        ..ServerConfig::default()
    });
    let mut busy = connect(&server);
    // Busy for 300 ms: the next connection is not served before it goes idle.
    busy.write_all(b"GET /delay/300 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let mut waiting = connect(&server);
    exchange(&mut waiting);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    let answer = read_to_close(&mut busy).unwrap();
    assert!(
        String::from_utf8_lossy(&answer).ends_with("ok\n"),
        "answered, then ended"
    );
    assert_eq!(server.idle_closes(), 1);
}
