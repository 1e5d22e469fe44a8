//! Sans-IO HTTP/1.1 client protocol for ringload.
//!
//! Nothing here touches a socket. The engine owns buffers and I/O and calls:
//! - [`RequestSpec::encode`] once per distinct request (the bytes are then reused for every send);
//! - [`parse_response_head`] on the bytes received so far: `Ok(None)` means "need more", which is
//!   never an error;
//! - [`BodyDecoder::decode`] on whatever follows the head, until [`BodyDecoder::is_done`].
//!
//! Framing follows RFC 9112 §6.3. Every limit is a named constant in [`limits`].

// Parsing untrusted bytes: safe Rust only, so a malformed response can never be memory-unsafe.
#![forbid(unsafe_code)]

pub mod body;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod request;
pub mod response;

pub use body::{BodyDecoder, BodyError};
pub use request::{push_content_length, push_decimal, EncodedHead, RequestError, RequestSpec};
pub use response::{parse_response_head, Framing, HeadError, ResponseHead, Version};
