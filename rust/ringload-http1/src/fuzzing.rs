//! Property checks run by the fuzz targets (`fuzz/`) and by the regression test that replays
//! every input the fuzzers ever found (`tests/fuzz_regressions/`). Each panics when the
//! property fails. Not part of the crate's API.

use crate::{parse_response_head, BodyDecoder, Framing, RequestSpec};

/// The response-head parser on arbitrary bytes: it must never panic, and a head it accepts must
/// lie within the input with a consistent framing.
pub fn response_head(data: &[u8]) {
    for request_was_head in [false, true] {
        let mut fields = 0usize;
        if let Ok(Some(head)) = parse_response_head(data, request_was_head, |_, _| fields += 1) {
            assert!(head.head_len <= data.len());
            assert!((100..=999).contains(&head.status));
            if request_was_head {
                assert_eq!(head.framing, Framing::Empty);
            }
            if head.framing == Framing::CloseDelimited {
                assert!(!head.keep_alive);
            }
            // Whatever follows the head must decode without panicking.
            let mut body = BodyDecoder::new(head.framing);
            let _ = body.decode_all(&data[head.head_len..], |_| {});
        }
    }
}

fn decode_chunked(pieces: &[&[u8]]) -> (Result<bool, ()>, Vec<u8>) {
    let mut body = BodyDecoder::new(Framing::Chunked);
    let mut data = Vec::new();
    for piece in pieces {
        match body.decode_all(piece, |d| data.extend_from_slice(d)) {
            Ok(consumed) => {
                assert!(consumed <= piece.len());
                if body.is_done() {
                    return (Ok(true), data);
                }
            }
            Err(_) => return (Err(()), data),
        }
    }
    (Ok(body.is_done()), data)
}

/// The chunked decoder on arbitrary bytes, fed whole and in two pieces split where the first
/// byte says: it must never panic, never consume more than it was given, and reach the same
/// verdict and the same data however the input is split.
pub fn chunked_body(input: &[u8]) {
    let Some((&split, data)) = input.split_first() else {
        return;
    };
    let at = usize::from(split) % (data.len() + 1);
    let whole = decode_chunked(&[data]);
    let pieces = decode_chunked(&[&data[..at], &data[at..]]);
    assert_eq!(
        whole, pieces,
        "the verdict depends on how the input was split"
    );
}

/// Request validation and encoding on arbitrary method, target, host, header and body text
/// (separated by 0x1f): it must never panic, and whatever it accepts must be one well-formed
/// request head (no CR, LF or NUL smuggled into a line) followed by exactly the body.
pub fn request_validation(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let mut parts = text.split('\u{1f}');
    let mut next = || parts.next().unwrap_or("").to_string();
    let spec = RequestSpec {
        method: next(),
        target: next(),
        host: next(),
        headers: vec![(next(), next()), (next(), next())],
        body: next().into_bytes(),
    };
    let Ok(bytes) = spec.encode() else {
        return;
    };
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an encoded request has a blank line");
    // The request line and every field line, each with its CRLF.
    let head = &bytes[..head_end + 2];
    assert!(!head.contains(&0), "NUL in an encoded head");
    for line in head.split_inclusive(|&b| b == b'\n') {
        let line = line
            .strip_suffix(b"\r\n")
            .expect("every line ends with CRLF");
        assert!(
            !line.contains(&b'\r') && !line.contains(&b'\n'),
            "CR or LF inside a line of an encoded head"
        );
        assert!(!line.is_empty(), "an empty line ends the head early");
    }
    assert_eq!(bytes.len() - head_end - 4, spec.body.len());
}
