//! Replays every input the fuzzers found (`tests/fuzz_regressions/<target>/`) through the same
//! property checks the fuzz targets run, so `cargo test` keeps them fixed without cargo-fuzz.

use std::path::Path;

use ringload_h2::fuzzing;

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
fn h2_frames_regressions() {
    replay("h2_frames", fuzzing::h2_frames);
}

#[test]
fn hpack_regressions() {
    replay("hpack", fuzzing::hpack);
}
