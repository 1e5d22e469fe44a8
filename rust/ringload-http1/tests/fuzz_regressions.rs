//! Replays every input the fuzzers found (`tests/fuzz_regressions/<target>/`) through the same
//! property checks the fuzz targets run, so `cargo test` keeps them fixed without cargo-fuzz.

use std::path::Path;

use ringload_http1::fuzzing;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let input = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&input));
        assert!(outcome.is_ok(), "{} fails again", path.display());
    }
}

#[test]
fn response_head_regressions() {
    replay("response_head", fuzzing::response_head);
}

#[test]
fn chunked_body_regressions() {
    replay("chunked_body", fuzzing::chunked_body);
}

#[test]
fn request_validation_regressions() {
    replay("request_validation", fuzzing::request_validation);
}
