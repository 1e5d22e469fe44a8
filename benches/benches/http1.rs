//! How long the per-response protocol work takes: head parsing and body decoding.
//! Run with `cargo bench -p ringload-benches`.

use std::hint::black_box;
use std::time::Duration;

use ringload_benches::time_per_call;
use ringload_http1::{parse_response_head, BodyDecoder, Framing, RequestSpec};

const BUDGET: Duration = Duration::from_millis(500);

fn main() {
    let nginx = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 22 Nov 2026 03:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 17\r\nConnection: keep-alive\r\n\r\nhello from nginx\n";
    time_per_call("parse nginx head + 17-byte body", BUDGET, || {
        let head = parse_response_head(black_box(nginx), false, |_, _| {})
            .unwrap()
            .unwrap();
        let mut body = BodyDecoder::new(head.framing);
        let consumed = body.decode_all(&nginx[head.head_len..], |_| {}).unwrap();
        black_box((consumed, body.is_done()));
    });

    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..16 {
        chunked.extend_from_slice(b"400\r\n");
        chunked.extend_from_slice(&[b'x'; 0x400]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    time_per_call("decode 16 KiB chunked body (16 chunks)", BUDGET, || {
        let mut body = BodyDecoder::new(Framing::Chunked);
        let head_len = 47;
        black_box(
            body.decode_all(black_box(&chunked[head_len..]), |_| {})
                .unwrap(),
        );
    });

    let spec = RequestSpec::get("127.0.0.1:8080", "/v1/products?page=2");
    time_per_call("encode a GET (done once per run)", BUDGET, || {
        black_box(spec.encode().unwrap());
    });
}
