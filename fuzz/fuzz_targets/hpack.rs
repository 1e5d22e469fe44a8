//! See `ringload_h2::fuzzing::hpack` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringload_h2::fuzzing::hpack(data));
