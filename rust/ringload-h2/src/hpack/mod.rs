//! HPACK (RFC 7541): the decoder for the server's header blocks, and the encoder for requests.

mod decoder;
mod encoder;
pub mod huffman;
mod integer;
mod table;

pub use decoder::{Decoder, HpackError};
pub use encoder::Encoder;
pub use table::DEFAULT_TABLE_SIZE;
