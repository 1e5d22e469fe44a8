//! The client connection against canned server frames: what a well-behaved server does, and
//! each way a hostile one breaks the protocol.

use ringload_h2::frame::{self, flag, kind, setting};
use ringload_h2::hpack::Encoder;
use ringload_h2::{ClientConnection, Config, ErrorCode, Handler, RequestHead, Section, StreamEnd};

#[derive(Default, Debug)]
struct Seen {
    fields: Vec<(u32, Section, String, String)>,
    heads: Vec<(u32, u16)>,
    data: Vec<(u32, usize)>,
    ends: Vec<(u32, StreamEnd)>,
    goaways: Vec<(u32, ErrorCode)>,
}

impl Handler for Seen {
    fn field(&mut self, stream: u32, section: Section, name: &[u8], value: &[u8]) {
        self.fields.push((
            stream,
            section,
            String::from_utf8_lossy(name).into(),
            String::from_utf8_lossy(value).into(),
        ));
    }
    fn head(&mut self, stream: u32, status: u16) {
        self.heads.push((stream, status));
    }
    fn data(&mut self, stream: u32, data: &[u8]) {
        self.data.push((stream, data.len()));
    }
    fn end(&mut self, stream: u32, end: StreamEnd) {
        self.ends.push((stream, end));
    }
    fn goaway(&mut self, last_stream: u32, code: ErrorCode) {
        self.goaways.push((last_stream, code));
    }
}

/// A server's side of the conversation, frame by frame.
#[derive(Default)]
struct Server {
    out: Vec<u8>,
    encoder: Encoder,
}

