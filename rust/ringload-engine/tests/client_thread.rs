//! The client thread behind the Python package: it never waits for a host name lookup (a
//! resolver that is slow for one name holds up only the requests to that name, each new
//! connection looks its host up again, lookups of one name that overlap share one answer), and a
//! request given up before the engine took it up is never sent.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringload_engine::client::{Client, ClientRequest, ClientTls, Completion, Outcome};
use ringload_engine::{IoMode, Resolve, Scheme};
use ringload_target::hostile::{HostileServer, Step};
use ringload_target::{Server, ServerConfig};

const SLOW: Duration = Duration::from_millis(1500);

/// Every name is 127.0.0.1; `slow.test` takes [`SLOW`] to say so. Counts the lookups per name.
#[derive(Default)]
struct TestResolver {
    lookups: Mutex<HashMap<String, usize>>,
}

impl Resolve for TestResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        *self.lookups.lock().unwrap().entry(host.into()).or_default() += 1;
        match host {
            "slow.test" => std::thread::sleep(SLOW),
            "fast.test" => {}
            _ => return Err(io::Error::new(io::ErrorKind::NotFound, "unknown test name")),
        }
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
    }
}

impl TestResolver {
    fn count(&self, host: &str) -> usize {
        self.lookups.lock().unwrap().get(host).copied().unwrap_or(0)
    }
}

fn request(token: u64, session: u64, host: &str, port: u16) -> ClientRequest {
    ClientRequest {
        token,
        session,
        scheme: Scheme::Http,
        host: host.into(),
        port,
        bytes: format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
        is_head: false,
        idempotent: true,
        connect_timeout: Duration::from_secs(10),
        timeout: Duration::from_secs(10),
        tls: ClientTls::Insecure,
        max_connections: 0,
        proxy: None,
        stream: false,
        decode: false,
    }
}

/// Waits for the next completions (at most `limit`), as an event loop watching the fd would.
fn next_completions(client: &Client, limit: Duration) -> Vec<Completion> {
    let fd: RawFd = client.completion_fd();
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut poll, 1, limit.as_millis() as i32) };
    let mut done = Vec::new();
    client.drain(&mut done);
    done
}

fn status(completion: &Completion) -> u16 {
    match &completion.outcome {
        Outcome::Response(response) => response.status,
        other => panic!("request {} failed: {other:?}", completion.token),
    }
}

#[test]
fn a_slow_lookup_holds_up_only_the_requests_to_its_name() {
    let server = Server::start(ServerConfig::default()).unwrap();
    let port = server.addr().port();
    let resolver = Arc::new(TestResolver::default());
    let client = Client::start_with_resolver(IoMode::Auto, resolver.clone()).unwrap();

    let start = Instant::now();
    client.submit(request(0, 0, "slow.test", port)).unwrap();
    client.flush().unwrap();
    // Each fast request is in its own session, so each opens (and looks up for) a connection.
    for token in 1..=20 {
        client
            .submit(request(token, token, "fast.test", port))
            .unwrap();
        client.flush().unwrap();
        let done = next_completions(&client, Duration::from_secs(5));
        assert_eq!(done.len(), 1, "request {token} did not complete alone");
        assert_eq!(done[0].token, token);
        assert_eq!(status(&done[0]), 200);
    }
    assert!(
        start.elapsed() < SLOW / 2,
        "the fast requests waited for the slow lookup: {:?}",
        start.elapsed()
    );
    assert_eq!(
        resolver.count("fast.test"),
        20,
        "one lookup per new connection"
    );

    // Five more connections to the slow name while its lookup is under way: one lookup for all.
    for token in 21..=25 {
        client
            .submit(request(token, token, "slow.test", port))
            .unwrap();
    }
    client.flush().unwrap();
    let mut answered = Vec::new();
    while answered.len() < 6 && start.elapsed() < SLOW * 4 {
        for completion in next_completions(&client, SLOW) {
            assert_eq!(status(&completion), 200);
            answered.push(completion.token);
        }
    }
    answered.sort_unstable();
    assert_eq!(answered, [0, 21, 22, 23, 24, 25]);
    assert_eq!(
        resolver.count("slow.test"),
        1,
        "overlapping lookups share one answer"
    );
    assert_eq!(server.requests(), 26);
}

#[test]
fn a_failed_lookup_fails_the_request_with_the_resolvers_reason() {
    let resolver = Arc::new(TestResolver::default());
    let client = Client::start_with_resolver(IoMode::Auto, resolver).unwrap();
    client.submit(request(7, 1, "nowhere.test", 80)).unwrap();
    client.flush().unwrap();
    let done = next_completions(&client, Duration::from_secs(5));
    assert_eq!(done.len(), 1);
    match &done[0].outcome {
        Outcome::Failure(failure) => {
            assert!(
                failure.message.contains("unknown test name"),
                "{}",
                failure.message
            );
        }
        other => panic!("expected a failure: {other:?}"),
    }
}

#[test]
fn a_request_cancelled_before_the_flush_is_never_sent() {
    let server = Server::start(ServerConfig::default()).unwrap();
    let port = server.addr().port();
    let client = Client::start(IoMode::Auto).unwrap();
    client.submit(request(1, 1, "127.0.0.1", port)).unwrap();
    client.submit(request(2, 1, "127.0.0.1", port)).unwrap();
    client.cancel(1).unwrap();
    client.flush().unwrap();
    let done = next_completions(&client, Duration::from_secs(5));
    assert_eq!(done.iter().map(|c| c.token).collect::<Vec<_>>(), [2]);
    // A cancel that comes after the engine took the request up changes nothing.
    client.submit(request(3, 1, "127.0.0.1", port)).unwrap();
    client.flush().unwrap();
    let done = next_completions(&client, Duration::from_secs(5));
    client.cancel(3).unwrap();
    assert_eq!(done.iter().map(|c| c.token).collect::<Vec<_>>(), [3]);
    assert_eq!(
        server.requests(),
        2,
        "the cancelled request never reached the server"
    );
}

/// A kept-alive connection frees its buffers while idle in its pool; the next response, larger
/// than the buffer a read starts with, still arrives whole on the same connection.
#[test]
fn a_connection_reused_after_idling_reads_a_large_response_whole() {
    let body = "x".repeat(200 * 1024);
    let head = format!("X-Filler: {}\r\n", "f".repeat(500)).repeat(40);
    let response = format!(
        "HTTP/1.1 200 OK\r\n{head}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let server = HostileServer::play(vec![Step::Read, Step::send(response), Step::Repeat]).unwrap();
    let port = server.addr().port();
    let client = Client::start(IoMode::Auto).unwrap();
    for token in 1..=3 {
        client.submit(request(token, 1, "127.0.0.1", port)).unwrap();
        client.flush().unwrap();
        let done = next_completions(&client, Duration::from_secs(5));
        assert_eq!(done.len(), 1, "request {token}");
        let Outcome::Response(response) = &done[0].outcome else {
            panic!("request {token} failed: {:?}", done[0].outcome);
        };
        assert_eq!(response.status, 200);
        assert_eq!(response.body, body.as_bytes(), "request {token}'s body");
        assert_eq!(response.headers.values("x-filler").count(), 40);
        assert_eq!(response.reused_connection, token > 1, "request {token}");
    }
    assert_eq!(server.connections(), 1);
}
