//! The response body decoder: a small state machine over `Length | Chunked | CloseDelimited`.
//!
//! The decoder is fed whatever bytes follow the head. It keeps partial state (half a chunk-size
//! line, say) internally, so the caller may discard the input once `decode` has consumed it.

use crate::limits::{MAX_CHUNK_EXT_BYTES, MAX_TRAILER_BYTES};
use crate::response::Framing;

/// Why a body could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("invalid chunk size line")]
    InvalidChunkSize,
    #[error("chunk size does not fit in 64 bits")]
    ChunkSizeOverflow,
    #[error("chunk extensions longer than the limit")]
    ChunkExtensionTooLong,
    #[error("missing CRLF after chunk data")]
    InvalidChunkDelimiter,
    #[error("invalid trailer section")]
    InvalidTrailer,
    #[error("trailer section longer than the limit")]
    TrailersTooLarge,
    #[error("connection closed before the end of the body")]
    IncompleteBody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading hex digits of the chunk size.
    Size {
        digits: u8,
    },
    /// Whitespace after the size, before `;` or CR.
    SizeWhitespace,
    /// Inside `;ext=value` (ignored, but bounded).
    Extension {
        len: usize,
    },
    /// CR seen at the end of the size line.
    SizeLf,
    /// Inside chunk data.
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerLineStart,
    TrailerLine,
    TrailerLf,
    /// CR of the final empty line seen.
    EndLf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length,
    Chunked(Chunk),
    CloseDelimited,
    Done,
}

/// Decodes one response body. See the module docs.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
    /// Bytes left in the current `Length` body or chunk.
    remaining: u64,
    trailer_bytes: usize,
}

impl BodyDecoder {
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(_) => State::Length,
            Framing::Chunked => State::Chunked(Chunk::Size { digits: 0 }),
            Framing::CloseDelimited => State::CloseDelimited,
        };
        let remaining = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        BodyDecoder {
            state,
            remaining,
            trailer_bytes: 0,
        }
    }

    /// True once the whole body has been read; bytes after it belong to the next response.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// True for a body that ends only when the server closes the connection.
    pub fn is_close_delimited(&self) -> bool {
        self.state == State::CloseDelimited
    }

    /// Decodes from `input`. Returns how many bytes were consumed and the body data found among
    /// them (at most one contiguous piece). Call again with the rest while input remains and the
    /// body is not done; it never consumes past the end of the body.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, &'a [u8]), BodyError> {
        match self.state {
            State::Done => Ok((0, &[])),
            State::CloseDelimited => Ok((input.len(), input)),
            State::Length => {
                let n = take(self.remaining, input.len());
                self.remaining -= n as u64;
                if self.remaining == 0 {
                    self.state = State::Done;
                }
                Ok((n, &input[..n]))
            }
            State::Chunked(chunk) => self.decode_chunked(chunk, input),
        }
    }

    /// Decodes all of `input` (or up to the end of the body), handing each data piece to
    /// `on_data`. Returns the number of bytes consumed.
    pub fn decode_all(
        &mut self,
        input: &[u8],
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<usize, BodyError> {
        let mut pos = 0;
        while pos < input.len() && !self.is_done() {
            let (consumed, data) = self.decode(&input[pos..])?;
            if !data.is_empty() {
                on_data(data);
            }
            pos += consumed;
        }
        Ok(pos)
    }

    /// The connection reached end of file: fine for a close-delimited body, an error otherwise.
    pub fn finish_at_eof(&mut self) -> Result<(), BodyError> {
        match self.state {
            State::Done => Ok(()),
            State::CloseDelimited => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(BodyError::IncompleteBody),
        }
    }

    fn decode_chunked<'a>(
        &mut self,
        mut chunk: Chunk,
        input: &'a [u8],
    ) -> Result<(usize, &'a [u8]), BodyError> {
        let mut pos = 0;
        while pos < input.len() {
            if chunk == Chunk::Data {
                let n = take(self.remaining, input.len() - pos);
                self.remaining -= n as u64;
                if self.remaining == 0 {
                    chunk = Chunk::DataCr;
                }
                self.state = State::Chunked(chunk);
                return Ok((pos + n, &input[pos..pos + n]));
            }
            let byte = input[pos];
            pos += 1;
            chunk = match (chunk, byte) {
                (Chunk::Size { digits }, b) if b.is_ascii_hexdigit() => {
                    let digit = (b as char).to_digit(16).unwrap_or(0) as u64;
                    self.remaining = self
                        .remaining
                        .checked_mul(16)
                        .and_then(|v| v.checked_add(digit))
                        .ok_or(BodyError::ChunkSizeOverflow)?;
                    Chunk::Size {
                        digits: digits.saturating_add(1),
                    }
                }
                (Chunk::Size { digits: 0 }, _) => return Err(BodyError::InvalidChunkSize),
                (Chunk::Size { .. } | Chunk::SizeWhitespace, b' ' | b'\t') => Chunk::SizeWhitespace,
                (Chunk::Size { .. } | Chunk::SizeWhitespace, b';') => Chunk::Extension { len: 0 },
                (Chunk::Size { .. } | Chunk::SizeWhitespace, b'\r') => Chunk::SizeLf,
                (Chunk::Size { .. } | Chunk::SizeWhitespace, _) => {
                    return Err(BodyError::InvalidChunkSize)
                }
                (Chunk::Extension { .. }, b'\r') => Chunk::SizeLf,
                (Chunk::Extension { .. }, b'\n' | 0) => return Err(BodyError::InvalidChunkSize),
                (Chunk::Extension { len }, _) => {
                    if len >= MAX_CHUNK_EXT_BYTES {
                        return Err(BodyError::ChunkExtensionTooLong);
                    }
                    Chunk::Extension { len: len + 1 }
                }
                (Chunk::SizeLf, b'\n') if self.remaining == 0 => Chunk::TrailerLineStart,
                (Chunk::SizeLf, b'\n') => Chunk::Data,
                (Chunk::SizeLf, _) => return Err(BodyError::InvalidChunkSize),
                (Chunk::DataCr, b'\r') => Chunk::DataLf,
                (Chunk::DataLf, b'\n') => Chunk::Size { digits: 0 },
                (Chunk::DataCr | Chunk::DataLf, _) => return Err(BodyError::InvalidChunkDelimiter),
                (Chunk::TrailerLineStart, b'\r') => Chunk::EndLf,
                (Chunk::EndLf, b'\n') => {
                    self.state = State::Done;
                    return Ok((pos, &[]));
                }
                (Chunk::EndLf, _) => return Err(BodyError::InvalidTrailer),
                (Chunk::TrailerLine, b'\r') => Chunk::TrailerLf,
                (Chunk::TrailerLineStart | Chunk::TrailerLine, b'\n' | 0) => {
                    return Err(BodyError::InvalidTrailer)
                }
                (Chunk::TrailerLineStart | Chunk::TrailerLine, _) => {
                    self.trailer_bytes += 1;
                    if self.trailer_bytes > MAX_TRAILER_BYTES {
                        return Err(BodyError::TrailersTooLarge);
                    }
                    Chunk::TrailerLine
                }
                (Chunk::TrailerLf, b'\n') => Chunk::TrailerLineStart,
                (Chunk::TrailerLf, _) => return Err(BodyError::InvalidTrailer),
                (Chunk::Data, _) => unreachable!("handled before reading a byte"),
            };
        }
        self.state = State::Chunked(chunk);
        Ok((pos, &[]))
    }
}

/// `min(remaining, available)` without lossy casts.
fn take(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}