impl Server {
    fn settings(mut self, settings: &[(u16, u32)]) -> Self {
        frame::push_settings(&mut self.out, settings);
        self
    }
    fn headers(mut self, stream: u32, fields: &[(&str, &str)], flags: u8) -> Self {
        let mut block = Vec::new();
        for (n, v) in fields {
            self.encoder
                .encode(n.as_bytes(), v.as_bytes(), false, &mut block);
        }
        frame::push_header(&mut self.out, block.len(), kind::HEADERS, flags, stream);
        self.out.extend_from_slice(&block);
        self
    }
    fn data(mut self, stream: u32, len: usize, end: bool) -> Self {
        let flags = if end { flag::END_STREAM } else { 0 };
        frame::push_header(&mut self.out, len, kind::DATA, flags, stream);
        self.out.resize(self.out.len() + len, b'x');
        self
    }
    fn raw(mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Self {
        frame::push_header(&mut self.out, payload.len(), kind, flags, stream);
        self.out.extend_from_slice(payload);
        self
    }
}

fn get() -> RequestHead {
    RequestHead::new(b"GET", b"http", b"localhost", b"/")
}

fn client_with(streams: usize) -> ClientConnection {
    let mut client = ClientConnection::new(Config::default());
    if streams > 1 {
        // Until the server's SETTINGS say how many it allows, one stream opens.
        assert_eq!(client.stream_room(), 1);
        let settings = Server::default().settings(&[]);
        assert!(client.receive(&settings.out, &mut Seen::default()).is_ok());
    }
    for _ in 0..streams {
        client.open(&get(), b"");
    }
    client
}

const END: u8 = flag::END_HEADERS | flag::END_STREAM;

/// Feeds `bytes` one at a time (the hardest split), then returns what the handler saw.
fn feed_bytewise(client: &mut ClientConnection, bytes: &[u8]) -> (Seen, Result<(), ErrorCode>) {
    let mut seen = Seen::default();
    let mut buf = Vec::new();
    for &b in bytes {
        buf.push(b);
        match client.receive(&buf, &mut seen) {
            Ok(used) => {
                buf.drain(..used);
            }
            Err(error) => return (seen, Err(error.code)),
        }
    }
    assert!(buf.is_empty(), "{} bytes left unparsed", buf.len());
    (seen, Ok(()))
}

fn output(client: &mut ClientConnection) -> Vec<u8> {
    let mut out = Vec::new();
    client.take_output(&mut out);
    out
}

/// The frames in `bytes` (after the preface if it is there): (kind, flags, stream, payload).
fn frames(mut bytes: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    if bytes.starts_with(frame::PREFACE) {
        bytes = &bytes[frame::PREFACE.len()..];
    }
    let mut frames = Vec::new();
    while let Some(h) = frame::FrameHeader::parse(bytes) {
        let end = 9 + h.len as usize;
        frames.push((h.kind, h.flags, h.stream, bytes[9..end].to_vec()));
        bytes = &bytes[end..];
    }
    frames
}

#[test]
fn a_response_with_body_and_trailers_completes_and_settings_are_acknowledged() {
    let mut client = client_with(1);
    let sent = frames(&output(&mut client));
    // SETTINGS, the connection window's update, HEADERS.
    assert_eq!(sent[0].0, kind::SETTINGS);
    assert_eq!(sent[1].0, kind::WINDOW_UPDATE);
    assert_eq!(sent[2], (kind::HEADERS, END, 1, sent[2].3.clone()));
    let server = Server::default()
        .settings(&[(setting::MAX_CONCURRENT_STREAMS, 100)])
        .headers(
            1,
            &[(":status", "200"), ("content-type", "text/plain")],
            flag::END_HEADERS,
        )
        .data(1, 100, false)
        .data(1, 0, false)
        .headers(1, &[("grpc-status", "0")], END);
    let (seen, result) = feed_bytewise(&mut client, &server.out);
    assert_eq!(result, Ok(()));
    assert_eq!(seen.heads, [(1, 200)]);
    assert_eq!(seen.data, [(1, 100), (1, 0)]);
    assert_eq!(seen.ends, [(1, StreamEnd::Complete)]);
    assert_eq!(
        seen.fields.last().unwrap(),
        &(1, Section::Trailers, "grpc-status".into(), "0".into())
    );
    let answered = frames(&output(&mut client));
    assert_eq!(answered[0], (kind::SETTINGS, flag::ACK, 0, vec![]));
    assert_eq!(client.active_streams(), 0);
}

#[test]
fn informational_heads_are_skipped_and_the_final_one_reported() {
    let mut client = client_with(1);
    let server = Server::default()
        .settings(&[])
        .headers(
            1,
            &[(":status", "103"), ("link", "</a>")],
            flag::END_HEADERS,
        )
        .headers(1, &[(":status", "204")], END);
    let (seen, result) = feed_bytewise(&mut client, &server.out);
    assert_eq!(result, Ok(()));
    assert_eq!(seen.heads, [(1, 204)]);
    assert_eq!(seen.fields[0].1, Section::Informational);
    assert_eq!(seen.ends, [(1, StreamEnd::Complete)]);
}

#[test]
fn max_concurrent_streams_is_honoured() {
    let mut client = client_with(0);
    let server = Server::default().settings(&[(setting::MAX_CONCURRENT_STREAMS, 2)]);
    feed_bytewise(&mut client, &server.out).1.unwrap();
    client.open(&get(), b"");
    client.open(&get(), b"");
    assert!(!client.can_open());
    let server = Server {
        encoder: Encoder::default(),
        out: Vec::new(),
    }
    .headers(1, &[(":status", "200")], END);
    feed_bytewise(&mut client, &server.out).1.unwrap();
    assert!(client.can_open());
}

#[test]
fn goaway_ends_streams_above_its_last_as_not_processed() {
    let mut client = client_with(3);
    let mut goaway = 1u32.to_be_bytes().to_vec();
    goaway.extend_from_slice(&0u32.to_be_bytes());
    let server = Server::default()
        .settings(&[])
        .raw(kind::GOAWAY, 0, 0, &goaway)
        .headers(1, &[(":status", "200")], END);
    let (seen, result) = feed_bytewise(&mut client, &server.out);
    assert_eq!(result, Ok(()));
    let mut ends = seen.ends.clone();
    ends.sort_by_key(|e| e.0);
    assert_eq!(
        ends,
        [
            (1, StreamEnd::Complete),
            (3, StreamEnd::NotProcessed),
            (5, StreamEnd::NotProcessed)
        ]
    );
    assert_eq!(seen.goaways, [(1, ErrorCode::NO_ERROR)]);
    assert!(!client.can_open());
    assert!(client.is_draining());
}

#[test]
fn rst_stream_refused_is_not_processed_and_other_codes_are_resets() {
    let mut client = client_with(2);
    let server = Server::default()
        .settings(&[])
        .raw(kind::RST_STREAM, 0, 1, &7u32.to_be_bytes())
        .raw(kind::RST_STREAM, 0, 3, &2u32.to_be_bytes());
    let (seen, result) = feed_bytewise(&mut client, &server.out);
    assert_eq!(result, Ok(()));
    assert_eq!(
        seen.ends,
        [
            (1, StreamEnd::NotProcessed),
            (3, StreamEnd::Reset(ErrorCode::INTERNAL_ERROR))
        ]
    );
}

#[test]
fn a_header_block_in_continuations_decodes_and_an_interrupted_one_is_an_error() {
    let mut client = client_with(1);
    let mut block = Vec::new();
    let mut encoder = Encoder::default();
    encoder.encode(b":status", b"200", false, &mut block);
    encoder.encode(b"x-long", &[b'v'; 100], false, &mut block);
    let (a, b) = block.split_at(3);
    let server = Server::default()
        .settings(&[])
        .raw(kind::HEADERS, flag::END_STREAM, 1, a)
        .raw(kind::CONTINUATION, 0, 1, &b[..10])
        .raw(kind::CONTINUATION, flag::END_HEADERS, 1, &b[10..]);
    let (seen, result) = feed_bytewise(&mut client, &server.out);
    assert_eq!(result, Ok(()));
    assert_eq!(seen.heads, [(1, 200)]);
    assert_eq!(seen.ends, [(1, StreamEnd::Complete)]);

    let mut client = client_with(1);
    output(&mut client);
    let server = Server::default()
        .settings(&[])
        .raw(kind::HEADERS, 0, 1, a)
        .raw(kind::PING, 0, 0, &[0; 8]);
    let (_, result) = feed_bytewise(&mut client, &server.out);
    assert_eq!(result, Err(ErrorCode::PROTOCOL_ERROR));
    // The GOAWAY for the server is all that is queued: last stream 0 (the server opened none),
    // and the code.
    let sent = frames(&output(&mut client));
    let mut payload = 0u32.to_be_bytes().to_vec();
    payload.extend_from_slice(&ErrorCode::PROTOCOL_ERROR.0.to_be_bytes());
    assert_eq!(sent, [(kind::GOAWAY, 0, 0, payload)]);
}

#[test]
fn a_request_opened_while_a_header_block_is_incomplete_leaves_it_intact() {
    let mut client = client_with(1);
    output(&mut client);
    let mut block = Vec::new();
    let mut encoder = Encoder::default();
    encoder.encode(b":status", b"200", false, &mut block);
    encoder.encode(b"x-long", &[b'v'; 100], false, &mut block);
    let (a, b) = block.split_at(10);
    let first = Server::default()
        .settings(&[])
        .raw(kind::HEADERS, flag::END_STREAM, 1, a);
    let rest = Server::default().raw(kind::CONTINUATION, flag::END_HEADERS, 1, b);
    let mut seen = Seen::default();
    assert_eq!(client.receive(&first.out, &mut seen), Ok(first.out.len()));
    // The next read has not come yet: a request goes out meanwhile (its block encoded then).
    let stream = client.open(&get(), b"");
    assert_eq!(stream, 3);
    assert_eq!(client.receive(&rest.out, &mut seen), Ok(rest.out.len()));
    assert_eq!(seen.heads, [(1, 200)]);
    assert_eq!(seen.ends, [(1, StreamEnd::Complete)]);
}

#[test]
fn floods_end_the_connection() {
    for (kind, payload) in [(kind::PING, vec![0u8; 8]), (kind::SETTINGS, vec![])] {
        let mut client = client_with(1);
        let mut server = Server::default().settings(&[]);
        for _ in 0..10_001 {
            server = server.raw(kind, 0, 0, &payload);
        }
        let mut seen = Seen::default();
        let error = client.receive(&server.out, &mut seen).unwrap_err();
        assert_eq!(error.code, ErrorCode::ENHANCE_YOUR_CALM);
    }
    let mut client = client_with(1);
    let mut server = Server::default()
        .settings(&[])
        .raw(kind::HEADERS, 0, 1, &[0x88]);
    for _ in 0..300 {
        server = server.raw(kind::CONTINUATION, 0, 1, &[]);
    }
    let error = client
        .receive(&server.out, &mut Seen::default())
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::ENHANCE_YOUR_CALM);
}

