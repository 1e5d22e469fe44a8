//! Plain-HTTP behaviour of the target server, driven with raw bytes.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::connect;
use ringload_target::{Server, ServerConfig};

fn start() -> Server {
    Server::start(ServerConfig::default()).expect("server starts")
}

#[test]
fn default_config_is_loopback_with_any_port() {
    let config = ServerConfig::default();
    assert!(config.addr.ip().is_loopback());
    assert_eq!(config.addr.port(), 0);
    assert!(config.tls.is_none());
    let server = start();
    assert!(server.addr().ip().is_loopback());
    assert_ne!(server.addr().port(), 0);
}

#[test]
fn root_says_hello() {
    let server = start();
    let mut client = connect(server.addr());
    let resp = client.get("/");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.reason, "OK");
    assert_eq!(resp.header("content-type"), Some("text/plain"));
    assert_eq!(resp.header("server"), Some("ringload-target"));
    assert_eq!(resp.header("content-length"), Some("20"));
    assert_eq!(resp.header("date"), None);
    assert_eq!(resp.header("connection"), None);
    assert_eq!(resp.text(), "hello from ringload\n");
}

#[test]
fn bytes_route() {
    let server = start();
    let mut client = connect(server.addr());
    for len in [0, 1, 10, 200_000] {
        let resp = client.get(&format!("/bytes/{len}"));
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.header("content-length"),
            Some(len.to_string().as_str())
        );
        assert_eq!(resp.body.len(), len);
        assert!(resp.body.iter().all(|&b| b == b'x'));
    }
    for bad in ["/bytes/100000001", "/bytes/abc", "/bytes/-1", "/bytes/"] {
        let resp = client.get(bad);
        assert_eq!(resp.status, 400, "{bad}");
    }
    // A bad parameter is not a malformed request: the connection stays usable.
    assert_eq!(client.get("/bytes/3").body, b"xxx");
    assert_eq!(server.connections(), 1);
}

#[test]
fn chunked_route() {
    let server = start();
    let mut client = connect(server.addr());
    let resp = client.get("/chunked/10000");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    assert_eq!(resp.header("content-length"), None);
    assert_eq!(resp.body.len(), 10_000);
    assert!(resp.body.iter().all(|&b| b == b'x'));
    assert_eq!(resp.chunk_sizes, [4096, 4096, 1808]);

    let empty = client.get("/chunked/0");
    assert_eq!(empty.header("transfer-encoding"), Some("chunked"));
    assert!(empty.body.is_empty());
    assert!(empty.chunk_sizes.is_empty());

    assert_eq!(client.get("/chunked/x").status, 400);
}

#[test]
fn delay_route_sleeps_and_counts_before_sleeping() {
    let server = start();
    let addr = server.addr();
    let started = Instant::now();
    let sleeper = thread::spawn(move || connect(addr).get("/delay/300"));
    // Counted as soon as the request is complete, while the handler sleeps.
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.path_count("/delay/300") == 0 {
        assert!(Instant::now() < deadline, "delay request never counted");
        thread::sleep(Duration::from_millis(5));
    }
    assert!(started.elapsed() < Duration::from_millis(300));
    let resp = sleeper.join().expect("client thread");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "ok\n");

    let mut client = connect(addr);
    assert_eq!(client.get("/delay/60001").status, 400);
    assert_eq!(client.get("/delay/0").text(), "ok\n");
}

