//! Table-driven tests of the sans-IO protocol code with canned bytes; no sockets.
//! Every response case is fed whole and split at every byte, and must decode the same way.

use ringload_http1::limits::{MAX_HEAD_BYTES, MAX_INFORMATIONAL_RESPONSES};
use ringload_http1::{
    parse_response_head, BodyDecoder, BodyError, Framing, HeadError, RequestError, RequestSpec,
};

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Response {
        status: u16,
        body: Vec<u8>,
        keep_alive: bool,
        /// Bytes after the message: they belong to the next response.
        leftover: Vec<u8>,
    },
    Head(HeadError),
    Body(BodyError),
}

/// Reads one final response from `chunks` the way the engine does (skipping 1xx), then the end of
/// input counts as the server closing the connection.
fn read_response(chunks: &[&[u8]], request_was_head: bool) -> Outcome {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunks = chunks.iter();
    let mut informational = 0;
    let head = loop {
        match parse_response_head(&buf, request_was_head, |_, _| {}) {
            Ok(Some(head)) if head.is_informational() => {
                informational += 1;
                if informational > MAX_INFORMATIONAL_RESPONSES {
                    return Outcome::Head(HeadError::TooManyInformational);
                }
                buf.drain(..head.head_len);
            }
            Ok(Some(head)) => break head,
            Ok(None) => match chunks.next() {
                Some(chunk) => buf.extend_from_slice(chunk),
                None => return Outcome::Head(HeadError::IncompleteHead),
            },
            Err(e) => return Outcome::Head(e),
        }
    };
    let mut pending: Vec<u8> = buf.split_off(head.head_len);
    let mut decoder = BodyDecoder::new(head.framing);
    let mut body = Vec::new();
    loop {
        match decoder.decode_all(&pending, |data| body.extend_from_slice(data)) {
            Ok(consumed) => {
                pending.drain(..consumed);
            }
            Err(e) => return Outcome::Body(e),
        }
        if decoder.is_done() {
            break;
        }
        match chunks.next() {
            Some(chunk) => pending.extend_from_slice(chunk),
            None => {
                if let Err(e) = decoder.finish_at_eof() {
                    return Outcome::Body(e);
                }
                break;
            }
        }
    }
    let leftover = pending
        .into_iter()
        .chain(chunks.flat_map(|c| c.iter().copied()))
        .collect();
    Outcome::Response {
        status: head.status,
        body,
        keep_alive: head.keep_alive,
        leftover,
    }
}

fn ok(status: u16, body: &str, keep_alive: bool, leftover: &str) -> Outcome {
    Outcome::Response {
        status,
        body: body.as_bytes().to_vec(),
        keep_alive,
        leftover: leftover.as_bytes().to_vec(),
    }
}

/// Asserts the outcome for the whole input and for every two-way split of it.
fn check(name: &str, input: &[u8], request_was_head: bool, expected: &Outcome) {
    assert_eq!(
        &read_response(&[input], request_was_head),
        expected,
        "{name}: whole"
    );
    for split in 1..input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(
            &read_response(&[a, b], request_was_head),
            expected,
            "{name}: split at {split}"
        );
    }
}

