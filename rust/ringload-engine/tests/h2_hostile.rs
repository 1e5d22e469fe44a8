//! HTTP/2 against a hostile server: malformed and oversized frames, window overflows, header
//! blocks left open, CONTINUATION, SETTINGS and PING floods, streams reset or refused, GOAWAY
//! mid-run, a stalled window and a close mid-stream. Each case ends every request in the kind
//! it names, never a hang or a panic, with `requests = ok + failed + aborted` and no descriptor
//! left open. The engine runs in this process, one case at a time, so descriptors can be
//! counted.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ringload_engine::{Http2Options, LoadConfig, Report};
use ringload_h2::frame::{flag, kind, setting};
use ringload_target::hostile::{h2, HostileServer, Session};

static SERIAL: Mutex<()> = Mutex::new(());

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

const REQUESTS: u64 = 3;

/// `REQUESTS` requests, one at a time on one connection, over h2c.
fn config(url: &str) -> LoadConfig {
    let mut config = LoadConfig::new(url).unwrap();
    config.connections = Some(1);
    config.threads = Some(1);
    config.requests = Some(REQUESTS);
    config.timeout = Duration::from_secs(2);
    config.http2 = Some(Http2Options::default());
    config
}

fn run(config: &LoadConfig) -> Report {
    let plan = config.plan().expect("a valid configuration");
    ringload_engine::run(&plan, |_| {}, |_| {}).expect("the run happens")
}

/// What the hostile server does on each connection.
type Script = fn(&mut Session);

struct Case {
    name: &'static str,
    script: Script,
    /// The kind every request fails with, or `None` for responses.
    failed: Option<&'static str>,
    retries: u64,
    /// Connections the server saw.
    connections: u64,
}

fn check(case: &Case) -> Report {
    check_with(case, |_| {})
}

fn check_with(case: &Case, adjust: impl Fn(&mut LoadConfig)) -> Report {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = open_descriptors();
    let server = HostileServer::start(case.script).unwrap();
    let mut config = config(&server.url("/"));
    adjust(&mut config);
    let started = Instant::now();
    let report = run(&config);
    let o = &report.outcomes;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{}: took {:?}",
        case.name,
        started.elapsed()
    );
    assert_eq!(o.requests, REQUESTS, "{}: {report}", case.name);
    assert_eq!(
        o.requests,
        o.ok + o.failed_total() + o.aborted,
        "{}: {report}",
        case.name
    );
    assert_eq!(report.protocol, "h2", "{}", case.name);
    match case.failed {
        Some(kind) => {
            assert_eq!(o.failed[kind], REQUESTS, "{}: {report}", case.name);
            assert!(
                report.error_examples.contains_key(kind),
                "{}: an example message for {kind}",
                case.name
            );
        }
        None => assert_eq!(o.ok, REQUESTS, "{}: {report}", case.name),
    }
    assert_eq!(o.retries, case.retries, "{}: retries; {report}", case.name);
    assert_eq!(
        server.connections(),
        case.connections,
        "{}: connections; {report}",
        case.name
    );
    drop(server);
    assert_eq!(
        open_descriptors(),
        before,
        "{}: file descriptors leaked",
        case.name
    );
    report
}

/// Answers every request with 200 and a body.
fn good(session: &mut Session) {
    session.send(&h2::settings(&[]));
    while let Some(stream) = session.read_h2_request() {
        session.send(&h2::response(stream, 200, b"hello"));
    }
}

/// Reads one request, sends `bytes` after the server's SETTINGS, then holds the connection.
fn after_first_request(session: &mut Session, bytes: &[u8]) {
    session.send(&h2::settings(&[]));
    if session.read_h2_request().is_some() {
        session.send(bytes);
        session.hold();
    }
}

#[test]
fn a_well_behaved_server_answers_every_request_on_one_connection() {
    let report = check(&Case {
        name: "good",
        script: good,
        failed: None,
        retries: 0,
        connections: 1,
    });
    assert_eq!(report.outcomes.body_bytes, 5 * REQUESTS);
}