#[test]
fn status_route() {
    let server = start();
    let mut client = connect(server.addr());
    for (code, reason) in [
        (200, "OK"),
        (201, "Created"),
        (404, "Not Found"),
        (418, "I'm a teapot"),
        (503, "Service Unavailable"),
        (299, "Unknown"),
        (599, "Unknown"),
    ] {
        let resp = client.get(&format!("/status/{code}"));
        assert_eq!(resp.status, code);
        assert_eq!(resp.reason, reason);
        assert_eq!(resp.header("content-length"), Some("0"));
        assert!(resp.body.is_empty());
    }
    for code in [204, 304] {
        let resp = client.get(&format!("/status/{code}"));
        assert_eq!(resp.status, code);
        assert_eq!(resp.header("content-length"), None);
        assert_eq!(resp.header("transfer-encoding"), None);
    }
    for bad in ["/status/199", "/status/600", "/status/100", "/status/abc"] {
        assert_eq!(client.get(bad).status, 400, "{bad}");
    }
    // Still in sync after the bodiless responses.
    assert_eq!(client.get("/").text(), "hello from ringload\n");
}

#[test]
fn close_route_closes() {
    let server = start();
    let mut client = connect(server.addr());
    let resp = client.get("/close");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("connection"), Some("close"));
    assert_eq!(resp.text(), "bye\n");
    client.assert_closed();
}

#[test]
fn echo_with_content_length() {
    let server = start();
    let mut client = connect(server.addr());
    client.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
          Content-Length: 13\r\n\r\n{\"hello\": 1}\n",
    );
    let resp = client.read_response();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.body, b"{\"hello\": 1}\n");

    // No Content-Type: the default; no body: empty echo.
    client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    let resp = client.read_response();
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(resp.header("content-length"), Some("0"));

    // A body larger than the server's read buffer.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    client.send(
        format!(
            "PUT /echo HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            big.len()
        )
        .as_bytes(),
    );
    client.send(&big);
    assert_eq!(client.read_response().body, big);
}

#[test]
fn echo_with_chunked_request_body() {
    let server = start();
    let mut client = connect(server.addr());
    client.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Type: text/x-test\r\n\r\n\
          5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n",
    );
    let resp = client.read_response();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/x-test"));
    assert_eq!(resp.text(), "hello, world");
    // The trailer was consumed, so the connection is still in sync.
    assert_eq!(client.get("/").status, 200);
    assert_eq!(server.requests(), 2);
}

#[test]
fn chunked_request_body_to_other_routes_is_discarded() {
    let server = start();
    let mut client = connect(server.addr());
    // Sent in pieces to exercise reads in the middle of the chunked body.
    client.send(b"POST /status/201 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab");
    thread::sleep(Duration::from_millis(20));
    client.send(b"cd\r\n0\r\n");
    thread::sleep(Duration::from_millis(20));
    client.send(b"\r\n");
    assert_eq!(client.read_response().status, 201);
    assert_eq!(client.get("/").status, 200);
}

#[test]
fn headers_route_lists_request_headers() {
    let server = start();
    let mut client = connect(server.addr());
    client.send(b"GET /headers?x=1 HTTP/1.1\r\nHost: example\r\nX-Custom-Thing:  spaced value\r\nuser-agent: ringload\r\n\r\n");
    let resp = client.read_response();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/plain"));
    assert_eq!(
        resp.text(),
        "Host: example\nX-Custom-Thing: spaced value\nuser-agent: ringload\n"
    );
}

#[test]
fn unknown_path_is_404() {
    let server = start();
    let mut client = connect(server.addr());
    let resp = client.get("/no/such/thing");
    assert_eq!(resp.status, 404);
    assert_eq!(resp.text(), "not found\n");
    assert_eq!(server.path_count("/no/such/thing"), 1);
}

#[test]
fn head_has_get_headers_and_no_body() {
    let server = start();
    let mut client = connect(server.addr());
    client.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    let resp = client.read_head_response();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-length"), Some("20"));
    assert_eq!(resp.header("content-type"), Some("text/plain"));

    client.send(b"HEAD /bytes/1000000 HTTP/1.1\r\n\r\n");
    assert_eq!(
        client.read_head_response().header("content-length"),
        Some("1000000")
    );

    client.send(b"HEAD /chunked/100 HTTP/1.1\r\n\r\n");
    assert_eq!(
        client.read_head_response().header("transfer-encoding"),
        Some("chunked")
    );

    // Had any body been sent, this response would not parse.
    assert_eq!(client.get("/").text(), "hello from ringload\n");
    assert_eq!(server.requests(), 4);
}

