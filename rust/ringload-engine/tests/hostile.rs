//! The engine against a hostile server: canned byte scripts for broken framing, dropped and reset
//! connections and slow servers. Each case asserts the outcome kind of every request, whether the
//! connection was reused or closed, `requests = ok + failed + aborted`, and that no file
//! descriptor outlived the run.
//!
//! The engine runs in this process so its descriptors can be counted; the cases run one at a
//! time (a lock) because the count covers the whole process; every test checks it at its end.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ringload_engine::{LoadConfig, Report};
use ringload_target::hostile::{HostileServer, Step};

static SERIAL: Mutex<()> = Mutex::new(());

/// Held for a whole test: runs tests one at a time, and when the test ends (after everything it
/// created was dropped, since this is created first) checks that no descriptor was left open.
struct Serial {
    _lock: MutexGuard<'static, ()>,
    descriptors: usize,
}

impl Drop for Serial {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_eq!(
                open_descriptors(),
                self.descriptors,
                "file descriptors leaked"
            );
        }
    }
}

fn serial() -> Serial {
    let lock = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    Serial {
        _lock: lock,
        descriptors: open_descriptors(),
    }
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn run(config: &LoadConfig) -> Report {
    let plan = config.plan().expect("a valid configuration");
    ringload_engine::run(&plan, |_| {}, |_| {}).expect("the run happens")
}

/// A closed-model run of `n` requests on one connection and one worker.
fn config(url: &str, n: u64) -> LoadConfig {
    let mut config = LoadConfig::new(url).unwrap();
    config.connections = Some(1);
    config.threads = Some(1);
    config.requests = Some(n);
    config.timeout = Duration::from_secs(2);
    config
}

fn failed(report: &Report, kind: &str) -> u64 {
    report.outcomes.failed[kind]
}

fn assert_accounting(report: &Report) {
    let o = &report.outcomes;
    assert_eq!(o.requests, o.ok + o.failed_total() + o.aborted, "{report}");
}

/// What every request of a case should amount to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// A complete response with this status.
    Ok(u16),
    /// Failed with this kind.
    Failed(&'static str),
}

/// Whether the connection may carry the next request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Connection {
    Reused,
    Closed,
}

struct Case {
    name: &'static str,
    steps: Vec<Step>,
    method: &'static str,
    outcome: Outcome,
    connection: Connection,
    /// Requests resent under the idempotent-retry rule.
    retries: u64,
}

fn case(name: &'static str, response: &[u8], outcome: Outcome, connection: Connection) -> Case {
    // A keep-alive server: read, answer, repeat; a server that must not be reused holds the
    // connection open, so only the client can have closed it.
    let after = match connection {
        Connection::Reused => Step::Repeat,
        Connection::Closed => Step::Hold,
    };
    Case {
        name,
        steps: vec![Step::Read, Step::send(response), after],
        method: "GET",
        outcome,
        connection,
        retries: 0,
    }
}

const REQUESTS: u64 = 3;

fn check(case: &Case) {
    let before = open_descriptors();
    let server = HostileServer::play(case.steps.clone()).unwrap();
    let mut config = config(&server.url("/"), REQUESTS);
    config.method = Some(case.method.into());
    let report = run(&config);
    assert_accounting(&report);
    let o = &report.outcomes;
    assert_eq!(o.requests, REQUESTS, "{}: {report}", case.name);
    match case.outcome {
        Outcome::Ok(status) => {
            assert_eq!(o.ok, REQUESTS, "{}: {report}", case.name);
            assert_eq!(
                o.status.get(&status).copied(),
                Some(REQUESTS),
                "{}: {report}",
                case.name
            );
        }
        Outcome::Failed(kind) => {
            assert_eq!(failed(&report, kind), REQUESTS, "{}: {report}", case.name);
            assert!(
                report.error_examples.contains_key(kind),
                "{}: an example message for {kind}",
                case.name
            );
        }
    }
    let expected_connections = match case.connection {
        Connection::Reused => 1,
        Connection::Closed => REQUESTS,
    };
    assert_eq!(
        server.connections(),
        expected_connections,
        "{}: connection should be {:?}; {report}",
        case.name,
        case.connection
    );
    assert_eq!(o.retries, case.retries, "{}: retries; {report}", case.name);
    drop(server);
    assert_eq!(
        open_descriptors(),
        before,
        "{}: file descriptors leaked",
        case.name
    );
}