#[test]
fn protocol_violations_fail_their_connection_as_protocol() {
    let cases: [(&'static str, Script); 8] = [
        ("a PING of 4 bytes", |s| {
            after_first_request(s, &h2::frame(kind::PING, 0, 0, &[0; 4]))
        }),
        ("a frame over SETTINGS_MAX_FRAME_SIZE", |s| {
            after_first_request(s, &h2::frame(kind::DATA, 0, 1, &vec![0; 16_385]))
        }),
        ("a window update beyond 2^31-1", |s| {
            after_first_request(
                s,
                &h2::frame(kind::WINDOW_UPDATE, 0, 0, &0x7fff_ffffu32.to_be_bytes()),
            )
        }),
        ("HEADERS without END_HEADERS, then a PING", |s| {
            let mut bytes = h2::frame(kind::HEADERS, 0, 1, &[0x88]);
            bytes.extend(h2::frame(kind::PING, 0, 0, &[0; 8]));
            after_first_request(s, &bytes)
        }),
        ("a CONTINUATION flood", |s| {
            let mut bytes = h2::frame(kind::HEADERS, 0, 1, &[0x88]);
            for _ in 0..300 {
                bytes.extend(h2::frame(kind::CONTINUATION, 0, 1, &[]));
            }
            after_first_request(s, &bytes)
        }),
        ("a SETTINGS flood", |s| {
            let mut bytes = Vec::new();
            for _ in 0..10_001 {
                bytes.extend(h2::settings(&[]));
            }
            after_first_request(s, &bytes)
        }),
        ("a PING flood", |s| {
            let mut bytes = Vec::new();
            for _ in 0..10_001 {
                bytes.extend(h2::frame(kind::PING, 0, 0, &[0; 8]));
            }
            after_first_request(s, &bytes)
        }),
        ("an HPACK block that indexes nothing", |s| {
            after_first_request(s, &h2::frame(kind::HEADERS, flag::END_HEADERS, 1, &[0x80]))
        }),
    ];
    for (name, script) in cases {
        // Each request fails with its connection; the next one opens a new connection.
        check(&Case {
            name,
            script,
            failed: Some("protocol"),
            retries: 0,
            connections: REQUESTS,
        });
    }
}

/// The GOAWAYs the client sent the hostile server: (last stream, code).
static GOAWAYS: Mutex<Vec<(u32, u32)>> = Mutex::new(Vec::new());

#[test]
fn a_connection_that_fails_tells_the_server_why_in_a_goaway() {
    GOAWAYS.lock().unwrap().clear();
    check(&Case {
        name: "a PING of 4 bytes, then the client's GOAWAY",
        script: |s| {
            s.send(&h2::settings(&[]));
            if s.read_h2_request().is_some() {
                s.send(&h2::frame(kind::PING, 0, 0, &[0; 4]));
                if let Some(goaway) = s.read_h2_goaway() {
                    GOAWAYS.lock().unwrap().push(goaway);
                }
            }
        },
        failed: Some("protocol"),
        retries: 0,
        connections: REQUESTS,
    });
    // The server's threads may still be reading the last one.
    let deadline = Instant::now() + Duration::from_secs(2);
    while GOAWAYS.lock().unwrap().len() < REQUESTS as usize && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Last stream 0: the client acted on no stream the server opened. FRAME_SIZE_ERROR (0x6).
    assert_eq!(*GOAWAYS.lock().unwrap(), vec![(0, 0x6); REQUESTS as usize]);
}

#[test]
fn streams_reset_by_the_server_fail_as_reset_and_the_connection_goes_on() {
    check(&Case {
        name: "RST_STREAM(INTERNAL_ERROR) on every stream",
        script: |s| {
            s.send(&h2::settings(&[]));
            while let Some(stream) = s.read_h2_request() {
                s.send(&h2::rst_stream(stream, 2));
            }
        },
        failed: Some("reset"),
        retries: 0,
        connections: 1,
    });
}

#[test]
fn refused_streams_go_out_once_more_then_fail_as_refused() {
    check(&Case {
        name: "RST_STREAM(REFUSED_STREAM) on every stream",
        script: |s| {
            s.send(&h2::settings(&[]));
            while let Some(stream) = s.read_h2_request() {
                s.send(&h2::rst_stream(stream, 7));
            }
        },
        failed: Some("refused"),
        retries: REQUESTS,
        connections: 1,
    });
}

#[test]
fn goaway_mid_run_sends_the_unprocessed_stream_again_on_a_new_connection() {
    check(&Case {
        name: "GOAWAY after two responses",
        script: |s| {
            s.send(&h2::settings(&[]));
            let mut answered = 0;
            while let Some(stream) = s.read_h2_request() {
                if s.connection_index() == 0 && answered == 2 {
                    // The third request is above the last stream processed.
                    s.send(&h2::goaway(stream - 2, 0));
                    s.close();
                    return;
                }
                s.send(&h2::response(stream, 200, b"ok"));
                answered += 1;
            }
        },
        failed: None,
        retries: 1,
        connections: 2,
    });
}

#[test]
fn goaway_below_a_stream_in_flight_then_a_close_fails_it_as_goaway() {
    check(&Case {
        name: "GOAWAY(PROTOCOL_ERROR) naming the stream, then close",
        script: |s| {
            s.send(&h2::settings(&[]));
            if let Some(stream) = s.read_h2_request() {
                s.send(&h2::goaway(stream, 1));
                s.close();
            }
        },
        failed: Some("goaway"),
        retries: 0,
        connections: REQUESTS,
    });
}

#[test]
fn a_close_mid_stream_fails_the_stream_as_closed() {
    check(&Case {
        name: "head and part of the body, then close",
        script: |s| {
            s.send(&h2::settings(&[]));
            if let Some(stream) = s.read_h2_request() {
                s.send(&h2::head(stream, 200, false));
                s.send(&h2::frame(kind::DATA, 0, stream, b"part"));
                s.close();
            }
        },
        failed: Some("closed"),
        retries: 0,
        connections: REQUESTS,
    });
}

#[test]
fn a_stalled_window_ends_in_timeouts_not_a_hang() {
    // A window of zero: the request body can never be sent.
    let report = check_with(
        &Case {
            name: "INITIAL_WINDOW_SIZE 0 and no WINDOW_UPDATE",
            script: |s| {
                s.send(&h2::settings(&[(setting::INITIAL_WINDOW_SIZE, 0)]));
                let _ = s.read_h2_request();
                s.hold();
            },
            failed: Some("timeout"),
            retries: 0,
            connections: 1,
        },
        |config| {
            config.body = b"a body that cannot go out".to_vec();
            config.timeout = Duration::from_millis(300);
        },
    );
    assert_eq!(report.method, "POST");
}

#[test]
fn a_server_that_stops_reading_fails_its_connection_in_time_not_a_hang() {
    // After the first request the server never reads again. It keeps the client busy
    // acknowledging PINGs (a byte of the response now and then, so they are no flood) until the
    // acknowledgements fill the socket, while the client waits for its next request's due time.
    let report = check_with(
        &Case {
            name: "a server that stops reading",
            script: |s| {
                s.send(&h2::settings(&[]));
                if let Some(stream) = s.read_h2_request() {
                    s.send(&h2::head(stream, 200, false));
                    let mut burst = Vec::new();
                    for _ in 0..1_000 {
                        burst.extend(h2::frame(kind::PING, 0, 0, &[0; 8]));
                    }
                    burst.extend(h2::frame(kind::DATA, 0, stream, b"x"));
                    s.send_without_reading(&burst);
                }
            },
            failed: Some("timeout"),
            retries: 0,
            connections: REQUESTS,
        },
        |config| {
            // A request due every 50 ms: the writer waits for due times between them.
            config.rate = Some(20.0);
            config.timeout = Duration::from_millis(500);
            // A connection wedged by the server would hold the rest of the requests until
            // the run's end: they would then be missing from the counts, not a hung test.
            config.duration = Some(Duration::from_secs(5));
        },
    );
    // The client stops reading while it owes too many acknowledgements, so the server is held
    // back by TCP: without that it reads gigabytes of PINGs in those seconds and queues the
    // acknowledgements in memory.
    assert!(
        report.bytes_read < 64 << 20,
        "read {} bytes: {report}",
        report.bytes_read
    );
}
