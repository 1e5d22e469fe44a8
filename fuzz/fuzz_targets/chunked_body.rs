//! See `ringload_http1::fuzzing::chunked_body` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringload_http1::fuzzing::chunked_body(data));
