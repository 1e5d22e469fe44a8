//! Every bound the protocol code enforces, in one place.

/// Most response header fields accepted in one head (httparse needs a fixed array).
pub const MAX_HEADERS: usize = 100;
/// Largest response head (status line + fields) accepted before giving up.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest total size of chunk extensions accepted in one chunk-size line.
pub const MAX_CHUNK_EXT_BYTES: usize = 4 * 1024;
/// Largest total size of the trailer section of a chunked body.
pub const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Most interim (1xx) responses tolerated before the final response.
pub const MAX_INFORMATIONAL_RESPONSES: usize = 16;