#[test]
fn keep_alive_reuses_the_connection() {
    let server = start();
    let mut client = connect(server.addr());
    assert_eq!(client.get("/").status, 200);
    assert_eq!(client.get("/bytes/5").body, b"xxxxx");
    assert_eq!(server.connections(), 1);
    assert_eq!(server.requests(), 2);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = start();
    let mut client = connect(server.addr());
    client.send(
        b"GET /delay/50 HTTP/1.1\r\n\r\n\
          GET /bytes/2 HTTP/1.1\r\n\r\n\
          POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nthird",
    );
    assert_eq!(client.read_response().text(), "ok\n");
    assert_eq!(client.read_response().text(), "xx");
    assert_eq!(client.read_response().text(), "third");
    assert_eq!(server.requests(), 3);
    assert_eq!(server.connections(), 1);
}

#[test]
fn many_pipelined_requests() {
    let server = start();
    let mut client = connect(server.addr());
    let batch: Vec<u8> = (0..200)
        .flat_map(|i| format!("GET /bytes/{i} HTTP/1.1\r\n\r\n").into_bytes())
        .collect();
    client.send(&batch);
    for i in 0..200 {
        assert_eq!(client.read_response().body.len(), i);
    }
    assert_eq!(server.requests(), 200);
}

#[test]
fn client_connection_close_is_honoured() {
    let server = start();
    let mut client = connect(server.addr());
    client.send(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    let resp = client.read_response();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("connection"), Some("close"));
    client.assert_closed();
    assert_eq!(server.requests(), 1);
}