#[test]
fn valid_responses() {
    let cases: &[(&str, &str, bool, Outcome)] = &[
        ("content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, ok(200, "hello", true, "")),
        ("zero length", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, ok(200, "", true, "")),
        ("extra bytes are the next response", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1", false, ok(200, "hi", true, "HTTP/1.1")),
        ("repeated equal content-length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", false, ok(200, "abc", true, "")),
        ("list of equal content-length", "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc", false, ok(200, "abc", true, "")),
        ("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", false, ok(200, "hello world", true, "")),
        ("chunked upper-case hex and leftovers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\nNEXT", false, ok(200, "0123456789", true, "NEXT")),
        ("chunk extensions", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;name=value;x\r\nabc\r\n0;last\r\n\r\n", false, ok(200, "abc", true, "")),
        ("chunk size whitespace", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3 ;x\r\nabc\r\n0\r\n\r\n", false, ok(200, "abc", true, "")),
        ("trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n", false, ok(200, "ok", true, "")),
        ("gzip then chunked is chunked framing", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n", false, ok(200, "z", true, "")),
        ("chunked not final is close-delimited", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nraw", false, ok(200, "raw", false, "")),
        ("transfer-encoding wins over content-length, no reuse", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", false, ok(200, "a", false, "")),
        ("close-delimited HTTP/1.0", "HTTP/1.0 200 OK\r\n\r\nuntil close", false, ok(200, "until close", false, "")),
        ("close-delimited HTTP/1.1 without framing", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nbody", false, ok(200, "body", false, "")),
        ("HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nk", false, ok(200, "k", true, "")),
        ("connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nc", false, ok(200, "c", false, "")),
        ("connection token list", "HTTP/1.1 200 OK\r\nConnection: upgrade, Close\r\nContent-Length: 0\r\n\r\n", false, ok(200, "", false, "")),
        ("HEAD ignores content-length", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nHTTP/1.1", true, ok(200, "", true, "HTTP/1.1")),
        ("HEAD ignores chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, ok(200, "", true, "")),
        ("204 carries no body", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\nNEXT", false, ok(204, "", true, "NEXT")),
        ("304 carries no body", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false, ok(304, "", true, "")),
        ("100 continue skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", false, ok(201, "ok", true, "")),
        ("103 early hints skipped", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, ok(200, "", true, "")),
        ("5xx is still a response", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy", false, ok(503, "busy", true, "")),
        ("empty reason phrase", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", false, ok(200, "", true, "")),
    ];
    for (name, input, head, expected) in cases {
        check(name, input.as_bytes(), *head, expected);
    }
}

#[test]
fn malformed_responses() {
    use BodyError as B;
    use HeadError as H;
    let cases: &[(&str, &[u8], Outcome)] = &[
        (
            "garbage",
            b"garbage garbage\r\n\r\n",
            Outcome::Head(H::InvalidVersion),
        ),
        (
            "http/2 version",
            b"HTTP/2 200 OK\r\n\r\n",
            Outcome::Head(H::InvalidVersion),
        ),
        (
            "non-numeric status",
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            Outcome::Head(H::InvalidStatusLine),
        ),
        (
            "header without colon",
            b"HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n",
            Outcome::Head(H::InvalidHeader),
        ),
        (
            "NUL in header value",
            b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n",
            Outcome::Head(H::InvalidHeader),
        ),
        (
            "bare CR in header",
            b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
            Outcome::Head(H::InvalidHeader),
        ),
        (
            "obsolete line folding",
            b"HTTP/1.1 200 OK\r\nX: a\r\n  folded\r\nContent-Length: 0\r\n\r\n",
            Outcome::Head(H::InvalidHeader),
        ),
        (
            "conflicting content-length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            Outcome::Head(H::ConflictingContentLength),
        ),
        (
            "conflicting content-length list",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd",
            Outcome::Head(H::ConflictingContentLength),
        ),
        (
            "negative content-length",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            Outcome::Head(H::InvalidContentLength),
        ),
        (
            "signed content-length",
            b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
            Outcome::Head(H::InvalidContentLength),
        ),
        (
            "hex content-length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
            Outcome::Head(H::InvalidContentLength),
        ),
        (
            "empty content-length",
            b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            Outcome::Head(H::InvalidContentLength),
        ),
        (
            "overflowing content-length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            Outcome::Head(H::InvalidContentLength),
        ),
        (
            "unknown transfer coding",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: rot13, chunked\r\n\r\n",
            Outcome::Head(H::UnsupportedTransferCoding),
        ),
        (
            "chunked twice",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            Outcome::Head(H::UnsupportedTransferCoding),
        ),
        (
            "switching protocols",
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            Outcome::Head(H::UnexpectedUpgrade),
        ),
        (
            "truncated head",
            b"HTTP/1.1 200 OK\r\nContent-Le",
            Outcome::Head(H::IncompleteHead),
        ),
        (
            "body shorter than content-length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            Outcome::Body(B::IncompleteBody),
        ),
        (
            "non-hex chunk size",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            Outcome::Body(B::InvalidChunkSize),
        ),
        (
            "empty chunk size",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
            Outcome::Body(B::InvalidChunkSize),
        ),
        (
            "chunk size overflow",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n",
            Outcome::Body(B::ChunkSizeOverflow),
        ),
        (
            "chunk data without CRLF",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            Outcome::Body(B::InvalidChunkDelimiter),
        ),
        (
            "chunk size with bare LF",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n",
            Outcome::Body(B::InvalidChunkSize),
        ),
        (
            "chunked body cut short",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            Outcome::Body(B::IncompleteBody),
        ),
        (
            "chunked without last chunk",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
            Outcome::Body(B::IncompleteBody),
        ),
        (
            "bad trailer line ending",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\rZ",
            Outcome::Body(B::InvalidTrailer),
        ),
    ];
    for (name, input, expected) in cases {
        check(name, input, false, expected);
    }
}

#[test]
fn oversized_and_endless_inputs_are_bounded() {
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    while head.len() < MAX_HEAD_BYTES + 10 {
        head.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    assert_eq!(
        read_response(&[&head], false),
        Outcome::Head(HeadError::TooManyHeaders)
    );

    let mut long_value = b"HTTP/1.1 200 OK\r\nX-Long: ".to_vec();
    long_value.resize(MAX_HEAD_BYTES + 1, b'a');
    assert_eq!(
        read_response(&[&long_value], false),
        Outcome::Head(HeadError::HeadTooLarge)
    );

    let flood = "HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_INFORMATIONAL_RESPONSES + 1)
        + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        read_response(&[flood.as_bytes()], false),
        Outcome::Head(HeadError::TooManyInformational)
    );

    let mut long_ext = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
    long_ext.resize(long_ext.len() + 10_000, b'e');
    assert_eq!(
        read_response(&[&long_ext], false),
        Outcome::Body(BodyError::ChunkExtensionTooLong)
    );

    let mut trailers = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
    for _ in 0..2_000 {
        trailers.extend_from_slice(b"X-T: 0123456789\r\n");
    }
    assert_eq!(
        read_response(&[&trailers], false),
        Outcome::Body(BodyError::TrailersTooLarge)
    );
}

#[test]
fn framing_errors_are_classified() {
    assert!(HeadError::ConflictingContentLength.is_framing());
    assert!(HeadError::UnsupportedTransferCoding.is_framing());
    assert!(!HeadError::InvalidHeader.is_framing());
}

#[test]
fn large_body_decodes_in_pieces() {
    let mut input = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
    input.resize(input.len() + 100_000, b'x');
    let pieces: Vec<&[u8]> = input.chunks(1_000).collect();
    match read_response(&pieces, false) {
        Outcome::Response { body, leftover, .. } => {
            assert_eq!(body.len(), 100_000);
            assert!(leftover.is_empty());
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn encodes_requests() {
    let mut spec = RequestSpec::get("example.test:8080", "/v1/items?page=2");
    assert_eq!(
        String::from_utf8(spec.encode().unwrap()).unwrap(),
        format!(
            "GET /v1/items?page=2 HTTP/1.1\r\nhost: example.test:8080\r\nuser-agent: {}\r\naccept: */*\r\n\r\n",
            ringload_http1::request::DEFAULT_USER_AGENT
        )
    );

    spec.method = "POST".into();
    spec.body = b"{\"a\":1}".to_vec();
    spec.headers = vec![
        ("Content-Type".into(), "application/json".into()),
        ("User-Agent".into(), "custom/1".into()),
        ("Host".into(), "override.test".into()),
    ];
    let encoded = String::from_utf8(spec.encode().unwrap()).unwrap();
    assert_eq!(
        encoded,
        "POST /v1/items?page=2 HTTP/1.1\r\naccept: */*\r\ncontent-length: 7\r\ncontent-type: application/json\r\nuser-agent: custom/1\r\nhost: override.test\r\n\r\n{\"a\":1}"
    );

    let empty_post = RequestSpec {
        method: "POST".into(),
        ..RequestSpec::get("h", "/")
    };
    assert!(String::from_utf8(empty_post.encode().unwrap())
        .unwrap()
        .contains("content-length: 0\r\n"));
}

#[test]
fn rejects_invalid_requests() {
    let base = RequestSpec::get("h", "/");
    let with = |f: &dyn Fn(&mut RequestSpec)| {
        let mut spec = base.clone();
        f(&mut spec);
        spec.validate()
    };
    assert!(matches!(
        with(&|s| s.method = "GE T".into()),
        Err(RequestError::InvalidMethod(_))
    ));
    assert!(matches!(
        with(&|s| s.method = "GET\r\n".into()),
        Err(RequestError::InvalidMethod(_))
    ));
    assert!(matches!(
        with(&|s| s.method = String::new()),
        Err(RequestError::InvalidMethod(_))
    ));
    assert!(matches!(
        with(&|s| s.target = "/a b".into()),
        Err(RequestError::InvalidTarget(_))
    ));
    assert!(matches!(
        with(&|s| s.target = "/a\r\nX: y".into()),
        Err(RequestError::InvalidTarget(_))
    ));
    assert!(matches!(
        with(&|s| s.target = "/a\0".into()),
        Err(RequestError::InvalidTarget(_))
    ));
    assert!(matches!(
        with(&|s| s.target = "relative".into()),
        Err(RequestError::InvalidTarget(_))
    ));
    assert!(matches!(
        with(&|s| s.headers = vec![("X\r\nY".into(), "1".into())]),
        Err(RequestError::InvalidHeaderName(_))
    ));
    assert!(matches!(
        with(&|s| s.headers = vec![("".into(), "1".into())]),
        Err(RequestError::InvalidHeaderName(_))
    ));
    assert!(matches!(
        with(&|s| s.headers = vec![("X".into(), "a\r\nInjected: 1".into())]),
        Err(RequestError::InvalidHeaderValue(_))
    ));
    assert!(matches!(
        with(&|s| s.headers = vec![("X".into(), "a\0b".into())]),
        Err(RequestError::InvalidHeaderValue(_))
    ));
    assert!(matches!(
        with(&|s| s.headers = vec![("Transfer-Encoding".into(), "chunked".into())]),
        Err(RequestError::ManagedHeader(_))
    ));
    assert!(matches!(
        with(&|s| s.headers = vec![("Content-Length".into(), "5".into())]),
        Err(RequestError::ContentLengthMismatch { .. })
    ));
    assert!(matches!(
        with(&|s| s.host = "a\r\nb".into()),
        Err(RequestError::InvalidHost(_))
    ));
    assert!(with(&|s| s.headers = vec![("X-Api-Key".into(), "  secret ".into())]).is_ok());
}

#[test]
fn framing_of_parsed_heads() {
    let head = parse_response_head(
        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
        false,
        |_, _| {},
    )
    .unwrap()
    .unwrap();
    assert_eq!(head.framing, Framing::Length(12));
    let (start, len) = head.reason;
    assert_eq!((start, len), (13, 2), "the reason phrase \"OK\"");
    let custom = b"HTTP/1.1 404 No Such Widget\r\n\r\n";
    let (start, len) = parse_response_head(custom, false, |_, _| {})
        .unwrap()
        .unwrap()
        .reason;
    assert_eq!(&custom[start..start + len], b"No Such Widget");
    let mut seen = Vec::new();
    parse_response_head(
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
        false,
        |n, v| seen.push(format!("{n}={}", String::from_utf8_lossy(v))),
    )
    .unwrap();
    assert_eq!(seen, ["X-A=1", "X-B=2"]);
    assert_eq!(
        parse_response_head(b"HTTP/1.1 200 OK\r\n", false, |_, _| {}),
        Ok(None)
    );
}
