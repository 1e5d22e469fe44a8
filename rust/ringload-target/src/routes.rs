//! The routes: which path means what, and the reply each one produces.

use std::borrow::Cow;
use std::time::Duration;

use crate::request::{parse_decimal, Request, HEADERS_PATH};
use crate::response::{Body, Reply};

const MAX_BYTES: u64 = 100_000_000;
const MAX_DELAY_MS: u64 = 60_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Hello,
    Bytes(u64),
    Chunked(u64),
    Delay(Duration),
    Status(u16),
    Close,
    Echo,
    Headers,
    /// A known route with a parameter out of range or not a number.
    BadParam,
    NotFound,
}

impl Route {
    /// Whether the handler needs the request body (everyone else discards it).
    pub(crate) fn keeps_body(self) -> bool {
        self == Route::Echo
    }
}

/// Maps a request path (without query string) to its route.
pub(crate) fn resolve(path: &str) -> Route {
    match path {
        "/" => return Route::Hello,
        "/close" => return Route::Close,
        "/echo" => return Route::Echo,
        HEADERS_PATH => return Route::Headers,
        _ => {}
    }
    let param = |prefix: &str, max: u64| {
        path.strip_prefix(prefix)
            .map(|param| parse_decimal(param.as_bytes()).filter(|&n| n <= max))
    };
    let route = if let Some(n) = param("/bytes/", MAX_BYTES) {
        n.map(Route::Bytes)
    } else if let Some(n) = param("/chunked/", MAX_BYTES) {
        n.map(Route::Chunked)
    } else if let Some(ms) = param("/delay/", MAX_DELAY_MS) {
        ms.map(|ms| Route::Delay(Duration::from_millis(ms)))
    } else if let Some(code) = param("/status/", 599) {
        code.filter(|&code| code >= 200)
            .and_then(|code| u16::try_from(code).ok())
            .map(Route::Status)
    } else {
        Some(Route::NotFound)
    };
    route.unwrap_or(Route::BadParam)
}

/// Builds the reply for a fully read request. `body` is the request body
/// when `route.keeps_body()`. Any `/delay` sleep has already happened.
pub(crate) fn handle(route: Route, req: Request, body: Option<Vec<u8>>) -> Reply {
    const OCTETS: Cow<'static, [u8]> = Cow::Borrowed(b"application/octet-stream");
    match route {
        Route::Hello => Reply::text(200, b"hello from ringload\n"),
        Route::Bytes(len) => Reply::new(200, Some(OCTETS), Body::Fill(len)),
        // HTTP/1.0 clients cannot decode chunked responses.
        Route::Chunked(len) if req.is_http10 => Reply::new(200, Some(OCTETS), Body::Fill(len)),
        Route::Chunked(len) => Reply::new(200, Some(OCTETS), Body::Chunked(len)),
        Route::Delay(_) => Reply::text(200, b"ok\n"),
        Route::Status(status @ (204 | 304)) => Reply::new(status, None, Body::None),
        Route::Status(status) => Reply::empty(status),
        Route::Close => Reply {
            close: true,
            ..Reply::text(200, b"bye\n")
        },
        Route::Echo => {
            let content_type = req.content_type.map_or(OCTETS, Cow::Owned);
            let body = Body::Bytes(Cow::Owned(body.unwrap_or_default()));
            Reply::new(200, Some(content_type), body)
        }
        Route::Headers => Reply::text(200, req.header_lines),
        Route::BadParam => Reply::text(400, b"bad request\n"),
        Route::NotFound => Reply::text(404, b"not found\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_routes() {
        assert_eq!(resolve("/"), Route::Hello);
        assert_eq!(resolve("/bytes/0"), Route::Bytes(0));
        assert_eq!(resolve("/bytes/100000000"), Route::Bytes(100_000_000));
        assert_eq!(resolve("/bytes/100000001"), Route::BadParam);
        assert_eq!(resolve("/bytes/"), Route::BadParam);
        assert_eq!(resolve("/bytes/1x"), Route::BadParam);
        assert_eq!(resolve("/chunked/7"), Route::Chunked(7));
        assert_eq!(
            resolve("/delay/60000"),
            Route::Delay(Duration::from_secs(60))
        );
        assert_eq!(resolve("/delay/60001"), Route::BadParam);
        assert_eq!(resolve("/status/200"), Route::Status(200));
        assert_eq!(resolve("/status/599"), Route::Status(599));
        assert_eq!(resolve("/status/199"), Route::BadParam);
        assert_eq!(resolve("/status/600"), Route::BadParam);
        assert_eq!(resolve("/echo"), Route::Echo);
        assert_eq!(resolve("/headers"), Route::Headers);
        assert_eq!(resolve("/close"), Route::Close);
        assert_eq!(resolve("/bytes"), Route::NotFound);
        assert_eq!(resolve("/nope"), Route::NotFound);
    }
}