#[test]
fn http10_closes_unless_keep_alive() {
    let server = start();
    let mut client = connect(server.addr());
    client.send(b"GET / HTTP/1.0\r\n\r\n");
    let resp = client.read_response();
    assert_eq!(resp.header("connection"), Some("close"));
    client.assert_closed();

    let mut client = connect(server.addr());
    client.send(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert_eq!(
        client.read_response().header("connection"),
        Some("keep-alive")
    );
    // HTTP/1.0 cannot decode chunked, so /chunked falls back to Content-Length.
    client.send(b"GET /chunked/10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let resp = client.read_response();
    assert_eq!(resp.header("transfer-encoding"), None);
    assert_eq!(resp.header("content-length"), Some("10"));
    assert_eq!(server.connections(), 2);
}

#[test]
fn malformed_request_gets_400_and_close() {
    let server = start();
    for garbage in [
        &b"this is not http\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
    ] {
        let mut client = connect(server.addr());
        client.send(garbage);
        let resp = client.read_response();
        assert_eq!(resp.status, 400, "{}", String::from_utf8_lossy(garbage));
        assert_eq!(resp.header("connection"), Some("close"));
        assert_eq!(resp.header("content-length"), Some("0"));
        client.assert_closed();
    }
    assert_eq!(server.requests(), 0, "rejected requests are not counted");
}

#[test]
fn oversized_head_gets_431() {
    let server = start();
    let mut client = connect(server.addr());
    let mut request = b"GET / HTTP/1.1\r\n".to_vec();
    while request.len() <= 70 * 1024 {
        request.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    client.send(&request);
    let resp = client.read_response();
    assert_eq!(resp.status, 431);
    assert_eq!(resp.header("connection"), Some("close"));
    client.assert_closed();

    // Too many headers is the same complaint.
    let mut client = connect(server.addr());
    let mut request = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..65 {
        request.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    client.send(&request);
    assert_eq!(client.read_response().status, 431);
}

#[test]
fn oversized_body_gets_413() {
    let server = start();
    let mut client = connect(server.addr());
    client.send(b"POST /echo HTTP/1.1\r\nContent-Length: 67108865\r\n\r\nsome of it");
    let resp = client.read_response();
    assert_eq!(resp.status, 413);
    assert_eq!(resp.reason, "Content Too Large");
    assert_eq!(resp.header("connection"), Some("close"));
    client.assert_closed();

    // Chunked bodies are bounded by their running total.
    let mut client = connect(server.addr());
    client.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4000001\r\n");
    assert_eq!(client.read_response().status, 413);

    // Exactly at the limit is fine (and the body is discarded, not kept).
    let mut client = connect(server.addr());
    client.send(b"POST /status/202 HTTP/1.1\r\nContent-Length: 67108864\r\n\r\n");
    let block = vec![b'b'; 1024 * 1024];
    for _ in 0..64 {
        client.send(&block);
    }
    assert_eq!(client.read_response().status, 202);
}

#[test]
fn expect_continue_gets_100_first() {
    let server = start();
    let mut client = connect(server.addr());
    client.send(b"POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    let interim = client.read_response();
    assert_eq!(interim.status, 100);
    client.send(b"data");
    let resp = client.read_response();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"data");
}

#[test]
fn counters_and_path_counts() {
    let server = start();
    let mut first = connect(server.addr());
    let mut second = connect(server.addr());
    first.get("/");
    first.get("/?a=1");
    second.get("/bytes/1");
    second.get("/bytes/1?again");
    second.get("/missing");
    // Absolute-form targets count under their path.
    second.send(b"GET http://localhost:1234/bytes/1?x HTTP/1.1\r\n\r\n");
    second.read_response();

    assert_eq!(server.connections(), 2);
    assert_eq!(server.requests(), 6);
    assert_eq!(server.path_count("/"), 2);
    assert_eq!(server.path_count("/bytes/1"), 3);
    assert_eq!(server.path_count("/missing"), 1);
    assert_eq!(server.path_count("/never"), 0);
}

#[test]
fn client_disconnecting_mid_request_is_harmless() {
    let server = start();
    {
        let mut client = connect(server.addr());
        client.send(b"GET / HTTP/1.1\r\n");
        // Dropped mid-head.
    }
    let mut client = connect(server.addr());
    assert_eq!(client.get("/").status, 200);
}

#[test]
fn shutdown_does_not_hang_on_open_connections() {
    let server = start();
    // One idle connection that never sent anything, one mid-request, one
    // asleep in a long delay, one kept alive after a response.
    let mut idle = connect(server.addr());
    let mut partial = connect(server.addr());
    partial.send(b"GET / HTTP/1.1\r\nHost:");
    let mut sleeping = connect(server.addr());
    sleeping.send(b"GET /delay/60000 HTTP/1.1\r\n\r\n");
    let mut kept = connect(server.addr());
    assert_eq!(kept.get("/").status, 200);
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.path_count("/delay/60000") == 0 || server.connections() < 4 {
        assert!(Instant::now() < deadline, "requests never arrived");
        thread::sleep(Duration::from_millis(5));
    }

    let started = Instant::now();
    server.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "shutdown took {:?}",
        started.elapsed()
    );

    for client in [&mut idle, &mut partial, &mut sleeping, &mut kept] {
        client.assert_closed();
    }
}

#[test]
fn shutdown_stops_accepting() {
    let server = start();
    let addr = server.addr();
    server.shutdown();
    // The listener is gone: connecting fails or the connection is dropped unserved.
    if let Ok(mut stream) = TcpStream::connect(addr) {
        let _ = stream.write_all(b"GET / HTTP/1.1\r\n\r\n");
        let mut client = common::Client::new(stream);
        client
            .stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        client.assert_closed();
    }
}

#[test]
fn drop_shuts_down_too() {
    let server = start();
    let mut client = connect(server.addr());
    assert_eq!(client.get("/").status, 200);
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(1));
    client.assert_closed();
}
