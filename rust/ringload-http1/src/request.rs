//! Request validation and encoding. A request is encoded once; the bytes are sent as they are
//! for every repetition, so the hot path never formats anything.

use http::{HeaderName, HeaderValue, Method};

/// Why a request cannot be sent. Raised before any connection is made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("invalid method {0:?}: must be an HTTP token such as GET or POST")]
    InvalidMethod(String),
    #[error(
        "invalid request target {0:?}: it must start with '/' and contain no spaces, CR, LF or NUL"
    )]
    InvalidTarget(String),
    #[error("invalid header name {0:?}")]
    InvalidHeaderName(String),
    #[error("invalid value for header {0:?}: CR, LF and NUL are not allowed")]
    InvalidHeaderValue(String),
    #[error("invalid Host {0:?}")]
    InvalidHost(String),
    #[error("header {0:?} is set by ringload from the body; remove it")]
    ManagedHeader(String),
    #[error("Content-Length {given} does not match the body length {actual}")]
    ContentLengthMismatch { given: String, actual: usize },
}

/// Everything needed to encode one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    pub method: String,
    /// Origin-form target: path and query, e.g. `/v1/items?page=2`.
    pub target: String,
    /// Value of the `Host` field (`host[:port]`), unless `headers` sets one.
    pub host: String,
    /// Extra fields, in order. They replace ringload's defaults of the same name.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// `User-Agent` sent unless the caller sets one.
pub const DEFAULT_USER_AGENT: &str = concat!("ringload/", env!("CARGO_PKG_VERSION"));

/// Characters that would split or truncate a header line on the wire.
const FORBIDDEN_IN_FIELDS: [char; 3] = ['\r', '\n', '\0'];

impl RequestSpec {
    /// A GET of `target` with no extra headers.
    pub fn get(host: impl Into<String>, target: impl Into<String>) -> Self {
        RequestSpec {
            method: "GET".into(),
            target: target.into(),
            host: host.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Checks every part without encoding: for rejecting bad input up front.
    pub fn validate(&self) -> Result<(), RequestError> {
        self.encode().map(|_| ())
    }

    /// True for methods whose response never has a body.
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }

    /// True when the method may safely be repeated (RFC 9110 §9.2.2).
    pub fn is_idempotent(&self) -> bool {
        matches!(
            self.method.as_str(),
            "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE" | "TRACE"
        )
    }

    /// The bytes of the request on the wire.
    pub fn encode(&self) -> Result<Vec<u8>, RequestError> {
        let head = self.encode_head()?;
        let mut out = head.before_length;
        if head.needs_length {
            push_content_length(&mut out, self.body.len());
        }
        out.extend_from_slice(&head.after_length);
        out.extend_from_slice(&self.body);
        Ok(out)
    }

    /// The head, split where the `content-length` field goes, for a caller that writes a body
    /// whose length changes from request to request (a templated body). `self.body` is only
    /// used to check a `Content-Length` the caller set.
    pub fn encode_head(&self) -> Result<EncodedHead, RequestError> {
        let method = Method::from_bytes(self.method.as_bytes())
            .map_err(|_| RequestError::InvalidMethod(self.method.clone()))?;
        validate_target(&self.target)?;
        let host = HeaderValue::from_str(&self.host)
            .map_err(|_| RequestError::InvalidHost(self.host.clone()))?;
        if self.host.is_empty() || self.host.contains(['/', ' ', '@']) {
            return Err(RequestError::InvalidHost(self.host.clone()));
        }

        let mut fields: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            // Checked before trimming: a CR or LF at either end would otherwise be trimmed away
            // silently, and the user asked for a header that cannot be sent as written.
            if name.contains(FORBIDDEN_IN_FIELDS) {
                return Err(RequestError::InvalidHeaderName(name.clone()));
            }
            if value.contains(FORBIDDEN_IN_FIELDS) {
                return Err(RequestError::InvalidHeaderValue(name.clone()));
            }
            let header_name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| RequestError::InvalidHeaderName(name.clone()))?;
            let header_value = HeaderValue::from_str(value.trim())
                .map_err(|_| RequestError::InvalidHeaderValue(name.clone()))?;
            if header_name == http::header::TRANSFER_ENCODING {
                return Err(RequestError::ManagedHeader(name.clone()));
            }
            if header_name == http::header::CONTENT_LENGTH
                && header_value.as_bytes() != self.body.len().to_string().as_bytes()
            {
                return Err(RequestError::ContentLengthMismatch {
                    given: value.trim().to_string(),
                    actual: self.body.len(),
                });
            }
            fields.push((header_name, header_value));
        }
        let has = |name: &HeaderName| fields.iter().any(|(n, _)| n == name);

        let mut out = Vec::with_capacity(128 + self.target.len());
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        if !has(&http::header::HOST) {
            push_field(&mut out, "host", host.as_bytes());
        }
        if !has(&http::header::USER_AGENT) {
            push_field(&mut out, "user-agent", DEFAULT_USER_AGENT.as_bytes());
        }
        if !has(&http::header::ACCEPT) {
            push_field(&mut out, "accept", b"*/*");
        }
        let body_expected = matches!(method, Method::POST | Method::PUT | Method::PATCH);
        let needs_length =
            !has(&http::header::CONTENT_LENGTH) && (!self.body.is_empty() || body_expected);
        let mut after_length = Vec::with_capacity(64 * fields.len() + 2);
        for (name, value) in &fields {
            push_field(&mut after_length, name.as_str(), value.as_bytes());
        }
        after_length.extend_from_slice(b"\r\n");
        Ok(EncodedHead {
            before_length: out,
            needs_length,
            after_length,
        })
    }
}

/// A request head in two parts: the body's `content-length` field (when `needs_length`) goes
/// between them, and the body after the second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedHead {
    /// The request line and ringload's default fields.
    pub before_length: Vec<u8>,
    pub needs_length: bool,
    /// The caller's fields and the blank line that ends the head.
    pub after_length: Vec<u8>,
}

/// Writes a `content-length` field for a body of `len` bytes.
pub fn push_content_length(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(b"content-length: ");
    push_decimal(out, len as u64);
    out.extend_from_slice(b"\r\n");
}

/// Appends `value` in decimal ASCII digits, without allocating: for a `Content-Length` here,
/// and for the engine's templated values (`{{seq}}`, `{{rand_int}}`) once per request.
pub fn push_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn push_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn validate_target(target: &str) -> Result<(), RequestError> {
    let valid = target.starts_with('/')
        && target
            .bytes()
            .all(|b| b > b' ' && b != 0x7f && b.is_ascii());
    if valid {
        Ok(())
    } else {
        Err(RequestError::InvalidTarget(target.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_without_leading_zeros() {
        for value in [0, 7, 10, 99, 100, 1_234_567_890, u64::MAX - 1, u64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, value);
            assert_eq!(out, format!("x{value}").into_bytes());
        }
    }

    #[test]
    fn the_content_length_field_is_one_line() {
        let mut out = Vec::new();
        push_content_length(&mut out, 0);
        push_content_length(&mut out, 1024);
        assert_eq!(out, b"content-length: 0\r\ncontent-length: 1024\r\n");
    }
}
