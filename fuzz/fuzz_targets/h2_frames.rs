//! See `ringload_h2::fuzzing::h2_frames` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringload_h2::fuzzing::h2_frames(data));
