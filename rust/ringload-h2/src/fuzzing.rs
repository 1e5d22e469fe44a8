//! Property checks run by the fuzz targets (`fuzz/`) and by the regression test that replays
//! every input the fuzzers ever found (`tests/fuzz_regressions/`). Each panics when the
//! property fails. Not part of the crate's API.

use crate::hpack::{Decoder, Encoder};
use crate::{ClientConnection, Config, ErrorCode, Handler, RequestHead, Section, StreamEnd};

/// Everything a connection reported, in order.
#[derive(Debug, Default, PartialEq, Eq)]
struct Log(Vec<String>);

impl Handler for Log {
    fn field(&mut self, stream: u32, section: Section, name: &[u8], value: &[u8]) {
        self.0
            .push(format!("field {stream} {section:?} {name:?} {value:?}"));
    }
    fn head(&mut self, stream: u32, status: u16) {
        self.0.push(format!("head {stream} {status}"));
    }
    fn data(&mut self, stream: u32, data: &[u8]) {
        self.0.push(format!("data {stream} {}", data.len()));
    }
    fn end(&mut self, stream: u32, end: StreamEnd) {
        self.0.push(format!("end {stream} {end:?}"));
    }
    fn goaway(&mut self, last_stream: u32, code: ErrorCode) {
        self.0.push(format!("goaway {last_stream} {code:?}"));
    }
}

/// Feeds `pieces` to a client with three streams open, as an engine would (keeping what a call
/// did not use). Returns what it reported, its verdict, and the bytes it would write.
fn run_client(pieces: &[&[u8]]) -> (Log, Result<(), ErrorCode>, Vec<u8>) {
    let mut client = ClientConnection::new(Config::default());
    let head = RequestHead::new(b"GET", b"http", b"fuzz", b"/");
    let mut log = Log::default();
    // The server's SETTINGS let more than one stream open.
    let settings = [0, 0, 0, 4, 0, 0, 0, 0, 0];
    assert_eq!(client.receive(&settings, &mut log), Ok(settings.len()));
    for _ in 0..3 {
        client.open(&head, b"body");
    }
    let mut pending = Vec::new();
    let mut verdict = Ok(());
    for piece in pieces {
        pending.extend_from_slice(piece);
        match client.receive(&pending, &mut log) {
            Ok(used) => {
                assert!(used <= pending.len());
                pending.drain(..used);
            }
            Err(error) => {
                verdict = Err(error.code);
                break;
            }
        }
    }
    let mut out = Vec::new();
    client.take_output(&mut out);
    (log, verdict, out)
}

/// The client connection on arbitrary server bytes, whole and in two pieces split where the
/// first byte says: it must never panic, never use more than it was given, and report the same
/// events, verdict and output however the input is split.
pub fn h2_frames(input: &[u8]) {
    let Some((&split, data)) = input.split_first() else {
        return;
    };
    // The server's preface (an empty SETTINGS) first, so the fuzzer reaches every frame type.
    let mut bytes = vec![0, 0, 0, 4, 0, 0, 0, 0, 0];
    bytes.extend_from_slice(data);
    let at = usize::from(split) % (bytes.len() + 1);
    let whole = run_client(&[&bytes]);
    let pieces = run_client(&[&bytes[..at], &bytes[at..]]);
    assert_eq!(
        whole, pieces,
        "the outcome depends on how the input was split"
    );
}

/// The HPACK decoder on an arbitrary block must never panic; and fields made from the input,
/// encoded by the encoder, must decode to themselves, block after block (the two dynamic
/// tables stay in step).
pub fn hpack(input: &[u8]) {
    let mut decoder = Decoder::default();
    let _ = decoder.decode(input, 64 * 1024, |_, _| {});
    let fields: Vec<(&[u8], &[u8])> = input
        .split(|&b| b == b'\n')
        .map(|line| {
            let at = line.iter().position(|&b| b == b':').unwrap_or(line.len());
            (&line[..at], line.get(at + 1..).unwrap_or_default())
        })
        .collect();
    let (mut encoder, mut decoder) = (Encoder::default(), Decoder::default());
    for round in 0..2 {
        let mut block = Vec::new();
        encoder.begin_block(&mut block);
        for (i, (name, value)) in fields.iter().enumerate() {
            encoder.encode(name, value, (i + round) % 5 == 0, &mut block);
        }
        let mut decoded = Vec::new();
        decoder
            .decode(&block, usize::MAX, |n, v| {
                decoded.push((n.to_vec(), v.to_vec()))
            })
            .expect("the encoder's block decodes");
        let expected: Vec<_> = fields
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(decoded, expected, "round {round}");
    }
}