#[test]
fn protocol_violations_are_named_connection_errors() {
    let cases: Vec<(&str, Server, ErrorCode)> = vec![
        (
            "no SETTINGS first",
            Server::default().raw(kind::PING, 0, 0, &[0; 8]),
            ErrorCode::PROTOCOL_ERROR,
        ),
        (
            "oversized frame",
            Server::default().settings(&[]).data(1, 16_385, true),
            ErrorCode::FRAME_SIZE_ERROR,
        ),
        (
            "window overflow",
            Server::default().settings(&[]).raw(
                kind::WINDOW_UPDATE,
                0,
                0,
                &0x7fff_ffffu32.to_be_bytes(),
            ),
            ErrorCode::FLOW_CONTROL_ERROR,
        ),
        (
            "a stream never opened",
            Server::default()
                .settings(&[])
                .headers(9, &[(":status", "200")], END),
            ErrorCode::PROTOCOL_ERROR,
        ),
        (
            "push",
            Server::default().settings(&[]).raw(
                kind::PUSH_PROMISE,
                flag::END_HEADERS,
                1,
                &[0, 0, 0, 2],
            ),
            ErrorCode::PROTOCOL_ERROR,
        ),
        (
            "bad HPACK",
            Server::default()
                .settings(&[])
                .raw(kind::HEADERS, END, 1, &[0x80]),
            ErrorCode::COMPRESSION_ERROR,
        ),
        (
            "bad max frame size",
            Server::default().settings(&[(setting::MAX_FRAME_SIZE, 100)]),
            ErrorCode::PROTOCOL_ERROR,
        ),
        (
            "short PING",
            Server::default()
                .settings(&[])
                .raw(kind::PING, 0, 0, &[0; 4]),
            ErrorCode::FRAME_SIZE_ERROR,
        ),
    ];
    for (what, server, code) in cases {
        let mut client = client_with(1);
        let result = client.receive(&server.out, &mut Seen::default());
        assert_eq!(result.map(|_| ()).map_err(|e| e.code), Err(code), "{what}");
    }
}

