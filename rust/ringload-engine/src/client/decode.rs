//! Undoing `Content-Encoding` (gzip, deflate, br) with a bound on the decoded size.

use std::io::{self, Read};

use super::response::ResponseHeaders;
use crate::error::{ErrorKind, Failure};

/// RFC 1950: compression method 8 (deflate) and a header checksum divisible by 31.
pub(crate) fn has_zlib_header(body: &[u8]) -> bool {
    matches!(body, [cmf, flg, ..] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}

/// Largest body a `Content-Encoding` may decode to; a larger one is a failed request.
pub const MAX_DECODED_BODY_BYTES: u64 = 256 * 1024 * 1024;

/// Undoes `Content-Encoding` (gzip, deflate, br; `identity` and an absent header pass through).
pub(crate) fn decode_body(headers: &ResponseHeaders, body: Vec<u8>) -> Result<Vec<u8>, Failure> {
    let Some(coding) = headers.values("content-encoding").last() else {
        return Ok(body);
    };
    if body.is_empty() {
        return Ok(body);
    }
    let coding = String::from_utf8_lossy(coding).trim().to_ascii_lowercase();
    let broken = |what: &str, e: io::Error| {
        Failure::new(
            ErrorKind::Framing,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("invalid {what} body: {e}"),
            ),
        )
    };
    let mut out = Vec::with_capacity(body.len() * 4);
    // A few hundred bytes of gzip can expand to gigabytes: decode at most the limit.
    let mut bounded = |reader: &mut dyn Read, what: &str| {
        out.clear();
        let read = reader
            .take(MAX_DECODED_BODY_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| broken(what, e))?;
        if read as u64 > MAX_DECODED_BODY_BYTES {
            return Err(broken(
                what,
                io::Error::other(format!(
                    "decodes to more than {MAX_DECODED_BODY_BYTES} bytes"
                )),
            ));
        }
        Ok(read)
    };
    match coding.as_str() {
        "" | "identity" => return Ok(body),
        "gzip" | "x-gzip" => bounded(
            &mut flate2::read::MultiGzDecoder::new(body.as_slice()),
            "gzip",
        )?,
        // "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
        "deflate" if has_zlib_header(&body) => bounded(
            &mut flate2::read::ZlibDecoder::new(body.as_slice()),
            "deflate",
        )?,
        "deflate" => bounded(
            &mut flate2::read::DeflateDecoder::new(body.as_slice()),
            "deflate",
        )?,
        "br" => bounded(
            &mut brotli_decompressor::Decompressor::new(body.as_slice(), 4096),
            "brotli",
        )?,
        // An unknown coding is passed through undecoded, as browsers and requests do.
        _ => return Ok(body),
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_decoded_by_the_last_content_encoding() {
        use std::io::Write as _;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(b"hello").unwrap();
        let mut headers = ResponseHeaders::default();
        headers.push("Content-Encoding", b"identity");
        headers.push("content-encoding", b" GZIP ");
        let decoded = decode_body(&headers, gzip.finish().unwrap()).unwrap();
        assert_eq!(decoded, b"hello");
    }
}
