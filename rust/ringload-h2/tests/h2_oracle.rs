//! Differential test against the `h2` crate: one `h2` server, two clients (this codec over a
//! blocking socket, and `h2`'s own client). Both must see the same status, header fields, body
//! and trailers for every response: plain, with trailers, with a header block larger than a
//! frame (CONTINUATION), with a body larger than the default windows (WINDOW_UPDATE), and many
//! streams at once.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use ringload_h2::{ClientConnection, Config, Handler, RequestHead, Section, StreamEnd};

/// What a client saw of one response.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Seen {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    trailers: Vec<(String, String)>,
}

const PATHS: [&str; 5] = [
    "/plain",
    "/trailers",
    "/big-headers",
    "/big-body",
    "/missing",
];

/// The `h2` server: answers each path on every connection until the client leaves.
fn start_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async move {
                    loop {
                        let (socket, _) = listener.accept().await.unwrap();
                        tokio::task::spawn_local(serve(socket));
                    }
                })
                .await;
        });
    });
    addr
}

async fn serve(socket: tokio::net::TcpStream) {
    let Ok(mut connection) = h2::server::handshake(socket).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        tokio::task::spawn_local(async move {
            let path = request.uri().path().to_string();
            let mut body = request.into_body();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            let (status, headers, payload, trailers) = answer(&path);
            let mut response = Response::builder().status(status);
            for (name, value) in &headers {
                response = response.header(name.as_str(), value.as_str());
            }
            let end_on_headers = payload.is_empty() && trailers.is_none();
            let Ok(mut send) = respond.send_response(response.body(()).unwrap(), end_on_headers)
            else {
                return;
            };
            if end_on_headers {
                return;
            }
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

/// A response as the server sends it: status, fields, body, trailers.
type Answer = (
    StatusCode,
    Vec<(String, String)>,
    Vec<u8>,
    Option<HeaderMap>,
);

/// Each path's response.
fn answer(path: &str) -> Answer {
    match path {
        "/plain" => (
            StatusCode::OK,
            vec![
                ("content-type".into(), "text/plain".into()),
                ("x-a".into(), "1".into()),
            ],
            b"hello".to_vec(),
            None,
        ),
        "/trailers" => {
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", "0".parse().unwrap());
            trailers.insert("grpc-message", "all good".parse().unwrap());
            (StatusCode::OK, vec![], b"abc".to_vec(), Some(trailers))
        }
        "/big-headers" => (
            StatusCode::OK,
            (0..6)
                .map(|i| (format!("x-big-{i}"), "v".repeat(5000)))
                .collect(),
            b"small body".to_vec(),
            None,
        ),
        "/big-body" => (
            StatusCode::OK,
            vec![("content-length".into(), (300 * 1024).to_string())],
            (0..300 * 1024).map(|i| (i % 251) as u8).collect(),
            None,
        ),
        _ => (StatusCode::NOT_FOUND, vec![], vec![], None),
    }
}

/// This codec's client: every path on one connection, all streams at once once the server's
/// SETTINGS allow.
fn with_ringload(addr: SocketAddr, config: Config) -> HashMap<String, Seen> {
    struct Collect {
        by_stream: HashMap<u32, Seen>,
        ended: Vec<(u32, StreamEnd)>,
    }
    impl Handler for Collect {
        fn field(&mut self, stream: u32, section: Section, name: &[u8], value: &[u8]) {
            let seen = self.by_stream.entry(stream).or_default();
            let pair = (
                String::from_utf8_lossy(name).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            );
            match section {
                Section::Head if name != b":status" => seen.headers.push(pair),
                Section::Trailers => seen.trailers.push(pair),
                _ => {}
            }
        }
        fn head(&mut self, stream: u32, status: u16) {
            self.by_stream.entry(stream).or_default().status = status;
        }
        fn data(&mut self, stream: u32, data: &[u8]) {
            self.by_stream
                .entry(stream)
                .or_default()
                .body
                .extend_from_slice(data);
        }
        fn end(&mut self, stream: u32, end: StreamEnd) {
            self.ended.push((stream, end));
        }
    }
    let mut socket = TcpStream::connect(addr).unwrap();
    let mut client = ClientConnection::new(config);
    let authority = addr.to_string();
    let mut paths = HashMap::new();
    let mut to_open = PATHS.iter();
    let mut collect = Collect {
        by_stream: HashMap::new(),
        ended: Vec::new(),
    };
    let (mut input, mut out, mut buf) = (Vec::new(), Vec::new(), vec![0u8; 64 * 1024]);
    while collect.ended.len() < PATHS.len() {
        // One stream before the server's SETTINGS arrive, then the rest at once.
        while client.stream_room() > 0 {
            let Some(path) = to_open.next() else { break };
            let head = RequestHead::new(b"GET", b"http", authority.as_bytes(), path.as_bytes());
            paths.insert(client.open(&head, b""), path.to_string());
        }
        client.take_output(&mut out);
        socket.write_all(&out).unwrap();
        out.clear();
        let n = socket.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed early");
        input.extend_from_slice(&buf[..n]);
        let used = client.receive(&input, &mut collect).unwrap();
        input.drain(..used);
    }
    assert!(collect
        .ended
        .iter()
        .all(|(_, end)| *end == StreamEnd::Complete));
    paths
        .into_iter()
        .map(|(stream, path)| (path, collect.by_stream.remove(&stream).unwrap_or_default()))
        .collect()
}

/// `h2`'s client, the same requests.
fn with_h2(addr: SocketAddr) -> HashMap<String, Seen> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (client, connection) = h2::client::handshake(socket).await.unwrap();
        let local = tokio::task::LocalSet::new();
        local.spawn_local(async move {
            let _ = connection.await;
        });
        local
            .run_until(async move {
                let mut seen = HashMap::new();
                for path in PATHS {
                    let mut client = client.clone().ready().await.unwrap();
                    let request = Request::get(format!("http://{addr}{path}"))
                        .body(())
                        .unwrap();
                    let (response, _) = client.send_request(request, true).unwrap();
                    let response = response.await.unwrap();
                    let status = response.status().as_u16();
                    let headers = response
                        .headers()
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
                        .collect();
                    let mut body_stream = response.into_body();
                    let mut body = Vec::new();
                    while let Some(chunk) = body_stream.data().await {
                        let chunk = chunk.unwrap();
                        let _ = body_stream.flow_control().release_capacity(chunk.len());
                        body.extend_from_slice(&chunk);
                    }
                    let trailers = body_stream
                        .trailers()
                        .await
                        .unwrap()
                        .map(|t| {
                            t.iter()
                                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
                                .collect()
                        })
                        .unwrap_or_default();
                    seen.insert(
                        path.to_string(),
                        Seen {
                            status,
                            headers,
                            body,
                            trailers,
                        },
                    );
                }
                seen
            })
            .await
    })
}

#[test]
fn this_codec_and_the_h2_crate_see_the_same_responses() {
    let addr = start_server();
    let oracle = with_h2(addr);
    for config in [
        Config::default(),
        // The protocol's default windows: the big body needs WINDOW_UPDATEs to arrive.
        Config {
            stream_window: 65_535,
            connection_window: 65_535,
            ..Config::default()
        },
    ] {
        let ours = with_ringload(addr, config);
        for path in PATHS {
            assert_eq!(ours[path], oracle[path], "{path} with {config:?}");
        }
    }
    assert_eq!(oracle["/big-body"].body.len(), 300 * 1024);
    assert_eq!(oracle["/trailers"].trailers.len(), 2);
    assert_eq!(oracle["/missing"].status, 404);
}