fn ok(status: u16) -> Outcome {
    Outcome::Ok(status)
}

use Connection::{Closed, Reused};
use Outcome::Failed;

#[test]
fn broken_framing() {
    let _serial = serial();
    let huge_header = format!(
        "HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 0\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    let endless_headers = format!("HTTP/1.1 200 OK\r\n{}", "X-More: yes\r\n".repeat(10_000));
    let long_extension = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;{}\r\nok\r\n0\r\n\r\n",
        "e".repeat(5000)
    );
    let interim_flood = format!(
        "{}HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\n".repeat(20)
    );
    let cases = vec![
        case("garbage", b"HELLO WORLD\r\n\r\n", Failed("parse"), Closed),
        case(
            "status code out of range",
            b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
            Failed("parse"),
            Closed,
        ),
        case(
            "HTTP/2 status line",
            b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
            Failed("parse"),
            Closed,
        ),
        case(
            "header line without colon",
            b"HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n",
            Failed("parse"),
            Closed,
        ),
        case(
            "NUL in a header value",
            b"HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\nContent-Length: 0\r\n\r\n",
            Failed("parse"),
            Closed,
        ),
        case(
            "bare CR in a header value",
            b"HTTP/1.1 200 OK\r\nX-Cr: a\rb\r\nContent-Length: 0\r\n\r\n",
            Failed("parse"),
            Closed,
        ),
        case(
            "obsolete line folding is rejected",
            b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
            Failed("parse"),
            Closed,
        ),
        case(
            "Transfer-Encoding with Content-Length: chunked wins, no reuse",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            ok(200),
            Closed,
        ),
        case(
            "duplicate equal Content-Length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
            ok(200),
            Reused,
        ),
        case(
            "Content-Length list of equal values",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok",
            ok(200),
            Reused,
        ),
        case(
            "conflicting Content-Length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
            Failed("framing"),
            Closed,
        ),
        case(
            "Content-Length not a number",
            b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nok",
            Failed("framing"),
            Closed,
        ),
        case(
            "negative Content-Length",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok",
            Failed("framing"),
            Closed,
        ),
        case(
            "Content-Length with a sign",
            b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
            Failed("framing"),
            Closed,
        ),
        case(
            "Content-Length beyond 64 bits",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nok",
            Failed("framing"),
            Closed,
        ),
        case(
            "unknown transfer coding",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: frobnicate\r\n\r\nok",
            Failed("framing"),
            Closed,
        ),
        case(
            "chunked applied twice",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            Failed("framing"),
            Closed,
        ),
        case(
            "gzip then chunked",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            ok(200),
            Reused,
        ),
        case(
            "chunk size not hex",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
            Failed("framing"),
            Closed,
        ),
        case(
            "chunk size overflows 64 bits",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nok\r\n0\r\n\r\n",
            Failed("framing"),
            Closed,
        ),
        case(
            "missing CRLF after chunk data",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
            Failed("framing"),
            Closed,
        ),
        case(
            "long chunk extension",
            long_extension.as_bytes(),
            Failed("framing"),
            Closed,
        ),
        case(
            "chunk extensions and trailers",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;name=value\r\nok\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n",
            ok(200),
            Reused,
        ),
        case(
            "body longer than Content-Length: the rest is not the next response",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 299 Smuggled\r\nContent-Length: 0\r\n\r\n",
            ok(200),
            Closed,
        ),
        case(
            "HEAD-less 204 with framing headers has no body",
            b"HTTP/1.1 204 No Content\r\nContent-Length: 50\r\n\r\n",
            ok(204),
            Reused,
        ),
        case(
            "304 with Transfer-Encoding has no body",
            b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            ok(304),
            Reused,
        ),
        case(
            "100 and 103 before the final response",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ok(200),
            Reused,
        ),
        case(
            "a flood of interim responses",
            interim_flood.as_bytes(),
            Failed("parse"),
            Closed,
        ),
        case(
            "a header over the size limit",
            huge_header.as_bytes(),
            Failed("parse"),
            Closed,
        ),
        case(
            "headers that never end",
            endless_headers.as_bytes(),
            Failed("parse"),
            Closed,
        ),
        case(
            "broken gzip: the load path never decodes bodies",
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
            ok(200),
            Reused,
        ),
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn close_delimited_bodies_are_complete_responses() {
    let _serial = serial();
    for (name, response) in [
        ("HTTP/1.0", &b"HTTP/1.0 200 OK\r\n\r\nhello"[..]),
        ("HTTP/1.1 without framing", b"HTTP/1.1 200 OK\r\n\r\nhello"),
    ] {
        check(&Case {
            name,
            steps: vec![Step::Read, Step::send(response), Step::Close],
            method: "GET",
            outcome: ok(200),
            connection: Closed,
            retries: 0,
        });
    }
}

/// A head and a body larger than the receive buffer: the buffer starts at a page and doubles as
/// reads fill it; the responses still arrive whole and the connection is reused.
#[test]
fn heads_and_bodies_larger_than_the_read_buffer() {
    let _serial = serial();
    let cookies = format!("Set-Cookie: session={}; Path=/\r\n", "s".repeat(500)).repeat(45);
    let large = format!(
        "HTTP/1.1 200 OK\r\n{cookies}Content-Length: {}\r\n\r\n{}",
        100 * 1024,
        "b".repeat(100 * 1024)
    );
    let chunked = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{}0\r\n\r\n",
        format!("1000\r\n{}\r\n", "c".repeat(4096)).repeat(30)
    );
    for (name, response) in [
        ("a 23 KiB head and a 100 KiB body", large),
        ("120 KiB in 4 KiB chunks", chunked),
    ] {
        check(&case(name, response.as_bytes(), ok(200), Reused));
    }
}

#[test]
fn head_responses_carry_no_body() {
    let _serial = serial();
    check(&Case {
        name: "HEAD with Content-Length",
        steps: vec![
            Step::Read,
            Step::send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
            Step::Repeat,
        ],
        method: "HEAD",
        outcome: ok(200),
        connection: Reused,
        retries: 0,
    });
}

#[test]
fn dropped_and_reset_connections() {
    let _serial = serial();
    let cases = vec![
        Case {
            name: "closed before reading the request",
            steps: vec![Step::Close],
            method: "GET",
            outcome: Failed("closed"),
            connection: Closed,
            retries: 0,
        },
        Case {
            name: "closed after reading the request",
            steps: vec![Step::Read, Step::Close],
            method: "GET",
            outcome: Failed("closed"),
            connection: Closed,
            retries: 0,
        },
        Case {
            name: "reset after reading the request",
            steps: vec![Step::Read, Step::Reset],
            method: "POST",
            outcome: Failed("read"),
            connection: Closed,
            retries: 0,
        },
        Case {
            name: "reset in the middle of the head",
            steps: vec![
                Step::Read,
                Step::send(b"HTTP/1.1 200 OK\r\nContent-Le"),
                Step::Sleep(Duration::from_millis(30)),
                Step::Reset,
            ],
            method: "GET",
            outcome: Failed("read"),
            connection: Closed,
            retries: 0,
        },
        Case {
            name: "closed in the middle of the head",
            steps: vec![
                Step::Read,
                Step::send(b"HTTP/1.1 200 OK\r\nContent-Le"),
                Step::Close,
            ],
            method: "GET",
            outcome: Failed("read"),
            connection: Closed,
            retries: 0,
        },
        Case {
            name: "reset in the middle of the body",
            steps: vec![
                Step::Read,
                Step::send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"),
                Step::Sleep(Duration::from_millis(30)),
                Step::Reset,
            ],
            method: "GET",
            outcome: Failed("read"),
            connection: Closed,
            retries: 0,
        },
        Case {
            name: "body shorter than Content-Length, then close",
            steps: vec![
                Step::Read,
                Step::send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"),
                Step::Close,
            ],
            method: "GET",
            outcome: Failed("read"),
            connection: Closed,
            retries: 0,
        },
        Case {
            name: "Connection: close on every response",
            steps: vec![
                Step::Read,
                Step::send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
                Step::Hold,
            ],
            method: "GET",
            outcome: ok(200),
            connection: Closed,
            retries: 0,
        },
        Case {
            // The server's FIN arrives after the response; each next GET goes out on the
            // half-closed connection, finds it closed unanswered and is resent once.
            name: "half-close after the response",
            steps: vec![
                Step::Read,
                Step::send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                Step::HalfClose,
            ],
            method: "GET",
            outcome: ok(200),
            connection: Closed,
            retries: REQUESTS - 1,
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn connection_refused_is_counted_and_leaks_nothing() {
    let _serial = serial();
    let before = open_descriptors();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let report = run(&config(&format!("http://127.0.0.1:{port}/"), 5));
    assert_accounting(&report);
    assert_eq!(failed(&report, "connect"), 5);
    assert_eq!(open_descriptors(), before);
}

/// The server answers, then ends the idle connection with `end` (a FIN, a reset, or a `408`
/// and a close, as some load balancers do) before the client's next request.
fn idle_ending_server(end: &[Step]) -> HostileServer {
    let mut steps = vec![
        Step::Read,
        Step::send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        Step::Sleep(Duration::from_millis(20)),
    ];
    steps.extend_from_slice(end);
    HostileServer::play(steps).unwrap()
}

fn paced(url: &str, method: &str) -> LoadConfig {
    // Ten requests a second on one connection: it idles 100 ms between requests.
    let mut config = config(url, 4);
    config.rate = Some(10.0);
    config.method = Some(method.into());
    config
}

#[test]
fn a_connection_the_server_ended_while_idle_is_replaced_without_failure_or_resend() {
    let _serial = serial();
    let timeout_408 = Step::send(
        b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
    for (name, end) in [
        ("FIN", vec![Step::Close]),
        ("RST", vec![Step::Reset]),
        ("408", vec![timeout_408, Step::Close]),
    ] {
        for method in ["GET", "POST"] {
            let before = open_descriptors();
            let server = idle_ending_server(&end);
            let report = run(&paced(&server.url("/"), method));
            assert_accounting(&report);
            // Requests 2..4 found their connection ended before they were written: each went
            // out once, on a new connection, and nothing counts as failed or resent.
            assert_eq!(report.outcomes.ok, 4, "{name} {method}: {report}");
            assert_eq!(report.outcomes.retries, 0, "{name} {method}: {report}");
            assert_eq!(server.requests(), 4, "{name} {method}");
            assert_eq!(server.connections(), 4, "{name} {method}");
            drop(server);
            assert_eq!(open_descriptors(), before);
        }
    }
}

/// The first connection answers once, then reads the next request and closes without an
/// answer: the close raced the send, which no check before the send can see.
fn closes_on_the_second_request(later: Vec<Step>) -> HostileServer {
    HostileServer::start(move |session| {
        if session.connection_index() == 0 {
            session.play(&[
                Step::Read,
                Step::send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                Step::Read,
                Step::Close,
            ]);
        } else {
            session.play(&later);
        }
    })
    .unwrap()
}

#[test]
fn a_close_that_races_the_send_resends_an_idempotent_request_once() {
    let _serial = serial();
    let server = closes_on_the_second_request(vec![
        Step::Read,
        Step::send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ]);
    let mut config = paced(&server.url("/"), "GET");
    config.requests = Some(2);
    let report = run(&config);
    assert_accounting(&report);
    assert_eq!(report.outcomes.ok, 2, "{report}");
    assert_eq!(report.outcomes.retries, 1, "{report}");
    assert_eq!(server.requests(), 3);
}

#[test]
fn a_reused_connection_that_sent_part_of_a_response_is_not_retried() {
    let _serial = serial();
    // The second response breaks off after its status line: the server did see the request.
    let server = HostileServer::play(vec![
        Step::Read,
        Step::send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        Step::Read,
        Step::send(b"HTTP/1.1 200 OK\r\n"),
        Step::Close,
    ])
    .unwrap();
    let mut config = paced(&server.url("/"), "GET");
    config.connections = Some(1);
    config.requests = Some(2);
    let report = run(&config);
    assert_accounting(&report);
    assert_eq!(report.outcomes.ok, 1, "{report}");
    assert_eq!(failed(&report, "read"), 1, "{report}");
    assert_eq!(report.outcomes.retries, 0, "{report}");
    assert_eq!(server.connections(), 1);
}

#[test]
fn a_close_that_races_the_send_never_resends_a_post() {
    let _serial = serial();
    let server = closes_on_the_second_request(vec![Step::Read, Step::Close]);
    let mut config = paced(&server.url("/"), "POST");
    config.requests = Some(2);
    let report = run(&config);
    assert_accounting(&report);
    assert_eq!(report.outcomes.ok, 1, "{report}");
    assert_eq!(report.outcomes.retries, 0, "{report}");
    assert_eq!(failed(&report, "closed"), 1, "{report}");
    assert_eq!(server.requests(), 2, "a POST is sent at most once");
    assert_eq!(server.connections(), 1);
}

#[test]
fn a_retry_happens_at_most_once() {
    let _serial = serial();
    // Every later connection is closed unanswered too.
    let server = closes_on_the_second_request(vec![Step::Read, Step::Close]);
    let mut config = paced(&server.url("/"), "GET");
    config.requests = Some(2);
    let report = run(&config);
    assert_accounting(&report);
    assert_eq!(report.outcomes.ok, 1);
    assert_eq!(report.outcomes.retries, 1, "{report}");
    // The retry went out on a new connection, which was not reused: no second retry.
    assert_eq!(failed(&report, "closed"), 1, "{report}");
    // The first connection read requests 1 and 2; the second read the retry and closed.
    assert_eq!(server.requests(), 3);
}

#[test]
fn a_large_post_answered_early_with_413() {
    let _serial = serial();
    let server = HostileServer::play(vec![
        Step::ReadHead,
        Step::send(
            b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        ),
        Step::HalfClose,
    ])
    .unwrap();
    let mut config = config(&server.url("/upload"), 2);
    config.method = Some("POST".into());
    config.body = vec![b'x'; 4 << 20];
    let report = run(&config);
    assert_accounting(&report);
    assert_eq!(report.outcomes.status.get(&413), Some(&2), "{report}");
    assert_eq!(server.connections(), 2);
}

#[test]
fn silent_and_trickling_servers_time_out() {
    let _serial = serial();
    for (name, steps) in [
        ("never answers", vec![Step::Read, Step::Hold]),
        (
            "a byte every 100 ms",
            vec![
                Step::Read,
                Step::Trickle(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
                    Duration::from_millis(100),
                ),
            ],
        ),
    ] {
        let before = open_descriptors();
        let server = HostileServer::play(steps).unwrap();
        let mut config = config(&server.url("/"), 2);
        config.timeout = Duration::from_millis(300);
        let started = Instant::now();
        let report = run(&config);
        assert_accounting(&report);
        assert_eq!(failed(&report, "timeout"), 2, "{name}: {report}");
        assert!(started.elapsed() < Duration::from_secs(2), "{name}");
        drop(server);
        assert_eq!(open_descriptors(), before, "{name}: descriptors leaked");
    }
}

#[test]
fn requests_in_flight_at_the_deadline_are_aborted_on_time() {
    let _serial = serial();
    let before = open_descriptors();
    let server = HostileServer::play(vec![Step::Read, Step::Hold]).unwrap();
    let mut config = LoadConfig::new(&server.url("/")).unwrap();
    config.connections = Some(4);
    config.threads = Some(2);
    config.duration = Some(Duration::from_millis(500));
    let started = Instant::now();
    let report = run(&config);
    assert_accounting(&report);
    assert_eq!(report.outcomes.aborted, 4, "{report}");
    assert!(started.elapsed() < Duration::from_millis(1500));
    drop(server);
    assert_eq!(open_descriptors(), before);
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[test]
fn the_server_stops_and_restarts_mid_run() {
    let _serial = serial();
    let first = ringload_target::Server::start(ringload_target::ServerConfig::default()).unwrap();
    let addr = first.addr();
    let mut config = LoadConfig::new(&format!("http://{addr}/")).unwrap();
    config.connections = Some(4);
    config.threads = Some(2);
    config.rate = Some(400.0);
    config.duration = Some(Duration::from_secs(3));
    config.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let load = std::thread::spawn(move || run(&config));

    std::thread::sleep(Duration::from_millis(800));
    let before_stop = first.requests();
    first.shutdown();
    std::thread::sleep(Duration::from_millis(100));
    let cpu_down = cpu_seconds();
    std::thread::sleep(Duration::from_millis(900));
    let cpu_used_while_down = cpu_seconds() - cpu_down;
    let second = ringload_target::Server::start(ringload_target::ServerConfig {
        addr,
        ..Default::default()
    })
    .expect("the port can be bound again");

    let report = load.join().unwrap();
    let elapsed = started.elapsed();
    assert_accounting(&report);
    assert!(before_stop > 200, "traffic before the stop: {before_stop}");
    assert!(
        second.requests() > 200,
        "traffic resumed: {}; {report}",
        second.requests()
    );
    assert!(failed(&report, "connect") > 0, "{report}");
    // Four connections backing off up to 50 ms each: about 80 attempts a second at most.
    assert!(failed(&report, "connect") < 200, "{report}");
    assert!(
        cpu_used_while_down < 0.3,
        "{cpu_used_while_down:.2} s of CPU in 0.9 s with the server down: spinning"
    );
    assert!(
        elapsed < Duration::from_millis(3800),
        "the run ends on time: {elapsed:?}"
    );
}

#[test]
fn a_stall_shows_in_corrected_latency_and_not_in_uncorrected() {
    let _serial = serial();
    // Two seconds in, the whole server pauses for two seconds, once.
    let started = Instant::now();
    let pause: std::sync::Arc<Mutex<Option<Instant>>> = Default::default();
    let server = HostileServer::start(move |session| loop {
        if !session.read_request() {
            return;
        }
        let resume = {
            let mut pause = pause.lock().unwrap();
            if pause.is_none() && started.elapsed() > Duration::from_millis(1000) {
                *pause = Some(Instant::now() + Duration::from_secs(2));
            }
            *pause
        };
        if let Some(resume) = resume {
            session.sleep(resume.saturating_duration_since(Instant::now()));
        }
        session.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    })
    .unwrap();
    let mut config = LoadConfig::new(&server.url("/")).unwrap();
    config.connections = Some(2);
    config.threads = Some(1);
    config.rate = Some(200.0);
    config.duration = Some(Duration::from_secs(4));
    config.timeout = Duration::from_secs(5);
    let report = run(&config);
    assert_accounting(&report);
    let corrected = &report.outcomes.latency_us;
    let uncorrected = report
        .outcomes
        .latency_uncorrected_us
        .as_ref()
        .expect("open model");
    // About half the requests were due during the stall: corrected p99 sees it.
    assert!(corrected.p99.unwrap() > 1_000_000, "{report}");
    assert!(corrected.max.unwrap() > 1_900_000, "{report}");
    // Only the two requests on the wire waited from their send: p99 does not, max does.
    assert!(uncorrected.p99.unwrap() < 100_000, "{report}");
    assert!(uncorrected.max.unwrap() > 1_500_000, "{report}");
}

#[test]
fn counts_per_outcome_equal_the_servers_under_chaos() {
    let _serial = serial();
    const ACTIONS: [&str; 6] = [
        "200",
        "500",
        "reset",
        "stall",
        "malformed",
        "close-delimited",
    ];
    let draws = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0x5eed));
    let server = HostileServer::start(move |session| loop {
        if !session.read_request() {
            return;
        }
        // A shared SplitMix-style sequence: every request draws the next action.
        let draw = draws.fetch_add(0x9E37_79B9_7F4A_7C15, std::sync::atomic::Ordering::SeqCst);
        let mixed = (draw ^ (draw >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let action = ACTIONS[((mixed >> 32) % ACTIONS.len() as u64) as usize];
        session.log(action);
        match action {
            "200" => session.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            "500" => session.send(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"),
            "reset" => return session.reset(),
            "stall" => return session.hold(),
            "malformed" => {
                session.send(b"HTTP/1.1 OK 200\r\n\r\n");
                return session.hold();
            }
            _ => {
                session.send(b"HTTP/1.1 200 OK\r\n\r\nuntil the close");
                return session.close();
            }
        }
    })
    .unwrap();
    let mut config = LoadConfig::new(&server.url("/")).unwrap();
    config.connections = Some(16);
    config.threads = Some(2);
    config.rate = Some(400.0);
    config.requests = Some(600);
    config.timeout = Duration::from_millis(300);
    let report = run(&config);
    assert_accounting(&report);
    let log = server.log();
    let did = |what: &str| log.iter().filter(|a| **a == what).count() as u64;
    let o = &report.outcomes;
    let status = |code: u16| o.status.get(&code).copied().unwrap_or(0);
    assert_eq!(o.requests, 600);
    assert_eq!(o.aborted, 0);
    // Every request the server read is one the client sent, or a resend of one it reset.
    assert_eq!(log.len() as u64, o.requests + o.retries, "{report}");
    assert_eq!(status(200), did("200") + did("close-delimited"), "{report}");
    assert_eq!(status(500), did("500"), "{report}");
    assert_eq!(failed(&report, "parse"), did("malformed"), "{report}");
    assert_eq!(failed(&report, "timeout"), did("stall"), "{report}");
    assert_eq!(
        failed(&report, "read") + failed(&report, "closed") + o.retries,
        did("reset"),
        "{report}"
    );
    assert!(
        ACTIONS.iter().all(|a| did(a) > 20),
        "every action happened: {log:?}"
    );
}
