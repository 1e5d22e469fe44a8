//! The engine's HTTP/2 against another implementation's server: the `h2` crate's, started here
//! on 127.0.0.1 with a limit of 4 concurrent streams per connection. Every request is answered
//! and counted once on both sides; bodies beyond the default windows go both ways; trailers and
//! header blocks larger than a frame (CONTINUATION) are read; and the server's stream limit is
//! honoured (the `h2` server refuses streams beyond it, which would show as retries).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use ringload_engine::{Http2Options, LoadConfig, Report};

const SERVER_STREAMS: u32 = 4;
const BIG_BODY: usize = 300 * 1024;

/// What the server saw: requests answered, and request body bytes read.
#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    body_bytes: AtomicU64,
}

fn start_server() -> (SocketAddr, Arc<Counts>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(Counts::default());
    let seen = counts.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                tokio::task::spawn_local(serve(socket, seen.clone()));
            }
        });
    });
    (addr, counts)
}

async fn serve(socket: tokio::net::TcpStream, counts: Arc<Counts>) {
    let handshake = h2::server::Builder::new()
        .max_concurrent_streams(SERVER_STREAMS)
        .handshake::<_, Bytes>(socket)
        .await;
    let Ok(mut connection) = handshake else {
        return;
    };
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        let counts = counts.clone();
        tokio::task::spawn_local(async move {
            let path = request.uri().path().to_string();
            let mut body = request.into_body();
            while let Some(Ok(chunk)) = body.data().await {
                counts
                    .body_bytes
                    .fetch_add(chunk.len() as u64, Ordering::SeqCst);
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            let mut response = Response::builder().status(StatusCode::OK);
            let (payload, trailers) = match path.as_str() {
                "/trailers" => {
                    let mut trailers = HeaderMap::new();
                    trailers.insert("grpc-status", "0".parse().unwrap());
                    (b"abc".to_vec(), Some(trailers))
                }
                "/big-headers" => {
                    for i in 0..6 {
                        response = response.header(format!("x-big-{i}"), "v".repeat(5000));
                    }
                    (b"small".to_vec(), None)
                }
                "/big-body" => ((0..BIG_BODY).map(|i| (i % 251) as u8).collect(), None),
                _ => (b"hello".to_vec(), None),
            };
            counts.requests.fetch_add(1, Ordering::SeqCst);
            let Ok(mut send) = respond.send_response(response.body(()).unwrap(), false) else {
                return;
            };
            send.reserve_capacity(payload.len());
            let mut rest = Bytes::from(payload);
            while !rest.is_empty() {
                let capacity = std::future::poll_fn(|cx| send.poll_capacity(cx)).await;
                let Some(Ok(capacity)) = capacity else {
                    return;
                };
                let chunk = rest.split_to(capacity.min(rest.len()));
                let last = rest.is_empty() && trailers.is_none();
                if send.send_data(chunk, last).is_err() {
                    return;
                }
            }
            if let Some(trailers) = trailers {
                let _ = send.send_trailers(trailers);
            }
        });
    }
}

const REQUESTS: u64 = 400;

/// `REQUESTS` requests to `path` over 2 connections of 8 streams each: more than the server's 4.
fn run(addr: SocketAddr, path: &str, adjust: impl FnOnce(&mut LoadConfig)) -> Report {
    let mut config = LoadConfig::new(&format!("http://{addr}{path}")).unwrap();
    config.connections = Some(2);
    config.threads = Some(1);
    config.requests = Some(REQUESTS);
    config.timeout = Duration::from_secs(5);
    config.http2 = Some(Http2Options {
        streams: 8,
        ..Http2Options::default()
    });
    adjust(&mut config);
    let plan = config.plan().expect("a valid configuration");
    ringload_engine::run(&plan, |_| {}, |_| {}).expect("the run happens")
}

fn assert_all_answered(report: &Report, what: &str) {
    let o = &report.outcomes;
    assert_eq!(report.protocol, "h2", "{what}");
    assert_eq!(o.requests, REQUESTS, "{what}: {report}");
    assert_eq!(
        o.ok, REQUESTS,
        "{what}: {report} {:?} {:?}",
        o.failed, report.error_examples
    );
    // The server's limit of 4 streams was honoured: nothing was refused and sent again.
    assert_eq!(o.retries, 0, "{what}: {report}");
    assert_eq!(o.status.get(&200), Some(&REQUESTS), "{what}: {report}");
}

#[test]
fn every_request_is_answered_and_counted_once_against_the_h2_crates_server() {
    let (addr, counts) = start_server();
    let cases = [
        ("/plain", 5),
        ("/trailers", 3),
        ("/big-headers", 5),
        ("/big-body", BIG_BODY as u64),
    ];
    let mut served = 0;
    for (path, body_len) in cases {
        let report = run(addr, path, |_| {});
        assert_all_answered(&report, path);
        assert_eq!(report.outcomes.body_bytes, REQUESTS * body_len, "{path}");
        served += REQUESTS;
        assert_eq!(counts.requests.load(Ordering::SeqCst), served, "{path}");
    }
}

#[test]
fn request_bodies_beyond_the_default_window_reach_the_h2_crates_server() {
    let (addr, counts) = start_server();
    // 100 KiB each: more than the 65,535-byte window the server opens streams with, so each
    // waits for the server's WINDOW_UPDATEs.
    let body = vec![b'x'; 100 * 1024];
    let report = run(addr, "/upload", |config| {
        config.method = Some("POST".into());
        config.body = body.clone();
    });
    assert_all_answered(&report, "POST /upload");
    assert_eq!(counts.requests.load(Ordering::SeqCst), REQUESTS);
    assert_eq!(
        counts.body_bytes.load(Ordering::SeqCst),
        REQUESTS * body.len() as u64
    );
}