#[test]
fn an_http1_reply_to_the_preface_is_recognised() {
    let mut client = client_with(1);
    let error = client
        .receive(b"HTTP/1.1 400 Bad Request\r\n\r\n", &mut Seen::default())
        .unwrap_err();
    assert_eq!(error.reason, ringload_h2::ConnectionError::HTTP1_REPLY);
}

#[test]
fn malformed_responses_reset_their_stream_only() {
    let mut client = client_with(2);
    let server = Server::default()
        .settings(&[])
        .headers(1, &[("content-type", "x")], END)
        .data(3, 5, true)
        .headers(3, &[(":status", "200")], END);
    let (seen, result) = feed_bytewise(&mut client, &server.out);
    assert_eq!(result, Ok(()));
    assert!(matches!(seen.ends[0], (1, StreamEnd::Malformed(_))));
    assert!(matches!(seen.ends[1], (3, StreamEnd::Malformed(_))));
    let sent = frames(&output(&mut client));
    assert!(sent.iter().filter(|f| f.0 == kind::RST_STREAM).count() == 2);
}

#[test]
fn request_bodies_wait_for_send_window_and_received_data_is_credited_back() {
    let config = Config {
        stream_window: 65_535,
        connection_window: 65_535,
        ..Config::default()
    };
    let mut client = ClientConnection::new(config);
    let server = Server::default().settings(&[(setting::INITIAL_WINDOW_SIZE, 10)]);
    feed_bytewise(&mut client, &server.out).1.unwrap();
    output(&mut client);
    client.open(&get(), &[b'b'; 25]);
    let sent = frames(&output(&mut client));
    let data: Vec<_> = sent.iter().filter(|f| f.0 == kind::DATA).collect();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].3.len(), 10);
    assert_eq!(data[0].1, 0);
    let server = Server::default().raw(kind::WINDOW_UPDATE, 0, 1, &20u32.to_be_bytes());
    feed_bytewise(&mut client, &server.out).1.unwrap();
    let sent = frames(&output(&mut client));
    let data: Vec<_> = sent.iter().filter(|f| f.0 == kind::DATA).collect();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].3.len(), 15);
    assert_eq!(data[0].1, flag::END_STREAM);
    // 40,000 bytes received: more than half the connection window, so it is given back.
    let mut server = Server::default().headers(1, &[(":status", "200")], flag::END_HEADERS);
    for _ in 0..4 {
        server = server.data(1, 10_000, false);
    }
    feed_bytewise(&mut client, &server.out).1.unwrap();
    let updates: Vec<_> = frames(&output(&mut client))
        .into_iter()
        .filter(|f| f.0 == kind::WINDOW_UPDATE)
        .map(|f| (f.2, u32::from_be_bytes(f.3[..4].try_into().unwrap())))
        .collect();
    assert_eq!(updates, [(0, 40_000), (1, 40_000)]);
}

