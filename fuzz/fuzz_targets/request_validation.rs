//! See `ringload_http1::fuzzing::request_validation` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringload_http1::fuzzing::request_validation(data));