#[test]
fn acknowledgements_owed_count_until_the_output_is_taken() {
    let mut client = client_with(0);
    let server = Server::default()
        .settings(&[])
        .raw(kind::PING, 0, 0, b"12345678")
        .raw(kind::PING, flag::ACK, 0, b"12345678")
        .raw(kind::PING, 0, 0, b"87654321");
    feed_bytewise(&mut client, &server.out).1.unwrap();
    // The SETTINGS and the two PINGs; a PING ACK asks for nothing.
    assert_eq!(client.acks_owed(), 3);
    let sent = frames(&output(&mut client));
    assert_eq!(sent.iter().filter(|f| f.1 == flag::ACK).count(), 3);
    assert_eq!(client.acks_owed(), 0);
}

#[test]
fn ping_is_answered_with_its_payload() {
    let mut client = client_with(0);
    let server = Server::default()
        .settings(&[])
        .raw(kind::PING, 0, 0, b"12345678");
    feed_bytewise(&mut client, &server.out).1.unwrap();
    let sent = frames(&output(&mut client));
    assert!(sent.contains(&(kind::PING, flag::ACK, 0, b"12345678".to_vec())));
}

#[test]
fn a_repeated_request_reuses_its_block_until_the_table_changes() {
    // As the server decodes: one decoder across every block the client sends.
    let mut decoder = ringload_h2::hpack::Decoder::new(ringload_h2::hpack::DEFAULT_TABLE_SIZE);
    let mut sent = |client: &mut ClientConnection| -> Vec<(Vec<u8>, Vec<String>)> {
        frames(&output(client))
            .into_iter()
            .filter(|f| f.0 == kind::HEADERS)
            .map(|f| {
                let mut fields = Vec::new();
                decoder
                    .decode(&f.3, usize::MAX, |n, v| {
                        fields.push(format!(
                            "{}: {}",
                            String::from_utf8_lossy(n),
                            String::from_utf8_lossy(v)
                        ))
                    })
                    .unwrap();
                (f.3, fields)
            })
            .collect()
    };
    let with = |name: &[u8], value: &[u8]| {
        let mut head = get();
        head.push(name, value);
        head
    };
    let settings = Server::default().settings(&[]);
    let mut client = client_with(0);
    client.receive(&settings.out, &mut Seen::default()).unwrap();
    let a = with(b"x-a", b"1");
    let a_fields = [
        ":method: GET",
        ":scheme: http",
        ":authority: localhost",
        ":path: /",
        "x-a: 1",
    ];
    for _ in 0..3 {
        client.open(&a, b"");
    }
    let blocks = sent(&mut client);
    // The first block indexes the new fields; the next two are references, byte for byte the same.
    assert!(blocks[0].0.len() > blocks[1].0.len());
    assert_eq!(blocks[1].0, blocks[2].0);
    assert!(blocks.iter().all(|(_, fields)| fields == &a_fields));

    // Another head inserts into the table, which shifts every reference: A's block is
    // encoded anew, not copied.
    client.open(&with(b"x-b", b"2"), b"");
    client.open(&a, b"");
    let blocks_after = sent(&mut client);
    assert_ne!(blocks_after[1].0, blocks[2].0);
    assert_eq!(blocks_after[1].1, a_fields);

    // A smaller table from the server, still large enough for A's fields: the next block
    // starts with the size update, the one after is references again without it.
    let smaller = Server::default().settings(&[(setting::HEADER_TABLE_SIZE, 200)]);
    client.receive(&smaller.out, &mut Seen::default()).unwrap();
    client.open(&a, b"");
    client.open(&a, b"");
    let last = sent(&mut client);
    assert_eq!(last[0].0[0] & 0xe0, 0x20, "a size update");
    assert_ne!(last[1].0[0] & 0xe0, 0x20, "announced once");
    assert_eq!(last[1].0.len(), blocks[2].0.len());
    assert!(last.iter().all(|(_, fields)| fields == &a_fields));
}
